/* ops_gather.c: index-driven kernels: Gather, GatherElements, GatherND, ScatterElements,
 * ScatterND, Compress, OneHot, ReverseSequence, and Resize/Upsample. Indices are read as int64,
 * negative ones wrap once, and anything still out of range is MS_ERR_INVALID before any read:
 * index values may change between runs, so run checks them again. */
#include "ms_op.h"

#include <math.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------------------------- */

static ms_status check_index_type(ms_kctx *c, int input)
{
    ms_dtype t = c->in[input]->dtype;
    if (t != MS_DTYPE_INT64 && t != MS_DTYPE_INT32)
        return ms_kfail(c, MS_ERR_INVALID, "indices must be int32 or int64, not %s", ms_dtype_name(t));
    return MS_OK;
}

/* Index i of t wrapped into [0, n); -1 when out of range. */
static int64_t wrap_index(const ms_tensor *t, int64_t i, int64_t n)
{
    int64_t k = ms_tensor_get_i64(t, i);
    if (k < 0) k += n;
    return k >= 0 && k < n ? k : -1;
}

static ms_status bad_index(ms_kctx *c, const ms_tensor *t, int64_t i, int64_t n)
{
    return ms_kfail(c, MS_ERR_INVALID, "index %lld out of range for a dimension of %lld",
                    (long long)ms_tensor_get_i64(t, i), (long long)n);
}

static void row_strides(int nd, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        st[d] = s;
        s *= shape[d];
    }
}

/* Advance a row-major multi-index; false after the last. */
static bool next_index(int nd, const int64_t *shape, int64_t *idx)
{
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) return true;
        idx[d] = 0;
    }
    return false;
}

/* ---- Gather ----------------------------------------------------------------------------- */

static ms_status gather_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0)) ||
        (st = check_index_type(c, 1)))
        return st;
    const ms_tensor *x = c->in[0], *ind = c->in[1];
    int64_t a_raw = ms_attr_int(c->node, "axis", 0);
    int axis = ms_norm_axis(a_raw, x->ndim);
    if (axis < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld out of range for rank %d", (long long)a_raw,
                        (int)x->ndim);
    int nd = x->ndim - 1 + ind->ndim;
    if (nd > MS_MAX_DIMS) return ms_kfail(c, MS_ERR_UNSUPPORTED, "output rank %d exceeds %d", nd, MS_MAX_DIMS);
    int64_t shape[MS_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < axis; d++) shape[k++] = x->shape[d];
    for (int d = 0; d < ind->ndim; d++) shape[k++] = ind->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) shape[k++] = x->shape[d];
    ms_tensor_set_shape(c->out[0], x->dtype, nd, shape);
    return MS_OK;
}

static ms_status gather_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *ind = c->in[1];
    int axis = ms_norm_axis(ms_attr_int(c->node, "axis", 0), x->ndim);
    size_t es = ms_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1, n = x->shape[axis], ni = ms_tensor_numel(ind);
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    for (int64_t j = 0; j < ni; j++)
        if (wrap_index(ind, j, n) < 0) return bad_index(c, ind, j, n);
    size_t blk = (size_t)inner * es;
    uint8_t *o = c->out[0]->data;
    const uint8_t *s = x->data;
    if (!blk) return MS_OK;
    for (int64_t k = 0; k < outer; k++)
        for (int64_t j = 0; j < ni; j++, o += blk)
            memcpy(o, s + (size_t)(k * n + wrap_index(ind, j, n)) * blk, blk);
    return MS_OK;
}

/* ---- GatherElements, ScatterElements ---------------------------------------------------- */

/* Shared checks: indices as rank as data and no larger off the axis (so every position the
 * indices name, bar the axis coordinate, exists in data). */
static ms_status elements_axis(ms_kctx *c, const ms_tensor *x, const ms_tensor *ind, int *axis)
{
    int64_t a_raw = ms_attr_int(c->node, "axis", 0);
    int a = ms_norm_axis(a_raw, x->ndim);
    if (a < 0)
        return ms_kfail(c, MS_ERR_INVALID, "axis %lld out of range for rank %d", (long long)a_raw,
                        (int)x->ndim);
    if (ind->ndim != x->ndim)
        return ms_kfail(c, MS_ERR_INVALID, "indices must have the data's rank %d", (int)x->ndim);
    for (int d = 0; d < x->ndim; d++)
        if (d != a && ind->shape[d] > x->shape[d])
            return ms_kfail(c, MS_ERR_INVALID, "indices dimension %d (%lld) exceeds data's (%lld)",
                            d, (long long)ind->shape[d], (long long)x->shape[d]);
    *axis = a;
    return MS_OK;
}

static ms_status gather_elements_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    size_t es;
    int axis;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0)) ||
        (st = check_index_type(c, 1)) || (st = elements_axis(c, c->in[0], c->in[1], &axis)))
        return st;
    ms_tensor_set_shape(c->out[0], c->in[0]->dtype, c->in[1]->ndim, c->in[1]->shape);
    return MS_OK;
}

/* Element offset in x of each element of ind (axis coordinate replaced by the index), written
 * to offs (scratch, numel(ind) entries). */
