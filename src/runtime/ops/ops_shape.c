/* ops_shape.c: placeholder table until the family's kernels land. */
#include "ms_op.h"

const ms_kernel ms_ops_shape[] = {
    {0},
};
