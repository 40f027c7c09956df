/* store_redis.c: the Redis backend (hiredis), for features as online feature stores keep
 * them: one hash per entity, "<table>:<key>", one field per column (the key column included, so
 * an entity exists even when all its values are missing). Reads are one pipelined HMGET per
 * key; writes are pipelined HSET/HDEL. Redis has no multi-command rollback, so an upsert is
 * not atomic: `mlship features load` checks the whole file before it writes a row.
 * Batch runs and SQL queries answer MS_ERR_UNSUPPORTED (use a SQL store for batch runs);
 * stream results and tickets are store_redis_stream.c's (store_redis_int.h). */
#include "store/store_int.h"

#ifndef MS_WITH_REDIS
#define MS_WITH_REDIS 1
#endif

#if !MS_WITH_REDIS

const int st_redis_built = 0;
static ms_status rd_open_stub(const bs_url *u, int flags, st_store **out, ms_error *err)
{
    return st_not_built(err, "Redis", "WITH_REDIS", "libhiredis-dev");
}
static void rd_close_stub(st_store *s) {}
const st_backend_ops st_redis_ops = {.name = "redis", .open = rd_open_stub,
                                     .close = rd_close_stub};

#else

#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "store/store_redis_int.h"

const int st_redis_built = 1;

#define PIPE_ROWS 1000 /* commands in flight before reading their replies */

typedef struct rd_upsert {
    st_upsert base;
    char *table, *key;
    char **columns;
    size_t pending; /* replies not yet read */
} rd_upsert;

ms_status rd_err(rd_store *s, ms_error *err, const char *what, const char *detail)
{
    return bs_fail(err, MS_ERR_RUNTIME, "redis store %s: %s: %s", s->where, what,
                   detail ? detail : (s->c && s->c->errstr[0] ? s->c->errstr : "error"));
}

static ms_status rd_simple(rd_store *s, int argc, const char **argv, ms_error *err)
{
    redisReply *r = redisCommandArgv(s->c, argc, argv, NULL);
    if (!r) return rd_err(s, err, argv[0], NULL);
    ms_status st = MS_OK;
    if (r->type == REDIS_REPLY_ERROR) st = rd_err(s, err, argv[0], r->str);
    freeReplyObject(r);
    return st;
}

static ms_status rd_login(rd_store *s, ms_error *err)
{
    ms_status st = MS_OK;
    if (s->password) {
        const char *a3[] = {"AUTH", s->user, s->password}, *a2[] = {"AUTH", s->password};
        st = s->user ? rd_simple(s, 3, a3, err) : rd_simple(s, 2, a2, err);
    }
    if (st == MS_OK && s->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", s->db);
        const char *a[] = {"SELECT", db};
        st = rd_simple(s, 2, a, err);
    }
    return st;
}

ms_status rd_ready(rd_store *s, ms_error *err)
{
    if (!s->c->err) return MS_OK;
    if (redisReconnect(s->c) != REDIS_OK) return rd_err(s, err, "reconnect", NULL);
    struct timeval tv = {30, 0};
    redisSetTimeout(s->c, tv);
    return rd_login(s, err);
}

static void rd_close(st_store *base)
{
    rd_store *s = (rd_store *)base;
    if (s->c) redisFree(s->c);
    free(s->user);
    free(s->password);
    free(s);
}

static ms_status rd_open(const bs_url *u, int flags, st_store **out, ms_error *err)
{
    rd_store *s = calloc(1, sizeof *s);
    if (!s) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    s->base.ops = &st_redis_ops;
    snprintf(s->where, sizeof s->where, "%s:%d/%d", u->host, u->port, u->db);
    s->db = u->db;
    s->user = u->user ? st_strdup(u->user) : NULL;
    s->password = u->password ? st_strdup(u->password) : NULL;
    struct timeval tv = {10, 0};
    s->c = redisConnectWithTimeout(u->host, u->port, tv);
    if (!s->c || s->c->err) {
        ms_status st = bs_fail(err, MS_ERR_RUNTIME, "cannot connect to redis store %s: %s",
                               s->where, s->c ? s->c->errstr : "out of memory");
        rd_close(&s->base);
        return st;
    }
    struct timeval rw = {30, 0};
    redisSetTimeout(s->c, rw);
    ms_status st = rd_login(s, err);
    if (st != MS_OK) {
        rd_close(&s->base);
        return st;
    }
    *out = &s->base;
    return MS_OK;
}

