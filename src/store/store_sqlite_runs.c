/* store_sqlite_runs.c: the SQLite backend's batch runs and predictions (mlship_runs, one
 * mlship_pred_<run_no> table per run, rejects, publishing and pruning); the connection, the
 * helpers and the feature tables are store_sqlite.c's (shared through store_sqlite_int.h).
 *
 * Predictions: each run gets its own append-only table, mlship_pred_<run_no> (key, outputs,
 * scored_at), numbered by mlship_run_numbers. Chunks append without index maintenance (random
 * B-tree inserts were 5x slower); the run's completion builds the key index in one sort, in the
 * same transaction that publishes it; pruning a run is a DROP TABLE. A key written twice in a
 * run answers with its last row (highest rowid). */
#include "store/store_int.h"

#include "base/bs_clock.h"

#ifndef MS_WITH_SQLITE
#define MS_WITH_SQLITE 1
#endif

#if MS_WITH_SQLITE

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite_int.h"

/* ==== runs and predictions ============================================================== */

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS mlship_runs ("
    " run_id TEXT NOT NULL, shard INTEGER NOT NULL, shard_count INTEGER NOT NULL,"
    " model TEXT NOT NULL, model_version TEXT NOT NULL, status TEXT NOT NULL,"
    " rows_scored INTEGER NOT NULL DEFAULT 0, rows_rejected INTEGER NOT NULL DEFAULT 0,"
    " last_chunk INTEGER NOT NULL DEFAULT -1, input_fingerprint TEXT NOT NULL DEFAULT '',"
    " started_at TEXT NOT NULL, finished_at TEXT, PRIMARY KEY (run_id, shard));"
    "CREATE INDEX IF NOT EXISTS mlship_runs_model ON mlship_runs (model);"
    "CREATE TABLE IF NOT EXISTS mlship_run_numbers ("
    " run_no INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS mlship_rejects ("
    " run_id TEXT NOT NULL, shard INTEGER NOT NULL, line INTEGER NOT NULL, reason TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mlship_rejects_run ON mlship_rejects (run_id, shard, line);"
    "CREATE TABLE IF NOT EXISTS mlship_published ("
    " model TEXT PRIMARY KEY NOT NULL, run_id TEXT NOT NULL, published_at TEXT NOT NULL);";

/* A read-only handle creates nothing: it notes whether the tables are there (no_tables). */
static ms_status schema_readonly(sq_store *s, ms_error *err)
{
    sqlite3_stmt *st = NULL;
    ms_status r = sq_prep(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                             " ('mlship_runs', 'mlship_run_numbers', 'mlship_rejects',"
                             " 'mlship_published')", &st, err);
    if (r != MS_OK) return r;
    if (sqlite3_step(st) == SQLITE_ROW) s->no_tables = sqlite3_column_int(st, 0) < 4;
    else r = sq_err(s, err, "schema");
    sqlite3_finalize(st);
    /* tables missing: look again next time (a server's pooled handle sees the first run) */
    if (r == MS_OK && !s->no_tables) s->schema_ready = 1;
    return r;
}

static ms_status schema(sq_store *s, ms_error *err)
{
    if (s->schema_ready) return MS_OK;
    if (s->readonly) return schema_readonly(s, err);
    ms_status r = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (r == MS_OK) r = sq_exec(s, SCHEMA, err);
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    if (r == MS_OK) s->schema_ready = 1;
    return r;
}

ms_status sq_runs_ready(sq_store *s, ms_error *err) { return schema(s, err); }

#define RUN_COLS                                                                              \
    "SELECT r.run_id, r.model, r.model_version, r.input_fingerprint, r.shard, r.shard_count," \
    " r.status, r.rows_scored, r.rows_rejected, r.last_chunk, r.started_at,"                  \
    " COALESCE(r.finished_at, ''), p.run_id IS NOT NULL"                                      \
    " FROM mlship_runs r LEFT JOIN mlship_published p"                                        \
    " ON p.model = r.model AND p.run_id = r.run_id "

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? t : "");
}

