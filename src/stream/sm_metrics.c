/* sm_metrics.c: the worker's counters, histograms and gauges as Prometheus text. */
#include "stream/sm_metrics.h"

#include <string.h>

static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1, 0.25, 0.5, 1, 2.5, 5, 10};

void sm_metrics_init(sm_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->batch.bounds = batch_bounds;
    m->batch.nb = (int)(sizeof batch_bounds / sizeof batch_bounds[0]);
    m->latency.bounds = latency_bounds;
    m->latency.nb = (int)(sizeof latency_bounds / sizeof latency_bounds[0]);
    atomic_store(&m->lag, -1);
}

void sm_metrics_destroy(sm_metrics *m) { pthread_mutex_destroy(&m->mu); }

void sm_hist_add(sm_hist *h, double v)
{
    int b = 0;
    while (b < h->nb && v > h->bounds[b]) b++;
    h->counts[b]++;
    h->sum += v;
    h->n++;
}

void sm_metrics_batch(sm_metrics *m, size_t size, const double *latency, size_t n)
{
    pthread_mutex_lock(&m->mu);
    sm_hist_add(&m->batch, (double)size);
    for (size_t i = 0; i < n; i++) sm_hist_add(&m->latency, latency[i]);
    pthread_mutex_unlock(&m->mu);
}

static void counter(mc_buf *b, const char *name, const char *help, uint64_t v)
{
    mc_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                  (unsigned long long)v);
}

static void hist(mc_buf *b, const char *name, const char *help, const sm_hist *h)
{
    mc_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < h->nb; i++) {
        cum += h->counts[i];
        mc_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->nb];
    mc_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
                  (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->n);
}

void sm_metrics_text(sm_metrics *m, mc_buf *b)
{
    counter(b, "mlship_stream_events_consumed_total", "Events read from the queue.", atomic_load(&m->consumed));
    counter(b, "mlship_stream_events_scored_total", "Events scored, their result stored and published.", atomic_load(&m->scored));
    counter(b, "mlship_stream_events_failed_total", "Events given an error result (not scored).", atomic_load(&m->failed));
    counter(b, "mlship_stream_events_dead_lettered_total", "Events moved to the dead-letter stream.", atomic_load(&m->dead));
    counter(b, "mlship_stream_batches_retried_total", "Batches left unacked after a store or queue failure (redelivered).", atomic_load(&m->retried));
    counter(b, "mlship_stream_reconnects_total", "Queue or store connections reopened after a failure.", atomic_load(&m->reconnects));
    pthread_mutex_lock(&m->mu);
    sm_hist batch = m->batch, lat = m->latency;
    pthread_mutex_unlock(&m->mu);
    hist(b, "mlship_stream_batch_size", "Events per micro-batch.", &batch);
    hist(b, "mlship_stream_latency_seconds", "From the event's append to its result's publication.", &lat);
    mc_buf_printf(b, "# HELP mlship_stream_lag Events not yet delivered to the group (-1: unknown).\n"
                     "# TYPE mlship_stream_lag gauge\nmlship_stream_lag %lld\n",
                  (long long)atomic_load(&m->lag));
    mc_buf_printf(b, "# HELP mlship_stream_pending Events delivered and not yet acked.\n"
                     "# TYPE mlship_stream_pending gauge\nmlship_stream_pending %lld\n",
                  (long long)atomic_load(&m->pending));
    mc_buf_printf(b, "# HELP mlship_stream_queue_up 1 when every worker thread holds a working queue connection, else 0 (reconnecting).\n"
                     "# TYPE mlship_stream_queue_up gauge\nmlship_stream_queue_up %d\n",
                  atomic_load(&m->queue_down) == 0);
    mc_buf_printf(b, "# HELP mlship_stream_store_up 1 when every worker thread holds a working store connection (or there is no store), else 0.\n"
                     "# TYPE mlship_stream_store_up gauge\nmlship_stream_store_up %d\n",
                  atomic_load(&m->store_down) == 0);
}
