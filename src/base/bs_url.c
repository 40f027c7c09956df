/* bs_url.c: store and queue URLs (see bs_url.h). */
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

/* The value of `?key=value` (the only parameter a queue URL takes) into *out; `q` points at
 * the '?' or is NULL (then *out is `def`). */
static ms_status parse_query(const char *url, const char *q, const char *key, const char *def,
                             char **out, ms_error *err)
{
    size_t kl = strlen(key);
    if (!q) {
        *out = def ? dup_n(def, strlen(def)) : NULL;
        return def && !*out ? bs_fail(err, MS_ERR_RUNTIME, "out of memory") : MS_OK;
    }
    if (strncmp(q + 1, key, kl) != 0 || q[1 + kl] != '=' || !q[2 + kl] || strchr(q + 1, '&'))
        return bs_fail(err, MS_ERR_INVALID,
                       "invalid queue URL '%s': the only parameter is '?%s=...'", url, key);
    *out = dup_n(q + 2 + kl, strlen(q + 2 + kl));
    return *out ? MS_OK : bs_fail(err, MS_ERR_RUNTIME, "out of memory");
}

static ms_status parse_sqlite_queue(const char *url, bs_url *u, ms_error *err)
{
    const char *q = strchr(url, '?');
    size_t len = q ? (size_t)(q - url) : strlen(url);
    if (has_prefix(url, "sqlite:///") && len > 10) u->path = dup_n(url + 9, len - 9);
    else if (has_prefix(url, "sqlite://") && len > 9 && url[9] != '/')
        u->path = dup_n(url + 9, len - 9);
    else
        return bs_fail(err, MS_ERR_INVALID,
                       "invalid queue URL '%s': expected sqlite:///absolute/queue.db or "
                       "sqlite://relative/queue.db, optionally ?stream=NAME",
                       url);
    if (!u->path) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    return parse_query(url, q, "stream", "events", &u->stream, err);
}

/* [[user]:password@] or [password@] before the host, %-decoded. */
static ms_status parse_userinfo(const char *url, const char *kind, const char *p,
                                const char *at, bs_url *u, ms_error *err)
{
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
        if (colon > p && !(u->user = dup_n(p, (size_t)(colon - p)))) goto oom;
        if (!(u->password = dup_n(colon + 1, (size_t)(at - colon - 1)))) goto oom;
    } else if (!(u->password = dup_n(p, (size_t)(at - p)))) { /* redis://secret@host */
        goto oom;
    }
    if ((u->user && pct_decode(u->user)) || pct_decode(u->password))
        return bs_fail(err, MS_ERR_INVALID, "invalid %s URL '%s': bad %%-escape", kind, url);
    return MS_OK;
oom:
    return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
}

/* [userinfo@]host[:port] from `p` up to `end` (default port `defport`), for every scheme with
 * one host; `form` is the expected shape, quoted when the port is bad. */
static ms_status parse_host_at(const char *url, const char *kind, const char *p, const char *end,
                               int defport, const char *form, bs_url *u, ms_error *err)
{
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q; /* the last '@': a password may hold one */
    if (at) {
        ms_status st = parse_userinfo(url, kind, p, at, u, err);
        if (st != MS_OK) return st;
        p = at + 1;
    }
    const char *hend = p;
    while (hend < end && *hend != ':') hend++;
    u->host = hend > p ? dup_n(p, (size_t)(hend - p)) : dup_n("127.0.0.1", 9);
    if (!u->host) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    u->port = defport;
    if (hend < end) {
        char *e;
        long port = strtol(hend + 1, &e, 10);
        if (e != end || hend + 1 == end || port < 1 || port > 65535)
            return bs_fail(err, MS_ERR_INVALID, "invalid %s URL '%s': bad port (expected %s)",
                           kind, url, form);
        u->port = (int)port;
    }
    return MS_OK;
}

