/* test_elementwise.c: the elementwise kernels called directly through the registry, for what
 * the ONNX conformance tests leave out: odd broadcasts, integer edge cases (division by zero,
 * INT_MIN / -1, wide shifts), float16 rounding, and the error paths. */
#include "mstest.h"
#include "ms_op.h"

#include <stdint.h>

static _Alignas(64) unsigned char outbuf[4096];
static ms_error err;

/* Build a node for `op` at `opset`, run infer then run; the output lands in outbuf. */
static ms_status run_op(const char *op, int opset, ms_attr *attrs, int n_attr,
                        const ms_tensor **ins, int n_in, ms_tensor *out)
{
    const ms_kernel *k = ms_kernel_find("", op, opset);
    if (!k) return MS_ERR_RUNTIME;
    ms_node node = {.name = "t", .op_type = op, .domain = "", .n_in = n_in, .n_out = 1,
                    .n_attr = n_attr, .attrs = attrs, .opset = opset};
    ms_tensor *outs[1] = {out};
    ms_kctx c = {.node = &node, .opset = opset, .n_in = n_in, .n_out = 1,
                 .in = (const ms_tensor *const *)ins, .out = outs, .err = &err};
    memset(out, 0, sizeof *out);
    ms_status st = k->infer(&c);
    if (st) return st;
    if ((size_t)ms_tensor_numel(out) * ms_dtype_size(out->dtype) > sizeof outbuf)
        return MS_ERR_RUNTIME;
    out->data = outbuf;
    return k->run(&c);
}

static ms_tensor mk(ms_dtype t, int ndim, const int64_t *shape, void *data)
{
    ms_tensor x = {t, ndim, {0}, data};
    for (int d = 0; d < ndim; d++) x.shape[d] = shape[d];
    return x;
}

static ms_attr attr_int(const char *name, int64_t v)
{
    ms_attr a = {.name = name, .type = MS_ATTR_INT, .i = v};
    return a;
}

/* [2,1,3] + [4,1] -> [2,4,3]: both inputs broadcast, in different dimensions */
TEST(broadcast_both_sides)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[4] = {10, 20, 30, 40};
    ms_tensor ta = mk(MS_DTYPE_FLOAT, 3, (int64_t[]){2, 1, 3}, a);
    ms_tensor tb = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){4, 1}, b);
    const ms_tensor *in[2] = {&ta, &tb};
    ms_tensor y;
    CHECK(run_op("Add", 14, NULL, 0, in, 2, &y) == MS_OK);
    CHECK(y.ndim == 3 && y.shape[0] == 2 && y.shape[1] == 4 && y.shape[2] == 3);
    const float *o = (const float *)outbuf;
    CHECK(o[0] == 11 && o[2] == 13);      /* [0,0,:] = 1,2,3 + 10 */
    CHECK(o[7] == 32);                    /* [0,2,1] = 2 + 30 */
    CHECK(o[12] == 14 && o[23] == 46);    /* [1,0,0] = 4 + 10, [1,3,2] = 6 + 40 */
}

/* a per-channel bias [3,1,1] on [2,3,2,2]: the inner loop has a scalar operand */
TEST(broadcast_channel_bias)
{
    float x[24] = {0}, b[3] = {1, 2, 3};
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 4, (int64_t[]){2, 3, 2, 2}, x);
    ms_tensor tb = mk(MS_DTYPE_FLOAT, 3, (int64_t[]){3, 1, 1}, b);
    const ms_tensor *in[2] = {&tx, &tb};
    ms_tensor y;
    CHECK(run_op("Sub", 14, NULL, 0, in, 2, &y) == MS_OK);
    const float *o = (const float *)outbuf;
    int bad = 0;
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int k = 0; k < 4; k++) {
                int i = (n * 3 + ch) * 4 + k;
                bad += o[i] != (float)i - (float)(ch + 1);
            }
    CHECK(bad == 0);
}

