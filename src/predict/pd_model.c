/* pd_model.c: load -> check -> plan -> warm (see pd_model.h). */
#include "predict/pd_model.h"

#include <stdlib.h>

#include "codec/codec_buf.h"

ms_status pd_model_adopt(ms_model *m, int64_t max_rows, pd_model **out, ms_error *err)
{
    *out = NULL;
    ms_status st = ms_model_check_supported(m, err);
    pd_model *pm = st == MS_OK ? calloc(1, sizeof *pm) : NULL;
    if (st == MS_OK && !pm) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st == MS_OK) st = pd_pool_create(m, max_rows, &pm->pool, err);
    if (st != MS_OK) {
        free(pm);
        ms_model_free(m);
        return st;
    }
    pm->model = m;
    pm->max_rows = max_rows;
    *out = pm;
    return MS_OK;
}

ms_status pd_model_open(const char *path, int64_t max_rows, pd_model **out, ms_error *err)
{
    *out = NULL;
    ms_model *m = NULL;
    ms_status st = ms_model_load_file(path, &m, err);
    if (st != MS_OK) return st;
    return pd_model_adopt(m, max_rows, out, err);
}

void pd_model_free(pd_model *pm)
{
    if (!pm) return;
    pd_pool_free(pm->pool); /* the sessions first: they point into the model */
    ms_model_free(pm->model);
    free(pm);
}

ms_status pd_model_run_zeros(const ms_model *m, ms_session *s, int64_t rows, ms_error *err)
{
    int n = ms_model_num_inputs(m), nout = ms_model_num_outputs(m);
    ms_tensor in[MS_MAX_IO];
    void *blocks[MS_MAX_IO] = {0};
    if (n > MS_MAX_IO || nout > MS_MAX_IO) return MS_OK;
    ms_status st = MS_OK;
    for (int i = 0; i < n; i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        if (vi->ndim < 0 || vi->dtype == MS_DTYPE_UNDEFINED) { st = MS_ERR_UNSUPPORTED; break; }
        in[i].dtype = vi->dtype;
        in[i].ndim = vi->ndim;
        int64_t numel = 1;
        for (int d = 0; d < vi->ndim; d++) {
            in[i].shape[d] = vi->shape[d] >= 0 ? vi->shape[d] : d == 0 && rows > 0 ? rows : 1;
            numel *= in[i].shape[d];
        }
        size_t bytes = (size_t)numel * ms_dtype_size(vi->dtype);
        if (vi->dtype == MS_DTYPE_STRING) {
            const char **p = calloc((size_t)numel + 1, sizeof *p);
            for (int64_t k = 0; p && k < numel; k++) p[k] = "";
            blocks[i] = (void *)p;
        } else blocks[i] = calloc(1, bytes ? bytes : 1);
        if (!blocks[i]) { st = bs_fail(err, MS_ERR_RUNTIME, "out of memory"); break; }
        in[i].data = blocks[i];
    }
    if (st == MS_OK) {
        ms_tensor outs[MS_MAX_IO];
        st = ms_session_run(s, in, n, outs, nout, err);
    } else if (st == MS_ERR_UNSUPPORTED) st = MS_OK; /* no declared shape: cannot warm, not an error */
    for (int i = 0; i < n; i++) free(blocks[i]);
    return st;
}

/* Bucket sessions only help a model whose every input takes any number of rows of numbers. */
static int paddable(const ms_model *m)
{
    int n = ms_model_num_inputs(m);
    for (int i = 0; i < n; i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        if (vi->ndim < 1 || vi->shape[0] >= 0 || vi->dtype == MS_DTYPE_STRING ||
            vi->dtype == MS_DTYPE_UNDEFINED) return 0;
    }
    return n > 0;
}

/* One session for batches of `rows` (PD_POOL_ANY: any shape), warmed and pooled. */
static ms_status warm_one(pd_model *pm, int64_t rows, ms_error *err)
{
    ms_session *s = pd_pool_get(pm->pool, rows, err);
    if (!s) return MS_ERR_RUNTIME;
    ms_status st = pd_model_run_zeros(pm->model, s, rows, err);
    if (st != MS_OK) {
        ms_session_free(s);
        return st;
    }
    pd_pool_put(pm->pool, rows, s);
    return MS_OK;
}

ms_status pd_model_warm(pd_model *pm, int64_t warm_rows, ms_error *err)
{
    ms_status st = warm_one(pm, PD_POOL_ANY, err);
    if (st != MS_OK || warm_rows <= 1 || !paddable(pm->model)) return st;
    /* Merged batches hold two requests or more, so the 1-row bucket is never padded to. */
    for (int64_t rows = 2;; rows <<= 1) {
        int64_t b = pd_pool_bucket(pm->pool, rows < warm_rows ? rows : warm_rows);
        ms_error e2 = {{0}};
        st = warm_one(pm, b, &e2);
        if (st != MS_OK)
            return bs_fail(err, st, "warming a batch of %lld rows: %s", (long long)b, e2.msg);
        if (b >= warm_rows || rows >= ((int64_t)1 << 30)) break;
    }
    return MS_OK;
}
