/* bt_keyset.h: the keys a batch run has scored, to refuse a duplicate key (the first row with a
 * key is scored, later ones are rejected naming the first one's line).
 *
 * An open-addressing table of 64-bit key hashes (FNV-1a, mixed) and, beside it, the line of
 * each key's first row as 32 bits: 12 bytes a slot, at most 4/5 full, so 15 to 30 bytes per
 * distinct key whatever the key's length (24 MB at a million keys, 48 MB at three million;
 * the job sizes it from the input's size up front, so it does not double while filling).
 * Keys are compared by hash: two different keys share a 64-bit hash with probability about
 * n^2 / 2^65 (3e-8 for a million keys); such a pair would be rejected as a duplicate, and the
 * reject names the line to look at. A resumed run refills the set from the store
 * (st_run_keys) with line BT_LINE_UNKNOWN: "before the resume". */
#ifndef BT_KEYSET_H
#define BT_KEYSET_H

#include <stddef.h>
#include <stdint.h>

#define BT_LINE_UNKNOWN (-1)       /* recorded before a resume */
#define BT_LINE_BEYOND INT64_MAX   /* a line past 2^32 - 2: too far to keep exactly */

typedef struct bt_keyset {
    uint64_t *h;    /* 0: empty */
    uint32_t *line; /* 0: unknown, UINT32_MAX: beyond, else the line */
    size_t cap, n;  /* cap: 0 or a power of two */
} bt_keyset;

/* Record `key` first seen at `line` (or BT_LINE_UNKNOWN): 0 if it is new, 1 if it was already
 * there (*first = its line, BT_LINE_UNKNOWN or BT_LINE_BEYOND), -1 when out of memory. */
int bt_keyset_add(bt_keyset *s, const char *key, size_t n, int64_t line, int64_t *first);
/* The same in two steps, for a loop over many keys: the hash of a key, a prefetch of its
 * slot (a table of millions of keys misses the cache on every lookup: prefetching a few keys
 * ahead hides that), and the add by hash. */
uint64_t bt_keyset_hash(const char *key, size_t n);
void bt_keyset_prefetch(const bt_keyset *s, uint64_t hash);
int bt_keyset_add_hash(bt_keyset *s, uint64_t hash, int64_t line, int64_t *first);
/* Size the table for about n keys at once (an estimate of the input's rows), so that it does
 * not double, with the old and new tables both held, as it fills. 0, or -1 out of memory. */
int bt_keyset_reserve(bt_keyset *s, size_t n);
void bt_keyset_free(bt_keyset *s); /* frees the table, not s */

#endif
