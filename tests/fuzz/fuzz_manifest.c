/* fuzz_manifest.c: libFuzzer driver for the edge update manifest parser
 * (src/edge/agent/ag_manifest.h), the first thing the device agent parses after the
 * signature verifies. Bad input gets MS_ERR_INVALID or MS_ERR_UNSUPPORTED with a message; a
 * manifest that parses must come back identical through ag_manifest_write and a second parse. */
#include "fuzz_common.h"

#include "edge/agent/ag_manifest.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

static int same(const ag_manifest *a, const ag_manifest *b)
{
    int g = (!a->golden && !b->golden) || (a->golden && b->golden && strcmp(a->golden, b->golden) == 0);
    int f = a->n_features == b->n_features;
    for (int i = 0; f && i < a->n_features; i++) f = strcmp(a->features[i], b->features[i]) == 0;
    return g && f && strcmp(a->name, b->name) == 0 && a->version == b->version && strcmp(a->sha256, b->sha256) == 0 &&
           a->size == b->size && strcmp(a->blob, b->blob) == 0 && strcmp(a->model_format, b->model_format) == 0 &&
           a->created == b->created && a->expires == b->expires && strcmp(a->min_agent, b->min_agent) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_refused = 0;
    ms_error err = {{0}};
    ag_manifest m, again;
    ms_status st = ag_manifest_parse((const char *)data, size, &m, &err);
    if (st != MS_OK) {
        fz_expect("ag_manifest_parse", st, &err);
        return 0;
    }
    mc_buf b = {0};
    if (ag_manifest_write(&m, &b, &err) != MS_OK) {
        fz_expect("ag_manifest_write", MS_ERR_RUNTIME, &err);
    } else if (ag_manifest_parse(b.data, b.len, &again, &err) != MS_OK) {
        fprintf(stderr, "a written manifest does not parse: %s\n", err.msg);
        abort();
    } else {
        if (!same(&m, &again)) {
            fprintf(stderr, "the manifest changed through write + parse\n");
            abort();
        }
        ag_manifest_clear(&again);
    }
    mc_buf_free(&b);
    ag_manifest_clear(&m);
    return 0;
}
