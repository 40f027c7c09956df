/* mstest.h: a minimal test harness. A test file defines test functions with TEST(name),
 * lists them in main via RUN(name), and ends with `return mstest_summary();`, which prints
 * "N passed, N failed" (the line tests/run_unit.sh adds up). */
#ifndef MSTEST_H
#define MSTEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int mstest_pass, mstest_fail, mstest_cur_failed;
static const char *mstest_cur;

#define TEST(name) static void name(void)
#define RUN(name)                                                                 \
    do {                                                                          \
        mstest_cur = #name;                                                       \
        mstest_cur_failed = 0;                                                    \
        name();                                                                   \
        if (mstest_cur_failed) mstest_fail++;                                     \
        else mstest_pass++;                                                       \
    } while (0)

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (!(cond)) {                                                            \
            printf("FAIL %s (%s:%d): %s\n", mstest_cur, __FILE__, __LINE__, #cond); \
            mstest_cur_failed = 1;                                                \
        }                                                                         \
    } while (0)

#define CHECK_MSG(cond, ...)                                                      \
    do {                                                                          \
        if (!(cond)) {                                                            \
            printf("FAIL %s (%s:%d): ", mstest_cur, __FILE__, __LINE__);          \
            printf(__VA_ARGS__);                                                  \
            printf("\n");                                                         \
            mstest_cur_failed = 1;                                                \
        }                                                                         \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                     \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%s = %.9g, expected %.9g", #a, \
              (double)(a), (double)(b))

static inline int mstest_summary(void)
{
    printf("%d passed, %d failed\n", mstest_pass, mstest_fail);
    return mstest_fail ? 1 : 0;
}

#endif
