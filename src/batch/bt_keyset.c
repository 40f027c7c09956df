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

static bt_keyslot *find(bt_keyslot *slot, size_t cap, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (slot[i].h && slot[i].h != h) i = (i + 1) & (cap - 1);
    return &slot[i];
}

static int grow(bt_keyset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    bt_keyslot *n = calloc(cap, sizeof *n);
    if (!n) return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i].h) *find(n, cap, s->slot[i].h) = s->slot[i];
    free(s->slot);
    s->slot = n;
    s->cap = cap;
    return 0;
}

int bt_keyset_add(bt_keyset *s, const char *key, size_t n, int64_t line, int64_t *first)
{
    if ((s->n + 1) * 4 > s->cap * 3 && grow(s)) return -1;
    uint64_t h = mix(bt_fnv1a(key, n, BT_FNV_INIT));
    bt_keyslot *e = find(s->slot, s->cap, h);
    if (e->h) {
        *first = e->line;
        return 1;
    }
    e->h = h;
    e->line = line;
    s->n++;
    return 0;
}

void bt_keyset_free(bt_keyset *s)
{
    free(s->slot);
    s->slot = NULL;
    s->cap = s->n = 0;
}
