/* cli_bench.c: `mlship bench MODEL`: latency and throughput of repeated runs on one batch.
 *
 * Threads: with --threads T the batch is split into T row slices that run concurrently, one
 * ms_session per slice on the shared model (a session is single-threaded, a model is
 * shareable). The calling thread runs slice 0 itself and T-1 pool threads, created once, run
 * the others; a call is published by bumping a generation counter. Workers spin briefly on it
 * (a call arrives microseconds after the previous one in a benchmark loop) and only then
 * sleep on a condition variable, so the per-call cost is a few cache-line transfers, not a
 * thread creation or a futex round trip. --threads 1 runs inline: no pool at all. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/bs_clock.h"
#include "cli/cli_bench.h"
#include "cli/cli_common.h"
#include "codec/codec_file.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlship bench MODEL [--batch N] [--threads N] [--seconds S] [--warmup N]\n"
            "                          [--input FILE]...\n"
            "\n"
            "Run MODEL repeatedly on one batch of N rows and print one JSON line:\n"
            "  {\"model\", \"batch\", \"threads\", \"calls\", \"seconds\", \"median_us_per_call\",\n"
            "   \"p99_us_per_call\", \"mean_us_per_call\", \"rows_per_s\"}\n"
            "\n"
            "The batch dimension is the first dimension of every input whose first dimension\n"
            "is symbolic. Without --input, inputs are random (floats in [-1,1), integers in\n"
            "[0,4), bools 0/1) with every symbolic dimension set to N. --input FILE (.npy, .pb\n"
            "or JSON; NAME=FILE or in graph order, repeatable) supplies rows that are taken\n"
            "cyclically to fill the batch.\n"
            "\n"
            "options:\n"
            "  --batch N      rows per call (default 1)\n"
            "  --threads N    split each call's batch into N slices run concurrently, each on\n"
            "                 its own session (default 1: inline, no threads)\n"
            "  --seconds S    measure for S seconds (default 3)\n"
            "  --warmup N     untimed calls first (default 10; at least 1, which plans)\n"
            "  --input FILE   input rows, see above\n"
            "  -h, --help     show this help\n"
            "\n"
            "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input, 3 unsupported.\n");
}

/* ---- the worker pool ------------------------------------------------------------------- */

typedef struct bench_pool bench_pool;

typedef struct bench_slice {
    bench_pool *pool;
    ms_session *sess;
    ms_tensor in[MS_MAX_IO];
    ms_tensor *out;
    int n_in, n_out;
    ms_status st;
    ms_error err;
    pthread_t thread;
    int started;
} bench_slice;

struct bench_pool {
    int n_workers; /* threads besides the caller */
    bench_slice *slices;
    atomic_uint gen;
    atomic_int done;
    atomic_int sleepers;
    atomic_int quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waiting, in three stages: spin with a pause instruction (the next call usually comes
 * within microseconds), then yield the CPU (cheap when there are more threads than cores, as
 * a spinning thread would otherwise steal the core of the one it waits for), then sleep. */
#define SPIN_PAUSES 2000
#define SPIN_YIELDS 200

static void slice_run(bench_slice *s)
{
    s->st = ms_session_run(s->sess, s->in, s->n_in, s->out, s->n_out, &s->err);
}

static void *worker_main(void *arg)
{
    bench_slice *s = arg;
    bench_pool *p = s->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
            if (++spins < SPIN_PAUSES) { cpu_relax(); continue; }
            if (spins < SPIN_PAUSES + SPIN_YIELDS) { sched_yield(); continue; }
            /* Sleep. sleepers is raised under the lock before re-checking gen, and the
             * publisher bumps gen before reading sleepers (both seq_cst), so either we see
             * the new gen or the publisher sees us and broadcasts under the lock. */
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
            break;
        }
        seen = g;
        if (atomic_load(&p->quit)) return NULL;
        slice_run(s);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

static void pool_publish(bench_pool *p)
{
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* One call: every slice once. Returns the first failing slice's status. */
static ms_status pool_call(bench_pool *p, ms_error *err)
{
    if (p->n_workers > 0) {
        atomic_store_explicit(&p->done, 0, memory_order_relaxed);
        pool_publish(p);
    }
    slice_run(&p->slices[0]);
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < p->n_workers)
        if (++spins < SPIN_PAUSES) cpu_relax();
        else sched_yield();
    for (int i = 0; i <= p->n_workers; i++)
        if (p->slices[i].st != MS_OK) {
            *err = p->slices[i].err;
            return p->slices[i].st;
        }
    return MS_OK;
}

static ms_status pool_start(bench_pool *p, ms_error *err)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 1; i <= p->n_workers; i++) {
        if (pthread_create(&p->slices[i].thread, NULL, worker_main, &p->slices[i]) != 0)
            return bs_fail(err, MS_ERR_RUNTIME, "cannot start thread %d", i);
        p->slices[i].started = 1;
    }
    return MS_OK;
}

