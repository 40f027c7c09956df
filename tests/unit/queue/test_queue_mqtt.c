/* test_queue_mqtt.c: the MQTT backend (src/queue/queue_mqtt.c). Without a broker: URL and
 * topic refusals, publishing to a filter refused, the password hidden. With one
 * (MLSHIP_TEST_MQTT=host:port, from scripts/services.sh start; else a skip note): bytes intact
 * from send to read (a "json" field published as its text, other fields as a JSON object,
 * binary with NUL), the topic of each message, order, reads of at most `max`, and the
 * persistent session: messages sent while the reader is closed are read when it reopens
 * with the same consumer name. Topics are named after the process id, so runs do not meet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mstest.h"
#include "queue/queue.h"

static char g_base[128]; /* mqtt://host:port */
static char g_pfx[32];   /* "ut<pid>" */

static const qu_field *field(const qu_msg *m, const char *name)
{
    for (int i = 0; i < m->nfields; i++)
        if (m->fields[i].name_len == strlen(name) && memcmp(m->fields[i].name, name, m->fields[i].name_len) == 0)
            return &m->fields[i];
    return NULL;
}

static int payload_is(const qu_msg *m, const char *p, size_t n)
{
    const qu_field *f = field(m, "payload");
    return f && f->val_len == n && memcmp(f->val, p, n) == 0;
}

/* read until n messages or 5 s */
static void read_n(qu_queue *q, size_t n, qu_batch *all)
{
    for (int tries = 0; tries < 50 && all->n < n; tries++) {
        qu_batch b = {0};
        ms_error err = {{0}};
        CHECK_MSG(qu_read(q, n - all->n, 100, &b, &err) == MS_OK, "%s", err.msg);
        for (size_t i = 0; i < b.n; i++) {
            all->msgs = realloc(all->msgs, (all->n + 1) * sizeof *all->msgs);
            all->msgs[all->n] = b.msgs[i];
            /* keep the fields: take them over from b */
            all->n++;
        }
        free(b.msgs);
    }
}

TEST(refusals_without_broker)
{
    const char *bad[][2] = {
        {"mqtt://127.0.0.1:1/a/b?qos=2", "unknown parameter 'qos=2'"},
        {"mqtt://127.0.0.1:1/a/b%23c", "not a valid MQTT topic filter"},
        {"mqtt://127.0.0.1:1/a+/b", "not a valid MQTT topic filter"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qu_queue *q = NULL;
        ms_error err = {{0}};
        ms_status st = qu_open(bad[i][0], NULL, &q, &err);
        CHECK_MSG(st == MS_ERR_INVALID && strstr(err.msg, bad[i][1]) && !q, "%s: %d %s", bad[i][0], (int)st, err.msg);
    }
    /* a filter reads; publishing to it is refused before any connection is tried */
    qu_queue *q = NULL;
    ms_error err = {{0}};
    CHECK(qu_open("mqtt://127.0.0.1:1/sensors/+/reading", NULL, &q, &err) == MS_OK);
    CHECK(strcmp(qu_backend(q), "mqtt") == 0 && strcmp(qu_stream(q), "sensors._any.reading") == 0);
    qu_field f = {"json", 4, "{}", 2};
    const qu_field *msgs[1] = {&f};
    int nf = 1;
    CHECK(qu_send(q, NULL, msgs, &nf, 1, 0, NULL, &err) == MS_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "cannot publish to 'sensors/+/reading'"), "%s", err.msg);
    qu_close(q);
    /* the password never shows in a message */
    CHECK(qu_open("mqtt://bob:sekret@127.0.0.1:1/t?x=1", NULL, &q, &err) == MS_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "mqtt://bob:***@") && !strstr(err.msg, "sekret"), "%s", err.msg);
}

