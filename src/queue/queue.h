/* queue.h: the queue layer: durable event streams with consumer groups, leases and dead
 * letters, for the stream workers (src/stream/) and serve's triggers. One interface; one
 * backend per file (queue_sqlite.c, queue_redis.c, queue_nats.c; Kafka next), chosen by
 * URL and validated once in queue.c, as the store does it:
 *
 *     sqlite:///abs/queue.db[?stream=NAME]   the embedded default: no server; WAL,
 *     sqlite://rel/queue.db[?stream=NAME]    synchronous=FULL (durable when send returns);
 *                                            several processes on one machine share the file
 *     redis://[user:pw@]host[:port]/STREAM[?db=N]   Redis Streams with a consumer group
 *     redis://h1:6379,h2:6379,h3:6379/STREAM        a partitioned queue over several servers,
 *     redis://host:port/STREAM?partitions=N         or N partitions on one (queue_part.c,
 *                                                   docs/partitions.md): events routed by a
 *                                                   hash of their "key", one owner per
 *                                                   partition at a time, so per-key order holds
 *     nats://[user:pw@]host[:port]/STREAM[?retention=workqueue|limits]   NATS JetStream: a
 *                                            stream, a durable pull consumer per group
 *
 * The stream defaults to "events". Other streams of the same queue (results, dead letters)
 * are named "<stream>:results" and "<stream>:dead" by default; on SQLite they are rows of the
 * same file, on Redis they are streams of the same server.
 *
 * A message is a list of (field, value) byte strings, as a Redis Streams entry is; what the
 * fields mean (id, key, features, ...) is the stream layer's (src/stream/sm_event.h), not the
 * queue's. SQLite stores a message as one JSON object of string values, readable with
 * `sqlite3 queue.db 'select body from mlship_queue'`.
 *
 * Delivery is at least once. A read hands out new messages and takes over messages whose
 * lease expired (a dead consumer's: Redis XAUTOCLAIM, SQLite an expired lease_until), each
 * with its delivery count. A message is gone for the group only when acked or dead-lettered.
 *
 *     qu_queue *q;
 *     qu_opts o = qu_opts_default();            o.consumer = "w1";
 *     if (qu_open("redis://127.0.0.1:6379/events", &o, &q, &err) != MS_OK) ...err.msg...
 *     qu_batch b = {0};
 *     if (qu_read(q, 64, 100, &b, &err) == MS_OK) {
 *         for (size_t i = 0; i < b.n; i++) ...b.msgs[i].fields...
 *         qu_ack(q, &b, &err);                  // after the results are stored
 *     }
 *     qu_batch_free(&b);
 *     qu_close(q);
 *
 * Threads: a handle is one connection and is not thread-safe; open one per thread.
 * Errors: MS_ERR_INVALID for bad input (URL, names, options), MS_ERR_RUNTIME for the server or
 * file failing (the message names the URL and stream), MS_ERR_UNSUPPORTED for a backend built
 * without its library. A failed call leaves the queue as it was (SQLite: one transaction). */
#ifndef QU_QUEUE_H
#define QU_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "mlship.h"

typedef struct qu_queue qu_queue;

#define QU_ID_MAX 64   /* a message id: Redis "1700000000000-3", SQLite the row number */
#define QU_NAME_MAX 128 /* streams, groups, consumers: [A-Za-z0-9._:-], at most 127 chars */

/* ---- capabilities (qu_caps) ----------------------------------------------------------- */
#define QU_CAP_BLOCKING   0x1u /* read can wait on the server for new messages (else polls) */
#define QU_CAP_MULTI_HOST 0x2u /* consumers on several machines (SQLite: one machine only) */
#define QU_CAP_REPLAY     0x4u /* a stream can be re-read from a sequence (JetStream, Kafka) */
#define QU_CAP_TRIM       0x8u /* publish can cap a stream's length (MAXLEN ~) */

typedef struct qu_opts {
    const char *group;     /* consumer group; NULL: "mlship" */
    const char *consumer;  /* this consumer's name; NULL: "<hostname>-<pid>" */
    int64_t lease_ms;      /* an unacked message is taken over after this; default 30000 */
    int max_deliveries;    /* qu_read dead-letters a message delivered more often; default 5 */
    const char *dead;      /* dead-letter stream; NULL: "<stream>:dead" */
    int partitions;        /* Redis: N partitions (as ?partitions=N; 0 or 1: none unless the
                              URL names several hosts or partitions) */
} qu_opts;
qu_opts qu_opts_default(void);

/* Open (and create when missing: the SQLite file and tables; the Redis group, at the start
 * of the stream with MKSTREAM, so messages sent before the first worker started are read). */
ms_status qu_open(const char *url, const qu_opts *o, qu_queue **out, ms_error *err);
void qu_close(qu_queue *q); /* NULL is fine */
const char *qu_backend(const qu_queue *q); /* "sqlite", "redis" or "nats" */
const char *qu_stream(const qu_queue *q);  /* the stream the URL names */
unsigned qu_caps(const qu_queue *q);
/* The URL with any password replaced by "***", for messages and status output. */
const char *qu_url_shown(const qu_queue *q);

/* ---- producing ------------------------------------------------------------------------ */

typedef struct qu_field {
    const char *name;
    size_t name_len;
    const char *val;
    size_t val_len;
} qu_field;

