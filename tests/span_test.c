/* Tests for base/span: the bounded reader. */
#include "base/span.h"

#include <stdint.h>

#include "harness.h"

TEST(reader_advances_only_on_success) {
  hl_span s = HL_SPAN_LIT("GET /x HTTP/1.1");
  hl_span word;
  ASSERT_TRUE(hl_span_get_until(&s, ' ', &word));
  ASSERT_SPAN_EQ(word, "GET");
  ASSERT_SPAN_EQ(s, "/x HTTP/1.1");
  ASSERT_FALSE(hl_span_get_until(&s, '\n', &word));
  ASSERT_SPAN_EQ(s, "/x HTTP/1.1");
  ASSERT_FALSE(hl_span_skip(&s, 100));
  ASSERT_EQ(s.len, 11);
  ASSERT_TRUE(hl_span_get_bytes(&s, 2, &word));
  ASSERT_SPAN_EQ(word, "/x");
  ASSERT_TRUE(hl_span_get_lit(&s, HL_SPAN_LIT(" HTTP/")));
  ASSERT_FALSE(hl_span_get_lit(&s, HL_SPAN_LIT("2.0")));
  uint8_t c;
  ASSERT_TRUE(hl_span_get_u8(&s, &c));
  ASSERT_EQ(c, '1');
  ASSERT_TRUE(hl_span_skip(&s, 2));
  ASSERT_FALSE(hl_span_get_u8(&s, &c));
  ASSERT_TRUE(hl_span_empty(s));
}

TEST(reader_is_bounded_by_a_guard_page) {
  /* Reading all of a span that ends at a PROT_NONE page must not touch the
   * page: the test would fault, not fail, if it did. */
  const char text[] = "a,b,c";
  char *p = hl_test_guard(text, 5);
  hl_span s = hl_span_make(p, 5);
  hl_span part;
  int parts = 0;
  while (hl_span_get_until(&s, ',', &part)) {
    parts++;
  }
  ASSERT_EQ(parts, 2);
  ASSERT_SPAN_EQ(s, "c");
  ASSERT_EQ(hl_span_find(s, 'x'), SIZE_MAX);
  hl_test_guard_free(p, 5);
}

TEST(comparisons) {
  ASSERT_TRUE(hl_span_eq_nocase(HL_SPAN_LIT("Content-Length"), HL_SPAN_LIT("content-length")));
  ASSERT_FALSE(hl_span_eq_nocase(HL_SPAN_LIT("Content-Length"), HL_SPAN_LIT("content-lengt")));
  ASSERT_TRUE(hl_span_ends_with_nocase(HL_SPAN_LIT("api.Example.INTERNAL"),
                                       HL_SPAN_LIT(".internal")));
  ASSERT_TRUE(hl_span_starts_with(HL_SPAN_LIT("whsec_abc"), HL_SPAN_LIT("whsec_")));
  ASSERT_FALSE(hl_span_starts_with(HL_SPAN_LIT("whs"), HL_SPAN_LIT("whsec_")));
  ASSERT_TRUE(hl_span_eq(HL_SPAN_NULL, HL_SPAN_LIT("")));
  ASSERT_SPAN_EQ(hl_span_trim_ows(HL_SPAN_LIT(" \t value \t")), "value");
  ASSERT_SPAN_EQ(hl_span_trim_ows(HL_SPAN_LIT("  ")), "");
  ASSERT_SPAN_EQ(hl_span_sub(HL_SPAN_LIT("abcdef"), 4, 10), "ef");
  ASSERT_SPAN_EQ(hl_span_sub(HL_SPAN_LIT("abcdef"), 10, 1), "");
}

TEST(parse_u64_is_strict_and_bounded) {
  uint64_t v = 0;
  ASSERT_TRUE(hl_span_parse_u64(HL_SPAN_LIT("65535"), 65535, &v));
  ASSERT_EQ(v, 65535);
  ASSERT_FALSE(hl_span_parse_u64(HL_SPAN_LIT("65536"), 65535, &v));
  ASSERT_FALSE(hl_span_parse_u64(HL_SPAN_LIT(""), 10, &v));
  ASSERT_FALSE(hl_span_parse_u64(HL_SPAN_LIT("+1"), 10, &v));
  ASSERT_FALSE(hl_span_parse_u64(HL_SPAN_LIT("1 "), 10, &v));
  ASSERT_FALSE(hl_span_parse_u64(HL_SPAN_LIT("7"), 5, &v));
  ASSERT_TRUE(hl_span_parse_u64(HL_SPAN_LIT("18446744073709551615"), UINT64_MAX, &v));
  ASSERT_EQ(v, UINT64_MAX);
  ASSERT_FALSE(hl_span_parse_u64(HL_SPAN_LIT("18446744073709551616"), UINT64_MAX, &v));
  ASSERT_TRUE(hl_span_parse_u64(HL_SPAN_LIT("000"), 0, &v));
  ASSERT_EQ(v, 0);
}

TEST(to_cstr_refuses_what_does_not_fit) {
  char out[4];
  ASSERT_TRUE(hl_span_to_cstr(HL_SPAN_LIT("abc"), out, sizeof(out)));
  ASSERT_STR_EQ(out, "abc");
  ASSERT_FALSE(hl_span_to_cstr(HL_SPAN_LIT("abcd"), out, sizeof(out)));
  ASSERT_STR_EQ(out, "");
  ASSERT_FALSE(hl_span_to_cstr(hl_span_make("a\0b", 3), out, sizeof(out)));
}
