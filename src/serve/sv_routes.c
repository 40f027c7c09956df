/* sv_routes.c: routing, authorisation and the handlers (see sv_routes.h).
 *
 * Reading order: helpers (tokens, numbers, input checks); the inference job shared by the three
 * inference shapes (parse -> inputs in model order -> run inline or through the batcher ->
 * write the reply in the request's shape); the Open Inference Protocol parser for the binary
 * tensor extension (plain JSON requests go straight to codec_json); /predict and /v1; the
 * metadata, health, repository and metrics handlers; the router. */
#define _GNU_SOURCE
#include "serve/sv_routes.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch/bt_lookup.h"
#include "codec/codec_csv.h"
#include "codec/codec_json.h"
#include "predict/pd_check.h"
#include "predict/pd_batch.h"
#include "predict/pd_json.h"
#include "serve/sv_log.h"
#include "serve/sv_metrics.h"
#include "store/store.h"

#define MAX_IO 64
#define MAX_KEYS 10000

/* ---- helpers ---------------------------------------------------------------------------- */

/* Compare in time independent of where the strings differ. */
static int token_eq(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++) d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return d == 0;
}

/* 0 if authorised, else the response is set. */
static int check_token(sv_req *r, const char *want, const char *what)
{
    const char *h = sv_req_header(r, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0 && token_eq(h + 7, want)) return 0;
    sv_req_add_header(r, "WWW-Authenticate", "Bearer");
    sv_req_error(r, 401, h ? "invalid %s token" : "missing %s token: send 'Authorization: Bearer <token>'", what);
    return -1;
}

/* Element i of a tensor as JSON (the one spelling: src/predict/pd_json.h). */
static void put_elem(mc_buf *b, const ms_tensor *t, int64_t i) { pd_json_put_elem(b, t, i); }

static void fmt_decl(char *dst, size_t cap, const ms_value_info *vi)
{
    size_t k = (size_t)snprintf(dst, cap, "%s", vi->dtype ? ms_dtype_name(vi->dtype) : "any");
    if (vi->ndim < 0) { if (k < cap) snprintf(dst + k, cap - k, "[...]"); return; }
    if (k < cap) k += (size_t)snprintf(dst + k, cap - k, "[");
    for (int i = 0; i < vi->ndim && k < cap; i++) {
        if (vi->shape[i] >= 0) k += (size_t)snprintf(dst + k, cap - k, "%s%lld", i ? "," : "", (long long)vi->shape[i]);
        else k += (size_t)snprintf(dst + k, cap - k, "%s?", i ? "," : "");
    }
    if (k < cap) snprintf(dst + k, cap - k, "]");
}

static void fmt_tensor(char *dst, size_t cap, const ms_tensor *t)
{
    size_t k = (size_t)snprintf(dst, cap, "%s[", ms_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && k < cap; i++)
        k += (size_t)snprintf(dst + k, cap - k, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    if (k < cap) snprintf(dst + k, cap - k, "]");
}

/* The tensor must match the declared input: dtype, rank, fixed dimensions. */
static int check_input(const ms_value_info *vi, const ms_tensor *t, char *msg, size_t cap)
{
    int ok = vi->dtype == MS_DTYPE_UNDEFINED || vi->dtype == t->dtype;
    if (vi->ndim >= 0) {
        ok = ok && vi->ndim == t->ndim;
        for (int d = 0; ok && d < vi->ndim; d++)
            if (vi->shape[d] >= 0 && vi->shape[d] != t->shape[d]) ok = 0;
    }
    if (ok) return 0;
    char want[200], got[200];
    fmt_decl(want, sizeof want, vi);
    fmt_tensor(got, sizeof got, t);
    snprintf(msg, cap, "input '%s' expects %s, got %s", vi->name, want, got);
    return -1;
}

static int status_of(ms_status st) { return st == MS_ERR_RUNTIME ? 500 : 400; }

/* ---- the inference job ------------------------------------------------------------------ */

enum { SHAPE_V2, SHAPE_PREDICT, SHAPE_V1 };

typedef struct job {
    sv_server *s;
    sv_req *r;
    sv_version *v;
    int shape;
    int n_in, n_out;
    ms_tensor in[MAX_IO];
    void *own[MAX_IO];            /* input blocks this job allocated (ms_malloc) */
    mc_oip_request oip;           /* V2: owns its tensors */
    char *id;                     /* V2: echoed */
    int n_sel;                    /* V2: selected outputs (0: all) */
    int sel[MAX_IO];
    int sel_binary[MAX_IO];
    int all_binary;               /* V2: parameters.binary_data_output */
    /* /v1 with keys: rows[i] is the row of key i, or -1 when unknown */
    int nkeys;
    char **keys;
    int64_t *row_of_key;
    char **key_error;
    pd_batch_item item;
} job;

static void job_free(void *p)
{
    job *j = p;
    if (!j) return;
    for (int i = 0; i < MAX_IO; i++) ms_free(j->own[i]);
    mc_oip_request_free(&j->oip);
    free(j->id);
    for (int i = 0; i < j->nkeys; i++) {
        free(j->keys[i]);
        if (j->key_error) free(j->key_error[i]);
    }
    free(j->keys);
    free(j->key_error);
    free(j->row_of_key);
    pd_batch_item_clear(&j->item);
    sv_version_release(j->v);
    free(j);
}

/* ---- replies ---------------------------------------------------------------------------- */

static void reply_v2(job *j, const ms_tensor *outs)
{
    sv_req *r = j->r;
    const ms_model *m = j->v->model;
    int idx[MAX_IO], bin[MAX_IO], n = 0, any_bin = 0;
    if (j->n_sel) {
        for (int i = 0; i < j->n_sel; i++) idx[i] = j->sel[i], bin[i] = j->sel_binary[i] || j->all_binary;
        n = j->n_sel;
    } else {
        for (int i = 0; i < j->n_out; i++) idx[i] = i, bin[i] = j->all_binary;
        n = j->n_out;
    }
    for (int i = 0; i < n; i++) any_bin |= bin[i];
    mc_buf *b = &r->out;
    mc_buf_reset(b);
    ms_error err = {{0}};
    if (!any_bin) {
        const char *names[MAX_IO];
        ms_tensor sel[MAX_IO];
        for (int i = 0; i < n; i++) names[i] = ms_model_output(m, idx[i])->name, sel[i] = outs[idx[i]];
        pd_json_response resp = {j->v->name, j->v->version, j->id, n, names, sel};
        ms_status st = pd_json_write_response(b, &resp, &err);
        if (st != MS_OK) { sv_req_error(r, status_of(st), "%s", err.msg); return; }
        r->status = 200;
        return;
    }
    /* Binary tensor extension: JSON header, then each binary output's bytes in order. */
    mc_buf_puts(b, "{\"model_name\":");
    mc_buf_put_json_str(b, j->v->name);
    mc_buf_puts(b, ",\"model_version\":");
    mc_buf_put_json_str(b, j->v->version);
    if (j->id) {
        mc_buf_puts(b, ",\"id\":");
        mc_buf_put_json_str(b, j->id);
    }
    mc_buf_puts(b, ",\"outputs\":[");
    for (int i = 0; i < n; i++) {
        const ms_tensor *t = &outs[idx[i]];
        const char *name = ms_model_output(m, idx[i])->name;
        if (i) mc_buf_putc(b, ',');
        if (!bin[i]) {
            ms_status st = pd_json_write_tensor(b, name, t, &err);
            if (st != MS_OK) { sv_req_error(r, status_of(st), "%s", err.msg); return; }
            continue;
        }
        if (t->dtype == MS_DTYPE_STRING || !mc_oip_dtype_name(t->dtype)) {
            sv_req_error(r, 400, "output '%s': %s cannot be returned as binary data", name, ms_dtype_name(t->dtype));
            return;
        }
        mc_buf_puts(b, "{\"name\":");
        mc_buf_put_json_str(b, name);
        mc_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":[", mc_oip_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) {
            if (d) mc_buf_putc(b, ',');
            mc_buf_put_i64(b, t->shape[d]);
        }
        mc_buf_printf(b, "],\"parameters\":{\"binary_data_size\":%llu}}",
                      (unsigned long long)((size_t)ms_tensor_numel(t) * ms_dtype_size(t->dtype)));
    }
    mc_buf_puts(b, "]}");
    size_t json_len = b->len;
    for (int i = 0; i < n; i++)
        if (bin[i]) {
            const ms_tensor *t = &outs[idx[i]];
            mc_buf_append(b, t->data, (size_t)ms_tensor_numel(t) * ms_dtype_size(t->dtype));
        }
    char hv[32];
    snprintf(hv, sizeof hv, "%zu", json_len);
    sv_req_add_header(r, "Inference-Header-Content-Length", hv);
    r->content_type = "application/octet-stream";
    r->status = 200;
}

