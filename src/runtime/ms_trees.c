/* ms_trees.c: tree-ensemble validation, layout and evaluation (see ms_trees.h). */
#include "ms_trees.h"
#include "ms_alloc.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* x86-64 builds carry an AVX2 evaluation path, picked at run time (the CPU is asked once, at
 * build time of the ensemble); everything else uses the portable C path. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(MS_TREES_NO_SIMD)
#define MS_TREES_AVX2 1
#include <immintrin.h>
#endif

/* ==== layout ============================================================================= */

enum { K_GT, K_NE, K_LEAF }; /* go right when x > thr / x != thr; or a leaf */

/* Generic node, 16 bytes, pre-order: the left child is the next node. */
typedef struct tnode {
    float thr;         /* branch: threshold; leaf: unused */
    uint32_t feat;     /* branch: feature id; leaf: number of weights */
    uint32_t right;    /* branch: index of the right child; leaf: index of the first weight */
    uint8_t kind;
    uint8_t nan_right; /* branch: a NaN feature goes right */
    uint16_t depth;    /* depth of this node in its tree (build only) */
} tnode;

typedef struct tweight {
    int64_t target;
    double w;
} tweight;

/* Dense node: complete binary tree in level order, children of i at 2i+1 and 2i+2. */
typedef struct dnode {
    float thr;
    uint32_t feat;
} dnode;

#define DENSE_MAX_DEPTH 12
/* The top levels of every dense tree (TOP_NODES nodes, padded) are also kept as separate
 * threshold and feature rows, so the SIMD paths select a level's node with a register permute
 * instead of a memory gather: AVX2 permutes 8 entries (levels 0-3), AVX-512 16 in one register
 * and 32 across two (levels 0-5). */
#define TOP_LEVELS_256 4
#define TOP_LEVELS_512 6
#define TOP_NODES 64

struct ms_trees {
    int64_t n_trees, n_targets, n_features, n_nodes, n_weights;
    ms_tagg agg;
    tnode *nodes;
    uint32_t *roots;
    tweight *w;
    /* dense form (dense != 0) */
    int dense, nan_free;
    dnode *dn;
    float *dleaf;
    uint64_t *d_node_off, *d_leaf_off;
    uint8_t *d_depth;
    int64_t *d_target;
    float *top_thr;    /* n_trees x TOP_NODES */
    int32_t *top_feat; /* n_trees x TOP_NODES */
    int simd;          /* 0: portable C; 1: AVX2; 2: AVX2 and AVX-512 run the dense form */
    /* for one row at a time, 16 trees per AVX-512 vector (lanes = trees): per tree its dense
     * node and leaf offsets and its depth, as int32 (NULL when they do not fit) */
    int32_t *lane_node, *lane_leaf, *lane_depth;
};

int64_t ms_trees_n_features(const ms_trees *t) { return t->n_features; }
int64_t ms_trees_n_targets(const ms_trees *t) { return t->n_targets; }
int64_t ms_trees_n_trees(const ms_trees *t) { return t->n_trees; }
int ms_trees_is_dense(const ms_trees *t) { return t->dense; }

void ms_trees_free(ms_trees *t)
{
    if (!t) return;
    ms_free(t->nodes);
    ms_free(t->roots);
    ms_free(t->w);
    ms_aligned_free(t->dn);
    ms_aligned_free(t->dleaf);
    ms_free(t->d_node_off);
    ms_free(t->d_leaf_off);
    ms_free(t->d_depth);
    ms_free(t->d_target);
    ms_aligned_free(t->top_thr);
    ms_aligned_free(t->top_feat);
    ms_free(t->lane_node);
    ms_free(t->lane_leaf);
    ms_free(t->lane_depth);
    ms_free(t);
}

/* ==== build ============================================================================== */

typedef struct key {
    int64_t tree, node, idx;
} key;

static int key_cmp(const void *a, const void *b)
{
    const key *x = a, *y = b;
    if (x->tree != y->tree) return x->tree < y->tree ? -1 : 1;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* (tree, node) -> node index, by open addressing over the source's id arrays. The children
 * of every node and the node of every weight are looked up here: as binary searches over all
 * nodes these were a tenth of a 200-tree GBDT's cold start (75,000 searches of 15 steps);
 * hashed, each is about one probe. Slots hold index + 1 (0: empty); the table is at least
 * twice the node count. */
typedef struct nindex {
    int64_t *slot;
    uint64_t mask;
} nindex;

static uint64_t nhash(int64_t tree, int64_t node)
{
    uint64_t h = (uint64_t)tree * 0x9E3779B97F4A7C15u ^ (uint64_t)node * 0xC2B2AE3D27D4EB4Fu;
    return h ^ (h >> 31);
}

static int64_t key_find(const nindex *x, const ms_trees_src *s, int64_t tree, int64_t node)
{
    for (uint64_t h = nhash(tree, node) & x->mask;; h = (h + 1) & x->mask) {
        int64_t v = x->slot[h];
        if (v == 0) return -1;
        if (s->tree_ids[v - 1] == tree && s->node_ids[v - 1] == node) return v - 1;
    }
}

/* Insert node i; its index if (tree, node) is already there (a duplicate), else -1. */
static int64_t key_insert(nindex *x, const ms_trees_src *s, int64_t i)
{
    int64_t tree = s->tree_ids[i], node = s->node_ids[i];
    for (uint64_t h = nhash(tree, node) & x->mask;; h = (h + 1) & x->mask) {
        int64_t v = x->slot[h];
        if (v == 0) {
            x->slot[h] = i + 1;
            return -1;
        }
        if (s->tree_ids[v - 1] == tree && s->node_ids[v - 1] == node) return v - 1;
    }
}

/* Everything the build needs besides the result; freed at the end. */
typedef struct builder {
    const ms_trees_src *s;
    ms_trees *t;
    char *msg;
    size_t cap;
    key *keys;          /* sorted by (tree, node): trees in order */
    nindex index;
    int64_t *tchild, *fchild, *indeg, *wstart, *wcount, *worder, *tree_of, *stack;
    int64_t *tree_first; /* per tree: first node index in listing order */
    int64_t *tree_count; /* per tree: its number of nodes (with tree_first) */
    uint8_t *seen;       /* per node: laid out (reached from its tree's root) */
} builder;

#define BFAIL(b, st, ...) (snprintf((b)->msg, (b)->cap, __VA_ARGS__), (st))

static double src_value(const ms_trees_src *s, int64_t i)
{
    return s->values_d ? s->values_d[i] : (double)s->values_f[i];
}

static double src_weight(const ms_trees_src *s, int64_t i)
{
    return s->w_d ? s->w_d[i] : (double)s->w_f[i];
}

/* Largest float <= v, smallest float >= v: float x compares with v exactly as with these. */
static float round_down(double v)
{
    float f = (float)v;
    if ((double)f > v) f = nextafterf(f, -INFINITY);
    return f;
}

static float round_up(double v)
{
    float f = (float)v;
    if ((double)f < v) f = nextafterf(f, INFINITY);
    return f;
}

static ms_status build_alloc(builder *b)
{
    int64_t n = b->s->n_nodes, nw = b->s->n_weights;
    size_t nn = (size_t)(n > 0 ? n : 1), nwn = (size_t)(nw > 0 ? nw : 1);
    b->keys = ms_calloc(nn, sizeof *b->keys);
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)nn) cap *= 2;
    b->index.slot = ms_calloc((size_t)cap, sizeof(int64_t));
    b->index.mask = cap - 1;
    b->tchild = ms_calloc(nn, sizeof(int64_t));
    b->fchild = ms_calloc(nn, sizeof(int64_t));
    b->indeg = ms_calloc(nn, sizeof(int64_t));
    b->wstart = ms_calloc(nn + 1, sizeof(int64_t));
    b->wcount = ms_calloc(nn, sizeof(int64_t));
    b->worder = ms_calloc(nwn, sizeof(int64_t));
    b->tree_of = ms_calloc(nn, sizeof(int64_t));
    b->stack = ms_calloc(nn, sizeof(int64_t) * 2);
    b->tree_first = ms_calloc(nn, sizeof(int64_t));
    b->tree_count = ms_calloc(nn, sizeof(int64_t));
    b->seen = ms_calloc(nn, 1);
    if (!b->keys || !b->index.slot || !b->tchild || !b->fchild || !b->indeg || !b->wstart || !b->wcount ||
        !b->worder || !b->tree_of || !b->stack || !b->tree_first || !b->tree_count || !b->seen)
        return BFAIL(b, MS_ERR_RUNTIME, "out of memory building a tree ensemble");
    return MS_OK;
}

