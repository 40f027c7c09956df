/* test_fusion.c: a Relu folded into the Gemm, MatMul or Conv before it (the planner's fuse_relu)
 * gives max(x, 0) of what the node alone gives, negative pre-activations included; and the
 * paths under it: Conv's implicit GEMM (stride 1: padding, dilation, groups, K over one block,
 * output channels not a multiple of the tile, constant and non-constant weights, every
 * instruction path) against a direct double-precision convolution, and MaxPool's 2x2 stride-2
 * fast path (odd sizes, NaN and -inf inputs). Small expected values are worked out by hand in
 * the comments; the random cases use the definitions, computed here. */
#include "mstest.h"
#include "onnx_build.h"
#include "mlship.h"
#include "ms_gemm.h"

#include <stdlib.h>

/* ---- random numbers, model building ---------------------------------------------------- */

static uint64_t rng = 0x2545F4914F6CDD1Du;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static float rndf(void) { return (float)(rnd() % 2001) / 1000.0f - 1.0f; }

static void attr_int(pbuf *attrs, const char *name, int64_t v)
{
    pbuf a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 3, v);
    pb_int(&a, 20, 2); /* AttributeProto.INT */
    pb_msg(attrs, 5, &a);
}

static void attr_ints(pbuf *attrs, const char *name, const int64_t *v, int n)
{
    pbuf a = {0};
    pb_str(&a, 1, name);
    for (int i = 0; i < n; i++) pb_int(&a, 8, v[i]);
    pb_int(&a, 20, 7); /* AttributeProto.INTS */
    pb_msg(attrs, 5, &a);
}

/* A graph input or initializer of the one node under test. */
typedef struct arg {
    const char *name;
    int ndim;
    int64_t dims[5];
    const float *data; /* NULL: a graph input */
} arg;

/* op(args) -> t -> Relu -> y; with `expose_t`, t is a graph output too (so the Relu cannot be
 * folded: t has two readers). Graph inputs come first in args' order. */
static pbuf relu_model(const char *op, pbuf *attrs, const arg *args, int nargs, int out_ndim,
                       int expose_t)
{
    pbuf g = {0};
    const char *in[4] = {"", "", "", ""}, *t[] = {"t"}, *y[] = {"y"};
    for (int i = 0; i < nargs; i++) in[i] = args[i].name;
    ob_node(&g, op, "node", in, nargs, t, 1, attrs);
    ob_node(&g, "Relu", "relu", t, 1, y, 1, NULL);
    pb_str(&g, 2, "fusion");
    for (int i = 0; i < nargs; i++)
        if (args[i].data)
            ob_tensor_f32(&g, 5, args[i].name, args[i].ndim, args[i].dims, args[i].data);
    for (int i = 0; i < nargs; i++)
        if (!args[i].data) ob_value(&g, 11, args[i].name, 1, args[i].ndim, args[i].dims);
    int64_t any[5] = {-1, -1, -1, -1, -1};
    ob_value(&g, 12, "y", 1, out_ndim, any);
    if (expose_t) ob_value(&g, 12, "t", 1, out_ndim, any);
    if (attrs) free(attrs->p);
    return ob_model(&g, 13);
}

/* Load, run once with the given inputs, copy output 0 (and output 1 when n_out is 2). */
static int run_model(pbuf mb, const ms_tensor *in, int n_in, float *out0, float *out1, int n_out,
                     int64_t numel)
{
    ms_model *m;
    ms_session *s;
    ms_error err;
    ms_tensor out[2];
    int ok = 0;
    if (ms_model_load(mb.p, mb.n, &m, &err) != MS_OK) {
        printf("load: %s\n", err.msg);
        free(mb.p);
        return 0;
    }
    if (ms_session_create(m, NULL, &s, &err) == MS_OK) {
        /* twice: the first run plans (no prepared state), the second uses prepare's */
        for (int r = 0; r < 2; r++) {
            ok = ms_session_run(s, in, n_in, out, n_out, &err) == MS_OK;
            if (!ok) {
                printf("run: %s\n", err.msg);
                break;
            }
            ok = ms_tensor_numel(&out[0]) == numel;
            if (!ok) break;
            memcpy(out0, out[0].data, sizeof(float) * (size_t)numel);
            if (n_out > 1) memcpy(out1, out[1].data, sizeof(float) * (size_t)numel);
        }
        ms_session_free(s);
    } else {
        printf("session: %s\n", err.msg);
    }
    ms_model_free(m);
    free(mb.p);
    return ok;
}

