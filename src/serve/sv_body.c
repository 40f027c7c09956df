/* sv_body.c: request bodies into tensors, without HTTP (see sv_body.h): the V2 parser for
 * plain JSON (codec_json) and the binary tensor extension (cJSON), and the /predict bodies, by the one-pass fast path or the general cJSON path. */
#define _GNU_SOURCE
#include "serve/sv_body.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_csv.h"

int sv_perr_set(sv_perr *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->status = status;
    return -1;
}

int status_of(ms_status st) { return st == MS_ERR_RUNTIME ? 500 : 400; }

/* ---- V2 / Open Inference Protocol ---------------------------------------------------- */

static int find_output(const ms_model *m, const char *name)
{
    for (int i = 0; i < ms_model_num_outputs(m); i++)
        if (strcmp(ms_model_output(m, i)->name, name) == 0) return i;
    return -1;
}

/* A bool parameter `key` of a "parameters" object: 1, 0, or -1 when malformed. */
static int bool_param(const cJSON *params, const char *key, int *out)
{
    const cJSON *p = params ? cJSON_GetObjectItemCaseSensitive(params, key) : NULL;
    if (!p) return 0;
    if (!cJSON_IsBool(p)) return -1;
    *out = cJSON_IsTrue(p);
    return 0;
}

/* The request's binary-extension parts, read with cJSON: request parameters, per-output
 * "binary_data", and inputs carrying "binary_data_size" (their bytes follow the JSON in
 * `bin`). Inputs with JSON "data" go through codec_json one at a time. */
