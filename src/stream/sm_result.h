/* sm_result.h: what a stream worker writes for an event: the outputs of one scored row as
 * JSON (the object a batch lookup returns for the same row: the same pd_json writers, in the
 * same composition as batch's rows), and the result message (docs/streaming.md) as queue
 * fields or as one JSON line (`stream pipe --out -`). */
#ifndef SM_RESULT_H
#define SM_RESULT_H

#include <stdint.h>

#include "codec/codec_buf.h"
#include "mlship.h"
#include "queue/queue.h"

/* Row r of a run over nrows rows: {"<output>": value, ...} in model output order; per output
 * a label map, a number or the row's nested arrays (pd_json_put_row), or the whole tensor
 * when its first dimension is not the batch's. Appends to b (mc_buf_failed on OOM). */
void sm_outputs_json(mc_buf *b, const ms_model *m, const ms_tensor *outs, int n_out, int64_t r,
                     int64_t nrows);

typedef struct sm_result {
    const char *id, *key, *model; /* key NULL: a keyless event */
    const char *version;          /* NULL with error */
    const char *outputs;          /* JSON text; NULL with error */
    const char *error;            /* why the event was not scored, else NULL */
    const char *ts;               /* the event's, passed through; NULL: none */
    const char *scored_at;        /* ISO 8601 UTC */
} sm_result;

#define SM_RESULT_FIELDS 8
/* The result as queue fields (pointing into r's strings); returns the count. */
int sm_result_fields(const sm_result *r, qu_field f[SM_RESULT_FIELDS]);
/* The result as one JSON object: outputs embedded as JSON, the rest as strings. */
void sm_result_json(mc_buf *b, const sm_result *r);

#endif
