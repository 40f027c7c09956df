/* test_codec.c: the tensor codecs (src/codec): .npy, TensorProto writing, OIP JSON.
 * Expected bytes and strings are written out by hand from the format specifications. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_file.h"
#include "codec/codec_json.h"
#include "codec/codec_npy.h"
#include "codec/codec_pb.h"
#include "mstest.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* Build a .npy image: magic, version, header (padded to a 64-byte boundary unless raw), data. */
static size_t make_npy(unsigned char *dst, int major, const char *dict, const void *data,
                       size_t n)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hlen = (pre + dl + 1 + 63) / 64 * 64 - pre;
    memcpy(dst, "\x93NUMPY", 6);
    dst[6] = (unsigned char)major;
    dst[7] = 0;
    dst[8] = (unsigned char)(hlen & 255);
    dst[9] = (unsigned char)(hlen >> 8);
    if (major != 1) { dst[10] = 0; dst[11] = 0; }
    memcpy(dst + pre, dict, dl);
    memset(dst + pre + dl, ' ', hlen - dl - 1);
    dst[pre + hlen - 1] = '\n';
    if (n) memcpy(dst + pre + hlen, data, n);
    return pre + hlen + n;
}

static ms_status npy_dict(const char *dict, const void *data, size_t n, ms_tensor *t, ms_error *err)
{
    static unsigned char buf[4096];
    size_t len = make_npy(buf, 1, dict, data, n);
    ms_status st = mc_npy_decode(buf, len, t, err);
    return st;
}

