/* sv_stream.c: triggers and tickets, the streaming flow of `mlship serve --queue URL` (see
 * sv_stream.h): the two routes, the queue-handle pool, the cached queue status for
 * backpressure, the in-process ticket cache in front of st_ticket_claim, and the poller
 * thread that answers suspended long-polls. */
#define _GNU_SOURCE
#include "serve/sv_stream.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/bs_clock.h"
#include "base/bs_hash.h"
#include "queue/queue.h"
#include "serve/sv_int.h"
#include "serve/sv_log.h"
#include "serve/sv_stream_models.h"
#include "store/store.h"
#include "stream/sm_worker.h"

#define QPOOL_MAX 64
#define CACHE_SLOTS 1024      /* tickets remembered per process (a cache: the store decides) */
#define STATUS_TTL_NS 100000000u /* queue status is read at most every 100 ms */
#define POLL_NS 5000000L      /* the poller's period while long-polls wait */

/* ---- state ------------------------------------------------------------------------------ */

typedef struct cached_ticket {
    int used;
    st_ticket t;
} cached_ticket;

typedef struct waiter {
    struct waiter *next;
    sv_req *r;
    st_ticket t;
    uint64_t deadline_ns;
} waiter;

struct sv_stream {
    sv_server *srv;
    char *queue_url;
    char shown[512];          /* the queue URL as messages name it (password hidden) */
    pthread_mutex_t mu;       /* the pools, the status, the cache, the waiters */
    qu_queue *qpool[QPOOL_MAX];
    int nq;
    int64_t unscored;         /* from the last qu_status */
    uint64_t status_ns;       /* when it was read (0: never) */
    int refreshing;
    cached_ticket cache[CACHE_SLOTS];
    waiter *waiters;
    int nwaiters;             /* suspended and not yet resumed (on the list or in a round) */
    pthread_cond_t cv;        /* a waiter arrived, or stop */
    atomic_int stop;
    pthread_t poller;
    atomic_ullong issued, coalesced, rejected, fresh;
    sm_models models;         /* the embedded workers' view of the repository */
    sm_worker *worker;        /* --stream-workers N: one worker of N threads, or NULL */
    int64_t retention_s;      /* stream results and tickets older than this are deleted */
    uint64_t next_prune_ns;   /* the poller's next st_stream_prune */
};

/* ---- the queue: a pool of handles (a handle is one connection, one thread at a time) ----- */

static ms_status queue_get(sv_stream *st, qu_queue **out, ms_error *err)
{
    pthread_mutex_lock(&st->mu);
    *out = st->nq ? st->qpool[--st->nq] : NULL;
    pthread_mutex_unlock(&st->mu);
    if (*out) return MS_OK;
    qu_opts o = qu_opts_default();
    return qu_open(st->queue_url, &o, out, err);
}

static void queue_put(sv_stream *st, qu_queue *q, ms_status last)
{
    if (!q) return;
    if (last == MS_ERR_RUNTIME) { qu_close(q); return; } /* a broken connection is not pooled */
    pthread_mutex_lock(&st->mu);
    if (st->nq < QPOOL_MAX) st->qpool[st->nq++] = q, q = NULL;
    pthread_mutex_unlock(&st->mu);
    qu_close(q);
}

/* Unscored events on the queue, read at most every 100 ms by one caller at a time (the others
 * take the last value): a trigger never waits on qu_status. -1 until the first read. */
