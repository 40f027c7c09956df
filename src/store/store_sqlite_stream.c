/* store_sqlite_stream.c: the SQLite backend's stream results and tickets (store.h, "stream
 * results and tickets"); the connection and helpers are store_sqlite.c's, the batch lookups
 * store_sqlite_runs.c's (shared through store_sqlite_int.h).
 *
 * Tables, created on first use: mlship_stream_events (one row per event id, errors included),
 * mlship_stream_latest (one row per (model, key): the highest-order result) and mlship_tickets.
 * Every write is one BEGIN IMMEDIATE transaction, which is also what makes a ticket claim
 * atomic across processes sharing the file. Times: scored_at to the second (as batch rows),
 * scored_ms / created_ms in milliseconds from this process's clock. */
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

static const char *STREAM_SCHEMA =
    "CREATE TABLE IF NOT EXISTS mlship_stream_events ("
    " event_id TEXT PRIMARY KEY NOT NULL, model TEXT NOT NULL, key TEXT NOT NULL,"
    " model_version TEXT NOT NULL, outputs TEXT, error TEXT, ord INTEGER NOT NULL,"
    " scored_at TEXT NOT NULL, scored_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mlship_stream_events_ms ON mlship_stream_events (scored_ms);"
    "CREATE TABLE IF NOT EXISTS mlship_stream_latest ("
    " model TEXT NOT NULL, key TEXT NOT NULL, event_id TEXT NOT NULL,"
    " model_version TEXT NOT NULL, outputs TEXT NOT NULL, ord INTEGER NOT NULL,"
    " scored_at TEXT NOT NULL, scored_ms INTEGER NOT NULL, PRIMARY KEY (model, key));"
    "CREATE TABLE IF NOT EXISTS mlship_tickets ("
    " ticket TEXT PRIMARY KEY NOT NULL, model TEXT NOT NULL, key TEXT NOT NULL,"
    " event_id TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mlship_tickets_key ON mlship_tickets (model, key, created_ms);";

/* The stream tables exist; a read-only handle only looks (no_stream: nothing to read yet, so
 * it looks again next time). Outside a transaction only. */
static ms_status stream_ready(sq_store *s, ms_error *err)
{
    if (s->stream_ready) return MS_OK;
    ms_status r;
    if (s->readonly) {
        sqlite3_stmt *st = NULL;
        r = sq_prep(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                       " ('mlship_stream_events', 'mlship_stream_latest', 'mlship_tickets')",
                    &st, err);
        if (r != MS_OK) return r;
        if (sqlite3_step(st) == SQLITE_ROW) s->no_stream = sqlite3_column_int(st, 0) < 3;
        else r = sq_err(s, err, "stream schema");
        sqlite3_finalize(st);
        if (r == MS_OK && !s->no_stream) s->stream_ready = 1;
        return r;
    }
    r = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (r == MS_OK) r = sq_exec(s, STREAM_SCHEMA, err);
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    if (r == MS_OK) s->stream_ready = 1;
    return r;
}

static const char *col(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }

/* ==== results =========================================================================== */

/* One row: the event (kept as it is when already stored), then, for a scored event just
 * stored, the key's latest row where this one's order is higher. */
static ms_status put_row(sq_store *s, sqlite3_stmt *ins_ev, sqlite3_stmt *ins_latest,
                         const st_stream_row *row, const char *now, int64_t now_ms,
                         ms_error *err)
{
    const char *version = row->model_version ? row->model_version : "";
    sq_bind(ins_ev, "ssssssisi", row->event_id, row->model, row->key, version, row->outputs,
            row->error, row->order, now, now_ms);
    ms_status r = sq_done(s, ins_ev, "store stream result", err);
    if (r != MS_OK || sqlite3_changes(s->db) == 0 || row->error) return r; /* redelivered */
    sq_bind(ins_latest, "sssssisi", row->model, row->key, row->event_id, version, row->outputs,
            row->order, now, now_ms);
    return sq_done(s, ins_latest, "store latest result", err);
}

