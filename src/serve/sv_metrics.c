/* sv_metrics.c: counters and histograms in small arrays searched linearly (a server has a
 * handful of models and routes), written out in Prometheus text format 0.0.4. */
#include "serve/sv_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LBL 64 /* label values are truncated to this (names are checked shorter anyway) */

static const double lat_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 10};
#define NLAT (sizeof lat_bounds / sizeof lat_bounds[0])
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define NBATCH (sizeof batch_bounds / sizeof batch_bounds[0])

typedef struct req_series { char model[LBL], route[32]; int status; uint64_t n; } req_series;
typedef struct lat_series { char route[32]; uint64_t b[NLAT + 1]; double sum; uint64_t n; } lat_series;
typedef struct batch_series { char model[LBL]; uint64_t b[NBATCH + 1]; double sum; uint64_t n; } batch_series;
typedef struct load_series { char model[LBL], version[LBL]; double seconds; int live; } load_series;
typedef struct model_count { char model[LBL]; uint64_t loads, failures; } model_count;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static req_series *reqs; static int n_reqs, cap_reqs;
static lat_series *lats; static int n_lats, cap_lats;
static batch_series *batches; static int n_batches, cap_batches;
static load_series *loads; static int n_loads, cap_loads;
static model_count *counts; static int n_counts, cap_counts;

/* Grow an array by one zeroed slot; NULL on out of memory (the sample is then dropped). */
static void *grow(void **arr, int *n, int *cap, size_t size)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        void *p = realloc(*arr, (size_t)nc * size);
        if (!p) return NULL;
        *arr = p;
        *cap = nc;
    }
    char *slot = (char *)*arr + (size_t)(*n)++ * size;
    memset(slot, 0, size);
    return slot;
}

static void copy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

void sv_metrics_request(const char *model, const char *route, int status, double seconds)
{
    model = model ? model : "";
    pthread_mutex_lock(&mu);
    req_series *r = NULL;
    for (int i = 0; i < n_reqs; i++)
        if (reqs[i].status == status && strcmp(reqs[i].route, route) == 0 &&
            strncmp(reqs[i].model, model, LBL - 1) == 0) { r = &reqs[i]; break; }
    if (!r && (r = grow((void **)&reqs, &n_reqs, &cap_reqs, sizeof *r))) {
        copy(r->model, sizeof r->model, model);
        copy(r->route, sizeof r->route, route);
        r->status = status;
    }
    if (r) r->n++;
    lat_series *l = NULL;
    for (int i = 0; i < n_lats; i++)
        if (strcmp(lats[i].route, route) == 0) { l = &lats[i]; break; }
    if (!l && (l = grow((void **)&lats, &n_lats, &cap_lats, sizeof *l)))
        copy(l->route, sizeof l->route, route);
    if (l) {
        size_t k = 0;
        while (k < NLAT && seconds > lat_bounds[k]) k++;
        l->b[k]++;
        l->sum += seconds;
        l->n++;
    }
    pthread_mutex_unlock(&mu);
}

void sv_metrics_batch(const char *model, int64_t rows)
{
    pthread_mutex_lock(&mu);
    batch_series *s = NULL;
    for (int i = 0; i < n_batches; i++)
        if (strncmp(batches[i].model, model, LBL - 1) == 0) { s = &batches[i]; break; }
    if (!s && (s = grow((void **)&batches, &n_batches, &cap_batches, sizeof *s)))
        copy(s->model, sizeof s->model, model);
    if (s) {
        size_t k = 0;
        while (k < NBATCH && (double)rows > batch_bounds[k]) k++;
        s->b[k]++;
        s->sum += (double)rows;
        s->n++;
    }
    pthread_mutex_unlock(&mu);
}

static model_count *count_for(const char *model)
{
    for (int i = 0; i < n_counts; i++)
        if (strncmp(counts[i].model, model, LBL - 1) == 0) return &counts[i];
    model_count *c = grow((void **)&counts, &n_counts, &cap_counts, sizeof *c);
    if (c) copy(c->model, sizeof c->model, model);
    return c;
}

void sv_metrics_load(const char *model, const char *version, double seconds, int ok)
{
    pthread_mutex_lock(&mu);
    model_count *c = count_for(model);
    if (c) {
        if (ok) c->loads++;
        else c->failures++;
    }
    if (ok) {
        load_series *s = NULL;
        for (int i = 0; i < n_loads; i++)
            if (strncmp(loads[i].model, model, LBL - 1) == 0 &&
                strncmp(loads[i].version, version, LBL - 1) == 0) { s = &loads[i]; break; }
        if (!s && (s = grow((void **)&loads, &n_loads, &cap_loads, sizeof *s))) {
            copy(s->model, sizeof s->model, model);
            copy(s->version, sizeof s->version, version);
        }
        if (s) s->seconds = seconds, s->live = 1;
    }
    pthread_mutex_unlock(&mu);
}

