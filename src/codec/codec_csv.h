/* codec_csv.h: a streaming CSV reader (RFC 4180) and exact float32 number parsing.
 *
 *     mc_csv *c;
 *     if (mc_csv_open("data.csv", &c, &err) != MS_OK) { ...err.msg... }
 *     mc_csv_record rec;
 *     while (mc_csv_next(c, &rec, &err) == MS_OK && rec.nfields > 0) {
 *         // rec.fields[i].p / .n: the field's bytes (quotes removed, "" unescaped),
 *         // valid until the next call; rec.line: the record's first line (1-based)
 *     }
 *     mc_csv_close(c);
 *
 * Records end at LF or CRLF; fields are separated by commas; a field may be quoted ("a,b",
 * "say ""hi""", and a quoted field may span lines). Blank lines are skipped. A UTF-8 byte order
 * mark at the start is skipped. Memory is bounded by the longest record (the buffer grows to
 * hold one record, up to MC_CSV_MAX_RECORD bytes), not by the file.
 *
 * Errors: a malformed record (text after a closing quote) is not fatal: the record comes back
 * with rec.error set (a static message) so the caller can reject that one row. Fatal, with
 * MS_ERR_INVALID naming the line: a quote still open at the end of the file, a record longer
 * than MC_CSV_MAX_RECORD. I/O errors are MS_ERR_RUNTIME.
 *
 * Numbers: mc_parse_f32 returns exactly what strtof returns (correctly rounded float32) for
 * every decimal it accepts, but about 5x faster on typical data: a Clinger fast path in double
 * arithmetic with an exact check for the one case where rounding twice (decimal -> double ->
 * float) could differ, and strtof for everything else (more than 19 digits, big exponents,
 * nan/inf spellings). bench/batch/csv_parse_bench.c checks it against strtof on random values. */
#ifndef CODEC_CSV_H
#define CODEC_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "mlship.h"

#define MC_CSV_MAX_RECORD (64u << 20)
#define MC_CSV_MAX_FIELDS 100000

typedef struct mc_csv mc_csv;

typedef struct mc_csv_field {
    const char *p; /* not NUL-terminated */
    size_t n;
} mc_csv_field;

typedef struct mc_csv_record {
    const mc_csv_field *fields;
    int nfields;       /* 0 at the end of the input */
    int64_t line;      /* line number of the record's first byte, 1-based */
    const char *error; /* NULL, or why this record is malformed (fields are then unreliable) */
} mc_csv_record;

/* Open `path` ("-" is stdin). */
ms_status mc_csv_open(const char *path, mc_csv **out, ms_error *err);
/* Read from an open file descriptor (not closed by mc_csv_close); `name` is for messages. */
ms_status mc_csv_open_fd(int fd, const char *name, mc_csv **out, ms_error *err);
/* The next record; rec->nfields == 0 at the end. */
ms_status mc_csv_next(mc_csv *c, mc_csv_record *rec, ms_error *err);
/* Skip the next record without splitting it into fields (for resuming). *skipped = 0 at the
 * end. Same fatal errors as mc_csv_next. */
ms_status mc_csv_skip(mc_csv *c, int *skipped, ms_error *err);
/* Bytes consumed so far, and the file's size (-1 if not a regular file), for progress. */
int64_t mc_csv_offset(const mc_csv *c);
int64_t mc_csv_size(const mc_csv *c);
void mc_csv_close(mc_csv *c); /* NULL is fine */

/* Parse a whole field as a float32: optional spaces, [+-], digits with an optional '.', an
 * optional exponent, or nan/inf/infinity (any case). 0 on success, -1 if it is not a number
 * (empty included). Out-of-range values become +-inf or 0 as strtof does. */
int mc_parse_f32(const char *s, size_t n, float *out);
/* The same for float64 (strtod on a copy; used for double inputs). */
int mc_parse_f64(const char *s, size_t n, double *out);
/* Strict integer (optional spaces and sign, digits only). 0 on success. */
int mc_parse_i64(const char *s, size_t n, int64_t *out);

/* Write `f` as the shortest-or-nearly decimal that reads back as exactly `f` (at most 9
 * significant digits, no exponent between 1e-5 and 1e9, "1" not "1.0"). NaN/Inf write "null"
 * (JSON). Returns the length; dst needs 32 bytes. */
int mc_format_f32(char *dst, float f);

#endif