static int same(const float *got, const float *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-5f)) {
            printf("  element %lld: got %g, want %g\n", (long long)i, got[i], want[i]);
            return 0;
        }
    return 1;
}

/* ---- Gemm / MatMul + Relu ---------------------------------------------------------------- */

/* x = [[1, 2, 3], [-1, 0, 2]], W = [[1, -1], [0, 2], [-1, 1]] (K = 3, N = 2), C = [0.5, -4].
 * x W = [[1 - 3, -1 + 4 + 3], [-1 - 2, 1 + 2]] = [[-2, 6], [-3, 3]];
 * + C = [[-1.5, 2], [-2.5, -1]]; Relu: [[0, 2], [0, 0]]. */
static const float gx[6] = {1, 2, 3, -1, 0, 2}, gw[6] = {1, -1, 0, 2, -1, 1}, gc[2] = {0.5f, -4};
static const float g_pre[4] = {-1.5f, 2, -2.5f, -1}, g_relu[4] = {0, 2, 0, 0};

TEST(gemm_relu_fused)
{
    arg a[] = {{"x", 2, {2, 3}, NULL}, {"w", 2, {3, 2}, gw}, {"c", 1, {2}, gc}};
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {2, 3}, (void *)gx};
    float y[4];
    CHECK(run_model(relu_model("Gemm", NULL, a, 3, 2, 0), &in, 1, y, NULL, 1, 4));
    CHECK(same(y, g_relu, 4));
}

TEST(gemm_relu_not_fused_when_shared)
{
    /* t is also a graph output: it must keep its negative values */
    arg a[] = {{"x", 2, {2, 3}, NULL}, {"w", 2, {3, 2}, gw}, {"c", 1, {2}, gc}};
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {2, 3}, (void *)gx};
    float y[4], t[4];
    CHECK(run_model(relu_model("Gemm", NULL, a, 3, 2, 1), &in, 1, y, t, 2, 4));
    CHECK(same(y, g_relu, 4));
    CHECK(same(t, g_pre, 4));
}

TEST(gemm_transb_batch1_relu_fused)
{
    /* transB: W stored as [N, K] = [[1, 0, -1], [-1, 2, 1]]; one row x = [1, 2, 3] takes the
     * GEMV path: [-2, 6] + C = [-1.5, 2] -> [0, 2] */
    static const float wt[6] = {1, 0, -1, -1, 2, 1};
    pbuf at = {0};
    attr_int(&at, "transB", 1);
    arg a[] = {{"x", 2, {1, 3}, NULL}, {"w", 2, {2, 3}, wt}, {"c", 1, {2}, gc}};
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {1, 3}, (void *)gx};
    float y[2], want[2] = {0, 2};
    CHECK(run_model(relu_model("Gemm", &at, a, 3, 2, 0), &in, 1, y, NULL, 1, 2));
    CHECK(same(y, want, 2));
}

TEST(matmul_relu_fused)
{
    /* x W without C: [[-2, 6], [-3, 3]] -> [[0, 6], [0, 3]] */
    arg a[] = {{"x", 2, {2, 3}, NULL}, {"w", 2, {3, 2}, gw}};
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {2, 3}, (void *)gx};
    float y[4], want[4] = {0, 6, 0, 3};
    CHECK(run_model(relu_model("MatMul", NULL, a, 2, 2, 0), &in, 1, y, NULL, 1, 4));
    CHECK(same(y, want, 4));
}

/* Random Gemm -> Relu against the definition: transposes, alpha/beta, every C shape (a row
 * bias takes the GEMM's store stage, others are copied in), K over one block, batch 1 (GEMV),
 * constant and non-constant B, every instruction path. */
static int gemm_case(int64_t M, int64_t N, int64_t K, int ta, int tb, int cshape, int b_const,
                     float alpha, float beta);

