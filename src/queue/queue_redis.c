/* queue_redis.c: the Redis Streams backend (hiredis). A queue is a stream with a consumer group
 * (default "mlship"), created at id 0 with MKSTREAM when missing, so messages sent before the
 * first worker started are read. Commands (docs/queue.md):
 *
 *   send    pipelined XADD stream [MAXLEN ~ n] * field value ...
 *   read    XAUTOCLAIM (entries idle past lease_ms, from a cursor kept in the handle; at most
 *           every lease_ms / 4, and at least once a second), their
 *           delivery counts from XPENDING, then XREADGROUP GROUP g c COUNT n [BLOCK ms] ... >
 *   ack     XACK;  dead: MULTI, XADD <dead> ..., XACK, EXEC
 *   status  XLEN, XINFO GROUPS, XINFO CONSUMERS, XPENDING (summary), XRANGE
 *
 * For the partitioned queue (queue_part.c, docs/partitions.md), a few more, declared in
 * queue_int.h: owner leases and the consumer registry as short EVAL scripts (atomic on the
 * server), a takeover's XAUTOCLAIM of a whole pending list, and XREADGROUP from an id (this
 * consumer's own pending entries, oldest first) as well as from ">".
 *
 * The connection: connects time out after CONNECT_TIMEOUT_S, replies after IO_TIMEOUT_S (so
 * a cut network is an error, not a hang). When it drops (a server restart), the next call reconnects once, logs in
 * again, re-creates the group if it is gone, and repeats commands that are safe to repeat
 * (reads, acks, status). A send or a dead letter whose reply was lost may have been applied:
 * it is reported as an error naming the URL, never as success. */
#include "queue/queue_int.h"
#include "base/bs_clock.h"

#ifndef MS_WITH_REDIS
#define MS_WITH_REDIS 1
#endif

#if !MS_WITH_REDIS
#include <stdio.h>

static ms_status rq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    return qu_not_built(err, "Redis", "WITH_REDIS", "libhiredis-dev");
}
static void rq_close_stub(qu_queue *q) {}
const qu_backend_ops qu_redis_ops = {.version = QU_OPS_VERSION, .name = "redis",
                                     .open = rq_open_stub, .close = rq_close_stub};

static ms_status no_redis(ms_error *err)
{
    return qu_not_built(err, "Redis", "WITH_REDIS", "libhiredis-dev");
}
ms_status qu_redis_lease(qu_queue *q, const char *key, const char *owner, int64_t ms, int op,
                         int *got, char holder[QU_NAME_MAX], ms_error *err)
{
    return no_redis(err);
}
ms_status qu_redis_heartbeat(qu_queue *q, const char *key, const char *member, int64_t ttl_ms,
                             int *live, int *rank, ms_error *err)
{
    return no_redis(err);
}
ms_status qu_redis_pin(qu_queue *q, const char *key, const char *value, char *have, size_t cap,
                       ms_error *err)
{
    return no_redis(err);
}
ms_status qu_redis_claim_all(qu_queue *q, ms_error *err) { return no_redis(err); }
ms_status qu_redis_read_from(qu_queue *q, const char *from, size_t max, int block_ms,
                             qu_batch *b, size_t *nraw, char last[QU_ID_MAX], ms_error *err)
{
    return no_redis(err);
}
void qu_redis_where(const qu_queue *q, char *dst, size_t cap) { snprintf(dst, cap, "?"); }

#else

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define IO_TIMEOUT_S 30  /* a reply slower than this is a dead server */
#define CONNECT_TIMEOUT_S 3 /* a connect that takes longer: down or cut off (retried with back-off) */
#define BLOCK_STEP_MS 20000 /* a longer wait is several XREADGROUPs, each within IO_TIMEOUT_S */

/* Replies are built in an arena (see "replies" below) instead of hiredis's own objects: a read
 * of 100 events was some 1,600 callocs, mallocs and frees, a quarter of a stream worker's
 * instructions per event (callgrind, bench/stream). */
typedef struct rq_chunk {
    struct rq_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} rq_chunk;

typedef struct rq_queue {
    qu_queue base;
    redisContext *c;
    rq_chunk *arena; /* this handle's replies: reset when an operation starts */
    char *host, *user, *password;
    int port, db;
    char cursor[QU_ID_MAX]; /* where the next XAUTOCLAIM starts */
    uint64_t next_claim_ns; /* the next XAUTOCLAIM is due then (0: at the next read) */
} rq_queue;

/* ==== arguments ========================================================================= */

typedef struct rq_args {
    const char **v;
    size_t *len;
    int n, cap, oom;
} rq_args;

static void arg(rq_args *a, const char *s, size_t n)
{
    if (a->oom) return;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 32;
        const char **v = realloc(a->v, (size_t)cap * sizeof *v);
        size_t *len = v ? realloc(a->len, (size_t)cap * sizeof *len) : NULL;
        if (v) a->v = v;
        if (!v || !len) {
            a->oom = 1;
            return;
        }
        a->len = len, a->cap = cap;
    }
    a->v[a->n] = s ? s : "";
    a->len[a->n++] = n;
}

static void args(rq_args *a, const char *s) { arg(a, s, strlen(s)); }
static void args_free(rq_args *a) { free(a->v), free(a->len), memset(a, 0, sizeof *a); }

/* A pipeline of commands in the Redis protocol (RESP), written here rather than by
 * redisAppendCommandArgv: hiredis formats each argument with sdscatfmt and grows an sds per
 * command, which took 14,000 instructions per result event in a busy stream worker (callgrind);
 * writing "*N\r\n$len\r\narg\r\n..." into one buffer per pipeline takes a tenth of that. */
