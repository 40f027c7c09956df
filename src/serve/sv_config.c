/* sv_config.c: a model's config.json, parsed and checked (see sv_config.h).
 *
 * Every key is checked here, when the file is read: unknown keys, wrong types, out-of-range
 * numbers, bad identifiers and a bad batch schedule refuse the whole file with a message that
 * names the key; the repository (sv_repo.c) then keeps what it was serving. */
#include "serve/sv_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/sv_repo.h"
#include "batch/bt_cron.h"
#include "store/store.h"
sv_stream_cfg sv_stream_cfg_default(void)
{
    return (sv_stream_cfg){3600, 10000, 30000, 60};
}

void sv_config_free(sv_model_cfg *c)
{
    if (!c) return;
    free(c->default_version);
    free(c->predict_output);
    if (c->features) {
        free(c->features->store_url);
        free(c->features->table);
        free(c->features->key);
        for (int i = 0; i < c->features->ncolumns; i++) free(c->features->columns[i]);
        free(c->features->columns);
        free(c->features);
    }
    if (c->batch) {
        free(c->batch->schedule);
        free(c->batch->input);
        free(c->batch->key);
        free(c->batch->features);
        free(c->batch->format);
        free(c->batch->store);
        free(c->batch);
    }
    free(c);
}

static int keys_ok(const cJSON *o, const char *const *allowed, const char *where, ms_error *err)
{
    for (const cJSON *c = o->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(c->string, *a) == 0) ok = 1;
        if (!ok) {
            bs_fail(err, MS_ERR_INVALID, "%s: unknown key \"%s\"", where, c->string);
            return 0;
        }
    }
    return 1;
}

static int get_int(const cJSON *o, const char *key, double lo, double hi, int64_t *out,
                   const char *where, ms_error *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j) return 1;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < lo ||
        j->valuedouble > hi) {
        bs_fail(err, MS_ERR_INVALID, "%s: \"%s\" must be an integer in [%.0f, %.0f]", where, key, lo, hi);
        return 0;
    }
    *out = (int64_t)j->valuedouble;
    return 1;
}

static char *get_str(const cJSON *o, const char *key, int *bad, const char *where, ms_error *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j) return NULL;
    if (!cJSON_IsString(j)) {
        bs_fail(err, MS_ERR_INVALID, "%s: \"%s\" must be a string", where, key);
        *bad = 1;
        return NULL;
    }
    char *s = strdup(j->valuestring);
    if (!s) *bad = 1, bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    return s;
}

