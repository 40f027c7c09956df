/* sm_event.c: events (queue messages) -> sm_event, strictly: the field form (a Redis Streams
 * entry) and the "json" form, features as a JSON array, comma-separated text or an object
 * input -> array; and JSON Lines objects -> message fields for `stream send`. Numbers are read
 * from their own text (mc_parse_f64 / mc_parse_f32), so an event feeds the model exactly what
 * the same row in a CSV would. */
#include "stream/sm_event.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"
#include "codec/codec_buf.h"
#include "codec/codec_csv.h"

#define MAX_DEPTH 64 /* nesting of members we skip in the JSON form */

/* ==== small helpers ===================================================================== */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static ms_status oom(ms_error *err) { return bs_fail(err, MS_ERR_RUNTIME, "out of memory"); }

/* Text fields (id, key, model, ts): bounded, no NUL or other control bytes. */
static ms_status check_text(const char *field, const char *v, size_t n, size_t max, ms_error *err)
{
    if (n == 0) return bs_fail(err, MS_ERR_INVALID, "field '%s' is empty", field);
    if (n >= max)
        return bs_fail(err, MS_ERR_INVALID, "field '%s' is %zu bytes (at most %zu)", field, n, max - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return bs_fail(err, MS_ERR_INVALID, "field '%s' holds a control byte (0x%02x) at %zu",
                           field, (unsigned char)v[i], i);
    return MS_OK;
}

/* ==== numbers =========================================================================== */

/* A JSON number token at p (RFC 8259 grammar: no '+', no leading zeros, no '.5', no hex, no
 * NaN/Infinity): its end, or NULL. */
static const char *scan_json_number(const char *p, const char *e)
{
    if (p < e && *p == '-') p++;
    if (p >= e) return NULL;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < e && *p >= '0' && *p <= '9') p++;
    else return NULL;
    if (p < e && *p == '.') {
        const char *d = ++p;
        while (p < e && *p >= '0' && *p <= '9') p++;
        if (p == d) return NULL;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        const char *d = p;
        while (p < e && *p >= '0' && *p <= '9') p++;
        if (p == d) return NULL;
    }
    return p;
}

/* Growing value list for one input. */
typedef struct vlist {
    double *d;
    float *f;
    size_t n, cap;
} vlist;

static int vl_push(vlist *v, double d, float f)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 32;
        double *nd = realloc(v->d, nc * sizeof *nd);
        if (nd) v->d = nd;
        float *nf = realloc(v->f, nc * sizeof *nf);
        if (nf) v->f = nf;
        if (!nd || !nf) return -1;
        v->cap = nc;
    }
    v->d[v->n] = d;
    v->f[v->n++] = f;
    return 0;
}

/* Number text s[0..n) (already known to be a number) as double and float32. */
static int vl_push_text(vlist *v, const char *s, size_t n)
{
    double d;
    float f;
    if (mc_parse_f32_f64(s, n, &f, &d)) return 1;
    return vl_push(v, d, f) ? -1 : 0;
}

static void vl_free(vlist *v) { free(v->d), free(v->f), memset(v, 0, sizeof *v); }

/* "[1, 2.5, null]" at [p, e): numbers or null (missing: NaN). Returns the end or NULL with
 * *st and err saying what is wrong; `what` is "field 'features'" or "...: input 'x'". */
static const char *parse_array(const char *p, const char *e, vlist *v, const char *what,
                               ms_status *st, ms_error *err)
{
    *st = MS_ERR_INVALID;
    p = skip_ws(p + 1, e); /* past '[' */
    if (p < e && *p == ']') {
        bs_fail(err, MS_ERR_INVALID, "%s: an empty array", what);
        return NULL;
    }
    for (size_t i = 0;; i++) {
        p = skip_ws(p, e);
        const char *t = p;
        int r;
        if (e - p >= 4 && memcmp(p, "null", 4) == 0) {
            p += 4;
            r = vl_push(v, NAN, NAN) ? -1 : 0;
        } else if ((p = scan_json_number(t, e)) != NULL) {
            r = vl_push_text(v, t, (size_t)(p - t));
        } else {
            char shown[MC_ESCAPE_CAP(20)];
            const char *q = t;
            while (q < e && q - t < 20 && *q != ',' && *q != ']') q++;
            mc_escape(shown, sizeof shown, t, (size_t)(q - t), 20);
            bs_fail(err, MS_ERR_INVALID, "%s: element %zu ('%s') is not a JSON number or null%s",
                    what, i, shown, t < e && *t == '[' ? " (give the values as one flat array)" : "");
            return NULL;
        }
        if (r != 0) {
            if (r < 0) *st = oom(err);
            else bs_fail(err, MS_ERR_INVALID, "%s: element %zu is not a number", what, i);
            return NULL;
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == ']') {
            *st = MS_OK;
            return p + 1;
        }
        bs_fail(err, MS_ERR_INVALID, "%s: expected ',' or ']' after element %zu", what, i);
        return NULL;
    }
}

