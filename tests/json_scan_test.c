/* Tests for text/json_scan: strict validation with positioned errors, path
 * compilation, single and many-path lookups, string decoding. Every
 * document is also run from right before a PROT_NONE page, so that any read
 * past its end faults. */
#include "text/json_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/assert.h"
#include "harness.h"

typedef struct doc {
  const char *s;
  size_t len;
} doc;
#define D(lit) {(lit), sizeof(lit) - 1}

static int validate_guarded(const char *s, size_t len, uint32_t depth_max, hl_err *err) {
  char *g = hl_test_guard(s, len);
  int rc = hl_json_validate(hl_span_make(g, len), depth_max, err);
  hl_test_guard_free(g, len);
  return rc;
}

static const doc valid_docs[] = {
    /* RFC 8259 section 13 */
    D("{\n  \"Image\": {\n    \"Width\":  800,\n    \"Height\": 600,\n"
      "    \"Title\":  \"View from 15th Floor\",\n    \"Thumbnail\": {\n"
      "      \"Url\":    \"http://www.example.com/image/481989943\",\n"
      "      \"Height\": 125,\n      \"Width\":  100\n    },\n    \"Animated\" : false,\n"
      "    \"IDs\": [116, 943, 234, 38793]\n  }\n}"),
    D("[\n  {\n     \"precision\": \"zip\",\n     \"Latitude\":  37.7668,\n"
      "     \"Longitude\": -122.3959,\n     \"Address\":   \"\",\n"
      "     \"City\":      \"SAN FRANCISCO\",\n     \"State\":     \"CA\",\n"
      "     \"Zip\":       \"94107\",\n     \"Country\":   \"US\"\n  }\n]"),
    D("\"Hello world!\""),
    D("42"),
    D("true"),
    D("false"),
    D("null"),
    D("{}"),
    D("[]"),
    D("[[]]"),
    D("[{}]"),
    D("{\"a\":{}}"),
    D(" \t\n\r 1 \n"),
    D("[ 1 , 2 ]"),
    D("{ \"a\" : 1 , \"b\" : [ ] }"),
    D("0"),
    D("-0"),
    D("-1"),
    D("0.0"),
    D("1.5"),
    D("-1.5e10"),
    D("1E5"),
    D("1e+5"),
    D("1e-5"),
    D("1E-0"),
    D("0e0"),
    D("-0.0e-0"),
    D("123456789012345678901234567890123456789012345678901234567890123456789"),
    D("1e999"),
    D("[0,1,-1,0.5,10]"),
    D("\"\""),
    D("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
    D("\"\\u0000\""),
    D("\"\\u00e9\\u00E9\""),
    D("\"\\uD834\\uDD1E\""),
    D("\"\\udbff\\udfff\""),
    D("\"\\uFFFF\""),
    D("\"\xC3\xA9\""),             /* U+00E9 */
    D("\"\xE2\x82\xAC\""),         /* U+20AC */
    D("\"\xF0\x9D\x84\x9E\""),     /* U+1D11E */
    D("\"\xF4\x8F\xBF\xBF\""),     /* U+10FFFF */
    D("\"\xEF\xBF\xBF\""),         /* U+FFFF */
    D("\"\xED\x9F\xBF\""),         /* U+D7FF */
    D("\"\xEE\x80\x80\""),         /* U+E000 */
    D("\"\xC2\x80\""),             /* U+0080 */
    D("\"\xE0\xA0\x80\""),         /* U+0800 */
    D("\"\xF0\x90\x80\x80\""),     /* U+10000 */
    D("\"\x7f\""),
    D("\"/\""),
    D("\"a long string that is longer than sixteen bytes, with \\\"quotes\\\" in it\""),
    D("[true,false,null]"),
    D("{\"a\":1,\"a\":2}"),
    D("{\"\":0}"),
};

TEST(accepts_valid_documents) {
  for (size_t i = 0; i < HL_ARRAY_LEN(valid_docs); i++) {
    hl_err err = {{0}};
    int rc = validate_guarded(valid_docs[i].s, valid_docs[i].len, HL_JSON_DEPTH_MAX, &err);
    if (rc != 0) {
      hl_test_fail(__FILE__, __LINE__, "valid_docs[%zu] rejected: %s", i, err.msg);
    }
  }
}

typedef struct bad {
  const char *s;
  size_t len;
  const char *msg; /* the whole expected message */
} bad;
#define B(lit, msg) {(lit), sizeof(lit) - 1, (msg)}

static const bad invalid_docs[] = {
    B("", "line 1, column 1: empty document, expected a JSON value"),
    B("   ", "line 1, column 4: empty document, expected a JSON value"),
    B("{\"a\":1,}", "line 1, column 7: trailing comma in object"),
    B("{\"first_name\":\"A\",}", "line 1, column 18: trailing comma in object"),
    B("[1,2,]", "line 1, column 5: trailing comma in array"),
    B("[1,,2]", "line 1, column 4: unexpected character ',', expected a value"),
    B("[,1]", "line 1, column 2: unexpected character ',', expected a value"),
    B("{,}", "line 1, column 2: unexpected character ',', expected a string key in an object"),
    B("01", "line 1, column 1: leading zero in a number"),
    B("-01", "line 1, column 1: leading zero in a number"),
    B("[00]", "line 1, column 2: leading zero in a number"),
    B("+1", "line 1, column 1: unexpected character '+', expected a value"),
    B(".5", "line 1, column 1: unexpected character '.', expected a value"),
    B("1.", "line 1, column 1: expected a digit after the decimal point in a number"),
    B("1.e5", "line 1, column 1: expected a digit after the decimal point in a number"),
    B("1e", "line 1, column 1: expected a digit in the exponent of a number"),
    B("1e+", "line 1, column 1: expected a digit in the exponent of a number"),
    B("-", "line 1, column 1: expected a digit after '-' in a number"),
    B("--1", "line 1, column 1: expected a digit after '-' in a number"),
    B("NaN", "line 1, column 1: unexpected character 'N', expected a value"),
    B("Infinity", "line 1, column 1: unexpected character 'I', expected a value"),
    B("-Infinity", "line 1, column 1: expected a digit after '-' in a number"),
    B("0x10", "line 1, column 2: unexpected data after the JSON value"),
    B("1 2", "line 1, column 3: unexpected data after the JSON value"),
    B("[1]x", "line 1, column 4: unexpected data after the JSON value"),
    B("{} {}", "line 1, column 4: unexpected data after the JSON value"),
    B("tru", "line 1, column 1: invalid literal, expected 'true'"),
    B("nul", "line 1, column 1: invalid literal, expected 'null'"),
    B("True", "line 1, column 1: unexpected character 'T', expected a value"),
    B("falsey", "line 1, column 6: unexpected data after the JSON value"),
    B("\"abc", "line 1, column 1: unterminated string"),
    B("[\"abc\\\"]", "line 1, column 2: unterminated string"),
    B("\"\\x\"", "line 1, column 2: invalid escape sequence '\\x' in a string"),
    B("\"\\'\"", "line 1, column 2: invalid escape sequence '\\'' in a string"),
    B("\"\\\x01\"", "line 1, column 2: invalid escape sequence: backslash followed by byte 0x01"),
    B("\"\\u12\"", "line 1, column 2: invalid \\u escape: expected 4 hex digits"),
    B("\"\\u12G4\"", "line 1, column 2: invalid \\u escape: expected 4 hex digits"),
    B("\"\\U0041\"", "line 1, column 2: invalid escape sequence '\\U' in a string"),
    B("\"\\uD800\"",
      "line 1, column 2: unpaired UTF-16 surrogate \\ud800 (not followed by a low surrogate)"),
    B("\"\\uDC00\"",
      "line 1, column 2: unpaired UTF-16 surrogate \\udc00 (a low surrogate with no high one)"),
    B("\"\\uD800\\u0041\"",
      "line 1, column 2: unpaired UTF-16 surrogate \\ud800 (not followed by a low surrogate)"),
    B("\"\\uD800\\uD800\"",
      "line 1, column 2: unpaired UTF-16 surrogate \\ud800 (not followed by a low surrogate)"),
    B("\"x\\uDBFFx\"",
      "line 1, column 3: unpaired UTF-16 surrogate \\udbff (not followed by a low surrogate)"),
    B("\"a\tb\"", "line 1, column 3: raw control byte 0x09 in a string (escape it as \\u0009)"),
    B("\"\x01\"", "line 1, column 2: raw control byte 0x01 in a string (escape it as \\u0001)"),
    B("\"\x1f\"", "line 1, column 2: raw control byte 0x1f in a string (escape it as \\u001f)"),
    B("\"a\0b\"", "line 1, column 3: raw control byte 0x00 in a string (escape it as \\u0000)"),
    B("\"0123456789abcdef\n\"",
      "line 1, column 18: raw control byte 0x0a in a string (escape it as \\u000a)"),
    B("\"\x80\"",
      "line 1, column 2: invalid UTF-8 in a string (byte 0x80: continuation byte without a lead "
      "byte)"),
    B("\"\xC0\xAF\"", "line 1, column 2: invalid UTF-8 in a string (byte 0xc0: overlong encoding)"),
    B("\"\xC1\xBF\"", "line 1, column 2: invalid UTF-8 in a string (byte 0xc1: overlong encoding)"),
    B("\"\xE0\x80\xAF\"",
      "line 1, column 2: invalid UTF-8 in a string (byte 0xe0: overlong encoding)"),
    B("\"\xF0\x80\x80\xAF\"",
      "line 1, column 2: invalid UTF-8 in a string (byte 0xf0: overlong encoding)"),
    B("\"\xED\xA0\x80\"",
      "line 1, column 2: invalid UTF-8 in a string (byte 0xed: encoded UTF-16 surrogate "
      "(U+D800..U+DFFF))"),
    B("\"\xF4\x90\x80\x80\"",
      "line 1, column 2: invalid UTF-8 in a string (byte 0xf4: code point above U+10FFFF)"),
    B("\"\xF5\x80\x80\x80\"",
      "line 1, column 2: invalid UTF-8 in a string (byte 0xf5: byte never used in UTF-8)"),
    B("\"\xFF\"", "line 1, column 2: invalid UTF-8 in a string (byte 0xff: byte never used in UTF-8)"),
    B("\"\xC3\"",
      "line 1, column 2: invalid UTF-8 in a string (byte 0xc3: truncated multi-byte sequence)"),
    B("\"\xE2\x82\"",
      "line 1, column 2: invalid UTF-8 in a string (byte 0xe2: truncated multi-byte sequence)"),
    B("\"ab\xF0\x9D\x84\"",
      "line 1, column 4: invalid UTF-8 in a string (byte 0xf0: truncated multi-byte sequence)"),
    B("\"\xC3\xA9\xC3(\"",
      "line 1, column 4: invalid UTF-8 in a string (byte 0xc3: truncated multi-byte sequence)"),
    B("\xEF\xBB\xBF{}",
      "line 1, column 1: byte order mark (U+FEFF) before the JSON text; send plain UTF-8"),
    B("[1}", "line 1, column 3: '}' does not close the array"),
    B("{\"a\":1]", "line 1, column 7: ']' does not close the object"),
    B("{]", "line 1, column 2: ']' does not close the object"),
    B("{\"a\" 1}", "line 1, column 6: unexpected character '1', expected ':' after an object key"),
    B("{1:2}", "line 1, column 2: unexpected character '1', expected a string key in an object"),
    B("{\"a\":1 \"b\":2}",
      "line 1, column 8: unexpected character '\"', expected ',' or '}' after an object member"),
    B("[1 2]", "line 1, column 4: unexpected character '2', expected ',' or ']' after an array "
               "element"),
    B("[", "line 1, column 2: unexpected end of input, expected a value"),
    B("[1", "line 1, column 3: unexpected end of input, an object or array is not closed"),
    B("{\"a\":", "line 1, column 6: unexpected end of input, expected a value"),
    B("{\"a\"", "line 1, column 5: unexpected end of input, expected ':' after an object key"),
    B("{", "line 1, column 2: unexpected end of input, expected a string key in an object"),
    B("/* c */ 1", "line 1, column 1: unexpected character '/', expected a value"),
    B("[1,// c\n2]", "line 1, column 4: unexpected character '/', expected a value"),
    B("'a'", "line 1, column 1: unexpected character ''', expected a value"),
    B("\x00", "line 1, column 1: unexpected byte 0x00, expected a value"),
    B("1\x00", "line 1, column 2: unexpected data after the JSON value"),
    B("\xC3\xA9", "line 1, column 1: unexpected byte 0xc3, expected a value"),
    B("[\"a\"\x0c]",
      "line 1, column 5: unexpected byte 0x0c, expected ',' or ']' after an array element"),
    B("{\n  \"a\": 1,\n}", "line 2, column 9: trailing comma in object"),
    B("[1,\n2,\n]", "line 2, column 2: trailing comma in array"),
    B("{\r\n\"a\":\r\n tru}", "line 3, column 2: invalid literal, expected 'true'"),
};

TEST(rejects_invalid_documents_with_position_and_reason) {
  for (size_t i = 0; i < HL_ARRAY_LEN(invalid_docs); i++) {
    hl_err err = {{0}};
    int rc = validate_guarded(invalid_docs[i].s, invalid_docs[i].len, HL_JSON_DEPTH_MAX, &err);
    if (rc != -EINVAL || strcmp(err.msg, invalid_docs[i].msg) != 0) {
      hl_test_fail(__FILE__, __LINE__, "invalid_docs[%zu] (\"%.*s\"): rc %d\n  got:  %s\n  want: %s",
                   i, (int)invalid_docs[i].len, invalid_docs[i].s, rc, err.msg,
                   invalid_docs[i].msg);
    }
  }
}

/* nested returns n arrays (or objects under key "k") around 0. */
static char *nested(uint32_t n, bool objects, size_t *len) {
  size_t cap = (size_t)n * 6 + 2;
  char *s = malloc(cap);
  size_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (objects) {
      memcpy(s + k, "{\"k\":", 5);
      k += 5;
    } else {
      s[k++] = '[';
    }
  }
  s[k++] = '0';
  for (uint32_t i = 0; i < n; i++) {
    s[k++] = objects ? '}' : ']';
  }
  *len = k;
  return s;
}

