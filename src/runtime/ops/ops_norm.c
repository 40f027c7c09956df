/* ops_norm.c: normalisations: BatchNormalization (inference, and training_mode from opset 14),
 * InstanceNormalization, LayerNormalization, LpNormalization, MeanVarianceNormalization, LRN.
 *
 * Each takes float32 or float64 (LayerNormalization: float32) with every float input of one
 * type. Statistics are accumulated in double and variances are two-pass (mean first, then the
 * mean squared deviation), which never goes negative. */
#include "ms_op.h"

#include <math.h>
#include <string.h>

/* ---- shared helpers -------------------------------------------------------------------- */

/* MS_OK when input i is present and float32/float64 of the same type as input 0. */
static ms_status float_input(ms_kctx *c, int i)
{
    const ms_tensor *t = c->in[i];
    if (!t) return ms_kfail(c, MS_ERR_INVALID, "input %d is missing", i);
    if (t->dtype != MS_DTYPE_FLOAT && t->dtype != MS_DTYPE_DOUBLE)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input %d has type %s (takes float32 or float64)",
                        i, ms_dtype_name(t->dtype));
    if (t->dtype != c->in[0]->dtype)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input %d is %s but input 0 is %s; mixed types "
                        "are not supported", i, ms_dtype_name(t->dtype),
                        ms_dtype_name(c->in[0]->dtype));
    return MS_OK;
}

/* Element i of a float32/float64 tensor's data, and the store back. */
static inline double ld(const void *p, int dbl, int64_t i)
{
    return dbl ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static inline void st(void *p, int dbl, int64_t i, double v)
{
    if (dbl) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

static int64_t dims_prod(const int64_t *shape, int from, int to)
{
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= shape[i];
    return n;
}

/* Mean and population variance of n values at p (stride 1), two-pass. */
static void moments(const void *p, int dbl, int64_t off, int64_t n, double *mean, double *var)
{
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; i++) s += ld(p, dbl, off + i);
    double m = n ? s / (double)n : 0;
    for (int64_t i = 0; i < n; i++) {
        double d = ld(p, dbl, off + i) - m;
        q += d * d;
    }
    *mean = m;
    *var = n ? q / (double)n : 0;
}

/* ---- BatchNormalization ---------------------------------------------------------------- */

/* Versions: 1/6 (is_test, spatial), 7 (no is_test), 9 (no spatial), 14 (training_mode with
 * running-statistics outputs), 15 (scale/mean types may differ from X: we take one type).
 * Before 14 a training graph is one that asks for the extra outputs; we refuse those. */
typedef struct bn_mode {
    int training;   /* opset >= 14, training_mode = 1 */
    int per_act;    /* spatial = 0 (opset <= 8): parameters per activation, not per channel */
} bn_mode;

static ms_status bn_mode_get(ms_kctx *c, bn_mode *m)
{
    const ms_node *n = c->node;
    int extra = 0;
    for (int i = 1; i < c->n_out; i++) extra |= c->out[i] != NULL;
    m->training = 0;
    m->per_act = 0;
    if (c->opset < 7 && ms_attr_int(n, "is_test", 0) == 0)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "is_test=0 (training) is not supported");
    if (c->opset <= 8) {
        int64_t sp = ms_attr_int(n, "spatial", 1);
        if (sp != 0 && sp != 1) return ms_kfail(c, MS_ERR_INVALID, "spatial must be 0 or 1");
        m->per_act = sp == 0;
    }
    if (c->opset >= 14) {
        int64_t tm = ms_attr_int(n, "training_mode", 0);
        if (tm != 0 && tm != 1) return ms_kfail(c, MS_ERR_INVALID, "training_mode must be 0 or 1");
        m->training = tm == 1;
        if (c->n_out > 3) return ms_kfail(c, MS_ERR_INVALID, "has at most 3 outputs");
        if (!m->training && extra)
            return ms_kfail(c, MS_ERR_INVALID, "running_mean/running_var outputs need "
                            "training_mode=1");
    } else if (extra) {
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "training outputs (mean, var, saved_*) are not "
                        "supported before opset 14");
    }
    return MS_OK;
}

