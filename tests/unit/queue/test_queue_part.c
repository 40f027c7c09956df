/* test_queue_part.c: the partitioned queue (src/queue/queue_part.c, docs/partitions.md) on the
 * Redis server of MLSHIP_TEST_REDIS_URL (scripts/services.sh start), as N partitions on one
 * host (?partitions=N; tests/stream/test_partitions.sh runs three servers). Checked: a key's
 * partition is FNV-1a(key) mod N by the published FNV-1a constants (computed here, not by
 * bs_hash), stable, and every id names it; ids round-trip through ack, release and dead; a
 * range merges the partitions oldest first and pages; two consumers split the partitions; one
 * that stops renewing loses them after the lease, and the taker hands out the dead one's
 * pending entries first, in order, before newer ones, and the stalled one may no longer
 * publish results for that partition; a count mismatch and partitions on
 * SQLite are refused. Every test uses its own stream (pid and a counter). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mstest.h"
#include "queue/queue.h"

static char g_base[256]; /* "redis://host:port" */
static int g_ntest;

/* FNV-1a 64 from its definition (offset basis and prime of the FNV spec), for the check. */
static uint64_t fnv_ref(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static const char *url_n(int n, char *stream)
{
    static char url[512];
    snprintf(stream, 96, "pt-%d-%d", (int)getpid(), ++g_ntest);
    snprintf(url, sizeof url, "%s/%s?partitions=%d", g_base, stream, n);
    return url;
}

static qu_queue *open_c(const char *url, const char *consumer, int64_t lease_ms)
{
    qu_opts o = qu_opts_default();
    o.consumer = consumer;
    if (lease_ms) o.lease_ms = lease_ms;
    qu_queue *q = NULL;
    ms_error err = {{0}};
    ms_status st = qu_open(url, &o, &q, &err);
    CHECK_MSG(st == MS_OK, "open %s: %s", url, err.msg);
    return q;
}

static qu_field fs(const char *name, const char *val)
{
    return (qu_field){name, strlen(name), val, strlen(val)};
}

static const char *val(const qu_msg *m, const char *name, char *buf, size_t cap)
{
    buf[0] = 0;
    for (int i = 0; i < m->nfields; i++)
        if (m->fields[i].name_len == strlen(name) && !memcmp(m->fields[i].name, name, strlen(name)))
            snprintf(buf, cap, "%.*s", (int)m->fields[i].val_len, m->fields[i].val);
    return buf;
}

/* Send one message with a key and a seq; its id into id (may be NULL). */
static void send_kv(qu_queue *q, const char *key, int seq, char id[QU_ID_MAX])
{
    char s[16];
    snprintf(s, sizeof s, "%d", seq);
    qu_field f[2] = {fs("key", key), fs("seq", s)};
    const qu_field *m[1] = {f};
    int nf[1] = {2};
    char ids[1][QU_ID_MAX];
    ms_error err = {{0}};
    CHECK_MSG(qu_send(q, NULL, m, nf, 1, 0, ids, &err) == MS_OK, "send: %s", err.msg);
    if (id) strcpy(id, ids[0]);
}

static int part_of(const char *id) { return id[0] == 'p' ? atoi(id + 1) : -1; }

/* "p<i>/ms-seq": 1 when a's Redis id is below b's. */
static int id_below(const char *a, const char *b)
{
    unsigned long long am = 0, as = 0, bm = 0, bs = 0;
    const char *x = strchr(a, '/'), *y = strchr(b, '/');
    if (!x || !y || sscanf(x + 1, "%llu-%llu", &am, &as) != 2 || sscanf(y + 1, "%llu-%llu", &bm, &bs) != 2) return 0;
    return am < bm || (am == bm && as < bs);
}

TEST(routing_by_key_hash)
{
    char stream[96];
    const char *url = url_n(5, stream);
    qu_queue *q = open_c(url, "prod", 0);
    if (!q) return;
    for (int k = 0; k < 40; k++) {
        char key[32], id1[QU_ID_MAX], id2[QU_ID_MAX];
        snprintf(key, sizeof key, "user-%d", k * 7919);
        send_kv(q, key, 0, id1);
        send_kv(q, key, 1, id2);
        int want = (int)(fnv_ref(key) % 5);
        CHECK_MSG(part_of(id1) == want && part_of(id2) == want, "%s: %s %s, want p%d", key, id1, id2, want);
        CHECK(id_below(id1, id2));
    }
    /* no key: by the id field; neither: round-robin over all partitions */
    qu_field f[1] = {fs("id", "event-42")};
    const qu_field *m[1] = {f};
    int nf[1] = {1};
    char ids[1][QU_ID_MAX];
    ms_error err = {{0}};
    CHECK(qu_send(q, NULL, m, nf, 1, 0, ids, &err) == MS_OK);
    CHECK(part_of(ids[0]) == (int)(fnv_ref("event-42") % 5));
    int seen[5] = {0};
    for (int i = 0; i < 5; i++) {
        qu_field g[1] = {fs("features", "[1]")};
        const qu_field *mg[1] = {g};
        CHECK(qu_send(q, NULL, mg, nf, 1, 0, ids, &err) == MS_OK);
        if (part_of(ids[0]) >= 0 && part_of(ids[0]) < 5) seen[part_of(ids[0])]++;
    }
    for (int i = 0; i < 5; i++) CHECK_MSG(seen[i] == 1, "round-robin: partition %d got %d", i, seen[i]);
    qu_stats st = {0};
    CHECK(qu_status(q, &st, &err) == MS_OK);
    CHECK(st.npartitions == 5 && st.length == 86);
    qu_stats_free(&st);
    qu_close(q);
}

TEST(ids_round_trip)
{
    char stream[96], rs[128];
    const char *url = url_n(3, stream);
    qu_queue *q = open_c(url, "c1", 0);
    if (!q) return;
    for (int i = 0; i < 12; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 6);
        send_kv(q, key, i / 6, NULL);
    }
    qu_batch b = {0};
    ms_error err = {{0}};
    CHECK(qu_read(q, 100, 0, &b, &err) == MS_OK);
    CHECK_MSG(b.n == 12, "read %zu", b.n);
    /* within a key, its events come in order */
    int last[6] = {-1, -1, -1, -1, -1, -1};
    for (size_t i = 0; i < b.n; i++) {
        char kb[16], sb[16];
        int k = atoi(val(&b.msgs[i], "key", kb, sizeof kb) + 1), s = atoi(val(&b.msgs[i], "seq", sb, sizeof sb));
        CHECK(k >= 0 && k < 6 && s > last[k]);
        if (k >= 0 && k < 6) last[k] = s;
        CHECK(part_of(b.msgs[i].id) == (int)(fnv_ref(kb) % 3) && b.msgs[i].deliveries == 1);
    }
    /* a result stream of the queue: sent per key, merged back oldest first across partitions */
    snprintf(rs, sizeof rs, "%s:results", stream);
    for (size_t i = 0; i < b.n; i++) {
        char kb[16];
        qu_field f[1] = {fs("key", val(&b.msgs[i], "key", kb, sizeof kb))};
        const qu_field *m[1] = {f};
        int nf[1] = {1};
        CHECK(qu_send(q, rs, m, nf, 1, 0, NULL, &err) == MS_OK);
    }
    CHECK(qu_ack(q, &b, &err) == MS_OK);
    qu_stats st = {0};
    CHECK(qu_status(q, &st, &err) == MS_OK);
    CHECK_MSG(st.pending == 0 && st.lag == 0 && st.length == 12, "pending %lld lag %lld", (long long)st.pending,
              (long long)st.lag);
    qu_stats_free(&st);
    char after[QU_ID_MAX] = "";
    size_t total = 0;
    int64_t prev = -1;
    for (int page = 0; page < 30; page++) { /* one a page: every id is a cursor once */
        qu_batch r = {0};
        CHECK_MSG(qu_range(q, rs, after, 1, &r, &err) == MS_OK, "range after %s: %s", after, err.msg);
        if (r.n == 0) break;
        for (size_t i = 0; i < r.n; i++) {
            CHECK(r.msgs[i].order >= prev);
            prev = r.msgs[i].order;
        }
        total += r.n;
        strcpy(after, r.msgs[r.n - 1].id);
        qu_batch_free(&r);
    }
    CHECK_MSG(total == 12, "range paged %zu of 12", total);
    const char *bad[] = {"1700000000000-0", "p9/1-0", "p0/"};
    for (int i = 0; i < 3; i++) {
        CHECK(qu_ack_ids(q, bad + i, 1, &err) == MS_ERR_INVALID && strstr(err.msg, "not an id of this partitioned queue"));
    }
    qu_batch_free(&b);
    qu_close(q);
}