static void pool_stop(bench_pool *p)
{
    atomic_store(&p->quit, 1);
    pool_publish(p);
    for (int i = 1; i <= p->n_workers; i++)
        if (p->slices[i].started) pthread_join(p->slices[i].thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* ---- inputs ---------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic, fast, good enough for benchmark data */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void fill_random(ms_tensor *t, uint64_t *rng)
{
    int64_t n = ms_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = rng_next(rng);
        double u = (double)(r >> 11) / 9007199254740992.0; /* [0,1) */
        switch (t->dtype) {
        case MS_DTYPE_FLOAT: ((float *)t->data)[i] = (float)(2 * u - 1); break;
        case MS_DTYPE_DOUBLE: ((double *)t->data)[i] = 2 * u - 1; break;
        case MS_DTYPE_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(r >> 63); break;
        case MS_DTYPE_INT64: ((int64_t *)t->data)[i] = (int64_t)(r >> 62); break;
        case MS_DTYPE_INT32: ((int32_t *)t->data)[i] = (int32_t)(r >> 62); break;
        case MS_DTYPE_INT16: ((int16_t *)t->data)[i] = (int16_t)(r >> 62); break;
        case MS_DTYPE_INT8: case MS_DTYPE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)(r >> 62); break;
        case MS_DTYPE_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)(r >> 62); break;
        case MS_DTYPE_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)(r >> 62); break;
        case MS_DTYPE_UINT64: ((uint64_t *)t->data)[i] = r >> 62; break;
        default: memset((char *)t->data + (size_t)i * ms_dtype_size(t->dtype), 0, ms_dtype_size(t->dtype)); break;
        }
    }
}

static size_t row_bytes(const ms_tensor *t)
{
    size_t b = ms_dtype_size(t->dtype);
    for (int d = 1; d < t->ndim; d++) b *= (size_t)t->shape[d];
    return b;
}

/* Build input i of the batch: shape from the declaration (symbolic dims = batch), data
 * random or cycled from the rows of `src`. */