static ms_status elements_offsets(ms_kctx *c, const ms_tensor *x, const ms_tensor *ind, int axis,
                                  int64_t *offs)
{
    int64_t xst[MS_MAX_DIMS], idx[MS_MAX_DIMS] = {0}, n = ms_tensor_numel(ind);
    row_strides(x->ndim, x->shape, xst);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = wrap_index(ind, i, x->shape[axis]);
        if (k < 0) return bad_index(c, ind, i, x->shape[axis]);
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++) off += (d == axis ? k : idx[d]) * xst[d];
        offs[i] = off;
        next_index(ind->ndim, ind->shape, idx);
    }
    return MS_OK;
}

static ms_status gather_elements_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *ind = c->in[1];
    int axis;
    ms_status st = elements_axis(c, x, ind, &axis);
    if (st) return st;
    size_t es = ms_dtype_size(x->dtype);
    int64_t xst[MS_MAX_DIMS], idx[MS_MAX_DIMS] = {0}, n = ms_tensor_numel(ind);
    row_strides(x->ndim, x->shape, xst);
    for (int64_t i = 0; i < n; i++)
        if (wrap_index(ind, i, x->shape[axis]) < 0) return bad_index(c, ind, i, x->shape[axis]);
    uint8_t *o = c->out[0]->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++)
            off += (d == axis ? wrap_index(ind, i, x->shape[axis]) : idx[d]) * xst[d];
        memcpy(o + (size_t)i * es, (const uint8_t *)x->data + (size_t)off * es, es);
        next_index(ind->ndim, ind->shape, idx);
    }
    return MS_OK;
}

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static ms_status parse_reduction(ms_kctx *c, ms_dtype dt, int *red)
{
    const char *r = c->opset >= 16 ? ms_attr_string(c->node, "reduction", "none") : "none";
    if (!strcmp(r, "none")) *red = RED_NONE;
    else if (!strcmp(r, "add")) *red = RED_ADD;
    else if (!strcmp(r, "mul")) *red = RED_MUL;
    else if (!strcmp(r, "max") && c->opset >= 18) *red = RED_MAX;
    else if (!strcmp(r, "min") && c->opset >= 18) *red = RED_MIN;
    else return ms_kfail(c, MS_ERR_INVALID, "unknown reduction '%s'", r);
    if (*red != RED_NONE) {
        switch (dt) {
        case MS_DTYPE_FLOAT: case MS_DTYPE_DOUBLE: case MS_DTYPE_INT32: case MS_DTYPE_INT64:
            break;
        default:
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "reduction '%s' on type %s", r, ms_dtype_name(dt));
        }
    }
    return MS_OK;
}

#define REDUCE_INTO(T, dst, src, red)                                           \
    do {                                                                        \
        T a_, b_;                                                               \
        memcpy(&a_, dst, sizeof a_);                                            \
        memcpy(&b_, src, sizeof b_);                                            \
        switch (red) {                                                          \
        case RED_ADD: a_ = (T)(a_ + b_); break;                                 \
        case RED_MUL: a_ = (T)(a_ * b_); break;                                 \
        case RED_MAX: a_ = b_ > a_ ? b_ : a_; break;                            \
        default: a_ = b_ < a_ ? b_ : a_; break;                                 \
        }                                                                       \
        memcpy(dst, &a_, sizeof a_);                                            \
    } while (0)

/* dst[i] = dst[i] (red) src[i] for n elements; RED_NONE overwrites. Integer add/mul wrap
 * (computed unsigned) instead of overflowing. */
static void reduce_into(uint8_t *dst, const uint8_t *src, int64_t n, ms_dtype dt, int red)
{
    size_t es = ms_dtype_size(dt);
    if (red == RED_NONE) {
        memcpy(dst, src, (size_t)n * es);
        return;
    }
    for (int64_t i = 0; i < n; i++, dst += es, src += es) {
        switch (dt) {
        case MS_DTYPE_FLOAT: REDUCE_INTO(float, dst, src, red); break;
        case MS_DTYPE_DOUBLE: REDUCE_INTO(double, dst, src, red); break;
        case MS_DTYPE_INT32:
            if (red == RED_ADD || red == RED_MUL) REDUCE_INTO(uint32_t, dst, src, red);
            else REDUCE_INTO(int32_t, dst, src, red);
            break;
        default:
            if (red == RED_ADD || red == RED_MUL) REDUCE_INTO(uint64_t, dst, src, red);
            else REDUCE_INTO(int64_t, dst, src, red);
        }
    }
}

static ms_status scatter_elements_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 3, 3);
    size_t es;
    int axis, red;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0)) ||
        (st = check_index_type(c, 1)) || (st = elements_axis(c, c->in[0], c->in[1], &axis)) ||
        (st = parse_reduction(c, c->in[0]->dtype, &red)))
        return st;
    const ms_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    if (upd->dtype != x->dtype || upd->ndim != ind->ndim ||
        memcmp(upd->shape, ind->shape, sizeof(int64_t) * (size_t)ind->ndim))
        return ms_kfail(c, MS_ERR_INVALID, "updates must match indices in shape and data in type");
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    c->scratch_size = (size_t)ms_tensor_numel(ind) * sizeof(int64_t);
    return MS_OK;
}

