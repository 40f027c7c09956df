/* test_pool_norm.c: pooling and normalisation kernels called directly through the registry,
 * for what the ONNX node tests leave out: ceil_mode windows that reach past the padding, the
 * count_include_pad divisor there, LpPool, the error paths (bad attributes -> INVALID,
 * valid-but-unhandled cases -> UNSUPPORTED). Expected values are worked out by hand in the
 * comments. */
#include "mstest.h"
#include "ms_op.h"

#include <stdint.h>

static _Alignas(64) unsigned char outbuf[2][4096];
static _Alignas(64) unsigned char scratch[4096];
static ms_error err;

/* Build a node for `op` at `opset` with n_out outputs, run infer then run; output i lands in
 * outbuf[i]. */
static ms_status run_op(const char *op, int opset, ms_attr *attrs, int n_attr,
                        const ms_tensor **ins, int n_in, ms_tensor *outs, int n_out)
{
    const ms_kernel *k = ms_kernel_find("", op, opset);
    if (!k) return MS_ERR_RUNTIME;
    ms_node node = {.name = "t", .op_type = op, .domain = "", .n_in = n_in, .n_out = n_out,
                    .n_attr = n_attr, .attrs = attrs, .opset = opset};
    ms_tensor *o[2] = {&outs[0], n_out > 1 ? &outs[1] : NULL};
    ms_kctx c = {.node = &node, .opset = opset, .n_in = n_in, .n_out = n_out,
                 .in = (const ms_tensor *const *)ins, .out = o, .err = &err};
    memset(outs, 0, sizeof *outs * (size_t)n_out);
    ms_status st = k->infer(&c);
    if (st) return st;
    for (int i = 0; i < n_out; i++) {
        if ((size_t)ms_tensor_numel(&outs[i]) * ms_dtype_size(outs[i].dtype) > sizeof outbuf[i])
            return MS_ERR_RUNTIME;
        outs[i].data = outbuf[i];
    }
    if (c.scratch_size > sizeof scratch) return MS_ERR_RUNTIME;
    c.scratch = scratch;
    return k->run(&c);
}

static ms_tensor mk(ms_dtype t, int ndim, const int64_t *shape, void *data)
{
    ms_tensor x = {t, ndim, {0}, data};
    for (int d = 0; d < ndim; d++) x.shape[d] = shape[d];
    return x;
}

static ms_attr a_int(const char *name, int64_t v)
{
    ms_attr a = {.name = name, .type = MS_ATTR_INT, .i = v};
    return a;
}

static ms_attr a_ints(const char *name, const int64_t *v, int n)
{
    ms_attr a = {.name = name, .type = MS_ATTR_INTS, .ints = v, .n = n};
    return a;
}

static ms_attr a_str(const char *name, const char *s)
{
    ms_attr a = {.name = name, .type = MS_ATTR_STRING, .s = s, .s_len = strlen(s)};
    return a;
}

/* 1-D input [1..6], kernel 3, stride 2, pads 1/1, ceil_mode: (6 + 2 - 3) / 2 = 2.5 -> 3 + 1 = 4
 * windows starting at -1, 1, 3, 5 (the last starts at 5 < 6 + 1, so it is kept). The last
 * window's taps are 5, 6, 7: 6 is right padding, 7 is past it. */
static const float seq6[6] = {1, 2, 3, 4, 5, 6};

TEST(avgpool_ceil_divisors)
{
    ms_tensor x = mk(MS_DTYPE_FLOAT, 3, (int64_t[]){1, 1, 6}, (void *)seq6);
    const ms_tensor *in[1] = {&x};
    ms_tensor y[1];
    ms_attr at[5] = {a_ints("kernel_shape", (int64_t[]){3}, 1), a_ints("strides", (int64_t[]){2}, 1),
                     a_ints("pads", (int64_t[]){1, 1}, 2), a_int("ceil_mode", 1),
                     a_int("count_include_pad", 0)};
    CHECK(run_op("AveragePool", 11, at, 5, in, 1, y, 1) == MS_OK);
    CHECK(y[0].shape[2] == 4);
    const float *o = (const float *)outbuf[0];
    /* count_include_pad=0: (1+2)/2, (2+3+4)/3, (4+5+6)/3, 6/1 */
    CHECK_NEAR(o[0], 1.5, 1e-6); CHECK_NEAR(o[1], 3, 1e-6);
    CHECK_NEAR(o[2], 5, 1e-6); CHECK_NEAR(o[3], 6, 1e-6);
    /* count_include_pad=1: padding counts, the tap past the padding does not: 3/3, 9/3,
     * 15/3, 6/2 */
    at[4] = a_int("count_include_pad", 1);
    CHECK(run_op("AveragePool", 11, at, 5, in, 1, y, 1) == MS_OK);
    CHECK_NEAR(o[0], 1, 1e-6); CHECK_NEAR(o[1], 3, 1e-6);
    CHECK_NEAR(o[2], 5, 1e-6); CHECK_NEAR(o[3], 3, 1e-6);
}