/* "0.1,2.5,,3": comma-separated numbers; an empty item (or "nan") is missing. */
static ms_status parse_text(const char *p, const char *e, vlist *v, ms_error *err)
{
    for (size_t i = 0;; i++) {
        const char *c = memchr(p, ',', (size_t)(e - p));
        const char *q = c ? c : e;
        const char *a = skip_ws(p, q), *b = q;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r' || b[-1] == '\n')) b--;
        int r = a == b ? (vl_push(v, NAN, NAN) ? -1 : 0) : vl_push_text(v, a, (size_t)(b - a));
        if (r < 0) return oom(err);
        if (r > 0) {
            char shown[MC_ESCAPE_CAP(20)];
            mc_escape(shown, sizeof shown, a, (size_t)(b - a), 20);
            return bs_fail(err, MS_ERR_INVALID, "field 'features': value %zu ('%s') is not a number",
                           i, shown);
        }
        if (!c) return MS_OK;
        p = c + 1;
    }
}

/* ==== JSON tokens ======================================================================= */

/* A JSON string token at p ('"'): its end (past the closing quote) or NULL. Escapes are
 * RFC 8259's: \" \\ \/ \b \f \n \r \t \uXXXX. */
static const char *scan_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '"') return p + 1;
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p != '\\') continue;
        if (++p >= e) return NULL;
        if (*p == 'u') {
            for (int k = 0; k < 4; k++)
                if (++p >= e || !((*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')))
                    return NULL;
        } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
            return NULL;
        }
    }
    return NULL;
}

/* Any JSON value at p: its end or NULL (depth-bounded). Only its extent matters here; the
 * members we use are then read by their own rules. */
static const char *skip_value(const char *p, const char *e, int depth)
{
    p = skip_ws(p, e);
    if (p >= e || depth > MAX_DEPTH) return NULL;
    if (*p == '"') return scan_string(p, e);
    if (*p == '[' || *p == '{') {
        char close = *p == '[' ? ']' : '}';
        p = skip_ws(p + 1, e);
        if (p < e && *p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = skip_ws(p, e);
                if (p >= e || *p != '"' || !(p = scan_string(p, e))) return NULL;
                p = skip_ws(p, e);
                if (p >= e || *p++ != ':') return NULL;
            }
            if (!(p = skip_value(p, e, depth + 1))) return NULL;
            p = skip_ws(p, e);
            if (p < e && *p == ',') {
                p++;
                continue;
            }
            return p < e && *p == close ? p + 1 : NULL;
        }
    }
    static const char *const lit[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lit[i]);
        if ((size_t)(e - p) >= n && memcmp(p, lit[i], n) == 0) return p + n;
    }
    return scan_json_number(p, e);
}

/* A string token [p, e) decoded (cJSON reads the escapes, \u included) into *out. */
static ms_status decode_string(const char *p, size_t n, const char *what, char **out, size_t *len,
                               ms_error *err)
{
    cJSON *j = cJSON_ParseWithLength(p, n);
    if (!j) /* a lone surrogate (\ud800) and the like, or out of memory */
        return bs_fail(err, MS_ERR_INVALID, "%s: not a valid JSON string", what);
    const char *s = cJSON_GetStringValue(j);
    /* cJSON stops at an escaped NUL (\u0000): its length is the C string's */
    *len = s ? strlen(s) : 0;
    *out = s ? dup_n(s, *len) : NULL;
    cJSON_Delete(j);
    if (!*out) return s ? oom(err) : bs_fail(err, MS_ERR_INVALID, "%s: not a string", what);
    return MS_OK;
}

/* ==== features ========================================================================== */

static void inputs_free(sm_input *in, int n)
{
    for (int i = 0; in && i < n; i++) {
        free(in[i].name);
        free(in[i].vals);
        free(in[i].fvals);
    }
    free(in);
}

static ms_status take_list(sm_input *in, vlist *v, char *name)
{
    in->name = name;
    in->vals = v->d;
    in->fvals = v->f;
    in->nvals = v->n;
    memset(v, 0, sizeof *v);
    return MS_OK;
}

