/* queue_kafka.c: the Kafka backend (librdkafka): kafka://h1:p1[,h2:p2...]/TOPIC[?k=v&...].
 * A queue is a topic read by a consumer group; its other streams are topics with ':' mapped to
 * '.' (events:results -> events.results, events:dead -> events.dead). docs/queue-kafka.md says
 * what is guaranteed and why; the short form:
 *
 *   send    an idempotent producer (enable.idempotence: acks=all, no reordering or duplicates
 *           on retry); the value is the fields as one JSON object (queue_body.c, every byte
 *           kept), the Kafka key is the "key" field when there is one; send returns after every
 *           message's delivery report, and fails naming any that was not delivered
 *   read    the group consumer (subscribed on the first read, so a producer-only handle never
 *           joins the group); a message read and not acked is pending in this handle: handed
 *           out again after lease_ms with its delivery count raised, dead-lettered past
 *           max_deliveries. Kafka keeps no delivery count: after a restart or a rebalance the
 *           count starts at 1 again
 *   ack     commit, synchronously, per partition up to the first message not yet acked (a
 *           contiguous watermark): an acked message is never read again by the group, and one
 *           not acked always is (by this handle after its lease, by another member after a
 *           rebalance or a crash)
 *   dead    produce to the dead-letter topic (partition 0: one order for qu_range), wait for
 *           its delivery, then ack
 *   status  watermarks and the group's committed offsets (lag = high - committed: messages
 *           delivered and not acked count too); pending and consumers: this handle's only
 *   range   a second consumer without a group, assigned partition by partition
 *
 * Query parameters: session_timeout_ms, message_timeout_ms, log_level and rdkafka.NAME=VALUE
 * (any librdkafka property, checked by librdkafka). Topics are not created here (the admin API
 * is not in librdkafka's mock cluster): the cluster's auto-creation makes them, or an operator. */
#include "queue/queue_int.h"

#ifndef MS_WITH_KAFKA
#define MS_WITH_KAFKA 1
#endif

#if !MS_WITH_KAFKA

static ms_status kq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    (void)u, (void)cfg, (void)out;
    return qu_not_built(err, "Kafka", "WITH_KAFKA", "librdkafka-dev");
}
static void kq_close_stub(qu_queue *q) { (void)q; }
const qu_backend_ops qu_kafka_ops = {.version = QU_OPS_VERSION, .name = "kafka",
                                     .open = kq_open_stub, .close = kq_close_stub};

#else

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define META_TIMEOUT_MS 10000 /* metadata, watermarks, commits: a slower cluster is down */
#define TOPIC_MAX 256

/* A message read by this handle and not yet acked (or acked, waiting for the ones before it
 * so that the partition's commit can pass it). */
typedef struct kq_pend {
    int64_t off, ts, lease_until, deliveries;
    char *val; /* the Kafka value, kept to hand the message out again */
    size_t len;
    int acked;
} kq_pend;

/* One partition of the topic as this handle consumes it: pending messages in offset order
 * from v[head], the next offset to read, and the offset last committed. */
typedef struct kq_part {
    kq_pend *v;
    size_t head, n, cap;
    int64_t next;      /* last read + 1; -1 before the first read since the assignment */
    int64_t committed; /* -1: nothing committed by this handle */
    int assigned;
} kq_part;

typedef struct kq_queue {
    qu_queue base;
    char *brokers;
    rd_kafka_conf_t *proto;            /* the settings every client of this handle gets */
    rd_kafka_t *prod, *cons, *reader;  /* created when first needed (cons: at open) */
    int subscribed;
    char topic[TOPIC_MAX], dead[TOPIC_MAX];
    int session_ms, message_ms, log_level;
    kq_part *parts;
    int nparts;
    int64_t npending, last_read_ms;
    char last_error[256]; /* the last error librdkafka reported, for messages */
} kq_queue;

typedef struct kq_dr { /* a delivery report, written by dr_cb */
    int done;
    rd_kafka_resp_err_t err;
    int32_t part;
    int64_t off;
} kq_dr;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ms_status kq_err(kq_queue *q, ms_error *err, const char *what, const char *detail)
{
    return bs_fail(err, MS_ERR_RUNTIME, "queue %s (topic %s): %s: %s%s%s", q->base.cfg.shown,
                   q->topic, what, detail, q->last_error[0] ? "; last error: " : "",
                   q->last_error);
}

/* "events:results" -> "events.results": Kafka topics hold [a-zA-Z0-9._-] only. */
static void topic_of(const char *stream, char dst[TOPIC_MAX])
{
    snprintf(dst, TOPIC_MAX, "%s", stream);
    for (char *p = dst; *p; p++)
        if (*p == ':') *p = '.';
}

