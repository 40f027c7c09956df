/* adv_commands.c: the commands `mlship advise` prints (adv_commands.h). Every line is a
 * command this CLI accepts as written; tests/cli/test_advise.sh runs each of them. */
#include "cli/adv_commands.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void adv_shell_quote(char *dst, size_t cap, const char *s)
{
    int safe = *s != 0;
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-", *p))
            safe = 0;
    if (safe) { snprintf(dst, cap, "%s", s); return; }
    size_t n = 0;
    if (cap < 3) { if (cap) dst[0] = 0; return; }
    dst[n++] = '\'';
    for (const char *p = s; *p && n + 5 < cap; p++) {
        if (*p == '\'') { memcpy(dst + n, "'\\''", 4); n += 4; }
        else dst[n++] = *p;
    }
    dst[n++] = '\'';
    dst[n] = 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void add(adv_commands *c, const char *fmt, ...)
{
    if (c->n >= ADV_MAX_CMDS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->cmd[c->n++], ADV_CMD_LEN, fmt, ap);
    va_end(ap);
}

/* the places, quoted once */
typedef struct quoted { char model[1100], name[300], ident[300], input[1100], key[300],
                        store[1100], queue[1100], dir[1100], backend[1100], port[64]; } quoted;

static void quote_all(const adv_places *p, quoted *q)
{
    adv_shell_quote(q->model, sizeof q->model, p->model);
    adv_shell_quote(q->name, sizeof q->name, p->name);
    adv_shell_quote(q->ident, sizeof q->ident, p->ident);
    adv_shell_quote(q->input, sizeof q->input, p->input);
    adv_shell_quote(q->key, sizeof q->key, p->key);
    adv_shell_quote(q->store, sizeof q->store, p->store);
    adv_shell_quote(q->queue, sizeof q->queue, p->queue);
    adv_shell_quote(q->dir, sizeof q->dir, p->dir);
    adv_shell_quote(q->backend, sizeof q->backend, p->backend);
    adv_shell_quote(q->port, sizeof q->port, p->port);
}

static void batch_units(const adv_advice *o, const adv_places *p, const quoted *q, adv_commands *c)
{
    char bin[1100];
    adv_shell_quote(bin, sizeof bin, p->mlship);
    snprintf(c->unit_name, sizeof c->unit_name, "mlship-%s", p->name);
    snprintf(c->service, sizeof c->service,
             "# /etc/systemd/system/%s.service\n"
             "[Unit]\n"
             "Description=mlship batch scoring of %s\n"
             "[Service]\n"
             "Type=oneshot\n"
             "ExecStart=%s batch --resume --model %s --input %s --key %s --name %s --store %s\n",
             c->unit_name, p->name, bin, q->model, q->input, q->key, q->name, q->store);
    snprintf(c->timer, sizeof c->timer,
             "# /etc/systemd/system/%s.timer\n"
             "[Timer]\n"
             "OnCalendar=%s\n"
             "Persistent=true\n"
             "[Install]\n"
             "WantedBy=timers.target\n",
             c->unit_name, o->on_calendar);
}

static void edge_commands(const adv_advice *o, const quoted *q, adv_commands *c)
{
    if (o->device == ADV_DEVICE_CORTEX_M4) {
        add(c, "mlship export-c %s --name %s -o %s --report", q->model, q->ident, q->dir);
        return;
    }
    if (o->device == ADV_DEVICE_BROWSER) {
        /* the package is built from the source tree; the model is loaded by the page */
        add(c, "make wasm");
        return;
    }
    add(c, "mlship edge keygen -o %s/edge.key", q->dir);
    add(c, "mlship edge publish --key %s/edge.key --model %s --name %s --version 1 --dir %s", q->dir,
        q->model, q->name, q->dir);
    add(c, "mlship agent --state %s/agent --backend %s --name %s --pubkey %s/edge.key.pub", q->dir,
        q->backend, q->name, q->dir);
}

void adv_commands_build(const adv_advice *o, const adv_places *p, double requests_per_s,
                        double rows_per_s, adv_commands *c)
{
    memset(c, 0, sizeof *c);
    quoted q;
    quote_all(p, &q);
    switch (o->mode) {
    case ADV_MODE_REALTIME:
        add(c, "mlship serve --model %s --host 0.0.0.0 --port %s", q.model, q.port);
        break;
    case ADV_MODE_BATCH:
        add(c, "mlship batch --resume --model %s --input %s --key %s --name %s --store %s", q.model,
            q.input, q.key, q.name, q.store);
        add(c, "mlship batch runs --name %s --store %s", q.name, q.store);
        batch_units(o, p, &q, c);
        break;
    case ADV_MODE_STREAMING: {
        long threads = 1;
        if (requests_per_s > 0 && rows_per_s > 0) threads = (long)ceil(requests_per_s / rows_per_s);
        if (threads < 1) threads = 1;
        add(c, "mlship stream work --model %s --queue %s --store %s --threads %ld", q.model, q.queue,
            q.store, threads);
        add(c, "mlship stream status --queue %s", q.queue);
        break;
    }
    case ADV_MODE_EDGE: edge_commands(o, &q, c); break;
    default: break;
    }
}
