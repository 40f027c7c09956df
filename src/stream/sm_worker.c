/* sm_worker.c: the stream worker's threads (sm_worker.h): read a micro-batch, parse, group by
 * model, fetch missing features, score (sm_score.c), store, publish, dead-letter, ack; back
 * off and reconnect when the queue or a store fails. */
#include "stream/sm_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/bs_clock.h"
#include "base/bs_error.h"
#include "base/bs_name.h"
#include "queue/queue.h"
#include "stream/sm_event.h"
#include "stream/sm_metrics.h"
#include "stream/sm_result.h"
#include "stream/sm_score.h"

#define READ_BLOCK_MS 200 /* the longest a thread waits before it looks at the stop flag */
#define MAX_FEAT_STORES 8 /* feature-store handles a thread keeps (one per URL) */
#define BACKOFF_MIN_MS 100   /* the first retry's delay; doubled per failure in a row */
#define BACKOFF_MAX_MS 2000  /* ... up to this (a healed broker is used within ~2 s) */
#define BACKOFF_LOG_MS 30000 /* at the cap, the failure is logged again this often */

typedef struct feat_handle {
    char *url;
    st_store *h;
} feat_handle;

typedef struct thr {
    struct sm_worker *w;
    int id;
    pthread_t t;
    int started;
    char consumer[QU_NAME_MAX];
    qu_queue *q, *out;       /* out == q when results go to the same queue */
    st_store *store;
    feat_handle feat[MAX_FEAT_STORES];
    int nfeat;
    int64_t backoff_ms;
    char default_model[ST_NAME_MAX];
    char results[QU_NAME_MAX + 16]; /* "<stream>:results", or "" for out_url's own stream */
    /* The failure streak (back_off): the first failure's text, logged once per back-off
     * step; how many retries, since when; the connections lost (for the metrics). */
    char why[600];
    int64_t logged_step_ms, logged_ns, failures;
    uint64_t failing_since_ns;
    unsigned rng;
    int q_lost, s_lost;
    /* One batch's working arrays, carved from one block that lives as long as the thread:
     * allocating and zeroing them per batch (ten callocs of up to 50 KB) cost about 4,000
     * instructions per event in callgrind, a tenth of the worker's time. */
    char *arena;
    size_t arena_cap, arena_used;
    char dead_after[QU_ID_MAX]; /* the last dead letter given an error row (thread 0) */
} thr;

struct sm_worker {
    sm_worker_cfg cfg;
    char *queue_url, *out_url, *store_url, *consumer;
    atomic_int stop;
    sm_metrics met;
    int nthr;
    thr *thr;
};

/* One message of a batch as it goes through. */
enum { IT_PENDING, IT_SCORED, IT_DEAD, IT_SKIP /* not acked: redelivered after the lease */ };
typedef struct item {
    const qu_msg *m;
    sm_event ev;
    int state, group;
    sm_row row;             /* row.error: the dead-letter reason */
    float *fetched;
} item;

typedef struct group {
    const char *name;       /* the event's "model" ("" for the default) */
    sm_model_ref ref;
    int ok, status;         /* acquired; else the provider's status and why */
    char why[300];
} group;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A failure a person must see. Every failure ends in back_off, which logs the first one of
 * the batch once per back-off step (a broker down for a minute is a few lines, not a flood). */
static void complain(thr *t, const char *what, const ms_error *err)
{
    if (!t->why[0]) snprintf(t->why, sizeof t->why, "%s: %s", what, err->msg);
}

/* A connection of the thread was lost (down = 1) or is back (0): the "up" gauges count the
 * threads without one; each reconnection after a loss is counted. */
static void mark_lost(thr *t, int *lost, atomic_int_fast64_t *down, int now_lost)
{
    if (*lost == now_lost) return;
    *lost = now_lost;
    atomic_fetch_add(down, now_lost ? 1 : -1);
    if (!now_lost) atomic_fetch_add(&t->w->met.reconnects, 1);
}

/* ==== connections ======================================================================= */

static ms_status open_queue(thr *t, ms_error *err)
{
    sm_worker *w = t->w;
    qu_opts o = qu_opts_default();
    o.consumer = t->consumer;
    if (w->cfg.lease_ms > 0) o.lease_ms = w->cfg.lease_ms;
    if (w->cfg.max_deliveries > 0) o.max_deliveries = w->cfg.max_deliveries;
    ms_status st = MS_OK;
    if (!t->q) st = qu_open(w->queue_url, &o, &t->q, err);
    if (st == MS_OK && !t->out) {
        if (w->out_url) st = qu_open(w->out_url, &o, &t->out, err);
        else t->out = t->q;
    }
    if (st == MS_OK && !w->out_url) snprintf(t->results, sizeof t->results, "%s:results", qu_stream(t->q));
    if (st == MS_OK) mark_lost(t, &t->q_lost, &w->met.queue_down, 0);
    else if (st == MS_ERR_RUNTIME) mark_lost(t, &t->q_lost, &w->met.queue_down, 1);
    if (st == MS_OK && !t->store && w->store_url) {
        st = st_open(w->store_url, &t->store, err);
        if (st == MS_OK || st == MS_ERR_RUNTIME) mark_lost(t, &t->s_lost, &w->met.store_down, st != MS_OK);
    }
    return st;
}

