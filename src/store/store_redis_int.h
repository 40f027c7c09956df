/* store_redis_int.h: what the Redis backend's two files share, private to them: the connection
 * (rd_store) and its helpers (store_redis.c), and the stream results and tickets
 * (store_redis_stream.c) that store_redis.c's backend table points to. Included only when
 * MS_WITH_REDIS, after <hiredis/hiredis.h>. */
#ifndef ST_STORE_REDIS_INT_H
#define ST_STORE_REDIS_INT_H

#include <hiredis/hiredis.h>

#include "store/store_int.h"

typedef struct rd_store {
    st_store base;
    redisContext *c;
    char where[160];
    char *user, *password;
    int db;
} rd_store;

/* ---- helpers (store_redis.c) ---- */
/* MS_ERR_RUNTIME "redis store <where>: <what>: <detail or the connection's error>". */
ms_status rd_err(rd_store *s, ms_error *err, const char *what, const char *detail);
/* Reconnect a dropped connection before the next call. */
ms_status rd_ready(rd_store *s, ms_error *err);

/* ---- stream results and tickets (store_redis_stream.c) ---- */
ms_status rd_stream_put(st_store *base, const st_stream_row *rows, size_t n, int64_t ttl_s,
                        int64_t now_ms, ms_error *err);
ms_status rd_stream_event(st_store *base, const char *event_id, st_event_fn fn, void *ctx,
                          ms_error *err);
ms_status rd_pred_latest(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err);
ms_status rd_stream_prune(st_store *base, int64_t cutoff_ms, ms_error *err);
ms_status rd_ticket_claim(st_store *base, const st_ticket *fresh, int64_t pending_ms,
                          st_ticket *out, int *created, ms_error *err);
ms_status rd_ticket_get(st_store *base, const char *ticket, st_ticket *out, int *found,
                        ms_error *err);
ms_status rd_ticket_drop(st_store *base, const char *ticket, ms_error *err);

#endif
