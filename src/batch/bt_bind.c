/* bt_bind.c: binding a source's columns to a model's inputs (by name, or by position when no
 * names are known) and preparing each output's JSON keys and label maps, for bt_scorer_create
 * (the rules are in bt_score.h; the scorer's data in bt_score_int.h). */
#include "batch/bt_score_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_csv.h"
#include "predict/pd_json.h"

static int find_col(const char *const *cols, int ncols, const char *name, size_t n)
{
    for (int i = 0; i < ncols; i++)
        if (strlen(cols[i]) == n && memcmp(cols[i], name, n) == 0) return i;
    return -1;
}

static int dtype_ok(ms_dtype t)
{
    return t == MS_DTYPE_FLOAT || t == MS_DTYPE_DOUBLE || t == MS_DTYPE_INT64 ||
           t == MS_DTYPE_INT32 || t == MS_DTYPE_STRING || t == MS_DTYPE_BOOL;
}

/* "a, b, c" of up to n names into dst (cut with ", ..." when long): for messages that list
 * what the input has. */
static void list_names(char *dst, size_t cap, const char *const *names, int n, int quote)
{
    size_t k = 0;
    dst[0] = 0;
    const char *q = quote ? "'" : "";
    char e[MC_ESCAPE_CAP(40)];
    for (int i = 0; i < n && k + 8 < cap; i++) {
        mc_escape(e, sizeof e, names[i], strlen(names[i]), 40); /* header bytes may be junk */
        int w = snprintf(dst + k, cap - k, "%s%s%s%s", i ? ", " : "", q, e, q);
        if (w < 0 || (size_t)w >= cap - k - 5) {
            snprintf(dst + k, cap - k, "%s...", i ? ", " : "");
            return;
        }
        k += (size_t)w;
    }
}

/* 1-based column numbers as ranges: "2..9", "1, 3..31". */
static void list_positions(char *dst, size_t cap, const int *col, int n)
{
    size_t k = 0;
    dst[0] = 0;
    for (int i = 0; i < n && k < cap;) {
        int j = i;
        while (j + 1 < n && col[j + 1] == col[j] + 1) j++;
        int w = j > i ? snprintf(dst + k, cap - k, "%s%d..%d", k ? ", " : "", col[i] + 1, col[j] + 1)
                      : snprintf(dst + k, cap - k, "%s%d", k ? ", " : "", col[i] + 1);
        if (w < 0) return;
        k += (size_t)w;
        i = j + 1;
    }
}

/* The source lacks columns the binding names: MS_ERR_INVALID naming every missing one and
 * what the source has, before any row is scored. */
static ms_status missing_cols(const char *const *missing, int nmiss, const char *from,
                              const char *const *cols, int ncols, ms_error *err)
{
    char want[200], have[240];
    list_names(want, sizeof want, missing, nmiss, 1);
    list_names(have, sizeof have, cols, ncols, 0);
    return bs_fail(err, MS_ERR_INVALID, "the input has no column%s %s (named by %s); it has: %s",
                   nmiss > 1 ? "s" : "", want, from, have);
}

