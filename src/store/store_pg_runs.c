/* store_pg_runs.c: the PostgreSQL backend's batch runs and predictions (mlship_runs, the
 * predictions and rejects tables, publishing and pruning); the connection, the helpers and the
 * feature tables are store_pg.c's (shared through store_pg_int.h).
 *
 * Each chunk is COPYed and merged, together with the run's chunk marker, in one transaction;
 * completing shards lock the run's rows so exactly one of them publishes. */
#include "store/store_int.h"

#ifndef MS_WITH_PG
#define MS_WITH_PG 1
#endif

#if MS_WITH_PG

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg_int.h"

/* ==== runs and predictions ============================================================== */

static const char *SCHEMA =
    "SELECT pg_advisory_xact_lock(7236451);" /* concurrent shards: create once */
    "CREATE TABLE IF NOT EXISTS mlship_runs ("
    " seq bigserial, run_id text NOT NULL, shard integer NOT NULL, shard_count integer NOT NULL,"
    " model text NOT NULL, model_version text NOT NULL, status text NOT NULL,"
    " rows_scored bigint NOT NULL DEFAULT 0, rows_rejected bigint NOT NULL DEFAULT 0,"
    " last_chunk bigint NOT NULL DEFAULT -1, input_fingerprint text NOT NULL DEFAULT '',"
    " started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,"
    " PRIMARY KEY (run_id, shard));"
    "CREATE INDEX IF NOT EXISTS mlship_runs_model ON mlship_runs (model, seq);"
    "CREATE TABLE IF NOT EXISTS mlship_predictions ("
    " model text NOT NULL, run_id text NOT NULL, key text NOT NULL, outputs text NOT NULL,"
    " model_version text NOT NULL, scored_at timestamptz NOT NULL,"
    " PRIMARY KEY (model, run_id, key));"
    "CREATE TABLE IF NOT EXISTS mlship_rejects ("
    " run_id text NOT NULL, shard integer NOT NULL, line bigint NOT NULL, reason text NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mlship_rejects_run ON mlship_rejects (run_id, shard, line);"
    "CREATE TABLE IF NOT EXISTS mlship_published ("
    " model text PRIMARY KEY, run_id text NOT NULL, published_at timestamptz NOT NULL);";

static ms_status schema(pg_store *s, ms_error *err)
{
    return pg_schema_once(s, SCHEMA, &s->schema_ready, err);
}

ms_status pg_runs_ready(pg_store *s, ms_error *err) { return schema(s, err); }

#define RUN_COLS                                                                              \
    "SELECT r.run_id, r.model, r.model_version, r.input_fingerprint, r.shard, r.shard_count," \
    " r.status, r.rows_scored, r.rows_rejected, r.last_chunk, " ISO("r.started_at") ","       \
    " COALESCE(" ISO("r.finished_at") ", ''), p.run_id IS NOT NULL"                           \
    " FROM mlship_runs r LEFT JOIN mlship_published p"                                        \
    " ON p.model = r.model AND p.run_id = r.run_id "

static void read_run(const PGresult *res, int row, st_run *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->run_id, sizeof r->run_id, "%s", PQgetvalue(res, row, 0));
    snprintf(r->model, sizeof r->model, "%s", PQgetvalue(res, row, 1));
    snprintf(r->model_version, sizeof r->model_version, "%s", PQgetvalue(res, row, 2));
    snprintf(r->input_fingerprint, sizeof r->input_fingerprint, "%s", PQgetvalue(res, row, 3));
    r->shard = atoi(PQgetvalue(res, row, 4));
    r->shard_count = atoi(PQgetvalue(res, row, 5));
    const char *status = PQgetvalue(res, row, 6);
    int published = PQgetvalue(res, row, 12)[0] == 't';
    r->status = strcmp(status, "running") == 0  ? ST_RUN_RUNNING
                : strcmp(status, "failed") == 0 ? ST_RUN_FAILED
                : published                     ? ST_RUN_PUBLISHED
                                                : ST_RUN_COMPLETE;
    r->rows_scored = atoll(PQgetvalue(res, row, 7));
    r->rows_rejected = atoll(PQgetvalue(res, row, 8));
    r->last_chunk = atoll(PQgetvalue(res, row, 9));
    snprintf(r->started_at, sizeof r->started_at, "%s", PQgetvalue(res, row, 10));
    snprintf(r->finished_at, sizeof r->finished_at, "%s", PQgetvalue(res, row, 11));
}

