/* ms_alloc.c: one allocator hook for the whole runtime (so out-of-memory is testable and a
 * microcontroller can hand us a static arena), plus a bump pool for model metadata. */
#include "ms_alloc.h"

#include <stdlib.h>
#include <string.h>

static void *(*alloc_hook)(size_t) = malloc;
static void *(*realloc_hook)(void *, size_t) = realloc;
static void (*free_hook)(void *) = free;

void ms_set_allocator(void *(*a)(size_t), void *(*r)(void *, size_t), void (*f)(void *))
{
    alloc_hook = a ? a : malloc;
    realloc_hook = r ? r : realloc;
    free_hook = f ? f : free;
}

void *ms_malloc(size_t n) { return alloc_hook(n ? n : 1); }
void *ms_realloc(void *p, size_t n) { return realloc_hook(p, n ? n : 1); }
void ms_free(void *p)
{
    if (p) free_hook(p);
}

void *ms_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = ms_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

/* ---- pool ------------------------------------------------------------------------------ */

struct ms_pool_chunk {
    ms_pool_chunk *next;
    size_t cap;
    _Alignas(64) unsigned char data[];
};

void *ms_pool_alloc(ms_pool *p, size_t n, size_t align)
{
    if (align < 8) align = 8;
    size_t off = p->head ? (p->used + align - 1) & ~(align - 1) : 0;
    if (!p->head || off + n > p->cap || off + n < off) {
        size_t cap = n + align > 16384 ? n + align : 16384;
        if (cap < n) return NULL;
        ms_pool_chunk *c = ms_malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = p->head;
        c->cap = cap;
        p->head = c;
        p->cap = cap;
        off = 0;
    }
    void *r = p->head->data + off;
    p->used = off + n;
    memset(r, 0, n);
    return r;
}

char *ms_pool_strndup(ms_pool *p, const char *s, size_t n)
{
    char *r = ms_pool_alloc(p, n + 1, 1);
    if (r && n) memcpy(r, s, n);
    return r;
}

void ms_pool_free(ms_pool *p)
{
    for (ms_pool_chunk *c = p->head, *next; c; c = next) {
        next = c->next;
        ms_free(c);
    }
    p->head = NULL;
    p->used = p->cap = 0;
}

/* ---- aligned blocks -------------------------------------------------------------------- */

/* The hook is a plain malloc, so alignment is done by hand: the original pointer is kept in
 * the 8 bytes before the aligned block. */
void *ms_aligned_alloc(size_t n)
{
    if (n > SIZE_MAX - 72) return NULL;
    unsigned char *raw = ms_malloc(n + 72);
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + 8 + 63) & ~(uintptr_t)63;
    ((void **)a)[-1] = raw;
    return (void *)a;
}

void ms_aligned_free(void *p)
{
    if (p) ms_free(((void **)p)[-1]);
}