TEST(depth_at_and_over_the_limit) {
  for (int objects = 0; objects < 2; objects++) {
    size_t len;
    char *at = nested(HL_JSON_DEPTH_MAX, objects, &len);
    hl_err err = {{0}};
    ASSERT_EQ(validate_guarded(at, len, HL_JSON_DEPTH_MAX, &err), 0);
    free(at);
    char *over = nested(HL_JSON_DEPTH_MAX + 1, objects, &len);
    ASSERT_EQ(validate_guarded(over, len, HL_JSON_DEPTH_MAX, &err), -EINVAL);
    char want[128];
    snprintf(want, sizeof(want), "line 1, column %d: nesting deeper than 64 levels (HL_JSON_DEPTH_MAX)",
             objects ? 5 * HL_JSON_DEPTH_MAX + 1 : HL_JSON_DEPTH_MAX + 1);
    ASSERT_STR_EQ(err.msg, want);
    free(over);
  }
  /* The limit is the caller's: 0 allows scalars only; the ceiling works. */
  hl_err err;
  ASSERT_EQ(hl_json_validate(HL_SPAN_LIT("1"), 0, &err), 0);
  ASSERT_EQ(hl_json_validate(HL_SPAN_LIT("[]"), 0, &err), -EINVAL);
  ASSERT_EQ(hl_json_validate(HL_SPAN_LIT("[[]]"), 2, &err), 0);
  ASSERT_EQ(hl_json_validate(HL_SPAN_LIT("[[[]]]"), 2, &err), -EINVAL);
  size_t len;
  char *deep = nested(HL_JSON_DEPTH_CEILING, false, &len);
  ASSERT_EQ(hl_json_validate(hl_span_make(deep, len), HL_JSON_DEPTH_CEILING, &err), 0);
  ASSERT_EQ(hl_json_validate(hl_span_make(deep, len), HL_JSON_DEPTH_CEILING - 1, &err), -EINVAL);
  free(deep);
  ASSERT_EQ(hl_json_validate(HL_SPAN_LIT("1"), HL_JSON_DEPTH_CEILING + 1, &err), -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "HL_JSON_DEPTH_CEILING") != NULL);
}

