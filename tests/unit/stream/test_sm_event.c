/* test_sm_event.c: the event parser (src/stream/sm_event.c): every form of an event, numbers
 * read exactly as strtof/strtod read their text, and every refusal naming its field. */
#include "mstest.h"

#include <stdlib.h>

#include "stream/sm_event.h"
#include "stream/sm_result.h"

/* A message of (name, value) pairs, NULL-terminated. */
static qu_msg msg_of(qu_field *f, const char *const *kv)
{
    int n = 0;
    for (; kv[2 * n]; n++)
        f[n] = (qu_field){kv[2 * n], strlen(kv[2 * n]), kv[2 * n + 1], strlen(kv[2 * n + 1])};
    qu_msg m = {.nfields = n, .fields = f, .order = 7};
    snprintf(m.id, sizeof m.id, "1700000000000-3");
    return m;
}

static ms_status parse_kv(const char *const *kv, sm_event *ev, ms_error *err)
{
    qu_field f[16];
    qu_msg m = msg_of(f, kv);
    return sm_event_parse(&m, ev, err);
}

/* Parse must fail with a message containing `want`. */
static void refused(const char *const *kv, const char *want)
{
    sm_event ev;
    ms_error err = {{0}};
    ms_status st = parse_kv(kv, &ev, &err);
    CHECK_MSG(st == MS_ERR_INVALID, "accepted (want '%s')", want);
    CHECK_MSG(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    CHECK(ev.id == NULL && ev.inputs == NULL);
}

TEST(array_form)
{
    const char *kv[] = {"id", "e1", "key", "c_17", "features", "[0.1, 2.5, 3, -1e-3, null]", NULL, NULL};
    sm_event ev;
    ms_error err;
    CHECK(parse_kv(kv, &ev, &err) == MS_OK);
    CHECK(strcmp(ev.id, "e1") == 0 && strcmp(ev.key, "c_17") == 0);
    CHECK(ev.model == NULL && ev.ts == NULL);
    CHECK(ev.ninputs == 1 && ev.inputs[0].name == NULL && ev.inputs[0].nvals == 5);
    CHECK(ev.inputs[0].vals[0] == strtod("0.1", NULL) && ev.inputs[0].fvals[0] == strtof("0.1", NULL));
    CHECK(ev.inputs[0].vals[3] == -0.001);
    CHECK(isnan(ev.inputs[0].vals[4]) && isnan(ev.inputs[0].fvals[4]));
    sm_event_free(&ev);
}

TEST(float_read_from_text_not_through_double)
{
    /* just above the midpoint between 1 and 1 + 2^-23: via double it rounds to the midpoint
     * and then to even (1.0); strtof (and the parser) give 1 + 2^-23 */
    const char *t = "1.000000059604644775390625000001";
    char arr[64];
    snprintf(arr, sizeof arr, "[%s]", t);
    const char *kv[] = {"features", arr, NULL, NULL};
    sm_event ev;
    ms_error err;
    CHECK(parse_kv(kv, &ev, &err) == MS_OK);
    CHECK(ev.inputs[0].fvals[0] == strtof(t, NULL));
    CHECK(ev.inputs[0].fvals[0] != (float)strtod(t, NULL)); /* the case is the real one */
    sm_event_free(&ev);
}

TEST(text_form)
{
    const char *kv[] = {"key", "k", "features", " 0.1, 2.5,,3 ,nan", "ts", "2026-01-01T00:00:00Z", NULL, NULL};
    sm_event ev;
    ms_error err;
    CHECK(parse_kv(kv, &ev, &err) == MS_OK);
    CHECK(ev.ninputs == 1 && ev.inputs[0].nvals == 5);
    CHECK(ev.inputs[0].fvals[1] == 2.5f && isnan(ev.inputs[0].vals[2]) && ev.inputs[0].vals[3] == 3);
    CHECK(isnan(ev.inputs[0].vals[4]));
    CHECK(strcmp(ev.ts, "2026-01-01T00:00:00Z") == 0);
    CHECK(strcmp(ev.id, "1700000000000-3") == 0); /* generated: the queue message's id */
    sm_event_free(&ev);
}

TEST(object_form)
{
    const char *kv[] = {"id", "e2", "model", "fraud", "features", "{\"a\": [1, 2], \"b\\u0031\": 3.5}", NULL, NULL};
    sm_event ev;
    ms_error err;
    CHECK(parse_kv(kv, &ev, &err) == MS_OK);
    CHECK(ev.ninputs == 2 && strcmp(ev.model, "fraud") == 0);
    CHECK(strcmp(ev.inputs[0].name, "a") == 0 && ev.inputs[0].nvals == 2 && ev.inputs[0].vals[1] == 2);
    CHECK(strcmp(ev.inputs[1].name, "b1") == 0 && ev.inputs[1].nvals == 1 && ev.inputs[1].fvals[0] == 3.5f);
    CHECK(ev.key == NULL);
    sm_event_free(&ev);
}

TEST(json_form)
{
    const char *kv[] = {"json", "{\"id\": 42, \"key\": \"c\\\"q\", \"features\": [1.5, 2], \"ts\": 1700000000, \"extra\": {\"x\": [1, {}]}}", NULL, NULL};
    sm_event ev;
    ms_error err;
    CHECK(parse_kv(kv, &ev, &err) == MS_OK);
    CHECK(strcmp(ev.id, "42") == 0 && strcmp(ev.key, "c\"q") == 0 && strcmp(ev.ts, "1700000000") == 0);
    CHECK(ev.ninputs == 1 && ev.inputs[0].nvals == 2 && ev.inputs[0].vals[0] == 1.5);
    sm_event_free(&ev);
    const char *kv2[] = {"json", "{\"key\": \"k\", \"features\": \"1,2,3\"}", NULL, NULL};
    CHECK(parse_kv(kv2, &ev, &err) == MS_OK);
    CHECK(ev.ninputs == 1 && ev.inputs[0].nvals == 3 && ev.inputs[0].vals[2] == 3);
    sm_event_free(&ev);
    const char *kv3[] = {"json", "{\"key\": \"k\", \"features\": null}", NULL, NULL}; /* from the store */
    CHECK(parse_kv(kv3, &ev, &err) == MS_OK);
    CHECK(ev.ninputs == 0 && strcmp(ev.key, "k") == 0);
    sm_event_free(&ev);
}

TEST(key_only_and_unknown_fields)
{
    const char *kv[] = {"key", "c_9", "source", "\x01\x02junk", NULL, NULL};
    sm_event ev;
    ms_error err;
    CHECK(parse_kv(kv, &ev, &err) == MS_OK);
    CHECK(ev.ninputs == 0 && strcmp(ev.key, "c_9") == 0);
    sm_event_free(&ev);
}

TEST(refusals_name_the_field)
{
    refused((const char *[]){"id", "x", NULL, NULL}, "no field 'key' or 'features'");
    refused((const char *[]){"features", "[1, 2", NULL, NULL}, "field 'features'");
    refused((const char *[]){"features", "[1,,2]", NULL, NULL}, "element 1");
    refused((const char *[]){"features", "[+1]", NULL, NULL}, "element 0 ('+1')");
    refused((const char *[]){"features", "[01]", NULL, NULL}, "field 'features'");
    refused((const char *[]){"features", "[.5]", NULL, NULL}, "is not a JSON number");
    refused((const char *[]){"features", "[0x10]", NULL, NULL}, "field 'features'");
    refused((const char *[]){"features", "[NaN]", NULL, NULL}, "element 0 ('NaN')");
    refused((const char *[]){"features", "[[1, 2]]", NULL, NULL}, "one flat array");
    refused((const char *[]){"features", "[]", NULL, NULL}, "an empty array");
    refused((const char *[]){"features", "[1] x", NULL, NULL}, "text after the array");
    refused((const char *[]){"features", "1,abc,3", NULL, NULL}, "value 1 ('abc') is not a number");
    refused((const char *[]){"features", "0x10", NULL, NULL}, "value 0 ('0x10')");
    refused((const char *[]){"features", "", NULL, NULL}, "field 'features' is empty");
    refused((const char *[]){"features", "{\"a\": \"x\"}", NULL, NULL}, "input 'a'");
    refused((const char *[]){"features", "{\"a\": [1], \"a\": [2]}", NULL, NULL}, "input 'a' given twice");
    refused((const char *[]){"features", "{\"a\": [1]", NULL, NULL}, "malformed JSON object");
    refused((const char *[]){"key", "a\nb", NULL, NULL}, "field 'key' holds a control byte");
    refused((const char *[]){"key", "", NULL, NULL}, "field 'key' is empty");
    refused((const char *[]){"key", "a", "key", "b", NULL, NULL}, "field 'key' given twice");
    refused((const char *[]){"json", "[1]", NULL, NULL}, "field 'json': not one JSON object");
    refused((const char *[]){"json", "{\"key\": \"a\"} {}", NULL, NULL}, "field 'json'");
    refused((const char *[]){"json", "{\"key\": \"a\", \"key\": \"b\"}", NULL, NULL}, "field 'key' given twice");
    refused((const char *[]){"json", "{\"model\": 3, \"key\": \"a\"}", NULL, NULL}, "field 'model': expected a string");
    refused((const char *[]){"json", "{\"key\": \"a\", \"features\": [1, \"2\"]}", NULL, NULL}, "element 1");
}

TEST(size_limits)
{
    size_t n = (size_t)10 << 20; /* a 10 MB field */
    char *big = malloc(n + 1);
    memset(big, '1', n);
    big[0] = '[';
    big[n - 1] = ']';
    big[n] = 0;
    refused((const char *[]){"key", "k", "features", big, NULL, NULL}, "field 'features' is 10485760 bytes");
    memset(big, 'k', 600);
    big[600] = 0;
    refused((const char *[]){"key", big, NULL, NULL}, "field 'key' is 600 bytes (at most 511)");
    free(big);
}

TEST(from_json_keeps_number_text)
{
    sm_fields f;
    ms_error err;
    const char *line = "{\"id\": \"e9\", \"key\": \"c_1\", \"features\": [1.50, 2e0], \"other\": 1}";
    CHECK(sm_event_from_json(line, strlen(line), &f, &err) == MS_OK);
    CHECK(f.n == 3);
    int seen = 0;
    for (int i = 0; i < f.n; i++) {
        if (strcmp(f.f[i].name, "id") == 0) seen += strcmp(f.f[i].val, "e9") == 0;
        if (strcmp(f.f[i].name, "key") == 0) seen += strcmp(f.f[i].val, "c_1") == 0;
        if (strcmp(f.f[i].name, "features") == 0) seen += strcmp(f.f[i].val, "[1.50, 2e0]") == 0;
    }
    CHECK(seen == 3);
    sm_fields_free(&f);
    const char *bad = "{\"key\": \"c_1\", \"features\": [1, true]}";
    CHECK(sm_event_from_json(bad, strlen(bad), &f, &err) == MS_ERR_INVALID);
    CHECK(strstr(err.msg, "field 'features': element 1") != NULL);
    CHECK(f.n == 0);
    const char *junk = "{\"key\": \"c_1\", \"features\": [1, oops]}";
    CHECK(sm_event_from_json(junk, strlen(junk), &f, &err) == MS_ERR_INVALID);
    CHECK(strstr(err.msg, "not one JSON object") != NULL);
}

TEST(result_message)
{
    sm_result r = {.id = "e1", .key = "k\"1", .model = "m", .version = "2", .outputs = "{\"y\":0.5}",
                   .ts = "t", .scored_at = "2026-01-01T00:00:00Z"};
    mc_buf b = {0};
    sm_result_json(&b, &r);
    CHECK_MSG(strcmp(b.data, "{\"id\":\"e1\",\"key\":\"k\\\"1\",\"model\":\"m\",\"version\":\"2\","
                             "\"outputs\":{\"y\":0.5},\"ts\":\"t\",\"scored_at\":\"2026-01-01T00:00:00Z\"}") == 0,
              "%s", b.data);
    qu_field f[SM_RESULT_FIELDS];
    CHECK(sm_result_fields(&r, f) == 7);
    r.error = "field 'features': bad";
    CHECK(sm_result_fields(&r, f) == 6 && strcmp(f[3].name, "error") == 0);
    mc_buf_reset(&b);
    sm_result_json(&b, &r);
    CHECK(strstr(b.data, "\"error\":\"field 'features': bad\"") && !strstr(b.data, "outputs"));
    mc_buf_free(&b);
}

int main(void)
{
    RUN(array_form);
    RUN(float_read_from_text_not_through_double);
    RUN(text_form);
    RUN(object_form);
    RUN(json_form);
    RUN(key_only_and_unknown_fields);
    RUN(refusals_name_the_field);
    RUN(size_limits);
    RUN(from_json_keeps_number_text);
    RUN(result_message);
    return mstest_summary();
}
