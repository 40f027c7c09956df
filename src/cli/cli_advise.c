/* cli_advise.c: `mlship advise [MODEL] [constraints]`: which deployment mode, why, the
 * runner-up and what would flip it, and the commands for this model (docs/advise.md). Parses
 * the flags (or asks on a terminal), measures the model (adv_measure.c), decides
 * (adv_decide.c), prints text or --json with the commands (adv_commands.c). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/adv_commands.h"
#include "cli/adv_decide.h"
#include "cli/adv_measure.h"
#include "cli/adv_report.h"
#include "cli/cli_common.h"

static const char *CMD = "advise";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship advise [MODEL] [--latency 5ms|2s|1h] [--offline] [--stream]\n"
            "                     [--entities N] [--requests-per-s R]\n"
            "                     [--device cortex-m4|aarch64|browser] [--json] [options]\n"
            "\n"
            "Which way to deploy: batch, real-time, streaming or edge. Prints the recommended\n"
            "mode with one reason a line, the runner-up and what would flip the choice, and the\n"
            "commands for this model. With MODEL it first measures the facts the choice rests on:\n"
            "size, operators, multiply-adds, batch-1 latency and throughput on this machine (as\n"
            "`mlship bench`), whether export-c can write it and its flash/RAM on the device, and\n"
            "the CPU-seconds a day of batch against real-time. The tree (docs/advise.md):\n"
            "--offline -> edge; --stream -> streaming; latency under 1 s -> edge with a --device\n"
            "the model fits, else real-time; 1 s to 1 min -> real-time; 1 min or more -> batch.\n"
            "Without constraints it asks on a terminal; on a pipe it says which flags to give.\n"
            "\n"
            "constraints:\n"
            "  --latency D         how long a prediction may take (or how old it may be): a\n"
            "                      number with us, ms, s, m (min), h or d; a bare number is s\n"
            "  --offline           predictions are needed without a network (on the device)\n"
            "  --stream            inputs arrive as a continuous stream of events on a queue\n"
            "  --entities N        entities scored per batch run\n"
            "  --requests-per-s R  live requests (or events) per second\n"
            "  --device D          cortex-m4 (export-c; an STM32F407VG), aarch64 (`mlship agent`\n"
            "                      on a Linux board) or browser (the WebAssembly package);\n"
            "                      --offline without --device assumes aarch64\n"
            "options:\n"
            "  --json              one JSON object: mode, runner_up, reasons, flip, commands,\n"
            "                      units, facts (docs/advise.md)\n"
            "  --seconds S         time spent measuring MODEL (default 1)\n"
            "  --input SRC         the batch input in the printed commands (default %s)\n"
            "  --key COL           its key column (default id)\n"
            "  --name NAME         the model's name there (default: from the path)\n"
            "  --store URL         the store in the commands (default %s)\n"
            "  --queue URL         the stream queue in the commands (default %s)\n"
            "  --dir DIR           export-c's output / the edge publish directory (default edge)\n"
            "  --backend URL       where devices fetch DIR from (default http://127.0.0.1:8000)\n"
            "  --port N            the port in the serve command (default 8080)\n"
            "  --write-units DIR   batch: also write DIR/mlship-NAME.service and .timer\n"
            "  -h, --help          show this help\n"
            "\n"
            "exit status: 0 advice given, 1 runtime failure, 2 bad usage, no constraint on a\n"
            "pipe, or constraints that contradict each other or the model (--offline with a\n"
            "model that cannot fit the device, a latency nothing can meet), 3 unsupported model.\n",
            "/srv/data/entities.csv", "sqlite:///var/lib/mlship/store.db",
            "sqlite:///var/lib/mlship/queue.db");
}

typedef struct advise_opts {
    const char *model;
    adv_ask ask;
    int given;              /* a constraint flag was given */
    int json;
    double seconds;
    adv_places places;
    const char *units_dir;
} advise_opts;

/* ---- flags ------------------------------------------------------------------------------ */

static int parse_number(const char *flag, const char *v, double *out)
{
    if (cli_parse_double(v, 0, 1e15, out))
        return cli_usage_error(CMD, "%s needs a number in 0..1e15, not '%s'", flag, v);
    return 0;
}