TEST(mixed_nesting_closes_in_order) {
  /* The bit stack must remember each level's kind across 64-bit words. */
  char s[400];
  size_t k = 0;
  for (int i = 0; i < 70; i++) {
    s[k++] = i % 3 == 0 ? '{' : '[';
    if (i % 3 == 0) {
      memcpy(s + k, "\"k\":", 4);
      k += 4;
    }
  }
  s[k++] = '1';
  for (int i = 69; i >= 0; i--) {
    s[k++] = i % 3 == 0 ? '}' : ']';
  }
  hl_err err;
  ASSERT_EQ(hl_json_validate(hl_span_make(s, k), 100, &err), 0);
  s[k - 1] = ']'; /* the outermost is an object */
  ASSERT_EQ(hl_json_validate(hl_span_make(s, k), 100, &err), -EINVAL);
}

TEST(validate_object_requires_an_object) {
  hl_err err;
  ASSERT_EQ(hl_json_validate_object(HL_SPAN_LIT("{}"), HL_JSON_DEPTH_MAX, &err), 0);
  ASSERT_EQ(hl_json_validate_object(HL_SPAN_LIT(" \n{\"a\":[1]} "), HL_JSON_DEPTH_MAX, &err), 0);
  static const char *const not_objects[] = {"[]", "1", "\"s\"", "null", "true"};
  for (size_t i = 0; i < HL_ARRAY_LEN(not_objects); i++) {
    ASSERT_EQ(hl_json_validate_object(hl_span_cstr(not_objects[i]), HL_JSON_DEPTH_MAX, &err),
              -EINVAL);
    ASSERT_STR_EQ(err.msg, "line 1, column 1: the top-level value must be a JSON object");
  }
  ASSERT_EQ(hl_json_validate_object(HL_SPAN_LIT("{\"a\":1,}"), HL_JSON_DEPTH_MAX, &err), -EINVAL);
  ASSERT_STR_EQ(err.msg, "line 1, column 7: trailing comma in object");
  ASSERT_EQ(hl_json_validate_object(HL_SPAN_LIT(""), HL_JSON_DEPTH_MAX, &err), -EINVAL);
}

