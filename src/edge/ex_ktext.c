/* ex_ktext.c: the kernels of the generated C, as C text (ex_emit.c writes those a model uses).
 *
 * Multiply-adds are written fmaf(w, x, acc): one rounding, so the host and a Cortex-M4F (whose
 * compilers turn fmaf into vfma.f32) compute the same bits whatever -ffp-contract says; build
 * with -DEX_NO_FMA to get w * x + acc instead (faster on a host CPU without FMA, where fmaf is
 * a libm call). The dense kernel keeps 8 output rows in registers, the conv kernel 4 output
 * channels x 2x2 pixels; both read their weights once, in order: the exporter lays them out
 * interleaved for that. */
#include "ex_int.h"

const char ex_k_common[] =
    "#if defined(__GNUC__) || defined(__clang__)\n"
    "#define EX_ALIGN __attribute__((aligned(16)))\n#define EX_NOINLINE __attribute__((noinline))\n"
    "#else\n#define EX_ALIGN\n#define EX_NOINLINE\n#endif\n"
    "#ifdef EX_NO_FMA\n#define EX_MAC(a, w, x) ((w) * (x) + (a))\n"
    "#else\n#define EX_MAC(a, w, x) fmaf(w, x, a)\n#endif\n\n";

/* ex_act with the cases this model uses only (Sigmoid and Tanh pull expf/tanhf in) */
void ex_emit_act(FILE *c, const ex_plan *p)
{
    static const char *const cases[] = {
        "    case 1: return v > 0 ? v : 0;\n",
        "    case 2: return v >= 0 ? v : v * alpha;\n",
        "    case 3: if (v >= 0) return 1 / (1 + expf(-v)); else { float e = expf(v); return e / (1 + e); }\n",
        "    case 4: return tanhf(v);\n"};
    int used[5] = {0};
    for (int i = 0; i < p->n_layers; i++) used[p->layers[i].act] = 1;
    fputs("/* activations: 0 none, 1 Relu, 2 LeakyRelu(alpha), 3 Sigmoid, 4 Tanh; one copy (called,\n"
          " * not inlined: flash over speed, it runs once per output) */\n"
          "EX_NOINLINE static float ex_act(float v, int act, float alpha)\n{\n    (void)alpha;\n    switch (act) {\n", c);
    for (int k = 1; k < 5; k++)
        if (used[k]) fputs(cases[k - 1], c);
    fputs("    default: return v;\n    }\n}\n\n", c);
}

const char ex_k_dense[] =
    "/* y = act(W x + b): W in blocks of 8 rows interleaved by input (w[i][0..7]), then single rows;\n"
    " * two inputs per step; the activation applied once the rows are stored (Relu as an integer\n"
    " * operation: 3 instructions a value) */\n"
    "static void ex_dense(const float *x, const float *w, const float *b, float *y, int K, int N,\n"
    "                     int act, float alpha)\n"
    "{\n"
    "    int o = 0;\n"
    "    for (; o + 8 <= N; o += 8) {\n"
    "        float a0 = b[o], a1 = b[o + 1], a2 = b[o + 2], a3 = b[o + 3];\n"
    "        float a4 = b[o + 4], a5 = b[o + 5], a6 = b[o + 6], a7 = b[o + 7];\n"
    "        const float *u = x, *ue = x + (K & ~1);\n"
    "        if (u < ue) do { /* the test at the bottom: 3 instructions of loop per 16 MACs */\n"
    "            a0 = EX_MAC(a0, w[0], u[0]); a1 = EX_MAC(a1, w[1], u[0]); a2 = EX_MAC(a2, w[2], u[0]); a3 = EX_MAC(a3, w[3], u[0]);\n"
    "            a4 = EX_MAC(a4, w[4], u[0]); a5 = EX_MAC(a5, w[5], u[0]); a6 = EX_MAC(a6, w[6], u[0]); a7 = EX_MAC(a7, w[7], u[0]);\n"
    "            a0 = EX_MAC(a0, w[8], u[1]); a1 = EX_MAC(a1, w[9], u[1]); a2 = EX_MAC(a2, w[10], u[1]); a3 = EX_MAC(a3, w[11], u[1]);\n"
    "            a4 = EX_MAC(a4, w[12], u[1]); a5 = EX_MAC(a5, w[13], u[1]); a6 = EX_MAC(a6, w[14], u[1]); a7 = EX_MAC(a7, w[15], u[1]);\n"
    "            u += 2, w += 16;\n"
    "        } while (u < ue);\n"
    "        if (K & 1) {\n"
    "            a0 = EX_MAC(a0, w[0], u[0]); a1 = EX_MAC(a1, w[1], u[0]); a2 = EX_MAC(a2, w[2], u[0]); a3 = EX_MAC(a3, w[3], u[0]);\n"
    "            a4 = EX_MAC(a4, w[4], u[0]); a5 = EX_MAC(a5, w[5], u[0]); a6 = EX_MAC(a6, w[6], u[0]); a7 = EX_MAC(a7, w[7], u[0]);\n"
    "            w += 8;\n"
    "        }\n"
    "        y[o] = a0, y[o + 1] = a1, y[o + 2] = a2, y[o + 3] = a3;\n"
    "        y[o + 4] = a4, y[o + 5] = a5, y[o + 6] = a6, y[o + 7] = a7;\n"
    "    }\n"
    "    for (; o < N; o++) {\n"
    "        float a = b[o];\n"
    "        for (const float *u = x, *ue = x + K; u < ue; u++) a = EX_MAC(a, *w++, *u);\n"
    "        y[o] = a;\n"
    "    }\n"
    "    if (act == 1) /* Relu on the bits: a negative float has the sign bit set */\n"
    "        for (o = 0; o < N; o++) {\n"
    "            int32_t i;\n"
    "            memcpy(&i, &y[o], sizeof i);\n"
    "            i = i < 0 ? 0 : i;\n"
    "            memcpy(&y[o], &i, sizeof i);\n"
    "        }\n"
    "    else if (act)\n"
    "        for (o = 0; o < N; o++) y[o] = ex_act(y[o], act, alpha);\n"
    "}\n"
    "\n";

