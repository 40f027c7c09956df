/* fuzz_json.c: libFuzzer driver for the Open Inference Protocol JSON codec
 * (src/codec/codec_json.h). A parsed request's tensors must be readable, and each must come
 * back unchanged through pd_json_write_tensor + mc_json_parse_inputs. */
#include "fuzz_common.h"

#include "codec/codec_json.h"
#include "predict/pd_json.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

static void round_trip(const mc_named_tensor *nt)
{
    ms_error err = {{0}};
    mc_buf b = {0};
    ms_status st = pd_json_write_tensor(&b, nt->name, &nt->t, &err);
    if (st || mc_buf_failed(&b)) {
        fz_expect("pd_json_write_tensor", st ? st : MS_ERR_RUNTIME, &err);
        mc_buf_free(&b);
        return;
    }
    mc_oip_request back;
    st = mc_json_parse_inputs(b.data, b.len, &back, &err);
    if (st) {
        fprintf(stderr, "our own JSON does not parse back (%s): %s\n", err.msg, b.data);
        abort();
    }
    const ms_tensor *t = &nt->t, *u = &back.inputs[0].t;
    size_t bytes = (size_t)ms_tensor_numel(t) * ms_dtype_size(t->dtype);
    if (back.n_inputs != 1 || strcmp(back.inputs[0].name, nt->name) || u->dtype != t->dtype ||
        u->ndim != t->ndim || memcmp(u->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim) ||
        (bytes && memcmp(u->data, t->data, bytes))) {
        fprintf(stderr, "JSON round trip changed tensor '%s': %s\n", nt->name, b.data);
        abort();
    }
    mc_oip_request_free(&back);
    mc_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_error err = {{0}};
    mc_oip_request req;
    fz_refused = 0;
    ms_status st = mc_json_parse_inputs((const char *)data, size, &req, &err);
    fz_expect("mc_json_parse_inputs", st, &err);
    if (st) return 0;
    for (int i = 0; i < req.n_inputs; i++) {
        const ms_tensor *t = &req.inputs[i].t;
        if (!ms_dtype_size(t->dtype) || t->ndim < 0 || t->ndim > MS_MAX_DIMS) abort();
        fz_touch(t);
        round_trip(&req.inputs[i]);
    }
    for (int i = 0; i < req.n_outputs; i++) (void)strlen(req.outputs[i]);
    mc_oip_request_free(&req);
    return 0;
}
