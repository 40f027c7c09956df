/* store.h: the store layer: feature rows (read by `mlship serve`, written by `mlship features
 * load`) and batch predictions with atomic publish (written by `mlship batch`, read by lookups).
 * One interface; one backend per file (store_sqlite.c, store_pg.c, store_redis.c), chosen by URL:
 *
 *     sqlite:///abs/path.db     absolute path (three slashes)
 *     sqlite://rel/path.db      relative to the working directory (two slashes)
 *     sqlite::memory:           a private in-memory database (tests)
 *     postgresql://user:pw@host:port/db?opt=v   also postgres://; handed to libpq unchanged
 *     redis://[user:pw@]host[:port][/db]        default port 6379, db 0 (features, stream results, tickets)
 *
 * A typical read, as the server does it:
 *
 *     st_store *s;
 *     if (st_open("sqlite:///var/lib/mlship/store.db", &s, &err) != MS_OK) { ...err.msg... }
 *     const char *cols[] = {"f0", "f1", "f2"};
 *     st_features spec = {"customer_features", "customer_id", cols, 3};
 *     const char *keys[] = {"c_17", "c_42"};
 *     float x[2 * 3]; uint8_t found[2];
 *     if (st_features_fetch(s, &spec, keys, 2, x, found, &err) != MS_OK) { ... }
 *     st_close(s);
 *
 * Threads: a handle is one connection and is NOT thread-safe; open one per thread (as with
 * ms_session). SQLite files are opened in WAL mode, so a batch job can write while servers read.
 *
 * Errors: every call returns MS_OK or fills `err`: MS_ERR_INVALID for bad input (malformed URL,
 * bad identifier, run in the wrong state), MS_ERR_RUNTIME for the server or file failing
 * (unreachable, disk full, constraint), MS_ERR_UNSUPPORTED for a backend built without its
 * library or an operation the backend does not offer (predictions on Redis). A call that fails
 * leaves the stored data as it was: every multi-statement write is one transaction.
 *
 * Identifiers (table and column names) must match [A-Za-z_][A-Za-z0-9_]* (at most 63 chars);
 * they are checked and then double-quoted, so no SQL is ever built from unchecked text. Keys and
 * values always travel as bound parameters (or COPY data / Redis arguments).
 *
 * Prediction tables (created on first use, SQL backends): mlship_runs (one row per run and
 * shard: status, counts, times, model version, input fingerprint, last committed chunk),
 * mlship_rejects (run_id, shard, line, reason), mlship_published (model -> run_id), and the
 * predictions (key, outputs JSON text, scored_at; model, version and run from mlship_runs):
 * PostgreSQL keeps one table, mlship_predictions (model, run_id, key, ...), written with COPY;
 * SQLite keeps one append-only table per run, mlship_pred_<n> (n from mlship_run_numbers),
 * indexed when the run completes and dropped when it is pruned: bulk writes stay fast. */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/bs_name.h"
#include "mlship.h"

typedef struct st_store st_store;

/* ---- connections --------------------------------------------------------------------- */

ms_status st_open(const char *url, st_store **out, ms_error *err);
/* st_open with flags. ST_OPEN_READONLY: the caller only reads (lookups, run listings), so a
 * store that does not exist is not created: a missing SQLite file is MS_ERR_INVALID ("no
 * store file"), the file is opened read-only and no table is ever created (reads of a store
 * without the prediction tables answer "no runs", "not found"). Other backends ignore it. */
#define ST_OPEN_READONLY 1
ms_status st_open_flags(const char *url, int flags, st_store **out, ms_error *err);
void st_close(st_store *s); /* NULL is fine */
/* "sqlite", "postgresql" or "redis". */
const char *st_backend(const st_store *s);
/* 1 if the backend was built in (e.g. st_backend_available("postgresql")). */
int st_backend_available(const char *backend);


