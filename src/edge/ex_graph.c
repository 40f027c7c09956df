/* ex_graph.c: what the exporter knows of a graph before it writes any code: every value's
 * shape at batch 1, and the value of everything computable from constants alone (torch's
 * Shape -> Gather -> Concat -> Reshape chains, folded weights). It runs each node once, in
 * order, on zeros with the runtime's own kernels (infer, then run), as the session planner
 * does, so shapes are the runtime's and not a second implementation of them. */
#include "ex_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"

void *ex_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

int64_t ex_numel(const ms_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

ms_status ex_unsupported(ex_plan *p, const ms_node *n, const char *why)
{
    const char *dom = n->domain[0] ? n->domain : "ai.onnx";
    if (n->name[0])
        return bs_fail(p->err, MS_ERR_UNSUPPORTED, "operator %s (%s) in node '%s': %s", n->op_type,
                    dom, n->name, why);
    return bs_fail(p->err, MS_ERR_UNSUPPORTED, "operator %s (%s) in node #%d: %s", n->op_type, dom,
                (int)n->index, why);
}

/* The exported output: by name, or the first float output. */
static ms_status pick_output(ex_plan *p, const char *output)
{
    const ms_model *m = p->m;
    for (int k = 0; k < m->n_outputs; k++) {
        const ms_value_info *vi = &m->output_info[k];
        if (output ? !strcmp(vi->name, output) : vi->dtype == MS_DTYPE_FLOAT) {
            if (vi->dtype != MS_DTYPE_FLOAT)
                return bs_fail(p->err, MS_ERR_UNSUPPORTED, "output '%s' is %s; export-c writes "
                            "float32 outputs only", vi->name, ms_dtype_name(vi->dtype));
            p->out_value = m->outputs[k];
            return MS_OK;
        }
    }
    if (!output) return bs_fail(p->err, MS_ERR_UNSUPPORTED, "the model has no float32 output");
    char names[512] = "";
    for (int k = 0; k < m->n_outputs; k++) {
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s'%s'", k ? ", " : "", m->output_info[k].name);
    }
    return bs_fail(p->err, MS_ERR_INVALID, "the model has no output '%s' (it has %s)", output, names);
}

/* The one float input, at batch 1: every symbolic dimension becomes 1. */
static ms_status bind_input(ex_plan *p)
{
    const ms_model *m = p->m;
    if (m->n_inputs != 1)
        return bs_fail(p->err, MS_ERR_UNSUPPORTED, "the model has %d inputs; export-c takes models "
                    "with one float32 input", (int)m->n_inputs);
    const ms_value_info *vi = &m->input_info[0];
    if (vi->dtype != MS_DTYPE_FLOAT)
        return bs_fail(p->err, MS_ERR_UNSUPPORTED, "input '%s' is %s; export-c takes float32",
                    vi->name, ms_dtype_name(vi->dtype));
    int v = m->inputs[0];
    ms_tensor *t = &p->vals[v];
    t->dtype = MS_DTYPE_FLOAT;
    t->ndim = vi->ndim;
    for (int d = 0; d < vi->ndim; d++) t->shape[d] = vi->shape[d] < 0 ? 1 : vi->shape[d];
    p->in_value = v;
    p->in_n = ex_numel(t);
    if (p->in_n <= 0) return bs_fail(p->err, MS_ERR_UNSUPPORTED, "input '%s' is empty", vi->name);
    t->data = p->owned[v] = ex_calloc((size_t)p->in_n, sizeof(float));
    return t->data ? MS_OK : bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
}

static int foldable(const ex_plan *p, const ms_node *n)
{
    if (!n->domain[0] && (!strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size"))) return 1;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !p->is_const[n->in[k]]) return 0;
    return 1;
}

/* infer + run one node with freshly allocated outputs (kept until the plan is freed). */
static ms_status run_node(ex_plan *p, int i)
{
    const ms_model *m = p->m;
    const ms_node *n = &m->nodes[i];
    const ms_tensor *in[MS_MAX_IO];
    ms_tensor *out[MS_MAX_IO];
    for (int k = 0; k < n->n_in; k++) in[k] = n->in[k] >= 0 ? &p->vals[n->in[k]] : NULL;
    for (int k = 0; k < n->n_out; k++) out[k] = n->out[k] >= 0 ? &p->vals[n->out[k]] : NULL;
    ms_kctx c = {.node = n, .opset = n->opset, .n_in = n->n_in, .n_out = n->n_out, .in = in,
                 .out = out, .err = p->err};
    for (int k = 0; k < n->n_in && k < 64; k++)
        if (n->in[k] >= 0 && p->is_const[n->in[k]]) c.const_inputs |= (uint64_t)1 << k;
    ms_status st = m->kernels[i]->infer(&c);
    if (st) return st;
    int fold = foldable(p, n);
    for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        if (v < 0) continue;
        size_t es = ms_dtype_size(p->vals[v].dtype);
        if (!es) return ms_kfail(&c, MS_ERR_UNSUPPORTED, "output %d has no element type", k);
        int64_t cnt = ex_numel(&p->vals[v]);
        if (cnt < 0 || cnt > ((int64_t)1 << 32))
            return ms_kfail(&c, MS_ERR_UNSUPPORTED, "output %d is too large for a device", k);
        p->vals[v].data = p->owned[v] = ex_calloc((size_t)cnt, es);
        if (!p->owned[v]) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
        p->is_const[v] = (uint8_t)fold;
    }
    void *scratch = ex_calloc(c.scratch_size ? c.scratch_size : 64, 1);
    if (!scratch) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    c.scratch = scratch;
    st = m->kernels[i]->run(&c);
    free(scratch);
    return st;
}

ms_status ex_graph_shapes(ex_plan *p, const char *output)
{
    const ms_model *m = p->m;
    size_t nv = (size_t)m->n_values;
    p->vals = ex_calloc(nv, sizeof *p->vals);
    p->is_const = ex_calloc(nv, 1);
    p->owned = ex_calloc(nv, sizeof *p->owned);
    if (!p->vals || !p->is_const || !p->owned) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    for (size_t v = 0; v < nv; v++)
        if (m->values[v].kind == MS_VALUE_CONST) p->vals[v] = m->values[v].t, p->is_const[v] = 1;
    ms_status st = pick_output(p, output);
    if (!st) st = bind_input(p);
    for (int i = 0; !st && i < m->n_nodes; i++) {
        if (!m->kernels[i]) return ex_unsupported(p, &m->nodes[i], "the runtime has no kernel for it");
        st = run_node(p, i);
    }
    if (st) return st;
    p->out_n = ex_numel(&p->vals[p->out_value]);
    p->nan_ok = ms_model_input_allows_missing(m, 0);
    return MS_OK;
}

void ex_plan_free(ex_plan *p)
{
    for (int i = 0; i < p->n_layers; i++) {
        free(p->layers[i].w);
        free(p->layers[i].b);
        free(p->layers[i].idx);
        ex_trees_free(p->layers[i].trees);
    }
    free(p->layers);
    free(p->bufs);
    free(p->buf_of);
    for (int v = 0; p->owned && v < p->m->n_values; v++) free(p->owned[v]);
    free(p->owned);
    free(p->vals);
    free(p->is_const);
}