static int64_t unscored(sv_stream *st)
{
    uint64_t now = bs_now_ns();
    pthread_mutex_lock(&st->mu);
    int64_t n = st->status_ns ? st->unscored : -1;
    int due = !st->refreshing && (!st->status_ns || now - st->status_ns > STATUS_TTL_NS);
    if (due) st->refreshing = 1;
    pthread_mutex_unlock(&st->mu);
    if (!due) return n;
    qu_queue *q = NULL;
    qu_stats qs = {0};
    ms_error err = {{0}};
    ms_status rc = queue_get(st, &q, &err);
    if (rc == MS_OK) rc = qu_status(q, &qs, &err);
    queue_put(st, q, rc);
    if (rc == MS_OK) n = qs.lag >= 0 ? qs.pending + qs.lag : qs.length;
    qu_stats_free(&qs);
    pthread_mutex_lock(&st->mu);
    if (rc == MS_OK) st->unscored = n, st->status_ns = now;
    st->refreshing = 0;
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* ---- the ticket cache ------------------------------------------------------------------- */

static cached_ticket *cache_slot(sv_stream *st, const char *model, const char *key)
{
    uint64_t h = bs_fnv1a(model, strlen(model) + 1, BS_FNV_INIT);
    h = bs_fnv1a(key, strlen(key), h);
    return &st->cache[h % CACHE_SLOTS];
}

/* The cached ticket of (model, key) if younger than pending_ms (copied to *out): 1, else 0. */
static int cache_find(sv_stream *st, const char *model, const char *key, int64_t pending_ms,
                      int64_t now_ms, st_ticket *out)
{
    pthread_mutex_lock(&st->mu);
    cached_ticket *c = cache_slot(st, model, key);
    int hit = c->used && strcmp(c->t.model, model) == 0 && strcmp(c->t.key, key) == 0 &&
              now_ms - c->t.created_ms < pending_ms;
    if (hit) *out = c->t;
    pthread_mutex_unlock(&st->mu);
    return hit;
}

static void cache_set(sv_stream *st, const st_ticket *t)
{
    pthread_mutex_lock(&st->mu);
    cached_ticket *c = cache_slot(st, t->model, t->key);
    c->used = 1;
    c->t = *t;
    pthread_mutex_unlock(&st->mu);
}

static void cache_forget(sv_stream *st, const st_ticket *t)
{
    pthread_mutex_lock(&st->mu);
    cached_ticket *c = cache_slot(st, t->model, t->key);
    if (c->used && strcmp(c->t.ticket, t->ticket) == 0) c->used = 0;
    pthread_mutex_unlock(&st->mu);
}

/* ---- small helpers ---------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "2025-06-01T02:00:03Z" as seconds since the epoch; -1 if it is not one. */
static int64_t iso_seconds(const char *s)
{
    struct tm tm = {0};
    char z = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &z) != 7 || z != 'Z')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/* 32 random hex digits (cap >= 33). */
static void random_hex(char *dst, size_t cap)
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) { /* only before Linux 3.17: the clock */
        uint64_t x = bs_now_ns() ^ ((uint64_t)now_ms() << 20);
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)i;
    }
    size_t n = 0;
    for (size_t i = 0; i < sizeof b && n + 2 < cap; i++) n += (size_t)snprintf(dst + n, cap - n, "%02x", b[i]);
}

static int ticket_name_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n >= ST_NAME_MAX) return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == ':' || *p == '-'))
            return 0;
    return 1;
}

static int not_configured(sv_server *s, sv_req *r)
{
    if (s->stream) return 0;
    sv_req_error(r, 501, "streaming is not configured on this server: start it with --queue URL (and --store URL)");
    return 1;
}

/* The stream settings of model m's config.json (its defaults when it does not serve). */
static sv_stream_cfg model_cfg(sv_server *s, const char *m)
{
    sv_stream_cfg c = sv_stream_cfg_default();
    sv_version *v = NULL;
    char why[300];
    if (sv_repo_acquire(s->repo, m, NULL, &v, why, sizeof why) == 0) {
        if (v->cfg) c = v->cfg->stream;
        sv_version_release(v);
    }
    return c;
}

/* ---- answers ---------------------------------------------------------------------------- */

static void put_field(mc_buf *b, const char *name, const char *val)
{
    mc_buf_printf(b, ",\"%s\":", name);
    mc_buf_put_json_str(b, val ? val : "");
}

static void answer_pending(sv_req *r, const char *ticket, int status)
{
    mc_buf_reset(&r->out);
    mc_buf_puts(&r->out, "{\"ticket\":");
    mc_buf_put_json_str(&r->out, ticket);
    mc_buf_puts(&r->out, ",\"status\":\"pending\"}");
    char loc[ST_NAME_MAX + 16];
    snprintf(loc, sizeof loc, "/v1/tickets/%s", ticket);
    sv_req_add_header(r, "Location", loc);
    r->content_type = "application/json";
    r->status = status;
}

typedef struct event_ctx {
    sv_req *r;
    const st_ticket *t;
    int answered;
} event_ctx;

