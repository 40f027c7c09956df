/* ops_ml_trees.c: ai.onnx.ml TreeEnsembleClassifier and TreeEnsembleRegressor (ml opsets 1-4;
 * opset 3 adds the *_as_tensor attributes). The attributes become one ms_trees (ms_trees.c)
 * in prepare; run evaluates it block by block and applies base values and post_transform.
 *
 * Semantics follow the ONNX reference implementation (onnx/reference/ops/aionnxml) where it
 * is defined, and ONNX Runtime where the reference is silent:
 *   - a leaf adds each of its weights to its target / class column; AVERAGE divides by the
 *     number of trees; MIN / MAX start from +-FLT_MAX (reference; ORT starts from 0);
 *   - base_values (one per column, or a single value for every column) are added after the
 *     aggregation;
 *   - classifier, binary case (two labels, one distinct class id c): the score s of column c
 *     gives the two columns [1 - s, s] for post_transform NONE / PROBIT and [-s, s] otherwise,
 *     before the transform. (The reference always reads column 0, which drops every weight
 *     when c is 1; we read column c.) The label is the argmax of the transformed scores;
 *   - regressor post_transform is applied as ORT applies it to several targets (LOGISTIC per
 *     value, SOFTMAX / SOFTMAX_ZERO over the row, PROBIT per value), also for one target
 *     (where ORT 1.x applies only PROBIT; the spec names no exception).
 * Input: float32 [N, C] or [C]. double / int inputs are refused as unsupported. */
#include "ms_model.h"
#include "ms_trees.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { POST_NONE, POST_LOGISTIC, POST_SOFTMAX, POST_SOFTMAX_ZERO, POST_PROBIT };

/* Everything run needs, built once per node (prepare) or per planning run. */
typedef struct tree_op {
    ms_trees *trees;
    int classifier;
    int64_t K;          /* score columns: classes or targets */
    int post;
    double *base;       /* K values (a single base value is spread) */
    int binary;         /* classifier: two labels, one class id */
    int64_t bin_class;
    const int64_t *labels_i;
    const char *const *labels_s;
} tree_op;

static void op_free(tree_op *op)
{
    if (!op) return;
    ms_trees_free(op->trees);
    ms_free(op->base);
    ms_free(op);
}

/* ---- attribute reading ------------------------------------------------------------------ */

static ms_status fail(const ms_node *n, ms_error *err, ms_status st, const char *fmt, const char *a)
{
    ms_kctx c = {.node = n, .err = err};
    return ms_kfail(&c, st, fmt, a);
}

/* Whose entry a list with the wrong length lacks (or has too many of): entry `k` of a list
 * parallel to trees[] / nodes[] (n entries) is tree trees[k] node nodes[k]. */
typedef struct owner {
    const int64_t *trees, *nodes;
    int64_t n;
    const char *what; /* "node" or "weight" */
} owner;

static ms_status len_fail(const ms_node *n, ms_error *err, const char *name, int64_t have,
                          int64_t want, const owner *o)
{
    char m[300];
    int64_t k = have < want ? have : want - 1; /* the first entry without a partner */
    if (o && o->trees && o->nodes && k >= 0 && k < o->n)
        snprintf(m, sizeof m, "attribute %%s has %lld entries, expected %lld (one per %s): "
                 "tree %lld node %lld %s", (long long)have, (long long)want, o->what,
                 (long long)o->trees[k], (long long)o->nodes[k],
                 have < want ? "has none" : "is the last that has one");
    else if (o && o->trees && k >= 0 && k < o->n) /* the node ids themselves are the list */
        snprintf(m, sizeof m, "attribute %%s has %lld entries, expected %lld (one per %s): "
                 "%s %lld of the list, in tree %lld, %s", (long long)have, (long long)want,
                 o->what, o->what, (long long)k, (long long)o->trees[k],
                 have < want ? "has none" : "is the last that has one");
    else
        snprintf(m, sizeof m, "attribute %%s has %lld entries, expected %lld", (long long)have,
                 (long long)want);
    return fail(n, err, MS_ERR_INVALID, m, name);
}

