/* Tests for text/json_escape: the escaping table, U+FFFD for ill-formed
 * UTF-8, exact capacity handling, and byte-identical output from the scalar,
 * AVX2 and AVX-512 implementations on random inputs at random alignments.
 * Every output, wrapped in quotes, must pass hl_json_validate. */
#include "text/json_escape.h"

#include <errno.h>
#include <stdlib.h>

#include "base/assert.h"
#include "base/cpu.h"
#include "harness.h"
#include "text/json_scan.h"
#include "text/utf8.h"

static const struct {
  hl_json_escape_kind kind;
  const char *name;
} kinds[] = {
    {HL_JSON_ESCAPE_SCALAR, "scalar"},
    {HL_JSON_ESCAPE_AVX2, "avx2"},
    {HL_JSON_ESCAPE_AVX512, "avx512"},
};

typedef struct esc_case {
  const char *in;
  size_t in_len;
  const char *out;
} esc_case;
#define E(in, out) {(in), sizeof(in) - 1, (out)}
#define FFFD "\xEF\xBF\xBD"

static const esc_case cases[] = {
    E("", ""),
    E("abc", "abc"),
    E("\"", "\\\""),
    E("\\", "\\\\"),
    E("a\"b\\c", "a\\\"b\\\\c"),
    E("\b\f\n\r\t", "\\b\\f\\n\\r\\t"),
    E("\x00", "\\u0000"),
    E("\x01\x0b\x1f", "\\u0001\\u000b\\u001f"),
    E("\x7f", "\x7f"),
    E("/", "/"),
    E("</script>", "</script>"),
    E("\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E", "\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E"),
    E("\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"),
    E("\x80", FFFD),
    E("\xC3", FFFD),
    E("\xC3(", FFFD "("),
    E("\xC0\xAF", FFFD FFFD),
    E("\xE0\x80\xAF", FFFD FFFD FFFD),
    E("\xE2\x82", FFFD),
    E("\xE2\x82z", FFFD "z"),
    E("\xF0\x9D\x84", FFFD),
    E("\xF0\x9D\x84" "A", FFFD "A"),
    E("\xED\xA0\x80", FFFD FFFD FFFD),
    E("\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD),
    E("\xF5\xFF\xFE", FFFD FFFD FFFD),
    E("\xC3\xA9\xC3\"", "\xC3\xA9" FFFD "\\\""),
    E("0123456789abcdef0123456789abcdef\"0123456789abcdef0123456789abcdef\n",
      "0123456789abcdef0123456789abcdef\\\"0123456789abcdef0123456789abcdef\\n"),
};

static hl_json_escape_fn get_or_skip(hl_json_escape_kind kind) {
  hl_json_escape_fn fn = hl_json_escape_get(kind);
  if (fn == NULL) {
    TEST_SKIP("this CPU lacks the instruction set");
  }
  return fn;
}

static void check_table(hl_json_escape_kind kind) {
  hl_json_escape_fn fn = get_or_skip(kind);
  for (size_t i = 0; i < HL_ARRAY_LEN(cases); i++) {
    char mem[512];
    hl_buf b;
    hl_buf_init(&b, mem, sizeof(mem));
    hl_buf_put_cstr(&b, "[");
    char *g = hl_test_guard(cases[i].in, cases[i].in_len);
    fn(&b, hl_span_make(g, cases[i].in_len));
    hl_test_guard_free(g, cases[i].in_len);
    ASSERT_TRUE(hl_buf_ok(&b));
    ASSERT_MEM_EQ(b.ptr + 1, b.len - 1, cases[i].out, strlen(cases[i].out));
  }
}

TEST(table_scalar) {
  check_table(HL_JSON_ESCAPE_SCALAR);
}

TEST(table_avx2) {
  check_table(HL_JSON_ESCAPE_AVX2);
}

TEST(table_avx512) {
  check_table(HL_JSON_ESCAPE_AVX512);
}

TEST(dispatch_picks_an_available_implementation) {
  hl_json_escape_fn best = hl_json_escape_best();
  ASSERT_TRUE(best != NULL);
  if (hl_cpu_has(HL_CPU_AVX512)) {
    ASSERT_TRUE(best == hl_json_escape_avx512);
  } else if (hl_cpu_has(HL_CPU_AVX2)) {
    ASSERT_TRUE(best == hl_json_escape_avx2);
  } else {
    ASSERT_TRUE(best == hl_json_escape_scalar);
  }
  ASSERT_TRUE(hl_json_escape_get(HL_JSON_ESCAPE_SCALAR) == hl_json_escape_scalar);
  char mem[16];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  hl_json_escape(&b, HL_SPAN_LIT("a\"b"));
  ASSERT_SPAN_EQ(hl_buf_span(&b), "a\\\"b");
}

/* A capacity that exactly fits works; one byte less sets the sticky error
 * and keeps nothing of the input, in every implementation and at every
 * point where the output can run out. */
TEST(capacity_is_exact_and_error_sticky) {
  char in[200];
  size_t n = 0;
  while (n + 12 < sizeof(in)) {
    memcpy(in + n, "ab\"\x01\xC3\xA9xyz\x80", 10);
    n += 10;
  }
  for (size_t k = 0; k < HL_ARRAY_LEN(kinds); k++) {
    hl_json_escape_fn fn = hl_json_escape_get(kinds[k].kind);
    if (fn == NULL) {
      continue;
    }
    char want[2048];
    hl_buf ref;
    hl_buf_init(&ref, want, sizeof(want));
    hl_json_escape_scalar(&ref, hl_span_make(in, n));
    ASSERT_TRUE(hl_buf_ok(&ref));
    for (size_t cap = 3; cap <= ref.len + 3; cap++) {
      char mem[2048];
      hl_buf b;
      hl_buf_init(&b, mem, cap);
      hl_buf_put_cstr(&b, "pre");
      fn(&b, hl_span_make(in, n));
      if (cap >= ref.len + 3) {
        ASSERT_TRUE(hl_buf_ok(&b));
        ASSERT_MEM_EQ(b.ptr + 3, b.len - 3, ref.ptr, ref.len);
      } else {
        ASSERT_FALSE(hl_buf_ok(&b));
        ASSERT_EQ(b.len, 3);
        fn(&b, HL_SPAN_LIT("x")); /* sticky */
        ASSERT_EQ(b.len, 3);
      }
    }
  }
}

/* random_input fills |p| with |n| bytes of one of several shapes. */
static void random_input(uint8_t *p, size_t n, int shape) {
  static const char *const utf8[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9D\x84\x9E", "\xD0\x96",
                                     "\xE4\xB8\xAD"};
  size_t i = 0;
  while (i < n) {
    uint64_t r = hl_test_rand();
    switch (shape) {
      case 0: /* ASCII text, mostly clean */
        p[i++] = r % 100 == 0 ? (uint8_t)"\"\\\n"[r % 3] : (uint8_t)(0x20 + r % 95);
        break;
      case 1: /* many quotes and controls */
        p[i++] = (uint8_t)(r % 3 == 0 ? '"' : r % 3 == 1 ? r % 0x20 : 'a' + r % 26);
        break;
      case 2: { /* valid UTF-8 mixed with ASCII */
        if (r % 3 == 0) {
          const char *s = utf8[(r >> 8) % HL_ARRAY_LEN(utf8)];
          size_t l = strlen(s);
          if (i + l > n) {
            p[i++] = 'x';
            break;
          }
          memcpy(p + i, s, l);
          i += l;
        } else {
          p[i++] = (uint8_t)('a' + r % 26);
        }
        break;
      }
      default: /* any bytes */
        p[i++] = (uint8_t)r;
        break;
    }
  }
}

TEST(implementations_agree_on_random_inputs) {
  enum { IN_MAX = 1200, OUT_MAX = IN_MAX * HL_JSON_ESCAPE_GROWTH_MAX + 8 };
  static uint8_t in[IN_MAX];
  static char quoted[OUT_MAX], other[OUT_MAX], dec[OUT_MAX];
  for (int iter = 0; iter < 6000; iter++) {
    size_t n = hl_test_rand() % (iter % 10 == 0 ? 1100 : 200);
    size_t align = hl_test_rand() % 64;
    random_input(in + align, n, (int)(hl_test_rand() % 4));
    hl_span s = hl_span_make(in + align, n);
    /* The scalar output, in quotes, is the reference. */
    hl_buf q;
    hl_buf_init(&q, quoted, sizeof(quoted));
    hl_buf_putc(&q, '"');
    hl_json_escape_scalar(&q, s);
    hl_buf_putc(&q, '"');
    ASSERT_TRUE(hl_buf_ok(&q));
    for (size_t k = 1; k < HL_ARRAY_LEN(kinds); k++) {
      hl_json_escape_fn fn = hl_json_escape_get(kinds[k].kind);
      if (fn == NULL) {
        continue;
      }
      size_t oalign = hl_test_rand() % 8;
      hl_buf b;
      hl_buf_init(&b, other + oalign, sizeof(other) - oalign);
      fn(&b, s);
      ASSERT_TRUE(hl_buf_ok(&b));
      ASSERT_MEM_EQ(b.ptr, b.len, quoted + 1, q.len - 2);
    }
    hl_err err;
    if (hl_json_validate(hl_buf_span(&q), 0, &err) != 0) {
      hl_test_fail(__FILE__, __LINE__, "escaped output does not validate: %s", err.msg);
    }
    /* Decoding gives the input back exactly when it was valid UTF-8. */
    hl_buf d;
    hl_buf_init(&d, dec, sizeof(dec));
    ASSERT_EQ(hl_json_string_decode(hl_buf_span(&q), &d), 0);
    if (hl_utf8_valid(s)) {
      ASSERT_MEM_EQ(d.ptr, d.len, s.ptr, s.len);
    } else {
      ASSERT_TRUE(hl_utf8_valid(hl_buf_span(&d)));
      ASSERT_TRUE(memmem(d.ptr, d.len, FFFD, 3) != NULL);
    }
  }
}

TEST(reads_stop_at_the_end_of_the_input) {
  /* Inputs that end right before an unmapped page, of every length up to
   * two AVX-512 blocks, ending in every kind of byte. */
  static const uint8_t lasts[] = {'a', '"', 0x01, 0xC3, 0xE2, 0xF0, 0x80};
  for (size_t k = 0; k < HL_ARRAY_LEN(kinds); k++) {
    hl_json_escape_fn fn = hl_json_escape_get(kinds[k].kind);
    if (fn == NULL) {
      continue;
    }
    for (size_t n = 0; n <= 130; n++) {
      for (size_t l = 0; l < HL_ARRAY_LEN(lasts); l++) {
        uint8_t in[130];
        memset(in, 'x', sizeof(in));
        if (n > 0) {
          in[n - 1] = lasts[l];
        }
        char *g = hl_test_guard(in, n);
        char mem[1024];
        hl_buf b;
        hl_buf_init(&b, mem, sizeof(mem));
        fn(&b, hl_span_make(g, n));
        hl_test_guard_free(g, n);
        ASSERT_TRUE(hl_buf_ok(&b));
        ASSERT_GE(b.len, n);
      }
    }
  }
}
