/* ms_model.h: the loaded graph, filled by the loaders (ms_onnx.c, ms_xgboost.c, chosen by
 * ms_load.c), read by the model API (ms_model.c) and the session planner (ms_session.c). Immutable after loading, except for
 * the write-once slots of prepared state its sessions share (ms_kshare). */
#ifndef MS_MODEL_H
#define MS_MODEL_H

#include <stdatomic.h>

#include "ms_alloc.h"
#include "ms_op.h"

/* A node's prepared state, published once by the first session that prepares it. */
typedef struct ms_shared {
    uint64_t key;
    void *state;
    void (*release)(void *state);
} ms_shared;
struct ms_shared_slot {
    _Atomic(ms_shared *) p;
};

typedef enum ms_value_kind {
    MS_VALUE_INPUT,  /* graph input, bound at run */
    MS_VALUE_CONST,  /* initializer: t.data points into the model (file map or pool) */
    MS_VALUE_NODE,   /* produced by a node */
} ms_value_kind;

typedef struct ms_value {
    const char *name;
    ms_value_kind kind;
    ms_tensor t;         /* CONST: the tensor; INPUT: declared dtype/shape (-1 dims) */
    int32_t producer;    /* NODE: index of the producing node */
} ms_value;

typedef struct ms_opset {
    const char *domain;
    int64_t version;
} ms_opset;

typedef struct ms_optype {
    const char *domain, *op_type;
    int supported;
} ms_optype;

struct ms_model {
    ms_pool pool;
    void (*unmap)(void *base, size_t len); /* set by ms_file.c for a mapped file */
    void *map_base;
    size_t map_len;

    int64_t ir_version;
    const char *producer;
    int32_t n_opsets;
    ms_opset *opsets;

    int32_t n_values;
    ms_value *values;
    int32_t n_nodes;
    ms_node *nodes;
    const ms_kernel **kernels; /* per node; NULL when unsupported */

    int32_t n_inputs, n_outputs;
    int32_t *inputs, *outputs; /* value ids */
    ms_value_info *input_info, *output_info;
    int32_t *output_zipmap;    /* per output: the ZipMap node producing it, or -1 */
    /* The columns of input 0 by name, when the format records them (XGBoost's
     * learner.feature_names); NULL and 0 otherwise. In the pool. */
    const char **feature_names;
    int64_t n_feature_names;

    int32_t n_optypes;
    ms_optype *optypes;

    struct ms_shared_slot *shared; /* per node, for ms_kshare; freed with the model */
};

/* ms_onnx.c */
ms_status ms_onnx_load(ms_model *m, const uint8_t *buf, size_t len, ms_error *err);
/* Decode a TensorProto. With a pool, data may point into buf (aligned raw_data, packed
 * float/double data) or is copied into the pool; without one, it is one ms_malloc block. */
ms_status ms_tensorpb_decode(const uint8_t *buf, size_t len, ms_pool *pool, ms_tensor *out,
                             const char **name, size_t *name_len, ms_error *err);

#endif