/* An integer-list attribute that must have `want` entries (-1: any); absent gives n = 0. */
static ms_status get_ints(const ms_node *n, ms_error *err, const char *name, int64_t want,
                          const int64_t **v, int64_t *count, const owner *o)
{
    int k = ms_attr_ints(n, name, v);
    const ms_attr *a = ms_attr_find(n, name);
    if (a && a->type != MS_ATTR_INTS)
        return fail(n, err, MS_ERR_INVALID, "attribute %s must be a list of integers", name);
    *count = k < 0 ? 0 : k;
    if (k < 0) *v = NULL;
    if (want >= 0 && *count != want) return len_fail(n, err, name, *count, want, o);
    return MS_OK;
}

/* A float list given either as `name` (floats) or `name`_as_tensor (float or double tensor). */
static ms_status get_reals(const ms_node *n, int opset, ms_error *err, const char *name,
                           const float **vf, const double **vd, int64_t *count)
{
    char tname[64];
    snprintf(tname, sizeof tname, "%s_as_tensor", name);
    const ms_attr *a = ms_attr_find(n, name), *at = ms_attr_find(n, tname);
    *vf = NULL;
    *vd = NULL;
    *count = 0;
    if (a && at) return fail(n, err, MS_ERR_INVALID, "both %s and its _as_tensor form are given", name);
    if (a) {
        if (a->type != MS_ATTR_FLOATS)
            return fail(n, err, MS_ERR_INVALID, "attribute %s must be a list of floats", name);
        *vf = a->floats;
        *count = a->n;
        return MS_OK;
    }
    if (!at) return MS_OK;
    if (opset < 3)
        return fail(n, err, MS_ERR_INVALID, "attribute %s_as_tensor needs ai.onnx.ml opset 3", name);
    if (at->type != MS_ATTR_TENSOR || !at->t)
        return fail(n, err, MS_ERR_INVALID, "attribute %s_as_tensor must be a tensor", name);
    const ms_tensor *t = at->t;
    if (t->dtype == MS_DTYPE_FLOAT) *vf = t->data;
    else if (t->dtype == MS_DTYPE_DOUBLE) *vd = t->data;
    else return fail(n, err, MS_ERR_UNSUPPORTED, "attribute %s_as_tensor must be float or double", name);
    *count = ms_tensor_numel(t);
    return MS_OK;
}

