/* ops_reduce.c: operators that reduce, rank or normalise along axes: the Reduce* family,
 * ArgMax/ArgMin, TopK, CumSum, Softmax/LogSoftmax/Hardmax and Einsum. */
#include "ms_op.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The highest ai.onnx opset these entries implement. Among these ops only the Reduce* family
 * changes at 18 (axes moves from attribute to input, as ReduceSum's did at 13), and
 * reduce_axes handles that; the others have not changed since their last version (13 or
 * earlier) up to 18. */
#define OPSET_MAX 18

/* ---- shared helpers --------------------------------------------------------------------- */

static int64_t dims_product(const int64_t *shape, int from, int to)
{
    int64_t n = 1;
    for (int d = from; d < to; d++) n *= shape[d];
    return n;
}

static bool is_float_type(ms_dtype t)
{
    return t == MS_DTYPE_FLOAT || t == MS_DTYPE_DOUBLE;
}

/* Store v into element i of a float32/float64 tensor. */
static void store_f64(ms_tensor *t, int64_t i, double v)
{
    if (t->dtype == MS_DTYPE_FLOAT) ((float *)t->data)[i] = (float)v;
    else ((double *)t->data)[i] = v;
}

/* Store v into element i of an integer tensor, wrapping to the element width as ONNX's
 * reference (numpy) does. */
static void store_u64(ms_tensor *t, int64_t i, uint64_t v)
{
    switch (t->dtype) {
    case MS_DTYPE_INT8: ((int8_t *)t->data)[i] = (int8_t)v; break;
    case MS_DTYPE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case MS_DTYPE_INT32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case MS_DTYPE_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
    case MS_DTYPE_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    case MS_DTYPE_UINT64: ((uint64_t *)t->data)[i] = v; break;
    default: break;
    }
}

/* Read a one-element integer tensor (a scalar or shape [1]) such as TopK's K or CumSum's
 * axis. */
static ms_status read_scalar_int(ms_kctx *c, int input, const char *what, int64_t *v)
{
    const ms_tensor *t = c->in[input];
    if ((t->dtype != MS_DTYPE_INT64 && t->dtype != MS_DTYPE_INT32) || t->ndim > 1 ||
        ms_tensor_numel(t) != 1)
        return ms_kfail(c, MS_ERR_INVALID, "%s must be one int32/int64 value, got a %s tensor "
                        "of %lld elements", what, ms_dtype_name(t->dtype),
                        (long long)ms_tensor_numel(t));
    *v = ms_tensor_get_i64(t, 0);
    return MS_OK;
}

/* ---- Reduce* ---------------------------------------------------------------------------- */

typedef enum reduce_op {
    RED_SUM, RED_MEAN, RED_MAX, RED_MIN, RED_PROD,
    RED_L1, RED_L2, RED_LOGSUMEXP, RED_SUMSQUARE, RED_LOGSUM,
} reduce_op;

static const char *const reduce_names[] = {
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
    "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "ReduceLogSum",
};

static reduce_op reduce_op_of(const ms_node *n)
{
    for (int i = 0; i < (int)(sizeof reduce_names / sizeof *reduce_names); i++)
        if (!strcmp(n->op_type, reduce_names[i])) return (reduce_op)i;
    return RED_SUM; /* not reached: only the table's Reduce* entries use these kernels */
}

/* How one reduction walks its input. Dimensions of size 1 are dropped and neighbouring
 * dimensions of the same kind merged, so a reduction over the last axes is one contiguous
 * run per output element. Kept dimensions stay in order: the output is row-major over them. */
typedef struct reduce_plan {
    bool noop;                        /* empty axes + noop_with_empty_axes: output = input */
    int nk, nr;                       /* kept and reduced (merged) dimensions */
    int64_t kdim[MS_MAX_DIMS], kstride[MS_MAX_DIMS];
    int64_t rdim[MS_MAX_DIMS], rstride[MS_MAX_DIMS];
    int64_t nout, nred;               /* output elements; input elements per output */
    int out_ndim;
    int64_t out_shape[MS_MAX_DIMS];
} reduce_plan;

/* Read the axes into an array. They are input 1 for ReduceSum from opset 13 and for every
 * Reduce* from 18, else the `axes` attribute. */
static ms_status reduce_read_axes(ms_kctx *c, reduce_op op, int64_t *axes, int *n, bool *noop)
{
    int rank = c->in[0] ? c->in[0]->ndim : 0;
    bool from_input = c->opset >= 18 || (op == RED_SUM && c->opset >= 13);
    ms_status st = ms_kcheck_ninputs(c, 1, from_input ? 2 : 1);
    if (st) return st;
    *n = 0;
    *noop = false;
    if (!from_input) {
        const int64_t *av;
        int cnt = ms_attr_ints(c->node, "axes", &av);
        if (cnt > rank)
            return ms_kfail(c, MS_ERR_INVALID, "%d axes for an input of rank %d", cnt, rank);
        for (int i = 0; i < cnt; i++) axes[i] = av[i];
        *n = cnt < 0 ? 0 : cnt;
        return MS_OK;
    }
    if (ms_attr_find(c->node, "axes"))
        return ms_kfail(c, MS_ERR_INVALID, "axes is an input at opset %d, not an attribute",
                        (int)c->opset);
    const ms_tensor *a = c->n_in > 1 ? c->in[1] : NULL;
    if (a) {
        if (a->dtype != MS_DTYPE_INT64 || a->ndim != 1)
            return ms_kfail(c, MS_ERR_INVALID, "axes must be a 1-D int64 tensor");
        if (a->shape[0] > rank)
            return ms_kfail(c, MS_ERR_INVALID, "%lld axes for an input of rank %d",
                            (long long)a->shape[0], rank);
        *n = (int)a->shape[0];
        for (int i = 0; i < *n; i++) axes[i] = ((const int64_t *)a->data)[i];
    }
    *noop = *n == 0 && ms_attr_int(c->node, "noop_with_empty_axes", 0) != 0;
    return MS_OK;
}

/* Fill the kept/reduced dimension lists, walking from the innermost dimension outwards so
 * each dimension can merge into the one just inside it. */
static void reduce_merge_dims(const ms_tensor *x, const bool *red, reduce_plan *p)
{
    int64_t kd[MS_MAX_DIMS], ks[MS_MAX_DIMS], rd[MS_MAX_DIMS], rs[MS_MAX_DIMS];
    int nk = 0, nr = 0, last = -1;
    int64_t stride = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int64_t n = x->shape[d];
        if (n != 1) {
            int kind = red[d] ? 1 : 0;
            int64_t *dim = kind ? rd : kd, *str = kind ? rs : ks;
            int *cnt = kind ? &nr : &nk;
            if (kind == last) {
                dim[*cnt - 1] *= n;
            } else {
                dim[*cnt] = n;
                str[*cnt] = stride;
                (*cnt)++;
            }
            last = kind;
        }
        stride *= n;
    }
    p->nk = nk;
    p->nr = nr;
    p->nout = p->nred = 1;
    for (int i = 0; i < nk; i++) {
        p->kdim[i] = kd[nk - 1 - i];
        p->kstride[i] = ks[nk - 1 - i];
        p->nout *= p->kdim[i];
    }
    for (int i = 0; i < nr; i++) {
        p->rdim[i] = rd[nr - 1 - i];
        p->rstride[i] = rs[nr - 1 - i];
        p->nred *= p->rdim[i];
    }
}