/* [1,2,3,4], kernel 2, stride 2, pads 0/1, ceil_mode: (4 + 1 - 2) / 2 = 1.5 -> 2 + 1 = 3, but
 * the third window would start at 4, inside the right padding, so it is dropped. */
TEST(maxpool_ceil_drops_window_in_padding)
{
    ms_tensor x = mk(MS_DTYPE_FLOAT, 3, (int64_t[]){1, 1, 4}, (void *)seq6);
    const ms_tensor *in[1] = {&x};
    ms_tensor y[2];
    ms_attr at[4] = {a_ints("kernel_shape", (int64_t[]){2}, 1), a_ints("strides", (int64_t[]){2}, 1),
                     a_ints("pads", (int64_t[]){0, 1}, 2), a_int("ceil_mode", 1)};
    CHECK(run_op("MaxPool", 12, at, 4, in, 1, y, 2) == MS_OK);
    CHECK(y[0].shape[2] == 2 && y[1].dtype == MS_DTYPE_INT64);
    const float *o = (const float *)outbuf[0];
    const int64_t *ix = (const int64_t *)outbuf[1];
    CHECK(o[0] == 2 && o[1] == 4);
    CHECK(ix[0] == 1 && ix[1] == 3);
}

/* LpPool p=1 and p=2 over [3, -4, 0] with kernel 2: |3|+|-4| = 7, 5; then 4, 4. */
TEST(lppool_values)
{
    float v[3] = {3, -4, 0};
    ms_tensor x = mk(MS_DTYPE_FLOAT, 3, (int64_t[]){1, 1, 3}, v);
    const ms_tensor *in[1] = {&x};
    ms_tensor y[1];
    ms_attr at[2] = {a_ints("kernel_shape", (int64_t[]){2}, 1), a_int("p", 1)};
    CHECK(run_op("LpPool", 11, at, 2, in, 1, y, 1) == MS_OK);
    const float *o = (const float *)outbuf[0];
    CHECK_NEAR(o[0], 7, 1e-6); CHECK_NEAR(o[1], 4, 1e-6);
    at[1] = a_int("p", 2);
    CHECK(run_op("LpPool", 11, at, 2, in, 1, y, 1) == MS_OK);
    CHECK_NEAR(o[0], 5, 1e-6); CHECK_NEAR(o[1], 4, 1e-6);
}

TEST(pool_errors)
{
    ms_tensor x = mk(MS_DTYPE_FLOAT, 3, (int64_t[]){1, 1, 2}, (void *)seq6);
    const ms_tensor *in[1] = {&x};
    ms_tensor y[1];
    /* no kernel_shape */
    CHECK(run_op("MaxPool", 12, NULL, 0, in, 1, y, 1) == MS_ERR_INVALID);
    /* pads with one value for a 1-D pool (needs two) */
    ms_attr at[2] = {a_ints("kernel_shape", (int64_t[]){2}, 1), a_ints("pads", (int64_t[]){1}, 1)};
    CHECK(run_op("MaxPool", 12, at, 2, in, 1, y, 1) == MS_ERR_INVALID);
    /* kernel 2 with pads 3/3 on a length-2 axis: the first window (taps -3, -2) sees no input */
    at[1] = a_ints("pads", (int64_t[]){3, 3}, 2);
    CHECK(run_op("MaxPool", 12, at, 2, in, 1, y, 1) == MS_ERR_UNSUPPORTED);
    /* unknown auto_pad */
    at[1] = a_str("auto_pad", "SAME");
    CHECK(run_op("AveragePool", 11, at, 2, in, 1, y, 1) == MS_ERR_INVALID);
    /* kernel larger than the unpadded axis */
    at[0] = a_ints("kernel_shape", (int64_t[]){3}, 1);
    CHECK(run_op("AveragePool", 11, at, 1, in, 1, y, 1) == MS_ERR_INVALID);
    /* int32 MaxPool is not a type we take */
    int32_t iv[2] = {1, 2};
    ms_tensor xi = mk(MS_DTYPE_INT32, 3, (int64_t[]){1, 1, 2}, iv);
    const ms_tensor *ini[1] = {&xi};
    at[0] = a_ints("kernel_shape", (int64_t[]){2}, 1);
    CHECK(run_op("MaxPool", 12, at, 1, ini, 1, y, 1) == MS_ERR_UNSUPPORTED);
    /* rank 2 has no spatial axis */
    ms_tensor x2 = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){1, 2}, (void *)seq6);
    const ms_tensor *in2[1] = {&x2};
    CHECK(run_op("MaxPool", 12, at, 1, in2, 1, y, 1) == MS_ERR_INVALID);
}

/* An index past the unpooled tensor is a bad input, reported by run, not a write out of
 * bounds. */
