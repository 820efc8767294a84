/* utf8: well-formedness of UTF-8 (see utf8.h). */
#include "text/utf8.h"

#include <string.h>

const char *hl_utf8_error_text(hl_utf8_error why) {
  switch (why) {
    case HL_UTF8_OK:
      return "well-formed";
    case HL_UTF8_CONTINUATION:
      return "continuation byte without a lead byte";
    case HL_UTF8_OVERLONG:
      return "overlong encoding";
    case HL_UTF8_SURROGATE:
      return "encoded UTF-16 surrogate (U+D800..U+DFFF)";
    case HL_UTF8_TOO_LARGE:
      return "code point above U+10FFFF";
    case HL_UTF8_BAD_BYTE:
      return "byte never used in UTF-8";
    case HL_UTF8_TRUNCATED:
      return "truncated multi-byte sequence";
  }
  return "invalid";
}

bool hl_utf8_valid(hl_span s) {
  const uint8_t *p = (const uint8_t *)s.ptr;
  const uint8_t *end = p + s.len;
  while (p < end) {
    /* ASCII runs, eight bytes at a time. */
    while (end - p >= 8) {
      uint64_t w;
      memcpy(&w, p, sizeof(w));
      if ((w & 0x8080808080808080ull) != 0) {
        break;
      }
      p += 8;
    }
    if (p == end) {
      break;
    }
    hl_utf8_error why;
    int n = hl_utf8_next(p, end, &why);
    if (n < 0) {
      return false;
    }
    p += n;
  }
  return true;
}
