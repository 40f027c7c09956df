/* ms_trees.h: the one internal form of a tree ensemble and its evaluation kernel.
 *
 * Front ends (the ai.onnx.ml TreeEnsemble kernels in ops/ops_ml_trees.c, and through them the
 * XGBoost JSON loader in ms_xgboost.c) describe an ensemble as ONNX-ML does: flat node and
 * leaf-weight lists keyed by (tree id, node id). ms_trees_build validates it (every reference,
 * feature id, target id and threshold; messages name the tree and node) and lays it out for
 * speed:
 *   - a generic pre-order form: 16-byte nodes, the left child right after its parent, every
 *     comparison rewritten as "go right when x > t" (or "x != t" for BRANCH_EQ/NEQ) with the
 *     threshold rounded towards the side that keeps float comparisons exact, and a per-node
 *     direction for NaN;
 *   - when every split is an ordering comparison and the trees are shallow, a dense form: each
 *     tree padded to a complete binary tree in level order, so a row descends with no branch
 *     (i = 2i + 1 + (x[f] > t)) and several rows descend at once to hide load latency.
 * Evaluation is tree-major over blocks of rows so a tree stays in cache; rows holding a NaN
 * fall back to the generic form when the dense form cannot route them. On x86-64 the dense
 * form runs as SIMD when the CPU has it (asked at run time): 8 (AVX2) or 16 (AVX-512) rows per
 * vector, 32 or 64 in flight, the top tree levels selected by register permutes and the rest
 * by gathers; the portable C loop stays for other machines and for blocks of under 4 rows.
 * Every path adds the same floats in the same order, so they agree bit for bit.
 * Inputs are float32 rows. Scores are accumulated in double. */
#ifndef MS_TREES_H
#define MS_TREES_H

#include "ms_op.h"

/* ONNX-ML nodes_modes values. */
typedef enum ms_tmode {
    MS_TMODE_LEQ, MS_TMODE_LT, MS_TMODE_GTE, MS_TMODE_GT, MS_TMODE_EQ, MS_TMODE_NEQ, MS_TMODE_LEAF,
} ms_tmode;

typedef enum ms_tagg { MS_TAGG_SUM, MS_TAGG_AVERAGE, MS_TAGG_MIN, MS_TAGG_MAX } ms_tagg;

/* An ensemble as a front end describes it. Values come as float or double arrays (exactly one
 * of each pair is non-NULL). */
typedef struct ms_trees_src {
    int64_t n_nodes;
    const int64_t *tree_ids, *node_ids, *feature_ids, *true_ids, *false_ids;
    const uint8_t *modes;          /* ms_tmode */
    const float *values_f;
    const double *values_d;
    const int64_t *missing_true;   /* NULL, or n_missing entries (missing ones count as 0) */
    int64_t n_missing;
    int64_t n_weights;
    const int64_t *w_tree_ids, *w_node_ids, *w_target_ids;
    const float *w_f;
    const double *w_d;
    int64_t n_targets;             /* targets (regressor) or classes (classifier) */
    int64_t n_features;            /* width of the input rows when known, else -1 */
    ms_tagg agg;
    const char *target_word;       /* "target" or "class", for messages */
} ms_trees_src;

typedef struct ms_trees ms_trees;

/* Rows per evaluation block: the accumulator a block needs is MS_TREES_BLOCK * n_targets
 * doubles (ms_trees_eval's `acc`). */
#define MS_TREES_BLOCK 64

/* Validate and lay out. MS_ERR_INVALID for a malformed ensemble (message in msg, naming the
 * tree and node), MS_ERR_UNSUPPORTED for valid shapes we do not handle, MS_ERR_RUNTIME for
 * out of memory. */
ms_status ms_trees_build(const ms_trees_src *src, ms_trees **out, char *msg, size_t cap);
void ms_trees_free(ms_trees *t);

int64_t ms_trees_n_features(const ms_trees *t); /* largest feature id + 1 */
int64_t ms_trees_n_targets(const ms_trees *t);
int64_t ms_trees_n_trees(const ms_trees *t);
int ms_trees_is_dense(const ms_trees *t);       /* for tests and benchmarks */

/* Aggregate n_rows (<= MS_TREES_BLOCK) rows starting at x (row i at x + i * stride) into acc
 * (n_rows x n_targets): SUM and AVERAGE give the sum / the mean over trees; MIN and MAX start
 * from +FLT_MAX / -FLT_MAX as the ONNX reference does. No allocation. */
void ms_trees_eval(const ms_trees *t, const float *x, int n_rows, int64_t stride, double *acc);

/* ---- ai.onnx.ml front end (ops/ops_ml_trees.c) ------------------------------------------ */

/* Check a TreeEnsembleClassifier/Regressor node (n_features: the input width when the graph
 * declares it, else -1): the tree kernels' load-time `check`, so bad trees never reach a run. */
ms_status ms_ml_trees_check_node(const ms_node *n, int64_t n_features, ms_error *err);

#endif
