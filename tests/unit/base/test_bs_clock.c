/* test_bs_clock.c: base/bs_clock.c writes UTC ISO 8601 to the second; fixed times against
 * strings written by hand (the epoch, a leap day, 2^31 - 1, the last second of 2099). */
#include <string.h>
#include <time.h>

#include "base/bs_clock.h"
#include "mstest.h"

static int is_iso(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(s) != sizeof shape - 1) return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) return 0;
    return 1;
}

TEST(fixed_times)
{
    char b[BS_ISO_CAP];
    CHECK(strcmp(bs_iso_utc(0, b), "1970-01-01T00:00:00Z") == 0);
    CHECK(strcmp(bs_iso_utc(951782400, b), "2000-02-29T00:00:00Z") == 0);
    CHECK(strcmp(bs_iso_utc(1700000000, b), "2023-11-14T22:13:20Z") == 0);
    CHECK(strcmp(bs_iso_utc(2147483647, b), "2038-01-19T03:14:07Z") == 0);
    if (sizeof(time_t) > 4) CHECK(strcmp(bs_iso_utc((time_t)4102444799LL, b), "2099-12-31T23:59:59Z") == 0);
}

TEST(returns_dst)
{
    char b[BS_ISO_CAP];
    CHECK(bs_iso_utc(0, b) == b);
    CHECK(bs_now_iso(b) == b);
}

TEST(now_is_now)
{
    char b[BS_ISO_CAP], lo[BS_ISO_CAP], hi[BS_ISO_CAP];
    time_t t0 = time(NULL);
    bs_now_iso(b);
    time_t t1 = time(NULL);
    CHECK_MSG(is_iso(b), "'%s'", b);
    /* same width, so the strings compare like the times */
    CHECK(strcmp(bs_iso_utc(t0, lo), b) <= 0 && strcmp(b, bs_iso_utc(t1, hi)) <= 0);
}

int main(void)
{
    RUN(fixed_times);
    RUN(returns_dst);
    RUN(now_is_now);
    return mstest_summary();
}
