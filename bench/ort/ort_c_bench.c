/* ort_c_bench.c: ONNX Runtime 1.30 (CPU) through its C API, the reference mlship's runtime is
 * measured against (bench/runtime_bench.sh, bench/trees/run.sh). Calling the C API directly
 * keeps a binding's per-call cost (5-7 µs for Node's) out of batch-1 latency.
 *
 *   ort_c_bench MODEL.onnx X.npy REF.npy OUTPUT THREADS BATCH SECONDS [WINDOWS]
 *
 * X.npy: float32 rows [N, ...] (the model's one input). REF.npy: float32 [N, ...], the
 * framework's own output for X (torch, XGBoost). OUTPUT: the graph output compared and timed.
 * THREADS: ORT's intra-op threads (inter-op 1, sequential execution, all graph optimisations).
 * BATCH: rows per call (X's rows repeated when BATCH > N). SECONDS: length of each timed window;
 * WINDOWS (default 1) of them after a 0.3 s warm-up.
 *
 * Before timing, all N rows of X are run in chunks of up to 1024 and the output is compared
 * with REF: exit 1 (nothing timed) if a value is off by more than 1e-4 + 1e-4 * |ref|.
 * A call: wrap the batch buffer in an OrtValue, Run (ORT allocates the output), release both:
 * what a server does per request. Prints one JSON line: the check's max abs error, rows/s
 * (rows of all windows / their time), per-call median and p99 µs, and per-window rows/s.
 *
 * Build (bench/ort/build.sh does this): the library is the CPU build inside npm's
 * onnxruntime-node@1.30.0 tarball, which ships no C header. So the OrtApi table is read as an
 * array of function pointers at the slots below. The table is append-only across releases
 * (a slot never moves), so these slots, counted in onnxruntime_c_api.h's `struct OrtApi`,
 * hold for every version that grants ORT_API_REQUEST; the version string is printed too. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ORT_API_REQUEST 13 /* any release since 1.13 grants it; 1.30 does */

typedef struct OrtApiBase {
    const void *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;
extern const OrtApiBase *OrtGetApiBase(void);

typedef void *ort_status; /* OrtStatus*: NULL means success */
typedef void *ort_obj;    /* every other ORT object, opaque here */

/* The entries used, with their slot in struct OrtApi. */
static struct {
    const char *(*GetErrorMessage)(ort_status);
    ort_status (*CreateEnv)(int level, const char *logid, ort_obj *env);
    ort_status (*CreateSession)(ort_obj env, const char *path, ort_obj opts, ort_obj *sess);
    ort_status (*Run)(ort_obj sess, ort_obj run_opts, const char *const *in_names,
                      const ort_obj *inputs, size_t n_in, const char *const *out_names,
                      size_t n_out, ort_obj *outputs);
    ort_status (*CreateSessionOptions)(ort_obj *opts);
    ort_status (*SetSessionExecutionMode)(ort_obj opts, int mode);
    ort_status (*SetSessionGraphOptimizationLevel)(ort_obj opts, int level);
    ort_status (*SetIntraOpNumThreads)(ort_obj opts, int n);
    ort_status (*SetInterOpNumThreads)(ort_obj opts, int n);
    ort_status (*SessionGetInputCount)(ort_obj sess, size_t *n);
    ort_status (*SessionGetOutputCount)(ort_obj sess, size_t *n);
    ort_status (*SessionGetInputName)(ort_obj sess, size_t i, ort_obj alloc, char **name);
    ort_status (*SessionGetOutputName)(ort_obj sess, size_t i, ort_obj alloc, char **name);
    ort_status (*CreateTensorWithDataAsOrtValue)(ort_obj mem, void *data, size_t bytes,
                                                 const int64_t *shape, size_t rank, int dtype,
                                                 ort_obj *value);
    ort_status (*GetTensorMutableData)(ort_obj value, void **data);
    ort_status (*GetTensorShapeElementCount)(ort_obj info, size_t *n);
    ort_status (*GetTensorTypeAndShape)(ort_obj value, ort_obj *info);
    ort_status (*CreateCpuMemoryInfo)(int alloc_type, int mem_type, ort_obj *mem);
    ort_status (*AllocatorFree)(ort_obj alloc, void *p);
    ort_status (*GetAllocatorWithDefaultOptions)(ort_obj *alloc);
    void (*ReleaseValue)(ort_obj);
    void (*ReleaseTensorTypeAndShapeInfo)(ort_obj);
} ort;

static const struct { int slot; void **fn; } slots[] = {
    {2, (void **)&ort.GetErrorMessage},
    {3, (void **)&ort.CreateEnv},
    {7, (void **)&ort.CreateSession},
    {9, (void **)&ort.Run},
    {10, (void **)&ort.CreateSessionOptions},
    {13, (void **)&ort.SetSessionExecutionMode},
    {23, (void **)&ort.SetSessionGraphOptimizationLevel},
    {24, (void **)&ort.SetIntraOpNumThreads},
    {25, (void **)&ort.SetInterOpNumThreads},
    {30, (void **)&ort.SessionGetInputCount},
    {31, (void **)&ort.SessionGetOutputCount},
    {36, (void **)&ort.SessionGetInputName},
    {37, (void **)&ort.SessionGetOutputName},
    {49, (void **)&ort.CreateTensorWithDataAsOrtValue},
    {51, (void **)&ort.GetTensorMutableData},
    {64, (void **)&ort.GetTensorShapeElementCount},
    {65, (void **)&ort.GetTensorTypeAndShape},
    {69, (void **)&ort.CreateCpuMemoryInfo},
    {76, (void **)&ort.AllocatorFree},
    {78, (void **)&ort.GetAllocatorWithDefaultOptions},
    {96, (void **)&ort.ReleaseValue},
    {99, (void **)&ort.ReleaseTensorTypeAndShapeInfo},
};

enum { ORT_LOG_ERROR = 3, ORT_SEQUENTIAL = 0, ORT_ENABLE_ALL = 99, ORT_ARENA_ALLOCATOR = 1,
       ORT_MEM_DEFAULT = 0, ONNX_FLOAT = 1 };

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "ort_c_bench: %s: %s\n", what, msg);
    exit(1);
}