typedef struct resp_buf {
    char *p;
    size_t len, cap;
    int oom;
} resp_buf;

static char *resp_room(resp_buf *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return b->oom = 1, NULL;
        b->p = p, b->cap = cap;
    }
    return b->p + b->len;
}

static void resp_head(resp_buf *b, char kind, size_t n)
{
    char tmp[24], *d = tmp + sizeof tmp; /* digits by hand: snprintf cost 800 instructions */
    do *--d = (char)('0' + n % 10); while (n /= 10);
    size_t k = (size_t)(tmp + sizeof tmp - d);
    char *w = resp_room(b, k + 3);
    if (!w) return;
    w[0] = kind;
    memcpy(w + 1, d, k);
    memcpy(w + 1 + k, "\r\n", 2);
    b->len += k + 3;
}

static void resp_put(resp_buf *b, const rq_args *a)
{
    resp_head(b, '*', (size_t)a->n);
    for (int i = 0; i < a->n && !b->oom; i++) {
        resp_head(b, '$', a->len[i]);
        char *w = resp_room(b, a->len[i] + 2);
        if (!w) return;
        memcpy(w, a->v[i], a->len[i]);
        memcpy(w + a->len[i], "\r\n", 2);
        b->len += a->len[i] + 2;
    }
}

/* ==== ids =============================================================================== */

/* "ms-seq" into its two numbers; -1 when it is not a stream id. */
static const char *id_num(const char *p, unsigned long long *out) /* 1 to 19 digits */
{
    unsigned long long v = 0;
    const char *start = p;
    for (; *p >= '0' && *p <= '9' && p - start < 19; p++) v = v * 10 + (unsigned)(*p - '0');
    *out = v;
    return p > start && !(*p >= '0' && *p <= '9') ? p : NULL;
}

/* By hand rather than strtoull: every event's id is parsed on read and on send (strtoull was
 * 900 instructions an event, callgrind). */
static int parse_id(const char *id, int64_t *ms, int64_t *seq)
{
    unsigned long long a, b;
    const char *e = id_num(id, &a);
    if (!e || *e != '-' || !(e = id_num(e + 1, &b)) || *e) return -1;
    if (a > (1ULL << 42) || b > (1ULL << 62)) return -1;
    *ms = (int64_t)a, *seq = (int64_t)b;
    return 0;
}

/* order = (ms << 20) + seq: increasing with the id while seq < 2^20 entries per millisecond. */
static void set_id(qu_msg *m, const char *id, size_t len)
{
    snprintf(m->id, QU_ID_MAX, "%.*s", (int)len, id);
    int64_t ms = 0, seq = 0;
    if (parse_id(m->id, &ms, &seq) == 0) {
        m->enq_ms = ms;
        m->order = (ms << 20) + (seq < (1 << 20) ? seq : (1 << 20) - 1);
    }
}

static ms_status check_id(rq_queue *q, const char *id, ms_error *err)
{
    int64_t a, b;
    return parse_id(id, &a, &b) == 0
               ? MS_OK
               : bs_fail(err, MS_ERR_INVALID, "queue %s: '%s' is not a Redis stream id",
                         q->base.cfg.shown, id);
}

/* ==== the connection ==================================================================== */

static ms_status rq_err(rq_queue *q, ms_error *err, const char *what, const char *detail)
{
    return bs_fail(err, MS_ERR_RUNTIME, "queue %s (stream %s): %s: %s", q->base.cfg.shown,
                   q->base.cfg.stream, what,
                   detail ? detail : (q->c && q->c->errstr[0] ? q->c->errstr : "error"));
}

/* ==== replies ============================================================================ */

/* Every reply of an operation lives until the next operation starts (a handle is one thread's,
 * and no reply is kept in the handle), so hiredis's reader builds them with these functions in
 * the handle's arena, and freeing one is nothing: rq_reset reclaims them all at once. The
 * shapes are hiredis's own redisReply, linked to their parent array as hiredis links them. */
#define RQ_CHUNK (64 * 1024)

