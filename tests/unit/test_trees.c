/* test_trees.c: tree ensembles end to end (ms_trees.c, ops/ops_ml_trees.c, ms_xgboost.c).
 *
 * Models are written by hand: TreeEnsembleClassifier/Regressor graphs as ONNX bytes
 * (onnx_build.h) and XGBoost model.json strings, loaded with ms_model_load.
 *   bad_*:   a malformed ensemble (missing node, cycle, duplicate node, out-of-range feature or
 *            class id, attribute lengths that differ, NaN threshold) is refused AT LOAD with
 *            MS_ERR_INVALID and a message naming the tree and the node.
 *   value_*: expected outputs worked out by hand in the comments, for every nodes_modes value,
 *            nodes_missing_value_tracks_true, every post_transform and every aggregate_function.
 *            Each is run with batches of 1, 5, 20 and 70 rows, which take the scalar, AVX2 and
 *            AVX-512 paths (and cross a 64-row block) on a machine that has them.
 * MS_TREES_DUMP=DIR writes every bad model to DIR (tests/fuzz/regress/model/ keeps them). */
#include "mlship.h"
#include "mstest.h"
#include "onnx_build.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- an ensemble, as ONNX-ML's flat lists ----------------------------------------------- */

#define MAXN 32

typedef struct ens {
    const char *op;                   /* "TreeEnsembleRegressor" or "TreeEnsembleClassifier" */
    int n, nw;
    int64_t tree[MAXN], node[MAXN], feat[MAXN], tid[MAXN], fid[MAXN], miss[MAXN];
    float val[MAXN];
    const char *mode[MAXN];
    int64_t wtree[MAXN], wnode[MAXN], wid[MAXN];
    float w[MAXN];
    int with_miss;
    int64_t n_targets;                /* regressor */
    int n_labels;                     /* classifier: labels 0..n_labels-1 */
    const char *post, *agg;
    float base[4];
    int n_base;
    int64_t width;                    /* input width declared by the graph (-1: symbolic) */
    /* length edits for bad models: entries dropped from the end of one list */
    const char *short_list;
} ens;

static void e_init(ens *e, const char *op)
{
    memset(e, 0, sizeof *e);
    e->op = op;
    e->n_targets = 1;
    e->n_labels = 2;
    e->width = 2;
}

static void br(ens *e, int64_t tree, int64_t node, int64_t feat, float thr, const char *mode,
               int64_t t, int64_t f)
{
    int i = e->n++;
    e->tree[i] = tree, e->node[i] = node, e->feat[i] = feat, e->val[i] = thr;
    e->mode[i] = mode, e->tid[i] = t, e->fid[i] = f, e->miss[i] = 0;
}

static void leaf(ens *e, int64_t tree, int64_t node, int64_t target, float w)
{
    int i = e->n++;
    e->tree[i] = tree, e->node[i] = node, e->feat[i] = 0, e->val[i] = 0;
    e->mode[i] = "LEAF", e->tid[i] = 0, e->fid[i] = 0, e->miss[i] = 0;
    int j = e->nw++;
    e->wtree[j] = tree, e->wnode[j] = node, e->wid[j] = target, e->w[j] = w;
}

/* another weight on the last leaf */
static void more(ens *e, int64_t target, float w)
{
    int j = e->nw++;
    e->wtree[j] = e->tree[e->n - 1], e->wnode[j] = e->node[e->n - 1], e->wid[j] = target;
    e->w[j] = w;
}

/* ---- ONNX writing ----------------------------------------------------------------------- */

/* AttributeProto fields: name 1, f 2, i 3, s 4, floats 7, ints 8, strings 9, type 20. */
static int len_of(const ens *e, const char *name, int n)
{
    return e->short_list && !strcmp(e->short_list, name) ? n - 1 : n;
}

static void at_ints(pbuf *a, const ens *e, const char *name, const int64_t *v, int n)
{
    pbuf x = {0};
    pb_str(&x, 1, name);
    for (int i = 0; i < len_of(e, name, n); i++) pb_int(&x, 8, v[i]);
    pb_int(&x, 20, 7);
    pb_msg(a, 5, &x);
}

static void at_floats(pbuf *a, const ens *e, const char *name, const float *v, int n)
{
    pbuf x = {0};
    pb_str(&x, 1, name);
    for (int i = 0; i < len_of(e, name, n); i++) {
        pb_key(&x, 7, 5);
        pb_bytes(&x, &v[i], 4);
    }
    pb_int(&x, 20, 6);
    pb_msg(a, 5, &x);
}

static void at_strings(pbuf *a, const ens *e, const char *name, const char *const *v, int n)
{
    pbuf x = {0};
    pb_str(&x, 1, name);
    for (int i = 0; i < len_of(e, name, n); i++) pb_str(&x, 9, v[i]);
    pb_int(&x, 20, 8);
    pb_msg(a, 5, &x);
}

static void at_str(pbuf *a, const char *name, const char *v)
{
    pbuf x = {0};
    pb_str(&x, 1, name);
    pb_str(&x, 4, v);
    pb_int(&x, 20, 3);
    pb_msg(a, 5, &x);
}

static void at_int(pbuf *a, const char *name, int64_t v)
{
    pbuf x = {0};
    pb_str(&x, 1, name);
    pb_int(&x, 3, v);
    pb_int(&x, 20, 2);
    pb_msg(a, 5, &x);
}

