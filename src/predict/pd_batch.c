/* pd_batch.c: the dynamic batcher (see pd_batch.h). One mutex + condition variable guard a
 * FIFO; the worker sleeps until a request arrives, then until the batch is full or the first
 * request has waited max_queue_delay_us, takes the longest compatible prefix of the queue,
 * runs it outside the lock, and hands each request its slice.
 *
 * Row buckets: a session re-plans whenever its input shapes change (planning runs the graph
 * once more and re-packs constant weights), so merged batches of ever-changing sizes would
 * pay a re-plan per batch; on an MLP of 1.3M multiply-adds per row that tripled the cost of
 * each batch. So a merged batch is padded with zero rows up to a bucket (1, 2, 4, ... up to
 * max_batch_size), each bucket with its own sessions (the pool's bucket lists) planned once;
 * padded rows are never returned. Inputs of strings are not padded (no bucket session). */
#include "predict/pd_batch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/bs_clock.h"
#include "codec/codec_buf.h"

struct pd_batcher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    pd_batch_cfg cfg;
    pd_batch_run_fn on_run;
    void *on_run_ctx;
    pd_pool *pool;
    int n_in, n_out;
    pd_batch_item *head, *tail;
    int depth;
    int64_t queued_rows;
    int stop;
    /* merged inputs, reused across batches */
    void **cat;
    size_t *cat_cap;
};

/* ---- tensor copies ---------------------------------------------------------------------- */

