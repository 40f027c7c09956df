/* cli_stream.c: `mlship stream work|pipe|send|status`: the stream worker, continuous pipes,
 * sending events and a queue's status (docs/streaming.md). Thin: flags in, a stream or queue
 * call, text out. */
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "codec/codec_buf.h"
#include "queue/queue.h"
#include "serve/sv_repo.h"
#include "serve/sv_stream_models.h"
#include "stream/sm_alert.h"
#include "stream/sm_event.h"
#include "stream/sm_pipe.h"
#include "stream/sm_worker.h"

#define CMD "stream"
#define SEND_CHUNK 500 /* events per qu_send */

static atomic_int stop_flag;
static void on_signal(int sig) { (void)sig; atomic_store(&stop_flag, 1); }

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* ---- options: one table per subcommand --------------------------------------------------- */

typedef struct opt {
    const char *name;
    const char **str; /* a string value, or */
    long *num;        /* a number in [lo, hi], or */
    int *flag;        /* a flag */
    long lo, hi;
    int given;
} opt;

/* 0, 1 for --help (printed), or the usage exit code. */
static int parse_opts(int argc, char **argv, opt *o, void (*usage)(FILE *), const char *sub)
{
    char what[40];
    snprintf(what, sizeof what, "stream %s", sub);
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 1;
        }
        int matched = 0;
        for (opt *p = o; p->name && !matched; p++) {
            const char *v;
            if (p->flag) {
                if (strcmp(argv[i], p->name) == 0) *p->flag = 1, matched = p->given = 1;
                continue;
            }
            int r = cli_opt(argc, argv, &i, p->name, &v);
            if (r < 0) return cli_usage_error(what, "%s needs a value", p->name);
            if (!r) continue;
            matched = p->given = 1;
            if (p->str) *p->str = v;
            else if (cli_parse_long(v, p->lo, p->hi, p->num))
                return cli_usage_error(what, "%s '%s': expected a whole number in %ld..%ld", p->name, v, p->lo, p->hi);
        }
        if (!matched) return cli_usage_error(what, "unknown option '%s'", argv[i]);
    }
    return 0;
}

/* The model provider for --model FILE / --models DIR: serve's repository. */
static int open_models(const char *sub, const char *file, const char *dir, const char *store,
                       sv_repo **r, sm_models *m)
{
    char what[40];
    snprintf(what, sizeof what, "stream %s", sub);
    if (!!file == !!dir) return cli_usage_error(what, "give --model FILE or --models DIR");
    ms_error err = {{0}};
    ms_status st = file ? sv_repo_open_file(file, store, r, &err) : sv_repo_open_dir(dir, store, r, &err);
    if (st) return cli_fail(what, st, err.msg);
    sv_stream_models(*r, m);
    return 0;
}

/* ---- /metrics ------------------------------------------------------------------------------ */