static pbuf e_onnx(const ens *e)
{
    int cls = !strcmp(e->op, "TreeEnsembleClassifier");
    const char *pre = cls ? "class" : "target";
    char nb[4][32];
    pbuf attrs = {0}, graph = {0};
    pb_str(&attrs, 7, "ai.onnx.ml"); /* NodeProto.domain */
    at_ints(&attrs, e, "nodes_treeids", e->tree, e->n);
    at_ints(&attrs, e, "nodes_nodeids", e->node, e->n);
    at_ints(&attrs, e, "nodes_featureids", e->feat, e->n);
    at_ints(&attrs, e, "nodes_truenodeids", e->tid, e->n);
    at_ints(&attrs, e, "nodes_falsenodeids", e->fid, e->n);
    if (e->with_miss) at_ints(&attrs, e, "nodes_missing_value_tracks_true", e->miss, e->n);
    at_floats(&attrs, e, "nodes_values", e->val, e->n);
    at_strings(&attrs, e, "nodes_modes", e->mode, e->n);
    snprintf(nb[0], 32, "%s_treeids", pre);
    snprintf(nb[1], 32, "%s_nodeids", pre);
    snprintf(nb[2], 32, "%s_ids", pre);
    snprintf(nb[3], 32, "%s_weights", pre);
    at_ints(&attrs, e, nb[0], e->wtree, e->nw);
    at_ints(&attrs, e, nb[1], e->wnode, e->nw);
    at_ints(&attrs, e, nb[2], e->wid, e->nw);
    at_floats(&attrs, e, nb[3], e->w, e->nw);
    if (e->post) at_str(&attrs, "post_transform", e->post);
    if (e->n_base) at_floats(&attrs, e, "base_values", e->base, e->n_base);
    int64_t K = e->n_targets;
    if (cls) {
        int64_t labels[8];
        for (int i = 0; i < e->n_labels; i++) labels[i] = i;
        at_ints(&attrs, e, "classlabels_int64s", labels, e->n_labels);
        K = e->n_labels;
    } else {
        at_int(&attrs, "n_targets", e->n_targets);
        if (e->agg) at_str(&attrs, "aggregate_function", e->agg);
    }
    const char *in[] = {"X"}, *out_c[] = {"label", "probabilities"}, *out_r[] = {"Y"};
    ob_node(&graph, e->op, "trees", in, 1, cls ? out_c : out_r, cls ? 2 : 1, &attrs);
    free(attrs.p);
    pb_str(&graph, 2, "g");
    int64_t din[2] = {-1, e->width}, dout[2] = {-1, K}, dlab[1] = {-1};
    ob_value(&graph, 11, "X", 1, 2, din);
    if (cls) {
        ob_value(&graph, 12, "label", 7, 1, dlab);
        ob_value(&graph, 12, "probabilities", 1, 2, dout);
    } else {
        ob_value(&graph, 12, "Y", 1, 2, dout);
    }
    pbuf m = ob_model(&graph, 13), os = {0};
    pb_str(&os, 1, "ai.onnx.ml");
    pb_int(&os, 2, 3);
    pb_msg(&m, 8, &os);
    return m;
}

/* ---- loading and running ---------------------------------------------------------------- */

static int g_dumped;

static void dump(const char *name, const void *p, size_t n, const char *ext)
{
    const char *dir = getenv("MS_TREES_DUMP");
    if (!dir) return;
    char path[512];
    snprintf(path, sizeof path, "%s/trees_%s.%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (f) fwrite(p, 1, n, f), fclose(f), g_dumped++;
}

/* The load must fail with MS_ERR_INVALID and a message holding every one of `want` (NULL-ended). */
static void expect_bad(const char *name, const void *buf, size_t len, const char *ext,
                       const char *const *want)
{
    dump(name, buf, len, ext);
    ms_model *m = NULL;
    ms_error err = {{0}};
    ms_status st = ms_model_load(buf, len, &m, &err);
    CHECK_MSG(st == MS_ERR_INVALID, "%s: status %d (%s)", name, (int)st, err.msg);
    for (int i = 0; want[i]; i++)
        CHECK_MSG(strstr(err.msg, want[i]) != NULL, "%s: message '%s' lacks '%s'", name, err.msg,
                  want[i]);
    if (m) ms_model_free(m);
}

static void bad_onnx(const char *name, const ens *e, const char *const *want)
{
    pbuf b = e_onnx(e);
    expect_bad(name, b.p, b.n, "onnx", want);
    free(b.p);
}

#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Run `rows` rows of width e->width; returns the last float output (scores) copied into y
 * (rows x K), and the labels into lab when given. 0 on success. */
static int run_model(const void *buf, size_t len, const float *x, int64_t rows, int64_t width,
                     float *y, int64_t *lab)
{
    ms_model *m = NULL;
    ms_session *s = NULL;
    ms_error err = {{0}};
    if (ms_model_load(buf, len, &m, &err) || ms_session_create(m, NULL, &s, &err)) {
        printf("  load: %s\n", err.msg);
        if (m) ms_model_free(m);
        return -1;
    }
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {rows, width}, (void *)x}, out[2];
    int n_out = ms_model_num_outputs(m);
    int rc = 0;
    if (ms_session_run(s, &in, 1, out, n_out, &err)) {
        printf("  run: %s\n", err.msg);
        rc = -1;
    } else {
        const ms_tensor *sc = &out[n_out - 1];
        memcpy(y, sc->data, (size_t)ms_tensor_numel(sc) * sizeof(float));
        if (lab && n_out == 2) memcpy(lab, out[0].data, (size_t)rows * sizeof(int64_t));
    }
    ms_session_free(s);
    ms_model_free(m);
    return rc;
}

