/* ms_tensor.c: element types and tensor sizes. */
#include "mlship.h"

size_t ms_dtype_size(ms_dtype t)
{
    switch (t) {
    case MS_DTYPE_FLOAT: case MS_DTYPE_INT32: case MS_DTYPE_UINT32: return 4;
    case MS_DTYPE_DOUBLE: case MS_DTYPE_INT64: case MS_DTYPE_UINT64: return 8;
    case MS_DTYPE_INT16: case MS_DTYPE_UINT16: case MS_DTYPE_FLOAT16: return 2;
    case MS_DTYPE_INT8: case MS_DTYPE_UINT8: case MS_DTYPE_BOOL: return 1;
    case MS_DTYPE_STRING: return sizeof(const char *);
    default: return 0;
    }
}

const char *ms_dtype_name(ms_dtype t)
{
    switch (t) {
    case MS_DTYPE_FLOAT: return "float32";
    case MS_DTYPE_UINT8: return "uint8";
    case MS_DTYPE_INT8: return "int8";
    case MS_DTYPE_UINT16: return "uint16";
    case MS_DTYPE_INT16: return "int16";
    case MS_DTYPE_INT32: return "int32";
    case MS_DTYPE_INT64: return "int64";
    case MS_DTYPE_STRING: return "string";
    case MS_DTYPE_BOOL: return "bool";
    case MS_DTYPE_FLOAT16: return "float16";
    case MS_DTYPE_DOUBLE: return "float64";
    case MS_DTYPE_UINT32: return "uint32";
    case MS_DTYPE_UINT64: return "uint64";
    default: return "undefined";
    }
}

int64_t ms_tensor_numel(const ms_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}
