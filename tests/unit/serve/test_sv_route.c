/* test_sv_route.c: the route table of `mlship serve` (src/serve/sv_routes.c) through its
 * matcher (src/serve/sv_route.c). The expectations are the routes sv_routes.h documents, and
 * the near-misses around each: the wrong method is a 405 naming the allowed ones, an unknown
 * path a 404, a TF-Serving verb other than :predict matches nothing, a bad name still matches
 * (the dispatcher answers it 400). Every table entry is also reached from its own pattern. */
#include <stdio.h>
#include <string.h>

#include "mstest.h"
#include "serve/sv_int.h"

typedef struct rcase {
    const char *method, *path;
    int want;                  /* 0: a route, else 404 or 405 */
    const char *label;         /* the route's (0), the path-matched entry's (405) */
    const char *m, *v, *key;   /* captures, NULL: none */
    const char *allow;         /* 405 */
    sv_auth auth;              /* 0 */
} rcase;

static const rcase cases[] = {
    {"POST", "/predict", 0, "predict", NULL, NULL, NULL, NULL, SV_AUTH_API},
    {"GET", "/predict", 405, "predict", NULL, NULL, NULL, "POST", 0},
    {"POST", "/predict/", 0, "predict", NULL, NULL, NULL, NULL, SV_AUTH_API},
    {"POST", "/predictx", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v2", 0, "metadata", NULL, NULL, NULL, NULL, SV_AUTH_NONE},
    {"POST", "/v2", 405, "metadata", NULL, NULL, NULL, "GET", 0},
    {"GET", "/v2/health/live", 0, "health", NULL, NULL, NULL, NULL, SV_AUTH_NONE},
    {"GET", "/v2/health/ready", 0, "health", NULL, NULL, NULL, NULL, SV_AUTH_NONE},
    {"GET", "/v2/health/dead", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v2/models/fraud", 0, "metadata", "fraud", NULL, NULL, NULL, SV_AUTH_API},
    {"GET", "/v2/models/fraud/", 0, "metadata", "fraud", NULL, NULL, NULL, SV_AUTH_API},
    {"GET", "/v2/models/fraud/versions/3", 0, "metadata", "fraud", "3", NULL, NULL, SV_AUTH_API},
    {"GET", "/v2/models/fraud/versions/ready", 0, "metadata", "fraud", "ready", NULL, NULL, SV_AUTH_API},
    {"GET", "/v2/models/fraud/versions", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v2/models/fraud/ready", 0, "ready", "fraud", NULL, NULL, NULL, SV_AUTH_API},
    {"GET", "/v2/models/fraud/versions/2/ready", 0, "ready", "fraud", "2", NULL, NULL, SV_AUTH_API},
    {"POST", "/v2/models/fraud/ready", 405, "ready", "fraud", NULL, NULL, "GET", 0},
    {"POST", "/v2/models/fraud/infer", 0, "infer", "fraud", NULL, NULL, NULL, SV_AUTH_API},
    {"POST", "/v2/models/fraud/versions/7/infer", 0, "infer", "fraud", "7", NULL, NULL, SV_AUTH_API},
    {"GET", "/v2/models/fraud/infer", 405, "infer", "fraud", NULL, NULL, "POST", 0},
    {"POST", "/v2/models/fraud/infer/x", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"POST", "/v2/models/fraud/explain", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v2/models", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v2/models/a:b", 0, "metadata", "a:b", NULL, NULL, NULL, SV_AUTH_API},
    {"POST", "/v2/models//infer", 0, "infer", "", NULL, NULL, NULL, SV_AUTH_API},
    {"POST", "/v2/repository/index", 0, "repository", NULL, NULL, NULL, NULL, SV_AUTH_ADMIN},
    {"GET", "/v2/repository/index", 405, "repository", NULL, NULL, NULL, "POST", 0},
    {"POST", "/v2/repository/models/fraud/load", 0, "repository", "fraud", NULL, NULL, NULL, SV_AUTH_ADMIN},
    {"POST", "/v2/repository/models/fraud/unload", 0, "repository", "fraud", NULL, NULL, NULL, SV_AUTH_ADMIN},
    {"POST", "/v2/repository/models/fraud/delete", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"POST", "/v2/repository", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v1/models/fraud/predictions/k1", 0, "predictions", "fraud", NULL, "k1", NULL, SV_AUTH_API},
    {"GET", "/v1/models/fraud/predictions/a:b", 0, "predictions", "fraud", NULL, "a:b", NULL, SV_AUTH_API},
    {"POST", "/v1/models/fraud/predictions/k1", 0, "trigger", "fraud", NULL, "k1", NULL, SV_AUTH_API},
    {"DELETE", "/v1/models/fraud/predictions/k1", 405, "predictions", "fraud", NULL, "k1", "GET, POST", 0},
    {"GET", "/v1/tickets/tk-1f", 0, "tickets", NULL, NULL, "tk-1f", NULL, SV_AUTH_API},
    {"POST", "/v1/tickets/tk-1f", 405, "tickets", NULL, NULL, "tk-1f", "GET", 0},
    {"GET", "/v1/tickets", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v1/tickets/a/b", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"POST", "/v1/models/fraud/predictions", 0, "predictions", "fraud", NULL, NULL, NULL, SV_AUTH_API},
    {"GET", "/v1/models/fraud/predictions", 405, "predictions", "fraud", NULL, NULL, "POST", 0},
    {"GET", "/v1/models/fraud/predictions/k1/x", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v1/models/fraud", 0, "metadata", "fraud", NULL, NULL, NULL, SV_AUTH_API},
    {"POST", "/v1/models/fraud", 405, "metadata", "fraud", NULL, NULL, "GET", 0},
    {"POST", "/v1/models/fraud:predict", 0, "v1_predict", "fraud", NULL, NULL, NULL, SV_AUTH_API},
    {"GET", "/v1/models/fraud:predict", 405, "v1_predict", "fraud", NULL, NULL, "POST", 0},
    {"POST", "/v1/models/:predict", 0, "v1_predict", "", NULL, NULL, NULL, SV_AUTH_API},
    {"POST", "/v1/models/fraud:classify", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v1/models/fraud:classify", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"POST", "/v1/models/fraud:predict:predict", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"POST", "/v1/models/fraud:predictx", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/metrics", 0, "metrics", NULL, NULL, NULL, NULL, SV_AUTH_NONE},
    {"DELETE", "/metrics", 405, "metrics", NULL, NULL, NULL, "GET", 0},
    {"get", "/metrics", 405, "metrics", NULL, NULL, NULL, "GET", 0},
    {"GET", "/edge/gb/manifest.json", 0, "edge", NULL, NULL, NULL, NULL, SV_AUTH_NONE},
    {"HEAD", "/edge/blobs/ab12", 0, "edge", NULL, NULL, NULL, NULL, SV_AUTH_NONE},
    {"GET", "/edge/a/b/c/d/e/f/g/h/i/j", 0, "edge", NULL, NULL, NULL, NULL, SV_AUTH_NONE},
    {"POST", "/edge/gb/manifest.json", 405, "edge", NULL, NULL, NULL, "GET, HEAD", 0},
    {"GET", "/edgex/gb", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v3/models/fraud", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/V2", 404, NULL, NULL, NULL, NULL, NULL, 0},
    {"GET", "/v2/models/fraud/versions/3/ready/a/b/c/d", 404, NULL, NULL, NULL, NULL, NULL, 0},
};

static int same(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }
static const char *show(const char *s) { return s ? s : "(none)"; }

TEST(table_cases)
{
    int n;
    const sv_route *t = sv_routes_table(&n);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rcase *c = &cases[i];
        sv_match mt;
        const sv_route *hit;
        char allow[64];
        sv_route_split(c->path, &mt);
        const sv_route *rt = sv_route_find(t, n, c->method, &mt, &hit, allow, sizeof allow);
        int got = rt ? 0 : hit ? 405 : 404;
        CHECK_MSG(got == c->want, "%s %s: got %d, want %d", c->method, c->path, got, c->want);
        if (got != c->want || got == 404) continue;
        CHECK_MSG(same(hit->label, c->label), "%s %s: label %s, want %s", c->method, c->path, hit->label, c->label);
        CHECK_MSG(same(mt.m, c->m) && same(mt.v, c->v) && same(mt.key, c->key), "%s %s: captured m=%s v=%s key=%s",
                  c->method, c->path, show(mt.m), show(mt.v), show(mt.key));
        if (got == 405) CHECK_MSG(strcmp(allow, c->allow) == 0, "%s %s: allow '%s', want '%s'", c->method, c->path, allow, c->allow);
        else CHECK_MSG(rt->auth == c->auth && rt->fn, "%s %s: auth %d, want %d", c->method, c->path, (int)rt->auth, (int)c->auth);
    }
}

/* Each entry, asked for with its own pattern (captures filled in), is found: no entry is
 * shadowed by an earlier one. */
TEST(every_entry_reachable)
{
    int n;
    const sv_route *t = sv_routes_table(&n);
    CHECK(n >= 18);
    for (int i = 0; i < n; i++) {
        char path[256] = "";
        size_t k = 0;
        for (const char *p = t[i].pattern; *p && k + 8 < sizeof path;) {
            if (*p == '{') { k += (size_t)snprintf(path + k, sizeof path - k, "x%d", i); p = strchr(p, '}') + 1; }
            else path[k++] = *p++;
        }
        path[k] = 0;
        sv_match mt;
        const sv_route *hit;
        char allow[64];
        sv_route_split(path, &mt);
        const sv_route *rt = sv_route_find(t, n, t[i].method, &mt, &hit, allow, sizeof allow);
        CHECK_MSG(rt == &t[i], "%s %s (from %s): found entry %d", t[i].method, path, t[i].pattern, rt ? (int)(rt - t) : -1);
    }
}

/* Two entries on one path with different methods: 405 lists both, in table order, once each. */
static void nop(sv_server *s, sv_req *r, const sv_match *mt) { (void)s, (void)r, (void)mt; }

TEST(allow_lists_every_method)
{
    static const sv_route t[] = {
        {"GET", "/a/{m}", SV_AUTH_NONE, "get", nop, 0},
        {"PUT", "/a/{m}", SV_AUTH_NONE, "put", nop, 0},
        {"GET", "/a/{m}", SV_AUTH_NONE, "again", nop, 0},
        {"POST", "/a/{m}:run", SV_AUTH_NONE, "run", nop, 0},
    };
    sv_match mt;
    const sv_route *hit;
    char allow[64];
    sv_route_split("/a/b", &mt);
    CHECK(sv_route_find(t, 4, "POST", &mt, &hit, allow, sizeof allow) == NULL);
    CHECK(hit == &t[0] && strcmp(allow, "GET, PUT") == 0 && same(mt.m, "b"));
    sv_route_split("/a/b:run", &mt); /* no SV_ROUTE_VERBS: the plain capture takes "b:run" too */
    CHECK(sv_route_find(t, 4, "GET", &mt, &hit, allow, sizeof allow) == &t[0] && same(mt.m, "b:run"));
    CHECK(sv_route_find(t, 4, "POST", &mt, &hit, allow, sizeof allow) == &t[3] && same(mt.m, "b"));
    /* a path longer than the matcher looks at matches nothing */
    char longp[2100];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = 0;
    sv_route_split(longp, &mt);
    CHECK(sv_route_find(t, 4, "GET", &mt, &hit, allow, sizeof allow) == NULL && !hit);
}

int main(void)
{
    RUN(table_cases);
    RUN(every_entry_reachable);
    RUN(allow_lists_every_method);
    return mstest_summary();
}
