/* ag_manifest.c: parse, check and write the edge update manifest (see ag_manifest.h). */
#include "edge/agent/ag_manifest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/bs_error.h"
#include "base/bs_name.h"

void ag_manifest_clear(ag_manifest *m)
{
    free(m->golden);
    memset(m, 0, sizeof *m);
}

const char *ag_model_file(const char *model_format)
{
    return strcmp(model_format, "xgboost-json") == 0 ? "model.json" : "model.onnx";
}

static int parse_semver(const char *s, long v[3])
{
    char *end;
    for (int i = 0; i < 3; i++) {
        if (*s < '0' || *s > '9') return -1;
        v[i] = strtol(s, &end, 10);
        if (v[i] > 1000000) return -1;
        s = end;
        if (i < 2 && *s++ != '.') return -1;
    }
    return *s ? -1 : 0;
}

int ag_version_cmp(const char *a, const char *b)
{
    long x[3], y[3];
    if (parse_semver(a, x) || parse_semver(b, y)) return -2;
    for (int i = 0; i < 3; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* A whole number field in [lo, hi]; JSON numbers are doubles, so beyond 2^53 is refused. */
static ms_status get_int(const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t *out, ms_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return bs_fail(err, MS_ERR_INVALID, "manifest: \"%s\" must be a number", key);
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return bs_fail(err, MS_ERR_INVALID, "manifest: \"%s\" must be a whole number in [%lld, %lld]", key,
                       (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return MS_OK;
}

static ms_status get_str(const cJSON *o, const char *key, char *dst, size_t cap, ms_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bs_fail(err, MS_ERR_INVALID, "manifest: \"%s\" must be a non-empty string", key);
    if (strlen(v->valuestring) >= cap)
        return bs_fail(err, MS_ERR_INVALID, "manifest: \"%s\" is longer than %zu characters", key, cap - 1);
    strcpy(dst, v->valuestring);
    return MS_OK;
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

/* The blob path must stay inside the publish directory: relative, no "..", plain characters. */
static int blob_path_ok(const char *p)
{
    if (p[0] == '/' || strstr(p, "..") || strstr(p, "//")) return 0;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static ms_status parse_golden(const cJSON *root, ag_manifest *m, ms_error *err)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "golden");
    if (!g || cJSON_IsNull(g)) return MS_OK;
    if (!cJSON_IsObject(g)) return bs_fail(err, MS_ERR_INVALID, "manifest: \"golden\" must be an object");
    const char *need[] = {"inputs", "outputs"};
    for (int i = 0; i < 2; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(g, need[i]);
        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1)
            return bs_fail(err, MS_ERR_INVALID, "manifest: \"golden.%s\" must be a non-empty array of tensors", need[i]);
    }
    const char *tol[] = {"rtol", "atol"};
    for (int i = 0; i < 2; i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(g, tol[i]);
        if (t && (!cJSON_IsNumber(t) || !(t->valuedouble >= 0 && t->valuedouble <= 1)))
            return bs_fail(err, MS_ERR_INVALID, "manifest: \"golden.%s\" must be a number in [0, 1]", tol[i]);
    }
    m->golden = cJSON_PrintUnformatted(g);
    if (!m->golden) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    return MS_OK;
}

static ms_status parse_features(const cJSON *root, ag_manifest *m, ms_error *err)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "features");
    if (!f) return MS_OK;
    if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) > AG_MAX_FEATURES)
        return bs_fail(err, MS_ERR_INVALID, "manifest: \"features\" must be an array of at most %d table names",
                       AG_MAX_FEATURES);
    const cJSON *t;
    cJSON_ArrayForEach(t, f) {
        if (!cJSON_IsString(t) || !bs_ident_ok(t->valuestring))
            return bs_fail(err, MS_ERR_INVALID, "manifest: \"features\": each entry must be a table name "
                           "(a letter or '_', then letters, digits, '_')");
        snprintf(m->features[m->n_features++], sizeof m->features[0], "%s", t->valuestring);
    }
    return MS_OK;
}

