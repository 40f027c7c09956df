/* ops_pool.c: pooling over the spatial axes of an N x C x D1 x ... tensor: MaxPool (with its
 * optional Indices output), AveragePool, LpPool, the Global* pools and MaxUnpool.
 *
 * Every windowed pool shares one geometry (pool_geom) that follows ONNX's reference semantics:
 * explicit pads or auto_pad, dilations, ceil_mode (a window that would start in the right
 * padding is dropped). 1-D and 2-D inputs are lifted to 3-D with unit leading axes, so one
 * triple loop serves all three ranks. Per axis and output position, a table gives the first
 * input coordinate and the range of kernel taps that land inside the input, so the inner loops
 * never test bounds. */
#include "ms_op.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define POOL_X86 1
#include <immintrin.h>
#define POOL_AVX2 __attribute__((target("avx2")))
#define POOL_AVX512 __attribute__((target("avx512f")))
#endif

#if defined(__wasm_simd128__)
#define POOL_WASM 1
#include <wasm_simd128.h>
#endif

#define POOL_ND 3 /* spatial axes handled; 1-D and 2-D are lifted to 3-D */
#define POOL_GEOM_MAX ((int64_t)1 << 20)

/* The window of one output position along one axis. Input coordinate of tap k is
 * start + k * dilation; taps klo..khi-1 are inside the input; npad counts the taps inside the
 * padded input (the divisor of AveragePool with count_include_pad). */
typedef struct pool_tap {
    int64_t start, klo, khi, npad;
} pool_tap;

typedef struct pool_geom {
    int nd;          /* the model's spatial rank (1..3) */
    int64_t planes;  /* N * C */
    int64_t in[POOL_ND], out[POOL_ND], k[POOL_ND], s[POOL_ND], d[POOL_ND];
    int64_t pb[POOL_ND], pe[POOL_ND];
    int64_t in_plane, out_plane;
} pool_geom;

/* ---- geometry -------------------------------------------------------------------------- */

/* Read an INTS attribute of exactly n values into dst, or leave dst (its defaults) alone when
 * the attribute is absent. */
static ms_status pool_ints(ms_kctx *c, const char *name, int n, int64_t *dst)
{
    const int64_t *v;
    int cnt = ms_attr_ints(c->node, name, &v);
    if (cnt < 0) return MS_OK;
    if (cnt != n)
        return ms_kfail(c, MS_ERR_INVALID, "'%s' has %d values; the input has %d spatial axes%s",
                        name, cnt, !strcmp(name, "pads") ? n / 2 : n,
                        !strcmp(name, "pads") ? " (pads needs two per axis)" : "");
    memcpy(dst, v, sizeof(int64_t) * (size_t)n);
    return MS_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Fill g from x's shape and the node's attributes. `has_dil` says whether the op takes a
 * dilations attribute; `need_kernel` is false only for the Global pools. */
static ms_status pool_geom_init(ms_kctx *c, const ms_tensor *x, pool_geom *g)
{
    if (x->ndim < 3)
        return ms_kfail(c, MS_ERR_INVALID, "input has rank %d; pooling needs N x C x D1 ...",
                        (int)x->ndim);
    int nd = x->ndim - 2;
    if (nd > POOL_ND)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%d spatial axes; only 1 to 3 are supported", nd);
    int64_t k[POOL_ND], s[POOL_ND], d[POOL_ND], pads[2 * POOL_ND];
    for (int i = 0; i < nd; i++) { k[i] = -1; s[i] = 1; d[i] = 1; pads[i] = pads[nd + i] = 0; }
    ms_status st;
    if ((st = pool_ints(c, "kernel_shape", nd, k)) != MS_OK) return st;
    if ((st = pool_ints(c, "strides", nd, s)) != MS_OK) return st;
    if ((st = pool_ints(c, "dilations", nd, d)) != MS_OK) return st;
    if ((st = pool_ints(c, "pads", 2 * nd, pads)) != MS_OK) return st;
    for (int i = 0; i < nd; i++) {
        if (k[i] < 1)
            return ms_kfail(c, MS_ERR_INVALID, "kernel_shape is missing or not positive");
        if (s[i] < 1 || d[i] < 1)
            return ms_kfail(c, MS_ERR_INVALID, "strides and dilations must be positive");
        if (pads[i] < 0 || pads[nd + i] < 0)
            return ms_kfail(c, MS_ERR_INVALID, "pads must not be negative");
        /* no real model comes near; the bound keeps the geometry arithmetic in range */
        if (k[i] > POOL_GEOM_MAX || s[i] > POOL_GEOM_MAX || d[i] > POOL_GEOM_MAX ||
            pads[i] > POOL_GEOM_MAX || pads[nd + i] > POOL_GEOM_MAX)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "kernel, stride, dilation or pad above %lld",
                            (long long)POOL_GEOM_MAX);
    }
    const char *ap = ms_attr_string(c->node, "auto_pad", "NOTSET");
    int same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
    int valid = !strcmp(ap, "VALID"), notset = !strcmp(ap, "NOTSET") || !ap[0];
    if (!same_upper && !same_lower && !valid && !notset)
        return ms_kfail(c, MS_ERR_INVALID, "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER "
                        "or VALID", ap);
    int64_t ceil_mode = ms_attr_int(c->node, "ceil_mode", 0);
    if (ceil_mode != 0 && ceil_mode != 1)
        return ms_kfail(c, MS_ERR_INVALID, "ceil_mode must be 0 or 1");
    /* The spec gives auto_pad its own output-size formulas; how ceil_mode would combine with
     * them is not pinned down, so refuse rather than guess. */
    if (ceil_mode && !notset)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "ceil_mode with auto_pad %s", ap);

    memset(g, 0, sizeof *g);
    g->nd = nd;
    g->planes = x->shape[0] * x->shape[1];
    int off = POOL_ND - nd; /* lifted axes come first, with unit extent */
    for (int i = 0; i < POOL_ND; i++) {
        g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
        g->pb[i] = g->pe[i] = 0;
    }
    for (int i = 0; i < nd; i++) {
        int a = off + i;
        int64_t in = x->shape[2 + i], dk = (k[i] - 1) * d[i] + 1, out, pb = pads[i], pe = pads[nd + i];
        if (in < 1)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "spatial axis %d is empty", i);
        if (same_upper || same_lower) {
            out = ceil_div(in, s[i]);
            int64_t total = (out - 1) * s[i] + dk - in;
            if (total < 0) total = 0;
            pb = same_upper ? total / 2 : total - total / 2;
            pe = total - pb;
        } else {
            if (valid) pb = pe = 0;
            int64_t span = in + pb + pe - dk;
            if (span < 0)
                return ms_kfail(c, MS_ERR_INVALID, "the kernel (%lld with dilation) is larger "
                                "than the padded axis %d (%lld)", (long long)dk, i,
                                (long long)(in + pb + pe));
            out = (ceil_mode ? ceil_div(span, s[i]) : span / s[i]) + 1;
            /* ceil_mode: a last window that would start inside the right padding is dropped */
            if (ceil_mode && (out - 1) * s[i] >= in + pb) out--;
        }
        g->in[a] = in; g->out[a] = out; g->k[a] = k[i]; g->s[a] = s[i]; g->d[a] = d[i];
        g->pb[a] = pb; g->pe[a] = pe;
    }
    g->in_plane = g->in[0] * g->in[1] * g->in[2];
    /* out <= in + 2^21 per axis: only absurd pads on small axes could overflow the product */
    g->out_plane = 1;
    for (int a = 0; a < POOL_ND; a++) {
        if (g->out[a] > 0 && g->out_plane > ((int64_t)1 << 40) / g->out[a])
            return ms_kfail(c, MS_ERR_INVALID, "the output would be impossibly large");
        g->out_plane *= g->out[a];
    }
    return MS_OK;
}

