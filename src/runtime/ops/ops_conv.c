/* ops_conv.c: Conv and ConvTranspose over any number of spatial dimensions (1-D, 2-D, 3-D...),
 * float32. Conv lowers each group to one GEMM: W[Mg, Cg*k] times the matrix of input patches
 * [Cg*k, out]. A stride-1 1-D or 2-D conv (the common 3x3 and 1x1 ones) never builds that
 * matrix: it copies the input with its padding once and ms_sgemm_implicit reads each kernel tap
 * as a shifted window of the copy, with W packed once in prepare and bias + a fused Relu applied
 * as the results are stored. Other convs write the patch matrix (im2col) for ms_sgemm; a conv
 * with one input channel per group (depthwise) is a direct loop instead, since its GEMM would
 * have K = k and M = 1. ConvTranspose is the adjoint: a GEMM W^T * X gives one row
 * per (output channel, kernel offset), scattered back into the output (col2im).
 *
 * Both walk the same index map: for a kernel offset kk, position o of the "small" grid meets
 * position o * stride - pad + kk * dilation of the "big" grid (Conv: small = output,
 * big = input; ConvTranspose: small = input, big = output). patch_row does that walk. */
#include "ms_op.h"

#include "ms_alloc.h"
#include "ms_gemm.h"

#include <string.h>

#define OPSET_MAX 21

/* Kernel sizes, strides, dilations, pads and output sizes above this are refused (no real model
 * comes near), so the geometry arithmetic cannot overflow int64. */
#define GEOM_MAX ((int64_t)1 << 20)

/* ---- geometry ----------------------------------------------------------------------------- */

typedef struct conv_geom {
    int nd;                        /* spatial dimensions */
    int64_t N, C, M, group, Cg, Mg;
    int64_t in[MS_MAX_DIMS], out[MS_MAX_DIMS], k[MS_MAX_DIMS];
    int64_t stride[MS_MAX_DIMS], dil[MS_MAX_DIMS], pad[MS_MAX_DIMS]; /* pad: at the start */
    int64_t in_sp, out_sp, k_sp;   /* products over the spatial dims */
} conv_geom;

/* An optional INTS attribute of exactly n values (into v), else the default. */
static ms_status ints_attr(ms_kctx *c, const char *name, int n, int64_t dflt, int64_t *v)
{
    const int64_t *a;
    int len = ms_attr_ints(c->node, name, &a);
    for (int i = 0; i < n; i++) v[i] = dflt;
    if (len < 0) return MS_OK;
    if (len != n)
        return ms_kfail(c, MS_ERR_INVALID, "%s has %d values, expected %d", name, len, n);
    memcpy(v, a, sizeof(int64_t) * (size_t)n);
    return MS_OK;
}

typedef enum auto_pad { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } auto_pad;

static ms_status auto_pad_get(ms_kctx *c, auto_pad *ap)
{
    const char *s = ms_attr_string(c->node, "auto_pad", "NOTSET");
    if (!strcmp(s, "NOTSET")) *ap = PAD_NOTSET;
    else if (!strcmp(s, "SAME_UPPER")) *ap = PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *ap = PAD_SAME_LOWER;
    else if (!strcmp(s, "VALID")) *ap = PAD_VALID;
    else return ms_kfail(c, MS_ERR_INVALID, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, "
                         "SAME_LOWER, VALID", s);
    return MS_OK;
}

/* What Conv and ConvTranspose share: inputs, channels, kernel, strides, dilations, explicit
 * pads (begin, end). The output size is each op's own. */
