/* hmac: HMAC-SHA256 with the key's inner and outer pads hashed once.
 *
 * An endpoint's secret becomes an hl_hmac_key when the endpoint is loaded;
 * signing a message then costs two SHA-256 passes over the message and one
 * block, with no per-message key schedule. BoringSSL's SHA-256 (SHA-NI where
 * the CPU has it) does the hashing. The key's state words are exported for
 * the multi-buffer SIMD signer (crypto/hmac_mb), which starts every lane from
 * them. An hl_hmac_key holds derived key material: never log or print it, and
 * wipe it with hl_hmac_key_cleanup. */
#ifndef HL_CRYPTO_HMAC_H
#define HL_CRYPTO_HMAC_H

#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

#include "base/span.h"

#define HL_HMAC_SHA256_BYTES 32
#define HL_SHA256_BLOCK_BYTES 64

typedef struct hl_hmac_key {
  SHA256_CTX inner; /* state after hashing key ^ ipad (one block) */
  SHA256_CTX outer; /* state after hashing key ^ opad (one block) */
} hl_hmac_key;

/* hl_hmac_key_init derives the pads from |key| (any length; keys longer than
 * a block are hashed first, as RFC 2104 says). */
void hl_hmac_key_init(hl_hmac_key *k, const void *key, size_t key_len);

/* hl_hmac_key_cleanup wipes the key material. */
void hl_hmac_key_cleanup(hl_hmac_key *k);

/* hl_hmac_sha256 computes HMAC-SHA256(key, msg) into |out|. */
void hl_hmac_sha256(const hl_hmac_key *k, const void *msg, size_t len,
                    uint8_t out[HL_HMAC_SHA256_BYTES]);

/* hl_hmac_sha256_parts computes the HMAC of the concatenation of |parts|. */
void hl_hmac_sha256_parts(const hl_hmac_key *k, const hl_span *parts, size_t n,
                          uint8_t out[HL_HMAC_SHA256_BYTES]);

/* hl_hmac_key_state exports the chaining values after the inner and outer
 * pad blocks (64 bytes already hashed in each). */
void hl_hmac_key_state(const hl_hmac_key *k, uint32_t inner[8], uint32_t outer[8]);

/* hl_hmac_key_inner_words / hl_hmac_key_outer_words point at the same
 * chaining values in place, for the multi-buffer signer's per-job lane
 * set-up, where a call and a copy of both states per job show up. */
static inline const uint32_t *hl_hmac_key_inner_words(const hl_hmac_key *k) {
  return k->inner.h;
}

static inline const uint32_t *hl_hmac_key_outer_words(const hl_hmac_key *k) {
  return k->outer.h;
}

#endif