/* One row of output `t` (row i of n rows): a scalar when the row has one element, else nested
 * arrays; a ZipMap-style output becomes {label: probability}; `column` >= 0 picks one. */
static void put_row(mc_buf *b, const ms_model *m, int o, const ms_tensor *t, int64_t i, int column)
{
    int64_t per = 1;
    for (int d = 1; d < t->ndim; d++) per *= t->shape[d];
    if (t->ndim > 0 && column >= 0 && column < per) { put_elem(b, t, i * per + column); return; }
    pd_json_put_row(b, m, o, t, i, PD_JSON_ROW_UNWRAP);
}

/* Which output (and column) /predict returns: config.json "predict", else for a classifier
 * (an integer label output next to a float [N,2] or label->probability output) the
 * probability of the second class, as the tutorial's predict_proba(...)[:, 1]; else output 0. */
static void predict_choice(const sv_version *v, const ms_tensor *outs, int n_out, int *o, int *col)
{
    *o = 0;
    *col = -1;
    if (v->cfg->predict_output) {
        for (int i = 0; i < n_out; i++)
            if (strcmp(ms_model_output(v->model, i)->name, v->cfg->predict_output) == 0) *o = i;
        *col = v->cfg->predict_column;
        return;
    }
    int has_label = 0;
    for (int i = 0; i < n_out; i++)
        if (outs[i].dtype == MS_DTYPE_INT64 || outs[i].dtype == MS_DTYPE_STRING) has_label = 1;
    for (int i = 0; has_label && i < n_out; i++) {
        if ((outs[i].dtype == MS_DTYPE_FLOAT || outs[i].dtype == MS_DTYPE_DOUBLE) && outs[i].ndim == 2 &&
            outs[i].shape[1] == 2) {
            *o = i;
            *col = 1;
            return;
        }
    }
}

static void reply_predict(job *j, const ms_tensor *outs)
{
    mc_buf *b = &j->r->out;
    mc_buf_reset(b);
    int o, col;
    predict_choice(j->v, outs, j->n_out, &o, &col);
    const ms_tensor *t = &outs[o];
    int64_t rows = t->ndim ? t->shape[0] : 1;
    mc_buf_puts(b, "{\"prediction\":[");
    for (int64_t i = 0; i < rows; i++) {
        if (i) mc_buf_putc(b, ',');
        put_row(b, j->v->model, o, t, i, col);
    }
    mc_buf_puts(b, "]}");
    j->r->status = 200;
}

static void reply_v1(job *j, const ms_tensor *outs)
{
    mc_buf *b = &j->r->out;
    mc_buf_reset(b);
    const ms_model *m = j->v->model;
    int64_t n = j->nkeys ? j->nkeys : outs[0].ndim ? outs[0].shape[0] : 1;
    mc_buf_puts(b, "{\"predictions\":[");
    for (int64_t k = 0; k < n; k++) {
        int64_t i = j->nkeys ? j->row_of_key[k] : k;
        if (k) mc_buf_putc(b, ',');
        if (i < 0) { mc_buf_puts(b, "null"); continue; }
        if (j->n_out == 1) { put_row(b, m, 0, &outs[0], i, -1); continue; }
        mc_buf_putc(b, '{');
        for (int o = 0; o < j->n_out; o++) {
            if (o) mc_buf_putc(b, ',');
            mc_buf_put_json_str(b, ms_model_output(m, o)->name);
            mc_buf_putc(b, ':');
            put_row(b, m, o, &outs[o], i, -1);
        }
        mc_buf_putc(b, '}');
    }
    mc_buf_putc(b, ']');
    if (j->nkeys) {
        int first = 1;
        for (int k = 0; k < j->nkeys; k++) {
            if (j->row_of_key[k] >= 0) continue;
            mc_buf_puts(b, first ? ",\"errors\":[" : ",");
            first = 0;
            mc_buf_printf(b, "{\"index\":%d,\"key\":", k);
            mc_buf_put_json_str(b, j->keys[k]);
            mc_buf_puts(b, ",\"error\":");
            mc_buf_put_json_str(b, j->key_error && j->key_error[k] ? j->key_error[k] : "unknown key");
            mc_buf_putc(b, '}');
        }
        if (!first) mc_buf_putc(b, ']');
    }
    mc_buf_putc(b, '}');
    j->r->status = 200;
}

/* Rows of the request's inputs (their first dimension; 1 for scalars). */
static int64_t job_rows(const job *j)
{
    return j->n_in > 0 && j->in[0].ndim > 0 ? j->in[0].shape[0] : 1;
}

/* A non-finite output is never a prediction (src/predict/pd_check.h). By key, the key gets an
 * error like an unknown key does; otherwise the request is answered 422 naming the row.
 * Returns -1 when the response is set. */
static int check_outputs(job *j, const ms_tensor *outs)
{
    const ms_model *m = j->v->model;
    int64_t rows = job_rows(j);
    char msg[300];
    for (int k = 0; k < j->nkeys; k++) {
        int64_t i = j->row_of_key[k];
        if (i < 0 || pd_check_output_row(m, outs, j->n_out, i, rows, msg, sizeof msg) == PD_OK) continue;
        j->row_of_key[k] = -1;
        free(j->key_error[k]);
        j->key_error[k] = strdup(msg);
    }
    for (int64_t i = 0; !j->nkeys && i < rows; i++) {
        if (pd_check_output_row(m, outs, j->n_out, i, rows, msg, sizeof msg) == PD_OK) continue;
        sv_req_error(j->r, 422, "model '%s': row %lld: %s", j->v->name, (long long)i, msg);
        return -1;
    }
    return 0;
}

static void reply(job *j, const ms_tensor *outs)
{
    if (check_outputs(j, outs)) return;
    if (j->shape == SHAPE_V2) reply_v2(j, outs);
    else if (j->shape == SHAPE_PREDICT) reply_predict(j, outs);
    else reply_v1(j, outs);
    if (j->r->out.failed) sv_req_error(j->r, 500, "out of memory writing the response");
}

/* ---- running ---------------------------------------------------------------------------- */

static void batch_done(pd_batch_item *it)
{
    job *j = it->ctx;
    if (it->st == MS_OK) reply(j, it->outputs);
    else if (it->timed_out) sv_req_error(j->r, 504, "%s", it->err.msg);
    else sv_req_error(j->r, status_of(it->st), "model '%s': %s", j->v->name, it->err.msg);
    sv_req_resume(j->r);
}

/* Inputs are in j->in (model order) and checked. Run inline or through the batcher. */
static void run_job(job *j)
{
    sv_req *r = j->r;
    sv_version *v = j->v;
    ms_error perr = {{0}};
    /* inline inputs: NaN only where the model defines it and config.json opted in, never Inf
     * (by key, keys_to_input already refused the rows per key) */
    if (!j->nkeys && pd_check_inputs(&v->policy, v->model, j->in, j->n_in, NULL, &perr) != MS_OK) {
        sv_req_error(r, 400, "model '%s': %s", v->name, perr.msg);
        return;
    }
    int64_t rows = -1;
    for (int i = 0; i < j->n_in; i++) {
        if (j->in[i].ndim < 1) { rows = -1; break; }
        if (rows < 0) rows = j->in[i].shape[0];
        else if (rows != j->in[i].shape[0]) { rows = -1; break; }
    }
    if (v->batcher && rows > 0) {
        j->item.inputs = j->in;
        j->item.rows = rows;
        j->item.deadline_ns = j->s->timeout_ms ? r->t0_ns + j->s->timeout_ms * 1000000u : 0;
        j->item.done = batch_done;
        j->item.ctx = j;
        sv_req_suspend(r);
        if (pd_batcher_submit(v->batcher, &j->item) != 0) {
            /* Still on the connection's thread: undo by resuming with the 503 ready. */
            sv_req_add_header(r, "Retry-After", "1");
            sv_req_error(r, 503, "model '%s' is overloaded: the batch queue is full; retry later", v->name);
            sv_req_resume(r);
        }
        return;
    }
    if (j->s->timeout_ms && sv_now_ns() > r->t0_ns + j->s->timeout_ms * 1000000u) {
        sv_req_error(r, 504, "the request timed out before the model ran");
        return;
    }
    ms_error err = {{0}};
    ms_session *sess = sv_version_session(v, &err);
    if (!sess) { sv_req_error(r, 500, "model '%s': %s", v->name, err.msg); return; }
    ms_tensor outs[MAX_IO];
    ms_status st = ms_session_run(sess, j->in, j->n_in, outs, j->n_out, &err);
    if (st == MS_OK) reply(j, outs);
    else sv_req_error(r, status_of(st), "model '%s': %s", v->name, err.msg);
    sv_version_session_put(v, sess);
}