/* Sum and Max over [3,1], [1,2] and a scalar: the first pair does not span the output alone */
TEST(variadic_three_shapes)
{
    float a[3] = {1, 2, 3}, b[2] = {10, -10}, s[1] = {100};
    ms_tensor ta = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){3, 1}, a);
    ms_tensor tb = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){1, 2}, b);
    ms_tensor ts = mk(MS_DTYPE_FLOAT, 0, NULL, s);
    const ms_tensor *in[3] = {&ta, &tb, &ts};
    ms_tensor y;
    CHECK(run_op("Sum", 13, NULL, 0, in, 3, &y) == MS_OK);
    const float *o = (const float *)outbuf;
    CHECK(y.ndim == 2 && y.shape[0] == 3 && y.shape[1] == 2);
    CHECK(o[0] == 111 && o[1] == 91 && o[4] == 113 && o[5] == 93);
    s[0] = 2.5f;
    CHECK(run_op("Max", 13, NULL, 0, in, 3, &y) == MS_OK);
    CHECK(o[0] == 10 && o[1] == 2.5f && o[5] == 3);
    CHECK(run_op("Mean", 13, NULL, 0, in, 3, &y) == MS_OK);
    CHECK_NEAR(o[0], (1 + 10 + 2.5) / 3.0, 1e-6);
}

TEST(int_division_edges)
{
    int32_t a[4] = {INT32_MIN, 7, -7, 7}, b[4] = {-1, 0, 2, -2};
    ms_tensor ta = mk(MS_DTYPE_INT32, 1, (int64_t[]){4}, a);
    ms_tensor tb = mk(MS_DTYPE_INT32, 1, (int64_t[]){4}, b);
    const ms_tensor *in[2] = {&ta, &tb};
    ms_tensor y;
    const int32_t *o = (const int32_t *)outbuf;
    CHECK(run_op("Div", 14, NULL, 0, in, 2, &y) == MS_OK);
    CHECK(o[0] == INT32_MIN && o[1] == 0 && o[2] == -3 && o[3] == -3);
    CHECK(run_op("Mod", 13, NULL, 0, in, 2, &y) == MS_OK); /* sign of the divisor */
    CHECK(o[0] == 0 && o[1] == 0 && o[2] == 1 && o[3] == -1);
    ms_attr fm = attr_int("fmod", 1); /* sign of the dividend */
    CHECK(run_op("Mod", 13, &fm, 1, in, 2, &y) == MS_OK);
    CHECK(o[0] == 0 && o[1] == 0 && o[2] == -1 && o[3] == 1);
}

TEST(bitshift_wide)
{
    uint8_t a[3] = {1, 0x80, 3}, b[3] = {8, 7, 1};
    ms_tensor ta = mk(MS_DTYPE_UINT8, 1, (int64_t[]){3}, a);
    ms_tensor tb = mk(MS_DTYPE_UINT8, 1, (int64_t[]){3}, b);
    const ms_tensor *in[2] = {&ta, &tb};
    ms_tensor y;
    ms_attr dir = {.name = "direction", .type = MS_ATTR_STRING, .s = "LEFT", .s_len = 4};
    CHECK(run_op("BitShift", 11, &dir, 1, in, 2, &y) == MS_OK);
    CHECK(outbuf[0] == 0 && outbuf[1] == 0 && outbuf[2] == 6);
    dir.s = "RIGHT";
    dir.s_len = 5;
    CHECK(run_op("BitShift", 11, &dir, 1, in, 2, &y) == MS_OK);
    CHECK(outbuf[0] == 0 && outbuf[1] == 1 && outbuf[2] == 1);
    dir.s = "UP";
    dir.s_len = 2;
    CHECK(run_op("BitShift", 11, &dir, 1, in, 2, &y) == MS_ERR_INVALID);
}

