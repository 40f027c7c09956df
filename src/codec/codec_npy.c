/* codec_npy.c: NumPy .npy reading (strict) and writing.
 *
 * Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.x, uint32 LE for 2.x and
 * 3.x), the header (a Python dict literal, ASCII for 1.x/2.x, UTF-8 for 3.x), then the raw
 * C-order data. We parse the dict with a tiny recursive-descent reader that accepts exactly
 * what Python's literal syntax allows for these three keys, nothing more. */
#include "codec/codec_npy.h"

#include <stdio.h>
#include <string.h>

static const struct { const char *descr; ms_dtype dtype; } descr_table[] = {
    {"<f4", MS_DTYPE_FLOAT},  {"<f8", MS_DTYPE_DOUBLE}, {"<f2", MS_DTYPE_FLOAT16},
    {"<i8", MS_DTYPE_INT64},  {"<i4", MS_DTYPE_INT32},  {"<i2", MS_DTYPE_INT16},
    {"|i1", MS_DTYPE_INT8},   {"<u8", MS_DTYPE_UINT64}, {"<u4", MS_DTYPE_UINT32},
    {"<u2", MS_DTYPE_UINT16}, {"|u1", MS_DTYPE_UINT8},  {"|b1", MS_DTYPE_BOOL},
};

const char *mc_npy_descr(ms_dtype t)
{
    for (size_t i = 0; i < sizeof descr_table / sizeof descr_table[0]; i++)
        if (descr_table[i].dtype == t) return descr_table[i].descr;
    return NULL;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* ---- header dict parser ------------------------------------------------------------------ */

typedef struct hdr_parser {
    const char *p, *end;
    ms_error *err;
} hdr_parser;

static void skip_ws(hdr_parser *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

/* Consume `c` (after whitespace); 1 if it was there. */
static int accept(hdr_parser *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) { h->p++; return 1; }
    return 0;
}

/* A quoted string ('...' or "...") without escapes, copied into dst. */
static int parse_str(hdr_parser *h, char *dst, size_t cap)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return -1;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || *h->p == '\n' || n + 1 >= cap) return -1;
        dst[n++] = *h->p++;
    }
    if (h->p >= h->end) return -1;
    h->p++;
    dst[n] = 0;
    return 0;
}

static int parse_word(hdr_parser *h, const char *w)
{
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0) return 0;
    /* Not a prefix of a longer identifier ("Falsey"). */
    if ((size_t)(h->end - h->p) > n) {
        char c = h->p[n];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
            return 0;
    }
    h->p += n;
    return 1;
}