static void *rq_alloc(rq_queue *q, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    rq_chunk *c = q->arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > RQ_CHUNK ? n : RQ_CHUNK;
        rq_chunk *fresh = malloc(sizeof *fresh + cap);
        if (!fresh) return NULL;
        fresh->next = c, fresh->used = 0, fresh->cap = cap;
        q->arena = c = fresh;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* Keep the newest chunk (the common case: one chunk serves every operation), free the rest. */
static void rq_reset(rq_queue *q)
{
    rq_chunk *c = q->arena;
    if (!c) return;
    for (rq_chunk *o = c->next, *next; o; o = next) next = o->next, free(o);
    c->next = NULL;
    c->used = 0;
}

static void rq_arena_free(rq_queue *q)
{
    rq_reset(q);
    free(q->arena);
    q->arena = NULL;
}

static redisReply *reply_new(const redisReadTask *t, int type)
{
    redisReply *r = rq_alloc(t->privdata, sizeof *r);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    r->type = type;
    if (t->parent) {
        redisReply *parent = t->parent->obj;
        parent->element[t->idx] = r;
    }
    return r;
}

static void *reply_string(const redisReadTask *t, char *str, size_t len)
{
    redisReply *r = reply_new(t, t->type);
    char *copy = r ? rq_alloc(t->privdata, len + 1) : NULL;
    if (!copy) return NULL;
    memcpy(copy, str, len);
    copy[len] = 0;
    r->str = copy, r->len = len;
    return r;
}

static void *reply_array(const redisReadTask *t, int elements)
{
    redisReply *r = reply_new(t, REDIS_REPLY_ARRAY);
    if (!r) return NULL;
    if (elements > 0) {
        r->element = rq_alloc(t->privdata, (size_t)elements * sizeof *r->element);
        if (!r->element) return NULL;
        memset(r->element, 0, (size_t)elements * sizeof *r->element);
    }
    r->elements = elements > 0 ? (size_t)elements : 0;
    return r;
}

static void *reply_integer(const redisReadTask *t, long long v)
{
    redisReply *r = reply_new(t, REDIS_REPLY_INTEGER);
    if (r) r->integer = v;
    return r;
}

static void *reply_nil(const redisReadTask *t) { return reply_new(t, REDIS_REPLY_NIL); }
static void reply_free(void *r) { (void)r; } /* the arena's: rq_reset */

static redisReplyObjectFunctions rq_reply_fns = {reply_string, reply_array, reply_integer,
                                                 reply_nil, reply_free};

/* A reply is done with: nothing to do (rq_reset), the name says where a reply's life ends. */
static void reply_done(redisReply *r) { (void)r; }

/* One command, its reply checked for errors; *out gets the reply when out is not NULL. */
static ms_status cmd_once(rq_queue *q, rq_args *a, redisReply **out, ms_error *err)
{
    if (a->oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    redisReply *r = redisCommandArgv(q->c, a->n, a->v, a->len);
    if (!r) return rq_err(q, err, a->v[0], NULL);
    if (r->type == REDIS_REPLY_ERROR) {
        ms_status st = rq_err(q, err, a->v[0], r->str);
        reply_done(r);
        return st;
    }
    if (out) *out = r;
    else reply_done(r);
    return MS_OK;
}

static ms_status simple(rq_queue *q, ms_error *err, int n, const char *const *v)
{
    rq_args a = {0};
    for (int i = 0; i < n; i++) args(&a, v[i]);
    ms_status st = cmd_once(q, &a, NULL, err);
    args_free(&a);
    return st;
}

static ms_status ensure_group(rq_queue *q, ms_error *err)
{
    const char *v[] = {"XGROUP", "CREATE", q->base.cfg.stream, q->base.cfg.group, "0",
                       "MKSTREAM"};
    ms_status st = simple(q, err, 6, v);
    if (st != MS_OK && strstr(err->msg, "BUSYGROUP")) st = MS_OK; /* there already */
    return st;
}

/* Connects (or reconnects), logs in, selects the database and makes sure the group exists. */
static ms_status connect_to(rq_queue *q, ms_error *err)
{
    if (q->c) redisFree(q->c);
    struct timeval tv = {CONNECT_TIMEOUT_S, 0};
    q->c = redisConnectWithTimeout(q->host, q->port, tv);
    if (!q->c || q->c->err)
        return bs_fail(err, MS_ERR_RUNTIME, "cannot connect to queue %s: %s", q->base.cfg.shown,
                       q->c ? q->c->errstr : "out of memory");
    struct timeval rw = {IO_TIMEOUT_S, 0};
    redisSetTimeout(q->c, rw);
    q->c->reader->fn = &rq_reply_fns;
    q->c->reader->privdata = q;
    ms_status st = MS_OK;
    if (q->password) {
        const char *a3[] = {"AUTH", q->user, q->password}, *a2[] = {"AUTH", q->password};
        st = q->user ? simple(q, err, 3, a3) : simple(q, err, 2, a2);
    }
    if (st == MS_OK && q->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", q->db);
        const char *v[] = {"SELECT", db};
        st = simple(q, err, 2, v);
    }
    return st == MS_OK ? ensure_group(q, err) : st;
}

/* 1 when the connection is broken (not a command error): the case a reconnect fixes. */
static int broken(rq_queue *q)
{
    return !q->c || q->c->err == REDIS_ERR_IO || q->c->err == REDIS_ERR_EOF;
}

/* A command that is safe to repeat: on a broken connection, or a group gone with its stream
 * (NOGROUP), reconnect or re-create once and repeat. */
static ms_status cmd(rq_queue *q, rq_args *a, redisReply **out, ms_error *err)
{
    ms_status st = broken(q) ? connect_to(q, err) : MS_OK;
    if (st != MS_OK) return st;
    st = cmd_once(q, a, out, err);
    if (st == MS_OK) return st;
    if (broken(q)) st = connect_to(q, err);
    else if (strstr(err->msg, "NOGROUP")) st = ensure_group(q, err);
    else return st;
    return st == MS_OK ? cmd_once(q, a, out, err) : st;
}

/* Commands were appended and their replies will not be read (out of memory): the connection
 * is out of step, so it is closed and the next call connects afresh. */
static ms_status drop(rq_queue *q, ms_error *err)
{
    redisFree(q->c);
    q->c = NULL;
    return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
}

/* Before a command that must not be repeated: reconnect a connection known to be broken. */
static ms_status ready(rq_queue *q, ms_error *err)
{
    return broken(q) ? connect_to(q, err) : MS_OK;
}

/* Appended commands whose replies are read now; the failure message says what may have been
 * applied. replies may be NULL (then they are checked and freed). */
static ms_status read_replies(rq_queue *q, int n, redisReply **replies, const char *what,
                              ms_error *err)
{
    ms_status st = MS_OK;
    for (int i = 0; i < n; i++) {
        void *v = NULL;
        if (redisGetReply(q->c, &v) != REDIS_OK || !v) {
            return bs_fail(err, MS_ERR_RUNTIME,
                           "queue %s (stream %s): %s: connection lost after %d of %d replies "
                           "(%s); the rest may have been applied",
                           q->base.cfg.shown, q->base.cfg.stream, what, i, n,
                           q->c->errstr[0] ? q->c->errstr : "no reply");
        }
        redisReply *r = v;
        if (r->type == REDIS_REPLY_ERROR && st == MS_OK) {
            char detail[300];
            snprintf(detail, sizeof detail, "reply %d of %d: %s", i + 1, n, r->str);
            st = rq_err(q, err, what, detail);
        }
        if (replies) replies[i] = r;
        else reply_done(r);
    }
    return st;
}

/* ==== open / close ====================================================================== */

static void rq_close(qu_queue *base)
{
    rq_queue *q = (rq_queue *)base;
    if (q->c) redisFree(q->c);
    rq_arena_free(q);
    free(q->host);
    free(q->user);
    free(q->password);
    free(q);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static ms_status rq_open(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    rq_queue *q = calloc(1, sizeof *q);
    if (!q) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    q->base.ops = &qu_redis_ops;
    q->base.cfg = *cfg;
    q->host = strdup(u->host);
    q->user = dup_or_null(u->user);
    q->password = dup_or_null(u->password);
    q->port = u->port, q->db = u->db;
    strcpy(q->cursor, "0-0");
    ms_status st = !q->host || (u->user && !q->user) || (u->password && !q->password)
                       ? bs_fail(err, MS_ERR_RUNTIME, "out of memory")
                       : connect_to(q, err);
    if (st != MS_OK) {
        rq_close(&q->base);
        return st;
    }
    *out = &q->base;
    return MS_OK;
}

/* ==== producing ========================================================================= */

static void xadd_args(rq_args *a, const char *stream, int64_t maxlen, char *num,
                      const qu_field *f, int nf)
{
    args(a, "XADD");
    args(a, stream);
    if (maxlen > 0) {
        snprintf(num, 24, "%lld", (long long)maxlen);
        args(a, "MAXLEN"), args(a, "~"), args(a, num);
    }
    args(a, "*");
    for (int i = 0; i < nf; i++) arg(a, f[i].name, f[i].name_len), arg(a, f[i].val, f[i].val_len);
}

static ms_status rq_send(qu_queue *base, const char *stream, const qu_field *const *msgs,
                         const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                         ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies */
    ms_status st = ready(q, err);
    resp_buf out = {0};
    for (size_t done = 0; st == MS_OK && done < n;) {
        size_t chunk = n - done < 1000 ? n - done : 1000; /* in flight before the replies */
        out.len = 0;
        for (size_t i = done; i < done + chunk; i++) {
            rq_args a = {0};
            char num[24];
            xadd_args(&a, stream, maxlen, num, msgs[i], nfields[i]);
            if (!a.oom) resp_put(&out, &a);
            int oom = a.oom || out.oom;
            args_free(&a);
            if (oom) return free(out.p), drop(q, err);
        }
        if (redisAppendFormattedCommand(q->c, out.p, out.len) != REDIS_OK) return free(out.p), drop(q, err);
        redisReply **r = calloc(chunk, sizeof *r);
        if (!r) return drop(q, err);
        st = read_replies(q, (int)chunk, r, "send (XADD)", err);
        for (size_t i = 0; i < chunk; i++) {
            if (!r[i]) continue; /* not read: the connection was lost */
            if (ids && r[i]->type == REDIS_REPLY_STRING)
                snprintf(ids[done + i], QU_ID_MAX, "%s", r[i]->str);
            reply_done(r[i]);
        }
        free(r);
        done += chunk;
    }
    free(out.p);
    return st;
}

/* ==== dead letters ====================================================================== */

static ms_status rq_dead(qu_queue *base, const qu_msg *m, const char *reason, ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies */
    ms_status st = check_id(q, m->id, err);
    if (st == MS_OK) st = ready(q, err);
    if (st != MS_OK) return st;
    qu_field *f = malloc(((size_t)m->nfields + 3) * sizeof *f);
    if (!f) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    char num[QU_ID_MAX];
    int nf = qu_dead_fields(m, reason, num, f);
    rq_args x = {0};
    xadd_args(&x, q->base.cfg.dead, 0, NULL, f, nf);
    const char *ack[] = {"XACK", q->base.cfg.stream, q->base.cfg.group, m->id};
    int ok = !x.oom && redisAppendCommand(q->c, "MULTI") == REDIS_OK &&
             redisAppendCommandArgv(q->c, x.n, x.v, x.len) == REDIS_OK &&
             redisAppendCommandArgv(q->c, 4, ack, NULL) == REDIS_OK &&
             redisAppendCommand(q->c, "EXEC") == REDIS_OK;
    args_free(&x);
    free(f);
    if (!ok) return drop(q, err);
    redisReply *r[4] = {0};
    st = read_replies(q, 4, r, "dead letter (MULTI/XADD/XACK/EXEC)", err);
    if (st == MS_OK && (!r[3] || r[3]->type != REDIS_REPLY_ARRAY || r[3]->elements != 2 ||
                        r[3]->element[0]->type == REDIS_REPLY_ERROR))
        st = rq_err(q, err, "dead letter", "EXEC did not apply the transaction");
    for (int i = 0; i < 4; i++)
        if (r[i]) reply_done(r[i]);
    return st;
}

/* ==== consuming ========================================================================= */

static int is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* An entry [id, [f, v, ...]] into b; NULL when malformed or deleted (fields nil) or OOM. */
static qu_msg *add_entry(qu_batch *b, const redisReply *e, int *bad)
{
    *bad = 0;
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !is_str(e->element[0])) {
        *bad = 1;
        return NULL;
    }
    const redisReply *fv = e->element[1];
    if (fv->type != REDIS_REPLY_ARRAY || fv->elements % 2) {
        *bad = 1; /* Redis 6.2 XAUTOCLAIM: a deleted entry comes as [id, nil] */
        return NULL;
    }
    int nf = (int)(fv->elements / 2);
    qu_field *f = malloc((size_t)(nf ? nf : 1) * sizeof *f);
    if (!f) return NULL;
    for (int i = 0; i < nf; i++)
        f[i] = (qu_field){fv->element[2 * i]->str, fv->element[2 * i]->len,
                          fv->element[2 * i + 1]->str, fv->element[2 * i + 1]->len};
    qu_msg *m = qu_batch_add(b, f, nf);
    free(f);
    if (m) set_id(m, e->element[0]->str, e->element[0]->len);
    return m;
}

/* The delivery counts of b's messages from `from` on, one pipelined XPENDING each. */
static ms_status delivery_counts(rq_queue *q, qu_batch *b, size_t from, ms_error *err)
{
    for (size_t i = from; i < b->n; i++) {
        const char *v[] = {"XPENDING", q->base.cfg.stream, q->base.cfg.group, b->msgs[i].id,
                           b->msgs[i].id, "1"};
        if (redisAppendCommandArgv(q->c, 6, v, NULL) != REDIS_OK) return drop(q, err);
    }
    ms_status st = MS_OK;
    for (size_t i = from; i < b->n; i++) {
        void *v = NULL;
        if (redisGetReply(q->c, &v) != REDIS_OK || !v) return rq_err(q, err, "XPENDING", NULL);
        redisReply *r = v;
        b->msgs[i].deliveries = 1;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 4)
            b->msgs[i].deliveries = r->element[0]->element[3]->integer;
        else if (r->type == REDIS_REPLY_ERROR && st == MS_OK)
            st = rq_err(q, err, "XPENDING", r->str);
        reply_done(r);
    }
    return st;
}

/* Drops b's messages past max_deliveries from `from` on, dead-lettering each. */
static ms_status dead_exhausted(rq_queue *q, qu_batch *b, size_t from, ms_error *err)
{
    size_t w = from;
    ms_status st = MS_OK;
    for (size_t i = from; i < b->n; i++) {
        qu_msg *m = &b->msgs[i];
        if (st == MS_OK && m->deliveries > q->base.cfg.max_deliveries) {
            m->deliveries--; /* the claim counted a delivery that will not happen */
            char reason[64];
            snprintf(reason, sizeof reason, "delivered %lld time%s", (long long)m->deliveries, m->deliveries == 1 ? "" : "s");
            st = rq_dead(&q->base, m, reason, err);
            free(m->fields);
            continue;
        }
        b->msgs[w++] = *m;
    }
    b->n = w;
    return st;
}

/* How often a consumer looks for expired leases: a quarter of the lease, at most once every
 * CLAIM_EVERY_MAX_MS. An XAUTOCLAIM on every read cost a round trip and a scan of the pending
 * list per micro-batch (measured: about a third of a busy worker's Redis time); a dead
 * consumer's events are still taken over within lease_ms plus this. */
#define CLAIM_EVERY_MAX_MS 1000
static int claim_due(rq_queue *q)
{
    uint64_t now = bs_now_ns();
    if (now < q->next_claim_ns) return 0;
    int64_t every = q->base.cfg.lease_ms / 4;
    if (every > CLAIM_EVERY_MAX_MS) every = CLAIM_EVERY_MAX_MS;
    q->next_claim_ns = now + (uint64_t)every * 1000000u;
    return 1;
}

/* XAUTOCLAIM: entries idle past the lease become this consumer's, with their counts. */
static ms_status claim(rq_queue *q, size_t max, qu_batch *b, ms_error *err)
{
    if (!claim_due(q)) return MS_OK;
    char idle[24], count[24];
    snprintf(idle, sizeof idle, "%lld", (long long)q->base.cfg.lease_ms);
    snprintf(count, sizeof count, "%zu", max);
    rq_args a = {0};
    const char *v[] = {"XAUTOCLAIM", q->base.cfg.stream, q->base.cfg.group,
                       q->base.cfg.consumer, idle, q->cursor, "COUNT", count};
    for (int i = 0; i < 8; i++) args(&a, v[i]);
    redisReply *r = NULL;
    ms_status st = cmd(q, &a, &r, err);
    args_free(&a);
    if (st != MS_OK) return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_str(r->element[0]) ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        reply_done(r);
        return rq_err(q, err, "XAUTOCLAIM", "unexpected reply");
    }
    snprintf(q->cursor, sizeof q->cursor, "%s", r->element[0]->str);
    if (strcmp(q->cursor, "0-0") != 0) q->next_claim_ns = 0; /* more to scan: go on next read */
    size_t from = b->n;
    for (size_t i = 0; i < r->element[1]->elements && st == MS_OK; i++) {
        int bad;
        if (!add_entry(b, r->element[1]->element[i], &bad) && !bad)
            st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    /* element[2] (Redis 7): ids of entries deleted from the stream; XAUTOCLAIM has already
     * removed them from the pending list, so there is nothing to deliver or ack */
    reply_done(r);
    if (st == MS_OK && b->n > from) st = delivery_counts(q, b, from, err);
    if (st == MS_OK) st = dead_exhausted(q, b, from, err);
    return st;
}

/* XREADGROUP ... >: new entries, waiting up to block_ms (0: not at all) for the first. */
static ms_status read_new(rq_queue *q, size_t max, int block_ms, qu_batch *b, ms_error *err)
{
    char count[24], block[24];
    snprintf(count, sizeof count, "%zu", max);
    snprintf(block, sizeof block, "%d", block_ms);
    rq_args a = {0};
    const char *v[] = {"XREADGROUP", "GROUP", q->base.cfg.group, q->base.cfg.consumer, "COUNT",
                       count};
    for (int i = 0; i < 6; i++) args(&a, v[i]);
    if (block_ms > 0) args(&a, "BLOCK"), args(&a, block); /* BLOCK 0 would wait forever */
    args(&a, "STREAMS"), args(&a, q->base.cfg.stream), args(&a, ">");
    redisReply *r = NULL;
    ms_status st = cmd(q, &a, &r, err);
    args_free(&a);
    if (st != MS_OK) return st;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        const redisReply *es = r->element[0]->element[1];
        for (size_t i = 0; i < es->elements && st == MS_OK; i++) {
            int bad;
            qu_msg *m = add_entry(b, es->element[i], &bad);
            if (m) m->deliveries = 1;
            else if (!bad) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        }
    } else if (r->type != REDIS_REPLY_NIL) {
        st = rq_err(q, err, "XREADGROUP", "unexpected reply");
    }
    reply_done(r);
    return st;
}

