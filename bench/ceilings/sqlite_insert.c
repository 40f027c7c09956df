/* sqlite_insert.c: the machine's SQLite ceiling for bench/batch/run.sh: how fast plain rows go
 * into SQLite from C when nothing else is done, so `mlship batch`'s write rate can be read
 * against it.
 *
 *   sqlite_insert DBFILE [ROWS (1000000)] [LOOKUPS (100000)]
 *
 * Creates DBFILE afresh (":memory:" works too) with t(id INTEGER PRIMARY KEY, a REAL, b REAL),
 * inserts ROWS rows with one prepared statement inside one transaction (the fastest way SQLite
 * takes rows: no text, no secondary index, the default journal and synchronous settings), then
 * reads LOOKUPS random ids back one at a time with a prepared point query, and checks that
 * every lookup found its row with the values written. Prints one JSON line; exit 1 on any
 * SQLite error or a wrong value, 2 on bad arguments. Build:
 *   cc -O2 -o build/bench/sqlite_insert bench/ceilings/sqlite_insert.c -lsqlite3 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;

static void fail(const char *what)
{
    fprintf(stderr, "sqlite_insert: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void exec(const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) fail(sql);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long arg(int argc, char **argv, int i, long def)
{
    if (argc <= i) return def;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end || v < 1) {
        fprintf(stderr, "sqlite_insert: '%s' is not a positive count\n", argv[i]);
        exit(2);
    }
    return v;
}

/* Insert rows 0..n-1 with a = id / 2, b = -id in one transaction; returns the seconds taken. */
static double insert_rows(long n)
{
    sqlite3_stmt *ins;
    double t0 = seconds();
    exec("BEGIN");
    if (sqlite3_prepare_v2(db, "INSERT INTO t(id, a, b) VALUES (?1, ?2, ?3)", -1, &ins, NULL) != SQLITE_OK)
        fail("prepare insert");
    for (long id = 0; id < n; id++) {
        sqlite3_bind_int64(ins, 1, id);
        sqlite3_bind_double(ins, 2, (double)id / 2);
        sqlite3_bind_double(ins, 3, -(double)id);
        if (sqlite3_step(ins) != SQLITE_DONE) fail("insert");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    exec("COMMIT");
    return seconds() - t0;
}

/* m point lookups of pseudo-random ids (a fixed LCG: the same ids every run). */
static double lookup_rows(long n, long m)
{
    sqlite3_stmt *sel;
    if (sqlite3_prepare_v2(db, "SELECT a, b FROM t WHERE id = ?1", -1, &sel, NULL) != SQLITE_OK)
        fail("prepare lookup");
    unsigned long long x = 88172645463325252ULL;
    double t0 = seconds();
    for (long i = 0; i < m; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        long id = (long)((x >> 17) % (unsigned long long)n);
        sqlite3_bind_int64(sel, 1, id);
        if (sqlite3_step(sel) != SQLITE_ROW) fail("lookup found no row");
        if (sqlite3_column_double(sel, 0) != (double)id / 2 || sqlite3_column_double(sel, 1) != -(double)id) {
            fprintf(stderr, "sqlite_insert: row %ld read back wrong values\n", id);
            exit(1);
        }
        sqlite3_reset(sel);
    }
    sqlite3_finalize(sel);
    return seconds() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: sqlite_insert DBFILE [ROWS] [LOOKUPS]\n");
        return 2;
    }
    const char *file = argv[1];
    long n = arg(argc, argv, 2, 1000000), m = arg(argc, argv, 3, 100000);
    if (strcmp(file, ":memory:") != 0) {
        unlink(file); /* a fresh file each run: the figure is for an empty table */
        char side[4096];
        snprintf(side, sizeof side, "%s-journal", file);
        unlink(side);
    }
    if (sqlite3_open(file, &db) != SQLITE_OK) fail(file);
    exec("CREATE TABLE t(id INTEGER PRIMARY KEY, a REAL, b REAL)");
    double ins = insert_rows(n), sel = lookup_rows(n, m);
    printf("{\"db\":\"%s\",\"sqlite\":\"%s\",\"rows\":%ld,\"insert_s\":%.3f,\"insert_rows_per_s\":%.0f,"
           "\"lookups\":%ld,\"lookup_s\":%.3f,\"lookups_per_s\":%.0f}\n",
           file, sqlite3_libversion(), n, ins, (double)n / ins, m, sel, (double)m / sel);
    sqlite3_close(db);
    return 0;
}
