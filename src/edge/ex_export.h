/* ex_export.h: `mlship export-c`: a model file -> standalone C99 for a microcontroller
 * (DIR/NAME.h and DIR/NAME.c; see docs/edge.md). The one entry point of src/edge/'s exporter. */
#ifndef EX_EXPORT_H
#define EX_EXPORT_H

#include <stdint.h>

#include "mlship.h"

typedef struct ex_report {
    int64_t input_size, output_size; /* floats */
    int64_t weight_bytes;            /* static const data (flash) */
    int64_t arena_bytes;             /* the static arena (RAM) */
    int64_t keys_bytes;              /* a tree model's static feature keys (RAM) */
    int64_t stack_bytes;             /* an estimate of NAME_predict's deepest stack */
    int64_t macs;                    /* multiply-adds per row (ex_cost.c); -1 before the
                                      * shapes are known */
    int n_layers;
    int nan_ok;                      /* the model defines NaN inputs */
} ex_report;

/* Export `model_path` as `name` (a C identifier) into `dir` (which must exist). `output`
 * names the output to write (NULL: the first float output). `dir` NULL plans the export and
 * fills `rep` without writing a file (what `mlship advise` asks: would it fit the device?).
 * Statuses: MS_ERR_INVALID for a bad model file, name or output; MS_ERR_UNSUPPORTED naming
 * the operator and node export-c cannot write; MS_ERR_RUNTIME for I/O. rep->macs is set once
 * the shapes are known, so also when lowering then fails with MS_ERR_UNSUPPORTED. */
ms_status ex_export(const char *model_path, const char *name, const char *dir, const char *output,
                    ex_report *rep, ms_error *err);

/* `--kernels-only` (ex_kernels.c): write DIR/NAME_kernels.c, the runtime's kernel table naming
 * only the kernel families the model's operators use (*n_families of them), for a program
 * that runs the model blob with libmlship_core.a. Statuses as ex_export. */
ms_status ex_export_kernels(const char *model_path, const char *name, const char *dir, int *n_families,
                            ms_error *err);

#endif
