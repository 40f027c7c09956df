/* test_pd_model.c: load -> check -> plan -> warm. A model that warms leaves one planned
 * session per list it warmed; a model that fails to load, check, plan or warm returns the
 * error and, once freed, leaves nothing behind: every runtime allocation is counted (the
 * allocator hook) and ASan (make unit-asan) checks the rest. */
#include "mstest.h"
#include "pd_models.h"
#include "predict/pd_model.h"

#include <stdlib.h>
#include <unistd.h>

/* ---- a counting allocator: live blocks of the runtime ------------------------------------ */
static long live;
static void *c_malloc(size_t n) { void *p = malloc(n); if (p) live++; return p; }
static void *c_realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q && !p) live++;
    return q;
}
static void c_free(void *p) { if (p) live--; free(p); }
static void count_on(void) { live = 0; ms_set_allocator(c_malloc, c_realloc, c_free); }
static void count_off(void) { ms_set_allocator(NULL, NULL, NULL); }

TEST(warms_the_any_shape_session_and_every_bucket)
{
    ms_error err;
    pd_model *pm;
    CHECK(pd_model_adopt(pdm_affine(2, 0), 8, &pm, &err) == MS_OK);
    CHECK_MSG(pd_model_warm(pm, 8, &err) == MS_OK, "%s", err.msg);
    CHECK(pd_pool_idle(pm->pool, PD_POOL_ANY) == 1);
    CHECK(pd_pool_idle(pm->pool, 1) == 0); /* a merged batch is never 1 row */
    CHECK(pd_pool_idle(pm->pool, 2) == 1 && pd_pool_idle(pm->pool, 4) == 1 && pd_pool_idle(pm->pool, 8) == 1);
    /* the 4-row session is planned: a run of 4 rows computes 2x + 1 */
    ms_session *s = pd_pool_get(pm->pool, 4, &err);
    float x[8] = {0, 1, 2, 3, -1, -2, 0.5f, 10}, *y;
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {4, 2}, x}, out;
    CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_OK);
    y = out.data;
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], 2 * x[i] + 1, 0);
    pd_pool_put(pm->pool, 4, s);
    pd_model_free(pm);
}

TEST(no_buckets_for_a_fixed_batch_or_without_batching)
{
    ms_error err;
    pd_model *pm;
    CHECK(pd_model_adopt(pdm_affine(2, 1), 8, &pm, &err) == MS_OK); /* x is float[1, 2] */
    CHECK(pd_model_warm(pm, 8, &err) == MS_OK);
    CHECK(pd_pool_idle(pm->pool, PD_POOL_ANY) == 1 && pd_pool_idle(pm->pool, 2) == 0);
    pd_model_free(pm);
    CHECK(pd_model_adopt(pdm_affine(2, 0), 0, &pm, &err) == MS_OK);
    CHECK(pd_model_warm(pm, 0, &err) == MS_OK);
    CHECK(pd_pool_idle(pm->pool, PD_POOL_ANY) == 1);
    pd_model_free(pm);
}

TEST(a_model_that_fails_a_bucket_warm_is_refused_and_freed)
{
    ms_error err = {{0}};
    pd_model *pm;
    count_on();
    ms_model *m = pdm_reshape_one_row();
    CHECK(m != NULL);
    CHECK(pd_model_adopt(m, 4, &pm, &err) == MS_OK);
    ms_status st = pd_model_warm(pm, 4, &err);
    CHECK(st != MS_OK);
    CHECK_MSG(strstr(err.msg, "warming a batch of 2 rows") != NULL, "%s", err.msg);
    pd_model_free(pm);
    count_off();
    CHECK_MSG(live == 0, "%ld runtime blocks still live", live);
    /* without batching the same model warms (one row fits [1, 2]) */
    CHECK(pd_model_adopt(pdm_reshape_one_row(), 0, &pm, &err) == MS_OK);
    CHECK_MSG(pd_model_warm(pm, 0, &err) == MS_OK, "%s", err.msg);
    pd_model_free(pm);
}

TEST(a_model_that_cannot_run_fails_to_plan_and_is_freed)
{
    ms_error err = {{0}};
    count_on();
    pbuf mb = pdm_bad_matmul_bytes();
    ms_model *m = NULL;
    ms_status st = ms_model_load(mb.p, mb.n, &m, &err); /* m references mb: freed last */
    if (st == MS_OK) { /* the loader let it through: planning (the warm run) must refuse it */
        pd_model *pm;
        st = pd_model_adopt(m, 8, &pm, &err);
        if (st == MS_OK) {
            st = pd_model_warm(pm, 8, &err);
            pd_model_free(pm);
        }
    }
    count_off();
    free(mb.p);
    CHECK(st != MS_OK);
    CHECK(err.msg[0] != 0);
    CHECK_MSG(live == 0, "%ld runtime blocks still live", live);
}

TEST(open_file)
{
    ms_error err = {{0}};
    pd_model *pm = (pd_model *)1;
    CHECK(pd_model_open("/nonexistent/model.onnx", 0, &pm, &err) != MS_OK);
    CHECK(pm == NULL && strstr(err.msg, "/nonexistent/model.onnx"));
    /* a model written to a file loads the same way */
    pbuf g = {0};
    const char *ti[] = {"x"}, *to[] = {"y"};
    ob_node(&g, "Relu", "r", ti, 1, to, 1, NULL);
    pb_str(&g, 2, "relu");
    int64_t xd[2] = {-1, 2};
    ob_value(&g, 11, "x", 1, 2, xd);
    ob_value(&g, 12, "y", 1, 2, xd);
    pbuf mb = ob_model(&g, 13);
    char path[] = "/tmp/test_pd_model_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, mb.p, mb.n) == (ssize_t)mb.n);
    close(fd);
    free(mb.p);
    CHECK_MSG(pd_model_open(path, 4, &pm, &err) == MS_OK, "%s", err.msg);
    CHECK(pd_model_warm(pm, 4, &err) == MS_OK);
    CHECK(pd_pool_idle(pm->pool, 4) == 1);
    pd_model_free(pm);
    unlink(path);
}

int main(void)
{
    RUN(warms_the_any_shape_session_and_every_bucket);
    RUN(no_buckets_for_a_fixed_batch_or_without_batching);
    RUN(a_model_that_fails_a_bucket_warm_is_refused_and_freed);
    RUN(a_model_that_cannot_run_fails_to_plan_and_is_freed);
    RUN(open_file);
    return mstest_summary();
}
