/* codec_json.h: Open Inference Protocol (KServe V2) JSON requests -> tensors (the replies are
 * written by src/predict/pd_json.h).
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
 * Responses are written by src/predict/pd_json.h (the one writer of outputs as JSON). */
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
 * {"name":..,"datatype":..,"shape":..,"data":..} (the form pd_json_write_tensor writes), which
 * becomes a one-input request. For files on the command line. */
ms_status mc_json_parse_inputs(const char *json, size_t len, mc_oip_request *req, ms_error *err);
void mc_oip_request_free(mc_oip_request *req);
void mc_named_tensor_free(mc_named_tensor *t);

#endif
