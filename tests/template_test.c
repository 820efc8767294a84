/* Tests for text/template: the seeds' templates, every context's encoding,
 * message fields and their fallback, {{$open}} and brace runs, compile
 * errors with their line and column, bounds, the endpoint set (shared
 * paths, rollback on error), and guard-page inputs for the compiler. Every
 * rendered JSON body is checked with hl_json_validate. */
#include "text/template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/limits.h"
#include "harness.h"

enum { OUT_BYTES = 1 << 16 };
static char out_mem[OUT_BYTES];

/* 2026-03-07T14:30:00.000Z */
#define TS_MS 1772893800000ull

static hl_template_msg msg_of(const char *data) {
  return (hl_template_msg){HL_SPAN_LIT("msg_2tQ9"), HL_SPAN_LIT("lead.created"),
                           HL_SPAN_LIT("acme"), hl_span_cstr(data), TS_MS};
}

static bool json_kind(hl_template_kind kind) {
  return kind == HL_TEMPLATE_JSON || kind == HL_TEMPLATE_JSON_STRINGS;
}

/* render_msg compiles |tmpl| in a fresh set and renders |msg|; the result
 * is NUL-terminated in out_mem. JSON renders must validate. */
static const char *render_msg(hl_template_kind kind, const char *tmpl, const hl_template_msg *msg) {
  hl_template_set *set = hl_template_set_new();
  ASSERT_TRUE(set != NULL);
  const hl_template *t;
  hl_err err = {{0}};
  int rc = hl_template_compile(set, kind, hl_span_cstr(tmpl), &t, &err);
  if (rc != 0) {
    hl_template_set_free(set);
    hl_test_fail(__FILE__, __LINE__, "compile failed: %s", err.msg);
  }
  hl_buf b;
  hl_buf_init(&b, out_mem, sizeof(out_mem));
  rc = hl_template_render_message(set, t, msg, &b);
  hl_template_set_free(set);
  ASSERT_EQ(rc, 0);
  if (json_kind(kind)) {
    hl_err verr = {{0}};
    if (hl_json_validate(hl_buf_span(&b), HL_JSON_DEPTH_CEILING, &verr) != 0) {
      hl_test_fail(__FILE__, __LINE__, "rendered body is not JSON (%s): %.*s", verr.msg,
                   HL_SPAN_FMT(hl_buf_span(&b)));
    }
  }
  return hl_buf_cstr(&b);
}

static const char *render(hl_template_kind kind, const char *tmpl, const char *data) {
  ASSERT_EQ(hl_json_validate_object(hl_span_cstr(data), HL_JSON_DEPTH_MAX, NULL), 0);
  hl_template_msg m = msg_of(data);
  return render_msg(kind, tmpl, &m);
}

static char err_text[HL_ERR_BYTES];

/* compile_error returns the error text of a template that must not compile. */
static const char *compile_error_n(hl_template_kind kind, const char *tmpl, size_t len) {
  hl_template_set *set = hl_template_set_new();
  const hl_template *t = (const hl_template *)1;
  hl_err err = {{0}};
  char *g = hl_test_guard(tmpl, len);
  int rc = hl_template_compile(set, kind, hl_span_make(g, len), &t, &err);
  hl_test_guard_free(g, len);
  size_t values_n = hl_template_set_values_n(set);
  hl_template_set_free(set);
  ASSERT_EQ(rc, -EINVAL);
  ASSERT_TRUE(t == NULL);
  ASSERT_EQ(values_n, 0); /* a failed compile adds no path */
  memcpy(err_text, err.msg, sizeof(err_text));
  return err_text;
}

static const char *compile_error(hl_template_kind kind, const char *tmpl) {
  return compile_error_n(kind, tmpl, strlen(tmpl));
}

/* ---- the seeds ------------------------------------------------------------- */

static const char contact_doc[] =
    "{\"contact\":{\"first_name\":\"Alex\",\"last_name\":\"Rivera\",\"email\":\"alex@example.com\","
    "\"phone\":\"+15551234567\",\"tags\":[\"yelp\",\"hvac\",\"emergency\"]}}";

TEST(hoopai_contact_body) {
  const char *tmpl = "{\n"
                     "  \"first_name\": \"{{contact.first_name}}\",\n"
                     "  \"last_name\": \"{{contact.last_name}}\",\n"
                     "  \"email\": \"{{contact.email}}\",\n"
                     "  \"phone\": \"{{contact.phone}}\",\n"
                     "  \"tags\": \"{{contact.tags}}\"\n"
                     "}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, tmpl, contact_doc),
                "{\n"
                "  \"first_name\": \"Alex\",\n"
                "  \"last_name\": \"Rivera\",\n"
                "  \"email\": \"alex@example.com\",\n"
                "  \"phone\": \"+15551234567\",\n"
                "  \"tags\": \"[\\\"yelp\\\",\\\"hvac\\\",\\\"emergency\\\"]\"\n"
                "}");
}

