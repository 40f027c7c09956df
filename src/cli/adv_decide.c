/* adv_decide.c: the decision tree of `mlship advise` (adv_decide.h; docs/advise.md).
 *
 * In order: --offline -> edge (the model must fit the device, else a refusal); --stream ->
 * streaming; a latency under ADV_LIVE_S -> edge when a device is named and the model fits it,
 * else real-time; ADV_LIVE_S .. ADV_BATCH_S -> real-time; from ADV_BATCH_S on -> batch. The
 * facts refine it: a latency under the measured batch-1 latency cannot be met live (batch can
 * precompute when --entities is given), a batch run longer than the latency allows cannot
 * keep up, and with both --entities and --requests-per-s the cheaper of batch and real-time in
 * CPU-seconds a day wins where both meet the latency. Every reason cites a number. */
#include "cli/adv_decide.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* export-c's code next to its weights: at most 1.6 KiB on bench/RESULTS.md's models at -Os
 * for a Cortex-M4; 4 KiB keeps a margin for the runtime's few libm calls. */
#define ADV_M4_CODE_BYTES 4096

static const adv_device_info devices[] = {
    [ADV_DEVICE_CORTEX_M4] = {"cortex-m4",
                              "an STM32F407VG (Cortex-M4F, 168 MHz, 1 MiB flash, 192 KiB RAM, of which "
                              "128 KiB flash and 32 KiB RAM are left to the firmware)",
                              (1024 - 128) * 1024, (192 - 32) * 1024,
                              /* 2.5 instructions per multiply-add (bench/RESULTS.md, issue
                               * 13), about one instruction per cycle */
                              168e6 / 2.5, "export-c"},
    [ADV_DEVICE_AARCH64] = {"aarch64",
                            "a 64-bit ARM Linux board running `mlship agent` (its default "
                            "--max-blob: 256 MiB)",
                            256 * 1024 * 1024, 0, 0, "agent"},
    [ADV_DEVICE_BROWSER] = {"browser",
                            "the WebAssembly package (docs/wasm.md): the model is copied into "
                            "wasm32's 4 GiB memory; 1 GiB taken as the largest download",
                            1024 * 1024 * 1024, 0, 0, "wasm"},
};

/* Timer periods for batch, longest first, with systemd's OnCalendar= for each. */
static const struct { double s; const char *cal; } periods[] = {
    {86400, "*-*-* 02:00:00"}, {21600, "*-*-* 00/6:00:00"}, {3600, "*-*-* *:00:00"},
    {1800, "*-*-* *:00/30:00"}, {900, "*-*-* *:00/15:00"}, {300, "*-*-* *:00/5:00"},
    {60, "*-*-* *:*:00"},
};
#define N_PERIODS (int)(sizeof periods / sizeof periods[0])

/* ---- small helpers ---------------------------------------------------------------------- */

const char *adv_mode_name(adv_mode m)
{
    switch (m) {
    case ADV_MODE_BATCH: return "batch";
    case ADV_MODE_REALTIME: return "real-time";
    case ADV_MODE_STREAMING: return "streaming";
    case ADV_MODE_EDGE: return "edge";
    default: return "none";
    }
}

int adv_device_parse(const char *s, adv_device *out)
{
    for (int d = ADV_DEVICE_CORTEX_M4; d <= ADV_DEVICE_BROWSER; d++)
        if (!strcmp(s, devices[d].name)) { *out = (adv_device)d; return 0; }
    return -1;
}

const adv_device_info *adv_device_get(adv_device d)
{
    return d >= ADV_DEVICE_CORTEX_M4 && d <= ADV_DEVICE_BROWSER ? &devices[d] : NULL;
}

int adv_parse_duration(const char *s, double *seconds)
{
    static const struct { const char *unit; double s; } units[] = {
        {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400},
    };
    /* the number by hand first: strtod alone would take "0x10", "inf" and "nan" */
    const char *q = s;
    int digits = 0;
    while (*q >= '0' && *q <= '9') q++, digits++;
    if (*q == '.') for (q++; *q >= '0' && *q <= '9'; q++) digits++;
    if (!digits) return -1;
    if ((*q == 'e' || *q == 'E') && (q[1] == '+' || q[1] == '-' || (q[1] >= '0' && q[1] <= '9'))) {
        q += q[1] == '+' || q[1] == '-' ? 2 : 1;
        if (!(*q >= '0' && *q <= '9')) return -1;
        while (*q >= '0' && *q <= '9') q++;
    }
    char *end;
    double v = strtod(s, &end);
    if (end != q || !isfinite(v) || v <= 0) return -1;
    if (!*end) { *seconds = v; return 0; }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].unit)) {
            double r = v * units[i].s;
            if (!isfinite(r) || r <= 0 || r > 1e12) return -1;
            *seconds = r;
            return 0;
        }
    return -1;
}

