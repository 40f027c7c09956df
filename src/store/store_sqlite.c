/* store_sqlite.c: the SQLite backend (the default store): features and batch predictions in one
 * database file, opened in WAL mode so one writer (a batch job, a features load) and many
 * readers (servers) work at once. Every write is one `BEGIN IMMEDIATE` transaction.
 *
 * This file: the connection, the statement helpers, the feature tables, read-only queries and
 * the backend table; runs and predictions are store_sqlite_runs.c (store_sqlite_int.h). */
#include "store/store_int.h"

#ifndef MS_WITH_SQLITE
#define MS_WITH_SQLITE 1
#endif

#if !MS_WITH_SQLITE

const int st_sqlite_built = 0;
static ms_status sq_open_stub(const bs_url *u, int flags, st_store **out, ms_error *err)
{
    return st_not_built(err, "SQLite", "WITH_SQLITE", "libsqlite3-dev");
}
static void sq_close_stub(st_store *s) {}
const st_backend_ops st_sqlite_ops = {.name = "sqlite", .open = sq_open_stub,
                                      .close = sq_close_stub};

#else

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/bs_hash.h"
#include "store/store_sqlite_int.h"

const int st_sqlite_built = 1;

typedef struct sq_upsert {
    st_upsert base;
    sqlite3_stmt *ins;
    char table[64];
    int64_t change, now_ms; /* the table's change counter as this upsert numbers rows */
} sq_upsert;

/* ==== small helpers ===================================================================== */

ms_status sq_err(sq_store *s, ms_error *err, const char *what)
{
    const char *m = sqlite3_errmsg(s->db);
    /* a missing table or column is the caller's mistake, not the store failing */
    ms_status st = (strstr(m, "no such table") || strstr(m, "no such column") ||
                    strstr(m, "syntax error"))
                       ? MS_ERR_INVALID
                       : MS_ERR_RUNTIME;
    return bs_fail(err, st, "sqlite store '%s': %s: %s", s->path, what, m);
}

ms_status sq_exec(sq_store *s, const char *sql, ms_error *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return sq_err(s, err, sql);
    return MS_OK;
}

void sq_rollback(sq_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

ms_status sq_prep(sq_store *s, const char *sql, sqlite3_stmt **st, ms_error *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return sq_err(s, err, "prepare");
    }
    return MS_OK;
}

/* Bind by format: 's' text (NULL binds NULL), 'i' int64, 'n' int. Texts must outlive the step. */
static void sq_vbind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    for (int i = 1; *fmt; fmt++, i++) {
        if (*fmt == 's') {
            const char *v = va_arg(ap, const char *);
            if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
            else sqlite3_bind_null(st, i);
        } else if (*fmt == 'i') {
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
        } else {
            sqlite3_bind_int(st, i, va_arg(ap, int));
        }
    }
}

void sq_bind(sqlite3_stmt *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_reset(st);
    sq_vbind(st, fmt, ap);
    va_end(ap);
}

/* Step a statement that returns no rows. */
ms_status sq_done(sq_store *s, sqlite3_stmt *st, const char *what, ms_error *err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        ms_status r = sq_err(s, err, what);
        sqlite3_reset(st);
        return r;
    }
    sqlite3_reset(st);
    return MS_OK;
}

ms_status sq_run(sq_store *s, const char *sql, const char *fmt, ms_error *err, ...)
{
    sqlite3_stmt *st = NULL;
    ms_status r = sq_prep(s, sql, &st, err);
    if (r != MS_OK) return r;
    va_list ap; /* the texts live until this call returns, past the step */
    va_start(ap, err);
    sq_vbind(st, fmt, ap);
    va_end(ap);
    r = sq_done(s, st, sql, err);
    sqlite3_finalize(st);
    return r;
}

/* ==== open / close ====================================================================== */

