/* fuzz_model.c: libFuzzer driver for the model loader, the planner and the kernels.
 * The input is an ONNX model image. When it loads, a session is created and run twice on
 * zero-filled inputs of the declared shapes (symbolic dimensions = 1; inputs over 64K
 * elements are not run). Contract: fuzz_common.h. */
#include "fuzz_common.h"

#include <stdint.h>

#define MAX_INPUTS 16
#define MAX_ELEMS (1 << 16)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

/* Zero tensors of the declared shapes; 0 when an input is too big to bother. */
static int zero_inputs(const ms_model *m, ms_tensor *in, void **blocks)
{
    static const char *const empty = "";
    for (int i = 0; i < ms_model_num_inputs(m); i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        ms_tensor *t = &in[i];
        memset(t, 0, sizeof *t);
        t->dtype = vi->dtype;
        t->ndim = vi->ndim < 0 ? 1 : vi->ndim;
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++) {
            t->shape[d] = vi->ndim < 0 || vi->shape[d] < 0 ? 1 : vi->shape[d];
            if (t->shape[d] > MAX_ELEMS || (n *= t->shape[d]) > MAX_ELEMS) return 0;
        }
        size_t esz = ms_dtype_size(t->dtype);
        if (!esz || !(blocks[i] = calloc(n ? (size_t)n : 1, esz))) return 0;
        if (t->dtype == MS_DTYPE_STRING)
            for (int64_t k = 0; k < n; k++) ((const char **)blocks[i])[k] = empty;
        t->data = blocks[i];
    }
    return 1;
}

static void run_model(const ms_model *m)
{
    ms_error err = {{0}};
    ms_session *s = NULL;
    ms_status st = ms_session_create(m, NULL, &s, &err);
    fz_expect("ms_session_create", st, &err);
    if (st) return;
    ms_tensor in[MAX_INPUTS], out[MAX_INPUTS];
    void *blocks[MAX_INPUTS] = {0};
    int n_in = ms_model_num_inputs(m), n_out = ms_model_num_outputs(m);
    if (n_out > MAX_INPUTS) n_out = MAX_INPUTS;
    if (n_in <= MAX_INPUTS && zero_inputs(m, in, blocks)) {
        for (int pass = 0; pass < 2; pass++) { /* the second run uses the plan */
            err.msg[0] = 0;
            st = ms_session_run(s, in, n_in, out, n_out, &err);
            fz_expect("ms_session_run", st, &err);
            if (st) break;
            for (int k = 0; k < n_out; k++) {
                if (!ms_dtype_size(out[k].dtype) || out[k].ndim < 0 || out[k].ndim > MS_MAX_DIMS) {
                    fprintf(stderr, "output %d: dtype %d ndim %d\n", k, (int)out[k].dtype, (int)out[k].ndim);
                    abort();
                }
                fz_touch(&out[k]);
            }
        }
    }
    for (int i = 0; i < MAX_INPUTS; i++) free(blocks[i]);
    ms_session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_error err = {{0}};
    ms_model *m = NULL;
    fz_refused = 0;
    ms_status st = ms_model_load(data, size, &m, &err);
    fz_expect("ms_model_load", st, &err);
    if (st) return 0;
    /* the read-only API on whatever loaded */
    size_t acc = strlen(ms_model_producer(m));
    for (int i = 0; i < ms_model_num_inputs(m); i++) acc += strlen(ms_model_input(m, i)->name);
    for (int i = 0; i < ms_model_num_outputs(m); i++) acc += strlen(ms_model_output(m, i)->name);
    for (int i = 0; i < ms_model_num_ops(m); i++) {
        const char *dom, *op;
        int sup;
        ms_model_op(m, i, &dom, &op, &sup);
        acc += strlen(dom) + strlen(op);
    }
    (void)acc;
    run_model(m);
    ms_model_free(m);
    return 0;
}
