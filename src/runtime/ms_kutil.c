/* ms_kutil.c: helpers every kernel family shares: attribute lookup, error messages,
 * broadcasting, element access by dtype. */
#include "ms_model.h"
#include "ms_op.h"

#include <stdio.h>
#include <string.h>

/* ---- attributes ------------------------------------------------------------------------ */

const ms_attr *ms_attr_find(const ms_node *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t ms_attr_int(const ms_node *n, const char *name, int64_t dflt)
{
    const ms_attr *a = ms_attr_find(n, name);
    return a && a->type == MS_ATTR_INT ? a->i : dflt;
}

float ms_attr_float(const ms_node *n, const char *name, float dflt)
{
    const ms_attr *a = ms_attr_find(n, name);
    return a && a->type == MS_ATTR_FLOAT ? a->f : dflt;
}

const char *ms_attr_string(const ms_node *n, const char *name, const char *dflt)
{
    const ms_attr *a = ms_attr_find(n, name);
    return a && a->type == MS_ATTR_STRING ? a->s : dflt;
}

int ms_attr_ints(const ms_node *n, const char *name, const int64_t **vals)
{
    const ms_attr *a = ms_attr_find(n, name);
    if (!a || a->type != MS_ATTR_INTS) return -1;
    *vals = a->ints;
    return a->n;
}

int ms_attr_floats(const ms_node *n, const char *name, const float **vals)
{
    const ms_attr *a = ms_attr_find(n, name);
    if (!a || a->type != MS_ATTR_FLOATS) return -1;
    *vals = a->floats;
    return a->n;
}

int ms_attr_strings(const ms_node *n, const char *name, const char *const **vals)
{
    const ms_attr *a = ms_attr_find(n, name);
    if (!a || a->type != MS_ATTR_STRINGS) return -1;
    *vals = a->strings;
    return a->n;
}

const ms_tensor *ms_attr_tensor(const ms_node *n, const char *name)
{
    const ms_attr *a = ms_attr_find(n, name);
    return a && a->type == MS_ATTR_TENSOR ? a->t : NULL;
}

/* ---- errors ---------------------------------------------------------------------------- */

ms_status ms_kfail(ms_kctx *c, ms_status st, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const ms_node *n = c->node;
    if (n->name[0])
        snprintf(c->err->msg, sizeof c->err->msg, "%s node '%s': %s", n->op_type, n->name, msg);
    else
        snprintf(c->err->msg, sizeof c->err->msg, "%s node #%d: %s", n->op_type, (int)n->index,
                 msg);
    return st;
}

ms_status ms_kcheck_dtype(ms_kctx *c, int input, ms_dtype want)
{
    const ms_tensor *t = input < c->n_in ? c->in[input] : NULL;
    if (!t) return ms_kfail(c, MS_ERR_INVALID, "input %d is missing", input);
    if (t->dtype != want)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input %d has type %s; this kernel takes %s",
                        input, ms_dtype_name(t->dtype), ms_dtype_name(want));
    return MS_OK;
}

ms_status ms_kcheck_ninputs(ms_kctx *c, int min, int max)
{
    int present = c->n_in;
    while (present > 0 && !c->in[present - 1]) present--;
    if (present < min || c->n_in > max)
        return ms_kfail(c, MS_ERR_INVALID, "takes %d to %d inputs, got %d", min, max, (int)c->n_in);
    for (int i = 0; i < min; i++)
        if (!c->in[i]) return ms_kfail(c, MS_ERR_INVALID, "required input %d is missing", i);
    return MS_OK;
}

ms_status ms_kneed_out(ms_kctx *c, int i)
{
    if (i >= c->n_out || !c->out[i]) return ms_kfail(c, MS_ERR_INVALID, "output %d is missing", i);
    return MS_OK;
}

ms_status ms_kelem_size(ms_kctx *c, ms_dtype dt, size_t *es)
{
    size_t s = dt == MS_DTYPE_STRING ? 0 : ms_dtype_size(dt);
    if (!s)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "tensors of type %s are not supported",
                        ms_dtype_name(dt));
    *es = s;
    return MS_OK;
}

/* ---- shapes ---------------------------------------------------------------------------- */

