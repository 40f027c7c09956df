/* queue_part.c: a partitioned queue (docs/partitions.md): N Redis sub-queues, partition i on
 * host i mod H of the URL's host list, so N workers on N machines share one stream while each
 * key's events stay in order. The pieces:
 *
 *   names    partition i of stream S is the stream "{S:p<i>}" (a Redis Cluster hash tag: its
 *            results "{S:p<i>}:results", dead letters "{S:p<i>}:dead" and owner lease
 *            "{S:p<i>}:owner" share one slot); any other stream X of the queue is "X{S:p<i>}"
 *   routing  a message goes to partition fnv1a(its "key" field) mod N; without a key, by its
 *            "id" field; without either, round-robin. Ids handed out are "p<i>/<redis id>"
 *   owners   a consumer (a handle that reads) holds a lease per partition it owns (SET NX PX
 *            in a Lua script on the partition's server), renewed every min(lease/4, 1 s); it
 *            registers in "{S:p0}:workers" (a sorted set of expiry times) and owns about
 *            ceil(N / live consumers) partitions: it gives back extras it has nothing in hand
 *            from, and takes free ones, starting at rank * N / live so consumers spread
 *   takeover a partition taken from a dead owner (its lease expired) first moves all of that
 *            partition's pending entries to the new owner (XAUTOCLAIM, no minimum idle), then
 *            hands them out oldest first, before any new entry: per-key order holds. So does a
 *            qu_release of a failed batch: those entries come again before newer ones.
 *   fencing  a consumer sends results for a partition only while its lease surely holds
 *            (renewed less than lease_ms ago by its own clock): one paused past its lease
 *            (a stall, SIGSTOP) is refused and its batch redone by the new owner, so a stale
 *            batch never lands after the new owner's on the results stream. The store is
 *            safe anyway: newest event per key wins by queue order.
 *   checks   producers and consumers must agree on N: the first handle pins N in
 *            "{S:p0}:partitions" and every later one with another N is refused.
 *
 * A read polls the owned partitions in turn (one XREADGROUP each, no wait); when none has
 * anything it waits on the one it owns (BLOCK) or, owning several on different servers, polls
 * every POLL_MS until block_ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/bs_clock.h"
#include "base/bs_hash.h"
#include "queue/queue_int.h"

#define POLL_MS 5           /* between passes over several partitions when all are empty */
#define BEAT_MAX_MS 1000    /* leases are renewed at least this often */

typedef struct part {
    qu_queue *q;             /* the sub-queue: partition stream, its dead letters */
    char owner_key[QU_NAME_MAX];
    int owned;
    int history;             /* hand out this consumer's own pending entries first */
    char cursor[QU_ID_MAX];  /* where the history read goes on ("0": the start) */
    int64_t inflight;        /* handed out, not yet acked, dead-lettered or released */
    uint64_t handed_ns;      /* when a read last handed some out */
    uint64_t valid_until_ns; /* the lease surely holds until then (bs_now_ns at the renewal
                                request + the lease): after it, results are refused */
} part;

typedef struct pq_queue {
    qu_queue base;
    int n;
    part *p;
    char registry[QU_NAME_MAX], pin[QU_NAME_MAX];
    int consuming;           /* has read: takes part in ownership */
    uint64_t next_beat_ns;
    int rr;                  /* the partition the next read starts at */
    uint64_t rr_send;        /* keyless, id-less messages */
} pq_queue;

/* ==== names and ids ===================================================================== */

/* Partition i's name for stream `s` of this queue (see the header). -1 when it is too long. */
static int part_name(const pq_queue *q, const char *s, int i, char dst[QU_NAME_MAX])
{
    const char *base = q->base.cfg.stream;
    size_t bl = strlen(base);
    int n;
    if (strncmp(s, base, bl) == 0 && (s[bl] == 0 || s[bl] == ':'))
        n = snprintf(dst, QU_NAME_MAX, "{%s:p%d}%s", base, i, s + bl);
    else
        n = snprintf(dst, QU_NAME_MAX, "%s{%s:p%d}", s, base, i);
    return n > 0 && n < QU_NAME_MAX ? 0 : -1;
}

