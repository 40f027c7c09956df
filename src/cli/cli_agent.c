/* cli_agent.c: `mlship agent`: the device side of edge deployment. The update logic is
 * src/edge/agent/ag_agent.h; this file is the glue to serve's HTTP code, which the edge layer
 * may not include: local predictions go through serve's own repository and route table
 * (sv_repo, sv_routes), so the agent answers exactly what `mlship serve` answers, plus
 * GET /v1/agent/status and the agent's lines in /metrics.
 *
 * Serving: STATE/serve/NAME/<version>/model.onnx is a symlink to the active slot's file, and
 * STATE/serve is an sv_repo. A swap adds the new version's directory, rescans (the repository
 * loads, plans and warms it, then serves it as the highest version), and only then removes
 * the old one; requests holding the old version finish on it (sv_repo's reference counts). */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/bs_error.h"
#include "cli/cli_common.h"
#include "edge/agent/ag_agent.h"
#include "serve/sv_http.h"
#include "serve/sv_log.h"
#include "serve/sv_repo.h"
#include "serve/sv_routes.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship agent --state DIR --backend URL --name NAME --pubkey KEY [options]\n"
            "       mlship agent predict --state DIR [INPUT...] [predict options]\n"
            "\n"
            "Serve a model locally and keep it up to date from a backend that hosts a directory\n"
            "written by `mlship edge publish` (nginx, an object store, `mlship serve`). Every\n"
            "update is checked before it serves: signature against the pinned key, version\n"
            "above every version confirmed before (anti-rollback, kept in DIR), expiry, size,\n"
            "SHA-256, load, warm-up, golden inputs. A failed update is quarantined with its\n"
            "reason and the current model keeps serving; a new model that dies with the agent\n"
            "twice before it is confirmed is reverted at the next start. Starts and serves\n"
            "from DIR with the backend unreachable. docs/agent.md has the details.\n"
            "\n"
            "  --state DIR         the agent's state: two model slots, state.json (created)\n"
            "  --backend URL       base URL of the publish directory (http:// or https://)\n"
            "  --name NAME         the model to follow (URL/NAME/manifest.json)\n"
            "  --pubkey KEY        the publisher's public key: 64 hex digits or a KEYFILE.pub\n"
            "  --listen HOST:PORT  where local predictions are served (default 127.0.0.1:8090;\n"
            "                      port 0 picks one, printed at start)\n"
            "  --socket PATH       serve on a Unix socket instead (mode 0660; a stale socket\n"
            "                      file is replaced; curl --unix-socket PATH http://agent/...)\n"
            "  --poll-s N          seconds between update checks (default 30)\n"
            "  --confirm-s N       a new model serving this long is confirmed (default 10)\n"
            "  --max-blob BYTES    refuse larger models (default 268435456)\n"
            "  --connect-s N       backend connect timeout (default 5)\n"
            "  --stall-s N         abort a transfer stalled this long (default 30)\n"
            "  --threads N         HTTP threads (default 2)\n"
            "  --api-token T       require 'Authorization: Bearer T' on prediction routes\n"
            "  --features-url URL  the `mlship serve` whose GET /v1/features/T the manifest's\n"
            "                      feature tables are synced from (default: --backend without a\n"
            "                      trailing /edge)\n"
            "  --backend-token T   that server's --api-token (default $MLSHIP_BACKEND_TOKEN)\n"
            "  --page-rows N       feature rows per request (default 5000)\n"
            "  -h, --help          show this help\n"
            "\n"
            "Routes: those of `mlship serve` (POST /predict, /v2/models/NAME/infer,\n"
            "/v1/models/NAME:predict, health, metadata, /metrics with mlship_agent_* lines)\n"
            "and GET /v1/agent/status (version serving, slot, trial or confirmed, last check and\n"
            "its result, last error, quarantined versions with reasons, bytes downloaded, each\n"
            "feature table's rows, cursor, last sync and ages), GET /v1/agent/features/T/KEY\n"
            "(one cached row with its age). The manifest's feature tables (edge publish\n"
            "--features) are kept in DIR/features.db; /v1/models/NAME:predict {\"keys\": [..]}\n"
            "reads the first one (all its columns, in the backend table's order), offline too.\n"
            "\n"
            "agent predict runs `mlship predict` on the active model of DIR without a server.\n"
            "\n"
            "exit status: 0 after SIGTERM/SIGINT, 1 runtime failure, 2 bad usage.\n");
}