/* After a failure (the handle is dropped; open_queue makes a new one and counts it). */
static void close_queue(thr *t)
{
    if (t->out != t->q) qu_close(t->out);
    qu_close(t->q);
    t->q = t->out = NULL;
    mark_lost(t, &t->q_lost, &t->w->met.queue_down, 1);
}

static void close_store(thr *t)
{
    st_close(t->store);
    t->store = NULL;
    mark_lost(t, &t->s_lost, &t->w->met.store_down, 1);
}

static void close_all(thr *t)
{
    free(t->arena);
    t->arena = NULL, t->arena_cap = t->arena_used = 0;
    close_queue(t);
    st_close(t->store);
    t->store = NULL;
    for (int i = 0; i < t->nfeat; i++) {
        st_close(t->feat[i].h);
        free(t->feat[i].url);
    }
    t->nfeat = 0;
}

static ms_status feat_store(thr *t, const char *url, st_store **out, ms_error *err)
{
    for (int i = 0; i < t->nfeat; i++)
        if (strcmp(t->feat[i].url, url) == 0) {
            *out = t->feat[i].h;
            return MS_OK;
        }
    if (t->nfeat == MAX_FEAT_STORES) { /* the oldest goes */
        st_close(t->feat[0].h);
        free(t->feat[0].url);
        memmove(t->feat, t->feat + 1, sizeof t->feat[0] * (MAX_FEAT_STORES - 1));
        t->nfeat--;
    }
    char *u = strdup(url);
    if (!u) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    ms_status st = st_open_flags(url, ST_OPEN_READONLY, out, err);
    if (st) {
        free(u);
        return st;
    }
    t->feat[t->nfeat++] = (feat_handle){u, *out};
    return MS_OK;
}

static void feat_drop(thr *t, const char *url)
{
    for (int i = 0; i < t->nfeat; i++)
        if (strcmp(t->feat[i].url, url) == 0) {
            st_close(t->feat[i].h);
            free(t->feat[i].url);
            t->feat[i] = t->feat[--t->nfeat];
            return;
        }
}

/* Sleep the back-off, waking for stop: exponential (BACKOFF_MIN_MS doubling to
 * BACKOFF_MAX_MS), jittered to between half and all of the step so that the workers a broker
 * restart disconnected together do not all come back in the same millisecond. The failure is
 * logged when the step grows (and every BACKOFF_LOG_MS at the cap), with the retry count. */
static void back_off(thr *t)
{
    uint64_t now = bs_now_ns();
    if (!t->failures++) t->failing_since_ns = now;
    t->backoff_ms = t->backoff_ms ? t->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (t->backoff_ms > BACKOFF_MAX_MS) t->backoff_ms = BACKOFF_MAX_MS;
    int64_t half = t->backoff_ms / 2, sleep_ms = half + (int64_t)(rand_r(&t->rng) % (unsigned)(half + 1));
    if (t->why[0] && (t->backoff_ms != t->logged_step_ms || now - (uint64_t)t->logged_ns >= BACKOFF_LOG_MS * 1000000ull)) {
        fprintf(stderr, "mlship stream: %s: %s (retry %lld in %lld ms)\n", t->consumer, t->why,
                (long long)t->failures, (long long)sleep_ms);
        t->logged_step_ms = t->backoff_ms, t->logged_ns = (int64_t)now;
    }
    t->why[0] = 0;
    for (int64_t slept = 0; slept < sleep_ms && !atomic_load(&t->w->stop); slept += 50) {
        int64_t step = sleep_ms - slept < 50 ? sleep_ms - slept : 50;
        nanosleep(&(struct timespec){0, step * 1000000L}, NULL);
    }
}

/* A call went through: the streak, if any, is over (said once). */
static void recovered(thr *t)
{
    if (t->failures)
        fprintf(stderr, "mlship stream: %s: working again after %lld retries (%.1f s)\n", t->consumer,
                (long long)t->failures, (double)(bs_now_ns() - t->failing_since_ns) / 1e9);
    t->failures = 0, t->backoff_ms = 0, t->logged_step_ms = 0;
}

/* ==== one batch ========================================================================= */