/* "p<i>/<raw>" -> i and raw; -1 when it is not one of this queue's ids. */
static int split_id(const pq_queue *q, const char *id, const char **raw)
{
    if (id[0] != 'p' || id[1] < '0' || id[1] > '9') return -1;
    char *e;
    long i = strtol(id + 1, &e, 10);
    if (*e != '/' || i < 0 || i >= q->n || !e[1]) return -1;
    *raw = e + 1;
    return (int)i;
}

static ms_status bad_id(const pq_queue *q, const char *id, ms_error *err)
{
    return bs_fail(err, MS_ERR_INVALID,
                   "queue %s: '%.60s' is not an id of this partitioned queue (p<i>/<id>, i < %d)",
                   q->base.cfg.shown, id, q->n);
}

/* "p<i>/<raw>" into dst (a Redis id is at most 41 characters: it always fits). */
static void join_id(char dst[QU_ID_MAX], int i, const char *raw)
{
    char tmp[QU_ID_MAX * 2];
    snprintf(tmp, sizeof tmp, "p%d/%s", i, raw);
    memcpy(dst, tmp, QU_ID_MAX - 1);
    dst[QU_ID_MAX - 1] = 0;
}

static void prefix_id(qu_msg *m, int i)
{
    char raw[QU_ID_MAX];
    memcpy(raw, m->id, QU_ID_MAX);
    join_id(m->id, i, raw);
}

/* The partition of a message: its key's hash, else its id's, else the next in turn. */
static int route(pq_queue *q, const qu_field *f, int nf)
{
    const qu_field *key = NULL, *id = NULL;
    for (int k = 0; k < nf; k++) {
        if (f[k].name_len == 3 && !memcmp(f[k].name, "key", 3)) key = &f[k];
        else if (f[k].name_len == 2 && !memcmp(f[k].name, "id", 2)) id = &f[k];
    }
    const qu_field *by = key ? key : id;
    if (!by) return (int)(q->rr_send++ % (uint64_t)q->n);
    return (int)(bs_fnv1a(by->val, by->val_len, BS_FNV_INIT) % (uint64_t)q->n);
}

/* ==== open / close ====================================================================== */

static void release_all(pq_queue *q)
{
    ms_error err;
    for (int i = 0; i < q->n; i++) {
        int got;
        if (q->p[i].owned && q->p[i].q)
            qu_redis_lease(q->p[i].q, q->p[i].owner_key, q->base.cfg.consumer, 1,
                           QU_LEASE_RELEASE, &got, NULL, &err);
        q->p[i].owned = 0;
    }
    int live, rank;
    if (q->consuming && q->p[0].q)
        qu_redis_heartbeat(q->p[0].q, q->registry, q->base.cfg.consumer, 0, &live, &rank, &err);
}

static void pq_close(qu_queue *base)
{
    pq_queue *q = (pq_queue *)base;
    release_all(q); /* a clean stop hands the partitions over at once, not after the lease */
    for (int i = 0; i < q->n; i++)
        if (q->p[i].q) q->p[i].q->ops->close(q->p[i].q);
    free(q->p);
    free(q);
}

/* N from the options, the URL and the host list; MS_ERR_INVALID when they disagree. */
static ms_status count_parts(const bs_url *u, const qu_cfg *cfg, int *n, ms_error *err)
{
    int h = u->nhosts > 0 ? u->nhosts : 1, want = cfg->partitions > 1 ? cfg->partitions : 0;
    if (want && u->partitions && want != u->partitions)
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: --partitions %d and the URL's partitions=%d disagree",
                       cfg->shown, want, u->partitions);
    *n = want ? want : u->partitions ? u->partitions : h;
    if (*n < h)
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: %d partitions over %d hosts (each host needs at least one)",
                       cfg->shown, *n, h);
    if (*n > BS_URL_PARTITIONS_MAX)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: %d partitions (at most %d)", cfg->shown,
                       *n, BS_URL_PARTITIONS_MAX);
    return MS_OK;
}

