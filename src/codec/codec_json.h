/* codec_json.h: tensors <-> the Open Inference Protocol (KServe V2) JSON.
 *
 * Request (parsed with cJSON):
 *     {"id": "42", "parameters": {...},
 *      "inputs":  [{"name": "x", "shape": [2, 3], "datatype": "FP32",
 *                   "data": [1, 2, 3, 4, 5, 6], "parameters": {...}}],
 *      "outputs": [{"name": "y", "parameters": {...}}]}
 * "data" may be flat or nested; nested arrays must be rectangular and are read in row-major
 * order. Either way the element count must equal the product of "shape". Datatypes: BOOL
 * UINT8 UINT16 UINT32 UINT64 INT8 INT16 INT32 INT64 FP32 FP64 (FP16 and BYTES are
 * MS_ERR_UNSUPPORTED). Every value must fit its type: integers must be integral and in range,
 * BOOL takes true/false (or 0/1), FP32 must be finite and within float range.
 *
 * Limits, by design:
 * - JSON has no NaN or Infinity, and the protocol defines no spelling for them, so a request
 *   cannot carry infinities: strings such as "NaN" or "Infinity" are rejected. null in FP32 or
 *   FP64 data is a missing value and reads as NaN; whether it is accepted is the caller's
 *   policy (src/predict/pd_check.h: refused unless the model defines missing values and the
 *   server opted in). null in integer or BOOL data is rejected.
 * - Integers are read through a double (cJSON), so INT64/UINT64 values beyond +-2^53 are
 *   rejected rather than silently rounded.
 * - Unknown or duplicate keys are rejected, so a typo ("input") is an error, not a no-op.
 *   "parameters" objects are accepted and ignored.
 *
 * Response (written by hand into an mc_buf, no allocation beyond the buffer's growth):
 *     {"model_name":"m","model_version":"1","id":"42",
 *      "outputs":[{"name":"y","datatype":"FP32","shape":[2],"data":[0.5,1]}]}
 * Compact (no spaces). FP32 values print with %.9g and FP64 with %.17g, so they round-trip
 * exactly; integral floats print as integers ("1", not "1.0"). NaN and +-Inf are written as
 * null: valid JSON every client can parse, and the protocol has nothing better. */
#ifndef CODEC_JSON_H
#define CODEC_JSON_H

#include "codec/codec_buf.h"
#include "mlship.h"

/* OIP datatype name of a dtype ("FP32"), or NULL if the protocol has none. */
const char *mc_oip_dtype_name(ms_dtype t);
/* Inverse; MS_DTYPE_UNDEFINED for unknown names. */
ms_dtype mc_oip_dtype_parse(const char *s);

typedef struct mc_named_tensor {
    char *name;  /* malloc'd */
    ms_tensor t; /* t.data is an ms_malloc block */
} mc_named_tensor;

typedef struct mc_oip_request {
    char *id;                 /* NULL when the request has none */
    int n_inputs;
    mc_named_tensor *inputs;
    int n_outputs;            /* the outputs the client asked for; 0 means all */
    char **outputs;
    int bare_tensor;          /* mc_json_parse_inputs read a single tensor object */
} mc_oip_request;

/* Parse an inference request. On failure the request is left empty (nothing to free, though
 * mc_oip_request_free is harmless). Errors: MS_ERR_INVALID with a message naming the input
 * and element, MS_ERR_UNSUPPORTED for FP16/BYTES, MS_ERR_RUNTIME for out of memory. */
ms_status mc_json_parse_request(const char *json, size_t len, mc_oip_request *req, ms_error *err);
/* Like mc_json_parse_request, but also accepts a single tensor object
 * {"name":..,"datatype":..,"shape":..,"data":..} (the form mc_json_write_tensor writes), which
 * becomes a one-input request. For files on the command line. */
ms_status mc_json_parse_inputs(const char *json, size_t len, mc_oip_request *req, ms_error *err);
void mc_oip_request_free(mc_oip_request *req);
void mc_named_tensor_free(mc_named_tensor *t);

/* Append one output object {"name":..,"datatype":..,"shape":[..],"data":[..]}. */
ms_status mc_json_write_tensor(mc_buf *b, const char *name, const ms_tensor *t, ms_error *err);

/* A classifier output that is a list of label -> probability maps (ONNX-ML ZipMap): the
 * tensor holds the probabilities [N, C]; labels are int64_t* or const char** (n == C). */
typedef struct mc_label_map {
    ms_dtype type; /* MS_DTYPE_INT64 or MS_DTYPE_STRING; MS_DTYPE_UNDEFINED: a plain tensor */
    int64_t n;
    const void *labels;
} mc_label_map;

/* Append {"name":..,"datatype":"FP32","shape":[N],"parameters":{"label_map":true},
 *         "data":[{"label":p,...},...]}: one object per row. JSON keys are strings, so int64
 * labels print as "7". */
ms_status mc_json_write_label_map(mc_buf *b, const char *name, const ms_tensor *t,
                                  const mc_label_map *lm, ms_error *err);

typedef struct mc_oip_response {
    const char *model_name;    /* required */
    const char *model_version; /* NULL: omitted */
    const char *id;            /* NULL: omitted */
    int n_outputs;
    const char *const *names;  /* n_outputs names */
    const ms_tensor *outputs;  /* n_outputs tensors */
    const mc_label_map *label_maps; /* NULL, or n_outputs entries (type UNDEFINED: plain) */
} mc_oip_response;

/* Append a whole response object. */
ms_status mc_json_write_response(mc_buf *b, const mc_oip_response *r, ms_error *err);

#endif