ms_status sq_stream_put(st_store *base, const st_stream_row *rows, size_t n, int64_t ttl_s,
                        int64_t now_ms, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *ins_ev = NULL, *ins_latest = NULL;
    char now[BS_ISO_CAP];
    bs_iso_utc((time_t)(now_ms / 1000), now);
    ms_status r = stream_ready(s, err);
    if (r == MS_OK)
        r = sq_prep(s, "INSERT INTO mlship_stream_events (event_id, model, key, model_version,"
                       " outputs, error, ord, scored_at, scored_ms) VALUES (?, ?, ?, ?, ?, ?, ?,"
                       " ?, ?) ON CONFLICT (event_id) DO NOTHING", &ins_ev, err);
    if (r == MS_OK)
        r = sq_prep(s, "INSERT INTO mlship_stream_latest (model, key, event_id, model_version,"
                       " outputs, ord, scored_at, scored_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT (model, key) DO UPDATE SET event_id = excluded.event_id,"
                       " model_version = excluded.model_version, outputs = excluded.outputs,"
                       " ord = excluded.ord, scored_at = excluded.scored_at,"
                       " scored_ms = excluded.scored_ms WHERE excluded.ord > mlship_stream_latest.ord",
                    &ins_latest, err);
    if (r == MS_OK) r = sq_exec(s, "BEGIN IMMEDIATE", err);
    for (size_t i = 0; i < n && r == MS_OK; i++)
        r = put_row(s, ins_ev, ins_latest, &rows[i], now, now_ms, err);
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    sqlite3_finalize(ins_ev);
    sqlite3_finalize(ins_latest);
    return r;
}

ms_status sq_stream_event(st_store *base, const char *event_id, st_event_fn fn, void *ctx,
                          ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = stream_ready(s, err);
    if (r != MS_OK) return r;
    if (s->no_stream) {
        fn(ctx, NULL, NULL);
        return MS_OK;
    }
    sqlite3_stmt *st = NULL;
    if ((r = sq_prep(s, "SELECT event_id, model, key, model_version, outputs, error, scored_at"
                        " FROM mlship_stream_events WHERE event_id = ?1", &st, err)) != MS_OK)
        return r;
    sqlite3_bind_text(st, 1, event_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        st_pred_row row = {.event_id = col(st, 0), .model = col(st, 1), .key = col(st, 2),
                           .model_version = col(st, 3), .outputs = col(st, 4),
                           .scored_at = col(st, 6), .source = "stream"};
        fn(ctx, &row, col(st, 5));
    } else if (rc == SQLITE_DONE) {
        fn(ctx, NULL, NULL);
    } else {
        r = sq_err(s, err, "stream result");
    }
    sqlite3_finalize(st);
    return r;
}

/* ==== latest: batch or stream, whichever was scored later ================================= */

typedef struct latest_ctx {
    sq_store *s;
    sqlite3_stmt *st; /* the stream row of one key; NULL: no stream tables */
    const char *model;
    const char *const *keys;
    st_pred_fn fn;
    void *ctx;
    ms_status r;
    ms_error *err;
} latest_ctx;

/* Called by sq_pred_lookup per key with the batch row (or NULL). Times compare as ISO text;
 * batch rows carry seconds only, so within one second the stream row wins (it answers a
 * trigger; a batch run that finished in that same second most likely scored the key earlier). */
