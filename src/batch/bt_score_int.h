/* bt_score_int.h: what bt_score.c (slices, the thread pool, create/free) and bt_bind.c
 * (columns to inputs, output keys) share, private to them: the scorer and slice structs. */
#ifndef BT_SCORE_INT_H
#define BT_SCORE_INT_H

#include <pthread.h>

#include "batch/bt_score.h"

#define BT_BLOCK 1024 /* rows per session run: what `mlship bench --batch 1024` measures */
#define BT_PAD 128    /* a short batch is padded to a multiple of this */
#define BT_NSESS (BT_BLOCK / BT_PAD + 2)

typedef struct bt_slice {
    struct bt_scorer *sc;
    int id;
    /* A session plans for its input shapes and re-plans (slow) when they change, so each
     * batch size keeps its own session: sess[k] runs k * BT_PAD rows (k = 1 .. BT_BLOCK /
     * BT_PAD), sess[0] one row, sess[BT_NSESS - 1] any other size. Created when first used. */
    ms_session *sess[BT_NSESS];
    void *in_data[MS_MAX_IO];
    size_t in_cap; /* rows allocated per input */
    size_t *rows;  /* chunk row of each batched row */
    size_t rows_cap;
    ms_tensor *out;
    const char **cells; /* one row's cells (ncols) */
    mc_buf scratch;     /* a split record */
    /* per call */
    const bt_chunk *c;
    bt_results *res;

    ms_status st;
    ms_error err;
    pthread_t thread;
    int started;
} bt_slice;

struct bt_scorer {
    const ms_model *m;
    int n_in, n_out;
    int matrix;              /* one 2-D input fed from `nfeat` columns */
    int nfeat;               /* columns per row for the matrix input */
    int positional;          /* bound by position: no names were known */
    int *feat_col;           /* matrix: column of each feature; named: column of each input */
    const char **feat_name;
    ms_dtype in_type[MS_MAX_IO];
    int in_rank[MS_MAX_IO];
    int one_row;             /* some input has a fixed batch dimension of 1 */
    int key_col;
    int *fastmap;            /* per column: feature index, MC_CSV_KEY or MC_CSV_SKIP; NULL
                                when unsplit records cannot be parsed in one pass */
    int shard, nshards;
    const char **out_names;
    char **out_keys;         /* "\"name\":" ready to append */
    size_t *out_key_len;
    char ***lm_keys;         /* output i's labels as "\"label\":", when it has labels */
    size_t **lm_key_len;
    int *out_lm;             /* output has labels */
    ms_dtype *lm_type;
    int64_t *lm_n;
    const void **lm_labels;
    pd_policy policy;        /* missing and non-finite values (src/predict/pd_check.h) */
    char describe[512];
    /* pool */
    int nslices;
    bt_slice *slices;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    unsigned gen;
    int pending, quit;
    int async;        /* every slice on a pool thread: the caller is free while scoring */
    bt_results *cur;   /* the call in flight */
    size_t nblocks;
    unsigned next_block; /* claimed with an atomic add */
};

/* ---- bt_bind.c: called by bt_scorer_create ---- */
ms_status bt_bind_columns(bt_scorer *s, const char *const *cols, int ncols,
                          const bt_score_opts *o, ms_error *err);
ms_status bt_bind_outputs(bt_scorer *s, ms_error *err);

#endif
