/* ms_session.c: planning and running a graph.
 *
 * Planning happens on the first run and whenever the input shapes change. It executes every
 * node once, in order, with temporary buffers, so that each kernel's infer sees real input
 * values (shapes computed from data, like Reshape's target, need them). On the way it:
 *   - folds constants: a node whose inputs are all constant (weights, or outputs of folded
 *     nodes; and Shape/Size, whose result only depends on the planned shapes) runs once here
 *     and is skipped at run time;
 *   - records each intermediate's size and lifetime, then lays all intermediates into one
 *     arena, reusing the memory of values that are dead (greedy first-fit by offset);
 *   - lets kernels precompute state from constant inputs (prepare), e.g. packed weights.
 * A run then calls infer (cheap, no allocation) and run for each remaining node, with outputs
 * in the arena. If a data-dependent shape outgrows its planned slot, the run re-plans. */
#include "ms_model.h"
#include "ms_fail.h"

#include <stdio.h>
#include <string.h>

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

typedef struct node_rt {
    const ms_tensor **in;
    ms_tensor **out;
    int32_t *out_ids;    /* the node's output value ids (a fused Relu's output replaces v0) */
    uint64_t const_mask;
    size_t scratch;
    void *state;
    uint8_t folded;
    uint8_t post_relu;   /* a Relu follows and is computed by this node */
    uint8_t fused_away;  /* this Relu is computed by its producer: skip it */
} node_rt;

struct ms_session {
    const ms_model *m;
    ms_tensor *vals;     /* current view of every value */
    int32_t *last_use;   /* last node reading each value (n_nodes for graph outputs) */
    node_rt *nodes;
    const ms_tensor **in_ptrs;
    ms_tensor **out_ptrs;
    int32_t *out_id_pool;

    int planned;
    ms_tensor *plan_sig; /* the input dtypes/shapes the plan was made for */
    uint8_t *is_const;   /* per value, for this plan */
    size_t *offset, *cap;
    void **owned;        /* per value: storage of folded values */
    uint8_t *arena;
    size_t arena_size, scratch_off;
};

/* ---- creation -------------------------------------------------------------------------- */

static ms_status session_alloc(ms_session *s, ms_error *err)
{
    const ms_model *m = s->m;
    size_t nv = (size_t)m->n_values, nn = (size_t)m->n_nodes, nin = 0, nout = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        nin += (size_t)m->nodes[i].n_in;
        nout += (size_t)m->nodes[i].n_out;
    }
    s->vals = ms_calloc(nv, sizeof *s->vals);
    s->last_use = ms_calloc(nv, sizeof *s->last_use);
    s->nodes = ms_calloc(nn, sizeof *s->nodes);
    s->in_ptrs = ms_calloc(nin, sizeof *s->in_ptrs);
    s->out_ptrs = ms_calloc(nout, sizeof *s->out_ptrs);
    s->out_id_pool = ms_calloc(nout, sizeof *s->out_id_pool);
    s->plan_sig = ms_calloc((size_t)m->n_inputs, sizeof *s->plan_sig);
    s->is_const = ms_calloc(nv, 1);
    s->offset = ms_calloc(nv, sizeof *s->offset);
    s->cap = ms_calloc(nv, sizeof *s->cap);
    s->owned = ms_calloc(nv, sizeof *s->owned);
    if (!s->vals || !s->last_use || !s->nodes || !s->in_ptrs || !s->out_ptrs || !s->out_id_pool || !s->plan_sig ||
        !s->is_const || !s->offset || !s->cap || !s->owned)
        return FAIL(err, MS_ERR_RUNTIME, "out of memory creating a session");
    return MS_OK;
}