static ms_status geom_common(ms_kctx *c, conv_geom *g, bool transpose, int64_t *pads)
{
    ms_status st = ms_kcheck_ninputs(c, 2, 3);
    if (st) return st;
    const ms_tensor *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i] && c->in[i]->dtype != MS_DTYPE_FLOAT)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "input %d is %s; only float32 is supported", i,
                            ms_dtype_name(c->in[i]->dtype));
    if (x->ndim < 3)
        return ms_kfail(c, MS_ERR_INVALID, "X must be [N, C, spatial...], got %d dimensions",
                        (int)x->ndim);
    if (w->ndim != x->ndim)
        return ms_kfail(c, MS_ERR_INVALID, "W has %d dimensions, X has %d", (int)w->ndim, (int)x->ndim);
    int nd = g->nd = x->ndim - 2;
    g->N = x->shape[0];
    g->C = x->shape[1];
    g->group = ms_attr_int(c->node, "group", 1);
    if (g->group < 1 || g->C % g->group)
        return ms_kfail(c, MS_ERR_INVALID, "group %lld does not divide the %lld input channels",
                        (long long)g->group, (long long)g->C);
    g->Cg = g->C / g->group;
    if (!transpose) {
        g->M = w->shape[0];
        if (w->shape[1] != g->Cg || g->M % g->group)
            return ms_kfail(c, MS_ERR_INVALID,
                            "W is [%lld, %lld, ...]; with %lld input channels and group %lld it "
                            "must be [a multiple of %lld, %lld, ...]",
                            (long long)w->shape[0], (long long)w->shape[1], (long long)g->C,
                            (long long)g->group, (long long)g->group, (long long)g->Cg);
        g->Mg = g->M / g->group;
    } else {
        if (w->shape[0] != g->C)
            return ms_kfail(c, MS_ERR_INVALID, "W has %lld input channels, X has %lld",
                            (long long)w->shape[0], (long long)g->C);
        g->Mg = w->shape[1];
        g->M = g->Mg * g->group;
    }
    if (b && (b->ndim != 1 || b->shape[0] != g->M))
        return ms_kfail(c, MS_ERR_INVALID, "B must be 1-D of length %lld", (long long)g->M);

    int64_t ks[MS_MAX_DIMS];
    if ((st = ints_attr(c, "kernel_shape", nd, -1, ks))) return st;
    if ((st = ints_attr(c, "strides", nd, 1, g->stride))) return st;
    if ((st = ints_attr(c, "dilations", nd, 1, g->dil))) return st;
    if ((st = ints_attr(c, "pads", 2 * nd, 0, pads))) return st;
    g->in_sp = g->k_sp = 1;
    for (int d = 0; d < nd; d++) {
        g->in[d] = x->shape[2 + d];
        g->k[d] = w->shape[2 + d];
        if (g->k[d] < 1)
            return ms_kfail(c, MS_ERR_INVALID, "W has an empty spatial dimension %d", d);
        if (ks[d] != -1 && ks[d] != g->k[d])
            return ms_kfail(c, MS_ERR_INVALID, "kernel_shape[%d] = %lld but W has %lld", d,
                            (long long)ks[d], (long long)g->k[d]);
        if (g->stride[d] < 1 || g->dil[d] < 1)
            return ms_kfail(c, MS_ERR_INVALID, "strides and dilations must be positive");
        if (pads[d] < 0 || pads[nd + d] < 0)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "negative pads are not supported");
        if (g->k[d] > GEOM_MAX || g->stride[d] > GEOM_MAX || g->dil[d] > GEOM_MAX ||
            pads[d] > GEOM_MAX || pads[nd + d] > GEOM_MAX)
            return ms_kfail(c, MS_ERR_UNSUPPORTED, "kernel, stride, dilation or pad above %lld",
                            (long long)GEOM_MAX);
        g->in_sp *= g->in[d];
        g->k_sp *= g->k[d];
    }
    return MS_OK;
}

/* g->out_sp from g->out, refusing an output too large to address. */
static ms_status out_size(ms_kctx *c, conv_geom *g)
{
    g->out_sp = 1;
    for (int d = 0; d < g->nd; d++) {
        if (g->out[d] > ((int64_t)1 << 40) ||
            (g->out[d] && g->out_sp > ((int64_t)1 << 40) / g->out[d]))
            return ms_kfail(c, MS_ERR_INVALID, "the output would be impossibly large");
        g->out_sp *= g->out[d];
    }
    return MS_OK;
}

