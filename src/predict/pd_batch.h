/* pd_batch.h: dynamic batching. Requests for one model version queue here; one worker
 * thread merges those that arrive within max_queue_delay_us (up to max_batch_size rows) into
 * one run along dimension 0, then splits the outputs back per request.
 *
 * Requests merge when every input agrees in all dimensions but the first. If a model output
 * does not have the batch's row count as its first dimension (the model is not row-wise), the
 * merged batch is not split but re-run one request at a time, so results never mix.
 * The queue is bounded (max_queue requests): submit refuses beyond it, and the caller answers
 * 503 with Retry-After. A request still queued past its deadline is answered 504 unrun.
 *
 * Sessions come from a pd_pool on the model (one per padded bucket, and the any-shape list
 * for a request run alone); the batcher borrows the pool, so free the batcher first. It knows
 * nothing of HTTP or metrics: the caller counts runs through on_run. Deadlines are on
 * bs_now_ns (base/bs_clock.h), in nanoseconds. */
#ifndef PD_BATCH_H
#define PD_BATCH_H

#include <stdint.h>

#include "mlship.h"
#include "predict/pd_pool.h"

typedef struct pd_batch_cfg {
    int64_t max_batch_size;     /* rows per run; <= 1 means batching is off */
    int64_t max_queue_delay_us; /* how long the first request waits for company */
    int max_queue;              /* requests waiting, at most */
} pd_batch_cfg;

typedef struct pd_batch_item {
    const ms_tensor *inputs;  /* one per model input, model order; the caller's until done */
    int64_t rows;             /* the first dimension of every input */
    uint64_t deadline_ns;     /* monotonic; 0 for none */
    /* results, set before done() is called (on the worker thread) */
    ms_status st;
    int timed_out;            /* st != MS_OK because the deadline passed in the queue */
    ms_error err;
    int n_outputs;
    ms_tensor *outputs;       /* each data block ms_malloc'd; free with pd_batch_item_clear */
    void (*done)(struct pd_batch_item *it);
    void *ctx;
    /* internal */
    uint64_t enq_ns;
    struct pd_batch_item *next;
} pd_batch_item;

typedef struct pd_batcher pd_batcher;

/* Called on the worker thread before each run with the rows it runs (a merged batch's real
 * rows, padding not counted; or one request's). */
typedef void (*pd_batch_run_fn)(void *ctx, int64_t rows);

/* Starts the worker. on_run may be NULL. */
ms_status pd_batcher_create(pd_pool *pool, const pd_batch_cfg *cfg, pd_batch_run_fn on_run,
                            void *on_run_ctx, pd_batcher **out, ms_error *err);
/* 0: queued (done() will be called exactly once); -1: the queue is full. */
int pd_batcher_submit(pd_batcher *b, pd_batch_item *it);
int pd_batcher_depth(pd_batcher *b);
/* Stops the worker after the queue is empty. Nothing may be submitted afterwards. */
void pd_batcher_free(pd_batcher *b);
void pd_batch_item_clear(pd_batch_item *it);

/* Copy rows [row0, row0+nrows) of `src` (all of it when src has no rows dimension and
 * row0 == 0, nrows == -1) into a new ms_malloc'd tensor; strings are copied deep into one
 * block. */
ms_status pd_tensor_copy_rows(const ms_tensor *src, int64_t row0, int64_t nrows, ms_tensor *dst,
                              ms_error *err);

#endif
