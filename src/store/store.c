/* store.c: opening a store by URL, checking every argument once for all backends, and the
 * helpers the backends share. The backends live in store_sqlite.c, store_pg.c, store_redis.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"

#include "base/bs_name.h"

/* ==== helpers =========================================================================== */

void st_table_schema_free(st_table_schema *sc)
{
    for (int i = 0; i < sc->n; i++) free(sc->cols[i]);
    free(sc->cols);
}

ms_status st_not_built(ms_error *err, const char *what, const char *knob, const char *pkg)
{
    return bs_fail(err, MS_ERR_UNSUPPORTED,
                   "mlship was built without %s support (rebuild with 'make %s=1' after "
                   "installing %s)",
                   what, knob, pkg);
}

int st_parse_num_n(const char *s, size_t n, double *out)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    if (n == 0 || n > 63) return -1;
    char buf[64];
    memcpy(buf, s, n);
    buf[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 'x' || buf[i] == 'X') return -1; /* no hex floats */
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n) return -1;
    if (errno == ERANGE && fabs(v) > 1) return -1; /* overflow; underflow to 0 is fine */
    *out = v;
    return 0;
}

int st_parse_num(const char *s, double *out) { return st_parse_num_n(s, strlen(s), out); }
int st_parse_number(const char *s, double *out) { return st_parse_num(s, out); }

