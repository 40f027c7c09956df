/* fuzz_v2bin.c: libFuzzer driver for the V2 inference body parser with the binary tensor
 * extension (src/serve/sv_body.h: a JSON header of Inference-Header-Content-Length bytes,
 * then the tensors' bytes). It must never crash; a refusal is a 400 with a message (500
 * only for out of memory after the allocation cap); what it accepts is readable, every
 * selected output is one of the model's, and when the binary path ran, each binary input
 * declares exactly numel x element size bytes and together they are the whole tail (checked
 * against the header read independently with cJSON).
 *
 * Input: byte 0 picks the header (bit 0: present; bit 1: malformed text), bytes 1-2 the
 * header length (little-endian), the rest is the body. */
#include "fuzz_common.h"

#include "../unit/onnx_build.h"
#include "serve/sv_body.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ms_model *model; /* x float[N,3] -> y = x, z = x */
static pbuf model_bytes; /* the model maps them: kept (and reachable) for the whole run */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv, (void)ob_tensor_f32; /* an onnx_build.h helper not used here */
    pbuf g = {0};
    const char *x[] = {"x"}, *y[] = {"y"}, *z[] = {"z"};
    ob_node(&g, "Identity", "i1", x, 1, y, 1, NULL);
    ob_node(&g, "Identity", "i2", x, 1, z, 1, NULL);
    pb_str(&g, 2, "v2bin");
    int64_t dims[] = {-1, 3};
    ob_value(&g, 11, "x", 1, 2, dims);
    ob_value(&g, 12, "y", 1, 2, dims);
    ob_value(&g, 12, "z", 1, 2, dims);
    model_bytes = ob_model(&g, 13);
    ms_error err = {{0}};
    if (ms_model_load(model_bytes.p, model_bytes.n, &model, &err) != MS_OK) {
        fprintf(stderr, "fuzz_v2bin: cannot build its model: %s\n", err.msg);
        abort();
    }
    fz_init();
    return 0;
}

/* The binary inputs' declared sizes, from the header read with cJSON: each is numel x size. */
static void check_binary_sizes(const sv_v2_req *q, const char *json, size_t json_len, size_t bin_len)
{
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    double total = 0;
    int k = 0;
    for (const cJSON *o = ji ? ji->child : NULL; o; o = o->next, k++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "parameters");
        const cJSON *b = cJSON_IsObject(p) ? cJSON_GetObjectItemCaseSensitive(p, "binary_data_size") : NULL;
        if (!b) continue;
        const ms_tensor *t = &q->oip.inputs[k].t;
        double want = (double)ms_tensor_numel(t) * (double)ms_dtype_size(t->dtype);
        if (!cJSON_IsNumber(b) || b->valuedouble != want) {
            fprintf(stderr, "input %d: accepted binary_data_size %g for %g bytes\n", k, cJSON_IsNumber(b) ? b->valuedouble : -1, want);
            abort();
        }
        total += want;
    }
    if (k != q->oip.n_inputs || total != (double)bin_len) {
        fprintf(stderr, "accepted %d of %d inputs, %g binary bytes of %zu\n", q->oip.n_inputs, k, total, bin_len);
        abort();
    }
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    fz_refused = 0;
    char hl[32];
    size_t hlen = (size_t)data[1] | (size_t)data[2] << 8;
    if (data[0] & 2) snprintf(hl, sizeof hl, "%zux", hlen);
    else snprintf(hl, sizeof hl, "%zu", hlen);
    const char *body = (const char *)data + 3;
    size_t len = size - 3;
    sv_v2_req q = {0};
    sv_perr e = {0};
    int rc = sv_v2_parse(&q, model, "m", body, len, (data[0] & 1) ? hl : NULL, &e);
    if (rc) fz_expect_http("sv_v2_parse", e.status, e.msg);
    else {
        for (int i = 0; i < q.oip.n_inputs; i++) {
            const ms_tensor *t = &q.oip.inputs[i].t;
            if (!q.oip.inputs[i].name || t->ndim < 0 || t->ndim > MS_MAX_DIMS) abort();
            (void)fz_touch(t);
        }
        for (int i = 0; i < q.n_sel; i++)
            if (q.sel[i] < 0 || q.sel[i] >= ms_model_num_outputs(model)) abort();
        if (data[0] & 1) check_binary_sizes(&q, body, hlen, len - hlen);
    }
    sv_v2_req_free(&q);
    return 0;
}
