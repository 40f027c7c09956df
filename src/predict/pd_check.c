/* pd_check.c: the missing-value and finiteness policy (see pd_check.h). */
#include "predict/pd_check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec/codec_buf.h"

const char *pd_why_name(pd_why w)
{
    switch (w) {
    case PD_OK: return "ok";
    case PD_WHY_MISSING: return "missing";
    case PD_WHY_NONFINITE: return "not_finite";
    case PD_WHY_OUTPUT: return "output_not_finite";
    default: return "other";
    }
}

ms_status pd_missing_parse(const char *s, const char *what, pd_missing *out, ms_error *err)
{
    if (!s || !strcmp(s, "reject")) {
        *out = PD_MISSING_REJECT;
        return MS_OK;
    }
    if (!strcmp(s, "nan")) {
        *out = PD_MISSING_NAN;
        return MS_OK;
    }
    return bs_fail(err, MS_ERR_INVALID, "%s must be \"reject\" (the default) or \"nan\", not \"%s\"",
                   what, s);
}

ms_status pd_policy_init(pd_policy *p, const ms_model *m, const char *model_name,
                         pd_missing mode, const char *what, ms_error *err)
{
    memset(p, 0, sizeof *p);
    p->missing = mode;
    p->n_in = ms_model_num_inputs(m);
    if (p->n_in > PD_MAX_INPUTS)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "model '%s' has %d inputs; at most %d are checked",
                       model_name, p->n_in, PD_MAX_INPUTS);
    int any = 0;
    for (int i = 0; i < p->n_in; i++) {
        p->model_ok[i] = (uint8_t)ms_model_input_allows_missing(m, i);
        p->nan_ok[i] = (uint8_t)(p->model_ok[i] && mode == PD_MISSING_NAN);
        any |= p->model_ok[i];
    }
    /* Asking for NaN where nothing gives it a meaning would only look like it worked: every
     * row with a missing value would still be refused, or, worse, scored by a network. */
    if (mode == PD_MISSING_NAN && !any)
        return bs_fail(err, MS_ERR_INVALID,
                       "model '%s' does not define missing values (none of its inputs is read only "
                       "by tree ensembles with a NaN direction per split, XGBoost or a NaN "
                       "Imputer), so %s nan cannot apply to it; leave it at reject",
                       model_name, what);
    return MS_OK;
}

static int ok_input(const pd_policy *p, int i) { return i >= 0 && i < p->n_in && p->nan_ok[i]; }

const char *pd_missing_hint(const pd_policy *p, int i)
{
    if (i >= 0 && i < p->n_in && p->model_ok[i])
        return "missing values are refused unless the model is run with missing = nan";
    return "this model does not define missing values";
}

/* "inf", "-Infinity", ... as the text (not an overflow such as 1e400). */
static int spells_inf(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '+' || *s == '-')) s++, n--;
    return n >= 3 && strncasecmp(s, "inf", 3) == 0;
}

pd_why pd_check_cell(const pd_policy *p, int i, const char *cell, size_t n, double v,
                     const char **reason)
{
    if (isfinite(v)) return PD_OK;
    if (isnan(v)) {
        *reason = n == 0 ? "is empty" : "is NaN";
        return ok_input(p, i) ? PD_OK : PD_WHY_MISSING;
    }
    /* the parsers turn an overflow into inf, as strtod does: say which it was */
    *reason = cell && spells_inf(cell, n) ? "is not finite" : "is out of range";
    return PD_WHY_NONFINITE;
}

/* A float16's class, which is all the policy needs: NaN, +-Inf, or 0 for any finite value
 * (all-ones exponent: Inf when the mantissa is 0, else NaN). */
static double half_class(uint16_t h)
{
    if ((h & 0x7c00) != 0x7c00) return 0.0;
    return (h & 0x3ff) ? NAN : (h & 0x8000) ? -INFINITY : INFINITY;
}

