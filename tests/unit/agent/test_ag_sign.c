/* test_ag_sign.c: the edge update's cryptography (src/edge/agent/ag_sign.c) against published
 * known answers: RFC 8032's Ed25519 test vectors 1 and 2 (key, message, signature), FIPS
 * 180-2's SHA-256 of "abc"; then a round trip with a fresh key pair, and a flipped bit in the
 * message or the signature failing to verify. */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "edge/agent/ag_sign.h"
#include "mstest.h"

/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72) */
static const struct { const char *seed, *pk, *msg, *sig; } rfc[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

TEST(test_rfc8032_vectors)
{
    ms_error err;
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        uint8_t sk[AG_SK_BYTES], pk[AG_PK_BYTES], msg[8];
        size_t mlen = strlen(rfc[i].msg) / 2;
        CHECK(ag_unhex(sk, 32, rfc[i].seed, 64) == 0);
        CHECK(ag_unhex(pk, 32, rfc[i].pk, 64) == 0);
        CHECK(mlen == 0 || ag_unhex(msg, mlen, rfc[i].msg, 2 * mlen) == 0);
        memcpy(sk + 32, pk, 32); /* libsodium's secret key: seed, then public key */
        char sig[2 * AG_SIG_BYTES + 2];
        ag_sign(sk, msg, mlen, sig);
        CHECK_MSG(strncmp(sig, rfc[i].sig, 128) == 0, "vector %zu: %s", i + 1, sig);
        CHECK(ag_verify(pk, msg, mlen, rfc[i].sig, 128, &err) == MS_OK);
        char bad[129];
        memcpy(bad, rfc[i].sig, 129);
        bad[10] = bad[10] == '0' ? '1' : '0'; /* one bit or more of R changed */
        CHECK(ag_verify(pk, msg, mlen, bad, 128, &err) == MS_ERR_INVALID);
    }
}

TEST(test_sha256_abc)
{
    char path[] = "/tmp/mlship-agsign-XXXXXX", hex[AG_SHA_HEX];
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, "abc", 3) == 3);
    close(fd);
    ms_error err;
    CHECK(ag_sha256_file(path, hex, &err) == MS_OK);
    CHECK_MSG(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "%s", hex);
    /* FIPS 180-2's long vector: a million 'a', across many 64 KiB reads */
    fd = open(path, O_WRONLY | O_TRUNC);
    char a[1000];
    memset(a, 'a', sizeof a);
    for (int i = 0; i < 1000; i++) CHECK(write(fd, a, sizeof a) == (ssize_t)sizeof a);
    close(fd);
    CHECK(ag_sha256_file(path, hex, &err) == MS_OK);
    CHECK_MSG(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0, "%s", hex);
    unlink(path);
    CHECK(ag_sha256_file(path, hex, &err) == MS_ERR_INVALID && strstr(err.msg, path));
}

TEST(test_round_trip_and_flips)
{
    char dir[] = "/tmp/mlship-agkey-XXXXXX", key[200], pub[2 * AG_PK_BYTES + 1];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(key, sizeof key, "%s/k", dir);
    ms_error err;
    CHECK(ag_keygen(key, pub, &err) == MS_OK);
    CHECK(ag_keygen(key, pub, &err) != MS_OK); /* never overwrites a key */
    uint8_t sk[AG_SK_BYTES], pk[AG_PK_BYTES];
    char pubfile[220];
    snprintf(pubfile, sizeof pubfile, "%s.pub", key);
    CHECK(ag_read_secret(key, sk, &err) == MS_OK);
    CHECK(ag_read_public(pubfile, pk, &err) == MS_OK);
    uint8_t pk2[AG_PK_BYTES];
    CHECK(ag_read_public(pub, pk2, &err) == MS_OK && memcmp(pk, pk2, 32) == 0);
    char msg[] = "{\"format\": \"mlship-edge/1\", \"version\": 3}", sig[2 * AG_SIG_BYTES + 2];
    ag_sign(sk, msg, strlen(msg), sig);
    CHECK(ag_verify(pk, msg, strlen(msg), sig, strlen(sig), &err) == MS_OK); /* with its newline */
    int flips = 0;
    for (size_t bit = 0; bit < 8 * strlen(msg); bit += 13) {
        msg[bit / 8] ^= (char)(1 << (bit % 8));
        flips += ag_verify(pk, msg, strlen(msg), sig, strlen(sig), &err) == MS_ERR_INVALID;
        msg[bit / 8] ^= (char)(1 << (bit % 8));
    }
    CHECK_MSG(flips == (int)((8 * strlen(msg) + 12) / 13), "%d flipped messages refused", flips);
    CHECK(ag_verify(pk, msg, strlen(msg), "zz", 2, &err) == MS_ERR_INVALID && strstr(err.msg, "hex"));
    pk[0] ^= 1; /* another key */
    CHECK(ag_verify(pk, msg, strlen(msg), sig, strlen(sig), &err) == MS_ERR_INVALID);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    ms_error err;
    if (ag_sign_init(&err) != MS_OK) { printf("FAIL sodium_init: %s\n0 passed, 1 failed\n", err.msg); return 1; }
    RUN(test_rfc8032_vectors);
    RUN(test_sha256_abc);
    RUN(test_round_trip_and_flips);
    return mstest_summary();
}