static ms_status reduce_make_plan(ms_kctx *c, reduce_op op, reduce_plan *p)
{
    int64_t axes[MS_MAX_DIMS];
    int n;
    ms_status st = reduce_read_axes(c, op, axes, &n, &p->noop);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    int rank = x->ndim;
    bool red[MS_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) {
        int d = ms_norm_axis(axes[i], rank);
        if (d < 0)
            return ms_kfail(c, MS_ERR_INVALID, "axis %lld is out of range for rank %d",
                            (long long)axes[i], rank);
        if (red[d]) return ms_kfail(c, MS_ERR_INVALID, "axis %lld is repeated",
                                    (long long)axes[i]);
        red[d] = true;
    }
    if (p->noop) n = 0;
    else if (n == 0)
        for (int d = 0; d < rank; d++) red[d] = true; /* no axes: reduce everything */
    bool keep = ms_attr_int(c->node, "keepdims", 1) != 0;
    p->out_ndim = 0;
    for (int d = 0; d < rank; d++) {
        if (!red[d]) p->out_shape[p->out_ndim++] = x->shape[d];
        else if (keep) p->out_shape[p->out_ndim++] = 1;
    }
    reduce_merge_dims(x, red, p);
    return MS_OK;
}

/* Integer inputs support the ops whose result is exact in integers. */
static bool reduce_int_ok(reduce_op op)
{
    return op == RED_SUM || op == RED_PROD || op == RED_MAX || op == RED_MIN ||
           op == RED_SUMSQUARE || op == RED_L1;
}

static ms_status reduce_infer(ms_kctx *c)
{
    reduce_op op = reduce_op_of(c->node);
    reduce_plan p;
    ms_status st = reduce_make_plan(c, op, &p);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    switch (x->dtype) {
    case MS_DTYPE_FLOAT: case MS_DTYPE_DOUBLE: break;
    case MS_DTYPE_INT8: case MS_DTYPE_UINT8: case MS_DTYPE_INT32: case MS_DTYPE_INT64:
        if (reduce_int_ok(op)) break;
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s input is not supported",
                        ms_dtype_name(x->dtype));
    default:
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s input is not supported",
                        ms_dtype_name(x->dtype));
    }
    if (p.noop) ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    else ms_tensor_set_shape(c->out[0], x->dtype, p.out_ndim, p.out_shape);
    /* run's workspace: the reduced elements' offsets, then their values as double/int64 */
    c->scratch_size = p.noop ? 0 : (size_t)p.nred * 16;
    return MS_OK;
}

/* Offsets (in elements, from an output element's base) of the elements it reduces. */
static void reduce_offsets(const reduce_plan *p, int64_t *off)
{
    int64_t idx[MS_MAX_DIMS] = {0}, o = 0;
    for (int64_t j = 0; j < p->nred; j++) {
        off[j] = o;
        for (int d = p->nr - 1; d >= 0; d--) {
            o += p->rstride[d];
            if (++idx[d] < p->rdim[d]) break;
            o -= p->rstride[d] * p->rdim[d];
            idx[d] = 0;
        }
    }
}

static void gather_f64(const ms_tensor *x, int64_t base, const int64_t *off, int64_t n,
                       double *v)
{
    if (x->dtype == MS_DTYPE_FLOAT) {
        const float *s = (const float *)x->data + base;
        for (int64_t j = 0; j < n; j++) v[j] = s[off[j]];
    } else {
        const double *s = (const double *)x->data + base;
        for (int64_t j = 0; j < n; j++) v[j] = s[off[j]];
    }
}

static void gather_i64(const ms_tensor *x, int64_t base, const int64_t *off, int64_t n,
                       int64_t *v)
{
    switch (x->dtype) {
    case MS_DTYPE_INT8: {
        const int8_t *s = (const int8_t *)x->data + base;
        for (int64_t j = 0; j < n; j++) v[j] = s[off[j]];
        break;
    }
    case MS_DTYPE_UINT8: {
        const uint8_t *s = (const uint8_t *)x->data + base;
        for (int64_t j = 0; j < n; j++) v[j] = s[off[j]];
        break;
    }
    case MS_DTYPE_INT32: {
        const int32_t *s = (const int32_t *)x->data + base;
        for (int64_t j = 0; j < n; j++) v[j] = s[off[j]];
        break;
    }
    default: {
        const int64_t *s = (const int64_t *)x->data + base;
        for (int64_t j = 0; j < n; j++) v[j] = s[off[j]];
        break;
    }
    }
}

/* Max or min, propagating NaN as numpy does: once acc is NaN no comparison replaces it. */
static double extreme_f64(const double *v, int64_t n, bool want_max)
{
    double acc = want_max ? -INFINITY : INFINITY;
    for (int64_t j = 0; j < n; j++)
        if ((want_max ? v[j] > acc : v[j] < acc) || v[j] != v[j]) acc = v[j];
    return acc;
}

