/* ops_shape.c: data-movement kernels (Reshape, Transpose, Slice, Concat, Pad, ...), constants,
 * Shape/Size and Cast. Everything that only moves elements works by element size, so one
 * kernel serves every fixed-size dtype; strings are refused. Gather/Scatter/Resize and other
 * index-driven kernels live in ops_gather.c. */
#include "ms_op.h"

#include <math.h>
#include <string.h>

/* A strided view may have twice the tensor rank (Tile interleaves repeat and data dims). */
#define VIEW_DIMS (2 * MS_MAX_DIMS)
/* Refuse shapes beyond this many elements: they come from data (Reshape, Expand, Range...),
 * and a product that overflows int64 must never reach the planner. */
#define MAX_NUMEL ((int64_t)1 << 48)

/* ---- helpers --------------------------------------------------------------------------- */

/* Product of dims, failing instead of overflowing. */
static ms_status checked_numel(ms_kctx *c, int nd, const int64_t *shape, int64_t *n)
{
    int64_t p = 1;
    for (int d = 0; d < nd; d++) {
        if (shape[d] < 0) return ms_kfail(c, MS_ERR_INVALID, "negative dimension %lld", (long long)shape[d]);
        if (shape[d] && p > MAX_NUMEL / shape[d])
            return ms_kfail(c, MS_ERR_INVALID, "output has too many elements");
        p *= shape[d];
    }
    *n = p;
    return MS_OK;
}

/* Read a 1-D (or scalar) int32/int64 tensor into v[0..*n). */
static ms_status read_ints(ms_kctx *c, const ms_tensor *t, const char *what, int max, int64_t *v,
                           int *n)
{
    if (t->dtype != MS_DTYPE_INT64 && t->dtype != MS_DTYPE_INT32)
        return ms_kfail(c, MS_ERR_INVALID, "%s must be int64 or int32, not %s", what,
                        ms_dtype_name(t->dtype));
    if (t->ndim > 1) return ms_kfail(c, MS_ERR_INVALID, "%s must be 1-D", what);
    int64_t cnt = ms_tensor_numel(t);
    if (cnt > max)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s has %lld entries; at most %d are supported",
                        what, (long long)cnt, max);
    for (int64_t i = 0; i < cnt; i++) v[i] = ms_tensor_get_i64(t, i);
    *n = (int)cnt;
    return MS_OK;
}

/* Integer list from an attribute (opset < since_input) or from input `input` (opset >=).
 * *n = -1 when absent. */
static ms_status ints_attr_or_input(ms_kctx *c, const char *name, int since_input, int input,
                                    int max, int64_t *v, int *n)
{
    *n = -1;
    if (c->opset < since_input) {
        const int64_t *a;
        int cnt = ms_attr_ints(c->node, name, &a);
        if (cnt < 0) return MS_OK;
        if (cnt > max)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s has %d entries; at most %d are supported",
                            name, cnt, max);
        if (cnt) memcpy(v, a, sizeof *v * (size_t)cnt);
        *n = cnt;
        return MS_OK;
    }
    const ms_tensor *t = ms_kin(c, input);
    if (!t) return MS_OK;
    return read_ints(c, t, name, max, v, n);
}

static void row_strides(int nd, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        st[d] = s;
        s *= shape[d];
    }
}

/* Copy n elements of es bytes, source stepping by `stride` elements (may be 0 or negative).
 * The fixed-size memcpy calls compile to single loads and stores. */
static void copy_row(uint8_t *dst, const uint8_t *src, size_t es, int64_t n, int64_t stride)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * es);
        return;
    }
    int64_t step = stride * (int64_t)es;
    switch (es) {
    case 1: for (int64_t i = 0; i < n; i++) dst[i] = src[i * step]; break;
    case 2: for (int64_t i = 0; i < n; i++) memcpy(dst + 2 * i, src + i * step, 2); break;
    case 4: for (int64_t i = 0; i < n; i++) memcpy(dst + 4 * i, src + i * step, 4); break;
    case 8: for (int64_t i = 0; i < n; i++) memcpy(dst + 8 * i, src + i * step, 8); break;
    default: for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * es, src + i * step, es);
    }
}

/* Write the view (shape, element strides st, base src) densely into dst, row-major. Every
 * index the view reaches must lie inside the source: callers guarantee it. */