/* Score the `np` patterns (rows of x0, x1) in batches of 1, 5, 20 and 70 rows (pattern
 * i % np at row i) and compare column-wise with expect (np x K). */
static void check_values(const char *what, const ens *e, const float *pat, int np,
                         const double *expect, int64_t K, double tol)
{
    pbuf b = e_onnx(e);
    static const int batches[] = {1, 5, 20, 70};
    for (int bi = 0; bi < 4; bi++) {
        int rows = batches[bi];
        float x[70 * 2], y[70 * 8];
        for (int r = 0; r < rows; r++) x[2 * r] = pat[2 * (r % np)], x[2 * r + 1] = pat[2 * (r % np) + 1];
        if (run_model(b.p, b.n, x, rows, 2, y, NULL)) {
            CHECK_MSG(0, "%s: batch %d did not run", what, rows);
            continue;
        }
        for (int r = 0; r < rows; r++)
            for (int64_t k = 0; k < K; k++)
                CHECK_MSG(fabs(y[r * K + k] - expect[(r % np) * K + k]) <= tol,
                          "%s: batch %d row %d col %lld: %.9g, expected %.9g", what, rows, r,
                          (long long)k, (double)y[r * K + k], expect[(r % np) * K + k]);
    }
    free(b.p);
}

/* ---- bad ONNX ensembles ----------------------------------------------------------------- */

/* A good regressor to break: tree 0 = node 0 (x0 <= 1 ? node 1 : node 2), two leaves;
 * tree 1 = node 0 (x1 <= 0 ? node 1 : node 2), node 2 (x0 <= 2 ? node 3 : node 4). */
static void good(ens *e)
{
    e_init(e, "TreeEnsembleRegressor");
    br(e, 0, 0, 0, 1.0f, "BRANCH_LEQ", 1, 2);
    leaf(e, 0, 1, 0, 1.0f);
    leaf(e, 0, 2, 0, 2.0f);
    br(e, 1, 0, 1, 0.0f, "BRANCH_LEQ", 1, 2);
    leaf(e, 1, 1, 0, 3.0f);
    br(e, 1, 2, 0, 2.0f, "BRANCH_LEQ", 3, 4);
    leaf(e, 1, 3, 0, 4.0f);
    leaf(e, 1, 4, 0, 5.0f);
}

TEST(good_model_runs)
{
    ens e;
    good(&e);
    /* x = (0, -1): tree0 0<=1 -> 1; tree1 -1<=0 -> 3: 4.  x = (3, 1): 2 + (3<=2? no) 5 = 7 */
    float pat[] = {0, -1, 3, 1, 1.5f, 1};
    double expect[] = {4, 7, 2 + 4};
    check_values("good", &e, pat, 3, expect, 1, 1e-6);
}

TEST(bad_missing_child)
{
    ens e;
    good(&e);
    e.fid[5] = 9; /* tree 1 node 2's false child */
    bad_onnx("missing_child", &e, WANT("tree 1 node 2", "node 9", "does not exist"));
    good(&e);
    e.tid[0] = -3;
    bad_onnx("missing_child_negative", &e, WANT("tree 0 node 0", "node -3"));
}

TEST(bad_cycles)
{
    ens e;
    good(&e);
    e.tid[5] = 2; /* tree 1 node 2 points to itself */
    bad_onnx("self_loop", &e, WANT("tree 1 node 2", "cycle"));
    /* tree 1 node 2's child is the root: no node of tree 1 is without a parent */
    good(&e);
    e.fid[5] = 0;
    e.n--, e.nw--; /* drop leaf 4 */
    bad_onnx("cycle_no_root", &e, WANT("tree 1", "cycle", "through node 2"));
    /* a back edge to an inner node: node 2 gets two parents */
    good(&e);
    e.mode[7] = "BRANCH_LEQ", e.tid[7] = 2, e.fid[7] = 3; /* leaf 4 becomes a branch to node 2 */
    bad_onnx("cycle_two_parents", &e, WANT("tree 1 node 4", "node 2", "two parents"));
    /* a detached 2-cycle next to a good tree: nodes 5 <-> 6 */
    good(&e);
    br(&e, 1, 5, 0, 0.0f, "BRANCH_LEQ", 6, 7);
    br(&e, 1, 6, 0, 0.0f, "BRANCH_LEQ", 5, 8);
    leaf(&e, 1, 7, 0, 1.0f);
    leaf(&e, 1, 8, 0, 1.0f);
    bad_onnx("cycle_detached", &e, WANT("tree 1 node", "not reachable", "cycle"));
    /* a detached node */
    good(&e);
    leaf(&e, 0, 7, 0, 1.0f);
    bad_onnx("unreachable", &e, WANT("tree 0 node 7", "not reachable"));
}

TEST(bad_duplicate_node)
{
    ens e;
    good(&e);
    e.node[7] = 3; /* tree 1 has node 3 twice */
    bad_onnx("duplicate_node", &e, WANT("tree 1 node 3", "defined twice"));
}

