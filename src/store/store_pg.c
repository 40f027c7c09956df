/* store_pg.c: the PostgreSQL backend (libpq). The URL goes to libpq unchanged. Features: one
 * prepared `WHERE key = ANY($1)` query per batch of keys; upserts COPY into a temporary
 * staging table and merge with INSERT ... ON CONFLICT at commit, all in one transaction.
 * Predictions: each chunk is COPYed and merged, together with the run's chunk marker, in one
 * transaction; completing shards lock the run's rows so exactly one of them publishes.
 * A handle whose connection dropped reconnects at the start of the next call. */
#include "store/store_int.h"

#include "base/bs_hash.h"

#ifndef MS_WITH_PG
#define MS_WITH_PG 1
#endif

#if !MS_WITH_PG

const int st_pg_built = 0;
static ms_status pg_open_stub(const bs_url *u, int flags, st_store **out, ms_error *err)
{
    return st_not_built(err, "PostgreSQL", "WITH_PG", "libpq-dev");
}
static void pg_close_stub(st_store *s) {}
const st_backend_ops st_pg_ops = {.name = "postgresql", .open = pg_open_stub,
                                  .close = pg_close_stub};

#else

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int st_pg_built = 1;

#define FETCH_CACHE 16

typedef struct pg_store {
    st_store base;
    PGconn *c;
    char where[160]; /* host:port/db, for messages (never the password) */
    int schema_ready, stage_ready;
    struct {
        char *sig;
        unsigned long used;
    } cache[FETCH_CACHE]; /* prepared statements "mlship_fetch_<i>" */
    unsigned long tick;
} pg_store;

typedef struct pg_upsert {
    st_upsert base;
    char *merge;   /* the INSERT ... SELECT run at commit */
    char *analyze; /* ANALYZE "table" */
    st_sb buf;   /* COPY data not yet sent */
} pg_upsert;

/* ==== helpers =========================================================================== */

static ms_status pg_err(pg_store *s, const PGresult *res, ms_error *err, const char *what)
{
    const char *m = res ? PQresultErrorMessage(res) : "";
    if (!m || !*m) m = PQerrorMessage(s->c);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* 42: undefined table/column, syntax; 22: bad data; 23: constraints: the caller's input */
    ms_status st = (state && (strncmp(state, "42", 2) == 0 || strncmp(state, "22", 2) == 0 ||
                              strncmp(state, "23", 2) == 0))
                       ? MS_ERR_INVALID
                       : MS_ERR_RUNTIME;
    char msg[400];
    snprintf(msg, sizeof msg, "%s", m ? m : "unknown error");
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
    for (char *p = msg; *p; p++)
        if (*p == '\n') *p = ' ';
    return bs_fail(err, st, "postgresql store %s: %s: %s", s->where, what, msg);
}

/* Run a statement with text parameters; *out receives the result when wanted (else cleared). */
static ms_status pg_q(pg_store *s, const char *sql, int n, const char *const *params,
                     PGresult **out, ms_error *err)
{
    PGresult *res = PQexecParams(s->c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType t = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        ms_status st = pg_err(s, res, err, sql);
        PQclear(res);
        return st;
    }
    if (out) *out = res;
    else PQclear(res);
    return MS_OK;
}

/* Simple protocol: may hold several statements (the schema script). */
static ms_status pg_exec(pg_store *s, const char *sql, ms_error *err)
{
    PGresult *res = PQexec(s->c, sql);
    ExecStatusType t = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        ms_status st = pg_err(s, res, err, sql);
        PQclear(res);
        return st;
    }
    PQclear(res);
    return MS_OK;
}

static void pg_rollback(pg_store *s)
{
    if (PQtransactionStatus(s->c) != PQTRANS_IDLE) PQclear(PQexec(s->c, "ROLLBACK"));
}

/* Reconnect a dropped connection (server restart, idle timeout) before the next call. */
static ms_status pg_ready(pg_store *s, ms_error *err)
{
    if (PQstatus(s->c) == CONNECTION_OK) return MS_OK;
    PQreset(s->c);
    s->schema_ready = s->stage_ready = 0;
    for (int i = 0; i < FETCH_CACHE; i++) {
        free(s->cache[i].sig);
        s->cache[i].sig = NULL;
        s->cache[i].used = 0;
    }
    if (PQstatus(s->c) != CONNECTION_OK) return pg_err(s, NULL, err, "reconnect");
    return MS_OK;
}

