/* ms_onnx.c: reads an ONNX ModelProto (wire format, via ms_pb) into an ms_model.
 * Field numbers are those of onnx.proto (IR version 3 to 8). Weights are referenced in the
 * caller's buffer when their layout allows it; everything else goes into the model's pool. */
#include "ms_arity.h"
#include "ms_fail.h"
#include "ms_model.h"
#include "ms_pb.h"

#include <stdio.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mlship reads ONNX tensor data in place and needs a little-endian target"
#endif

#define MALFORMED(err, what) FAIL(err, MS_ERR_INVALID, "malformed model: %s", what)

/* Largest tensor we accept, in bytes: far above any real model, far below overflow. */
#define MS_MAX_TENSOR_BYTES ((uint64_t)1 << 40)

/* ==== TensorProto ======================================================================== */

enum {
    TP_DIMS = 1, TP_DATA_TYPE = 2, TP_SEGMENT = 3, TP_FLOAT = 4, TP_INT32 = 5, TP_STRING = 6,
    TP_INT64 = 7, TP_NAME = 8, TP_RAW = 9, TP_DOUBLE = 10, TP_UINT64 = 11, TP_EXTERNAL = 13,
    TP_LOCATION = 14,
};

typedef struct tp_scan {
    int ndim;
    int64_t dims[MS_MAX_DIMS];
    int64_t dtype;
    const uint8_t *name, *raw;
    size_t name_len, raw_len;
    int has_raw, external, segment;
    int64_t count[16];   /* elements in each typed field, by field number */
    int occurrences[16]; /* occurrences of each typed field */
    const uint8_t *packed;  /* the single packed occurrence of a fixed-size field */
    size_t packed_len;
} tp_scan;

static ms_status tp_add_dims(tp_scan *s, const ms_pb_field *f, ms_error *err)
{
    ms_pb r = ms_pb_sub(f);
    uint64_t v = f->v;
    do {
        if (f->wire == MS_PB_LEN && ms_pb_varint(&r, &v) < 0) return MALFORMED(err, "tensor dims");
        if (s->ndim == MS_MAX_DIMS)
            return FAIL(err, MS_ERR_UNSUPPORTED, "tensor has more than %d dimensions", MS_MAX_DIMS);
        if ((int64_t)v < 0) return FAIL(err, MS_ERR_INVALID, "tensor has a negative dimension");
        s->dims[s->ndim++] = (int64_t)v;
    } while (f->wire == MS_PB_LEN && r.p < r.end);
    return MS_OK;
}

static ms_status tp_scan_fields(const uint8_t *buf, size_t len, tp_scan *s, ms_error *err)
{
    memset(s, 0, sizeof *s);
    ms_pb r = ms_pb_init(buf, len);
    ms_pb_field f;
    int rc;
    while ((rc = ms_pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case TP_DIMS: {
            ms_status st = tp_add_dims(s, &f, err);
            if (st) return st;
            break;
        }
        case TP_DATA_TYPE: s->dtype = (int64_t)f.v; break;
        case TP_SEGMENT: s->segment = 1; break;
        case TP_NAME: s->name = f.data; s->name_len = f.len; break;
        case TP_RAW: s->raw = f.data; s->raw_len = f.len; s->has_raw = 1; break;
        case TP_EXTERNAL: s->external = 1; break;
        case TP_LOCATION: if (f.v == 1) s->external = 1; break;
        case TP_FLOAT: case TP_INT32: case TP_STRING: case TP_INT64: case TP_DOUBLE: case TP_UINT64: {
            int fixed = f.num == TP_FLOAT ? 4 : f.num == TP_DOUBLE ? 8 : 0;
            int64_t n = f.num != TP_STRING ? ms_pb_count(&f, fixed) : f.wire == MS_PB_LEN ? 1 : -1;
            if (n < 0) return MALFORMED(err, "packed tensor data");
            s->count[f.num] += n;
            if (s->occurrences[f.num]++ == 0 && f.wire == MS_PB_LEN && fixed) {
                s->packed = f.data;
                s->packed_len = f.len;
            }
            break;
        }
        default: break;
        }
    }
    return rc < 0 ? MALFORMED(err, "truncated or corrupt tensor") : MS_OK;
}

/* Which typed field holds a dtype's values when raw_data is absent. */
static int tp_field_for(ms_dtype t)
{
    switch (t) {
    case MS_DTYPE_FLOAT: return TP_FLOAT;
    case MS_DTYPE_DOUBLE: return TP_DOUBLE;
    case MS_DTYPE_INT64: return TP_INT64;
    case MS_DTYPE_UINT32: case MS_DTYPE_UINT64: return TP_UINT64;
    case MS_DTYPE_STRING: return TP_STRING;
    default: return TP_INT32; /* int32, int16, int8, uint16, uint8, bool, float16 */
    }
}

static void *tp_alloc(ms_pool *pool, size_t n)
{
    return pool ? ms_pool_alloc(pool, n, 64) : ms_malloc(n);
}

/* Store one integer from a varint field into element i of a dtype. */
static void tp_store_int(void *dst, ms_dtype t, int64_t i, uint64_t v)
{
    switch (ms_dtype_size(t)) {
    case 1: ((uint8_t *)dst)[i] = (uint8_t)v; break;
    case 2: ((uint16_t *)dst)[i] = (uint16_t)v; break;
    case 4: ((uint32_t *)dst)[i] = (uint32_t)v; break;
    default: ((uint64_t *)dst)[i] = v; break;
    }
}

