/* test_shape.c: the data-movement kernels (ops_shape.c, ops_gather.c) called directly, for what
 * the ONNX conformance tests leave out: out-of-range indices, extreme Slice/Range bounds, large
 * reflect pads, float-to-int casts of NaN, and the error paths. Expected values are worked by
 * hand in the comments. */
#include "mstest.h"
#include "ms_op.h"

#include <stdint.h>

extern const ms_kernel ms_ops_gather[];

static _Alignas(64) unsigned char outbuf[2][4096];
static _Alignas(64) unsigned char scratch[4096];
static ms_error err;

/* The kernel for op in the two tables under test (independent of the registry). */
static const ms_kernel *find(const char *op, int opset)
{
    const ms_kernel *tables[2] = {ms_ops_shape, ms_ops_gather};
    for (int t = 0; t < 2; t++)
        for (const ms_kernel *k = tables[t]; k->op_type; k++)
            if (!strcmp(k->op_type, op) && opset >= k->since && opset <= k->until) return k;
    return NULL;
}

/* Run infer then run with n_out outputs; output i lands in outbuf[i]. */
static ms_status run_n(const char *op, int opset, ms_attr *attrs, int n_attr,
                       const ms_tensor **ins, int n_in, ms_tensor *outs, int n_out)
{
    const ms_kernel *k = find(op, opset);
    if (!k) return MS_ERR_RUNTIME;
    ms_node node = {.name = "t", .op_type = op, .domain = "", .n_in = n_in, .n_out = n_out,
                    .n_attr = n_attr, .attrs = attrs, .opset = opset};
    ms_tensor *po[2] = {&outs[0], n_out > 1 ? &outs[1] : NULL};
    ms_kctx c = {.node = &node, .opset = opset, .n_in = n_in, .n_out = n_out,
                 .in = (const ms_tensor *const *)ins, .out = po, .err = &err};
    memset(outs, 0, sizeof *outs * (size_t)n_out);
    ms_status st = k->infer(&c);
    if (st) return st;
    if (c.scratch_size > sizeof scratch) return MS_ERR_RUNTIME;
    c.scratch = scratch;
    for (int i = 0; i < n_out; i++) {
        if ((size_t)ms_tensor_numel(&outs[i]) * ms_dtype_size(outs[i].dtype) > sizeof outbuf[i])
            return MS_ERR_RUNTIME;
        outs[i].data = outbuf[i];
    }
    return k->run(&c);
}

static ms_status run_op(const char *op, int opset, ms_attr *attrs, int n_attr,
                        const ms_tensor **ins, int n_in, ms_tensor *out)
{
    return run_n(op, opset, attrs, n_attr, ins, n_in, out, 1);
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

static ms_attr attr_str(const char *name, const char *v)
{
    ms_attr a = {.name = name, .type = MS_ATTR_STRING, .s = v, .s_len = strlen(v)};
    return a;
}

/* Gather: -1 wraps to the last row; 3 on a dimension of 3 is refused at run, not read. */
TEST(gather_indices)
{
    float x[3] = {10, 20, 30};
    int64_t good[2] = {-1, 0}, bad[1] = {3};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){3}, x);
    ms_tensor ti = mk(MS_DTYPE_INT64, 1, (int64_t[]){2}, good);
    const ms_tensor *in[2] = {&tx, &ti};
    ms_tensor y;
    CHECK(run_op("Gather", 13, NULL, 0, in, 2, &y) == MS_OK);
    CHECK(((float *)outbuf[0])[0] == 30 && ((float *)outbuf[0])[1] == 10);
    ti = mk(MS_DTYPE_INT64, 1, (int64_t[]){1}, bad);
    CHECK(run_op("Gather", 13, NULL, 0, in, 2, &y) == MS_ERR_INVALID);
    ti.dtype = MS_DTYPE_FLOAT;
    CHECK(run_op("Gather", 13, NULL, 0, in, 2, &y) == MS_ERR_INVALID);
}

