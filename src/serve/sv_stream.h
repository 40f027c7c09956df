/* sv_stream.h: the streaming flow of `mlship serve --queue URL` (issue 11 section 4):
 *
 *   POST /v1/models/{m}/predictions/{key}  {"features": .., "max_age_s": N} (body optional)
 *        200 {"key","outputs","model_version","scored_at","source"}: the newest stored
 *            prediction (batch or stream) is younger than max_age_s and made by the version
 *            now serving;
 *        202 {"ticket","status":"pending"} + Location: /v1/tickets/T: an event is on the queue
 *            (qu_send returned), or one already was for this key (coalesced: same ticket);
 *        503 + Retry-After: the queue holds more than max_pending unscored events, or the
 *            queue refused the event (the message names its URL).
 *   GET /v1/tickets/{T}?wait_ms=N  long-polls: 202 pending after up to N ms (capped at the
 *        model's wait_ms_max), 200 {"status":"done",..} or {"status":"failed","error"}, 404.
 *
 * Coalescing is the store's st_ticket_claim (atomic, so two servers on one store agree, and
 * stored, so a ticket survives a restart), behind an in-process cache of the tickets this
 * server issued: a trigger for a key whose cached ticket has no result yet answers that
 * ticket with a read only, no write.
 *
 * Long-polls never hold an HTTP thread: the request is suspended and one poller thread checks
 * the waiting tickets' results every few milliseconds (the results may be written by workers
 * in this process or any other), resuming each when its result is in or its time is up.
 *
 * Threads: open/close from the main thread; the routes (sv_int.h) from any HTTP thread. */
#ifndef SV_STREAM_H
#define SV_STREAM_H

#include "codec/codec_buf.h"
#include "mlship.h"

typedef struct sv_server sv_server;
typedef struct sv_stream sv_stream;

/* Streaming for server s, events to queue_url, tickets and results in s->store_url (which
 * must be set: MS_ERR_INVALID otherwise). The queue is opened once here, so a bad URL or an
 * unreachable server fails at start, naming it. Stream results and tickets older than
 * retention_s (> 0) are deleted from the store once a minute (st_stream_prune). */
ms_status sv_stream_open(sv_server *s, const char *queue_url, int64_t retention_s, sv_stream **out,
                         ms_error *err);
/* Start the embedded stream worker (--stream-workers N: one worker of n threads) scoring the
 * queue's events with repo's serving versions into s->store_url. Stopped by close. */
typedef struct sv_repo sv_repo;
ms_status sv_stream_workers(sv_stream *st, sv_repo *repo, int n, ms_error *err);
/* Once s->draining is set: wait (at most 2 s) until every suspended long-poll is answered
 * (202 pending) and resumed, so that the HTTP daemon can stop with none suspended. */
void sv_stream_drain(sv_stream *st);
/* Stop the poller (after the HTTP daemon stopped: no request can arrive); free. NULL is fine. */
void sv_stream_close(sv_stream *st);
/* The queue URL with any password hidden, for messages. */
const char *sv_stream_queue_shown(const sv_stream *st);
/* Prometheus lines: tickets issued, coalesced, rejected, long-polls waiting. NULL: none. */
void sv_stream_metrics(sv_stream *st, mc_buf *out);

#endif
