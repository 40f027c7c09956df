/* test_adv_decide.c: `mlship advise`'s decision tree (src/cli/adv_decide.c), one case per
 * branch of docs/advise.md's tree, the refinements by measured facts and the refusals. The
 * expected figures are worked by hand in the comments (the device budgets and rates are the
 * documented assumptions, not outputs of the code). */
#include "cli/adv_decide.c"
#include "mstest.h"

static adv_ask ask(void)
{
    adv_ask a = {.latency_s = -1, .entities = -1, .requests_per_s = -1};
    return a;
}

static adv_facts none(void)
{
    adv_facts f;
    memset(&f, 0, sizeof f);
    f.macs = -1;
    return f;
}

/* a model as measured: the MLP 64-256-256-10 of bench/models (84,480 multiply-adds; 340,008
 * bytes of export-c weights, 2,048 + 160 bytes of RAM) at 1 ms a row, 100,000 rows/s batched */
static adv_facts mlp(void)
{
    adv_facts f = none();
    f.have_model = 1;
    f.file_bytes = 340500;
    f.lat1_median_s = f.lat1_mean_s = 1e-3;
    f.rows_per_s_batch = 1e5;
    f.batch_rows = 256;
    f.macs = 84480;
    f.export_ok = 1;
    f.flash_bytes = 340008;
    f.ram_bytes = 2048 + 160;
    return f;
}

static int has(const adv_advice *o, const char *needle)
{
    for (int i = 0; i < o->n_reasons; i++)
        if (strstr(o->reasons[i], needle)) return 1;
    return 0;
}

static int flip_has(const adv_advice *o, const char *needle)
{
    for (int i = 0; i < o->n_flips; i++)
        if (strstr(o->flips[i], needle)) return 1;
    return 0;
}

/* ---- the tree, without a model ---- */

TEST(ms_offline_is_edge)
{
    adv_ask a = ask();
    adv_facts f = none();
    adv_advice o;
    a.latency_s = 5e-3, a.offline = 1;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_EDGE);
    CHECK(o.runner_up == ADV_MODE_REALTIME);
    CHECK(o.device == ADV_DEVICE_AARCH64 && o.device_assumed); /* --offline without --device */
    CHECK(has(&o, "assuming aarch64"));
    CHECK(has(&o, "not checked"));
}

TEST(ms_is_realtime)
{
    adv_ask a = ask();
    adv_facts f = none();
    adv_advice o;
    a.latency_s = 5e-3;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_REALTIME);
    CHECK(o.runner_up == ADV_MODE_EDGE);
    CHECK(has(&o, "5 ms"));
    CHECK(flip_has(&o, "--offline"));
}

TEST(seconds_is_realtime)
{
    adv_ask a = ask();
    adv_facts f = none();
    adv_advice o;
    a.latency_s = 2;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_REALTIME);
    CHECK(o.runner_up == ADV_MODE_STREAMING);
    CHECK(flip_has(&o, "--stream"));
}

TEST(minutes_and_hours_are_batch)
{
    adv_ask a = ask();
    adv_facts f = none();
    adv_advice o;
    a.latency_s = 600; /* 10 min: the longest period of at most 10 min is 5 min */
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_BATCH && o.runner_up == ADV_MODE_REALTIME);
    CHECK(o.period_s == 300 && !strcmp(o.on_calendar, "*-*-* *:00/5:00"));
    a.latency_s = 3600;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_BATCH && o.period_s == 3600);
    CHECK(!strcmp(o.on_calendar, "*-*-* *:00:00"));
    a.latency_s = 86400;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_BATCH && o.period_s == 86400);
    CHECK(!strcmp(o.on_calendar, "*-*-* 02:00:00"));
}

TEST(stream_is_streaming)
{
    adv_ask a = ask();
    adv_facts f = none();
    adv_advice o;
    a.stream = 1;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_STREAMING && o.runner_up == ADV_MODE_REALTIME);
    a.latency_s = 3600; /* a stream whose results may wait an hour: batch is the runner-up */
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_STREAMING && o.runner_up == ADV_MODE_BATCH);
    /* with a model: 100,000 events/s a worker thread; 250,000 events/s need 3 threads */
    f = mlp();
    a.requests_per_s = 250000;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(has(&o, "needs 3 worker thread"));
}

