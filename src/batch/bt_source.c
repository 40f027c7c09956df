/* bt_source.c: CSV, JSON Lines and SQL inputs, read in chunks of text cells (see bt_source.h). */
#include "batch/bt_source.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec_csv.h"
#include "store/store.h"

typedef enum { SRC_CSV, SRC_JSONL, SRC_SQL } src_kind;

struct bt_source {
    src_kind kind;
    char *spec;
    char **cols;
    int ncols;
    char fingerprint[128];
    /* csv */
    mc_csv *csv;
    /* jsonl */
    FILE *f;
    char *line;
    size_t line_cap;
    int64_t lineno, offset, size;
    cJSON *pending; /* the first object, read at open to learn the columns */
    int64_t pending_line;
    /* sql */
    st_store *store;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bt_chunk *want;
    size_t want_rows;
    int have_cols, done, stop;
    int64_t rowno;
    ms_status qst;
    ms_error qerr;
};

/* ==== chunks ============================================================================ */

void bt_chunk_free(bt_chunk *c)
{
    mc_buf_free(&c->text);
    mc_buf_free(&c->errs);
    free(c->cell);
    free(c->line);
    free(c->row_err);
    free(c->raw);
    free(c->raw_n);
    c->cell = NULL;
    c->line = NULL;
    c->row_err = NULL;
    c->raw = c->raw_n = NULL;
    c->cap = c->nrows = 0;
}

int bt_split_raw(const char *rec, size_t n, mc_buf *scratch, const char **cells, int ncols)
{
    mc_buf_reset(scratch);
    if (mc_buf_reserve(scratch, n + 1)) return -1;
    char *w = scratch->data;
    memcpy(w, rec, n);
    w[n] = 0;
    int nf = 0;
    for (char *p = w, *e = w + n;;) {
        char *comma = memchr(p, ',', (size_t)(e - p));
        if (nf < ncols) cells[nf] = p;
        nf++;
        if (!comma) break;
        *comma = 0;
        p = comma + 1;
    }
    return nf;
}

static void chunk_reset(bt_chunk *c, int ncols)
{
    if (c->ncols != ncols) {
        free(c->cell);
        c->cell = NULL;
        free(c->line);
        c->line = NULL;
        free(c->row_err);
        c->row_err = NULL;
        free(c->raw);
        free(c->raw_n);
        c->raw = c->raw_n = NULL;
        c->cap = 0;
    }
    c->ncols = ncols;
    c->nrows = 0;
    mc_buf_reset(&c->text);
    mc_buf_reset(&c->errs);
}

/* A new row with no cells (cells left unset with `raw`); -1 on out of memory. */
static int chunk_row_raw(bt_chunk *c, int64_t line, int raw)
{
    if (c->nrows == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        uint32_t *cell = realloc(c->cell, cap * (size_t)(c->ncols ? c->ncols : 1) * sizeof *cell);
        if (cell) c->cell = cell;
        int64_t *ln = realloc(c->line, cap * sizeof *ln);
        if (ln) c->line = ln;
        int32_t *re = realloc(c->row_err, cap * sizeof *re);
        if (re) c->row_err = re;
        uint32_t *rw = realloc(c->raw, cap * sizeof *rw);
        if (rw) c->raw = rw;
        uint32_t *rn = realloc(c->raw_n, cap * sizeof *rn);
        if (rn) c->raw_n = rn;
        if (!cell || !ln || !re || !rw || !rn) return -1;
        c->cap = cap;
    }
    size_t r = c->nrows++;
    if (!raw)
        for (int i = 0; i < c->ncols; i++) c->cell[r * (size_t)c->ncols + (size_t)i] = BT_NOCELL;
    c->line[r] = line;
    c->row_err[r] = -1;
    c->raw[r] = BT_NOCELL;
    return 0;
}

static int chunk_row(bt_chunk *c, int64_t line) { return chunk_row_raw(c, line, 0); }

