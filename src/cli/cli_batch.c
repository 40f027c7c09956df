/* cli_batch.c: `mlship batch`: score a file or query into the prediction store (bt_job), and
 * the run-management subcommands: publish (roll back or forward), runs, rejects, next-runs. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch/bt_cron.h"
#include "batch/bt_job.h"
#include "cli/cli_common.h"
#include "predict/pd_check.h"
#include "store/store.h"

#define DEFAULT_STORE "sqlite://mlship.db"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship batch --model M --input SOURCE --key COLUMN [options]\n"
            "       mlship batch publish --run ID [--store URL]\n"
            "       mlship batch runs --name MODEL [--store URL]\n"
            "       mlship batch rejects --run ID [--store URL]\n"
            "       mlship batch next-runs CRON [--count N] [--from UNIX_TIME] [--utc]\n"
            "\n"
            "Score every row of SOURCE with model M and store one prediction per key (all the\n"
            "model's outputs as JSON, with the model version, run id and time) in the store.\n"
            "A run becomes visible to lookups only when it is complete; until then (and if it\n"
            "fails) lookups answer from the previous run. Rows are committed in chunks: a run\n"
            "that is killed continues with --resume from its last committed chunk.\n"
            "\n"
            "SOURCE: a CSV file with a header row, a JSON Lines file (.jsonl/.ndjson), '-' for\n"
            "CSV on stdin, or \"sql:SELECT ...\" run in the store (give it an ORDER BY to resume).\n"
            "\n"
            "Columns are bound to the model's features by NAME whenever names are known, first\n"
            "of: --features a,b,c; \"features\": {\"columns\": [..]} in --config FILE or in the\n"
            "config.json next to the model (or DIR/<name>/config.json for a repository's\n"
            "DIR/<name>/<version>/model.*, as `mlship serve` reads it); the model's own feature\n"
            "names (XGBoost's feature_names); for a model with several inputs, the input names.\n"
            "Column order in the source does not matter and extra columns are ignored; a named\n"
            "column the source lacks is refused before scoring (exit 2, naming it). Only when\n"
            "no names are known are the columns taken by position (every column but the key,\n"
            "in source order), and the summary says which columns it took.\n"
            "A row that cannot be read or scored goes to the rejects table with its line number\n"
            "and reason: by default a missing value (empty cell, NULL, nan), +-inf, a number out\n"
            "of range (1e400) and a non-finite output all reject the row (--missing nan lets a\n"
            "model that defines missing values score NaN); nothing non-finite is ever published,\n"
            "and the summary counts rejected rows by reason. A key scored earlier in the\n"
            "run (also across --resume) is rejected: \"duplicate key, first at line N\"; the\n"
            "first row with a key is the one scored, and the summary counts the duplicates.\n"
            "\n"
            "options:\n"
            "  --model PATH        .onnx or XGBoost .json; DIR/<name>/<version>/model.onnx gives\n"
            "                      the name and version\n"
            "  --input SOURCE      see above\n"
            "  --key COLUMN        the entity key column (one prediction per key)\n"
            "  --name NAME         model name in the store (default: from the path)\n"
            "  --model-version V   (default: the version directory, else a hash of the file)\n"
            "  --features a,b,c    the columns of a one-input model, in input order\n"
            "  --config FILE       a config.json whose features.columns names them (default:\n"
            "                      the model's config.json, when there is one)\n"
            "  --format csv|jsonl  input format when the extension does not say\n"
            "  --missing reject|nan  reject (default) rows with a missing value, or feed it as\n"
            "                      NaN; nan needs a model that defines missing values (tree\n"
            "                      ensembles with a NaN direction per split, XGBoost, a NaN\n"
            "                      Imputer), else it is an error (exit 2)\n"
            "  --store URL         sqlite:///abs.db, sqlite://rel.db, postgresql://...\n"
            "                      (default $MLSHIP_STORE, else " DEFAULT_STORE ")\n"
            "  --threads N         scoring threads (default: the number of CPUs)\n"
            "  --chunk ROWS        rows per committed chunk (default 10000)\n"
            "  --resume            continue the latest unfinished run of this model (and shard);\n"
            "                      if it already completed on this input, say so and exit 0;\n"
            "                      if the input changed since (a timer's next day), start a new\n"
            "                      run (an unfinished run on the old input is marked failed)\n"
            "  --run ID            the run id (default: a new one from the time); required with\n"
            "                      --shard so that all shards join one run\n"
            "  --shard K/N         score only the keys that hash to shard K of N (1-based); the\n"
            "                      run is published when all N shards are complete\n"
            "  --keep N            after publishing, keep the published run and the N most recent\n"
            "                      other finished runs of this model; delete older ones (default\n"
            "                      3; 0 keeps all)\n"
            "  --max-rejects N     fail the run (never published) once more than N rows are\n"
            "                      rejected (default: no limit)\n"
            "  --json              print a JSON summary instead of the summary line\n"
            "  --progress, --no-progress   force the progress bar on or off (default: on when\n"
            "                      stderr is a terminal)\n"
            "  -h, --help          show this help\n"
            "\n"
            "publish --run ID      make a complete run the published one (roll back or forward)\n"
            "runs --name MODEL     list the runs of a model, newest first (JSON lines)\n"
            "rejects --run ID      list a run's rejected rows (JSON lines: shard, line, reason)\n"
            "next-runs CRON        print the next fire times of a cron schedule (\"0 2 * * *\")\n"
            "\n"
            "exit status: 0 ok (also: --resume found the run complete), 1 runtime failure (the\n"
            "run stays resumable), 2 bad usage or bad input (including --max-rejects exceeded:\n"
            "the run is marked failed), 3 unsupported model.\n");
}

static const char *default_store(void)
{
    const char *s = getenv("MLSHIP_STORE");
    return s && *s ? s : DEFAULT_STORE;
}

/* ---- subcommands on runs ------------------------------------------------------------------ */

