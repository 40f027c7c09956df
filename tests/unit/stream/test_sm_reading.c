/* test_sm_reading.c: sensor readings -> event fields (src/stream/sm_reading.c): the three
 * payload forms, numbers passed on with their spelling, the key from a topic level or a
 * payload member, the derived ids (the FNV-1a reference computed here from its definition),
 * and every refusal with its reason; the fields then parse as an event (sm_event_parse). */
#include "mstest.h"

#include <stdint.h>
#include <stdlib.h>

#include "stream/sm_reading.h"

static ms_status rd(const char *topic, const char *payload, int level, const char *field, sm_fields *f,
                    ms_error *err)
{
    sm_reading_opts o = {level, field};
    return sm_reading_fields(topic, strlen(topic), payload, strlen(payload), &o, f, err);
}

static const char *val(const sm_fields *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, name) == 0) return f->f[i].val;
    return NULL;
}

static int is(const sm_fields *f, const char *name, const char *want)
{
    const char *v = val(f, name);
    if (!want) return v == NULL;
    return v && strcmp(v, want) == 0;
}

/* FNV-1a 64 from its definition (offset basis 14695981039346656037, prime 2^40 + 2^8 + 0xb3) */
static uint64_t fnv_ref(const unsigned char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void refused(const char *topic, const char *payload, int level, const char *field, const char *want)
{
    sm_fields f;
    ms_error err = {{0}};
    ms_status st = rd(topic, payload, level, field, &f, &err);
    CHECK_MSG(st == MS_ERR_INVALID, "'%s' accepted (want '%s')", payload, want);
    CHECK_MSG(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    CHECK_MSG(val(&f, "id") != NULL, "no id for the error result of '%s'", payload);
    sm_fields_free(&f);
}

TEST(features_form_keeps_spelling)
{
    sm_fields f;
    ms_error err;
    CHECK(rd("s/d/r", "{\"id\":\"e1\",\"key\":\"k1\",\"ts\":17,\"model\":\"m\",\"features\":[0.10, 2.50e0, 3]}", 0, NULL, &f,
             &err) == MS_OK);
    CHECK(is(&f, "id", "e1") && is(&f, "key", "k1") && is(&f, "ts", "17") && is(&f, "model", "m"));
    CHECK(is(&f, "features", "[0.10, 2.50e0, 3]"));
    qu_msg m = {.id = "x", .nfields = f.n, .fields = f.f};
    sm_event ev;
    CHECK(sm_event_parse(&m, &ev, &err) == MS_OK);
    CHECK(ev.ninputs == 1 && ev.inputs[0].nvals == 3 && ev.inputs[0].fvals[0] == strtof("0.10", NULL));
    CHECK(strcmp(ev.id, "e1") == 0 && strcmp(ev.key, "k1") == 0 && strcmp(ev.ts, "17") == 0);
    sm_event_free(&ev);
    sm_fields_free(&f);
}

TEST(values_form_and_ids)
{
    sm_fields f;
    ms_error err;
    CHECK(rd("sensors/dev7/reading", " {\"ts\": 1700000000.5, \"values\": [1, 2]}\n", 2, NULL, &f, &err) == MS_OK);
    CHECK(is(&f, "key", "dev7") && is(&f, "ts", "1700000000.5") && is(&f, "features", "[1, 2]"));
    CHECK_MSG(is(&f, "id", "dev7@1700000000.5"), "id %s", val(&f, "id"));
    sm_fields_free(&f);
    /* no key: the topic stands in */
    CHECK(rd("a/b", "{\"ts\":\"t1\",\"values\":[1]}", 0, NULL, &f, &err) == MS_OK);
    CHECK(is(&f, "id", "a/b@t1") && is(&f, "key", NULL));
    sm_fields_free(&f);
    /* the topic's key beats a "key" member */
    CHECK(rd("a/b", "{\"key\":\"inner\",\"values\":[1]}", 2, NULL, &f, &err) == MS_OK);
    CHECK(is(&f, "key", "b"));
    sm_fields_free(&f);
}

TEST(csv_form_and_hash_id)
{
    sm_fields f;
    ms_error err;
    const char *topic = "sensors/dev7/reading", *pl = "1.5,2,3";
    CHECK(rd(topic, pl, 2, NULL, &f, &err) == MS_OK);
    CHECK(is(&f, "features", "1.5,2,3") && is(&f, "key", "dev7") && is(&f, "ts", NULL));
    uint64_t h = fnv_ref((const unsigned char *)topic, strlen(topic), 14695981039346656037ull);
    h = fnv_ref((const unsigned char *)"", 1, h);
    h = fnv_ref((const unsigned char *)pl, strlen(pl), h);
    char want[40];
    snprintf(want, sizeof want, "fnv-%016llx", (unsigned long long)h);
    CHECK_MSG(is(&f, "id", want), "id %s, want %s", val(&f, "id"), want);
    sm_fields_free(&f);
    /* the same reading again (a redelivery) has the same id; another topic another */
    CHECK(rd(topic, pl, 2, NULL, &f, &err) == MS_OK && is(&f, "id", want));
    sm_fields_free(&f);
    CHECK(rd("sensors/dev8/reading", pl, 2, NULL, &f, &err) == MS_OK && !is(&f, "id", want));
    sm_fields_free(&f);
    /* a bare JSON array is the features too; a JSON string member is the text form */
    CHECK(rd("t", "[4,5]", 0, NULL, &f, &err) == MS_OK && is(&f, "features", "[4,5]"));
    sm_fields_free(&f);
    CHECK(rd("t", "{\"features\":\"4,5\"}", 0, NULL, &f, &err) == MS_OK && is(&f, "features", "4,5"));
    sm_fields_free(&f);
}

TEST(key_field)
{
    sm_fields f;
    ms_error err;
    CHECK(rd("t", "{\"dev\":\"pump-3\",\"features\":[1]}", 0, "dev", &f, &err) == MS_OK && is(&f, "key", "pump-3"));
    sm_fields_free(&f);
    CHECK(rd("t", "{\"dev\":42,\"features\":[1]}", 0, "dev", &f, &err) == MS_OK && is(&f, "key", "42"));
    sm_fields_free(&f);
    CHECK(rd("t", "{\"d\\u0065v\":\"x\",\"dev\":\"y\",\"features\":[1]}", 0, "dev", &f, &err) == MS_OK &&
          is(&f, "key", "y")); /* names are matched as written */
    sm_fields_free(&f);
    CHECK(rd("t", "{\"in\":{\"dev\":\"x\"},\"dev\":\"y\",\"features\":[1]}", 0, "dev", &f, &err) == MS_OK &&
          is(&f, "key", "y")); /* top level only */
    sm_fields_free(&f);
}

TEST(refusals)
{
    refused("a/b/c", "1,2", 4, NULL, "topic 'a/b/c' has no level 4 (--key-from-topic)");
    refused("a//c", "1,2", 2, NULL, "has no level 2");
    refused("t", "{\"features\":[1]}", 0, "dev", "payload has no member 'dev' (--key-field)");
    refused("t", "1,2", 0, "dev", "payload is not a JSON object, so it has no member 'dev'");
    refused("t", "{\"dev\":true,\"features\":[1]}", 0, "dev", "expected a string or a number");
    refused("t", "{\"features\":[1],\"values\":[2]}", 0, NULL, "both 'features' and 'values'");
    refused("t", "{\"x\":1}", 0, NULL, "no member 'features' or 'values'");
    refused("t", "{\"features\":[1]", 0, NULL, "is not one JSON object");
    refused("t", "{\"features\":[1]} {}", 0, NULL, "is not one JSON object");
    refused("t", "", 0, NULL, "payload is empty");
    refused("t", " \r\n", 0, NULL, "payload is empty");
    refused("t", "{\"id\":[1],\"features\":[1]}", 0, NULL, "payload member 'id': expected a string or a number");
    char *big = malloc(SM_FIELD_MAX + 10);
    memset(big, '1', SM_FIELD_MAX + 9);
    big[SM_FIELD_MAX + 9] = 0;
    refused("t", big, 0, NULL, "payload is 1048585 bytes");
    free(big);
}

TEST(binary_payload_no_crash)
{
    const char pl[] = {'\x01', '\0', '\xff', '{', '"'};
    sm_reading_opts o = {0, NULL};
    sm_fields f;
    ms_error err;
    ms_status st = sm_reading_fields("t", 1, pl, sizeof pl, &o, &f, &err);
    /* text that is no JSON is the CSV form: the event parser refuses it with its reason */
    if (st == MS_OK) {
        qu_msg m = {.id = "x", .nfields = f.n, .fields = f.f};
        sm_event ev;
        CHECK(sm_event_parse(&m, &ev, &err) == MS_ERR_INVALID);
    }
    sm_fields_free(&f);
}

TEST(json_member)
{
    size_t n = 0;
    const char *j = "{\"a\": {\"b\": 1}, \"b\" : [1, 2.50] }";
    const char *v = sm_json_member(j, strlen(j), "b", &n);
    CHECK(v && n == 9 && memcmp(v, "[1, 2.50]", 9) == 0);
    CHECK(sm_json_member(j, strlen(j), "c", &n) == NULL);
    CHECK(sm_json_member("[1]", 3, "a", &n) == NULL);
    CHECK(sm_json_member("{\"a\":1", 6, "a", &n) == NULL);
}

int main(void)
{
    RUN(features_form_keeps_spelling);
    RUN(values_form_and_ids);
    RUN(csv_form_and_hash_id);
    RUN(key_field);
    RUN(refusals);
    RUN(binary_payload_no_crash);
    RUN(json_member);
    return mstest_summary();
}