/* "partition:offset" into its numbers; -1 when it is not such an id. */
static int parse_id(const char *id, int32_t *part, int64_t *off)
{
    char *e;
    if (*id < '0' || *id > '9') return -1;
    long p = strtol(id, &e, 10);
    if (*e != ':' || e[1] < '0' || e[1] > '9' || p > 1000000) return -1;
    long long o = strtoll(e + 1, &e, 10);
    if (*e || o < 0) return -1;
    *part = (int32_t)p, *off = o;
    return 0;
}

/* ==== configuration ===================================================================== */

static void error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    (void)rk, (void)code;
    kq_queue *q = opaque;
    snprintf(q->last_error, sizeof q->last_error, "%s", reason);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    kq_dr *d = m->_private;
    if (!d) return;
    d->err = m->err, d->part = m->partition, d->off = m->offset, d->done = 1;
}

static ms_status set(kq_queue *q, rd_kafka_conf_t *c, const char *k, const char *v, ms_error *err)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) == RD_KAFKA_CONF_OK) return MS_OK;
    return bs_fail(err, MS_ERR_INVALID, "queue %s: Kafka setting %s=%s: %s", q->base.cfg.shown, k,
                   v, e);
}

static ms_status int_param(kq_queue *q, const char *k, const char *v, long lo, long hi, int *out,
                           ms_error *err)
{
    char *e;
    long n = strtol(v, &e, 10);
    if (!*v || *e || n < lo || n > hi)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: %s=%s: expected a whole number %ld to %ld",
                       q->base.cfg.shown, k, v, lo, hi);
    *out = (int)n;
    return MS_OK;
}

/* The URL's ?k=v&... : our few names, and rdkafka.NAME passed to librdkafka as NAME. */
static ms_status parse_query(kq_queue *q, const char *query, ms_error *err)
{
    if (!query || !*query) return MS_OK;
    char *copy = strdup(query), *save = NULL;
    if (!copy) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    ms_status st = MS_OK;
    for (char *kv = strtok_r(copy, "&", &save); kv && st == MS_OK; kv = strtok_r(NULL, "&", &save)) {
        char *v = strchr(kv, '=');
        if (!v) {
            st = bs_fail(err, MS_ERR_INVALID, "queue %s: parameter '%s' has no value (k=v)",
                         q->base.cfg.shown, kv);
            break;
        }
        *v++ = 0;
        if (strcmp(kv, "session_timeout_ms") == 0)
            st = int_param(q, kv, v, 1000, 3600000, &q->session_ms, err);
        else if (strcmp(kv, "message_timeout_ms") == 0)
            st = int_param(q, kv, v, 100, 3600000, &q->message_ms, err);
        else if (strcmp(kv, "log_level") == 0)
            st = int_param(q, kv, v, 0, 7, &q->log_level, err);
        else if (strncmp(kv, "rdkafka.", 8) == 0 && kv[8])
            st = set(q, q->proto, kv + 8, v, err);
        else
            st = bs_fail(err, MS_ERR_INVALID,
                         "queue %s: unknown parameter '%s' (session_timeout_ms, "
                         "message_timeout_ms, log_level, rdkafka.<librdkafka property>)",
                         q->base.cfg.shown, kv);
    }
    free(copy);
    return st;
}