static ms_status build_input(const ms_value_info *vi, const ms_tensor *src, int64_t batch,
                             ms_tensor *t, uint64_t *rng, ms_error *err)
{
    memset(t, 0, sizeof *t);
    int batched = vi->ndim > 0 && vi->shape[0] < 0;
    if (src) {
        if (src->dtype != vi->dtype && vi->dtype != MS_DTYPE_UNDEFINED) {
            char want[200];
            return bs_fail(err, MS_ERR_INVALID, "input '%s' expects %s, the file has %s", vi->name,
                           ms_value_info_format(vi, want, sizeof want), ms_dtype_name(src->dtype));
        }
        if (!batched || src->ndim < 1) {
            *t = *src; /* used as is; ms_model_check_inputs validates it */
            t->data = NULL;
        } else {
            if (src->shape[0] == 0)
                return bs_fail(err, MS_ERR_INVALID, "input '%s': the file has no rows", vi->name);
            *t = *src;
            t->shape[0] = batch;
        }
    } else {
        if (vi->ndim < 0)
            return bs_fail(err, MS_ERR_INVALID,
                           "input '%s' has no declared shape; give its data with --input", vi->name);
        if (vi->dtype == MS_DTYPE_STRING || ms_dtype_size(vi->dtype) == 0)
            return bs_fail(err, MS_ERR_UNSUPPORTED, "input '%s': cannot make random %s data",
                           vi->name, ms_dtype_name(vi->dtype));
        t->dtype = vi->dtype;
        t->ndim = vi->ndim;
        for (int d = 0; d < vi->ndim; d++) t->shape[d] = vi->shape[d] >= 0 ? vi->shape[d] : batch;
    }
    size_t bytes = ms_dtype_size(t->dtype);
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] && bytes > SIZE_MAX / (uint64_t)t->shape[d])
            return bs_fail(err, MS_ERR_INVALID, "input '%s' is too large", vi->name);
        bytes *= (size_t)t->shape[d];
    }
    t->data = ms_malloc(bytes ? bytes : 1);
    if (!t->data) return bs_fail(err, MS_ERR_RUNTIME, "out of memory for input '%s'", vi->name);
    if (!src) {
        fill_random(t, rng);
    } else if (!batched || src->ndim < 1) {
        memcpy(t->data, src->data, bytes);
    } else {
        size_t rb = row_bytes(src);
        for (int64_t r = 0; r < batch; r++)
            memcpy((char *)t->data + (size_t)r * rb, (const char *)src->data + (size_t)(r % src->shape[0]) * rb, rb);
    }
    return MS_OK;
}

/* ---- statistics ------------------------------------------------------------------------ */

static double now_us(void) { return (double)bs_now_ns() / 1e3; }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the command ----------------------------------------------------------------------- */

void cli_bench_defaults(cli_bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->threads = 1;
    o->warmup = 10;
    o->seconds = 3;
}

static int parse_args(int argc, char **argv, cli_bench_opts *o)
{
    cli_bench_defaults(o);
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int r;
        if (only_pos || a[0] != '-' || !a[1]) {
            if (o->model) return cli_usage_error("bench", "unexpected argument '%s'", a);
            o->model = a;
            continue;
        }
        if (strcmp(a, "--") == 0) { only_pos = 1; continue; }
        if (cli_is_help(a)) { usage(stdout); return -1; }
        if ((r = cli_opt(argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || cli_parse_long(v, 1, 100000000, &o->batch))
                return cli_usage_error("bench", "--batch needs an integer in 1..100000000");
            o->batch_set = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_parse_long(v, 1, 1024, &o->threads))
                return cli_usage_error("bench", "--threads needs an integer in 1..1024");
        } else if ((r = cli_opt(argc, argv, &i, "--warmup", &v)) != 0) {
            if (r < 0 || cli_parse_long(v, 0, 100000000, &o->warmup))
                return cli_usage_error("bench", "--warmup needs a non-negative integer");
        } else if ((r = cli_opt(argc, argv, &i, "--seconds", &v)) != 0) {
            if (r < 0 || cli_parse_double(v, 0, 86400, &o->seconds))
                return cli_usage_error("bench", "--seconds needs a number in 0..86400");
        } else if ((r = cli_opt(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0) return cli_usage_error("bench", "--input needs a file");
            if (o->n_files == MS_MAX_IO) return cli_usage_error("bench", "too many --input");
            o->files[o->n_files++] = v;
        } else {
            return cli_usage_error("bench", "unknown option '%s'", a);
        }
    }
    if (!o->model) return cli_usage_error("bench", "missing MODEL");
    return 0;
}

typedef struct bench_state {
    const ms_model *model; /* borrowed */
    int n_in, n_out;
    mc_oip_request files[MS_MAX_IO];
    int n_files;
    const ms_tensor *src[MS_MAX_IO]; /* per graph input: rows from a file, or NULL */
    ms_tensor full[MS_MAX_IO];       /* the whole batch, owned */
    bench_pool pool;
    int pool_started; /* pool_start ran: its lock exists and threads may run */
    double *lat;
} bench_state;

static int input_index(const ms_model *m, const char *name)
{
    for (int i = 0; i < ms_model_num_inputs(m); i++)
        if (strcmp(ms_model_input(m, i)->name, name) == 0) return i;
    return -1;
}

