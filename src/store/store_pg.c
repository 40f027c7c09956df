/* store_pg.c: the PostgreSQL backend (libpq). The URL goes to libpq unchanged. Features: one
 * prepared `WHERE key = ANY($1)` query per batch of keys; upserts COPY into a temporary
 * staging table and merge with INSERT ... ON CONFLICT at commit, all in one transaction.
 * A handle whose connection dropped reconnects at the start of the next call.
 *
 * This file: the connection, the helpers, the feature tables, read-only queries and the
 * backend table; runs and predictions are store_pg_runs.c (store_pg_int.h). */
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

#include "store/store_pg_int.h"

const int st_pg_built = 1;

typedef struct pg_upsert {
    st_upsert base;
    char table[64];
    char *merge;   /* the INSERT ... SELECT run at commit */
    char *analyze; /* ANALYZE "table" */
    st_sb buf;   /* COPY data not yet sent */
} pg_upsert;

/* ==== helpers =========================================================================== */

ms_status pg_err(pg_store *s, const PGresult *res, ms_error *err, const char *what)
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
ms_status pg_q(pg_store *s, const char *sql, int n, const char *const *params,
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
ms_status pg_exec(pg_store *s, const char *sql, ms_error *err)
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

void pg_rollback(pg_store *s)
{
    if (PQtransactionStatus(s->c) != PQTRANS_IDLE) PQclear(PQexec(s->c, "ROLLBACK"));
}

/* Reconnect a dropped connection (server restart, idle timeout) before the next call. */
ms_status pg_ready(pg_store *s, ms_error *err)
{
    if (PQstatus(s->c) == CONNECTION_OK) return MS_OK;
    PQreset(s->c);
    s->schema_ready = s->stage_ready = s->stream_ready = 0;
    for (int i = 0; i < FETCH_CACHE; i++) {
        free(s->cache[i].sig);
        s->cache[i].sig = NULL;
        s->cache[i].used = 0;
    }
    if (PQstatus(s->c) != CONNECTION_OK) return pg_err(s, NULL, err, "reconnect");
    return MS_OK;
}

ms_status pg_schema_once(pg_store *s, const char *ddl, int *ready, ms_error *err)
{
    ms_status st = pg_ready(s, err); /* a reconnect clears *ready: the tables may be new */
    if (st != MS_OK || *ready) return st;
    st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK) st = pg_exec(s, ddl, err);
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    if (st == MS_OK) *ready = 1;
    return st;
}

/* COPY text format: escape backslash, tab, newline, carriage return. */
void pg_copy_text(st_sb *b, const char *v)
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

