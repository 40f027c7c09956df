/* ms_load.c: ms_model_load, the one entry point that turns bytes into a model: it picks the
 * format (XGBoost's JSON model starts with '{', everything else is read as ONNX), calls that
 * loader to fill the graph (ms_model.h), runs each kernel's load-time check, and sets up the
 * per-node slots sessions share prepared state through. */
#include "ms_model.h"
#include "ms_xgboost.h"

#include <stdio.h>
#include <string.h>

/* Declared in ms_xgboost.h; here, not there, so that a build without ms_xgboost.c (and cJSON)
 * still recognises model.json and refuses it by name. */
int ms_xgboost_sniff(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
    return i < len && p[i] == '{';
}

/* Each kernel's optional load-time check, so a malformed node (a bad tree) never reaches a
 * run; only MS_ERR_INVALID stops the load: what we lack is reported when a session plans. */
static ms_status check_nodes(const ms_model *m, ms_error *err)
{
    for (int32_t i = 0; i < m->n_nodes; i++) {
        if (!m->kernels[i] || !m->kernels[i]->check) continue;
        ms_status st = m->kernels[i]->check(m, &m->nodes[i], err);
        if (st == MS_ERR_INVALID || st == MS_ERR_RUNTIME) return st;
    }
    return MS_OK;
}

ms_status ms_model_load(const void *buf, size_t len, ms_model **out, ms_error *err)
{
    *out = NULL;
    if (!buf && len) {
        snprintf(err->msg, sizeof err->msg, "no model data");
        return MS_ERR_INVALID;
    }
    ms_model *m = ms_calloc(1, sizeof *m);
    if (!m) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return MS_ERR_RUNTIME;
    }
    /* XGBoost's JSON model starts with '{'; everything else is read as ONNX */
    ms_status st = ms_xgboost_sniff(buf, len) ? ms_xgboost_load(m, buf, len, err)
                                              : ms_onnx_load(m, buf, len, err);
    /* the slots first: a check may publish what it built (ms_model_share) */
    if (!st && m->n_nodes > 0) {
        m->shared = ms_malloc((size_t)m->n_nodes * sizeof *m->shared);
        if (!m->shared) st = MS_ERR_RUNTIME, snprintf(err->msg, sizeof err->msg, "out of memory");
        for (int32_t i = 0; m->shared && i < m->n_nodes; i++) atomic_init(&m->shared[i].p, NULL);
    }
    if (!st) st = check_nodes(m, err);
    if (st) {
        ms_model_free(m);
        return st;
    }
    *out = m;
    return MS_OK;
}