/* Wire each node's input/output pointer arrays to the value table, and find lifetimes. */
static void session_wire(ms_session *s)
{
    const ms_model *m = s->m;
    const ms_tensor **ip = s->in_ptrs;
    ms_tensor **op = s->out_ptrs;
    int32_t *oid = s->out_id_pool;
    for (int v = 0; v < m->n_values; v++) {
        s->last_use[v] = -1;
        if (m->values[v].kind == MS_VALUE_CONST) s->vals[v] = m->values[v].t;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const ms_node *n = &m->nodes[i];
        s->nodes[i].in = ip;
        s->nodes[i].out = op;
        s->nodes[i].out_ids = oid;
        for (int k = 0; k < n->n_in; k++) {
            ip[k] = n->in[k] >= 0 ? &s->vals[n->in[k]] : NULL;
            if (n->in[k] >= 0) s->last_use[n->in[k]] = i;
        }
        for (int k = 0; k < n->n_out; k++) {
            op[k] = n->out[k] >= 0 ? &s->vals[n->out[k]] : NULL;
            oid[k] = n->out[k];
        }
        ip += n->n_in;
        op += n->n_out;
        oid += n->n_out;
    }
    for (int k = 0; k < m->n_outputs; k++) s->last_use[m->outputs[k]] = m->n_nodes;
}

/* Fold X -> Relu into X when X's kernel can apply the activation itself and the Relu is the
 * only reader of X's output: one pass over the data instead of two. The Relu's output value
 * becomes X's output; the intermediate is never materialised. */
static void session_fuse(ms_session *s)
{
    const ms_model *m = s->m;
    int32_t *readers = ms_calloc((size_t)m->n_values, sizeof *readers);
    if (!readers) return; /* fusion is an optimisation: without memory, skip it */
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0) readers[m->nodes[i].in[k]]++;
    for (int k = 0; k < m->n_outputs; k++) readers[m->outputs[k]]++;
    for (int j = 0; j < m->n_nodes; j++) {
        const ms_node *r = &m->nodes[j];
        if (r->domain[0] || strcmp(r->op_type, "Relu") || !m->kernels[j] || r->n_in != 1 ||
            r->n_out != 1 || r->in[0] < 0 || r->out[0] < 0)
            continue;
        int v = r->in[0];
        const ms_value *val = &m->values[v];
        if (val->kind != MS_VALUE_NODE || readers[v] != 1) continue;
        int i = val->producer;
        if (!m->kernels[i]->fuse_relu || m->nodes[i].out[0] != v) continue;
        s->nodes[i].post_relu = 1;
        s->nodes[i].out_ids[0] = r->out[0];
        s->nodes[i].out[0] = &s->vals[r->out[0]];
        s->nodes[j].fused_away = 1;
    }
    ms_free(readers);
}

ms_status ms_session_create(const ms_model *m, const ms_session_options *opt, ms_session **out,
                            ms_error *err)
{
    (void)opt;
    *out = NULL;
    ms_status st = ms_model_check_supported(m, err);
    if (st) return st;
    ms_session *s = ms_calloc(1, sizeof *s);
    if (!s) return FAIL(err, MS_ERR_RUNTIME, "out of memory creating a session");
    s->m = m;
    if ((st = session_alloc(s, err))) {
        ms_session_free(s);
        return st;
    }
    session_wire(s);
    session_fuse(s);
    *out = s;
    return MS_OK;
}

/* ---- plan ------------------------------------------------------------------------------ */

static void plan_release(ms_session *s)
{
    const ms_model *m = s->m;
    for (int i = 0; i < m->n_nodes; i++) {
        node_rt *rt = &s->nodes[i];
        /* a state the model keeps for all its sessions (ms_kshare) is freed with the model */
        const ms_shared *sh = m->shared ? atomic_load(&m->shared[i].p) : NULL;
        if (rt->state && m->kernels[i]->release && !(sh && sh->state == rt->state))
            m->kernels[i]->release(rt->state);
        rt->state = NULL;
        rt->folded = 0;
    }
    for (int v = 0; v < m->n_values; v++) {
        ms_aligned_free(s->owned[v]);
        s->owned[v] = NULL;
    }
    ms_aligned_free(s->arena);
    s->arena = NULL;
    s->arena_size = 0;
    s->planned = 0;
}