void st_sb_put(st_sb *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void st_sb_puts(st_sb *b, const char *s) { st_sb_put(b, s, strlen(s)); }

void st_sb_printf(st_sb *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        st_sb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    st_sb_put(b, big, (size_t)n);
    free(big);
}

void st_sb_ident(st_sb *b, const char *ident)
{
    st_sb_put(b, "\"", 1);
    st_sb_puts(b, ident); /* checked: no quotes inside */
    st_sb_put(b, "\"", 1);
}

void st_sb_free(st_sb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

char *st_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

int64_t st_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void st_copy(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

void st_run_make_id(char *dst, size_t cap)
{
    static unsigned long counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char t[32];
    strftime(t, sizeof t, "%Y%m%dT%H%M%SZ", &tm);
    unsigned long r = ((unsigned long)ts.tv_nsec / 1000) ^ ((unsigned long)getpid() << 8) ^
                      (counter++ * 2654435761u);
    snprintf(dst, cap, "%s-%06lx", t, r & 0xffffff);
}

/* ==== URLs ============================================================================== */

ms_status st_open(const char *url, st_store **out, ms_error *err)
{
    return st_open_flags(url, 0, out, err);
}

ms_status st_open_flags(const char *url, int flags, st_store **out, ms_error *err)
{
    *out = NULL;
    bs_url u;
    ms_status st = bs_url_parse(url, &u, err);
    if (st != MS_OK) return st;
    static const st_backend_ops *const by_scheme[] = {
        [BS_URL_SQLITE] = &st_sqlite_ops, [BS_URL_POSTGRES] = &st_pg_ops,
        [BS_URL_REDIS] = &st_redis_ops};
    st = by_scheme[u.scheme]->open(&u, flags, out, err);
    bs_url_free(&u);
    return st;
}

void st_close(st_store *s)
{
    if (s) s->ops->close(s);
}

const char *st_backend(const st_store *s) { return s->ops->name; }

int st_backend_available(const char *backend)
{
    if (strcmp(backend, "sqlite") == 0) return st_sqlite_built;
    if (strcmp(backend, "postgresql") == 0 || strcmp(backend, "postgres") == 0) return st_pg_built;
    if (strcmp(backend, "redis") == 0) return st_redis_built;
    return 0;
}

static ms_status unsupported(st_store *s, const char *what, ms_error *err)
{
    return bs_fail(err, MS_ERR_UNSUPPORTED,
                   "the %s store does not support %s; use a sqlite:// or postgresql:// store",
                   s->ops->name, what);
}

/* ==== features ========================================================================== */

static ms_status check_spec(const st_features *spec, ms_error *err)
{
    ms_status st = bs_check_ident("table", spec->table, err);
    if (st == MS_OK) st = bs_check_ident("key column", spec->key, err);
    if (st != MS_OK) return st;
    if (spec->ncolumns < 0 || (spec->ncolumns > 0 && !spec->columns))
        return bs_fail(err, MS_ERR_INVALID, "bad feature column list");
    for (int i = 0; i < spec->ncolumns; i++) {
        if ((st = bs_check_ident("column", spec->columns[i], err)) != MS_OK) return st;
        if (strcmp(spec->columns[i], spec->key) == 0)
            return bs_fail(err, MS_ERR_INVALID, "column '%s' is the key column, not a feature",
                           spec->key);
        for (int j = 0; j < i; j++)
            if (strcmp(spec->columns[i], spec->columns[j]) == 0)
                return bs_fail(err, MS_ERR_INVALID, "column '%s' is listed twice",
                               spec->columns[i]);
    }
    return MS_OK;
}

ms_status st_features_fetch(st_store *s, const st_features *spec, const char *const *keys,
                            size_t nkeys, float *out, uint8_t *found, ms_error *err)
{
    ms_status st = check_spec(spec, err);
    if (st != MS_OK) return st;
    if (spec->ncolumns == 0)
        return bs_fail(err, MS_ERR_INVALID, "no feature columns to fetch from '%s'",
                       spec->table);
    for (size_t i = 0; i < nkeys; i++)
        if (!keys[i]) return bs_fail(err, MS_ERR_INVALID, "key %zu is missing", i);
    for (size_t i = 0; i < nkeys * (size_t)spec->ncolumns; i++) out[i] = NAN;
    memset(found, 0, nkeys);
    if (nkeys == 0) return MS_OK;
    if (!s->ops->fetch) return unsupported(s, "features", err);
    return s->ops->fetch(s, spec, keys, nkeys, out, found, err);
}

ms_status st_features_changes(st_store *s, const char *table, int64_t since, size_t limit,
                              st_change_fn fn, void *ctx, ms_error *err)
{
    ms_status st = bs_check_ident("table", table, err);
    if (st != MS_OK) return st;
    if (since < 0 || limit < 1) return bs_fail(err, MS_ERR_INVALID, "changes of '%s': since must be >= 0 and limit >= 1", table);
    if (!s->ops->changes) return unsupported(s, "change cursors on features (since-queries)", err);
    return s->ops->changes(s, table, since, limit, fn, ctx, err);
}

ms_status st_upsert_begin(st_store *s, const st_features *spec, st_upsert **out, ms_error *err)
{
    *out = NULL;
    ms_status st = check_spec(spec, err);
    if (st != MS_OK) return st;
    for (int i = -1; i < spec->ncolumns; i++) {
        const char *c = i < 0 ? spec->key : spec->columns[i];
        if (strcmp(c, ST_CHANGE_COL) == 0 || strcmp(c, ST_UPDATED_COL) == 0)
            return bs_fail(err, MS_ERR_INVALID, "column '%s' is reserved (the store's change cursor)", c);
    }
    if (!s->ops->upsert_begin) return unsupported(s, "features", err);
    st = s->ops->upsert_begin(s, spec, out, err);
    if (st == MS_OK) {
        (*out)->store = s;
        (*out)->ncolumns = spec->ncolumns;
        (*out)->rows = 0;
    }
    return st;
}

ms_status st_upsert_put(st_upsert *u, const char *const *cells, size_t nrows, ms_error *err)
{
    int nc = u->ncolumns, w = nc + 1;
    double *vals = malloc(sizeof(double) * (nrows * (size_t)nc + 1));
    if (!vals) {
        st_upsert_abort(u);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    for (size_t r = 0; r < nrows; r++) {
        const char *key = cells[r * (size_t)w];
        if (!key || !*key) {
            free(vals);
            ms_status st = bs_fail(err, MS_ERR_INVALID, "row %zu has an empty key", u->rows + r + 1);
            st_upsert_abort(u);
            return st;
        }
        for (int c = 0; c < nc; c++) {
            const char *v = cells[r * (size_t)w + 1 + (size_t)c];
            double *d = &vals[r * (size_t)nc + (size_t)c];
            if (!v || !*v) {
                *d = NAN;
            } else if (st_parse_num(v, d) != 0) {
                free(vals);
                ms_status st = bs_fail(err, MS_ERR_INVALID,
                                       "key '%.100s': value '%.60s' is not a number", key, v);
                st_upsert_abort(u);
                return st;
            }
        }
    }
    ms_status st = u->store->ops->upsert_put(u, cells, vals, nrows, err);
    free(vals);
    if (st != MS_OK) {
        st_upsert_abort(u);
        return st;
    }
    u->rows += nrows;
    return MS_OK;
}

ms_status st_upsert_commit(st_upsert *u, size_t *rows_written, ms_error *err)
{
    size_t rows = u->rows;
    ms_status st = u->store->ops->upsert_commit(u, err); /* frees u either way */
    if (rows_written) *rows_written = st == MS_OK ? rows : 0;
    return st;
}

void st_upsert_abort(st_upsert *u)
{
    if (u) u->store->ops->upsert_abort(u);
}

/* ==== runs and predictions ============================================================== */

const char *st_run_status_name(st_run_status st)
{
    switch (st) {
    case ST_RUN_RUNNING: return "running";
    case ST_RUN_COMPLETE: return "complete";
    case ST_RUN_FAILED: return "failed";
    case ST_RUN_PUBLISHED: return "published";
    }
    return "unknown";
}

#define NEED(op, what)                                                                        \
    do {                                                                                      \
        if (!s->ops->op) return unsupported(s, what, err);                                    \
    } while (0)

ms_status st_run_begin(st_store *s, const st_run *run, ms_error *err)
{
    ms_status st = bs_check_name("run id", run->run_id, err);
    if (st == MS_OK) st = bs_check_name("model name", run->model, err);
    if (st == MS_OK) st = bs_check_name("model version", run->model_version, err);
    if (st != MS_OK) return st;
    if (run->shard_count < 1 || run->shard < 0 || run->shard >= run->shard_count)
        return bs_fail(err, MS_ERR_INVALID, "bad shard %d of %d", (int)run->shard,
                       (int)run->shard_count);
    if (memchr(run->input_fingerprint, 0, sizeof run->input_fingerprint) == NULL)
        return bs_fail(err, MS_ERR_INVALID, "input fingerprint is not terminated");
    NEED(run_begin, "batch runs");
    return s->ops->run_begin(s, run, err);
}

ms_status st_run_get(st_store *s, const char *run_id, int32_t shard, st_run *out, int *found,
                     ms_error *err)
{
    *found = 0;
    ms_status st = bs_check_name("run id", run_id, err);
    if (st != MS_OK) return st;
    NEED(run_get, "batch runs");
    return s->ops->run_get(s, run_id, shard, out, found, err);
}

ms_status st_run_latest(st_store *s, const char *model, int32_t shard, st_run *out, int *found,
                        ms_error *err)
{
    *found = 0;
    ms_status st = bs_check_name("model name", model, err);
    if (st != MS_OK) return st;
    NEED(run_latest, "batch runs");
    return s->ops->run_latest(s, model, shard, out, found, err);
}

ms_status st_run_list(st_store *s, const char *model, int (*fn)(void *ctx, const st_run *run),
                      void *ctx, ms_error *err)
{
    ms_status st = bs_check_name("model name", model, err);
    if (st != MS_OK) return st;
    NEED(run_list, "batch runs");
    return s->ops->run_list(s, model, fn, ctx, err);
}

ms_status st_run_write_chunk(st_store *s, const char *run_id, int32_t shard, int64_t chunk,
                             const st_prediction *preds, size_t npreds,
                             const st_reject *rejects, size_t nrejects, ms_error *err)
{
    ms_status st = bs_check_name("run id", run_id, err);
    if (st != MS_OK) return st;
    if (chunk < 0) return bs_fail(err, MS_ERR_INVALID, "bad chunk number %lld", (long long)chunk);
    for (size_t i = 0; i < npreds; i++)
        if (!preds[i].key || !*preds[i].key || !preds[i].outputs)
            return bs_fail(err, MS_ERR_INVALID, "prediction %zu of chunk %lld has no key or "
                           "no outputs", i, (long long)chunk);
    for (size_t i = 0; i < nrejects; i++)
        if (!rejects[i].reason)
            return bs_fail(err, MS_ERR_INVALID, "reject %zu has no reason", i);
    NEED(write_chunk, "predictions");
    return s->ops->write_chunk(s, run_id, shard, chunk, preds, npreds, rejects, nrejects, err);
}

ms_status st_run_fail(st_store *s, const char *run_id, int32_t shard, ms_error *err)
{
    ms_status st = bs_check_name("run id", run_id, err);
    if (st != MS_OK) return st;
    NEED(run_fail, "batch runs");
    return s->ops->run_fail(s, run_id, shard, err);
}

ms_status st_run_complete(st_store *s, const char *run_id, int32_t shard, int keep,
                          int *published, ms_error *err)
{
    int dummy;
    if (!published) published = &dummy;
    *published = 0;
    ms_status st = bs_check_name("run id", run_id, err);
    if (st != MS_OK) return st;
    NEED(run_complete, "batch runs");
    return s->ops->run_complete(s, run_id, shard, keep, published, err);
}

ms_status st_run_publish(st_store *s, const char *run_id, ms_error *err)
{
    ms_status st = bs_check_name("run id", run_id, err);
    if (st != MS_OK) return st;
    NEED(run_publish, "batch runs");
    return s->ops->run_publish(s, run_id, err);
}

ms_status st_runs_prune(st_store *s, const char *model, int keep, ms_error *err)
{
    ms_status st = bs_check_name("model name", model, err);
    if (st != MS_OK) return st;
    if (keep <= 0) return MS_OK;
    NEED(runs_prune, "batch runs");
    return s->ops->runs_prune(s, model, keep, err);
}

ms_status st_pred_lookup(st_store *s, const char *model, const char *const *keys, size_t nkeys,
                         st_pred_fn fn, void *ctx, ms_error *err)
{
    ms_status st = bs_check_name("model name", model, err);
    if (st != MS_OK) return st;
    for (size_t i = 0; i < nkeys; i++)
        if (!keys[i]) return bs_fail(err, MS_ERR_INVALID, "key %zu is missing", i);
    NEED(pred_lookup, "predictions");
    return s->ops->pred_lookup(s, model, keys, nkeys, fn, ctx, err);
}

ms_status st_pred_scan(st_store *s, const char *model, st_pred_fn fn, void *ctx, ms_error *err)
{
    ms_status st = bs_check_name("model name", model, err);
    if (st != MS_OK) return st;
    NEED(pred_scan, "predictions");
    return s->ops->pred_scan(s, model, fn, ctx, err);
}

ms_status st_run_rejects(st_store *s, const char *run_id,
                         int (*fn)(void *ctx, int32_t shard, int64_t line, const char *reason),
                         void *ctx, ms_error *err)
{
    ms_status st = bs_check_name("run id", run_id, err);
    if (st != MS_OK) return st;
    NEED(run_rejects, "batch runs");
    return s->ops->run_rejects(s, run_id, fn, ctx, err);
}

ms_status st_run_keys(st_store *s, const char *run_id, int (*fn)(void *ctx, const char *key),
                      void *ctx, ms_error *err)
{
    ms_status st = bs_check_name("run id", run_id, err);
    if (st != MS_OK) return st;
    NEED(run_keys, "batch runs");
    return s->ops->run_keys(s, run_id, fn, ctx, err);
}

ms_status st_query(st_store *s, const char *sql, st_row_fn fn, void *ctx, ms_error *err)
{
    if (!sql || !*sql) return bs_fail(err, MS_ERR_INVALID, "empty query");
    NEED(query, "SQL queries");
    return s->ops->query(s, sql, fn, ctx, err);
}

/* ==== stream results and tickets ======================================================== */

/* Event ids come from producers (sm_event.h), so they are not held to the name rule: 1 to
 * ST_NAME_MAX - 1 bytes, no control characters. */
static ms_status check_event_id(const char *what, const char *id, ms_error *err)
{
    if (!id || !*id) return bs_fail(err, MS_ERR_INVALID, "%s is empty", what);
    size_t n = strnlen(id, ST_NAME_MAX);
    if (n >= ST_NAME_MAX)
        return bs_fail(err, MS_ERR_INVALID, "%s '%.40s...' is longer than %d bytes", what, id,
                       ST_NAME_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return bs_fail(err, MS_ERR_INVALID, "%s '%.40s' has a control character", what, id);
    return MS_OK;
}

static ms_status check_key(const char *what, const char *key, ms_error *err)
{
    if (!key) return bs_fail(err, MS_ERR_INVALID, "%s is missing", what);
    if (strnlen(key, ST_KEY_MAX) >= ST_KEY_MAX)
        return bs_fail(err, MS_ERR_INVALID, "%s '%.40s...' is longer than %d bytes", what, key,
                       ST_KEY_MAX - 1);
    return MS_OK;
}

static ms_status check_stream_row(const st_stream_row *r, size_t i, ms_error *err)
{
    char what[48];
    snprintf(what, sizeof what, "stream row %zu: event id", i);
    ms_status st = check_event_id(what, r->event_id, err);
    if (st != MS_OK) return st;
    snprintf(what, sizeof what, "stream row %zu: model name", i);
    if ((st = bs_check_name(what, r->model, err)) != MS_OK) return st;
    snprintf(what, sizeof what, "stream row %zu: key", i);
    if ((st = check_key(what, r->key, err)) != MS_OK) return st;
    if (r->order < 0)
        return bs_fail(err, MS_ERR_INVALID, "stream row %zu: order %lld is negative", i,
                       (long long)r->order);
    if (r->error) {
        if (r->outputs)
            return bs_fail(err, MS_ERR_INVALID, "stream row %zu: event '%s' has both outputs "
                           "and an error", i, r->event_id);
        if (r->model_version && *r->model_version) {
            snprintf(what, sizeof what, "stream row %zu: model version", i);
            return bs_check_name(what, r->model_version, err);
        }
        return MS_OK;
    }
    if (!r->outputs)
        return bs_fail(err, MS_ERR_INVALID, "stream row %zu: event '%s' has neither outputs "
                       "nor an error", i, r->event_id);
    snprintf(what, sizeof what, "stream row %zu: model version", i);
    return bs_check_name(what, r->model_version, err);
}

ms_status st_stream_put(st_store *s, const st_stream_row *rows, size_t n, int64_t ttl_s,
                        ms_error *err)
{
    if (n && !rows) return bs_fail(err, MS_ERR_INVALID, "no stream rows given");
    for (size_t i = 0; i < n; i++) {
        ms_status st = check_stream_row(&rows[i], i, err);
        if (st != MS_OK) return st;
    }
    if (n == 0) return MS_OK;
    NEED(stream_put, "stream results");
    return s->ops->stream_put(s, rows, n, ttl_s, st_now_ms(), err);
}

ms_status st_stream_event(st_store *s, const char *event_id, st_event_fn fn, void *ctx,
                          ms_error *err)
{
    ms_status st = check_event_id("event id", event_id, err);
    if (st != MS_OK) return st;
    NEED(stream_event, "stream results");
    return s->ops->stream_event(s, event_id, fn, ctx, err);
}

ms_status st_pred_latest(st_store *s, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err)
{
    ms_status st = bs_check_name("model name", model, err);
    if (st != MS_OK) return st;
    for (size_t i = 0; i < nkeys; i++)
        if (!keys[i]) return bs_fail(err, MS_ERR_INVALID, "key %zu is missing", i);
    if (nkeys == 0) return MS_OK;
    NEED(pred_latest, "stream results");
    return s->ops->pred_latest(s, model, keys, nkeys, fn, ctx, err);
}

ms_status st_stream_prune(st_store *s, int64_t max_age_s, ms_error *err)
{
    if (max_age_s < 0 || max_age_s > INT64_MAX / 1000)
        return bs_fail(err, MS_ERR_INVALID, "bad stream result age %lld s", (long long)max_age_s);
    NEED(stream_prune, "stream results");
    return s->ops->stream_prune(s, st_now_ms() - max_age_s * 1000, err);
}

/* A ticket's fixed fields must be terminated inside their arrays. */
static ms_status check_ticket_fields(const st_ticket *t, ms_error *err)
{
    if (!memchr(t->ticket, 0, sizeof t->ticket) || !memchr(t->model, 0, sizeof t->model) ||
        !memchr(t->event_id, 0, sizeof t->event_id))
        return bs_fail(err, MS_ERR_INVALID, "ticket fields are not terminated");
    if (!memchr(t->key, 0, sizeof t->key))
        return bs_fail(err, MS_ERR_INVALID, "ticket key is longer than %d bytes", ST_KEY_MAX - 1);
    ms_status st = bs_check_name("ticket", t->ticket, err);
    if (st == MS_OK) st = bs_check_name("model name", t->model, err);
    if (st == MS_OK) st = check_event_id("ticket event id", t->event_id, err);
    if (st == MS_OK && !t->key[0])
        st = bs_fail(err, MS_ERR_INVALID, "ticket key is empty (tickets coalesce by key)");
    return st;
}

ms_status st_ticket_claim(st_store *s, const st_ticket *fresh, int64_t pending_ms,
                          st_ticket *out, int *created, ms_error *err)
{
    *created = 0;
    ms_status st = check_ticket_fields(fresh, err);
    if (st != MS_OK) return st;
    if (pending_ms < 0)
        return bs_fail(err, MS_ERR_INVALID, "bad pending window %lld ms", (long long)pending_ms);
    NEED(ticket_claim, "tickets");
    st_ticket t = *fresh;
    t.created_ms = st_now_ms();
    return s->ops->ticket_claim(s, &t, pending_ms, out, created, err);
}

ms_status st_ticket_get(st_store *s, const char *ticket, st_ticket *out, int *found,
                        ms_error *err)
{
    *found = 0;
    ms_status st = bs_check_name("ticket", ticket, err);
    if (st != MS_OK) return st;
    NEED(ticket_get, "tickets");
    memset(out, 0, sizeof *out);
    return s->ops->ticket_get(s, ticket, out, found, err);
}

ms_status st_ticket_drop(st_store *s, const char *ticket, ms_error *err)
{
    ms_status st = bs_check_name("ticket", ticket, err);
    if (st != MS_OK) return st;
    NEED(ticket_drop, "tickets");
    return s->ops->ticket_drop(s, ticket, err);
}