/* The event is refused: the reason (cut to fit) becomes its dead-letter reason and error. */
static void dead(item *it, const char *fmt, const char *a, const char *b)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, fmt, a, b);
    size_t n = strlen(tmp);
    if (n >= sizeof it->row.error) n = sizeof it->row.error - 1;
    memcpy(it->row.error, tmp, n);
    it->row.error[n] = 0;
    it->state = IT_DEAD;
}

/* Acquire each distinct model the events name once. An unknown model (404) refuses its
 * events; a known one serving nothing now (503) leaves them for redelivery. */
static int group_items(thr *t, item *it, size_t n, group *g)
{
    const sm_models *mp = t->w->cfg.models;
    int ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (it[i].state != IT_PENDING) continue;
        const char *name = it[i].ev.model ? it[i].ev.model : "";
        int k = 0;
        while (k < ng && strcmp(g[k].name, name)) k++;
        if (k == ng) {
            g[k] = (group){.name = name};
            g[k].status = mp->acquire(mp->ctx, name, &g[k].ref, g[k].why, sizeof g[k].why);
            g[k].ok = g[k].status == 0;
            if (g[k].ok && !name[0]) snprintf(t->default_model, sizeof t->default_model, "%s", g[k].ref.name);
            ng++;
        }
        it[i].group = k;
        if (g[k].status == 404) dead(&it[i], "field 'model': %s%s", g[k].why, "");
        else if (!g[k].ok) it[i].state = IT_SKIP;
    }
    return ng;
}

/* Features from the store by key for the group's events that carry none. 0, or -1 when the
 * store failed (those events are left for redelivery). */
static int fetch_features(thr *t, item *it, size_t n, int k, const sm_model_ref *ref)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (it[i].group == k && it[i].state == IT_PENDING && it[i].ev.ninputs == 0) {
            if (!ref->features || !ref->features_url) {
                dead(&it[i], "no field 'features', and model '%s' has no feature store (config.json \"features\")%s",
                     ref->name, "");
                continue;
            }
            m++;
        }
    if (!m) return 0;
    int nc = ref->features->ncolumns;
    const char **keys = malloc(m * sizeof *keys);
    size_t *who = malloc(m * sizeof *who);
    float *vals = malloc(m * (size_t)nc * sizeof *vals);
    uint8_t *found = malloc(m);
    ms_error err = {{0}};
    ms_status st = keys && who && vals && found ? MS_OK : bs_fail(&err, MS_ERR_RUNTIME, "out of memory");
    size_t j = 0;
    for (size_t i = 0; i < n && st == MS_OK; i++)
        if (it[i].group == k && it[i].state == IT_PENDING && it[i].ev.ninputs == 0)
            keys[j] = it[i].ev.key, who[j++] = i;
    st_store *s = NULL;
    if (st == MS_OK) st = feat_store(t, ref->features_url, &s, &err);
    if (st == MS_OK) st = st_features_fetch(s, ref->features, keys, m, vals, found, &err);
    int rc = 0;
    for (j = 0; j < m; j++) {
        item *x = &it[who ? who[j] : 0];
        if (st == MS_ERR_INVALID) {
            dead(x, "features of key '%s': %s", x->ev.key, err.msg);
        } else if (st != MS_OK) {
            x->state = IT_SKIP;
        } else if (!found[j]) {
            dead(x, "unknown key '%s' (not in feature table '%s')", x->ev.key, ref->features->table);
        } else if ((x->fetched = malloc((size_t)nc * sizeof *x->fetched)) != NULL) {
            memcpy(x->fetched, vals + j * (size_t)nc, (size_t)nc * sizeof *vals);
            x->row.fetched = x->fetched;
            x->row.fetched_n = nc;
        } else {
            x->state = IT_SKIP;
        }
    }
    if (st != MS_OK && st != MS_ERR_INVALID) {
        complain(t, ref->features_url, &err);
        feat_drop(t, ref->features_url);
        rc = -1;
    }
    free(keys), free(who), free(vals), free(found);
    return rc;
}

/* `bytes` of the thread's batch arena (zeroed when asked), 16-byte aligned; NULL when full. */
static void *scratch(thr *t, size_t bytes, int zero)
{
    size_t at = (t->arena_used + 15) & ~(size_t)15;
    if (at + bytes > t->arena_cap) return NULL;
    t->arena_used = at + bytes;
    if (zero) memset(t->arena + at, 0, bytes);
    return t->arena + at;
}

