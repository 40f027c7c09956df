/* store_pg_changes.c: the PostgreSQL backend's feature change numbers (store.h, feature
 * changes): the counter an upsert takes (locked until it commits, so upserts of one table
 * are serialized and their numbers follow commit order), numbers for rows written before the
 * change columns existed, and the reader behind GET /v1/features/T?since=N. */
#include "store/store_int.h"

#ifndef MS_WITH_PG
#define MS_WITH_PG 1
#endif

#if MS_WITH_PG

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg_int.h"

ms_status pg_change_counter(pg_store *s, const char *table, int64_t *seq, ms_error *err)
{
    const char *p[1] = {table};
    PGresult *res = NULL;
    ms_status st = pg_exec(s, "CREATE TABLE IF NOT EXISTS mlship_feature_changes (tbl text PRIMARY KEY, "
                              "seq bigint NOT NULL)", err);
    if (st == MS_OK)
        st = pg_q(s, "INSERT INTO mlship_feature_changes VALUES ($1, 0) ON CONFLICT DO NOTHING", 1, p, NULL, err);
    if (st == MS_OK) st = pg_q(s, "SELECT seq FROM mlship_feature_changes WHERE tbl = $1 FOR UPDATE", 1, p, &res, err);
    if (st != MS_OK) return st;
    *seq = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return MS_OK;
}

ms_status pg_change_number_old(pg_store *s, const char *table, const char *key, int64_t *seq, int64_t now_ms,
                               ms_error *err)
{
    st_sb q = {0};
    st_sb_puts(&q, "UPDATE ");
    st_sb_ident(&q, table);
    st_sb_printf(&q, " t SET " ST_CHANGE_COL " = %lld + x.n, " ST_UPDATED_COL " = %lld FROM (SELECT ",
                 (long long)*seq, (long long)now_ms);
    st_sb_ident(&q, key);
    st_sb_puts(&q, " AS k, row_number() OVER (ORDER BY ");
    st_sb_ident(&q, key);
    st_sb_puts(&q, ") AS n FROM ");
    st_sb_ident(&q, table);
    st_sb_puts(&q, " WHERE " ST_CHANGE_COL " IS NULL) x WHERE t.");
    st_sb_ident(&q, key);
    st_sb_puts(&q, " = x.k");
    PGresult *res = NULL;
    ms_status st = q.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : pg_q(s, q.p, 0, NULL, &res, err);
    st_sb_free(&q);
    if (st != MS_OK) return st;
    *seq += strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return MS_OK;
}

ms_status pg_bump_counter(pg_store *s, const char *table, int64_t seq, ms_error *err)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)seq);
    const char *p[2] = {table, v};
    return pg_q(s, "UPDATE mlship_feature_changes SET seq = $2::bigint WHERE tbl = $1", 2, p, NULL, err);
}

ms_status pg_change_commit(pg_store *s, const char *table, ms_error *err)
{
    const char *p[1] = {table};
    return pg_q(s, "UPDATE mlship_feature_changes SET seq = seq + (SELECT coalesce(max(mlship_seq), 0) "
                   "FROM mlship_upsert_stage) WHERE tbl = $1", 1, p, NULL, err);
}

static ms_status read_schema(pg_store *s, const char *table, st_table_schema *sc, ms_error *err)
{
    memset(sc, 0, sizeof *sc);
    const char *p[1] = {table};
    PGresult *res = NULL;
    ms_status st = pg_q(s, "SELECT count(*) FROM pg_class WHERE oid = to_regclass(quote_ident($1))", 1, p, &res, err);
    if (st != MS_OK) return st;
    int exists = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
    PQclear(res);
    if (!exists) return bs_fail(err, MS_ERR_INVALID, "postgresql store %s: no feature table '%s'", s->where, table);
    st = pg_q(s, "SELECT a.attname, coalesce(a.attnum = ANY(i.indkey), false) FROM pg_attribute a "
                 "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
                 "WHERE a.attrelid = quote_ident($1)::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                 "ORDER BY a.attnum", 1, p, &res, err);
    if (st != MS_OK) return st;
    for (int r = 0; r < PQntuples(res) && st == MS_OK; r++) {
        const char *name = PQgetvalue(res, r, 0);
        if (strcmp(PQgetvalue(res, r, 1), "t") == 0) snprintf(sc->key, sizeof sc->key, "%s", name);
        else if (strcmp(name, ST_CHANGE_COL) == 0) sc->has_change = 1;
        else if (strcmp(name, ST_UPDATED_COL) != 0) {
            char **g = realloc(sc->cols, (size_t)(sc->n + 1) * sizeof *g);
            if (!g || !(g[sc->n] = strdup(name))) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            if (g) sc->cols = g;
            if (st == MS_OK) sc->n++;
        }
    }
    PQclear(res);
    if (st == MS_OK && (!sc->key[0] || !sc->has_change))
        st = bs_fail(err, MS_ERR_INVALID, "postgresql store %s: table '%s' has no %s; it gets one at its next "
                     "`mlship features load`", s->where, table, sc->key[0] ? "change numbers" : "primary key");
    if (st != MS_OK) st_table_schema_free(sc);
    return st;
}

typedef struct change_ctx {
    st_table_schema *sc;
    st_change_fn fn;
    void *ctx;
    double *vals;
} change_ctx;

static int change_row(void *p, const PGresult *res)
{
    change_ctx *c = p;
    int n = c->sc->n;
    for (int i = 0; i < n; i++)
        c->vals[i] = PQgetisnull(res, 0, 1 + i) ? NAN : strtod(PQgetvalue(res, 0, 1 + i), NULL);
    st_change_row row = {PQgetvalue(res, 0, 0), c->vals, strtoll(PQgetvalue(res, 0, 1 + n), NULL, 10),
                         strtoll(PQgetvalue(res, 0, 2 + n), NULL, 10)};
    return c->fn(c->ctx, c->sc->key, (const char *const *)c->sc->cols, n, &row);
}

ms_status pg_changes(st_store *base, const char *table, int64_t since, size_t limit, st_change_fn fn, void *ctx,
                     ms_error *err)
{
    pg_store *s = (pg_store *)base;
    ms_status st = pg_ready(s, err);
    if (st == MS_OK) st = pg_exec(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    st_table_schema sc;
    if (st == MS_OK) st = read_schema(s, table, &sc, err);
    if (st != MS_OK) { pg_rollback(s); return st; }
    st_sb q = {0};
    st_sb_puts(&q, "SELECT ");
    st_sb_ident(&q, sc.key);
    for (int i = 0; i < sc.n; i++) {
        st_sb_puts(&q, ", ");
        st_sb_ident(&q, sc.cols[i]);
    }
    st_sb_puts(&q, ", " ST_CHANGE_COL ", " ST_UPDATED_COL " FROM ");
    st_sb_ident(&q, table);
    st_sb_puts(&q, " WHERE " ST_CHANGE_COL " > $1 ORDER BY " ST_CHANGE_COL " LIMIT $2");
    char a[32], b[32];
    snprintf(a, sizeof a, "%lld", (long long)since);
    snprintf(b, sizeof b, "%zu", limit);
    const char *p[2] = {a, b};
    change_ctx c = {&sc, fn, ctx, calloc((size_t)sc.n + 1, sizeof(double))};
    if (q.oom || !c.vals) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st == MS_OK && !fn(ctx, sc.key, (const char *const *)sc.cols, sc.n, NULL))
        st = pg_stream(s, q.p, 2, p, change_row, &c, err);
    pg_rollback(s);
    free(c.vals);
    st_sb_free(&q);
    st_table_schema_free(&sc);
    return st;
}

#endif