typedef struct agent_ctx {
    sv_server server;
    ag_agent *agent;
    char serve_dir[PATH_MAX], name[SV_NAME_MAX];
    char cache_abs[PATH_MAX + 20]; /* STATE/features.db, absolute (config.json's store) */
} agent_ctx;

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) { unlink(path); return; }
    struct dirent *e;
    char p[PATH_MAX + 300];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(p);
            else unlink(p);
        }
    closedir(d);
    rmdir(path);
}

/* Remove every version directory of the model but `keep`. */
static void drop_others(agent_ctx *c, const char *keep)
{
    char dir[PATH_MAX + 200], p[PATH_MAX + 500];
    snprintf(dir, sizeof dir, "%s/%s", c->serve_dir, c->name);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strcmp(e->d_name, keep) != 0 && strcmp(e->d_name, "config.json") != 0) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            rm_tree(p);
        }
    closedir(d);
}

/* ag_swap_fn: serve `model_path` as name/version, then stop serving the others. */
/* ag_schema_fn: keyed predictions read the cache: STATE/serve/NAME/config.json names it,
 * rewritten only when it changes (a new config.json makes the repository reload). */
static void on_schema(void *ctx, const char *table, const char *key, char *const *cols, int n)
{
    agent_ctx *c = ctx;
    char dir[PATH_MAX + 200], path[PATH_MAX + 300], tmp[PATH_MAX + 320];
    mc_buf b = {0}, old = {0};
    mc_buf_puts(&b, "{\"features\": {\"store\": ");
    char url[sizeof c->cache_abs + 16];
    snprintf(url, sizeof url, "sqlite://%s", c->cache_abs);
    mc_buf_put_json_str(&b, url);
    mc_buf_puts(&b, ", \"table\": ");
    mc_buf_put_json_str(&b, table);
    mc_buf_puts(&b, ", \"key\": ");
    mc_buf_put_json_str(&b, key);
    mc_buf_puts(&b, ", \"columns\": [");
    for (int i = 0; i < n; i++) {
        if (i) mc_buf_puts(&b, ", ");
        mc_buf_put_json_str(&b, cols[i]);
    }
    mc_buf_puts(&b, "]}}\n");
    snprintf(dir, sizeof dir, "%s/%s", c->serve_dir, c->name);
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ms_error err = {{0}};
    int same = mc_read_file(path, &old, &err) == MS_OK && old.len == b.len && memcmp(old.data, b.data, b.len) == 0;
    FILE *f = NULL;
    if (!same && !mc_buf_failed(&b) && (mkdir(dir, 0755) == 0 || errno == EEXIST) && (f = fopen(tmp, "w"))) {
        int ok = fwrite(b.data, 1, b.len, f) == b.len;
        if (fclose(f) == 0 && ok && rename(tmp, path) == 0) {
            sv_log_event("keyed predictions of '%s' read feature table '%s' from %s", c->name, table, c->cache_abs);
            if (c->server.repo) sv_repo_poll(c->server.repo);
        } else unlink(tmp);
    }
    mc_buf_free(&b);
    mc_buf_free(&old);
}

static ms_status swap(void *ctx, const char *name, int64_t version, const char *model_path, ms_error *err)
{
    agent_ctx *c = ctx;
    char ver[32], abs[PATH_MAX], tmp[PATH_MAX + 100], link[PATH_MAX + 300], dst[PATH_MAX + 200];
    snprintf(ver, sizeof ver, "%lld", (long long)version);
    if (!realpath(model_path, abs)) return bs_fail(err, MS_ERR_RUNTIME, "'%s': %s", model_path, strerror(errno));
    snprintf(tmp, sizeof tmp, "%s/.new", c->serve_dir);
    rm_tree(tmp);
    const char *base = strrchr(abs, '/') + 1;
    snprintf(link, sizeof link, "%s/%s", tmp, base);
    snprintf(dst, sizeof dst, "%s/%s", c->serve_dir, name);
    if ((mkdir(dst, 0755) != 0 && errno != EEXIST) || mkdir(tmp, 0755) != 0 || symlink(abs, link) != 0)
        return bs_fail(err, MS_ERR_RUNTIME, "cannot prepare '%s': %s", tmp, strerror(errno));
    snprintf(dst, sizeof dst, "%s/%s/%s", c->serve_dir, name, ver);
    rm_tree(dst);
    if (rename(tmp, dst) != 0) return bs_fail(err, MS_ERR_RUNTIME, "cannot rename '%s': %s", tmp, strerror(errno));
    sv_repo_poll(c->server.repo);
    sv_version *v = NULL;
    char why[300];
    if (sv_repo_acquire(c->server.repo, name, ver, &v, why, sizeof why) != 0) {
        char ready[600] = "";
        sv_repo_ready(c->server.repo, ready, sizeof ready);
        rm_tree(dst);
        sv_repo_poll(c->server.repo);
        return bs_fail(err, MS_ERR_INVALID, "the server refused it: %s", ready[0] ? ready : why);
    }
    sv_version_release(v);
    drop_others(c, ver);
    sv_repo_poll(c->server.repo);
    return MS_OK;
}