static int parse_v2_ext(sv_v2_req *q, const ms_model *m, const char *model, const char *json, size_t json_len,
                        const char *bin, size_t bin_len, sv_perr *e)
{
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        sv_perr_set(e, 400, "malformed JSON in the inference request header");
        return -1;
    }
    int ret = -1;
    size_t used = 0;
    static const char *const top[] = {"id", "parameters", "inputs", "outputs", NULL};
    for (const cJSON *c = root->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *a = top; *a; a++) ok |= strcmp(c->string, *a) == 0;
        if (!ok) { sv_perr_set(e, 400, "request: unknown key \"%s\"", c->string); goto done; }
    }
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (jid) {
        if (!cJSON_IsString(jid)) { sv_perr_set(e, 400, "\"id\" must be a string"); goto done; }
        q->id = strdup(jid->valuestring);
    }
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    if (jp && !cJSON_IsObject(jp)) { sv_perr_set(e, 400, "\"parameters\" must be an object"); goto done; }
    if (bool_param(jp, "binary_data_output", &q->all_binary) < 0) {
        sv_perr_set(e, 400, "parameters.binary_data_output must be true or false");
        goto done;
    }
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(ji)) { sv_perr_set(e, 400, "the request needs an \"inputs\" array"); goto done; }
    int n = cJSON_GetArraySize(ji);
    q->oip.inputs = calloc((size_t)(n ? n : 1), sizeof *q->oip.inputs);
    if (!q->oip.inputs) { sv_perr_set(e, 500, "out of memory"); goto done; }
    int k = 0;
    for (const cJSON *o = ji->child; o; o = o->next, k++) {
        mc_named_tensor *nt = &q->oip.inputs[k];
        const cJSON *ip = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "parameters") : NULL;
        const cJSON *bsz = ip && cJSON_IsObject(ip) ? cJSON_GetObjectItemCaseSensitive(ip, "binary_data_size") : NULL;
        if (!bsz) { /* JSON data: the codec parses this one tensor object */
            char *text = cJSON_PrintUnformatted(o);
            mc_oip_request one;
            ms_error err = {{0}};
            ms_status st = text ? mc_json_parse_inputs(text, strlen(text), &one, &err)
                                : bs_fail(&err, MS_ERR_RUNTIME, "out of memory");
            free(text);
            if (st == MS_OK && !one.bare_tensor) {
                mc_oip_request_free(&one);
                st = bs_fail(&err, MS_ERR_INVALID, "inputs[%d] is not a tensor object", k);
            }
            if (st != MS_OK) { sv_perr_set(e, status_of(st), "%s", err.msg); goto done; }
            *nt = one.inputs[0];
            free(one.inputs);
            q->oip.n_inputs = k + 1;
            continue;
        }
        /* Binary data: name, datatype, shape here; the bytes after the JSON. */
        const cJSON *jn = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *jt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(o, "shape");
        if (!cJSON_IsString(jn)) { sv_perr_set(e, 400, "inputs[%d]: \"name\" must be a string", k); goto done; }
        const char *name = jn->valuestring;
        if (cJSON_GetObjectItemCaseSensitive(o, "data")) {
            sv_perr_set(e, 400, "input '%s': has both \"data\" and parameters.binary_data_size", name);
            goto done;
        }
        if (!cJSON_IsString(jt)) { sv_perr_set(e, 400, "input '%s': \"datatype\" must be a string", name); goto done; }
        ms_dtype dt = mc_oip_dtype_parse(jt->valuestring);
        if (dt == MS_DTYPE_UNDEFINED || dt == MS_DTYPE_STRING) {
            sv_perr_set(e, 400, "input '%s': datatype \"%.32s\" is not supported as binary data (expected BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32 or FP64)", name, jt->valuestring);
            goto done;
        }
        if (!cJSON_IsArray(js) || cJSON_GetArraySize(js) > MS_MAX_DIMS) {
            sv_perr_set(e, 400, "input '%s': \"shape\" must be an array of at most %d integers", name, MS_MAX_DIMS);
            goto done;
        }
        ms_tensor t = {dt, 0, {0}, NULL};
        double numel = 1;
        for (const cJSON *d = js->child; d; d = d->next) {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble != floor(d->valuedouble) || d->valuedouble > 9.0e15) {
                sv_perr_set(e, 400, "input '%s': shape[%d] is not a non-negative integer", name, t.ndim);
                goto done;
            }
            t.shape[t.ndim++] = (int64_t)d->valuedouble;
            numel *= d->valuedouble;
        }
        double want = numel * (double)ms_dtype_size(dt);
        if (!cJSON_IsNumber(bsz) || bsz->valuedouble != want) {
            sv_perr_set(e, 400, "input '%s': binary_data_size is %.0f but %s of shape with %.0f elements needs %.0f bytes",
                         name, cJSON_IsNumber(bsz) ? bsz->valuedouble : -1.0, jt->valuestring, numel, want);
            goto done;
        }
        if (want > (double)(bin_len - used)) {
            sv_perr_set(e, 400, "input '%s': needs %.0f bytes of binary data but only %zu remain after the JSON header",
                         name, want, bin_len - used);
            goto done;
        }
        size_t bytes = (size_t)want;
        t.data = ms_malloc(bytes ? bytes : 1);
        nt->name = strdup(name);
        if (!t.data || !nt->name) { ms_free(t.data); free(nt->name); nt->name = NULL; sv_perr_set(e, 500, "out of memory"); goto done; }
        memcpy(t.data, bin + used, bytes);
        used += bytes;
        nt->t = t;
        q->oip.n_inputs = k + 1;
    }
    if (used != bin_len) {
        sv_perr_set(e, 400, "%zu bytes of binary data after the JSON header belong to no input", bin_len - used);
        goto done;
    }
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (jo) {
        if (!cJSON_IsArray(jo)) { sv_perr_set(e, 400, "\"outputs\" must be an array"); goto done; }
        int i = 0;
        for (const cJSON *o = jo->child; o; o = o->next, i++) {
            const cJSON *jn = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "name") : NULL;
            if (!cJSON_IsString(jn)) { sv_perr_set(e, 400, "outputs[%d]: \"name\" must be a string", i); goto done; }
            int idx = find_output(m, jn->valuestring);
            if (idx < 0) { sv_perr_set(e, 400, "model '%s' has no output '%s'", model, jn->valuestring); goto done; }
            if (i >= MS_MAX_IO) { sv_perr_set(e, 400, "too many outputs requested"); goto done; }
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "parameters");
            int b = q->all_binary;
            if (op && (!cJSON_IsObject(op) || bool_param(op, "binary_data", &b) < 0)) {
                sv_perr_set(e, 400, "outputs[%d]: parameters.binary_data must be true or false", i);
                goto done;
            }
            q->sel[i] = idx;
            q->sel_binary[i] = b;
            q->n_sel = i + 1;
        }
    }
    ret = 0;