static int run_json(void *ctx, const st_run *r)
{
    FILE *f = ctx;
    mc_buf b = {0};
    mc_buf_puts(&b, "{\"run_id\":");
    mc_buf_put_json_str(&b, r->run_id);
    mc_buf_puts(&b, ",\"model\":");
    mc_buf_put_json_str(&b, r->model);
    mc_buf_puts(&b, ",\"model_version\":");
    mc_buf_put_json_str(&b, r->model_version);
    mc_buf_printf(&b, ",\"shard\":%d,\"shards\":%d,\"status\":\"%s\",\"rows_scored\":%lld,"
                  "\"rows_rejected\":%lld,\"last_chunk\":%lld,\"started_at\":",
                  r->shard + 1, r->shard_count, st_run_status_name(r->status),
                  (long long)r->rows_scored, (long long)r->rows_rejected, (long long)r->last_chunk);
    mc_buf_put_json_str(&b, r->started_at);
    mc_buf_puts(&b, ",\"finished_at\":");
    mc_buf_put_json_str(&b, r->finished_at);
    mc_buf_puts(&b, ",\"input_fingerprint\":");
    mc_buf_put_json_str(&b, r->input_fingerprint);
    mc_buf_puts(&b, "}\n");
    if (b.data) fputs(b.data, f);
    mc_buf_free(&b);
    return 0;
}

static int reject_json(void *ctx, int32_t shard, int64_t line, const char *reason)
{
    FILE *f = ctx;
    mc_buf b = {0};
    mc_buf_printf(&b, "{\"shard\":%d,\"line\":%lld,\"reason\":", shard + 1, (long long)line);
    mc_buf_put_json_str(&b, reason ? reason : "");
    mc_buf_puts(&b, "}\n");
    if (b.data) fputs(b.data, f);
    mc_buf_free(&b);
    return 0;
}

