/* sv_http.c: HTTP/1.1 on GNU libmicrohttpd (Debian libmicrohttpd-dev).
 *
 * Why libmicrohttpd: it is a maintained, widely packaged C library that does the parts that are
 * easy to get wrong (request parsing, chunked bodies, keep-alive, pipelining, timeouts,
 * Expect: 100-continue), runs its own pool of epoll event-loop threads, and can suspend a
 * connection while its request waits in a batch queue and resume it from another thread.
 * h2o would be faster still but is a much larger dependency with its own event loop to embed;
 * a home-made loop would have to re-earn all of the above. The measurements in bench/RESULTS.md
 * say how close this gets to nginx's ceiling.
 *
 * Threads: MHD_OPTION_THREAD_POOL_SIZE event-loop threads, each owning its connections.
 * Handlers run on those threads and must not block for long: model runs are short, and a
 * request that waits for a dynamic batch is suspended instead of blocking its thread. */
#define _GNU_SOURCE
#include "serve/sv_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

struct sv_http {
    struct MHD_Daemon *d;
    sv_http_opts o;
    atomic_int inflight;
    atomic_int draining;
    int port;
};

enum { PH_READ, PH_SUSPENDED, PH_READY, PH_SENT };

typedef struct sv_req_int {
    struct MHD_Connection *conn;
    sv_http *h;
    int phase;
    int too_large;
    char *path; /* owned copy without the query string */
} sv_req_int;

const char *sv_req_header(sv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->in->conn, MHD_HEADER_KIND, name);
}

const char *sv_req_query(sv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->in->conn, MHD_GET_ARGUMENT_KIND, name);
}

int sv_req_add_header(sv_req *r, const char *name, const char *value)
{
    if (r->n_headers >= SV_MAX_HEADERS) return -1;
    snprintf(r->header_name[r->n_headers], sizeof r->header_name[0], "%s", name);
    snprintf(r->header_value[r->n_headers], sizeof r->header_value[0], "%s", value);
    r->n_headers++;
    return 0;
}

void sv_req_error(sv_req *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    /* The message itself may be longer than r->error: format again into the body. */
    char msg[1024];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mc_buf_reset(&r->out);
    mc_buf_puts(&r->out, "{\"error\":");
    mc_buf_put_json_str(&r->out, msg);
    mc_buf_puts(&r->out, "}");
    r->content_type = "application/json";
    r->status = status;
}

void sv_req_send_file(sv_req *r, int status, int fd, uint64_t off, uint64_t len)
{
    if (r->file_fd >= 0) close(r->file_fd);
    mc_buf_reset(&r->out);
    r->file_fd = fd;
    r->file_off = off;
    r->file_len = len;
    r->status = status;
}

void sv_req_suspend(sv_req *r)
{
    r->in->phase = PH_SUSPENDED;
    MHD_suspend_connection(r->in->conn);
}

void sv_req_resume(sv_req *r)
{
    struct MHD_Connection *c = r->in->conn;
    r->in->phase = PH_READY; /* the handler runs again on the connection's thread and sends */
    MHD_resume_connection(c);
}

static void free_buf(void *p) { free(p); }

/* file_rate (tests): a file sent in 1 KiB pieces, each after its share of a second, so a
 * transfer lasts long enough to be cut in the middle (nginx's limit_rate does this). */
typedef struct slow_file { int fd; uint64_t off, rate; } slow_file;

static ssize_t slow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    slow_file *f = cls;
    size_t n = max < 1024 ? max : 1024;
    uint64_t ns = (uint64_t)n * 1000000000u / f->rate;
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
    ssize_t got = pread(f->fd, buf, n, (off_t)(f->off + pos));
    return got > 0 ? got : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void slow_free(void *cls)
{
    slow_file *f = cls;
    close(f->fd);
    free(f);
}

/* The response for a file (sv_req_send_file): sendfile, or the slow reader under file_rate. */
static struct MHD_Response *file_response(sv_req *r)
{
    int fd = r->file_fd;
    r->file_fd = -1;
    struct MHD_Response *resp = NULL;
    slow_file *f = r->file_rate ? malloc(sizeof *f) : NULL;
    if (f) {
        *f = (slow_file){fd, r->file_off, r->file_rate};
        resp = MHD_create_response_from_callback(r->file_len, 1024, slow_read, f, slow_free);
        if (!resp) slow_free(f);
        return resp;
    }
    if (!r->file_rate) resp = MHD_create_response_from_fd_at_offset64(r->file_len, fd, r->file_off);
    if (!resp) close(fd);
    return resp;
}