TEST(pow_cases)
{
    float x[3] = {-3, 0.5f, 4}, two[1] = {2};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){3}, x);
    ms_tensor t2 = mk(MS_DTYPE_FLOAT, 0, NULL, two);
    const ms_tensor *in[2] = {&tx, &t2};
    ms_tensor y;
    const float *of = (const float *)outbuf;
    CHECK(run_op("Pow", 15, NULL, 0, in, 2, &y) == MS_OK);
    CHECK(of[0] == 9 && of[1] == 0.25f && of[2] == 16);

    int64_t bx[3] = {2, 3, -2}, be[3] = {62, 3, 3};
    ms_tensor tbx = mk(MS_DTYPE_INT64, 1, (int64_t[]){3}, bx);
    ms_tensor tbe = mk(MS_DTYPE_INT64, 1, (int64_t[]){3}, be);
    const ms_tensor *in2[2] = {&tbx, &tbe};
    const int64_t *oi = (const int64_t *)outbuf;
    CHECK(run_op("Pow", 15, NULL, 0, in2, 2, &y) == MS_OK);
    CHECK(oi[0] == 4611686018427387904LL && oi[1] == 27 && oi[2] == -8);

    int32_t ix[3] = {2, -1, 1}, ie[3] = {-1, -3, -5};
    ms_tensor tix = mk(MS_DTYPE_INT32, 1, (int64_t[]){3}, ix);
    ms_tensor tie = mk(MS_DTYPE_INT32, 1, (int64_t[]){3}, ie);
    const ms_tensor *in3[2] = {&tix, &tie};
    const int32_t *o32 = (const int32_t *)outbuf;
    CHECK(run_op("Pow", 15, NULL, 0, in3, 2, &y) == MS_OK);
    CHECK(y.dtype == MS_DTYPE_INT32 && o32[0] == 0 && o32[1] == -1 && o32[2] == 1);

    float half[1] = {0.5f}; /* int ^ float: computed in double, truncated */
    ms_tensor th = mk(MS_DTYPE_FLOAT, 0, NULL, half);
    const ms_tensor *in4[2] = {&tix, &th};
    CHECK(run_op("Pow", 15, NULL, 0, in4, 2, &y) == MS_OK);
    CHECK(o32[0] == 1 && o32[2] == 1); /* sqrt(2) -> 1 */
}

TEST(float16_rounding)
{
    uint16_t a[3] = {0x3C00, 0x7BFF, 0x0001}, b[3] = {0x4000, 0x7BFF, 0x0001};
    ms_tensor ta = mk(MS_DTYPE_FLOAT16, 1, (int64_t[]){3}, a);
    ms_tensor tb = mk(MS_DTYPE_FLOAT16, 1, (int64_t[]){3}, b);
    const ms_tensor *in[2] = {&ta, &tb};
    ms_tensor y;
    CHECK(run_op("Add", 14, NULL, 0, in, 2, &y) == MS_OK);
    const uint16_t *o = (const uint16_t *)outbuf;
    /* 1 + 2 = 3; 65504 + 65504 overflows to inf; two smallest subnormals make 2^-23 */
    CHECK(o[0] == 0x4200 && o[1] == 0x7C00 && o[2] == 0x0002);
    uint16_t c[1] = {0x3C01}; /* 1 + 2^-10; times 1 + 2^-10 = 1 + 2^-9 + 2^-20 -> 0x3C02 */
    ms_tensor tc = mk(MS_DTYPE_FLOAT16, 1, (int64_t[]){1}, c);
    const ms_tensor *in2[2] = {&tc, &tc};
    CHECK(run_op("Mul", 14, NULL, 0, in2, 2, &y) == MS_OK);
    CHECK(o[0] == 0x3C02);
}

TEST(clip_forms)
{
    float x[3] = {-2, 0.5f, 3};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){3}, x);
    const ms_tensor *in1[1] = {&tx};
    ms_attr at[2] = {{.name = "min", .type = MS_ATTR_FLOAT, .f = -1},
                     {.name = "max", .type = MS_ATTR_FLOAT, .f = 1}};
    ms_tensor y;
    const float *o = (const float *)outbuf;
    CHECK(run_op("Clip", 6, at, 2, in1, 1, &y) == MS_OK); /* opset 6: attributes */
    CHECK(o[0] == -1 && o[1] == 0.5f && o[2] == 1);

    float lo[1] = {2}, hi[1] = {1}; /* min > max: everything becomes max */
    ms_tensor tlo = mk(MS_DTYPE_FLOAT, 0, NULL, lo), thi = mk(MS_DTYPE_FLOAT, 0, NULL, hi);
    const ms_tensor *in3[3] = {&tx, &tlo, &thi};
    CHECK(run_op("Clip", 13, NULL, 0, in3, 3, &y) == MS_OK);
    CHECK(o[0] == 1 && o[1] == 1 && o[2] == 1);
    const ms_tensor *in_max_only[3] = {&tx, NULL, &tlo};
    CHECK(run_op("Clip", 13, NULL, 0, in_max_only, 3, &y) == MS_OK);
    CHECK(o[0] == -2 && o[1] == 0.5f && o[2] == 2);

    float two[2] = {0, 1}; /* min must be a scalar */
    ms_tensor t2 = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, two);
    const ms_tensor *inbad[2] = {&tx, &t2};
    CHECK(run_op("Clip", 13, NULL, 0, inbad, 2, &y) == MS_ERR_INVALID);
}

