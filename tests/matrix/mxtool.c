/* mxtool.c: the matrix suite's helper (tests/matrix/test_matrix.sh), so the suite needs no
 * Python: it picks finite rows of a fixture input, writes them in each path's request format,
 * and checks a path's JSON answer against the framework's reference .npy.
 *
 *   mxtool rows IN.npy MAX                      first MAX row indices without NaN/Inf: "3,5,8"
 *   mxtool take IN.npy ROWS OUT.npy             those rows as a new .npy
 *   mxtool emit csv|jsonl|v2json|instances|predict|keys IN.npy ROWS [INPUT_NAME]   a body on stdout
 *   mxtool emit v2bin IN.npy ROWS INPUT_NAME OUT OUTS   binary-extension body; prints the header
 *                                               length; OUTS "label:0,probabilities:1" names the
 *                                               outputs to ask for, 1 = as binary data
 *   mxtool decl REF.npy                         how serve's metadata declares such an output:
 *                                               "datatype":"FP32","shape":[-1,3]
 *   mxtool cols IN.npy                          elements per row
 *   mxtool tojson FILE                          a tensor file (.npy, .pb, JSON) as {"data": [..]}
 *   mxtool tonpy IN.json OUT.npy                an OIP request's first tensor, or the numbers of
 *                                               {"name": [..]} as float32 [n, 1], as .npy
 *   mxtool check [opts] REF.npy ROWS GOT SELECTOR  the answer's numbers against REF's rows
 *
 * CSV and JSON Lines rows ({"id": "k_<row>", "f0": .., ..}) and feature-store keys are named k_<row>. check options: --rtol R --atol A
 * (|got - want| <= atol + rtol*|want|, defaults 1e-5 and 1e-6), --col C (only column C of each
 * reference row), --labels L1,L2,.. (each row must be a label map with exactly these keys, in
 * order), --argmax L1,L2,.. (the answer holds class labels; each must be the label of REF's
 * largest probability; rows whose top two are within 1e-6 are not judged), --binary HLEN (GOT is
 * a binary-extension body with a HLEN-byte JSON header), --lines (GOT is JSON Lines: an array even
 * when it holds one line). Without --labels a label map in the
 * answer is an error: regressors and XGBoost models must not print one.
 *
 * SELECTOR walks GOT's JSON (JSON lines are read as one array): dot-separated steps, each an
 * object key, an array index, FIELD=VALUE (the first array element whose FIELD is the string
 * VALUE) or * (every array element; the rest of the path is applied to each in turn).
 * Exit 0 on a match, 1 on a mismatch (the first one is printed), 2 on bad usage or input. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_buf.h"
#include "codec/codec_file.h"
#include "codec/codec_npy.h"

#define MAX_ROWS 256
#define MAX_LABELS 64

static int die(const char *what, const char *msg)
{
    fprintf(stderr, "mxtool: %s: %s\n", what, msg);
    return 2;
}

static int load_npy(const char *path, ms_tensor *t)
{
    ms_error err = {{0}};
    mc_buf b = {0};
    ms_status st = mc_read_file(path, &b, &err);
    if (st == MS_OK) st = mc_npy_decode(b.data, b.len, t, &err);
    mc_buf_free(&b);
    if (st != MS_OK) return die(path, err.msg);
    if (t->ndim < 1) return die(path, "a scalar has no rows");
    return 0;
}

static int64_t row_len(const ms_tensor *t)
{
    int64_t per = 1;
    for (int d = 1; d < t->ndim; d++) per *= t->shape[d];
    return per;
}

static double elem(const ms_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MS_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case MS_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case MS_DTYPE_INT64: return (double)((const int64_t *)t->data)[i];
    case MS_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    default: return NAN;
    }
}

/* "3,5,8" -> rows; returns the count or -1. */
static int parse_rows(const char *s, const ms_tensor *t, int64_t *rows)
{
    int n = 0;
    for (const char *p = s; *p && n < MAX_ROWS;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || v >= t->shape[0]) return -1;
        rows[n++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n > 0 ? n : -1;
}

static int split_labels(char *s, char **out)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < MAX_LABELS; tok = strtok(NULL, ",")) out[n++] = tok;
    return n;
}

/* ---- rows, take, emit ------------------------------------------------------------------ */