static void build_release(builder *b)
{
    ms_free(b->keys);
    ms_free(b->index.slot);
    ms_free(b->tchild);
    ms_free(b->fchild);
    ms_free(b->indeg);
    ms_free(b->wstart);
    ms_free(b->wcount);
    ms_free(b->worder);
    ms_free(b->tree_of);
    ms_free(b->stack);
    ms_free(b->tree_first);
    ms_free(b->tree_count);
    ms_free(b->seen);
}

/* A node on a cycle of tree `tid`, every node of which has exactly one parent: walk up from
 * node `from` as many steps as the tree has nodes. (parent[] is built in b->stack.) */
static int64_t cycle_node(builder *b, int64_t tid, int64_t from)
{
    const ms_trees_src *s = b->s;
    int64_t *parent = b->stack, count = 0;
    for (int64_t i = 0; i < s->n_nodes; i++) parent[i] = -1;
    for (int64_t i = 0; i < s->n_nodes; i++) {
        if (s->tree_ids[i] != tid || s->modes[i] == MS_TMODE_LEAF) continue;
        parent[b->tchild[i]] = parent[b->fchild[i]] = i;
        count++;
    }
    int64_t i = from;
    for (int64_t k = 0; k <= count && parent[i] >= 0; k++) i = parent[i];
    return i;
}

/* Per-node checks that need no other node: mode, feature id, threshold. */
static ms_status check_node(builder *b, int64_t i)
{
    const ms_trees_src *s = b->s;
    long long tr = (long long)s->tree_ids[i], nd = (long long)s->node_ids[i];
    if (s->modes[i] > MS_TMODE_LEAF)
        return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld: unknown mode", tr, nd);
    if (s->modes[i] == MS_TMODE_LEAF) return MS_OK;
    int64_t f = s->feature_ids[i];
    if (f < 0 || f > (int64_t)UINT32_MAX - 1 || (s->n_features >= 0 && f >= s->n_features))
        return s->n_features >= 0
                   ? BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld: feature id %lld is out of "
                           "range (the input has %lld features)", tr, nd, (long long)f,
                           (long long)s->n_features)
                   : BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld: feature id %lld is out of "
                           "range", tr, nd, (long long)f);
    if (isnan(src_value(s, i)))
        return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld: the threshold is NaN", tr, nd);
    return MS_OK;
}

/* Index nodes by (tree, node), resolve children, count parents. */
static ms_status build_links(builder *b)
{
    const ms_trees_src *s = b->s;
    int64_t n = s->n_nodes;
    int sorted = 1;
    for (int64_t i = 0; i < n; i++) {
        b->keys[i] = (key){s->tree_ids[i], s->node_ids[i], i};
        ms_status st = check_node(b, i);
        if (st) return st;
        int64_t dup = key_insert(&b->index, s, i);
        if (dup >= 0)
            return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld is defined twice",
                         (long long)s->tree_ids[i], (long long)s->node_ids[i]);
        if (i > 0 && sorted) sorted = key_cmp(&b->keys[i - 1], &b->keys[i]) < 0;
    }
    /* converters list nodes by tree and node id already: sort only when they do not */
    if (!sorted) qsort(b->keys, (size_t)n, sizeof *b->keys, key_cmp);
    for (int64_t i = 0; i < n; i++) {
        if (s->modes[i] == MS_TMODE_LEAF) {
            b->tchild[i] = b->fchild[i] = -1;
            continue;
        }
        long long tr = (long long)s->tree_ids[i], nd = (long long)s->node_ids[i];
        int64_t tc = key_find(&b->index, s, s->tree_ids[i], s->true_ids[i]);
        int64_t fc = key_find(&b->index, s, s->tree_ids[i], s->false_ids[i]);
        if (tc < 0)
            return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld: its true child, node %lld, "
                         "does not exist", tr, nd, (long long)s->true_ids[i]);
        if (fc < 0)
            return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld: its false child, node %lld, "
                         "does not exist", tr, nd, (long long)s->false_ids[i]);
        if (tc == i || fc == i)
            return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld points to itself (a cycle)", tr, nd);
        b->tchild[i] = tc;
        b->fchild[i] = fc;
        if (++b->indeg[tc] > 1 || ++b->indeg[fc] > 1)
            return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld: node %lld has two parents "
                         "(a cycle or a shared subtree)", tr, nd,
                         (long long)(b->indeg[tc] > 1 ? s->true_ids[i] : s->false_ids[i]));
    }
    return MS_OK;
}