static ms_status bn_infer(ms_kctx *c)
{
    ms_status s = ms_kcheck_ninputs(c, 5, 5);
    if (s != MS_OK) return s;
    bn_mode m;
    if ((s = bn_mode_get(c, &m)) != MS_OK) return s;
    for (int i = 0; i < 5; i++)
        if ((s = float_input(c, i)) != MS_OK) return s;
    const ms_tensor *x = c->in[0];
    if (x->ndim < 2)
        return ms_kfail(c, MS_ERR_INVALID, "X has rank %d; needs N x C x ...", (int)x->ndim);
    int64_t want = m.per_act ? dims_prod(x->shape, 1, x->ndim) : x->shape[1];
    for (int i = 1; i < 5; i++)
        if (ms_tensor_numel(c->in[i]) != want || (!m.per_act && c->in[i]->ndim != 1))
            return ms_kfail(c, MS_ERR_INVALID, "input %d must hold %lld values (%s)", i,
                            (long long)want, m.per_act ? "C x D1 x ..., spatial=0" : "one per "
                            "channel");
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    for (int i = 1; i < c->n_out && i < 3; i++)
        if (c->out[i]) ms_tensor_set_shape(c->out[i], x->dtype, 1, &x->shape[1]);
    return MS_OK;
}

/* y = (x - mean) / sqrt(var + eps) * scale + bias over `len` values of one plane, as
 * y = x * a + b with a, b folded once per parameter. */
static void bn_apply_f32(const float *x, float *y, int64_t len, float a, float b)
{
    for (int64_t i = 0; i < len; i++) y[i] = x[i] * a + b;
}

static void bn_fold(const ms_kctx *c, int dbl, int64_t j, double eps, const double *mv,
                    double *a, double *b)
{
    double mean = mv ? mv[0] : ld(c->in[3]->data, dbl, j);
    double var = mv ? mv[1] : ld(c->in[4]->data, dbl, j);
    *a = ld(c->in[1]->data, dbl, j) / sqrt(var + eps);
    *b = ld(c->in[2]->data, dbl, j) - mean * *a;
}

/* Batch statistics of channel ch over N and the spatial axes (training mode). */
static void bn_batch_moments(const ms_tensor *x, int dbl, int64_t ch, double *mv)
{
    int64_t N = x->shape[0], C = x->shape[1], inner = dims_prod(x->shape, 2, x->ndim);
    double s = 0, q = 0, cnt = (double)(N * inner);
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < inner; i++) s += ld(x->data, dbl, (n * C + ch) * inner + i);
    double mean = cnt > 0 ? s / cnt : 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < inner; i++) {
            double d = ld(x->data, dbl, (n * C + ch) * inner + i) - mean;
            q += d * d;
        }
    mv[0] = mean;
    mv[1] = cnt > 0 ? q / cnt : 0;
}

static ms_status bn_run(ms_kctx *c)
{
    bn_mode m;
    ms_status s = bn_mode_get(c, &m);
    if (s != MS_OK) return s;
    const ms_tensor *x = c->in[0];
    int dbl = x->dtype == MS_DTYPE_DOUBLE;
    double eps = ms_attr_float(c->node, "epsilon", 1e-5f);
    int64_t N = x->shape[0], C = x->shape[1], inner = dims_prod(x->shape, 2, x->ndim);
    void *y = c->out[0]->data;
    if (m.per_act) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < C * inner; j++) {
                double a, b;
                bn_fold(c, dbl, j, eps, NULL, &a, &b);
                int64_t e = n * C * inner + j;
                st(y, dbl, e, ld(x->data, dbl, e) * a + b);
            }
        return MS_OK;
    }
    double mom = ms_attr_float(c->node, "momentum", 0.9f);
    for (int64_t ch = 0; ch < C; ch++) {
        double mv[2], a, b;
        if (m.training) {
            bn_batch_moments(x, dbl, ch, mv);
            /* running stats blend the given ones with the batch's (population variance) */
            for (int o = 1; o < 3 && o < c->n_out; o++)
                if (c->out[o])
                    st(c->out[o]->data, dbl, ch,
                       ld(c->in[2 + o]->data, dbl, ch) * mom + mv[o - 1] * (1 - mom));
        }
        bn_fold(c, dbl, ch, eps, m.training ? mv : NULL, &a, &b);
        for (int64_t n = 0; n < N; n++) {
            int64_t off = (n * C + ch) * inner;
            if (!dbl) {
                bn_apply_f32((const float *)x->data + off, (float *)y + off, inner, (float)a,
                             (float)b);
            } else {
                for (int64_t i = 0; i < inner; i++)
                    st(y, 1, off + i, ld(x->data, 1, off + i) * a + b);
            }
        }
    }
    return MS_OK;
}

