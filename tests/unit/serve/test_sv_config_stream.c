/* test_sv_config_stream.c: the "stream" block of config.json (src/serve/sv_config.c): its
 * defaults when absent, every key read, and each kind of bad value refused with a message
 * naming the key (docs/config.md, section `stream`, is the reference). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mstest.h"
#include "serve/sv_config.h"

static char path[64];

/* Write `json` to a temporary config.json and read it: the status, *out on success. */
static ms_status read_cfg(const char *json, sv_model_cfg **out, ms_error *err)
{
    snprintf(path, sizeof path, "/tmp/sv_cfg_stream_%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f) return MS_ERR_RUNTIME;
    fputs(json, f);
    fclose(f);
    ms_status st = sv_config_read(path, out, err);
    unlink(path);
    return st;
}

TEST(defaults_without_the_block)
{
    sv_model_cfg *c = NULL;
    ms_error err = {{0}};
    CHECK(read_cfg("{}", &c, &err) == MS_OK);
    if (!c) return;
    CHECK(c->stream.max_age_s == 3600 && c->stream.max_pending == 10000);
    CHECK(c->stream.wait_ms_max == 30000 && c->stream.pending_s == 60);
    sv_config_free(c);
    /* no config.json at all: the same defaults */
    CHECK(sv_config_read("/nonexistent/dir/config.json", &c, &err) == MS_OK);
    if (c) CHECK(c->stream.max_age_s == 3600 && c->stream.pending_s == 60);
    sv_config_free(c);
}

TEST(every_key_read)
{
    sv_model_cfg *c = NULL;
    ms_error err = {{0}};
    CHECK(read_cfg("{\"stream\":{\"max_age_s\":5,\"max_pending\":7,\"wait_ms_max\":250,\"pending_s\":9}}", &c, &err) == MS_OK);
    if (!c) return;
    CHECK(c->stream.max_age_s == 5);
    CHECK(c->stream.max_pending == 7);
    CHECK(c->stream.wait_ms_max == 250);
    CHECK(c->stream.pending_s == 9);
    sv_config_free(c);
    /* a partial block keeps the other defaults */
    CHECK(read_cfg("{\"stream\":{\"max_age_s\":0}}", &c, &err) == MS_OK);
    if (c) CHECK(c->stream.max_age_s == 0 && c->stream.max_pending == 10000 && c->stream.wait_ms_max == 30000);
    sv_config_free(c);
}

TEST(bad_values_refused_naming_the_key)
{
    static const struct { const char *json, *want; } bad[] = {
        {"{\"stream\":[]}", "\"stream\" must be an object"},
        {"{\"stream\":{\"max_age\":1}}", "unknown key \"max_age\""},
        {"{\"stream\":{\"max_age_s\":-1}}", "\"max_age_s\" must be an integer"},
        {"{\"stream\":{\"max_age_s\":1.5}}", "\"max_age_s\" must be an integer"},
        {"{\"stream\":{\"max_pending\":\"10\"}}", "\"max_pending\" must be an integer"},
        {"{\"stream\":{\"wait_ms_max\":600001}}", "\"wait_ms_max\" must be an integer in [0, 600000]"},
        {"{\"stream\":{\"pending_s\":0}}", "\"pending_s\" must be an integer in [1, "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sv_model_cfg *c = NULL;
        ms_error err = {{0}};
        ms_status st = read_cfg(bad[i].json, &c, &err);
        CHECK_MSG(st == MS_ERR_INVALID && !c, "%s: accepted", bad[i].json);
        CHECK_MSG(strstr(err.msg, bad[i].want) != NULL, "%s: message '%s' lacks '%s'", bad[i].json, err.msg, bad[i].want);
        CHECK_MSG(strstr(err.msg, "config.json") != NULL, "%s: message '%s' does not name config.json", bad[i].json, err.msg);
        sv_config_free(c);
    }
}

int main(void)
{
    RUN(defaults_without_the_block);
    RUN(every_key_read);
    RUN(bad_values_refused_naming_the_key);
    return mstest_summary();
}
