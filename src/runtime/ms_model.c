/* ms_model.c: the loaded graph's read-only API and its release. Loading (choosing the format
 * and calling a loader) is ms_load.c, one level up: nothing here calls into a loader. */
#include "ms_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

/* ---- missing values (ms_model_input_allows_missing) ------------------------------------- */

/* Nodes that carry NaN from one input to their outputs unchanged, so that whether NaN means
 * "missing" is decided by whoever reads those outputs. Cast only to a float type: NaN cast to
 * an integer is undefined. */
static int nan_passes_through(const ms_node *n)
{
    if (n->domain[0]) return 0;
    if (!strcmp(n->op_type, "Cast")) {
        int64_t to = ms_attr_int(n, "to", 0);
        return to == MS_DTYPE_FLOAT || to == MS_DTYPE_DOUBLE || to == MS_DTYPE_FLOAT16;
    }
    static const char *const ops[] = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                      "Concat"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(n->op_type, ops[i])) return 1;
    return 0;
}

/* A node that gives NaN in input k a meaning: a tree ensemble whose exporter stated a NaN
 * direction per node (XGBoost's default_left, scikit-learn's missing_go_to_left), or an
 * Imputer whose replaced value is NaN. A tree ensemble without that attribute would send NaN
 * down the "false" branch of splits that were never trained on missing values. */
static int nan_defined_by(const ms_node *n, int k)
{
    if (k != 0 || strcmp(n->domain, "ai.onnx.ml") != 0) return 0;
    if (!strcmp(n->op_type, "TreeEnsembleClassifier") ||
        !strcmp(n->op_type, "TreeEnsembleRegressor"))
        return ms_attr_find(n, "nodes_missing_value_tracks_true") != NULL;
    if (!strcmp(n->op_type, "Imputer")) return isnan(ms_attr_float(n, "replaced_value_float", 0));
    return 0;
}

static int is_graph_output(const ms_model *m, int32_t v)
{
    for (int32_t i = 0; i < m->n_outputs; i++)
        if (m->outputs[i] == v) return 1;
    return 0;
}

/* 1 when every reader of value v defines NaN (directly, or through pass-through nodes whose
 * outputs satisfy the same), and there is at least one reader. depth bounds the walk. */
static int nan_safe(const ms_model *m, int32_t v, int depth)
{
    if (depth > 16 || is_graph_output(m, v)) return 0;
    int readers = 0;
    for (int32_t i = 0; i < m->n_nodes; i++) {
        const ms_node *n = &m->nodes[i];
        for (int32_t k = 0; k < n->n_in; k++) {
            if (n->in[k] != v) continue;
            readers++;
            if (nan_defined_by(n, k)) continue;
            if (!nan_passes_through(n)) return 0;
            for (int32_t o = 0; o < n->n_out; o++)
                if (n->out[o] >= 0 && !nan_safe(m, n->out[o], depth + 1)) return 0;
        }
    }
    return readers > 0;
}

int ms_model_input_allows_missing(const ms_model *m, int i)
{
    if (i < 0 || i >= m->n_inputs) return 0;
    ms_dtype t = m->input_info[i].dtype;
    if (t != MS_DTYPE_FLOAT && t != MS_DTYPE_DOUBLE) return 0;
    return nan_safe(m, m->inputs[i], 0);
}
