/* ms_xgboost.c: XGBoost JSON models (see ms_xgboost.h).
 *
 * The JSON is read with cJSON (Debian libcjson). The edge build (microcontrollers) leaves this
 * loader out: it has no JSON parser and takes ONNX-ML files only.
 *
 * XGBoost's tree: arrays indexed by node, left_children[i] == -1 for a leaf, whose value is
 * split_conditions[i]; a branch sends x to the left when x < split_conditions[i] and a missing
 * (NaN) x to the left when default_left[i]. That is ONNX-ML's BRANCH_LT with the left child as
 * the true child and nodes_missing_value_tracks_true = default_left. Each tree adds its leaf to
 * the margin of class tree_info[t]; the margin starts at base_score (through the link function:
 * logit for binary:logistic). Only nodes reachable from the root are kept, so pruned nodes
 * (num_deleted) do not matter. */
#include "ms_xgboost.h"
#include "ms_fail.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON access ------------------------------------------------------------------------ */

static cJSON *path(cJSON *o, const char *a, const char *b, const char *c)
{
    if (a && o) o = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b && o) o = cJSON_GetObjectItemCaseSensitive(o, b);
    if (c && o) o = cJSON_GetObjectItemCaseSensitive(o, c);
    return o;
}

/* A number that XGBoost may write as a JSON string ("5E-1") or a number. */
static int get_num(const cJSON *o, double *v)
{
    if (cJSON_IsNumber(o)) return *v = o->valuedouble, 1;
    if (cJSON_IsString(o) && o->valuestring) {
        char *end;
        *v = strtod(o->valuestring, &end);
        return end != o->valuestring && *end == 0;
    }
    return 0;
}

/* Copy a numeric array of exactly n entries (n < 0: any length, returned in *n). */
static int get_array(const cJSON *arr, int64_t *n, double **out)
{
    if (!cJSON_IsArray(arr)) return 0;
    int64_t len = cJSON_GetArraySize(arr);
    if (*n >= 0 && len != *n) return 0;
    *n = len;
    *out = ms_malloc((size_t)(len ? len : 1) * sizeof(double));
    if (!*out) return 0;
    int64_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!get_num(e, &(*out)[i])) return ms_free(*out), *out = NULL, 0;
        i++;
    }
    return 1;
}

/* ---- the graph -------------------------------------------------------------------------- */

/* The flat ONNX-ML node and weight lists, in the model's pool. */
typedef struct xgb_lists {
    int64_t n, nw, cap;
    int64_t *tree, *node, *feat, *tchild, *fchild, *miss;
    const char **mode;
    float *value;
    int64_t *wtree, *wnode, *wtarget;
    float *weight;
} xgb_lists;

static ms_status lists_alloc(ms_model *m, xgb_lists *L, int64_t cap, ms_error *err)
{
    size_t c = (size_t)(cap ? cap : 1);
    L->cap = cap;
    ms_pool *p = &m->pool;
    L->tree = ms_pool_alloc(p, c * 8, 8), L->node = ms_pool_alloc(p, c * 8, 8);
    L->feat = ms_pool_alloc(p, c * 8, 8), L->tchild = ms_pool_alloc(p, c * 8, 8);
    L->fchild = ms_pool_alloc(p, c * 8, 8), L->miss = ms_pool_alloc(p, c * 8, 8);
    L->mode = ms_pool_alloc(p, c * sizeof(char *), 8), L->value = ms_pool_alloc(p, c * 4, 4);
    L->wtree = ms_pool_alloc(p, c * 8, 8), L->wnode = ms_pool_alloc(p, c * 8, 8);
    L->wtarget = ms_pool_alloc(p, c * 8, 8), L->weight = ms_pool_alloc(p, c * 4, 4);
    if (!L->tree || !L->node || !L->feat || !L->tchild || !L->fchild || !L->miss || !L->mode ||
        !L->value || !L->wtree || !L->wnode || !L->wtarget || !L->weight)
        return FAIL(err, MS_ERR_RUNTIME, "out of memory loading an XGBoost model");
    return MS_OK;
}

typedef struct xgb_tree {
    int64_t n;
    double *left, *right, *split, *cond, *dleft;
} xgb_tree;

static void tree_free(xgb_tree *t)
{
    ms_free(t->left), ms_free(t->right), ms_free(t->split), ms_free(t->cond), ms_free(t->dleft);
    memset(t, 0, sizeof *t);
}