static void ctx_init(ms_session *s, int i, ms_kctx *c, ms_error *err)
{
    const ms_node *n = &s->m->nodes[i];
    memset(c, 0, sizeof *c);
    c->node = n;
    c->opset = n->opset;
    c->n_in = n->n_in;
    c->n_out = n->n_out;
    c->in = s->nodes[i].in;
    c->out = s->nodes[i].out;
    c->state = s->nodes[i].state;
    c->err = err;
    c->const_inputs = s->nodes[i].const_mask;
    c->post_relu = s->nodes[i].post_relu;
}

/* Check what infer produced and return the bytes the output needs. */
static ms_status output_bytes(ms_kctx *c, int k, size_t *bytes)
{
    const ms_tensor *t = c->out[k];
    size_t esz = ms_dtype_size(t->dtype);
    /* a kernel sets every output its operator has; one left untyped is an extra output the
     * model declares but the operator does not produce */
    if (!esz)
        return ms_kfail(c, MS_ERR_INVALID, "the node declares %d outputs; the operator does not "
                        "produce output %d", (int)c->n_out, k);
    if (t->ndim < 0 || t->ndim > MS_MAX_DIMS)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "output %d would have %d dimensions", k, (int)t->ndim);
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0) return ms_kfail(c, MS_ERR_INVALID, "output %d would have a negative dimension", k);
        if (t->shape[d] && n > ((uint64_t)1 << 40) / (uint64_t)t->shape[d])
            return ms_kfail(c, MS_ERR_INVALID, "output %d would be impossibly large", k);
        n *= (uint64_t)t->shape[d];
    }
    if (n * esz > ((uint64_t)1 << 40)) return ms_kfail(c, MS_ERR_INVALID, "output %d would be impossibly large", k);
    *bytes = (size_t)(n * esz);
    return MS_OK;
}

