/* codec_json.c: Open Inference Protocol JSON. Parsing walks a cJSON tree in two passes over
 * "data" (measure the nesting, then convert into one ms_malloc block of the right type);
 * writing appends straight into an mc_buf. */
#include "codec/codec_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; ms_dtype dtype; } oip_types[] = {
    {"BOOL", MS_DTYPE_BOOL},     {"UINT8", MS_DTYPE_UINT8},   {"UINT16", MS_DTYPE_UINT16},
    {"UINT32", MS_DTYPE_UINT32}, {"UINT64", MS_DTYPE_UINT64}, {"INT8", MS_DTYPE_INT8},
    {"INT16", MS_DTYPE_INT16},   {"INT32", MS_DTYPE_INT32},   {"INT64", MS_DTYPE_INT64},
    {"FP16", MS_DTYPE_FLOAT16},  {"FP32", MS_DTYPE_FLOAT},    {"FP64", MS_DTYPE_DOUBLE},
    {"BYTES", MS_DTYPE_STRING},
};

const char *mc_oip_dtype_name(ms_dtype t)
{
    for (size_t i = 0; i < sizeof oip_types / sizeof oip_types[0]; i++)
        if (oip_types[i].dtype == t) return oip_types[i].name;
    return NULL;
}

ms_dtype mc_oip_dtype_parse(const char *s)
{
    for (size_t i = 0; i < sizeof oip_types / sizeof oip_types[0]; i++)
        if (strcmp(oip_types[i].name, s) == 0) return oip_types[i].dtype;
    return MS_DTYPE_UNDEFINED;
}

/* ======================================================================================== */
/* Parsing                                                                                  */
/* ======================================================================================== */

/* 2^53: the largest magnitude below which every integer is exact in a double. */
#define EXACT_INT_LIMIT 9007199254740992.0

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Reject keys outside `allowed` (NULL-terminated) and duplicate keys: cJSON keeps both
 * copies of a duplicate and lookups see only the first, which would hide a client bug. */
static ms_status check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                            ms_error *err)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(c->string, *a) == 0) ok = 1;
        if (!ok) return bs_fail(err, MS_ERR_INVALID, "%s: unknown key \"%s\"", where, c->string);
        for (const cJSON *d = c->next; d; d = d->next)
            if (strcmp(c->string, d->string) == 0)
                return bs_fail(err, MS_ERR_INVALID, "%s: duplicate key \"%s\"", where, c->string);
    }
    return MS_OK;
}

/* ---- data: nesting ---------------------------------------------------------------------- */

typedef struct data_ctx {
    const char *name; /* the input's name, for messages */
    ms_dtype dtype;
    unsigned char *dst;
    int64_t idx; /* the next flat element */
    ms_error *err;
} data_ctx;

/* Measure the nesting along the first elements: [[1,2,3],[4,5,6]] -> {2,3}. */
static int measure(const cJSON *a, int64_t *dims, int max)
{
    int n = 0;
    while (cJSON_IsArray(a)) {
        if (n == max) return -1;
        dims[n++] = cJSON_GetArraySize(a);
        a = a->child;
        if (!a) break;
    }
    return n;
}

/* Every array at depth d must have dims[d] children, leaves exactly at depth n. */
static int rectangular(const cJSON *a, const int64_t *dims, int d, int n)
{
    if (d == n) return !cJSON_IsArray(a);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != dims[d]) return 0;
    for (const cJSON *c = a->child; c; c = c->next)
        if (!rectangular(c, dims, d + 1, n)) return 0;
    return 1;
}

/* ---- data: values ----------------------------------------------------------------------- */

