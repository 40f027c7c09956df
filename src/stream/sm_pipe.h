/* sm_pipe.h: `mlship stream pipe`: continuous scoring for monitoring and IoT. Every input
 * event gives one output event (a result, or an error result: the pipe never drops an event),
 * in input order; with an alert rule (sm_alert.h), a raised or cleared alert also gives one
 * alert event. Input: a queue URL (read as consumer group members do, acked once the outputs
 * are written) or "-", JSON Lines on stdin (one event object per line, the "json" form);
 * output: a queue URL (the URL's stream) or "-", JSON Lines on stdout. Events carry their
 * features (the pipe reads no feature store).
 *
 * MQTT input (mqtt://host:port/FILTER, docs/queue-mqtt.md): each message is a reading that
 * sm_reading.h turns into an event (key from a topic level or a payload member); a reading
 * that is none of the payload forms gives an error result. Without models (models NULL) the
 * pipe is a bridge: each event is forwarded to the output as event fields, for `stream work`
 * to score from a durable queue. Outputs to a queue are sent once per input batch, before the
 * batch is acked. */
#ifndef SM_PIPE_H
#define SM_PIPE_H

#include <stdatomic.h>

#include "mlship.h"
#include "stream/sm_alert.h"
#include "stream/sm_reading.h"
#include "stream/sm_worker.h"

typedef struct sm_pipe_cfg {
    const char *in_url, *out_url; /* "-": stdin / stdout */
    const char *alert_out_url;    /* NULL: alerts go to out_url */
    const sm_models *models;      /* NULL: forward events unscored (a bridge; no alert) */
    sm_reading_opts reading;      /* MQTT input: where the key comes from */
    sm_alert *alert;              /* NULL: no alerts */
    int batch;                    /* queue reads (default 64) */
    const char *consumer;         /* queue input: NULL as the worker's; MQTT input: NULL is
                                     "mlship-pipe-<hash of --in>", stable across restarts so
                                     the broker's persistent session is found again */
    atomic_int *stop;             /* set (by a signal handler) to finish after the event in hand */
} sm_pipe_cfg;

/* Run until the input ends (stdin) or *stop. Counts go to *events / *alerts (may be NULL). */
ms_status sm_pipe_run(const sm_pipe_cfg *c, long *events, long *alerts, ms_error *err);

#endif
