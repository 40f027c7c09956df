/* queue_mqtt.c: the MQTT backend (libmosquitto, mqtt:// URLs; docs/queue-mqtt.md). A handle
 * makes at most two client connections, each on first use:
 *
 *   reading  client id = the consumer name (stable: the broker keys the persistent session on
 *            it), clean session off, SUBSCRIBE filter QoS 1: messages published while the
 *            reader was away are delivered when it reconnects.
 *   sending  client id "<consumer>-p<pid>-<n>", clean session on (nothing to resume: a send
 *            returns only after the PUBACK of every message), PUBLISH QoS 1 to the URL's
 *            topic (no wildcards), or to another stream's topic ('.' and ':' -> '/').
 *
 * The network loop is ours (poll on the client's socket, then mosquitto_loop_read / _write /
 * _misc, no thread; not mosquitto_loop, whose select also watches libmosquitto's internal
 * wake-up pipe, which gets a byte per packet queued and gives back one per call, so a busy
 * client's waits turned into spins): libmosquitto 2.0
 * reads one packet per loop call for a subscriber and sends a QoS 1 PUBACK as it reads the
 * PUBLISH, before our callback runs; there is no manual ack. So a message is acknowledged to
 * the broker when it is read from the socket: reading only as many as the caller asked for
 * bounds what a killed reader loses to the batch in its hands. qu_ack is therefore a no-op.
 *
 * A message read is the fields "topic" and "payload" (the bytes as published); the stream
 * layer (src/stream/sm_reading.h) turns readings into events. A message sent whose only field
 * is "json" is published as that text; any other is published as the JSON object of its
 * fields (queue_body.c, as SQLite stores it). The connection: dropped (a broker restart), the
 * next read or send reconnects, retrying for up to RECONNECT_MS; a read returns what it has
 * (possibly nothing) meanwhile. */
#define _DEFAULT_SOURCE /* TCP_QUICKACK */
#include "queue/queue_int.h"

#ifndef MS_WITH_MQTT
#define MS_WITH_MQTT 1
#endif

#if !MS_WITH_MQTT

static ms_status mq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    (void)u, (void)cfg, (void)out;
    return qu_not_built(err, "MQTT", "WITH_MQTT", "libmosquitto-dev");
}
static void mq_close_stub(qu_queue *q) { (void)q; }
const qu_backend_ops qu_mqtt_ops = {.version = QU_OPS_VERSION, .name = "mqtt",
                                    .open = mq_open_stub, .close = mq_close_stub};

#else

#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/bs_clock.h"

#define KEEPALIVE_S 30
#define RECONNECT_MS 60000   /* a broker away longer than this is an error */
#define SEND_TIMEOUT_MS 30000 /* PUBACKs not all back by then: an error */
#define INFLIGHT 1000        /* unacked publishes in flight (libmosquitto's default is 20) */
#define PENDING_MAX 100000   /* read ahead never exceeds this (it is normally 1 packet) */

typedef struct mq_conn {
    struct mosquitto *m;
    int connected;  /* CONNACK seen and not lost since */
    int refused;    /* CONNACK refused: the reason code */
    int subscribed; /* SUBACK seen (reading connection) */
    int sub_qos;    /* granted QoS */
    long acked;     /* PUBACKs counted by on_publish */
    long goal;      /* send waits until acked reaches this */
} mq_conn;

typedef struct mq_queue {
    qu_queue base;
    char *host, *user, *password, *topic;
    int port;
    mq_conn rd, wr;
    qu_batch pending; /* read from the socket (so acknowledged), not yet handed out */
    size_t pending_at;
    long counter;     /* message ids: "<counter>" within this handle */
} mq_queue;

static atomic_int lib_users;
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_long pub_seq;

static void lib_ref(int up)
{
    pthread_mutex_lock(&lib_lock);
    if (up && atomic_fetch_add(&lib_users, 1) == 0) mosquitto_lib_init();
    if (!up && atomic_fetch_sub(&lib_users, 1) == 1) mosquitto_lib_cleanup();
    pthread_mutex_unlock(&lib_lock);
}

