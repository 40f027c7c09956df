/* ag_sign.h: the edge update's cryptography, all of it from libsodium: Ed25519 keys and
 * detached signatures over a manifest's exact bytes, SHA-256 of blobs, and the hex text form
 * every key, signature and digest takes on disk (one line, so nginx or an object store serves
 * it as-is and a person can compare it by eye).
 *
 *   KEYFILE      "ed25519-secret <128 hex>\n"  (libsodium's 64-byte secret key; mode 0600)
 *   KEYFILE.pub  "<64 hex>\n"                  (the 32-byte public key the device pins)
 *   manifest.sig "<128 hex>\n"                 (crypto_sign_detached over manifest.json) */
#ifndef AG_SIGN_H
#define AG_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "mlship.h"

#define AG_PK_BYTES 32
#define AG_SK_BYTES 64
#define AG_SIG_BYTES 64
#define AG_SHA_BYTES 32
#define AG_SHA_HEX 65 /* 64 hex digits and the NUL */

/* sodium_init once; MS_ERR_RUNTIME if libsodium cannot start. */
ms_status ag_sign_init(ms_error *err);

/* Write a new key pair: `path` (secret, 0600, refused if it exists) and `path`.pub.
 * `pub_hex` receives the public key in hex. */
ms_status ag_keygen(const char *path, char pub_hex[2 * AG_PK_BYTES + 1], ms_error *err);
ms_status ag_read_secret(const char *path, uint8_t sk[AG_SK_BYTES], ms_error *err);
/* A public key given as 64 hex digits, or the path of a file holding them. */
ms_status ag_read_public(const char *arg, uint8_t pk[AG_PK_BYTES], ms_error *err);

void ag_sign(const uint8_t sk[AG_SK_BYTES], const void *msg, size_t len, char sig_hex[2 * AG_SIG_BYTES + 2]);
/* MS_OK when `sig_text` (hex, trailing whitespace allowed) is pk's signature of msg; else
 * MS_ERR_INVALID saying whether the text is malformed or the signature does not verify. */
ms_status ag_verify(const uint8_t pk[AG_PK_BYTES], const void *msg, size_t len, const char *sig_text,
                    size_t sig_len, ms_error *err);

/* SHA-256 of a file in hex; MS_ERR_INVALID (names the file) if it cannot be read. */
ms_status ag_sha256_file(const char *path, char hex[AG_SHA_HEX], ms_error *err);
/* The same over bytes given piece by piece: init, update..., final (which frees). */
typedef struct ag_sha256 {
    void *ctx; /* libcrypto's EVP_MD_CTX */
} ag_sha256;
ms_status ag_sha256_init(ag_sha256 *h);
void ag_sha256_update(ag_sha256 *h, const void *p, size_t n);
ms_status ag_sha256_final(ag_sha256 *h, char hex[AG_SHA_HEX]);

/* Hex of n bytes into dst (2n + 1 bytes); parse exactly 2n hex digits (0 on success). */
void ag_hex(char *dst, const uint8_t *src, size_t n);
int ag_unhex(uint8_t *dst, size_t n, const char *src, size_t len);

#endif