static enum MHD_Result metrics_reply(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *data,
                                     size_t *size, void **ptr)
{
    (void)version, (void)data, (void)size, (void)ptr;
    int found = strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0;
    mc_buf b = {0};
    if (found) sm_worker_metrics(cls, &b);
    else mc_buf_puts(&b, "not found: the worker serves GET /metrics\n");
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
    mc_buf_free(&b);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    enum MHD_Result ok = MHD_queue_response(c, found ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- work ---------------------------------------------------------------------------------- */

static void work_usage(FILE *f)
{
    fprintf(f,
            "usage: mlship stream work (--model FILE | --models DIR) --queue URL [--store URL]\n"
            "         [--out URL] [--batch N] [--linger-ms T] [--threads N] [--consumer NAME]\n"
            "         [--max-deliveries N] [--lease-ms MS] [--result-ttl S] [--results-maxlen N]\n"
            "         [--metrics-port P] [--partitions N]\n"
            "\n"
            "Consume events from the queue in micro-batches (up to N events, or what came within\n"
            "T ms), score them, store each result once per event id (--store), publish it on the\n"
            "results stream, then ack. Bad events go to the dead-letter stream with the reason.\n"
            "Delivery is at least once: a batch that could not be stored or published is not acked\n"
            "and comes back after its lease. SIGTERM or SIGINT: finish the batch in hand, ack, exit 0.\n"
            "\n"
            "options:\n"
            "  --model FILE         one model (ONNX or XGBoost model.json), served as 'default'\n"
            "  --models DIR         a repository as `mlship serve` reads it (hot reload included;\n"
            "                       events name their model in field 'model')\n"
            "  --queue URL          sqlite:///abs/q.db, sqlite://rel/q.db, redis://host:port/STREAM\n"
            "  --store URL          where results are stored (and features read, unless config.json\n"
            "                       names its own store); none: results are only published\n"
            "  --out URL            the results stream (default: STREAM:results on the same queue)\n"
            "  --batch N            events per micro-batch (default 64)\n"
            "  --linger-ms T        when a read is not a full batch, wait T ms for more (default 0:\n"
            "                       score what is there at once; under load batches fill anyway)\n"
            "  --threads N          worker threads, each with its own connections (default 1)\n"
            "  --consumer NAME      the consumer name (default HOST-PID; -THREAD appended)\n"
            "  --max-deliveries N   dead-letter an event delivered more often (default 5)\n"
            "  --lease-ms MS        unacked events are taken over after this (default 30000)\n"
            "  --result-ttl S       Redis store: results expire after S seconds (default: never)\n"
            "  --results-maxlen N   cap the results stream at about N entries (default 1000000; 0: none)\n"
            "  --metrics-port P     serve Prometheus metrics on http://0.0.0.0:P/metrics\n"
            "  --partitions N       a partitioned Redis queue of N partitions (the same as the\n"
            "                       URL's ?partitions=N; a host list redis://h1,h2,h3/STREAM has one\n"
            "                       per host by default): this worker owns some, per-key order\n"
            "                       holds (docs/partitions.md)\n"
            "  -h, --help           show this help\n");
}

static int stream_work(int argc, char **argv)
{
    const char *file = NULL, *dir = NULL, *queue = NULL, *store = NULL, *out = NULL, *consumer = NULL;
    long batch = 64, linger = 0, threads = 1, maxdel = 5, lease = 30000, ttl = 0, maxlen = 1000000, port = 0, parts = 0;
    opt o[] = {{"--model", &file}, {"--models", &dir}, {"--queue", &queue}, {"--store", &store},
               {"--out", &out}, {"--consumer", &consumer},
               {"--batch", NULL, &batch, NULL, 1, 100000}, {"--linger-ms", NULL, &linger, NULL, 0, 60000},
               {"--threads", NULL, &threads, NULL, 1, 256}, {"--max-deliveries", NULL, &maxdel, NULL, 1, 1000000},
               {"--lease-ms", NULL, &lease, NULL, 100, 86400000}, {"--result-ttl", NULL, &ttl, NULL, 0, 1L << 40},
               {"--results-maxlen", NULL, &maxlen, NULL, 0, 1L << 40}, {"--metrics-port", NULL, &port, NULL, 1, 65535},
               {"--partitions", NULL, &parts, NULL, 1, 1024}, {NULL}};
    int rc = parse_opts(argc, argv, o, work_usage, "work");
    if (rc) return rc == 1 ? 0 : rc;
    if (!queue) return cli_usage_error("stream work", "missing --queue URL");
    if (strncmp(queue, "mqtt://", 7) == 0) /* no leases, no redelivery after a crash: not a work queue */
        return cli_usage_error("stream work", "an MQTT topic is not a durable queue: bridge it into one with "
                               "`stream pipe --in %s --out redis://...` (docs/queue-mqtt.md)", queue);
    char *parted = NULL;
    if ((rc = cli_queue_partitions("stream work", queue, parts, &parted)) != 0) return rc;
    if (parted) queue = parted; /* lives until exit */
    sv_repo *repo = NULL;
    sm_models models;
    if ((rc = open_models("work", file, dir, store, &repo, &models)) != 0) return free(parted), rc;
    sm_worker_cfg cfg = {.queue_url = queue, .out_url = out, .store_url = store, .models = &models,
                         .batch = (int)batch, .linger_ms = (int)linger, .threads = (int)threads,
                         .consumer = consumer, .max_deliveries = (int)maxdel, .lease_ms = lease,
                         .result_ttl_s = ttl, .results_maxlen = maxlen};
    catch_signals();
    sm_worker *w;
    ms_error err = {{0}};
    ms_status st = sm_worker_start(&cfg, &w, &err);
    if (st) {
        sv_repo_free(repo);
        rc = cli_fail("stream work", st, err.msg);
        free(parted);
        return rc;
    }
    struct MHD_Daemon *d = NULL;
    if (port) {
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, metrics_reply, w, MHD_OPTION_END);
        if (!d) {
            sm_worker_stop(w);
            sv_repo_free(repo);
            char msg[80];
            snprintf(msg, sizeof msg, "cannot listen on port %ld for --metrics-port", port);
            return cli_fail("stream work", MS_ERR_RUNTIME, msg);
        }
    }
    fprintf(stderr, "mlship stream work: consuming %s\n", queue);
    while (!atomic_load(&stop_flag)) nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    if (d) MHD_stop_daemon(d);
    sm_worker_stop(w); /* finishes the batch in hand and acks it */
    sv_repo_free(repo);
    free(parted);
    fprintf(stderr, "mlship stream work: stopped\n");
    return 0;
}

/* ---- pipe ---------------------------------------------------------------------------------- */

static void pipe_usage(FILE *f)
{
    fprintf(f,
            "usage: mlship stream pipe [--model FILE] --in URL --out URL\n"
            "         [--alert 'OUTPUT[COL] > X' [--alert-clear Y] [--alert-out URL]]\n"
            "         [--key-from-topic N | --key-field NAME] [--batch N] [--consumer NAME]\n"
            "\n"
            "Continuous scoring: every input event gives one output event (its result, or an error\n"
            "result), in order. With --alert, a key whose OUTPUT[COL] rises above X raises one alert\n"
            "event, and one 'cleared' event when it falls below Y again (hysteresis; '<' for low\n"
            "alarms: raised below X, cleared above Y). Events carry their features.\n"
            "\n"
            "MQTT (mqtt://host:1883/sensors/+/reading, QoS 1, persistent session): each message is a\n"
            "reading, {\"features\": [...]} or {\"ts\": .., \"values\": [...]} or CSV text \"1.5,2,3\";\n"
            "results are published as JSON. Without --model the pipe forwards readings as events to\n"
            "a durable queue (--out redis://... or sqlite://...) for `stream work` (docs/queue-mqtt.md).\n"
            "\n"
            "options:\n"
            "  --model FILE        the model (ONNX or XGBoost model.json); none: forward events\n"
            "  --in URL            a queue URL (sqlite, redis, mqtt), or - for JSON Lines on stdin\n"
            "  --out URL           a queue URL (its stream or topic), or - for JSON Lines on stdout\n"
            "  --alert RULE        OUTPUT > X, OUTPUT[COL] > X or < X; COL an index or a label\n"
            "  --alert-clear Y     the clear level (default X)\n"
            "  --alert-out URL     where alerts go (default: --out)\n"
            "  --key-from-topic N  MQTT: the key is the topic's N-th level (1-based)\n"
            "  --key-field NAME    MQTT: the key is the JSON payload's member NAME\n"
            "  --batch N           queue reads of up to N events (default 64; MQTT: a killed pipe\n"
            "                      loses at most the N readings in hand, see the docs)\n"
            "  --consumer NAME     queue input: the consumer name (MQTT: the client id; default\n"
            "                      mlship-pipe-<hash of --in>, the same at every restart)\n"
            "  -h, --help          show this help\n");
}

/* An output URL that is an MQTT topic filter: refused now, not at the first result. */
static int mqtt_filter(const char *url)
{
    if (!url || strncmp(url, "mqtt://", 7) != 0) return 0;
    const char *p = strchr(url + 7, '/');
    size_t n = p ? strcspn(p, "?") : 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '+' || p[i] == '#' || (i + 2 < n && p[i] == '%' && p[i + 1] == '2' && p[i + 2] == '3')) return 1;
    return 0;
}