static ms_status open_part(pq_queue *q, const bs_url *u, int i, ms_error *err)
{
    qu_cfg c = q->base.cfg;
    if (part_name(q, q->base.cfg.stream, i, c.stream) || part_name(q, q->base.cfg.dead, i, c.dead) ||
        part_name(q, q->base.cfg.stream, i, q->p[i].owner_key) ||
        strlen(q->p[i].owner_key) + 6 >= QU_NAME_MAX)
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: stream name '%s' too long for partition names", c.shown,
                       q->base.cfg.stream);
    strcat(q->p[i].owner_key, ":owner");
    bs_url v = *u;
    int h = u->nhosts > 0 ? u->nhosts : 1;
    if (u->hostv) v.host = u->hostv[i % h].host, v.port = u->hostv[i % h].port;
    strcpy(q->p[i].cursor, "0");
    return qu_redis_ops.open(&v, &c, &q->p[i].q, err);
}

static ms_status pq_open(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    int n = 0;
    ms_status st = count_parts(u, cfg, &n, err);
    if (st != MS_OK) return st;
    pq_queue *q = calloc(1, sizeof *q);
    if (q) q->p = calloc((size_t)n, sizeof *q->p);
    if (!q || !q->p) {
        free(q);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    q->base.ops = &qu_part_ops;
    q->base.cfg = *cfg;
    q->n = n;
    char want[16], have[32] = "";
    snprintf(want, sizeof want, "%d", n);
    if (part_name(q, q->base.cfg.stream, 0, q->registry) || strlen(q->registry) + 12 >= QU_NAME_MAX)
        st = bs_fail(err, MS_ERR_INVALID, "queue %s: stream name too long", cfg->shown);
    if (st == MS_OK) st = open_part(q, u, 0, err); /* partition 0 pins N before any other opens */
    if (st == MS_OK) {
        memcpy(q->pin, q->registry, sizeof q->pin); /* room checked above */
        strcat(q->pin, ":partitions");
        strcat(q->registry, ":workers");
        st = qu_redis_pin(q->p[0].q, q->pin, want, have, sizeof have, err);
    }
    if (st == MS_OK && strcmp(have, want) != 0)
        st = bs_fail(err, MS_ERR_INVALID,
                     "queue %s: stream '%s' has %s partitions (%s), not %d: producers and "
                     "workers must name the same count",
                     cfg->shown, cfg->stream, have, q->pin, n);
    for (int i = 1; i < n && st == MS_OK; i++) st = open_part(q, u, i, err);
    if (st != MS_OK) {
        pq_close(&q->base);
        return st;
    }
    *out = &q->base;
    return MS_OK;
}

/* ==== ownership ========================================================================= */

static int nowned(const pq_queue *q)
{
    int k = 0;
    for (int i = 0; i < q->n; i++) k += q->p[i].owned;
    return k;
}

/* Partition i is ours now (taken from a dead owner, or ours again after a restart under the
 * same consumer name): everything pending in it becomes ours and is handed out first. */
static ms_status took(pq_queue *q, int i, uint64_t asked_ns, ms_error *err)
{
    part *p = &q->p[i];
    p->valid_until_ns = asked_ns + (uint64_t)q->base.cfg.lease_ms * 1000000u;
    ms_status st = qu_redis_claim_all(p->q, err);
    if (st != MS_OK) return st;
    p->owned = 1, p->history = 1, p->inflight = 0;
    strcpy(p->cursor, "0");
    return MS_OK;
}

/* Renew the leases, give back extras, take free partitions up to ceil(N / live). */
static ms_status beat(pq_queue *q, ms_error *err)
{
    const qu_cfg *c = &q->base.cfg;
    int64_t every = c->lease_ms / 4 > BEAT_MAX_MS ? BEAT_MAX_MS : c->lease_ms / 4;
    q->next_beat_ns = bs_now_ns() + (uint64_t)(every > 0 ? every : 1) * 1000000u;
    q->consuming = 1;
    int live = 1, rank = 0, got;
    ms_status st = qu_redis_heartbeat(q->p[0].q, q->registry, c->consumer, c->lease_ms, &live,
                                      &rank, err);
    if (st != MS_OK) return st;
    if (live < 1) live = 1;
    if (rank < 0) rank = 0;
    int target = (q->n + live - 1) / live;
    for (int i = 0; i < q->n && st == MS_OK; i++) {
        if (!q->p[i].owned) continue;
        uint64_t asked = bs_now_ns();
        st = qu_redis_lease(q->p[i].q, q->p[i].owner_key, c->consumer, c->lease_ms,
                            QU_LEASE_TAKE, &got, NULL, err);
        if (st != MS_OK) break;
        if (got == 0) {
            q->p[i].owned = 0; /* lost it (stalled past the lease) */
        } else if (asked > q->p[i].valid_until_ns) {
            /* ours again, but it may have lapsed meanwhile: what is in hand stays refused
             * (valid_until stays past); once given back, take the partition afresh */
            if (q->p[i].inflight == 0) st = took(q, i, asked, err);
        } else {
            q->p[i].valid_until_ns = asked + (uint64_t)c->lease_ms * 1000000u;
        }
    }
    for (int i = q->n - 1; i >= 0 && st == MS_OK && nowned(q) > target; i--) {
        part *p = &q->p[i];
        if (!p->owned || p->inflight > 0) continue; /* never with messages in hand */
        st = qu_redis_lease(p->q, p->owner_key, c->consumer, 1, QU_LEASE_RELEASE, &got, NULL, err);
        p->owned = 0;
    }
    /* entries of ours may be pending that no one will settle (a caller that dropped a batch
     * without ack or release, an ack count gone wrong): with nothing in hand, or nothing
     * settled for a whole lease, hand them out again, first, as a lease expiry would */
    uint64_t now = bs_now_ns(), lease_ns = (uint64_t)c->lease_ms * 1000000u;
    for (int i = 0; i < q->n; i++) {
        part *p = &q->p[i];
        if (p->owned && p->inflight > 0 && now - p->handed_ns > lease_ns) p->inflight = 0;
        if (p->owned && p->inflight == 0 && !p->history) p->history = 1, strcpy(p->cursor, "0");
    }
    int start = (int)((int64_t)rank * q->n / live);
    for (int k = 0; k < q->n && st == MS_OK && nowned(q) < target; k++) {
        int i = (start + k) % q->n;
        if (q->p[i].owned) continue;
        uint64_t asked = bs_now_ns();
        st = qu_redis_lease(q->p[i].q, q->p[i].owner_key, c->consumer, c->lease_ms,
                            QU_LEASE_TAKE, &got, NULL, err);
        if (st == MS_OK && got) st = took(q, i, asked, err);
    }
    return st;
}

/* ==== producing ========================================================================= */

static ms_status pq_send(qu_queue *base, const char *stream, const qu_field *const *msgs,
                         const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                         ms_error *err)
{
    pq_queue *q = (pq_queue *)base;
    int *to = malloc(n * sizeof *to);
    size_t *who = malloc(n * sizeof *who);
    const qu_field **pm = malloc(n * sizeof *pm);
    int *pnf = malloc(n * sizeof *pnf);
    char (*pid)[QU_ID_MAX] = ids ? malloc(n * sizeof *pid) : NULL;
    ms_status st = to && who && pm && pnf && (!ids || pid) ? MS_OK
                   : bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (size_t k = 0; st == MS_OK && k < n; k++) to[k] = route(q, msgs[k], nfields[k]);
    for (int i = 0; st == MS_OK && i < q->n; i++) {
        size_t m = 0;
        for (size_t k = 0; k < n; k++)
            if (to[k] == i) who[m] = k, pm[m] = msgs[k], pnf[m++] = nfields[k];
        if (!m) continue;
        char name[QU_NAME_MAX];
        if (part_name(q, stream, i, name))
            st = bs_fail(err, MS_ERR_INVALID, "queue %s: stream name '%s' too long", base->cfg.shown, stream);
        if (st == MS_OK && q->consuming && strcmp(stream, base->cfg.stream) != 0 &&
            (!q->p[i].owned || bs_now_ns() > q->p[i].valid_until_ns))
            st = bs_fail(err, MS_ERR_RUNTIME,
                         "queue %s: partition %d is no longer this consumer's (its lease ran "
                         "out: a pause longer than %lld ms?); its results are not published, "
                         "the new owner scores those events again",
                         base->cfg.shown, i, (long long)base->cfg.lease_ms);
        if (st == MS_OK) st = q->p[i].q->ops->send(q->p[i].q, name, pm, pnf, m, maxlen, pid, err);
        for (size_t k = 0; st == MS_OK && ids && k < m; k++)
            join_id(ids[who[k]], i, pid[k]);
    }
    free(to), free(who), free(pm), free(pnf), free(pid);
    return st;
}

/* ==== consuming ========================================================================= */

/* One pass: each owned partition in turn, history first, no waiting. */
static ms_status pass(pq_queue *q, size_t max, qu_batch *b, ms_error *err)
{
    ms_status st = MS_OK;
    for (int k = 0; k < q->n && st == MS_OK && b->n < max; k++) {
        int i = (q->rr + k) % q->n;
        part *p = &q->p[i];
        if (!p->owned) continue;
        size_t from = b->n, nraw = 0, want = max - b->n;
        char last[QU_ID_MAX];
        if (p->history) {
            st = qu_redis_read_from(p->q, p->cursor, want, 0, b, &nraw, last, err);
            if (st == MS_OK && last[0]) snprintf(p->cursor, sizeof p->cursor, "%s", last);
            if (st == MS_OK && nraw < want) p->history = 0, strcpy(p->cursor, "0");
        }
        if (st == MS_OK && !p->history && b->n < max)
            st = qu_redis_read_from(p->q, ">", max - b->n, 0, b, &nraw, last, err);
        for (size_t j = from; j < b->n; j++) prefix_id(&b->msgs[j], i);
        if (b->n > from) p->inflight += (int64_t)(b->n - from), p->handed_ns = bs_now_ns();
    }
    q->rr = (q->rr + 1) % q->n;
    return st;
}

static ms_status pq_read(qu_queue *base, size_t max, int block_ms, qu_batch *b, ms_error *err)
{
    pq_queue *q = (pq_queue *)base;
    uint64_t deadline = bs_now_ns() + (uint64_t)block_ms * 1000000u;
    for (;;) {
        ms_status st = bs_now_ns() >= q->next_beat_ns ? beat(q, err) : MS_OK;
        if (st == MS_OK) st = pass(q, max, b, err);
        if (st != MS_OK || b->n) return st;
        uint64_t now = bs_now_ns();
        if (now >= deadline) return MS_OK;
        uint64_t until = deadline < q->next_beat_ns ? deadline : q->next_beat_ns;
        int wait_ms = until > now ? (int)((until - now) / 1000000u) : 0;
        int one = -1;
        if (nowned(q) == 1)
            for (int i = 0; i < q->n; i++)
                if (q->p[i].owned && !q->p[i].history) one = i;
        if (one >= 0 && wait_ms > 0) { /* one partition: wait on the server */
            size_t nraw;
            char last[QU_ID_MAX];
            st = qu_redis_read_from(q->p[one].q, ">", max, wait_ms, b, &nraw, last, err);
            for (size_t j = 0; j < b->n; j++) prefix_id(&b->msgs[j], one);
            if (b->n) q->p[one].inflight += (int64_t)b->n, q->p[one].handed_ns = bs_now_ns();
            if (st != MS_OK || b->n) return st;
        } else {
            int ms = nowned(q) == 0 ? wait_ms : wait_ms < POLL_MS ? wait_ms : POLL_MS;
            if (ms < 1) ms = 1;
            nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
        }
    }
}

/* The ids grouped by partition: fn(partition, raw ids, count) once per partition. */
static ms_status by_part(pq_queue *q, const char *const *ids, size_t n,
                         ms_status (*fn)(pq_queue *, int, const char *const *, size_t, ms_error *),
                         ms_error *err)
{
    const char **raw = malloc(n * sizeof *raw);
    int *pi = malloc(n * sizeof *pi);
    ms_status st = raw && pi ? MS_OK : bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (size_t k = 0; st == MS_OK && k < n; k++)
        if ((pi[k] = split_id(q, ids[k], &raw[k])) < 0) st = bad_id(q, ids[k], err);
    const char **mine = st == MS_OK ? malloc(n * sizeof *mine) : NULL;
    if (st == MS_OK && !mine) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int i = 0; st == MS_OK && i < q->n; i++) {
        size_t m = 0;
        for (size_t k = 0; k < n; k++)
            if (pi[k] == i) mine[m++] = raw[k];
        if (m) st = fn(q, i, mine, m, err);
    }
    free(raw), free(pi), free(mine);
    return st;
}

