/* codec_csv.c: streaming CSV records and exact float32 parsing/formatting (see codec_csv.h). */
#include "codec/codec_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec_buf.h"

/* ==== the reader ======================================================================== */

#define CSV_BLOCK (1u << 20) /* first buffer and read size */

struct mc_csv {
    int fd, own_fd;
    char *name;
    char *buf;
    size_t cap, pos, len; /* unread data is buf[pos, len) */
    int eof, started;
    int64_t line; /* line number of buf[pos] */
    int64_t base; /* file offset of buf[0] */
    int64_t size;
    mc_csv_field *fields;
    int fcap;
};

static ms_status csv_init(mc_csv *c, int fd, const char *name, ms_error *err)
{
    c->fd = fd;
    c->name = strdup(name);
    c->cap = CSV_BLOCK;
    c->buf = malloc(c->cap + 1);
    c->fcap = 64;
    c->fields = malloc((size_t)c->fcap * sizeof *c->fields);
    c->line = 1;
    c->size = -1;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) c->size = (int64_t)sb.st_size;
    if (!c->name || !c->buf || !c->fields) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    return MS_OK;
}

ms_status mc_csv_open_fd(int fd, const char *name, mc_csv **out, ms_error *err)
{
    mc_csv *c = calloc(1, sizeof *c);
    if (!c) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
    ms_status st = csv_init(c, fd, name, err);
    if (st != MS_OK) {
        mc_csv_close(c);
        return st;
    }
    *out = c;
    return MS_OK;
}

ms_status mc_csv_open(const char *path, mc_csv **out, ms_error *err)
{
    if (strcmp(path, "-") == 0) return mc_csv_open_fd(0, "stdin", out, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    /* a path that names no readable file is the caller's mistake (bad input, exit 2); EIO,
     * EMFILE and the like are failures of the machine */
    if (fd < 0)
        return bs_fail(err, mc_errno_is_input(errno) ? MS_ERR_INVALID : MS_ERR_RUNTIME,
                       "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd);
        return bs_fail(err, MS_ERR_INVALID, "cannot read '%s': it is a directory", path);
    }
    ms_status st = mc_csv_open_fd(fd, path, out, err);
    if (st != MS_OK) {
        close(fd);
        return st;
    }
    (*out)->own_fd = 1;
    return MS_OK;
}

void mc_csv_close(mc_csv *c)
{
    if (!c) return;
    if (c->own_fd) close(c->fd);
    free(c->name);
    free(c->buf);
    free(c->fields);
    free(c);
}

int64_t mc_csv_offset(const mc_csv *c) { return c->base + (int64_t)c->pos; }
int64_t mc_csv_size(const mc_csv *c) { return c->size; }

/* Read more input after buf[len), first moving the unread part to the front; grow the buffer
 * when a single record fills it. Returns 0 when data was added or EOF reached, else fatal. */
static ms_status csv_fill(mc_csv *c, ms_error *err)
{
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->base += (int64_t)c->pos;
        c->pos = 0;
    }
    if (c->len == c->cap) {
        if (c->cap >= MC_CSV_MAX_RECORD)
            return bs_fail(err, MS_ERR_INVALID,
                           "%s: line %lld: record longer than %u MiB (a quote never closed?)",
                           c->name, (long long)c->line, MC_CSV_MAX_RECORD >> 20);
        size_t ncap = c->cap * 2;
        char *nb = realloc(c->buf, ncap + 1);
        if (!nb) return bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        c->buf = nb;
        c->cap = ncap;
    }
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return bs_fail(err, MS_ERR_RUNTIME, "%s: read: %s", c->name, strerror(errno));
        if (r == 0) c->eof = 1;
        c->len += (size_t)r;
        break;
    }
    if (!c->started && c->len - c->pos >= 3) {
        c->started = 1;
        if (memcmp(c->buf + c->pos, "\xEF\xBB\xBF", 3) == 0) c->pos += 3;
    } else if (c->eof) {
        c->started = 1;
    }
    return MS_OK;
}

/* Find the end of the record at buf[pos]: *end is the index of its terminating LF (or len at
 * the end of the input), *nl the newlines inside it, *quoted whether it has a quote. Returns
 * MS_OK with *end == SIZE_MAX at the end of the input. */