static int stream_pipe(int argc, char **argv)
{
    const char *file = NULL, *in = NULL, *out = NULL, *rule = NULL, *clear = NULL, *aout = NULL, *consumer = NULL,
               *keyfield = NULL;
    long keylevel = 0, batch = 64;
    opt o[] = {{"--model", &file}, {"--in", &in}, {"--out", &out}, {"--alert", &rule},
               {"--alert-clear", &clear}, {"--alert-out", &aout}, {"--consumer", &consumer},
               {"--key-field", &keyfield}, {"--key-from-topic", NULL, &keylevel, NULL, 1, 1000},
               {"--batch", NULL, &batch, NULL, 1, 100000}, {NULL}};
    int rc = parse_opts(argc, argv, o, pipe_usage, "pipe");
    if (rc) return rc == 1 ? 0 : rc;
    if (!in || !out) return cli_usage_error("stream pipe", "give --in URL and --out URL (- for stdin / stdout)");
    if (!file && rule) return cli_usage_error("stream pipe", "--alert needs --model FILE");
    if (!file && strcmp(out, "-") == 0)
        return cli_usage_error("stream pipe", "missing --model FILE (without one the pipe forwards events to a queue: --out URL)");
    if ((clear || aout) && !rule) return cli_usage_error("stream pipe", "--alert-clear and --alert-out need --alert");
    if (mqtt_filter(out) || mqtt_filter(aout))
        return cli_usage_error("stream pipe", "cannot publish to the topic filter '%s' (a filter with '+' or '#' is "
                               "for --in; give one topic)", mqtt_filter(out) ? out : aout);
    if (keyfield && keylevel) return cli_usage_error("stream pipe", "give --key-from-topic or --key-field, not both");
    if ((keyfield || keylevel) && strncmp(in, "mqtt://", 7) != 0)
        return cli_usage_error("stream pipe", "--key-from-topic and --key-field are for MQTT input (--in mqtt://...)");
    if (keyfield && (!keyfield[0] || strlen(keyfield) > 100))
        return cli_usage_error("stream pipe", "--key-field: a member name of 1 to 100 bytes");
    double cl = 0;
    if (clear && cli_parse_double(clear, -1e300, 1e300, &cl))
        return cli_usage_error("stream pipe", "--alert-clear '%s' is not a number", clear);
    ms_error err = {{0}};
    sm_alert *alert = NULL;
    if (rule && sm_alert_parse(rule, cl, clear != NULL, &alert, &err) != MS_OK)
        return cli_usage_error("stream pipe", "%s", err.msg);
    sv_repo *repo = NULL;
    sm_models models;
    if (file && (rc = open_models("pipe", file, NULL, NULL, &repo, &models)) != 0) {
        sm_alert_free(alert);
        return rc;
    }
    catch_signals();
    sm_pipe_cfg c = {.in_url = in, .out_url = out, .alert_out_url = aout, .models = file ? &models : NULL,
                     .reading = {(int)keylevel, keyfield}, .alert = alert, .batch = (int)batch,
                     .consumer = consumer, .stop = &stop_flag};
    if (strncmp(in, "mqtt://", 7) == 0)
        fprintf(stderr, "mlship stream pipe: %s %s\n", file ? "scoring" : "forwarding", in);
    long events = 0, alerts = 0;
    ms_status st = sm_pipe_run(&c, &events, &alerts, &err);
    sm_alert_free(alert);
    sv_repo_free(repo);
    if (st) return cli_fail("stream pipe", st, err.msg);
    fprintf(stderr, "mlship stream pipe: %ld events, %ld alerts\n", events, alerts);
    return 0;
}

