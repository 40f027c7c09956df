/* fuzz_predict.c: libFuzzer driver for the /predict bodies (src/serve/sv_body.h), a
 * differential test of the one-pass fast path against the general cJSON path on the same
 * body. The fast path may decline (the general path then answers); when it accepts, the
 * general path must accept too and produce the same tensor, bit for bit. A refusal is a 400
 * with a message (500 only for out of memory after the allocation cap). What the general
 * path accepts has the declared width.
 *
 * Input: byte 0 picks the declared input (width 1..8 or unknown, float32 or float64), the
 * rest is the request body. */
#include "fuzz_common.h"

#include "serve/sv_body.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    fz_refused = 0;
    uint8_t pick = data[0];
    ms_value_info vi = {"x", (pick & 0x10) ? MS_DTYPE_DOUBLE : MS_DTYPE_FLOAT, 2, {-1, (pick & 0x08) ? -1 : (pick & 7) + 1}, {0}};
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    ms_tensor fast = {0}, gen = {0};
    int took = sv_predict_fast(&vi, 1, body, len, &fast);
    void *own = NULL;
    sv_perr e = {0};
    int rc = sv_predict_parse("m", &vi, 1, body, len, &gen, &own, &e);
    if (rc) fz_expect_http("sv_predict_parse", e.status, e.msg);
    else {
        if (gen.dtype != vi.dtype || gen.ndim != 2 || gen.shape[0] < 1 || (vi.shape[1] >= 0 && gen.shape[1] != vi.shape[1])) {
            fprintf(stderr, "general path: accepted a %s[%lld,%lld]\n", ms_dtype_name(gen.dtype),
                    (long long)gen.shape[0], (long long)gen.shape[1]);
            abort();
        }
        (void)fz_touch(&gen);
    }
    if (took) {
        if (rc) {
            fprintf(stderr, "the fast path accepted a body the general path refuses: %s\n", e.msg);
            abort();
        }
        size_t bytes = (size_t)ms_tensor_numel(&fast) * sizeof(float);
        if (fast.dtype != gen.dtype || fast.ndim != 2 || fast.shape[0] != gen.shape[0] || fast.shape[1] != gen.shape[1] ||
            memcmp(fast.data, gen.data, bytes) != 0) {
            fprintf(stderr, "fast [%lld,%lld] and general [%lld,%lld] paths read the body differently\n",
                    (long long)fast.shape[0], (long long)fast.shape[1], (long long)gen.shape[0], (long long)gen.shape[1]);
            for (int64_t i = 0; i < ms_tensor_numel(&fast) && i < ms_tensor_numel(&gen); i++)
                if (((float *)fast.data)[i] != ((float *)gen.data)[i])
                    fprintf(stderr, "  element %lld: fast %a, general %a\n", (long long)i, ((float *)fast.data)[i], ((float *)gen.data)[i]);
            abort();
        }
        ms_free(fast.data);
    }
    ms_free(own);
    return 0;
}