/* A client of the handle: the common settings, then its role's. */
static rd_kafka_t *client(kq_queue *q, rd_kafka_type_t type, int grouped, ms_error *err)
{
    rd_kafka_conf_t *c = rd_kafka_conf_dup(q->proto);
    char num[32], e[512];
    ms_status st = MS_OK;
    if (type == RD_KAFKA_PRODUCER) {
        snprintf(num, sizeof num, "%d", q->message_ms);
        st = set(q, c, "enable.idempotence", "true", err); /* acks=all, ordered retries */
        if (st == MS_OK) st = set(q, c, "acks", "all", err);
        if (st == MS_OK) st = set(q, c, "linger.ms", "0", err); /* send flushes anyway */
        if (st == MS_OK) st = set(q, c, "message.timeout.ms", num, err);
        if (st == MS_OK) st = set(q, c, "partitioner", "murmur2_random", err); /* Java's */
        rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    } else {
        st = set(q, c, "enable.auto.commit", "false", err);
        if (st == MS_OK) st = set(q, c, "auto.offset.reset", "earliest", err);
        if (st == MS_OK) st = set(q, c, "isolation.level", "read_committed", err);
        if (st == MS_OK && grouped) {
            /* not reading for lease_ms (at least the session) means gone: the group hands the
             * partitions, uncommitted messages and all, to another member */
            int64_t poll = q->base.cfg.lease_ms > q->session_ms ? q->base.cfg.lease_ms : q->session_ms;
            st = set(q, c, "group.id", q->base.cfg.group, err);
            snprintf(num, sizeof num, "%d", q->session_ms);
            if (st == MS_OK) st = set(q, c, "session.timeout.ms", num, err);
            snprintf(num, sizeof num, "%d", q->session_ms / 10 > 100 ? q->session_ms / 10 : 100);
            if (st == MS_OK) st = set(q, c, "heartbeat.interval.ms", num, err);
            snprintf(num, sizeof num, "%lld", (long long)poll);
            if (st == MS_OK) st = set(q, c, "max.poll.interval.ms", num, err);
        } else if (st == MS_OK) { /* assign() only, never joins or commits; poll needs a group */
            st = set(q, c, "group.id", "mlship-range", err);
            if (st == MS_OK) st = set(q, c, "enable.partition.eof", "true", err);
        }
    }
    if (st != MS_OK) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(type, c, e, sizeof e);
    if (!rk) {
        rd_kafka_conf_destroy(c);
        bs_fail(err, MS_ERR_RUNTIME, "queue %s: cannot start a Kafka client: %s",
                q->base.cfg.shown, e);
    }
    return rk;
}

/* ==== partitions and commits ============================================================ */

static kq_part *part_of(kq_queue *q, int32_t p)
{
    if (p < 0) return NULL;
    if (p >= q->nparts) {
        int n = p + 1;
        kq_part *v = realloc(q->parts, (size_t)n * sizeof *v);
        if (!v) return NULL;
        for (int i = q->nparts; i < n; i++) v[i] = (kq_part){.next = -1, .committed = -1};
        q->parts = v, q->nparts = n;
    }
    return &q->parts[p];
}

static void drop_part(kq_queue *q, kq_part *p)
{
    for (size_t i = p->head; i < p->n; i++) {
        if (!p->v[i].acked) q->npending--;
        free(p->v[i].val);
    }
    free(p->v);
    *p = (kq_part){.next = -1, .committed = -1};
}

/* The offset the group may commit: the first pending message not acked, else the next read. */
static int64_t commit_point(const kq_part *p)
{
    for (size_t i = p->head; i < p->n; i++)
        if (!p->v[i].acked) return p->v[i].off;
    return p->next;
}

/* Frees acked messages at the head (the commit passed them). */
static void pop_acked(kq_part *p)
{
    while (p->head < p->n && p->v[p->head].acked) free(p->v[p->head++].val);
    if (p->head == p->n) p->head = p->n = 0;
}

/* Commits, synchronously, every partition whose commit point moved (all of them, or the one
 * list given: the revoked ones in a rebalance). */
