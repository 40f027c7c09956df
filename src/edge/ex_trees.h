/* ex_trees.h: a tree ensemble as the exporter holds it, shared by ex_trees.c (reading the
 * model, the node-array layout and its walk) and ex_ctree.c (the complete-tree layout for
 * shallow ensembles). */
#ifndef EX_TREES_H
#define EX_TREES_H

#include <stdint.h>
#include <stdio.h>

#include "ex_int.h"

/* a node of the node-array layout: a split's key, feature and second child's offset; a
 * leaf's weight bits, the sentinel feature n_features and offset 0 */
typedef struct tnode {
    int32_t key;
    uint16_t f, r;
} tnode;

struct ex_trees {
    int64_t n_nodes, n_trees, n_features, K;
    tnode *nodes;
    uint32_t *root;
    uint8_t *depth;
    uint16_t *target;     /* per tree */
    uint8_t *nan_gt;      /* bitmap per node, or NULL when no NaN goes to the second child */
    double *base;         /* K */
    int post;             /* EX_POST_* (PAIR: the binary classifier with logistic) */
    int binary, bin_class, classifier, average;
    int nan_ok;
};

/* ex_ctree.c: the depth D of the complete-tree layout when it serves this ensemble (every tree
 * padded to depth D, children of node i at 2i and 2i + 1), else 0 */
int ex_ctree_depth(const ex_trees *t);
int64_t ex_ctree_bytes(const ex_trees *t, int D);
void ex_ctree_emit_kernel(FILE *f, const ex_trees *t);
void ex_ctree_emit_data(FILE *f, const ex_trees *t, int id, int D);
void ex_ctree_emit_walk(FILE *f, const ex_trees *t, int id, int D, const char *x, const char *tgt);

#endif