/* Score the group's pending events; outputs go to *out. -1 on a failure no event caused. */
static int score_group(thr *t, item *it, size_t n, int k, const sm_model_ref *ref, mc_buf *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += it[i].group == k && it[i].state == IT_PENDING;
    if (!m) return 0;
    size_t mark = t->arena_used; /* the group's arrays are given back when it is scored */
    sm_row *rows = scratch(t, m * sizeof *rows, 0);
    size_t *who = scratch(t, m * sizeof *who, 0);
    ms_error err = {{0}};
    ms_status st = rows && who ? MS_OK : bs_fail(&err, MS_ERR_RUNTIME, "out of memory");
    size_t j = 0;
    for (size_t i = 0; i < n && st == MS_OK; i++)
        if (it[i].group == k && it[i].state == IT_PENDING) {
            rows[j] = it[i].row;
            rows[j].ev = &it[i].ev;
            who[j++] = i;
        }
    if (st == MS_OK) st = sm_score(ref, rows, m, out, &err);
    for (j = 0; j < m && st != MS_ERR_RUNTIME; j++) {
        item *x = &it[who[j]];
        x->row = rows[j];
        if (st != MS_OK) dead(x, "model '%s': %s", ref->name, err.msg);
        else x->state = x->row.error[0] ? IT_DEAD : IT_SCORED;
    }
    if (st == MS_ERR_RUNTIME) {
        complain(t, "scoring", &err);
        for (j = 0; who && j < m; j++) it[who[j]].state = IT_SKIP;
    }
    t->arena_used = mark;
    return st == MS_ERR_RUNTIME ? -1 : 0;
}

/* The stored row and published message of item x (strings in x, g, ids). */
typedef struct out_row {
    char id[ST_NAME_MAX], key[ST_KEY_MAX], model[ST_NAME_MAX];
    char *outputs;
} out_row;

/* snprintf(dst, cap, "%s", src) without the formatter (three per event add up). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void describe(thr *t, const item *x, const group *g, out_row *o)
{
    if (x->ev.id) copy_str(o->id, sizeof o->id, x->ev.id);
    else if (!sm_event_peek(x->m, "id", o->id, sizeof o->id)) copy_str(o->id, sizeof o->id, x->m->id);
    if (x->ev.id) copy_str(o->key, sizeof o->key, x->ev.key ? x->ev.key : "");
    else if (!sm_event_peek(x->m, "key", o->key, sizeof o->key)) o->key[0] = 0;
    const char *name = x->ev.id && g && g->ok == 1 ? g->ref.name : NULL;
    if (name) copy_str(o->model, sizeof o->model, name);
    else if (!(sm_event_peek(x->m, "model", o->model, sizeof o->model) && bs_check_name("model", o->model, NULL) == MS_OK))
        copy_str(o->model, sizeof o->model, t->default_model[0] ? t->default_model : "default");
}

/* Nak (hand back after delay_ms) or touch (extend the lease of) every message of the batch:
 * on queues that lack these (SQLite, Redis) both do nothing and the lease runs its course. */
static void settle_batch(thr *t, const item *it, size_t n, int nak, int64_t delay_ms)
{
    const char **ids = t->q && n ? malloc(n * sizeof *ids) : NULL;
    if (!ids) return;
    for (size_t i = 0; i < n; i++) ids[i] = it[i].m->id;
    ms_error err = {{0}};
    ms_status st = nak ? qu_nak(t->q, ids, n, delay_ms, &err) : qu_touch(t->q, ids, n, &err);
    if (st != MS_OK) complain(t, nak ? "handing a batch back" : "extending a lease", &err);
    free(ids);
}

/* A store write failed (retriable): the batch comes back after 1 s, doubling with each
 * delivery, at most the lease. Not sooner: every nak is a delivery, and max_deliveries of them
 * dead-letter the event, so this lets a store be down for 1 + 2 + 4 + 8 + 16 s (about half a
 * minute at the default 5 deliveries, each step capped at the lease) before events are
 * dead-lettered; raise --max-deliveries for longer outages. */
static int64_t retry_delay_ms(const thr *t, const item *it, size_t n)
{
    int64_t d = 1, lease = t->w->cfg.lease_ms > 0 ? t->w->cfg.lease_ms : qu_opts_default().lease_ms;
    for (size_t i = 0; i < n; i++)
        if (it[i].m->deliveries > d) d = it[i].m->deliveries;
    int64_t ms = 1000LL << (d - 1 < 20 ? d - 1 : 20);
    return ms < lease ? ms : lease;
}

/* A batch running past half its lease (slow feature store, huge batch): extend it, so the
 * queue does not hand the events to another worker while this one is still on them. */
static void keep_lease(thr *t, const item *it, size_t n, uint64_t *since_ns)
{
    int64_t lease = t->w->cfg.lease_ms > 0 ? t->w->cfg.lease_ms : qu_opts_default().lease_ms;
    uint64_t now = bs_now_ns();
    if (now - *since_ns < (uint64_t)lease * 500000u) return; /* lease / 2, in ns */
    settle_batch(t, it, n, 0, 0);
    *since_ns = now;
}