static ms_status commit(kq_queue *q, const rd_kafka_topic_partition_list_t *only, ms_error *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int i = 0; i < q->nparts; i++) {
        kq_part *p = &q->parts[i];
        if (only && !rd_kafka_topic_partition_list_find(only, q->topic, i)) continue;
        int64_t c = commit_point(p);
        if (c >= 0 && c > p->committed) rd_kafka_topic_partition_list_add(l, q->topic, i)->offset = c;
    }
    ms_status st = MS_OK;
    if (l->cnt) {
        rd_kafka_resp_err_t e = rd_kafka_commit(q->cons, l, 0);
        for (int i = 0; !e && i < l->cnt; i++) e = l->elems[i].err;
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            st = kq_err(q, err, "commit", rd_kafka_err2str(e));
        for (int i = 0; st == MS_OK && i < l->cnt; i++) {
            kq_part *p = &q->parts[l->elems[i].partition];
            p->committed = l->elems[i].offset;
            pop_acked(p);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return st;
}

/* A rebalance: before partitions go, commit what was acked and forget what was not (the next
 * owner reads it from the committed offset); new partitions start from their commits. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kq_queue *q = opaque;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            kq_part *p = part_of(q, parts->elems[i].partition);
            if (p) drop_part(q, p), p->assigned = 1;
        }
        rd_kafka_assign(rk, parts);
        return;
    }
    ms_error ignored;
    if (commit(q, parts, &ignored) != MS_OK)
        snprintf(q->last_error, sizeof q->last_error, "%.250s", ignored.msg);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t n = parts->elems[i].partition;
        if (n < q->nparts) drop_part(q, &q->parts[n]);
    }
    rd_kafka_assign(rk, NULL);
}

/* ==== open / close ====================================================================== */

static void kq_close(qu_queue *base)
{
    kq_queue *q = (kq_queue *)base;
    if (q->cons) {
        if (q->subscribed) rd_kafka_consumer_close(q->cons); /* commits acked ones, leaves */
        rd_kafka_destroy(q->cons);
    }
    if (q->reader) rd_kafka_destroy(q->reader);
    if (q->prod) {
        rd_kafka_flush(q->prod, 1000); /* send waits for its reports: nothing is in flight */
        rd_kafka_destroy(q->prod);
    }
    for (int i = 0; i < q->nparts; i++) drop_part(q, &q->parts[i]);
    free(q->parts);
    if (q->proto) rd_kafka_conf_destroy(q->proto);
    free(q->brokers);
    free(q);
}

/* The cluster answers and knows the topic (a metadata request by a producer also makes the
 * cluster auto-create it, where that is enabled). */
static ms_status check_topic(kq_queue *q, ms_error *err)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(q->prod, q->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int wait = q->message_ms < META_TIMEOUT_MS ? q->message_ms : META_TIMEOUT_MS;
    rd_kafka_resp_err_t e = t ? rd_kafka_metadata(q->prod, 0, t, &md, wait) : rd_kafka_last_error();
    if (t) rd_kafka_topic_destroy(t);
    if (e)
        return bs_fail(err, MS_ERR_RUNTIME, "cannot connect to queue %s: %s%s%s", q->base.cfg.shown,
                       rd_kafka_err2str(e), q->last_error[0] ? ": " : "", q->last_error);
    ms_status st = MS_OK;
    if (md->topic_cnt != 1 || md->topics[0].err)
        st = kq_err(q, err, "topic", md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                                        : "not in the cluster's metadata");
    rd_kafka_metadata_destroy(md);
    return st;
}

static ms_status kq_open(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    kq_queue *q = calloc(1, sizeof *q);
    if (!q) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    q->base.ops = &qu_kafka_ops;
    q->base.cfg = *cfg;
    q->session_ms = 10000, q->message_ms = 30000, q->log_level = 3;
    topic_of(cfg->stream, q->topic);
    topic_of(cfg->dead, q->dead);
    q->brokers = strdup(u->hosts ? u->hosts : "");
    q->proto = rd_kafka_conf_new();
    ms_status st = q->brokers && q->proto ? MS_OK : bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st == MS_OK && (!strcmp(q->topic, ".") || !strcmp(q->topic, "..")))
        st = bs_fail(err, MS_ERR_INVALID, "queue %s: '%s' cannot be a Kafka topic", cfg->shown,
                     q->topic);
    if (st == MS_OK) st = set(q, q->proto, "bootstrap.servers", q->brokers, err);
    if (st == MS_OK) st = set(q, q->proto, "client.id", cfg->consumer, err);
    if (st == MS_OK) st = parse_query(q, u->query, err);
    char lvl[8];
    snprintf(lvl, sizeof lvl, "%d", q->log_level);
    if (st == MS_OK) st = set(q, q->proto, "log_level", lvl, err);
    if (st == MS_OK) {
        rd_kafka_conf_set_opaque(q->proto, q);
        rd_kafka_conf_set_error_cb(q->proto, error_cb);
        rd_kafka_conf_set_rebalance_cb(q->proto, rebalance_cb);
        if (!(q->prod = client(q, RD_KAFKA_PRODUCER, 0, err))) st = MS_ERR_RUNTIME;
    }
    if (st == MS_OK) st = check_topic(q, err);
    if (st == MS_OK && !(q->cons = client(q, RD_KAFKA_CONSUMER, 1, err))) st = MS_ERR_RUNTIME;
    if (st != MS_OK) {
        kq_close(&q->base);
        return st;
    }
    rd_kafka_poll_set_consumer(q->cons);
    *out = &q->base;
    return MS_OK;
}

/* ==== producing ========================================================================= */

/* Produces n encoded messages to `topic` (partition: -1 to partition by key) and waits for
 * every delivery report. */
