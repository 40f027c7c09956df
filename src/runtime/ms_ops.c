/* ms_ops.c: the operator registry. Kernels are found by (domain, op_type, opset) in the
 * family tables; a linear scan is fine because lookup happens once per node at planning. */
#include "ms_op.h"

#include <string.h>

static const ms_kernel *const families[] = {
    ms_ops_elementwise, ms_ops_linalg, ms_ops_conv, ms_ops_reduce,
    ms_ops_norm,        ms_ops_pool,   ms_ops_shape,  ms_ops_gather,
    ms_ops_ml,          ms_ops_ml_trees,
};

const ms_kernel *ms_kernel_find(const char *domain, const char *op_type, int opset)
{
    /* "ai.onnx" is the long spelling of the default domain */
    if (!strcmp(domain, "ai.onnx")) domain = "";
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const ms_kernel *k = families[f]; k->op_type; k++)
            if (!strcmp(k->op_type, op_type) && !strcmp(k->domain, domain) &&
                opset >= k->since && opset <= k->until)
                return k;
    return NULL;
}
