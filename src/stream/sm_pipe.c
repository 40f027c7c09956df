/* sm_pipe.c: the pipe's loop (sm_pipe.h): one event at a time through the default (or named)
 * model, its result to the output, its alert transition to the alert output. */
#include "stream/sm_pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_clock.h"
#include "base/bs_error.h"
#include "base/bs_hash.h"
#include "codec/codec_buf.h"
#include "queue/queue.h"
#include "stream/sm_event.h"
#include "stream/sm_result.h"
#include "stream/sm_score.h"

typedef struct sink {
    FILE *f;      /* JSON Lines, or */
    qu_queue *q;  /* a queue's stream, */
    qu_field **held; /* its messages held until the input batch is done (sink_flush): each */
    int *nheld;      /* one allocation, the fields' bytes after the field array */
    size_t n, cap;
} sink;

static void sink_drop(sink *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->held[i]);
    s->n = 0;
}

static int sink_hold(sink *s, const qu_field *f, int n)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        qu_field **h = realloc(s->held, nc * sizeof *h);
        if (h) s->held = h;
        int *nh = realloc(s->nheld, nc * sizeof *nh);
        if (nh) s->nheld = nh;
        if (!h || !nh) return -1;
        s->cap = nc;
    }
    size_t bytes = (size_t)n * sizeof *f;
    for (int i = 0; i < n; i++) bytes += f[i].name_len + f[i].val_len;
    qu_field *c = malloc(bytes ? bytes : 1);
    if (!c) return -1;
    char *p = (char *)(c + n);
    for (int i = 0; i < n; i++) {
        c[i] = (qu_field){p, f[i].name_len, p + f[i].name_len, f[i].val_len};
        if (f[i].name_len) memcpy(p, f[i].name, f[i].name_len);
        if (f[i].val_len) memcpy(p + f[i].name_len, f[i].val, f[i].val_len);
        p += f[i].name_len + f[i].val_len;
    }
    s->held[s->n] = c;
    s->nheld[s->n++] = n;
    return 0;
}

static ms_status sink_open(const char *url, const char *consumer, sink *s, ms_error *err)
{
    memset(s, 0, sizeof *s);
    if (strcmp(url, "-") == 0) {
        s->f = stdout;
        return MS_OK;
    }
    qu_opts o = qu_opts_default();
    o.consumer = consumer;
    return qu_open(url, &o, &s->q, err);
}

static void sink_close(sink *s)
{
    sink_drop(s);
    free(s->held);
    free(s->nheld);
    qu_close(s->q);
}

/* stdout: written at once; a queue: held for sink_flush (one send per input batch). */
static ms_status sink_fields(sink *s, const qu_field *f, int n, const mc_buf *line, ms_error *err)
{
    if (s->f) {
        if (fwrite(line->data, 1, line->len, s->f) != line->len || fputc('\n', s->f) == EOF || fflush(s->f))
            return bs_fail(err, MS_ERR_RUNTIME, "cannot write to stdout");
        return MS_OK;
    }
    return sink_hold(s, f, n) == 0 ? MS_OK : bs_fail(err, MS_ERR_RUNTIME, "out of memory");
}

/* A queue sink of MQTT publishes the result line itself as the payload (the "json" form),
 * which any subscriber reads as JSON; other queues get the fields. */
static ms_status sink_result(sink *s, const qu_field *f, int n, const mc_buf *line, ms_error *err)
{
    if (s->q && strcmp(qu_backend(s->q), "mqtt") == 0) {
        qu_field j = {"json", 4, line->data, line->len};
        return sink_fields(s, &j, 1, line, err);
    }
    return sink_fields(s, f, n, line, err);
}

static ms_status sink_flush(sink *s, ms_error *err)
{
    if (!s->q || s->n == 0) return MS_OK;
    ms_status st = qu_send(s->q, NULL, (const qu_field *const *)s->held, s->nheld, s->n, 0, NULL, err);
    sink_drop(s);
    return st;
}

/* Score one message: r filled (strings in *keep and *out). */
static void score_one(const sm_pipe_cfg *c, const qu_msg *m, const char *bad, sm_event *ev,
                      sm_model_ref *ref, int *held, sm_row *row, mc_buf *out)
{
    ms_error err = {{0}};
    row->error[0] = 0;
    if (bad) {
        snprintf(row->error, sizeof row->error, "%s", bad);
        return;
    }
    if (sm_event_parse(m, ev, &err) != MS_OK) {
        snprintf(row->error, sizeof row->error, "%s", err.msg);
        return;
    }
    if (ev->ninputs == 0) {
        snprintf(row->error, sizeof row->error, "no field 'features' (stream pipe reads no feature store)");
        return;
    }
    char why[300];
    int status = c->models->acquire(c->models->ctx, ev->model, ref, why, sizeof why);
    if (status) {
        snprintf(row->error, sizeof row->error, "field 'model': %s", why);
        return;
    }
    *held = 1;
    row->ev = ev;
    if (sm_score(ref, row, 1, out, &err) != MS_OK) snprintf(row->error, sizeof row->error, "%s", err.msg);
}