/* The strict number rule every backend applies to feature values: the whole string (spaces
 * around it allowed) is a decimal number, "nan" or "inf"; no hex. 0 on success. */
int st_parse_number(const char *s, double *out);

/* ---- features ------------------------------------------------------------------------ */

/* Where a model's features live: table, key column, feature columns in model input order.
 * Redis: entity hash "<table>:<key>", one field per column (the key column is not stored). */
typedef struct st_features {
    const char *table;
    const char *key;
    const char *const *columns;
    int ncolumns;
} st_features;

/* Read the rows of `keys` into out[nkeys * ncolumns] (row-major float32) and found[nkeys].
 * An unknown key is not an error: found[i] = 0 and its row is left as NaN. A NULL (SQL) or
 * missing (Redis) value is NaN, the usual "missing" for tree models. A stored value that is
 * not a number is MS_ERR_INVALID naming the key and column. A missing table or column is
 * MS_ERR_INVALID. Statements are prepared once per handle and (table, columns). */
ms_status st_features_fetch(st_store *s, const st_features *spec, const char *const *keys,
                            size_t nkeys, float *out, uint8_t *found, ms_error *err);

/* Upsert feature rows: begin, any number of put calls, then commit or abort.
 * begin creates the table if missing (key column text primary key, feature columns numeric:
 * REAL in SQLite, double precision in PostgreSQL) and adds missing columns, then opens one
 * transaction (SQL backends): nothing is visible to readers until commit, and abort (or a
 * failure anywhere) leaves the table exactly as before. Redis has no such transaction: rows are
 * pipelined as they come (HSET; an empty value deletes the field), so validate the input first.
 * put takes nrows rows of (1 + ncolumns) strings each: the key, then the values in the order of
 * spec->columns; a NULL or "" value is stored as NULL (missing). Values must be numbers
 * (strict: the whole string); a row with a later duplicate key is replaced by the later one.
 * On any failure the upsert is aborted and freed; after commit or abort `u` is freed. */
typedef struct st_upsert st_upsert;
ms_status st_upsert_begin(st_store *s, const st_features *spec, st_upsert **out, ms_error *err);
ms_status st_upsert_put(st_upsert *u, const char *const *cells, size_t nrows, ms_error *err);
ms_status st_upsert_commit(st_upsert *u, size_t *rows_written, ms_error *err);
void st_upsert_abort(st_upsert *u); /* NULL is fine */

/* ---- feature changes (SQL backends): what devices sync (serve's GET /v1/features/T) ----- */
/* Every row an upsert writes gets the next change number of its table (ST_CHANGE_COL, a
 * bigint, strictly increasing over the table's commits: upserts of one table are serialized
 * on the counter's row in mlship_feature_changes (tbl, seq) and commit their rows and the
 * counter together) and the commit's wall clock (ST_UPDATED_COL, ms since the epoch). A
 * reader that keeps the highest change number it has seen and asks for the rows above it
 * gets every later write, exactly once per write, whatever it was cut off by. Rows of a table
 * that existed before these columns get numbers at its next upsert (in key order). The two
 * names are reserved: a feature column may not be called so. Redis keeps no change numbers:
 * MS_ERR_UNSUPPORTED. */
#define ST_CHANGE_COL "mlship_change"
#define ST_UPDATED_COL "mlship_updated_ms"

typedef struct st_change_row {
    const char *key;
    const double *values; /* ncolumns, in the table's column order; NaN: missing (NULL) */
    int64_t change;       /* the row's change number */
    int64_t updated_ms;   /* when it was written (ms since the epoch) */
} st_change_row;
/* Called first with row NULL and the table's schema (its key column, its feature columns in
 * table order), then once per row. Nonzero stops. Valid during the call only. */
typedef int (*st_change_fn)(void *ctx, const char *key_col, const char *const *columns,
                            int ncolumns, const st_change_row *row);
