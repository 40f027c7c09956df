/* bs_hash.c: FNV-1a 64 (see bs_hash.h). */
#include "base/bs_hash.h"

uint64_t bs_fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull; /* the 64-bit FNV prime */
    }
    return h;
}