/* Store, publish, dead-letter and ack what the batch decided. 0, or -1 when the queue or
 * store failed (nothing more is acked; the lease hands the rest out again). */
static int finish(thr *t, item *it, size_t n, group *g, const mc_buf *out)
{
    sm_worker *w = t->w;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += it[i].state == IT_SCORED || it[i].state == IT_DEAD;
    if (!m) return 0;
    out_row *o = scratch(t, m * sizeof *o, 0);
    st_stream_row *sr = scratch(t, m * sizeof *sr, 0);
    qu_field (*f)[SM_RESULT_FIELDS] = scratch(t, m * sizeof *f, 0);
    const qu_field **msgs = scratch(t, m * sizeof *msgs, 0);
    int *nf = scratch(t, m * sizeof *nf, 0);
    const char **acks = scratch(t, n * sizeof *acks, 0);
    double *lat = scratch(t, n * sizeof *lat, 0);
    ms_error err = {{0}};
    int rc = 0;
    if (!o || !sr || !f || !msgs || !nf || !acks || !lat) {
        bs_fail(&err, MS_ERR_RUNTIME, "out of memory");
        complain(t, "finishing a batch", &err);
        rc = -1;
        goto done;
    }
    char scored_at[BS_ISO_CAP];
    bs_now_iso(scored_at);
    size_t j = 0, nacks = 0;
    for (size_t i = 0; i < n; i++) {
        item *x = &it[i];
        if (x->state != IT_SCORED && x->state != IT_DEAD) continue;
        const group *gx = x->ev.id ? &g[x->group] : NULL; /* parsed: it has a group */
        describe(t, x, gx, &o[j]);
        o[j].outputs = NULL;
        int ok = x->state == IT_SCORED;
        const char *outputs = ok ? out->data + x->row.off : NULL;
        if (ok && !(o[j].outputs = malloc(x->row.len + 1))) {
            x->state = IT_SKIP;
            continue;
        }
        if (ok) memcpy(o[j].outputs, outputs, x->row.len), o[j].outputs[x->row.len] = 0;
        sr[j] = (st_stream_row){o[j].model, o[j].key, o[j].id, ok ? gx->ref.version : "",
                                o[j].outputs, ok ? NULL : x->row.error, x->m->order};
        sm_result r = {o[j].id, o[j].key[0] ? o[j].key : NULL, o[j].model, ok ? gx->ref.version : NULL,
                       o[j].outputs, ok ? NULL : x->row.error, x->ev.ts, scored_at};
        nf[j] = sm_result_fields(&r, f[j]);
        msgs[j] = f[j];
        j++;
    }
    m = j;
    if (t->store && st_stream_put(t->store, sr, m, w->cfg.result_ttl_s, &err) != MS_OK) {
        complain(t, w->store_url, &err);
        close_store(t);
        settle_batch(t, it, n, 1, retry_delay_ms(t, it, n)); /* NATS: back after a delay */
        rc = -1;
        goto done;
    }
    if (qu_send(t->out, t->results[0] ? t->results : NULL, msgs, nf, m, w->cfg.results_maxlen, NULL, &err) != MS_OK) {
        complain(t, "publishing results", &err);
        close_queue(t);
        rc = -1;
        goto done;
    }
    int64_t now = now_ms();
    size_t nlat = 0;
    for (size_t i = 0; i < n; i++) {
        item *x = &it[i];
        if (x->state == IT_DEAD) {
            if (qu_dead(t->q, x->m, x->row.error, &err) != MS_OK) {
                complain(t, "dead-lettering", &err);
                close_queue(t);
                rc = -1;
                goto done;
            }
            atomic_fetch_add(&w->met.dead, 1);
            atomic_fetch_add(&w->met.failed, 1);
        } else if (x->state == IT_SCORED) {
            acks[nacks++] = x->m->id;
        } else {
            continue;
        }
        if (x->m->enq_ms > 0) lat[nlat++] = (double)(now - x->m->enq_ms) / 1000.0;
    }
    if (nacks && qu_ack_ids(t->q, acks, nacks, &err) != MS_OK) {
        complain(t, "acking", &err);
        close_queue(t);
        rc = -1;
        goto done;
    }
    atomic_fetch_add(&w->met.scored, nacks);
    sm_metrics_batch(&w->met, n, lat, nlat);
done:
    for (j = 0; o && j < m; j++) free(o[j].outputs);
    return rc;
}

