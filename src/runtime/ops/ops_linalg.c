/* ops_linalg.c: MatMul and Gemm. float32 goes through ms_sgemm (with the weight matrix packed
 * once in prepare when it is a constant); float64 and the integer types use a plain loop, with
 * integer arithmetic wrapping as two's complement like numpy's. */
#include "ms_op.h"

#include "ms_alloc.h"
#include "ms_gemm.h"

#include <string.h>

#define OPSET_MAX 21

/* ---- typed fallback ------------------------------------------------------------------------ */

/* One 2-D product's geometry: C[M,N] (+)= op(A)[M,K] * op(B)[K,N], row-major, strided. */
typedef struct mm_dims {
    bool ta, tb;
    int64_t M, N, K, lda, ldb, ldc;
} mm_dims;

static bool dtype_is_int(ms_dtype t)
{
    return t == MS_DTYPE_INT32 || t == MS_DTYPE_INT64 || t == MS_DTYPE_UINT32 ||
           t == MS_DTYPE_UINT64;
}

#define AT(X, ld, t, r, c) ((t) ? (X)[(c) * (ld) + (r)] : (X)[(r) * (ld) + (c)])

/* C = alpha * op(A) op(B) + beta * C (beta == 0: C not read), in double. */
static void mm_f64(const double *A, const double *B, double *C, const mm_dims *d, double alpha,
                   double beta)
{
    for (int64_t i = 0; i < d->M; i++)
        for (int64_t j = 0; j < d->N; j++) {
            double s = 0;
            for (int64_t k = 0; k < d->K; k++)
                s += AT(A, d->lda, d->ta, i, k) * AT(B, d->ldb, d->tb, k, j);
            double *c = &C[i * d->ldc + j];
            *c = beta == 0.0 ? alpha * s : alpha * s + beta * *c;
        }
}

/* Integer products in uint64, which wraps instead of overflowing (signed overflow would be
 * undefined); the low bits are the two's-complement result. `acc`: add onto C. */
#define DEF_MM_INT(name, T)                                                                   \
    static void name(const T *A, const T *B, T *C, const mm_dims *d, bool acc)                \
    {                                                                                         \
        for (int64_t i = 0; i < d->M; i++)                                                    \
            for (int64_t j = 0; j < d->N; j++) {                                              \
                uint64_t s = acc ? (uint64_t)C[i * d->ldc + j] : 0;                           \
                for (int64_t k = 0; k < d->K; k++)                                            \
                    s += (uint64_t)AT(A, d->lda, d->ta, i, k) *                               \
                         (uint64_t)AT(B, d->ldb, d->tb, k, j);                                \
                C[i * d->ldc + j] = (T)s;                                                     \
            }                                                                                 \
    }
DEF_MM_INT(mm_i32, int32_t)
DEF_MM_INT(mm_i64, int64_t)
DEF_MM_INT(mm_u32, uint32_t)
DEF_MM_INT(mm_u64, uint64_t)

/* A product in any non-float32 type MatMul and Gemm take. Integers only do alpha = 1 and
 * beta in {0, 1} (the callers check). */
static void mm_typed(ms_dtype t, const void *A, const void *B, void *C, const mm_dims *d,
                     double alpha, double beta)
{
    bool acc = beta != 0.0;
    switch (t) {
    case MS_DTYPE_DOUBLE: mm_f64(A, B, C, d, alpha, beta); break;
    case MS_DTYPE_INT32: mm_i32(A, B, C, d, acc); break;
    case MS_DTYPE_INT64: mm_i64(A, B, C, d, acc); break;
    case MS_DTYPE_UINT32: mm_u32(A, B, C, d, acc); break;
    case MS_DTYPE_UINT64: mm_u64(A, B, C, d, acc); break;
    default: break;
    }
}

/* A fused Relu (c->post_relu) on the typed fallback: max(y, 0) over the output, in place while
 * it is still in cache (float32 applies it in the GEMM's store stage instead). NaN stays NaN,
 * as in the Relu kernel; unsigned types are already >= 0. */
