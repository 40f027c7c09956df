/* gemm_bench.c: GFLOP/s of ms_sgemm (per-call packing and pre-packed B) against a naive
 * triple loop, single thread, for the shapes the MLP and conv models hit; then the implicit GEMM
 * under stride-1 Conv (ms_sgemm_implicit, weights pre-packed) on 3x3 pad-1 convolutions.
 *
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc/runtime -o build/gemm_bench \
 *      bench/gemm_bench.c src/runtime/ms_gemm.c -lm && build/gemm_bench [ISA]
 *
 * ISA: 1 portable C, 2 AVX2+FMA, 3 AVX-512F, 4 wasm SIMD128 (a wasm32-wasi build with
 * -msimd128, run with tests/cross/wasi_run.mjs); default the best the CPU or build has.
 *
 * Each figure is the median of 7 runs of at least 50 ms each. */
#include "ms_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void naive(bool tb, int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                  float *C)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float s = 0;
            for (int64_t k = 0; k < K; k++) s += A[i * K + k] * (tb ? B[j * K + k] : B[k * N + j]);
            C[i * N + j] = s;
        }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* The machine's FMA ceiling, measured in this run: 12 independent FMA chains (enough to cover
 * latency on both FMA ports), no memory traffic. */
#define PEAK_LOOP(vec, set1, fmadd, lanes)                                                      \
    vec acc[12], x = set1(0.9999f), y = set1(1e-5f);                                            \
    for (int i = 0; i < 12; i++) acc[i] = set1((float)i);                                       \
    long n = 20000000;                                                                          \
    double t0 = now();                                                                          \
    for (long k = 0; k < n; k++) {                                                              \
        /* unrolled so the accumulators stay in registers */                                    \
        _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) acc[i] = fmadd(acc[i], x, y);     \
    }                                                                                           \
    double t = now() - t0;                                                                      \
    float sink = 0;                                                                             \
    for (int i = 0; i < 12; i++) {                                                              \
        float tmp[16];                                                                          \
        memcpy(tmp, &acc[i], sizeof acc[i]);                                                    \
        sink += tmp[0];                                                                         \
    }                                                                                           \
    return sink == 12345.0f ? 0 : (double)n * 12 * 2 * lanes / t * 1e-9;

__attribute__((target("avx2,fma"))) static double peak_avx2(void)
{
    PEAK_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8)
}
__attribute__((target("avx512f"))) static double peak_avx512(void)
{
    PEAK_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16)
}

/* best of 5: a shared machine only ever makes the loop slower */
static double best_of(double (*f)(void))
{
    double best = 0;
    for (int i = 0; i < 5; i++) {
        double g = f();
        if (g > best) best = g;
    }
    return best;
}

static void print_peaks(void)
{
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("FMA peak, AVX2: %.1f GFLOP/s\n", best_of(peak_avx2));
    if (__builtin_cpu_supports("avx512f"))
        printf("FMA peak, AVX-512: %.1f GFLOP/s\n", best_of(peak_avx512));
}
#else
static void print_peaks(void) {}
#endif

enum { NAIVE, SGEMM, PACKED };

typedef struct {
    int kind;
    bool tb;
    int64_t M, N, K;
    const float *A, *B, *Bp;
    float *C;
    void *work;
} job;

static void run_once(const job *j)
{
    switch (j->kind) {
    case NAIVE: naive(j->tb, j->M, j->N, j->K, j->A, j->B, j->C); break;
    case SGEMM:
        ms_sgemm(false, j->tb, j->M, j->N, j->K, 1.0f, j->A, j->K, j->B, j->tb ? j->K : j->N,
                 0.0f, j->C, j->N, j->work);
        break;
    default:
        ms_sgemm_packed(false, j->M, j->N, j->K, 1.0f, j->A, j->K, j->Bp, 0.0f, j->C, j->N,
                        j->work);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median GFLOP/s; *best gets the fastest run's (the machine is shared: the best run is the
 * one least disturbed, useful when comparing two versions of a kernel) */
static double gflops(const job *j, double *best)
{
    double r[7];
    for (int t = 0; t < 7; t++) {
        long n = 0;
        double t0 = now(), t1;
        do {
            run_once(j);
            n++;
        } while ((t1 = now()) - t0 < 0.05);
        r[t] = (t1 - t0) / (double)n;
    }
    qsort(r, 7, sizeof *r, cmp_double);
    double flop = 2.0 * (double)j->M * (double)j->N * (double)j->K;
    *best = flop / r[0] * 1e-9;
    return flop / r[3] * 1e-9;
}

/* One 3x3 pad-1 stride-1 convolution of a C x H x W image to M channels, as ops_conv.c runs
 * it: the input copied with its padding, taps as offsets, W packed once. */
static void implicit_row(int64_t C, int64_t H, int64_t W, int64_t M)
{
    int64_t Hp = H + 2, Wp = W + 2, K = C * 9;
    float *x = calloc((size_t)(C * Hp * Wp + MS_SGEMM_TILE), sizeof(float));
    float *w = malloc(sizeof(float) * (size_t)(M * K));
    float *y = malloc(sizeof(float) * (size_t)(M * H * W));
    float *wp = aligned_alloc(64, (ms_sgemm_pack_a_size(M, K) + 63) / 64 * 64);
    int64_t *boff = malloc(sizeof(int64_t) * (size_t)K);
    for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < H; i++)
            for (int64_t j = 0; j < W; j++)
                x[(c * Hp + i + 1) * Wp + j + 1] = (float)(rand() % 200 - 100) / 100.0f;
    for (int64_t i = 0; i < M * K; i++) w[i] = (float)(rand() % 200 - 100) / 100.0f;
    for (int64_t c = 0, k = 0; c < C; c++)
        for (int64_t r = 0; r < 3; r++)
            for (int64_t q = 0; q < 3; q++) boff[k++] = (c * Hp + r) * Wp + q;
    ms_sgemm_pack_a(M, K, w, K, wp);
    ms_sgemm_grid grid = {H, Wp, W};
    double r[7];
    for (int t = 0; t < 7; t++) {
        long n = 0;
        double t0 = now(), t1;
        do {
            ms_sgemm_implicit(M, K, NULL, K, wp, x, boff, &grid, y, H * W, NULL, true, NULL);
            n++;
        } while ((t1 = now()) - t0 < 0.05);
        r[t] = (t1 - t0) / (double)n;
    }
    qsort(r, 7, sizeof *r, cmp_double);
    double flop = 2.0 * (double)(M * K * H * W);
    char name[48];
    snprintf(name, sizeof name, "%lldx%lldx%lld->%lld", (long long)C, (long long)H, (long long)W,
             (long long)M);
    printf("%-18s %7.2f [%6.2f] %8.2f\n", name, flop / r[3] * 1e-9, flop / r[0] * 1e-9,
           r[3] * 1e6);
    free(x); free(w); free(y); free(wp); free(boff);
}

