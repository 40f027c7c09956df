/* store_redis_stream.c: the Redis backend's stream results and tickets (store.h, "stream
 * results and tickets"); the connection and helpers are store_redis.c's (store_redis_int.h).
 *
 * Keys (a model name never holds '/', so "<model>/<key>" cannot be read two ways):
 *   mlship:se:<event_id>      hash: model, key, version, outputs | error, ord, scored_at, scored_ms
 *   mlship:sr:<model>/<key>   hash: the key's latest result: event_id, version, outputs, ord,
 *                             scored_at, scored_ms
 *   mlship:tk:<ticket>        hash: model, key, event_id, created_ms; expires after 24 h
 *   mlship:tp:<model>/<key>   string: the key's newest ticket (the pending index); same expiry
 * Every write is one Lua script (EVAL), which Redis runs atomically: "newest order wins" and
 * "one ticket per pending key" hold across servers sharing the Redis, and no reader sees half
 * a call. Orders compare as decimal strings: queue orders reach 2^60 and Lua numbers are
 * doubles. The scripts name keys they derive (the pending index, an event's row), so they
 * want a single Redis, not a cluster. Redis keeps no batch runs: latest is the stream's. */
#include "store/store_int.h"

#include "base/bs_clock.h"

#ifndef MS_WITH_REDIS
#define MS_WITH_REDIS 1
#endif

#if MS_WITH_REDIS

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_redis_int.h"

#define TICKET_TTL_S "86400" /* a ticket outlives any pending window a server would use */
#define SCAN_COUNT "500"

/* ==== an argument vector, some of it owned ================================================ */

typedef struct rd_args {
    const char **v;
    char **owned; /* owned[i]: v[i] when this vector allocated it, else NULL */
    size_t n, cap;
    int oom;
} rd_args;

static void args_add_owned(rd_args *a, const char *v, char *own)
{
    if (!a->oom && a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        const char **v2 = realloc(a->v, cap * sizeof *v2);
        if (v2) a->v = v2;
        char **o2 = v2 ? realloc(a->owned, cap * sizeof *o2) : NULL;
        if (o2) a->owned = o2;
        if (!v2 || !o2) a->oom = 1;
        else a->cap = cap;
    }
    if (a->oom || !v) {
        a->oom = 1;
        free(own);
        return;
    }
    a->v[a->n] = v;
    a->owned[a->n++] = own;
}

static void args_add(rd_args *a, const char *v) { args_add_owned(a, v, NULL); }

/* prefix + a + (b ? "/" + b : "") */
static void args_key(rd_args *a, const char *prefix, const char *x, const char *y)
{
    st_sb b = {0};
    st_sb_puts(&b, prefix);
    st_sb_puts(&b, x);
    if (y) {
        st_sb_put(&b, "/", 1);
        st_sb_puts(&b, y);
    }
    if (b.oom) {
        st_sb_free(&b);
        a->oom = 1;
        return;
    }
    args_add_owned(a, b.p, b.p);
}

static void args_int(rd_args *a, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    char *p = st_strdup(buf);
    args_add_owned(a, p, p);
}

static void args_free(rd_args *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->owned[i]);
    free(a->v);
    free(a->owned);
    memset(a, 0, sizeof *a);
}

/* Run the command in `a`; *out gets the reply (an error reply is turned into err). */
static ms_status rd_run(rd_store *s, rd_args *a, const char *what, redisReply **out,
                        ms_error *err)
{
    *out = NULL;
    if (a->oom) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    redisReply *r = redisCommandArgv(s->c, (int)a->n, a->v, NULL);
    if (!r) return rd_err(s, err, what, NULL);
    if (r->type == REDIS_REPLY_ERROR) {
        ms_status st = rd_err(s, err, what, r->str);
        freeReplyObject(r);
        return st;
    }
    *out = r;
    return MS_OK;
}

/* The string field `name` of an HGETALL reply (NULL if absent). */
static const char *field(const redisReply *r, const char *name)
{
    if (r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, name) == 0)
            return r->element[i + 1]->type == REDIS_REPLY_STRING ? r->element[i + 1]->str : NULL;
    return NULL;
}

/* HGETALL of the hash prefix + id (one event's result, one ticket) into *out. */
static ms_status hgetall(rd_store *s, const char *prefix, const char *id, const char *what,
                         redisReply **out, ms_error *err)
{
    ms_status st = rd_ready(s, err);
    if (st != MS_OK) return st;
    rd_args a = {0};
    args_add(&a, "HGETALL");
    args_key(&a, prefix, id, NULL);
    st = rd_run(s, &a, what, out, err);
    args_free(&a);
    return st;
}

static const char *str_at(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str
                                                                         : NULL;
}

/* ==== results =========================================================================== */