static ms_status csv_find(mc_csv *c, size_t *end, int64_t *nl, int *quoted, ms_error *err)
{
    ms_status st;
    if (!c->started && (st = csv_fill(c, err)) != MS_OK) return st;
    for (;;) {
        const char *b = c->buf + c->pos;
        size_t avail = c->len - c->pos;
        const char *lf = memchr(b, '\n', avail);
        const char *q = memchr(b, '"', lf ? (size_t)(lf - b) : avail);
        if (!q) {
            if (lf) {
                *end = (size_t)(lf - c->buf);
                *nl = 0;
                *quoted = 0;
                return MS_OK;
            }
            if (c->eof) {
                *end = avail ? c->len : SIZE_MAX;
                *nl = 0;
                *quoted = 0;
                return MS_OK;
            }
        } else {
            /* quotes: walk the state machine to the first LF outside quotes */
            int in_q = 0;
            int64_t n = 0;
            size_t i;
            for (i = c->pos; i < c->len; i++) {
                char ch = c->buf[i];
                if (ch == '"') in_q = !in_q; /* "" inside a quote toggles twice: fine */
                else if (ch == '\n') {
                    if (!in_q) break;
                    n++;
                }
            }
            if (i < c->len || c->eof) {
                if (i == c->len && in_q)
                    return bs_fail(err, MS_ERR_INVALID,
                                   "%s: line %lld: quoted field not closed before the end of the "
                                   "input", c->name, (long long)c->line);
                *end = i;
                *nl = n;
                *quoted = 1;
                return MS_OK;
            }
        }
        if ((st = csv_fill(c, err)) != MS_OK) return st;
    }
}

static int add_field(mc_csv *c, int *nf, const char *p, size_t n)
{
    if (*nf == c->fcap) {
        if (c->fcap >= MC_CSV_MAX_FIELDS) return -1;
        mc_csv_field *f = realloc(c->fields, (size_t)c->fcap * 2 * sizeof *f);
        if (!f) return -1;
        c->fields = f;
        c->fcap *= 2;
    }
    c->fields[*nf].p = p;
    c->fields[*nf].n = n;
    (*nf)++;
    return 0;
}

static ms_status csv_next(mc_csv *c, mc_csv_record *rec, int raw, ms_error *err)
{
    memset(rec, 0, sizeof *rec);
    rec->fields = c->fields;
    for (;;) {
        size_t end;
        int64_t nl;
        int quoted;
        ms_status st = csv_find(c, &end, &nl, &quoted, err);
        if (st != MS_OK) return st;
        if (end == SIZE_MAX) return MS_OK;
        char *s = c->buf + c->pos, *e = c->buf + end;
        size_t next = end < c->len ? end + 1 : end;
        if (e > s && e[-1] == '\r') e--;
        rec->line = c->line;
        c->line += 1 + nl;
        c->pos = next;
        if (e == s) continue; /* blank line */
        if (raw && !quoted) {
            rec->raw = s;
            rec->raw_n = (size_t)(e - s);
            rec->nfields = -1;
            return MS_OK;
        }
        int nf = 0;
        if (!quoted) {
            for (;;) {
                char *comma = memchr(s, ',', (size_t)(e - s));
                char *fe = comma ? comma : e;
                if (add_field(c, &nf, s, (size_t)(fe - s)))
                    return bs_fail(err, MS_ERR_INVALID, "%s: line %lld: more than %d fields",
                                   c->name, (long long)rec->line, MC_CSV_MAX_FIELDS);
                if (!comma) break;
                s = comma + 1;
            }
        } else {
            for (;;) {
                char *fs = s, *fe;
                if (s < e && *s == '"') {
                    /* unquote in place: the record is complete, nothing rescans it */
                    char *w = s, *r = s + 1;
                    fs = w;
                    for (;;) {
                        if (r >= e) { rec->error = "quoted field not closed"; break; }
                        if (*r == '"') {
                            if (r + 1 < e && r[1] == '"') { *w++ = '"'; r += 2; continue; }
                            r++;
                            break;
                        }
                        *w++ = *r++;
                    }
                    fe = w;
                    s = r;
                    if (s < e && *s != ',' && !rec->error)
                        rec->error = "text after a closing quote";
                    while (s < e && *s != ',') s++;
                } else {
                    while (s < e && *s != ',') s++;
                    fe = s;
                }
                if (add_field(c, &nf, fs, (size_t)(fe - fs)))
                    return bs_fail(err, MS_ERR_INVALID, "%s: line %lld: more than %d fields",
                                   c->name, (long long)rec->line, MC_CSV_MAX_FIELDS);
                if (s >= e) break;
                s++; /* the comma */
                if (s == e) {
                    if (add_field(c, &nf, e, 0))
                        return bs_fail(err, MS_ERR_INVALID, "%s: line %lld: too many fields",
                                       c->name, (long long)rec->line);
                    break;
                }
            }
        }
        rec->fields = c->fields;
        rec->nfields = nf;
        return MS_OK;
    }
}

ms_status mc_csv_next(mc_csv *c, mc_csv_record *rec, ms_error *err)
{
    return csv_next(c, rec, 0, err);
}

ms_status mc_csv_next_raw(mc_csv *c, mc_csv_record *rec, ms_error *err)
{
    return csv_next(c, rec, 1, err);
}

ms_status mc_csv_skip(mc_csv *c, int *skipped, ms_error *err)
{
    *skipped = 0;
    for (;;) {
        size_t end;
        int64_t nl;
        int quoted;
        ms_status st = csv_find(c, &end, &nl, &quoted, err);
        if (st != MS_OK || end == SIZE_MAX) return st;
        char *s = c->buf + c->pos, *e = c->buf + end;
        if (e > s && e[-1] == '\r') e--;
        c->line += 1 + nl;
        c->pos = end < c->len ? end + 1 : end;
        if (e == s) continue;
        *skipped = 1;
        return MS_OK;
    }
}