TEST(wilow_hubspot_missing_values_are_empty_strings) {
  const char *tmpl = "{\"properties\": {\"email\": \"{{email}}\", \"phone\": \"{{phone}}\", "
                     "\"firstname\": \"{{firstName}}\", \"lead_source\": \"Wilow widget\"}}";
  const char *want = "{\"properties\": {\"email\": \"ann@example.com\", \"phone\": \"\", "
                     "\"firstname\": \"\", \"lead_source\": \"Wilow widget\"}}";
  const char *data = "{\"event\":\"lead.created\",\"leadId\":\"l_1\",\"email\":\"ann@example.com\"}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, tmpl, data), want);
  /* The same template given as a JSON value in the configuration. */
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON_STRINGS, tmpl, data), want);
  /* phone: null renders as an empty string too. */
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, "{\"phone\":\"{{phone}}\"}", "{\"phone\":null}"),
                "{\"phone\":\"\"}");
}

TEST(default_envelope) {
  const char *data = "{\"email\":\"ann@example.com\", \"n\": [1, 2]}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, hl_template_default_body().ptr, data),
                "{\"type\":\"lead.created\",\"timestamp\":\"2026-03-07T14:30:00.000Z\","
                "\"data\":{\"email\":\"ann@example.com\", \"n\": [1, 2]}}");
  hl_template_msg m = msg_of("");
  m.data = HL_SPAN_NULL;
  ASSERT_STR_EQ(render_msg(HL_TEMPLATE_JSON, hl_template_default_body().ptr, &m),
                "{\"type\":\"lead.created\",\"timestamp\":\"2026-03-07T14:30:00.000Z\",\"data\":{}}");
  /* An event name that needs escaping stays valid JSON. */
  m.event = HL_SPAN_LIT("a\"b\\c\n\x01");
  ASSERT_STR_EQ(render_msg(HL_TEMPLATE_JSON, hl_template_default_body().ptr, &m),
                "{\"type\":\"a\\\"b\\\\c\\n\\u0001\",\"timestamp\":\"2026-03-07T14:30:00.000Z\","
                "\"data\":{}}");
}

/* ---- JSON contexts --------------------------------------------------------- */

TEST(value_position_raw_values_and_null) {
  const char *data = "{\"n\": 42, \"tags\": [\"a\", {\"b\": null}], \"s\": \"x\\\"y\", \"f\": false, "
                     "\"z\": null, \"o\": {\"k\": 1.5e3}}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON,
                       "{\"count\": {{n}}, \"tags\": {{tags}}, \"missing\": {{nope}}, "
                       "\"s\": {{ s }}, \"f\": {{f}}, \"z\": {{z}}, \"o\": {{o}}, "
                       "\"arr\": [{{n}},{{nope}},{{o.k}}]}",
                       data),
                "{\"count\": 42, \"tags\": [\"a\", {\"b\": null}], \"missing\": null, "
                "\"s\": \"x\\\"y\", \"f\": false, \"z\": null, \"o\": {\"k\": 1.5e3}, "
                "\"arr\": [42,null,1.5e3]}");
  /* A whole body that is one placeholder. */
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, " {{o}} ", data), " {\"k\": 1.5e3} ");
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, "{{nope}}", data), "null");
}

TEST(strings_copied_as_escaped) {
  const char *data = "{\"s\": \"q\\\"b\\\\s\\/ \\u00e9\\ud83d\\ude00 \\n\\t\", \"u\": \"Z\xC3\xBCrich\"}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, "{\"a\":\"<{{s}}>\",\"b\":\"{{u}}\"}", data),
                "{\"a\":\"<q\\\"b\\\\s\\/ \\u00e9\\ud83d\\ude00 \\n\\t>\",\"b\":\"Z\xC3\xBCrich\"}");
  /* Text decodes. */
  ASSERT_STR_EQ(render(HL_TEMPLATE_TEXT, "{{s}}|{{u}}", data),
                "q\"b\\s/ \xC3\xA9\xF0\x9F\x98\x80 \n\t|Z\xC3\xBCrich");
}

TEST(numbers_and_literals_in_strings) {
  const char *data = "{\"n\": -12.5e-3, \"t\": true, \"f\": false, \"z\": null, \"i\": 7}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, "[\"{{n}}\",\"{{t}}\",\"{{f}}\",\"{{z}}\",\"#{{i}}#\"]", data),
                "[\"-12.5e-3\",\"true\",\"false\",\"\",\"#7#\"]");
}

