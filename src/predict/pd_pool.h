/* pd_pool.h: a thread-safe pool of sessions on one model, kept per batch size.
 *
 * A session plans for the input shapes of its first run and re-plans (runs the graph once
 * more, re-packs constant weights) whenever they change, so a session that keeps seeing one
 * batch size is the cheap one. The pool keeps its idle sessions in lists: one per bucket
 * (1, 2, 4, ... up to max_rows rows: pd_pool_bucket) for callers that pad their batches to a
 * bucket (the dynamic batcher), and one for any shape (rows <= 0: a request run as it came).
 * get takes an idle session of that list or creates one; put gives it back. Sessions are
 * created on demand, so the pool never refuses for being empty; it holds at most as many
 * sessions per list as were in use at once.
 *
 * The pool borrows the model: free the pool before the model. */
#ifndef PD_POOL_H
#define PD_POOL_H

#include <stdint.h>

#include "mlship.h"

#define PD_POOL_ANY 0 /* rows for "any shape": the list of unpadded sessions */

typedef struct pd_pool pd_pool;

/* max_rows: the largest bucket (<= 1: no buckets, every rows value shares one list). */
ms_status pd_pool_create(const ms_model *m, int64_t max_rows, pd_pool **out, ms_error *err);
/* Frees every idle session; sessions still out must have been put back. */
void pd_pool_free(pd_pool *p);

/* The rows a batch of `rows` is padded to: the smallest power of two holding it, capped at
 * max_rows; `rows` itself when it is larger than max_rows (such a batch is not padded). */
int64_t pd_pool_bucket(const pd_pool *p, int64_t rows);

/* An idle session for batches of `rows` rows, or a new one; NULL with err on failure. rows is
 * a bucket size (what pd_pool_bucket returns) or PD_POOL_ANY; any other value shares the
 * any-shape list. Give it back with pd_pool_put and the same rows. */
ms_session *pd_pool_get(pd_pool *p, int64_t rows, ms_error *err);
void pd_pool_put(pd_pool *p, int64_t rows, ms_session *s);

/* Idle sessions in the list of `rows` (for tests and gauges). */
int pd_pool_idle(pd_pool *p, int64_t rows);
const ms_model *pd_pool_model(const pd_pool *p);

#endif
