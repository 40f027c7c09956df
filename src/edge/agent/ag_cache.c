/* ag_cache.c: the device's feature cache in SQLite (see ag_cache.h). */
#define _GNU_SOURCE
#include "edge/agent/ag_cache.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "base/bs_clock.h"
#include "base/bs_error.h"
#include "base/bs_name.h"

#define PAGE_BYTES (256u << 20) /* one page's answer at most */

struct ag_cache {
    sqlite3 *db;
    pthread_mutex_t mu; /* the sync (agent thread) and status (HTTP threads) share the handle */
    char path[4200];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ms_status db_fail(ag_cache *c, ms_error *err, const char *what)
{
    return bs_fail(err, MS_ERR_RUNTIME, "feature cache '%s': %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

static ms_status exec(ag_cache *c, const char *sql, ms_error *err)
{
    return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? MS_OK : db_fail(c, err, sql);
}

ms_status ag_cache_open(const char *path, ag_cache **out, ms_error *err)
{
    ag_cache *c = calloc(1, sizeof *c);
    if (!c) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    snprintf(c->path, sizeof c->path, "%s", path);
    pthread_mutex_init(&c->mu, NULL);
    ms_status st = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                   NULL) == SQLITE_OK ? MS_OK : db_fail(c, err, "open");
    if (st == MS_OK) sqlite3_busy_timeout(c->db, 5000);
    if (st == MS_OK) st = exec(c, "PRAGMA journal_mode=WAL", err);
    if (st == MS_OK)
        st = exec(c, "CREATE TABLE IF NOT EXISTS mlship_sync (tbl TEXT PRIMARY KEY, cursor INTEGER NOT NULL, "
                     "key_col TEXT, columns TEXT, last_sync_ms INTEGER, last_error TEXT)", err);
    if (st != MS_OK) { ag_cache_free(c); return st; }
    *out = c;
    return MS_OK;
}

void ag_cache_free(ag_cache *c)
{
    if (!c) return;
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* "name" for a checked identifier. */
static void put_ident(mc_buf *b, const char *id) { mc_buf_printf(b, "\"%s\"", id); }

static int64_t cursor_of(ag_cache *c, const char *table)
{
    sqlite3_stmt *st = NULL;
    int64_t cur = 0;
    if (sqlite3_prepare_v2(c->db, "SELECT cursor FROM mlship_sync WHERE tbl = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) cur = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return cur;
}

static void note_error(ag_cache *c, const char *table, const char *msg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "INSERT INTO mlship_sync (tbl, cursor, last_error) VALUES (?1, 0, ?2) "
                                  "ON CONFLICT (tbl) DO UPDATE SET last_error = excluded.last_error", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, msg, -1, SQLITE_STATIC);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
}

/* The page's schema line: the local table made to match (created, columns added). */
typedef struct page {
    const char *url;
    char key[64];
    const cJSON *cols;
    int ncols;
    sqlite3_stmt *ups;
    int64_t next, rows;
    int more, closed;
} page;

static ms_status apply_schema(ag_cache *c, const char *table, page *p, const cJSON *h, ms_error *err)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(h, "key"), *cols = cJSON_GetObjectItemCaseSensitive(h, "columns");
    if (!cJSON_IsString(k) || !bs_ident_ok(k->valuestring) || !cJSON_IsArray(cols))
        return bs_fail(err, MS_ERR_INVALID, "%s: the first line must name \"key\" and \"columns\"", p->url);
    snprintf(p->key, sizeof p->key, "%s", k->valuestring);
    p->cols = cols;
    p->ncols = cJSON_GetArraySize(cols);
    mc_buf q = {0};
    mc_buf_puts(&q, "CREATE TABLE IF NOT EXISTS ");
    put_ident(&q, table);
    mc_buf_puts(&q, " (");
    put_ident(&q, p->key);
    mc_buf_puts(&q, " TEXT PRIMARY KEY NOT NULL, mlship_change INTEGER, mlship_updated_ms INTEGER, mlship_synced_ms INTEGER)");
    ms_status st = exec(c, q.data ? q.data : "", err);
    const cJSON *e;
    cJSON_ArrayForEach(e, cols) {
        if (st != MS_OK) break;
        if (!cJSON_IsString(e) || !bs_ident_ok(e->valuestring) || strncmp(e->valuestring, "mlship_", 7) == 0) {
            st = bs_fail(err, MS_ERR_INVALID, "%s: \"columns\" must be column names", p->url);
            break;
        }
        mc_buf_reset(&q);
        mc_buf_puts(&q, "ALTER TABLE ");
        put_ident(&q, table);
        mc_buf_puts(&q, " ADD COLUMN ");
        put_ident(&q, e->valuestring);
        mc_buf_puts(&q, " REAL");
        /* an existing column is the one error expected here */
        if (sqlite3_exec(c->db, q.data, NULL, NULL, NULL) != SQLITE_OK && !strstr(sqlite3_errmsg(c->db), "duplicate column"))
            st = db_fail(c, err, "add a column");
    }
    mc_buf_reset(&q);
    mc_buf_puts(&q, "INSERT INTO ");
    put_ident(&q, table);
    mc_buf_puts(&q, " (");
    put_ident(&q, p->key);
    cJSON_ArrayForEach(e, cols) {
        mc_buf_puts(&q, ", ");
        put_ident(&q, e->valuestring);
    }
    mc_buf_puts(&q, ", mlship_change, mlship_updated_ms, mlship_synced_ms) VALUES (?");
    for (int i = 0; i < p->ncols + 3; i++) mc_buf_puts(&q, ", ?");
    mc_buf_puts(&q, ") ON CONFLICT DO UPDATE SET ");
    cJSON_ArrayForEach(e, cols) {
        put_ident(&q, e->valuestring);
        mc_buf_puts(&q, " = excluded.");
        put_ident(&q, e->valuestring);
        mc_buf_puts(&q, ", ");
    }
    mc_buf_puts(&q, "mlship_change = excluded.mlship_change, mlship_updated_ms = excluded.mlship_updated_ms, "
                    "mlship_synced_ms = excluded.mlship_synced_ms");
    if (st == MS_OK && (mc_buf_failed(&q) || sqlite3_prepare_v2(c->db, q.data, -1, &p->ups, NULL) != SQLITE_OK))
        st = db_fail(c, err, "prepare the upsert");
    mc_buf_free(&q);
    return st;
}

static ms_status apply_row(ag_cache *c, page *p, const cJSON *r, int64_t synced, ms_error *err)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(r, "key"), *v = cJSON_GetObjectItemCaseSensitive(r, "values");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(r, "change"), *up = cJSON_GetObjectItemCaseSensitive(r, "updated_ms");
    if (!cJSON_IsString(k) || !cJSON_IsArray(v) || cJSON_GetArraySize(v) != p->ncols || !cJSON_IsNumber(ch) ||
        !cJSON_IsNumber(up) || ch->valuedouble <= (double)p->next)
        return bs_fail(err, MS_ERR_INVALID, "%s: a row line needs \"key\", %d \"values\", an increasing \"change\" and "
                       "\"updated_ms\"", p->url, p->ncols);
    sqlite3_reset(p->ups);
    sqlite3_bind_text(p->ups, 1, k->valuestring, -1, SQLITE_STATIC);
    int i = 2;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsNumber(e)) sqlite3_bind_double(p->ups, i++, e->valuedouble);
        else if (cJSON_IsNull(e)) sqlite3_bind_null(p->ups, i++);
        else return bs_fail(err, MS_ERR_INVALID, "%s: key '%.100s': values must be numbers or null", p->url, k->valuestring);
    }
    p->next = (int64_t)ch->valuedouble;
    sqlite3_bind_int64(p->ups, i++, p->next);
    sqlite3_bind_int64(p->ups, i++, (int64_t)up->valuedouble);
    sqlite3_bind_int64(p->ups, i, synced);
    if (sqlite3_step(p->ups) != SQLITE_DONE) return db_fail(c, err, "store a row");
    p->rows++;
    return MS_OK;
}