TEST(containers_in_strings_are_escaped_json_text) {
  const char *data = "{\"o\": {\"a\": \"x\\\"y\",\n \"b\": [1, \"\\\\\"]}}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, "{\"o\":\"{{o}}\"}", data),
                "{\"o\":\"{\\\"a\\\": \\\"x\\\\\\\"y\\\",\\n \\\"b\\\": [1, \\\"\\\\\\\\\\\"]}\"}");
}

TEST(placeholders_in_nested_and_array_strings) {
  const char *data = "{\"e\":\"a@b.c\",\"tags\":[\"x\",\"y\"]}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON_STRINGS,
                       "{\"p\":{\"q\":[\"{{e}}\",\"{{tags.1}}-{{tags.0}}\",1,true,null,{\"r\":\"{{e}}\"}]}}",
                       data),
                "{\"p\":{\"q\":[\"a@b.c\",\"y-x\",1,true,null,{\"r\":\"a@b.c\"}]}}");
}

/* ---- message fields -------------------------------------------------------- */

TEST(dollar_fields_never_fall_back_and_bare_names_do) {
  const char *data = "{\"event\":\"from-data\",\"id\":null,\"tenantId\":\"t9\"}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_TEXT,
                       "{{$event}} {{event}} {{$id}} [{{id}}] {{$tenant}} {{tenant}} {{tenantId}} "
                       "{{$timestamp}} {{timestamp}} {{$timestamp_s}}",
                       data),
                "lead.created from-data msg_2tQ9 [] acme acme t9 2026-03-07T14:30:00.000Z "
                "2026-03-07T14:30:00.000Z 1772893800");
  /* In value position: text fields quoted, timestamp_s a number. */
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON,
                       "[{{$event}},{{event}},{{$id}},{{id}},{{timestamp}},{{$timestamp_s}},{{$tenant}}]",
                       data),
                "[\"lead.created\",\"from-data\",\"msg_2tQ9\",null,\"2026-03-07T14:30:00.000Z\","
                "1772893800,\"acme\"]");
  /* No tenant: missing (null in value position, empty in a string). */
  hl_template_msg m = msg_of("{}");
  m.tenant = HL_SPAN_NULL;
  ASSERT_STR_EQ(render_msg(HL_TEMPLATE_JSON, "[{{$tenant}},\"{{tenant}}\",{{tenant}}]", &m),
                "[null,\"\",null]");
  /* $data in a string is escaped; in a header it is its raw text. */
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, "{\"d\":\"{{$data}}\"}", "{\"a\":\"b\"}"),
                "{\"d\":\"{\\\"a\\\":\\\"b\\\"}\"}");
  ASSERT_STR_EQ(render(HL_TEMPLATE_HEADER, "{{$data}}", "{\"a\":\n\"b\"}"), "{\"a\":\"b\"}");
  /* A path under a field name is an ordinary data path: no fallback. */
  ASSERT_STR_EQ(render(HL_TEMPLATE_TEXT, "[{{event.name}}]", "{}"), "[]");
}

TEST(timestamp_formatting) {
  static const struct {
    uint64_t ms;
    const char *want;
  } cases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {TS_MS + 7, "2026-03-07T14:30:00.007Z"},
      {951782400000ull, "2000-02-29T00:00:00.000Z"},
      {1709251199999ull, "2024-02-29T23:59:59.999Z"},
      {4107542400000ull, "2100-03-01T00:00:00.000Z"},
      {253402300799999ull, "9999-12-31T23:59:59.999Z"},
      {253402300800000ull, "10000-01-01T00:00:00.000Z"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char mem[64];
    hl_buf b;
    hl_buf_init(&b, mem, sizeof(mem));
    hl_template_format_timestamp(cases[i].ms, &b);
    ASSERT_STR_EQ(hl_buf_cstr(&b), cases[i].want);
  }
  char mem[64];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  hl_template_format_timestamp(UINT64_MAX, &b);
  ASSERT_TRUE(hl_buf_ok(&b));
  ASSERT_TRUE(b.len > 24 && b.ptr[b.len - 1] == 'Z');
}

/* ---- headers --------------------------------------------------------------- */

static void assert_no_ctl(const char *s) {
  for (const char *p = s; *p != '\0'; p++) {
    unsigned char ch = (unsigned char)*p;
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
      hl_test_fail(__FILE__, __LINE__, "control byte 0x%02x in header value \"%s\"", ch, s);
    }
  }
}

