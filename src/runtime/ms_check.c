/* ms_check.c: does a tensor match the input the model declares, and if not, say why. The one
 * input check and shape spelling of the house (mlship.h): ms_session_run, the CLI and serve all
 * call it, so a wrong request reads the same whichever way it came in. No allocation and no
 * stdio beyond snprintf: it builds for the microcontroller with the rest of the runtime. */
#include <stdio.h>
#include <string.h>

#include "mlship.h"
#include "ms_fail.h"

/* Appends printf output at *k without running past cap; *k may pass cap (then nothing more is
 * written). The destination stays NUL-terminated. */
#define PUT(dst, cap, k, ...)                                                           \
    do {                                                                                \
        if (*(k) < (cap)) {                                                             \
            int w_ = snprintf((dst) + *(k), (cap) - *(k), __VA_ARGS__);                 \
            *(k) += w_ > 0 ? (size_t)w_ : 0;                                            \
        }                                                                               \
    } while (0)

const char *ms_value_info_format(const ms_value_info *vi, char *dst, size_t cap)
{
    size_t k = 0;
    if (cap) dst[0] = '\0';
    PUT(dst, cap, &k, "%s", vi->dtype ? ms_dtype_name(vi->dtype) : "any");
    if (vi->ndim < 0 || vi->ndim > MS_MAX_DIMS) {
        PUT(dst, cap, &k, "[...]");
        return dst;
    }
    PUT(dst, cap, &k, "[");
    for (int d = 0; d < vi->ndim; d++) {
        const char *sep = d ? "," : "", *name = vi->dim_names[d];
        if (vi->shape[d] >= 0) PUT(dst, cap, &k, "%s%lld", sep, (long long)vi->shape[d]);
        else PUT(dst, cap, &k, "%s%s", sep, name && name[0] ? name : "?");
    }
    PUT(dst, cap, &k, "]");
    return dst;
}

const char *ms_tensor_format(const ms_tensor *t, char *dst, size_t cap)
{
    size_t k = 0;
    if (cap) dst[0] = '\0';
    PUT(dst, cap, &k, "%s[", ms_dtype_name(t->dtype));
    int nd = t->ndim < 0 || t->ndim > MS_MAX_DIMS ? 0 : t->ndim;
    for (int d = 0; d < nd; d++) PUT(dst, cap, &k, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    PUT(dst, cap, &k, "]");
    return dst;
}

static int matches(const ms_value_info *vi, const ms_tensor *t)
{
    if (vi->dtype != MS_DTYPE_UNDEFINED && vi->dtype != t->dtype) return 0;
    if (t->ndim < 0 || t->ndim > MS_MAX_DIMS) return 0;
    if (vi->ndim >= 0 && vi->ndim != t->ndim) return 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0) return 0;
        if (vi->ndim >= 0 && vi->shape[d] >= 0 && vi->shape[d] != t->shape[d]) return 0;
    }
    return 1;
}

/* The name of input i's symbolic dimension d, or NULL when it has a size or no name. */
static const char *dim_name(const ms_value_info *vi, int d)
{
    const char *s = vi->shape[d] < 0 ? vi->dim_names[d] : NULL;
    return s && s[0] ? s : NULL;
}

/* A named dimension binds on its first use (in input order); a later use with another value is
 * the error. A search back instead of a table of bindings: no memory, and n_in * ndim is
 * small (MS_MAX_IO * MS_MAX_DIMS at most). */
static ms_status check_named(const ms_model *m, const ms_tensor *in, int i, int d, ms_error *err)
{
    const ms_value_info *vi = ms_model_input(m, i);
    const char *name = dim_name(vi, d);
    if (!name) return MS_OK;
    for (int j = 0; j <= i; j++) {
        const ms_value_info *vj = ms_model_input(m, j);
        int end = j == i ? d : vj->ndim;
        for (int e = 0; e < end; e++) {
            const char *other = dim_name(vj, e);
            if (!other || strcmp(other, name) != 0) continue;
            if (in[j].shape[e] == in[i].shape[d]) return MS_OK;
            return FAIL(err, MS_ERR_INVALID, "dimension '%s' is %lld in input '%s' but %lld in input '%s'",
                        name, (long long)in[j].shape[e], vj->name, (long long)in[i].shape[d], vi->name);
        }
    }
    return MS_OK;
}

ms_status ms_model_check_inputs(const ms_model *m, const ms_tensor *in, int n_in, ms_error *err)
{
    int n = ms_model_num_inputs(m);
    if (n_in != n) return FAIL(err, MS_ERR_INVALID, "the model takes %d inputs, got %d", n, n_in);
    for (int i = 0; i < n; i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        if (!matches(vi, &in[i])) {
            char want[200], got[200];
            ms_value_info_format(vi, want, sizeof want);
            ms_tensor_format(&in[i], got, sizeof got);
            return FAIL(err, MS_ERR_INVALID, "input '%s' expects %s, got %s", vi->name, want, got);
        }
        for (int d = 0; d < vi->ndim; d++) {
            ms_status st = check_named(m, in, i, d, err);
            if (st) return st;
        }
    }
    return MS_OK;
}