static job *job_new(sv_server *s, sv_req *r, sv_version *v, int shape)
{
    job *j = calloc(1, sizeof *j);
    if (!j) { sv_version_release(v); sv_req_error(r, 500, "out of memory"); return NULL; }
    j->s = s;
    j->r = r;
    j->v = v;
    j->shape = shape;
    j->n_in = ms_model_num_inputs(v->model);
    j->n_out = ms_model_num_outputs(v->model);
    r->state = j;
    r->state_free = job_free;
    if (j->n_in > MAX_IO || j->n_out > MAX_IO) {
        sv_req_error(r, 400, "model '%s' has more than %d inputs or outputs", v->name, MAX_IO);
        return NULL;
    }
    return j;
}

/* ---- Open Inference Protocol: parsing ---------------------------------------------------- */

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
static int parse_v2_ext(job *j, const char *json, size_t json_len, const char *bin, size_t bin_len)
{
    sv_req *r = j->r;
    const ms_model *m = j->v->model;
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        sv_req_error(r, 400, "malformed JSON in the inference request header");
        return -1;
    }
    int ret = -1;
    size_t used = 0;
    static const char *const top[] = {"id", "parameters", "inputs", "outputs", NULL};
    for (const cJSON *c = root->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *a = top; *a; a++) ok |= strcmp(c->string, *a) == 0;
        if (!ok) { sv_req_error(r, 400, "request: unknown key \"%s\"", c->string); goto done; }
    }
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (jid) {
        if (!cJSON_IsString(jid)) { sv_req_error(r, 400, "\"id\" must be a string"); goto done; }
        j->id = strdup(jid->valuestring);
    }
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    if (jp && !cJSON_IsObject(jp)) { sv_req_error(r, 400, "\"parameters\" must be an object"); goto done; }
    if (bool_param(jp, "binary_data_output", &j->all_binary) < 0) {
        sv_req_error(r, 400, "parameters.binary_data_output must be true or false");
        goto done;
    }
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(ji)) { sv_req_error(r, 400, "the request needs an \"inputs\" array"); goto done; }
    int n = cJSON_GetArraySize(ji);
    j->oip.inputs = calloc((size_t)(n ? n : 1), sizeof *j->oip.inputs);
    if (!j->oip.inputs) { sv_req_error(r, 500, "out of memory"); goto done; }
    int k = 0;
    for (const cJSON *o = ji->child; o; o = o->next, k++) {
        mc_named_tensor *nt = &j->oip.inputs[k];
        const cJSON *ip = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "parameters") : NULL;
        const cJSON *bsz = ip && cJSON_IsObject(ip) ? cJSON_GetObjectItemCaseSensitive(ip, "binary_data_size") : NULL;
        if (!bsz) { /* JSON data: the codec parses this one tensor object */
            char *text = cJSON_PrintUnformatted(o);
            mc_oip_request one;
            ms_error err = {{0}};
            ms_status st = text ? mc_json_parse_inputs(text, strlen(text), &one, &err)
                                : mc_fail(&err, MS_ERR_RUNTIME, "out of memory");
            free(text);
            if (st == MS_OK && !one.bare_tensor) {
                mc_oip_request_free(&one);
                st = mc_fail(&err, MS_ERR_INVALID, "inputs[%d] is not a tensor object", k);
            }
            if (st != MS_OK) { sv_req_error(r, status_of(st), "%s", err.msg); goto done; }
            *nt = one.inputs[0];
            free(one.inputs);
            j->oip.n_inputs = k + 1;
            continue;
        }
        /* Binary data: name, datatype, shape here; the bytes after the JSON. */
        const cJSON *jn = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *jt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(o, "shape");
        if (!cJSON_IsString(jn)) { sv_req_error(r, 400, "inputs[%d]: \"name\" must be a string", k); goto done; }
        const char *name = jn->valuestring;
        if (cJSON_GetObjectItemCaseSensitive(o, "data")) {
            sv_req_error(r, 400, "input '%s': has both \"data\" and parameters.binary_data_size", name);
            goto done;
        }
        if (!cJSON_IsString(jt)) { sv_req_error(r, 400, "input '%s': \"datatype\" must be a string", name); goto done; }
        ms_dtype dt = mc_oip_dtype_parse(jt->valuestring);
        if (dt == MS_DTYPE_UNDEFINED || dt == MS_DTYPE_STRING) {
            sv_req_error(r, 400, "input '%s': datatype \"%.32s\" is not supported as binary data (expected BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32 or FP64)", name, jt->valuestring);
            goto done;
        }
        if (!cJSON_IsArray(js) || cJSON_GetArraySize(js) > MS_MAX_DIMS) {
            sv_req_error(r, 400, "input '%s': \"shape\" must be an array of at most %d integers", name, MS_MAX_DIMS);
            goto done;
        }
        ms_tensor t = {dt, 0, {0}, NULL};
        double numel = 1;
        for (const cJSON *d = js->child; d; d = d->next) {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble != floor(d->valuedouble) || d->valuedouble > 9.0e15) {
                sv_req_error(r, 400, "input '%s': shape[%d] is not a non-negative integer", name, t.ndim);
                goto done;
            }
            t.shape[t.ndim++] = (int64_t)d->valuedouble;
            numel *= d->valuedouble;
        }
        double want = numel * (double)ms_dtype_size(dt);
        if (!cJSON_IsNumber(bsz) || bsz->valuedouble != want) {
            sv_req_error(r, 400, "input '%s': binary_data_size is %.0f but %s of shape with %.0f elements needs %.0f bytes",
                         name, cJSON_IsNumber(bsz) ? bsz->valuedouble : -1.0, jt->valuestring, numel, want);
            goto done;
        }
        if (want > (double)(bin_len - used)) {
            sv_req_error(r, 400, "input '%s': needs %.0f bytes of binary data but only %zu remain after the JSON header",
                         name, want, bin_len - used);
            goto done;
        }
        size_t bytes = (size_t)want;
        t.data = ms_malloc(bytes ? bytes : 1);
        nt->name = strdup(name);
        if (!t.data || !nt->name) { ms_free(t.data); free(nt->name); nt->name = NULL; sv_req_error(r, 500, "out of memory"); goto done; }
        memcpy(t.data, bin + used, bytes);
        used += bytes;
        nt->t = t;
        j->oip.n_inputs = k + 1;
    }
    if (used != bin_len) {
        sv_req_error(r, 400, "%zu bytes of binary data after the JSON header belong to no input", bin_len - used);
        goto done;
    }
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (jo) {
        if (!cJSON_IsArray(jo)) { sv_req_error(r, 400, "\"outputs\" must be an array"); goto done; }
        int i = 0;
        for (const cJSON *o = jo->child; o; o = o->next, i++) {
            const cJSON *jn = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "name") : NULL;
            if (!cJSON_IsString(jn)) { sv_req_error(r, 400, "outputs[%d]: \"name\" must be a string", i); goto done; }
            int idx = find_output(m, jn->valuestring);
            if (idx < 0) { sv_req_error(r, 400, "model '%s' has no output '%s'", j->v->name, jn->valuestring); goto done; }
            if (i >= MAX_IO) { sv_req_error(r, 400, "too many outputs requested"); goto done; }
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "parameters");
            int b = j->all_binary;
            if (op && (!cJSON_IsObject(op) || bool_param(op, "binary_data", &b) < 0)) {
                sv_req_error(r, 400, "outputs[%d]: parameters.binary_data must be true or false", i);
                goto done;
            }
            j->sel[i] = idx;
            j->sel_binary[i] = b;
            j->n_sel = i + 1;
        }
    }
    ret = 0;
done:
    cJSON_Delete(root);
    return ret;
}

