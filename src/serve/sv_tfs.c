/* sv_tfs.c: TF-Serving's REST shape: GET /v1/models/{m} (the model's status) and POST
 * /v1/models/{m}:predict with "instances" (rows of the inputs, by position or by input name)
 * or "keys" (feature rows from the feature store named in config.json, with "overrides"). */
#include "serve/sv_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/pd_check.h"
#include "store/store.h"

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
        if (j->n_out == 1) { sv_out_row(b, m, 0, &outs[0], i, -1); continue; }
        mc_buf_putc(b, '{');
        for (int o = 0; o < j->n_out; o++) {
            if (o) mc_buf_putc(b, ',');
            mc_buf_put_json_str(b, ms_model_output(m, o)->name);
            mc_buf_putc(b, ':');
            sv_out_row(b, m, o, &outs[o], i, -1);
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
    ms_status rc = sv_version_features(v, &st, &err);
    st_features spec = {fc->table, fc->key, (const char *const *)fc->columns, w};
    if (rc == MS_OK) rc = st_features_fetch(st, &spec, (const char *const *)j->keys, (size_t)n, x, found, &err);
    if (st) {
        if (rc == MS_ERR_RUNTIME) st_close(st); /* a broken connection is not pooled */
        else sv_version_features_put(v, st);
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
            sv_req_error(j->r, 400, "input '%s' (%s) cannot be sent as instances (use /v2/models/%s/infer)", vi->name,
                         ms_value_info_format(vi, want, sizeof want), j->v->name);
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
                        sv_req_error(j->r, 400, "input '%s' expects %s: instances[%lld] has the wrong shape", vi->name,
                                     ms_value_info_format(vi, want, sizeof want), (long long)row);
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
    }
    ms_error err;
    if (ms_model_check_inputs(m, j->in, j->n_in, &err) != MS_OK) { sv_req_error(j->r, 400, "%s", err.msg); return -1; }
    return 0;
}

/* POST /v1/models/{m}:predict */
void sv_tfs_predict(sv_server *s, sv_req *r, const sv_match *mt)
{
    sv_version *v = get_version(s, r, mt->m, NULL);
    if (!v) return;
    job *j = job_new(s, r, v, reply_v1);
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

/* GET /v1/models/{m}: TF-Serving model status, the essentials */
void sv_tfs_status(sv_server *s, sv_req *r, const sv_match *mt)
{
    sv_version *v = get_version(s, r, mt->m, NULL);
    if (!v) return;
    mc_buf_puts(&r->out, "{\"model_version_status\":[{\"version\":");
    mc_buf_put_json_str(&r->out, v->version);
    mc_buf_puts(&r->out, ",\"state\":\"AVAILABLE\",\"status\":{\"error_code\":\"OK\",\"error_message\":\"\"}}]}");
    r->status = 200;
    sv_version_release(v);
}