static ms_status rq_read(qu_queue *base, size_t max, int block_ms, qu_batch *b, ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies */
    ms_status st = claim(q, max, b, err);
    if (st != MS_OK || b->n == max) return st;
    if (b->n) return read_new(q, max - b->n, 0, b, err); /* no waiting with messages in hand */
    do {
        int step = block_ms < BLOCK_STEP_MS ? block_ms : BLOCK_STEP_MS;
        st = read_new(q, max, step, b, err);
        block_ms -= step;
    } while (st == MS_OK && b->n == 0 && block_ms > 0);
    return st;
}

static ms_status rq_ack(qu_queue *base, const char *const *ids, size_t n, ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies */
    for (size_t i = 0; i < n; i++) {
        ms_status st = check_id(q, ids[i], err);
        if (st != MS_OK) return st;
    }
    rq_args a = {0};
    args(&a, "XACK"), args(&a, base->cfg.stream), args(&a, base->cfg.group);
    for (size_t i = 0; i < n; i++) args(&a, ids[i]);
    ms_status st = cmd(q, &a, NULL, err); /* XACK twice is harmless: safe to repeat */
    args_free(&a);
    return st;
}

/* ==== status and range ================================================================== */

static ms_status int_reply(rq_queue *q, int n, const char *const *v, int64_t *out,
                           ms_error *err)
{
    rq_args a = {0};
    for (int i = 0; i < n; i++) args(&a, v[i]);
    redisReply *r = NULL;
    ms_status st = cmd(q, &a, &r, err);
    args_free(&a);
    if (st != MS_OK) return st;
    if (r->type == REDIS_REPLY_INTEGER) *out = r->integer;
    else st = rq_err(q, err, v[0], "unexpected reply");
    reply_done(r);
    return st;
}