/* COPY text format: escape backslash, tab, newline, carriage return. */
static void copy_text(st_sb *b, const char *v)
{
    const char *run = v;
    for (const char *p = v;; p++) {
        char c = *p, e = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : 0;
        if (!c || e) {
            st_sb_put(b, run, (size_t)(p - run));
            if (!c) break;
            char esc[2] = {'\\', e};
            st_sb_put(b, esc, 2);
            run = p + 1;
        }
    }
}

static ms_status copy_send(pg_store *s, st_sb *b, ms_error *err)
{
    if (b->oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (b->len && PQputCopyData(s->c, b->p, (int)b->len) != 1)
        return pg_err(s, NULL, err, "COPY");
    b->len = 0;
    return MS_OK;
}

/* End a COPY: errmsg NULL to finish, else to abort. */
static ms_status copy_end(pg_store *s, const char *errmsg, ms_error *err)
{
    ms_status st = MS_OK;
    if (PQputCopyEnd(s->c, errmsg) != 1) st = pg_err(s, NULL, err, "COPY end");
    PGresult *res;
    while ((res = PQgetResult(s->c)) != NULL) {
        if (st == MS_OK && !errmsg && PQresultStatus(res) != PGRES_COMMAND_OK)
            st = pg_err(s, res, err, "COPY");
        PQclear(res);
    }
    return st;
}

static ms_status copy_start(pg_store *s, const char *sql, ms_error *err)
{
    PGresult *res = PQexec(s->c, sql);
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        ms_status st = pg_err(s, res, err, sql);
        PQclear(res);
        return st;
    }
    PQclear(res);
    return MS_OK;
}

/* Array literal {"a","b"} for text keys passed as one parameter. */
static void array_lit(st_sb *b, const char *const *keys, size_t n)
{
    st_sb_put(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) st_sb_put(b, ",", 1);
        st_sb_put(b, "\"", 1);
        for (const char *p = keys[i]; *p; p++) {
            if (*p == '"' || *p == '\\') st_sb_put(b, "\\", 1);
            st_sb_put(b, p, 1);
        }
        st_sb_put(b, "\"", 1);
    }
    st_sb_put(b, "}", 1);
}

/* A string -> row index hash over a result's first column (for mapping rows back to keys). */
typedef struct khash {
    int *slot; /* row index, -1 empty */
    size_t mask;
} khash;

static uint64_t fnv(const char *s) { return bs_fnv1a(s, strlen(s), BS_FNV_INIT); }

static int kh_build(khash *h, const PGresult *res)
{
    int n = PQntuples(res);
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    h->slot = malloc(cap * sizeof *h->slot);
    if (!h->slot) return -1;
    h->mask = cap - 1;
    for (size_t i = 0; i < cap; i++) h->slot[i] = -1;
    for (int r = 0; r < n; r++) {
        size_t i = fnv(PQgetvalue(res, r, 0)) & h->mask;
        while (h->slot[i] >= 0) {
            if (strcmp(PQgetvalue(res, h->slot[i], 0), PQgetvalue(res, r, 0)) == 0) break;
            i = (i + 1) & h->mask;
        }
        if (h->slot[i] < 0) h->slot[i] = r; /* first row of a duplicate key wins */
    }
    return 0;
}

static int kh_find(const khash *h, const PGresult *res, const char *key)
{
    size_t i = fnv(key) & h->mask;
    while (h->slot[i] >= 0) {
        if (strcmp(PQgetvalue(res, h->slot[i], 0), key) == 0) return h->slot[i];
        i = (i + 1) & h->mask;
    }
    return -1;
}

/* ==== open / close ====================================================================== */

static void pg_close(st_store *base)
{
    pg_store *s = (pg_store *)base;
    for (int i = 0; i < FETCH_CACHE; i++) free(s->cache[i].sig);
    PQfinish(s->c);
    free(s);
}

static void notice_quiet(void *arg, const char *msg) {} /* "relation exists, skipping" */

