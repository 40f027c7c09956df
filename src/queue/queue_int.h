/* queue_int.h: what the queue backends share, private to src/queue/: the backend table (a
 * const struct of function pointers per backend with a version first, as SQLite's
 * sqlite3_io_methods, and capability bits, as curl's vtls `supports`), the handle's common
 * part, and the helpers queue.c gives the backends (message fields, the body codec).
 *
 * queue.c parses the URL, checks every name, option and argument, and fills the common part
 * before calling a backend, so backends may assume valid names, max >= 1, block_ms >= 0, at
 * least one field per message. An operation a backend lacks is a NULL pointer: queue.c answers
 * MS_ERR_UNSUPPORTED. */
#ifndef QU_QUEUE_INT_H
#define QU_QUEUE_INT_H

#include "base/bs_error.h"
#include "base/bs_url.h"
#include "queue/queue.h"

#define QU_OPS_VERSION 2 /* raised when a member is added; queue.c refuses other versions
                          * (2: release, nak and touch) */

/* Everything a backend needs besides its URL: the names and options, checked and defaulted. */
typedef struct qu_cfg {
    char stream[QU_NAME_MAX], group[QU_NAME_MAX], consumer[QU_NAME_MAX], dead[QU_NAME_MAX];
    int64_t lease_ms;
    int max_deliveries;
    int partitions;    /* qu_opts.partitions (0: not asked) */
    const char *shown; /* the URL with the password hidden, for messages */
} qu_cfg;

typedef struct qu_backend_ops {
    int version; /* QU_OPS_VERSION */
    const char *name;
    unsigned caps; /* QU_CAP_* */
    ms_status (*open)(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err);
    void (*close)(qu_queue *q);
    /* stream: checked, never NULL; maxlen 0: no cap; ids: may be NULL */
    ms_status (*send)(qu_queue *q, const char *stream, const qu_field *const *msgs,
                      const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                      ms_error *err);
    /* b is zeroed; fill it with qu_batch_add */
    ms_status (*read)(qu_queue *q, size_t max, int block_ms, qu_batch *b, ms_error *err);
    ms_status (*ack)(qu_queue *q, const char *const *ids, size_t n, ms_error *err);
    ms_status (*dead)(qu_queue *q, const qu_msg *m, const char *reason, ms_error *err);
    ms_status (*status)(qu_queue *q, qu_stats *st, ms_error *err); /* st is zeroed */
    ms_status (*range)(qu_queue *q, const char *stream, const char *after, size_t max,
                       qu_batch *b, ms_error *err); /* after: never NULL ("" = start) */
    /* ids checked; NULL: a no-op (the lease redelivers) */
    ms_status (*release)(qu_queue *q, const char *const *ids, size_t n, ms_error *err);
    /* version 2; NULL: queue.c answers MS_OK and the lease simply runs its course */
    ms_status (*nak)(qu_queue *q, const char *const *ids, size_t n, int64_t delay_ms,
                     ms_error *err);
    ms_status (*touch)(qu_queue *q, const char *const *ids, size_t n, ms_error *err);
} qu_backend_ops;

/* Every backend's handle starts with this; queue.c owns cfg.shown. */
struct qu_queue {
    const qu_backend_ops *ops;
    qu_cfg cfg;
};

extern const qu_backend_ops qu_sqlite_ops, qu_redis_ops, qu_nats_ops, qu_kafka_ops, qu_mqtt_ops,
    qu_part_ops;

/* ---- Redis internals the partitioned queue builds on (queue_redis.c) ------------------- */
/* A partition is a Redis sub-queue (qu_redis_ops.open with the partition's host and names,
 * which may hold the '{' '}' of a Cluster hash tag); these are the few commands it needs
 * beyond the table. Without Redis support they answer MS_ERR_UNSUPPORTED. */