static void copy_strided(void *dst, const void *src, size_t es, int nd, const int64_t *shape,
                         const int64_t *st)
{
    for (int d = 0; d < nd; d++)
        if (shape[d] == 0) return;
    uint8_t *o = dst;
    const uint8_t *s = src;
    if (nd == 0) {
        memcpy(o, s, es);
        return;
    }
    int64_t idx[VIEW_DIMS] = {0};
    int64_t inner = shape[nd - 1], off = 0;
    for (;;) {
        copy_row(o, s + off * (int64_t)es, es, inner, st[nd - 1]);
        o += (size_t)inner * es;
        int d = nd - 2;
        for (; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < shape[d]) break;
            off -= st[d] * shape[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

/* Shared run for kernels whose output is the input's bytes under a new shape. */
static ms_status copy_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    size_t n = (size_t)ms_tensor_numel(x) * ms_dtype_size(x->dtype);
    if (n) memcpy(c->out[0]->data, x->data, n);
    return MS_OK;
}

/* Numeric element access across dtypes, for Cast and for kernels that write a value given as
 * a number (Pad's value, EyeLike's ones). Float-to-integer conversions never hit C's
 * undefined behaviour: NaN and out-of-range values become INT64_MIN (INT32_MIN for int32),
 * what x86 and so numpy produce; narrower types wrap from the int64 value. */
static bool is_numeric(ms_dtype t)
{
    switch (t) {
    case MS_DTYPE_FLOAT: case MS_DTYPE_DOUBLE: case MS_DTYPE_BOOL:
    case MS_DTYPE_INT8: case MS_DTYPE_INT16: case MS_DTYPE_INT32: case MS_DTYPE_INT64:
    case MS_DTYPE_UINT8: case MS_DTYPE_UINT16: case MS_DTYPE_UINT32: case MS_DTYPE_UINT64:
        return true;
    default:
        return false;
    }
}

static int64_t f64_to_i64(double v)
{
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return INT64_MIN;
    return (int64_t)v;
}

static void put_i64(void *p, ms_dtype t, int64_t i, int64_t v)
{
    switch (t) {
    case MS_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case MS_DTYPE_DOUBLE: ((double *)p)[i] = (double)v; break;
    case MS_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case MS_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case MS_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case MS_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case MS_DTYPE_INT64: ((int64_t *)p)[i] = v; break;
    case MS_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case MS_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case MS_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case MS_DTYPE_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: break;
    }
}

static void put_u64(void *p, ms_dtype t, int64_t i, uint64_t v)
{
    switch (t) {
    case MS_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case MS_DTYPE_DOUBLE: ((double *)p)[i] = (double)v; break;
    case MS_DTYPE_UINT64: ((uint64_t *)p)[i] = v; break;
    default: put_i64(p, t, i, (int64_t)v);
    }
}

static void put_f64(void *p, ms_dtype t, int64_t i, double v)
{
    switch (t) {
    case MS_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case MS_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
    case MS_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break; /* NaN is true, as in numpy */
    case MS_DTYPE_UINT64:
        if (v >= 0 && v < 18446744073709551616.0) ((uint64_t *)p)[i] = (uint64_t)v;
        else ((uint64_t *)p)[i] = (uint64_t)f64_to_i64(v);
        break;
    case MS_DTYPE_INT32: /* out of range gives INT32_MIN, as x86 (and so numpy) does */
        ((int32_t *)p)[i] = v >= -2147483648.0 && v < 2147483648.0 ? (int32_t)v : INT32_MIN;
        break;
    default: put_i64(p, t, i, f64_to_i64(v));
    }
}

/* Element i of src converted into element i of dst; both dtypes numeric. */
static void convert_elems(void *dst, ms_dtype dt, const ms_tensor *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        switch (src->dtype) {
        case MS_DTYPE_FLOAT: case MS_DTYPE_DOUBLE:
            put_f64(dst, dt, i, ms_tensor_get_f64(src, i));
            break;
        case MS_DTYPE_UINT64:
            put_u64(dst, dt, i, ((const uint64_t *)src->data)[i]);
            break;
        default:
            put_i64(dst, dt, i, ms_tensor_get_i64(src, i));
        }
    }
}

/* Fill n elements of es bytes at dst with the pattern `val`. */
static void fill_pattern(void *dst, const void *val, size_t es, int64_t n)
{
    uint8_t *o = dst;
    bool zero = true;
    for (size_t b = 0; b < es; b++) zero = zero && !((const uint8_t *)val)[b];
    if (zero) {
        memset(o, 0, (size_t)n * es);
        return;
    }
    for (int64_t i = 0; i < n; i++) memcpy(o + (size_t)i * es, val, es);
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze, Identity -------------------------------------- */

static ms_status reshape_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0], *s = c->in[1];
    if (s->dtype != MS_DTYPE_INT64 || s->ndim != 1)
        return ms_kfail(c, MS_ERR_INVALID, "shape must be a 1-D int64 tensor");
    if (s->shape[0] > MS_MAX_DIMS)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "rank %lld exceeds %d", (long long)s->shape[0],
                        MS_MAX_DIMS);
    int nd = (int)s->shape[0];
    bool allowzero = c->opset >= 14 && ms_attr_int(c->node, "allowzero", 0) != 0;
    int64_t shape[MS_MAX_DIMS];
    int infer_at = -1;
    for (int i = 0; i < nd; i++) {
        int64_t v = ((const int64_t *)s->data)[i];
        if (v == 0 && !allowzero) {
            if (i >= x->ndim)
                return ms_kfail(c, MS_ERR_INVALID, "shape[%d] is 0 (copy) but the input has rank %d",
                                i, (int)x->ndim);
            v = x->shape[i];
        }
        if (v == -1) {
            if (infer_at >= 0) return ms_kfail(c, MS_ERR_INVALID, "shape has more than one -1");
            infer_at = i;
            v = 1;
        } else if (v < 0) {
            return ms_kfail(c, MS_ERR_INVALID, "shape[%d] is %lld", i, (long long)v);
        }
        shape[i] = v;
    }
    int64_t known, total = ms_tensor_numel(x);
    if ((st = checked_numel(c, nd, shape, &known))) return st;
    if (infer_at >= 0) {
        if (known == 0 || total % known)
            return ms_kfail(c, MS_ERR_INVALID, "cannot infer the -1 dimension: %lld elements "
                            "into blocks of %lld", (long long)total, (long long)known);
        shape[infer_at] = total / known;
    } else if (known != total) {
        return ms_kfail(c, MS_ERR_INVALID, "cannot reshape %lld elements into %lld",
                        (long long)total, (long long)known);
    }
    ms_tensor_set_shape(c->out[0], x->dtype, nd, shape);
    return MS_OK;
}

static ms_status flatten_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0];
    int64_t axis = ms_attr_int(c->node, "axis", 1);
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis > x->ndim)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld out of range for rank %d",
                        (long long)ms_attr_int(c->node, "axis", 1), (int)x->ndim);
    int64_t shape[2] = {1, 1};
    for (int d = 0; d < x->ndim; d++) shape[d >= axis] *= x->shape[d];
    ms_tensor_set_shape(c->out[0], x->dtype, 2, shape);
    return MS_OK;
}

static ms_status squeeze_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0];
    int64_t axes[MS_MAX_DIMS];
    int n;
    if ((st = ints_attr_or_input(c, "axes", 13, 1, MS_MAX_DIMS, axes, &n))) return st;
    bool drop[MS_MAX_DIMS] = {false};
    if (n < 0) {
        for (int d = 0; d < x->ndim; d++) drop[d] = x->shape[d] == 1;
    }
    for (int i = 0; i < n; i++) {
        int a = ms_norm_axis(axes[i], x->ndim);
        if (a < 0)
            return ms_kfail(c, MS_ERR_INVALID, "axis %lld out of range for rank %d",
                            (long long)axes[i], (int)x->ndim);
        if (x->shape[a] != 1)
            return ms_kfail(c, MS_ERR_INVALID, "cannot squeeze axis %d of size %lld", a,
                            (long long)x->shape[a]);
        drop[a] = true;
    }
    int64_t shape[MS_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++)
        if (!drop[d]) shape[nd++] = x->shape[d];
    ms_tensor_set_shape(c->out[0], x->dtype, nd, shape);
    return MS_OK;
}

static ms_status unsqueeze_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0];
    int64_t axes[MS_MAX_DIMS];
    int n;
    if ((st = ints_attr_or_input(c, "axes", 13, 1, MS_MAX_DIMS, axes, &n))) return st;
    if (n < 0) return ms_kfail(c, MS_ERR_INVALID, "axes are required");
    int nd = x->ndim + n;
    if (nd > MS_MAX_DIMS)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "rank %d exceeds %d", nd, MS_MAX_DIMS);
    bool ins[MS_MAX_DIMS] = {false};
    for (int i = 0; i < n; i++) {
        int a = ms_norm_axis(axes[i], nd);
        if (a < 0 || ins[a])
            return ms_kfail(c, MS_ERR_INVALID, "axis %lld is out of range or repeated",
                            (long long)axes[i]);
        ins[a] = true;
    }
    int64_t shape[MS_MAX_DIMS];
    for (int d = 0, j = 0; d < nd; d++) shape[d] = ins[d] ? 1 : x->shape[j++];
    ms_tensor_set_shape(c->out[0], x->dtype, nd, shape);
    return MS_OK;
}

static ms_status identity_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    ms_tensor_set_shape(c->out[0], c->in[0]->dtype, c->in[0]->ndim, c->in[0]->shape);
    return MS_OK;
}

/* ---- Dropout (inference) ---------------------------------------------------------------- */