static ms_status produce(kq_queue *q, const char *topic, int32_t partition,
                         const qu_field *const *msgs, const int *nfields, size_t n,
                         char (*ids)[QU_ID_MAX], ms_error *err)
{
    kq_dr *dr = calloc(n, sizeof *dr);
    if (!dr) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    qu_sb body = {0};
    size_t queued = 0;
    ms_status st = MS_OK;
    for (size_t i = 0; i < n && st == MS_OK; i++) {
        body.len = 0;
        qu_body_encode(&body, msgs[i], nfields[i]);
        if (body.oom) {
            st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            break;
        }
        const qu_field *key = NULL;
        for (int f = 0; f < nfields[i]; f++)
            if (msgs[i][f].name_len == 3 && memcmp(msgs[i][f].name, "key", 3) == 0) key = &msgs[i][f];
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                q->prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(body.p, body.len),
                RD_KAFKA_V_KEY(key ? key->val : NULL, key ? key->val_len : 0),
                RD_KAFKA_V_OPAQUE(&dr[i]), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(q->prod, 10); /* reports free room */
                continue;
            }
            if (e) st = kq_err(q, err, "send", rd_kafka_err2str(e));
            else queued++;
            break;
        }
    }
    qu_sb_free(&body);
    /* every queued message ends in a report within message.timeout.ms: wait for all of them
     * (dr points into this frame) */
    for (size_t i = 0; i < queued;) {
        if (dr[i].done) i++;
        else rd_kafka_flush(q->prod, 1000);
    }
    size_t failed = 0, first = 0;
    for (size_t i = 0; i < queued; i++) {
        if (dr[i].err && !failed++) first = i;
        if (ids) snprintf(ids[i], QU_ID_MAX, "%d:%lld", (int)dr[i].part, (long long)dr[i].off);
    }
    if (st == MS_OK && failed) {
        char what[160];
        snprintf(what, sizeof what, "%zu of %zu messages not delivered (the first: #%zu)", failed,
                 n, first);
        st = kq_err(q, err, what, rd_kafka_err2str(dr[first].err));
    }
    free(dr);
    return st;
}

static ms_status kq_send(qu_queue *base, const char *stream, const qu_field *const *msgs,
                         const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                         ms_error *err)
{
    (void)maxlen; /* Kafka trims by the topic's retention (time or bytes), not by count */
    kq_queue *q = (kq_queue *)base;
    char topic[TOPIC_MAX];
    topic_of(stream, topic);
    return produce(q, topic, RD_KAFKA_PARTITION_UA, msgs, nfields, n, ids, err);
}

/* ==== acks and dead letters ============================================================= */

static kq_pend *find_pend(kq_queue *q, int32_t part, int64_t off)
{
    if (part >= q->nparts) return NULL;
    kq_part *p = &q->parts[part];
    size_t lo = p->head, hi = p->n; /* offsets increase from head */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->v[mid].off < off) lo = mid + 1;
        else hi = mid;
    }
    return lo < p->n && p->v[lo].off == off ? &p->v[lo] : NULL;
}

static ms_status check_id(kq_queue *q, const char *id, int32_t *part, int64_t *off, ms_error *err)
{
    return parse_id(id, part, off) == 0
               ? MS_OK
               : bs_fail(err, MS_ERR_INVALID,
                         "queue %s: '%s' is not a Kafka message id (partition:offset)",
                         q->base.cfg.shown, id);
}

/* Marks ids acked (one this handle no longer holds, after a rebalance, is skipped: its new
 * owner reads it again) and commits. */
static ms_status kq_ack(qu_queue *base, const char *const *ids, size_t n, ms_error *err)
{
    kq_queue *q = (kq_queue *)base;
    int32_t part;
    int64_t off;
    for (size_t i = 0; i < n; i++)
        if (check_id(q, ids[i], &part, &off, err) != MS_OK) return MS_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        parse_id(ids[i], &part, &off);
        kq_pend *m = find_pend(q, part, off);
        if (m && !m->acked) m->acked = 1, q->npending--;
    }
    return q->cons ? commit(q, NULL, err) : MS_OK;
}

static ms_status kq_dead(qu_queue *base, const qu_msg *m, const char *reason, ms_error *err)
{
    kq_queue *q = (kq_queue *)base;
    int32_t part;
    int64_t off;
    if (check_id(q, m->id, &part, &off, err) != MS_OK) return MS_ERR_INVALID;
    qu_field *f = malloc(((size_t)m->nfields + 3) * sizeof *f);
    if (!f) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    char num[QU_ID_MAX];
    int nf = qu_dead_fields(m, reason, num, f);
    const qu_field *rows[] = {f};
    ms_status st = produce(q, q->dead, 0, rows, &nf, 1, NULL, err);
    free(f);
    const char *id = m->id;
    return st == MS_OK ? kq_ack(base, &id, 1, err) : st;
}

/* ==== consuming ========================================================================= */

/* Adds pending message p (of partition part) to b; one whose value does not decode (written
 * by something else) is dead-lettered whole as a "body" field, so it cannot block the queue. */