static ms_status load_files(const cli_bench_opts *o, bench_state *b, ms_error *err)
{
    int pos = 0;
    for (int k = 0; k < o->n_files; k++) {
        const char *arg = o->files[k], *path = arg, *eq = strchr(arg, '=');
        int idx = -1;
        if (eq) {
            char name[256];
            size_t n = (size_t)(eq - arg);
            if (n < sizeof name) {
                memcpy(name, arg, n);
                name[n] = 0;
                if ((idx = input_index(b->model, name)) >= 0) path = eq + 1;
            }
        }
        mc_oip_request *f = &b->files[b->n_files];
        mc_format fmt;
        ms_status st = mc_tensors_read_file(path, f, &fmt, err);
        if (st != MS_OK) return st;
        b->n_files++;
        for (int j = 0; j < f->n_inputs; j++) {
            int at = idx;
            if (at < 0 && fmt == MC_FORMAT_JSON && !f->bare_tensor)
                at = input_index(b->model, f->inputs[j].name);
            else if (at < 0) at = pos++;
            if (at < 0 || at >= b->n_in)
                return bs_fail(err, MS_ERR_INVALID, "%s: does not match any model input", path);
            if (b->src[at])
                return bs_fail(err, MS_ERR_INVALID, "input '%s' is given twice",
                               ms_model_input(b->model, at)->name);
            b->src[at] = &f->inputs[j].t;
        }
    }
    return MS_OK;
}

static ms_status bench(const cli_bench_opts *o, bench_state *b, cli_bench_result *r, ms_error *err)
{
    ms_status st = ms_model_check_supported(b->model, err);
    if (st != MS_OK) return st;
    b->n_in = ms_model_num_inputs(b->model);
    b->n_out = ms_model_num_outputs(b->model);
    if (b->n_in > MS_MAX_IO)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "bench handles at most %d inputs", MS_MAX_IO);
    if ((st = load_files(o, b, err)) != MS_OK) return st;

    /* The batch splits only along a symbolic first dimension. */
    int any_batched = 0;
    for (int i = 0; i < b->n_in; i++) {
        const ms_value_info *vi = ms_model_input(b->model, i);
        if (vi->ndim > 0 && vi->shape[0] < 0) any_batched = 1;
    }
    if (!any_batched && o->batch_set && o->batch != 1)
        return bs_fail(err, MS_ERR_INVALID,
                       "--batch %ld: no input of this model has a symbolic first dimension",
                       o->batch);
    int64_t batch = any_batched ? o->batch : 1;
    int threads = (int)(o->threads < batch ? o->threads : batch);
    if (!any_batched) threads = 1;

    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < b->n_in; i++)
        if ((st = build_input(ms_model_input(b->model, i), b->src[i], batch, &b->full[i], &rng, err)) != MS_OK)
            return st;
    if ((st = ms_model_check_inputs(b->model, b->full, b->n_in, err)) != MS_OK) return st;

    /* Slices: rows [lo, hi) of every batched input; other inputs are shared whole. */
    b->pool.n_workers = threads - 1;
    b->pool.slices = calloc((size_t)threads, sizeof *b->pool.slices);
    if (!b->pool.slices) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int s = 0; s < threads; s++) {
        bench_slice *sl = &b->pool.slices[s];
        int64_t lo = batch * s / threads, hi = batch * (s + 1) / threads;
        sl->pool = &b->pool;
        sl->n_in = b->n_in;
        sl->n_out = b->n_out;
        sl->out = calloc((size_t)b->n_out + 1, sizeof *sl->out);
        if (!sl->out) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        for (int i = 0; i < b->n_in; i++) {
            const ms_value_info *vi = ms_model_input(b->model, i);
            sl->in[i] = b->full[i];
            if (vi->ndim > 0 && vi->shape[0] < 0) {
                sl->in[i].shape[0] = hi - lo;
                sl->in[i].data = (char *)b->full[i].data + (size_t)lo * row_bytes(&b->full[i]);
            }
        }
        if ((st = ms_session_create(b->model, NULL, &sl->sess, err)) != MS_OK) return st;
    }
    b->pool_started = 1;
    if ((st = pool_start(&b->pool, err)) != MS_OK) return st;

    long warm = o->warmup > 0 ? o->warmup : 1;
    for (long k = 0; k < warm; k++)
        if ((st = pool_call(&b->pool, err)) != MS_OK) return st;

    size_t cap = 4096, n = 0;
    b->lat = malloc(cap * sizeof *b->lat);
    if (!b->lat) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    double start = now_us(), end = start + o->seconds * 1e6, t = start;
    do {
        double t0 = now_us();
        if ((st = pool_call(&b->pool, err)) != MS_OK) return st;
        t = now_us();
        if (n == cap) {
            double *p = realloc(b->lat, 2 * cap * sizeof *p);
            if (!p) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            b->lat = p;
            cap *= 2;
        }
        b->lat[n++] = t - t0;
    } while (t < end);
    double total = t - start, sum = 0;
    for (size_t i = 0; i < n; i++) sum += b->lat[i];
    qsort(b->lat, n, sizeof *b->lat, cmp_double);
    double median = n % 2 ? b->lat[n / 2] : (b->lat[n / 2 - 1] + b->lat[n / 2]) / 2;
    size_t p99 = (size_t)ceil(0.99 * (double)n);
    double p99v = b->lat[p99 ? p99 - 1 : 0];

    r->batch = batch;
    r->threads = threads;
    r->calls = n;
    r->seconds = total / 1e6;
    r->median_us = median;
    r->p99_us = p99v;
    r->mean_us = sum / (double)n;
    r->rows_per_s = (double)n * (double)batch / (total / 1e6);
    return MS_OK;
}