int main(int argc, char **argv)
{
    /* optional argument: 1 portable C, 2 AVX2, 3 AVX-512, 4 wasm SIMD128 (default: what the
     * CPU or build has) */
    static const char *const isa_name[] = {"auto (best the CPU has)", "portable C", "AVX2+FMA",
                                           "AVX-512F", "wasm SIMD128"};
    int isa = argc > 1 ? atoi(argv[1]) : 0;
    if (isa < 0 || isa > MS_SGEMM_ISA_LAST || !ms_sgemm_force_isa(isa)) {
        fprintf(stderr, "this CPU or build has no instruction path %d\n", isa);
        return 1;
    }
    printf("path: %s\n", isa_name[isa]);
    print_peaks();
    static const int64_t shapes[][3] = {
        {256, 256, 256}, {256, 64, 256}, {256, 256, 64}, {256, 10, 256},
        {1, 256, 256},   {1, 64, 256},   {1, 256, 64},   {1, 10, 256},
        {512, 512, 512}, {64, 3136, 576},
    };
    printf("GFLOP/s, single thread, median of 7 (best of 7 in brackets)\n");
    printf("%-14s %-2s %7s %16s %16s %8s %s\n", "MxNxK", "B", "naive", "sgemm", "packed B",
           "speedup", "us/call (sgemm)");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int tb = 0; tb < 2; tb++) {
            int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *A = malloc(sizeof(float) * (size_t)(M * K));
            float *B = malloc(sizeof(float) * (size_t)(K * N));
            float *C = malloc(sizeof(float) * (size_t)(M * N));
            float *Bp = aligned_alloc(64, (ms_sgemm_pack_b_size(K, N) + 63) / 64 * 64);
            void *work = malloc(ms_sgemm_workspace(M, N, K));
            for (int64_t i = 0; i < M * K; i++) A[i] = (float)(rand() % 200 - 100) / 100.0f;
            for (int64_t i = 0; i < K * N; i++) B[i] = (float)(rand() % 200 - 100) / 100.0f;
            ms_sgemm_pack_b(tb, K, N, B, tb ? K : N, Bp);
            job j = {NAIVE, tb, M, N, K, A, B, Bp, C, work};
            double b_n, b_s, b_p;
            double g_naive = M * N * K <= 256 * 256 * 256 ? gflops(&j, &b_n) : NAN;
            j.kind = SGEMM;
            double g_s = gflops(&j, &b_s);
            j.kind = PACKED;
            double g_p = gflops(&j, &b_p);
            char name[40];
            snprintf(name, sizeof name, "%lldx%lldx%lld", (long long)M, (long long)N,
                     (long long)K);
            printf("%-14s %-2s %7.2f %7.2f [%6.2f] %7.2f [%6.2f] %7.1fx %8.2f\n", name,
                   tb ? "T" : "N", g_naive, g_s, b_s, g_p, b_p, g_s / g_naive,
                   2.0 * (double)(M * N * K) / g_s * 1e-3);
            free(A); free(B); free(C); free(Bp); free(work);
        }
    printf("\nimplicit GEMM (Conv 3x3, pad 1, stride 1, + Relu), GFLOP/s of useful work\n");
    printf("%-18s %16s %8s\n", "CxHxW->M", "GFLOP/s", "us/call");
    static const int64_t convs[][4] = {{1, 28, 28, 8}, {8, 14, 14, 16}, {64, 56, 56, 64},
                                       {256, 14, 14, 256}};
    for (size_t s = 0; s < sizeof convs / sizeof *convs; s++)
        implicit_row(convs[s][0], convs[s][1], convs[s][2], convs[s][3]);
    return 0;
}