/* Inference is the identity. Training mode with a nonzero ratio is random: refused. */
static ms_status dropout_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, c->opset >= 12 ? 3 : 1);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0];
    const ms_tensor *ratio = ms_kin(c, 1), *train = ms_kin(c, 2);
    if (train) {
        if (train->dtype != MS_DTYPE_BOOL || ms_tensor_numel(train) != 1)
            return ms_kfail(c, MS_ERR_INVALID, "training_mode must be a bool scalar");
        double r = 0.5;
        if (ratio) {
            if (ms_tensor_numel(ratio) != 1 || !is_numeric(ratio->dtype))
                return ms_kfail(c, MS_ERR_INVALID, "ratio must be a scalar");
            r = ms_tensor_get_f64(ratio, 0);
        }
        if (ms_tensor_get_i64(train, 0) && r != 0)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "training mode (random dropout) is not supported");
    }
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    if (c->n_out > 1 && c->out[1]) {
        /* Dropout 7-9 typed the mask like the data; 10 made it bool */
        ms_dtype mt = c->opset >= 10 ? MS_DTYPE_BOOL : x->dtype;
        if (!is_numeric(mt))
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "mask of type %s", ms_dtype_name(mt));
        ms_tensor_set_shape(c->out[1], mt, x->ndim, x->shape);
    }
    return MS_OK;
}

static ms_status dropout_run(ms_kctx *c)
{
    copy_run(c);
    if (c->n_out > 1 && c->out[1]) {
        ms_tensor *m = c->out[1];
        int64_t n = ms_tensor_numel(m);
        for (int64_t i = 0; i < n; i++) put_i64(m->data, m->dtype, i, 1);
    }
    return MS_OK;
}

/* ---- Transpose -------------------------------------------------------------------------- */

static ms_status transpose_perm(ms_kctx *c, int64_t *perm)
{
    const ms_tensor *x = c->in[0];
    const int64_t *p;
    int n = ms_attr_ints(c->node, "perm", &p);
    if (n < 0) {
        for (int d = 0; d < x->ndim; d++) perm[d] = x->ndim - 1 - d;
        return MS_OK;
    }
    if (n != x->ndim)
        return ms_kfail(c, MS_ERR_INVALID, "perm has %d entries for rank %d", n, (int)x->ndim);
    bool seen[MS_MAX_DIMS] = {false};
    for (int d = 0; d < n; d++) {
        if (p[d] < 0 || p[d] >= n || seen[p[d]])
            return ms_kfail(c, MS_ERR_INVALID, "perm is not a permutation of 0..%d", n - 1);
        seen[p[d]] = true;
        perm[d] = p[d];
    }
    return MS_OK;
}

static ms_status transpose_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0];
    int64_t perm[MS_MAX_DIMS], shape[MS_MAX_DIMS];
    if ((st = transpose_perm(c, perm))) return st;
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[perm[d]];
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, shape);
    return MS_OK;
}

static ms_status transpose_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    int64_t perm[MS_MAX_DIMS], in_st[MS_MAX_DIMS], st[MS_MAX_DIMS];
    ms_status s = transpose_perm(c, perm);
    if (s) return s;
    row_strides(x->ndim, x->shape, in_st);
    for (int d = 0; d < x->ndim; d++) st[d] = in_st[perm[d]];
    copy_strided(c->out[0]->data, x->data, ms_dtype_size(x->dtype), x->ndim, c->out[0]->shape, st);
    return MS_OK;
}

/* ---- Concat ----------------------------------------------------------------------------- */

static ms_status concat_infer(ms_kctx *c)
{
    ms_status st = ms_kneed_out(c, 0);
    if (st) return st;
    if (c->n_in < 1) return ms_kfail(c, MS_ERR_INVALID, "needs at least one input");
    for (int i = 0; i < c->n_in; i++)
        if (!c->in[i]) return ms_kfail(c, MS_ERR_INVALID, "input %d is missing", i);
    const ms_tensor *x = c->in[0];
    size_t es;
    if ((st = ms_kelem_size(c, x->dtype, &es))) return st;
    const ms_attr *aa = ms_attr_find(c->node, "axis");
    if ((!aa && c->opset >= 4) || (aa && aa->type != MS_ATTR_INT))
        return ms_kfail(c, MS_ERR_INVALID, "attribute axis (an int) is required");
    int64_t axis_attr = ms_attr_int(c->node, "axis", 1); /* the same read as run's */
    int axis = ms_norm_axis(axis_attr, x->ndim);
    if (axis < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld out of range for rank %d",
                        (long long)axis_attr, (int)x->ndim);
    int64_t shape[MS_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[axis] = 0;
    for (int i = 0; i < c->n_in; i++) {
        const ms_tensor *t = c->in[i];
        if (t->dtype != x->dtype || t->ndim != x->ndim)
            return ms_kfail(c, MS_ERR_INVALID, "input %d differs in type or rank from input 0", i);
        for (int d = 0; d < x->ndim; d++)
            if (d != axis && t->shape[d] != x->shape[d])
                return ms_kfail(c, MS_ERR_INVALID, "input %d has dimension %d = %lld, expected %lld",
                                i, d, (long long)t->shape[d], (long long)x->shape[d]);
        shape[axis] += t->shape[axis];
    }
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, shape);
    return MS_OK;
}

static ms_status concat_run(ms_kctx *c)
{
    ms_tensor *y = c->out[0];
    int axis = ms_norm_axis(ms_attr_int(c->node, "axis", 1), y->ndim);
    size_t es = ms_dtype_size(y->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->shape[d];
    for (int d = axis + 1; d < y->ndim; d++) inner *= y->shape[d];
    uint8_t *o = y->data;
    for (int64_t k = 0; k < outer; k++) {
        for (int i = 0; i < c->n_in; i++) {
            size_t blk = (size_t)(c->in[i]->shape[axis] * inner) * es;
            if (!blk) continue;
            memcpy(o, (const uint8_t *)c->in[i]->data + (size_t)k * blk, blk);
            o += blk;
        }
    }
    return MS_OK;
}

/* ---- Split ------------------------------------------------------------------------------ */

/* Part sizes along the axis: from `split` (attribute before 13, input since), else
 * num_outputs (18) with a smaller last part, else equal parts. */
static ms_status split_sizes(ms_kctx *c, int *axis_out, int64_t *sizes)
{
    const ms_tensor *x = c->in[0];
    int64_t axis_attr = ms_attr_int(c->node, "axis", 0);
    int axis = ms_norm_axis(axis_attr, x->ndim);
    if (axis < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld out of range for rank %d",
                        (long long)axis_attr, (int)x->ndim);
    int n;
    ms_status st = ints_attr_or_input(c, "split", 13, 1, MS_MAX_IO, sizes, &n);
    if (st) return st;
    int64_t dim = x->shape[axis];
    int no = c->n_out;
    if (n >= 0) {
        if (n != no)
            return ms_kfail(c, MS_ERR_INVALID, "split has %d entries for %d outputs", n, no);
        int64_t sum = 0;
        for (int i = 0; i < n; i++) {
            if (sizes[i] < 0) return ms_kfail(c, MS_ERR_INVALID, "negative split size");
            sum += sizes[i];
        }
        if (sum != dim)
            return ms_kfail(c, MS_ERR_INVALID, "split sizes add to %lld, dimension is %lld",
                            (long long)sum, (long long)dim);
    } else if (c->opset >= 18 && ms_attr_find(c->node, "num_outputs")) {
        if (ms_attr_int(c->node, "num_outputs", 0) != no)
            return ms_kfail(c, MS_ERR_INVALID, "num_outputs differs from the output count");
        int64_t part = (dim + no - 1) / no;
        if (part * (no - 1) > dim)
            return ms_kfail(c, MS_ERR_INVALID, "cannot split %lld into %d parts", (long long)dim, no);
        for (int i = 0; i < no; i++) sizes[i] = i < no - 1 ? part : dim - part * (no - 1);
    } else {
        if (dim % no)
            return ms_kfail(c, MS_ERR_INVALID, "dimension %lld does not split into %d equal parts",
                            (long long)dim, no);
        for (int i = 0; i < no; i++) sizes[i] = dim / no;
    }
    *axis_out = axis;
    return MS_OK;
}

static ms_status split_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es))) return st;
    if (c->n_out < 1 || c->n_out > MS_MAX_IO) return ms_kfail(c, MS_ERR_INVALID, "bad output count");
    int axis;
    int64_t sizes[MS_MAX_IO];
    if ((st = split_sizes(c, &axis, sizes))) return st;
    const ms_tensor *x = c->in[0];
    for (int i = 0; i < c->n_out; i++) {
        if (!c->out[i]) continue;
        ms_tensor_set_shape(c->out[i], x->dtype, x->ndim, x->shape);
        c->out[i]->shape[axis] = sizes[i];
    }
    return MS_OK;
}

