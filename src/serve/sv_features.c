/* sv_features.c: GET /v1/features/{table}?since=N[&limit=L]: the rows of a feature table in
 * --store changed after change number N, for devices that keep a local copy (`mlship agent`,
 * docs/agent.md). Behind --api-token like the inference routes.
 *
 * The answer is JSON Lines (application/x-ndjson), one snapshot of the store:
 *   {"table": T, "key": KEYCOL, "columns": [..], "since": N}          the schema, first
 *   {"key": K, "values": [..], "change": C, "updated_ms": MS}          one per row, by C
 *   {"next": C_last, "rows": R, "more": true|false}                    last: the next cursor
 * A missing value is null; an infinity is written 1e999 (a JSON number that parses back to
 * one). "more" is true when the page is full (ask again from "next"). The change numbers are
 * the store's (store.h, feature changes): a client that resumes from "next" sees every later
 * write once. Errors: 400 bad table/since/limit, 404 no --store or no such table, 501 a store
 * without change numbers (Redis), 503 the store failing. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/sv_int.h"
#include "store/store.h"

#define PAGE_DEFAULT 10000
#define PAGE_MAX 100000

typedef struct page {
    mc_buf *out;
    int64_t since, next;
    size_t rows;
} page;

static void put_num(mc_buf *b, double v)
{
    if (isnan(v)) mc_buf_puts(b, "null");
    else if (isinf(v)) mc_buf_puts(b, v > 0 ? "1e999" : "-1e999");
    else mc_buf_printf(b, "%.17g", v);
}

static int on_change(void *ctx, const char *key_col, const char *const *cols, int n, const st_change_row *row)
{
    page *p = ctx;
    mc_buf *b = p->out;
    mc_buf_puts(b, "{\"key\": ");
    mc_buf_put_json_str(b, row->key);
    mc_buf_puts(b, ", \"values\": [");
    for (int i = 0; i < n; i++) {
        if (i) mc_buf_puts(b, ", ");
        put_num(b, row->values[i]);
    }
    mc_buf_printf(b, "], \"change\": %lld, \"updated_ms\": %lld}\n", (long long)row->change, (long long)row->updated_ms);
    p->next = row->change;
    p->rows++;
    return mc_buf_failed(b);
}

/* The header line needs the table's name, which the store's callback does not carry. */
typedef struct hdr_ctx { page p; const char *table; } hdr_ctx;

static int on_change_hdr(void *ctx, const char *key_col, const char *const *cols, int n, const st_change_row *row)
{
    hdr_ctx *h = ctx;
    if (row) return on_change(&h->p, key_col, cols, n, row);
    mc_buf *b = h->p.out;
    mc_buf_puts(b, "{\"table\": ");
    mc_buf_put_json_str(b, h->table);
    mc_buf_puts(b, ", \"key\": ");
    mc_buf_put_json_str(b, key_col);
    mc_buf_puts(b, ", \"columns\": [");
    for (int i = 0; i < n; i++) {
        if (i) mc_buf_puts(b, ", ");
        mc_buf_put_json_str(b, cols[i]);
    }
    mc_buf_printf(b, "], \"since\": %lld}\n", (long long)h->p.since);
    return mc_buf_failed(b);
}

static int query_int(sv_req *r, const char *name, long long def, long long lo, long long hi, long long *out)
{
    const char *v = sv_req_query(r, name);
    *out = def;
    if (!v) return 1;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        sv_req_error(r, 400, "%s: '%.100s' must be a whole number in [%lld, %lld]", name, v, lo, hi);
        return 0;
    }
    *out = x;
    return 1;
}

void sv_features_changes(sv_server *s, sv_req *r, const sv_match *mt)
{
    const char *table = mt->key;
    long long since, limit;
    if (!bs_ident_ok(table)) {
        sv_req_error(r, 400, "invalid feature table name '%.100s' (a letter or '_', then letters, digits, '_')", table);
        return;
    }
    if (!query_int(r, "since", 0, 0, INT64_MAX, &since) || !query_int(r, "limit", PAGE_DEFAULT, 1, PAGE_MAX, &limit)) return;
    if (!s->store_url) {
        sv_req_error(r, 404, "feature table '%s': this server has no feature store (--store)", table);
        return;
    }
    st_store *h = NULL;
    ms_error err = {{0}};
    hdr_ctx c = {{&r->out, since, since, 0}, table};
    ms_status st = sv_store_get(s, s->store_url, ST_OPEN_READONLY, &h, &err);
    if (st == MS_OK) st = st_features_changes(h, table, since, (size_t)limit, on_change_hdr, &c, &err);
    if (h) sv_store_put(s, s->store_url, ST_OPEN_READONLY, h, st);
    if (st == MS_OK && mc_buf_failed(&r->out)) st = bs_fail(&err, MS_ERR_RUNTIME, "out of memory");
    if (st != MS_OK) {
        mc_buf_reset(&r->out);
        sv_req_error(r, st == MS_ERR_INVALID ? 404 : st == MS_ERR_UNSUPPORTED ? 501 : 503, "feature table '%s': %s", table,
                     err.msg);
        return;
    }
    mc_buf_printf(&r->out, "{\"next\": %lld, \"rows\": %zu, \"more\": %s}\n", (long long)c.p.next, c.p.rows,
                  c.p.rows == (size_t)limit ? "true" : "false");
    r->content_type = "application/x-ndjson";
    r->status = 200;
}
