/* queue_sqlite.c: the embedded queue backend: one SQLite file in WAL mode with
 * synchronous=FULL, shared by the processes of one machine. Every stream of the queue (events,
 * results, dead letters) is rows of one table, mlship_queue (see docs/queue.md):
 *
 *   seq          INTEGER PRIMARY KEY AUTOINCREMENT: the id and the order (never reused)
 *   stream       the stream's name
 *   body         the fields as one JSON object of string values (queue_body.c)
 *   enq_ms       when it was sent, ms since the epoch
 *   owner        the consumer holding the lease (NULL before the first delivery)
 *   lease_until  ms since the epoch; 0: never delivered
 *   deliveries   how often it was handed out
 *
 * An ack deletes the row (so `length` counts rows not yet acked); a dead letter is a new row
 * of the dead-letter stream, written in the same transaction that deletes the original. A read
 * leases atomically under BEGIN IMMEDIATE (one writer at a time), so two processes never get
 * the same message within its lease. SQLite cannot wait for a writer, so a blocking read polls
 * with a read-only probe (WAL readers take no lock) at 1 to 5 ms intervals.
 *
 * One consumer group per stream: mlship_queue_group records it and a second group is refused
 * (rows carry one lease, not one per group). mlship_queue_consumer keeps when each consumer
 * last read, for qu_status. */
#include "queue/queue_int.h"

#ifndef MS_WITH_SQLITE
#define MS_WITH_SQLITE 1
#endif

#if !MS_WITH_SQLITE

static ms_status sq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    return qu_not_built(err, "SQLite", "WITH_SQLITE", "libsqlite3-dev");
}
static void sq_close_stub(qu_queue *q) {}
const qu_backend_ops qu_sqlite_ops = {.version = QU_OPS_VERSION, .name = "sqlite",
                                      .open = sq_open_stub, .close = sq_close_stub};

#else

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 10000 /* how long a writer waits for another process's transaction */

enum { /* prepared statements, kept for the handle's life */
    S_INSERT,
    S_TRIM,
    S_EXHAUSTED,
    S_TAKE_EXPIRED,
    S_TAKE_NEW,
    S_PROBE,
    S_SEEN,
    S_ACK,
    S_ACKED,
    S_DELETE,
    S_RANGE,
    S_COUNT,
    S_NSTMT
};