static void attr_float(pbuf *attrs, const char *name, float v)
{
    pbuf a = {0};
    pb_str(&a, 1, name);
    pb_key(&a, 2, 5); /* f: fixed32 */
    pb_bytes(&a, &v, 4);
    pb_int(&a, 20, 1); /* AttributeProto.FLOAT */
    pb_msg(attrs, 5, &a);
}

TEST(gemm_relu_random)
{
    static const int64_t Ms[] = {1, 2, 7, 13, 130}, Ns[] = {1, 5, 33, 70}, Ks[] = {1, 3, 300};
    for (int isa = 1; isa <= MS_SGEMM_ISA_LAST; isa++) {
        if (!ms_sgemm_force_isa(isa)) continue;
        for (int t = 0; t < 40; t++) {
            int ok = gemm_case(Ms[rnd() % 5], Ns[rnd() % 4], Ks[rnd() % 3], rnd() % 2, rnd() % 2,
                               rnd() % 6, rnd() % 3 != 0, rnd() % 2 ? 1.0f : 0.5f,
                               rnd() % 3 ? 1.0f : -2.0f);
            CHECK_MSG(ok, "instruction path %d", isa);
            if (!ok) break;
        }
    }
    ms_sgemm_force_isa(0);
}

/* ---- Conv + Relu ---------------------------------------------------------------------------- */

/* x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]] (one channel). */
static const float cx[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

TEST(conv_relu_fused_2x2)
{
    /* W0 = [[1, 1], [0, 0]], b0 = -6: top pairs 3, 5, 9, 11 - 6 = -3, -1, 3, 5 -> 0, 0, 3, 5.
     * W1 = [[0, -1], [0, 0]], b1 = 4.5: -2, -3, -5, -6 + 4.5 = 2.5, 1.5, -0.5, -1.5
     * -> 2.5, 1.5, 0, 0. */
    static const float w[8] = {1, 1, 0, 0, 0, -1, 0, 0}, b[2] = {-6, 4.5f};
    static const float want[8] = {0, 0, 3, 5, 2.5f, 1.5f, 0, 0};
    arg a[] = {{"x", 4, {1, 1, 3, 3}, NULL}, {"w", 4, {2, 1, 2, 2}, w}, {"b", 1, {2}, b}};
    ms_tensor in = {MS_DTYPE_FLOAT, 4, {1, 1, 3, 3}, (void *)cx};
    float y[8];
    CHECK(run_model(relu_model("Conv", NULL, a, 3, 4, 0), &in, 1, y, NULL, 1, 8));
    CHECK(same(y, want, 8));
}

TEST(conv_relu_fused_padded_3x3)
{
    /* a 3x3 box sum with one cell of zero padding: corners 12, 16, 24, 28; edges 21, 27, 33,
     * 39; centre 45. Bias -20: -8 1 -4 / 7 25 13 / 4 19 8 -> Relu 0 1 0 / 7 25 13 / 4 19 8. */
    static const float w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, b[1] = {-20};
    static const float want[9] = {0, 1, 0, 7, 25, 13, 4, 19, 8};
    static const int64_t pads[4] = {1, 1, 1, 1};
    pbuf at = {0};
    attr_ints(&at, "pads", pads, 4);
    arg a[] = {{"x", 4, {1, 1, 3, 3}, NULL}, {"w", 4, {1, 1, 3, 3}, w}, {"b", 1, {1}, b}};
    ms_tensor in = {MS_DTYPE_FLOAT, 4, {1, 1, 3, 3}, (void *)cx};
    float y[9];
    CHECK(run_model(relu_model("Conv", &at, a, 3, 4, 0), &in, 1, y, NULL, 1, 9));
    CHECK(same(y, want, 9));
}

TEST(conv_relu_fused_strided)
{
    /* stride 2 takes the im2col path: the box sum above at (0,0), (0,2), (2,0), (2,2) is
     * 12, 16, 24, 28; bias -20 -> -8, -4, 4, 8 -> 0, 0, 4, 8 */
    static const float w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, b[1] = {-20};
    static const float want[4] = {0, 0, 4, 8};
    static const int64_t pads[4] = {1, 1, 1, 1}, strides[2] = {2, 2};
    pbuf at = {0};
    attr_ints(&at, "pads", pads, 4);
    attr_ints(&at, "strides", strides, 2);
    arg a[] = {{"x", 4, {1, 1, 3, 3}, NULL}, {"w", 4, {1, 1, 3, 3}, w}, {"b", 1, {1}, b}};
    ms_tensor in = {MS_DTYPE_FLOAT, 4, {1, 1, 3, 3}, (void *)cx};
    float y[4];
    CHECK(run_model(relu_model("Conv", &at, a, 3, 4, 0), &in, 1, y, NULL, 1, 4));
    CHECK(same(y, want, 4));
}

/* ---- Conv: random stride-1 geometries against the definition ----------------------------- */


typedef struct cgeom {
    int64_t N, C, M, group, H, W, kh, kw, dh, dw, pt, pl, pb, pr;
    int nd;        /* 1 or 2 spatial dims (1: H = kh = 1) */
    int w_const;   /* W an initializer (packed in prepare) or a graph input */
    int bias;
} cgeom;

/* y = relu(conv(x, w) + b) in double, straight from the definition */
static void conv_ref(const cgeom *g, const float *x, const float *w, const float *b, int64_t OH,
                     int64_t OW, float *y)
{
    int64_t Cg = g->C / g->group, Mg = g->M / g->group;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t m = 0; m < g->M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double s = b ? b[m] : 0.0;
                    int64_t gi = m / Mg;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t r = 0; r < g->kh; r++)
                            for (int64_t q = 0; q < g->kw; q++) {
                                int64_t ih = oh - g->pt + r * g->dh, iw = ow - g->pl + q * g->dw;
                                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
                                s += (double)x[((n * g->C + gi * Cg + c) * g->H + ih) * g->W + iw] *
                                     w[((m * Cg + c) * g->kh + r) * g->kw + q];
                            }
                    y[((n * g->M + m) * OH + oh) * OW + ow] = s < 0 ? 0.0f : (float)s;
                }
}