/* Taps of output position o along axis a. */
static pool_tap pool_tap_at(const pool_geom *g, int a, int64_t o)
{
    pool_tap t;
    int64_t d = g->d[a], K = g->k[a];
    t.start = o * g->s[a] - g->pb[a];
    /* first tap with coordinate >= lo, and one past the last with coordinate < hi */
    int64_t lo = 0, hi = g->in[a];
    t.klo = t.start >= lo ? 0 : ceil_div(lo - t.start, d);
    t.khi = hi - 1 - t.start < 0 ? 0 : (hi - 1 - t.start) / d + 1;
    if (t.khi > K) t.khi = K;
    if (t.khi < t.klo) t.khi = t.klo;
    lo = -g->pb[a], hi = g->in[a] + g->pe[a];
    int64_t plo = t.start >= lo ? 0 : ceil_div(lo - t.start, d);
    int64_t phi = hi - 1 - t.start < 0 ? 0 : (hi - 1 - t.start) / d + 1;
    if (phi > K) phi = K;
    t.npad = phi > plo ? phi - plo : 0;
    return t;
}

static size_t pool_scratch_bytes(const pool_geom *g)
{
    return sizeof(pool_tap) * (size_t)(g->out[0] + g->out[1] + g->out[2]);
}

/* Build the per-axis tap tables in scratch; tab[a] points to axis a's out[a] entries. */
static void pool_tables(const pool_geom *g, void *scratch, pool_tap *tab[POOL_ND])
{
    pool_tap *p = scratch;
    for (int a = 0; a < POOL_ND; a++) {
        tab[a] = p;
        for (int64_t o = 0; o < g->out[a]; o++) p[o] = pool_tap_at(g, a, o);
        p += g->out[a];
    }
}

/* A window with no tap inside the input has no defined max or average (the reference takes
 * the max of an empty set); refuse such geometries up front. */
static ms_status pool_check_windows(ms_kctx *c, const pool_geom *g)
{
    for (int a = 0; a < POOL_ND; a++)
        for (int64_t o = 0; o < g->out[a]; o++) {
            pool_tap t = pool_tap_at(g, a, o);
            if (t.khi <= t.klo)
                return ms_kfail(c, MS_ERR_UNSUPPORTED, "output position %lld of spatial axis %d "
                                "has a window entirely in the padding", (long long)o,
                                a - (POOL_ND - g->nd));
        }
    return MS_OK;
}

/* Prepare's state: the checked geometry for the input shape it saw, so that runs with that shape
 * parse no attributes (a string compare per lookup, which shows at batch 1). */
typedef struct pool_state {
    int32_t ndim;
    int64_t shape[MS_MAX_DIMS];
    pool_geom g;
} pool_state;