static int runs_cmd(const char *sub, int argc, char **argv)
{
    const char *store_url = default_store(), *run = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if ((r = cli_opt(argc, argv, &i, "--store", &v)) != 0) {
            if (r < 0) return cli_usage_error("batch", "--store needs a URL");
            store_url = v;
        } else if ((r = cli_opt(argc, argv, &i, "--run", &v)) != 0) {
            if (r < 0) return cli_usage_error("batch", "--run needs an id");
            run = v;
        } else if ((r = cli_opt(argc, argv, &i, "--name", &v)) != 0 ||
                   (r = cli_opt(argc, argv, &i, "--model", &v)) != 0) {
            if (r < 0) return cli_usage_error("batch", "--name needs a model name");
            name = v;
        } else {
            return cli_usage_error("batch", "%s: unexpected argument '%s'", sub, argv[i]);
        }
    }
    int is_runs = strcmp(sub, "runs") == 0;
    if (is_runs && !name) return cli_usage_error("batch", "runs needs --name MODEL");
    if (!is_runs && !run) return cli_usage_error("batch", "%s needs --run ID", sub);
    st_store *s = NULL;
    ms_error err = {{0}};
    /* runs and rejects only read: a mistyped --store is "no store file", never a new one */
    ms_status st = st_open_flags(store_url, strcmp(sub, "publish") ? ST_OPEN_READONLY : 0, &s, &err);
    if (st == MS_OK) {
        if (strcmp(sub, "publish") == 0) {
            st = st_run_publish(s, run, &err);
            if (st == MS_OK) printf("run %s is now the published run\n", run);
        } else if (is_runs) {
            st = st_run_list(s, name, run_json, stdout, &err);
        } else {
            st = st_run_rejects(s, run, reject_json, stdout, &err);
        }
    }
    st_close(s);
    if (st != MS_OK) return cli_fail("batch", st, err.msg);
    return fflush(stdout) == 0 ? 0 : cli_fail("batch", MS_ERR_RUNTIME, "cannot write to stdout");
}

static int next_runs_cmd(int argc, char **argv)
{
    const char *expr = NULL;
    long count = 5;
    double from = (double)time(NULL);
    int utc = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if ((r = cli_opt(argc, argv, &i, "--count", &v)) != 0) {
            if (r < 0 || cli_parse_long(v, 1, 1000, &count))
                return cli_usage_error("batch", "--count needs an integer in 1..1000");
        } else if ((r = cli_opt(argc, argv, &i, "--from", &v)) != 0) {
            if (r < 0 || cli_parse_double(v, 0, 1e11, &from))
                return cli_usage_error("batch", "--from needs a Unix time in seconds");
        } else if (strcmp(argv[i], "--utc") == 0) {
            utc = 1;
        } else if (!expr && (argv[i][0] != '-' || !argv[i][1])) {
            expr = argv[i];
        } else {
            return cli_usage_error("batch", "next-runs: unexpected argument '%s'", argv[i]);
        }
    }
    if (!expr) return cli_usage_error("batch", "next-runs needs a cron expression, e.g. \"0 2 * * *\"");
    bt_cron c;
    ms_error err = {{0}};
    if (bt_cron_parse(expr, &c, &err) != MS_OK) return cli_fail("batch", MS_ERR_INVALID, err.msg);
    time_t t = (time_t)from;
    for (long k = 0; k < count; k++) {
        t = bt_cron_next(&c, t, utc);
        if (t == (time_t)-1) {
            if (k == 0) return cli_fail("batch", MS_ERR_INVALID, "this schedule never fires");
            break;
        }
        struct tm tm;
        char buf[64];
        if (utc) gmtime_r(&t, &tm);
        else localtime_r(&t, &tm);
        strftime(buf, sizeof buf, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%S%z", &tm);
        printf("%s %lld\n", buf, (long long)t);
    }
    return 0;
}

/* ---- the job ------------------------------------------------------------------------------ */

static int parse_shard(const char *v, int *k, int *n)
{
    char *e;
    long a = strtol(v, &e, 10);
    if (e == v || *e != '/') return -1;
    const char *p = e + 1;
    long b = strtol(p, &e, 10);
    if (e == p || *e || b < 1 || b > 1000000 || a < 1 || a > b) return -1;
    *k = (int)a - 1;
    *n = (int)b;
    return 0;
}

