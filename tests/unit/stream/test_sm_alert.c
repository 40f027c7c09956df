/* test_sm_alert.c: alert rules and their per-key hysteresis (src/stream/sm_alert.c), against
 * sequences worked out by hand. */
#include "mstest.h"

#include <stdlib.h>

#include "stream/sm_alert.h"

static int step(sm_alert *a, const char *key, const char *json)
{
    double v;
    ms_error err;
    int r = sm_alert_step(a, key, json, strlen(json), &v, &err);
    if (r < 0) printf("  step: %s\n", err.msg);
    return r;
}

static char prob(double p, char *buf) /* {"label":1,"probabilities":{"0":1-p,"1":p}} */
{
    sprintf(buf, "{\"label\":1,\"probabilities\":{\"0\":%g,\"1\":%g}}", 1 - p, p);
    return 0;
}

TEST(above_with_hysteresis)
{
    sm_alert *a;
    ms_error err;
    CHECK(sm_alert_parse("probabilities[1] > 0.9", 0.8, 1, &a, &err) == MS_OK);
    const double v[] = {0.5, 0.95, 0.97, 0.85, 0.92, 0.79, 0.85, 0.91, 0.9};
    const int want[] = {0, 1, 0, 0, 0, 2, 0, 1, 0}; /* 0.9 is not above 0.9, and not below 0.8 */
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char j[100];
        prob(v[i], j);
        int got = step(a, "k1", j);
        CHECK_MSG(got == want[i], "value %g: got %d, want %d", v[i], got, want[i]);
    }
    sm_alert_free(a);
}

TEST(keys_are_independent)
{
    sm_alert *a;
    ms_error err;
    CHECK(sm_alert_parse("y > 10", 0, 0, &a, &err) == MS_OK); /* no clear level: the threshold */
    CHECK(step(a, "a", "{\"y\":11}") == SM_ALERT_RAISED);
    CHECK(step(a, "b", "{\"y\":12}") == SM_ALERT_RAISED);
    CHECK(step(a, "a", "{\"y\":10}") == SM_ALERT_NONE); /* not below 10 */
    CHECK(step(a, "a", "{\"y\":9.5}") == SM_ALERT_CLEARED);
    CHECK(step(a, "b", "{\"y\":13}") == SM_ALERT_NONE);
    for (int i = 0; i < 500; i++) { /* the table grows */
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        CHECK(step(a, k, "{\"y\":20}") == SM_ALERT_RAISED);
    }
    CHECK(step(a, "b", "{\"y\":1}") == SM_ALERT_CLEARED);
    CHECK(step(a, "k499", "{\"y\":30}") == SM_ALERT_NONE);
    sm_alert_free(a);
}

TEST(below_and_array_columns)
{
    sm_alert *a;
    ms_error err;
    CHECK(sm_alert_parse("temp[2] < 0.2", 0.3, 1, &a, &err) == MS_OK);
    CHECK(step(a, NULL, "{\"temp\":[1,1,0.25]}") == SM_ALERT_NONE);
    CHECK(step(a, NULL, "{\"temp\":[1,1,0.1]}") == SM_ALERT_RAISED);
    CHECK(step(a, NULL, "{\"temp\":[1,1,0.29]}") == SM_ALERT_NONE);
    CHECK(step(a, NULL, "{\"temp\":[1,1,0.31]}") == SM_ALERT_CLEARED);
    double v;
    CHECK(sm_alert_step(a, NULL, "{\"temp\":[1]}", 12, &v, &err) == -1 && strstr(err.msg, "no column '2'"));
    CHECK(sm_alert_step(a, NULL, "{\"x\":[1]}", 9, &v, &err) == -1 && strstr(err.msg, "no 'temp'"));
    sm_alert_free(a);
}

TEST(bad_rules)
{
    sm_alert *a;
    ms_error err;
    CHECK(sm_alert_parse("y >= x", 0, 0, &a, &err) == MS_ERR_INVALID && strstr(err.msg, "not a number"));
    CHECK(sm_alert_parse("y = 3", 0, 0, &a, &err) == MS_ERR_INVALID);
    CHECK(sm_alert_parse("y[1 > 3", 0, 0, &a, &err) == MS_ERR_INVALID && strstr(err.msg, "OUTPUT[COL]"));
    CHECK(sm_alert_parse(" > 3", 0, 0, &a, &err) == MS_ERR_INVALID && strstr(err.msg, "no output name"));
    CHECK(sm_alert_parse("y > 0.9", 0.95, 1, &a, &err) == MS_ERR_INVALID && strstr(err.msg, "at most"));
    CHECK(sm_alert_parse("y < 0.2", 0.1, 1, &a, &err) == MS_ERR_INVALID && strstr(err.msg, "at least"));
}

int main(void)
{
    RUN(above_with_hysteresis);
    RUN(keys_are_independent);
    RUN(below_and_array_columns);
    RUN(bad_rules);
    return mstest_summary();
}