static ms_status save_cursor(ag_cache *c, const char *table, const page *p, int64_t synced, ms_error *err)
{
    char *cols = cJSON_PrintUnformatted(p->cols);
    sqlite3_stmt *st = NULL;
    ms_status r = MS_OK;
    if (!cols || sqlite3_prepare_v2(c->db, "INSERT INTO mlship_sync VALUES (?1, ?2, ?3, ?4, ?5, NULL) ON CONFLICT (tbl) "
                                           "DO UPDATE SET cursor = excluded.cursor, key_col = excluded.key_col, columns = "
                                           "excluded.columns, last_sync_ms = excluded.last_sync_ms, last_error = NULL",
                                    -1, &st, NULL) != SQLITE_OK)
        r = db_fail(c, err, "save the cursor");
    else {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->next);
        sqlite3_bind_text(st, 3, p->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, cols, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, synced);
        if (sqlite3_step(st) != SQLITE_DONE) r = db_fail(c, err, "save the cursor");
    }
    sqlite3_finalize(st);
    free(cols);
    return r;
}

/* Apply one answer (JSON Lines) in one transaction; nothing unless its closing line is there. */
static ms_status apply_page(ag_cache *c, const char *table, const char *url, char *body, size_t len, int64_t since,
                            page *p, ms_error *err)
{
    memset(p, 0, sizeof *p);
    p->url = url;
    p->next = since;
    int64_t synced = now_ms();
    ms_status st = exec(c, "BEGIN IMMEDIATE", err);
    cJSON *hdr = NULL;
    size_t line = 0;
    for (char *s = body, *end = body + len; st == MS_OK && s < end && !p->closed; line++) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        cJSON *j = cJSON_ParseWithLength(s, n);
        s += n + 1;
        if (!cJSON_IsObject(j)) st = bs_fail(err, MS_ERR_INVALID, "%s: line %zu is not a JSON object", url, line + 1);
        else if (line == 0) { st = apply_schema(c, table, p, j, err); hdr = j; j = NULL; }
        else if (cJSON_GetObjectItemCaseSensitive(j, "next")) {
            const cJSON *nx = cJSON_GetObjectItemCaseSensitive(j, "next");
            p->more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "more"));
            if (!cJSON_IsNumber(nx) || (int64_t)nx->valuedouble != p->next)
                st = bs_fail(err, MS_ERR_INVALID, "%s: \"next\" is not the last row's change number", url);
            p->closed = 1;
        } else st = apply_row(c, p, j, synced, err);
        cJSON_Delete(j);
    }
    if (st == MS_OK && !p->closed) st = bs_fail(err, MS_ERR_RUNTIME, "%s: the answer ended before its closing line", url);
    if (st == MS_OK) st = save_cursor(c, table, p, synced, err);
    sqlite3_finalize(p->ups);
    p->ups = NULL;
    if (st == MS_OK) st = exec(c, "COMMIT", err);
    if (st != MS_OK && !sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    cJSON_Delete(hdr);
    return st;
}

