/* ex_ctree.c: the complete-tree layout of a shallow tree ensemble. Every tree is padded to the
 * ensemble's depth D and stored as a heap: node i's children are 2i and 2i + 1, root 1; the
 * leaves are nodes 2^D .. 2^(D+1) - 1. A leaf above depth D becomes splits that go left and
 * right to copies of it. Per tree: one uint32 array of 2^(D+1) (split i holds its negated
 * threshold key, leaf i its weight's bits) and one feature array of 2^D.
 *
 * The step: with xk the feature's key as an unsigned order-preserving integer (NaN 0) and
 * nk = 2^32 - (key(t) + 1), "xk > key(t)" is the carry of xk + nk, so one step is
 *     i = i + i + carry(xk[f[i]] + nk[i])
 * written with a 64-bit add that arm-none-eabi-gcc turns into adds + adc: five instructions
 * with the three loads, no branch, no IT block. A padding split has nk 0 (never a carry: it
 * goes left, where a copy of its leaf is). NaN (xk 0) never carries either: it goes left,
 * the first child, as in the node-array walk; a model sending some NaN right takes
 * ex_ctree_nan, which reads a per-node bitmap for a row holding NaN. */
#include <stdlib.h>
#include <string.h>

#include "ex_trees.h"

static int64_t sparse_bytes(const ex_trees *t)
{
    return t->n_nodes * 8 + t->n_trees * 5 + (t->nan_gt ? (t->n_nodes + 7) / 8 : 0);
}

static int feat_bytes(const ex_trees *t) { return t->n_features <= 256 ? 1 : 2; }

int64_t ex_ctree_bytes(const ex_trees *t, int D)
{
    int64_t per = ((int64_t)4 << (D + 1)) + ((int64_t)feat_bytes(t) << D) + (t->nan_gt ? ((int64_t)1 << D) / 8 + 1 : 0);
    return t->n_trees * per;
}

/* D when the padded trees take at most twice the node arrays' flash (and D <= 10), else 0 */
int ex_ctree_depth(const ex_trees *t)
{
    int D = 0;
    for (int64_t i = 0; i < t->n_trees; i++) D = t->depth[i] > D ? t->depth[i] : D;
    if (D < 1 || D > 10 || ex_ctree_bytes(t, D) > 2 * sparse_bytes(t)) return 0;
    return D;
}

void ex_ctree_emit_kernel(FILE *f, const ex_trees *t)
{
    fputs("/* one step down a complete tree: i = 2i + (xk[f] > threshold), as the carry of\n"
          " * xk[f] + (2^32 - threshold - 1) (adds + adc: 5 instructions on a Cortex-M4) */\n"
          "#define EX_CSTEP i = (uint32_t)((((uint64_t)i << 32 | xk[fe[i]]) + ((uint64_t)i << 32 | k[i])) >> 32);\n\n", f);
    if (t->nan_gt)
        fputs("/* the walk for a row holding NaN: each node says where NaN goes (bitmap) */\n"
              "static float ex_ctree_nan(const uint32_t *k, const void *fv, int wide, const uint8_t *nb,\n"
              "                          const float *x, const uint32_t *xk, int D)\n{\n"
              "    uint32_t i = 1;\n    float w;\n"
              "    for (int s = 0; s < D; s++) {\n"
              "        unsigned f = wide ? ((const uint16_t *)fv)[i] : ((const uint8_t *)fv)[i];\n"
              "        uint32_t sum = xk[f] + k[i];\n"
              "        i = 2 * i + (x[f] != x[f] ? (nb[i / 8] >> (i % 8)) & 1u : (uint32_t)(sum < xk[f]));\n"
              "    }\n    memcpy(&w, &k[i], sizeof w);\n    return w;\n}\n\n", f);
}