/* Number the trees in order of first appearance and pick each tree's root: its first listed
 * node without a parent. */
static ms_status build_trees(builder *b)
{
    const ms_trees_src *s = b->s;
    int64_t n = s->n_nodes, nt = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k == 0 || b->keys[k].tree != b->keys[k - 1].tree) b->tree_first[nt] = b->keys[k].idx, nt++;
        else if (b->keys[k].idx < b->tree_first[nt - 1]) b->tree_first[nt - 1] = b->keys[k].idx;
        b->tree_count[nt - 1]++;
    }
    /* order trees by first appearance: sort the first indices */
    for (int64_t a = 1; a < nt; a++) { /* insertion sort is fine: trees are few */
        int64_t v = b->tree_first[a], w = b->tree_count[a], c = a;
        for (; c > 0 && b->tree_first[c - 1] > v; c--)
            b->tree_first[c] = b->tree_first[c - 1], b->tree_count[c] = b->tree_count[c - 1];
        b->tree_first[c] = v, b->tree_count[c] = w;
    }
    ms_trees *t = b->t;
    t->n_trees = nt;
    t->roots = ms_calloc((size_t)(nt ? nt : 1), sizeof *t->roots);
    if (!t->roots) return BFAIL(b, MS_ERR_RUNTIME, "out of memory building a tree ensemble");
    return MS_OK;
}

/* Group the leaf weights by node, checking their targets. */
static ms_status build_weights(builder *b)
{
    const ms_trees_src *s = b->s;
    int64_t n = s->n_nodes, nw = s->n_weights;
    int64_t *where = b->worder; /* first pass: node index of each weight (-1: ignored) */
    for (int64_t j = 0; j < nw; j++) {
        int64_t i = key_find(&b->index, s, s->w_tree_ids[j], s->w_node_ids[j]);
        if (i < 0)
            return BFAIL(b, MS_ERR_INVALID, "%s weight %lld refers to tree %lld node %lld, which "
                         "does not exist", s->target_word, (long long)j,
                         (long long)s->w_tree_ids[j], (long long)s->w_node_ids[j]);
        if (s->w_target_ids[j] < 0 || s->w_target_ids[j] >= s->n_targets)
            return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld: %s id %lld is out of range "
                         "(there are %lld)", (long long)s->w_tree_ids[j],
                         (long long)s->w_node_ids[j], s->target_word,
                         (long long)s->w_target_ids[j], (long long)s->n_targets);
        /* weights on branch nodes are ignored, as old converters wrote them */
        where[j] = s->modes[i] == MS_TMODE_LEAF ? i : -1;
        if (where[j] >= 0) b->wcount[i]++;
    }
    for (int64_t i = 0; i < n; i++) b->wstart[i + 1] = b->wstart[i] + b->wcount[i];
    ms_trees *t = b->t;
    t->w = ms_calloc((size_t)(nw ? nw : 1), sizeof *t->w);
    if (!t->w) return BFAIL(b, MS_ERR_RUNTIME, "out of memory building a tree ensemble");
    memset(b->wcount, 0, (size_t)n * sizeof(int64_t));
    for (int64_t j = 0; j < nw; j++) {
        int64_t i = where[j];
        if (i < 0) continue;
        int64_t pos = b->wstart[i] + b->wcount[i]++;
        t->w[pos].target = s->w_target_ids[j];
        t->w[pos].w = src_weight(s, j);
    }
    t->n_weights = b->wstart[n];
    return MS_OK;
}

/* Rewrite node i's comparison as "go right when x > thr" (or x != thr) and say which original
 * child goes left. */
static void canon_branch(const ms_trees_src *s, int64_t i, tnode *o, int *true_left)
{
    double v = src_value(s, i);
    int mode = s->modes[i];
    int mtt = s->missing_true && i < s->n_missing && s->missing_true[i] == 1;
    o->kind = K_GT;
    switch (mode) {
    case MS_TMODE_LEQ: *true_left = 1; o->thr = round_down(v); break;
    case MS_TMODE_GT: *true_left = 0; o->thr = round_down(v); break;
    case MS_TMODE_LT:
    case MS_TMODE_GTE: {
        /* x < v  <=>  !(x >= ru(v))  <=>  !(x > prev(ru(v))) */
        float up = round_up(v);
        *true_left = mode == MS_TMODE_LT;
        if (up == -INFINITY) { /* x < -inf never holds, x >= -inf always does */
            *true_left = mode == MS_TMODE_GTE;
            o->thr = INFINITY; /* never go right */
        } else {
            o->thr = nextafterf(up, -INFINITY);
        }
        break;
    }
    default: { /* EQ, NEQ: a threshold float x can never equal compares as NaN */
        float f = (float)v;
        o->kind = K_NE;
        o->thr = (double)f == v ? f : NAN;
        *true_left = mode == MS_TMODE_EQ;
        break;
    }
    }
    /* NaN takes the true branch when tracked so, and for NEQ (NaN != v holds) */
    int nan_true = mtt || mode == MS_TMODE_NEQ;
    o->nan_right = (uint8_t)(nan_true ? !*true_left : *true_left);
}

