/* pd_json.h: the one writer of model outputs as JSON, for every path that answers in JSON:
 * `mlship predict`, the server's V2 / TF-Serving / /predict / /v1 replies, and the rows batch
 * publishes (which lookups then return as stored).
 *
 * One spelling for every number:
 * - float32 (and float16, widened): the shortest decimal that reads back (strtof) as the same
 *   float, float64 the shortest that reads back (strtod) as the same double (mc_format_f32 /
 *   mc_format_f64 in codec_csv.h): 0.1f is "0.1", 1/3.f "0.33333334", 1e-7f "1e-7",
 *   16777216.f "16777216"; no exponent for 1e-5 <= |x| < 1e9; negative zero is "-0".
 * - NaN and +-Inf are written as null: JSON has no spelling for them. (The row policy in
 *   pd_check.h refuses a row whose float output is not finite before /predict, /v1 and batch
 *   write it; V2 and `mlship predict` return whole tensors and write null.)
 * - integers exactly, bool as true/false, strings quoted and escaped; a type with no JSON form
 *   writes null.
 * Label maps (ONNX-ML ZipMap, labels from ms_model_output_labels) are {"label":p,...}; JSON keys
 * are strings, so int64 labels are written "7".
 *
 * Everything appends to an mc_buf; out of memory shows as mc_buf_failed(b). */
#ifndef PD_JSON_H
#define PD_JSON_H

#include <stdint.h>

#include "codec/codec_buf.h"
#include "mlship.h"

/* Element i of t. */
void pd_json_put_elem(mc_buf *b, const ms_tensor *t, int64_t i);
/* The same straight into w (32 bytes free) for the common output types (float32, float64,
 * int64, int32); returns the end, or NULL for other types (then use pd_json_put_elem). For
 * writers that build a row in a local buffer. */
char *pd_json_num_at(char *w, const ms_tensor *t, int64_t i);
/* Elements [first, first + prod(dims)) as nested arrays of shape dims[0..nd); nd == 0 is the
 * one element `first`. */
void pd_json_put_nested(mc_buf *b, const ms_tensor *t, int64_t first, const int64_t *dims, int nd);
/* A label map's key k, with its colon: "label": (lt MS_DTYPE_STRING: const char **labels,
 * else int64_t *labels). */
void pd_json_put_label_key(mc_buf *b, ms_dtype lt, const void *labels, int64_t k);
/* {"label0":t[first],"label1":t[first+1],...}, n entries. */
void pd_json_put_label_map(mc_buf *b, ms_dtype lt, int64_t n, const void *labels,
                           const ms_tensor *t, int64_t first);

/* Row i of output o (tensor t, rows along dimension 0): a label map when the output has n
 * labels and the row n values; else one number when t has rank 1 (or rank 0: its one element,
 * or PD_JSON_ROW_UNWRAP and the row has one element: /predict answers [N,1] as a number);
 * else the row as nested arrays. */
#define PD_JSON_ROW_UNWRAP 1
void pd_json_put_row(mc_buf *b, const ms_model *m, int o, const ms_tensor *t, int64_t i, int flags);

/* ---- whole tensors: the Open Inference Protocol (V2) output objects ------------------- */

/* Append {"name":..,"datatype":..,"shape":[..],"data":[..]} (flat data, row-major).
 * MS_ERR_UNSUPPORTED for a dtype the protocol has no name for. */
ms_status pd_json_write_tensor(mc_buf *b, const char *name, const ms_tensor *t, ms_error *err);

/* A classifier output that is a list of label -> probability maps (ONNX-ML ZipMap): the
 * tensor holds the probabilities [N, C]; labels are int64_t* or const char** (n == C). */
typedef struct pd_label_map {
    ms_dtype type; /* MS_DTYPE_INT64 or MS_DTYPE_STRING; MS_DTYPE_UNDEFINED: a plain tensor */
    int64_t n;
    const void *labels;
} pd_label_map;

/* Append {"name":..,"datatype":"FP32","shape":[N],"parameters":{"label_map":true},
 *         "data":[{"label":p,...},...]}: one object per row. */
ms_status pd_json_write_label_map(mc_buf *b, const char *name, const ms_tensor *t,
                                  const pd_label_map *lm, ms_error *err);

typedef struct pd_json_response {
    const char *model_name;    /* required */
    const char *model_version; /* NULL: omitted */
    const char *id;            /* NULL: omitted */
    int n_outputs;
    const char *const *names;  /* n_outputs names */
    const ms_tensor *outputs;  /* n_outputs tensors */
    const pd_label_map *label_maps; /* NULL, or n_outputs entries (type UNDEFINED: plain);
                                     * `mlship predict` passes them, V2 (a tensor protocol) not */
} pd_json_response;

/* Append a whole response {"model_name":..,"model_version":..,"id":..,"outputs":[..]}. */
ms_status pd_json_write_response(mc_buf *b, const pd_json_response *r, ms_error *err);

#endif
