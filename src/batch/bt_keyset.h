/* bt_keyset.h: the keys a batch run has scored, to refuse a duplicate key (the first row with a
 * key is scored, later ones are rejected naming the first one's line).
 *
 * An open-addressing table of 64-bit key hashes (FNV-1a, mixed) with the line of each key's
 * first row: 16 bytes a slot, at most 3/4 full, so 21 to 43 bytes per distinct key whatever
 * the key's length (about 32 MB for a million keys). Keys are compared by hash: two different
 * keys share a 64-bit hash with probability about n^2 / 2^65 (3e-8 for a million keys); such
 * a pair would be rejected as a duplicate, and the reject names the line to look at. A resumed
 * run refills the set from the store (st_run_keys) with line -1: "before the resume". */
#ifndef BT_KEYSET_H
#define BT_KEYSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct bt_keyslot {
    uint64_t h; /* 0: empty */
    int64_t line;
} bt_keyslot;

typedef struct bt_keyset {
    bt_keyslot *slot;
    size_t cap, n; /* cap: 0 or a power of two */
} bt_keyset;

/* Record `key` first seen at `line`: 0 if it is new, 1 if it was already there (*first = the
 * line recorded for it), -1 when out of memory. */
int bt_keyset_add(bt_keyset *s, const char *key, size_t n, int64_t line, int64_t *first);
void bt_keyset_free(bt_keyset *s); /* frees the slots, not s */

#endif