TEST(gather_elements_and_scatter_out_of_range)
{
    float x[4] = {1, 2, 3, 4}, u[2] = {9, 9};
    int64_t idx[2] = {0, 2}; /* 2 is out of range for axis 1 of size 2 */
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){2, 2}, x);
    ms_tensor ti = mk(MS_DTYPE_INT64, 2, (int64_t[]){1, 2}, idx);
    ms_tensor tu = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){1, 2}, u);
    const ms_tensor *in[3] = {&tx, &ti, &tu};
    ms_attr ax = attr_int("axis", 1);
    ms_tensor y;
    CHECK(run_op("GatherElements", 13, &ax, 1, in, 2, &y) == MS_ERR_INVALID);
    CHECK(run_op("ScatterElements", 16, &ax, 1, in, 3, &y) == MS_ERR_INVALID);
    /* indices larger than data off the axis */
    ti = mk(MS_DTYPE_INT64, 2, (int64_t[]){3, 1}, idx);
    CHECK(run_op("GatherElements", 13, &ax, 1, in, 2, &y) == MS_ERR_INVALID);
}

/* ScatterElements add with a repeated index: x[0] = 1 + 5 + 7 = 13 */
TEST(scatter_add_duplicates)
{
    float x[3] = {1, 2, 3}, u[2] = {5, 7};
    int64_t idx[2] = {0, -3};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){3}, x);
    ms_tensor ti = mk(MS_DTYPE_INT64, 1, (int64_t[]){2}, idx);
    ms_tensor tu = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, u);
    const ms_tensor *in[3] = {&tx, &ti, &tu};
    ms_attr red = attr_str("reduction", "add");
    ms_tensor y;
    CHECK(run_op("ScatterElements", 16, &red, 1, in, 3, &y) == MS_OK);
    const float *o = (const float *)outbuf[0];
    CHECK(o[0] == 13 && o[1] == 2 && o[2] == 3);
    red = attr_str("reduction", "max");
    CHECK(run_op("ScatterElements", 16, &red, 1, in, 3, &y) == MS_ERR_INVALID); /* 18+ only */
}

TEST(reshape_errors)
{
    float x[6] = {0};
    int64_t two_neg[2] = {-1, -1}, copy_oob[3] = {2, 3, 0}, ok[2] = {0, -1};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, x);
    ms_tensor ts = mk(MS_DTYPE_INT64, 1, (int64_t[]){2}, two_neg);
    const ms_tensor *in[2] = {&tx, &ts};
    ms_tensor y;
    CHECK(run_op("Reshape", 14, NULL, 0, in, 2, &y) == MS_ERR_INVALID);
    ts = mk(MS_DTYPE_INT64, 1, (int64_t[]){3}, copy_oob); /* 0 copies a dim the input lacks */
    CHECK(run_op("Reshape", 14, NULL, 0, in, 2, &y) == MS_ERR_INVALID);
    ts = mk(MS_DTYPE_INT64, 1, (int64_t[]){2}, ok); /* [0, -1] -> [2, 3] */
    CHECK(run_op("Reshape", 14, NULL, 0, in, 2, &y) == MS_OK);
    CHECK(y.ndim == 2 && y.shape[0] == 2 && y.shape[1] == 3);
    ms_attr az = attr_int("allowzero", 1); /* 0 is literal: 0 * -1 cannot hold 6 elements */
    CHECK(run_op("Reshape", 14, &az, 1, in, 2, &y) == MS_ERR_INVALID);
}

/* Slice bounds at the int64 extremes: a full reverse with end = INT64_MIN, a step larger than
 * the axis, and step 0 refused. */