TEST(every_truncation_of_a_valid_document_is_safe) {
  /* Each prefix is validated and looked up from right before a guard page;
   * only prefixes that are themselves JSON texts may pass. */
  hl_json_path path;
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("Image.IDs.3"), &path, NULL), 0);
  for (size_t d = 0; d < HL_ARRAY_LEN(valid_docs); d++) {
    for (size_t n = 0; n < valid_docs[d].len; n++) {
      char *g = hl_test_guard(valid_docs[d].s, n);
      hl_err err;
      int rc = hl_json_validate(hl_span_make(g, n), HL_JSON_DEPTH_MAX, &err);
      bool numeric_prefix = n > 0 && valid_docs[d].s[0] != '"' && valid_docs[d].s[0] != '{' &&
                            valid_docs[d].s[0] != '[';
      if (rc == 0 && !numeric_prefix) {
        hl_test_fail(__FILE__, __LINE__, "prefix %zu of valid_docs[%zu] accepted", n, d);
      }
      hl_json_value v;
      rc = hl_json_lookup(hl_span_make(g, n), &path, &v);
      ASSERT_TRUE(rc == -EINVAL || rc == -ENOENT || rc == 0);
      const hl_json_path *paths[] = {&path, &path};
      hl_json_value vs[2];
      ASSERT_LE(hl_json_lookup_many(hl_span_make(g, n), paths, 2, vs), 2);
      hl_test_guard_free(g, n);
    }
  }
}

/* ---- paths ---------------------------------------------------------------- */

TEST(path_compile_splits_parts_and_indices) {
  hl_json_path p;
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("a.b.2.c"), &p, NULL), 0);
  ASSERT_EQ(p.parts_n, 4);
  ASSERT_SPAN_EQ(hl_span_make(p.bytes + p.parts[1].off, p.parts[1].len), "b");
  ASSERT_EQ(p.parts[0].index, HL_JSON_NOT_INDEX);
  ASSERT_EQ(p.parts[2].index, 2);
  ASSERT_SPAN_EQ(hl_json_path_text(&p), "a.b.2.c");
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("4294967294"), &p, NULL), 0);
  ASSERT_EQ(p.parts[0].index, 4294967294u);
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("4294967295"), &p, NULL), 0);
  ASSERT_EQ(p.parts[0].index, HL_JSON_NOT_INDEX);
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("01"), &p, NULL), 0);
  ASSERT_EQ(p.parts[0].index, HL_JSON_NOT_INDEX);
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("0"), &p, NULL), 0);
  ASSERT_EQ(p.parts[0].index, 0);
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("-1"), &p, NULL), 0);
  ASSERT_EQ(p.parts[0].index, HL_JSON_NOT_INDEX);
}

TEST(path_compile_rejects_bad_paths) {
  hl_json_path p;
  hl_err err;
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT(""), &p, &err), -EINVAL);
  ASSERT_STR_EQ(err.msg, "path is empty");
  static const char *const bad_paths[] = {".", "a.", ".a", "a..b"};
  for (size_t i = 0; i < HL_ARRAY_LEN(bad_paths); i++) {
    ASSERT_EQ(hl_json_path_compile(hl_span_cstr(bad_paths[i]), &p, &err), -EINVAL);
    ASSERT_TRUE(strstr(err.msg, "has an empty part") != NULL);
    ASSERT_EQ(p.parts_n, 0);
  }
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("a..b"), &p, &err), -EINVAL);
  ASSERT_STR_EQ(err.msg, "path 'a..b' has an empty part at byte 3 (write a.b.c)");
  char many[64] = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p";
  ASSERT_EQ(hl_json_path_compile(hl_span_cstr(many), &p, &err), 0);
  ASSERT_EQ(p.parts_n, HL_TEMPLATE_PATH_PARTS_MAX);
  memcpy(many + strlen(many), ".q", 3);
  ASSERT_EQ(hl_json_path_compile(hl_span_cstr(many), &p, &err), -EINVAL);
  ASSERT_STR_EQ(err.msg, "path has more than 16 parts (HL_TEMPLATE_PATH_PARTS_MAX)");
  char longp[HL_TEMPLATE_PATH_BYTES_MAX + 1];
  memset(longp, 'x', sizeof(longp));
  ASSERT_EQ(hl_json_path_compile(hl_span_make(longp, HL_TEMPLATE_PATH_BYTES_MAX), &p, &err), 0);
  ASSERT_EQ(p.parts[0].len, HL_TEMPLATE_PATH_BYTES_MAX);
  ASSERT_EQ(hl_json_path_compile(hl_span_make(longp, sizeof(longp)), &p, &err), -EINVAL);
  ASSERT_STR_EQ(err.msg, "path is longer than 256 bytes (HL_TEMPLATE_PATH_BYTES_MAX)");
}

