/* sm_score.c: events of one model -> input tensors -> one padded run -> outputs JSON per row
 * (sm_score.h). A failing batch run is retried row by row; a model whose outputs are not
 * row-wise (first dimension is not the batch) is run one row at a time, so results never mix. */
#include "stream/sm_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"
#include "codec/codec_buf.h"
#include "predict/pd_pool.h"
#include "stream/sm_result.h"

typedef struct plan {
    const ms_model *m;
    int n_in, n_out;
    int64_t per[MS_MAX_IO]; /* values per row of each input */
    int one_row;            /* some input has a fixed batch dimension of 1 (or none) */
    void *data[MS_MAX_IO];  /* rows * per values of each input */
    size_t cap;             /* rows allocated */
} plan;

static ms_status oom(ms_error *err) { return bs_fail(err, MS_ERR_RUNTIME, "out of memory"); }

static int dtype_ok(ms_dtype t)
{
    return t == MS_DTYPE_FLOAT || t == MS_DTYPE_DOUBLE || t == MS_DTYPE_INT64 ||
           t == MS_DTYPE_INT32 || t == MS_DTYPE_BOOL;
}

/* The values one row gives input i: fixed dims multiplied; a 2-D input's symbolic second
 * dimension from the first event that names it (or the feature store's columns). */
static ms_status plan_init(plan *p, const sm_model_ref *ref, const sm_row *rows, size_t n,
                           ms_error *err)
{
    memset(p, 0, sizeof *p);
    p->m = ref->pm->model;
    p->n_in = ms_model_num_inputs(p->m);
    p->n_out = ms_model_num_outputs(p->m);
    for (int i = 0; i < p->n_in; i++) {
        const ms_value_info *vi = ms_model_input(p->m, i);
        if (!dtype_ok(vi->dtype))
            return bs_fail(err, MS_ERR_UNSUPPORTED, "input '%s' of model '%s' is %s; events carry "
                           "float, double, integer and bool inputs", vi->name, ref->name, ms_dtype_name(vi->dtype));
        if (vi->ndim < 1 || vi->shape[0] == 1) p->one_row = 1;
        else if (vi->shape[0] > 1)
            return bs_fail(err, MS_ERR_UNSUPPORTED, "input '%s' of model '%s' has a fixed batch "
                           "dimension of %lld", vi->name, ref->name, (long long)vi->shape[0]);
        int64_t per = 1;
        for (int d = 1; d < vi->ndim; d++) {
            int64_t k = vi->shape[d];
            if (k < 0 && vi->ndim == 2) {
                k = ref->features ? ref->features->ncolumns : 0;
                for (size_t r = 0; r < n && k <= 0; r++)
                    for (int j = 0; j < rows[r].ev->ninputs && k <= 0; j++)
                        if (!rows[r].ev->inputs[j].name || strcmp(rows[r].ev->inputs[j].name, vi->name) == 0)
                            k = (int64_t)rows[r].ev->inputs[j].nvals;
                if (k <= 0) k = 1;
            } else if (k < 0) {
                return bs_fail(err, MS_ERR_UNSUPPORTED, "input '%s' of model '%s' has a symbolic "
                               "dimension %d; events bind only the batch dimension and a 2-D input's "
                               "second", vi->name, ref->name, d);
            }
            per *= k;
        }
        p->per[i] = per;
    }
    return MS_OK;
}

static void plan_free(plan *p)
{
    for (int i = 0; i < p->n_in; i++) free(p->data[i]);
}

static ms_status plan_reserve(plan *p, size_t rows, ms_error *err)
{
    if (rows <= p->cap) return MS_OK;
    for (int i = 0; i < p->n_in; i++) {
        size_t es = ms_dtype_size(ms_model_input(p->m, i)->dtype);
        void *d = realloc(p->data[i], rows * (size_t)p->per[i] * es);
        if (!d) return oom(err);
        p->data[i] = d;
    }
    p->cap = rows;
    return MS_OK;
}

/* The event's values for input i, or NULL with the reason in r->error. */
static const sm_input *find_input(const plan *p, int i, sm_row *r)
{
    const ms_value_info *vi = ms_model_input(p->m, i);
    const sm_event *ev = r->ev;
    for (int j = 0; j < ev->ninputs; j++) {
        const char *nm = ev->inputs[j].name;
        if (!nm && p->n_in == 1) return &ev->inputs[j];
        if (nm && strcmp(nm, vi->name) == 0) return &ev->inputs[j];
    }
    if (ev->ninputs == 1 && !ev->inputs[0].name)
        snprintf(r->error, sizeof r->error, "field 'features': the model has %d inputs; give an "
                 "object input name -> array (no input '%s')", p->n_in, vi->name);
    else snprintf(r->error, sizeof r->error, "field 'features': no input '%s'", vi->name);
    return NULL;
}

