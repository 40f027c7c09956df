/* queue_nats.c: the NATS JetStream backend (libnats, nats:// URLs; docs/queue-nats.md). A queue
 * stream S is the JetStream stream S (file storage) capturing the one subject S with ':' made
 * '.', so "S:results" and "S:dead" are streams of their own on subjects S.results and S.dead.
 * The group is a durable pull consumer (explicit acks, AckWait = lease_ms) shared by every
 * reader; the consumer name qu_opts.consumer only names the connection.
 *
 *   send    js_PublishMsgAsync per message (body: the fields as queue_body.c's JSON object;
 *           Nats-Msg-Id from the "id" field, so a retried produce is stored once), then
 *           js_PublishAsyncComplete; ids are the stream sequences from the PubAcks
 *   read    fetch with NoWait; when empty and block_ms > 0, a fetch of 1 waiting block_ms
 *           then a NoWait fetch of the rest. Deliveries from the message metadata; a message
 *           delivered more than max_deliveries times is dead-lettered by the read
 *   ack     natsMsg_Ack of the messages this handle holds (kept by sequence until acked), not
 *           awaited; the last asks for a reply, which status and close wait for
 *   dead    publish to the dead stream (Nats-Msg-Id "<stream>:<seq>": a repeat is dropped),
 *           then ack
 *   nak     natsMsg_NakWithDelay; touch: natsMsg_InProgress (resets AckWait)
 *   status  stream info, consumer info, dead stream info, a direct get for the oldest
 *   range   direct gets (AllowDirect is set on the streams we create), next by subject */
#include "queue/queue_int.h"

#ifndef MS_WITH_NATS
#define MS_WITH_NATS 1
#endif

#if !MS_WITH_NATS

static ms_status nq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    return qu_not_built(err, "NATS JetStream", "WITH_NATS", "libnats-dev");
}
static void nq_close_stub(qu_queue *q) {}
const qu_backend_ops qu_nats_ops = {.version = QU_OPS_VERSION, .name = "nats",
                                    .open = nq_open_stub, .close = nq_close_stub};

#else

#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/bs_clock.h"

#define API_WAIT_MS 5000     /* a JetStream API request or PubAck slower than this: failed */
#define MAX_ACK_PENDING 100000 /* unacked messages of the group (JetStream's default is 1000) */
#define MAX_STREAMS 16       /* streams a handle remembers having checked */

typedef struct nq_held {
    uint64_t seq;
    natsMsg *m;     /* the delivery, for ack / nak / in-progress */
    uint64_t until; /* bs_now_ns() when its lease ends: forgotten after that */
} nq_held;

typedef struct nq_known {
    char name[QU_NAME_MAX];
    int64_t maxlen;
} nq_known;

/* One asynchronous send in flight: the PubAck handler (a libnats thread) fills seq/err. */
typedef struct nq_pub {
    pthread_mutex_t mu;
    natsMsg **msgs; /* the messages published, by index, for the handler to find */
    uint64_t *seq;
    size_t n, cursor, acked, failed;
    char why[200];
} nq_pub;

typedef struct nq_queue {
    qu_queue base;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub; /* bound on the first read */
    char subject[QU_NAME_MAX];
    jsRetentionPolicy retention;
    int retention_given;
    nq_held *held;
    size_t nheld, capheld;
    nq_known known[MAX_STREAMS];
    int nknown;
    nq_pub pub;
    natsInbox *inbox;         /* where the servers' replies to our last acks come */
    natsSubscription *replies;
    int barriers;             /* replies to those acks not yet taken */
} nq_queue;

/* ==== names and errors ================================================================== */

/* A queue name as a JetStream stream or consumer name: ours may hold '.', JetStream's not. */
static ms_status check_js_name(const nq_queue *q, const char *what, const char *name,
                               ms_error *err)
{
    if (strchr(name, '.'))
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: %s '%s' holds a '.', which JetStream names may not (use ':' "
                       "or '-')",
                       q->base.cfg.shown, what, name);
    if (name[0] == ':' || name[strlen(name) - 1] == ':' || strstr(name, "::"))
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: %s '%s': a ':' must sit between two parts (it becomes a '.' "
                       "of the NATS subject)",
                       q->base.cfg.shown, what, name);
    return MS_OK;
}

/* The subject of stream `name`: ':' -> '.'. */
static void subject_of(const char *name, char out[QU_NAME_MAX])
{
    snprintf(out, QU_NAME_MAX, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == ':') *p = '.';
}

