/* sv_predict.c: the tutorial's POST /predict on the default model: rows of float features
 * in (sv_predict_fast, else sv_predict_parse: sv_body.c), one value per row out. */
#include "serve/sv_int.h"

#include <stdio.h>
#include <string.h>

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
        sv_out_row(b, j->v->model, o, t, i, col);
    }
    mc_buf_puts(b, "]}");
    j->r->status = 200;
}

/* POST /predict: the model named 'default', or the only model. */
void sv_predict_route(sv_server *s, sv_req *r, const sv_match *mt)
{
    char name[SV_NAME_MAX];
    if (!sv_repo_default_model(s->repo, name, sizeof name)) {
        sv_req_error(r, 404, "no default model: /predict serves the model named 'default' (or the only model); use /v1/models/{m}:predict");
        return;
    }
    sv_version *v = get_version(s, r, name, NULL);
    if (!v) return;
    job *j = job_new(s, r, v, reply_predict);
    if (!j) return;
    const ms_value_info *vi = ms_model_input(v->model, 0);
    if (sv_predict_fast(vi, j->n_in, r->body.data, r->body.len, &j->in[0])) {
        j->own[0] = j->in[0].data;
        run_job(j);
        return;
    }
    sv_perr e;
    if (sv_predict_parse(v->name, vi, j->n_in, r->body.data, r->body.len, &j->in[0], &j->own[0], &e)) {
        sv_req_error(r, e.status, "%s", e.msg);
        return;
    }
    run_job(j);
}
