/* bt_source.h: where a batch job's rows come from, read in chunks with bounded memory.
 *
 *   "data.csv"            CSV with a header row (codec_csv); "-" is stdin
 *   "data.jsonl"          JSON Lines (.jsonl/.ndjson, or --format jsonl): one object per line;
 *                         the columns are the first object's keys, in order
 *   "sql:SELECT ..."      a read query in the store (st_query on its own connection, run on a
 *                         producer thread so the job can pull chunks); give it an ORDER BY if
 *                         you want --resume: chunks are counted in the query's row order
 *
 * A chunk is text cells: row r, column c is bt_cell(chunk, r, c) (NUL-terminated, NULL for SQL
 * NULL / JSON null / a column the row lacks), except CSV records without quotes, which are kept
 * whole (bt_chunk_raw) so that the scoring threads split and parse them in one pass: the
 * reading thread only finds line ends and copies. A row the source cannot split (wrong number of
 * CSV fields, malformed JSON) carries a reason in bt_chunk_row_error and is rejected by the
 * job with its line number. Line numbers: CSV physical lines (the header is line 1), JSON Lines
 * lines, SQL row numbers (1-based). */
#ifndef BT_SOURCE_H
#define BT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/bs_hash.h"
#include "codec/codec_buf.h"
#include "mlship.h"

#define BT_NOCELL UINT32_MAX

typedef struct bt_chunk {
    int64_t index;        /* chunk number in the input, from 0 */
    size_t nrows, cap;    /* rows held, rows allocated */
    int ncols;
    mc_buf text;          /* every cell, NUL-terminated */
    uint32_t *cell;       /* nrows * ncols offsets into text, BT_NOCELL for none */
    int64_t *line;        /* per row */
    int32_t *row_err;     /* per row: offset into errs, or -1 */
    uint32_t *raw;        /* per row: BT_NOCELL, or the text offset of the row's CSV record
                             left unsplit (no quotes in it; its cells are not filled): raw_n
                             bytes followed by '\n'. bt_score splits and parses these on its
                             threads; bt_split_raw turns one into cells. */
    uint32_t *raw_n;
    mc_buf errs;
    void *scored;         /* the scorer's per-chunk results (bt_score.c) */
} bt_chunk;

static inline const char *bt_cell(const bt_chunk *c, size_t r, int col)
{
    uint32_t o = c->cell[r * (size_t)c->ncols + (size_t)col];
    return o == BT_NOCELL ? NULL : c->text.data + o;
}
static inline const char *bt_chunk_raw(const bt_chunk *c, size_t r, size_t *n)
{
    if (c->raw[r] == BT_NOCELL) return NULL;
    *n = c->raw_n[r];
    return c->text.data + c->raw[r];
}
/* Split an unsplit CSV record (bt_chunk_raw) at its commas into `scratch`, NUL-terminated
 * cells in cells[0 .. ncols); returns the number of fields (cells are set only when it is
 * ncols), or -1 when out of memory. */
int bt_split_raw(const char *rec, size_t n, mc_buf *scratch, const char **cells, int ncols);
static inline const char *bt_chunk_row_error(const bt_chunk *c, size_t r)
{
    return c->row_err[r] < 0 ? NULL : c->errs.data + c->row_err[r];
}
void bt_chunk_free(bt_chunk *c); /* frees the members, not c */

typedef struct bt_source bt_source;

/* Open a source. `store_url` is needed for "sql:" inputs; `format` is NULL (by extension:
 * .jsonl/.ndjson/.json are JSON Lines, anything else CSV), "csv" or "jsonl". */
ms_status bt_source_open(const char *spec, const char *format, const char *store_url,
                         bt_source **out, ms_error *err);
int bt_source_ncols(const bt_source *s);
const char *const *bt_source_columns(const bt_source *s);
/* What identifies this input for --resume: kind, size, mtime and a hash of the first 64 KiB of
 * a file; a hash of the query text for SQL; "" for stdin (cannot be checked). */
void bt_source_fingerprint(const bt_source *s, char *dst, size_t cap);
/* Progress: bytes read and total (-1 if unknown). */
int64_t bt_source_offset(const bt_source *s);
int64_t bt_source_size(const bt_source *s);
/* Read up to max_rows records into `c` (reset first); c->nrows == 0 at the end. */
ms_status bt_source_next(bt_source *s, bt_chunk *c, size_t max_rows, ms_error *err);
/* Discard the next n records (resume); *skipped receives how many there were. */
ms_status bt_source_skip(bt_source *s, int64_t n, int64_t *skipped, ms_error *err);
void bt_source_close(bt_source *s); /* NULL is fine */


#endif