TEST(header_values_strip_cr_lf_nul) {
  const char *data = "{\"v\":\"a\\r\\nInjected: 1\",\"u\":\"x\\u000d\\u000ay\\u0000z\\u007f!\\tT\","
                     "\"n\":12,\"o\":{\n\"k\":\"l\\nm\"},\"z\":null,\"t\":\"Bearer abc\"}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_HEADER, "{{v}}", data), "aInjected: 1");
  ASSERT_STR_EQ(render(HL_TEMPLATE_HEADER, "<{{u}}>", data), "<xyz!\tT>");
  ASSERT_STR_EQ(render(HL_TEMPLATE_HEADER, "{{n}};{{z}};{{nope}};{{o}}", data),
                "12;;;{\"k\":\"l\\nm\"}");
  ASSERT_STR_EQ(render(HL_TEMPLATE_HEADER, "{{ t }}", data), "Bearer abc");
  /* Message fields are stripped too. */
  hl_template_msg m = msg_of("{}");
  m.event = HL_SPAN_LIT("ev\r\nX-Evil: 1\0z");
  m.id = HL_SPAN_LIT("\n\r\x7f");
  ASSERT_STR_EQ(render_msg(HL_TEMPLATE_HEADER, "{{$event}}|{{event}}|{{$id}}", &m),
                "evX-Evil: 1z|evX-Evil: 1z|");
  /* Literals may not hold control bytes at all. */
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_HEADER, "Bearer\r\nX: {{t}}"),
                  "line 1, column 7: control byte 0x0d in a header value");
  ASSERT_CONTAINS(compile_error_n(HL_TEMPLATE_HEADER, "a\0b", 3), "line 1, column 2");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_HEADER, "a\x7f"), "0x7f");
  ASSERT_STR_EQ(render(HL_TEMPLATE_HEADER, "a\tb {{t}}", data), "a\tb Bearer abc");
}

/* Random strings of hostile escapes and bytes: no header render ever holds a
 * control byte. */
TEST(header_never_carries_control_bytes_random) {
  static const char *const pieces[] = {
      "\\r", "\\n", "\\u0000", "\\u000d", "\\u000A", "\\u007f", "\\u001f", "\\t", "a", " ",
      ":", "\\\"", "\\\\", "\\ud83d\\ude00", "\xC3\xA9", "\x7f", "\\b", "\\f", "\\u2028",
  };
  const size_t np = sizeof(pieces) / sizeof(pieces[0]);
  for (int round = 0; round < 2000; round++) {
    char data[512];
    hl_buf b;
    hl_buf_init(&b, data, sizeof(data));
    hl_buf_put_cstr(&b, "{\"v\":\"");
    size_t k = hl_test_rand() % 12;
    for (size_t i = 0; i < k; i++) {
      hl_buf_put_cstr(&b, pieces[hl_test_rand() % np]);
    }
    hl_buf_put_cstr(&b, "\",\"o\":[\"");
    for (size_t i = 0; i < k; i++) {
      hl_buf_put_cstr(&b, pieces[hl_test_rand() % np]);
    }
    hl_buf_put_cstr(&b, "\",\n\r\t1]}");
    const char *doc = hl_buf_cstr(&b);
    if (hl_json_validate_object(hl_span_cstr(doc), HL_JSON_DEPTH_MAX, NULL) != 0) {
      continue; /* a raw 0x7f is valid JSON; everything here should validate */
    }
    assert_no_ctl(render(HL_TEMPLATE_HEADER, "x {{v}} {{o}} {{$data}}", doc));
  }
}

/* ---- URLs ------------------------------------------------------------------ */

TEST(url_values_are_percent_encoded) {
  const char *data = "{\"q\":\"a b/c&d=\xC3\xA9~._-\",\"e\":\"\\u00e9\\ud83d\\ude00\\\"\\n\\/\","
                     "\"n\":-1.5e+3,\"o\":{\"k\":1},\"id\":\"x y\"}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_URL_QUERY, "{{q}}", data), "a%20b%2Fc%26d%3D%C3%A9~._-");
  ASSERT_STR_EQ(render(HL_TEMPLATE_URL_QUERY, "{{e}}", data), "%C3%A9%F0%9F%98%80%22%0A%2F");
  ASSERT_STR_EQ(render(HL_TEMPLATE_URL_PATH, "/contacts/{{id}}/n/{{n}}/{{o}}/{{nope}}", data),
                "/contacts/x%20y/n/-1.5e%2B3/%7B%22k%22%3A1%7D/");
  ASSERT_STR_EQ(render(HL_TEMPLATE_URL_QUERY, "{{$timestamp}}|{{$timestamp_s}}", "{}"),
                "2026-03-07T14%3A30%3A00.000Z|1772893800");
  ASSERT_STR_EQ(render(HL_TEMPLATE_URL_QUERY, "%20x=?/{{$event}}", "{}"), "%20x=?/lead.created");
}