static ms_status split_run(ms_kctx *c)
{
    int axis;
    int64_t sizes[MS_MAX_IO];
    ms_status st = split_sizes(c, &axis, sizes);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    size_t es = ms_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    size_t row = (size_t)(x->shape[axis] * inner) * es, start = 0;
    for (int i = 0; i < c->n_out; i++) {
        size_t blk = (size_t)(sizes[i] * inner) * es;
        if (c->out[i] && blk)
            for (int64_t k = 0; k < outer; k++)
                memcpy((uint8_t *)c->out[i]->data + (size_t)k * blk,
                       (const uint8_t *)x->data + (size_t)k * row + start, blk);
        start += blk;
    }
    return MS_OK;
}

/* ---- Slice ------------------------------------------------------------------------------ */

typedef struct view {
    int nd;
    int64_t shape[VIEW_DIMS];
    int64_t st[VIEW_DIMS]; /* source element strides */
    int64_t off;           /* source element offset of the first element */
} view;

/* starts/ends/axes/steps: attributes before opset 10, inputs since. Clamping follows the
 * spec: for a positive step start and end clamp to [0, dim]; for a negative one start clamps
 * to [0, dim-1] and end to [-1, dim-1]. */
static ms_status slice_plan(ms_kctx *c, view *v)
{
    const ms_tensor *x = c->in[0];
    int r = x->ndim;
    int64_t starts[MS_MAX_DIMS], ends[MS_MAX_DIMS], axes[MS_MAX_DIMS], steps[MS_MAX_DIMS];
    int ns, ne, na = -1, nst = -1;
    ms_status st;
    if (c->opset < 10) {
        if ((st = ints_attr_or_input(c, "starts", 99, 0, MS_MAX_DIMS, starts, &ns)) ||
            (st = ints_attr_or_input(c, "ends", 99, 0, MS_MAX_DIMS, ends, &ne)) ||
            (st = ints_attr_or_input(c, "axes", 99, 0, MS_MAX_DIMS, axes, &na)))
            return st;
    } else {
        if ((st = ints_attr_or_input(c, "starts", 0, 1, MS_MAX_DIMS, starts, &ns)) ||
            (st = ints_attr_or_input(c, "ends", 0, 2, MS_MAX_DIMS, ends, &ne)) ||
            (st = ints_attr_or_input(c, "axes", 0, 3, MS_MAX_DIMS, axes, &na)) ||
            (st = ints_attr_or_input(c, "steps", 0, 4, MS_MAX_DIMS, steps, &nst)))
            return st;
    }
    if (ns < 0 || ne < 0) return ms_kfail(c, MS_ERR_INVALID, "starts and ends are required");
    if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return ms_kfail(c, MS_ERR_INVALID, "starts, ends, axes and steps differ in length");
    row_strides(r, x->shape, v->st);
    v->nd = r;
    v->off = 0;
    memcpy(v->shape, x->shape, sizeof(int64_t) * (size_t)r);
    bool seen[MS_MAX_DIMS] = {false};
    int64_t first[MS_MAX_DIMS] = {0};
    for (int i = 0; i < ns; i++) {
        int64_t a_raw = na >= 0 ? axes[i] : i;
        int a = ms_norm_axis(a_raw, r);
        if (a < 0 || seen[a])
            return ms_kfail(c, MS_ERR_INVALID, "axis %lld is out of range or repeated",
                            (long long)a_raw);
        seen[a] = true;
        int64_t step = nst >= 0 ? steps[i] : 1, dim = x->shape[a];
        if (step == 0) return ms_kfail(c, MS_ERR_INVALID, "step is 0");
        int64_t s = starts[i], e = ends[i], cnt = 0;
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            if (e > s) cnt = (e - s - 1) / step + 1;
        } else if (dim > 0) {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            int64_t mag = step == INT64_MIN ? INT64_MAX : -step;
            if (s > e) cnt = (s - e - 1) / mag + 1;
        }
        v->shape[a] = cnt;
        first[a] = cnt ? s : 0;
        /* a step spanning the whole axis gives one element; its stride is unused */
        v->st[a] = cnt > 1 ? v->st[a] * step : 0;
    }
    int64_t in_st[MS_MAX_DIMS];
    row_strides(r, x->shape, in_st);
    for (int d = 0; d < r; d++) v->off += first[d] * in_st[d];
    return MS_OK;
}

static ms_status slice_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, c->opset < 10 ? 1 : 3, c->opset < 10 ? 1 : 5);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    view v;
    if ((st = slice_plan(c, &v))) return st;
    ms_tensor_set_shape(c->out[0], c->in[0]->dtype, v.nd, v.shape);
    return MS_OK;
}

static ms_status slice_run(ms_kctx *c)
{
    view v;
    ms_status st = slice_plan(c, &v);
    if (st) return st;
    ms_tensor *y = c->out[0];
    if (memcmp(v.shape, y->shape, sizeof(int64_t) * (size_t)v.nd))
        return ms_kfail(c, MS_ERR_INVALID, "slice bounds changed since planning");
    size_t es = ms_dtype_size(y->dtype);
    copy_strided(y->data, (const uint8_t *)c->in[0]->data + v.off * (int64_t)es, es, v.nd,
                 v.shape, v.st);
    return MS_OK;
}

/* ---- Expand, Tile ----------------------------------------------------------------------- */

