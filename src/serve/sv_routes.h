/* sv_routes.h: the HTTP routes of `mlship serve`: the route table and its dispatcher
 * (sv_routes.c), the handlers one file per protocol (listed in sv_int.h).
 *
 *   GET  /v2/health/live | /v2/health/ready            OIP health (200 true, 400 false)
 *   GET  /v2                                           OIP server metadata
 *   GET  /v2/models/{m}[/versions/{v}]                 OIP model metadata
 *   GET  /v2/models/{m}[/versions/{v}]/ready           OIP model readiness
 *   POST /v2/models/{m}[/versions/{v}]/infer           OIP inference, JSON or binary tensors
 *   POST /predict                                      {"features": [..]} -> {"prediction": [..]}
 *   GET  /v1/models/{m}  POST /v1/models/{m}:predict   TF-Serving shape; keys from the store
 *   GET  /v1/models/{m}/predictions/{key}              the newest stored prediction, batch or
 *                                                      stream, with its "source" (404 unknown)
 *   POST /v1/models/{m}/predictions {"keys": [..]}     many of them ({"found": false} unknown)
 *   POST /v1/models/{m}/predictions/{key}              a fresh stored prediction (200) or a
 *                                                      ticket for an event (202; sv_stream.h)
 *   GET  /v1/tickets/{T}[?wait_ms=N]                   a ticket's result, long-polled
 *   POST /v2/repository/index                          Triton repository API (admin token)
 *   POST /v2/repository/models/{m}/load | /unload
 *   GET  /metrics                                      Prometheus text
 *   GET  /v1/features/{t}?since=N[&limit=L]            JSON Lines: rows changed after N, next
 *   GET|HEAD /edge/PATH                                --edge-dir's files (ETag, Range)
 * Errors are {"error": "..."} with 400 (bad request), 401/403 (token), 404 (no such route,
 * model or version), 405 (method), 413 (body), 503 (not ready, queue full: Retry-After),
 * 504 (timed out in the queue), 500 (runtime failure). */
#ifndef SV_ROUTES_H
#define SV_ROUTES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "serve/sv_http.h"
#include "serve/sv_repo.h"
#include "serve/sv_sched.h"

typedef struct st_store st_store;
typedef struct sv_pooled { char *url; int flags; st_store *h; } sv_pooled;

typedef struct sv_server {
    sv_repo *repo;
    const char *admin_token; /* NULL: repository API refused (403) */
    const char *api_token;   /* NULL: inference routes open */
    uint64_t timeout_ms;     /* per request, 0: none */
    atomic_int draining;     /* SIGTERM received: not ready */
    const char *store_url;   /* --store: published predictions (and features by default) */
    sv_sched *sched;         /* batch scheduler, NULL: none (its state goes to /metrics) */
    struct sv_stream *stream; /* --queue: triggers and tickets (sv_stream.h), NULL: none */
    const char *edge_dir;    /* --edge-dir: served under /edge/ (sv_edge.c), NULL: none */
    int edge_fd;             /* its directory, opened once at start */
    uint64_t edge_rate;      /* tests only: blobs sent at this many bytes/s (0: full speed) */
    /* prediction-store handles, one per request at a time (a handle is one connection) */
    pthread_mutex_t pool_mu; /* initialise with pthread_mutex_init */
    sv_pooled *pool;
    int npool, cap_pool;
} sv_server;

/* Close the pooled prediction-store handles (at shutdown; sv_lookup.c). */
void sv_routes_free_pool(sv_server *s);

void sv_routes_handle(void *ctx, sv_req *r);
void sv_routes_done(void *ctx, sv_req *r, const char *remote, uint64_t bytes_out);

#endif