TEST(release_comes_first)
{
    char stream[96];
    const char *url = url_n(2, stream);
    qu_queue *q = open_c(url, "c1", 0);
    if (!q) return;
    send_kv(q, "alpha", 0, NULL);
    send_kv(q, "alpha", 1, NULL);
    qu_batch b = {0};
    ms_error err = {{0}};
    CHECK(qu_read(q, 1, 0, &b, &err) == MS_OK && b.n == 1);
    send_kv(q, "alpha", 2, NULL);
    const char *id = b.n ? b.msgs[0].id : "p0/0-1";
    CHECK(qu_release(q, &id, 1, &err) == MS_OK); /* seq 0 failed: it comes again, first */
    qu_batch c = {0};
    CHECK(qu_read(q, 10, 0, &c, &err) == MS_OK);
    CHECK_MSG(c.n == 3, "read %zu", c.n);
    for (size_t i = 0; i < c.n; i++) {
        char sb[16];
        CHECK_MSG(atoi(val(&c.msgs[i], "seq", sb, sizeof sb)) == (int)i, "position %zu: seq %s", i, sb);
    }
    CHECK(c.n && c.msgs[0].deliveries == 2 && strcmp(c.msgs[0].id, id) == 0);
    /* a dead letter by id goes to the partition's dead stream and acks it */
    if (c.n) CHECK(qu_dead(q, &c.msgs[0], "test", &err) == MS_OK);
    CHECK(qu_ack(q, &c, &err) == MS_OK);
    qu_stats st = {0};
    CHECK(qu_status(q, &st, &err) == MS_OK && st.dead == 1 && st.pending == 0);
    qu_stats_free(&st);
    qu_batch_free(&b);
    qu_batch_free(&c);
    qu_close(q);
}

