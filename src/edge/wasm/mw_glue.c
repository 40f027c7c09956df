/* mw_glue.c: the WebAssembly face of the runtime, the few functions web/mlship.mjs calls.
 * Layer edge/wasm: it includes mlship.h and nothing else of the project.
 *
 * One handle per loaded model: the model bytes (the runtime references weights in place, so
 * the copy lives as long as the model), the model, one session, and per input a data buffer
 * that grows to the largest batch seen, so a run at a batch size already seen allocates nothing.
 * JavaScript writes an input's shape into the handle's `shape` slot (doubles: a JS number
 * needs no BigInt), asks mw_input for the buffer, copies the data in, calls mw_run and reads
 * the outputs through mw_out_*. Errors: a function that fails returns 0 (or a status) and
 * leaves the runtime's message in mw_error(). Nothing here prints, reads files or exits. */
#include "mlship.h"

#include <stdio.h>
#include <string.h>

#define MW_EXPORT(name) __attribute__((export_name(#name)))

typedef struct mw_handle {
    void *bytes;
    ms_model *model;
    ms_session *sess;
    int n_in, n_out;
    double shape[MS_MAX_DIMS]; /* the next mw_input's shape, written by JavaScript */
    ms_tensor in[MS_MAX_IO];
    size_t in_cap[MS_MAX_IO];
    ms_tensor out[MS_MAX_IO];
} mw_handle;

static ms_error last_err;

static void *fail_null(const char *msg)
{
    snprintf(last_err.msg, sizeof last_err.msg, "%s", msg);
    return NULL;
}

MW_EXPORT(mw_error) const char *mw_error(void) { return last_err.msg; }

MW_EXPORT(mw_alloc) void *mw_alloc(size_t n) { return ms_malloc(n); }

MW_EXPORT(mw_dealloc) void mw_dealloc(void *p) { ms_free(p); }

MW_EXPORT(mw_free) void mw_free(mw_handle *h)
{
    if (!h) return;
    ms_session_free(h->sess);
    ms_model_free(h->model);
    for (int i = 0; i < MS_MAX_IO; i++) ms_free(h->in[i].data);
    ms_free(h->bytes);
    ms_free(h);
}

/* Takes ownership of bytes (from mw_alloc), also on failure. The model is checked for
 * operators the runtime lacks here, so an unsupported model fails at load, not at first run. */
MW_EXPORT(mw_load) mw_handle *mw_load(void *bytes, size_t len)
{
    mw_handle *h = ms_malloc(sizeof *h);
    if (!h) {
        ms_free(bytes);
        return fail_null("out of memory loading the model");
    }
    memset(h, 0, sizeof *h);
    h->bytes = bytes;
    if (ms_model_load(bytes, len, &h->model, &last_err) != MS_OK ||
        ms_model_check_supported(h->model, &last_err) != MS_OK ||
        ms_session_create(h->model, NULL, &h->sess, &last_err) != MS_OK) {
        mw_free(h);
        return NULL;
    }
    h->n_in = ms_model_num_inputs(h->model);
    h->n_out = ms_model_num_outputs(h->model);
    return h;
}

/* ---- declared inputs and outputs (out = 0: inputs, 1: outputs) -------------------------- */

static const ms_value_info *io(const mw_handle *h, int out, int i)
{
    return out ? ms_model_output(h->model, i) : ms_model_input(h->model, i);
}

MW_EXPORT(mw_io_count) int mw_io_count(const mw_handle *h, int out)
{
    return out ? h->n_out : h->n_in;
}

MW_EXPORT(mw_io_name) const char *mw_io_name(const mw_handle *h, int out, int i)
{
    const ms_value_info *v = io(h, out, i);
    return v ? v->name : "";
}

MW_EXPORT(mw_io_dtype) int mw_io_dtype(const mw_handle *h, int out, int i)
{
    const ms_value_info *v = io(h, out, i);
    return v ? (int)v->dtype : 0;
}