void sv_metrics_unload(const char *model, const char *version)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_loads; i++)
        if (strncmp(loads[i].model, model, LBL - 1) == 0 &&
            strncmp(loads[i].version, version, LBL - 1) == 0) loads[i].live = 0;
    pthread_mutex_unlock(&mu);
}

void sv_metrics_label(mc_buf *out, const char *v)
{
    mc_buf_putc(out, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '\\') mc_buf_puts(out, "\\\\");
        else if (*p == '"') mc_buf_puts(out, "\\\"");
        else if (*p == '\n') mc_buf_puts(out, "\\n");
        else mc_buf_putc(out, *p);
    }
    mc_buf_putc(out, '"');
}

/* One series of a Prometheus histogram: cumulative buckets, then _sum and _count. */
static void put_histogram(mc_buf *out, const char *name, const char *key, const char *label,
                          const uint64_t *b, const double *bounds, size_t nb, double sum,
                          uint64_t n)
{
    uint64_t cum = 0;
    for (size_t k = 0; k <= nb; k++) {
        cum += b[k];
        mc_buf_printf(out, "%s_bucket{%s=", name, key);
        sv_metrics_label(out, label);
        if (k < nb) mc_buf_printf(out, ",le=\"%g\"} %llu\n", bounds[k], (unsigned long long)cum);
        else mc_buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    mc_buf_printf(out, "%s_sum{%s=", name, key);
    sv_metrics_label(out, label);
    mc_buf_printf(out, "} %.12g\n%s_count{%s=", sum, name, key);
    sv_metrics_label(out, label);
    mc_buf_printf(out, "} %llu\n", (unsigned long long)n);
}

void sv_metrics_write(mc_buf *out, void (*gauges)(void *ctx, mc_buf *out), void *ctx)
{
    pthread_mutex_lock(&mu);
    mc_buf_puts(out, "# HELP mlship_requests_total HTTP requests by model, route and status.\n"
                     "# TYPE mlship_requests_total counter\n");
    for (int i = 0; i < n_reqs; i++) {
        mc_buf_puts(out, "mlship_requests_total{model=");
        sv_metrics_label(out, reqs[i].model);
        mc_buf_puts(out, ",route=");
        sv_metrics_label(out, reqs[i].route);
        mc_buf_printf(out, ",status=\"%d\"} %llu\n", reqs[i].status, (unsigned long long)reqs[i].n);
    }
    mc_buf_puts(out, "# HELP mlship_request_duration_seconds Time from request line to response, in the server.\n"
                     "# TYPE mlship_request_duration_seconds histogram\n");
    for (int i = 0; i < n_lats; i++)
        put_histogram(out, "mlship_request_duration_seconds", "route", lats[i].route, lats[i].b,
                      lat_bounds, NLAT, lats[i].sum, lats[i].n);
    mc_buf_puts(out, "# HELP mlship_batch_size Rows per model run (dynamic batching merges requests).\n"
                     "# TYPE mlship_batch_size histogram\n");
    for (int i = 0; i < n_batches; i++)
        put_histogram(out, "mlship_batch_size", "model", batches[i].model, batches[i].b,
                      batch_bounds, NBATCH, batches[i].sum, batches[i].n);
    mc_buf_puts(out, "# HELP mlship_model_load_seconds Load, plan and warm-up time of each served version.\n"
                     "# TYPE mlship_model_load_seconds gauge\n");
    for (int i = 0; i < n_loads; i++) {
        if (!loads[i].live) continue;
        mc_buf_puts(out, "mlship_model_load_seconds{model=");
        sv_metrics_label(out, loads[i].model);
        mc_buf_puts(out, ",version=");
        sv_metrics_label(out, loads[i].version);
        mc_buf_printf(out, "} %.6f\n", loads[i].seconds);
    }
    mc_buf_puts(out, "# HELP mlship_model_loads_total Versions loaded successfully.\n"
                     "# TYPE mlship_model_loads_total counter\n");
    for (int i = 0; i < n_counts; i++) {
        mc_buf_puts(out, "mlship_model_loads_total{model=");
        sv_metrics_label(out, counts[i].model);
        mc_buf_printf(out, "} %llu\n", (unsigned long long)counts[i].loads);
    }
    mc_buf_puts(out, "# HELP mlship_model_load_failures_total Versions refused (unreadable, invalid, unsupported, failed warm-up).\n"
                     "# TYPE mlship_model_load_failures_total counter\n");
    for (int i = 0; i < n_counts; i++) {
        mc_buf_puts(out, "mlship_model_load_failures_total{model=");
        sv_metrics_label(out, counts[i].model);
        mc_buf_printf(out, "} %llu\n", (unsigned long long)counts[i].failures);
    }
    pthread_mutex_unlock(&mu);
    if (gauges) gauges(ctx, out);
}
