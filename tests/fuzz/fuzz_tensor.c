/* fuzz_tensor.c: libFuzzer driver for ms_tensor_decode_pb (ONNX TensorProto, the format of
 * the test data's input_*.pb). A decoded tensor must be consistent and fully readable. */
#include "fuzz_common.h"

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
    ms_tensor t;
    char name[32];
    fz_refused = 0;
    ms_status st = ms_tensor_decode_pb(data, size, &t, name, sizeof name, &err);
    fz_expect("ms_tensor_decode_pb", st, &err);
    if (st) {
        if (t.data) abort(); /* a failed decode owns nothing */
        return 0;
    }
    if (!ms_dtype_size(t.dtype) || t.ndim < 0 || t.ndim > MS_MAX_DIMS || strlen(name) >= sizeof name)
        abort();
    for (int d = 0; d < t.ndim; d++)
        if (t.shape[d] < 0) abort();
    fz_touch(&t);
    ms_free(t.data);
    return 0;
}
