/* fmt_bench.c: ns per number of the float printers (issue 10: one float spelling).
 * Prints one line per case: the printer, the input set, ns per value, and the mean length.
 * Inputs (200,000 values each, fixed seed; best of 15 passes):
 *   probs    uniform float32 in (0, 1): what classifiers answer (the serve and batch hot path)
 *   random   random finite float32 bit patterns (every exponent)
 *   short    k / 1000 for k < 10^6 (values with a short decimal form)
 * Build against the codec library whose printer to measure (mc_format_f64 is new; -DOLD leaves
 * it out for the library of main before issue 10):
 *   cc -O2 -Iinclude -Isrc bench/fmt_bench.c build/libmlship_codec.a -lm -o build/fmt_bench
 *   cc -O2 -DOLD -Iinclude -Isrc bench/fmt_bench.c /tmp/wbefore/build/libmlship_codec.a -lm \
 *      -o build/fmt_bench_old
 * The machine is shared, so times vary by 2x from run to run; instructions per value are
 * steady: build with -DN=20000 -DREPS=1 and count under callgrind, e.g.
 *   valgrind --tool=callgrind --toggle-collect=mc_format_f32 build/fmt_bench_cg probs
 * (an argument runs only that input set). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec_csv.h"

#ifndef N
#define N 200000
#endif
#ifndef REPS
#define REPS 15
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static int fmt_printf9(char *d, float f) { return snprintf(d, 32, "%.9g", (double)f); }
static int fmt_printf17(char *d, double v) { return snprintf(d, 32, "%.17g", v); }

static const char *only; /* argv[1]: run only this input set */

static void run32(const char *name, int (*fn)(char *, float), const char *set, const float *v)
{
    if (only && strcmp(only, set)) return;
    char out[40];
    size_t len = 0;
    double best = 1e9;
    for (int rep = 0; rep < REPS; rep++) { /* best of 15: the machine is shared */
        len = 0;
        double t = now();
        for (int i = 0; i < N; i++) len += (size_t)fn(out, v[i]);
        t = now() - t;
        if (t < best) best = t;
    }
    printf("%-14s %-7s %7.1f ns/value  mean length %.2f\n", name, set, best * 1e9 / N, (double)len / N);
}

static void run64(const char *name, int (*fn)(char *, double), const char *set, const double *v)
{
    if (only && strcmp(only, set)) return;
    char out[40];
    size_t len = 0;
    double best = 1e9;
    for (int rep = 0; rep < REPS; rep++) {
        len = 0;
        double t = now();
        for (int i = 0; i < N; i++) len += (size_t)fn(out, v[i]);
        t = now() - t;
        if (t < best) best = t;
    }
    printf("%-14s %-7s %7.1f ns/value  mean length %.2f\n", name, set, best * 1e9 / N, (double)len / N);
}

int main(int argc, char **argv)
{
    only = argc > 1 ? argv[1] : NULL;
    float *probs = malloc(N * sizeof *probs), *rnd = malloc(N * sizeof *rnd), *shrt = malloc(N * sizeof *shrt);
    double *d = malloc(N * sizeof *d);
    if (!probs || !rnd || !shrt || !d) return 1;
    for (int i = 0; i < N; i++) {
        probs[i] = (float)((next() >> 11) * 0x1p-53);
        if (probs[i] == 0) probs[i] = 0.5f;
        uint32_t b;
        do b = (uint32_t)next(); while (((b >> 23) & 0xff) == 0xff);
        memcpy(&rnd[i], &b, 4);
        shrt[i] = (float)(next() % 1000000) / 1000.0f;
        d[i] = (next() >> 11) * 0x1p-53;
    }
    run32("mc_format_f32", mc_format_f32, "probs", probs);
    run32("mc_format_f32", mc_format_f32, "random", rnd);
    run32("mc_format_f32", mc_format_f32, "short", shrt);
    run32("printf %.9g", fmt_printf9, "probs", probs);
    run32("printf %.9g", fmt_printf9, "random", rnd);
#ifndef OLD
    run64("mc_format_f64", mc_format_f64, "probs64", d);
#endif
    run64("printf %.17g", fmt_printf17, "probs64", d);
    return 0;
}
