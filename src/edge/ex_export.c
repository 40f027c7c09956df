/* ex_export.c: `mlship export-c` in order: load the model with the runtime, find every shape
 * and constant (ex_graph), lower the nodes the output needs to layers (ex_lower, ex_trees),
 * lay out the arena, write DIR/NAME.h and DIR/NAME.c (ex_emit). */
#include "edge/ex_export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"
#include "base/bs_name.h"
#include "ex_int.h"

/* The deepest frame NAME_predict needs: its layers' local arrays plus a kernel's saved
 * registers (a rough figure; `-fstack-usage` gives the compiler's). */
static int64_t stack_estimate(const ex_plan *p)
{
    int64_t worst = 0;
    for (int i = 0; i < p->n_layers; i++) {
        const ex_layer *l = &p->layers[i];
        int64_t b = 0;
        if (l->kind == EX_DENSE_D) b = 8 * l->p[1];
        if (l->kind == EX_TREES) b = 24 * l->p[1] + 64; /* the scores (float and double) */
        if (b > worst) worst = b;
    }
    return worst + 160;
}

static ms_status write_files(const ex_plan *p, const char *dir, ms_error *err)
{
    size_t len = strlen(dir) + strlen(p->name) + 4;
    char *hp = malloc(len), *cp = malloc(len);
    if (!hp || !cp) return free(hp), free(cp), bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    snprintf(hp, len, "%s/%s.h", dir, p->name);
    snprintf(cp, len, "%s/%s.c", dir, p->name);
    FILE *h = fopen(hp, "w"), *c = h ? fopen(cp, "w") : NULL;
    ms_status st = MS_OK;
    if (!h || !c) st = bs_fail(err, errno == ENOENT || errno == ENOTDIR ? MS_ERR_INVALID : MS_ERR_RUNTIME,
                               "cannot write %s: %s", h ? cp : hp, strerror(errno));
    else st = ex_emit(p, h, c);
    if (h && fclose(h) && !st) st = bs_fail(err, MS_ERR_RUNTIME, "cannot write %s", hp);
    if (c && fclose(c) && !st) st = bs_fail(err, MS_ERR_RUNTIME, "cannot write %s", cp);
    if (st == MS_ERR_RUNTIME && !err->msg[0]) bs_fail(err, st, "cannot write %s", cp);
    free(hp), free(cp);
    return st;
}

ms_status ex_export(const char *model_path, const char *name, const char *dir, const char *output,
                    ex_report *rep, ms_error *err)
{
    memset(rep, 0, sizeof *rep);
    rep->macs = -1;
    err->msg[0] = 0;
    ms_status st = bs_check_ident("C", name, err);
    if (st) return st;
    ms_model *m = NULL;
    if ((st = ms_model_load_file(model_path, &m, err))) return st;
    ex_plan p = {.m = m, .name = name, .err = err};
    st = ex_graph_shapes(&p, output);
    if (!st) rep->macs = ex_macs(&p);
    if (!st) st = ex_lower(&p);
    if (!st) {
        ex_layout(&p);
        if (dir) st = write_files(&p, dir, err);
    }
    if (!st) {
        rep->input_size = p.in_n, rep->output_size = p.out_n;
        rep->weight_bytes = ex_weight_bytes(&p);
        rep->arena_bytes = p.arena_floats * 4;
        rep->stack_bytes = stack_estimate(&p);
        for (int i = 0; i < p.n_layers; i++) /* the trees' static feature keys */
            if (p.layers[i].kind == EX_TREES) rep->keys_bytes += 4 * (p.layers[i].p[0] + 1);
        rep->n_layers = p.n_layers;
        rep->nan_ok = p.nan_ok;
    }
    ex_plan_free(&p);
    ms_model_free(m);
    return st;
}
