/* bs_error.h: the one-line error idiom every layer above the runtime uses: fill err->msg
 * printf-style and return the status (return bs_fail(err, MS_ERR_INVALID, "bad %s", what)).
 *
 * base keeps the runtime's error type (ms_status / ms_error from mlship.h): the statuses are
 * the CLI's exit codes and every layer already passes an ms_error down, so a second error type
 * would only add conversions. mlship.h is the one header base includes besides libc. */
#ifndef BS_ERROR_H
#define BS_ERROR_H

#include <stdarg.h>

#include "mlship.h"

/* err may be NULL (the status is still returned); the message is cut to fit err->msg. */
ms_status bs_fail(ms_error *err, ms_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
ms_status bs_vfail(ms_error *err, ms_status st, const char *fmt, va_list ap);

#endif