static ms_status hand_out(kq_queue *q, int32_t part, kq_pend *p, qu_batch *b, ms_error *err)
{
    qu_msg *m = NULL;
    ms_error derr;
    ms_status st = qu_body_decode(p->val ? p->val : "", p->len, b, &m, &derr);
    if (st == MS_OK) {
        snprintf(m->id, QU_ID_MAX, "%d:%lld", (int)part, (long long)p->off);
        m->enq_ms = p->ts;
        m->order = (p->ts << 20) + (p->off & 0xfffff);
        m->deliveries = p->deliveries;
        p->lease_until = now_ms() + q->base.cfg.lease_ms;
        return MS_OK;
    }
    if (st != MS_ERR_INVALID) return bs_fail(err, st, "%s", derr.msg);
    qu_batch tmp = {0};
    qu_field f = {"body", 4, p->val ? p->val : "", p->len};
    if (!(m = qu_batch_add(&tmp, &f, 1))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    snprintf(m->id, QU_ID_MAX, "%d:%lld", (int)part, (long long)p->off);
    m->deliveries = p->deliveries;
    st = kq_dead(&q->base, m, derr.msg, err);
    qu_batch_free(&tmp);
    return st;
}

/* Dead-letters pending message m of partition part, delivered too often. */
static ms_status exhausted(kq_queue *q, int part, const kq_pend *m, ms_error *err)
{
    qu_field f = {"body", 4, m->val ? m->val : "", m->len};
    qu_batch tmp = {0};
    qu_msg *x = NULL;
    ms_error derr;
    ms_status st = qu_body_decode(m->val ? m->val : "", m->len, &tmp, &x, &derr);
    if (st == MS_ERR_INVALID) x = qu_batch_add(&tmp, &f, 1);
    if (!x) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    snprintf(x->id, QU_ID_MAX, "%d:%lld", part, (long long)m->off);
    x->deliveries = m->deliveries;
    char reason[64];
    snprintf(reason, sizeof reason, "delivered %lld time%s", (long long)m->deliveries,
             m->deliveries == 1 ? "" : "s");
    st = kq_dead(&q->base, x, reason, err);
    qu_batch_free(&tmp);
    return st;
}

/* Pending messages whose lease expired: handed out again, or dead-lettered past the limit.
 * A dead letter commits, which frees acked entries: the scan then starts again. */
static ms_status expired(kq_queue *q, size_t max, qu_batch *b, ms_error *err)
{
    int64_t now = now_ms();
    ms_status st = MS_OK;
again:
    for (int i = 0; i < q->nparts && st == MS_OK; i++) {
        kq_part *p = &q->parts[i];
        for (size_t k = p->head; k < p->n && b->n < max && st == MS_OK; k++) {
            kq_pend *m = &p->v[k];
            if (m->acked || m->lease_until > now) continue;
            if (m->deliveries >= q->base.cfg.max_deliveries) {
                m->lease_until = now + q->base.cfg.lease_ms; /* a failed dead letter: later */
                if ((st = exhausted(q, i, m, err)) == MS_OK) goto again;
                break;
            }
            m->deliveries++;
            size_t had = b->n;
            st = hand_out(q, i, m, b, err);
            if (st == MS_OK && b->n == had) goto again; /* not decodable: dead-lettered */
        }
    }
    return st;
}

/* A message from the consumer becomes pending and is handed out. */
static ms_status take(kq_queue *q, rd_kafka_message_t *km, qu_batch *b, ms_error *err)
{
    kq_part *p = part_of(q, km->partition);
    if (!p) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (p->n && km->offset <= p->v[p->n - 1].off) return MS_OK; /* already held */
    if (p->n == p->cap) {
        if (p->head > p->cap / 2) { /* slide down before growing */
            memmove(p->v, p->v + p->head, (p->n - p->head) * sizeof *p->v);
            p->n -= p->head, p->head = 0;
        } else {
            size_t cap = p->cap ? p->cap * 2 : 64;
            kq_pend *v = realloc(p->v, cap * sizeof *v);
            if (!v) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            p->v = v, p->cap = cap;
        }
    }
    kq_pend *m = &p->v[p->n];
    *m = (kq_pend){.off = km->offset, .deliveries = 1, .len = km->len};
    m->ts = rd_kafka_message_timestamp(km, NULL);
    if (m->ts < 0) m->ts = 0;
    if (km->len && !(m->val = malloc(km->len))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (km->len) memcpy(m->val, km->payload, km->len);
    p->n++, p->next = km->offset + 1;
    q->npending++;
    return hand_out(q, km->partition, &p->v[p->n - 1], b, err);
}

/* One consumer poll; 1 when it gave a message, 0 when none came, -1 on a fatal error. */
static int poll_one(kq_queue *q, int timeout_ms, qu_batch *b, ms_status *st, ms_error *err)
{
    rd_kafka_message_t *km = rd_kafka_consumer_poll(q->cons, timeout_ms);
    if (!km) return 0;
    int got = 0;
    if (km->err) {
        char e[512];
        if (rd_kafka_fatal_error(q->cons, e, sizeof e)) {
            *st = kq_err(q, err, "read", e);
            got = -1;
        } else if (km->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            snprintf(q->last_error, sizeof q->last_error, "%s", rd_kafka_message_errstr(km));
        }
    } else if (km->rkt && strcmp(rd_kafka_topic_name(km->rkt), q->topic) == 0) {
        *st = take(q, km, b, err);
        got = *st == MS_OK ? 1 : -1;
    }
    rd_kafka_message_destroy(km);
    return got;
}

static ms_status subscribe(kq_queue *q, ms_error *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, q->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(q->cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) return kq_err(q, err, "subscribe", rd_kafka_err2str(e));
    q->subscribed = 1;
    return MS_OK;
}

static ms_status kq_read(qu_queue *base, size_t max, int block_ms, qu_batch *b, ms_error *err)
{
    kq_queue *q = (kq_queue *)base;
    ms_status st = q->subscribed ? MS_OK : subscribe(q, err);
    if (st == MS_OK) st = expired(q, max, b, err);
    q->last_read_ms = now_ms();
    int64_t until = q->last_read_ms + (b->n ? 0 : block_ms);
    while (st == MS_OK && b->n < max) {
        int64_t left = until - now_ms();
        int r = poll_one(q, b->n || left <= 0 ? 0 : (int)left, b, &st, err);
        if (r < 0) break;
        if (r == 0 && (b->n || now_ms() >= until)) break; /* no waiting with messages in hand */
    }
    return st;
}

/* ==== status and range ================================================================== */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Partitions of a topic (0 when the cluster does not know it). */
static ms_status partitions(kq_queue *q, rd_kafka_t *rk, const char *topic, int *n, ms_error *err)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = t ? rd_kafka_metadata(rk, 0, t, &md, META_TIMEOUT_MS) : rd_kafka_last_error();
    if (t) rd_kafka_topic_destroy(t);
    if (e) return kq_err(q, err, "metadata", rd_kafka_err2str(e));
    *n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    return MS_OK;
}

static ms_status marks(kq_queue *q, rd_kafka_t *rk, const char *topic, int p, int64_t *lo,
                       int64_t *hi, ms_error *err)
{
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, lo, hi, META_TIMEOUT_MS);
    return e ? kq_err(q, err, "watermarks", rd_kafka_err2str(e)) : MS_OK;
}