static ms_status scatter_elements_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    int axis, red;
    ms_status st = elements_axis(c, x, ind, &axis);
    if (st || (st = parse_reduction(c, x->dtype, &red))) return st;
    int64_t *offs = c->scratch, n = ms_tensor_numel(ind);
    /* every index checked before the output is touched */
    if ((st = elements_offsets(c, x, ind, axis, offs))) return st;
    size_t es = ms_dtype_size(x->dtype);
    uint8_t *o = c->out[0]->data;
    memcpy(o, x->data, (size_t)ms_tensor_numel(x) * es);
    for (int64_t i = 0; i < n; i++)
        reduce_into(o + (size_t)offs[i] * es, (const uint8_t *)upd->data + (size_t)i * es, 1,
                    x->dtype, red);
    return MS_OK;
}

/* ---- GatherND, ScatterND ---------------------------------------------------------------- */

typedef struct nd_plan {
    int b, k;         /* batch dims, index tuple length */
    int64_t batches;  /* product of the batch dims */
    int64_t per;      /* index tuples per batch */
    int64_t slice;    /* elements per gathered slice */
    int64_t block;    /* data elements per batch */
} nd_plan;

static ms_status nd_setup(ms_kctx *c, const ms_tensor *x, const ms_tensor *ind, int b, nd_plan *p)
{
    int r = x->ndim, q = ind->ndim;
    if (ind->dtype != MS_DTYPE_INT64) return ms_kfail(c, MS_ERR_INVALID, "indices must be int64");
    if (r < 1 || q < 1) return ms_kfail(c, MS_ERR_INVALID, "data and indices need rank >= 1");
    if (b < 0 || b >= (q < r ? q : r))
        return ms_kfail(c, MS_ERR_INVALID, "batch_dims %d out of range", b);
    int64_t k = ind->shape[q - 1];
    if (k < 1 || k > r - b)
        return ms_kfail(c, MS_ERR_INVALID, "index tuples of length %lld for rank %d", (long long)k, r);
    p->b = b;
    p->k = (int)k;
    p->batches = 1;
    for (int d = 0; d < b; d++) {
        if (x->shape[d] != ind->shape[d])
            return ms_kfail(c, MS_ERR_INVALID, "batch dimension %d differs between data and indices", d);
        p->batches *= x->shape[d];
    }
    p->per = 1;
    for (int d = b; d < q - 1; d++) p->per *= ind->shape[d];
    p->slice = 1;
    for (int d = b + p->k; d < r; d++) p->slice *= x->shape[d];
    p->block = 1;
    for (int d = b; d < r; d++) p->block *= x->shape[d];
    return MS_OK;
}

/* Element offset (within its batch block) of index tuple t, or -1 if out of range. */
static int64_t nd_offset(const ms_tensor *x, const ms_tensor *ind, const nd_plan *p, int64_t t)
{
    int64_t off = 0;
    for (int j = 0; j < p->k; j++) {
        int64_t dim = x->shape[p->b + j];
        int64_t v = wrap_index(ind, t * p->k + j, dim);
        if (v < 0) return -1;
        off = off * dim + v;
    }
    return off * p->slice;
}

static ms_status gathernd_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0], *ind = c->in[1];
    int b = c->opset >= 12 ? (int)ms_attr_int(c->node, "batch_dims", 0) : 0;
    nd_plan p;
    if ((st = nd_setup(c, x, ind, b, &p))) return st;
    int nd = ind->ndim - 1 + x->ndim - b - p.k;
    if (nd > MS_MAX_DIMS) return ms_kfail(c, MS_ERR_UNSUPPORTED, "output rank %d exceeds %d", nd, MS_MAX_DIMS);
    int64_t shape[MS_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < ind->ndim - 1; d++) shape[n++] = ind->shape[d];
    for (int d = b + p.k; d < x->ndim; d++) shape[n++] = x->shape[d];
    ms_tensor_set_shape(c->out[0], x->dtype, nd, shape);
    return MS_OK;
}

static ms_status gathernd_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *ind = c->in[1];
    nd_plan p;
    int b = c->opset >= 12 ? (int)ms_attr_int(c->node, "batch_dims", 0) : 0;
    ms_status st = nd_setup(c, x, ind, b, &p);
    if (st) return st;
    int64_t tuples = p.batches * p.per;
    for (int64_t t = 0; t < tuples; t++)
        if (nd_offset(x, ind, &p, t) < 0)
            return ms_kfail(c, MS_ERR_INVALID, "index tuple %lld is out of range", (long long)t);
    size_t es = ms_dtype_size(x->dtype), blk = (size_t)p.slice * es;
    uint8_t *o = c->out[0]->data;
    if (!blk) return MS_OK;
    for (int64_t t = 0; t < tuples; t++, o += blk) {
        int64_t off = (t / p.per) * p.block + nd_offset(x, ind, &p, t);
        memcpy(o, (const uint8_t *)x->data + (size_t)off * es, blk);
    }
    return MS_OK;
}

