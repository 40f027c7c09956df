/* test_ms_check.c: the runtime's one input check and shape spelling (src/runtime/ms_check.c):
 * ms_model_check_inputs, ms_value_info_format and ms_tensor_format, on models built here. The
 * expected messages are the ones mlship.h documents, written out by hand. */
#include <stdlib.h>

#include "mlship.h"
#include "mstest.h"
#include "onnx_build.h"

/* A ValueInfoProto whose dims are sizes (>= 0), names (name[i] non-NULL) or neither; ndim -1
 * writes no shape at all (an unknown rank). */
static void value(pbuf *g, int field, const char *name, int elem, int ndim, const int64_t *dims,
                  const char *const *names)
{
    pbuf shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int i = 0; i < ndim; i++) {
        pbuf d = {0};
        if (dims[i] >= 0) pb_int(&d, 1, dims[i]);
        else if (names && names[i]) pb_str(&d, 2, names[i]);
        pb_msg(&shape, 1, &d);
    }
    pb_int(&tt, 1, elem);
    if (ndim >= 0) pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(g, field, &vi);
}

/* a: float32[batch,3], b: float32[batch,?], c: int64[2,4], u: float32 of unknown rank;
 * y = a + b; c and u are passed through. */
static ms_model *four_inputs(pbuf *mb)
{
    pbuf g = {0};
    const char *add_in[] = {"a", "b"}, *add_out[] = {"y"};
    const char *idc[] = {"c"}, *idc_out[] = {"c_out"}, *idu[] = {"u"}, *idu_out[] = {"u_out"};
    ob_node(&g, "Add", "add", add_in, 2, add_out, 1, NULL);
    ob_node(&g, "Identity", "idc", idc, 1, idc_out, 1, NULL);
    ob_node(&g, "Identity", "idu", idu, 1, idu_out, 1, NULL);
    const int64_t ab[] = {-1, 3}, bb[] = {-1, -1}, cc[] = {2, 4};
    const char *batch[] = {"batch", NULL};
    value(&g, 11, "a", 1, 2, ab, batch);
    value(&g, 11, "b", 1, 2, bb, batch);
    value(&g, 11, "c", 7, 2, cc, NULL);
    value(&g, 11, "u", 1, -1, NULL, NULL);
    value(&g, 12, "y", 1, 2, ab, batch);
    value(&g, 12, "c_out", 7, 2, cc, NULL);
    value(&g, 12, "u_out", 1, -1, NULL, NULL);
    *mb = ob_model(&g, 13); /* the model references it: free it after the model */
    ms_model *m = NULL;
    ms_error err;
    if (ms_model_load(mb->p, mb->n, &m, &err) != MS_OK) printf("load: %s\n", err.msg);
    return m;
}

static float fdata[64];
static int64_t idata[8];

/* inputs that match four_inputs(): batch 2 */
static void good_inputs(ms_tensor in[4])
{
    in[0] = (ms_tensor){MS_DTYPE_FLOAT, 2, {2, 3}, fdata};
    in[1] = (ms_tensor){MS_DTYPE_FLOAT, 2, {2, 5}, fdata};
    in[2] = (ms_tensor){MS_DTYPE_INT64, 2, {2, 4}, idata};
    in[3] = (ms_tensor){MS_DTYPE_FLOAT, 3, {1, 2, 2}, fdata};
}