static const pool_geom *pool_cached(const ms_kctx *c, const ms_tensor *x)
{
    const pool_state *ps = c->state;
    if (ps && x->ndim == ps->ndim &&
        !memcmp(x->shape, ps->shape, sizeof(int64_t) * (size_t)x->ndim))
        return &ps->g;
    return NULL;
}

/* pool_geom_init, or the cached geometry */
static ms_status pool_geom_get(ms_kctx *c, const ms_tensor *x, pool_geom *g)
{
    const pool_geom *cg = pool_cached(c, x);
    if (!cg) return pool_geom_init(c, x, g);
    *g = *cg;
    return MS_OK;
}

static ms_status pool_prepare(ms_kctx *c, void **state)
{
    *state = NULL;
    pool_state *ps = ms_malloc(sizeof *ps);
    if (!ps) return MS_OK; /* only an optimisation */
    ps->ndim = c->in[0]->ndim;
    memcpy(ps->shape, c->in[0]->shape, sizeof ps->shape);
    if (pool_geom_init(c, c->in[0], &ps->g) != MS_OK) { /* infer accepted it: not expected */
        ms_free(ps);
        return MS_OK;
    }
    *state = ps;
    return MS_OK;
}

static void pool_release(void *state) { ms_free(state); }

static ms_status pool_infer_common(ms_kctx *c, pool_geom *g)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st != MS_OK) return st;
    const ms_tensor *x = c->in[0];
    const pool_geom *cg = pool_cached(c, x);
    if (cg) {
        *g = *cg; /* checked by the planning infer, which ran before prepare */
    } else {
        if ((st = pool_geom_init(c, x, g)) != MS_OK) return st;
        if ((st = pool_check_windows(c, g)) != MS_OK) return st;
    }
    int64_t shape[MS_MAX_DIMS];
    shape[0] = x->shape[0];
    shape[1] = x->shape[1];
    for (int i = 0; i < g->nd; i++) shape[2 + i] = g->out[POOL_ND - g->nd + i];
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, shape);
    c->scratch_size = pool_scratch_bytes(g);
    return MS_OK;
}

/* Pool kinds of the sum-type kernels (and the float fast path). */
enum { POOL_AVG, POOL_AVG_PAD, POOL_LP1, POOL_LP2, POOL_LPP };

/* ---- MaxPool --------------------------------------------------------------------------- */

/* Re-express a row-major spatial offset in the storage order Indices asks for. Column-major
 * over the lifted axes (1, H, W) is h + w * H, as in the reference. */
static int64_t pool_index(const pool_geom *g, int64_t rm, int col_major)
{
    if (!col_major) return rm;
    int64_t i2 = rm % g->in[2], r = rm / g->in[2];
    int64_t i1 = r % g->in[1], i0 = r / g->in[1];
    return i0 + i1 * g->in[0] + i2 * g->in[0] * g->in[1];
}

/* One kernel per element type. The spatial index of the max is kept only when Indices is
 * wanted; ties keep the first tap in row-major order, like the reference. */
