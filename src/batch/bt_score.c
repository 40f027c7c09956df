/* bt_score.c: score chunks of text rows on N sessions (see bt_score.h): per slice, parse and
 * check cells, run, format outputs; the thread pool; create/free. Binding the columns to the
 * inputs is bt_bind.c; both share bt_score_int.h. */
#include "batch/bt_score.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_csv.h"
#include "predict/pd_json.h"

#include "batch/bt_score_int.h"

int bt_key_shard(const char *key, int nshards)
{
    if (nshards <= 1) return 0;
    return (int)(bs_fnv1a(key, strlen(key), BS_FNV_INIT) % (uint64_t)nshards);
}

void bt_results_free(bt_results *s)
{
    free(s->kind);
    free(s->slice);
    free(s->off);
    free(s->koff);
    free(s->why);
    for (int i = 0; i < s->nbufs; i++) mc_buf_free(&s->bufs[i]);
    free(s->bufs);
    memset(s, 0, sizeof *s);
}

/* ==== one slice ========================================================================= */

static ms_status slice_reserve(bt_slice *sl, size_t rows, ms_error *err)
{
    bt_scorer *s = sl->sc;
    if (rows <= sl->in_cap) return MS_OK;
    for (int i = 0; i < s->n_in; i++) {
        size_t per = (s->matrix ? (size_t)s->nfeat : 1) * ms_dtype_size(s->in_type[i]);
        void *p = realloc(sl->in_data[i], rows * per);
        if (!p) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        sl->in_data[i] = p;
    }
    size_t *r = realloc(sl->rows, rows * sizeof *r);
    if (!r) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    sl->rows = r;
    sl->in_cap = rows;
    return MS_OK;
}

/* Parse one cell into element k of input buffer `data` of type t. NULL on success, else a
 * static reason. */
static const char *put_cell(ms_dtype t, void *data, size_t k, const char *cell)
{
    size_t n = cell ? strlen(cell) : 0;
    switch (t) {
    case MS_DTYPE_FLOAT: {
        float v = NAN;
        if (n && mc_parse_f32(cell, n, &v)) return "is not a number";
        ((float *)data)[k] = v;
        return NULL;
    }
    case MS_DTYPE_DOUBLE: {
        double v = NAN;
        if (n && mc_parse_f64(cell, n, &v)) return "is not a number";
        ((double *)data)[k] = v;
        return NULL;
    }
    case MS_DTYPE_INT64:
    case MS_DTYPE_INT32:
    case MS_DTYPE_BOOL: {
        int64_t v;
        if (!n) return "is missing (an integer input has no missing value)";
        if (mc_parse_i64(cell, n, &v)) return "is not an integer";
        if (t == MS_DTYPE_INT64) ((int64_t *)data)[k] = v;
        else if (t == MS_DTYPE_INT32) {
            if (v < INT32_MIN || v > INT32_MAX) return "is out of int32 range";
            ((int32_t *)data)[k] = (int32_t)v;
        } else {
            if (v != 0 && v != 1) return "is not 0 or 1";
            ((uint8_t *)data)[k] = (uint8_t)v;
        }
        return NULL;
    }
    case MS_DTYPE_STRING:
        ((const char **)data)[k] = cell ? cell : "";
        return NULL;
    default: return "has an unsupported type";
    }
}