static void chunk_cell(bt_chunk *c, int col, const char *p, size_t n)
{
    size_t r = c->nrows - 1;
    if (mc_buf_reserve(&c->text, n + 1)) return;
    c->cell[r * (size_t)c->ncols + (size_t)col] = (uint32_t)c->text.len;
    memcpy(c->text.data + c->text.len, p, n);
    c->text.len += n;
    c->text.data[c->text.len++] = 0;
}

static void chunk_error(bt_chunk *c, const char *fmt, ...)
{
    size_t r = c->nrows - 1;
    c->row_err[r] = (int32_t)c->errs.len;
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    mc_buf_append(&c->errs, tmp, strlen(tmp) + 1);
}

#define CHUNK_PAD 16 /* zero bytes after the text: digits are read 8 at a time */

static ms_status chunk_check(bt_chunk *c, ms_error *err)
{
    if (!mc_buf_failed(&c->text) && mc_buf_reserve(&c->text, CHUNK_PAD) == 0)
        memset(c->text.data + c->text.len, 0, CHUNK_PAD);
    if (mc_buf_failed(&c->text) || mc_buf_failed(&c->errs) || c->text.len >= BT_NOCELL - CHUNK_PAD)
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory (chunk text)");
    return MS_OK;
}

/* ==== columns and fingerprints ========================================================= */

static ms_status add_col(bt_source *s, const char *p, size_t n, ms_error *err)
{
    char e[MC_ESCAPE_CAP(60)];
    for (int i = 0; i < s->ncols; i++)
        if (strlen(s->cols[i]) == n && memcmp(s->cols[i], p, n) == 0)
            return bs_fail(err, MS_ERR_INVALID, "%s: column '%s' appears twice in the header",
                           s->spec, mc_escape(e, sizeof e, p, n, 60));
    char **c = realloc(s->cols, (size_t)(s->ncols + 1) * sizeof *c);
    if (!c) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    s->cols = c;
    if (!(c[s->ncols] = strndup(p, n))) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    s->ncols++;
    return MS_OK;
}

static void file_fingerprint(bt_source *s, const char *kind, int fd)
{
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s->fingerprint[0] = 0; /* stdin or a pipe: nothing stable to compare */
        return;
    }
    char head[65536];
    ssize_t n = pread(fd, head, sizeof head, 0);
    uint64_t h = bs_fnv1a(head, n > 0 ? (size_t)n : 0, BS_FNV_INIT);
    snprintf(s->fingerprint, sizeof s->fingerprint, "%s:size=%lld,mtime=%lld.%09ld,head=%016llx",
             kind, (long long)sb.st_size, (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec,
             (unsigned long long)h);
}

/* ==== CSV =============================================================================== */

static ms_status csv_open(bt_source *s, const char *path, ms_error *err)
{
    ms_status st = mc_csv_open(path, &s->csv, err);
    if (st != MS_OK) return st;
    int fd = strcmp(path, "-") == 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    file_fingerprint(s, "csv", fd);
    if (fd >= 0) close(fd);
    mc_csv_record rec;
    if ((st = mc_csv_next(s->csv, &rec, err)) != MS_OK) return st;
    if (rec.nfields == 0) return bs_fail(err, MS_ERR_INVALID, "%s: empty: no header row", path);
    if (rec.error)
        return bs_fail(err, MS_ERR_INVALID, "%s: line %lld: header: %s", path,
                       (long long)rec.line, rec.error);
    for (int i = 0; i < rec.nfields; i++) {
        const mc_csv_field *f = &rec.fields[i];
        size_t n = f->n;
        const char *p = f->p;
        while (n && (*p == ' ')) p++, n--;
        while (n && p[n - 1] == ' ') n--;
        if (!n) return bs_fail(err, MS_ERR_INVALID, "%s: header column %d has no name", path, i + 1);
        if ((st = add_col(s, p, n, err)) != MS_OK) return st;
    }
    return MS_OK;
}