#define MAXPOOL_FN(NAME, T, LOWEST)                                                           \
    static void NAME(const pool_geom *g, pool_tap *const tab[POOL_ND], const T *x, T *y,     \
                     int64_t *ind, int col_major)                                            \
    {                                                                                        \
        const int64_t H = g->in[1], W = g->in[2];                                            \
        for (int64_t p = 0; p < g->planes; p++, x += g->in_plane) {                         \
            for (int64_t o0 = 0; o0 < g->out[0]; o0++) {                                     \
                const pool_tap *t0 = &tab[0][o0];                                            \
                for (int64_t o1 = 0; o1 < g->out[1]; o1++) {                                 \
                    const pool_tap *t1 = &tab[1][o1];                                        \
                    for (int64_t o2 = 0; o2 < g->out[2]; o2++) {                             \
                        const pool_tap *t2 = &tab[2][o2];                                    \
                        T m = LOWEST;                                                        \
                        int64_t best = -1;                                                   \
                        for (int64_t k0 = t0->klo; k0 < t0->khi; k0++) {                     \
                            int64_t i0 = t0->start + k0 * g->d[0];                           \
                            for (int64_t k1 = t1->klo; k1 < t1->khi; k1++) {                 \
                                int64_t i1 = t1->start + k1 * g->d[1];                       \
                                const T *row = x + (i0 * H + i1) * W + t2->start;            \
                                for (int64_t k2 = t2->klo; k2 < t2->khi; k2++) {             \
                                    T v = row[k2 * g->d[2]];                                 \
                                    if (v > m || best < 0) {                                 \
                                        m = v;                                               \
                                        best = (i0 * H + i1) * W + t2->start + k2 * g->d[2]; \
                                    }                                                        \
                                }                                                            \
                            }                                                                \
                        }                                                                    \
                        *y++ = m;                                                            \
                        if (ind) *ind++ = p * g->in_plane + pool_index(g, best, col_major);  \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }

MAXPOOL_FN(maxpool_f64, double, -INFINITY)
MAXPOOL_FN(maxpool_i8, int8_t, INT8_MIN)
MAXPOOL_FN(maxpool_u8, uint8_t, 0)
MAXPOOL_FN(maxpool_f32, float, -INFINITY) /* with Indices; without, the fast path below */

/* ---- float32 fast path ------------------------------------------------------------------ */

/* Output columns [lo, hi) whose tap k2 lands inside the input row. */
static void pool_cols(const pool_geom *g, int64_t k2, int64_t *lo, int64_t *hi)
{
    int64_t off = k2 * g->d[2] - g->pb[2], s = g->s[2]; /* input column = o2 * s + off */
    *lo = off >= 0 ? 0 : ceil_div(-off, s);
    *hi = g->in[2] - 1 - off < 0 ? 0 : (g->in[2] - 1 - off) / s + 1;
    if (*hi > g->out[2]) *hi = g->out[2];
    if (*hi < *lo) *hi = *lo;
}

/* Float max and average pooling, one output row at a time: for every kernel tap, a tight
 * loop over the output columns that tap reaches (the compiler vectorises it for stride 1).
 * The row stays in L1 across the taps; no per-tap bounds tests. Indices take the generic
 * kernel. */
static void pool_rows_f32(const pool_geom *g, pool_tap *const tab[POOL_ND], const float *x,
                          float *y, int mode)
{
    const int64_t H = g->in[1], W = g->in[2], OW = g->out[2], s2 = g->s[2];
    const int is_max = mode < 0;
    for (int64_t p = 0; p < g->planes; p++, x += g->in_plane)
        for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
            const pool_tap *t0 = &tab[0][o0];
            for (int64_t o1 = 0; o1 < g->out[1]; o1++, y += OW) {
                const pool_tap *t1 = &tab[1][o1];
                for (int64_t o2 = 0; o2 < OW; o2++) y[o2] = is_max ? -INFINITY : 0.0f;
                for (int64_t k0 = t0->klo; k0 < t0->khi; k0++)
                    for (int64_t k1 = t1->klo; k1 < t1->khi; k1++) {
                        const float *row =
                            x + ((t0->start + k0 * g->d[0]) * H + t1->start + k1 * g->d[1]) * W;
                        for (int64_t k2 = 0; k2 < g->k[2]; k2++) {
                            int64_t lo, hi, off = k2 * g->d[2] - g->pb[2];
                            pool_cols(g, k2, &lo, &hi);
                            if (hi <= lo) continue;
                            const float *r = row + off + lo * s2; /* tap of column lo */
                            float *yo = y + lo;
                            int64_t n = hi - lo;
                            if (is_max) {
                                for (int64_t j = 0; j < n; j++) {
                                    float v = r[j * s2];
                                    yo[j] = v > yo[j] ? v : yo[j];
                                }
                            } else {
                                for (int64_t j = 0; j < n; j++) yo[j] += r[j * s2];
                            }
                        }
                    }
                if (is_max) continue;
                int64_t n01 = mode == POOL_AVG_PAD ? t0->npad * t1->npad
                                                   : (t0->khi - t0->klo) * (t1->khi - t1->klo);
                for (int64_t o2 = 0; o2 < OW; o2++) {
                    const pool_tap *t2 = &tab[2][o2];
                    int64_t n2 = mode == POOL_AVG_PAD ? t2->npad : t2->khi - t2->klo;
                    y[o2] = (float)((double)y[o2] / (double)(n01 * n2));
                }
            }
        }
}

/* ---- float32 2x2 stride-2 max pooling ------------------------------------------------------
 * The CNN downsampling step. Each output row reads two input rows: a vertical max of the rows,
 * then the max of each even/odd pair. Every step is max(v, m) = v > m ? v : m starting from
 * -inf, as in the generic kernels: a NaN input is skipped, and the result is the max of the
 * window's other values. SIMD paths are picked from the CPU at run time. */

static inline float max_step(float v, float m) { return v > m ? v : m; }

/* Each function below pools `rows` output rows of ow values: output row o reads input rows 2o
 * and 2o + 1 of x (w values apart); y is written densely. */

static void max2x2_c(const float *x, int64_t w, int64_t rows, int64_t ow, float *y)
{
    for (int64_t o = 0; o < rows; o++, x += 2 * w, y += ow)
        for (int64_t j = 0; j < ow; j++) {
            float e = max_step(x[w + 2 * j], max_step(x[2 * j], -INFINITY));
            float d = max_step(x[w + 2 * j + 1], max_step(x[2 * j + 1], -INFINITY));
            y[j] = max_step(d, e);
        }
}

#ifdef POOL_X86
/* _mm*_max_ps(v, m) is exactly max_step(v, m): it returns its second operand unless v > m. */
POOL_AVX2 static void max2x2_avx2(const float *x, int64_t w, int64_t rows, int64_t ow, float *y)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    int64_t full = ow & ~(int64_t)7;
    for (int64_t o = 0; o < rows; o++, x += 2 * w, y += ow) {
        for (int64_t j = 0; j < full; j += 8) {
            const float *a = x + 2 * j, *b = a + w;
            __m256 t0 = _mm256_max_ps(_mm256_loadu_ps(b), _mm256_max_ps(_mm256_loadu_ps(a), ninf));
            __m256 t1 = _mm256_max_ps(_mm256_loadu_ps(b + 8),
                                      _mm256_max_ps(_mm256_loadu_ps(a + 8), ninf));
            /* evens and odds of t0:t1, per 128-bit lane; the permute puts them back in order */
            __m256 ev = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
            __m256 od = _mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
            __m256 m = _mm256_max_ps(od, ev);
            _mm256_storeu_ps(y + j, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                        _mm256_castps_pd(m), _MM_SHUFFLE(3, 1, 2, 0))));
        }
        if (full < ow) max2x2_c(x + 2 * full, w, 1, ow - full, y + full);
    }
}

