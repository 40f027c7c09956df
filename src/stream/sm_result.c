/* sm_result.c: a scored row's outputs as JSON and the result message (sm_result.h). */
#include "stream/sm_result.h"

#include <string.h>

#include "predict/pd_json.h"

void sm_outputs_json(mc_buf *b, const ms_model *m, const ms_tensor *outs, int n_out, int64_t r,
                     int64_t nrows)
{
    mc_buf_putc(b, '{');
    for (int i = 0; i < n_out; i++) {
        const ms_tensor *t = &outs[i];
        if (i) mc_buf_putc(b, ',');
        mc_buf_put_json_str(b, ms_model_output(m, i)->name);
        mc_buf_putc(b, ':');
        if (t->ndim < 1 || t->shape[0] != nrows) /* not batched: the whole tensor */
            pd_json_put_nested(b, t, 0, t->shape, t->ndim);
        else
            pd_json_put_row(b, m, i, t, r, 0); /* a label map, a number or the row's arrays */
    }
    mc_buf_putc(b, '}');
}

static void put(qu_field *f, int *n, const char *name, const char *v)
{
    if (v) f[(*n)++] = (qu_field){name, strlen(name), v, strlen(v)};
}

int sm_result_fields(const sm_result *r, qu_field f[SM_RESULT_FIELDS])
{
    int n = 0;
    put(f, &n, "id", r->id);
    put(f, &n, "key", r->key);
    put(f, &n, "model", r->model);
    if (r->error) {
        put(f, &n, "error", r->error);
    } else {
        put(f, &n, "version", r->version);
        put(f, &n, "outputs", r->outputs);
    }
    put(f, &n, "ts", r->ts);
    put(f, &n, "scored_at", r->scored_at);
    return n;
}

static void put_member(mc_buf *b, const char *name, const char *v, int raw)
{
    if (!v) return;
    if (b->len && b->data[b->len - 1] != '{') mc_buf_putc(b, ',');
    mc_buf_put_json_str(b, name);
    mc_buf_putc(b, ':');
    if (raw) mc_buf_puts(b, v);
    else mc_buf_put_json_str(b, v);
}

void sm_result_json(mc_buf *b, const sm_result *r)
{
    mc_buf_putc(b, '{');
    put_member(b, "id", r->id, 0);
    put_member(b, "key", r->key, 0);
    put_member(b, "model", r->model, 0);
    if (r->error) {
        put_member(b, "error", r->error, 0);
    } else {
        put_member(b, "version", r->version, 0);
        put_member(b, "outputs", r->outputs, 1);
    }
    put_member(b, "ts", r->ts, 0);
    put_member(b, "scored_at", r->scored_at, 0);
    mc_buf_putc(b, '}');
}
