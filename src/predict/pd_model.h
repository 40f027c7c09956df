/* pd_model.h: a model ready to serve: loaded, checked, planned and warmed, with its session
 * pool. The lifecycle every long-lived user (serve's repository, and next the stream worker
 * and the device agent) goes through before it swaps a model in:
 *
 *   pd_model_open   load the file (or adopt a loaded model), refuse unsupported operators
 *   pd_model_warm   plan and run once on zeros: one session for any shape (symbolic
 *                   dimensions as 1), then, when warm_rows > 1, one per padded bucket
 *                   (2, 4, ... warm_rows rows) if every input has a symbolic first dimension
 *                   and none is a string; each warmed session goes to the pool
 *
 * Each step either succeeds or returns an error having freed what it made, so a model that
 * fails to load, check, plan or warm is never half-built: the caller frees it and keeps what
 * it had ("a version that fails to warm is never swapped in" holds by construction). */
#ifndef PD_MODEL_H
#define PD_MODEL_H

#include <stdint.h>

#include "mlship.h"
#include "predict/pd_pool.h"

typedef struct pd_model {
    ms_model *model;   /* owned */
    pd_pool *pool;     /* sessions on model, buckets up to max_rows */
    int64_t max_rows;  /* the largest padded bucket (<= 1: none) */
} pd_model;

/* Load `path` (ONNX or XGBoost model.json) and check its operators. max_rows: the largest
 * bucket the pool keeps sessions for (a batcher's max_batch_size; <= 1 for none). */
ms_status pd_model_open(const char *path, int64_t max_rows, pd_model **out, ms_error *err);
/* The same for a model already loaded; takes `m` (freed on failure too). */
ms_status pd_model_adopt(ms_model *m, int64_t max_rows, pd_model **out, ms_error *err);
/* Plan and warm (see above); warm_rows <= 1 warms only the any-shape session. */
ms_status pd_model_warm(pd_model *pm, int64_t warm_rows, ms_error *err);
void pd_model_free(pd_model *pm);

/* Run `s` once on zero inputs (empty strings), the first dimension `rows` (<= 0: 1, like every
 * other symbolic dimension). MS_OK without running when an input declares no shape or type. */
ms_status pd_model_run_zeros(const ms_model *m, ms_session *s, int64_t rows, ms_error *err);

#endif
