/* test_queue_body.c: queue/queue_body.c, the SQLite queue's message body: hand-written
 * expected encodings (escapes, UTF-8 kept, stray bytes as \u0080..\u00ff), every byte value
 * and random byte strings surviving the round trip, and malformed bodies refused. */
#include <stdlib.h>
#include <string.h>

#include "mstest.h"
#include "queue/queue_int.h"

static qu_field fld(const char *name, size_t nl, const char *val, size_t vl)
{
    return (qu_field){name, nl, val, vl};
}

static int encodes_to(const qu_field *f, int n, const char *want)
{
    qu_sb sb = {0};
    qu_body_encode(&sb, f, n);
    int ok = sb.p && strcmp(sb.p, want) == 0;
    if (!ok) printf("encoded: %s\nwanted:  %s\n", sb.p ? sb.p : "(null)", want);
    qu_sb_free(&sb);
    return ok;
}

TEST(hand_encodings)
{
    qu_field a[] = {fld("key", 3, "c_17", 4), fld("features", 8, "[0.1, 2.5]", 10)};
    CHECK(encodes_to(a, 2, "{\"key\":\"c_17\",\"features\":\"[0.1, 2.5]\"}"));
    qu_field b[] = {fld("q", 1, "a\"b\\c\n\t\x01", 8)};
    CHECK(encodes_to(b, 1, "{\"q\":\"a\\\"b\\\\c\\n\\t\\u0001\"}"));
    qu_field c[] = {fld("u", 1, "\xc3\xa9\xe2\x82\xac", 5)}; /* é and € stay UTF-8 */
    CHECK(encodes_to(c, 1, "{\"u\":\"\xc3\xa9\xe2\x82\xac\"}"));
    qu_field d[] = {fld("b", 1, "\xff\xc3\x00", 3)}; /* stray bytes, a cut sequence, a NUL */
    CHECK(encodes_to(d, 1, "{\"b\":\"\\u00ff\\u00c3\\u0000\"}"));
    qu_field e[] = {fld("", 0, "", 0)};
    CHECK(encodes_to(e, 1, "{\"\":\"\"}"));
    qu_field s[] = {fld("x", 1, "\xed\xa0\x80", 3)}; /* an encoded surrogate is not UTF-8 */
    CHECK(encodes_to(s, 1, "{\"x\":\"\\u00ed\\u00a0\\u0080\"}"));
}

static int same_fields(const qu_msg *m, const qu_field *f, int n)
{
    if (m->nfields != n) return 0;
    for (int i = 0; i < n; i++)
        if (m->fields[i].name_len != f[i].name_len || m->fields[i].val_len != f[i].val_len ||
            memcmp(m->fields[i].name, f[i].name, f[i].name_len) != 0 ||
            memcmp(m->fields[i].val, f[i].val, f[i].val_len) != 0)
            return 0;
    return 1;
}

static int roundtrips(const qu_field *f, int n)
{
    qu_sb sb = {0};
    qu_body_encode(&sb, f, n);
    qu_batch b = {0};
    qu_msg *m = NULL;
    ms_error err = {{0}};
    int ok = qu_body_decode(sb.p, sb.len, &b, &m, &err) == MS_OK && m && same_fields(m, f, n);
    if (!ok) printf("round trip failed: %s (%s)\n", sb.p, err.msg);
    qu_batch_free(&b);
    qu_sb_free(&sb);
    return ok;
}

TEST(every_byte)
{
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    qu_field f[] = {fld(all, 256, all, 256), fld("dup", 3, "1", 1), fld("dup", 3, "2", 1)};
    CHECK(roundtrips(f, 3)); /* duplicate names are kept, in order */
}

TEST(random_bytes)
{
    srand(12345);
    char name[40], val[300];
    for (int t = 0; t < 2000; t++) {
        size_t nl = (size_t)(rand() % 40), vl = (size_t)(rand() % 300);
        for (size_t i = 0; i < nl; i++) name[i] = (char)(rand() % 256);
        /* mostly high bytes, so that valid and invalid UTF-8 sequences both occur */
        for (size_t i = 0; i < vl; i++) val[i] = (char)(rand() % 3 ? 0x80 + rand() % 128 : rand() % 128);
        qu_field f = fld(name, nl, val, vl);
        if (!roundtrips(&f, 1)) {
            CHECK(0);
            break;
        }
    }
}

TEST(foreign_json)
{
    /* what another writer may produce: spaces, \/ and surrogate pairs */
    const char *body = " { \"a\" : \"x\\/y\" , \"e\":\"\\ud83d\\ude00\\u20ac\" } ";
    qu_batch b = {0};
    qu_msg *m = NULL;
    ms_error err = {{0}};
    CHECK_MSG(qu_body_decode(body, strlen(body), &b, &m, &err) == MS_OK, "%s", err.msg);
    qu_field want[] = {fld("a", 1, "x/y", 3), fld("e", 1, "\xf0\x9f\x98\x80\xe2\x82\xac", 7)};
    CHECK(m && same_fields(m, want, 2));
    qu_batch_free(&b);
}

TEST(malformed)
{
    const char *bad[] = {"",           "[]",          "{",          "{\"a\"}",
                         "{\"a\":1}",  "{\"a\":\"b\"", "{\"a\":\"b\",}", "{\"a\":\"\\x\"}",
                         "{\"a\":\"\\ud800\"}", "{\"a\":\"\x01\"}", "{} x", "{\"a\":\"\\u12\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qu_batch b = {0};
        qu_msg *m = NULL;
        ms_error err = {{0}};
        ms_status st = qu_body_decode(bad[i], strlen(bad[i]), &b, &m, &err);
        CHECK_MSG(st == MS_ERR_INVALID && strstr(err.msg, "not a JSON object of strings"),
                  "'%s': %d %s", bad[i], (int)st, err.msg);
        CHECK(b.n == 0);
        qu_batch_free(&b);
    }
}

int main(void)
{
    RUN(hand_encodings);
    RUN(every_byte);
    RUN(random_bytes);
    RUN(foreign_json);
    RUN(malformed);
    return mstest_summary();
}