/* The event's stored result, if any, as the ticket's 200 answer. */
static int on_event(void *ctx, const st_pred_row *row, const char *error)
{
    event_ctx *c = ctx;
    if (!row) return 0;
    mc_buf *b = &c->r->out;
    mc_buf_reset(b);
    mc_buf_puts(b, error || !row->outputs ? "{\"status\":\"failed\"" : "{\"status\":\"done\"");
    put_field(b, "ticket", c->t->ticket);
    put_field(b, "key", row->key ? row->key : c->t->key);
    put_field(b, "model", row->model ? row->model : c->t->model);
    if (error || !row->outputs) put_field(b, "error", error ? error : "no outputs stored");
    else {
        put_field(b, "model_version", row->model_version);
        put_field(b, "scored_at", row->scored_at);
        mc_buf_puts(b, ",\"outputs\":");
        mc_buf_puts(b, row->outputs);
    }
    mc_buf_putc(b, '}');
    c->r->content_type = "application/json";
    c->r->status = 200;
    c->answered = 1;
    return 1;
}

/* 1 when ticket t's event has a result (the response is then set), 0 when not yet; -1 when
 * the store failed (*rc, err). */
static int ticket_result(st_store *h, const st_ticket *t, sv_req *r, ms_status *rc, ms_error *err)
{
    event_ctx c = {r, t, 0};
    *rc = st_stream_event(h, t->event_id, on_event, &c, err);
    if (*rc != MS_OK) return -1;
    return c.answered;
}

/* ---- POST /v1/models/{m}/predictions/{key} ---------------------------------------------- */

typedef struct fresh_ctx {
    const char *version;
    int64_t max_age_s, now_s;
    mc_buf *out;
    int hit;
} fresh_ctx;

static int on_latest(void *ctx, size_t i, const st_pred_row *row)
{
    fresh_ctx *c = ctx;
    if (!row || !row->outputs || !row->model_version || strcmp(row->model_version, c->version) != 0) return 0;
    int64_t at = iso_seconds(row->scored_at);
    if (at < 0 || c->now_s - at >= c->max_age_s) return 0;
    mc_buf_puts(c->out, "{\"key\":");
    mc_buf_put_json_str(c->out, row->key);
    put_field(c->out, "model_version", row->model_version);
    put_field(c->out, "scored_at", row->scored_at);
    put_field(c->out, "source", row->source && strcmp(row->source, "stream") == 0 ? "stream" : "batch");
    mc_buf_puts(c->out, ",\"outputs\":");
    mc_buf_puts(c->out, row->outputs);
    mc_buf_putc(c->out, '}');
    c->hit = 1;
    return 1;
}

typedef struct trigger_body {
    cJSON *root;
    char *features; /* the event's "features" field text, or NULL */
    int64_t max_age_s;
} trigger_body;

/* The optional body {"features": [..] | {..} | "1,2,3", "max_age_s": N}; 0, or -1 with 400. */
static int parse_body(sv_req *r, trigger_body *tb)
{
    size_t i = 0;
    while (i < r->body.len && strchr(" \t\r\n", r->body.data[i])) i++;
    if (i == r->body.len) return 0;
    tb->root = cJSON_ParseWithLength(r->body.data, r->body.len);
    if (!cJSON_IsObject(tb->root)) {
        sv_req_error(r, 400, "the body must be a JSON object {\"features\": [..], \"max_age_s\": N} (or empty)");
        return -1;
    }
    for (const cJSON *c = tb->root->child; c; c = c->next)
        if (strcmp(c->string, "features") && strcmp(c->string, "max_age_s")) {
            sv_req_error(r, 400, "unknown key \"%.100s\" in the body (expected \"features\", \"max_age_s\")", c->string);
            return -1;
        }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(tb->root, "features");
    if (f) {
        if (cJSON_IsString(f)) tb->features = strdup(f->valuestring);
        else if (cJSON_IsArray(f) || cJSON_IsObject(f)) tb->features = cJSON_PrintUnformatted(f);
        else {
            sv_req_error(r, 400, "\"features\" must be an array of numbers, an object input name -> array, or \"1,2,3\"");
            return -1;
        }
        if (!tb->features) { sv_req_error(r, 500, "out of memory"); return -1; }
    }
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(tb->root, "max_age_s");
    if (a) {
        if (!cJSON_IsNumber(a) || a->valuedouble != floor(a->valuedouble) || a->valuedouble < 0 ||
            a->valuedouble > 31622400) {
            sv_req_error(r, 400, "\"max_age_s\" must be an integer in [0, 31622400]");
            return -1;
        }
        tb->max_age_s = (int64_t)a->valuedouble;
    }
    return 0;
}