ms_status ag_cache_sync(ag_cache *c, const ag_fetch_opts *o, const char *base, const char *table, int page_rows,
                        int64_t *changed, ms_error *err)
{
    *changed = 0;
    if (!bs_ident_ok(table)) return bs_fail(err, MS_ERR_INVALID, "feature table '%s': not a table name", table);
    size_t bl = strlen(base);
    ms_status st = MS_OK;
    pthread_mutex_lock(&c->mu);
    for (int pages = 0; pages < 10000 && st == MS_OK; pages++) {
        int64_t since = cursor_of(c, table);
        char url[4600];
        snprintf(url, sizeof url, "%.*s/v1/features/%s?since=%lld&limit=%d", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl),
                 base, table, (long long)since, page_rows);
        mc_buf body = {0};
        long status = 0;
        st = ag_fetch_mem(o, url, NULL, PAGE_BYTES, &body, &status, NULL, err);
        page p;
        if (st == MS_OK) st = apply_page(c, table, url, body.data ? body.data : "", body.len, since, &p, err);
        mc_buf_free(&body);
        if (st == MS_OK) *changed += p.rows;
        if (st != MS_OK || !p.more) break;
    }
    if (st != MS_OK) note_error(c, table, err->msg);
    pthread_mutex_unlock(&c->mu);
    return st;
}

void ag_cache_names_free(char **cols, int n)
{
    for (int i = 0; i < n; i++) free(cols[i]);
    free(cols);
}

ms_status ag_cache_schema(ag_cache *c, const char *table, char *key, size_t cap, char ***cols, int *n, ms_error *err)
{
    *cols = NULL;
    *n = 0;
    ms_status st = MS_ERR_INVALID;
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT key_col, columns FROM mlship_sync WHERE tbl = ?1 AND key_col IS NOT NULL", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            snprintf(key, cap, "%s", (const char *)sqlite3_column_text(s, 0));
            cJSON *a = cJSON_Parse((const char *)sqlite3_column_text(s, 1));
            int k = cJSON_GetArraySize(a);
            *cols = calloc((size_t)k + 1, sizeof **cols);
            const cJSON *e;
            st = *cols ? MS_OK : MS_ERR_RUNTIME;
            cJSON_ArrayForEach(e, a) if (*cols && cJSON_IsString(e)) (*cols)[(*n)++] = strdup(e->valuestring);
            cJSON_Delete(a);
        }
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&c->mu);
    if (st != MS_OK) return bs_fail(err, st, "feature table '%s' was never synced into '%s'", table, c->path);
    return MS_OK;
}

