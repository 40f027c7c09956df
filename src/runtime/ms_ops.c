/* ms_ops.c: the operator registry. Kernels are found by (domain, op_type, opset) in the
 * family tables of ms_kernel_families (ms_ops_all.c, or a program's own: see ms_op.h); a
 * linear scan is fine because lookup happens once per node at planning. */
#include "ms_op.h"

#include <string.h>

const ms_kernel *ms_kernel_find(const char *domain, const char *op_type, int opset)
{
    /* "ai.onnx" is the long spelling of the default domain */
    if (!strcmp(domain, "ai.onnx")) domain = "";
    for (const ms_kernel *const *f = ms_kernel_families; *f; f++)
        for (const ms_kernel *k = *f; k->op_type; k++)
            if (!strcmp(k->op_type, op_type) && !strcmp(k->domain, domain) &&
                opset >= k->since && opset <= k->until)
                return k;
    return NULL;
}