/* ==== numbers =========================================================================== */

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_sp(char ch) { return ch == ' ' || ch == '\t'; }

static int slow_f32(const char *p, size_t n, float *out)
{
    char tmp[128], *b = tmp;
    if (n >= sizeof tmp && !(b = malloc(n + 1))) return -1;
    memcpy(b, p, n);
    b[n] = 0;
    char *end;
    errno = 0;
    float v = strtof(b, &end);
    int ok = end == b + n && n > 0;
    if (b != tmp) free(b);
    if (!ok) return -1;
    *out = v;
    return 0;
}

/* ---- SWAR digits: 8 bytes at a time ----
 * Bytes are loaded little-endian, so the first character is the lowest byte. */

static inline uint64_t load8(const char *p, const char *lim)
{
    uint64_t v = 0;
    if (lim - p >= 8) memcpy(&v, p, 8);
    else if (lim > p) memcpy(&v, p, (size_t)(lim - p)); /* missing bytes read as 0: not digits */
    return v;
}

/* How many of the 8 bytes, from the first, are ASCII digits (0..8). A byte is a digit iff its
 * high nibble is 3 and adding 6 keeps it 3. (A carry out of a byte >= 0xFA can only disturb
 * later bytes, and that byte is itself a non-digit, so the first non-digit is still right.) */
static inline int digits8(uint64_t v)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ull, three = 0x3030303030303030ull;
    uint64_t a = (v & hi) ^ three, b = ((v + 0x0606060606060606ull) & hi) ^ three;
    uint64_t ne = a | b;
    return ne ? __builtin_ctzll(ne) >> 3 : 8;
}