/* Split "a,b,c" into names[] (pointers into a copy owned by *buf). */
static ms_status split_names(const char *list, char **buf, const char ***names, int *n,
                             ms_error *err)
{
    *n = 0;
    if (!(*buf = strdup(list))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    if (!(*names = calloc((size_t)cap, sizeof **names))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (char *p = *buf;;) {
        char *e = strchr(p, ',');
        if (e) *e = 0;
        if (!*p) return bs_fail(err, MS_ERR_INVALID, "an empty column name in the feature list '%s'", list);
        (*names)[(*n)++] = p;
        if (!e) return MS_OK;
        p = e + 1;
    }
}

/* The matrix input's columns by name: names[f] feeds feature f. */
static ms_status bind_by_name(bt_scorer *s, const char *const *cols, int ncols,
                              const char *const *names, int n, const char *from, ms_error *err)
{
    const ms_value_info *v0 = ms_model_input(s->m, 0);
    if (v0->shape[1] >= 0 && v0->shape[1] != n)
        return bs_fail(err, MS_ERR_INVALID, "%s names %d columns but input '%s' expects %s[?,%lld]",
                       from, n, v0->name, ms_dtype_name(v0->dtype), (long long)v0->shape[1]);
    if (!(s->feat_col = malloc((size_t)n * sizeof *s->feat_col)))
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    const char **missing = calloc((size_t)n, sizeof *missing);
    if (!missing) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int nmiss = 0;
    ms_status st = MS_OK;
    for (int f = 0; f < n && st == MS_OK; f++) {
        for (int g = 0; g < f; g++)
            if (strcmp(names[g], names[f]) == 0)
                st = bs_fail(err, MS_ERR_INVALID, "%s names column '%s' twice", from, names[f]);
        int col = find_col(cols, ncols, names[f], strlen(names[f]));
        if (col < 0) missing[nmiss++] = names[f];
        s->feat_col[s->nfeat++] = col;
    }
    if (st == MS_OK && nmiss) st = missing_cols(missing, nmiss, from, cols, ncols, err);
    free(missing);
    if (st != MS_OK) return st;
    char first[80];
    snprintf(first, sizeof first, "%s%s%s", names[0], n > 1 ? " .. " : "", n > 1 ? names[n - 1] : "");
    snprintf(s->describe, sizeof s->describe, "bound by name (%s): input '%s' <- %d columns (%s)",
             from, v0->name, n, first);
    return MS_OK;
}

/* No names known: every column but the key, in the source's order. */
static ms_status bind_by_position(bt_scorer *s, const char *const *cols, int ncols,
                                  const bt_score_opts *o, ms_error *err)
{
    const ms_value_info *v0 = ms_model_input(s->m, 0);
    if (!(s->feat_col = malloc((size_t)(ncols ? ncols : 1) * sizeof *s->feat_col)))
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < ncols; i++)
        if (i != s->key_col) s->feat_col[s->nfeat++] = i;
    if (s->nfeat == 0) return bs_fail(err, MS_ERR_INVALID, "no feature columns");
    if (v0->shape[1] >= 0 && v0->shape[1] != s->nfeat)
        return bs_fail(err, MS_ERR_INVALID,
                       "input '%s' expects %s[?,%lld] but %d columns are given (every column but "
                       "the key; the model names no features); choose them with --features a,b,c",
                       v0->name, ms_dtype_name(v0->dtype), (long long)v0->shape[1], s->nfeat);
    char pos[200];
    list_positions(pos, sizeof pos, s->feat_col, s->nfeat);
    snprintf(s->describe, sizeof s->describe, "bound by position: columns %s%s%s as the %d "
             "features of input '%s' (the model names no features; give --features or "
             "config.json features.columns to bind by name)", pos, o->source ? " of " : "",
             o->source ? o->source : "", s->nfeat, v0->name);
    s->positional = 1;
    return MS_OK;
}

/* One column feeds one feature: unsplit float records are parsed in one pass. */
static ms_status make_fastmap(bt_scorer *s, int ncols, ms_error *err)
{
    s->fastmap = malloc((size_t)ncols * sizeof *s->fastmap);
    if (!s->fastmap) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < ncols; i++) s->fastmap[i] = i == s->key_col ? MC_CSV_KEY : MC_CSV_SKIP;
    for (int f = 0; f < s->nfeat && s->fastmap; f++) {
        if (s->fastmap[s->feat_col[f]] != MC_CSV_SKIP) {
            free(s->fastmap);
            s->fastmap = NULL;
        } else {
            s->fastmap[s->feat_col[f]] = f;
        }
    }
    return MS_OK;
}

/* A model with one 2-D input: by the names of o->features, else the model's feature names,
 * else by position. */
static ms_status bind_matrix(bt_scorer *s, const char *const *cols, int ncols,
                             const bt_score_opts *o, ms_error *err)
{
    ms_status st;
    int64_t nmodel = 0;
    const char *const *mnames = ms_model_feature_names(s->m, 0, &nmodel);
    if (o->features) {
        char *buf = NULL;
        const char **names = NULL;
        int n = 0;
        st = split_names(o->features, &buf, &names, &n, err);
        if (st == MS_OK)
            st = bind_by_name(s, cols, ncols, names, n, o->features_from ? o->features_from
                                                                           : "--features", err);
        free(names);
        free(buf);
    } else if (mnames && nmodel <= INT32_MAX) {
        st = bind_by_name(s, cols, ncols, mnames, (int)nmodel, "the model's feature_names", err);
    } else {
        st = bind_by_position(s, cols, ncols, o, err);
    }
    if (st == MS_OK && ms_model_input(s->m, 0)->dtype == MS_DTYPE_FLOAT)
        st = make_fastmap(s, ncols, err);
    return st;
}

