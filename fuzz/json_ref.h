/* json_ref: independent reference code for the JSON fuzz targets.
 *
 * The references are written differently from the engine on purpose, so
 * that the same mistake is unlikely in both:
 *   - UTF-8: instead of Table 3-7 ranges, tables of every well-formed
 *     sequence are built by *encoding* every Unicode scalar value; a byte
 *     string is well-formed iff the encoder produces it, and the maximal
 *     ill-formed subpart is its longest prefix that the encoder produces as
 *     a prefix of something.
 *   - escaping: one byte (or one sequence) at a time, straight from the
 *     RFC 8259 rules.
 * Test code only: it keeps its tables in static memory, built on first use. */
#ifndef HL_FUZZ_JSON_REF_H
#define HL_FUZZ_JSON_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"

/* Bitmaps indexed by the sequence's bytes, big-endian. */
static uint8_t ref_full2[1u << 13];  /* complete 2-byte sequences */
static uint8_t ref_full3[1u << 21];  /* complete 3-byte sequences */
static uint8_t ref_pre2[1u << 13];   /* 2-byte prefixes of 3- and 4-byte sequences */
static uint8_t ref_pre3of4[1u << 21]; /* 3-byte prefixes of 4-byte sequences */
static bool ref_ready;

static void ref_bit_set(uint8_t *map, uint32_t i) {
  map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static bool ref_bit(const uint8_t *map, uint32_t i) {
  return (map[i >> 3] >> (i & 7)) & 1;
}

/* ref_encode writes the UTF-8 form of |cp| (not a surrogate). */
static int ref_encode(uint32_t cp, uint8_t *o) {
  if (cp < 0x80) {
    o[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (uint8_t)(0xC0 + cp / 64);
    o[1] = (uint8_t)(0x80 + cp % 64);
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xE0 + cp / 4096);
    o[1] = (uint8_t)(0x80 + cp / 64 % 64);
    o[2] = (uint8_t)(0x80 + cp % 64);
    return 3;
  }
  o[0] = (uint8_t)(0xF0 + cp / 262144);
  o[1] = (uint8_t)(0x80 + cp / 4096 % 64);
  o[2] = (uint8_t)(0x80 + cp / 64 % 64);
  o[3] = (uint8_t)(0x80 + cp % 64);
  return 4;
}

static void ref_init(void) {
  if (ref_ready) {
    return;
  }
  for (uint32_t cp = 0x80; cp <= 0x10FFFF; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      continue;
    }
    uint8_t o[4];
    int n = ref_encode(cp, o);
    uint32_t two = (uint32_t)o[0] << 8 | o[1];
    if (n == 2) {
      ref_bit_set(ref_full2, two);
      continue;
    }
    ref_bit_set(ref_pre2, two);
    uint32_t three = two << 8 | o[2];
    ref_bit_set(n == 3 ? ref_full3 : ref_pre3of4, three);
  }
  ref_ready = true;
}

/* ref_utf8_step: like hl_utf8_next, from the encoder's tables: the length of
 * the well-formed sequence at p, or minus the maximal subpart's length. */
static int ref_utf8_step(const uint8_t *p, size_t avail) {
  if (p[0] < 0x80) {
    return 1;
  }
  uint32_t two = avail >= 2 ? (uint32_t)p[0] << 8 | p[1] : 0;
  uint32_t three = avail >= 3 ? two << 8 | p[2] : 0;
  if (avail >= 2 && ref_bit(ref_full2, two)) {
    return 2;
  }
  if (avail >= 3 && ref_bit(ref_full3, three)) {
    return 3;
  }
  /* Every continuation byte completes a 3-byte prefix of a 4-byte form: the
   * 64 code points that share those bits are all scalar values. */
  if (avail >= 4 && ref_bit(ref_pre3of4, three) && (p[3] & 0xC0) == 0x80) {
    return 4;
  }
  if (avail >= 3 && ref_bit(ref_pre3of4, three)) {
    return -3;
  }
  if (avail >= 2 && ref_bit(ref_pre2, two)) {
    return -2;
  }
  return -1;
}

__attribute__((unused)) static bool ref_utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    int k = ref_utf8_step(p + i, n - i);
    if (k < 0) {
      return false;
    }
    i += (size_t)k;
  }
  return true;
}

/* ref_escape: RFC 8259 string contents for |in|, U+FFFD per maximal
 * ill-formed subpart. */
__attribute__((unused)) static void ref_escape(hl_buf *out, const uint8_t *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c >= 0x80) {
      int k = ref_utf8_step(p + i, n - i);
      if (k > 0) {
        hl_buf_put(out, p + i, (size_t)k);
        i += (size_t)k;
      } else {
        hl_buf_put(out, "\xEF\xBF\xBD", 3);
        i += (size_t)-k;
      }
      continue;
    }
    i++;
    const char *shorthand = NULL;
    switch (c) {
      case '"': shorthand = "\\\""; break;
      case '\\': shorthand = "\\\\"; break;
      case '\b': shorthand = "\\b"; break;
      case '\f': shorthand = "\\f"; break;
      case '\n': shorthand = "\\n"; break;
      case '\r': shorthand = "\\r"; break;
      case '\t': shorthand = "\\t"; break;
      default: break;
    }
    if (shorthand != NULL) {
      hl_buf_put_cstr(out, shorthand);
    } else if (c < 0x20) {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      hl_buf_put(out, u, sizeof(u));
    } else {
      hl_buf_putc(out, (char)c);
    }
  }
}

#endif