/* Bind request tensors to model inputs by name; check each against its declaration. */
static int bind_inputs(job *j)
{
    const ms_model *m = j->v->model;
    for (int k = 0; k < j->oip.n_inputs; k++) {
        int found = 0;
        for (int i = 0; i < j->n_in; i++) found |= strcmp(ms_model_input(m, i)->name, j->oip.inputs[k].name) == 0;
        if (!found) {
            char names[300] = "";
            size_t p = 0;
            for (int i = 0; i < j->n_in && p < sizeof names; i++)
                p += (size_t)snprintf(names + p, sizeof names - p, "%s'%s'", i ? ", " : "", ms_model_input(m, i)->name);
            sv_req_error(j->r, 400, "model '%s' has no input '%s' (its inputs: %s)", j->v->name, j->oip.inputs[k].name, names);
            return -1;
        }
    }
    for (int i = 0; i < j->n_in; i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        int k = 0;
        while (k < j->oip.n_inputs && strcmp(j->oip.inputs[k].name, vi->name) != 0) k++;
        if (k == j->oip.n_inputs) {
            char want[200];
            fmt_decl(want, sizeof want, vi);
            sv_req_error(j->r, 400, "missing input '%s': model '%s' expects %s", vi->name, j->v->name, want);
            return -1;
        }
        char msg[512];
        if (check_input(vi, &j->oip.inputs[k].t, msg, sizeof msg)) {
            sv_req_error(j->r, 400, "%s", msg);
            return -1;
        }
        j->in[i] = j->oip.inputs[k].t;
    }
    return 0;
}

static void handle_infer(sv_server *s, sv_req *r, sv_version *v)
{
    job *j = job_new(s, r, v, SHAPE_V2);
    if (!j) return;
    const char *hl = sv_req_header(r, "Inference-Header-Content-Length");
    const char *json = r->body.data;
    size_t json_len = r->body.len;
    if (hl) {
        char *end;
        unsigned long long n = strtoull(hl, &end, 10);
        if (!*hl || *end || n > r->body.len) {
            sv_req_error(r, 400, "Inference-Header-Content-Length is %s but the body has %zu bytes", hl, r->body.len);
            return;
        }
        json_len = (size_t)n;
    }
    if (hl || memmem(json, json_len, "binary_data", 11)) {
        if (parse_v2_ext(j, json, json_len, json + json_len, r->body.len - json_len)) return;
    } else {
        ms_error err = {{0}};
        ms_status st = mc_json_parse_request(json, json_len, &j->oip, &err);
        if (st != MS_OK) { sv_req_error(r, status_of(st), "%s", err.msg); return; }
        if (j->oip.id) j->id = strdup(j->oip.id);
        for (int i = 0; i < j->oip.n_outputs; i++) {
            int idx = find_output(v->model, j->oip.outputs[i]);
            if (idx < 0) { sv_req_error(r, 400, "model '%s' has no output '%s'", v->name, j->oip.outputs[i]); return; }
            if (i >= MAX_IO) { sv_req_error(r, 400, "too many outputs requested"); return; }
            j->sel[i] = idx;
            j->n_sel = i + 1;
        }
    }
    if (bind_inputs(j)) return;
    run_job(j);
}

/* ---- /predict and /v1 ------------------------------------------------------------------- */

/* A row-major float32 [rows, width] input for the model's single input (converted to its
 * dtype when that is FP64). The model must take one rank-2 input. */
static int single_row_input(job *j, const char *route, int64_t *width)
{
    const ms_value_info *vi = ms_model_input(j->v->model, 0);
    if (j->n_in != 1 || vi->ndim != 2 || (vi->dtype != MS_DTYPE_FLOAT && vi->dtype != MS_DTYPE_DOUBLE)) {
        char want[200];
        fmt_decl(want, sizeof want, vi);
        sv_req_error(j->r, 400, "%s needs a model with one float input [rows, features]; model '%s' has %d input(s), the first %s (use /v2/models/%s/infer)",
                     route, j->v->name, j->n_in, want, j->v->name);
        return -1;
    }
    *width = vi->shape[1];
    return 0;
}

/* Fill one row of `width` numbers from a JSON array. */
static int fill_row(job *j, const cJSON *row, int64_t r_i, int64_t width, void *dst, ms_dtype dt, const char *what)
{
    const ms_value_info *vi = ms_model_input(j->v->model, 0);
    if (!cJSON_IsArray(row)) { sv_req_error(j->r, 400, "%s[%lld] must be an array of %lld numbers", what, (long long)r_i, (long long)width); return -1; }
    int64_t n = cJSON_GetArraySize(row);
    if (n != width) {
        sv_req_error(j->r, 400, "input '%s' expects %lld features per row, %s[%lld] has %lld", vi->name, (long long)width, what, (long long)r_i, (long long)n);
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
            sv_req_error(j->r, 400, "input '%s': %s[%lld][%lld] is not a finite %s number", vi->name, what, (long long)r_i, (long long)c,
                         dt == MS_DTYPE_FLOAT ? "float32" : "float64");
            return -1;
        }
        if (dt == MS_DTYPE_FLOAT) ((float *)dst)[r_i * width + c] = (float)e->valuedouble;
        else ((double *)dst)[r_i * width + c] = e->valuedouble;
    }
    return 0;
}

/* rows: a JSON array of row arrays (or a single row of numbers when `one_row`). */
static int rows_to_input(job *j, const cJSON *rows, int one_row, const char *what)
{
    int64_t width;
    if (single_row_input(j, what, &width)) return -1;
    const ms_value_info *vi = ms_model_input(j->v->model, 0);
    int64_t n = one_row ? 1 : cJSON_GetArraySize(rows);
    if (n == 0) { sv_req_error(j->r, 400, "%s is empty", what); return -1; }
    if (width < 0) {
        const cJSON *first = one_row ? rows : rows->child;
        width = cJSON_IsArray(first) ? cJSON_GetArraySize(first) : 0;
    }
    size_t es = ms_dtype_size(vi->dtype);
    void *data = ms_malloc((size_t)(n * width) * es + 1);
    if (!data) { sv_req_error(j->r, 500, "out of memory"); return -1; }
    j->own[0] = data;
    if (one_row) {
        if (fill_row(j, rows, 0, width, data, vi->dtype, what)) return -1;
    } else {
        int64_t i = 0;
        for (const cJSON *row = rows->child; row; row = row->next, i++)
            if (fill_row(j, row, i, width, data, vi->dtype, what)) return -1;
    }
    j->in[0] = (ms_tensor){vi->dtype, 2, {n, width}, data};
    return 0;
}

/* The common /predict bodies, {"features": [n, ...]}, {"features": [[..], ..]} and
 * [[..], ..], parsed in one pass straight into the input tensor: no cJSON tree (a node and a
 * strtod per number were two thirds of the server's own time per request on a 256-feature
 * row). Numbers are correctly rounded float32 (mc_parse_f32). Returns 1 when the body was
 * parsed, 0 when it is anything else (other shapes, other dtypes, malformed, non-finite): the
 * general cJSON path then answers, with its precise error messages. */
static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

static const char *fast_row(const char *p, const char *e, float *dst, int64_t width, int64_t *got)
{
    p = ws(p, e);
    if (p == e || *p != '[') return NULL;
    p++;
    int64_t n = 0;
    for (;;) {
        p = ws(p, e);
        const char *q = p;
        while (q < e && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E')) q++;
        if (q == p || n >= width) return NULL;
        float f;
        if (mc_parse_f32(p, (size_t)(q - p), &f) != 0 || !isfinite(f)) return NULL;
        dst[n++] = f;
        p = ws(q, e);
        if (p < e && *p == ',') { p++; continue; }
        if (p < e && *p == ']') { *got = n; return p + 1; }
        return NULL;
    }
}

static int predict_fast(job *j, const char *body, size_t len)
{
    const ms_value_info *vi = ms_model_input(j->v->model, 0);
    if (j->n_in != 1 || vi->ndim != 2 || vi->dtype != MS_DTYPE_FLOAT || vi->shape[1] <= 0) return 0;
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
    j->own[0] = data;
    j->in[0] = (ms_tensor){MS_DTYPE_FLOAT, 2, {rows, width}, data};
    return 1;
no:
    ms_free(data);
    return 0;
}

static void handle_predict(sv_server *s, sv_req *r, sv_version *v)
{
    job *j = job_new(s, r, v, SHAPE_PREDICT);
    if (!j) return;
    if (predict_fast(j, r->body.data, r->body.len)) { run_job(j); return; }
    cJSON *root = cJSON_ParseWithLength(r->body.data, r->body.len);
    if (!root) { sv_req_error(r, 400, "malformed JSON: expected {\"features\": [..]} or [[..], ..]"); return; }
    int bad = 0;
    if (cJSON_IsArray(root)) {
        int one = root->child && !cJSON_IsArray(root->child);
        bad = rows_to_input(j, root, one, one ? "the row" : "rows");
    } else if (cJSON_IsObject(root)) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "features");
        if (!cJSON_IsArray(f) || cJSON_GetArraySize(root) != 1) {
            sv_req_error(r, 400, "expected {\"features\": [f0, f1, ...]} (one row) or [[..], ..] (rows)");
            bad = 1;
        } else {
            int rows = f->child && cJSON_IsArray(f->child);
            bad = rows_to_input(j, f, !rows, "features");
        }
    } else {
        sv_req_error(r, 400, "expected {\"features\": [f0, f1, ...]} (one row) or [[..], ..] (rows)");
        bad = 1;
    }
    cJSON_Delete(root);
    if (!bad) run_job(j);
}