/* The agent's own routes take the same bearer token as its prediction routes. 0: allowed. */
static int check_agent_token(agent_ctx *c, sv_req *r)
{
    const char *h = sv_req_header(r, "Authorization");
    size_t n = strlen(c->server.api_token);
    if (h && strncmp(h, "Bearer ", 7) == 0 && strlen(h + 7) == n && memcmp(h + 7, c->server.api_token, n) == 0) return 0;
    sv_req_add_header(r, "WWW-Authenticate", "Bearer");
    sv_req_error(r, 401, "%s: send 'Authorization: Bearer <token>' (--api-token)", h ? "wrong API token" : "missing API token");
    return 1;
}

/* GET /v1/agent/features/TABLE/KEY: one cached row and its age. */
static void feature_row(agent_ctx *c, sv_req *r)
{
    char table[128], key[600];
    const char *p = r->path + strlen("/v1/agent/features/"), *slash = strchr(p, '/');
    snprintf(r->route, sizeof r->route, "agent_features");
    if (!slash || (size_t)(slash - p) >= sizeof table || strlen(slash + 1) >= sizeof key || !slash[1]) {
        sv_req_error(r, 404, "no route %s %s (GET /v1/agent/features/TABLE/KEY)", r->method, r->path);
        return;
    }
    snprintf(table, sizeof table, "%.*s", (int)(slash - p), p);
    snprintf(key, sizeof key, "%s", slash + 1);
    int found = 0;
    ms_error err = {{0}};
    if (ag_agent_feature_row(c->agent, table, key, &r->out, &found, &err) != MS_OK) sv_req_error(r, 404, "%s", err.msg);
    else if (!found) sv_req_error(r, 404, "feature table '%s': key '%s' is not in the cache", table, key);
    else r->status = 200;
}

static void handle(void *ctx, sv_req *r)
{
    agent_ctx *c = ctx;
    if (strncmp(r->path, "/v1/agent/features/", 19) == 0 && strcmp(r->method, "GET") == 0) {
        if (c->server.api_token && check_agent_token(c, r)) return;
        feature_row(c, r);
        return;
    }
    if (strcmp(r->path, "/v1/agent/status") == 0) {
        snprintf(r->route, sizeof r->route, "agent_status");
        if (strcmp(r->method, "GET") != 0) {
            sv_req_add_header(r, "Allow", "GET");
            sv_req_error(r, 405, "%s is not allowed on %s (allowed: GET)", r->method, r->path);
            return;
        }
        ag_agent_status_json(c->agent, &r->out);
        r->status = 200;
        return;
    }
    sv_routes_handle(&c->server, r);
    if (strcmp(r->path, "/metrics") == 0 && r->status == 200) ag_agent_metrics(c->agent, &r->out);
}

static void done(void *ctx, sv_req *r, const char *remote, uint64_t bytes_out)
{
    agent_ctx *c = ctx;
    sv_routes_done(&c->server, r, remote, bytes_out);
}

static int agent_predict(int argc, char **argv)
{
    const char *state = NULL;
    char **rest = calloc((size_t)argc + 2, sizeof *rest);
    if (!rest) return cli_fail("agent predict", MS_ERR_RUNTIME, "out of memory");
    int n = 2;
    for (int i = 1; i < argc; i++) {
        const char *val;
        if (cli_is_help(argv[i])) { free(rest); usage(stdout); return 0; }
        int rc = cli_opt(argc, argv, &i, "--state", &val);
        if (rc < 0) { free(rest); return cli_usage_error("agent predict", "--state needs a value"); }
        if (rc > 0) state = val;
        else rest[n++] = argv[i];
    }
    if (!state) { free(rest); return cli_usage_error("agent predict", "give --state DIR"); }
    char path[PATH_MAX];
    int64_t version;
    ms_error err = {{0}};
    if (ag_active_model(state, path, sizeof path, &version, &err) != MS_OK) {
        free(rest);
        return cli_fail("agent predict", MS_ERR_INVALID, err.msg);
    }
    rest[0] = "predict";
    rest[1] = path;
    int rc = cli_predict(n, rest);
    free(rest);
    return rc;
}

