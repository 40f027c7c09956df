/* test_bs_name.c: base/bs_name.c, the identifier rule (tables, columns) and the name rule
 * (models, versions, run ids): each boundary, and the messages a user reads. */
#include <string.h>

#include "base/bs_name.h"
#include "mstest.h"

static void fill(char *dst, char c, size_t n)
{
    memset(dst, c, n);
    dst[n] = 0;
}

TEST(idents_valid)
{
    const char *ok[] = {"a", "_", "A1", "user_features", "_x9", "Zz_0"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) CHECK_MSG(bs_ident_ok(ok[i]), "%s", ok[i]);
}

TEST(idents_invalid)
{
    const char *bad[] = {"", "1a", "9", "a-b", "a b", "a.b", "a\"b", "é", "a;drop", "-a"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(!bs_ident_ok(bad[i]), "'%s' accepted", bad[i]);
    CHECK(!bs_ident_ok(NULL));
}

TEST(ident_length)
{
    char s[80];
    fill(s, 'a', 63);
    CHECK(bs_ident_ok(s)); /* 63: PostgreSQL's limit */
    fill(s, 'a', 64);
    CHECK(!bs_ident_ok(s));
}

TEST(ident_message)
{
    ms_error err = {{0}};
    CHECK(bs_check_ident("table", "t1", &err) == MS_OK);
    CHECK(bs_check_ident("column", "2x", &err) == MS_ERR_INVALID);
    CHECK_MSG(strcmp(err.msg, "invalid column name '2x': expected letters, digits and '_', not "
                              "starting with a digit, at most 63 characters") == 0, "%s", err.msg);
    CHECK(bs_check_ident("table", NULL, &err) == MS_ERR_INVALID);
    CHECK(strstr(err.msg, "'(null)'") != NULL);
    CHECK(bs_check_ident("table", "", NULL) == MS_ERR_INVALID); /* no err: status only */
}

TEST(names)
{
    ms_error err = {{0}};
    const char *ok[] = {"fraud", "v1.2.0", "2024-01-01T00:00:00Z", "a_b:c-d", "7"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        CHECK_MSG(bs_check_name("model name", ok[i], &err) == MS_OK, "%s: %s", ok[i], err.msg);
    const char *bad[] = {"", "a/b", "a b", "..\\x", "a%20", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(bs_check_name("model name", bad[i], &err) == MS_ERR_INVALID, "'%s'", bad[i]);
    CHECK(bs_check_name("run id", NULL, &err) == MS_ERR_INVALID);
    CHECK(bs_check_name("run id", "a/b", &err) == MS_ERR_INVALID);
    CHECK_MSG(strcmp(err.msg, "invalid run id 'a/b': expected 1 to 127 characters from "
                              "[A-Za-z0-9._:-]") == 0, "%s", err.msg);
}

TEST(name_length)
{
    ms_error err;
    char s[200];
    fill(s, 'v', 127);
    CHECK(bs_check_name("model version", s, &err) == MS_OK); /* fits char[128] with its NUL */
    fill(s, 'v', 128);
    CHECK(bs_check_name("model version", s, &err) == MS_ERR_INVALID);
    fill(s, 'v', 150); /* the message quotes at most 100 bytes of it */
    bs_check_name("model version", s, &err);
    CHECK(strstr(err.msg, "'vvvvvvvvvv") != NULL && strlen(err.msg) < 200);
}

int main(void)
{
    RUN(idents_valid);
    RUN(idents_invalid);
    RUN(ident_length);
    RUN(ident_message);
    RUN(names);
    RUN(name_length);
    return mstest_summary();
}