/* ---- InstanceNormalization ------------------------------------------------------------- */

static ms_status in_infer(ms_kctx *c)
{
    ms_status s = ms_kcheck_ninputs(c, 3, 3);
    if (s != MS_OK) return s;
    for (int i = 0; i < 3; i++)
        if ((s = float_input(c, i)) != MS_OK) return s;
    const ms_tensor *x = c->in[0];
    if (x->ndim < 3)
        return ms_kfail(c, MS_ERR_INVALID, "input has rank %d; needs N x C x D1 ...",
                        (int)x->ndim);
    for (int i = 1; i < 3; i++)
        if (c->in[i]->ndim != 1 || c->in[i]->shape[0] != x->shape[1])
            return ms_kfail(c, MS_ERR_INVALID, "input %d must be a vector of C = %lld values",
                            i, (long long)x->shape[1]);
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    return MS_OK;
}

static ms_status in_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    int dbl = x->dtype == MS_DTYPE_DOUBLE;
    double eps = ms_attr_float(c->node, "epsilon", 1e-5f);
    int64_t C = x->shape[1], planes = x->shape[0] * C, inner = dims_prod(x->shape, 2, x->ndim);
    for (int64_t p = 0; p < planes; p++) {
        double mean, var;
        int64_t off = p * inner;
        moments(x->data, dbl, off, inner, &mean, &var);
        double a = ld(c->in[1]->data, dbl, p % C) / sqrt(var + eps);
        double b = ld(c->in[2]->data, dbl, p % C) - mean * a;
        for (int64_t i = 0; i < inner; i++)
            st(c->out[0]->data, dbl, off + i, ld(x->data, dbl, off + i) * a + b);
    }
    return MS_OK;
}

/* ---- LayerNormalization ---------------------------------------------------------------- */

/* Scale and B apply to the normalised trailing axes X.shape[axis:]; they may broadcast to it
 * (right-aligned, a 1 repeats), never beyond it. */
static ms_status ln_param(ms_kctx *c, int i, int axis)
{
    const ms_tensor *x = c->in[0], *p = c->in[i];
    ms_status s = ms_kcheck_dtype(c, i, MS_DTYPE_FLOAT);
    if (s != MS_OK) return s;
    int nr = x->ndim - axis;
    if (p->ndim > nr)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input %d has rank %d, more than the %d "
                        "normalised axes", i, (int)p->ndim, nr);
    for (int d = 0; d < p->ndim; d++) {
        int64_t want = x->shape[x->ndim - p->ndim + d];
        if (p->shape[d] != want && p->shape[d] != 1)
            return ms_kfail(c, MS_ERR_INVALID, "input %d does not broadcast to the normalised "
                            "shape", i);
    }
    return MS_OK;
}

static ms_status ln_axis(ms_kctx *c, int *axis)
{
    const ms_tensor *x = c->in[0];
    *axis = ms_norm_axis(ms_attr_int(c->node, "axis", -1), x->ndim);
    if (*axis < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld is out of range for rank %d",
                        (long long)ms_attr_int(c->node, "axis", -1), (int)x->ndim);
    return MS_OK;
}