static ms_status reader(kq_queue *q, ms_error *err)
{
    if (!q->reader && !(q->reader = client(q, RD_KAFKA_CONSUMER, 0, err))) return MS_ERR_RUNTIME;
    return MS_OK;
}

/* Reads partition p of topic from offset `from` up to (not including) `end` into b, at most
 * max in all; raw messages (not decodable) come as one "body" field. */
static ms_status read_part(kq_queue *q, const char *topic, int p, int64_t from, int64_t end,
                           size_t max, qu_batch *b, ms_error *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = from;
    rd_kafka_resp_err_t e = rd_kafka_assign(q->reader, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) return kq_err(q, err, "range", rd_kafka_err2str(e));
    ms_status st = MS_OK;
    int64_t next = from, give_up = now_ms() + META_TIMEOUT_MS;
    while (st == MS_OK && next < end && b->n < max && now_ms() < give_up) {
        rd_kafka_message_t *km = rd_kafka_consumer_poll(q->reader, 100);
        if (!km) continue;
        if (km->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) next = end; /* a trimmed tail */
        else if (!km->err && km->partition == p && km->offset >= next) {
            qu_msg *m = NULL;
            ms_error derr;
            if (qu_body_decode(km->payload ? km->payload : "", km->len, b, &m, &derr) != MS_OK) {
                qu_field f = {"body", 4, km->payload ? km->payload : "", km->len};
                m = qu_batch_add(b, &f, 1);
            }
            if (!m) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            else {
                int64_t ts = rd_kafka_message_timestamp(km, NULL);
                snprintf(m->id, QU_ID_MAX, "%d:%lld", p, (long long)km->offset);
                m->enq_ms = ts > 0 ? ts : 0;
                m->order = (m->enq_ms << 20) + (km->offset & 0xfffff);
            }
            next = km->offset + 1;
        }
        rd_kafka_message_destroy(km);
    }
    rd_kafka_assign(q->reader, NULL);
    if (st == MS_OK && next < end && b->n < max)
        st = kq_err(q, err, "range", "the partition did not answer in time");
    return st;
}

