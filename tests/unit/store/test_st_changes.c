/* test_st_changes.c: feature change numbers (src/store/store.h, "feature changes"): every
 * upsert numbers the rows it writes after the table's counter, a reader resuming from the last
 * number it saw gets each later write exactly once (in pages too), values and NULLs come back
 * as written, the reserved column names are refused, and Redis answers MS_ERR_UNSUPPORTED.
 * SQLite always; PostgreSQL when MLSHIP_TEST_PG_URL is set (else a skip note). Table names
 * carry the process id, so runs against a shared server do not collide. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mstest.h"
#include "store/store.h"

static const char *g_url;
static char g_table[64];

typedef struct got {
    int header, n;
    char key_col[64], cols[4][64];
    int ncols;
    char keys[16][16];
    double v[16][2];
    int64_t change[16], updated[16];
} got;

static int collect(void *ctx, const char *key_col, const char *const *cols, int n, const st_change_row *row)
{
    got *g = ctx;
    if (!row) {
        g->header++;
        snprintf(g->key_col, sizeof g->key_col, "%s", key_col);
        g->ncols = n;
        for (int i = 0; i < n && i < 4; i++) snprintf(g->cols[i], sizeof g->cols[i], "%s", cols[i]);
        return 0;
    }
    if (g->n == 16) return 1;
    snprintf(g->keys[g->n], sizeof g->keys[0], "%s", row->key);
    g->v[g->n][0] = row->values[0];
    g->v[g->n][1] = n > 1 ? row->values[1] : NAN;
    g->change[g->n] = row->change;
    g->updated[g->n] = row->updated_ms;
    g->n++;
    return 0;
}

static void load(st_store *s, const char *const *cols, int ncols, const char *const *cells, size_t nrows)
{
    st_features spec = {g_table, "id", cols, ncols};
    st_upsert *u = NULL;
    ms_error err;
    ms_status st = st_upsert_begin(s, &spec, &u, &err);
    CHECK_MSG(st == MS_OK, "begin: %s", err.msg);
    if (st != MS_OK) return;
    st = st_upsert_put(u, cells, nrows, &err);
    CHECK_MSG(st == MS_OK, "put: %s", err.msg);
    if (st != MS_OK) return;
    size_t w;
    st = st_upsert_commit(u, &w, &err);
    CHECK_MSG(st == MS_OK, "commit: %s", err.msg);
}

static got changes(st_store *s, int64_t since, size_t limit)
{
    got g;
    memset(&g, 0, sizeof g);
    ms_error err;
    ms_status st = st_features_changes(s, g_table, since, limit, collect, &g, &err);
    CHECK_MSG(st == MS_OK, "changes since %lld: %s", (long long)since, err.msg);
    return g;
}

TEST(test_cursor)
{
    st_store *s = NULL;
    ms_error err;
    if (st_open(g_url, &s, &err) != MS_OK) { CHECK_MSG(0, "open %s: %s", g_url, err.msg); return; }
    const char *cols[] = {"f0", "f1"};
    const char *first[] = {"a", "1.5", "2", "b", "3", "", "a", "4", "5"}; /* a twice: the last wins */
    load(s, cols, 2, first, 3);
    got g = changes(s, 0, 100);
    CHECK(g.header == 1 && strcmp(g.key_col, "id") == 0 && g.ncols == 2);
    CHECK(strcmp(g.cols[0], "f0") == 0 && strcmp(g.cols[1], "f1") == 0);
    CHECK_MSG(g.n == 2, "rows %d", g.n);
    int ia = strcmp(g.keys[0], "a") == 0 ? 0 : 1, ib = !ia;
    CHECK(strcmp(g.keys[ia], "a") == 0 && strcmp(g.keys[ib], "b") == 0);
    CHECK(g.v[ia][0] == 4 && g.v[ia][1] == 5);
    CHECK(g.v[ib][0] == 3 && isnan(g.v[ib][1]));
    CHECK(g.change[0] < g.change[1] && g.change[0] >= 1);
    CHECK(g.updated[0] > 1600000000000LL);
    int64_t cursor = g.change[1];

    /* nothing new: nothing after the cursor */
    g = changes(s, cursor, 100);
    CHECK(g.header == 1 && g.n == 0);

    /* a second load touching b and adding c: exactly those two, above the cursor; a keeps its
     * number; a load of one column leaves the other as it was */
    const char *c1[] = {"f1"};
    const char *second[] = {"b", "9", "c", "7"};
    load(s, c1, 1, second, 2);
    g = changes(s, cursor, 100);
    CHECK_MSG(g.n == 2, "rows after the cursor %d", g.n);
    CHECK(g.change[0] > cursor && g.change[1] > g.change[0]);
    for (int i = 0; i < g.n; i++) {
        if (strcmp(g.keys[i], "b") == 0) CHECK(g.v[i][0] == 3 && g.v[i][1] == 9);
        else CHECK(strcmp(g.keys[i], "c") == 0 && isnan(g.v[i][0]) && g.v[i][1] == 7);
    }

    /* pages of one row: all three rows, in order, each once */
    int64_t c = 0;
    int seen = 0;
    for (int page = 0; page < 10; page++) {
        g = changes(s, c, 1);
        if (!g.n) break;
        CHECK(g.n == 1 && g.change[0] > c);
        c = g.change[0];
        seen++;
    }
    CHECK_MSG(seen == 3, "pages %d", seen);
    st_close(s);
}