static st_run_status parse_status(const char *t, int published)
{
    if (strcmp(t, "running") == 0) return ST_RUN_RUNNING;
    if (strcmp(t, "failed") == 0) return ST_RUN_FAILED;
    return published ? ST_RUN_PUBLISHED : ST_RUN_COMPLETE;
}

static void read_run(sqlite3_stmt *st, st_run *r)
{
    memset(r, 0, sizeof *r);
    copy_col(r->run_id, sizeof r->run_id, st, 0);
    copy_col(r->model, sizeof r->model, st, 1);
    copy_col(r->model_version, sizeof r->model_version, st, 2);
    copy_col(r->input_fingerprint, sizeof r->input_fingerprint, st, 3);
    r->shard = sqlite3_column_int(st, 4);
    r->shard_count = sqlite3_column_int(st, 5);
    const char *status = (const char *)sqlite3_column_text(st, 6);
    r->status = parse_status(status ? status : "", sqlite3_column_int(st, 12));
    r->rows_scored = sqlite3_column_int64(st, 7);
    r->rows_rejected = sqlite3_column_int64(st, 8);
    r->last_chunk = sqlite3_column_int64(st, 9);
    copy_col(r->started_at, sizeof r->started_at, st, 10);
    copy_col(r->finished_at, sizeof r->finished_at, st, 11);
}

/* One row of a run query into *out (found 0/1). */
static ms_status run_one(sq_store *s, const char *sql, const char *a, int32_t b, int use_b,
                         st_run *out, int *found, ms_error *err)
{
    sqlite3_stmt *st = NULL;
    ms_status r = sq_prep(s, sql, &st, err);
    if (r != MS_OK) return r;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (use_b) sqlite3_bind_int(st, 2, b);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_run(st, out);
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        r = sq_err(s, err, "runs");
    }
    sqlite3_finalize(st);
    return r;
}

ms_status sq_run_get(st_store *base, const char *run_id, int32_t shard, st_run *out,
                     int *found, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    if (r != MS_OK || s->no_tables) return *found = 0, r;
    return run_one(s, RUN_COLS "WHERE r.run_id = ?1 AND r.shard = ?2", run_id, shard, 1, out,
                   found, err);
}

ms_status sq_run_latest(st_store *base, const char *model, int32_t shard, st_run *out,
                        int *found, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    if (r != MS_OK || s->no_tables) return *found = 0, r;
    return run_one(s, RUN_COLS "WHERE r.model = ?1 AND r.shard = ?2 ORDER BY r.rowid DESC LIMIT 1",
                   model, shard, 1, out, found, err);
}

ms_status sq_run_list(st_store *base, const char *model, int (*fn)(void *, const st_run *),
                      void *ctx, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    sqlite3_stmt *st = NULL;
    if (r == MS_OK && s->no_tables) return MS_OK; /* a read-only file without runs */
    if (r == MS_OK) r = sq_prep(s, RUN_COLS "WHERE r.model = ?1 ORDER BY r.rowid DESC", &st, err);
    if (r != MS_OK) return r;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        st_run run;
        read_run(st, &run);
        if (fn(ctx, &run)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) r = sq_err(s, err, "runs");
    sqlite3_finalize(st);
    return r;
}

/* The number of a run's prediction table. */
static ms_status run_number(sq_store *s, const char *run_id, int64_t *no, ms_error *err)
{
    sqlite3_stmt *st = NULL;
    ms_status r = sq_prep(s, "SELECT run_no FROM mlship_run_numbers WHERE run_id = ?1", &st, err);
    if (r != MS_OK) return r;
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *no = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE) r = bs_fail(err, MS_ERR_INVALID, "no run '%s' in this store", run_id);
    else r = sq_err(s, err, "runs");
    sqlite3_finalize(st);
    return r;
}

/* Forget cached statements on run table `no` (before it is dropped), or all (no < 0). */
static void forget_run_stmts(sq_store *s, int64_t no)
{
    if (no < 0 || s->ins_pred_no == no) {
        sqlite3_finalize(s->ins_pred);
        sqlite3_finalize(s->ins_pred_many);
        s->ins_pred = s->ins_pred_many = NULL;
        s->ins_pred_no = 0;
    }
    if (no < 0 || s->lookup_no == no) {
        sqlite3_finalize(s->lookup);
        s->lookup = NULL;
        s->lookup_no = 0;
    }
}