/* The policy on key k's feature row (NULL in the store reads as NaN): 1 if refused, with the
 * key's error naming the column, as an unknown key gets "unknown key". */
static int key_features_refused(job *j, const float *row, int k)
{
    const sv_version *v = j->v;
    const sv_features_cfg *fc = v->cfg->features;
    size_t bad;
    pd_why why = pd_check_values(&v->policy, 0, MS_DTYPE_FLOAT, row, (size_t)fc->ncolumns, &bad);
    if (why == PD_OK) return 0;
    char msg[400];
    if (why == PD_WHY_MISSING)
        snprintf(msg, sizeof msg, "feature '%s' is missing (NULL or NaN in the store; %s)",
                 fc->columns[bad], pd_missing_hint(&v->policy, 0));
    else snprintf(msg, sizeof msg, "feature '%s' is not finite", fc->columns[bad]);
    j->key_error[k] = strdup(msg);
    return 1;
}

/* Keys -> feature rows from the store, overrides applied, unknown keys left out. */
static int keys_to_input(job *j, const cJSON *jk, const cJSON *ov)
{
    sv_req *r = j->r;
    sv_version *v = j->v;
    const sv_features_cfg *fc = v->cfg->features;
    if (!fc) {
        sv_req_error(r, 400, "model '%s' has no feature source: add \"features\" to its config.json to send keys", v->name);
        return -1;
    }
    int n = cJSON_GetArraySize(jk);
    if (n == 0 || n > MAX_KEYS) { sv_req_error(r, 400, "\"keys\" must hold 1 to %d keys", MAX_KEYS); return -1; }
    if (ov && !cJSON_IsObject(ov)) { sv_req_error(r, 400, "\"overrides\" must be an object"); return -1; }
    j->keys = calloc((size_t)n, sizeof *j->keys);
    j->row_of_key = calloc((size_t)n, sizeof *j->row_of_key);
    j->key_error = calloc((size_t)n, sizeof *j->key_error);
    if (!j->keys || !j->row_of_key || !j->key_error) { sv_req_error(r, 500, "out of memory"); return -1; }
    j->nkeys = n;
    int i = 0;
    for (const cJSON *k = jk->child; k; k = k->next, i++) {
        char num[64];
        if (cJSON_IsString(k)) j->keys[i] = strdup(k->valuestring);
        else if (cJSON_IsNumber(k) && k->valuedouble == floor(k->valuedouble) && fabs(k->valuedouble) < 9e15) {
            snprintf(num, sizeof num, "%lld", (long long)k->valuedouble);
            j->keys[i] = strdup(num);
        } else { sv_req_error(r, 400, "keys[%d] must be a string or an integer", i); return -1; }
        if (!j->keys[i]) { sv_req_error(r, 500, "out of memory"); return -1; }
    }
    int w = fc->ncolumns;
    float *x = malloc((size_t)n * (size_t)w * sizeof *x);
    uint8_t *found = malloc((size_t)n);
    if (!x || !found) { free(x); free(found); sv_req_error(r, 500, "out of memory"); return -1; }
    st_store *st = NULL;
    ms_error err = {{0}};
    ms_status rc = sv_version_store(v, &st, &err);
    st_features spec = {fc->table, fc->key, (const char *const *)fc->columns, w};
    if (rc == MS_OK) rc = st_features_fetch(st, &spec, (const char *const *)j->keys, (size_t)n, x, found, &err);
    if (st) {
        if (rc == MS_ERR_RUNTIME) st_close(st); /* a broken connection is not pooled */
        else sv_version_store_put(v, st);
    }
    if (rc != MS_OK) {
        free(x);
        free(found);
        sv_req_error(r, rc == MS_ERR_RUNTIME ? 503 : 400, "feature store for model '%s': %s", v->name, err.msg);
        return -1;
    }
    /* Overrides: {"col": number} for every row, or {"key": {"col": number}} for one key. */
    for (const cJSON *o = ov ? ov->child : NULL; o; o = o->next) {
        if (cJSON_IsObject(o)) {
            for (int k = 0; k < n; k++) {
                if (strcmp(j->keys[k], o->string) != 0) continue;
                for (const cJSON *c = o->child; c; c = c->next) {
                    int col = -1;
                    for (int q = 0; q < w; q++) if (strcmp(fc->columns[q], c->string) == 0) col = q;
                    if (col < 0 || !cJSON_IsNumber(c)) {
                        sv_req_error(r, 400, "overrides.%s.%s: %s", o->string, c->string, col < 0 ? "not a feature column of this model" : "must be a number");
                        free(x); free(found);
                        return -1;
                    }
                    x[(size_t)k * (size_t)w + (size_t)col] = (float)c->valuedouble;
                }
            }
            continue;
        }
        int col = -1;
        for (int q = 0; q < w; q++) if (strcmp(fc->columns[q], o->string) == 0) col = q;
        if (col < 0 || !cJSON_IsNumber(o)) {
            sv_req_error(r, 400, "overrides.%s: %s", o->string,
                         col < 0 ? "not a feature column of this model (nor, with an object value, a key)" : "must be a number");
            free(x); free(found);
            return -1;
        }
        for (int k = 0; k < n; k++) x[(size_t)k * (size_t)w + (size_t)col] = (float)o->valuedouble;
    }
    /* Keep the rows of known keys whose features pass the policy only. */
    int64_t rows = 0;
    for (int k = 0; k < n; k++) {
        if (found[k] && key_features_refused(j, x + (size_t)k * (size_t)w, k)) found[k] = 0;
        if (!found[k]) { j->row_of_key[k] = -1; continue; }
        if (rows != k) memmove(x + rows * w, x + (size_t)k * (size_t)w, (size_t)w * sizeof *x);
        j->row_of_key[k] = rows++;
    }
    free(found);
    const ms_value_info *vi = ms_model_input(v->model, 0);
    void *data = ms_malloc((size_t)(rows ? rows : 1) * (size_t)w * sizeof(float));
    if (!data) { free(x); sv_req_error(r, 500, "out of memory"); return -1; }
    memcpy(data, x, (size_t)rows * (size_t)w * sizeof(float));
    free(x);
    j->own[0] = data;
    j->in[0] = (ms_tensor){vi->dtype, 2, {rows, w}, data};
    if (rows == 0) { reply_v1(j, NULL); return 1; } /* every key unknown: nothing to run */
    return 0;
}

/* TF-Serving "instances": each instance is one row of the single input (nested arrays for
 * inputs of rank > 2), or {"input_name": value, ...} for several inputs. */