static ms_status ln_infer(ms_kctx *c)
{
    ms_status s = ms_kcheck_ninputs(c, 2, 3);
    if (s != MS_OK) return s;
    if ((s = ms_kcheck_dtype(c, 0, MS_DTYPE_FLOAT)) != MS_OK) return s;
    if (ms_attr_int(c->node, "stash_type", 1) != 1)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "stash_type %lld (only 1, float32)",
                        (long long)ms_attr_int(c->node, "stash_type", 1));
    const ms_tensor *x = c->in[0];
    int axis;
    if ((s = ln_axis(c, &axis)) != MS_OK) return s;
    if ((s = ln_param(c, 1, axis)) != MS_OK) return s;
    if (c->n_in > 2 && c->in[2] && (s = ln_param(c, 2, axis)) != MS_OK) return s;
    if (c->n_out > 3) return ms_kfail(c, MS_ERR_INVALID, "has at most 3 outputs");
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    int64_t stat[MS_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) stat[d] = d < axis ? x->shape[d] : 1;
    for (int i = 1; i < c->n_out; i++)
        if (c->out[i]) ms_tensor_set_shape(c->out[i], MS_DTYPE_FLOAT, x->ndim, stat);
    return MS_OK;
}

/* Offsets of a broadcast parameter for each of the `inner` normalised positions, computed
 * on the fly: the odometer over X.shape[axis:] with the parameter's strides. */
typedef struct ln_iter {
    int nr;
    int64_t shape[MS_MAX_DIMS], strides[MS_MAX_DIMS], idx[MS_MAX_DIMS], off;
} ln_iter;

static void ln_iter_init(ln_iter *it, const ms_tensor *p, const ms_tensor *x, int axis)
{
    it->nr = x->ndim - axis;
    memcpy(it->shape, x->shape + axis, sizeof(int64_t) * (size_t)it->nr);
    ms_broadcast_strides(p, it->nr, it->shape, it->strides);
    memset(it->idx, 0, sizeof it->idx);
    it->off = 0;
}

static void ln_iter_next(ln_iter *it)
{
    for (int d = it->nr - 1; d >= 0; d--) {
        it->off += it->strides[d];
        if (++it->idx[d] < it->shape[d]) return;
        it->off -= it->strides[d] * it->shape[d];
        it->idx[d] = 0;
    }
}

static ms_status ln_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *sc = c->in[1];
    const ms_tensor *bs = c->n_in > 2 ? c->in[2] : NULL;
    int axis;
    ms_status s = ln_axis(c, &axis);
    if (s != MS_OK) return s;
    double eps = ms_attr_float(c->node, "epsilon", 1e-5f);
    int64_t outer = dims_prod(x->shape, 0, axis), inner = dims_prod(x->shape, axis, x->ndim);
    /* the common case, parameters of the full normalised shape, indexes them directly */
    int dense = ms_tensor_numel(sc) == inner && (!bs || ms_tensor_numel(bs) == inner);
    const float *sv = sc->data, *bv = bs ? bs->data : NULL;
    float *mo = c->n_out > 1 && c->out[1] ? c->out[1]->data : NULL;
    float *io = c->n_out > 2 && c->out[2] ? c->out[2]->data : NULL;
    for (int64_t r = 0; r < outer; r++) {
        const float *xr = (const float *)x->data + r * inner;
        float *yr = (float *)c->out[0]->data + r * inner;
        double mean, var;
        moments(xr, 0, 0, inner, &mean, &var);
        double inv = 1.0 / sqrt(var + eps);
        if (mo) mo[r] = (float)mean;
        if (io) io[r] = (float)inv;
        float fm = (float)mean, fi = (float)inv;
        if (dense) {
            for (int64_t i = 0; i < inner; i++)
                yr[i] = (xr[i] - fm) * fi * sv[i] + (bv ? bv[i] : 0.0f);
            continue;
        }
        ln_iter is, ib;
        ln_iter_init(&is, sc, x, axis);
        if (bs) ln_iter_init(&ib, bs, x, axis);
        for (int64_t i = 0; i < inner; i++) {
            yr[i] = (xr[i] - fm) * fi * sv[is.off] + (bv ? bv[ib.off] : 0.0f);
            ln_iter_next(&is);
            if (bs) ln_iter_next(&ib);
        }
    }
    return MS_OK;
}

/* ---- LpNormalization ------------------------------------------------------------------- */

