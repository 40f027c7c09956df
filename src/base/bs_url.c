/* bs_url.c: store URLs (see bs_url.h). */
#include "base/bs_url.h"

#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_val(char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int pct_decode(char *s) /* in place; -1 on a bad escape */
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '%') {
            int hi = hex_val(r[1]), lo = hi < 0 ? -1 : hex_val(r[2]);
            if (lo < 0) return -1;
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n), p[n] = 0;
    return p;
}

static ms_status parse_sqlite(const char *url, bs_url *u, ms_error *err)
{
    if (strcmp(url, "sqlite::memory:") == 0) u->path = dup_n(":memory:", 8);
    else if (has_prefix(url, "sqlite:///") && url[10]) u->path = dup_n(url + 9, strlen(url + 9));
    else if (has_prefix(url, "sqlite://") && url[9] && url[9] != '/')
        u->path = dup_n(url + 9, strlen(url + 9));
    else
        return bs_fail(err, MS_ERR_INVALID,
                       "invalid store URL '%s': expected sqlite:///absolute/path.db, "
                       "sqlite://relative/path.db or sqlite::memory:",
                       url);
    return u->path ? MS_OK : bs_fail(err, MS_ERR_RUNTIME, "out of memory");
}

/* [[user]:password@] or [password@] before the host, %-decoded. */
static ms_status parse_userinfo(const char *url, const char *p, const char *at, bs_url *u,
                                ms_error *err)
{
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
        if (colon > p && !(u->user = dup_n(p, (size_t)(colon - p)))) goto oom;
        if (!(u->password = dup_n(colon + 1, (size_t)(at - colon - 1)))) goto oom;
    } else if (!(u->password = dup_n(p, (size_t)(at - p)))) { /* redis://secret@host */
        goto oom;
    }
    if ((u->user && pct_decode(u->user)) || pct_decode(u->password))
        return bs_fail(err, MS_ERR_INVALID, "invalid store URL '%s': bad %%-escape", url);
    return MS_OK;
oom:
    return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
}

static ms_status parse_redis(const char *url, bs_url *u, ms_error *err)
{
    const char *p = url + strlen("redis://");
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q; /* the last '@': a password may hold one */
    if (at) {
        ms_status st = parse_userinfo(url, p, at, u, err);
        if (st != MS_OK) return st;
        p = at + 1;
    }
    const char *hend = p;
    while (hend < end && *hend != ':') hend++;
    u->host = hend > p ? dup_n(p, (size_t)(hend - p)) : dup_n("127.0.0.1", 9);
    u->port = 6379;
    if (hend < end) {
        char *e;
        long port = strtol(hend + 1, &e, 10);
        if (e != end || hend + 1 == end || port < 1 || port > 65535)
            return bs_fail(err, MS_ERR_INVALID,
                           "invalid store URL '%s': bad port (expected redis://host:port/db)",
                           url);
        u->port = (int)port;
    }
    u->db = 0;
    if (*end == '/' && end[1] && end[1] != '?') {
        char *e;
        long db = strtol(end + 1, &e, 10);
        if ((*e && *e != '?') || db < 0 || db > 1000000 || !is_digit(end[1]))
            return bs_fail(err, MS_ERR_INVALID,
                           "invalid store URL '%s': the database after '/' must be a number", url);
        u->db = (int)db;
    }
    if (!u->host) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    return MS_OK;
}

ms_status bs_url_parse(const char *url, bs_url *u, ms_error *err)
{
    memset(u, 0, sizeof *u);
    if (!url || !*url) return bs_fail(err, MS_ERR_INVALID, "no store URL given");
    u->url = url;
    ms_status st = MS_OK;
    if (has_prefix(url, "sqlite:")) {
        u->scheme = BS_URL_SQLITE;
        st = parse_sqlite(url, u, err);
    } else if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
        u->scheme = BS_URL_POSTGRES;
    } else if (has_prefix(url, "redis://")) {
        u->scheme = BS_URL_REDIS;
        st = parse_redis(url, u, err);
    } else {
        st = bs_fail(err, MS_ERR_INVALID,
                     "unknown store URL '%.200s': expected sqlite:///path.db, "
                     "postgresql://user@host/db or redis://host:port/db",
                     url);
    }
    if (st != MS_OK) bs_url_free(u);
    return st;
}

void bs_url_free(bs_url *u)
{
    free(u->path);
    free(u->host);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof *u);
}