/* The value of the first n (1..8) digit bytes of v. */
static inline uint32_t value8(uint64_t v, int n)
{
    v -= 0x3030303030303030ull; /* the first n bytes are digits: no borrow among them */
    v <<= 8 * (8 - n);          /* those n digits last, led by zeros */
    v = v * 10 + (v >> 8);      /* pairs: byte 2k = 10 d[2k] + d[2k+1] */
    v = (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
         (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
    return (uint32_t)v;
}

static const uint64_t POW10U[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull,
    1000000ull, 10000000ull, 100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
    1000000000000ull, 10000000000000ull, 100000000000000ull, 1000000000000000ull,
    10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull};
static const float POW10F[11] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

#define MC_INLINE static inline __attribute__((always_inline))

/* m * 10^dexp (m > 0; dexp in -22..22) as a float through one double, when that is provably
 * strtof's answer; 0 to decline. With m <= 2^53 the double is one correctly rounded operation
 * on exact operands, and only a double exactly on a float midpoint is in doubt. A larger m
 * (the 17-19 digits of repr(float) / %.17g) is rounded twice, (double)m then the scaling, so
 * the double is within 2 of its ulps of the exact value (and digits cut beyond 19 add less
 * than 1/8 ulp); the float it rounds to is right unless a float midpoint (low 29 bits
 * 0x10000000, binade edges included) is within 8 ulps of it. Normal float range only. */
MC_INLINE int dec_to_f32(uint64_t m, int dexp, int neg, float *out)
{
    double d = (double)m;
    d = dexp < 0 ? d / POW10[-dexp] : d * POW10[dexp];
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    uint32_t low = (uint32_t)(bits & 0x1FFFFFFFu);
    uint32_t off = low > 0x10000000u ? low - 0x10000000u : 0x10000000u - low;
    if ((m <= (1ull << 53) ? off == 0 : off <= 8) || d < 1.1754943508222875e-38 ||
        d >= 3.4028234663852886e38)
        return 0;
    *out = neg ? -(float)d : (float)d;
    return 1;
}

/* Digits at p (up to 19, ending before a non-digit: repr(float) writes 17): their count (-1 for
 * 20 or more) and value (< 10^19: no overflow). */
MC_INLINE int digits_at(const char *p, const char *lim, uint64_t *val)
{
    uint64_t v = load8(p, lim);
    int n = digits8(v);
    if (n < 8) {
        *val = n ? value8(v, n) : 0;
        return n;
    }
    uint64_t w = load8(p + 8, lim);
    int k = digits8(w);
    if (k < 8) {
        *val = k ? (uint64_t)value8(v, 8) * POW10U[k] + value8(w, k) : value8(v, 8);
        return 8 + k;
    }
    uint64_t u = load8(p + 16, lim);
    int j = digits8(u);
    if (j > 3) return -1;
    uint64_t hi = (uint64_t)value8(v, 8) * POW10U[8] + value8(w, 8);
    *val = j ? hi * POW10U[j] + value8(u, j) : hi;
    return 16 + j;
}

/* "[-]digits[.digits]" at p (see mc_scan_f32): returns its end, or NULL to decline. When the
 * value is +-m / 10^nf with 0 < m < 2^24 and nf <= 10 (the common case: m and 10^nf are exact
 * floats, so one correctly rounded float division gives strtof's answer), *sm = +-m and
 * *div = 10^nf, the division left to the caller (so that a row's divisions run side by
 * side); otherwise *div = 0 and *out is the value. */
MC_INLINE const char *scan_parts(const char *p, const char *lim, int32_t *sm, float *div,
                                 float *out)
{
    int neg = p < lim && *p == '-';
    p += neg;
    uint64_t m, fr;
    int ni, nf = 0;
    if (lim - p >= 2 && (unsigned)(*p - '0') < 10 && p[1] == '.') { /* "d.": most values */
        m = (unsigned)(*p - '0');
        ni = 1;
    } else if ((ni = digits_at(p, lim, &m)) < 0) {
        return NULL;
    }
    p += ni;
    if (p < lim && *p == '.') {
        p++;
        if ((nf = digits_at(p, lim, &fr)) < 0 || ni + nf > 19) return NULL;
        if (nf) m = m * POW10U[nf] + fr; /* < 10^19: no overflow */
        p += nf;
    }
    if (ni + nf == 0 || (p < lim && (*p | 0x20) == 'e')) return NULL;
    if (m - 1 < (1u << 24) - 1 && nf <= 10) {
        /* the sign without a branch: half the numbers are negative, and a branch would miss
         * half the time (m == 0 needs -0 for "-0": below) */
        *sm = (int32_t)(((uint32_t)m ^ (0u - (uint32_t)neg)) + (uint32_t)neg);
        *div = POW10F[nf];
        return p;
    }
    *div = 0;
    if (m == 0) {
        *out = neg ? -0.0f : 0.0f;
        return p;
    }
    return nf <= 22 && dec_to_f32(m, -nf, neg, out) ? p : NULL;
}

const char *mc_scan_f32(const char *p, const char *lim, float *out)
{
    int32_t sm;
    float div;
    const char *e = scan_parts(p, lim, &sm, &div, out);
    if (e && div != 0) *out = (float)sm / div;
    return e;
}

#define ROW_VEC 64 /* features whose divisions a row parse keeps side by side */

/* Field [p, ...) as a float (the common form scanned, else the whole field by mc_parse_f32):
 * returns the field's end (e or a comma), or NULL if it is not a number. *div as scan_parts. */
MC_INLINE const char *row_number(const char *p, const char *e, const char *lim, int32_t *sm,
                                 float *div, float *v)
{
    *div = 0;
    *v = NAN; /* an empty field: missing */
    const char *fe = p == e || *p == ',' ? p : scan_parts(p, lim, sm, div, v);
    if (!fe || fe > e || (fe < e && *fe != ',')) {
        *div = 0;
        fe = memchr(p, ',', (size_t)(e - p));
        if (!fe) fe = e;
        if (fe > p && mc_parse_f32(p, (size_t)(fe - p), v)) return NULL;
    }
    return fe;
}

int mc_csv_parse_f32_row(const char *p, const char *e, const char *lim, const int *map, int nmap,
                         float *out, const char **key, size_t *key_n)
{
    /* feature f is num[f] / den[f]: +-m / 10^nf, or the value / 1 (exact). Wide rows divide
     * at once. */
    float num[ROW_VEC], den[ROW_VEC];
    int nfeat = 0, wide = nmap > ROW_VEC;
    for (int i = 0; i < nmap; i++) {
        int to = map[i];
        const char *fe;
        if (to >= 0) {
            int32_t n = 0;
            float d, v;
            if (!(fe = row_number(p, e, lim, &n, &d, &v))) return -1;
            if (wide) {
                out[to] = d != 0 ? (float)n / d : v;
            } else {
                num[to] = d != 0 ? (float)n : v; /* |n| < 2^24: exact */
                den[to] = d != 0 ? d : 1;
                nfeat++;
            }
        } else {
            fe = memchr(p, ',', (size_t)(e - p));
            if (!fe) fe = e;
            if (to == MC_CSV_KEY) {
                *key = p;
                *key_n = (size_t)(fe - p);
            }
        }
        if (fe == e) {
            if (i != nmap - 1) return -1;
            /* features are 0 .. nfeat-1 (each column feeds at most one): the divisions side
             * by side (vectorised) */
            for (int f = 0; f < nfeat; f++) out[f] = num[f] / den[f];
            return 0;
        }
        p = fe + 1;
    }
    return -1; /* more fields than nmap */
}

/* The common CSV number, "[-]ddd.ddd" in at most 19 characters (so at most 19 digits: no
 * overflow to track): one pass, no exponent. Returns 1 when it handled the text. */
static inline int quick_f32(const char *p, size_t n, float *out)
{
    if (n == 0 || n > 19) return 0;
    const char *end = p + n;
    int neg = *p == '-';
    p += neg;
    uint64_t m = 0;
    int frac = 0, dot = 0, nd = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d < 10) {
            m = m * 10 + d;
            frac += dot;
            nd++;
        } else if (*p == '.' && !dot) {
            dot = 1;
        } else {
            return 0;
        }
    }
    if (!nd) return 0; /* m < 10^19: no overflow */
    if (m == 0) {
        *out = neg ? -0.0f : 0.0f;
        return 1;
    }
    if (m < (1u << 24) && frac <= 10) { /* exact operands in float: one rounding */
        float f = (float)m / POW10F[frac];
        *out = neg ? -f : f;
        return 1;
    }
    return dec_to_f32(m, -frac, neg, out); /* frac <= 18 */
}