/* Parse config.json (absent: defaults). */
ms_status sv_config_read(const char *path, sv_model_cfg **out, ms_error *err)
{
    *out = NULL;
    sv_model_cfg *c = calloc(1, sizeof *c);
    if (!c) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    c->predict_column = -1;
    c->batching.max_batch_size = 0;
    c->batching.max_queue_delay_us = 500;
    c->batching.max_queue = 1024;
    c->stream = sv_stream_cfg_default();
    mc_buf text = {0};
    struct stat st;
    if (stat(path, &st) != 0) { *out = c; return MS_OK; }
    ms_status s = mc_read_file(path, &text, err);
    if (s != MS_OK) { sv_config_free(c); return s; }
    cJSON *root = cJSON_ParseWithLength(text.data, text.len);
    mc_buf_free(&text);
    int bad = 0;
    static const char *const top[] = {"default_version", "batching", "features", "predict", "batch",
                                      "missing", "stream", NULL};
    static const char *const jk[] = {"schedule", "input", "key", "features", "format", "store", "utc",
                                     "threads", "chunk", "keep", "max_rejects", NULL};
    static const char *const bk[] = {"max_batch_size", "max_queue_delay_us", "max_queue_size", NULL};
    static const char *const fk[] = {"store", "table", "key", "columns", NULL};
    static const char *const pk[] = {"output", "column", NULL};
    static const char *const sk[] = {"max_age_s", "max_pending", "wait_ms_max", "pending_s", NULL};
    if (!root || !cJSON_IsObject(root)) {
        bs_fail(err, MS_ERR_INVALID, "%s: not a JSON object", path);
        bad = 1;
        goto done;
    }
    if (!keys_ok(root, top, "config.json", err)) { bad = 1; goto done; }
    c->default_version = get_str(root, "default_version", &bad, "config.json", err);
    if (bad) goto done;
    if (c->default_version && !sv_name_ok(c->default_version)) {
        bs_fail(err, MS_ERR_INVALID, "config.json: default_version must match [A-Za-z0-9._-]+");
        bad = 1;
        goto done;
    }
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(root, "missing");
    if (jm && (!cJSON_IsString(jm) ||
               pd_missing_parse(jm->valuestring, "config.json \"missing\"", &c->missing, err) != MS_OK)) {
        if (!cJSON_IsString(jm)) bs_fail(err, MS_ERR_INVALID, "config.json: \"missing\" must be \"reject\" or \"nan\"");
        bad = 1;
        goto done;
    }
    const cJSON *jb = cJSON_GetObjectItemCaseSensitive(root, "batching");
    if (jb) {
        int64_t q = c->batching.max_queue;
        if (!cJSON_IsObject(jb)) { bs_fail(err, MS_ERR_INVALID, "config.json: \"batching\" must be an object"); bad = 1; goto done; }
        if (!keys_ok(jb, bk, "config.json batching", err) ||
            !get_int(jb, "max_batch_size", 0, 1 << 20, &c->batching.max_batch_size, "config.json batching", err) ||
            !get_int(jb, "max_queue_delay_us", 0, 10000000, &c->batching.max_queue_delay_us, "config.json batching", err) ||
            !get_int(jb, "max_queue_size", 1, 1 << 20, &q, "config.json batching", err)) { bad = 1; goto done; }
        c->batching.max_queue = (int)q;
    }
    const cJSON *jf = cJSON_GetObjectItemCaseSensitive(root, "features");
    if (jf) {
        if (!cJSON_IsObject(jf) || !keys_ok(jf, fk, "config.json features", err)) {
            if (!cJSON_IsObject(jf)) bs_fail(err, MS_ERR_INVALID, "config.json: \"features\" must be an object");
            bad = 1;
            goto done;
        }
        sv_features_cfg *f = c->features = calloc(1, sizeof *f);
        if (!f) { bs_fail(err, MS_ERR_RUNTIME, "out of memory"); bad = 1; goto done; }
        f->store_url = get_str(jf, "store", &bad, "config.json features", err);
        if (!bad) f->table = get_str(jf, "table", &bad, "config.json features", err);
        if (!bad) f->key = get_str(jf, "key", &bad, "config.json features", err);
        if (bad) goto done;
        const cJSON *jc = cJSON_GetObjectItemCaseSensitive(jf, "columns");
        if (!f->table || !f->key || !cJSON_IsArray(jc) || cJSON_GetArraySize(jc) == 0) {
            bs_fail(err, MS_ERR_INVALID, "config.json features: needs \"table\", \"key\" and a non-empty \"columns\" array");
            bad = 1;
            goto done;
        }
        f->columns = calloc((size_t)cJSON_GetArraySize(jc), sizeof *f->columns);
        if (!f->columns) { bs_fail(err, MS_ERR_RUNTIME, "out of memory"); bad = 1; goto done; }
        for (const cJSON *e = jc->child; e; e = e->next) {
            if (!cJSON_IsString(e)) { bs_fail(err, MS_ERR_INVALID, "config.json features: columns must be strings"); bad = 1; goto done; }
            if (!(f->columns[f->ncolumns] = strdup(e->valuestring))) { bad = 1; goto done; }
            f->ncolumns++;
        }
        if (bs_check_ident("table", f->table, err) != MS_OK || bs_check_ident("key column", f->key, err) != MS_OK) { bad = 1; goto done; }
        for (int i = 0; i < f->ncolumns; i++)
            if (bs_check_ident("column", f->columns[i], err) != MS_OK) { bad = 1; goto done; }
    }
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(root, "predict");
    if (jp) {
        int64_t col = -1;
        if (!cJSON_IsObject(jp) || !keys_ok(jp, pk, "config.json predict", err)) {
            if (!cJSON_IsObject(jp)) bs_fail(err, MS_ERR_INVALID, "config.json: \"predict\" must be an object");
            bad = 1;
            goto done;
        }
        c->predict_output = get_str(jp, "output", &bad, "config.json predict", err);
        if (bad || !get_int(jp, "column", -1, 1 << 30, &col, "config.json predict", err)) { bad = 1; goto done; }
        c->predict_column = (int)col;
    }
    const cJSON *jj = cJSON_GetObjectItemCaseSensitive(root, "batch");
    if (jj) {
        static const char *const where = "config.json batch";
        if (!cJSON_IsObject(jj) || !keys_ok(jj, jk, where, err)) {
            if (!cJSON_IsObject(jj)) bs_fail(err, MS_ERR_INVALID, "config.json: \"batch\" must be an object");
            bad = 1;
            goto done;
        }
        sv_batch_job_cfg *b = c->batch = calloc(1, sizeof *b);
        if (!b) { bs_fail(err, MS_ERR_RUNTIME, "out of memory"); bad = 1; goto done; }
        b->threads = 1, b->chunk = 10000, b->keep = 3, b->max_rejects = -1;
        b->schedule = get_str(jj, "schedule", &bad, where, err);
        if (!bad) b->input = get_str(jj, "input", &bad, where, err);
        if (!bad) b->key = get_str(jj, "key", &bad, where, err);
        if (!bad) b->format = get_str(jj, "format", &bad, where, err);
        if (!bad) b->store = get_str(jj, "store", &bad, where, err);
        if (bad) goto done;
        if (!b->schedule || !b->input || !b->key) {
            bs_fail(err, MS_ERR_INVALID, "config.json batch: needs \"schedule\", \"input\" and \"key\"");
            bad = 1;
            goto done;
        }
        bt_cron cron;
        ms_error ce = {{0}};
        if (bt_cron_parse(b->schedule, &cron, &ce) != MS_OK) {
            bs_fail(err, MS_ERR_INVALID, "config.json batch: schedule \"%.100s\": %s", b->schedule, ce.msg);
            bad = 1;
            goto done;
        }
        if (b->format && strcmp(b->format, "csv") && strcmp(b->format, "jsonl")) {
            bs_fail(err, MS_ERR_INVALID, "config.json batch: \"format\" must be \"csv\" or \"jsonl\"");
            bad = 1;
            goto done;
        }
        const cJSON *jfe = cJSON_GetObjectItemCaseSensitive(jj, "features");
        if (cJSON_IsString(jfe)) b->features = strdup(jfe->valuestring);
        else if (cJSON_IsArray(jfe) && cJSON_GetArraySize(jfe) > 0) {
            mc_buf fb = {0};
            for (const cJSON *e = jfe->child; e; e = e->next) {
                if (!cJSON_IsString(e) || strchr(e->valuestring, ',')) {
                    bs_fail(err, MS_ERR_INVALID, "config.json batch: \"features\" must be column names");
                    mc_buf_free(&fb);
                    bad = 1;
                    goto done;
                }
                if (e != jfe->child) mc_buf_putc(&fb, ',');
                mc_buf_puts(&fb, e->valuestring);
            }
            b->features = fb.data; /* NUL-terminated, owned */
        } else if (jfe) {
            bs_fail(err, MS_ERR_INVALID, "config.json batch: \"features\" must be a list of column names");
            bad = 1;
            goto done;
        }
        const cJSON *ju = cJSON_GetObjectItemCaseSensitive(jj, "utc");
        if (ju && !cJSON_IsBool(ju)) { bs_fail(err, MS_ERR_INVALID, "config.json batch: \"utc\" must be true or false"); bad = 1; goto done; }
        b->utc = ju && cJSON_IsTrue(ju);
        int64_t th = b->threads, ch = b->chunk, kp = b->keep;
        if (!get_int(jj, "threads", 1, 255, &th, where, err) || !get_int(jj, "chunk", 1, 10000000, &ch, where, err) ||
            !get_int(jj, "keep", 0, 1 << 20, &kp, where, err) ||
            !get_int(jj, "max_rejects", -1, 9.0e15, &b->max_rejects, where, err)) { bad = 1; goto done; }
        b->threads = (int)th, b->chunk = (long)ch, b->keep = (int)kp;
    }
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (js) {
        static const char *const where = "config.json stream";
        sv_stream_cfg *sc = &c->stream;
        if (!cJSON_IsObject(js)) { bs_fail(err, MS_ERR_INVALID, "config.json: \"stream\" must be an object"); bad = 1; goto done; }
        if (!keys_ok(js, sk, where, err) || !get_int(js, "max_age_s", 0, 31622400, &sc->max_age_s, where, err) ||
            !get_int(js, "max_pending", 0, 1e12, &sc->max_pending, where, err) ||
            !get_int(js, "wait_ms_max", 0, 600000, &sc->wait_ms_max, where, err) ||
            !get_int(js, "pending_s", 1, 31622400, &sc->pending_s, where, err)) { bad = 1; goto done; }
    }
done:
    cJSON_Delete(root);
    if (bad) { sv_config_free(c); return MS_ERR_INVALID; }
    *out = c;
    return MS_OK;
}