/* Lay out one tree in pre-order from its root; refuse nodes the root does not reach. */
static ms_status build_flatten(builder *b, int64_t tree, int64_t *pos)
{
    const ms_trees_src *s = b->s;
    ms_trees *t = b->t;
    int64_t first = b->tree_first[tree], tid = s->tree_ids[first], root = -1, count = 0;
    for (int64_t i = first; i < s->n_nodes; i++)
        if (s->tree_ids[i] == tid && b->indeg[i] == 0) { root = i; break; }
    if (root < 0)
        return BFAIL(b, MS_ERR_INVALID, "tree %lld has no root: its nodes form a cycle (through "
                     "node %lld)", (long long)tid, (long long)s->node_ids[cycle_node(b, tid, first)]);
    t->roots[tree] = (uint32_t)*pos;
    /* stack entries: (node index, index of the parent whose right link to patch, or -1) */
    int64_t sp = 0;
    b->stack[sp++] = root, b->stack[sp++] = -1;
    while (sp) {
        int64_t patch = b->stack[--sp], i = b->stack[--sp];
        int64_t me = (*pos)++;
        tnode *o = &t->nodes[me];
        count++;
        b->seen[i] = 1;
        if (patch >= 0) t->nodes[patch].right = (uint32_t)me;
        uint16_t depth = patch >= 0 ? (uint16_t)(t->nodes[patch].depth + 1)
                                    : me > t->roots[tree] ? (uint16_t)(t->nodes[me - 1].depth + 1) : 0;
        o->depth = depth;
        if (depth >= 65000)
            return BFAIL(b, MS_ERR_UNSUPPORTED, "tree %lld is deeper than 65000 levels", (long long)tid);
        if (s->modes[i] == MS_TMODE_LEAF) {
            o->kind = K_LEAF;
            o->feat = (uint32_t)b->wcount[i];
            o->right = (uint32_t)b->wstart[i];
            continue;
        }
        int true_left;
        canon_branch(s, i, o, &true_left);
        o->feat = (uint32_t)s->feature_ids[i];
        int64_t l = true_left ? b->tchild[i] : b->fchild[i];
        int64_t r = true_left ? b->fchild[i] : b->tchild[i];
        b->stack[sp++] = r, b->stack[sp++] = me; /* right after the whole left subtree */
        b->stack[sp++] = l, b->stack[sp++] = -1; /* left: next in pre-order */
        if (s->feature_ids[i] + 1 > t->n_features) t->n_features = s->feature_ids[i] + 1;
    }
    /* counted once per ensemble in build_trees: a scan to the end per tree was quadratic
     * (12M instructions for 200 trees) */
    if (count != b->tree_count[tree]) {
        for (int64_t i = first; i < s->n_nodes; i++) /* name one unreached node */
            if (s->tree_ids[i] == tid && !b->seen[i] && b->indeg[i] == 0)
                return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld is not reachable from the "
                             "root (node %lld)", (long long)tid, (long long)s->node_ids[i],
                             (long long)s->node_ids[root]);
        for (int64_t i = first; i < s->n_nodes; i++) /* no unreached node without a parent */
            if (s->tree_ids[i] == tid && !b->seen[i])
                return BFAIL(b, MS_ERR_INVALID, "tree %lld node %lld is not reachable from the "
                             "root (node %lld): it is on a cycle", (long long)tid,
                             (long long)s->node_ids[cycle_node(b, tid, i)],
                             (long long)s->node_ids[root]);
    }
    return MS_OK;
}

/* ---- dense form ---------------------------------------------------------------------------- */

/* Can the ensemble use the dense form? Sets each tree's depth and target. */
static int dense_plan(ms_trees *t, uint64_t *n_dnodes, uint64_t *n_dleaves)
{
    if (t->agg != MS_TAGG_SUM && t->agg != MS_TAGG_AVERAGE) return 0;
    *n_dnodes = *n_dleaves = 0;
    t->nan_free = 1;
    for (int64_t tr = 0; tr < t->n_trees; tr++) {
        uint32_t a = t->roots[tr], e = tr + 1 < t->n_trees ? t->roots[tr + 1] : (uint32_t)t->n_nodes;
        int depth = 0;
        int64_t target = -1;
        for (uint32_t i = a; i < e; i++) {
            const tnode *n = &t->nodes[i];
            if (n->kind == K_NE) return 0;
            if (n->kind == K_GT) {
                if (n->nan_right) t->nan_free = 0;
                continue;
            }
            if (n->depth > depth) depth = n->depth;
            if (n->feat > 1) return 0;
            if (n->feat == 1) {
                const tweight *w = &t->w[n->right];
                if ((double)(float)w->w != w->w) return 0;
                if (target >= 0 && w->target != target) return 0;
                target = w->target;
            }
        }
        if (depth > DENSE_MAX_DEPTH) return 0;
        t->d_depth[tr] = (uint8_t)depth;
        t->d_target[tr] = target < 0 ? 0 : target;
        t->d_node_off[tr] = *n_dnodes;
        t->d_leaf_off[tr] = *n_dleaves;
        *n_dnodes += ((uint64_t)1 << depth) - 1;
        *n_dleaves += (uint64_t)1 << depth;
    }
    /* padding must not blow up memory: at most 16x the generic form, or 1M nodes */
    return *n_dnodes <= 16 * (uint64_t)t->n_nodes + (1u << 20);
}

/* Fill dense slot `d` (level `lvl` of a tree of depth `depth`) from generic node `g`. */
static void dense_fill(ms_trees *t, int64_t tr, uint32_t g, uint64_t d, int lvl)
{
    int depth = t->d_depth[tr];
    const tnode *n = &t->nodes[g];
    if (lvl == depth) { /* leaves are only reached at full depth */
        float v = n->feat ? (float)t->w[n->right].w : 0.0f;
        t->dleaf[t->d_leaf_off[tr] + d - (((uint64_t)1 << depth) - 1)] = v;
        return;
    }
    dnode *o = &t->dn[t->d_node_off[tr] + d];
    if (n->kind == K_LEAF) { /* pad: always go left (x > +inf never holds) to a copy of the leaf */
        o->thr = INFINITY;
        o->feat = 0;
        dense_fill(t, tr, g, 2 * d + 1, lvl + 1);
        dense_fill(t, tr, g, 2 * d + 2, lvl + 1);
        return;
    }
    o->thr = n->thr;
    o->feat = n->feat;
    dense_fill(t, tr, g + 1, 2 * d + 1, lvl + 1);
    dense_fill(t, tr, n->right, 2 * d + 2, lvl + 1);
}