/* Copy the typed-field values (possibly in several occurrences, packed or not). */
static ms_status tp_copy_typed(const uint8_t *buf, size_t len, int field, ms_dtype t, void *dst,
                               ms_error *err)
{
    ms_pb r = ms_pb_init(buf, len);
    ms_pb_field f;
    int64_t i = 0;
    size_t esz = ms_dtype_size(t);
    while (ms_pb_next(&r, &f) > 0) {
        if ((int)f.num != field) continue;
        if (field == TP_FLOAT || field == TP_DOUBLE) {
            if (f.wire == MS_PB_LEN) {
                memcpy((uint8_t *)dst + i * (int64_t)esz, f.data, f.len);
                i += (int64_t)(f.len / esz);
            } else {
                memcpy((uint8_t *)dst + i * (int64_t)esz, &f.v, esz); /* little-endian */
                i++;
            }
            continue;
        }
        ms_pb sub = ms_pb_sub(&f);
        uint64_t v = f.v;
        do {
            if (f.wire == MS_PB_LEN && ms_pb_varint(&sub, &v) < 0)
                return MALFORMED(err, "packed tensor data");
            tp_store_int(dst, t, i++, v);
        } while (f.wire == MS_PB_LEN && sub.p < sub.end);
    }
    return MS_OK;
}

static ms_status tp_copy_strings(const uint8_t *buf, size_t len, int64_t n, ms_pool *pool,
                                 ms_tensor *out, ms_error *err)
{
    size_t bytes = 0;
    ms_pb r = ms_pb_init(buf, len);
    ms_pb_field f;
    while (ms_pb_next(&r, &f) > 0)
        if (f.num == TP_STRING) bytes += f.len + 1;
    const char **ptrs = tp_alloc(pool, (size_t)n * sizeof(char *) + bytes);
    if (!ptrs) return FAIL(err, MS_ERR_RUNTIME, "out of memory");
    char *text = (char *)(ptrs + n);
    int64_t i = 0;
    r = ms_pb_init(buf, len);
    while (ms_pb_next(&r, &f) > 0) {
        if (f.num != TP_STRING || f.wire != MS_PB_LEN) continue;
        memcpy(text, f.data, f.len);
        text[f.len] = 0;
        ptrs[i++] = text;
        text += f.len + 1;
    }
    out->data = (void *)ptrs;
    return MS_OK;
}

static ms_status tp_check(const tp_scan *s, ms_tensor *out, uint64_t *bytes, ms_error *err)
{
    if (s->external)
        return FAIL(err, MS_ERR_UNSUPPORTED,
                    "tensor '%.*s' stores its data in an external file: external data is not "
                    "supported yet (re-save the model with all tensors inside)",
                    (int)s->name_len, (const char *)s->name);
    if (s->segment) return FAIL(err, MS_ERR_UNSUPPORTED, "segmented tensors are not supported");
    out->dtype = (ms_dtype)s->dtype;
    size_t esz = s->dtype > 0 && s->dtype <= MS_DTYPE_UINT64 ? ms_dtype_size(out->dtype) : 0;
    if (!esz)
        return FAIL(err, s->dtype == 0 ? MS_ERR_INVALID : MS_ERR_UNSUPPORTED,
                    "tensor '%.*s' has element type %lld, which is %s", (int)s->name_len,
                    (const char *)s->name, (long long)s->dtype,
                    s->dtype == 0 ? "undefined" : "not supported");
    out->ndim = s->ndim;
    uint64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        out->shape[i] = s->dims[i];
        if (s->dims[i] && n > MS_MAX_TENSOR_BYTES / (uint64_t)s->dims[i])
            return FAIL(err, MS_ERR_INVALID, "tensor '%.*s' is impossibly large",
                        (int)s->name_len, (const char *)s->name);
        n *= (uint64_t)s->dims[i];
    }
    if (n * esz > MS_MAX_TENSOR_BYTES)
        return FAIL(err, MS_ERR_INVALID, "tensor '%.*s' is impossibly large", (int)s->name_len,
                    (const char *)s->name);
    *bytes = n * esz;
    return MS_OK;
}

