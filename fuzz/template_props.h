/* template_props: the properties every template render must have, shared
 * by the template fuzz targets. */
#ifndef HL_FUZZ_TEMPLATE_PROPS_H
#define HL_FUZZ_TEMPLATE_PROPS_H

#include <stdbool.h>
#include <stdlib.h>

#include "base/limits.h"
#include "text/json_scan.h"
#include "text/template.h"

static inline void check(bool ok) {
  if (!ok) {
    abort();
  }
}

static inline bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* is_ctl: what a header value may never carry (every control byte but HTAB). */
static inline bool is_ctl(unsigned char c) {
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* check_output: a render of |kind| is valid JSON (JSON kinds; rendered
 * bodies may nest template and data depth, so the ceiling is the bound),
 * free of control bytes (header), or URL text: printable ASCII without
 * space, '\' or '#', and '%' only as %XX (URL kinds). */
static inline void check_output(hl_template_kind kind, hl_span s) {
  switch (kind) {
  case HL_TEMPLATE_JSON:
  case HL_TEMPLATE_JSON_STRINGS:
    check(hl_json_validate(s, HL_JSON_DEPTH_CEILING, NULL) == 0);
    return;
  case HL_TEMPLATE_HEADER:
    for (size_t i = 0; i < s.len; i++) {
      check(!is_ctl((unsigned char)s.ptr[i]));
    }
    return;
  case HL_TEMPLATE_URL_PATH:
  case HL_TEMPLATE_URL_QUERY:
    for (size_t i = 0; i < s.len; i++) {
      unsigned char c = (unsigned char)s.ptr[i];
      check(c > 0x20 && c < 0x7f && c != '\\' && c != '#');
      if (c == '%') {
        check(i + 2 < s.len && is_hex(s.ptr[i + 1]) && is_hex(s.ptr[i + 2]));
      }
    }
    return;
  case HL_TEMPLATE_TEXT:
    return;
  }
}

#endif
