/* bs_clock.h: wall-clock time as the store and the logs write it: ISO 8601 in UTC, to the
 * second, "2026-03-01T12:00:00Z" (what run records carry as created/finished times); and the
 * one monotonic clock every deadline, timeout and duration above the runtime is measured on. */
#ifndef BS_CLOCK_H
#define BS_CLOCK_H

#include <stdint.h>
#include <time.h>

#define BS_ISO_CAP 32 /* room for any time_t's "YYYY-MM-DDTHH:MM:SSZ" and the NUL */

/* `t` (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ" in UTC; returns dst. */
const char *bs_iso_utc(time_t t, char dst[BS_ISO_CAP]);
/* The current time, the same way. */
const char *bs_now_iso(char dst[BS_ISO_CAP]);
/* CLOCK_MONOTONIC in nanoseconds: for intervals and deadlines, never for dates. */
uint64_t bs_now_ns(void);

#endif
