/* ms_fail.h: the runtime's one-line error idiom, private to src/runtime/: fill err->msg
 * printf-style and yield the status (return FAIL(err, MS_ERR_INVALID, "bad %s", what)).
 * The runtime has no dependencies, so it keeps this instead of base's bs_fail. */
#ifndef MS_FAIL_H
#define MS_FAIL_H

#include <stdio.h>

#define FAIL(err, st, ...) (snprintf((err)->msg, sizeof (err)->msg, __VA_ARGS__), (st))

#endif