/* "<table>:<key>" into b (reset first). */
static void entity(st_sb *b, const char *table, const char *key)
{
    b->len = 0;
    st_sb_puts(b, table);
    st_sb_put(b, ":", 1);
    st_sb_puts(b, key);
}

static ms_status rd_fetch(st_store *base, const st_features *spec, const char *const *keys,
                          size_t nkeys, float *out, uint8_t *found, ms_error *err)
{
    rd_store *s = (rd_store *)base;
    ms_status st = rd_ready(s, err);
    if (st != MS_OK) return st;
    int nc = spec->ncolumns, argc = nc + 3;
    const char **argv = malloc(sizeof *argv * (size_t)argc);
    size_t *lens = malloc(sizeof *lens * (size_t)argc);
    st_sb name = {0};
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    argv[0] = "HMGET";
    for (int c = 0; c < nc; c++) argv[2 + c] = spec->columns[c];
    argv[2 + nc] = spec->key;
    for (int i = 0; i < argc; i++) lens[i] = i == 1 ? 0 : strlen(argv[i]);
    /* pipelined: send every HMGET, then read the replies in order */
    for (size_t k = 0; k < nkeys && st == MS_OK; k++) {
        entity(&name, spec->table, keys[k]);
        if (name.oom) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        argv[1] = name.p;
        lens[1] = name.len;
        if (st == MS_OK && redisAppendCommandArgv(s->c, argc, argv, lens) != REDIS_OK)
            st = rd_err(s, err, "HMGET", NULL);
    }
    size_t sent = st == MS_OK ? nkeys : 0;
    for (size_t k = 0; k < sent; k++) {
        redisReply *r = NULL;
        if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r) {
            if (st == MS_OK) st = rd_err(s, err, "HMGET", NULL);
            break; /* the connection is broken; rd_ready reconnects next time */
        }
        if (st == MS_OK) {
            if (r->type == REDIS_REPLY_ERROR) {
                st = bs_fail(err, MS_ERR_INVALID, "redis store %s: key '%s:%.100s': %s", s->where,
                             spec->table, keys[k], r->str);
            } else if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)(nc + 1)) {
                st = rd_err(s, err, "HMGET", "unexpected reply");
            } else {
                float *row = out + k * (size_t)nc;
                int any = r->element[nc]->type == REDIS_REPLY_STRING;
                for (int c = 0; c < nc && st == MS_OK; c++) {
                    redisReply *v = r->element[c];
                    double d;
                    if (v->type != REDIS_REPLY_STRING) {
                        row[c] = NAN;
                    } else if (v->len == 0) {
                        row[c] = NAN;
                        any = 1;
                    } else if (st_parse_num_n(v->str, v->len, &d) == 0) {
                        row[c] = (float)d;
                        any = 1;
                    } else {
                        st = bs_fail(err, MS_ERR_INVALID,
                                     "table '%s', key '%.100s', column '%s': stored value "
                                     "'%.40s' is not a number",
                                     spec->table, keys[k], spec->columns[c], v->str);
                    }
                }
                if (st == MS_OK) found[k] = (uint8_t)any;
            }
        }
        freeReplyObject(r);
    }
    st_sb_free(&name);
    free(argv);
    free(lens);
    return st;
}

/* ---- upsert ---------------------------------------------------------------------------- */

static ms_status drain(rd_upsert *u, ms_error *err)
{
    rd_store *s = (rd_store *)u->base.store;
    ms_status st = MS_OK;
    for (; u->pending > 0; u->pending--) {
        redisReply *r = NULL;
        if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r) {
            u->pending = 0;
            return st == MS_OK ? rd_err(s, err, "HSET", NULL) : st;
        }
        if (st == MS_OK && r->type == REDIS_REPLY_ERROR)
            st = bs_fail(err, MS_ERR_INVALID, "redis store %s: %s", s->where, r->str);
        freeReplyObject(r);
    }
    return st;
}

