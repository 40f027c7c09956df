/* store_pg_stream.c: the PostgreSQL backend's stream results and tickets (store.h, "stream
 * results and tickets"); the connection and helpers are store_pg.c's, the batch tables
 * store_pg_runs.c's (shared through store_pg_int.h).
 *
 * Tables, created on first use: mlship_stream_events (one row per event id, errors included),
 * mlship_stream_latest (one row per (model, key): the highest-order result) and mlship_tickets.
 * A put is one statement (the rows travel as arrays and are unnested), so it is atomic and
 * readers see all of it or none. scored_at is the server's now(), as batch rows', so "which
 * was scored later" compares on one clock to the microsecond; scored_ms and created_ms are the
 * caller's clock (what pruning and the pending window measure). A claim serializes on an
 * advisory lock of its (model, key), so racing servers make one ticket. */
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

static const char *STREAM_SCHEMA =
    "SELECT pg_advisory_xact_lock(7236451);" /* concurrent first uses: create once */
    "CREATE TABLE IF NOT EXISTS mlship_stream_events ("
    " event_id text PRIMARY KEY, model text NOT NULL, key text NOT NULL,"
    " model_version text NOT NULL, outputs text, error text, ord bigint NOT NULL,"
    " scored_at timestamptz NOT NULL, scored_ms bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mlship_stream_events_ms ON mlship_stream_events (scored_ms);"
    "CREATE TABLE IF NOT EXISTS mlship_stream_latest ("
    " model text NOT NULL, key text NOT NULL, event_id text NOT NULL,"
    " model_version text NOT NULL, outputs text NOT NULL, ord bigint NOT NULL,"
    " scored_at timestamptz NOT NULL, scored_ms bigint NOT NULL, PRIMARY KEY (model, key));"
    "CREATE INDEX IF NOT EXISTS mlship_stream_latest_ms ON mlship_stream_latest (scored_ms);"
    "CREATE TABLE IF NOT EXISTS mlship_tickets ("
    " ticket text PRIMARY KEY, model text NOT NULL, key text NOT NULL,"
    " event_id text NOT NULL, created_ms bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mlship_tickets_key ON mlship_tickets (model, key, created_ms);";

static ms_status stream_ready(pg_store *s, ms_error *err)
{
    return pg_schema_once(s, STREAM_SCHEMA, &s->stream_ready, err);
}

static const char *val(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* ==== results =========================================================================== */

/* One element of an array literal: NULL unquoted, text quoted with \ and " escaped. */
static void arr_add(st_sb *b, const char *v)
{
    st_sb_put(b, b->len > 1 ? "," : "", b->len > 1 ? 1 : 0);
    if (!v) {
        st_sb_puts(b, "NULL");
        return;
    }
    st_sb_put(b, "\"", 1);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') st_sb_put(b, "\\", 1);
        st_sb_put(b, p, 1);
    }
    st_sb_put(b, "\"", 1);
}

#define PUT_COLS 7 /* event_id, model, key, model_version, outputs, error, ord */

static const char *PUT_SQL =
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
    " $6::text[], $7::bigint[]) WITH ORDINALITY"
    " AS v(event_id, model, key, model_version, outputs, error, ord, i)),"
    /* the first row of an event id in this call; an id already stored is left as it is */
    " e AS (INSERT INTO mlship_stream_events (event_id, model, key, model_version, outputs,"
    " error, ord, scored_at, scored_ms) SELECT DISTINCT ON (event_id) event_id, model, key,"
    " model_version, outputs, error, ord, now(), $8::bigint FROM v ORDER BY event_id, i"
    " ON CONFLICT (event_id) DO NOTHING"
    " RETURNING event_id, model, key, model_version, outputs, ord)"
    /* of the events just stored, each key's highest order replaces a lower one */
    " INSERT INTO mlship_stream_latest (model, key, event_id, model_version, outputs, ord,"
    " scored_at, scored_ms) SELECT DISTINCT ON (model, key) model, key, event_id, model_version,"
    " outputs, ord, now(), $8::bigint FROM e WHERE outputs IS NOT NULL ORDER BY model, key,"
    " ord DESC ON CONFLICT (model, key) DO UPDATE SET event_id = excluded.event_id,"
    " model_version = excluded.model_version, outputs = excluded.outputs, ord = excluded.ord,"
    " scored_at = excluded.scored_at, scored_ms = excluded.scored_ms"
    " WHERE excluded.ord > mlship_stream_latest.ord";