TEST(slice_extremes)
{
    float x[4] = {1, 2, 3, 4};
    int64_t s1[1] = {-1}, e1[1] = {INT64_MIN}, st1[1] = {-1};
    int64_t s2[1] = {0}, e2[1] = {INT64_MAX}, st2[1] = {INT64_MAX}, st0[1] = {0};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){4}, x);
    int64_t one[1] = {1};
    ms_tensor ts = mk(MS_DTYPE_INT64, 1, one, s1), te = mk(MS_DTYPE_INT64, 1, one, e1);
    ms_tensor tst = mk(MS_DTYPE_INT64, 1, one, st1);
    const ms_tensor *in[5] = {&tx, &ts, &te, NULL, &tst};
    ms_tensor y;
    CHECK(run_op("Slice", 13, NULL, 0, in, 5, &y) == MS_OK);
    const float *o = (const float *)outbuf[0];
    CHECK(y.shape[0] == 4 && o[0] == 4 && o[1] == 3 && o[2] == 2 && o[3] == 1);
    ts.data = s2;
    te.data = e2;
    tst.data = st2;
    CHECK(run_op("Slice", 13, NULL, 0, in, 5, &y) == MS_OK);
    CHECK(y.shape[0] == 1 && o[0] == 1);
    tst.data = st0;
    CHECK(run_op("Slice", 13, NULL, 0, in, 5, &y) == MS_ERR_INVALID);
}

/* Reflect padding wider than the axis keeps reflecting: [1,2,3] padded 4 on the left is
 * 1,2,3,2 then 1,2,3 (numpy.pad does the same). */
TEST(pad_reflect_wide)
{
    int32_t x[3] = {1, 2, 3};
    int64_t pads[2] = {4, 0};
    ms_tensor tx = mk(MS_DTYPE_INT32, 1, (int64_t[]){3}, x);
    ms_tensor tp = mk(MS_DTYPE_INT64, 1, (int64_t[]){2}, pads);
    const ms_tensor *in[2] = {&tx, &tp};
    ms_attr mode = attr_str("mode", "reflect");
    ms_tensor y;
    CHECK(run_op("Pad", 13, &mode, 1, in, 2, &y) == MS_OK);
    const int32_t *o = (const int32_t *)outbuf[0];
    int32_t want[7] = {1, 2, 3, 2, 1, 2, 3};
    CHECK(y.shape[0] == 7 && !memcmp(o, want, sizeof want));
    mode = attr_str("mode", "wrap");
    CHECK(run_op("Pad", 13, &mode, 1, in, 2, &y) == MS_ERR_UNSUPPORTED);
    mode = attr_str("mode", "bogus");
    CHECK(run_op("Pad", 13, &mode, 1, in, 2, &y) == MS_ERR_INVALID);
    int64_t crop[2] = {-4, 0}; /* removes more than the axis holds */
    tp.data = crop;
    CHECK(run_op("Pad", 13, NULL, 0, in, 2, &y) == MS_ERR_INVALID);
}

/* Range over the whole int64 span: start INT64_MIN, step INT64_MAX gives MIN, -1, MAX-1. */
TEST(range_int64_extremes)
{
    int64_t a = INT64_MIN, b = INT64_MAX, h = INT64_MAX, z = 0;
    ms_tensor ta = mk(MS_DTYPE_INT64, 0, NULL, &a), tb = mk(MS_DTYPE_INT64, 0, NULL, &b);
    ms_tensor th = mk(MS_DTYPE_INT64, 0, NULL, &h);
    const ms_tensor *in[3] = {&ta, &tb, &th};
    ms_tensor y;
    CHECK(run_op("Range", 11, NULL, 0, in, 3, &y) == MS_OK);
    const int64_t *o = (const int64_t *)outbuf[0];
    CHECK(y.shape[0] == 3 && o[0] == INT64_MIN && o[1] == -1 && o[2] == INT64_MAX - 1);
    th.data = &z;
    CHECK(run_op("Range", 11, NULL, 0, in, 3, &y) == MS_ERR_INVALID);
}

