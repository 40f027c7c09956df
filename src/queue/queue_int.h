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
                          * (2: nak and touch) */

/* Everything a backend needs besides its URL: the names and options, checked and defaulted. */
typedef struct qu_cfg {
    char stream[QU_NAME_MAX], group[QU_NAME_MAX], consumer[QU_NAME_MAX], dead[QU_NAME_MAX];
    int64_t lease_ms;
    int max_deliveries;
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

extern const qu_backend_ops qu_sqlite_ops, qu_redis_ops, qu_nats_ops, qu_kafka_ops, qu_mqtt_ops;

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