/* The result (and alert) of message m; bad: the reason m is no event (a reading that is
 * none of the payload forms), else NULL. */
static ms_status handle(const sm_pipe_cfg *c, const qu_msg *m, const char *bad, sink *out, sink *aout,
                        long *alerts, ms_error *err)
{
    sm_event ev = {0};
    sm_model_ref ref = {0};
    int held = 0;
    sm_row row = {0};
    mc_buf outs = {0}, line = {0};
    score_one(c, m, bad, &ev, &ref, &held, &row, &outs);
    char id[ST_NAME_MAX], key[ST_KEY_MAX], at[BS_ISO_CAP];
    if (!ev.id && !sm_event_peek(m, "id", id, sizeof id)) snprintf(id, sizeof id, "%s", m->id);
    if (!ev.id && !sm_event_peek(m, "key", key, sizeof key)) key[0] = 0;
    char *outputs = row.error[0] ? NULL : strndup(outs.data + row.off, row.len);
    sm_result r = {ev.id ? ev.id : id, ev.id ? ev.key : (key[0] ? key : NULL),
                   held ? ref.name : ev.model, held ? ref.version : NULL, outputs,
                   row.error[0] || !outputs ? (row.error[0] ? row.error : "out of memory") : NULL,
                   ev.ts, bs_now_iso(at)};
    sm_result_json(&line, &r);
    qu_field f[SM_RESULT_FIELDS];
    int nf = sm_result_fields(&r, f);
    ms_status st = sink_result(out, f, nf, &line, err);
    double v;
    int tr = st == MS_OK && c->alert && outputs ? sm_alert_step(c->alert, r.key, outputs, strlen(outputs), &v, err) : 0;
    if (tr < 0) { /* a rule the outputs cannot answer is the user's error: say so once, go on */
        fprintf(stderr, "mlship stream pipe: %s\n", err->msg);
        tr = 0;
    }
    if (tr > 0) {
        char vs[40];
        snprintf(vs, sizeof vs, "%.9g", v);
        const char *kind = tr == SM_ALERT_RAISED ? "raised" : "cleared";
        mc_buf_reset(&line);
        mc_buf_puts(&line, "{\"alert\":");
        mc_buf_put_json_str(&line, kind);
        mc_buf_puts(&line, ",\"rule\":");
        mc_buf_put_json_str(&line, sm_alert_rule(c->alert));
        mc_buf_puts(&line, ",\"id\":");
        mc_buf_put_json_str(&line, r.id);
        if (r.key) mc_buf_puts(&line, ",\"key\":"), mc_buf_put_json_str(&line, r.key);
        mc_buf_printf(&line, ",\"value\":%s", vs);
        if (r.ts) mc_buf_puts(&line, ",\"ts\":"), mc_buf_put_json_str(&line, r.ts);
        mc_buf_putc(&line, '}');
        qu_field af[6] = {{"alert", 5, kind, strlen(kind)}, {"rule", 4, sm_alert_rule(c->alert), strlen(sm_alert_rule(c->alert))},
                          {"id", 2, r.id, strlen(r.id)}, {"value", 5, vs, strlen(vs)}};
        int na = 4;
        if (r.key) af[na++] = (qu_field){"key", 3, r.key, strlen(r.key)};
        if (r.ts) af[na++] = (qu_field){"ts", 2, r.ts, strlen(r.ts)};
        st = sink_result(aout, af, na, &line, err);
        if (st == MS_OK) (*alerts)++;
    }
    if (held) c->models->release(c->models->ctx, &ref);
    free(outputs);
    sm_event_free(&ev);
    mc_buf_free(&outs);
    mc_buf_free(&line);
    return st;
}

/* One input message: a reading turned into an event first (MQTT input), then scored, or
 * forwarded as it is when there is no model (the bridge). */
