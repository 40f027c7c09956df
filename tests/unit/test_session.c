/* test_session.c: the planner's promises. Arena reuse, no heap allocation on a planned run,
 * re-planning on new shapes, weights referenced in place, input checks, clean errors for
 * unsupported operators. Models are written by hand (onnx_build.h); expected values are
 * computed here from the ops' definitions. */
#define _GNU_SOURCE /* memmem */
#include "mstest.h"
#include "onnx_build.h"
#include "ms_model.h"

#include <stdlib.h>

/* ---- a counting allocator -------------------------------------------------------------- */
static long n_allocs;
static void *count_malloc(size_t n) { n_allocs++; return malloc(n); }
static void *count_realloc(void *p, size_t n) { n_allocs++; return realloc(p, n); }

/* x[N,W] -> Relu -> Neg -> Abs -> Neg -> Relu -> Add(W bias) -> y: a chain of six nodes whose
 * intermediates die one after another, so the arena needs only a few live buffers. */
static pbuf chain_model(int64_t width, const float *bias)
{
    pbuf g = {0};
    const char *ops[] = {"Relu", "Neg", "Abs", "Neg", "Relu"};
    char in[16], out[16];
    for (int i = 0; i < 5; i++) {
        snprintf(in, sizeof in, i ? "t%d" : "x", i);
        snprintf(out, sizeof out, "t%d", i + 1);
        const char *ii[] = {in}, *oo[] = {out};
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        ob_node(&g, ops[i], name, ii, 1, oo, 1, NULL);
    }
    const char *ai[] = {"t5", "bias"}, *ao[] = {"y"};
    ob_node(&g, "Add", "add", ai, 2, ao, 1, NULL);
    pb_str(&g, 2, "chain");
    int64_t bd[1] = {width};
    ob_tensor_f32(&g, 5, "bias", 1, bd, bias);
    int64_t xd[2] = {-1, width};
    ob_value(&g, 11, "x", 1, 2, xd);
    ob_value(&g, 12, "y", 1, 2, xd);
    return ob_model(&g, 13);
}

/* Relu(Neg(Abs(Neg(Relu(x))))) + b = -|x| ... worked through: Relu(x)=r>=0; Neg -> -r;
 * Abs -> r; Neg -> -r; Relu -> 0. So y = bias, whatever x is. */
TEST(chain_computes_and_reuses_memory)
{
    enum { W = 1000 };
    static float bias[W], x[4 * W];
    for (int i = 0; i < W; i++) bias[i] = (float)i * 0.5f;
    for (int i = 0; i < 4 * W; i++) x[i] = (float)(i % 7) - 3.0f;
    pbuf mb = chain_model(W, bias);
    ms_model *m;
    ms_session *s;
    ms_error err;
    CHECK(ms_model_load(mb.p, mb.n, &m, &err) == MS_OK);
    CHECK(ms_session_create(m, NULL, &s, &err) == MS_OK);
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {4, W}, x}, out;
    CHECK_MSG(ms_session_run(s, &in, 1, &out, 1, &err) == MS_OK, "%s", err.msg);
    CHECK(out.ndim == 2 && out.shape[0] == 4 && out.shape[1] == W);
    int bad = 0;
    for (int i = 0; i < 4 * W; i++) bad += ((float *)out.data)[i] != bias[i % W];
    CHECK(bad == 0);
    /* six intermediates of 16000 bytes each; with reuse at most three are live at once */
    size_t one = 4 * W * 4;
    CHECK_MSG(ms_session_arena_bytes(s) <= 3 * (one + 64), "arena %zu bytes",
              ms_session_arena_bytes(s));
    ms_session_free(s);
    ms_model_free(m);
    free(mb.p);
}

TEST(planned_run_does_not_allocate)
{
    enum { W = 64 };
    static float bias[W], x[8 * W];
    for (int i = 0; i < W; i++) bias[i] = 1.0f;
    pbuf mb = chain_model(W, bias);
    ms_set_allocator(count_malloc, count_realloc, free);
    ms_model *m;
    ms_session *s;
    ms_error err;
    CHECK(ms_model_load(mb.p, mb.n, &m, &err) == MS_OK);
    CHECK(ms_session_create(m, NULL, &s, &err) == MS_OK);
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {2, W}, x}, out;
    n_allocs = 0;
    CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_OK);
    CHECK(n_allocs > 0); /* the first run plans */
    n_allocs = 0;
    for (int r = 0; r < 10; r++) CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_OK);
    CHECK_MSG(n_allocs == 0, "%ld allocations in planned runs", n_allocs);
    in.shape[0] = 8; /* a new batch size re-plans, then is stable again */
    CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_OK);
    CHECK(out.shape[0] == 8 && ((float *)out.data)[8 * W - 1] == 1.0f);
    n_allocs = 0;
    CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_OK);
    CHECK(n_allocs == 0);
    ms_session_free(s);
    ms_model_free(m);
    ms_set_allocator(NULL, NULL, NULL);
    free(mb.p);
}