typedef struct agent_args {
    const char *state, *backend, *name, *pubkey, *listen, *socket, *api, *features_url, *backend_token;
    long poll_s, confirm_s, max_blob, connect_s, stall_s, threads, page_rows;
} agent_args;

static int parse(int argc, char **argv, agent_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        if (cli_is_help(arg)) { usage(stdout); return -1; }
        struct { const char *name; const char **s; long *n; long lo, hi; } opts[] = {
            {"--state", &a->state, NULL, 0, 0},   {"--backend", &a->backend, NULL, 0, 0},
            {"--name", &a->name, NULL, 0, 0},     {"--pubkey", &a->pubkey, NULL, 0, 0},
            {"--listen", &a->listen, NULL, 0, 0}, {"--api-token", &a->api, NULL, 0, 0},
            {"--socket", &a->socket, NULL, 0, 0},
            {"--poll-s", NULL, &a->poll_s, 1, 86400},   {"--confirm-s", NULL, &a->confirm_s, 0, 86400},
            {"--max-blob", NULL, &a->max_blob, 1, 1L << 40}, {"--connect-s", NULL, &a->connect_s, 1, 600},
            {"--stall-s", NULL, &a->stall_s, 1, 3600},  {"--threads", NULL, &a->threads, 1, 256},
            {"--features-url", &a->features_url, NULL, 0, 0}, {"--backend-token", &a->backend_token, NULL, 0, 0},
            {"--page-rows", NULL, &a->page_rows, 1, 100000},
        };
        int matched = 0;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched; k++) {
            int rc = cli_opt(argc, argv, &i, opts[k].name, &val);
            if (rc == 0) continue;
            if (rc < 0) return cli_usage_error("agent", "option '%s' needs a value", opts[k].name);
            matched = 1;
            if (opts[k].s) *opts[k].s = val;
            else if (cli_parse_long(val, opts[k].lo, opts[k].hi, opts[k].n))
                return cli_usage_error("agent", "%s: '%s' is not an integer in [%ld, %ld]", opts[k].name, val, opts[k].lo,
                                       opts[k].hi);
        }
        if (!matched) return cli_usage_error("agent", "%s '%s'", arg[0] == '-' ? "unknown option" : "unexpected argument", arg);
    }
    if (!a->state || !a->backend || !a->name || !a->pubkey)
        return cli_usage_error("agent", "give --state DIR, --backend URL, --name NAME and --pubkey KEY");
    if (a->socket && a->listen)
        return cli_usage_error("agent", "give --listen HOST:PORT or --socket PATH, not both");
    if (a->socket && !a->socket[0]) return cli_usage_error("agent", "--socket needs a path");
    if (!a->listen) a->listen = "127.0.0.1:8090";
    if (!sv_name_ok(a->name)) return cli_usage_error("agent", "--name: invalid model name '%s' ([A-Za-z0-9._-]+)", a->name);
    if (strncmp(a->backend, "http://", 7) != 0 && strncmp(a->backend, "https://", 8) != 0)
        return cli_usage_error("agent", "--backend '%s' must be an http:// or https:// URL", a->backend);
    return 0;
}

/* "127.0.0.1:8090" -> host and port. */
static int split_listen(const char *s, char *host, size_t cap, long *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= cap) return -1;
    snprintf(host, cap, "%.*s", (int)(colon - s), s[0] == '[' ? s + 1 : s);
    size_t n = strlen(host);
    if (n && host[n - 1] == ']') host[n - 1] = 0;
    return cli_parse_long(colon + 1, 0, 65535, port);
}

/* STATE/serve, emptied: what serves is rebuilt from state.json at every start. */
static ms_status open_repo(agent_ctx *c, const char *state, ms_error *err)
{
    snprintf(c->serve_dir, sizeof c->serve_dir, "%s/serve", state);
    if (mkdir(state, 0755) != 0 && errno != EEXIST)
        return bs_fail(err, MS_ERR_INVALID, "--state '%s': %s", state, strerror(errno));
    rm_tree(c->serve_dir);
    if (mkdir(c->serve_dir, 0755) != 0) return bs_fail(err, MS_ERR_RUNTIME, "cannot create '%s': %s", c->serve_dir, strerror(errno));
    return sv_repo_open_dir(c->serve_dir, NULL, &c->server.repo, err);
}