static ms_status csv_next(bt_source *s, bt_chunk *c, size_t max_rows, ms_error *err)
{
    mc_csv_record rec;
    while (c->nrows < max_rows) {
        ms_status st = mc_csv_next_raw(s->csv, &rec, err);
        if (st != MS_OK) return st;
        if (rec.nfields == 0) break;
        if (chunk_row_raw(c, rec.line, rec.raw != NULL))
            return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        if (rec.raw) { /* kept whole: split and parsed on the scoring threads */
            if (mc_buf_reserve(&c->text, rec.raw_n + 1)) break;
            c->raw[c->nrows - 1] = (uint32_t)c->text.len;
            c->raw_n[c->nrows - 1] = (uint32_t)rec.raw_n;
            memcpy(c->text.data + c->text.len, rec.raw, rec.raw_n);
            c->text.len += rec.raw_n;
            c->text.data[c->text.len++] = '\n';
        } else if (rec.error) {
            chunk_error(c, "malformed CSV: %s", rec.error);
        } else if (rec.nfields != s->ncols) {
            chunk_error(c, "expected %d fields (the header's), got %d", s->ncols, rec.nfields);
        } else {
            size_t total = 0;
            for (int i = 0; i < rec.nfields; i++) total += rec.fields[i].n + 1;
            if (mc_buf_reserve(&c->text, total)) break;
            uint32_t *cell = c->cell + (c->nrows - 1) * (size_t)c->ncols;
            char *w = c->text.data + c->text.len;
            for (int i = 0; i < rec.nfields; i++) {
                cell[i] = (uint32_t)(w - c->text.data);
                memcpy(w, rec.fields[i].p, rec.fields[i].n);
                w += rec.fields[i].n;
                *w++ = 0;
            }
            c->text.len = (size_t)(w - c->text.data);
        }
    }
    return chunk_check(c, err);
}

/* ==== JSON Lines ======================================================================== */

/* The next non-blank line parsed, or *obj NULL at the end. A line that is not a JSON object
 * comes back as *obj NULL with *bad set. */
static ms_status jsonl_read(bt_source *s, cJSON **obj, int64_t *line, const char **bad,
                            ms_error *err)
{
    *obj = NULL;
    *bad = NULL;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&s->line, &s->line_cap, s->f);
        if (n < 0) {
            if (ferror(s->f))
                return bs_fail(err, MS_ERR_RUNTIME, "%s: read: %s", s->spec, strerror(errno));
            return MS_OK;
        }
        s->offset += n;
        s->lineno++;
        char *p = s->line;
        while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ')) p[--n] = 0;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) continue;
        *line = s->lineno;
        cJSON *o = cJSON_ParseWithLength(p, (size_t)(s->line + n - p));
        if (!o || !cJSON_IsObject(o)) {
            cJSON_Delete(o);
            *bad = "not a JSON object";
            return MS_OK;
        }
        *obj = o;
        return MS_OK;
    }
}

static ms_status jsonl_open(bt_source *s, const char *path, ms_error *err)
{
    s->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!s->f)
        return bs_fail(err, mc_errno_is_input(errno) ? MS_ERR_INVALID : MS_ERR_RUNTIME,
                       "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(s->f), &sb) == 0 && S_ISDIR(sb.st_mode))
        return bs_fail(err, MS_ERR_INVALID, "cannot read '%s': it is a directory", path);
    s->size = -1;
    if (fstat(fileno(s->f), &sb) == 0 && S_ISREG(sb.st_mode)) s->size = (int64_t)sb.st_size;
    file_fingerprint(s, "jsonl", s->f == stdin ? -1 : fileno(s->f));
    const char *bad;
    ms_status st = jsonl_read(s, &s->pending, &s->pending_line, &bad, err);
    if (st != MS_OK) return st;
    if (bad)
        return bs_fail(err, MS_ERR_INVALID, "%s: line %lld: %s (the first line names the columns)",
                       path, (long long)s->pending_line, bad);
    if (!s->pending) return bs_fail(err, MS_ERR_INVALID, "%s: empty: no rows", path);
    for (cJSON *it = s->pending->child; it; it = it->next)
        if ((st = add_col(s, it->string, strlen(it->string), err)) != MS_OK) return st;
    return MS_OK;
}

