/* bt_cron.h: cron schedules ("0 2 * * *") and their next fire times, for `mlship serve
 * --schedule` and a model's config.json "schedule".
 *
 * Five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec), day
 * of week (0-7, 0 and 7 are Sunday, or sun-sat). Each field: `*`, a value, a range `a-b`, a
 * step `*\/n` or `a-b/n` or `a/n`, or a comma list of these. Also @yearly (@annually),
 * @monthly, @weekly, @daily (@midnight), @hourly. As in Vixie cron, when both day fields are
 * restricted a day matches if EITHER matches ("0 0 1 * mon": the 1st and every Monday).
 * Times are local (the TZ environment) unless `utc`; a local time skipped by a DST change is
 * moved forward by mktime, one repeated by it fires once. */
#ifndef BT_CRON_H
#define BT_CRON_H

#include <stdint.h>
#include <time.h>

#include "mlship.h"

typedef struct bt_cron {
    uint64_t minute; /* bit m */
    uint32_t hour;   /* bit h */
    uint32_t dom;    /* bit d, 1..31 */
    uint16_t month;  /* bit m, 1..12 */
    uint8_t dow;     /* bit d, 0..6 (Sunday 0) */
    int dom_any, dow_any; /* the field was '*' */
} bt_cron;

/* MS_ERR_INVALID naming the field and what is wrong. */
ms_status bt_cron_parse(const char *expr, bt_cron *out, ms_error *err);
/* The first fire time strictly after `after`; (time_t)-1 if none within 5 years (e.g. "0 0
 * 30 2 *"). */
time_t bt_cron_next(const bt_cron *c, time_t after, int utc);

/* For the server's scheduler: a parsed schedule and its next fire time. */
typedef struct bt_schedule {
    bt_cron cron;
    int utc;
    time_t next; /* (time_t)-1: never */
} bt_schedule;
/* Parse `expr` and compute the first fire time after `now`. */
ms_status bt_schedule_init(bt_schedule *s, const char *expr, int utc, time_t now, ms_error *err);
/* 1 if a fire time has come (next <= now); advances `next` past now (missed fire times while
 * the server was down or a run was still going collapse into this one). */
int bt_schedule_due(bt_schedule *s, time_t now);

#endif