static ms_status bad_value(data_ctx *c, const cJSON *v, const char *why)
{
    const char *dt = mc_oip_dtype_name(c->dtype);
    if (cJSON_IsString(v))
        return bs_fail(c->err, MS_ERR_INVALID,
                       "input '%s': data[%lld] is the string \"%.40s\", not a number; JSON has "
                       "no NaN or Infinity and the protocol defines no spelling for them, so "
                       "non-finite values cannot be sent as JSON (use a .npy file)",
                       c->name, (long long)c->idx, v->valuestring);
    if (cJSON_IsNull(v))
        return bs_fail(c->err, MS_ERR_INVALID,
                       "input '%s': data[%lld] is null, and %s has no missing value", c->name,
                       (long long)c->idx, dt ? dt : "this type");
    if (cJSON_IsNumber(v))
        return bs_fail(c->err, MS_ERR_INVALID, "input '%s': data[%lld] = %.17g %s for %s",
                       c->name, (long long)c->idx, v->valuedouble, why, dt);
    return bs_fail(c->err, MS_ERR_INVALID, "input '%s': data[%lld] %s for %s", c->name,
                   (long long)c->idx, why, dt);
}

static ms_status store_int(data_ctx *c, const cJSON *v, double lo, double hi)
{
    if (!cJSON_IsNumber(v)) return bad_value(c, v, "is not a number");
    double x = v->valuedouble;
    if (!isfinite(x) || x != floor(x)) return bad_value(c, v, "is not an integer");
    if (x < lo || x > hi) return bad_value(c, v, "is out of range");
    if (fabs(x) > EXACT_INT_LIMIT)
        return bad_value(c, v, "is beyond +-2^53, which JSON numbers cannot carry exactly");
    int64_t i = c->idx;
    switch (c->dtype) {
    case MS_DTYPE_UINT8: ((uint8_t *)c->dst)[i] = (uint8_t)x; break;
    case MS_DTYPE_INT8: ((int8_t *)c->dst)[i] = (int8_t)x; break;
    case MS_DTYPE_UINT16: ((uint16_t *)c->dst)[i] = (uint16_t)x; break;
    case MS_DTYPE_INT16: ((int16_t *)c->dst)[i] = (int16_t)x; break;
    case MS_DTYPE_UINT32: ((uint32_t *)c->dst)[i] = (uint32_t)x; break;
    case MS_DTYPE_INT32: ((int32_t *)c->dst)[i] = (int32_t)x; break;
    case MS_DTYPE_UINT64: ((uint64_t *)c->dst)[i] = (uint64_t)x; break;
    default: ((int64_t *)c->dst)[i] = (int64_t)x; break;
    }
    return MS_OK;
}

static ms_status store_value(data_ctx *c, const cJSON *v)
{
    switch (c->dtype) {
    case MS_DTYPE_FLOAT:
        /* null is JSON's missing value: NaN here, accepted or refused by the caller's policy
         * (src/predict/pd_check.h), like an empty CSV cell or SQL NULL */
        if (cJSON_IsNull(v)) {
            ((float *)c->dst)[c->idx] = NAN;
            return MS_OK;
        }
        if (!cJSON_IsNumber(v)) return bad_value(c, v, "is not a number");
        /* cJSON turns 1e999 into inf: out of range, like 1e39 is for float. The bound is
         * the midpoint between FLT_MAX and 2^128: below it a double rounds to a finite float
         * (so FLT_MAX printed with 9 digits, 3.40282347e+38, reads back). */
        if (!isfinite(v->valuedouble) || fabs(v->valuedouble) >= 0x1.ffffffp+127)
            return bad_value(c, v, "is out of range");
        ((float *)c->dst)[c->idx] = (float)v->valuedouble;
        return MS_OK;
    case MS_DTYPE_DOUBLE:
        if (cJSON_IsNull(v)) {
            ((double *)c->dst)[c->idx] = NAN;
            return MS_OK;
        }
        if (!cJSON_IsNumber(v)) return bad_value(c, v, "is not a number");
        if (!isfinite(v->valuedouble)) return bad_value(c, v, "is out of range");
        ((double *)c->dst)[c->idx] = v->valuedouble;
        return MS_OK;
    case MS_DTYPE_BOOL:
        if (cJSON_IsBool(v)) {
            c->dst[c->idx] = cJSON_IsTrue(v) ? 1 : 0;
            return MS_OK;
        }
        if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
            c->dst[c->idx] = v->valuedouble == 1;
            return MS_OK;
        }
        return bad_value(c, v, "is not true, false, 0 or 1");
    case MS_DTYPE_UINT8: return store_int(c, v, 0, 255);
    case MS_DTYPE_INT8: return store_int(c, v, -128, 127);
    case MS_DTYPE_UINT16: return store_int(c, v, 0, 65535);
    case MS_DTYPE_INT16: return store_int(c, v, -32768, 32767);
    case MS_DTYPE_UINT32: return store_int(c, v, 0, 4294967295.0);
    case MS_DTYPE_INT32: return store_int(c, v, -2147483648.0, 2147483647.0);
    case MS_DTYPE_UINT64: return store_int(c, v, 0, 18446744073709551615.0);
    default: return store_int(c, v, -9223372036854775808.0, 9223372036854775807.0);
    }
}