static void rd_upsert_free(rd_upsert *u)
{
    if (u->columns)
        for (int i = 0; i < u->base.ncolumns; i++) free(u->columns[i]);
    free(u->columns);
    free(u->table);
    free(u->key);
    free(u);
}

static ms_status rd_upsert_begin(st_store *base, const st_features *spec, st_upsert **out,
                                 ms_error *err)
{
    rd_store *s = (rd_store *)base;
    ms_status st = rd_ready(s, err);
    if (st != MS_OK) return st;
    rd_upsert *u = calloc(1, sizeof *u);
    if (!u) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    u->base.ncolumns = spec->ncolumns;
    u->table = st_strdup(spec->table);
    u->key = st_strdup(spec->key);
    u->columns = calloc((size_t)spec->ncolumns + 1, sizeof *u->columns);
    int ok = u->table && u->key && u->columns;
    for (int i = 0; ok && i < spec->ncolumns; i++)
        ok = (u->columns[i] = st_strdup(spec->columns[i])) != NULL;
    if (!ok) {
        rd_upsert_free(u);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    *out = &u->base;
    return MS_OK;
}

static ms_status rd_upsert_put(st_upsert *base, const char *const *cells, const double *vals,
                               size_t nrows, ms_error *err)
{
    rd_upsert *u = (rd_upsert *)base;
    rd_store *s = (rd_store *)base->store;
    int nc = base->ncolumns;
    size_t cap = 4 + 2 * (size_t)nc;
    const char **argv = malloc(sizeof *argv * cap);
    const char **del = malloc(sizeof *del * cap);
    st_sb name = {0};
    ms_status st = MS_OK;
    if (!argv || !del) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (size_t r = 0; r < nrows && st == MS_OK; r++) {
        const char *const *row = cells + r * (size_t)(nc + 1);
        entity(&name, u->table, row[0]);
        if (name.oom) {
            st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            break;
        }
        int a = 0, d = 0;
        argv[a++] = "HSET";
        argv[a++] = name.p;
        argv[a++] = u->key;
        argv[a++] = row[0];
        del[d++] = "HDEL";
        del[d++] = name.p;
        for (int c = 0; c < nc; c++) {
            const char *v = row[1 + c];
            if (!v || !*v) {
                del[d++] = u->columns[c];
            } else {
                argv[a++] = u->columns[c];
                argv[a++] = v;
            }
        }
        if (redisAppendCommandArgv(s->c, a, argv, NULL) != REDIS_OK) {
            st = rd_err(s, err, "HSET", NULL);
            break;
        }
        u->pending++;
        if (d > 2) {
            if (redisAppendCommandArgv(s->c, d, del, NULL) != REDIS_OK) {
                st = rd_err(s, err, "HDEL", NULL);
                break;
            }
            u->pending++;
        }
        if (u->pending >= PIPE_ROWS) st = drain(u, err);
    }
    st_sb_free(&name);
    free(argv);
    free(del);
    return st;
}

static void rd_upsert_abort(st_upsert *base)
{
    rd_upsert *u = (rd_upsert *)base;
    drain(u, NULL); /* keep the connection in step; what was sent stays written */
    rd_upsert_free(u);
}

static ms_status rd_upsert_commit(st_upsert *base, ms_error *err)
{
    rd_upsert *u = (rd_upsert *)base;
    ms_status st = drain(u, err);
    rd_upsert_free(u);
    return st;
}

const st_backend_ops st_redis_ops = {
    .name = "redis",
    .open = rd_open,
    .close = rd_close,
    .fetch = rd_fetch,
    .upsert_begin = rd_upsert_begin,
    .upsert_put = rd_upsert_put,
    .upsert_commit = rd_upsert_commit,
    .upsert_abort = rd_upsert_abort,
    .stream_put = rd_stream_put,
    .stream_event = rd_stream_event,
    .pred_latest = rd_pred_latest,
    .stream_prune = rd_stream_prune,
    .ticket_claim = rd_ticket_claim,
    .ticket_get = rd_ticket_get,
    .ticket_drop = rd_ticket_drop,
};

#endif