static int cmd_rows(const char *path, int max)
{
    ms_tensor t;
    if (load_npy(path, &t)) return 2;
    int64_t per = row_len(&t);
    int n = 0;
    for (int64_t r = 0; r < t.shape[0] && n < max; r++) {
        int finite = 1;
        for (int64_t k = 0; k < per && finite; k++) finite = isfinite(elem(&t, r * per + k));
        if (finite) printf(n++ ? ",%lld" : "%lld", (long long)r);
    }
    printf("\n");
    ms_free(t.data);
    return n ? 0 : die(path, "no finite row");
}

static int cmd_take(const char *path, const char *rows_s, const char *out)
{
    ms_tensor t;
    int64_t rows[MAX_ROWS];
    if (load_npy(path, &t)) return 2;
    int n = parse_rows(rows_s, &t, rows);
    if (n < 0) return die(rows_s, "bad row list");
    size_t bytes = (size_t)row_len(&t) * ms_dtype_size(t.dtype);
    mc_buf sub = {0}, enc = {0};
    for (int i = 0; i < n; i++) mc_buf_append(&sub, (const char *)t.data + rows[i] * bytes, bytes);
    ms_tensor s = t;
    s.shape[0] = n;
    s.data = sub.data;
    ms_error err = {{0}};
    ms_status st = mc_npy_encode(&s, &enc, &err);
    if (st == MS_OK) st = mc_write_file(out, enc.data, enc.len, &err);
    mc_buf_free(&sub);
    mc_buf_free(&enc);
    ms_free(t.data);
    return st == MS_OK ? 0 : die(out, err.msg);
}

static void put_row(mc_buf *b, const ms_tensor *t, int64_t r, char sep)
{
    int64_t per = row_len(t);
    for (int64_t k = 0; k < per; k++) {
        if (k) mc_buf_putc(b, sep);
        mc_buf_printf(b, "%.9g", elem(t, r * per + k)); /* float32 round-trips in 9 digits */
    }
}

static const char *oip_type(const ms_tensor *t)
{
    return t->dtype == MS_DTYPE_INT64 ? "INT64" : "FP32";
}

static void emit_text(mc_buf *b, const char *fmt, const ms_tensor *t, const int64_t *rows, int n,
                      const char *name)
{
    int64_t per = row_len(t);
    int csv = strcmp(fmt, "csv") == 0, keys = strcmp(fmt, "keys") == 0;
    if (strcmp(fmt, "jsonl") == 0) {
        for (int i = 0; i < n; i++) {
            mc_buf_printf(b, "{\"id\":\"k_%lld\"", (long long)rows[i]);
            for (int64_t k = 0; k < per; k++) mc_buf_printf(b, ",\"f%lld\":%.9g", (long long)k, elem(t, rows[i] * per + k));
            mc_buf_puts(b, "}\n");
        }
        return;
    }
    if (csv) {
        mc_buf_puts(b, "id");
        for (int64_t k = 0; k < per; k++) mc_buf_printf(b, ",f%lld", (long long)k);
        mc_buf_putc(b, '\n');
    } else if (keys) mc_buf_puts(b, "{\"keys\":[");
    else if (strcmp(fmt, "v2json") == 0)
        mc_buf_printf(b, "{\"inputs\":[{\"name\":\"%s\",\"shape\":[%d,%lld],\"datatype\":\"%s\",\"data\":[",
                      name, n, (long long)per, oip_type(t));
    else mc_buf_printf(b, "{\"%s\":[", strcmp(fmt, "predict") == 0 ? "features" : "instances");
    for (int i = 0; i < n; i++) {
        if (csv) {
            mc_buf_printf(b, "k_%lld,", (long long)rows[i]);
            put_row(b, t, rows[i], ',');
            mc_buf_putc(b, '\n');
        } else if (keys) mc_buf_printf(b, "%s\"k_%lld\"", i ? "," : "", (long long)rows[i]);
        else if (fmt[0] == 'v') {
            if (i) mc_buf_putc(b, ',');
            put_row(b, t, rows[i], ',');
        } else {
            mc_buf_puts(b, i ? ",[" : "[");
            put_row(b, t, rows[i], ',');
            mc_buf_putc(b, ']');
        }
    }
    if (!csv) mc_buf_puts(b, fmt[0] == 'v' ? "]}]}\n" : "]}\n");
}

