/* test_st_stream.c: the store's stream results and tickets (src/store/store.h, "stream results
 * and tickets"), the same checks on every backend: SQLite always; PostgreSQL and Redis when
 * MLSHIP_TEST_PG_URL / MLSHIP_TEST_REDIS_URL are set (scripts/services.sh start writes them to
 * build/services.env), else a skip note. Model names carry the process id and a counter, so
 * runs against a shared server do not collide. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mstest.h"
#include "store/store.h"

static const char *g_url; /* the backend under test */
static int g_seq;

static int is_redis(void) { return strncmp(g_url, "redis://", 8) == 0; }

static st_store *open_store(void)
{
    st_store *s = NULL;
    ms_error err;
    ms_status st = st_open(g_url, &s, &err);
    CHECK_MSG(st == MS_OK, "open %s: %s", g_url, err.msg);
    return s;
}

/* A name unique to this process and call: "<prefix>-<pid>-<n>". */
static void fresh_name(char *dst, size_t cap, const char *prefix)
{
    snprintf(dst, cap, "%s-%d-%d", prefix, (int)getpid(), ++g_seq);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static ms_status put1(st_store *s, const char *model, const char *key, const char *event,
                      const char *outputs, const char *error, int64_t order, ms_error *err)
{
    st_stream_row r = {model, key, event, error ? "" : "v1", outputs, error, order};
    return st_stream_put(s, &r, 1, 0, err);
}

/* ---- what the callbacks saw ---------------------------------------------------------- */

typedef struct seen {
    int calls, found;
    char outputs[256], error[256], source[16], event_id[128], run_id[128], scored_at[32];
    int outputs_null;
} seen;

static void copy_row(seen *w, const st_pred_row *row, const char *error)
{
    w->calls++;
    w->found = row != NULL;
    if (!row) return;
    w->outputs_null = row->outputs == NULL;
    snprintf(w->outputs, sizeof w->outputs, "%s", row->outputs ? row->outputs : "");
    snprintf(w->error, sizeof w->error, "%s", error ? error : "");
    snprintf(w->source, sizeof w->source, "%s", row->source ? row->source : "(null)");
    snprintf(w->event_id, sizeof w->event_id, "%s", row->event_id ? row->event_id : "");
    snprintf(w->run_id, sizeof w->run_id, "%s", row->run_id ? row->run_id : "");
    snprintf(w->scored_at, sizeof w->scored_at, "%s", row->scored_at ? row->scored_at : "");
}

static int event_cb(void *ctx, const st_pred_row *row, const char *error)
{
    copy_row(ctx, row, error);
    return 0;
}

static seen event_of(st_store *s, const char *event_id)
{
    seen w = {0};
    ms_error err;
    CHECK_MSG(st_stream_event(s, event_id, event_cb, &w, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(w.calls == 1, "event '%s': callback ran %d times", event_id, w.calls);
    return w;
}

typedef struct many {
    seen k[4];
} many;

static int latest_cb(void *ctx, size_t i, const st_pred_row *row)
{
    if (i < 4) copy_row(&((many *)ctx)->k[i], row, NULL);
    return 0;
}

static seen latest_of(st_store *s, const char *model, const char *key)
{
    many m = {0};
    const char *keys[] = {key};
    ms_error err;
    CHECK_MSG(st_pred_latest(s, model, keys, 1, latest_cb, &m, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(m.k[0].calls == 1, "latest '%s': callback ran %d times", key, m.k[0].calls);
    return m.k[0];
}

/* SQL stores: the number of per-event rows of an event, counted by the store's own SQL. */
static int qcount(void *ctx, int nc, const char *const *names, const char *const *vals)
{
    *(int *)ctx = atoi(vals[0]);
    return 0;
}

static int event_rows(st_store *s, const char *event_id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM mlship_stream_events WHERE event_id = '%s'",
             event_id);
    int n = -1;
    ms_error err;
    CHECK_MSG(st_query(s, sql, qcount, &n, &err) == MS_OK, "%s", err.msg);
    return n;
}

/* ==== bad input (store.c, the same for every backend) ===================================== */

static void expect_invalid(ms_status st, const ms_error *err, const char *needle)
{
    CHECK_MSG(st == MS_ERR_INVALID, "status %d, wanted invalid (%s)", (int)st, needle);
    CHECK_MSG(strstr(err->msg, needle) != NULL, "message '%s' does not name '%s'", err->msg,
              needle);
}

TEST(test_bad_input)
{
    st_store *s = open_store();
    if (!s) return;
    ms_error err;
    char longkey[ST_KEY_MAX + 1];
    memset(longkey, 'k', ST_KEY_MAX);
    longkey[ST_KEY_MAX] = 0;
    expect_invalid(put1(s, "", "k", "e", "{}", NULL, 1, &err), &err, "model name");
    expect_invalid(put1(s, "bad model", "k", "e", "{}", NULL, 1, &err), &err, "model name");
    expect_invalid(put1(s, "m", longkey, "e", "{}", NULL, 1, &err), &err, "key");
    expect_invalid(put1(s, "m", NULL, "e", "{}", NULL, 1, &err), &err, "key");
    expect_invalid(put1(s, "m", "k", "", "{}", NULL, 1, &err), &err, "event id");
    expect_invalid(put1(s, "m", "k", "e\n1", "{}", NULL, 1, &err), &err, "event id");
    expect_invalid(put1(s, "m", "k", "e", "{}", "boom", 1, &err), &err, "both outputs");
    expect_invalid(put1(s, "m", "k", "e", NULL, NULL, 1, &err), &err, "neither");
    expect_invalid(put1(s, "m", "k", "e", "{}", NULL, -1, &err), &err, "order");
    st_stream_row bad_version = {"m", "k", "e", "v 1", "{}", NULL, 1};
    expect_invalid(st_stream_put(s, &bad_version, 1, 0, &err), &err, "model version");
    expect_invalid(st_stream_prune(s, -1, &err), &err, "age");
    seen w = {0};
    expect_invalid(st_stream_event(s, "", event_cb, &w, &err), &err, "event id");
    const char *keys[] = {"a", NULL};
    many m = {0};
    expect_invalid(st_pred_latest(s, "m", keys, 2, latest_cb, &m, &err), &err, "key 1");
    expect_invalid(st_pred_latest(s, "m/x", keys, 1, latest_cb, &m, &err), &err, "model name");

    st_ticket t = {"tk-1", "m", "k", "e1", 0}, out;
    int created = 7, found = 7;
    st_ticket bad = t;
    bad.key[0] = 0;
    expect_invalid(st_ticket_claim(s, &bad, 1000, &out, &created, &err), &err, "key");
    bad = t;
    memset(bad.key, 'k', sizeof bad.key); /* no terminator inside the field */
    expect_invalid(st_ticket_claim(s, &bad, 1000, &out, &created, &err), &err, "key");
    bad = t;
    strcpy(bad.ticket, "tk 1");
    expect_invalid(st_ticket_claim(s, &bad, 1000, &out, &created, &err), &err, "ticket");
    bad = t;
    bad.model[0] = 0;
    expect_invalid(st_ticket_claim(s, &bad, 1000, &out, &created, &err), &err, "model name");
    expect_invalid(st_ticket_claim(s, &t, -1, &out, &created, &err), &err, "pending");
    CHECK(created == 0);
    expect_invalid(st_ticket_get(s, "", &out, &found, &err), &err, "ticket");
    CHECK(found == 0);
    expect_invalid(st_ticket_drop(s, "a b", &err), &err, "ticket");
    st_close(s);
}

/* ==== results ============================================================================ */

TEST(test_redelivery)
{
    st_store *s = open_store();
    if (!s) return;
    char model[64], ev[64];
    fresh_name(model, sizeof model, "redel");
    fresh_name(ev, sizeof ev, "ev");
    ms_error err;
    CHECK_MSG(put1(s, model, "k1", ev, "{\"y\":1}", NULL, 10, &err) == MS_OK, "%s", err.msg);
    seen first = event_of(s, ev);
    /* redelivered, scored again differently and later: the stored row is left as it is */
    sleep_ms(1100);
    CHECK_MSG(put1(s, model, "k1", ev, "{\"y\":2}", NULL, 10, &err) == MS_OK, "%s", err.msg);
    seen again = event_of(s, ev);
    CHECK(again.found && strcmp(again.outputs, "{\"y\":1}") == 0);
    CHECK_MSG(strcmp(again.scored_at, first.scored_at) == 0, "%s vs %s", again.scored_at,
              first.scored_at);
    seen l = latest_of(s, model, "k1");
    CHECK_MSG(l.found && strcmp(l.outputs, "{\"y\":1}") == 0, "latest %s", l.outputs);
    CHECK(strcmp(l.source, "stream") == 0 && strcmp(l.event_id, ev) == 0);
    if (!is_redis()) CHECK_MSG(event_rows(s, ev) == 1, "%d rows", event_rows(s, ev));
    /* the same event twice in one call: one row, the first */
    char ev2[64];
    fresh_name(ev2, sizeof ev2, "ev");
    st_stream_row two[] = {{model, "k2", ev2, "v1", "{\"y\":3}", NULL, 11},
                           {model, "k2", ev2, "v1", "{\"y\":4}", NULL, 11}};
    CHECK_MSG(st_stream_put(s, two, 2, 0, &err) == MS_OK, "%s", err.msg);
    CHECK(strcmp(event_of(s, ev2).outputs, "{\"y\":3}") == 0);
    if (!is_redis()) CHECK(event_rows(s, ev2) == 1);
    st_close(s);
}

/* Orders near 2^60 (what the Redis queue's (ms << 20) + seq gives) differ in the last digit:
 * a comparison through doubles would call them equal. */
#define BIG_ORDER ((int64_t)1780000000000 << 20)

TEST(test_newest_order_wins)
{
    st_store *s = open_store();
    if (!s) return;
    char model[64], e[4][64];
    fresh_name(model, sizeof model, "order");
    for (int i = 0; i < 4; i++) fresh_name(e[i], sizeof e[i], "ev");
    ms_error err;
    /* separate calls, newest first: the older ones finish later and must not win */
    CHECK(put1(s, model, "a", e[0], "\"a3\"", NULL, BIG_ORDER + 3, &err) == MS_OK);
    CHECK(put1(s, model, "a", e[1], "\"a1\"", NULL, BIG_ORDER + 1, &err) == MS_OK);
    CHECK(put1(s, model, "a", e[2], "\"a2\"", NULL, BIG_ORDER + 2, &err) == MS_OK);
    seen l = latest_of(s, model, "a");
    CHECK_MSG(strcmp(l.outputs, "\"a3\"") == 0 && strcmp(l.event_id, e[0]) == 0, "%s %s",
              l.outputs, l.event_id);
    /* a newer one replaces it */
    CHECK(put1(s, model, "a", e[3], "\"a4\"", NULL, BIG_ORDER + 4, &err) == MS_OK);
    CHECK(strcmp(latest_of(s, model, "a").outputs, "\"a4\"") == 0);
    /* one call, mixed order and keys */
    char f[3][64];
    for (int i = 0; i < 3; i++) fresh_name(f[i], sizeof f[i], "ev");
    st_stream_row rows[] = {{model, "b", f[0], "v1", "\"b5\"", NULL, 5},
                            {model, "b", f[1], "v2", "\"b7\"", NULL, 7},
                            {model, "b", f[2], "v1", "\"b6\"", NULL, 6}};
    CHECK_MSG(st_stream_put(s, rows, 3, 0, &err) == MS_OK, "%s", err.msg);
    CHECK(strcmp(latest_of(s, model, "b").outputs, "\"b7\"") == 0);
    /* every event keeps its own row */
    CHECK(strcmp(event_of(s, f[2]).outputs, "\"b6\"") == 0);
    CHECK(strcmp(event_of(s, e[1]).outputs, "\"a1\"") == 0);
    /* keys of another model are not this one's */
    char other[64];
    fresh_name(other, sizeof other, "order");
    CHECK(!latest_of(s, other, "b").found);
    st_close(s);
}

TEST(test_errors_per_event_only)
{
    st_store *s = open_store();
    if (!s) return;
    char model[64], ok[64], bad[64], bad2[64];
    fresh_name(model, sizeof model, "errs");
    fresh_name(ok, sizeof ok, "ev");
    fresh_name(bad, sizeof bad, "ev");
    fresh_name(bad2, sizeof bad2, "ev");
    ms_error err;
    CHECK(put1(s, model, "k", ok, "{\"p\":0.5}", NULL, 1, &err) == MS_OK);
    CHECK(put1(s, model, "k", bad, NULL, "field 'features': expected 3 numbers", 2, &err) == MS_OK);
    CHECK(put1(s, model, "k2", bad2, NULL, "no such key", 3, &err) == MS_OK);
    seen l = latest_of(s, model, "k");
    CHECK_MSG(l.found && strcmp(l.event_id, ok) == 0, "latest is %s", l.event_id);
    CHECK(!latest_of(s, model, "k2").found);
    seen e = event_of(s, bad);
    CHECK(e.found && e.outputs_null);
    CHECK_MSG(strcmp(e.error, "field 'features': expected 3 numbers") == 0, "%s", e.error);
    CHECK(strcmp(e.source, "stream") == 0 && strcmp(e.event_id, bad) == 0);
    seen o = event_of(s, ok);
    CHECK(o.found && !o.outputs_null && strcmp(o.outputs, "{\"p\":0.5}") == 0 && !o.error[0]);
    CHECK(strlen(o.scored_at) == 20 && o.scored_at[10] == 'T' && o.scored_at[19] == 'Z');
    char unknown[64];
    fresh_name(unknown, sizeof unknown, "never");
    CHECK(!event_of(s, unknown).found);
    st_close(s);
}

/* ==== latest: batch or stream ============================================================= */

static void batch_run(st_store *s, const char *model, const char *key, const char *outputs,
                      char run_id[ST_NAME_MAX])
{
    st_run run = {0};
    st_run_make_id(run.run_id, sizeof run.run_id);
    snprintf(run.model, sizeof run.model, "%s", model);
    snprintf(run.model_version, sizeof run.model_version, "b1");
    run.shard_count = 1;
    st_prediction p[] = {{key, outputs}, {"only-batch", "\"ob\""}};
    ms_error err;
    int published = 0;
    CHECK_MSG(st_run_begin(s, &run, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(st_run_write_chunk(s, run.run_id, 0, 0, p, 2, NULL, 0, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(st_run_complete(s, run.run_id, 0, 0, &published, &err) == MS_OK, "%s", err.msg);
    CHECK(published);
    snprintf(run_id, ST_NAME_MAX, "%s", run.run_id);
}

/* Until the wall clock's second changes (batch rows carry seconds). */
static void next_second(void)
{
    time_t t0 = time(NULL);
    while (time(NULL) == t0) sleep_ms(20);
}

static int lookup_cb(void *ctx, size_t i, const st_pred_row *row)
{
    copy_row(ctx, row, NULL);
    return 0;
}

TEST(test_latest_batch_vs_stream)
{
    st_store *s = open_store();
    if (!s) return;
    char m1[64], m2[64], run1[ST_NAME_MAX], run2[ST_NAME_MAX], ev1[64], ev2[64];
    fresh_name(m1, sizeof m1, "latest");
    fresh_name(m2, sizeof m2, "latest");
    fresh_name(ev1, sizeof ev1, "ev");
    fresh_name(ev2, sizeof ev2, "ev");
    ms_error err;
    /* batch first, then the stream: the stream row is newer */
    batch_run(s, m1, "a", "\"batch-a\"", run1);
    next_second();
    CHECK(put1(s, m1, "a", ev1, "\"stream-a\"", NULL, 1, &err) == MS_OK);
    many m = {0};
    const char *keys[] = {"a", "only-batch", "nowhere"};
    CHECK_MSG(st_pred_latest(s, m1, keys, 3, latest_cb, &m, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(strcmp(m.k[0].source, "stream") == 0 && strcmp(m.k[0].outputs, "\"stream-a\"") == 0
                  && strcmp(m.k[0].event_id, ev1) == 0, "%s %s", m.k[0].source, m.k[0].outputs);
    CHECK_MSG(strcmp(m.k[1].source, "batch") == 0 && strcmp(m.k[1].outputs, "\"ob\"") == 0 &&
                  strcmp(m.k[1].run_id, run1) == 0, "%s %s", m.k[1].source, m.k[1].run_id);
    CHECK(m.k[2].calls == 1 && !m.k[2].found);
    /* the batch lookup says where its rows come from */
    seen b = {0};
    CHECK(st_pred_lookup(s, m1, keys, 1, lookup_cb, &b, &err) == MS_OK);
    CHECK(b.found && strcmp(b.source, "batch") == 0 && strcmp(b.outputs, "\"batch-a\"") == 0);

    /* the stream first, then a batch run in a later second: the batch row is newer */
    CHECK(put1(s, m2, "a", ev2, "\"stream-a\"", NULL, 1, &err) == MS_OK);
    next_second();
    batch_run(s, m2, "a", "\"batch-a\"", run2);
    seen l = latest_of(s, m2, "a");
    CHECK_MSG(strcmp(l.source, "batch") == 0 && strcmp(l.outputs, "\"batch-a\"") == 0 &&
                  strcmp(l.run_id, run2) == 0, "%s %s", l.source, l.outputs);
    /* and a newer stream result takes over again */
    char ev3[64];
    fresh_name(ev3, sizeof ev3, "ev");
    next_second();
    CHECK(put1(s, m2, "a", ev3, "\"stream-a2\"", NULL, 2, &err) == MS_OK);
    CHECK(strcmp(latest_of(s, m2, "a").outputs, "\"stream-a2\"") == 0);
    st_close(s);
}

/* Redis keeps no batch runs: latest is the stream's alone. */
TEST(test_latest_stream_only)
{
    st_store *s = open_store();
    if (!s) return;
    char model[64], ev[64];
    fresh_name(model, sizeof model, "sonly");
    fresh_name(ev, sizeof ev, "ev");
    ms_error err;
    CHECK(put1(s, model, "a", ev, "\"s\"", NULL, 1, &err) == MS_OK);
    many m = {0};
    const char *keys[] = {"nowhere", "a"};
    CHECK_MSG(st_pred_latest(s, model, keys, 2, latest_cb, &m, &err) == MS_OK, "%s", err.msg);
    CHECK(m.k[0].calls == 1 && !m.k[0].found);
    CHECK(m.k[1].found && strcmp(m.k[1].source, "stream") == 0 && strcmp(m.k[1].outputs, "\"s\"") == 0);
    st_close(s);
}

/* ==== tickets ============================================================================= */

static st_ticket ticket(const char *model, const char *key, const char *event)
{
    st_ticket t = {0};
    fresh_name(t.ticket, sizeof t.ticket, "tk");
    snprintf(t.model, sizeof t.model, "%s", model);
    snprintf(t.key, sizeof t.key, "%s", key);
    snprintf(t.event_id, sizeof t.event_id, "%s", event);
    return t;
}

TEST(test_ticket_coalesce)
{
    st_store *s = open_store();
    if (!s) return;
    char model[64];
    fresh_name(model, sizeof model, "tick");
    ms_error err;
    st_ticket t1 = ticket(model, "k", "ev-a"), t2 = ticket(model, "k", "ev-b"), out;
    int created = -1;
    CHECK_MSG(st_ticket_claim(s, &t1, 60000, &out, &created, &err) == MS_OK, "%s", err.msg);
    CHECK(created == 1 && strcmp(out.ticket, t1.ticket) == 0 && out.created_ms > 0);
    /* a second trigger while the first is pending gets the first ticket */
    CHECK(st_ticket_claim(s, &t2, 60000, &out, &created, &err) == MS_OK);
    CHECK_MSG(created == 0 && strcmp(out.ticket, t1.ticket) == 0, "%d %s", created, out.ticket);
    CHECK(strcmp(out.event_id, "ev-a") == 0 && strcmp(out.key, "k") == 0);
    /* another key is another ticket */
    st_ticket t3 = ticket(model, "k-other", "ev-c");
    CHECK(st_ticket_claim(s, &t3, 60000, &out, &created, &err) == MS_OK && created == 1);
    /* once ev-a's result is stored, the next trigger makes a new ticket (an event id unique
     * to this run, so that a result of an earlier run does not count) */
    char eva[64];
    fresh_name(eva, sizeof eva, "ev");
    st_ticket t4 = ticket(model, "k2", eva), t5 = ticket(model, "k2", "ev-e");
    CHECK(st_ticket_claim(s, &t4, 60000, &out, &created, &err) == MS_OK && created == 1);
    CHECK(st_ticket_claim(s, &t5, 60000, &out, &created, &err) == MS_OK && created == 0);
    CHECK(put1(s, model, "k2", eva, "{}", NULL, 1, &err) == MS_OK);
    CHECK(st_ticket_claim(s, &t5, 60000, &out, &created, &err) == MS_OK);
    CHECK_MSG(created == 1 && strcmp(out.ticket, t5.ticket) == 0, "%d %s", created, out.ticket);
    /* an error result ends the pending window too */
    char evb[64];
    fresh_name(evb, sizeof evb, "ev");
    st_ticket t6 = ticket(model, "k3", evb), t7 = ticket(model, "k3", "ev-g");
    CHECK(st_ticket_claim(s, &t6, 60000, &out, &created, &err) == MS_OK && created == 1);
    CHECK(put1(s, model, "k3", evb, NULL, "bad", 1, &err) == MS_OK);
    CHECK(st_ticket_claim(s, &t7, 60000, &out, &created, &err) == MS_OK && created == 1);
    /* and so does time: a ticket older than pending_ms no longer coalesces */
    st_ticket t8 = ticket(model, "k4", "ev-h"), t9 = ticket(model, "k4", "ev-i");
    CHECK(st_ticket_claim(s, &t8, 60000, &out, &created, &err) == MS_OK && created == 1);
    sleep_ms(300);
    CHECK(st_ticket_claim(s, &t9, 5000, &out, &created, &err) == MS_OK && created == 0);
    CHECK(st_ticket_claim(s, &t9, 200, &out, &created, &err) == MS_OK);
    CHECK_MSG(created == 1 && strcmp(out.ticket, t9.ticket) == 0, "%d %s", created, out.ticket);
    st_close(s);
}

/* N processes, each with its own handle, claim one key at the same moment: one ticket. */
#define RACERS 8

TEST(test_ticket_race)
{
    char model[64];
    fresh_name(model, sizeof model, "race");
    int go[2], back[2];
    if (pipe(go) != 0 || pipe(back) != 0) {
        CHECK(0);
        return;
    }
    for (int i = 0; i < RACERS; i++) {
        st_ticket t = ticket(model, "hot", "ev-race");
        pid_t pid = fork();
        if (pid == 0) {
            close(go[1]);
            st_store *s = NULL;
            ms_error err;
            char line[256] = "open-failed\n";
            if (st_open(g_url, &s, &err) == MS_OK) {
                char c;
                if (read(go[0], &c, 1) != 1) _exit(2); /* wait for the start */
                st_ticket out;
                int created = 0;
                if (st_ticket_claim(s, &t, 60000, &out, &created, &err) == MS_OK)
                    snprintf(line, sizeof line, "%d %s\n", created, out.ticket);
                else
                    snprintf(line, sizeof line, "error %.200s\n", err.msg);
                st_close(s);
            }
            if (write(back[1], line, strlen(line)) < 0) _exit(3);
            _exit(0);
        }
    }
    close(go[0]);
    close(back[1]);
    sleep_ms(300); /* every child connected */
    char start[RACERS];
    memset(start, 'g', sizeof start);
    CHECK(write(go[1], start, sizeof start) == RACERS);
    close(go[1]);
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    while ((n = read(back[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    buf[len] = 0;
    close(back[0]);
    for (int i = 0; i < RACERS; i++) wait(NULL);
    int created = 0, lines = 0;
    char first[128] = "";
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        int c;
        char tk[128];
        if (sscanf(line, "%d %127s", &c, tk) != 2) {
            CHECK_MSG(0, "child: %s", line);
            continue;
        }
        created += c;
        if (!first[0]) snprintf(first, sizeof first, "%s", tk);
        CHECK_MSG(strcmp(tk, first) == 0, "tickets %s and %s for one key", first, tk);
    }
    CHECK_MSG(lines == RACERS, "%d of %d children answered", lines, RACERS);
    CHECK_MSG(created == 1, "%d tickets created", created);
}

/* Readers never see half of a put: a forked writer stores ROUNDS batches of KEYS results, every
 * row of batch r with outputs {"r":r}; meanwhile this process reads the KEYS latest rows again
 * and again, and each read must find all of them from one batch (or none before the first). */
#define KEYS 40
#define ROUNDS 60
typedef struct snap {
    int n, first, mixed;
} snap;
static int on_snap(void *ctx, size_t i, const st_pred_row *row)
{
    snap *sn = ctx;
    int r = -1;
    if (row && row->outputs) sscanf(row->outputs, "{\"r\":%d}", &r);
    if (i == 0) sn->first = r;
    else if (r != sn->first) sn->mixed = 1;
    sn->n++;
    return 0;
}

TEST(test_readers_never_see_half)
{
    char model[64];
    fresh_name(model, sizeof model, "atomic");
    char keys[KEYS][16];
    const char *kp[KEYS];
    for (int k = 0; k < KEYS; k++) snprintf(keys[k], sizeof keys[k], "k%d", k), kp[k] = keys[k];
    pid_t pid = fork();
    if (pid == 0) {
        st_store *w = NULL;
        ms_error err;
        if (st_open(g_url, &w, &err) != MS_OK) _exit(2);
        static char ev[KEYS][96], out[KEYS][24];
        st_stream_row rows[KEYS];
        for (int r = 0; r < ROUNDS; r++) {
            for (int k = 0; k < KEYS; k++) {
                snprintf(ev[k], sizeof ev[k], "%s-%d-%d", model, r, k);
                snprintf(out[k], sizeof out[k], "{\"r\":%d}", r);
                rows[k] = (st_stream_row){model, keys[k], ev[k], "v1", out[k], NULL, (int64_t)r * KEYS + k};
            }
            if (st_stream_put(w, rows, KEYS, 0, &err) != MS_OK) _exit(3);
        }
        st_close(w);
        _exit(0);
    }
    st_store *s = open_store();
    int reads = 0, mixed = 0, partial = 0, last = -1, st_ok = 1, status = 0;
    for (;;) {
        snap sn = {0, -2, 0};
        ms_error err;
        if (st_pred_latest(s, model, kp, KEYS, on_snap, &sn, &err) != MS_OK) {
            CHECK_MSG(0, "read: %s", err.msg);
            st_ok = 0;
            break;
        }
        reads++;
        mixed += sn.mixed;
        partial += sn.n != KEYS;
        if (!sn.mixed) last = sn.first;
        if (waitpid(pid, &status, WNOHANG) == pid) break;
    }
    if (st_ok) { /* one more read after the writer finished: the last batch, whole */
        snap sn = {0, -2, 0};
        ms_error err;
        CHECK(st_pred_latest(s, model, kp, KEYS, on_snap, &sn, &err) == MS_OK);
        CHECK_MSG(sn.first == ROUNDS - 1 && !sn.mixed, "after the writer: batch %d, mixed %d", sn.first, sn.mixed);
    }
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer exit %d", WEXITSTATUS(status));
    CHECK_MSG(mixed == 0 && partial == 0, "%d of %d reads saw rows of two batches, %d a row count off", mixed, reads, partial);
    CHECK_MSG(reads > 5, "only %d reads overlapped the writer (last %d)", reads, last);
    st_close(s);
}

TEST(test_ticket_reopen_drop)
{
    st_store *s = open_store();
    if (!s) return;
    char model[64];
    fresh_name(model, sizeof model, "keep");
    ms_error err;
    st_ticket t = ticket(model, "k", "ev-r"), out, got;
    int created = 0, found = 0;
    CHECK(st_ticket_claim(s, &t, 60000, &out, &created, &err) == MS_OK && created == 1);
    st_close(s);
    s = open_store(); /* a restarted server */
    if (!s) return;
    CHECK_MSG(st_ticket_get(s, t.ticket, &got, &found, &err) == MS_OK, "%s", err.msg);
    CHECK(found && strcmp(got.ticket, t.ticket) == 0 && strcmp(got.model, model) == 0 &&
          strcmp(got.key, "k") == 0 && strcmp(got.event_id, "ev-r") == 0 &&
          got.created_ms == out.created_ms);
    char unknown[64];
    fresh_name(unknown, sizeof unknown, "tk");
    CHECK(st_ticket_get(s, unknown, &got, &found, &err) == MS_OK && !found);
    /* a dropped ticket is gone, and the next trigger makes a new one */
    CHECK_MSG(st_ticket_drop(s, t.ticket, &err) == MS_OK, "%s", err.msg);
    CHECK(st_ticket_get(s, t.ticket, &got, &found, &err) == MS_OK && !found);
    CHECK(st_ticket_drop(s, t.ticket, &err) == MS_OK); /* twice is fine */
    st_ticket t2 = ticket(model, "k", "ev-s");
    CHECK(st_ticket_claim(s, &t2, 60000, &out, &created, &err) == MS_OK);
    CHECK(created == 1 && strcmp(out.ticket, t2.ticket) == 0);
    /* a ticket id already taken is refused, not silently shared */
    st_ticket dup = ticket(model, "k-dup", "ev-t");
    snprintf(dup.ticket, sizeof dup.ticket, "%s", t2.ticket);
    CHECK(st_ticket_claim(s, &dup, 60000, &out, &created, &err) != MS_OK);
    st_close(s);
}

TEST(test_prune)
{
    st_store *s = open_store();
    if (!s) return;
    char model[64], old_ev[64], new_ev[64];
    fresh_name(model, sizeof model, "prune");
    fresh_name(old_ev, sizeof old_ev, "ev");
    fresh_name(new_ev, sizeof new_ev, "ev");
    ms_error err;
    st_ticket old_t = ticket(model, "old", "ev-o"), new_t = ticket(model, "new", "ev-n"), out;
    int created, found;
    CHECK(put1(s, model, "old", old_ev, "\"o\"", NULL, 1, &err) == MS_OK);
    CHECK(st_ticket_claim(s, &old_t, 60000, &out, &created, &err) == MS_OK);
    sleep_ms(1300);
    CHECK(put1(s, model, "new", new_ev, "\"n\"", NULL, 2, &err) == MS_OK);
    CHECK(st_ticket_claim(s, &new_t, 60000, &out, &created, &err) == MS_OK);
    CHECK_MSG(st_stream_prune(s, 1, &err) == MS_OK, "%s", err.msg);
    CHECK(!event_of(s, old_ev).found);
    CHECK(!latest_of(s, model, "old").found);
    CHECK(st_ticket_get(s, old_t.ticket, &out, &found, &err) == MS_OK && !found);
    CHECK(event_of(s, new_ev).found);
    CHECK(latest_of(s, model, "new").found);
    CHECK(st_ticket_get(s, new_t.ticket, &out, &found, &err) == MS_OK && found);
    st_close(s);
}

/* Redis: ttl_s expires what a put wrote. */
TEST(test_redis_ttl)
{
    st_store *s = open_store();
    if (!s) return;
    char model[64], ev[64];
    fresh_name(model, sizeof model, "ttl");
    fresh_name(ev, sizeof ev, "ev");
    ms_error err;
    st_stream_row r = {model, "k", ev, "v1", "{}", NULL, 1};
    CHECK(st_stream_put(s, &r, 1, 1, &err) == MS_OK);
    CHECK(event_of(s, ev).found && latest_of(s, model, "k").found);
    sleep_ms(2100);
    CHECK(!event_of(s, ev).found);
    CHECK(!latest_of(s, model, "k").found);
    st_close(s);
}

/* SQLite, read-only (serve's lookup handles): a file without the stream tables reads as
 * empty and gets none created; once a writer made them, the same handle sees its rows. */
TEST(test_sqlite_readonly)
{
    char url[160];
    snprintf(url, sizeof url, "%s.ro.db", g_url);
    st_store *rw = NULL, *ro = NULL;
    ms_error err;
    CHECK_MSG(st_open(url, &rw, &err) == MS_OK, "%s", err.msg); /* creates the file */
    CHECK_MSG(st_open_flags(url, ST_OPEN_READONLY, &ro, &err) == MS_OK, "%s", err.msg);
    if (!rw || !ro) return;
    char model[64], ev[64];
    fresh_name(model, sizeof model, "ro");
    fresh_name(ev, sizeof ev, "ev");
    CHECK(!latest_of(ro, model, "k").found);
    CHECK(!event_of(ro, ev).found);
    st_ticket out;
    int found = 1;
    CHECK(st_ticket_get(ro, "tk-none", &out, &found, &err) == MS_OK && !found);
    int n = -1; /* no table was created: counting its rows fails */
    CHECK(st_query(rw, "SELECT count(*) FROM mlship_stream_events", qcount, &n, &err) ==
          MS_ERR_INVALID);
    CHECK(put1(rw, model, "k", ev, "\"w\"", NULL, 1, &err) == MS_OK);
    seen l = latest_of(ro, model, "k");
    CHECK(l.found && strcmp(l.outputs, "\"w\"") == 0 && strcmp(l.source, "stream") == 0);
    CHECK(event_of(ro, ev).found);
    CHECK(put1(ro, model, "k", "ev-ro", "{}", NULL, 2, &err) == MS_ERR_RUNTIME);
    st_close(ro);
    st_close(rw);
}

/* ==== driver ============================================================================ */

static void run_backend(const char *name, const char *url)
{
    if (!url || !*url) {
        printf("skip %s stream store tests: set MLSHIP_TEST_%s_URL (scripts/services.sh start)\n",
               name, strcmp(name, "PostgreSQL") == 0 ? "PG" : "REDIS");
        return;
    }
    const char *backend = strncmp(url, "redis", 5) == 0    ? "redis"
                          : strncmp(url, "sqlite", 6) == 0 ? "sqlite"
                                                           : "postgresql";
    if (!st_backend_available(backend)) {
        printf("skip %s stream store tests: built without it\n", name);
        return;
    }
    g_url = url;
    printf("stream store tests on %s\n", name);
    RUN(test_redelivery);
    RUN(test_newest_order_wins);
    RUN(test_errors_per_event_only);
    if (is_redis()) RUN(test_latest_stream_only);
    else RUN(test_latest_batch_vs_stream);
    RUN(test_ticket_coalesce);
    RUN(test_ticket_race);
    RUN(test_ticket_reopen_drop);
    RUN(test_readers_never_see_half);
    RUN(test_prune);
    if (is_redis()) RUN(test_redis_ttl);
    if (strncmp(url, "sqlite", 6) == 0) RUN(test_sqlite_readonly);
}

int main(void)
{
    char dir[] = "/tmp/mlship-sstream-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/store.db", dir);
    g_url = url;
    RUN(test_bad_input);
    run_backend("SQLite", url);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);

    run_backend("PostgreSQL", getenv("MLSHIP_TEST_PG_URL"));
    run_backend("Redis", getenv("MLSHIP_TEST_REDIS_URL"));
    return mstest_summary();
}