TEST(url_literals_are_checked) {
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_PATH, "/a b"), "line 1, column 3: space in a URL");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_PATH, "/a#b"), "line 1, column 3: '#'");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_PATH, "/a?b"), "'?' in a URL path");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_QUERY, "a&b={{x}}"), "'&' in a query");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_QUERY, "100%"), "column 4: '%' not followed");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_QUERY, "%{{x}}"), "'%' not followed");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_QUERY, "%4g"), "'%' not followed");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_QUERY, "a\\b"), "'\\' in a URL");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_URL_QUERY, "\xC3\xA9"), "byte 0xc3 in a URL");
}

/* ---- {{$open}} and brace runs --------------------------------------------- */

TEST(literal_braces) {
  const char *data = "{\"x\":\"v\"}";
  ASSERT_STR_EQ(render(HL_TEMPLATE_TEXT, "{{$open}}x}} {{{x}}} {{{{x}}", data), "{{x}} {v} {{v");
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, "{\"{{$open}}k}}\":\"{{$open}}{{x}}}}\"}", data),
                "{\"{{k}}\":\"{{v}}\"}");
  ASSERT_STR_EQ(render(HL_TEMPLATE_HEADER, "}} { } {{$open}}", data), "}} { } {{");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "[{{$open}}]"),
                  "line 1, column 2: {{$open}} outside a JSON string");
  /* A placeholder closes at the first }}. */
  ASSERT_STR_EQ(render(HL_TEMPLATE_JSON, "{\"a\":{\"b\":{{x}}}}", data), "{\"a\":{\"b\":\"v\"}}");
}

/* ---- compile errors -------------------------------------------------------- */

TEST(compile_errors_say_where) {
  ASSERT_STR_EQ(compile_error(HL_TEMPLATE_JSON, "{\n  \"a\": 1,\n  \"email\": \"{{email\"\n}"),
                "line 3, column 13: unclosed {{ (a placeholder ends with }} on the line it starts)");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_TEXT, "ab {{x"), "line 1, column 4: unclosed {{");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_TEXT, "ab {{x}"), "line 1, column 4: unclosed {{");
  ASSERT_STR_EQ(compile_error(HL_TEMPLATE_TEXT, "x\n{{  }}"), "line 2, column 1: empty placeholder");
  ASSERT_STR_EQ(compile_error(HL_TEMPLATE_JSON, "{\"{{k}}\": 1}"),
                "line 1, column 3: placeholder in an object key (keys must be literal)");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{\"a\":1,\n {{k}}: 1}"),
                  "line 2, column 2: placeholder in an object key");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{ {{k}} }"), "column 3: placeholder in an object key");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON_STRINGS, "{\"a\": {{n}}}"),
                  "line 1, column 7: placeholder outside a JSON string");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{\"a\": 1 {{n}}}"),
                  "line 1, column 9: placeholder where no JSON value can go");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{\"a\": \"x\" {{n}}}"), "no JSON value can go");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{{a}} {{b}}"), "column 7: placeholder where no");
  ASSERT_STR_EQ(compile_error(HL_TEMPLATE_JSON, "{\"t\": \"{{$foo}}\"}"),
                "line 1, column 10: unknown message field $foo (known: $id, $event, $tenant, "
                "$timestamp, $timestamp_s, $data, $open)");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_HEADER, "{{ $Event }}"), "unknown message field $Event");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_TEXT, "{{a..b}}"), "line 1, column 3: placeholder path");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_TEXT, "{{a{b}}"), "column 4: '{' inside a placeholder");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_TEXT, "{{a\tb}}"), "control byte 0x09 inside");
  /* The template with neutral values must be JSON: errors at the
   * template's own line and column. */
  ASSERT_STR_EQ(compile_error(HL_TEMPLATE_JSON, "{\n  \"a\": \"{{x}}\",\n  \"b\": {{y}},\n}"),
                "line 3, column 13: trailing comma in object");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{\"a\": \"{{x}}\" \"b\"}"), "line 1, column 15");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{\"a\": \"\\{{x}}\"}"), "line 1, column 8");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{\"a\": \"{{x}}"), "line 1, column");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, ""), "line 1, column 1: empty document");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{\"a\": \"\x01{{x}}\"}"), "raw control byte");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "{\"a\": \"\xC3{{x}}\"}"), "line 1, column 8");
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, "[\"\\u00{{x}}\"]"), "line 1, column");
  hl_err err;
  const hl_template *t;
  hl_template_set *set = hl_template_set_new();
  ASSERT_EQ(hl_template_compile(set, (hl_template_kind)99, HL_SPAN_LIT("x"), &t, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "unknown template kind");
  hl_template_set_free(set);
}

