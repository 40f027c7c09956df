/* queue.c: opening a queue by URL, checking every name, option and argument once for all
 * backends, and the helpers the backends share (batches, dead-letter fields). The backends
 * live in queue_<name>.c; their table is queue_int.h's qu_backend_ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue_int.h"

#include "base/bs_name.h"

#define QU_READ_MAX 100000          /* more per read is a bug in the caller, not a batch */
#define QU_LEASE_MAX (86400000LL * 7) /* a week: longer is surely a unit mistake */

/* Backends may write err->msg unconditionally: a NULL err (allowed by queue.h's callers) is
 * replaced by a scratch one. */
#define ERR_OR_SCRATCH(err) \
    ms_error scratch_err_; \
    if (!(err)) (err) = &scratch_err_

/* ==== helpers =========================================================================== */

ms_status qu_not_built(ms_error *err, const char *what, const char *knob, const char *pkg)
{
    return bs_fail(err, MS_ERR_UNSUPPORTED,
                   "mlship was built without %s support (rebuild with 'make %s=1' after "
                   "installing %s)",
                   what, knob, pkg);
}

qu_msg *qu_batch_add(qu_batch *b, const qu_field *fields, int nfields)
{
    /* capacity: 8, then the next power of two (implicit in n, so a batch is just n + msgs) */
    if (b->n == 0 || (b->n >= 8 && (b->n & (b->n - 1)) == 0)) {
        qu_msg *m = realloc(b->msgs, (b->n ? b->n * 2 : 8) * sizeof *m);
        if (!m) return NULL;
        b->msgs = m;
    }
    size_t bytes = (size_t)nfields * sizeof(qu_field);
    for (int i = 0; i < nfields; i++) bytes += fields[i].name_len + fields[i].val_len + 2;
    qu_field *f = malloc(bytes ? bytes : 1);
    if (!f) return NULL;
    char *p = (char *)(f + nfields);
    for (int i = 0; i < nfields; i++) {
        f[i].name = p, f[i].name_len = fields[i].name_len;
        if (fields[i].name_len) memcpy(p, fields[i].name, fields[i].name_len);
        p += fields[i].name_len, *p++ = 0;
        f[i].val = p, f[i].val_len = fields[i].val_len;
        if (fields[i].val_len) memcpy(p, fields[i].val, fields[i].val_len);
        p += fields[i].val_len, *p++ = 0;
    }
    qu_msg *m = &b->msgs[b->n++];
    memset(m, 0, sizeof *m);
    m->nfields = nfields;
    m->fields = f;
    return m;
}

void qu_batch_free(qu_batch *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) free(b->msgs[i].fields);
    free(b->msgs);
    memset(b, 0, sizeof *b);
}

static qu_field field_str(const char *name, const char *val)
{
    return (qu_field){name, strlen(name), val, strlen(val)};
}

int qu_dead_fields(const qu_msg *m, const char *reason, char num[QU_ID_MAX], qu_field *out)
{
    for (int i = 0; i < m->nfields; i++) out[i] = m->fields[i];
    snprintf(num, QU_ID_MAX, "%lld", (long long)m->deliveries);
    out[m->nfields] = field_str("reason", reason);
    out[m->nfields + 1] = field_str("deliveries", num);
    out[m->nfields + 2] = field_str("source_id", m->id);
    return m->nfields + 3;
}

/* ==== opening =========================================================================== */

qu_opts qu_opts_default(void)
{
    return (qu_opts){.lease_ms = 30000, .max_deliveries = 5};
}

/* The URL with the password of redis://user:pw@host (nats://, mqtt:// too) replaced by "***". */
static char *url_shown(const char *url)
{
    size_t n = strlen(url);
    char *s = malloc(n + 4);
    if (!s) return NULL;
    memcpy(s, url, n + 1);
    size_t skip = strncmp(url, "redis://", 8) == 0 ? 8 : strncmp(url, "nats://", 7) == 0 ? 7
                : strncmp(url, "mqtt://", 7) == 0 ? 7 : 0;
    if (!skip) return s;
    const char *auth = url + skip, *end = auth + strcspn(auth, "/?#"), *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@') at = p;
    if (!at) return s;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    const char *from = colon ? colon + 1 : auth; /* redis://secret@h is a password alone */
    size_t keep = (size_t)(from - url);
    memcpy(s + keep, "***", 3);
    memcpy(s + keep + 3, at, strlen(at) + 1);
    return s;
}

