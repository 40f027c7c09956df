/* test_pd_json.c: the one writer of outputs as JSON (src/predict/pd_json.c).
 * Expectations are hand-computed: the shortest decimal inside each float's rounding interval
 * (0.1f is 0x3dcccccd = 0.100000001490116..., and "0.1" already reads back as it; 1/3.f is
 * 0.3333333432674407958984375, where 8 digits are needed: 0.3333333 reads back as 0.33333331),
 * row-major nesting for shapes, and label maps over the labels the fixture's generator wrote
 * (tests/fixtures/make_ml.py: logreg_multinomial has int labels 10, 20, 30). */
#include "mstest.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "codec/codec_json.h"
#include "predict/pd_json.h"

/* What a writer call appended, NUL-terminated (reset before each call). */
static const char *text(mc_buf *b)
{
    mc_buf_putc(b, 0);
    b->len--;
    return b->data;
}

#define CHECK_JSON(b, want) CHECK_MSG(strcmp(text(b), (want)) == 0, "got  %s\nwant %s", text(b), (want))

TEST(elements_use_the_shortest_spelling)
{
    float f[8] = {0.1f, 1.0f / 3.0f, 1e-7f, 16777216.0f, NAN, -INFINITY, -0.0f, 2.5f};
    const char *want[8] = {"0.1", "0.33333334", "1e-7", "16777216", "null", "null", "-0", "2.5"};
    ms_tensor t = {MS_DTYPE_FLOAT, 1, {8}, f};
    mc_buf b = {0};
    for (int i = 0; i < 8; i++) {
        mc_buf_reset(&b);
        pd_json_put_elem(&b, &t, i);
        CHECK_JSON(&b, want[i]);
    }
    double d[4] = {0.1, 1.0 / 3.0, 1e-7, NAN};
    const char *wd[4] = {"0.1", "0.3333333333333333", "1e-7", "null"};
    ms_tensor td = {MS_DTYPE_DOUBLE, 1, {4}, d};
    for (int i = 0; i < 4; i++) {
        mc_buf_reset(&b);
        pd_json_put_elem(&b, &td, i);
        CHECK_JSON(&b, wd[i]);
    }
    int32_t i32[2] = {INT32_MIN, 7};
    ms_tensor ti = {MS_DTYPE_INT32, 1, {2}, i32};
    mc_buf_reset(&b);
    pd_json_put_nested(&b, &ti, 0, ti.shape, 1);
    CHECK_JSON(&b, "[-2147483648,7]");
    const char *s[2] = {"a\"b", "\n"};
    ms_tensor ts = {MS_DTYPE_STRING, 1, {2}, s};
    mc_buf_reset(&b);
    pd_json_put_nested(&b, &ts, 0, ts.shape, 1);
    CHECK_JSON(&b, "[\"a\\\"b\",\"\\n\"]");
    /* the char* form writes the same text */
    char w[64], *e = pd_json_num_at(w, &t, 1);
    CHECK(e && (size_t)(e - w) == strlen("0.33333334") && memcmp(w, "0.33333334", 10) == 0);
    e = pd_json_num_at(w, &ti, 0);
    CHECK(e && (size_t)(e - w) == 11 && memcmp(w, "-2147483648", 11) == 0);
    CHECK(pd_json_num_at(w, &ts, 0) == NULL);
    mc_buf_free(&b);
}