static int node_foldable(const ms_session *s, int i)
{
    const ms_node *n = &s->m->nodes[i];
    if (!n->domain[0] && (!strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size"))) return 1;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !s->is_const[n->in[k]]) return 0;
    return 1;
}

/* Execute node i during planning with temporary (or, when folded, owned) output buffers. */
static ms_status plan_node(ms_session *s, int i, void **tmp, size_t *bytes_of, ms_error *err)
{
    const ms_model *m = s->m;
    const ms_node *n = &m->nodes[i];
    node_rt *rt = &s->nodes[i];
    const ms_kernel *k = m->kernels[i];
    if (rt->fused_away) return MS_OK;
    rt->const_mask = 0;
    for (int j = 0; j < n->n_in && j < 64; j++)
        if (n->in[j] >= 0 && s->is_const[n->in[j]]) rt->const_mask |= (uint64_t)1 << j;
    rt->folded = (uint8_t)node_foldable(s, i);
    ms_kctx c;
    ctx_init(s, i, &c, err);
    ms_status st = k->infer(&c);
    if (st) return st;
    for (int j = 0; j < n->n_out; j++) {
        int v = rt->out_ids[j];
        if (v < 0) continue;
        size_t b;
        if ((st = output_bytes(&c, j, &b))) return st;
        void *p = ms_aligned_alloc(b);
        if (!p) return FAIL(err, MS_ERR_RUNTIME, "out of memory planning node '%s'", n->name);
        if (rt->folded) s->owned[v] = p, s->is_const[v] = 1;
        else tmp[v] = p;
        s->vals[v].data = p;
        bytes_of[v] = b;
    }
    rt->scratch = c.scratch_size;
    /* kernels may form scratch + 0 even when they asked for none: never hand them NULL */
    static _Alignas(64) unsigned char no_scratch[64];
    void *scratch = c.scratch_size ? ms_aligned_alloc(c.scratch_size) : NULL;
    if (c.scratch_size && !scratch) return FAIL(err, MS_ERR_RUNTIME, "out of memory planning");
    c.scratch = scratch ? scratch : no_scratch;
    /* the planning run may already build what prepare would (a tree ensemble): it can share
     * it through the model's slot, so prepare finds it instead of building it again */
    c.shared = s->m->shared ? &s->m->shared[i] : NULL;
    st = k->run(&c);
    ms_aligned_free(scratch);
    if (!st && k->prepare && !rt->folded) st = k->prepare(&c, &rt->state);
    return st;
}

/* Assign arena offsets: a value lives from its producer to its last reader. */
typedef struct live_block {
    size_t off, size;
    int32_t end;
} live_block;

static ms_status plan_layout(ms_session *s, const size_t *bytes_of, ms_error *err)
{
    const ms_model *m = s->m;
    live_block *live = ms_calloc((size_t)m->n_values + 1, sizeof *live);
    if (!live) return FAIL(err, MS_ERR_RUNTIME, "out of memory planning");
    int nlive = 0;
    size_t top = 0, max_scratch = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const ms_node *n = &m->nodes[i];
        if (s->nodes[i].folded || s->nodes[i].fused_away) continue;
        if (s->nodes[i].scratch > max_scratch) max_scratch = s->nodes[i].scratch;
        int w = 0; /* drop blocks dead before this node */
        for (int b = 0; b < nlive; b++)
            if (live[b].end >= i) live[w++] = live[b];
        nlive = w;
        for (int j = 0; j < n->n_out; j++) {
            int v = s->nodes[i].out_ids[j];
            if (v < 0) continue;
            size_t size = ALIGN64(bytes_of[v]);
            size_t off = 0;
            int pos = 0; /* live is sorted by offset: take the first gap that fits */
            for (; pos < nlive; pos++) {
                if (live[pos].off >= off + size) break;
                if (live[pos].off + live[pos].size > off) off = live[pos].off + live[pos].size;
            }
            memmove(&live[pos + 1], &live[pos], (size_t)(nlive - pos) * sizeof *live);
            live[pos] = (live_block){off, size, s->last_use[v] > i ? s->last_use[v] : i};
            nlive++;
            s->offset[v] = off;
            s->cap[v] = size;
            if (off + size > top) top = off + size;
        }
    }
    ms_free(live);
    s->scratch_off = top;
    s->arena_size = top + ALIGN64(max_scratch);
    s->arena = ms_aligned_alloc(s->arena_size);
    return s->arena ? MS_OK : FAIL(err, MS_ERR_RUNTIME, "out of memory: the plan needs %zu bytes",
                                   s->arena_size);
}

static ms_status plan(ms_session *s, const ms_tensor *inputs, ms_error *err)
{
    const ms_model *m = s->m;
    plan_release(s);
    for (int v = 0; v < m->n_values; v++) s->is_const[v] = m->values[v].kind == MS_VALUE_CONST;
    for (int k = 0; k < m->n_inputs; k++) s->vals[m->inputs[k]] = inputs[k];
    void **tmp = ms_calloc((size_t)m->n_values, sizeof *tmp);
    size_t *bytes_of = ms_calloc((size_t)m->n_values, sizeof *bytes_of);
    ms_status st = tmp && bytes_of ? MS_OK : FAIL(err, MS_ERR_RUNTIME, "out of memory planning");
    for (int i = 0; !st && i < m->n_nodes; i++) {
        st = plan_node(s, i, tmp, bytes_of, err);
        const ms_node *n = &m->nodes[i];
        for (int j = 0; j < n->n_in; j++) { /* free temporaries nobody reads any more */
            int v = n->in[j];
            if (v >= 0 && tmp[v] && s->last_use[v] == i) ms_aligned_free(tmp[v]), tmp[v] = NULL;
        }
    }
    for (int v = 0; tmp && v < m->n_values; v++) ms_aligned_free(tmp[v]);
    if (!st) st = plan_layout(s, bytes_of, err);
    ms_free(tmp);
    ms_free(bytes_of);
    if (st) {
        plan_release(s);
        return st;
    }
    for (int k = 0; k < m->n_inputs; k++) s->plan_sig[k] = inputs[k];
    s->planned = 1;
    return MS_OK;
}

/* ---- run ------------------------------------------------------------------------------- */

/* The declared-input check (ms_check.c), then what a run needs beyond it: data behind every
 * non-empty input. */
static ms_status check_inputs(const ms_session *s, const ms_tensor *in, int n_in, ms_error *err)
{
    ms_status st = ms_model_check_inputs(s->m, in, n_in, err);
    for (int k = 0; !st && k < n_in; k++)
        if (!in[k].data && ms_tensor_numel(&in[k]) > 0)
            st = FAIL(err, MS_ERR_INVALID, "input '%s' has no data", s->m->input_info[k].name);
    return st;
}

static int same_signature(const ms_session *s, const ms_tensor *in)
{
    for (int k = 0; k < s->m->n_inputs; k++) {
        const ms_tensor *a = &s->plan_sig[k], *b = &in[k];
        if (a->dtype != b->dtype || a->ndim != b->ndim ||
            memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim))
            return 0;
    }
    return 1;
}