static ms_status scatternd_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 3, 3);
    size_t es;
    int red;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0)) ||
        (st = parse_reduction(c, c->in[0]->dtype, &red)))
        return st;
    const ms_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    nd_plan p;
    if ((st = nd_setup(c, x, ind, 0, &p))) return st;
    /* updates: indices.shape[:-1] + data.shape[k:] */
    int want = ind->ndim - 1 + x->ndim - p.k;
    bool ok = upd->dtype == x->dtype && upd->ndim == want;
    for (int d = 0; ok && d < want; d++) {
        int64_t e = d < ind->ndim - 1 ? ind->shape[d] : x->shape[p.k + d - (ind->ndim - 1)];
        ok = upd->shape[d] == e;
    }
    if (!ok) return ms_kfail(c, MS_ERR_INVALID, "updates have the wrong type or shape");
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
    return MS_OK;
}

static ms_status scatternd_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    nd_plan p;
    int red;
    ms_status st = nd_setup(c, x, ind, 0, &p);
    if (st || (st = parse_reduction(c, x->dtype, &red))) return st;
    for (int64_t t = 0; t < p.per; t++)
        if (nd_offset(x, ind, &p, t) < 0)
            return ms_kfail(c, MS_ERR_INVALID, "index tuple %lld is out of range", (long long)t);
    size_t es = ms_dtype_size(x->dtype);
    uint8_t *o = c->out[0]->data;
    memcpy(o, x->data, (size_t)ms_tensor_numel(x) * es);
    for (int64_t t = 0; t < p.per; t++)
        reduce_into(o + (size_t)nd_offset(x, ind, &p, t) * es,
                    (const uint8_t *)upd->data + (size_t)(t * p.slice) * es, p.slice, x->dtype, red);
    return MS_OK;
}

/* ---- Compress --------------------------------------------------------------------------- */

/* Kept positions along the axis (or the flattened input). A condition shorter than the axis
 * drops the tail; a longer one may only hold false beyond it. */
static ms_status compress_count(ms_kctx *c, int *axis, int64_t *kept)
{
    const ms_tensor *x = c->in[0], *cond = c->in[1];
    if (cond->dtype != MS_DTYPE_BOOL || cond->ndim != 1)
        return ms_kfail(c, MS_ERR_INVALID, "condition must be a 1-D bool tensor");
    const ms_attr *a = ms_attr_find(c->node, "axis");
    *axis = -1;
    int64_t len = ms_tensor_numel(x);
    if (a) {
        *axis = ms_norm_axis(a->i, x->ndim);
        if (*axis < 0) return ms_kfail(c, MS_ERR_INVALID, "axis %lld out of range", (long long)a->i);
        len = x->shape[*axis];
    }
    const uint8_t *cv = cond->data;
    int64_t n = 0;
    for (int64_t i = 0; i < cond->shape[0]; i++) {
        if (!cv[i]) continue;
        if (i >= len) return ms_kfail(c, MS_ERR_INVALID, "condition selects past the end of the axis");
        n++;
    }
    *kept = n;
    return MS_OK;
}

static ms_status compress_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    size_t es;
    int axis;
    int64_t kept;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0)) ||
        (st = compress_count(c, &axis, &kept)))
        return st;
    const ms_tensor *x = c->in[0];
    if (axis < 0) {
        ms_tensor_set_shape(c->out[0], x->dtype, 1, &kept);
    } else {
        ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape);
        c->out[0]->shape[axis] = kept;
    }
    return MS_OK;
}

static ms_status compress_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *cond = c->in[1];
    int axis;
    int64_t kept;
    ms_status st = compress_count(c, &axis, &kept);
    if (st) return st;
    ms_tensor *y = c->out[0];
    if (kept != y->shape[axis < 0 ? 0 : axis])
        return ms_kfail(c, MS_ERR_INVALID, "condition changed since planning");
    size_t es = ms_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1, len = ms_tensor_numel(x);
    if (axis >= 0) {
        len = x->shape[axis];
        for (int d = 0; d < axis; d++) outer *= x->shape[d];
        for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    }
    int64_t clen = cond->shape[0] < len ? cond->shape[0] : len;
    size_t blk = (size_t)inner * es;
    const uint8_t *cv = cond->data, *s = x->data;
    uint8_t *o = y->data;
    for (int64_t k = 0; k < outer; k++)
        for (int64_t i = 0; i < clen; i++)
            if (cv[i]) {
                memcpy(o, s + (size_t)(k * len + i) * blk, blk);
                o += blk;
            }
    return MS_OK;
}

/* ---- OneHot ----------------------------------------------------------------------------- */

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

static ms_status onehot_depth(ms_kctx *c, int64_t *depth)
{
    const ms_tensor *d = c->in[1];
    if (ms_tensor_numel(d) != 1 || !is_numeric(d->dtype))
        return ms_kfail(c, MS_ERR_INVALID, "depth must be a numeric scalar");
    double v = ms_tensor_get_f64(d, 0);
    if (!(v >= 1 && v <= (double)((int64_t)1 << 40)))
        return ms_kfail(c, MS_ERR_INVALID, "depth %g is out of range", v);
    *depth = (int64_t)v;
    return MS_OK;
}