static ms_status expand_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0], *s = c->in[1];
    int64_t want[MS_MAX_DIMS];
    int n;
    if (s->dtype != MS_DTYPE_INT64) return ms_kfail(c, MS_ERR_INVALID, "shape must be int64");
    if ((st = read_ints(c, s, "shape", MS_MAX_DIMS, want, &n))) return st;
    int nd = n > x->ndim ? n : x->ndim;
    int64_t shape[MS_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int xd = d - (nd - x->ndim), sd = d - (nd - n);
        int64_t a = xd >= 0 ? x->shape[xd] : 1, b = sd >= 0 ? want[sd] : 1;
        if (b < 0) return ms_kfail(c, MS_ERR_INVALID, "shape has a negative entry");
        if (a == b || b == 1) shape[d] = a;
        else if (a == 1) shape[d] = b;
        else
            return ms_kfail(c, MS_ERR_INVALID, "cannot expand dimension of size %lld to %lld",
                            (long long)a, (long long)b);
    }
    int64_t total;
    if ((st = checked_numel(c, nd, shape, &total))) return st;
    ms_tensor_set_shape(c->out[0], x->dtype, nd, shape);
    return MS_OK;
}

static ms_status expand_run(ms_kctx *c)
{
    ms_tensor *y = c->out[0];
    int64_t st[MS_MAX_DIMS];
    ms_broadcast_strides(c->in[0], y->ndim, y->shape, st);
    copy_strided(y->data, c->in[0]->data, ms_dtype_size(y->dtype), y->ndim, y->shape, st);
    return MS_OK;
}

static ms_status tile_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0];
    int64_t rep[MS_MAX_DIMS], shape[MS_MAX_DIMS];
    int n;
    if ((st = read_ints(c, c->in[1], "repeats", MS_MAX_DIMS, rep, &n))) return st;
    if (n != x->ndim)
        return ms_kfail(c, MS_ERR_INVALID, "repeats has %d entries for rank %d", n, (int)x->ndim);
    for (int d = 0; d < n; d++) {
        if (rep[d] < 0) return ms_kfail(c, MS_ERR_INVALID, "negative repeat");
        if (rep[d] && x->shape[d] > MAX_NUMEL / rep[d])
            return ms_kfail(c, MS_ERR_INVALID, "output has too many elements");
        shape[d] = x->shape[d] * rep[d];
    }
    int64_t total;
    if ((st = checked_numel(c, n, shape, &total))) return st;
    ms_tensor_set_shape(c->out[0], x->dtype, n, shape);
    return MS_OK;
}

/* The output seen as [rep0, x0, rep1, x1, ...] with stride 0 on the repeat dims. */
static ms_status tile_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    int64_t in_st[MS_MAX_DIMS], shape[VIEW_DIMS], st[VIEW_DIMS];
    row_strides(x->ndim, x->shape, in_st);
    for (int d = 0; d < x->ndim; d++) {
        shape[2 * d] = x->shape[d] ? y->shape[d] / x->shape[d] : 0;
        st[2 * d] = 0;
        shape[2 * d + 1] = x->shape[d];
        st[2 * d + 1] = in_st[d];
    }
    copy_strided(y->data, x->data, ms_dtype_size(x->dtype), 2 * x->ndim, shape, st);
    return MS_OK;
}

/* ---- Pad -------------------------------------------------------------------------------- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

typedef struct pad_plan {
    int mode;
    int64_t begin[MS_MAX_DIMS];
    uint8_t value[16]; /* the constant, in the data's type */
} pad_plan;

static ms_status pad_parse(ms_kctx *c, pad_plan *p, bool set_shape)
{
    const ms_tensor *x = c->in[0];
    int r = x->ndim;
    const char *mode = ms_attr_string(c->node, "mode", "constant");
    if (!strcmp(mode, "constant")) p->mode = PAD_CONSTANT;
    else if (!strcmp(mode, "reflect")) p->mode = PAD_REFLECT;
    else if (!strcmp(mode, "edge")) p->mode = PAD_EDGE;
    else if (!strcmp(mode, "wrap")) return ms_kfail(c, MS_ERR_UNSUPPORTED, "mode 'wrap'");
    else return ms_kfail(c, MS_ERR_INVALID, "unknown mode '%s'", mode);

    int64_t pads[2 * MS_MAX_DIMS], axes[MS_MAX_DIMS];
    int np, na = -1;
    ms_status st = ints_attr_or_input(c, "pads", 11, 1, 2 * MS_MAX_DIMS, pads, &np);
    if (st) return st;
    if (np < 0) return ms_kfail(c, MS_ERR_INVALID, "pads are required");
    if (c->opset >= 18 && (st = ints_attr_or_input(c, "axes", 18, 3, MS_MAX_DIMS, axes, &na)))
        return st;
    int nax = na >= 0 ? na : r;
    if (np != 2 * nax)
        return ms_kfail(c, MS_ERR_INVALID, "pads has %d entries; expected %d", np, 2 * nax);
    int64_t end[MS_MAX_DIMS];
    for (int d = 0; d < r; d++) p->begin[d] = end[d] = 0;
    for (int i = 0; i < nax; i++) {
        int a = ms_norm_axis(na >= 0 ? axes[i] : i, r);
        if (a < 0) return ms_kfail(c, MS_ERR_INVALID, "axis out of range");
        p->begin[a] = pads[i];
        end[a] = pads[nax + i];
    }
    int64_t shape[MS_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        shape[d] = x->shape[d] + p->begin[d] + end[d];
        if (shape[d] < 0 || p->begin[d] < -x->shape[d] || end[d] < -x->shape[d])
            return ms_kfail(c, MS_ERR_INVALID, "pads remove more than dimension %d holds", d);
        if (p->mode != PAD_CONSTANT && x->shape[d] == 0 && shape[d] > 0)
            return ms_kfail(c, MS_ERR_INVALID, "cannot %s-pad an empty dimension", mode);
    }
    int64_t total;
    if ((st = checked_numel(c, r, shape, &total))) return st;
    if (set_shape) ms_tensor_set_shape(c->out[0], x->dtype, r, shape);

    memset(p->value, 0, sizeof p->value);
    if (p->mode != PAD_CONSTANT) return MS_OK;
    if (c->opset >= 11) {
        const ms_tensor *v = ms_kin(c, 2);
        if (v && ms_tensor_numel(v) > 0) {
            if (v->dtype != x->dtype)
                return ms_kfail(c, MS_ERR_INVALID, "constant_value type differs from the data");
            memcpy(p->value, v->data, ms_dtype_size(x->dtype));
        }
    } else {
        float f = ms_attr_float(c->node, "value", 0.0f);
        if (is_numeric(x->dtype)) put_f64(p->value, x->dtype, 0, f);
        else if (f != 0)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "a nonzero value for type %s",
                            ms_dtype_name(x->dtype));
    }
    return MS_OK;
}

static ms_status pad_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, c->opset < 11 ? 1 : 2, c->opset < 11 ? 1 : 4);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    pad_plan p;
    if ((st = pad_parse(c, &p, true))) return st;
    int64_t maps = 0;
    for (int d = 0; d < c->out[0]->ndim; d++) maps += c->out[0]->shape[d];
    c->scratch_size = (size_t)maps * sizeof(int64_t);
    return MS_OK;
}