ms_status sq_run_begin(st_store *base, const st_run *run, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    if (r == MS_OK) r = sq_exec(s, "BEGIN IMMEDIATE", err);
    sqlite3_stmt *st = NULL;
    if (r == MS_OK)
        r = sq_prep(s, "SELECT model, shard_count, shard = ?2 FROM mlship_runs WHERE run_id = ?1",
                    &st, err);
    if (r == MS_OK) {
        sqlite3_bind_text(st, 1, run->run_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, run->shard);
        while (r == MS_OK && sqlite3_step(st) == SQLITE_ROW) {
            const char *model = (const char *)sqlite3_column_text(st, 0);
            if (sqlite3_column_int(st, 2))
                r = bs_fail(err, MS_ERR_INVALID, "run '%s' shard %d already exists",
                            run->run_id, (int)run->shard);
            else if (strcmp(model ? model : "", run->model) != 0 ||
                     sqlite3_column_int(st, 1) != run->shard_count)
                r = bs_fail(err, MS_ERR_INVALID,
                            "run '%s' exists for model '%s' with %d shards; cannot add a shard "
                            "of model '%s' with %d shards",
                            run->run_id, model ? model : "", sqlite3_column_int(st, 1),
                            run->model, (int)run->shard_count);
        }
        sqlite3_finalize(st);
    }
    int64_t no = 0;
    if (r == MS_OK)
        r = sq_run(s, "INSERT OR IGNORE INTO mlship_run_numbers (run_id) VALUES (?1)", "s", err,
                   run->run_id);
    if (r == MS_OK) r = run_number(s, run->run_id, &no, err);
    if (r == MS_OK) {
        char sql[160];
        snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS mlship_pred_%lld (key TEXT NOT NULL,"
                 " outputs TEXT NOT NULL, scored_at TEXT NOT NULL)", (long long)no);
        r = sq_exec(s, sql, err);
    }
    if (r == MS_OK) {
        char now[BS_ISO_CAP];
        bs_now_iso(now);
        r = sq_run(s,
                   "INSERT INTO mlship_runs (run_id, shard, shard_count, model, model_version,"
                   " status, input_fingerprint, started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                   "snnssss", err, run->run_id, (int)run->shard, (int)run->shard_count, run->model,
                   run->model_version, run->input_fingerprint, now);
    }
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    return r;
}

/* Inside a transaction: the shard's model, version, status and last chunk. */
static ms_status shard_state(sq_store *s, const char *run_id, int32_t shard, st_run *out,
                             ms_error *err)
{
    int found = 0;
    ms_status r = run_one(s, RUN_COLS "WHERE r.run_id = ?1 AND r.shard = ?2", run_id, shard, 1,
                          out, &found, err);
    if (r == MS_OK && !found)
        r = bs_fail(err, MS_ERR_INVALID, "no run '%s' shard %d in this store", run_id, (int)shard);
    return r;
}