int mc_parse_f32(const char *s, size_t n, float *out)
{
    if (quick_f32(s, n, out)) return 0;
    const char *p = s, *end = s + n;
    while (p < end && is_sp(*p)) p++;
    while (end > p && is_sp(end[-1])) end--;
    if (p == end) return -1;
    const char *start = p;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    uint64_t m = 0;
    int nd = 0, dexp = 0, any = 0, lost = 0;
    for (; p < end && (unsigned)(*p - '0') < 10; p++) {
        any = 1;
        if (nd < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            if (m) nd++;
        } else {
            dexp++;
            lost |= *p != '0';
        }
    }
    if (p < end && *p == '.') {
        for (p++; p < end && (unsigned)(*p - '0') < 10; p++) {
            any = 1;
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                if (m) nd++;
                dexp--;
            } else {
                lost |= *p != '0';
            }
        }
    }
    if (!any) return slow_f32(start, (size_t)(end - start), out); /* nan, inf, or garbage */
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, ex = 0, ed = 0;
        if (p < end && (*p == '-' || *p == '+')) eneg = *p++ == '-';
        for (; p < end && (unsigned)(*p - '0') < 10; p++, ed++)
            if (ex < 100000) ex = ex * 10 + (*p - '0');
        if (!ed) return -1;
        dexp += eneg ? -ex : ex;
    }
    if (p != end) return -1;
    if (m == 0) {
        *out = neg ? -0.0f : 0.0f;
        return 0;
    }
    /* digits cut beyond 19 (lost) only fit the error bound of the twice-rounded case */
    if ((!lost || m > (1ull << 53)) && dexp >= -22 && dexp <= 22 && dec_to_f32(m, dexp, neg, out))
        return 0;
#if defined(__x86_64__) || defined(__i386__)
    /* x87 extended precision: 64-bit mantissa holds any 19-digit m exactly, and 10^k exactly
     * up to k = 27; the same midpoint check with 40 dropped bits (numpy's %.17g output) */
    if (!lost && dexp >= -27 && dexp <= 27) {
        static const long double P[28] = {1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L,
            1e9L, 1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
            1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
        long double x = (long double)m;
        x = dexp < 0 ? x / P[-dexp] : x * P[dexp];
        int ex;
        long double fr = frexpl(x, &ex);
        uint64_t mant = (uint64_t)ldexpl(fr, 64);
        if ((mant & 0xFFFFFFFFFFull) != 0x8000000000ull && x >= 1.1754943508222875e-38L &&
            x < 3.4028234663852886e38L) {
            float f = (float)x;
            *out = neg ? -f : f;
            return 0;
        }
    }
#endif
    return slow_f32(start, (size_t)(end - start), out);
}

/* Clinger's fast path: a plain decimal (sign, digits, dot, exponent) whose digits fit 2^53
 * and whose power of ten is at most 22 is m * 10^e or m / 10^-e of two exact doubles, so one
 * IEEE operation rounds it correctly, as strtod would. A stream event's 30 features went
 * through strtod at about 900 instructions each (callgrind), this takes about 60. Anything
 * else (more digits, larger exponents, nan, inf, hex) is left to strtod: 0 = not taken. */
static int quick_f64(const char *p, const char *end, double *out)
{
#if FLT_EVAL_METHOD == 0
    static const double P[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    int neg = 0, nd = 0, dexp = 0, any = 0;
    uint64_t m = 0;
    if (p < end && (*p == '-' || *p == '+')) neg = *p++ == '-';
    for (; p < end && (unsigned)(*p - '0') < 10; p++, any = 1)
        if ((m = m * 10 + (uint64_t)(*p - '0')) && ++nd > 16) return 0;
    if (p < end && *p == '.') {
        p++;
        /* the fraction's digits eight at a time (digits_at, SWAR) once a digit before them is
         * significant: features written with %.9g spent most of a stream event's parsing in
         * the loop below, one digit at a time */
        if (!m) /* zeros before the first significant digit only move the point */
            for (; p < end && *p == '0'; p++) dexp--, any = 1;
        uint64_t fv;
        int k = digits_at(p, end, &fv);
        if (k > 0 && nd + k <= 16) {
            m = m * POW10U[k] + fv;
            p += k, nd += k, dexp -= k, any = 1;
        }
        for (; p < end && (unsigned)(*p - '0') < 10; p++, any = 1, dexp--)
            if ((m = m * 10 + (uint64_t)(*p - '0')) && ++nd > 16) return 0;
    }
    if (!any) return 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, ex = 0, ed = 0;
        if (++p < end && (*p == '-' || *p == '+')) eneg = *p++ == '-';
        for (; p < end && (unsigned)(*p - '0') < 10; p++, ed++)
            if ((ex = ex * 10 + (*p - '0')) > 1000) return 0;
        if (!ed) return 0;
        dexp += eneg ? -ex : ex;
    }
    if (p != end || m > (1ull << 53) || dexp < -22 || dexp > 22) return 0;
    double v = dexp < 0 ? (double)m / P[-dexp] : (double)m * P[dexp];
    *out = neg ? -v : v;
    return 1;
#else
    (void)p, (void)end, (void)out;
    return 0; /* extended-precision evaluation would round twice */
#endif
}