static ms_status build_dense(builder *b)
{
    ms_trees *t = b->t;
    size_t nt = (size_t)(t->n_trees ? t->n_trees : 1);
    t->d_node_off = ms_calloc(nt, sizeof(uint64_t));
    t->d_leaf_off = ms_calloc(nt, sizeof(uint64_t));
    t->d_depth = ms_calloc(nt, 1);
    t->d_target = ms_calloc(nt, sizeof(int64_t));
    if (!t->d_node_off || !t->d_leaf_off || !t->d_depth || !t->d_target)
        return BFAIL(b, MS_ERR_RUNTIME, "out of memory building a tree ensemble");
    uint64_t nd, nl;
    if (!dense_plan(t, &nd, &nl)) return MS_OK;
    t->dn = ms_aligned_alloc((size_t)(nd ? nd : 1) * sizeof(dnode));
    t->dleaf = ms_aligned_alloc((size_t)nl * sizeof(float));
    if (!t->dn || !t->dleaf) return BFAIL(b, MS_ERR_RUNTIME, "out of memory building a tree ensemble");
    for (int64_t tr = 0; tr < t->n_trees; tr++) dense_fill(t, tr, t->roots[tr], 0, 0);
    t->top_thr = ms_aligned_alloc(nt * TOP_NODES * sizeof(float));
    t->top_feat = ms_aligned_alloc(nt * TOP_NODES * sizeof(int32_t));
    if (!t->top_thr || !t->top_feat)
        return BFAIL(b, MS_ERR_RUNTIME, "out of memory building a tree ensemble");
    for (int64_t tr = 0; tr < t->n_trees; tr++) {
        uint64_t have = ((uint64_t)1 << t->d_depth[tr]) - 1;
        for (uint64_t j = 0; j < TOP_NODES; j++) { /* padding: x > +inf never holds */
            int in = j < have;
            t->top_thr[tr * TOP_NODES + j] = in ? t->dn[t->d_node_off[tr] + j].thr : INFINITY;
            t->top_feat[tr * TOP_NODES + j] = in ? (int32_t)t->dn[t->d_node_off[tr] + j].feat : 0;
        }
    }
    t->dense = 1;
#ifdef MS_TREES_AVX2
    /* feature ids index x through 32-bit gathers: keep them well inside int32 */
    if (__builtin_cpu_supports("avx2") && t->n_features < (1 << 24))
        t->simd = __builtin_cpu_supports("avx512f") ? 2 : 1;
    if (t->simd == 2 && nd < ((uint64_t)1 << 29) && nl < ((uint64_t)1 << 30)) {
        /* padded to whole pairs of vectors: the unused lanes read zeros */
        size_t nlane = (nt + 31) / 32 * 32;
        t->lane_node = ms_calloc(nlane, sizeof(int32_t));
        t->lane_leaf = ms_calloc(nlane, sizeof(int32_t));
        t->lane_depth = ms_calloc(nlane, sizeof(int32_t));
        if (!t->lane_node || !t->lane_leaf || !t->lane_depth)
            return BFAIL(b, MS_ERR_RUNTIME, "out of memory building a tree ensemble");
        for (int64_t tr = 0; tr < t->n_trees; tr++) {
            t->lane_node[tr] = (int32_t)t->d_node_off[tr];
            t->lane_leaf[tr] = (int32_t)t->d_leaf_off[tr];
            t->lane_depth[tr] = t->d_depth[tr];
        }
    }
#endif
    return MS_OK;
}

ms_status ms_trees_build(const ms_trees_src *s, ms_trees **out, char *msg, size_t cap)
{
    *out = NULL;
    builder b = {.s = s, .msg = msg, .cap = cap};
    if (s->n_nodes < 0 || s->n_nodes > (int64_t)UINT32_MAX / 2 || s->n_weights < 0 ||
        s->n_weights > (int64_t)UINT32_MAX / 2)
        return BFAIL(&b, MS_ERR_UNSUPPORTED, "the tree ensemble is too large");
    if (s->n_targets <= 0 || s->n_targets > (1 << 24))
        return BFAIL(&b, MS_ERR_INVALID, "the tree ensemble has %lld %ss",
                     (long long)s->n_targets, s->target_word);
    ms_trees *t = ms_calloc(1, sizeof *t);
    if (!t) return BFAIL(&b, MS_ERR_RUNTIME, "out of memory building a tree ensemble");
    b.t = t;
    t->n_targets = s->n_targets;
    t->agg = s->agg;
    t->n_nodes = s->n_nodes;
    t->nodes = ms_calloc((size_t)(s->n_nodes ? s->n_nodes : 1), sizeof *t->nodes);
    ms_status st = t->nodes ? build_alloc(&b) : BFAIL(&b, MS_ERR_RUNTIME, "out of memory");
    if (!st) st = build_links(&b);
    if (!st) st = build_trees(&b);
    if (!st) st = build_weights(&b);
    int64_t pos = 0;
    for (int64_t tr = 0; !st && tr < t->n_trees; tr++) st = build_flatten(&b, tr, &pos);
    if (!st) st = build_dense(&b);
    build_release(&b);
    if (st) {
        ms_trees_free(t);
        return st;
    }
    *out = t;
    return MS_OK;
}

/* ==== evaluation ========================================================================= */

/* Walk one tree for one row in the generic form; returns the leaf. */
static const tnode *walk(const tnode *nodes, uint32_t root, const float *x)
{
    const tnode *n = &nodes[root];
    while (n->kind != K_LEAF) {
        float v = x[n->feat];
        int right = v != v ? n->nan_right : n->kind == K_GT ? v > n->thr : v != n->thr;
        n = right ? &nodes[n->right] : n + 1;
    }
    return n;
}

static void apply_leaf(const ms_trees *t, const tnode *leaf, double *acc)
{
    const tweight *w = &t->w[leaf->right];
    for (uint32_t k = 0; k < leaf->feat; k++) {
        double *a = &acc[w[k].target];
        switch (t->agg) {
        case MS_TAGG_MIN: if (w[k].w < *a) *a = w[k].w; break;
        case MS_TAGG_MAX: if (w[k].w > *a) *a = w[k].w; break;
        default: *a += w[k].w; break;
        }
    }
}

/* Generic form, tree-major over the given rows. */
static void eval_generic(const ms_trees *t, const float *const *rows, const int *ids, int n,
                         double *acc)
{
    int64_t T = t->n_targets;
    for (int64_t tr = 0; tr < t->n_trees; tr++)
        for (int k = 0; k < n; k++)
            apply_leaf(t, walk(t->nodes, t->roots[tr], rows[k]), acc + ids[k] * T);
}

/* One level of descent for row pointer r at dense index i. */
#define DSTEP(i, r) (i) = 2 * (i) + 1 + (uint32_t)((r)[nd[i].feat] > nd[i].thr)