done:
    cJSON_Delete(root);
    return ret;
}

void sv_v2_req_free(sv_v2_req *q)
{
    mc_oip_request_free(&q->oip);
    free(q->id);
    q->id = NULL;
}

int sv_v2_parse(sv_v2_req *q, const ms_model *m, const char *model, const char *body, size_t len,
                const char *hl, sv_perr *e)
{
    const char *json = body;
    size_t json_len = len;
    if (hl) {
        char *end;
        unsigned long long n = strtoull(hl, &end, 10);
        if (!*hl || *end || n > len)
            return sv_perr_set(e, 400, "Inference-Header-Content-Length is %s but the body has %zu bytes", hl, len);
        json_len = (size_t)n;
    }
    if (hl || memmem(json, json_len, "binary_data", 11))
        return parse_v2_ext(q, m, model, json, json_len, json + json_len, len - json_len, e);
    ms_error err = {{0}};
    ms_status st = mc_json_parse_request(json, json_len, &q->oip, &err);
    if (st != MS_OK) return sv_perr_set(e, status_of(st), "%s", err.msg);
    if (q->oip.id) q->id = strdup(q->oip.id);
    for (int i = 0; i < q->oip.n_outputs; i++) {
        int idx = find_output(m, q->oip.outputs[i]);
        if (idx < 0) return sv_perr_set(e, 400, "model '%s' has no output '%s'", model, q->oip.outputs[i]);
        if (i >= MS_MAX_IO) return sv_perr_set(e, 400, "too many outputs requested");
        q->sel[i] = idx;
        q->n_sel = i + 1;
    }
    return 0;
}

/* ---- /predict ------------------------------------------------------------------------- */

typedef struct rows_ctx {
    const char *model;
    const ms_value_info *vi;
    int n_in;
    ms_tensor *out;
    void **own;
    sv_perr *e;
    const char *body;             /* the request, for f32_exact */
    size_t len;
    int64_t nums;                 /* numbers read so far, in document order */
} rows_ctx;

/* 1 if d lies exactly halfway between two floats: then (float)d, a second rounding after
 * cJSON's strtod, may differ from the number's correctly rounded float32 (what
 * mc_parse_f32, the fast path and batch's CSV reader give; tests/fuzz/regress/predict). */
static int f32_midpoint(double d)
{
    float f = (float)d;
    if ((double)f == d || !isfinite(f)) return 0;
    float g = nextafterf(f, d > (double)f ? INFINITY : -INFINITY);
    return ((double)f + (double)g) * 0.5 == d; /* exact: two adjacent floats */
}

/* The k-th number of the JSON text (outside strings, in document order) as a correctly
 * rounded float32; -1 if there is none. Only for the rare f32_midpoint case, so cJSON's
 * path reads every number as the fast path does. */
