/* sv_route.h: the route matcher of `mlship serve` (the table itself is in sv_routes.c).
 *
 * A route is {method, pattern, auth, label, handler}, in the manner of redis's command table.
 * A pattern is a path of segments: literals, or a capture `{m}` (model), `{v}` (version),
 * `{key}` (a prediction key), each matching any one segment (empty too: the name rules are
 * the dispatcher's, so a bad name is a 400, not a 404). A capture may carry a verb suffix,
 * `{m}:predict`, which matches a segment "NAME:predict" (split at its first ':') and captures
 * NAME. In an entry with SV_ROUTE_VERBS a plain capture refuses a segment with a ':' in it:
 * there a ':' always starts a verb (TF-Serving's /v1/models/{m} beside {m}:predict).
 *
 * The matcher only reads strings: no HTTP, no server (tests/unit/serve/test_sv_route.c). */
#ifndef SV_ROUTE_H
#define SV_ROUTE_H

#include <stddef.h>

#define SV_ROUTE_SEGS 8    /* path segments looked at; a longer path matches no route */
#define SV_ROUTE_PATH 1024 /* bytes of the path looked at */

/* SV_ROUTE_PREFIX: the pattern matches a path that starts with its segments (the handler
 * reads the rest from the request's path: the edge directory, sv_edge.c). */
enum { SV_ROUTE_VERBS = 1, SV_ROUTE_PREFIX = 2 };

typedef enum { SV_AUTH_NONE, SV_AUTH_API, SV_AUTH_ADMIN } sv_auth;

/* A path split into segments, and what the matched route captured (NULL: no such capture). */
typedef struct sv_match {
    char buf[SV_ROUTE_PATH];
    char *seg[SV_ROUTE_SEGS];
    int n;
    char cap[3][SV_ROUTE_PATH];
    const char *m, *v, *key;
} sv_match;

typedef struct sv_server sv_server;
typedef struct sv_req sv_req;
typedef void (*sv_route_fn)(sv_server *s, sv_req *r, const sv_match *mt);

typedef struct sv_route {
    const char *method;  /* "GET", "POST" */
    const char *pattern; /* "/v2/models/{m}/versions/{v}/infer" */
    sv_auth auth;        /* none, the API token, the admin token */
    const char *label;   /* the route's label in metrics and the access log */
    sv_route_fn fn;
    int flags;           /* SV_ROUTE_VERBS, SV_ROUTE_PREFIX */
} sv_route;

/* Split "/a/b/c" into mt's segments (a trailing slash is dropped). */
void sv_route_split(const char *path, sv_match *mt);

/* The entry of table t[0..n) for method and mt's path, with mt's captures set from it.
 * NULL when none: then *path_hit is the first entry whose pattern matched the path with
 * another method (captures set from it, `allow` the methods those entries take, ", "
 * between), or NULL when no pattern matched at all (404). */
const sv_route *sv_route_find(const sv_route *t, int n, const char *method, sv_match *mt,
                              const sv_route **path_hit, char *allow, size_t cap);

#endif