static int64_t scalar(ag_cache *c, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

void ag_cache_status_json(ag_cache *c, mc_buf *b)
{
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *s = NULL;
    int64_t now = now_ms();
    mc_buf_putc(b, '[');
    if (sqlite3_prepare_v2(c->db, "SELECT tbl, cursor, last_sync_ms, last_error, key_col FROM mlship_sync ORDER BY tbl", -1, &s,
                           NULL) == SQLITE_OK)
        for (int i = 0; sqlite3_step(s) == SQLITE_ROW; i++) {
            const char *t = (const char *)sqlite3_column_text(s, 0), *e = (const char *)sqlite3_column_text(s, 3);
            int64_t last = sqlite3_column_type(s, 2) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 2);
            int64_t rows = 0, oldest = -1, newest = -1;
            if (sqlite3_column_type(s, 4) != SQLITE_NULL && bs_ident_ok(t)) {
                char q[300];
                snprintf(q, sizeof q, "SELECT count(*) FROM \"%s\"", t);
                rows = scalar(c, q);
                snprintf(q, sizeof q, "SELECT min(mlship_updated_ms) FROM \"%s\"", t);
                oldest = scalar(c, q);
                snprintf(q, sizeof q, "SELECT max(mlship_updated_ms) FROM \"%s\"", t);
                newest = scalar(c, q);
            }
            char iso[BS_ISO_CAP] = "";
            if (last) bs_iso_utc((time_t)(last / 1000), iso);
            mc_buf_printf(b, "%s{\"table\": ", i ? ", " : "");
            mc_buf_put_json_str(b, t ? t : "");
            mc_buf_printf(b, ", \"rows\": %lld, \"cursor\": %lld, \"last_sync\": \"%s\", \"last_sync_age_s\": ", (long long)rows,
                          (long long)sqlite3_column_int64(s, 1), iso);
            if (last) mc_buf_printf(b, "%.3f", (double)(now - last) / 1000.0);
            else mc_buf_puts(b, "null");
            mc_buf_puts(b, ", \"oldest_row_age_s\": ");
            if (oldest >= 0) mc_buf_printf(b, "%.3f", (double)(now - oldest) / 1000.0);
            else mc_buf_puts(b, "null");
            mc_buf_puts(b, ", \"newest_row_age_s\": ");
            if (newest >= 0) mc_buf_printf(b, "%.3f", (double)(now - newest) / 1000.0);
            else mc_buf_puts(b, "null");
            mc_buf_puts(b, ", \"last_error\": ");
            mc_buf_put_json_str(b, e ? e : "");
            mc_buf_putc(b, '}');
        }
    sqlite3_finalize(s);
    mc_buf_putc(b, ']');
    pthread_mutex_unlock(&c->mu);
}

ms_status ag_cache_row_json(ag_cache *c, const char *table, const char *key, mc_buf *b, int *found, ms_error *err)
{
    *found = 0;
    char kc[64], **cols = NULL;
    int n = 0;
    ms_status st = ag_cache_schema(c, table, kc, sizeof kc, &cols, &n, err);
    if (st != MS_OK) return st;
    mc_buf q = {0};
    mc_buf_puts(&q, "SELECT mlship_change, mlship_updated_ms, mlship_synced_ms");
    for (int i = 0; i < n; i++) {
        mc_buf_puts(&q, ", ");
        put_ident(&q, cols[i]);
    }
    mc_buf_puts(&q, " FROM ");
    put_ident(&q, table);
    mc_buf_puts(&q, " WHERE ");
    put_ident(&q, kc);
    mc_buf_puts(&q, " = ?1");
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *s = NULL;
    if (mc_buf_failed(&q) || sqlite3_prepare_v2(c->db, q.data, -1, &s, NULL) != SQLITE_OK) st = db_fail(c, err, "read a row");
    else {
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            int64_t now = now_ms(), up = sqlite3_column_int64(s, 1), sy = sqlite3_column_int64(s, 2);
            *found = 1;
            mc_buf_puts(b, "{\"table\": ");
            mc_buf_put_json_str(b, table);
            mc_buf_puts(b, ", \"key\": ");
            mc_buf_put_json_str(b, key);
            mc_buf_puts(b, ", \"values\": {");
            for (int i = 0; i < n; i++) {
                mc_buf_printf(b, "%s", i ? ", " : "");
                mc_buf_put_json_str(b, cols[i]);
                if (sqlite3_column_type(s, 3 + i) == SQLITE_NULL) mc_buf_puts(b, ": null");
                else mc_buf_printf(b, ": %.17g", sqlite3_column_double(s, 3 + i));
            }
            mc_buf_printf(b, "}, \"change\": %lld, \"updated_ms\": %lld, \"synced_ms\": %lld, \"age_s\": %.3f, "
                          "\"synced_age_s\": %.3f}\n", (long long)sqlite3_column_int64(s, 0), (long long)up, (long long)sy,
                          (double)(now - up) / 1000.0, (double)(now - sy) / 1000.0);
        }
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&c->mu);
    mc_buf_free(&q);
    ag_cache_names_free(cols, n);
    return st;
}
