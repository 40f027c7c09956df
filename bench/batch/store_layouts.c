/* store_layouts.c: how fast a batch run's predictions go into SQLite in a few table layouts, so
 * the layout of src/store/store_sqlite.c is chosen by a measurement (issue 10). Every layout
 * gets the same rows: keys "k0".."k<N-1>" in that order (so, as text, not sorted), the outputs
 * of a binary classifier as the JSON batch writes ({"label":1,"probabilities":{"0":..,"1":..}}
 * with shortest-form floats) or as a 12-byte BLOB, in chunks of CHUNK rows, one BEGIN
 * IMMEDIATE .. COMMIT per chunk, WAL, synchronous=NORMAL, a 4 MiB page cache: what
 * store_sqlite.c's writer does. Layouts:
 *   append_index   key, outputs TEXT, scored_at TEXT per row, rowid order; CREATE INDEX on key
 *                  at the end (today's layout; duplicates are not seen by the store)
 *   unique_live    the same with a UNIQUE index on key kept during the inserts (INSERT OR
 *                  IGNORE: the insert itself says "duplicate")
 *   without_rowid  key TEXT PRIMARY KEY, outputs, scored_at, WITHOUT ROWID (also detects)
 *   append_blob    append_index with the outputs as a BLOB and scored_at once per chunk in a
 *                  side table (fewer bytes per row; JSON would be made at lookup)
 *
 *   store_layouts DIR [ROWS (1000000)] [CHUNK (10000)]
 * Prints one JSON line per layout (rows/s including the final index). SORT_THREADS=N in the
 * environment runs the final CREATE INDEX with PRAGMA threads=N. Build:
 *   cc -O2 -o build/store_layouts bench/batch/store_layouts.c -lsqlite3 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;

static void die(const char *what)
{
    fprintf(stderr, "store_layouts: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void exec(const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) die(sql);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct layout {
    const char *name, *create, *insert, *finish;
    int blob, dup_check;
} layout;

static const layout LAYOUTS[] = {
    {"append_index", "CREATE TABLE p (key TEXT NOT NULL, outputs TEXT NOT NULL, scored_at TEXT NOT NULL)",
     "INSERT INTO p (key, outputs, scored_at) VALUES (?1, ?2, ?3)", "CREATE INDEX p_key ON p (key)", 0, 0},
    {"unique_live", "CREATE TABLE p (key TEXT NOT NULL UNIQUE, outputs TEXT NOT NULL, scored_at TEXT NOT NULL)",
     "INSERT OR IGNORE INTO p (key, outputs, scored_at) VALUES (?1, ?2, ?3)", NULL, 0, 1},
    {"without_rowid", "CREATE TABLE p (key TEXT PRIMARY KEY, outputs TEXT NOT NULL, scored_at TEXT NOT NULL)"
     " WITHOUT ROWID", "INSERT OR IGNORE INTO p (key, outputs, scored_at) VALUES (?1, ?2, ?3)", NULL, 0, 1},
    {"append_blob", "CREATE TABLE p (key TEXT NOT NULL, outputs BLOB NOT NULL, chunk INTEGER NOT NULL);"
     "CREATE TABLE c (chunk INTEGER PRIMARY KEY, scored_at TEXT NOT NULL)",
     "INSERT INTO p (key, outputs, chunk) VALUES (?1, ?2, ?3)", "CREATE INDEX p_key ON p (key)", 1, 0},
};

static void one(const char *dir, const layout *l, long n, long chunk)
{
    char path[4096], side[4200];
    snprintf(path, sizeof path, "%s/layout-%s.db", dir, l->name);
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, sfx[i]);
        unlink(side);
    }
    if (sqlite3_open(path, &db) != SQLITE_OK) die(path);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA cache_size=-4096");
    exec(l->create);
    sqlite3_stmt *ins, *cins = NULL;
    if (sqlite3_prepare_v2(db, l->insert, -1, &ins, NULL) != SQLITE_OK) die("prepare");
    if (l->blob && sqlite3_prepare_v2(db, "INSERT INTO c VALUES (?1, ?2)", -1, &cins, NULL) != SQLITE_OK)
        die("prepare chunk");
    const char *ts = "2026-12-02T01:40:00Z";
    /* the outputs are made before the clock starts (the batch job formats them on its scoring
     * threads): a pool of POOL rows, row i takes i % POOL */
    enum { POOL = 4096 };
    static char outs[POOL][96];
    static int outn[POOL];
    static unsigned char blobs[POOL][12];
    for (int i = 0; i < POOL; i++) {
        float p1 = (float)((i * 2654435761u) % 1000003u) / 1000003.0f, p0 = 1 - p1;
        int32_t lab = p1 > 0.5f;
        outn[i] = snprintf(outs[i], sizeof outs[i], "{\"label\":%d,\"probabilities\":{\"0\":%.9g,\"1\":%.9g}}",
                           (int)lab, p0, p1);
        memcpy(blobs[i], &lab, 4), memcpy(blobs[i] + 4, &p0, 4), memcpy(blobs[i] + 8, &p1, 4);
    }
    long dups = 0;
    double t0 = now();
    for (long at = 0; at < n; at += chunk) {
        exec("BEGIN IMMEDIATE");
        long end = at + chunk < n ? at + chunk : n;
        for (long i = at; i < end; i++) {
            char key[24];
            int kn = snprintf(key, sizeof key, "k%ld", i);
            sqlite3_bind_text(ins, 1, key, kn, SQLITE_STATIC);
            if (l->blob) {
                sqlite3_bind_blob(ins, 2, blobs[i % POOL], 12, SQLITE_STATIC);
                sqlite3_bind_int64(ins, 3, at / chunk);
            } else {
                sqlite3_bind_text(ins, 2, outs[i % POOL], outn[i % POOL], SQLITE_STATIC);
                sqlite3_bind_text(ins, 3, ts, -1, SQLITE_STATIC);
            }
            if (sqlite3_step(ins) != SQLITE_DONE) die("insert");
            if (l->dup_check && sqlite3_changes(db) == 0) dups++;
            sqlite3_reset(ins);
        }
        if (cins) {
            sqlite3_bind_int64(cins, 1, at / chunk);
            sqlite3_bind_text(cins, 2, ts, -1, SQLITE_STATIC);
            if (sqlite3_step(cins) != SQLITE_DONE) die("chunk");
            sqlite3_reset(cins);
        }
        exec("COMMIT");
    }
    double t1 = now();
    if (l->finish && getenv("SORT_THREADS")) { /* SQLite's sorter on helper threads */
        char q[64];
        snprintf(q, sizeof q, "PRAGMA threads=%d", atoi(getenv("SORT_THREADS")));
        exec(q);
    }
    if (l->finish) exec(l->finish);
    double t2 = now();
    sqlite3_finalize(ins);
    sqlite3_finalize(cins);
    sqlite3_close(db);
    printf("{\"layout\":\"%s\",\"rows\":%ld,\"chunk\":%ld,\"insert_s\":%.3f,\"finish_s\":%.3f,"
           "\"rows_per_s\":%.0f,\"dups\":%ld}\n",
           l->name, n, chunk, t1 - t0, t2 - t1, (double)n / (t2 - t0), dups);
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, sfx[i]);
        unlink(side);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: store_layouts DIR [ROWS] [CHUNK]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 1000000, chunk = argc > 3 ? atol(argv[3]) : 10000;
    if (n < 1 || chunk < 1) {
        fprintf(stderr, "store_layouts: ROWS and CHUNK must be positive\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof LAYOUTS / sizeof LAYOUTS[0]; i++) one(argv[1], &LAYOUTS[i], n, chunk);
    return 0;
}
