/* hmac: HMAC-SHA256 over precomputed pads (see hmac.h). */
#include "crypto/hmac.h"

#include <openssl/mem.h>
#include <string.h>

void hl_hmac_key_init(hl_hmac_key *k, const void *key, size_t key_len) {
  uint8_t block[HL_SHA256_BLOCK_BYTES] = {0};
  if (key_len > sizeof(block)) {
    SHA256(key, key_len, block);
  } else if (key_len > 0) {
    memcpy(block, key, key_len);
  }
  uint8_t pad[HL_SHA256_BLOCK_BYTES];
  for (size_t i = 0; i < sizeof(pad); i++) {
    pad[i] = block[i] ^ 0x36;
  }
  SHA256_Init(&k->inner);
  SHA256_Update(&k->inner, pad, sizeof(pad));
  for (size_t i = 0; i < sizeof(pad); i++) {
    pad[i] = block[i] ^ 0x5c;
  }
  SHA256_Init(&k->outer);
  SHA256_Update(&k->outer, pad, sizeof(pad));
  OPENSSL_cleanse(block, sizeof(block));
  OPENSSL_cleanse(pad, sizeof(pad));
}

void hl_hmac_key_cleanup(hl_hmac_key *k) {
  OPENSSL_cleanse(k, sizeof(*k));
}

void hl_hmac_sha256_parts(const hl_hmac_key *k, const hl_span *parts, size_t n,
                          uint8_t out[HL_HMAC_SHA256_BYTES]) {
  SHA256_CTX c = k->inner;
  for (size_t i = 0; i < n; i++) {
    SHA256_Update(&c, parts[i].ptr, parts[i].len);
  }
  uint8_t inner_hash[HL_HMAC_SHA256_BYTES];
  SHA256_Final(inner_hash, &c);
  c = k->outer;
  SHA256_Update(&c, inner_hash, sizeof(inner_hash));
  SHA256_Final(out, &c);
}

void hl_hmac_sha256(const hl_hmac_key *k, const void *msg, size_t len,
                    uint8_t out[HL_HMAC_SHA256_BYTES]) {
  hl_span part = hl_span_make(msg, len);
  hl_hmac_sha256_parts(k, &part, 1, out);
}

void hl_hmac_key_state(const hl_hmac_key *k, uint32_t inner[8], uint32_t outer[8]) {
  memcpy(inner, k->inner.h, 8 * sizeof(uint32_t));
  memcpy(outer, k->outer.h, 8 * sizeof(uint32_t));
}