static ms_status run_one(pg_store *s, const char *sql, const char *a, int32_t b, st_run *out,
                         int *found, ms_error *err)
{
    char bs[16];
    snprintf(bs, sizeof bs, "%d", (int)b);
    const char *p[2] = {a, bs};
    PGresult *res;
    ms_status st = pg_q(s, sql, 2, p, &res, err);
    if (st != MS_OK) return st;
    if (PQntuples(res) > 0) {
        read_run(res, 0, out);
        *found = 1;
    }
    PQclear(res);
    return MS_OK;
}

ms_status pg_run_get(st_store *base, const char *run_id, int32_t shard, st_run *out,
                     int *found, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    return run_one(s, RUN_COLS "WHERE r.run_id = $1 AND r.shard = $2", run_id, shard, out, found,
                   err);
}

ms_status pg_run_latest(st_store *base, const char *model, int32_t shard, st_run *out,
                        int *found, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    return run_one(s, RUN_COLS "WHERE r.model = $1 AND r.shard = $2 ORDER BY r.seq DESC LIMIT 1",
                   model, shard, out, found, err);
}

ms_status pg_run_list(st_store *base, const char *model, int (*fn)(void *, const st_run *),
                      void *ctx, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    PGresult *res;
    const char *p[1] = {model};
    if (st == MS_OK) st = pg_q(s, RUN_COLS "WHERE r.model = $1 ORDER BY r.seq DESC", 1, p, &res, err);
    if (st != MS_OK) return st;
    for (int i = 0; i < PQntuples(res); i++) {
        st_run run;
        read_run(res, i, &run);
        if (fn(ctx, &run)) break;
    }
    PQclear(res);
    return MS_OK;
}

ms_status pg_run_begin(st_store *base, const st_run *run, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    PGresult *res = NULL;
    char shard[16], count[16];
    snprintf(shard, sizeof shard, "%d", (int)run->shard);
    snprintf(count, sizeof count, "%d", (int)run->shard_count);
    if (st == MS_OK) {
        const char *p[2] = {run->run_id, shard};
        /* lock the run's rows so concurrent shards check against each other */
        st = pg_q(s, "SELECT model, shard_count, shard = $2::int FROM mlship_runs"
                     " WHERE run_id = $1 FOR UPDATE", 2, p, &res, err);
    }
    for (int i = 0; st == MS_OK && i < PQntuples(res); i++) {
        if (PQgetvalue(res, i, 2)[0] == 't')
            st = bs_fail(err, MS_ERR_INVALID, "run '%s' shard %d already exists", run->run_id,
                         (int)run->shard);
        else if (strcmp(PQgetvalue(res, i, 0), run->model) != 0 ||
                 atoi(PQgetvalue(res, i, 1)) != run->shard_count)
            st = bs_fail(err, MS_ERR_INVALID,
                         "run '%s' exists for model '%s' with %s shards; cannot add a shard of "
                         "model '%s' with %d shards",
                         run->run_id, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), run->model,
                         (int)run->shard_count);
    }
    PQclear(res);
    if (st == MS_OK) {
        const char *p[6] = {run->run_id, shard, count, run->model, run->model_version,
                            run->input_fingerprint};
        st = pg_q(s,
                  "INSERT INTO mlship_runs (run_id, shard, shard_count, model, model_version,"
                  " status, input_fingerprint) VALUES ($1, $2, $3, $4, $5, 'running', $6)",
                  6, p, NULL, err);
    }
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    return st;
}