ms_status ms_tensorpb_decode(const uint8_t *buf, size_t len, ms_pool *pool, ms_tensor *out,
                             const char **name, size_t *name_len, ms_error *err)
{
    tp_scan s;
    uint64_t bytes;
    ms_status st = tp_scan_fields(buf, len, &s, err);
    if (!st) st = tp_check(&s, out, &bytes, err);
    if (st) return st;
    if (name) *name = (const char *)s.name, *name_len = s.name_len;
    int64_t n = ms_tensor_numel(out);
    size_t esz = ms_dtype_size(out->dtype);
    const char *nm = s.name ? (const char *)s.name : "";
    int nl = (int)s.name_len;

    if (out->dtype == MS_DTYPE_STRING) {
        if (s.count[TP_STRING] != n)
            return FAIL(err, MS_ERR_INVALID, "tensor '%.*s' holds %lld strings, its shape says %lld",
                        nl, nm, (long long)s.count[TP_STRING], (long long)n);
        return tp_copy_strings(buf, len, n, pool, out, err);
    }
    if (s.has_raw) {
        if (s.raw_len != bytes)
            return FAIL(err, MS_ERR_INVALID,
                        "tensor '%.*s' has %zu bytes of raw_data, its shape %s needs %llu", nl, nm,
                        s.raw_len, ms_dtype_name(out->dtype), (unsigned long long)bytes);
        if (pool && ((uintptr_t)s.raw % esz) == 0) {
            out->data = (void *)s.raw; /* in place: no copy of the weights */
            return MS_OK;
        }
        if (!(out->data = tp_alloc(pool, (size_t)bytes))) return FAIL(err, MS_ERR_RUNTIME, "out of memory");
        if (bytes) memcpy(out->data, s.raw, (size_t)bytes);
        return MS_OK;
    }
    int field = tp_field_for(out->dtype);
    if (s.count[field] != n)
        return FAIL(err, MS_ERR_INVALID, "tensor '%.*s' holds %lld values, its shape says %lld", nl,
                    nm, (long long)s.count[field], (long long)n);
    if (pool && s.occurrences[field] == 1 && s.packed && s.packed_len == bytes &&
        ((uintptr_t)s.packed % esz) == 0 && (field == TP_FLOAT || field == TP_DOUBLE)) {
        out->data = (void *)s.packed;
        return MS_OK;
    }
    if (!(out->data = tp_alloc(pool, (size_t)bytes))) return FAIL(err, MS_ERR_RUNTIME, "out of memory");
    st = tp_copy_typed(buf, len, field, out->dtype, out->data, err);
    if (st && !pool) {
        ms_free(out->data);
        out->data = NULL; /* the caller must not see (and free) a dangling block */
    }
    return st;
}

ms_status ms_tensor_decode_pb(const void *buf, size_t len, ms_tensor *out, char *name,
                              size_t name_cap, ms_error *err)
{
    const char *nm = NULL;
    size_t nl = 0;
    memset(out, 0, sizeof *out);
    ms_status st = ms_tensorpb_decode(buf, len, NULL, out, &nm, &nl, err);
    if (st == MS_OK && name && name_cap) {
        if (nl >= name_cap) nl = name_cap - 1;
        if (nl) memcpy(name, nm, nl);
        name[nl] = 0;
    }
    return st;
}

/* ==== graph ============================================================================= */

enum { MP_IR = 1, MP_PRODUCER = 2, MP_PRODUCER_VERSION = 3, MP_GRAPH = 7, MP_OPSET = 8,
       MP_FUNCTIONS = 25 };
enum { GP_NODE = 1, GP_INIT = 5, GP_INPUT = 11, GP_OUTPUT = 12, GP_SPARSE_INIT = 15 };
enum { NP_INPUT = 1, NP_OUTPUT = 2, NP_NAME = 3, NP_OP = 4, NP_ATTR = 5, NP_DOMAIN = 7 };
enum { AP_NAME = 1, AP_F = 2, AP_I = 3, AP_S = 4, AP_T = 5, AP_G = 6, AP_FLOATS = 7, AP_INTS = 8,
       AP_STRINGS = 9, AP_TENSORS = 10, AP_GRAPHS = 11, AP_TYPE = 20, AP_REF = 21 };

/* Name -> value id, open addressing; lives only while loading. */
typedef struct name_map {
    int32_t *slots;
    uint32_t mask;
} name_map;

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

typedef struct loader {
    ms_model *m;
    ms_error *err;
    name_map map;
    int32_t cap_values;
} loader;

static int32_t map_find(loader *L, const char *name)
{
    for (uint32_t i = hash_str(name) & L->map.mask;; i = (i + 1) & L->map.mask) {
        int32_t id = L->map.slots[i];
        if (id < 0) return -1;
        if (!strcmp(L->m->values[id].name, name)) return id;
    }
}

static void map_put(loader *L, int32_t id)
{
    uint32_t i = hash_str(L->m->values[id].name) & L->map.mask;
    while (L->map.slots[i] >= 0) i = (i + 1) & L->map.mask;
    L->map.slots[i] = id;
}

static ms_status add_value(loader *L, const char *name, ms_value_kind kind, int32_t *id)
{
    if (map_find(L, name) >= 0)
        return FAIL(L->err, MS_ERR_INVALID, "invalid model: value '%s' is defined twice", name);
    if (L->m->n_values >= L->cap_values)
        return FAIL(L->err, MS_ERR_INVALID, "invalid model: more values than declared");
    *id = L->m->n_values++;
    ms_value *v = &L->m->values[*id];
    v->name = name;
    v->kind = kind;
    v->producer = -1;
    map_put(L, *id);
    return MS_OK;
}

static const char *pool_str(loader *L, const ms_pb_field *f)
{
    return ms_pool_strndup(&L->m->pool, (const char *)f->data, f->len);
}

/* ---- attributes ------------------------------------------------------------------------ */

/* The list elements, counted by attr_read's pass (repeated fields may come packed or one per
 * occurrence), copied into the model's pool in a second pass. */