static ms_status onehot_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 3, 3);
    size_t es;
    int64_t depth;
    if (st || (st = ms_kneed_out(c, 0)) || (st = ms_kelem_size(c, c->in[2]->dtype, &es)) ||
        (st = onehot_depth(c, &depth)))
        return st;
    const ms_tensor *ind = c->in[0], *vals = c->in[2];
    if (!is_numeric(ind->dtype)) return ms_kfail(c, MS_ERR_INVALID, "indices must be numeric");
    if (ms_tensor_numel(vals) != 2) return ms_kfail(c, MS_ERR_INVALID, "values must hold [off, on]");
    int nd = ind->ndim + 1;
    if (nd > MS_MAX_DIMS) return ms_kfail(c, MS_ERR_UNSUPPORTED, "output rank %d exceeds %d", nd, MS_MAX_DIMS);
    int64_t a_raw = ms_attr_int(c->node, "axis", -1);
    int axis = ms_norm_axis(a_raw, nd);
    if (axis < 0) return ms_kfail(c, MS_ERR_INVALID, "axis %lld out of range", (long long)a_raw);
    int64_t shape[MS_MAX_DIMS];
    for (int d = 0, j = 0; d < nd; d++) shape[d] = d == axis ? depth : ind->shape[j++];
    int64_t total = 1;
    for (int d = 0; d < nd; d++) {
        if (shape[d] && total > ((int64_t)1 << 48) / shape[d])
            return ms_kfail(c, MS_ERR_INVALID, "output has too many elements");
        total *= shape[d];
    }
    ms_tensor_set_shape(c->out[0], vals->dtype, nd, shape);
    return MS_OK;
}

/* Indices outside [-depth, depth-1] give an all-off row, as the spec says. Float indices
 * truncate toward zero. */
static ms_status onehot_run(ms_kctx *c)
{
    const ms_tensor *ind = c->in[0], *vals = c->in[2];
    ms_tensor *y = c->out[0];
    int64_t depth;
    ms_status st = onehot_depth(c, &depth);
    if (st) return st;
    int axis = ms_norm_axis(ms_attr_int(c->node, "axis", -1), y->ndim);
    if (y->shape[axis] != depth) return ms_kfail(c, MS_ERR_INVALID, "depth changed since planning");
    size_t es = ms_dtype_size(y->dtype);
    const uint8_t *off = vals->data, *on = off + es;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->shape[d];
    for (int d = axis + 1; d < y->ndim; d++) inner *= y->shape[d];
    uint8_t *o = y->data;
    for (int64_t k = 0; k < outer; k++)
        for (int64_t d = 0; d < depth; d++)
            for (int64_t i = 0; i < inner; i++, o += es) {
                int64_t v = ms_tensor_get_i64(ind, k * inner + i);
                if (v < 0) v += depth;
                memcpy(o, v == d ? on : off, es);
            }
    return MS_OK;
}

/* ---- ReverseSequence -------------------------------------------------------------------- */

static ms_status revseq_axes(ms_kctx *c, int *batch, int *time)
{
    const ms_tensor *x = c->in[0], *lens = c->in[1];
    int64_t b = ms_attr_int(c->node, "batch_axis", 1), t = ms_attr_int(c->node, "time_axis", 0);
    if (x->ndim < 2) return ms_kfail(c, MS_ERR_INVALID, "input must have rank >= 2");
    if (!((b == 0 && t == 1) || (b == 1 && t == 0)))
        return ms_kfail(c, MS_ERR_INVALID, "batch_axis and time_axis must be 0 and 1 in some order");
    if (lens->dtype != MS_DTYPE_INT64 || lens->ndim != 1 || lens->shape[0] != x->shape[b])
        return ms_kfail(c, MS_ERR_INVALID, "sequence_lens must be int64 with one entry per batch");
    for (int64_t i = 0; i < lens->shape[0]; i++) {
        int64_t l = ((const int64_t *)lens->data)[i];
        if (l < 0 || l > x->shape[t])
            return ms_kfail(c, MS_ERR_INVALID, "sequence length %lld out of range", (long long)l);
    }
    *batch = (int)b;
    *time = (int)t;
    return MS_OK;
}

static ms_status revseq_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 2);
    size_t es;
    int b, t;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0)) ||
        (st = revseq_axes(c, &b, &t)))
        return st;
    ms_tensor_set_shape(c->out[0], c->in[0]->dtype, c->in[0]->ndim, c->in[0]->shape);
    return MS_OK;
}

static ms_status revseq_run(ms_kctx *c)
{
    const ms_tensor *x = c->in[0], *lens = c->in[1];
    int b, t;
    ms_status st = revseq_axes(c, &b, &t);
    if (st) return st;
    size_t es = ms_dtype_size(x->dtype);
    int64_t inner = 1;
    for (int d = 2; d < x->ndim; d++) inner *= x->shape[d];
    int64_t tst = (t == 0 ? x->shape[1] : 1) * inner, bst = (b == 0 ? x->shape[1] : 1) * inner;
    size_t blk = (size_t)inner * es;
    const uint8_t *s = x->data;
    uint8_t *o = c->out[0]->data;
    for (int64_t bi = 0; bi < x->shape[b]; bi++) {
        int64_t len = ((const int64_t *)lens->data)[bi];
        for (int64_t ti = 0; ti < x->shape[t]; ti++) {
            int64_t src = ti < len ? len - 1 - ti : ti;
            memcpy(o + (size_t)(bi * bst + ti * tst) * es, s + (size_t)(bi * bst + src * tst) * es, blk);
        }
    }
    return MS_OK;
}

