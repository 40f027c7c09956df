/* test_queue.c: the queue layer (src/queue/) on every backend: SQLite always, Redis when
 * MLSHIP_TEST_REDIS_URL is set (scripts/services.sh start writes it to build/services.env),
 * else a skip note. Every test uses its own stream, named after the process id, so runs and
 * tests do not meet. Checked: bytes intact through send/read (binary, empty, NUL inside), ids
 * and order increasing, lease takeover with delivery counts, dead letters by max_deliveries
 * and by qu_dead, ack idempotence, status numbers, maxlen, qu_range, refusals naming what is
 * wrong; SQLite: two processes sharing a queue get every message exactly once, the body is
 * readable JSON, a foreign bad row is dead-lettered; Redis: a group created after a message
 * was sent still reads it, and a killed connection is reconnected; NATS JetStream (when
 * MLSHIP_TEST_NATS is set): the stream, subjects and consumer as the server reports them, names
 * JetStream cannot hold refused, Nats-Msg-Id de-duplication, a foreign message dead-lettered,
 * limits retention with two groups. nak and touch on every backend (no-ops but on NATS). The
 * sqlite3 and redis-cli tools and nats_req.py (raw NATS protocol) play the outside world
 * (scripts/deps.sh test installs them), so this file links none of those libraries and builds
 * with WITH_SQLITE=0, WITH_REDIS=0 or WITH_NATS=0 too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mstest.h"
#include "queue/queue.h"

enum { B_SQLITE, B_REDIS, B_NATS };
static int g_backend;
static char g_dir[64];          /* the SQLite files */
static char g_redis_base[256];  /* "redis://host:port" */
static char g_nats_base[256];   /* "nats://host:port" */
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
    else
        snprintf(url, sizeof url, "%s/%s", g_backend == B_NATS ? g_nats_base : g_redis_base,
                 stream);
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
    CHECK_MSG(qu_read(q, 10, 0, &b, &err) == MS_OK, "%s", err.msg);
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
    CHECK(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 0); /* acked: gone */
    qu_batch_free(&b);
    /* later sends get larger ids and orders */
    char more[2][QU_ID_MAX];
    send_n(q, NULL, 2, 0, more);
    CHECK(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 2);
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
    for (int d = 1; d <= 2; d++) { /* blocking: JetStream redelivers on a server timer */
        CHECK(qu_read(q, 5, 300, &b, &err) == MS_OK && b.n == 1);
        CHECK(b.n == 1 && b.msgs[0].deliveries == d);
        qu_batch_free(&b);
        sleep_ms(150);
    }
    CHECK_MSG(qu_read(q, 5, 300, &b, &err) == MS_OK, "%s", err.msg);
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
    CHECK(qu_read(q, 5, 0, &b, &err) == MS_OK && b.n == 1);
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
    CHECK(qu_read(q, 5, 0, &b, &err) == MS_OK && b.n == 0); /* dead-lettered means acked */
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
    CHECK(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 3);
    const char *some[] = {ids[0], ids[2], ids[0]}; /* one twice */
    CHECK_MSG(qu_ack_ids(q, some, 3, &err) == MS_OK, "%s", err.msg);
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK && st.pending == 1);
    qu_stats_free(&st);
    const char *unknown[] = {g_backend == B_REDIS ? "1-1" : "999999"};
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
    send_n(q, NULL, 5, 0, NULL);
    qu_batch b;
    CHECK(qu_read(q, 2, 0, &b, &err) == MS_OK && b.n == 2);
    sleep_ms(60);
    CHECK_MSG(qu_status(q, &st, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(st.length == 5 && st.pending == 2 && st.lag == 3 && st.dead == 0,
              "length %lld pending %lld lag %lld dead %lld", (long long)st.length,
              (long long)st.pending, (long long)st.lag, (long long)st.dead);
    CHECK_MSG(st.oldest_age_ms >= 50 && st.oldest_age_ms < 5000, "oldest %lld",
              (long long)st.oldest_age_ms);
    CHECK_MSG(st.nconsumers == 1, "%zu consumers", st.nconsumers);
    /* JetStream knows the group's durable consumer, not the readers sharing it */
    const char *who = g_backend == B_NATS ? "mlship" : "worker-1";
    if (st.nconsumers == 1) {
        CHECK(strcmp(st.consumers[0].name, who) == 0 && st.consumers[0].pending == 2);
        CHECK_MSG(st.consumers[0].idle_ms >= 50 && st.consumers[0].idle_ms < 5000, "idle %lld",
                  (long long)st.consumers[0].idle_ms);
    }
    qu_stats_free(&st);
    CHECK(qu_ack(q, &b, &err) == MS_OK);
    qu_batch_free(&b);
    CHECK(qu_status(q, &st, &err) == MS_OK);
    /* SQLite counts rows not yet acked, as a JetStream work queue does (acked messages are
     * removed); a Redis stream keeps acked entries (XLEN) */
    CHECK(st.length == (g_backend == B_REDIS ? 5 : 3) && st.pending == 0 && st.lag == 3);
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
    if (g_backend != B_REDIS) CHECK_MSG(b.n == 50, "kept %zu of 300", b.n); /* JetStream MaxMsgs */
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
    CHECK(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 5);
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
    static const char *const names[] = {"sqlite", "redis", "nats"};
    CHECK(strcmp(qu_backend(q), names[g_backend]) == 0);
    CHECK(strcmp(qu_stream(q), stream) == 0);
    CHECK(((qu_caps(q) & QU_CAP_BLOCKING) != 0) == (g_backend != B_SQLITE));
    CHECK(((qu_caps(q) & QU_CAP_MULTI_HOST) != 0) == (g_backend != B_SQLITE));
    CHECK(((qu_caps(q) & QU_CAP_REPLAY) != 0) == (g_backend == B_NATS));
    CHECK(qu_caps(q) & QU_CAP_TRIM);
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

/* ==== every backend: nak and touch ===================================================== */

/* JetStream: a nak hands a message back at once (or after its delay), a touch keeps it past
 * its lease. The others do nothing (MS_OK): the message returns when the lease expires. */
TEST(nak_and_touch)
{
    const char *url = fresh_url("nak", NULL);
    char urlc[512];
    snprintf(urlc, sizeof urlc, "%s", url);
    qu_queue *a = open_q(urlc, "a", 400, 0), *c = open_q(urlc, "c", 400, 0);
    if (!a || !c) return;
    char ids[2][QU_ID_MAX];
    send_n(a, NULL, 2, 0, ids);
    qu_batch b;
    ms_error err = {{0}};
    CHECK(qu_read(a, 10, 0, &b, &err) == MS_OK && b.n == 2);
    qu_batch_free(&b);
    const char *first[] = {ids[0]}, *second[] = {ids[1]};
    CHECK_MSG(qu_nak(a, first, 1, 0, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(qu_nak(a, second, 1, 250, &err) == MS_OK, "%s", err.msg);
    sleep_ms(50);
    CHECK(qu_read(c, 10, 0, &b, &err) == MS_OK);
    if (g_backend == B_NATS) { /* the first is back at once, the second not yet */
        CHECK_MSG(b.n == 1 && strcmp(b.msgs[0].id, ids[0]) == 0 && b.msgs[0].deliveries == 2,
                  "after nak: %zu", b.n);
    } else {
        CHECK_MSG(b.n == 0, "nak is a no-op here, yet %zu came back", b.n);
    }
    CHECK(qu_ack(c, &b, &err) == MS_OK);
    qu_batch_free(&b);
    sleep_ms(450); /* past the delay and the lease: the second is back everywhere */
    CHECK(qu_read(c, 10, 0, &b, &err) == MS_OK);
    CHECK_MSG(b.n >= 1 && strcmp(b.msgs[b.n - 1].id, ids[1]) == 0, "then %zu", b.n);
    CHECK(qu_ack(c, &b, &err) == MS_OK);
    qu_batch_free(&b);

    /* touch: read with a 400 ms lease, touch at 250 ms; at 500 ms it is still held */
    char one[1][QU_ID_MAX];
    send_n(a, NULL, 1, 0, one);
    CHECK(qu_read(a, 10, 0, &b, &err) == MS_OK && b.n == 1);
    qu_batch_free(&b);
    sleep_ms(250);
    const char *t[] = {one[0]};
    CHECK_MSG(qu_touch(a, t, 1, &err) == MS_OK, "%s", err.msg);
    sleep_ms(250);
    CHECK(qu_read(c, 10, 0, &b, &err) == MS_OK);
    if (g_backend == B_NATS) CHECK_MSG(b.n == 0, "touched, yet taken over (%zu)", b.n);
    else CHECK_MSG(b.n == 1, "touch is a no-op here, yet not taken over (%zu)", b.n);
    qu_batch_free(&b);
    const char *bad[] = {""};
    CHECK(qu_nak(a, bad, 1, 0, &err) == MS_ERR_INVALID);
    CHECK(qu_nak(a, t, 1, -1, &err) == MS_ERR_INVALID && strstr(err.msg, "delay"));
    CHECK(qu_touch(a, bad, 1, &err) == MS_ERR_INVALID);
    CHECK(qu_touch(a, NULL, 0, &err) == MS_OK);
    qu_close(a);
    qu_close(c);
}

/* ==== NATS only ========================================================================= */

static char g_nats_host[128];
static int g_nats_port;

/* A request to the server through tests/unit/queue/nats_req.py (raw protocol, not libnats):
 * the reply text into out. 0 on success. */
static int nats_req(const char *subject, const char *payload, char *out, size_t cap)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "python3 tests/unit/queue/nats_req.py %s %d '%s' '%s'", g_nats_host,
             g_nats_port, subject, payload ? payload : "");
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    return pclose(p) == 0 && n > 0 ? 0 : -1;
}

/* Streams, subjects and the consumer as JetStream shows them, and names it cannot hold. */
TEST(nats_layout)
{
    char stream[96], info[8192], subj[300];
    qu_queue *q = open_q(fresh_url("lay", stream), "w", 1500, 0);
    if (!q) return;
    char results[128];
    snprintf(results, sizeof results, "%s:results", stream);
    send_n(q, results, 1, 0, NULL);
    qu_batch b;
    ms_error err = {{0}};
    send_n(q, NULL, 1, 0, NULL);
    CHECK(qu_read(q, 1, 0, &b, &err) == MS_OK && b.n == 1);
    qu_batch_free(&b);
    snprintf(subj, sizeof subj, "$JS.API.STREAM.INFO.%s", stream);
    CHECK(nats_req(subj, NULL, info, sizeof info) == 0);
    char want[200];
    snprintf(want, sizeof want, "\"subjects\":[\"%s\"]", stream);
    CHECK_MSG(strstr(info, want) && strstr(info, "\"retention\":\"workqueue\"") &&
                  strstr(info, "\"storage\":\"file\""),
              "stream info: %.600s", info);
    snprintf(subj, sizeof subj, "$JS.API.STREAM.INFO.%s", results);
    CHECK(nats_req(subj, NULL, info, sizeof info) == 0);
    snprintf(want, sizeof want, "\"subjects\":[\"%s.results\"]", stream);
    CHECK_MSG(strstr(info, want) && strstr(info, "\"retention\":\"limits\""), "results: %.600s",
              info);
    snprintf(subj, sizeof subj, "$JS.API.CONSUMER.INFO.%s.mlship", stream);
    CHECK(nats_req(subj, NULL, info, sizeof info) == 0);
    CHECK_MSG(strstr(info, "\"durable_name\":\"mlship\"") && strstr(info, "\"ack_policy\":\"explicit\"") &&
                  strstr(info, "\"ack_wait\":1500000000"),
              "consumer: %.600s", info);
    qu_close(q);

    qu_queue *x = NULL;
    char url[400];
    snprintf(url, sizeof url, "%s/has.dot", g_nats_base);
    CHECK(qu_open(url, NULL, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "'has.dot'") && !x);
    snprintf(url, sizeof url, "%s/a::b", g_nats_base);
    CHECK(qu_open(url, NULL, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "'a::b'") && !x);
    snprintf(url, sizeof url, "%s/s?retention=forever", g_nats_base);
    CHECK(qu_open(url, NULL, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "retention=forever"));
    snprintf(url, sizeof url, "%s/s?replicas=3", g_nats_base);
    CHECK(qu_open(url, NULL, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "replicas=3"));
    /* the stream exists as a work queue: asking for limits is refused, not ignored */
    snprintf(url, sizeof url, "%s/%s?retention=limits", g_nats_base, stream);
    CHECK(qu_open(url, NULL, &x, &err) == MS_ERR_INVALID && strstr(err.msg, "workqueue") && !x);
    CHECK(qu_open("nats://127.0.0.1:1/s", NULL, &x, &err) == MS_ERR_RUNTIME &&
          strstr(err.msg, "nats://127.0.0.1:1/s") && !x);
}

/* Nats-Msg-Id from the "id" field: a produce sent twice is stored once. */
TEST(nats_dedup)
{
    char stream[96];
    qu_queue *q = open_q(fresh_url("dup", stream), "w", 0, 0);
    if (!q) return;
    qu_field f[] = {fs("id", "ev-1"), fs("features", "[1]")};
    qu_field g[] = {fs("features", "[2]")};
    const qu_field *rows[] = {f, g};
    int nf[] = {2, 1};
    char a[2][QU_ID_MAX], c[2][QU_ID_MAX];
    ms_error err = {{0}};
    CHECK(qu_send(q, NULL, rows, nf, 2, 0, a, &err) == MS_OK);
    CHECK(qu_send(q, NULL, rows, nf, 2, 0, c, &err) == MS_OK); /* a retried produce */
    CHECK_MSG(strcmp(a[0], c[0]) == 0, "ev-1 stored twice: %s, %s", a[0], c[0]);
    CHECK(strcmp(a[1], c[1]) != 0); /* no id: no de-duplication */
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK && st.length == 3);
    qu_stats_free(&st);
    char subj[200], got[4096], pay[128];
    snprintf(subj, sizeof subj, "$JS.API.STREAM.MSG.GET.%s", stream);
    snprintf(pay, sizeof pay, "{\"seq\":%s}", a[0]);
    CHECK(nats_req(subj, pay, got, sizeof got) == 0);
    CHECK_MSG(strstr(got, "\nNats-Msg-Id: ev-1\r\n"), "message: %.400s", got);
    qu_close(q);
}

/* A message another program published to the subject: dead-lettered with its body. */
TEST(nats_foreign_message)
{
    char stream[96], dead[128], got[2048];
    qu_queue *q = open_q(fresh_url("alien", stream), "w", 0, 0);
    if (!q) return;
    snprintf(dead, sizeof dead, "%s:dead", stream);
    CHECK(nats_req(stream, "not json", got, sizeof got) == 0 && strstr(got, "\"seq\":1"));
    send_n(q, NULL, 1, 0, NULL);
    qu_batch b;
    ms_error err = {{0}};
    CHECK_MSG(qu_read(q, 10, 0, &b, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(b.n == 1 && field_is(&b.msgs[0], "n", "0"), "read %zu", b.n);
    CHECK(qu_ack(q, &b, &err) == MS_OK);
    qu_batch_free(&b);
    CHECK(qu_range(q, dead, NULL, 10, &b, &err) == MS_OK && b.n == 1);
    CHECK(b.n == 1 && field_is(&b.msgs[0], "body", "not json") &&
          field_is(&b.msgs[0], "source_id", "1") && field(&b.msgs[0], "reason"));
    qu_batch_free(&b);
    qu_stats st;
    CHECK(qu_status(q, &st, &err) == MS_OK && st.length == 0 && st.dead == 1);
    qu_stats_free(&st);
    qu_close(q);
}

/* retention=limits: acked messages stay (replay), and two groups each read everything. */
TEST(nats_limits_two_groups)
{
    char stream[96], url[400];
    fresh_url("lim", stream);
    snprintf(url, sizeof url, "%s/%s?retention=limits", g_nats_base, stream);
    qu_queue *a = open_q(url, "a", 0, 0);
    qu_opts o = qu_opts_default();
    o.group = "audit";
    qu_queue *c = NULL;
    ms_error err = {{0}};
    CHECK_MSG(qu_open(url, &o, &c, &err) == MS_OK, "%s", err.msg);
    if (!a || !c) return;
    send_n(a, NULL, 3, 0, NULL);
    qu_batch b;
    for (int k = 0; k < 2; k++) {
        qu_queue *q = k ? c : a;
        CHECK(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 3);
        CHECK(qu_ack(q, &b, &err) == MS_OK);
        qu_batch_free(&b);
    }
    qu_stats st;
    CHECK(qu_status(a, &st, &err) == MS_OK && st.length == 3 && st.pending == 0 && st.lag == 0);
    qu_stats_free(&st);
    CHECK(qu_range(a, NULL, NULL, 10, &b, &err) == MS_OK && b.n == 3); /* still there */
    qu_batch_free(&b);
    qu_close(a);
    qu_close(c);
    /* a work queue serves one group: a second is refused by name */
    qu_queue *w = open_q(fresh_url("wq", NULL), "a", 0, 0);
    if (!w) return;
    char wurl[400];
    snprintf(wurl, sizeof wurl, "%s", fresh_url("wq2", NULL));
    qu_queue *w1 = open_q(wurl, "x", 0, 0), *w2 = NULL;
    CHECK(qu_read(w1, 1, 0, &b, &err) == MS_OK);
    qu_batch_free(&b);
    CHECK(qu_open(wurl, &o, &w2, &err) == MS_OK);
    CHECK(w2 && qu_read(w2, 1, 0, &b, &err) == MS_ERR_INVALID && strstr(err.msg, "work queue"));
    qu_close(w);
    qu_close(w1);
    qu_close(w2);
}

/* The password never shows in messages. */
TEST(nats_password_hidden)
{
    char url[400];
    snprintf(url, sizeof url, "nats://alice:sekret@%s/s", g_nats_base + strlen("nats://"));
    qu_queue *q = NULL;
    ms_error err = {{0}};
    if (qu_open(url, NULL, &q, &err) == MS_OK) { /* a server without auth lets anyone in */
        CHECK(strstr(qu_url_shown(q), "nats://alice:***@") && !strstr(qu_url_shown(q), "sekret"));
        qu_close(q);
    } else {
        CHECK_MSG(strstr(err.msg, "nats://alice:***@") && !strstr(err.msg, "sekret"), "%s", err.msg);
    }
}

/* ==== driver ============================================================================ */

TEST(bad_urls)
{
    const char *bad[][2] = {
        {"amqp://h/s", "unknown queue URL 'amqp://h/s'"},
        {"kafka://h:0/t", "bad broker 'h:0'"},
        {"kafka://a:9092,/t", "bad broker ''"},
        {"kafka://u@h:9092/t", "no user info"},
        {"nats://h:70000/s", "bad port"},
        {"nats://h/s#x", "unexpected '#'"},
        {"nats://h/bad*stream", "'bad*stream'"},
        {"mqtt://h:1883", "a topic is required"},
        {"mqtt://h/", "a topic is required"},
        {"mqtt://h/a%zz", "a topic is required"},
        {"sqlite::memory:", "invalid queue URL 'sqlite::memory:'"},
        {"sqlite:///tmp/q.db?stream=a b", "'a b'"},
        {"sqlite:///tmp/q.db?stream=x/y", "'x/y'"},
        {"redis://h/bad*stream", "'bad*stream'"},
        {"redis://h:99999/s", "bad port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
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
    RUN(lease_takeover);
    RUN(max_deliveries_dead);
    RUN(dead_by_call);
    RUN(ack_ids);
    RUN(status_numbers);
    RUN(maxlen_trim);
    RUN(range_pages);
    RUN(bad_arguments);
    RUN(nak_and_touch);
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
    if (qu_open(url, NULL, &probe, &err) == MS_ERR_UNSUPPORTED) {
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
    if (!r || !*r) {
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

    const char *n = getenv("MLSHIP_TEST_NATS");
    if (!n || !*n) {
        printf("skip NATS queue tests: set MLSHIP_TEST_NATS (scripts/services.sh start)\n");
    } else if (qu_open("nats://127.0.0.1:1/x", NULL, &probe, &err) == MS_ERR_UNSUPPORTED) {
        printf("skip NATS queue tests: built without NATS\n");
    } else {
        snprintf(g_nats_base, sizeof g_nats_base, "nats://%s", n);
        if (sscanf(n, "%127[^:]:%d", g_nats_host, &g_nats_port) != 2) g_nats_port = 4222;
        run_backend(B_NATS, "NATS JetStream");
        RUN(nats_layout);
        RUN(nats_dedup);
        RUN(nats_foreign_message);
        RUN(nats_limits_two_groups);
        RUN(nats_password_hidden);
    }
    qu_close(probe);
    return mstest_summary();
}