void adv_fmt_seconds(char *dst, int cap, double s)
{
    if (s < 1e-3) snprintf(dst, (size_t)cap, "%.3g us", s * 1e6);
    else if (s < 1) snprintf(dst, (size_t)cap, "%.3g ms", s * 1e3);
    else if (s < 120) snprintf(dst, (size_t)cap, "%.3g s", s);
    else if (s < 3600) snprintf(dst, (size_t)cap, "%.3g min", s / 60);
    else if (s < 172800) snprintf(dst, (size_t)cap, "%.3g h", s / 3600);
    else snprintf(dst, (size_t)cap, "%.3g d", s / 86400);
}

void adv_fmt_bytes(char *dst, int cap, double b)
{
    if (b < 1024) snprintf(dst, (size_t)cap, "%.0f B", b);
    else if (b < 1024 * 1024) snprintf(dst, (size_t)cap, "%.1f KiB", b / 1024);
    else if (b < 1024.0 * 1024 * 1024) snprintf(dst, (size_t)cap, "%.1f MiB", b / (1024 * 1024));
    else snprintf(dst, (size_t)cap, "%.1f GiB", b / (1024.0 * 1024 * 1024));
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void add(char lines[][ADV_LINE], int *n, const char *fmt, ...)
{
    if (*n >= ADV_MAX_LINES) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lines[(*n)++], ADV_LINE, fmt, ap);
    va_end(ap);
}
#define REASON(...) add(o->reasons, &o->n_reasons, __VA_ARGS__)
#define FLIP(...) add(o->flips, &o->n_flips, __VA_ARGS__)

/* ---- facts derived from the measurements ------------------------------------------------ */

/* Does the model fit `d`? Sets o->fits, o->fit_why and o->device_latency_s. */
static void check_fit(const adv_facts *f, adv_device d, adv_advice *o)
{
    const adv_device_info *di = adv_device_get(d);
    char a[32], b[32], c[32], e[32];
    o->fits = -1;
    o->device_latency_s = -1;
    if (!f->have_model || !di) return;
    if (d == ADV_DEVICE_CORTEX_M4) {
        int64_t flash = f->flash_bytes + ADV_M4_CODE_BYTES;
        if (!f->export_ok) {
            o->fits = 0;
            snprintf(o->fit_why, ADV_LINE, "export-c cannot write it as C: %.200s", f->export_why);
            return;
        }
        adv_fmt_bytes(a, sizeof a, (double)flash), adv_fmt_bytes(b, sizeof b, (double)di->flash_bytes);
        adv_fmt_bytes(c, sizeof c, (double)f->ram_bytes), adv_fmt_bytes(e, sizeof e, (double)di->ram_bytes);
        o->fits = flash <= di->flash_bytes && f->ram_bytes <= di->ram_bytes;
        snprintf(o->fit_why, ADV_LINE, "flash %s (weights + 4 KiB code) of %s, RAM %s of %s%s", a, b,
                 c, e, o->fits ? "" : flash > di->flash_bytes ? ": flash too small" : ": RAM too small");
        if (f->macs > 0) o->device_latency_s = (double)f->macs / di->macs_per_s;
        return;
    }
    if (d == ADV_DEVICE_BROWSER && f->xgboost_json) {
        o->fits = 0;
        snprintf(o->fit_why, ADV_LINE, "the wasm build reads no XGBoost model.json: convert it to ONNX");
        return;
    }
    adv_fmt_bytes(a, sizeof a, (double)f->file_bytes), adv_fmt_bytes(b, sizeof b, (double)di->flash_bytes);
    o->fits = f->file_bytes <= di->flash_bytes;
    snprintf(o->fit_why, ADV_LINE, "model file %s of at most %s%s", a, b, o->fits ? "" : ": too large");
    o->device_latency_s = f->lat1_median_s; /* no device model: a core like this machine's */
}