static void sq_close(st_store *base)
{
    sq_store *s = (sq_store *)base;
    for (int i = 0; i < FETCH_CACHE; i++) {
        sqlite3_finalize(s->cache[i].stmt);
        free(s->cache[i].sig);
    }
    sqlite3_finalize(s->ins_pred);
    sqlite3_finalize(s->ins_pred_many);
    sqlite3_finalize(s->ins_rej);
    sqlite3_finalize(s->lookup);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static ms_status sq_open(const bs_url *u, int flags, st_store **out, ms_error *err)
{
    sq_store *s = calloc(1, sizeof *s);
    if (!s) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    s->base.ops = &st_sqlite_ops;
    s->path = st_strdup(u->path);
    if (!s->path) {
        free(s);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    s->readonly = (flags & ST_OPEN_READONLY) != 0;
    struct stat sb;
    if (s->readonly && strcmp(u->path, ":memory:") != 0 && stat(u->path, &sb) != 0) {
        ms_status st = bs_fail(err, errno == ENOENT || errno == ENOTDIR ? MS_ERR_INVALID : MS_ERR_RUNTIME,
                               "no store file '%s': %s", u->path, strerror(errno));
        sq_close(&s->base);
        return st;
    }
    int rc = sqlite3_open_v2(u->path, &s->db,
                             (s->readonly ? SQLITE_OPEN_READONLY
                                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        ms_status st = bs_fail(err, MS_ERR_RUNTIME, "cannot open sqlite store '%s': %s", u->path,
                               s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sq_close(&s->base);
        return st;
    }
    sqlite3_busy_timeout(s->db, 30000);
    /* WAL: readers never block the writer; NORMAL sync is crash-safe in WAL mode (a power
     * loss may lose the last commits, never corrupt; a killed process loses nothing). The
     * first statement also tells a file that is not a database. */
    ms_status st = MS_OK;
    if (strcmp(u->path, ":memory:") != 0 && !s->readonly)
        st = sq_exec(s, "PRAGMA journal_mode=WAL", err);
    if (st == MS_OK) st = sq_exec(s, "PRAGMA synchronous=NORMAL", err);
    if (st == MS_OK) st = sq_exec(s, "PRAGMA cache_size=-32768", err); /* 32 MiB */
    if (st != MS_OK) {
        sq_close(&s->base);
        return st;
    }
    *out = &s->base;
    return MS_OK;
}

/* ==== features ========================================================================== */

static char *spec_sig(const st_features *spec)
{
    st_sb b = {0};
    st_sb_puts(&b, spec->table);
    st_sb_put(&b, "\x1f", 1);
    st_sb_puts(&b, spec->key);
    for (int i = 0; i < spec->ncolumns; i++) {
        st_sb_put(&b, "\x1f", 1);
        st_sb_puts(&b, spec->columns[i]);
    }
    if (b.oom) {
        st_sb_free(&b);
        return NULL;
    }
    return b.p;
}

static ms_status fetch_stmt(sq_store *s, const st_features *spec, sqlite3_stmt **out,
                            ms_error *err)
{
    char *sig = spec_sig(spec);
    if (!sig) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int victim = 0;
    for (int i = 0; i < FETCH_CACHE; i++) {
        if (s->cache[i].sig && strcmp(s->cache[i].sig, sig) == 0) {
            free(sig);
            s->cache[i].used = ++s->tick;
            *out = s->cache[i].stmt;
            return MS_OK;
        }
        if (s->cache[i].used < s->cache[victim].used) victim = i;
    }
    st_sb q = {0};
    st_sb_puts(&q, "SELECT ");
    for (int i = 0; i < spec->ncolumns; i++) {
        if (i) st_sb_puts(&q, ", ");
        st_sb_ident(&q, spec->columns[i]);
    }
    st_sb_puts(&q, " FROM ");
    st_sb_ident(&q, spec->table);
    st_sb_puts(&q, " WHERE ");
    st_sb_ident(&q, spec->key);
    st_sb_puts(&q, " = ?1 LIMIT 1");
    sqlite3_stmt *st = NULL;
    ms_status r = MS_OK;
    if (q.oom) r = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    else if (sqlite3_prepare_v3(s->db, q.p, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
             SQLITE_OK)
        r = sq_err(s, err, "features table");
    st_sb_free(&q);
    if (r != MS_OK) {
        free(sig);
        return r;
    }
    sqlite3_finalize(s->cache[victim].stmt);
    free(s->cache[victim].sig);
    s->cache[victim].sig = sig;
    s->cache[victim].stmt = st;
    s->cache[victim].used = ++s->tick;
    *out = st;
    return MS_OK;
}

static ms_status sq_fetch(st_store *base, const st_features *spec, const char *const *keys,
                          size_t nkeys, float *out, uint8_t *found, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = NULL;
    ms_status r = fetch_stmt(s, spec, &st, err);
    if (r != MS_OK) return r;
    int nc = spec->ncolumns;
    for (size_t k = 0; k < nkeys; k++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, keys[k], -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) continue;
        if (rc != SQLITE_ROW) {
            r = sq_err(s, err, "fetch");
            break;
        }
        float *row = out + k * (size_t)nc;
        for (int c = 0; c < nc && r == MS_OK; c++) {
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_NULL: row[c] = NAN; break;
            case SQLITE_INTEGER:
            case SQLITE_FLOAT: row[c] = (float)sqlite3_column_double(st, c); break;
            default: {
                const char *t = (const char *)sqlite3_column_text(st, c);
                int n = sqlite3_column_bytes(st, c);
                double d;
                if (t && st_parse_num_n(t, (size_t)n, &d) == 0) {
                    row[c] = (float)d;
                } else {
                    r = bs_fail(err, MS_ERR_INVALID,
                                "table '%s', key '%.100s', column '%s': stored value '%.40s' is "
                                "not a number",
                                spec->table, keys[k], spec->columns[c], t ? t : "(blob)");
                }
            }
            }
        }
        if (r != MS_OK) break;
        found[k] = 1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return r;
}

/* The change columns and their index on a table that lacks them (store.h, feature changes):
 * `added` says whether they were added now (the rows there get numbers: number_old_rows). */
static ms_status ensure_change_cols(sq_store *s, const char *table, int have, int *added, ms_error *err)
{
    st_sb a = {0};
    if (!have) {
        st_sb_puts(&a, "ALTER TABLE ");
        st_sb_ident(&a, table);
        st_sb_puts(&a, " ADD COLUMN " ST_CHANGE_COL " INTEGER; ALTER TABLE ");
        st_sb_ident(&a, table);
        st_sb_puts(&a, " ADD COLUMN " ST_UPDATED_COL " INTEGER; ");
    }
    st_sb_printf(&a, "CREATE INDEX IF NOT EXISTS \"mlship_chg_%016llx\" ON ",
                 (unsigned long long)bs_fnv1a(table, strlen(table), BS_FNV_INIT));
    st_sb_ident(&a, table);
    st_sb_puts(&a, " (" ST_CHANGE_COL ")");
    ms_status r = a.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : sq_exec(s, a.p, err);
    st_sb_free(&a);
    *added = !have;
    return r;
}

/* Create the table if missing, add missing columns, check the key column exists. Runs inside
 * the upsert's transaction, so a later failure undoes it too. */
static ms_status ensure_feature_table(sq_store *s, const st_features *spec, int *added, ms_error *err)
{
    st_sb q = {0};
    st_sb_puts(&q, "CREATE TABLE IF NOT EXISTS ");
    st_sb_ident(&q, spec->table);
    st_sb_puts(&q, " (");
    st_sb_ident(&q, spec->key);
    st_sb_puts(&q, " TEXT PRIMARY KEY NOT NULL");
    for (int i = 0; i < spec->ncolumns; i++) {
        st_sb_puts(&q, ", ");
        st_sb_ident(&q, spec->columns[i]);
        st_sb_puts(&q, " REAL");
    }
    st_sb_puts(&q, ", " ST_CHANGE_COL " INTEGER, " ST_UPDATED_COL " INTEGER)");
    ms_status r = q.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : sq_exec(s, q.p, err);
    st_sb_free(&q);
    if (r != MS_OK) return r;

    /* which of our columns exist? */
    sqlite3_stmt *st = NULL;
    if ((r = sq_prep(s, "SELECT name FROM pragma_table_info(?1)", &st, err)) != MS_OK) return r;
    sqlite3_bind_text(st, 1, spec->table, -1, SQLITE_STATIC);
    int have_key = 0, have_change = 0;
    char *have = calloc((size_t)spec->ncolumns + 1, 1);
    if (!have) {
        sqlite3_finalize(st);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name) continue;
        if (strcmp(name, spec->key) == 0) have_key = 1;
        if (strcmp(name, ST_CHANGE_COL) == 0) have_change = 1;
        for (int i = 0; i < spec->ncolumns; i++)
            if (strcmp(name, spec->columns[i]) == 0) have[i] = 1;
    }
    sqlite3_finalize(st);
    if (!have_key)
        r = bs_fail(err, MS_ERR_INVALID, "table '%s' exists but has no key column '%s'",
                    spec->table, spec->key);
    for (int i = 0; i < spec->ncolumns && r == MS_OK; i++) {
        if (have[i]) continue;
        st_sb a = {0};
        st_sb_puts(&a, "ALTER TABLE ");
        st_sb_ident(&a, spec->table);
        st_sb_puts(&a, " ADD COLUMN ");
        st_sb_ident(&a, spec->columns[i]);
        st_sb_puts(&a, " REAL");
        r = a.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : sq_exec(s, a.p, err);
        st_sb_free(&a);
    }
    free(have);
    if (r == MS_OK) r = ensure_change_cols(s, spec->table, have_change, added, err);
    return r;
}

/* The table's change counter (created at 0), into u->change. */
static ms_status read_counter(sq_store *s, sq_upsert *u, ms_error *err)
{
    ms_status r = sq_exec(s, "CREATE TABLE IF NOT EXISTS mlship_feature_changes (tbl TEXT PRIMARY KEY, "
                             "seq INTEGER NOT NULL)", err);
    if (r == MS_OK) r = sq_run(s, "INSERT OR IGNORE INTO mlship_feature_changes VALUES (?1, 0)", "s", err, u->table);
    sqlite3_stmt *st = NULL;
    if (r == MS_OK) r = sq_prep(s, "SELECT seq FROM mlship_feature_changes WHERE tbl = ?1", &st, err);
    if (r != MS_OK) return r;
    sq_bind(st, "s", u->table);
    if (sqlite3_step(st) == SQLITE_ROW) u->change = sqlite3_column_int64(st, 0);
    else r = sq_err(s, err, "change counter");
    sqlite3_finalize(st);
    return r;
}

/* Rows from before the change columns: numbered after the counter, in rowid order. */
static ms_status number_old_rows(sq_store *s, sq_upsert *u, ms_error *err)
{
    st_sb q = {0};
    st_sb_puts(&q, "UPDATE ");
    st_sb_ident(&q, u->table);
    st_sb_puts(&q, " SET " ST_CHANGE_COL " = ?1 + rowid, " ST_UPDATED_COL " = ?2 WHERE " ST_CHANGE_COL " IS NULL");
    st_sb m = {0};
    st_sb_puts(&m, "SELECT coalesce(max(" ST_CHANGE_COL "), 0) FROM ");
    st_sb_ident(&m, u->table);
    ms_status r = q.oom || m.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory")
                                 : sq_run(s, q.p, "ii", err, u->change, u->now_ms);
    sqlite3_stmt *st = NULL;
    if (r == MS_OK) r = sq_prep(s, m.p, &st, err);
    if (r == MS_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > u->change)
        u->change = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st_sb_free(&q);
    st_sb_free(&m);
    return r;
}

static ms_status sq_upsert_begin(st_store *base, const st_features *spec, st_upsert **out,
                                 ms_error *err)
{
    sq_store *s = (sq_store *)base;
    sq_upsert *u = calloc(1, sizeof *u);
    if (!u) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    snprintf(u->table, sizeof u->table, "%s", spec->table);
    u->now_ms = st_now_ms();
    int added = 0;
    ms_status r = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (r == MS_OK) r = ensure_feature_table(s, spec, &added, err);
    if (r == MS_OK) r = read_counter(s, u, err);
    if (r == MS_OK && added) r = number_old_rows(s, u, err);
    if (r == MS_OK) {
        st_sb q = {0};
        st_sb_puts(&q, "INSERT INTO ");
        st_sb_ident(&q, spec->table);
        st_sb_puts(&q, " (");
        st_sb_ident(&q, spec->key);
        for (int i = 0; i < spec->ncolumns; i++) {
            st_sb_puts(&q, ", ");
            st_sb_ident(&q, spec->columns[i]);
        }
        st_sb_puts(&q, ", " ST_CHANGE_COL ", " ST_UPDATED_COL ") VALUES (?");
        for (int i = 0; i < spec->ncolumns + 2; i++) st_sb_puts(&q, ", ?");
        st_sb_puts(&q, ") ON CONFLICT (");
        st_sb_ident(&q, spec->key);
        st_sb_puts(&q, ") DO UPDATE SET ");
        for (int i = 0; i < spec->ncolumns; i++) {
            st_sb_ident(&q, spec->columns[i]);
            st_sb_puts(&q, " = excluded.");
            st_sb_ident(&q, spec->columns[i]);
            st_sb_puts(&q, ", ");
        }
        st_sb_puts(&q, ST_CHANGE_COL " = excluded." ST_CHANGE_COL ", " ST_UPDATED_COL " = excluded." ST_UPDATED_COL);
        r = q.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : sq_prep(s, q.p, &u->ins, err);
        st_sb_free(&q);
    }
    if (r != MS_OK) {
        sq_rollback(s);
        free(u);
        return r;
    }
    *out = &u->base;
    return MS_OK;
}

static ms_status sq_upsert_put(st_upsert *base, const char *const *cells, const double *vals,
                               size_t nrows, ms_error *err)
{
    sq_upsert *u = (sq_upsert *)base;
    sq_store *s = (sq_store *)base->store;
    int nc = base->ncolumns;
    for (size_t r = 0; r < nrows; r++) {
        const char *const *row = cells + r * (size_t)(nc + 1);
        sqlite3_reset(u->ins);
        sqlite3_bind_text(u->ins, 1, row[0], -1, SQLITE_STATIC);
        for (int c = 0; c < nc; c++) {
            if (!row[1 + c] || !*row[1 + c] || isnan(vals[r * (size_t)nc + (size_t)c]))
                sqlite3_bind_null(u->ins, 2 + c);
            else
                sqlite3_bind_double(u->ins, 2 + c, vals[r * (size_t)nc + (size_t)c]);
        }
        sqlite3_bind_int64(u->ins, 2 + nc, ++u->change);
        sqlite3_bind_int64(u->ins, 3 + nc, u->now_ms);
        if (sqlite3_step(u->ins) != SQLITE_DONE) {
            ms_status st = sq_err(s, err, "upsert");
            sqlite3_reset(u->ins);
            return st;
        }
    }
    sqlite3_reset(u->ins);
    return MS_OK;
}

static void sq_upsert_abort(st_upsert *base)
{
    sq_upsert *u = (sq_upsert *)base;
    sqlite3_finalize(u->ins);
    sq_rollback((sq_store *)base->store);
    free(u);
}

static ms_status sq_upsert_commit(st_upsert *base, ms_error *err)
{
    sq_upsert *u = (sq_upsert *)base;
    sq_store *s = (sq_store *)base->store;
    sqlite3_finalize(u->ins);
    u->ins = NULL;
    ms_status r = sq_run(s, "UPDATE mlship_feature_changes SET seq = ?1 WHERE tbl = ?2", "is", err, u->change, u->table);
    if (r == MS_OK) r = sq_exec(s, "COMMIT", err);
    sq_rollback(s);
    free(u);
    return r;
}

/* ==== feature changes ==================================================================== */

/* The key column (the primary key) and the feature columns, in table order. */
static ms_status read_schema(sq_store *s, const char *table, st_table_schema *sc, ms_error *err)
{
    memset(sc, 0, sizeof *sc);
    sqlite3_stmt *st = NULL;
    ms_status r = sq_prep(s, "SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid", &st, err);
    if (r != MS_OK) return r;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int rows = 0;
    while (r == MS_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        rows++;
        if (!name) continue;
        if (sqlite3_column_int(st, 1) == 1) snprintf(sc->key, sizeof sc->key, "%s", name);
        else if (strcmp(name, ST_CHANGE_COL) == 0) sc->has_change = 1;
        else if (strcmp(name, ST_UPDATED_COL) != 0) {
            char **g = realloc(sc->cols, (size_t)(sc->n + 1) * sizeof *g);
            if (!g || !(g[sc->n] = strdup(name))) r = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            if (g) sc->cols = g;
            if (r == MS_OK) sc->n++;
        }
    }
    sqlite3_finalize(st);
    if (r == MS_OK && !rows) r = bs_fail(err, MS_ERR_INVALID, "sqlite store '%s': no feature table '%s'", s->path, table);
    else if (r == MS_OK && (!sc->key[0] || !sc->has_change))
        r = bs_fail(err, MS_ERR_INVALID, "sqlite store '%s': table '%s' has no %s; it gets one at its next "
                    "`mlship features load`", s->path, table, sc->key[0] ? "change numbers" : "primary key");
    if (r != MS_OK) st_table_schema_free(sc);
    return r;
}

static ms_status sq_changes(st_store *base, const char *table, int64_t since, size_t limit, st_change_fn fn,
                            void *ctx, ms_error *err)
{
    sq_store *s = (sq_store *)base;
    ms_status r = sq_exec(s, "BEGIN", err); /* one snapshot for the schema and the rows */
    st_table_schema sc;
    if (r == MS_OK) r = read_schema(s, table, &sc, err);
    if (r != MS_OK) { sq_rollback(s); return r; }
    st_sb q = {0};
    st_sb_puts(&q, "SELECT ");
    st_sb_ident(&q, sc.key);
    for (int i = 0; i < sc.n; i++) {
        st_sb_puts(&q, ", ");
        st_sb_ident(&q, sc.cols[i]);
    }
    st_sb_puts(&q, ", " ST_CHANGE_COL ", " ST_UPDATED_COL " FROM ");
    st_sb_ident(&q, table);
    st_sb_puts(&q, " WHERE " ST_CHANGE_COL " > ?1 ORDER BY " ST_CHANGE_COL " LIMIT ?2");
    double *vals = calloc((size_t)sc.n + 1, sizeof *vals);
    sqlite3_stmt *st = NULL;
    if (q.oom || !vals) r = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (r == MS_OK) r = sq_prep(s, q.p, &st, err);
    int stop = r != MS_OK || fn(ctx, sc.key, (const char *const *)sc.cols, sc.n, NULL);
    if (!stop) sq_bind(st, "ii", since, (int64_t)(limit > INT64_MAX ? INT64_MAX : limit));
    int rc = SQLITE_DONE;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sc.n; i++)
            vals[i] = sqlite3_column_type(st, 1 + i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 1 + i);
        st_change_row row = {(const char *)sqlite3_column_text(st, 0), vals, sqlite3_column_int64(st, 1 + sc.n),
                             sqlite3_column_int64(st, 2 + sc.n)};
        stop = fn(ctx, sc.key, (const char *const *)sc.cols, sc.n, &row);
    }
    if (r == MS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) r = sq_err(s, err, "changes");
    sqlite3_finalize(st);
    sq_rollback(s);
    free(vals);
    st_sb_free(&q);
    st_table_schema_free(&sc);
    return r;
}

/* ==== queries =========================================================================== */

static ms_status sq_query(st_store *base, const char *sql, st_row_fn fn, void *ctx,
                          ms_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = NULL;
    const char *tail;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, &tail) != SQLITE_OK)
        return bs_fail(err, MS_ERR_INVALID, "query: %s", sqlite3_errmsg(s->db));
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';' ||
                    *tail == '\r'))
        tail++;
    ms_status r = MS_OK;
    if (!st) r = bs_fail(err, MS_ERR_INVALID, "query: empty");
    else if (tail && *tail) r = bs_fail(err, MS_ERR_INVALID, "query: one statement only");
    else if (!sqlite3_stmt_readonly(st))
        r = bs_fail(err, MS_ERR_INVALID, "query: only a read-only SELECT is allowed");
    int nc = st ? sqlite3_column_count(st) : 0;
    const char **names = calloc((size_t)nc + 1, sizeof *names);
    const char **vals = calloc((size_t)nc + 1, sizeof *vals);
    if (r == MS_OK && (!names || !vals)) r = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int i = 0; r == MS_OK && i < nc; i++) names[i] = sqlite3_column_name(st, i);
    int rc = SQLITE_DONE;
    while (r == MS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < nc; i++) vals[i] = (const char *)sqlite3_column_text(st, i);
        if (fn(ctx, nc, names, vals)) break;
    }
    if (r == MS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = bs_fail(err, MS_ERR_RUNTIME, "query: %s", sqlite3_errmsg(s->db));
    free(names);
    free(vals);
    sqlite3_finalize(st);
    return r;
}

const st_backend_ops st_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .fetch = sq_fetch,
    .upsert_begin = sq_upsert_begin,
    .upsert_put = sq_upsert_put,
    .upsert_commit = sq_upsert_commit,
    .upsert_abort = sq_upsert_abort,
    .changes = sq_changes,
    .run_begin = sq_run_begin,
    .run_get = sq_run_get,
    .run_latest = sq_run_latest,
    .run_list = sq_run_list,
    .write_chunk = sq_write_chunk,
    .run_fail = sq_run_fail,
    .run_complete = sq_run_complete,
    .run_publish = sq_run_publish,
    .runs_prune = sq_runs_prune,
    .pred_lookup = sq_pred_lookup,
    .pred_scan = sq_pred_scan,
    .run_rejects = sq_run_rejects,
    .query = sq_query,
    .run_keys = sq_run_keys,
    .stream_put = sq_stream_put,
    .stream_event = sq_stream_event,
    .pred_latest = sq_pred_latest,
    .stream_prune = sq_stream_prune,
    .ticket_claim = sq_ticket_claim,
    .ticket_get = sq_ticket_get,
    .ticket_drop = sq_ticket_drop,
};

#endif
