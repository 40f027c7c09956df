/* test_pd_pool.c: the session pool. Buckets are the padded batch sizes (powers of two capped
 * at max_rows), a bucket's session comes back to that bucket only, get/put from many threads
 * neither lose nor share a session, and every session it hands out runs the model. */
#include "mstest.h"
#include "pd_models.h"
#include "predict/pd_pool.h"

#include <pthread.h>

TEST(buckets_are_powers_of_two_capped_at_max)
{
    ms_model *m = pdm_affine(2, 0);
    pd_pool *p;
    ms_error err;
    CHECK(pd_pool_create(m, 6, &p, &err) == MS_OK);
    CHECK(pd_pool_bucket(p, 1) == 1);
    CHECK(pd_pool_bucket(p, 2) == 2);
    CHECK(pd_pool_bucket(p, 3) == 4);
    CHECK(pd_pool_bucket(p, 4) == 4);
    CHECK(pd_pool_bucket(p, 5) == 6); /* 8 capped at max_rows */
    CHECK(pd_pool_bucket(p, 6) == 6);
    CHECK(pd_pool_bucket(p, 7) == 7); /* beyond the largest bucket: not padded */
    pd_pool_free(p);
    CHECK(pd_pool_create(m, 0, &p, &err) == MS_OK); /* no buckets */
    CHECK(pd_pool_bucket(p, 3) == 3);
    pd_pool_free(p);
    ms_model_free(m);
}

TEST(one_session_per_bucket)
{
    ms_model *m = pdm_affine(2, 0);
    pd_pool *p;
    ms_error err;
    CHECK(pd_pool_create(m, 8, &p, &err) == MS_OK);
    ms_session *a = pd_pool_get(p, 4, &err), *b = pd_pool_get(p, 8, &err);
    ms_session *c = pd_pool_get(p, PD_POOL_ANY, &err);
    CHECK(a && b && c && a != b && b != c && a != c);
    pd_pool_put(p, 4, a);
    pd_pool_put(p, 8, b);
    pd_pool_put(p, PD_POOL_ANY, c);
    CHECK(pd_pool_idle(p, 4) == 1 && pd_pool_idle(p, 8) == 1 && pd_pool_idle(p, PD_POOL_ANY) == 1);
    CHECK(pd_pool_idle(p, 2) == 0);
    /* each comes back to its own list: the 4-row session is the 4-row bucket's */
    CHECK(pd_pool_get(p, 4, &err) == a);
    CHECK(pd_pool_get(p, 8, &err) == b);
    CHECK(pd_pool_get(p, PD_POOL_ANY, &err) == c);
    /* 3 is not a bucket size: it shares the any-shape list (now empty: a new session) */
    ms_session *d = pd_pool_get(p, 3, &err);
    CHECK(d && d != a && d != b && d != c);
    pd_pool_put(p, 3, d);
    CHECK(pd_pool_idle(p, PD_POOL_ANY) == 1);
    pd_pool_put(p, 4, a);
    pd_pool_put(p, 8, b);
    pd_pool_put(p, PD_POOL_ANY, c);
    CHECK(pd_pool_idle(p, PD_POOL_ANY) == 2);
    pd_pool_free(p); /* frees the idle sessions (ASan: nothing leaks) */
    ms_model_free(m);
}

enum { THREADS = 8, ROUNDS = 200 };
static pd_pool *g_pool;
static ms_session *g_inuse[THREADS];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_shared, g_wrong;

/* Get a session for a bucket, check no other thread holds it, run it on that bucket's rows
 * (y = 2x + 1), put it back. */
static void *hammer(void *arg)
{
    int id = (int)(intptr_t)arg;
    float x[8 * 2], y_want;
    for (int r = 0; r < ROUNDS; r++) {
        int64_t rows = (int64_t)1 << ((id + r) % 4); /* 1, 2, 4, 8 */
        ms_error err;
        ms_session *s = pd_pool_get(g_pool, rows, &err);
        if (!s) { pthread_mutex_lock(&g_mu); g_wrong++; pthread_mutex_unlock(&g_mu); continue; }
        pthread_mutex_lock(&g_mu);
        for (int t = 0; t < THREADS; t++)
            if (g_inuse[t] == s) g_shared++;
        g_inuse[id] = s;
        pthread_mutex_unlock(&g_mu);
        for (int i = 0; i < rows * 2; i++) x[i] = (float)(id * 100 + r + i);
        ms_tensor in = {MS_DTYPE_FLOAT, 2, {rows, 2}, x}, out;
        int bad = ms_session_run(s, &in, 1, &out, 1, &err) != MS_OK || out.shape[0] != rows;
        for (int i = 0; !bad && i < rows * 2; i++) {
            y_want = 2.0f * x[i] + 1.0f;
            bad = ((float *)out.data)[i] != y_want;
        }
        pthread_mutex_lock(&g_mu);
        g_wrong += bad;
        g_inuse[id] = NULL;
        pthread_mutex_unlock(&g_mu);
        pd_pool_put(g_pool, rows, s);
    }
    return NULL;
}

TEST(concurrent_get_put)
{
    ms_model *m = pdm_affine(2, 0);
    ms_error err;
    CHECK(pd_pool_create(m, 8, &g_pool, &err) == MS_OK);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, hammer, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    CHECK_MSG(g_shared == 0, "%d times a session was handed to two threads at once", g_shared);
    CHECK_MSG(g_wrong == 0, "%d runs failed or computed the wrong values", g_wrong);
    /* never more idle sessions in a bucket than threads that could hold one at once */
    int total = 0;
    for (int64_t rows = 1; rows <= 8; rows <<= 1) {
        int n = pd_pool_idle(g_pool, rows);
        CHECK(n >= 1 && n <= THREADS);
        total += n;
    }
    CHECK(total <= 4 * THREADS);
    pd_pool_free(g_pool);
    ms_model_free(m);
}

int main(void)
{
    RUN(buckets_are_powers_of_two_capped_at_max);
    RUN(one_session_per_bucket);
    RUN(concurrent_get_put);
    return mstest_summary();
}