/* The batch timer: the longest period within the latency (a prediction is at most one period
 * old, counted from its run's start; daily when no latency is given) whose run, of
 * o->batch_run_s, ends before the next one starts. Returns 0, or -1 when the run is longer
 * than that period (o->period_s is still set to it). */
static int pick_period(const adv_ask *a, adv_advice *o)
{
    int i = 0;
    while (i < N_PERIODS - 1 && a->latency_s >= 0 && periods[i].s > a->latency_s) i++;
    o->period_s = periods[i].s;
    o->on_calendar = periods[i].cal;
    return o->batch_run_s > periods[i].s || (a->latency_s >= 0 && periods[i].s > a->latency_s) ? -1 : 0;
}

static void costs(const adv_ask *a, const adv_facts *f, adv_advice *o)
{
    o->batch_run_s = o->batch_cpu_s_day = o->realtime_cpu_s_day = -1;
    if (!f->have_model) return;
    if (a->entities >= 0 && f->rows_per_s_batch > 0) o->batch_run_s = a->entities / f->rows_per_s_batch;
    if (a->requests_per_s >= 0) o->realtime_cpu_s_day = a->requests_per_s * 86400 * f->lat1_mean_s;
}

/* ---- the branches ----------------------------------------------------------------------- */

static int refuse(adv_advice *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int refuse(adv_advice *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->refusal, sizeof o->refusal, fmt, ap);
    va_end(ap);
    return 2;
}

static int decide_offline(const adv_ask *a, const adv_facts *f, adv_advice *o, const char *lat)
{
    const adv_device_info *di = adv_device_get(o->device);
    char x[32];
    o->mode = ADV_MODE_EDGE;
    REASON("--offline: predictions must be made without a network, so the model runs on the device");
    if (o->device_assumed)
        REASON("no --device: assuming %s (%s); say --device cortex-m4 or browser otherwise",
               di->name, di->part);
    if (a->stream) REASON("--stream with --offline: the device scores its events as they come; a queue worker needs the network");
    if (o->fits == 0)
        return refuse(o, "--offline needs the model on the device, and it cannot run on %s: %s",
                      di->name, o->fit_why);
    if (o->fits == 1) REASON("fits %s, taken as %s: %s", di->name, di->part, o->fit_why);
    else REASON("fit on %s not checked: give MODEL to measure it", di->name);
    if (a->latency_s > 0 && o->device_latency_s > 0) {
        adv_fmt_seconds(x, sizeof x, o->device_latency_s);
        if (o->device_latency_s > a->latency_s)
            return refuse(o, "--latency %s is below what %s can do: about %s a row (%s)", lat,
                          di->name, x, di->macs_per_s > 0 ? "its multiply-adds at 2.5 cycles each, 168 MHz" : "as measured here");
        REASON("about %s a row on %s (%s), within --latency %s", x, di->name,
               di->macs_per_s > 0 ? "multiply-adds at 2.5 cycles each, 168 MHz" : "as measured on this machine", lat);
    }
    o->runner_up = a->latency_s >= ADV_BATCH_S ? ADV_MODE_BATCH : ADV_MODE_REALTIME;
    FLIP("if the device is online when it needs a prediction: %s from a server, no model on the device",
         o->runner_up == ADV_MODE_BATCH ? "batch predictions looked up by key" : "real-time");
    return 0;
}

/* The model cannot answer a live request within the latency: precompute, or refuse. */
static int too_slow(const adv_ask *a, const adv_facts *f, adv_advice *o, const char *lat)
{
    char x[32];
    adv_fmt_seconds(x, sizeof x, f->lat1_median_s);
    if (a->entities < 0)
        return refuse(o, "--latency %s is below this model's batch-1 latency here (%s median): no "
                      "live mode can meet it; precompute with batch (give --entities N) or relax --latency",
                      lat, x);
    o->mode = ADV_MODE_BATCH;
    o->runner_up = ADV_MODE_REALTIME;
    REASON("--latency %s is below the model's batch-1 latency here (%s median): live scoring cannot meet it", lat, x);
    REASON("--entities %.0f known in advance: score them ahead and answer by key from the store (a lookup, no model call)", a->entities);
    FLIP("--latency %s or more: real-time", x);
    return 0;
}

