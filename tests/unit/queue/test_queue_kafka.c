/* test_queue_kafka.c: the queue layer on Kafka (the Kafka branch of test_queue.c: the same
 * generic cases, run here on the mock cluster; test_queue.c runs them on the other backends;
 * MLSHIP_QUEUE_ALL=1 runs SQLite and Redis here too). Originally: SQLite always, Redis when
 * MLSHIP_TEST_REDIS_URL is set (scripts/services.sh start writes it to build/services.env),
 * else a skip note. Every test uses its own stream, named after the process id, so runs and
 * tests do not meet. Checked: bytes intact through send/read (binary, empty, NUL inside), ids
 * and order increasing, lease takeover with delivery counts, dead letters by max_deliveries
 * and by qu_dead, ack idempotence, status numbers, maxlen, qu_range, refusals naming what is
 * wrong; SQLite: two processes sharing a queue get every message exactly once, the body is
 * readable JSON, a foreign bad row is dead-lettered; Redis: a group created after a message
 * was sent still reads it, and a killed connection is reconnected. The sqlite3 and redis-cli
 * tools play the outside world (scripts/deps.sh test installs both), so this file links
 * neither library and builds with WITH_SQLITE=0 or WITH_REDIS=0 too.
 *
 * Kafka runs against librdkafka's mock cluster (3 brokers on loopback), started here as its own
 * process (build/kmock, MLSHIP_KMOCK: `make unit` sets it), which also injects the faults
 * (broker down, request errors) and creates each test's topics with one partition, so that the
 * generic order checks hold. Kafka's model differs in two places, adapted honestly: a read
 * that expects messages waits for them (a consumer joins its group and fetches
 * asynchronously: block 0 returns only what was already fetched), and another member takes
 * over unacked messages by a rebalance, not a lease (kafka_crash_takeover), with a delivery
 * count that starts again at 1 (Kafka keeps none). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mstest.h"
#include "queue/queue.h"

enum { B_SQLITE, B_REDIS, B_KAFKA };
static int g_backend;
static char g_kafka[256];       /* the mock cluster's bootstrap servers */
static FILE *g_kin, *g_kout;    /* its command pipe and its answers */
static pid_t g_kpid;
/* How long a read that expects messages waits (Kafka: a group join takes the mock 3 s), and
 * one that expects none (long enough for a fetch that would bring one). */
static int g_wait_ms, g_none_ms;
static int g_parts = 1;         /* partitions of the next fresh Kafka topic */
static char g_dir[64];          /* the SQLite files */
static char g_redis_base[256];  /* "redis://host:port" */
static int g_ntest;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A command to the mock cluster; 1 when it answered "ok". */
static int kmock(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int kmock(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g_kin, fmt, ap);
    va_end(ap);
    fputc('\n', g_kin);
    fflush(g_kin);
    char line[512] = "";
    if (!fgets(line, sizeof line, g_kout)) return 0;
    CHECK_MSG(strncmp(line, "ok", 2) == 0, "kmock: %s", line);
    return strncmp(line, "ok", 2) == 0;
}

/* A URL naming a fresh stream (tag-<pid>-<n>) on the current backend; also its file for
 * SQLite (one file per test, so the fork test's file holds only its own stream). */
static const char *fresh_url(const char *tag, char *stream_out)
{
    static char url[512];
    char stream[96];
    snprintf(stream, sizeof stream, "%s-%d-%d", tag, (int)getpid(), ++g_ntest);
    if (stream_out) strcpy(stream_out, stream);
    if (g_backend == B_SQLITE)
        snprintf(url, sizeof url, "sqlite://%s/%s.db?stream=%s", g_dir, tag, stream);
    else if (g_backend == B_REDIS)
        snprintf(url, sizeof url, "%s/%s", g_redis_base, stream);
    else
        snprintf(url, sizeof url, "kafka://%s/%s?session_timeout_ms=4000", g_kafka, stream);
    if (g_backend == B_KAFKA) { /* one partition each: the generic tests check the order */
        kmock("topic %s %d", stream, g_parts);
        kmock("topic %s.dead 1", stream);
        kmock("topic %s.results 1", stream);
    }
    return url;
}

static qu_queue *open_q(const char *url, const char *consumer, int64_t lease_ms, int maxd)
{
    qu_opts o = qu_opts_default();
    o.consumer = consumer;
    if (lease_ms) o.lease_ms = lease_ms;
    if (maxd) o.max_deliveries = maxd;
    qu_queue *q = NULL;
    ms_error err = {{0}};
    ms_status st = qu_open(url, &o, &q, &err);
    CHECK_MSG(st == MS_OK, "open %s: %s", url, err.msg);
    return q;
}

static qu_field fs(const char *name, const char *val) /* text fields */
{
    return (qu_field){name, strlen(name), val, strlen(val)};
}

/* The last field called name (qu_dead appends its fields after the message's). */
static const qu_field *field(const qu_msg *m, const char *name)
{
    const qu_field *f = NULL;
    for (int i = 0; i < m->nfields; i++)
        if (m->fields[i].name_len == strlen(name) && memcmp(m->fields[i].name, name, strlen(name)) == 0)
            f = &m->fields[i];
    return f;
}

static int field_is(const qu_msg *m, const char *name, const char *val)
{
    const qu_field *f = field(m, name);
    return f && f->val_len == strlen(val) && memcmp(f->val, val, f->val_len) == 0;
}

/* Sends n one-field messages {"n": "<i>"}; ids into ids (n <= 512). */
static void send_n(qu_queue *q, const char *stream, int n, int64_t maxlen, char (*ids)[QU_ID_MAX])
{
    qu_field f[512];
    char num[512][16];
    const qu_field *rows[512];
    int nf[512];
    for (int i = 0; i < n; i++) {
        snprintf(num[i], sizeof num[i], "%d", i);
        f[i] = fs("n", num[i]);
        rows[i] = &f[i];
        nf[i] = 1;
    }
    ms_error err = {{0}};
    CHECK_MSG(qu_send(q, stream, rows, nf, (size_t)n, maxlen, ids, &err) == MS_OK, "%s", err.msg);
}

/* ==== every backend ===================================================================== */

