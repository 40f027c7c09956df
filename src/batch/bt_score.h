/* bt_score.h: scoring a chunk of text rows on N threads, one ms_session each, into one JSON
 * object of outputs per row.
 *
 * Binding columns to inputs (bt_scorer_create), by name whenever names are known:
 * - a model with one 2-D input [N, F] takes its F columns by the names in `features`
 *   (comma-separated, in input order: --features, or config.json features.columns, as the job
 *   decides), else by the model's own feature names (XGBoost's feature_names,
 *   ms_model_feature_names); a name the source lacks is MS_ERR_INVALID naming every missing
 *   one and listing what the source has. Other columns are ignored. Only when no names are
 *   known: every column but the key, in source order (bt_scorer_positional says so, and
 *   bt_scorer_describe gives the column numbers for the run's summary);
 * - a model with several inputs (or one 1-D input) takes each input from the column of the same
 *   name; each such input must be [N] or [N, 1].
 * Cells: float/double inputs read numbers exactly (mc_parse_f32); int inputs need an integer;
 * string inputs take the text. An empty cell, SQL NULL, a missing JSON key or "nan" is a missing
 * value, and it, +-inf and out-of-range numbers (1e400) go through the one policy of
 * src/predict/pd_check.h: NaN only with PD_MISSING_NAN on an input the model defines it for,
 * else the row is rejected. A row with a bad value is rejected with a reason naming the column.
 *
 * Outputs per row: {"label":1,"probabilities":{"0":0.1,"1":0.9}}: each graph output by name;
 * the row's slice of the tensor (a scalar for [N], an array for [N, k], nested beyond);
 * label->probability maps (ZipMap) as objects; float32 in the shortest form that reads back
 * exactly. A row with a non-finite float output is rejected ("output 'y' is not finite"),
 * never written.
 *
 * Threads: bt_scorer_run scores the chunk on `threads` slices, each with its own session; the
 * calling thread runs slice 0 and pool threads (started once) the others (async: all on pool
 * threads). The slices take blocks of BT_BLOCK rows in turn until none is left, so a slice
 * whose thread is descheduled does not hold the others up. For each block a slice splits and
 * parses its rows (unsplit CSV records in one pass: mc_csv_parse_f32_row), runs its session
 * and formats its rows' JSON and keys into its own buffer, so nothing is shared while working.
 * A block whose batch run fails is rerun row by row, so one unscorable row is rejected alone. */
#ifndef BT_SCORE_H
#define BT_SCORE_H

#include "batch/bt_source.h"
#include "mlship.h"
#include "predict/pd_check.h"

enum { BT_ROW_SKIP = 0, BT_ROW_OK = 1, BT_ROW_REJECT = 2 };

/* A chunk's results: per row a kind and a text (outputs JSON, or the reject reason). */
typedef struct bt_results {
    size_t n, cap;
    uint8_t *kind;
    uint8_t *slice;
    uint32_t *off; /* into bufs[slice[r]] */
    uint32_t *koff; /* BT_ROW_OK rows: the key, NUL-terminated, in bufs[slice[r]] */
    mc_buf *bufs;
    int nbufs;
    size_t n_ok, n_reject;
    uint8_t *why;              /* BT_ROW_REJECT rows: the pd_why category */
    size_t n_by_why[PD_WHY_N]; /* rejected rows per category */
} bt_results;

static inline const char *bt_results_text(const bt_results *s, size_t r)
{
    return s->bufs[s->slice[r]].data + s->off[r];
}
static inline const char *bt_results_key(const bt_results *s, size_t r)
{
    return s->bufs[s->slice[r]].data + s->koff[r];
}
void bt_results_free(bt_results *s);

typedef struct bt_scorer bt_scorer;

typedef struct bt_score_opts {
    const char *key;      /* key column name (required) */
    const char *features; /* "a,b,c" or NULL */
    const char *features_from; /* where `features` came from, for messages ("--features") */
    const char *source;   /* the input's name for the description ("data.csv"), or NULL */
    int threads;          /* >= 1 */
    int shard, nshards;   /* keep rows whose key hashes to shard (0-based); nshards 1: all */
    int async;            /* run every slice on a pool thread, so bt_scorer_start returns at
                             once and the caller can read the next chunk meanwhile */
    pd_missing missing;   /* missing values: refused (default) or NaN where the model allows */
    const char *model_name; /* for the policy's messages (NULL: "the model") */
} bt_score_opts;

ms_status bt_scorer_create(const ms_model *m, const char *const *cols, int ncols,
                           const bt_score_opts *o, bt_scorer **out, ms_error *err);
/* How the columns were bound, for the job's log and summary: "bound by name (--features):
 * input 'X' <- 30 columns (f0 .. f29)", "bound by position: columns 2..31 of data.csv as the 30
 * features of input 'X' (...)", "inputs by column name: a b". */
const char *bt_scorer_describe(const bt_scorer *s);
int bt_scorer_positional(const bt_scorer *s); /* 1 when no column names were known */
ms_status bt_scorer_run(bt_scorer *s, const bt_chunk *c, bt_results *out, ms_error *err);
/* The same in two halves: start scoring `c` (c and out must stay untouched until the wait),
 * then wait for it. One call in flight at a time. */
ms_status bt_scorer_start(bt_scorer *s, const bt_chunk *c, bt_results *out, ms_error *err);
ms_status bt_scorer_wait(bt_scorer *s, ms_error *err);
void bt_scorer_free(bt_scorer *s); /* NULL is fine */

/* The shard (0-based) of a key: FNV-1a 64 of its bytes, modulo nshards. */
int bt_key_shard(const char *key, int nshards);

#endif
