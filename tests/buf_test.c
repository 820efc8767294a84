/* Tests for base/buf: the bounded builder and its codecs. */
#include "base/buf.h"

#include <errno.h>
#include <stdint.h>

#include "harness.h"

TEST(builder_writes_and_terminates) {
  char mem[64];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  hl_buf_put_cstr(&b, "len=");
  hl_buf_put_u64(&b, 18446744073709551615ull);
  hl_buf_putc(&b, ' ');
  hl_buf_put_i64(&b, INT64_MIN);
  hl_buf_putc(&b, ' ');
  hl_buf_put_i64(&b, 0);
  ASSERT_TRUE(hl_buf_ok(&b));
  ASSERT_STR_EQ(hl_buf_cstr(&b), "len=18446744073709551615 -9223372036854775808 0");
}

TEST(error_is_sticky_and_nothing_partial_is_written) {
  char mem[8];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  hl_buf_put_cstr(&b, "12345");
  hl_buf_put_cstr(&b, "6789"); /* does not fit: nothing of it is written */
  ASSERT_FALSE(hl_buf_ok(&b));
  ASSERT_EQ(b.len, 5);
  hl_buf_putc(&b, 'x'); /* would fit, but the error is sticky */
  ASSERT_EQ(b.len, 5);
  ASSERT_EQ(hl_buf_room(&b), 0);
  ASSERT_TRUE(hl_buf_reserve(&b, 1) == NULL);
  hl_buf_reset(&b);
  ASSERT_TRUE(hl_buf_ok(&b));
  hl_buf_put_cstr(&b, "1234567");
  ASSERT_STR_EQ(hl_buf_cstr(&b), "1234567");
  hl_buf_putc(&b, '8');
  hl_buf_cstr(&b); /* no room for the NUL */
  ASSERT_FALSE(hl_buf_ok(&b));
}

TEST(printf_sets_error_on_truncation) {
  char mem[6];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  hl_buf_printf(&b, "%d", 12345);
  ASSERT_TRUE(hl_buf_ok(&b));
  hl_buf_printf(&b, "%d", 6);
  ASSERT_FALSE(hl_buf_ok(&b));
  ASSERT_EQ(b.len, 5);
}

TEST(hex_round_trip) {
  char mem[64];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  const uint8_t bytes[] = {0x00, 0x7f, 0x80, 0xff, 0xab};
  hl_buf_put_hex(&b, bytes, sizeof(bytes));
  ASSERT_SPAN_EQ(hl_buf_span(&b), "007f80ffab");
  uint8_t out[8];
  size_t n = 0;
  ASSERT_EQ(hl_hex_decode(HL_SPAN_LIT("007F80ffAB"), out, sizeof(out), &n), 0);
  ASSERT_MEM_EQ(out, n, bytes, sizeof(bytes));
  ASSERT_EQ(hl_hex_decode(HL_SPAN_LIT("abc"), out, sizeof(out), &n), -EINVAL);
  ASSERT_EQ(hl_hex_decode(HL_SPAN_LIT("zz"), out, sizeof(out), &n), -EINVAL);
  ASSERT_EQ(hl_hex_decode(HL_SPAN_LIT("00112233445566778899"), out, sizeof(out), &n), -ENOSPC);
}

TEST(base64_rfc4648_vectors) {
  static const char *const vectors[][2] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
    char mem[32];
    hl_buf b;
    hl_buf_init(&b, mem, sizeof(mem));
    hl_buf_put_base64(&b, vectors[i][0], strlen(vectors[i][0]));
    ASSERT_SPAN_EQ(hl_buf_span(&b), vectors[i][1]);
    uint8_t out[32];
    size_t n = 99;
    ASSERT_EQ(hl_base64_decode(hl_span_cstr(vectors[i][1]), out, sizeof(out), &n), 0);
    ASSERT_MEM_EQ(out, n, vectors[i][0], strlen(vectors[i][0]));
  }
}

TEST(base64_rejects_non_canonical_and_malformed) {
  uint8_t out[16];
  size_t n;
  ASSERT_EQ(hl_base64_decode(HL_SPAN_LIT("Zh=="), out, sizeof(out), &n), -EINVAL);
  ASSERT_EQ(hl_base64_decode(HL_SPAN_LIT("Zm9=YmFy"), out, sizeof(out), &n), -EINVAL);
  ASSERT_EQ(hl_base64_decode(HL_SPAN_LIT("Zm9vY"), out, sizeof(out), &n), -EINVAL);
  ASSERT_EQ(hl_base64_decode(HL_SPAN_LIT("===="), out, sizeof(out), &n), -EINVAL);
  ASSERT_EQ(hl_base64_decode(HL_SPAN_LIT("Zm 9v"), out, sizeof(out), &n), -EINVAL);
  ASSERT_EQ(hl_base64_decode(HL_SPAN_LIT("Zm9vYmFy"), out, 5, &n), -ENOSPC);
}

TEST(base64_round_trips_random_bytes) {
  for (int iter = 0; iter < 2000; iter++) {
    uint8_t in[64];
    size_t len = hl_test_rand() % sizeof(in);
    for (size_t i = 0; i < len; i++) {
      in[i] = (uint8_t)hl_test_rand();
    }
    char mem[128];
    hl_buf b;
    hl_buf_init(&b, mem, sizeof(mem));
    hl_buf_put_base64(&b, in, len);
    ASSERT_TRUE(hl_buf_ok(&b));
    uint8_t out[64];
    size_t n;
    ASSERT_EQ(hl_base64_decode(hl_buf_span(&b), out, sizeof(out), &n), 0);
    ASSERT_MEM_EQ(out, n, in, len);
  }
}