TEST(bad_feature_ids)
{
    ens e;
    good(&e);
    e.feat[5] = 2; /* the input has 2 features */
    bad_onnx("feature_out_of_range", &e, WANT("tree 1 node 2", "feature id 2", "2 features"));
    good(&e);
    e.feat[0] = -1;
    bad_onnx("feature_negative", &e, WANT("tree 0 node 0", "feature id -1"));
    good(&e);
    e.feat[3] = (int64_t)1 << 40;
    e.width = -1; /* unknown width: still out of any range */
    bad_onnx("feature_huge", &e, WANT("tree 1 node 0", "feature id"));
}

TEST(bad_target_and_class_ids)
{
    ens e;
    good(&e);
    e.wid[2] = 1; /* one target */
    bad_onnx("target_out_of_range", &e, WANT("tree 1 node 1", "target id 1", "out of range"));
    e_init(&e, "TreeEnsembleClassifier");
    br(&e, 0, 0, 0, 0.0f, "BRANCH_LEQ", 1, 2);
    leaf(&e, 0, 1, 0, 1.0f);
    leaf(&e, 0, 2, 2, 1.0f); /* labels 0 and 1 only */
    bad_onnx("class_out_of_range", &e, WANT("tree 0 node 2", "class id 2", "out of range"));
    e.wid[1] = -1;
    bad_onnx("class_negative", &e, WANT("tree 0 node 2", "class id -1"));
    /* a weight on a node that does not exist */
    good(&e);
    e.wnode[4] = 6;
    bad_onnx("weight_missing_node", &e, WANT("tree 1 node 6", "does not exist"));
}

TEST(bad_lengths)
{
    static const char *const lists[] = {"nodes_featureids", "nodes_truenodeids",
                                        "nodes_falsenodeids", "nodes_values", "nodes_modes",
                                        "nodes_missing_value_tracks_true", "nodes_nodeids"};
    for (int i = 0; i < 7; i++) {
        ens e;
        good(&e);
        e.with_miss = 1;
        e.short_list = lists[i];
        char name[64];
        snprintf(name, sizeof name, "short_%s", lists[i]);
        /* the last node, tree 1 node 4, is the one without an entry */
        bad_onnx(name, &e, i == 6 ? WANT(lists[i], "tree 1", "has none")
                                  : WANT(lists[i], "tree 1 node 4", "has none"));
    }
    static const char *const wl[] = {"target_nodeids", "target_ids", "target_weights"};
    for (int i = 0; i < 3; i++) {
        ens e;
        good(&e);
        e.short_list = wl[i];
        char name[64];
        snprintf(name, sizeof name, "short_%s", wl[i]);
        bad_onnx(name, &e, i == 0 ? WANT(wl[i], "tree 1", "has none")
                                  : WANT(wl[i], "tree 1 node 4", "has none"));
    }
}

TEST(bad_nan_threshold)
{
    ens e;
    good(&e);
    e.val[5] = NAN;
    bad_onnx("nan_threshold", &e, WANT("tree 1 node 2", "NaN"));
    good(&e);
    e.mode[3] = "BRANCH_SOMETIMES";
    bad_onnx("unknown_mode", &e, WANT("tree 1 node 0", "BRANCH_SOMETIMES"));
}

/* ---- bad XGBoost JSON ------------------------------------------------------------------- */

/* Tree 0: node 0 (x0 < 0.5 ? node 1 : node 2), leaves 1 and 2; tree 1 is given by the test. */
static void xgb(char *out, size_t cap, const char *tree1, const char *info, int num_feature)
{
    snprintf(out, cap,
             "{\"learner\":{\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_class\":\"0\","
             "\"num_feature\":\"%d\"},\"objective\":{\"name\":\"binary:logistic\"},"
             "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"tree_info\":%s,\"trees\":["
             "{\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],\"split_indices\":[0,0,0],"
             "\"split_conditions\":[0.5,-1,1],\"default_left\":[1,0,0]},%s]}}},"
             "\"version\":[1,7,4]}",
             num_feature, info, tree1);
}

#define XT(l, r, s, c, d)                                                                      \
    "{\"left_children\":" l ",\"right_children\":" r ",\"split_indices\":" s                   \
    ",\"split_conditions\":" c ",\"default_left\":" d "}"

#ifdef MS_NO_XGBOOST
/* A build without the JSON loader (-DMS_NO_XGBOOST, the edge builds) names what it cannot
 * read instead of failing on model.json as a malformed ONNX file. */
