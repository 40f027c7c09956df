/* sv_sched.c: the batch scheduler inside `mlship serve` (see sv_sched.h).
 *
 * Reading order: the clock (real, or the test-only fast one); the table of scheduled models
 * and how a tick refreshes it from the repository; running one job; the thread; metrics. */
#define _GNU_SOURCE
#include "serve/sv_sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch/bt_cron.h"
#include "batch/bt_job.h"
#include "serve/sv_http.h"
#include "serve/sv_log.h"
#include "serve/sv_metrics.h"
#include "store/store.h"

/* Names and paths are checked shorter than their buffers; gcc cannot see that. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define MAX_MODELS 256
#define NSTATUS 6
static const char *const status_names[NSTATUS] = {"published", "complete", "already-complete",
                                                  "running", "failed", "error"};

typedef struct ent {
    char model[SV_NAME_MAX];
    char expr[256];
    int utc;
    int present;               /* a schedule exists now (config.json or --schedule) */
    bt_schedule sch;
    int due;
    /* state for /metrics */
    int running;
    uint64_t runs[NSTATUS];
    int last;                  /* index into status_names, -1 before the first run */
    int64_t rows_scored, rows_rejected;
    double seconds;
    time_t finished;
} ent;

struct sv_sched {
    sv_sched_opts o;
    char cli_model[SV_NAME_MAX];
    pthread_t th;
    pthread_mutex_t mu;        /* guards ents, stop, busy */
    pthread_cond_t cv;
    int stop, busy, done;
    ent *ents;
    int nents;
    time_t t0;                 /* real time at start (fast clock origin) */
    uint64_t mono0;
};

/* ---- the clock ------------------------------------------------------------------------- */

static time_t sched_now(sv_sched *s)
{
    if (s->o.minute_ms <= 0) return time(NULL);
    uint64_t el = bs_now_ns() - s->mono0;
    return s->t0 + (time_t)((double)el / 1e6 / (double)s->o.minute_ms * 60.0);
}

static uint64_t tick_ms(sv_sched *s)
{
    if (s->o.minute_ms <= 0) return 1000;
    uint64_t t = (uint64_t)s->o.minute_ms / 20;
    return t < 5 ? 5 : t > 1000 ? 1000 : t;
}

/* ---- the table ------------------------------------------------------------------------- */

static ent *find_ent(sv_sched *s, const char *model, int create)
{
    for (int i = 0; i < s->nents; i++)
        if (strcmp(s->ents[i].model, model) == 0) return &s->ents[i];
    if (!create || s->nents == MAX_MODELS) return NULL;
    ent *e = &s->ents[s->nents++];
    memset(e, 0, sizeof *e);
    snprintf(e->model, sizeof e->model, "%s", model);
    e->last = -1;
    e->sch.next = (time_t)-1;
    return e;
}

/* The schedule of `model` now: --schedule's, else its serving version's config.json. */
static int current_schedule(sv_sched *s, const char *model, char *expr, size_t cap, int *utc)
{
    if (s->o.schedule && strcmp(model, s->cli_model) == 0) {
        snprintf(expr, cap, "%s", s->o.schedule);
        *utc = 0;
        return 1;
    }
    sv_version *v = NULL;
    char why[300];
    if (sv_repo_acquire(s->o.repo, model, NULL, &v, why, sizeof why) != 0) return 0;
    int have = v->cfg && v->cfg->batch;
    if (have) {
        snprintf(expr, cap, "%s", v->cfg->batch->schedule);
        *utc = v->cfg->batch->utc;
    }
    sv_version_release(v);
    return have;
}

