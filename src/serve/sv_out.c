/* sv_out.c: output values as JSON, the way /predict and /v1 answer (see sv_out_row in
 * sv_int.h). The V2 protocol writes whole tensors with codec_json instead. Every serve
 * writer of output values is here, so moving serve onto the project-wide writer is this one
 * file. */
#include "serve/sv_int.h"

#include <math.h>

static void put_num(mc_buf *b, double v, int digits)
{
    if (!isfinite(v)) { mc_buf_puts(b, "null"); return; }
    if (fabs(v) < 1e15 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
        mc_buf_put_i64(b, (int64_t)v);
        return;
    }
    mc_buf_printf(b, "%.*g", digits, v);
}

/* Element i of a tensor as JSON. */
static void put_elem(mc_buf *b, const ms_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case MS_DTYPE_FLOAT: put_num(b, ((const float *)d)[i], 9); break;
    case MS_DTYPE_DOUBLE: put_num(b, ((const double *)d)[i], 17); break;
    case MS_DTYPE_INT64: mc_buf_put_i64(b, ((const int64_t *)d)[i]); break;
    case MS_DTYPE_INT32: mc_buf_put_i64(b, ((const int32_t *)d)[i]); break;
    case MS_DTYPE_INT16: mc_buf_put_i64(b, ((const int16_t *)d)[i]); break;
    case MS_DTYPE_INT8: mc_buf_put_i64(b, ((const int8_t *)d)[i]); break;
    case MS_DTYPE_UINT64: mc_buf_put_u64(b, ((const uint64_t *)d)[i]); break;
    case MS_DTYPE_UINT32: mc_buf_put_u64(b, ((const uint32_t *)d)[i]); break;
    case MS_DTYPE_UINT16: mc_buf_put_u64(b, ((const uint16_t *)d)[i]); break;
    case MS_DTYPE_UINT8: mc_buf_put_u64(b, ((const uint8_t *)d)[i]); break;
    case MS_DTYPE_BOOL: mc_buf_puts(b, ((const uint8_t *)d)[i] ? "true" : "false"); break;
    case MS_DTYPE_STRING: mc_buf_put_json_str(b, ((const char *const *)d)[i]); break;
    default: mc_buf_puts(b, "null"); break;
    }
}

/* Elements [first, first+n) shaped as dims[0..nd) (nested arrays). */
static void put_nested(mc_buf *b, const ms_tensor *t, int64_t *first, const int64_t *dims, int nd)
{
    if (nd == 0) { put_elem(b, t, (*first)++); return; }
    mc_buf_putc(b, '[');
    for (int64_t i = 0; i < dims[0]; i++) {
        if (i) mc_buf_putc(b, ',');
        put_nested(b, t, first, dims + 1, nd - 1);
    }
    mc_buf_putc(b, ']');
}

void sv_out_row(mc_buf *b, const ms_model *m, int o, const ms_tensor *t, int64_t i, int column)
{
    int64_t per = 1;
    for (int d = 1; d < t->ndim; d++) per *= t->shape[d];
    if (t->ndim == 0) { put_elem(b, t, 0); return; }
    if (column >= 0 && column < per) { put_elem(b, t, i * per + column); return; }
    ms_dtype lt;
    int64_t nl;
    const void *labels;
    if (ms_model_output_labels(m, o, &lt, &nl, &labels) && nl == per) {
        mc_buf_putc(b, '{');
        for (int64_t k = 0; k < nl; k++) {
            if (k) mc_buf_putc(b, ',');
            if (lt == MS_DTYPE_STRING) mc_buf_put_json_str(b, ((const char *const *)labels)[k]);
            else mc_buf_printf(b, "\"%lld\"", (long long)((const int64_t *)labels)[k]);
            mc_buf_putc(b, ':');
            put_elem(b, t, i * per + k);
        }
        mc_buf_putc(b, '}');
        return;
    }
    if (per == 1) { put_elem(b, t, i); return; }
    int64_t first = i * per;
    put_nested(b, t, &first, t->shape + 1, t->ndim - 1);
}