TEST(xgb_refused_without_loader)
{
    char buf[2048];
    xgb(buf, sizeof buf, XT("[1,-1,-1]", "[2,-1,-1]", "[1,0,0]", "[0,0.25,-0.25]", "[0,0,0]"),
        "[0,0]", 2);
    ms_model *m = NULL;
    ms_error err = {{0}};
    CHECK(ms_model_load(buf, strlen(buf), &m, &err) == MS_ERR_UNSUPPORTED && !m);
    CHECK(strstr(err.msg, "model.json") != NULL);
}
#else
static void bad_xgb(const char *name, const char *tree1, const char *info, int nf,
                    const char *const *want)
{
    char buf[2048];
    xgb(buf, sizeof buf, tree1, info, nf);
    expect_bad(name, buf, strlen(buf), "json", want);
}
TEST(xgb_good_runs)
{
    char buf[2048];
    xgb(buf, sizeof buf, XT("[1,-1,-1]", "[2,-1,-1]", "[1,0,0]", "[0,0.25,-0.25]", "[0,0,0]"),
        "[0,0]", 2);
    /* x = (0, -1): tree0 0 < 0.5 -> -1; tree1 -1 < 0 -> 0.25; margin -0.75, base logit 0:
     * p = 1/(1+e^0.75) = 0.3208213.  x = (1, NaN): tree0 1 -> 1; tree1 NaN, default right
     * -> -0.25: margin 0.75, p = 0.6791787 */
    float x[4] = {0, -1, 1, NAN}, y[2];
    CHECK(run_model(buf, strlen(buf), x, 2, 2, y, NULL) == 0);
    CHECK_NEAR(y[0], 0.3208213, 1e-6);
    CHECK_NEAR(y[1], 0.6791787, 1e-6);
}

TEST(xgb_bad)
{
    bad_xgb("xgb_missing_child", XT("[1,-1,-1]", "[7,-1,-1]", "[0,0,0]", "[0,1,2]", "[0,0,0]"),
            "[0,0]", 2, WANT("tree 1 node 0", "out of range"));
    bad_xgb("xgb_self_loop", XT("[1,1,-1]", "[2,2,-1]", "[0,0,0]", "[0,1,2]", "[0,0,0]"),
            "[0,0]", 2, WANT("tree 1 node 1", "twice"));
    bad_xgb("xgb_cycle", XT("[1,0,-1]", "[2,2,-1]", "[0,0,0]", "[0,1,2]", "[0,0,0]"),
            "[0,0]", 2, WANT("tree 1 node 1", "twice"));
    bad_xgb("xgb_feature", XT("[1,-1,-1]", "[2,-1,-1]", "[5,0,0]", "[0,1,2]", "[0,0,0]"),
            "[0,0]", 2, WANT("tree 1 node 0", "feature 5"));
    bad_xgb("xgb_nan_threshold", XT("[1,-1,-1]", "[2,-1,-1]", "[0,0,0]", "[\"NaN\",1,2]", "[0,0,0]"),
            "[0,0]", 2, WANT("tree 1 node 0", "NaN"));
    bad_xgb("xgb_nan_leaf", XT("[1,-1,-1]", "[2,-1,-1]", "[0,0,0]", "[0,\"nan\",2]", "[0,0,0]"),
            "[0,0]", 2, WANT("tree 1 node 1", "NaN"));
    bad_xgb("xgb_lengths", XT("[1,-1,-1]", "[2,-1]", "[0,0,0]", "[0,1,2]", "[0,0,0]"),
            "[0,0]", 2, WANT("tree 1", "right_children", "node 2"));
    bad_xgb("xgb_class", XT("[1,-1,-1]", "[2,-1,-1]", "[0,0,0]", "[0,1,2]", "[0,0,0]"),
            "[0,3]", 2, WANT("tree 1", "class 3"));
}

/* xgb() with learner.feature_names set to `names` (a JSON array) */
static void xgb_named(char *out, size_t cap, const char *names)
{
    char base[2048];
    xgb(base, sizeof base, XT("[1,-1,-1]", "[2,-1,-1]", "[1,0,0]", "[0,0.25,-0.25]", "[0,0,0]"),
        "[0,0]", 2);
    snprintf(out, cap, "{\"learner\":{\"feature_names\":%s,%s", names, base + strlen("{\"learner\":{"));
}

/* learner.feature_names is what batch binds columns by: kept in order; [] and ONNX give none */
TEST(xgb_feature_names)
{
    char buf[2300];
    ms_model *m = NULL;
    ms_error err = {{0}};
    int64_t n = -1;
    xgb_named(buf, sizeof buf, "[\"amount\",\"age\"]");
    CHECK_MSG(ms_model_load(buf, strlen(buf), &m, &err) == MS_OK, "%s", err.msg);
    const char *const *names = m ? ms_model_feature_names(m, 0, &n) : NULL;
    CHECK(names && n == 2 && strcmp(names[0], "amount") == 0 && strcmp(names[1], "age") == 0);
    CHECK(m && ms_model_feature_names(m, 1, &n) == NULL && n == 0);
    ms_model_free(m);
    m = NULL;
    xgb_named(buf, sizeof buf, "[]");
    CHECK_MSG(ms_model_load(buf, strlen(buf), &m, &err) == MS_OK, "%s", err.msg);
    CHECK(m && ms_model_feature_names(m, 0, &n) == NULL && n == 0);
    ms_model_free(m);
    xgb_named(buf, sizeof buf, "[\"a\"]");
    expect_bad("xgb_names_count", buf, strlen(buf), "json", WANT("feature_names", "1 entries for 2"));
    xgb_named(buf, sizeof buf, "[\"a\",\"a\"]");
    expect_bad("xgb_names_twice", buf, strlen(buf), "json", WANT("'a'", "twice"));
    xgb_named(buf, sizeof buf, "[\"a\",3]");
    expect_bad("xgb_names_type", buf, strlen(buf), "json", WANT("feature_names[1]"));
}
#endif

/* ---- one ensemble for all sessions --------------------------------------------------- */