static double reduce_f64(reduce_op op, const double *v, int64_t n)
{
    switch (op) {
    case RED_MAX: return extreme_f64(v, n, true);
    case RED_MIN: return extreme_f64(v, n, false);
    case RED_PROD: {
        double acc = 1;
        for (int64_t j = 0; j < n; j++) acc *= v[j];
        return acc;
    }
    case RED_LOGSUMEXP: {
        /* subtract the max so exp cannot overflow */
        double m = extreme_f64(v, n, true);
        if (isinf(m) || isnan(m)) return m;
        double s = 0;
        for (int64_t j = 0; j < n; j++) s += exp(v[j] - m);
        return m + log(s);
    }
    default: break;
    }
    double acc = 0;
    for (int64_t j = 0; j < n; j++) {
        double t = v[j];
        if (op == RED_L1) t = fabs(t);
        else if (op == RED_L2 || op == RED_SUMSQUARE) t *= t;
        acc += t;
    }
    switch (op) {
    case RED_MEAN: return acc / (double)n;
    case RED_L2: return sqrt(acc);
    case RED_LOGSUM: return log(acc);
    default: return acc;
    }
}

/* Integer reductions in uint64 so overflow wraps (defined) instead of being UB. */
static uint64_t reduce_i64(reduce_op op, const int64_t *v, int64_t n)
{
    if (op == RED_MAX || op == RED_MIN) {
        int64_t acc = op == RED_MAX ? INT64_MIN : INT64_MAX;
        for (int64_t j = 0; j < n; j++)
            if (op == RED_MAX ? v[j] > acc : v[j] < acc) acc = v[j];
        return (uint64_t)acc;
    }
    uint64_t acc = op == RED_PROD ? 1 : 0;
    for (int64_t j = 0; j < n; j++) {
        uint64_t t = (uint64_t)v[j];
        if (op == RED_PROD) acc *= t;
        else if (op == RED_SUMSQUARE) acc += t * t;
        else if (op == RED_L1) acc += v[j] < 0 ? 0 - t : t;
        else acc += t;
    }
    return acc;
}

static ms_status reduce_run(ms_kctx *c)
{
    reduce_op op = reduce_op_of(c->node);
    reduce_plan p;
    ms_status st = reduce_make_plan(c, op, &p);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    if (p.noop) {
        size_t bytes = (size_t)ms_tensor_numel(x) * ms_dtype_size(x->dtype);
        if (bytes) memcpy(y->data, x->data, bytes);
        return MS_OK;
    }
    if (p.nout == 0) return MS_OK;
    int64_t *off = c->scratch;
    void *vals = off + p.nred;
    reduce_offsets(&p, off);
    bool fl = is_float_type(x->dtype);
    int64_t idx[MS_MAX_DIMS] = {0}, base = 0;
    for (int64_t o = 0; o < p.nout; o++) {
        if (fl) {
            gather_f64(x, base, off, p.nred, vals);
            store_f64(y, o, reduce_f64(op, vals, p.nred));
        } else {
            gather_i64(x, base, off, p.nred, vals);
            store_u64(y, o, reduce_i64(op, vals, p.nred));
        }
        for (int d = p.nk - 1; d >= 0; d--) { /* next output element: step the odometer */
            base += p.kstride[d];
            if (++idx[d] < p.kdim[d]) break;
            base -= p.kstride[d] * p.kdim[d];
            idx[d] = 0;
        }
    }
    return MS_OK;
}

/* ---- ArgMax, ArgMin --------------------------------------------------------------------- */

/* Index of the max (min) of n elements `stride` apart; ties go to the first occurrence, or
 * the last with select_last_index. */
#define DEFINE_ARGEXT(T)                                                                    \
    static int64_t argext_##T(const T *p, int64_t n, int64_t stride, bool want_max,         \
                              bool last)                                                    \
    {                                                                                       \
        int64_t best = 0;                                                                   \
        for (int64_t j = 1; j < n; j++) {                                                   \
            T v = p[j * stride], b = p[best * stride];                                      \
            if ((want_max ? v > b : v < b) || (last && v == b)) best = j;                   \
        }                                                                                   \
        return best;                                                                        \
    }
DEFINE_ARGEXT(float)
DEFINE_ARGEXT(double)
DEFINE_ARGEXT(int8_t)
DEFINE_ARGEXT(uint8_t)
DEFINE_ARGEXT(int32_t)
DEFINE_ARGEXT(int64_t)

static int64_t argext(const ms_tensor *x, int64_t start, int64_t n, int64_t stride,
                      bool want_max, bool last)
{
    switch (x->dtype) {
    case MS_DTYPE_FLOAT:
        return argext_float((const float *)x->data + start, n, stride, want_max, last);
    case MS_DTYPE_DOUBLE:
        return argext_double((const double *)x->data + start, n, stride, want_max, last);
    case MS_DTYPE_INT8:
        return argext_int8_t((const int8_t *)x->data + start, n, stride, want_max, last);
    case MS_DTYPE_UINT8:
        return argext_uint8_t((const uint8_t *)x->data + start, n, stride, want_max, last);
    case MS_DTYPE_INT32:
        return argext_int32_t((const int32_t *)x->data + start, n, stride, want_max, last);
    default:
        return argext_int64_t((const int64_t *)x->data + start, n, stride, want_max, last);
    }
}

static ms_status arg_axis(ms_kctx *c, int *axis)
{
    const ms_tensor *x = c->in[0];
    int64_t a = ms_attr_int(c->node, "axis", 0);
    *axis = ms_norm_axis(a, x->ndim);
    if (*axis < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld is out of range for rank %d",
                        (long long)a, (int)x->ndim);
    return MS_OK;
}

static ms_status arg_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    switch (x->dtype) {
    case MS_DTYPE_FLOAT: case MS_DTYPE_DOUBLE: case MS_DTYPE_INT8: case MS_DTYPE_UINT8:
    case MS_DTYPE_INT32: case MS_DTYPE_INT64: break;
    default:
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s input is not supported",
                        ms_dtype_name(x->dtype));
    }
    int axis;
    if ((st = arg_axis(c, &axis))) return st;
    if (x->shape[axis] == 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %d is empty: no element to select", axis);
    int64_t shape[MS_MAX_DIMS];
    int nd = 0;
    bool keep = ms_attr_int(c->node, "keepdims", 1) != 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != axis) shape[nd++] = x->shape[d];
        else if (keep) shape[nd++] = 1;
    }
    ms_tensor_set_shape(c->out[0], MS_DTYPE_INT64, nd, shape);
    return MS_OK;
}

