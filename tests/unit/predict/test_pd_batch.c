/* test_pd_batch.c: the dynamic batcher's merge / split / pad. Every submitter gets exactly its
 * own rows' outputs back, checked against two references: y = 2x + 1 computed here, and the
 * same model run on the request alone in a session of its own. Padding to a bucket never
 * shows in a result; a full queue refuses; a request past its deadline is answered unrun; a
 * model that is not row-wise is re-run one request at a time; freeing the batcher answers
 * what is still queued. */
#include "mstest.h"
#include "pd_models.h"
#include "predict/pd_batch.h"

#include <pthread.h>
#include <time.h>

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- a request and its wait ------------------------------------------------------------ */
typedef struct req {
    pd_batch_item it;
    ms_tensor in;
    float x[64 * 4];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, calls;
} req;

static void on_done(pd_batch_item *it)
{
    req *r = it->ctx;
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    r->calls++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* rows x width floats, each distinct and nonzero (seed * 1000 + i + 0.5), so a padding row
 * (zeros: y = 1) or a neighbour's row in a result is caught. */
static void req_init(req *r, int64_t rows, int64_t width, int seed)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    for (int64_t i = 0; i < rows * width; i++) r->x[i] = (float)(seed * 1000 + i) + 0.5f;
    r->in = (ms_tensor){MS_DTYPE_FLOAT, 2, {rows, width}, r->x};
    r->it.inputs = &r->in;
    r->it.rows = rows;
    r->it.done = on_done;
    r->it.ctx = r;
}