static ms_status tree_read(const cJSON *j, int64_t ti, xgb_tree *t, ms_error *err)
{
    static const char *const names[] = {"left_children", "right_children", "split_indices",
                                        "split_conditions", "default_left"};
    double **arrays[] = {&t->left, &t->right, &t->split, &t->cond, &t->dleft};
    memset(t, 0, sizeof *t);
    t->n = -1;
    for (int a = 0; a < 5; a++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, names[a]);
        int64_t len = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
        if (a > 0 && len >= 0 && len != t->n)
            return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld: %s has %lld "
                        "entries, left_children %lld: node %lld %s", (long long)ti, names[a],
                        (long long)len, (long long)t->n, (long long)(len < t->n ? len : t->n),
                        len < t->n ? "has no entry" : "does not exist");
        if (!get_array(arr, &t->n, arrays[a]))
            return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld: %s is missing or "
                        "holds something other than numbers", (long long)ti, names[a]);
    }
    if (t->n == 0) return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld is empty", (long long)ti);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "split_type");
    const cJSON *e;
    cJSON_ArrayForEach(e, st) {
        double v;
        if (get_num(e, &v) && v != 0)
            return FAIL(err, MS_ERR_UNSUPPORTED, "XGBoost tree %lld uses categorical splits, which "
                        "are not supported", (long long)ti);
    }
    return MS_OK;
}

/* Append the nodes of tree ti reachable from its root, checking every reference. */
static ms_status tree_emit(const xgb_tree *t, int64_t ti, int64_t target, int64_t n_feat,
                           xgb_lists *L, int64_t *stack, uint8_t *seen, ms_error *err)
{
    memset(seen, 0, (size_t)t->n);
    int64_t sp = 0;
    stack[sp++] = 0;
    seen[0] = 1;
    while (sp) {
        int64_t i = stack[--sp], k = L->n++;
        double l = t->left[i], r = t->right[i];
        L->tree[k] = ti;
        L->node[k] = i;
        if (l == -1) {
            if (isnan(t->cond[i]))
                return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld node %lld: the "
                            "leaf value is NaN", (long long)ti, (long long)i);
            L->mode[k] = "LEAF";
            int64_t w = L->nw++;
            L->wtree[w] = ti, L->wnode[w] = i, L->wtarget[w] = target;
            L->weight[w] = (float)t->cond[i];
            continue;
        }
        double f = t->split[i];
        if (l < 0 || l >= (double)t->n || r < 0 || r >= (double)t->n || l != floor(l) || r != floor(r))
            return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld node %lld: a child "
                        "index is out of range (the tree has %lld nodes)", (long long)ti,
                        (long long)i, (long long)t->n);
        if (f < 0 || f != floor(f) || (n_feat > 0 && f >= (double)n_feat) || f > 2e9)
            return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld node %lld: feature "
                        "%g is out of range (the model has %lld features)", (long long)ti,
                        (long long)i, f, (long long)n_feat);
        if (isnan(t->cond[i]))
            return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld node %lld: the "
                        "threshold is NaN", (long long)ti, (long long)i);
        if (seen[(int64_t)l] || seen[(int64_t)r] || l == r)
            return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld node %lld: a child "
                        "is reached twice (a cycle or a shared subtree)", (long long)ti, (long long)i);
        seen[(int64_t)l] = seen[(int64_t)r] = 1;
        L->mode[k] = "BRANCH_LT";
        L->feat[k] = (int64_t)f;
        L->value[k] = (float)t->cond[i];
        L->tchild[k] = (int64_t)l;
        L->fchild[k] = (int64_t)r;
        L->miss[k] = t->dleft[i] != 0;
        stack[sp++] = (int64_t)r;
        stack[sp++] = (int64_t)l;
    }
    return MS_OK;
}

/* ---- model shell ------------------------------------------------------------------------ */

static void set_ints(ms_attr *a, const char *name, const int64_t *v, int64_t n)
{
    a->name = name, a->type = MS_ATTR_INTS, a->ints = v, a->n = (int32_t)n;
}

static void set_floats(ms_attr *a, const char *name, const float *v, int64_t n)
{
    a->name = name, a->type = MS_ATTR_FLOATS, a->floats = v, a->n = (int32_t)n;
}