static void post_relu(const ms_kctx *c)
{
    const ms_tensor *y = c->out[0];
    int64_t n = ms_tensor_numel(y);
    if (!c->post_relu) return;
    switch (y->dtype) {
    case MS_DTYPE_DOUBLE: {
        double *v = y->data;
        for (int64_t i = 0; i < n; i++) v[i] = v[i] < 0.0 ? 0.0 : v[i];
        break;
    }
    case MS_DTYPE_INT32: {
        int32_t *v = y->data;
        for (int64_t i = 0; i < n; i++) v[i] = v[i] < 0 ? 0 : v[i];
        break;
    }
    case MS_DTYPE_INT64: {
        int64_t *v = y->data;
        for (int64_t i = 0; i < n; i++) v[i] = v[i] < 0 ? 0 : v[i];
        break;
    }
    default: break;
    }
}

/* ---- packed weights (prepare) ------------------------------------------------------------- */

/* A constant B packed once for ms_sgemm_packed; run uses it only if K and N still match. */
typedef struct packed_b {
    int64_t K, N;
    float *data;
} packed_b;

static void packed_b_release(void *state)
{
    packed_b *p = state;
    if (!p) return;
    ms_aligned_free(p->data);
    ms_free(p);
}

/* The packing depends on B (a constant) and the node's attributes alone, so the sessions of a
 * model share one (ms_kshare); the planner frees only a state that is not the model's. */
static ms_status packed_b_make(ms_kctx *c, bool trans, int64_t K, int64_t N, const float *B,
                               void **state)
{
    if ((*state = ms_kshared(c, 0))) return MS_OK;
    packed_b *p = ms_malloc(sizeof *p);
    if (!p) return ms_kfail(c, MS_ERR_RUNTIME, "out of memory packing the weights");
    p->K = K;
    p->N = N;
    p->data = ms_aligned_alloc(ms_sgemm_pack_b_size(K, N));
    if (!p->data) {
        ms_free(p);
        return ms_kfail(c, MS_ERR_RUNTIME, "out of memory packing the weights");
    }
    ms_sgemm_pack_b(trans, K, N, B, trans ? K : N, p->data);
    *state = ms_kshare(c, 0, p, packed_b_release);
    if (!*state) *state = p;
    return MS_OK;
}

static const packed_b *packed_for(const ms_kctx *c, int64_t K, int64_t N)
{
    const packed_b *p = c->state;
    return p && p->K == K && p->N == N ? p : NULL;
}

/* ---- MatMul -------------------------------------------------------------------------------- */

static bool matmul_dtype_ok(ms_dtype t)
{
    return t == MS_DTYPE_FLOAT || t == MS_DTYPE_DOUBLE || dtype_is_int(t);
}

/* The 2-D view of a MatMul: batch shape, M, N, K, after numpy's 1-D promotion. */
typedef struct mm_plan {
    int nb;                /* batch dims of the output */
    int64_t bshape[MS_MAX_DIMS];
    int64_t astr[MS_MAX_DIMS], bstr[MS_MAX_DIMS]; /* batch strides in matrices (0: broadcast) */
    int64_t M, N, K, batch;
    bool b_shared;         /* every batch uses the same B: fold the batch into M */
} mm_plan;