TEST(nested_shapes_are_row_major)
{
    float v[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ms_tensor t = {MS_DTYPE_FLOAT, 3, {2, 3, 2}, v};
    mc_buf b = {0};
    pd_json_put_nested(&b, &t, 0, t.shape, 3);
    CHECK_JSON(&b, "[[[1,2],[3,4],[5,6]],[[7,8],[9,10],[11,12]]]");
    mc_buf_reset(&b);
    pd_json_put_nested(&b, &t, 6, t.shape + 1, 2); /* the second [3,2] block */
    CHECK_JSON(&b, "[[7,8],[9,10],[11,12]]");
    mc_buf_reset(&b);
    int64_t empty_dims[2] = {0, 3};
    pd_json_put_nested(&b, &t, 0, empty_dims, 2);
    CHECK_JSON(&b, "[]");
    mc_buf_free(&b);
}

TEST(rows)
{
    float v[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    mc_buf b = {0};
    ms_tensor r1 = {MS_DTYPE_FLOAT, 1, {6}, v}; /* rank 1: a number per row */
    pd_json_put_row(&b, NULL, 0, &r1, 2, 0);
    CHECK_JSON(&b, "0.3");
    ms_tensor r2 = {MS_DTYPE_FLOAT, 2, {3, 2}, v}; /* [3,2]: a pair per row */
    mc_buf_reset(&b);
    pd_json_put_row(&b, NULL, 0, &r2, 1, 0);
    CHECK_JSON(&b, "[0.3,0.4]");
    ms_tensor c1 = {MS_DTYPE_FLOAT, 2, {6, 1}, v}; /* [6,1]: [x], or x unwrapped */
    mc_buf_reset(&b);
    pd_json_put_row(&b, NULL, 0, &c1, 4, 0);
    CHECK_JSON(&b, "[0.5]");
    mc_buf_reset(&b);
    pd_json_put_row(&b, NULL, 0, &c1, 4, PD_JSON_ROW_UNWRAP);
    CHECK_JSON(&b, "0.5");
    ms_tensor s0 = {MS_DTYPE_FLOAT, 0, {0}, v + 5}; /* rank 0: its one element */
    mc_buf_reset(&b);
    pd_json_put_row(&b, NULL, 0, &s0, 3, 0);
    CHECK_JSON(&b, "0.6");
    ms_tensor r3 = {MS_DTYPE_FLOAT, 3, {1, 3, 2}, v};
    mc_buf_reset(&b);
    pd_json_put_row(&b, NULL, 0, &r3, 0, PD_JSON_ROW_UNWRAP);
    CHECK_JSON(&b, "[[0.1,0.2],[0.3,0.4],[0.5,0.6]]");
    mc_buf_free(&b);
}

TEST(label_maps)
{
    float p[6] = {0.25f, 0.7f, 0.05f, 1.0f / 3.0f, NAN, 0.0f};
    ms_tensor t = {MS_DTYPE_FLOAT, 2, {2, 3}, p};
    int64_t ids[3] = {-1, 0, 30};
    const char *names[3] = {"low", "m\"id", "\xc3\xa9"};
    mc_buf b = {0};
    pd_json_put_label_map(&b, MS_DTYPE_INT64, 3, ids, &t, 0);
    CHECK_JSON(&b, "{\"-1\":0.25,\"0\":0.7,\"30\":0.05}");
    mc_buf_reset(&b);
    pd_json_put_label_map(&b, MS_DTYPE_STRING, 3, names, &t, 3);
    CHECK_JSON(&b, "{\"low\":0.33333334,\"m\\\"id\":null,\"\xc3\xa9\":0}");
    mc_buf_reset(&b);
    pd_json_put_label_key(&b, MS_DTYPE_INT64, ids, 2);
    CHECK_JSON(&b, "\"30\":");

    /* a row of a model's ZipMap output: its labels come from the model */
    ms_error err = {{0}};
    ms_model *m = NULL;
    ms_status st = ms_model_load_file("tests/fixtures/ml/logreg_multinomial/model.onnx", &m, &err);
    CHECK_MSG(st == MS_OK, "%s", err.msg);
    if (st == MS_OK) {
        mc_buf_reset(&b);
        pd_json_put_row(&b, m, 1, &t, 1, 0);
        CHECK_JSON(&b, "{\"10\":0.33333334,\"20\":null,\"30\":0}");
        mc_buf_reset(&b);
        pd_json_put_row(&b, m, 0, &t, 1, 0); /* output 0 has no labels: a plain row */
        CHECK_JSON(&b, "[0.33333334,null,0]");
        ms_model_free(m);
    }
    mc_buf_free(&b);
}

TEST(json_response_exact)
{
    float y[4] = {0.5f, 1.0f, 0.1f, -3.0f};
    int64_t k[2] = {INT64_MIN, 42};
    uint8_t b[2] = {1, 0};
    ms_tensor outs[3] = {
        {MS_DTYPE_FLOAT, 2, {2, 2}, y},
        {MS_DTYPE_INT64, 1, {2}, k},
        {MS_DTYPE_BOOL, 0, {0}, b},
    };
    const char *names[3] = {"y", "k\"q", "b\n"};
    pd_json_response r = {"iris", "3", "req-1", 3, names, outs};
    mc_buf buf = {0};
    ms_error err;
    CHECK(pd_json_write_response(&buf, &r, &err) == MS_OK);
    const char *want =
        "{\"model_name\":\"iris\",\"model_version\":\"3\",\"id\":\"req-1\",\"outputs\":["
        "{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2,2],\"data\":[0.5,1,0.1,-3]},"
        "{\"name\":\"k\\\"q\",\"datatype\":\"INT64\",\"shape\":[2],\"data\":[-9223372036854775808,42]},"
        "{\"name\":\"b\\n\",\"datatype\":\"BOOL\",\"shape\":[],\"data\":[true]}]}";
    CHECK_MSG(strcmp(buf.data, want) == 0, "got  %s\nwant %s", buf.data, want);

    /* no version, no id */
    pd_json_response r2 = {"m", NULL, NULL, 0, NULL, NULL};
    mc_buf_reset(&buf);
    CHECK(pd_json_write_response(&buf, &r2, &err) == MS_OK);
    CHECK(strcmp(buf.data, "{\"model_name\":\"m\",\"outputs\":[]}") == 0);
    mc_buf_free(&buf);
}

TEST(json_tensor_numbers)
{
    float f[7] = {NAN, INFINITY, -INFINITY, -0.0f, 1e20f, 3.14159274f, 1.17549435e-38f};
    double d[3] = {0.1, 1.0 / 3.0, 1e300};
    uint16_t h[3] = {0x3c00, 0xc000, 0x3555}; /* 1, -2, 0.333251953125 */
    int8_t i8[2] = {-128, 127};
    uint64_t u64[1] = {UINT64_MAX};
    mc_buf buf = {0};
    ms_error err;
    ms_tensor tf = {MS_DTYPE_FLOAT, 1, {7}, f};
    CHECK(pd_json_write_tensor(&buf, "f", &tf, &err) == MS_OK);
    const char *want = "{\"name\":\"f\",\"datatype\":\"FP32\",\"shape\":[7],\"data\":"
                       "[null,null,null,-0,1e20,3.1415927,1.1754944e-38]}";
    CHECK_MSG(strcmp(buf.data, want) == 0, "got  %s\nwant %s", buf.data, want);
    mc_buf_reset(&buf);
    ms_tensor td = {MS_DTYPE_DOUBLE, 1, {3}, d};
    CHECK(pd_json_write_tensor(&buf, "d", &td, &err) == MS_OK);
    want = "{\"name\":\"d\",\"datatype\":\"FP64\",\"shape\":[3],\"data\":"
           "[0.1,0.3333333333333333,1e300]}";
    CHECK_MSG(strcmp(buf.data, want) == 0, "got  %s\nwant %s", buf.data, want);
    mc_buf_reset(&buf);
    ms_tensor th = {MS_DTYPE_FLOAT16, 1, {3}, h};
    CHECK(pd_json_write_tensor(&buf, "h", &th, &err) == MS_OK);
    CHECK_MSG(strstr(buf.data, "\"datatype\":\"FP16\",\"shape\":[3],\"data\":[1,-2,0.33325195]"), "%s", buf.data);
    mc_buf_reset(&buf);
    ms_tensor ti = {MS_DTYPE_INT8, 1, {2}, i8};
    CHECK(pd_json_write_tensor(&buf, "i", &ti, &err) == MS_OK);
    CHECK(strstr(buf.data, "\"data\":[-128,127]"));
    mc_buf_reset(&buf);
    ms_tensor tu = {MS_DTYPE_UINT64, 1, {1}, u64};
    CHECK(pd_json_write_tensor(&buf, "u", &tu, &err) == MS_OK);
    CHECK(strstr(buf.data, "\"data\":[18446744073709551615]"));
    mc_buf_free(&buf);
}

TEST(json_float_round_trip)
{
    /* Every float written must parse back to the same bits. */
    float v[64];
    uint32_t s = 12345;
    for (int i = 0; i < 64; i++) {
        s = s * 1664525u + 1013904223u;
        uint32_t bits = s & 0x7f7fffffu; /* finite: exponent < 255 */
        memcpy(&v[i], &bits, 4);
        if (i & 1) v[i] = -v[i];
    }
    v[0] = FLT_MAX;
    v[1] = FLT_MIN;
    v[2] = 1e-45f; /* smallest subnormal */
    ms_tensor t = {MS_DTYPE_FLOAT, 2, {8, 8}, v};
    mc_buf buf = {0};
    ms_error err;
    CHECK(pd_json_write_tensor(&buf, "x", &t, &err) == MS_OK);
    mc_oip_request r;
    ms_status st = mc_json_parse_inputs(buf.data, buf.len, &r, &err);
    CHECK_MSG(st == MS_OK, "%s", err.msg);
    if (st == MS_OK) {
        CHECK(r.inputs[0].t.ndim == 2 && r.inputs[0].t.shape[1] == 8);
        CHECK(memcmp(r.inputs[0].t.data, v, sizeof v) == 0);
        mc_oip_request_free(&r);
    }
    mc_buf_free(&buf);
}

TEST(json_label_map)
{
    /* two rows over labels 7 and 9, and string labels: the ZipMap form */
    float p[4] = {0.25f, 0.75f, 1.0f, 0.0f};
    ms_tensor t = {MS_DTYPE_FLOAT, 2, {2, 2}, p};
    int64_t ids[2] = {7, 9};
    const char *names[2] = {"no", "y\"es"};
    pd_label_map lm = {MS_DTYPE_INT64, 2, ids};
    mc_buf b = {0};
    ms_error err;
    CHECK(pd_json_write_label_map(&b, "probs", &t, &lm, &err) == MS_OK);
    CHECK_MSG(b.len && !strcmp(b.data, "{\"name\":\"probs\",\"datatype\":\"FP32\",\"shape\":[2],"
                               "\"parameters\":{\"label_map\":true},"
                               "\"data\":[{\"7\":0.25,\"9\":0.75},{\"7\":1,\"9\":0}]}"), "%s", b.data);
    mc_buf_reset(&b);
    pd_label_map ls = {MS_DTYPE_STRING, 2, names};
    CHECK(pd_json_write_label_map(&b, "p", &t, &ls, &err) == MS_OK);
    CHECK_MSG(strstr(b.data, "{\"no\":0.25,\"y\\\"es\":0.75}") != NULL, "%s", b.data);
    mc_buf_reset(&b);
    lm.n = 3; /* width mismatch is refused, not read out of bounds */
    CHECK(pd_json_write_label_map(&b, "p", &t, &lm, &err) == MS_ERR_INVALID);
    mc_buf_free(&b);
}

int main(void)
{
    RUN(elements_use_the_shortest_spelling);
    RUN(nested_shapes_are_row_major);
    RUN(rows);
    RUN(label_maps);
    RUN(json_response_exact);
    RUN(json_tensor_numbers);
    RUN(json_float_round_trip);
    RUN(json_label_map);
    return mstest_summary();
}