/* Append one message per row to `stream` (NULL: the URL's stream): msgs[i] has nfields[i]
 * fields. Durable when it returns (SQLite: committed with synchronous=FULL in one transaction;
 * Redis: pipelined XADDs, durable as the server's AOF setting makes them). ids (may be NULL)
 * receives each message's id, QU_ID_MAX bytes per message. maxlen > 0 caps the stream at about
 * that many entries (XADD MAXLEN ~; SQLite deletes the oldest beyond it): for results streams. */
ms_status qu_send(qu_queue *q, const char *stream, const qu_field *const *msgs,
                  const int *nfields, size_t n, int64_t maxlen, char (*ids)[QU_ID_MAX],
                  ms_error *err);

/* ---- consuming ------------------------------------------------------------------------ */

typedef struct qu_msg {
    char id[QU_ID_MAX];
    int64_t order;      /* increases with the time a message was appended, across producers:
                           SQLite the row number, Redis (ms << 20) + seq from the id */
    int64_t enq_ms;     /* when it was appended, ms since the epoch (0 if unknown) */
    int64_t deliveries; /* 1 on the first delivery */
    int nfields;
    qu_field *fields;   /* valid until qu_batch_free */
} qu_msg;

typedef struct qu_batch {
    size_t n;
    qu_msg *msgs;
    void *priv; /* reserved, NULL: each message's fields are one allocation of its own */
} qu_batch;

/* Up to `max` messages for this consumer: first any whose lease expired (taken over, their
 * delivery count raised), then new ones; waits up to block_ms for the first (0: return at
 * once). Each message returned is leased to this consumer for lease_ms. A message past
 * max_deliveries is dead-lettered by the read itself (reason "delivered N times") and not
 * returned. *b is replaced (free it first if it held a batch). n == 0 is not an error. */
ms_status qu_read(qu_queue *q, size_t max, int block_ms, qu_batch *b, ms_error *err);
/* Acknowledge every message of b (or, with qu_ack_ids, these ids): gone for the group. Acking
 * an id twice, or one another consumer took over, is not an error. */
ms_status qu_ack(qu_queue *q, const qu_batch *b, ms_error *err);
ms_status qu_ack_ids(qu_queue *q, const char *const *ids, size_t n, ms_error *err);
/* Move message m to the dead-letter stream with its fields plus "reason", "deliveries" and
 * "source_id", and ack it, in one step (SQLite: one transaction; Redis: MULTI/EXEC). */
ms_status qu_dead(qu_queue *q, const qu_msg *m, const char *reason, ms_error *err);
void qu_batch_free(qu_batch *b); /* zeroes b; a zeroed b is fine */
/* Hand messages back unprocessed (a batch that failed): they are not acked and come again.
 * A partitioned queue hands them out again first, before any newer message of their
 * partition, so per-key order holds; the other backends redeliver them after the lease, as
 * if this was never called (it is then a no-op). */
ms_status qu_release(qu_queue *q, const char *const *ids, size_t n, ms_error *err);

/* Hand these messages back for another delivery after delay_ms (0: at once), instead of when
 * their lease expires: for a batch that failed in a way worth retrying (a store was down).
 * JetStream: Nak with delay. A backend without it (SQLite, Redis) does nothing and answers
 * MS_OK: the messages come back when their lease expires, as they would anyway. Ids this
 * consumer does not hold are ignored, as for acks. */
ms_status qu_nak(qu_queue *q, const char *const *ids, size_t n, int64_t delay_ms, ms_error *err);
/* Extend the lease of these messages by lease_ms from now: for a batch that runs long.
 * JetStream: InProgress. A backend without it does nothing (MS_OK): keep batches shorter than
 * the lease there. */
ms_status qu_touch(qu_queue *q, const char *const *ids, size_t n, ms_error *err);

/* ---- status --------------------------------------------------------------------------- */

typedef struct qu_consumer_stat {
    char name[QU_NAME_MAX];
    int64_t pending; /* leased to it and not acked */
    int64_t idle_ms; /* since it last read */
} qu_consumer_stat;

typedef struct qu_partition_stat {
    char owner[QU_NAME_MAX]; /* the consumer holding its lease, "" when none */
    char host[QU_NAME_MAX];  /* host:port of its server */
    int64_t length, pending, lag;
} qu_partition_stat;

typedef struct qu_stats {
    int64_t length;        /* entries in the stream (Redis XLEN; SQLite rows not yet acked) */
    int64_t pending;       /* delivered, not acked (all consumers) */
    int64_t lag;           /* not yet delivered to the group (-1 when the server cannot say) */
    int64_t dead;          /* entries in the dead-letter stream */
    int64_t oldest_age_ms; /* age of the oldest message not acked (0 when none) */
    size_t nconsumers;
    qu_consumer_stat *consumers; /* malloc'd; free with qu_stats_free */
    size_t npartitions;          /* a partitioned queue's partitions (0 otherwise); the fields
                                    above are their sums (lag -1 when one cannot say) */
    qu_partition_stat *partitions; /* malloc'd; free with qu_stats_free */
} qu_stats;
ms_status qu_status(qu_queue *q, qu_stats *st, ms_error *err);
void qu_stats_free(qu_stats *st);

/* Read (without consuming) up to `max` entries of any stream of this queue, oldest first,
 * starting after id `after` (NULL or "": from the start): for results and dead-letter streams,
 * `mlship stream status` and tests. Same batch shape as qu_read (deliveries 0). */
ms_status qu_range(qu_queue *q, const char *stream, const char *after, size_t max, qu_batch *b,
                   ms_error *err);

#endif