static long g_allocs;
static void *count_malloc(size_t n) { g_allocs++; return malloc(n); }
static void *count_realloc(void *p, size_t n) { g_allocs++; return realloc(p, n); }

/* Create a session on m and run rows x width: the allocations that took (into *allocs) and
 * the scores (into y). The session is returned for the caller to free. */
static ms_session *session_run(ms_model *m, const float *x, int64_t rows, int64_t width, float *y,
                               long *allocs)
{
    ms_session *s = NULL;
    ms_error err = {{0}};
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {rows, width}, (void *)x}, out;
    g_allocs = 0;
    if (ms_session_create(m, NULL, &s, &err) || ms_session_run(s, &in, 1, &out, 1, &err)) {
        CHECK_MSG(0, "session: %s", err.msg);
        ms_session_free(s);
        return NULL;
    }
    *allocs = g_allocs;
    memcpy(y, out.data, (size_t)rows * sizeof(float));
    return s;
}

/* The sessions of a model share the ensemble built from its attributes (ms_kshare): a second
 * session builds nothing, scores the same, and outlives the first; a session fed another
 * feature count (the ensemble's layout depends on it) builds its own. Under ASan this also
 * shows that each ensemble is freed once, by its owner. */
TEST(sessions_share_the_ensemble)
{
    ens e;
    good(&e);
    e.width = -1; /* any feature count */
    pbuf b = e_onnx(&e);
    /* x = (0,-1): 4; (3,1): 7; (1.5,1): 1 + 5 = 6 (see good_model_runs) */
    const float x2[] = {0, -1, 3, 1, 1.5f, 1}, x3[] = {0, -1, 9, 3, 1, 9, 1.5f, 1, 9};
    const float want[] = {4, 7, 6};
    ms_model *m = NULL;
    ms_error err = {{0}};
    CHECK(ms_model_load(b.p, b.n, &m, &err) == MS_OK);
    ms_set_allocator(count_malloc, count_realloc, free);
    float ya[3], yb[3], yc[3];
    long na = 0, nb = 0, nc = 0;
    ms_session *sa = m ? session_run(m, x2, 3, 2, ya, &na) : NULL;
    ms_session *sb = m ? session_run(m, x2, 3, 2, yb, &nb) : NULL;
    ms_session *sc = m ? session_run(m, x3, 3, 3, yc, &nc) : NULL;
    ms_set_allocator(NULL, NULL, NULL);
    CHECK(sa && sb && sc);
    CHECK_MSG(nb < na && nc > nb, "allocations: first %ld, second %ld, other width %ld", na, nb, nc);
    for (int i = 0; sa && sb && sc && i < 3; i++) {
        CHECK_NEAR(ya[i], want[i], 1e-6);
        CHECK(yb[i] == ya[i] && yc[i] == ya[i]);
    }
    ms_session_free(sa); /* the shared ensemble belongs to the model, not to the first session */
    ms_tensor in = {MS_DTYPE_FLOAT, 2, {3, 2}, (void *)x2}, out;
    CHECK(sb && ms_session_run(sb, &in, 1, &out, 1, &err) == MS_OK &&
          ((float *)out.data)[1] == want[1]);
    ms_session_free(sb);
    ms_session_free(sc);
    ms_model_free(m);
    free(b.p);
}

/* ---- values ----------------------------------------------------------------------------- */

/* One stump on x0 against 1.0 with `mode`: true -> leaf 10, false -> leaf 20. */
static void stump(ens *e, const char *mode, int missing_true)
{
    e_init(e, "TreeEnsembleRegressor");
    br(e, 0, 0, 0, 1.0f, mode, 1, 2);
    leaf(e, 0, 1, 0, 10.0f);
    leaf(e, 0, 2, 0, 20.0f);
    e->with_miss = 1;
    e->miss[0] = missing_true;
}

TEST(value_modes)
{
    static const char *const modes[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT",
                                        "BRANCH_EQ", "BRANCH_NEQ"};
    /* x0 = 0.5, 1, 1.5, NaN; x1 is never read. True (10) when:
     *   LEQ: 0.5, 1     LT: 0.5      GTE: 1, 1.5    GT: 1.5    EQ: 1    NEQ: 0.5, 1.5
     * NaN: every comparison is false except NEQ (NaN != 1 holds), so with
     * missing_value_tracks_true = 0 NaN goes false (20) except NEQ (10); with 1 it goes true. */
    static const double want[6][4] = {
        {10, 10, 20, 20}, {10, 20, 20, 20}, {20, 10, 10, 20},
        {20, 20, 10, 20}, {20, 10, 20, 20}, {10, 20, 10, 10},
    };
    float pat[] = {0.5f, 7, 1.0f, 7, 1.5f, 7, NAN, 7};
    for (int m = 0; m < 6; m++)
        for (int mt = 0; mt < 2; mt++) {
            ens e;
            stump(&e, modes[m], mt);
            double expect[4];
            memcpy(expect, want[m], sizeof expect);
            if (mt) expect[3] = 10;
            char what[64];
            snprintf(what, sizeof what, "%s missing_true=%d", modes[m], mt);
            check_values(what, &e, pat, 4, expect, 1, 0);
        }
}