/* The rows of `table` whose change number is above `since`, lowest first, at most `limit`
 * (>= 1), from one snapshot. A table that does not exist, or was never written by an upsert
 * that numbers changes, is MS_ERR_INVALID naming it. */
ms_status st_features_changes(st_store *s, const char *table, int64_t since, size_t limit,
                              st_change_fn fn, void *ctx, ms_error *err);

/* ---- batch runs and predictions (SQL backends) ---------------------------------------- */

#define ST_NAME_MAX BS_NAME_MAX /* model names, versions, run ids: [A-Za-z0-9._:-], < 128 chars */

typedef enum st_run_status {
    ST_RUN_RUNNING = 0,
    ST_RUN_COMPLETE = 1,  /* all rows scored; not (or no longer) the published run */
    ST_RUN_FAILED = 2,    /* never visible */
    ST_RUN_PUBLISHED = 3, /* the run lookups answer from (one per model) */
} st_run_status;
const char *st_run_status_name(st_run_status st); /* "running", "complete", ... */

/* One shard of a run (a run without --shard is shard 0 of 1). Shards of one run share run_id,
 * model, model_version and shard_count; the run is published when all shards are complete. */
typedef struct st_run {
    char run_id[ST_NAME_MAX];
    char model[ST_NAME_MAX];
    char model_version[ST_NAME_MAX];
    char input_fingerprint[ST_NAME_MAX]; /* free text, e.g. "sha256:..."; "" if none */
    int32_t shard, shard_count;          /* 0 <= shard < shard_count */
    st_run_status status;                /* filled by reads; begin ignores it */
    int64_t rows_scored, rows_rejected;  /* filled by reads */
    int64_t last_chunk;                  /* last committed chunk, -1 before the first */
    char started_at[32], finished_at[32]; /* "2025-06-01T02:00:00Z"; finished "" if not */
} st_run;

/* A fresh run id: UTC time plus randomness, "20250601T020000Z-1a2b3c", sortable by time. */
void st_run_make_id(char *dst, size_t cap);

/* Record a new shard of a run (status running, last_chunk -1). MS_ERR_INVALID if that run and
 * shard already exist, or if other shards of the run disagree on model or shard_count. */
ms_status st_run_begin(st_store *s, const st_run *run, ms_error *err);
/* Read one shard's row: *found = 0 if there is none. */
ms_status st_run_get(st_store *s, const char *run_id, int32_t shard, st_run *out, int *found,
                     ms_error *err);
/* The most recently started run of `model` for this shard (what --resume continues). */
ms_status st_run_latest(st_store *s, const char *model, int32_t shard, st_run *out, int *found,
                        ms_error *err);
/* Every shard row of `model`, newest first. fn returns nonzero to stop. */
ms_status st_run_list(st_store *s, const char *model, int (*fn)(void *ctx, const st_run *run),
                      void *ctx, ms_error *err);

typedef struct st_prediction {
    const char *key;
    const char *outputs; /* JSON text, stored verbatim */
} st_prediction;
typedef struct st_reject {
    int64_t line; /* input line number (1-based, header is line 1 for CSV) */
    const char *reason;
} st_reject;

/* Commit chunk number `chunk` of a run's shard: insert its predictions and rejects, add to
 * rows_scored/rows_rejected, and set last_chunk = chunk, all in ONE transaction. So after a
 * crash, last_chunk says exactly which rows are stored, and --resume restarts at chunk + 1.
 * The shard must be running and `chunk` must be last_chunk + 1 (else MS_ERR_INVALID, nothing
 * written). A key already written in this run is replaced (the last write wins).
 * PostgreSQL writes with COPY. */
ms_status st_run_write_chunk(st_store *s, const char *run_id, int32_t shard, int64_t chunk,
                             const st_prediction *preds, size_t npreds,
                             const st_reject *rejects, size_t nrejects, ms_error *err);