/* Source index of output position o on an axis of n input elements, or -1 for the constant. */
static int64_t pad_source(int mode, int64_t o, int64_t begin, int64_t n)
{
    int64_t i = o - begin;
    if (i >= 0 && i < n) return i;
    if (mode == PAD_CONSTANT) return -1;
    if (mode == PAD_EDGE || n == 1) return i < 0 ? 0 : n - 1;
    /* reflect: the pattern 0,1,..,n-1,n-2,..,1 repeats with period 2(n-1) */
    int64_t period = 2 * (n - 1), m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - m;
}

static ms_status pad_run(ms_kctx *c)
{
    pad_plan p;
    ms_status st = pad_parse(c, &p, false);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    int r = y->ndim;
    size_t es = ms_dtype_size(y->dtype);
    int64_t total = ms_tensor_numel(y);
    if (total == 0) return MS_OK;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return MS_OK;
    }
    /* one source-index map per axis, laid out back to back in scratch */
    int64_t *map[MS_MAX_DIMS], *m = c->scratch, in_st[MS_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        map[d] = m;
        for (int64_t o = 0; o < y->shape[d]; o++) m[o] = pad_source(p.mode, o, p.begin[d], x->shape[d]);
        m += y->shape[d];
    }
    row_strides(r, x->shape, in_st);
    int64_t idx[MS_MAX_DIMS] = {0}, inner = y->shape[r - 1];
    uint8_t *o = y->data;
    const uint8_t *src = x->data;
    for (int64_t row = 0; row < total / inner; row++) {
        int64_t off = 0;
        bool constant = false;
        for (int d = 0; d < r - 1; d++) {
            int64_t s = map[d][idx[d]];
            if (s < 0) constant = true;
            off += s * in_st[d];
        }
        if (constant) {
            fill_pattern(o, p.value, es, inner);
        } else {
            for (int64_t k = 0; k < inner; k++) {
                int64_t s = map[r - 1][k];
                if (s < 0) memcpy(o + (size_t)k * es, p.value, es);
                else memcpy(o + (size_t)k * es, src + (size_t)(off + s) * es, es);
            }
        }
        o += (size_t)inner * es;
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->shape[d]) break;
            idx[d] = 0;
        }
    }
    return MS_OK;
}

/* ---- Shape, Size ------------------------------------------------------------------------ */

static void shape_range(const ms_kctx *c, int64_t *start, int64_t *end)
{
    int r = c->in[0]->ndim;
    int64_t s = 0, e = r;
    if (c->opset >= 15) {
        s = ms_attr_int(c->node, "start", 0);
        e = ms_attr_int(c->node, "end", r);
    }
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    *start = s;
    *end = e > s ? e : s;
}

static ms_status shape_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st || (st = ms_kneed_out(c, 0))) return st;
    int64_t s, e;
    shape_range(c, &s, &e);
    int64_t n = e - s;
    ms_tensor_set_shape(c->out[0], MS_DTYPE_INT64, 1, &n);
    return MS_OK;
}

static ms_status shape_run(ms_kctx *c)
{
    int64_t s, e;
    shape_range(c, &s, &e);
    for (int64_t i = s; i < e; i++) ((int64_t *)c->out[0]->data)[i - s] = c->in[0]->shape[i];
    return MS_OK;
}

static ms_status size_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st || (st = ms_kneed_out(c, 0))) return st;
    ms_tensor_set_shape(c->out[0], MS_DTYPE_INT64, 0, NULL);
    return MS_OK;
}

static ms_status size_run(ms_kctx *c)
{
    *(int64_t *)c->out[0]->data = ms_tensor_numel(c->in[0]);
    return MS_OK;
}

/* ---- Constant, ConstantOfShape ---------------------------------------------------------- */

/* The value as a tensor view: `value` is a tensor already; value_float(s)/value_int(s) are
 * wrapped in tmp (pointing at the attribute's data). */
static ms_status constant_value(ms_kctx *c, ms_tensor *tmp, const ms_tensor **out)
{
    const ms_node *n = c->node;
    static const char *const refused[] = {"sparse_value", "value_string", "value_strings"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (ms_attr_find(n, refused[i]))
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "attribute %s is not supported", refused[i]);
    const ms_attr *a;
    memset(tmp, 0, sizeof *tmp);
    if ((a = ms_attr_find(n, "value")) && a->type == MS_ATTR_TENSOR && a->t) {
        *out = a->t;
        return MS_OK;
    }
    if ((a = ms_attr_find(n, "value_float")) && a->type == MS_ATTR_FLOAT) {
        tmp->dtype = MS_DTYPE_FLOAT;
        tmp->data = (void *)&a->f;
    } else if ((a = ms_attr_find(n, "value_int")) && a->type == MS_ATTR_INT) {
        tmp->dtype = MS_DTYPE_INT64;
        tmp->data = (void *)&a->i;
    } else if ((a = ms_attr_find(n, "value_floats")) && a->type == MS_ATTR_FLOATS) {
        tmp->dtype = MS_DTYPE_FLOAT;
        tmp->ndim = 1;
        tmp->shape[0] = a->n;
        tmp->data = (void *)a->floats;
    } else if ((a = ms_attr_find(n, "value_ints")) && a->type == MS_ATTR_INTS) {
        tmp->dtype = MS_DTYPE_INT64;
        tmp->ndim = 1;
        tmp->shape[0] = a->n;
        tmp->data = (void *)a->ints;
    } else {
        return ms_kfail(c, MS_ERR_INVALID, "no value attribute");
    }
    *out = tmp;
    return MS_OK;
}

static ms_status constant_infer(ms_kctx *c)
{
    ms_tensor tmp;
    const ms_tensor *v;
    size_t es;
    ms_status st = ms_kneed_out(c, 0);
    if (st || (st = constant_value(c, &tmp, &v)) || (st = ms_kelem_size(c, v->dtype, &es))) return st;
    ms_tensor_set_shape(c->out[0], v->dtype, v->ndim, v->shape);
    return MS_OK;
}

static ms_status constant_run(ms_kctx *c)
{
    ms_tensor tmp;
    const ms_tensor *v;
    ms_status st = constant_value(c, &tmp, &v);
    if (st) return st;
    size_t n = (size_t)ms_tensor_numel(v) * ms_dtype_size(v->dtype);
    if (n) memcpy(c->out[0]->data, v->data, n);
    return MS_OK;
}

static const float cos_zero = 0.0f;

static ms_status cos_value(ms_kctx *c, const void **val, ms_dtype *dt)
{
    const ms_tensor *v = ms_attr_tensor(c->node, "value");
    if (!v) {
        *val = &cos_zero;
        *dt = MS_DTYPE_FLOAT;
        return MS_OK;
    }
    if (ms_tensor_numel(v) != 1) return ms_kfail(c, MS_ERR_INVALID, "value must have one element");
    *val = v->data;
    *dt = v->dtype;
    return MS_OK;
}

static ms_status cos_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st || (st = ms_kneed_out(c, 0))) return st;
    const void *val;
    ms_dtype dt;
    size_t es;
    if ((st = cos_value(c, &val, &dt)) || (st = ms_kelem_size(c, dt, &es))) return st;
    int64_t shape[MS_MAX_DIMS], total;
    int n;
    if (c->in[0]->dtype != MS_DTYPE_INT64) return ms_kfail(c, MS_ERR_INVALID, "input must be int64");
    if ((st = read_ints(c, c->in[0], "shape", MS_MAX_DIMS, shape, &n)) ||
        (st = checked_numel(c, n, shape, &total)))
        return st;
    ms_tensor_set_shape(c->out[0], dt, n, shape);
    return MS_OK;
}