/* ==== callbacks (run inside mosquitto_loop, on the caller's thread) ===================== */

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    mq_conn *c = obj;
    if (rc == 0) c->connected = 1;
    else c->refused = rc;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    (void)m, (void)rc;
    mq_conn *c = obj;
    c->connected = 0;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    (void)m, (void)mid;
    ((mq_conn *)obj)->acked++;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
    (void)m, (void)mid;
    mq_conn *c = obj;
    c->subscribed = 1;
    c->sub_qos = n > 0 ? granted[0] : 128;
}

/* The message's fields: topic and payload, copied into the pending batch. The obj of the
 * reading connection is the mq_conn inside mq_queue: step back to the handle. */
static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    mq_queue *q = (mq_queue *)((char *)obj - offsetof(mq_queue, rd));
    qu_field f[2] = {{"topic", 5, msg->topic, strlen(msg->topic)},
                     {"payload", 7, msg->payload ? msg->payload : "", (size_t)(msg->payloadlen > 0 ? msg->payloadlen : 0)}};
    qu_msg *x = qu_batch_add(&q->pending, f, 2);
    if (!x) return; /* out of memory: the message is lost, as a crash would lose it */
    snprintf(x->id, sizeof x->id, "%ld", ++q->counter);
    x->order = q->counter;
    x->enq_ms = (int64_t)(bs_now_ns() / 1000000);
    x->deliveries = 1; /* the broker does not say whether it delivered this one before */
}

/* ==== connections ======================================================================= */

static const char *mq_err(int rc)
{
    return rc == MOSQ_ERR_ERRNO ? "a system call failed (see errno)" : mosquitto_strerror(rc);
}

/* Acknowledge TCP segments at once while waiting for PUBACKs: a broker with Nagle's algorithm
 * on (mosquitto's default, set_tcp_nodelay false) holds each PUBACK until the previous one is
 * ACKed, and a delayed ACK (up to 40 ms) would then pace a batch's acknowledgements. The flag
 * does not stick in Linux, so it is set before every wait. */
static void quick_ack(mq_conn *c)
{
#ifdef TCP_QUICKACK
    int fd = mosquitto_socket(c->m), one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
    (void)c;
#endif
}

/* One step of the network loop: wait up to ms for the socket, read one packet and write what
 * is queued, keepalive. MOSQ_ERR_SUCCESS, or the error (no connection, lost, a socket error). */
static int net_step(struct mosquitto *m, int ms)
{
    int fd = mosquitto_socket(m);
    if (fd < 0) return MOSQ_ERR_NO_CONN;
    struct pollfd p = {fd, (short)(POLLIN | (mosquitto_want_write(m) ? POLLOUT : 0)), 0};
    int n = poll(&p, 1, ms);
    int rc = MOSQ_ERR_SUCCESS;
    if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) rc = mosquitto_loop_read(m, 1);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(m)) rc = mosquitto_loop_write(m, 1);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(m);
    return rc;
}

/* Loop until cond(c) or the deadline; 0 when cond holds, else -1. */
static int loop_until(mq_conn *c, int (*cond)(const mq_conn *), uint64_t deadline_ns)
{
    while (!cond(c)) {
        uint64_t now = bs_now_ns();
        if (now >= deadline_ns || c->refused) return -1;
        quick_ack(c);
        int ms = (int)((deadline_ns - now) / 1000000);
        int rc = net_step(c->m, ms < 100 ? (ms < 1 ? 1 : ms) : 100);
        /* any failure (no connection, lost, refused, a socket error) returns at once: looping
           on would spin, since the loop then fails without waiting */
        if (rc != MOSQ_ERR_SUCCESS) {
            c->connected = 0;
            return -1;
        }
    }
    return 0;
}

static int is_connected(const mq_conn *c) { return c->connected; }
static int is_subscribed(const mq_conn *c) { return c->subscribed; }

