/* tree_bench.c: mlship's side of the tree-ensemble benchmark (bench/trees/run.sh).
 *
 * Usage: tree_bench MODEL X.npy REF.npy THREADS BATCH SECONDS
 * MODEL is model.onnx or model.json (XGBoost). One call scores BATCH rows of X; with THREADS > 1
 * the rows are split across that many threads, each with its own session on the one shared
 * model (the runtime starts no threads itself). Checks the positive-class probability against
 * REF[:, 1] first, then times calls for SECONDS. Prints one JSON line like ort_c_bench. */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec_npy.h"
#include "mlship.h"

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static void die(const char *what, const ms_error *e)
{
    fprintf(stderr, "tree_bench: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

static ms_tensor load_npy(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) die(path, NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die(path, NULL);
    fclose(f);
    ms_tensor t;
    ms_error e;
    if (mc_npy_decode(buf, (size_t)n, &t, &e) || t.dtype != MS_DTYPE_FLOAT || t.ndim != 2) die(path, &e);
    free(buf);
    return t;
}

typedef struct worker {
    ms_session *s;
    const float *x;
    int64_t rows, width;
    ms_tensor out[2];
    int n_out;
    pthread_barrier_t *start, *done;
    volatile int *stop;
} worker;

static void run_chunk(worker *w)
{
    ms_error e;
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {w->rows, w->width}, (void *)w->x};
    if (w->rows && ms_session_run(w->s, &in, 1, w->out, w->n_out, &e)) die("run", &e);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (;;) {
        pthread_barrier_wait(w->start);
        if (*w->stop) return NULL;
        run_chunk(w);
        pthread_barrier_wait(w->done);
    }
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The positive-class probability of row r from the model's last float output. */
static float prob1(const worker *w, int64_t r)
{
    const ms_tensor *t = &w->out[w->n_out - 1];
    int64_t k = t->shape[1];
    return ((const float *)t->data)[r * k + k - 1];
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: tree_bench MODEL X.npy REF.npy THREADS BATCH SECONDS\n");
        return 2;
    }
    ms_error e;
    ms_model *m;
    if (ms_model_load_file(argv[1], &m, &e)) die(argv[1], &e);
    ms_tensor X = load_npy(argv[2]), R = load_npy(argv[3]);
    int T = atoi(argv[4]);
    int64_t B = atoll(argv[5]), width = X.shape[1];
    double seconds = atof(argv[6]);
    if (T < 1 || T > 64 || B < 1 || B > X.shape[0]) die("bad THREADS or BATCH", NULL);
    int n_out = ms_model_num_outputs(m) > 2 ? 2 : ms_model_num_outputs(m);

    /* accuracy: score the first 1024 rows (or B) with one session */
    worker chk = {.x = X.data, .rows = B < 1024 ? 1024 : B, .width = width, .n_out = n_out};
    if (chk.rows > X.shape[0]) chk.rows = X.shape[0];
    if (ms_session_create(m, NULL, &chk.s, &e)) die("session", &e);
    run_chunk(&chk);
    double max_err = 0;
    for (int64_t r = 0; r < chk.rows; r++) {
        double d = fabs(prob1(&chk, r) - ((const float *)R.data)[r * R.shape[1] + R.shape[1] - 1]);
        if (d > max_err) max_err = d;
    }
    ms_session_free(chk.s);

    /* a batch is split over at most one thread per row, as `mlship bench` does: a batch of 1
     * runs on the calling thread and pays no hand-off (the JSON still reports the T asked) */
    int T_asked = T;
    if (T > B) T = (int)B;
    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, (unsigned)T);
    pthread_barrier_init(&done, NULL, (unsigned)T);
    volatile int stop = 0;
    worker w[64];
    pthread_t tid[64];
    int64_t per = (B + T - 1) / T;
    for (int i = 0; i < T; i++) {
        int64_t r0 = i * per < B ? i * per : B, r1 = (i + 1) * per < B ? (i + 1) * per : B;
        w[i] = (worker){.x = (const float *)X.data + r0 * width, .rows = r1 - r0, .width = width,
                        .n_out = n_out, .start = &start, .done = &done, .stop = &stop};
        if (ms_session_create(m, NULL, &w[i].s, &e)) die("session", &e);
        run_chunk(&w[i]); /* plan outside the timing */
        if (i) pthread_create(&tid[i], NULL, worker_main, &w[i]);
    }
    size_t cap = 1 << 20, n = 0;
    double *lat = malloc(cap * sizeof *lat), t0 = now_us();
    while (n < cap && (now_us() - t0 < seconds * 1e6 || n < 5)) {
        double a = now_us();
        if (T > 1) pthread_barrier_wait(&start);
        run_chunk(&w[0]);
        if (T > 1) pthread_barrier_wait(&done);
        lat[n++] = now_us() - a;
    }
    double total = now_us() - t0;
    stop = 1;
    if (T > 1) pthread_barrier_wait(&start);
    for (int i = 1; i < T; i++) pthread_join(tid[i], NULL);
    qsort(lat, n, sizeof *lat, dcmp);
    printf("{\"engine\":\"mlship\",\"threads\":%d,\"batch\":%lld,\"calls\":%zu,\"rows_per_s\":%.0f,"
           "\"median_us_per_call\":%.2f,\"p99_us_per_call\":%.2f,\"max_abs_err\":%.3g}\n",
           T_asked, (long long)B, n, (double)n * (double)B / (total * 1e-6), lat[n / 2],
           lat[(size_t)(n * 0.99)], max_err);
    for (int i = 0; i < T; i++) ms_session_free(w[i].s);
    ms_model_free(m);
    return 0;
}