/* ---- Resize, Upsample ------------------------------------------------------------------- */

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC, CT_TF_HALF_PIXEL_NN,
       CT_TF_CROP_AND_RESIZE };
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };

typedef struct rs_plan {
    int mode, coord, nearest;
    double cubic_a, extrapolation;
    bool exclude_outside;
    int64_t out[MS_MAX_DIMS];
    double scale[MS_MAX_DIMS];
    double roi[2 * MS_MAX_DIMS];
} rs_plan;

/* Up to four source taps for one output coordinate on one axis. */
typedef struct rs_taps {
    int32_t n;        /* 0: outside the crop box (extrapolate) */
    int64_t idx[4];   /* source indices, already clamped to the axis */
    double w[4];
} rs_taps;

static int pick(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

static ms_status rs_attrs(ms_kctx *c, rs_plan *p, bool upsample)
{
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                         "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const char *m = ms_attr_string(c->node, "mode", "nearest");
    p->mode = pick(m, modes, 3);
    if (upsample && !strcmp(m, "bilinear")) p->mode = RS_LINEAR;
    if (p->mode < 0 || (p->mode == RS_CUBIC && (upsample || c->opset < 11)))
        return ms_kfail(c, MS_ERR_INVALID, "unknown mode '%s'", m);
    if (upsample || c->opset < 11) {
        /* Upsample and Resize-10 sample at x/scale, nearest rounding down */
        p->coord = CT_ASYMMETRIC;
        p->nearest = NM_FLOOR;
        p->cubic_a = -0.75;
        p->exclude_outside = false;
        p->extrapolation = 0;
        return MS_OK;
    }
    const char *ct = ms_attr_string(c->node, "coordinate_transformation_mode", "half_pixel");
    const char *nm = ms_attr_string(c->node, "nearest_mode", "round_prefer_floor");
    p->coord = pick(ct, coords, 6);
    p->nearest = pick(nm, nms, 4);
    if (p->coord < 0) return ms_kfail(c, MS_ERR_INVALID, "unknown coordinate_transformation_mode '%s'", ct);
    if (p->nearest < 0) return ms_kfail(c, MS_ERR_INVALID, "unknown nearest_mode '%s'", nm);
    p->cubic_a = ms_attr_float(c->node, "cubic_coeff_a", -0.75f);
    p->exclude_outside = ms_attr_int(c->node, "exclude_outside", 0) != 0;
    p->extrapolation = ms_attr_float(c->node, "extrapolation_value", 0.0f);
    return MS_OK;
}

/* Output shape and per-axis scales from scales or sizes. */
static ms_status rs_shape(ms_kctx *c, rs_plan *p, bool upsample)
{
    const ms_tensor *x = c->in[0];
    int r = x->ndim;
    const ms_tensor *roi = NULL, *scales = NULL, *sizes = NULL;
    const float *attr_scales = NULL;
    if (upsample && c->opset < 9) {
        int n = ms_attr_floats(c->node, "scales", &attr_scales);
        if (n != r) return ms_kfail(c, MS_ERR_INVALID, "scales must have %d entries", r);
    } else if (upsample || c->opset < 11) {
        scales = ms_kin(c, 1);
    } else {
        roi = ms_kin(c, 1);
        scales = ms_kin(c, 2);
        sizes = ms_kin(c, 3);
    }
    if (scales && ms_tensor_numel(scales) == 0) scales = NULL;
    if (sizes && ms_tensor_numel(sizes) == 0) sizes = NULL;
    if (!attr_scales && !!scales == !!sizes)
        return ms_kfail(c, MS_ERR_INVALID, "exactly one of scales and sizes must be given");
    if (scales && (scales->dtype != MS_DTYPE_FLOAT || ms_tensor_numel(scales) != r))
        return ms_kfail(c, MS_ERR_INVALID, "scales must be float32 with %d entries", r);
    if (sizes && (sizes->dtype != MS_DTYPE_INT64 || ms_tensor_numel(sizes) != r))
        return ms_kfail(c, MS_ERR_INVALID, "sizes must be int64 with %d entries", r);
    int64_t total = 1;
    for (int d = 0; d < r; d++) {
        int64_t in = x->shape[d];
        if (sizes) {
            p->out[d] = ((const int64_t *)sizes->data)[d];
            if (p->out[d] < 0) return ms_kfail(c, MS_ERR_INVALID, "negative size");
            if (in == 0 && p->out[d] > 0) return ms_kfail(c, MS_ERR_INVALID, "cannot resize an empty axis");
            p->scale[d] = in ? (double)p->out[d] / (double)in : 1.0;
        } else {
            double s = attr_scales ? attr_scales[d] : ((const float *)scales->data)[d];
            if (!(s > 0) || s > 1e6) return ms_kfail(c, MS_ERR_INVALID, "scale %g is not valid", s);
            if (upsample && s < 1) return ms_kfail(c, MS_ERR_INVALID, "Upsample scales must be >= 1");
            p->scale[d] = s;
            p->out[d] = (int64_t)floor(s * (double)in);
        }
        if (p->out[d] && total > ((int64_t)1 << 48) / p->out[d])
            return ms_kfail(c, MS_ERR_INVALID, "output has too many elements");
        total *= p->out[d];
    }
    for (int d = 0; d < r; d++) {
        p->roi[d] = 0;
        p->roi[r + d] = 1;
    }
    if (p->coord == CT_TF_CROP_AND_RESIZE) {
        if (!roi || ms_tensor_numel(roi) != 2 * r ||
            (roi->dtype != MS_DTYPE_FLOAT && roi->dtype != MS_DTYPE_DOUBLE))
            return ms_kfail(c, MS_ERR_INVALID, "tf_crop_and_resize needs roi with %d entries", 2 * r);
        for (int i = 0; i < 2 * r; i++) p->roi[i] = ms_tensor_get_f64(roi, i);
    }
    return MS_OK;
}

static ms_status rs_parse(ms_kctx *c, rs_plan *p, bool upsample)
{
    ms_status st = rs_attrs(c, p, upsample);
    if (st || (st = rs_shape(c, p, upsample))) return st;
    const ms_tensor *x = c->in[0];
    if (p->mode != RS_NEAREST && x->dtype != MS_DTYPE_FLOAT)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "%s mode on type %s",
                        p->mode == RS_LINEAR ? "linear" : "cubic", ms_dtype_name(x->dtype));
    if (p->coord == CT_TF_CROP_AND_RESIZE && x->dtype != MS_DTYPE_FLOAT)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "tf_crop_and_resize on type %s", ms_dtype_name(x->dtype));
    if (p->mode == RS_NEAREST && !upsample && c->opset < 11)
        for (int d = 0; d < x->ndim; d++)
            if (p->scale[d] < 1)
                /* Resize-10 leaves downsampling's rounding unspecified; runtimes differ */
                return ms_kfail(c, MS_ERR_UNSUPPORTED, "nearest downsampling at opset 10");
    return MS_OK;
}

