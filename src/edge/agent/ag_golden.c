/* ag_golden.c: make and check the golden inputs and outputs (see ag_golden.h). */
#include "edge/agent/ag_golden.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/bs_error.h"
#include "codec/codec_buf.h"
#include "predict/pd_json.h"

/* Put the request's tensors into model input order (by name; unnamed by position). */
static ms_status order_inputs(const ms_model *m, const mc_oip_request *in, ms_tensor *out, ms_error *err)
{
    int n = ms_model_num_inputs(m);
    if (n > MS_MAX_IO || in->n_inputs != n)
        return bs_fail(err, MS_ERR_INVALID, "golden inputs: %d tensor(s) for a model with %d input(s)", in->n_inputs, n);
    for (int i = 0; i < n; i++) {
        const mc_named_tensor *nt = &in->inputs[i];
        int at = i;
        if (nt->name) {
            at = -1;
            for (int k = 0; k < n; k++)
                if (strcmp(ms_model_input(m, k)->name, nt->name) == 0) at = k;
            if (at < 0) return bs_fail(err, MS_ERR_INVALID, "golden inputs: the model has no input '%s'", nt->name);
        }
        out[at] = nt->t;
    }
    return ms_model_check_inputs(m, out, n, err);
}

static ms_status run(const ms_model *m, ms_session *s, const mc_oip_request *in, ms_tensor *outs, ms_error *err)
{
    ms_tensor x[MS_MAX_IO];
    ms_status st = order_inputs(m, in, x, err);
    if (st != MS_OK) return st;
    int n_out = ms_model_num_outputs(m);
    if (n_out > MS_MAX_IO) return bs_fail(err, MS_ERR_UNSUPPORTED, "golden: more than %d outputs", MS_MAX_IO);
    return ms_session_run(s, x, ms_model_num_inputs(m), outs, n_out, err);
}

ms_status ag_golden_make(const ms_model *m, const mc_oip_request *in, double rtol, double atol, char **json,
                         ms_error *err)
{
    ms_session *s = NULL;
    ms_status st = ms_session_create(m, NULL, &s, err);
    if (st != MS_OK) return st;
    ms_tensor outs[MS_MAX_IO];
    mc_buf b = {0};
    if ((st = run(m, s, in, outs, err)) == MS_OK) {
        mc_buf_printf(&b, "{\"rtol\": %g, \"atol\": %g, \"inputs\": [", rtol, atol);
        for (int i = 0; i < ms_model_num_inputs(m) && st == MS_OK; i++) {
            if (i) mc_buf_puts(&b, ", ");
            const mc_named_tensor *nt = &in->inputs[i];
            st = pd_json_write_tensor(&b, nt->name ? nt->name : ms_model_input(m, i)->name, &nt->t, err);
        }
        mc_buf_puts(&b, "], \"outputs\": [");
        for (int i = 0; i < ms_model_num_outputs(m) && st == MS_OK; i++) {
            if (i) mc_buf_puts(&b, ", ");
            st = pd_json_write_tensor(&b, ms_model_output(m, i)->name, &outs[i], err);
        }
        mc_buf_puts(&b, "]}");
        if (st == MS_OK && mc_buf_failed(&b)) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    ms_session_free(s);
    if (st != MS_OK) { mc_buf_free(&b); return st; }
    *json = b.data;
    return MS_OK;
}

/* Parse golden[key] (an array of tensors) as a request's inputs. */
static ms_status parse_list(const cJSON *g, const char *key, mc_oip_request *out, ms_error *err)
{
    cJSON *wrap = cJSON_CreateObject();
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(g, key);
    if (!wrap) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (!cJSON_IsArray(a)) { cJSON_Delete(wrap); return bs_fail(err, MS_ERR_INVALID, "golden: no \"%s\" array", key); }
    cJSON_AddItemReferenceToObject(wrap, "inputs", (cJSON *)a);
    char *text = cJSON_PrintUnformatted(wrap);
    cJSON_Delete(wrap);
    if (!text) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    ms_status st = mc_json_parse_request(text, strlen(text), out, err);
    free(text);
    if (st != MS_OK) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return bs_fail(err, st, "golden %s: %s", key, msg);
    }
    return MS_OK;
}

