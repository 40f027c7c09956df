/* bt_job.c: one batch run, pipelined and resumable (see bt_job.h). */
#include "batch/bt_job.h"

#include <ctype.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "batch/bt_config.h"
#include "batch/bt_keyset.h"
#include "batch/bt_progress.h"
#include "batch/bt_score.h"
#include "batch/bt_source.h"
#include "codec/codec_buf.h"

/* ==== identity ========================================================================== */

static void clean_name(char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != ':' && *s != '-') *s = '_';
}

static int all_digits(const char *s, size_t n)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

void bt_model_identity(const char *path, char *name, char *version)
{
    name[0] = version[0] = 0;
    /* split into up to three trailing components: gp/parent/base */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *pe = base > path ? base - 1 : NULL; /* the slash before base */
    const char *ps = pe ? pe : NULL;
    while (ps && ps > path && ps[-1] != '/') ps--;
    size_t plen = pe ? (size_t)(pe - ps) : 0;
    if (strncmp(base, "model.", 6) == 0 && plen) {
        if (all_digits(ps, plen) && ps > path) {
            const char *ge = ps - 1, *gs = ge;
            while (gs > path && gs[-1] != '/') gs--;
            snprintf(name, ST_NAME_MAX, "%.*s", (int)(ge - gs), gs);
            snprintf(version, ST_NAME_MAX, "%.*s", (int)plen, ps);
        } else {
            snprintf(name, ST_NAME_MAX, "%.*s", (int)plen, ps);
        }
    }
    if (!name[0]) {
        const char *dot = strrchr(base, '.');
        size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
        snprintf(name, ST_NAME_MAX, "%.*s", (int)n, base);
    }
    if (!version[0]) {
        mc_buf b = {0};
        ms_error e;
        if (mc_read_file(path, &b, &e) == MS_OK)
            snprintf(version, ST_NAME_MAX, "fnv-%016llx",
                     (unsigned long long)bs_fnv1a(b.data, b.len, BS_FNV_INIT));
        else
            snprintf(version, ST_NAME_MAX, "unknown");
        mc_buf_free(&b);
    }
    clean_name(name);
    clean_name(version);
}