/* The binary tensor extension's request: JSON header, then the float32 rows. */
static int emit_v2bin(const ms_tensor *t, const int64_t *rows, int n, const char *name, const char *out,
                      const char *outs)
{
    int64_t per = row_len(t);
    mc_buf b = {0};
    int i64 = t->dtype == MS_DTYPE_INT64;
    mc_buf_printf(&b, "{\"inputs\":[{\"name\":\"%s\",\"shape\":[%d,%lld],\"datatype\":\"%s\","
                      "\"parameters\":{\"binary_data_size\":%lld}}],\"outputs\":[",
                  name, n, (long long)per, oip_type(t), (long long)(n * per * (i64 ? 8 : 4)));
    for (const char *p = outs; *p;) {
        size_t len = strcspn(p, ":");
        if (!p[len]) break;
        mc_buf_printf(&b, "%s{\"name\":\"%.*s\",\"parameters\":{\"binary_data\":%s}}", p == outs ? "" : ",",
                      (int)len, p, p[len + 1] == '1' ? "true" : "false");
        p += len + 2;
        if (*p == ',') p++;
    }
    mc_buf_puts(&b, "]}");
    size_t hlen = b.len;
    for (int i = 0; i < n; i++)
        for (int64_t k = 0; k < per; k++) {
            float v = (float)elem(t, rows[i] * per + k);
            int64_t w = (int64_t)elem(t, rows[i] * per + k);
            if (i64) mc_buf_append(&b, &w, sizeof w);
            else mc_buf_append(&b, &v, sizeof v);
        }
    ms_error err = {{0}};
    ms_status st = mc_write_file(out, b.data, b.len, &err);
    mc_buf_free(&b);
    if (st != MS_OK) return die(out, err.msg);
    printf("%zu\n", hlen);
    return 0;
}

static int cmd_emit(int argc, char **argv)
{
    if (argc < 5) return die("emit", "needs FORMAT IN.npy ROWS [NAME [OUT]]");
    ms_tensor t;
    int64_t rows[MAX_ROWS];
    if (load_npy(argv[3], &t)) return 2;
    int n = parse_rows(argv[4], &t, rows), rc = 0;
    const char *name = argc > 5 ? argv[5] : "input";
    if (n < 0) rc = die(argv[4], "bad row list");
    else if (strcmp(argv[2], "v2bin") == 0)
        rc = argc > 7 ? emit_v2bin(&t, rows, n, name, argv[6], argv[7]) : die("emit v2bin", "needs NAME OUT OUTS");
    else {
        mc_buf b = {0};
        emit_text(&b, argv[2], &t, rows, n, name);
        fwrite(b.data, 1, b.len, stdout);
        mc_buf_free(&b);
    }
    ms_free(t.data);
    return rc;
}

/* ---- cols, decl ------------------------------------------------------------------------ */

static int cmd_shape(const char *what, const char *path)
{
    ms_tensor t;
    if (load_npy(path, &t)) return 2;
    if (strcmp(what, "cols") == 0) printf("%lld\n", (long long)row_len(&t));
    else {
        const char *dt = t.dtype == MS_DTYPE_FLOAT ? "FP32" : t.dtype == MS_DTYPE_INT64 ? "INT64" : "?";
        printf("\"datatype\":\"%s\",\"shape\":[-1", dt);
        for (int d = 1; d < t.ndim; d++) printf(",%lld", (long long)t.shape[d]);
        printf("]\n");
    }
    ms_free(t.data);
    return 0;
}

/* ---- tonpy: a JSON reference (examples/fraud) as .npy ---------------------------------- */

static ms_status json_column(const char *path, mc_buf *flt, int64_t *n, ms_error *err)
{
    mc_buf b = {0};
    ms_status st = mc_read_file(path, &b, err);
    cJSON *root = st ? NULL : cJSON_ParseWithLength(b.data, b.len);
    mc_buf_free(&b);
    const cJSON *arr = root && root->child ? root->child : NULL;
    if (!st && !cJSON_IsArray(arr)) st = bs_fail(err, MS_ERR_INVALID, "expected {\"name\": [numbers]}");
    *n = 0;
    for (const cJSON *e = arr ? arr->child : NULL; !st && e; e = e->next, ++*n) {
        float v = (float)e->valuedouble;
        if (!cJSON_IsNumber(e)) st = bs_fail(err, MS_ERR_INVALID, "element %lld is not a number", (long long)*n);
        mc_buf_append(flt, &v, sizeof v);
    }
    cJSON_Delete(root);
    return st;
}