TEST(declared_inputs_are_spelled_with_names)
{
    pbuf mb;
    ms_model *m = four_inputs(&mb);
    CHECK(m != NULL);
    if (!m) { free(mb.p); return; }
    char buf[64];
    CHECK(strcmp(ms_value_info_format(ms_model_input(m, 0), buf, sizeof buf), "float32[batch,3]") == 0);
    CHECK(strcmp(ms_value_info_format(ms_model_input(m, 1), buf, sizeof buf), "float32[batch,?]") == 0);
    CHECK(strcmp(ms_value_info_format(ms_model_input(m, 2), buf, sizeof buf), "int64[2,4]") == 0);
    CHECK(strcmp(ms_value_info_format(ms_model_input(m, 3), buf, sizeof buf), "float32[...]") == 0);
    ms_value_info any = {.name = "z", .dtype = MS_DTYPE_UNDEFINED, .ndim = 1, .shape = {7}};
    CHECK(strcmp(ms_value_info_format(&any, buf, sizeof buf), "any[7]") == 0);
    ms_value_info scalar = {.name = "s", .dtype = MS_DTYPE_DOUBLE, .ndim = 0};
    CHECK(strcmp(ms_value_info_format(&scalar, buf, sizeof buf), "float64[]") == 0);
    ms_model_free(m);
    free(mb.p);
}

TEST(tensors_are_spelled_with_sizes)
{
    char buf[64];
    ms_tensor t = {MS_DTYPE_FLOAT, 2, {1, 29}, NULL};
    CHECK(strcmp(ms_tensor_format(&t, buf, sizeof buf), "float32[1,29]") == 0);
    t = (ms_tensor){MS_DTYPE_INT64, 0, {0}, NULL};
    CHECK(strcmp(ms_tensor_format(&t, buf, sizeof buf), "int64[]") == 0);
    t = (ms_tensor){MS_DTYPE_BOOL, MS_MAX_DIMS + 1, {1}, NULL}; /* bad rank: no read past shape */
    CHECK(strcmp(ms_tensor_format(&t, buf, sizeof buf), "bool[]") == 0);
}

TEST(formatting_truncates_inside_the_buffer)
{
    ms_value_info vi = {.name = "x", .dtype = MS_DTYPE_FLOAT, .ndim = 2, .shape = {-1, 30},
                        .dim_names = {"batch", NULL}};
    ms_tensor t = {MS_DTYPE_FLOAT, 2, {123456, 29}, NULL};
    char buf[16];
    for (size_t cap = 0; cap <= 12; cap++) {
        memset(buf, '#', sizeof buf);
        ms_value_info_format(&vi, buf, cap);
        /* the first cap-1 characters of "float32[batch,30]", then NUL; nothing written past cap */
        if (cap) CHECK_MSG(strlen(buf) == cap - 1 && strncmp(buf, "float32[batch,30]", cap - 1) == 0,
                           "cap %zu: '%s'", cap, buf);
        for (size_t i = cap; i < sizeof buf; i++) CHECK_MSG(buf[i] == '#', "cap %zu wrote byte %zu", cap, i);
        memset(buf, '#', sizeof buf);
        ms_tensor_format(&t, buf, cap);
        if (cap) CHECK_MSG(strlen(buf) == cap - 1 && strncmp(buf, "float32[123456,29]", cap - 1) == 0,
                           "cap %zu: '%s'", cap, buf);
        for (size_t i = cap; i < sizeof buf; i++) CHECK_MSG(buf[i] == '#', "cap %zu wrote byte %zu", cap, i);
    }
    CHECK(ms_value_info_format(&vi, NULL, 0) == NULL); /* cap 0: dst is not touched */
}

TEST(matching_inputs_pass)
{
    pbuf mb;
    ms_model *m = four_inputs(&mb);
    if (!m) { CHECK(m != NULL); free(mb.p); return; }
    ms_tensor in[4];
    ms_error err;
    good_inputs(in);
    CHECK_MSG(ms_model_check_inputs(m, in, 4, &err) == MS_OK, "%s", err.msg);
    /* an unknown rank takes any rank, a scalar too; the data pointer is not looked at */
    in[3] = (ms_tensor){MS_DTYPE_FLOAT, 0, {0}, NULL};
    CHECK_MSG(ms_model_check_inputs(m, in, 4, &err) == MS_OK, "%s", err.msg);
    ms_model_free(m);
    free(mb.p);
}