static int instances_to_inputs(job *j, const cJSON *inst)
{
    const ms_model *m = j->v->model;
    int n = cJSON_GetArraySize(inst);
    if (n == 0) { sv_req_error(j->r, 400, "\"instances\" is empty"); return -1; }
    for (int i = 0; i < j->n_in; i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        if (vi->ndim < 1 || !(vi->dtype == MS_DTYPE_FLOAT || vi->dtype == MS_DTYPE_DOUBLE || vi->dtype == MS_DTYPE_INT64 ||
                              vi->dtype == MS_DTYPE_INT32 || vi->dtype == MS_DTYPE_BOOL)) {
            char want[200];
            fmt_decl(want, sizeof want, vi);
            sv_req_error(j->r, 400, "input '%s' (%s) cannot be sent as instances (use /v2/models/%s/infer)", vi->name, want, j->v->name);
            return -1;
        }
        /* Per-instance dims: the declared shape after the first (unknown: from instance 0). */
        int64_t dims[MS_MAX_DIMS];
        int nd = vi->ndim - 1;
        const cJSON *first = j->n_in == 1 ? inst->child : cJSON_GetObjectItemCaseSensitive(inst->child, vi->name);
        const cJSON *probe = first;
        for (int d = 0; d < nd; d++) {
            dims[d] = vi->shape[d + 1] >= 0 ? vi->shape[d + 1] : (cJSON_IsArray(probe) ? cJSON_GetArraySize(probe) : 0);
            probe = cJSON_IsArray(probe) ? probe->child : NULL;
        }
        int64_t per = 1;
        for (int d = 0; d < nd; d++) per *= dims[d];
        size_t es = ms_dtype_size(vi->dtype);
        unsigned char *data = ms_malloc((size_t)n * (size_t)per * es + 1);
        if (!data) { sv_req_error(j->r, 500, "out of memory"); return -1; }
        j->own[i] = data;
        int64_t idx = 0, row = 0;
        for (const cJSON *e = inst->child; e; e = e->next, row++) {
            const cJSON *val = e;
            if (j->n_in > 1) {
                if (!cJSON_IsObject(e) || !(val = cJSON_GetObjectItemCaseSensitive(e, vi->name))) {
                    sv_req_error(j->r, 400, "instances[%lld] must be an object with input '%s'", (long long)row, vi->name);
                    return -1;
                }
            }
            /* Walk the value: every array at depth d must have dims[d] items. */
            const cJSON *stack[MS_MAX_DIMS + 1];
            int64_t count = 0;
            int depth = 0;
            stack[0] = val;
            const cJSON *cur = val;
            for (;;) {
                if (depth < nd) {
                    if (!cJSON_IsArray(cur) || cJSON_GetArraySize(cur) != dims[depth]) {
                        char want[200];
                        fmt_decl(want, sizeof want, vi);
                        sv_req_error(j->r, 400, "input '%s' expects %s: instances[%lld] has the wrong shape", vi->name, want, (long long)row);
                        return -1;
                    }
                    if (dims[depth] == 0) goto pop;
                    stack[++depth] = cur = cur->child;
                    continue;
                }
                int fl = vi->dtype == MS_DTYPE_FLOAT || vi->dtype == MS_DTYPE_DOUBLE;
                if (fl && cJSON_IsNull(cur)) { /* a missing value: NaN, judged in run_job */
                    if (vi->dtype == MS_DTYPE_FLOAT) ((float *)data)[idx] = NAN;
                    else ((double *)data)[idx] = NAN;
                    idx++;
                    count++;
                    goto pop;
                }
                if (!(cJSON_IsNumber(cur) || cJSON_IsBool(cur)) || (cJSON_IsNumber(cur) && !isfinite(cur->valuedouble))) {
                    sv_req_error(j->r, 400, "input '%s': instances[%lld] element %lld is not a number", vi->name, (long long)row, (long long)count);
                    return -1;
                }
                double x = cJSON_IsBool(cur) ? (double)cJSON_IsTrue(cur) : cur->valuedouble;
                if (vi->dtype != MS_DTYPE_FLOAT && vi->dtype != MS_DTYPE_DOUBLE && x != floor(x)) {
                    sv_req_error(j->r, 400, "input '%s': instances[%lld] element %lld is not an integer (%s)", vi->name, (long long)row, (long long)count, ms_dtype_name(vi->dtype));
                    return -1;
                }
                switch (vi->dtype) {
                case MS_DTYPE_FLOAT: ((float *)data)[idx] = (float)x; break;
                case MS_DTYPE_DOUBLE: ((double *)data)[idx] = x; break;
                case MS_DTYPE_INT64: ((int64_t *)data)[idx] = (int64_t)x; break;
                case MS_DTYPE_INT32: ((int32_t *)data)[idx] = (int32_t)x; break;
                default: data[idx] = x != 0; break;
                }
                idx++;
                count++;
            pop:
                while (depth > 0 && !stack[depth]->next) depth--;
                if (depth == 0) break;
                stack[depth] = cur = stack[depth]->next;
            }
        }
        j->in[i].dtype = vi->dtype;
        j->in[i].ndim = vi->ndim;
        j->in[i].shape[0] = n;
        for (int d = 0; d < nd; d++) j->in[i].shape[d + 1] = dims[d];
        j->in[i].data = data;
        char msg[512];
        if (check_input(vi, &j->in[i], msg, sizeof msg)) { sv_req_error(j->r, 400, "%s", msg); return -1; }
    }
    return 0;
}

static void handle_v1(sv_server *s, sv_req *r, sv_version *v)
{
    job *j = job_new(s, r, v, SHAPE_V1);
    if (!j) return;
    cJSON *root = cJSON_ParseWithLength(r->body.data, r->body.len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        sv_req_error(r, 400, "malformed JSON: expected {\"instances\": [..]} or {\"keys\": [..]}");
        return;
    }
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(root, "instances");
    const cJSON *jk = cJSON_GetObjectItemCaseSensitive(root, "keys");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(root, "overrides");
    int rc;
    const cJSON *c;
    for (c = root->child; c; c = c->next)
        if (strcmp(c->string, "instances") && strcmp(c->string, "keys") && strcmp(c->string, "overrides")) break;
    if (c) { sv_req_error(r, 400, "request: unknown key \"%s\" (expected \"instances\", or \"keys\" with optional \"overrides\")", c->string); rc = -1; }
    else if (ji && !jk && !jo) {
        rc = cJSON_IsArray(ji) ? instances_to_inputs(j, ji) : (sv_req_error(r, 400, "\"instances\" must be an array"), -1);
    } else if (jk && !ji) {
        rc = cJSON_IsArray(jk) ? keys_to_input(j, jk, jo) : (sv_req_error(r, 400, "\"keys\" must be an array"), -1);
    } else {
        sv_req_error(r, 400, "expected {\"instances\": [..]} or {\"keys\": [..], \"overrides\": {..}}");
        rc = -1;
    }
    cJSON_Delete(root);
    if (rc == 0) run_job(j);
}

/* ---- published batch predictions --------------------------------------------------------- */

#define POOL_MAX 64

static ms_status pool_get(sv_server *s, const char *url, st_store **out, ms_error *err)
{
    pthread_mutex_lock(&s->pool_mu);
    for (int i = s->npool - 1; i >= 0; i--)
        if (strcmp(s->pool[i].url, url) == 0) {
            *out = s->pool[i].h;
            free(s->pool[i].url);
            s->pool[i] = s->pool[--s->npool];
            pthread_mutex_unlock(&s->pool_mu);
            return MS_OK;
        }
    pthread_mutex_unlock(&s->pool_mu);
    return st_open_flags(url, ST_OPEN_READONLY, out, err); /* lookups never create a store */
}

static void pool_put(sv_server *s, const char *url, st_store *h)
{
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool == s->cap_pool && s->cap_pool < POOL_MAX) {
        int nc = s->cap_pool ? s->cap_pool * 2 : 8;
        sv_pooled *p = realloc(s->pool, (size_t)nc * sizeof *p);
        if (p) s->pool = p, s->cap_pool = nc;
    }
    char *u = s->npool < s->cap_pool ? strdup(url) : NULL;
    if (u) {
        s->pool[s->npool].url = u;
        s->pool[s->npool++].h = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    st_close(h);
}

void sv_routes_free_pool(sv_server *s)
{
    for (int i = 0; i < s->npool; i++) {
        st_close(s->pool[i].h);
        free(s->pool[i].url);
    }
    free(s->pool);
    s->pool = NULL;
    s->npool = s->cap_pool = 0;
}

/* GET /v1/models/{m}/predictions/{key} (key != NULL) or POST .../predictions {"keys": [..]}:
 * from the model's published run, in the store its config.json "batch" block names, else the
 * server's --store. The model need not be served for real-time inference. */