static ms_status convert(data_ctx *c, const cJSON *a)
{
    if (!cJSON_IsArray(a)) {
        ms_status st = store_value(c, a);
        c->idx++;
        return st;
    }
    for (const cJSON *e = a->child; e; e = e->next) {
        ms_status st = convert(c, e);
        if (st != MS_OK) return st;
    }
    return MS_OK;
}

/* ---- one tensor object ------------------------------------------------------------------ */

static ms_status parse_shape(const cJSON *s, const char *name, ms_tensor *t, int64_t *numel,
                             ms_error *err)
{
    if (!cJSON_IsArray(s))
        return bs_fail(err, MS_ERR_INVALID, "input '%s': \"shape\" must be an array of integers", name);
    int n = cJSON_GetArraySize(s);
    if (n > MS_MAX_DIMS)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "input '%s': %d dimensions (at most %d supported)",
                       name, n, MS_MAX_DIMS);
    int64_t total = 1;
    int has_zero = 0, i = 0;
    for (const cJSON *d = s->child; d; d = d->next, i++) {
        double x = cJSON_IsNumber(d) ? d->valuedouble : -1;
        if (!(x >= 0 && x == floor(x) && x <= EXACT_INT_LIMIT))
            return bs_fail(err, MS_ERR_INVALID,
                           "input '%s': shape[%d] is not a non-negative integer", name, i);
        t->shape[i] = (int64_t)x;
        /* Overflow-safe product; zeros are skipped so the verdict does not depend on order. */
        if (t->shape[i] == 0) has_zero = 1;
        else if (total > INT64_MAX / t->shape[i])
            return bs_fail(err, MS_ERR_INVALID, "input '%s': shape is too large", name);
        else total *= t->shape[i];
    }
    t->ndim = n;
    *numel = has_zero ? 0 : total;
    return MS_OK;
}

