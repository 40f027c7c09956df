/* store_pg_int.h: what the PostgreSQL backend's files share, private to them: the connection
 * (pg_store), the query, COPY and key-hash helpers (store_pg.c), the runs and predictions
 * operations (store_pg_runs.c) and the stream results and tickets (store_pg_stream.c) that
 * store_pg.c's backend table points to.
 * Included only when MS_WITH_PG. */
#ifndef ST_STORE_PG_INT_H
#define ST_STORE_PG_INT_H

#include <libpq-fe.h>

#include "store/store_int.h"

#define FETCH_CACHE 16
/* A timestamptz column as "2025-06-01T02:00:03Z" (what st_pred_row.scored_at carries). */
#define ISO(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

typedef struct pg_store {
    st_store base;
    PGconn *c;
    char where[160]; /* host:port/db, for messages (never the password) */
    int schema_ready, stage_ready;
    int stream_ready; /* the stream tables exist (store_pg_stream.c) */
    struct {
        char *sig;
        unsigned long used;
    } cache[FETCH_CACHE]; /* prepared statements "mlship_fetch_<i>" */
    unsigned long tick;
} pg_store;

/* A string -> row index hash over a result's first column (for mapping rows back to keys). */
typedef struct khash {
    int *slot; /* row index, -1 empty */
    size_t mask;
} khash;

/* ---- helpers (store_pg.c) ---- */
ms_status pg_err(pg_store *s, const PGresult *res, ms_error *err, const char *what);
ms_status pg_q(pg_store *s, const char *sql, int n, const char *const *params,
               PGresult **out, ms_error *err);
ms_status pg_exec(pg_store *s, const char *sql, ms_error *err);
void pg_rollback(pg_store *s);
ms_status pg_ready(pg_store *s, ms_error *err);
/* Run the CREATE ... IF NOT EXISTS script `ddl` in one transaction, once per connection
 * (*ready is the connection's flag for it, cleared by a reconnect). */
ms_status pg_schema_once(pg_store *s, const char *ddl, int *ready, ms_error *err);
void pg_copy_text(st_sb *b, const char *v);
ms_status pg_copy_send(pg_store *s, st_sb *b, ms_error *err);
ms_status pg_copy_end(pg_store *s, const char *errmsg, ms_error *err);
ms_status pg_copy_start(pg_store *s, const char *sql, ms_error *err);
void pg_array_lit(st_sb *b, const char *const *keys, size_t n);
int pg_kh_build(khash *h, const PGresult *res);
int pg_kh_find(const khash *h, const PGresult *res, const char *key);
/* ---- feature change numbers (store_pg_changes.c) ---- */
/* The table's counter, locked until the transaction ends. */
ms_status pg_change_counter(pg_store *s, const char *table, int64_t *seq, ms_error *err);
/* Number the rows without a change number after *seq (in key order); *seq is raised. */
ms_status pg_change_number_old(pg_store *s, const char *table, const char *key, int64_t *seq, int64_t now_ms,
                               ms_error *err);
/* Set the counter (after numbering old rows). */
ms_status pg_bump_counter(pg_store *s, const char *table, int64_t seq, ms_error *err);
/* Raise the counter by the rows staged in mlship_upsert_stage (before the commit). */
ms_status pg_change_commit(pg_store *s, const char *table, ms_error *err);
ms_status pg_changes(st_store *base, const char *table, int64_t since, size_t limit, st_change_fn fn, void *ctx,
                     ms_error *err);

ms_status pg_stream(pg_store *s, const char *sql, int n, const char *const *params,
                    int (*each)(void *ctx, const PGresult *row), void *ctx, ms_error *err);

/* ---- runs and predictions (store_pg_runs.c) ---- */
/* The connection is up and the run tables exist (created on first use). */
ms_status pg_runs_ready(pg_store *s, ms_error *err);
ms_status pg_run_get(st_store *base, const char *run_id, int32_t shard, st_run *out,
                     int *found, ms_error *err);
ms_status pg_run_latest(st_store *base, const char *model, int32_t shard, st_run *out,
                        int *found, ms_error *err);
ms_status pg_run_list(st_store *base, const char *model, int (*fn)(void *, const st_run *),
                      void *ctx, ms_error *err);
ms_status pg_run_begin(st_store *base, const st_run *run, ms_error *err);
ms_status pg_write_chunk(st_store *base, const char *run_id, int32_t shard, int64_t chunk,
                         const st_prediction *preds, size_t npreds,
                         const st_reject *rejects, size_t nrejects, ms_error *err);
ms_status pg_run_fail(st_store *base, const char *run_id, int32_t shard, ms_error *err);
ms_status pg_run_complete(st_store *base, const char *run_id, int32_t shard, int keep,
                          int *published, ms_error *err);
ms_status pg_run_publish(st_store *base, const char *run_id, ms_error *err);
ms_status pg_runs_prune(st_store *base, const char *model, int keep, ms_error *err);
ms_status pg_pred_lookup(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err);
ms_status pg_pred_scan(st_store *base, const char *model, st_pred_fn fn, void *ctx,
                       ms_error *err);
ms_status pg_run_rejects(st_store *base, const char *run_id,
                         int (*fn)(void *, int32_t, int64_t, const char *), void *ctx,
                         ms_error *err);
ms_status pg_run_keys(st_store *base, const char *run_id, int (*fn)(void *, const char *),
                      void *ctx, ms_error *err);

/* ---- stream results and tickets (store_pg_stream.c) ---- */
ms_status pg_stream_put(st_store *base, const st_stream_row *rows, size_t n, int64_t ttl_s,
                        int64_t now_ms, ms_error *err);
ms_status pg_stream_event(st_store *base, const char *event_id, st_event_fn fn, void *ctx,
                          ms_error *err);
ms_status pg_pred_latest(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err);
ms_status pg_stream_prune(st_store *base, int64_t cutoff_ms, ms_error *err);
ms_status pg_ticket_claim(st_store *base, const st_ticket *fresh, int64_t pending_ms,
                          st_ticket *out, int *created, ms_error *err);
ms_status pg_ticket_get(st_store *base, const char *ticket, st_ticket *out, int *found,
                        ms_error *err);
ms_status pg_ticket_drop(st_store *base, const char *ticket, ms_error *err);

#endif
