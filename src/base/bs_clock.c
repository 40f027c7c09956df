/* bs_clock.c: UTC ISO 8601 times (see bs_clock.h). */
#include "base/bs_clock.h"

const char *bs_iso_utc(time_t t, char dst[BS_ISO_CAP])
{
    struct tm tm;
    /* gmtime_r fails only for years that do not fit an int: say so rather than print junk */
    if (!gmtime_r(&t, &tm) || strftime(dst, BS_ISO_CAP, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        dst[0] = 0;
    return dst;
}

const char *bs_now_iso(char dst[BS_ISO_CAP]) { return bs_iso_utc(time(NULL), dst); }

uint64_t bs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