/* Inside a transaction: the shard's row, locked. */
static ms_status shard_state(pg_store *s, const char *run_id, int32_t shard, st_run *out,
                             ms_error *err)
{
    int found = 0;
    ms_status st = run_one(s, RUN_COLS "WHERE r.run_id = $1 AND r.shard = $2 FOR UPDATE OF r",
                           run_id, shard, out, &found, err);
    if (st == MS_OK && !found)
        st = bs_fail(err, MS_ERR_INVALID, "no run '%s' shard %d in this store", run_id,
                     (int)shard);
    return st;
}

ms_status pg_write_chunk(st_store *base, const char *run_id, int32_t shard, int64_t chunk,
                         const st_prediction *preds, size_t npreds,
                         const st_reject *rejects, size_t nrejects, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st == MS_OK && !s->stage_ready) {
        st = pg_exec(s, "CREATE TEMP TABLE IF NOT EXISTS mlship_pred_stage (key text NOT NULL,"
                        " outputs text NOT NULL, seq bigserial) ON COMMIT DELETE ROWS", err);
        if (st == MS_OK) s->stage_ready = 1;
    }
    st_run run;
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK) st = shard_state(s, run_id, shard, &run, err);
    if (st == MS_OK && run.status != ST_RUN_RUNNING)
        st = bs_fail(err, MS_ERR_INVALID, "run '%s' shard %d is %s, not running", run_id,
                     (int)shard, st_run_status_name(run.status));
    if (st == MS_OK && chunk != run.last_chunk + 1)
        st = bs_fail(err, MS_ERR_INVALID,
                     "run '%s' shard %d: chunk %lld out of order (last committed chunk is %lld)",
                     run_id, (int)shard, (long long)chunk, (long long)run.last_chunk);
    st_sb b = {0};
    if (st == MS_OK && npreds) {
        st = pg_copy_start(s, "COPY mlship_pred_stage (key, outputs) FROM STDIN", err);
        for (size_t i = 0; i < npreds && st == MS_OK; i++) {
            pg_copy_text(&b, preds[i].key);
            st_sb_put(&b, "\t", 1);
            pg_copy_text(&b, preds[i].outputs);
            st_sb_put(&b, "\n", 1);
            if (b.len > (1u << 20)) st = pg_copy_send(s, &b, err);
        }
        if (st == MS_OK) st = pg_copy_send(s, &b, err);
        if (PQtransactionStatus(s->c) == PQTRANS_ACTIVE) {
            ms_status e = pg_copy_end(s, st == MS_OK ? NULL : "aborted by mlship", err);
            if (st == MS_OK) st = e;
        }
        if (st == MS_OK) {
            const char *p[3] = {run.model, run_id, run.model_version};
            st = pg_q(s,
                      "INSERT INTO mlship_predictions (model, run_id, key, outputs, model_version,"
                      " scored_at) SELECT DISTINCT ON (key) $1, $2, key, outputs, $3, now()"
                      " FROM mlship_pred_stage ORDER BY key, seq DESC"
                      " ON CONFLICT (model, run_id, key) DO UPDATE SET outputs ="
                      " excluded.outputs, model_version = excluded.model_version,"
                      " scored_at = excluded.scored_at",
                      3, p, NULL, err);
        }
    }
    if (st == MS_OK && nrejects) {
        st = pg_copy_start(s, "COPY mlship_rejects (run_id, shard, line, reason) FROM STDIN", err);
        b.len = 0;
        for (size_t i = 0; i < nrejects && st == MS_OK; i++) {
            st_sb_printf(&b, "%s\t%d\t%lld\t", run_id, (int)shard, (long long)rejects[i].line);
            pg_copy_text(&b, rejects[i].reason);
            st_sb_put(&b, "\n", 1);
            if (b.len > (1u << 20)) st = pg_copy_send(s, &b, err);
        }
        if (st == MS_OK) st = pg_copy_send(s, &b, err);
        if (PQtransactionStatus(s->c) == PQTRANS_ACTIVE) {
            ms_status e = pg_copy_end(s, st == MS_OK ? NULL : "aborted by mlship", err);
            if (st == MS_OK) st = e;
        }
    }
    st_sb_free(&b);
    if (st == MS_OK) {
        char np[24], nr[24], ch[24], sh[16];
        snprintf(np, sizeof np, "%zu", npreds);
        snprintf(nr, sizeof nr, "%zu", nrejects);
        snprintf(ch, sizeof ch, "%lld", (long long)chunk);
        snprintf(sh, sizeof sh, "%d", (int)shard);
        const char *p[5] = {np, nr, ch, run_id, sh};
        st = pg_q(s,
                  "UPDATE mlship_runs SET rows_scored = rows_scored + $1, rows_rejected ="
                  " rows_rejected + $2, last_chunk = $3 WHERE run_id = $4 AND shard = $5",
                  5, p, NULL, err);
    }
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    return st;
}