static ms_status nq_fail(nq_queue *q, ms_error *err, const char *what, const char *stream,
                         natsStatus s, jsErrCode jerr)
{
    const char *last = nats_GetLastError(NULL);
    return bs_fail(err, MS_ERR_RUNTIME, "queue %s (stream %s): %s: %s%s%s (jetstream error %d)",
                   q->base.cfg.shown, stream, what, natsStatus_GetText(s), last ? ": " : "",
                   last ? last : "", (int)jerr);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A message id is the stream sequence in decimal. */
static int parse_seq(const char *id, uint64_t *seq)
{
    if (*id < '0' || *id > '9' || strlen(id) > 19) return -1;
    char *e;
    unsigned long long v = strtoull(id, &e, 10);
    if (*e || v == 0) return -1;
    *seq = v;
    return 0;
}

static ms_status check_id(nq_queue *q, const char *id, uint64_t *seq, ms_error *err)
{
    return parse_seq(id, seq) == 0
               ? MS_OK
               : bs_fail(err, MS_ERR_INVALID, "queue %s: '%s' is not a JetStream sequence",
                         q->base.cfg.shown, id);
}

/* ==== held deliveries =================================================================== */

static void held_drop(nq_queue *q, size_t i)
{
    natsMsg_Destroy(q->held[i].m);
    q->held[i] = q->held[--q->nheld];
}

static nq_held *held_find(nq_queue *q, uint64_t seq)
{
    for (size_t i = 0; i < q->nheld; i++)
        if (q->held[i].seq == seq) return &q->held[i];
    return NULL;
}

/* Keep delivery m of seq (replacing an earlier one); destroys m when out of memory. */
static void held_put(nq_queue *q, uint64_t seq, natsMsg *m)
{
    uint64_t until = bs_now_ns() + (uint64_t)q->base.cfg.lease_ms * 1000000u;
    nq_held *h = held_find(q, seq);
    if (h) {
        natsMsg_Destroy(h->m);
        h->m = m, h->until = until;
        return;
    }
    if (q->nheld == q->capheld) {
        size_t cap = q->capheld ? q->capheld * 2 : 256;
        nq_held *p = realloc(q->held, cap * sizeof *p);
        if (!p) {
            natsMsg_Destroy(m); /* not acked: delivered again after the lease */
            return;
        }
        q->held = p, q->capheld = cap;
    }
    q->held[q->nheld++] = (nq_held){seq, m, until};
}

/* Deliveries whose lease ended: the server hands them out again, so they are not ours. */
static void held_expire(nq_queue *q)
{
    uint64_t now = bs_now_ns();
    for (size_t i = 0; i < q->nheld;)
        if (q->held[i].until < now) held_drop(q, i);
        else i++;
}

/* ==== streams and the consumer ========================================================== */

static int known_index(nq_queue *q, const char *name)
{
    for (int i = 0; i < q->nknown; i++)
        if (strcmp(q->known[i].name, name) == 0) return i;
    return -1;
}

static void remember(nq_queue *q, const char *name, int64_t maxlen)
{
    int i = known_index(q, name);
    if (i < 0 && q->nknown < MAX_STREAMS) i = q->nknown++;
    if (i < 0) return; /* forgotten: checked again next time, which is only slower */
    snprintf(q->known[i].name, QU_NAME_MAX, "%s", name);
    q->known[i].maxlen = maxlen;
}

static const char *retention_name(jsRetentionPolicy r)
{
    return r == js_WorkQueuePolicy ? "workqueue" : r == js_LimitsPolicy ? "limits" : "interest";
}

/* An existing stream must capture our subject; the URL's retention, when given, must match. */
static ms_status check_existing(nq_queue *q, const char *name, const char *subj, int is_main,
                                const jsStreamInfo *si, ms_error *err)
{
    int has = 0;
    for (int i = 0; i < si->Config->SubjectsLen; i++)
        has |= strcmp(si->Config->Subjects[i], subj) == 0;
    if (!has)
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: the JetStream stream '%s' exists but does not capture the "
                       "subject '%s' mlship publishes to",
                       q->base.cfg.shown, name, subj);
    if (is_main && q->retention_given && si->Config->Retention != q->retention)
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: the stream '%s' exists with retention %s, the URL asks for %s "
                       "(JetStream cannot change it; delete the stream or drop ?retention)",
                       q->base.cfg.shown, name, retention_name(si->Config->Retention),
                       retention_name(q->retention));
    return MS_OK;
}

/* The stream exists (created when missing: file storage, AllowDirect; the URL's stream with
 * the URL's retention, others with limits) and, when maxlen > 0, keeps at most maxlen. */