static int parse_mode(const char *s)
{
    static const char *const names[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT",
                                        "BRANCH_EQ", "BRANCH_NEQ", "LEAF"};
    for (int i = 0; i < 7; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

static int parse_post(const char *s)
{
    static const char *const names[] = {"NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

/* Node structure attributes shared by both operators. `modes` is allocated here. */
static ms_status read_nodes(const ms_node *n, int opset, ms_error *err, ms_trees_src *s,
                            uint8_t **modes)
{
    const int64_t *v;
    int64_t cnt;
    ms_status st = get_ints(n, err, "nodes_treeids", -1, &s->tree_ids, &s->n_nodes, NULL);
    owner o = {s->tree_ids, NULL, s->n_nodes, "node"};
    if (!st) st = get_ints(n, err, "nodes_nodeids", s->n_nodes, &s->node_ids, &cnt, &o);
    o.nodes = s->node_ids;
    if (!st) st = get_ints(n, err, "nodes_featureids", s->n_nodes, &s->feature_ids, &cnt, &o);
    if (!st) st = get_ints(n, err, "nodes_truenodeids", s->n_nodes, &s->true_ids, &cnt, &o);
    if (!st) st = get_ints(n, err, "nodes_falsenodeids", s->n_nodes, &s->false_ids, &cnt, &o);
    if (!st) st = get_ints(n, err, "nodes_missing_value_tracks_true", -1, &v, &cnt, NULL);
    if (st) return st;
    if (cnt && cnt != s->n_nodes)
        return len_fail(n, err, "nodes_missing_value_tracks_true", cnt, s->n_nodes, &o);
    s->missing_true = v;
    s->n_missing = cnt;
    if ((st = get_reals(n, opset, err, "nodes_values", &s->values_f, &s->values_d, &cnt))) return st;
    if (cnt != s->n_nodes) return len_fail(n, err, "nodes_values", cnt, s->n_nodes, &o);
    const char *const *ms;
    int nm = ms_attr_strings(n, "nodes_modes", &ms);
    if (nm != s->n_nodes)
        return len_fail(n, err, "nodes_modes", nm < 0 ? 0 : nm, s->n_nodes, &o);
    *modes = ms_malloc((size_t)(nm ? nm : 1));
    if (!*modes) return fail(n, err, MS_ERR_RUNTIME, "out of memory%s", "");
    for (int i = 0; i < nm; i++) {
        int m = parse_mode(ms[i]);
        if (m < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "tree %lld node %lld: unknown nodes_modes value '%%s'",
                     (long long)s->tree_ids[i], (long long)s->node_ids[i]);
            return fail(n, err, MS_ERR_INVALID, msg, ms[i]);
        }
        (*modes)[i] = (uint8_t)m;
    }
    s->modes = *modes;
    return MS_OK;
}

/* Leaf weights: class_* for the classifier, target_* for the regressor. */
static ms_status read_weights(const ms_node *n, int opset, ms_error *err, const char *prefix,
                              ms_trees_src *s)
{
    char a[64], b[64], c[64], d[64];
    snprintf(a, sizeof a, "%s_treeids", prefix);
    snprintf(b, sizeof b, "%s_nodeids", prefix);
    snprintf(c, sizeof c, "%s_ids", prefix);
    snprintf(d, sizeof d, "%s_weights", prefix);
    int64_t cnt;
    ms_status st = get_ints(n, err, a, -1, &s->w_tree_ids, &s->n_weights, NULL);
    owner o = {s->w_tree_ids, NULL, s->n_weights, "weight"};
    if (!st) st = get_ints(n, err, b, s->n_weights, &s->w_node_ids, &cnt, &o);
    o.nodes = s->w_node_ids;
    if (!st) st = get_ints(n, err, c, s->n_weights, &s->w_target_ids, &cnt, &o);
    if (!st) st = get_reals(n, opset, err, d, &s->w_f, &s->w_d, &cnt);
    if (st) return st;
    if (cnt != s->n_weights) return len_fail(n, err, d, cnt, s->n_weights, &o);
    return MS_OK;
}

/* Base values and post_transform. */
static ms_status read_finish(const ms_node *n, int opset, ms_error *err, tree_op *op)
{
    const char *pt = ms_attr_string(n, "post_transform", "NONE");
    op->post = parse_post(pt);
    if (op->post < 0) return fail(n, err, MS_ERR_INVALID, "unknown post_transform '%s'", pt);
    const float *bf;
    const double *bd;
    int64_t nb;
    ms_status st = get_reals(n, opset, err, "base_values", &bf, &bd, &nb);
    if (st) return st;
    if (nb != 0 && nb != 1 && nb != op->K) {
        char m[160];
        snprintf(m, sizeof m, "base_values has %lld entries; expected 1 or %lld (one per %%s)",
                 (long long)nb, (long long)op->K);
        return fail(n, err, MS_ERR_INVALID, m, op->classifier ? "class" : "target");
    }
    op->base = ms_calloc((size_t)op->K, sizeof(double));
    if (!op->base) return fail(n, err, MS_ERR_RUNTIME, "out of memory%s", "");
    for (int64_t k = 0; nb && k < op->K; k++) {
        int64_t j = nb == 1 ? 0 : k;
        op->base[k] = bd ? bd[j] : (double)bf[j];
    }
    return MS_OK;
}

/* Read and validate a node's attributes; build the ensemble. */
static ms_status op_build(const ms_node *n, int opset, int64_t n_features, tree_op **out,
                          ms_error *err)
{
    *out = NULL;
    tree_op *op = ms_calloc(1, sizeof *op);
    if (!op) return fail(n, err, MS_ERR_RUNTIME, "out of memory%s", "");
    op->classifier = !strcmp(n->op_type, "TreeEnsembleClassifier");
    ms_trees_src s = {.n_features = n_features};
    uint8_t *modes = NULL;
    ms_status st = read_nodes(n, opset, err, &s, &modes);
    if (!st) st = read_weights(n, opset, err, op->classifier ? "class" : "target", &s);
    if (!st && op->classifier) {
        int64_t ni, ns;
        const char *const *ls;
        st = get_ints(n, err, "classlabels_int64s", -1, &op->labels_i, &ni, NULL);
        ns = ms_attr_strings(n, "classlabels_strings", &ls);
        if (ns < 0) ns = 0;
        op->labels_s = ns ? ls : NULL;
        if (!st && ni && ns)
            st = fail(n, err, MS_ERR_INVALID, "both classlabels_int64s and classlabels_strings "
                      "are given%s", "");
        op->K = ni + ns;
        if (!st && op->K < 2)
            st = fail(n, err, MS_ERR_UNSUPPORTED, "a classifier with fewer than two class "
                      "labels is not supported%s", "");
        s.agg = MS_TAGG_SUM;
        s.target_word = "class";
    } else if (!st) {
        op->K = ms_attr_int(n, "n_targets", -1);
        if (op->K <= 0) st = fail(n, err, MS_ERR_INVALID, "attribute %s must be positive", "n_targets");
        const char *ag = ms_attr_string(n, "aggregate_function", "SUM");
        if (!strcmp(ag, "SUM")) s.agg = MS_TAGG_SUM;
        else if (!strcmp(ag, "AVERAGE")) s.agg = MS_TAGG_AVERAGE;
        else if (!strcmp(ag, "MIN")) s.agg = MS_TAGG_MIN;
        else if (!strcmp(ag, "MAX")) s.agg = MS_TAGG_MAX;
        else if (!st) st = fail(n, err, MS_ERR_INVALID, "unknown aggregate_function '%s'", ag);
        s.target_word = "target";
    }
    s.n_targets = op->K;
    if (!st) st = read_finish(n, opset, err, op);
    if (!st) {
        char msg[400];
        st = ms_trees_build(&s, &op->trees, msg, sizeof msg);
        if (st) fail(n, err, st, "%s", msg);
    }
    if (!st && op->classifier && op->K == 2 && s.n_weights > 0) {
        int one = 1;
        for (int64_t j = 1; j < s.n_weights; j++) one &= s.w_target_ids[j] == s.w_target_ids[0];
        op->binary = one;
        op->bin_class = s.w_target_ids[0];
    }
    ms_free(modes);
    if (st) {
        op_free(op);
        return st;
    }
    *out = op;
    return MS_OK;
}

/* ---- post transforms -------------------------------------------------------------------- */

/* The ONNX-ML probit: sqrt(2) * erfinv(2p - 1), with the same erfinv approximation as the
 * reference implementation and ONNX Runtime (Winitzki, a = 0.147). */
static double probit(double p)
{
    double x = 2.0 * p - 1.0, sgn = x < 0 ? -1.0 : 1.0;
    x = (1.0 - x) * (1.0 + x);
    if (x == 0) return 0;
    double lg = log(x), v = 2.0 / (3.14159265358979323846 * 0.147) + 0.5 * lg, v2 = lg / 0.147;
    return 1.41421356 * sgn * sqrt(-v + sqrt(v * v - v2));
}

static void post_row(int post, double *r, int64_t K)
{
    switch (post) {
    case POST_LOGISTIC:
        for (int64_t k = 0; k < K; k++) r[k] = 1.0 / (1.0 + exp(-r[k]));
        break;
    case POST_PROBIT:
        for (int64_t k = 0; k < K; k++) r[k] = probit(r[k]);
        break;
    case POST_SOFTMAX:
    case POST_SOFTMAX_ZERO: {
        double mx = r[0], sum = 0;
        for (int64_t k = 1; k < K; k++) mx = r[k] > mx ? r[k] : mx;
        for (int64_t k = 0; k < K; k++) {
            /* SOFTMAX_ZERO keeps (near-)zero scores at zero */
            int zero = post == POST_SOFTMAX_ZERO && r[k] <= 1e-7 && r[k] >= -1e-7;
            r[k] = zero ? 0.0 : exp(r[k] - mx);
            sum += r[k];
        }
        for (int64_t k = 0; k < K; k++) r[k] = sum == 0 ? 0.5 : r[k] / sum;
        break;
    }
    default: break;
    }
}

/* ---- kernels ---------------------------------------------------------------------------- */

static int64_t max_feature_attr(const ms_node *n)
{
    const int64_t *f;
    const char *const *m;
    int nf = ms_attr_ints(n, "nodes_featureids", &f), nm = ms_attr_strings(n, "nodes_modes", &m);
    int64_t mx = -1;
    for (int i = 0; i < nf && i < nm; i++)
        if (strcmp(m[i], "LEAF") && f[i] > mx) mx = f[i];
    return mx;
}

static ms_status trees_infer(ms_kctx *c)
{
    ms_status st = ms_kcheck_ninputs(c, 1, 1);
    if (st) return st;
    const ms_tensor *x = c->in[0];
    if (x->dtype != MS_DTYPE_FLOAT)
        return ms_kfail(c, MS_ERR_UNSUPPORTED, "input X has type %s; only float32 is supported",
                        ms_dtype_name(x->dtype));
    if (x->ndim != 1 && x->ndim != 2)
        return ms_kfail(c, MS_ERR_INVALID, "input X must have rank 1 or 2, not %d", (int)x->ndim);
    int64_t rows = x->ndim == 2 ? x->shape[0] : 1, width = x->shape[x->ndim - 1];
    const tree_op *op = c->state;
    int64_t need = op ? ms_trees_n_features(op->trees) : max_feature_attr(c->node) + 1;
    if (need > width)
        return ms_kfail(c, MS_ERR_INVALID, "the trees read feature %lld but X has %lld features",
                        (long long)(need - 1), (long long)width);
    int classifier = !strcmp(c->node->op_type, "TreeEnsembleClassifier");
    int64_t K;
    if (op) K = op->K;
    else if (classifier) {
        const int64_t *li;
        const char *const *ls;
        int ni = ms_attr_ints(c->node, "classlabels_int64s", &li);
        int ns = ms_attr_strings(c->node, "classlabels_strings", &ls);
        K = (ni > 0 ? ni : 0) + (ns > 0 ? ns : 0);
    } else K = ms_attr_int(c->node, "n_targets", -1);
    if (K <= 0) return ms_kfail(c, MS_ERR_INVALID, "no classes or targets");
    int64_t shape[2] = {rows, K};
    if (classifier) {
        if (c->n_out < 1 || c->n_out > 2) return ms_kfail(c, MS_ERR_INVALID, "takes 1 or 2 outputs");
        int strings = ms_attr_find(c->node, "classlabels_strings") != NULL;
        if (c->out[0]) ms_tensor_set_shape(c->out[0], strings ? MS_DTYPE_STRING : MS_DTYPE_INT64, 1, shape);
        if (c->n_out > 1 && c->out[1]) ms_tensor_set_shape(c->out[1], MS_DTYPE_FLOAT, 2, shape);
    } else {
        if (c->n_out != 1) return ms_kfail(c, MS_ERR_INVALID, "takes 1 output");
        if (c->out[0]) ms_tensor_set_shape(c->out[0], MS_DTYPE_FLOAT, 2, shape);
    }
    c->scratch_size = (size_t)(MS_TREES_BLOCK * K + K) * sizeof(double);
    return MS_OK;
}

/* Turn a row of aggregated scores (in place, K doubles) into outputs. */
static void finish_row(const tree_op *op, double *r, ms_tensor *label, ms_tensor *scores, int64_t row)
{
    int64_t K = op->K;
    for (int64_t k = 0; k < K; k++) r[k] += op->base[k];
    if (op->binary && op->post == POST_LOGISTIC) {
        /* logistic of [-s, s] with one exp: 1/(1+e^-s) and e^-s/(1+e^-s) (= 1/(1+e^s)) */
        double e = exp(-r[op->bin_class]);
        r[1] = 1.0 / (1.0 + e);
        r[0] = isinf(e) ? 1.0 : e / (1.0 + e);
    } else {
        if (op->binary) {
            double s = r[op->bin_class];
            r[1] = s;
            r[0] = op->post == POST_NONE || op->post == POST_PROBIT ? 1.0 - s : -s;
        }
        post_row(op->post, r, K);
    }
    float best = 0;
    int64_t arg = 0;
    float *z = scores ? (float *)scores->data + row * K : NULL;
    for (int64_t k = 0; k < K; k++) {
        float v = (float)r[k];
        if (z) z[k] = v;
        if (k == 0 || v > best || (v != v && best == best)) best = v, arg = k;
        if (v != v) break; /* numpy's argmax stops at the first NaN */
    }
    if (!label) return;
    if (label->dtype == MS_DTYPE_STRING) ((const char **)label->data)[row] = op->labels_s[arg];
    else ((int64_t *)label->data)[row] = op->labels_i[arg];
}

static ms_status trees_compute(ms_kctx *c, const tree_op *op)
{
    const ms_tensor *x = c->in[0];
    int64_t rows = x->ndim == 2 ? x->shape[0] : 1, width = x->shape[x->ndim - 1], K = op->K;
    double *acc = c->scratch;
    ms_tensor *label = op->classifier ? c->out[0] : NULL;
    ms_tensor *scores = op->classifier ? (c->n_out > 1 ? c->out[1] : NULL) : c->out[0];
    for (int64_t r0 = 0; r0 < rows; r0 += MS_TREES_BLOCK) {
        int nb = (int)(rows - r0 < MS_TREES_BLOCK ? rows - r0 : MS_TREES_BLOCK);
        ms_trees_eval(op->trees, (const float *)x->data + r0 * width, nb, width, acc);
        for (int i = 0; i < nb; i++) {
            double *r = acc + (int64_t)i * K;
            if (op->classifier) finish_row(op, r, label, scores, r0 + i);
            else {
                for (int64_t k = 0; k < K; k++) r[k] += op->base[k];
                post_row(op->post, r, K);
                float *y = (float *)scores->data + (r0 + i) * K;
                for (int64_t k = 0; k < K; k++) y[k] = (float)r[k];
            }
        }
    }
    return MS_OK;
}

static void trees_release(void *state) { op_free(state); }

/* The ensemble depends on the attributes and the feature count alone (the key): the sessions of
 * a model share one (ms_kshare); the planner frees only a state that is not the model's. */
static ms_status trees_prepare(ms_kctx *c, void **state)
{
    const ms_tensor *x = c->in[0];
    int64_t width = x->shape[x->ndim - 1];
    if ((*state = ms_kshared(c, (uint64_t)width))) return MS_OK;
    tree_op *op;
    ms_status st = op_build(c->node, c->opset, width, &op, c->err);
    if (st) return st;
    *state = ms_kshare(c, (uint64_t)width, op, trees_release);
    if (!*state) *state = op;
    return MS_OK;
}

static ms_status trees_run(ms_kctx *c)
{
    if (c->state) return trees_compute(c, c->state);
    /* planning runs a node before prepare: build the ensemble (planning may allocate) and
     * share it as prepare would, so prepare finds it: a 200-tree ensemble built once, not
     * twice, before the first prediction (cold start). Unshared, it is freed here. */
    const ms_tensor *x = c->in[0];
    int64_t width = x->shape[x->ndim - 1];
    const tree_op *have = ms_kshared(c, (uint64_t)width);
    if (have) return trees_compute(c, have);
    tree_op *op;
    ms_status st = op_build(c->node, c->opset, width, &op, c->err);
    if (st) return st;
    const tree_op *sh = ms_kshare(c, (uint64_t)width, op, trees_release);
    if (sh) return trees_compute(c, sh);
    st = trees_compute(c, op);
    op_free(op);
    return st;
}

static ms_status trees_check(const struct ms_model *m, const ms_node *n, ms_error *err);

const ms_kernel ms_ops_ml_trees[] = {
    {.domain = "ai.onnx.ml", .op_type = "TreeEnsembleClassifier", .since = 1, .until = 4,
     .infer = trees_infer, .run = trees_run, .prepare = trees_prepare, .release = trees_release,
     .check = trees_check},
    {.domain = "ai.onnx.ml", .op_type = "TreeEnsembleRegressor", .since = 1, .until = 4,
     .infer = trees_infer, .run = trees_run, .prepare = trees_prepare, .release = trees_release,
     .check = trees_check},
    {.op_type = NULL},
};

/* ---- load-time checks ------------------------------------------------------------------- */

ms_status ms_ml_trees_check_node(const ms_node *n, int64_t n_features, ms_error *err)
{
    tree_op *op;
    ms_status st = op_build(n, n->opset, n_features, &op, err);
    op_free(op);
    return st;
}

/* the kernel's load-time check: the input width when the graph declares it, else -1. With a
 * known width the ensemble built to check it is the one prepare would build: the model keeps
 * it (ms_model_share), so loading and the first plan build a 200-tree ensemble once. */
static ms_status trees_check(const struct ms_model *m, const ms_node *n, ms_error *err)
{
    int64_t width = -1;
    if (n->n_in >= 1 && n->in[0] >= 0 && m->values[n->in[0]].kind == MS_VALUE_INPUT) {
        const ms_tensor *t = &m->values[n->in[0]].t;
        if (t->ndim >= 1 && t->ndim <= 2 && t->shape[t->ndim - 1] >= 0) width = t->shape[t->ndim - 1];
    }
    if (width < 0) return ms_ml_trees_check_node(n, width, err);
    tree_op *op;
    ms_status st = op_build(n, n->opset, width, &op, err);
    if (st) return st;
    if (!ms_model_share(m, n, (uint64_t)width, op, trees_release)) op_free(op);
    return MS_OK;
}
