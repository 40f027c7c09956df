/* ex_trees.c: a TreeEnsembleClassifier/Regressor (ONNX-ML, or XGBoost's model.json, which the
 * runtime loads into the same node) as compact C arrays and the loop that walks them.
 *
 * Every split is rewritten as "go to the second child when key(x) > key(t)", where key()
 * maps a float to an int32 in the same order (so the walk compares integers, no FPU flags),
 * and the threshold t is the float that makes that exact for the node's mode (LEQ, LT, GTE,
 * GT; a double threshold is rounded to the side that keeps the comparison the same). A node
 * is 8 bytes, {int32 key, uint16 feature, uint16 offset of the second child}, trees in
 * pre-order so the first child is the next node. A leaf holds its weight's bits and reads a
 * sentinel feature whose key is INT32_MAX with offset 0, so a walk of exactly `depth` steps
 * per tree has no leaf test: it stays on the leaf it reached. NaN: when the model defines
 * it (nodes_missing_value_tracks_true), a row holding one takes a slower walk that looks up
 * each node's NaN direction in a bitmap; otherwise NaN is refused before the walk.
 * Scores are summed in float (the runtime sums in double: they agree within 1e-6 relative),
 * and the base values and post_transform are applied in float (emit_finish says why).
 * Not handled (exit 3): BRANCH_EQ/NEQ, leaves with several weights (random-forest
 * classifiers), trees whose leaves feed different targets, MIN/MAX aggregation, PROBIT. */
#include "ex_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/bs_error.h"
#include "ex_trees.h"

/* ---- reading the attributes ----------------------------------------------------------------- */

typedef struct src {
    int64_t n;
    const int64_t *tree, *node, *feat, *tru, *fal, *miss;
    int64_t n_miss;
    const char *const *modes;
    const float *vf;
    const double *vd;
    int64_t nw;
    const int64_t *wt, *wn, *wc;
    const float *wf;
    const double *wd;
    int64_t *order;       /* node indices sorted by (tree, node) */
    double *leaf_w;       /* per node: its leaf weight */
    int64_t *leaf_c;      /* per node: its target, -1 none */
} src;

static int reals(const ms_node *n, const char *name, const float **vf, const double **vd)
{
    char tn[64];
    snprintf(tn, sizeof tn, "%s_as_tensor", name);
    *vf = NULL, *vd = NULL;
    int c = ms_attr_floats(n, name, vf);
    if (c >= 0) return c;
    const ms_tensor *t = ms_attr_tensor(n, tn);
    if (!t) return -1;
    if (t->dtype == MS_DTYPE_FLOAT) *vf = t->data;
    else if (t->dtype == MS_DTYPE_DOUBLE) *vd = t->data;
    else return -1;
    return (int)ex_numel(t);
}

static const src *sort_src;
static int cmp_node(const void *a, const void *b)
{
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (sort_src->tree[i] != sort_src->tree[j]) return sort_src->tree[i] < sort_src->tree[j] ? -1 : 1;
    return sort_src->node[i] < sort_src->node[j] ? -1 : sort_src->node[i] > sort_src->node[j];
}