static void jsonl_row(bt_source *s, bt_chunk *c, cJSON *o)
{
    for (int i = 0; i < s->ncols; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, s->cols[i]);
        char num[40];
        if (!v || cJSON_IsNull(v)) continue;
        if (cJSON_IsString(v)) {
            chunk_cell(c, i, v->valuestring, strlen(v->valuestring));
        } else if (cJSON_IsNumber(v)) {
            int n = snprintf(num, sizeof num, "%.17g", v->valuedouble);
            chunk_cell(c, i, num, (size_t)n);
        } else if (cJSON_IsBool(v)) {
            chunk_cell(c, i, cJSON_IsTrue(v) ? "1" : "0", 1);
        } else {
            char e[MC_ESCAPE_CAP(60)];
            chunk_error(c, "column '%s' is not a number, string or null",
                        mc_escape(e, sizeof e, s->cols[i], strlen(s->cols[i]), 60));
            return;
        }
    }
}

static ms_status jsonl_next(bt_source *s, bt_chunk *c, size_t max_rows, ms_error *err)
{
    while (c->nrows < max_rows) {
        cJSON *o;
        int64_t line;
        const char *bad = NULL;
        if (s->pending) {
            o = s->pending;
            line = s->pending_line;
            s->pending = NULL;
        } else {
            ms_status st = jsonl_read(s, &o, &line, &bad, err);
            if (st != MS_OK) return st;
            if (!o && !bad) break;
        }
        if (chunk_row(c, line)) {
            cJSON_Delete(o);
            return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        }
        if (bad) chunk_error(c, "%s", bad);
        else jsonl_row(s, c, o);
        cJSON_Delete(o);
    }
    return chunk_check(c, err);
}

/* ==== SQL =============================================================================== */

