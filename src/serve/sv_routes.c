/* sv_routes.c: the route table and the dispatcher (see sv_routes.h; the handlers are in the
 * protocol files listed in sv_int.h).
 *
 * Every request goes the same way: match the path against the table (sv_route.c); no pattern
 * matched: 404; label the request with the route; check the names it captured (400; for the
 * admin routes, after the token, in their handlers, so the repository API tells nothing to a
 * caller without it); the method (405 with Allow); the token (401/403); the handler. */
#define _GNU_SOURCE
#include "serve/sv_routes.h"

#include <stdio.h>
#include <string.h>

#include "serve/sv_int.h"
#include "serve/sv_log.h"
#include "serve/sv_metrics.h"

static const sv_route routes[] = {
    {"POST", "/predict", SV_AUTH_API, "predict", sv_predict_route, 0},
    {"GET", "/v2", SV_AUTH_NONE, "metadata", sv_meta_server, 0},
    {"GET", "/v2/health/live", SV_AUTH_NONE, "health", sv_meta_live, 0},
    {"GET", "/v2/health/ready", SV_AUTH_NONE, "health", sv_meta_ready, 0},
    {"GET", "/v2/models/{m}", SV_AUTH_API, "metadata", sv_meta_model, 0},
    {"GET", "/v2/models/{m}/versions/{v}", SV_AUTH_API, "metadata", sv_meta_model, 0},
    {"GET", "/v2/models/{m}/ready", SV_AUTH_API, "ready", sv_meta_model_ready, 0},
    {"GET", "/v2/models/{m}/versions/{v}/ready", SV_AUTH_API, "ready", sv_meta_model_ready, 0},
    {"POST", "/v2/models/{m}/infer", SV_AUTH_API, "infer", sv_v2_infer, 0},
    {"POST", "/v2/models/{m}/versions/{v}/infer", SV_AUTH_API, "infer", sv_v2_infer, 0},
    {"POST", "/v2/repository/index", SV_AUTH_ADMIN, "repository", sv_meta_repo_index, 0},
    {"POST", "/v2/repository/models/{m}/load", SV_AUTH_ADMIN, "repository", sv_meta_repo_load, 0},
    {"POST", "/v2/repository/models/{m}/unload", SV_AUTH_ADMIN, "repository", sv_meta_repo_unload, 0},
    {"GET", "/v1/models/{m}/predictions/{key}", SV_AUTH_API, "predictions", sv_lookup_one, 0},
    {"POST", "/v1/models/{m}/predictions", SV_AUTH_API, "predictions", sv_lookup_many, 0},
    {"POST", "/v1/models/{m}/predictions/{key}", SV_AUTH_API, "trigger", sv_stream_trigger, 0},
    {"GET", "/v1/tickets/{key}", SV_AUTH_API, "tickets", sv_stream_ticket, 0},
    {"GET", "/v1/models/{m}", SV_AUTH_API, "metadata", sv_tfs_status, SV_ROUTE_VERBS},
    {"POST", "/v1/models/{m}:predict", SV_AUTH_API, "v1_predict", sv_tfs_predict, 0},
    {"GET", "/v1/features/{key}", SV_AUTH_API, "features", sv_features_changes, 0},
    {"GET", "/metrics", SV_AUTH_NONE, "metrics", sv_meta_metrics, 0},
    {"GET", "/edge", SV_AUTH_NONE, "edge", sv_edge_get, SV_ROUTE_PREFIX},
    {"HEAD", "/edge", SV_AUTH_NONE, "edge", sv_edge_get, SV_ROUTE_PREFIX},
};

const sv_route *sv_routes_table(int *n)
{
    *n = (int)(sizeof routes / sizeof routes[0]);
    return routes;
}

/* No pattern matched. The messages are those of the families' own routers before the table:
 * under /v2/models and /v2/repository the path alone (the latter labelled "repository"), a
 * TF-Serving verb other than :predict says so, anything else names method and path. */
static void not_found(sv_req *r, const sv_match *mt)
{
    char *const *seg = mt->seg;
    int n = mt->n;
    int v2 = n >= 3 && strcmp(seg[0], "v2") == 0;
    if (v2 && strcmp(seg[1], "repository") == 0) {
        snprintf(r->route, sizeof r->route, "repository");
        sv_req_error(r, 404, "no route %s", r->path);
    } else if (v2 && strcmp(seg[1], "models") == 0) sv_req_error(r, 404, "no route %s", r->path);
    else if (n == 3 && strcmp(seg[0], "v1") == 0 && strcmp(seg[1], "models") == 0 && strchr(seg[2], ':'))
        sv_req_error(r, 404, "no route %s (only :predict is served)", r->path);
    else sv_req_error(r, 404, "no route %s %s", r->method, r->path);
}

/* 1 if the request may use a route of this kind, else the response is set. */
static int authorised(sv_server *s, sv_req *r, sv_auth auth)
{
    if (auth == SV_AUTH_API) return !(s->api_token && check_token(r, s->api_token, "API"));
    if (auth != SV_AUTH_ADMIN) return 1;
    if (!s->admin_token) {
        sv_req_error(r, 403, "the repository API is disabled: start the server with --admin-token or MLSHIP_ADMIN_TOKEN");
        return 0;
    }
    return !check_token(r, s->admin_token, "admin");
}

void sv_routes_handle(void *ctx, sv_req *r)
{
    sv_server *s = ctx;
    sv_match mt;
    sv_route_split(r->path, &mt);
    const sv_route *hit;
    char allow[64];
    int n;
    const sv_route *table = sv_routes_table(&n);
    const sv_route *rt = sv_route_find(table, n, r->method, &mt, &hit, allow, sizeof allow);
    if (!hit) { not_found(r, &mt); return; }
    snprintf(r->route, sizeof r->route, "%s", hit->label);
    if (hit->auth != SV_AUTH_ADMIN && mt.m && !names_ok(r, mt.m, mt.v)) return;
    if (!rt) {
        sv_req_add_header(r, "Allow", allow);
        sv_req_error(r, 405, "%s is not allowed on %s (allowed: %s)", r->method, r->path, allow);
        return;
    }
    if (!authorised(s, r, rt->auth)) return;
    rt->fn(s, r, &mt);
}

void sv_routes_done(void *ctx, sv_req *r, const char *remote, uint64_t bytes_out)
{
    double secs = (double)(bs_now_ns() - r->t0_ns) / 1e9;
    sv_metrics_request(r->model, r->route, r->status, secs);
    sv_access a = {remote, r->method, r->path, r->status, r->body.len, bytes_out, secs * 1e6,
                   r->route, r->model, r->version, r->error[0] ? r->error : NULL};
    sv_log_access(&a);
}

