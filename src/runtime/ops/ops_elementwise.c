/* ops_elementwise.c: placeholder table until the family's kernels land. */
#include "ms_op.h"

const ms_kernel ms_ops_elementwise[] = {
    {0},
};