TEST(unacked_comes_back)
{
    char stream[96];
    const char *url = url_n(2, stream);
    qu_queue *q = open_c(url, "c1", 400); /* leases renewed every 100 ms */
    if (!q) return;
    send_kv(q, "beta", 0, NULL);
    qu_batch b = {0}, c = {0};
    ms_error err = {{0}};
    CHECK(qu_read(q, 10, 0, &b, &err) == MS_OK && b.n == 1);
    /* the caller drops the batch without ack or release: after the lease (and a renewal)
     * the entry is handed out again */
    char id[QU_ID_MAX] = "";
    if (b.n) strcpy(id, b.msgs[0].id);
    qu_batch_free(&b);
    b.n = 0;
    for (int i = 0; i < 40 && c.n == 0; i++) CHECK(qu_read(q, 10, 50, &c, &err) == MS_OK);
    CHECK_MSG(c.n == 1 && !strcmp(c.msgs[0].id, id) && c.msgs[0].deliveries == 2, "got %zu", c.n);
    CHECK(qu_ack(q, &c, &err) == MS_OK);
    qu_batch_free(&c);
    qu_close(q);
}

/* Owners of the partitions per the status: how many are a's and b's. */
static void owners(qu_queue *q, int *na, int *nb, int *nfree)
{
    qu_stats st = {0};
    ms_error err = {{0}};
    *na = *nb = *nfree = 0;
    CHECK(qu_status(q, &st, &err) == MS_OK);
    for (size_t i = 0; i < st.npartitions; i++) {
        if (!strcmp(st.partitions[i].owner, "a")) (*na)++;
        else if (!strcmp(st.partitions[i].owner, "b")) (*nb)++;
        else if (!st.partitions[i].owner[0]) (*nfree)++;
    }
    qu_stats_free(&st);
}

