/* test_sm_score.c: binding events to a model, the policy, the padded batch run, the row-by-row
 * retry and the outputs JSON (src/stream/sm_score.c), on the hand-built models of
 * tests/unit/predict/pd_models.h, whose outputs are computed by hand here. */
#include "mstest.h"

#include <stdlib.h>

#include "../predict/pd_models.h"
#include "stream/sm_score.h"

static sm_model_ref ref_of(ms_model *m, int64_t max_rows)
{
    sm_model_ref r = {.name = "t", .version = "1"};
    ms_error err;
    if (pd_model_adopt(m, max_rows, &r.pm, &err) != MS_OK) printf("adopt: %s\n", err.msg);
    pd_policy_init(&r.policy, r.pm->model, "t", PD_MISSING_REJECT, "test", &err);
    return r;
}

/* An event of one unnamed input from array text. */
static sm_event ev_of(const char *features)
{
    qu_field f = {"features", 8, features, strlen(features)};
    qu_msg m = {.id = "1-1", .nfields = 1, .fields = &f};
    sm_event ev;
    ms_error err;
    if (sm_event_parse(&m, &ev, &err) != MS_OK) printf("parse: %s\n", err.msg);
    return ev;
}

static const char *json_of(const mc_buf *b, const sm_row *r, char *dst, size_t cap)
{
    snprintf(dst, cap, "%.*s", (int)r->len, b->data + r->off);
    return dst;
}

TEST(batch_binds_checks_and_writes_rows)
{
    sm_model_ref ref = ref_of(pdm_affine(3, 0), 8);
    sm_event ev[5] = {ev_of("[1, 2, 3]"), ev_of("0.5,-1,0"), ev_of("[1, 2]"), ev_of("[1, null, 3]"),
                      ev_of("{\"x\": [0, 0, 1e-7]}")};
    sm_row rows[5] = {{.ev = &ev[0]}, {.ev = &ev[1]}, {.ev = &ev[2]}, {.ev = &ev[3]}, {.ev = &ev[4]}};
    mc_buf b = {0};
    ms_error err;
    CHECK(sm_score(&ref, rows, 5, &b, &err) == MS_OK);
    char s[200];
    CHECK_MSG(!rows[0].error[0] && strcmp(json_of(&b, &rows[0], s, sizeof s), "{\"y\":[3,5,7]}") == 0, "%s %s", rows[0].error, s);
    CHECK_MSG(!rows[1].error[0] && strcmp(json_of(&b, &rows[1], s, sizeof s), "{\"y\":[2,-1,1]}") == 0, "%s", s);
    CHECK_MSG(strstr(rows[2].error, "input 'x' expects 3 numbers, got 2") != NULL, "%s", rows[2].error);
    CHECK_MSG(strstr(rows[3].error, "input 'x': feature 1 is missing or NaN") != NULL, "%s", rows[3].error);
    /* 2 * 1e-7f + 1 in float32 is 1.0000002 */
    CHECK_MSG(!rows[4].error[0] && strcmp(json_of(&b, &rows[4], s, sizeof s), "{\"y\":[1,1,1.0000002]}") == 0, "%s", s);
    for (int i = 0; i < 5; i++) sm_event_free(&ev[i]);
    mc_buf_free(&b);
    pd_model_free(ref.pm);
}

TEST(fetched_features_and_unknown_input)
{
    sm_model_ref ref = ref_of(pdm_affine(2, 0), 4);
    float x[2] = {0.25f, 4};
    sm_event key_only = {.id = "e", .key = "k"};
    sm_event typo = ev_of("{\"z\": [1, 2]}");
    sm_row rows[3] = {{.ev = &key_only, .fetched = x, .fetched_n = 2}, {.ev = &typo},
                      {.ev = &key_only, .fetched = x, .fetched_n = 1}};
    mc_buf b = {0};
    ms_error err;
    CHECK(sm_score(&ref, rows, 3, &b, &err) == MS_OK);
    char s[200];
    CHECK_MSG(!rows[0].error[0] && strcmp(json_of(&b, &rows[0], s, sizeof s), "{\"y\":[1.5,9]}") == 0, "%s", s);
    CHECK_MSG(strstr(rows[1].error, "the model has no input 'z'") != NULL, "%s", rows[1].error);
    CHECK_MSG(strstr(rows[2].error, "gives 1 values but input 'x' expects 2") != NULL, "%s", rows[2].error);
    sm_event_free(&typo);
    mc_buf_free(&b);
    pd_model_free(ref.pm);
}

TEST(not_row_wise_runs_each_row_alone)
{
    sm_model_ref ref = ref_of(pdm_transpose(), 4);
    sm_event ev[2] = {ev_of("[1, 2, 3]"), ev_of("[4, 5, 6]")};
    sm_row rows[2] = {{.ev = &ev[0]}, {.ev = &ev[1]}};
    mc_buf b = {0};
    ms_error err;
    CHECK(sm_score(&ref, rows, 2, &b, &err) == MS_OK);
    char s[200];
    /* alone, y = x^T is [3, 1]: written whole, never mixed with the other row */
    CHECK_MSG(strcmp(json_of(&b, &rows[0], s, sizeof s), "{\"y\":[[1],[2],[3]]}") == 0, "%s", s);
    CHECK_MSG(strcmp(json_of(&b, &rows[1], s, sizeof s), "{\"y\":[[4],[5],[6]]}") == 0, "%s", s);
    for (int i = 0; i < 2; i++) sm_event_free(&ev[i]);
    mc_buf_free(&b);
    pd_model_free(ref.pm);
}

TEST(failing_batch_is_retried_row_by_row)
{
    sm_model_ref ref = ref_of(pdm_reshape_one_row(), 4);
    sm_event ev[3] = {ev_of("[1, 2]"), ev_of("[3, 4]"), ev_of("[5]")};
    sm_row rows[3] = {{.ev = &ev[0]}, {.ev = &ev[1]}, {.ev = &ev[2]}};
    mc_buf b = {0};
    ms_error err;
    CHECK(sm_score(&ref, rows, 3, &b, &err) == MS_OK);
    char s[200];
    CHECK_MSG(!rows[0].error[0] && strcmp(json_of(&b, &rows[0], s, sizeof s), "{\"y\":[1,2]}") == 0, "%s|%s", rows[0].error, s);
    CHECK_MSG(!rows[1].error[0] && strcmp(json_of(&b, &rows[1], s, sizeof s), "{\"y\":[3,4]}") == 0, "%s|%s", rows[1].error, s);
    CHECK(strstr(rows[2].error, "expects 2 numbers, got 1") != NULL);
    for (int i = 0; i < 3; i++) sm_event_free(&ev[i]);
    mc_buf_free(&b);
    pd_model_free(ref.pm);
}

int main(void)
{
    RUN(batch_binds_checks_and_writes_rows);
    RUN(fetched_features_and_unknown_input);
    RUN(not_row_wise_runs_each_row_alone);
    RUN(failing_batch_is_retried_row_by_row);
    return mstest_summary();
}