static ms_status ensure_stream(nq_queue *q, const char *name, int64_t maxlen, ms_error *err)
{
    int k = known_index(q, name);
    if (k >= 0 && (maxlen == 0 || q->known[k].maxlen == maxlen)) return MS_OK;
    ms_status st = check_js_name(q, "stream", name, err);
    if (st != MS_OK) return st;
    char subj[QU_NAME_MAX];
    subject_of(name, subj);
    int is_main = strcmp(name, q->base.cfg.stream) == 0;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, q->js, name, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        const char *subjects[] = {subj};
        jsStreamConfig c;
        jsStreamConfig_Init(&c);
        c.Name = name;
        c.Subjects = subjects;
        c.SubjectsLen = 1;
        c.Storage = js_FileStorage;
        c.Retention = is_main ? q->retention : js_LimitsPolicy;
        c.MaxMsgs = maxlen > 0 ? maxlen : -1;
        c.Discard = js_DiscardOld;
        c.AllowDirect = true;
        jerr = 0;
        s = js_AddStream(&si, q->js, &c, NULL, &jerr);
        if (s != NATS_OK && jerr == JSStreamNameExistErr) /* another process was first */
            s = js_GetStreamInfo(&si, q->js, name, NULL, &jerr);
        if (s != NATS_OK) return nq_fail(q, err, "creating the stream", name, s, jerr);
    } else if (s != NATS_OK) {
        return nq_fail(q, err, "stream info", name, s, jerr);
    }
    st = check_existing(q, name, subj, is_main, si, err);
    if (st == MS_OK && maxlen > 0 && si->Config->MaxMsgs != maxlen) {
        jsStreamInfo *up = NULL;
        si->Config->MaxMsgs = maxlen;
        si->Config->Discard = js_DiscardOld;
        s = js_UpdateStream(&up, q->js, si->Config, NULL, &jerr);
        jsStreamInfo_Destroy(up);
        if (s != NATS_OK) st = nq_fail(q, err, "setting the stream's MaxMsgs", name, s, jerr);
    }
    jsStreamInfo_Destroy(si);
    if (st == MS_OK) remember(q, name, maxlen > 0 ? maxlen : (k >= 0 ? q->known[k].maxlen : 0));
    return st;
}

/* The durable consumer of the group with this reader's lease: created when missing, its
 * AckWait updated when another lease is asked for (the last reader to start sets it), and a
 * pull subscription bound to it. */
static ms_status ensure_sub(nq_queue *q, ms_error *err)
{
    if (q->sub) return MS_OK;
    const qu_cfg *c = &q->base.cfg;
    ms_status st = ensure_stream(q, c->stream, 0, err);
    if (st != MS_OK) return st;
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = c->group;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = c->lease_ms * 1000000; /* ns */
    cc.MaxDeliver = -1;  /* the read dead-letters by count itself: never stuck unacked */
    cc.MaxAckPending = MAX_ACK_PENDING;
    cc.FilterSubject = q->subject;
    cc.DeliverPolicy = js_DeliverAll;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, q->js, c->stream, c->group, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
        jerr = 0;
        s = js_AddConsumer(&ci, q->js, c->stream, &cc, NULL, &jerr);
        if (s != NATS_OK && (jerr == JSConsumerWQConsumerNotUniqueErr ||
                             jerr == JSConsumerWQMultipleUnfilteredErr))
            return bs_fail(err, MS_ERR_INVALID,
                           "queue %s: stream '%s' is a work queue and has another group "
                           "already; a work-queue stream serves one group (create the stream "
                           "with ?retention=limits for several)",
                           c->shown, c->stream);
    } else if (s == NATS_OK && ci->Config->AckWait != cc.AckWait) {
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        s = js_UpdateConsumer(&ci, q->js, c->stream, &cc, NULL, &jerr);
    }
    jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK) return nq_fail(q, err, "creating the consumer", c->stream, s, jerr);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = c->stream;
    so.Consumer = c->group;
    s = js_PullSubscribe(&q->sub, q->js, q->subject, c->group, NULL, &so, &jerr);
    if (s != NATS_OK) return nq_fail(q, err, "binding to the consumer", c->stream, s, jerr);
    return MS_OK;
}

/* ==== open / close ====================================================================== */

static void pub_acked(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *closure);

static void ack_barrier(nq_queue *q);

static void nq_close(qu_queue *base)
{
    nq_queue *q = (nq_queue *)base;
    if (q->nc && natsConnection_Status(q->nc) == NATS_CONN_STATUS_CONNECTED) ack_barrier(q);
    if (q->replies) natsSubscription_Destroy(q->replies);
    natsInbox_Destroy(q->inbox);
    for (size_t i = 0; i < q->nheld; i++) natsMsg_Destroy(q->held[i].m);
    free(q->held);
    if (q->sub) natsSubscription_Destroy(q->sub); /* the durable consumer stays */
    jsCtx_Destroy(q->js);
    natsConnection_Destroy(q->nc);
    pthread_mutex_destroy(&q->pub.mu);
    free(q);
}

/* ?retention=workqueue|limits; anything else is refused. */
static ms_status parse_query(nq_queue *q, const char *query, ms_error *err)
{
    q->retention = js_WorkQueuePolicy;
    if (!query || !*query) return MS_OK;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", query);
    for (char *save = NULL, *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        if (strcmp(kv, "retention=workqueue") == 0) q->retention = js_WorkQueuePolicy;
        else if (strcmp(kv, "retention=limits") == 0) q->retention = js_LimitsPolicy;
        else
            return bs_fail(err, MS_ERR_INVALID,
                           "queue %s: unknown or bad parameter '%s' (a nats:// queue takes "
                           "retention=workqueue or retention=limits)",
                           q->base.cfg.shown, kv);
        q->retention_given = 1;
    }
    return MS_OK;
}