int mc_parse_f64(const char *s, size_t n, double *out)
{
    while (n && is_sp(*s)) s++, n--;
    while (n && is_sp(s[n - 1])) n--;
    if (!n) return -1;
    if (quick_f64(s, s + n, out)) return 0;
    char tmp[128], *b = tmp;
    if (n >= sizeof tmp && !(b = malloc(n + 1))) return -1;
    memcpy(b, s, n);
    b[n] = 0;
    char *end;
    double v = strtod(b, &end);
    int ok = end == b + n;
    if (b != tmp) free(b);
    if (!ok) return -1;
    *out = v;
    return 0;
}

int mc_parse_f32_f64(const char *s, size_t n, float *f, double *d)
{
    const char *p = s, *end = s + n;
    while (p < end && is_sp(*p)) p++;
    while (end > p && is_sp(end[-1])) end--;
    if (p < end && quick_f64(p, end, d)) {
        /* *d is the correctly rounded double; its float is strtof's answer unless *d lies
         * exactly on a float midpoint (then the decimal may be on either side) or outside
         * the normal float range: dec_to_f32's rule for m <= 2^53 */
        double a = *d < 0 ? -*d : *d;
        uint64_t bits;
        memcpy(&bits, &a, sizeof bits);
        if (a == 0 || ((bits & 0x1FFFFFFFu) != 0x10000000u && a >= 1.1754943508222875e-38 &&
                       a < 3.4028234663852886e38)) {
            *f = (float)*d;
            return 0;
        }
    }
    return mc_parse_f64(s, n, d) || mc_parse_f32(s, n, f) ? -1 : 0;
}

int mc_parse_i64(const char *s, size_t n, int64_t *out)
{
    while (n && is_sp(*s)) s++, n--;
    while (n && is_sp(s[n - 1])) n--;
    if (!n) return -1;
    int neg = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++, n--;
    }
    if (!n) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return -1;
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Digits of |f| rounded to p significant digits: m (p digits) and the decimal exponent of the
 * first digit. The double product is within 1 ulp of exact; the caller checks the result. */
static const double P10D[87] = {1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40}; /* 1e-46 .. 1e40 */

/* floor(log10(d)) for d > 0 in float range, without log10: the binary exponent times log10(2)
 * is right or one short; the table says which (off by one only at a power of ten's rounding,
 * which round_sig() corrects anyway). */
static int dec_exp(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    int e2 = (int)((bits >> 52) & 0x7FF) - 1023;
    int e = (e2 * 78913) >> 18; /* floor(e2 * log10(2)) for |e2| < 1600 */
    if (e + 47 < 87 && e + 47 >= 0 && d >= P10D[e + 47]) e++;
    return e;
}

/* 10^0 .. 10^19 */
static const uint64_t P10U[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
    10000000ull, 100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
    1000000000000ull, 10000000000000ull, 100000000000000ull, 1000000000000000ull,
    10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
    10000000000000000000ull};

/* d (> 0, finite) correctly rounded to p significant digits, as printf rounds: the digits m
 * (exactly p of them) and the decimal exponent of the first. glibc's printf converts the exact
 * binary value and rounds half to even, so this is the definition; it is slow (a few hundred
 * ns), so the common cases below avoid it. */
static void round_sig_exact(double d, int p, uint64_t *m, int *e10)
{
    char s[48];
    snprintf(s, sizeof s, "%.*e", p - 1, d);
    uint64_t v = 0;
    const char *c = s;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') v = v * 10 + (uint64_t)(*c - '0');
    *m = v;
    *e10 = *c ? atoi(c + 1) : 0;
}

/* The same for p <= 9 in double arithmetic: d * 10^k is within 2^-50 (relative) of exact,
 * which decides the rounding unless the product lies that close to a rounding midpoint (an
 * exact tie included); then ask printf. */