static int conv_case(const cgeom *g)
{
    int64_t Cg = g->C / g->group;
    int64_t OH = g->H + g->pt + g->pb - (g->kh - 1) * g->dh;
    int64_t OW = g->W + g->pl + g->pr - (g->kw - 1) * g->dw;
    int64_t nx = g->N * g->C * g->H * g->W, nw = g->M * Cg * g->kh * g->kw;
    int64_t ny = g->N * g->M * OH * OW;
    float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
    float *b = malloc(sizeof(float) * (size_t)g->M), *y = malloc(sizeof(float) * (size_t)ny);
    float *want = malloc(sizeof(float) * (size_t)ny);
    for (int64_t i = 0; i < nx; i++) x[i] = rndf();
    for (int64_t i = 0; i < nw; i++) w[i] = rndf();
    for (int64_t i = 0; i < g->M; i++) b[i] = rndf();
    conv_ref(g, x, w, g->bias ? b : NULL, OH, OW, want);

    pbuf at = {0};
    int64_t pads2[4] = {g->pt, g->pl, g->pb, g->pr}, pads1[2] = {g->pl, g->pr};
    int64_t dil2[2] = {g->dh, g->dw}, dil1[1] = {g->dw};
    attr_ints(&at, "pads", g->nd == 2 ? pads2 : pads1, 2 * g->nd);
    attr_ints(&at, "dilations", g->nd == 2 ? dil2 : dil1, g->nd);
    if (g->group > 1) attr_int(&at, "group", g->group);
    arg a[3];
    if (g->nd == 2) {
        a[0] = (arg){"x", 4, {g->N, g->C, g->H, g->W}, NULL};
        a[1] = (arg){"w", 4, {g->M, Cg, g->kh, g->kw}, g->w_const ? w : NULL};
    } else {
        a[0] = (arg){"x", 3, {g->N, g->C, g->W}, NULL};
        a[1] = (arg){"w", 3, {g->M, Cg, g->kw}, g->w_const ? w : NULL};
    }
    a[2] = (arg){"b", 1, {g->M}, b};
    ms_tensor in[2] = {{MS_DTYPE_FLOAT, a[0].ndim, {0}, x}, {MS_DTYPE_FLOAT, a[1].ndim, {0}, w}};
    memcpy(in[0].shape, a[0].dims, sizeof a[0].dims);
    memcpy(in[1].shape, a[1].dims, sizeof a[1].dims);
    /* graph inputs come first: x, then w when it is not an initializer */
    int ok = run_model(relu_model("Conv", &at, a, g->bias ? 3 : 2, a[0].ndim, 0), in,
                       g->w_const ? 1 : 2, y, NULL, 1, ny);
    for (int64_t i = 0; ok && i < ny; i++) {
        double tol = 1e-4 * (1.0 + (double)(Cg * g->kh * g->kw) / 16.0);
        if (!(fabs((double)y[i] - want[i]) <= tol)) {
            printf("  element %lld: got %g, want %g\n", (long long)i, y[i], want[i]);
            ok = 0;
        }
    }
    if (!ok)
        printf("  case N%lld C%lld M%lld g%lld %lldx%lld k%lldx%lld d%lldx%lld pads %lld %lld %lld "
               "%lld nd%d const%d bias%d\n", (long long)g->N, (long long)g->C, (long long)g->M,
               (long long)g->group, (long long)g->H, (long long)g->W, (long long)g->kh,
               (long long)g->kw, (long long)g->dh, (long long)g->dw, (long long)g->pt,
               (long long)g->pl, (long long)g->pb, (long long)g->pr, g->nd, g->w_const, g->bias);
    free(x), free(w), free(b), free(y), free(want);
    return ok;
}