/* Put the event of ticket t on the queue: fields id, key, model[, features]. */
static ms_status send_event(sv_stream *st, const st_ticket *t, const char *features, ms_error *err)
{
    qu_field f[4] = {
        {"id", 2, t->event_id, strlen(t->event_id)},
        {"key", 3, t->key, strlen(t->key)},
        {"model", 5, t->model, strlen(t->model)},
        {"features", 8, features, features ? strlen(features) : 0},
    };
    const qu_field *msgs[1] = {f};
    int nf = features ? 4 : 3;
    qu_queue *q = NULL;
    ms_status rc = queue_get(st, &q, err);
    if (rc == MS_OK) rc = qu_send(q, NULL, msgs, &nf, 1, 0, NULL, err);
    queue_put(st, q, rc);
    return rc;
}

/* The trigger once the stored prediction is known not to be fresh: a coalesced ticket, 503
 * under backpressure, or a new ticket whose event is sent. Returns the store status. */
static ms_status trigger_ticket(sv_stream *st, sv_req *r, st_store *h, const sv_stream_cfg *sc,
                                const char *m, const char *key, const char *features, ms_error *err)
{
    int64_t now = now_ms(), pending_ms = sc->pending_s * 1000;
    st_ticket t;
    ms_status rc = MS_OK;
    /* this server's own ticket for the key, still without a result: a read, no write */
    if (cache_find(st, m, key, pending_ms, now, &t)) {
        int done = ticket_result(h, &t, r, &rc, err);
        if (done < 0) return rc;
        mc_buf_reset(&r->out);
        r->status = 0;
        if (!done) {
            atomic_fetch_add(&st->coalesced, 1);
            answer_pending(r, t.ticket, 202);
            return MS_OK;
        }
        cache_forget(st, &t);
    }
    int64_t n = unscored(st);
    if (n > sc->max_pending) {
        atomic_fetch_add(&st->rejected, 1);
        sv_req_add_header(r, "Retry-After", "1");
        sv_req_error(r, 503, "queue %s holds %lld unscored events, over max_pending %lld of model '%s'; retry later",
                     st->shown, (long long)n, (long long)sc->max_pending, m);
        return MS_OK;
    }
    st_ticket fresh = {0}, got;
    char hex[40];
    random_hex(hex, sizeof hex);
    snprintf(fresh.ticket, sizeof fresh.ticket, "tk-%.32s", hex);
    snprintf(fresh.event_id, sizeof fresh.event_id, "ev-%.32s", hex); /* the same draw: one name each */
    snprintf(fresh.model, sizeof fresh.model, "%s", m);
    snprintf(fresh.key, sizeof fresh.key, "%s", key);
    int created = 0;
    if ((rc = st_ticket_claim(h, &fresh, pending_ms, &got, &created, err)) != MS_OK) return rc;
    if (created) {
        ms_error qe = {{0}};
        if (send_event(st, &got, features, &qe) != MS_OK) {
            ms_error de = {{0}};
            if (st_ticket_drop(h, got.ticket, &de) != MS_OK)
                sv_log_event("stream: cannot drop ticket %s after a failed send: %s", got.ticket, de.msg);
            sv_req_add_header(r, "Retry-After", "1");
            sv_req_error(r, 503, "cannot enqueue the event on queue %s: %s", st->shown, qe.msg);
            return MS_OK;
        }
        atomic_fetch_add(&st->issued, 1);
    } else atomic_fetch_add(&st->coalesced, 1);
    cache_set(st, &got);
    answer_pending(r, got.ticket, 202);
    return MS_OK;
}

