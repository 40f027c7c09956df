/* store_sqlite_int.h: what the SQLite backend's files share, private to them: the connection
 * (sq_store), the statement helpers (store_sqlite.c), the runs and predictions operations
 * (store_sqlite_runs.c) and the stream results and tickets (store_sqlite_stream.c) that
 * store_sqlite.c's backend table points to. Included
 * only when MS_WITH_SQLITE, after <sqlite3.h>. */
#ifndef ST_STORE_SQLITE_INT_H
#define ST_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store_int.h"

#define FETCH_CACHE 16
#define ST_WRITER_CACHE_KIB "4096" /* page cache of a connection writing predictions */
#define PRED_GROUP 64 /* rows per multi-row INSERT: fewer statement steps per prediction */

typedef struct sq_store {
    st_store base;
    sqlite3 *db;
    char *path;
    int schema_ready;
    int readonly;  /* ST_OPEN_READONLY: never create the file or a table */
    int no_tables; /* readonly, and the file has no prediction tables: nothing to read */
    struct {
        char *sig;
        sqlite3_stmt *stmt;
        unsigned long used;
    } cache[FETCH_CACHE]; /* fetch statements per (table, key, columns) */
    unsigned long tick;
    sqlite3_stmt *ins_pred, *ins_pred_many, *ins_rej, *lookup; /* many: PRED_GROUP rows */
    int64_t ins_pred_no, lookup_no; /* the run table those two statements are for */
    int writer_cache; /* the page cache is set for bulk writing (sq_write_chunk) */
    int stream_ready; /* the stream tables exist (store_sqlite_stream.c) */
    int no_stream;    /* readonly, and the file has no stream tables: nothing to read */
} sq_store;

/* ---- helpers (store_sqlite.c) ---- */
ms_status sq_err(sq_store *s, ms_error *err, const char *what);
ms_status sq_exec(sq_store *s, const char *sql, ms_error *err);
void sq_rollback(sq_store *s);
ms_status sq_prep(sq_store *s, const char *sql, sqlite3_stmt **st, ms_error *err);
void sq_bind(sqlite3_stmt *st, const char *fmt, ...);
ms_status sq_done(sq_store *s, sqlite3_stmt *st, const char *what, ms_error *err);
ms_status sq_run(sq_store *s, const char *sql, const char *fmt, ms_error *err, ...);

/* ---- runs and predictions (store_sqlite_runs.c) ---- */
/* The run tables exist (created on first use; a read-only handle only looks). Outside a
 * transaction only. */
ms_status sq_runs_ready(sq_store *s, ms_error *err);
ms_status sq_run_get(st_store *base, const char *run_id, int32_t shard, st_run *out,
                     int *found, ms_error *err);
ms_status sq_run_latest(st_store *base, const char *model, int32_t shard, st_run *out,
                        int *found, ms_error *err);
ms_status sq_run_list(st_store *base, const char *model, int (*fn)(void *, const st_run *),
                      void *ctx, ms_error *err);
ms_status sq_run_begin(st_store *base, const st_run *run, ms_error *err);
ms_status sq_write_chunk(st_store *base, const char *run_id, int32_t shard, int64_t chunk,
                         const st_prediction *preds, size_t npreds,
                         const st_reject *rejects, size_t nrejects, ms_error *err);
ms_status sq_run_fail(st_store *base, const char *run_id, int32_t shard, ms_error *err);
ms_status sq_run_complete(st_store *base, const char *run_id, int32_t shard, int keep,
                          int *published, ms_error *err);
ms_status sq_run_publish(st_store *base, const char *run_id, ms_error *err);
ms_status sq_runs_prune(st_store *base, const char *model, int keep, ms_error *err);
ms_status sq_pred_lookup(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err);
ms_status sq_pred_scan(st_store *base, const char *model, st_pred_fn fn, void *ctx,
                       ms_error *err);
ms_status sq_run_rejects(st_store *base, const char *run_id,
                         int (*fn)(void *, int32_t, int64_t, const char *), void *ctx,
                         ms_error *err);
ms_status sq_run_keys(st_store *base, const char *run_id, int (*fn)(void *, const char *),
                      void *ctx, ms_error *err);

/* ---- stream results and tickets (store_sqlite_stream.c) ---- */
ms_status sq_stream_put(st_store *base, const st_stream_row *rows, size_t n, int64_t ttl_s,
                        int64_t now_ms, ms_error *err);
ms_status sq_stream_event(st_store *base, const char *event_id, st_event_fn fn, void *ctx,
                          ms_error *err);
ms_status sq_pred_latest(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err);
ms_status sq_stream_prune(st_store *base, int64_t cutoff_ms, ms_error *err);
ms_status sq_ticket_claim(st_store *base, const st_ticket *fresh, int64_t pending_ms,
                          st_ticket *out, int *created, ms_error *err);
ms_status sq_ticket_get(st_store *base, const char *ticket, st_ticket *out, int *found,
                        ms_error *err);
ms_status sq_ticket_drop(st_store *base, const char *ticket, ms_error *err);

#endif