TEST(where_broadcast)
{
    uint8_t cond[2] = {1, 0};
    int64_t x[3] = {1, 2, 3}, z[1] = {9};
    ms_tensor tc = mk(MS_DTYPE_BOOL, 2, (int64_t[]){2, 1}, cond);
    ms_tensor tx = mk(MS_DTYPE_INT64, 1, (int64_t[]){3}, x);
    ms_tensor tz = mk(MS_DTYPE_INT64, 0, NULL, z);
    const ms_tensor *in[3] = {&tc, &tx, &tz};
    ms_tensor y;
    CHECK(run_op("Where", 16, NULL, 0, in, 3, &y) == MS_OK);
    const int64_t *o = (const int64_t *)outbuf;
    CHECK(y.ndim == 2 && y.shape[0] == 2 && y.shape[1] == 3);
    CHECK(o[0] == 1 && o[1] == 2 && o[2] == 3 && o[3] == 9 && o[5] == 9);
}

/* the saturating formulas must not overflow to inf or NaN at the extremes */
TEST(activations_extremes)
{
    float x[4] = {1000, -1000, 100, -100};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){4}, x);
    const ms_tensor *in[1] = {&tx};
    ms_tensor y;
    const float *o = (const float *)outbuf;
    CHECK(run_op("Sigmoid", 13, NULL, 0, in, 1, &y) == MS_OK);
    CHECK(o[0] == 1 && o[1] == 0);
    CHECK(run_op("Softplus", 1, NULL, 0, in, 1, &y) == MS_OK);
    CHECK(o[0] == 1000 && o[1] == 0 && o[2] == 100);
    CHECK_NEAR(o[3], 0, 1e-40);
}

TEST(error_paths)
{
    int32_t i[2] = {1, 2};
    float f[3] = {1, 2, 3};
    ms_tensor ti = mk(MS_DTYPE_INT32, 1, (int64_t[]){2}, i);
    ms_tensor tf = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, f);
    ms_tensor tf3 = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){3}, f);
    ms_tensor y;
    const ms_tensor *mixed[2] = {&ti, &tf};
    CHECK(run_op("Add", 14, NULL, 0, mixed, 2, &y) == MS_ERR_INVALID);
    const ms_tensor *nobcast[2] = {&tf, &tf3};
    CHECK(run_op("Mul", 14, NULL, 0, nobcast, 2, &y) == MS_ERR_INVALID);
    const ms_tensor *one[1] = {&ti};
    CHECK(run_op("Sqrt", 13, NULL, 0, one, 1, &y) == MS_ERR_UNSUPPORTED);
    CHECK(run_op("Add", 14, NULL, 0, one, 1, &y) == MS_ERR_INVALID);
    const ms_tensor *ff[2] = {&tf, &tf};
    CHECK(run_op("Mod", 13, NULL, 0, ff, 2, &y) == MS_ERR_INVALID); /* float needs fmod=1 */
    ms_attr fm = attr_int("fmod", 2);
    CHECK(run_op("Mod", 13, &fm, 1, ff, 2, &y) == MS_ERR_INVALID);
    float f6[6] = {0};
    ms_tensor tf23 = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, f6);
    const ms_tensor *prelu[2] = {&tf3, &tf23}; /* slope broadcasts X up: not unidirectional */
    CHECK(run_op("PRelu", 16, NULL, 0, prelu, 2, &y) == MS_ERR_INVALID);
    const char *s[2] = {"a", "b"};
    ms_tensor ts = mk(MS_DTYPE_STRING, 1, (int64_t[]){2}, s);
    const ms_tensor *strs[2] = {&ts, &ts};
    CHECK(run_op("Add", 14, NULL, 0, strs, 2, &y) == MS_ERR_UNSUPPORTED);
    const ms_tensor *nocond[3] = {&tf, &tf, &tf};
    CHECK(run_op("Where", 16, NULL, 0, nocond, 3, &y) == MS_ERR_INVALID);
    CHECK(run_op("Relu", 14, NULL, 0, strs, 1, &y) == MS_ERR_UNSUPPORTED);
}

int main(void)
{
    RUN(broadcast_both_sides);
    RUN(broadcast_channel_bias);
    RUN(variadic_three_shapes);
    RUN(int_division_edges);
    RUN(bitshift_wide);
    RUN(pow_cases);
    RUN(float16_rounding);
    RUN(clip_forms);
    RUN(where_broadcast);
    RUN(activations_extremes);
    RUN(error_paths);
    return mstest_summary();
}
