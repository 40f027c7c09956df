/* test_session.c: the planner's promises. Arena reuse, no heap allocation on a planned run,
 * re-planning on new shapes, weights referenced in place, input checks, clean errors for
 * unsupported operators. Models are written by hand (onnx_build.h); expected values are
 * computed here from the ops' definitions. */
#define _GNU_SOURCE /* memmem */
#include "mstest.h"
#include "onnx_build.h"
#include "ms_model.h"

#include <pthread.h>
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
    CHECK_MSG(strstr(err.msg, "input 'x' expects float32[N,30], got float32[1,29]") != NULL, "%s", err.msg);
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

/* ---- prepared state shared by the sessions of a model ---------------------------------- */

/* x[N,2,6,6] -> Conv(Wc[4,2,3,3], bc) -> Relu -> Flatten -> Gemm(Wg[64,8], bg) -> y[N,8]:
 * both weight matrices are packed in prepare. */
enum { SC = 2, SH = 6, SM = 4, SK = 3, SO = SH - SK + 1, SF = SM * SO * SO, SG = 8 };
static float s_wc[SM * SC * SK * SK], s_bc[SM], s_wg[SF * SG], s_bg[SG];

static pbuf shared_model(void)
{
    for (int i = 0; i < SM * SC * SK * SK; i++) s_wc[i] = (float)((i * 7) % 11 - 5) / 8;
    for (int i = 0; i < SM; i++) s_bc[i] = (float)i / 4 - 0.25f;
    for (int i = 0; i < SF * SG; i++) s_wg[i] = (float)((i * 5) % 13 - 6) / 16;
    for (int i = 0; i < SG; i++) s_bg[i] = (float)(SG / 2 - i) / 8;
    pbuf g = {0};
    const char *ci[] = {"x", "wc", "bc"}, *co[] = {"c"}, *ri[] = {"c"}, *ro[] = {"r"},
               *fi[] = {"r"}, *fo[] = {"f"}, *gi[] = {"f", "wg", "bg"}, *go[] = {"y"};
    ob_node(&g, "Conv", "conv", ci, 3, co, 1, NULL);
    ob_node(&g, "Relu", "relu", ri, 1, ro, 1, NULL);
    ob_node(&g, "Flatten", "flatten", fi, 1, fo, 1, NULL);
    ob_node(&g, "Gemm", "gemm", gi, 3, go, 1, NULL);
    pb_str(&g, 2, "shared");
    int64_t wcd[4] = {SM, SC, SK, SK}, bcd[1] = {SM}, wgd[2] = {SF, SG}, bgd[1] = {SG};
    ob_tensor_f32(&g, 5, "wc", 4, wcd, s_wc);
    ob_tensor_f32(&g, 5, "bc", 1, bcd, s_bc);
    ob_tensor_f32(&g, 5, "wg", 2, wgd, s_wg);
    ob_tensor_f32(&g, 5, "bg", 1, bgd, s_bg);
    int64_t xd[4] = {-1, SC, SH, SH}, yd[2] = {-1, SG};
    ob_value(&g, 11, "x", 1, 4, xd);
    ob_value(&g, 12, "y", 1, 2, yd);
    return ob_model(&g, 13);
}

/* The same network in double, from the operators' definitions. */
static void shared_reference(const float *x, int n, double *y)
{
    for (int b = 0; b < n; b++) {
        double f[SF];
        for (int m = 0; m < SM; m++)
            for (int i = 0; i < SO; i++)
                for (int j = 0; j < SO; j++) {
                    double acc = s_bc[m];
                    for (int c = 0; c < SC; c++)
                        for (int r = 0; r < SK; r++)
                            for (int q = 0; q < SK; q++)
                                acc += (double)s_wc[((m * SC + c) * SK + r) * SK + q] *
                                       x[((b * SC + c) * SH + i + r) * SH + j + q];
                    f[(m * SO + i) * SO + j] = acc > 0 ? acc : 0;
                }
        for (int o = 0; o < SG; o++) {
            double acc = s_bg[o];
            for (int k = 0; k < SF; k++) acc += f[k] * s_wg[k * SG + o];
            y[b * SG + o] = acc;
        }
    }
}