static ms_status cos_run(ms_kctx *c)
{
    const void *val;
    ms_dtype dt;
    ms_status st = cos_value(c, &val, &dt);
    if (st) return st;
    fill_pattern(c->out[0]->data, val, ms_dtype_size(dt), ms_tensor_numel(c->out[0]));
    return MS_OK;
}

/* ---- Cast, CastLike --------------------------------------------------------------------- */

static ms_status cast_check(ms_kctx *c, ms_dtype from, ms_dtype to)
{
    if (!is_numeric(from) || !is_numeric(to))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "cast from %s to %s is not supported",
                        ms_dtype_name(from), ms_dtype_name(to));
    return MS_OK;
}

static ms_status cast_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st || (st = ms_kneed_out(c, 0))) return st;
    const ms_attr *to = ms_attr_find(c->node, "to");
    if (!to || to->type != MS_ATTR_INT) return ms_kfail(c, MS_ERR_INVALID, "attribute 'to' is required");
    if (to->i == MS_DTYPE_STRING || to->i == 16 /* bfloat16 */ || to->i == MS_DTYPE_FLOAT16 ||
        !is_numeric((ms_dtype)to->i))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "cast to type %lld is not supported", (long long)to->i);
    if ((st = cast_check(c, c->in[0]->dtype, (ms_dtype)to->i))) return st;
    ms_tensor_set_shape(c->out[0], (ms_dtype)to->i, c->in[0]->ndim, c->in[0]->shape);
    return MS_OK;
}

static ms_status castlike_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    if (st || (st = ms_kneed_out(c, 0))) return st;
    if ((st = cast_check(c, c->in[0]->dtype, c->in[1]->dtype))) return st;
    ms_tensor_set_shape(c->out[0], c->in[1]->dtype, c->in[0]->ndim, c->in[0]->shape);
    return MS_OK;
}

static ms_status cast_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    int64_t n = ms_tensor_numel(x);
    if (x->dtype == y->dtype) return copy_run(c);
    convert_elems(y->data, y->dtype, x, n);
    return MS_OK;
}

/* ---- Range ------------------------------------------------------------------------------ */

static ms_status range_count(ms_kctx *c, int64_t *count)
{
    const ms_tensor *s = c->in[0], *l = c->in[1], *d = c->in[2];
    for (int i = 0; i < 3; i++)
        if (ms_tensor_numel(c->in[i]) != 1 || c->in[i]->dtype != s->dtype)
            return ms_kfail(c, MS_ERR_INVALID, "start, limit and delta must be scalars of one type");
    switch (s->dtype) {
    case MS_DTYPE_FLOAT: case MS_DTYPE_DOUBLE: {
        double a = ms_tensor_get_f64(s, 0), b = ms_tensor_get_f64(l, 0), h = ms_tensor_get_f64(d, 0);
        if (h == 0 || !isfinite(a) || !isfinite(b) || !isfinite(h))
            return ms_kfail(c, MS_ERR_INVALID, "delta is 0 or a bound is not finite");
        double n = ceil((b - a) / h);
        if (n > (double)MAX_NUMEL) return ms_kfail(c, MS_ERR_INVALID, "output has too many elements");
        *count = n > 0 ? (int64_t)n : 0;
        return MS_OK;
    }
    case MS_DTYPE_INT16: case MS_DTYPE_INT32: case MS_DTYPE_INT64: {
        int64_t a = ms_tensor_get_i64(s, 0), b = ms_tensor_get_i64(l, 0), h = ms_tensor_get_i64(d, 0);
        if (h == 0) return ms_kfail(c, MS_ERR_INVALID, "delta is 0");
        if ((h > 0 && b <= a) || (h < 0 && b >= a)) {
            *count = 0;
            return MS_OK;
        }
        /* unsigned arithmetic: the span of two int64s can exceed INT64_MAX */
        uint64_t span = h > 0 ? (uint64_t)b - (uint64_t)a : (uint64_t)a - (uint64_t)b;
        uint64_t step = h > 0 ? (uint64_t)h : 0 - (uint64_t)h;
        uint64_t n = (span - 1) / step + 1;
        if (n > (uint64_t)MAX_NUMEL) return ms_kfail(c, MS_ERR_INVALID, "output has too many elements");
        *count = (int64_t)n;
        return MS_OK;
    }
    default:
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "type %s", ms_dtype_name(s->dtype));
    }
}

static ms_status range_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 3, 3);
    int64_t n;
    if (st || (st = ms_kneed_out(c, 0)) || (st = range_count(c, &n))) return st;
    ms_tensor_set_shape(c->out[0], c->in[0]->dtype, 1, &n);
    return MS_OK;
}

static ms_status range_run(ms_kctx *c)
{
    ms_tensor *y = c->out[0];
    int64_t n;
    ms_status st = range_count(c, &n);
    if (st) return st;
    if (n != y->shape[0]) return ms_kfail(c, MS_ERR_INVALID, "range length changed since planning");
    if (y->dtype == MS_DTYPE_FLOAT || y->dtype == MS_DTYPE_DOUBLE) {
        double a = ms_tensor_get_f64(c->in[0], 0), h = ms_tensor_get_f64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++) put_f64(y->data, y->dtype, i, a + (double)i * h);
    } else {
        uint64_t a = (uint64_t)ms_tensor_get_i64(c->in[0], 0), h = (uint64_t)ms_tensor_get_i64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++) put_i64(y->data, y->dtype, i, (int64_t)(a + (uint64_t)i * h));
    }
    return MS_OK;
}

/* ---- EyeLike, Trilu --------------------------------------------------------------------- */

static ms_status eyelike_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0];
    if (x->ndim != 2) return ms_kfail(c, MS_ERR_INVALID, "input must be 2-D");
    ms_dtype dt = (ms_dtype)ms_attr_int(c->node, "dtype", x->dtype);
    if (!is_numeric(dt))
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "output type %s", ms_dtype_name(dt));
    ms_tensor_set_shape(c->out[0], dt, 2, x->shape);
    return MS_OK;
}

static ms_status eyelike_run(ms_kctx *c)
{
    ms_tensor *y = c->out[0];
    int64_t rows = y->shape[0], cols = y->shape[1], k = ms_attr_int(c->node, "k", 0);
    memset(y->data, 0, (size_t)(rows * cols) * ms_dtype_size(y->dtype));
    for (int64_t i = 0; i < rows; i++) {
        if (k < -rows || k > cols) break; /* diagonal entirely outside */
        int64_t j = i + k;
        if (j >= 0 && j < cols) put_i64(y->data, y->dtype, i * cols + j, 1);
    }
    return MS_OK;
}