/* Re-read every model's schedule; mark the entries that are due at `now`. */
static void refresh(sv_sched *s, time_t now)
{
    static char names[MAX_MODELS][SV_NAME_MAX];
    int n = sv_repo_names(s->o.repo, names, MAX_MODELS);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nents; i++) s->ents[i].present = 0;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++) {
        char expr[256];
        int utc = 0;
        if (!current_schedule(s, names[i], expr, sizeof expr, &utc)) continue;
        pthread_mutex_lock(&s->mu);
        ent *e = find_ent(s, names[i], 1);
        if (e) {
            if (strcmp(e->expr, expr) != 0 || e->utc != utc || e->sch.next == (time_t)-1) {
                ms_error err = {{0}};
                if (bt_schedule_init(&e->sch, expr, utc, now, &err) != MS_OK) e->sch.next = (time_t)-1;
                else if (strcmp(e->expr, expr) != 0)
                    sv_log_event("model '%s': batch schedule \"%s\"%s", e->model, expr, utc ? " (UTC)" : "");
                snprintf(e->expr, sizeof e->expr, "%s", expr);
                e->utc = utc;
            }
            e->present = 1;
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nents; i++) {
        ent *e = &s->ents[i];
        if (!e->present) { e->expr[0] = 0; e->sch.next = (time_t)-1; continue; }
        if (e->sch.next != (time_t)-1 && bt_schedule_due(&e->sch, now)) e->due = 1;
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- one job --------------------------------------------------------------------------- */

typedef struct job_spec {
    char path[4096], version[SV_NAME_MAX];
    char input[4096], key[256], features[4096], format[16], store[4096];
    const char *features_from; /* NULL: the job's own option; else the config.json block */
    int threads, keep;
    long chunk;
    int64_t max_rejects;
    pd_missing missing; /* the model's config.json "missing" */
} job_spec;

/* features.columns as the "a,b,c" list a job's --features takes; 0 (dst "") when a name
 * holds a comma or the list does not fit: the job then reads config.json and says why */
static int join_columns(const sv_features_cfg *f, char *dst, size_t cap)
{
    size_t n = 0;
    dst[0] = 0;
    for (int i = 0; i < f->ncolumns; i++) {
        int w = snprintf(dst + n, cap - n, "%s%s", i ? "," : "", f->columns[i]);
        if (strchr(f->columns[i], ',') || w < 0 || (size_t)w >= cap - n) return dst[0] = 0, 0;
        n += (size_t)w;
    }
    return n > 0;
}

static ms_status spec_of(sv_sched *s, const char *model, job_spec *js, ms_error *err)
{
    sv_version *v = NULL;
    char why[300];
    if (sv_repo_acquire(s->o.repo, model, NULL, &v, why, sizeof why) != 0)
        return bs_fail(err, MS_ERR_RUNTIME, "%s", why);
    memset(js, 0, sizeof *js);
    snprintf(js->path, sizeof js->path, "%s", v->path);
    snprintf(js->version, sizeof js->version, "%s", v->version);
    const char *store = s->o.store_url;
    if (s->o.schedule && strcmp(model, s->cli_model) == 0) {
        snprintf(js->input, sizeof js->input, "%s", s->o.input);
        snprintf(js->key, sizeof js->key, "%s", s->o.key);
        if (s->o.features) snprintf(js->features, sizeof js->features, "%s", s->o.features);
        js->threads = s->o.threads > 0 ? s->o.threads : 1;
        js->chunk = 10000, js->keep = 3, js->max_rejects = -1;
    } else if (v->cfg && v->cfg->batch) {
        const sv_batch_job_cfg *b = v->cfg->batch;
        snprintf(js->input, sizeof js->input, "%s", b->input);
        snprintf(js->key, sizeof js->key, "%s", b->key);
        if (b->features) snprintf(js->features, sizeof js->features, "%s", b->features);
        if (b->format) snprintf(js->format, sizeof js->format, "%s", b->format);
        if (b->store) store = b->store;
        js->threads = b->threads, js->chunk = b->chunk, js->keep = b->keep, js->max_rejects = b->max_rejects;
    } else {
        sv_version_release(v);
        return bs_fail(err, MS_ERR_INVALID, "no batch job configured");
    }
    if (store) snprintf(js->store, sizeof js->store, "%s", store);
    /* no feature list of its own: the config.json already parsed here names the columns
     * (features.columns), so the job need not find and read that file again */
    if (!js->features[0] && v->cfg && v->cfg->features &&
        join_columns(v->cfg->features, js->features, sizeof js->features))
        js->features_from = "features.columns of config.json";
    js->missing = v->cfg ? v->cfg->missing : PD_MISSING_REJECT;
    sv_version_release(v);
    if (!js->store[0])
        return bs_fail(err, MS_ERR_INVALID, "no store for the predictions: set \"store\" in config.json batch or start with --store");
    return MS_OK;
}

/* Resume the latest run if the server stopped in the middle of it (same model version). */
static int should_resume(const job_spec *js, const char *model)
{
    st_store *st = NULL;
    ms_error err = {{0}};
    if (st_open(js->store, &st, &err) != MS_OK) return 0;
    st_run run;
    int found = 0, resume = 0;
    if (st_run_latest(st, model, 0, &run, &found, &err) == MS_OK && found && run.status == ST_RUN_RUNNING &&
        strcmp(run.model_version, js->version) == 0)
        resume = 1;
    st_close(st);
    return resume;
}

static int status_index(const char *st)
{
    for (int i = 0; i < NSTATUS; i++)
        if (st && strcmp(st, status_names[i]) == 0) return i;
    return NSTATUS - 1;
}

static void run_one(sv_sched *s, ent *e)
{
    char model[SV_NAME_MAX];
    pthread_mutex_lock(&s->mu);
    snprintf(model, sizeof model, "%s", e->model);
    e->running = 1;
    e->due = 0;
    pthread_mutex_unlock(&s->mu);

    static job_spec js;
    ms_error err = {{0}};
    bt_job_result res;
    memset(&res, 0, sizeof res);
    uint64_t t0 = bs_now_ns();
    ms_status st = spec_of(s, model, &js, &err);
    if (st == MS_OK) {
        bt_job_opts o;
        memset(&o, 0, sizeof o);
        o.model_path = js.path;
        o.input = js.input;
        o.format = js.format[0] ? js.format : NULL;
        o.key = js.key;
        o.name = model;
        o.model_version = js.version;
        o.features = js.features[0] ? js.features : NULL;
        o.features_from = js.features_from;
        o.store_url = js.store;
        o.threads = js.threads;
        o.chunk_rows = js.chunk;
        o.shard = 0, o.nshards = 1;
        o.keep = js.keep;
        o.max_rejects = js.max_rejects;
        o.resume = should_resume(&js, model);
        o.progress = 0;
        o.log = NULL;
        o.stop_after_chunks = -1;
        o.missing = js.missing;
        sv_log_event("model '%s': scheduled batch run starts (version '%s', input %s%s)", model, js.version, js.input,
                     o.resume ? ", resuming the interrupted run" : "");
        st = bt_job_run(&o, &res, &err);
    }
    double secs = (double)(bs_now_ns() - t0) / 1e9;
    int idx = st == MS_OK ? status_index(res.status) : (res.run_id[0] ? status_index("failed") : NSTATUS - 1);
    if (st == MS_OK) {
        char line[1024];
        bt_job_summary_line(&res, line, sizeof line);
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[n - 1] = 0;
        sv_log_event("model '%s': scheduled batch %s", model, line);
    } else {
        sv_log_event("model '%s': scheduled batch run failed: %s", model, err.msg);
    }
    pthread_mutex_lock(&s->mu);
    e = find_ent(s, model, 0);
    if (e) {
        e->running = 0;
        e->runs[idx]++;
        e->last = idx;
        e->rows_scored = st == MS_OK ? res.rows_scored : 0;
        e->rows_rejected = st == MS_OK ? res.rows_rejected : 0;
        e->seconds = secs;
        e->finished = sched_now(s);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- the thread ------------------------------------------------------------------------ */

static void *loop(void *arg)
{
    sv_sched *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        refresh(s, sched_now(s));
        for (;;) { /* every due job, one at a time */
            ent *due = NULL;
            pthread_mutex_lock(&s->mu);
            for (int i = 0; i < s->nents && !due && !s->stop; i++)
                if (s->ents[i].due && s->ents[i].present) due = &s->ents[i];
            if (due) s->busy = 1;
            pthread_mutex_unlock(&s->mu);
            if (!due) break;
            run_one(s, due);
            pthread_mutex_lock(&s->mu);
            s->busy = 0;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
        }
        pthread_mutex_lock(&s->mu);
        if (!s->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + tick_ms(s) * 1000000u;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&s->mu);
    s->done = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

ms_status sv_sched_start(const sv_sched_opts *o, sv_sched **out, ms_error *err)
{
    *out = NULL;
    sv_sched *s = calloc(1, sizeof *s);
    if (!s || !(s->ents = calloc(MAX_MODELS, sizeof *s->ents))) {
        free(s);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    s->o = *o;
    if (o->schedule) {
        bt_schedule probe;
        ms_error ce = {{0}};
        if (bt_schedule_init(&probe, o->schedule, 0, time(NULL), &ce) != MS_OK) {
            free(s->ents);
            free(s);
            return bs_fail(err, MS_ERR_INVALID, "--schedule \"%s\": %s", o->schedule, ce.msg);
        }
        if (o->model) snprintf(s->cli_model, sizeof s->cli_model, "%s", o->model);
        else if (!sv_repo_default_model(o->repo, s->cli_model, sizeof s->cli_model)) {
            free(s->ents);
            free(s);
            return bs_fail(err, MS_ERR_INVALID, "--schedule: the repository has several models; name one with --batch-model");
        }
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->t0 = time(NULL);
    s->mono0 = bs_now_ns();
    if (pthread_create(&s->th, NULL, loop, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s->ents);
        free(s);
        return bs_fail(err, MS_ERR_RUNTIME, "cannot start the scheduler thread");
    }
    *out = s;
    return MS_OK;
}

int sv_sched_stop(sv_sched *s, uint64_t wait_ms)
{
    if (!s) return 0;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + wait_ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    while (!s->done) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT) break;
    }
    int done = s->done;
    pthread_mutex_unlock(&s->mu);
    if (!done) {
        sv_log_event("a scheduled batch run is still going; leaving it (it resumes at the next fire)");
        return 1;
    }
    pthread_join(s->th, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->ents);
    free(s);
    return 0;
}

/* ---- metrics --------------------------------------------------------------------------- */

static void series(mc_buf *b, const char *name, const char *model, const char *status)
{
    mc_buf_puts(b, name);
    mc_buf_puts(b, "{model=");
    sv_metrics_label(b, model);
    if (status) {
        mc_buf_puts(b, ",status=");
        sv_metrics_label(b, status);
    }
    mc_buf_puts(b, "} ");
}

void sv_sched_gauges(sv_sched *s, mc_buf *b)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    mc_buf_puts(b, "# HELP mlship_batch_runs_total Scheduled batch runs by final status.\n"
                   "# TYPE mlship_batch_runs_total counter\n");
    for (int i = 0; i < s->nents; i++)
        for (int k = 0; k < NSTATUS; k++)
            if (s->ents[i].runs[k]) {
                series(b, "mlship_batch_runs_total", s->ents[i].model, status_names[k]);
                mc_buf_put_u64(b, s->ents[i].runs[k]);
                mc_buf_putc(b, '\n');
            }
    mc_buf_puts(b, "# HELP mlship_batch_running 1 while a scheduled batch run of the model is going.\n"
                   "# TYPE mlship_batch_running gauge\n");
    for (int i = 0; i < s->nents; i++) {
        series(b, "mlship_batch_running", s->ents[i].model, NULL);
        mc_buf_printf(b, "%d\n", s->ents[i].running);
    }
    mc_buf_puts(b, "# HELP mlship_batch_next_run_timestamp_seconds Next scheduled fire time (Unix time).\n"
                   "# TYPE mlship_batch_next_run_timestamp_seconds gauge\n");
    for (int i = 0; i < s->nents; i++)
        if (s->ents[i].present && s->ents[i].sch.next != (time_t)-1) {
            series(b, "mlship_batch_next_run_timestamp_seconds", s->ents[i].model, NULL);
            mc_buf_printf(b, "%lld\n", (long long)s->ents[i].sch.next);
        }
    static const char *const gauges[][2] = {
        {"mlship_batch_last_run_status", "1 for the status of the last scheduled run."},
        {"mlship_batch_last_run_rows_scored", "Rows scored by the last scheduled run."},
        {"mlship_batch_last_run_rows_rejected", "Rows rejected by the last scheduled run."},
        {"mlship_batch_last_run_duration_seconds", "Duration of the last scheduled run."},
        {"mlship_batch_last_run_finished_timestamp_seconds", "When the last scheduled run ended (Unix time)."},
    };
    for (int g = 0; g < 5; g++) {
        mc_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g][0], gauges[g][1], gauges[g][0]);
        for (int i = 0; i < s->nents; i++) {
            const ent *e = &s->ents[i];
            if (e->last < 0) continue;
            series(b, gauges[g][0], e->model, g == 0 ? status_names[e->last] : NULL);
            switch (g) {
            case 0: mc_buf_puts(b, "1\n"); break;
            case 1: mc_buf_printf(b, "%lld\n", (long long)e->rows_scored); break;
            case 2: mc_buf_printf(b, "%lld\n", (long long)e->rows_rejected); break;
            case 3: mc_buf_printf(b, "%.6f\n", e->seconds); break;
            default: mc_buf_printf(b, "%lld\n", (long long)e->finished); break;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
}
