/* sv_route.c: the route matcher (see sv_route.h). */
#include "serve/sv_route.h"

#include <stdio.h>
#include <string.h>

void sv_route_split(const char *path, sv_match *mt)
{
    snprintf(mt->buf, sizeof mt->buf, "%s", path);
    int n = 0;
    char *p = mt->buf;
    while (*p == '/') p++;
    while (*p && n < SV_ROUTE_SEGS) {
        mt->seg[n++] = p;
        char *q = strchr(p, '/');
        if (!q) break;
        *q = 0;
        p = q + 1;
    }
    if (n && !*mt->seg[n - 1]) n--; /* trailing slash */
    mt->n = n;
    mt->m = mt->v = mt->key = NULL;
}

/* Pattern segment [p, pe) against path segment s: 1 if it matches; a capture's text (length
 * *cap_len, -1 for a literal) starts at s. */
static int seg_match(const char *p, size_t plen, const char *s, int flags, int *cap_len)
{
    *cap_len = -1;
    if (plen == 0 || p[0] != '{') return strlen(s) == plen && memcmp(p, s, plen) == 0;
    const char *close = memchr(p, '}', plen);
    if (!close) return 0;
    const char *suffix = close + 1;
    size_t slen = plen - (size_t)(suffix - p);
    const char *colon = strchr(s, ':');
    if (slen == 0) {
        if ((flags & SV_ROUTE_VERBS) && colon) return 0;
        *cap_len = (int)strlen(s);
        return 1;
    }
    if (!colon || strlen(colon) != slen || memcmp(colon, suffix, slen) != 0) return 0;
    *cap_len = (int)(colon - s);
    return 1;
}

/* 1 if route rt's pattern matches mt's segments; with `capture`, sets mt's captures. */
static int path_match(const sv_route *rt, sv_match *mt, int capture)
{
    const char *p = rt->pattern;
    int i = 0;
    while (*p == '/') p++;
    while (*p) {
        const char *pe = strchr(p, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        int len;
        if (i >= mt->n || !seg_match(p, plen, mt->seg[i], rt->flags, &len)) return 0;
        if (capture && len >= 0) {
            int which = p[1] == 'm' ? 0 : p[1] == 'v' ? 1 : 2;
            snprintf(mt->cap[which], sizeof mt->cap[which], "%.*s", len, mt->seg[i]);
            if (which == 0) mt->m = mt->cap[0];
            else if (which == 1) mt->v = mt->cap[1];
            else mt->key = mt->cap[2];
        }
        i++;
        p += plen;
        while (*p == '/') p++;
    }
    return i == mt->n || (rt->flags & SV_ROUTE_PREFIX);
}

const sv_route *sv_route_find(const sv_route *t, int n, const char *method, sv_match *mt,
                              const sv_route **path_hit, char *allow, size_t cap)
{
    *path_hit = NULL;
    if (cap) allow[0] = 0;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (!path_match(&t[i], mt, 0)) continue;
        if (strcmp(t[i].method, method) == 0) {
            *path_hit = &t[i];
            path_match(&t[i], mt, 1);
            return &t[i];
        }
        if (!*path_hit) *path_hit = &t[i];
        char *dup = used ? strstr(allow, t[i].method) : NULL;
        if (!dup && used < cap)
            used += (size_t)snprintf(allow + used, cap - used, "%s%s", used ? ", " : "", t[i].method);
    }
    if (*path_hit) path_match(*path_hit, mt, 1);
    return NULL;
}