static void handle_predictions(sv_server *s, sv_req *r, const char *m, const char *key)
{
    char url[4096] = "";
    sv_version *v = NULL;
    char why[300];
    if (sv_repo_acquire(s->repo, m, NULL, &v, why, sizeof why) == 0) {
        if (v->cfg && v->cfg->batch && v->cfg->batch->store) snprintf(url, sizeof url, "%s", v->cfg->batch->store);
        snprintf(r->model, sizeof r->model, "%s", v->name);
        sv_version_release(v);
    }
    if (!url[0] && s->store_url) snprintf(url, sizeof url, "%s", s->store_url);
    if (!url[0]) {
        sv_req_error(r, 404, "no prediction store: start the server with --store URL to serve batch predictions");
        return;
    }
    const char *one[1];
    const char **keys = one;
    size_t n = 1;
    cJSON *root = NULL;
    char (*num)[32] = NULL; /* integer keys as text */
    if (key) one[0] = key;
    else {
        root = cJSON_ParseWithLength(r->body.data, r->body.len);
        const cJSON *jk = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "keys") : NULL;
        if (!cJSON_IsArray(jk) || cJSON_GetArraySize(root) != 1) {
            cJSON_Delete(root);
            sv_req_error(r, 400, "expected {\"keys\": [\"k1\", ...]}");
            return;
        }
        n = (size_t)cJSON_GetArraySize(jk);
        if (n == 0 || n > MAX_KEYS) {
            cJSON_Delete(root);
            sv_req_error(r, 400, "\"keys\" must hold 1 to %d keys", MAX_KEYS);
            return;
        }
        keys = calloc(n, sizeof *keys);
        num = calloc(n, sizeof *num);
        if (!keys || !num) {
            free(keys); free(num); cJSON_Delete(root);
            sv_req_error(r, 500, "out of memory");
            return;
        }
        size_t i = 0;
        for (const cJSON *k = jk->child; k; k = k->next, i++) {
            if (cJSON_IsString(k)) keys[i] = k->valuestring;
            else if (cJSON_IsNumber(k) && k->valuedouble == floor(k->valuedouble) && fabs(k->valuedouble) < 9e15) {
                snprintf(num[i], sizeof num[i], "%lld", (long long)k->valuedouble);
                keys[i] = num[i];
            } else {
                free(keys); free(num); cJSON_Delete(root);
                sv_req_error(r, 400, "keys[%zu] must be a string or an integer", i);
                return;
            }
        }
    }
    st_store *h = NULL;
    ms_error err = {{0}};
    size_t found = 0;
    int published = 1;
    ms_status st = pool_get(s, url, &h, &err);
    if (st == MS_OK)
        st = bt_lookup_json(h, m, keys, n, key ? BT_LOOKUP_LINES : BT_LOOKUP_ARRAY, &r->out, &found, &err);
    /* nothing found: tell an unknown key from a model that has no published run (checked only
     * then, so a hit costs nothing more) */
    if (st == MS_OK && !found) st = bt_lookup_published(h, m, &published, &err);
    if (h) {
        if (st == MS_ERR_RUNTIME) st_close(h); /* a broken connection is not pooled */
        else pool_put(s, url, h);
    }
    if (keys != one) free(keys);
    free(num);
    cJSON_Delete(root);
    if (st == MS_ERR_INVALID && !h) { /* the store file does not exist (read-only open) */
        mc_buf_reset(&r->out);
        sv_req_error(r, 404, "model '%s' has no published run in the prediction store (%s)", m, err.msg);
        return;
    }
    if (st != MS_OK) {
        mc_buf_reset(&r->out);
        sv_req_error(r, st == MS_ERR_RUNTIME ? 503 : 400, "prediction store: %s", err.msg);
        return;
    }
    if (!published) {
        mc_buf_reset(&r->out);
        sv_req_error(r, 404, "model '%s' has no published run in the prediction store", m);
        return;
    }
    if (found && !r->model[0]) snprintf(r->model, sizeof r->model, "%s", m);
    if (key && !found) {
        mc_buf_reset(&r->out);
        sv_req_error(r, 404, "no published prediction of model '%s' for key '%s'", m, key);
        return;
    }
    if (key && r->out.len && r->out.data[r->out.len - 1] == '\n') r->out.data[--r->out.len] = 0;
    r->status = 200;
}

/* ---- metadata, health, repository, metrics ----------------------------------------------- */

static void put_tensor_meta(mc_buf *b, const ms_value_info *vi)
{
    mc_buf_puts(b, "{\"name\":");
    mc_buf_put_json_str(b, vi->name);
    const char *dt = mc_oip_dtype_name(vi->dtype);
    mc_buf_puts(b, ",\"datatype\":");
    mc_buf_put_json_str(b, dt ? dt : "BYTES");
    mc_buf_puts(b, ",\"shape\":[");
    for (int d = 0; d < vi->ndim; d++) {
        if (d) mc_buf_putc(b, ',');
        mc_buf_put_i64(b, vi->shape[d] >= 0 ? vi->shape[d] : -1);
    }
    mc_buf_puts(b, "]}");
}

static void handle_model_meta(sv_server *s, sv_req *r, sv_version *v, int by_version)
{
    mc_buf *b = &r->out;
    mc_buf_puts(b, "{\"name\":");
    mc_buf_put_json_str(b, v->name);
    mc_buf_puts(b, ",\"versions\":");
    if (by_version) {
        mc_buf_putc(b, '[');
        mc_buf_put_json_str(b, v->version);
        mc_buf_putc(b, ']');
    } else if (sv_repo_versions_json(s->repo, v->name, b) != 0) mc_buf_puts(b, "[]");
    mc_buf_puts(b, ",\"platform\":\"onnx_onnxv1\",\"inputs\":[");
    for (int i = 0; i < ms_model_num_inputs(v->model); i++) {
        if (i) mc_buf_putc(b, ',');
        put_tensor_meta(b, ms_model_input(v->model, i));
    }
    mc_buf_puts(b, "],\"outputs\":[");
    for (int i = 0; i < ms_model_num_outputs(v->model); i++) {
        if (i) mc_buf_putc(b, ',');
        put_tensor_meta(b, ms_model_output(v->model, i));
    }
    mc_buf_puts(b, "]}");
    r->status = 200;
}

static void metrics_gauges(void *ctx, mc_buf *out)
{
    sv_repo_gauges(((sv_server *)ctx)->repo, out);
    sv_sched_gauges(((sv_server *)ctx)->sched, out);
}

static int method_is(sv_req *r, const char *m, const char *allow)
{
    if (strcmp(r->method, m) == 0) return 1;
    sv_req_add_header(r, "Allow", allow);
    sv_req_error(r, 405, "%s is not allowed on %s (allowed: %s)", r->method, r->path, allow);
    return 0;
}

/* ---- the router ------------------------------------------------------------------------- */

/* Split "/a/b/c" into segments (in place in `buf`). */
static int split(const char *path, char *buf, size_t cap, char **seg, int max)
{
    snprintf(buf, cap, "%s", path);
    int n = 0;
    char *p = buf;
    while (*p == '/') p++;
    while (*p && n < max) {
        seg[n++] = p;
        char *q = strchr(p, '/');
        if (!q) break;
        *q = 0;
        p = q + 1;
    }
    if (n && !*seg[n - 1]) n--; /* trailing slash */
    return n;
}

static int names_ok(sv_req *r, const char *m, const char *v)
{
    if (!sv_name_ok(m)) {
        sv_req_error(r, 400, "invalid model name '%.100s': names must match [A-Za-z0-9._-]+ (at most 100 characters)", m);
        return 0;
    }
    if (v && !sv_name_ok(v)) {
        sv_req_error(r, 400, "invalid version '%.100s': versions must match [A-Za-z0-9._-]+ (at most 100 characters)", v);
        return 0;
    }
    return 1;
}

/* Acquire or answer 404/503. */
static sv_version *get_version(sv_server *s, sv_req *r, const char *m, const char *v)
{
    sv_version *ver = NULL;
    char why[300];
    int st = sv_repo_acquire(s->repo, m, v, &ver, why, sizeof why);
    if (st) {
        if (st == 503) sv_req_add_header(r, "Retry-After", "1");
        sv_req_error(r, st, "%s", why);
        return NULL;
    }
    /* Label metrics and the log only with names that exist: a URL cannot mint series. */
    snprintf(r->model, sizeof r->model, "%s", ver->name);
    snprintf(r->version, sizeof r->version, "%s", ver->version);
    return ver;
}