/* {"a": [..], "b": 1.5}: one input per member (a number is one value). */
static ms_status parse_object(const char *p, const char *e, sm_event *ev, ms_error *err)
{
    const char *end = skip_value(p, e, 0);
    if (!end || skip_ws(end, e) != e)
        return bs_fail(err, MS_ERR_INVALID, "field 'features': malformed JSON object");
    int cap = 0;
    p = skip_ws(p + 1, e);
    if (*p == '}') return bs_fail(err, MS_ERR_INVALID, "field 'features': an empty object");
    for (;;) {
        const char *ns = skip_ws(p, e), *ne = scan_string(ns, e);
        char *name;
        size_t nlen;
        ms_status st = decode_string(ns, (size_t)(ne - ns), "field 'features'", &name, &nlen, err);
        if (st) return st;
        char what[MC_ESCAPE_CAP(40) + 40], shown[MC_ESCAPE_CAP(40)];
        snprintf(what, sizeof what, "field 'features': input '%s'", mc_escape(shown, sizeof shown, name, nlen, 40));
        for (int i = 0; i < ev->ninputs; i++)
            if (strcmp(ev->inputs[i].name, name) == 0) st = bs_fail(err, MS_ERR_INVALID, "%s given twice", what);
        if (!st && (nlen == 0 || nlen >= SM_ID_MAX))
            st = bs_fail(err, MS_ERR_INVALID, "field 'features': an input name of %zu bytes", nlen);
        if (!st && ev->ninputs == cap) {
            int nc = cap ? cap * 2 : 4;
            sm_input *ni = realloc(ev->inputs, (size_t)nc * sizeof *ni);
            if (ni) ev->inputs = ni, cap = nc;
            else st = oom(err);
        }
        if (st) {
            free(name);
            return st;
        }
        p = skip_ws(skip_ws(ne, e) + 1, e); /* past ':' */
        vlist v = {0};
        const char *ve = NULL;
        if (*p == '[') {
            ve = parse_array(p, e, &v, what, &st, err);
        } else if ((ve = scan_json_number(p, e)) != NULL) { /* a scalar input's one value */
            int r = vl_push_text(&v, p, (size_t)(ve - p));
            if (r) st = r < 0 ? oom(err) : bs_fail(err, MS_ERR_INVALID, "%s is not a number", what);
        } else {
            st = bs_fail(err, MS_ERR_INVALID, "%s: expected an array of numbers or a number", what);
        }
        if (st) {
            vl_free(&v);
            free(name);
            return st;
        }
        take_list(&ev->inputs[ev->ninputs++], &v, name);
        p = skip_ws(ve, e);
        if (*p == '}') return MS_OK;
        p++; /* ',' (the extent was checked) */
    }
}

/* The features value v[0..n), by its first byte: '[' array, '{' object, else text. */
static ms_status parse_features(const char *v, size_t n, sm_event *ev, ms_error *err)
{
    const char *e = v + n, *p = skip_ws(v, e);
    if (p == e) return bs_fail(err, MS_ERR_INVALID, "field 'features' is empty");
    if (*p == '{') return parse_object(p, e, ev, err);
    vlist vl = {0};
    ms_status st = MS_OK;
    if (*p == '[') {
        const char *end = parse_array(p, e, &vl, "field 'features'", &st, err);
        if (end && skip_ws(end, e) != e)
            st = bs_fail(err, MS_ERR_INVALID, "field 'features': text after the array");
    } else {
        st = parse_text(p, e, &vl, err);
    }
    if (st == MS_OK && !(ev->inputs = calloc(1, sizeof *ev->inputs))) st = oom(err);
    if (st) {
        vl_free(&vl);
        return st;
    }
    ev->ninputs = 1;
    return take_list(&ev->inputs[0], &vl, NULL);
}

/* ==== events ============================================================================ */

void sm_event_free(sm_event *ev)
{
    if (!ev) return;
    free(ev->id);
    free(ev->key);
    free(ev->model);
    free(ev->ts);
    inputs_free(ev->inputs, ev->ninputs);
    memset(ev, 0, sizeof *ev);
}

enum { F_ID, F_KEY, F_MODEL, F_TS, F_FEATURES, F_N };
static const char *const field_names[F_N] = {"id", "key", "model", "ts", "features"};
static const size_t field_max[F_N] = {SM_ID_MAX, SM_KEY_MAX, SM_ID_MAX, SM_ID_MAX, SM_FIELD_MAX + 1};

static int field_index(const char *name, size_t n)
{
    for (int i = 0; i < F_N; i++)
        if (strlen(field_names[i]) == n && memcmp(field_names[i], name, n) == 0) return i;
    return -1;
}

