/* ex_int.h: the exporter's private form of a model, shared by its files: ex_graph.c (shapes
 * and constants from one run of the runtime's kernels at batch 1), ex_lower.c (ONNX nodes ->
 * layers), ex_trees.c (tree ensembles -> compact node arrays), ex_emit.c (layers -> C).
 *
 * A layer reads and writes buffers of floats. A buffer is the model's input, an intermediate
 * in the one static arena, or an alias of another (Reshape, Flatten: same floats, new shape).
 * Weights belong to the layer (ex_malloc'd, freed with the plan) and become static const
 * arrays in the generated file. */
#ifndef EX_INT_H
#define EX_INT_H

#include <stdint.h>
#include <stdio.h>

#include "ms_model.h"

#define EX_MAX_IN 8
/* A dense layer this small gets the one-row kernel (2 instructions per MAC more, about 300
 * bytes less code than the 8-row kernel's): see ex_plan.dense_small. */
#define EX_DENSE_SMALL_MACS 1024

typedef enum ex_kind {
    EX_DENSE,      /* y = act(W x + b), float: W in blocks of 8 rows interleaved (at most
                    * EX_DENSE_SMALL_MACS multiply-adds: row-major, the small kernel) */
    EX_DENSE_D,    /* y = W x + b in double (the ai.onnx.ml linear models, as the runtime) */
    EX_CONV,       /* 2-D convolution, group 1, NCHW, bias, BatchNormalization folded,
                    * activation and a following 2x2 MaxPool (stride 2, no pads) fused */
    EX_MAXPOOL, EX_AVGPOOL, EX_GAP,
    EX_ACT,        /* elementwise activation (act, alpha) */
    EX_SOFTMAX,    /* over the last `inner` floats, `outer` times */
    EX_BINARY,     /* Add / Mul of two equal-sized buffers, or one and a constant */
    EX_CONCAT,
    EX_SCALER,     /* (x - offset[j]) * scale[j], in double */
    EX_CHANNEL,    /* x * s[c] + b[c] per channel (BatchNormalization without a Conv) */
    EX_NORMALIZER, EX_IMPUTER, EX_ONEHOT, EX_GATHER,
    EX_TREES,
} ex_kind;

typedef enum ex_act { EX_ACT_NONE, EX_ACT_RELU, EX_ACT_LEAKY, EX_ACT_SIGMOID, EX_ACT_TANH } ex_act;
typedef enum ex_post { EX_POST_NONE, EX_POST_LOGISTIC, EX_POST_SOFTMAX, EX_POST_SOFTMAX_ZERO,
                       EX_POST_PAIR /* one logistic score -> [1 - p, p] */ } ex_post;

typedef struct ex_trees ex_trees; /* ex_trees.c */

typedef struct ex_layer {
    ex_kind kind;
    const char *node;    /* the ONNX node it came from, for comments and messages */
    int n_in, in[EX_MAX_IN];
    int out;             /* buffer ids */
    int scratch;         /* a buffer only this layer uses (Conv's zero-padded input), or -1 */
    ex_act act;
    float alpha;
    int64_t p[16];       /* integer parameters; their meaning is per kind (ex_lower.c) */
    float *w, *b;        /* weights (n_w, n_b floats), or NULL */
    int64_t n_w, n_b;
    int64_t *idx;        /* integer table (Gather's columns, Concat's sizes), n_idx */
    int64_t n_idx;
    ex_trees *trees;
} ex_layer;

typedef enum ex_buf_kind { EX_BUF_INPUT, EX_BUF_ARENA, EX_BUF_ALIAS } ex_buf_kind;

typedef struct ex_buf {
    ex_buf_kind kind;
    int64_t n;           /* floats */
    int alias;           /* EX_BUF_ALIAS: the buffer it is */
    int first, last;     /* layers that write it first and read it last */
    int64_t off;         /* EX_BUF_ARENA: offset in the arena, in floats */
} ex_buf;

typedef struct ex_plan {
    const ms_model *m;
    const char *name;
    /* per graph value: shape and (for constants and folded values) data, from ex_graph */
    ms_tensor *vals;
    uint8_t *is_const;
    void **owned;
    int out_value;       /* the exported output */
    int in_value;
    int64_t in_n, out_n;
    int nan_ok;          /* the model defines NaN inputs (ms_model_input_allows_missing) */
    /* layers and buffers, from ex_lower */
    ex_layer *layers;
    int n_layers, cap_layers;
    ex_buf *bufs;
    int n_bufs, cap_bufs;
    int *buf_of;         /* per graph value: its buffer, or -1 */
    int out_buf;
    int64_t arena_floats;
    int64_t dense_small;  /* dense layers of at most this many MACs take the one-row kernel:
                           * EX_DENSE_SMALL_MACS, or every one when none is more than a
                           * twentieth of the model's MACs (then the 8-row kernel's code is
                           * not worth its speed) */
    ms_error *err;
} ex_plan;

/* ex_graph.c: run the graph once at batch 1 on zeros with the runtime's kernels; fills vals,
 * is_const. `output` names the output (NULL: the first float output). */
ms_status ex_graph_shapes(ex_plan *p, const char *output);
void ex_plan_free(ex_plan *p);
/* ex_lower.c: layers and buffers for the nodes the output needs; then the arena layout. */
ms_status ex_lower(ex_plan *p);
int ex_buf_root(const ex_plan *p, int b);
void ex_layout(ex_plan *p);
/* BatchNormalization's factor and shift per channel (t: gamma, beta, mean, var); Conv weights
 * scaled by it (scale NULL: none) and packed w[OC/4][taps][4], OC padded to OCp with zeros. */
void ex_bn_params(const ms_tensor *const t[4], double eps, int64_t C, double *scale, double *shift);
float *ex_conv_pack(const ms_tensor *Wt, int64_t OC, int64_t OCp, int64_t taps, const double *scale);
/* ex_trees.c */
ms_status ex_trees_lower(ex_plan *p, const ms_node *n, ex_layer *l);
void ex_trees_free(ex_trees *t);
int64_t ex_trees_bytes(const ex_trees *t);
void ex_trees_emit_kernel(FILE *f, const ex_trees *t);
void ex_trees_emit_data(FILE *f, const ex_trees *t, int id);
void ex_trees_emit_call(FILE *f, const ex_trees *t, int id, const char *x, const char *y);
/* ex_emit.c: write NAME.h and NAME.c */
ms_status ex_emit(const ex_plan *p, FILE *h, FILE *c);
int64_t ex_weight_bytes(const ex_plan *p);
/* ex_cost.c: multiply-adds per row (after ex_graph_shapes) */
int64_t ex_macs(const ex_plan *p);

/* ex_ktext.c: the kernels as C text */
extern const char ex_k_common[];
extern const char ex_k_dense[];
extern const char ex_k_dense1[];
extern const char ex_k_conv[];
extern const char ex_k_pad[];
extern const char ex_k_pool[];
extern const char ex_k_gap[];
extern const char ex_k_unary[];
extern const char ex_k_softmax[];
extern const char ex_k_binary[];
extern const char ex_k_channel[];
extern const char ex_k_scaler[];
extern const char ex_k_norm[];
extern const char ex_k_imputer[];
extern const char ex_k_onehot[];
extern const char ex_k_gather[];
extern const char ex_k_linear[];
void ex_emit_act(FILE *c, const ex_plan *p);

/* helpers (ex_graph.c) */
int64_t ex_numel(const ms_tensor *t);
ms_status ex_unsupported(ex_plan *p, const ms_node *n, const char *why);
void *ex_calloc(size_t n, size_t size);

#endif