ms_status sq_write_chunk(st_store *base, const char *run_id, int32_t shard, int64_t chunk,
                         const st_prediction *preds, size_t npreds,
                         const st_reject *rejects, size_t nrejects, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    if (r != MS_OK) return r;
    if (!s->ins_rej &&
        (r = sq_prep(s, "INSERT INTO mlship_rejects (run_id, shard, line, reason)"
                        " VALUES (?1, ?2, ?3, ?4)", &s->ins_rej, err)) != MS_OK)
        return r;
    /* A connection that writes predictions is a batch job's: its rows are appended to a
     * table nobody reads until the run completes, so a big page cache buys nothing and only
     * fills as the table grows (32 MiB at ~1M rows); a small one keeps the job's memory flat
     * whatever the input's size, including the index sort at completion (SQLite's sorter
     * spills to temporary files beyond the cache size). */
    if (!s->writer_cache && (r = sq_exec(s, "PRAGMA cache_size=-" ST_WRITER_CACHE_KIB, err)) != MS_OK)
        return r;
    s->writer_cache = 1;
    st_run run;
    int64_t no = 0;
    if ((r = sq_exec(s, "BEGIN IMMEDIATE", err)) != MS_OK) return r;
    r = shard_state(s, run_id, shard, &run, err);
    if (r == MS_OK) r = run_number(s, run_id, &no, err);
    if (r == MS_OK && s->ins_pred_no != no) {
        forget_run_stmts(s, s->ins_pred_no);
        st_sb q = {0};
        st_sb_printf(&q, "INSERT INTO mlship_pred_%lld (key, outputs, scored_at) VALUES (?, ?, ?3)",
                     (long long)no);
        r = q.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : sq_prep(s, q.p, &s->ins_pred, err);
        for (int i = 1; i < PRED_GROUP; i++) st_sb_puts(&q, ", (?, ?, ?3)");
        if (r == MS_OK)
            r = q.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory")
                      : sq_prep(s, q.p, &s->ins_pred_many, err);
        st_sb_free(&q);
        if (r == MS_OK) s->ins_pred_no = no;
    }
    if (r == MS_OK && run.status != ST_RUN_RUNNING)
        r = bs_fail(err, MS_ERR_INVALID, "run '%s' shard %d is %s, not running", run_id,
                    (int)shard, st_run_status_name(run.status));
    if (r == MS_OK && chunk != run.last_chunk + 1)
        r = bs_fail(err, MS_ERR_INVALID,
                    "run '%s' shard %d: chunk %lld out of order (last committed chunk is %lld)",
                    run_id, (int)shard, (long long)chunk, (long long)run.last_chunk);
    char now[BS_ISO_CAP];
    bs_now_iso(now);
    /* PRED_GROUP rows per statement, then one at a time. Parameters: ?1 key, ?2 outputs,
     * ?3 time (shared), then the next row's key and outputs at ?4, ?5, and so on. */
    size_t i = 0;
    for (sqlite3_stmt *ip = s->ins_pred_many; r == MS_OK && i + PRED_GROUP <= npreds;
         i += PRED_GROUP) {
        sqlite3_bind_text(ip, 3, now, -1, SQLITE_STATIC);
        for (int j = 0; j < PRED_GROUP; j++) {
            int k = j == 0 ? 1 : 4 + 2 * (j - 1);
            sqlite3_bind_text(ip, k, preds[i + j].key, -1, SQLITE_STATIC);
            sqlite3_bind_text(ip, k + 1, preds[i + j].outputs, -1, SQLITE_STATIC);
        }
        if (sqlite3_step(ip) != SQLITE_DONE) r = sq_err(s, err, "write predictions");
        sqlite3_reset(ip);
    }
    for (sqlite3_stmt *ip = s->ins_pred; r == MS_OK && i < npreds; i++) {
        sqlite3_bind_text(ip, 1, preds[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(ip, 2, preds[i].outputs, -1, SQLITE_STATIC);
        sqlite3_bind_text(ip, 3, now, -1, SQLITE_STATIC);
        if (sqlite3_step(ip) != SQLITE_DONE) r = sq_err(s, err, "write predictions");
        sqlite3_reset(ip);
    }
    for (size_t j = 0; j < nrejects && r == MS_OK; j++) {
        sq_bind(s->ins_rej, "snis", run_id, (int)shard, rejects[j].line, rejects[j].reason);
        r = sq_done(s, s->ins_rej, "write rejects", err);
    }
    if (r == MS_OK)
        r = sq_run(s,
                   "UPDATE mlship_runs SET rows_scored = rows_scored + ?1, rows_rejected ="
                   " rows_rejected + ?2, last_chunk = ?3 WHERE run_id = ?4 AND shard = ?5",
                   "iiisn", err, (int64_t)npreds, (int64_t)nrejects, chunk, run_id, (int)shard);
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    if (s->ins_pred) sqlite3_clear_bindings(s->ins_pred);
    if (s->ins_pred_many) sqlite3_clear_bindings(s->ins_pred_many);
    sq_bind(s->ins_rej, "");
    sq_rollback(s);
    return r;
}

ms_status sq_run_fail(st_store *base, const char *run_id, int32_t shard, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    st_run run;
    if (r == MS_OK) r = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (r == MS_OK) r = shard_state(s, run_id, shard, &run, err);
    if (r == MS_OK && run.status != ST_RUN_RUNNING && run.status != ST_RUN_FAILED)
        r = bs_fail(err, MS_ERR_INVALID, "run '%s' shard %d is %s; only a running run can fail",
                    run_id, (int)shard, st_run_status_name(run.status));
    if (r == MS_OK && run.status == ST_RUN_RUNNING) {
        char now[BS_ISO_CAP];
        bs_now_iso(now);
        r = sq_run(s, "UPDATE mlship_runs SET status = 'failed', finished_at = ?1"
                      " WHERE run_id = ?2 AND shard = ?3", "ssn", err, now, run_id, (int)shard);
    }
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    return r;
}

static ms_status set_published(sq_store *s, const char *model, const char *run_id, ms_error *err)
{
    char now[BS_ISO_CAP];
    bs_now_iso(now);
    return sq_run(s,
                  "INSERT INTO mlship_published (model, run_id, published_at) VALUES (?1, ?2, ?3)"
                  " ON CONFLICT (model) DO UPDATE SET run_id = excluded.run_id,"
                  " published_at = excluded.published_at",
                  "sss", err, model, run_id, now);
}

/* Inside a transaction: delete all but the newest `keep` finished runs, the published one and
 * the running ones. */
static ms_status prune(sq_store *s, const char *model, int keep, ms_error *err)
{
    if (keep <= 0) return MS_OK;
    sqlite3_stmt *st = NULL;
    ms_status r = sq_prep(s,
                          "SELECT r.run_id, max(r.rowid) AS seq, sum(r.status = 'running'),"
                          " EXISTS (SELECT 1 FROM mlship_published p WHERE p.model = ?1"
                          " AND p.run_id = r.run_id)"
                          " FROM mlship_runs r WHERE r.model = ?1 GROUP BY r.run_id"
                          " ORDER BY seq DESC",
                          &st, err);
    if (r != MS_OK) return r;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    char **doomed = NULL;
    size_t n = 0, cap = 0;
    int kept = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 2) > 0 || sqlite3_column_int(st, 3)) continue;
        if (kept < keep) {
            kept++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **p = realloc(doomed, cap * sizeof *p);
            if (!p) {
                r = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
                break;
            }
            doomed = p;
        }
        doomed[n] = st_strdup((const char *)sqlite3_column_text(st, 0));
        if (!doomed[n]) {
            r = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            break;
        }
        n++;
    }
    if (r == MS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) r = sq_err(s, err, "prune");
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) {
        int64_t no = -1;
        if (r == MS_OK) r = run_number(s, doomed[i], &no, err);
        if (r == MS_OK) {
            char sql[96];
            forget_run_stmts(s, no);
            snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS mlship_pred_%lld", (long long)no);
            r = sq_exec(s, sql, err);
        }
        if (r == MS_OK)
            r = sq_run(s, "DELETE FROM mlship_run_numbers WHERE run_id = ?1", "s", err, doomed[i]);
        if (r == MS_OK)
            r = sq_run(s, "DELETE FROM mlship_rejects WHERE run_id = ?1", "s", err, doomed[i]);
        if (r == MS_OK)
            r = sq_run(s, "DELETE FROM mlship_runs WHERE run_id = ?1", "s", err, doomed[i]);
        free(doomed[i]);
    }
    free(doomed);
    return r;
}