ms_status pg_stream_put(st_store *base, const st_stream_row *rows, size_t n, int64_t ttl_s,
                        int64_t now_ms, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = stream_ready(s, err);
    if (st != MS_OK) return st;
    st_sb a[PUT_COLS] = {{0}};
    for (int c = 0; c < PUT_COLS; c++) st_sb_put(&a[c], "{", 1);
    for (size_t i = 0; i < n; i++) {
        const st_stream_row *r = &rows[i];
        char ord[24];
        snprintf(ord, sizeof ord, "%lld", (long long)r->order);
        const char *v[PUT_COLS] = {r->event_id, r->model, r->key,
                                   r->model_version ? r->model_version : "", r->outputs,
                                   r->error, ord};
        for (int c = 0; c < PUT_COLS; c++) arr_add(&a[c], v[c]);
    }
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    const char *params[PUT_COLS + 1];
    int oom = 0;
    for (int c = 0; c < PUT_COLS; c++) {
        st_sb_put(&a[c], "}", 1);
        oom |= a[c].oom;
        params[c] = a[c].p;
    }
    params[PUT_COLS] = now;
    st = oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory")
             : pg_q(s, PUT_SQL, PUT_COLS + 1, params, NULL, err);
    for (int c = 0; c < PUT_COLS; c++) st_sb_free(&a[c]);
    return st;
}

ms_status pg_stream_event(st_store *base, const char *event_id, st_event_fn fn, void *ctx,
                          ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = stream_ready(s, err);
    PGresult *res;
    const char *p[1] = {event_id};
    if (st == MS_OK)
        st = pg_q(s, "SELECT event_id, model, key, model_version, outputs, error, "
                     ISO("scored_at") " FROM mlship_stream_events WHERE event_id = $1",
                  1, p, &res, err);
    if (st != MS_OK) return st;
    if (PQntuples(res) == 0) {
        fn(ctx, NULL, NULL);
    } else {
        st_pred_row row = {.event_id = val(res, 0, 0), .model = val(res, 0, 1),
                           .key = val(res, 0, 2), .model_version = val(res, 0, 3),
                           .outputs = val(res, 0, 4), .scored_at = val(res, 0, 6),
                           .source = "stream"};
        fn(ctx, &row, val(res, 0, 5));
    }
    PQclear(res);
    return MS_OK;
}

/* ==== latest: batch or stream, whichever was scored later ================================= */

/* One statement, one snapshot: per key the published run's row and the stream's latest, the
 * later scored first (a tie goes to the stream). */
static const char *LATEST_SQL =
    "SELECT DISTINCT ON (key) key, src, outputs, model_version, run_id, event_id, "
    ISO("scored_at") " FROM ("
    " SELECT p.key, 'batch' AS src, p.outputs, p.model_version, p.run_id, NULL::text AS event_id,"
    " p.scored_at, 0 AS pri FROM mlship_published pub JOIN mlship_predictions p"
    " ON p.model = pub.model AND p.run_id = pub.run_id"
    " WHERE pub.model = $1 AND p.key = ANY($2::text[])"
    " UNION ALL"
    " SELECT l.key, 'stream', l.outputs, l.model_version, NULL, l.event_id, l.scored_at, 1"
    " FROM mlship_stream_latest l WHERE l.model = $1 AND l.key = ANY($2::text[])"
    ") u ORDER BY key, scored_at DESC, pri DESC";

ms_status pg_pred_latest(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = pg_runs_ready(s, err);
    if (st == MS_OK) st = stream_ready(s, err);
    if (st != MS_OK) return st;
    st_sb arr = {0};
    pg_array_lit(&arr, keys, nkeys);
    if (arr.oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    const char *p[2] = {model, arr.p};
    PGresult *res;
    st = pg_q(s, LATEST_SQL, 2, p, &res, err);
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
            st_pred_row row = {.key = keys[i], .model = model, .source = val(res, r, 1),
                               .outputs = val(res, r, 2), .model_version = val(res, r, 3),
                               .run_id = val(res, r, 4), .event_id = val(res, r, 5),
                               .scored_at = val(res, r, 6)};
            stop = fn(ctx, i, &row);
        }
        if (stop) break;
    }
    free(h.slot);
    PQclear(res);
    return MS_OK;
}