static ms_status parse_redis_host(const char *url, const char *kind, const char *end,
                                  bs_url *u, ms_error *err)
{
    return parse_host_at(url, kind, url + strlen("redis://"), end, 6379,
                         strcmp(kind, "queue") == 0 ? "redis://host:port/STREAM"
                                                    : "redis://host:port/db",
                         u, err);
}

/* A database number: digits only, 0 to 1000000; -1 otherwise. */
static int parse_db(const char *s, const char *end)
{
    if (s == end || end - s > 7) return -1;
    long db = 0;
    for (const char *p = s; p < end; p++) {
        if (!is_digit(*p)) return -1;
        db = db * 10 + (*p - '0');
    }
    return db <= 1000000 ? (int)db : -1;
}

static ms_status parse_redis(const char *url, bs_url *u, ms_error *err)
{
    const char *end = url + strlen("redis://");
    end += strcspn(end, "/?#");
    ms_status st = parse_redis_host(url, "store", end, u, err);
    if (st != MS_OK) return st;
    u->db = 0;
    if (*end == '/' && end[1] && end[1] != '?') {
        const char *dend = end + 1 + strcspn(end + 1, "?");
        if ((u->db = parse_db(end + 1, dend)) < 0)
            return bs_fail(err, MS_ERR_INVALID,
                           "invalid store URL '%s': the database after '/' must be a number", url);
    }
    return MS_OK;
}