/* Float to integer casts never hit undefined behaviour: NaN and out-of-range to int32 give
 * INT32_MIN (as x86 and numpy), 300.0 to int8 wraps to 44, -1.0 to uint8 wraps to 255. */
TEST(cast_float_edges)
{
    float x[4] = {NAN, 3e9f, 300.0f, -1.0f};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){4}, x);
    const ms_tensor *in[1] = {&tx};
    ms_attr to = attr_int("to", MS_DTYPE_INT32);
    ms_tensor y;
    CHECK(run_op("Cast", 13, &to, 1, in, 1, &y) == MS_OK);
    const int32_t *o = (const int32_t *)outbuf[0];
    CHECK(o[0] == INT32_MIN && o[1] == INT32_MIN && o[2] == 300 && o[3] == -1);
    to = attr_int("to", MS_DTYPE_INT8);
    CHECK(run_op("Cast", 13, &to, 1, in, 1, &y) == MS_OK);
    CHECK(((int8_t *)outbuf[0])[2] == 44);
    to = attr_int("to", MS_DTYPE_UINT8);
    CHECK(run_op("Cast", 13, &to, 1, in, 1, &y) == MS_OK);
    CHECK(((uint8_t *)outbuf[0])[3] == 255);
    to = attr_int("to", MS_DTYPE_BOOL);
    CHECK(run_op("Cast", 13, &to, 1, in, 1, &y) == MS_OK);
    CHECK(((uint8_t *)outbuf[0])[0] == 1 && y.dtype == MS_DTYPE_BOOL);
    to = attr_int("to", MS_DTYPE_STRING);
    CHECK(run_op("Cast", 13, &to, 1, in, 1, &y) == MS_ERR_UNSUPPORTED);
}

TEST(shape_mismatch_errors)
{
    float a[6] = {0}, b[4] = {0};
    ms_tensor ta = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, a);
    ms_tensor tb = mk(MS_DTYPE_FLOAT, 2, (int64_t[]){2, 2}, b);
    const ms_tensor *in[2] = {&ta, &tb};
    ms_attr ax = attr_int("axis", 0);
    ms_tensor y[2];
    CHECK(run_op("Concat", 13, &ax, 1, in, 2, y) == MS_ERR_INVALID); /* 3 vs 2 columns */
    int64_t shp[2] = {3, 3};
    ms_tensor ts = mk(MS_DTYPE_INT64, 1, (int64_t[]){2}, shp);
    in[1] = &ts;
    CHECK(run_op("Expand", 13, NULL, 0, in, 2, y) == MS_ERR_INVALID); /* 2 vs 3 rows */
    ax = attr_int("axis", 1); /* 3 columns into 2 equal parts */
    CHECK(run_n("Split", 13, &ax, 1, in, 1, y, 2) == MS_ERR_INVALID);
    ms_attr perm = {.name = "perm", .type = MS_ATTR_INTS, .n = 2, .ints = (int64_t[]){0, 0}};
    CHECK(run_op("Transpose", 13, &perm, 1, in, 1, y) == MS_ERR_INVALID);
}

/* Compress: a condition longer than the axis may only hold false past its end. */
TEST(compress_long_condition)
{
    float x[2] = {5, 6};
    uint8_t c_ok[3] = {0, 1, 0}, c_bad[3] = {0, 1, 1};
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, x);
    ms_tensor tc = mk(MS_DTYPE_BOOL, 1, (int64_t[]){3}, c_ok);
    const ms_tensor *in[2] = {&tx, &tc};
    ms_attr ax = attr_int("axis", 0);
    ms_tensor y;
    CHECK(run_op("Compress", 11, &ax, 1, in, 2, &y) == MS_OK);
    CHECK(y.shape[0] == 1 && ((float *)outbuf[0])[0] == 6);
    tc.data = c_bad;
    CHECK(run_op("Compress", 11, &ax, 1, in, 2, &y) == MS_ERR_INVALID);
}