ms_status sq_run_complete(st_store *base, const char *run_id, int32_t shard, int keep,
                          int *published, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    st_run run;
    if (r == MS_OK) r = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (r == MS_OK) r = shard_state(s, run_id, shard, &run, err);
    if (r == MS_OK && run.status == ST_RUN_FAILED)
        r = bs_fail(err, MS_ERR_INVALID, "run '%s' shard %d failed; it cannot complete", run_id,
                    (int)shard);
    int was_running = r == MS_OK && run.status == ST_RUN_RUNNING;
    if (was_running) {
        char now[BS_ISO_CAP];
        bs_now_iso(now);
        r = sq_run(s, "UPDATE mlship_runs SET status = 'complete', finished_at = ?1"
                      " WHERE run_id = ?2 AND shard = ?3", "ssn", err, now, run_id, (int)shard);
        sqlite3_stmt *st = NULL;
        if (r == MS_OK)
            r = sq_prep(s, "SELECT count(*) FROM mlship_runs WHERE run_id = ?1"
                           " AND status = 'complete'", &st, err);
        if (r == MS_OK) {
            sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
            int done = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
            sqlite3_finalize(st);
            if (done == run.shard_count) {
                int64_t no = 0;
                r = run_number(s, run_id, &no, err);
                if (r == MS_OK) {
                    char sql[160];
                    snprintf(sql, sizeof sql, "CREATE INDEX IF NOT EXISTS mlship_pred_%lld_key ON"
                             " mlship_pred_%lld (key)", (long long)no, (long long)no);
                    r = sq_exec(s, sql, err);
                }
                if (r == MS_OK) r = set_published(s, run.model, run_id, err);
                if (r == MS_OK) r = prune(s, run.model, keep, err);
                if (r == MS_OK) *published = 1;
            }
        }
    }
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    if (r != MS_OK) *published = 0;
    sq_rollback(s);
    return r;
}

