/* utf8: well-formedness of UTF-8, one sequence at a time.
 *
 * The JSON validator (text/json_scan) rejects ill-formed UTF-8 and the JSON
 * escaper (text/json_escape) replaces it; both ask hl_utf8_next about the
 * bytes at a position. Well-formed means RFC 3629 / Unicode Table 3-7: no
 * overlong forms, no encoded surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF, no truncated sequences. For ill-formed input hl_utf8_next also
 * says how many bytes form the "maximal subpart" (Unicode 3.9, U+FFFD
 * substitution of maximal subparts), so a replacer emits one U+FFFD per
 * subpart, as WHATWG and most libraries do. Pure functions, no allocation. */
#ifndef HL_TEXT_UTF8_H
#define HL_TEXT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/span.h"

typedef enum hl_utf8_error {
  HL_UTF8_OK = 0,
  HL_UTF8_CONTINUATION, /* a continuation byte (0x80..0xBF) without a lead byte */
  HL_UTF8_OVERLONG,     /* C0, C1, E0 80..9F, F0 80..8F */
  HL_UTF8_SURROGATE,    /* ED A0..BF: U+D800..U+DFFF encoded directly */
  HL_UTF8_TOO_LARGE,    /* F4 90..BF: above U+10FFFF */
  HL_UTF8_BAD_BYTE,     /* F5..FF: never appear in UTF-8 */
  HL_UTF8_TRUNCATED,    /* a lead byte not followed by enough continuation bytes */
} hl_utf8_error;

/* hl_utf8_next examines the sequence starting at |p| (requires p < end). It
 * returns its length (1..4) if it is well-formed; otherwise it sets |*why|
 * and returns minus the length (1..3) of the maximal ill-formed subpart,
 * which the caller skips (or replaces by one U+FFFD). Never reads at or past
 * |end|. */
static inline int hl_utf8_next(const uint8_t *p, const uint8_t *end, hl_utf8_error *why) {
  uint8_t b0 = p[0];
  if (b0 < 0x80) {
    return 1;
  }
  if (b0 < 0xC2) {
    *why = b0 < 0xC0 ? HL_UTF8_CONTINUATION : HL_UTF8_OVERLONG;
    return -1;
  }
  /* The second byte's range depends on the lead byte (Table 3-7); the
   * later ones are always 80..BF. */
  uint8_t lo = 0x80, hi = 0xBF;
  int n;
  if (b0 < 0xE0) {
    n = 2;
  } else if (b0 < 0xF0) {
    n = 3;
    if (b0 == 0xE0) {
      lo = 0xA0;
    } else if (b0 == 0xED) {
      hi = 0x9F;
    }
  } else if (b0 < 0xF5) {
    n = 4;
    if (b0 == 0xF0) {
      lo = 0x90;
    } else if (b0 == 0xF4) {
      hi = 0x8F;
    }
  } else {
    *why = HL_UTF8_BAD_BYTE;
    return -1;
  }
  size_t avail = (size_t)(end - p);
  if (avail < 2) {
    *why = HL_UTF8_TRUNCATED;
    return -1;
  }
  uint8_t b1 = p[1];
  if (b1 < lo || b1 > hi) {
    if (b1 < 0x80 || b1 > 0xBF) {
      *why = HL_UTF8_TRUNCATED;
    } else if (b1 < lo) {
      *why = HL_UTF8_OVERLONG;
    } else {
      *why = b0 == 0xED ? HL_UTF8_SURROGATE : HL_UTF8_TOO_LARGE;
    }
    return -1;
  }
  for (int i = 2; i < n; i++) {
    if ((size_t)i >= avail || (p[i] & 0xC0) != 0x80) {
      *why = HL_UTF8_TRUNCATED;
      return -i;
    }
  }
  return n;
}

/* hl_utf8_error_text names an error for messages ("overlong encoding"). */
const char *hl_utf8_error_text(hl_utf8_error why);

/* hl_utf8_valid reports whether all of |s| is well-formed UTF-8. */
bool hl_utf8_valid(hl_span s);

#endif