static void shape_str(char *dst, size_t cap, const int64_t *dims, int n)
{
    size_t k = (size_t)snprintf(dst, cap, "[");
    for (int i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(dst + k, cap - k, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (k < cap) snprintf(dst + k, cap - k, "]");
}

static ms_status parse_tensor(const cJSON *o, int index, mc_named_tensor *out, ms_error *err)
{
    static const char *const keys[] = {"name", "shape", "datatype", "data", "parameters", NULL};
    char where[48];
    snprintf(where, sizeof where, "inputs[%d]", index);
    if (!cJSON_IsObject(o)) return bs_fail(err, MS_ERR_INVALID, "%s is not an object", where);
    ms_status st = check_keys(o, keys, where, err);
    if (st != MS_OK) return st;
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(o, "data");
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(o, "parameters");
    if (!cJSON_IsString(jn)) return bs_fail(err, MS_ERR_INVALID, "%s: \"name\" must be a string", where);
    const char *name = jn->valuestring;
    if (!js) return bs_fail(err, MS_ERR_INVALID, "input '%s': missing \"shape\"", name);
    if (!cJSON_IsString(jt)) return bs_fail(err, MS_ERR_INVALID, "input '%s': \"datatype\" must be a string", name);
    if (!jd) return bs_fail(err, MS_ERR_INVALID, "input '%s': missing \"data\"", name);
    if (jp && !cJSON_IsObject(jp))
        return bs_fail(err, MS_ERR_INVALID, "input '%s': \"parameters\" must be an object", name);

    ms_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = mc_oip_dtype_parse(jt->valuestring);
    if (t.dtype == MS_DTYPE_UNDEFINED)
        return bs_fail(err, MS_ERR_INVALID,
                       "input '%s': unknown datatype \"%.32s\" (expected BOOL, UINT8, UINT16, UINT32, "
                       "UINT64, INT8, INT16, INT32, INT64, FP32 or FP64)", name, jt->valuestring);
    if (t.dtype == MS_DTYPE_FLOAT16 || t.dtype == MS_DTYPE_STRING)
        return bs_fail(err, MS_ERR_UNSUPPORTED,
                       "input '%s': datatype %s is not supported in JSON (use a .npy or .pb file)",
                       name, jt->valuestring);
    int64_t numel = 0;
    if ((st = parse_shape(js, name, &t, &numel, err)) != MS_OK) return st;

    /* A scalar may come bare ("data": 5) or wrapped ("data": [5]). */
    int64_t nest[MS_MAX_DIMS + 1];
    int nd = measure(jd, nest, MS_MAX_DIMS + 1);
    if (nd < 0 || !rectangular(jd, nest, 0, nd))
        return bs_fail(err, MS_ERR_INVALID,
                       "input '%s': \"data\" is not a rectangular (non-ragged) array", name);
    int64_t count = 1;
    for (int i = 0; i < nd; i++) count *= nest[i]; /* bounded by the document's size */
    if (count != numel) {
        char sh[160];
        shape_str(sh, sizeof sh, t.shape, t.ndim);
        return bs_fail(err, MS_ERR_INVALID,
                       "input '%s': shape %s needs %lld elements but \"data\" has %lld", name, sh,
                       (long long)numel, (long long)count);
    }
    size_t bytes = (size_t)numel * ms_dtype_size(t.dtype);
    t.data = ms_malloc(bytes ? bytes : 1);
    out->name = dupstr(name);
    if (!t.data || !out->name) {
        ms_free(t.data);
        free(out->name);
        out->name = NULL;
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    data_ctx c = {name, t.dtype, t.data, 0, err};
    if ((st = convert(&c, jd)) != MS_OK) {
        ms_free(t.data);
        free(out->name);
        out->name = NULL;
        return st;
    }
    out->t = t;
    return MS_OK;
}

/* ---- request ---------------------------------------------------------------------------- */

void mc_named_tensor_free(mc_named_tensor *t)
{
    if (!t) return;
    free(t->name);
    ms_free(t->t.data);
    t->name = NULL;
    t->t.data = NULL;
}

void mc_oip_request_free(mc_oip_request *req)
{
    if (!req) return;
    for (int i = 0; i < req->n_inputs; i++) mc_named_tensor_free(&req->inputs[i]);
    for (int i = 0; i < req->n_outputs; i++) free(req->outputs[i]);
    free(req->inputs);
    free(req->outputs);
    free(req->id);
    memset(req, 0, sizeof *req);
}

static ms_status parse_outputs(const cJSON *jo, mc_oip_request *req, ms_error *err)
{
    static const char *const keys[] = {"name", "parameters", NULL};
    if (!cJSON_IsArray(jo)) return bs_fail(err, MS_ERR_INVALID, "\"outputs\" must be an array");
    int n = cJSON_GetArraySize(jo);
    if (n == 0) return MS_OK;
    req->outputs = calloc((size_t)n, sizeof *req->outputs);
    if (!req->outputs) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int i = 0;
    for (const cJSON *o = jo->child; o; o = o->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "outputs[%d]", i);
        if (!cJSON_IsObject(o)) return bs_fail(err, MS_ERR_INVALID, "%s is not an object", where);
        ms_status st = check_keys(o, keys, where, err);
        if (st != MS_OK) return st;
        const cJSON *jn = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (!cJSON_IsString(jn))
            return bs_fail(err, MS_ERR_INVALID, "%s: \"name\" must be a string", where);
        if (!(req->outputs[i] = dupstr(jn->valuestring)))
            return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        req->n_outputs = i + 1;
    }
    return MS_OK;
}

static ms_status parse_doc(const cJSON *root, int accept_tensor, mc_oip_request *req,
                           ms_error *err)
{
    static const char *const keys[] = {"id", "parameters", "inputs", "outputs", NULL};
    if (!cJSON_IsObject(root)) return bs_fail(err, MS_ERR_INVALID, "the request is not a JSON object");
    if (accept_tensor && !cJSON_GetObjectItemCaseSensitive(root, "inputs") &&
        cJSON_GetObjectItemCaseSensitive(root, "datatype")) {
        req->inputs = calloc(1, sizeof *req->inputs);
        if (!req->inputs) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        ms_status st = parse_tensor(root, 0, &req->inputs[0], err);
        if (st == MS_OK) req->n_inputs = 1, req->bare_tensor = 1;
        return st;
    }
    ms_status st = check_keys(root, keys, "request", err);
    if (st != MS_OK) return st;
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(root, "id");
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (jid) {
        if (!cJSON_IsString(jid)) return bs_fail(err, MS_ERR_INVALID, "\"id\" must be a string");
        if (!(req->id = dupstr(jid->valuestring))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    if (jp && !cJSON_IsObject(jp)) return bs_fail(err, MS_ERR_INVALID, "\"parameters\" must be an object");
    if (!cJSON_IsArray(ji)) return bs_fail(err, MS_ERR_INVALID, "the request needs an \"inputs\" array");
    int n = cJSON_GetArraySize(ji);
    if (n > 0 && !(req->inputs = calloc((size_t)n, sizeof *req->inputs)))
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int i = 0;
    for (const cJSON *o = ji->child; o; o = o->next, i++) {
        if ((st = parse_tensor(o, i, &req->inputs[i], err)) != MS_OK) return st;
        req->n_inputs = i + 1;
        for (int j = 0; j < i; j++)
            if (strcmp(req->inputs[j].name, req->inputs[i].name) == 0)
                return bs_fail(err, MS_ERR_INVALID, "input '%s' appears twice", req->inputs[i].name);
    }
    if (jo && (st = parse_outputs(jo, req, err)) != MS_OK) return st;
    return MS_OK;
}

static ms_status parse_common(const char *json, size_t len, int accept_tensor,
                              mc_oip_request *req, ms_error *err)
{
    memset(req, 0, sizeof *req);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t off = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        return bs_fail(err, MS_ERR_INVALID, "malformed JSON near byte %zu", off);
    }
    /* Only whitespace may follow the document. */
    for (const char *p = end; p && p < json + len; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t' && *p != 0) {
            cJSON_Delete(root);
            return bs_fail(err, MS_ERR_INVALID, "unexpected text after the JSON document (byte %zu)",
                           (size_t)(p - json));
        }
    ms_status st = parse_doc(root, accept_tensor, req, err);
    cJSON_Delete(root);
    if (st != MS_OK) mc_oip_request_free(req);
    return st;
}

ms_status mc_json_parse_request(const char *json, size_t len, mc_oip_request *req, ms_error *err)
{
    return parse_common(json, len, 0, req, err);
}

ms_status mc_json_parse_inputs(const char *json, size_t len, mc_oip_request *req, ms_error *err)
{
    return parse_common(json, len, 1, req, err);
}