static void req_wait(req *r)
{
    pthread_mutex_lock(&r->mu);
    while (!r->done) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static void req_fini(req *r)
{
    pd_batch_item_clear(&r->it);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

/* r's output is y = 2x + 1 on exactly its own rows, and equals `alone` (the model on r alone). */
static int affine_ok(const req *r, ms_session *alone)
{
    if (r->it.st != MS_OK || r->it.n_outputs != 1) return 0;
    const ms_tensor *y = &r->it.outputs[0];
    if (y->ndim != 2 || y->shape[0] != r->in.shape[0] || y->shape[1] != r->in.shape[1]) return 0;
    int64_t n = r->in.shape[0] * r->in.shape[1];
    for (int64_t i = 0; i < n; i++)
        if (((const float *)y->data)[i] != 2.0f * r->x[i] + 1.0f) return 0;
    ms_tensor ref;
    ms_error err;
    if (ms_session_run(alone, &r->in, 1, &ref, 1, &err) != MS_OK) return 0;
    return memcmp(ref.data, y->data, (size_t)n * sizeof(float)) == 0;
}

/* ---- on_run: the rows of each run -------------------------------------------------------- */
static pthread_mutex_t runs_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t runs[4096];
static int n_runs;
static void on_run(void *ctx, int64_t rows)
{
    (void)ctx;
    pthread_mutex_lock(&runs_mu);
    if (n_runs < 4096) runs[n_runs++] = rows;
    pthread_mutex_unlock(&runs_mu);
}
static void runs_reset(void) { pthread_mutex_lock(&runs_mu); n_runs = 0; pthread_mutex_unlock(&runs_mu); }

/* ---- a batcher on a model, its pool, and a session of its own for the reference ------- */
typedef struct rig {
    ms_model *m;
    pd_pool *pool;
    pd_batcher *b;
    ms_session *alone;
} rig;

static int rig_open(rig *g, ms_model *m, int64_t max_batch, int64_t delay_us, int max_queue)
{
    ms_error err;
    pd_batch_cfg c = {max_batch, delay_us, max_queue};
    memset(g, 0, sizeof *g);
    g->m = m;
    runs_reset();
    int ok = m && pd_pool_create(m, max_batch, &g->pool, &err) == MS_OK &&
             pd_batcher_create(g->pool, &c, on_run, NULL, &g->b, &err) == MS_OK &&
             ms_session_create(m, NULL, &g->alone, &err) == MS_OK;
    if (!ok) printf("rig_open: %s\n", err.msg);
    return ok;
}

/* b may already be freed (NULL) */
static void rig_close(rig *g)
{
    pd_batcher_free(g->b);
    ms_session_free(g->alone);
    pd_pool_free(g->pool);
    ms_model_free(g->m);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* Three requests of 1, 2 and 2 rows queued within the delay merge into one run of 5 rows,
 * padded to the 8-row bucket; each gets its own rows, and no padding row. */
TEST(merge_split_pad)
{
    rig g;
    if (!rig_open(&g, pdm_affine(3, 0), 8, 300000, 16)) { CHECK(0); return; } /* 300 ms: all three arrive first */
    static req r[3];
    int64_t rows[3] = {1, 2, 2};
    for (int i = 0; i < 3; i++) req_init(&r[i], rows[i], 3, i + 1);
    for (int i = 0; i < 3; i++) CHECK(pd_batcher_submit(g.b, &r[i].it) == 0);
    for (int i = 0; i < 3; i++) req_wait(&r[i]);
    CHECK_MSG(n_runs == 1 && runs[0] == 5, "%d runs, first of %lld rows", n_runs, (long long)(n_runs ? runs[0] : 0));
    /* the run used (and gave back) the 8-row bucket's session: the batch was padded */
    CHECK(pd_pool_idle(g.pool, 8) == 1);
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(affine_ok(&r[i], g.alone), "request %d", i);
        CHECK(r[i].calls == 1);
        req_fini(&r[i]);
    }
    rig_close(&g);
}

/* N threads each submit requests of 1..5 rows and wait for each: whatever merges happen, each
 * gets its own rows. */
enum { SUBMITTERS = 8, PER = 40 };
static pd_batcher *g_b;
static const ms_model *g_m;
static int g_bad, g_refused;

static void *submitter(void *arg)
{
    int id = (int)(intptr_t)arg;
    ms_session *alone;
    ms_error err;
    if (ms_session_create(g_m, NULL, &alone, &err) != MS_OK) return NULL;
    req *r = malloc(sizeof *r);
    for (int k = 0; k < PER; k++) {
        req_init(r, 1 + (id + k) % 5, 3, id * PER + k);
        int bad;
        if (pd_batcher_submit(g_b, &r->it) != 0) {
            bad = 0;
            __atomic_add_fetch(&g_refused, 1, __ATOMIC_SEQ_CST);
        } else {
            req_wait(r);
            bad = !affine_ok(r, alone) || r->calls != 1;
        }
        if (bad) __atomic_add_fetch(&g_bad, 1, __ATOMIC_SEQ_CST);
        req_fini(r);
    }
    free(r);
    ms_session_free(alone);
    return NULL;
}

TEST(concurrent_submitters_get_their_own_rows)
{
    rig g;
    if (!rig_open(&g, pdm_affine(3, 0), 16, 2000, 1024)) { CHECK(0); return; }
    g_b = g.b;
    g_m = g.m;
    pthread_t th[SUBMITTERS];
    for (int t = 0; t < SUBMITTERS; t++) pthread_create(&th[t], NULL, submitter, (void *)(intptr_t)t);
    for (int t = 0; t < SUBMITTERS; t++) pthread_join(th[t], NULL);
    CHECK_MSG(g_bad == 0, "%d requests got wrong outputs", g_bad);
    CHECK(g_refused == 0);
    /* the runs add up to the rows submitted (no request run twice, none lost), and some merged */
    int64_t sum = 0, submitted = 0, most = 0;
    for (int i = 0; i < n_runs; i++) sum += runs[i], most = runs[i] > most ? runs[i] : most;
    for (int t = 0; t < SUBMITTERS; t++)
        for (int k = 0; k < PER; k++) submitted += 1 + (t + k) % 5;
    CHECK_MSG(sum == submitted, "runs hold %lld rows, %lld submitted", (long long)sum, (long long)submitted);
    CHECK_MSG(most > 5, "no run merged two requests (largest %lld rows)", (long long)most);
    rig_close(&g);
}

TEST(queue_full_is_refused)
{
    rig g; /* the worker waits 300 ms for company; two requests may wait */
    if (!rig_open(&g, pdm_affine(3, 0), 64, 300000, 2)) { CHECK(0); return; }
    static req r[3];
    for (int i = 0; i < 3; i++) req_init(&r[i], 1, 3, i);
    CHECK(pd_batcher_submit(g.b, &r[0].it) == 0);
    CHECK(pd_batcher_submit(g.b, &r[1].it) == 0);
    CHECK(pd_batcher_depth(g.b) == 2);
    CHECK(pd_batcher_submit(g.b, &r[2].it) == -1);
    req_wait(&r[0]);
    req_wait(&r[1]);
    CHECK(affine_ok(&r[0], g.alone) && affine_ok(&r[1], g.alone) && r[2].calls == 0);
    for (int i = 0; i < 3; i++) req_fini(&r[i]);
    rig_close(&g);
}

TEST(deadline_expires_in_the_queue)
{
    rig g; /* 50 ms wait, a deadline of 10 ms */
    if (!rig_open(&g, pdm_affine(3, 0), 8, 50000, 16)) { CHECK(0); return; }
    static req late, fine;
    req_init(&late, 2, 3, 1);
    req_init(&fine, 2, 3, 2);
    late.it.deadline_ns = mono_ns() + 10000000u;
    CHECK(pd_batcher_submit(g.b, &late.it) == 0);
    CHECK(pd_batcher_submit(g.b, &fine.it) == 0);
    req_wait(&late);
    req_wait(&fine);
    CHECK(late.it.st != MS_OK && late.it.timed_out && late.it.outputs == NULL);
    CHECK(strstr(late.it.err.msg, "timed out") != NULL);
    CHECK(affine_ok(&fine, g.alone) && !fine.it.timed_out);
    CHECK(n_runs == 1 && runs[0] == 2); /* only the live request ran */
    req_fini(&late);
    req_fini(&fine);
    rig_close(&g);
}

/* y = Transpose(x) is float[3, rows]: a merged run's output cannot be split by rows, so each
 * request is run again alone and gets its own transpose. */
TEST(not_row_wise_runs_one_at_a_time)
{
    rig g;
    if (!rig_open(&g, pdm_transpose(), 8, 300000, 16)) { CHECK(0); return; }
    static req r[2];
    req_init(&r[0], 1, 3, 1);
    req_init(&r[1], 2, 3, 2);
    CHECK(pd_batcher_submit(g.b, &r[0].it) == 0);
    CHECK(pd_batcher_submit(g.b, &r[1].it) == 0);
    req_wait(&r[0]);
    req_wait(&r[1]);
    /* the merged try (3 rows), then each alone */
    CHECK_MSG(n_runs == 3 && runs[0] == 3 && runs[1] == 1 && runs[2] == 2, "%d runs", n_runs);
    for (int i = 0; i < 2; i++) {
        int64_t rows = r[i].in.shape[0];
        CHECK(r[i].it.st == MS_OK && r[i].it.n_outputs == 1);
        const ms_tensor *y = &r[i].it.outputs[0];
        CHECK(y->ndim == 2 && y->shape[0] == 3 && y->shape[1] == rows);
        for (int64_t a = 0; a < 3; a++)
            for (int64_t k = 0; k < rows; k++)
                CHECK(((float *)y->data)[a * rows + k] == r[i].x[k * 3 + a]);
        req_fini(&r[i]);
    }
    rig_close(&g);
}

/* Freeing the batcher with requests still waiting answers each once, with its outputs, and
 * does not wait out the queue delay. */
TEST(shutdown_answers_what_is_queued)
{
    rig g; /* 10 s: only the shutdown can start the runs */
    if (!rig_open(&g, pdm_affine(3, 0), 4, 10000000, 64)) { CHECK(0); return; }
    static req r[6];
    for (int i = 0; i < 6; i++) {
        req_init(&r[i], 1 + i % 2, 3, i + 7);
        CHECK(pd_batcher_submit(g.b, &r[i].it) == 0);
    }
    uint64_t t0 = mono_ns();
    pd_batcher_free(g.b);
    g.b = NULL;
    CHECK_MSG(mono_ns() - t0 < 5000000000u, "free waited %.1f s", (double)(mono_ns() - t0) / 1e9);
    for (int i = 0; i < 6; i++) {
        CHECK_MSG(r[i].calls == 1 && affine_ok(&r[i], g.alone), "request %d", i);
        req_fini(&r[i]);
    }
    rig_close(&g);
}

TEST(copy_rows)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    ms_tensor src = {MS_DTYPE_FLOAT, 2, {3, 2}, x}, dst;
    ms_error err;
    CHECK(pd_tensor_copy_rows(&src, 1, 2, &dst, &err) == MS_OK);
    CHECK(dst.shape[0] == 2 && dst.shape[1] == 2 && dst.data != x);
    CHECK(((float *)dst.data)[0] == 3 && ((float *)dst.data)[3] == 6);
    ms_free(dst.data);
    const char *s[3] = {"a", "bc", ""};
    ms_tensor ss = {MS_DTYPE_STRING, 1, {3}, s};
    CHECK(pd_tensor_copy_rows(&ss, 0, -1, &dst, &err) == MS_OK);
    char **d = dst.data;
    CHECK(d != (char **)s && strcmp(d[0], "a") == 0 && strcmp(d[1], "bc") == 0 && d[2][0] == 0);
    ms_free(dst.data);
}

int main(void)
{
    RUN(merge_split_pad);
    RUN(concurrent_submitters_get_their_own_rows);
    RUN(queue_full_is_refused);
    RUN(deadline_expires_in_the_queue);
    RUN(not_row_wise_runs_one_at_a_time);
    RUN(shutdown_answers_what_is_queued);
    RUN(copy_rows);
    return mstest_summary();
}
