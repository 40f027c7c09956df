/* bt_keyset.c: a set of key hashes with first lines (see bt_keyset.h). */
#include "batch/bt_keyset.h"

#include <stdlib.h>

#include "batch/bt_source.h"

/* The shard hash is FNV-1a too, so within a shard the low bits are not uniform: mix them
 * (the splitmix64 finalizer) before taking a slot. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1; /* 0 marks an empty slot */
}

static size_t find(const uint64_t *h, size_t cap, uint64_t v)
{
    size_t i = (size_t)v & (cap - 1);
    while (h[i] && h[i] != v) i = (i + 1) & (cap - 1);
    return i;
}

static int grow_to(bt_keyset *s, size_t cap)
{
    uint64_t *h = calloc(cap, sizeof *h);
    uint32_t *line = malloc(cap * sizeof *line);
    if (!h || !line) {
        free(h);
        free(line);
        return -1;
    }
    for (size_t i = 0; i < s->cap; i++)
        if (s->h[i]) {
            size_t j = find(h, cap, s->h[i]);
            h[j] = s->h[i];
            line[j] = s->line[i];
        }
    free(s->h);
    free(s->line);
    s->h = h;
    s->line = line;
    s->cap = cap;
    return 0;
}

static int grow(bt_keyset *s) { return grow_to(s, s->cap ? s->cap * 2 : 1024); }

int bt_keyset_reserve(bt_keyset *s, size_t n)
{
    if (n > ((size_t)1 << 40)) n = (size_t)1 << 40; /* an estimate, not a promise */
    size_t cap = s->cap ? s->cap : 1024;
    while (n * 5 > cap * 4) cap *= 2;
    return cap > s->cap ? grow_to(s, cap) : 0;
}

static uint32_t pack_line(int64_t line)
{
    if (line <= 0) return 0;
    return line >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)line;
}

static int64_t unpack_line(uint32_t v)
{
    return v == 0 ? BT_LINE_UNKNOWN : v == UINT32_MAX ? BT_LINE_BEYOND : (int64_t)v;
}

uint64_t bt_keyset_hash(const char *key, size_t n) { return mix(bs_fnv1a(key, n, BS_FNV_INIT)); }

void bt_keyset_prefetch(const bt_keyset *s, uint64_t hash)
{
#if defined(__GNUC__)
    if (s->cap) __builtin_prefetch(&s->h[(size_t)hash & (s->cap - 1)]);
#else
    (void)s, (void)hash;
#endif
}

int bt_keyset_add(bt_keyset *s, const char *key, size_t n, int64_t line, int64_t *first)
{
    return bt_keyset_add_hash(s, bt_keyset_hash(key, n), line, first);
}

int bt_keyset_add_hash(bt_keyset *s, uint64_t v, int64_t line, int64_t *first)
{
    if ((s->n + 1) * 5 > s->cap * 4 && grow(s)) return -1;
    size_t i = find(s->h, s->cap, v);
    if (s->h[i]) {
        *first = unpack_line(s->line[i]);
        return 1;
    }
    s->h[i] = v;
    s->line[i] = pack_line(line);
    s->n++;
    return 0;
}

void bt_keyset_free(bt_keyset *s)
{
    free(s->h);
    free(s->line);
    s->h = NULL;
    s->line = NULL;
    s->cap = s->n = 0;
}