static ms_status attr_read_list(loader *L, const uint8_t *buf, size_t len, ms_attr *a, int64_t nf,
                                int64_t ni, int64_t ns)
{
    ms_pb r;
    ms_pb_field f;
    if (nf > INT32_MAX || ni > INT32_MAX || ns > INT32_MAX) return MALFORMED(L->err, "attribute list");
    float *fl = ms_pool_alloc(&L->m->pool, (size_t)nf * 4, 8);
    int64_t *in = ms_pool_alloc(&L->m->pool, (size_t)ni * 8, 8);
    const char **st = ms_pool_alloc(&L->m->pool, (size_t)ns * sizeof(char *), 8);
    if (!fl || !in || !st) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
    int64_t kf = 0, ki = 0, ks = 0;
    r = ms_pb_init(buf, len);
    while (ms_pb_next(&r, &f) > 0) {
        if (f.num == AP_FLOATS && f.wire == MS_PB_LEN) {
            memcpy(fl + kf, f.data, f.len);
            kf += (int64_t)f.len / 4;
        } else if (f.num == AP_FLOATS) {
            uint32_t bits = (uint32_t)f.v;
            memcpy(&fl[kf++], &bits, 4);
        } else if (f.num == AP_INTS) {
            ms_pb sub = ms_pb_sub(&f);
            uint64_t v = f.v;
            do {
                if (f.wire == MS_PB_LEN && ms_pb_varint(&sub, &v) < 0) return MALFORMED(L->err, "ints");
                in[ki++] = (int64_t)v;
            } while (f.wire == MS_PB_LEN && sub.p < sub.end);
        } else if (f.num == AP_STRINGS && f.wire == MS_PB_LEN) {
            if (!(st[ks++] = pool_str(L, &f))) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
        }
    }
    a->floats = fl;
    a->ints = in;
    a->strings = st;
    if (a->type == MS_ATTR_FLOATS) a->n = (int32_t)nf;
    else if (a->type == MS_ATTR_INTS) a->n = (int32_t)ni;
    else if (a->type == MS_ATTR_STRINGS) a->n = (int32_t)ns;
    return MS_OK;
}

static ms_status attr_read(loader *L, const ms_pb_field *af, ms_attr *a)
{
    ms_pb r = ms_pb_sub(af);
    ms_pb_field f;
    int rc, has_list = 0;
    int64_t nf = 0, ni = 0, ns = 0; /* list elements, counted in this one pass */
    a->name = "";
    while ((rc = ms_pb_next(&r, &f)) > 0) {
        int64_t c;
        switch (f.num) {
        case AP_NAME: a->name = pool_str(L, &f); break;
        case AP_TYPE:
            if (f.v > 14) /* AttributeProto.AttributeType ends at TYPE_PROTOS = 14 */
                return FAIL(L->err, MS_ERR_INVALID, "invalid model: attribute has unknown type %llu",
                            (unsigned long long)f.v);
            a->type = (ms_attr_type)f.v;
            break;
        case AP_F: { uint32_t bits = (uint32_t)f.v; memcpy(&a->f, &bits, 4); break; }
        case AP_I: a->i = (int64_t)f.v; break;
        case AP_S: a->s = pool_str(L, &f); a->s_len = f.len; break;
        case AP_T: {
            ms_tensor *t = ms_pool_alloc(&L->m->pool, sizeof *t, 8);
            if (!t) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
            ms_status st = ms_tensorpb_decode(f.data, f.len, &L->m->pool, t, NULL, NULL, L->err);
            if (st) return st;
            a->t = t;
            break;
        }
        case AP_REF:
            return FAIL(L->err, MS_ERR_UNSUPPORTED, "attribute references (functions) are not supported");
        case AP_FLOATS: case AP_INTS: case AP_STRINGS:
            has_list = 1;
            c = f.num == AP_FLOATS ? ms_pb_count(&f, 4) : f.num == AP_INTS ? ms_pb_count(&f, 0) : 1;
            if (c < 0) return MALFORMED(L->err, "attribute list");
            if (f.num == AP_FLOATS) nf += c;
            else if (f.num == AP_INTS) ni += c;
            else ns += c;
            break;
        default: break;
        }
        if (!a->name) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
    }
    if (rc < 0) return MALFORMED(L->err, "attribute");
    if (a->type == MS_ATTR_UNDEFINED) {
        /* IR < 3 models may omit the type; infer it from the field present */
        a->type = a->t ? MS_ATTR_TENSOR : a->s ? MS_ATTR_STRING : MS_ATTR_INT;
    }
    if (a->type == MS_ATTR_STRING && !a->s) a->s = "";
    if (has_list || a->type == MS_ATTR_FLOATS || a->type == MS_ATTR_INTS || a->type == MS_ATTR_STRINGS)
        return attr_read_list(L, af->data, af->len, a, nf, ni, ns);
    if (a->type == MS_ATTR_TENSOR && !a->t)
        return FAIL(L->err, MS_ERR_INVALID, "invalid model: tensor attribute '%s' has no tensor", a->name);
    return MS_OK;
}

/* ---- nodes ----------------------------------------------------------------------------- */

static int32_t opset_for(const ms_model *m, const char *domain)
{
    if (!strcmp(domain, "ai.onnx")) domain = "";
    for (int i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain;
        if (!strcmp(d, "ai.onnx")) d = "";
        if (!strcmp(d, domain)) return (int32_t)m->opsets[i].version;
    }
    return -1;
}