static ms_status connect_to(nq_queue *q, const bs_url *u, ms_error *err)
{
    static int opened; /* nats_Open once per process (libnats keeps it until nats_Close) */
    if (!opened && nats_Open(-1) == NATS_OK) opened = 1;
    char url[512], name[QU_NAME_MAX + 16];
    snprintf(url, sizeof url, "nats://%s:%d", u->host, u->port);
    snprintf(name, sizeof name, "mlship %s", q->base.cfg.consumer);
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_SetURL(o, url);
    if (s == NATS_OK) s = natsOptions_SetName(o, name);
    if (s == NATS_OK && (u->user || u->password))
        s = natsOptions_SetUserInfo(o, u->user ? u->user : "", u->password ? u->password : "");
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, API_WAIT_MS);
    /* a restarted server is found again by the library; calls fail meanwhile and say so */
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, 250);
    if (s == NATS_OK) s = natsConnection_Connect(&q->nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK)
        return bs_fail(err, MS_ERR_RUNTIME, "cannot connect to queue %s: %s", q->base.cfg.shown,
                       natsStatus_GetText(s));
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = API_WAIT_MS;
    jo.PublishAsync.MaxPending = 4096;
    jo.PublishAsync.StallWait = API_WAIT_MS;
    jo.PublishAsync.AckHandler = pub_acked;
    jo.PublishAsync.AckHandlerClosure = q;
    s = natsConnection_JetStream(&q->js, q->nc, &jo);
    if (s == NATS_OK) s = natsInbox_Create(&q->inbox);
    if (s == NATS_OK) s = natsConnection_SubscribeSync(&q->replies, q->nc, q->inbox);
    if (s != NATS_OK)
        return bs_fail(err, MS_ERR_RUNTIME, "queue %s: JetStream context: %s", q->base.cfg.shown,
                       natsStatus_GetText(s));
    return MS_OK;
}

static ms_status nq_open(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    nq_queue *q = calloc(1, sizeof *q);
    if (!q) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    q->base.ops = &qu_nats_ops;
    q->base.cfg = *cfg;
    pthread_mutex_init(&q->pub.mu, NULL);
    subject_of(cfg->stream, q->subject);
    ms_status st = parse_query(q, u->query, err);
    if (st == MS_OK) st = check_js_name(q, "stream", cfg->stream, err);
    if (st == MS_OK) st = check_js_name(q, "dead-letter stream", cfg->dead, err);
    if (st == MS_OK) st = check_js_name(q, "group", cfg->group, err);
    if (st == MS_OK) st = connect_to(q, u, err);
    if (st == MS_OK) st = ensure_stream(q, cfg->stream, 0, err);
    if (st != MS_OK) {
        nq_close(&q->base);
        return st;
    }
    *out = &q->base;
    return MS_OK;
}

/* ==== producing ========================================================================= */

/* libnats thread: record the PubAck of one of the current send's messages. */
static void pub_acked(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    nq_pub *p = &((nq_queue *)closure)->pub;
    pthread_mutex_lock(&p->mu);
    size_t i = p->cursor; /* PubAcks come in order: the search is usually one step */
    for (size_t k = 0; k < p->n && p->msgs[i] != m; k++) i = i + 1 == p->n ? 0 : i + 1;
    if (p->n && p->msgs[i] == m) {
        p->msgs[i] = NULL;
        p->cursor = i + 1 == p->n ? 0 : i + 1;
        if (pa) {
            p->seq[i] = pa->Sequence, p->acked++;
        } else {
            p->failed++;
            if (!p->why[0])
                snprintf(p->why, sizeof p->why, "%s",
                         pae && pae->ErrText ? pae->ErrText
                                             : natsStatus_GetText(pae ? pae->Err : NATS_ERR));
        }
    }
    pthread_mutex_unlock(&p->mu);
    natsMsg_Destroy(m);
}

/* The value of field "id", NUL-terminated into buf, or NULL. */
static const char *event_id(const qu_field *f, int nf, char *buf, size_t cap)
{
    for (int i = nf - 1; i >= 0; i--)
        if (f[i].name_len == 2 && memcmp(f[i].name, "id", 2) == 0 && f[i].val_len > 0 &&
            f[i].val_len < cap && !memchr(f[i].val, 0, f[i].val_len) &&
            !memchr(f[i].val, '\r', f[i].val_len) && !memchr(f[i].val, '\n', f[i].val_len)) {
            memcpy(buf, f[i].val, f[i].val_len);
            buf[f[i].val_len] = 0;
            return buf;
        }
    return NULL;
}