/* The known fields' values (val NULL: absent) into ev. */
static ms_status build_event(const qu_msg *m, const char *const val[F_N], const size_t len[F_N],
                             sm_event *ev, ms_error *err)
{
    for (int f = 0; f < F_N; f++) {
        if (!val[f]) continue;
        if (f == F_FEATURES) {
            if (len[f] > SM_FIELD_MAX)
                return bs_fail(err, MS_ERR_INVALID, "field 'features' is %zu bytes (at most %d)",
                               len[f], SM_FIELD_MAX);
            continue;
        }
        ms_status st = check_text(field_names[f], val[f], len[f], field_max[f], err);
        if (st) return st;
    }
    if (!val[F_KEY] && !val[F_FEATURES])
        return bs_fail(err, MS_ERR_INVALID, "no field 'key' or 'features' (an event needs at least one)");
    const char *id = val[F_ID] ? val[F_ID] : m->id;
    size_t idn = val[F_ID] ? len[F_ID] : strlen(m->id);
    if (!(ev->id = dup_n(id, idn))) return oom(err);
    char **dst[F_N] = {NULL, &ev->key, &ev->model, &ev->ts, NULL};
    for (int f = F_KEY; f <= F_TS; f++)
        if (val[f] && !(*dst[f] = dup_n(val[f], len[f]))) return oom(err);
    if (val[F_FEATURES]) return parse_features(val[F_FEATURES], len[F_FEATURES], ev, err);
    return MS_OK;
}

/* The "json" form: one JSON object whose members are the fields. Strings are decoded; id,
 * key and ts may also be numbers (kept as their text); features keeps its raw text. */
static ms_status parse_json_form(const qu_msg *m, const char *j, size_t n, sm_event *ev,
                                 ms_error *err)
{
    const char *e = j + n, *p = skip_ws(j, e);
    if (n > SM_FIELD_MAX)
        return bs_fail(err, MS_ERR_INVALID, "field 'json' is %zu bytes (at most %d)", n, SM_FIELD_MAX);
    const char *end = p < e && *p == '{' ? skip_value(p, e, 0) : NULL;
    if (!end || skip_ws(end, e) != e)
        return bs_fail(err, MS_ERR_INVALID, "field 'json': not one JSON object");
    const char *val[F_N] = {0};
    size_t len[F_N] = {0};
    char *own[F_N] = {0};
    ms_status st = MS_OK;
    p = skip_ws(p + 1, e);
    while (st == MS_OK && *p != '}') {
        const char *ne = scan_string(p, e);
        int f = field_index(p + 1, (size_t)(ne - p - 2)); /* escaped names are not ours */
        const char *vs = skip_ws(skip_ws(ne, e) + 1, e), *ve = skip_value(vs, e, 0);
        if (f >= 0 && val[f]) st = bs_fail(err, MS_ERR_INVALID, "field '%s' given twice", field_names[f]);
        else if (f == F_FEATURES && !(ve - vs == 4 && memcmp(vs, "null", 4) == 0)) {
            if (*vs == '"') st = decode_string(vs, (size_t)(ve - vs), "field 'features'", &own[f], &len[f], err), val[f] = own[f];
            else val[f] = vs, len[f] = (size_t)(ve - vs);
        } else if (f >= 0 && f != F_FEATURES) {
            if (*vs == '"') st = decode_string(vs, (size_t)(ve - vs), field_names[f], &own[f], &len[f], err);
            else if (f != F_MODEL && scan_json_number(vs, ve) == ve) own[f] = dup_n(vs, len[f] = (size_t)(ve - vs)), st = own[f] ? MS_OK : oom(err);
            else st = bs_fail(err, MS_ERR_INVALID, "field '%s': expected a string", field_names[f]);
            val[f] = own[f];
        }
        p = skip_ws(ve, e);
        if (*p == ',') p = skip_ws(p + 1, e);
    }
    if (st == MS_OK) st = build_event(m, val, len, ev, err);
    for (int f = 0; f < F_N; f++) free(own[f]);
    return st;
}

ms_status sm_event_parse(const qu_msg *m, sm_event *ev, ms_error *err)
{
    memset(ev, 0, sizeof *ev);
    if (m->nfields == 1 && m->fields[0].name_len == 4 && memcmp(m->fields[0].name, "json", 4) == 0) {
        ms_status st = parse_json_form(m, m->fields[0].val, m->fields[0].val_len, ev, err);
        if (st) sm_event_free(ev);
        return st;
    }
    const char *val[F_N] = {0};
    size_t len[F_N] = {0};
    for (int i = 0; i < m->nfields; i++) {
        const qu_field *fd = &m->fields[i];
        int f = field_index(fd->name, fd->name_len);
        if (f < 0) continue; /* a producer's own field */
        if (val[f]) return bs_fail(err, MS_ERR_INVALID, "field '%s' given twice", field_names[f]);
        val[f] = fd->val ? fd->val : "";
        len[f] = fd->val_len;
    }
    ms_status st = build_event(m, val, len, ev, err);
    if (st) sm_event_free(ev);
    return st;
}