/* The schema version in force for a node: the newest `since` not above the node's opset. */
static const ms_arity *arity_find(const ms_node *n)
{
    const char *dom = strcmp(n->domain, "ai.onnx") ? n->domain : "";
    const ms_arity *best = NULL;
    for (int i = 0; i < ms_arity_count; i++) {
        const ms_arity *a = &ms_arity_table[i];
        if (a->since <= n->opset && (!best || a->since > best->since) &&
            !strcmp(a->op_type, n->op_type) && !strcmp(a->domain, dom))
            best = a;
    }
    return best;
}

/* A node must have as many inputs and outputs as its operator's schema allows, so kernels
 * can index their inputs without checking the count. Operators without a schema here
 * (other domains, newer ops) are left to their kernels. */
static ms_status node_check_arity(loader *L, const ms_node *n)
{
    const ms_arity *a = arity_find(n);
    if (!a) return MS_OK;
    if (n->n_in >= a->min_in && n->n_in <= a->max_in && n->n_out >= a->min_out &&
        n->n_out <= a->max_out)
        return MS_OK;
    return FAIL(L->err, MS_ERR_INVALID, "invalid model: node '%s' (%s, opset %d) has %d inputs "
                "and %d outputs; the operator takes %d to %d inputs and %d to %d outputs",
                n->name, n->op_type, (int)n->opset, (int)n->n_in, (int)n->n_out, a->min_in,
                a->max_in, a->min_out, a->max_out);
}

static ms_status node_read(loader *L, const ms_pb_field *nf, ms_node *n)
{
    ms_pb r = ms_pb_sub(nf);
    ms_pb_field f;
    int rc;
    n->name = n->op_type = n->domain = "";
    while ((rc = ms_pb_next(&r, &f)) > 0) {
        if (f.wire != MS_PB_LEN) continue;
        if (f.num == NP_INPUT) n->n_in++;
        else if (f.num == NP_OUTPUT) n->n_out++;
        else if (f.num == NP_ATTR) n->n_attr++;
        else if (f.num == NP_NAME) n->name = pool_str(L, &f);
        else if (f.num == NP_OP) n->op_type = pool_str(L, &f);
        else if (f.num == NP_DOMAIN) n->domain = pool_str(L, &f);
        if (!n->name || !n->op_type || !n->domain) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
    }
    if (rc < 0) return MALFORMED(L->err, "node");
    if (!n->op_type[0]) return FAIL(L->err, MS_ERR_INVALID, "invalid model: node #%d has no op_type", (int)n->index);
    if (n->n_in > MS_MAX_IO || n->n_out > MS_MAX_IO)
        return FAIL(L->err, MS_ERR_UNSUPPORTED, "node '%s' (%s) has more than %d inputs or outputs",
                    n->name, n->op_type, MS_MAX_IO);
    n->in = ms_pool_alloc(&L->m->pool, (size_t)n->n_in * 4, 4);
    n->out = ms_pool_alloc(&L->m->pool, (size_t)n->n_out * 4, 4);
    n->attrs = ms_pool_alloc(&L->m->pool, (size_t)n->n_attr * sizeof(ms_attr), 8);
    if (!n->in || !n->out || !n->attrs) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
    n->opset = opset_for(L->m, n->domain);
    if (n->opset < 0)
        return FAIL(L->err, MS_ERR_INVALID, "invalid model: node '%s' (%s) uses domain '%s', which "
                    "the model does not import", n->name, n->op_type, n->domain);
    ms_status ast = node_check_arity(L, n);
    if (ast) return ast;
    int ki = 0, ko = 0, ka = 0;
    r = ms_pb_sub(nf);
    while (ms_pb_next(&r, &f) > 0) {
        if (f.wire != MS_PB_LEN) continue;
        if (f.num == NP_ATTR) {
            ms_status st = attr_read(L, &f, &n->attrs[ka++]);
            if (st) return st;
        } else if (f.num == NP_INPUT) {
            const char *nm = pool_str(L, &f);
            if (!nm) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
            n->in[ki] = nm[0] ? map_find(L, nm) : -1;
            if (nm[0] && n->in[ki] < 0)
                return FAIL(L->err, MS_ERR_INVALID, "invalid model: node '%s' (%s) reads '%s', "
                            "which no earlier node, initializer or graph input defines",
                            n->name, n->op_type, nm);
            ki++;
        } else if (f.num == NP_OUTPUT) {
            const char *nm = pool_str(L, &f);
            if (!nm) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
            n->out[ko] = -1;
            if (nm[0]) {
                ms_status st = add_value(L, nm, MS_VALUE_NODE, &n->out[ko]);
                if (st) return st;
                L->m->values[n->out[ko]].producer = n->index;
            }
            ko++;
        }
    }
    /* inputs resolve against what is defined so far, and a node's outputs may be serialized
     * before its inputs: refuse a node that would read its own output */
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && L->m->values[n->in[k]].kind == MS_VALUE_NODE &&
            L->m->values[n->in[k]].producer == n->index)
            return FAIL(L->err, MS_ERR_INVALID, "invalid model: node '%s' (%s) reads its own output "
                        "'%s'", n->name, n->op_type, L->m->values[n->in[k]].name);
    return MS_OK;
}

/* ---- value infos (graph inputs and outputs) -------------------------------------------- */