static int sql_row(void *ctx, int ncols, const char *const *names, const char *const *values)
{
    bt_source *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (!s->have_cols) {
        ms_error e;
        for (int i = 0; i < ncols; i++)
            if (add_col(s, names[i], strlen(names[i]), &e) != MS_OK) {
                s->qst = MS_ERR_INVALID;
                s->qerr = e;
                s->stop = 1;
            }
        s->have_cols = 1;
        pthread_cond_broadcast(&s->cv);
    }
    while (!s->want && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return 1;
    }
    bt_chunk *c = s->want;
    s->rowno++;
    if (chunk_row(c, s->rowno) == 0)
        for (int i = 0; i < ncols && i < c->ncols; i++)
            if (values[i]) chunk_cell(c, i, values[i], strlen(values[i]));
    if (c->nrows >= s->want_rows) {
        s->want = NULL;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void *sql_main(void *arg)
{
    bt_source *s = arg;
    ms_error e = {{0}};
    ms_status st = st_query(s->store, s->spec + 4, sql_row, s, &e);
    pthread_mutex_lock(&s->mu);
    if (st != MS_OK && s->qst == MS_OK) {
        s->qst = st;
        s->qerr = e;
    }
    s->done = 1;
    s->want = NULL;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static ms_status sql_open(bt_source *s, const char *url, ms_error *err)
{
    if (!url) return bs_fail(err, MS_ERR_INVALID, "an sql: input needs --store");
    ms_status st = st_open(url, &s->store, err);
    if (st != MS_OK) return st;
    snprintf(s->fingerprint, sizeof s->fingerprint, "sql:%016llx",
             (unsigned long long)bs_fnv1a(s->spec + 4, strlen(s->spec + 4), BS_FNV_INIT));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, sql_main, s) != 0)
        return bs_fail(err, MS_ERR_RUNTIME, "cannot start the query thread");
    s->thread_started = 1;
    pthread_mutex_lock(&s->mu);
    while (!s->have_cols && !s->done) pthread_cond_wait(&s->cv, &s->mu);
    st = s->qst;
    if (st != MS_OK) *err = s->qerr;
    else if (!s->have_cols)
        st = bs_fail(err, MS_ERR_INVALID, "the query returned no rows (so no columns to score)");
    pthread_mutex_unlock(&s->mu);
    return st;
}

static ms_status sql_next(bt_source *s, bt_chunk *c, size_t max_rows, ms_error *err)
{
    pthread_mutex_lock(&s->mu);
    if (!s->done) {
        s->want = c;
        s->want_rows = max_rows;
        pthread_cond_broadcast(&s->cv);
        while (s->want && !s->done) pthread_cond_wait(&s->cv, &s->mu);
        s->want = NULL;
    }
    ms_status st = s->qst;
    if (st != MS_OK) *err = s->qerr;
    pthread_mutex_unlock(&s->mu);
    return st != MS_OK ? st : chunk_check(c, err);
}

/* ==== the interface ===================================================================== */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

ms_status bt_source_open(const char *spec, const char *format, const char *store_url,
                         bt_source **out, ms_error *err)
{
    bt_source *s = calloc(1, sizeof *s);
    if (!s || !(s->spec = strdup(spec))) {
        free(s);
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    }
    ms_status st;
    if (strncmp(spec, "sql:", 4) == 0) {
        s->kind = SRC_SQL;
        st = sql_open(s, store_url, err);
    } else if (format ? strcmp(format, "jsonl") == 0
                      : ends_with(spec, ".jsonl") || ends_with(spec, ".ndjson") ||
                            ends_with(spec, ".json")) {
        s->kind = SRC_JSONL;
        st = jsonl_open(s, spec, err);
    } else if (!format || strcmp(format, "csv") == 0) {
        s->kind = SRC_CSV;
        st = csv_open(s, spec, err);
    } else {
        st = bs_fail(err, MS_ERR_INVALID, "unknown input format '%s' (csv or jsonl)", format);
    }
    if (st != MS_OK) {
        bt_source_close(s);
        return st;
    }
    *out = s;
    return MS_OK;
}

int bt_source_ncols(const bt_source *s) { return s->ncols; }
const char *const *bt_source_columns(const bt_source *s) { return (const char *const *)s->cols; }
void bt_source_fingerprint(const bt_source *s, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", s->fingerprint);
}
int64_t bt_source_offset(const bt_source *s)
{
    return s->kind == SRC_CSV ? mc_csv_offset(s->csv) : s->kind == SRC_JSONL ? s->offset : -1;
}
int64_t bt_source_size(const bt_source *s)
{
    return s->kind == SRC_CSV ? mc_csv_size(s->csv) : s->kind == SRC_JSONL ? s->size : -1;
}

ms_status bt_source_next(bt_source *s, bt_chunk *c, size_t max_rows, ms_error *err)
{
    chunk_reset(c, s->ncols);
    if (max_rows == 0) return MS_OK;
    switch (s->kind) {
    case SRC_CSV: return csv_next(s, c, max_rows, err);
    case SRC_JSONL: return jsonl_next(s, c, max_rows, err);
    default: return sql_next(s, c, max_rows, err);
    }
}

ms_status bt_source_skip(bt_source *s, int64_t n, int64_t *skipped, ms_error *err)
{
    *skipped = 0;
    if (s->kind == SRC_CSV) {
        for (; *skipped < n; (*skipped)++) {
            int ok;
            ms_status st = mc_csv_skip(s->csv, &ok, err);
            if (st != MS_OK) return st;
            if (!ok) break;
        }
        return MS_OK;
    }
    bt_chunk scratch = {0};
    ms_status st = MS_OK;
    while (*skipped < n) {
        int64_t want = n - *skipped;
        if ((st = bt_source_next(s, &scratch, want > 65536 ? 65536 : (size_t)want, err)) != MS_OK)
            break;
        if (!scratch.nrows) break;
        *skipped += (int64_t)scratch.nrows;
    }
    bt_chunk_free(&scratch);
    return st;
}

void bt_source_close(bt_source *s)
{
    if (!s) return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    if (s->kind == SRC_SQL) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    st_close(s->store);
    mc_csv_close(s->csv);
    if (s->f && s->f != stdin) fclose(s->f);
    free(s->line);
    cJSON_Delete(s->pending);
    for (int i = 0; i < s->ncols; i++) free(s->cols[i]);
    free(s->cols);
    free(s->spec);
    free(s);
}