static ms_status matmul_plan(ms_kctx *c, mm_plan *p, ms_tensor *out)
{
    const ms_tensor *a = c->in[0], *b = c->in[1];
    if (a->ndim < 1 || b->ndim < 1)
        return ms_kfail(c, MS_ERR_INVALID, "inputs must have at least one dimension (got %d and %d)",
                        (int)a->ndim, (int)b->ndim);
    int64_t K = a->shape[a->ndim - 1];
    int64_t M = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
    int64_t Kb = b->ndim >= 2 ? b->shape[b->ndim - 2] : b->shape[0];
    int64_t N = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
    if (K != Kb)
        return ms_kfail(c, MS_ERR_INVALID,
                        "inner dimensions differ: A has %lld columns, B has %lld rows",
                        (long long)K, (long long)Kb);
    /* batch dims: everything before the last two, broadcast numpy-style */
    ms_tensor ba = {a->dtype, a->ndim > 2 ? a->ndim - 2 : 0, {0}, NULL};
    ms_tensor bb = {b->dtype, b->ndim > 2 ? b->ndim - 2 : 0, {0}, NULL};
    memcpy(ba.shape, a->shape, sizeof(int64_t) * (size_t)ba.ndim);
    memcpy(bb.shape, b->shape, sizeof(int64_t) * (size_t)bb.ndim);
    const ms_tensor *pair[2] = {&ba, &bb};
    ms_tensor bo;
    ms_status st = ms_broadcast_shapes(c, pair, 2, &bo);
    if (st) return st;
    p->nb = bo.ndim;
    memcpy(p->bshape, bo.shape, sizeof(int64_t) * (size_t)bo.ndim);
    ms_broadcast_strides(&ba, bo.ndim, bo.shape, p->astr);
    ms_broadcast_strides(&bb, bo.ndim, bo.shape, p->bstr);
    p->M = M;
    p->N = N;
    p->K = K;
    p->batch = 1;
    bool b_batched = false;
    for (int d = 0; d < bo.ndim; d++) {
        p->batch *= bo.shape[d];
        if (p->bstr[d] && bo.shape[d] > 1) b_batched = true;
    }
    /* A's batches are contiguous when A itself has all the batch dims (no broadcast) */
    bool a_full = true;
    for (int d = 0; d < bo.ndim; d++)
        if (!p->astr[d] && bo.shape[d] > 1) a_full = false;
    p->b_shared = !b_batched && a_full;

    if (out) {
        int64_t shape[MS_MAX_DIMS];
        int nd = 0;
        for (int d = 0; d < bo.ndim; d++) shape[nd++] = bo.shape[d];
        if (a->ndim >= 2) shape[nd++] = M;
        if (b->ndim >= 2) shape[nd++] = N;
        if (nd > MS_MAX_DIMS)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "output would have %d dimensions", nd);
        ms_tensor_set_shape(out, a->dtype, nd, shape);
    }
    return MS_OK;
}

static ms_status matmul_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    if (st) return st;
    ms_dtype t = c->in[0]->dtype;
    if (!matmul_dtype_ok(t))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "type %s is not supported", ms_dtype_name(t));
    if (c->in[1]->dtype != t)
        return ms_kfail(c, MS_ERR_INVALID, "A is %s but B is %s", ms_dtype_name(t),
                        ms_dtype_name(c->in[1]->dtype));
    mm_plan p;
    if ((st = matmul_plan(c, &p, c->out[0]))) return st;
    if (t == MS_DTYPE_FLOAT)
        c->scratch_size = ms_sgemm_workspace(p.b_shared ? p.batch * p.M : p.M, p.N, p.K);
    return MS_OK;
}

/* Offset of batch index `bi` (over the output's batch shape) with the given strides. */
static int64_t batch_offset(const mm_plan *p, const int64_t *str, int64_t bi)
{
    int64_t off = 0;
    for (int d = p->nb - 1; d >= 0; d--) {
        off += (bi % p->bshape[d]) * str[d];
        bi /= p->bshape[d];
    }
    return off;
}

static ms_status matmul_compute(ms_kctx *c)
{
    const ms_tensor *a = c->in[0], *b = c->in[1];
    ms_tensor *y = c->out[0];
    mm_plan p;
    ms_status st = matmul_plan(c, &p, NULL);
    if (st) return st;
    int64_t M = p.M, N = p.N, K = p.K, mk = M * K, kn = K * N, mn = M * N;
    if (a->dtype == MS_DTYPE_FLOAT) {
        const float *A = a->data, *B = b->data;
        float *Y = y->data;
        const packed_b *pb = packed_for(c, K, N);
        ms_sgemm_epilogue ep = {NULL, 0.0f, c->post_relu != 0};
        if (p.b_shared) {
            /* one B for every batch: the batch is just more rows of A */
            if (pb)
                ms_sgemm_packed_ex(false, p.batch * M, N, K, 1.0f, A, K, pb->data, 0.0f, Y, N, &ep,
                                   c->scratch);
            else
                ms_sgemm_ex(false, false, p.batch * M, N, K, 1.0f, A, K, B, N, 0.0f, Y, N, &ep,
                            c->scratch);
            return MS_OK;
        }
        for (int64_t bi = 0; bi < p.batch; bi++)
            ms_sgemm_ex(false, false, M, N, K, 1.0f, A + batch_offset(&p, p.astr, bi) * mk, K,
                        B + batch_offset(&p, p.bstr, bi) * kn, N, 0.0f, Y + bi * mn, N, &ep,
                        c->scratch);
        return MS_OK;
    }
    size_t es = ms_dtype_size(a->dtype);
    mm_dims d = {false, false, M, N, K, K, N, N};
    for (int64_t bi = 0; bi < p.batch; bi++)
        mm_typed(a->dtype, (const char *)a->data + es * (size_t)(batch_offset(&p, p.astr, bi) * mk),
                 (const char *)b->data + es * (size_t)(batch_offset(&p, p.bstr, bi) * kn),
                 (char *)y->data + es * (size_t)(bi * mn), &d, 1.0, 0.0);
    return MS_OK;
}