/* ---- send ---------------------------------------------------------------------------------- */

static void send_usage(FILE *f)
{
    fprintf(f,
            "usage: mlship stream send --queue URL [--partitions N] --file EVENTS.jsonl\n"
            "       mlship stream send --queue URL [--partitions N] --key K [--features JSON] [--id ID]\n"
            "                          [--model NAME]\n"
            "\n"
            "Append events to the queue and print each one's queue id, one a line. A file holds one\n"
            "event object a line: {\"id\":..,\"key\":..,\"features\":[..],\"model\":..,\"ts\":..}\n"
            "(- reads stdin). Every line is checked first; a bad line names its number and nothing\n"
            "is sent. Events without features are scored from the feature store by key.\n"
            "\n"
            "options:\n"
            "  --queue URL       sqlite:///abs/q.db, sqlite://rel/q.db, redis://host:port/STREAM\n"
            "  --file PATH       JSON Lines of events (- for stdin), sent in batches of %d\n"
            "  --key K           one event for key K\n"
            "  --features JSON   its features: [0.1, 2.5], \"0.1,2.5\" or {\"input\": [..]}\n"
            "  --id ID           its event id (default: the queue assigns the message id)\n"
            "  --model NAME      the model that scores it (a worker with --models DIR)\n"
            "  --partitions N    a partitioned Redis queue (as ?partitions=N): each event goes to the\n"
            "                    partition of its key's hash; the ids printed are p<i>/<id>\n"
            "  -h, --help        show this help\n", SEND_CHUNK);
}