static const char lead_doc[] =
    "{\"id\":\"lead_8f2c\",\"name\":\"Ann O'Neil\",\"email\":\"ann@example.com\","
    "\"phone\":\"+1 555 0100\",\"score\":87.5,\"vip\":true,\"unsubscribed\":false,"
    "\"referrer\":null,"
    "\"contact\":{\"first_name\":\"Ann\",\"last_name\":\"O'Neil\",\"title\":\"CTO\","
    "\"address\":{\"city\":\"Z\\u00fcrich\",\"zip\":\"8001\"}},"
    "\"tags\":[\"hot\",\"b2b\",\"q3\"],"
    "\"messages\":[{\"at\":\"2024-05-01T10:00:00Z\",\"text\":\"Hi, \\\"pricing\\\"?\"},"
    "{\"at\":\"2024-05-02T11:30:00Z\",\"text\":\"Call me {back} [soon]\"}],"
    "\"em\\u0061il\":\"second@example.com\","
    "\"a\\\"b\":1,\"a/b\":\"slash\",\"\\u00e9t\\u00e9\":\"summer\",\"\\ud834\\udd1e\":\"clef\","
    "\"0\":\"zero key\",\"dup\":{\"x\":1},\"dup\":{\"y\":2},"
    "\"empty_obj\":{},\"empty_arr\":[],\"n\":-1.5e3}";

static int lookup(const char *doc_s, const char *path_s, hl_json_value *v) {
  hl_json_path p;
  HL_ASSERT(hl_json_path_compile(hl_span_cstr(path_s), &p, NULL) == 0);
  size_t n = strlen(doc_s);
  char *g = hl_test_guard(doc_s, n);
  int rc = hl_json_lookup(hl_span_make(g, n), &p, v);
  /* Spans point into the guarded copy: keep checks on type and length by
   * re-pointing into the caller's string. */
  if (rc == 0) {
    v->raw.ptr = doc_s + (v->raw.ptr - g);
  }
  hl_test_guard_free(g, n);
  return rc;
}

typedef struct found {
  const char *path;
  int rc;
  hl_json_type type;
  const char *raw;
} found;

static const found lead_lookups[] = {
    {"email", 0, HL_JSON_STRING, "\"ann@example.com\""},
    {"name", 0, HL_JSON_STRING, "\"Ann O'Neil\""},
    {"score", 0, HL_JSON_NUMBER, "87.5"},
    {"n", 0, HL_JSON_NUMBER, "-1.5e3"},
    {"vip", 0, HL_JSON_TRUE, "true"},
    {"unsubscribed", 0, HL_JSON_FALSE, "false"},
    {"referrer", 0, HL_JSON_NULL, "null"},
    {"contact.first_name", 0, HL_JSON_STRING, "\"Ann\""},
    {"contact.address.city", 0, HL_JSON_STRING, "\"Z\\u00fcrich\""},
    {"contact.address", 0, HL_JSON_OBJECT, "{\"city\":\"Z\\u00fcrich\",\"zip\":\"8001\"}"},
    {"tags", 0, HL_JSON_ARRAY, "[\"hot\",\"b2b\",\"q3\"]"},
    {"tags.0", 0, HL_JSON_STRING, "\"hot\""},
    {"tags.2", 0, HL_JSON_STRING, "\"q3\""},
    {"tags.3", -ENOENT, HL_JSON_NONE, NULL},
    {"tags.01", -ENOENT, HL_JSON_NONE, NULL},
    {"tags.first", -ENOENT, HL_JSON_NONE, NULL},
    {"messages.1.text", 0, HL_JSON_STRING, "\"Call me {back} [soon]\""},
    {"messages.0.text", 0, HL_JSON_STRING, "\"Hi, \\\"pricing\\\"?\""},
    {"messages.1", 0, HL_JSON_OBJECT,
     "{\"at\":\"2024-05-02T11:30:00Z\",\"text\":\"Call me {back} [soon]\"}"},
    {"messages.2.text", -ENOENT, HL_JSON_NONE, NULL},
    {"a\"b", 0, HL_JSON_NUMBER, "1"},
    {"a/b", 0, HL_JSON_STRING, "\"slash\""},
    {"\xC3\xA9t\xC3\xA9", 0, HL_JSON_STRING, "\"summer\""},
    {"\xF0\x9D\x84\x9E", 0, HL_JSON_STRING, "\"clef\""},
    {"0", 0, HL_JSON_STRING, "\"zero key\""},
    {"dup.x", 0, HL_JSON_NUMBER, "1"},
    {"dup.y", -ENOENT, HL_JSON_NONE, NULL}, /* the first "dup" wins; no search on */
    {"empty_obj", 0, HL_JSON_OBJECT, "{}"},
    {"empty_obj.a", -ENOENT, HL_JSON_NONE, NULL},
    {"empty_arr.0", -ENOENT, HL_JSON_NONE, NULL},
    {"email.x", -ENOENT, HL_JSON_NONE, NULL},
    {"contact.middle_name", -ENOENT, HL_JSON_NONE, NULL},
    {"missing", -ENOENT, HL_JSON_NONE, NULL},
    {"Email", -ENOENT, HL_JSON_NONE, NULL},
    {"emai", -ENOENT, HL_JSON_NONE, NULL},
};