TEST(nothing_given_is_refused)
{
    adv_ask a = ask();
    adv_facts f = none();
    adv_advice o;
    CHECK(adv_decide(&a, &f, &o) == 2);
    CHECK(strstr(o.refusal, "--latency") != NULL);
}

/* ---- devices and the measured model ---- */

TEST(offline_m4_fits_and_its_latency)
{
    adv_ask a = ask();
    adv_facts f = mlp();
    adv_advice o;
    a.offline = 1, a.device = ADV_DEVICE_CORTEX_M4, a.latency_s = 5e-3;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_EDGE && o.fits == 1 && !o.device_assumed);
    /* 84,480 MACs x 2.5 cycles / 168 MHz = 1.2571 ms */
    CHECK_NEAR(o.device_latency_s, 84480 * 2.5 / 168e6, 1e-9);
    CHECK(has(&o, "1.26 ms"));
    /* flash 340,008 + 4,096 = 344,104 B = 336.0 KiB of 896 KiB; RAM 2,208 B = 2.2 KiB */
    CHECK(has(&o, "336.0 KiB") && has(&o, "896.0 KiB") && has(&o, "2.2 KiB"));
    a.latency_s = 1e-3; /* below the device's 1.26 ms: a contradiction */
    CHECK(adv_decide(&a, &f, &o) == 2);
    CHECK(strstr(o.refusal, "below what cortex-m4 can do") != NULL);
}

TEST(offline_model_too_big_is_refused)
{
    adv_ask a = ask();
    adv_facts f = mlp();
    adv_advice o;
    a.offline = 1, a.device = ADV_DEVICE_CORTEX_M4;
    f.flash_bytes = 2 << 20; /* 2 MiB of weights on a 1 MiB part */
    CHECK(adv_decide(&a, &f, &o) == 2);
    CHECK(strstr(o.refusal, "cortex-m4") && strstr(o.refusal, "flash too small"));
    f = mlp();
    f.ram_bytes = 200 * 1024; /* over 160 KiB */
    CHECK(adv_decide(&a, &f, &o) == 2);
    CHECK(strstr(o.refusal, "RAM too small") != NULL);
    f = mlp();
    f.export_ok = 0;
    strcpy(f.export_why, "operator SVMClassifier (ai.onnx.ml) in node 'SVC': export-c has no C for it");
    CHECK(adv_decide(&a, &f, &o) == 2);
    CHECK(strstr(o.refusal, "SVMClassifier") != NULL);
    /* the browser has no XGBoost JSON reader */
    f = mlp();
    f.xgboost_json = 1;
    a.device = ADV_DEVICE_BROWSER;
    CHECK(adv_decide(&a, &f, &o) == 2);
    CHECK(strstr(o.refusal, "XGBoost") != NULL);
    /* an aarch64 agent takes blobs up to 256 MiB */
    f = mlp();
    f.file_bytes = (int64_t)300 << 20;
    a.device = ADV_DEVICE_AARCH64;
    CHECK(adv_decide(&a, &f, &o) == 2);
    CHECK(strstr(o.refusal, "too large") != NULL);
}

TEST(ms_with_device_is_edge_when_it_fits)
{
    adv_ask a = ask();
    adv_facts f = mlp();
    adv_advice o;
    a.latency_s = 5e-3, a.device = ADV_DEVICE_CORTEX_M4;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_EDGE && o.runner_up == ADV_MODE_REALTIME);
    f.flash_bytes = 2 << 20; /* does not fit, not offline: served instead */
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_REALTIME && has(&o, "cannot run on cortex-m4"));
}

TEST(latency_below_measured_is_impossible)
{
    adv_ask a = ask();
    adv_facts f = mlp();
    adv_advice o;
    f.lat1_median_s = f.lat1_mean_s = 2e-3;
    a.latency_s = 1e-3;
    CHECK(adv_decide(&a, &f, &o) == 2);
    CHECK(strstr(o.refusal, "below this model's batch-1 latency") && strstr(o.refusal, "2 ms"));
    a.entities = 1000; /* known entities: precompute and look up */
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_BATCH && has(&o, "answer by key"));
}