#endif

#ifdef POOL_WASM
/* wasm_f32x4_pmax(m, v) is m < v ? v : m, exactly max_step(v, m) (a NaN in m stays). */
static void max2x2_wasm(const float *x, int64_t w, int64_t rows, int64_t ow, float *y)
{
    const v128_t ninf = wasm_f32x4_splat(-INFINITY);
    int64_t full = ow & ~(int64_t)3;
    for (int64_t o = 0; o < rows; o++, x += 2 * w, y += ow) {
        for (int64_t j = 0; j < full; j += 4) {
            const float *a = x + 2 * j, *b = a + w;
            v128_t t0 = wasm_f32x4_pmax(wasm_f32x4_pmax(ninf, wasm_v128_load(a)), wasm_v128_load(b));
            v128_t t1 = wasm_f32x4_pmax(wasm_f32x4_pmax(ninf, wasm_v128_load(a + 4)),
                                        wasm_v128_load(b + 4));
            v128_t ev = wasm_i32x4_shuffle(t0, t1, 0, 2, 4, 6);
            v128_t od = wasm_i32x4_shuffle(t0, t1, 1, 3, 5, 7);
            wasm_v128_store(y + j, wasm_f32x4_pmax(ev, od));
        }
        if (full < ow) max2x2_c(x + 2 * full, w, 1, ow - full, y + full);
    }
}
#endif

#ifdef POOL_X86
static __mmask16 lanes16(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

POOL_AVX512 static void max2x2_avx512(const float *x, int64_t w, int64_t rows, int64_t ow,
                                      float *y)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    /* the last block of a row (n outputs) loads only the 2n inputs it needs */
    int64_t last = (ow - 1) & ~(int64_t)15, n = ow - last;
    __mmask16 lm0 = lanes16(2 * n), lm1 = lanes16(2 * n - 16), lmy = lanes16(n);
    for (int64_t o = 0; o < rows; o++, x += 2 * w, y += ow)
        for (int64_t j = 0; j < ow; j += 16) {
            int tail = j == last;
            __mmask16 m0 = tail ? lm0 : 0xFFFF, m1 = tail ? lm1 : 0xFFFF;
            const float *a = x + 2 * j, *b = a + w;
            __m512 t0 = _mm512_max_ps(_mm512_maskz_loadu_ps(m0, b),
                                      _mm512_max_ps(_mm512_maskz_loadu_ps(m0, a), ninf));
            __m512 t1 = _mm512_max_ps(_mm512_maskz_loadu_ps(m1, b + 16),
                                      _mm512_max_ps(_mm512_maskz_loadu_ps(m1, a + 16), ninf));
            __m512 m = _mm512_max_ps(_mm512_permutex2var_ps(t0, od, t1),
                                     _mm512_permutex2var_ps(t0, ev, t1));
            _mm512_mask_storeu_ps(y + j, tail ? lmy : 0xFFFF, m);
        }
}
#endif

/* Geometry the fast path takes: 2-D (or lifted 1-D with a unit axis), a 2x2 window at stride 2,
 * no dilation, every window inside the input (so no padding that any window reaches). */
static int pool_is_2x2s2(const pool_geom *g)
{
    if (g->k[0] != 1 || g->s[0] != 1 || g->pb[0] || g->pe[0]) return 0;
    for (int a = 1; a < POOL_ND; a++)
        if (g->k[a] != 2 || g->s[a] != 2 || g->d[a] != 1 || g->pb[a] ||
            (g->out[a] - 1) * 2 + 2 > g->in[a])
            return 0;
    return 1;
}

static void maxpool2x2_f32(const pool_geom *g, const float *x, float *y)
{
    void (*pool)(const float *, int64_t, int64_t, int64_t, float *) = max2x2_c;
#ifdef POOL_X86
    if (__builtin_cpu_supports("avx512f")) pool = max2x2_avx512;
    else if (__builtin_cpu_supports("avx2")) pool = max2x2_avx2;
#endif
#ifdef POOL_WASM
    pool = max2x2_wasm;
#endif
    const int64_t W = g->in[2], OH = g->out[1], OW = g->out[2];
    for (int64_t p = 0; p < g->planes * g->in[0]; p++, x += g->in[1] * W, y += OH * OW)
        pool(x, W, OH, OW, y);
}

static ms_status maxpool_infer(ms_kctx *c)
{
    pool_geom g;
    ms_status st = pool_infer_common(c, &g);
    if (st != MS_OK) return st;
    ms_dtype dt = c->in[0]->dtype;
    if (dt != MS_DTYPE_FLOAT && dt != MS_DTYPE_DOUBLE && dt != MS_DTYPE_INT8 &&
        dt != MS_DTYPE_UINT8)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input type %s (takes float32, float64, int8, "
                        "uint8)", ms_dtype_name(dt));
    int64_t so = ms_attr_int(c->node, "storage_order", 0);
    if (so != 0 && so != 1) return ms_kfail(c, MS_ERR_INVALID, "storage_order must be 0 or 1");
    if (c->n_out > 2) return ms_kfail(c, MS_ERR_INVALID, "has at most 2 outputs");
    if (c->n_out > 1 && c->out[1])
        ms_tensor_set_shape(c->out[1], MS_DTYPE_INT64, c->out[0]->ndim, c->out[0]->shape);
    return MS_OK;
}

