/* sm_metrics.h: a stream worker's Prometheus metrics: counters of events consumed, scored,
 * failed (an error result) and dead-lettered, batches that failed to store or publish (and
 * were left to redelivery); histograms of batch sizes and event-to-result latency (now minus
 * the time the queue appended the event); gauges of lag and pending from qu_status; the
 * connections: reconnections after a failure, and whether the queue and store are reachable
 * (every thread holds a working connection) as 1/0 gauges. Counters
 * are atomics; histograms take a mutex once per batch. */
#ifndef SM_METRICS_H
#define SM_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "codec/codec_buf.h"

#define SM_HIST_MAX 16

typedef struct sm_hist {
    const double *bounds; /* upper bounds, increasing; +Inf is implied */
    int nb;
    uint64_t counts[SM_HIST_MAX + 1]; /* per bucket (not cumulative); the last is +Inf */
    double sum;
    uint64_t n;
} sm_hist;

typedef struct sm_metrics {
    atomic_uint_fast64_t consumed, scored, failed, dead, retried;
    atomic_int_fast64_t lag, pending;
    /* connections: reopened after a failure; threads whose queue / store connection is lost */
    atomic_uint_fast64_t reconnects;
    atomic_int_fast64_t queue_down, store_down;
    pthread_mutex_t mu;
    sm_hist batch, latency;
} sm_metrics;

void sm_metrics_init(sm_metrics *m);
void sm_metrics_destroy(sm_metrics *m);
void sm_hist_add(sm_hist *h, double v); /* under m->mu */
/* One batch: its size and the latencies (seconds) of its n results. */
void sm_metrics_batch(sm_metrics *m, size_t size, const double *latency, size_t n);
void sm_metrics_text(sm_metrics *m, mc_buf *out);

#endif
