/* test_store.c: the store layer (src/store/), the same checks on every backend: SQLite always;
 * PostgreSQL and Redis when MLSHIP_TEST_PG_URL / MLSHIP_TEST_REDIS_URL are set (scripts/services.sh
 * start writes them to build/services.env), else a skip note. Names carry the process id so runs
 * against a shared server do not collide. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mstest.h"
#include "store/store.h"

static const char *g_url;  /* the backend under test */
static char g_table[40];   /* feature table for this process */
static char g_model[40];   /* model name for this process */
static int g_skipped;

/* ---- raw access, to plant data the API refuses to write ------------------------------ */

/* Through the command-line clients (sqlite3, psql, redis-cli), fed on stdin, so the test
 * needs no client library headers. */
static void raw(const char *sql_or_cmd)
{
    char cmd[512];
    if (strncmp(g_url, "sqlite://", 9) == 0) {
        snprintf(cmd, sizeof cmd, "sqlite3 -bail '%s'", g_url + 9);
    } else if (strncmp(g_url, "postgres", 8) == 0) {
        snprintf(cmd, sizeof cmd, "psql -q -v ON_ERROR_STOP=1 '%s' >/dev/null", g_url);
    } else {
        char host[64] = "127.0.0.1";
        int port = 6379, db = 0;
        sscanf(g_url, "redis://%63[^:]:%d/%d", host, &port, &db);
        snprintf(cmd, sizeof cmd, "redis-cli -h %s -p %d -n %d >/dev/null", host, port, db);
    }
    FILE *f = popen(cmd, "w");
    CHECK_MSG(f != NULL, "%s", cmd);
    if (!f) return;
    fprintf(f, "%s\n", sql_or_cmd);
    CHECK_MSG(pclose(f) == 0, "%s failed on: %s", cmd, sql_or_cmd);
}

static int is_redis(void) { return strncmp(g_url, "redis://", 8) == 0; }

static st_store *open_store(void)
{
    st_store *s = NULL;
    ms_error err;
    ms_status st = st_open(g_url, &s, &err);
    CHECK_MSG(st == MS_OK, "open %s: %s", g_url, err.msg);
    return s;
}

static ms_status upsert(st_store *s, const st_features *spec, const char *const *cells,
                        size_t nrows, ms_error *err)
{
    st_upsert *u;
    ms_status st = st_upsert_begin(s, spec, &u, err);
    if (st != MS_OK) return st;
    if ((st = st_upsert_put(u, cells, nrows, err)) != MS_OK) return st;
    return st_upsert_commit(u, NULL, err);
}

/* ==== URLs and identifiers (backend-independent) ======================================== */

TEST(test_bad_urls)
{
    st_store *s;
    ms_error err;
    const char *invalid[] = {"",          "mysql://x/y",           "sqlite:",
                             "sqlite://", "sqlite:///",            "redis://h:0/0",
                             "redis://h:99999",  "redis://h:12x/0", "redis://h:6379/abc",
                             "/tmp/plain.db"};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        ms_status st = st_open(invalid[i], &s, &err);
        CHECK_MSG(st == MS_ERR_INVALID, "'%s' gave %d", invalid[i], st);
        CHECK(s == NULL);
        CHECK(strlen(err.msg) > 10);
    }
    CHECK(st_open("sqlite:///nonexistent-dir/x/y.db", &s, &err) == MS_ERR_RUNTIME);
    CHECK(strstr(err.msg, "nonexistent-dir") != NULL);
    /* nothing listens on port 1 */
    if (st_backend_available("redis")) {
        CHECK(st_open("redis://127.0.0.1:1/0", &s, &err) == MS_ERR_RUNTIME);
        CHECK(strstr(err.msg, "cannot connect") != NULL);
    }
    if (st_backend_available("postgresql")) {
        CHECK(st_open("postgresql://nobody@127.0.0.1:1/none", &s, &err) == MS_ERR_RUNTIME);
        CHECK(strstr(err.msg, "cannot connect") != NULL);
    }
    /* a file that is not a database */
    char path[] = "/tmp/mlship-notdb-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "this is not a sqlite database, not at all, no.....\n", 51) == 51);
    close(fd);
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s", path);
    CHECK(st_open(url, &s, &err) != MS_OK);
    unlink(path);
}