static ms_status arg_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    int axis;
    ms_status st = arg_axis(c, &axis);
    if (st) return st;
    bool want_max = !strcmp(c->node->op_type, "ArgMax");
    bool last = ms_attr_int(c->node, "select_last_index", 0) != 0;
    int64_t outer = dims_product(x->shape, 0, axis), len = x->shape[axis];
    int64_t inner = dims_product(x->shape, axis + 1, x->ndim);
    int64_t *y = c->out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            y[o * inner + i] = argext(x, o * len * inner + i, len, inner, want_max, last);
    return MS_OK;
}

/* ---- TopK ------------------------------------------------------------------------------- */

/* The row being ranked: its values as double (exact for float, double and int32) or as
 * int64. Indices are ranked by value, ties by lower index, so the order is total. */
typedef struct topk_row {
    const double *fv;
    const int64_t *iv;
    bool largest;
} topk_row;

static bool topk_before(const topk_row *r, int64_t a, int64_t b)
{
    if (r->iv) {
        if (r->iv[a] != r->iv[b]) return r->largest ? r->iv[a] > r->iv[b] : r->iv[a] < r->iv[b];
    } else if (r->fv[a] != r->fv[b]) {
        return r->largest ? r->fv[a] > r->fv[b] : r->fv[a] < r->fv[b];
    }
    return a < b;
}

static void topk_sift_down(const topk_row *r, int64_t *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, best = i;
        if (l < n && topk_before(r, h[l], h[best])) best = l;
        if (l + 1 < n && topk_before(r, h[l + 1], h[best])) best = l + 1;
        if (best == i) return;
        int64_t t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

static ms_status topk_params(ms_kctx *c, int *axis, int64_t *k)
{
    ms_status st = ms_kcheck_ninputs(c, c->opset >= 10 ? 2 : 1, c->opset >= 10 ? 2 : 1);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    if (c->opset >= 10) {
        if ((st = read_scalar_int(c, 1, "K", k))) return st;
    } else {
        if (!ms_attr_find(c->node, "k"))
            return ms_kfail(c, MS_ERR_INVALID, "attribute k is missing");
        *k = ms_attr_int(c->node, "k", 0);
    }
    int64_t a = ms_attr_int(c->node, "axis", -1);
    *axis = ms_norm_axis(a, x->ndim);
    if (*axis < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld is out of range for rank %d",
                        (long long)a, (int)x->ndim);
    if (*k < 0 || *k > x->shape[*axis])
        return ms_kfail(c, MS_ERR_INVALID, "k = %lld but the axis has %lld elements",
                        (long long)*k, (long long)x->shape[*axis]);
    return MS_OK;
}

static ms_status topk_infer(ms_kctx *c)
{
    int axis;
    int64_t k;
    ms_status st = topk_params(c, &axis, &k);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    switch (x->dtype) {
    case MS_DTYPE_FLOAT: case MS_DTYPE_DOUBLE: case MS_DTYPE_INT32: case MS_DTYPE_INT64: break;
    default:
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s input is not supported",
                        ms_dtype_name(x->dtype));
    }
    int64_t shape[MS_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[axis] = k;
    if (c->out[0]) ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, shape);
    if (c->n_out > 1 && c->out[1]) ms_tensor_set_shape(c->out[1], MS_DTYPE_INT64, x->ndim, shape);
    /* run's workspace: one row's values (8 bytes each) and its index heap */
    c->scratch_size = (size_t)x->shape[axis] * 16;
    return MS_OK;
}

/* Copy one row (n elements `stride` apart from `start`) into the ranking keys. */
static void topk_load_row(const ms_tensor *x, int64_t start, int64_t n, int64_t stride,
                          void *keys)
{
    for (int64_t j = 0; j < n; j++) {
        int64_t at = start + j * stride;
        if (x->dtype == MS_DTYPE_INT64) ((int64_t *)keys)[j] = ((const int64_t *)x->data)[at];
        else ((double *)keys)[j] = ms_tensor_get_f64(x, at);
    }
}

static ms_status topk_run(ms_kctx *c)
{
    int axis;
    int64_t k;
    ms_status st = topk_params(c, &axis, &k);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    ms_tensor *vals = c->out[0], *inds = c->n_out > 1 ? c->out[1] : NULL;
    size_t es = ms_dtype_size(x->dtype);
    int64_t outer = dims_product(x->shape, 0, axis), len = x->shape[axis];
    int64_t inner = dims_product(x->shape, axis + 1, x->ndim);
    if (k == 0 || outer * inner == 0) return MS_OK;
    void *keys = c->scratch;
    int64_t *heap = (int64_t *)c->scratch + len;
    topk_row r = {NULL, NULL, ms_attr_int(c->node, "largest", 1) != 0};
    if (x->dtype == MS_DTYPE_INT64) r.iv = keys;
    else r.fv = keys;
    /* `sorted` = 0 lets us return any order; sorted is one of them, so it is ignored */
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t start = o * len * inner + i;
            topk_load_row(x, start, len, inner, keys);
            for (int64_t j = 0; j < len; j++) heap[j] = j;
            for (int64_t j = len / 2 - 1; j >= 0; j--) topk_sift_down(&r, heap, len, j);
            int64_t n = len;
            for (int64_t t = 0; t < k; t++) {
                int64_t j = heap[0], at = (o * k + t) * inner + i;
                if (vals)
                    memcpy((char *)vals->data + (size_t)at * es,
                           (const char *)x->data + (size_t)(start + j * inner) * es, es);
                if (inds) ((int64_t *)inds->data)[at] = j;
                heap[0] = heap[--n];
                topk_sift_down(&r, heap, n, 0);
            }
        }
    }
    return MS_OK;
}

/* ---- CumSum ----------------------------------------------------------------------------- */

static ms_status cumsum_axis(ms_kctx *c, int *axis)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    if (st) return st;
    int64_t a;
    if ((st = read_scalar_int(c, 1, "axis", &a))) return st;
    *axis = ms_norm_axis(a, c->in[0]->ndim);
    if (*axis < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld is out of range for rank %d",
                        (long long)a, (int)c->in[0]->ndim);
    return MS_OK;
}