static ms_status conv_geom_get(ms_kctx *c, conv_geom *g)
{
    int64_t pads[2 * MS_MAX_DIMS];
    auto_pad ap;
    ms_status st = geom_common(c, g, false, pads);
    if (st || (st = auto_pad_get(c, &ap))) return st;
    g->out_sp = 1;
    for (int d = 0; d < g->nd; d++) {
        int64_t span = (g->k[d] - 1) * g->dil[d] + 1; /* the dilated kernel's extent */
        int64_t s = g->stride[d], in = g->in[d];
        if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
            /* pad so that out = ceil(in / stride); an odd total puts the extra cell at the end
             * (UPPER) or the start (LOWER) */
            g->out[d] = (in + s - 1) / s;
            int64_t total = (g->out[d] - 1) * s + span - in;
            if (total < 0) total = 0;
            g->pad[d] = ap == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            continue;
        }
        int64_t pb = ap == PAD_VALID ? 0 : pads[d], pe = ap == PAD_VALID ? 0 : pads[g->nd + d];
        int64_t room = in + pb + pe - span;
        if (room < 0)
            return ms_kfail(c, MS_ERR_INVALID,
                            "spatial dimension %d: the kernel (extent %lld) is larger than the "
                            "padded input (%lld)", d, (long long)span, (long long)(in + pb + pe));
        g->out[d] = room / s + 1;
        g->pad[d] = pb;
    }
    return out_size(c, g);
}

static ms_status convt_geom_get(ms_kctx *c, conv_geom *g)
{
    int64_t pads[2 * MS_MAX_DIMS], opad[MS_MAX_DIMS], oshape[MS_MAX_DIMS];
    auto_pad ap;
    ms_status st = geom_common(c, g, true, pads);
    if (st || (st = auto_pad_get(c, &ap))) return st;
    if ((st = ints_attr(c, "output_padding", g->nd, 0, opad))) return st;
    /* output_shape may list the spatial sizes alone or with N and C in front */
    const int64_t *os;
    int nos = ms_attr_ints(c->node, "output_shape", &os);
    if (nos >= 0) {
        if (nos != g->nd && nos != g->nd + 2)
            return ms_kfail(c, MS_ERR_INVALID, "output_shape has %d values, expected %d", nos,
                            g->nd);
        memcpy(oshape, os + (nos - g->nd), sizeof(int64_t) * (size_t)g->nd);
        for (int d = 0; d < g->nd; d++)
            if (oshape[d] < 0 || oshape[d] > ((int64_t)1 << 40))
                return ms_kfail(c, MS_ERR_INVALID, "output_shape[%d] = %lld is out of range", d,
                                (long long)oshape[d]);
    }
    g->out_sp = 1;
    for (int d = 0; d < g->nd; d++) {
        int64_t span = (g->k[d] - 1) * g->dil[d] + 1, s = g->stride[d];
        if (opad[d] < 0 || (opad[d] >= s && opad[d] >= g->dil[d]))
            return ms_kfail(c, MS_ERR_INVALID, "output_padding[%d] = %lld is out of range", d,
                            (long long)opad[d]);
        int64_t full = s * (g->in[d] - 1) + opad[d] + span; /* the unpadded output extent */
        if (nos >= 0 || ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
            /* the output size is given (or in * stride): pads follow from it; an odd total
             * puts the extra cell at the end for SAME_UPPER, at the start otherwise */
            int64_t out = nos >= 0 ? oshape[d] : g->in[d] * s;
            int64_t total = full - out;
            /* total < 0 (a larger output than the input covers) pads with output cells; halve
             * by flooring, as the ONNX reference does, so the extra cell goes at the end */
            int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);
            g->out[d] = out;
            g->pad[d] = ap == PAD_SAME_UPPER ? half : total - half;
        } else {
            int64_t pb = ap == PAD_VALID ? 0 : pads[d], pe = ap == PAD_VALID ? 0 : pads[g->nd + d];
            g->out[d] = full - pb - pe;
            g->pad[d] = pb;
        }
        if (g->out[d] < 0)
            return ms_kfail(c, MS_ERR_INVALID, "spatial dimension %d of the output would be %lld",
                            d, (long long)g->out[d]);
    }
    return out_size(c, g);
}