static int64_t row_elems(const ms_tensor *t)
{
    int64_t n = 1;
    for (int d = 1; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

ms_status pd_tensor_copy_rows(const ms_tensor *src, int64_t row0, int64_t nrows, ms_tensor *dst,
                              ms_error *err)
{
    *dst = *src;
    int64_t first = 0, count = ms_tensor_numel(src);
    if (nrows >= 0) {
        int64_t per = row_elems(src);
        first = row0 * per;
        count = nrows * per;
        dst->shape[0] = nrows;
    }
    size_t es = ms_dtype_size(src->dtype);
    size_t bytes = (size_t)count * es;
    if (src->dtype == MS_DTYPE_STRING) {
        const char *const *s = (const char *const *)src->data + first;
        size_t extra = 0;
        for (int64_t i = 0; i < count; i++) extra += strlen(s[i]) + 1;
        char **p = ms_malloc(bytes + extra + 1);
        if (!p) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        char *q = (char *)(p + count);
        for (int64_t i = 0; i < count; i++) {
            size_t n = strlen(s[i]) + 1;
            memcpy(q, s[i], n);
            p[i] = q;
            q += n;
        }
        dst->data = p;
        return MS_OK;
    }
    dst->data = ms_malloc(bytes ? bytes : 1);
    if (!dst->data) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (bytes) memcpy(dst->data, (const char *)src->data + (size_t)first * es, bytes);
    return MS_OK;
}

void pd_batch_item_clear(pd_batch_item *it)
{
    if (!it->outputs) return;
    for (int i = 0; i < it->n_outputs; i++) ms_free(it->outputs[i].data);
    free(it->outputs);
    it->outputs = NULL;
    it->n_outputs = 0;
}

/* ---- running ---------------------------------------------------------------------------- */

static void finish(pd_batch_item *it) { it->done(it); }

/* Copy the session's outputs into the item (rows [row0, row0 + it->rows), or whole). */
static ms_status give_outputs(pd_batcher *b, pd_batch_item *it, const ms_tensor *outs,
                              int64_t row0, int whole)
{
    it->outputs = calloc((size_t)b->n_out, sizeof *it->outputs);
    if (!it->outputs) return bs_fail(&it->err, MS_ERR_RUNTIME, "out of memory");
    it->n_outputs = b->n_out;
    for (int o = 0; o < b->n_out; o++) {
        ms_status st = whole ? pd_tensor_copy_rows(&outs[o], 0, -1, &it->outputs[o], &it->err)
                             : pd_tensor_copy_rows(&outs[o], row0, it->rows, &it->outputs[o], &it->err);
        if (st != MS_OK) {
            it->n_outputs = o;
            pd_batch_item_clear(it);
            return st;
        }
    }
    return MS_OK;
}

static void count_run(pd_batcher *b, int64_t rows)
{
    if (b->on_run) b->on_run(b->on_run_ctx, rows);
}

/* One request alone, on an any-shape session: its own tensors, no copies in. */
static void run_one(pd_batcher *b, pd_batch_item *it, ms_tensor *outs)
{
    count_run(b, it->rows);
    ms_session *s = pd_pool_get(b->pool, PD_POOL_ANY, &it->err);
    if (!s) {
        it->st = MS_ERR_RUNTIME;
        return;
    }
    it->st = ms_session_run(s, it->inputs, b->n_in, outs, b->n_out, &it->err);
    if (it->st == MS_OK) it->st = give_outputs(b, it, outs, 0, 1);
    pd_pool_put(b->pool, PD_POOL_ANY, s);
}

static int compatible(const pd_batcher *b, const pd_batch_item *a, const pd_batch_item *c)
{
    for (int i = 0; i < b->n_in; i++) {
        const ms_tensor *x = &a->inputs[i], *y = &c->inputs[i];
        if (x->dtype != y->dtype || x->ndim != y->ndim || x->ndim < 1) return 0;
        for (int d = 1; d < x->ndim; d++)
            if (x->shape[d] != y->shape[d]) return 0;
    }
    return 1;
}

static void run_group(pd_batcher *b, pd_batch_item *group)
{
    ms_tensor outs[MS_MAX_IO];
    uint64_t now = bs_now_ns();
    /* Answer the expired first. */
    pd_batch_item *live = NULL, **tailp = &live;
    for (pd_batch_item *it = group, *next; it; it = next) {
        next = it->next;
        it->next = NULL;
        if (it->deadline_ns && now > it->deadline_ns) {
            it->st = MS_ERR_RUNTIME;
            it->timed_out = 1;
            bs_fail(&it->err, MS_ERR_RUNTIME, "the request timed out after waiting in the batch queue");
            finish(it);
            continue;
        }
        *tailp = it;
        tailp = &it->next;
    }
    if (!live) return;
    if (!live->next) { /* alone */
        run_one(b, live, outs);
        finish(live);
        return;
    }
    int64_t total = 0;
    for (pd_batch_item *it = live; it; it = it->next) total += it->rows;
    int pad_ok = 1;
    for (int i = 0; i < b->n_in; i++)
        if (live->inputs[i].dtype == MS_DTYPE_STRING) pad_ok = 0;
    int64_t padded = pad_ok ? pd_pool_bucket(b->pool, total) : total;
    ms_tensor in[MS_MAX_IO];
    ms_error err;
    ms_status st = MS_OK;
    /* a bucket's session; when none can be made, an any-shape one on the unpadded rows */
    ms_session *sess = pd_pool_get(b->pool, padded, &err);
    if (!sess && padded != total) sess = pd_pool_get(b->pool, padded = total, &err);
    if (!sess) st = MS_ERR_RUNTIME;
    for (int i = 0; i < b->n_in && st == MS_OK; i++) {
        in[i] = live->inputs[i];
        in[i].shape[0] = padded;
        size_t row_bytes = (size_t)row_elems(&in[i]) * ms_dtype_size(in[i].dtype);
        size_t need = (size_t)padded * row_bytes;
        if (need > b->cat_cap[i]) {
            void *p = realloc(b->cat[i], need);
            if (!p) { st = bs_fail(&err, MS_ERR_RUNTIME, "out of memory merging a batch"); break; }
            b->cat[i] = p;
            b->cat_cap[i] = need;
        }
        size_t off = 0;
        for (pd_batch_item *it = live; it; it = it->next) {
            size_t n = (size_t)it->rows * row_bytes;
            if (n) memcpy((char *)b->cat[i] + off, it->inputs[i].data, n);
            off += n;
        }
        if (need > off) memset((char *)b->cat[i] + off, 0, need - off); /* padding rows */
        in[i].data = b->cat[i];
    }
    if (st == MS_OK) {
        count_run(b, total);
        st = ms_session_run(sess, in, b->n_in, outs, b->n_out, &err);
    }
    int rowwise = st == MS_OK;
    for (int o = 0; rowwise && o < b->n_out; o++)
        if (outs[o].ndim < 1 || outs[o].shape[0] != padded) rowwise = 0;
    if (st != MS_OK || !rowwise) {
        /* Not row-wise: run each request on its own, so results never mix. Failed: retry
         * each alone too, so one bad request does not fail its neighbours; only the request
         * that causes the error gets it. */
        pd_pool_put(b->pool, padded, sess);
        for (pd_batch_item *it = live, *next; it; it = next) {
            next = it->next;
            run_one(b, it, outs);
            finish(it);
        }
        return;
    }
    /* Every slice is copied out before the session goes back to the pool (outs live in it),
     * and the session is back before anyone is answered. */
    int64_t row0 = 0;
    for (pd_batch_item *it = live; it; it = it->next) {
        it->st = give_outputs(b, it, outs, row0, 0);
        row0 += it->rows;
    }
    pd_pool_put(b->pool, padded, sess);
    for (pd_batch_item *it = live, *next; it; it = next) {
        next = it->next;
        finish(it);
    }
}

static void add_ns(struct timespec *ts, uint64_t abs_ns)
{
    ts->tv_sec = (time_t)(abs_ns / 1000000000u);
    ts->tv_nsec = (long)(abs_ns % 1000000000u);
}

static void *worker(void *arg)
{
    pd_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stop) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head && b->stop) break;
        uint64_t until = b->head->enq_ns + (uint64_t)b->cfg.max_queue_delay_us * 1000u;
        while (!b->stop && b->queued_rows < b->cfg.max_batch_size && bs_now_ns() < until) {
            struct timespec ts;
            add_ns(&ts, until);
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
        }
        /* The longest compatible prefix within max_batch_size (the first always goes). */
        pd_batch_item *group = b->head, *last = b->head;
        int64_t rows = group->rows;
        int taken = 1;
        while (last->next && rows + last->next->rows <= b->cfg.max_batch_size &&
               compatible(b, group, last->next)) {
            last = last->next;
            rows += last->rows;
            taken++;
        }
        b->head = last->next;
        if (!b->head) b->tail = NULL;
        last->next = NULL;
        b->depth -= taken;
        b->queued_rows -= rows;
        pthread_mutex_unlock(&b->mu);
        run_group(b, group);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

ms_status pd_batcher_create(pd_pool *pool, const pd_batch_cfg *cfg, pd_batch_run_fn on_run,
                            void *on_run_ctx, pd_batcher **out, ms_error *err)
{
    *out = NULL;
    const ms_model *m = pd_pool_model(pool);
    if (ms_model_num_inputs(m) > MS_MAX_IO || ms_model_num_outputs(m) > MS_MAX_IO)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "dynamic batching supports at most %d inputs and outputs", MS_MAX_IO);
    pd_batcher *b = calloc(1, sizeof *b);
    if (!b) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    b->cfg = *cfg;
    b->pool = pool;
    b->on_run = on_run;
    b->on_run_ctx = on_run_ctx;
    b->n_in = ms_model_num_inputs(m);
    b->n_out = ms_model_num_outputs(m);
    b->cat = calloc((size_t)b->n_in + 1, sizeof *b->cat);
    b->cat_cap = calloc((size_t)b->n_in + 1, sizeof *b->cat_cap);
    if (!b->cat || !b->cat_cap) {
        free(b->cat);
        free(b->cat_cap);
        free(b);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->mu, NULL);
    if (pthread_create(&b->thread, NULL, worker, b) != 0) {
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        free(b->cat);
        free(b->cat_cap);
        free(b);
        return bs_fail(err, MS_ERR_RUNTIME, "cannot start the batching thread");
    }
    *out = b;
    return MS_OK;
}

int pd_batcher_submit(pd_batcher *b, pd_batch_item *it)
{
    it->next = NULL;
    it->enq_ns = bs_now_ns();
    it->outputs = NULL;
    it->n_outputs = 0;
    it->timed_out = 0;
    pthread_mutex_lock(&b->mu);
    if (b->stop || b->depth >= b->cfg.max_queue) {
        pthread_mutex_unlock(&b->mu);
        return -1;
    }
    if (b->tail) b->tail->next = it;
    else b->head = it;
    b->tail = it;
    b->depth++;
    b->queued_rows += it->rows;
    /* Wake the worker for the first request, or when the batch is full. */
    if (b->head == it || b->queued_rows >= b->cfg.max_batch_size) pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

int pd_batcher_depth(pd_batcher *b)
{
    pthread_mutex_lock(&b->mu);
    int d = b->depth;
    pthread_mutex_unlock(&b->mu);
    return d;
}

void pd_batcher_free(pd_batcher *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    for (int i = 0; i < b->n_in; i++) free(b->cat[i]);
    free(b->cat);
    free(b->cat_cap);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