static ms_status cumsum_infer(ms_kctx *c)
{
    int axis;
    ms_status st = cumsum_axis(c, &axis);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    switch (x->dtype) {
    case MS_DTYPE_FLOAT: case MS_DTYPE_DOUBLE: case MS_DTYPE_INT32: case MS_DTYPE_INT64:
    case MS_DTYPE_UINT32: case MS_DTYPE_UINT64: break;
    default:
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s input is not supported",
                        ms_dtype_name(x->dtype));
    }
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    return MS_OK;
}

static ms_status cumsum_run(ms_kctx *c)
{
    int axis;
    ms_status st = cumsum_axis(c, &axis);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    bool exclusive = ms_attr_int(c->node, "exclusive", 0) != 0;
    bool reverse = ms_attr_int(c->node, "reverse", 0) != 0;
    bool fl = is_float_type(x->dtype);
    int64_t outer = dims_product(x->shape, 0, axis), len = x->shape[axis];
    int64_t inner = dims_product(x->shape, axis + 1, x->ndim);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            /* floats accumulate in double; integers in uint64, wrapping like numpy */
            double facc = 0;
            uint64_t iacc = 0;
            for (int64_t s = 0; s < len; s++) {
                int64_t j = reverse ? len - 1 - s : s;
                int64_t at = (o * len + j) * inner + i;
                double fv = fl ? ms_tensor_get_f64(x, at) : 0;
                uint64_t iv = fl ? 0 : (uint64_t)ms_tensor_get_i64(x, at);
                if (!exclusive) { facc += fv; iacc += iv; }
                if (fl) store_f64(y, at, facc);
                else store_u64(y, at, iacc);
                if (exclusive) { facc += fv; iacc += iv; }
            }
        }
    }
    return MS_OK;
}

/* ---- Softmax, LogSoftmax, Hardmax ------------------------------------------------------- */

enum { SM_SOFT, SM_LOG, SM_HARD };

/* One lane of n elements `s` apart. The max is subtracted before exp so large inputs cannot
 * overflow; Hardmax marks the first maximum. */
#define DEFINE_SOFTMAX(NAME, T, EXP)                                                         \
    static void NAME(const T *x, T *y, int64_t n, int64_t s, int kind)                       \
    {                                                                                        \
        int64_t arg = 0;                                                                     \
        for (int64_t j = 1; j < n; j++)                                                      \
            if (x[j * s] > x[arg * s]) arg = j;                                              \
        T m = x[arg * s];                                                                    \
        if (kind == SM_HARD) {                                                               \
            for (int64_t j = 0; j < n; j++) y[j * s] = j == arg ? 1 : 0;                     \
            return;                                                                          \
        }                                                                                    \
        double sum = 0;                                                                      \
        for (int64_t j = 0; j < n; j++) {                                                    \
            T e = EXP(x[j * s] - m);                                                         \
            if (kind == SM_SOFT) y[j * s] = e;                                               \
            sum += e;                                                                        \
        }                                                                                    \
        if (kind == SM_SOFT) {                                                               \
            T inv = (T)(1.0 / sum);                                                          \
            for (int64_t j = 0; j < n; j++) y[j * s] *= inv;                                 \
        } else {                                                                             \
            T ls = (T)log(sum);                                                              \
            for (int64_t j = 0; j < n; j++) y[j * s] = (x[j * s] - m) - ls;                  \
        }                                                                                    \
    }
DEFINE_SOFTMAX(softmax_lane_f32, float, expf)
DEFINE_SOFTMAX(softmax_lane_f64, double, exp)

/* Before opset 13 the input is seen as 2-D, [prod(shape[:axis]), prod(shape[axis:])], and
 * normalised over each row; from 13 along the one axis. */
static ms_status softmax_layout(ms_kctx *c, int64_t *outer, int64_t *len, int64_t *inner)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    int64_t a = ms_attr_int(c->node, "axis", c->opset >= 13 ? -1 : 1);
    int axis = ms_norm_axis(a, x->ndim);
    if (axis < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld is out of range for rank %d",
                        (long long)a, (int)x->ndim);
    *outer = dims_product(x->shape, 0, axis);
    if (c->opset >= 13) {
        *len = x->shape[axis];
        *inner = dims_product(x->shape, axis + 1, x->ndim);
    } else {
        *len = dims_product(x->shape, axis, x->ndim);
        *inner = 1;
    }
    return MS_OK;
}

static ms_status softmax_infer(ms_kctx *c)
{
    int64_t outer, len, inner;
    ms_status st = softmax_layout(c, &outer, &len, &inner);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    if (!is_float_type(x->dtype))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s input is not supported",
                        ms_dtype_name(x->dtype));
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    return MS_OK;
}

static ms_status softmax_run(ms_kctx *c)
{
    int64_t outer, len, inner;
    ms_status st = softmax_layout(c, &outer, &len, &inner);
    if (st) return st;
    const char *op = c->node->op_type;
    int kind = !strcmp(op, "Softmax") ? SM_SOFT : !strcmp(op, "LogSoftmax") ? SM_LOG : SM_HARD;
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    if (len == 0) return MS_OK;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t start = o * len * inner + i;
            if (x->dtype == MS_DTYPE_FLOAT)
                softmax_lane_f32((const float *)x->data + start, (float *)y->data + start, len,
                                 inner, kind);
            else
                softmax_lane_f64((const double *)x->data + start, (double *)y->data + start,
                                 len, inner, kind);
        }
    }
    return MS_OK;
}

/* ---- Einsum ----------------------------------------------------------------------------- */

/* Labels are numbered 0-25 for 'A'-'Z', 26-51 for 'a'-'z' and from 52 for the dimensions an
 * ellipsis stands for, right-aligned across inputs as numpy broadcasting aligns them. The
 * kernel is the plain definition: for each output element, sum over the other labels of the
 * product of the inputs. Correct for any equation, not fast for big contractions. */
#define EIN_MAX_IN 8
#define EIN_ELL 52
#define EIN_LABELS (EIN_ELL + MS_MAX_DIMS)

typedef struct einsum_plan {
    int nlab[EIN_MAX_IN];                 /* dimensions (labels) of each input */
    int lab[EIN_MAX_IN][MS_MAX_DIMS];     /* the label of each input dimension */
    int64_t size[EIN_LABELS];             /* extent of each label; -1 when unused */
    int n_out, out_lab[EIN_LABELS];       /* output labels in output order */
    int n_sum, sum_lab[EIN_LABELS];       /* labels summed over */
} einsum_plan;