enum { QU_LEASE_TAKE, QU_LEASE_RELEASE, QU_LEASE_PEEK };
/* A lease `key` on q's server, atomically (one Lua script). TAKE: take it for `owner` for ms
 * when free, renew it when owner holds it; *got 2 (taken now), 1 (renewed) or 0 (someone
 * else's). RELEASE: delete it when owner holds it (*got 1), else *got 0. PEEK: *got 0. holder
 * (may be NULL) gets who holds it after the call ("" for nobody). */
ms_status qu_redis_lease(qu_queue *q, const char *key, const char *owner, int64_t ms, int op,
                         int *got, char holder[QU_NAME_MAX], ms_error *err);
/* A heartbeat in the registry `key` (a sorted set scored by expiry in the server's clock):
 * member stays live for ttl_ms (0: it leaves now); expired members are removed. *live: the
 * live members; *rank: member's place among them sorted by name (0-based; -1 when absent). */
ms_status qu_redis_heartbeat(qu_queue *q, const char *key, const char *member, int64_t ttl_ms,
                             int *live, int *rank, ms_error *err);
/* SET key value NX, then the value key holds (the first writer's) into have[cap]. */
ms_status qu_redis_pin(qu_queue *q, const char *key, const char *value, char *have, size_t cap,
                       ms_error *err);
/* Every pending entry of q's stream, whoever's, becomes q's consumer's (XAUTOCLAIM with no
 * minimum idle time, JUSTID, to the end of the pending list): the new owner's takeover. */
ms_status qu_redis_claim_all(qu_queue *q, ms_error *err);
/* XREADGROUP from `from`: ">" for new entries (waiting up to block_ms), or an id for this
 * consumer's own pending entries after it, oldest first (their delivery counts raised; one
 * past max_deliveries is dead-lettered and not returned). *nraw: entries the server returned
 * (fewer than max: the end), last: the id of the last of them ("" when none). */
ms_status qu_redis_read_from(qu_queue *q, const char *from, size_t max, int block_ms,
                             qu_batch *b, size_t *nraw, char last[QU_ID_MAX], ms_error *err);
/* The host:port a Redis sub-queue talks to, for status output. */
void qu_redis_where(const qu_queue *q, char *dst, size_t cap);

/* ---- helpers (queue.c) --------------------------------------------------------------- */

/* MS_ERR_UNSUPPORTED "mlship was built without X support (...)". */
ms_status qu_not_built(ms_error *err, const char *what, const char *knob, const char *pkg);

/* Append a message to b, copying its fields into one block (each name and value is also
 * NUL-terminated, past its length). Returns the new message (fill id, order, ...) or NULL
 * when out of memory. */
qu_msg *qu_batch_add(qu_batch *b, const qu_field *fields, int nfields);

/* The fields qu_dead writes: m's, then "reason", "deliveries" and "source_id" (after the
 * original ones, so a message that had such a field keeps it; readers take the last). out
 * must hold m->nfields + 3; num (QU_ID_MAX bytes) holds the deliveries as text. */
int qu_dead_fields(const qu_msg *m, const char *reason, char num[QU_ID_MAX], qu_field *out);

/* ---- the SQLite body codec (queue_body.c) ------------------------------------------- */

/* A growable byte string; on allocation failure `oom` is set and appends do nothing. */
typedef struct qu_sb {
    char *p;
    size_t len, cap;
    int oom;
} qu_sb;
void qu_sb_put(qu_sb *b, const char *s, size_t n);
void qu_sb_free(qu_sb *b);

/* The fields as one JSON object of string values, every byte kept: valid UTF-8 is written as
 * is, control characters, quotes and backslashes escaped, and a byte that is not part of valid
 * UTF-8 as \u0080..\u00ff (the decoder maps exactly those escapes back to single bytes). */
void qu_body_encode(qu_sb *out, const qu_field *fields, int nfields);
/* The inverse: appends the message to b. MS_ERR_INVALID naming the byte offset when `body` is
 * not such an object (a row written by something else). */
ms_status qu_body_decode(const char *body, size_t len, qu_batch *b, qu_msg **out,
                         ms_error *err);

#endif
