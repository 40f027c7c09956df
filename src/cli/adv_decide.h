/* adv_decide.h: `mlship advise`'s decision: which deployment mode (batch, real-time, streaming,
 * edge) for the constraints a team states and the facts measured on its model. Pure: no I/O,
 * no model, no clock, so every branch is unit-tested (tests/unit/cli/test_adv_decide.c).
 * The tree and every threshold are documented in docs/advise.md. */
#ifndef ADV_DECIDE_H
#define ADV_DECIDE_H

#include <stdint.h>

/* The tree's two thresholds: below ADV_LIVE_S a request waits for its answer (milliseconds);
 * from ADV_BATCH_S on a scheduled run is fresh enough (minutes to hours). */
#define ADV_LIVE_S 1.0
#define ADV_BATCH_S 60.0

#define ADV_MAX_LINES 8
#define ADV_LINE 240

typedef enum adv_mode { ADV_MODE_NONE, ADV_MODE_BATCH, ADV_MODE_REALTIME, ADV_MODE_STREAMING,
                        ADV_MODE_EDGE } adv_mode;
typedef enum adv_device { ADV_DEVICE_NONE, ADV_DEVICE_CORTEX_M4, ADV_DEVICE_AARCH64,
                          ADV_DEVICE_BROWSER } adv_device;

/* What a device offers the model, and how it is deployed there (docs/advise.md says why). */
typedef struct adv_device_info {
    const char *name;       /* as --device spells it */
    const char *part;       /* the part assumed, in words */
    int64_t flash_bytes;    /* storage for the model: flash, or the largest blob taken; 0: n/a */
    int64_t ram_bytes;      /* RAM for the model's working memory; 0: not checked */
    double macs_per_s;      /* estimated multiply-adds per second; 0: as measured here */
    const char *how;        /* "export-c", "agent", "wasm" */
} adv_device_info;

/* The constraints, as the flags give them. A negative number is "not given". */
typedef struct adv_ask {
    double latency_s;
    int offline, stream;
    double entities;        /* entities scored per batch run (--entities) */
    double requests_per_s;
    adv_device device;
} adv_ask;

/* Facts measured on the model (have_model 0: the advice rests on the constraints alone). */
typedef struct adv_facts {
    int have_model;
    int xgboost_json;          /* XGBoost model.json: the wasm build has no reader for it */
    int64_t file_bytes;
    double lat1_median_s;      /* one row per call, one thread */
    double lat1_mean_s;
    double rows_per_s_batch;   /* one thread at batch_rows rows a call */
    int64_t batch_rows;
    int64_t macs;              /* multiply-adds per row; -1 unknown */
    int export_ok;             /* export-c can write it as C */
    char export_why[ADV_LINE]; /* why not, when !export_ok */
    int64_t flash_bytes;       /* export-c's weights */
    int64_t ram_bytes;         /* export-c's arena + tree keys + stack estimate */
} adv_facts;

typedef struct adv_advice {
    adv_mode mode, runner_up;
    adv_device device;         /* the device edge means: given, or assumed (device_assumed) */
    int device_assumed;
    char reasons[ADV_MAX_LINES][ADV_LINE];
    int n_reasons;
    char flips[ADV_MAX_LINES][ADV_LINE];
    int n_flips;
    char refusal[2 * ADV_LINE]; /* non-empty: the constraints contradict (exit 2) */
    /* derived figures; negative: not known */
    int fits;                  /* the model on `device`: 1, 0, -1 not checked */
    char fit_why[ADV_LINE];
    double device_latency_s;   /* estimated per row on `device` */
    double batch_run_s;        /* one batch run of `entities` rows */
    double batch_cpu_s_day, realtime_cpu_s_day;
    double period_s;           /* the batch timer's period */
    const char *on_calendar;   /* its systemd OnCalendar= */
} adv_advice;

/* Decide. Returns 0, or 2 with `refusal` set when the constraints contradict each other or
 * the facts (--offline with a model that cannot fit the device, a latency no mode can meet). */
int adv_decide(const adv_ask *a, const adv_facts *f, adv_advice *out);

/* "5ms", "200us", "2s", "1.5m", "1h", "1d" (a bare number is seconds) -> seconds > 0.
 * Returns 0, or -1 for anything else (no unit word, garbage, zero, negative, overflow). */
int adv_parse_duration(const char *s, double *seconds);
/* "cortex-m4", "aarch64", "browser" -> the device; -1 for any other name. */
int adv_device_parse(const char *s, adv_device *out);
const adv_device_info *adv_device_get(adv_device d);
const char *adv_mode_name(adv_mode m); /* "batch", "real-time", "streaming", "edge", "none" */

/* Human forms for the one-line reasons: "350 us", "2.1 ms", "3.4 s", "2.3 h"; "340 KiB". */
void adv_fmt_seconds(char *dst, int cap, double s);
void adv_fmt_bytes(char *dst, int cap, double b);

#endif