static int conv_random(int cases)
{
    for (int t = 0; t < cases; t++) {
        cgeom g;
        g.nd = rnd() % 4 ? 2 : 1;
        g.group = rnd() % 4 ? 1 : 1 + rnd() % 3;
        g.C = g.group * (1 + rnd() % 5);
        g.M = g.group * (1 + rnd() % 11);
        g.N = 1 + rnd() % 3;
        g.kh = g.nd == 2 ? 1 + rnd() % 3 : 1;
        g.kw = 1 + rnd() % 3;
        g.dh = g.nd == 2 ? 1 + rnd() % 2 : 1;
        g.dw = 1 + rnd() % 2;
        g.H = g.nd == 2 ? 1 + rnd() % 12 : 1;
        g.W = 1 + rnd() % 40;
        g.pt = g.nd == 2 ? rnd() % 3 : 0;
        g.pb = g.nd == 2 ? rnd() % 3 : 0;
        g.pl = rnd() % 3;
        g.pr = rnd() % 3;
        g.w_const = rnd() % 3 != 0;
        g.bias = rnd() % 4 != 0;
        if (g.C / g.group == 1 && g.group > 1) g.C *= 2; /* depthwise has its own loop */
        /* the padded input must hold the dilated kernel */
        if (g.H + g.pt + g.pb < (g.kh - 1) * g.dh + 1) g.H = (g.kh - 1) * g.dh + 1;
        if (g.W + g.pl + g.pr < (g.kw - 1) * g.dw + 1) g.W = (g.kw - 1) * g.dw + 1;
        if (!conv_case(&g)) return 0;
    }
    return 1;
}