/* KEYS: per row its event key and its latest key. ARGV: now, now_ms, ttl_s, then per row
 * event_id, model, key, version, ord, kind ('o' outputs / 'e' error), payload. */
static const char *PUT_LUA =
    "local function gt(a, b) if #a ~= #b then return #a > #b end return a > b end\n"
    "local now, nowms, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
    "for i = 0, #KEYS / 2 - 1 do\n"
    "  local se, sr, a = KEYS[2 * i + 1], KEYS[2 * i + 2], 4 + 7 * i\n"
    "  local ev, ver, ord, kind, pay = ARGV[a], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]\n"
    "  if redis.call('EXISTS', se) == 0 then\n"
    "    redis.call('HSET', se, 'model', ARGV[a + 1], 'key', ARGV[a + 2], 'version', ver,\n"
    "                kind == 'o' and 'outputs' or 'error', pay, 'ord', ord, 'scored_at', now,\n"
    "                'scored_ms', nowms)\n"
    "    if ttl > 0 then redis.call('EXPIRE', se, ttl) end\n"
    "    local cur = redis.call('HGET', sr, 'ord')\n"
    "    if kind == 'o' and (not cur or gt(ord, cur)) then\n"
    "      redis.call('HSET', sr, 'event_id', ev, 'version', ver, 'outputs', pay, 'ord', ord,\n"
    "                  'scored_at', now, 'scored_ms', nowms)\n"
    "      if ttl > 0 then redis.call('EXPIRE', sr, ttl) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return 1\n";

ms_status rd_stream_put(st_store *base, const st_stream_row *rows, size_t n, int64_t ttl_s,
                        int64_t now_ms, ms_error *err)
{
    rd_store *s = (rd_store *)base;
    ms_status st = rd_ready(s, err);
    if (st != MS_OK) return st;
    char now[BS_ISO_CAP];
    bs_iso_utc((time_t)(now_ms / 1000), now);
    rd_args a = {0};
    args_add(&a, "EVAL");
    args_add(&a, PUT_LUA);
    args_int(&a, (int64_t)(2 * n));
    for (size_t i = 0; i < n; i++) {
        args_key(&a, "mlship:se:", rows[i].event_id, NULL);
        args_key(&a, "mlship:sr:", rows[i].model, rows[i].key);
    }
    args_add(&a, now);
    args_int(&a, now_ms);
    args_int(&a, ttl_s > 0 ? ttl_s : 0);
    for (size_t i = 0; i < n; i++) {
        const st_stream_row *r = &rows[i];
        args_add(&a, r->event_id);
        args_add(&a, r->model);
        args_add(&a, r->key);
        args_add(&a, r->model_version ? r->model_version : "");
        args_int(&a, r->order);
        args_add(&a, r->error ? "e" : "o");
        args_add(&a, r->error ? r->error : r->outputs);
    }
    redisReply *rep;
    st = rd_run(s, &a, "store stream results", &rep, err);
    /* A connection that dropped since the last call (a server restart, a cut network: found
     * only now) is reconnected once and the call repeated: the script is idempotent (rows
     * keyed by event id; per key the newest order wins), so a lost reply is harmless, and the
     * worker is spared failing a batch that would go back to the queue to wait for its lease. */
    if (st != MS_OK && s->c->err && rd_ready(s, err) == MS_OK)
        st = rd_run(s, &a, "store stream results", &rep, err);
    if (st == MS_OK) freeReplyObject(rep);
    args_free(&a);
    return st;
}

ms_status rd_stream_event(st_store *base, const char *event_id, st_event_fn fn, void *ctx,
                          ms_error *err)
{
    redisReply *r;
    ms_status st = hgetall((rd_store *)base, "mlship:se:", event_id, "stream result", &r, err);
    if (st != MS_OK) return st;
    if (!field(r, "scored_at")) {
        fn(ctx, NULL, NULL);
    } else {
        st_pred_row row = {.event_id = event_id, .model = field(r, "model"),
                           .key = field(r, "key"), .model_version = field(r, "version"),
                           .outputs = field(r, "outputs"), .scored_at = field(r, "scored_at"),
                           .source = "stream"};
        fn(ctx, &row, field(r, "error"));
    }
    freeReplyObject(r);
    return MS_OK;
}

