/* Fuzz target: the template compiler on arbitrary text.
 *
 * Input: byte 0 picks the kind (six kinds), the rest is the template text
 * (up to a little past HL_TEMPLATE_BYTES_MAX, so the bound is exercised).
 * Properties:
 * - compile returns 0 or -EINVAL, never anything else, and a failed
 *   compile leaves the set with no paths;
 * - every error reads "line L, column C: ..." with L a line of the text and
 *   C at most one past the end of that line;
 * - a compiled template renders (with empty data and with a small
 *   document) and what it renders is, for the JSON kinds, valid JSON; for
 *   the header kind, free of control bytes but HTAB; for the URL kinds,
 *   URL text (printable ASCII, no space, '\' or '#', '%' only as %XX);
 * - a template without any "{{" has no placeholders and renders as its
 *   own text, for every kind;
 * - a template's placeholders are bounded by HL_TEMPLATE_SEGMENTS_MAX and
 *   its paths by its placeholders. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/limits.h"
#include "template_props.h"
#include "text/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_BYTES_MAX (HL_TEMPLATE_BYTES_MAX + 64)

/* read_num parses digits at *p, advancing it. */
static size_t read_num(const char **p) {
  size_t v = 0;
  check(**p >= '0' && **p <= '9');
  while (**p >= '0' && **p <= '9') {
    v = v * 10 + (size_t)(**p - '0');
    (*p)++;
  }
  return v;
}

static void check_position(const char *msg, const char *text, size_t n) {
  check(strncmp(msg, "line ", 5) == 0);
  const char *p = msg + 5;
  size_t line = read_num(&p);
  check(strncmp(p, ", column ", 9) == 0);
  p += 9;
  size_t column = read_num(&p);
  check(p[0] == ':' && p[1] == ' ');
  /* Find line |line| and its length. */
  size_t l = 1, start = 0;
  for (size_t i = 0; i < n && l < line; i++) {
    if (text[i] == '\n') {
      l++;
      start = i + 1;
    }
  }
  check(line >= 1 && l == line);
  size_t end = start;
  while (end < n && text[end] != '\n') {
    end++;
  }
  check(column >= 1 && column <= end - start + 1);
}

static char out_mem[HL_RENDER_BYTES_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > INPUT_BYTES_MAX) {
    return 0;
  }
  hl_template_kind kind = (hl_template_kind)(HL_TEMPLATE_JSON + data[0] % 6);
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  hl_template_set *set = hl_template_set_new();
  check(set != NULL);
  const hl_template *t = NULL;
  hl_err err = {{0}};
  int rc = hl_template_compile(set, kind, hl_span_make(text, n), &t, &err);
  if (rc != 0) {
    check(rc == -EINVAL && t == NULL);
    check(hl_template_set_values_n(set) == 0);
    check_position(err.msg, text, n);
    hl_template_set_free(set);
    return 0;
  }
  check(t != NULL && hl_template_kind_of(t) == kind);
  check(hl_template_placeholders(t) < HL_TEMPLATE_SEGMENTS_MAX);
  check(hl_template_set_values_n(set) <= hl_template_placeholders(t));
  check(hl_template_literal_bytes(t) <= n);
  static const char doc[] = "{\"a\":\"x\\r\\ny \\\"q\\\" \\u00e9\",\"b\":[1,{\"c\":null}],\"n\":-1.5e3,"
                            "\"t\":true,\"id\":\"i\",\"event\":\"e\"}";
  const hl_span docs[2] = {HL_SPAN_NULL, HL_SPAN_LIT(doc)};
  for (int d = 0; d < 2; d++) {
    hl_template_msg msg = {HL_SPAN_LIT("msg_\r\n\"\\"), HL_SPAN_LIT("ev\x01\x7f\xff"),
                           HL_SPAN_LIT("t \n"), docs[d], 1772893800123ull};
    hl_buf b;
    hl_buf_init(&b, out_mem, sizeof(out_mem));
    rc = hl_template_render_message(set, t, &msg, &b);
    check(rc == 0 || rc == -E2BIG);
    if (rc == 0) {
      check(b.len >= hl_template_literal_bytes(t));
      check_output(kind, hl_buf_span(&b));
      if (memmem(text, n, "{{", 2) == NULL) {
        check(hl_template_placeholders(t) == 0);
        check(b.len == n && memcmp(b.ptr, text, n) == 0);
      }
    }
  }
  hl_template_set_free(set);
  return 0;
}
