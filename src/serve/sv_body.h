/* sv_body.h: request bodies into tensors, without HTTP (the parsing half of the V2 and
 * /predict protocols; the input check they share is the runtime's ms_model_check_inputs), so the fuzz drivers reach exactly the
 * code the server runs with nothing but the runtime and the codecs linked.
 *
 * A refusal is an sv_perr: the HTTP status the server answers with (400 bad input, 500 out of
 * memory) and the message it sends, word for word. */
#ifndef SV_BODY_H
#define SV_BODY_H

#include <stddef.h>

#include "codec/codec_json.h"
#include "mlship.h"

typedef struct sv_perr {
    int status;
    char msg[1024]; /* as long as sv_req_error's body message */
} sv_perr;

/* The HTTP status of a failed ms_status: 500 for a runtime failure, else 400. */
int status_of(ms_status st);
/* Sets e (printf-style) and returns -1. */
int sv_perr_set(sv_perr *e, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- V2 / Open Inference Protocol ---------------------------------------------------- */

/* A parsed V2 request: its tensors (owned), id, and which outputs come back how. */
typedef struct sv_v2_req {
    mc_oip_request oip;           /* owns its tensors */
    char *id;                     /* echoed */
    int n_sel;                    /* selected outputs (0: all) */
    int sel[MS_MAX_IO];
    int sel_binary[MS_MAX_IO];
    int all_binary;               /* parameters.binary_data_output */
} sv_v2_req;

/* Parse a V2 inference body for model `m` (named `model` in messages). `header_len` is the
 * Inference-Header-Content-Length header (NULL when absent): the JSON is that many bytes and
 * the binary tensor data follows. Bodies that mention "binary_data" take the binary
 * extension's path (cJSON); others go straight to codec_json. Output names are checked
 * against the model; inputs are not bound here (see bind_inputs in sv_v2.c). 0 or -1 with e;
 * free q with sv_v2_req_free either way. */
int sv_v2_parse(sv_v2_req *q, const ms_model *m, const char *model, const char *body, size_t len,
                const char *header_len, sv_perr *e);
void sv_v2_req_free(sv_v2_req *q);

/* ---- /predict ------------------------------------------------------------------------- */

/* The one-pass fast path for the common bodies: 1 with *out (data from ms_malloc, the
 * caller's) when it parsed the body, 0 when it declines (the general path then answers). */
int sv_predict_fast(const ms_value_info *vi, int n_in, const char *body, size_t len, ms_tensor *out);

/* The general path (cJSON): {"features": [..]} (one row), {"features": [[..], ..]} or
 * [[..], ..]. 0 with *out, or -1 with e. *own is set to the allocated data as soon as there is
 * any (the caller frees it with ms_free, on success and failure alike). */
int sv_predict_parse(const char *model, const ms_value_info *vi, int n_in, const char *body, size_t len,
                     ms_tensor *out, void **own, sv_perr *e);

#endif