TEST(json_nesting_limit) {
  char deep[2 * HL_JSON_DEPTH_MAX + 16];
  size_t n = 0;
  for (int i = 0; i < HL_JSON_DEPTH_MAX; i++) {
    deep[n++] = '[';
  }
  memcpy(deep + n, "{{x}}", 5);
  n += 5;
  for (int i = 0; i < HL_JSON_DEPTH_MAX; i++) {
    deep[n++] = ']';
  }
  deep[n] = '\0';
  ASSERT_EQ(strlen(render(HL_TEMPLATE_JSON, deep, "{\"x\":[[1]]}")), n - 5 + 5);
  memmove(deep + 1, deep, n + 1);
  deep[0] = '[';
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_JSON, deep), "column 65: nested deeper than 64");
}

/* ---- bounds ---------------------------------------------------------------- */

TEST(bounds) {
  /* Template bytes. */
  size_t big = HL_TEMPLATE_BYTES_MAX + 1;
  char *text = malloc(big + 1);
  memset(text, 'a', big);
  text[big] = '\0';
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_TEXT, text),
                  "line 1, column 65537: template is longer than 65536 bytes");
  /* Placeholders (segments). */
  size_t n = 0;
  for (int i = 0; i < HL_TEMPLATE_SEGMENTS_MAX; i++) {
    memcpy(text + n, "{{a}}", 5);
    n += 5;
  }
  text[n] = '\0';
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_TEXT, text),
                  "column 5116: more than 1023 placeholders (HL_TEMPLATE_SEGMENTS_MAX)");
  text[n - 5] = '\0'; /* 1023 fit */
  ASSERT_EQ(strlen(render(HL_TEMPLATE_TEXT, text, "{\"a\":\"b\"}")), 1023);
  /* Path bytes. */
  n = 0;
  text[n++] = '{';
  text[n++] = '{';
  memset(text + n, 'p', HL_TEMPLATE_PATH_BYTES_MAX + 1);
  n += HL_TEMPLATE_PATH_BYTES_MAX + 1;
  memcpy(text + n, "}}", 3);
  ASSERT_CONTAINS(compile_error(HL_TEMPLATE_TEXT, text), "line 1, column 3: placeholder path is longer");
  text[2 + HL_TEMPLATE_PATH_BYTES_MAX] = '}';
  text[3 + HL_TEMPLATE_PATH_BYTES_MAX] = '}';
  text[4 + HL_TEMPLATE_PATH_BYTES_MAX] = '\0';
  ASSERT_STR_EQ(render(HL_TEMPLATE_TEXT, text, "{}"), "");
  free(text);
}

TEST(set_paths_bound_and_rollback) {
  hl_template_set *set = hl_template_set_new();
  hl_err err;
  const hl_template *t;
  char text[64];
  for (int i = 0; i < HL_TEMPLATE_SET_PATHS_MAX; i++) {
    int len = snprintf(text, sizeof(text), "{{p%d}}{{p%d}}", i, i / 2);
    ASSERT_EQ(hl_template_compile(set, HL_TEMPLATE_HEADER, hl_span_make(text, (size_t)len), &t, &err), 0);
  }
  ASSERT_EQ(hl_template_set_values_n(set), HL_TEMPLATE_SET_PATHS_MAX);
  ASSERT_EQ(hl_template_compile(set, HL_TEMPLATE_HEADER, HL_SPAN_LIT("{{p1}}-{{zz}}"), &t, &err),
            -EINVAL);
  ASSERT_STR_EQ(err.msg, "line 1, column 10: more than 256 distinct paths in one endpoint's "
                         "templates (HL_TEMPLATE_SET_PATHS_MAX)");
  ASSERT_EQ(hl_template_compile(set, HL_TEMPLATE_HEADER, HL_SPAN_LIT("{{p1}}-{{$id}}"), &t, &err), 0);
  ASSERT_EQ(hl_template_set_values_n(set), HL_TEMPLATE_SET_PATHS_MAX);
  hl_template_set_free(set);
  hl_template_set_free(NULL);
}