static ms_status matmul_run(ms_kctx *c)
{
    ms_status st = matmul_compute(c);
    if (!st) post_relu(c);
    return st;
}

/* Pack a constant float B once, when every batch shares it. */
static ms_status matmul_prepare(ms_kctx *c, void **state)
{
    *state = NULL;
    if (!(c->const_inputs & 2) || c->in[0]->dtype != MS_DTYPE_FLOAT) return MS_OK;
    mm_plan p;
    ms_status st = matmul_plan(c, &p, NULL);
    if (st || !p.b_shared) return st;
    return packed_b_make(c, false, p.K, p.N, c->in[1]->data, state);
}

/* ---- Gemm ---------------------------------------------------------------------------------- */

/* Y = alpha * op(A) * op(B) + beta * C, A and B 2-D, C broadcast to [M, N] (one way). Before
 * opset 7 broadcasting C needed the `broadcast` attribute; a model that leaves it 0 gives a full
 * [M, N] C, so reading C the opset-7 way covers both. */
typedef struct gemm_args {
    bool ta, tb;
    float alpha, beta;
    int64_t M, N, K;
    const ms_tensor *C; /* NULL when absent */
} gemm_args;

static ms_status gemm_args_get(ms_kctx *c, gemm_args *g)
{
    const ms_node *n = c->node;
    const ms_tensor *a = c->in[0], *b = c->in[1];
    g->ta = ms_attr_int(n, "transA", 0) != 0;
    g->tb = ms_attr_int(n, "transB", 0) != 0;
    g->alpha = ms_attr_float(n, "alpha", 1.0f);
    g->beta = ms_attr_float(n, "beta", 1.0f);
    g->C = c->n_in > 2 ? c->in[2] : NULL;
    if (a->ndim != 2 || b->ndim != 2)
        return ms_kfail(c, MS_ERR_INVALID, "A and B must be 2-D (got %d-D and %d-D)", (int)a->ndim,
                        (int)b->ndim);
    g->M = g->ta ? a->shape[1] : a->shape[0];
    g->K = g->ta ? a->shape[0] : a->shape[1];
    int64_t kb = g->tb ? b->shape[1] : b->shape[0];
    g->N = g->tb ? b->shape[0] : b->shape[1];
    if (kb != g->K)
        return ms_kfail(c, MS_ERR_INVALID,
                        "inner dimensions differ: op(A) is %lldx%lld, op(B) is %lldx%lld",
                        (long long)g->M, (long long)g->K, (long long)kb, (long long)g->N);
    const ms_tensor *C = g->C;
    if (C) {
        if (C->ndim > 2) return ms_kfail(c, MS_ERR_INVALID, "C must have at most 2 dimensions");
        int64_t want[2] = {g->M, g->N};
        for (int d = 0; d < C->ndim; d++) {
            int64_t v = C->shape[d], w = want[2 - C->ndim + d];
            if (v != 1 && v != w)
                return ms_kfail(c, MS_ERR_INVALID,
                                "C of shape dimension %d = %lld does not broadcast to [%lld, %lld]",
                                d, (long long)v, (long long)g->M, (long long)g->N);
        }
    }
    return MS_OK;
}

static ms_status gemm_infer(ms_kctx *c)
{
    /* C became optional in opset 11 */
    ms_status st = ms_kcheck_ninputs(c, c->opset >= 11 ? 2 : 3, 3);
    if (st) return st;
    ms_dtype t = c->in[0]->dtype;
    if (t != MS_DTYPE_FLOAT && t != MS_DTYPE_DOUBLE && !dtype_is_int(t))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "type %s is not supported", ms_dtype_name(t));
    for (int i = 1; i < c->n_in; i++)
        if (c->in[i] && c->in[i]->dtype != t)
            return ms_kfail(c, MS_ERR_INVALID, "input %d is %s, input 0 is %s", i,
                            ms_dtype_name(c->in[i]->dtype), ms_dtype_name(t));
    gemm_args g;
    if ((st = gemm_args_get(c, &g))) return st;
    if (dtype_is_int(t) && (g.alpha != 1.0f || (g.C && g.beta != 1.0f && g.beta != 0.0f)))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "alpha/beta other than 1 on integer %s",
                        ms_dtype_name(t));
    int64_t shape[2] = {g.M, g.N};
    ms_tensor_set_shape(c->out[0], t, 2, shape);
    if (t == MS_DTYPE_FLOAT) c->scratch_size = ms_sgemm_workspace(g.M, g.N, g.K);
    return MS_OK;
}