static ms_status maxpool_run(ms_kctx *c)
{
    pool_geom g;
    ms_status st = pool_geom_get(c, c->in[0], &g);
    if (st != MS_OK) return st;
    const void *x = c->in[0]->data;
    void *y = c->out[0]->data;
    int64_t *ind = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
    if (c->in[0]->dtype == MS_DTYPE_FLOAT && !ind && pool_is_2x2s2(&g)) {
        maxpool2x2_f32(&g, x, y);
        return MS_OK;
    }
    pool_tap *tab[POOL_ND];
    pool_tables(&g, c->scratch, tab);
    int cm = ms_attr_int(c->node, "storage_order", 0) == 1;
    switch (c->in[0]->dtype) {
    case MS_DTYPE_FLOAT:
        if (!ind) pool_rows_f32(&g, tab, x, y, -1);
        else maxpool_f32(&g, tab, x, y, ind, cm);
        break;
    case MS_DTYPE_DOUBLE: maxpool_f64(&g, tab, x, y, ind, cm); break;
    case MS_DTYPE_INT8: maxpool_i8(&g, tab, x, y, ind, cm); break;
    case MS_DTYPE_UINT8: maxpool_u8(&g, tab, x, y, ind, cm); break;
    default: return ms_kfail(c, MS_ERR_UNSUPPORTED, "input type");
    }
    return MS_OK;
}

/* ---- AveragePool and LpPool ------------------------------------------------------------ */

/* Sum-type pools: the average (divisor: taps in the input, or in the padded input with
 * count_include_pad) and the Lp norm of the window (padding contributes zeros). */
#define SUMPOOL_FN(NAME, T, ACC)                                                              \
    static void NAME(const pool_geom *g, pool_tap *const tab[POOL_ND], const T *x, T *y,     \
                     int mode, double pw)                                                    \
    {                                                                                        \
        const int64_t H = g->in[1], W = g->in[2], d2 = g->d[2];                              \
        for (int64_t p = 0; p < g->planes; p++, x += g->in_plane)                            \
            for (int64_t o0 = 0; o0 < g->out[0]; o0++) {                                     \
                const pool_tap *t0 = &tab[0][o0];                                            \
                for (int64_t o1 = 0; o1 < g->out[1]; o1++) {                                 \
                    const pool_tap *t1 = &tab[1][o1];                                        \
                    for (int64_t o2 = 0; o2 < g->out[2]; o2++) {                             \
                        const pool_tap *t2 = &tab[2][o2];                                    \
                        ACC acc = 0;                                                         \
                        for (int64_t k0 = t0->klo; k0 < t0->khi; k0++) {                     \
                            int64_t i0 = t0->start + k0 * g->d[0];                           \
                            for (int64_t k1 = t1->klo; k1 < t1->khi; k1++) {                 \
                                const T *row =                                               \
                                    x + (i0 * H + t1->start + k1 * g->d[1]) * W + t2->start; \
                                switch (mode) {                                              \
                                case POOL_LP1:                                               \
                                    for (int64_t k2 = t2->klo; k2 < t2->khi; k2++)           \
                                        acc += (ACC)fabs((double)row[k2 * d2]);              \
                                    break;                                                   \
                                case POOL_LP2:                                               \
                                    for (int64_t k2 = t2->klo; k2 < t2->khi; k2++)           \
                                        acc += (ACC)row[k2 * d2] * row[k2 * d2];             \
                                    break;                                                   \
                                case POOL_LPP:                                               \
                                    for (int64_t k2 = t2->klo; k2 < t2->khi; k2++)           \
                                        acc += (ACC)pow(fabs((double)row[k2 * d2]), pw);     \
                                    break;                                                   \
                                default:                                                     \
                                    for (int64_t k2 = t2->klo; k2 < t2->khi; k2++)           \
                                        acc += row[k2 * d2];                                 \
                                }                                                            \
                            }                                                                \
                        }                                                                    \
                        double r;                                                            \
                        if (mode == POOL_AVG)                                                \
                            r = (double)acc / (double)((t0->khi - t0->klo) *                 \
                                                       (t1->khi - t1->klo) *                 \
                                                       (t2->khi - t2->klo));                 \
                        else if (mode == POOL_AVG_PAD)                                       \
                            r = (double)acc / (double)(t0->npad * t1->npad * t2->npad);      \
                        else if (mode == POOL_LP1)                                           \
                            r = (double)acc;                                                 \
                        else if (mode == POOL_LP2)                                           \
                            r = sqrt((double)acc);                                           \
                        else                                                                 \
                            r = pow((double)acc, 1.0 / pw);                                  \
                        *y++ = (T)r;                                                         \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
    }

SUMPOOL_FN(sumpool_f32, float, float)
SUMPOOL_FN(sumpool_f64, double, double)

static ms_status float_only(ms_kctx *c)
{
    ms_dtype dt = c->in[0]->dtype;
    if (dt != MS_DTYPE_FLOAT && dt != MS_DTYPE_DOUBLE)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input type %s (takes float32 or float64)",
                        ms_dtype_name(dt));
    return MS_OK;
}

static ms_status avgpool_infer(ms_kctx *c)
{
    pool_geom g;
    ms_status st = pool_infer_common(c, &g);
    if (st != MS_OK) return st;
    int64_t cip = ms_attr_int(c->node, "count_include_pad", 0);
    if (cip != 0 && cip != 1) return ms_kfail(c, MS_ERR_INVALID, "count_include_pad must be 0 or 1");
    return float_only(c);
}

static ms_status sumpool_run(ms_kctx *c, int mode, double pw)
{
    pool_geom g;
    ms_status st = pool_geom_get(c, c->in[0], &g);
    if (st != MS_OK) return st;
    pool_tap *tab[POOL_ND];
    pool_tables(&g, c->scratch, tab);
    if (c->in[0]->dtype == MS_DTYPE_FLOAT && (mode == POOL_AVG || mode == POOL_AVG_PAD))
        pool_rows_f32(&g, tab, c->in[0]->data, c->out[0]->data, mode);
    else if (c->in[0]->dtype == MS_DTYPE_FLOAT)
        sumpool_f32(&g, tab, c->in[0]->data, c->out[0]->data, mode, pw);
    else
        sumpool_f64(&g, tab, c->in[0]->data, c->out[0]->data, mode, pw);
    return MS_OK;
}

static ms_status avgpool_run(ms_kctx *c)
{
    int cip = ms_attr_int(c->node, "count_include_pad", 0) == 1;
    return sumpool_run(c, cip ? POOL_AVG_PAD : POOL_AVG, 0);
}

static ms_status lppool_infer(ms_kctx *c)
{
    pool_geom g;
    ms_status st = pool_infer_common(c, &g);
    if (st != MS_OK) return st;
    if (ms_attr_int(c->node, "p", 2) < 1) return ms_kfail(c, MS_ERR_INVALID, "p must be >= 1");
    return float_only(c);
}

static ms_status lppool_run(ms_kctx *c)
{
    int64_t p = ms_attr_int(c->node, "p", 2);
    return sumpool_run(c, p == 1 ? POOL_LP1 : p == 2 ? POOL_LP2 : POOL_LPP, (double)p);
}

/* ---- GlobalAveragePool, GlobalMaxPool ------------------------------------------------- */

static ms_status global_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st != MS_OK) return st;
    const ms_tensor *x = c->in[0];
    if (x->ndim < 2)
        return ms_kfail(c, MS_ERR_INVALID, "input has rank %d; needs N x C x ...", (int)x->ndim);
    if ((st = float_only(c)) != MS_OK) return st;
    int64_t shape[MS_MAX_DIMS];
    int64_t plane = 1;
    for (int i = 0; i < x->ndim; i++) {
        shape[i] = i < 2 ? x->shape[i] : 1;
        if (i >= 2) plane *= x->shape[i];
    }
    if (plane == 0 && x->shape[0] * x->shape[1] > 0)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "empty spatial extent");
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, shape);
    return MS_OK;
}