static int send_chunk(qu_queue *q, sm_fields *ev, size_t n)
{
    const qu_field *msgs[SEND_CHUNK];
    int nf[SEND_CHUNK];
    char (*ids)[QU_ID_MAX] = malloc(n * sizeof *ids);
    if (!ids) return cli_fail("stream send", MS_ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < n; i++) msgs[i] = ev[i].f, nf[i] = ev[i].n;
    ms_error err = {{0}};
    ms_status st = qu_send(q, NULL, msgs, nf, n, 0, ids, &err);
    for (size_t i = 0; st == MS_OK && i < n; i++) printf("%s\n", ids[i]);
    free(ids);
    return st ? cli_fail("stream send", st, err.msg) : 0;
}

static int send_file(qu_queue *q, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        char msg[600];
        snprintf(msg, sizeof msg, "cannot open '%s'", path);
        return cli_fail("stream send", MS_ERR_INVALID, msg);
    }
    sm_fields *ev = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int rc = 0;
    for (long ln = 1; !rc && (len = getline(&line, &lcap, f)) >= 0; ln++) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len == 0) continue;
        if (n == cap) {
            sm_fields *ne = realloc(ev, (cap = cap ? cap * 2 : 256) * sizeof *ne);
            if (!ne) { rc = cli_fail("stream send", MS_ERR_RUNTIME, "out of memory"); break; }
            ev = ne;
        }
        ms_error err = {{0}};
        if (sm_event_from_json(line, (size_t)len, &ev[n], &err) != MS_OK) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s line %ld: %s", path, ln, err.msg);
            rc = cli_fail("stream send", MS_ERR_INVALID, msg);
        } else {
            n++;
        }
    }
    free(line);
    if (f != stdin) fclose(f);
    for (size_t i = 0; !rc && i < n; i += SEND_CHUNK) rc = send_chunk(q, ev + i, n - i < SEND_CHUNK ? n - i : SEND_CHUNK);
    for (size_t i = 0; i < n; i++) sm_fields_free(&ev[i]);
    free(ev);
    return rc;
}