/* The value after `key` in a flat [k, v, k, v, ...] reply, or NULL. */
static const redisReply *member(const redisReply *r, const char *key)
{
    if (r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (is_str(r->element[i]) && strcmp(r->element[i]->str, key) == 0) return r->element[i + 1];
    return NULL;
}

static int64_t int_member(const redisReply *r, const char *key, int64_t missing)
{
    const redisReply *v = member(r, key);
    return v && v->type == REDIS_REPLY_INTEGER ? v->integer : missing;
}

/* XINFO GROUPS: our group's pending count, lag and last delivered id. */
static ms_status group_info(rq_queue *q, qu_stats *st, char last[QU_ID_MAX], ms_error *err)
{
    rq_args a = {0};
    args(&a, "XINFO"), args(&a, "GROUPS"), args(&a, q->base.cfg.stream);
    redisReply *r = NULL;
    ms_status rs = cmd(q, &a, &r, err);
    args_free(&a);
    if (rs != MS_OK) return rs;
    strcpy(last, "0-0");
    st->lag = -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *g = r->element[i], *name = member(g, "name"), *ld;
        if (!name || !is_str(name) || strcmp(name->str, q->base.cfg.group) != 0) continue;
        st->pending = int_member(g, "pending", 0);
        st->lag = int_member(g, "lag", -1); /* nil when Redis cannot tell; absent before 7 */
        if ((ld = member(g, "last-delivered-id")) && is_str(ld))
            snprintf(last, QU_ID_MAX, "%s", ld->str);
    }
    reply_done(r);
    return MS_OK;
}

