/* sv_batch.h: dynamic batching. Requests for one model version queue here; one worker
 * thread merges those that arrive within max_queue_delay_us (up to max_batch_size rows) into
 * one run along dimension 0, then splits the outputs back per request.
 *
 * Requests merge when every input agrees in all dimensions but the first. If a model output
 * does not have the batch's row count as its first dimension (the model is not row-wise), the
 * merged batch is not split but re-run one request at a time, so results never mix.
 * The queue is bounded (max_queue requests): submit refuses beyond it, and the caller answers
 * 503 with Retry-After. A request still queued past its deadline is answered 504 unrun. */
#ifndef SV_BATCH_H
#define SV_BATCH_H

#include <stdint.h>

#include "mlship.h"

typedef struct sv_batch_cfg {
    int64_t max_batch_size;     /* rows per run; <= 1 means batching is off */
    int64_t max_queue_delay_us; /* how long the first request waits for company */
    int max_queue;              /* requests waiting, at most */
} sv_batch_cfg;

typedef struct sv_batch_item {
    const ms_tensor *inputs;  /* one per model input, model order; the caller's until done */
    int64_t rows;             /* the first dimension of every input */
    uint64_t deadline_ns;     /* monotonic; 0 for none */
    /* results, set before done() is called (on the worker thread) */
    ms_status st;
    int timed_out;            /* st != MS_OK because the deadline passed in the queue */
    ms_error err;
    int n_outputs;
    ms_tensor *outputs;       /* each data block ms_malloc'd; free with sv_batch_item_clear */
    void (*done)(struct sv_batch_item *it);
    void *ctx;
    /* internal */
    uint64_t enq_ns;
    struct sv_batch_item *next;
} sv_batch_item;

typedef struct sv_batcher sv_batcher;

/* `label` names the model in metrics ("fraud"). The batcher owns one session on `m`. */
ms_status sv_batcher_create(const ms_model *m, const char *label, const sv_batch_cfg *cfg,
                            sv_batcher **out, ms_error *err);
/* 0: queued (done() will be called exactly once); -1: the queue is full. */
int sv_batcher_submit(sv_batcher *b, sv_batch_item *it);
int sv_batcher_depth(sv_batcher *b);
/* Stops the worker after the queue is empty. Nothing may be submitted afterwards. */
void sv_batcher_free(sv_batcher *b);
void sv_batch_item_clear(sv_batch_item *it);

/* Copy rows [row0, row0+nrows) of `src` (all of it when src has no rows dimension and
 * row0 == 0, nrows == -1) into a new ms_malloc'd tensor; strings are copied deep into one
 * block. */
ms_status sv_tensor_copy_rows(const ms_tensor *src, int64_t row0, int64_t nrows, ms_tensor *dst,
                              ms_error *err);

#endif
