/* sv_metrics.h: the server's counters, exposed as Prometheus text on GET /metrics.
 *
 *   mlship_requests_total{model,route,status}            counter
 *   mlship_request_duration_seconds{route}               histogram (whole request, in server)
 *   mlship_batch_size{model}                             histogram (rows per model run)
 *   mlship_queue_depth{model}                            gauge (requests waiting to batch)
 *   mlship_model_load_seconds{model,version}             gauge (load + plan + warm-up run)
 *   mlship_model_loads_total{model} / _load_failures_total{model}   counters
 *   mlship_inflight_requests                             gauge
 *
 * One process holds one set (module-level state), guarded by a mutex: a request touches it
 * once, for well under a microsecond. */
#ifndef SV_METRICS_H
#define SV_METRICS_H

#include <stdint.h>

#include "codec/codec_buf.h"

void sv_metrics_request(const char *model, const char *route, int status, double seconds);
void sv_metrics_batch(const char *model, int64_t rows);
void sv_metrics_load(const char *model, const char *version, double seconds, int ok);
/* Forget a version's load-time gauge when it is unloaded. */
void sv_metrics_unload(const char *model, const char *version);

/* Append the exposition. `gauges` (may be NULL) appends extra gauge lines (queue depth,
 * in-flight) computed at scrape time. */
void sv_metrics_write(mc_buf *out, void (*gauges)(void *ctx, mc_buf *out), void *ctx);
/* Append a label value with Prometheus escaping (\\, \", \n). */
void sv_metrics_label(mc_buf *out, const char *v);

#endif
