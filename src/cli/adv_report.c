/* adv_report.c: `mlship advise`'s text and JSON answers (adv_report.h). */
#include "cli/adv_report.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* ---- text ------------------------------------------------------------------------------- */

static void text_facts(FILE *out, const adv_advice *o, const adv_measured *m)
{
    const adv_facts *f = &m->f;
    char a[32], b[32], c[32];
    adv_fmt_bytes(a, sizeof a, (double)f->file_bytes);
    fprintf(out, "facts (measured on this machine):\n  model: %s (%s, %s)\n  operators (%d):", m->path,
            m->format, a, m->n_ops);
    for (int i = 0; i < m->n_ops; i++) fprintf(out, "%s %s", i ? "," : "", m->op_type[i]);
    fprintf(out, "\n  multiply-adds per row: ");
    if (f->macs >= 0) fprintf(out, "%lld (Gemm, MatMul, Conv, linear models; trees count none)\n", (long long)f->macs);
    else fprintf(out, "not known (export-c cannot plan this model)\n");
    adv_fmt_seconds(a, sizeof a, m->b1.median_us / 1e6), adv_fmt_seconds(b, sizeof b, m->b1.p99_us / 1e6);
    fprintf(out, "  batch 1: %s median, %s p99, %.0f rows/s (one thread, %zu calls)\n", a, b,
            m->b1.rows_per_s, m->b1.calls);
    fprintf(out, "  batch %lld: %.0f rows/s (one thread)\n", (long long)m->bn.batch, m->bn.rows_per_s);
    if (f->export_ok) {
        adv_fmt_bytes(a, sizeof a, (double)f->flash_bytes), adv_fmt_bytes(b, sizeof b, (double)f->ram_bytes);
        fprintf(out, "  export-c: yes; flash %s of weights (+ code), RAM %s (arena %lld B, tree keys %lld B, "
                "stack about %lld B)\n", a, b, (long long)m->rep.arena_bytes, (long long)m->rep.keys_bytes,
                (long long)m->rep.stack_bytes);
    } else {
        fprintf(out, "  export-c: no (%s)\n", f->export_why);
    }
    const adv_device_info *di = adv_device_get(o->device);
    if (di) {
        fprintf(out, "  %s%s: %s: %s", di->name, o->device_assumed ? " (assumed)" : "",
                o->fits == 1 ? "fits" : "does not fit", o->fit_why);
        if (o->device_latency_s > 0) {
            adv_fmt_seconds(c, sizeof c, o->device_latency_s);
            fprintf(out, "; about %s a row there", c);
        }
        fprintf(out, "\n");
    }
    if (o->batch_run_s >= 0) {
        adv_fmt_seconds(a, sizeof a, o->batch_run_s), adv_fmt_seconds(b, sizeof b, o->period_s);
        fprintf(out, "  batch: one run %s, every %s: %.3g CPU-s a day\n", a, b,
                o->batch_run_s * 86400 / o->period_s);
    }
    if (o->realtime_cpu_s_day >= 0)
        fprintf(out, "  real-time: %.3g CPU-s a day of scoring\n", o->realtime_cpu_s_day);
}

int adv_report_text(FILE *out, const adv_ask *a, const adv_advice *o, const adv_measured *m,
                    const adv_commands *c)
{
    fprintf(out, "recommended: %s\n", adv_mode_name(o->mode));
    for (int i = 0; i < o->n_reasons; i++) fprintf(out, "  - %s\n", o->reasons[i]);
    fprintf(out, "runner-up: %s\n", adv_mode_name(o->runner_up));
    for (int i = 0; i < o->n_flips; i++) fprintf(out, "  flips if: %s\n", o->flips[i]);
    if (m) text_facts(out, o, m);
    else fprintf(out, "facts: none measured (give MODEL to measure latency, size and device fit)\n");
    fprintf(out, "commands:\n");
    for (int i = 0; i < c->n; i++) fprintf(out, "  %s\n", c->cmd[i]);
    if (c->service[0])
        fprintf(out, "systemd units (then: systemctl enable --now %s.timer):\n%s\n%s", c->unit_name,
                c->service, c->timer);
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------------- */

static cJSON *num_or_null(double v, int known) { return known ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *strings(const char (*lines)[ADV_LINE], int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(lines[i]));
    return arr;
}

static cJSON *json_device(const adv_advice *o)
{
    const adv_device_info *di = adv_device_get(o->device);
    if (!di) return cJSON_CreateNull();
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", di->name);
    cJSON_AddStringToObject(d, "part", di->part);
    cJSON_AddBoolToObject(d, "assumed", o->device_assumed);
    cJSON_AddStringToObject(d, "deploy", di->how);
    cJSON_AddItemToObject(d, "flash_budget_bytes", num_or_null((double)di->flash_bytes, di->flash_bytes > 0));
    cJSON_AddItemToObject(d, "ram_budget_bytes", num_or_null((double)di->ram_bytes, di->ram_bytes > 0));
    cJSON_AddItemToObject(d, "fits", o->fits < 0 ? cJSON_CreateNull() : cJSON_CreateBool(o->fits));
    cJSON_AddItemToObject(d, "why", o->fit_why[0] ? cJSON_CreateString(o->fit_why) : cJSON_CreateNull());
    cJSON_AddItemToObject(d, "est_latency_us", num_or_null(o->device_latency_s * 1e6, o->device_latency_s > 0));
    return d;
}

static cJSON *json_bench(const cli_bench_result *r)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "batch", (double)r->batch);
    cJSON_AddNumberToObject(b, "median_us", r->median_us);
    cJSON_AddNumberToObject(b, "p99_us", r->p99_us);
    cJSON_AddNumberToObject(b, "mean_us", r->mean_us);
    cJSON_AddNumberToObject(b, "rows_per_s", r->rows_per_s);
    cJSON_AddNumberToObject(b, "calls", (double)r->calls);
    return b;
}