const char *bt_run_state_name(bt_run_state s)
{
    static const char *const names[] = {"failed", "running", "complete", "published",
                                        "already-complete"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "failed";
}

/* The one place a run's state changes: the printed name follows it. */
static void set_state(bt_job_result *r, bt_run_state s)
{
    r->state = s;
    r->status = bt_run_state_name(s);
}

/* ==== the pipeline ====================================================================== */

/* A slot is free, being scored (pool threads), ready for the writer, or being written. */
enum { SLOT_FREE, SLOT_SCORING, SLOT_READY, SLOT_WRITING };
#define NSLOTS 3

/* A scored row whose key the run scored before: a reject with off[r] into the slot's
 * dup_text (set by mark_duplicates on the reading thread, read by the writer). */
enum { ROW_DUPLICATE = BT_ROW_REJECT + 1 };

typedef struct job_slot {
    bt_chunk chunk;
    bt_results res;
    mc_buf dup_text; /* this chunk's "duplicate key, first at line N" reasons */
    int state;
} job_slot;

typedef struct job {
    const bt_job_opts *o;
    bt_job_result *r;
    st_store *store;
    bt_source *src;
    bt_scorer *scorer;
    bt_progress prog;
    job_slot slots[NSLOTS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int writer_quit, abort;       /* abort: the writer failed or rejects went over the limit */
    int over_limit;
    ms_status wst;
    ms_error werr;
    int64_t chunks_written;
    /* writer scratch */
    st_prediction *preds;
    st_reject *rejs;
    size_t scratch_cap;
    bt_keyset seen;   /* keys scored in this run: the reading thread's (mark_duplicates) */
    uint64_t *hashes; /* mark_duplicates' scratch: a chunk's key hashes */
    size_t hashes_cap;
} job;

/* Turn the rows of a scored chunk whose key the run already scored into duplicates, in input
 * order. On the reading thread, between the scorer and the writer: the writer (one SQLite
 * connection) is the pipeline's bound, and a lookup in a table of millions of keys is a cache
 * miss per row. */
static ms_status mark_duplicates(job *j, job_slot *sl, ms_error *err)
{
    const bt_chunk *c = &sl->chunk;
    bt_results *res = &sl->res;
    mc_buf_reset(&sl->dup_text);
    if (j->hashes_cap < c->nrows) {
        uint64_t *h = realloc(j->hashes, c->nrows * sizeof *h);
        if (!h) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        j->hashes = h;
        j->hashes_cap = c->nrows;
    }
    for (size_t r = 0; r < c->nrows; r++)
        if (res->kind[r] == BT_ROW_OK) {
            const char *key = bt_results_key(res, r);
            j->hashes[r] = bt_keyset_hash(key, strlen(key));
        }
    enum { AHEAD = 16 };
    for (size_t r = 0; r < c->nrows && r < AHEAD; r++)
        if (res->kind[r] == BT_ROW_OK) bt_keyset_prefetch(&j->seen, j->hashes[r]);
    for (size_t r = 0; r < c->nrows; r++) {
        if (r + AHEAD < c->nrows && res->kind[r + AHEAD] == BT_ROW_OK)
            bt_keyset_prefetch(&j->seen, j->hashes[r + AHEAD]);
        if (res->kind[r] != BT_ROW_OK) continue;
        int64_t first;
        int dup = bt_keyset_add_hash(&j->seen, j->hashes[r], c->line[r], &first);
        if (dup < 0) return bs_fail(err, MS_ERR_RUNTIME, "out of memory (the run's keys)");
        if (!dup) continue;
        res->kind[r] = ROW_DUPLICATE;
        res->off[r] = (uint32_t)sl->dup_text.len;
        if (first == BT_LINE_UNKNOWN)
            mc_buf_puts(&sl->dup_text, "duplicate key, already scored in this run before it "
                                       "was resumed");
        else if (first == BT_LINE_BEYOND)
            mc_buf_puts(&sl->dup_text, "duplicate key, first at a line beyond 4294967294");
        else
            mc_buf_printf(&sl->dup_text, "duplicate key, first at line %lld", (long long)first);
        mc_buf_putc(&sl->dup_text, 0);
    }
    if (mc_buf_failed(&sl->dup_text)) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    return MS_OK;
}

static void *writer_main(void *arg)
{
    job *j = arg;
    int next = 0;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        job_slot *s = &j->slots[next];
        while (s->state != SLOT_READY && !j->writer_quit) pthread_cond_wait(&j->cv, &j->mu);
        if (s->state != SLOT_READY) break; /* quit with nothing queued */
        s->state = SLOT_WRITING;
        pthread_mutex_unlock(&j->mu);

        /* keys: the rows' key cells */
        ms_error e = {{0}};
        ms_status st = MS_OK;
        if (!j->abort) {
            bt_chunk *c = &s->chunk;
            bt_results *res = &s->res;
            if (j->scratch_cap < c->nrows) {
                st_prediction *p = realloc(j->preds, c->nrows * sizeof *p);
                if (p) j->preds = p;
                st_reject *q = realloc(j->rejs, c->nrows * sizeof *q);
                if (q) j->rejs = q;
                if (!p || !q) st = bs_fail(&e, MS_ERR_RUNTIME, "out of memory");
                else j->scratch_cap = c->nrows;
            }
            size_t np = 0, nr = 0, nd = 0;
            for (size_t r = 0; st == MS_OK && r < c->nrows; r++) {
                if (res->kind[r] == BT_ROW_OK) {
                    j->preds[np].key = bt_results_key(res, r);
                    j->preds[np].outputs = bt_results_text(res, r);
                    np++;
                } else if (res->kind[r] == BT_ROW_REJECT || res->kind[r] == ROW_DUPLICATE) {
                    int dup = res->kind[r] == ROW_DUPLICATE;
                    j->rejs[nr].line = c->line[r];
                    j->rejs[nr].reason = dup ? s->dup_text.data + res->off[r] : bt_results_text(res, r);
                    nr++;
                    nd += (size_t)dup;
                }
            }
            if (st == MS_OK)
                st = st_run_write_chunk(j->store, j->r->run_id, j->r->shard, c->index, j->preds,
                                        np, j->rejs, nr, &e);
            if (st == MS_OK) {
                j->r->rows_scored += (int64_t)np;
                j->r->rows_rejected += (int64_t)nr;
                for (int w = 0; w < PD_WHY_N; w++) j->r->rejected_by_why[w] += (int64_t)res->n_by_why[w];
                j->r->rows_duplicate += (int64_t)nd;
                j->chunks_written++;
                bt_progress_update(&j->prog, j->r->rows_scored, j->r->rows_rejected,
                                   bt_source_offset(j->src));
            }
        }
        pthread_mutex_lock(&j->mu);
        if (st != MS_OK && j->wst == MS_OK) {
            j->wst = st;
            j->werr = e;
            j->abort = 1;
        }
        if (st == MS_OK && j->o->max_rejects >= 0 && j->r->rows_rejected > j->o->max_rejects) {
            j->over_limit = 1;
            j->abort = 1;
        }
        if (st == MS_OK && j->o->stop_after_chunks >= 0 &&
            j->chunks_written >= j->o->stop_after_chunks)
            j->abort = 1;
        s->state = SLOT_FREE;
        pthread_cond_broadcast(&j->cv);
        next = (next + 1) % NSLOTS;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ==== deciding the run ================================================================== */

static const char *fp_source_part(const char *fp)
{
    const char *semi = strchr(fp, ';');
    return semi ? semi + 1 : fp;
}

static long fp_chunk(const char *fp)
{
    if (strncmp(fp, "chunk=", 6) != 0) return -1;
    return strtol(fp + 6, NULL, 10);
}

static void note(const bt_job_opts *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void note(const bt_job_opts *o, const char *fmt, ...)
{
    if (!o->log) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("mlship batch: ", o->log);
    vfprintf(o->log, fmt, ap);
    fputc('\n', o->log);
    va_end(ap);
}

/* What to do with the run: begin a new one, resume `prev`, or nothing (already complete). */
typedef enum run_plan { PLAN_NEW, PLAN_RESUME, PLAN_NOTHING } run_plan;

/* Fill r->run_id and choose the plan for this run (step 2 of bt_job.h). */
static ms_status plan_run(job *j, const char *fp, st_run *prev, run_plan *what, ms_error *err)
{
    const bt_job_opts *o = j->o;
    bt_job_result *r = j->r;
    int found = 0;
    ms_status st = MS_OK;
    *what = PLAN_NEW;
    if (o->run_id) {
        st = st_run_get(j->store, o->run_id, r->shard, prev, &found, err);
        snprintf(r->run_id, sizeof r->run_id, "%s", o->run_id);
    } else if (o->resume) {
        st = st_run_latest(j->store, r->model, r->shard, prev, &found, err);
    }
    if (st != MS_OK) return st;
    if (found && !o->resume)
        return bs_fail(err, MS_ERR_INVALID,
                       "run '%s' shard %d/%d already exists (%s); add --resume to continue it, or "
                       "give a new --run", prev->run_id, r->shard + 1, r->nshards,
                       st_run_status_name(prev->status));
    if (found && strcmp(prev->model, r->model) != 0)
        return bs_fail(err, MS_ERR_INVALID, "run '%s' belongs to model '%s', not '%s'",
                       prev->run_id, prev->model, r->model);
    /* a different input (tomorrow's file under a timer) is a new run, not a resume */
    const char *a = found ? fp_source_part(prev->input_fingerprint) : "", *b = fp_source_part(fp);
    int changed = found && *a && *b && strcmp(a, b) != 0;
    if (found && changed && prev->status == ST_RUN_RUNNING && !o->run_id) {
        note(o, "run %s was started on a different input (%s; now %s): marking it failed and "
             "starting a new run", prev->run_id, a, b);
        ms_error e2;
        if (st_run_fail(j->store, prev->run_id, prev->shard, &e2) != MS_OK)
            note(o, "could not mark run %s failed: %s", prev->run_id, e2.msg);
        found = 0;
    } else if (found && changed && prev->status == ST_RUN_RUNNING) {
        return bs_fail(err, MS_ERR_INVALID,
                       "run '%s' was started on a different input (%s; now %s); resume it with "
                       "the same input", prev->run_id, a, b);
    } else if (found && changed) {
        note(o, "the last run (%s) is complete but had a different input; starting a new run",
             prev->run_id);
        found = 0;
    }
    if (found && prev->status == ST_RUN_RUNNING) {
        if (!*a || !*b) note(o, "cannot check that the input is the same as run %s's (stdin)", prev->run_id);
        if (strcmp(prev->model_version, r->model_version) != 0)
            return bs_fail(err, MS_ERR_INVALID,
                           "run '%s' was scored by model version '%s'; this is '%s'",
                           prev->run_id, prev->model_version, r->model_version);
        snprintf(r->run_id, sizeof r->run_id, "%s", prev->run_id);
        *what = PLAN_RESUME;
        return MS_OK;
    }
    if (found && (prev->status == ST_RUN_COMPLETE || prev->status == ST_RUN_PUBLISHED)) {
        snprintf(r->run_id, sizeof r->run_id, "%s", prev->run_id);
        r->rows_scored = prev->rows_scored;
        r->rows_rejected = prev->rows_rejected;
        r->published = prev->status == ST_RUN_PUBLISHED;
        *what = PLAN_NOTHING;
        return MS_OK;
    }
    if (found && prev->status == ST_RUN_FAILED) {
        if (o->run_id)
            return bs_fail(err, MS_ERR_INVALID, "run '%s' failed and cannot be resumed; start a "
                           "new run with another --run", prev->run_id);
        note(o, "the last run (%s) failed; starting a new run", prev->run_id);
    } else if (o->resume && !found && !changed) {
        note(o, "no run to resume; starting a new run");
    }
    if (!o->run_id) st_run_make_id(r->run_id, sizeof r->run_id);
    return MS_OK;
}

/* ==== resuming: what the committed chunks already hold ================================ */

typedef struct seed_ctx {
    job *j;
    int oom;
} seed_ctx;

static int seed_key(void *ctx, const char *key)
{
    seed_ctx *c = ctx;
    int64_t first;
    const bt_job_result *r = c->j->r;
    if (bt_key_shard(key, r->nshards) != r->shard) return 0; /* another shard's row */
    if (bt_keyset_add(&c->j->seen, key, strlen(key), BT_LINE_UNKNOWN, &first) < 0)
        return c->oom = 1;
    return 0;
}

static int count_dup(void *ctx, int32_t shard, int64_t line, const char *reason)
{
    job *j = ctx;
    (void)line;
    if (shard == j->r->shard && reason && strncmp(reason, "duplicate key", 13) == 0)
        j->r->rows_duplicate++;
    return 0;
}

/* The keys the run's committed chunks scored (so a duplicate across the crash is caught) and
 * how many duplicates they rejected. */
static ms_status seed_resume(job *j, ms_error *err)
{
    seed_ctx c = {j, 0};
    ms_status st = st_run_keys(j->store, j->r->run_id, seed_key, &c, err);
    if (st == MS_OK && c.oom) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory (run keys)");
    if (st == MS_OK) st = st_run_rejects(j->store, j->r->run_id, count_dup, j, err);
    return st;
}

/* ==== binding: where the column names come from ========================================== */

/* --features, else features.columns of --config or the config.json next to the model. An
 * explicit --config is read even with --features, so a bad one is never ignored silently. */
static ms_status feature_names(const bt_job_opts *o, char **owned, const char **features,
                               char *from, size_t cap, ms_error *err)
{
    *owned = NULL;
    *features = o->features;
    snprintf(from, cap, "%s", o->features_from ? o->features_from : "--features");
    char cfg[4096];
    if (o->config_path) snprintf(cfg, sizeof cfg, "%s", o->config_path);
    else if (!o->features) bt_config_find(o->model_path, cfg, sizeof cfg);
    else cfg[0] = 0;
    if (!cfg[0]) return MS_OK;
    ms_status st = bt_config_columns(cfg, owned, err);
    if (st != MS_OK || o->features || !*owned) return st;
    *features = *owned;
    snprintf(from, cap, "features.columns of %.4000s", cfg);
    return MS_OK;
}

/* ==== the run =========================================================================== */

static ms_status run(job *j, ms_error *err)
{
    const bt_job_opts *o = j->o;
    bt_job_result *r = j->r;
    ms_model *model = NULL;
    ms_status st = ms_model_load_file(o->model_path, &model, err);
    if (st != MS_OK) return st;

    char name[ST_NAME_MAX], version[ST_NAME_MAX];
    bt_model_identity(o->model_path, name, version);
    snprintf(r->model, sizeof r->model, "%s", o->name ? o->name : name);
    snprintf(r->model_version, sizeof r->model_version, "%s",
             o->model_version ? o->model_version : version);

    char *cfg_cols = NULL, from[4100];
    const char *features = NULL;
    if (st == MS_OK) st = feature_names(o, &cfg_cols, &features, from, sizeof from, err);
    if (st == MS_OK) st = st_open(o->store_url, &j->store, err);
    if (st == MS_OK) st = bt_source_open(o->input, o->format, o->store_url, &j->src, err);
    const char *base = strrchr(o->input, '/');
    bt_score_opts so = {.key = o->key, .features = features, .features_from = from,
                        .source = strncmp(o->input, "sql:", 4) == 0 ? "the query"
                                  : strcmp(o->input, "-") == 0      ? "stdin"
                                  : base                            ? base + 1
                                                                    : o->input,
                        .threads = o->threads, .shard = o->shard, .nshards = o->nshards,
                        .async = 1, .missing = o->missing, .model_name = r->model};
    if (st == MS_OK)
        st = bt_scorer_create(model, bt_source_columns(j->src), bt_source_ncols(j->src), &so,
                              &j->scorer, err);
    free(cfg_cols);
    if (st != MS_OK) goto out;
    snprintf(r->binding, sizeof r->binding, "%s", bt_scorer_describe(j->scorer));
    r->positional = bt_scorer_positional(j->scorer);
    note(o, "%s", r->binding);

    char srcfp[96], fp[ST_NAME_MAX];
    bt_source_fingerprint(j->src, srcfp, sizeof srcfp);
    st_run prev;
    run_plan what;
    snprintf(fp, sizeof fp, "chunk=%ld;%s", o->chunk_rows, srcfp);
    if ((st = plan_run(j, fp, &prev, &what, err)) != MS_OK) goto out;
    if (what == PLAN_NOTHING) {
        set_state(r, BT_RUN_ALREADY_COMPLETE);
        note(o, "run %s shard %d/%d is already %s; nothing to do", r->run_id, r->shard + 1,
             r->nshards, r->published ? "published" : "complete");
        goto out;
    }
    long chunk_rows = o->chunk_rows;
    int64_t first_chunk = 0;
    if (what == PLAN_RESUME) {
        long c = fp_chunk(prev.input_fingerprint);
        if (c > 0) chunk_rows = c;
        first_chunk = prev.last_chunk + 1;
        r->resumed_at_chunk = first_chunk;
        r->rows_scored = prev.rows_scored;
        r->rows_rejected = prev.rows_rejected;
        note(o, "resuming run %s at chunk %lld (%lld rows already scored)", r->run_id,
             (long long)first_chunk, (long long)prev.rows_scored);
        if ((st = seed_resume(j, err)) != MS_OK) goto out;
        int64_t skipped;
        if ((st = bt_source_skip(j->src, first_chunk * chunk_rows, &skipped, err)) != MS_OK) goto out;
        if (skipped < first_chunk * chunk_rows) {
            st = bs_fail(err, MS_ERR_INVALID, "run '%s' committed %lld chunks of %ld rows but the "
                         "input now has only %lld rows", r->run_id, (long long)first_chunk,
                         chunk_rows, (long long)skipped);
            goto out;
        }
    } else {
        st_run nr;
        memset(&nr, 0, sizeof nr);
        snprintf(nr.run_id, sizeof nr.run_id, "%s", r->run_id);
        snprintf(nr.model, sizeof nr.model, "%s", r->model);
        snprintf(nr.model_version, sizeof nr.model_version, "%s", r->model_version);
        snprintf(nr.input_fingerprint, sizeof nr.input_fingerprint, "%s", fp);
        nr.shard = r->shard;
        nr.shard_count = r->nshards;
        if ((st = st_run_begin(j->store, &nr, err)) != MS_OK) goto out;
    }

    /* the pipeline */
    bt_progress_start(&j->prog, stderr, o->progress, bt_source_size(j->src));
    j->prog.base_rows = r->rows_scored;
    pthread_t writer;
    if (pthread_create(&writer, NULL, writer_main, j) != 0) {
        st = bs_fail(err, MS_ERR_RUNTIME, "cannot start the writer thread");
        goto out;
    }
    /* slot k is read while slot k-1 is being scored (pool threads) and k-2 written */
    int64_t index = first_chunk;
    job_slot *scoring = NULL;
    for (int next = 0;; next = (next + 1) % NSLOTS) {
        job_slot *s = &j->slots[next];
        pthread_mutex_lock(&j->mu);
        while (s->state != SLOT_FREE && !j->abort) pthread_cond_wait(&j->cv, &j->mu);
        int stop = j->abort;
        pthread_mutex_unlock(&j->mu);
        if (stop) break;
        if ((st = bt_source_next(j->src, &s->chunk, (size_t)chunk_rows, err)) != MS_OK) break;
        if (scoring) { /* hand the previous chunk to the writer */
            if ((st = bt_scorer_wait(j->scorer, err)) != MS_OK) break;
            if ((st = mark_duplicates(j, scoring, err)) != MS_OK) break;
            pthread_mutex_lock(&j->mu);
            scoring->state = SLOT_READY;
            pthread_cond_broadcast(&j->cv);
            pthread_mutex_unlock(&j->mu);
            scoring = NULL;
        }
        if (s->chunk.nrows == 0) break;
        if (index == first_chunk) { /* rows in the whole input, from the first chunk's bytes */
            int64_t size = bt_source_size(j->src), off = bt_source_offset(j->src);
            double rows = (double)first_chunk * (double)chunk_rows + (double)s->chunk.nrows;
            if (size > 0 && off > 0 && bt_keyset_reserve(&j->seen, (size_t)(rows * (double)size / (double)off))) {
                st = bs_fail(err, MS_ERR_RUNTIME, "out of memory (the run's keys)");
                break;
            }
        }
        s->chunk.index = index++;
        r->rows_read += (int64_t)s->chunk.nrows;
        pthread_mutex_lock(&j->mu);
        s->state = SLOT_SCORING;
        pthread_mutex_unlock(&j->mu);
        if ((st = bt_scorer_start(j->scorer, &s->chunk, &s->res, err)) != MS_OK) break;
        scoring = s;
    }
    if (scoring) {
        ms_error e2;
        ms_status st2 = bt_scorer_wait(j->scorer, &e2);
        if (st == MS_OK && st2 != MS_OK) {
            st = st2;
            *err = e2;
        }
        if (st == MS_OK) st = mark_duplicates(j, scoring, err);
        if (st == MS_OK) {
            pthread_mutex_lock(&j->mu);
            scoring->state = SLOT_READY;
            pthread_cond_broadcast(&j->cv);
            pthread_mutex_unlock(&j->mu);
        }
    }
    pthread_mutex_lock(&j->mu);
    j->writer_quit = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(writer, NULL);
    bt_progress_finish(&j->prog);
    if (st == MS_OK && j->wst != MS_OK) {
        st = j->wst;
        *err = j->werr;
    }
    if (st != MS_OK) {
        set_state(r, BT_RUN_RUNNING); /* resumable: whole chunks are committed */
        goto out;
    }
    if (j->over_limit) {
        ms_error e2;
        if (st_run_fail(j->store, r->run_id, r->shard, &e2) != MS_OK)
            note(o, "could not mark run %s failed: %s", r->run_id, e2.msg);
        set_state(r, BT_RUN_FAILED);
        st = bs_fail(err, MS_ERR_INVALID,
                     "run %s failed: %lld rows rejected, more than --max-rejects %lld; it is not "
                     "published (see `mlship batch rejects --run %s`)",
                     r->run_id, (long long)r->rows_rejected, (long long)o->max_rejects, r->run_id);
        goto out;
    }
    if (j->abort) { /* stop_after_chunks */
        set_state(r, BT_RUN_RUNNING);
        st = bs_fail(err, MS_ERR_RUNTIME, "stopped after %lld chunks (--stop-after); run %s is "
                     "resumable", (long long)j->chunks_written, r->run_id);
        goto out;
    }
    int published = 0;
    if ((st = st_run_complete(j->store, r->run_id, r->shard, o->keep, &published, err)) != MS_OK)
        goto out;
    r->published = published;
    set_state(r, published ? BT_RUN_PUBLISHED : BT_RUN_COMPLETE);

out:
    bt_scorer_free(j->scorer);
    j->scorer = NULL;
    ms_model_free(model);
    return st;
}

ms_status bt_job_run(const bt_job_opts *o, bt_job_result *r, ms_error *err)
{
    memset(r, 0, sizeof *r);
    r->shard = o->shard;
    r->nshards = o->nshards < 1 ? 1 : o->nshards;
    r->resumed_at_chunk = -1;
    set_state(r, BT_RUN_FAILED);
    if (r->nshards > 1 && !o->run_id)
        return bs_fail(err, MS_ERR_INVALID,
                       "--shard needs --run ID: every shard of a run must use the same id "
                       "(e.g. --run $(date +%%Y%%m%%d))");
    if (o->chunk_rows < 1) return bs_fail(err, MS_ERR_INVALID, "chunk size must be positive");
    job *j = calloc(1, sizeof *j);
    if (!j) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    j->o = o;
    j->r = r;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    double t0 = bt_now();
    ms_status st = run(j, err);
    r->seconds = bt_now() - t0;
    for (int i = 0; i < NSLOTS; i++) {
        bt_chunk_free(&j->slots[i].chunk);
        bt_results_free(&j->slots[i].res);
        mc_buf_free(&j->slots[i].dup_text);
    }
    free(j->preds);
    free(j->rejs);
    bt_keyset_free(&j->seen);
    free(j->hashes);
    bt_source_close(j->src);
    st_close(j->store);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
    return st;
}

/* ==== summaries ========================================================================= */

/* " (2 missing, 1 not finite)": this process's rejects by category, "" when none. */
static void rejects_by_why(const bt_job_result *r, char *dst, size_t cap)
{
    static const char *const words[PD_WHY_N] = {"", "missing", "not finite", "output not finite",
                                                "other"};
    size_t k = 0;
    dst[0] = 0;
    for (int w = PD_WHY_MISSING; w < PD_WHY_N; w++) {
        if (!r->rejected_by_why[w] || k >= cap) continue;
        k += (size_t)snprintf(dst + k, cap - k, "%s%lld %s", k ? ", " : " (",
                              (long long)r->rejected_by_why[w], words[w]);
    }
    if (k && k < cap) snprintf(dst + k, cap - k, ")");
}

void bt_job_summary_line(const bt_job_result *r, char *dst, size_t cap)
{
    char a[32], b[32], c[32];
    double rate = r->seconds > 0 ? (double)r->rows_read / r->seconds : 0;
    char shard[32] = "";
    if (r->nshards > 1) snprintf(shard, sizeof shard, " shard %d/%d", r->shard + 1, r->nshards);
    if (r->state == BT_RUN_ALREADY_COMPLETE) {
        snprintf(dst, cap, "run %s%s of %s is already %s (%s rows scored, %s rejected); nothing to do\n",
                 r->run_id, shard, r->model, r->published ? "published" : "complete",
                 bt_fmt_count(a, r->rows_scored), bt_fmt_count(b, r->rows_rejected));
        return;
    }
    char why[160], dup[64] = "", d[32];
    rejects_by_why(r, why, sizeof why);
    if (r->rows_duplicate)
        snprintf(dup, sizeof dup, " (%s duplicate keys)", bt_fmt_count(d, r->rows_duplicate));
    /* binding by position is a guess about the file: say which columns it took */
    snprintf(dst, cap, "run %s%s of %s (version %s): %s rows scored, %s rejected%s%s; read %s rows "
             "in %.2f s (%.0f rows/s); %s%s%s\n",
             r->run_id, shard, r->model, r->model_version, bt_fmt_count(a, r->rows_scored),
             bt_fmt_count(b, r->rows_rejected), why, dup, bt_fmt_count(c, r->rows_read), r->seconds,
             rate, r->state == BT_RUN_COMPLETE ? "complete, waiting for the other shards" : r->status,
             r->positional ? "; " : "", r->positional ? r->binding : "");
}

void bt_job_summary_json(const bt_job_result *r, char *dst, size_t cap)
{
    mc_buf b = {0};
    mc_buf_puts(&b, "{\"run_id\":");
    mc_buf_put_json_str(&b, r->run_id);
    mc_buf_puts(&b, ",\"model\":");
    mc_buf_put_json_str(&b, r->model);
    mc_buf_puts(&b, ",\"model_version\":");
    mc_buf_put_json_str(&b, r->model_version);
    mc_buf_printf(&b, ",\"shard\":%d,\"shards\":%d,\"status\":\"%s\",\"published\":%s,"
                  "\"rows_read\":%lld,\"rows_scored\":%lld,\"rows_rejected\":%lld,"
                  "\"rows_duplicate\":%lld,\"resumed_at_chunk\":%lld,\"seconds\":%.3f,"
                  "\"rows_per_s\":%.1f,\"bound_by\":\"%s\",\"binding\":",
                  r->shard + 1, r->nshards, r->status, r->published ? "true" : "false",
                  (long long)r->rows_read, (long long)r->rows_scored, (long long)r->rows_rejected,
                  (long long)r->rows_duplicate, (long long)r->resumed_at_chunk, r->seconds,
                  r->seconds > 0 ? (double)r->rows_read / r->seconds : 0.0,
                  r->positional ? "position" : "name");
    mc_buf_put_json_str(&b, r->binding);
    /* this process's rejects by reason category (pd_why) */
    mc_buf_puts(&b, ",\"rejected_by_reason\":{");
    for (int w = PD_WHY_MISSING; w < PD_WHY_N; w++)
        mc_buf_printf(&b, "%s\"%s\":%lld", w > PD_WHY_MISSING ? "," : "", pd_why_name((pd_why)w),
                      (long long)r->rejected_by_why[w]);
    mc_buf_puts(&b, "}}\n");
    snprintf(dst, cap, "%s", b.data ? b.data : "{}\n");
    mc_buf_free(&b);
}