/* cshape: 0 none, 1 [N], 2 [1, N], 3 [M, N], 4 [M, 1], 5 [1] */
static int gemm_case(int64_t M, int64_t N, int64_t K, int ta, int tb, int cshape, int b_const,
                     float alpha, float beta)
{
    float *A = malloc(sizeof(float) * (size_t)(M * K));
    float *B = malloc(sizeof(float) * (size_t)(K * N));
    float *C = malloc(sizeof(float) * (size_t)(M * N));
    float *y = malloc(sizeof(float) * (size_t)(M * N));
    float *want = malloc(sizeof(float) * (size_t)(M * N));
    for (int64_t i = 0; i < M * K; i++) A[i] = rndf();
    for (int64_t i = 0; i < K * N; i++) B[i] = rndf();
    for (int64_t i = 0; i < M * N; i++) C[i] = rndf();
    int64_t cdims[2][2] = {{0, 0}, {0, 0}};
    int cnd = 0;
    switch (cshape) {
    case 1: cnd = 1, cdims[0][0] = N; break;
    case 2: cnd = 2, cdims[0][0] = 1, cdims[0][1] = N; break;
    case 3: cnd = 2, cdims[0][0] = M, cdims[0][1] = N; break;
    case 4: cnd = 2, cdims[0][0] = M, cdims[0][1] = 1; break;
    case 5: cnd = 1, cdims[0][0] = 1; break;
    default: break;
    }
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)(ta ? A[k * M + i] : A[i * K + k]) *
                     (tb ? B[j * K + k] : B[k * N + j]);
            s *= alpha;
            double cv = 0;
            switch (cshape) {
            case 1: case 2: cv = C[j]; break;
            case 3: cv = C[i * N + j]; break;
            case 4: cv = C[i]; break;
            case 5: cv = C[0]; break;
            default: break;
            }
            s += beta * cv;
            want[i * N + j] = s < 0 ? 0.0f : (float)s;
        }
    pbuf at = {0};
    if (ta) attr_int(&at, "transA", 1);
    if (tb) attr_int(&at, "transB", 1);
    attr_float(&at, "alpha", alpha);
    attr_float(&at, "beta", beta);
    arg a[3] = {{"a", 2, {ta ? K : M, ta ? M : K}, NULL},
                {"b", 2, {tb ? N : K, tb ? K : N}, b_const ? B : NULL},
                {"c", cnd, {cdims[0][0], cdims[0][1]}, C}};
    ms_tensor in[2] = {{MS_DTYPE_FLOAT, 2, {a[0].dims[0], a[0].dims[1]}, A},
                       {MS_DTYPE_FLOAT, 2, {a[1].dims[0], a[1].dims[1]}, B}};
    int ok = run_model(relu_model("Gemm", &at, a, cshape ? 3 : 2, 2, 0), in, b_const ? 1 : 2, y,
                       NULL, 1, M * N);
    for (int64_t i = 0; ok && i < M * N; i++)
        if (!(fabs((double)y[i] - want[i]) <= 1e-4 * (1.0 + (double)K / 16.0))) {
            printf("  element %lld: got %g, want %g\n", (long long)i, y[i], want[i]);
            ok = 0;
        }
    if (!ok)
        printf("  case M%lld N%lld K%lld ta%d tb%d C%d const%d alpha %g beta %g\n", (long long)M,
               (long long)N, (long long)K, ta, tb, cshape, b_const, alpha, beta);
    free(A), free(B), free(C), free(y), free(want);
    return ok;
}

TEST(conv_implicit_random)
{
    /* every instruction path this CPU has; the packed layout is the same on all of them */
    for (int isa = 1; isa <= MS_SGEMM_ISA_LAST; isa++) {
        if (!ms_sgemm_force_isa(isa)) continue;
        CHECK_MSG(conv_random(60), "instruction path %d", isa);
    }
    ms_sgemm_force_isa(0);
}

TEST(conv_implicit_large_k_and_m)
{
    /* K = 40 * 9 = 360 > one K block (256): partial sums go through C, Relu on the last */
    cgeom g = {2, 40, 13, 1, 6, 9, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 1};
    /* and M = 130 output channels: more than one MC-row block of A per tile */
    cgeom wide = {1, 3, 130, 1, 5, 37, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 1};
    for (int isa = 1; isa <= MS_SGEMM_ISA_LAST; isa++) {
        if (!ms_sgemm_force_isa(isa)) continue;
        CHECK(conv_case(&g));
        g.w_const = 0;
        CHECK(conv_case(&g));
        g.w_const = 1;
        CHECK(conv_case(&wide));
    }
    ms_sgemm_force_isa(0);
}

/* ---- MaxPool 2x2 stride 2 ------------------------------------------------------------------- */