TEST(lookup_finds_values_of_every_kind) {
  hl_err err;
  ASSERT_EQ(hl_json_validate_object(HL_SPAN_LIT(lead_doc), HL_JSON_DEPTH_MAX, &err), 0);
  for (size_t i = 0; i < HL_ARRAY_LEN(lead_lookups); i++) {
    const found *f = &lead_lookups[i];
    hl_json_value v;
    int rc = lookup(lead_doc, f->path, &v);
    if (rc != f->rc || v.type != f->type ||
        (f->raw != NULL && !hl_span_eq(v.raw, hl_span_cstr(f->raw)))) {
      hl_test_fail(__FILE__, __LINE__, "path %s: rc %d type %d raw '%.*s'", f->path, rc, v.type,
                   (int)v.raw.len, v.raw.ptr != NULL ? v.raw.ptr : "");
    }
    if (rc != 0) {
      ASSERT_TRUE(v.raw.ptr == NULL);
    }
  }
}

TEST(escaped_key_matches_its_decoded_path) {
  /* "em\u0061il" decodes to "email", but the first "email" wins. */
  hl_json_value v;
  ASSERT_EQ(lookup("{\"em\\u0061il\":\"x\",\"email\":\"y\"}", "email", &v), 0);
  ASSERT_SPAN_EQ(v.raw, "\"x\"");
  ASSERT_EQ(lookup("{\"\\u0000\":1,\"a\\nb\":2}", "a\nb", &v), 0);
  ASSERT_SPAN_EQ(v.raw, "2");
  ASSERT_EQ(lookup("{\"a\\\\\":1}", "a\\", &v), 0);
  ASSERT_EQ(lookup("{\"a\\\\\":1}", "a", &v), -ENOENT);
  ASSERT_EQ(lookup("{\"ab\\u0063\":1}", "ab", &v), -ENOENT); /* decoded key is longer */
  ASSERT_EQ(lookup("{\"\\u00e9\":1}", "\xC3", &v), -ENOENT);  /* part of a character */
}

TEST(lookup_in_top_level_arrays_and_scalars) {
  hl_json_value v;
  ASSERT_EQ(lookup(" [1, [2, 3], {\"0\": \"k\"}] ", "1.0", &v), 0);
  ASSERT_SPAN_EQ(v.raw, "2");
  ASSERT_EQ(lookup("[1,[2,3],{\"0\":\"k\"}]", "2.0", &v), 0);
  ASSERT_SPAN_EQ(v.raw, "\"k\"");
  ASSERT_EQ(lookup("[1,[2,3]]", "1.2", &v), -ENOENT);
  ASSERT_EQ(lookup("\"str\"", "a", &v), -ENOENT);
  ASSERT_EQ(lookup("42", "0", &v), -ENOENT);
  ASSERT_EQ(lookup("{ \"a\" : { \"b\" : [ 0 , 1 ] } }", "a.b.1", &v), 0);
  ASSERT_SPAN_EQ(v.raw, "1");
  hl_json_path zero;
  memset(&zero, 0, sizeof(zero));
  ASSERT_EQ(hl_json_lookup(HL_SPAN_LIT("{\"a\":1}"), &zero, &v), -ENOENT);
}

TEST(lookup_on_broken_documents_is_safe) {
  static const char *const broken[] = {
      "",    "{",         "{\"a\"",      "{\"a\":",   "{\"a\":[1,2", "{\"a\" 1}", "{\"x\":\"\\",
      "[1,", "{\"x\":1 \"a\":2}", "{\"a\":tru", "}}}}", "{\"x\":{\"y\":[[[[", "\"",
      "{\"x\":\"abc\\\"}",
  };
  for (size_t i = 0; i < HL_ARRAY_LEN(broken); i++) {
    hl_json_value v;
    int rc = lookup(broken[i], "a", &v);
    ASSERT_TRUE(rc == -EINVAL || rc == -ENOENT);
    rc = lookup(broken[i], "x.y.0", &v);
    ASSERT_TRUE(rc == -EINVAL || rc == -ENOENT);
  }
  hl_json_value v;
  ASSERT_EQ(lookup("{\"a\":tru}", "a", &v), -EINVAL);
  ASSERT_EQ(lookup("{\"x\":1,\"a\":2", "a", &v), 0); /* unchecked past the value: documented */
}

/* ---- many paths ------------------------------------------------------------ */

static void check_many_agrees(const char *doc_s, const hl_json_path *paths, size_t n) {
  size_t len = strlen(doc_s);
  char *g = hl_test_guard(doc_s, len);
  hl_span d = hl_span_make(g, len);
  const hl_json_path **ptrs = malloc(n * sizeof(*ptrs));
  hl_json_value *many = malloc(n * sizeof(*many));
  for (size_t i = 0; i < n; i++) {
    ptrs[i] = &paths[i];
  }
  int found = hl_json_lookup_many(d, ptrs, n, many);
  int want_found = 0;
  for (size_t i = 0; i < n; i++) {
    hl_json_value one;
    int rc = hl_json_lookup(d, &paths[i], &one);
    want_found += rc == 0;
    if (one.type != many[i].type || one.raw.ptr != many[i].raw.ptr ||
        one.raw.len != many[i].raw.len) {
      hl_test_fail(__FILE__, __LINE__, "path %zu '%.*s': lookup type %d '%.*s', many type %d '%.*s'",
                   i, (int)paths[i].len, paths[i].bytes, one.type, (int)one.raw.len,
                   one.raw.ptr ? one.raw.ptr : "", many[i].type, (int)many[i].raw.len,
                   many[i].raw.ptr ? many[i].raw.ptr : "");
    }
  }
  ASSERT_EQ(found, want_found);
  free(ptrs);
  free(many);
  hl_test_guard_free(g, len);
}