/* Publish n messages to stream `name` and wait for their PubAcks. msgids[i] (may be NULL, or
 * hold NULLs) overrides the Nats-Msg-Id taken from the "id" field. */
static ms_status publish(nq_queue *q, const char *name, const qu_field *const *msgs,
                         const int *nfields, size_t n, const char *const *msgids,
                         char (*ids)[QU_ID_MAX], ms_error *err)
{
    char subj[QU_NAME_MAX];
    subject_of(name, subj);
    nq_pub *p = &q->pub;
    natsMsg **tab = calloc(n, sizeof *tab);
    uint64_t *seq = calloc(n, sizeof *seq);
    if (!tab || !seq) {
        free(tab), free(seq);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    pthread_mutex_lock(&p->mu);
    p->msgs = tab, p->seq = seq, p->n = n, p->cursor = p->acked = p->failed = 0, p->why[0] = 0;
    pthread_mutex_unlock(&p->mu);
    ms_status st = MS_OK;
    natsStatus s = NATS_OK;
    size_t sent = 0;
    qu_sb body = {0};
    for (; sent < n && s == NATS_OK; sent++) {
        body.len = 0;
        qu_body_encode(&body, msgs[sent], nfields[sent]);
        if (body.oom) {
            st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            break;
        }
        char idbuf[256];
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.ExpectStream = name;
        po.MsgId = msgids && msgids[sent] ? msgids[sent]
                                          : event_id(msgs[sent], nfields[sent], idbuf, sizeof idbuf);
        natsMsg *m = NULL;
        s = natsMsg_Create(&m, subj, NULL, body.p, (int)body.len);
        if (s != NATS_OK) break;
        pthread_mutex_lock(&p->mu);
        tab[sent] = m; /* before the publish: its PubAck may come at once */
        pthread_mutex_unlock(&p->mu);
        natsMsg *own = m;
        s = js_PublishMsgAsync(q->js, &own, &po);
        if (s != NATS_OK) { /* not taken: the library did not publish it */
            pthread_mutex_lock(&p->mu);
            tab[sent] = NULL;
            pthread_mutex_unlock(&p->mu);
            natsMsg_Destroy(own);
        }
    }
    qu_sb_free(&body);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = API_WAIT_MS;
    natsStatus cs = js_PublishAsyncComplete(q->js, &po);
    if (cs != NATS_OK) { /* PubAcks missing: take the messages back, they may be stored */
        natsMsgList pend = {0};
        if (js_PublishAsyncGetPendingList(&pend, q->js) == NATS_OK) natsMsgList_Destroy(&pend);
    }
    pthread_mutex_lock(&p->mu);
    size_t acked = p->acked, failed = p->failed;
    char why[200];
    snprintf(why, sizeof why, "%s", p->why);
    p->msgs = NULL, p->seq = NULL, p->n = 0;
    pthread_mutex_unlock(&p->mu);
    if (st == MS_OK && (s != NATS_OK || cs != NATS_OK || failed || acked < n))
        st = bs_fail(err, MS_ERR_RUNTIME,
                     "queue %s (stream %s): send: %zu of %zu messages stored, %zu refused%s%s, "
                     "%zu unanswered (%s); those may have been stored: send again, the "
                     "Nats-Msg-Id makes a repeat within the duplicate window harmless",
                     q->base.cfg.shown, name, acked, n, failed, why[0] ? ": " : "", why,
                     n - acked - failed, natsStatus_GetText(s != NATS_OK ? s : cs));
    for (size_t i = 0; ids && i < n; i++)
        if (seq[i]) snprintf(ids[i], QU_ID_MAX, "%llu", (unsigned long long)seq[i]);
        else ids[i][0] = 0;
    free(tab), free(seq);
    return st;
}

static ms_status nq_send(qu_queue *base, const char *stream, const qu_field *const *msgs,
                         const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                         ms_error *err)
{
    nq_queue *q = (nq_queue *)base;
    ms_status st = ensure_stream(q, stream, maxlen, err);
    return st == MS_OK ? publish(q, stream, msgs, nfields, n, NULL, ids, err) : st;
}

/* ==== dead letters ====================================================================== */

/* Publish m with reason to the dead stream, then ack it (when held). A crash between the two
 * delivers m again; its second dead letter carries the same Nats-Msg-Id and is dropped. */
static ms_status dead_letter(nq_queue *q, const qu_msg *m, uint64_t seq, const char *reason,
                             ms_error *err)
{
    ms_status st = ensure_stream(q, q->base.cfg.dead, 0, err);
    if (st != MS_OK) return st;
    qu_field *f = malloc(((size_t)m->nfields + 3) * sizeof *f);
    if (!f) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    char num[QU_ID_MAX], msgid[QU_NAME_MAX + 32];
    int nf = qu_dead_fields(m, reason, num, f);
    snprintf(msgid, sizeof msgid, "%s:%llu", q->base.cfg.stream, (unsigned long long)seq);
    const qu_field *rows[] = {f};
    const char *mids[] = {msgid};
    st = publish(q, q->base.cfg.dead, rows, &nf, 1, mids, NULL, err);
    free(f);
    nq_held *h = st == MS_OK ? held_find(q, seq) : NULL;
    if (h) {
        natsMsg_Ack(h->m, NULL);
        held_drop(q, (size_t)(h - q->held));
    }
    return st;
}

static ms_status nq_dead(qu_queue *base, const qu_msg *m, const char *reason, ms_error *err)
{
    nq_queue *q = (nq_queue *)base;
    uint64_t seq;
    ms_status st = check_id(q, m->id, &seq, err);
    return st == MS_OK ? dead_letter(q, m, seq, reason, err) : st;
}

/* ==== consuming ========================================================================= */

/* One delivery into b (it becomes held), or dead-lettered when past max_deliveries or its
 * body is not ours. */
static ms_status take(nq_queue *q, natsMsg *nm, qu_batch *b, ms_error *err)
{
    jsMsgMetaData *md = NULL;
    if (natsMsg_GetMetaData(&md, nm) != NATS_OK) { /* not a JetStream delivery: ignore it */
        natsMsg_Destroy(nm);
        return MS_OK;
    }
    uint64_t seq = md->Sequence.Stream;
    int64_t deliveries = (int64_t)md->NumDelivered, enq = md->Timestamp / 1000000;
    jsMsgMetaData_Destroy(md);
    held_put(q, seq, nm);
    qu_msg *m = NULL;
    ms_error derr = {{0}};
    const char *data = natsMsg_GetData(nm);
    size_t len = (size_t)natsMsg_GetDataLength(nm);
    ms_status ds = qu_body_decode(data ? data : "", len, b, &m, &derr);
    if (ds != MS_OK && ds != MS_ERR_INVALID)
        return bs_fail(err, ds, "queue %s: message %llu: %s", q->base.cfg.shown,
                       (unsigned long long)seq, derr.msg);
    int past = deliveries > q->base.cfg.max_deliveries;
    if (ds == MS_OK && !past) {
        snprintf(m->id, QU_ID_MAX, "%llu", (unsigned long long)seq);
        m->order = (int64_t)seq, m->enq_ms = enq, m->deliveries = deliveries;
        return MS_OK;
    }
    /* dead-letter it: past the count (m is b's last message), or a body that is not ours */
    qu_batch tmp = {0};
    char reason[600];
    if (ds != MS_OK) {
        qu_field f = {"body", 4, data ? data : "", len};
        if (!(m = qu_batch_add(&tmp, &f, 1))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        snprintf(reason, sizeof reason, "%s", derr.msg);
    } else {
        deliveries--; /* this delivery will not be worked on */
        snprintf(reason, sizeof reason, "delivered %lld time%s", (long long)deliveries,
                 deliveries == 1 ? "" : "s");
    }
    snprintf(m->id, QU_ID_MAX, "%llu", (unsigned long long)seq);
    m->deliveries = deliveries;
    ms_status st = dead_letter(q, m, seq, reason, err);
    if (ds == MS_OK) free(b->msgs[--b->n].fields);
    qu_batch_free(&tmp);
    return st;
}

/* 1 for the statuses that mean "no messages now" rather than a failure. */
static int no_messages(natsStatus s) { return s == NATS_TIMEOUT || s == NATS_NOT_FOUND; }

/* A pull of up to max. no_wait: the server returns as soon as it has any messages (2.9's
 * no_wait with expires), else after wait_ms; without it, it waits for all max of them. libnats
 * also uses wait_ms as its own deadline, so it cannot be 0. */
static ms_status fetch(nq_queue *q, size_t max, int wait_ms, int no_wait, qu_batch *b,
                       ms_error *err)
{
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = (int)max;
    req.Expires = (int64_t)wait_ms * 1000000; /* ns */
    req.NoWait = no_wait != 0;
    natsMsgList list = {0};
    natsStatus s = natsSubscription_FetchRequest(&list, q->sub, &req);
    if (s != NATS_OK && !no_messages(s))
        return nq_fail(q, err, "fetch", q->base.cfg.stream, s, 0);
    ms_status st = MS_OK;
    for (int i = 0; i < list.Count; i++) {
        natsMsg *m = list.Msgs[i];
        list.Msgs[i] = NULL;
        if (st == MS_OK) st = take(q, m, b, err);
        else natsMsg_Destroy(m); /* not acked: delivered again after the lease */
    }
    natsMsgList_Destroy(&list);
    return st;
}

/* How long a read with block_ms 0 waits on an empty stream: the server answers a pull at once
 * only when messages are there (or with no expiry at all, which libnats cannot wait for). */
#define POLL_MS 20

static ms_status nq_read(qu_queue *base, size_t max, int block_ms, qu_batch *b, ms_error *err)
{
    nq_queue *q = (nq_queue *)base;
    ms_status st = ensure_sub(q, err);
    if (st != MS_OK) return st;
    held_expire(q);
    uint64_t end = bs_now_ns() + (uint64_t)block_ms * 1000000u;
    st = fetch(q, max, block_ms > 0 ? block_ms : POLL_MS, 1, b, err);
    /* Back early with nothing (the server had other pulls waiting, or every delivery was
     * dead-lettered): wait for one, then take what else is there. */
    while (st == MS_OK && b->n == 0 && block_ms > 0) {
        uint64_t now = bs_now_ns();
        int left = now < end ? (int)((end - now) / 1000000u) : 0;
        if (left < 1) break;
        st = fetch(q, 1, left, 0, b, err);
        if (st == MS_OK && b->n > 0 && max > 1) st = fetch(q, max - 1, POLL_MS, 1, b, err);
    }
    return st;
}

/* Take the replies to our acks that have come, waiting up to wait_ms for the rest. */
static void ack_replies(nq_queue *q, int64_t wait_ms)
{
    while (q->barriers > 0) {
        int queued = 0, bytes = 0;
        if (wait_ms <= 0 && (natsSubscription_GetPending(q->replies, &queued, &bytes) != NATS_OK ||
                             queued == 0))
            return; /* none in yet: not waited for */
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, q->replies, wait_ms > 0 ? wait_ms : 1);
        if (s != NATS_OK) {
            if (wait_ms > 0) q->barriers = 0; /* lost (a reconnect): counts may lag, no more */
            return;
        }
        natsMsg_Destroy(m);
        q->barriers--;
    }
}

/* Until the server has applied this handle's acks (sent without waiting): before status
 * counts them, and before close. */
static void ack_barrier(nq_queue *q) { ack_replies(q, API_WAIT_MS); }

/* Apply op to the held deliveries named by ids: 0 ack, 1 nak (delay_ms), 2 in progress. */
static ms_status settle(nq_queue *q, const char *const *ids, size_t n, int op, int64_t delay_ms,
                        ms_error *err)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        ms_status st = check_id(q, ids[i], &seq, err);
        if (st != MS_OK) return st;
    }
    natsStatus s = NATS_OK;
    uint64_t until = bs_now_ns() + (uint64_t)q->base.cfg.lease_ms * 1000000u;
    natsMsg *last = NULL; /* the last ack, sent with a reply awaited */
    for (size_t i = 0; i < n && s == NATS_OK; i++) {
        uint64_t seq;
        parse_seq(ids[i], &seq);
        nq_held *h = held_find(q, seq);
        if (!h) continue; /* acked already, or its lease passed to another reader */
        if (op == 2) {
            s = natsMsg_InProgress(h->m, NULL);
            h->until = until;
            continue;
        }
        if (op == 0 && last) s = natsMsg_Ack(last, NULL);
        natsMsg_Destroy(last);
        last = NULL;
        if (op == 0) last = h->m, h->m = NULL;
        else s = natsMsg_NakWithDelay(h->m, delay_ms, NULL);
        held_drop(q, (size_t)(h - q->held));
    }
    /* The last ack asks for a reply, which is not awaited here (a round trip per batch cost a
     * fifth of the worker's rate) but by ack_barrier: the server takes one connection's acks in
     * order, so the reply says every ack before it is applied. */
    if (last && s == NATS_OK) {
        const char *reply = natsMsg_GetReply(last);
        s = reply ? natsConnection_PublishRequestString(q->nc, reply, q->inbox, "+ACK")
                  : natsMsg_Ack(last, NULL);
        if (s == NATS_OK && reply) q->barriers++;
    }
    natsMsg_Destroy(last);
    ack_replies(q, 0);
    static const char *const what[] = {"ack", "nak", "in progress"};
    return s == NATS_OK ? MS_OK : nq_fail(q, err, what[op], q->base.cfg.stream, s, 0);
}

