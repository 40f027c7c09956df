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
 * every decimal it accepts, but several times faster on typical data: digits read 8 at a time
 * (SWAR), then Clinger's fast path: in float when the digits fit 24 bits and the power of ten
 * is exact in float (one correctly rounded division), else in double: for up to 2^53 an exact
 * check for the one case where rounding twice (decimal -> double -> float) could differ; for
 * 17-19 digits (repr(float), %.17g) an error bound (the double is within 2 ulps, so a float
 * midpoint farther than 8 ulps away cannot be crossed); and strtof for everything else (more
 * than 19 digits near a midpoint, big exponents, nan/inf spellings). bench/batch/csv_parse_bench.c checks it against strtof on random values. */
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
    const char *raw;   /* mc_csv_next_raw only: a quote-free record's bytes, not split */
    size_t raw_n;      /* (no line terminator; valid until the next call) */
} mc_csv_record;

/* Open `path` ("-" is stdin). */
ms_status mc_csv_open(const char *path, mc_csv **out, ms_error *err);
/* Read from an open file descriptor (not closed by mc_csv_close); `name` is for messages. */
ms_status mc_csv_open_fd(int fd, const char *name, mc_csv **out, ms_error *err);
/* The next record; rec->nfields == 0 at the end. */
ms_status mc_csv_next(mc_csv *c, mc_csv_record *rec, ms_error *err);
/* Like mc_csv_next, but a record without quotes (the common case) is not split into fields:
 * rec->raw / rec->raw_n hold its bytes (CR/LF removed) and rec->nfields is -1. Splitting a
 * quote-free record is then just cutting at every comma, which the caller can do where it
 * parses (bt_score does, on its scoring threads). A record with quotes comes back split as by
 * mc_csv_next (raw NULL). */
ms_status mc_csv_next_raw(mc_csv *c, mc_csv_record *rec, ms_error *err);
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
/* The fast path of mc_parse_f32 on its own, for parsers that split and parse in one pass:
 * reads "[-]digits[.digits]" (at most 19 digits in all) at p, the bytes
 * [p, lim) being readable, and returns the end of the number with *out exactly what strtof
 * gives for that text; NULL when the text is not of that form or not certain to round right
 * this way (an exponent, 20+ digits, spaces, "nan", near a double-rounding midpoint ...): then
 * parse the whole field with mc_parse_f32. Digits are read 8 bytes at a time (SWAR). The
 * caller still checks that the number ends where the field does. */
const char *mc_scan_f32(const char *p, const char *lim, float *out);
/* Split a quote-free record [p, e) (from mc_csv_next_raw) and parse it in one pass: field i
 * goes to out[map[i]] as float32 when map[i] >= 0 (exactly as mc_parse_f32; an empty field is
 * NaN), is returned in *key / *key_n when map[i] == MC_CSV_KEY, and is passed over when map[i]
 * == MC_CSV_SKIP; the map's feature indexes must be 0 .. k-1, each once. [p, lim) must be
 * readable, lim >= e; when lim > e, the byte at e must end the line ('\n'), so that digits
 * are read 8 bytes at a time up to the record's end. The divisions of the common numbers are
 * left to the end of the row, where they run side by side. Returns 0 when the record has exactly nmap fields and every
 * mapped one is a number; -1 otherwise (out is then partly written): split the record to say
 * what is wrong. */
#define MC_CSV_KEY (-1)
#define MC_CSV_SKIP (-2)
int mc_csv_parse_f32_row(const char *p, const char *e, const char *lim, const int *map, int nmap,
                         float *out, const char **key, size_t *key_n);
/* The same for float64 (strtod on a copy; used for double inputs). */
int mc_parse_f64(const char *s, size_t n, double *out);
/* Both at once, each exactly as mc_parse_f32 / mc_parse_f64 would answer, from one scan when
 * the text is a plain decimal of up to 16 digits (what event producers print): -1 when
 * either would refuse. */
int mc_parse_f32_f64(const char *s, size_t n, float *f, double *d);
/* Strict integer (optional spaces and sign, digits only). 0 on success. */
int mc_parse_i64(const char *s, size_t n, int64_t *out);

/* Write `f` as the shortest decimal that reads back (strtof) as exactly `f`: the fewest
 * significant digits p (1..9) whose correct rounding "%.{p}g" would print reads back. Layout:
 * no exponent for 1e-5 <= |f| < 1e9 ("0.1", "16777216", "1" not "1.0"), else "1e9", "1.5e-7";
 * "-0" for negative zero. NaN/Inf write "null" (JSON has no spelling for them). Returns the
 * length; dst needs 32 bytes. */
int mc_format_f32(char *dst, float f);
/* The same for a double: the shortest (p = 1..17) that strtod reads back as exactly `v`. */
int mc_format_f64(char *dst, double v);

#endif