/* Several inputs (or one 1-D input): each from the column of its name. */
static ms_status bind_inputs(bt_scorer *s, const char *const *cols, int ncols, ms_error *err)
{
    s->feat_col = malloc((size_t)s->n_in * sizeof *s->feat_col);
    const char **missing = calloc((size_t)s->n_in, sizeof *missing);
    ms_status st = MS_OK;
    if (!s->feat_col || !missing) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    int nmiss = 0;
    size_t k = (size_t)snprintf(s->describe, sizeof s->describe, "inputs by column name:");
    for (int i = 0; i < s->n_in && st == MS_OK; i++) {
        const ms_value_info *vi = ms_model_input(s->m, i);
        if (!(vi->ndim == 1 || (vi->ndim == 2 && vi->shape[1] == 1)))
            st = bs_fail(err, MS_ERR_UNSUPPORTED,
                         "input '%s' must be [N] or [N,1] to be read from one column", vi->name);
        int col = find_col(cols, ncols, vi->name, strlen(vi->name));
        if (col < 0) missing[nmiss++] = vi->name;
        s->feat_col[i] = col;
        if (k < sizeof s->describe)
            k += (size_t)snprintf(s->describe + k, sizeof s->describe - k, " %s", vi->name);
    }
    if (st == MS_OK && nmiss) st = missing_cols(missing, nmiss, "the model's input names", cols, ncols, err);
    free(missing);
    return st;
}

ms_status bt_bind_columns(bt_scorer *s, const char *const *cols, int ncols,
                          const bt_score_opts *o, ms_error *err)
{
    const ms_model *m = s->m;
    s->key_col = find_col(cols, ncols, o->key, strlen(o->key));
    if (s->key_col < 0) {
        char have[240];
        list_names(have, sizeof have, cols, ncols, 0);
        return bs_fail(err, MS_ERR_INVALID, "key column '%s' is not in the input (it has: %s)",
                       o->key, have);
    }
    for (int i = 0; i < s->n_in; i++) {
        const ms_value_info *vi = ms_model_input(m, i);
        if (!dtype_ok(vi->dtype))
            return bs_fail(err, MS_ERR_UNSUPPORTED, "input '%s' is %s; batch reads float, double, "
                           "int32, int64, bool and string inputs", vi->name, ms_dtype_name(vi->dtype));
        s->in_type[i] = vi->dtype;
        s->in_rank[i] = vi->ndim;
        if (vi->ndim > 0 && vi->shape[0] == 1) s->one_row = 1;
        else if (vi->ndim > 0 && vi->shape[0] > 1)
            return bs_fail(err, MS_ERR_UNSUPPORTED, "input '%s' has a fixed batch dimension of %lld",
                           vi->name, (long long)vi->shape[0]);
    }
    const ms_value_info *v0 = ms_model_input(m, 0);
    s->matrix = s->n_in == 1 && v0->ndim == 2;
    if (s->matrix) return bind_matrix(s, cols, ncols, o, err);
    if (o->features)
        return bs_fail(err, MS_ERR_INVALID, "%s applies to a model with one 2-D input; this "
                       "model's inputs are taken from the columns of the same name",
                       o->features_from ? o->features_from : "--features");
    return bind_inputs(s, cols, ncols, err);
}

ms_status bt_bind_outputs(bt_scorer *s, ms_error *err)
{
    int n = s->n_out;
    s->out_keys = calloc((size_t)n, sizeof *s->out_keys);
    s->out_lm = calloc((size_t)n, sizeof *s->out_lm);
    s->lm_type = calloc((size_t)n, sizeof *s->lm_type);
    s->lm_n = calloc((size_t)n, sizeof *s->lm_n);
    s->lm_labels = calloc((size_t)n, sizeof *s->lm_labels);
    s->out_key_len = calloc((size_t)n, sizeof *s->out_key_len);
    s->lm_keys = calloc((size_t)n, sizeof *s->lm_keys);
    s->lm_key_len = calloc((size_t)n, sizeof *s->lm_key_len);
    if (!s->out_keys || !s->out_lm || !s->lm_type || !s->lm_n || !s->lm_labels ||
        !s->out_key_len || !s->lm_keys || !s->lm_key_len)
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < n; i++) {
        mc_buf b = {0};
        mc_buf_put_json_str(&b, ms_model_output(s->m, i)->name);
        mc_buf_putc(&b, ':');
        if (mc_buf_failed(&b)) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        s->out_keys[i] = b.data;
        s->out_key_len[i] = b.len;
        s->out_lm[i] = ms_model_output_labels(s->m, i, &s->lm_type[i], &s->lm_n[i], &s->lm_labels[i]);
        if (s->out_lm[i] && s->lm_n[i] > 0) {
            s->lm_keys[i] = calloc((size_t)s->lm_n[i], sizeof **s->lm_keys);
            s->lm_key_len[i] = calloc((size_t)s->lm_n[i], sizeof **s->lm_key_len);
            if (!s->lm_keys[i] || !s->lm_key_len[i]) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
            for (int64_t k = 0; k < s->lm_n[i]; k++) {
                mc_buf kb = {0};
                pd_json_put_label_key(&kb, s->lm_type[i], s->lm_labels[i], k);
                if (mc_buf_failed(&kb)) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
                s->lm_keys[i][k] = kb.data;
                s->lm_key_len[i][k] = kb.len;
            }
        }
    }
    return MS_OK;
}