/* "<hostname>-<pid>", with any character a name may not hold replaced by '-'. */
static void default_consumer(char dst[QU_NAME_MAX])
{
    char host[64] = "host";
    if (gethostname(host, sizeof host) != 0 || !host[0]) strcpy(host, "host");
    host[sizeof host - 1] = 0;
    snprintf(dst, QU_NAME_MAX, "%s-%ld", host, (long)getpid());
    for (char *p = dst; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == ':' || *p == '-'))
            *p = '-';
}

static ms_status set_name(char dst[QU_NAME_MAX], const char *what, const char *name,
                          const char *shown, ms_error *err)
{
    ms_status st = bs_check_name(what, name, err);
    if (st != MS_OK) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (queue %s)", shown);
        return st;
    }
    snprintf(dst, QU_NAME_MAX, "%s", name);
    return MS_OK;
}

static ms_status make_cfg(const bs_url *u, const qu_opts *o, const char *shown, qu_cfg *c,
                          ms_error *err)
{
    memset(c, 0, sizeof *c);
    c->shown = shown;
    ms_status st = set_name(c->stream, "stream", u->stream, shown, err);
    if (st == MS_OK) st = set_name(c->group, "group", o->group ? o->group : "mlship", shown, err);
    if (st != MS_OK) return st;
    if (o->consumer) st = set_name(c->consumer, "consumer", o->consumer, shown, err);
    else default_consumer(c->consumer);
    if (st != MS_OK) return st;
    if (o->dead) {
        st = set_name(c->dead, "dead-letter stream", o->dead, shown, err);
    } else {
        char dead[QU_NAME_MAX + 8];
        snprintf(dead, sizeof dead, "%s:dead", c->stream);
        st = set_name(c->dead, "dead-letter stream", dead, shown, err);
    }
    if (st != MS_OK) return st;
    if (strcmp(c->dead, c->stream) == 0)
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: the dead-letter stream cannot be the stream itself ('%s')",
                       shown, c->stream);
    if (o->lease_ms < 1 || o->lease_ms > QU_LEASE_MAX)
        return bs_fail(err, MS_ERR_INVALID,
                       "queue %s: lease_ms %lld out of range (1 to %lld ms)", shown,
                       (long long)o->lease_ms, (long long)QU_LEASE_MAX);
    if (o->max_deliveries < 1)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: max_deliveries %d must be at least 1",
                       shown, o->max_deliveries);
    if (o->partitions < 0 || o->partitions > BS_URL_PARTITIONS_MAX)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: partitions %d out of range (1 to %d)",
                       shown, o->partitions, BS_URL_PARTITIONS_MAX);
    c->lease_ms = o->lease_ms;
    c->max_deliveries = o->max_deliveries;
    c->partitions = o->partitions;
    return MS_OK;
}