static ms_status set_status(pg_store *s, const char *run_id, int32_t shard, const char *status,
                            ms_error *err)
{
    char sh[16];
    snprintf(sh, sizeof sh, "%d", (int)shard);
    const char *p[3] = {status, run_id, sh};
    return pg_q(s, "UPDATE mlship_runs SET status = $1, finished_at = now()"
                   " WHERE run_id = $2 AND shard = $3", 3, p, NULL, err);
}

ms_status pg_run_fail(st_store *base, const char *run_id, int32_t shard, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    st_run run;
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK) st = shard_state(s, run_id, shard, &run, err);
    if (st == MS_OK && run.status != ST_RUN_RUNNING && run.status != ST_RUN_FAILED)
        st = bs_fail(err, MS_ERR_INVALID, "run '%s' shard %d is %s; only a running run can fail",
                     run_id, (int)shard, st_run_status_name(run.status));
    if (st == MS_OK && run.status == ST_RUN_RUNNING)
        st = set_status(s, run_id, shard, "failed", err);
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    return st;
}

static ms_status set_published(pg_store *s, const char *model, const char *run_id, ms_error *err)
{
    const char *p[2] = {model, run_id};
    return pg_q(s,
                "INSERT INTO mlship_published (model, run_id, published_at) VALUES ($1, $2, now())"
                " ON CONFLICT (model) DO UPDATE SET run_id = excluded.run_id,"
                " published_at = excluded.published_at",
                2, p, NULL, err);
}

static ms_status prune(pg_store *s, const char *model, int keep, ms_error *err)
{
    if (keep <= 0) return MS_OK;
    PGresult *res;
    const char *p[1] = {model};
    ms_status st = pg_q(s,
                        "SELECT r.run_id, max(r.seq) AS seq,"
                        " count(*) FILTER (WHERE r.status = 'running'),"
                        " bool_or(p.run_id IS NOT NULL)"
                        " FROM mlship_runs r LEFT JOIN mlship_published p"
                        " ON p.model = r.model AND p.run_id = r.run_id"
                        " WHERE r.model = $1 GROUP BY r.run_id ORDER BY seq DESC",
                        1, p, &res, err);
    if (st != MS_OK) return st;
    const char **doomed = malloc(sizeof *doomed * ((size_t)PQntuples(res) + 1));
    if (!doomed) {
        PQclear(res);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    int n = 0, kept = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        if (atoi(PQgetvalue(res, i, 2)) > 0 || PQgetvalue(res, i, 3)[0] == 't') continue;
        if (kept < keep) kept++;
        else doomed[n++] = PQgetvalue(res, i, 0);
    }
    if (n > 0) {
        st_sb arr = {0};
        pg_array_lit(&arr, doomed, (size_t)n);
        if (arr.oom) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        const char *q[2] = {model, arr.p};
        if (st == MS_OK)
            st = pg_q(s, "DELETE FROM mlship_predictions WHERE model = $1 AND run_id = ANY($2)",
                      2, q, NULL, err);
        if (st == MS_OK)
            st = pg_q(s, "DELETE FROM mlship_rejects WHERE run_id = ANY($1)", 1, q + 1, NULL, err);
        if (st == MS_OK)
            st = pg_q(s, "DELETE FROM mlship_runs WHERE run_id = ANY($1)", 1, q + 1, NULL, err);
        st_sb_free(&arr);
    }
    free(doomed);
    PQclear(res);
    return st;
}