/* A value that is not a tensor is refused, except a sequence when `seq` is given: *seq is set
 * and the caller decides (a graph output produced by ZipMap). */
static ms_status read_type(loader *L, const ms_pb_field *tf, ms_value_info *vi, int *seq)
{
    ms_pb r = ms_pb_sub(tf), tr, sr, dr;
    ms_pb_field f, g, d, e;
    vi->ndim = -1;
    while (ms_pb_next(&r, &f) > 0) {
        if (f.num != 1 || f.wire != MS_PB_LEN) {
            if (f.num == 4 && seq) {
                *seq = 1;
                continue;
            }
            if (f.num == 4 || f.num == 5 || f.num == 8 || f.num == 9)
                return FAIL(L->err, MS_ERR_UNSUPPORTED, "value '%s' is a sequence, map or optional: "
                            "only tensor inputs and outputs are supported", vi->name);
            continue;
        }
        tr = ms_pb_sub(&f);
        while (ms_pb_next(&tr, &g) > 0) {
            if (g.num == 1) vi->dtype = (ms_dtype)g.v;
            if (g.num != 2 || g.wire != MS_PB_LEN) continue;
            vi->ndim = 0;
            sr = ms_pb_sub(&g);
            while (ms_pb_next(&sr, &d) > 0) {
                if (d.num != 1 || d.wire != MS_PB_LEN) continue;
                if (vi->ndim == MS_MAX_DIMS)
                    return FAIL(L->err, MS_ERR_UNSUPPORTED, "value '%s' has more than %d dimensions",
                                vi->name, MS_MAX_DIMS);
                int k = vi->ndim++;
                vi->shape[k] = -1;
                dr = ms_pb_sub(&d);
                while (ms_pb_next(&dr, &e) > 0) {
                    if (e.num == 1 && e.wire == MS_PB_VARINT) vi->shape[k] = (int64_t)e.v;
                    if (e.num == 2 && e.wire == MS_PB_LEN) vi->dim_names[k] = pool_str(L, &e);
                }
                if (vi->shape[k] < -1) vi->shape[k] = -1;
            }
        }
    }
    return MS_OK;
}

static ms_status read_value_info(loader *L, const ms_pb_field *vf, ms_value_info *vi, int *seq)
{
    ms_pb r = ms_pb_sub(vf);
    ms_pb_field f;
    int rc;
    vi->name = "";
    vi->ndim = -1;
    while ((rc = ms_pb_next(&r, &f)) > 0) {
        if (f.num == 1 && f.wire == MS_PB_LEN) vi->name = pool_str(L, &f);
        if (!vi->name) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
    }
    if (rc < 0) return MALFORMED(L->err, "graph input or output");
    r = ms_pb_sub(vf);
    while (ms_pb_next(&r, &f) > 0)
        if (f.num == 2 && f.wire == MS_PB_LEN) {
            ms_status st = read_type(L, &f, vi, seq);
            if (st) return st;
        }
    return MS_OK;
}

/* ---- graph ----------------------------------------------------------------------------- */

typedef struct graph_counts {
    int32_t nodes, inits, inputs, outputs, node_outputs;
} graph_counts;

static ms_status graph_count(loader *L, const ms_pb_field *gf, graph_counts *c)
{
    ms_pb r = ms_pb_sub(gf), nr;
    ms_pb_field f, g;
    int rc;
    memset(c, 0, sizeof *c);
    while ((rc = ms_pb_next(&r, &f)) > 0) {
        if (f.wire != MS_PB_LEN) continue;
        if (f.num == GP_NODE) {
            c->nodes++;
            nr = ms_pb_sub(&f);
            while (ms_pb_next(&nr, &g) > 0) c->node_outputs += g.num == NP_OUTPUT;
        }
        c->inits += f.num == GP_INIT;
        c->inputs += f.num == GP_INPUT;
        c->outputs += f.num == GP_OUTPUT;
        if (f.num == GP_SPARSE_INIT)
            return FAIL(L->err, MS_ERR_UNSUPPORTED, "sparse initializers are not supported");
        if (c->nodes > 10000000 || c->inits > 10000000) return MALFORMED(L->err, "graph too large");
    }
    return rc < 0 ? MALFORMED(L->err, "truncated or corrupt graph") : MS_OK;
}

static ms_status graph_alloc(loader *L, const graph_counts *c)
{
    ms_model *m = L->m;
    L->cap_values = c->inits + c->inputs + c->node_outputs;
    uint32_t slots = 16;
    while (slots < (uint32_t)L->cap_values * 2 + 2) slots <<= 1;
    L->map.mask = slots - 1;
    L->map.slots = ms_malloc(slots * sizeof(int32_t));
    m->values = ms_pool_alloc(&m->pool, (size_t)L->cap_values * sizeof(ms_value), 8);
    m->nodes = ms_pool_alloc(&m->pool, (size_t)c->nodes * sizeof(ms_node), 8);
    m->kernels = ms_pool_alloc(&m->pool, (size_t)c->nodes * sizeof(ms_kernel *), 8);
    m->inputs = ms_pool_alloc(&m->pool, (size_t)c->inputs * 4, 4);
    m->outputs = ms_pool_alloc(&m->pool, (size_t)c->outputs * 4, 4);
    m->input_info = ms_pool_alloc(&m->pool, (size_t)c->inputs * sizeof(ms_value_info), 8);
    m->output_info = ms_pool_alloc(&m->pool, (size_t)c->outputs * sizeof(ms_value_info), 8);
    m->output_zipmap = ms_pool_alloc(&m->pool, (size_t)c->outputs * 4, 4);
    m->optypes = ms_pool_alloc(&m->pool, (size_t)c->nodes * sizeof(ms_optype), 8);
    if (!L->map.slots || !m->values || !m->nodes || !m->kernels || !m->inputs || !m->outputs ||
        !m->input_info || !m->output_info || !m->output_zipmap || !m->optypes)
        return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
    memset(L->map.slots, 0xff, slots * sizeof(int32_t));
    return MS_OK;
}