/* Two-target stump: x0 <= 0 ? (t0 1, t1 2) : (t0 -1, t1 0). */
static void two_targets(ens *e, const char *post, float w[4])
{
    e_init(e, "TreeEnsembleRegressor");
    e->n_targets = 2;
    e->post = post;
    br(e, 0, 0, 0, 0.0f, "BRANCH_LEQ", 1, 2);
    leaf(e, 0, 1, 0, w[0]);
    more(e, 1, w[1]);
    leaf(e, 0, 2, 0, w[2]);
    more(e, 1, w[3]);
}

TEST(value_post_transforms)
{
    float pat[] = {-1, 0, 1, 0};
    float w[4] = {1, 2, -1, 0};
    ens e;
    /* NONE: (1, 2) and (-1, 0) */
    two_targets(&e, "NONE", w);
    check_values("NONE", &e, pat, 2, (const double[]){1, 2, -1, 0}, 2, 1e-6);
    /* LOGISTIC: 1/(1+e^-1) = 0.7310586, 1/(1+e^-2) = 0.8807971, 1/(1+e) = 0.2689414, 0.5 */
    two_targets(&e, "LOGISTIC", w);
    check_values("LOGISTIC", &e, pat, 2,
                 (const double[]){0.7310586, 0.8807971, 0.2689414, 0.5}, 2, 1e-6);
    /* SOFTMAX: (e^1, e^2)/(e^1+e^2) = (1/(1+e), e/(1+e)) = (0.2689414, 0.7310586); the same
     * for (-1, 0) */
    two_targets(&e, "SOFTMAX", w);
    check_values("SOFTMAX", &e, pat, 2,
                 (const double[]){0.2689414, 0.7310586, 0.2689414, 0.7310586}, 2, 1e-6);
    /* SOFTMAX_ZERO: a zero score stays at zero: (-1, 0) -> (e^-1 / e^-1, 0) = (1, 0) */
    two_targets(&e, "SOFTMAX_ZERO", w);
    check_values("SOFTMAX_ZERO", &e, pat, 2,
                 (const double[]){0.2689414, 0.7310586, 1, 0}, 2, 1e-6);
    /* PROBIT: sqrt(2) erfinv(2p - 1): p = 0.5 -> 0 (exactly, in the approximation too);
     * p = Phi(1) = 0.8413447 -> 1, p = Phi(-2) = 0.0227501 -> -2, p = Phi(2) = 0.9772499 -> 2;
     * the Winitzki erfinv the spec's implementations use is good to about 2e-3 here */
    float wp[4] = {0.5f, 0.8413447f, 0.0227501f, 0.9772499f};
    two_targets(&e, "PROBIT", wp);
    check_values("PROBIT", &e, pat, 2, (const double[]){0, 1, -2, 2}, 2, 5e-3);
}

/* Two stumps on x0 <= 0: tree 0 gives 1 / 3, tree 1 gives 5 / -1 (true / false). */
static void two_trees(ens *e, const char *agg)
{
    e_init(e, "TreeEnsembleRegressor");
    e->agg = agg;
    br(e, 0, 0, 0, 0.0f, "BRANCH_LEQ", 1, 2);
    leaf(e, 0, 1, 0, 1.0f);
    leaf(e, 0, 2, 0, 3.0f);
    br(e, 1, 0, 0, 0.0f, "BRANCH_LEQ", 1, 2);
    leaf(e, 1, 1, 0, 5.0f);
    leaf(e, 1, 2, 0, -1.0f);
}

TEST(value_aggregation)
{
    float pat[] = {-1, 0, 1, 0};
    ens e;
    /* x0 = -1: trees give 1 and 5; x0 = 1: 3 and -1 */
    two_trees(&e, "SUM");
    check_values("SUM", &e, pat, 2, (const double[]){6, 2}, 1, 0);
    two_trees(&e, "AVERAGE");
    check_values("AVERAGE", &e, pat, 2, (const double[]){3, 1}, 1, 0);
    two_trees(&e, "MIN");
    check_values("MIN", &e, pat, 2, (const double[]){1, -1}, 1, 0);
    two_trees(&e, "MAX");
    check_values("MAX", &e, pat, 2, (const double[]){5, 3}, 1, 0);
    /* base_values are added after aggregating: SUM + 0.5 */
    two_trees(&e, "SUM");
    e.base[0] = 0.5f, e.n_base = 1;
    check_values("SUM+base", &e, pat, 2, (const double[]){6.5, 2.5}, 1, 0);
    /* AVERAGE + 0.5: 3.5, 1.5 */
    two_trees(&e, "AVERAGE");
    e.base[0] = 0.5f, e.n_base = 1;
    check_values("AVERAGE+base", &e, pat, 2, (const double[]){3.5, 1.5}, 1, 0);
}

TEST(value_binary_classifier)
{
    /* labels 0, 1; every weight on class 1: s = 2 (x0 <= 0) or -1. LOGISTIC on [-s, s]:
     * s = 2: (1/(1+e^2), 1/(1+e^-2)) = (0.1192029, 0.8807971), label 1;
     * s = -1: (0.7310586, 0.2689414), label 0 */
    ens e;
    e_init(&e, "TreeEnsembleClassifier");
    e.post = "LOGISTIC";
    br(&e, 0, 0, 0, 0.0f, "BRANCH_LEQ", 1, 2);
    leaf(&e, 0, 1, 1, 2.0f);
    leaf(&e, 0, 2, 1, -1.0f);
    float pat[] = {-1, 0, 1, 0};
    check_values("binary", &e, pat, 2, (const double[]){0.1192029, 0.8807971, 0.7310586, 0.2689414},
                 2, 1e-6);
    pbuf b = e_onnx(&e);
    float x[4] = {-1, 0, 1, 0}, y[4];
    int64_t lab[2] = {-7, -7};
    CHECK(run_model(b.p, b.n, x, 2, 2, y, lab) == 0);
    CHECK(lab[0] == 1 && lab[1] == 0);
    free(b.p);
}