TEST(ownership_split_and_takeover)
{
    char stream[96];
    const char *url = url_n(4, stream);
    const int64_t lease = 600;
    qu_queue *a = open_c(url, "a", lease), *b = open_c(url, "b", lease), *p = open_c(url, "prod", 0);
    if (!a || !b || !p) return;
    ms_error err = {{0}};
    qu_batch x = {0};
    /* both read for a while: a first takes all 4, then gives 2 back as b registers */
    for (int round = 0; round < 12; round++) {
        CHECK(qu_read(a, 10, 50, &x, &err) == MS_OK);
        qu_batch_free(&x);
        CHECK(qu_read(b, 10, 50, &x, &err) == MS_OK);
        qu_batch_free(&x);
    }
    int na, nb, nf;
    owners(p, &na, &nb, &nf);
    CHECK_MSG(na == 2 && nb == 2, "a owns %d, b owns %d, free %d", na, nb, nf);
    /* events for keys of b's partitions: b reads them and stops (no ack, no renewal) */
    for (int k = 0; k < 8; k++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", k);
        send_kv(p, key, 0, NULL);
    }
    qu_batch fromb = {0};
    CHECK(qu_read(b, 100, 0, &fromb, &err) == MS_OK);
    CHECK_MSG(fromb.n > 0, "b read nothing");
    for (int k = 0; k < 8; k++) { /* a later event of every key */
        char key[16];
        snprintf(key, sizeof key, "key%d", k);
        send_kv(p, key, 1, NULL);
    }
    /* a keeps reading; after b's lease runs out it owns all 4 and hands out b's pending
     * entries (seq 0, second delivery) before the seq 1 of the same key */
    int last[8];
    for (int k = 0; k < 8; k++) last[k] = -1;
    size_t got = 0, redelivered = 0;
    int ordered = 1;
    for (int round = 0; round < 60 && got < 16; round++) {
        CHECK(qu_read(a, 100, 50, &x, &err) == MS_OK);
        for (size_t i = 0; i < x.n; i++) {
            char kb[16], sb[16];
            int k = atoi(val(&x.msgs[i], "key", kb, sizeof kb) + 3), s = atoi(val(&x.msgs[i], "seq", sb, sizeof sb));
            if (k >= 0 && k < 8) {
                if (s <= last[k]) ordered = 0;
                last[k] = s;
            }
            redelivered += x.msgs[i].deliveries == 2;
        }
        got += x.n;
        CHECK(qu_ack(a, &x, &err) == MS_OK);
        qu_batch_free(&x);
    }
    owners(p, &na, &nb, &nf);
    CHECK_MSG(na == 4 && nb == 0, "after b stopped: a owns %d, b owns %d", na, nb);
    CHECK_MSG(got == 16 && ordered, "a got %zu of 16, in key order: %d", got, ordered);
    CHECK_MSG(redelivered == fromb.n, "redelivered %zu, b held %zu", redelivered, fromb.n);
    qu_stats st = {0};
    CHECK(qu_status(p, &st, &err) == MS_OK && st.pending == 0);
    qu_stats_free(&st);
    /* b, paused past its lease, may not publish results for what it held: a's are there */
    if (fromb.n) {
        char rs[128], kb[16];
        snprintf(rs, sizeof rs, "%s:results", stream);
        qu_field f[1] = {fs("key", val(&fromb.msgs[0], "key", kb, sizeof kb))};
        const qu_field *m[1] = {f};
        int one[1] = {1};
        CHECK(qu_send(b, rs, m, one, 1, 0, NULL, &err) == MS_ERR_RUNTIME &&
              strstr(err.msg, "no longer this consumer's"));
        CHECK(qu_send(a, rs, m, one, 1, 0, NULL, &err) == MS_OK);
    }
    /* b comes back: its leases are gone, its acks of taken-over ids are harmless */
    CHECK(qu_ack(b, &fromb, &err) == MS_OK);
    qu_batch_free(&fromb);
    qu_close(b);
    qu_close(a); /* a clean close releases at once */
    owners(p, &na, &nb, &nf);
    CHECK_MSG(nf == 4, "after close: %d free", nf);
    qu_close(p);
}

TEST(refusals)
{
    char stream[96];
    const char *url = url_n(3, stream);
    qu_queue *q = open_c(url, "c", 0), *r = NULL;
    ms_error err = {{0}};
    char other[512];
    snprintf(other, sizeof other, "%s/%s?partitions=4", g_base, stream);
    CHECK(qu_open(other, NULL, &r, &err) == MS_ERR_INVALID && strstr(err.msg, "has 3 partitions") && !r);
    qu_opts o = qu_opts_default();
    o.partitions = 5;
    CHECK(qu_open(url, &o, &r, &err) == MS_ERR_INVALID && strstr(err.msg, "disagree") && !r);
    o.partitions = 2;
    CHECK(qu_open("sqlite:///tmp/x.db", &o, &r, &err) == MS_ERR_INVALID &&
          strstr(err.msg, "partitions need a redis:// queue") && !r);
    CHECK(qu_open("redis://127.0.0.1:1,127.0.0.1:2,127.0.0.1:3/s?partitions=2", NULL, &r, &err) ==
              MS_ERR_INVALID && strstr(err.msg, "2 partitions over 3 hosts") && !r);
    qu_close(q);
}

int main(void)
{
    const char *r = getenv("MLSHIP_TEST_REDIS_URL");
    qu_queue *probe = NULL;
    ms_error err = {{0}};
    if (!r || !*r) {
        printf("skip partitioned queue tests: set MLSHIP_TEST_REDIS_URL (scripts/services.sh start)\n");
    } else if (qu_open("redis://127.0.0.1:1/x", NULL, &probe, &err) == MS_ERR_UNSUPPORTED) {
        printf("skip partitioned queue tests: built without Redis\n");
    } else {
        snprintf(g_base, sizeof g_base, "%s", r);
        char *slash = strchr(g_base + 8, '/');
        if (slash) *slash = 0;
        RUN(routing_by_key_hash);
        RUN(ids_round_trip);
        RUN(release_comes_first);
        RUN(unacked_comes_back);
        RUN(ownership_split_and_takeover);
        RUN(refusals);
    }
    qu_close(probe);
    return mstest_summary();
}
