/* queue_body.c: the SQLite queue's message body, one JSON object of string values that keeps
 * every byte (see queue_int.h). Hand-written rather than cJSON because cJSON strings end at
 * the first NUL byte and a message value may hold any bytes. */
#include <stdlib.h>
#include <string.h>

#include "queue/queue_int.h"

void qu_sb_put(qu_sb *b, const char *s, size_t n)
{
    if (b->oom || n == 0) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void qu_sb_free(qu_sb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ==== encoding ========================================================================== */

static int in(unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; }

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    if (in(s[0], 0xc2, 0xdf)) return n >= 2 && in(s[1], 0x80, 0xbf) ? 2 : 0;
    if (in(s[0], 0xe0, 0xef)) {
        unsigned lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
        return n >= 3 && in(s[1], lo, hi) && in(s[2], 0x80, 0xbf) ? 3 : 0;
    }
    if (in(s[0], 0xf0, 0xf4)) {
        unsigned lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && in(s[1], lo, hi) && in(s[2], 0x80, 0xbf) && in(s[3], 0x80, 0xbf) ? 4
                                                                                          : 0;
    }
    return 0;
}

static void put_escape(qu_sb *out, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    qu_sb_put(out, e, 6);
}

static void put_string(qu_sb *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    qu_sb_put(out, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed before an escape */
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (k > 1 || (k == 1 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')) {
            i += k, run += k;
            continue;
        }
        qu_sb_put(out, s + i - run, run);
        run = 0;
        if (p[i] == '"' || p[i] == '\\') qu_sb_put(out, p[i] == '"' ? "\\\"" : "\\\\", 2);
        else if (p[i] == '\n') qu_sb_put(out, "\\n", 2);
        else if (p[i] == '\t') qu_sb_put(out, "\\t", 2);
        else put_escape(out, p[i]); /* a control character, or a byte outside UTF-8 */
        i++;
    }
    qu_sb_put(out, s + n - run, run);
    qu_sb_put(out, "\"", 1);
}

void qu_body_encode(qu_sb *out, const qu_field *fields, int nfields)
{
    qu_sb_put(out, "{", 1);
    for (int i = 0; i < nfields; i++) {
        if (i) qu_sb_put(out, ",", 1);
        put_string(out, fields[i].name, fields[i].name_len);
        qu_sb_put(out, ":", 1);
        put_string(out, fields[i].val, fields[i].val_len);
    }
    qu_sb_put(out, "}", 1);
}

/* ==== decoding ========================================================================== */

typedef struct parser {
    const char *s;
    size_t n, i;
    qu_sb bytes;   /* every decoded name and value, back to back */
    size_t *spans; /* (offset, length) per string */
    size_t nspans, capspans;
} parser;

static void skip_ws(parser *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

static void put_utf8(qu_sb *b, unsigned cp)
{
    char u[4];
    size_t k;
    if (cp < 0x800) u[0] = (char)(0xc0 | cp >> 6), k = 2;
    else if (cp < 0x10000) u[0] = (char)(0xe0 | cp >> 12), k = 3;
    else u[0] = (char)(0xf0 | cp >> 18), k = 4;
    for (size_t j = 1; j < k; j++) u[j] = (char)(0x80 | ((cp >> (6 * (k - 1 - j))) & 0x3f));
    qu_sb_put(b, u, k);
}

/* \uXXXX at p->s + p->i (after the backslash-u): -1 when malformed. */
static int parse_u(parser *p)
{
    unsigned cp, lo;
    if (p->i + 4 > p->n || hex4(p->s + p->i, &cp)) return -1;
    p->i += 4;
    if (cp <= 0xff) { /* ASCII, or a single byte outside UTF-8 for 0x80..0xff (queue_int.h) */
        char c = (char)cp;
        qu_sb_put(&p->bytes, &c, 1);
        return 0;
    }
    if (cp >= 0xdc00 && cp <= 0xdfff) return -1;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (p->i + 6 > p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
            hex4(p->s + p->i + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return -1;
        p->i += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    put_utf8(&p->bytes, cp);
    return 0;
}

static int parse_string(parser *p)
{
    if (p->i >= p->n || p->s[p->i] != '"') return -1;
    p->i++;
    size_t start = p->bytes.len;
    while (p->i < p->n && p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i++];
        if (c < 0x20) return -1;
        if (c != '\\') {
            qu_sb_put(&p->bytes, (const char *)&c, 1);
            continue;
        }
        if (p->i >= p->n) return -1;
        char e = p->s[p->i++], c1;
        switch (e) {
        case '"': case '\\': case '/': c1 = e; break;
        case 'b': c1 = '\b'; break;
        case 'f': c1 = '\f'; break;
        case 'n': c1 = '\n'; break;
        case 'r': c1 = '\r'; break;
        case 't': c1 = '\t'; break;
        case 'u':
            if (parse_u(p)) return -1;
            continue;
        default: return -1;
        }
        qu_sb_put(&p->bytes, &c1, 1);
    }
    if (p->i >= p->n) return -1;
    p->i++;
    if (p->nspans + 2 > p->capspans) {
        size_t cap = p->capspans ? p->capspans * 2 : 16;
        size_t *s = realloc(p->spans, cap * sizeof *s);
        if (!s) return -1;
        p->spans = s, p->capspans = cap;
    }
    p->spans[p->nspans++] = start;
    p->spans[p->nspans++] = p->bytes.len - start;
    return 0;
}

/* The object's members into p->spans; -1 at the first error (p->i is where). */
static int parse_object(parser *p)
{
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i++] != '{') return -1;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
    } else {
        for (;;) {
            skip_ws(p);
            if (parse_string(p)) return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i++] != ':') return -1;
            skip_ws(p);
            if (parse_string(p)) return -1;
            skip_ws(p);
            if (p->i >= p->n) return -1;
            char c = p->s[p->i++];
            if (c == '}') break;
            if (c != ',') return -1;
        }
    }
    skip_ws(p);
    return p->i == p->n && !p->bytes.oom ? 0 : -1;
}

ms_status qu_body_decode(const char *body, size_t len, qu_batch *b, qu_msg **out,
                         ms_error *err)
{
    parser p = {.s = body, .n = len};
    ms_status st = MS_OK;
    *out = NULL;
    if (parse_object(&p)) {
        st = p.bytes.oom ? bs_fail(err, MS_ERR_RUNTIME, "out of memory")
                         : bs_fail(err, MS_ERR_INVALID,
                                   "message body is not a JSON object of strings (at byte %zu)",
                                   p.i);
    } else {
        int nf = (int)(p.nspans / 4);
        const char *base = p.bytes.p ? p.bytes.p : ""; /* every string empty: nothing stored */
        qu_field *f = malloc((size_t)(nf ? nf : 1) * sizeof *f);
        for (int k = 0; f && k < nf; k++)
            f[k] = (qu_field){base + p.spans[4 * k], p.spans[4 * k + 1], base + p.spans[4 * k + 2],
                              p.spans[4 * k + 3]};
        if (!f || !(*out = qu_batch_add(b, f, nf))) st = bs_fail(err, MS_ERR_RUNTIME, "out of memory");
        free(f);
    }
    qu_sb_free(&p.bytes);
    free(p.spans);
    return st;
}