TEST(render_bounds_and_full_buffers) {
  hl_template_set *set = hl_template_set_new();
  const hl_template *t;
  hl_err err;
  ASSERT_EQ(hl_template_compile(set, HL_TEMPLATE_JSON, HL_SPAN_LIT("[\"{{s}}\",{{s}},{{s}},{{s}},{{s}},{{s}}]"),
                                &t, &err), 0);
  ASSERT_EQ(hl_template_placeholders(t), 6);
  ASSERT_EQ(hl_template_literal_bytes(t), 9);
  ASSERT_EQ(hl_template_kind_of(t), HL_TEMPLATE_JSON);
  /* 200 KB string six times is past HL_RENDER_BYTES_MAX. */
  size_t slen = 200 * 1024;
  char *data = malloc(slen + 16);
  memcpy(data, "{\"s\":\"", 6);
  memset(data + 6, 'x', slen);
  memcpy(data + 6 + slen, "\"}", 3);
  hl_template_msg m = msg_of(data);
  size_t cap = 2 * HL_RENDER_BYTES_MAX;
  char *mem = malloc(cap);
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  hl_buf_put_cstr(&b, "HEAD");
  ASSERT_EQ(hl_template_render_message(set, t, &m, &b), -E2BIG);
  ASSERT_FALSE(hl_buf_ok(&b));
  ASSERT_EQ(b.len, 4); /* nothing of the render kept */
  ASSERT_EQ(b.cap, cap);
  /* Sticky: a later render fails at once. */
  ASSERT_EQ(hl_template_render_message(set, t, &m, &b), -ENOSPC);
  /* A small buffer: -ENOSPC. */
  hl_buf_init(&b, mem, 1000);
  ASSERT_EQ(hl_template_render_message(set, t, &m, &b), -ENOSPC);
  ASSERT_EQ(b.len, 0);
  /* Every buffer size up to the exact fit fails cleanly, the exact fit works. */
  hl_template_msg small = msg_of("{\"s\":\"a\\\"\\u00e9\"}");
  hl_buf_init(&b, mem, cap);
  ASSERT_EQ(hl_template_render_message(set, t, &small, &b), 0);
  size_t need = b.len;
  for (size_t c = 0; c < need; c++) {
    hl_buf_init(&b, mem, c);
    ASSERT_EQ(hl_template_render_message(set, t, &small, &b), -ENOSPC);
    ASSERT_EQ(b.len, 0);
  }
  hl_buf_init(&b, mem, need);
  ASSERT_EQ(hl_template_render_message(set, t, &small, &b), 0);
  free(mem);
  free(data);
  hl_template_set_free(set);
}

/* Every context through buffers that are too small, including the slow
 * paths (escape, decode, strip, percent-encode). */
TEST(small_buffers_every_context) {
  static const struct {
    hl_template_kind kind;
    const char *tmpl;
  } cases[] = {
      {HL_TEMPLATE_JSON, "{\"a\":\"{{o}}{{$event}}\",\"b\":{{$id}},\"c\":{{$timestamp}}}"},
      {HL_TEMPLATE_HEADER, "{{s}} {{o}} {{$event}}"},
      {HL_TEMPLATE_URL_QUERY, "{{s}}-{{o}}-{{$timestamp}}"},
      {HL_TEMPLATE_TEXT, "{{s}}{{o}}{{$data}}"},
  };
  const char *data = "{\"s\":\"\\u00e9\\r\\nx y\\ud83d\\ude00\",\"o\":{\"k\":[1,\"\\\"\"]}}";
  hl_template_msg m = msg_of(data);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hl_template_set *set = hl_template_set_new();
    const hl_template *t;
    hl_err err;
    ASSERT_EQ(hl_template_compile(set, cases[i].kind, hl_span_cstr(cases[i].tmpl), &t, &err), 0);
    char full[512];
    hl_buf b;
    hl_buf_init(&b, full, sizeof(full));
    ASSERT_EQ(hl_template_render_message(set, t, &m, &b), 0);
    size_t need = b.len;
    for (size_t c = 0; c < need; c++) {
      char *mem = malloc(c + 1);
      hl_buf_init(&b, mem, c);
      ASSERT_EQ(hl_template_render_message(set, t, &m, &b), -ENOSPC);
      free(mem);
    }
    hl_template_set_free(set);
  }
}

/* ---- the endpoint set ------------------------------------------------------ */

