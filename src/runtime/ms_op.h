/* ms_op.h: the kernel interface. Every operator is an ms_kernel: `infer` computes output types
 * and shapes, `run` computes values. Kernels live in src/runtime/ops/, one file per family,
 * each exporting a table that ms_ops.c registers. */
#ifndef MS_OP_H
#define MS_OP_H

#include "mlship.h"

#include <stdarg.h>
#include <stdbool.h>

/* MS_MAX_IO (mlship.h): node inputs or outputs beyond it are refused at load */

typedef enum ms_attr_type {
    MS_ATTR_UNDEFINED = 0,
    MS_ATTR_FLOAT = 1,
    MS_ATTR_INT = 2,
    MS_ATTR_STRING = 3,
    MS_ATTR_TENSOR = 4,
    MS_ATTR_GRAPH = 5,
    MS_ATTR_FLOATS = 6,
    MS_ATTR_INTS = 7,
    MS_ATTR_STRINGS = 8,
    MS_ATTR_TENSORS = 9,
    MS_ATTR_GRAPHS = 10,
} ms_attr_type;

typedef struct ms_attr {
    const char *name;
    ms_attr_type type;
    float f;
    int64_t i;
    const char *s;       /* NUL-terminated; s_len excludes the NUL */
    size_t s_len;
    int32_t n;           /* element count for FLOATS / INTS / STRINGS */
    const float *floats;
    const int64_t *ints;
    const char *const *strings;
    const ms_tensor *t;  /* TENSOR */
} ms_attr;

typedef struct ms_kernel ms_kernel;
struct ms_model;

typedef struct ms_node {
    const char *name;    /* may be "" in the model; messages then use "#index" */
    const char *op_type;
    const char *domain;  /* "" for ai.onnx */
    int32_t index;       /* position in the graph */
    int32_t n_in, n_out;
    int32_t *in, *out;   /* value ids; -1 for an omitted optional input/output */
    int32_t n_attr;
    ms_attr *attrs;
    int32_t opset;       /* the model's opset for this node's domain */
} ms_node;

/* What a kernel sees for one node. In infer, inputs have dtype, shape and data (the planner
 * executes nodes in order, so every input value is known, constant or not); outputs are to be
 * filled with dtype and shape. In run, outputs also have `data`, sized from infer's shapes. */
typedef struct ms_kctx {
    const ms_node *node;
    int32_t opset;
    int32_t n_in, n_out;
    const ms_tensor *const *in; /* n_in entries; NULL for an absent optional input */
    ms_tensor *const *out;      /* n_out entries; NULL for an unused optional output */
    void *scratch;              /* run: scratch_size bytes of workspace (arena) */
    size_t scratch_size;        /* infer: set to the workspace bytes run needs */
    void *state;                /* from prepare, if the kernel has one */
    ms_error *err;
    uint64_t const_inputs;      /* bit i set: input i is constant for this plan (a weight or
                                 * folded from weights), so prepare may cache what it derives */
    uint8_t post_relu;          /* apply max(x, 0) to output 0 (a Relu fused into this node;
                                 * only set for kernels whose entry has fuse_relu) */
    struct ms_shared_slot *shared; /* planning run and prepare: this node's slot in the model (ms_kshare) */
} ms_kctx;

struct ms_kernel {
    const char *domain;  /* "" for ai.onnx, "ai.onnx.ml", ... */
    const char *op_type;
    int32_t since, until; /* opset versions of the domain this entry implements, inclusive */
    ms_status (*infer)(ms_kctx *c);
    ms_status (*run)(ms_kctx *c);
    /* Optional: called once after planning (inputs as in infer) to precompute per-node state,
     * e.g. packed weights. `release` frees it. */
    ms_status (*prepare)(ms_kctx *c, void **state);
    void (*release)(void *state);
    /* 1: run honours c->post_relu, so the planner may fold a following Relu into this node */
    uint8_t fuse_relu;
    /* Optional: called once per node when the model loads, before any session, to refuse a
     * malformed node (MS_ERR_INVALID, naming what is wrong) that infer would only meet at the
     * first plan (tree ensembles: missing, shared or cyclic nodes). Anything else it returns
     * (e.g. MS_ERR_UNSUPPORTED) is left for the plan to report. */
    ms_status (*check)(const struct ms_model *m, const ms_node *n, ms_error *err);
};

/* ---- attributes ------------------------------------------------------------------------ */
const ms_attr *ms_attr_find(const ms_node *n, const char *name);
int64_t ms_attr_int(const ms_node *n, const char *name, int64_t dflt);
float ms_attr_float(const ms_node *n, const char *name, float dflt);
const char *ms_attr_string(const ms_node *n, const char *name, const char *dflt);
/* Element count, or -1 when the attribute is absent. */
int ms_attr_ints(const ms_node *n, const char *name, const int64_t **vals);
int ms_attr_floats(const ms_node *n, const char *name, const float **vals);
int ms_attr_strings(const ms_node *n, const char *name, const char *const **vals);
const ms_tensor *ms_attr_tensor(const ms_node *n, const char *name);