/* (Re)connect c and, for reading, subscribe; within RECONNECT_MS. */
static ms_status conn_up(mq_queue *q, mq_conn *c, int reading, ms_error *err)
{
    uint64_t deadline = bs_now_ns() + (uint64_t)RECONNECT_MS * 1000000;
    int rc = MOSQ_ERR_SUCCESS;
    unsigned delay_ms = 50;
    for (;;) {
        c->connected = c->refused = 0;
        c->subscribed = 0;
        rc = mosquitto_connect(c->m, q->host, q->port, KEEPALIVE_S);
        if (rc == MOSQ_ERR_SUCCESS && loop_until(c, is_connected, bs_now_ns() + 10000000000ull) == 0) break;
        if (c->refused)
            return bs_fail(err, MS_ERR_RUNTIME, "queue %s: the broker refused the connection: %s",
                           q->base.cfg.shown, mosquitto_connack_string(c->refused));
        mosquitto_disconnect(c->m);
        if (bs_now_ns() + (uint64_t)delay_ms * 1000000 >= deadline)
            return bs_fail(err, MS_ERR_RUNTIME, "queue %s: cannot connect to %s:%d: %s", q->base.cfg.shown,
                           q->host, q->port, rc ? mq_err(rc) : "no CONNACK");
        nanosleep(&(struct timespec){0, (long)delay_ms * 1000000L}, NULL);
        if (delay_ms < 1000) delay_ms *= 2;
    }
    if (!reading) return MS_OK;
    /* the persistent session remembers the subscription, but a first run has none, and a
       broker that lost its store (no persistence) has none either: subscribing again is
       harmless (MQTT 3.1.1 3.8.4: it replaces the subscription, queued messages are kept) */
    rc = mosquitto_subscribe(c->m, NULL, q->topic, 1);
    if (rc == MOSQ_ERR_SUCCESS && loop_until(c, is_subscribed, bs_now_ns() + 10000000000ull) == 0) {
        if (c->sub_qos == 1) return MS_OK;
        return bs_fail(err, MS_ERR_RUNTIME, "queue %s: the broker granted QoS %d for '%s', not 1",
                       q->base.cfg.shown, c->sub_qos, q->topic);
    }
    return bs_fail(err, MS_ERR_RUNTIME, "queue %s: cannot subscribe to '%s': %s", q->base.cfg.shown,
                   q->topic, rc ? mq_err(rc) : "no SUBACK");
}

static ms_status conn_new(mq_queue *q, mq_conn *c, int reading, ms_error *err)
{
    char id[QU_NAME_MAX + 48];
    if (reading) snprintf(id, sizeof id, "%s", q->base.cfg.consumer);
    else snprintf(id, sizeof id, "%s-p%ld-%ld", q->base.cfg.consumer, (long)getpid(), atomic_fetch_add(&pub_seq, 1));
    c->m = mosquitto_new(id, !reading, c);
    if (!c->m) return bs_fail(err, MS_ERR_RUNTIME, "queue %s: cannot create an MQTT client", q->base.cfg.shown);
    mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(c->m, INFLIGHT);
    if (q->user || q->password) mosquitto_username_pw_set(c->m, q->user ? q->user : "", q->password);
    mosquitto_connect_callback_set(c->m, on_connect);
    mosquitto_disconnect_callback_set(c->m, on_disconnect);
    if (reading) {
        mosquitto_subscribe_callback_set(c->m, on_subscribe);
        mosquitto_message_callback_set(c->m, on_message);
    } else {
        mosquitto_publish_callback_set(c->m, on_publish);
    }
    return conn_up(q, c, reading, err);
}

static ms_status conn_ready(mq_queue *q, mq_conn *c, int reading, ms_error *err)
{
    if (!c->m) return conn_new(q, c, reading, err);
    if (c->connected) return MS_OK;
    return conn_up(q, c, reading, err);
}

static void conn_free(mq_conn *c)
{
    if (!c->m) return;
    if (c->connected) {
        mosquitto_disconnect(c->m);
        net_step(c->m, 10); /* let the DISCONNECT go out */
    }
    mosquitto_destroy(c->m);
    c->m = NULL;
}

/* ==== open / close ====================================================================== */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void mq_close(qu_queue *base)
{
    mq_queue *q = (mq_queue *)base;
    conn_free(&q->rd);
    conn_free(&q->wr);
    qu_batch_free(&q->pending);
    free(q->host), free(q->user), free(q->password), free(q->topic);
    free(q);
    lib_ref(0);
}