ms_status pg_run_complete(st_store *base, const char *run_id, int32_t shard, int keep,
                          int *published, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    st_run run;
    PGresult *res = NULL;
    const char *p[1] = {run_id};
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    /* lock every shard row of the run: concurrent completers go one after the other, so the
     * last one sees all shards complete and publishes, exactly once */
    if (st == MS_OK)
        st = pg_q(s, "SELECT 1 FROM mlship_runs WHERE run_id = $1 ORDER BY shard FOR UPDATE", 1,
                  p, NULL, err);
    if (st == MS_OK) st = shard_state(s, run_id, shard, &run, err);
    if (st == MS_OK && run.status == ST_RUN_FAILED)
        st = bs_fail(err, MS_ERR_INVALID, "run '%s' shard %d failed; it cannot complete", run_id,
                     (int)shard);
    if (st == MS_OK && run.status == ST_RUN_RUNNING) {
        st = set_status(s, run_id, shard, "complete", err);
        if (st == MS_OK)
            st = pg_q(s, "SELECT count(*) FROM mlship_runs WHERE run_id = $1"
                         " AND status = 'complete'", 1, p, &res, err);
        if (st == MS_OK && atoi(PQgetvalue(res, 0, 0)) == run.shard_count) {
            st = set_published(s, run.model, run_id, err);
            if (st == MS_OK) st = prune(s, run.model, keep, err);
            /* fresh statistics for the bulk-loaded rows, else the planner may scan the whole
             * run per lookup until autovacuum comes by */
            if (st == MS_OK) st = pg_exec(s, "ANALYZE mlship_predictions", err);
            if (st == MS_OK) *published = 1;
        }
        PQclear(res);
    }
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    if (st != MS_OK) *published = 0;
    pg_rollback(s);
    return st;
}

ms_status pg_run_publish(st_store *base, const char *run_id, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    PGresult *res = NULL;
    const char *p[1] = {run_id};
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK)
        st = pg_q(s, "SELECT model, max(shard_count), count(*) FILTER (WHERE status = 'complete')"
                     " FROM mlship_runs WHERE run_id = $1 GROUP BY model", 1, p, &res, err);
    if (st == MS_OK) {
        if (PQntuples(res) == 0) {
            st = bs_fail(err, MS_ERR_INVALID, "no run '%s' in this store", run_id);
        } else {
            int shards = atoi(PQgetvalue(res, 0, 1)), done = atoi(PQgetvalue(res, 0, 2));
            if (done != shards)
                st = bs_fail(err, MS_ERR_INVALID,
                             "run '%s' is not complete (%d of %d shards complete); only a "
                             "complete run can be published",
                             run_id, done, shards);
            else
                st = set_published(s, PQgetvalue(res, 0, 0), run_id, err);
        }
    }
    PQclear(res);
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    return st;
}

ms_status pg_runs_prune(st_store *base, const char *model, int keep, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK) st = prune(s, model, keep, err);
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    return st;
}