/* tree node s (node-array layout) at heap index i, level l of D */
static void fill(const ex_trees *t, int64_t s, uint32_t i, int l, int D, uint32_t *k, uint16_t *fe, uint8_t *nb)
{
    const tnode *n = &t->nodes[s];
    if (l == D) {
        k[i] = (uint32_t)n->key;
        return;
    }
    if (n->f == t->n_features) { /* a leaf above depth D: nk 0 goes left; both sides copies */
        fill(t, s, 2 * i, l + 1, D, k, fe, nb), fill(t, s, 2 * i + 1, l + 1, D, k, fe, nb);
        return;
    }
    uint32_t u = (uint32_t)n->key ^ 0x80000000u; /* the signed key as an unsigned one */
    k[i] = 0u - (u + 1u);
    fe[i] = n->f;
    if (t->nan_gt && (t->nan_gt[s / 8] >> (s % 8)) & 1) nb[i / 8] |= (uint8_t)(1u << (i % 8));
    fill(t, s + 1, 2 * i, l + 1, D, k, fe, nb), fill(t, s + n->r, 2 * i + 1, l + 1, D, k, fe, nb);
}

static void put_u32s(FILE *f, const uint32_t *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) fprintf(f, "%s%lu", i % 8 ? "," : i ? ",\n     " : "{", (unsigned long)v[i]);
    fputs("}", f);
}

void ex_ctree_emit_data(FILE *f, const ex_trees *t, int id, int D)
{
    int64_t L = (int64_t)1 << D, nbn = L / 8 + 1;
    uint32_t *k = calloc((size_t)(2 * L), sizeof *k);
    uint16_t *fe = calloc((size_t)L, sizeof *fe);
    uint8_t *nb = calloc((size_t)nbn, 1);
    const char *ft = feat_bytes(t) == 1 ? "uint8_t" : "uint16_t";
    if (!k || !fe || !nb) { /* the caller checks ferror; say why in the file */
        fputs("#error export-c ran out of memory writing the trees\n", f);
        free(k), free(fe), free(nb);
        return;
    }
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 2 && !t->nan_gt) break;
        if (pass == 0) fprintf(f, "static const uint32_t ex_ck%d[%lld][%lld] EX_ALIGN = {\n", id, (long long)t->n_trees, (long long)(2 * L));
        if (pass == 1) fprintf(f, "static const %s ex_cf%d[%lld][%lld] = {\n", ft, id, (long long)t->n_trees, (long long)L);
        if (pass == 2) fprintf(f, "static const uint8_t ex_cn%d[%lld][%lld] = {\n", id, (long long)t->n_trees, (long long)nbn);
        for (int64_t tr = 0; tr < t->n_trees; tr++) {
            memset(k, 0, (size_t)(2 * L) * sizeof *k), memset(fe, 0, (size_t)L * sizeof *fe), memset(nb, 0, (size_t)nbn);
            fill(t, t->root[tr], 1, 0, D, k, fe, nb);
            fputs("    ", f);
            if (pass == 0) put_u32s(f, k, 2 * L);
            else {
                uint32_t *v = k; /* k's words, reused to print the narrow arrays */
                int64_t n = pass == 1 ? L : nbn;
                for (int64_t j = 0; j < n; j++) v[j] = pass == 1 ? fe[j] : nb[j];
                put_u32s(f, v, n);
            }
            fputs(tr + 1 < t->n_trees ? ",\n" : "\n", f);
        }
        fputs("};\n", f);
    }
    free(k), free(fe), free(nb);
}

void ex_ctree_emit_walk(FILE *f, const ex_trees *t, int id, int D, const char *x, const char *tgt)
{
    if (t->nan_gt)
        fprintf(f, "        if (nan)\n            for (int t = 0; t < EX_NT; t++)\n"
                   "                acc[%s] += ex_ctree_nan(ex_ck%d[t], ex_cf%d[t], %d, ex_cn%d[t], %s, xk, %d);\n"
                   "        else\n", tgt, id, id, feat_bytes(t) == 2, id, x, D);
    else fputs("        (void)nan;\n", f);
    fprintf(f, "        for (int t = 0; t < EX_NT; t++) {\n"
               "            const uint32_t *k = ex_ck%d[t];\n"
               "            const %s *fe = ex_cf%d[t];\n"
               "            uint32_t i = 1;\n            float w;\n            ",
            id, feat_bytes(t) == 1 ? "uint8_t" : "uint16_t", id);
    for (int s = 0; s < D; s++) fputs("EX_CSTEP ", f);
    fprintf(f, "\n            memcpy(&w, &k[i], sizeof w);\n            acc[%s] += w;\n        }\n", tgt);
}