int cli_batch(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "publish") == 0 || strcmp(argv[1], "runs") == 0 ||
                     strcmp(argv[1], "rejects") == 0))
        return runs_cmd(argv[1], argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "next-runs") == 0) return next_runs_cmd(argc - 1, argv + 1);

    bt_job_opts o;
    memset(&o, 0, sizeof o);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = ncpu > 0 ? (int)ncpu : 1;
    o.chunk_rows = 10000;
    o.nshards = 1;
    o.keep = 3;
    o.max_rejects = -1;
    o.progress = -1;
    o.log = stderr;
    o.stop_after_chunks = -1;
    o.store_url = default_store();
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int r;
        long l;
        if (cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
#define STR_OPT(flag, field, what)                                                       \
    if ((r = cli_opt(argc, argv, &i, flag, &v)) != 0) {                                  \
        if (r < 0) return cli_usage_error("batch", flag " needs " what);                 \
        o.field = v;                                                                     \
        continue;                                                                        \
    }
        STR_OPT("--model", model_path, "a model file")
        STR_OPT("--input", input, "a file, '-' or sql:SELECT ...")
        STR_OPT("--key", key, "a column name")
        STR_OPT("--name", name, "a model name")
        STR_OPT("--model-version", model_version, "a version")
        STR_OPT("--features", features, "comma-separated column names")
        STR_OPT("--config", config_path, "a config.json file")
        STR_OPT("--format", format, "csv or jsonl")
        STR_OPT("--store", store_url, "a URL")
        STR_OPT("--run", run_id, "a run id")
#undef STR_OPT
        if ((r = cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_parse_long(v, 1, 255, &l))
                return cli_usage_error("batch", "--threads needs an integer in 1..255");
            o.threads = (int)l;
        } else if ((r = cli_opt(argc, argv, &i, "--chunk", &v)) != 0) {
            if (r < 0 || cli_parse_long(v, 1, 10000000, &l))
                return cli_usage_error("batch", "--chunk needs an integer in 1..10000000");
            o.chunk_rows = l;
        } else if ((r = cli_opt(argc, argv, &i, "--keep", &v)) != 0) {
            if (r < 0 || cli_parse_long(v, 0, 1000000, &l))
                return cli_usage_error("batch", "--keep needs a non-negative integer");
            o.keep = (int)l;
        } else if ((r = cli_opt(argc, argv, &i, "--max-rejects", &v)) != 0) {
            if (r < 0 || cli_parse_long(v, 0, 4000000000000000000L, &l))
                return cli_usage_error("batch", "--max-rejects needs a non-negative integer");
            o.max_rejects = l;
        } else if ((r = cli_opt(argc, argv, &i, "--missing", &v)) != 0) {
            ms_error me = {{0}};
            if (r < 0 || pd_missing_parse(v, "--missing", &o.missing, &me) != MS_OK)
                return cli_usage_error("batch", "--missing needs reject or nan");
        } else if ((r = cli_opt(argc, argv, &i, "--shard", &v)) != 0) {
            if (r < 0 || parse_shard(v, &o.shard, &o.nshards))
                return cli_usage_error("batch", "--shard needs K/N with 1 <= K <= N, e.g. 2/3");
        } else if ((r = cli_opt(argc, argv, &i, "--stop-after", &v)) != 0) {
            /* undocumented testing aid: commit this many chunks, then stop (resumable) */
            if (r < 0 || cli_parse_long(v, 0, 1000000000, &l))
                return cli_usage_error("batch", "--stop-after needs a chunk count");
            o.stop_after_chunks = l;
        } else if (strcmp(a, "--resume") == 0) {
            o.resume = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--progress") == 0) {
            o.progress = 1;
        } else if (strcmp(a, "--no-progress") == 0) {
            o.progress = 0;
        } else {
            return cli_usage_error("batch", "unexpected argument '%s'", a);
        }
    }
    if (!o.model_path) return cli_usage_error("batch", "missing --model");
    if (!o.input) return cli_usage_error("batch", "missing --input");
    if (!o.key) return cli_usage_error("batch", "missing --key");
    if (o.name) {
        ms_error e;
        if (strlen(o.name) >= ST_NAME_MAX || strspn(o.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                                                            "KLMNOPQRSTUVWXYZ0123456789._:-") != strlen(o.name) || !*o.name) {
            (void)e;
            return cli_usage_error("batch", "--name: use letters, digits and . _ : - (under %d characters)", ST_NAME_MAX);
        }
    }
    bt_job_result res;
    ms_error err = {{0}};
    ms_status st = bt_job_run(&o, &res, &err);
    char line[4096]; /* the JSON summary quotes the binding (up to 512 bytes) */
    if (res.run_id[0] && (st == MS_OK || strcmp(res.status, "failed") == 0 ||
                          strcmp(res.status, "running") == 0)) {
        if (json) bt_job_summary_json(&res, line, sizeof line);
        else bt_job_summary_line(&res, line, sizeof line);
        fputs(line, stdout);
        fflush(stdout);
    }
    if (st != MS_OK) return cli_fail("batch", st, err.msg);
    return 0;
}