static ms_status nq_ack(qu_queue *base, const char *const *ids, size_t n, ms_error *err)
{
    return settle((nq_queue *)base, ids, n, 0, 0, err);
}

static ms_status nq_nak(qu_queue *base, const char *const *ids, size_t n, int64_t delay_ms,
                        ms_error *err)
{
    return settle((nq_queue *)base, ids, n, 1, delay_ms, err);
}

static ms_status nq_touch(qu_queue *base, const char *const *ids, size_t n, ms_error *err)
{
    return settle((nq_queue *)base, ids, n, 2, 0, err);
}

/* ==== status and range ================================================================== */

/* The first message of stream `name` with a sequence >= from (direct get, next by subject):
 * *out NULL when there is none. */
static ms_status get_from(nq_queue *q, const char *name, uint64_t from, natsMsg **out,
                          ms_error *err)
{
    char subj[QU_NAME_MAX];
    subject_of(name, subj);
    jsDirectGetMsgOptions o;
    jsDirectGetMsgOptions_Init(&o);
    o.Sequence = from;
    o.NextBySubject = subj;
    *out = NULL;
    natsStatus s = js_DirectGetMsg(out, q->js, name, NULL, &o);
    if (s == NATS_NOT_FOUND) return MS_OK;
    return s == NATS_OK ? MS_OK : nq_fail(q, err, "direct get", name, s, 0);
}