/* Y = C broadcast to [M, N] (element size es). */
static void gemm_fill_c(const ms_tensor *C, int64_t M, int64_t N, size_t es, void *Y)
{
    int64_t shape[2] = {M, N}, str[2];
    ms_broadcast_strides(C, 2, shape, str);
    const char *src = C->data;
    char *dst = Y;
    for (int64_t i = 0; i < M; i++) {
        if (str[1] == 1) {
            memcpy(dst + es * (size_t)(i * N), src + es * (size_t)(i * str[0]), es * (size_t)N);
            continue;
        }
        for (int64_t j = 0; j < N; j++)
            memcpy(dst + es * (size_t)(i * N + j), src + es * (size_t)(i * str[0] + j * str[1]), es);
    }
}

static ms_status gemm_compute(ms_kctx *c)
{
    gemm_args g;
    ms_status st = gemm_args_get(c, &g);
    if (st) return st;
    const ms_tensor *a = c->in[0], *b = c->in[1];
    ms_tensor *y = c->out[0];
    ms_dtype t = a->dtype;
    size_t es = ms_dtype_size(t);
    bool with_c = g.C && g.beta != 0.0f && ms_tensor_numel(g.C) > 0;
    int64_t lda = a->shape[1], ldb = b->shape[1];
    if (t == MS_DTYPE_FLOAT) {
        /* a C of one row ([N] or [1, N], the usual bias) joins in the GEMM's store stage, with
         * the fused Relu; any other C is copied into Y first and added with beta */
        const ms_tensor *C = g.C;
        bool col_bias = with_c && C->ndim >= 1 && ms_tensor_numel(C) == g.N &&
                        C->shape[C->ndim - 1] == g.N && (C->ndim == 1 || C->shape[0] == 1);
        if (with_c && !col_bias) gemm_fill_c(C, g.M, g.N, es, y->data);
        ms_sgemm_epilogue ep = {col_bias ? C->data : NULL, g.beta, c->post_relu != 0};
        float beta = with_c && !col_bias ? g.beta : 0.0f;
        const packed_b *pb = packed_for(c, g.K, g.N);
        if (pb)
            ms_sgemm_packed_ex(g.ta, g.M, g.N, g.K, g.alpha, a->data, lda, pb->data, beta,
                               y->data, g.N, &ep, c->scratch);
        else
            ms_sgemm_ex(g.ta, g.tb, g.M, g.N, g.K, g.alpha, a->data, lda, b->data, ldb, beta,
                        y->data, g.N, &ep, c->scratch);
        return MS_OK;
    }
    /* Y starts as C, then the product is added with beta scaling it */
    if (with_c) gemm_fill_c(g.C, g.M, g.N, es, y->data);
    float beta = with_c ? g.beta : 0.0f;
    mm_dims d = {g.ta, g.tb, g.M, g.N, g.K, lda, ldb, g.N};
    mm_typed(t, a->data, b->data, y->data, &d, g.alpha, beta);
    return MS_OK;
}

static ms_status gemm_run(ms_kctx *c)
{
    ms_status st = gemm_compute(c);
    if (!st) post_relu(c);
    return st;
}

static ms_status gemm_prepare(ms_kctx *c, void **state)
{
    *state = NULL;
    if (!(c->const_inputs & 2) || c->in[0]->dtype != MS_DTYPE_FLOAT) return MS_OK;
    gemm_args g;
    ms_status st = gemm_args_get(c, &g);
    if (st) return st;
    return packed_b_make(c, g.tb, g.K, g.N, c->in[1]->data, state);
}

const ms_kernel ms_ops_linalg[] = {
    {"", "MatMul", 1, OPSET_MAX, matmul_infer, matmul_run, matmul_prepare, packed_b_release,
     1},
    {"", "Gemm", 1, OPSET_MAX, gemm_infer, gemm_run, gemm_prepare, packed_b_release, 1},
    {0},
};