static int einsum_letter(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return 26 + ch - 'a';
    return -1;
}

static bool einsum_is_ellipsis(const char *s, int i, int len)
{
    return i + 2 < len && s[i] == '.' && s[i + 1] == '.' && s[i + 2] == '.';
}

/* Letters in a term, or -1 if it has a character that is neither a letter nor part of one
 * "..."; *ell tells whether it has the ellipsis. */
static int einsum_count(const char *s, int len, bool *ell)
{
    int letters = 0;
    *ell = false;
    for (int i = 0; i < len; i++) {
        if (einsum_is_ellipsis(s, i, len) && !*ell) {
            *ell = true;
            i += 2;
        } else if (einsum_letter(s[i]) >= 0) {
            letters++;
        } else {
            return -1;
        }
    }
    return letters;
}

/* Label input k's dimensions from its term; ell_max is the widest ellipsis of all terms. */
static ms_status einsum_term(ms_kctx *c, einsum_plan *p, int k, const char *s, int len,
                             int ell_max)
{
    int rank = c->in[k]->ndim;
    bool ell;
    int letters = einsum_count(s, len, &ell);
    if (letters < 0) return ms_kfail(c, MS_ERR_INVALID, "bad term %d in the equation", k);
    int ell_rank = rank - letters;
    if (ell_rank < 0 || (!ell && ell_rank != 0))
        return ms_kfail(c, MS_ERR_INVALID, "equation term %d has %d labels but input %d has "
                        "rank %d", k, letters, k, rank);
    int d = 0;
    for (int i = 0; i < len; i++) {
        if (s[i] == '.') {
            for (int e = 0; e < ell_rank; e++)
                p->lab[k][d++] = EIN_ELL + ell_max - ell_rank + e;
            i += 2;
        } else {
            p->lab[k][d++] = einsum_letter(s[i]);
        }
    }
    p->nlab[k] = rank;
    for (d = 0; d < rank; d++) { /* letters must agree; ellipsis dimensions may broadcast */
        int l = p->lab[k][d];
        int64_t n = c->in[k]->shape[d];
        if (p->size[l] < 0 || (l >= EIN_ELL && p->size[l] == 1)) p->size[l] = n;
        else if (p->size[l] != n && !(l >= EIN_ELL && n == 1))
            return ms_kfail(c, MS_ERR_INVALID, "a label has extents %lld and %lld",
                            (long long)p->size[l], (long long)n);
    }
    return MS_OK;
}

/* The output labels: as written after "->", else numpy's implicit form (the ellipsis, then
 * the letters used exactly once, alphabetically). */
static ms_status einsum_output(ms_kctx *c, einsum_plan *p, const char *rhs, int rlen,
                               int ell_max, const int *count)
{
    bool ell_done = false;
    p->n_out = 0;
    if (!rhs) {
        for (int e = 0; e < ell_max; e++) p->out_lab[p->n_out++] = EIN_ELL + e;
        for (int l = 0; l < EIN_ELL; l++)
            if (count[l] == 1) p->out_lab[p->n_out++] = l;
        return MS_OK;
    }
    for (int i = 0; i < rlen; i++) {
        if (einsum_is_ellipsis(rhs, i, rlen) && !ell_done) {
            for (int e = 0; e < ell_max; e++) p->out_lab[p->n_out++] = EIN_ELL + e;
            ell_done = true;
            i += 2;
            continue;
        }
        int l = einsum_letter(rhs[i]);
        if (l < 0 || p->size[l] < 0)
            return ms_kfail(c, MS_ERR_INVALID, "output label '%c' is not an input label",
                            rhs[i]);
        for (int j = 0; j < p->n_out; j++)
            if (p->out_lab[j] == l)
                return ms_kfail(c, MS_ERR_INVALID, "output label '%c' is repeated", rhs[i]);
        p->out_lab[p->n_out++] = l;
    }
    return MS_OK;
}

static ms_status einsum_parse(ms_kctx *c, einsum_plan *p)
{
    const char *eq = ms_attr_string(c->node, "equation", NULL);
    if (!eq) return ms_kfail(c, MS_ERR_INVALID, "attribute equation is missing");
    if (c->n_in > EIN_MAX_IN)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "more than %d inputs", EIN_MAX_IN);
    ms_status st = ms_kcheck_ninputs(c, 1, EIN_MAX_IN);
    if (st) return st;
    char buf[256];
    int n = 0;
    for (const char *q = eq; *q; q++) {
        if (*q == ' ') continue;
        if (n == (int)sizeof buf - 1)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "equation longer than %d characters", n);
        buf[n++] = *q;
    }
    buf[n] = 0;
    const char *arrow = strstr(buf, "->");
    int lhs_len = arrow ? (int)(arrow - buf) : n;
    int start[EIN_MAX_IN], len[EIN_MAX_IN], nt = 0, from = 0;
    for (int i = 0; i <= lhs_len; i++) {
        if (i < lhs_len && buf[i] != ',') continue;
        if (nt == c->n_in) break;
        start[nt] = from;
        len[nt++] = i - from;
        from = i + 1;
    }
    if (nt != c->n_in || from <= lhs_len)
        return ms_kfail(c, MS_ERR_INVALID, "the equation's terms do not match the %d inputs",
                        (int)c->n_in);
    int ell_max = 0;
    for (int k = 0; k < nt; k++) {
        bool ell;
        int letters = einsum_count(buf + start[k], len[k], &ell);
        int r = c->in[k]->ndim - letters;
        if (ell && letters >= 0 && r > ell_max) ell_max = r;
    }
    for (int l = 0; l < EIN_LABELS; l++) p->size[l] = -1;
    int count[EIN_LABELS] = {0};
    for (int k = 0; k < nt; k++) {
        if ((st = einsum_term(c, p, k, buf + start[k], len[k], ell_max))) return st;
        for (int d = 0; d < p->nlab[k]; d++) count[p->lab[k][d]]++;
    }
    if ((st = einsum_output(c, p, arrow ? arrow + 2 : NULL, arrow ? n - lhs_len - 2 : 0,
                            ell_max, count)))
        return st;
    if (p->n_out > MS_MAX_DIMS)
        return ms_kfail(c, MS_ERR_INVALID, "the output has more than %d dimensions",
                        MS_MAX_DIMS);
    bool in_out[EIN_LABELS] = {0};
    for (int j = 0; j < p->n_out; j++) in_out[p->out_lab[j]] = true;
    p->n_sum = 0;
    for (int l = 0; l < EIN_LABELS; l++)
        if (p->size[l] >= 0 && !in_out[l]) p->sum_lab[p->n_sum++] = l;
    return MS_OK;
}