/* A non-negative decimal integer (numpy writes plain ints). -1 on syntax error or > INT64_MAX. */
static int parse_dim(hdr_parser *h, int64_t *out)
{
    skip_ws(h);
    if (h->p >= h->end || *h->p < '0' || *h->p > '9') return -1;
    int64_t v = 0;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        int d = *h->p++ - '0';
        if (v > (INT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* "(" [dim ("," dim)* [","]] ")" — a one-element tuple needs its trailing comma, as in
 * Python: "(3)" is the integer 3, not a shape. */
static ms_status parse_shape(hdr_parser *h, ms_tensor *t)
{
    if (!accept(h, '(')) return bs_fail(h->err, MS_ERR_INVALID, "npy header: 'shape' is not a tuple");
    int n = 0, trailing_comma = 0;
    if (!accept(h, ')')) {
        for (;;) {
            int64_t d;
            if (parse_dim(h, &d))
                return bs_fail(h->err, MS_ERR_INVALID,
                               "npy header: shape entries must be non-negative integers");
            if (n >= MS_MAX_DIMS)
                return bs_fail(h->err, MS_ERR_UNSUPPORTED,
                               "npy: more than %d dimensions are not supported", MS_MAX_DIMS);
            t->shape[n++] = d;
            trailing_comma = 0;
            if (accept(h, ')')) break;
            if (!accept(h, ','))
                return bs_fail(h->err, MS_ERR_INVALID, "npy header: malformed shape tuple");
            trailing_comma = 1;
            if (accept(h, ')')) break;
        }
        if (n == 1 && !trailing_comma)
            return bs_fail(h->err, MS_ERR_INVALID,
                           "npy header: shape '(N)' is not a tuple (write '(N,)')");
    }
    t->ndim = n;
    return MS_OK;
}

static ms_status parse_descr(hdr_parser *h, ms_tensor *t)
{
    char d[32];
    skip_ws(h);
    if (h->p < h->end && *h->p == '[')
        return bs_fail(h->err, MS_ERR_UNSUPPORTED, "npy: structured dtypes are not supported");
    if (parse_str(h, d, sizeof d))
        return bs_fail(h->err, MS_ERR_INVALID, "npy header: 'descr' is not a simple string");
    /* A type string is a byte-order character and a type code ("<f4", "|O", "<U10"). */
    int well_formed = d[0] && strchr("<>|=", d[0]) && d[1];
    for (const char *q = d + 1; well_formed && *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')))
            well_formed = 0;
    if (!well_formed) return bs_fail(h->err, MS_ERR_INVALID, "npy header: malformed descr '%s'", d);
    /* One-byte types have no byte order; numpy writes '|', but '<' and '=' mean the same. */
    if (strlen(d) == 3 && d[2] == '1' && (d[0] == '<' || d[0] == '=' || d[0] == '>')) d[0] = '|';
    /* '=' is native order; on the little-endian hosts we run on, that is '<'. */
    if (d[0] == '=' && host_is_little_endian()) d[0] = '<';
    for (size_t i = 0; i < sizeof descr_table / sizeof descr_table[0]; i++) {
        if (strcmp(d, descr_table[i].descr) == 0) {
            t->dtype = descr_table[i].dtype;
            return MS_OK;
        }
    }
    if (d[0] == '>')
        return bs_fail(h->err, MS_ERR_UNSUPPORTED, "npy: big-endian data ('%s') is not supported", d);
    return bs_fail(h->err, MS_ERR_UNSUPPORTED, "npy: dtype '%s' is not supported", d);
}

static ms_status parse_header(hdr_parser *h, ms_tensor *t)
{
    enum { K_DESCR = 1, K_FORTRAN = 2, K_SHAPE = 4 };
    int seen = 0;
    if (!accept(h, '{')) return bs_fail(h->err, MS_ERR_INVALID, "npy header: does not start with '{'");
    ms_status st;
    while (!accept(h, '}')) {
        char key[32];
        if (parse_str(h, key, sizeof key))
            return bs_fail(h->err, MS_ERR_INVALID, "npy header: expected a quoted key");
        if (!accept(h, ':'))
            return bs_fail(h->err, MS_ERR_INVALID, "npy header: expected ':' after '%s'", key);
        int k = strcmp(key, "descr") == 0           ? K_DESCR
                : strcmp(key, "fortran_order") == 0 ? K_FORTRAN
                : strcmp(key, "shape") == 0         ? K_SHAPE
                                                    : 0;
        if (!k) return bs_fail(h->err, MS_ERR_INVALID, "npy header: unexpected key '%s'", key);
        if (seen & k) return bs_fail(h->err, MS_ERR_INVALID, "npy header: duplicate key '%s'", key);
        seen |= k;
        if (k == K_DESCR) {
            if ((st = parse_descr(h, t)) != MS_OK) return st;
        } else if (k == K_SHAPE) {
            if ((st = parse_shape(h, t)) != MS_OK) return st;
        } else if (parse_word(h, "True")) {
            return bs_fail(h->err, MS_ERR_UNSUPPORTED,
                           "npy: fortran_order True is not supported (save a C-order array)");
        } else if (!parse_word(h, "False")) {
            return bs_fail(h->err, MS_ERR_INVALID, "npy header: fortran_order must be True or False");
        }
        if (accept(h, '}')) break;
        if (!accept(h, ',')) return bs_fail(h->err, MS_ERR_INVALID, "npy header: expected ',' or '}'");
    }
    if (seen != (K_DESCR | K_FORTRAN | K_SHAPE))
        return bs_fail(h->err, MS_ERR_INVALID, "npy header: missing key '%s'",
                       !(seen & K_DESCR) ? "descr" : !(seen & K_SHAPE) ? "shape" : "fortran_order");
    skip_ws(h);
    if (h->p != h->end)
        return bs_fail(h->err, MS_ERR_INVALID, "npy header: unexpected text after the dict");
    return MS_OK;
}

/* ---- decode ------------------------------------------------------------------------------- */

ms_status mc_npy_decode(const void *buf, size_t len, ms_tensor *out, ms_error *err)
{
    const unsigned char *b = buf;
    memset(out, 0, sizeof *out);
    if (!host_is_little_endian())
        return bs_fail(err, MS_ERR_UNSUPPORTED, "npy: big-endian hosts are not supported");
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return bs_fail(err, MS_ERR_INVALID, "not a .npy file (bad magic)");
    unsigned major = b[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return bs_fail(err, MS_ERR_INVALID, "npy: truncated header");
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else {
        return bs_fail(err, MS_ERR_UNSUPPORTED, "npy: format version %u.%u is not supported",
                       major, (unsigned)b[7]);
    }
    if (hlen > len - start)
        return bs_fail(err, MS_ERR_INVALID, "npy: truncated header (%zu bytes declared, %zu present)",
                       hlen, len - start);
    ms_tensor t;
    memset(&t, 0, sizeof t);
    hdr_parser h = {(const char *)b + start, (const char *)b + start + hlen, err};
    /* 1.x and 2.x headers are ASCII; 3.x allows UTF-8, but valid keys and values are ASCII
     * anyway, and a stray byte simply fails the parse. A NUL would too. */
    ms_status st = parse_header(&h, &t);
    if (st != MS_OK) return st;

    /* Bytes = numel * elem size, every multiplication checked. Zero dims are skipped in the
     * product so that the verdict does not depend on where the zero sits: (0, 2^62, 2^62)
     * is as much an overflow as (2^62, 2^62, 0); code that walks strides would overflow. */
    size_t esz = ms_dtype_size(t.dtype);
    size_t bytes = esz;
    int has_zero = 0;
    for (int i = 0; i < t.ndim; i++) {
        uint64_t d = (uint64_t)t.shape[i];
        if (d == 0) { has_zero = 1; continue; }
        if (bytes > SIZE_MAX / d || bytes / esz > (uint64_t)INT64_MAX / d)
            return bs_fail(err, MS_ERR_INVALID, "npy: shape is too large (size overflows)");
        bytes *= (size_t)d;
    }
    if (has_zero) bytes = 0;
    size_t have = len - start - hlen;
    if (have != bytes)
        return bs_fail(err, MS_ERR_INVALID,
                       "npy: data is %zu bytes but shape and dtype %s need %zu", have,
                       ms_dtype_name(t.dtype), bytes);
    const unsigned char *src = b + start + hlen;
    if (t.dtype == MS_DTYPE_BOOL) {
        /* Our bools are exactly 0/1; numpy's are too, but a hand-made file might not be. */
        for (size_t i = 0; i < bytes; i++)
            if (src[i] > 1)
                return bs_fail(err, MS_ERR_INVALID, "npy: bool element %zu is %u, not 0 or 1", i,
                               (unsigned)src[i]);
    }
    t.data = ms_malloc(bytes ? bytes : 1);
    if (!t.data) return bs_fail(err, MS_ERR_RUNTIME, "out of memory (%zu bytes)", bytes);
    if (bytes) memcpy(t.data, src, bytes);
    *out = t;
    return MS_OK;
}

/* ---- encode ------------------------------------------------------------------------------- */

ms_status mc_npy_encode(const ms_tensor *t, mc_buf *out, ms_error *err)
{
    const char *descr = mc_npy_descr(t->dtype);
    if (!descr)
        return bs_fail(err, MS_ERR_UNSUPPORTED, "npy: cannot write dtype %s", ms_dtype_name(t->dtype));
    if (!host_is_little_endian())
        return bs_fail(err, MS_ERR_UNSUPPORTED, "npy: big-endian hosts are not supported");
    if (t->ndim < 0 || t->ndim > MS_MAX_DIMS)
        return bs_fail(err, MS_ERR_INVALID, "npy: bad rank %d", (int)t->ndim);
    size_t bytes = ms_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) return bs_fail(err, MS_ERR_INVALID, "npy: negative dimension");
        if (t->shape[i] && bytes > SIZE_MAX / (uint64_t)t->shape[i])
            return bs_fail(err, MS_ERR_INVALID, "npy: tensor too large");
        bytes *= (size_t)t->shape[i];
    }

    char dict[64 + MS_MAX_DIMS * 24];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)t->shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", t->ndim == 1 ? "," : "");

    /* Pad with spaces and a final '\n' so the data starts on a 64-byte boundary, as numpy
     * does (lets readers mmap and use the data in place). */
    size_t pre = 10, total = pre + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - pre;
    int major = 1;
    if (hlen > 65535) { /* cannot happen with MS_MAX_DIMS dims, but keep the format honest */
        major = 2;
        pre = 12;
        padded = (pre + (size_t)n + 1 + 63) / 64 * 64;
        hlen = padded - pre;
    }
    if (mc_buf_reserve(out, padded + bytes))
        return bs_fail(err, MS_ERR_RUNTIME, "out of memory writing npy");
    unsigned char magic[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    magic[8] = (unsigned char)(hlen & 255);
    magic[9] = (unsigned char)(hlen >> 8 & 255);
    if (major == 2) {
        magic[10] = (unsigned char)(hlen >> 16 & 255);
        magic[11] = (unsigned char)(hlen >> 24 & 255);
    }
    mc_buf_append(out, magic, pre);
    mc_buf_append(out, dict, (size_t)n);
    for (size_t i = pre + (size_t)n; i + 1 < padded; i++) mc_buf_putc(out, ' ');
    mc_buf_putc(out, '\n');
    mc_buf_append(out, t->data, bytes);
    return mc_buf_failed(out) ? bs_fail(err, MS_ERR_RUNTIME, "out of memory writing npy") : MS_OK;
}