/* Source coordinate of output index o on an axis (ONNX's reference formulas; the "output
 * width" there is scale * input length, not the rounded output length). */
static double rs_coord(const rs_plan *p, int d, int r, int64_t o, int64_t in)
{
    double s = p->scale[d], x = (double)o, ow = s * (double)in;
    switch (p->coord) {
    case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case CT_PYTORCH_HALF_PIXEL: return ow != 1 ? (x + 0.5) / s - 0.5 : 0;
    case CT_ALIGN_CORNERS: return ow != 1 ? x * (double)(in - 1) / (ow - 1) : 0;
    case CT_ASYMMETRIC: return x / s;
    case CT_TF_HALF_PIXEL_NN: return (x + 0.5) / s;
    default: {
        double a = p->roi[d], b = p->roi[r + d], span = (double)(in - 1);
        double v = ow != 1 ? x * (b - a) * span / (ow - 1) : (b - a) * span / 2;
        return v + a * span;
    }
    }
}

static void rs_cubic(double t, double A, double *w)
{
    double u = 1 - t;
    w[0] = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
    w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
    w[2] = ((A + 2) * u - (A + 3)) * u * u + 1;
    w[3] = ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A;
}

/* Taps for one output coordinate. Like the reference, neighbours come from the input padded by
 * edge values: the window of n taps is kept within n/2 of the ends, then clamped. */
static void rs_make_taps(const rs_plan *p, double x, int64_t in, rs_taps *t)
{
    if (p->coord == CT_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(in - 1))) {
        t->n = 0;
        return;
    }
    double fl = floor(x), frac = x - fl;
    int64_t i0 = (int64_t)fl;
    if (p->mode == RS_NEAREST) {
        int64_t k = i0;
        if (frac > 0) {
            bool up = p->nearest == NM_CEIL || (p->nearest == NM_ROUND_PREFER_CEIL && frac >= 0.5) ||
                      (p->nearest == NM_ROUND_PREFER_FLOOR && frac > 0.5);
            k += up;
        }
        t->n = 1;
        t->idx[0] = k < 0 ? 0 : k >= in ? in - 1 : k;
        t->w[0] = 1;
        return;
    }
    int n = p->mode == RS_LINEAR ? 2 : 4, pad = n / 2;
    double w[4];
    if (n == 2) {
        w[0] = 1 - frac;
        w[1] = frac;
    } else {
        rs_cubic(frac, p->cubic_a, w);
    }
    int64_t start = i0 - (pad - 1), lo = -pad, hi = in + pad - n;
    start = start < lo ? lo : start > hi ? hi : start;
    double sum = 0;
    for (int j = 0; j < n; j++) {
        int64_t k = start + j;
        if (p->exclude_outside && (k < 0 || k >= in)) w[j] = 0;
        sum += w[j];
        t->idx[j] = k < 0 ? 0 : k >= in ? in - 1 : k;
    }
    for (int j = 0; j < n; j++) t->w[j] = p->exclude_outside && sum != 0 ? w[j] / sum : w[j];
    t->n = n;
}