static void set_output(ms_kctx *c, const conv_geom *g)
{
    int64_t shape[MS_MAX_DIMS];
    shape[0] = g->N;
    shape[1] = g->M;
    memcpy(shape + 2, g->out, sizeof(int64_t) * (size_t)g->nd);
    ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, g->nd + 2, shape);
}

/* Y rows [0, rows) of length len: bias[row] each (0 without a bias). */
static void fill_bias(float *y, const float *bias, int64_t rows, int64_t len)
{
    for (int64_t r = 0; r < rows; r++) {
        float v = bias ? bias[r] : 0.0f;
        for (int64_t i = 0; i < len; i++) y[r * len + i] = v;
    }
}

/* ---- the index walk ----------------------------------------------------------------------- */

typedef enum patch_mode {
    PATCH_GATHER,      /* small[o] = big[i], 0 where i falls in the padding (im2col) */
    PATCH_GATHER_AXPY, /* small[o] += w * big[i] where i is inside (direct depthwise) */
    PATCH_SCATTER_ADD, /* big[i] += small[o] where i is inside (col2im) */
} patch_mode;

/* For kernel offset kk (per dim), walk every position o of the small grid and the big-grid
 * position i = o * stride - pad + kk * dil it meets. The last dimension is the inner loop, with
 * the in-range span of o computed up front so that loop has no bounds tests. */
static void patch_row(int nd, const int64_t *small_dims, const int64_t *big_dims,
                      const int64_t *stride, const int64_t *dil, const int64_t *pad,
                      const int64_t *kk, patch_mode mode, float w, float *small, float *big)
{
    int L = nd - 1;
    int64_t len = small_dims[L], wid = big_dims[L], s = stride[L];
    int64_t i0 = kk[L] * dil[L] - pad[L]; /* big index of o = 0 in the last dim */
    /* o in [lo, hi) keeps 0 <= i0 + o * s < wid */
    int64_t lo = i0 >= 0 ? 0 : (-i0 + s - 1) / s;
    int64_t hi = wid - i0 <= 0 ? 0 : (wid - i0 + s - 1) / s;
    if (hi > len) hi = len;
    if (lo > hi) lo = hi;
    int64_t outer = 1, od[MS_MAX_DIMS];
    for (int d = 0; d < L; d++) {
        outer *= small_dims[d];
        od[d] = 0;
    }
    for (int64_t q = 0; q < outer; q++) {
        float *srow = small + q * len;
        bool inside = true;
        int64_t off = 0;
        for (int d = 0; d < L; d++) {
            int64_t i = od[d] * stride[d] - pad[d] + kk[d] * dil[d];
            if (i < 0 || i >= big_dims[d]) inside = false;
            off = off * big_dims[d] + i;
        }
        if (inside) {
            int64_t base = off * wid + i0; /* big index of o = 0 on this row */
            switch (mode) {
            case PATCH_GATHER:
                for (int64_t o = 0; o < lo; o++) srow[o] = 0.0f;
                if (s == 1) memcpy(srow + lo, big + base + lo, sizeof(float) * (size_t)(hi - lo));
                else for (int64_t o = lo; o < hi; o++) srow[o] = big[base + o * s];
                for (int64_t o = hi; o < len; o++) srow[o] = 0.0f;
                break;
            case PATCH_GATHER_AXPY:
                for (int64_t o = lo; o < hi; o++) srow[o] += w * big[base + o * s];
                break;
            case PATCH_SCATTER_ADD:
                for (int64_t o = lo; o < hi; o++) big[base + o * s] += srow[o];
                break;
            }
        } else if (mode == PATCH_GATHER) {
            memset(srow, 0, sizeof(float) * (size_t)len);
        }
        for (int d = L - 1; d >= 0; d--) {
            if (++od[d] < small_dims[d]) break;
            od[d] = 0;
        }
    }
}