static void settle(part *p, size_t m)
{
    p->inflight -= (int64_t)m;
    if (p->inflight < 0) p->inflight = 0;
}

static ms_status ack_part(pq_queue *q, int i, const char *const *raw, size_t m, ms_error *err)
{
    ms_status st = q->p[i].q->ops->ack(q->p[i].q, raw, m, err);
    if (st == MS_OK) settle(&q->p[i], m);
    return st;
}

static ms_status release_part(pq_queue *q, int i, const char *const *raw, size_t m, ms_error *err)
{
    (void)raw, (void)err;
    part *p = &q->p[i];
    settle(p, m);
    p->history = 1; /* they come again, before anything newer of this partition */
    strcpy(p->cursor, "0");
    return MS_OK;
}

static ms_status pq_ack(qu_queue *base, const char *const *ids, size_t n, ms_error *err)
{
    return by_part((pq_queue *)base, ids, n, ack_part, err);
}

static ms_status pq_release(qu_queue *base, const char *const *ids, size_t n, ms_error *err)
{
    return by_part((pq_queue *)base, ids, n, release_part, err);
}

static ms_status pq_dead(qu_queue *base, const qu_msg *m, const char *reason, ms_error *err)
{
    pq_queue *q = (pq_queue *)base;
    const char *raw;
    int i = split_id(q, m->id, &raw);
    if (i < 0) return bad_id(q, m->id, err);
    qu_msg c = *m;
    snprintf(c.id, sizeof c.id, "%s", raw);
    ms_status st = q->p[i].q->ops->dead(q->p[i].q, &c, reason, err);
    if (st == MS_OK) settle(&q->p[i], 1);
    return st;
}