/* An object naming an input the model does not have is refused (a typo is not a no-op). */
static int unknown_names(const plan *p, sm_row *r)
{
    for (int j = 0; j < r->ev->ninputs; j++) {
        const char *nm = r->ev->inputs[j].name;
        int ok = !nm;
        for (int i = 0; i < p->n_in && !ok; i++) ok = strcmp(nm, ms_model_input(p->m, i)->name) == 0;
        if (!ok) {
            char e[MC_ESCAPE_CAP(40)];
            snprintf(r->error, sizeof r->error, "field 'features': the model has no input '%s'",
                     mc_escape(e, sizeof e, nm, strlen(nm), 40));
            return 1;
        }
    }
    return 0;
}

/* Row `slot` of input i from double/float values: 0, or 1 with the reason in r->error. */
static int put_values(const plan *p, int i, size_t slot, const double *d, const float *f,
                      size_t n, sm_row *r)
{
    const ms_value_info *vi = ms_model_input(p->m, i);
    size_t per = (size_t)p->per[i];
    void *base = (char *)p->data[i] + slot * per * ms_dtype_size(vi->dtype);
    for (size_t k = 0; k < n; k++) {
        double v = d ? d[k] : (double)f[k];
        switch (vi->dtype) {
        case MS_DTYPE_FLOAT: ((float *)base)[k] = f ? f[k] : (float)v; continue;
        case MS_DTYPE_DOUBLE: ((double *)base)[k] = v; continue;
        default: break;
        }
        int is_int = isfinite(v) && v == floor(v) && fabs(v) <= 9007199254740992.0;
        if (!is_int || (vi->dtype == MS_DTYPE_INT32 && (v < INT32_MIN || v > INT32_MAX)) ||
            (vi->dtype == MS_DTYPE_BOOL && v != 0 && v != 1)) {
            snprintf(r->error, sizeof r->error, "field 'features': input '%s' value %zu is not %s",
                     vi->name, k, vi->dtype == MS_DTYPE_BOOL ? "0 or 1" : "an integer in range");
            return 1;
        }
        if (vi->dtype == MS_DTYPE_INT64) ((int64_t *)base)[k] = (int64_t)v;
        else if (vi->dtype == MS_DTYPE_INT32) ((int32_t *)base)[k] = (int32_t)v;
        else ((uint8_t *)base)[k] = (uint8_t)v;
    }
    return 0;
}

/* The missing / non-finite policy on row `slot` of input i. */
static int check_row(const sm_model_ref *ref, const plan *p, int i, size_t slot, sm_row *r)
{
    const ms_value_info *vi = ms_model_input(p->m, i);
    size_t per = (size_t)p->per[i], bad = 0;
    const void *row = (const char *)p->data[i] + slot * per * ms_dtype_size(vi->dtype);
    pd_why why = pd_check_values(&ref->policy, i, vi->dtype, row, per, &bad);
    if (why == PD_OK) return 0;
    if (why == PD_WHY_MISSING)
        snprintf(r->error, sizeof r->error, "input '%s': feature %zu is missing or NaN (%s)",
                 vi->name, bad, pd_missing_hint(&ref->policy, i));
    else
        snprintf(r->error, sizeof r->error, "input '%s': feature %zu is not finite or out of range",
                 vi->name, bad);
    return 1;
}

/* Bind row r into slot: 0, or 1 with r->error set. */
static int bind_row(const sm_model_ref *ref, const plan *p, size_t slot, sm_row *r)
{
    if (r->fetched) {
        if (p->n_in != 1 || (int64_t)r->fetched_n != p->per[0]) {
            snprintf(r->error, sizeof r->error, "the feature store gives %d values but input '%s' "
                     "expects %lld", r->fetched_n, ms_model_input(p->m, 0)->name, (long long)p->per[0]);
            return 1;
        }
        return put_values(p, 0, slot, NULL, r->fetched, (size_t)r->fetched_n, r) || check_row(ref, p, 0, slot, r);
    }
    if (unknown_names(p, r)) return 1;
    for (int i = 0; i < p->n_in; i++) {
        const sm_input *in = find_input(p, i, r);
        if (!in) return 1;
        if ((int64_t)in->nvals != p->per[i]) {
            snprintf(r->error, sizeof r->error, "field 'features': input '%s' expects %lld numbers, got %zu",
                     ms_model_input(p->m, i)->name, (long long)p->per[i], in->nvals);
            return 1;
        }
        if (put_values(p, i, slot, in->vals, in->fvals, in->nvals, r) || check_row(ref, p, i, slot, r)) return 1;
    }
    return 0;
}

/* Run `rows` bound slots (padded to the pool's bucket by repeating slot 0). On a run error
 * *st is set with err; outs are valid until the session is put back. */