/* Room in the arena for every array of an n-message batch (reset to empty). */
static int arena_reserve(thr *t, size_t n)
{
    size_t per = sizeof(item) + sizeof(group) + sizeof(out_row) + sizeof(st_stream_row) +
                 sizeof(qu_field[SM_RESULT_FIELDS]) + sizeof(qu_field *) + sizeof(int) +
                 sizeof(char *) + sizeof(double) + sizeof(sm_row) + sizeof(size_t);
    size_t need = n * per + 16 * 16;
    t->arena_used = 0;
    if (need <= t->arena_cap) return 0;
    char *a = realloc(t->arena, need);
    if (!a) return -1;
    t->arena = a, t->arena_cap = need;
    return 0;
}

/* An event left for redelivery holds back every later event of its key in the batch: none of
 * them is stored, published or acked now, so a partitioned queue, which hands the whole batch
 * out again oldest first (qu_release), scores the key's events in their order. */
static void keep_key_order(item *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (it[i].state != IT_SKIP || !it[i].ev.key) continue;
        for (size_t j = i + 1; j < n; j++)
            if (it[j].state != IT_SKIP && it[j].ev.key && strcmp(it[j].ev.key, it[i].ev.key) == 0)
                it[j].state = IT_SKIP;
    }
}

/* Everything one batch of messages needs, then finish. 0, or -1 to back off. */
static int process(thr *t, const qu_msg *const *msgs, size_t n)
{
    if (arena_reserve(t, n) != 0) return -1;
    item *it = scratch(t, n * sizeof *it, 1);
    group *g = scratch(t, n * sizeof *g, 1);
    mc_buf out = {0};
    int rc = 0, ng = 0;
    for (size_t i = 0; i < n; i++) {
        it[i].m = msgs[i];
        ms_error err = {{0}};
        if (sm_event_parse(msgs[i], &it[i].ev, &err) != MS_OK) {
            it[i].state = IT_DEAD;
            snprintf(it[i].row.error, sizeof it[i].row.error, "%s", err.msg);
        }
    }
    ng = group_items(t, it, n, g);
    uint64_t since = bs_now_ns();
    for (int k = 0; k < ng; k++) {
        if (g[k].ok != 1) continue;
        if (fetch_features(t, it, n, k, &g[k].ref) < 0) rc = -1;
        if (score_group(t, it, n, k, &g[k].ref, &out) < 0) rc = -1;
        keep_lease(t, it, n, &since);
    }
    if (mc_buf_failed(&out)) {
        for (size_t i = 0; i < n; i++)
            if (it[i].state == IT_SCORED) it[i].state = IT_SKIP;
        rc = -1;
    }
    keep_key_order(it, n);
    if (finish(t, it, n, g, &out) < 0) rc = -1;
    for (size_t i = 0; i < n; i++) rc = it[i].state == IT_SKIP ? -1 : rc;
    for (int k = 0; k < ng; k++)
        if (g[k].ok == 1) t->w->cfg.models->release(t->w->cfg.models->ctx, &g[k].ref);
    for (size_t i = 0; i < n; i++) {
        sm_event_free(&it[i].ev);
        free(it[i].fetched);
    }
    mc_buf_free(&out);
    return rc;
}

/* ==== the thread ======================================================================== */

/* The value of a field a dead letter carries (the queue appends reason, deliveries and
 * source_id after the event's own fields; the last one wins), or "" when absent. */
static void dead_field(const qu_msg *m, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    dst[0] = 0;
    for (int f = 0; f < m->nfields; f++)
        if (m->fields[f].name_len == nl && !memcmp(m->fields[f].name, name, nl)) {
            size_t n = m->fields[f].val_len < cap - 1 ? m->fields[f].val_len : cap - 1;
            memcpy(dst, m->fields[f].val, n);
            dst[n] = 0;
        }
}

/* Give every dead letter an error result, whoever dead-lettered it: the queue itself does so
 * for an event delivered more than max_deliveries times (a worker died on it each time),
 * without the worker ever seeing why, and a ticket waiting for that event must read "failed",
 * not "pending" forever. Results are keyed by event id, so one the worker already wrote (or a
 * dead letter seen again after a restart) changes nothing. Up to 1,000 per call. */