const char ex_k_dense1[] =
    "/* y = act(W x + b), one row at a time, W row-major: the small kernel, for layers of at most\n"
    " * 1024 multiply-adds, or a model whose dense layers are all a minor part of its work */\n"
    "static void ex_dense1(const float *x, const float *w, const float *b, float *y, int K, int N,\n"
    "                      int act, float alpha)\n{\n"
    "    for (int o = 0; o < N; o++) {\n"
    "        float a = b[o];\n"
    "        for (int i = 0; i < K; i++) a = EX_MAC(a, *w++, x[i]);\n"
    "        y[o] = act ? ex_act(a, act, alpha) : a;\n"
    "    }\n}\n\n";

const char ex_k_conv[] =
    "/* 2-D convolution on an input already padded to Hp x Wp; d = {C, Hp, Wp, OC, KH, KW, sh, sw,\n"
    " * OH, OW, P}. 4 output channels (OC is a multiple of 4: the exporter pads the weights,\n"
    " * w[OC/4][C][KH][KW][4]) x a 2x2 block of output pixels per pass: 16 accumulators and the 8\n"
    " * inputs of two rows in registers, each weight read once for four pixels. At an edge the\n"
    " * block's second column (row) repeats the first. With P 2 a 2x2 max pool (stride 2) is\n"
    " * fused: the output is the block's max, so the un-pooled output is never stored, and OH x OW\n"
    " * is the pooled size. The activation is applied once per stored value (max and every\n"
    " * activation written here are non-decreasing, so they commute; Relu is the max with 0).\n"
    " * EX_CONV3 (1: every conv of the model has 3 columns, stride 1 and whole blocks; 0: none;\n"
    " * 2: some) and EX_CONVPOOL (1: every conv has a fused pool; 0: none; 2: some) let the\n"
    " * compiler drop the paths this model never takes. */\n"
    "#define EX_MAX(m, v) m = (v) > m ? (v) : m\n"
    "static void ex_conv(const float *x, const float *w0, const float *b, float *y, const EX_DIM *d,\n"
    "                    int act, float alpha)\n"
    "{\n"
    "    const int C = d[0], iplane = d[1] * d[2], Wp = d[2], OC = d[3], KH = d[4], KW = d[5];\n"
    "    const int sh = d[6], sw = d[7], OH = d[8], OW = d[9], plane = OH * OW;\n"
    "    const int P = EX_CONVPOOL == 2 ? d[10] : EX_CONVPOOL ? 2 : 1, step = 3 - P;\n"
    "    const float lo = act == 1 ? 0 : -INFINITY;\n"
    "    for (int o = 0; o < OC; o += 4, w0 += 4 * C * KH * KW, b += 4)\n"
    "        for (int oy = 0; oy < OH; oy += step)\n"
    "            for (int ox = 0; ox < OW; ox += step) {\n"
    "                const int right = P == 2 || ox + 1 < OW, down = P == 2 || oy + 1 < OH;\n"
    "                const int dx = right ? sw : 0, dy = down ? sh * Wp : 0;\n"
    "                const float *xa = x + oy * P * sh * Wp + ox * P * sw, *w = w0;\n"
    "                float a0 = b[0], a1 = b[1], a2 = b[2], a3 = b[3];\n"
    "                float e0 = a0, e1 = a1, e2 = a2, e3 = a3, f0 = a0, f1 = a1, f2 = a2, f3 = a3;\n"
    "                float g0 = a0, g1 = a1, g2 = a2, g3 = a3;\n"
    "                for (int c = 0; c < C; c++, xa += iplane)\n"
    "                    for (const float *r = xa, *re = xa + KH * Wp; r < re; r += Wp) {\n"
    "                        const float *s = r + dy;\n"
    "                        if (EX_CONV3 == 1 || (EX_CONV3 == 2 && KW == 3 && dx == 1)) {\n"
    "                            const float x0 = r[0], x1 = r[1], x2 = r[2], x3 = r[3];\n"
    "                            const float y0 = s[0], y1 = s[1], y2 = s[2], y3 = s[3];\n"
    "                            a0 = EX_MAC(a0, w[0], x0); e0 = EX_MAC(e0, w[0], x1);\n"
    "                            f0 = EX_MAC(f0, w[0], y0); g0 = EX_MAC(g0, w[0], y1);\n"
    "                            a1 = EX_MAC(a1, w[1], x0); e1 = EX_MAC(e1, w[1], x1);\n"
    "                            f1 = EX_MAC(f1, w[1], y0); g1 = EX_MAC(g1, w[1], y1);\n"
    "                            a2 = EX_MAC(a2, w[2], x0); e2 = EX_MAC(e2, w[2], x1);\n"
    "                            f2 = EX_MAC(f2, w[2], y0); g2 = EX_MAC(g2, w[2], y1);\n"
    "                            a3 = EX_MAC(a3, w[3], x0); e3 = EX_MAC(e3, w[3], x1);\n"
    "                            f3 = EX_MAC(f3, w[3], y0); g3 = EX_MAC(g3, w[3], y1);\n"
    "                            a0 = EX_MAC(a0, w[4 + 0], x1); e0 = EX_MAC(e0, w[4 + 0], x2);\n"
    "                            f0 = EX_MAC(f0, w[4 + 0], y1); g0 = EX_MAC(g0, w[4 + 0], y2);\n"
    "                            a1 = EX_MAC(a1, w[4 + 1], x1); e1 = EX_MAC(e1, w[4 + 1], x2);\n"
    "                            f1 = EX_MAC(f1, w[4 + 1], y1); g1 = EX_MAC(g1, w[4 + 1], y2);\n"
    "                            a2 = EX_MAC(a2, w[4 + 2], x1); e2 = EX_MAC(e2, w[4 + 2], x2);\n"
    "                            f2 = EX_MAC(f2, w[4 + 2], y1); g2 = EX_MAC(g2, w[4 + 2], y2);\n"
    "                            a3 = EX_MAC(a3, w[4 + 3], x1); e3 = EX_MAC(e3, w[4 + 3], x2);\n"
    "                            f3 = EX_MAC(f3, w[4 + 3], y1); g3 = EX_MAC(g3, w[4 + 3], y2);\n"
    "                            a0 = EX_MAC(a0, w[8 + 0], x2); e0 = EX_MAC(e0, w[8 + 0], x3);\n"
    "                            f0 = EX_MAC(f0, w[8 + 0], y2); g0 = EX_MAC(g0, w[8 + 0], y3);\n"
    "                            a1 = EX_MAC(a1, w[8 + 1], x2); e1 = EX_MAC(e1, w[8 + 1], x3);\n"
    "                            f1 = EX_MAC(f1, w[8 + 1], y2); g1 = EX_MAC(g1, w[8 + 1], y3);\n"
    "                            a2 = EX_MAC(a2, w[8 + 2], x2); e2 = EX_MAC(e2, w[8 + 2], x3);\n"
    "                            f2 = EX_MAC(f2, w[8 + 2], y2); g2 = EX_MAC(g2, w[8 + 2], y3);\n"
    "                            a3 = EX_MAC(a3, w[8 + 3], x2); e3 = EX_MAC(e3, w[8 + 3], x3);\n"
    "                            f3 = EX_MAC(f3, w[8 + 3], y2); g3 = EX_MAC(g3, w[8 + 3], y3);\n"
    "                            w += 12;\n"
    "                        } else {\n"
    "                            for (int q = 0; q < KW; q++, w += 4) {\n"
    "                                const float x0 = r[q], x1 = r[q + dx], y0 = s[q], y1 = s[q + dx];\n"
    "                                a0 = EX_MAC(a0, w[0], x0); e0 = EX_MAC(e0, w[0], x1);\n"
    "                                f0 = EX_MAC(f0, w[0], y0); g0 = EX_MAC(g0, w[0], y1);\n"
    "                                a1 = EX_MAC(a1, w[1], x0); e1 = EX_MAC(e1, w[1], x1);\n"
    "                                f1 = EX_MAC(f1, w[1], y0); g1 = EX_MAC(g1, w[1], y1);\n"
    "                                a2 = EX_MAC(a2, w[2], x0); e2 = EX_MAC(e2, w[2], x1);\n"
    "                                f2 = EX_MAC(f2, w[2], y0); g2 = EX_MAC(g2, w[2], y1);\n"
    "                                a3 = EX_MAC(a3, w[3], x0); e3 = EX_MAC(e3, w[3], x1);\n"
    "                                f3 = EX_MAC(f3, w[3], y0); g3 = EX_MAC(g3, w[3], y1);\n"
    "                            }\n"
    "                        }\n"
    "                    }\n"
    "                float *ya = y + o * plane + oy * OW + ox;\n"
    "                if (P == 2) {\n"
    "                    float m0 = lo, m1 = lo, m2 = lo, m3 = lo;\n"
    "                    EX_MAX(m0, a0); EX_MAX(m0, e0); EX_MAX(m0, f0); EX_MAX(m0, g0);\n"
    "                    EX_MAX(m1, a1); EX_MAX(m1, e1); EX_MAX(m1, f1); EX_MAX(m1, g1);\n"
    "                    EX_MAX(m2, a2); EX_MAX(m2, e2); EX_MAX(m2, f2); EX_MAX(m2, g2);\n"
    "                    EX_MAX(m3, a3); EX_MAX(m3, e3); EX_MAX(m3, f3); EX_MAX(m3, g3);\n"
    "                    a0 = m0, a1 = m1, a2 = m2, a3 = m3;\n"
    "                    if (act != 1) a0 = ex_act(a0, act, alpha), a1 = ex_act(a1, act, alpha),\n"
    "                                  a2 = ex_act(a2, act, alpha), a3 = ex_act(a3, act, alpha);\n"
    "                    ya[0] = a0, ya[plane] = a1, ya[2 * plane] = a2, ya[3 * plane] = a3;\n"
    "                } else {\n"
    "                    float v[16] = {a0, a1, a2, a3, e0, e1, e2, e3, f0, f1, f2, f3, g0, g1, g2, g3};\n"
    "                    for (int j = 0; j < 4; j++, ya += plane) {\n"
    "                        ya[0] = ex_act(v[j], act, alpha);\n"
    "                        if (right) ya[1] = ex_act(v[4 + j], act, alpha);\n"
    "                        if (down) ya[OW] = ex_act(v[8 + j], act, alpha);\n"
    "                        if (right && down) ya[OW + 1] = ex_act(v[12 + j], act, alpha);\n"
    "                    }\n"
    "                }\n"
    "            }\n"
    "}\n"
    "\n";