static int parse_constraint(int argc, char **argv, int *i, advise_opts *o, int *matched)
{
    const char *v, *a = argv[*i];
    int r;
    *matched = 1;
    o->given = 1;
    if (!strcmp(a, "--offline")) { o->ask.offline = 1; return 0; }
    if (!strcmp(a, "--stream")) { o->ask.stream = 1; return 0; }
    if ((r = cli_opt(argc, argv, i, "--latency", &v)) != 0) {
        if (r < 0 || adv_parse_duration(v, &o->ask.latency_s))
            return cli_usage_error(CMD, "--latency needs a duration such as 5ms, 200us, 2s, 1m, 1h "
                                   "or 1d, not '%s'", r < 0 ? "" : v);
        return 0;
    }
    if ((r = cli_opt(argc, argv, i, "--entities", &v)) != 0)
        return r < 0 ? cli_usage_error(CMD, "--entities needs a number") : parse_number("--entities", v, &o->ask.entities);
    if ((r = cli_opt(argc, argv, i, "--requests-per-s", &v)) != 0)
        return r < 0 ? cli_usage_error(CMD, "--requests-per-s needs a number")
                     : parse_number("--requests-per-s", v, &o->ask.requests_per_s);
    if ((r = cli_opt(argc, argv, i, "--device", &v)) != 0) {
        if (r < 0 || adv_device_parse(v, &o->ask.device))
            return cli_usage_error(CMD, "--device needs cortex-m4, aarch64 or browser, not '%s'", r < 0 ? "" : v);
        return 0;
    }
    *matched = 0;
    return 0;
}

static int parse_place(int argc, char **argv, int *i, advise_opts *o, int *matched)
{
    static const struct { const char *flag; size_t off; } places[] = {
        {"--input", offsetof(adv_places, input)}, {"--key", offsetof(adv_places, key)},
        {"--name", offsetof(adv_places, name)},   {"--store", offsetof(adv_places, store)},
        {"--queue", offsetof(adv_places, queue)}, {"--dir", offsetof(adv_places, dir)},
        {"--backend", offsetof(adv_places, backend)}, {"--port", offsetof(adv_places, port)},
    };
    const char *v;
    *matched = 1;
    for (size_t k = 0; k < sizeof places / sizeof places[0]; k++) {
        int r = cli_opt(argc, argv, i, places[k].flag, &v);
        if (r == 0) continue;
        if (r < 0 || !*v) return cli_usage_error(CMD, "%s needs a value", places[k].flag);
        *(const char **)((char *)&o->places + places[k].off) = v;
        return 0;
    }
    int r = cli_opt(argc, argv, i, "--write-units", &v);
    if (r) return r < 0 || !*v ? cli_usage_error(CMD, "--write-units needs a directory") : (o->units_dir = v, 0);
    if ((r = cli_opt(argc, argv, i, "--seconds", &v)) != 0) {
        if (r < 0 || cli_parse_double(v, 0.01, 3600, &o->seconds))
            return cli_usage_error(CMD, "--seconds needs a number in 0.01..3600");
        return 0;
    }
    if (!strcmp(argv[*i], "--json")) { o->json = 1; return 0; }
    *matched = 0;
    return 0;
}

static int parse_args(int argc, char **argv, advise_opts *o)
{
    o->ask = (adv_ask){.latency_s = -1, .entities = -1, .requests_per_s = -1};
    o->seconds = 1;
    o->places = (adv_places){.input = "/srv/data/entities.csv", .key = "id",
                             .store = "sqlite:///var/lib/mlship/store.db",
                             .queue = "sqlite:///var/lib/mlship/queue.db", .dir = "edge",
                             .backend = "http://127.0.0.1:8000", .port = "8080"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int matched = 0, given = o->given, rc;
        if (cli_is_help(a)) { usage(stdout); return -1; }
        if (a[0] != '-' || !a[1]) {
            if (o->model) return cli_usage_error(CMD, "one MODEL only ('%s' is a second)", a);
            o->model = a;
            continue;
        }
        if ((rc = parse_constraint(argc, argv, &i, o, &matched)) != 0) return rc;
        if (matched) continue;
        o->given = given;
        if ((rc = parse_place(argc, argv, &i, o, &matched)) != 0) return rc;
        if (!matched) return cli_usage_error(CMD, "unknown option '%s'", a);
    }
    return 0;
}

/* ---- asking on a terminal --------------------------------------------------------------- */