static void check(ort_status st, const char *what)
{
    if (st) die(what, ort.GetErrorMessage(st));
}

static void bind_api(void)
{
    const void *const *table = OrtGetApiBase()->GetApi(ORT_API_REQUEST);
    if (!table) die("OrtGetApiBase", "this ONNX Runtime does not grant API version 13");
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        memcpy(slots[i].fn, &table[slots[i].slot], sizeof(void *));
}

/* ---- .npy (float32, C order) ---------------------------------------------------------------- */

typedef struct npy { float *data; int64_t shape[8]; int rank; size_t count; } npy;

static void npy_read(const char *path, npy *a)
{
    FILE *f = fopen(path, "rb");
    if (!f) die(path, "cannot open");
    unsigned char head[12];
    if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) != 0) die(path, "not a .npy file");
    size_t hlen = head[8] | (size_t)head[9] << 8;
    if (head[6] >= 2) { /* version 2+: a 4-byte header length */
        if (fread(head + 10, 1, 2, f) != 2) die(path, "truncated header");
        hlen |= (size_t)head[10] << 16 | (size_t)head[11] << 24;
    }
    char *h = calloc(1, hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) die(path, "truncated header");
    if (!strstr(h, "'descr': '<f4'")) die(path, "expected float32 ('<f4')");
    if (strstr(h, "'fortran_order': True")) die(path, "expected C order");
    const char *p = strstr(h, "'shape': (");
    if (!p) die(path, "no shape in header");
    p += strlen("'shape': (");
    a->rank = 0;
    a->count = 1;
    while (*p && *p != ')') {
        char *end;
        long long d = strtoll(p, &end, 10);
        if (end == p) { p++; continue; }
        if (a->rank == 8 || d < 0) die(path, "unsupported shape");
        a->shape[a->rank++] = d;
        a->count *= (size_t)d;
        p = end;
    }
    if (a->rank == 0) die(path, "expected at least one dimension (rows)");
    a->data = malloc(a->count * sizeof(float) + 1);
    if (!a->data || fread(a->data, sizeof(float), a->count, f) != a->count) die(path, "truncated data");
    free(h);
    fclose(f);
}