const char ex_k_pad[] =
    "/* x (C x H x W) into the zeroed Hp x Wp planes of xp at row pt, column pl (cut to fit) */\n"
    "static void ex_pad(const float *x, float *xp, int C, int H, int W, int Hp, int Wp, int pt, int pl)\n"
    "{\n"
    "    memset(xp, 0, sizeof(float) * (size_t)(C * Hp * Wp));\n"
    "    for (int c = 0; c < C; c++)\n"
    "        for (int r = 0; r < H; r++) {\n"
    "            int py = r + pt, x0 = pl < 0 ? -pl : 0, n = W - x0;\n"
    "            if (py < 0 || py >= Hp) continue;\n"
    "            if (n > Wp - (pl + x0)) n = Wp - (pl + x0);\n"
    "            if (n > 0) memcpy(xp + (c * Hp + py) * Wp + pl + x0, x + (c * H + r) * W + x0, sizeof(float) * (size_t)n);\n"
    "        }\n"
    "}\n"
    "\n";

const char ex_k_pool[] =
    "/* max (avg 0) or average (avg 1) pooling: d = {C, H, W, KH, KW, sh, sw, pt, pl, OH, OW,\n"
    " * count_include_pad, pb, pr} */\n"
    "static void ex_pool(const float *x, float *y, const int *d, int avg)\n{\n"
    "    const int C = d[0], H = d[1], W = d[2], KH = d[3], KW = d[4], sh = d[5], sw = d[6];\n"
    "    const int pt = d[7], pl = d[8], OH = d[9], OW = d[10], incl = d[11], pb = d[12], pr = d[13];\n"
    "    for (int c = 0; c < C; c++)\n"
    "        for (int oy = 0; oy < OH; oy++)\n"
    "            for (int ox = 0; ox < OW; ox++) {\n"
    "                int y0 = oy * sh - pt, x0 = ox * sw - pl;\n"
    "                int ys = y0 < 0 ? 0 : y0, ye = y0 + KH < H ? y0 + KH : H;\n"
    "                int xs = x0 < 0 ? 0 : x0, xe = x0 + KW < W ? x0 + KW : W;\n"
    "                const float *p = x + c * H * W;\n"
    "                float m = avg ? 0 : -INFINITY;\n"
    "                for (int r = ys; r < ye; r++)\n"
    "                    for (int q = xs; q < xe; q++) {\n"
    "                        float v = p[r * W + q];\n"
    "                        if (avg) m += v;\n"
    "                        else if (v > m) m = v;\n"
    "                    }\n"
    "                if (avg) {\n"
    "                    int hy = y0 + KH < H + pb ? y0 + KH : H + pb, hx = x0 + KW < W + pr ? x0 + KW : W + pr;\n"
    "                    int cnt = incl ? (hy - y0) * (hx - x0) : (ye - ys) * (xe - xs);\n"
    "                    m = cnt > 0 ? m / (float)cnt : 0;\n"
    "                }\n"
    "                y[(c * OH + oy) * OW + ox] = m;\n"
    "            }\n}\n\n";