static void round_sig(double d, int p, uint64_t *m, int *e10)
{
    int e = dec_exp(d);
    for (int tries = 0; tries < 3; tries++) {
        int k = p - 1 - e;
        double sc = k >= 0 ? (k <= 22 ? d * POW10[k] : d * POW10[22] * pow(10, k - 22))
                           : (-k <= 22 ? d / POW10[-k] : d / pow(10, -k));
        uint64_t v = (uint64_t)(int64_t)sc; /* sc < 2^40: truncation is floor, inline (floor() is a call) */
        double fr = sc - (double)v;
        if (fabs(fr - 0.5) <= sc * 0x1p-48) break;
        v += fr > 0.5;
        if (v >= P10U[p]) e++; /* log10 was one short, or rounding carried (9.996 -> 10.0) */
        else if (v < P10U[p - 1]) e--;
        else {
            *m = v;
            *e10 = e;
            return;
        }
    }
    round_sig_exact(d, p, m, e10);
}

/* x / 10^k for k = 1..8, each a division by a constant (a multiply and a shift). */
static uint32_t div_p10_32(uint32_t x, int k)
{
    switch (k) {
    case 1: return x / 10u;
    case 2: return x / 100u;
    case 3: return x / 1000u;
    case 4: return x / 10000u;
    case 5: return x / 100000u;
    case 6: return x / 1000000u;
    case 7: return x / 10000000u;
    case 8: return x / 100000000u;
    default: return x / (uint32_t)P10U[k];
    }
}

/* The value's correct nf-digit rounding mf (exponent ef) rounded on to p < nf digits, in *m and
 * *e. That is the value's own p-digit rounding unless mf's dropped digits are exactly 50..0
 * (the first rounding may have made the tie): -1, round the value itself. 0 when the
 * p-digit candidate is certainly too far from the value to read back: it is more than `slack`
 * units of mf's last digit away (slack bounds half the gap to the value's neighbours, plus
 * the first rounding), which skips most p cheaply. */
static int round_on(uint64_t mf, int ef, int nf, int p, uint64_t slack, uint64_t *m, int *e)
{
    uint64_t q = P10U[nf - p], h = q / 2, d, r;
    if (mf <= UINT32_MAX) /* float32's 9 digits: by a constant, which compiles to a multiply */
        d = div_p10_32((uint32_t)mf, nf - p), r = mf - d * q;
    else
        d = mf / q, r = mf - d * q;
    if ((r < q - r ? r : q - r) > slack) return 0;
    if (r == h) return -1;
    *m = d + (r > h);
    *e = ef;
    if (*m == P10U[p]) { /* 9.99.. rounded up to 10 */
        *m /= 10;
        ++*e;
    }
    return 1;
}

/* The fewest digits worth trying: a p-digit candidate can only read back when a multiple of
 * 10^(nf-p) lies within slack of mf, and those p are nf - J .. nf, where J is the highest
 * power of ten at which mf - slack - 1 and mf + slack still differ once divided (a division
 * by the constant 10, so a multiply, where round_on's by 10^k is a real division). */
static int first_p(uint64_t mf, int nf, uint64_t slack)
{
    if (slack >= mf) return 1;
    uint64_t a = mf + slack, b = mf - slack - 1;
    int j = 0;
    while (j < nf - 1 && a / 10 != b / 10) a /= 10, b /= 10, j++;
    return nf - j;
}

static int write_digits(char *dst, int neg, uint64_t m, int p, int e10)
{
    static const char two[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";
    char dg[24];
    int k = p, nd = p;
    if (m <= UINT32_MAX) { /* float32's digits: 32-bit arithmetic, two digits a step */
        uint32_t v = (uint32_t)m;
        for (; k >= 2; k -= 2, v /= 100) memcpy(dg + k - 2, two + 2 * (v % 100), 2);
        if (k) dg[0] = (char)('0' + v);
    } else {
        for (; k >= 2; k -= 2, m /= 100) memcpy(dg + k - 2, two + 2 * (m % 100), 2);
        if (k) dg[0] = (char)('0' + m);
    }
    while (nd > 1 && dg[nd - 1] == '0') nd--;
    char *w = dst;
    if (neg) *w++ = '-';
    if (e10 >= -5 && e10 < 9) {
        if (e10 < 0) {
            *w++ = '0';
            *w++ = '.';
            for (int i = -1; i > e10; i--) *w++ = '0';
            memcpy(w, dg, (size_t)nd);
            w += nd;
        } else {
            for (int i = 0; i <= e10; i++) *w++ = i < nd ? dg[i] : '0';
            if (nd > e10 + 1) {
                *w++ = '.';
                memcpy(w, dg + e10 + 1, (size_t)(nd - e10 - 1));
                w += nd - e10 - 1;
            }
        }
    } else {
        *w++ = dg[0];
        if (nd > 1) {
            *w++ = '.';
            memcpy(w, dg + 1, (size_t)(nd - 1));
            w += nd - 1;
        }
        w += sprintf(w, "e%d", e10);
    }
    *w = 0;
    return (int)(w - dst);
}

/* Does the decimal m * 10^q read back (mc_parse_f32, i.e. strtof) as exactly af (> 0)? 1 yes,
 * 0 no, -1 not sure this way: the same arithmetic as mc_parse_f32's fast path (one correctly
 * rounded double operation on exact operands, then to float unless on a float midpoint),
 * without writing and scanning the text. */
static int reads_back(uint64_t m, int q, float af)
{
    if (m > (1ull << 53) || q > 22 || q < -22) return -1;
    double x = q >= 0 ? (double)m * POW10[q] : (double)m / POW10[-q];
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x1FFFFFFFu) == 0x10000000u || x < 1.1754943508222875e-38 ||
        x >= 3.4028234663852886e38)
        return -1;
    return (float)x == af;
}