static ms_status consumers_info(rq_queue *q, qu_stats *st, ms_error *err)
{
    rq_args a = {0};
    args(&a, "XINFO"), args(&a, "CONSUMERS"), args(&a, q->base.cfg.stream);
    args(&a, q->base.cfg.group);
    redisReply *r = NULL;
    ms_status rs = cmd(q, &a, &r, err);
    args_free(&a);
    if (rs != MS_OK) return rs;
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    if (n && !(st->consumers = calloc(n, sizeof *st->consumers))) rs = MS_ERR_RUNTIME;
    for (size_t i = 0; rs == MS_OK && i < n; i++) {
        const redisReply *c = r->element[i], *name = member(c, "name");
        if (!name || !is_str(name)) continue;
        qu_consumer_stat *s = &st->consumers[st->nconsumers++];
        snprintf(s->name, sizeof s->name, "%s", name->str);
        s->pending = int_member(c, "pending", 0);
        s->idle_ms = int_member(c, "idle", 0);
    }
    reply_done(r);
    return rs == MS_OK ? MS_OK : bs_fail(err, rs, "out of memory");
}

/* The time of the first id of a reply's entries (XRANGE) or of XPENDING's summary minimum. */
static int64_t id_ms(const char *id)
{
    int64_t ms = 0, seq;
    return id && parse_id(id, &ms, &seq) == 0 ? ms : 0;
}