TEST(lookup_many_agrees_with_lookup_on_the_lead) {
  hl_json_path paths[HL_ARRAY_LEN(lead_lookups) + 4];
  size_t n = 0;
  for (size_t i = 0; i < HL_ARRAY_LEN(lead_lookups); i++) {
    ASSERT_EQ(hl_json_path_compile(hl_span_cstr(lead_lookups[i].path), &paths[n++], NULL), 0);
  }
  /* the same path twice, and a path and its prefix */
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("email"), &paths[n++], NULL), 0);
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("contact"), &paths[n++], NULL), 0);
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("messages.0"), &paths[n++], NULL), 0);
  ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("messages.0.at"), &paths[n++], NULL), 0);
  check_many_agrees(lead_doc, paths, n);
  /* Every subset size, including one path and none. */
  for (size_t k = 0; k <= n; k++) {
    check_many_agrees(lead_doc, paths + (n - k), k);
  }
}

TEST(lookup_many_reports_count_and_more_than_64_paths) {
  enum { N = 150 };
  static hl_json_path paths[N];
  for (size_t i = 0; i < N; i++) {
    const char *p = lead_lookups[i % HL_ARRAY_LEN(lead_lookups)].path;
    ASSERT_EQ(hl_json_path_compile(hl_span_cstr(p), &paths[i], NULL), 0);
  }
  check_many_agrees(lead_doc, paths, N);
  const hl_json_path *ptrs[3] = {&paths[0], &paths[13], &paths[7]}; /* email, tags.3, contact.first_name */
  hl_json_value out[3];
  ASSERT_EQ(hl_json_lookup_many(HL_SPAN_LIT(lead_doc), ptrs, 3, out), 2);
  ASSERT_SPAN_EQ(out[0].raw, "\"ann@example.com\"");
  ASSERT_EQ(out[1].type, HL_JSON_NONE);
  ASSERT_SPAN_EQ(out[2].raw, "\"Ann\"");
  ASSERT_EQ(hl_json_lookup_many(HL_SPAN_LIT("{\"email\":tru}"), ptrs, 3, out), -EINVAL);
  ASSERT_EQ(hl_json_lookup_many(HL_SPAN_LIT(""), ptrs, 3, out), -EINVAL);
  ASSERT_EQ(hl_json_lookup_many(HL_SPAN_LIT("7"), ptrs, 3, out), 0);
}

/* A small random JSON generator: valid documents with nesting, escapes,
 * duplicate keys and keys that look like indices. */
typedef struct gen {
  char *s;
  size_t len;
  size_t cap;
} gen;

static void gen_put(gen *g, const char *s) {
  size_t n = strlen(s);
  HL_ASSERT(g->len + n < g->cap);
  memcpy(g->s + g->len, s, n);
  g->len += n;
}

static const char *const gen_keys[] = {"a", "b", "0", "1", "em\\u0061il", "x y", "\\u00e9", "a"};

static void gen_value(gen *g, int depth) {
  static const char *const scalars[] = {"0", "-1.5e3", "true", "false", "null", "\"s\"",
                                        "\"q\\\"x\"", "\"[{\"", "12", "\"\""};
  uint64_t r = hl_test_rand() % 10;
  if (depth >= 4 || r < 4) {
    gen_put(g, scalars[hl_test_rand() % HL_ARRAY_LEN(scalars)]);
    return;
  }
  bool object = r < 7;
  gen_put(g, object ? "{" : "[");
  uint64_t n = hl_test_rand() % 5;
  for (uint64_t i = 0; i < n; i++) {
    if (i > 0) {
      gen_put(g, hl_test_rand() % 2 ? "," : " , ");
    }
    if (object) {
      gen_put(g, "\"");
      gen_put(g, gen_keys[hl_test_rand() % HL_ARRAY_LEN(gen_keys)]);
      gen_put(g, "\":");
    }
    gen_value(g, depth + 1);
  }
  gen_put(g, object ? "}" : "]");
}

TEST(lookup_many_agrees_with_lookup_on_random_documents) {
  static const char *const parts[] = {"a", "b", "0", "1", "2", "email", "x y", "\xC3\xA9", "c"};
  char mem[1 << 16];
  for (int iter = 0; iter < 400; iter++) {
    gen g = {mem, 0, sizeof(mem)};
    gen_value(&g, 0);
    g.s[g.len] = '\0';
    hl_err err;
    if (hl_json_validate(hl_span_make(g.s, g.len), HL_JSON_DEPTH_MAX, &err) != 0) {
      hl_test_fail(__FILE__, __LINE__, "generated document rejected: %s\n%s", err.msg, g.s);
    }
    hl_json_path paths[24];
    for (size_t i = 0; i < HL_ARRAY_LEN(paths); i++) {
      char text[64] = "";
      size_t k = 0;
      uint64_t depth = 1 + hl_test_rand() % 4;
      for (uint64_t d = 0; d < depth; d++) {
        const char *part = parts[hl_test_rand() % HL_ARRAY_LEN(parts)];
        if (d > 0) {
          text[k++] = '.';
        }
        memcpy(text + k, part, strlen(part));
        k += strlen(part);
      }
      ASSERT_EQ(hl_json_path_compile(hl_span_make(text, k), &paths[i], NULL), 0);
    }
    check_many_agrees(g.s, paths, HL_ARRAY_LEN(paths));
  }
}