ms_status qu_open(const char *url, const qu_opts *o, qu_queue **out, ms_error *err)
{
    ERR_OR_SCRATCH(err);
    *out = NULL;
    qu_opts def = qu_opts_default();
    if (!o) o = &def;
    bs_url u;
    ms_status st = bs_url_parse_queue(url, &u, err);
    if (st != MS_OK) return st;
    char *shown = url_shown(url);
    if (!shown) {
        bs_url_free(&u);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    static const qu_backend_ops *const by_scheme[] = {[BS_URL_SQLITE] = &qu_sqlite_ops,
                                                      [BS_URL_REDIS] = &qu_redis_ops,
                                                      [BS_URL_NATS] = &qu_nats_ops,
                                                      [BS_URL_KAFKA] = &qu_kafka_ops,
                                                      [BS_URL_MQTT] = &qu_mqtt_ops};
    const qu_backend_ops *ops = by_scheme[u.scheme];
    int parted = u.nhosts > 1 || u.partitions > 1 || o->partitions > 1;
    if (parted && u.scheme == BS_URL_REDIS) ops = &qu_part_ops; /* docs/partitions.md */
    qu_cfg cfg;
    st = make_cfg(&u, o, shown, &cfg, err);
    if (st == MS_OK && parted && u.scheme != BS_URL_REDIS)
        st = bs_fail(err, MS_ERR_INVALID,
                     "queue %s: partitions need a redis:// queue (the %s queue has none)", shown,
                     ops->name);
    if (st == MS_OK && ops->version != QU_OPS_VERSION)
        st = bs_fail(err, MS_ERR_RUNTIME, "queue backend %s has table version %d, expected %d",
                     ops->name, ops->version, QU_OPS_VERSION);
    if (st == MS_OK) st = ops->open(&u, &cfg, out, err);
    bs_url_free(&u);
    if (st != MS_OK) free(shown);
    return st;
}

void qu_close(qu_queue *q)
{
    if (!q) return;
    char *shown = (char *)q->cfg.shown;
    q->ops->close(q);
    free(shown);
}

const char *qu_backend(const qu_queue *q) { return q->ops->name; }
const char *qu_stream(const qu_queue *q) { return q->cfg.stream; }
unsigned qu_caps(const qu_queue *q) { return q->ops->caps; }
const char *qu_url_shown(const qu_queue *q) { return q->cfg.shown; }

static ms_status unsupported(qu_queue *q, const char *what, ms_error *err)
{
    return bs_fail(err, MS_ERR_UNSUPPORTED, "the %s queue (%s) does not support %s",
                   q->ops->name, q->cfg.shown, what);
}

/* NULL: the URL's stream; else a checked name. */
static ms_status pick_stream(qu_queue *q, const char *stream, const char **out, ms_error *err)
{
    *out = stream ? stream : q->cfg.stream;
    if (!stream) return MS_OK;
    char tmp[QU_NAME_MAX];
    return set_name(tmp, "stream", stream, q->cfg.shown, err);
}

/* ==== producing and consuming ============================================================ */

static ms_status check_msgs(qu_queue *q, const qu_field *const *msgs, const int *nfields,
                            size_t n, ms_error *err)
{
    if (!msgs || !nfields)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: send without messages", q->cfg.shown);
    for (size_t i = 0; i < n; i++) {
        if (nfields[i] < 1 || !msgs[i])
            return bs_fail(err, MS_ERR_INVALID,
                           "queue %s: message %zu has no fields (a message needs at least one)",
                           q->cfg.shown, i);
        for (int f = 0; f < nfields[i]; f++) {
            const qu_field *x = &msgs[i][f];
            if ((x->name_len && !x->name) || (x->val_len && !x->val))
                return bs_fail(err, MS_ERR_INVALID,
                               "queue %s: message %zu field %d has a length but no bytes",
                               q->cfg.shown, i, f);
        }
    }
    return MS_OK;
}

ms_status qu_send(qu_queue *q, const char *stream, const qu_field *const *msgs,
                  const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                  ms_error *err)
{
    ERR_OR_SCRATCH(err);
    const char *s;
    ms_status st = pick_stream(q, stream, &s, err);
    if (st != MS_OK || n == 0) return st;
    if (maxlen < 0)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: maxlen %lld is negative", q->cfg.shown,
                       (long long)maxlen);
    if ((st = check_msgs(q, msgs, nfields, n, err)) != MS_OK) return st;
    if (!q->ops->send) return unsupported(q, "sending", err);
    return q->ops->send(q, s, msgs, nfields, n, maxlen, ids, err);
}

ms_status qu_read(qu_queue *q, size_t max, int block_ms, qu_batch *b, ms_error *err)
{
    ERR_OR_SCRATCH(err);
    memset(b, 0, sizeof *b);
    if (max < 1 || max > QU_READ_MAX)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: read of %zu messages (1 to %d)",
                       q->cfg.shown, max, QU_READ_MAX);
    if (block_ms < 0)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: block_ms %d is negative", q->cfg.shown,
                       block_ms);
    if (!q->ops->read) return unsupported(q, "reading", err);
    ms_status st = q->ops->read(q, max, block_ms, b, err);
    if (st != MS_OK) qu_batch_free(b);
    return st;
}

ms_status qu_ack_ids(qu_queue *q, const char *const *ids, size_t n, ms_error *err)
{
    ERR_OR_SCRATCH(err);
    if (n == 0) return MS_OK;
    if (!ids) return bs_fail(err, MS_ERR_INVALID, "queue %s: ack without ids", q->cfg.shown);
    for (size_t i = 0; i < n; i++)
        if (!ids[i] || !ids[i][0] || strlen(ids[i]) >= QU_ID_MAX)
            return bs_fail(err, MS_ERR_INVALID, "queue %s: ack of an empty or overlong id (#%zu)",
                           q->cfg.shown, i);
    if (!q->ops->ack) return unsupported(q, "acks", err);
    return q->ops->ack(q, ids, n, err);
}

ms_status qu_ack(qu_queue *q, const qu_batch *b, ms_error *err)
{
    if (!b || b->n == 0) return MS_OK;
    const char **ids = malloc(b->n * sizeof *ids);
    if (!ids) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < b->n; i++) ids[i] = b->msgs[i].id;
    ms_status st = qu_ack_ids(q, ids, b->n, err);
    free(ids);
    return st;
}