static ms_status pg_open(const bs_url *u, int flags, st_store **out, ms_error *err)
{
    pg_store *s = calloc(1, sizeof *s);
    if (!s) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    s->base.ops = &st_pg_ops;
    /* The URL's own settings win over these defaults (expand_dbname processes it in place). */
    const char *kw[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *val[] = {"10", "mlship", u->url, NULL};
    s->c = PQconnectdbParams(kw, val, 1);
    if (!s->c) {
        free(s);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    if (PQstatus(s->c) != CONNECTION_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->c));
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
        for (char *p = msg; *p; p++)
            if (*p == '\n') *p = ' ';
        /* a URL libpq cannot parse is the caller's mistake */
        ms_status st = strstr(msg, "invalid") && !strstr(msg, "password") ? MS_ERR_INVALID
                                                                           : MS_ERR_RUNTIME;
        pg_close(&s->base);
        return bs_fail(err, st, "cannot connect to postgresql store: %s", msg);
    }
    snprintf(s->where, sizeof s->where, "%s:%s/%s", PQhost(s->c), PQport(s->c), PQdb(s->c));
    PQsetNoticeProcessor(s->c, notice_quiet, NULL);
    *out = &s->base;
    return MS_OK;
}

/* ==== features ========================================================================== */

static ms_status fetch_prepare(pg_store *s, const st_features *spec, char name[32],
                               ms_error *err)
{
    st_sb sig = {0};
    st_sb_puts(&sig, spec->table);
    st_sb_put(&sig, "\x1f", 1);
    st_sb_puts(&sig, spec->key);
    for (int i = 0; i < spec->ncolumns; i++) {
        st_sb_put(&sig, "\x1f", 1);
        st_sb_puts(&sig, spec->columns[i]);
    }
    if (sig.oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int victim = 0;
    for (int i = 0; i < FETCH_CACHE; i++) {
        if (s->cache[i].sig && strcmp(s->cache[i].sig, sig.p) == 0) {
            st_sb_free(&sig);
            s->cache[i].used = ++s->tick;
            snprintf(name, 32, "mlship_fetch_%d", i);
            return MS_OK;
        }
        if (s->cache[i].used < s->cache[victim].used) victim = i;
    }
    snprintf(name, 32, "mlship_fetch_%d", victim);
    if (s->cache[victim].sig) {
        char dealloc[64];
        snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", name);
        PQclear(PQexec(s->c, dealloc));
        free(s->cache[victim].sig);
        s->cache[victim].sig = NULL;
    }
    st_sb q = {0};
    st_sb_puts(&q, "SELECT ");
    st_sb_ident(&q, spec->key);
    st_sb_puts(&q, "::text");
    for (int i = 0; i < spec->ncolumns; i++) {
        st_sb_puts(&q, ", ");
        st_sb_ident(&q, spec->columns[i]);
        st_sb_puts(&q, "::text");
    }
    st_sb_puts(&q, " FROM ");
    st_sb_ident(&q, spec->table);
    st_sb_puts(&q, " WHERE ");
    st_sb_ident(&q, spec->key);
    st_sb_puts(&q, " = ANY($1)");
    ms_status st = MS_OK;
    if (q.oom) {
        st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    } else {
        PGresult *res = PQprepare(s->c, name, q.p, 1, NULL);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
            st = pg_err(s, res, err, "features table");
        PQclear(res);
    }
    st_sb_free(&q);
    if (st != MS_OK) {
        st_sb_free(&sig);
        return st;
    }
    s->cache[victim].sig = sig.p;
    s->cache[victim].used = ++s->tick;
    return MS_OK;
}

static ms_status pg_fetch(st_store *base, const st_features *spec, const char *const *keys,
                          size_t nkeys, float *out, uint8_t *found, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    char name[32];
    ms_status st = pg_ready(s, err);
    if (st == MS_OK) st = fetch_prepare(s, spec, name, err);
    if (st != MS_OK) return st;
    st_sb arr = {0};
    array_lit(&arr, keys, nkeys);
    if (arr.oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    const char *params[1] = {arr.p};
    PGresult *res = PQexecPrepared(s->c, name, 1, params, NULL, NULL, 0);
    st_sb_free(&arr);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        st = pg_err(s, res, err, "fetch");
        PQclear(res);
        return st;
    }
    khash h;
    if (kh_build(&h, res) != 0) {
        PQclear(res);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    int nc = spec->ncolumns;
    for (size_t k = 0; k < nkeys && st == MS_OK; k++) {
        int r = kh_find(&h, res, keys[k]);
        if (r < 0) continue;
        float *row = out + k * (size_t)nc;
        for (int c = 0; c < nc; c++) {
            if (PQgetisnull(res, r, c + 1)) {
                row[c] = NAN;
                continue;
            }
            const char *v = PQgetvalue(res, r, c + 1);
            double d;
            if (st_parse_num(v, &d) != 0) {
                st = bs_fail(err, MS_ERR_INVALID,
                             "table '%s', key '%.100s', column '%s': stored value '%.40s' is not "
                             "a number",
                             spec->table, keys[k], spec->columns[c], v);
                break;
            }
            row[c] = (float)d;
        }
        if (st == MS_OK) found[k] = 1;
    }
    free(h.slot);
    PQclear(res);
    return st;
}

static ms_status add_columns(pg_store *s, const st_features *spec, ms_error *err)
{
    st_sb rel = {0};
    st_sb_ident(&rel, spec->table);
    if (rel.oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    const char *p[1] = {rel.p};
    PGresult *res;
    ms_status st = pg_q(s, "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass"
                           " AND attnum > 0 AND NOT attisdropped", 1, p, &res, err);
    st_sb_free(&rel);
    if (st != MS_OK) return st;
    int have_key = 0;
    for (int r = 0; r < PQntuples(res); r++)
        if (strcmp(PQgetvalue(res, r, 0), spec->key) == 0) have_key = 1;
    if (!have_key)
        st = bs_fail(err, MS_ERR_INVALID, "table '%s' exists but has no key column '%s'",
                     spec->table, spec->key);
    for (int i = 0; i < spec->ncolumns && st == MS_OK; i++) {
        int have = 0;
        for (int r = 0; r < PQntuples(res) && !have; r++)
            have = strcmp(PQgetvalue(res, r, 0), spec->columns[i]) == 0;
        if (have) continue;
        st_sb a = {0};
        st_sb_puts(&a, "ALTER TABLE ");
        st_sb_ident(&a, spec->table);
        st_sb_puts(&a, " ADD COLUMN ");
        st_sb_ident(&a, spec->columns[i]);
        st_sb_puts(&a, " double precision");
        st = a.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : pg_exec(s, a.p, err);
        st_sb_free(&a);
    }
    PQclear(res);
    return st;
}

static void pg_upsert_abort(st_upsert *base);

static ms_status pg_upsert_begin(st_store *base, const st_features *spec, st_upsert **out,
                                 ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = pg_ready(s, err);
    if (st != MS_OK) return st;
    pg_upsert *u = calloc(1, sizeof *u);
    if (!u) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    st_sb q = {0}, m = {0}, cols = {0};
    st_sb_ident(&cols, spec->key);
    for (int i = 0; i < spec->ncolumns; i++) {
        st_sb_puts(&cols, ", ");
        st_sb_ident(&cols, spec->columns[i]);
    }
    /* the table, as SQLite's: text key, numeric features; then any missing columns */
    st_sb_puts(&q, "CREATE TABLE IF NOT EXISTS ");
    st_sb_ident(&q, spec->table);
    st_sb_puts(&q, " (");
    st_sb_ident(&q, spec->key);
    st_sb_puts(&q, " text PRIMARY KEY");
    for (int i = 0; i < spec->ncolumns; i++) {
        st_sb_puts(&q, ", ");
        st_sb_ident(&q, spec->columns[i]);
        st_sb_puts(&q, " double precision");
    }
    st_sb_puts(&q, ")");
    /* staging: same columns plus arrival order, so the last duplicate key wins */
    st_sb stage = {0};
    st_sb_puts(&stage, "CREATE TEMP TABLE mlship_upsert_stage ON COMMIT DROP AS SELECT ");
    st_sb_puts(&stage, cols.p);
    st_sb_puts(&stage, " FROM ");
    st_sb_ident(&stage, spec->table);
    st_sb_puts(&stage, " WITH NO DATA; ALTER TABLE mlship_upsert_stage ADD COLUMN mlship_seq "
                       "bigserial;");

    st_sb_puts(&m, "INSERT INTO ");
    st_sb_ident(&m, spec->table);
    st_sb_printf(&m, " (%s) SELECT DISTINCT ON (", cols.p);
    st_sb_ident(&m, spec->key);
    st_sb_printf(&m, ") %s FROM mlship_upsert_stage ORDER BY ", cols.p);
    st_sb_ident(&m, spec->key);
    st_sb_puts(&m, ", mlship_seq DESC ON CONFLICT (");
    st_sb_ident(&m, spec->key);
    if (spec->ncolumns == 0) {
        st_sb_puts(&m, ") DO NOTHING");
    } else {
        st_sb_puts(&m, ") DO UPDATE SET ");
        for (int i = 0; i < spec->ncolumns; i++) {
            if (i) st_sb_puts(&m, ", ");
            st_sb_ident(&m, spec->columns[i]);
            st_sb_puts(&m, " = excluded.");
            st_sb_ident(&m, spec->columns[i]);
        }
    }
    st_sb copy = {0};
    st_sb_printf(&copy, "COPY mlship_upsert_stage (%s) FROM STDIN", cols.p ? cols.p : "");
    if (q.oom || m.oom || cols.oom || copy.oom || stage.oom)
        st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK) st = pg_exec(s, q.p, err);
    /* add missing columns; ALTER TABLE locks out readers until commit, so only when needed */
    if (st == MS_OK) st = add_columns(s, spec, err);
    if (st == MS_OK) st = pg_exec(s, stage.p, err);
    if (st == MS_OK) st = copy_start(s, copy.p, err);
    st_sb_free(&q);
    st_sb_free(&stage);
    st_sb_free(&cols);
    st_sb_free(&copy);
    if (st != MS_OK) {
        pg_rollback(s);
        st_sb_free(&m);
        free(u);
        return st;
    }
    u->merge = m.p;
    u->base.store = base;
    st_sb an = {0};
    st_sb_puts(&an, "ANALYZE ");
    st_sb_ident(&an, spec->table);
    u->analyze = an.p;
    if (an.oom) {
        pg_upsert_abort(&u->base);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    *out = &u->base;
    return MS_OK;
}

static ms_status pg_upsert_put(st_upsert *base, const char *const *cells, const double *vals,
                               size_t nrows, ms_error *err)
{
    pg_upsert *u = (pg_upsert *)base;
    pg_store *s = (pg_store *)base->store;
    int nc = base->ncolumns;
    for (size_t r = 0; r < nrows; r++) {
        const char *const *row = cells + r * (size_t)(nc + 1);
        copy_text(&u->buf, row[0]);
        for (int c = 0; c < nc; c++) {
            st_sb_put(&u->buf, "\t", 1);
            if (!row[1 + c] || !*row[1 + c]) st_sb_put(&u->buf, "\\N", 2);
            else st_sb_printf(&u->buf, "%.17g", vals[r * (size_t)nc + (size_t)c]);
        }
        st_sb_put(&u->buf, "\n", 1);
        if (u->buf.len > (1u << 20)) {
            ms_status st = copy_send(s, &u->buf, err);
            if (st != MS_OK) return st;
        }
    }
    return copy_send(s, &u->buf, err);
}

static void pg_upsert_free(pg_upsert *u)
{
    st_sb_free(&u->buf);
    free(u->merge);
    free(u->analyze);
    free(u);
}

static void pg_upsert_abort(st_upsert *base)
{
    pg_upsert *u = (pg_upsert *)base;
    pg_store *s = (pg_store *)base->store;
    if (PQtransactionStatus(s->c) == PQTRANS_ACTIVE) copy_end(s, "aborted by mlship", NULL);
    pg_rollback(s);
    pg_upsert_free(u);
}

static ms_status pg_upsert_commit(st_upsert *base, ms_error *err)
{
    pg_upsert *u = (pg_upsert *)base;
    pg_store *s = (pg_store *)base->store;
    ms_status st = copy_send(s, &u->buf, err);
    ms_status end = copy_end(s, st == MS_OK ? NULL : "aborted by mlship", err);
    if (st == MS_OK) st = end;
    if (st == MS_OK) st = pg_exec(s, u->merge, err);
    if (st == MS_OK) st = pg_exec(s, u->analyze, err); /* statistics for the new rows */
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    pg_upsert_free(u);
    return st;
}

/* ==== runs and predictions ============================================================== */

#define ISO(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

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
    ms_status st = pg_ready(s, err);
    if (st != MS_OK || s->schema_ready) return st;
    st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK) st = pg_exec(s, SCHEMA, err);
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    if (st == MS_OK) s->schema_ready = 1;
    return st;
}

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

static ms_status pg_run_get(st_store *base, const char *run_id, int32_t shard, st_run *out,
                            int *found, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    return run_one(s, RUN_COLS "WHERE r.run_id = $1 AND r.shard = $2", run_id, shard, out, found,
                   err);
}

static ms_status pg_run_latest(st_store *base, const char *model, int32_t shard, st_run *out,
                               int *found, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    return run_one(s, RUN_COLS "WHERE r.model = $1 AND r.shard = $2 ORDER BY r.seq DESC LIMIT 1",
                   model, shard, out, found, err);
}

static ms_status pg_run_list(st_store *base, const char *model, int (*fn)(void *, const st_run *),
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

static ms_status pg_run_begin(st_store *base, const st_run *run, ms_error *err)
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

static ms_status pg_write_chunk(st_store *base, const char *run_id, int32_t shard, int64_t chunk,
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
        st = copy_start(s, "COPY mlship_pred_stage (key, outputs) FROM STDIN", err);
        for (size_t i = 0; i < npreds && st == MS_OK; i++) {
            copy_text(&b, preds[i].key);
            st_sb_put(&b, "\t", 1);
            copy_text(&b, preds[i].outputs);
            st_sb_put(&b, "\n", 1);
            if (b.len > (1u << 20)) st = copy_send(s, &b, err);
        }
        if (st == MS_OK) st = copy_send(s, &b, err);
        if (PQtransactionStatus(s->c) == PQTRANS_ACTIVE) {
            ms_status e = copy_end(s, st == MS_OK ? NULL : "aborted by mlship", err);
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
        st = copy_start(s, "COPY mlship_rejects (run_id, shard, line, reason) FROM STDIN", err);
        b.len = 0;
        for (size_t i = 0; i < nrejects && st == MS_OK; i++) {
            st_sb_printf(&b, "%s\t%d\t%lld\t", run_id, (int)shard, (long long)rejects[i].line);
            copy_text(&b, rejects[i].reason);
            st_sb_put(&b, "\n", 1);
            if (b.len > (1u << 20)) st = copy_send(s, &b, err);
        }
        if (st == MS_OK) st = copy_send(s, &b, err);
        if (PQtransactionStatus(s->c) == PQTRANS_ACTIVE) {
            ms_status e = copy_end(s, st == MS_OK ? NULL : "aborted by mlship", err);
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

static ms_status pg_run_fail(st_store *base, const char *run_id, int32_t shard, ms_error *err)
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
        array_lit(&arr, doomed, (size_t)n);
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

static ms_status pg_run_complete(st_store *base, const char *run_id, int32_t shard, int keep,
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

static ms_status pg_run_publish(st_store *base, const char *run_id, ms_error *err)
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

static ms_status pg_runs_prune(st_store *base, const char *model, int keep, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK) st = prune(s, model, keep, err);
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    return st;
}

static ms_status pg_pred_lookup(st_store *base, const char *model, const char *const *keys,
                                size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    st_sb arr = {0};
    array_lit(&arr, keys, nkeys);
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
    if (kh_build(&h, res) != 0) {
        PQclear(res);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    for (size_t i = 0; i < nkeys; i++) {
        int r = kh_find(&h, res, keys[i]);
        int stop;
        if (r < 0) {
            stop = fn(ctx, i, NULL);
        } else {
            st_pred_row row = {.key = keys[i], .model = model, .outputs = PQgetvalue(res, r, 1),
                               .model_version = PQgetvalue(res, r, 2),
                               .run_id = PQgetvalue(res, r, 3),
                               .scored_at = PQgetvalue(res, r, 4)};
            stop = fn(ctx, i, &row);
        }
        if (stop) break;
    }
    free(h.slot);
    PQclear(res);
    return MS_OK;
}

/* Stream a query's rows in single-row mode; each row goes to `each`. Stopping early cancels
 * the query on the server. */
static ms_status stream(pg_store *s, const char *sql, int n, const char *const *params,
                        int (*each)(void *ctx, const PGresult *row), void *ctx, ms_error *err)
{
    if (!PQsendQueryParams(s->c, sql, n, NULL, params, NULL, NULL, 0))
        return pg_err(s, NULL, err, "query");
    PQsetSingleRowMode(s->c);
    ms_status st = MS_OK;
    int stopped = 0;
    PGresult *res;
    while ((res = PQgetResult(s->c)) != NULL) {
        ExecStatusType t = PQresultStatus(res);
        if (t == PGRES_SINGLE_TUPLE) {
            if (!stopped && st == MS_OK && each(ctx, res)) {
                stopped = 1;
                PGcancel *c = PQgetCancel(s->c);
                char buf[256];
                if (c) {
                    PQcancel(c, buf, sizeof buf);
                    PQfreeCancel(c);
                }
            }
        } else if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK && !stopped && st == MS_OK) {
            st = pg_err(s, res, err, "query");
        }
        PQclear(res);
    }
    return st;
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
                       .run_id = PQgetvalue(res, 0, 3), .scored_at = PQgetvalue(res, 0, 4)};
    return c->fn(c->ctx, c->i++, &row);
}

static ms_status pg_pred_scan(st_store *base, const char *model, st_pred_fn fn, void *ctx,
                              ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = schema(s, err);
    if (st != MS_OK) return st;
    scan_ctx c = {fn, ctx, model, 0};
    const char *p[1] = {model};
    return stream(s,
                  "SELECT p.key, p.outputs, p.model_version, p.run_id, " ISO("p.scored_at")
                  " FROM mlship_published pub JOIN mlship_predictions p"
                  " ON p.model = pub.model AND p.run_id = pub.run_id"
                  " WHERE pub.model = $1 ORDER BY p.key",
                  1, p, scan_row, &c, err);
}

static ms_status pg_run_rejects(st_store *base, const char *run_id,
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

static ms_status pg_run_keys(st_store *base, const char *run_id, int (*fn)(void *, const char *),
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
    return stream(s,
                  "SELECT p.key FROM mlship_predictions p WHERE p.run_id = $1 AND p.model ="
                  " (SELECT model FROM mlship_runs WHERE run_id = $1 LIMIT 1)",
                  1, p, keys_row, &c, err);
}

/* ==== queries =========================================================================== */

typedef struct query_ctx {
    st_row_fn fn;
    void *ctx;
    const char **names, **vals;
    int nc;
} query_ctx;

static int query_row(void *p, const PGresult *res)
{
    query_ctx *q = p;
    if (!q->names) {
        q->nc = PQnfields(res);
        q->names = calloc((size_t)q->nc + 1, sizeof *q->names);
        q->vals = calloc((size_t)q->nc + 1, sizeof *q->vals);
        if (!q->names || !q->vals) return 1;
    }
    for (int i = 0; i < q->nc; i++) {
        q->names[i] = PQfname(res, i);
        q->vals[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
    }
    return q->fn(q->ctx, q->nc, q->names, q->vals);
}

static ms_status pg_query(st_store *base, const char *sql, st_row_fn fn, void *ctx,
                          ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = pg_ready(s, err);
    if (st != MS_OK) return st;
    /* a read-only transaction: the user's query can read, never write */
    if ((st = pg_exec(s, "BEGIN READ ONLY", err)) != MS_OK) return st;
    query_ctx q = {fn, ctx, NULL, NULL, 0};
    /* extended protocol: one statement only */
    st = stream(s, sql, 0, NULL, query_row, &q, err);
    free(q.names);
    free(q.vals);
    pg_rollback(s);
    return st;
}

const st_backend_ops st_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .fetch = pg_fetch,
    .upsert_begin = pg_upsert_begin,
    .upsert_put = pg_upsert_put,
    .upsert_commit = pg_upsert_commit,
    .upsert_abort = pg_upsert_abort,
    .run_begin = pg_run_begin,
    .run_get = pg_run_get,
    .run_latest = pg_run_latest,
    .run_list = pg_run_list,
    .write_chunk = pg_write_chunk,
    .run_fail = pg_run_fail,
    .run_complete = pg_run_complete,
    .run_publish = pg_run_publish,
    .runs_prune = pg_runs_prune,
    .pred_lookup = pg_pred_lookup,
    .pred_scan = pg_pred_scan,
    .run_rejects = pg_run_rejects,
    .query = pg_query,
    .run_keys = pg_run_keys,
};

#endif
