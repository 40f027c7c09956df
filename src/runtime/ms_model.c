/* ms_model.c: loading entry points and the read-only model API. */
#include "ms_model.h"
#include "ms_trees.h"
#include "ms_xgboost.h"

#include <stdio.h>
#include <string.h>

/* Declared in ms_xgboost.h; here, not there, so that a build without ms_xgboost.c (and cJSON)
 * still recognises model.json and refuses it by name. */
int ms_xgboost_sniff(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    return i < len && p[i] == '{';
}

ms_status ms_model_load(const void *buf, size_t len, ms_model **out, ms_error *err)
{
    *out = NULL;
    if (!buf && len) {
        snprintf(err->msg, sizeof err->msg, "no model data");
        return MS_ERR_INVALID;
    }
    ms_model *m = ms_calloc(1, sizeof *m);
    if (!m) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return MS_ERR_RUNTIME;
    }
    /* XGBoost's JSON model starts with '{'; everything else is read as ONNX */
    ms_status st = ms_xgboost_sniff(buf, len) ? ms_xgboost_load(m, buf, len, err)
                                              : ms_onnx_load(m, buf, len, err);
    /* tree ensembles are validated now, so a bad tree never reaches a run */
    if (!st) st = ms_ml_trees_check_model(m, err);
    if (!st && m->n_nodes > 0) {
        m->shared = ms_malloc((size_t)m->n_nodes * sizeof *m->shared);
        if (!m->shared) st = MS_ERR_RUNTIME, snprintf(err->msg, sizeof err->msg, "out of memory");
        for (int32_t i = 0; m->shared && i < m->n_nodes; i++) atomic_init(&m->shared[i].p, NULL);
    }
    if (st) {
        ms_model_free(m);
        return st;
    }
    *out = m;
    return MS_OK;
}

void ms_model_free(ms_model *m)
{
    if (!m) return;
    for (int32_t i = 0; m->shared && i < m->n_nodes; i++) {
        ms_shared *sh = atomic_load(&m->shared[i].p);
        if (!sh) continue;
        sh->release(sh->state);
        ms_free(sh);
    }
    ms_free(m->shared);
    ms_pool_free(&m->pool);
    if (m->unmap) m->unmap(m->map_base, m->map_len);
    ms_free(m);
}

int ms_model_num_inputs(const ms_model *m) { return m->n_inputs; }
int ms_model_num_outputs(const ms_model *m) { return m->n_outputs; }

const ms_value_info *ms_model_input(const ms_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? &m->input_info[i] : NULL;
}

const ms_value_info *ms_model_output(const ms_model *m, int i)
{
    return i >= 0 && i < m->n_outputs ? &m->output_info[i] : NULL;
}

int ms_model_output_labels(const ms_model *m, int i, ms_dtype *label_type, int64_t *n_labels,
                           const void **labels)
{
    /* output_zipmap is optional: a loader whose graphs never end in a ZipMap (XGBoost's
     * model.json) leaves it NULL, which means "no output is a label map" */
    if (i < 0 || i >= m->n_outputs || !m->output_zipmap || m->output_zipmap[i] < 0) return 0;
    const ms_node *n = &m->nodes[m->output_zipmap[i]];
    const int64_t *ints;
    const char *const *strs;
    int ni = ms_attr_ints(n, "classlabels_int64s", &ints);
    int ns = ms_attr_strings(n, "classlabels_strings", &strs);
    if (ni > 0) {
        *label_type = MS_DTYPE_INT64, *n_labels = ni, *labels = ints;
    } else {
        *label_type = MS_DTYPE_STRING, *n_labels = ns > 0 ? ns : 0, *labels = ns > 0 ? strs : NULL;
    }
    return 1;
}

const char *const *ms_model_feature_names(const ms_model *m, int input, int64_t *n)
{
    *n = 0;
    if (input != 0 || !m->feature_names || m->n_feature_names <= 0) return NULL;
    *n = m->n_feature_names;
    return m->feature_names;
}

int64_t ms_model_ir_version(const ms_model *m) { return m->ir_version; }
const char *ms_model_producer(const ms_model *m) { return m->producer; }
int ms_model_num_opsets(const ms_model *m) { return m->n_opsets; }

void ms_model_opset(const ms_model *m, int i, const char **domain, int64_t *version)
{
    if (i < 0 || i >= m->n_opsets) {
        *domain = "", *version = 0;
        return;
    }
    *domain = m->opsets[i].domain;
    *version = m->opsets[i].version;
}

int ms_model_num_ops(const ms_model *m) { return m->n_optypes; }

void ms_model_op(const ms_model *m, int i, const char **domain, const char **op_type,
                 int *supported)
{
    if (i < 0 || i >= m->n_optypes) {
        *domain = "", *op_type = "", *supported = 0;
        return;
    }
    *domain = m->optypes[i].domain;
    *op_type = m->optypes[i].op_type;
    *supported = m->optypes[i].supported;
}

ms_status ms_model_check_supported(const ms_model *m, ms_error *err)
{
    for (int i = 0; i < m->n_nodes; i++) {
        if (m->kernels[i]) continue;
        const ms_node *n = &m->nodes[i];
        const char *dom = n->domain[0] ? n->domain : "ai.onnx";
        const char *why = ms_kernel_find(n->domain, n->op_type, 0) ||
                                  ms_kernel_find(n->domain, n->op_type, 1)
                              ? "is supported, but not at this opset"
                              : "is not supported";
        if (n->name[0])
            snprintf(err->msg, sizeof err->msg,
                     "operator %s (node '%s', %s opset %d) %s by mlship %s", n->op_type, n->name,
                     dom, (int)n->opset, why, MS_VERSION_STRING);
        else
            snprintf(err->msg, sizeof err->msg,
                     "operator %s (node #%d, %s opset %d) %s by mlship %s", n->op_type, i, dom,
                     (int)n->opset, why, MS_VERSION_STRING);
        return MS_ERR_UNSUPPORTED;
    }
    return MS_OK;
}
