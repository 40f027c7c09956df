/* ex_cost.c: a model's multiply-adds per row, from the shapes ex_graph found at batch 1.
 * The count `mlship export-c --report` and `mlship advise` print: nominal, as a paper counts
 * them (a pooled conv's skipped outputs included), over the operators whose work is
 * multiply-adds; elementwise operators, pools and tree walks count none. */
#include <string.h>

#include "ex_int.h"
#include "ms_op.h"

static const ms_tensor *val(const ex_plan *p, int v) { return v >= 0 ? &p->vals[v] : NULL; }

static int64_t node_macs(const ex_plan *p, const ms_node *n)
{
    const ms_tensor *a = n->n_in > 0 ? val(p, n->in[0]) : NULL;
    const ms_tensor *w = n->n_in > 1 ? val(p, n->in[1]) : NULL;
    const ms_tensor *y = n->n_out > 0 ? val(p, n->out[0]) : NULL;
    if (!y || !a) return 0;
    if (n->domain[0]) { /* ai.onnx.ml linear models: one multiply-add per coefficient */
        const float *c;
        if (!strcmp(n->op_type, "LinearClassifier") || !strcmp(n->op_type, "LinearRegressor"))
            return ms_attr_floats(n, "coefficients", &c) * (a->ndim > 1 ? a->shape[0] : 1);
        return 0;
    }
    if (!strcmp(n->op_type, "MatMul") && a->ndim >= 1) /* Y[.., M, N] = A[.., M, K] B[K, N] */
        return ex_numel(y) * a->shape[a->ndim - 1];
    if (!strcmp(n->op_type, "Gemm") && a->ndim == 2 && y->ndim == 2 && y->shape[0] > 0)
        return ex_numel(y) * (ex_numel(a) / y->shape[0]); /* K whatever transA says */
    if (!strcmp(n->op_type, "Conv") && w && w->ndim >= 3) { /* W[OC, C/group, k...] */
        int64_t taps = 1;
        for (int d = 1; d < w->ndim; d++) taps *= w->shape[d];
        return ex_numel(y) * taps;
    }
    if (!strcmp(n->op_type, "ConvTranspose") && w && w->ndim >= 3) { /* W[C, OC/group, k...] */
        int64_t taps = 1;
        for (int d = 1; d < w->ndim; d++) taps *= w->shape[d];
        return ex_numel(a) * taps;
    }
    return 0;
}

int64_t ex_macs(const ex_plan *p)
{
    int64_t total = 0;
    for (int i = 0; i < p->m->n_nodes; i++) total += node_macs(p, &p->m->nodes[i]);
    return total;
}
