/* ag_fetch.c: the agent's libcurl transfers (see ag_fetch.h). */
#define _GNU_SOURCE
#include "edge/agent/ag_fetch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/bs_error.h"

typedef struct mem_sink { mc_buf *out; size_t cap; int over; } mem_sink;

static size_t mem_write(char *p, size_t sz, size_t n, void *ctx)
{
    mem_sink *m = ctx;
    size_t len = sz * n;
    if (m->out->len + len > m->cap) { m->over = 1; return 0; }
    mc_buf_append(m->out, p, len);
    return mc_buf_failed(m->out) ? 0 : len;
}

/* Keep the ETag header's value (quotes included: it is sent back as-is). */
static size_t etag_header(char *p, size_t sz, size_t n, void *ctx)
{
    char *etag = ctx;
    size_t len = sz * n;
    if (etag && len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        const char *v = p + 5;
        size_t k = len - 5;
        while (k && (*v == ' ' || *v == '\t')) v++, k--;
        while (k && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' ')) k--;
        if (k < AG_ETAG_CAP) { memcpy(etag, v, k); etag[k] = 0; }
    }
    return len;
}

static CURL *easy(const ag_fetch_opts *o, const char *url)
{
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_s);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    return c;
}

ms_status ag_fetch_mem(const ag_fetch_opts *o, const char *url, const char *etag, size_t cap, mc_buf *out,
                       long *status, char etag_out[AG_ETAG_CAP], ms_error *err)
{
    CURL *c = easy(o, url);
    if (!c) return bs_fail(err, MS_ERR_RUNTIME, "%s: cannot start a transfer", url);
    struct curl_slist *h = NULL;
    char cond[AG_ETAG_CAP + 20], auth[600];
    if (etag && etag[0]) {
        snprintf(cond, sizeof cond, "If-None-Match: %s", etag);
        h = curl_slist_append(h, cond);
    }
    if (o->bearer && o->bearer[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %.500s", o->bearer);
        h = curl_slist_append(h, auth);
    }
    if (h) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (etag_out) etag_out[0] = 0;
    mem_sink m = {out, cap, 0};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, etag_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, etag_out);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (m.over) return bs_fail(err, MS_ERR_INVALID, "%s: larger than %zu bytes", url, cap);
    if (rc != CURLE_OK) return bs_fail(err, MS_ERR_RUNTIME, "%s: %s", url, curl_easy_strerror(rc));
    if (*status != 200 && *status != 304) return bs_fail(err, MS_ERR_RUNTIME, "%s: HTTP %ld", url, *status);
    return MS_OK;
}

typedef struct file_sink {
    FILE *f;
    int64_t have, size;
    long status;
    ag_download *d;
    int restart_done;
    CURL *c;
} file_sink;

static size_t file_write(char *p, size_t sz, size_t n, void *ctx)
{
    file_sink *s = ctx;
    size_t len = sz * n;
    if (!s->restart_done) {
        /* the first bytes: a 200 is the whole blob again, not the rest of it */
        curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &s->status);
        if (s->status == 200 && s->have > 0) {
            if (ftruncate(fileno(s->f), 0) != 0) return 0;
            rewind(s->f);
            s->have = 0;
            s->d->resumed_from = 0;
        }
        if (s->status != 200 && s->status != 206) return 0;
        s->restart_done = 1;
    }
    if (s->have + (int64_t)len > s->size) { s->d->too_big = 1; return 0; }
    if (fwrite(p, 1, len, s->f) != len || fflush(s->f) != 0) {
        if (errno == ENOSPC) s->d->disk_full = 1;
        return 0;
    }
    s->have += (int64_t)len;
    s->d->received += (int64_t)len;
    return len;
}

static ms_status finish(file_sink *s, CURLcode rc, const char *url, const char *path, ms_error *err)
{
    if (s->d->disk_full) {
        unlink(path);
        return bs_fail(err, MS_ERR_RUNTIME, "%s: no space left on the device writing '%s' (partial download removed)", url, path);
    }
    if (s->d->too_big) {
        unlink(path);
        return bs_fail(err, MS_ERR_INVALID, "%s: the server sent more than the manifest's %lld bytes", url, (long long)s->size);
    }
    if (s->status == 416 && s->have == s->size) return MS_OK;
    if (s->status == 416) { unlink(path); return bs_fail(err, MS_ERR_RUNTIME, "%s: HTTP 416 for a partial download; restarting", url); }
    if (rc != CURLE_OK) return bs_fail(err, MS_ERR_RUNTIME, "%s: %s after %lld of %lld bytes", url, curl_easy_strerror(rc),
                                       (long long)s->have, (long long)s->size);
    if (s->status != 200 && s->status != 206) return bs_fail(err, MS_ERR_RUNTIME, "%s: HTTP %ld", url, s->status);
    if (s->have != s->size) return bs_fail(err, MS_ERR_RUNTIME, "%s: the transfer ended at %lld of %lld bytes", url,
                                           (long long)s->have, (long long)s->size);
    return MS_OK;
}

ms_status ag_fetch_file(const ag_fetch_opts *o, const char *url, const char *path, int64_t size, ag_download *d,
                        ms_error *err)
{
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "ab");
    if (!f) return bs_fail(err, MS_ERR_RUNTIME, "cannot write '%s': %s", path, strerror(errno));
    struct stat st;
    int64_t have = fstat(fileno(f), &st) == 0 ? (int64_t)st.st_size : 0;
    if (have > size) {
        if (ftruncate(fileno(f), 0) != 0) { fclose(f); return bs_fail(err, MS_ERR_RUNTIME, "cannot truncate '%s'", path); }
        have = 0;
    }
    if (have == size) { fclose(f); return MS_OK; }
    CURL *c = easy(o, url);
    if (!c) { fclose(f); return bs_fail(err, MS_ERR_RUNTIME, "%s: cannot start a transfer", url); }
    file_sink s = {f, have, size, 0, d, 0, c};
    d->resumed_from = have;
    char range[64];
    if (have > 0) {
        snprintf(range, sizeof range, "%lld-", (long long)have);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, file_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    CURLcode rc = curl_easy_perform(c);
    if (!s.status) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s.status);
    curl_easy_cleanup(c);
    if (fclose(f) != 0 && errno == ENOSPC) d->disk_full = 1;
    if (s.status != 206) d->resumed_from = 0;
    return finish(&s, rc, url, path, err);
}