static int cmd_tonpy(const char *in, const char *out)
{
    ms_error err = {{0}};
    mc_oip_request r = {0};
    mc_buf flt = {0}, enc = {0};
    ms_status st = mc_tensors_read_file(in, &r, NULL, &err);
    ms_tensor t;
    if (st == MS_OK && r.n_inputs >= 1) t = r.inputs[0].t;
    else {
        int64_t n;
        st = json_column(in, &flt, &n, &err);
        t = (ms_tensor){MS_DTYPE_FLOAT, 2, {n, 1}, flt.data};
    }
    if (st == MS_OK) st = mc_npy_encode(&t, &enc, &err);
    if (st == MS_OK) st = mc_write_file(out, enc.data, enc.len, &err);
    mc_oip_request_free(&r);
    mc_buf_free(&flt);
    mc_buf_free(&enc);
    return st == MS_OK ? 0 : die(in, err.msg);
}

static int cmd_tojson(const char *in)
{
    ms_error err = {{0}};
    mc_oip_request r = {0};
    if (mc_tensors_read_file(in, &r, NULL, &err) != MS_OK || r.n_inputs != 1) {
        mc_oip_request_free(&r);
        return die(in, err.msg[0] ? err.msg : "not one tensor");
    }
    const ms_tensor *t = &r.inputs[0].t;
    cJSON *root = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(root, "data");
    for (int64_t i = 0; i < ms_tensor_numel(t); i++)
        cJSON_AddItemToArray(data, t->dtype == MS_DTYPE_STRING ? cJSON_CreateString(((char **)t->data)[i])
                                                               : cJSON_CreateNumber(elem(t, i)));
    char *s = cJSON_PrintUnformatted(root);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(root);
    mc_oip_request_free(&r);
    return 0;
}

/* ---- check ----------------------------------------------------------------------------- */

typedef struct got_list {
    double num[MAX_ROWS * MAX_LABELS];
    const char *str[MAX_ROWS * MAX_LABELS]; /* non-NULL where the answer held a string */
    int n, maps, overflow;
    const char *error;
} got_list;

typedef struct check_opts {
    double rtol, atol;
    int col, n_labels, n_argmax, lines;
    long binary;
    char *labels[MAX_LABELS], *argmax[MAX_LABELS];
} check_opts;

static void push(got_list *g, double v, const char *s)
{
    if (g->n == MAX_ROWS * MAX_LABELS) { g->overflow = 1; return; }
    g->num[g->n] = v;
    g->str[g->n++] = s;
}

/* Depth-first: numbers and strings in order; a label map's values in key order after its keys
 * are checked against the expected labels. */
static void flatten(const cJSON *j, const check_opts *o, got_list *g)
{
    if (cJSON_IsNumber(j)) push(g, j->valuedouble, NULL);
    else if (cJSON_IsString(j)) push(g, NAN, j->valuestring);
    else if (cJSON_IsNull(j)) push(g, NAN, NULL);
    else if (cJSON_IsArray(j))
        for (const cJSON *e = j->child; e; e = e->next) flatten(e, o, g);
    else if (cJSON_IsObject(j)) {
        if (!o->n_labels) { g->error = "a label map (JSON object) where none is expected"; return; }
        int k = 0;
        for (const cJSON *e = j->child; e; e = e->next, k++) {
            if (k >= o->n_labels || strcmp(e->string, o->labels[k]) != 0) {
                g->error = "a label map whose keys are not the expected labels";
                return;
            }
            flatten(e, o, g);
        }
        if (k != o->n_labels) g->error = "a label map with too few labels";
        g->maps++;
    } else g->error = "a boolean where a number is expected";
}

static void select_path(const cJSON *j, const char *path, const check_opts *o, got_list *g)
{
    if (!j) { g->error = "the selector matches nothing"; return; }
    if (!*path) { flatten(j, o, g); return; }
    char step[128];
    size_t len = strcspn(path, ".");
    if (len >= sizeof step) { g->error = "selector step too long"; return; }
    memcpy(step, path, len);
    step[len] = 0;
    const char *rest = path[len] ? path + len + 1 : "";
    char *eq = strchr(step, '=');
    if (strcmp(step, "*") == 0) {
        if (!cJSON_IsArray(j)) { g->error = "'*' on something that is not an array"; return; }
        for (const cJSON *e = j->child; e; e = e->next) select_path(e, rest, o, g);
    } else if (eq) {
        *eq = 0;
        const cJSON *hit = NULL;
        for (const cJSON *e = cJSON_IsArray(j) ? j->child : NULL; e && !hit; e = e->next) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, step);
            if (cJSON_IsString(f) && strcmp(f->valuestring, eq + 1) == 0) hit = e;
        }
        select_path(hit, rest, o, g);
    } else if (cJSON_IsArray(j) && step[0] >= '0' && step[0] <= '9')
        select_path(cJSON_GetArrayItem(j, atoi(step)), rest, o, g);
    else select_path(cJSON_GetObjectItemCaseSensitive(j, step), rest, o, g);
}

