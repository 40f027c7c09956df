/* sv_http.h: the HTTP/1.1 layer of `mlship serve`, on GNU libmicrohttpd.
 *
 * One handler sees every request once its whole body has arrived (bodies over max_body are
 * answered 413 by this layer: at once when Content-Length says so, before reading the body).
 * The handler either fills the response (status, out, content_type, headers) and returns, or
 * calls sv_req_suspend and later, from any thread, fills the response and calls sv_req_resume
 * (the dynamic batcher does this: a request waiting for its batch holds no thread).
 * `done` runs after each response is queued, for metrics and the access log. */
#ifndef SV_HTTP_H
#define SV_HTTP_H

#include <stdint.h>

#include "base/bs_clock.h" /* bs_now_ns: the clock requests are timed on */
#include "codec/codec_buf.h"
#include "mlship.h"

#define SV_MAX_HEADERS 8

typedef struct sv_http sv_http;

typedef struct sv_req {
    /* the request */
    const char *method;    /* "GET", "POST", ... */
    const char *path;      /* decoded path, without the query string */
    mc_buf body;           /* NUL-terminated */
    uint64_t t0_ns;        /* monotonic time the request line arrived */
    /* the response */
    int status;            /* 0 until set */
    mc_buf out;
    const char *content_type; /* static string; default application/json */
    int n_headers;
    char header_name[SV_MAX_HEADERS][40];
    char header_value[SV_MAX_HEADERS][96];
    /* or a file's bytes instead of `out` (sv_req_send_file) */
    int file_fd;           /* -1: none */
    uint64_t file_off, file_len;
    uint64_t file_rate;    /* tests only: at most this many bytes/s (the event-loop thread
                            * sleeps between pieces); 0: at full speed */
    /* labels for metrics and the log, set by the handler */
    char route[32];
    char model[128];
    char version[128];
    char error[256];       /* the error sent, for the access log ("" if none) */
    /* the handler's per-request state, freed with the request */
    void *state;
    void (*state_free)(void *state);
    /* internal */
    struct sv_req_int *in;
} sv_req;

typedef struct sv_http_opts {
    const char *host;      /* "127.0.0.1", "::1", "0.0.0.0", a name */
    int port;              /* 0: any free port (see sv_http_port) */
    int threads;           /* event-loop threads (>= 1) */
    uint64_t max_body;     /* bytes */
    int idle_timeout_s;    /* close a connection idle (or stalled) this long */
    void (*handler)(void *ctx, sv_req *r);
    void (*done)(void *ctx, sv_req *r, const char *remote, uint64_t bytes_out);
    void *ctx;
    int reuse_port;        /* SO_REUSEPORT: share the port with other servers (else a taken
                            * port is an error: "address already in use") */
    const char *unix_path; /* non-NULL: listen on this Unix socket instead of host:port (a
                            * stale socket file is replaced; anything else there is refused;
                            * mode 0660, so the owner's group may connect) */
} sv_http_opts;

ms_status sv_http_start(const sv_http_opts *o, sv_http **out, ms_error *err);
int sv_http_port(const sv_http *h);
/* Requests received and not yet answered and cleaned up. */
int sv_http_inflight(const sv_http *h);
/* Stop accepting connections; later responses carry "Connection: close". */
void sv_http_quiesce(sv_http *h);
void sv_http_stop(sv_http *h);

/* A request header (case-insensitive name), or NULL. Only inside the handler. */
const char *sv_req_header(sv_req *r, const char *name);
/* A query-string argument (?name=value, decoded), or NULL. Only inside the handler. */
const char *sv_req_query(sv_req *r, const char *name);
int sv_req_add_header(sv_req *r, const char *name, const char *value);
/* Answer `status` with len bytes of the open file fd from offset off (sent with sendfile;
 * a HEAD request gets the headers only). The layer owns fd from here on and closes it. */
void sv_req_send_file(sv_req *r, int status, int fd, uint64_t off, uint64_t len);
void sv_req_suspend(sv_req *r);
void sv_req_resume(sv_req *r);

/* Set a JSON error response {"error": msg} with `status`. */
void sv_req_error(sv_req *r, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
