/* model_walk.h: the contract of the read-only model API (include/mlship.h), checked on any
 * loaded model by every test that loads one: the model fuzz driver (tests/fuzz/fuzz_model.c)
 * on every mutant that loads, and tests/unit/test_model_api.c on every committed model.
 *
 * mw_walk calls every ms_model_* accessor for every index and for -1, n, INT_MIN and INT_MAX
 * (out of range must be NULL, 0 or "" and never a read past an array: issue 9, where
 * ms_model_output_labels read a table the XGBoost loader never allocates); mw_run_outputs
 * checks a run's outputs against what the model declared (and reads every byte of them);
 * mw_zero_inputs makes inputs of the declared shapes. test_badinput.c uses them too. Both return 0, or -1 with the first
 * broken rule in `why`. Header-only (static functions) so that each test links it its own way. */
#ifndef MODEL_WALK_H
#define MODEL_WALK_H

#include "mlship.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MW_WHY 256

static int mw_fail(char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, MW_WHY, fmt, ap);
    va_end(ap);
    return -1;
}

/* The loader's own test: the first non-blank byte '{' means XGBoost's model.json. */
static int mw_is_json(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    return i < len && p[i] == '{';
}

static int mw_value_info(const ms_value_info *vi, const char *what, int i, char *why)
{
    if (!vi) return mw_fail(why, "%s %d: NULL inside the range", what, i);
    if (!vi->name) return mw_fail(why, "%s %d: NULL name", what, i);
    if (vi->ndim < -1 || vi->ndim > MS_MAX_DIMS) return mw_fail(why, "%s %d: ndim %d", what, i, (int)vi->ndim);
    for (int d = 0; d < vi->ndim; d++)
        if (vi->shape[d] < -1) return mw_fail(why, "%s %d: dim %d is %lld", what, i, d, (long long)vi->shape[d]);
    if (!ms_dtype_name(vi->dtype)) return mw_fail(why, "%s %d: dtype %d has no name", what, i, (int)vi->dtype);
    return 0;
}

/* One output's label map: none out of range or for model.json; else a consistent table. */
static int mw_labels(const ms_model *m, int i, int n_out, int is_json, char *why)
{
    ms_dtype lt = (ms_dtype)-7;
    int64_t nl = -7;
    const void *labels = &nl;
    int has = ms_model_output_labels(m, i, &lt, &nl, &labels);
    if (has != 0 && has != 1) return mw_fail(why, "output_labels(%d) returned %d", i, has);
    if (!has) return 0;
    if (i < 0 || i >= n_out) return mw_fail(why, "output_labels(%d): labels for an output that does not exist", i);
    if (is_json) return mw_fail(why, "output %d of an XGBoost model.json has labels", i);
    if (lt != MS_DTYPE_INT64 && lt != MS_DTYPE_STRING) return mw_fail(why, "output %d: label type %d", i, (int)lt);
    if (nl <= 0 || !labels) return mw_fail(why, "output %d: %lld labels at %p", i, (long long)nl, labels);
    if (lt == MS_DTYPE_STRING)
        for (int64_t k = 0; k < nl; k++)
            if (!((const char *const *)labels)[k]) return mw_fail(why, "output %d: label %lld is NULL", i, (long long)k);
    const ms_value_info *vi = ms_model_output(m, i);
    if (vi->ndim == 2 && vi->shape[1] >= 0 && vi->shape[1] != nl)
        return mw_fail(why, "output %d: %lld labels but a declared class dimension of %lld", i, (long long)nl,
                       (long long)vi->shape[1]);
    return 0;
}

static int mw_opsets(const ms_model *m, char *why)
{
    int n = ms_model_num_opsets(m);
    if (n < 0) return mw_fail(why, "num_opsets %d", n);
    int idx[] = {INT_MIN, -1, n, n + 1, INT_MAX};
    for (int k = 0; k < (int)(sizeof idx / sizeof idx[0]); k++) {
        const char *dom = NULL;
        int64_t ver = -7;
        ms_model_opset(m, idx[k], &dom, &ver);
        if (!dom || *dom || ver != 0) return mw_fail(why, "opset(%d) out of range: not \"\" and 0", idx[k]);
    }
    for (int i = 0; i < n; i++) {
        const char *dom = NULL;
        int64_t ver = -7;
        ms_model_opset(m, i, &dom, &ver);
        if (!dom) return mw_fail(why, "opset %d: NULL domain", i);
    }
    return 0;
}

static int mw_ops(const ms_model *m, int *all_supported, char *why)
{
    int n = ms_model_num_ops(m);
    if (n < 0) return mw_fail(why, "num_ops %d", n);
    int idx[] = {INT_MIN, -1, n, n + 1, INT_MAX};
    for (int k = 0; k < (int)(sizeof idx / sizeof idx[0]); k++) {
        const char *dom = NULL, *op = NULL;
        int sup = -7;
        ms_model_op(m, idx[k], &dom, &op, &sup);
        if (!dom || !op || *dom || *op || sup != 0) return mw_fail(why, "op(%d) out of range: not \"\", \"\", 0", idx[k]);
    }
    *all_supported = 1;
    for (int i = 0; i < n; i++) {
        const char *dom = NULL, *op = NULL;
        int sup = -7;
        ms_model_op(m, i, &dom, &op, &sup);
        if (!dom || !op || !*op) return mw_fail(why, "op %d: NULL domain or empty op_type", i);
        if (sup != 0 && sup != 1) return mw_fail(why, "op %d (%s): supported is %d", i, op, sup);
        if (!sup) *all_supported = 0;
    }
    return 0;
}