static void global_dims(const ms_tensor *x, int64_t *planes, int64_t *plane)
{
    *planes = x->shape[0] * x->shape[1];
    *plane = 1;
    for (int i = 2; i < x->ndim; i++) *plane *= x->shape[i];
}

static ms_status gavg_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    int64_t planes, n;
    global_dims(x, &planes, &n);
    for (int64_t p = 0; p < planes; p++) {
        double acc = 0; /* double: global planes can be large */
        if (x->dtype == MS_DTYPE_FLOAT) {
            const float *v = (const float *)x->data + p * n;
            for (int64_t i = 0; i < n; i++) acc += v[i];
            ((float *)c->out[0]->data)[p] = (float)(acc / (double)n);
        } else {
            const double *v = (const double *)x->data + p * n;
            for (int64_t i = 0; i < n; i++) acc += v[i];
            ((double *)c->out[0]->data)[p] = acc / (double)n;
        }
    }
    return MS_OK;
}

static ms_status gmax_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    int64_t planes, n;
    global_dims(x, &planes, &n);
    for (int64_t p = 0; p < planes; p++) {
        if (x->dtype == MS_DTYPE_FLOAT) {
            const float *v = (const float *)x->data + p * n;
            float m = v[0];
            for (int64_t i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
            ((float *)c->out[0]->data)[p] = m;
        } else {
            const double *v = (const double *)x->data + p * n;
            double m = v[0];
            for (int64_t i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
            ((double *)c->out[0]->data)[p] = m;
        }
    }
    return MS_OK;
}

/* ---- MaxUnpool ------------------------------------------------------------------------- */

/* Indices address the tensor of the "inferred" shape, (in - 1) * stride - pads + kernel per
 * axis; with an output_shape input, that tensor sits at the origin of the (larger) output,
 * as in the reference. */
static ms_status unpool_shapes(ms_kctx *c, int64_t *inferred, int64_t *outshape)
{
    const ms_tensor *x = c->in[0];
    int nd = x->ndim - 2;
    if (nd < 1) return ms_kfail(c, MS_ERR_INVALID, "X has rank %d; needs N x C x D1 ...",
                                (int)x->ndim);
    int64_t k[MS_MAX_DIMS], s[MS_MAX_DIMS], pads[2 * MS_MAX_DIMS];
    for (int i = 0; i < nd; i++) { k[i] = -1; s[i] = 1; pads[i] = pads[nd + i] = 0; }
    ms_status st;
    if ((st = pool_ints(c, "kernel_shape", nd, k)) != MS_OK) return st;
    if ((st = pool_ints(c, "strides", nd, s)) != MS_OK) return st;
    if ((st = pool_ints(c, "pads", 2 * nd, pads)) != MS_OK) return st;
    inferred[0] = x->shape[0];
    inferred[1] = x->shape[1];
    for (int i = 0; i < nd; i++) {
        if (k[i] < 1 || s[i] < 1 || pads[i] < 0 || pads[nd + i] < 0)
            return ms_kfail(c, MS_ERR_INVALID, "kernel_shape, strides or pads out of range");
        inferred[2 + i] = (x->shape[2 + i] - 1) * s[i] - pads[i] - pads[nd + i] + k[i];
        if (inferred[2 + i] < 0)
            return ms_kfail(c, MS_ERR_INVALID, "pads exceed the unpooled size on axis %d", i);
    }
    memcpy(outshape, inferred, sizeof(int64_t) * (size_t)x->ndim);
    const ms_tensor *os = c->n_in > 2 ? c->in[2] : NULL;
    if (!os) return MS_OK;
    if (os->dtype != MS_DTYPE_INT64 || os->ndim != 1 || os->shape[0] != x->ndim)
        return ms_kfail(c, MS_ERR_INVALID, "output_shape must be an int64 vector of %d values",
                        (int)x->ndim);
    for (int i = 0; i < x->ndim; i++) {
        outshape[i] = ((const int64_t *)os->data)[i];
        if (i < 2 ? outshape[i] != inferred[i] : outshape[i] < inferred[i])
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "output_shape[%d] = %lld does not hold the "
                            "unpooled size %lld", i, (long long)outshape[i],
                            (long long)inferred[i]);
    }
    return MS_OK;
}