MW_EXPORT(mw_io_ndim) int mw_io_ndim(const mw_handle *h, int out, int i)
{
    const ms_value_info *v = io(h, out, i);
    return v ? v->ndim : -1;
}

/* A dimension: its size, or -1 when symbolic or unknown (its name from mw_io_dim_name). */
MW_EXPORT(mw_io_dim) double mw_io_dim(const mw_handle *h, int out, int i, int d)
{
    const ms_value_info *v = io(h, out, i);
    return v && d >= 0 && d < v->ndim ? (double)v->shape[d] : -1;
}

MW_EXPORT(mw_io_dim_name) const char *mw_io_dim_name(const mw_handle *h, int out, int i, int d)
{
    const ms_value_info *v = io(h, out, i);
    return v && d >= 0 && d < v->ndim && v->dim_names[d] ? v->dim_names[d] : "";
}

/* ZipMap outputs: the labels of the probability columns (int64 or strings); 0 when none. */
MW_EXPORT(mw_out_labels) const void *mw_out_labels(const mw_handle *h, int i, int *dtype,
                                                   double *n)
{
    ms_dtype t;
    int64_t count;
    const void *labels;
    if (!ms_model_output_labels(h->model, i, &t, &count, &labels)) return NULL;
    *dtype = (int)t;
    *n = (double)count;
    return labels;
}

/* ---- running ---------------------------------------------------------------------------- */

MW_EXPORT(mw_shape) double *mw_shape(mw_handle *h) { return h->shape; }

/* Input i's buffer for the shape in h->shape (ndim dimensions), of the input's declared type
 * (float32 when it declares none); NULL with a message for a bad shape or out of memory. */
MW_EXPORT(mw_input) void *mw_input(mw_handle *h, int i, int ndim)
{
    if (i < 0 || i >= h->n_in) return fail_null("input index out of range");
    if (ndim < 0 || ndim > MS_MAX_DIMS) return fail_null("an input has more than 8 dimensions");
    ms_tensor *t = &h->in[i];
    ms_dtype dt = ms_model_input(h->model, i)->dtype;
    t->dtype = dt == MS_DTYPE_UNDEFINED ? MS_DTYPE_FLOAT : dt;
    if (t->dtype == MS_DTYPE_STRING) return fail_null("string inputs are not supported here");
    t->ndim = ndim;
    double n = 1;
    for (int d = 0; d < ndim; d++) {
        double v = h->shape[d];
        if (!(v >= 0 && v <= 1e12) || v != (double)(int64_t)v)
            return fail_null("a dimension is not a whole number between 0 and 1e12");
        t->shape[d] = (int64_t)v;
        n *= v;
    }
    double bytes = n * (double)ms_dtype_size(t->dtype);
    if (bytes > (double)(SIZE_MAX / 2)) return fail_null("input too large for wasm32 memory");
    size_t need = bytes > 0 ? (size_t)bytes : 1;
    if (need > h->in_cap[i]) {
        ms_free(t->data);
        t->data = ms_malloc(need);
        h->in_cap[i] = t->data ? need : 0;
        if (!t->data) return fail_null("out of memory for an input");
    }
    return t->data;
}

MW_EXPORT(mw_run) int mw_run(mw_handle *h)
{
    return (int)ms_session_run(h->sess, h->in, h->n_in, h->out, h->n_out, &last_err);
}

MW_EXPORT(mw_out_dtype) int mw_out_dtype(const mw_handle *h, int i) { return h->out[i].dtype; }

MW_EXPORT(mw_out_ndim) int mw_out_ndim(const mw_handle *h, int i) { return h->out[i].ndim; }

MW_EXPORT(mw_out_dim) double mw_out_dim(const mw_handle *h, int i, int d)
{
    return (double)h->out[i].shape[d];
}

MW_EXPORT(mw_out_data) const void *mw_out_data(const mw_handle *h, int i)
{
    return h->out[i].data;
}

MW_EXPORT(mw_version) const char *mw_version(void) { return MS_VERSION_STRING; }
