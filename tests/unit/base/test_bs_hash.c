/* test_bs_hash.c: base/bs_hash.c against FNV-1a 64's published test vectors (the FNV
 * reference test suite: "" is the offset basis, "a" and "foobar"), piecewise hashing, and the
 * values batch's --shard and default model versions depend on staying put. */
#include <stdint.h>
#include <string.h>

#include "base/bs_hash.h"
#include "mstest.h"

static uint64_t h(const char *s) { return bs_fnv1a(s, strlen(s), BS_FNV_INIT); }

TEST(published_vectors)
{
    CHECK(h("") == 0xcbf29ce484222325ull);
    CHECK(h("a") == 0xaf63dc4c8601ec8cull);
    CHECK(h("foobar") == 0x85944171f73967e8ull);
}

TEST(one_byte_by_hand)
{
    /* "a": (basis ^ 0x61) * prime, mod 2^64, written out */
    uint64_t want = (0xcbf29ce484222325ull ^ 0x61u) * 0x100000001b3ull;
    CHECK(h("a") == want);
}

TEST(pieces_chain)
{
    uint64_t part = bs_fnv1a("foo", 3, BS_FNV_INIT);
    CHECK(bs_fnv1a("bar", 3, part) == h("foobar"));
    CHECK(bs_fnv1a(NULL, 0, 12345) == 12345); /* no bytes: the hash passes through */
}

TEST(bytes_not_strings)
{
    /* a NUL inside the data is hashed like any byte */
    CHECK(bs_fnv1a("a\0b", 3, BS_FNV_INIT) != bs_fnv1a("a", 1, BS_FNV_INIT));
    /* bytes >= 0x80 are taken unsigned: 0xff xor-ed in, not sign-extended */
    uint64_t want = (0xcbf29ce484222325ull ^ 0xffu) * 0x100000001b3ull;
    CHECK(bs_fnv1a("\xff", 1, BS_FNV_INIT) == want);
}

TEST(stable_shards)
{
    /* --shard K/N sends a key to fnv1a(key) % N: "user:42" is 0x6c151ea4dcd221c2 (computed by
     * the loop in the FNV reference, outside mlship), so with N = 4 it is shard index 2 */
    CHECK(h("user:42") == 0x6c151ea4dcd221c2ull);
    CHECK(h("user:42") % 4 == 2);
}

int main(void)
{
    RUN(published_vectors);
    RUN(one_byte_by_hand);
    RUN(pieces_chain);
    RUN(bytes_not_strings);
    RUN(stable_shards);
    return mstest_summary();
}