/* `expr` decodes into the caller's t_ (freed here on success) and e_. */
#define CHECK_STATUS(expr, want)                                                           \
    do {                                                                                   \
        ms_status s_ = (expr);                                                             \
        CHECK_MSG(s_ == (want), "%s -> %d (%s), expected %d", #expr, (int)s_, e_.msg, (int)(want)); \
        if (s_ == MS_OK) ms_free(t_.data);                                                 \
    } while (0)

/* ---- npy ----------------------------------------------------------------------------- */

TEST(npy_write_exact_header)
{
    float v[6] = {1, 2, 3, 4, 5, 6};
    ms_tensor t = {MS_DTYPE_FLOAT, 2, {2, 3}, v};
    mc_buf b = {0};
    ms_error err;
    CHECK(mc_npy_encode(&t, &b, &err) == MS_OK);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    /* 10 + 59 dict bytes + '\n' = 70, padded to 128: header length 118 = 0x76 (as numpy) */
    CHECK(strlen(dict) == 59);
    CHECK(b.len == 128 + 24);
    CHECK(memcmp(b.data, "\x93NUMPY\x01\x00\x76\x00", 10) == 0);
    CHECK(memcmp(b.data + 10, dict, strlen(dict)) == 0);
    CHECK(b.data[127] == '\n' && b.data[126] == ' ' && b.data[69] == ' ');
    CHECK(memcmp(b.data + 128, v, 24) == 0);
    /* one dimension carries the tuple's trailing comma, a scalar is () */
    ms_tensor t1 = {MS_DTYPE_INT64, 1, {0}, v};
    mc_buf_reset(&b);
    CHECK(mc_npy_encode(&t1, &b, &err) == MS_OK);
    CHECK(strstr(b.data + 10, "'descr': '<i8'") && strstr(b.data + 10, "'shape': (0,), }"));
    ms_tensor t0 = {MS_DTYPE_BOOL, 0, {0}, v};
    mc_buf_reset(&b);
    CHECK(mc_npy_encode(&t0, &b, &err) == MS_OK);
    CHECK(strstr(b.data + 10, "'descr': '|b1'") && strstr(b.data + 10, "'shape': (), }"));
    CHECK(b.len == 129);
    mc_buf_free(&b);
}

TEST(npy_round_trip)
{
    static const struct { ms_dtype dt; int ndim; int64_t shape[3]; } cases[] = {
        {MS_DTYPE_FLOAT, 2, {2, 3}}, {MS_DTYPE_DOUBLE, 1, {5}},    {MS_DTYPE_INT64, 3, {1, 2, 2}},
        {MS_DTYPE_INT32, 1, {3}},    {MS_DTYPE_UINT8, 2, {4, 1}},  {MS_DTYPE_INT8, 0, {0}},
        {MS_DTYPE_BOOL, 1, {4}},     {MS_DTYPE_UINT16, 1, {2}},    {MS_DTYPE_FLOAT16, 1, {3}},
        {MS_DTYPE_FLOAT, 2, {0, 7}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ms_tensor t = {cases[c].dt, cases[c].ndim, {cases[c].shape[0], cases[c].shape[1], cases[c].shape[2]}, NULL};
        size_t bytes = (size_t)ms_tensor_numel(&t) * ms_dtype_size(t.dtype);
        unsigned char data[64];
        for (size_t i = 0; i < bytes; i++) data[i] = t.dtype == MS_DTYPE_BOOL ? (unsigned char)(i & 1) : (unsigned char)(i * 37 + 1);
        t.data = data;
        mc_buf b = {0};
        ms_error err;
        ms_tensor back;
        CHECK(mc_npy_encode(&t, &b, &err) == MS_OK);
        CHECK(b.len % 64 == bytes % 64);
        ms_status st = mc_npy_decode(b.data, b.len, &back, &err);
        CHECK_MSG(st == MS_OK, "case %zu: %s", c, err.msg);
        if (st == MS_OK) {
            CHECK(back.dtype == t.dtype && back.ndim == t.ndim);
            for (int d = 0; d < t.ndim; d++) CHECK(back.shape[d] == t.shape[d]);
            CHECK(memcmp(back.data, data, bytes) == 0);
            ms_free(back.data);
        }
        mc_buf_free(&b);
    }
}

TEST(npy_read_variants)
{
    int32_t v[3] = {7, -8, 9};
    ms_error err;
    ms_tensor t;
    unsigned char buf[512];
    /* version 2 and 3 headers (4-byte length), double quotes, no trailing comma, odd spacing */
    size_t n = make_npy(buf, 2, "{\"descr\":\"<i4\",\"fortran_order\":False,\"shape\":(3,)}", v, 12);
    CHECK(mc_npy_decode(buf, n, &t, &err) == MS_OK);
    CHECK(t.dtype == MS_DTYPE_INT32 && t.ndim == 1 && t.shape[0] == 3 && ((int32_t *)t.data)[1] == -8);
    ms_free(t.data);
    n = make_npy(buf, 3, "{ 'shape' : ( 3 , ) , 'fortran_order' : False , 'descr' : '<i4' , }", v, 12);
    CHECK(mc_npy_decode(buf, n, &t, &err) == MS_OK);
    ms_free(t.data);
    /* one-byte types with '<' or '|' */
    uint8_t u[2] = {1, 0};
    CHECK(npy_dict("{'descr': '<u1', 'fortran_order': False, 'shape': (2,), }", u, 2, &t, &err) == MS_OK);
    CHECK(t.dtype == MS_DTYPE_UINT8);
    ms_free(t.data);
    CHECK(npy_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", u, 2, &t, &err) == MS_OK);
    CHECK(t.dtype == MS_DTYPE_BOOL);
    ms_free(t.data);
}

TEST(npy_malformed)
{
    float v[4] = {0};
    unsigned char buf[512];
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    size_t n = make_npy(buf, 1, ok, v, 16);
    ms_tensor t_;
    ms_error e_;
    /* every truncation of a valid file is an error (the data length no longer matches) */
    for (size_t k = 0; k < n; k++) {
        ms_status st = mc_npy_decode(buf, k, &t_, &e_);
        CHECK_MSG(st == MS_ERR_INVALID, "truncated to %zu: %d", k, (int)st);
    }
    /* bad magic */
    buf[1] = 'X';
    CHECK_STATUS(mc_npy_decode(buf, n, &t_, &e_), MS_ERR_INVALID);
    buf[1] = 'N';
    /* header length beyond the file */
    buf[9] = 0x7f;
    CHECK_STATUS(mc_npy_decode(buf, n, &t_, &e_), MS_ERR_INVALID);
    buf[9] = 0;
    /* one byte of data too many */
    n = make_npy(buf, 1, ok, v, 16);
    CHECK_STATUS(mc_npy_decode(buf, n + 1, &t_, &e_), MS_ERR_INVALID);
    /* unknown version */
    buf[6] = 9;
    CHECK_STATUS(mc_npy_decode(buf, n, &t_, &e_), MS_ERR_UNSUPPORTED);
    /* shape/data mismatch */
    CHECK_STATUS(npy_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", v, 16, &t_, &e_), MS_ERR_INVALID);
    CHECK(strstr(e_.msg, "16 bytes") && strstr(e_.msg, "24"));
    /* sizes that overflow, whichever order */
    CHECK_STATUS(npy_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }", v, 16, &t_, &e_), MS_ERR_INVALID);
    CHECK_STATUS(npy_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 8), }", v, 0, &t_, &e_), MS_ERR_INVALID);
    CHECK_STATUS(npy_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", v, 16, &t_, &e_), MS_ERR_INVALID);
    CHECK_STATUS(npy_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", v, 16, &t_, &e_), MS_ERR_INVALID);
    /* a zero dimension anywhere is an empty array, fine */
    CHECK_STATUS(npy_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", v, 0, &t_, &e_), MS_OK);
    /* syntax */
    static const char *const bad[] = {
        "",
        "{}",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': 4}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4.0,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (4,)}",
        "{'descr': <f4, 'fortran_order': False, 'shape': (4,)}",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (4,)}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} x",
        "['descr', '<f4']",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms_status st = npy_dict(bad[i], v, 16, &t_, &e_);
        CHECK_MSG(st == MS_ERR_INVALID, "header %s -> %d (%s)", bad[i], (int)st, e_.msg);
        if (st == MS_OK) ms_free(t_.data);
    }
    /* valid but unsupported */
    CHECK_STATUS(npy_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", v, 16, &t_, &e_), MS_ERR_UNSUPPORTED);
    CHECK_STATUS(npy_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", v, 16, &t_, &e_), MS_ERR_UNSUPPORTED);
    CHECK_STATUS(npy_dict("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", v, 16, &t_, &e_), MS_ERR_UNSUPPORTED);
    CHECK_STATUS(npy_dict("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", v, 16, &t_, &e_), MS_ERR_UNSUPPORTED);
    CHECK_STATUS(npy_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", v, 16, &t_, &e_), MS_ERR_UNSUPPORTED);
    CHECK_STATUS(npy_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", v, 4, &t_, &e_), MS_ERR_UNSUPPORTED);
    /* bools must be 0 or 1 */
    uint8_t b2[2] = {1, 2};
    CHECK_STATUS(npy_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", b2, 2, &t_, &e_), MS_ERR_INVALID);
}

/* ---- TensorProto --------------------------------------------------------------------- */

TEST(pb_write_exact)
{
    float v[2] = {1.0f, -2.0f}; /* 0x3f800000, 0xc0000000 */
    ms_tensor t = {MS_DTYPE_FLOAT, 2, {1, 2}, v};
    mc_buf b = {0};
    ms_error err;
    CHECK(mc_pb_encode(&t, "y", &b, &err) == MS_OK);
    static const unsigned char want[] = {
        0x08, 0x01, 0x08, 0x02,             /* dims 1, 2 (field 1, varint) */
        0x10, 0x01,                         /* data_type FLOAT (field 2) */
        0x42, 0x01, 'y',                    /* name (field 8, length-delimited) */
        0x4a, 0x08,                         /* raw_data (field 9), 8 bytes */
        0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
    };
    CHECK(b.len == sizeof want && memcmp(b.data, want, sizeof want) == 0);
    /* a dim >= 128 needs a two-byte varint; no name, int64 data */
    int64_t z[1] = {0};
    ms_tensor t2 = {MS_DTYPE_INT64, 1, {300}, z};
    t2.shape[0] = 300;
    mc_buf_reset(&b);
    int64_t *big = calloc(300, sizeof *big);
    t2.data = big;
    CHECK(mc_pb_encode(&t2, NULL, &b, &err) == MS_OK);
    static const unsigned char head[] = {0x08, 0xac, 0x02, 0x10, 0x07, 0x4a, 0xe0, 0x12};
    CHECK(b.len == sizeof head + 2400 && memcmp(b.data, head, sizeof head) == 0);
    free(big);
    mc_buf_free(&b);
}

TEST(pb_round_trip_through_runtime)
{
    int32_t v[6] = {1, -2, 3, -4, 5, 2147483647};
    ms_tensor t = {MS_DTYPE_INT32, 2, {3, 2}, v};
    mc_buf b = {0};
    ms_error err;
    CHECK(mc_pb_encode(&t, "input_x", &b, &err) == MS_OK);
    mc_oip_request r;
    ms_status st = mc_tensors_decode(b.data, b.len, "mem", &r, &err);
    CHECK_MSG(st == MS_OK, "%s", err.msg);
    if (st == MS_OK) {
        CHECK(r.n_inputs == 1 && r.inputs[0].name && strcmp(r.inputs[0].name, "input_x") == 0);
        CHECK(r.inputs[0].t.dtype == MS_DTYPE_INT32 && r.inputs[0].t.ndim == 2);
        CHECK(r.inputs[0].t.shape[0] == 3 && r.inputs[0].t.shape[1] == 2);
        CHECK(memcmp(r.inputs[0].t.data, v, sizeof v) == 0);
        mc_oip_request_free(&r);
    }
    mc_buf_free(&b);
}

/* ---- OIP JSON: requests -------------------------------------------------------------- */

static ms_status parse(const char *json, mc_oip_request *r, ms_error *err)
{
    return mc_json_parse_request(json, strlen(json), r, err);
}

TEST(json_request_valid)
{
    mc_oip_request r;
    ms_error err;
    const char *j = "{\"id\": \"42\", \"parameters\": {\"x\": 1},"
                    " \"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP32\","
                    "  \"data\": [1, 2.5, -3, 0.1, 1e-3, 65504]},"
                    " {\"name\": \"k\", \"shape\": [2, 2], \"datatype\": \"INT64\", \"data\": [[1, -2], [9007199254740992, -9007199254740992]]},"
                    " {\"name\": \"b\", \"shape\": [], \"datatype\": \"BOOL\", \"data\": true},"
                    " {\"name\": \"u\", \"shape\": [3], \"datatype\": \"UINT8\", \"data\": [0, 255, 7], \"parameters\": {}}],"
                    " \"outputs\": [{\"name\": \"y\"}]}";
    ms_status st = parse(j, &r, &err);
    CHECK_MSG(st == MS_OK, "%s", err.msg);
    if (st != MS_OK) return;
    CHECK(r.id && strcmp(r.id, "42") == 0);
    CHECK(r.n_inputs == 4 && r.n_outputs == 1 && strcmp(r.outputs[0], "y") == 0);
    const float *x = r.inputs[0].t.data;
    CHECK(strcmp(r.inputs[0].name, "x") == 0 && r.inputs[0].t.dtype == MS_DTYPE_FLOAT);
    CHECK(r.inputs[0].t.ndim == 2 && r.inputs[0].t.shape[0] == 2 && r.inputs[0].t.shape[1] == 3);
    CHECK(x[0] == 1 && x[1] == 2.5f && x[2] == -3 && x[3] == 0.1f && x[4] == 1e-3f && x[5] == 65504);
    const int64_t *k = r.inputs[1].t.data;
    CHECK(k[0] == 1 && k[1] == -2 && k[2] == 9007199254740992LL && k[3] == -9007199254740992LL);
    CHECK(r.inputs[2].t.ndim == 0 && ((uint8_t *)r.inputs[2].t.data)[0] == 1);
    const uint8_t *u = r.inputs[3].t.data;
    CHECK(u[0] == 0 && u[1] == 255 && u[2] == 7);
    mc_oip_request_free(&r);
}

TEST(json_request_datatypes)
{
    static const struct { const char *dt; const char *data; ms_dtype want; } ok[] = {
        {"BOOL", "[true, false, 1]", MS_DTYPE_BOOL},
        {"UINT16", "[0, 65535, 3]", MS_DTYPE_UINT16},
        {"UINT32", "[0, 4294967295, 3]", MS_DTYPE_UINT32},
        {"UINT64", "[0, 9007199254740992, 3]", MS_DTYPE_UINT64},
        {"INT8", "[-128, 127, 0]", MS_DTYPE_INT8},
        {"INT16", "[-32768, 32767, 0]", MS_DTYPE_INT16},
        {"INT32", "[-2147483648, 2147483647, 0]", MS_DTYPE_INT32},
        {"FP64", "[0.1, -1e300, 5e-324]", MS_DTYPE_DOUBLE},
        {"FP32", "[3.4028234663852886e38, -1.17549435e-38, 1e-50]", MS_DTYPE_FLOAT},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char j[256];
        snprintf(j, sizeof j, "{\"inputs\":[{\"name\":\"a\",\"shape\":[3],\"datatype\":\"%s\",\"data\":%s}]}", ok[i].dt, ok[i].data);
        mc_oip_request r;
        ms_error err;
        ms_status st = parse(j, &r, &err);
        CHECK_MSG(st == MS_OK, "%s: %s", ok[i].dt, err.msg);
        if (st == MS_OK) {
            CHECK(r.inputs[0].t.dtype == ok[i].want);
            mc_oip_request_free(&r);
        }
    }
    mc_oip_request r;
    ms_error err;
    CHECK(parse("{\"inputs\":[{\"name\":\"a\",\"shape\":[3],\"datatype\":\"FP64\",\"data\":[0.1, -1e300, 5e-324]}]}", &r, &err) == MS_OK);
    const double *d = r.inputs[0].t.data;
    CHECK(d[0] == 0.1 && d[1] == -1e300 && d[2] == 5e-324);
    mc_oip_request_free(&r);
}

/* null in float data is a missing value: NaN, for the policy above the codec to judge */
TEST(json_request_null_is_nan)
{
    mc_oip_request r;
    ms_error err = {{0}};
    ms_status st = parse("{\"inputs\":[{\"name\":\"a\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[1, null]},"
                         "{\"name\":\"b\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[null]}]}", &r, &err);
    CHECK_MSG(st == MS_OK, "%s", err.msg);
    if (st != MS_OK) return;
    const float *a = r.inputs[0].t.data;
    CHECK(a[0] == 1 && isnan(a[1]));
    CHECK(isnan(((const double *)r.inputs[1].t.data)[0]));
    mc_oip_request_free(&r);
}

static void expect_invalid(const char *j, ms_status want, const char *fragment)
{
    mc_oip_request r;
    ms_error err = {{0}};
    ms_status st = parse(j, &r, &err);
    CHECK_MSG(st == want, "%s -> %d (%s), expected %d", j, (int)st, err.msg, (int)want);
    if (fragment) CHECK_MSG(strstr(err.msg, fragment) != NULL, "message '%s' lacks '%s'", err.msg, fragment);
    if (st == MS_OK) mc_oip_request_free(&r);
    CHECK(r.n_inputs == 0 && r.inputs == NULL && r.id == NULL);
}

#define IN(dt, shape, data) "{\"inputs\":[{\"name\":\"x\",\"shape\":" shape ",\"datatype\":\"" dt "\",\"data\":" data "}]}"

TEST(json_request_invalid)
{
    /* element count */
    expect_invalid(IN("FP32", "[2,3]", "[1,2,3,4,5]"), MS_ERR_INVALID, "needs 6 elements but \"data\" has 5");
    expect_invalid(IN("FP32", "[2,3]", "[[1,2,3],[4,5,6],[7,8,9]]"), MS_ERR_INVALID, "has 9");
    expect_invalid(IN("FP32", "[]", "[1,2]"), MS_ERR_INVALID, "needs 1");
    /* ragged nesting */
    expect_invalid(IN("FP32", "[3]", "[[1,2],[3]]"), MS_ERR_INVALID, "rectangular");
    expect_invalid(IN("FP32", "[3]", "[[1,2],3]"), MS_ERR_INVALID, "rectangular");
    /* datatype */
    expect_invalid(IN("FLOAT32", "[1]", "[1]"), MS_ERR_INVALID, "unknown datatype \"FLOAT32\"");
    expect_invalid(IN("fp32", "[1]", "[1]"), MS_ERR_INVALID, "unknown datatype");
    expect_invalid(IN("FP16", "[1]", "[1]"), MS_ERR_UNSUPPORTED, "FP16");
    expect_invalid(IN("BYTES", "[1]", "[\"a\"]"), MS_ERR_UNSUPPORTED, NULL);
    /* values that do not fit */
    expect_invalid(IN("UINT8", "[2]", "[1, 256]"), MS_ERR_INVALID, "data[1] = 256 is out of range for UINT8");
    expect_invalid(IN("UINT8", "[1]", "[-1]"), MS_ERR_INVALID, "out of range");
    expect_invalid(IN("INT8", "[1]", "[-129]"), MS_ERR_INVALID, "out of range");
    expect_invalid(IN("INT32", "[1]", "[2147483648]"), MS_ERR_INVALID, "out of range");
    expect_invalid(IN("UINT32", "[1]", "[4294967296]"), MS_ERR_INVALID, "out of range");
    expect_invalid(IN("INT32", "[1]", "[1.5]"), MS_ERR_INVALID, "not an integer");
    expect_invalid(IN("INT64", "[1]", "[9007199254740994]"), MS_ERR_INVALID, "2^53");
    expect_invalid(IN("INT64", "[1]", "[1e19]"), MS_ERR_INVALID, "out of range");
    expect_invalid(IN("INT64", "[1]", "[true]"), MS_ERR_INVALID, "not a number");
    expect_invalid(IN("BOOL", "[1]", "[2]"), MS_ERR_INVALID, NULL);
    expect_invalid(IN("BOOL", "[1]", "[\"true\"]"), MS_ERR_INVALID, NULL);
    expect_invalid(IN("FP32", "[1]", "[1e39]"), MS_ERR_INVALID, "out of range for FP32");
    expect_invalid(IN("FP32", "[1]", "[1e999]"), MS_ERR_INVALID, "out of range");
    expect_invalid(IN("FP64", "[1]", "[-1e999]"), MS_ERR_INVALID, "out of range");
    /* non-finite spellings: JSON has none */
    expect_invalid(IN("FP32", "[2]", "[1, \"NaN\"]"), MS_ERR_INVALID, "data[1] is the string \"NaN\"");
    expect_invalid(IN("FP32", "[1]", "[\"Infinity\"]"), MS_ERR_INVALID, "no NaN or Infinity");
    expect_invalid(IN("INT64", "[1]", "[null]"), MS_ERR_INVALID, "null");
    expect_invalid(IN("FP32", "[1]", "[NaN]"), MS_ERR_INVALID, "malformed JSON");
    /* shape */
    expect_invalid(IN("FP32", "[-1]", "[1]"), MS_ERR_INVALID, "shape[0]");
    expect_invalid(IN("FP32", "[1.5]", "[1]"), MS_ERR_INVALID, "shape[0]");
    expect_invalid(IN("FP32", "\"1\"", "[1]"), MS_ERR_INVALID, "shape");
    expect_invalid(IN("FP32", "[1,1,1,1,1,1,1,1,1]", "[1]"), MS_ERR_UNSUPPORTED, NULL);
    expect_invalid(IN("FP32", "[4294967296, 4294967296, 4294967296]", "[1]"), MS_ERR_INVALID, "too large");
    /* structure */
    expect_invalid("", MS_ERR_INVALID, "malformed JSON");
    expect_invalid("[1]", MS_ERR_INVALID, "not a JSON object");
    expect_invalid("{\"inputs\": {}}", MS_ERR_INVALID, "\"inputs\" array");
    expect_invalid("{\"input\": []}", MS_ERR_INVALID, "unknown key \"input\"");
    expect_invalid("{\"inputs\": [], \"inputs\": []}", MS_ERR_INVALID, "duplicate key");
    expect_invalid("{\"inputs\": []} {}", MS_ERR_INVALID, "after the JSON document");
    expect_invalid("{\"id\": 5, \"inputs\": []}", MS_ERR_INVALID, "\"id\"");
    expect_invalid("{\"inputs\": [{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1]}]}", MS_ERR_INVALID, "missing \"shape\"");
    expect_invalid("{\"inputs\": [{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\"}]}", MS_ERR_INVALID, "missing \"data\"");
    expect_invalid("{\"inputs\": [{\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}", MS_ERR_INVALID, "\"name\"");
    expect_invalid("{\"inputs\": [{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1],\"dtype\":1}]}", MS_ERR_INVALID, "unknown key \"dtype\"");
    expect_invalid("{\"inputs\": [" "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]},"
                   "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}", MS_ERR_INVALID, "twice");
    expect_invalid("{\"inputs\": [], \"outputs\": [{\"nam\": \"y\"}]}", MS_ERR_INVALID, "unknown key");
    /* a bare tensor object is a request only through mc_json_parse_inputs */
    expect_invalid("{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}", MS_ERR_INVALID, "unknown key");
    mc_oip_request r;
    ms_error err;
    const char *one = "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}";
    CHECK(mc_json_parse_inputs(one, strlen(one), &r, &err) == MS_OK && r.n_inputs == 1);
    mc_oip_request_free(&r);
}

TEST(format_sniff)
{
    CHECK(mc_format_sniff("\x93NUMPY\x01", 7) == MC_FORMAT_NPY);
    CHECK(mc_format_sniff("  \n{\"inputs\"", 11) == MC_FORMAT_JSON);
    CHECK(mc_format_sniff("\x08\x01\x10\x01", 4) == MC_FORMAT_PB);
    CHECK(mc_format_sniff("", 0) == MC_FORMAT_PB);
}

/* input bytes quoted in messages: printable ASCII kept, a backslash doubled, other bytes \xNN,
 * cut after `max` input bytes with "...", never past the buffer */
#define CHECK_STR(got, want)                                                             \
    do {                                                                                 \
        const char *g_ = (got);                                                          \
        CHECK_MSG(strcmp(g_, (want)) == 0, "got '%s', want '%s'", g_, (want));           \
    } while (0)
TEST(escape_for_messages)
{
    char d[MC_ESCAPE_CAP(8)];
    CHECK_STR(mc_escape(d, sizeof d, "ab c'1", 6, 8), "ab c'1");
    CHECK_STR(mc_escape(d, sizeof d, "a\\b", 3, 8), "a\\\\b");
    CHECK_STR(mc_escape(d, sizeof d, "\033[2J\xc3\xa9\x7f", 7, 8), "\\x1b[2J\\xc3\\xa9\\x7f");
    CHECK_STR(mc_escape(d, sizeof d, "0123456789", 10, 8), "01234567...");
    CHECK_STR(mc_escape(d, sizeof d, "\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9, 8),
              "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff...");
    CHECK_STR(mc_escape(d, sizeof d, "a\0b", 3, 8), "a\\x00b"); /* a NUL inside the length */
    char small[6];
    CHECK_STR(mc_escape(small, sizeof small, "\x01\x02", 2, 8), "..."); /* no room for \x01 */
    CHECK_STR(mc_escape(small, sizeof small, "abcdef", 6, 8), "ab...");
    CHECK_STR(mc_escape(d, sizeof d, NULL, 0, 8), "");
}

int main(void)
{
    RUN(npy_write_exact_header);
    RUN(npy_round_trip);
    RUN(npy_read_variants);
    RUN(npy_malformed);
    RUN(pb_write_exact);
    RUN(pb_round_trip_through_runtime);
    RUN(json_request_valid);
    RUN(json_request_datatypes);
    RUN(json_request_null_is_nan);
    RUN(json_request_invalid);
    RUN(format_sniff);
    RUN(escape_for_messages);
    return mstest_summary();
}
