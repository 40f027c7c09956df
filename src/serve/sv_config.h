/* sv_config.h: a model's config.json (DIR/<name>/config.json), parsed and checked.
 *
 * The keys and their meaning are in sv_repo.h (the layout) and docs/config.md. Reading checks
 * every key (unknown keys refused, types, ranges, identifiers, the batch schedule); a config
 * that does not read changes nothing (sv_repo.c keeps the versions already serving). */
#ifndef SV_CONFIG_H
#define SV_CONFIG_H

#include <stdint.h>

#include "mlship.h"
#include "predict/pd_batch.h"
#include "predict/pd_check.h"

typedef struct sv_features_cfg {
    char *store_url; /* NULL: the server's --store */
    char *table, *key;
    char **columns;
    int ncolumns;
} sv_features_cfg;

typedef struct sv_batch_job_cfg {
    char *schedule;               /* cron expression (bt_cron syntax), checked */
    char *input, *key;            /* required */
    char *features;               /* "a,b,c" or NULL */
    char *format;                 /* NULL (by extension), "csv", "jsonl" */
    char *store;                  /* NULL: the server's --store */
    int utc;                      /* schedule in UTC rather than local time */
    int threads;                  /* scoring threads (default 1: the server keeps serving) */
    long chunk;                   /* rows per committed chunk (default 10000) */
    int keep;                     /* runs kept after publishing (default 3) */
    int64_t max_rejects;          /* -1: no limit */
} sv_batch_job_cfg;

/* The streaming flow of serve (sv_stream.c): POST /v1/models/{m}/predictions/{key} and
 * GET /v1/tickets/{T}. Present with defaults when config.json has no "stream" block. */
typedef struct sv_stream_cfg {
    int64_t max_age_s;   /* a stored prediction older than this is not answered (default 3600) */
    int64_t max_pending; /* unscored events on the queue beyond which triggers get 503 (10000) */
    int64_t wait_ms_max; /* the longest long-poll of GET /v1/tickets/T (default 30000) */
    int64_t pending_s;   /* a ticket without a result this old no longer coalesces (60) */
} sv_stream_cfg;
/* The defaults: 3600, 10000, 30000, 60. */
sv_stream_cfg sv_stream_cfg_default(void);

typedef struct sv_model_cfg {
    char *default_version;
    pd_batch_cfg batching;        /* max_batch_size <= 1: off */
    sv_features_cfg *features;    /* NULL: none */
    char *predict_output;         /* /predict: output name, NULL: automatic */
    int predict_column;           /* /predict: column of that output, -1: all */
    sv_batch_job_cfg *batch;      /* scheduled batch job, NULL: none */
    pd_missing missing;           /* "missing": "reject" (default) | "nan"; for requests and
                                     the scheduled batch job (src/predict/pd_check.h) */
    sv_stream_cfg stream;         /* "stream": triggers and tickets (always set) */
} sv_model_cfg;

/* Parse config.json at `path` into *out (caller frees with sv_config_free). A path that does
 * not exist gives the defaults; a file that is not valid is MS_ERR_INVALID with a message
 * naming the key. */
ms_status sv_config_read(const char *path, sv_model_cfg **out, ms_error *err);
void sv_config_free(sv_model_cfg *c);

#endif