TEST(maxunpool_bad_index)
{
    float v[1] = {1};
    int64_t idx[1] = {4}; /* kernel 2 stride 2 on length 1 -> length 2 */
    ms_tensor x = mk(MS_DTYPE_FLOAT, 3, (int64_t[]){1, 1, 1}, v);
    ms_tensor ix = mk(MS_DTYPE_INT64, 3, (int64_t[]){1, 1, 1}, idx);
    const ms_tensor *in[2] = {&x, &ix};
    ms_tensor y[1];
    ms_attr at[2] = {a_ints("kernel_shape", (int64_t[]){2}, 1), a_ints("strides", (int64_t[]){2}, 1)};
    CHECK(run_op("MaxUnpool", 11, at, 2, in, 2, y, 1) == MS_ERR_INVALID);
    idx[0] = 1;
    CHECK(run_op("MaxUnpool", 11, at, 2, in, 2, y, 1) == MS_OK);
    CHECK(((float *)outbuf[0])[0] == 0 && ((float *)outbuf[0])[1] == 1);
}

TEST(norm_errors)
{
    float v[4] = {1, 2, 3, 4}, p[2] = {1, 1};
    ms_tensor x = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){2, 2}, v);
    ms_tensor t = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, p);
    const ms_tensor *in5[5] = {&x, &t, &t, &t, &t};
    ms_tensor y[2];
    /* opset 6, is_test=0 is a training graph */
    CHECK(run_op("BatchNormalization", 6, NULL, 0, in5, 5, y, 1) == MS_ERR_UNSUPPORTED);
    /* opset 9 asking for the running mean is training too */
    CHECK(run_op("BatchNormalization", 9, NULL, 0, in5, 5, y, 2) == MS_ERR_UNSUPPORTED);
    /* opset 15: extra outputs without training_mode */
    CHECK(run_op("BatchNormalization", 15, NULL, 0, in5, 5, y, 2) == MS_ERR_INVALID);
    /* scale of the wrong length */
    ms_tensor t3 = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){3}, v);
    const ms_tensor *bad[5] = {&x, &t3, &t, &t, &t};
    CHECK(run_op("BatchNormalization", 15, NULL, 0, bad, 5, y, 1) == MS_ERR_INVALID);
    const ms_tensor *in1[1] = {&x};
    ms_attr at[1] = {a_int("p", 3)};
    CHECK(run_op("LpNormalization", 1, at, 1, in1, 1, y, 1) == MS_ERR_INVALID);
    at[0] = a_int("axis", 2);
    CHECK(run_op("LayerNormalization", 17, at, 1, (const ms_tensor *[]){&x, &t}, 2, y, 1) ==
          MS_ERR_INVALID);
    at[0] = a_ints("axes", (int64_t[]){1, 1}, 2);
    CHECK(run_op("MeanVarianceNormalization", 13, at, 1, in1, 1, y, 1) == MS_ERR_INVALID);
    at[0] = a_int("stash_type", 11);
    CHECK(run_op("LayerNormalization", 17, at, 1, (const ms_tensor *[]){&x, &t}, 2, y, 1) ==
          MS_ERR_UNSUPPORTED);
}

/* BatchNorm at opset 15 in training mode on X = [[1, 2], [3, 4]] (N=2, C=2): batch means
 * 2 and 3, variances 1 and 1; with momentum 0.5 and given mean/var 1/1 the running mean is
 * 1 * 0.5 + 2 * 0.5 = 1.5 (channel 0) and the running variance 1. Y = (x - m) / sqrt(1 + eps)
 * = -1, +1 per channel. */
TEST(batchnorm_training)
{
    float v[4] = {1, 2, 3, 4}, one[2] = {1, 1}, zero[2] = {0, 0};
    ms_tensor x = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){2, 2}, v);
    ms_tensor s = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, one);
    ms_tensor b = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, zero);
    const ms_tensor *in[5] = {&x, &s, &b, &s, &s};
    ms_attr at[3] = {a_int("training_mode", 1), {.name = "momentum", .type = MS_ATTR_FLOAT, .f = 0.5f},
                     {.name = "epsilon", .type = MS_ATTR_FLOAT, .f = 0}};
    ms_tensor y[2];
    CHECK(run_op("BatchNormalization", 15, at, 3, in, 5, y, 2) == MS_OK);
    const float *o = (const float *)outbuf[0], *rm = (const float *)outbuf[1];
    CHECK_NEAR(o[0], -1, 1e-6); CHECK_NEAR(o[1], -1, 1e-6);
    CHECK_NEAR(o[2], 1, 1e-6); CHECK_NEAR(o[3], 1, 1e-6);
    CHECK_NEAR(rm[0], 1.5, 1e-6); CHECK_NEAR(rm[1], 2, 1e-6);
}

int main(void)
{
    RUN(avgpool_ceil_divisors);
    RUN(maxpool_ceil_drops_window_in_padding);
    RUN(lppool_values);
    RUN(pool_errors);
    RUN(maxunpool_bad_index);
    RUN(norm_errors);
    RUN(batchnorm_training);
    return mstest_summary();
}
