/* ex_lower.c: ONNX nodes -> the exporter's layers (ex_int.h), then the arena layout.
 *
 * Only the nodes the exported output needs are lowered, and none that ex_graph folded into
 * constants. Fusions, each only when the intermediate has no other reader: Conv ->
 * BatchNormalization (folded into the weights), Conv/Gemm/MatMul -> Relu/LeakyRelu/Sigmoid/
 * Tanh (applied as the layer stores). Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout,
 * a float Cast and ZipMap are aliases: no code, no copy. Anything else is MS_ERR_UNSUPPORTED
 * naming the operator and node. */
#include "ex_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"

/* ---- buffers and layers ------------------------------------------------------------------ */

static int new_buf(ex_plan *p, ex_buf_kind kind, int64_t n)
{
    if (p->n_bufs == p->cap_bufs) {
        int cap = p->cap_bufs ? 2 * p->cap_bufs : 16;
        ex_buf *nb = realloc(p->bufs, (size_t)cap * sizeof *nb);
        if (!nb) return -1;
        p->bufs = nb, p->cap_bufs = cap;
    }
    p->bufs[p->n_bufs] = (ex_buf){.kind = kind, .n = n, .alias = -1, .first = -1, .last = -1};
    return p->n_bufs++;
}

static int root(const ex_plan *p, int b)
{
    while (b >= 0 && p->bufs[b].kind == EX_BUF_ALIAS) b = p->bufs[b].alias;
    return b;
}

