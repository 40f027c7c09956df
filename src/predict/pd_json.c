/* pd_json.c: model outputs as JSON (see pd_json.h). */
#include "predict/pd_json.h"

#include <string.h>

#include "codec/codec_csv.h"
#include "codec/codec_json.h"

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = h >> 10 & 31, man = h & 1023, bits;
    if (exp == 31) bits = sign | 0x7f800000u | man << 13;
    else if (exp) bits = sign | (exp + 112) << 23 | man << 13;
    else if (!man) bits = sign;
    else { /* subnormal: normalise */
        exp = 113;
        while (!(man & 1024)) { man <<= 1; exp--; }
        bits = sign | exp << 23 | (man & 1023) << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

char *pd_json_num_at(char *w, const ms_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MS_DTYPE_FLOAT: return w + mc_format_f32(w, ((const float *)t->data)[i]);
    case MS_DTYPE_DOUBLE: return w + mc_format_f64(w, ((const double *)t->data)[i]);
    case MS_DTYPE_INT64:
    case MS_DTYPE_INT32: {
        int64_t v = t->dtype == MS_DTYPE_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
        char tmp[24];
        int n = 0;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) != 0);
        if (v < 0) *w++ = '-';
        while (n) *w++ = tmp[--n];
        return w;
    }
    default: return NULL;
    }
}

void pd_json_put_elem(mc_buf *b, const ms_tensor *t, int64_t i)
{
    const void *d = t->data;
    char num[32];
    char *e = pd_json_num_at(num, t, i);
    if (e) {
        mc_buf_append(b, num, (size_t)(e - num));
        return;
    }
    switch (t->dtype) {
    case MS_DTYPE_FLOAT16:
        mc_buf_append(b, num, (size_t)mc_format_f32(num, half_to_float(((const uint16_t *)d)[i])));
        break;
    case MS_DTYPE_INT16: mc_buf_put_i64(b, ((const int16_t *)d)[i]); break;
    case MS_DTYPE_INT8: mc_buf_put_i64(b, ((const int8_t *)d)[i]); break;
    case MS_DTYPE_UINT64: mc_buf_put_u64(b, ((const uint64_t *)d)[i]); break;
    case MS_DTYPE_UINT32: mc_buf_put_u64(b, ((const uint32_t *)d)[i]); break;
    case MS_DTYPE_UINT16: mc_buf_put_u64(b, ((const uint16_t *)d)[i]); break;
    case MS_DTYPE_UINT8: mc_buf_put_u64(b, ((const uint8_t *)d)[i]); break;
    case MS_DTYPE_BOOL: mc_buf_puts(b, ((const uint8_t *)d)[i] ? "true" : "false"); break;
    case MS_DTYPE_STRING: mc_buf_put_json_str(b, ((const char *const *)d)[i]); break;
    default: mc_buf_append(b, "null", 4); break;
    }
}

void pd_json_put_nested(mc_buf *b, const ms_tensor *t, int64_t first, const int64_t *dims, int nd)
{
    if (nd == 0) {
        pd_json_put_elem(b, t, first);
        return;
    }
    int64_t inner = 1;
    for (int k = 1; k < nd; k++) inner *= dims[k];
    mc_buf_putc(b, '[');
    for (int64_t i = 0; i < dims[0]; i++) {
        if (i) mc_buf_putc(b, ',');
        pd_json_put_nested(b, t, first + i * inner, dims + 1, nd - 1);
    }
    mc_buf_putc(b, ']');
}

void pd_json_put_label_key(mc_buf *b, ms_dtype lt, const void *labels, int64_t k)
{
    if (lt == MS_DTYPE_STRING) {
        mc_buf_put_json_str(b, ((const char *const *)labels)[k]);
    } else {
        mc_buf_putc(b, '"');
        mc_buf_put_i64(b, ((const int64_t *)labels)[k]);
        mc_buf_putc(b, '"');
    }
    mc_buf_putc(b, ':');
}

void pd_json_put_label_map(mc_buf *b, ms_dtype lt, int64_t n, const void *labels,
                           const ms_tensor *t, int64_t first)
{
    mc_buf_putc(b, '{');
    for (int64_t k = 0; k < n; k++) {
        if (k) mc_buf_putc(b, ',');
        pd_json_put_label_key(b, lt, labels, k);
        pd_json_put_elem(b, t, first + k);
    }
    mc_buf_putc(b, '}');
}