/* Mark a shard failed (never visible). A failed run is not published. */
ms_status st_run_fail(st_store *s, const char *run_id, int32_t shard, ms_error *err);
/* Mark a shard complete. If that completes every shard of the run, publish it in the same
 * transaction (lookups switch from the previous run to this one at once), then keep the last
 * `keep` runs of the model (keep <= 0: keep all) and delete older runs' rows; *published
 * (may be NULL) says whether this call published. Concurrent shards completing at the same
 * time serialize on the run's rows, so exactly one of them publishes. */
ms_status st_run_complete(st_store *s, const char *run_id, int32_t shard, int keep,
                          int *published, ms_error *err);
/* Make `run_id` (complete or published, all shards) the published run of its model, in one
 * transaction: roll back or forward. Deletes nothing. */
ms_status st_run_publish(st_store *s, const char *run_id, ms_error *err);
/* Keep the `keep` most recent finished runs of `model` plus the published one and any running
 * run; delete the other runs and their predictions and rejects. */
ms_status st_runs_prune(st_store *s, const char *model, int keep, ms_error *err);

/* A stored prediction, valid only during the callback. */
typedef struct st_pred_row {
    const char *key, *outputs, *model, *model_version, *run_id;
    const char *scored_at; /* "2025-06-01T02:00:03Z" */
    const char *source;    /* "batch" (run_id set) or "stream" (event_id set); NULL reads as batch */
    const char *event_id;  /* stream results: the event that made it */
} st_pred_row;
/* index: the position in `keys` (lookup) or a running count (scan). row NULL: not found.
 * Return nonzero to stop early. The callback must not call the same handle. */
typedef int (*st_pred_fn)(void *ctx, size_t index, const st_pred_row *row);

/* Look keys up in the published run of `model`: fn once per key, in order, row NULL when the
 * key is unknown or the model has no published run. Each key is read from one consistent
 * snapshot, so a reader never sees a partial run. */
ms_status st_pred_lookup(st_store *s, const char *model, const char *const *keys, size_t nkeys,
                         st_pred_fn fn, void *ctx, ms_error *err);
/* Every prediction of the published run of `model`, ordered by key, streamed from one snapshot
 * with bounded memory (SQLite: one statement; PostgreSQL: single-row mode). */
ms_status st_pred_scan(st_store *s, const char *model, st_pred_fn fn, void *ctx, ms_error *err);
/* The keys stored so far in a run (all shards; any order), committed chunks only: what a
 * resumed batch job already scored, so that a duplicate key is still caught across the crash.
 * A key written twice may come twice (SQLite keeps both rows). fn returns nonzero to stop; a
 * run with no predictions yet calls it never; an unknown run is MS_ERR_INVALID. */
ms_status st_run_keys(st_store *s, const char *run_id, int (*fn)(void *ctx, const char *key),
                      void *ctx, ms_error *err);
/* The rejects of a run (all shards), by shard then line. */
ms_status st_run_rejects(st_store *s, const char *run_id,
                         int (*fn)(void *ctx, int32_t shard, int64_t line, const char *reason),
                         void *ctx, ms_error *err);

/* ---- stream results and tickets (every backend) ---------------------------------------- */
/* Argument rules (store.c): model names and versions are names (ST_NAME_MAX); event ids come
 * from producers, so any 1 to ST_NAME_MAX - 1 bytes without control characters; keys at most
 * ST_KEY_MAX - 1 bytes; orders are >= 0. Tables (SQL, created on first use):
 * mlship_stream_events, mlship_stream_latest, mlship_tickets; Redis keys: mlship:se:<event>,
 * mlship:sr:<model>/<key>, mlship:tk:<ticket> (expires after 24 h), mlship:tp:<model>/<key>
 * (docs/ARCHITECTURE.md, section 8). */