static enum MHD_Result send_response(sv_req *r)
{
    sv_req_int *in = r->in;
    sv_http *h = in->h;
    if (!r->status) sv_req_error(r, 500, "internal error: no response");
    struct MHD_Response *resp;
    size_t len = r->out.len;
    if (r->file_fd >= 0) {
        len = (size_t)r->file_len;
        resp = file_response(r);
    } else if (r->out.data && !r->out.failed) {
        resp = MHD_create_response_from_buffer_with_free_callback(len, r->out.data, free_buf);
        if (resp) r->out.data = NULL, r->out.len = r->out.cap = 0;
    } else {
        if (r->out.failed) r->status = 500;
        len = 0;
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    for (int i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->header_name[i], r->header_value[i]);
    if (atomic_load(&h->draining)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(in->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    in->phase = PH_SENT;
    if (h->o.done) {
        char remote[64] = "";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(in->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, remote, sizeof remote);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, remote, sizeof remote);
        }
        if (!remote[0] && h->o.unix_path) snprintf(remote, sizeof remote, "unix");
        h->o.done(h->o.ctx, r, remote, len);
    }
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    sv_http *h = cls;
    sv_req *r = *con_cls;
    if (!r) { /* first call: headers are in */
        r = calloc(1, sizeof *r);
        sv_req_int *in = r ? calloc(1, sizeof *in) : NULL;
        if (!in) { free(r); return MHD_NO; }
        r->in = in;
        in->conn = conn;
        in->h = h;
        r->t0_ns = bs_now_ns();
        r->method = method;
        r->file_fd = -1;
        size_t n = strcspn(url, "?");
        if (!(in->path = strndup(url, n))) { free(in); free(r); return MHD_NO; }
        r->path = in->path;
        snprintf(r->route, sizeof r->route, "other");
        *con_cls = r;
        atomic_fetch_add(&h->inflight, 1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long v = strtoull(cl, &end, 10);
            if (*end || v > h->o.max_body) {
                /* Answer before reading the body; MHD then closes the connection. */
                sv_req_error(r, 413, "request body of %s bytes exceeds the limit of %llu bytes (--max-body)",
                             cl, (unsigned long long)h->o.max_body);
                return send_response(r);
            }
            if (v) mc_buf_reserve(&r->body, (size_t)v);
        }
        return MHD_YES;
    }
    sv_req_int *in = r->in;
    if (*upload_data_size) { /* a piece of the body */
        if (in->too_large || r->body.len + *upload_data_size > h->o.max_body) in->too_large = 1;
        else mc_buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (in->phase == PH_READY) return send_response(r);
    if (in->phase != PH_READ) return MHD_YES; /* spurious call while suspended or after sending */
    if (in->too_large) {
        sv_req_error(r, 413, "request body exceeds the limit of %llu bytes (--max-body)",
                     (unsigned long long)h->o.max_body);
        return send_response(r);
    }
    if (r->body.failed) {
        sv_req_error(r, 500, "out of memory reading the request body");
        return send_response(r);
    }
    if (!r->body.data) mc_buf_reserve(&r->body, 1); /* an empty body is "" */
    h->o.handler(h->o.ctx, r);
    if (in->phase == PH_SUSPENDED || in->phase == PH_READY) return MHD_YES;
    return send_response(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    sv_http *h = cls;
    sv_req *r = *con_cls;
    if (!r) return;
    if (r->state_free) r->state_free(r->state);
    if (r->file_fd >= 0) close(r->file_fd);
    mc_buf_free(&r->body);
    mc_buf_free(&r->out);
    free(r->in->path);
    free(r->in);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}

/* The listening socket is bound here rather than by libmicrohttpd, for two reasons. A port
 * already taken must be reported as such (MHD only says that it failed). And sharing a port
 * must be asked for: with SO_REUSEPORT a second server on the same address starts quietly and
 * the kernel splits the connections between the two, so it is set only with --reuse-port.
 * SO_REUSEADDR is always set: it only lets a restarted server bind over the TIME_WAIT
 * connections of the previous one, never two listeners on one port. */
static ms_status listen_on(const struct addrinfo *ai, const sv_http_opts *o, int *out, ms_error *err)
{
    const char *br = strchr(o->host, ':') ? "[" : "", *ket = br[0] ? "]" : "";
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return bs_fail(err, MS_ERR_RUNTIME, "cannot listen on %s%s%s:%d: %s", br, o->host, ket, o->port, strerror(errno));
    int one = 1, rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0 && o->reuse_port) rc = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (rc == 0 && ai->ai_family == AF_INET6) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (rc == 0) rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc == 0) rc = listen(fd, 1024);
    if (rc != 0) {
        int e = errno;
        close(fd);
        const char *hint = e == EADDRINUSE ? " (another server is listening there; to share one port between "
                                             "servers, start every one of them with --reuse-port)"
                         : e == EACCES ? " (ports below 1024 need privileges)"
                         : e == EADDRNOTAVAIL ? " (no such address on this machine)" : "";
        return bs_fail(err, MS_ERR_RUNTIME, "cannot listen on %s%s%s:%d: %s%s", br, o->host, ket, o->port,
                       e == EADDRINUSE ? "address already in use" : strerror(e), hint);
    }
    *out = fd;
    return MS_OK;
}

/* A Unix socket at o->unix_path. A socket file left by a server that died is replaced (it can
 * only be stale if nobody answers on it); a live socket or any other file is refused, so a
 * typo never deletes a user's file and two agents never share one path. */
static ms_status listen_unix(const sv_http_opts *o, int *out, ms_error *err)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!o->unix_path[0] || strlen(o->unix_path) >= sizeof sa.sun_path)
        return bs_fail(err, MS_ERR_INVALID, "--socket '%s': a path of 1 to %zu bytes is needed",
                       o->unix_path, sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, o->unix_path, strlen(o->unix_path) + 1);
    struct stat stt;
    if (lstat(o->unix_path, &stt) == 0) {
        if (!S_ISSOCK(stt.st_mode))
            return bs_fail(err, MS_ERR_INVALID, "--socket '%s': a file that is not a socket is there", o->unix_path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (probe >= 0) close(probe);
        if (live)
            return bs_fail(err, MS_ERR_RUNTIME, "cannot listen on %s: address already in use (a server answers there)",
                           o->unix_path);
        unlink(o->unix_path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return bs_fail(err, MS_ERR_RUNTIME, "cannot listen on %s: %s", o->unix_path, strerror(errno));
    mode_t old = umask(0117); /* the socket file is created 0660 */
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc == 0) rc = listen(fd, 1024);
    if (rc != 0) {
        int e = errno;
        close(fd);
        return bs_fail(err, MS_ERR_RUNTIME, "cannot listen on %s: %s", o->unix_path, strerror(e));
    }
    *out = fd;
    return MS_OK;
}

static int bound_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return -1;
    if (sa.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return ntohs(((struct sockaddr_in *)&sa)->sin_port);
}

/* host:port through getaddrinfo (the first address it gives). */
static ms_status listen_inet(const sv_http_opts *o, int *fd, int *family, ms_error *err)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    int gai = getaddrinfo(o->host, port, &hints, &ai);
    if (gai != 0 || !ai)
        return bs_fail(err, MS_ERR_INVALID, "cannot resolve --host '%s': %s", o->host, gai_strerror(gai));
    ms_status st = listen_on(ai, o, fd, err);
    *family = ai->ai_family;
    freeaddrinfo(ai);
    return st;
}