static cJSON *json_model(const adv_measured *m)
{
    const adv_facts *f = &m->f;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", m->path);
    cJSON_AddStringToObject(j, "format", m->format);
    cJSON_AddNumberToObject(j, "file_bytes", (double)f->file_bytes);
    cJSON *ops = cJSON_AddArrayToObject(j, "operators");
    for (int i = 0; i < m->n_ops; i++) {
        cJSON *op = cJSON_CreateObject();
        cJSON_AddStringToObject(op, "domain", m->op_domain[i] && m->op_domain[i][0] ? m->op_domain[i] : "ai.onnx");
        cJSON_AddStringToObject(op, "op_type", m->op_type[i]);
        cJSON_AddItemToArray(ops, op);
    }
    cJSON_AddItemToObject(j, "multiply_adds", num_or_null((double)f->macs, f->macs >= 0));
    cJSON_AddItemToObject(j, "batch1", json_bench(&m->b1));
    cJSON_AddItemToObject(j, "batched", json_bench(&m->bn));
    cJSON *e = cJSON_AddObjectToObject(j, "export_c");
    cJSON_AddBoolToObject(e, "ok", f->export_ok);
    cJSON_AddItemToObject(e, "error", f->export_ok ? cJSON_CreateNull() : cJSON_CreateString(f->export_why));
    cJSON_AddItemToObject(e, "weights_bytes", num_or_null((double)m->rep.weight_bytes, f->export_ok));
    cJSON_AddItemToObject(e, "arena_bytes", num_or_null((double)m->rep.arena_bytes, f->export_ok));
    cJSON_AddItemToObject(e, "tree_keys_bytes", num_or_null((double)m->rep.keys_bytes, f->export_ok));
    cJSON_AddItemToObject(e, "stack_bytes_estimate", num_or_null((double)m->rep.stack_bytes, f->export_ok));
    cJSON_AddItemToObject(e, "ram_bytes", num_or_null((double)f->ram_bytes, f->export_ok));
    return j;
}

static cJSON *json_constraints(const adv_ask *a)
{
    cJSON *j = cJSON_CreateObject();
    const adv_device_info *di = adv_device_get(a->device);
    cJSON_AddItemToObject(j, "latency_s", num_or_null(a->latency_s, a->latency_s > 0));
    cJSON_AddBoolToObject(j, "offline", a->offline);
    cJSON_AddBoolToObject(j, "stream", a->stream);
    cJSON_AddItemToObject(j, "entities", num_or_null(a->entities, a->entities >= 0));
    cJSON_AddItemToObject(j, "requests_per_s", num_or_null(a->requests_per_s, a->requests_per_s >= 0));
    cJSON_AddItemToObject(j, "device", di ? cJSON_CreateString(di->name) : cJSON_CreateNull());
    return j;
}

static cJSON *json_facts(const adv_advice *o, const adv_measured *m)
{
    cJSON *j = m ? json_model(m) : cJSON_CreateObject();
    if (!m) cJSON_AddNullToObject(j, "model");
    cJSON_AddItemToObject(j, "device", json_device(o));
    cJSON *c = cJSON_AddObjectToObject(j, "cost");
    cJSON_AddItemToObject(c, "batch_run_s", num_or_null(o->batch_run_s, o->batch_run_s >= 0));
    cJSON_AddNumberToObject(c, "batch_period_s", o->period_s);
    cJSON_AddItemToObject(c, "batch_cpu_s_per_day", num_or_null(o->batch_run_s * 86400 / o->period_s, o->batch_run_s >= 0));
    cJSON_AddItemToObject(c, "realtime_cpu_s_per_day", num_or_null(o->realtime_cpu_s_day, o->realtime_cpu_s_day >= 0));
    return j;
}

int adv_report_json(FILE *out, const adv_ask *a, const adv_advice *o, const adv_measured *m,
                    const adv_commands *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "mode", adv_mode_name(o->mode));
    cJSON_AddStringToObject(j, "runner_up", adv_mode_name(o->runner_up));
    cJSON_AddItemToObject(j, "reasons", strings(o->reasons, o->n_reasons));
    cJSON_AddItemToObject(j, "flip", strings(o->flips, o->n_flips));
    cJSON *cmds = cJSON_AddArrayToObject(j, "commands");
    for (int i = 0; i < c->n; i++) cJSON_AddItemToArray(cmds, cJSON_CreateString(c->cmd[i]));
    if (c->service[0]) {
        cJSON *u = cJSON_AddObjectToObject(j, "units");
        cJSON_AddStringToObject(u, "name", c->unit_name);
        cJSON_AddStringToObject(u, "service", c->service);
        cJSON_AddStringToObject(u, "timer", c->timer);
        cJSON_AddStringToObject(u, "on_calendar", o->on_calendar);
    } else {
        cJSON_AddNullToObject(j, "units");
    }
    cJSON_AddItemToObject(j, "constraints", json_constraints(a));
    cJSON_AddItemToObject(j, "facts", json_facts(o, m));
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return -1;
    fprintf(out, "%s\n", s);
    free(s);
    return 0;
}
