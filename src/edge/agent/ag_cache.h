/* ag_cache.h: the device's copy of the backend's feature tables (the manifest's "features"),
 * STATE/features.db, synced from `mlship serve`'s GET /v1/features/{table}?since=N.
 *
 * The file is laid out as the store's SQLite feature tables (store.h: a text primary key
 * named as the backend's key column, REAL feature columns), so serve's own store code reads it
 * for /v1/models/M:predict by key, offline. Each row also keeps mlship_change (the backend's
 * change number), mlship_updated_ms (when the backend wrote it) and mlship_synced_ms (when
 * this device received it): every row's age is visible (ag_cache_row_json).
 *
 * A sync asks for the rows above the table's cursor, page by page; a page is applied only
 * when its closing line {"next", "more"} arrived, in one transaction with the new cursor
 * (mlship_sync: tbl, cursor, key column, columns, last sync, last error), so a cut transfer
 * or a crash resumes from the last applied page and never applies half of one. Readers (the
 * serving threads) see the old rows or the new (WAL). */
#ifndef AG_CACHE_H
#define AG_CACHE_H

#include <stdint.h>

#include "codec/codec_buf.h"
#include "edge/agent/ag_fetch.h"
#include "mlship.h"

typedef struct ag_cache ag_cache;

/* Open (create) the cache file at path. */
ms_status ag_cache_open(const char *path, ag_cache **out, ms_error *err);
void ag_cache_free(ag_cache *c);

/* Bring `table` up to date from `base` (a serve URL: base/v1/features/TABLE), `page` rows a
 * request. *changed: rows applied. The error (a transfer, a refused answer, a full disk) is
 * also kept with the table for status. */
ms_status ag_cache_sync(ag_cache *c, const ag_fetch_opts *o, const char *base, const char *table, int page,
                        int64_t *changed, ms_error *err);
/* The synced schema of `table`: key column and feature columns (malloc'd array of malloc'd
 * names; ag_cache_names_free). MS_ERR_INVALID when the table was never synced. */
ms_status ag_cache_schema(ag_cache *c, const char *table, char *key, size_t cap, char ***cols, int *n, ms_error *err);
void ag_cache_names_free(char **cols, int n);

/* [{"table", "rows", "cursor", "last_sync", "last_sync_age_s", "oldest_row_age_s",
 *   "newest_row_age_s", "last_error"}, ...] for status. */
void ag_cache_status_json(ag_cache *c, mc_buf *out);
/* One row with its ages: {"table", "key", "values": {col: v}, "change", "updated_ms",
 * "synced_ms", "age_s", "synced_age_s"}; *found 0 when the key is not in the cache. */
ms_status ag_cache_row_json(ag_cache *c, const char *table, const char *key, mc_buf *out, int *found, ms_error *err);

#endif