ms_status pg_copy_send(pg_store *s, st_sb *b, ms_error *err)
{
    if (b->oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (b->len && PQputCopyData(s->c, b->p, (int)b->len) != 1)
        return pg_err(s, NULL, err, "COPY");
    b->len = 0;
    return MS_OK;
}

/* End a COPY: errmsg NULL to finish, else to abort. */
ms_status pg_copy_end(pg_store *s, const char *errmsg, ms_error *err)
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

ms_status pg_copy_start(pg_store *s, const char *sql, ms_error *err)
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
void pg_array_lit(st_sb *b, const char *const *keys, size_t n)
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

static uint64_t fnv(const char *s) { return bs_fnv1a(s, strlen(s), BS_FNV_INIT); }

int pg_kh_build(khash *h, const PGresult *res)
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

int pg_kh_find(const khash *h, const PGresult *res, const char *key)
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
    pg_array_lit(&arr, keys, nkeys);
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
    if (pg_kh_build(&h, res) != 0) {
        PQclear(res);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    int nc = spec->ncolumns;
    for (size_t k = 0; k < nkeys && st == MS_OK; k++) {
        int r = pg_kh_find(&h, res, keys[k]);
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

static ms_status add_columns(pg_store *s, const st_features *spec, int *added, ms_error *err)
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
    *added = 1;
    for (int r = 0; r < PQntuples(res); r++) {
        if (strcmp(PQgetvalue(res, r, 0), spec->key) == 0) have_key = 1;
        if (strcmp(PQgetvalue(res, r, 0), ST_CHANGE_COL) == 0) *added = 0;
    }
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
    st_sb a = {0};
    if (*added) {
        st_sb_puts(&a, "ALTER TABLE ");
        st_sb_ident(&a, spec->table);
        st_sb_puts(&a, " ADD COLUMN " ST_CHANGE_COL " bigint, ADD COLUMN " ST_UPDATED_COL " bigint; ");
    }
    st_sb_printf(&a, "CREATE INDEX IF NOT EXISTS \"mlship_chg_%016llx\" ON ",
                 (unsigned long long)bs_fnv1a(spec->table, strlen(spec->table), BS_FNV_INIT));
    st_sb_ident(&a, spec->table);
    st_sb_puts(&a, " (" ST_CHANGE_COL ")");
    if (st == MS_OK) st = a.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : pg_exec(s, a.p, err);
    st_sb_free(&a);
    return st;
}

/* The INSERT ... SELECT of the staged rows: the last of each key wins, numbered after the
 * table's change counter `seq` in arrival order. */
static void merge_sql(st_sb *m, const st_features *spec, const char *cols, int64_t seq, int64_t now_ms)
{
    st_sb_puts(m, "INSERT INTO ");
    st_sb_ident(m, spec->table);
    st_sb_printf(m, " (%s, " ST_CHANGE_COL ", " ST_UPDATED_COL ") SELECT DISTINCT ON (", cols);
    st_sb_ident(m, spec->key);
    st_sb_printf(m, ") %s, %lld + mlship_seq, %lld FROM mlship_upsert_stage ORDER BY ", cols, (long long)seq,
                 (long long)now_ms);
    st_sb_ident(m, spec->key);
    st_sb_puts(m, ", mlship_seq DESC ON CONFLICT (");
    st_sb_ident(m, spec->key);
    st_sb_puts(m, ") DO UPDATE SET ");
    for (int i = 0; i < spec->ncolumns; i++) {
        st_sb_ident(m, spec->columns[i]);
        st_sb_puts(m, " = excluded.");
        st_sb_ident(m, spec->columns[i]);
        st_sb_puts(m, ", ");
    }
    st_sb_puts(m, ST_CHANGE_COL " = excluded." ST_CHANGE_COL ", " ST_UPDATED_COL " = excluded." ST_UPDATED_COL);
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
    st_sb_puts(&q, ", " ST_CHANGE_COL " bigint, " ST_UPDATED_COL " bigint)");
    /* staging: same columns plus arrival order, so the last duplicate key wins */
    st_sb stage = {0};
    st_sb_puts(&stage, "CREATE TEMP TABLE mlship_upsert_stage ON COMMIT DROP AS SELECT ");
    st_sb_puts(&stage, cols.p);
    st_sb_puts(&stage, " FROM ");
    st_sb_ident(&stage, spec->table);
    st_sb_puts(&stage, " WITH NO DATA; ALTER TABLE mlship_upsert_stage ADD COLUMN mlship_seq "
                       "bigserial;");

    st_sb copy = {0};
    st_sb_printf(&copy, "COPY mlship_upsert_stage (%s) FROM STDIN", cols.p ? cols.p : "");
    if (q.oom || cols.oom || copy.oom || stage.oom)
        st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int added = 0;
    int64_t seq = 0, now_ms = st_now_ms();
    if (st == MS_OK) st = pg_exec(s, "BEGIN", err);
    if (st == MS_OK) st = pg_exec(s, q.p, err);
    /* add missing columns; ALTER TABLE locks out readers until commit, so only when needed */
    if (st == MS_OK) st = add_columns(s, spec, &added, err);
    if (st == MS_OK) st = pg_change_counter(s, spec->table, &seq, err);
    if (st == MS_OK && added) st = pg_change_number_old(s, spec->table, spec->key, &seq, now_ms, err);
    /* rows before the stage's numbers: the counter goes up by them too, at commit */
    if (st == MS_OK && added) st = pg_bump_counter(s, spec->table, seq, err);
    if (st == MS_OK) merge_sql(&m, spec, cols.p, seq, now_ms);
    if (st == MS_OK && m.oom) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st == MS_OK) st = pg_exec(s, stage.p, err);
    if (st == MS_OK) st = pg_copy_start(s, copy.p, err);
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
    snprintf(u->table, sizeof u->table, "%s", spec->table);
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
        pg_copy_text(&u->buf, row[0]);
        for (int c = 0; c < nc; c++) {
            st_sb_put(&u->buf, "\t", 1);
            if (!row[1 + c] || !*row[1 + c]) st_sb_put(&u->buf, "\\N", 2);
            else st_sb_printf(&u->buf, "%.17g", vals[r * (size_t)nc + (size_t)c]);
        }
        st_sb_put(&u->buf, "\n", 1);
        if (u->buf.len > (1u << 20)) {
            ms_status st = pg_copy_send(s, &u->buf, err);
            if (st != MS_OK) return st;
        }
    }
    return pg_copy_send(s, &u->buf, err);
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
    if (PQtransactionStatus(s->c) == PQTRANS_ACTIVE) pg_copy_end(s, "aborted by mlship", NULL);
    pg_rollback(s);
    pg_upsert_free(u);
}

static ms_status pg_upsert_commit(st_upsert *base, ms_error *err)
{
    pg_upsert *u = (pg_upsert *)base;
    pg_store *s = (pg_store *)base->store;
    ms_status st = pg_copy_send(s, &u->buf, err);
    ms_status end = pg_copy_end(s, st == MS_OK ? NULL : "aborted by mlship", err);
    if (st == MS_OK) st = end;
    if (st == MS_OK) st = pg_exec(s, u->merge, err);
    if (st == MS_OK) st = pg_change_commit(s, u->table, err);
    if (st == MS_OK) st = pg_exec(s, u->analyze, err); /* statistics for the new rows */
    if (st == MS_OK) st = pg_exec(s, "COMMIT", err);
    pg_rollback(s);
    pg_upsert_free(u);
    return st;
}

/* ==== queries =========================================================================== */

/* Stream a query's rows in single-row mode; each row goes to `each`. Stopping early cancels
 * the query on the server. */
ms_status pg_stream(pg_store *s, const char *sql, int n, const char *const *params,
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
    st = pg_stream(s, sql, 0, NULL, query_row, &q, err);
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
    .changes = pg_changes,
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
    .stream_put = pg_stream_put,
    .stream_event = pg_stream_event,
    .pred_latest = pg_pred_latest,
    .stream_prune = pg_stream_prune,
    .ticket_claim = pg_ticket_claim,
    .ticket_get = pg_ticket_get,
    .ticket_drop = pg_ticket_drop,
};

#endif