/* A number from lo to hi in [s, end); -1 otherwise. */
static long parse_num(const char *s, const char *end, long lo, long hi)
{
    if (s == end || end - s > 9) return -1;
    long v = 0;
    for (const char *p = s; p < end; p++) {
        if (!is_digit(*p)) return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

/* ?db=N&partitions=N, each at most once, in any order. */
static ms_status parse_redis_queue_query(const char *url, const char *q, bs_url *u,
                                         ms_error *err)
{
    int seen_db = 0, seen_parts = 0;
    for (const char *p = q + 1; q;) {
        const char *e = p + strcspn(p, "&"), *eq = memchr(p, '=', (size_t)(e - p));
        size_t kl = eq ? (size_t)(eq - p) : 0;
        if (eq && kl == 2 && !memcmp(p, "db", 2) && !seen_db++) {
            if ((u->db = (int)parse_num(eq + 1, e, 0, 1000000)) < 0)
                return bs_fail(err, MS_ERR_INVALID,
                               "invalid queue URL '%s': ?db= must be a number from 0 to 1000000", url);
        } else if (eq && kl == 10 && !memcmp(p, "partitions", 10) && !seen_parts++) {
            if ((u->partitions = (int)parse_num(eq + 1, e, 1, BS_URL_PARTITIONS_MAX)) < 0)
                return bs_fail(err, MS_ERR_INVALID,
                               "invalid queue URL '%s': ?partitions= must be a number from 1 to %d",
                               url, BS_URL_PARTITIONS_MAX);
        } else {
            return bs_fail(err, MS_ERR_INVALID,
                           "invalid queue URL '%s': the parameters are '?db=N' and "
                           "'?partitions=N', each at most once (joined by '&')", url);
        }
        if (!*e) break;
        p = e + 1;
    }
    return MS_OK;
}

/* host[:port][,host[:port]...] after the user info: u->hostv (u->host/port: the first). The
 * user info ends at the last '@' of the authority, so a password may hold ',' and '@'. */
static ms_status parse_redis_hosts(const char *url, const char *end, bs_url *u, ms_error *err)
{
    const char *p = url + strlen("redis://"), *hp = p;
    for (const char *q = p; q < end; q++)
        if (*q == '@') hp = q + 1;
    int n = 1;
    for (const char *q = hp; q < end; q++) n += *q == ',';
    if (!(u->hostv = calloc((size_t)n, sizeof *u->hostv)))
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < n; i++) {
        const char *se = hp + strcspn(hp, ","); /* hp < end: the authority has no ',' past end */
        if (se > end) se = end;
        if (n > 1 && (se == hp || *hp == ':'))
            return bs_fail(err, MS_ERR_INVALID,
                           "invalid queue URL '%s': an empty host in the list (expected "
                           "redis://host:port,host:port/STREAM)", url);
        ms_status st = parse_host_at(url, "queue", i ? hp : p, se, 6379,
                                     n > 1 ? "redis://host:port,host:port/STREAM"
                                           : "redis://host:port/STREAM", u, err);
        if (st != MS_OK) return st;
        u->hostv[i] = (struct bs_host){u->host, u->port};
        u->host = NULL;
        u->nhosts = i + 1;
        hp = se + 1;
    }
    if (!(u->host = dup_n(u->hostv[0].host, strlen(u->hostv[0].host))))
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    u->port = u->hostv[0].port;
    return MS_OK;
}

static ms_status parse_redis_queue(const char *url, bs_url *u, ms_error *err)
{
    const char *end = url + strlen("redis://");
    end += strcspn(end, "/?#");
    if (*end == '#')
        return bs_fail(err, MS_ERR_INVALID, "invalid queue URL '%s': unexpected '#'", url);
    ms_status st = parse_redis_hosts(url, end, u, err);
    if (st != MS_OK) return st;
    const char *q = strchr(end, '?');
    const char *send = q ? q : end + strlen(end);
    if (*end == '/' && send > end + 1) u->stream = dup_n(end + 1, (size_t)(send - end - 1));
    else u->stream = dup_n("events", 6);
    if (!u->stream) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    u->db = 0;
    return q ? parse_redis_queue_query(url, q, u, err) : MS_OK;
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

/* The raw query after '?' (backends check their own parameters) and the path before it. */
static ms_status split_query(const char *url, const char *path, bs_url *u, const char **pend,
                             ms_error *err)
{
    const char *q = strchr(path, '?');
    if (strchr(path, '#'))
        return bs_fail(err, MS_ERR_INVALID, "invalid queue URL '%s': unexpected '#' (an MQTT "
                       "multi-level wildcard is written %%23)", url);
    *pend = q ? q : path + strlen(path);
    if (q && !(u->query = dup_n(q + 1, strlen(q + 1))))
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    return MS_OK;
}

/* nats://[user:pw@]host[:port]/STREAM[?k=v&...]  and  mqtt://[user:pw@]host[:port]/TOPIC */
static ms_status parse_single_host_queue(const char *url, const char *prefix, int defport,
                                         const char *form, bs_url *u, ms_error *err)
{
    const char *p = url + strlen(prefix), *end = p + strcspn(p, "/?#");
    ms_status st = parse_host_at(url, "queue", p, end, defport, form, u, err);
    const char *pend;
    if (st == MS_OK) st = split_query(url, end, u, &pend, err);
    if (st != MS_OK) return st;
    if (*end == '/' && pend > end + 1) u->stream = dup_n(end + 1, (size_t)(pend - end - 1));
    return MS_OK;
}

/* kafka://host[:port][,host[:port]...]/TOPIC[?k=v&...]: the broker list kept as given for
 * librdkafka's bootstrap.servers, each entry checked to be host or host:port. */
static ms_status parse_kafka_queue(const char *url, bs_url *u, ms_error *err)
{
    const char *p = url + strlen("kafka://"), *end = p + strcspn(p, "/?#");
    if (end == p || memchr(p, '@', (size_t)(end - p)))
        return bs_fail(err, MS_ERR_INVALID, "invalid queue URL '%s': expected "
                       "kafka://host:port[,host:port...]/TOPIC (no user info)", url);
    for (const char *h = p, *he = p; he < end; h = he + 1) { /* "a:1," has an empty second */
        he = memchr(h, ',', (size_t)(end - h));
        if (!he) he = end;
        const char *colon = memchr(h, ':', (size_t)(he - h));
        int ok = he > h && colon != h;
        if (ok && colon) {
            char *e;
            long port = strtol(colon + 1, &e, 10);
            ok = e == he && colon + 1 < he && port >= 1 && port <= 65535;
        }
        if (!ok)
            return bs_fail(err, MS_ERR_INVALID, "invalid queue URL '%s': bad broker '%.*s' "
                           "(expected host:port)", url, (int)(he - h), h);
    }
    if (!(u->hosts = dup_n(p, (size_t)(end - p)))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    const char *pend;
    ms_status st = split_query(url, end, u, &pend, err);
    if (st != MS_OK) return st;
    if (*end == '/' && pend > end + 1) u->stream = dup_n(end + 1, (size_t)(pend - end - 1));
    return MS_OK;
}

/* MQTT's topic filter may hold '/', '+' and '#' (%23 in a URL); the queue's stream name is
 * derived from it ('/' -> '.', '+' -> "_any", '#' -> "_all") for dead letters and messages. */
static ms_status parse_mqtt_queue(const char *url, bs_url *u, ms_error *err)
{
    ms_status st = parse_single_host_queue(url, "mqtt://", 1883, "mqtt://host:port/TOPIC", u,
                                           err);
    if (st != MS_OK) return st;
    if (!u->stream || pct_decode(u->stream) || !u->stream[0])
        return bs_fail(err, MS_ERR_INVALID, "invalid queue URL '%s': expected "
                       "mqtt://host:port/TOPIC-FILTER (a topic is required)", url);
    u->topic = u->stream;
    size_t n = strlen(u->topic);
    if (!(u->stream = malloc(n * 4 + 1))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    char *w = u->stream;
    for (const char *r = u->topic; *r; r++) {
        if (*r == '/') *w++ = '.';
        else if (*r == '+') memcpy(w, "_any", 4), w += 4;
        else if (*r == '#') memcpy(w, "_all", 4), w += 4;
        else *w++ = *r;
    }
    *w = 0;
    return MS_OK;
}

ms_status bs_url_parse_queue(const char *url, bs_url *u, ms_error *err)
{
    memset(u, 0, sizeof *u);
    if (!url || !*url) return bs_fail(err, MS_ERR_INVALID, "no queue URL given");
    u->url = url;
    ms_status st;
    if (has_prefix(url, "sqlite:")) {
        u->scheme = BS_URL_SQLITE;
        st = parse_sqlite_queue(url, u, err);
    } else if (has_prefix(url, "redis://")) {
        u->scheme = BS_URL_REDIS;
        st = parse_redis_queue(url, u, err);
    } else if (has_prefix(url, "nats://")) {
        u->scheme = BS_URL_NATS;
        st = parse_single_host_queue(url, "nats://", 4222, "nats://host:port/STREAM", u, err);
    } else if (has_prefix(url, "kafka://")) {
        u->scheme = BS_URL_KAFKA;
        st = parse_kafka_queue(url, u, err);
    } else if (has_prefix(url, "mqtt://")) {
        u->scheme = BS_URL_MQTT;
        st = parse_mqtt_queue(url, u, err);
    } else {
        st = bs_fail(err, MS_ERR_INVALID,
                     "unknown queue URL '%.200s': expected sqlite:///path/queue.db[?stream=NAME] "
                     "redis://host:port/STREAM, nats://host:port/STREAM, "
                     "kafka://host:port[,host:port]/TOPIC or mqtt://host:port/TOPIC-FILTER",
                     url);
    }
    if (st == MS_OK && !u->stream && !(u->stream = dup_n("events", 6)))
        st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    if (st != MS_OK) bs_url_free(u);
    return st;
}

void bs_url_free(bs_url *u)
{
    free(u->path);
    free(u->host);
    free(u->user);
    free(u->password);
    free(u->stream);
    free(u->hosts);
    free(u->topic);
    free(u->query);
    for (int i = 0; u->hostv && i < u->nhosts; i++) free(u->hostv[i].host);
    free(u->hostv);
    memset(u, 0, sizeof *u);
}
