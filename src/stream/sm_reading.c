/* sm_reading.c: readings -> event fields (sm_reading.h). The JSON members are found as raw
 * text (sm_json_member), so numbers reach sm_event_parse with their spelling, as from a CSV;
 * string members are decoded by cJSON. */
#include "stream/sm_reading.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"
#include "base/bs_hash.h"

static ms_status add(sm_fields *out, const char *name, const char *v, size_t n, ms_error *err)
{
    char *c = malloc(n + 1);
    if (!c) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (n) memcpy(c, v, n);
    c[n] = 0;
    out->scratch[out->n] = c;
    out->f[out->n++] = (qu_field){name, strlen(name), c, n};
    return MS_OK;
}

static const qu_field *get(const sm_fields *out, const char *name)
{
    for (int i = 0; i < out->n; i++)
        if (strcmp(out->f[i].name, name) == 0) return &out->f[i];
    return NULL;
}

/* Level `lvl` (1-based) of the topic: 0 with its span, or -1. */
static int topic_level(const char *t, size_t n, int lvl, const char **s, size_t *len)
{
    const char *p = t, *e = t + n;
    for (int i = 1; i < lvl; i++) {
        const char *slash = memchr(p, '/', (size_t)(e - p));
        if (!slash) return -1;
        p = slash + 1;
    }
    const char *slash = memchr(p, '/', (size_t)(e - p));
    *s = p;
    *len = (size_t)((slash ? slash : e) - p);
    return *len ? 0 : -1;
}

/* Member `name` of the JSON payload as text: a string decoded, a number as written. 1 when
 * present and usable, 0 when absent or null, -1 with err when of another type. */
static int member_text(const char *pl, size_t n, const char *name, const char *what, sm_fields *out,
                       const char *as, ms_error *err)
{
    size_t vn;
    const char *v = sm_json_member(pl, n, name, &vn);
    if (!v || (vn == 4 && memcmp(v, "null", 4) == 0)) return 0;
    if (*v == '"') {
        cJSON *j = cJSON_ParseWithLength(v, vn);
        const char *s = cJSON_GetStringValue(j);
        ms_status st = s ? add(out, as, s, strlen(s), err)
                         : bs_fail(err, MS_ERR_INVALID, "%s: not a valid JSON string", what);
        cJSON_Delete(j);
        return st ? -1 : 1;
    }
    if ((*v >= '0' && *v <= '9') || *v == '-') return add(out, as, v, vn, err) ? -1 : 1;
    bs_fail(err, MS_ERR_INVALID, "%s: expected a string or a number", what);
    return -1;
}

/* The JSON object form: features (or values), id, key (or the key field), ts, model. */
static ms_status from_object(const char *pl, size_t n, const sm_reading_opts *o, int have_key,
                             sm_fields *out, ms_error *err)
{
    size_t fn, vn;
    const char *f = sm_json_member(pl, n, "features", &fn), *v = sm_json_member(pl, n, "values", &vn);
    if (f && v) return bs_fail(err, MS_ERR_INVALID, "payload: both 'features' and 'values' (give one)");
    if (!f && !v) return bs_fail(err, MS_ERR_INVALID, "payload: no member 'features' or 'values'");
    if (!f) f = v, fn = vn;
    char what[200];
    int r = 0;
    if (!have_key && o->key_field) {
        snprintf(what, sizeof what, "payload member '%.100s' (--key-field)", o->key_field);
        if ((r = member_text(pl, n, o->key_field, what, out, "key", err)) == 0)
            return bs_fail(err, MS_ERR_INVALID, "payload has no member '%.100s' (--key-field)", o->key_field);
    } else if (!have_key) {
        r = member_text(pl, n, "key", "payload member 'key'", out, "key", err);
    }
    if (r < 0) return MS_ERR_INVALID;
    static const char *const text[] = {"id", "ts", "model"};
    for (int i = 0; i < 3; i++) {
        snprintf(what, sizeof what, "payload member '%s'", text[i]);
        if (member_text(pl, n, text[i], what, out, text[i], err) < 0) return MS_ERR_INVALID;
    }
    if (*f == '"') { /* "1,2,3" as a string: the text form */
        cJSON *j = cJSON_ParseWithLength(f, fn);
        const char *s = cJSON_GetStringValue(j);
        ms_status st = s ? add(out, "features", s, strlen(s), err)
                         : bs_fail(err, MS_ERR_INVALID, "payload member 'features': not a valid JSON string");
        cJSON_Delete(j);
        return st;
    }
    return add(out, "features", f, fn, err);
}