/* One TreeEnsembleRegressor node from input "input" [N, n_feat] to `out_name` [N, K]. */
static ms_status make_graph(ms_model *m, const xgb_lists *L, int64_t K, int64_t n_feat,
                            const char *post, float *base, const char *out_name, ms_error *err)
{
    ms_pool *p = &m->pool;
    m->ir_version = 8;
    m->opsets = ms_pool_alloc(p, sizeof(ms_opset), 8);
    m->values = ms_pool_alloc(p, 2 * sizeof(ms_value), 8);
    m->nodes = ms_pool_alloc(p, sizeof(ms_node), 8);
    m->kernels = ms_pool_alloc(p, sizeof(ms_kernel *), 8);
    m->inputs = ms_pool_alloc(p, 4, 4), m->outputs = ms_pool_alloc(p, 4, 4);
    m->input_info = ms_pool_alloc(p, sizeof(ms_value_info), 8);
    m->output_info = ms_pool_alloc(p, sizeof(ms_value_info), 8);
    m->optypes = ms_pool_alloc(p, sizeof(ms_optype), 8);
    ms_attr *a = ms_pool_alloc(p, 16 * sizeof(ms_attr), 8);
    int32_t *io = ms_pool_alloc(p, 2 * sizeof(int32_t), 4);
    const char **modes = (const char **)L->mode;
    if (!m->opsets || !m->values || !m->nodes || !m->kernels || !m->inputs || !m->outputs ||
        !m->input_info || !m->output_info || !m->optypes || !a || !io)
        return FAIL(err, MS_ERR_RUNTIME, "out of memory loading an XGBoost model");
    m->n_opsets = 1;
    m->opsets[0] = (ms_opset){"ai.onnx.ml", 3};
    m->n_values = 2;
    int64_t shape_in[2] = {-1, n_feat > 0 ? n_feat : -1}, shape_out[2] = {-1, K};
    m->values[0] = (ms_value){.name = "input", .kind = MS_VALUE_INPUT, .producer = -1,
                              .t = {MS_DTYPE_FLOAT, 2, {shape_in[0], shape_in[1]}, NULL}};
    m->values[1] = (ms_value){.name = out_name, .kind = MS_VALUE_NODE, .producer = 0,
                              .t = {MS_DTYPE_FLOAT, 2, {-1, K}, NULL}};
    m->n_inputs = m->n_outputs = 1;
    m->inputs[0] = 0, m->outputs[0] = 1;
    m->input_info[0] = (ms_value_info){.name = "input", .dtype = MS_DTYPE_FLOAT, .ndim = 2,
                                       .shape = {shape_in[0], shape_in[1]}};
    m->output_info[0] = (ms_value_info){.name = out_name, .dtype = MS_DTYPE_FLOAT, .ndim = 2,
                                        .shape = {shape_out[0], shape_out[1]}};
    int k = 0;
    set_ints(&a[k++], "nodes_treeids", L->tree, L->n);
    set_ints(&a[k++], "nodes_nodeids", L->node, L->n);
    set_ints(&a[k++], "nodes_featureids", L->feat, L->n);
    set_ints(&a[k++], "nodes_truenodeids", L->tchild, L->n);
    set_ints(&a[k++], "nodes_falsenodeids", L->fchild, L->n);
    set_ints(&a[k++], "nodes_missing_value_tracks_true", L->miss, L->n);
    set_floats(&a[k++], "nodes_values", L->value, L->n);
    a[k++] = (ms_attr){.name = "nodes_modes", .type = MS_ATTR_STRINGS, .strings = modes, .n = (int32_t)L->n};
    set_ints(&a[k++], "target_treeids", L->wtree, L->nw);
    set_ints(&a[k++], "target_nodeids", L->wnode, L->nw);
    set_ints(&a[k++], "target_ids", L->wtarget, L->nw);
    set_floats(&a[k++], "target_weights", L->weight, L->nw);
    set_floats(&a[k++], "base_values", base, K);
    a[k++] = (ms_attr){.name = "n_targets", .type = MS_ATTR_INT, .i = K};
    a[k++] = (ms_attr){.name = "post_transform", .type = MS_ATTR_STRING, .s = post, .s_len = strlen(post)};
    a[k++] = (ms_attr){.name = "aggregate_function", .type = MS_ATTR_STRING, .s = "SUM", .s_len = 3};
    io[0] = 0, io[1] = 1;
    m->n_nodes = 1;
    m->nodes[0] = (ms_node){.name = "xgboost", .op_type = "TreeEnsembleRegressor",
                            .domain = "ai.onnx.ml", .index = 0, .n_in = 1, .n_out = 1,
                            .in = &io[0], .out = &io[1], .n_attr = k, .attrs = a, .opset = 3};
    m->kernels[0] = ms_kernel_find("ai.onnx.ml", "TreeEnsembleRegressor", 3);
    m->n_optypes = 1;
    m->optypes[0] = (ms_optype){"ai.onnx.ml", "TreeEnsembleRegressor", m->kernels[0] != NULL};
    return MS_OK;
}