static ms_status unpool_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 3);
    if (st != MS_OK) return st;
    const ms_tensor *x = c->in[0], *ind = c->in[1];
    if (x->dtype == MS_DTYPE_STRING || ms_dtype_size(x->dtype) == 0)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input type %s", ms_dtype_name(x->dtype));
    if (ind->dtype != MS_DTYPE_INT64)
        return ms_kfail(c, MS_ERR_INVALID, "indices must be int64");
    if (ind->ndim != x->ndim || memcmp(ind->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim))
        return ms_kfail(c, MS_ERR_INVALID, "indices must have X's shape");
    int64_t inferred[MS_MAX_DIMS], outshape[MS_MAX_DIMS];
    if ((st = unpool_shapes(c, inferred, outshape)) != MS_OK) return st;
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, outshape);
    return MS_OK;
}

static ms_status unpool_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *ind = c->in[1];
    int64_t inferred[MS_MAX_DIMS], outshape[MS_MAX_DIMS];
    ms_status st = unpool_shapes(c, inferred, outshape);
    if (st != MS_OK) return st;
    int r = x->ndim;
    size_t es = ms_dtype_size(x->dtype);
    int64_t total_in = 1, total_out = 1;
    for (int i = 0; i < r; i++) { total_in *= inferred[i]; total_out *= outshape[i]; }
    memset(c->out[0]->data, 0, es * (size_t)total_out);
    int64_t nx = ms_tensor_numel(x);
    const int64_t *iv = ind->data;
    for (int64_t e = 0; e < nx; e++) {
        int64_t f = iv[e];
        if (f < 0 || f >= total_in)
            return ms_kfail(c, MS_ERR_INVALID, "index %lld is outside the unpooled tensor "
                            "(%lld elements)", (long long)f, (long long)total_in);
        /* row-major coordinates in the inferred shape, re-flattened in the output shape */
        int64_t o = 0, mul = 1;
        for (int i = r - 1; i >= 0; i--) {
            o += (f % inferred[i]) * mul;
            f /= inferred[i];
            mul *= outshape[i];
        }
        memcpy((char *)c->out[0]->data + (size_t)o * es, (const char *)x->data + (size_t)e * es,
               es);
    }
    return MS_OK;
}

/* ---- table ----------------------------------------------------------------------------- */

/* Versions: MaxPool 1/8 (Indices, storage_order)/10 (ceil_mode, dilations)/11/12 (int8,
 * uint8); AveragePool 1/7 (count_include_pad)/10 (ceil_mode)/11/19 (dilations); LpPool 2 (p
 * an int)/11/18 (ceil_mode, dilations); MaxUnpool 9/11. Later attributes are read at any
 * version since an earlier model cannot carry them. */
const ms_kernel ms_ops_pool[] = {
    {"", "MaxPool", 1, 21, maxpool_infer, maxpool_run, pool_prepare, pool_release},
    {"", "AveragePool", 1, 21, avgpool_infer, avgpool_run, pool_prepare, pool_release},
    {"", "LpPool", 2, 21, lppool_infer, lppool_run, pool_prepare, pool_release},
    {"", "GlobalAveragePool", 1, 21, global_infer, gavg_run, NULL, NULL},
    {"", "GlobalMaxPool", 1, 21, global_infer, gmax_run, NULL, NULL},
    {"", "MaxUnpool", 9, 21, unpool_infer, unpool_run, NULL, NULL},
    {0},
};
