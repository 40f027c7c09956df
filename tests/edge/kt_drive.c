/* kt_drive.c: a model blob run by the runtime library itself (libmlship_core.a), as a
 * microcontroller running swappable models does (tests/edge/test_kernels.sh): the ONNX bytes
 * of kt_blob.h (a const array: flash) loaded with ms_model_load, one session, each row of
 * ex_rows.h run at batch 1, the first float output printed as float bits in ex_drive's format
 * ("row R rc RC: hex..."), so ex_tool compares it with the host's. A refused model prints
 * "load: <message>" and exits 1. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ex_rows.h"
#include "kt_blob.h"
#include "mlship.h"

int main(void)
{
    ms_error err = {{0}};
    ms_model *m = NULL;
    ms_session *s = NULL;
    if (ms_model_load(kt_blob, sizeof kt_blob, &m, &err) || ms_model_check_supported(m, &err) ||
        ms_session_create(m, NULL, &s, &err)) {
        printf("load: %s\n", err.msg);
        return 1;
    }
    const ms_value_info *vi = ms_model_input(m, 0);
    ms_tensor in = {MS_DTYPE_FLOAT, vi->ndim, {0}, NULL};
    for (int d = 0; d < vi->ndim; d++) in.shape[d] = vi->shape[d] < 0 ? 1 : vi->shape[d];
    int no = ms_model_num_outputs(m), k = 0;
    while (k < no && ms_model_output(m, k)->dtype != MS_DTYPE_FLOAT) k++;
    ms_tensor out[8];
    if (k == no || no > 8) {
        printf("load: no float output among %d\n", no);
        return 1;
    }
    for (int r = 0; r < EX_ROWS; r++) {
        in.data = (void *)ex_rows[r];
        ms_status st = ms_session_run(s, &in, 1, out, no, &err);
        printf("row %d rc %d:", r, (int)st);
        for (int64_t j = 0; !st && j < ms_tensor_numel(&out[k]); j++) {
            uint32_t b;
            memcpy(&b, (const float *)out[k].data + j, sizeof b);
            printf(" %08lx", (unsigned long)b);
        }
        printf("\n");
        if (st) printf("run: %s\n", err.msg);
    }
    ms_session_free(s);
    ms_model_free(m);
    return 0;
}