/* 1: done; 0: a shape outgrew its slot (re-plan); <0 never; errors via *st. */
static int run_nodes(ms_session *s, ms_status *st, ms_error *err)
{
    const ms_model *m = s->m;
    for (int i = 0; i < m->n_nodes; i++) {
        node_rt *rt = &s->nodes[i];
        if (rt->folded || rt->fused_away) continue;
        const ms_node *n = &m->nodes[i];
        ms_kctx c;
        ctx_init(s, i, &c, err);
        if ((*st = m->kernels[i]->infer(&c))) return 1;
        for (int j = 0; j < n->n_out; j++) {
            int v = rt->out_ids[j];
            if (v < 0) continue;
            size_t b;
            if ((*st = output_bytes(&c, j, &b))) return 1;
            if (b > s->cap[v]) return 0;
            s->vals[v].data = s->arena + s->offset[v];
        }
        if (c.scratch_size > rt->scratch) return 0;
        c.scratch = s->arena + s->scratch_off;
        if ((*st = m->kernels[i]->run(&c))) return 1;
    }
    return 1;
}

ms_status ms_session_run(ms_session *s, const ms_tensor *inputs, int n_inputs,
                         ms_tensor *outputs, int n_outputs, ms_error *err)
{
    const ms_model *m = s->m;
    ms_status st = check_inputs(s, inputs, n_inputs, err);
    if (st) return st;
    if (n_outputs > m->n_outputs)
        return FAIL(err, MS_ERR_INVALID, "the model has %d outputs, %d were asked for",
                    (int)m->n_outputs, (int)n_outputs);
    if (!s->planned || !same_signature(s, inputs))
        if ((st = plan(s, inputs, err))) return st;
    for (int k = 0; k < m->n_inputs; k++) s->vals[m->inputs[k]] = inputs[k];
    if (!run_nodes(s, &st, err)) {
        /* a data-dependent shape grew: plan for it and run again */
        if ((st = plan(s, inputs, err))) return st;
        for (int k = 0; k < m->n_inputs; k++) s->vals[m->inputs[k]] = inputs[k];
        if (!run_nodes(s, &st, err))
            return FAIL(err, MS_ERR_RUNTIME, "internal error: the plan does not hold its shapes");
    }
    if (st) return st;
    for (int k = 0; k < n_outputs; k++) outputs[k] = s->vals[m->outputs[k]];
    return MS_OK;
}

size_t ms_session_arena_bytes(const ms_session *s) { return s->arena_size; }

void ms_session_free(ms_session *s)
{
    if (!s) return;
    if (s->vals && s->nodes && s->owned) plan_release(s);
    ms_free(s->vals);
    ms_free(s->last_use);
    ms_free(s->nodes);
    ms_free(s->in_ptrs);
    ms_free(s->out_ptrs);
    ms_free(s->out_id_pool);
    ms_free(s->plan_sig);
    ms_free(s->is_const);
    ms_free(s->offset);
    ms_free(s->cap);
    ms_free(s->owned);
    ms_free(s);
}
