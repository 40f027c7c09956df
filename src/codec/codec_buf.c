/* codec_buf.c: growable byte buffer, whole-file reads and writes, the input escaper. */
#include "codec/codec_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mc_buf_reserve(mc_buf *b, size_t extra)
{
    if (b->failed) return -1;
    if (extra > SIZE_MAX - b->len - 1) { b->failed = 1; return -1; }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) { b->failed = 1; return -1; }
    b->data = p;
    b->cap = cap;
    return 0;
}

void mc_buf_append(mc_buf *b, const void *p, size_t n)
{
    if (mc_buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void mc_buf_puts(mc_buf *b, const char *s) { mc_buf_append(b, s, strlen(s)); }

void mc_buf_putc(mc_buf *b, char c)
{
    if (mc_buf_reserve(b, 1)) return;
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

void mc_buf_printf(mc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[128];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = 1; return; }
    if ((size_t)n < sizeof small) { mc_buf_append(b, small, (size_t)n); return; }
    if (mc_buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Digits are produced backwards into a small stack buffer: no snprintf on the hot path. */
void mc_buf_put_u64(mc_buf *b, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do { tmp[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    mc_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

void mc_buf_put_i64(mc_buf *b, int64_t v)
{
    if (v < 0) {
        mc_buf_putc(b, '-');
        /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
        mc_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        mc_buf_put_u64(b, (uint64_t)v);
    }
}

void mc_buf_put_json_str(mc_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    mc_buf_putc(b, '"');
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        mc_buf_append(b, run, (size_t)(s - run));
        run = s + 1;
        char esc[6] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            mc_buf_append(b, esc, 6);
            continue;
        }
        mc_buf_append(b, esc, 2);
    }
    mc_buf_append(b, run, (size_t)(s - run));
    mc_buf_putc(b, '"');
}

void mc_buf_free(mc_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

const char *mc_escape(char *dst, size_t cap, const char *s, size_t n, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0, i = 0;
    if (cap == 0) return dst;
    for (; s && i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        char t[4] = {(char)c, 0, 0, 0};
        size_t w = 1;
        if (c == '\\') t[1] = '\\', w = 2;
        else if (c < 0x20 || c >= 0x7f) t[0] = '\\', t[1] = 'x', t[2] = hex[c >> 4], t[3] = hex[c & 15], w = 4;
        if (k + w + 4 > cap) break; /* keep room for "..." and the NUL */
        memcpy(dst + k, t, w);
        k += w;
    }
    if (s && i < n && k + 4 <= cap) memcpy(dst + k, "...", 3), k += 3;
    dst[k] = 0;
    return dst;
}

int mc_errno_is_input(int e)
{
    return e == ENOENT || e == ENOTDIR || e == EACCES || e == EISDIR || e == ELOOP ||
           e == ENAMETOOLONG;
}

ms_status mc_read_file(const char *path, mc_buf *out, ms_error *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    /* A path that names nothing readable is the caller's mistake (bad input), not a
     * failure of the machine; other errors (EIO, EMFILE, ENOMEM) are runtime failures. */
    if (!f)
        return bs_fail(err, mc_errno_is_input(errno) ? MS_ERR_INVALID : MS_ERR_RUNTIME,
                       "cannot open '%s': %s", path, strerror(errno));
    out->len = 0;
    out->failed = 0;
    for (;;) {
        if (mc_buf_reserve(out, 65536)) break;
        size_t n = fread(out->data + out->len, 1, out->cap - out->len - 1, f);
        out->len += n;
        out->data[out->len] = 0;
        if (n == 0) break;
    }
    int bad = ferror(f);
    int saved = errno;
    if (!is_stdin) fclose(f);
    if (out->failed) return bs_fail(err, MS_ERR_RUNTIME, "out of memory reading '%s'", path);
    if (bad)
        return bs_fail(err, saved == EISDIR ? MS_ERR_INVALID : MS_ERR_RUNTIME, "cannot read '%s': %s",
                       is_stdin ? "stdin" : path, strerror(saved));
    return MS_OK;
}

ms_status mc_write_file(const char *path, const void *data, size_t len, ms_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return bs_fail(err, MS_ERR_RUNTIME, "cannot create '%s': %s", path, strerror(errno));
    size_t n = len ? fwrite(data, 1, len, f) : 0;
    int bad = n != len || fflush(f) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !bad) { bad = 1; saved = errno; }
    if (bad) return bs_fail(err, MS_ERR_RUNTIME, "cannot write '%s': %s", path, strerror(saved));
    return MS_OK;
}