static size_t n_bytes;
static void *bytes_malloc(size_t n) { n_bytes += n; return malloc(n); }
static void *bytes_realloc(void *p, size_t n) { n_bytes += n; return realloc(p, n); }

static float s_x[4 * SC * SH * SH];

/* Run a session on the first n rows of s_x; 1 if it matches the reference. */
static int shared_run_ok(ms_session *s, int n)
{
    ms_tensor in = {MS_DTYPE_FLOAT, 4, {n, SC, SH, SH}, s_x}, out;
    ms_error err = {{0}};
    if (ms_session_run(s, &in, 1, &out, 1, &err) != MS_OK) return 0;
    double want[4 * SG];
    shared_reference(s_x, n, want);
    const float *y = out.data;
    for (int i = 0; i < n * SG; i++)
        if (fabs(y[i] - want[i]) > 1e-4 * (1 + fabs(want[i]))) return 0;
    return 1;
}

/* A second session on a model packs no weights again: it allocates at least the packed Gemm
 * weights less than the first, computes the same, and keeps working when the first is freed
 * (the packing belongs to the model; ASan would see a use after free or a double free). */
TEST(sessions_share_packed_weights)
{
    for (int i = 0; i < 4 * SC * SH * SH; i++) s_x[i] = (float)((i * 3) % 17 - 8) / 4;
    pbuf mb = shared_model();
    ms_model *m = NULL;
    ms_session *a = NULL, *b = NULL;
    ms_error err = {{0}};
    CHECK(ms_model_load(mb.p, mb.n, &m, &err) == MS_OK);
    ms_set_allocator(bytes_malloc, bytes_realloc, free);
    n_bytes = 0;
    CHECK(m && ms_session_create(m, NULL, &a, &err) == MS_OK && shared_run_ok(a, 3));
    size_t first = n_bytes;
    n_bytes = 0;
    CHECK(m && ms_session_create(m, NULL, &b, &err) == MS_OK && shared_run_ok(b, 3));
    size_t second = n_bytes;
    ms_set_allocator(NULL, NULL, NULL);
    CHECK_MSG(second + sizeof s_wg <= first, "first session %zu bytes, second %zu", first, second);
    ms_session_free(a);
    CHECK(b && shared_run_ok(b, 2)); /* a new batch size re-plans on the shared packing */
    ms_session_free(b);
    ms_model_free(m);
    free(mb.p);
}

/* Sessions created at the same moment on threads race to publish the packing: one wins, the
 * others free theirs and use it. Every session must compute right. */
static ms_model *s_race_model;
static pthread_barrier_t s_race_start;

static void *race_thread(void *arg)
{
    int n = (int)(intptr_t)arg, ok = 1;
    ms_session *s = NULL;
    ms_error err = {{0}};
    pthread_barrier_wait(&s_race_start);
    ok = ms_session_create(s_race_model, NULL, &s, &err) == MS_OK;
    for (int r = 0; ok && r < 3; r++) ok = shared_run_ok(s, n);
    ms_session_free(s);
    return (void *)(intptr_t)ok;
}

TEST(sessions_race_to_share)
{
    enum { T = 4 };
    for (int i = 0; i < 4 * SC * SH * SH; i++) s_x[i] = (float)((i * 3) % 17 - 8) / 4;
    for (int round = 0; round < 20; round++) {
        pbuf mb = shared_model();
        ms_error err = {{0}};
        CHECK(ms_model_load(mb.p, mb.n, &s_race_model, &err) == MS_OK);
        pthread_barrier_init(&s_race_start, NULL, T);
        pthread_t th[T];
        for (int t = 0; t < T; t++)
            pthread_create(&th[t], NULL, race_thread, (void *)(intptr_t)(1 + t % 4));
        int ok = 1;
        for (int t = 0; t < T; t++) {
            void *r;
            pthread_join(th[t], &r);
            ok &= (int)(intptr_t)r;
        }
        CHECK_MSG(ok, "round %d: a session computed wrong", round);
        pthread_barrier_destroy(&s_race_start);
        ms_model_free(s_race_model);
        free(mb.p);
    }
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
    RUN(sessions_share_packed_weights);
    RUN(sessions_race_to_share);
    return mstest_summary();
}