void sv_stream_trigger(sv_server *s, sv_req *r, const sv_match *mt)
{
    if (not_configured(s, r)) return;
    sv_stream *st = s->stream;
    const char *key = mt->key;
    if (!key[0] || strlen(key) >= ST_KEY_MAX) {
        sv_req_error(r, 400, "the key must be 1 to %d bytes", ST_KEY_MAX - 1);
        return;
    }
    sv_version *v = get_version(s, r, mt->m, NULL);
    if (!v) return;
    trigger_body tb = {NULL, NULL, -1};
    sv_stream_cfg sc = v->cfg ? v->cfg->stream : sv_stream_cfg_default();
    int has_features = v->cfg && v->cfg->features;
    char version[SV_NAME_MAX];
    snprintf(version, sizeof version, "%s", v->version);
    sv_version_release(v);
    if (parse_body(r, &tb)) goto out;
    if (!tb.features && !has_features) {
        sv_req_error(r, 400, "model '%s' has no \"features\" block in config.json: give {\"features\": [..]} in the body", mt->m);
        goto out;
    }
    if (tb.max_age_s < 0) tb.max_age_s = sc.max_age_s;
    st_store *h = NULL;
    ms_error err = {{0}};
    ms_status rc = sv_store_get(s, s->store_url, 0, &h, &err);
    if (rc == MS_OK) {
        fresh_ctx fc = {version, tb.max_age_s, now_ms() / 1000, &r->out, 0};
        const char *keys[1] = {key};
        rc = st_pred_latest(h, mt->m, keys, 1, on_latest, &fc, &err);
        if (rc == MS_OK && fc.hit) {
            atomic_fetch_add(&st->fresh, 1);
            r->content_type = "application/json";
            r->status = 200;
        } else if (rc == MS_OK) {
            mc_buf_reset(&r->out);
            rc = trigger_ticket(st, r, h, &sc, mt->m, key, tb.features, &err);
        }
    }
    sv_store_put(s, s->store_url, 0, h, rc);
    if (rc != MS_OK) sv_req_error(r, rc == MS_ERR_RUNTIME ? 503 : 400, "store %s: %s", s->store_url, err.msg);
out:
    cJSON_Delete(tb.root);
    free(tb.features);
}

/* ---- GET /v1/tickets/{T}?wait_ms=N ------------------------------------------------------- */

static void add_waiter(sv_stream *st, sv_req *r, const st_ticket *t, int64_t wait_ms)
{
    waiter *w = calloc(1, sizeof *w);
    if (!w) { answer_pending(r, t->ticket, 202); return; }
    w->r = r;
    w->t = *t;
    w->deadline_ns = bs_now_ns() + (uint64_t)wait_ms * 1000000u;
    sv_req_suspend(r);
    pthread_mutex_lock(&st->mu);
    w->next = st->waiters;
    st->waiters = w;
    st->nwaiters++;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

void sv_stream_ticket(sv_server *s, sv_req *r, const sv_match *mt)
{
    if (not_configured(s, r)) return;
    sv_stream *st = s->stream;
    const char *id = mt->key;
    if (!ticket_name_ok(id)) { sv_req_error(r, 404, "unknown ticket '%.100s'", id); return; }
    int64_t wait_ms = 0;
    const char *w = sv_req_query(r, "wait_ms");
    if (w) {
        char *end;
        long long v = strtoll(w, &end, 10);
        if (!*w || *end || v < 0) { sv_req_error(r, 400, "wait_ms must be a non-negative integer (milliseconds)"); return; }
        wait_ms = v;
    }
    st_store *h = NULL;
    ms_error err = {{0}};
    st_ticket t;
    int found = 0, done = 0;
    ms_status rc = sv_store_get(s, s->store_url, 0, &h, &err);
    if (rc == MS_OK) rc = st_ticket_get(h, id, &t, &found, &err);
    sv_stream_cfg sc = found ? model_cfg(s, t.model) : (sv_stream_cfg){0};
    /* a ticket older than its model's max_age_s is expired: its answer would be stale */
    if (rc == MS_OK && found && now_ms() - t.created_ms > sc.max_age_s * 1000) found = 0;
    if (rc == MS_OK && found) done = ticket_result(h, &t, r, &rc, &err);
    sv_store_put(s, s->store_url, 0, h, rc);
    if (rc != MS_OK) {
        sv_req_error(r, rc == MS_ERR_RUNTIME ? 503 : 400, "store %s: %s", s->store_url, err.msg);
        return;
    }
    if (!found) { sv_req_error(r, 404, "unknown or expired ticket '%s'", id); return; }
    snprintf(r->model, sizeof r->model, "%s", t.model);
    if (done) return;
    if (wait_ms > sc.wait_ms_max) wait_ms = sc.wait_ms_max;
    if (wait_ms == 0 || atomic_load(&s->draining)) answer_pending(r, t.ticket, 202);
    else add_waiter(st, r, &t, wait_ms);
}

/* ---- the poller: answers suspended long-polls ------------------------------------------ */

/* One round over the waiters taken off the list; those still waiting go back on it. */
static void poll_round(sv_stream *st, waiter *list, st_store **h)
{
    waiter *keep = NULL;
    int nresumed = 0, draining = atomic_load(&st->srv->draining);
    uint64_t now = bs_now_ns();
    while (list) {
        waiter *w = list;
        list = w->next;
        ms_error err = {{0}};
        ms_status rc = MS_OK;
        int done = 0;
        if (!*h) rc = st_open(st->srv->store_url, h, &err);
        if (rc == MS_OK) done = ticket_result(*h, &w->t, w->r, &rc, &err);
        if (rc != MS_OK) {
            sv_req_error(w->r, 503, "store %s: %s", st->srv->store_url, err.msg);
            if (rc == MS_ERR_RUNTIME) st_close(*h), *h = NULL;
            done = 1;
        }
        if (!done && (draining || atomic_load(&st->stop) || now >= w->deadline_ns)) answer_pending(w->r, w->t.ticket, 202), done = 1;
        if (done) {
            sv_req_resume(w->r); /* w->r belongs to its connection again from here */
            free(w);
            nresumed++;
        } else {
            w->next = keep;
            keep = w;
        }
    }
    pthread_mutex_lock(&st->mu);
    waiter **tail = &keep;
    while (*tail) tail = &(*tail)->next;
    *tail = st->waiters;
    st->waiters = keep;
    st->nwaiters -= nresumed;
    pthread_mutex_unlock(&st->mu);
}

/* Delete stream results and tickets past the retention, once a minute (without it every
 * event's row stays in a SQL store forever). A failure is logged and tried next time. */
#define PRUNE_EVERY_NS 60000000000ull
static void prune_due(sv_stream *st, st_store **h)
{
    uint64_t now = bs_now_ns();
    if (st->retention_s <= 0 || now < st->next_prune_ns) return;
    st->next_prune_ns = now + PRUNE_EVERY_NS;
    ms_error err = {{0}};
    ms_status rc = *h ? MS_OK : st_open(st->srv->store_url, h, &err);
    if (rc == MS_OK) rc = st_stream_prune(*h, st->retention_s, &err);
    if (rc != MS_OK) {
        sv_log_event("stream: pruning results older than %lld s in %s: %s", (long long)st->retention_s,
                   st->srv->store_url, err.msg);
        if (rc == MS_ERR_RUNTIME) st_close(*h), *h = NULL;
    }
}

static void *poller_main(void *arg)
{
    sv_stream *st = arg;
    st_store *h = NULL;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->waiters && !atomic_load(&st->stop)) {
            pthread_mutex_unlock(&st->mu);
            prune_due(st, &h);
            pthread_mutex_lock(&st->mu);
            if (st->waiters || atomic_load(&st->stop)) break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&st->cv, &st->mu, &until);
        }
        if (!st->waiters && atomic_load(&st->stop)) break;
        waiter *list = st->waiters;
        st->waiters = NULL;
        pthread_mutex_unlock(&st->mu);
        poll_round(st, list, &h);
        prune_due(st, &h);
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    st_close(h);
    return NULL;
}