static void route_models(sv_server *s, sv_req *r, char **seg, int n)
{
    /* seg: v2 models {m} [versions {v}] [ready|infer] */
    const char *m = seg[2], *v = NULL, *action = NULL;
    int k = 3;
    if (n >= 5 && strcmp(seg[3], "versions") == 0) { v = seg[4]; k = 5; }
    if (n == k + 1) action = seg[k];
    else if (n != k) { sv_req_error(r, 404, "no route %s", r->path); return; }
    if (action && strcmp(action, "ready") && strcmp(action, "infer")) { sv_req_error(r, 404, "no route %s", r->path); return; }
    snprintf(r->route, sizeof r->route, "%s", !action ? "metadata" : action);
    if (!names_ok(r, m, v)) return;
    if (action && strcmp(action, "infer") == 0) {
        if (!method_is(r, "POST", "POST")) return;
    } else if (!method_is(r, "GET", "GET")) return;
    if (s->api_token && check_token(r, s->api_token, "API")) return;
    if (action && strcmp(action, "ready") == 0) {
        sv_version *ver = NULL;
        char why[300];
        int st = sv_repo_acquire(s->repo, m, v, &ver, why, sizeof why);
        if (st == 404) { sv_req_error(r, 404, "%s", why); return; }
        snprintf(r->model, sizeof r->model, "%s", m);
        mc_buf_puts(&r->out, "{\"name\":");
        mc_buf_put_json_str(&r->out, m);
        mc_buf_printf(&r->out, ",\"ready\":%s}", ver ? "true" : "false");
        r->status = ver ? 200 : 400;
        sv_version_release(ver);
        return;
    }
    sv_version *ver = get_version(s, r, m, v);
    if (!ver) return;
    if (!action) {
        handle_model_meta(s, r, ver, v != NULL);
        sv_version_release(ver);
        return;
    }
    handle_infer(s, r, ver);
}

static void route_repository(sv_server *s, sv_req *r, char **seg, int n)
{
    snprintf(r->route, sizeof r->route, "repository");
    int is_index = n == 3 && strcmp(seg[2], "index") == 0;
    int is_model = n == 5 && strcmp(seg[2], "models") == 0 && (strcmp(seg[4], "load") == 0 || strcmp(seg[4], "unload") == 0);
    if (!is_index && !is_model) { sv_req_error(r, 404, "no route %s", r->path); return; }
    if (!method_is(r, "POST", "POST")) return;
    if (!s->admin_token) {
        sv_req_error(r, 403, "the repository API is disabled: start the server with --admin-token or MLSHIP_ADMIN_TOKEN");
        return;
    }
    if (check_token(r, s->admin_token, "admin")) return;
    if (is_index) {
        int ready_only = 0;
        if (r->body.len) {
            cJSON *root = cJSON_ParseWithLength(r->body.data, r->body.len);
            const cJSON *jr = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "ready") : NULL;
            if (!cJSON_IsObject(root) || (jr && !cJSON_IsBool(jr))) {
                cJSON_Delete(root);
                sv_req_error(r, 400, "expected an empty body or {\"ready\": true|false}");
                return;
            }
            ready_only = jr && cJSON_IsTrue(jr);
            cJSON_Delete(root);
        }
        sv_repo_poll(s->repo);
        sv_repo_index_json(s->repo, ready_only, &r->out);
        r->status = 200;
        return;
    }
    const char *m = seg[3];
    if (!names_ok(r, m, NULL)) return;
    snprintf(r->model, sizeof r->model, "%s", m);
    ms_error err = {{0}};
    ms_status st = strcmp(seg[4], "load") == 0 ? sv_repo_load(s->repo, m, &err) : sv_repo_unload(s->repo, m, &err);
    if (st != MS_OK) { sv_req_error(r, 400, "%s", err.msg); return; }
    r->status = 200; /* Triton answers an empty body */
}

void sv_routes_handle(void *ctx, sv_req *r)
{
    sv_server *s = ctx;
    char buf[1024], *seg[8];
    int n = split(r->path, buf, sizeof buf, seg, 8);
    if (n == 1 && strcmp(seg[0], "predict") == 0) {
        snprintf(r->route, sizeof r->route, "predict");
        if (!method_is(r, "POST", "POST")) return;
        if (s->api_token && check_token(r, s->api_token, "API")) return;
        char name[SV_NAME_MAX];
        if (!sv_repo_default_model(s->repo, name, sizeof name)) {
            sv_req_error(r, 404, "no default model: /predict serves the model named 'default' (or the only model); use /v1/models/{m}:predict");
            return;
        }
        sv_version *v = get_version(s, r, name, NULL);
        if (v) handle_predict(s, r, v);
        return;
    }
    if (n >= 1 && strcmp(seg[0], "v2") == 0) {
        if (n == 1) {
            snprintf(r->route, sizeof r->route, "metadata");
            if (!method_is(r, "GET", "GET")) return;
            mc_buf_puts(&r->out, "{\"name\":\"mlship\",\"version\":\"" MS_VERSION_STRING
                                 "\",\"extensions\":[\"binary_tensor_data\",\"model_repository\"]}");
            r->status = 200;
            return;
        }
        if (n == 3 && strcmp(seg[1], "health") == 0 && (strcmp(seg[2], "live") == 0 || strcmp(seg[2], "ready") == 0)) {
            snprintf(r->route, sizeof r->route, "health");
            if (!method_is(r, "GET", "GET")) return;
            int live = strcmp(seg[2], "live") == 0, draining = atomic_load(&s->draining);
            char why[1024] = "shutting down";
            int ok = live || (!draining && sv_repo_ready(s->repo, why, sizeof why));
            mc_buf_printf(&r->out, "{\"%s\":%s", live ? "live" : "ready", ok ? "true" : "false");
            if (!ok) { /* not ready: say why (no model loaded, a model refused, draining) */
                mc_buf_puts(&r->out, ",\"reason\":");
                mc_buf_put_json_str(&r->out, why);
            }
            mc_buf_putc(&r->out, '}');
            r->status = ok ? 200 : 400;
            return;
        }
        if (n >= 3 && strcmp(seg[1], "models") == 0) { route_models(s, r, seg, n); return; }
        if (n >= 3 && strcmp(seg[1], "repository") == 0) { route_repository(s, r, seg, n); return; }
    }
    if ((n == 4 || n == 5) && strcmp(seg[0], "v1") == 0 && strcmp(seg[1], "models") == 0 &&
        strcmp(seg[3], "predictions") == 0) {
        snprintf(r->route, sizeof r->route, "predictions");
        if (!names_ok(r, seg[2], NULL)) return;
        if (!method_is(r, n == 5 ? "GET" : "POST", n == 5 ? "GET" : "POST")) return;
        if (s->api_token && check_token(r, s->api_token, "API")) return;
        handle_predictions(s, r, seg[2], n == 5 ? seg[4] : NULL);
        return;
    }
    if (n == 3 && strcmp(seg[0], "v1") == 0 && strcmp(seg[1], "models") == 0) {
        char *m = seg[2], *colon = strchr(m, ':');
        int predict = colon && strcmp(colon, ":predict") == 0;
        if (colon && !predict) { sv_req_error(r, 404, "no route %s (only :predict is served)", r->path); return; }
        if (colon) *colon = 0;
        snprintf(r->route, sizeof r->route, "%s", predict ? "v1_predict" : "metadata");
        if (!names_ok(r, m, NULL)) return;
        if (!method_is(r, predict ? "POST" : "GET", predict ? "POST" : "GET")) return;
        if (s->api_token && check_token(r, s->api_token, "API")) return;
        sv_version *v = get_version(s, r, m, NULL);
        if (!v) return;
        if (predict) { handle_v1(s, r, v); return; }
        /* TF-Serving model status, the essentials */
        mc_buf_puts(&r->out, "{\"model_version_status\":[{\"version\":");
        mc_buf_put_json_str(&r->out, v->version);
        mc_buf_puts(&r->out, ",\"state\":\"AVAILABLE\",\"status\":{\"error_code\":\"OK\",\"error_message\":\"\"}}]}");
        r->status = 200;
        sv_version_release(v);
        return;
    }
    if (n == 1 && strcmp(seg[0], "metrics") == 0) {
        snprintf(r->route, sizeof r->route, "metrics");
        if (!method_is(r, "GET", "GET")) return;
        sv_metrics_write(&r->out, metrics_gauges, s);
        r->content_type = "text/plain; version=0.0.4";
        r->status = 200;
        return;
    }
    sv_req_error(r, 404, "no route %s %s", r->method, r->path);
}

void sv_routes_done(void *ctx, sv_req *r, const char *remote, uint64_t bytes_out)
{
    double secs = (double)(sv_now_ns() - r->t0_ns) / 1e9;
    sv_metrics_request(r->model, r->route, r->status, secs);
    sv_access a = {remote, r->method, r->path, r->status, r->body.len, bytes_out, secs * 1e6,
                   r->route, r->model, r->version, r->error[0] ? r->error : NULL};
    sv_log_access(&a);
}