static void run_loop(agent_ctx *c, long poll_s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    uint64_t next = 0;
    for (;;) {
        if (bs_now_ns() >= next) {
 ag_agent_check(c->agent);
            ag_agent_sync(c->agent);
            next = bs_now_ns() + (uint64_t)poll_s * 1000000000u;
        }
        ag_agent_tick(c->agent);
        struct timespec ts = {0, 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) return;
    }
}

/* --backend without a trailing "/edge": where `mlship serve --edge-dir` answers the API. */
static void default_features_url(const char *backend, char *dst, size_t cap)
{
    size_t n = strlen(backend);
    while (n && backend[n - 1] == '/') n--;
    if (n >= 5 && strncmp(backend + n - 5, "/edge", 5) == 0) n -= 5;
    snprintf(dst, cap, "%.*s", (int)n, backend);
}

int cli_agent(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "predict") == 0) return agent_predict(argc - 1, argv + 1);
    agent_args a = {.api = getenv("MLSHIP_API_TOKEN"), .poll_s = 30, .confirm_s = 10,
                    .max_blob = 256L << 20, .connect_s = 5, .stall_s = 30, .threads = 2,
                    .backend_token = getenv("MLSHIP_BACKEND_TOKEN"), .page_rows = 5000};
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    char host[256];
    long port;
    if (split_listen(a.listen, host, sizeof host, &port))
        return cli_usage_error("agent", "--listen '%s' is not HOST:PORT", a.listen);
    static agent_ctx c;
    snprintf(c.name, sizeof c.name, "%s", a.name);
    char furl[4096];
    if (a.features_url) snprintf(furl, sizeof furl, "%s", a.features_url);
    else default_features_url(a.backend, furl, sizeof furl);
    ag_opts o = {a.state, a.backend, a.name, {0}, a.max_blob, a.confirm_s, {a.connect_s, a.stall_s, a.backend_token},
                 swap, &c, furl, (int)a.page_rows, on_schema, &c};
    ms_error err = {{0}};
    if (ag_read_public(a.pubkey, o.pk, &err) != MS_OK) return cli_fail("agent", MS_ERR_INVALID, err.msg);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    ms_status st = open_repo(&c, a.state, &err);
    if (st == MS_OK) {
        char abs[PATH_MAX];
        if (realpath(a.state, abs)) snprintf(c.cache_abs, sizeof c.cache_abs, "%s/features.db", abs);
        else st = bs_fail(&err, MS_ERR_INVALID, "--state '%s': %s", a.state, strerror(errno));
    }
    if (st != MS_OK) return cli_fail("agent", st, err.msg);
    c.server.api_token = a.api && a.api[0] ? a.api : NULL;
    c.server.timeout_ms = 30000;
    pthread_mutex_init(&c.server.pool_mu, NULL);
    if ((st = ag_agent_open(&o, &c.agent, &err)) != MS_OK) {
        sv_repo_free(c.server.repo);
        return cli_fail("agent", st, err.msg);
    }
    sv_http_opts ho = {host, (int)port, (int)a.threads, 16u << 20, 60, handle, done, &c, 0, a.socket};
    sv_http *http = NULL;
    if ((st = sv_http_start(&ho, &http, &err)) != MS_OK) {
        ag_agent_free(c.agent);
        sv_repo_free(c.server.repo);
        return cli_fail("agent", st, err.msg);
    }
    if (a.socket)
        sv_log_event("agent listening on unix:%s (model %s, version %lld serving, backend %s)", a.socket, a.name,
                     (long long)ag_agent_serving(c.agent), a.backend);
    else
        sv_log_event("agent listening on http://%s:%d (model %s, version %lld serving, backend %s)", host,
                     sv_http_port(http), a.name, (long long)ag_agent_serving(c.agent), a.backend);
    run_loop(&c, a.poll_s);
    atomic_store(&c.server.draining, 1);
    sv_http_quiesce(http);
    for (int i = 0; i < 1000 && sv_http_inflight(http) > 0; i++) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    sv_http_stop(http);
    if (a.socket) unlink(a.socket); /* ours: nobody else could bind it while we listened */
    ag_agent_free(c.agent);
    sv_routes_free_pool(&c.server);
    sv_repo_free(c.server.repo);
    sv_log_event("agent stopped");
    return 0;
}