/* Kernel offset index kidx as per-dimension offsets. */
static void kernel_offset(const conv_geom *g, int64_t kidx, int64_t *kk)
{
    for (int d = g->nd - 1; d >= 0; d--) {
        kk[d] = kidx % g->k[d];
        kidx /= g->k[d];
    }
}

/* ---- Conv ------------------------------------------------------------------------------------ */

static bool conv_is_pointwise(const conv_geom *g)
{
    for (int d = 0; d < g->nd; d++)
        if (g->k[d] != 1 || g->stride[d] != 1 || g->pad[d] != 0) return false;
    return true;
}

static bool conv_is_depthwise(const conv_geom *g) { return g->Cg == 1 && g->group > 1; }

static size_t col_bytes(const conv_geom *g)
{
    return (sizeof(float) * (size_t)(g->Cg * g->k_sp * g->out_sp) + 63) & ~(size_t)63;
}

/* ---- Conv: implicit GEMM (stride 1, 1-D and 2-D) ----------------------------------------- */

/* Stride 1, 1-D or 2-D, not depthwise; and the columns computed but not kept (the dilated
 * kernel's width less one, per output row) do not outnumber the output's. */
static bool conv_is_implicit(const conv_geom *g)
{
    if (g->nd > 2 || conv_is_depthwise(g)) return false;
    for (int d = 0; d < g->nd; d++)
        if (g->stride[d] != 1) return false;
    int L = g->nd - 1;
    return (g->k[L] - 1) * g->dil[L] <= g->out[L] + 8;
}

/* The 2-D view of an implicit conv (1-D: one row) and its padded input plane Hp x Wp. With
 * stride 1, output row oh and kernel row r read padded row oh + r * dh, so the grid of output
 * positions is the padded plane's rows (pitch Wp) and tap (ch, r, s) starts at
 * ch * Hp * Wp + r * dh * Wp + s * dw. */
typedef struct conv_plane {
    int64_t H, W, kh, kw, dh, dw, ph, pw, OH, OW, Hp, Wp;
} conv_plane;

static conv_plane conv_plane_of(const conv_geom *g)
{
    conv_plane p;
    int L = g->nd - 1;
    bool one = g->nd == 1;
    p.H = one ? 1 : g->in[0];
    p.kh = one ? 1 : g->k[0];
    p.dh = one ? 1 : g->dil[0];
    p.ph = one ? 0 : g->pad[0];
    p.OH = one ? 1 : g->out[0];
    p.W = g->in[L];
    p.kw = g->k[L];
    p.dw = g->dil[L];
    p.pw = g->pad[L];
    p.OW = g->out[L];
    /* the padded extent: for stride 1, out = padded - dilated kernel + 1 */
    p.Hp = p.OH + (p.kh - 1) * p.dh;
    p.Wp = p.OW + (p.kw - 1) * p.dw;
    return p;
}

/* The padded copy of one group's input, plus the MS_SGEMM_TILE floats the last tile reads past
 * it; 64-byte multiple. */
static size_t xpad_bytes(const conv_geom *g, const conv_plane *p)
{
    return (sizeof(float) * (size_t)(g->Cg * p->Hp * p->Wp + MS_SGEMM_TILE) + 63) & ~(size_t)63;
}

static size_t boff_bytes(int64_t K) { return (sizeof(int64_t) * (size_t)K + 63) & ~(size_t)63; }

/* Prepare's state when W is a constant: the geometry for the X shape it saw (so a run with that
 * shape parses no attributes) and, for the implicit path, W packed per group. */
typedef struct conv_state {
    int32_t xndim;
    int64_t xshape[MS_MAX_DIMS];
    conv_geom g;
    /* implicit path: group gi at gi * ms_sgemm_pack_a_size(Mg, K) bytes; or NULL. Usually the
     * model's, shared by its sessions (ms_kshare); own_data when this session's alone. */
    const float *data;
    int own_data;
} conv_state;