const char ex_k_gap[] =
    "static void ex_gap(const float *x, float *y, int C, int HW)\n{\n"
    "    for (int c = 0; c < C; c++) {\n"
    "        float s = 0;\n"
    "        for (int i = 0; i < HW; i++) s += x[c * HW + i];\n"
    "        y[c] = s / (float)HW;\n    }\n}\n\n";

const char ex_k_unary[] =
    "static void ex_unary(const float *x, float *y, int n, int act, float alpha)\n{\n"
    "    for (int i = 0; i < n; i++) y[i] = ex_act(x[i], act, alpha);\n}\n\n";

const char ex_k_softmax[] =
    "static void ex_softmax(const float *x, float *y, int outer, int n)\n{\n"
    "    for (int r = 0; r < outer; r++, x += n, y += n) {\n"
    "        float m = x[0];\n"
    "        double s = 0;\n"
    "        for (int j = 1; j < n; j++) m = x[j] > m ? x[j] : m;\n"
    "        for (int j = 0; j < n; j++) s += y[j] = expf(x[j] - m);\n"
    "        float inv = (float)(1.0 / s);\n"
    "        for (int j = 0; j < n; j++) y[j] *= inv;\n    }\n}\n\n";

const char ex_k_binary[] =
    "/* op: 0 +, 1 -, 2 *, 3 / */\n"
    "static void ex_binary(const float *a, const float *b, float *y, int n, int op)\n{\n"
    "    for (int i = 0; i < n; i++)\n"
    "        y[i] = op == 0 ? a[i] + b[i] : op == 1 ? a[i] - b[i] : op == 2 ? a[i] * b[i] : a[i] / b[i];\n}\n\n";