static ms_status rs_infer_common(ms_kctx *c, bool upsample)
{
    ms_status st = ms_kcheck_ninputs(c, 1, upsample ? 2 : 4);
    size_t es;
    if (st || (st = ms_kelem_size(c, c->in[0]->dtype, &es)) || (st = ms_kneed_out(c, 0))) return st;
    const ms_tensor *x = c->in[0];
    rs_plan p;
    if ((st = rs_parse(c, &p, upsample))) return st;
    ms_tensor_set_shape(c->out[0], x->dtype, x->ndim, p.out);
    size_t taps = 0;
    for (int d = 0; d < x->ndim; d++) taps += (size_t)p.out[d];
    c->scratch_size = taps * sizeof(rs_taps);
    return MS_OK;
}

/* Every output element is a weighted sum over the product of its axes' taps (an axis with
 * scale 1 contributes a single tap, so 2-D bilinear on NCHW costs 4 reads). */
static ms_status rs_run_common(ms_kctx *c, bool upsample)
{
    const ms_tensor *x = c->in[0];
    ms_tensor *y = c->out[0];
    rs_plan p;
    ms_status st = rs_parse(c, &p, upsample);
    if (st) return st;
    int r = x->ndim;
    if (memcmp(p.out, y->shape, sizeof(int64_t) * (size_t)r))
        return ms_kfail(c, MS_ERR_INVALID, "output size changed since planning");
    int64_t total = ms_tensor_numel(y);
    if (total == 0) return MS_OK;
    rs_taps *taps[MS_MAX_DIMS], *tp = c->scratch;
    for (int d = 0; d < r; d++) {
        taps[d] = tp;
        for (int64_t o = 0; o < y->shape[d]; o++)
            rs_make_taps(&p, rs_coord(&p, d, r, o, x->shape[d]), x->shape[d], &tp[o]);
        tp += y->shape[d];
    }
    int64_t xst[MS_MAX_DIMS], idx[MS_MAX_DIMS] = {0};
    row_strides(r, x->shape, xst);
    size_t es = ms_dtype_size(x->dtype);
    const uint8_t *src = x->data;
    uint8_t *o = y->data;
    for (int64_t e = 0; e < total; e++, o += es) {
        const rs_taps *t[MS_MAX_DIMS];
        bool outside = false;
        for (int d = 0; d < r; d++) {
            t[d] = &taps[d][idx[d]];
            outside = outside || t[d]->n == 0;
        }
        if (outside) {
            *(float *)o = (float)p.extrapolation;
        } else if (p.mode == RS_NEAREST) {
            int64_t off = 0;
            for (int d = 0; d < r; d++) off += t[d]->idx[0] * xst[d];
            memcpy(o, src + (size_t)off * es, es);
        } else {
            /* odometer over the tap choices of every axis */
            int sel[MS_MAX_DIMS] = {0};
            double acc = 0;
            for (;;) {
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < r; d++) {
                    w *= t[d]->w[sel[d]];
                    off += t[d]->idx[sel[d]] * xst[d];
                }
                if (w != 0) acc += w * ((const float *)x->data)[off];
                int d = r - 1;
                for (; d >= 0; d--) {
                    if (++sel[d] < t[d]->n) break;
                    sel[d] = 0;
                }
                if (d < 0) break;
            }
            *(float *)o = (float)acc;
        }
        next_index(r, y->shape, idx);
    }
    return MS_OK;
}

static ms_status resize_infer(ms_kctx *c) { return rs_infer_common(c, false); }
static ms_status resize_run(ms_kctx *c) { return rs_run_common(c, false); }
static ms_status upsample_infer(ms_kctx *c) { return rs_infer_common(c, true); }
static ms_status upsample_run(ms_kctx *c) { return rs_run_common(c, true); }

/* ---- table ------------------------------------------------------------------------------ */

const ms_kernel ms_ops_gather[] = {
    {"", "Gather", 1, 21, gather_infer, gather_run, NULL, NULL},
    {"", "GatherElements", 11, 21, gather_elements_infer, gather_elements_run, NULL, NULL},
    {"", "GatherND", 11, 21, gathernd_infer, gathernd_run, NULL, NULL},
    {"", "Scatter", 9, 10, scatter_elements_infer, scatter_elements_run, NULL, NULL},
    {"", "ScatterElements", 11, 21, scatter_elements_infer, scatter_elements_run, NULL, NULL},
    {"", "ScatterND", 11, 21, scatternd_infer, scatternd_run, NULL, NULL},
    {"", "Compress", 9, 21, compress_infer, compress_run, NULL, NULL},
    {"", "OneHot", 9, 21, onehot_infer, onehot_run, NULL, NULL},
    {"", "ReverseSequence", 10, 21, revseq_infer, revseq_run, NULL, NULL},
    /* Resize 18 added antialias, axes and keep_aspect_ratio_policy: not implemented */
    {"", "Resize", 10, 17, resize_infer, resize_run, NULL, NULL},
    {"", "Upsample", 7, 9, upsample_infer, upsample_run, NULL, NULL},
    {0},
};