TEST(cost_decides_between_batch_and_realtime)
{
    adv_ask a = ask();
    adv_facts f = mlp();
    adv_advice o;
    a.latency_s = 86400, a.entities = 1e6;
    /* one run: 1e6 / 1e5 rows/s = 10 s, daily: 10 CPU-s a day */
    a.requests_per_s = 10; /* 10 x 86400 x 1 ms = 864 CPU-s a day: batch */
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_BATCH);
    CHECK_NEAR(o.batch_run_s, 10, 1e-9);
    CHECK_NEAR(o.batch_cpu_s_day, 10, 1e-9);
    CHECK_NEAR(o.realtime_cpu_s_day, 864, 1e-9);
    /* break-even: 10 / (86400 x 1e-3) = 0.116 requests/s */
    CHECK(flip_has(&o, "fewer than 0.116 requests/s"));
    a.requests_per_s = 0.01; /* 0.01 x 86400 x 1e-3 = 0.864 CPU-s a day: real-time */
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_REALTIME && o.runner_up == ADV_MODE_BATCH);
    CHECK(flip_has(&o, "more than 0.116 requests/s"));
    /* hourly instead of daily: 24 runs a day, 240 CPU-s */
    a.latency_s = 7200, a.requests_per_s = 10;
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.period_s == 3600 && o.mode == ADV_MODE_BATCH);
    CHECK_NEAR(o.batch_cpu_s_day, 240, 1e-9);
}

TEST(batch_too_slow_for_the_latency)
{
    adv_ask a = ask();
    adv_facts f = mlp();
    adv_advice o;
    f.rows_per_s_batch = 1e4;
    a.latency_s = 3600, a.entities = 1e8; /* one run: 1e8 / 1e4 = 1e4 s, longer than 1 h */
    CHECK(adv_decide(&a, &f, &o) == 0);
    CHECK(o.mode == ADV_MODE_REALTIME && o.runner_up == ADV_MODE_BATCH);
    CHECK(has(&o, "2.78 h")); /* 1e4 s */
    /* each shard's run under the 1 h period: ceil(1e4 / 3600) = 3 machines */
    CHECK(flip_has(&o, "over 3 machines"));
}

TEST(durations)
{
    static const struct { const char *s; double v; } ok[] = {
        {"5ms", 5e-3}, {"200us", 200e-6}, {"2s", 2}, {"1m", 60}, {"1.5m", 90}, {"10min", 600},
        {"1h", 3600}, {"1d", 86400}, {"30", 30}, {".5s", 0.5},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -1;
        CHECK_MSG(adv_parse_duration(ok[i].s, &v) == 0 && fabs(v - ok[i].v) <= 1e-12 * ok[i].v,
                  "%s -> %g", ok[i].s, v);
    }
    static const char *bad[] = {"", "ms", "5x", "-1s", "0s", "5 ms", "1e999s", "nan", "inf",
                                "5ms ", "s5", "1hh", "0x10s", "1e300d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        CHECK_MSG(adv_parse_duration(bad[i], &v) == -1, "'%s' accepted", bad[i]);
    }
}

TEST(device_names)
{
    adv_device d;
    CHECK(adv_device_parse("cortex-m4", &d) == 0 && d == ADV_DEVICE_CORTEX_M4);
    CHECK(adv_device_parse("aarch64", &d) == 0 && d == ADV_DEVICE_AARCH64);
    CHECK(adv_device_parse("browser", &d) == 0 && d == ADV_DEVICE_BROWSER);
    CHECK(adv_device_parse("esp32", &d) == -1);
    CHECK(adv_device_parse("", &d) == -1);
}

int main(void)
{
    RUN(ms_offline_is_edge);
    RUN(ms_is_realtime);
    RUN(seconds_is_realtime);
    RUN(minutes_and_hours_are_batch);
    RUN(stream_is_streaming);
    RUN(nothing_given_is_refused);
    RUN(offline_m4_fits_and_its_latency);
    RUN(offline_model_too_big_is_refused);
    RUN(ms_with_device_is_edge_when_it_fits);
    RUN(latency_below_measured_is_impossible);
    RUN(cost_decides_between_batch_and_realtime);
    RUN(batch_too_slow_for_the_latency);
    RUN(durations);
    RUN(device_names);
    return mstest_summary();
}
