/* json_escape: bytes into JSON string contents (see json_escape.h).
 *
 * Every implementation is the same loop: find the next byte that needs
 * attention (below 0x20, '"', '\\', or 0x80 and above), copy what comes
 * before it, and let put_one handle it: a short or \u00XX escape, a
 * well-formed UTF-8 sequence copied whole, or U+FFFD for an ill-formed
 * subpart. Only the search differs (a 64-bit word, 32 or 64 bytes of SIMD),
 * so the outputs cannot drift apart. Output room is checked before every
 * write; on overflow out->len is left where it was and the sticky error set. */
#include "text/json_escape.h"

#include <stdint.h>
#include <string.h>

#include "base/cpu.h"
#include "text/utf8.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HL_ESCAPE_X86 1
#endif

/* After the backslash, for every ASCII byte that needs escaping: 'u' means
 * \u00XX. Zero means the byte is copied. */
static const uint8_t escape_letter[128] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    0,   0,   '"', 0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   '\\', 0,  0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
};

static inline bool needs_attention(uint8_t c) {
  return c >= 0x80 || escape_letter[c] != 0;
}

/* emit_one writes the output for the item at p (which needs attention) to w
 * (room for HL_JSON_ESCAPE_GROWTH_MAX bytes); returns input bytes used and
 * sets *wn to the bytes written. */
static inline size_t emit_one(const uint8_t *p, const uint8_t *end, char *w, size_t *wn) {
  static const char hex[] = "0123456789abcdef";
  uint8_t c = *p;
  if (c < 0x80) {
    uint8_t letter = escape_letter[c];
    w[0] = '\\';
    if (letter != 'u') {
      w[1] = (char)letter;
      *wn = 2;
      return 1;
    }
    memcpy(w + 1, "u00", 3);
    w[4] = hex[c >> 4];
    w[5] = hex[c & 15];
    *wn = 6;
    return 1;
  }
  hl_utf8_error why;
  int n = hl_utf8_next(p, end, &why);
  if (n > 0) {
    memcpy(w, p, (size_t)n);
    *wn = (size_t)n;
    return (size_t)n;
  }
  memcpy(w, "\xEF\xBF\xBD", 3);
  *wn = 3;
  return (size_t)-n;
}

/* put_one is emit_one with an exact room check: near the end of the output
 * it goes through a small buffer so that an output that just fits is not
 * refused. */
static inline bool put_one(const uint8_t **pp, const uint8_t *end, char **wp, const char *limit) {
  char tmp[HL_JSON_ESCAPE_GROWTH_MAX];
  size_t room = (size_t)(limit - *wp);
  char *dst = room >= sizeof(tmp) ? *wp : tmp;
  size_t wn;
  size_t used = emit_one(*pp, end, dst, &wn);
  if (dst == tmp) {
    if (room < wn) {
      return false;
    }
    memcpy(*wp, tmp, wn);
  }
  *wp += wn;
  *pp += used;
  return true;
}

/* put_special handles the item at p that a SIMD search stopped at, then
 * every item right after it that also needs attention (runs of non-ASCII,
 * "\\\""), in scalar code: a sequence split by a block edge is read whole,
 * and a run costs no new block. False if out of room. */
static inline bool put_special(const uint8_t **pp, const uint8_t *end, char **wp,
                               const char *limit) {
  do {
    if (!put_one(pp, end, wp, limit)) {
      return false;
    }
  } while (*pp < end && needs_attention(**pp));
  return true;
}

/* clean_run returns the first byte at or after p that needs attention (or
 * end), testing eight bytes per step. In each test the lowest flagged byte
 * is exact (a borrow only runs upward from a true hit), which is the only
 * one used. */
static inline const uint8_t *clean_run(const uint8_t *p, const uint8_t *end) {
  const uint64_t ones = 0x0101010101010101ull;
  const uint64_t high = 0x8080808080808080ull;
  while (end - p >= 8) {
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    uint64_t q = x ^ (ones * '"');
    uint64_t b = x ^ (ones * '\\');
    uint64_t m = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x;
    m &= high;
    if (m != 0) {
      return p + (__builtin_ctzll(m) >> 3);
    }
    p += 8;
  }
  while (p < end && !needs_attention(*p)) {
    p++;
  }
  return p;
}

/* escape_rest escapes [p, end) at w with the word-at-a-time search; returns
 * the new end of output, or NULL if it does not fit before |limit|. */
static char *escape_rest(const uint8_t *p, const uint8_t *end, char *w, const char *limit) {
  while (p < end) {
    const uint8_t *run = p;
    p = clean_run(p, end);
    size_t n = (size_t)(p - run);
    if ((size_t)(limit - w) < n) {
      return NULL;
    }
    memcpy(w, run, n);
    w += n;
    if (p == end) {
      break;
    }
    if (!put_one(&p, end, &w, limit)) {
      return NULL;
    }
  }
  return w;
}