/* Messages in stream `name`; 0 for a stream not there (yet). */
static ms_status stream_msgs(nq_queue *q, const char *name, int64_t *n, ms_error *err)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, q->js, name, NULL, &jerr);
    *n = 0;
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return MS_OK;
    if (s != NATS_OK) return nq_fail(q, err, "stream info", name, s, jerr);
    *n = (int64_t)si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return MS_OK;
}

static ms_status nq_status(qu_queue *base, qu_stats *st, ms_error *err)
{
    nq_queue *q = (nq_queue *)base;
    const qu_cfg *c = &base->cfg;
    ack_barrier(q);
    ms_status rs = stream_msgs(q, c->stream, &st->length, err);
    if (rs == MS_OK) rs = stream_msgs(q, c->dead, &st->dead, err);
    if (rs != MS_OK) return rs;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, q->js, c->stream, c->group, NULL, &jerr);
    uint64_t floor = 0;
    if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
        st->lag = st->length; /* no reader yet: nothing delivered */
    } else if (s != NATS_OK) {
        return nq_fail(q, err, "consumer info", c->stream, s, jerr);
    } else {
        st->pending = ci->NumAckPending;
        st->lag = (int64_t)ci->NumPending;
        floor = ci->AckFloor.Stream;
        st->consumers = calloc(1, sizeof *st->consumers);
        if (st->consumers) { /* JetStream knows the durable, not the readers sharing it */
            qu_consumer_stat *cs = &st->consumers[st->nconsumers++];
            snprintf(cs->name, sizeof cs->name, "%s", c->group);
            cs->pending = ci->NumAckPending;
            int64_t last = ci->Delivered.Last / 1000000, now = wall_ms();
            cs->idle_ms = last > 0 && now > last ? now - last : 0;
        }
        jsConsumerInfo_Destroy(ci);
    }
    natsMsg *m = NULL;
    rs = st->length ? get_from(q, c->stream, floor + 1, &m, err) : MS_OK;
    if (m) {
        int64_t t = natsMsg_GetTime(m) / 1000000, now = wall_ms();
        st->oldest_age_ms = t > 0 && now > t ? now - t : 0;
        natsMsg_Destroy(m);
    }
    return rs;
}