const char ex_k_channel[] =
    "static void ex_channel(const float *x, const float *s, const float *b, float *y, int C, int inner)\n{\n"
    "    for (int c = 0; c < C; c++)\n"
    "        for (int i = 0; i < inner; i++) y[c * inner + i] = x[c * inner + i] * s[c] + b[c];\n}\n\n";

const char ex_k_scaler[] =
    "/* (x - offset) * scale in double, rounded once, as the runtime's Scaler */\n"
    "static void ex_scaler(const float *x, const float *s, const float *o, float *y, int n, int f)\n{\n"
    "    for (int i = 0; i < n; i++) y[i] = (float)(((double)x[i] - (double)o[i % f]) * (double)s[i % f]);\n}\n\n";

const char ex_k_norm[] =
    "/* Normalizer: kind 0 MAX, 1 L1, 2 L2 per row of f; a zero divisor leaves the row */\n"
    "static void ex_normalize(const float *x, float *y, int rows, int f, int kind)\n{\n"
    "    for (int r = 0; r < rows; r++, x += f, y += f) {\n"
    "        double d = kind == 0 ? -INFINITY : 0;\n"
    "        for (int j = 0; j < f; j++) {\n"
    "            double v = x[j];\n"
    "            if (kind == 0) d = v > d ? v : d;\n"
    "            else if (kind == 1) d += fabs(v);\n"
    "            else d += v * v;\n        }\n"
    "        if (kind == 2) d = sqrt(d);\n"
    "        for (int j = 0; j < f; j++) y[j] = (float)(d != 0 ? (double)x[j] / d : (double)x[j]);\n"
    "    }\n}\n\n";