/* Reject row r with a reason; `why` is its category for the run's counts. */
static void reject_why(bt_slice *sl, size_t r, pd_why why, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void reject_why(bt_slice *sl, size_t r, pd_why why, const char *fmt, ...)
{
    mc_buf *b = &sl->res->bufs[sl->id];
    sl->res->kind[r] = BT_ROW_REJECT;
    sl->res->why[r] = (uint8_t)why;
    sl->res->off[r] = (uint32_t)b->len;
    char tmp[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    mc_buf_append(b, tmp, strlen(tmp) + 1);
}
#define reject(sl, r, ...) reject_why(sl, r, PD_WHY_OTHER, __VA_ARGS__)

/* The policy on a float/double cell already parsed into element k of input i: 1 if the row
 * may go on, else 0 with the row rejected, naming the column and why. */
static int cell_allowed(bt_slice *sl, size_t r, int i, size_t k, int col, const char *cell)
{
    const bt_scorer *s = sl->sc;
    ms_dtype t = s->in_type[i];
    if (t != MS_DTYPE_FLOAT && t != MS_DTYPE_DOUBLE) return 1;
    double v = t == MS_DTYPE_FLOAT ? (double)((const float *)sl->in_data[i])[k]
                                   : ((const double *)sl->in_data[i])[k];
    size_t n = cell ? strlen(cell) : 0;
    const char *reason = "";
    pd_why why = pd_check_cell(&s->policy, i, cell, n, v, &reason);
    if (why == PD_OK) return 1;
    const char *name = s->feat_name[col];
    if (why == PD_WHY_MISSING && n == 0)
        reject_why(sl, r, why, "column '%s' is empty (%s)", name, pd_missing_hint(&s->policy, i));
    else if (why == PD_WHY_MISSING)
        reject_why(sl, r, why, "column '%s': value '%.60s' is NaN (%s)", name, cell,
                   pd_missing_hint(&s->policy, i));
    else reject_why(sl, r, why, "column '%s': value '%.60s' %s", name, cell, reason);
    return 0;
}

/* The first nfeat floats of a fast-parsed row are all finite (the common case: nothing to
 * check). A row with any NaN or Inf takes the splitting path, where the policy sees the text. */
static int row_finite(const float *x, int nfeat)
{
    int ok = 1;
    for (int f = 0; f < nfeat; f++) ok &= isfinite(x[f]) != 0;
    return ok;
}

/* format_row for the usual outputs (labels, probability rows or maps, scores: float32 and
 * int64 of rank 1 or 2), written straight into a local buffer and appended once. 0 when the
 * row needs the general path. */
static int format_row_fast(bt_slice *sl, size_t r, int64_t j, int64_t n)
{
    bt_scorer *s = sl->sc;
    char tmp[2048], *w = tmp, *end = tmp + sizeof tmp - 40; /* room for one number after end */
    *w++ = '{';
    for (int i = 0; i < s->n_out; i++) {
        const ms_tensor *t = &sl->out[i];
        if (t->ndim < 1 || t->ndim > 2 || t->shape[0] != n) return 0;
        int64_t per = t->ndim == 2 ? t->shape[1] : 1;
        if (i) *w++ = ',';
        if (w + s->out_key_len[i] > end) return 0;
        memcpy(w, s->out_keys[i], s->out_key_len[i]);
        w += s->out_key_len[i];
        if (s->out_lm[i] && t->dtype == MS_DTYPE_FLOAT && per == s->lm_n[i]) {
            *w++ = '{';
            for (int64_t k = 0; k < per; k++) {
                if (k) *w++ = ',';
                if (w + s->lm_key_len[i][k] > end) return 0;
                memcpy(w, s->lm_keys[i][k], s->lm_key_len[i][k]);
                w += s->lm_key_len[i][k];
                w = pd_json_num_at(w, t, j * per + k);
            }
            *w++ = '}';
        } else if (t->ndim == 1) {
            if (!(w = pd_json_num_at(w, t, j))) return 0;
        } else {
            *w++ = '[';
            for (int64_t k = 0; k < per; k++) {
                if (k) *w++ = ',';
                if (w > end || !(w = pd_json_num_at(w, t, j * per + k))) return 0;
            }
            *w++ = ']';
        }
        if (w > end) return 0;
    }
    *w++ = '}';
    *w++ = 0;
    mc_buf *b = &sl->res->bufs[sl->id];
    sl->res->kind[r] = BT_ROW_OK;
    sl->res->off[r] = (uint32_t)b->len;
    mc_buf_append(b, tmp, (size_t)(w - tmp));
    return 1;
}

/* Row j (of n batched rows) of every output, as one JSON object, NUL-terminated. */
static void format_row(bt_slice *sl, size_t r, int64_t j, int64_t n)
{
    char why[300];
    if (pd_check_output_row(sl->sc->m, sl->out, sl->sc->n_out, j, n, why, sizeof why) != PD_OK) {
        reject_why(sl, r, PD_WHY_OUTPUT, "%s", why); /* never published as null */
        return;
    }
    if (format_row_fast(sl, r, j, n)) return;
    bt_scorer *s = sl->sc;
    mc_buf *b = &sl->res->bufs[sl->id];
    sl->res->kind[r] = BT_ROW_OK;
    sl->res->off[r] = (uint32_t)b->len;
    mc_buf_putc(b, '{');
    for (int i = 0; i < s->n_out; i++) {
        const ms_tensor *t = &sl->out[i];
        if (i) mc_buf_putc(b, ',');
        mc_buf_puts(b, s->out_keys[i]);
        if (t->ndim < 1 || t->shape[0] != n) /* not batched: the whole tensor */
            pd_json_put_nested(b, t, 0, t->shape, t->ndim);
        else
            pd_json_put_row(b, s->m, i, t, j, 0); /* a label map, a number or the row's arrays */
    }
    mc_buf_putc(b, '}');
    mc_buf_putc(b, 0);
}

/* Run a session on rows [from, from + n) of the slice's input buffers: the session for n
 * rows when n is one or a multiple of BT_PAD, else the any-size one. */
static ms_status slice_exec(bt_slice *sl, size_t from, size_t n, ms_error *err)
{
    bt_scorer *s = sl->sc;
    ms_tensor in[MS_MAX_IO];
    for (int i = 0; i < s->n_in; i++) {
        size_t per = (s->matrix ? (size_t)s->nfeat : 1);
        in[i].dtype = s->in_type[i];
        in[i].ndim = s->in_rank[i] < 0 ? 1 : s->in_rank[i];
        in[i].shape[0] = (int64_t)n;
        if (in[i].ndim == 2) in[i].shape[1] = s->matrix ? s->nfeat : 1;
        in[i].data = (char *)sl->in_data[i] + from * per * ms_dtype_size(s->in_type[i]);
    }
    int k = n == 1 ? 0 : n % BT_PAD == 0 && n <= BT_BLOCK ? (int)(n / BT_PAD) : BT_NSESS - 1;
    if (!sl->sess[k]) {
        ms_status st = ms_session_create(s->m, NULL, &sl->sess[k], err);
        if (st != MS_OK) return st;
    }
    return ms_session_run(sl->sess[k], in, s->n_in, sl->out, s->n_out, err);
}

/* Every output has the batch as its first dimension. */
static int outputs_batched(const bt_slice *sl, size_t n)
{
    for (int i = 0; i < sl->sc->n_out; i++)
        if (sl->out[i].ndim < 1 || sl->out[i].shape[0] != (int64_t)n) return 0;
    return 1;
}

/* Score the nb rows parsed into the batch (chunk rows sl->rows[0 .. nb)) and format them. A
 * short batch is padded with copies of its first row up to a multiple of BT_PAD, so that the
 * sessions keep their plans (the padding rows' outputs are dropped). */
static void slice_flush(bt_slice *sl, size_t nb)
{
    bt_scorer *s = sl->sc;
    if (nb == 0) return;
    ms_error e;
    if (!s->one_row) {
        size_t padded = (nb + BT_PAD - 1) / BT_PAD * BT_PAD;
        for (int i = 0; i < s->n_in; i++) {
            size_t per = (s->matrix ? (size_t)s->nfeat : 1) * ms_dtype_size(s->in_type[i]);
            char *d = sl->in_data[i];
            for (size_t j = nb; j < padded; j++) memcpy(d + j * per, d, per);
        }
        ms_status st = slice_exec(sl, 0, padded, &e);
        if (st == MS_OK && padded != nb && !outputs_batched(sl, padded))
            st = slice_exec(sl, 0, padded = nb, &e); /* whole-batch outputs: no padding */
        if (st == MS_OK) {
            for (size_t j = 0; j < nb; j++)
                format_row(sl, sl->rows[j], (int64_t)j, (int64_t)padded);
            return;
        }
    }
    /* one row at a time, so a row the model refuses is rejected alone */
    for (size_t j = 0; j < nb; j++) {
        if (slice_exec(sl, j, 1, &e) == MS_OK) format_row(sl, sl->rows[j], 0, 1);
        else reject(sl, sl->rows[j], "scoring failed: %s", e.msg);
    }
}

/* The key of row r, NUL-terminated, into the slice's buffer. */
static void put_key(bt_slice *sl, size_t r, const char *k, size_t n)
{
    mc_buf *b = &sl->res->bufs[sl->id];
    sl->res->koff[r] = (uint32_t)b->len;
    mc_buf_append(b, k, n);
    mc_buf_putc(b, 0);
}

static int key_in_shard(const bt_scorer *s, const char *k, size_t n)
{
    return s->nshards <= 1 ||
           (int)(bs_fnv1a(k, n, BS_FNV_INIT) % (uint64_t)s->nshards) == s->shard;
}

/* The key field of an unsplit record (for the shard test before parsing). */
static const char *raw_key(const bt_scorer *s, const char *p, const char *e, size_t *n)
{
    for (int i = 0; i < s->key_col; i++) {
        const char *comma = memchr(p, ',', (size_t)(e - p));
        if (!comma) return NULL;
        p = comma + 1;
    }
    const char *comma = memchr(p, ',', (size_t)(e - p));
    *n = (size_t)((comma ? comma : e) - p);
    return p;
}

/* Split and parse row r into batch row nb; 1 if it is to be scored, 0 if rejected or skipped. */
static int slice_row(bt_slice *sl, size_t r, size_t nb)
{
    bt_scorer *s = sl->sc;
    const bt_chunk *c = sl->c;
    const char *rerr = bt_chunk_row_error(c, r);
    if (rerr) {
        reject(sl, r, "%s", rerr);
        return 0;
    }
    const char **cells = sl->cells;
    size_t rn;
    const char *rec = bt_chunk_raw(c, r, &rn);
    if (rec) {
        if (s->fastmap) { /* the common case: split and parse in one pass */
            const char *k = NULL;
            size_t kn = 0;
            if (s->nshards > 1) {
                k = raw_key(s, rec, rec + rn, &kn);
                if (k && kn && !key_in_shard(s, k, kn)) return 0;
            }
            if (mc_csv_parse_f32_row(rec, rec + rn, c->text.data + c->text.len + 8, s->fastmap,
                                     c->ncols, (float *)sl->in_data[0] + nb * (size_t)s->nfeat,
                                     &k, &kn) == 0 && kn > 0 &&
                row_finite((float *)sl->in_data[0] + nb * (size_t)s->nfeat, s->nfeat)) {
                if (!key_in_shard(s, k, kn)) return 0;
                put_key(sl, r, k, kn);
                return 1;
            }
            /* not the common form: split it to say what is wrong (or parse the odd number) */
        }
        int nf = bt_split_raw(rec, rn, &sl->scratch, cells, c->ncols);
        if (nf < 0) {
            reject(sl, r, "out of memory");
            return 0;
        }
        if (nf != c->ncols) {
            reject(sl, r, "expected %d fields (the header's), got %d", c->ncols, nf);
            return 0;
        }
    } else {
        for (int i = 0; i < c->ncols; i++) cells[i] = bt_cell(c, r, i);
    }
    const char *key = cells[s->key_col];
    char en[MC_ESCAPE_CAP(60)], ev[MC_ESCAPE_CAP(60)];
    if (!key || !*key) {
        const char *kn = s->feat_name[s->key_col];
        reject(sl, r, "key column '%s' is empty", mc_escape(en, sizeof en, kn, strlen(kn), 60));
        return 0;
    }
    if (!key_in_shard(s, key, strlen(key))) return 0;
    const char *why = NULL;
    int bad_col = -1;
    if (s->matrix) {
        for (int f = 0; f < s->nfeat && !why; f++) {
            size_t k = nb * (size_t)s->nfeat + (size_t)f;
            why = put_cell(s->in_type[0], sl->in_data[0], k, cells[s->feat_col[f]]);
            if (why) bad_col = s->feat_col[f];
            else if (!cell_allowed(sl, r, 0, k, s->feat_col[f], cells[s->feat_col[f]])) return 0;
        }
    } else {
        for (int i = 0; i < s->n_in && !why; i++) {
            why = put_cell(s->in_type[i], sl->in_data[i], nb, cells[s->feat_col[i]]);
            if (why) bad_col = s->feat_col[i];
            else if (!cell_allowed(sl, r, i, nb, s->feat_col[i], cells[s->feat_col[i]])) return 0;
        }
    }
    if (why) {
        const char *v = cells[bad_col], *cn = s->feat_name[bad_col];
        reject(sl, r, "column '%s': value '%s' %s", mc_escape(en, sizeof en, cn, strlen(cn), 60),
               mc_escape(ev, sizeof ev, v, v ? strlen(v) : 0, 60), why);
        return 0;
    }
    put_key(sl, r, key, strlen(key));
    return 1;
}

/* Take blocks of BT_BLOCK chunk rows until none is left, parsing their rows into the batch
 * and scoring it whenever it holds BT_BLOCK rows, then what is left. */
static void slice_run(bt_slice *sl)
{
    bt_scorer *s = sl->sc;
    bt_results *res = sl->res;
    sl->st = MS_OK;
    mc_buf_reset(&res->bufs[sl->id]);
    size_t n = sl->c->nrows, nb = 0;
    if ((sl->st = slice_reserve(sl, BT_BLOCK, &sl->err)) != MS_OK) return;
    for (;;) {
        size_t b = __atomic_fetch_add(&s->next_block, 1u, __ATOMIC_RELAXED);
        if (b >= s->nblocks) break;
        size_t lo = b * BT_BLOCK, hi = lo + BT_BLOCK < n ? lo + BT_BLOCK : n;
        for (size_t r = lo; r < hi; r++) {
            res->slice[r] = (uint8_t)sl->id;
            res->kind[r] = BT_ROW_SKIP;
            if (slice_row(sl, r, nb)) sl->rows[nb++] = r;
            if (nb == BT_BLOCK) {
                slice_flush(sl, nb);
                nb = 0;
            }
        }
    }
    slice_flush(sl, nb);
    if (mc_buf_failed(&res->bufs[sl->id]))
        sl->st = bs_fail(&sl->err, MS_ERR_RUNTIME, "out of memory formatting outputs");
}

/* ==== the pool ========================================================================== */

static void *worker_main(void *arg)
{
    bt_slice *sl = arg;
    bt_scorer *s = sl->sc;
    unsigned seen = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->gen == seen && !s->quit) pthread_cond_wait(&s->cv, &s->mu);
        if (s->quit) break;
        seen = s->gen;
        pthread_mutex_unlock(&s->mu);
        slice_run(sl);
        pthread_mutex_lock(&s->mu);
        if (--s->pending == 0) pthread_cond_signal(&s->done_cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

ms_status bt_scorer_start(bt_scorer *s, const bt_chunk *c, bt_results *res, ms_error *err)
{
    size_t n = c->nrows;
    if (res->cap < n) {
        size_t cap = n;
        uint8_t *k = realloc(res->kind, cap);
        if (k) res->kind = k;
        uint8_t *sl = realloc(res->slice, cap);
        if (sl) res->slice = sl;
        uint32_t *o = realloc(res->off, cap * sizeof *o);
        if (o) res->off = o;
        uint32_t *ko = realloc(res->koff, cap * sizeof *ko);
        if (ko) res->koff = ko;
        uint8_t *w = realloc(res->why, cap);
        if (w) res->why = w;
        if (!k || !sl || !o || !ko || !w) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        res->cap = cap;
    }
    if (res->nbufs < s->nslices) {
        mc_buf *b = realloc(res->bufs, (size_t)s->nslices * sizeof *b);
        if (!b) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        for (int i = res->nbufs; i < s->nslices; i++) memset(&b[i], 0, sizeof b[i]);
        res->bufs = b;
        res->nbufs = s->nslices;
    }
    res->n = n;
    int ns = s->nslices;
    for (int i = 0; i < ns; i++) {
        bt_slice *sl = &s->slices[i];
        sl->c = c;
        sl->res = res;
    }
    s->nblocks = (n + BT_BLOCK - 1) / BT_BLOCK;
    s->next_block = 0;
    s->cur = res;
    if (s->async || ns > 1) {
        pthread_mutex_lock(&s->mu);
        s->pending = s->async ? ns : ns - 1;
        s->gen++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    if (!s->async) slice_run(&s->slices[0]);
    return MS_OK;
}

ms_status bt_scorer_wait(bt_scorer *s, ms_error *err)
{
    bt_results *res = s->cur;
    if (!res) return MS_OK;
    s->cur = NULL;
    pthread_mutex_lock(&s->mu);
    while (s->pending > 0) pthread_cond_wait(&s->done_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    res->n_ok = res->n_reject = 0;
    memset(res->n_by_why, 0, sizeof res->n_by_why);
    for (size_t r = 0; r < res->n; r++) {
        res->n_ok += res->kind[r] == BT_ROW_OK;
        res->n_reject += res->kind[r] == BT_ROW_REJECT;
        if (res->kind[r] == BT_ROW_REJECT && res->why[r] < PD_WHY_N) res->n_by_why[res->why[r]]++;
    }
    for (int i = 0; i < s->nslices; i++)
        if (s->slices[i].st != MS_OK) {
            *err = s->slices[i].err;
            return s->slices[i].st;
        }
    return MS_OK;
}

ms_status bt_scorer_run(bt_scorer *s, const bt_chunk *c, bt_results *res, ms_error *err)
{
    ms_status st = bt_scorer_start(s, c, res, err);
    return st != MS_OK ? st : bt_scorer_wait(s, err);
}

/* ==== create / free ===================================================================== */

ms_status bt_scorer_create(const ms_model *m, const char *const *cols, int ncols,
                           const bt_score_opts *o, bt_scorer **out, ms_error *err)
{
    bt_scorer *s = calloc(1, sizeof *s);
    if (!s) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    s->m = m;
    s->n_in = ms_model_num_inputs(m);
    s->n_out = ms_model_num_outputs(m);
    s->shard = o->shard;
    s->nshards = o->nshards < 1 ? 1 : o->nshards;
    s->async = o->async;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    ms_status st = MS_OK;
    if (s->n_in < 1 || s->n_in > MS_MAX_IO)
        st = bs_fail(err, MS_ERR_UNSUPPORTED, "batch scores models with 1 to %d inputs", MS_MAX_IO);
    if (st == MS_OK) st = ms_model_check_supported(m, err);
    if (st == MS_OK)
        st = pd_policy_init(&s->policy, m, o->model_name ? o->model_name : "the model", o->missing,
                            "--missing", err);
    if (st == MS_OK) st = bt_bind_columns(s, cols, ncols, o, err);
    if (st == MS_OK) st = bt_bind_outputs(s, err);
    if (st == MS_OK) {
        s->feat_name = malloc((size_t)(ncols ? ncols : 1) * sizeof *s->feat_name);
        if (!s->feat_name) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        else for (int i = 0; i < ncols; i++) s->feat_name[i] = cols[i];
    }
    int threads = o->threads < 1 ? 1 : o->threads > 255 ? 255 : o->threads;
    if (st == MS_OK && !(s->slices = calloc((size_t)threads, sizeof *s->slices)))
        st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    for (int i = 0; st == MS_OK && i < threads; i++) {
        bt_slice *sl = &s->slices[i];
        sl->sc = s;
        sl->id = i;
        s->nslices++;
        if (!(sl->out = calloc((size_t)s->n_out, sizeof *sl->out)) ||
            !(sl->cells = calloc((size_t)(ncols ? ncols : 1), sizeof *sl->cells)))
            st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        else st = ms_session_create(m, NULL, &sl->sess[BT_BLOCK / BT_PAD], err);
        if (st == MS_OK && (i > 0 || s->async)) {
            if (pthread_create(&sl->thread, NULL, worker_main, sl) != 0)
                st = bs_fail(err, MS_ERR_RUNTIME, "cannot start scoring thread %d", i);
            else sl->started = 1;
        }
    }
    if (st != MS_OK) {
        bt_scorer_free(s);
        return st;
    }
    *out = s;
    return MS_OK;
}

const char *bt_scorer_describe(const bt_scorer *s) { return s->describe; }
int bt_scorer_positional(const bt_scorer *s) { return s->positional; }

void bt_scorer_free(bt_scorer *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nslices; i++) {
        bt_slice *sl = &s->slices[i];
        if (sl->started) pthread_join(sl->thread, NULL);
        for (int k = 0; k < BT_NSESS; k++)
            if (sl->sess[k]) ms_session_free(sl->sess[k]);
        for (int k = 0; k < MS_MAX_IO; k++) free(sl->in_data[k]);
        free(sl->rows);
        free(sl->out);
        free(sl->cells);
        mc_buf_free(&sl->scratch);
    }
    free(s->slices);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->done_cv);
    if (s->out_keys)
        for (int i = 0; i < s->n_out; i++) free(s->out_keys[i]);
    free(s->out_keys);
    free(s->out_key_len);
    if (s->lm_keys)
        for (int i = 0; i < s->n_out; i++) {
            if (s->lm_keys[i])
                for (int64_t k = 0; k < s->lm_n[i]; k++) free(s->lm_keys[i][k]);
            free(s->lm_keys[i]);
            if (s->lm_key_len) free(s->lm_key_len[i]);
        }
    free(s->lm_keys);
    free(s->lm_key_len);
    free(s->out_lm);
    free(s->lm_type);
    free(s->lm_n);
    free(s->lm_labels);
    free(s->feat_col);
    free(s->fastmap);
    free(s->feat_name);
    free(s);
}