/* One JSON value, or JSON lines as an array of values (always an array with `lines`, so that
 * one line reads like many). */
static cJSON *parse_all(const char *s, size_t len, int lines)
{
    cJSON *arr = cJSON_CreateArray();
    const char *p = s, *end = s + len;
    while (arr && p < end) {
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
        if (p == end) break;
        const char *next = NULL;
        cJSON *v = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &next, 0);
        if (!v) { cJSON_Delete(arr); return NULL; }
        cJSON_AddItemToArray(arr, v);
        p = next;
    }
    if (!lines && cJSON_GetArraySize(arr) == 1) {
        cJSON *one = cJSON_DetachItemFromArray(arr, 0);
        cJSON_Delete(arr);
        return one;
    }
    return arr;
}

/* A binary-extension answer: replace the selected output's parameters by its data. */
static int splice_binary(cJSON *root, const mc_buf *body, long hlen, got_list *g)
{
    size_t off = (size_t)hlen;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    for (cJSON *e = outs ? outs->child : NULL; e; e = e->next) {
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "datatype");
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "parameters"), "binary_data_size");
        if (!cJSON_IsNumber(sz)) continue;
        size_t n = (size_t)sz->valuedouble;
        if (off + n > body->len) { g->error = "binary data shorter than its binary_data_size"; return -1; }
        cJSON *data = cJSON_CreateArray();
        int f32 = cJSON_IsString(dt) && strcmp(dt->valuestring, "FP32") == 0;
        int i64 = cJSON_IsString(dt) && strcmp(dt->valuestring, "INT64") == 0;
        if (!f32 && !i64) { cJSON_Delete(data); g->error = "binary output of an unexpected datatype"; return -1; }
        for (size_t k = 0; k + (f32 ? 4 : 8) <= n; k += f32 ? 4 : 8) {
            float f;
            int64_t v;
            if (f32) memcpy(&f, body->data + off + k, 4);
            else memcpy(&v, body->data + off + k, 8);
            cJSON_AddItemToArray(data, cJSON_CreateNumber(f32 ? (double)f : (double)v));
        }
        cJSON_AddItemToObject(e, "data", data);
        off += n;
    }
    if (off != body->len) { g->error = "binary data longer than the outputs declare"; return -1; }
    return 0;
}

static int parse_check_opts(int argc, char **argv, int *i, check_opts *o)
{
    for (; *i < argc && argv[*i][0] == '-'; (*i)++) {
        const char *a = argv[*i];
        if (strcmp(a, "--lines") == 0) { o->lines = 1; continue; }
        if (*i + 1 >= argc) return -1;
        char *v = argv[++*i];
        if (strcmp(a, "--rtol") == 0) o->rtol = atof(v);
        else if (strcmp(a, "--atol") == 0) o->atol = atof(v);
        else if (strcmp(a, "--col") == 0) o->col = atoi(v);
        else if (strcmp(a, "--binary") == 0) o->binary = atol(v);
        else if (strcmp(a, "--labels") == 0) o->n_labels = split_labels(v, o->labels);
        else if (strcmp(a, "--argmax") == 0) o->n_argmax = split_labels(v, o->argmax);
        else return -1;
    }
    return argc - *i == 4 ? 0 : -1;
}

/* The label REF's row r would predict, or NULL when its top two are too close to call. */
static const char *argmax_label(const ms_tensor *ref, int64_t r, const check_opts *o)
{
    int64_t per = row_len(ref), best = 0;
    for (int64_t k = 1; k < per; k++) if (elem(ref, r * per + k) > elem(ref, r * per + best)) best = k;
    for (int64_t k = 0; k < per; k++)
        if (k != best && elem(ref, r * per + best) - elem(ref, r * per + k) < 1e-6) return NULL;
    return best < o->n_argmax ? o->argmax[best] : NULL;
}

