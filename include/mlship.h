/* mlship.h: the public API of the mlship inference runtime (libmlship).
 *
 * Load a model, run it, read the output:
 *
 *     ms_error err;
 *     ms_model *model;
 *     if (ms_model_load_file("model.onnx", &model, &err) != MS_OK) {
 *         fprintf(stderr, "%s\n", err.msg); return 1;
 *     }
 *     ms_session *sess;
 *     if (ms_session_create(model, NULL, &sess, &err) != MS_OK) { ... }
 *     float x[1 * 30] = {...};
 *     ms_tensor in = { MS_DTYPE_FLOAT, 2, {1, 30}, x };
 *     ms_tensor out[1];
 *     if (ms_session_run(sess, &in, 1, out, 1, &err) != MS_OK) { ... }
 *     const float *y = out[0].data;        // valid until the next run or ms_session_free
 *     ms_session_free(sess);
 *     ms_model_free(model);
 *
 * Layering: the runtime does no I/O except ms_model_load_file (src/runtime/ms_file.c, which a
 * microcontroller build leaves out and replaces with ms_model_load on a buffer in flash;
 * tests/cross/run.sh builds the runtime that way for Cortex-M4).
 *
 * Memory: every allocation goes through the hook set with ms_set_allocator. A session plans
 * once for a set of input shapes (shapes, kernels, one arena for all intermediates); a run with
 * the same input shapes then does no heap allocation. A run whose shapes need more memory than
 * planned re-plans first (this allocates).
 *
 * Threads: a model is immutable after loading and may be shared by any number of threads. A
 * session is NOT thread-safe: it owns the arena its run writes to. Create one session per thread
 * from one shared model (weights are shared, not copied, and so are packed weights and built
 * tree ensembles: the first session to plan a node makes them for all); the runtime itself
 * starts no threads. Free a model after its sessions.
 */
#ifndef MLSHIP_H
#define MLSHIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MS_VERSION_STRING "0.1.0"
#define MS_MAX_DIMS 8
/* Most inputs or outputs a node (and so a graph's caller) deals with; the loader refuses more,
 * and the layers above size their per-input arrays by it. */
#define MS_MAX_IO 64

/* Element types. The values are ONNX's TensorProto.DataType, so they round-trip unchanged. */
typedef enum ms_dtype {
    MS_DTYPE_UNDEFINED = 0,
    MS_DTYPE_FLOAT = 1,
    MS_DTYPE_UINT8 = 2,
    MS_DTYPE_INT8 = 3,
    MS_DTYPE_UINT16 = 4,
    MS_DTYPE_INT16 = 5,
    MS_DTYPE_INT32 = 6,
    MS_DTYPE_INT64 = 7,
    MS_DTYPE_STRING = 8, /* data is an array of `const char *` (NUL-terminated) */
    MS_DTYPE_BOOL = 9,   /* one byte per element, 0 or 1 */
    MS_DTYPE_FLOAT16 = 10,
    MS_DTYPE_DOUBLE = 11,
    MS_DTYPE_UINT32 = 12,
    MS_DTYPE_UINT64 = 13,
} ms_dtype;

/* Status codes. They are also the CLI's exit codes. */
typedef enum ms_status {
    MS_OK = 0,
    MS_ERR_RUNTIME = 1,     /* out of memory, I/O failure, internal error */
    MS_ERR_INVALID = 2,     /* bad input: malformed model or tensor, wrong shape or type */
    MS_ERR_UNSUPPORTED = 3, /* a valid model that uses an operator or feature we lack */
} ms_status;

/* Filled by every call that fails, with a message a person can act on. */
typedef struct ms_error {
    char msg[512];
} ms_error;

/* A tensor view: dense, row-major, `data` not owned by the struct. */
typedef struct ms_tensor {
    ms_dtype dtype;
    int32_t ndim;
    int64_t shape[MS_MAX_DIMS];
    void *data;
} ms_tensor;

/* A model input or output as the graph declares it. A dimension of -1 is symbolic or unknown;
 * dim_names[i] then holds its name when the model gives one (else NULL). ndim is -1 when the
 * model declares no shape at all. */
typedef struct ms_value_info {
    const char *name;
    ms_dtype dtype;
    int32_t ndim;
    int64_t shape[MS_MAX_DIMS];
    const char *dim_names[MS_MAX_DIMS];
} ms_value_info;

typedef struct ms_model ms_model;
typedef struct ms_session ms_session;

/* ---- memory ---------------------------------------------------------------------------- */