/* The ids of nak and touch, checked as qu_ack_ids checks them. */
static ms_status check_ids(qu_queue *q, const char *what, const char *const *ids, size_t n,
                           ms_error *err)
{
    if (n && !ids) return bs_fail(err, MS_ERR_INVALID, "queue %s: %s without ids", q->cfg.shown, what);
    for (size_t i = 0; i < n; i++)
        if (!ids[i] || !ids[i][0] || strlen(ids[i]) >= QU_ID_MAX)
            return bs_fail(err, MS_ERR_INVALID, "queue %s: %s of an empty or overlong id (#%zu)",
                           q->cfg.shown, what, i);
    return MS_OK;
}

ms_status qu_nak(qu_queue *q, const char *const *ids, size_t n, int64_t delay_ms, ms_error *err)
{
    ERR_OR_SCRATCH(err);
    ms_status st = check_ids(q, "nak", ids, n, err);
    if (st != MS_OK || n == 0) return st;
    if (delay_ms < 0 || delay_ms > QU_LEASE_MAX)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: nak delay %lld ms out of range (0 to %lld)",
                       q->cfg.shown, (long long)delay_ms, (long long)QU_LEASE_MAX);
    return q->ops->nak ? q->ops->nak(q, ids, n, delay_ms, err) : MS_OK; /* the lease will do */
}

ms_status qu_touch(qu_queue *q, const char *const *ids, size_t n, ms_error *err)
{
    ERR_OR_SCRATCH(err);
    ms_status st = check_ids(q, "touch", ids, n, err);
    if (st != MS_OK || n == 0) return st;
    return q->ops->touch ? q->ops->touch(q, ids, n, err) : MS_OK;
}

ms_status qu_dead(qu_queue *q, const qu_msg *m, const char *reason, ms_error *err)
{
    ERR_OR_SCRATCH(err);
    if (!m || !m->id[0] || m->nfields < 0 || (m->nfields && !m->fields))
        return bs_fail(err, MS_ERR_INVALID, "queue %s: dead-letter of no message", q->cfg.shown);
    if (!reason || !reason[0])
        return bs_fail(err, MS_ERR_INVALID, "queue %s: dead-letter of message %s without a reason",
                       q->cfg.shown, m->id);
    if (!q->ops->dead) return unsupported(q, "dead letters", err);
    return q->ops->dead(q, m, reason, err);
}

ms_status qu_release(qu_queue *q, const char *const *ids, size_t n, ms_error *err)
{
    ERR_OR_SCRATCH(err);
    if (n == 0) return MS_OK;
    if (!ids) return bs_fail(err, MS_ERR_INVALID, "queue %s: release without ids", q->cfg.shown);
    for (size_t i = 0; i < n; i++)
        if (!ids[i] || !ids[i][0] || strlen(ids[i]) >= QU_ID_MAX)
            return bs_fail(err, MS_ERR_INVALID,
                           "queue %s: release of an empty or overlong id (#%zu)", q->cfg.shown, i);
    return q->ops->release ? q->ops->release(q, ids, n, err) : MS_OK; /* lease redelivers */
}

/* ==== status ============================================================================ */

ms_status qu_status(qu_queue *q, qu_stats *st, ms_error *err)
{
    ERR_OR_SCRATCH(err);
    memset(st, 0, sizeof *st);
    if (!q->ops->status) return unsupported(q, "status", err);
    ms_status s = q->ops->status(q, st, err);
    if (s != MS_OK) qu_stats_free(st);
    return s;
}

void qu_stats_free(qu_stats *st)
{
    if (!st) return;
    free(st->consumers);
    free(st->partitions);
    memset(st, 0, sizeof *st);
}

ms_status qu_range(qu_queue *q, const char *stream, const char *after, size_t max, qu_batch *b,
                   ms_error *err)
{
    ERR_OR_SCRATCH(err);
    memset(b, 0, sizeof *b);
    const char *s;
    ms_status st = pick_stream(q, stream, &s, err);
    if (st != MS_OK) return st;
    if (max < 1 || max > QU_READ_MAX)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: range of %zu messages (1 to %d)",
                       q->cfg.shown, max, QU_READ_MAX);
    if (after && strlen(after) >= QU_ID_MAX)
        return bs_fail(err, MS_ERR_INVALID, "queue %s: overlong id '%.40s...'", q->cfg.shown,
                       after);
    if (!q->ops->range) return unsupported(q, "range reads", err);
    st = q->ops->range(q, s, after ? after : "", max, b, err);
    if (st != MS_OK) qu_batch_free(b);
    return st;
}