static ms_status graph_initializers(loader *L, const ms_pb_field *gf)
{
    ms_pb r = ms_pb_sub(gf);
    ms_pb_field f;
    while (ms_pb_next(&r, &f) > 0) {
        if (f.num != GP_INIT || f.wire != MS_PB_LEN) continue;
        ms_tensor t;
        const char *nm;
        size_t nl;
        ms_status st = ms_tensorpb_decode(f.data, f.len, &L->m->pool, &t, &nm, &nl, L->err);
        if (st) return st;
        const char *name = ms_pool_strndup(&L->m->pool, nm ? nm : "", nm ? nl : 0);
        if (!name) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
        if (!name[0]) return FAIL(L->err, MS_ERR_INVALID, "invalid model: an initializer has no name");
        int32_t id;
        if ((st = add_value(L, name, MS_VALUE_CONST, &id))) return st;
        L->m->values[id].t = t;
    }
    return MS_OK;
}

static ms_status graph_inputs(loader *L, const ms_pb_field *gf)
{
    ms_pb r = ms_pb_sub(gf);
    ms_pb_field f;
    ms_model *m = L->m;
    while (ms_pb_next(&r, &f) > 0) {
        if (f.num != GP_INPUT || f.wire != MS_PB_LEN) continue;
        ms_value_info *vi = &m->input_info[m->n_inputs];
        ms_status st = read_value_info(L, &f, vi, NULL);
        if (st) return st;
        /* an input that has an initializer is a constant with a default (IR < 4 style) */
        if (map_find(L, vi->name) >= 0) continue;
        int32_t id;
        if ((st = add_value(L, vi->name, MS_VALUE_INPUT, &id))) return st;
        if (vi->dtype <= 0 || !ms_dtype_size(vi->dtype) || vi->dtype > MS_DTYPE_UINT64)
            return FAIL(L->err, MS_ERR_UNSUPPORTED, "graph input '%s' has element type %d, which "
                        "is not supported", vi->name, (int)vi->dtype);
        m->values[id].t.dtype = vi->dtype;
        m->values[id].t.ndim = vi->ndim;
        for (int d = 0; d < vi->ndim; d++) m->values[id].t.shape[d] = vi->shape[d];
        m->inputs[m->n_inputs++] = id;
    }
    return MS_OK;
}

static ms_status graph_nodes(loader *L, const ms_pb_field *gf)
{
    ms_pb r = ms_pb_sub(gf);
    ms_pb_field f;
    ms_model *m = L->m;
    while (ms_pb_next(&r, &f) > 0) {
        if (f.num != GP_NODE || f.wire != MS_PB_LEN) continue;
        ms_node *n = &m->nodes[m->n_nodes];
        n->index = m->n_nodes++;
        ms_status st = node_read(L, &f, n);
        if (st) return st;
        m->kernels[n->index] = ms_kernel_find(n->domain, n->op_type, n->opset);
        int k = 0;
        while (k < m->n_optypes && (strcmp(m->optypes[k].op_type, n->op_type) ||
                                    strcmp(m->optypes[k].domain, n->domain)))
            k++;
        if (k == m->n_optypes) {
            m->optypes[k].domain = n->domain;
            m->optypes[k].op_type = n->op_type;
            m->optypes[k].supported = 1;
            m->n_optypes++;
        }
        if (!m->kernels[n->index]) m->optypes[k].supported = 0;
    }
    return MS_OK;
}

/* ZipMap's output is a sequence of maps: the kernel yields its [N,C] float probabilities and
 * ms_model_output_labels gives the labels. *node: the ZipMap producing output value id, or -1.
 * A sequence output (`seq`) from anything else is refused. */
static ms_status zipmap_output(loader *L, int32_t id, int seq, ms_value_info *vi, int32_t *node)
{
    const ms_value *v = &L->m->values[id];
    const ms_node *n = v->kind == MS_VALUE_NODE ? &L->m->nodes[v->producer] : NULL;
    *node = -1;
    if (!n || strcmp(n->op_type, "ZipMap") || strcmp(n->domain, "ai.onnx.ml")) {
        if (!seq) return MS_OK;
        return FAIL(L->err, MS_ERR_UNSUPPORTED, "value '%s' is a sequence, map or optional: only "
                    "tensor inputs and outputs are supported", vi->name);
    }
    const int64_t *ints;
    const char *const *strs;
    int ni = ms_attr_ints(n, "classlabels_int64s", &ints);
    int ns = ms_attr_strings(n, "classlabels_strings", &strs);
    /* the labels are what ms_model_output_labels promises for every column: a ZipMap without
     * them (or with both kinds) can never run, and would be a label map of no labels */
    if ((ni > 0) == (ns > 0))
        return FAIL(L->err, MS_ERR_INVALID, "ZipMap node #%d '%s' (output '%s'): exactly one of "
                    "classlabels_int64s and classlabels_strings must be set", (int)n->index,
                    n->name ? n->name : "", vi->name);
    vi->dtype = MS_DTYPE_FLOAT;
    vi->ndim = 2;
    vi->shape[0] = -1;
    vi->shape[1] = ni > 0 ? ni : ns;
    vi->dim_names[0] = vi->dim_names[1] = NULL;
    *node = n->index;
    return MS_OK;
}