/* The oldest message not acked: the oldest pending, or the first not yet delivered. */
static ms_status oldest(rq_queue *q, const char *last, int64_t *age, ms_error *err)
{
    int64_t first = 0;
    rq_args a = {0};
    args(&a, "XPENDING"), args(&a, q->base.cfg.stream), args(&a, q->base.cfg.group);
    redisReply *r = NULL;
    ms_status st = cmd(q, &a, &r, err);
    args_free(&a);
    if (st != MS_OK) return st;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && is_str(r->element[1]))
        first = id_ms(r->element[1]->str);
    reply_done(r);
    char start[QU_ID_MAX + 1];
    snprintf(start, sizeof start, "(%s", last);
    const char *v[] = {"XRANGE", q->base.cfg.stream, start, "+", "COUNT", "1"};
    for (int i = 0; i < 6; i++) args(&a, v[i]);
    st = cmd(q, &a, &r, err);
    args_free(&a);
    if (st != MS_OK) return st;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        int64_t undelivered = id_ms(r->element[0]->element[0]->str);
        if (!first || (undelivered && undelivered < first)) first = undelivered;
    }
    reply_done(r);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    *age = first && now > first ? now - first : 0;
    return MS_OK;
}

static ms_status rq_status(qu_queue *base, qu_stats *st, ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies */
    const char *xlen[] = {"XLEN", base->cfg.stream}, *dlen[] = {"XLEN", base->cfg.dead};
    char last[QU_ID_MAX];
    ms_status rs = int_reply(q, 2, xlen, &st->length, err);
    if (rs == MS_OK) rs = int_reply(q, 2, dlen, &st->dead, err);
    if (rs == MS_OK) rs = group_info(q, st, last, err);
    if (rs == MS_OK) rs = consumers_info(q, st, err);
    if (rs == MS_OK) rs = oldest(q, last, &st->oldest_age_ms, err);
    return rs;
}

static ms_status rq_range(qu_queue *base, const char *stream, const char *after, size_t max,
                          qu_batch *b, ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies */
    char start[QU_ID_MAX + 1] = "-", count[24];
    if (*after) {
        ms_status st = check_id(q, after, err);
        if (st != MS_OK) return st;
        snprintf(start, sizeof start, "(%s", after);
    }
    snprintf(count, sizeof count, "%zu", max);
    rq_args a = {0};
    const char *v[] = {"XRANGE", stream, start, "+", "COUNT", count};
    for (int i = 0; i < 6; i++) args(&a, v[i]);
    redisReply *r = NULL;
    ms_status st = cmd(q, &a, &r, err);
    args_free(&a);
    if (st != MS_OK) return st;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && st == MS_OK; i++) {
        int bad;
        if (!add_entry(b, r->element[i], &bad))
            st = bad ? rq_err(q, err, "XRANGE", "unexpected reply")
                     : bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    reply_done(r);
    return st;
}

/* ==== what the partitioned queue builds on (queue_int.h) ================================= */

/* EVAL of a short script: one reply, checked for errors, into *out. */
static ms_status eval(rq_queue *q, const char *script, const char *key, int nargv,
                      const char *const *argv, redisReply **out, ms_error *err)
{
    rq_args a = {0};
    args(&a, "EVAL"), args(&a, script), args(&a, "1"), args(&a, key);
    for (int i = 0; i < nargv; i++) args(&a, argv[i]);
    ms_status st = cmd(q, &a, out, err); /* each script is safe to repeat */
    args_free(&a);
    return st;
}

static const char LEASE_LUA[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if ARGV[3] == 'take' then\n"
    "  if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return {1, v} end\n"
    "  if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return {2, ARGV[1]} end\n"
    "  return {0, v}\n"
    "elseif ARGV[3] == 'release' and v == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1]) return {1, ''}\n"
    "end\n"
    "return {0, v or ''}\n";

ms_status qu_redis_lease(qu_queue *base, const char *key, const char *owner, int64_t ms, int op,
                         int *got, char holder[QU_NAME_MAX], ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies (a handle that only renews would grow) */
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)(ms > 0 ? ms : 1));
    const char *argv[] = {owner, num,
                          op == QU_LEASE_TAKE ? "take" : op == QU_LEASE_RELEASE ? "release" : "peek"};
    redisReply *r = NULL;
    ms_status st = eval(q, LEASE_LUA, key, 3, argv, &r, err);
    if (st != MS_OK) return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER) {
        reply_done(r);
        return rq_err(q, err, "lease script", "unexpected reply");
    }
    *got = (int)r->element[0]->integer;
    if (holder)
        snprintf(holder, QU_NAME_MAX, "%s", is_str(r->element[1]) ? r->element[1]->str : "");
    reply_done(r);
    return MS_OK;
}