TEST(test_identifiers)
{
    ms_error err;
    CHECK(bs_check_ident("table", "customer_features", &err) == MS_OK);
    CHECK(bs_check_ident("table", "_t9", &err) == MS_OK);
    const char *bad[] = {"", "9t", "a-b", "a b", "t\"; DROP TABLE x; --", "a.b", "é",
                         "a23456789012345678901234567890123456789012345678901234567890abcd"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(bs_check_ident("table", bad[i], &err) == MS_ERR_INVALID, "'%s'", bad[i]);
        CHECK(strstr(err.msg, "invalid table name") != NULL);
    }
    CHECK(bs_check_ident("table", NULL, &err) == MS_ERR_INVALID);

    st_store *s;
    CHECK(st_open("sqlite::memory:", &s, &err) == MS_OK);
    const char *cols[] = {"f0", "f1; DROP"};
    st_features spec = {"t", "id", cols, 2};
    float x[2];
    uint8_t found[1];
    const char *keys[] = {"a"};
    CHECK(st_features_fetch(s, &spec, keys, 1, x, found, &err) == MS_ERR_INVALID);
    CHECK(strstr(err.msg, "f1; DROP") != NULL);
    st_upsert *u;
    CHECK(st_upsert_begin(s, &spec, &u, &err) == MS_ERR_INVALID);
    const char *dup[] = {"f0", "f0"};
    st_features spec2 = {"t", "id", dup, 2};
    CHECK(st_upsert_begin(s, &spec2, &u, &err) == MS_ERR_INVALID);
    CHECK(strstr(err.msg, "twice") != NULL);
    const char *keycol[] = {"id"};
    st_features spec3 = {"t", "id", keycol, 1};
    CHECK(st_upsert_begin(s, &spec3, &u, &err) == MS_ERR_INVALID);
    /* run ids and model names */
    st_run run = {.run_id = "r 1", .model = "m", .model_version = "1", .shard_count = 1};
    CHECK(st_run_begin(s, &run, &err) == MS_ERR_INVALID);
    snprintf(run.run_id, sizeof run.run_id, "r1");
    snprintf(run.model, sizeof run.model, "m/../x");
    CHECK(st_run_begin(s, &run, &err) == MS_ERR_INVALID);
    snprintf(run.model, sizeof run.model, "m");
    run.shard = 1;
    CHECK(st_run_begin(s, &run, &err) == MS_ERR_INVALID);
    st_close(s);
}

TEST(test_run_ids)
{
    char a[64], b[64];
    st_run_make_id(a, sizeof a);
    st_run_make_id(b, sizeof b);
    CHECK(strlen(a) == 23);
    CHECK(strcmp(a, b) != 0);
}

/* ==== features (every backend) ========================================================== */