static ms_status graph_outputs(loader *L, const ms_pb_field *gf)
{
    ms_pb r = ms_pb_sub(gf);
    ms_pb_field f;
    ms_model *m = L->m;
    while (ms_pb_next(&r, &f) > 0) {
        if (f.num != GP_OUTPUT || f.wire != MS_PB_LEN) continue;
        ms_value_info *vi = &m->output_info[m->n_outputs];
        int seq = 0;
        ms_status st = read_value_info(L, &f, vi, &seq);
        if (st) return st;
        int32_t id = map_find(L, vi->name);
        if (id < 0)
            return FAIL(L->err, MS_ERR_INVALID, "invalid model: graph output '%s' is not produced "
                        "by any node", vi->name);
        if ((st = zipmap_output(L, id, seq, vi, &m->output_zipmap[m->n_outputs]))) return st;
        m->outputs[m->n_outputs++] = id;
    }
    return MS_OK;
}

static ms_status graph_read(loader *L, const ms_pb_field *gf)
{
    graph_counts c;
    ms_status st = graph_count(L, gf, &c);
    if (!st) st = graph_alloc(L, &c);
    if (!st) st = graph_initializers(L, gf);
    if (!st) st = graph_inputs(L, gf);
    if (!st) st = graph_nodes(L, gf);
    if (!st) st = graph_outputs(L, gf);
    if (!st && L->m->n_outputs == 0) st = FAIL(L->err, MS_ERR_INVALID, "invalid model: the graph has no outputs");
    return st;
}

/* ==== ModelProto ======================================================================== */

static ms_status model_opsets(loader *L, const uint8_t *buf, size_t len)
{
    ms_model *m = L->m;
    ms_pb r = ms_pb_init(buf, len), sr;
    ms_pb_field f, g;
    int n = 0;
    while (ms_pb_next(&r, &f) > 0) n += f.num == MP_OPSET && f.wire == MS_PB_LEN;
    m->opsets = ms_pool_alloc(&m->pool, (size_t)n * sizeof(ms_opset), 8);
    if (!m->opsets) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
    r = ms_pb_init(buf, len);
    while (ms_pb_next(&r, &f) > 0) {
        if (f.num != MP_OPSET || f.wire != MS_PB_LEN) continue;
        ms_opset *o = &m->opsets[m->n_opsets++];
        o->domain = "";
        sr = ms_pb_sub(&f);
        while (ms_pb_next(&sr, &g) > 0) {
            if (g.num == 1 && g.wire == MS_PB_LEN) o->domain = pool_str(L, &g);
            if (g.num == 2 && g.wire == MS_PB_VARINT) o->version = (int64_t)g.v;
        }
        if (!o->domain) return FAIL(L->err, MS_ERR_RUNTIME, "out of memory");
    }
    return MS_OK;
}

ms_status ms_onnx_load(ms_model *m, const uint8_t *buf, size_t len, ms_error *err)
{
    loader L = {.m = m, .err = err};
    ms_pb r = ms_pb_init(buf, len);
    ms_pb_field f, graph = {0};
    const uint8_t *pn = NULL, *pv = NULL;
    size_t pnl = 0, pvl = 0;
    int rc, has_graph = 0;
    while ((rc = ms_pb_next(&r, &f)) > 0) {
        if (f.num == MP_IR && f.wire == MS_PB_VARINT) m->ir_version = (int64_t)f.v;
        if (f.num == MP_PRODUCER && f.wire == MS_PB_LEN) pn = f.data, pnl = f.len;
        if (f.num == MP_PRODUCER_VERSION && f.wire == MS_PB_LEN) pv = f.data, pvl = f.len;
        if (f.num == MP_GRAPH && f.wire == MS_PB_LEN) graph = f, has_graph = 1;
    }
    if (rc < 0 || !has_graph || m->ir_version <= 0)
        return FAIL(err, MS_ERR_INVALID, "not an ONNX model: %s",
                    rc < 0 ? "the file is truncated or corrupt (protobuf wire format)"
                           : !has_graph ? "no graph found" : "no ir_version");
    char *prod = ms_pool_alloc(&m->pool, pnl + pvl + 2, 1);
    if (!prod) return FAIL(err, MS_ERR_RUNTIME, "out of memory");
    memcpy(prod, pn ? (const char *)pn : "", pnl);
    if (pvl) prod[pnl] = ' ', memcpy(prod + pnl + 1, pv, pvl);
    m->producer = prod;
    ms_status st = model_opsets(&L, buf, len);
    if (!st) st = graph_read(&L, &graph);
    ms_free(L.map.slots);
    return st;
}