static ms_status one(const sm_pipe_cfg *c, int mqtt, const qu_msg *m, sink *out, sink *aout, long *alerts,
                     ms_error *err)
{
    sm_fields ef = {0};
    qu_msg em = {.order = m->order};
    memcpy(em.id, m->id, sizeof em.id);
    char bad[sizeof(ms_error)] = "";
    const qu_msg *ev = m;
    if (mqtt) {
        const char *topic = "", *payload = "";
        size_t tl = 0, pl = 0;
        for (int i = 0; i < m->nfields; i++) {
            if (m->fields[i].name_len == 5 && memcmp(m->fields[i].name, "topic", 5) == 0)
                topic = m->fields[i].val, tl = m->fields[i].val_len;
            if (m->fields[i].name_len == 7 && memcmp(m->fields[i].name, "payload", 7) == 0)
                payload = m->fields[i].val, pl = m->fields[i].val_len;
        }
        ms_error rerr = {{0}};
        if (sm_reading_fields(topic, tl, payload, pl, &c->reading, &ef, &rerr) != MS_OK)
            snprintf(bad, sizeof bad, "%s", rerr.msg);
        em.fields = ef.f, em.nfields = ef.n, ev = &em;
        if (bad[0] && !c->models) { /* forwarded with the reason, for the worker's dead letters */
            int n = ef.n;
            for (int i = 0; i < n; i++) /* no key: the worker must not look one up */
                if (strcmp(ef.f[i].name, "key") == 0) ef.f[i] = ef.f[--n], i--;
            qu_field extra[3] = {{"topic", 5, topic, tl}, {"payload", 7, payload, pl}, {"error", 5, bad, strlen(bad)}};
            qu_field all[11];
            memcpy(all, ef.f, (size_t)n * sizeof *all);
            memcpy(all + n, extra, sizeof extra);
            ms_status st = sink_fields(out, all, n + 3, NULL, err);
            sm_fields_free(&ef);
            return st;
        }
    }
    ms_status st;
    if (!c->models) {
        st = sink_fields(out, ev->fields, ev->nfields, NULL, err); /* a queue (sm_pipe_run) */
    } else {
        st = handle(c, ev, bad[0] ? bad : NULL, out, aout, alerts, err);
    }
    sm_fields_free(&ef);
    return st;
}

static ms_status flush_both(sink *out, sink *aout, ms_error *err)
{
    ms_status st = sink_flush(out, err);
    return st == MS_OK && aout != out ? sink_flush(aout, err) : st;
}

static ms_status run_stdin(const sm_pipe_cfg *c, sink *out, sink *aout, long *events, long *alerts,
                           ms_error *err)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    ms_status st = MS_OK;
    for (long line = 1; st == MS_OK && !atomic_load(c->stop) && (n = getline(&buf, &cap, stdin)) >= 0; line++) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        if (n == 0) continue;
        qu_field f = {"json", 4, buf, (size_t)n};
        qu_msg m = {.nfields = 1, .fields = &f, .order = line};
        snprintf(m.id, sizeof m.id, "line-%ld", line);
        st = one(c, 0, &m, out, aout, alerts, err);
        if (st == MS_OK) st = flush_both(out, aout, err);
        (*events)++;
    }
    free(buf);
    return st;
}

static ms_status run_queue(const sm_pipe_cfg *c, const char *consumer, sink *out, sink *aout, long *events,
                           long *alerts, ms_error *err)
{
    qu_opts o = qu_opts_default();
    o.consumer = consumer;
    qu_queue *q = NULL;
    ms_status st = qu_open(c->in_url, &o, &q, err);
    int mqtt = st == MS_OK && strcmp(qu_backend(q), "mqtt") == 0;
    while (st == MS_OK && !atomic_load(c->stop)) {
        qu_batch b = {0};
        st = qu_read(q, (size_t)(c->batch > 0 ? c->batch : 64), 200, &b, err);
        for (size_t i = 0; st == MS_OK && i < b.n; i++) {
            st = one(c, mqtt, &b.msgs[i], out, aout, alerts, err);
            (*events)++;
        }
        if (st == MS_OK) st = flush_both(out, aout, err); /* outputs durable, then the ack */
        if (st == MS_OK && b.n) st = qu_ack(q, &b, err);
        qu_batch_free(&b);
    }
    qu_close(q);
    return st;
}

ms_status sm_pipe_run(const sm_pipe_cfg *c, long *events, long *alerts, ms_error *err)
{
    long ev0 = 0, al0 = 0;
    events = events ? events : &ev0;
    alerts = alerts ? alerts : &al0;
    *events = *alerts = 0;
    if (!c->models && c->alert) return bs_fail(err, MS_ERR_INVALID, "an alert rule needs a model");
    if (!c->models && strcmp(c->out_url, "-") == 0)
        return bs_fail(err, MS_ERR_INVALID, "without a model the pipe forwards events to a queue: give --out URL, not -");
    char stable[40];
    const char *consumer = c->consumer;
    if (!consumer && strncmp(c->in_url, "mqtt://", 7) == 0) {
        snprintf(stable, sizeof stable, "mlship-pipe-%016llx",
                 (unsigned long long)bs_fnv1a(c->in_url, strlen(c->in_url), BS_FNV_INIT));
        consumer = stable;
    }
    sink out, aout;
    ms_status st = sink_open(c->out_url, consumer, &out, err);
    if (st) return st;
    int same = !c->alert_out_url || strcmp(c->alert_out_url, c->out_url) == 0;
    if (!same && (st = sink_open(c->alert_out_url, consumer, &aout, err)) != MS_OK) {
        sink_close(&out);
        return st;
    }
    sink *ap = same ? &out : &aout;
    st = strcmp(c->in_url, "-") == 0 ? run_stdin(c, &out, ap, events, alerts, err)
                                     : run_queue(c, consumer, &out, ap, events, alerts, err);
    if (!same) sink_close(&aout);
    sink_close(&out);
    return st;
}