ms_status pg_stream_prune(st_store *base, int64_t cutoff_ms, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    char cut[24];
    snprintf(cut, sizeof cut, "%lld", (long long)cutoff_ms);
    const char *p[1] = {cut};
    ms_status st = stream_ready(s, err);
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK)
        st = pg_q(s, "DELETE FROM mlship_stream_events WHERE scored_ms < $1", 1, p, NULL, err);
    if (st == MS_OK)
        st = pg_q(s, "DELETE FROM mlship_stream_latest WHERE scored_ms < $1", 1, p, NULL, err);
    if (st == MS_OK)
        st = pg_q(s, "DELETE FROM mlship_tickets WHERE created_ms < $1", 1, p, NULL, err);
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    return st;
}

/* ==== tickets =========================================================================== */

#define TICKET_COLS "SELECT ticket, model, key, event_id, created_ms FROM mlship_tickets t "

static void read_ticket(const PGresult *res, st_ticket *t)
{
    st_copy(t->ticket, sizeof t->ticket, PQgetvalue(res, 0, 0));
    st_copy(t->model, sizeof t->model, PQgetvalue(res, 0, 1));
    st_copy(t->key, sizeof t->key, PQgetvalue(res, 0, 2));
    st_copy(t->event_id, sizeof t->event_id, PQgetvalue(res, 0, 3));
    t->created_ms = atoll(PQgetvalue(res, 0, 4));
}

/* Inside the claim's transaction, holding the key's lock: its pending ticket, if any. */
static ms_status pending_ticket(pg_store *s, const st_ticket *fresh, int64_t pending_ms,
                                st_ticket *out, int *found, ms_error *err)
{
    char since[24];
    snprintf(since, sizeof since, "%lld", (long long)(fresh->created_ms - pending_ms));
    const char *p[3] = {fresh->model, fresh->key, since};
    PGresult *res;
    ms_status st = pg_q(s, TICKET_COLS "WHERE t.model = $1 AND t.key = $2 AND t.created_ms > $3"
                           " AND NOT EXISTS (SELECT 1 FROM mlship_stream_events e"
                           " WHERE e.event_id = t.event_id) ORDER BY t.created_ms DESC LIMIT 1",
                        3, p, &res, err);
    if (st != MS_OK) return st;
    *found = PQntuples(res) > 0;
    if (*found) read_ticket(res, out);
    PQclear(res);
    return MS_OK;
}

ms_status pg_ticket_claim(st_store *base, const st_ticket *fresh, int64_t pending_ms,
                          st_ticket *out, int *created, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    int found = 0;
    char ms[24];
    snprintf(ms, sizeof ms, "%lld", (long long)fresh->created_ms);
    const char *lock[2] = {fresh->model, fresh->key};
    const char *ins[5] = {fresh->ticket, fresh->model, fresh->key, fresh->event_id, ms};
    ms_status st = stream_ready(s, err);
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    /* held to the end of the transaction: racing claims of this key wait here, then see the
     * winner's ticket (each statement reads a fresh snapshot in READ COMMITTED) */
    if (st == MS_OK)
        st = pg_q(s, "SELECT pg_advisory_xact_lock(7236452, hashtext($1 || chr(31) || $2))",
                  2, lock, NULL, err);
    if (st == MS_OK) st = pending_ticket(s, fresh, pending_ms, out, &found, err);
    if (st == MS_OK && !found)
        st = pg_q(s, "INSERT INTO mlship_tickets (ticket, model, key, event_id, created_ms)"
                     " VALUES ($1, $2, $3, $4, $5)", 5, ins, NULL, err);
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    if (st == MS_OK && !found) *out = *fresh;
    if (st == MS_OK) *created = !found;
    return st;
}

ms_status pg_ticket_get(st_store *base, const char *ticket, st_ticket *out, int *found,
                        ms_error *err)
{
    pg_store *s = (pg_store *)base;
    const char *p[1] = {ticket};
    PGresult *res;
    ms_status st = stream_ready(s, err);
    if (st == MS_OK) st = pg_q(s, TICKET_COLS "WHERE t.ticket = $1", 1, p, &res, err);
    if (st != MS_OK) return st;
    *found = PQntuples(res) > 0;
    if (*found) read_ticket(res, out);
    PQclear(res);
    return MS_OK;
}

ms_status pg_ticket_drop(st_store *base, const char *ticket, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    const char *p[1] = {ticket};
    ms_status st = stream_ready(s, err);
    if (st == MS_OK) st = pg_q(s, "DELETE FROM mlship_tickets WHERE ticket = $1", 1, p, NULL, err);
    return st;
}

#endif
