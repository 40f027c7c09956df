/* sm_pipe.c: the pipe's loop (sm_pipe.h): one event at a time through the default (or named)
 * model, its result to the output, its alert transition to the alert output. */
#include "stream/sm_pipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_clock.h"
#include "base/bs_error.h"
#include "codec/codec_buf.h"
#include "queue/queue.h"
#include "stream/sm_event.h"
#include "stream/sm_result.h"
#include "stream/sm_score.h"

typedef struct sink {
    FILE *f;      /* JSON Lines, or */
    qu_queue *q;  /* a queue's stream */
} sink;

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

static ms_status sink_fields(sink *s, const qu_field *f, int n, const mc_buf *line, ms_error *err)
{
    if (s->f) {
        if (fwrite(line->data, 1, line->len, s->f) != line->len || fputc('\n', s->f) == EOF || fflush(s->f))
            return bs_fail(err, MS_ERR_RUNTIME, "cannot write to stdout");
        return MS_OK;
    }
    const qu_field *msgs[1] = {f};
    return qu_send(s->q, NULL, msgs, &n, 1, 0, NULL, err);
}

/* Score one message: r filled (strings in *keep and *out). */
static void score_one(const sm_pipe_cfg *c, const qu_msg *m, sm_event *ev, sm_model_ref *ref,
                      int *held, sm_row *row, mc_buf *out)
{
    ms_error err = {{0}};
    row->error[0] = 0;
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

/* The result (and alert) of message m. */
static ms_status handle(const sm_pipe_cfg *c, const qu_msg *m, sink *out, sink *aout, long *alerts,
                        ms_error *err)
{
    sm_event ev = {0};
    sm_model_ref ref = {0};
    int held = 0;
    sm_row row = {0};
    mc_buf outs = {0}, line = {0};
    score_one(c, m, &ev, &ref, &held, &row, &outs);
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
    ms_status st = sink_fields(out, f, nf, &line, err);
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
        st = sink_fields(aout, af, na, &line, err);
        if (st == MS_OK) (*alerts)++;
    }
    if (held) c->models->release(c->models->ctx, &ref);
    free(outputs);
    sm_event_free(&ev);
    mc_buf_free(&outs);
    mc_buf_free(&line);
    return st;
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
        st = handle(c, &m, out, aout, alerts, err);
        (*events)++;
    }
    free(buf);
    return st;
}

static ms_status run_queue(const sm_pipe_cfg *c, sink *out, sink *aout, long *events, long *alerts,
                           ms_error *err)
{
    qu_opts o = qu_opts_default();
    o.consumer = c->consumer;
    qu_queue *q = NULL;
    ms_status st = qu_open(c->in_url, &o, &q, err);
    while (st == MS_OK && !atomic_load(c->stop)) {
        qu_batch b = {0};
        st = qu_read(q, (size_t)(c->batch > 0 ? c->batch : 64), 200, &b, err);
        for (size_t i = 0; st == MS_OK && i < b.n; i++) {
            st = handle(c, &b.msgs[i], out, aout, alerts, err);
            (*events)++;
        }
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
    sink out, aout;
    ms_status st = sink_open(c->out_url, c->consumer, &out, err);
    if (st) return st;
    int same = !c->alert_out_url || strcmp(c->alert_out_url, c->out_url) == 0;
    if (same) aout = out;
    else if ((st = sink_open(c->alert_out_url, c->consumer, &aout, err)) != MS_OK) {
        qu_close(out.q);
        return st;
    }
    st = strcmp(c->in_url, "-") == 0 ? run_stdin(c, &out, &aout, events, alerts, err)
                                     : run_queue(c, &out, &aout, events, alerts, err);
    if (!same) qu_close(aout.q);
    qu_close(out.q);
    return st;
}