static ms_status nq_range(qu_queue *base, const char *stream, const char *after, size_t max,
                          qu_batch *b, ms_error *err)
{
    nq_queue *q = (nq_queue *)base;
    uint64_t from = 1;
    ms_status st = MS_OK;
    if (*after) {
        if ((st = check_id(q, after, &from, err)) != MS_OK) return st;
        from++;
    }
    if ((st = check_js_name(q, "stream", stream, err)) != MS_OK) return st;
    int64_t n = 0;
    if ((st = stream_msgs(q, stream, &n, err)) != MS_OK || n == 0) return st;
    while (b->n < max && st == MS_OK) {
        natsMsg *nm = NULL;
        if ((st = get_from(q, stream, from, &nm, err)) != MS_OK || !nm) break;
        uint64_t seq = natsMsg_GetSequence(nm);
        qu_msg *m = NULL;
        ms_error derr = {{0}};
        const char *data = natsMsg_GetData(nm);
        size_t len = (size_t)natsMsg_GetDataLength(nm);
        ms_status ds = qu_body_decode(data ? data : "", len, b, &m, &derr);
        if (ds == MS_ERR_INVALID) { /* a foreign message: shown as its body */
            qu_field f = {"body", 4, data ? data : "", len};
            m = qu_batch_add(b, &f, 1);
            ds = m ? MS_OK : MS_ERR_RUNTIME;
        }
        if (ds == MS_OK) {
            snprintf(m->id, QU_ID_MAX, "%llu", (unsigned long long)seq);
            m->order = (int64_t)seq, m->enq_ms = natsMsg_GetTime(nm) / 1000000;
        } else {
            st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        }
        natsMsg_Destroy(nm);
        if (seq < from) break; /* a server that ignored the sequence: do not loop */
        from = seq + 1;
    }
    return st;
}

const qu_backend_ops qu_nats_ops = {
    .version = QU_OPS_VERSION,
    .name = "nats",
    .caps = QU_CAP_BLOCKING | QU_CAP_MULTI_HOST | QU_CAP_REPLAY | QU_CAP_TRIM,
    .open = nq_open,
    .close = nq_close,
    .send = nq_send,
    .read = nq_read,
    .ack = nq_ack,
    .dead = nq_dead,
    .status = nq_status,
    .range = nq_range,
    .nak = nq_nak,
    .touch = nq_touch,
};

#endif
