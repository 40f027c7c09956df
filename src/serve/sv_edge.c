/* sv_edge.c: GET/HEAD /edge/PATH: `mlship serve --edge-dir DIR` hosts a directory written by
 * `mlship edge publish` for devices (docs/agent.md), so one binary can be the whole backend.
 *
 * What a static file server must get right and what the agent relies on: a strong ETag
 * (inode, size, nanosecond mtime: publish replaces files by rename, so every new manifest has
 * a new one) with If-None-Match -> 304; one byte range (Range: bytes=A-B | A- | -N) -> 206
 * with Content-Range, past the end -> 416, If-Range; Content-Length (libmicrohttpd, HEAD too).
 * Nothing outside DIR is ever opened: every path segment must be [A-Za-z0-9._-] and not start
 * with '.' (so no "..", whether it came as ".." or "%2e%2e": the path is already decoded), and
 * the segments are opened one by one under DIR's descriptor with O_NOFOLLOW (no symbolic
 * link is followed, inside DIR or out). A directory is not listed. All of these are 404s
 * naming the path and the rule. The files are public by design (what matters is signed), so
 * the route takes no token. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/sv_int.h"

#define EDGE_PREFIX "/edge"

/* 1 if s is one acceptable path segment. */
static int segment_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* Open `rel` ("a/b/c") under dirfd, segment by segment, no link followed; the fd or -1 with
 * errno (ENOENT for a bad segment). */
static int open_under(int dirfd, const char *rel)
{
    int fd = dup(dirfd);
    const char *p = rel;
    while (fd >= 0) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char seg[256];
        if (!segment_ok(p, n) || n >= sizeof seg) { close(fd); errno = ENOENT; return -1; }
        memcpy(seg, p, n);
        seg[n] = 0;
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (slash ? O_DIRECTORY : O_NONBLOCK);
        int next = openat(fd, seg, flags);
        int e = errno;
        close(fd);
        errno = e;
        fd = next;
        if (!slash) break;
        p = slash + 1;
    }
    return fd;
}

static void etag_of(const struct stat *st, char *dst, size_t cap)
{
    snprintf(dst, cap, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st->st_ino, (uint64_t)st->st_size,
             (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
}

/* If-None-Match: "*" or a list of tags, compared weakly (a W/ prefix is ignored). */
static int none_match(const char *h, const char *etag)
{
    size_t elen = strlen(etag);
    for (const char *p = h; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        if (*p == '*') return 1;
        if (strncmp(p, "W/", 2) == 0) p += 2;
        const char *end = p + strcspn(p, ",");
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - p) == elen && memcmp(p, etag, elen) == 0) return 1;
        p = end;
    }
    return 0;
}

/* Range: "bytes=A-B", "bytes=A-", "bytes=-N". 1: [*a, *b] is the range; 0: no usable range
 * (absent, malformed or several ranges: the whole file is sent, as RFC 9110 allows);
 * -1: unsatisfiable (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *a, uint64_t *b)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',')) return 0;
    const char *p = h + 6, *dash = strchr(p, '-');
    if (!dash) return 0;
    char *end;
    if (dash == p) { /* suffix: the last N bytes */
        if (dash[1] < '0' || dash[1] > '9') return 0;
        uint64_t n = strtoull(dash + 1, &end, 10);
        if (*end) return 0;
        if (n == 0 || size == 0) return -1;
        *a = n >= size ? 0 : size - n;
        *b = size - 1;
        return 1;
    }
    if (*p < '0' || *p > '9') return 0;
    *a = strtoull(p, &end, 10);
    if (end != dash) return 0;
    if (dash[1]) {
        if (dash[1] < '0' || dash[1] > '9') return 0;
        *b = strtoull(dash + 1, &end, 10);
        if (*end || *b < *a) return 0;
    } else *b = UINT64_MAX;
    if (*a >= size) return -1;
    if (*b >= size) *b = size - 1;
    return 1;
}

static const char *content_type(const char *path)
{
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".json") == 0) return "application/json";
    if (n > 4 && strcmp(path + n - 4, ".sig") == 0) return "text/plain";
    return "application/octet-stream";
}

/* Open the file the request names, or answer 404; the fd and its stat. */
static int open_file(sv_server *s, sv_req *r, struct stat *st)
{
    const char *rel = r->path + strlen(EDGE_PREFIX);
    if (!s->edge_dir) {
        sv_req_error(r, 404, "no route %s %s (this server has no --edge-dir)", r->method, r->path);
        return -1;
    }
    int fd = rel[0] == '/' ? open_under(s->edge_fd, rel + 1) : (errno = ENOENT, -1);
    if (fd < 0) {
        const char *why = errno == ELOOP || errno == ENOTDIR ? "a symbolic link or a file where a directory should be "
                                                               "(links are never followed)"
                        : errno == ENOENT ? "no such file (path segments are [A-Za-z0-9._-], not starting with '.')"
                                          : strerror(errno);
        sv_req_error(r, 404, "%s: not in the edge directory: %s", r->path, why);
        return -1;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        sv_req_error(r, 404, "%s: not a file in the edge directory (directories are not listed)", r->path);
        return -1;
    }
    return fd;
}

void sv_edge_get(sv_server *s, sv_req *r, const sv_match *mt)
{
    (void)mt;
    struct stat st;
    int fd = open_file(s, r, &st);
    if (fd < 0) return;
    char etag[80], lm[64], cr[96];
    etag_of(&st, etag, sizeof etag);
    struct tm tm;
    strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&st.st_mtim.tv_sec, &tm));
    sv_req_add_header(r, "ETag", etag);
    sv_req_add_header(r, "Last-Modified", lm);
    sv_req_add_header(r, "Accept-Ranges", "bytes");
    /* blobs are content-addressed (never change); a manifest must be asked for again */
    sv_req_add_header(r, "Cache-Control", strncmp(r->path, EDGE_PREFIX "/blobs/", 12) == 0 ? "max-age=31536000, immutable"
                                                                                           : "no-cache");
    const char *inm = sv_req_header(r, "If-None-Match");
    if (inm && none_match(inm, etag)) {
        close(fd);
        r->status = 304;
        return;
    }
    uint64_t size = (uint64_t)st.st_size, a = 0, b = 0;
    const char *ifr = sv_req_header(r, "If-Range");
    int rg = ifr && strcmp(ifr, etag) != 0 ? 0 : parse_range(sv_req_header(r, "Range"), size, &a, &b);
    if (rg < 0) {
        close(fd);
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
        sv_req_add_header(r, "Content-Range", cr);
        sv_req_error(r, 416, "%s: range '%s' is outside the file's %" PRIu64 " bytes", r->path, sv_req_header(r, "Range"),
                     size);
        return;
    }
    r->content_type = content_type(r->path);
    if (strncmp(r->path, EDGE_PREFIX "/blobs/", 12) == 0) r->file_rate = s->edge_rate;
    if (rg == 0) { sv_req_send_file(r, 200, fd, 0, size); return; }
    snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, a, b, size);
    sv_req_add_header(r, "Content-Range", cr);
    sv_req_send_file(r, 206, fd, a, b - a + 1);
}