TEST(maxpool_2x2_stride2)
{
    /* one 5x7 plane: rows r, columns c hold 10 r + c, with a NaN at (0,0) and -inf at (2,2),
     * (2,3), (3,2), (3,3). Windows start at rows 0, 2 and columns 0, 2, 4 (the last row and
     * column are left out): the max is the bottom-right 10 (2i+1) + 2j+1 of each window, except
     * that the all -inf window at (1,1) still has no NaN: -inf. The NaN is skipped: 11. */
    float x[35], y[6];
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 7; c++) x[r * 7 + c] = (float)(10 * r + c);
    x[0] = NAN;
    x[2 * 7 + 2] = x[2 * 7 + 3] = x[3 * 7 + 2] = x[3 * 7 + 3] = -INFINITY;
    const float want[6] = {11, 13, 15, 31, -INFINITY, 35};
    pbuf g = {0}, at = {0};
    static const int64_t k[2] = {2, 2}, s[2] = {2, 2};
    attr_ints(&at, "kernel_shape", k, 2);
    attr_ints(&at, "strides", s, 2);
    const char *in[] = {"x"}, *out[] = {"y"};
    ob_node(&g, "MaxPool", "pool", in, 1, out, 1, &at);
    free(at.p);
    pb_str(&g, 2, "pool");
    int64_t xd[4] = {1, 1, 5, 7}, yd[4] = {1, 1, 2, 3};
    ob_value(&g, 11, "x", 1, 4, xd);
    ob_value(&g, 12, "y", 1, 4, yd);
    ms_tensor t = {MS_DTYPE_FLOAT, 4, {1, 1, 5, 7}, x};
    CHECK(run_model(ob_model(&g, 13), &t, 1, y, NULL, 1, 6));
    for (int i = 0; i < 6; i++) CHECK_MSG(y[i] == want[i], "y[%d] = %g, want %g", i, y[i], want[i]);
}

TEST(maxpool_2x2_stride2_wide)
{
    /* 3 planes of 4 x 70 (35 outputs a row: full SIMD blocks plus a tail); each window's max
     * is the definition's, computed here */
    enum { P = 3, H = 4, W = 70, OH = 2, OW = 35 };
    static float x[P * H * W], y[P * OH * OW], want[P * OH * OW];
    for (int i = 0; i < P * H * W; i++) x[i] = rndf();
    for (int p = 0; p < P; p++)
        for (int o = 0; o < OH; o++)
            for (int j = 0; j < OW; j++) {
                const float *r = x + (p * H + 2 * o) * W + 2 * j;
                float m = r[0];
                if (r[1] > m) m = r[1];
                if (r[W] > m) m = r[W];
                if (r[W + 1] > m) m = r[W + 1];
                want[(p * OH + o) * OW + j] = m;
            }
    pbuf g = {0}, at = {0};
    static const int64_t k[2] = {2, 2}, s[2] = {2, 2};
    attr_ints(&at, "kernel_shape", k, 2);
    attr_ints(&at, "strides", s, 2);
    const char *in[] = {"x"}, *out[] = {"y"};
    ob_node(&g, "MaxPool", "pool", in, 1, out, 1, &at);
    free(at.p);
    pb_str(&g, 2, "pool");
    int64_t xd[4] = {1, P, H, W}, yd[4] = {1, P, OH, OW};
    ob_value(&g, 11, "x", 1, 4, xd);
    ob_value(&g, 12, "y", 1, 4, yd);
    ms_tensor t = {MS_DTYPE_FLOAT, 4, {1, P, H, W}, x};
    CHECK(run_model(ob_model(&g, 13), &t, 1, y, NULL, 1, P * OH * OW));
    CHECK(same(y, want, P * OH * OW));
}

int main(void)
{
    RUN(gemm_relu_fused);
    RUN(gemm_relu_not_fused_when_shared);
    RUN(gemm_transb_batch1_relu_fused);
    RUN(matmul_relu_fused);
    RUN(gemm_relu_random);
    RUN(conv_relu_fused_2x2);
    RUN(conv_relu_fused_padded_3x3);
    RUN(conv_relu_fused_strided);
    RUN(conv_implicit_random);
    RUN(conv_implicit_large_k_and_m);
    RUN(maxpool_2x2_stride2);
    RUN(maxpool_2x2_stride2_wide);
    return mstest_summary();
}
