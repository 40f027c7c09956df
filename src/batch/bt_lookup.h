/* bt_lookup.h: published batch predictions as JSON, for `mlship lookup` and for the server's
 * GET /v1/models/{m}/predictions/{key} (and POST .../predictions {"keys": [...]}).
 *
 * One prediction:
 *   {"key":"c_17","model":"fraud","model_version":"3","run_id":"20250601T020000Z-1a2b3c",
 *    "scored_at":"2025-06-01T02:00:03Z","outputs":{"label":1,"probabilities":{"0":0.1,"1":0.9}}}
 * An unknown key (or a model with no published run): {"key":"c_99","found":false}.
 * Every key of one call is read from one snapshot of the store (st_pred_lookup), so a reader
 * never mixes two runs. */
#ifndef BT_LOOKUP_H
#define BT_LOOKUP_H

#include <stdio.h>

#include "codec/codec_buf.h"
#include "store/store.h"

typedef enum bt_lookup_style {
    BT_LOOKUP_LINES = 0, /* one object per key, each followed by '\n' (CLI, GET with n = 1) */
    BT_LOOKUP_ARRAY = 1, /* {"model":"m","predictions":[obj,...]} (POST with many keys) */
} bt_lookup_style;

/* Append the predictions of `keys` to `out`; *found (may be NULL) = how many keys were known.
 * The server's GET: n = 1, BT_LOOKUP_LINES, and 404 when *found == 0. */
ms_status bt_lookup_json(st_store *s, const char *model, const char *const *keys, size_t n,
                         bt_lookup_style style, mc_buf *out, size_t *found, ms_error *err);
/* *published = 1 when `model` has a published run in the store (st_run_list), else 0: what
 * tells "no such key" from "no such model (or never published)", which callers report as
 * "model 'X' has no published run in STORE" (CLI exit 2, HTTP 404). */
ms_status bt_lookup_published(st_store *s, const char *model, int *published, ms_error *err);
/* One row as a prediction object (no newline). */
void bt_prediction_json(mc_buf *b, const st_pred_row *row);
/* Every published prediction of `model`, ordered by key, one JSON object per line to `f`,
 * with bounded memory. *count (may be NULL) = lines written. */
ms_status bt_scan_jsonl(st_store *s, const char *model, FILE *f, int64_t *count, ms_error *err);

#endif