static void dead_sync(thr *t)
{
    if (!t->store || !t->q) return;
    char stream[QU_NAME_MAX + 8];
    snprintf(stream, sizeof stream, "%s:dead", qu_stream(t->q));
    qu_batch b = {0};
    ms_error err = {{0}};
    if (qu_range(t->q, stream, t->dead_after, 1000, &b, &err) != MS_OK) return;
    st_stream_row *rows = calloc(b.n ? b.n : 1, sizeof *rows);
    char (*txt)[4][ST_KEY_MAX] = calloc(b.n ? b.n : 1, sizeof *txt);
    char (*why)[600] = calloc(b.n ? b.n : 1, sizeof *why);
    size_t n = 0;
    for (size_t i = 0; rows && txt && why && i < b.n; i++) {
        const qu_msg *m = &b.msgs[i];
        char *id = txt[n][0], *key = txt[n][1], *model = txt[n][2], *reason = txt[n][3];
        if (!sm_event_peek(m, "id", id, ST_NAME_MAX)) dead_field(m, "source_id", id, ST_NAME_MAX);
        if (!sm_event_peek(m, "key", key, ST_KEY_MAX)) key[0] = 0;
        if (!(sm_event_peek(m, "model", model, ST_NAME_MAX) && bs_check_name("model", model, NULL) == MS_OK))
            snprintf(model, ST_NAME_MAX, "%s", t->default_model[0] ? t->default_model : "default");
        dead_field(m, "reason", reason, ST_KEY_MAX);
        if (!id[0]) continue;
        snprintf(why[n], sizeof why[n], "dead-lettered: %s", reason[0] ? reason : "no reason given");
        rows[n] = (st_stream_row){model, key, id, "", NULL, why[n], 0};
        n++;
    }
    if (rows && txt && why && (n == 0 || st_stream_put(t->store, rows, n, t->w->cfg.result_ttl_s, &err) == MS_OK) && b.n)
        snprintf(t->dead_after, sizeof t->dead_after, "%s", b.msgs[b.n - 1].id);
    free(rows), free(txt), free(why);
    qu_batch_free(&b);
}

static void housekeeping(thr *t, uint64_t *last_ns)
{
    uint64_t now = bs_now_ns();
    if (t->id != 0 || now - *last_ns < 1000000000ull) return;
    *last_ns = now;
    const sm_models *mp = t->w->cfg.models;
    if (mp->poll) mp->poll(mp->ctx);
    qu_stats st = {0};
    ms_error err;
    if (t->q && qu_status(t->q, &st, &err) == MS_OK) {
        atomic_store(&t->w->met.lag, st.lag);
        atomic_store(&t->w->met.pending, st.pending);
    }
    qu_stats_free(&st);
    dead_sync(t);
}

/* Read up to `batch` messages: block for the first; when the batch is not full, linger (a
 * sleep here: a short BLOCK on Redis ends only when the server's event loop next wakes, which
 * with nothing else arriving is its next cron tick, and at 200 events/s it held every event
 * 5 ms), then take what has arrived without waiting. */