/* Replace the allocator (before any other call). NULL restores malloc/realloc/free. */
void ms_set_allocator(void *(*alloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                      void (*free_fn)(void *));
void *ms_malloc(size_t n);
void ms_free(void *p);

/* ---- models ---------------------------------------------------------------------------- */

/* Load an ONNX ModelProto from memory. The buffer must outlive the model: large weights are
 * referenced in place, not copied. */
ms_status ms_model_load(const void *buf, size_t len, ms_model **out, ms_error *err);
/* Load from a file, memory-mapped (src/runtime/ms_file.c). */
ms_status ms_model_load_file(const char *path, ms_model **out, ms_error *err);
void ms_model_free(ms_model *m);

int ms_model_num_inputs(const ms_model *m);
int ms_model_num_outputs(const ms_model *m);
const ms_value_info *ms_model_input(const ms_model *m, int i);
const ms_value_info *ms_model_output(const ms_model *m, int i);
/* 1 when output i is a label->probability map per row (an ONNX-ML ZipMap, whose declared type
 * is a sequence of maps): the output tensor is then the float32 [N,C] probability matrix, and
 * column c belongs to labels[c]. label_type is MS_DTYPE_INT64 (labels is `const int64_t *`) or
 * MS_DTYPE_STRING (`const char *const *`); both live as long as the model. 0 otherwise. */
int ms_model_output_labels(const ms_model *m, int i, ms_dtype *label_type, int64_t *n_labels,
                           const void **labels);
/* The names of input `input`'s feature columns (its last dimension), in order, when the model
 * file records them: XGBoost's model.json "feature_names" (for input 0). NULL with *n = 0 when
 * it does not (ONNX models, XGBoost models trained on unnamed arrays). Valid as long as the
 * model. Batch scoring binds CSV columns to features by these names. */
const char *const *ms_model_feature_names(const ms_model *m, int input, int64_t *n);
int64_t ms_model_ir_version(const ms_model *m);
const char *ms_model_producer(const ms_model *m); /* "name version", or "" */
int ms_model_num_opsets(const ms_model *m);
/* The i-th opset import: domain ("" is ai.onnx) and version; "" and 0 when i is out of range. */
void ms_model_opset(const ms_model *m, int i, const char **domain, int64_t *version);
/* The distinct operators the graph uses, in first-use order ("", "", 0 when i is out of range).
 * Every accessor takes any index: out of range is NULL, 0 or "", never a read past an array. */
int ms_model_num_ops(const ms_model *m);
void ms_model_op(const ms_model *m, int i, const char **domain, const char **op_type,
                 int *supported);
/* 1 when NaN in float input i is a missing value the model itself defines, 0 otherwise (also
 * for i out of range and non-float inputs). The rule: every node that reads the input, directly
 * or through nodes that pass NaN through unchanged (Identity, Reshape, Flatten, Squeeze,
 * Unsqueeze, Concat, Cast to a float type), is one of
 *   - an ONNX-ML TreeEnsembleClassifier/Regressor carrying nodes_missing_value_tracks_true (a
 *     NaN direction per split, as scikit-learn's HistGradientBoosting and XGBoost export it;
 *     XGBoost's model.json loads into such a node from default_left), or
 *   - an ONNX-ML Imputer whose replaced_value_float is NaN;
 * at least one node reads it, and it does not reach a graph output unread. Any other reader
 * (a MatMul, a tree ensemble without NaN directions, a Scaler) makes NaN a silent wrong
 * answer, so the answer is 0. The layers above use this to refuse `--missing nan` for such
 * a model (src/predict/pd_check.h). */
int ms_model_input_allows_missing(const ms_model *m, int i);
/* MS_OK when every node has a kernel at the model's opset; else MS_ERR_UNSUPPORTED naming the
 * first operator, node and opset that has none. */
ms_status ms_model_check_supported(const ms_model *m, ms_error *err);

/* Check tensors in[0..n_in) against the model's declared inputs, in order: the count, dtype,
 * rank (ndim 0..MS_MAX_DIMS, any when the model declares none), fixed dimensions, no negative
 * dimension, and one value per named symbolic dimension across all inputs ("batch"). MS_OK, or
 * MS_ERR_INVALID with "input 'x' expects float32[batch,30], got float32[1,29]" or "dimension
 * 'batch' is 2 in input 'a' but 3 in input 'b'". Data pointers are not looked at.
 * ms_session_run runs this check itself. No allocation. */
ms_status ms_model_check_inputs(const ms_model *m, const ms_tensor *in, int n_in, ms_error *err);

/* ---- sessions -------------------------------------------------------------------------- */

typedef struct ms_session_options {
    int32_t reserved; /* no options yet; pass NULL */
} ms_session_options;

ms_status ms_session_create(const ms_model *m, const ms_session_options *opt, ms_session **out,
                            ms_error *err);
/* Run the graph. `inputs` in the graph's input order (ms_model_input). `outputs` receives one
 * view per graph output, in order; the views point into the session and stay valid until the
 * next run or ms_session_free. */
ms_status ms_session_run(ms_session *s, const ms_tensor *inputs, int n_inputs,
                         ms_tensor *outputs, int n_outputs, ms_error *err);
/* Bytes the session holds for intermediates (its arena), for sizing and tests. */
size_t ms_session_arena_bytes(const ms_session *s);
void ms_session_free(ms_session *s);

/* ---- tensors --------------------------------------------------------------------------- */

size_t ms_dtype_size(ms_dtype t);        /* bytes per element; 0 if unknown */
const char *ms_dtype_name(ms_dtype t);   /* "float32", "int64", ... */
int64_t ms_tensor_numel(const ms_tensor *t);
/* Shapes as messages print them, into dst (cap bytes, always NUL-terminated when cap > 0,
 * truncated to fit); both return dst. A declared input: "float32[batch,30]", a dimension
 * without size or name as "?", no declared rank as "float32[...]", no dtype as "any[...]".
 * A tensor: "float32[1,29]" (a rank outside 0..MS_MAX_DIMS prints as "[]"). */
const char *ms_value_info_format(const ms_value_info *vi, char *dst, size_t cap);
const char *ms_tensor_format(const ms_tensor *t, char *dst, size_t cap);
/* Decode an ONNX TensorProto. out->data is allocated with ms_malloc (free with ms_free; for
 * strings one block holds the pointers and the bytes). `name` (may be NULL) receives the
 * tensor's name, truncated to name_cap. */
ms_status ms_tensor_decode_pb(const void *buf, size_t len, ms_tensor *out, char *name,
                              size_t name_cap, ms_error *err);

#ifdef __cplusplus
}
#endif
#endif