static ms_status lpn_infer(ms_kctx *c)
{
    ms_status s = ms_kcheck_ninputs(c, 1, 1);
    if (s != MS_OK) return s;
    if ((s = float_input(c, 0)) != MS_OK) return s;
    const ms_tensor *x = c->in[0];
    int64_t p = ms_attr_int(c->node, "p", 2);
    if (p != 1 && p != 2) return ms_kfail(c, MS_ERR_INVALID, "p must be 1 or 2, got %lld",
                                          (long long)p);
    if (x->ndim < 1 || ms_norm_axis(ms_attr_int(c->node, "axis", -1), x->ndim) < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis is out of range");
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    return MS_OK;
}

/* A zero vector stays zero (the norm is 0; the reference would produce NaN from 0/0). */
static ms_status lpn_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    int dbl = x->dtype == MS_DTYPE_DOUBLE, p = (int)ms_attr_int(c->node, "p", 2);
    int axis = ms_norm_axis(ms_attr_int(c->node, "axis", -1), x->ndim);
    int64_t outer = dims_prod(x->shape, 0, axis), len = x->shape[axis];
    int64_t inner = dims_prod(x->shape, axis + 1, x->ndim);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i;
            double acc = 0;
            for (int64_t k = 0; k < len; k++) {
                double v = ld(x->data, dbl, base + k * inner);
                acc += p == 1 ? fabs(v) : v * v;
            }
            double norm = p == 1 ? acc : sqrt(acc);
            for (int64_t k = 0; k < len; k++) {
                int64_t e = base + k * inner;
                st(c->out[0]->data, dbl, e, norm > 0 ? ld(x->data, dbl, e) / norm : 0.0);
            }
        }
    return MS_OK;
}

/* ---- MeanVarianceNormalization --------------------------------------------------------- */

/* Y = (X - mean) / (sqrt(var) + 1e-9), statistics over `axes` (default [0, 2, 3]); this is
 * the op's function body. Opset 1 had different attributes and is not covered. */
static ms_status mvn_axes(ms_kctx *c, int *reduced)
{
    const ms_tensor *x = c->in[0];
    static const int64_t dflt[3] = {0, 2, 3};
    const int64_t *ax;
    int n = ms_attr_ints(c->node, "axes", &ax);
    if (n < 0) { ax = dflt; n = 3; }
    memset(reduced, 0, sizeof(int) * MS_MAX_DIMS);
    for (int i = 0; i < n; i++) {
        int a = ms_norm_axis(ax[i], x->ndim);
        if (a < 0 || reduced[a])
            return ms_kfail(c, MS_ERR_INVALID, "axes[%d] = %lld is out of range for rank %d or "
                            "repeated", i, (long long)ax[i], (int)x->ndim);
        reduced[a] = 1;
    }
    return MS_OK;
}

/* Strides of each axis in the space of kept positions (0 for reduced axes); returns the
 * number of kept positions. */
static int64_t mvn_kept(const ms_tensor *x, const int *reduced, int64_t *kstride)
{
    int64_t k = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        kstride[d] = reduced[d] ? 0 : k;
        if (!reduced[d]) k *= x->shape[d];
    }
    return k;
}

static ms_status mvn_infer(ms_kctx *c)
{
    ms_status s = ms_kcheck_ninputs(c, 1, 1);
    if (s != MS_OK) return s;
    if ((s = float_input(c, 0)) != MS_OK) return s;
    int reduced[MS_MAX_DIMS];
    if ((s = mvn_axes(c, reduced)) != MS_OK) return s;
    const ms_tensor *x = c->in[0];
    int64_t ks[MS_MAX_DIMS] = {0};
    c->scratch_size = 2 * sizeof(double) * (size_t)mvn_kept(x, reduced, ks);
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    return MS_OK;
}

/* Visit every element in row-major order with its kept-position index; pass 0 sums, pass 1
 * sums squared deviations, pass 2 writes Y. */
static void mvn_pass(const ms_tensor *x, void *y, const int64_t *ks, double *mean, double *m2,
                     int pass)
{
    int dbl = x->dtype == MS_DTYPE_DOUBLE;
    int64_t idx[MS_MAX_DIMS] = {0}, k = 0, n = ms_tensor_numel(x);
    for (int64_t e = 0; e < n; e++) {
        double v = ld(x->data, dbl, e);
        if (pass == 0) mean[k] += v;
        else if (pass == 1) m2[k] += (v - mean[k]) * (v - mean[k]);
        else st(y, dbl, e, (v - mean[k]) / (sqrt(m2[k]) + 1e-9));
        for (int d = x->ndim - 1; d >= 0; d--) {
            k += ks[d];
            if (++idx[d] < x->shape[d]) break;
            k -= ks[d] * x->shape[d];
            idx[d] = 0;
        }
    }
}

