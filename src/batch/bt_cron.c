/* bt_cron.c: cron expressions and next fire times (see bt_cron.h). */
#define _DEFAULT_SOURCE /* timegm */
#include "batch/bt_cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/codec_buf.h"

static const char *MONTHS[] = {"jan", "feb", "mar", "apr", "may", "jun",
                               "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *DAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* One value: a number or (months/days) a three-letter name. -1 if neither. */
static int value(const char **p, const char *const *names, int nnames, int name_base)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        int v = 0;
        while (isdigit((unsigned char)*s) && v < 1000) v = v * 10 + (*s++ - '0');
        *p = s;
        return v;
    }
    for (int i = 0; names && i < nnames; i++)
        if (strncasecmp(s, names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *p = s + 3;
            return i + name_base;
        }
    return -1;
}

/* Parse field text [s, e) into bits lo..hi; *any when it is exactly "*". */
static ms_status field(const char *what, const char *s, const char *e, int lo, int hi,
                       const char *const *names, int nnames, int name_base, uint64_t *bits,
                       int *any, ms_error *err)
{
    char buf[128];
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof buf) return bs_fail(err, MS_ERR_INVALID, "cron: bad %s field", what);
    memcpy(buf, s, n);
    buf[n] = 0;
    *bits = 0;
    *any = strcmp(buf, "*") == 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        const char *p = item;
        int a, b, step = 1;
        if (*p == '*') {
            a = lo;
            b = hi;
            p++;
        } else {
            if ((a = value(&p, names, nnames, name_base)) < 0)
                return bs_fail(err, MS_ERR_INVALID, "cron: %s field: '%s' is not a value", what, item);
            b = a;
            if (*p == '-') {
                p++;
                if ((b = value(&p, names, nnames, name_base)) < 0)
                    return bs_fail(err, MS_ERR_INVALID, "cron: %s field: bad range '%s'", what, item);
            }
        }
        if (*p == '/') {
            p++;
            const char *q = p;
            if ((step = value(&q, NULL, 0, 0)) <= 0)
                return bs_fail(err, MS_ERR_INVALID, "cron: %s field: bad step in '%s'", what, item);
            p = q;
            if (b == a && item[0] != '*') b = hi; /* "a/n" means a-hi/n */
        }
        if (*p)
            return bs_fail(err, MS_ERR_INVALID, "cron: %s field: unexpected '%s' in '%s'", what, p, item);
        if (a < lo || b > hi || a > b)
            return bs_fail(err, MS_ERR_INVALID, "cron: %s field: '%s' is outside %d-%d", what,
                           item, lo, hi);
        for (int v = a; v <= b; v += step) *bits |= 1ull << v;
    }
    return MS_OK;
}

ms_status bt_cron_parse(const char *expr, bt_cron *out, ms_error *err)
{
    static const struct { const char *name, *expr; } macros[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    memset(out, 0, sizeof *out);
    while (*expr == ' ' || *expr == '\t') expr++;
    if (*expr == '@') {
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strcasecmp(expr, macros[i].name) == 0) return bt_cron_parse(macros[i].expr, out, err);
        return bs_fail(err, MS_ERR_INVALID, "cron: unknown macro '%s'", expr);
    }
    const char *f[5][2];
    int nf = 0;
    const char *p = expr;
    while (*p) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (nf == 5)
            return bs_fail(err, MS_ERR_INVALID, "cron: '%s' has more than 5 fields (minute hour "
                           "day-of-month month day-of-week)", expr);
        f[nf][0] = s;
        f[nf][1] = p;
        nf++;
    }
    if (nf != 5)
        return bs_fail(err, MS_ERR_INVALID, "cron: '%s' needs 5 fields (minute hour day-of-month "
                       "month day-of-week), got %d", expr, nf);
    uint64_t b;
    int any;
    ms_status st;
    if ((st = field("minute", f[0][0], f[0][1], 0, 59, NULL, 0, 0, &b, &any, err))) return st;
    out->minute = b;
    if ((st = field("hour", f[1][0], f[1][1], 0, 23, NULL, 0, 0, &b, &any, err))) return st;
    out->hour = (uint32_t)b;
    if ((st = field("day-of-month", f[2][0], f[2][1], 1, 31, NULL, 0, 0, &b, &any, err))) return st;
    out->dom = (uint32_t)b;
    out->dom_any = any;
    if ((st = field("month", f[3][0], f[3][1], 1, 12, MONTHS, 12, 1, &b, &any, err))) return st;
    out->month = (uint16_t)b;
    if ((st = field("day-of-week", f[4][0], f[4][1], 0, 7, DAYS, 7, 0, &b, &any, err))) return st;
    if (b & (1u << 7)) b |= 1; /* 7 is Sunday too */
    out->dow = (uint8_t)(b & 0x7f);
    out->dow_any = any;
    return MS_OK;
}

static int day_ok(const bt_cron *c, const struct tm *tm)
{
    int d = (c->dom >> tm->tm_mday) & 1, w = (c->dow >> tm->tm_wday) & 1;
    if (c->dom_any || c->dow_any) return d && w;
    return d || w;
}

static time_t mk(struct tm *tm, int utc)
{
    tm->tm_isdst = -1;
    return utc ? timegm(tm) : mktime(tm);
}

time_t bt_cron_next(const bt_cron *c, time_t after, int utc)
{
    time_t t = after - (after % 60 + 60) % 60 + 60; /* the next whole minute */
    struct tm tm;
    for (int guard = 0; guard < 100000; guard++) {
        if (utc) gmtime_r(&t, &tm);
        else localtime_r(&t, &tm);
        if (tm.tm_year > 1900 + 10000) return (time_t)-1;
        if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!day_ok(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!((c->hour >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = tm.tm_sec = 0;
        } else if (!((c->minute >> tm.tm_min) & 1)) {
            tm.tm_min++;
            tm.tm_sec = 0;
        } else {
            return t;
        }
        time_t nt = mk(&tm, utc);
        if (nt <= t) nt = t + 60; /* a DST fold: never go backwards */
        t = nt;
        if (t - after > (time_t)5 * 366 * 86400) return (time_t)-1;
    }
    return (time_t)-1;
}

ms_status bt_schedule_init(bt_schedule *s, const char *expr, int utc, time_t now, ms_error *err)
{
    ms_status st = bt_cron_parse(expr, &s->cron, err);
    if (st != MS_OK) return st;
    s->utc = utc;
    s->next = bt_cron_next(&s->cron, now, utc);
    if (s->next == (time_t)-1)
        return bs_fail(err, MS_ERR_INVALID, "cron: '%s' never fires", expr);
    return MS_OK;
}

int bt_schedule_due(bt_schedule *s, time_t now)
{
    if (s->next == (time_t)-1 || now < s->next) return 0;
    s->next = bt_cron_next(&s->cron, now, s->utc);
    return 1;
}