TEST(test_features_roundtrip)
{
    st_store *s = open_store();
    if (!s) return;
    ms_error err;
    const char *cols[] = {"f0", "f1", "f2"};
    st_features spec = {g_table, "id", cols, 3};
    const char *cells[] = {
        "c_1", "1.5", "2",    "-3e2", /* */
        "c_2", "0",   "",     "4.25", /* f1 missing */
        "c_3", "7",   "nan",  " 8 ",  /* spaces are fine */
        "c\"4\\", "1", "2",   "3",    /* quotes in keys travel as data */
    };
    size_t n = 0;
    st_upsert *u;
    CHECK_MSG(st_upsert_begin(s, &spec, &u, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(st_upsert_put(u, cells, 4, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(st_upsert_commit(u, &n, &err) == MS_OK, "%s", err.msg);
    CHECK(n == 4);

    const char *keys[] = {"c_2", "nope", "c_1", "c_3", "c\"4\\", "c_1"};
    float x[6 * 3];
    uint8_t found[6];
    CHECK_MSG(st_features_fetch(s, &spec, keys, 6, x, found, &err) == MS_OK, "%s", err.msg);
    CHECK(found[0] && !found[1] && found[2] && found[3] && found[4] && found[5]);
    CHECK_NEAR(x[0], 0, 0);
    CHECK(isnan(x[1]));
    CHECK_NEAR(x[2], 4.25, 0);
    CHECK(isnan(x[3]) && isnan(x[4]) && isnan(x[5]));
    CHECK_NEAR(x[6], 1.5, 0);
    CHECK_NEAR(x[7], 2, 0);
    CHECK_NEAR(x[8], -300, 0);
    CHECK_NEAR(x[9], 7, 0);
    CHECK(isnan(x[10]));
    CHECK_NEAR(x[11], 8, 0);
    CHECK_NEAR(x[14], 3, 0);
    CHECK_NEAR(x[15], 1.5, 0);

    /* columns in another order, a subset */
    const char *rev[] = {"f2", "f0"};
    st_features spec_rev = {g_table, "id", rev, 2};
    CHECK(st_features_fetch(s, &spec_rev, keys + 2, 1, x, found, &err) == MS_OK);
    CHECK_NEAR(x[0], -300, 0);
    CHECK_NEAR(x[1], 1.5, 0);

    /* upsert: update one row, add one, add a column */
    const char *cols2[] = {"f1", "f3"};
    st_features spec2 = {g_table, "id", cols2, 2};
    const char *cells2[] = {"c_1", "20", "30", "c_9", "1", "2", "c_9", "5", "6"};
    CHECK_MSG(upsert(s, &spec2, cells2, 3, &err) == MS_OK, "%s", err.msg);
    const char *all[] = {"f0", "f1", "f2", "f3"};
    st_features spec_all = {g_table, "id", all, 4};
    const char *k2[] = {"c_1", "c_9"};
    CHECK_MSG(st_features_fetch(s, &spec_all, k2, 2, x, found, &err) == MS_OK, "%s", err.msg);
    CHECK(found[0] && found[1]);
    CHECK_NEAR(x[0], 1.5, 0); /* untouched column kept */
    CHECK_NEAR(x[1], 20, 0);
    CHECK_NEAR(x[2], -300, 0);
    CHECK_NEAR(x[3], 30, 0);
    CHECK(isnan(x[4]) && isnan(x[6])); /* c_9 only has f1, f3; the later duplicate wins */
    CHECK_NEAR(x[5], 5, 0);
    CHECK_NEAR(x[7], 6, 0);

    /* an empty batch and an unknown column */
    CHECK(st_features_fetch(s, &spec, keys, 0, x, found, &err) == MS_OK);
    if (!is_redis()) {
        const char *missing[] = {"f0", "zz"};
        st_features spec_m = {g_table, "id", missing, 2};
        CHECK(st_features_fetch(s, &spec_m, keys, 1, x, found, &err) == MS_ERR_INVALID);
        CHECK_MSG(strstr(err.msg, "zz") != NULL, "%s", err.msg);
        st_features spec_t = {"no_such_table", "id", cols, 3};
        CHECK(st_features_fetch(s, &spec_t, keys, 1, x, found, &err) == MS_ERR_INVALID);
        CHECK_MSG(strstr(err.msg, "no_such_table") != NULL, "%s", err.msg);
    }
    st_close(s);
}

TEST(test_features_bad_stored_value)
{
    st_store *s = open_store();
    if (!s) return;
    ms_error err;
    char cmd[256];
    if (strncmp(g_url, "sqlite", 6) == 0)
        snprintf(cmd, sizeof cmd, "INSERT INTO \"%s\" (id, f0, f1, f2) VALUES ('bad', 1, 'abc', 2);",
                 g_table);
    else if (is_redis())
        snprintf(cmd, sizeof cmd, "HSET %s:bad id bad f0 1 f1 abc f2 2", g_table);
    else /* PostgreSQL columns are numeric: plant text in a text table */
        snprintf(cmd, sizeof cmd,
                 "CREATE TABLE \"%s_txt\" (id text PRIMARY KEY, f0 text, f1 text, f2 text);"
                 "INSERT INTO \"%s_txt\" VALUES ('bad', '1', 'abc', '2');",
                 g_table, g_table);
    raw(cmd);
    char table[80];
    snprintf(table, sizeof table, "%s%s", g_table,
             strncmp(g_url, "postgres", 8) == 0 ? "_txt" : "");
    const char *cols[] = {"f0", "f1", "f2"};
    st_features spec = {table, "id", cols, 3};
    const char *keys[] = {"c_1", "bad"};
    float x[6];
    uint8_t found[2];
    CHECK(st_features_fetch(s, &spec, keys, 2, x, found, &err) == MS_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "'bad'") && strstr(err.msg, "'f1'") && strstr(err.msg, "abc"), "%s",
              err.msg);
    st_close(s);
}

TEST(test_features_atomic_upsert)
{
    st_store *s = open_store();
    if (!s) return;
    ms_error err;
    const char *cols[] = {"f0", "f1", "f2"};
    st_features spec = {g_table, "id", cols, 3};
    const char *keys[] = {"c_1", "c_new"};
    float before[6], after[6];
    uint8_t fb[2], fa[2];
    CHECK(st_features_fetch(s, &spec, keys, 2, before, fb, &err) == MS_OK);
    CHECK(fb[0] && !fb[1]);

    /* a bad value in the batch: nothing of the batch is written (every backend) */
    const char *bad[] = {"c_1", "100", "100", "100", "c_new", "1", "x1", "1"};
    st_upsert *u;
    CHECK(st_upsert_begin(s, &spec, &u, &err) == MS_OK);
    CHECK(st_upsert_put(u, bad, 2, &err) == MS_ERR_INVALID); /* aborts and frees u */
    CHECK_MSG(strstr(err.msg, "c_new") && strstr(err.msg, "x1"), "%s", err.msg);
    /* an empty key */
    const char *nokey[] = {"", "1", "2", "3"};
    CHECK(st_upsert_begin(s, &spec, &u, &err) == MS_OK);
    CHECK(st_upsert_put(u, nokey, 1, &err) == MS_ERR_INVALID);

    if (!is_redis()) {
        /* SQL: a good batch, then a failing one: the whole upsert is undone */
        const char *good[] = {"c_1", "100", "100", "100", "c_new", "1", "1", "1"};
        CHECK(st_upsert_begin(s, &spec, &u, &err) == MS_OK);
        CHECK(st_upsert_put(u, good, 2, &err) == MS_OK);
        /* meanwhile another reader sees the old rows */
        st_store *r = open_store();
        if (r) {
            CHECK_MSG(st_features_fetch(r, &spec, keys, 2, after, fa, &err) == MS_OK, "%s",
                      err.msg);
            CHECK(fa[0] && !fa[1] && after[0] == before[0]);
            st_close(r);
        }
        CHECK(st_upsert_put(u, bad, 2, &err) == MS_ERR_INVALID);
        /* and an explicit abort */
        CHECK(st_upsert_begin(s, &spec, &u, &err) == MS_OK);
        CHECK(st_upsert_put(u, good, 2, &err) == MS_OK);
        st_upsert_abort(u);
        /* a new table created inside an aborted upsert disappears too */
        char t2[80];
        snprintf(t2, sizeof t2, "%s_aborted", g_table);
        st_features spec2 = {t2, "id", cols, 3};
        CHECK(st_upsert_begin(s, &spec2, &u, &err) == MS_OK);
        CHECK(st_upsert_put(u, good, 2, &err) == MS_OK);
        st_upsert_abort(u);
        CHECK(st_features_fetch(s, &spec2, keys, 1, after, fa, &err) == MS_ERR_INVALID);
    }
    CHECK(st_features_fetch(s, &spec, keys, 2, after, fa, &err) == MS_OK);
    CHECK(fa[0] && !fa[1]);
    CHECK(memcmp(before, after, 3 * sizeof(float)) == 0);
    st_close(s);
}

TEST(test_features_big_batch)
{
    st_store *s = open_store();
    if (!s) return;
    ms_error err;
    enum { N = 5000, C = 8 };
    const char *cols[C] = {"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"};
    char table[80];
    snprintf(table, sizeof table, "%s_big", g_table);
    st_features spec = {table, "id", cols, C};
    static char text[N][C + 1][16];
    static const char *cells[N * (C + 1)];
    for (int r = 0; r < N; r++) {
        snprintf(text[r][0], 16, "k%d", r);
        cells[r * (C + 1)] = text[r][0];
        for (int c = 0; c < C; c++) {
            snprintf(text[r][c + 1], 16, "%d.5", r * 10 + c);
            cells[r * (C + 1) + c + 1] = text[r][c + 1];
        }
    }
    st_upsert *u;
    CHECK_MSG(st_upsert_begin(s, &spec, &u, &err) == MS_OK, "%s", err.msg);
    for (int r = 0; r < N; r += 1000)
        CHECK_MSG(st_upsert_put(u, cells + (size_t)r * (C + 1), 1000, &err) == MS_OK, "%s", err.msg);
    size_t n;
    CHECK_MSG(st_upsert_commit(u, &n, &err) == MS_OK, "%s", err.msg);
    CHECK(n == N);
    static const char *keys[N];
    static float x[N * C];
    static uint8_t found[N];
    for (int r = 0; r < N; r++) keys[r] = text[N - 1 - r][0];
    CHECK_MSG(st_features_fetch(s, &spec, keys, N, x, found, &err) == MS_OK, "%s", err.msg);
    int bad = 0;
    for (int r = 0; r < N; r++) {
        int src = N - 1 - r;
        if (!found[r]) bad++;
        for (int c = 0; c < C; c++)
            if (x[r * C + c] != (float)(src * 10 + c + 0.5)) bad++;
    }
    CHECK_MSG(bad == 0, "%d wrong values", bad);
    st_close(s);
}

/* ==== runs and predictions (SQL backends) =============================================== */

typedef struct seen {
    int n;
    char keys[16][32];
    char outputs[16][64];
    char run[16][64];
    int found[16];
} seen;

static int collect(void *ctx, size_t i, const st_pred_row *row)
{
    seen *s = ctx;
    if (s->n >= 16) return 1;
    s->found[s->n] = row != NULL;
    if (row) {
        snprintf(s->keys[s->n], 32, "%s", row->key);
        snprintf(s->outputs[s->n], 64, "%s", row->outputs);
        snprintf(s->run[s->n], 64, "%s", row->run_id);
    }
    s->n++;
    return 0;
}

static void begin(st_store *s, const char *run_id, const char *model, int shard, int count)
{
    ms_error err;
    st_run r = {.shard = shard, .shard_count = count};
    snprintf(r.run_id, sizeof r.run_id, "%s", run_id);
    snprintf(r.model, sizeof r.model, "%s", model);
    snprintf(r.model_version, sizeof r.model_version, "3");
    snprintf(r.input_fingerprint, sizeof r.input_fingerprint, "sha256:abc");
    CHECK_MSG(st_run_begin(s, &r, &err) == MS_OK, "%s", err.msg);
}

static void chunk(st_store *s, const char *run_id, int shard, int64_t c, const char *k1,
                  const char *out1, const char *k2, const char *out2)
{
    ms_error err;
    st_prediction p[2] = {{k1, out1}, {k2, out2}};
    st_reject rj = {c * 10 + 2, "missing column f3"};
    CHECK_MSG(st_run_write_chunk(s, run_id, shard, c, p, 2, &rj, 1, &err) == MS_OK, "%s",
              err.msg);
}

static void lookup(st_store *s, const char *model, seen *out)
{
    ms_error err;
    const char *keys[] = {"a", "b", "c", "zz"};
    memset(out, 0, sizeof *out);
    CHECK_MSG(st_pred_lookup(s, model, keys, 4, collect, out, &err) == MS_OK, "%s", err.msg);
    CHECK(out->n == 4);
}

static int count_rejects(void *ctx, int32_t shard, int64_t line, const char *reason)
{
    (*(int *)ctx)++;
    return 0;
}

static int count_runs(void *ctx, const st_run *run)
{
    (*(int *)ctx)++;
    return 0;
}

/* st_run_keys callback: append the (one-letter) key to a string */
static int append_key(void *ctx, const char *key)
{
    char *b = ctx;
    size_t n = strlen(b);
    if (n + strlen(key) < 63) strcat(b, key);
    return 0;
}

/* s's characters, sorted, are `want` (st_run_keys gives no order) */
static int sorted_chars(const char *s, const char *want)
{
    char t[64];
    snprintf(t, sizeof t, "%s", s);
    size_t n = strlen(t);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
            char c = t[j];
            t[j] = t[j - 1];
            t[j - 1] = c;
        }
    return strcmp(t, want) == 0;
}

TEST(test_predictions)
{
    st_store *s = open_store();
    if (!s) return;
    ms_error err;
    char r1[64], r2[64], r3[64];
    snprintf(r1, sizeof r1, "%s-r1", g_model);
    snprintf(r2, sizeof r2, "%s-r2", g_model);
    snprintf(r3, sizeof r3, "%s-r3", g_model);
    seen sn;

    if (is_redis()) {
        st_run r = {.shard_count = 1};
        snprintf(r.run_id, sizeof r.run_id, "x");
        snprintf(r.model, sizeof r.model, "m");
        snprintf(r.model_version, sizeof r.model_version, "1");
        CHECK(st_run_begin(s, &r, &err) == MS_ERR_UNSUPPORTED);
        CHECK(strstr(err.msg, "redis") != NULL);
        CHECK(st_pred_lookup(s, "m", NULL, 0, collect, &sn, &err) == MS_ERR_UNSUPPORTED);
        CHECK(st_query(s, "SELECT 1", NULL, NULL, &err) == MS_ERR_UNSUPPORTED);
        CHECK(st_run_keys(s, "x", append_key, NULL, &err) == MS_ERR_UNSUPPORTED);
        st_close(s);
        return;
    }

    /* nothing published yet */
    lookup(s, g_model, &sn);
    CHECK(!sn.found[0] && !sn.found[3]);

    begin(s, r1, g_model, 0, 1);
    st_run again = {.shard_count = 1};
    snprintf(again.run_id, sizeof again.run_id, "%s", r1);
    snprintf(again.model, sizeof again.model, "%s", g_model);
    snprintf(again.model_version, sizeof again.model_version, "3");
    CHECK(st_run_begin(s, &again, &err) == MS_ERR_INVALID);
    CHECK(strstr(err.msg, "already exists") != NULL);

    chunk(s, r1, 0, 0, "a", "{\"p\":0.1}", "b", "{\"p\":0.2}");
    /* out of order, and a chunk written twice, are refused without writing */
    st_prediction p = {"c", "{}"};
    CHECK(st_run_write_chunk(s, r1, 0, 2, &p, 1, NULL, 0, &err) == MS_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "out of order") != NULL, "%s", err.msg);
    CHECK(st_run_write_chunk(s, r1, 0, 0, &p, 1, NULL, 0, &err) == MS_ERR_INVALID);
    CHECK(st_run_write_chunk(s, "no-such-run", 0, 0, &p, 1, NULL, 0, &err) == MS_ERR_INVALID);
    chunk(s, r1, 0, 1, "c", "{\"p\":0.3}", "c", "{\"p\":0.33}"); /* duplicate: last wins */

    /* the keys committed so far, for a resumed job's duplicate check (c was written twice:
     * SQLite keeps both rows, PostgreSQL's primary key one) */
    char keys_seen[64] = "";
    CHECK_MSG(st_run_keys(s, r1, append_key, keys_seen, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(sorted_chars(keys_seen, "abcc") || sorted_chars(keys_seen, "abc"), "%s", keys_seen);
    CHECK(st_run_keys(s, "no-such-run", append_key, keys_seen, &err) == MS_ERR_INVALID);
    CHECK(st_run_keys(s, "bad run id!", append_key, keys_seen, &err) == MS_ERR_INVALID);

    /* running: still invisible */
    lookup(s, g_model, &sn);
    CHECK(!sn.found[0]);
    st_run run;
    int found;
    CHECK(st_run_get(s, r1, 0, &run, &found, &err) == MS_OK && found);
    CHECK(run.status == ST_RUN_RUNNING && run.last_chunk == 1);
    CHECK(run.rows_scored == 4 && run.rows_rejected == 2);
    CHECK(strcmp(run.input_fingerprint, "sha256:abc") == 0);
    CHECK(strlen(run.started_at) == 20 && run.finished_at[0] == 0);
    CHECK(st_run_latest(s, g_model, 0, &run, &found, &err) == MS_OK && found);
    CHECK(strcmp(run.run_id, r1) == 0);

    int published = 0;
    CHECK_MSG(st_run_complete(s, r1, 0, 3, &published, &err) == MS_OK, "%s", err.msg);
    CHECK(published == 1);
    lookup(s, g_model, &sn);
    CHECK(sn.found[0] && sn.found[1] && sn.found[2] && !sn.found[3]);
    CHECK(strcmp(sn.outputs[0], "{\"p\":0.1}") == 0);
    CHECK(strcmp(sn.outputs[2], "{\"p\":0.33}") == 0);
    CHECK(strcmp(sn.run[1], r1) == 0);
    CHECK(st_run_get(s, r1, 0, &run, &found, &err) == MS_OK);
    CHECK(run.status == ST_RUN_PUBLISHED && run.finished_at[0]);
    /* writing to a complete run is refused */
    CHECK(st_run_write_chunk(s, r1, 0, 2, &p, 1, NULL, 0, &err) == MS_ERR_INVALID);

    /* run 2: readers keep r1 until r2 completes */
    begin(s, r2, g_model, 0, 1);
    chunk(s, r2, 0, 0, "a", "{\"p\":0.9}", "c", "{\"p\":0.8}");
    lookup(s, g_model, &sn);
    CHECK(strcmp(sn.outputs[0], "{\"p\":0.1}") == 0 && sn.found[1]);
    CHECK(st_run_publish(s, r2, &err) == MS_ERR_INVALID); /* not complete */
    CHECK(strstr(err.msg, "not complete") != NULL);
    CHECK(st_run_complete(s, r2, 0, 3, &published, &err) == MS_OK && published);
    lookup(s, g_model, &sn);
    CHECK(strcmp(sn.outputs[0], "{\"p\":0.9}") == 0 && !sn.found[1]);
    CHECK(st_run_get(s, r1, 0, &run, &found, &err) == MS_OK && run.status == ST_RUN_COMPLETE);

    /* scan: the published run, in key order */
    memset(&sn, 0, sizeof sn);
    CHECK(st_pred_scan(s, g_model, collect, &sn, &err) == MS_OK);
    CHECK(sn.n == 2 && strcmp(sn.keys[0], "a") == 0 && strcmp(sn.keys[1], "c") == 0);

    /* roll back to r1 */
    CHECK_MSG(st_run_publish(s, r1, &err) == MS_OK, "%s", err.msg);
    lookup(s, g_model, &sn);
    CHECK(strcmp(sn.outputs[0], "{\"p\":0.1}") == 0 && sn.found[1]);

    /* a failed run is never published */
    begin(s, r3, g_model, 0, 1);
    chunk(s, r3, 0, 0, "a", "{\"p\":0.5}", "b", "{\"p\":0.5}");
    CHECK(st_run_fail(s, r3, 0, &err) == MS_OK);
    CHECK(st_run_complete(s, r3, 0, 3, &published, &err) == MS_ERR_INVALID && !published);
    CHECK(st_run_publish(s, r3, &err) == MS_ERR_INVALID);
    int nrej = 0;
    CHECK(st_run_rejects(s, r3, count_rejects, &nrej, &err) == MS_OK && nrej == 1);
    lookup(s, g_model, &sn);
    CHECK(strcmp(sn.outputs[0], "{\"p\":0.1}") == 0);

    /* keep 1: the published r1 stays, plus the newest other (r3); r2 goes */
    CHECK(st_runs_prune(s, g_model, 1, &err) == MS_OK);
    CHECK(st_run_get(s, r2, 0, &run, &found, &err) == MS_OK && !found);
    CHECK(st_run_get(s, r1, 0, &run, &found, &err) == MS_OK && found);
    CHECK(st_run_get(s, r3, 0, &run, &found, &err) == MS_OK && found);
    nrej = 0;
    CHECK(st_run_rejects(s, r2, count_rejects, &nrej, &err) == MS_OK && nrej == 0);
    int nruns = 0;
    CHECK(st_run_list(s, g_model, count_runs, &nruns, &err) == MS_OK && nruns == 2);
    lookup(s, g_model, &sn);
    CHECK(sn.found[0] && strcmp(sn.run[0], r1) == 0);
    st_close(s);
}

TEST(test_predictions_shards)
{
    st_store *s = open_store();
    if (!s || is_redis()) {
        st_close(s);
        return;
    }
    ms_error err;
    char model[80], run_id[80];
    snprintf(model, sizeof model, "%s-sh", g_model);
    snprintf(run_id, sizeof run_id, "%s-sharded", g_model);
    for (int k = 0; k < 3; k++) begin(s, run_id, model, k, 3);
    st_run bad = {.shard = 0, .shard_count = 2};
    snprintf(bad.run_id, sizeof bad.run_id, "%s", run_id);
    snprintf(bad.model, sizeof bad.model, "%s", model);
    snprintf(bad.model_version, sizeof bad.model_version, "3");
    bad.shard = 1;
    CHECK(st_run_begin(s, &bad, &err) == MS_ERR_INVALID);
    chunk(s, run_id, 0, 0, "a", "{}", "d", "{}");
    chunk(s, run_id, 1, 0, "b", "{}", "e", "{}");
    chunk(s, run_id, 2, 0, "c", "{}", "f", "{}");
    int published = 0;
    CHECK(st_run_complete(s, run_id, 2, 3, &published, &err) == MS_OK && !published);
    CHECK(st_run_complete(s, run_id, 0, 3, &published, &err) == MS_OK && !published);
    seen sn;
    lookup(s, model, &sn);
    CHECK(!sn.found[0]);
    CHECK(st_run_complete(s, run_id, 1, 3, &published, &err) == MS_OK && published);
    CHECK(st_run_complete(s, run_id, 1, 3, &published, &err) == MS_OK && !published); /* again */
    lookup(s, model, &sn);
    CHECK(sn.found[0] && sn.found[1] && sn.found[2] && !sn.found[3]);
    memset(&sn, 0, sizeof sn);
    CHECK(st_pred_scan(s, model, collect, &sn, &err) == MS_OK && sn.n == 6);
    st_close(s);
}

typedef struct qrows {
    int n;
    char first[64];
} qrows;

static int qrow(void *ctx, int ncols, const char *const *names, const char *const *values)
{
    qrows *q = ctx;
    if (q->n++ == 0) snprintf(q->first, sizeof q->first, "%s=%s", names[0], values[0]);
    return 0;
}

TEST(test_query)
{
    st_store *s = open_store();
    if (!s || is_redis()) {
        st_close(s);
        return;
    }
    ms_error err;
    char sql[256];
    qrows q = {0};
    snprintf(sql, sizeof sql, "SELECT id, f0 FROM \"%s\" WHERE id LIKE 'c\\_%%' ESCAPE '\\'"
                              " ORDER BY id", g_table);
    CHECK_MSG(st_query(s, sql, qrow, &q, &err) == MS_OK, "%s", err.msg);
    CHECK_MSG(q.n >= 3 && strcmp(q.first, "id=c_1") == 0, "%d %s", q.n, q.first);
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", g_table);
    CHECK(st_query(s, sql, qrow, &q, &err) != MS_OK);
    CHECK(st_query(s, "SELECT 1; SELECT 2", qrow, &q, &err) != MS_OK);
    CHECK(st_query(s, "SELEKT", qrow, &q, &err) == MS_ERR_INVALID);
    st_close(s);
}

/* ==== driver ============================================================================ */

static void run_backend(const char *name, const char *url)
{
    if (!url || !*url) {
        printf("skip %s store tests: set MLSHIP_TEST_%s_URL (scripts/services.sh start)\n", name,
               strcmp(name, "PostgreSQL") == 0 ? "PG" : "REDIS");
        g_skipped++;
        return;
    }
    const char *backend = strncmp(url, "redis", 5) == 0    ? "redis"
                          : strncmp(url, "sqlite", 6) == 0 ? "sqlite"
                                                           : "postgresql";
    if (!st_backend_available(backend)) {
        printf("skip %s store tests: built without it\n", name);
        g_skipped++;
        return;
    }
    g_url = url;
    printf("store tests on %s\n", name);
    RUN(test_features_roundtrip);
    RUN(test_features_bad_stored_value);
    RUN(test_features_atomic_upsert);
    RUN(test_features_big_batch);
    RUN(test_predictions);
    RUN(test_predictions_shards);
    RUN(test_query);
}

int main(void)
{
    snprintf(g_table, sizeof g_table, "feat_%d", (int)getpid());
    snprintf(g_model, sizeof g_model, "model-%d", (int)getpid());
    RUN(test_bad_urls);
    RUN(test_identifiers);
    RUN(test_run_ids);

    char dir[] = "/tmp/mlship-store-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/store.db", dir); /* /tmp/...: three slashes */
    run_backend("SQLite", url);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);

    run_backend("PostgreSQL", getenv("MLSHIP_TEST_PG_URL"));
    run_backend("Redis", getenv("MLSHIP_TEST_REDIS_URL"));
    return mstest_summary();
}
