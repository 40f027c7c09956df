/* fuzz_common.h: what every mlship fuzz driver shares.
 *
 * - A capped allocator (ms_set_allocator): one request above FZ_CAP_BYTES gets NULL, so a
 *   mutant that asks for terabytes meets the runtime's out-of-memory path instead of
 *   libFuzzer's malloc limit, and each input's work stays bounded.
 * - fz_expect: the bad-input contract. A failing call returns MS_ERR_INVALID or
 *   MS_ERR_UNSUPPORTED with a message; MS_ERR_RUNTIME only as "out of memory" after the cap
 *   refused something. Anything else aborts, which libFuzzer reports as a crash. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include "mlship.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_CAP_BYTES ((size_t)64 << 20)

static int fz_refused;

static void *fz_alloc(size_t n)
{
    if (n > FZ_CAP_BYTES) {
        fz_refused = 1;
        return NULL;
    }
    return malloc(n);
}

static void *fz_realloc(void *p, size_t n)
{
    if (n > FZ_CAP_BYTES) {
        fz_refused = 1;
        return NULL;
    }
    return realloc(p, n);
}

static void fz_init(void) { ms_set_allocator(fz_alloc, fz_realloc, free); }

static inline void fz_expect(const char *call, ms_status st, const ms_error *err)
{
    if (st == MS_OK) return;
    int ok = st == MS_ERR_INVALID || st == MS_ERR_UNSUPPORTED ||
             (st == MS_ERR_RUNTIME && fz_refused && strstr(err->msg, "out of memory"));
    if (!ok || !err->msg[0]) {
        fprintf(stderr, "%s: undocumented result %d for bad input: '%s'\n", call, (int)st, err->msg);
        abort();
    }
}

/* The same contract for serve's body parsers, which answer with an HTTP status: 400 with a
 * message; 500 only as "out of memory" after the cap refused something. */
static inline void fz_expect_http(const char *call, int status, const char *msg)
{
    if (msg[0] && (status == 400 || (status == 500 && fz_refused && strstr(msg, "out of memory")))) return;
    fprintf(stderr, "%s: refused with %d '%s'\n", call, status, msg);
    abort();
}

/* Read every byte of a tensor's data (a bogus view then shows up under ASan). */
static inline unsigned fz_touch(const ms_tensor *t)
{
    unsigned acc = 0;
    int64_t n = ms_tensor_numel(t);
    if (t->dtype == MS_DTYPE_STRING) {
        for (int64_t i = 0; i < n; i++) acc += (unsigned)strlen(((const char *const *)t->data)[i]);
        return acc;
    }
    size_t bytes = (size_t)n * ms_dtype_size(t->dtype);
    for (size_t i = 0; i < bytes; i++) acc += ((const unsigned char *)t->data)[i];
    return acc;
}

#endif