static const char *const stmt_sql[S_NSTMT] = {
    [S_INSERT] = "INSERT INTO mlship_queue(stream, body, enq_ms) VALUES (?1, ?2, ?3)",
    [S_TRIM] = "DELETE FROM mlship_queue WHERE stream = ?1 AND seq <= (SELECT seq FROM "
               "mlship_queue WHERE stream = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
    [S_EXHAUSTED] = "SELECT seq, body, deliveries FROM mlship_queue WHERE stream = ?1 AND "
                    "lease_until BETWEEN 1 AND ?2 AND deliveries >= ?3 ORDER BY seq LIMIT 256",
    [S_TAKE_EXPIRED] = "UPDATE mlship_queue SET owner = ?4, lease_until = ?5, deliveries = "
                       "deliveries + 1 WHERE seq IN (SELECT seq FROM mlship_queue WHERE stream "
                       "= ?1 AND lease_until BETWEEN 1 AND ?2 ORDER BY seq LIMIT ?3) "
                       "RETURNING seq, body, enq_ms, deliveries",
    [S_TAKE_NEW] = "UPDATE mlship_queue SET owner = ?4, lease_until = ?5, deliveries = 1 "
                   "WHERE seq IN (SELECT seq FROM mlship_queue WHERE stream = ?1 AND "
                   "lease_until = 0 ORDER BY seq LIMIT ?3) "
                   "RETURNING seq, body, enq_ms, deliveries",
    [S_PROBE] = "SELECT 1 FROM mlship_queue WHERE stream = ?1 AND lease_until <= ?2 LIMIT 1",
    [S_SEEN] = "INSERT INTO mlship_queue_consumer(stream, name, seen_ms) VALUES (?1, ?2, ?3) "
               "ON CONFLICT(stream, name) DO UPDATE SET seen_ms = excluded.seen_ms",
    [S_ACK] = "DELETE FROM mlship_queue WHERE stream = ?1 AND seq = ?2",
    [S_ACKED] = "UPDATE mlship_queue_group SET acked = acked + ?2 WHERE stream = ?1",
    [S_DELETE] = "DELETE FROM mlship_queue WHERE seq = ?1",
    [S_RANGE] = "SELECT seq, body, enq_ms FROM mlship_queue WHERE stream = ?1 AND seq > ?2 "
                "ORDER BY seq LIMIT ?3",
    [S_COUNT] = "SELECT count(*), coalesce(sum(lease_until > 0), 0), "
                "coalesce(sum(lease_until = 0), 0), min(enq_ms) FROM mlship_queue "
                "WHERE stream = ?1",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS mlship_queue(seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "stream TEXT NOT NULL, body TEXT NOT NULL, enq_ms INTEGER NOT NULL, owner TEXT, "
    "lease_until INTEGER NOT NULL DEFAULT 0, deliveries INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS mlship_queue_avail ON mlship_queue(stream, lease_until, seq);"
    "CREATE INDEX IF NOT EXISTS mlship_queue_order ON mlship_queue(stream, seq);"
    "CREATE TABLE IF NOT EXISTS mlship_queue_group(stream TEXT PRIMARY KEY, grp TEXT NOT NULL, "
    "acked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS mlship_queue_consumer(stream TEXT NOT NULL, name TEXT NOT NULL, "
    "seen_ms INTEGER NOT NULL, PRIMARY KEY(stream, name)) WITHOUT ROWID;";

typedef struct sq_queue {
    qu_queue base;
    sqlite3 *db;
    sqlite3_stmt *st[S_NSTMT];
} sq_queue;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ms_status sq_err(sq_queue *q, ms_error *err, const char *what)
{
    return bs_fail(err, MS_ERR_RUNTIME, "queue %s (stream %s): %s: %s", q->base.cfg.shown,
                   q->base.cfg.stream, what, q->db ? sqlite3_errmsg(q->db) : "out of memory");
}

static sqlite3_stmt *stmt(sq_queue *q, int i, ms_error *err)
{
    if (!q->st[i] &&
        sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL)) {
        sq_err(q, err, "prepare");
        return NULL;
    }
    sqlite3_reset(q->st[i]);
    sqlite3_clear_bindings(q->st[i]);
    return q->st[i];
}

static ms_status exec(sq_queue *q, const char *sql, ms_error *err)
{
    return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? MS_OK : sq_err(q, err, sql);
}

static ms_status begin(sq_queue *q, ms_error *err) { return exec(q, "BEGIN IMMEDIATE", err); }

/* COMMIT when st is MS_OK, else ROLLBACK; returns the final status. */
static ms_status finish(sq_queue *q, ms_status st, ms_error *err)
{
    if (st == MS_OK) {
        st = exec(q, "COMMIT", err);
        if (st == MS_OK) return MS_OK;
    }
    if (!sqlite3_get_autocommit(q->db)) sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

/* Runs a statement that returns no rows to completion. */
static ms_status run(sq_queue *q, sqlite3_stmt *s, const char *what, ms_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? MS_OK : sq_err(q, err, what);
}

/* A row id as given by the caller: a positive decimal integer, else -1. */
static int64_t parse_seq(const char *id)
{
    if (!*id || strlen(id) > 18) return -1;
    int64_t v = 0;
    for (const char *p = id; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    return v > 0 ? v : -1;
}

/* ==== open / close ====================================================================== */

/* Waits for another process's write transaction in steps of 1 ms. SQLite's own busy timeout
 * backs off to 100 ms sleeps, so a worker that waited once keeps losing the lock to one that
 * reads again at once: with short even steps, workers sharing a file take turns. */
static int busy_wait(void *ctx, int count)
{
    if (count >= BUSY_TIMEOUT_MS) return 0;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    return 1;
}

static void sq_close(qu_queue *base)
{
    sq_queue *q = (sq_queue *)base;
    for (int i = 0; i < S_NSTMT; i++) sqlite3_finalize(q->st[i]);
    sqlite3_close(q->db);
    free(q);
}

/* Records the stream's group, or refuses a second one. */
static ms_status claim_group(sq_queue *q, ms_error *err)
{
    sqlite3_stmt *s = NULL;
    ms_status st = begin(q, err);
    if (st != MS_OK) return st;
    if (sqlite3_prepare_v2(q->db,
                           "INSERT INTO mlship_queue_group(stream, grp) VALUES (?1, ?2) "
                           "ON CONFLICT(stream) DO UPDATE SET grp = grp RETURNING grp",
                           -1, &s, NULL) != SQLITE_OK)
        return finish(q, sq_err(q, err, "group"), err);
    sqlite3_bind_text(s, 1, q->base.cfg.stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, q->base.cfg.group, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW) st = sq_err(q, err, "group");
    else if (strcmp((const char *)sqlite3_column_text(s, 0), q->base.cfg.group) != 0)
        st = bs_fail(err, MS_ERR_INVALID,
                     "queue %s: stream '%s' is consumed by group '%s', not '%s' (a SQLite "
                     "queue has one group per stream; use another stream or Redis)",
                     q->base.cfg.shown, q->base.cfg.stream, sqlite3_column_text(s, 0),
                     q->base.cfg.group);
    sqlite3_finalize(s);
    return finish(q, st, err);
}

static ms_status sq_open(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    sq_queue *q = calloc(1, sizeof *q);
    if (!q) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    q->base.ops = &qu_sqlite_ops;
    q->base.cfg = *cfg;
    ms_status st = MS_OK;
    if (sqlite3_open_v2(u->path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        st = sq_err(q, err, "cannot open the queue file");
    if (st == MS_OK) {
        sqlite3_busy_handler(q->db, busy_wait, NULL);
        st = exec(q, "PRAGMA journal_mode=WAL", err);
    }
    if (st == MS_OK) st = exec(q, "PRAGMA synchronous=FULL", err);
    if (st == MS_OK) st = exec(q, schema, err);
    if (st == MS_OK) st = claim_group(q, err);
    if (st != MS_OK) {
        sq_close(&q->base);
        return st;
    }
    *out = &q->base;
    return MS_OK;
}

/* ==== producing ========================================================================= */

/* One INSERT per message (ids: the new row numbers), in the caller's transaction. */
static ms_status insert(sq_queue *q, const char *stream, const qu_field *fields, int nfields,
                        char *id, ms_error *err)
{
    qu_sb body = {0};
    qu_body_encode(&body, fields, nfields);
    if (body.oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    sqlite3_stmt *s = stmt(q, S_INSERT, err);
    ms_status st = s ? MS_OK : MS_ERR_RUNTIME;
    if (s) {
        sqlite3_bind_text(s, 1, stream, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, body.p, (int)body.len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now_ms());
        st = run(q, s, "send", err);
    }
    if (st == MS_OK && id)
        snprintf(id, QU_ID_MAX, "%lld", (long long)sqlite3_last_insert_rowid(q->db));
    qu_sb_free(&body);
    return st;
}

static ms_status sq_send(qu_queue *base, const char *stream, const qu_field *const *msgs,
                         const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                         ms_error *err)
{
    sq_queue *q = (sq_queue *)base;
    ms_status st = begin(q, err);
    if (st != MS_OK) return st;
    for (size_t i = 0; i < n && st == MS_OK; i++)
        st = insert(q, stream, msgs[i], nfields[i], ids ? ids[i] : NULL, err);
    if (st == MS_OK && maxlen > 0) {
        sqlite3_stmt *s = stmt(q, S_TRIM, err);
        if (!s) st = MS_ERR_RUNTIME;
        else {
            sqlite3_bind_text(s, 1, stream, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, maxlen);
            st = run(q, s, "trim", err);
        }
    }
    return finish(q, st, err);
}

/* ==== dead letters ====================================================================== */

/* Row `seq` moves to the dead-letter stream with `fields` and the three dead-letter fields. */
static ms_status move_dead(sq_queue *q, const qu_msg *m, int64_t seq, const char *reason,
                           ms_error *err)
{
    qu_field *f = malloc(((size_t)m->nfields + 3) * sizeof *f);
    if (!f) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    char num[QU_ID_MAX];
    int nf = qu_dead_fields(m, reason, num, f);
    ms_status st = insert(q, q->base.cfg.dead, f, nf, NULL, err);
    free(f);
    sqlite3_stmt *s = st == MS_OK ? stmt(q, S_DELETE, err) : NULL;
    if (st == MS_OK && !s) st = MS_ERR_RUNTIME;
    if (s) {
        sqlite3_bind_int64(s, 1, seq);
        st = run(q, s, "dead letter", err);
    }
    return st;
}

/* Dead-letters row seq whose body is `body`; one that does not decode keeps it whole in a
 * "body" field, so a row written by something else cannot block the queue. */
static ms_status dead_row(sq_queue *q, int64_t seq, const char *body, int64_t deliveries,
                          const char *reason, ms_error *err)
{
    qu_batch tmp = {0};
    qu_msg *m = NULL;
    ms_error derr;
    char why[sizeof derr.msg];
    if (qu_body_decode(body, strlen(body), &tmp, &m, &derr) != MS_OK) {
        qu_field f = {"body", 4, body, strlen(body)};
        if (!(m = qu_batch_add(&tmp, &f, 1))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        snprintf(why, sizeof why, "%s", derr.msg);
        reason = why;
    }
    snprintf(m->id, QU_ID_MAX, "%lld", (long long)seq);
    m->deliveries = deliveries;
    ms_status st = move_dead(q, m, seq, reason, err);
    qu_batch_free(&tmp);
    return st;
}

static ms_status sq_dead(qu_queue *base, const qu_msg *m, const char *reason, ms_error *err)
{
    sq_queue *q = (sq_queue *)base;
    int64_t seq = parse_seq(m->id);
    if (seq < 0)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: '%s' is not a SQLite message id",
                       base->cfg.shown, m->id);
    ms_status st = begin(q, err);
    if (st == MS_OK) st = move_dead(q, m, seq, reason, err);
    return finish(q, st, err);
}

/* Messages whose lease expired and that were delivered max_deliveries times already. */
static ms_status dead_exhausted(sq_queue *q, int64_t now, ms_error *err)
{
    for (;;) {
        sqlite3_stmt *s = stmt(q, S_EXHAUSTED, err);
        if (!s) return MS_ERR_RUNTIME;
        sqlite3_bind_text(s, 1, q->base.cfg.stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, now);
        sqlite3_bind_int(s, 3, q->base.cfg.max_deliveries);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) return MS_OK;
        if (rc != SQLITE_ROW) return sq_err(q, err, "read");
        int64_t seq = sqlite3_column_int64(s, 0), deliveries = sqlite3_column_int64(s, 2);
        char *body = strdup((const char *)sqlite3_column_text(s, 1));
        sqlite3_reset(s);
        if (!body) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        char reason[64];
        snprintf(reason, sizeof reason, "delivered %lld time%s", (long long)deliveries, deliveries == 1 ? "" : "s");
        ms_status st = dead_row(q, seq, body, deliveries, reason, err);
        free(body);
        if (st != MS_OK) return st;
    }
}

/* ==== consuming ========================================================================= */

static int by_order(const void *a, const void *b)
{
    const qu_msg *x = a, *y = b;
    return (x->order > y->order) - (x->order < y->order);
}

/* Leases up to `max` rows with statement `which` into b, expired or new. Rows whose body does
 * not decode are dead-lettered after the statement ends. */
static ms_status take(sq_queue *q, int which, size_t max, int64_t now, qu_batch *b,
                      ms_error *err)
{
    sqlite3_stmt *s = stmt(q, which, err);
    if (!s) return MS_ERR_RUNTIME;
    sqlite3_bind_text(s, 1, q->base.cfg.stream, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, (int64_t)max);
    sqlite3_bind_text(s, 4, q->base.cfg.consumer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now + q->base.cfg.lease_ms);
    size_t first = b->n;
    int64_t bad[16];
    size_t nbad = 0;
    int rc = SQLITE_DONE;
    ms_status st = MS_OK;
    while (st == MS_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        qu_msg *m = NULL;
        ms_error derr;
        const char *body = (const char *)sqlite3_column_text(s, 1);
        int64_t seq = sqlite3_column_int64(s, 0);
        ms_status ds = qu_body_decode(body, (size_t)sqlite3_column_bytes(s, 1), b, &m, &derr);
        if (ds == MS_ERR_INVALID && nbad < 16) {
            bad[nbad++] = seq;
            continue;
        }
        if (ds != MS_OK) st = bs_fail(err, ds, "queue %s: message %lld: %s", q->base.cfg.shown,
                                      (long long)seq, derr.msg);
        else {
            snprintf(m->id, QU_ID_MAX, "%lld", (long long)seq);
            m->order = seq;
            m->enq_ms = sqlite3_column_int64(s, 2);
            m->deliveries = sqlite3_column_int64(s, 3);
        }
    }
    if (st == MS_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) st = sq_err(q, err, "read");
    sqlite3_reset(s);
    if (b->n > first) /* RETURNING hands rows out in any order */
        qsort(b->msgs + first, b->n - first, sizeof *b->msgs, by_order);
    for (size_t i = 0; i < nbad && st == MS_OK; i++) {
        /* the body is read again: the RETURNING row is gone once the statement is reset */
        sqlite3_stmt *r;
        if (sqlite3_prepare_v2(q->db, "SELECT body, deliveries FROM mlship_queue WHERE seq = ?1",
                               -1, &r, NULL) != SQLITE_OK)
            return sq_err(q, err, "read");
        sqlite3_bind_int64(r, 1, bad[i]);
        if (sqlite3_step(r) == SQLITE_ROW)
            st = dead_row(q, bad[i], (const char *)sqlite3_column_text(r, 0),
                          sqlite3_column_int64(r, 1), "bad body", err);
        sqlite3_finalize(r);
    }
    return st;
}

/* One leasing transaction: exhausted messages dead-lettered, expired ones taken over, then
 * new ones, and this consumer's last-seen time. */
static ms_status read_once(sq_queue *q, size_t max, qu_batch *b, ms_error *err)
{
    int64_t now = now_ms();
    ms_status st = begin(q, err);
    if (st != MS_OK) return st;
    st = dead_exhausted(q, now, err);
    if (st == MS_OK) st = take(q, S_TAKE_EXPIRED, max, now, b, err);
    if (st == MS_OK && b->n < max) st = take(q, S_TAKE_NEW, max - b->n, now, b, err);
    sqlite3_stmt *s = st == MS_OK ? stmt(q, S_SEEN, err) : NULL;
    if (st == MS_OK && !s) st = MS_ERR_RUNTIME;
    if (s) {
        sqlite3_bind_text(s, 1, q->base.cfg.stream, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, q->base.cfg.consumer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now);
        st = run(q, s, "read", err);
    }
    return finish(q, st, err);
}

/* 1 when a message is there to lease (read-only: a WAL reader waits for nobody). */
static int probe(sq_queue *q, ms_error *err)
{
    sqlite3_stmt *s = stmt(q, S_PROBE, err);
    if (!s) return -1;
    sqlite3_bind_text(s, 1, q->base.cfg.stream, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms());
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    sq_err(q, err, "read");
    return -1;
}

static ms_status sq_read(qu_queue *base, size_t max, int block_ms, qu_batch *b, ms_error *err)
{
    sq_queue *q = (sq_queue *)base;
    int64_t deadline = now_ms() + block_ms;
    ms_status st = read_once(q, max, b, err);
    long wait_us = 1000;
    while (st == MS_OK && b->n == 0 && now_ms() < deadline) {
        struct timespec ts = {0, wait_us * 1000};
        nanosleep(&ts, NULL);
        if (wait_us < 5000) wait_us += 1000;
        int r = probe(q, err);
        if (r < 0) st = MS_ERR_RUNTIME;
        else if (r) st = read_once(q, max, b, err);
    }
    return st;
}

static ms_status sq_ack(qu_queue *base, const char *const *ids, size_t n, ms_error *err)
{
    sq_queue *q = (sq_queue *)base;
    for (size_t i = 0; i < n; i++)
        if (parse_seq(ids[i]) < 0)
            return bs_fail(err, MS_ERR_INVALID, "queue %s: '%s' is not a SQLite message id",
                           base->cfg.shown, ids[i]);
    ms_status st = begin(q, err);
    int64_t acked = 0;
    for (size_t i = 0; i < n && st == MS_OK; i++) {
        sqlite3_stmt *s = stmt(q, S_ACK, err);
        if (!s) st = MS_ERR_RUNTIME;
        else {
            sqlite3_bind_text(s, 1, base->cfg.stream, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, parse_seq(ids[i]));
            st = run(q, s, "ack", err);
            acked += sqlite3_changes(q->db);
        }
    }
    sqlite3_stmt *s = st == MS_OK ? stmt(q, S_ACKED, err) : NULL;
    if (st == MS_OK && !s) st = MS_ERR_RUNTIME;
    if (s) {
        sqlite3_bind_text(s, 1, base->cfg.stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, acked);
        st = run(q, s, "ack", err);
    }
    return finish(q, st, err);
}

/* ==== status and range ================================================================== */

static ms_status count_stream(sq_queue *q, const char *stream, qu_stats *out, int64_t now,
                              ms_error *err)
{
    sqlite3_stmt *s = stmt(q, S_COUNT, err);
    if (!s) return MS_ERR_RUNTIME;
    sqlite3_bind_text(s, 1, stream, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW) return sq_err(q, err, "status");
    out->length = sqlite3_column_int64(s, 0);
    out->pending = sqlite3_column_int64(s, 1);
    out->lag = sqlite3_column_int64(s, 2);
    out->oldest_age_ms = sqlite3_column_type(s, 3) == SQLITE_NULL
                             ? 0
                             : now - sqlite3_column_int64(s, 3);
    if (out->oldest_age_ms < 0) out->oldest_age_ms = 0;
    sqlite3_reset(s);
    return MS_OK;
}

static ms_status list_consumers(sq_queue *q, qu_stats *st, int64_t now, ms_error *err)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db,
                           "SELECT c.name, c.seen_ms, (SELECT count(*) FROM mlship_queue m "
                           "WHERE m.stream = c.stream AND m.owner = c.name AND m.lease_until > 0)"
                           " FROM mlship_queue_consumer c WHERE c.stream = ?1 ORDER BY c.name",
                           -1, &s, NULL) != SQLITE_OK)
        return sq_err(q, err, "status");
    sqlite3_bind_text(s, 1, q->base.cfg.stream, -1, SQLITE_STATIC);
    ms_status rs = MS_OK;
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        qu_consumer_stat *c = realloc(st->consumers, (st->nconsumers + 1) * sizeof *c);
        if (!c) {
            rs = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            break;
        }
        st->consumers = c;
        c += st->nconsumers++;
        snprintf(c->name, sizeof c->name, "%s", (const char *)sqlite3_column_text(s, 0));
        c->idle_ms = now - sqlite3_column_int64(s, 1);
        if (c->idle_ms < 0) c->idle_ms = 0;
        c->pending = sqlite3_column_int64(s, 2);
    }
    if (rs == MS_OK && rc != SQLITE_DONE) rs = sq_err(q, err, "status");
    sqlite3_finalize(s);
    return rs;
}

static ms_status sq_status(qu_queue *base, qu_stats *st, ms_error *err)
{
    sq_queue *q = (sq_queue *)base;
    int64_t now = now_ms();
    ms_status rs = exec(q, "BEGIN", err); /* one snapshot for every number */
    qu_stats dead = {0};
    if (rs == MS_OK) rs = count_stream(q, base->cfg.stream, st, now, err);
    if (rs == MS_OK) rs = count_stream(q, base->cfg.dead, &dead, now, err);
    st->dead = dead.length;
    if (rs == MS_OK) rs = list_consumers(q, st, now, err);
    return finish(q, rs, err);
}

static ms_status sq_range(qu_queue *base, const char *stream, const char *after, size_t max,
                          qu_batch *b, ms_error *err)
{
    sq_queue *q = (sq_queue *)base;
    int64_t from = *after ? parse_seq(after) : 0;
    if (from < 0)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: '%s' is not a SQLite message id",
                       base->cfg.shown, after);
    sqlite3_stmt *s = stmt(q, S_RANGE, err);
    if (!s) return MS_ERR_RUNTIME;
    sqlite3_bind_text(s, 1, stream, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, (int64_t)max);
    ms_status st = MS_OK;
    int rc = SQLITE_DONE;
    while (st == MS_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        qu_msg *m;
        ms_error derr;
        int64_t seq = sqlite3_column_int64(s, 0);
        st = qu_body_decode((const char *)sqlite3_column_text(s, 1),
                            (size_t)sqlite3_column_bytes(s, 1), b, &m, &derr);
        if (st != MS_OK) {
            bs_fail(err, st, "queue %s: stream '%s' message %lld: %s", base->cfg.shown, stream,
                    (long long)seq, derr.msg);
            break;
        }
        snprintf(m->id, QU_ID_MAX, "%lld", (long long)seq);
        m->order = seq;
        m->enq_ms = sqlite3_column_int64(s, 2);
    }
    if (st == MS_OK && rc != SQLITE_DONE) st = sq_err(q, err, "range");
    sqlite3_reset(s);
    return st;
}

const qu_backend_ops qu_sqlite_ops = {
    .version = QU_OPS_VERSION,
    .name = "sqlite",
    .caps = QU_CAP_TRIM, /* polls, one machine, no replay; maxlen trims exactly */
    .open = sq_open,
    .close = sq_close,
    .send = sq_send,
    .read = sq_read,
    .ack = sq_ack,
    .dead = sq_dead,
    .status = sq_status,
    .range = sq_range,
};

#endif