static ms_status parse_fields(const cJSON *root, ag_manifest *m, ms_error *err)
{
    char fmt[32];
    ms_status st;
    if (!cJSON_IsObject(root)) return bs_fail(err, MS_ERR_INVALID, "manifest: not a JSON object");
    if ((st = get_str(root, "format", fmt, sizeof fmt, err)) != MS_OK) return st;
    if (strcmp(fmt, AG_MANIFEST_FORMAT) != 0)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "manifest: format '%s' is not %s", fmt, AG_MANIFEST_FORMAT);
    if ((st = get_str(root, "name", m->name, sizeof m->name, err)) != MS_OK) return st;
    if ((st = bs_check_name("model name in the manifest", m->name, err)) != MS_OK) return st;
    if ((st = get_int(root, "version", 1, INT64_C(1) << 53, &m->version, err)) != MS_OK) return st;
    if ((st = get_str(root, "sha256", m->sha256, sizeof m->sha256, err)) != MS_OK) return st;
    if (!is_hex64(m->sha256)) return bs_fail(err, MS_ERR_INVALID, "manifest: \"sha256\" must be 64 lower-case hex digits");
    if ((st = get_int(root, "size", 1, INT64_C(1) << 50, &m->size, err)) != MS_OK) return st;
    if ((st = get_str(root, "blob", m->blob, sizeof m->blob, err)) != MS_OK) return st;
    if (!blob_path_ok(m->blob))
        return bs_fail(err, MS_ERR_INVALID, "manifest: \"blob\" '%s' must be a relative path inside the publish directory", m->blob);
    if ((st = get_str(root, "model_format", m->model_format, sizeof m->model_format, err)) != MS_OK) return st;
    if (strcmp(m->model_format, "onnx") != 0 && strcmp(m->model_format, "xgboost-json") != 0)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "manifest: \"model_format\" '%s' is not onnx or xgboost-json", m->model_format);
    if ((st = get_int(root, "created", 0, INT64_C(1) << 40, &m->created, err)) != MS_OK) return st;
    if ((st = get_int(root, "expires", 0, INT64_C(1) << 40, &m->expires, err)) != MS_OK) return st;
    if (m->expires && m->expires < m->created)
        return bs_fail(err, MS_ERR_INVALID, "manifest: \"expires\" is before \"created\"");
    if ((st = get_str(root, "min_agent_version", m->min_agent, sizeof m->min_agent, err)) != MS_OK) return st;
    if (ag_version_cmp(m->min_agent, "0.0.0") == -2)
        return bs_fail(err, MS_ERR_INVALID, "manifest: \"min_agent_version\" '%s' is not MAJOR.MINOR.PATCH", m->min_agent);
    if ((st = parse_features(root, m, err)) != MS_OK) return st;
    return parse_golden(root, m, err);
}

ms_status ag_manifest_parse(const char *buf, size_t len, ag_manifest *m, ms_error *err)
{
    memset(m, 0, sizeof *m);
    if (len > AG_MANIFEST_MAX) return bs_fail(err, MS_ERR_INVALID, "manifest: larger than %u bytes", AG_MANIFEST_MAX);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!root) return bs_fail(err, MS_ERR_INVALID, "manifest: not valid JSON");
    ms_status st = parse_fields(root, m, err);
    cJSON_Delete(root);
    if (st != MS_OK) ag_manifest_clear(m);
    return st;
}

ms_status ag_manifest_write(const ag_manifest *m, mc_buf *out, ms_error *err)
{
    mc_buf_printf(out, "{\"format\": \"%s\", \"name\": ", AG_MANIFEST_FORMAT);
    mc_buf_put_json_str(out, m->name);
    mc_buf_printf(out, ", \"version\": %lld, \"sha256\": \"%s\", \"size\": %lld, \"blob\": ", (long long)m->version,
                  m->sha256, (long long)m->size);
    mc_buf_put_json_str(out, m->blob);
    mc_buf_printf(out, ", \"model_format\": \"%s\", \"created\": %lld, \"expires\": %lld, \"min_agent_version\": \"%s\"",
                  m->model_format, (long long)m->created, (long long)m->expires, m->min_agent);
    if (m->n_features) {
        mc_buf_puts(out, ", \"features\": [");
        for (int i = 0; i < m->n_features; i++) {
            if (i) mc_buf_puts(out, ", ");
            mc_buf_put_json_str(out, m->features[i]);
        }
        mc_buf_putc(out, ']');
    }
    if (m->golden) {
        mc_buf_puts(out, ", \"golden\": ");
        mc_buf_puts(out, m->golden);
    }
    mc_buf_puts(out, "}\n");
    if (mc_buf_failed(out)) return bs_fail(err, MS_ERR_RUNTIME, "out of memory writing the manifest");
    return MS_OK;
}