void pd_json_put_row(mc_buf *b, const ms_model *m, int o, const ms_tensor *t, int64_t i, int flags)
{
    if (t->ndim == 0) {
        pd_json_put_elem(b, t, 0);
        return;
    }
    int64_t per = 1;
    for (int d = 1; d < t->ndim; d++) per *= t->shape[d];
    ms_dtype lt;
    int64_t nl;
    const void *labels;
    if (m && ms_model_output_labels(m, o, &lt, &nl, &labels) && nl == per) {
        pd_json_put_label_map(b, lt, nl, labels, t, i * per);
        return;
    }
    if (t->ndim == 1 || (per == 1 && (flags & PD_JSON_ROW_UNWRAP))) {
        pd_json_put_elem(b, t, i * per);
        return;
    }
    pd_json_put_nested(b, t, i * per, t->shape + 1, t->ndim - 1);
}

/* ---- whole tensors ------------------------------------------------------------------- */

static ms_status done(mc_buf *b, ms_error *err)
{
    return mc_buf_failed(b) ? bs_fail(err, MS_ERR_RUNTIME, "out of memory writing JSON") : MS_OK;
}

ms_status pd_json_write_tensor(mc_buf *b, const char *name, const ms_tensor *t, ms_error *err)
{
    const char *dt = mc_oip_dtype_name(t->dtype);
    if (!dt)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "output '%s': dtype %s has no JSON form", name,
                       ms_dtype_name(t->dtype));
    if (t->ndim < 0 || t->ndim > MS_MAX_DIMS)
        return bs_fail(err, MS_ERR_INVALID, "output '%s': bad rank %d", name, (int)t->ndim);
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) return bs_fail(err, MS_ERR_INVALID, "output '%s': negative dimension", name);
        n *= t->shape[i];
    }
    /* Reserve a rough upper bound once, so the element loop rarely reallocates. */
    size_t per = t->dtype == MS_DTYPE_DOUBLE ? 25 : t->dtype == MS_DTYPE_STRING ? 16 : 17;
    if ((uint64_t)n < SIZE_MAX / per) mc_buf_reserve(b, (size_t)n * per + 64);
    mc_buf_append(b, "{\"name\":", 8);
    mc_buf_put_json_str(b, name);
    mc_buf_append(b, ",\"datatype\":\"", 13);
    mc_buf_puts(b, dt);
    mc_buf_append(b, "\",\"shape\":[", 11);
    for (int i = 0; i < t->ndim; i++) {
        if (i) mc_buf_putc(b, ',');
        mc_buf_put_i64(b, t->shape[i]);
    }
    mc_buf_append(b, "],\"data\":[", 10);
    for (int64_t i = 0; i < n; i++) {
        if (i) mc_buf_putc(b, ',');
        pd_json_put_elem(b, t, i);
    }
    mc_buf_append(b, "]}", 2);
    return done(b, err);
}

ms_status pd_json_write_label_map(mc_buf *b, const char *name, const ms_tensor *t,
                                  const pd_label_map *lm, ms_error *err)
{
    if (t->dtype != MS_DTYPE_FLOAT || t->ndim != 2 || t->shape[1] != lm->n)
        return bs_fail(err, MS_ERR_INVALID, "output '%s': a label map needs float32[N,%lld]",
                       name, (long long)lm->n);
    mc_buf_append(b, "{\"name\":", 8);
    mc_buf_put_json_str(b, name);
    mc_buf_puts(b, ",\"datatype\":\"FP32\",\"shape\":[");
    mc_buf_put_i64(b, t->shape[0]);
    mc_buf_puts(b, "],\"parameters\":{\"label_map\":true},\"data\":[");
    for (int64_t r = 0; r < t->shape[0]; r++) {
        if (r) mc_buf_putc(b, ',');
        pd_json_put_label_map(b, lm->type, lm->n, lm->labels, t, r * lm->n);
    }
    mc_buf_append(b, "]}", 2);
    return done(b, err);
}

ms_status pd_json_write_response(mc_buf *b, const pd_json_response *r, ms_error *err)
{
    mc_buf_append(b, "{\"model_name\":", 14);
    mc_buf_put_json_str(b, r->model_name ? r->model_name : "");
    if (r->model_version) {
        mc_buf_append(b, ",\"model_version\":", 17);
        mc_buf_put_json_str(b, r->model_version);
    }
    if (r->id) {
        mc_buf_append(b, ",\"id\":", 6);
        mc_buf_put_json_str(b, r->id);
    }
    mc_buf_append(b, ",\"outputs\":[", 12);
    for (int i = 0; i < r->n_outputs; i++) {
        if (i) mc_buf_putc(b, ',');
        const pd_label_map *lm = r->label_maps ? &r->label_maps[i] : NULL;
        ms_status st = lm && lm->type != MS_DTYPE_UNDEFINED
                           ? pd_json_write_label_map(b, r->names[i], &r->outputs[i], lm, err)
                           : pd_json_write_tensor(b, r->names[i], &r->outputs[i], err);
        if (st != MS_OK) return st;
    }
    mc_buf_append(b, "]}", 2);
    return done(b, err);
}