/* ---- strings ----------------------------------------------------------------- */

TEST(string_contents_and_decode) {
  ASSERT_SPAN_EQ(hl_json_string_contents(HL_SPAN_LIT("\"a\\nb\"")), "a\\nb");
  ASSERT_SPAN_EQ(hl_json_string_contents(HL_SPAN_LIT("\"\"")), "");
  ASSERT_TRUE(hl_json_string_contents(HL_SPAN_LIT("\"")).ptr == NULL);
  ASSERT_TRUE(hl_json_string_contents(HL_SPAN_LIT("12")).ptr == NULL);

  char mem[64];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  ASSERT_EQ(hl_json_string_decode(
                HL_SPAN_LIT("\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud834\\udd1e\""), &b),
            0);
  ASSERT_MEM_EQ(b.ptr, b.len, "q\"b\\s/\b\f\n\r\t\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E", 20);
  hl_buf_reset(&b);
  ASSERT_EQ(hl_json_string_decode(HL_SPAN_LIT("\"a\\u0000b\""), &b), 0);
  ASSERT_MEM_EQ(b.ptr, b.len, "a\0b", 3);
  hl_buf_reset(&b);
  ASSERT_EQ(hl_json_string_decode(HL_SPAN_LIT("\"\xC3\xA9 raw\""), &b), 0);
  ASSERT_SPAN_EQ(hl_buf_span(&b), "\xC3\xA9 raw");

  static const char *const bad_strings[] = {"\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\u12\"",
                                            "\"a\\\"", "abc"};
  for (size_t i = 0; i < HL_ARRAY_LEN(bad_strings); i++) {
    hl_buf_reset(&b);
    hl_buf_put_cstr(&b, "kept");
    ASSERT_EQ(hl_json_string_decode(hl_span_cstr(bad_strings[i]), &b), -EINVAL);
    ASSERT_SPAN_EQ(hl_buf_span(&b), "kept");
  }

  char small[8];
  hl_buf_init(&b, small, sizeof(small));
  hl_buf_put_cstr(&b, "ab");
  ASSERT_EQ(hl_json_string_decode(HL_SPAN_LIT("\"123456\""), &b), 0);
  ASSERT_SPAN_EQ(hl_buf_span(&b), "ab123456");
  hl_buf_truncate(&b, 2);
  ASSERT_EQ(hl_json_string_decode(HL_SPAN_LIT("\"1234567\""), &b), -ENOSPC);
  ASSERT_FALSE(hl_buf_ok(&b));
  ASSERT_EQ(b.len, 2);
  ASSERT_EQ(hl_json_string_decode(HL_SPAN_LIT("\"1\""), &b), -ENOSPC); /* sticky */
}

TEST(decoded_lookup_value_round_trip) {
  hl_json_value v;
  ASSERT_EQ(lookup(lead_doc, "contact.address.city", &v), 0);
  char mem[32];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  ASSERT_EQ(hl_json_string_decode(v.raw, &b), 0);
  ASSERT_SPAN_EQ(hl_buf_span(&b), "Z\xC3\xBCrich");
}

TEST(skipping_containers_across_block_edges) {
  /* Containers whose strings hold brackets, escaped quotes and runs of
   * backslashes, shifted through every offset so that each of them
   * straddles a 64-byte block edge somewhere; the container's raw span and
   * the member after it must come out exact. */
  static const char *const tricky[] = {"\\\\", "\\\"]}", "\\\\\\\"[{", "]}]}", "\\\\\\\\"};
  for (size_t t = 0; t < HL_ARRAY_LEN(tricky); t++) {
    for (size_t pad = 0; pad < 140; pad++) {
      char container[512];
      size_t c = 0;
      container[c++] = '[';
      container[c++] = '{';
      memcpy(container + c, "\"s\":\"", 5);
      c += 5;
      memset(container + c, 'a', pad);
      c += pad;
      for (int rep = 0; rep < 3; rep++) {
        memcpy(container + c, tricky[t], strlen(tricky[t]));
        c += strlen(tricky[t]);
      }
      memcpy(container + c, "\"},[[]],\"", 9);
      c += 9;
      memcpy(container + c, tricky[t], strlen(tricky[t]));
      c += strlen(tricky[t]);
      memcpy(container + c, "\"]", 2);
      c += 2;
      container[c] = '\0';
      char doc_s[700];
      snprintf(doc_s, sizeof(doc_s), "{\"c\":%s,\"after\":[7]}", container);
      hl_err err;
      if (hl_json_validate(hl_span_cstr(doc_s), HL_JSON_DEPTH_MAX, &err) != 0) {
        hl_test_fail(__FILE__, __LINE__, "test document invalid: %s\n%s", err.msg, doc_s);
      }
      hl_json_value v;
      ASSERT_EQ(lookup(doc_s, "c", &v), 0);
      ASSERT_SPAN_EQ(v.raw, container);
      ASSERT_EQ(lookup(doc_s, "after.0", &v), 0);
      ASSERT_SPAN_EQ(v.raw, "7");
      ASSERT_EQ(lookup(doc_s, "c.2", &v), 0);
      ASSERT_EQ(v.type, HL_JSON_STRING);
      hl_json_path paths[2];
      ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("after"), &paths[0], NULL), 0);
      ASSERT_EQ(hl_json_path_compile(HL_SPAN_LIT("c.1.0"), &paths[1], NULL), 0);
      check_many_agrees(doc_s, paths, 2);
    }
  }
}