static void conv_release(void *state)
{
    conv_state *st = state;
    if (!st) return;
    if (st->own_data) ms_aligned_free((void *)st->data);
    ms_free(st);
}

/* The geometry of this call: prepare's copy when X still has the shape it was made for. */
static ms_status conv_geom_cached(ms_kctx *c, conv_geom *g)
{
    const conv_state *cs = c->state;
    if (!cs || c->n_in < 2 || !c->in[0]) return conv_geom_get(c, g);
    const ms_tensor *x = c->in[0], *b = c->n_in > 2 ? c->in[2] : NULL;
    /* W is a constant; a bias that is not could change shape: check it as geom_common does */
    if (x->ndim == cs->xndim &&
        !memcmp(x->shape, cs->xshape, sizeof(int64_t) * (size_t)x->ndim) &&
        (!b || (b->ndim == 1 && b->shape[0] == cs->g.M))) {
        *g = cs->g;
        return MS_OK;
    }
    return conv_geom_get(c, g);
}

static ms_status conv_prepare(ms_kctx *c, void **state)
{
    *state = NULL;
    conv_geom g;
    if (!(c->const_inputs & 2)) return MS_OK;
    ms_status st = conv_geom_get(c, &g);
    if (st) return st;
    conv_state *cs = ms_malloc(sizeof *cs);
    if (!cs) return ms_kfail(c, MS_ERR_RUNTIME, "out of memory preparing the node");
    cs->xndim = c->in[0]->ndim;
    memcpy(cs->xshape, c->in[0]->shape, sizeof cs->xshape);
    cs->g = g;
    cs->data = NULL;
    cs->own_data = 0;
    /* the packing depends on W and the attributes alone: made once per model */
    if (conv_is_implicit(&g) && g.Mg > 0 && !(cs->data = ms_kshared(c, 0))) {
        int64_t K = g.Cg * g.k_sp;
        size_t gsize = ms_sgemm_pack_a_size(g.Mg, K);
        char *packed = ms_aligned_alloc(gsize * (size_t)g.group);
        if (!packed) {
            ms_free(cs);
            return ms_kfail(c, MS_ERR_RUNTIME, "out of memory packing the weights");
        }
        const float *W = c->in[1]->data;
        for (int64_t gi = 0; gi < g.group; gi++)
            ms_sgemm_pack_a(g.Mg, K, W + gi * g.Mg * K, K, (float *)(packed + gsize * (size_t)gi));
        cs->data = ms_kshare(c, 0, packed, ms_aligned_free);
        if (!cs->data) cs->data = (const float *)packed, cs->own_data = 1;
    }
    *state = cs;
    return MS_OK;
}

