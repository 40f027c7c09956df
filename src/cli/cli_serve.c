/* cli_serve.c: `mlship serve`: the real-time HTTP inference server (src/serve/).
 *
 * Flow: parse options, open the model repository (loads, plans and warms every model), open
 * the access log, start HTTP, then the main thread waits for signals and rescans the
 * repository every --poll-ms. SIGTERM/SIGINT: stop accepting, let in-flight requests finish
 * (at most --drain-ms), then exit 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "serve/sv_http.h"
#include "serve/sv_log.h"
#include "serve/sv_repo.h"
#include "serve/sv_routes.h"
#include "serve/sv_sched.h"
#include "serve/sv_stream.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship serve --models DIR | --model PATH [options]\n"
            "\n"
            "Serve models over HTTP/1.1 (keep-alive): the Open Inference Protocol (KServe V2,\n"
            "as Triton speaks it, with the binary tensor data extension), the tutorial's\n"
            "POST /predict {\"features\": [..]}, and TF-Serving's POST /v1/models/M:predict.\n"
            "\n"
            "  --models DIR        a model repository: DIR/<name>/<version>/model.onnx (or\n"
            "                      XGBoost model.json), optional DIR/<name>/config.json;\n"
            "                      rescanned for new, changed and removed versions (hot reload);\n"
            "                      a DIR where nothing loads is served (not ready, with the\n"
            "                      reason in /v2/health/ready) after a warning on stderr\n"
            "  --require-models    exit 2 at start unless every model in DIR serves a version\n"
            "  --model PATH        one model file, served as model 'default' version '1'\n"
            "  --host H            address to bind (default 127.0.0.1)\n"
            "  --port N            port (default 8080; 0 picks a free one, printed at start);\n"
            "                      a port another server listens on is an error (exit 1)\n"
            "  --reuse-port        share the port with other servers started with --reuse-port\n"
            "                      (SO_REUSEPORT: the kernel spreads connections over them)\n"
            "  --store URL         feature store for models whose config.json names no store:\n"
            "                      sqlite:///abs.db, sqlite://rel.db, postgresql://..., redis://...\n"
            "  --admin-token T     bearer token for the repository API (POST /v2/repository/...);\n"
            "                      default $MLSHIP_ADMIN_TOKEN; without one that API answers 403\n"
            "  --api-token T       require 'Authorization: Bearer T' on inference and metadata\n"
            "                      routes (health and /metrics stay open); default $MLSHIP_API_TOKEN\n"
            "  --max-body BYTES    largest request body (default 16777216); larger gets 413\n"
            "  --timeout-ms N      per-request time limit in the server (default 30000; 0: none);\n"
            "                      a request still queued past it gets 504\n"
            "  --threads N         HTTP event-loop threads (default: the number of CPUs)\n"
            "  --access-log FILE   append one JSON object per request to FILE\n"
            "  --poll-ms N         repository rescan period (default 1000; 0: only on\n"
            "                      POST /v2/repository/index)\n"
            "  --drain-ms N        on SIGTERM, wait at most this long for in-flight requests\n"
            "                      (default 30000)\n"
            "  --schedule CRON     run a batch job at these times (\"0 2 * * *\": daily at 02:00\n"
            "                      local time; `mlship batch next-runs CRON` shows them): score\n"
            "                      --batch-input with the serving version of --batch-model and\n"
            "                      publish into --store; one job at a time, state in /metrics\n"
            "  --batch-input SRC   the job's input: CSV, JSON Lines or \"sql:SELECT ...\"\n"
            "  --batch-key COL     the job's key column\n"
            "  --batch-model NAME  the model it scores (default: the default model)\n"
            "  --batch-features A,B,C  the job's feature columns (default: all but the key)\n"
            "  --batch-threads N   the job's scoring threads (default 1)\n"
            "  --queue URL         streaming: POST /v1/models/M/predictions/KEY answers a fresh\n"
            "                      stored prediction or enqueues an event on URL and answers a\n"
            "                      ticket (GET /v1/tickets/T long-polls its result); needs\n"
            "                      --store (tickets and results live there). sqlite:///q.db,\n"
            "                      sqlite://rel.db, redis://host:port/STREAM\n"
            "  --partitions N      --queue is a partitioned Redis queue of N partitions (as the\n"
            "                      URL's ?partitions=N; docs/partitions.md): events go to the\n"
            "                      partition of their key, stream workers own partitions\n"
            "  --stream-workers N  run N stream workers in the server, scoring the queue's\n"
            "                      events with this repository into --store (default 0)\n"
            "  --stream-retention S  delete stream results and tickets older than S seconds\n"
            "                      from --store, checked once a minute (default 604800: 7 days;\n"
            "                      0: keep everything)\n"
            "  --edge-dir DIR      also serve DIR, a directory written by `mlship edge publish`,\n"
            "                      under /edge/ for devices: GET and HEAD with ETag and\n"
            "                      If-None-Match (304), one Range (206, 416), no listing, no\n"
            "                      symbolic links, nothing outside DIR; no token (what devices\n"
            "                      install is signed). Agents use --backend http://HOST:PORT/edge\n"
            "  -h, --help          show this help\n"
            "\n"
            "config.json: {\"default_version\": \"2\",\n"
            "              \"batching\": {\"max_batch_size\": 64, \"max_queue_delay_us\": 500,\n"
            "                           \"max_queue_size\": 1024},\n"
            "              \"features\": {\"store\": URL, \"table\": T, \"key\": COL,\n"
            "                           \"columns\": [\"f0\", ...]},\n"
            "              \"predict\": {\"output\": NAME, \"column\": 1},\n"
            "              \"batch\": {\"schedule\": \"0 2 * * *\", \"input\": SRC, \"key\": COL,\n"
            "                        \"features\": [..], \"store\": URL, \"threads\": 1, \"chunk\": 10000,\n"
            "                        \"keep\": 3, \"max_rejects\": -1, \"utc\": false},\n"
            "              \"missing\": \"reject\"}\n"
            "\"missing\": \"reject\" (default) refuses a row with a missing value (JSON null, NULL\n"
            "  in the feature store, NaN); \"nan\" feeds it as NaN, for models that define missing\n"
            "  values (tree ensembles with a NaN direction per split, XGBoost, a NaN Imputer;\n"
            "  for any other model the version does not load). Applies to requests and the\n"
            "  model's batch job. Infinities are always refused. A refused input is 400 (by key:\n"
            "  an \"errors\" entry for the key, as for an unknown key); a non-finite output is\n"
            "  422, or by key an \"errors\" entry; never a null prediction.\n"
            "\n"
            "Routes: GET /v2/health/live, /v2/health/ready, /v2, /v2/models/M[/versions/V],\n"
            "  .../ready; POST .../infer; POST /predict; GET /v1/models/M; POST\n"
            "  /v1/models/M:predict ({\"instances\": [..]} or {\"keys\": [..], \"overrides\": {..}});\n"
            "  GET /v1/models/M/predictions/KEY, POST /v1/models/M/predictions {\"keys\": [..]}\n"
            "  (the newest stored prediction, batch or stream, with its \"source\");\n"
            "  POST /v1/models/M/predictions/KEY, GET /v1/tickets/T[?wait_ms=N] (--queue);\n"
            "  POST /v2/repository/index, /v2/repository/models/M/load|unload; GET /metrics;\n"
            "  GET|HEAD /edge/PATH (--edge-dir).\n"
            "\n"
            "exit status: 0 after a clean shutdown (SIGTERM or SIGINT), 1 runtime failure\n"
            "(cannot listen, e.g. address already in use), 2 bad usage or a model that does not load\n"
            "(--model; --models with --require-models), 3 unsupported.\n");
}

/* A repository that serves nothing (or, with --require-models, a model that serves nothing) is
 * said at start, loudly: the server would otherwise answer 404 to every model, quietly. */
