/* test_bs_url.c: base/bs_url.c, the store and queue URLs: each scheme, SQLite's absolute, relative and
 * in-memory forms, Redis' defaults, credentials and %-escapes, and every malformed URL refused
 * with a message that quotes it and shows the expected form. */
#include <string.h>

#include "base/bs_url.h"
#include "mstest.h"

static bs_url parse_ok(const char *url)
{
    bs_url u;
    ms_error err = {{0}};
    ms_status st = bs_url_parse(url, &u, &err);
    CHECK_MSG(st == MS_OK, "%s: %s", url, err.msg);
    return u;
}

/* Refused as bad input, with a message containing `want`. */
static void parse_bad(const char *url, const char *want)
{
    bs_url u;
    ms_error err = {{0}};
    ms_status st = bs_url_parse(url, &u, &err);
    CHECK_MSG(st == MS_ERR_INVALID, "%s: status %d", url ? url : "(null)", (int)st);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s: '%s' lacks '%s'", url ? url : "(null)",
              err.msg, want);
    CHECK(u.path == NULL && u.host == NULL && u.user == NULL && u.password == NULL);
}

static int eq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

TEST(sqlite_forms)
{
    bs_url u = parse_ok("sqlite:///var/lib/mlship/f.db");
    CHECK(u.scheme == BS_URL_SQLITE && eq(u.path, "/var/lib/mlship/f.db"));
    bs_url_free(&u);
    u = parse_ok("sqlite://data/f.db"); /* relative to the working directory */
    CHECK(u.scheme == BS_URL_SQLITE && eq(u.path, "data/f.db"));
    bs_url_free(&u);
    u = parse_ok("sqlite://f.db");
    CHECK(eq(u.path, "f.db"));
    bs_url_free(&u);
    u = parse_ok("sqlite::memory:");
    CHECK(u.scheme == BS_URL_SQLITE && eq(u.path, ":memory:"));
    bs_url_free(&u);
}

TEST(sqlite_bad)
{
    const char *want = "expected sqlite:///absolute/path.db, sqlite://relative/path.db or "
                       "sqlite::memory:";
    parse_bad("sqlite://", want);
    parse_bad("sqlite:///", want);
    parse_bad("sqlite:f.db", want);
    parse_bad("sqlite:", want);
    parse_bad("sqlite::memory", want);
    parse_bad("sqlite:f.db", "invalid store URL 'sqlite:f.db'");
}

TEST(postgres_kept_whole)
{
    const char *url = "postgresql://mlship:secret@db.example:5433/features?sslmode=require";
    bs_url u = parse_ok(url);
    CHECK(u.scheme == BS_URL_POSTGRES && u.url == url);
    CHECK(u.path == NULL && u.host == NULL); /* libpq reads it */
    bs_url_free(&u);
    u = parse_ok("postgres://localhost/db");
    CHECK(u.scheme == BS_URL_POSTGRES);
    bs_url_free(&u);
}

TEST(redis_defaults)
{
    bs_url u = parse_ok("redis://");
    CHECK(u.scheme == BS_URL_REDIS && eq(u.host, "127.0.0.1") && u.port == 6379 && u.db == 0);
    CHECK(u.user == NULL && u.password == NULL);
    bs_url_free(&u);
    u = parse_ok("redis://cache.internal");
    CHECK(eq(u.host, "cache.internal") && u.port == 6379 && u.db == 0);
    bs_url_free(&u);
    u = parse_ok("redis://10.0.0.5:6380/3");
    CHECK(eq(u.host, "10.0.0.5") && u.port == 6380 && u.db == 3);
    bs_url_free(&u);
    u = parse_ok("redis://:7000/");
    CHECK(eq(u.host, "127.0.0.1") && u.port == 7000 && u.db == 0);
    bs_url_free(&u);
}