/* Dense form: 8 rows descend together so their loads overlap. */
static void eval_dense(const ms_trees *t, const float *const *rows, const int *ids, int n,
                       double *acc)
{
    int64_t T = t->n_targets;
    for (int64_t tr = 0; tr < t->n_trees; tr++) {
        const dnode *nd = t->dn + t->d_node_off[tr];
        const float *lv = t->dleaf + t->d_leaf_off[tr];
        int depth = t->d_depth[tr];
        uint32_t base = (1u << depth) - 1;
        double *a = acc + t->d_target[tr];
        int k = 0;
        for (; k + 8 <= n; k += 8) {
            const float *r0 = rows[k], *r1 = rows[k + 1], *r2 = rows[k + 2], *r3 = rows[k + 3];
            const float *r4 = rows[k + 4], *r5 = rows[k + 5], *r6 = rows[k + 6], *r7 = rows[k + 7];
            uint32_t i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
            for (int l = 0; l < depth; l++) {
                DSTEP(i0, r0); DSTEP(i1, r1); DSTEP(i2, r2); DSTEP(i3, r3);
                DSTEP(i4, r4); DSTEP(i5, r5); DSTEP(i6, r6); DSTEP(i7, r7);
            }
            a[ids[k] * T] += lv[i0 - base];
            a[ids[k + 1] * T] += lv[i1 - base];
            a[ids[k + 2] * T] += lv[i2 - base];
            a[ids[k + 3] * T] += lv[i3 - base];
            a[ids[k + 4] * T] += lv[i4 - base];
            a[ids[k + 5] * T] += lv[i5 - base];
            a[ids[k + 6] * T] += lv[i6 - base];
            a[ids[k + 7] * T] += lv[i7 - base];
        }
        for (; k < n; k++) {
            const float *r0 = rows[k];
            uint32_t i0 = 0;
            for (int l = 0; l < depth; l++) DSTEP(i0, r0);
            a[ids[k] * T] += lv[i0 - base];
        }
    }
}

#ifdef MS_TREES_AVX2
/* ---- AVX2: 8 rows per vector, 4 vectors in flight ---------------------------------------------
 * A lane holds p, its node's position within the current level; the level's node is
 * level_base + p and the next position is 2p + (x[f] > t). In the top TOP_LEVELS levels
 * (at most 8 nodes each) the node's threshold and feature come from a register permute of the
 * tree's top rows; deeper levels gather them from the dense nodes (scale 8: thr and feat are
 * the two halves of a dnode). x[row][f] is gathered at offset row_off + f. */

#define AVX_LANES 8

/* One level for one vector: pick the node's threshold/feature, gather x, step down. */
#define AVX_TOP(P, O)                                                                          \
    do {                                                                                       \
        __m256i f_ = _mm256_permutevar8x32_epi32(tf, P);                                       \
        __m256 t_ = _mm256_permutevar8x32_ps(tt, P);                                           \
        __m256 x_ = _mm256_i32gather_ps(x, _mm256_add_epi32(O, f_), 4);                        \
        __m256i g_ = _mm256_castps_si256(_mm256_cmp_ps(x_, t_, _CMP_GT_OQ));                   \
        P = _mm256_sub_epi32(_mm256_add_epi32(P, P), g_);                                      \
    } while (0)

#define AVX_DEEP(P, O)                                                                         \
    do {                                                                                       \
        __m256i f_ = _mm256_i32gather_epi32(lf, P, 8);                                         \
        __m256 t_ = _mm256_i32gather_ps(lt, P, 8);                                             \
        __m256 x_ = _mm256_i32gather_ps(x, _mm256_add_epi32(O, f_), 4);                        \
        __m256i g_ = _mm256_castps_si256(_mm256_cmp_ps(x_, t_, _CMP_GT_OQ));                   \
        P = _mm256_sub_epi32(_mm256_add_epi32(P, P), g_);                                      \
    } while (0)