/* OneHot: an index outside [-depth, depth-1] gives an all-off row; -1 is the last class. */
TEST(onehot_out_of_range)
{
    int64_t idx[2] = {5, -1}, depth = 3;
    float vals[2] = {0, 1};
    ms_tensor ti = mk(MS_DTYPE_INT64, 1, (int64_t[]){2}, idx);
    ms_tensor td = mk(MS_DTYPE_INT64, 0, NULL, &depth);
    ms_tensor tv = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, vals);
    const ms_tensor *in[3] = {&ti, &td, &tv};
    ms_tensor y;
    CHECK(run_op("OneHot", 11, NULL, 0, in, 3, &y) == MS_OK);
    const float *o = (const float *)outbuf[0];
    float want[6] = {0, 0, 0, 0, 0, 1};
    CHECK(y.shape[0] == 2 && y.shape[1] == 3 && !memcmp(o, want, sizeof want));
}

/* Resize: refused cleanly where we do not implement it. */
TEST(resize_refusals)
{
    int32_t x[4] = {1, 2, 3, 4};
    float sc[4] = {1, 1, 2, 2};
    ms_tensor tx = mk(MS_DTYPE_INT32, 4, (int64_t[]){1, 1, 2, 2}, x);
    ms_tensor ts = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){4}, sc);
    const ms_tensor *in[3] = {&tx, NULL, &ts};
    ms_attr mode = attr_str("mode", "linear");
    ms_tensor y;
    CHECK(run_op("Resize", 13, &mode, 1, in, 3, &y) == MS_ERR_UNSUPPORTED); /* linear on int */
    mode = attr_str("mode", "nearest"); /* nearest is movement: any type */
    CHECK(run_op("Resize", 13, &mode, 1, in, 3, &y) == MS_OK);
    CHECK(y.shape[2] == 4 && ((int32_t *)outbuf[0])[5] == 1); /* [0,0,1,1] from half_pixel */
    CHECK(find("Resize", 18) == NULL); /* antialias/axes: not implemented */
    in[1] = &ts; /* scales and sizes both missing at opset 13 -> invalid */
    in[2] = NULL;
    CHECK(run_op("Resize", 13, &mode, 1, in, 3, &y) == MS_ERR_INVALID);
}

/* Dropout in training mode is random: refused unless the ratio is 0. */
TEST(dropout_training)
{
    float x[2] = {1, 2}, r0 = 0, r5 = 0.5f;
    uint8_t on = 1;
    ms_tensor tx = mk(MS_DTYPE_FLOAT, 1, (int64_t[]){2}, x);
    ms_tensor tr = mk(MS_DTYPE_FLOAT, 0, NULL, &r5), tt = mk(MS_DTYPE_BOOL, 0, NULL, &on);
    const ms_tensor *in[3] = {&tx, &tr, &tt};
    ms_tensor y[2];
    CHECK(run_n("Dropout", 13, NULL, 0, in, 3, y, 2) == MS_ERR_UNSUPPORTED);
    tr.data = &r0;
    CHECK(run_n("Dropout", 13, NULL, 0, in, 3, y, 2) == MS_OK);
    CHECK(((float *)outbuf[0])[1] == 2 && outbuf[1][0] == 1 && outbuf[1][1] == 1);
}

int main(void)
{
    RUN(gather_indices);
    RUN(gather_elements_and_scatter_out_of_range);
    RUN(scatter_add_duplicates);
    RUN(reshape_errors);
    RUN(slice_extremes);
    RUN(pad_reflect_wide);
    RUN(range_int64_extremes);
    RUN(cast_float_edges);
    RUN(shape_mismatch_errors);
    RUN(compress_long_condition);
    RUN(onehot_out_of_range);
    RUN(resize_refusals);
    RUN(dropout_training);
    return mstest_summary();
}