pd_why pd_check_values(const pd_policy *p, int i, ms_dtype t, const void *data, size_t n,
                       size_t *bad)
{
    int nan_ok = ok_input(p, i);
    for (size_t k = 0; k < n; k++) {
        double v = t == MS_DTYPE_FLOAT    ? (double)((const float *)data)[k]
                   : t == MS_DTYPE_DOUBLE ? ((const double *)data)[k]
                   : t == MS_DTYPE_FLOAT16 ? half_class(((const uint16_t *)data)[k])
                                           : 0.0;
        if (isfinite(v) || (nan_ok && isnan(v))) continue;
        *bad = k;
        return isnan(v) ? PD_WHY_MISSING : PD_WHY_NONFINITE;
    }
    return PD_OK;
}

/* Rows of a tensor: its first dimension, or one for a scalar. */
static int64_t rows_of(const ms_tensor *t) { return t->ndim ? t->shape[0] : 1; }

static int float_type(ms_dtype t)
{
    return t == MS_DTYPE_FLOAT || t == MS_DTYPE_DOUBLE || t == MS_DTYPE_FLOAT16;
}

pd_why pd_check_input_row(const pd_policy *p, int i, const char *name, const ms_tensor *t,
                          int64_t r, char *msg, size_t cap)
{
    int64_t rows = rows_of(t);
    if (!float_type(t->dtype) || rows <= 0 || r < 0 || r >= rows) return PD_OK;
    size_t per = (size_t)(ms_tensor_numel(t) / rows), bad;
    const char *row = (const char *)t->data + (size_t)r * per * ms_dtype_size(t->dtype);
    pd_why w = pd_check_values(p, i, t->dtype, row, per, &bad);
    if (w == PD_OK) return PD_OK;
    char where[64];
    if (t->ndim == 0) snprintf(where, sizeof where, "the value");
    else if (per == 1) snprintf(where, sizeof where, "row %lld", (long long)r);
    else snprintf(where, sizeof where, "row %lld, %s %zu", (long long)r,
                  t->ndim == 2 ? "feature" : "element", bad);
    if (w == PD_WHY_MISSING)
        snprintf(msg, cap, "input '%s': %s is NaN, a missing value (%s)", name, where,
                 pd_missing_hint(p, i));
    else snprintf(msg, cap, "input '%s': %s is not finite", name, where);
    return w;
}

ms_status pd_check_inputs(const pd_policy *p, const ms_model *m, const ms_tensor *in, int n_in,
                          pd_why *why, ms_error *err)
{
    for (int i = 0; i < n_in; i++) {
        const ms_tensor *t = &in[i];
        size_t bad;
        if (!float_type(t->dtype) || !t->data) continue;
        /* the whole tensor at once; the row is found only to word the message */
        if (pd_check_values(p, i, t->dtype, t->data, (size_t)ms_tensor_numel(t), &bad) == PD_OK)
            continue;
        int64_t rows = rows_of(t), per = rows > 0 ? ms_tensor_numel(t) / rows : 1;
        const ms_value_info *vi = ms_model_input(m, i);
        pd_why w = pd_check_input_row(p, i, vi ? vi->name : "?", t, per ? (int64_t)bad / per : 0,
                                      err->msg, sizeof err->msg);
        if (why) *why = w;
        return MS_ERR_INVALID;
    }
    if (why) *why = PD_OK;
    return MS_OK;
}

pd_why pd_check_output_row(const ms_model *m, const ms_tensor *outs, int n_out, int64_t r,
                           int64_t nrows, char *msg, size_t cap)
{
    /* no input policy applies to outputs: NaN out is as wrong as Inf out */
    static const pd_policy strict = {0};
    for (int o = 0; o < n_out; o++) {
        const ms_tensor *t = &outs[o];
        if (!float_type(t->dtype) || !t->data) continue;
        int64_t n = ms_tensor_numel(t);
        const char *d = t->data;
        if (t->ndim >= 1 && t->shape[0] == nrows && nrows > 0) {
            n /= nrows;
            d += (size_t)(r * n) * ms_dtype_size(t->dtype);
        }
        size_t bad;
        if (pd_check_values(&strict, -1, t->dtype, d, (size_t)n, &bad) == PD_OK) continue;
        const ms_value_info *vi = ms_model_output(m, o);
        snprintf(msg, cap, "output '%s' is not finite", vi ? vi->name : "?");
        return PD_WHY_OUTPUT;
    }
    return PD_OK;
}