/* ---- one call --------------------------------------------------------------------------------- */

typedef struct bench {
    ort_obj sess, mem;
    char *in_name;
    const char *out_name;
    int64_t shape[8]; /* the input's shape with dim 0 = the call's rows */
    int rank;
    size_t row_len;   /* floats per input row */
} bench;

/* Runs `rows` rows at `x`; returns the output value (caller releases) */
static ort_obj run_rows(bench *b, float *x, int64_t rows)
{
    b->shape[0] = rows;
    ort_obj in = NULL, out = NULL;
    check(ort.CreateTensorWithDataAsOrtValue(b->mem, x, (size_t)rows * b->row_len * sizeof(float),
                                             b->shape, (size_t)b->rank, ONNX_FLOAT, &in),
          "CreateTensorWithDataAsOrtValue");
    const char *in_names[1] = {b->in_name}, *out_names[1] = {b->out_name};
    check(ort.Run(b->sess, NULL, in_names, (const ort_obj *)&in, 1, out_names, 1, &out), "Run");
    ort.ReleaseValue(in);
    return out;
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* All rows of X against REF in chunks; returns the max abs error, exits on a mismatch. */
static double verify(bench *b, const npy *x, const npy *ref)
{
    int64_t n = x->shape[0];
    if (ref->shape[0] != n) die("REF", "row count differs from X's");
    size_t ref_row = ref->count / (size_t)n;
    double worst = 0;
    for (int64_t at = 0; at < n; at += 1024) {
        int64_t rows = n - at < 1024 ? n - at : 1024;
        ort_obj out = run_rows(b, x->data + (size_t)at * b->row_len, rows);
        ort_obj info;
        size_t count;
        float *y;
        check(ort.GetTensorTypeAndShape(out, &info), "GetTensorTypeAndShape");
        check(ort.GetTensorShapeElementCount(info, &count), "GetTensorShapeElementCount");
        ort.ReleaseTensorTypeAndShapeInfo(info);
        if (count != (size_t)rows * ref_row) die("check", "output size differs from REF's");
        check(ort.GetTensorMutableData(out, (void **)&y), "GetTensorMutableData");
        const float *r = ref->data + (size_t)at * ref_row;
        for (size_t i = 0; i < count; i++) {
            double err = fabs((double)y[i] - r[i]);
            if (!(err <= 1e-4 + 1e-4 * fabs(r[i]))) {
                fprintf(stderr, "ort_c_bench: check: row %lld value %zu: %g, REF %g\n",
                        (long long)(at + (int64_t)(i / ref_row)), i % ref_row, y[i], r[i]);
                exit(1);
            }
            if (err > worst) worst = err;
        }
        ort.ReleaseValue(out);
    }
    return worst;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Pick output `name` and the one input; refuse a model whose interface this harness cannot feed. */
static void bind_io(bench *b, const char *out_name)
{
    ort_obj alloc;
    size_t n_in, n_out;
    check(ort.GetAllocatorWithDefaultOptions(&alloc), "GetAllocatorWithDefaultOptions");
    check(ort.SessionGetInputCount(b->sess, &n_in), "SessionGetInputCount");
    if (n_in != 1) die("model", "expected exactly one input");
    check(ort.SessionGetInputName(b->sess, 0, alloc, &b->in_name), "SessionGetInputName");
    check(ort.SessionGetOutputCount(b->sess, &n_out), "SessionGetOutputCount");
    int found = 0;
    for (size_t i = 0; i < n_out && !found; i++) {
        char *name;
        check(ort.SessionGetOutputName(b->sess, i, alloc, &name), "SessionGetOutputName");
        found = strcmp(name, out_name) == 0;
        check(ort.AllocatorFree(alloc, name), "AllocatorFree");
    }
    if (!found) die(out_name, "no such output in the model");
    b->out_name = out_name;
}

int main(int argc, char **argv)
{
    if (argc < 8 || argc > 9) {
        fprintf(stderr, "usage: ort_c_bench MODEL.onnx X.npy REF.npy OUTPUT THREADS BATCH SECONDS [WINDOWS]\n");
        return 2;
    }
    int threads = atoi(argv[5]), windows = argc > 8 ? atoi(argv[8]) : 1;
    long long batch = atoll(argv[6]);
    double secs = atof(argv[7]);
    if (threads < 1 || batch < 1 || !(secs > 0) || windows < 1) {
        fprintf(stderr, "ort_c_bench: THREADS, BATCH, WINDOWS must be >= 1 and SECONDS > 0\n");
        return 2;
    }
    npy x, ref;
    npy_read(argv[2], &x);
    npy_read(argv[3], &ref);
    bind_api();

    bench b = {0};
    ort_obj env, opts;
    check(ort.CreateEnv(ORT_LOG_ERROR, "ort_c_bench", &env), "CreateEnv");
    check(ort.CreateSessionOptions(&opts), "CreateSessionOptions");
    check(ort.SetSessionExecutionMode(opts, ORT_SEQUENTIAL), "SetSessionExecutionMode");
    check(ort.SetSessionGraphOptimizationLevel(opts, ORT_ENABLE_ALL), "SetSessionGraphOptimizationLevel");
    check(ort.SetIntraOpNumThreads(opts, threads), "SetIntraOpNumThreads");
    check(ort.SetInterOpNumThreads(opts, 1), "SetInterOpNumThreads");
    check(ort.CreateSession(env, argv[1], opts, &b.sess), "CreateSession");
    check(ort.CreateCpuMemoryInfo(ORT_ARENA_ALLOCATOR, ORT_MEM_DEFAULT, &b.mem), "CreateCpuMemoryInfo");
    bind_io(&b, argv[4]);
    b.rank = x.rank;
    memcpy(b.shape, x.shape, sizeof b.shape);
    b.row_len = x.count / (size_t)x.shape[0];

    double err = verify(&b, &x, &ref);

    /* The timed batch: X's rows, repeated when BATCH exceeds them. */
    float *xb = malloc((size_t)batch * b.row_len * sizeof(float));
    if (!xb) die("batch", "out of memory");
    for (long long r = 0; r < batch; r++)
        memcpy(xb + (size_t)r * b.row_len, x.data + (size_t)(r % x.shape[0]) * b.row_len,
               b.row_len * sizeof(float));
    for (double t0 = now_us(); now_us() - t0 < 3e5;) ort.ReleaseValue(run_rows(&b, xb, batch));

    size_t cap = 1 << 16, n = 0;
    double *lat = malloc(cap * sizeof *lat), *wrate = malloc((size_t)windows * sizeof *wrate), total_us = 0;
    if (!lat || !wrate) die("timing", "out of memory");
    for (int w = 0; w < windows; w++) {
        size_t calls = 0;
        double start = now_us(), t = start;
        while (t - start < secs * 1e6) {
            ort.ReleaseValue(run_rows(&b, xb, batch));
            double t1 = now_us();
            if (n == cap && !(lat = realloc(lat, (cap *= 2) * sizeof *lat))) die("timing", "out of memory");
            lat[n++] = t1 - t;
            t = t1;
            calls++;
        }
        wrate[w] = (double)calls * (double)batch / ((t - start) / 1e6);
        total_us += t - start;
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    printf("{\"engine\":\"onnxruntime %s (C API)\",\"check_rows\":%lld,\"max_abs_err\":%.3e,"
           "\"threads\":%d,\"batch\":%lld,\"calls\":%zu,\"rows_per_s\":%.1f,"
           "\"median_us_per_call\":%.3f,\"p99_us_per_call\":%.3f,\"window_rows_per_s\":[",
           OrtGetApiBase()->GetVersionString(), (long long)x.shape[0], err, threads, batch, n,
           (double)n * (double)batch / (total_us / 1e6), lat[n / 2], lat[(size_t)((double)(n - 1) * 0.99)]);
    for (int w = 0; w < windows; w++) printf("%s%.1f", w ? "," : "", wrate[w]);
    printf("]}\n");
    return 0;
}