ms_status sv_http_start(const sv_http_opts *o, sv_http **out, ms_error *err)
{
    *out = NULL;
    int fd = -1, family = AF_UNIX;
    ms_status st = o->unix_path ? listen_unix(o, &fd, err) : listen_inet(o, &fd, &family, err);
    if (st != MS_OK) return st;
    sv_http *h = calloc(1, sizeof *h);
    if (!h) { close(fd); return bs_fail(err, MS_ERR_RUNTIME, "out of memory"); }
    h->o = *o;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_TURBO;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h},
        {o->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, o->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, h,
                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!h->d) {
        close(fd);
        free(h);
        if (o->unix_path)
            return bs_fail(err, MS_ERR_RUNTIME, "cannot start the HTTP server on %s (libmicrohttpd refused)",
                           o->unix_path);
        return bs_fail(err, MS_ERR_RUNTIME, "cannot start the HTTP server on %s:%d (libmicrohttpd refused)",
                       o->host, o->port);
    }
    h->port = o->unix_path ? 0 : bound_port(fd);
    if (h->port < 0) h->port = o->port;
    *out = h;
    return MS_OK;
}

int sv_http_port(const sv_http *h) { return h->port; }
int sv_http_inflight(const sv_http *h) { return atomic_load(&((sv_http *)h)->inflight); }

void sv_http_quiesce(sv_http *h)
{
    atomic_store(&h->draining, 1);
    MHD_socket s = MHD_quiesce_daemon(h->d);
    if (s != MHD_INVALID_SOCKET) close(s);
}

void sv_http_stop(sv_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}
