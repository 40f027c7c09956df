/* codec_file.c: format sniffing and loading tensors from files. */
#include "codec/codec_file.h"

#include <stdlib.h>
#include <string.h>

#include "codec/codec_npy.h"

mc_format mc_format_sniff(const void *buf, size_t len)
{
    const unsigned char *b = buf;
    if (len >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) return MC_FORMAT_NPY;
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) i++;
    if (i < len && b[i] == '{') return MC_FORMAT_JSON;
    return MC_FORMAT_PB;
}

/* Prefix the decoder's message with the source so the user knows which file is bad. */
static ms_status prefixed(ms_status st, const char *what, ms_error *err)
{
    if (st == MS_OK || !err) return st;
    ms_error tmp = *err;
    bs_fail(err, st, "%s: %s", what, tmp.msg);
    return st;
}

ms_status mc_tensors_decode(const void *buf, size_t len, const char *what, mc_oip_request *out,
                            ms_error *err)
{
    memset(out, 0, sizeof *out);
    mc_format f = mc_format_sniff(buf, len);
    if (f == MC_FORMAT_JSON) return prefixed(mc_json_parse_inputs(buf, len, out, err), what, err);
    out->inputs = calloc(1, sizeof *out->inputs);
    if (!out->inputs) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    ms_status st;
    if (f == MC_FORMAT_NPY) {
        st = mc_npy_decode(buf, len, &out->inputs[0].t, err);
    } else {
        char name[256];
        name[0] = 0;
        st = ms_tensor_decode_pb(buf, len, &out->inputs[0].t, name, sizeof name, err);
        if (st == MS_OK && name[0] && !(out->inputs[0].name = strdup(name))) {
            ms_free(out->inputs[0].t.data);
            st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        }
    }
    if (st != MS_OK) {
        free(out->inputs);
        out->inputs = NULL;
        return prefixed(st, what, err);
    }
    out->n_inputs = 1;
    return MS_OK;
}

ms_status mc_tensors_read_file(const char *path, mc_oip_request *out, mc_format *fmt,
                               ms_error *err)
{
    mc_buf b = {0};
    memset(out, 0, sizeof *out);
    ms_status st = mc_read_file(path, &b, err);
    if (st == MS_OK && fmt) *fmt = mc_format_sniff(b.data ? b.data : "", b.len);
    if (st == MS_OK)
        st = mc_tensors_decode(b.data ? b.data : "", b.len, strcmp(path, "-") ? path : "stdin",
                               out, err);
    mc_buf_free(&b);
    return st;
}