/* Partition by partition (a total order in which paging by id works; the dead-letter topic is
 * written to partition 0 only, so there it is the order of appending). */
static ms_status kq_range(qu_queue *base, const char *stream, const char *after, size_t max,
                          qu_batch *b, ms_error *err)
{
    kq_queue *q = (kq_queue *)base;
    char topic[TOPIC_MAX];
    topic_of(stream, topic);
    int32_t part = 0;
    int64_t off = -1;
    if (*after && check_id(q, after, &part, &off, err) != MS_OK) return MS_ERR_INVALID;
    int n = 0;
    ms_status st = reader(q, err);
    if (st == MS_OK) st = partitions(q, q->reader, topic, &n, err);
    for (int p = part; p < n && st == MS_OK && b->n < max; p++) {
        int64_t lo, hi;
        st = marks(q, q->reader, topic, p, &lo, &hi, err);
        int64_t from = p == part && off >= 0 ? off + 1 : lo;
        if (from < lo) from = lo;
        if (st == MS_OK && from < hi) st = read_part(q, topic, p, from, hi, max, b, err);
    }
    return st;
}

/* The time of the message at offset `at` of partition p (0 when it cannot be read). */
static int64_t time_at(kq_queue *q, int p, int64_t at, int64_t hi)
{
    qu_batch one = {0};
    ms_error ignored;
    int64_t ts = 0;
    if (read_part(q, q->topic, p, at, hi, 1, &one, &ignored) == MS_OK && one.n) ts = one.msgs[0].enq_ms;
    qu_batch_free(&one);
    return ts;
}

static ms_status kq_status(qu_queue *base, qu_stats *st, ms_error *err)
{
    kq_queue *q = (kq_queue *)base;
    int n = 0, nd = 0;
    ms_status rs = reader(q, err);
    if (rs == MS_OK) rs = partitions(q, q->reader, q->topic, &n, err);
    if (rs == MS_OK) rs = partitions(q, q->reader, q->dead, &nd, err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n ? n : 1);
    for (int p = 0; p < n; p++) rd_kafka_topic_partition_list_add(l, q->topic, p);
    if (rs == MS_OK && n) {
        rd_kafka_resp_err_t e = rd_kafka_committed(q->cons, l, META_TIMEOUT_MS);
        if (e) rs = kq_err(q, err, "committed offsets", rd_kafka_err2str(e));
    }
    int64_t oldest = 0, now = now_ms();
    for (int p = 0; p < n && rs == MS_OK; p++) {
        int64_t lo, hi, c = l->elems[p].offset;
        rs = marks(q, q->reader, q->topic, p, &lo, &hi, err);
        if (rs != MS_OK) break;
        if (c < lo) c = lo; /* nothing committed yet (or trimmed past it) */
        st->length += hi - lo;
        st->lag += hi > c ? hi - c : 0;
        int64_t ts = hi > c ? time_at(q, p, c, hi) : 0;
        if (ts) oldest = oldest ? min64(oldest, ts) : ts;
    }
    rd_kafka_topic_partition_list_destroy(l);
    for (int p = 0; p < nd && rs == MS_OK; p++) {
        int64_t lo, hi;
        rs = marks(q, q->reader, q->dead, p, &lo, &hi, err);
        st->dead += rs == MS_OK ? hi - lo : 0;
    }
    if (rs != MS_OK) return rs;
    st->pending = q->npending;
    st->oldest_age_ms = oldest && now > oldest ? now - oldest : 0;
    if (q->subscribed) { /* Kafka lists members, not what each holds: this handle only */
        if (!(st->consumers = calloc(1, sizeof *st->consumers)))
            return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        st->nconsumers = 1;
        snprintf(st->consumers[0].name, QU_NAME_MAX, "%s", q->base.cfg.consumer);
        st->consumers[0].pending = q->npending;
        st->consumers[0].idle_ms = now - q->last_read_ms;
    }
    return MS_OK;
}

const qu_backend_ops qu_kafka_ops = {
    .version = QU_OPS_VERSION,
    .name = "kafka",
    .caps = QU_CAP_BLOCKING | QU_CAP_MULTI_HOST | QU_CAP_REPLAY,
    .open = kq_open,
    .close = kq_close,
    .send = kq_send,
    .read = kq_read,
    .ack = kq_ack,
    .dead = kq_dead,
    .status = kq_status,
    .range = kq_range,
};

#endif
