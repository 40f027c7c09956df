/* sv_v2.c: Open Inference Protocol (KServe V2) inference, JSON and the binary tensor
 * extension: the body is parsed by sv_v2_parse (sv_body.c), bound to the model's inputs by
 * name, run as a job, and answered with whole tensors (pd_json, or raw bytes after a JSON
 * header when binary outputs were asked for). */
#define _GNU_SOURCE
#include "serve/sv_int.h"

#include "predict/pd_json.h"

#include <stdio.h>
#include <string.h>

static void reply_v2(job *j, const ms_tensor *outs)
{
    sv_req *r = j->r;
    const ms_model *m = j->v->model;
    int idx[MS_MAX_IO], bin[MS_MAX_IO], n = 0, any_bin = 0;
    if (j->v2.n_sel) {
        for (int i = 0; i < j->v2.n_sel; i++) idx[i] = j->v2.sel[i], bin[i] = j->v2.sel_binary[i] || j->v2.all_binary;
        n = j->v2.n_sel;
    } else {
        for (int i = 0; i < j->n_out; i++) idx[i] = i, bin[i] = j->v2.all_binary;
        n = j->n_out;
    }
    for (int i = 0; i < n; i++) any_bin |= bin[i];
    mc_buf *b = &r->out;
    mc_buf_reset(b);
    ms_error err = {{0}};
    if (!any_bin) {
        const char *names[MS_MAX_IO];
        ms_tensor sel[MS_MAX_IO];
        for (int i = 0; i < n; i++) names[i] = ms_model_output(m, idx[i])->name, sel[i] = outs[idx[i]];
        pd_json_response resp = {j->v->name, j->v->version, j->v2.id, n, names, sel};
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
    if (j->v2.id) {
        mc_buf_puts(b, ",\"id\":");
        mc_buf_put_json_str(b, j->v2.id);
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

/* Bind the request's tensors to model inputs by name; check each against its declaration. */
static int bind_inputs(job *j)
{
    const ms_model *m = j->v->model;
    for (int k = 0; k < j->v2.oip.n_inputs; k++) {
        int found = 0;
        for (int i = 0; i < j->n_in; i++) found |= strcmp(ms_model_input(m, i)->name, j->v2.oip.inputs[k].name) == 0;
        if (!found) {
            char names[300] = "";
            size_t p = 0;
            for (int i = 0; i < j->n_in && p < sizeof names; i++)
                p += (size_t)snprintf(names + p, sizeof names - p, "%s'%s'", i ? ", " : "", ms_model_input(m, i)->name);
            sv_req_error(j->r, 400, "model '%s' has no input '%s' (its inputs: %s)", j->v->name, j->v2.oip.inputs[k].name, names);
            return -1;
        }
    }
    for (int i = 0; i < j->n_in; i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        int k = 0;
        while (k < j->v2.oip.n_inputs && strcmp(j->v2.oip.inputs[k].name, vi->name) != 0) k++;
        if (k == j->v2.oip.n_inputs) {
            char want[200];
            sv_req_error(j->r, 400, "missing input '%s': model '%s' expects %s", vi->name, j->v->name,
                         ms_value_info_format(vi, want, sizeof want));
            return -1;
        }
        j->in[i] = j->v2.oip.inputs[k].t;
    }
    ms_error err;
    if (ms_model_check_inputs(m, j->in, j->n_in, &err) != MS_OK) {
        sv_req_error(j->r, 400, "%s", err.msg);
        return -1;
    }
    return 0;
}

/* POST /v2/models/{m}[/versions/{v}]/infer */
void sv_v2_infer(sv_server *s, sv_req *r, const sv_match *mt)
{
    sv_version *v = get_version(s, r, mt->m, mt->v);
    if (!v) return;
    job *j = job_new(s, r, v, reply_v2);
    if (!j) return;
    sv_perr e;
    if (sv_v2_parse(&j->v2, v->model, v->name, r->body.data, r->body.len,
                    sv_req_header(r, "Inference-Header-Content-Length"), &e)) {
        sv_req_error(r, e.status, "%s", e.msg);
        return;
    }
    if (bind_inputs(j)) return;
    run_job(j);
}