ms_status ms_broadcast_shapes(ms_kctx *c, const ms_tensor *const *ts, int n, ms_tensor *out)
{
    int nd = 0;
    for (int k = 0; k < n; k++)
        if (ts[k] && ts[k]->ndim > nd) nd = ts[k]->ndim;
    int64_t shape[MS_MAX_DIMS];
    for (int d = 0; d < nd; d++) shape[d] = 1;
    for (int k = 0; k < n; k++) {
        const ms_tensor *t = ts[k];
        if (!t) continue;
        for (int d = 0; d < t->ndim; d++) {
            int od = nd - t->ndim + d;
            int64_t v = t->shape[d];
            if (v == shape[od] || v == 1) continue;
            if (shape[od] == 1) { shape[od] = v; continue; }
            return ms_kfail(c, MS_ERR_INVALID,
                            "input shapes do not broadcast: dimension %d is %lld in one input "
                            "and %lld in another", od, (long long)shape[od], (long long)v);
        }
    }
    out->ndim = nd;
    memcpy(out->shape, shape, sizeof(int64_t) * (size_t)nd);
    return MS_OK;
}

void ms_broadcast_strides(const ms_tensor *t, int out_ndim, const int64_t *out_shape,
                          int64_t *strides)
{
    int64_t s = 1;
    for (int d = out_ndim - 1; d >= 0; d--) {
        int td = d - (out_ndim - t->ndim);
        if (td < 0) { strides[d] = 0; continue; }
        strides[d] = (t->shape[td] == 1 && out_shape[d] != 1) ? 0 : s;
        s *= t->shape[td];
    }
}

void ms_tensor_set_shape(ms_tensor *dst, ms_dtype dt, int ndim, const int64_t *shape)
{
    dst->dtype = dt;
    dst->ndim = ndim;
    if (ndim > 0) memmove(dst->shape, shape, sizeof(int64_t) * (size_t)ndim);
}

int ms_norm_axis(int64_t axis, int rank)
{
    if (axis < -rank || axis >= rank) return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

int64_t ms_tensor_get_i64(const ms_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MS_DTYPE_INT64: return ((const int64_t *)t->data)[i];
    case MS_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    case MS_DTYPE_INT16: return ((const int16_t *)t->data)[i];
    case MS_DTYPE_INT8: return ((const int8_t *)t->data)[i];
    case MS_DTYPE_UINT8: case MS_DTYPE_BOOL: return ((const uint8_t *)t->data)[i];
    case MS_DTYPE_UINT16: return ((const uint16_t *)t->data)[i];
    case MS_DTYPE_UINT32: return ((const uint32_t *)t->data)[i];
    case MS_DTYPE_UINT64: return (int64_t)((const uint64_t *)t->data)[i];
    case MS_DTYPE_FLOAT: return (int64_t)((const float *)t->data)[i];
    case MS_DTYPE_DOUBLE: return (int64_t)((const double *)t->data)[i];
    default: return 0;
    }
}

double ms_tensor_get_f64(const ms_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case MS_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case MS_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case MS_DTYPE_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: return (double)ms_tensor_get_i64(t, i);
    }
}

/* ---- prepared state shared by a model's sessions (see ms_op.h) ---- */

void *ms_kshared(const ms_kctx *c, uint64_t key)
{
    const ms_shared *sh = c->shared ? atomic_load(&c->shared->p) : NULL;
    return sh && sh->key == key ? sh->state : NULL;
}

/* Publish `state` under `key` in one node's slot: the first to publish wins (sessions on other
 * threads may race here). Returns the state to use, or NULL when another key is published. */
static void *share_in(struct ms_shared_slot *slot, uint64_t key, void *state,
                      void (*release)(void *state))
{
    ms_shared *mine = ms_malloc(sizeof *mine);
    if (!mine) return NULL; /* not shared, still correct: the session keeps its own */
    mine->key = key;
    mine->state = state;
    mine->release = release;
    ms_shared *cur = NULL;
    if (atomic_compare_exchange_strong(&slot->p, &cur, mine)) return state;
    ms_free(mine);
    if (cur->key != key) return NULL;
    release(state);
    return cur->state;
}

void *ms_kshare(const ms_kctx *c, uint64_t key, void *state, void (*release)(void *state))
{
    return c->shared ? share_in(c->shared, key, state, release) : NULL;
}

void *ms_model_share(const struct ms_model *m, const ms_node *n, uint64_t key, void *state,
                     void (*release)(void *state))
{
    if (!m->shared || n < m->nodes || n >= m->nodes + m->n_nodes) return NULL;
    return share_in(&m->shared[n - m->nodes], key, state, release);
}