static ms_status einsum_infer(ms_kctx *c)
{
    einsum_plan p;
    ms_status st = einsum_parse(c, &p);
    if (st) return st;
    ms_dtype dt = c->in[0]->dtype;
    for (int k = 0; k < c->n_in; k++)
        if (!is_float_type(c->in[k]->dtype) || c->in[k]->dtype != dt)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "input %d is %s; this kernel takes float32 "
                            "or float64, all alike", k, ms_dtype_name(c->in[k]->dtype));
    int64_t shape[MS_MAX_DIMS];
    for (int j = 0; j < p.n_out; j++) shape[j] = p.size[p.out_lab[j]];
    ms_tensor_set_shape(c->out[0], dt, p.n_out, shape);
    return MS_OK;
}

/* Sum over the summed labels of the inputs' product, starting at offsets base[]. A label
 * repeated in one input (a diagonal) has the sum of its dimensions' strides. */
static double einsum_sum(ms_kctx *c, const einsum_plan *p,
                         const int64_t (*st)[EIN_LABELS], const int64_t *base)
{
    int64_t off[EIN_MAX_IN], idx[EIN_LABELS] = {0}, total = 1;
    for (int j = 0; j < p->n_sum; j++) total *= p->size[p->sum_lab[j]];
    for (int k = 0; k < c->n_in; k++) off[k] = base[k];
    bool f32 = c->in[0]->dtype == MS_DTYPE_FLOAT;
    double acc = 0;
    for (int64_t s = 0; s < total; s++) {
        double prod = 1;
        for (int k = 0; k < c->n_in; k++)
            prod *= f32 ? ((const float *)c->in[k]->data)[off[k]]
                        : ((const double *)c->in[k]->data)[off[k]];
        acc += prod;
        for (int j = p->n_sum - 1; j >= 0; j--) {
            int l = p->sum_lab[j];
            for (int k = 0; k < c->n_in; k++) off[k] += st[k][l];
            if (++idx[j] < p->size[l]) break;
            for (int k = 0; k < c->n_in; k++) off[k] -= st[k][l] * p->size[l];
            idx[j] = 0;
        }
    }
    return acc;
}

static ms_status einsum_run(ms_kctx *c)
{
    einsum_plan p;
    ms_status st = einsum_parse(c, &p);
    if (st) return st;
    int64_t strides[EIN_MAX_IN][EIN_LABELS];
    memset(strides, 0, sizeof strides);
    for (int k = 0; k < c->n_in; k++) {
        int64_t s = 1;
        for (int d = c->in[k]->ndim - 1; d >= 0; d--) {
            int l = p.lab[k][d];
            int64_t n = c->in[k]->shape[d];
            if (n == p.size[l]) strides[k][l] += s; /* else a broadcast 1: stride 0 */
            s *= n;
        }
    }
    int64_t nout = 1, idx[MS_MAX_DIMS] = {0};
    for (int j = 0; j < p.n_out; j++) nout *= p.size[p.out_lab[j]];
    for (int64_t o = 0; o < nout; o++) {
        int64_t base[EIN_MAX_IN];
        for (int k = 0; k < c->n_in; k++) {
            base[k] = 0;
            for (int j = 0; j < p.n_out; j++) base[k] += idx[j] * strides[k][p.out_lab[j]];
        }
        store_f64(c->out[0], o, einsum_sum(c, &p, (const int64_t (*)[EIN_LABELS])strides, base));
        for (int j = p.n_out - 1; j >= 0; j--) {
            if (++idx[j] < p.size[p.out_lab[j]]) break;
            idx[j] = 0;
        }
    }
    return MS_OK;
}

/* ---- NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ------------------------------- */

/* Both see their input as [N, C, D] (D = product of the trailing dimensions, 1 for [N, C])
 * and the target as [N, D]. The loss at (n, d) is -w[t] * logp[n, t, d] for class t =
 * target[n, d]; an ignore_index target has loss 0 and weight 0. "mean" divides the summed
 * loss by the summed weights. */
typedef enum loss_reduction { LOSS_NONE, LOSS_SUM, LOSS_MEAN } loss_reduction;

typedef struct loss_shape {
    int64_t n, cls, d;
    loss_reduction red;
} loss_shape;

static ms_status loss_check(ms_kctx *c, loss_shape *ls)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 3);
    if (st) return st;
    const ms_tensor *x = c->in[0], *t = c->in[1];
    const ms_tensor *w = c->n_in > 2 ? c->in[2] : NULL;
    if (!is_float_type(x->dtype))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s input is not supported",
                        ms_dtype_name(x->dtype));
    if (x->ndim < 2) return ms_kfail(c, MS_ERR_INVALID, "input must have rank >= 2");
    if (t->dtype != MS_DTYPE_INT64 && t->dtype != MS_DTYPE_INT32)
        return ms_kfail(c, MS_ERR_INVALID, "target must be int32 or int64");
    bool same = t->ndim == x->ndim - 1 && t->shape[0] == x->shape[0];
    for (int i = 1; same && i < t->ndim; i++) same = t->shape[i] == x->shape[i + 1];
    if (!same) return ms_kfail(c, MS_ERR_INVALID, "target shape does not match input shape");
    if (w && (w->dtype != x->dtype || w->ndim != 1 || w->shape[0] != x->shape[1]))
        return ms_kfail(c, MS_ERR_INVALID, "weight must be a 1-D %s tensor of C elements",
                        ms_dtype_name(x->dtype));
    const char *r = ms_attr_string(c->node, "reduction", "mean");
    if (!strcmp(r, "none")) ls->red = LOSS_NONE;
    else if (!strcmp(r, "sum")) ls->red = LOSS_SUM;
    else if (!strcmp(r, "mean")) ls->red = LOSS_MEAN;
    else return ms_kfail(c, MS_ERR_INVALID, "reduction '%s' is not none, sum or mean", r);
    ls->n = x->shape[0];
    ls->cls = x->shape[1];
    ls->d = dims_product(x->shape, 2, x->ndim);
    return MS_OK;
}

