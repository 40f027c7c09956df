/* bs_hash.h: FNV-1a, 64-bit: the hash of keys and fingerprints above the runtime (batch's
 * shard of a key and its duplicate-key set, input fingerprints, the PostgreSQL backend's key
 * index). It is part of what a user sees: `--shard K/N` sends a key to shard
 * fnv1a(key) % N and a model file's default version is "fnv-" and its hash, so the function
 * and its constants never change. Not for anything an attacker picks keys against. */
#ifndef BS_HASH_H
#define BS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define BS_FNV_INIT 0xcbf29ce484222325ull /* FNV-1a's 64-bit offset basis */

/* Continue hash `h` (BS_FNV_INIT to start) over n bytes, so pieces can be hashed in turn. */
uint64_t bs_fnv1a(const void *p, size_t n, uint64_t h);

#endif