/* Every key's latest row in one MULTI/EXEC (one consistent view), pipelined. */
ms_status rd_pred_latest(st_store *base, const char *model, const char *const *keys,
                         size_t nkeys, st_pred_fn fn, void *ctx, ms_error *err)
{
    rd_store *s = (rd_store *)base;
    ms_status st = rd_ready(s, err);
    if (st != MS_OK) return st;
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    size_t sent = 0;
    if (redisAppendCommandArgv(s->c, 1, multi, NULL) != REDIS_OK) return rd_err(s, err, "MULTI", NULL);
    for (size_t i = 0; i < nkeys && st == MS_OK; i++) {
        rd_args a = {0};
        args_add(&a, "HMGET");
        args_key(&a, "mlship:sr:", model, keys[i]);
        args_add(&a, "event_id");
        args_add(&a, "version");
        args_add(&a, "outputs");
        args_add(&a, "scored_at");
        if (a.oom) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        else if (redisAppendCommandArgv(s->c, (int)a.n, a.v, NULL) != REDIS_OK)
            st = rd_err(s, err, "HMGET", NULL);
        else
            sent++;
        args_free(&a);
    }
    /* on a failure mid-way, EXEC still runs what was queued (reads only), keeping the
     * connection in step */
    if (redisAppendCommandArgv(s->c, 1, exec, NULL) != REDIS_OK)
        return st == MS_OK ? rd_err(s, err, "EXEC", NULL) : st;
    redisReply *r = NULL;
    for (size_t i = 0; i < sent + 2; i++) { /* +OK, QUEUED per key, then EXEC's array */
        if (r) freeReplyObject(r);
        r = NULL;
        if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r)
            return st == MS_OK ? rd_err(s, err, "latest", NULL) : st;
        if (r->type == REDIS_REPLY_ERROR && st == MS_OK) st = rd_err(s, err, "latest", r->str);
    }
    if (st == MS_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != nkeys))
        st = rd_err(s, err, "latest", "unexpected reply");
    for (size_t i = 0; i < nkeys && st == MS_OK; i++) {
        const redisReply *h = r->element[i];
        int stop;
        if (h->type == REDIS_REPLY_ERROR) {
            st = rd_err(s, err, "latest", h->str);
            break;
        }
        if (h->type != REDIS_REPLY_ARRAY || !str_at(h, 2) || !str_at(h, 3)) {
            stop = fn(ctx, i, NULL);
        } else {
            st_pred_row row = {.key = keys[i], .model = model, .event_id = str_at(h, 0),
                               .model_version = str_at(h, 1), .outputs = str_at(h, 2),
                               .scored_at = str_at(h, 3), .source = "stream"};
            stop = fn(ctx, i, &row);
        }
        if (stop) break;
    }
    freeReplyObject(r);
    return st;
}

/* KEYS: candidates; ARGV: the time field, the cutoff (ms). Returns how many it deleted. */
static const char *PRUNE_LUA =
    "local n, cut = 0, tonumber(ARGV[2])\n"
    "for _, k in ipairs(KEYS) do\n"
    "  local v = redis.call('HGET', k, ARGV[1])\n"
    "  if v and tonumber(v) < cut then redis.call('DEL', k); n = n + 1 end\n"
    "end\n"
    "return n\n";

