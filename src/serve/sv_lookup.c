/* sv_lookup.c: stored predictions, GET /v1/models/{m}/predictions/{key} and POST
 * .../predictions {"keys": [..]}: the newest of the published batch run's row and the latest
 * stream result (st_pred_latest), in bt_lookup.h's JSON plus "source" ("batch" or "stream"),
 * read through a small pool of store handles per URL and open mode (one request at a time on
 * a handle: a handle is one connection). */
#include "serve/sv_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/bt_lookup.h"
#include "store/store.h"

#define POOL_MAX 64

ms_status sv_store_get(sv_server *s, const char *url, int flags, st_store **out, ms_error *err)
{
    pthread_mutex_lock(&s->pool_mu);
    for (int i = s->npool - 1; i >= 0; i--)
        if (s->pool[i].flags == flags && strcmp(s->pool[i].url, url) == 0) {
            *out = s->pool[i].h;
            free(s->pool[i].url);
            s->pool[i] = s->pool[--s->npool];
            pthread_mutex_unlock(&s->pool_mu);
            return MS_OK;
        }
    pthread_mutex_unlock(&s->pool_mu);
    return st_open_flags(url, flags, out, err);
}

void sv_store_put(sv_server *s, const char *url, int flags, st_store *h, ms_status last)
{
    if (!h) return;
    if (last == MS_ERR_RUNTIME) { st_close(h); return; } /* a broken connection is not pooled */
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool == s->cap_pool && s->cap_pool < POOL_MAX) {
        int nc = s->cap_pool ? s->cap_pool * 2 : 8;
        sv_pooled *p = realloc(s->pool, (size_t)nc * sizeof *p);
        if (p) s->pool = p, s->cap_pool = nc;
    }
    char *u = s->npool < s->cap_pool ? strdup(url) : NULL;
    if (u) {
        s->pool[s->npool].url = u;
        s->pool[s->npool].flags = flags;
        s->pool[s->npool++].h = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    st_close(h);
}

typedef struct latest_ctx {
    mc_buf *b;
    const char *const *keys;
    int lines; /* one object per line (GET), else a JSON array's elements (POST) */
    size_t found;
} latest_ctx;

/* bt_prediction_json's object with ,"source":..[,"event_id":..] before its closing brace. */
static int on_latest(void *ctx, size_t i, const st_pred_row *row)
{
    latest_ctx *c = ctx;
    if (!c->lines && i > 0) mc_buf_putc(c->b, ',');
    if (row) {
        bt_prediction_json(c->b, row);
        if (c->b->len && c->b->data[c->b->len - 1] == '}') c->b->len--;
        int stream = row->source && strcmp(row->source, "stream") == 0;
        mc_buf_puts(c->b, stream ? ",\"source\":\"stream\"" : ",\"source\":\"batch\"");
        if (stream && row->event_id) {
            mc_buf_puts(c->b, ",\"event_id\":");
            mc_buf_put_json_str(c->b, row->event_id);
        }
        mc_buf_putc(c->b, '}');
        c->found++;
    } else {
        mc_buf_puts(c->b, "{\"key\":");
        mc_buf_put_json_str(c->b, c->keys[i]);
        mc_buf_puts(c->b, ",\"found\":false}");
    }
    if (c->lines) mc_buf_putc(c->b, '\n');
    return 0;
}

static ms_status latest_json(st_store *h, const char *m, const char *const *keys, size_t n, int lines,
                             mc_buf *out, size_t *found, ms_error *err)
{
    latest_ctx c = {out, keys, lines, 0};
    if (!lines) {
        mc_buf_puts(out, "{\"model\":");
        mc_buf_put_json_str(out, m);
        mc_buf_puts(out, ",\"predictions\":[");
    }
    ms_status st = st_pred_latest(h, m, keys, n, on_latest, &c, err);
    if (!lines) mc_buf_puts(out, "]}");
    *found = c.found;
    if (st == MS_OK && mc_buf_failed(out)) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    return st;
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
    ms_status st = sv_store_get(s, url, ST_OPEN_READONLY, &h, &err); /* lookups never create a store */
    if (st == MS_OK) st = latest_json(h, m, keys, n, key != NULL, &r->out, &found, &err);
    /* nothing found: tell an unknown key from a model that has no published run (checked only
     * then, so a hit costs nothing more); a store without batch runs (Redis) has only keys */
    if (st == MS_OK && !found) {
        st = bt_lookup_published(h, m, &published, &err);
        if (st == MS_ERR_UNSUPPORTED) st = MS_OK, published = 1;
    }
    sv_store_put(s, url, ST_OPEN_READONLY, h, st);
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

void sv_lookup_one(sv_server *s, sv_req *r, const sv_match *mt) { handle_predictions(s, r, mt->m, mt->key); }

void sv_lookup_many(sv_server *s, sv_req *r, const sv_match *mt) { handle_predictions(s, r, mt->m, NULL); }