static ex_layer *new_layer(ex_plan *p, ex_kind kind, const ms_node *n)
{
    if (p->n_layers == p->cap_layers) {
        int cap = p->cap_layers ? 2 * p->cap_layers : 16;
        ex_layer *nl = realloc(p->layers, (size_t)cap * sizeof *nl);
        if (!nl) return NULL;
        p->layers = nl, p->cap_layers = cap;
    }
    ex_layer *l = &p->layers[p->n_layers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->node = n->name[0] ? n->name : n->op_type;
    l->scratch = -1;
    return l;
}

/* ---- the reader graph --------------------------------------------------------------------- */

typedef struct lower_ctx {
    ex_plan *p;
    int *readers;   /* per value: lowered nodes reading it (+1 for the exported output) */
    int *reader;    /* per value: the last such node */
    uint8_t *done;  /* per node: lowered already (fused into a predecessor) */
} lower_ctx;

static int is_op(const ms_node *n, const char *dom, const char *op)
{
    return !strcmp(n->domain, dom) && !strcmp(n->op_type, op);
}

/* The one node reading value v, when there is exactly one and v is not the output. */
static const ms_node *sole_reader(const lower_ctx *lc, int v)
{
    if (lc->readers[v] != 1 || v == lc->p->out_value) return NULL;
    return &lc->p->m->nodes[lc->reader[v]];
}

/* The node's input k as a non-constant buffer (an error when it is constant or missing). */
static int in_buf(lower_ctx *lc, const ms_node *n, int k)
{
    if (k >= n->n_in || n->in[k] < 0) return -1;
    return lc->p->buf_of[n->in[k]];
}

static const ms_tensor *const_in(const lower_ctx *lc, const ms_node *n, int k)
{
    if (k >= n->n_in || n->in[k] < 0 || !lc->p->is_const[n->in[k]]) return NULL;
    return &lc->p->vals[n->in[k]];
}

static int out_arena(lower_ctx *lc, int v)
{
    int b = new_buf(lc->p, EX_BUF_ARENA, ex_numel(&lc->p->vals[v]));
    if (b >= 0) lc->p->buf_of[v] = b;
    return b;
}

/* Fold a following activation into layer l: returns the value the layer now writes. */
static int fuse_act(lower_ctx *lc, ex_layer *l, int v)
{
    const ms_node *r = sole_reader(lc, v);
    if (!r || r->domain[0]) return v;
    ex_act a = !strcmp(r->op_type, "Relu") ? EX_ACT_RELU
             : !strcmp(r->op_type, "LeakyRelu") ? EX_ACT_LEAKY
             : !strcmp(r->op_type, "Sigmoid") ? EX_ACT_SIGMOID
             : !strcmp(r->op_type, "Tanh") ? EX_ACT_TANH : EX_ACT_NONE;
    if (a == EX_ACT_NONE) return v;
    l->act = a;
    l->alpha = ms_attr_float(r, "alpha", 0.01f);
    lc->done[r->index] = 1;
    return r->out[0];
}

/* ---- networks ----------------------------------------------------------------------------- */

/* Dense weights in blocks of 8 output rows, interleaved by input (w[blk][i][0..7]), then single
 * rows: the kernel reads them once, in order. A small layer (ex_plan.dense_small) is all single
 * rows, for the one-row kernel. */
static float *dense_pack(const ms_tensor *B, int trans, int64_t K, int64_t N, float alpha, int small)
{
    float *w = ex_calloc((size_t)(K * N), sizeof *w);
    if (!w) return NULL;
    int64_t at = 0, o = 0;
    for (int blk = small ? 1 : 8; blk >= 1; blk = blk == 8 ? 1 : 0)
        for (; o + blk <= N; o += blk)
            for (int64_t i = 0; i < K; i++)
                for (int j = 0; j < blk; j++) {
                    int64_t r = o + j;
                    double v = ms_tensor_get_f64(B, trans ? r * K + i : i * N + r);
                    w[at++] = (float)(alpha == 1.0f ? v : (double)(float)(alpha * (float)v));
                }
    return w;
}

static ms_status lower_dense(lower_ctx *lc, const ms_node *n, int gemm)
{
    ex_plan *p = lc->p;
    const ms_tensor *A = &p->vals[n->in[0]], *B = const_in(lc, n, 1), *C = gemm ? const_in(lc, n, 2) : NULL;
    if (!B || p->is_const[n->in[0]]) return ex_unsupported(p, n, "needs a variable input and constant weights");
    if (B->ndim != 2) return ex_unsupported(p, n, "weights must be a matrix");
    int ta = gemm ? (int)ms_attr_int(n, "transA", 0) : 0, tb = gemm ? (int)ms_attr_int(n, "transB", 0) : 0;
    int64_t K = tb ? B->shape[1] : B->shape[0], N = tb ? B->shape[0] : B->shape[1];
    if (ta || ex_numel(A) != K) return ex_unsupported(p, n, "only one row (batch 1) of A, not transposed");
    if (gemm && n->n_in > 2 && n->in[2] >= 0 && !C) return ex_unsupported(p, n, "bias C must be constant");
    float alpha = gemm ? ms_attr_float(n, "alpha", 1.0f) : 1.0f, beta = gemm ? ms_attr_float(n, "beta", 1.0f) : 1.0f;
    ex_layer *l = new_layer(p, EX_DENSE, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->p[0] = K, l->p[1] = N, l->p[2] = K * N <= p->dense_small;
    l->w = dense_pack(B, tb, K, N, alpha, (int)l->p[2]), l->n_w = K * N;
    l->b = ex_calloc((size_t)N, sizeof(float)), l->n_b = N;
    if (!l->w || !l->b) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    int64_t nc = C ? ex_numel(C) : 0;
    if (C && nc != 1 && nc != N) return ex_unsupported(p, n, "bias C must have N values or one");
    for (int64_t o = 0; C && o < N; o++) {
        float c = (float)ms_tensor_get_f64(C, nc == 1 ? 0 : o);
        l->b[o] = beta == 1.0f ? c : beta * c;
    }
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    l->out = out_arena(lc, fuse_act(lc, l, n->out[0]));
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

/* Explicit pads (begin h, begin w, end h, end w) from the attributes or auto_pad. */
static int conv_pads(const ms_node *n, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t KH,
                     int64_t KW, int64_t sh, int64_t sw, int64_t pads[4])
{
    const char *ap = ms_attr_string(n, "auto_pad", "NOTSET");
    const int64_t *pv;
    int np = ms_attr_ints(n, "pads", &pv);
    memset(pads, 0, 4 * sizeof *pads);
    if (!strcmp(ap, "NOTSET")) {
        if (np == 4) memcpy(pads, pv, 4 * sizeof *pads);
        else if (np > 0) return -1;
        return 0;
    }
    if (!strcmp(ap, "VALID")) return 0;
    int64_t th = (OH - 1) * sh + KH - H, tw = (OW - 1) * sw + KW - W;
    if (th < 0) th = 0;
    if (tw < 0) tw = 0;
    int lower = !strcmp(ap, "SAME_LOWER");
    pads[0] = lower ? (th + 1) / 2 : th / 2, pads[2] = th - pads[0];
    pads[1] = lower ? (tw + 1) / 2 : tw / 2, pads[3] = tw - pads[1];
    return 0;
}

static int unit_dilations(const ms_node *n)
{
    const int64_t *d;
    int nd = ms_attr_ints(n, "dilations", &d);
    for (int i = 0; i < nd; i++)
        if (d[i] != 1) return 0;
    return 1;
}

/* Conv weights in blocks of 4 output channels, interleaved per tap (w[blk][c][kh][kw][0..3]),
 * each scaled by its BatchNormalization factor; OC is padded to OCp (a multiple of 4) with zero
 * channels, so the kernel has one path (their outputs land in the arena's padding and are never
 * read: the output buffer is sized OCp planes). */
float *ex_conv_pack(const ms_tensor *Wt, int64_t OC, int64_t OCp, int64_t taps, const double *scale)
{
    float *w = ex_calloc((size_t)(OCp * taps), sizeof *w);
    if (!w) return NULL;
    for (int64_t o = 0; o < OC; o++)
        for (int64_t t = 0; t < taps; t++) {
            double v = ms_tensor_get_f64(Wt, o * taps + t);
            w[(o / 4 * taps + t) * 4 + o % 4] = scale ? (float)(v * scale[o]) : (float)v;
        }
    return w;
}

/* BatchNormalization as y = x * scale[c] + shift[c]: t = {gamma, beta, mean, var}, in double. */
void ex_bn_params(const ms_tensor *const t[4], double eps, int64_t C, double *scale, double *shift)
{
    for (int64_t c = 0; c < C; c++) {
        double g = ms_tensor_get_f64(t[0], c), b = ms_tensor_get_f64(t[1], c);
        double mean = ms_tensor_get_f64(t[2], c), var = ms_tensor_get_f64(t[3], c);
        scale[c] = g / sqrt(var + eps);
        shift[c] = b - mean * scale[c];
    }
}

/* A BatchNormalization reading the Conv's output alone, with constant parameters: its
 * per-channel factor and shift (double), or 0. */
static int bn_fold(lower_ctx *lc, int v, int64_t OC, double *scale, double *shift, const ms_node **bn)
{
    const ms_node *r = sole_reader(lc, v);
    if (!r || !is_op(r, "", "BatchNormalization") || r->n_out > 1 || r->n_in != 5) return 0;
    const ms_tensor *t[4];
    for (int k = 0; k < 4; k++)
        if (!(t[k] = const_in(lc, r, k + 1)) || ex_numel(t[k]) != OC) return 0;
    ex_bn_params(t, ms_attr_float(r, "epsilon", 1e-5f), OC, scale, shift);
    *bn = r;
    return 1;
}

/* A MaxPool reading value v (the conv's activated output) alone that the conv can fuse: a 2x2
 * window with stride 2, no pads, no dilation, floor-sized output, the Indices unread. Returns
 * the window (2, or 1: none) and sets *pool. */
static int64_t pool_fuse(lower_ctx *lc, int v, int64_t OH, int64_t OW, const ms_node **pool)
{
    const ms_node *r = sole_reader(lc, v);
    const int64_t *k, *st, *pd;
    if (!r || !is_op(r, "", "MaxPool") || !unit_dilations(r)) return 1;
    if (r->n_out > 1 && r->out[1] >= 0 && lc->readers[r->out[1]]) return 1;
    if (ms_attr_ints(r, "kernel_shape", &k) != 2 || k[0] != 2 || k[1] != 2) return 1;
    if (ms_attr_ints(r, "strides", &st) != 2 || st[0] != k[0] || st[1] != k[0]) return 1;
    int np = ms_attr_ints(r, "pads", &pd);
    for (int i = 0; i < np; i++)
        if (pd[i]) return 1;
    const char *ap = ms_attr_string(r, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return 1;
    const ms_tensor *Y = &lc->p->vals[r->out[0]];
    if (Y->ndim != 4 || Y->shape[2] != OH / k[0] || Y->shape[3] != OW / k[0]) return 1;
    *pool = r;
    return k[0];
}

static ms_status lower_conv(lower_ctx *lc, const ms_node *n)
{
    ex_plan *p = lc->p;
    const ms_tensor *X = &p->vals[n->in[0]], *Wt = const_in(lc, n, 1), *B = const_in(lc, n, 2);
    const ms_tensor *Y = &p->vals[n->out[0]];
    if (!Wt || p->is_const[n->in[0]]) return ex_unsupported(p, n, "needs constant weights");
    if (X->ndim != 4 || Wt->ndim != 4) return ex_unsupported(p, n, "only 2-D convolutions (NCHW)");
    if (ms_attr_int(n, "group", 1) != 1) return ex_unsupported(p, n, "group > 1");
    if (!unit_dilations(n)) return ex_unsupported(p, n, "dilations other than 1");
    if (n->n_in > 2 && n->in[2] >= 0 && !B) return ex_unsupported(p, n, "bias must be constant");
    int64_t C = X->shape[1], H = X->shape[2], W = X->shape[3], OC = Wt->shape[0];
    int64_t KH = Wt->shape[2], KW = Wt->shape[3], OH = Y->shape[2], OW = Y->shape[3];
    const int64_t *st;
    int ns = ms_attr_ints(n, "strides", &st);
    int64_t sh = ns == 2 ? st[0] : 1, sw = ns == 2 ? st[1] : 1, pads[4];
    if (conv_pads(n, H, W, OH, OW, KH, KW, sh, sw, pads)) return ex_unsupported(p, n, "pads must be 2-D");
    double *scale = ex_calloc((size_t)OC, sizeof *scale), *shift = ex_calloc((size_t)OC, sizeof *shift);
    if (!scale || !shift) return free(scale), free(shift), bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    const ms_node *bn = NULL;
    int folded = bn_fold(lc, n->out[0], OC, scale, shift, &bn);
    ex_layer *l = new_layer(p, EX_CONV, n);
    int64_t OCp = (OC + 3) / 4 * 4;
    if (l) {
        int64_t taps = C * KH * KW;
        l->w = ex_conv_pack(Wt, OC, OCp, taps, folded ? scale : NULL), l->n_w = OCp * taps;
        l->b = ex_calloc((size_t)OCp, sizeof(float)), l->n_b = OCp;
        for (int64_t o = 0; l->b && o < OC; o++) {
            double b = B ? ms_tensor_get_f64(B, o) : 0;
            l->b[o] = folded ? (float)(b * scale[o] + shift[o]) : (float)b;
        }
    }
    free(scale), free(shift);
    if (!l || !l->w || !l->b) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    /* p: C H W OC KH KW sh sw pad-top pad-left OH OW (the conv's), P, the output's OH OW, OCp */
    int64_t q[16] = {C, H, W, OC, KH, KW, sh, sw, pads[0], pads[1], OH, OW, 1, OH, OW, OCp};
    memcpy(l->p, q, sizeof q);
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    int v = n->out[0];
    if (bn) lc->done[bn->index] = 1, v = bn->out[0];
    int64_t Hp = (OH - 1) * sh + KH, Wp = (OW - 1) * sw + KW;
    /* a zero-padded copy only when padding is read: without pads the kernel reads the input
     * in place (rows and columns past the last window are never touched) */
    if (pads[0] || pads[1] || Hp > H || Wp > W)
        l->scratch = new_buf(p, EX_BUF_ARENA, C * Hp * Wp);
    v = fuse_act(lc, l, v);
    const ms_node *pool = NULL;
    l->p[12] = pool_fuse(lc, v, OH, OW, &pool);
    if (pool) {
        l->p[13] = OH / l->p[12], l->p[14] = OW / l->p[12];
        lc->done[pool->index] = 1, v = pool->out[0];
    }
    l->out = out_arena(lc, v);
    /* the padded channels' outputs land past the value's floats */
    if (l->out >= 0) p->bufs[l->out].n = OCp * l->p[13] * l->p[14];
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

static ms_status lower_pool(lower_ctx *lc, const ms_node *n, ex_kind kind)
{
    ex_plan *p = lc->p;
    const ms_tensor *X = &p->vals[n->in[0]], *Y = &p->vals[n->out[0]];
    if (X->ndim != 4) return ex_unsupported(p, n, "only 2-D pooling (NCHW)");
    ex_layer *l = new_layer(p, kind, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    if (kind == EX_GAP) {
        l->p[0] = X->shape[1], l->p[1] = X->shape[2] * X->shape[3];
    } else {
        if (n->n_out > 1 && n->out[1] >= 0 && lc->readers[n->out[1]])
            return ex_unsupported(p, n, "the Indices output");
        if (!unit_dilations(n)) return ex_unsupported(p, n, "dilations other than 1");
        const int64_t *k, *st;
        if (ms_attr_ints(n, "kernel_shape", &k) != 2) return ex_unsupported(p, n, "kernel_shape must be 2-D");
        int ns = ms_attr_ints(n, "strides", &st);
        int64_t sh = ns == 2 ? st[0] : 1, sw = ns == 2 ? st[1] : 1, pads[4];
        if (conv_pads(n, X->shape[2], X->shape[3], Y->shape[2], Y->shape[3], k[0], k[1], sh, sw, pads))
            return ex_unsupported(p, n, "pads must be 2-D");
        int64_t q[12] = {X->shape[1], X->shape[2], X->shape[3], k[0], k[1], sh, sw, pads[0],
                         pads[1], Y->shape[2], Y->shape[3], ms_attr_int(n, "count_include_pad", 0)};
        memcpy(l->p, q, sizeof q);
        l->idx = ex_calloc(2, sizeof *l->idx), l->n_idx = 2;
        if (!l->idx) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
        l->idx[0] = pads[2], l->idx[1] = pads[3];
    }
    l->out = out_arena(lc, n->out[0]);
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

static ms_status lower_act(lower_ctx *lc, const ms_node *n, ex_act a)
{
    ex_layer *l = new_layer(lc->p, EX_ACT, n);
    if (!l) return bs_fail(lc->p->err, MS_ERR_RUNTIME, "out of memory");
    l->act = a, l->alpha = ms_attr_float(n, "alpha", 0.01f);
    l->p[0] = ex_numel(&lc->p->vals[n->out[0]]);
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    l->out = out_arena(lc, n->out[0]);
    return l->out < 0 ? bs_fail(lc->p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

static ms_status lower_softmax(lower_ctx *lc, const ms_node *n)
{
    ex_plan *p = lc->p;
    const ms_tensor *X = &p->vals[n->in[0]];
    int ax = ms_norm_axis(ms_attr_int(n, "axis", n->opset >= 13 ? -1 : 1), X->ndim);
    if (ax < 0) return ex_unsupported(p, n, "axis out of range");
    int64_t inner = 1, after = 1;
    for (int d = ax; d < X->ndim; d++) inner *= X->shape[d];
    for (int d = ax + 1; d < X->ndim; d++) after *= X->shape[d];
    if (n->opset >= 13 && after != 1) return ex_unsupported(p, n, "softmax over an axis that is not the last");
    ex_layer *l = new_layer(p, EX_SOFTMAX, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->p[1] = n->opset >= 13 ? X->shape[ax] : inner;
    l->p[0] = ex_numel(X) / (l->p[1] ? l->p[1] : 1);
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    l->out = out_arena(lc, n->out[0]);
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

/* Add/Sub/Mul/Div: two variables of the output's size, or one and a constant (broadcast to the
 * output's shape here, so the kernel is one loop). */
static ms_status lower_binary(lower_ctx *lc, const ms_node *n, int op)
{
    ex_plan *p = lc->p;
    const ms_tensor *Y = &p->vals[n->out[0]];
    int64_t N = ex_numel(Y);
    ex_layer *l = new_layer(p, EX_BINARY, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->p[0] = N, l->p[1] = op;
    for (int k = 0; k < 2; k++) {
        const ms_tensor *t = &p->vals[n->in[k]];
        if (p->is_const[n->in[k]]) {
            if (l->p[2]) return ex_unsupported(p, n, "both operands are constant");
            int64_t strides[MS_MAX_DIMS], idx[MS_MAX_DIMS] = {0};
            ms_broadcast_strides(t, Y->ndim, Y->shape, strides);
            l->w = ex_calloc((size_t)N, sizeof(float)), l->n_w = N;
            if (!l->w) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
            for (int64_t i = 0; i < N; i++) {
                int64_t off = 0;
                for (int d = 0; d < Y->ndim; d++) off += idx[d] * strides[d];
                l->w[i] = (float)ms_tensor_get_f64(t, off);
                for (int d = Y->ndim - 1; d >= 0 && ++idx[d] == Y->shape[d]; d--) idx[d] = 0;
            }
            l->p[2] = k + 1;
        } else {
            if (ex_numel(t) != N) return ex_unsupported(p, n, "broadcasting a non-constant operand");
            l->in[l->n_in++] = in_buf(lc, n, k);
        }
    }
    l->out = out_arena(lc, n->out[0]);
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

static ms_status lower_concat(lower_ctx *lc, const ms_node *n)
{
    ex_plan *p = lc->p;
    const ms_tensor *Y = &p->vals[n->out[0]];
    int ax = ms_norm_axis(ms_attr_int(n, "axis", 0), Y->ndim);
    if (n->n_in > EX_MAX_IN) return ex_unsupported(p, n, "more than 8 inputs");
    int64_t outer = 1;
    for (int d = 0; d < ax; d++) outer *= Y->shape[d];
    ex_layer *l = new_layer(p, EX_CONCAT, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->idx = ex_calloc((size_t)n->n_in, sizeof *l->idx), l->n_idx = n->n_in;
    if (!l->idx) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->p[0] = outer;
    for (int k = 0; k < n->n_in; k++) {
        if (p->is_const[n->in[k]]) return ex_unsupported(p, n, "a constant input");
        l->in[l->n_in++] = in_buf(lc, n, k);
        l->idx[k] = ex_numel(&p->vals[n->in[k]]) / (outer ? outer : 1);
    }
    l->out = out_arena(lc, n->out[0]);
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

/* A BatchNormalization with no Conv before it: x * s[c] + b[c], channels on axis 1. */
static ms_status lower_channel(lower_ctx *lc, const ms_node *n)
{
    ex_plan *p = lc->p;
    const ms_tensor *X = &p->vals[n->in[0]];
    int64_t C = X->ndim > 1 ? X->shape[1] : 1;
    const ms_tensor *t[4];
    for (int k = 0; k < 4; k++)
        if (!(t[k] = const_in(lc, n, k + 1)) || ex_numel(t[k]) != C)
            return ex_unsupported(p, n, "parameters must be constant, one per channel");
    if (n->n_out > 1) return ex_unsupported(p, n, "training mode");
    ex_layer *l = new_layer(p, EX_CHANNEL, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->w = ex_calloc((size_t)C, sizeof(float)), l->b = ex_calloc((size_t)C, sizeof(float));
    if (!l->w || !l->b) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->n_w = l->n_b = C;
    double *scale = ex_calloc((size_t)C, sizeof *scale), *shift = ex_calloc((size_t)C, sizeof *shift);
    if (!scale || !shift) return free(scale), free(shift), bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    ex_bn_params(t, ms_attr_float(n, "epsilon", 1e-5f), C, scale, shift);
    for (int64_t c = 0; c < C; c++) l->w[c] = (float)scale[c], l->b[c] = (float)shift[c];
    free(scale), free(shift);
    l->p[0] = C, l->p[1] = ex_numel(X) / C;
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    l->out = out_arena(lc, n->out[0]);
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

/* ---- ai.onnx.ml ---------------------------------------------------------------------------- */

static int64_t last_dim(const ms_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

/* A per-feature attribute list of 1 or f values, expanded to f floats (dflt when absent). */
static float *per_feature(const ms_node *n, const char *name, int64_t f, float dflt, int *ok)
{
    const float *v;
    int nv = ms_attr_floats(n, name, &v);
    float *w = ex_calloc((size_t)f, sizeof *w);
    *ok = w && (nv < 0 || nv == 1 || nv == f);
    for (int64_t j = 0; *ok && j < f; j++) w[j] = nv < 0 ? dflt : v[nv == 1 ? 0 : j];
    return w;
}

static ms_status lower_ml_simple(lower_ctx *lc, const ms_node *n, ex_kind kind)
{
    ex_plan *p = lc->p;
    const ms_tensor *X = &p->vals[n->in[0]];
    if (X->dtype != MS_DTYPE_FLOAT) return ex_unsupported(p, n, "only float32 inputs");
    int64_t N = ex_numel(X), f = last_dim(X);
    ex_layer *l = new_layer(p, kind, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->p[0] = N, l->p[1] = f;
    int ok = 1, ok2 = 1;
    if (kind == EX_SCALER) {
        l->w = per_feature(n, "scale", f, 1.0f, &ok), l->b = per_feature(n, "offset", f, 0.0f, &ok2);
        l->n_w = l->n_b = f;
    } else if (kind == EX_IMPUTER) {
        l->w = per_feature(n, "imputed_value_floats", f, 0.0f, &ok), l->n_w = f;
        l->alpha = ms_attr_float(n, "replaced_value_float", 0.0f);
    } else if (kind == EX_NORMALIZER) {
        const char *s = ms_attr_string(n, "norm", "MAX");
        l->p[2] = !strcmp(s, "MAX") ? 0 : !strcmp(s, "L1") ? 1 : 2;
    } else if (kind == EX_ONEHOT) {
        const int64_t *ci;
        int nc = ms_attr_ints(n, "cats_int64s", &ci);
        if (nc <= 0) return ex_unsupported(p, n, "only numeric categories (cats_int64s)");
        l->idx = ex_calloc((size_t)nc, sizeof *l->idx), l->n_idx = nc;
        if (l->idx) memcpy(l->idx, ci, (size_t)nc * sizeof *ci);
        l->p[1] = nc, l->p[2] = ms_attr_int(n, "zeros", 1);
    } else if (kind == EX_GATHER) {
        const ms_tensor *ix = const_in(lc, n, 1);
        if (!ix) return ex_unsupported(p, n, "the indices must be constant");
        int64_t k = ex_numel(ix);
        l->idx = ex_calloc((size_t)k, sizeof *l->idx), l->n_idx = k;
        for (int64_t j = 0; l->idx && j < k; j++) l->idx[j] = ms_tensor_get_i64(ix, j);
        l->p[0] = f ? N / f : 0;
    }
    if (!ok || !ok2) return ex_unsupported(p, n, "per-feature attributes of the wrong length");
    if ((kind == EX_SCALER || kind == EX_IMPUTER) && !l->w) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    l->out = out_arena(lc, n->out[kind == EX_GATHER ? 0 : 0]);
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

/* LinearClassifier (the scores output) and LinearRegressor: a double dot product per target
 * and the post_transform, as the runtime computes them. */
static ms_status lower_linear(lower_ctx *lc, const ms_node *n, int clf)
{
    ex_plan *p = lc->p;
    const ms_tensor *X = &p->vals[n->in[0]];
    int vo = clf ? (n->n_out > 1 ? n->out[1] : -1) : n->out[0];
    if (vo < 0) return ex_unsupported(p, n, "no scores output");
    if (X->dtype != MS_DTYPE_FLOAT) return ex_unsupported(p, n, "only float32 inputs");
    int64_t f = last_dim(X);
    const float *coef, *icpt;
    int nc = ms_attr_floats(n, "coefficients", &coef), ni = ms_attr_floats(n, "intercepts", &icpt);
    int64_t T = clf ? (ni > 0 ? ni : nc / (f ? f : 1)) : ms_attr_int(n, "targets", 1);
    const char *pt = ms_attr_string(n, "post_transform", "NONE");
    int post = !strcmp(pt, "NONE") ? EX_POST_NONE : !strcmp(pt, "LOGISTIC") ? EX_POST_LOGISTIC
             : !strcmp(pt, "SOFTMAX") ? EX_POST_SOFTMAX : !strcmp(pt, "SOFTMAX_ZERO") ? EX_POST_SOFTMAX_ZERO : -1;
    if (post < 0) return ex_unsupported(p, n, "post_transform PROBIT");
    if (clf && T == 1 && ex_numel(&p->vals[vo]) == 2) post = EX_POST_PAIR;
    ex_layer *l = new_layer(p, EX_DENSE_D, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->p[0] = f, l->p[1] = T, l->p[2] = post;
    l->w = ex_calloc((size_t)(f * T), sizeof(float)), l->n_w = f * T;
    l->b = ex_calloc((size_t)T, sizeof(float)), l->n_b = T;
    if (!l->w || !l->b) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    memcpy(l->w, coef, (size_t)(f * T) * sizeof(float));
    if (ni > 0) memcpy(l->b, icpt, (size_t)T * sizeof(float));
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    l->out = out_arena(lc, vo);
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

static ms_status lower_trees(lower_ctx *lc, const ms_node *n)
{
    ex_plan *p = lc->p;
    int clf = !strcmp(n->op_type, "TreeEnsembleClassifier");
    int vo = clf ? (n->n_out > 1 ? n->out[1] : -1) : n->out[0];
    if (vo < 0) return ex_unsupported(p, n, "no scores output");
    ex_layer *l = new_layer(p, EX_TREES, n);
    if (!l) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    l->p[0] = last_dim(&p->vals[n->in[0]]);
    ms_status st = ex_trees_lower(p, n, l);
    if (st) return st;
    l->n_in = 1, l->in[0] = in_buf(lc, n, 0);
    l->out = out_arena(lc, vo);
    return l->out < 0 ? bs_fail(p->err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static int is_alias(const ex_plan *p, const ms_node *n)
{
    static const char *const ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"};
    if (!n->domain[0]) {
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            if (!strcmp(n->op_type, ops[i])) return 1;
        if (!strcmp(n->op_type, "Cast"))
            return p->vals[n->in[0]].dtype == MS_DTYPE_FLOAT && p->vals[n->out[0]].dtype == MS_DTYPE_FLOAT;
        return 0;
    }
    return is_op(n, "ai.onnx.ml", "ZipMap");
}

static ms_status lower_node(lower_ctx *lc, const ms_node *n)
{
    ex_plan *p = lc->p;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !p->is_const[n->in[k]] && p->vals[n->in[k]].dtype != MS_DTYPE_FLOAT)
            return ex_unsupported(p, n, "a non-float input at run time");
    if (is_alias(p, n)) {
        int b = new_buf(p, EX_BUF_ALIAS, ex_numel(&p->vals[n->out[0]]));
        if (b < 0) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
        p->bufs[b].alias = p->buf_of[n->in[0]];
        p->buf_of[n->out[0]] = b;
        return MS_OK;
    }
    if (!n->domain[0]) {
        const char *op = n->op_type;
        if (!strcmp(op, "Gemm")) return lower_dense(lc, n, 1);
        if (!strcmp(op, "MatMul")) return lower_dense(lc, n, 0);
        if (!strcmp(op, "Conv")) return lower_conv(lc, n);
        if (!strcmp(op, "MaxPool")) return lower_pool(lc, n, EX_MAXPOOL);
        if (!strcmp(op, "AveragePool")) return lower_pool(lc, n, EX_AVGPOOL);
        if (!strcmp(op, "GlobalAveragePool")) return lower_pool(lc, n, EX_GAP);
        if (!strcmp(op, "Relu")) return lower_act(lc, n, EX_ACT_RELU);
        if (!strcmp(op, "LeakyRelu")) return lower_act(lc, n, EX_ACT_LEAKY);
        if (!strcmp(op, "Sigmoid")) return lower_act(lc, n, EX_ACT_SIGMOID);
        if (!strcmp(op, "Tanh")) return lower_act(lc, n, EX_ACT_TANH);
        if (!strcmp(op, "Softmax")) return lower_softmax(lc, n);
        if (!strcmp(op, "Add")) return lower_binary(lc, n, 0);
        if (!strcmp(op, "Sub")) return lower_binary(lc, n, 1);
        if (!strcmp(op, "Mul")) return lower_binary(lc, n, 2);
        if (!strcmp(op, "Div")) return lower_binary(lc, n, 3);
        if (!strcmp(op, "Concat")) return lower_concat(lc, n);
        if (!strcmp(op, "BatchNormalization")) return lower_channel(lc, n);
    } else if (!strcmp(n->domain, "ai.onnx.ml")) {
        const char *op = n->op_type;
        if (!strcmp(op, "Scaler")) return lower_ml_simple(lc, n, EX_SCALER);
        if (!strcmp(op, "Normalizer")) return lower_ml_simple(lc, n, EX_NORMALIZER);
        if (!strcmp(op, "Imputer")) return lower_ml_simple(lc, n, EX_IMPUTER);
        if (!strcmp(op, "OneHotEncoder")) return lower_ml_simple(lc, n, EX_ONEHOT);
        if (!strcmp(op, "ArrayFeatureExtractor")) return lower_ml_simple(lc, n, EX_GATHER);
        if (!strcmp(op, "LinearClassifier")) return lower_linear(lc, n, 1);
        if (!strcmp(op, "LinearRegressor")) return lower_linear(lc, n, 0);
        if (!strcmp(op, "TreeEnsembleClassifier") || !strcmp(op, "TreeEnsembleRegressor"))
            return lower_trees(lc, n);
    }
    return ex_unsupported(p, n, "export-c has no C for it");
}

/* Which nodes the output needs: walk back from it, through non-constant inputs. */
static void mark_needed(lower_ctx *lc, uint8_t *need_node)
{
    ex_plan *p = lc->p;
    const ms_model *m = p->m;
    uint8_t *need = ex_calloc((size_t)m->n_values, 1);
    if (!need) return;
    need[p->out_value] = 1;
    lc->readers[p->out_value]++;
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        const ms_node *n = &m->nodes[i];
        int any = 0;
        for (int k = 0; k < n->n_out; k++) any |= n->out[k] >= 0 && need[n->out[k]] && !p->is_const[n->out[k]];
        if (!any) continue;
        need_node[i] = 1;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0 || p->is_const[v]) continue;
            need[v] = 1;
            lc->readers[v]++;
            lc->reader[v] = i;
        }
    }
    free(need);
}

/* ex_plan.dense_small from the MACs of the model's Gemm/MatMul (constant B) and Conv nodes */
static void dense_policy(ex_plan *p)
{
    int64_t total = 0, big = 0;
    for (int i = 0; i < p->m->n_nodes; i++) {
        const ms_node *n = &p->m->nodes[i];
        if (n->domain[0] || n->n_in < 2 || n->in[1] < 0 || !p->is_const[n->in[1]]) continue;
        const ms_tensor *W = &p->vals[n->in[1]];
        if (!strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul")) {
            total += ex_numel(W);
            big = ex_numel(W) > big ? ex_numel(W) : big;
        } else if (!strcmp(n->op_type, "Conv") && W->ndim == 4) {
            total += ex_numel(&p->vals[n->out[0]]) * W->shape[1] * W->shape[2] * W->shape[3];
        }
    }
    p->dense_small = big > EX_DENSE_SMALL_MACS && big * 20 > total ? EX_DENSE_SMALL_MACS : INT64_MAX;
}

ms_status ex_lower(ex_plan *p)
{
    const ms_model *m = p->m;
    lower_ctx lc = {.p = p};
    lc.readers = ex_calloc((size_t)m->n_values, sizeof(int));
    lc.reader = ex_calloc((size_t)m->n_values, sizeof(int));
    lc.done = ex_calloc((size_t)m->n_nodes, 1);
    uint8_t *need_node = ex_calloc((size_t)m->n_nodes, 1);
    p->buf_of = ex_calloc((size_t)m->n_values, sizeof(int));
    ms_status st = MS_OK;
    if (!lc.readers || !lc.reader || !lc.done || !need_node || !p->buf_of)
        st = bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    for (int v = 0; !st && v < m->n_values; v++) p->buf_of[v] = -1;
    if (!st) {
        dense_policy(p);
        mark_needed(&lc, need_node);
        p->buf_of[p->in_value] = new_buf(p, EX_BUF_INPUT, p->in_n);
    }
    for (int i = 0; !st && i < m->n_nodes; i++)
        if (need_node[i] && !lc.done[i]) st = lower_node(&lc, &m->nodes[i]);
    if (!st && p->buf_of[p->out_value] < 0)
        st = bs_fail(p->err, MS_ERR_UNSUPPORTED, "the output is a constant; nothing to export");
    if (!st) p->out_buf = p->buf_of[p->out_value];
    free(lc.readers), free(lc.reader), free(lc.done), free(need_node);
    return st;
}

/* ---- the arena ------------------------------------------------------------------------------ */

/* Each arena buffer lives from the layer writing it to the last layer reading it (the output
 * to the end); lay them out first-fit by offset, reusing dead buffers' floats. Offsets are
 * multiples of 4 floats (16 bytes). */
void ex_layout(ex_plan *p)
{
    for (int i = 0; i < p->n_layers; i++) {
        ex_layer *l = &p->layers[i];
        for (int k = 0; k < l->n_in; k++) {
            int b = root(p, l->in[k]);
            if (b >= 0) p->bufs[b].last = i;
        }
        int bufs[2] = {root(p, l->out), l->scratch};
        for (int k = 0; k < 2; k++)
            if (bufs[k] >= 0) {
                if (p->bufs[bufs[k]].first < 0) p->bufs[bufs[k]].first = i;
                if (p->bufs[bufs[k]].last < i) p->bufs[bufs[k]].last = i;
            }
    }
    int ob = root(p, p->out_buf);
    if (ob >= 0) p->bufs[ob].last = p->n_layers;
    p->arena_floats = 0;
    for (int b = 0; b < p->n_bufs; b++) {
        ex_buf *x = &p->bufs[b];
        if (x->kind != EX_BUF_ARENA || x->first < 0) continue;
        int64_t size = (x->n + 3) & ~(int64_t)3, off = 0;
        for (int moved = 1; moved;) { /* lowest offset clear of every buffer alive with it */
            moved = 0;
            for (int o = 0; o < b; o++) {
                const ex_buf *y = &p->bufs[o];
                if (y->kind != EX_BUF_ARENA || y->first < 0 || y->last < x->first || y->first > x->last) continue;
                int64_t ys = (y->n + 3) & ~(int64_t)3;
                if (off < y->off + ys && y->off < off + size) off = y->off + ys, moved = 1;
            }
        }
        x->off = off;
        if (off + size > p->arena_floats) p->arena_floats = off + size;
    }
}

int ex_buf_root(const ex_plan *p, int b) { return root(p, b); }
