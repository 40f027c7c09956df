/* adv_measure.c: the measured facts of `mlship advise` (adv_measure.h). */
#define _DEFAULT_SOURCE /* realpath */
#include "cli/adv_measure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_common.h"

static const char *CMD = "advise";

/* The runtime's own rule (ms_load.c): a model file starting with '{' is XGBoost JSON. */
static int is_xgboost_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    int c = ' ';
    if (!f) return 0;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t') {}
    fclose(f);
    return c == '{';
}

static void c_ident(char *dst, size_t cap, const char *name)
{
    size_t n = 0;
    if (!(name[0] >= 'a' && name[0] <= 'z') && !(name[0] >= 'A' && name[0] <= 'Z') && name[0] != '_')
        n = (size_t)snprintf(dst, cap, "m_");
    for (const char *p = name; *p && n + 1 < cap; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        dst[n++] = ok ? c : '_';
    }
    dst[n] = 0;
}

static int has_batch_dim(const ms_model *m)
{
    for (int i = 0; i < ms_model_num_inputs(m); i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        if (vi->ndim > 0 && vi->shape[0] < 0) return 1;
    }
    return 0;
}

static int bench_at(adv_measured *m, long batch, double seconds, cli_bench_result *r)
{
    cli_bench_opts o;
    cli_bench_defaults(&o);
    o.model = m->path;
    o.batch = batch;
    o.seconds = seconds;
    ms_error err = {{0}};
    ms_status st = cli_bench_measure(&o, m->model, r, &err);
    if (st == MS_OK) return 0;
    char msg[sizeof err.msg + sizeof m->path + 200];
    snprintf(msg, sizeof msg, "cannot measure %s: %s (run without MODEL for advice from the "
             "constraints alone)", m->path, err.msg);
    return cli_fail(CMD, st, msg);
}

static void export_plan(adv_measured *m)
{
    ms_error err = {{0}};
    ms_status st = ex_export(m->path, m->ident, NULL, NULL, &m->rep, &err);
    adv_facts *f = &m->f;
    f->macs = m->rep.macs;
    f->export_ok = st == MS_OK;
    if (!f->export_ok) snprintf(f->export_why, sizeof f->export_why, "%.230s", err.msg);
    f->flash_bytes = m->rep.weight_bytes;
    f->ram_bytes = m->rep.arena_bytes + m->rep.keys_bytes + m->rep.stack_bytes;
}

int adv_measure(const char *path, double seconds, adv_measured *m)
{
    memset(m, 0, sizeof *m);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return cli_usage_error(CMD, "MODEL '%s' is not a readable file", path);
    if (!realpath(path, m->path)) snprintf(m->path, sizeof m->path, "%s", path);
    int rc = cli_load_model(CMD, m->path, &m->model);
    if (rc) return rc;
    cli_model_name(m->name, sizeof m->name, m->path);
    c_ident(m->ident, sizeof m->ident, m->name);
    adv_facts *f = &m->f;
    f->have_model = 1;
    f->file_bytes = (int64_t)sb.st_size;
    f->xgboost_json = is_xgboost_json(m->path);
    m->format = f->xgboost_json ? "xgboost-json" : "onnx";
    m->all_supported = 1;
    m->n_ops = ms_model_num_ops(m->model);
    if (m->n_ops > ADV_MAX_OPS) m->n_ops = ADV_MAX_OPS;
    for (int i = 0; i < m->n_ops; i++) {
        int sup;
        ms_model_op(m->model, i, &m->op_domain[i], &m->op_type[i], &sup);
        m->all_supported &= sup != 0;
    }
    export_plan(m);
    if ((rc = bench_at(m, 1, seconds / 2, &m->b1))) return rc;
    if (has_batch_dim(m->model)) {
        if ((rc = bench_at(m, ADV_BATCH_ROWS, seconds / 2, &m->bn))) return rc;
    } else {
        m->bn = m->b1; /* no batch dimension: a batch job scores one row a call too */
    }
    f->lat1_median_s = m->b1.median_us / 1e6;
    f->lat1_mean_s = m->b1.mean_us / 1e6;
    f->rows_per_s_batch = m->bn.rows_per_s;
    f->batch_rows = m->bn.batch;
    return 0;
}

void adv_measured_free(adv_measured *m)
{
    if (m->model) ms_model_free(m->model);
    m->model = NULL;
}