int sm_event_peek(const qu_msg *m, const char *field, char *dst, size_t cap)
{
    const char *v = NULL;
    size_t n = 0;
    cJSON *j = NULL;
    if (m->nfields == 1 && m->fields[0].name_len == 4 && memcmp(m->fields[0].name, "json", 4) == 0) {
        if (m->fields[0].val_len <= SM_FIELD_MAX &&
            (j = cJSON_ParseWithLength(m->fields[0].val, m->fields[0].val_len)) != NULL &&
            (v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, field))) != NULL)
            n = strlen(v);
    } else {
        for (int i = 0; i < m->nfields && !v; i++)
            if (m->fields[i].name_len == strlen(field) && memcmp(m->fields[i].name, field, m->fields[i].name_len) == 0)
                v = m->fields[i].val, n = m->fields[i].val_len;
    }
    int ok = v && check_text(field, v, n, cap, NULL) == MS_OK;
    if (ok) {
        memcpy(dst, v, n);
        dst[n] = 0;
    }
    cJSON_Delete(j);
    return ok;
}

/* ==== JSON Lines -> fields ============================================================== */

void sm_fields_free(sm_fields *f)
{
    for (int i = 0; i < f->n; i++) free(f->scratch[i]);
    memset(f, 0, sizeof *f);
}

static ms_status add_field(sm_fields *out, const char *name, const char *v, size_t n, ms_error *err)
{
    char *c = dup_n(v, n);
    if (!c) return oom(err);
    out->scratch[out->n] = c;
    out->f[out->n++] = (qu_field){name, strlen(name), c, n};
    return MS_OK;
}

ms_status sm_event_from_json(const char *json, size_t len, sm_fields *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    qu_field one = {"json", 4, json, len};
    qu_msg m = {.id = "", .nfields = 1, .fields = &one}; /* "": no id given (ids are never empty) */
    sm_event ev;
    ms_status st = sm_event_parse(&m, &ev, err);
    if (st) return st;
    const char *txt[4] = {ev.id[0] ? ev.id : NULL, ev.key, ev.model, ev.ts};
    for (int f = 0; f < 4 && st == MS_OK; f++)
        if (txt[f]) st = add_field(out, field_names[f], txt[f], strlen(txt[f]), err);
    /* features: its text as given (numbers keep their spelling), found again in the line */
    const char *e = json + len, *p = skip_ws(json, e) + 1;
    while (st == MS_OK && ev.ninputs && (p = skip_ws(p, e)) < e && *p != '}') {
        const char *ne = scan_string(p, e);
        int f = field_index(p + 1, (size_t)(ne - p - 2));
        const char *vs = skip_ws(skip_ws(ne, e) + 1, e), *ve = skip_value(vs, e, 0);
        if (f == F_FEATURES) {
            if (*vs == '"') {
                char *s;
                size_t n;
                st = decode_string(vs, (size_t)(ve - vs), "field 'features'", &s, &n, err);
                if (st == MS_OK) st = add_field(out, "features", s, n, err);
                free(s);
            } else {
                st = add_field(out, "features", vs, (size_t)(ve - vs), err);
            }
            break;
        }
        p = skip_ws(ve, e);
        if (*p == ',') p++;
    }
    sm_event_free(&ev);
    if (st) sm_fields_free(out);
    return st;
}

const char *sm_json_member(const char *json, size_t len, const char *name, size_t *vlen)
{
    const char *e = json + len, *p = skip_ws(json, e);
    const char *end = p < e && *p == '{' ? skip_value(p, e, 0) : NULL;
    if (!end || skip_ws(end, e) != e) return NULL;
    size_t nn = strlen(name);
    for (p = skip_ws(p + 1, e); *p != '}';) { /* the extent was checked: tokens are whole */
        const char *ne = scan_string(p, e);
        const char *vs = skip_ws(skip_ws(ne, e) + 1, e), *ve = skip_value(vs, e, 0);
        if ((size_t)(ne - p - 2) == nn && memcmp(p + 1, name, nn) == 0) {
            *vlen = (size_t)(ve - vs);
            return vs;
        }
        p = skip_ws(ve, e);
        if (*p == ',') p = skip_ws(p + 1, e);
    }
    return NULL;
}