static double elem(const ms_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MS_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case MS_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case MS_DTYPE_INT64: return (double)((const int64_t *)t->data)[i];
    case MS_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    case MS_DTYPE_UINT8: case MS_DTYPE_BOOL: return ((const uint8_t *)t->data)[i];
    case MS_DTYPE_INT8: return ((const int8_t *)t->data)[i];
    case MS_DTYPE_INT16: return ((const int16_t *)t->data)[i];
    case MS_DTYPE_UINT16: return ((const uint16_t *)t->data)[i];
    case MS_DTYPE_UINT32: return ((const uint32_t *)t->data)[i];
    case MS_DTYPE_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: return NAN;
    }
}

/* Compare one output with the golden one; integers exactly, floats within the tolerance.
 * The golden side went through JSON, so its dtype may be the wider one of the same kind. */
static ms_status compare(const char *name, const ms_tensor *got, const ms_tensor *want, double rtol, double atol,
                         ms_error *err)
{
    int64_t n = ms_tensor_numel(got);
    if (n != ms_tensor_numel(want) || got->ndim != want->ndim)
        return bs_fail(err, MS_ERR_INVALID, "golden check: output '%s' has %lld element(s), the manifest says %lld", name,
                       (long long)n, (long long)ms_tensor_numel(want));
    int fl = got->dtype == MS_DTYPE_FLOAT || got->dtype == MS_DTYPE_DOUBLE;
    if (got->dtype == MS_DTYPE_STRING || want->dtype == MS_DTYPE_STRING) {
        if (got->dtype != want->dtype) return bs_fail(err, MS_ERR_INVALID, "golden check: output '%s' type differs", name);
        for (int64_t i = 0; i < n; i++)
            if (strcmp(((const char *const *)got->data)[i], ((const char *const *)want->data)[i]) != 0)
                return bs_fail(err, MS_ERR_INVALID, "golden check: output '%s' element %lld differs", name, (long long)i);
        return MS_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        double a = elem(got, i), b = elem(want, i);
        int ok = fl ? (isnan(a) && isnan(b)) || fabs(a - b) <= atol + rtol * fabs(b) : a == b;
        if (!ok)
            return bs_fail(err, MS_ERR_INVALID, "golden check: output '%s' element %lld is %.9g, the manifest says %.9g",
                           name, (long long)i, a, b);
    }
    return MS_OK;
}

static double tol(const cJSON *g, const char *key, double dflt)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(g, key);
    return cJSON_IsNumber(t) ? t->valuedouble : dflt;
}

ms_status ag_golden_check(const ms_model *m, ms_session *s, const char *json, ms_error *err)
{
    cJSON *g = cJSON_Parse(json);
    if (!g) return bs_fail(err, MS_ERR_INVALID, "golden: not valid JSON");
    mc_oip_request in = {0}, want = {0};
    ms_tensor outs[MS_MAX_IO];
    ms_status st = parse_list(g, "inputs", &in, err);
    if (st == MS_OK) st = parse_list(g, "outputs", &want, err);
    if (st == MS_OK) st = run(m, s, &in, outs, err);
    if (st == MS_OK && want.n_inputs != ms_model_num_outputs(m))
        st = bs_fail(err, MS_ERR_INVALID, "golden check: the model has %d output(s), the manifest %d",
                     ms_model_num_outputs(m), want.n_inputs);
    for (int i = 0; st == MS_OK && i < want.n_inputs; i++)
        st = compare(ms_model_output(m, i)->name, &outs[i], &want.inputs[i].t, tol(g, "rtol", 1e-5), tol(g, "atol", 1e-6),
                     err);
    mc_oip_request_free(&in);
    mc_oip_request_free(&want);
    cJSON_Delete(g);
    return st;
}
