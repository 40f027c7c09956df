/* fuzz_csvnum.c: libFuzzer driver for the CSV number parser and the float printer
 * (src/codec/codec_csv.h), differential against the C library:
 *   - mc_parse_f32 on the whole input: when it accepts, strtof on the same (trimmed) text must
 *     read all of it and give the same bits; a plain decimal that strtof reads must be accepted.
 *   - mc_scan_f32 (the fast path): whatever prefix it claims must be what strtof gives.
 *   - mc_csv_parse_f32_row on the first line, split at commas: the one-pass row parser must
 *     agree field by field with mc_parse_f32 (an empty field is NaN), or refuse the row only
 *     when some field is not a number.
 *   - mc_format_f32 on the first 4 bytes taken as a float: it must read back as exactly that
 *     float (round trip), fit its 32 bytes, print NaN/Inf as "null", and be the shortest: the
 *     same decimal as the shortest "%.{p}g" (p = 1..9) that strtof reads back.
 * Any disagreement aborts, which libFuzzer reports as a crash. */
#include "fuzz_common.h"

#include "codec/codec_csv.h"
#include "shortest_ref.h"

#include <math.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEXT 256
#define MAX_FIELDS 64

static void fail(const char *what, const char *s, size_t n)
{
    fprintf(stderr, "%s: '%.*s'\n", what, (int)(n > 200 ? 200 : n), s);
    abort();
}

static int same_float(float a, float b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

/* strtof over exactly [s, s+n), spaces and tabs trimmed as mc_parse_f32 does; 0 when it reads
 * all of it. */
static int ref_f32(const char *s, size_t n, float *out)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (!n || memchr(s, 0, n)) return -1;
    char *b = malloc(n + 1), *end;
    if (!b) abort();
    memcpy(b, s, n);
    b[n] = 0;
    *out = strtof(b, &end);
    int whole = end == b + n;
    free(b);
    return whole ? 0 : -1;
}

/* [+-]digits[.digits][(e|E)[+-]digits], at least one digit before the exponent */
static int plain_decimal(const char *s, size_t n)
{
    size_t i = 0, d = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) d++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) d++;
    if (!d) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;
        if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) e++;
        if (!e) return 0;
    }
    return i == n;
}

static void check_parse(const char *s, size_t n)
{
    float got, want;
    int ok = mc_parse_f32(s, n, &got) == 0;
    int ref = ref_f32(s, n, &want) == 0;
    if (ok && !ref) fail("mc_parse_f32 accepted what strtof does not read whole", s, n);
    if (ok && !same_float(got, want)) fail("mc_parse_f32 differs from strtof", s, n);
    if (!ok && ref && plain_decimal(s, n)) fail("mc_parse_f32 refused a plain decimal", s, n);
}

static void check_scan(const char *s, size_t n)
{
    float got, want;
    const char *end = mc_scan_f32(s, s + n, &got);
    if (!end) return;
    if (end <= s || end > s + n) fail("mc_scan_f32 returned an end outside the text", s, n);
    if (ref_f32(s, (size_t)(end - s), &want) != 0 || !same_float(got, want))
        fail("mc_scan_f32 differs from strtof", s, (size_t)(end - s));
}

/* The first line as a quote-free record, parsed in one pass and field by field. */
static void check_row(const char *s, size_t n)
{
    const char *nl = memchr(s, '\n', n);
    size_t len = nl ? (size_t)(nl - s) : n;
    if (len >= MAX_TEXT || memchr(s, '"', len) || memchr(s, '\r', len)) return;
    char line[MAX_TEXT + 8];
    memcpy(line, s, len);
    line[len] = '\n'; /* lim > e needs the byte at e to end the line */
    int map[MAX_FIELDS], nf = 1;
    for (size_t i = 0; i < len; i++) nf += line[i] == ',';
    if (nf > MAX_FIELDS) return;
    for (int i = 0; i < nf; i++) map[i] = i;
    float row[MAX_FIELDS], one;
    for (int pass = 0; pass < 2; pass++) {
        const char *lim = line + len + (pass ? 1 : 0);
        int rc = mc_csv_parse_f32_row(line, line + len, lim, map, nf, row, NULL, NULL);
        int all_numbers = 1;
        const char *f = line;
        for (int i = 0; i < nf; i++) {
            const char *c = memchr(f, ',', (size_t)(line + len - f));
            size_t fl = c ? (size_t)(c - f) : (size_t)(line + len - f);
            int isnum = fl == 0 ? (one = NAN, 1) : mc_parse_f32(f, fl, &one) == 0;
            all_numbers &= isnum;
            if (rc == 0 && isnum && !same_float(row[i], one))
                fail("mc_csv_parse_f32_row differs from mc_parse_f32 on a field", f, fl);
            f += fl + 1;
        }
        if (rc != 0 && all_numbers) fail("mc_csv_parse_f32_row refused a row of numbers", line, len);
        if (rc == 0 && !all_numbers) fail("mc_csv_parse_f32_row accepted a non-number", line, len);
    }
}

static void check_format(const uint8_t *data, size_t size)
{
    if (size < 4) return;
    float f;
    memcpy(&f, data, 4);
    char out[40];
    memset(out, 'x', sizeof out);
    int n = mc_format_f32(out, f);
    if (n <= 0 || n >= 32 || out[32] != 'x') fail("mc_format_f32 wrote outside its 32 bytes", out, 32);
    if (!isfinite(f)) {
        if (n != 4 || memcmp(out, "null", 4)) fail("mc_format_f32 of NaN/Inf is not null", out, (size_t)n);
        return;
    }
    float back;
    if (ref_f32(out, (size_t)n, &back) != 0 || !same_float(back, f))
        fail("mc_format_f32 does not read back as the same float", out, (size_t)n);
    char ref[48];
    sr_shortest32(f, ref, sizeof ref);
    out[n] = 0;
    if (!sr_same_decimal(out, ref))
        fail("mc_format_f32 is not the shortest round-trip decimal", out, (size_t)n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_parse(s, size);
    check_scan(s, size);
    check_row(s, size);
    check_format(data, size);
    return 0;
}
