/* sv_routes.h: the HTTP routes of `mlship serve` (routing, authorisation, handlers).
 *
 *   GET  /v2/health/live | /v2/health/ready            OIP health (200 true, 400 false)
 *   GET  /v2                                           OIP server metadata
 *   GET  /v2/models/{m}[/versions/{v}]                 OIP model metadata
 *   GET  /v2/models/{m}[/versions/{v}]/ready           OIP model readiness
 *   POST /v2/models/{m}[/versions/{v}]/infer           OIP inference, JSON or binary tensors
 *   POST /predict                                      {"features": [..]} -> {"prediction": [..]}
 *   GET  /v1/models/{m}  POST /v1/models/{m}:predict   TF-Serving shape; keys from the store
 *   POST /v2/repository/index                          Triton repository API (admin token)
 *   POST /v2/repository/models/{m}/load | /unload
 *   GET  /metrics                                      Prometheus text
 * Errors are {"error": "..."} with 400 (bad request), 401/403 (token), 404 (no such route,
 * model or version), 405 (method), 413 (body), 503 (not ready, queue full: Retry-After),
 * 504 (timed out in the queue), 500 (runtime failure). */
#ifndef SV_ROUTES_H
#define SV_ROUTES_H

#include <stdatomic.h>
#include <stdint.h>

#include "serve/sv_http.h"
#include "serve/sv_repo.h"

typedef struct sv_server {
    sv_repo *repo;
    const char *admin_token; /* NULL: repository API refused (403) */
    const char *api_token;   /* NULL: inference routes open */
    uint64_t timeout_ms;     /* per request, 0: none */
    atomic_int draining;     /* SIGTERM received: not ready */
} sv_server;

void sv_routes_handle(void *ctx, sv_req *r);
void sv_routes_done(void *ctx, sv_req *r, const char *remote, uint64_t bytes_out);

#endif
