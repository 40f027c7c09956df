/* sv_meta.c: everything that is not inference: server and model metadata (V2), health and
 * readiness, the Triton repository API (admin token), and /metrics. */
#include "serve/sv_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "serve/sv_metrics.h"
#include "serve/sv_stream.h"

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
    sv_stream_metrics(((sv_server *)ctx)->stream, out);
}

/* GET /v2/models/{m}[/versions/{v}] */
void sv_meta_model(sv_server *s, sv_req *r, const sv_match *mt)
{
    sv_version *ver = get_version(s, r, mt->m, mt->v);
    if (!ver) return;
    handle_model_meta(s, r, ver, mt->v != NULL);
    sv_version_release(ver);
}

/* GET /v2/models/{m}[/versions/{v}]/ready: 200 true, 400 false (known, nothing serving) */
void sv_meta_model_ready(sv_server *s, sv_req *r, const sv_match *mt)
{
    const char *m = mt->m;
    sv_version *ver = NULL;
    char why[300];
    int st = sv_repo_acquire(s->repo, m, mt->v, &ver, why, sizeof why);
    if (st == 404) { sv_req_error(r, 404, "%s", why); return; }
    snprintf(r->model, sizeof r->model, "%s", m);
    mc_buf_puts(&r->out, "{\"name\":");
    mc_buf_put_json_str(&r->out, m);
    mc_buf_printf(&r->out, ",\"ready\":%s}", ver ? "true" : "false");
    r->status = ver ? 200 : 400;
    sv_version_release(ver);
}

/* GET /v2 */
void sv_meta_server(sv_server *s, sv_req *r, const sv_match *mt)
{
    mc_buf_puts(&r->out, "{\"name\":\"mlship\",\"version\":\"" MS_VERSION_STRING
                         "\",\"extensions\":[\"binary_tensor_data\",\"model_repository\"]}");
    r->status = 200;
}

/* GET /v2/health/live | /v2/health/ready */
static void health(sv_server *s, sv_req *r, int live)
{
    int draining = atomic_load(&s->draining);
    char why[1024] = "shutting down";
    int ok = live || (!draining && sv_repo_ready(s->repo, why, sizeof why));
    mc_buf_printf(&r->out, "{\"%s\":%s", live ? "live" : "ready", ok ? "true" : "false");
    if (!ok) { /* not ready: say why (no model loaded, a model refused, draining) */
        mc_buf_puts(&r->out, ",\"reason\":");
        mc_buf_put_json_str(&r->out, why);
    }
    mc_buf_putc(&r->out, '}');
    r->status = ok ? 200 : 400;
}

void sv_meta_live(sv_server *s, sv_req *r, const sv_match *mt) { health(s, r, 1); }

void sv_meta_ready(sv_server *s, sv_req *r, const sv_match *mt) { health(s, r, 0); }

/* POST /v2/repository/index [{"ready": true|false}] */
void sv_meta_repo_index(sv_server *s, sv_req *r, const sv_match *mt)
{
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
}

/* POST /v2/repository/models/{m}/load | unload (the name is checked here, after the token) */
static void repo_load(sv_req *r, sv_server *s, const char *m, int load)
{
    if (!names_ok(r, m, NULL)) return;
    snprintf(r->model, sizeof r->model, "%s", m);
    ms_error err = {{0}};
    ms_status st = load ? sv_repo_load(s->repo, m, &err) : sv_repo_unload(s->repo, m, &err);
    if (st != MS_OK) { sv_req_error(r, 400, "%s", err.msg); return; }
    r->status = 200; /* Triton answers an empty body */
}

void sv_meta_repo_load(sv_server *s, sv_req *r, const sv_match *mt) { repo_load(r, s, mt->m, 1); }

void sv_meta_repo_unload(sv_server *s, sv_req *r, const sv_match *mt) { repo_load(r, s, mt->m, 0); }

/* GET /metrics: Prometheus text, with the repository's and the scheduler's gauges */
void sv_meta_metrics(sv_server *s, sv_req *r, const sv_match *mt)
{
    sv_metrics_write(&r->out, metrics_gauges, s);
    r->content_type = "text/plain; version=0.0.4";
    r->status = 200;
}
