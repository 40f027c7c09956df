/* pd_pool.c: the session pool (see pd_pool.h). One mutex guards every list; it is held only
 * to pop or push a pointer, never while a session is created or run. */
#include "predict/pd_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "codec/codec_buf.h"

#define NLISTS 33 /* buckets 2^0 .. 2^31, then "any shape" */
#define ANY_LIST (NLISTS - 1)

typedef struct slist {
    ms_session **s;
    int n, cap;
} slist;

struct pd_pool {
    pthread_mutex_t mu;
    const ms_model *model;
    int64_t max_rows;
    slist list[NLISTS];
};

ms_status pd_pool_create(const ms_model *m, int64_t max_rows, pd_pool **out, ms_error *err)
{
    *out = NULL;
    pd_pool *p = calloc(1, sizeof *p);
    if (!p) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    p->model = m;
    p->max_rows = max_rows;
    *out = p;
    return MS_OK;
}

void pd_pool_free(pd_pool *p)
{
    if (!p) return;
    for (int k = 0; k < NLISTS; k++) {
        for (int i = 0; i < p->list[k].n; i++) ms_session_free(p->list[k].s[i]);
        free(p->list[k].s);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* The bucket of `rows` and its index; *k = ANY_LIST when rows is not a bucket's. */
static int64_t bucket_of(const pd_pool *p, int64_t rows, int *k)
{
    *k = ANY_LIST;
    if (rows <= 0 || p->max_rows <= 1) return rows;
    int64_t n = 1;
    int i = 0;
    while (n < rows && n < p->max_rows && i < 31) n <<= 1, i++;
    if (n > p->max_rows) n = p->max_rows;
    if (n < rows) return rows; /* beyond the largest bucket: run as it is */
    *k = i;
    return n;
}

int64_t pd_pool_bucket(const pd_pool *p, int64_t rows)
{
    int k;
    return bucket_of(p, rows, &k);
}

/* The list a batch of exactly `rows` rows goes to: its bucket's when rows is a bucket size. */
static slist *list_of(pd_pool *p, int64_t rows)
{
    int k;
    int64_t b = bucket_of(p, rows, &k);
    return &p->list[b == rows ? k : ANY_LIST];
}

ms_session *pd_pool_get(pd_pool *p, int64_t rows, ms_error *err)
{
    slist *l = list_of(p, rows);
    pthread_mutex_lock(&p->mu);
    ms_session *s = l->n ? l->s[--l->n] : NULL;
    pthread_mutex_unlock(&p->mu);
    if (!s && ms_session_create(p->model, NULL, &s, err) != MS_OK) return NULL;
    return s;
}

void pd_pool_put(pd_pool *p, int64_t rows, ms_session *s)
{
    if (!s) return;
    slist *l = list_of(p, rows);
    pthread_mutex_lock(&p->mu);
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 8;
        ms_session **q = realloc(l->s, (size_t)nc * sizeof *q);
        if (!q) { /* cannot keep it: drop it, the next get makes another */
            pthread_mutex_unlock(&p->mu);
            ms_session_free(s);
            return;
        }
        l->s = q;
        l->cap = nc;
    }
    l->s[l->n++] = s;
    pthread_mutex_unlock(&p->mu);
}

int pd_pool_idle(pd_pool *p, int64_t rows)
{
    slist *l = list_of(p, rows);
    pthread_mutex_lock(&p->mu);
    int n = l->n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

const ms_model *pd_pool_model(const pd_pool *p) { return p->model; }