/* One SCAN pass over `pattern`, each page pruned by one script. */
static ms_status prune_pattern(rd_store *s, const char *pattern, const char *time_field,
                               int64_t cutoff_ms, ms_error *err)
{
    char cursor[32] = "0";
    ms_status st = MS_OK;
    do {
        const char *scan[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT};
        redisReply *r = redisCommandArgv(s->c, 6, scan, NULL);
        if (!r) return rd_err(s, err, "SCAN", NULL);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            st = rd_err(s, err, "SCAN", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            return st;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *page = r->element[1];
        if (page->elements > 0) {
            rd_args a = {0};
            args_add(&a, "EVAL");
            args_add(&a, PRUNE_LUA);
            args_int(&a, (int64_t)page->elements);
            for (size_t i = 0; i < page->elements; i++) args_add(&a, page->element[i]->str);
            args_add(&a, time_field);
            args_int(&a, cutoff_ms);
            redisReply *rep;
            st = rd_run(s, &a, "prune", &rep, err);
            if (st == MS_OK) freeReplyObject(rep);
            args_free(&a);
        }
        freeReplyObject(r);
    } while (st == MS_OK && strcmp(cursor, "0") != 0);
    return st;
}

/* Not one transaction (Redis cannot scan atomically); each deletion is whole, and a result
 * written during the scan is young enough to stay. The pending index expires by itself, and
 * a claim ignores an index whose ticket is gone. */
ms_status rd_stream_prune(st_store *base, int64_t cutoff_ms, ms_error *err)
{
    rd_store *s = (rd_store *)base;
    ms_status st = rd_ready(s, err);
    if (st == MS_OK) st = prune_pattern(s, "mlship:se:*", "scored_ms", cutoff_ms, err);
    if (st == MS_OK) st = prune_pattern(s, "mlship:sr:*", "scored_ms", cutoff_ms, err);
    if (st == MS_OK) st = prune_pattern(s, "mlship:tk:*", "created_ms", cutoff_ms, err);
    return st;
}

/* ==== tickets =========================================================================== */

/* KEYS: the pending index, the fresh ticket. ARGV: ticket, model, key, event_id, created_ms,
 * pending_ms, ttl_s. Returns {0, ticket, model, key, event_id, created_ms} for the pending
 * ticket, or {1} when the fresh one was stored. */
static const char *CLAIM_LUA =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur then\n"
    "  local h = redis.call('HMGET', 'mlship:tk:' .. cur, 'model', 'key', 'event_id', 'created_ms')\n"
    "  if h[3] and tonumber(h[4]) > tonumber(ARGV[5]) - tonumber(ARGV[6])\n"
    "     and redis.call('EXISTS', 'mlship:se:' .. h[3]) == 0 then\n"
    "    return {0, cur, h[1], h[2], h[3], h[4]}\n"
    "  end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  return redis.error_reply('ticket ' .. ARGV[1] .. ' already exists')\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'model', ARGV[2], 'key', ARGV[3], 'event_id', ARGV[4],\n"
    "            'created_ms', ARGV[5])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[7])\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[7])\n"
    "return {1}\n";

ms_status rd_ticket_claim(st_store *base, const st_ticket *fresh, int64_t pending_ms,
                          st_ticket *out, int *created, ms_error *err)
{
    rd_store *s = (rd_store *)base;
    ms_status st = rd_ready(s, err);
    if (st != MS_OK) return st;
    rd_args a = {0};
    args_add(&a, "EVAL");
    args_add(&a, CLAIM_LUA);
    args_add(&a, "2");
    args_key(&a, "mlship:tp:", fresh->model, fresh->key);
    args_key(&a, "mlship:tk:", fresh->ticket, NULL);
    args_add(&a, fresh->ticket);
    args_add(&a, fresh->model);
    args_add(&a, fresh->key);
    args_add(&a, fresh->event_id);
    args_int(&a, fresh->created_ms);
    args_int(&a, pending_ms);
    args_add(&a, TICKET_TTL_S);
    redisReply *r;
    st = rd_run(s, &a, "claim ticket", &r, err);
    args_free(&a);
    if (st != MS_OK) return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        (r->element[0]->integer == 0 && r->elements != 6)) {
        st = rd_err(s, err, "claim ticket", "unexpected reply");
    } else if (r->element[0]->integer == 1) {
        *out = *fresh;
        *created = 1;
    } else {
        memset(out, 0, sizeof *out);
        st_copy(out->ticket, sizeof out->ticket, str_at(r, 1));
        st_copy(out->model, sizeof out->model, str_at(r, 2));
        st_copy(out->key, sizeof out->key, str_at(r, 3));
        st_copy(out->event_id, sizeof out->event_id, str_at(r, 4));
        out->created_ms = str_at(r, 5) ? atoll(str_at(r, 5)) : 0;
        *created = 0;
    }
    freeReplyObject(r);
    return st;
}

ms_status rd_ticket_get(st_store *base, const char *ticket, st_ticket *out, int *found,
                        ms_error *err)
{
    redisReply *r;
    ms_status st = hgetall((rd_store *)base, "mlship:tk:", ticket, "ticket", &r, err);
    if (st != MS_OK) return st;
    const char *ms = field(r, "created_ms");
    *found = ms != NULL;
    if (ms) {
        st_copy(out->ticket, sizeof out->ticket, ticket);
        st_copy(out->model, sizeof out->model, field(r, "model"));
        st_copy(out->key, sizeof out->key, field(r, "key"));
        st_copy(out->event_id, sizeof out->event_id, field(r, "event_id"));
        out->created_ms = atoll(ms);
    }
    freeReplyObject(r);
    return MS_OK;
}

/* KEYS: the ticket. ARGV: its id. The pending index goes too when it points at this ticket. */
static const char *DROP_LUA =
    "local h = redis.call('HMGET', KEYS[1], 'model', 'key')\n"
    "redis.call('DEL', KEYS[1])\n"
    "if h[1] and h[2] then\n"
    "  local tp = 'mlship:tp:' .. h[1] .. '/' .. h[2]\n"
    "  if redis.call('GET', tp) == ARGV[1] then redis.call('DEL', tp) end\n"
    "end\n"
    "return 1\n";

ms_status rd_ticket_drop(st_store *base, const char *ticket, ms_error *err)
{
    rd_store *s = (rd_store *)base;
    ms_status st = rd_ready(s, err);
    if (st != MS_OK) return st;
    rd_args a = {0};
    args_add(&a, "EVAL");
    args_add(&a, DROP_LUA);
    args_add(&a, "1");
    args_key(&a, "mlship:tk:", ticket, NULL);
    args_add(&a, ticket);
    redisReply *r;
    st = rd_run(s, &a, "drop ticket", &r, err);
    args_free(&a);
    if (st == MS_OK) freeReplyObject(r);
    return st;
}

#endif