TEST(test_refusals)
{
    st_store *s = NULL;
    ms_error err;
    if (st_open(g_url, &s, &err) != MS_OK) { CHECK_MSG(0, "open: %s", err.msg); return; }
    got g;
    CHECK(st_features_changes(s, "no_such_table_here", 0, 10, collect, &g, &err) == MS_ERR_INVALID);
    CHECK(strstr(err.msg, "no_such_table_here") != NULL);
    CHECK(st_features_changes(s, "bad-name", 0, 10, collect, &g, &err) == MS_ERR_INVALID);
    CHECK(st_features_changes(s, g_table, -1, 10, collect, &g, &err) == MS_ERR_INVALID);
    const char *cols[] = {ST_CHANGE_COL};
    st_features spec = {g_table, "id", cols, 1};
    st_upsert *u = NULL;
    CHECK(st_upsert_begin(s, &spec, &u, &err) == MS_ERR_INVALID && strstr(err.msg, "reserved"));
    st_close(s);
}

static void run_backend(const char *name, const char *url)
{
    if (!url || !*url) {
        printf("skip %s feature change tests: set MLSHIP_TEST_PG_URL (scripts/services.sh start)\n", name);
        return;
    }
    g_url = url;
    snprintf(g_table, sizeof g_table, "chg_%d", (int)getpid());
    printf("feature change tests on %s\n", name);
    RUN(test_cursor);
    RUN(test_refusals);
}

TEST(test_redis_unsupported)
{
    st_store *s = NULL;
    ms_error err;
    if (st_open(g_url, &s, &err) != MS_OK) { CHECK_MSG(0, "open: %s", err.msg); return; }
    got g;
    CHECK(st_features_changes(s, "t", 0, 10, collect, &g, &err) == MS_ERR_UNSUPPORTED);
    st_close(s);
}

int main(void)
{
    char dir[] = "/tmp/mlship-schg-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/store.db", dir);
    run_backend("SQLite", url);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    run_backend("PostgreSQL", getenv("MLSHIP_TEST_PG_URL"));
    const char *r = getenv("MLSHIP_TEST_REDIS_URL");
    if (r && *r) { g_url = r; RUN(test_redis_unsupported); }
    else printf("skip Redis feature change test: set MLSHIP_TEST_REDIS_URL\n");
    return mstest_summary();
}