static void conv_run_implicit(ms_kctx *c, const conv_geom *g, const float *X, const float *W,
                              const float *bias, float *Y)
{
    conv_plane p = conv_plane_of(g);
    int64_t K = g->Cg * g->k_sp, plane = p.Hp * p.Wp;
    size_t xb = xpad_bytes(g, &p), gsize = ms_sgemm_pack_a_size(g->Mg, K);
    float *xpad = c->scratch;
    int64_t *boff = (int64_t *)((char *)c->scratch + xb);
    void *work = (char *)boff + boff_bytes(K);
    const conv_state *cs = c->state;
    /* the packing holds for W's shape, which a constant W keeps */
    if (cs && (!cs->data || cs->g.Mg != g->Mg || cs->g.Cg * cs->g.k_sp != K ||
               cs->g.group != g->group))
        cs = NULL;
    for (int64_t ch = 0, k = 0; ch < g->Cg; ch++)
        for (int64_t r = 0; r < p.kh; r++)
            for (int64_t s = 0; s < p.kw; s++) boff[k++] = ch * plane + r * p.dh * p.Wp + s * p.dw;
    /* the padding stays zero: each image only rewrites the interior */
    memset(xpad, 0, xb);
    int64_t rows = p.H < p.Hp - p.ph ? p.H : p.Hp - p.ph;
    int64_t cols = p.W < p.Wp - p.pw ? p.W : p.Wp - p.pw;
    ms_sgemm_grid grid = {p.OH, p.Wp, p.OW};
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t gi = 0; gi < g->group; gi++) {
            const float *xg = X + (n * g->C + gi * g->Cg) * g->in_sp;
            for (int64_t ch = 0; ch < g->Cg; ch++)
                for (int64_t ih = 0; ih < rows; ih++)
                    memcpy(xpad + ch * plane + (ih + p.ph) * p.Wp + p.pw,
                           xg + ch * g->in_sp + ih * p.W, sizeof(float) * (size_t)cols);
            const float *ap = cs ? (const float *)((const char *)cs->data + gsize * (size_t)gi)
                                 : NULL;
            ms_sgemm_implicit(g->Mg, K, W + gi * g->Mg * K, K, ap, xpad, boff, &grid,
                              Y + (n * g->M + gi * g->Mg) * g->out_sp, g->out_sp,
                              bias ? bias + gi * g->Mg : NULL, c->post_relu, work);
        }
}

/* ---- Conv: the other shapes ------------------------------------------------------------- */

static ms_status conv_infer(ms_kctx *c)
{
    conv_geom g;
    ms_status st = conv_geom_cached(c, &g);
    if (st) return st;
    set_output(c, &g);
    if (conv_is_implicit(&g)) {
        conv_plane p = conv_plane_of(&g);
        int64_t K = g.Cg * g.k_sp;
        c->scratch_size = xpad_bytes(&g, &p) + boff_bytes(K) + ms_sgemm_implicit_workspace(K);
        return MS_OK;
    }
    if (conv_is_depthwise(&g)) return MS_OK;
    c->scratch_size = (conv_is_pointwise(&g) ? 0 : col_bytes(&g)) +
                      ms_sgemm_workspace(g.Mg, g.out_sp, g.Cg * g.k_sp);
    return MS_OK;
}

/* One input channel per group: y[m] = bias + sum over kernel offsets of w * shifted x. */
static void conv_depthwise(const conv_geom *g, const float *x, const float *w, const float *bias,
                           float *y)
{
    int64_t kk[MS_MAX_DIMS];
    for (int64_t m = 0; m < g->M; m++) {
        const float *xc = x + (m / g->Mg) * g->in_sp;
        float *ym = y + m * g->out_sp;
        fill_bias(ym, bias ? bias + m : NULL, 1, g->out_sp);
        for (int64_t kidx = 0; kidx < g->k_sp; kidx++) {
            kernel_offset(g, kidx, kk);
            patch_row(g->nd, g->out, g->in, g->stride, g->dil, g->pad, kk, PATCH_GATHER_AXPY,
                      w[m * g->k_sp + kidx], ym, (float *)xc);
        }
    }
}