const char ex_k_imputer[] =
    "static void ex_impute(const float *x, const float *v, float *y, int n, int f, float key)\n{\n"
    "    for (int i = 0; i < n; i++) {\n"
    "        int hit = key != key ? x[i] != x[i] : x[i] == key;\n"
    "        y[i] = hit ? v[i % f] : x[i];\n    }\n}\n\n";

const char ex_k_onehot[] =
    "/* 1 when a value is no known category and zeros is 0 */\n"
    "static int ex_onehot(const float *x, float *y, int n, const int32_t *cats, int nc, int zeros)\n{\n"
    "    memset(y, 0, sizeof(float) * (size_t)(n * nc));\n"
    "    for (int i = 0; i < n; i++) {\n"
    "        double v = x[i];\n"
    "        int k = -1;\n"
    "        if (v > -2147483648.0 && v < 2147483648.0)\n"
    "            for (int j = 0; j < nc && k < 0; j++) if (cats[j] == (int32_t)v) k = j;\n"
    "        if (k >= 0) y[i * nc + k] = 1;\n"
    "        else if (!zeros) return 1;\n    }\n    return 0;\n}\n\n";

const char ex_k_gather[] =
    "static void ex_gather(const float *x, float *y, int rows, int f, const int32_t *ix, int k)\n{\n"
    "    for (int r = 0; r < rows; r++)\n"
    "        for (int j = 0; j < k; j++) y[r * k + j] = x[r * f + ix[j]];\n}\n\n";

const char ex_k_linear[] =
    "/* ai.onnx.ml linear models: a double dot product per target, then post: 0 NONE, 1 LOGISTIC,\n"
    " * 2 SOFTMAX, 3 SOFTMAX_ZERO, 4 one score -> [1 - p, p]; as the runtime computes them */\n"
    "static double ex_logistic(double v) { return v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v)); }\n"
    "static void ex_linear(const float *x, const float *w, const float *b, float *y, int f, int T,\n"
    "                      int post, double *s)\n{\n"
    "    for (int t = 0; t < T; t++) {\n"
    "        double acc = b[t];\n"
    "        for (int j = 0; j < f; j++) acc += (double)w[t * f + j] * (double)x[j];\n"
    "        s[t] = acc;\n    }\n"
    "    if (post == 4) {\n"
    "        double p = ex_logistic(s[0]);\n"
    "        y[0] = (float)(1 - p), y[1] = (float)p;\n        return;\n    }\n"
    "    if (post == 1) for (int t = 0; t < T; t++) s[t] = ex_logistic(s[t]);\n"
    "    if (post == 2 || post == 3) {\n"
    "        double mx = -INFINITY, sum = 0;\n"
    "        for (int t = 0; t < T; t++) mx = s[t] > mx ? s[t] : mx;\n"
    "        for (int t = 0; t < T; t++) {\n"
    "            if (post == 3 && s[t] == 0) continue;\n"
    "            s[t] = exp(s[t] - mx);\n            sum += s[t];\n        }\n"
    "        for (int t = 0; t < T; t++)\n"
    "            if (!(post == 3 && s[t] == 0)) s[t] = sum > 0 ? s[t] / sum : 0;\n    }\n"
    "    for (int t = 0; t < T; t++) y[t] = (float)s[t];\n}\n\n";
