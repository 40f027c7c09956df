/* adv_measure.h: the facts `mlship advise` measures on a model: size, format, operators,
 * multiply-adds and export-c's flash/RAM (a plan, no file written: src/edge/ex_export.h),
 * and batch-1 and batched latency and throughput with `mlship bench`'s loop (cli_bench.h). */
#ifndef ADV_MEASURE_H
#define ADV_MEASURE_H

#include <limits.h>

#include "cli/adv_decide.h"
#include "cli/cli_bench.h"
#include "edge/ex_export.h"

#define ADV_MAX_OPS 128
#define ADV_BATCH_ROWS 256 /* the batched measurement: rows a call, as a batch chunk scores */

typedef struct adv_measured {
    adv_facts f;
    char path[PATH_MAX];    /* the model's absolute path */
    char name[128];         /* the model's name (cli_model_name) */
    char ident[128];        /* the name as a C identifier, for export-c */
    const char *format;     /* "onnx" or "xgboost-json" */
    int n_ops;
    const char *op_domain[ADV_MAX_OPS], *op_type[ADV_MAX_OPS]; /* valid while `model` lives */
    int all_supported;
    cli_bench_result b1, bn;
    ex_report rep;
    ms_model *model;
} adv_measured;

/* Measure `path` for `seconds` in all (half at batch 1, half batched). Returns 0 or an exit
 * code, having printed "mlship advise: ..." on failure. */
int adv_measure(const char *path, double seconds, adv_measured *out);
void adv_measured_free(adv_measured *m);

#endif
