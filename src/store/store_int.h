/* store_int.h: what the store backends share, private to src/store/: the backend table (one
 * struct of function pointers per backend, as redis' ConnectionType) and small helpers (a
 * string builder, strict numbers). Errors, identifier and name rules, URL parsing and the
 * clock are base's (src/base/: bs_fail, bs_ident_ok, bs_url_parse, bs_now_iso).
 *
 * store.c checks every argument (identifiers, names, numbers, chunk order is the backend's)
 * before calling a backend, so backends may assume valid identifiers and names. An operation a
 * backend does not offer is a NULL pointer: store.c answers MS_ERR_UNSUPPORTED. */
#ifndef ST_STORE_INT_H
#define ST_STORE_INT_H

#include <stdarg.h>

#include "base/bs_error.h"
#include "base/bs_url.h"
#include "store/store.h"


typedef struct st_backend_ops {
    const char *name;
    /* u: the parsed URL of the backend's scheme; flags: ST_OPEN_* */
    ms_status (*open)(const bs_url *u, int flags, st_store **out, ms_error *err);
    void (*close)(st_store *s);

    ms_status (*fetch)(st_store *s, const st_features *spec, const char *const *keys, size_t nkeys,
                       float *out, uint8_t *found, ms_error *err);
    ms_status (*upsert_begin)(st_store *s, const st_features *spec, st_upsert **out,
                              ms_error *err);
    /* cells as in st_upsert_put; vals[r * ncolumns + c] is the parsed number (cells checked) */
    ms_status (*upsert_put)(st_upsert *u, const char *const *cells, const double *vals,
                            size_t nrows, ms_error *err);
    ms_status (*upsert_commit)(st_upsert *u, ms_error *err);
    void (*upsert_abort)(st_upsert *u); /* rolls back and frees */
    ms_status (*changes)(st_store *s, const char *table, int64_t since, size_t limit,
                         st_change_fn fn, void *ctx, ms_error *err);

    ms_status (*run_begin)(st_store *s, const st_run *run, ms_error *err);
    ms_status (*run_get)(st_store *s, const char *run_id, int32_t shard, st_run *out, int *found,
                         ms_error *err);
    ms_status (*run_latest)(st_store *s, const char *model, int32_t shard, st_run *out,
                            int *found, ms_error *err);
    ms_status (*run_list)(st_store *s, const char *model, int (*fn)(void *, const st_run *),
                          void *ctx, ms_error *err);
    ms_status (*write_chunk)(st_store *s, const char *run_id, int32_t shard, int64_t chunk,
                             const st_prediction *preds, size_t npreds, const st_reject *rejects,
                             size_t nrejects, ms_error *err);
    ms_status (*run_fail)(st_store *s, const char *run_id, int32_t shard, ms_error *err);
    ms_status (*run_complete)(st_store *s, const char *run_id, int32_t shard, int keep,
                              int *published, ms_error *err);
    ms_status (*run_publish)(st_store *s, const char *run_id, ms_error *err);
    ms_status (*runs_prune)(st_store *s, const char *model, int keep, ms_error *err);
    ms_status (*pred_lookup)(st_store *s, const char *model, const char *const *keys,
                             size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err);
    ms_status (*pred_scan)(st_store *s, const char *model, st_pred_fn fn, void *ctx,
                           ms_error *err);
    ms_status (*run_rejects)(st_store *s, const char *run_id,
                             int (*fn)(void *, int32_t, int64_t, const char *), void *ctx,
                             ms_error *err);
    ms_status (*query)(st_store *s, const char *sql, st_row_fn fn, void *ctx, ms_error *err);
    ms_status (*run_keys)(st_store *s, const char *run_id, int (*fn)(void *, const char *),
                          void *ctx, ms_error *err);

    /* stream results and tickets; now_ms: the caller's clock (st_now_ms), one value per call */
    ms_status (*stream_put)(st_store *s, const st_stream_row *rows, size_t n, int64_t ttl_s,
                            int64_t now_ms, ms_error *err);
    ms_status (*stream_event)(st_store *s, const char *event_id, st_event_fn fn, void *ctx,
                              ms_error *err);
    ms_status (*pred_latest)(st_store *s, const char *model, const char *const *keys,
                             size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err);
    ms_status (*stream_prune)(st_store *s, int64_t cutoff_ms, ms_error *err);
    /* fresh->created_ms is set (now); *out and *created as st_ticket_claim */
    ms_status (*ticket_claim)(st_store *s, const st_ticket *fresh, int64_t pending_ms,
                              st_ticket *out, int *created, ms_error *err);
    ms_status (*ticket_get)(st_store *s, const char *ticket, st_ticket *out, int *found,
                            ms_error *err);
    ms_status (*ticket_drop)(st_store *s, const char *ticket, ms_error *err);
} st_backend_ops;

/* Every backend's handle starts with this. */
struct st_store {
    const st_backend_ops *ops;
};
/* Every backend's upsert starts with this. */
struct st_upsert {
    st_store *store;
    int ncolumns;
    size_t rows;
};

extern const st_backend_ops st_sqlite_ops, st_pg_ops, st_redis_ops;
/* 1 when the backend was compiled with its library (WITH_SQLITE/WITH_PG/WITH_REDIS). */
extern const int st_sqlite_built, st_pg_built, st_redis_built;

/* ---- helpers (store.c) ---------------------------------------------------------------- */

/* A feature table's shape as the change feed reads it (SQLite and PostgreSQL): the key
 * column, the feature columns in table order, and whether the change columns exist. */
typedef struct st_table_schema {
    char key[64];
    char **cols;
    int n, has_change;
} st_table_schema;
void st_table_schema_free(st_table_schema *sc);

/* MS_ERR_UNSUPPORTED "mlship was built without X support (...)". */
ms_status st_not_built(ms_error *err, const char *what, const char *knob, const char *pkg);

/* Strict number: the whole string (spaces around allowed), decimal or nan/inf. 0 on success. */
int st_parse_num(const char *s, double *out);
int st_parse_num_n(const char *s, size_t n, double *out);

/* A growable string; on allocation failure `oom` is set and appends do nothing. */
typedef struct st_sb {
    char *p;
    size_t len, cap;
    int oom;
} st_sb;
void st_sb_put(st_sb *b, const char *s, size_t n);
void st_sb_puts(st_sb *b, const char *s);
void st_sb_printf(st_sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* An identifier already checked by bs_ident_ok, double-quoted. */
void st_sb_ident(st_sb *b, const char *ident);
void st_sb_free(st_sb *b);

char *st_strdup(const char *s);

/* Wall-clock milliseconds since the epoch (stream results' scored_ms, tickets' created_ms). */
int64_t st_now_ms(void);
/* Copy a text column into a fixed ticket field (truncates; never overflows). */
void st_copy(char *dst, size_t cap, const char *src);

#endif