static ms_session *run_slots(const sm_model_ref *ref, plan *p, size_t rows, int64_t *bucket,
                             ms_tensor *outs, ms_status *st, ms_error *err)
{
    pd_pool *pool = ref->pm->pool;
    int64_t b = p->one_row ? 1 : pd_pool_bucket(pool, (int64_t)rows);
    if (b < (int64_t)rows) b = (int64_t)rows;
    if ((*st = plan_reserve(p, (size_t)b, err)) != MS_OK) return NULL;
    ms_tensor in[MS_MAX_IO];
    for (int i = 0; i < p->n_in; i++) {
        const ms_value_info *vi = ms_model_input(p->m, i);
        size_t row_bytes = (size_t)p->per[i] * ms_dtype_size(vi->dtype);
        for (int64_t k = (int64_t)rows; k < b; k++)
            memcpy((char *)p->data[i] + (size_t)k * row_bytes, p->data[i], row_bytes);
        in[i].dtype = vi->dtype;
        in[i].ndim = vi->ndim < 1 ? 0 : vi->ndim;
        if (vi->ndim >= 1) in[i].shape[0] = b;
        for (int d = 1; d < vi->ndim; d++) in[i].shape[d] = vi->shape[d] >= 0 ? vi->shape[d] : p->per[i];
        in[i].data = p->data[i];
    }
    ms_session *s = pd_pool_get(pool, b, err);
    if (!s) {
        *st = MS_ERR_RUNTIME;
        return NULL;
    }
    *bucket = b;
    *st = ms_session_run(s, in, p->n_in, outs, p->n_out, err);
    return s;
}

static int row_wise(const plan *p, const ms_tensor *outs, int64_t b)
{
    for (int o = 0; o < p->n_out; o++)
        if (outs[o].ndim < 1 || outs[o].shape[0] != b) return 0;
    return 1;
}

/* Write the outputs of rows[idx[k]] = run row k, k < n. */
static void write_rows(const plan *p, const ms_tensor *outs, int64_t b, sm_row *rows,
                       const size_t *idx, size_t n, mc_buf *out)
{
    for (size_t k = 0; k < n; k++) {
        sm_row *r = &rows[idx[k]];
        if (pd_check_output_row(p->m, outs, p->n_out, (int64_t)k, b, r->error, sizeof r->error) != PD_OK)
            continue;
        r->error[0] = 0;
        r->off = out->len;
        sm_outputs_json(out, p->m, outs, p->n_out, (int64_t)k, b);
        r->len = out->len - r->off;
    }
}

/* Rows idx[0..n) bound in slots 0..n-1, run together; on a run error or outputs that are not
 * row-wise, each row alone. */
static ms_status run_group(const sm_model_ref *ref, plan *p, sm_row *rows, const size_t *idx,
                           size_t n, mc_buf *out, ms_error *err)
{
    ms_tensor outs[MS_MAX_IO];
    ms_status st;
    int64_t b = 0;
    if (n > 1 && !p->one_row) {
        ms_session *s = run_slots(ref, p, n, &b, outs, &st, err);
        if (!s) return st;
        int whole = st == MS_OK && row_wise(p, outs, b);
        if (whole) write_rows(p, outs, b, rows, idx, n, out);
        pd_pool_put(ref->pm->pool, b, s);
        if (whole) return MS_OK;
    }
    /* one at a time: row k moves to slot 0 (rows before it are done, rows after it stay in
     * their slots; a one-row run is never padded) */
    for (size_t k = 0; k < n; k++) {
        for (int i = 0; i < p->n_in && k; i++) {
            size_t rb = (size_t)p->per[i] * ms_dtype_size(ms_model_input(p->m, i)->dtype);
            memcpy(p->data[i], (char *)p->data[i] + k * rb, rb);
        }
        ms_error e1 = {{0}};
        ms_session *s = run_slots(ref, p, 1, &b, outs, &st, &e1);
        if (!s) return bs_fail(err, st, "%s", e1.msg);
        if (st == MS_OK) write_rows(p, outs, b, rows, &idx[k], 1, out);
        else snprintf(rows[idx[k]].error, sizeof rows[idx[k]].error, "%s", e1.msg);
        pd_pool_put(ref->pm->pool, b, s);
    }
    return MS_OK;
}

ms_status sm_score(const sm_model_ref *ref, sm_row *rows, size_t n, mc_buf *out, ms_error *err)
{
    plan p;
    ms_status st = plan_init(&p, ref, rows, n, err);
    size_t *idx = st == MS_OK ? malloc((n ? n : 1) * sizeof *idx) : NULL;
    if (st == MS_OK && (!idx || (st = plan_reserve(&p, n ? n : 1, err)) != MS_OK)) st = st ? st : oom(err);
    size_t good = 0;
    for (size_t r = 0; st == MS_OK && r < n; r++) {
        rows[r].error[0] = 0;
        rows[r].len = 0;
        if (!bind_row(ref, &p, good, &rows[r])) idx[good++] = r;
    }
    if (st == MS_OK && good) st = run_group(ref, &p, rows, idx, good, out, err);
    if (st == MS_OK && mc_buf_failed(out)) st = oom(err);
    free(idx);
    plan_free(&p);
    return st;
}