TEST(one_resolve_serves_every_template_of_an_endpoint) {
  hl_template_set *set = hl_template_set_new();
  const hl_template *body, *auth, *query, *path;
  hl_err err;
  ASSERT_EQ(hl_template_compile(set, HL_TEMPLATE_JSON,
                                HL_SPAN_LIT("{\"email\":\"{{contact.email}}\",\"id\":{{lead.id}}}"),
                                &body, &err), 0);
  ASSERT_EQ(hl_template_compile(set, HL_TEMPLATE_HEADER, HL_SPAN_LIT("Bearer {{token}}"), &auth, &err), 0);
  ASSERT_EQ(hl_template_compile(set, HL_TEMPLATE_URL_QUERY, HL_SPAN_LIT("{{contact.email}}"), &query, &err), 0);
  ASSERT_EQ(hl_template_compile(set, HL_TEMPLATE_URL_PATH, HL_SPAN_LIT("/leads/{{lead.id}}"), &path, &err), 0);
  ASSERT_EQ(hl_template_set_values_n(set), 3); /* contact.email, lead.id, token */
  const char *data = "{\"token\":\"t0k\",\"lead\":{\"id\":17},\"contact\":{\"email\":\"a+b@c.d\"}}";
  hl_template_msg m = msg_of(data);
  hl_json_value values[3];
  ASSERT_EQ(hl_template_resolve(set, m.data, values), 0);
  char mem[256];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  ASSERT_EQ(hl_template_render(body, values, &m, &b), 0);
  hl_buf_putc(&b, '|');
  ASSERT_EQ(hl_template_render(auth, values, &m, &b), 0);
  hl_buf_putc(&b, '|');
  ASSERT_EQ(hl_template_render(query, values, &m, &b), 0);
  hl_buf_putc(&b, '|');
  ASSERT_EQ(hl_template_render(path, values, &m, &b), 0);
  ASSERT_STR_EQ(hl_buf_cstr(&b), "{\"email\":\"a+b@c.d\",\"id\":17}|Bearer t0k|a%2Bb%40c.d|/leads/17");
  /* Empty data reads as {}. */
  ASSERT_EQ(hl_template_resolve(set, HL_SPAN_NULL, values), 0);
  ASSERT_EQ(values[0].type, HL_JSON_NONE);
  /* Data that is not JSON where it is read. */
  ASSERT_EQ(hl_template_resolve(set, HL_SPAN_LIT("{\"token\""), values), -EINVAL);
  hl_template_set_free(set);
}

/* ---- guard pages ----------------------------------------------------------- */

/* Every prefix of these templates, ending right at a PROT_NONE page,
 * compiles or fails without reading past its end. */
TEST(compiler_reads_nothing_past_the_end) {
  static const char *const texts[] = {
      "{\"a\":\"{{x}}\",\"b\":{{y}},\"c\":\"\\u00e9{{$open}}\"}",
      "{{{x}}} {{$timestamp}} {{ a.b.0 }}",
      "/p/%2F{{x}}%",
      "\\{{x}}\\",
  };
  static const hl_template_kind kinds[] = {HL_TEMPLATE_JSON, HL_TEMPLATE_JSON_STRINGS,
                                           HL_TEMPLATE_HEADER, HL_TEMPLATE_URL_PATH,
                                           HL_TEMPLATE_URL_QUERY, HL_TEMPLATE_TEXT};
  size_t compiled = 0;
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    size_t len = strlen(texts[i]);
    for (size_t n = 0; n <= len; n++) {
      for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        hl_template_set *set = hl_template_set_new();
        const hl_template *t;
        hl_err err;
        char *g = hl_test_guard(texts[i], n);
        int rc = hl_template_compile(set, kinds[k], hl_span_make(g, n), &t, &err);
        hl_test_guard_free(g, n);
        if (rc == 0) {
          compiled++;
          char mem[512];
          hl_buf b;
          hl_buf_init(&b, mem, sizeof(mem));
          hl_template_msg m = msg_of("{\"x\":\"1\"}");
          ASSERT_EQ(hl_template_render_message(set, t, &m, &b), 0);
        } else {
          ASSERT_EQ(rc, -EINVAL);
          ASSERT_TRUE(strncmp(err.msg, "line 1, column ", 15) == 0);
        }
        hl_template_set_free(set);
      }
    }
  }
  ASSERT_GT(compiled, 50);
}

/* Data values at the very end of a guarded document. */
TEST(render_reads_nothing_past_the_data) {
  static const char *const docs[] = {
      "{\"s\":\"\\u00e9\"}",
      "{\"s\":\"\\ud83d\\ude00\"}",
      "{\"s\":12}",
      "{\"s\":{\"k\":[]}}",
  };
  static const hl_template_kind kinds[] = {HL_TEMPLATE_JSON, HL_TEMPLATE_HEADER,
                                           HL_TEMPLATE_URL_QUERY, HL_TEMPLATE_TEXT};
  static const char *const tmpls[] = {"[\"{{s}}\",{{s}}]", "{{s}}", "{{s}}", "{{s}}"};
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    size_t len = strlen(docs[i]);
    char *g = hl_test_guard(docs[i], len);
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
      hl_template_set *set = hl_template_set_new();
      const hl_template *t;
      hl_err err;
      ASSERT_EQ(hl_template_compile(set, kinds[k], hl_span_cstr(tmpls[k]), &t, &err), 0);
      hl_template_msg m = msg_of("");
      m.data = hl_span_make(g, len);
      char mem[256];
      hl_buf b;
      hl_buf_init(&b, mem, sizeof(mem));
      ASSERT_EQ(hl_template_render_message(set, t, &m, &b), 0);
      ASSERT_GT(b.len, 0);
      hl_template_set_free(set);
    }
    hl_test_guard_free(g, len);
  }
}