/* ---- learner ---------------------------------------------------------------------------- */

typedef struct xgb_learner {
    int64_t K, n_feat;
    const char *post, *out_name;
    double margin; /* base_score through the link function */
    cJSON *trees, *tree_info;
} xgb_learner;

static ms_status read_learner(cJSON *root, xgb_learner *x, ms_error *err)
{
    cJSON *learner = path(root, "learner", NULL, NULL);
    cJSON *gb = path(learner, "gradient_booster", NULL, NULL);
    const char *gbname = cJSON_GetStringValue(path(gb, "name", NULL, NULL));
    if (!learner || !gb)
        return FAIL(err, MS_ERR_INVALID, "not an XGBoost JSON model (no learner.gradient_booster)");
    if (gbname && strcmp(gbname, "gbtree"))
        return FAIL(err, MS_ERR_UNSUPPORTED, "XGBoost booster '%s' is not supported (only gbtree)", gbname);
    x->trees = path(gb, "model", "trees", NULL);
    x->tree_info = path(gb, "model", "tree_info", NULL);
    if (!cJSON_IsArray(x->trees) || !cJSON_IsArray(x->tree_info) ||
        cJSON_GetArraySize(x->trees) != cJSON_GetArraySize(x->tree_info))
        return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: gradient_booster.model.trees and "
                    "tree_info are missing or differ in length");
    cJSON *mp = path(learner, "learner_model_param", NULL, NULL);
    double base = 0.5, ncls = 0, nfeat = -1, ntarget = 1;
    if (!get_num(path(mp, "base_score", NULL, NULL), &base) || isnan(base))
        return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: no learner_model_param.base_score");
    get_num(path(mp, "num_class", NULL, NULL), &ncls);
    get_num(path(mp, "num_feature", NULL, NULL), &nfeat);
    get_num(path(mp, "num_target", NULL, NULL), &ntarget);
    if (ntarget > 1)
        return FAIL(err, MS_ERR_UNSUPPORTED, "XGBoost multi-target models are not supported");
    if (ncls < 0 || ncls > 1e6 || nfeat > 1e9)
        return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: num_class or num_feature is out of range");
    x->n_feat = (int64_t)nfeat;
    const char *obj = cJSON_GetStringValue(path(learner, "objective", "name", NULL));
    if (!obj) return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: no learner.objective.name");
    if (!strcmp(obj, "binary:logistic") || !strcmp(obj, "reg:logistic")) {
        if (base <= 0 || base >= 1)
            return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: base_score %g is not a "
                        "probability", base);
        x->K = 1, x->post = "LOGISTIC", x->out_name = "probabilities";
        x->margin = log(base / (1.0 - base));
    } else if (!strcmp(obj, "reg:squarederror") || !strcmp(obj, "reg:linear")) {
        x->K = 1, x->post = "NONE", x->out_name = "predictions", x->margin = base;
    } else if (!strcmp(obj, "multi:softprob")) {
        if (ncls < 2) return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: multi:softprob with num_class %g", ncls);
        x->K = (int64_t)ncls, x->post = "SOFTMAX", x->out_name = "probabilities", x->margin = base;
    } else {
        return FAIL(err, MS_ERR_UNSUPPORTED, "XGBoost objective '%s' is not supported (supported: "
                    "binary:logistic, reg:logistic, reg:squarederror, multi:softprob)", obj);
    }
    return MS_OK;
}