/* finish records the result of an implementation in |out|. */
static inline void finish(hl_buf *out, const char *w) {
  if (w == NULL) {
    out->err = true; /* out->len stays: nothing of this input is kept */
    return;
  }
  out->len = (size_t)(w - out->ptr);
}

void hl_json_escape_scalar(hl_buf *out, hl_span in) {
  if (out->err) {
    return;
  }
  const uint8_t *p = (const uint8_t *)in.ptr;
  finish(out, escape_rest(p, p + in.len, out->ptr + out->len, out->ptr + out->cap));
}

#if HL_ESCAPE_X86

__attribute__((target("avx2"))) void hl_json_escape_avx2(hl_buf *out, hl_span in) {
  if (out->err) {
    return;
  }
  const uint8_t *p = (const uint8_t *)in.ptr;
  const uint8_t *end = p + in.len;
  char *w = out->ptr + out->len;
  const char *limit = out->ptr + out->cap;
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i bslash = _mm256_set1_epi8('\\');
  const __m256i space = _mm256_set1_epi8(0x20);
  while (end - p >= 32 && limit - w >= 32) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
    /* Signed compare: 0x20 > x holds for controls and for every byte
     * >= 0x80 (negative), so one compare finds both. */
    __m256i m = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, quote),
                                                 _mm256_cmpeq_epi8(x, bslash)),
                                _mm256_cmpgt_epi8(space, x));
    uint32_t mask = (uint32_t)_mm256_movemask_epi8(m);
    /* Store the whole block: the clean prefix is then in place, and what
     * lies past it is overwritten by the next step. */
    _mm256_storeu_si256((__m256i *)(void *)w, x);
    if (mask == 0) {
      p += 32;
      w += 32;
      continue;
    }
    unsigned k = (unsigned)__builtin_ctz(mask);
    p += k;
    w += k;
    if (!put_special(&p, end, &w, limit)) {
      finish(out, NULL);
      return;
    }
  }
  finish(out, escape_rest(p, end, w, limit));
}

__attribute__((target("avx512f,avx512bw"))) void hl_json_escape_avx512(hl_buf *out, hl_span in) {
  if (out->err) {
    return;
  }
  const uint8_t *p = (const uint8_t *)in.ptr;
  const uint8_t *end = p + in.len;
  char *w = out->ptr + out->len;
  const char *limit = out->ptr + out->cap;
  const __m512i quote = _mm512_set1_epi8('"');
  const __m512i bslash = _mm512_set1_epi8('\\');
  const __m512i space = _mm512_set1_epi8(0x20);
  while (p < end) {
    size_t n = (size_t)(end - p) < 64 ? (size_t)(end - p) : 64;
    if ((size_t)(limit - w) < 64) {
      break;
    }
    /* The last, partial block uses a masked load: masked-off lanes are never
     * read, so this is safe right before an unmapped page. */
    __mmask64 lanes = n == 64 ? ~0ull : (1ull << n) - 1;
    __m512i x = _mm512_maskz_loadu_epi8(lanes, p);
    __mmask64 mask = (_mm512_cmpeq_epi8_mask(x, quote) | _mm512_cmpeq_epi8_mask(x, bslash) |
                      _mm512_cmplt_epi8_mask(x, space)) &
                     lanes;
    _mm512_storeu_si512((void *)w, x);
    if (mask == 0) {
      p += n;
      w += n;
      continue;
    }
    unsigned k = (unsigned)__builtin_ctzll(mask);
    p += k;
    w += k;
    if (!put_special(&p, end, &w, limit)) {
      finish(out, NULL);
      return;
    }
  }
  finish(out, escape_rest(p, end, w, limit));
}

#else

void hl_json_escape_avx2(hl_buf *out, hl_span in) {
  hl_json_escape_scalar(out, in);
}

void hl_json_escape_avx512(hl_buf *out, hl_span in) {
  hl_json_escape_scalar(out, in);
}

#endif

hl_json_escape_fn hl_json_escape_get(hl_json_escape_kind kind) {
  switch (kind) {
    case HL_JSON_ESCAPE_SCALAR:
      return hl_json_escape_scalar;
    case HL_JSON_ESCAPE_AVX2:
      return hl_cpu_has(HL_CPU_AVX2) ? hl_json_escape_avx2 : NULL;
    case HL_JSON_ESCAPE_AVX512:
      return hl_cpu_has(HL_CPU_AVX512) ? hl_json_escape_avx512 : NULL;
  }
  return NULL;
}

hl_json_escape_fn hl_json_escape_best(void) {
  if (hl_cpu_has(HL_CPU_AVX512)) {
    return hl_json_escape_avx512;
  }
  if (hl_cpu_has(HL_CPU_AVX2)) {
    return hl_json_escape_avx2;
  }
  return hl_json_escape_scalar;
}

void hl_json_escape(hl_buf *out, hl_span in) {
  hl_json_escape_best()(out, in);
}