/* ---- open, close, metrics ---------------------------------------------------------------- */

ms_status sv_stream_open(sv_server *s, const char *queue_url, int64_t retention_s, sv_stream **out,
                         ms_error *err)
{
    *out = NULL;
    if (!s->store_url)
        return bs_fail(err, MS_ERR_INVALID, "--queue %s needs --store URL: tickets and stream results are kept there", queue_url);
    sv_stream *st = calloc(1, sizeof *st);
    if (!st || !(st->queue_url = strdup(queue_url))) {
        free(st);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    st->srv = s;
    st->retention_s = retention_s;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    qu_queue *q = NULL;
    qu_opts o = qu_opts_default();
    ms_status rc = qu_open(queue_url, &o, &q, err);
    st_store *h = NULL;
    if (rc == MS_OK) {
        snprintf(st->shown, sizeof st->shown, "%s", qu_url_shown(q));
        st->qpool[st->nq++] = q;
        ms_error se = {{0}};
        /* the store is opened (and created) now, so a bad --store fails at start too */
        if ((rc = st_open(s->store_url, &h, &se)) != MS_OK) bs_fail(err, rc, "--store %s: %s", s->store_url, se.msg);
        else sv_store_put(s, s->store_url, 0, h, MS_OK);
    }
    if (rc == MS_OK && pthread_create(&st->poller, NULL, poller_main, st) != 0)
        rc = bs_fail(err, MS_ERR_RUNTIME, "cannot start the ticket poller thread");
    if (rc != MS_OK) {
        for (int i = 0; i < st->nq; i++) qu_close(st->qpool[i]);
        free(st->queue_url);
        free(st);
        return rc;
    }
    *out = st;
    return MS_OK;
}

void sv_stream_drain(sv_stream *st)
{
    if (!st) return;
    for (int i = 0; i < 2000; i++) { /* the poller answers them within a round once draining */
        pthread_mutex_lock(&st->mu);
        int n = st->nwaiters;
        pthread_mutex_unlock(&st->mu);
        if (!n) return;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The longest max_age_s of the models serving now: how long Redis keeps a stream result. */
static int64_t longest_max_age(sv_repo *repo)
{
    char names[64][SV_NAME_MAX];
    int n = sv_repo_names(repo, names, 64);
    int64_t best = sv_stream_cfg_default().max_age_s;
    for (int i = 0; i < n; i++) {
        sv_version *v = NULL;
        char why[300];
        if (sv_repo_acquire(repo, names[i], NULL, &v, why, sizeof why) != 0) continue;
        if (v->cfg && v->cfg->stream.max_age_s > best) best = v->cfg->stream.max_age_s;
        sv_version_release(v);
    }
    return best;
}

ms_status sv_stream_workers(sv_stream *st, sv_repo *repo, int n, ms_error *err)
{
    sv_stream_models(repo, &st->models);
    st->models.poll = NULL; /* the server rescans the repository itself (--poll-ms) */
    sm_worker_cfg c = {0};
    c.queue_url = st->queue_url;
    c.store_url = st->srv->store_url;
    c.models = &st->models;
    c.threads = n;
    c.result_ttl_s = longest_max_age(repo);
    ms_error we = {{0}};
    if (sm_worker_start(&c, &st->worker, &we) != MS_OK)
        return bs_fail(err, MS_ERR_RUNTIME, "--stream-workers %d: %s", n, we.msg);
    return MS_OK;
}

void sv_stream_close(sv_stream *st)
{
    if (!st) return;
    if (st->worker) sm_worker_stop(st->worker); /* finishes the batch in hand and acks it */
    pthread_mutex_lock(&st->mu);
    atomic_store(&st->stop, 1);
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->poller, NULL);
    for (int i = 0; i < st->nq; i++) qu_close(st->qpool[i]);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st->queue_url);
    free(st);
}

const char *sv_stream_queue_shown(const sv_stream *st) { return st->shown; }

void sv_stream_metrics(sv_stream *st, mc_buf *out)
{
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    int waiting = st->nwaiters;
    int64_t n = st->status_ns ? st->unscored : -1;
    pthread_mutex_unlock(&st->mu);
    mc_buf_printf(out,
                  "# HELP mlship_stream_tickets_issued_total Tickets made by triggers (one event enqueued each).\n"
                  "# TYPE mlship_stream_tickets_issued_total counter\nmlship_stream_tickets_issued_total %llu\n"
                  "# HELP mlship_stream_tickets_coalesced_total Triggers answered with a ticket already in flight for the key.\n"
                  "# TYPE mlship_stream_tickets_coalesced_total counter\nmlship_stream_tickets_coalesced_total %llu\n"
                  "# HELP mlship_stream_triggers_rejected_total Triggers refused with 503 because the queue held more than max_pending unscored events.\n"
                  "# TYPE mlship_stream_triggers_rejected_total counter\nmlship_stream_triggers_rejected_total %llu\n"
                  "# HELP mlship_stream_triggers_fresh_total Triggers answered 200 from a fresh stored prediction.\n"
                  "# TYPE mlship_stream_triggers_fresh_total counter\nmlship_stream_triggers_fresh_total %llu\n"
                  "# HELP mlship_stream_ticket_waiters Long-polls of GET /v1/tickets waiting now.\n"
                  "# TYPE mlship_stream_ticket_waiters gauge\nmlship_stream_ticket_waiters %d\n",
                  (unsigned long long)atomic_load(&st->issued), (unsigned long long)atomic_load(&st->coalesced),
                  (unsigned long long)atomic_load(&st->rejected), (unsigned long long)atomic_load(&st->fresh), waiting);
    if (n >= 0)
        mc_buf_printf(out, "# HELP mlship_stream_queue_unscored Unscored events on the queue at the last status read.\n"
                           "# TYPE mlship_stream_queue_unscored gauge\nmlship_stream_queue_unscored %lld\n", (long long)n);
    if (st->worker) sm_worker_metrics(st->worker, out);
}
