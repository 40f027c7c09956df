/* sqlite_commit.c: the machine's SQLite commit ceiling for bench/stream/run.sh: how many
 * durable transactions per second SQLite makes here with the embedded queue's settings (WAL,
 * synchronous=FULL: every commit waits for the disk), each inserting ROWS_PER_TX rows of about
 * 300 bytes. The embedded queue's events/s read against it show what batching buys: a queue
 * that committed per event could never pass commits/s.
 *
 *   sqlite_commit DBFILE [COMMITS (2000)] [ROWS_PER_TX (1)]
 *
 * Creates DBFILE afresh; prints one JSON line (commits_per_s, rows_per_s). Build:
 *   cc -O2 -o sqlite_commit bench/ceilings/sqlite_commit.c -lsqlite3 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;

static void check(int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "sqlite_commit: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) return fprintf(stderr, "usage: sqlite_commit DBFILE [COMMITS] [ROWS_PER_TX]\n"), 2;
    long commits = argc > 2 ? atol(argv[2]) : 2000, per = argc > 3 ? atol(argv[3]) : 1;
    unlink(argv[1]);
    check(sqlite3_open(argv[1], &db), "open");
    check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                           "CREATE TABLE q(seq INTEGER PRIMARY KEY, body TEXT)", 0, 0, 0), "setup");
    char body[301];
    for (int i = 0; i < 300; i++) body[i] = (char)('0' + i % 10);
    body[300] = 0;
    sqlite3_stmt *ins;
    check(sqlite3_prepare_v2(db, "INSERT INTO q(body) VALUES (?)", -1, &ins, 0), "prepare");
    double t0 = now();
    for (long c = 0; c < commits; c++) {
        check(sqlite3_exec(db, "BEGIN", 0, 0, 0), "begin");
        for (long r = 0; r < per; r++) {
            sqlite3_bind_text(ins, 1, body, 300, SQLITE_STATIC);
            check(sqlite3_step(ins), "insert");
            sqlite3_reset(ins);
        }
        check(sqlite3_exec(db, "COMMIT", 0, 0, 0), "commit");
    }
    double el = now() - t0;
    printf("{\"bench\":\"sqlite_commit\",\"commits\":%ld,\"rows_per_tx\":%ld,\"commits_per_s\":%.0f,"
           "\"rows_per_s\":%.0f}\n", commits, per, commits / el, commits * per / el);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return 0;
}