TEST(redis_credentials)
{
    bs_url u = parse_ok("redis://alice:s3cret@h:1/2");
    CHECK(eq(u.user, "alice") && eq(u.password, "s3cret") && eq(u.host, "h") && u.port == 1 &&
          u.db == 2);
    bs_url_free(&u);
    u = parse_ok("redis://:pw@h"); /* password only, the empty user */
    CHECK(u.user == NULL && eq(u.password, "pw"));
    bs_url_free(&u);
    u = parse_ok("redis://token@h"); /* no colon: a password, as redis-cli reads it */
    CHECK(u.user == NULL && eq(u.password, "token") && eq(u.host, "h"));
    bs_url_free(&u);
    u = parse_ok("redis://u:p%40ss%3a@h"); /* %-escapes, either case */
    CHECK(eq(u.user, "u") && eq(u.password, "p@ss:"));
    bs_url_free(&u);
    u = parse_ok("redis://u:a@b@h"); /* the last '@' ends the password */
    CHECK(eq(u.password, "a@b") && eq(u.host, "h"));
    bs_url_free(&u);
}

TEST(redis_bad)
{
    parse_bad("redis://h:0", "bad port (expected redis://host:port/db)");
    parse_bad("redis://h:65536", "bad port");
    parse_bad("redis://h:", "bad port");
    parse_bad("redis://h:12x", "bad port");
    parse_bad("redis://h:6379/x", "the database after '/' must be a number");
    parse_bad("redis://h/-1", "must be a number");
    parse_bad("redis://h/1000001", "must be a number");
    parse_bad("redis://u:%zz@h", "bad %-escape");
    parse_bad("redis://u:%4@h", "bad %-escape");
    parse_bad("redis://h:0", "invalid store URL 'redis://h:0'");
}

TEST(unknown_or_missing)
{
    const char *want = "expected sqlite:///path.db, postgresql://user@host/db or "
                       "redis://host:port/db";
    parse_bad("mysql://h/db", want);
    parse_bad("/tmp/f.db", "unknown store URL '/tmp/f.db'");
    parse_bad("SQLITE:///f.db", want); /* schemes are lower case */
    parse_bad("", "no store URL given");
    parse_bad(NULL, "no store URL given");
}

static bs_url queue_ok(const char *url)
{
    bs_url u;
    ms_error err = {{0}};
    ms_status st = bs_url_parse_queue(url, &u, &err);
    CHECK_MSG(st == MS_OK, "%s: %s", url, err.msg);
    return u;
}

static void queue_bad(const char *url, const char *want)
{
    bs_url u;
    ms_error err = {{0}};
    ms_status st = bs_url_parse_queue(url, &u, &err);
    CHECK_MSG(st == MS_ERR_INVALID, "%s: status %d", url ? url : "(null)", (int)st);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s: '%s' lacks '%s'", url ? url : "(null)",
              err.msg, want);
    CHECK(u.path == NULL && u.host == NULL && u.stream == NULL && u.password == NULL);
}

TEST(queue_sqlite)
{
    bs_url u = queue_ok("sqlite:///var/q.db");
    CHECK(u.scheme == BS_URL_SQLITE && eq(u.path, "/var/q.db") && eq(u.stream, "events"));
    bs_url_free(&u);
    u = queue_ok("sqlite:///var/q.db?stream=orders:v2");
    CHECK(eq(u.path, "/var/q.db") && eq(u.stream, "orders:v2"));
    bs_url_free(&u);
    u = queue_ok("sqlite://rel/q.db?stream=s");
    CHECK(eq(u.path, "rel/q.db") && eq(u.stream, "s"));
    bs_url_free(&u);
    queue_bad("sqlite::memory:", "expected sqlite:///absolute/queue.db");
    queue_bad("sqlite://", "invalid queue URL 'sqlite://'");
    queue_bad("sqlite:///?stream=x", "expected sqlite:///absolute/queue.db");
    queue_bad("sqlite:///q.db?strem=x", "the only parameter is '?stream=...'");
    queue_bad("sqlite:///q.db?stream=", "the only parameter is '?stream=...'");
    queue_bad("sqlite:///q.db?stream=a&db=1", "the only parameter");
}

