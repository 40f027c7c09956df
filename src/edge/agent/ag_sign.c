/* ag_sign.c: Ed25519 keys, signatures and SHA-256 on libsodium (see ag_sign.h). */
#include "edge/agent/ag_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "base/bs_error.h"

ms_status ag_sign_init(ms_error *err)
{
    if (sodium_init() < 0) return bs_fail(err, MS_ERR_RUNTIME, "libsodium failed to initialise");
    return MS_OK;
}

void ag_hex(char *dst, const uint8_t *src, size_t n)
{
    sodium_bin2hex(dst, 2 * n + 1, src, n);
}

int ag_unhex(uint8_t *dst, size_t n, const char *src, size_t len)
{
    while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == '\r' || src[len - 1] == ' ')) len--;
    if (len != 2 * n) return -1;
    size_t got = 0;
    if (sodium_hex2bin(dst, n, src, len, NULL, &got, NULL) != 0 || got != n) return -1;
    return 0;
}

/* Write `text` to a new file `path` with `mode`; refuses to replace one. */
static ms_status write_new(const char *path, const char *text, mode_t mode, ms_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) return bs_fail(err, MS_ERR_INVALID, "cannot create '%s': %s", path, strerror(errno));
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    ok = (fsync(fd) == 0) && ok;
    ok = (close(fd) == 0) && ok;
    if (!ok) {
        unlink(path);
        return bs_fail(err, MS_ERR_RUNTIME, "cannot write '%s': %s", path, strerror(errno));
    }
    return MS_OK;
}

ms_status ag_keygen(const char *path, char pub_hex[2 * AG_PK_BYTES + 1], ms_error *err)
{
    uint8_t pk[AG_PK_BYTES], sk[AG_SK_BYTES];
    char pub_path[4200], line[2 * AG_SK_BYTES + 32], skhex[2 * AG_SK_BYTES + 1];
    if (snprintf(pub_path, sizeof pub_path, "%s.pub", path) >= (int)sizeof pub_path)
        return bs_fail(err, MS_ERR_INVALID, "key path too long: '%.100s...'", path);
    if (access(pub_path, F_OK) == 0) return bs_fail(err, MS_ERR_INVALID, "'%s' already exists", pub_path);
    crypto_sign_keypair(pk, sk);
    ag_hex(skhex, sk, AG_SK_BYTES);
    snprintf(line, sizeof line, "ed25519-secret %s\n", skhex);
    sodium_memzero(sk, sizeof sk);
    ms_status st = write_new(path, line, 0600, err);
    sodium_memzero(line, sizeof line);
    sodium_memzero(skhex, sizeof skhex);
    if (st != MS_OK) return st;
    ag_hex(pub_hex, pk, AG_PK_BYTES);
    snprintf(line, sizeof line, "%s\n", pub_hex);
    if ((st = write_new(pub_path, line, 0644, err)) != MS_OK) unlink(path);
    return st;
}

