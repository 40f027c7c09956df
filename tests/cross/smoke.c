/* smoke.c: the runtime on its own, as an edge build uses it: a model built in memory (no file,
 * no mmap), loaded with ms_model_load, planned once and run. y = Sigmoid(Relu(x W + b)) with
 * x 2x3, W 3x2, checked against the same arithmetic written out here in double.
 * tests/cross/run.sh links it for Cortex-M4 against newlib with no OS (every symbol the
 * runtime needs must be in a bare C library) and runs it on AArch64 under qemu.
 * Prints "N passed, N failed"; exit 0 when all pass. */
#include <math.h>
#include <stdio.h>

#include "mlship.h"
#include "onnx_build.h"

static int passed, failed;

static void check(int ok, const char *what)
{
    if (ok) passed++;
    else {
        failed++;
        printf("FAIL %s\n", what);
    }
}

int main(void)
{
    static const float W[6] = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f};
    static const float B[2] = {0.1f, -0.2f};
    static const float X[6] = {1.0f, 2.0f, 3.0f, -1.0f, 0.5f, -2.0f};
    const int64_t wd[2] = {3, 2}, bd[1] = {2}, xd[2] = {-1, 3}, yd[2] = {-1, 2};
    pbuf g = {0};
    const char *gin[3] = {"x", "W", "B"}, *gout[1] = {"h"}, *rin[1] = {"h"}, *rout[1] = {"r"},
               *sin_[1] = {"r"}, *sout[1] = {"y"};
    ob_node(&g, "Gemm", "gemm", gin, 3, gout, 1, NULL);
    ob_node(&g, "Relu", "relu", rin, 1, rout, 1, NULL);
    ob_node(&g, "Sigmoid", "sigmoid", sin_, 1, sout, 1, NULL);
    ob_tensor_f32(&g, 5, "W", 2, wd, W);
    ob_tensor_f32(&g, 5, "B", 1, bd, B);
    ob_value(&g, 11, "x", 1, 2, xd);
    ob_value(&g, 12, "y", 1, 2, yd);
    pbuf model = ob_model(&g, 13);

    ms_error err = {{0}};
    ms_model *m = NULL;
    ms_session *s = NULL;
    check(ms_model_load(model.p, model.n, &m, &err) == MS_OK, "load");
    if (m) check(ms_session_create(m, NULL, &s, &err) == MS_OK, "session");
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {2, 3}, (void *)X}, out[1];
    /* twice: the second run reuses the plan */
    for (int run = 0; s && run < 2; run++) {
        int ok = ms_session_run(s, &in, 1, out, 1, &err) == MS_OK && out[0].ndim == 2 &&
                 out[0].shape[0] == 2 && out[0].shape[1] == 2;
        check(ok, "run");
        if (!ok) break;
        const float *y = out[0].data;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                double h = B[j];
                for (int k = 0; k < 3; k++) h += (double)X[i * 3 + k] * W[k * 2 + j];
                double want = 1 / (1 + exp(-(h > 0 ? h : 0)));
                check(fabs(y[i * 2 + j] - want) < 1e-6, "value");
            }
    }
    if (failed) printf("error: %s\n", err.msg);
    /* a malformed model is refused, not crashed on */
    ms_model *bad = NULL;
    check(ms_model_load(model.p, model.n / 2, &bad, &err) == MS_ERR_INVALID && !bad,
          "truncated model refused");
    ms_session_free(s);
    ms_model_free(m);
    free(model.p);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