static ms_status trilu_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0], *k = ms_kin(c, 1);
    if (x->ndim < 2) return ms_kfail(c, MS_ERR_INVALID, "input must have rank >= 2");
    if (k && (ms_tensor_numel(k) != 1 || k->dtype != MS_DTYPE_INT64))
        return ms_kfail(c, MS_ERR_INVALID, "k must be an int64 scalar");
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    return MS_OK;
}

/* upper keeps j - i >= k, lower keeps j - i <= k; the rest becomes zero (all-zero bytes is
 * zero in every numeric type). */
static ms_status trilu_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *kt = ms_kin(c, 1);
    ms_tensor *y = c->out[0];
    int64_t k = kt ? ms_tensor_get_i64(kt, 0) : 0;
    bool upper = ms_attr_int(c->node, "upper", 1) != 0;
    size_t es = ms_dtype_size(x->dtype);
    int64_t rows = x->shape[x->ndim - 2], cols = x->shape[x->ndim - 1];
    int64_t mat = rows * cols, mats = mat != 0 ? ms_tensor_numel(x) / mat : 0;
    const uint8_t *s = x->data;
    uint8_t *o = y->data;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                size_t at = (size_t)((m * rows + i) * cols + j) * es;
                bool keep = upper ? j - i >= k : j - i <= k;
                if (keep) memcpy(o + at, s + at, es);
                else memset(o + at, 0, es);
            }
    return MS_OK;
}

/* ---- DepthToSpace, SpaceToDepth --------------------------------------------------------- */

/* Both are a reshape to 6-D, a transpose and a reshape back: one strided view of the input
 * in output order. */
static ms_status d2s_view(ms_kctx *c, bool to_space, int64_t *oshape, int64_t *vshape, int64_t *vst)
{
    const ms_tensor *x = c->in[0];
    if (x->ndim != 4) return ms_kfail(c, MS_ERR_INVALID, "input must be 4-D (NCHW)");
    int64_t b = ms_attr_int(c->node, "blocksize", 0);
    if (b <= 0) return ms_kfail(c, MS_ERR_INVALID, "blocksize must be positive");
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (to_space) {
        const char *mode = c->opset >= 11 ? ms_attr_string(c->node, "mode", "DCR") : "DCR";
        bool crd = !strcmp(mode, "CRD");
        if (!crd && strcmp(mode, "DCR")) return ms_kfail(c, MS_ERR_INVALID, "unknown mode '%s'", mode);
        if (C % (b * b)) return ms_kfail(c, MS_ERR_INVALID, "channels not divisible by blocksize^2");
        int64_t Cp = C / (b * b);
        int64_t o[4] = {N, Cp, H * b, W * b};
        /* view dims (n, c', h, b1, w, b2) */
        int64_t vs[6] = {N, Cp, H, b, W, b};
        int64_t dcr[6] = {C * H * W, H * W, W, b * Cp * H * W, 1, Cp * H * W};
        int64_t crdst[6] = {C * H * W, b * b * H * W, W, b * H * W, 1, H * W};
        memcpy(oshape, o, sizeof o);
        memcpy(vshape, vs, sizeof vs);
        memcpy(vst, crd ? crdst : dcr, sizeof dcr);
    } else {
        if (H % b || W % b) return ms_kfail(c, MS_ERR_INVALID, "H and W not divisible by blocksize");
        int64_t o[4] = {N, C * b * b, H / b, W / b};
        /* view dims (n, b1, b2, c, h', w') */
        int64_t vs[6] = {N, b, b, C, H / b, W / b};
        int64_t s[6] = {C * H * W, W, 1, H * W, b * W, b};
        memcpy(oshape, o, sizeof o);
        memcpy(vshape, vs, sizeof vs);
        memcpy(vst, s, sizeof s);
    }
    return MS_OK;
}

static ms_status d2s_infer_common(ms_kctx *c, bool to_space)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    int64_t oshape[4], vshape[6], vst[6];
    if ((st = d2s_view(c, to_space, oshape, vshape, vst))) return st;
    ms_tensor_set_shape(c->out[0], c->in[0]->dtype, 4, oshape);
    return MS_OK;
}

static ms_status d2s_run_common(ms_kctx *c, bool to_space)
{
    int64_t oshape[4], vshape[6], vst[6];
    ms_status st = d2s_view(c, to_space, oshape, vshape, vst);
    if (st) return st;
    copy_strided(c->out[0]->data, c->in[0]->data, ms_dtype_size(c->in[0]->dtype), 6, vshape, vst);
    return MS_OK;
}

static ms_status d2s_infer(ms_kctx *c) { return d2s_infer_common(c, true); }
static ms_status d2s_run(ms_kctx *c) { return d2s_run_common(c, true); }
static ms_status s2d_infer(ms_kctx *c) { return d2s_infer_common(c, false); }
static ms_status s2d_run(ms_kctx *c) { return d2s_run_common(c, false); }

/* ---- table ------------------------------------------------------------------------------ */

/* `until` stops before a version that changed semantics we do not implement; versions that
 * only added types are covered (new types are refused by the dtype checks). */
const ms_kernel ms_ops_shape[] = {
    {"", "Reshape", 5, 21, reshape_infer, copy_run, NULL, NULL},
    {"", "Flatten", 1, 21, flatten_infer, copy_run, NULL, NULL},
    {"", "Squeeze", 1, 21, squeeze_infer, copy_run, NULL, NULL},
    {"", "Unsqueeze", 1, 21, unsqueeze_infer, copy_run, NULL, NULL},
    {"", "Identity", 1, 21, identity_infer, copy_run, NULL, NULL},
    {"", "Dropout", 7, 21, dropout_infer, dropout_run, NULL, NULL},
    {"", "Transpose", 1, 21, transpose_infer, transpose_run, NULL, NULL},
    {"", "Concat", 1, 21, concat_infer, concat_run, NULL, NULL},
    {"", "Split", 2, 21, split_infer, split_run, NULL, NULL},
    {"", "Slice", 1, 21, slice_infer, slice_run, NULL, NULL},
    {"", "Expand", 8, 21, expand_infer, expand_run, NULL, NULL},
    {"", "Tile", 6, 21, tile_infer, tile_run, NULL, NULL},
    {"", "Pad", 2, 18, pad_infer, pad_run, NULL, NULL},
    {"", "Shape", 1, 21, shape_infer, shape_run, NULL, NULL},
    {"", "Size", 1, 21, size_infer, size_run, NULL, NULL},
    {"", "Constant", 1, 21, constant_infer, constant_run, NULL, NULL},
    {"", "ConstantOfShape", 9, 21, cos_infer, cos_run, NULL, NULL},
    {"", "Cast", 6, 21, cast_infer, cast_run, NULL, NULL},
    {"", "CastLike", 15, 21, castlike_infer, cast_run, NULL, NULL},
    {"", "Range", 11, 21, range_infer, range_run, NULL, NULL},
    {"", "EyeLike", 9, 21, eyelike_infer, eyelike_run, NULL, NULL},
    {"", "Trilu", 14, 21, trilu_infer, trilu_run, NULL, NULL},
    {"", "DepthToSpace", 1, 21, d2s_infer, d2s_run, NULL, NULL},
    {"", "SpaceToDepth", 1, 21, s2d_infer, s2d_run, NULL, NULL},
    {0},
};