static int stream_send(int argc, char **argv)
{
    const char *queue = NULL, *file = NULL, *key = NULL, *features = NULL, *id = NULL, *model = NULL;
    long parts = 0;
    opt o[] = {{"--queue", &queue}, {"--file", &file}, {"--key", &key}, {"--features", &features},
               {"--id", &id}, {"--model", &model}, {"--partitions", NULL, &parts, NULL, 1, 1024}, {NULL}};
    int rc = parse_opts(argc, argv, o, send_usage, "send");
    if (rc) return rc == 1 ? 0 : rc;
    if (!queue) return cli_usage_error("stream send", "missing --queue URL");
    if (!!file == !!key) return cli_usage_error("stream send", "give --file EVENTS.jsonl or --key K");
    if (file && (features || id || model)) return cli_usage_error("stream send", "--features, --id and --model go with --key");
    sm_fields one = {0};
    if (key) { /* checked as a worker will read it */
        const char *nv[4][2] = {{"key", key}, {"features", features}, {"id", id}, {"model", model}};
        for (int i = 0; i < 4; i++)
            if (nv[i][1]) one.f[one.n++] = (qu_field){nv[i][0], strlen(nv[i][0]), nv[i][1], strlen(nv[i][1])};
        qu_msg m = {.id = "-", .nfields = one.n, .fields = one.f};
        sm_event ev;
        ms_error err = {{0}};
        if (sm_event_parse(&m, &ev, &err) != MS_OK) return cli_usage_error("stream send", "%s", err.msg);
        sm_event_free(&ev);
    }
    char *parted = NULL;
    if ((rc = cli_queue_partitions("stream send", queue, parts, &parted)) != 0) return rc;
    if (parted) queue = parted;
    qu_opts qo = qu_opts_default();
    qu_queue *q;
    ms_error err = {{0}};
    ms_status st = qu_open(queue, &qo, &q, &err);
    if (st) {
        free(parted);
        return cli_fail("stream send", st, err.msg);
    }
    rc = file ? send_file(q, file) : send_chunk(q, &one, 1);
    qu_close(q);
    free(parted);
    return rc;
}

/* ---- status -------------------------------------------------------------------------------- */

static void status_usage(FILE *f)
{
    fprintf(f,
            "usage: mlship stream status --queue URL [--partitions N] [--json]\n"
            "\n"
            "Print the queue's state: entries in the stream, events delivered and not acked\n"
            "(pending, per consumer with its idle time), lag (not yet delivered; -1 when the server\n"
            "cannot say), dead letters and the age of the oldest unacked event.\n"
            "\n"
            "options:\n"
            "  --queue URL   sqlite:///abs/q.db, sqlite://rel/q.db, redis://host:port/STREAM\n"
            "  --partitions N  a partitioned Redis queue (as ?partitions=N): the sums, then each\n"
            "                partition's server, owner, length, pending and lag\n"
            "  --json        one JSON object instead of text\n"
            "  -h, --help    show this help\n");
}