static int mw_walk(const ms_model *m, int is_json, char *why)
{
    int n_in = ms_model_num_inputs(m), n_out = ms_model_num_outputs(m);
    if (n_in < 0 || n_out < 0) return mw_fail(why, "%d inputs, %d outputs", n_in, n_out);
    for (int io = 0; io < 2; io++) {
        int n = io ? n_out : n_in;
        const char *what = io ? "output" : "input";
        int idx[] = {INT_MIN, -1, n, n + 1, INT_MAX};
        for (int k = 0; k < (int)(sizeof idx / sizeof idx[0]); k++)
            if ((io ? ms_model_output(m, idx[k]) : ms_model_input(m, idx[k])) != NULL)
                return mw_fail(why, "%s(%d) out of range is not NULL", what, idx[k]);
        for (int i = 0; i < n; i++)
            if (mw_value_info(io ? ms_model_output(m, i) : ms_model_input(m, i), what, i, why)) return -1;
    }
    int idx[] = {INT_MIN, -1, n_out, n_out + 1, INT_MAX};
    for (int k = 0; k < (int)(sizeof idx / sizeof idx[0]); k++)
        if (mw_labels(m, idx[k], n_out, is_json, why)) return -1;
    for (int i = 0; i < n_out; i++)
        if (mw_labels(m, i, n_out, is_json, why)) return -1;
    if (!ms_model_producer(m)) return mw_fail(why, "producer is NULL");
    (void)ms_model_ir_version(m);
    int all = 0;
    if (mw_opsets(m, why) || mw_ops(m, &all, why)) return -1;
    ms_error err = {{0}};
    ms_status st = ms_model_check_supported(m, &err);
    if (st != MS_OK && (st != MS_ERR_UNSUPPORTED || !err.msg[0]))
        return mw_fail(why, "check_supported: status %d, message '%s'", (int)st, err.msg);
    if ((st == MS_OK) != all)
        return mw_fail(why, "check_supported says %s but the op list says %s", st == MS_OK ? "supported" : err.msg,
                       all ? "all supported" : "not all supported");
    return 0;
}

/* Zero-filled inputs of the declared shapes (symbolic dimensions = rows), each in its own calloc
 * block in blocks[] (free them); 0 when an input is over max_elems elements or cannot be made. */
static int mw_zero_inputs(const ms_model *m, int64_t rows, int64_t max_elems, ms_tensor *in, void **blocks)
{
    static const char *const empty = "";
    for (int i = 0; i < ms_model_num_inputs(m); i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        ms_tensor *t = &in[i];
        memset(t, 0, sizeof *t);
        t->dtype = vi->dtype;
        t->ndim = vi->ndim < 0 ? 1 : vi->ndim;
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++) {
            t->shape[d] = vi->ndim < 0 || vi->shape[d] < 0 ? rows : vi->shape[d];
            if (t->shape[d] > max_elems || (n *= t->shape[d]) > max_elems) return 0;
        }
        size_t esz = ms_dtype_size(t->dtype);
        if (!esz || !(blocks[i] = calloc(n ? (size_t)n : 1, esz))) return 0;
        if (t->dtype == MS_DTYPE_STRING)
            for (int64_t k = 0; k < n; k++) ((const char **)blocks[i])[k] = empty;
        t->data = blocks[i];
    }
    return 1;
}

/* A successful run's outputs: known dtypes and ranks; a label-map output is the float32
 * [N, n_labels] matrix its labels describe. */
static int mw_run_outputs(const ms_model *m, const ms_tensor *out, int n_out, char *why)
{
    for (int k = 0; k < n_out; k++) {
        const ms_tensor *t = &out[k];
        if (!ms_dtype_size(t->dtype) || t->ndim < 0 || t->ndim > MS_MAX_DIMS)
            return mw_fail(why, "output %d: dtype %d ndim %d", k, (int)t->dtype, (int)t->ndim);
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0) return mw_fail(why, "output %d: dim %d is %lld", k, d, (long long)t->shape[d]);
        if (ms_tensor_numel(t) > 0 && !t->data) return mw_fail(why, "output %d: no data", k);
        if (t->dtype != MS_DTYPE_STRING && t->data) { /* every byte read: a bogus view shows under ASan */
            volatile unsigned acc = 0;
            const unsigned char *p = t->data;
            for (size_t b = 0; b < (size_t)ms_tensor_numel(t) * ms_dtype_size(t->dtype); b++) acc += p[b];
        }
        ms_dtype lt;
        int64_t nl;
        const void *labels;
        if (ms_model_output_labels(m, k, &lt, &nl, &labels) &&
            (t->dtype != MS_DTYPE_FLOAT || t->ndim != 2 || t->shape[1] != nl))
            return mw_fail(why, "output %d: %lld labels, but the run gave %s rank %d with %lld columns", k,
                           (long long)nl, ms_dtype_name(t->dtype), (int)t->ndim,
                           (long long)(t->ndim >= 2 ? t->shape[1] : -1));
    }
    return 0;
}

#endif