TEST(value_deep_trees)
{
    /* A complete tree of depth 7 on x0 (the SIMD paths gather below level 4 / 6): node i
     * (level order, 0..126) splits x0 <= (its in-order rank among the 127 splits) and leaf j
     * (0..127, left to right) holds j. x0 = v + 0.5 lands in leaf v + 1 for v in -1..126. */
    ens e;
    e_init(&e, "TreeEnsembleRegressor");
    /* larger than MAXN: the lists are built by hand below (e only carries no edits) */
    int depth = 7, inner = (1 << depth) - 1;
    int64_t tree[255], node[255], feat[255], tid[255], fid[255];
    float val[255];
    const char *mode[255];
    int64_t wt[128], wn[128], wi[128];
    float ww[128];
    for (int i = 0; i < inner; i++) {
        /* in-order rank of level-order node i */
        int lvl = 0;
        while ((2 << lvl) - 1 <= i) lvl++;
        int pos = i - ((1 << lvl) - 1), span = 1 << (depth - lvl);
        int rank = pos * span + span / 2 - 1;
        tree[i] = 0, node[i] = i, feat[i] = 0, val[i] = (float)rank, mode[i] = "BRANCH_LEQ";
        tid[i] = 2 * i + 1, fid[i] = 2 * i + 2;
    }
    for (int j = 0; j <= inner; j++) {
        int i = inner + j;
        tree[i] = 0, node[i] = i, feat[i] = 0, val[i] = 0, mode[i] = "LEAF", tid[i] = fid[i] = 0;
        wt[j] = 0, wn[j] = i, wi[j] = 0, ww[j] = (float)j;
    }
    pbuf attrs = {0}, graph = {0};
    pb_str(&attrs, 7, "ai.onnx.ml");
    at_ints(&attrs, &e, "nodes_treeids", tree, 255);
    at_ints(&attrs, &e, "nodes_nodeids", node, 255);
    at_ints(&attrs, &e, "nodes_featureids", feat, 255);
    at_ints(&attrs, &e, "nodes_truenodeids", tid, 255);
    at_ints(&attrs, &e, "nodes_falsenodeids", fid, 255);
    at_floats(&attrs, &e, "nodes_values", val, 255);
    at_strings(&attrs, &e, "nodes_modes", mode, 255);
    at_ints(&attrs, &e, "target_treeids", wt, 128);
    at_ints(&attrs, &e, "target_nodeids", wn, 128);
    at_ints(&attrs, &e, "target_ids", wi, 128);
    at_floats(&attrs, &e, "target_weights", ww, 128);
    at_int(&attrs, "n_targets", 1);
    const char *in[] = {"X"}, *out[] = {"Y"};
    ob_node(&graph, "TreeEnsembleRegressor", "trees", in, 1, out, 1, &attrs);
    free(attrs.p);
    pb_str(&graph, 2, "g");
    int64_t din[2] = {-1, 2}, dout[2] = {-1, 1};
    ob_value(&graph, 11, "X", 1, 2, din);
    ob_value(&graph, 12, "Y", 1, 2, dout);
    pbuf m = ob_model(&graph, 13), os = {0};
    pb_str(&os, 1, "ai.onnx.ml");
    pb_int(&os, 2, 3);
    pb_msg(&m, 8, &os);
    float x[130 * 2], y[130];
    for (int r = 0; r < 130; r++) x[2 * r] = (float)(r % 128 - 1) + 0.5f, x[2 * r + 1] = 0;
    for (int rows = 1; rows <= 130; rows += 43) {
        CHECK(run_model(m.p, m.n, x, rows, 2, y, NULL) == 0);
        for (int r = 0; r < rows; r++)
            CHECK_MSG(y[r] == (float)(r % 128), "deep: batch %d row %d: %g, expected %d", rows, r,
                      (double)y[r], r % 128);
    }
    free(m.p);
}

int main(void)
{
    (void)ob_tensor_f32; /* onnx_build.h helper this file does not need */
    RUN(good_model_runs);
    RUN(bad_missing_child);
    RUN(bad_cycles);
    RUN(bad_duplicate_node);
    RUN(bad_feature_ids);
    RUN(bad_target_and_class_ids);
    RUN(bad_lengths);
    RUN(bad_nan_threshold);
#ifndef MS_NO_XGBOOST
    RUN(xgb_good_runs);
    RUN(xgb_bad);
    RUN(xgb_feature_names);
#else
    RUN(xgb_refused_without_loader);
#endif
    RUN(sessions_share_the_ensemble);
    RUN(value_modes);
    RUN(value_post_transforms);
    RUN(value_aggregation);
    RUN(value_binary_classifier);
    RUN(value_deep_trees);
    if (getenv("MS_TREES_DUMP")) printf("%d bad models written\n", g_dumped);
    return mstest_summary();
}