static ms_status load_trees(ms_model *m, const xgb_learner *x, xgb_lists *L, ms_error *err)
{
    int64_t total = 0, maxn = 1, ti = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, x->trees) { /* sizes first, for one allocation */
        int64_t n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "left_children"));
        total += n;
        if (n > maxn) maxn = n;
    }
    ms_status st = lists_alloc(m, L, total, err);
    int64_t *stack = ms_malloc((size_t)maxn * sizeof(int64_t));
    uint8_t *seen = ms_malloc((size_t)maxn);
    if (!st && (!stack || !seen)) st = FAIL(err, MS_ERR_RUNTIME, "out of memory loading an XGBoost model");
    const cJSON *info = x->tree_info->child;
    cJSON_ArrayForEach(j, x->trees) {
        if (st) break;
        double target;
        if (!get_num(info, &target) || target < 0 || target >= (double)x->K || target != floor(target)) {
            st = FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld: tree_info names "
                      "class %g, the model has %lld", (long long)ti, target, (long long)x->K);
            break;
        }
        xgb_tree t;
        st = tree_read(j, ti, &t, err);
        if (!st && t.n > maxn) st = FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: tree %lld changed size", (long long)ti);
        if (!st) st = tree_emit(&t, ti, (int64_t)target, x->n_feat, L, stack, seen, err);
        tree_free(&t);
        info = info->next;
        ti++;
    }
    ms_free(stack);
    ms_free(seen);
    return st;
}

/* learner.feature_names (XGBoost writes [] for a model trained on an unnamed array): kept in
 * the pool for ms_model_feature_names, so batch can bind columns by name. They must be
 * distinct strings, one per feature. */
static ms_status read_feature_names(ms_model *m, cJSON *root, int64_t n_feat, ms_error *err)
{
    cJSON *fn = path(root, "learner", "feature_names", NULL);
    int64_t n = cJSON_GetArraySize(fn);
    if (!fn || n == 0) return MS_OK;
    if (!cJSON_IsArray(fn) || (n_feat >= 0 && n != n_feat))
        return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: learner.feature_names has %lld "
                    "entries for %lld features", (long long)n, (long long)n_feat);
    const char **names = ms_pool_alloc(&m->pool, (size_t)n * sizeof *names, 8);
    if (!names) return FAIL(err, MS_ERR_RUNTIME, "out of memory loading an XGBoost model");
    int64_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, fn) {
        const char *v = cJSON_GetStringValue(e);
        if (!v || !*v)
            return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: learner.feature_names[%lld] "
                        "is not a non-empty string", (long long)i);
        for (int64_t k = 0; k < i; k++)
            if (strcmp(names[k], v) == 0)
                return FAIL(err, MS_ERR_INVALID, "invalid XGBoost model: feature name '%.100s' "
                            "appears twice", v);
        if (!(names[i++] = ms_pool_strndup(&m->pool, v, strlen(v))))
            return FAIL(err, MS_ERR_RUNTIME, "out of memory loading an XGBoost model");
    }
    m->feature_names = names;
    m->n_feature_names = n;
    return MS_OK;
}

ms_status ms_xgboost_load(ms_model *m, const uint8_t *buf, size_t len, ms_error *err)
{
    cJSON *root = cJSON_ParseWithLength((const char *)buf, len);
    if (!root) return FAIL(err, MS_ERR_INVALID, "not a model: the file starts like JSON but does not parse");
    xgb_learner x = {0};
    xgb_lists L = {0};
    ms_status st = read_learner(root, &x, err);
    if (!st) st = load_trees(m, &x, &L, err);
    if (!st) st = read_feature_names(m, root, x.n_feat, err);
    float *base = st ? NULL : ms_pool_alloc(&m->pool, (size_t)x.K * sizeof(float), 4);
    if (!st && !base) st = FAIL(err, MS_ERR_RUNTIME, "out of memory loading an XGBoost model");
    for (int64_t k = 0; !st && k < x.K; k++) base[k] = (float)x.margin;
    const cJSON *ver = path(root, "version", NULL, NULL);
    if (!st) {
        char prod[64] = "xgboost";
        if (cJSON_GetArraySize(ver) == 3)
            snprintf(prod, sizeof prod, "xgboost %d.%d.%d", cJSON_GetArrayItem(ver, 0)->valueint,
                     cJSON_GetArrayItem(ver, 1)->valueint, cJSON_GetArrayItem(ver, 2)->valueint);
        m->producer = ms_pool_strndup(&m->pool, prod, strlen(prod));
        st = m->producer ? make_graph(m, &L, x.K, x.n_feat, x.post, base, x.out_name, err)
                         : FAIL(err, MS_ERR_RUNTIME, "out of memory");
    }
    cJSON_Delete(root);
    return st;
}