/* Add the 8 leaf values of vector P to 8 consecutive doubles (the caller's column of rows). */
__attribute__((target("avx2"))) static inline void avx_leaf(const float *lv, __m256i P, double *a)
{
    __m256 v = _mm256_i32gather_ps(lv, P, 4);
    _mm256_storeu_pd(a, _mm256_add_pd(_mm256_loadu_pd(a), _mm256_cvtps_pd(_mm256_castps256_ps128(v))));
    _mm256_storeu_pd(a + 4, _mm256_add_pd(_mm256_loadu_pd(a + 4),
                                          _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

/* Rows offs[0..n) (n rounded up to whole vectors: the caller pads offs). Scores go to loc,
 * target-major: loc[target * LOC_STRIDE + k] for the k-th row of offs. */
#define LOC_STRIDE (MS_TREES_BLOCK + 16)
#define LOC_MAX_TARGETS 16
__attribute__((target("avx2"))) static void eval_dense_avx2(const ms_trees *t, const float *x,
                                                            const int32_t *offs, int n, double *loc)
{
    for (int64_t tr = 0; tr < t->n_trees; tr++) {
        const dnode *nd = t->dn + t->d_node_off[tr];
        const float *lv = t->dleaf + t->d_leaf_off[tr];
        const float *top_t = t->top_thr + tr * TOP_NODES;
        const int32_t *top_f = t->top_feat + tr * TOP_NODES;
        int depth = t->d_depth[tr], top = depth < TOP_LEVELS_256 ? depth : TOP_LEVELS_256;
        double *a = loc + t->d_target[tr] * LOC_STRIDE;
        int k = 0;
        for (; k + 4 * AVX_LANES <= n; k += 4 * AVX_LANES) {
            __m256i o0 = _mm256_loadu_si256((const __m256i *)(offs + k));
            __m256i o1 = _mm256_loadu_si256((const __m256i *)(offs + k + 8));
            __m256i o2 = _mm256_loadu_si256((const __m256i *)(offs + k + 16));
            __m256i o3 = _mm256_loadu_si256((const __m256i *)(offs + k + 24));
            __m256i p0 = _mm256_setzero_si256(), p1 = p0, p2 = p0, p3 = p0;
            for (int l = 0; l < top; l++) {
                __m256 tt = _mm256_loadu_ps(top_t + (1 << l) - 1);
                __m256i tf = _mm256_loadu_si256((const __m256i *)(top_f + (1 << l) - 1));
                AVX_TOP(p0, o0); AVX_TOP(p1, o1); AVX_TOP(p2, o2); AVX_TOP(p3, o3);
            }
            for (int l = top; l < depth; l++) {
                const float *lt = &nd[(1u << l) - 1].thr;
                const int *lf = (const int *)&nd[(1u << l) - 1].feat;
                AVX_DEEP(p0, o0); AVX_DEEP(p1, o1); AVX_DEEP(p2, o2); AVX_DEEP(p3, o3);
            }
            avx_leaf(lv, p0, a + k);
            avx_leaf(lv, p1, a + k + 8);
            avx_leaf(lv, p2, a + k + 16);
            avx_leaf(lv, p3, a + k + 24);
        }
        for (; k < n; k += AVX_LANES) {
            __m256i o0 = _mm256_loadu_si256((const __m256i *)(offs + k)), p0 = _mm256_setzero_si256();
            for (int l = 0; l < top; l++) {
                __m256 tt = _mm256_loadu_ps(top_t + (1 << l) - 1);
                __m256i tf = _mm256_loadu_si256((const __m256i *)(top_f + (1 << l) - 1));
                AVX_TOP(p0, o0);
            }
            for (int l = top; l < depth; l++) {
                const float *lt = &nd[(1u << l) - 1].thr;
                const int *lf = (const int *)&nd[(1u << l) - 1].feat;
                AVX_DEEP(p0, o0);
            }
            avx_leaf(lv, p0, a + k);
        }
    }
}

/* ---- AVX-512: 16 rows per vector, 4 vectors (the whole block) in flight -------------------- */

#define Z_STEP(P, O, F, TH)                                                                    \
    do {                                                                                       \
        __m512 x_ = _mm512_i32gather_ps(_mm512_add_epi32(O, F), x, 4);                         \
        __mmask16 g_ = _mm512_cmp_ps_mask(x_, TH, _CMP_GT_OQ);                                 \
        P = _mm512_add_epi32(P, P);                                                            \
        P = _mm512_mask_add_epi32(P, g_, P, one);                                              \
    } while (0)
/* levels 0-4: the level's nodes fit one register */
#define Z_TOP16(P, O) Z_STEP(P, O, _mm512_permutexvar_epi32(P, tf), _mm512_permutexvar_ps(P, tt))
/* level 5: 32 nodes across two registers */
#define Z_TOP32(P, O)                                                                          \
    Z_STEP(P, O, _mm512_permutex2var_epi32(tf, P, tf2), _mm512_permutex2var_ps(tt, P, tt2))
#define Z_DEEP(P, O) Z_STEP(P, O, _mm512_i32gather_epi32(P, lf, 8), _mm512_i32gather_ps(P, lt, 8))

__attribute__((target("avx512f"))) static inline void z_leaf(const float *lv, __m512i P, double *a)
{
    __m512 v = _mm512_i32gather_ps(P, lv, 4);
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castsi256_ps(_mm512_extracti64x4_epi64(_mm512_castps_si512(v), 1));
    _mm512_storeu_pd(a, _mm512_add_pd(_mm512_loadu_pd(a), _mm512_cvtps_pd(lo)));
    _mm512_storeu_pd(a + 8, _mm512_add_pd(_mm512_loadu_pd(a + 8), _mm512_cvtps_pd(hi)));
}

/* As eval_dense_avx2, 16 lanes (offs padded to a multiple of 16). */
__attribute__((target("avx512f"))) static void eval_dense_avx512(const ms_trees *t, const float *x,
                                                                 const int32_t *offs, int n,
                                                                 double *loc)
{
    const __m512i one = _mm512_set1_epi32(1);
    for (int64_t tr = 0; tr < t->n_trees; tr++) {
        const dnode *nd = t->dn + t->d_node_off[tr];
        const float *lv = t->dleaf + t->d_leaf_off[tr];
        const float *top_t = t->top_thr + tr * TOP_NODES;
        const int32_t *top_f = t->top_feat + tr * TOP_NODES;
        int depth = t->d_depth[tr], top = depth < TOP_LEVELS_512 ? depth : TOP_LEVELS_512;
        double *a = loc + t->d_target[tr] * LOC_STRIDE;
        int k = 0;
        for (; k + 64 <= n; k += 64) {
            __m512i o0 = _mm512_loadu_si512(offs + k), o1 = _mm512_loadu_si512(offs + k + 16);
            __m512i o2 = _mm512_loadu_si512(offs + k + 32), o3 = _mm512_loadu_si512(offs + k + 48);
            __m512i p0 = _mm512_setzero_si512(), p1 = p0, p2 = p0, p3 = p0;
            for (int l = 0; l < top && l < 5; l++) {
                __m512 tt = _mm512_loadu_ps(top_t + (1 << l) - 1);
                __m512i tf = _mm512_loadu_si512(top_f + (1 << l) - 1);
                Z_TOP16(p0, o0); Z_TOP16(p1, o1); Z_TOP16(p2, o2); Z_TOP16(p3, o3);
            }
            if (top > 5) {
                __m512 tt = _mm512_loadu_ps(top_t + 31), tt2 = _mm512_loadu_ps(top_t + 47);
                __m512i tf = _mm512_loadu_si512(top_f + 31), tf2 = _mm512_loadu_si512(top_f + 47);
                Z_TOP32(p0, o0); Z_TOP32(p1, o1); Z_TOP32(p2, o2); Z_TOP32(p3, o3);
            }
            for (int l = top; l < depth; l++) {
                const float *lt = &nd[(1u << l) - 1].thr;
                const int *lf = (const int *)&nd[(1u << l) - 1].feat;
                Z_DEEP(p0, o0); Z_DEEP(p1, o1); Z_DEEP(p2, o2); Z_DEEP(p3, o3);
            }
            z_leaf(lv, p0, a + k);
            z_leaf(lv, p1, a + k + 16);
            z_leaf(lv, p2, a + k + 32);
            z_leaf(lv, p3, a + k + 48);
        }
        for (; k < n; k += 16) {
            __m512i o0 = _mm512_loadu_si512(offs + k), p0 = _mm512_setzero_si512();
            for (int l = 0; l < top && l < 5; l++) {
                __m512 tt = _mm512_loadu_ps(top_t + (1 << l) - 1);
                __m512i tf = _mm512_loadu_si512(top_f + (1 << l) - 1);
                Z_TOP16(p0, o0);
            }
            if (top > 5) {
                __m512 tt = _mm512_loadu_ps(top_t + 31), tt2 = _mm512_loadu_ps(top_t + 47);
                __m512i tf = _mm512_loadu_si512(top_f + 31), tf2 = _mm512_loadu_si512(top_f + 47);
                Z_TOP32(p0, o0);
            }
            for (int l = top; l < depth; l++) {
                const float *lt = &nd[(1u << l) - 1].thr;
                const int *lf = (const int *)&nd[(1u << l) - 1].feat;
                Z_DEEP(p0, o0);
            }
            z_leaf(lv, p0, a + k);
        }
    }
}

/* One row, 16 trees per vector (lanes = trees), two vectors in flight: the latency of a lone
 * row is that of its trees' descents, which now overlap. Lane j of a vector holds i, the level-
 * order index within tree tr0 + j; a lane whose tree is shallower than the level stands still.
 * Leaves are added to the row's scores in tree order, as the other paths do. */
#define R_STEP(I, NOFF, DEP, LIVE)                                                             \
    do {                                                                                       \
        __mmask16 a_ = (LIVE) & _mm512_cmpgt_epi32_mask(DEP, lvl);                             \
        __m512i n_ = _mm512_add_epi32(NOFF, I);                                                \
        __m512i f_ = _mm512_mask_i32gather_epi32(zero, a_, n_, dfeat, 8);                      \
        __m512 t_ = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), a_, n_, dthr, 8);            \
        __m512 x_ = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), a_, f_, row, 4);             \
        __mmask16 g_ = _mm512_mask_cmp_ps_mask(a_, x_, t_, _CMP_GT_OQ);                        \
        I = _mm512_mask_add_epi32(I, a_, _mm512_add_epi32(I, I), one);                         \
        I = _mm512_mask_add_epi32(I, g_, I, one);                                              \
    } while (0)

