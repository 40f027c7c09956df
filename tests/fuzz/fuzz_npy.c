/* fuzz_npy.c: libFuzzer driver for the .npy codec (src/codec/codec_npy.h). A decoded tensor
 * must be readable, and must survive encode + decode unchanged. */
#include "fuzz_common.h"

#include "codec/codec_npy.h"

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
    ms_error err = {{0}};
    ms_tensor t, u;
    fz_refused = 0;
    ms_status st = mc_npy_decode(data, size, &t, &err);
    fz_expect("mc_npy_decode", st, &err);
    if (st) return 0;
    if (!ms_dtype_size(t.dtype) || t.ndim < 0 || t.ndim > MS_MAX_DIMS) abort();
    fz_touch(&t);
    mc_buf b = {0};
    st = mc_npy_encode(&t, &b, &err);
    if (st == MS_OK && !mc_buf_failed(&b)) {
        st = mc_npy_decode(b.data, b.len, &u, &err);
        if (st) {
            fprintf(stderr, "re-decoding our own encoding failed: %s\n", err.msg);
            abort();
        }
        size_t bytes = (size_t)ms_tensor_numel(&t) * ms_dtype_size(t.dtype);
        if (u.dtype != t.dtype || u.ndim != t.ndim ||
            memcmp(u.shape, t.shape, sizeof(int64_t) * (size_t)t.ndim) ||
            (bytes && memcmp(u.data, t.data, bytes))) {
            fprintf(stderr, "npy round trip changed the tensor\n");
            abort();
        }
        ms_free(u.data);
    } else {
        fz_expect("mc_npy_encode", st ? st : MS_ERR_RUNTIME, &err);
    }
    mc_buf_free(&b);
    ms_free(t.data);
    return 0;
}