/* ==== status and range ================================================================== */

static void add_consumers(qu_stats *st, const qu_stats *s)
{
    for (size_t k = 0; k < s->nconsumers; k++) {
        size_t j = 0;
        while (j < st->nconsumers && strcmp(st->consumers[j].name, s->consumers[k].name)) j++;
        if (j == st->nconsumers) {
            st->consumers[st->nconsumers++] = s->consumers[k];
        } else {
            st->consumers[j].pending += s->consumers[k].pending;
            if (s->consumers[k].idle_ms < st->consumers[j].idle_ms)
                st->consumers[j].idle_ms = s->consumers[k].idle_ms;
        }
    }
}

static ms_status pq_status(qu_queue *base, qu_stats *st, ms_error *err)
{
    pq_queue *q = (pq_queue *)base;
    if (!(st->partitions = calloc((size_t)q->n, sizeof *st->partitions)))
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    st->npartitions = (size_t)q->n;
    ms_status rs = MS_OK;
    size_t cap = 0;
    for (int i = 0; i < q->n && rs == MS_OK; i++) {
        qu_stats s = {0};
        rs = q->p[i].q->ops->status(q->p[i].q, &s, err);
        int got;
        qu_partition_stat *ps = &st->partitions[i];
        if (rs == MS_OK)
            rs = qu_redis_lease(q->p[i].q, q->p[i].owner_key, "", 1, QU_LEASE_PEEK, &got, ps->owner, err);
        if (rs == MS_OK && st->nconsumers + s.nconsumers > cap) {
            cap = (st->nconsumers + s.nconsumers) * 2;
            qu_consumer_stat *c = realloc(st->consumers, cap * sizeof *c);
            if (!c) rs = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            else st->consumers = c;
        }
        if (rs == MS_OK) {
            add_consumers(st, &s);
            qu_redis_where(q->p[i].q, ps->host, sizeof ps->host);
            ps->length = s.length, ps->pending = s.pending, ps->lag = s.lag;
            st->length += s.length, st->pending += s.pending, st->dead += s.dead;
            st->lag = st->lag < 0 || s.lag < 0 ? -1 : st->lag + s.lag;
            if (s.oldest_age_ms > st->oldest_age_ms) st->oldest_age_ms = s.oldest_age_ms;
        }
        free(s.consumers);
        free(s.partitions);
    }
    return rs;
}

