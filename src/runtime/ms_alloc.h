/* ms_alloc.h: the allocator hook and the bump pool that holds a model's small objects
 * (names, attributes, graph arrays), freed all at once with the model. */
#ifndef MS_ALLOC_H
#define MS_ALLOC_H

#include "mlship.h"

void *ms_realloc(void *p, size_t n);
void *ms_calloc(size_t n, size_t size); /* overflow-checked */

typedef struct ms_pool_chunk ms_pool_chunk;
typedef struct ms_pool {
    ms_pool_chunk *head;
    size_t used, cap; /* of head */
} ms_pool;

void *ms_pool_alloc(ms_pool *p, size_t n, size_t align); /* zeroed; NULL on OOM */
char *ms_pool_strndup(ms_pool *p, const char *s, size_t n);
void ms_pool_free(ms_pool *p);

/* 64-byte-aligned blocks for tensor data (SIMD loads, cache lines). */
void *ms_aligned_alloc(size_t n);
void ms_aligned_free(void *p);

#endif
