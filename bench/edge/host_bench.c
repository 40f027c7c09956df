/* host_bench.c: an exported model (mlship export-c) timed on the host at batch 1: row 0 of
 * ex_rows.h (tests/edge/ex_tool rows), NAME_predict called back to back; prints the median
 * over 15 samples of the ns per call, each sample as many calls as fill about 20 ms.
 * Built by bench/edge/run.sh with the same -D flags as tests/edge/ex_drive.c. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include EX_HEADER
#include "ex_rows.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    static float out[EX_OUT];
    volatile float sink = 0;
    long calls = 1;
    for (;;) { /* calibrate: calls per ~20 ms */
        double t0 = now_ns();
        for (long i = 0; i < calls; i++) EX_PREDICT(ex_rows[0], out);
        if (now_ns() - t0 > 2e7 || calls > (1L << 28)) break;
        calls *= 2;
    }
    double s[15];
    for (int k = 0; k < 15; k++) {
        double t0 = now_ns();
        for (long i = 0; i < calls; i++) EX_PREDICT(ex_rows[0], out), sink += out[0];
        s[k] = (now_ns() - t0) / (double)calls;
    }
    qsort(s, 15, sizeof s[0], cmp);
    printf("ns_per_call %.1f\n", s[7]);
    return sink == 12345.0f;
}