static ms_status check_repo(sv_repo *repo, const char *dir, int require)
{
    char why[1024], msg[1200];
    int ready = sv_repo_ready(repo, why, sizeof why);
    if (require && !ready) {
        snprintf(msg, sizeof msg, "--models '%s': %s (--require-models)", dir, why);
        return (ms_status)cli_fail("serve", MS_ERR_INVALID, msg);
    }
    if (!sv_repo_serving(repo))
        sv_log_event("WARNING: --models '%s': no model loaded: %s; serving nothing until a model appears "
                     "(--require-models makes this an error)", dir, why);
    return MS_OK;
}

int cli_serve(int argc, char **argv)
{
    const char *models = NULL, *model = NULL, *host = "127.0.0.1", *store = NULL;
    const char *admin = getenv("MLSHIP_ADMIN_TOKEN"), *api = getenv("MLSHIP_API_TOKEN");
    const char *access_log = NULL, *queue = NULL, *edge_dir = NULL;
    long stream_workers = 0, stream_retention = 604800, partitions = 0;
    const char *schedule = NULL, *b_input = NULL, *b_key = NULL, *b_model = NULL, *b_features = NULL;
    long b_threads = 1, minute_ms = 0, edge_rate = 0;
    int reuse_port = 0, require_models = 0;
    long port = 8080, max_body = 16L << 20, timeout_ms = 30000, threads = 0, poll_ms = 1000,
         drain_ms = 30000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (strcmp(a, "--reuse-port") == 0) { reuse_port = 1; continue; }
        if (strcmp(a, "--require-models") == 0) { require_models = 1; continue; }
        struct { const char *name; const char **s; long *n; long lo, hi; } opts[] = {
            {"--models", &models, NULL, 0, 0},      {"--model", &model, NULL, 0, 0},
            {"--host", &host, NULL, 0, 0},          {"--store", &store, NULL, 0, 0},
            {"--admin-token", &admin, NULL, 0, 0},  {"--api-token", &api, NULL, 0, 0},
            {"--access-log", &access_log, NULL, 0, 0},
            {"--port", NULL, &port, 0, 65535},      {"--max-body", NULL, &max_body, 1, 1L << 40},
            {"--timeout-ms", NULL, &timeout_ms, 0, 86400000L},
            {"--threads", NULL, &threads, 1, 1024}, {"--poll-ms", NULL, &poll_ms, 0, 86400000L},
            {"--drain-ms", NULL, &drain_ms, 0, 86400000L},
            {"--schedule", &schedule, NULL, 0, 0},  {"--batch-input", &b_input, NULL, 0, 0},
            {"--batch-key", &b_key, NULL, 0, 0},    {"--batch-model", &b_model, NULL, 0, 0},
            {"--batch-features", &b_features, NULL, 0, 0},
            {"--batch-threads", NULL, &b_threads, 1, 255},
            {"--queue", &queue, NULL, 0, 0},        {"--stream-workers", NULL, &stream_workers, 0, 64},
            {"--partitions", NULL, &partitions, 1, 1024},
            {"--stream-retention", NULL, &stream_retention, 0, 31622400L * 10},
            {"--edge-dir", &edge_dir, NULL, 0, 0},
            /* test-only, undocumented in --help: a cron minute lasts N ms (see sv_sched.h);
             * --edge-dir blobs go out at N bytes/s (a download slow enough to cut) */
            {"--test-minute-ms", NULL, &minute_ms, 1, 3600000L},
            {"--test-edge-rate", NULL, &edge_rate, 1, 1L << 30},
        };
        int matched = 0;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched; k++) {
            int rc = cli_opt(argc, argv, &i, opts[k].name, &val);
            if (rc == 0) continue;
            if (rc < 0) return cli_usage_error("serve", "option '%s' needs a value", opts[k].name);
            matched = 1;
            if (opts[k].s) *opts[k].s = val;
            else if (cli_parse_long(val, opts[k].lo, opts[k].hi, opts[k].n))
                return cli_usage_error("serve", "%s: '%s' is not an integer in [%ld, %ld]", opts[k].name, val,
                                       opts[k].lo, opts[k].hi);
        }
        if (!matched) {
            if (a[0] == '-') return cli_usage_error("serve", "unknown option '%s'", a);
            return cli_usage_error("serve", "unexpected argument '%s'", a);
        }
    }
    if (!models == !model) return cli_usage_error("serve", "give exactly one of --models DIR or --model PATH");
    if (require_models && !models) return cli_usage_error("serve", "--require-models goes with --models DIR");
    if (schedule && (!b_input || !b_key))
        return cli_usage_error("serve", "--schedule needs --batch-input SRC and --batch-key COL");
    if (!schedule && (b_input || b_key || b_model || b_features))
        return cli_usage_error("serve", "--batch-input, --batch-key, --batch-model and --batch-features go with --schedule");
    if (b_model && !sv_name_ok(b_model)) return cli_usage_error("serve", "--batch-model: invalid model name '%s'", b_model);
    if (queue && !store) return cli_usage_error("serve", "--queue needs --store URL (tickets and stream results are kept there)");
    if (stream_workers && !queue) return cli_usage_error("serve", "--stream-workers needs --queue URL");
    if (partitions && !queue) return cli_usage_error("serve", "--partitions needs --queue URL");
    char *parted = NULL; /* the queue URL with ?partitions=N; lives as long as the server */
    int prc = queue ? cli_queue_partitions("serve", queue, partitions, &parted) : 0;
    if (prc) return prc;
    if (parted) queue = parted;
    if (admin && !admin[0]) admin = NULL;
    if (api && !api[0]) api = NULL;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? n : 1;
    }

    /* Signals: every thread inherits the mask; the main thread takes them with sigtimedwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    ms_error err = {{0}};
    int edge_fd = -1;
    if (edge_dir && (edge_fd = open(edge_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return cli_usage_error("serve", "--edge-dir '%s': %s", edge_dir, strerror(errno));
    sv_repo *repo = NULL;
    ms_status st = models ? sv_repo_open_dir(models, store, &repo, &err) : sv_repo_open_file(model, store, &repo, &err);
    if (st != MS_OK) return cli_fail("serve", st, err.msg);
    if (models && (st = check_repo(repo, models, require_models)) != MS_OK) {
        sv_repo_free(repo);
        return st;
    }
    if (sv_log_open(access_log, &err) != MS_OK) {
        sv_repo_free(repo);
        return cli_fail("serve", MS_ERR_RUNTIME, err.msg);
    }
    static sv_server server;
    server.repo = repo;
    server.admin_token = admin;
    server.api_token = api;
    server.timeout_ms = (uint64_t)timeout_ms;
    server.store_url = store;
    server.edge_dir = edge_dir;
    server.edge_fd = edge_fd;
    server.edge_rate = (uint64_t)edge_rate;
    pthread_mutex_init(&server.pool_mu, NULL);
    sv_sched_opts so = {repo, store, schedule, b_input, b_key, b_model, b_features, (int)b_threads, minute_ms};
    if ((st = sv_sched_start(&so, &server.sched, &err)) != MS_OK) {
        sv_log_close();
        sv_repo_free(repo);
        return cli_fail("serve", st, err.msg);
    }
    if (queue && ((st = sv_stream_open(&server, queue, stream_retention, &server.stream, &err)) != MS_OK ||
                  (stream_workers && (st = sv_stream_workers(server.stream, repo, (int)stream_workers, &err)) != MS_OK))) {
        sv_stream_close(server.stream);
        sv_sched_stop(server.sched, 0);
        sv_log_close();
        sv_repo_free(repo);
        return cli_fail("serve", st, err.msg);
    }
    sv_http_opts ho = {host, (int)port, (int)threads, (uint64_t)max_body, 60,
                       sv_routes_handle, sv_routes_done, &server, reuse_port};
    sv_http *http = NULL;
    if ((st = sv_http_start(&ho, &http, &err)) != MS_OK) {
        sv_stream_close(server.stream);
        sv_sched_stop(server.sched, 0);
        sv_log_close();
        sv_repo_free(repo);
        return cli_fail("serve", st, err.msg);
    }
    sv_log_event("listening on http://%s%s%s:%d (%ld threads%s%s%s%s)", strchr(host, ':') ? "[" : "", host,
                 strchr(host, ':') ? "]" : "", sv_http_port(http), threads,
                 admin ? ", repository API on" : "", api ? ", API token required" : "",
                 queue ? ", events to " : "", queue ? sv_stream_queue_shown(server.stream) : "");

    for (;;) {
        struct timespec ts = {poll_ms ? poll_ms / 1000 : 3600, poll_ms ? (poll_ms % 1000) * 1000000L : 0};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            sv_log_event("%s: draining %d in-flight request(s), then exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                         sv_http_inflight(http));
            break;
        }
        if (sig < 0 && poll_ms) sv_repo_poll(repo);
    }
    atomic_store(&server.draining, 1);
    sv_http_quiesce(http);
    uint64_t until = bs_now_ns() + (uint64_t)drain_ms * 1000000u;
    while (sv_http_inflight(http) > 0 && bs_now_ns() < until) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    sv_stream_drain(server.stream); /* no long-poll left suspended when the daemon stops */
    int left = sv_http_inflight(http);
    sv_http_stop(http);
    sv_stream_close(server.stream);
    uint64_t now = bs_now_ns();
    if (sv_sched_stop(server.sched, now < until ? (until - now) / 1000000u : 0)) {
        /* a batch run is still going: it holds the repository; leave both to the exit */
        sv_log_event("stopped (scheduled batch run interrupted)");
        sv_log_close();
        return 0;
    }
    sv_routes_free_pool(&server);
    sv_repo_free(repo);
    sv_log_event("stopped%s", left ? " (drain time ran out)" : "");
    sv_log_close();
    return 0;
}