__attribute__((target("avx512f"))) static void r_leaves(const ms_trees *t, int64_t tr0, __m512i I,
                                                        __m512i DEP, __mmask16 live, double *acc)
{
    const __m512i one = _mm512_set1_epi32(1);
    /* leaf slot: i - (2^depth - 1) */
    __m512i first = _mm512_sub_epi32(_mm512_sllv_epi32(one, DEP), one);
    __m512i li = _mm512_add_epi32(_mm512_sub_epi32(I, first),
                                  _mm512_maskz_loadu_epi32(live, t->lane_leaf + tr0));
    float v[16];
    _mm512_storeu_ps(v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, li, t->dleaf, 4));
    int cnt = t->n_trees - tr0 < 16 ? (int)(t->n_trees - tr0) : 16;
    for (int j = 0; j < cnt; j++) acc[t->d_target[tr0 + j]] += v[j];
}

__attribute__((target("avx512f"))) static void eval_row_avx512(const ms_trees *t, const float *row,
                                                               double *acc)
{
    const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
    const float *dthr = &t->dn[0].thr;
    const int *dfeat = (const int *)&t->dn[0].feat;
    for (int64_t tr0 = 0; tr0 < t->n_trees; tr0 += 32) {
        int64_t left = t->n_trees - tr0;
        __mmask16 live0 = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        __mmask16 live1 = left >= 32 ? 0xffff : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
        __m512i no0 = _mm512_maskz_loadu_epi32(live0, t->lane_node + tr0);
        __m512i no1 = _mm512_maskz_loadu_epi32(live1, t->lane_node + tr0 + 16);
        __m512i de0 = _mm512_maskz_loadu_epi32(live0, t->lane_depth + tr0);
        __m512i de1 = _mm512_maskz_loadu_epi32(live1, t->lane_depth + tr0 + 16);
        int maxd = _mm512_reduce_max_epi32(_mm512_max_epi32(de0, de1));
        __m512i i0 = zero, i1 = zero;
        for (int l = 0; l < maxd; l++) {
            __m512i lvl = _mm512_set1_epi32(l);
            R_STEP(i0, no0, de0, live0);
            R_STEP(i1, no1, de1, live1);
        }
        r_leaves(t, tr0, i0, de0, live0, acc);
        if (live1) r_leaves(t, tr0 + 16, i1, de1, live1, acc);
    }
}
#endif

static int row_has_nan(const float *x, int64_t n)
{
    int any = 0;
    for (int64_t j = 0; j < n; j++) any |= x[j] != x[j];
    return any;
}

void ms_trees_eval(const ms_trees *t, const float *x, int n_rows, int64_t stride, double *acc)
{
    int64_t T = t->n_targets;
    double init = t->agg == MS_TAGG_MIN ? FLT_MAX : t->agg == MS_TAGG_MAX ? -FLT_MAX : 0.0;
    for (int64_t i = 0; i < n_rows * T; i++) acc[i] = init;
    const float *rows[MS_TREES_BLOCK] = {0}, *nan_rows[MS_TREES_BLOCK];
    int ids[MS_TREES_BLOCK] = {0}, nan_ids[MS_TREES_BLOCK];
    int n = 0, n_nan = 0;
    if (n_rows > MS_TREES_BLOCK) n_rows = MS_TREES_BLOCK;
    for (int r = 0; r < n_rows; r++) {
        const float *row = x + r * stride;
        if (t->dense && !t->nan_free && row_has_nan(row, t->n_features)) {
            nan_rows[n_nan] = row;
            nan_ids[n_nan++] = r;
        } else {
            rows[n] = row;
            ids[n++] = r;
        }
    }
#ifdef MS_TREES_AVX2
    /* a vector pays off from a few rows on; row offsets must fit the 32-bit gather index */
    if (t->simd && n >= 4 && T <= LOC_MAX_TARGETS && (int64_t)n_rows * stride < ((int64_t)1 << 30)) {
        int32_t offs[LOC_STRIDE];
        double loc[LOC_MAX_TARGETS * LOC_STRIDE];
        int k = 0;
        for (; k < n; k++) offs[k] = (int32_t)(ids[k] * stride);
        for (; k % 16; k++) offs[k] = offs[0]; /* padding lanes: a real row, ignored */
        memset(loc, 0, (size_t)T * LOC_STRIDE * sizeof(double));
        if (t->simd == 2 && n >= 12) eval_dense_avx512(t, x, offs, n, loc);
        else eval_dense_avx2(t, x, offs, n, loc);
        /* the dense form is SUM / AVERAGE only: acc starts at 0, so this adds in tree order */
        for (k = 0; k < n; k++)
            for (int64_t c = 0; c < T; c++) acc[ids[k] * T + c] += loc[c * LOC_STRIDE + k];
        n = 0;
    }
    if (t->lane_node && n > 0 && n < 4) { /* a few rows: trees in parallel instead */
        for (int k = 0; k < n; k++) eval_row_avx512(t, rows[k], acc + ids[k] * T);
        n = 0;
    }
#endif
    if (t->dense) eval_dense(t, rows, ids, n, acc);
    else eval_generic(t, rows, ids, n, acc);
    if (n_nan) eval_generic(t, nan_rows, nan_ids, n_nan, acc);
    if (t->agg == MS_TAGG_AVERAGE && t->n_trees > 0)
        for (int64_t i = 0; i < n_rows * T; i++) acc[i] /= (double)t->n_trees;
}
