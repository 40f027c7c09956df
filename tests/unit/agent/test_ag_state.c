/* test_ag_state.c: the agent's persisted state (src/edge/agent/ag_state.c) and the start
 * rules that read it (ag_agent_open): the anti-rollback counter and everything else survive a
 * save and a load; the quarantine keeps the newest AG_QUARANTINE_MAX; a trial model that has
 * started twice unconfirmed is reverted to the other slot (and quarantined), one that has
 * started once is kept and counted; a slot whose file no longer has its SHA-256 does not
 * serve. The swap is a stub that records what it was asked to serve. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/agent/ag_agent.h"
#include "edge/agent/ag_state.h"
#include "mstest.h"

static char g_dir[64];
static int64_t g_swapped;
static int g_swaps;

static ms_status stub_swap(void *ctx, const char *name, int64_t version, const char *path, ms_error *err)
{
    g_swapped = version;
    g_swaps++;
    return MS_OK;
}

static void fresh_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/mlship-agstate-XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL);
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(system(cmd) == 0);
}

TEST(test_round_trip)
{
    fresh_dir();
    ag_state s, r;
    ms_error err;
    CHECK(ag_state_load(g_dir, &s, &err) == MS_OK && s.active == -1 && s.counter == 0); /* no file: fresh */
    s.counter = 41;
    s.active = 1;
    s.trial = 1;
    s.trial_runs = 1;
    s.slot[1].version = 42;
    snprintf(s.slot[1].sha256, sizeof s.slot[1].sha256, "%064d", 7);
    snprintf(s.slot[1].model_format, sizeof s.slot[1].model_format, "onnx");
    s.slot[1].n_features = 1;
    snprintf(s.slot[1].features[0], sizeof s.slot[1].features[0], "cust");
    snprintf(s.etag, sizeof s.etag, "\"a-b\"");
    for (int i = 0; i < AG_QUARANTINE_MAX + 3; i++) ag_state_quarantine(&s, 100 + i, "ab", "reason \"quoted\"");
    CHECK(s.n_quarantine == AG_QUARANTINE_MAX && s.quarantine[0].version == 103); /* the oldest dropped */
    CHECK(ag_state_save(g_dir, &s, &err) == MS_OK);
    CHECK(ag_state_load(g_dir, &r, &err) == MS_OK);
    CHECK(r.counter == 41 && r.active == 1 && r.trial == 1 && r.trial_runs == 1);
    CHECK(r.slot[1].version == 42 && strcmp(r.slot[1].sha256, s.slot[1].sha256) == 0 && strcmp(r.slot[1].model_format, "onnx") == 0);
    CHECK(r.slot[1].n_features == 1 && strcmp(r.slot[1].features[0], "cust") == 0);
    CHECK(strcmp(r.etag, "\"a-b\"") == 0 && r.n_quarantine == AG_QUARANTINE_MAX);
    CHECK(ag_state_quarantined(&r, 110, "ab") && strcmp(ag_state_quarantined(&r, 110, "ab")->reason, "reason \"quoted\"") == 0);
    CHECK(!ag_state_quarantined(&r, 110, "cd") && !ag_state_quarantined(&r, 100, "ab"));
    /* a damaged file is an error, not a fresh state (a fresh state would forget the counter) */
    char p[128];
    snprintf(p, sizeof p, "%s/state.json", g_dir);
    FILE *f = fopen(p, "w");
    CHECK(f && fputs("{\"counter\": 4", f) >= 0);
    if (f) fclose(f);
    CHECK(ag_state_load(g_dir, &r, &err) == MS_ERR_INVALID && strstr(err.msg, "damaged"));
    rm_dir();
}

/* Two slots with real files: a (v1, confirmed before) and b (v2, on trial after `runs`). */
static void two_slots(int runs, int corrupt_b)
{
    ag_state s;
    ms_error err;
    memset(&s, 0, sizeof s);
    char p[160];
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/slots", g_dir);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/slots/%c", g_dir, i ? 'b' : 'a');
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/slots/%c/model.onnx", g_dir, i ? 'b' : 'a');
        FILE *f = fopen(p, "w");
        CHECK(f && fprintf(f, "model %d", i + 1) > 0);
        if (f) fclose(f);
        s.slot[i].version = i + 1;
        snprintf(s.slot[i].model_format, sizeof s.slot[i].model_format, "onnx");
        CHECK(ag_sha256_file(p, s.slot[i].sha256, &err) == MS_OK);
        if (i == 1 && corrupt_b) { f = fopen(p, "a"); if (f) { fputc('!', f); fclose(f); } }
    }
    s.counter = 1;
    s.active = 1;
    s.trial = 1;
    s.trial_runs = runs;
    CHECK(ag_state_save(g_dir, &s, &err) == MS_OK);
}

static ag_agent *open_agent(void)
{
    ag_opts o;
    memset(&o, 0, sizeof o);
    o.state_dir = g_dir;
    o.name = "m";
    o.backend = "http://127.0.0.1:9";
    o.max_blob = 1 << 20;
    o.confirm_s = 10;
    o.swap = stub_swap;
    ag_agent *a = NULL;
    ms_error err;
    g_swaps = 0;
    g_swapped = 0;
    CHECK_MSG(ag_agent_open(&o, &a, &err) == MS_OK, "%s", err.msg);
    return a;
}

TEST(test_revert_after_two_unconfirmed_starts)
{
    fresh_dir();
    two_slots(2, 0);
    ag_agent *a = open_agent();
    CHECK_MSG(g_swaps == 1 && g_swapped == 1, "swapped to %lld (%d swaps)", (long long)g_swapped, g_swaps);
    CHECK(a && ag_agent_serving(a) == 1);
    ag_agent_free(a);
    ag_state s;
    ms_error err;
    CHECK(ag_state_load(g_dir, &s, &err) == MS_OK);
    CHECK(s.active == 0 && s.trial == 0 && s.counter == 1);
    CHECK(ag_state_quarantined(&s, 2, s.slot[1].sha256) && strstr(ag_state_quarantined(&s, 2, s.slot[1].sha256)->reason, "stopped twice"));
    rm_dir();
}

TEST(test_trial_kept_after_one_start)
{
    fresh_dir();
    two_slots(1, 0);
    ag_agent *a = open_agent();
    CHECK(g_swapped == 2 && a && ag_agent_serving(a) == 2);
    ag_agent_free(a);
    ag_state s;
    ms_error err;
    CHECK(ag_state_load(g_dir, &s, &err) == MS_OK && s.active == 1 && s.trial == 1 && s.trial_runs == 2);
    /* the next start is the second unconfirmed one: reverted */
    a = open_agent();
    CHECK(g_swapped == 1 && ag_agent_serving(a) == 1);
    ag_agent_free(a);
    rm_dir();
}

TEST(test_changed_file_does_not_serve)
{
    fresh_dir();
    two_slots(1, 1);
    ag_agent *a = open_agent();
    CHECK_MSG(g_swapped == 1 && a && ag_agent_serving(a) == 1, "serving %lld", (long long)(a ? ag_agent_serving(a) : -1));
    ag_agent_free(a);
    rm_dir();
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_revert_after_two_unconfirmed_starts);
    RUN(test_trial_kept_after_one_start);
    RUN(test_changed_file_does_not_serve);
    return mstest_summary();
}