ms_status sq_run_publish(st_store *base, const char *run_id, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    sqlite3_stmt *st = NULL;
    if (r == MS_OK) r = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (r == MS_OK)
        r = sq_prep(s, "SELECT model, max(shard_count), sum(status = 'complete'), count(*)"
                       " FROM mlship_runs WHERE run_id = ?1 GROUP BY model", &st, err);
    if (r == MS_OK) {
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            r = bs_fail(err, MS_ERR_INVALID, "no run '%s' in this store", run_id);
        } else {
            char model[ST_NAME_MAX];
            copy_col(model, sizeof model, st, 0);
            int shards = sqlite3_column_int(st, 1), done = sqlite3_column_int(st, 2);
            if (done != shards)
                r = bs_fail(err, MS_ERR_INVALID,
                            "run '%s' is not complete (%d of %d shards complete); only a "
                            "complete run can be published",
                            run_id, done, shards);
            else
                r = set_published(s, model, run_id, err);
        }
        sqlite3_finalize(st);
    }
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    return r;
}

ms_status sq_runs_prune(st_store *base, const char *model, int keep, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    if (r == MS_OK) r = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (r == MS_OK) r = prune(s, model, keep, err);
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    return r;
}

/* Inside a read transaction: the published run of `model` (*no = 0 when none). */
static ms_status published_run(sq_store *s, const char *model, int64_t *no, char *run_id,
                               char *version, ms_error *err)
{
    sqlite3_stmt *st = NULL;
    *no = 0;
    ms_status r = sq_prep(s,
                          "SELECT n.run_no, pub.run_id, r.model_version FROM mlship_published pub"
                          " JOIN mlship_run_numbers n ON n.run_id = pub.run_id"
                          " JOIN mlship_runs r ON r.run_id = pub.run_id AND r.shard = 0"
                          " WHERE pub.model = ?1",
                          &st, err);
    if (r != MS_OK) return r;
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *no = sqlite3_column_int64(st, 0);
        copy_col(run_id, ST_NAME_MAX, st, 1);
        copy_col(version, ST_NAME_MAX, st, 2);
    } else if (rc != SQLITE_DONE) {
        r = sq_err(s, err, "published run");
    }
    sqlite3_finalize(st);
    return r;
}