static void rt_load(const adv_ask *a, const adv_facts *f, adv_advice *o)
{
    char x[32];
    if (!f->have_model) return;
    adv_fmt_seconds(x, sizeof x, f->lat1_median_s);
    REASON("batch-1 latency here: %s median, %.0f rows/s on one core", x,
           f->lat1_mean_s > 0 ? 1 / f->lat1_mean_s : 0);
    if (a->requests_per_s >= 0)
        REASON("--requests-per-s %g takes %.3g cores of scoring (%.3g CPU-s a day)", a->requests_per_s,
               a->requests_per_s * f->lat1_mean_s, o->realtime_cpu_s_day);
}

static int decide_live(const adv_ask *a, const adv_facts *f, adv_advice *o, const char *lat)
{
    const adv_device_info *di = adv_device_get(a->device);
    char x[32];
    if (di && o->fits == 1 && o->device_latency_s > 0 && a->latency_s > 0 &&
        o->device_latency_s > a->latency_s) {
        adv_fmt_seconds(x, sizeof x, o->device_latency_s);
        o->fits = 0;
        snprintf(o->fit_why, ADV_LINE, "about %s a row there, over --latency %s", x, lat);
    }
    if (di && o->fits != 0) {
        o->mode = ADV_MODE_EDGE;
        o->runner_up = ADV_MODE_REALTIME;
        if (a->latency_s > 0)
            REASON("--latency %s is under %g s and --device %s is named: on the device there is no network round trip", lat, ADV_LIVE_S, di->name);
        else
            REASON("--device %s is named: the model runs there, with no network round trip", di->name);
        if (o->fits == 1) REASON("fits %s: %s", di->name, o->fit_why);
        else REASON("fit on %s not checked: give MODEL to measure it", di->name);
        if (o->device_latency_s > 0) {
            adv_fmt_seconds(x, sizeof x, o->device_latency_s);
            REASON("about %s a row on %s", x, di->name);
        }
        FLIP("if a network round trip fits in --latency %s and the model may stay on a server: real-time", lat);
        return 0;
    }
    o->mode = ADV_MODE_REALTIME;
    o->runner_up = ADV_MODE_EDGE;
    REASON("--latency %s is under %g s: a caller waits for the answer, so an HTTP service scores each request live", lat, ADV_LIVE_S);
    if (di) REASON("it cannot run on %s: %s", di->name, o->fit_why);
    rt_load(a, f, o);
    FLIP("--offline (no network when a prediction is needed), with a model that fits the device: edge");
    return 0;
}

static int decide_seconds(const adv_ask *a, const adv_facts *f, adv_advice *o, const char *lat)
{
    o->mode = ADV_MODE_REALTIME;
    o->runner_up = ADV_MODE_STREAMING;
    REASON("--latency %s is seconds: too soon for a scheduled batch run (the shortest timer here is 1 min), a live service answers", lat);
    rt_load(a, f, o);
    FLIP("--stream (the inputs are events on a queue, nobody waits on a connection): streaming");
    FLIP("--latency %g s or more: batch", ADV_BATCH_S);
    return 0;
}