static ms_status loss_infer(ms_kctx *c)
{
    loss_shape ls;
    ms_status st = loss_check(c, &ls);
    if (st) return st;
    const ms_tensor *x = c->in[0], *t = c->in[1];
    if (ls.red == LOSS_NONE) ms_tensor_set_shape(c->out[0], x->dtype, t->ndim, t->shape);
    else ms_tensor_set_shape(c->out[0], x->dtype, 0, NULL);
    if (c->n_out > 1 && c->out[1]) ms_tensor_set_shape(c->out[1], x->dtype, x->ndim, x->shape);
    /* run's workspace: the log-probabilities as double */
    c->scratch_size = (size_t)ms_tensor_numel(x) * sizeof(double);
    return MS_OK;
}

/* Log-softmax over the class axis (stride D), max subtracted for stability. */
static void loss_log_softmax(const ms_tensor *x, const loss_shape *ls, double *lp)
{
    for (int64_t n = 0; n < ls->n; n++) {
        for (int64_t d = 0; d < ls->d; d++) {
            int64_t at = n * ls->cls * ls->d + d;
            double m = -INFINITY, sum = 0;
            for (int64_t k = 0; k < ls->cls; k++) {
                lp[at + k * ls->d] = ms_tensor_get_f64(x, at + k * ls->d);
                m = fmax(m, lp[at + k * ls->d]);
            }
            for (int64_t k = 0; k < ls->cls; k++) sum += exp(lp[at + k * ls->d] - m);
            double lse = log(sum);
            for (int64_t k = 0; k < ls->cls; k++) lp[at + k * ls->d] -= m + lse;
        }
    }
}

static ms_status loss_apply(ms_kctx *c, const loss_shape *ls, const double *lp)
{
    const ms_tensor *t = c->in[1], *w = c->n_in > 2 ? c->in[2] : NULL;
    bool has_ii = ms_attr_find(c->node, "ignore_index") != NULL;
    int64_t ii = ms_attr_int(c->node, "ignore_index", 0);
    double lsum = 0, wsum = 0;
    for (int64_t n = 0; n < ls->n; n++) {
        for (int64_t d = 0; d < ls->d; d++) {
            int64_t cls = ms_tensor_get_i64(t, n * ls->d + d);
            double wt = 0, loss = 0;
            if (!has_ii || cls != ii) {
                if (cls < 0 || cls >= ls->cls)
                    return ms_kfail(c, MS_ERR_INVALID, "target %lld is not a class in [0, %lld)",
                                    (long long)cls, (long long)ls->cls);
                wt = w ? ms_tensor_get_f64(w, cls) : 1;
                loss = -wt * lp[(n * ls->cls + cls) * ls->d + d];
            }
            if (ls->red == LOSS_NONE) store_f64(c->out[0], n * ls->d + d, loss);
            lsum += loss;
            wsum += wt;
        }
    }
    if (ls->red == LOSS_SUM) store_f64(c->out[0], 0, lsum);
    else if (ls->red == LOSS_MEAN) store_f64(c->out[0], 0, lsum / wsum);
    return MS_OK;
}

static ms_status nll_run(ms_kctx *c)
{
    loss_shape ls;
    ms_status st = loss_check(c, &ls);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    double *lp = c->scratch;
    int64_t total = ms_tensor_numel(x);
    for (int64_t i = 0; i < total; i++) lp[i] = ms_tensor_get_f64(x, i);
    return loss_apply(c, &ls, lp);
}

static ms_status sce_run(ms_kctx *c)
{
    loss_shape ls;
    ms_status st = loss_check(c, &ls);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    double *lp = c->scratch;
    loss_log_softmax(x, &ls, lp);
    if (c->n_out > 1 && c->out[1]) {
        int64_t total = ms_tensor_numel(x);
        for (int64_t i = 0; i < total; i++) store_f64(c->out[1], i, lp[i]);
    }
    return loss_apply(c, &ls, lp);
}

/* ---- table ------------------------------------------------------------------------------ */

#define REDUCE_ENTRY(name) {"", name, 1, OPSET_MAX, reduce_infer, reduce_run, NULL, NULL}

const ms_kernel ms_ops_reduce[] = {
    REDUCE_ENTRY("ReduceSum"),
    REDUCE_ENTRY("ReduceMean"),
    REDUCE_ENTRY("ReduceMax"),
    REDUCE_ENTRY("ReduceMin"),
    REDUCE_ENTRY("ReduceProd"),
    REDUCE_ENTRY("ReduceL1"),
    REDUCE_ENTRY("ReduceL2"),
    REDUCE_ENTRY("ReduceLogSumExp"),
    REDUCE_ENTRY("ReduceSumSquare"),
    REDUCE_ENTRY("ReduceLogSum"),
    {"", "ArgMax", 1, OPSET_MAX, arg_infer, arg_run, NULL, NULL},
    {"", "ArgMin", 1, OPSET_MAX, arg_infer, arg_run, NULL, NULL},
    {"", "TopK", 1, OPSET_MAX, topk_infer, topk_run, NULL, NULL},
    {"", "CumSum", 11, OPSET_MAX, cumsum_infer, cumsum_run, NULL, NULL},
    {"", "Softmax", 1, OPSET_MAX, softmax_infer, softmax_run, NULL, NULL},
    {"", "LogSoftmax", 1, OPSET_MAX, softmax_infer, softmax_run, NULL, NULL},
    {"", "Hardmax", 1, OPSET_MAX, softmax_infer, softmax_run, NULL, NULL},
    {"", "Einsum", 12, OPSET_MAX, einsum_infer, einsum_run, NULL, NULL},
    {"", "NegativeLogLikelihoodLoss", 12, OPSET_MAX, loss_infer, nll_run, NULL, NULL},
    {"", "SoftmaxCrossEntropyLoss", 12, OPSET_MAX, loss_infer, sce_run, NULL, NULL},
    {0},
};