static void expect(ms_model *m, const ms_tensor *in, int n, const char *msg)
{
    ms_error err = {{0}};
    CHECK_MSG(ms_model_check_inputs(m, in, n, &err) == MS_ERR_INVALID && strcmp(err.msg, msg) == 0,
              "want \"%s\", got \"%s\"", msg, err.msg);
}

TEST(mismatches_are_named)
{
    pbuf mb;
    ms_model *m = four_inputs(&mb);
    if (!m) { CHECK(m != NULL); free(mb.p); return; }
    ms_tensor in[4];
    good_inputs(in);
    expect(m, in, 3, "the model takes 4 inputs, got 3");
    in[0].dtype = MS_DTYPE_DOUBLE;
    expect(m, in, 4, "input 'a' expects float32[batch,3], got float64[2,3]");
    good_inputs(in);
    in[0].ndim = 1;
    expect(m, in, 4, "input 'a' expects float32[batch,3], got float32[2]");
    good_inputs(in);
    in[0].shape[1] = 29;
    expect(m, in, 4, "input 'a' expects float32[batch,3], got float32[2,29]");
    good_inputs(in);
    in[2].shape[0] = 3;
    expect(m, in, 4, "input 'c' expects int64[2,4], got int64[3,4]");
    good_inputs(in);
    in[1].shape[0] = -1;
    expect(m, in, 4, "input 'b' expects float32[batch,?], got float32[-1,5]");
    good_inputs(in);
    in[3].ndim = MS_MAX_DIMS + 1;
    expect(m, in, 4, "input 'u' expects float32[...], got float32[]");
    ms_model_free(m);
    free(mb.p);
}

TEST(a_named_dimension_takes_one_value)
{
    pbuf mb;
    ms_model *m = four_inputs(&mb);
    if (!m) { CHECK(m != NULL); free(mb.p); return; }
    ms_tensor in[4];
    good_inputs(in);
    in[1].shape[0] = 3;
    expect(m, in, 4, "dimension 'batch' is 2 in input 'a' but 3 in input 'b'");
    /* an unnamed symbolic dim binds nothing: b's second dim differs from a's freely (5 vs 3) */
    good_inputs(in);
    in[1].shape[1] = 7;
    ms_error err;
    CHECK_MSG(ms_model_check_inputs(m, in, 4, &err) == MS_OK, "%s", err.msg);
    ms_model_free(m);
    free(mb.p);
}

TEST(the_session_runs_the_same_check)
{
    pbuf mb;
    ms_model *m = four_inputs(&mb);
    if (!m) { CHECK(m != NULL); free(mb.p); return; }
    ms_session *s;
    ms_error err;
    CHECK(ms_session_create(m, NULL, &s, &err) == MS_OK);
    ms_tensor in[4], out[3];
    good_inputs(in);
    in[1].shape[0] = 3;
    CHECK(ms_session_run(s, in, 4, out, 3, &err) == MS_ERR_INVALID);
    CHECK_MSG(strcmp(err.msg, "dimension 'batch' is 2 in input 'a' but 3 in input 'b'") == 0, "%s", err.msg);
    good_inputs(in);
    in[1].shape[1] = 3;
    in[2].data = NULL; /* beyond the declared check: data behind a non-empty input */
    CHECK(ms_session_run(s, in, 4, out, 3, &err) == MS_ERR_INVALID);
    CHECK_MSG(strcmp(err.msg, "input 'c' has no data") == 0, "%s", err.msg);
    ms_session_free(s);
    ms_model_free(m);
    free(mb.p);
}

int main(void)
{
    (void)ob_value, (void)ob_tensor_f32; /* onnx_build.h helpers not used here */
    RUN(declared_inputs_are_spelled_with_names);
    RUN(tensors_are_spelled_with_sizes);
    RUN(formatting_truncates_inside_the_buffer);
    RUN(matching_inputs_pass);
    RUN(mismatches_are_named);
    RUN(a_named_dimension_takes_one_value);
    RUN(the_session_runs_the_same_check);
    return mstest_summary();
}