static int64_t find(const src *s, int64_t tree, int64_t node)
{
    int64_t lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int64_t mid = (lo + hi) / 2, i = s->order[mid];
        if (s->tree[i] == tree && s->node[i] == node) return i;
        if (s->tree[i] < tree || (s->tree[i] == tree && s->node[i] < node)) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static ms_status read_src(ex_plan *p, const ms_node *n, int clf, src *s)
{
    const char *pre = clf ? "class" : "target";
    char a[4][40];
    snprintf(a[0], 40, "%s_treeids", pre), snprintf(a[1], 40, "%s_nodeids", pre);
    snprintf(a[2], 40, "%s_ids", pre), snprintf(a[3], 40, "%s_weights", pre);
    s->n = ms_attr_ints(n, "nodes_treeids", &s->tree);
    ms_attr_ints(n, "nodes_nodeids", &s->node), ms_attr_ints(n, "nodes_featureids", &s->feat);
    ms_attr_ints(n, "nodes_truenodeids", &s->tru), ms_attr_ints(n, "nodes_falsenodeids", &s->fal);
    s->n_miss = ms_attr_ints(n, "nodes_missing_value_tracks_true", &s->miss);
    ms_attr_strings(n, "nodes_modes", &s->modes);
    reals(n, "nodes_values", &s->vf, &s->vd);
    s->nw = ms_attr_ints(n, a[0], &s->wt);
    ms_attr_ints(n, a[1], &s->wn), ms_attr_ints(n, a[2], &s->wc);
    reals(n, a[3], &s->wf, &s->wd);
    /* the kernel's load-time check validated every list and reference */
    s->order = ex_calloc((size_t)s->n, sizeof *s->order);
    s->leaf_w = ex_calloc((size_t)s->n, sizeof *s->leaf_w);
    s->leaf_c = ex_calloc((size_t)s->n, sizeof *s->leaf_c);
    if (!s->order || !s->leaf_w || !s->leaf_c) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    for (int64_t i = 0; i < s->n; i++) s->order[i] = i, s->leaf_c[i] = -1;
    sort_src = s;
    qsort(s->order, (size_t)s->n, sizeof *s->order, cmp_node);
    for (int64_t j = 0; j < s->nw; j++) {
        int64_t i = find(s, s->wt[j], s->wn[j]);
        if (i < 0) return ex_unsupported(p, n, "a weight for a node that does not exist");
        if (s->leaf_c[i] >= 0)
            return ex_unsupported(p, n, "leaves with several weights (e.g. a random forest classifier)");
        s->leaf_c[i] = s->wc[j];
        s->leaf_w[i] = s->wd ? s->wd[j] : s->wf[j];
    }
    return MS_OK;
}

/* ---- thresholds ------------------------------------------------------------------------------ */

static int32_t key_of(float v)
{
    int32_t i;
    if (v == 0) return 0;
    memcpy(&i, &v, sizeof i);
    return i < 0 ? i ^ 0x7FFFFFFF : i;
}

/* The largest float <= t (strict: < t). */
static float float_below(double t, int strict)
{
    float f = (float)t;
    if ((double)f > t) f = nextafterf(f, -INFINITY);
    if (strict && (double)f == t) f = nextafterf(f, -INFINITY);
    return f;
}

/* ---- layout ----------------------------------------------------------------------------------- */

typedef struct build {
    ex_plan *p;
    const ms_node *n;
    src *s;
    ex_trees *t;
    int64_t at;
    int64_t tree_target;
} build;

static ms_status emit_node(build *b, int64_t i, int depth, int *max_depth)
{
    src *s = b->s;
    ex_trees *t = b->t;
    if (depth > 60) return ex_unsupported(b->p, b->n, "trees deeper than 60 levels");
    if (depth > *max_depth) *max_depth = depth;
    int64_t me = b->at++;
    tnode *nd = &t->nodes[me];
    if (!strcmp(s->modes[i], "LEAF")) {
        if (s->leaf_c[i] >= 0) {
            if (b->tree_target >= 0 && b->tree_target != s->leaf_c[i])
                return ex_unsupported(b->p, b->n, "a tree whose leaves feed different targets");
            b->tree_target = s->leaf_c[i];
        }
        float w = (float)s->leaf_w[i];
        memcpy(&nd->key, &w, sizeof w);
        nd->f = (uint16_t)t->n_features, nd->r = 0;
        return MS_OK;
    }
    const char *m = s->modes[i];
    int leq = !strcmp(m, "BRANCH_LEQ"), lt = !strcmp(m, "BRANCH_LT");
    int gte = !strcmp(m, "BRANCH_GTE"), gt = !strcmp(m, "BRANCH_GT");
    if (!leq && !lt && !gte && !gt) return ex_unsupported(b->p, b->n, "BRANCH_EQ / BRANCH_NEQ splits");
    double th = s->vd ? s->vd[i] : s->vf[i];
    float tf = float_below(th, lt || gte);
    int64_t ti = find(s, s->tree[i], s->tru[i]), fi = find(s, s->tree[i], s->fal[i]);
    int64_t first = (leq || lt) ? ti : fi, second = (leq || lt) ? fi : ti;
    int miss = i < s->n_miss && s->miss[i];
    int nan_second = miss ? (gte || gt) : (leq || lt);
    if (nan_second && t->nan_gt) t->nan_gt[me / 8] |= (uint8_t)(1u << (me % 8));
    nd->key = key_of(tf);
    nd->f = (uint16_t)s->feat[i];
    ms_status st = emit_node(b, first, depth + 1, max_depth);
    if (st) return st;
    int64_t off = b->at - me;
    if (off > 65535) return ex_unsupported(b->p, b->n, "a subtree of more than 65535 nodes");
    t->nodes[me].r = (uint16_t)off;
    return emit_node(b, second, depth + 1, max_depth);
}

static ms_status read_post(ex_plan *p, const ms_node *n, ex_trees *t)
{
    const char *pt = ms_attr_string(n, "post_transform", "NONE");
    t->post = !strcmp(pt, "NONE") ? EX_POST_NONE : !strcmp(pt, "LOGISTIC") ? EX_POST_LOGISTIC
            : !strcmp(pt, "SOFTMAX") ? EX_POST_SOFTMAX : !strcmp(pt, "SOFTMAX_ZERO") ? EX_POST_SOFTMAX_ZERO : -1;
    if (t->post < 0) return ex_unsupported(p, n, "post_transform PROBIT");
    const char *ag = ms_attr_string(n, "aggregate_function", "SUM");
    if (strcmp(ag, "SUM") && strcmp(ag, "AVERAGE")) return ex_unsupported(p, n, "MIN / MAX aggregation");
    t->average = !strcmp(ag, "AVERAGE") && !t->classifier;
    t->base = ex_calloc((size_t)t->K, sizeof *t->base);
    if (!t->base) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    const float *bf;
    const double *bd;
    int nb = reals(n, "base_values", &bf, &bd);
    for (int64_t k = 0; nb > 0 && k < t->K; k++) {
        int64_t j = nb == 1 ? 0 : k;
        t->base[k] = bd ? bd[j] : bf[j];
    }
    return MS_OK;
}

static ms_status layout(ex_plan *p, const ms_node *n, src *s, ex_trees *t)
{
    /* trees in order of id; a root is the node no other node of its tree points at */
    uint8_t *child = ex_calloc((size_t)s->n, 1);
    if (!child) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    for (int64_t i = 0; i < s->n; i++)
        if (strcmp(s->modes[i], "LEAF")) {
            int64_t a = find(s, s->tree[i], s->tru[i]), c = find(s, s->tree[i], s->fal[i]);
            if (a >= 0) child[a] = 1;
            if (c >= 0) child[c] = 1;
        }
    build b = {p, n, s, t, 0, -1};
    ms_status st = MS_OK;
    int64_t tr = 0;
    for (int64_t j = 0; !st && j < s->n; j++) {
        int64_t i = s->order[j];
        if (child[i]) continue;
        int md = 0;
        b.tree_target = -1;
        t->root[tr] = (uint32_t)b.at;
        st = emit_node(&b, i, 0, &md);
        t->depth[tr] = (uint8_t)md;
        t->target[tr] = (uint16_t)(b.tree_target < 0 ? 0 : b.tree_target);
        tr++;
    }
    free(child);
    t->n_trees = tr;
    return st;
}

ms_status ex_trees_lower(ex_plan *p, const ms_node *n, ex_layer *l)
{
    ex_trees *t = l->trees = ex_calloc(1, sizeof *t);
    src s = {0};
    if (!t) return bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    t->classifier = !strcmp(n->op_type, "TreeEnsembleClassifier");
    t->n_features = l->p[0];
    t->nan_ok = p->nan_ok;
    if (t->n_features >= 65535) return ex_unsupported(p, n, "more than 65534 features");
    ms_status st = read_src(p, n, t->classifier, &s);
    if (!st) {
        const int64_t *li;
        const char *const *ls;
        t->K = t->classifier ? (ms_attr_ints(n, "classlabels_int64s", &li) > 0 ? ms_attr_ints(n, "classlabels_int64s", &li)
                                                                             : ms_attr_strings(n, "classlabels_strings", &ls))
                             : ms_attr_int(n, "n_targets", 1);
        t->n_nodes = s.n;
        t->nodes = ex_calloc((size_t)s.n, sizeof *t->nodes);
        t->root = ex_calloc((size_t)s.n, sizeof *t->root);
        t->depth = ex_calloc((size_t)s.n, 1);
        t->target = ex_calloc((size_t)s.n, sizeof *t->target);
        t->nan_gt = p->nan_ok ? ex_calloc((size_t)(s.n + 7) / 8, 1) : NULL;
        if (!t->nodes || !t->root || !t->depth || !t->target || (p->nan_ok && !t->nan_gt))
            st = bs_fail(p->err, MS_ERR_RUNTIME, "out of memory");
    }
    if (!st) st = read_post(p, n, t);
    if (!st) st = layout(p, n, &s, t);
    if (!st && t->classifier && t->K == 2 && s.nw > 0) {
        int one = 1;
        for (int64_t j = 1; j < s.nw; j++) one &= s.wc[j] == s.wc[0];
        t->binary = one, t->bin_class = (int)s.wc[0];
    }
    if (!st && t->nan_gt) { /* no NaN ever goes second: the fast walk handles NaN alone */
        int any = 0;
        for (int64_t j = 0; j < (s.n + 7) / 8; j++) any |= t->nan_gt[j];
        if (!any) free(t->nan_gt), t->nan_gt = NULL;
    }
    free(s.order), free(s.leaf_w), free(s.leaf_c);
    return st;
}

void ex_trees_free(ex_trees *t)
{
    if (!t) return;
    free(t->nodes), free(t->root), free(t->depth), free(t->target), free(t->nan_gt), free(t->base);
    free(t);
}

/* The depth every tree is walked to when one fixed, unrolled walk serves them all: the deepest
 * tree's, when at most a tenth of all steps are spent standing on a leaf reached early and it
 * is at most 12; else 0 (each tree walks its own depth, a loop). */
static int uniform_depth(const ex_trees *t)
{
    int64_t total = 0, dmax = 0;
    for (int64_t i = 0; i < t->n_trees; i++) {
        total += t->depth[i];
        if (t->depth[i] > dmax) dmax = t->depth[i];
    }
    return dmax <= 12 && (dmax * t->n_trees - total) * 10 <= total ? (int)dmax : 0;
}

int64_t ex_trees_bytes(const ex_trees *t)
{
    int D = ex_ctree_depth(t);
    if (D) return ex_ctree_bytes(t, D) + (t->K > 1 ? t->n_trees * 2 : 0) + t->K * 8;
    return t->n_nodes * 8 + t->n_trees * 4 + (uniform_depth(t) ? 0 : t->n_trees) + (t->K > 1 ? t->n_trees * 2 : 0) +
           (t->nan_gt ? (t->n_nodes + 7) / 8 : 0) + t->K * 8;
}

/* ---- C ------------------------------------------------------------------------------------------ */

/* The shared walk, written once per generated file that has trees. */
void ex_trees_emit_kernel(FILE *f, const ex_trees *t)
{
    fputs("/* a float's int32 key: the same order for every non-NaN value, -0 == +0 */\n"
          "static int32_t ex_key(float v)\n{\n    int32_t i;\n    if (v == 0) return 0;\n"
          "    memcpy(&i, &v, sizeof i);\n    return i < 0 ? i ^ 0x7FFFFFFF : i;\n}\n\n", f);
    if (ex_ctree_depth(t)) {
        ex_ctree_emit_kernel(f, t);
        return;
    }
    fputs("typedef struct { int32_t key; uint16_t f, r; } ex_tnode;\n\n"
          "/* one step down a tree (8 instructions on a Cortex-M4); a leaf reads the sentinel key\n"
          " * INT32_MAX and stays */\n"
          "#define EX_STEP(n, xk) if ((xk)[(n)->f] > (n)->key) (n) += (n)->r; else (n)++;\n\n", f);
    if (!uniform_depth(t))
        fputs("static float ex_tree(const ex_tnode *n, const int32_t *xk, int depth)\n{\n"
              "    float w;\n    for (; depth > 0; depth--) EX_STEP(n, xk)\n"
              "    memcpy(&w, &n->key, sizeof w);\n    return w;\n}\n\n", f);
    if (t->nan_gt)
        fputs("/* the walk for a row holding NaN: each node says where NaN goes (bitmap) */\n"
              "static float ex_tree_nan(const ex_tnode *base, uint32_t at, const float *x,\n"
              "                         const int32_t *xk, int nf, const uint8_t *nan_gt)\n{\n"
              "    float w;\n    for (;;) {\n        const ex_tnode *n = base + at;\n"
              "        if (n->f == nf) break;\n"
              "        int second = x[n->f] != x[n->f] ? (nan_gt[at / 8] >> (at % 8)) & 1\n"
              "                                        : xk[n->f] > n->key;\n"
              "        at += second ? n->r : 1u;\n    }\n"
              "    memcpy(&w, &base[at].key, sizeof w);\n    return w;\n}\n\n", f);
}

void ex_trees_emit_data(FILE *f, const ex_trees *t, int id)
{
    int D = ex_ctree_depth(t);
    if (D) ex_ctree_emit_data(f, t, id, D);
    if (D && t->K > 1 && !t->binary) {
        fprintf(f, "static const uint16_t ex_target%d[%lld] = {", id, (long long)t->n_trees);
        for (int64_t i = 0; i < t->n_trees; i++) fprintf(f, "%s%u", i ? "," : "", (unsigned)t->target[i]);
        fputs("};\n", f);
    }
    if (D) return;
    fprintf(f, "static const ex_tnode ex_nodes%d[%lld] = {\n", id, (long long)t->n_nodes);
    for (int64_t i = 0; i < t->n_nodes; i++)
        fprintf(f, "%s{%ld,%u,%u},%s", i % 6 ? "" : "    ", (long)t->nodes[i].key,
                (unsigned)t->nodes[i].f, (unsigned)t->nodes[i].r, i % 6 == 5 || i + 1 == t->n_nodes ? "\n" : "");
    fprintf(f, "};\nstatic const uint32_t ex_roots%d[%lld] = {", id, (long long)t->n_trees);
    for (int64_t i = 0; i < t->n_trees; i++) fprintf(f, "%s%lu", i ? "," : "", (unsigned long)t->root[i]);
    fputs("};\n", f);
    if (!uniform_depth(t)) {
        fprintf(f, "static const uint8_t ex_depth%d[%lld] = {", id, (long long)t->n_trees);
        for (int64_t i = 0; i < t->n_trees; i++) fprintf(f, "%s%u", i ? "," : "", (unsigned)t->depth[i]);
        fputs("};\n", f);
    }
    if (t->K > 1 && !t->binary) {
        fprintf(f, "static const uint16_t ex_target%d[%lld] = {", id, (long long)t->n_trees);
        for (int64_t i = 0; i < t->n_trees; i++) fprintf(f, "%s%u", i ? "," : "", (unsigned)t->target[i]);
        fputs("};\n", f);
    }
    if (t->nan_gt) {
        fprintf(f, "static const uint8_t ex_nan%d[%lld] = {", id, (long long)((t->n_nodes + 7) / 8));
        for (int64_t i = 0; i < (t->n_nodes + 7) / 8; i++)
            fprintf(f, "%s%u", i % 24 ? "," : i ? ",\n    " : "", (unsigned)t->nan_gt[i]);
        fputs("};\n", f);
    }
}

/* Scores -> outputs as the runtime's tree kernel finishes a row (double). */
/* Scores -> outputs as the runtime's tree kernel finishes a row, but in float: the scores are
 * float sums already (1e-7 of the runtime's double ones), and a Cortex-M4F has no double FPU,
 * where a double exp costs about 2,500 instructions against expf's 100. */
static void emit_finish(FILE *f, const ex_trees *t, const char *y)
{
    int64_t K = t->K;
    fprintf(f, "        float r[%lld];\n", (long long)K);
    fprintf(f, "        for (int k = 0; k < %lld; k++) r[k] = acc[k]%s + ex_base[k];\n",
            (long long)K, t->average ? " / (float)EX_NT" : "");
    if (t->classifier && t->binary && t->post == EX_POST_LOGISTIC) {
        fprintf(f, "        float e = expf(-r[%d]);\n        r[1] = 1.0f / (1.0f + e);\n"
                   "        r[0] = isinf(e) ? 1.0f : e / (1.0f + e);\n", t->bin_class);
    } else {
        if (t->classifier && t->binary)
            fprintf(f, "        float s = r[%d];\n        r[1] = s;\n        r[0] = %s;\n", t->bin_class,
                    t->post == EX_POST_NONE ? "1.0f - s" : "-s");
        if (t->post == EX_POST_LOGISTIC)
            fprintf(f, "        for (int k = 0; k < %lld; k++) r[k] = 1.0f / (1.0f + expf(-r[k]));\n", (long long)K);
        if (t->post == EX_POST_SOFTMAX || t->post == EX_POST_SOFTMAX_ZERO) {
            fprintf(f, "        float mx = r[0], sum = 0;\n"
                       "        for (int k = 1; k < %lld; k++) mx = r[k] > mx ? r[k] : mx;\n"
                       "        for (int k = 0; k < %lld; k++) {\n", (long long)K, (long long)K);
            if (t->post == EX_POST_SOFTMAX_ZERO)
                fputs("            int zero = r[k] <= 1e-7f && r[k] >= -1e-7f;\n"
                      "            r[k] = zero ? 0.0f : expf(r[k] - mx);\n", f);
            else fputs("            r[k] = expf(r[k] - mx);\n", f);
            fprintf(f, "            sum += r[k];\n        }\n"
                       "        for (int k = 0; k < %lld; k++) r[k] = sum == 0 ? 0.5f : r[k] / sum;\n", (long long)K);
        }
    }
    fprintf(f, "        memcpy(%s, r, sizeof r);\n", y);
}

void ex_trees_emit_call(FILE *f, const ex_trees *t, int id, const char *x, const char *y)
{
    int64_t K = t->K, nf = t->n_features;
    fprintf(f, "    {   /* %lld trees, %lld nodes */\n", (long long)t->n_trees, (long long)t->n_nodes);
    fprintf(f, "#define EX_NT %lld\n", (long long)t->n_trees);
    fprintf(f, "        static const float ex_base[%lld] = {", (long long)K);
    for (int64_t k = 0; k < K; k++) fprintf(f, "%s%af", k ? ", " : "", (double)(float)t->base[k]);
    int CD = ex_ctree_depth(t);
    /* static: an sp-relative array costs 2 more instructions per step */
    fprintf(f, "};\n        static %s xk[%lld];\n        float acc[%lld] = {0};\n",
            CD ? "uint32_t" : "int32_t", (long long)nf + 1, (long long)K);
    fprintf(f, "        int nan = 0;\n        for (int j = 0; j < %lld; j++) {\n"
               "            nan |= %s[j] != %s[j];\n", (long long)nf, x, x);
    if (CD) fprintf(f, "            xk[j] = %s[j] != %s[j] ? 0u : (uint32_t)ex_key(%s[j]) ^ 0x80000000u;\n        }\n", x, x, x);
    else fprintf(f, "            xk[j] = %s[j] != %s[j] ? INT32_MIN : ex_key(%s[j]);\n        }\n"
                    "        xk[%lld] = INT32_MAX;\n", x, x, x, (long long)nf);
    const char *tgt = K == 1 ? "0" : t->binary ? "" : NULL;
    char tbuf[40];
    if (!tgt) snprintf(tbuf, sizeof tbuf, "ex_target%d[t]", id), tgt = tbuf;
    else if (!*tgt) snprintf(tbuf, sizeof tbuf, "%d", t->bin_class), tgt = tbuf;
    if (CD) {
        ex_ctree_emit_walk(f, t, id, CD, x, tgt);
        emit_finish(f, t, y);
        fputs("#undef EX_NT\n    }\n", f);
        return;
    }
    if (t->nan_gt)
        fprintf(f, "        if (nan)\n            for (int t = 0; t < EX_NT; t++)\n"
                   "                acc[%s] += ex_tree_nan(ex_nodes%d, ex_roots%d[t], %s, xk, %lld, ex_nan%d);\n"
                   "        else\n", tgt, id, id, x, (long long)nf, id);
    else fputs("        (void)nan;\n", f);
    int D = uniform_depth(t);
    if (D) { /* every tree walked to the same depth, the steps unrolled */
        fprintf(f, "        for (int t = 0; t < EX_NT; t++) {\n"
                   "            const ex_tnode *n = ex_nodes%d + ex_roots%d[t];\n"
                   "            float w;\n            ", id, id);
        for (int k = 0; k < D; k++) fputs("EX_STEP(n, xk) ", f);
        fprintf(f, "\n            memcpy(&w, &n->key, sizeof w);\n"
                   "            acc[%s] += w;\n        }\n", tgt);
    } else {
        fprintf(f, "        for (int t = 0; t < EX_NT; t++)\n"
                   "            acc[%s] += ex_tree(ex_nodes%d + ex_roots%d[t], xk, ex_depth%d[t]);\n",
                tgt, id, id, id);
    }
    emit_finish(f, t, y);
    fputs("#undef EX_NT\n    }\n", f);
}