static ms_status read_batch(thr *t, qu_batch *a, qu_batch *b, ms_error *err)
{
    const sm_worker_cfg *c = &t->w->cfg;
    ms_status st = qu_read(t->q, (size_t)c->batch, READ_BLOCK_MS, a, err);
    if (st != MS_OK || a->n == 0 || a->n >= (size_t)c->batch || c->linger_ms <= 0) return st;
    struct timespec ts = {c->linger_ms / 1000, (long)(c->linger_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return qu_read(t->q, (size_t)c->batch - a->n, 0, b, err);
}

/* A batch that failed: what was not acked comes again, first (qu_release: a partitioned queue
 * keeps per-key order this way; others redeliver after the lease). Releasing an id that was
 * acked changes nothing. A closed queue needs nothing: the next handle takes over the pending
 * entries of its partitions before anything new. */
static void give_back(thr *t, const qu_msg *const *msgs, size_t n)
{
    if (!t->q) return;
    const char **ids = malloc(n * sizeof *ids);
    ms_error err = {{0}};
    for (size_t i = 0; ids && i < n; i++) ids[i] = msgs[i]->id;
    if (ids && qu_release(t->q, ids, n, &err) != MS_OK) {
        complain(t, "releasing a failed batch", &err);
        close_queue(t);
    } else if (!ids) {
        close_queue(t); /* out of memory: a new handle re-reads the pending entries first */
    }
    free(ids);
}

static void *thread_main(void *arg)
{
    thr *t = arg;
    sm_worker *w = t->w;
    uint64_t last = 0;
    const qu_msg **msgs = malloc((size_t)w->cfg.batch * sizeof *msgs);
    while (msgs && !atomic_load(&w->stop)) {
        housekeeping(t, &last);
        ms_error err = {{0}};
        if (open_queue(t, &err) != MS_OK) {
            complain(t, "connecting", &err);
            back_off(t);
            continue;
        }
        qu_batch a = {0}, b = {0};
        int read_ok = read_batch(t, &a, &b, &err) == MS_OK;
        if (!read_ok) {
            complain(t, w->queue_url, &err);
            close_queue(t);
            qu_batch_free(&a); /* read before the failure: pending, handed out again later */
            back_off(t);
        }
        size_t n = 0;
        for (size_t i = 0; i < a.n; i++) msgs[n++] = &a.msgs[i];
        for (size_t i = 0; i < b.n; i++) msgs[n++] = &b.msgs[i];
        if (n) {
            atomic_fetch_add(&w->met.consumed, n);
            if (process(t, msgs, n) < 0) {
                atomic_fetch_add(&w->met.retried, 1);
                give_back(t, msgs, n);
                back_off(t);
            } else {
                recovered(t);
            }
        } else if (read_ok) {
            recovered(t);
        }
        qu_batch_free(&a);
        qu_batch_free(&b);
    }
    free(msgs);
    return NULL;
}

/* ==== start / stop ====================================================================== */

static void free_worker(sm_worker *w)
{
    for (int i = 0; w->thr && i < w->nthr; i++) close_all(&w->thr[i]);
    free(w->thr);
    free(w->queue_url), free(w->out_url), free(w->store_url), free(w->consumer);
    sm_metrics_destroy(&w->met);
    free(w);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* A broker or server that does not answer at start is not fatal: the worker starts, says so,
 * and its threads connect with back-off (a worker restarted during a broker restart must not
 * exit). A bad URL, a backend not built in, and a local SQLite file that cannot be opened are
 * configuration errors and stop the start. */
static ms_status start_anyway(const thr *t, ms_status st, ms_error *err)
{
    const sm_worker *w = t->w; /* open_queue opens the queue, then --out, then the store */
    const char *failed = !t->q ? w->queue_url : !t->out ? w->out_url : w->store_url;
    if (st != MS_ERR_RUNTIME || !failed || !strncmp(failed, "sqlite:", 7)) return st;
    fprintf(stderr, "mlship stream: %s; starting anyway, retrying in the background\n", err->msg);
    err->msg[0] = 0;
    return MS_OK;
}

ms_status sm_worker_start(const sm_worker_cfg *cfg, sm_worker **out, ms_error *err)
{
    *out = NULL;
    if (!cfg->queue_url || !cfg->models || !cfg->models->acquire || !cfg->models->release)
        return bs_fail(err, MS_ERR_INVALID, "a stream worker needs a queue URL and a model provider");
    sm_worker *w = calloc(1, sizeof *w);
    if (!w) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    sm_metrics_init(&w->met);
    w->cfg = *cfg;
    if (w->cfg.batch <= 0) w->cfg.batch = 64;
    if (w->cfg.linger_ms < 0) w->cfg.linger_ms = 0;
    if (w->cfg.threads <= 0) w->cfg.threads = 1;
    w->queue_url = strdup(cfg->queue_url);
    w->out_url = dup_or_null(cfg->out_url);
    w->store_url = dup_or_null(cfg->store_url);
    w->consumer = dup_or_null(cfg->consumer);
    w->thr = calloc((size_t)w->cfg.threads, sizeof *w->thr);
    if (!w->queue_url || (cfg->out_url && !w->out_url) || (cfg->store_url && !w->store_url) ||
        (cfg->consumer && !w->consumer) || !w->thr) {
        free_worker(w);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    w->nthr = w->cfg.threads;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')) *p = '_';
    ms_status st = MS_OK;
    for (int i = 0; i < w->nthr && st == MS_OK; i++) {
        thr *t = &w->thr[i];
        t->w = w;
        t->id = i;
        if (w->consumer) snprintf(t->consumer, sizeof t->consumer, w->nthr > 1 ? "%.100s-%d" : "%.100s", w->consumer, i);
        else snprintf(t->consumer, sizeof t->consumer, w->nthr > 1 ? "%.60s-%ld-%d" : "%.60s-%ld", host, (long)getpid(), i);
        t->rng = (unsigned)getpid() * 2654435761u + (unsigned)i;
        st = open_queue(t, err); /* the URLs are checked here, before any thread runs */
        st = start_anyway(t, st, err);
    }
    for (int i = 0; i < w->nthr && st == MS_OK; i++) {
        if (pthread_create(&w->thr[i].t, NULL, thread_main, &w->thr[i]) != 0)
            st = bs_fail(err, MS_ERR_RUNTIME, "cannot start worker thread %d", i);
        else w->thr[i].started = 1;
    }
    if (st != MS_OK) {
        sm_worker_stop(w);
        return st;
    }
    *out = w;
    return MS_OK;
}

void sm_worker_stop(sm_worker *w)
{
    if (!w) return;
    atomic_store(&w->stop, 1);
    for (int i = 0; i < w->nthr; i++)
        if (w->thr[i].started) pthread_join(w->thr[i].t, NULL);
    free_worker(w);
}

void sm_worker_metrics(sm_worker *w, mc_buf *out) { sm_metrics_text(&w->met, out); }