static const char HEARTBEAT_LUA[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "if tonumber(ARGV[2]) > 0 then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
    "else redis.call('ZREM', KEYS[1], ARGV[1]) end\n"
    "local all = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
    "table.sort(all)\n"
    "local rank = -1\n"
    "for i, m in ipairs(all) do if m == ARGV[1] then rank = i - 1 end end\n"
    "return {#all, rank}\n";

ms_status qu_redis_heartbeat(qu_queue *base, const char *key, const char *member, int64_t ttl_ms,
                             int *live, int *rank, ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies (a handle that only renews would grow) */
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)(ttl_ms > 0 ? ttl_ms : 0));
    const char *argv[] = {member, num};
    redisReply *r = NULL;
    ms_status st = eval(q, HEARTBEAT_LUA, key, 2, argv, &r, err);
    if (st != MS_OK) return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        reply_done(r);
        return rq_err(q, err, "heartbeat script", "unexpected reply");
    }
    *live = (int)r->element[0]->integer;
    *rank = (int)r->element[1]->integer;
    reply_done(r);
    return MS_OK;
}

static const char PIN_LUA[] =
    "redis.call('SET', KEYS[1], ARGV[1], 'NX')\n"
    "return redis.call('GET', KEYS[1])\n";

ms_status qu_redis_pin(qu_queue *base, const char *key, const char *value, char *have, size_t cap,
                       ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies (a handle that only renews would grow) */
    const char *argv[] = {value};
    redisReply *r = NULL;
    ms_status st = eval(q, PIN_LUA, key, 1, argv, &r, err);
    if (st != MS_OK) return st;
    snprintf(have, cap, "%s", is_str(r) ? r->str : "");
    reply_done(r);
    return MS_OK;
}

ms_status qu_redis_claim_all(qu_queue *base, ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies (a handle that only renews would grow) */
    char cursor[QU_ID_MAX] = "0-0";
    for (int rounds = 0; rounds < 100000; rounds++) {
        const char *v[] = {"XAUTOCLAIM", q->base.cfg.stream, q->base.cfg.group,
                           q->base.cfg.consumer, "0", cursor, "COUNT", "1000", "JUSTID"};
        rq_args a = {0};
        for (int i = 0; i < 9; i++) args(&a, v[i]);
        redisReply *r = NULL;
        ms_status st = cmd(q, &a, &r, err);
        args_free(&a);
        if (st != MS_OK) return st;
        int ok = r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && is_str(r->element[0]);
        if (ok) snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        reply_done(r);
        if (!ok) return rq_err(q, err, "XAUTOCLAIM", "unexpected reply");
        if (strcmp(cursor, "0-0") == 0) return MS_OK;
    }
    return rq_err(q, err, "XAUTOCLAIM", "the pending list did not end");
}

ms_status qu_redis_read_from(qu_queue *base, const char *from, size_t max, int block_ms,
                             qu_batch *b, size_t *nraw, char last[QU_ID_MAX], ms_error *err)
{
    rq_queue *q = (rq_queue *)base;
    rq_reset(q); /* the previous operation's replies (a handle that only renews would grow) */
    *nraw = 0;
    last[0] = 0;
    int history = strcmp(from, ">") != 0;
    if (history) {
        ms_status st = check_id(q, from, err);
        if (st != MS_OK && strcmp(from, "0") != 0) return st;
    }
    char count[24], block[24];
    snprintf(count, sizeof count, "%zu", max);
    snprintf(block, sizeof block, "%d", block_ms);
    rq_args a = {0};
    const char *v[] = {"XREADGROUP", "GROUP", q->base.cfg.group, q->base.cfg.consumer, "COUNT",
                       count};
    for (int i = 0; i < 6; i++) args(&a, v[i]);
    if (!history && block_ms > 0) args(&a, "BLOCK"), args(&a, block);
    args(&a, "STREAMS"), args(&a, q->base.cfg.stream), args(&a, from);
    redisReply *r = NULL;
    ms_status st = cmd(q, &a, &r, err);
    args_free(&a);
    if (st != MS_OK) return st;
    size_t from_n = b->n;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        const redisReply *es = r->element[0]->element[1];
        *nraw = es->elements;
        for (size_t i = 0; i < es->elements && st == MS_OK; i++) {
            const redisReply *e = es->element[i];
            if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 && is_str(e->element[0]))
                snprintf(last, QU_ID_MAX, "%s", e->element[0]->str);
            int bad;
            qu_msg *m = add_entry(b, e, &bad);
            if (m) m->deliveries = 1;
            else if (!bad) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            /* bad: an entry deleted from the stream while pending ([id, nil]): nothing to do */
        }
    } else if (r->type != REDIS_REPLY_NIL) {
        st = rq_err(q, err, "XREADGROUP", "unexpected reply");
    }
    reply_done(r);
    if (st == MS_OK && history && b->n > from_n) st = delivery_counts(q, b, from_n, err);
    if (st == MS_OK && history) st = dead_exhausted(q, b, from_n, err);
    return st;
}

void qu_redis_where(const qu_queue *base, char *dst, size_t cap)
{
    const rq_queue *q = (const rq_queue *)base;
    snprintf(dst, cap, "%s:%d", q->host, q->port);
}

const qu_backend_ops qu_redis_ops = {
    .version = QU_OPS_VERSION,
    .name = "redis",
    .caps = QU_CAP_BLOCKING | QU_CAP_MULTI_HOST | QU_CAP_TRIM,
    .open = rq_open,
    .close = rq_close,
    .send = rq_send,
    .read = rq_read,
    .ack = rq_ack,
    .dead = rq_dead,
    .status = rq_status,
    .range = rq_range,
};

#endif