ms_status pg_pred_lookup(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    st_sb arr = {0};
    pg_array_lit(&arr, keys, nkeys);
    if (arr.oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    const char *p[2] = {model, arr.p};
    PGresult *res;
    /* one statement, one snapshot: all keys from the same published run */
    st = pg_q(s,
              "SELECT p.key, p.outputs, p.model_version, p.run_id, " ISO("p.scored_at")
              " FROM mlship_published pub JOIN mlship_predictions p"
              " ON p.model = pub.model AND p.run_id = pub.run_id"
              " WHERE pub.model = $1 AND p.key = ANY($2::text[])",
              2, p, &res, err);
    st_sb_free(&arr);
    if (st != MS_OK) return st;
    khash h;
    if (pg_kh_build(&h, res) != 0) {
        PQclear(res);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    for (size_t i = 0; i < nkeys; i++) {
        int r = pg_kh_find(&h, res, keys[i]);
        int stop;
        if (r < 0) {
            stop = fn(ctx, i, NULL);
        } else {
            st_pred_row row = {.key = keys[i], .model = model, .outputs = PQgetvalue(res, r, 1),
                               .model_version = PQgetvalue(res, r, 2),
                               .run_id = PQgetvalue(res, r, 3),
                               .scored_at = PQgetvalue(res, r, 4), .source = "batch"};
            stop = fn(ctx, i, &row);
        }
        if (stop) break;
    }
    free(h.slot);
    PQclear(res);
    return MS_OK;
}


typedef struct scan_ctx {
    st_pred_fn fn;
    void *ctx;
    const char *model;
    size_t i;
} scan_ctx;

static int scan_row(void *p, const PGresult *res)
{
    scan_ctx *c = p;
    st_pred_row row = {.key = PQgetvalue(res, 0, 0), .outputs = PQgetvalue(res, 0, 1),
                       .model = c->model, .model_version = PQgetvalue(res, 0, 2),
                       .run_id = PQgetvalue(res, 0, 3), .scored_at = PQgetvalue(res, 0, 4),
                       .source = "batch"};
    return c->fn(c->ctx, c->i++, &row);
}

ms_status pg_pred_scan(st_store *base, const char *model, st_pred_fn fn, void *ctx,
                       ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    scan_ctx c = {fn, ctx, model, 0};
    const char *p[1] = {model};
    return pg_stream(s,
                  "SELECT p.key, p.outputs, p.model_version, p.run_id, " ISO("p.scored_at")
                  " FROM mlship_published pub JOIN mlship_predictions p"
                  " ON p.model = pub.model AND p.run_id = pub.run_id"
                  " WHERE pub.model = $1 ORDER BY p.key",
                  1, p, scan_row, &c, err);
}

ms_status pg_run_rejects(st_store *base, const char *run_id,
                         int (*fn)(void *, int32_t, int64_t, const char *), void *ctx,
                         ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    PGresult *res;
    const char *p[1] = {run_id};
    if (st == MS_OK)
        st = pg_q(s, "SELECT shard, line, reason FROM mlship_rejects WHERE run_id = $1"
                     " ORDER BY shard, line", 1, p, &res, err);
    if (st != MS_OK) return st;
    for (int i = 0; i < PQntuples(res); i++)
        if (fn(ctx, atoi(PQgetvalue(res, i, 0)), atoll(PQgetvalue(res, i, 1)),
               PQgetvalue(res, i, 2)))
            break;
    PQclear(res);
    return MS_OK;
}

typedef struct keys_ctx {
    int (*fn)(void *, const char *);
    void *ctx;
} keys_ctx;

static int keys_row(void *p, const PGresult *res)
{
    keys_ctx *c = p;
    return c->fn(c->ctx, PQgetvalue(res, 0, 0));
}

ms_status pg_run_keys(st_store *base, const char *run_id, int (*fn)(void *, const char *),
                      void *ctx, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    keys_ctx c = {fn, ctx};
    const char *p[1] = {run_id};
    PGresult *res;
    if ((st = pg_q(s, "SELECT 1 FROM mlship_runs WHERE run_id = $1 LIMIT 1", 1, p, &res, err)) != MS_OK)
        return st;
    int known = PQntuples(res) > 0;
    PQclear(res);
    if (!known) return bs_fail(err, MS_ERR_INVALID, "no run '%s' in this store", run_id);
    /* model first: the primary key (model, run_id, key) answers it without a full scan */
    return pg_stream(s,
                  "SELECT p.key FROM mlship_predictions p WHERE p.run_id = $1 AND p.model ="
                  " (SELECT model FROM mlship_runs WHERE run_id = $1 LIMIT 1)",
                  1, p, keys_row, &c, err);
}

#endif