static int latest_one(void *p, size_t i, const st_pred_row *batch)
{
    latest_ctx *c = p;
    if (!c->st) return c->fn(c->ctx, i, batch);
    sqlite3_reset(c->st);
    sqlite3_bind_text(c->st, 1, c->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->st, 2, c->keys[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(c->st), stop;
    if (rc == SQLITE_ROW && (!batch || strcmp(col(c->st, 3), batch->scored_at) >= 0)) {
        st_pred_row row = {.key = c->keys[i], .model = c->model, .event_id = col(c->st, 0),
                           .model_version = col(c->st, 1), .outputs = col(c->st, 2),
                           .scored_at = col(c->st, 3), .source = "stream"};
        stop = c->fn(c->ctx, i, &row);
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        stop = c->fn(c->ctx, i, batch);
    } else {
        c->r = sq_err(c->s, c->err, "latest stream result");
        stop = 1;
    }
    sqlite3_reset(c->st);
    return stop;
}

ms_status sq_pred_latest(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = sq_runs_ready(s, err);
    if (r == MS_OK) r = stream_ready(s, err);
    if (r != MS_OK) return r;
    latest_ctx c = {s, NULL, model, keys, fn, ctx, MS_OK, err};
    if (!s->no_stream &&
        (r = sq_prep(s, "SELECT event_id, model_version, outputs, scored_at FROM"
                        " mlship_stream_latest WHERE model = ?1 AND key = ?2", &c.st, err)) != MS_OK)
        return r;
    /* one read transaction: the batch rows and the stream rows from the same snapshot */
    r = sq_exec(s, "BEGIN", err);
    if (r == MS_OK) r = sq_pred_lookup(base, model, keys, nkeys, latest_one, &c, err);
    if (r == MS_OK) r = c.r;
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(c.st);
    return r;
}

ms_status sq_stream_prune(st_store *base, int64_t cutoff_ms, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = stream_ready(s, err);
    if (r == MS_OK) r = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (r == MS_OK)
        r = sq_run(s, "DELETE FROM mlship_stream_events WHERE scored_ms < ?1", "i", err, cutoff_ms);
    if (r == MS_OK)
        r = sq_run(s, "DELETE FROM mlship_stream_latest WHERE scored_ms < ?1", "i", err, cutoff_ms);
    if (r == MS_OK)
        r = sq_run(s, "DELETE FROM mlship_tickets WHERE created_ms < ?1", "i", err, cutoff_ms);
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    return r;
}

/* ==== tickets =========================================================================== */

#define TICKET_COLS "SELECT ticket, model, key, event_id, created_ms FROM mlship_tickets t "

static void read_ticket(sqlite3_stmt *st, st_ticket *t)
{
    st_copy(t->ticket, sizeof t->ticket, col(st, 0));
    st_copy(t->model, sizeof t->model, col(st, 1));
    st_copy(t->key, sizeof t->key, col(st, 2));
    st_copy(t->event_id, sizeof t->event_id, col(st, 3));
    t->created_ms = sqlite3_column_int64(st, 4);
}

/* Inside the claim's transaction: the key's pending ticket, if any. */
static ms_status pending_ticket(sq_store *s, const st_ticket *fresh, int64_t pending_ms,
                                st_ticket *out, int *found, ms_error *err)
{
    sqlite3_stmt *st = NULL;
    ms_status r = sq_prep(s, TICKET_COLS "WHERE t.model = ?1 AND t.key = ?2 AND t.created_ms > ?3"
                             " AND NOT EXISTS (SELECT 1 FROM mlship_stream_events e"
                             " WHERE e.event_id = t.event_id) ORDER BY t.created_ms DESC LIMIT 1",
                          &st, err);
    if (r != MS_OK) return r;
    sq_bind(st, "ssi", fresh->model, fresh->key, fresh->created_ms - pending_ms);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) read_ticket(st, out);
    else if (rc != SQLITE_DONE) r = sq_err(s, err, "pending ticket");
    sqlite3_finalize(st);
    return r;
}

ms_status sq_ticket_claim(st_store *base, const st_ticket *fresh, int64_t pending_ms,
                          st_ticket *out, int *created, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    int found = 0;
    ms_status r = stream_ready(s, err);
    if (r == MS_OK) r = sq_exec(s, "BEGIN IMMEDIATE", err); /* the write lock: one claimer */
    if (r == MS_OK) r = pending_ticket(s, fresh, pending_ms, out, &found, err);
    if (r == MS_OK && !found)
        r = sq_run(s, "INSERT INTO mlship_tickets (ticket, model, key, event_id, created_ms)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)", "ssssi", err, fresh->ticket, fresh->model,
                   fresh->key, fresh->event_id, fresh->created_ms);
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    if (r == MS_OK && !found) *out = *fresh;
    if (r == MS_OK) *created = !found;
    return r;
}

ms_status sq_ticket_get(st_store *base, const char *ticket, st_ticket *out, int *found,
                        ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = stream_ready(s, err);
    if (r != MS_OK || s->no_stream) return r;
    sqlite3_stmt *st = NULL;
    if ((r = sq_prep(s, TICKET_COLS "WHERE t.ticket = ?1", &st, err)) != MS_OK) return r;
    sqlite3_bind_text(st, 1, ticket, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) read_ticket(st, out);
    else if (rc != SQLITE_DONE) r = sq_err(s, err, "ticket");
    sqlite3_finalize(st);
    return r;
}

ms_status sq_ticket_drop(st_store *base, const char *ticket, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = stream_ready(s, err);
    if (r != MS_OK) return r;
    return sq_run(s, "DELETE FROM mlship_tickets WHERE ticket = ?1", "s", err, ticket);
}

#endif
