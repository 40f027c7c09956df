/* cli_bench.h: the measuring loop of `mlship bench`, shared with `mlship advise` (which
 * reports batch-1 latency and throughput as facts its advice rests on). */
#ifndef CLI_BENCH_H
#define CLI_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "mlship.h"

typedef struct cli_bench_opts {
    const char *model;        /* the path, as printed */
    long batch, threads, warmup;
    double seconds;
    int batch_set;            /* --batch given: refused on a model without a batch dimension */
    const char *files[MS_MAX_IO];
    int n_files;
} cli_bench_opts;

typedef struct cli_bench_result {
    int64_t batch;            /* rows per call (1 for a model without a symbolic batch dim) */
    int threads;
    size_t calls;
    double seconds;           /* wall time of the timed calls */
    double median_us, p99_us, mean_us; /* per call */
    double rows_per_s;
} cli_bench_result;

/* bench's defaults: batch 1, 1 thread, 10 warm-up calls, 3 seconds. */
void cli_bench_defaults(cli_bench_opts *o);
/* Run `m` (borrowed) repeatedly as `o` says and fill `r`. Statuses as ms_session_run's, plus
 * MS_ERR_INVALID for inputs that do not fit the model. */
ms_status cli_bench_measure(const cli_bench_opts *o, const ms_model *m, cli_bench_result *r,
                            ms_error *err);

#endif