/* NaN/Inf as null, zeros as "0"/"-0": 0 when v is none of these. */
static int format_special(char *dst, double v)
{
    const char *s = !isfinite(v) ? "null" : v != 0 ? NULL : signbit(v) ? "-0" : "0";
    if (!s) return 0;
    size_t n = strlen(s);
    memcpy(dst, s, n + 1);
    return (int)n;
}

/* The shortest decimal that reads back as f is the smallest p (1..9) whose correct p-digit
 * rounding reads back as f, as the shortest "%.{p}g" would give (9 digits always do). The
 * 9-digit rounding is computed once and the shorter ones derived from it; a candidate is
 * checked by the parser's own arithmetic (reads_back) or, when that cannot be sure, by
 * parsing its text. */
int mc_format_f32(char *dst, float f)
{
    int n = format_special(dst, f);
    if (n) return n;
    float af = fabsf(f);
    double d = af;
    uint64_t m9, m;
    int e9, e;
    round_sig(d, 9, &m9, &e9);
    /* half the gap to a neighbour is at most af * 2^-24, i.e. m9 * 2^-24 units of the 9th
     * digit; subnormals have wider gaps: no skipping there */
    uint64_t slack = af < 1.17549435e-38f ? UINT64_MAX : (m9 >> 24) + 2;
    for (int p = first_p(m9, 9, slack); p <= 9; p++) {
        if (p == 9) return write_digits(dst, f < 0, m9, 9, e9); /* 9 digits always do */
        int r = round_on(m9, e9, 9, p, slack, &m, &e);
        if (r == 0) continue;
        if (r < 0) round_sig(d, p, &m, &e);
        int rb = reads_back(m, e - (p - 1), af);
        if (rb == 0) continue;
        n = write_digits(dst, f < 0, m, p, e);
        float back;
        if (rb == 1 || (mc_parse_f32(dst, (size_t)n, &back) == 0 && back == f)) return n;
    }
    return snprintf(dst, 32, "%.9g", (double)f); /* not reached: 9 digits always read back */
}

/* Does m * 10^q read back (strtod, round to nearest even) as exactly d (> 0)? With m < 2^53
 * and |q| <= 22 both operands are exact and the one double operation is correctly rounded, as
 * strtod is. Else, where long double has a 64-bit mantissa (x86), m * 10^q in long double is
 * within 2^-63 (relative) of exact, which decides unless it lies that close to one of the
 * midpoints between d and its neighbours (exact in long double): then parse the written text,
 * as for what neither way covers (|q| > 27, subnormals). */
static int reads_back64(uint64_t m, int q, double d, const char *txt)
{
    if (m <= (1ull << 53) && q <= 22 && q >= -22)
        return (q >= 0 ? (double)m * POW10[q] : (double)m / POW10[-q]) == d;
#if LDBL_MANT_DIG >= 64
    if (q <= 27 && q >= -27 && d >= 2.2250738585072014e-308 && d < 1e300) {
        long double p10 = 1, x;
        for (int k = q < 0 ? -q : q; k > 0; k--) p10 *= 10; /* exact: 10^27 < 2^64 * 2^27 */
        x = q >= 0 ? (long double)m * p10 : (long double)m / p10;
        long double lo = ((long double)nextafter(d, 0) + d) / 2, hi = ((long double)nextafter(d, INFINITY) + d) / 2;
        long double tol = x * 0x1p-61L;
        if (x > lo + tol && x < hi - tol) return 1;
        if (x < lo - tol || x > hi + tol) return 0;
    }
#endif
    return fabs(strtod(txt, NULL)) == d;
}

/* The same for doubles: p = 1..17, the 17-digit rounding from printf (exact), the shorter ones
 * derived from it. */
int mc_format_f64(char *dst, double v)
{
    int n = format_special(dst, v);
    if (n) return n;
    double d = fabs(v);
    uint64_t m17, m;
    int e17, e;
    round_sig_exact(d, 17, &m17, &e17);
    uint64_t slack = d < 2.2250738585072014e-308 ? UINT64_MAX : (m17 >> 53) + 2;
    for (int p = first_p(m17, 17, slack); p <= 17; p++) {
        if (p == 17) return write_digits(dst, v < 0, m17, 17, e17); /* 17 digits always do */
        int r = round_on(m17, e17, 17, p, slack, &m, &e);
        if (r == 0) continue;
        if (r < 0) round_sig_exact(d, p, &m, &e);
        n = write_digits(dst, v < 0, m, p, e);
        if (reads_back64(m, e - (p - 1), d, dst)) return n;
    }
    return snprintf(dst, 32, "%.17g", v); /* not reached: 17 digits always read back */
}