static ms_status conv_run(ms_kctx *c)
{
    conv_geom g;
    ms_status st = conv_geom_cached(c, &g);
    if (st) return st;
    const float *X = c->in[0]->data, *W = c->in[1]->data;
    const float *bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    float *Y = c->out[0]->data;
    if (conv_is_implicit(&g)) {
        conv_run_implicit(c, &g, X, W, bias, Y);
        return MS_OK;
    }
    bool depthwise = conv_is_depthwise(&g), pointwise = conv_is_pointwise(&g);
    float *col = c->scratch;
    void *work = (char *)c->scratch + (pointwise ? 0 : col_bytes(&g));
    int64_t K = g.Cg * g.k_sp, kk[MS_MAX_DIMS];
    for (int64_t n = 0; n < g.N; n++) {
        const float *x = X + n * g.C * g.in_sp;
        float *y = Y + n * g.M * g.out_sp;
        if (depthwise) {
            conv_depthwise(&g, x, W, bias, y);
            continue;
        }
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + gi * g.Cg * g.in_sp;
            float *yg = y + gi * g.Mg * g.out_sp;
            const float *B = xg; /* pointwise: the input is already [Cg, out] */
            if (!pointwise) {
                for (int64_t ch = 0; ch < g.Cg; ch++)
                    for (int64_t kidx = 0; kidx < g.k_sp; kidx++) {
                        kernel_offset(&g, kidx, kk);
                        patch_row(g.nd, g.out, g.in, g.stride, g.dil, g.pad, kk, PATCH_GATHER,
                                  0.0f, col + (ch * g.k_sp + kidx) * g.out_sp,
                                  (float *)(xg + ch * g.in_sp));
                    }
                B = col;
            }
            if (bias) fill_bias(yg, bias + gi * g.Mg, g.Mg, g.out_sp);
            ms_sgemm(false, false, g.Mg, g.out_sp, K, 1.0f, W + gi * g.Mg * K, K, B, g.out_sp,
                     bias ? 1.0f : 0.0f, yg, g.out_sp, work);
        }
    }
    if (c->post_relu) { /* a fused Relu; NaN stays NaN, as in the Relu kernel */
        int64_t n = g.N * g.M * g.out_sp;
        for (int64_t i = 0; i < n; i++) Y[i] = Y[i] < 0.0f ? 0.0f : Y[i];
    }
    return MS_OK;
}

/* ---- ConvTranspose ----------------------------------------------------------------------- */

static size_t convt_col_bytes(const conv_geom *g)
{
    return (sizeof(float) * (size_t)(g->Mg * g->k_sp * g->in_sp) + 63) & ~(size_t)63;
}

static ms_status convt_infer(ms_kctx *c)
{
    conv_geom g;
    ms_status st = convt_geom_get(c, &g);
    if (st) return st;
    set_output(c, &g);
    c->scratch_size = convt_col_bytes(&g) + ms_sgemm_workspace(g.Mg * g.k_sp, g.in_sp, g.Cg);
    return MS_OK;
}

static ms_status convt_run(ms_kctx *c)
{
    conv_geom g;
    ms_status st = convt_geom_get(c, &g);
    if (st) return st;
    const float *X = c->in[0]->data, *W = c->in[1]->data;
    const float *bias = c->n_in > 2 && c->in[2] ? c->in[2]->data : NULL;
    float *Y = c->out[0]->data;
    float *col = c->scratch;
    void *work = (char *)c->scratch + convt_col_bytes(&g);
    int64_t rows = g.Mg * g.k_sp, kk[MS_MAX_DIMS];
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = X + (n * g.C + gi * g.Cg) * g.in_sp;
            const float *wg = W + gi * g.Cg * rows; /* [Cg, Mg * k] */
            float *yg = Y + (n * g.M + gi * g.Mg) * g.out_sp;
            /* col[Mg * k, in] = W_g^T * X_g: each input cell's contribution per (m, offset) */
            ms_sgemm(true, false, rows, g.in_sp, g.Cg, 1.0f, wg, rows, xg, g.in_sp, 0.0f, col,
                     g.in_sp, work);
            fill_bias(yg, bias ? bias + gi * g.Mg : NULL, g.Mg, g.out_sp);
            for (int64_t m = 0; m < g.Mg; m++)
                for (int64_t kidx = 0; kidx < g.k_sp; kidx++) {
                    kernel_offset(&g, kidx, kk);
                    patch_row(g.nd, g.in, g.out, g.stride, g.dil, g.pad, kk, PATCH_SCATTER_ADD,
                              0.0f, col + (m * g.k_sp + kidx) * g.in_sp, yg + m * g.out_sp);
                }
        }
    return MS_OK;
}

const ms_kernel ms_ops_conv[] = {
    {"", "Conv", 1, OPSET_MAX, conv_infer, conv_run, conv_prepare, conv_release, 1},
    {"", "ConvTranspose", 1, OPSET_MAX, convt_infer, convt_run, NULL, NULL},
    {0},
};