static int stream_status(int argc, char **argv)
{
    const char *queue = NULL;
    int json = 0;
    long parts = 0;
    opt o[] = {{"--queue", &queue}, {"--json", NULL, NULL, &json},
               {"--partitions", NULL, &parts, NULL, 1, 1024}, {NULL}};
    int rc = parse_opts(argc, argv, o, status_usage, "status");
    if (rc) return rc == 1 ? 0 : rc;
    if (!queue) return cli_usage_error("stream status", "missing --queue URL");
    char *parted = NULL;
    if ((rc = cli_queue_partitions("stream status", queue, parts, &parted)) != 0) return rc;
    qu_opts qo = qu_opts_default();
    qu_queue *q = NULL;
    ms_error err = {{0}};
    ms_status st = qu_open(parted ? parted : queue, &qo, &q, &err);
    free(parted);
    qu_stats s = {0};
    if (st == MS_OK) st = qu_status(q, &s, &err);
    if (st) {
        qu_close(q);
        return cli_fail("stream status", st, err.msg);
    }
    mc_buf b = {0};
    if (json) {
        mc_buf_puts(&b, "{\"queue\":");
        mc_buf_put_json_str(&b, qu_url_shown(q));
        mc_buf_puts(&b, ",\"backend\":");
        mc_buf_put_json_str(&b, qu_backend(q));
        mc_buf_puts(&b, ",\"stream\":");
        mc_buf_put_json_str(&b, qu_stream(q));
        mc_buf_printf(&b, ",\"length\":%lld,\"pending\":%lld,\"lag\":%lld,\"dead\":%lld,\"oldest_age_ms\":%lld,\"consumers\":[",
                      (long long)s.length, (long long)s.pending, (long long)s.lag, (long long)s.dead, (long long)s.oldest_age_ms);
        for (size_t i = 0; i < s.nconsumers; i++) {
            mc_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
            mc_buf_put_json_str(&b, s.consumers[i].name);
            mc_buf_printf(&b, ",\"pending\":%lld,\"idle_ms\":%lld}", (long long)s.consumers[i].pending,
                          (long long)s.consumers[i].idle_ms);
        }
        mc_buf_puts(&b, "]");
        if (s.npartitions) mc_buf_puts(&b, ",\"partitions\":[");
        for (size_t i = 0; i < s.npartitions; i++) {
            const qu_partition_stat *p = &s.partitions[i];
            mc_buf_printf(&b, "%s{\"partition\":%zu,\"host\":", i ? "," : "", i);
            mc_buf_put_json_str(&b, p->host);
            mc_buf_puts(&b, ",\"owner\":");
            mc_buf_put_json_str(&b, p->owner);
            mc_buf_printf(&b, ",\"length\":%lld,\"pending\":%lld,\"lag\":%lld}", (long long)p->length,
                          (long long)p->pending, (long long)p->lag);
        }
        mc_buf_puts(&b, s.npartitions ? "]}\n" : "}\n");
    } else {
        mc_buf_printf(&b, "queue:        %s (%s)\nstream:       %s\nlength:       %lld\npending:      %lld\n"
                          "lag:          %lld\ndead letters: %lld\noldest age:   %lld ms\nconsumers:    %zu\n",
                      qu_url_shown(q), qu_backend(q), qu_stream(q), (long long)s.length, (long long)s.pending,
                      (long long)s.lag, (long long)s.dead, (long long)s.oldest_age_ms, s.nconsumers);
        for (size_t i = 0; i < s.nconsumers; i++)
            mc_buf_printf(&b, "  %s: %lld pending, idle %lld ms\n", s.consumers[i].name,
                          (long long)s.consumers[i].pending, (long long)s.consumers[i].idle_ms);
        if (s.npartitions) mc_buf_printf(&b, "partitions:   %zu\n", s.npartitions);
        for (size_t i = 0; i < s.npartitions; i++) {
            const qu_partition_stat *p = &s.partitions[i];
            mc_buf_printf(&b, "  p%zu on %s: owner %s, length %lld, pending %lld, lag %lld\n", i, p->host,
                          p->owner[0] ? p->owner : "(none)", (long long)p->length, (long long)p->pending,
                          (long long)p->lag);
        }
    }
    fputs(b.data ? b.data : "", stdout);
    mc_buf_free(&b);
    qu_stats_free(&s);
    qu_close(q);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship stream <work|pipe|send|status> [options]\n"
            "\n"
            "Streaming deployment (docs/streaming.md): events on a queue (SQLite file or Redis\n"
            "Streams), scored by workers, results stored and published.\n"
            "\n"
            "  work     consume events, score, store and publish results\n"
            "  pipe     continuous scoring with alerts (stdin/stdout or queues)\n"
            "  send     append events to a queue\n"
            "  status   a queue's length, pending, lag, dead letters\n"
            "\n"
            "'mlship stream <command> --help' describes each.\n");
}

int cli_stream(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"work", stream_work}, {"pipe", stream_pipe}, {"send", stream_send}, {"status", stream_status}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0) return subs[i].run(argc - 1, argv + 1);
    return cli_usage_error(CMD, "unknown command '%s' (work, pipe, send, status)", argv[1]);
}
