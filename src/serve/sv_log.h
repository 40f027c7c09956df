/* sv_log.h: the server's two logs. The access log (--access-log FILE) gets one JSON object per
 * request; server events (model loads, refusals, shutdown) go to stderr as one line each,
 * "mlship serve: ...". Both are safe to call from any thread. */
#ifndef SV_LOG_H
#define SV_LOG_H

#include <stdint.h>

#include "mlship.h"

typedef struct sv_access {
    const char *remote;  /* client address, "" if unknown */
    const char *method, *path;
    int status;
    uint64_t bytes_in, bytes_out;
    double duration_us;
    const char *route;   /* route label, e.g. "infer" */
    const char *model, *version; /* "" when the route names none */
    const char *error;   /* the error message sent, or NULL */
} sv_access;

/* Open (append) the access log; NULL path disables it. */
ms_status sv_log_open(const char *path, ms_error *err);
void sv_log_close(void);
void sv_log_access(const sv_access *a);
/* A server event on stderr. */
void sv_log_event(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