static int f32_exact(const char *p, size_t len, int64_t k, float *out)
{
    const char *e = p + len;
    for (int64_t n = 0; p < e;) {
        if (*p == '"') {
            for (p++; p < e && *p != '"'; p++)
                if (*p == '\\' && p + 1 < e) p++;
            p++;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            const char *q = p;
            while (q < e && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E')) q++;
            if (n++ == k) return mc_parse_f32(p, (size_t)(q - p), out);
            p = q;
        } else p++;
    }
    return -1;
}

/* A row-major float32 [rows, width] input for the model's single input (converted to its
 * dtype when that is FP64). The model must take one rank-2 input. */
static int single_row_input(rows_ctx *rc, const char *route, int64_t *width)
{
    const ms_value_info *vi = rc->vi;
    if (rc->n_in != 1 || vi->ndim != 2 || (vi->dtype != MS_DTYPE_FLOAT && vi->dtype != MS_DTYPE_DOUBLE)) {
        char want[200];
        sv_perr_set(rc->e, 400, "%s needs a model with one float input [rows, features]; model '%s' has %d input(s), the first %s (use /v2/models/%s/infer)",
                     route, rc->model, rc->n_in, ms_value_info_format(vi, want, sizeof want), rc->model);
        return -1;
    }
    *width = vi->shape[1];
    return 0;
}

/* Fill one row of `width` numbers from a JSON array. */
static int fill_row(rows_ctx *rc, const cJSON *row, int64_t r_i, int64_t width, void *dst, ms_dtype dt, const char *what)
{
    const ms_value_info *vi = rc->vi;
    if (!cJSON_IsArray(row)) { sv_perr_set(rc->e, 400, "%s[%lld] must be an array of %lld numbers", what, (long long)r_i, (long long)width); return -1; }
    int64_t n = cJSON_GetArraySize(row);
    if (n != width) {
        sv_perr_set(rc->e, 400, "input '%s' expects %lld features per row, %s[%lld] has %lld", vi->name, (long long)width, what, (long long)r_i, (long long)n);
        return -1;
    }
    int64_t c = 0;
    for (const cJSON *e = row->child; e; e = e->next, c++) {
        if (cJSON_IsNull(e)) { /* a missing value: NaN, judged by the policy in run_job */
            if (dt == MS_DTYPE_FLOAT) ((float *)dst)[r_i * width + c] = NAN;
            else ((double *)dst)[r_i * width + c] = NAN;
            continue;
        }
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || (dt == MS_DTYPE_FLOAT && fabs(e->valuedouble) >= 0x1.ffffffp+127)) {
            sv_perr_set(rc->e, 400, "input '%s': %s[%lld][%lld] is not a finite %s number", vi->name, what, (long long)r_i, (long long)c,
                         dt == MS_DTYPE_FLOAT ? "float32" : "float64");
            return -1;
        }
        if (dt == MS_DTYPE_FLOAT) {
            float f = (float)e->valuedouble;
            if (f32_midpoint(e->valuedouble)) f32_exact(rc->body, rc->len, rc->nums, &f);
            ((float *)dst)[r_i * width + c] = f;
        } else ((double *)dst)[r_i * width + c] = e->valuedouble;
        rc->nums++;
    }
    return 0;
}

/* rows: a JSON array of row arrays (or a single row of numbers when `one_row`). */
static int rows_to_input(rows_ctx *rc, const cJSON *rows, int one_row, const char *what)
{
    int64_t width;
    if (single_row_input(rc, what, &width)) return -1;
    const ms_value_info *vi = rc->vi;
    int64_t n = one_row ? 1 : cJSON_GetArraySize(rows);
    if (n == 0) { sv_perr_set(rc->e, 400, "%s is empty", what); return -1; }
    if (width < 0) {
        const cJSON *first = one_row ? rows : rows->child;
        width = cJSON_IsArray(first) ? cJSON_GetArraySize(first) : 0;
    }
    size_t es = ms_dtype_size(vi->dtype);
    void *data = ms_malloc((size_t)(n * width) * es + 1);
    if (!data) { sv_perr_set(rc->e, 500, "out of memory"); return -1; }
    *rc->own = data;
    if (one_row) {
        if (fill_row(rc, rows, 0, width, data, vi->dtype, what)) return -1;
    } else {
        int64_t i = 0;
        for (const cJSON *row = rows->child; row; row = row->next, i++)
            if (fill_row(rc, row, i, width, data, vi->dtype, what)) return -1;
    }
    *rc->out = (ms_tensor){vi->dtype, 2, {n, width}, data};
    return 0;
}

int sv_predict_parse(const char *model, const ms_value_info *vi, int n_in, const char *body, size_t len,
                     ms_tensor *out, void **own, sv_perr *e)
{
    rows_ctx c = {model, vi, n_in, out, own, e, body, len, 0};
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) return sv_perr_set(e, 400, "malformed JSON: expected {\"features\": [..]} or [[..], ..]");
    int bad = 0;
    if (cJSON_IsArray(root)) {
        int one = root->child && !cJSON_IsArray(root->child);
        bad = rows_to_input(&c, root, one, one ? "the row" : "rows");
    } else if (cJSON_IsObject(root)) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "features");
        if (!cJSON_IsArray(f) || cJSON_GetArraySize(root) != 1) {
            sv_perr_set(e, 400, "expected {\"features\": [f0, f1, ...]} (one row) or [[..], ..] (rows)");
            bad = 1;
        } else {
            int rows = f->child && cJSON_IsArray(f->child);
            bad = rows_to_input(&c, f, !rows, "features");
        }
    } else {
        sv_perr_set(e, 400, "expected {\"features\": [f0, f1, ...]} (one row) or [[..], ..] (rows)");
        bad = 1;
    }
    cJSON_Delete(root);
    return bad ? -1 : 0;
}