static int decide_batch(const adv_ask *a, const adv_facts *f, adv_advice *o, const char *lat)
{
    char x[32], y[32];
    int ok = pick_period(a, o);
    adv_fmt_seconds(y, sizeof y, o->period_s);
    if (ok != 0) {
        adv_fmt_seconds(x, sizeof x, o->batch_run_s);
        o->mode = ADV_MODE_REALTIME;
        o->runner_up = ADV_MODE_BATCH;
        REASON("one batch run of %.0f entities takes %s here (%.0f rows/s, one core), too long to refresh within --latency %s",
               a->entities, x, f->rows_per_s_batch, lat);
        rt_load(a, f, o);
        FLIP("the run split over %.0f machines with --shard K/N, each under %s: batch",
             ceil(o->batch_run_s / o->period_s), y);
        return 0;
    }
    o->mode = ADV_MODE_BATCH;
    o->runner_up = ADV_MODE_REALTIME;
    if (a->latency_s >= 0)
        REASON("--latency %s is minutes or more: a batch run every %s (a systemd timer) keeps predictions fresh enough", lat, y);
    else
        REASON("--entities without --latency: one batch run a day scores them all");
    if (o->batch_run_s >= 0) {
        adv_fmt_seconds(x, sizeof x, o->batch_run_s);
        o->batch_cpu_s_day = o->batch_run_s * 86400 / o->period_s;
        REASON("one run of %.0f entities takes %s here at %.0f rows/s (batch %lld, one core): %.3g CPU-s a day",
               a->entities, x, f->rows_per_s_batch, (long long)f->batch_rows, o->batch_cpu_s_day);
    }
    if (o->batch_cpu_s_day >= 0 && o->realtime_cpu_s_day >= 0) {
        double even = o->batch_cpu_s_day / (86400 * f->lat1_mean_s);
        if (o->realtime_cpu_s_day < o->batch_cpu_s_day) {
            o->mode = ADV_MODE_REALTIME;
            o->runner_up = ADV_MODE_BATCH;
            REASON("real-time at --requests-per-s %g costs %.3g CPU-s a day, less than batch's %.3g: score only what is asked",
                   a->requests_per_s, o->realtime_cpu_s_day, o->batch_cpu_s_day);
            FLIP("more than %.3g requests/s (where both cost %.3g CPU-s a day): batch", even, o->batch_cpu_s_day);
            return 0;
        }
        REASON("real-time at --requests-per-s %g would cost %.3g CPU-s a day, batch %.3g", a->requests_per_s,
               o->realtime_cpu_s_day, o->batch_cpu_s_day);
        FLIP("fewer than %.3g requests/s: real-time costs less", even);
    }
    FLIP("--latency under %g s (predictions fresher than a timer gives): real-time", ADV_BATCH_S);
    return 0;
}

int adv_decide(const adv_ask *a, const adv_facts *f, adv_advice *o)
{
    memset(o, 0, sizeof *o);
    char lat[32] = "";
    if (a->latency_s > 0) adv_fmt_seconds(lat, sizeof lat, a->latency_s);
    o->device = a->device;
    if (a->offline && a->device == ADV_DEVICE_NONE) o->device = ADV_DEVICE_AARCH64, o->device_assumed = 1;
    check_fit(f, o->device, o);
    costs(a, f, o);
    pick_period(a, o);

    if (a->offline) return decide_offline(a, f, o, lat);
    /* every other branch scores live on a server: the measured latency is a floor */
    if (f->have_model && a->latency_s > 0 && f->lat1_median_s > a->latency_s)
        return too_slow(a, f, o, lat);
    if (a->stream) {
        char x[32];
        o->mode = ADV_MODE_STREAMING;
        o->runner_up = a->latency_s >= ADV_BATCH_S ? ADV_MODE_BATCH : ADV_MODE_REALTIME;
        REASON("--stream: events arrive continuously; a worker takes them off the queue in micro-batches and stores each result once");
        if (f->have_model && f->rows_per_s_batch > 0) {
            REASON("one worker thread scores about %.0f events/s here (batch %lld)", f->rows_per_s_batch, (long long)f->batch_rows);
            if (a->requests_per_s >= 0)
                REASON("--requests-per-s %g needs %.0f worker thread(s) (--threads)", a->requests_per_s,
                       ceil(a->requests_per_s / f->rows_per_s_batch));
        }
        if (a->latency_s > 0) {
            adv_fmt_seconds(x, sizeof x, a->latency_s);
            REASON("--latency %s: a micro-batch waits at most --linger-ms before it is scored", x);
        }
        FLIP("a caller waiting on a connection for each answer, not a queue: real-time");
        FLIP("predictions allowed to be %g s old or more, entities known ahead: batch", ADV_BATCH_S);
        return 0;
    }
    if (a->latency_s > 0 && a->latency_s < ADV_LIVE_S) return decide_live(a, f, o, lat);
    if (a->latency_s > 0 && a->latency_s < ADV_BATCH_S) return decide_seconds(a, f, o, lat);
    if (a->latency_s >= ADV_BATCH_S || a->entities >= 0) return decide_batch(a, f, o, lat);
    if (a->device != ADV_DEVICE_NONE) return decide_live(a, f, o, lat);
    if (a->requests_per_s >= 0) {
        o->mode = ADV_MODE_REALTIME;
        o->runner_up = ADV_MODE_BATCH;
        REASON("--requests-per-s %g without --latency or --entities: requests come live, so a live service answers them", a->requests_per_s);
        rt_load(a, f, o);
        FLIP("--entities N known ahead and --latency of minutes or more: batch");
        return 0;
    }
    return refuse(o, "no constraint given: say --latency, --offline, --stream, --entities, --requests-per-s or --device");
}