/* ---- errors ---------------------------------------------------------------------------- */
/* Fill c->err with "Op node 'name': <message>" and return st. */
/* ---- prepared state shared by the sessions of a model -------------------------------------
 * A model is planned by many sessions (one per thread, per batch size in serve and batch);
 * what prepare derives from a node's attributes and constant inputs alone (packed weights,
 * built trees) is the same for all of them, so it is made once and kept by the model.
 * In prepare: ms_kshared returns the state published for this node under `key` (whatever
 * else the state depends on, e.g. a feature count; 0 if nothing), or NULL. Otherwise build
 * your own and offer it with ms_kshare: the model takes it (and frees it with `release`
 * when the model is freed) and the call returns it; or another session published first and
 * the call frees yours and returns theirs; or a state under another key is published and
 * the call returns NULL: yours stays private to the session. A shared state is read-only. */
void *ms_kshared(const ms_kctx *c, uint64_t key);
void *ms_kshare(const ms_kctx *c, uint64_t key, void *state, void (*release)(void *state));
/* The same from a kernel's load-time check (which has the model, not a context): a check that
 * builds what prepare would (a tree ensemble, to validate it) offers it here, so the first
 * plan finds it instead of building it again. Same answers as ms_kshare. */
void *ms_model_share(const struct ms_model *m, const ms_node *n, uint64_t key, void *state,
                     void (*release)(void *state));

ms_status ms_kfail(ms_kctx *c, ms_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Common checks: each returns MS_OK or fails with a message naming the node and input. */
ms_status ms_kcheck_dtype(ms_kctx *c, int input, ms_dtype want);
ms_status ms_kcheck_ninputs(ms_kctx *c, int min, int max);
/* Input i, or NULL when the node has fewer inputs or omits it. */
static inline const ms_tensor *ms_kin(const ms_kctx *c, int i) { return i < c->n_in ? c->in[i] : NULL; }
/* Output i must exist (MS_ERR_INVALID otherwise). */
ms_status ms_kneed_out(ms_kctx *c, int i);
/* Bytes per element for kernels that move elements; strings and unknown types unsupported. */
ms_status ms_kelem_size(ms_kctx *c, ms_dtype dt, size_t *es);

/* ---- shape helpers --------------------------------------------------------------------- */
/* Numpy-style multidirectional broadcast of n shapes into out (MS_ERR_INVALID if they do not
 * broadcast; message in c->err). */
ms_status ms_broadcast_shapes(ms_kctx *c, const ms_tensor *const *ts, int n, ms_tensor *out);
/* Row-major element strides of t's shape, with 0 for broadcast dimensions when aligned
 * (right-justified) against out_ndim/out_shape. */
void ms_broadcast_strides(const ms_tensor *t, int out_ndim, const int64_t *out_shape,
                          int64_t *strides);
/* Copy dtype/ndim/shape from src to dst (data untouched). */
void ms_tensor_set_shape(ms_tensor *dst, ms_dtype dt, int ndim, const int64_t *shape);
/* Normalise an axis in [-r, r-1] to [0, r-1]; returns -1 when out of range. */
int ms_norm_axis(int64_t axis, int rank);
/* Read element i of an integer tensor (int32/int64/uint8/...; bool) as int64. */
int64_t ms_tensor_get_i64(const ms_tensor *t, int64_t i);
/* Read element i of a numeric tensor as double. */
double ms_tensor_get_f64(const ms_tensor *t, int64_t i);

/* ---- registry (ms_ops.c) --------------------------------------------------------------- */
const ms_kernel *ms_kernel_find(const char *domain, const char *op_type, int opset);

/* The kernel families ms_kernel_find searches, NULL-terminated. ms_ops_all.c defines it with
 * every family below; it is alone in its object file so that a program linking the runtime as
 * an archive (libmlship_core.a) can define it itself, naming only the families one model
 * uses (`mlship export-c MODEL --kernels-only`): the linker then leaves ms_ops_all.o out, and
 * with --gc-sections the families nothing names drop out with their kernels. */
extern const ms_kernel *const ms_kernel_families[];
#define MS_KERNEL_FAMILIES(X) \
    X(elementwise) X(linalg) X(conv) X(reduce) X(norm) X(pool) X(shape) X(gather) X(ml) X(ml_trees)

/* Each ops file exports one table, terminated by an entry with op_type == NULL. */
extern const ms_kernel ms_ops_elementwise[];
extern const ms_kernel ms_ops_linalg[];
extern const ms_kernel ms_ops_conv[];
extern const ms_kernel ms_ops_reduce[];
extern const ms_kernel ms_ops_norm[];
extern const ms_kernel ms_ops_pool[];
extern const ms_kernel ms_ops_shape[];
extern const ms_kernel ms_ops_ml_trees[];
extern const ms_kernel ms_ops_gather[];
extern const ms_kernel ms_ops_ml[];        /* ai.onnx.ml, ops_ml.c */

#endif