static int compare(const ms_tensor *ref, const int64_t *rows, int n, const got_list *g, const check_opts *o)
{
    int64_t per = o->n_argmax ? 1 : o->col >= 0 ? 1 : row_len(ref);
    if (g->n != n * per) {
        printf("mxtool: the answer holds %d values, expected %d rows x %lld\n", g->n, n, (long long)per);
        return 1;
    }
    if (o->n_labels && g->maps != n) {
        printf("mxtool: %d label maps, expected one per row (%d)\n", g->maps, n);
        return 1;
    }
    int exact = ref->dtype != MS_DTYPE_FLOAT && ref->dtype != MS_DTYPE_DOUBLE;
    for (int i = 0; i < n; i++)
        for (int64_t k = 0; k < per; k++) {
            int gi = (int)(i * per + k);
            if (o->n_argmax) {
                const char *want = argmax_label(ref, rows[i], o), *got = g->str[gi];
                char num[32];
                if (!got) { snprintf(num, sizeof num, "%.0f", g->num[gi]); got = num; }
                if (want && strcmp(got, want) != 0) {
                    printf("mxtool: row %lld: label %s, expected %s\n", (long long)rows[i], got, want);
                    return 1;
                }
                continue;
            }
            double w = elem(ref, rows[i] * row_len(ref) + (o->col >= 0 ? o->col : k)), v = g->num[gi];
            int ok = !g->str[gi] && (exact ? v == w : fabs(v - w) <= o->atol + o->rtol * fabs(w));
            if (!ok) {
                printf("mxtool: row %lld element %lld: got %s%.9g, expected %.9g\n", (long long)rows[i],
                       (long long)k, g->str[gi] ? "a string, not " : "", v, w);
                return 1;
            }
        }
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    static check_opts o;
    static got_list g;
    o.rtol = 1e-5;
    o.atol = 1e-6;
    o.col = -1;
    int i = 2;
    if (parse_check_opts(argc, argv, &i, &o)) return die("check", "usage: check [opts] REF.npy ROWS GOT SELECTOR");
    ms_tensor ref;
    int64_t rows[MAX_ROWS];
    if (load_npy(argv[i], &ref)) return 2;
    int n = parse_rows(argv[i + 1], &ref, rows);
    mc_buf body = {0};
    ms_error err = {{0}};
    if (n < 0 || mc_read_file(argv[i + 2], &body, &err) != MS_OK) { ms_free(ref.data); return die(argv[i + 2], n < 0 ? "bad row list" : err.msg); }
    size_t jlen = o.binary > 0 && (size_t)o.binary <= body.len ? (size_t)o.binary : body.len;
    cJSON *root = parse_all(body.data, jlen, o.lines);
    int rc = 0;
    if (!root) rc = 1, printf("mxtool: %s is not JSON: %.200s\n", argv[i + 2], body.data ? body.data : "");
    else if (o.binary && splice_binary(root, &body, o.binary, &g)) rc = 1;
    if (!rc) select_path(root, argv[i + 3], &o, &g);
    if (!rc && g.overflow) g.error = "too many values";
    if (!rc && g.error) rc = 1, printf("mxtool: %s (selector %s): %.300s\n", g.error, argv[i + 3], body.data);
    if (!rc) rc = compare(&ref, rows, n, &g, &o);
    if (rc == 1 && !g.error) printf("    answer: %.300s\n", body.data ? body.data : "");
    cJSON_Delete(root);
    mc_buf_free(&body);
    ms_free(ref.data);
    return rc;
}

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    if (strcmp(c, "rows") == 0 && argc == 4) return cmd_rows(argv[2], atoi(argv[3]));
    if (strcmp(c, "take") == 0 && argc == 5) return cmd_take(argv[2], argv[3], argv[4]);
    if ((strcmp(c, "cols") == 0 || strcmp(c, "decl") == 0) && argc == 3) return cmd_shape(c, argv[2]);
    if (strcmp(c, "tojson") == 0 && argc == 3) return cmd_tojson(argv[2]);
    if (strcmp(c, "tonpy") == 0 && argc == 4) return cmd_tonpy(argv[2], argv[3]);
    if (strcmp(c, "emit") == 0) return cmd_emit(argc, argv);
    if (strcmp(c, "check") == 0) return cmd_check(argc, argv);
    fprintf(stderr, "usage: mxtool rows|take|emit|cols|decl|tojson|tonpy|check ... (see tests/matrix/mxtool.c)\n");
    return 2;
}