/* One answer: a line from stdin without its newline. 0, or -1 at end of input. */
static int answer(const char *question, char *buf, size_t cap)
{
    fprintf(stderr, "%s ", question);
    fflush(stderr);
    if (!fgets(buf, (int)cap, stdin)) return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static int ask_yes(const char *q, int *out)
{
    char b[64];
    for (int tries = 0; tries < 3; tries++) {
        if (answer(q, b, sizeof b)) return -1;
        if (!b[0] || !strcmp(b, "n") || !strcmp(b, "no")) { *out = 0; return 0; }
        if (!strcmp(b, "y") || !strcmp(b, "yes")) { *out = 1; return 0; }
        fprintf(stderr, "  answer y or n\n");
    }
    return -1;
}

/* kind: 'd' duration, 'n' number, 'v' device. An empty answer leaves *out as it is. */
static int ask_value(const char *q, int kind, void *out)
{
    char b[128];
    for (int tries = 0; tries < 3; tries++) {
        if (answer(q, b, sizeof b)) return -1;
        if (!b[0]) return 0;
        if (kind == 'd' && adv_parse_duration(b, out) == 0) return 0;
        if (kind == 'n' && cli_parse_double(b, 0, 1e15, out) == 0) return 0;
        if (kind == 'v' && adv_device_parse(b, out) == 0) return 0;
        fprintf(stderr, "  %s\n", kind == 'd' ? "a duration such as 5ms, 2s, 1h" :
                kind == 'n' ? "a number" : "cortex-m4, aarch64 or browser");
    }
    return -1;
}

static int ask_all(advise_opts *o)
{
    adv_ask *a = &o->ask;
    fprintf(stderr, "mlship advise: a few questions (Enter skips one)\n");
    if (ask_value("How long may a prediction take, or how old may it be? (5ms, 2s, 1h)", 'd', &a->latency_s) ||
        ask_yes("Must it work without a network (offline)? [y/N]", &a->offline) ||
        ask_yes("Do the inputs arrive as a continuous stream of events? [y/N]", &a->stream) ||
        ask_value("How many entities would a batch run score?", 'n', &a->entities) ||
        ask_value("How many requests per second?", 'n', &a->requests_per_s) ||
        ask_value("Which device, if any? (cortex-m4, aarch64, browser)", 'v', &a->device))
        return cli_usage_error(CMD, "no answer; give the constraints as flags instead");
    return 0;
}

static int need_flags(void)
{
    fprintf(stderr,
            "mlship advise: no constraints given, and stdin is not a terminal to ask on.\n"
            "Give at least one of:\n"
            "  --latency D          how long a prediction may take: 5ms, 2s, 1h, 1d\n"
            "  --offline            predictions needed without a network\n"
            "  --stream             inputs arrive as a stream of events\n"
            "  --entities N         entities scored per batch run\n"
            "  --requests-per-s R   live requests per second\n"
            "  --device D           cortex-m4, aarch64 or browser\n"
            "e.g. mlship advise model.onnx --latency 5ms --requests-per-s 200\n");
    return CLI_EXIT_USAGE;
}

/* ---- the command ------------------------------------------------------------------------ */

static int write_units(const char *dir, const adv_commands *c)
{
    const char *text[2] = {c->service, c->timer}, *ext[2] = {"service", "timer"};
    for (int k = 0; k < 2; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.%s", dir, c->unit_name, ext[k]);
        FILE *f = fopen(path, "w");
        if (!f || fputs(text[k], f) == EOF || fclose(f) != 0) {
            char msg[4200];
            snprintf(msg, sizeof msg, "cannot write %s: %s", path, strerror(errno));
            if (f) fclose(f);
            return cli_fail(CMD, MS_ERR_RUNTIME, msg);
        }
    }
    return 0;
}

static void fill_places(advise_opts *o, const adv_measured *m, char *bin, size_t cap)
{
    adv_places *p = &o->places;
    p->model = m ? m->path : "MODEL";
    if (!p->name) p->name = m ? m->name : "model";
    p->ident = m ? m->ident : "model";
    /* ExecStart= needs an absolute path: this very binary */
    ssize_t n = readlink("/proc/self/exe", bin, cap - 1);
    snprintf(bin + (n > 0 ? n : 0), cap - (size_t)(n > 0 ? n : 0), "%s", n > 0 ? "" : "/usr/local/bin/mlship");
    p->mlship = bin;
}

static int advise(advise_opts *o, adv_measured *m)
{
    adv_facts none;
    memset(&none, 0, sizeof none);
    none.macs = -1;
    adv_advice *adv = calloc(1, sizeof *adv);
    adv_commands *cmds = calloc(1, sizeof *cmds);
    int rc = 0;
    if (!adv || !cmds) rc = cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
    else if (adv_decide(&o->ask, m ? &m->f : &none, adv) != 0) {
        fprintf(stderr, "mlship advise: %s\n", adv->refusal);
        rc = CLI_EXIT_USAGE;
    } else {
        char bin[4096];
        fill_places(o, m, bin, sizeof bin);
        adv_commands_build(adv, &o->places, o->ask.requests_per_s, m ? m->f.rows_per_s_batch : 0, cmds);
        if (o->units_dir && cmds->service[0]) rc = write_units(o->units_dir, cmds);
        if (rc == 0 && (o->json ? adv_report_json(stdout, &o->ask, adv, m, cmds)
                                : adv_report_text(stdout, &o->ask, adv, m, cmds)) != 0)
            rc = cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
        if (rc == 0 && fflush(stdout) != 0) rc = cli_fail(CMD, MS_ERR_RUNTIME, "cannot write to stdout");
    }
    free(adv);
    free(cmds);
    return rc;
}

int cli_advise(int argc, char **argv)
{
    advise_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.given) {
        if (!isatty(STDIN_FILENO)) return need_flags();
        if ((rc = ask_all(&o)) != 0) return rc;
    }
    adv_measured *m = NULL;
    if (o.model) {
        if (!(m = calloc(1, sizeof *m))) return cli_fail(CMD, MS_ERR_RUNTIME, "out of memory");
        rc = adv_measure(o.model, o.seconds, m);
    }
    if (rc == 0) rc = advise(&o, m);
    if (m) adv_measured_free(m);
    free(m);
    return rc;
}