TEST(roundtrip)
{
    char in[256], out[256], id[48];
    snprintf(in, sizeof in, "%s/%s/rt/+/x", g_base, g_pfx);
    snprintf(out, sizeof out, "%s/%s/rt/dev1/x", g_base, g_pfx);
    snprintf(id, sizeof id, "%s-rt", g_pfx);
    qu_opts o = qu_opts_default();
    o.consumer = id;
    qu_queue *r = NULL, *s = NULL;
    ms_error err = {{0}};
    CHECK(qu_open(in, &o, &r, &err) == MS_OK);
    qu_batch b = {0};
    CHECK_MSG(qu_read(r, 10, 0, &b, &err) == MS_OK && b.n == 0, "%s", err.msg); /* subscribes */
    CHECK(qu_open(out, NULL, &s, &err) == MS_OK);
    static const char bin[] = {'a', '\0', '\xff', '\n', 'b'};
    qu_field m1 = {"json", 4, "{\"features\":[1,2]}", 18};
    qu_field m2[2] = {{"key", 3, "k\"1", 3}, {"features", 8, "1,2", 3}};
    qu_field m3 = {"json", 4, bin, sizeof bin};
    const qu_field *msgs[3] = {&m1, m2, &m3};
    int nf[3] = {1, 2, 1};
    CHECK_MSG(qu_send(s, NULL, msgs, nf, 3, 0, NULL, &err) == MS_OK, "%s", err.msg);
    qu_batch all = {0};
    read_n(r, 3, &all);
    CHECK_MSG(all.n == 3, "read %zu of 3", all.n);
    if (all.n == 3) {
        char topic[128];
        snprintf(topic, sizeof topic, "%s/rt/dev1/x", g_pfx);
        const qu_field *t = field(&all.msgs[0], "topic");
        CHECK(t && t->val_len == strlen(topic) && memcmp(t->val, topic, t->val_len) == 0);
        CHECK(payload_is(&all.msgs[0], "{\"features\":[1,2]}", 18));
        const char *obj = "{\"key\":\"k\\\"1\",\"features\":\"1,2\"}";
        CHECK_MSG(payload_is(&all.msgs[1], obj, strlen(obj)), "%.*s", (int)field(&all.msgs[1], "payload")->val_len,
                  field(&all.msgs[1], "payload")->val);
        CHECK(payload_is(&all.msgs[2], bin, sizeof bin));
        CHECK(all.msgs[0].order < all.msgs[1].order && all.msgs[1].order < all.msgs[2].order);
        CHECK(all.msgs[0].deliveries == 1 && all.msgs[0].id[0]);
        CHECK(qu_ack(r, &all, &err) == MS_OK); /* acked on receipt: a no-op, not an error */
    }
    qu_batch_free(&all);
    qu_close(r);
    qu_close(s);
}

TEST(max_and_persistent_session)
{
    char in[256], id[48];
    snprintf(in, sizeof in, "%s/%s/ps", g_base, g_pfx);
    snprintf(id, sizeof id, "%s-ps", g_pfx);
    qu_opts o = qu_opts_default();
    o.consumer = id;
    qu_queue *r = NULL, *s = NULL;
    ms_error err = {{0}};
    qu_batch b = {0};
    CHECK(qu_open(in, &o, &r, &err) == MS_OK);
    CHECK(qu_read(r, 1, 0, &b, &err) == MS_OK && b.n == 0); /* the session and its subscription */
    qu_close(r);
    /* sent while no reader is connected: the broker keeps them for the session */
    CHECK(qu_open(in, NULL, &s, &err) == MS_OK);
    qu_field f[7];
    const qu_field *msgs[7];
    int nf[7];
    char txt[7][16];
    for (int i = 0; i < 7; i++) {
        snprintf(txt[i], sizeof txt[i], "m%d", i);
        f[i] = (qu_field){"json", 4, txt[i], strlen(txt[i])};
        msgs[i] = &f[i], nf[i] = 1;
    }
    CHECK_MSG(qu_send(s, NULL, msgs, nf, 7, 0, NULL, &err) == MS_OK, "%s", err.msg);
    qu_close(s);
    CHECK(qu_open(in, &o, &r, &err) == MS_OK);
    qu_batch all = {0};
    for (int tries = 0; tries < 50 && all.n == 0; tries++) { /* at most max per read */
        CHECK(qu_read(r, 3, 100, &b, &err) == MS_OK && b.n <= 3);
        all = b;
        memset(&b, 0, sizeof b);
    }
    CHECK_MSG(all.n >= 1 && payload_is(&all.msgs[0], "m0", 2), "first read %zu", all.n);
    size_t got = all.n;
    qu_batch_free(&all);
    read_n(r, 7 - got, &all);
    CHECK_MSG(got + all.n == 7, "the reopened session read %zu of 7", got + all.n);
    if (all.n) CHECK(payload_is(&all.msgs[all.n - 1], "m6", 2));
    qu_batch_free(&all);
    qu_close(r);
}

int main(void)
{
    snprintf(g_pfx, sizeof g_pfx, "ut%ld", (long)getpid());
    RUN(refusals_without_broker);
    const char *hp = getenv("MLSHIP_TEST_MQTT");
    qu_queue *q = NULL;
    ms_error err = {{0}};
    if (qu_open("mqtt://127.0.0.1/x", NULL, &q, &err) == MS_ERR_UNSUPPORTED) {
        printf("skip MQTT queue tests: built without MQTT\n");
    } else if (!hp || !*hp) {
        printf("skip MQTT queue tests: set MLSHIP_TEST_MQTT (scripts/services.sh start)\n");
    } else {
        snprintf(g_base, sizeof g_base, "mqtt://%s", hp);
        RUN(roundtrip);
        RUN(max_and_persistent_session);
    }
    qu_close(q);
    return mstest_summary();
}