ms_status sq_pred_lookup(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    if (r != MS_OK) return r;
    if (s->no_tables) { /* a read-only file without runs: nothing is published */
        for (size_t i = 0; i < nkeys; i++)
            if (fn(ctx, i, NULL)) break;
        return MS_OK;
    }
    /* one read transaction: the published pointer and every key from the same snapshot */
    int own_tx = sqlite3_get_autocommit(s->db);
    if (own_tx && (r = sq_exec(s, "BEGIN", err)) != MS_OK) return r;
    int64_t no;
    char run_id[ST_NAME_MAX], version[ST_NAME_MAX];
    r = published_run(s, model, &no, run_id, version, err);
    if (r == MS_OK && no && s->lookup_no != no) {
        forget_run_stmts(s, s->lookup_no);
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT outputs, scored_at FROM mlship_pred_%lld WHERE key = ?1"
                 " ORDER BY rowid DESC LIMIT 1", (long long)no);
        if ((r = sq_prep(s, sql, &s->lookup, err)) == MS_OK) s->lookup_no = no;
    }
    for (size_t i = 0; i < nkeys && r == MS_OK; i++) {
        int stop;
        if (!no) {
            stop = fn(ctx, i, NULL);
        } else {
            sqlite3_reset(s->lookup);
            sqlite3_bind_text(s->lookup, 1, keys[i], -1, SQLITE_STATIC);
            int rc = sqlite3_step(s->lookup);
            if (rc == SQLITE_ROW) {
                st_pred_row row = {.key = keys[i], .model = model, .run_id = run_id,
                                   .model_version = version, .source = "batch"};
                row.outputs = (const char *)sqlite3_column_text(s->lookup, 0);
                row.scored_at = (const char *)sqlite3_column_text(s->lookup, 1);
                stop = fn(ctx, i, &row);
            } else if (rc == SQLITE_DONE) {
                stop = fn(ctx, i, NULL);
            } else {
                r = sq_err(s, err, "lookup");
                break;
            }
        }
        if (stop) break;
    }
    if (s->lookup) {
        sqlite3_reset(s->lookup);
        sqlite3_clear_bindings(s->lookup);
    }
    if (own_tx) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return r;
}

ms_status sq_pred_scan(st_store *base, const char *model, st_pred_fn fn, void *ctx,
                       ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    if (r != MS_OK || s->no_tables) return r;
    int own_tx = sqlite3_get_autocommit(s->db);
    if (own_tx && (r = sq_exec(s, "BEGIN", err)) != MS_OK) return r;
    int64_t no;
    char run_id[ST_NAME_MAX], version[ST_NAME_MAX];
    sqlite3_stmt *st = NULL;
    r = published_run(s, model, &no, run_id, version, err);
    if (r == MS_OK && no) {
        /* one row per key, the last written (SQLite takes the bare columns from the max row) */
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT key, outputs, scored_at, max(rowid) FROM"
                 " mlship_pred_%lld GROUP BY key ORDER BY key", (long long)no);
        r = sq_prep(s, sql, &st, err);
    }
    if (r == MS_OK && st) {
        size_t i = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            st_pred_row row = {.key = (const char *)sqlite3_column_text(st, 0), .model = model,
                               .run_id = run_id, .model_version = version, .source = "batch"};
            row.outputs = (const char *)sqlite3_column_text(st, 1);
            row.scored_at = (const char *)sqlite3_column_text(st, 2);
            if (fn(ctx, i++, &row)) break;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) r = sq_err(s, err, "scan");
    }
    sqlite3_finalize(st);
    if (own_tx) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return r;
}

ms_status sq_run_rejects(st_store *base, const char *run_id,
                         int (*fn)(void *, int32_t, int64_t, const char *), void *ctx,
                         ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    sqlite3_stmt *st = NULL;
    if (r == MS_OK && s->no_tables) return MS_OK;
    if (r == MS_OK)
        r = sq_prep(s, "SELECT shard, line, reason FROM mlship_rejects WHERE run_id = ?1"
                       " ORDER BY shard, line", &st, err);
    if (r != MS_OK) return r;
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1),
               (const char *)sqlite3_column_text(st, 2)))
            break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) r = sq_err(s, err, "rejects");
    sqlite3_finalize(st);
    return r;
}

ms_status sq_run_keys(st_store *base, const char *run_id, int (*fn)(void *, const char *),
                      void *ctx, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = schema(s, err);
    int64_t no = 0;
    if (r == MS_OK && s->no_tables) return MS_OK;
    if (r == MS_OK) r = run_number(s, run_id, &no, err);
    sqlite3_stmt *st = NULL;
    if (r == MS_OK) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT key FROM mlship_pred_%lld", (long long)no);
        r = sq_prep(s, sql, &st, err);
    }
    if (r != MS_OK) return r;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0))) break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) r = sq_err(s, err, "run keys");
    sqlite3_finalize(st);
    return r;
}

#endif
