/* ag_agent.h: the device agent's update logic: start from the state on disk (reverting a
 * model that crashed twice before it was confirmed), poll the backend, and take a signed
 * update through every check before it serves.
 *
 * One check (ag_agent_check): GET NAME/manifest.json (If-None-Match) -> GET manifest.sig ->
 * verify against the pinned key -> parse -> name, anti-rollback counter, expiry, minimum
 * agent version, quarantine list, size cap -> download the blob into the inactive slot
 * (resumed with Range) -> size and SHA-256 -> load, plan, warm (pd_model.h) -> the golden
 * inputs give the manifest's outputs -> state saved with the new slot active on trial ->
 * swap (the caller's function: serving moves to the new model; requests in flight finish on
 * the old) -> after confirm_s seconds of serving, confirmed and the counter raised.
 * A content failure (signature aside: an unsigned file names no version to blame) quarantines
 * the version with its reason; a transfer or disk failure is only reported and retried at the
 * next check. Through all of it the confirmed model keeps serving.
 *
 * Threads: check/tick/open from one thread; status and metrics from any. */
#ifndef AG_AGENT_H
#define AG_AGENT_H

#include <stdint.h>

#include "codec/codec_buf.h"
#include "edge/agent/ag_fetch.h"
#include "edge/agent/ag_sign.h"
#include "mlship.h"

/* Make `model_path` (a verified, checked model) the one serving as name/version. */
typedef ms_status (*ag_swap_fn)(void *ctx, const char *name, int64_t version, const char *model_path, ms_error *err);

/* The first feature table of the serving model is synced and its schema known (at start from
 * the cache, then after each sync): the caller makes keyed predictions read it. */
typedef void (*ag_schema_fn)(void *ctx, const char *table, const char *key, char *const *cols, int n);

typedef struct ag_opts {
    const char *state_dir;
    const char *backend;      /* base URL of the publish directory, no trailing slash needed */
    const char *name;
    uint8_t pk[AG_PK_BYTES];  /* the pinned publisher key */
    int64_t max_blob;         /* bytes */
    int64_t confirm_s;        /* serving this long without a crash confirms a new model */
    ag_fetch_opts fetch;
    ag_swap_fn swap;
    void *swap_ctx;
    /* the feature cache (ag_cache.h): STATE/features.db, synced from features_url (a serve
     * base URL; fetch.bearer is its --api-token) in pages of page_rows */
    const char *features_url;
    int page_rows;
    ag_schema_fn on_schema;
    void *schema_ctx;
} ag_opts;

typedef struct ag_agent ag_agent;

/* Open STATE (created if missing), apply the start rules and hand the active model, if any,
 * to swap. MS_OK with nothing serving when nothing was ever installed. */
ms_status ag_agent_open(const ag_opts *o, ag_agent **out, ms_error *err);
void ag_agent_free(ag_agent *a);
void ag_agent_check(ag_agent *a);
/* Sync the serving model's feature tables into the cache (a failure is reported; the cache
 * keeps what it has and keeps answering). */
void ag_agent_sync(ag_agent *a);
/* The path of the cache file, and one cached row with its ages (ag_cache_row_json). */
const char *ag_agent_cache_path(ag_agent *a);
ms_status ag_agent_feature_row(ag_agent *a, const char *table, const char *key, mc_buf *out, int *found, ms_error *err);
/* Confirm a trial model once it has served confirm_s seconds. */
void ag_agent_tick(ag_agent *a);
/* The version serving (0: none). */
int64_t ag_agent_serving(ag_agent *a);
/* GET /v1/agent/status's JSON object, and Prometheus lines for /metrics. */
void ag_agent_status_json(ag_agent *a, mc_buf *out);
void ag_agent_metrics(ag_agent *a, mc_buf *out);

/* The active model file of a state directory without starting an agent (`agent predict`). */
ms_status ag_active_model(const char *state_dir, char *path, size_t cap, int64_t *version, ms_error *err);

#endif
