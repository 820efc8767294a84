/* Tests for crypto/hmac: agreement with RFC 4231 and BoringSSL's HMAC(). */
#include "crypto/hmac.h"

#include <openssl/hmac.h>

#include "base/buf.h"
#include "harness.h"

static void hex_of(const uint8_t *p, size_t n, char *out) {
  hl_buf b;
  hl_buf_init(&b, out, 2 * n + 1);
  hl_buf_put_hex(&b, p, n);
  hl_buf_cstr(&b);
}

TEST(rfc4231_case_2) {
  hl_hmac_key k;
  hl_hmac_key_init(&k, "Jefe", 4);
  uint8_t mac[32];
  hl_hmac_sha256(&k, "what do ya want for nothing?", 28, mac);
  char hex[65];
  hex_of(mac, 32, hex);
  ASSERT_STR_EQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  hl_hmac_key_cleanup(&k);
}

TEST(rfc4231_case_6_key_longer_than_a_block) {
  uint8_t key[131];
  memset(key, 0xaa, sizeof(key));
  hl_hmac_key k;
  hl_hmac_key_init(&k, key, sizeof(key));
  const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
  uint8_t mac[32];
  hl_hmac_sha256(&k, msg, strlen(msg), mac);
  char hex[65];
  hex_of(mac, 32, hex);
  ASSERT_STR_EQ(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(github_vector) {
  const char *secret = "It's a Secret to Everybody";
  hl_hmac_key k;
  hl_hmac_key_init(&k, secret, strlen(secret));
  uint8_t mac[32];
  hl_hmac_sha256(&k, "Hello, World!", 13, mac);
  char hex[65];
  hex_of(mac, 32, hex);
  ASSERT_STR_EQ(hex, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST(agrees_with_boringssl_and_parts_concatenate) {
  uint8_t key[100], msg[3000];
  for (int iter = 0; iter < 300; iter++) {
    size_t key_len = hl_test_rand() % sizeof(key);
    size_t len = hl_test_rand() % sizeof(msg);
    for (size_t i = 0; i < key_len; i++) {
      key[i] = (uint8_t)hl_test_rand();
    }
    for (size_t i = 0; i < len; i++) {
      msg[i] = (uint8_t)hl_test_rand();
    }
    uint8_t want[32], got[32], got_parts[32];
    unsigned want_len = 0;
    HMAC(EVP_sha256(), key, key_len, msg, len, want, &want_len);
    ASSERT_EQ(want_len, 32);
    hl_hmac_key k;
    hl_hmac_key_init(&k, key, key_len);
    hl_hmac_sha256(&k, msg, len, got);
    ASSERT_MEM_EQ(got, 32, want, 32);
    size_t cut1 = len == 0 ? 0 : hl_test_rand() % (len + 1);
    size_t cut2 = cut1 + (len == cut1 ? 0 : hl_test_rand() % (len - cut1 + 1));
    hl_span parts[3] = {hl_span_make(msg, cut1), hl_span_make(msg + cut1, cut2 - cut1),
                        hl_span_make(msg + cut2, len - cut2)};
    hl_hmac_sha256_parts(&k, parts, 3, got_parts);
    ASSERT_MEM_EQ(got_parts, 32, want, 32);
  }
}