static ms_status mvn_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    int reduced[MS_MAX_DIMS];
    ms_status s = mvn_axes(c, reduced);
    if (s != MS_OK) return s;
    int64_t ks[MS_MAX_DIMS] = {0};
    int64_t kept = mvn_kept(x, reduced, ks), n = ms_tensor_numel(x);
    if (kept == 0 || n == 0) return MS_OK;
    double cnt = (double)(n / kept);
    double *mean = c->scratch, *m2 = mean + kept;
    memset(mean, 0, 2 * sizeof(double) * (size_t)kept);
    mvn_pass(x, NULL, ks, mean, m2, 0);
    for (int64_t k = 0; k < kept; k++) mean[k] /= cnt;
    mvn_pass(x, NULL, ks, mean, m2, 1);
    for (int64_t k = 0; k < kept; k++) m2[k] /= cnt; /* now the variance */
    mvn_pass(x, c->out[0]->data, ks, mean, m2, 2);
    return MS_OK;
}

/* ---- LRN ------------------------------------------------------------------------------- */

static ms_status lrn_infer(ms_kctx *c)
{
    ms_status s = ms_kcheck_ninputs(c, 1, 1);
    if (s != MS_OK) return s;
    if ((s = float_input(c, 0)) != MS_OK) return s;
    const ms_tensor *x = c->in[0];
    if (x->ndim < 2)
        return ms_kfail(c, MS_ERR_INVALID, "input has rank %d; needs N x C x ...", (int)x->ndim);
    if (ms_attr_int(c->node, "size", 0) < 1)
        return ms_kfail(c, MS_ERR_INVALID, "size is missing or not positive");
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    return MS_OK;
}

/* y[c] = x[c] / (bias + alpha / size * sum of x[c']^2)^beta over the channels
 * c' in [c - floor((size-1)/2), c + ceil((size-1)/2)]. Y first holds the sums. */
static ms_status lrn_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    int dbl = x->dtype == MS_DTYPE_DOUBLE;
    int64_t size = ms_attr_int(c->node, "size", 1);
    double alpha = ms_attr_float(c->node, "alpha", 1e-4f);
    double beta = ms_attr_float(c->node, "beta", 0.75f);
    double bias = ms_attr_float(c->node, "bias", 1.0f);
    int64_t N = x->shape[0], C = x->shape[1], inner = dims_prod(x->shape, 2, x->ndim);
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
    void *y = c->out[0]->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t yo = (n * C + ch) * inner;
            int64_t c0 = ch - lo < 0 ? 0 : ch - lo, c1 = ch + hi >= C ? C - 1 : ch + hi;
            for (int64_t i = 0; i < inner; i++) {
                double sum = 0;
                for (int64_t cc = c0; cc <= c1; cc++) {
                    double v = ld(x->data, dbl, (n * C + cc) * inner + i);
                    sum += v * v;
                }
                double v = ld(x->data, dbl, yo + i);
                st(y, dbl, yo + i, v / pow(bias + alpha / (double)size * sum, beta));
            }
        }
    return MS_OK;
}

/* ---- table ----------------------------------------------------------------------------- */

const ms_kernel ms_ops_norm[] = {
    {"", "BatchNormalization", 1, 21, bn_infer, bn_run, NULL, NULL},
    {"", "InstanceNormalization", 1, 21, in_infer, in_run, NULL, NULL},
    {"", "LayerNormalization", 17, 21, ln_infer, ln_run, NULL, NULL},
    {"", "LpNormalization", 1, 21, lpn_infer, lpn_run, NULL, NULL},
    {"", "MeanVarianceNormalization", 9, 21, mvn_infer, mvn_run, NULL, NULL},
    {"", "LRN", 1, 21, lrn_infer, lrn_run, NULL, NULL},
    {0},
};