static void bench_free(bench_state *b)
{
    if (b->pool.slices) {
        if (b->pool_started) pool_stop(&b->pool);
        for (int i = 0; i <= b->pool.n_workers; i++) {
            if (b->pool.slices[i].sess) ms_session_free(b->pool.slices[i].sess);
            free(b->pool.slices[i].out);
        }
        free(b->pool.slices);
    }
    for (int i = 0; i < MS_MAX_IO; i++) ms_free(b->full[i].data);
    for (int i = 0; i < b->n_files; i++) mc_oip_request_free(&b->files[i]);
    free(b->lat);
}

ms_status cli_bench_measure(const cli_bench_opts *o, const ms_model *m, cli_bench_result *r,
                            ms_error *err)
{
    memset(r, 0, sizeof *r);
    bench_state *b = calloc(1, sizeof *b);
    if (!b) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    b->model = m;
    ms_status st = bench(o, b, r, err);
    bench_free(b);
    free(b);
    return st;
}

static ms_status print_result(const cli_bench_opts *o, const cli_bench_result *r, ms_error *err)
{
    mc_buf out = {0};
    ms_status st = MS_OK;
    mc_buf_puts(&out, "{\"model\":");
    mc_buf_put_json_str(&out, o->model);
    mc_buf_printf(&out,
                  ",\"batch\":%lld,\"threads\":%d,\"calls\":%zu,\"seconds\":%.3f,"
                  "\"median_us_per_call\":%.2f,\"p99_us_per_call\":%.2f,"
                  "\"mean_us_per_call\":%.2f,\"rows_per_s\":%.1f}\n",
                  (long long)r->batch, r->threads, r->calls, r->seconds, r->median_us, r->p99_us,
                  r->mean_us, r->rows_per_s);
    if (mc_buf_failed(&out)) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0)
        st = bs_fail(err, MS_ERR_RUNTIME, "cannot write to stdout");
    mc_buf_free(&out);
    return st;
}

int cli_bench(int argc, char **argv)
{
    cli_bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    ms_model *m = NULL;
    if ((rc = cli_load_model("bench", o.model, &m))) return rc;
    ms_error err = {{0}};
    cli_bench_result r;
    ms_status st = cli_bench_measure(&o, m, &r, &err);
    if (st == MS_OK) st = print_result(&o, &r, &err);
    if (st != MS_OK) rc = cli_fail("bench", st, err.msg);
    ms_model_free(m);
    return rc;
}