TEST(weights_are_referenced_in_place)
{
    enum { W = 256 };
    static float bias[W];
    for (int i = 0; i < W; i++) bias[i] = 1.0f + (float)i;
    pbuf mb = chain_model(W, bias);
    /* place the model so that the bias bytes (raw_data) start 4-aligned */
    const uint8_t *hit = memmem(mb.p, mb.n, bias, sizeof bias);
    CHECK(hit != NULL);
    size_t off = (size_t)(hit - mb.p);
    uint8_t *block = malloc(mb.n + 8);
    uint8_t *base = block;
    while (((uintptr_t)(base + off)) % 4) base++;
    memcpy(base, mb.p, mb.n);
    ms_model *m;
    ms_error err;
    CHECK(ms_model_load(base, mb.n, &m, &err) == MS_OK);
    int found = 0;
    for (int v = 0; v < m->n_values; v++)
        if (m->values[v].kind == MS_VALUE_CONST) found = m->values[v].t.data == base + off;
    CHECK_MSG(found, "the bias initializer was copied instead of referenced");
    ms_model_free(m);
    free(block);
    free(mb.p);
}

TEST(inputs_are_checked)
{
    enum { W = 30 };
    static float bias[W], x[W];
    pbuf mb = chain_model(W, bias);
    ms_model *m;
    ms_session *s;
    ms_error err;
    CHECK(ms_model_load(mb.p, mb.n, &m, &err) == MS_OK);
    CHECK(ms_session_create(m, NULL, &s, &err) == MS_OK);
    ms_tensor out, in = {MS_DTYPE_FLOAT, 2, {1, W - 1}, x};
    CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "input 'x' expects float32[?,30], got float32[1,29]") != NULL, "%s", err.msg);
    in.shape[1] = W;
    in.dtype = MS_DTYPE_DOUBLE;
    CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_ERR_INVALID);
    in.dtype = MS_DTYPE_FLOAT;
    in.ndim = 1;
    CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_ERR_INVALID);
    in.ndim = 2;
    in.data = NULL;
    CHECK(ms_session_run(s, &in, 1, &out, 1, &err) == MS_ERR_INVALID);
    CHECK(ms_session_run(s, &in, 0, &out, 1, &err) == MS_ERR_INVALID);
    ms_session_free(s);
    ms_model_free(m);
    free(mb.p);
}

TEST(unsupported_operator_is_named)
{
    pbuf g = {0};
    const char *ii[] = {"x"}, *oo[] = {"y"};
    ob_node(&g, "FrobnicateV9", "frob_1", ii, 1, oo, 1, NULL);
    int64_t d[1] = {3};
    ob_value(&g, 11, "x", 1, 1, d);
    ob_value(&g, 12, "y", 1, 1, d);
    pbuf mb = ob_model(&g, 13);
    ms_model *m;
    ms_session *s;
    ms_error err;
    CHECK(ms_model_load(mb.p, mb.n, &m, &err) == MS_OK); /* loads: inspect must work */
    CHECK(ms_model_check_supported(m, &err) == MS_ERR_UNSUPPORTED);
    CHECK(ms_session_create(m, NULL, &s, &err) == MS_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "FrobnicateV9") && strstr(err.msg, "frob_1") && strstr(err.msg, "opset 13"),
              "%s", err.msg);
    ms_model_free(m);
    free(mb.p);
}

TEST(undefined_input_is_invalid)
{
    pbuf g = {0};
    const char *ii[] = {"nowhere"}, *oo[] = {"y"};
    ob_node(&g, "Relu", "r", ii, 1, oo, 1, NULL);
    int64_t d[1] = {3};
    ob_value(&g, 12, "y", 1, 1, d);
    pbuf mb = ob_model(&g, 13);
    ms_model *m;
    ms_error err;
    CHECK(ms_model_load(mb.p, mb.n, &m, &err) == MS_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "nowhere") != NULL, "%s", err.msg);
    free(mb.p);
}

TEST(external_data_is_refused_clearly)
{
    pbuf g = {0}, t = {0}, kv = {0};
    pb_int(&t, 1, 4);
    pb_int(&t, 2, 1);
    pb_str(&t, 8, "weights");
    pb_str(&kv, 1, "location");
    pb_str(&kv, 2, "weights.bin");
    pb_msg(&t, 13, &kv);
    pb_int(&t, 14, 1); /* data_location = EXTERNAL */
    pb_msg(&g, 5, &t);
    const char *ii[] = {"x", "weights"}, *oo[] = {"y"};
    ob_node(&g, "Add", "add", ii, 2, oo, 1, NULL);
    int64_t d[1] = {4};
    ob_value(&g, 11, "x", 1, 1, d);
    ob_value(&g, 12, "y", 1, 1, d);
    pbuf mb = ob_model(&g, 13);
    ms_model *m;
    ms_error err;
    CHECK(ms_model_load(mb.p, mb.n, &m, &err) == MS_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "weights") && strstr(err.msg, "external data is not supported yet"),
              "%s", err.msg);
    free(mb.p);
}

int main(void)
{
    RUN(external_data_is_refused_clearly);
    RUN(chain_computes_and_reuses_memory);
    RUN(planned_run_does_not_allocate);
    RUN(weights_are_referenced_in_place);
    RUN(inputs_are_checked);
    RUN(unsupported_operator_is_named);
    RUN(undefined_input_is_invalid);
    return mstest_summary();
}
