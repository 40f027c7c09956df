/* fuzz_model.c: libFuzzer driver for the model loader, the planner and the kernels.
 * The input is an ONNX model image or an XGBoost model.json. When it loads, every accessor of
 * the model API is called for every index and out of range (model_walk.h), and a session is
 * created and run twice on zero-filled inputs of the declared shapes (symbolic dimensions = 1;
 * inputs over 64K elements are not run), its outputs checked against the declarations.
 * Contract: fuzz_common.h and model_walk.h. */
#include "fuzz_common.h"
#include "model_walk.h"

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

/* A broken rule of the model API's contract (model_walk.h) is a finding. */
static void walk_or_abort(int rc, const char *why)
{
    if (rc == 0) return;
    fprintf(stderr, "model API contract: %s\n", why);
    abort();
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
    if (n_in <= MAX_INPUTS && mw_zero_inputs(m, 1, MAX_ELEMS, in, blocks)) {
        for (int pass = 0; pass < 2; pass++) { /* the second run uses the plan */
            err.msg[0] = 0;
            st = ms_session_run(s, in, n_in, out, n_out, &err);
            fz_expect("ms_session_run", st, &err);
            if (st) break;
            char why[MW_WHY] = "";
            walk_or_abort(mw_run_outputs(m, out, n_out, why), why);
            for (int k = 0; k < n_out; k++) fz_touch(&out[k]);
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
    /* every accessor, every index and out of range, on whatever loaded */
    char why[MW_WHY] = "";
    walk_or_abort(mw_walk(m, mw_is_json(data, size), why), why);
    run_model(m);
    ms_model_free(m);
    return 0;
}
