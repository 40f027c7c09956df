/* bt_job.h: one batch run: source -> score -> store, committed chunk by chunk, published when
 * complete. This is what `mlship batch` and the server's scheduler call.
 *
 * The run, in order:
 * 1. Open the model (name: --name, else `<name>/<version>/model.onnx` gives name and version,
 *    else the file's stem (or its directory for model.*); version: the directory, else
 *    "fnv-" + a hash of the file), the source, the store; bind columns to inputs by name:
 *    `features`, else config.json's features.columns (bt_config), else the model's feature
 *    names (bt_score.h); by position only when none is known, and the summary says so.
 * 2. Decide the run: a new one (st_run_begin), or with --resume the latest run of this model
 *    and shard (or --run ID): running -> continue after its last committed chunk; complete ->
 *    say so, nothing to do; failed or none -> a new run. The input fingerprint recorded at begin
 *    ("chunk=N;csv:size=..,mtime=..,head=..") must match, so a resume never mixes two inputs,
 *    and fixes the chunk size, so chunk k always means the same input rows.
 * 3. Pipeline: the calling thread reads chunk k and scores it (bt_scorer, N threads) while a
 *    writer thread commits chunk k-1 with st_run_write_chunk (its predictions, its rejects and
 *    last_chunk = k-1 in one transaction). Three chunk buffers in flight: memory does not grow
 *    with the input.
 * 4. Rows whose key hashes to another shard are skipped (every shard reads the whole input).
 *    Bad rows go to the rejects table with line and reason; more than max_rejects fails the run
 *    (st_run_fail: never visible). A key scored earlier in the run (bt_keyset, in the writer
 *    thread, so in input order) is rejected: "duplicate key, first at line N"; a resumed run
 *    refills the set from the store's predictions of the run (st_run_keys) first.
 * 5. At the end st_run_complete: the run (all shards) is published in one transaction, older
 *    runs beyond `keep` are deleted. Killed at any point, the store holds whole chunks only,
 *    and the published run is untouched until step 5. */
#ifndef BT_JOB_H
#define BT_JOB_H

#include <stdint.h>
#include <stdio.h>

#include "mlship.h"
#include "predict/pd_check.h"
#include "store/store.h"

typedef struct bt_job_opts {
    const char *model_path;    /* required */
    const char *input;         /* file, "-", or "sql:SELECT ..." (required) */
    const char *format;        /* NULL (by extension), "csv", "jsonl" */
    const char *key;           /* key column (required) */
    const char *name;          /* model name in the store, or NULL */
    const char *model_version; /* or NULL */
    const char *features;      /* "a,b,c" or NULL: bind by these names (highest priority) */
    const char *features_from; /* what gave `features`, for messages; NULL: "--features" */
    const char *config_path;   /* config.json whose features.columns names the columns; NULL:
                                  the one next to the model, if any (bt_config_find) */
    const char *store_url;     /* required */
    const char *run_id;        /* NULL: a fresh one (required with nshards > 1) */
    int threads;               /* scoring threads, >= 1 */
    long chunk_rows;           /* rows per committed chunk (a resumed run keeps its own) */
    int shard, nshards;        /* 0-based shard of nshards (1: no sharding) */
    int keep;                  /* runs to keep after publishing; <= 0 keeps all */
    int64_t max_rejects;       /* -1: no limit */
    int resume;
    int progress;              /* 1 bar, 0 none, -1 if stderr is a terminal */
    FILE *log;                 /* notes ("resuming run X at chunk 12"), or NULL */
    /* testing aid: stop (exit status 1, run left running) after committing this many chunks;
     * -1 never. Lets tests interrupt a run at an exact chunk without a signal. */
    int64_t stop_after_chunks;
    pd_missing missing;        /* missing values: refused (default) or NaN where the model
                                  defines them (--missing nan; checked against the model) */
} bt_job_opts;

/* How a run ended, for this process. */
typedef enum bt_run_state {
    BT_RUN_FAILED,           /* "failed" */
    BT_RUN_RUNNING,          /* "running": stopped early, resumable */
    BT_RUN_COMPLETE,         /* "complete": other shards pending */
    BT_RUN_PUBLISHED,        /* "published" */
    BT_RUN_ALREADY_COMPLETE  /* "already-complete": --resume found nothing to do */
} bt_run_state;
const char *bt_run_state_name(bt_run_state s); /* the strings above, as printed and logged */

typedef struct bt_job_result {
    char run_id[ST_NAME_MAX];
    char model[ST_NAME_MAX];
    char model_version[ST_NAME_MAX];
    int shard, nshards;
    int64_t rows_read;         /* input records read by this process */
    int64_t rows_scored;       /* the shard's totals in the store (resumed runs included) */
    int64_t rows_rejected;
    int64_t rejected_by_why[PD_WHY_N]; /* rows this process rejected, per pd_why category */
    int64_t rows_duplicate;    /* of rows_rejected: a key seen earlier in the run */
    int64_t resumed_at_chunk;  /* -1: a new run */
    double seconds;
    bt_run_state state;
    const char *status;        /* bt_run_state_name(state), for messages */
    int published;
    int positional;            /* no column names were known: bound by position */
    char binding[512];         /* how columns were bound (bt_scorer_describe) */
} bt_job_result;

ms_status bt_job_run(const bt_job_opts *o, bt_job_result *r, ms_error *err);

/* Name and version from a model path, as step 1 says (dst caps ST_NAME_MAX). */
void bt_model_identity(const char *path, char *name, char *version);

/* The summary line ("run ...: N rows scored, N rejected in S s (R rows/s); published") and
 * the --json object, each ending in a newline. */
void bt_job_summary_line(const bt_job_result *r, char *dst, size_t cap);
void bt_job_summary_json(const bt_job_result *r, char *dst, size_t cap);

#endif