static ms_status mq_open(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    if (u->query && u->query[0])
        return bs_fail(err, MS_ERR_INVALID, "queue %s: unknown parameter '%s' (mqtt:// URLs take none)",
                       cfg->shown, u->query);
    if (!u->topic || !u->topic[0])
        return bs_fail(err, MS_ERR_INVALID, "queue %s: no topic (mqtt://host:port/TOPIC-FILTER)", cfg->shown);
    if (mosquitto_sub_topic_check(u->topic) != MOSQ_ERR_SUCCESS)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: '%s' is not a valid MQTT topic filter ('+' and '#' "
                       "stand alone between '/', '#' only last)", cfg->shown, u->topic);
    mq_queue *q = calloc(1, sizeof *q);
    if (!q) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    lib_ref(1);
    q->base.ops = &qu_mqtt_ops;
    q->base.cfg = *cfg;
    q->port = u->port;
    q->host = dup_or_null(u->host ? u->host : "127.0.0.1");
    q->user = dup_or_null(u->user);
    q->password = dup_or_null(u->password);
    q->topic = dup_or_null(u->topic);
    if (!q->host || !q->topic || (u->user && !q->user) || (u->password && !q->password)) {
        q->base.cfg.shown = NULL;
        mq_close(&q->base);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    *out = &q->base;
    return MS_OK; /* connections are made on first use: a handle may only read or only send */
}

/* ==== send ============================================================================== */

static int all_acked(const mq_conn *c) { return c->acked >= c->goal; }

/* The topic of `stream`: the URL's own, or another stream's name with '.'/':' as '/'. */
static ms_status send_topic(mq_queue *q, const char *stream, char *dst, size_t cap, ms_error *err)
{
    if (strcmp(stream, q->base.cfg.stream) == 0) snprintf(dst, cap, "%s", q->topic);
    else {
        snprintf(dst, cap, "%s", stream);
        for (char *p = dst; *p; p++)
            if (*p == '.' || *p == ':') *p = '/';
    }
    if (mosquitto_pub_topic_check(dst) != MOSQ_ERR_SUCCESS)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: cannot publish to '%s' (a topic filter with '+' or "
                       "'#' is for reading; give one topic)", q->base.cfg.shown, dst);
    return MS_OK;
}

static ms_status mq_send(qu_queue *base, const char *stream, const qu_field *const *msgs,
                         const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                         ms_error *err)
{
    (void)maxlen; /* a broker keeps no stream to cap */
    mq_queue *q = (mq_queue *)base;
    char topic[QU_NAME_MAX + 1024];
    ms_status st = send_topic(q, stream, topic, sizeof topic, err);
    if (st == MS_OK) st = conn_ready(q, &q->wr, 0, err);
    if (st) return st;
    long start = q->wr.acked;
    qu_sb body = {0};
    for (size_t i = 0; i < n && st == MS_OK; i++) {
        const char *p;
        size_t len;
        if (nfields[i] == 1 && msgs[i][0].name_len == 4 && memcmp(msgs[i][0].name, "json", 4) == 0) {
            p = msgs[i][0].val, len = msgs[i][0].val_len;
        } else {
            body.len = 0;
            qu_body_encode(&body, msgs[i], nfields[i]);
            if (body.oom) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            p = body.p, len = body.len;
        }
        int mid = 0, rc = st ? MOSQ_ERR_SUCCESS : mosquitto_publish(q->wr.m, &mid, topic, (int)len, p, 1, false);
        /* NO_CONN: libmosquitto keeps the message queued and sends it after the reconnect below */
        if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
            st = bs_fail(err, MS_ERR_RUNTIME, "queue %s: publish to '%s' failed: %s", q->base.cfg.shown,
                         topic, mq_err(rc));
        if (ids && st == MS_OK) snprintf(ids[i], QU_ID_MAX, "%d", mid);
        if (st == MS_OK && (i & 63) == 63) net_step(q->wr.m, 0); /* keep the socket moving */
    }
    qu_sb_free(&body);
    uint64_t deadline = bs_now_ns() + (uint64_t)SEND_TIMEOUT_MS * 1000000;
    q->wr.goal = start + (long)n;
    while (st == MS_OK && q->wr.acked < start + (long)n) {
        if (loop_until(&q->wr, all_acked, deadline) == 0) break;
        if (bs_now_ns() >= deadline)
            st = bs_fail(err, MS_ERR_RUNTIME, "queue %s: %ld of %zu publishes to '%s' not acknowledged "
                         "within %d s", q->base.cfg.shown, start + (long)n - q->wr.acked, n, topic,
                         SEND_TIMEOUT_MS / 1000);
        else if (!q->wr.connected) /* lost: libmosquitto resends the unacked ones on reconnect */
            st = conn_up(q, &q->wr, 0, err);
    }
    return st;
}

/* ==== read ============================================================================== */

static ms_status mq_read(qu_queue *base, size_t max, int block_ms, qu_batch *b, ms_error *err)
{
    mq_queue *q = (mq_queue *)base;
    ms_status st = conn_ready(q, &q->rd, 1, err);
    if (st) return st;
    uint64_t deadline = bs_now_ns() + (uint64_t)block_ms * 1000000;
    /* one packet per call: read until `max` are in hand, the wait is over, or (having some)
       the socket has nothing more right now. With messages in hand, mosquitto_loop_read alone
       (no poll: the socket is non-blocking); waiting, net_step (poll, writes, keepalive). */
    for (;;) {
        size_t have = q->pending.n - q->pending_at;
        if (have >= max || have >= PENDING_MAX) break;
        uint64_t now = bs_now_ns();
        int ms = (int)(now >= deadline ? 0 : (deadline - now) / 1000000);
        if (ms > 100) ms = 100;
        size_t before = q->pending.n;
        int rc = have ? mosquitto_loop_read(q->rd.m, 1) : net_step(q->rd.m, ms);
        if (rc != MOSQ_ERR_SUCCESS || !q->rd.connected) { /* lost (or failing: never spin on it) */
            q->rd.connected = 0;
            if (have) break; /* hand out what we have; reconnect on the next read */
            if ((st = conn_up(q, &q->rd, 1, err)) != MS_OK) return st;
            continue;
        }
        if (q->pending.n == before && (have || bs_now_ns() >= deadline)) break;
    }
    if (q->pending.n != q->pending_at) { /* busy: PUBACKs a full socket held back, keepalive */
        if (mosquitto_want_write(q->rd.m)) mosquitto_loop_write(q->rd.m, 1);
        mosquitto_loop_misc(q->rd.m);
    }
    for (; q->pending_at < q->pending.n && b->n < max; q->pending_at++) {
        qu_msg *src = &q->pending.msgs[q->pending_at];
        qu_msg *x = qu_batch_add(b, src->fields, src->nfields);
        if (!x) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        memcpy(x->id, src->id, sizeof x->id);
        x->order = src->order, x->enq_ms = src->enq_ms, x->deliveries = src->deliveries;
    }
    if (q->pending_at == q->pending.n) {
        qu_batch_free(&q->pending);
        q->pending_at = 0;
    }
    return MS_OK;
}

/* Acknowledged on receipt (see the top of the file): nothing left to do. */
static ms_status mq_ack(qu_queue *q, const char *const *ids, size_t n, ms_error *err)
{
    (void)q, (void)ids, (void)n, (void)err;
    return MS_OK;
}

/* A dead letter is published to the dead-letter stream's topic ("<stream>:dead" -> ".../dead"
 * unless named): the broker keeps it only for subscribers already there. */
static ms_status mq_dead(qu_queue *q, const qu_msg *m, const char *reason, ms_error *err)
{
    qu_field *f = malloc(((size_t)m->nfields + 3) * sizeof *f);
    if (!f) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    char num[QU_ID_MAX];
    int nf = qu_dead_fields(m, reason, num, f);
    const qu_field *msgs[1] = {f};
    ms_status st = mq_send(q, q->cfg.dead, msgs, &nf, 1, 0, NULL, err);
    free(f);
    return st;
}

const qu_backend_ops qu_mqtt_ops = {
    .version = QU_OPS_VERSION,
    .name = "mqtt",
    .caps = QU_CAP_BLOCKING | QU_CAP_MULTI_HOST,
    .open = mq_open,
    .close = mq_close,
    .send = mq_send,
    .read = mq_read,
    .ack = mq_ack,
    .dead = mq_dead,
};

#endif