TEST(queue_redis)
{
    bs_url u = queue_ok("redis://");
    CHECK(u.scheme == BS_URL_REDIS && eq(u.host, "127.0.0.1") && u.port == 6379 && u.db == 0 &&
          eq(u.stream, "events"));
    bs_url_free(&u);
    u = queue_ok("redis://h:7000/3"); /* a queue's path is the stream, even when digits */
    CHECK(eq(u.host, "h") && u.port == 7000 && u.db == 0 && eq(u.stream, "3"));
    bs_url_free(&u);
    u = queue_ok("redis://alice:pw@h/orders?db=2");
    CHECK(eq(u.user, "alice") && eq(u.password, "pw") && eq(u.stream, "orders") && u.db == 2);
    bs_url_free(&u);
    u = queue_ok("redis://h/?db=5");
    CHECK(eq(u.stream, "events") && u.db == 5);
    bs_url_free(&u);
    queue_bad("redis://h:0/s", "bad port (expected redis://host:port/STREAM)");
    queue_bad("redis://h/s?db=x", "?db= must be a number");
    queue_bad("redis://h/s?db=-1", "?db= must be a number");
    queue_bad("redis://h/s?stream=x", "the parameters are '?db=N' and '?partitions=N'");
    queue_bad("redis://h/s?db=1&db=2", "each at most once");
    queue_bad("redis://u:%zz@h/s", "invalid queue URL 'redis://u:%zz@h/s': bad %-escape");
    queue_bad("postgresql://h/db", "unknown queue URL 'postgresql://h/db'");
    queue_bad("", "no queue URL given");
    queue_bad(NULL, "no queue URL given");
    /* the store's meaning of the path is untouched */
    u = parse_ok("redis://h/3?x");
    CHECK(u.db == 3 && u.stream == NULL);
    bs_url_free(&u);
}

/* Issue 12 section 4: a host list and ?partitions=N (docs/partitions.md). */
TEST(queue_redis_partitions)
{
    bs_url u = queue_ok("redis://h1:6379,h2:6380,h3/events");
    CHECK(u.nhosts == 3 && eq(u.hostv[0].host, "h1") && u.hostv[0].port == 6379 &&
          eq(u.hostv[1].host, "h2") && u.hostv[1].port == 6380 && eq(u.hostv[2].host, "h3") &&
          u.hostv[2].port == 6379 && eq(u.host, "h1") && u.port == 6379 && u.partitions == 0 &&
          eq(u.stream, "events"));
    bs_url_free(&u);
    u = queue_ok("redis://h:7000/s"); /* one host: as before, plus a one-entry list */
    CHECK(u.nhosts == 1 && eq(u.hostv[0].host, "h") && u.hostv[0].port == 7000 && eq(u.host, "h"));
    bs_url_free(&u);
    u = queue_ok("redis://al:p,w@d@h1,h2:7/s?partitions=8&db=2"); /* the password holds , and @ */
    CHECK(eq(u.user, "al") && eq(u.password, "p,w@d") && u.nhosts == 2 && eq(u.hostv[0].host, "h1") &&
          eq(u.hostv[1].host, "h2") && u.hostv[1].port == 7 && u.partitions == 8 && u.db == 2);
    bs_url_free(&u);
    queue_bad("redis://h1,,h3/s", "an empty host in the list");
    queue_bad("redis://h1,:6379/s", "an empty host in the list");
    queue_bad("redis://h1,h2:0/s", "bad port (expected redis://host:port,host:port/STREAM)");
    queue_bad("redis://h/s?partitions=0", "?partitions= must be a number from 1 to 1024");
    queue_bad("redis://h/s?partitions=5000", "?partitions= must be a number from 1 to 1024");
    queue_bad("redis://h/s?partitions=2&partitions=2", "each at most once");
}

TEST(free_is_safe)
{
    bs_url u = {0};
    bs_url_free(&u);
    bs_url_free(&u);
    CHECK(u.path == NULL);
}

int main(void)
{
    RUN(sqlite_forms);
    RUN(sqlite_bad);
    RUN(postgres_kept_whole);
    RUN(redis_defaults);
    RUN(redis_credentials);
    RUN(redis_bad);
    RUN(unknown_or_missing);
    RUN(queue_sqlite);
    RUN(queue_redis);
    RUN(queue_redis_partitions);
    RUN(free_is_safe);
    return mstest_summary();
}