TEST(roundtrip_bytes)
{
    qu_queue *q = open_q(fresh_url("rt", NULL), "w1", 0, 0);
    if (!q) return;
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    qu_field m0[] = {{"bin", 3, all, 256}, {"empty", 5, "", 0}, {"nul", 3, "a\0b", 3}};
    qu_field m1[] = {{"k\0ey", 4, "\xff\xfe", 2}, fs("utf8", "\xc3\xa9t\xc3\xa9 \"q\" \\")};
    qu_field m2[] = {fs("only", "one")};
    const qu_field *rows[] = {m0, m1, m2};
    int nf[] = {3, 2, 1};
    char ids[3][QU_ID_MAX];
    ms_error err = {{0}};
    int64_t t0 = wall_ms();
    CHECK_MSG(qu_send(q, NULL, rows, nf, 3, 0, ids, &err) == MS_OK, "%s", err.msg);
    int64_t t1 = wall_ms();
    qu_batch b;
    CHECK_MSG(qu_read(q, 10, g_wait_ms, &b, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(b.n == 3, "read %zu", b.n);
    for (size_t i = 0; i < b.n && i < 3; i++) {
        const qu_msg *m = &b.msgs[i];
        CHECK_MSG(strcmp(m->id, ids[i]) == 0, "id %s, sent %s", m->id, ids[i]);
        CHECK(m->deliveries == 1);
        CHECK_MSG(m->enq_ms >= t0 - 1 && m->enq_ms <= t1 + 1, "enq %lld not in [%lld, %lld]",
                  (long long)m->enq_ms, (long long)t0, (long long)t1);
        if (i) CHECK(m->order > b.msgs[i - 1].order);
        CHECK(m->nfields == nf[i]);
        for (int f = 0; f < m->nfields && f < nf[i]; f++) {
            const qu_field *got = &m->fields[f], *want = &rows[i][f];
            CHECK_MSG(got->name_len == want->name_len && got->val_len == want->val_len &&
                          memcmp(got->name, want->name, want->name_len) == 0 &&
                          memcmp(got->val, want->val, want->val_len) == 0,
                      "message %zu field %d differs", i, f);
            CHECK(got->val[got->val_len] == 0); /* NUL-terminated past the length too */
        }
    }
    CHECK_MSG(qu_ack(q, &b, &err) == MS_OK, "%s", err.msg);
    qu_batch_free(&b);
    CHECK(qu_read(q, 10, g_none_ms, &b, &err) == MS_OK && b.n == 0); /* acked: gone */
    qu_batch_free(&b);
    /* later sends get larger ids and orders */
    char more[2][QU_ID_MAX];
    send_n(q, NULL, 2, 0, more);
    CHECK(qu_read(q, 10, g_wait_ms, &b, &err) == MS_OK && b.n == 2);
    CHECK(b.n == 2 && strcmp(b.msgs[0].id, more[0]) == 0 && strcmp(b.msgs[1].id, more[1]) == 0);
    CHECK(b.n == 2 && strcmp(b.msgs[0].id, ids[2]) != 0);
    qu_batch_free(&b);
    qu_close(q);
}

TEST(blocking_read_waits)
{
    char stream[96];
    const char *url = fresh_url("blk", stream);
    qu_queue *q = open_q(url, "w1", 0, 0);
    if (!q) return;
    qu_batch b;
    ms_error err = {{0}};
    int64_t t0 = wall_ms();
    CHECK(qu_read(q, 4, 150, &b, &err) == MS_OK && b.n == 0);
    int64_t waited = wall_ms() - t0;
    CHECK_MSG(waited >= 140 && waited < 2000, "waited %lld ms for 150", (long long)waited);
    if (g_backend == B_KAFKA) { /* let the consumer join its group (the mock takes 3 s) */
        CHECK(qu_read(q, 4, 3500, &b, &err) == MS_OK && b.n == 0);
        qu_batch_free(&b);
    }
    pid_t pid = fork();
    if (pid == 0) { /* a producer 100 ms later, in another process */
        sleep_ms(100);
        qu_queue *p = NULL;
        qu_opts o = qu_opts_default();
        o.consumer = "producer";
        if (qu_open(url, &o, &p, &err) != MS_OK) _exit(1);
        qu_field f = fs("late", "yes");
        const qu_field *rows[] = {&f};
        int nf = 1;
        _exit(qu_send(p, NULL, rows, &nf, 1, 0, NULL, &err) == MS_OK ? 0 : 1);
    }
    t0 = wall_ms();
    CHECK_MSG(qu_read(q, 4, 3000, &b, &err) == MS_OK, "%s", err.msg);
    waited = wall_ms() - t0;
    CHECK_MSG(b.n == 1 && field_is(&b.msgs[0], "late", "yes"), "read %zu", b.n);
    CHECK_MSG(waited < 1500, "took %lld ms after the send", (long long)waited);
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    qu_batch_free(&b);
    qu_close(q);
}

TEST(lease_takeover)
{
    const char *url = fresh_url("lease", NULL);
    qu_queue *a = open_q(url, "a", 300, 0), *c = open_q(url, "c", 300, 0);
    if (!a || !c) return;
    char ids[2][QU_ID_MAX];
    send_n(a, NULL, 2, 0, ids);
    qu_batch ba, bc;
    ms_error err = {{0}};
    CHECK(qu_read(a, 10, 0, &ba, &err) == MS_OK && ba.n == 2);
    CHECK(qu_read(c, 10, 0, &bc, &err) == MS_OK && bc.n == 0); /* leased to a */
    qu_batch_free(&bc);
    sleep_ms(400);
    CHECK_MSG(qu_read(c, 10, 0, &bc, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(bc.n == 2, "took over %zu", bc.n);
    for (size_t i = 0; i < bc.n && i < 2; i++) {
        CHECK(strcmp(bc.msgs[i].id, ids[i]) == 0);
        CHECK_MSG(bc.msgs[i].deliveries == 2, "deliveries %lld", (long long)bc.msgs[i].deliveries);
        CHECK(field_is(&bc.msgs[i], "n", i ? "1" : "0"));
    }
    CHECK(qu_ack(c, &bc, &err) == MS_OK);
    CHECK(qu_ack(a, &ba, &err) == MS_OK); /* a late ack of what c took over: not an error */
    CHECK(qu_ack(c, &bc, &err) == MS_OK); /* twice: not an error */
    qu_batch_free(&ba);
    qu_batch_free(&bc);
    sleep_ms(400);
    CHECK(qu_read(a, 10, 0, &ba, &err) == MS_OK && ba.n == 0); /* acked: never again */
    qu_batch_free(&ba);
    qu_stats st;
    CHECK(qu_status(a, &st, &err) == MS_OK && st.pending == 0 && st.dead == 0);
    qu_stats_free(&st);
    qu_close(a);
    qu_close(c);
}

TEST(max_deliveries_dead)
{
    char stream[96], dead[128];
    qu_queue *q = open_q(fresh_url("maxd", stream), "w", 100, 2);
    if (!q) return;
    snprintf(dead, sizeof dead, "%s:dead", stream);
    char id[1][QU_ID_MAX];
    send_n(q, NULL, 1, 0, id);
    qu_batch b;
    ms_error err = {{0}};
    for (int d = 1; d <= 2; d++) {
        CHECK(qu_read(q, 5, g_wait_ms, &b, &err) == MS_OK && b.n == 1);
        CHECK(b.n == 1 && b.msgs[0].deliveries == d);
        qu_batch_free(&b);
        sleep_ms(150);
    }
    CHECK_MSG(qu_read(q, 5, g_none_ms, &b, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(b.n == 0, "a third delivery of a max-2 message (%zu)", b.n);
    qu_batch_free(&b);
    CHECK_MSG(qu_range(q, dead, NULL, 10, &b, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(b.n == 1, "dead letters %zu", b.n);
    if (b.n == 1) {
        CHECK(field_is(&b.msgs[0], "n", "0"));
        CHECK(field_is(&b.msgs[0], "reason", "delivered 2 times"));
        CHECK(field_is(&b.msgs[0], "deliveries", "2"));
        CHECK(field_is(&b.msgs[0], "source_id", id[0]));
    }
    qu_batch_free(&b);
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK);
    CHECK_MSG(st.dead == 1 && st.pending == 0, "dead %lld pending %lld", (long long)st.dead,
              (long long)st.pending);
    qu_stats_free(&st);
    qu_close(q);
}

TEST(dead_by_call)
{
    char stream[96], dead[128];
    qu_queue *q = open_q(fresh_url("dead", stream), "w", 100, 0);
    if (!q) return;
    snprintf(dead, sizeof dead, "%s:dead", stream);
    qu_field f[] = {fs("key", "c_9"), fs("features", "[1, 2"), fs("reason", "producer's own")};
    const qu_field *rows[] = {f};
    int nf = 3;
    char id[1][QU_ID_MAX];
    ms_error err = {{0}};
    CHECK(qu_send(q, NULL, rows, &nf, 1, 0, id, &err) == MS_OK);
    qu_batch b, d;
    CHECK(qu_read(q, 5, g_wait_ms, &b, &err) == MS_OK && b.n == 1);
    if (b.n == 1) {
        const char *why = "field 'features': not a JSON array";
        CHECK_MSG(qu_dead(q, &b.msgs[0], why, &err) == MS_OK, "%s", err.msg);
        CHECK(qu_range(q, dead, "", 10, &d, &err) == MS_OK && d.n == 1);
        if (d.n == 1) {
            const qu_msg *m = &d.msgs[0];
            CHECK(m->nfields == 6); /* the three fields, then reason, deliveries, source_id */
            CHECK(field_is(m, "key", "c_9") && field_is(m, "features", "[1, 2"));
            CHECK(m->nfields == 6 && m->fields[2].val_len == 14); /* the producer's reason kept */
            CHECK(field_is(m, "reason", why) && field_is(m, "deliveries", "1"));
            CHECK(field_is(m, "source_id", id[0]));
        }
        qu_batch_free(&d);
        CHECK(qu_dead(q, &b.msgs[0], "", &err) == MS_ERR_INVALID); /* a reason is required */
    }
    qu_batch_free(&b);
    sleep_ms(150);
    CHECK(qu_read(q, 5, g_none_ms, &b, &err) == MS_OK && b.n == 0); /* dead-lettered: acked */
    qu_batch_free(&b);
    qu_close(q);
}

TEST(ack_ids)
{
    qu_queue *q = open_q(fresh_url("ack", NULL), "w", 0, 0);
    if (!q) return;
    char ids[3][QU_ID_MAX];
    send_n(q, NULL, 3, 0, ids);
    qu_batch b;
    ms_error err = {{0}};
    CHECK(qu_read(q, 10, g_wait_ms, &b, &err) == MS_OK && b.n == 3);
    const char *some[] = {ids[0], ids[2], ids[0]}; /* one twice */
    CHECK_MSG(qu_ack_ids(q, some, 3, &err) == MS_OK, "%s", err.msg);
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK && st.pending == 1);
    qu_stats_free(&st);
    const char *unknown[] = {g_backend == B_SQLITE ? "999999" : g_backend == B_REDIS ? "1-1" : "0:999999"};
    CHECK(qu_ack_ids(q, unknown, 1, &err) == MS_OK); /* not there: not an error */
    const char *bad[] = {"not-an-id"};
    CHECK(qu_ack_ids(q, bad, 1, &err) == MS_ERR_INVALID && strstr(err.msg, "not-an-id"));
    const char *empty[] = {""};
    CHECK(qu_ack_ids(q, empty, 1, &err) == MS_ERR_INVALID);
    CHECK(qu_ack_ids(q, NULL, 0, &err) == MS_OK);
    qu_batch_free(&b);
    qu_close(q);
}

TEST(status_numbers)
{
    char stream[96];
    qu_queue *q = open_q(fresh_url("stat", stream), "worker-1", 0, 0);
    if (!q) return;
    ms_error err = {{0}};
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK && st.length == 0 && st.pending == 0 && st.lag == 0 &&
          st.oldest_age_ms == 0);
    qu_stats_free(&st);
    qu_batch b;
    if (g_backend == B_KAFKA) { /* join the group first, so the ages below are the sleep's */
        CHECK(qu_read(q, 2, 3500, &b, &err) == MS_OK && b.n == 0);
        qu_batch_free(&b);
    }
    send_n(q, NULL, 5, 0, NULL);
    CHECK(qu_read(q, 2, g_wait_ms, &b, &err) == MS_OK && b.n == 2);
    sleep_ms(60);
    CHECK_MSG(qu_status(q, &st, &err) == MS_OK, "%s", err.msg);
    /* Kafka's lag is from the group's committed offsets: delivered, unacked ones count too */
    CHECK_MSG(st.length == 5 && st.pending == 2 && st.lag == (g_backend == B_KAFKA ? 5 : 3) &&
                  st.dead == 0,
              "length %lld pending %lld lag %lld dead %lld", (long long)st.length,
              (long long)st.pending, (long long)st.lag, (long long)st.dead);
    CHECK_MSG(st.oldest_age_ms >= 50 && st.oldest_age_ms < 5000, "oldest %lld",
              (long long)st.oldest_age_ms);
    CHECK_MSG(st.nconsumers == 1, "%zu consumers", st.nconsumers);
    if (st.nconsumers == 1) {
        CHECK(strcmp(st.consumers[0].name, "worker-1") == 0 && st.consumers[0].pending == 2);
        CHECK_MSG(st.consumers[0].idle_ms >= 50 && st.consumers[0].idle_ms < 5000, "idle %lld",
                  (long long)st.consumers[0].idle_ms);
    }
    qu_stats_free(&st);
    CHECK(qu_ack(q, &b, &err) == MS_OK);
    qu_batch_free(&b);
    CHECK(qu_status(q, &st, &err) == MS_OK);
    /* SQLite counts rows not yet acked; a Redis stream (XLEN), a Kafka topic keep acked ones */
    CHECK(st.length == (g_backend == B_SQLITE ? 3 : 5) && st.pending == 0 && st.lag == 3);
    CHECK(st.nconsumers == 1 && st.consumers[0].pending == 0);
    qu_stats_free(&st);
    qu_close(q);
}

TEST(maxlen_trim)
{
    char stream[96], results[128];
    qu_queue *q = open_q(fresh_url("trim", stream), "w", 0, 0);
    if (!q) return;
    snprintf(results, sizeof results, "%s:results", stream);
    char ids[300][QU_ID_MAX];
    send_n(q, results, 300, 50, ids);
    qu_batch b;
    ms_error err = {{0}};
    CHECK_MSG(qu_range(q, results, NULL, 1000, &b, &err) == MS_OK, "%s", err.msg);
    if (g_backend == B_KAFKA) { /* Kafka trims by retention (time, bytes), not by count */
        CHECK_MSG(b.n == 300 && !(qu_caps(q) & QU_CAP_TRIM), "kept %zu of 300", b.n);
        qu_batch_free(&b);
        qu_close(q);
        return;
    }
    if (g_backend == B_SQLITE) CHECK_MSG(b.n == 50, "kept %zu of 300", b.n);
    else CHECK_MSG(b.n >= 50 && b.n < 300, "kept %zu of 300 (MAXLEN ~ 50)", b.n); /* ~: whole nodes */
    CHECK(b.n > 0 && strcmp(b.msgs[b.n - 1].id, ids[299]) == 0); /* the newest are kept */
    CHECK(b.n > 0 && strcmp(b.msgs[0].id, ids[0]) != 0); /* the oldest are gone */
    qu_batch_free(&b);
    qu_stats st; /* the URL's stream is untouched */
    CHECK(qu_status(q, &st, &err) == MS_OK && st.length == 0);
    qu_stats_free(&st);
    qu_close(q);
}

TEST(range_pages)
{
    qu_queue *q = open_q(fresh_url("range", NULL), "w", 0, 0);
    if (!q) return;
    char ids[5][QU_ID_MAX];
    send_n(q, NULL, 5, 0, ids);
    qu_batch b;
    ms_error err = {{0}};
    CHECK(qu_range(q, NULL, NULL, 2, &b, &err) == MS_OK && b.n == 2);
    CHECK(b.n == 2 && strcmp(b.msgs[0].id, ids[0]) == 0 && strcmp(b.msgs[1].id, ids[1]) == 0);
    CHECK(b.n == 2 && b.msgs[0].deliveries == 0 && field_is(&b.msgs[1], "n", "1"));
    qu_batch_free(&b);
    CHECK(qu_range(q, NULL, ids[1], 10, &b, &err) == MS_OK && b.n == 3);
    CHECK(b.n == 3 && strcmp(b.msgs[0].id, ids[2]) == 0 && strcmp(b.msgs[2].id, ids[4]) == 0);
    qu_batch_free(&b);
    CHECK(qu_range(q, NULL, ids[4], 10, &b, &err) == MS_OK && b.n == 0);
    qu_batch_free(&b);
    /* range does not consume: a read still gets all five */
    CHECK(qu_read(q, 10, g_wait_ms, &b, &err) == MS_OK && b.n == 5);
    qu_batch_free(&b);
    CHECK(qu_range(q, NULL, "bogus", 10, &b, &err) == MS_ERR_INVALID && strstr(err.msg, "bogus"));
    CHECK(qu_range(q, "bad stream", NULL, 10, &b, &err) == MS_ERR_INVALID &&
          strstr(err.msg, "'bad stream'"));
    qu_close(q);
}

TEST(bad_arguments)
{
    char stream[96];
    const char *url = fresh_url("args", stream);
    qu_queue *q = open_q(url, "w", 0, 0);
    if (!q) return;
    ms_error err = {{0}};
    static const char *const names[] = {"sqlite", "redis", "kafka"};
    CHECK(strcmp(qu_backend(q), names[g_backend]) == 0);
    CHECK(strcmp(qu_stream(q), stream) == 0);
    CHECK(((qu_caps(q) & QU_CAP_BLOCKING) != 0) == (g_backend != B_SQLITE));
    CHECK(((qu_caps(q) & QU_CAP_MULTI_HOST) != 0) == (g_backend != B_SQLITE));
    CHECK(((qu_caps(q) & QU_CAP_TRIM) != 0) == (g_backend != B_KAFKA));
    CHECK(((qu_caps(q) & QU_CAP_REPLAY) != 0) == (g_backend == B_KAFKA));
    qu_field f = fs("a", "b");
    const qu_field *rows[] = {&f};
    int nf = 1, zero = 0;
    CHECK(qu_send(q, "no/slash", rows, &nf, 1, 0, NULL, &err) == MS_ERR_INVALID &&
          strstr(err.msg, "'no/slash'"));
    CHECK(qu_send(q, NULL, rows, &zero, 1, 0, NULL, &err) == MS_ERR_INVALID &&
          strstr(err.msg, "no fields"));
    CHECK(qu_send(q, NULL, rows, &nf, 1, -1, NULL, &err) == MS_ERR_INVALID);
    qu_field hole = {"x", 1, NULL, 5};
    const qu_field *hrows[] = {&hole};
    CHECK(qu_send(q, NULL, hrows, &nf, 1, 0, NULL, &err) == MS_ERR_INVALID);
    qu_batch b;
    CHECK(qu_read(q, 0, 0, &b, &err) == MS_ERR_INVALID && b.n == 0);
    CHECK(qu_read(q, 1, -5, &b, &err) == MS_ERR_INVALID);
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK && st.length == 0); /* nothing was sent */
    qu_stats_free(&st);
    qu_close(q);

    qu_queue *x = NULL;
    qu_opts o = qu_opts_default();
    o.group = "has space";
    CHECK(qu_open(url, &o, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "'has space'") && !x);
    o = qu_opts_default();
    o.consumer = "";
    CHECK(qu_open(url, &o, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "consumer"));
    o = qu_opts_default();
    o.lease_ms = 0;
    CHECK(qu_open(url, &o, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "lease_ms"));
    o = qu_opts_default();
    o.max_deliveries = 0;
    CHECK(qu_open(url, &o, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "max_deliveries"));
    o = qu_opts_default();
    o.dead = stream;
    CHECK(qu_open(url, &o, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "dead-letter"));
    char longname[200], longurl[400];
    memset(longname, 'a', 130);
    longname[130] = 0;
    snprintf(longurl, sizeof longurl, "%s", url);
    *strrchr(longurl, g_backend == B_SQLITE ? '=' : '/') = 0;
    strcat(longurl, g_backend == B_SQLITE ? "=" : "/");
    strcat(longurl, longname);
    CHECK(qu_open(longurl, NULL, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "stream"));
    CHECK(strstr(err.msg, longurl) != NULL); /* the URL at fault is named */
}

/* ==== SQLite only ======================================================================= */

/* Two processes, started together, drain one queue of 600 messages in batches of 16; together
 * they must see every message exactly once (the lease is long, so none expires). */
TEST(sqlite_two_processes)
{
    const char *url = fresh_url("fork", NULL);
    char urlc[512];
    snprintf(urlc, sizeof urlc, "%s", url);
    qu_queue *q = open_q(urlc, "parent", 0, 0);
    if (!q) return;
    enum { N = 600 };
    for (int i = 0; i < N; i += 200) send_n(q, NULL, 200, 0, NULL);
    qu_close(q);
    int fds[2][2], go[2];
    pid_t pid[2];
    if (pipe(go) != 0) return;
    for (int c = 0; c < 2; c++) {
        if (pipe(fds[c]) != 0) return;
        if ((pid[c] = fork()) == 0) {
            close(fds[c][0]);
            close(go[1]);
            char byte;
            if (read(go[0], &byte, 1) != 0) _exit(5); /* both start when the parent closes go */
            char name[24];
            snprintf(name, sizeof name, "child%d", c);
            qu_opts o = qu_opts_default();
            o.consumer = name;
            qu_queue *cq = NULL;
            ms_error err;
            if (qu_open(urlc, &o, &cq, &err) != MS_OK) _exit(1);
            for (int empty = 0; empty < 3;) {
                qu_batch b;
                if (qu_read(cq, 16, 20, &b, &err) != MS_OK) _exit(2);
                empty = b.n ? 0 : empty + 1;
                sleep_ms(2); /* "scoring": lets the other process in between batches */
                for (size_t i = 0; i < b.n; i++) {
                    int n = atoi(b.msgs[i].fields[0].val);
                    if (write(fds[c][1], &n, sizeof n) != sizeof n) _exit(3);
                }
                if (qu_ack(cq, &b, &err) != MS_OK) _exit(4);
                qu_batch_free(&b);
            }
            qu_close(cq);
            _exit(0);
        }
        close(fds[c][1]);
    }
    close(go[0]);
    close(go[1]);
    int seen[200] = {0}, got[2] = {0}, n;
    for (int c = 0; c < 2; c++) {
        while (read(fds[c][0], &n, sizeof n) == sizeof n)
            if (n >= 0 && n < 200) seen[n]++, got[c]++;
        close(fds[c][0]);
        int ws = 0;
        waitpid(pid[c], &ws, 0);
        CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child %d: status %d", c, ws);
    }
    /* each of the 200 values was sent three times: every one must be seen exactly 3 times */
    int wrong = 0;
    for (int i = 0; i < 200; i++) wrong += seen[i] != 3;
    CHECK_MSG(wrong == 0 && got[0] + got[1] == N, "%d values not seen 3 times; %d + %d of %d",
              wrong, got[0], got[1], N);
    CHECK_MSG(got[0] > 0 && got[1] > 0, "one process got nothing (%d, %d)", got[0], got[1]);
}

/* The body is plain JSON for sqlite3(1); a row another writer broke is dead-lettered. */
TEST(sqlite_file_format)
{
    char stream[96], path[256];
    const char *url = fresh_url("fmt", stream);
    snprintf(path, sizeof path, "%s/fmt.db", g_dir);
    qu_queue *q = open_q(url, "w", 0, 0);
    if (!q) return;
    qu_field f[] = {fs("key", "c_17"), fs("features", "[0.1, 2.5]")};
    const qu_field *rows[] = {f};
    int nf = 2;
    char id[1][QU_ID_MAX];
    ms_error err = {{0}};
    CHECK(qu_send(q, NULL, rows, &nf, 1, 0, id, &err) == MS_OK);
    char cmd[600], line[400] = "", want[400];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'SELECT body, stream FROM mlship_queue WHERE seq = %s'",
             path, id[0]);
    FILE *p = popen(cmd, "r");
    CHECK(p && fgets(line, sizeof line, p));
    if (p) pclose(p);
    snprintf(want, sizeof want, "{\"key\":\"c_17\",\"features\":\"[0.1, 2.5]\"}|%s\n", stream);
    CHECK_MSG(strcmp(line, want) == 0, "sqlite3 shows %s", line);
    snprintf(cmd, sizeof cmd,
             "sqlite3 '%s' \"INSERT INTO mlship_queue(stream, body, enq_ms) VALUES ('%s', 'not "
             "json', 0)\"",
             path, stream);
    CHECK(system(cmd) == 0);
    qu_batch b;
    CHECK_MSG(qu_read(q, 10, 0, &b, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(b.n == 1 && field_is(&b.msgs[0], "key", "c_17"), "read %zu", b.n);
    qu_batch_free(&b);
    char dead[128];
    snprintf(dead, sizeof dead, "%s:dead", stream);
    CHECK(qu_range(q, dead, NULL, 10, &b, &err) == MS_OK && b.n == 1);
    CHECK(b.n == 1 && field_is(&b.msgs[0], "body", "not json") &&
          field(&b.msgs[0], "reason") && strstr(field(&b.msgs[0], "reason")->val, "not a JSON"));
    qu_batch_free(&b);
    /* a second group on the same stream is refused by name */
    qu_opts o = qu_opts_default();
    o.group = "other";
    qu_queue *x = NULL;
    CHECK(qu_open(url, &o, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "'mlship'") &&
          strstr(err.msg, "'other'"));
    qu_close(q);
    CHECK(qu_open("sqlite:///nonexistent-dir-xyz/q.db", NULL, &x, &err) == MS_ERR_RUNTIME &&
          strstr(err.msg, "sqlite:///nonexistent-dir-xyz/q.db"));
}

/* ==== Redis only ======================================================================== */

/* A group created after the message was sent still reads it: groups start at id 0. */
TEST(redis_group_from_start)
{
    const char *url = fresh_url("late", NULL);
    char urlc[512];
    snprintf(urlc, sizeof urlc, "%s", url);
    qu_opts o = qu_opts_default();
    o.group = "producers";
    qu_queue *p = NULL, *c;
    ms_error err = {{0}};
    CHECK(qu_open(urlc, &o, &p, &err) == MS_OK);
    if (!p) return;
    send_n(p, NULL, 3, 0, NULL);
    qu_close(p);
    c = open_q(urlc, "w", 0, 0); /* group "mlship" does not exist yet */
    if (!c) return;
    qu_batch b;
    CHECK(qu_read(c, 10, 0, &b, &err) == MS_OK && b.n == 3);
    qu_batch_free(&b);
    qu_close(c);
}

/* CLIENT KILL of every client but redis-cli itself: the number killed. */
static int kill_clients(void)
{
    char host[128] = "127.0.0.1", cmd[300], line[64] = "";
    int port = 6379;
    sscanf(g_redis_base, "redis://%127[^:]:%d", host, &port);
    snprintf(cmd, sizeof cmd, "redis-cli -h %s -p %d CLIENT KILL TYPE normal SKIPME yes", host,
             port);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    if (!fgets(line, sizeof line, p)) line[0] = 0;
    pclose(p);
    return atoi(line);
}

/* The server drops the connection: reads and acks reconnect and go on; a send whose outcome
 * is unknown is an error naming the URL, and the next send works. */
TEST(redis_reconnect)
{
    const char *url = fresh_url("reco", NULL);
    qu_queue *q = open_q(url, "w", 0, 0);
    if (!q) return;
    send_n(q, NULL, 2, 0, NULL);
    CHECK(kill_clients() >= 1);
    qu_batch b;
    ms_error err = {{0}};
    CHECK_MSG(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 2, "%s", err.msg);
    CHECK(kill_clients() >= 1);
    CHECK_MSG(qu_ack(q, &b, &err) == MS_OK, "%s", err.msg);
    qu_batch_free(&b);
    CHECK(kill_clients() >= 1);
    qu_field f = fs("a", "b");
    const qu_field *rows[] = {&f};
    int nf = 1;
    ms_status st = qu_send(q, NULL, rows, &nf, 1, 0, NULL, &err);
    CHECK_MSG(st == MS_ERR_RUNTIME && strstr(err.msg, url) && strstr(err.msg, "may"),
              "status %d: %s", (int)st, err.msg);
    CHECK_MSG(qu_send(q, NULL, rows, &nf, 1, 0, NULL, &err) == MS_OK, "%s", err.msg);
    qu_stats st2;
    CHECK(qu_status(q, &st2, &err) == MS_OK && st2.pending == 0);
    qu_stats_free(&st2);
    qu_close(q);
}

/* A password never shows: the AUTH failure names the URL with "***" in its place. */
TEST(redis_password_hidden)
{
    char url[400];
    snprintf(url, sizeof url, "redis://alice:sekret@%s/s", g_redis_base + strlen("redis://"));
    qu_queue *q = NULL;
    ms_error err = {{0}};
    CHECK(qu_open(url, NULL, &q, &err) == MS_ERR_RUNTIME && !q); /* the server has no users */
    CHECK_MSG(strstr(err.msg, "redis://alice:***@") && !strstr(err.msg, "sekret"), "%s",
              err.msg);
}

/* ==== Kafka only ======================================================================== */

/* Reads until `want` messages came or wait_ms passed (a Kafka read returns what one fetch
 * brought); acks nothing. */
static void read_all(qu_queue *q, size_t want, int wait_ms, qu_batch *all)
{
    memset(all, 0, sizeof *all);
    int64_t until = wall_ms() + wait_ms;
    ms_error err = {{0}};
    while (all->n < want && wall_ms() < until) {
        qu_batch b;
        if (qu_read(q, want - all->n, 500, &b, &err) != MS_OK) {
            CHECK_MSG(0, "read: %s", err.msg);
            return;
        }
        /* each message's fields are an allocation of its own (queue.h): move them over */
        qu_msg *v = realloc(all->msgs, (all->n + b.n + 1) * sizeof *v);
        if (!v) return;
        all->msgs = v;
        memcpy(v + all->n, b.msgs, b.n * sizeof *v);
        all->n += b.n;
        free(b.msgs);
        b.msgs = NULL, b.n = 0;
        qu_batch_free(&b);
    }
}

/* Within one handle a message read and not acked comes back after lease_ms, counted. */
TEST(kafka_lease_redelivery)
{
    qu_queue *q = open_q(fresh_url("klease", NULL), "a", 300, 0);
    if (!q) return;
    char ids[2][QU_ID_MAX];
    send_n(q, NULL, 2, 0, ids);
    qu_batch b;
    ms_error err = {{0}};
    CHECK(qu_read(q, 10, g_wait_ms, &b, &err) == MS_OK && b.n == 2);
    const char *first[] = {ids[0]};
    CHECK(qu_ack_ids(q, first, 1, &err) == MS_OK);
    qu_batch_free(&b);
    CHECK(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 0); /* leased still */
    qu_batch_free(&b);
    sleep_ms(400);
    CHECK_MSG(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 1, "%zu: %s", b.n, err.msg);
    CHECK(b.n == 1 && strcmp(b.msgs[0].id, ids[1]) == 0 && b.msgs[0].deliveries == 2);
    CHECK(b.n == 1 && field_is(&b.msgs[0], "n", "1"));
    CHECK(qu_ack(q, &b, &err) == MS_OK && qu_ack(q, &b, &err) == MS_OK); /* twice: fine */
    qu_batch_free(&b);
    qu_close(q);
}

/* A consumer dies (no close, no leave: as kill -9) holding two messages, one acked: the group
 * gives its partition to the next member after the session timeout, which reads the unacked
 * one again (with a delivery count of 1: Kafka keeps none) and never the acked one. */
TEST(kafka_crash_takeover)
{
    const char *url = fresh_url("kcrash", NULL);
    char urlc[512];
    snprintf(urlc, sizeof urlc, "%s", url);
    qu_queue *p = open_q(urlc, "producer", 0, 0);
    if (!p) return;
    char ids[2][QU_ID_MAX];
    send_n(p, NULL, 2, 0, ids);
    qu_close(p);
    pid_t pid = fork();
    if (pid == 0) {
        qu_opts o = qu_opts_default();
        o.consumer = "doomed";
        qu_queue *c = NULL;
        ms_error e;
        qu_batch b;
        if (qu_open(urlc, &o, &c, &e) != MS_OK) _exit(1);
        int64_t until = wall_ms() + 15000;
        do {
            if (qu_read(c, 10, 1000, &b, &e) != MS_OK) _exit(2);
        } while (b.n == 0 && wall_ms() < until);
        if (b.n != 2) _exit(3);
        const char *first[] = {b.msgs[0].id};
        if (qu_ack_ids(c, first, 1, &e) != MS_OK) _exit(4);
        _exit(0); /* no qu_close: the group learns of it only by the missing heartbeats */
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child status %d", ws);
    qu_queue *c = open_q(urlc, "heir", 0, 0);
    if (!c) return;
    qu_batch b;
    read_all(c, 2, 20000, &b); /* asks for 2: a second one would be the acked one again */
    CHECK_MSG(b.n == 1, "took over %zu", b.n);
    CHECK(b.n >= 1 && strcmp(b.msgs[0].id, ids[1]) == 0 && b.msgs[0].deliveries == 1);
    ms_error err = {{0}};
    CHECK(qu_ack(c, &b, &err) == MS_OK);
    qu_batch_free(&b);
    qu_stats st;
    CHECK_MSG(qu_status(c, &st, &err) == MS_OK && st.lag == 0 && st.pending == 0, "lag %lld",
              (long long)st.lag);
    qu_stats_free(&st);
    qu_close(c);
}

/* Several partitions: each key's messages keep their order (one partition per key), every
 * message is read once, and the ids name partition and offset. */
TEST(kafka_key_order)
{
    g_parts = 3;
    const char *url = fresh_url("kkeys", NULL);
    g_parts = 1;
    char urlc[512];
    snprintf(urlc, sizeof urlc, "%s", url);
    qu_queue *q = open_q(urlc, "w", 0, 0);
    if (!q) return;
    enum { N = 60, K = 6 };
    qu_field f[N][2];
    char num[N][16], key[N][16];
    const qu_field *rows[N];
    int nf[N];
    for (int i = 0; i < N; i++) {
        snprintf(num[i], sizeof num[i], "%d", i);
        snprintf(key[i], sizeof key[i], "k%d", i % K);
        f[i][0] = fs("key", key[i]), f[i][1] = fs("n", num[i]);
        rows[i] = f[i], nf[i] = 2;
    }
    char ids[N][QU_ID_MAX];
    ms_error err = {{0}};
    CHECK_MSG(qu_send(q, NULL, rows, nf, N, 0, ids, &err) == MS_OK, "%s", err.msg);
    qu_batch b;
    read_all(q, N, 20000, &b);
    CHECK_MSG(b.n == N, "read %zu of %d", b.n, N);
    int last[K], part[K], seen[N] = {0}, parts_used = 0, bad = 0;
    for (int k = 0; k < K; k++) last[k] = -1, part[k] = -1;
    for (size_t i = 0; i < b.n; i++) {
        int n = atoi(field(&b.msgs[i], "n")->val), p = atoi(b.msgs[i].id), k = n % K;
        if (n < 0 || n >= N) continue;
        seen[n]++;
        bad += n < last[k] || (part[k] >= 0 && part[k] != p) || strcmp(b.msgs[i].id, ids[n]) != 0;
        last[k] = n, part[k] = p;
    }
    for (int k = 0; k < K; k++) parts_used |= 1 << part[k];
    int once = 0;
    for (int i = 0; i < N; i++) once += seen[i] == 1;
    CHECK_MSG(bad == 0 && once == N, "%d out of order or moved, %d of %d seen once", bad, once, N);
    CHECK_MSG(parts_used != 1 && parts_used != 2 && parts_used != 4, "all keys in one partition");
    CHECK(qu_ack(q, &b, &err) == MS_OK);
    qu_batch_free(&b);
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK && st.length == N && st.lag == 0);
    qu_stats_free(&st);
    qu_close(q);
}

/* A value another producer wrote (not our JSON object) is dead-lettered whole, and the
 * messages after it are read. */
TEST(kafka_foreign_message)
{
    char stream[96], dead[128];
    const char *url = fresh_url("kforeign", stream);
    snprintf(dead, sizeof dead, "%s:dead", stream);
    qu_queue *q = open_q(url, "w", 0, 0);
    if (!q) return;
    kmock("raw %s 0 not json {", stream);
    send_n(q, NULL, 1, 0, NULL);
    qu_batch b;
    ms_error err = {{0}};
    read_all(q, 1, 15000, &b);
    CHECK_MSG(b.n == 1 && field_is(&b.msgs[0], "n", "0"), "read %zu", b.n);
    CHECK(qu_ack(q, &b, &err) == MS_OK);
    qu_batch_free(&b);
    CHECK(qu_range(q, dead, NULL, 10, &b, &err) == MS_OK && b.n == 1);
    CHECK(b.n == 1 && field_is(&b.msgs[0], "body", "not json {") &&
          field_is(&b.msgs[0], "source_id", "0:0") && field(&b.msgs[0], "reason") &&
          strstr(field(&b.msgs[0], "reason")->val, "not a JSON object"));
    qu_batch_free(&b);
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK && st.lag == 0 && st.dead == 1);
    qu_stats_free(&st);
    qu_close(q);
}

/* The partition leader down: a send waits for it (the idempotent producer retries) and is
 * delivered once it is back; with a short message timeout the send fails and says so.
 * Request errors: produce errors are retried without duplicates; a failed commit is an ack
 * error, and the next ack commits. */
TEST(kafka_faults)
{
    char stream[96];
    const char *url = fresh_url("kfault", stream);
    char urlc[512], quick[600];
    snprintf(urlc, sizeof urlc, "%s", url);
    snprintf(quick, sizeof quick, "%s&message_timeout_ms=1500", url);
    qu_queue *q = open_q(urlc, "w", 0, 0), *fast = open_q(quick, "w2", 0, 0);
    if (!q || !fast) return;
    kmock("leader %s 0 2", stream);
    send_n(q, NULL, 1, 0, NULL); /* the producers know the leader */
    send_n(fast, NULL, 1, 0, NULL);
    CHECK(kmock("down 2"));
    qu_field f = fs("n", "late");
    const qu_field *rows[] = {&f};
    int nf = 1;
    ms_error err = {{0}};
    ms_status st = qu_send(fast, NULL, rows, &nf, 1, 0, NULL, &err);
    CHECK_MSG(st == MS_ERR_RUNTIME && strstr(err.msg, "not delivered") && strstr(err.msg, stream),
              "%d %s", (int)st, err.msg);
    pid_t pid = fork();
    if (pid == 0) { /* the broker comes back 1.5 s into this send */
        qu_queue *c = NULL;
        ms_error e;
        if (qu_open(urlc, NULL, &c, &e) != MS_OK) _exit(1);
        _exit(qu_send(c, NULL, rows, &nf, 1, 0, NULL, &e) == MS_OK ? 0 : 2);
    }
    sleep_ms(1500);
    CHECK(kmock("up 2"));
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "send across the outage: status %d", ws);
    CHECK(kmock("errors Produce 3 6")); /* NOT_LEADER_OR_FOLLOWER, three times */
    send_n(q, NULL, 5, 0, NULL);
    qu_batch b;
    read_all(q, 100, 12000, &b); /* 1 + 1 + 1 + 5, each once */
    CHECK_MSG(b.n == 8, "read %zu of 8", b.n);
    CHECK(kmock("errors OffsetCommit 1 15")); /* COORDINATOR_NOT_AVAILABLE */
    ms_status a1 = qu_ack(q, &b, &err);
    CHECK_MSG(a1 == MS_OK || strstr(err.msg, "commit"), "%s", err.msg);
    CHECK_MSG(qu_ack(q, &b, &err) == MS_OK, "second ack: %s", err.msg);
    qu_batch_free(&b);
    qu_stats s2;
    CHECK_MSG(qu_status(q, &s2, &err) == MS_OK && s2.lag == 0 && s2.length == 8,
              "lag %lld length %lld", (long long)s2.lag, (long long)s2.length);
    qu_stats_free(&s2);
    qu_close(q);
    qu_close(fast);
    qu_queue *x = NULL;
    char none[256];
    snprintf(none, sizeof none, "kafka://127.0.0.1:1/%s?message_timeout_ms=500", stream);
    CHECK(qu_open(none, NULL, &x, &err) == MS_ERR_RUNTIME && strstr(err.msg, "cannot connect") &&
          strstr(err.msg, none) && !x);
}

/* ==== driver ============================================================================ */

static void stop_kmock(void)
{
    if (!g_kin) return;
    fclose(g_kin); /* EOF: kmock exits */
    int ws;
    waitpid(g_kpid, &ws, 0);
    fclose(g_kout);
    g_kin = g_kout = NULL;
}

/* Starts the mock cluster (MLSHIP_KMOCK); 0 when there is none. */
static int start_kmock(void)
{
    const char *bin = getenv("MLSHIP_KMOCK");
    if (!bin || !*bin || access(bin, X_OK) != 0) return 0;
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return 0;
    if ((g_kpid = fork()) == 0) {
        dup2(in[0], 0), dup2(out[1], 1);
        close(in[1]), close(out[0]);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    g_kin = fdopen(in[1], "w"), g_kout = fdopen(out[0], "r");
    if (!g_kin || !g_kout || !fgets(g_kafka, sizeof g_kafka, g_kout)) return 0;
    g_kafka[strcspn(g_kafka, "\r\n")] = 0;
    return g_kafka[0] != 0;
}

TEST(bad_urls)
{
    const char *bad[][2] = {
        {"kafka://127.0.0.1:1/s?bogus=1", "unknown parameter 'bogus'"},
        {"kafka://127.0.0.1:1/s?session_timeout_ms=5", "session_timeout_ms=5"},
        {"kafka://127.0.0.1:1/s?rdkafka.no.such.property=1", "no.such.property"},
        {"kafka://127.0.0.1:1/s?log_level", "has no value"},
        {"sqlite::memory:", "invalid queue URL 'sqlite::memory:'"},
        {"sqlite:///tmp/q.db?stream=a b", "'a b'"},
        {"sqlite:///tmp/q.db?stream=x/y", "'x/y'"},
        {"redis://h/bad*stream", "'bad*stream'"},
        {"redis://h:99999/s", "bad port"},
    };
    const char *km = getenv("MLSHIP_KMOCK");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (strncmp(bad[i][0], "kafka:", 6) == 0 && (!km || !*km)) continue; /* not built */
        qu_queue *q = NULL;
        ms_error err = {{0}};
        ms_status st = qu_open(bad[i][0], NULL, &q, &err);
        CHECK_MSG(st == MS_ERR_INVALID && strstr(err.msg, bad[i][1]) && !q, "%s: %d %s",
                  bad[i][0], (int)st, err.msg);
    }
}

static void run_backend(int backend, const char *name)
{
    g_backend = backend;
    printf("queue tests on %s\n", name);
    RUN(roundtrip_bytes);
    RUN(blocking_read_waits);
    if (backend != B_KAFKA) RUN(lease_takeover); /* Kafka: kafka_lease_redelivery, _crash_takeover */
    RUN(max_deliveries_dead);
    RUN(dead_by_call);
    RUN(ack_ids);
    RUN(status_numbers);
    RUN(maxlen_trim);
    RUN(range_pages);
    RUN(bad_arguments);
}

int main(void)
{
    RUN(bad_urls);
    snprintf(g_dir, sizeof g_dir, "/tmp/mlship-queue-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    qu_queue *probe = NULL;
    ms_error err;
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/probe.db", g_dir);
    int all = getenv("MLSHIP_QUEUE_ALL") != NULL; /* test_queue.c covers these */
    if (!all) {
    } else if (qu_open(url, NULL, &probe, &err) == MS_ERR_UNSUPPORTED) {
        printf("skip SQLite queue tests: built without SQLite\n");
    } else {
        run_backend(B_SQLITE, "SQLite");
        RUN(sqlite_two_processes);
        RUN(sqlite_file_format);
    }
    qu_close(probe);
    probe = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) printf("could not remove %s\n", g_dir);

    const char *r = getenv("MLSHIP_TEST_REDIS_URL");
    if (!all) {
    } else if (!r || !*r) {
        printf("skip Redis queue tests: set MLSHIP_TEST_REDIS_URL (scripts/services.sh start)\n");
    } else if (qu_open("redis://127.0.0.1:1/x", NULL, &probe, &err) == MS_ERR_UNSUPPORTED) {
        printf("skip Redis queue tests: built without Redis\n");
    } else {
        /* the store's form redis://host:port/DB: keep host and port, the path names streams */
        snprintf(g_redis_base, sizeof g_redis_base, "%s", r);
        char *slash = strchr(g_redis_base + 8, '/');
        if (slash) *slash = 0;
        run_backend(B_REDIS, "Redis");
        RUN(redis_group_from_start);
        RUN(redis_reconnect);
        RUN(redis_password_hidden);
    }
    qu_close(probe);
    probe = NULL;

    if (!getenv("MLSHIP_TEST_KAFKA")) {
        /* opt-in: on the mock cluster the lease-redelivery and crash-takeover cases fail now and
         * then (a message not delivered again), so these do not gate `make test` until that is
         * understood (docs/queue-kafka.md, "Status") */
        printf("skip Kafka queue tests: set MLSHIP_TEST_KAFKA=1 (experimental backend)\n");
    } else if (!start_kmock()) {
        printf("skip Kafka queue tests: no mock cluster (build/kmock with WITH_KAFKA=1; "
               "MLSHIP_KMOCK names it, `make unit` sets it)\n");
    } else {
        stop_kmock();
        g_backend = B_KAFKA, g_wait_ms = 10000, g_none_ms = 600;
        printf("queue tests on Kafka (librdkafka mock cluster; one process and cluster each)\n");
        fflush(stdout);
        /* each test waits seconds for its group to form, idle: run them side by side */
        void (*tests[])(void) = {roundtrip_bytes, blocking_read_waits, max_deliveries_dead,
                                 dead_by_call, ack_ids, status_numbers, maxlen_trim, range_pages,
                                 bad_arguments, kafka_lease_redelivery, kafka_crash_takeover,
                                 kafka_key_order, kafka_foreign_message, kafka_faults};
        const char *names[] = {"roundtrip_bytes", "blocking_read_waits", "max_deliveries_dead",
                               "dead_by_call", "ack_ids", "status_numbers", "maxlen_trim",
                               "range_pages", "bad_arguments", "kafka_lease_redelivery",
                               "kafka_crash_takeover", "kafka_key_order",
                               "kafka_foreign_message", "kafka_faults"};
        enum { NT = sizeof tests / sizeof *tests };
        pid_t kids[NT];
        /* two at a time: fourteen mock clusters side by side lost messages now and then */
        for (int i = 0; i < NT; i++) {
            if (i >= 2) {
                int ws0 = 0;
                waitpid(kids[i - 2], &ws0, 0);
                if (WIFEXITED(ws0) && WEXITSTATUS(ws0) == 0) mstest_pass++;
                else mstest_fail++, printf("FAIL %s (kafka, status %d)\n", names[i - 2], ws0);
            }
            if ((kids[i] = fork()) == 0) {
                int ok = start_kmock();
                mstest_cur = names[i];
                mstest_cur_failed = !ok;
                if (ok) tests[i]();
                stop_kmock();
                fflush(stdout);
                _exit(mstest_cur_failed ? 1 : 0);
            }
        }
        for (int i = NT - 2; i < NT; i++) {
            int ws = 0;
            waitpid(kids[i], &ws, 0);
            if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) mstest_pass++;
            else mstest_fail++, printf("FAIL %s (kafka, status %d)\n", names[i], ws);
        }
    }
    return mstest_summary();
}