static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* The end of the JSON number at p (RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?),
 * NULL if there is none: the fast path takes no spelling the JSON path would refuse (".5",
 * "+1", "1." were once read here and refused there; tests/fuzz/regress/predict). */
static const char *json_number(const char *p, const char *e)
{
#define DIGITS(p) while (p < e && *p >= '0' && *p <= '9') p++
    if (p < e && *p == '-') p++;
    if (p == e || *p < '0' || *p > '9') return NULL;
    if (*p == '0') p++;
    else DIGITS(p);
    if (p < e && *p == '.') {
        if (++p == e || *p < '0' || *p > '9') return NULL;
        DIGITS(p);
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-')) p++;
        if (p == e || *p < '0' || *p > '9') return NULL;
        DIGITS(p);
    }
    return p;
#undef DIGITS
}

static const char *fast_row(const char *p, const char *e, float *dst, int64_t width, int64_t *got)
{
    p = ws(p, e);
    if (p == e || *p != '[') return NULL;
    p++;
    int64_t n = 0;
    for (;;) {
        p = ws(p, e);
        const char *q = json_number(p, e);
        if (!q || n >= width) return NULL;
        float f;
        if (mc_parse_f32(p, (size_t)(q - p), &f) != 0 || !isfinite(f)) return NULL;
        dst[n++] = f;
        p = ws(q, e);
        if (p < e && *p == ',') { p++; continue; }
        if (p < e && *p == ']') { *got = n; return p + 1; }
        return NULL;
    }
}

/* The common /predict bodies, {"features": [n, ...]}, {"features": [[..], ..]} and
 * [[..], ..], parsed in one pass straight into the input tensor: no cJSON tree (a node and a
 * strtod per number were two thirds of the server's own time per request on a 256-feature
 * row). Numbers are correctly rounded float32 (mc_parse_f32). Returns 1 when the body was
 * parsed, 0 when it is anything else (other shapes, other dtypes, malformed, non-finite): the
 * general cJSON path then answers, with its precise error messages. */
int sv_predict_fast(const ms_value_info *vi, int n_in, const char *body, size_t len, ms_tensor *out)
{
    if (n_in != 1 || vi->ndim != 2 || vi->dtype != MS_DTYPE_FLOAT || vi->shape[1] <= 0) return 0;
    int64_t width = vi->shape[1];
    const char *p = ws(body, body + len), *e = body + len;
    int obj = 0;
    if (p < e && *p == '{') {
        static const char key[] = "\"features\"";
        p = ws(p + 1, e);
        if ((size_t)(e - p) < sizeof key - 1 || memcmp(p, key, sizeof key - 1) != 0) return 0;
        p = ws(p + sizeof key - 1, e);
        if (p == e || *p != ':') return 0;
        p = ws(p + 1, e);
        obj = 1;
    }
    if (p == e || *p != '[') return 0;
    const char *q = ws(p + 1, e);
    int rows_form = q < e && *q == '[';
    if (!obj && !rows_form) return 0; /* a bare row: the general path */
    int64_t max_rows = 1;
    if (rows_form) {
        max_rows = 0;
        for (const char *c = q; c < e; c++) max_rows += *c == ']';
    }
    float *data = ms_malloc((size_t)(max_rows * width) * sizeof(float) + 1);
    if (!data) return 0;
    int64_t rows = 0, got;
    if (!rows_form) {
        if (!(p = fast_row(p, e, data, width, &got)) || got != width) goto no;
        rows = 1;
    } else {
        p = q;
        for (;;) {
            if (rows >= max_rows || !(p = fast_row(p, e, data + rows * width, width, &got)) || got != width) goto no;
            rows++;
            p = ws(p, e);
            if (p < e && *p == ',') { p++; continue; }
            if (p < e && *p == ']') { p++; break; }
            goto no;
        }
    }
    p = ws(p, e);
    if (obj) {
        if (p == e || *p != '}') goto no;
        p = ws(p + 1, e);
    }
    if (p != e) goto no;
    *out = (ms_tensor){MS_DTYPE_FLOAT, 2, {rows, width}, data};
    return 1;
no:
    ms_free(data);
    return 0;
}