/* Up to cap-1 bytes of a small text file, NUL-terminated; the length or -1 (err set). */
static long read_small(const char *path, char *buf, size_t cap, const char *what, ms_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        bs_fail(err, MS_ERR_INVALID, "cannot read %s '%s': %s", what, path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    buf[n] = 0;
    if (more) {
        bs_fail(err, MS_ERR_INVALID, "%s '%s' is too large to be a key", what, path);
        return -1;
    }
    return (long)n;
}

ms_status ag_read_secret(const char *path, uint8_t sk[AG_SK_BYTES], ms_error *err)
{
    char buf[512];
    long n = read_small(path, buf, sizeof buf, "key file", err);
    if (n < 0) return MS_ERR_INVALID;
    static const char tag[] = "ed25519-secret ";
    int ok = strncmp(buf, tag, sizeof tag - 1) == 0 &&
             ag_unhex(sk, AG_SK_BYTES, buf + sizeof tag - 1, (size_t)n - (sizeof tag - 1)) == 0;
    sodium_memzero(buf, sizeof buf);
    if (!ok)
        return bs_fail(err, MS_ERR_INVALID, "key file '%s' is not an mlship secret key (\"ed25519-secret <128 hex>\"; "
                       "make one with `mlship edge keygen`)", path);
    return MS_OK;
}

ms_status ag_read_public(const char *arg, uint8_t pk[AG_PK_BYTES], ms_error *err)
{
    if (ag_unhex(pk, AG_PK_BYTES, arg, strlen(arg)) == 0) return MS_OK;
    char buf[256];
    long n = read_small(arg, buf, sizeof buf, "public key", err);
    if (n < 0) return MS_ERR_INVALID;
    if (ag_unhex(pk, AG_PK_BYTES, buf, (size_t)n) != 0)
        return bs_fail(err, MS_ERR_INVALID, "public key '%s' is not 64 hex digits (an Ed25519 key from `mlship edge keygen`)", arg);
    return MS_OK;
}

void ag_sign(const uint8_t sk[AG_SK_BYTES], const void *msg, size_t len, char sig_hex[2 * AG_SIG_BYTES + 2])
{
    uint8_t sig[AG_SIG_BYTES];
    crypto_sign_detached(sig, NULL, msg, len, sk);
    ag_hex(sig_hex, sig, AG_SIG_BYTES);
    strcat(sig_hex, "\n");
}

ms_status ag_verify(const uint8_t pk[AG_PK_BYTES], const void *msg, size_t len, const char *sig_text,
                    size_t sig_len, ms_error *err)
{
    uint8_t sig[AG_SIG_BYTES];
    if (ag_unhex(sig, AG_SIG_BYTES, sig_text, sig_len) != 0)
        return bs_fail(err, MS_ERR_INVALID, "the signature is not 128 hex digits");
    if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
        return bs_fail(err, MS_ERR_INVALID, "the signature does not verify against the pinned public key");
    return MS_OK;
}

/* SHA-256 with OpenSSL's libcrypto rather than libsodium's: the agent re-hashes its slot at
 * every start, and libsodium's portable SHA-256 took 31M instructions for a 568 KB model, as
 * many as loading it (callgrind, the agent's cold start); libcrypto uses the CPU's SHA
 * instructions (SHA-NI, ARMv8 SHA2) where there are some. libsodium keeps the signatures. */
ms_status ag_sha256_init(ag_sha256 *h)
{
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
        return MS_ERR_RUNTIME;
    }
    return MS_OK;
}

void ag_sha256_update(ag_sha256 *h, const void *p, size_t n)
{
    if (h->ctx && n && EVP_DigestUpdate(h->ctx, p, n) != 1) {
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL; /* final reports it */
    }
}

ms_status ag_sha256_final(ag_sha256 *h, char hex[AG_SHA_HEX])
{
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    int ok = h->ctx && EVP_DigestFinal_ex(h->ctx, d, &n) == 1 && n == AG_SHA_BYTES;
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    if (!ok) return MS_ERR_RUNTIME;
    ag_hex(hex, d, AG_SHA_BYTES);
    return MS_OK;
}

ms_status ag_sha256_file(const char *path, char hex[AG_SHA_HEX], ms_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bs_fail(err, MS_ERR_INVALID, "cannot read '%s': %s", path, strerror(errno));
    ag_sha256 h;
    if (ag_sha256_init(&h) != MS_OK) {
        fclose(f);
        return bs_fail(err, MS_ERR_RUNTIME, "SHA-256 unavailable (libcrypto)");
    }
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) ag_sha256_update(&h, buf, n);
    int bad = ferror(f);
    fclose(f);
    ms_status st = ag_sha256_final(&h, hex);
    if (bad) return bs_fail(err, MS_ERR_RUNTIME, "error reading '%s'", path);
    if (st != MS_OK) return bs_fail(err, MS_ERR_RUNTIME, "SHA-256 of '%s' failed (libcrypto)", path);
    return MS_OK;
}
