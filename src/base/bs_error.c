/* bs_error.c: the error idiom (see bs_error.h). */
#include "base/bs_error.h"

#include <stdio.h>

ms_status bs_vfail(ms_error *err, ms_status st, const char *fmt, va_list ap)
{
    if (err) vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return st;
}

ms_status bs_fail(ms_error *err, ms_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bs_vfail(err, st, fmt, ap);
    va_end(ap);
    return st;
}