/* The id just before a Redis id "ms-seq" (inclusive starts for qu_range's exclusive "after");
 * "" for 0-0. */
static void id_before(const char *id, char dst[QU_ID_MAX])
{
    unsigned long long ms = 0, seq = 0;
    if (sscanf(id, "%llu-%llu", &ms, &seq) != 2 || (ms == 0 && seq == 0)) dst[0] = 0;
    else if (seq) snprintf(dst, QU_ID_MAX, "%llu-%llu", ms, seq - 1);
    else snprintf(dst, QU_ID_MAX, "%llu-%llu", ms - 1, 1ULL << 62); /* the highest seq a
                                                                     Redis id here may hold */
}

/* All partitions' `stream` merged oldest first by (order, partition); `after` is an id this
 * returned ("p<j>/<id>"), so paging goes on where it stopped. */
static ms_status pq_range(qu_queue *base, const char *stream, const char *after, size_t max,
                          qu_batch *b, ms_error *err)
{
    pq_queue *q = (pq_queue *)base;
    const char *raw = "";
    int j = -1;
    if (*after && (j = split_id(q, after, &raw)) < 0) return bad_id(q, after, err);
    qu_batch *pb = calloc((size_t)q->n, sizeof *pb);
    size_t *at = calloc((size_t)q->n, sizeof *at);
    ms_status st = pb && at ? MS_OK : bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < q->n && st == MS_OK; i++) {
        char name[QU_NAME_MAX], start[QU_ID_MAX] = "";
        if (part_name(q, stream, i, name)) {
            st = bs_fail(err, MS_ERR_INVALID, "queue %s: stream name '%s' too long", base->cfg.shown, stream);
            break;
        }
        if (j >= 0 && i > j) id_before(raw, start); /* ties in order: lower partition first */
        else if (j >= 0) snprintf(start, sizeof start, "%s", raw);
        st = q->p[i].q->ops->range(q->p[i].q, name, start, max, &pb[i], err);
    }
    while (st == MS_OK && b->n < max) {
        int best = -1;
        for (int i = 0; i < q->n; i++)
            if (at[i] < pb[i].n && (best < 0 || pb[i].msgs[at[i]].order < pb[best].msgs[at[best]].order))
                best = i;
        if (best < 0) break;
        const qu_msg *m = &pb[best].msgs[at[best]++];
        qu_msg *c = qu_batch_add(b, m->fields, m->nfields);
        if (!c) {
            st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            break;
        }
        snprintf(c->id, sizeof c->id, "%s", m->id);
        prefix_id(c, best);
        c->order = m->order, c->enq_ms = m->enq_ms;
    }
    for (int i = 0; pb && i < q->n; i++) qu_batch_free(&pb[i]);
    free(pb), free(at);
    return st;
}

const qu_backend_ops qu_part_ops = {
    .version = QU_OPS_VERSION,
    .name = "redis",
    .caps = QU_CAP_BLOCKING | QU_CAP_MULTI_HOST | QU_CAP_TRIM,
    .open = pq_open,
    .close = pq_close,
    .send = pq_send,
    .read = pq_read,
    .ack = pq_ack,
    .dead = pq_dead,
    .status = pq_status,
    .range = pq_range,
    .release = pq_release,
};