/* The result of one event, as a stream worker writes it. */
typedef struct st_stream_row {
    const char *model, *key, *event_id; /* required; key may be "" for a keyless event */
    const char *model_version;          /* the version that scored it ("" for an error) */
    const char *outputs;                /* JSON text, stored verbatim; NULL when error is set */
    const char *error;                  /* why it was not scored (dead-lettered), else NULL */
    int64_t order;                      /* the event's queue order (qu_msg.order) */
} st_stream_row;

/* Store the results of n events in ONE transaction (SQL; Redis: one MULTI/EXEC), scored_at =
 * now: one row per event id (an event id already stored is left as it is, so a redelivered
 * event never makes a second row), and for each (model, key) with outputs the latest
 * prediction is replaced only by a row of higher order (for one key the newest event wins,
 * whatever order workers finish in). Error rows are kept per event (tickets read them) and
 * never become a key's prediction. ttl_s > 0: Redis expires what it writes after ttl_s
 * seconds (SQL keeps rows until st_stream_prune). Readers never see half of a call. */
ms_status st_stream_put(st_store *s, const st_stream_row *rows, size_t n, int64_t ttl_s,
                        ms_error *err);
/* The stored result of one event (the row as written, source "stream", error in `outputs`
 * NULL and reason via *error_out), fn called once with row NULL when there is none.
 * error_out (may be NULL) points at the reason during the callback only. */
typedef int (*st_event_fn)(void *ctx, const st_pred_row *row, const char *error);
ms_status st_stream_event(st_store *s, const char *event_id, st_event_fn fn, void *ctx,
                          ms_error *err);
/* The newest prediction of each key for `model`: the published batch run's row or the
 * latest stream result, whichever was scored later (row->source says which); fn once per key
 * in order, row NULL when neither has the key. Redis holds no batch runs: stream only. */
ms_status st_pred_latest(st_store *s, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err);
/* Delete stream results (per event and per key) and tickets older than max_age_s. */
ms_status st_stream_prune(st_store *s, int64_t max_age_s, ms_error *err);

/* A ticket: a caller's handle on a prediction being made by the stream (serve's 202). */
#define ST_KEY_MAX 512 /* entity keys in tickets: at most 511 bytes */
typedef struct st_ticket {
    char ticket[ST_NAME_MAX];
    char model[ST_NAME_MAX];
    char key[ST_KEY_MAX];
    char event_id[ST_NAME_MAX];
    int64_t created_ms; /* ms since the epoch */
} st_ticket;
/* Coalesce triggers for one key: atomically, when (model, key) has a ticket younger than
 * pending_ms whose event has no stored result yet, *out is that ticket and *created = 0;
 * otherwise `fresh` (ticket, model, key, event_id; created_ms set here) is stored, *out is it
 * and *created = 1. Two servers on one store racing for a key get one ticket. The key must not
 * be empty (tickets coalesce by key); a ticket id already stored is an error. An error result
 * counts as a result (the event is done). */
ms_status st_ticket_claim(st_store *s, const st_ticket *fresh, int64_t pending_ms,
                          st_ticket *out, int *created, ms_error *err);
/* Read a ticket: *found = 0 for an unknown (or pruned) one. */
ms_status st_ticket_get(st_store *s, const char *ticket, st_ticket *out, int *found,
                        ms_error *err);
/* Delete a ticket whose event could not be enqueued (so the next trigger makes a new one). */
ms_status st_ticket_drop(st_store *s, const char *ticket, ms_error *err);

/* ---- queries (batch input "sql:SELECT ...") -------------------------------------------- */

/* Run one read query written by the user and stream its rows as text (NULL for SQL NULL):
 * fn(ctx, ncols, names, values), with bounded memory. fn returns nonzero to stop.
 * MS_ERR_UNSUPPORTED on Redis. */
typedef int (*st_row_fn)(void *ctx, int ncols, const char *const *names,
                         const char *const *values);
ms_status st_query(st_store *s, const char *sql, st_row_fn fn, void *ctx, ms_error *err);

#endif
