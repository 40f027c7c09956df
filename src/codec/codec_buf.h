/* codec_buf.h: a growable byte buffer (the codecs' output sink) and whole-file reading.
 *
 * A buffer starts zeroed (`mc_buf b = {0};`) and grows by doubling. Appends never fail
 * silently: on out-of-memory the buffer is marked failed, further appends are no-ops, and
 * mc_buf_failed() reports it once at the end (so hot loops need not check every append).
 * The data is always NUL-terminated after a successful append, so text output can be
 * printed directly. */
#ifndef CODEC_BUF_H
#define CODEC_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/bs_error.h"
#include "mlship.h"

typedef struct mc_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed; /* set on out-of-memory; the content is then incomplete */
} mc_buf;

/* Make room for `extra` more bytes (plus the terminating NUL). Returns 0, or -1 and sets
 * `failed`. */
int mc_buf_reserve(mc_buf *b, size_t extra);
void mc_buf_append(mc_buf *b, const void *p, size_t n);
void mc_buf_puts(mc_buf *b, const char *s);
void mc_buf_putc(mc_buf *b, char c);
void mc_buf_printf(mc_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void mc_buf_put_i64(mc_buf *b, int64_t v);
void mc_buf_put_u64(mc_buf *b, uint64_t v);
/* A JSON string literal with quotes; control characters and `"` `\` are escaped; bytes
 * >= 0x80 pass through (the input is assumed to be UTF-8). */
void mc_buf_put_json_str(mc_buf *b, const char *s);
static inline int mc_buf_failed(const mc_buf *b) { return b->failed; }
/* Forget the content, keep the memory (for reuse on a hot path). */
static inline void mc_buf_reset(mc_buf *b) { b->len = 0; b->failed = 0; if (b->data) b->data[0] = 0; }
void mc_buf_free(mc_buf *b);

/* Read a whole file ("-" is stdin) into `out` (NUL-terminated). MS_ERR_RUNTIME on I/O
 * errors, with a message naming the path. */
ms_status mc_read_file(const char *path, mc_buf *out, ms_error *err);
/* Bytes from an input (a CSV cell, a header name, a JSON key) made safe to quote in a message:
 * printable ASCII as it is, a backslash as \\, every other byte (controls, DEL, non-ASCII) as
 * \xNN; at most `max` input bytes, then "..." when cut. dst (cap bytes; MC_ESCAPE_CAP(max) is
 * always enough) is NUL-terminated and returned. The one escaper for echoed input text. */
#define MC_ESCAPE_CAP(max) (4 * (size_t)(max) + 4)
const char *mc_escape(char *dst, size_t cap, const char *s, size_t n, size_t max);
/* 1 when an open() errno means the path itself is wrong (missing, not a file, no permission):
 * bad input, MS_ERR_INVALID; else (EIO, EMFILE, ...) a runtime failure. */
int mc_errno_is_input(int e);
/* Write `len` bytes to `path` (created or truncated). */
ms_status mc_write_file(const char *path, const void *data, size_t len, ms_error *err);


#endif