/* The id when the payload gave none (see the header). */
static ms_status make_id(const char *topic, size_t tlen, const char *pl, size_t plen, sm_fields *out,
                         ms_error *err)
{
    const qu_field *key = get(out, "key"), *ts = get(out, "ts");
    char id[SM_ID_MAX];
    int n = -1;
    if (ts) {
        const char *who = key ? key->val : topic;
        size_t wn = key ? key->val_len : tlen;
        n = snprintf(id, sizeof id, "%.*s@%.*s", (int)(wn < 200 ? wn : 200), who,
                     (int)(ts->val_len < 200 ? ts->val_len : 200), ts->val);
    }
    if (n < 0 || (size_t)n >= sizeof id) {
        uint64_t h = bs_fnv1a(topic, tlen, BS_FNV_INIT);
        h = bs_fnv1a("", 1, h); /* a separator: "a/b"+"c" is not "a/"+"bc" */
        h = bs_fnv1a(pl, plen, h);
        n = snprintf(id, sizeof id, "fnv-%016llx", (unsigned long long)h);
    }
    return add(out, "id", id, (size_t)n, err);
}

ms_status sm_reading_fields(const char *topic, size_t tlen, const char *payload, size_t plen,
                            const sm_reading_opts *o, sm_fields *out, ms_error *err)
{
    memset(out, 0, sizeof *out);
    ms_status st = MS_OK;
    int have_key = 0;
    if (o->key_from_topic > 0) {
        const char *s;
        size_t n;
        if (topic_level(topic, tlen, o->key_from_topic, &s, &n) != 0)
            st = bs_fail(err, MS_ERR_INVALID, "topic '%.*s' has no level %d (--key-from-topic)",
                         (int)(tlen < 200 ? tlen : 200), topic, o->key_from_topic); /* not NUL-terminated */
        else if ((st = add(out, "key", s, n, err)) == MS_OK)
            have_key = 1;
    }
    if (st == MS_OK && plen > SM_FIELD_MAX)
        st = bs_fail(err, MS_ERR_INVALID, "payload is %zu bytes (at most %d)", plen, SM_FIELD_MAX);
    const char *p = payload, *e = payload + plen;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) e--;
    if (st == MS_OK && p == e) st = bs_fail(err, MS_ERR_INVALID, "payload is empty");
    if (st == MS_OK && *p == '{') {
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(p, (size_t)(e - p), &end, 0);
        if (j && end != e) cJSON_Delete(j), j = NULL; /* text after the object (e is trimmed) */
        if (!cJSON_IsObject(j)) st = bs_fail(err, MS_ERR_INVALID, "payload starts with '{' but is not one JSON object");
        cJSON_Delete(j);
        if (st == MS_OK) st = from_object(p, (size_t)(e - p), o, have_key, out, err);
    } else if (st == MS_OK) {
        if (o->key_field && !have_key)
            st = bs_fail(err, MS_ERR_INVALID, "payload is not a JSON object, so it has no member '%.100s' (--key-field)",
                         o->key_field);
        else st = add(out, "features", p, (size_t)(e - p), err);
    }
    ms_status ist = get(out, "id") ? MS_OK : make_id(topic, tlen, payload, plen, out, err);
    return st ? st : ist;
}
