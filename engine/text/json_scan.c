/* json_scan: strict validation and on-demand lookup (see json_scan.h).
 *
 * The validator is a loop over an explicit state (value / key / after a
 * value) with one bit per open container on its stack, so nesting costs no
 * recursion. Strings, the bulk of any document, are scanned 16 bytes at a
 * time (SSE2, which every x86-64 has) for the bytes that need a closer look:
 * '"', '\\', controls and non-ASCII.
 *
 * Lookups assume a validated document and only look for structure: keys are
 * compared where they sit, uninteresting values are skipped (strings by
 * searching for '"' and '\\', containers by counting brackets outside
 * strings), and every read is bounds-checked so that a corrupted document
 * can only produce -EINVAL or a wrong answer, never a wild read. */
#include "text/json_scan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "text/utf8.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define HL_JSON_SSE2 1
#endif

_Static_assert(HL_TEMPLATE_PATH_BYTES_MAX <= UINT16_MAX, "path offsets are 16-bit");
_Static_assert(HL_JSON_DEPTH_CEILING % 64 == 0, "depth bits come in 64-bit words");

typedef const uint8_t *cptr;

/* Byte classes, one table lookup each on the hot paths. */
enum { CLASS_WS = 1, CLASS_NUMBER = 2, CLASS_SCALAR = 4 };

#define NUM (CLASS_NUMBER | CLASS_SCALAR)
#define LOW CLASS_SCALAR
static const uint8_t byte_class[256] = {
    ['\t'] = CLASS_WS, ['\n'] = CLASS_WS, ['\r'] = CLASS_WS, [' '] = CLASS_WS,
    ['+'] = NUM, ['-'] = NUM, ['.'] = NUM, ['0'] = NUM, ['1'] = NUM, ['2'] = NUM, ['3'] = NUM,
    ['4'] = NUM, ['5'] = NUM, ['6'] = NUM, ['7'] = NUM, ['8'] = NUM, ['9'] = NUM, ['E'] = NUM,
    ['a'] = LOW, ['b'] = LOW, ['c'] = LOW, ['d'] = LOW, ['e'] = NUM, ['f'] = LOW, ['g'] = LOW,
    ['h'] = LOW, ['i'] = LOW, ['j'] = LOW, ['k'] = LOW, ['l'] = LOW, ['m'] = LOW, ['n'] = LOW,
    ['o'] = LOW, ['p'] = LOW, ['q'] = LOW, ['r'] = LOW, ['s'] = LOW, ['t'] = LOW, ['u'] = LOW,
    ['v'] = LOW, ['w'] = LOW, ['x'] = LOW, ['y'] = LOW, ['z'] = LOW,
};
#undef NUM
#undef LOW

static inline bool is_ws(uint8_t c) {
  return byte_class[c] & CLASS_WS;
}

/* skip_ws: minified JSON has no whitespace, so the first test usually ends
 * it. */
static inline cptr skip_ws(cptr p, cptr end) {
  while (p < end && is_ws(*p)) {
    p++;
  }
  return p;
}

static inline bool is_digit(uint8_t c) {
  return (unsigned)(c - '0') < 10;
}

static inline int hex_val(uint8_t c) {
  if (is_digit(c)) {
    return c - '0';
  }
  c |= 0x20;
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

/* hex4 reads four hex digits at p (caller checked they are in bounds). */
static inline int32_t hex4(cptr p) {
  int32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex_val(p[i]);
    if (h < 0) {
      return -1;
    }
    v = (v << 4) | h;
  }
  return v;
}

/* What find stops at. */
enum {
  STOP_IN_STRING,  /* '"', '\\', controls, non-ASCII: the validator's look */
  STOP_QUOTE,      /* '"' and '\\': enough to skip a validated string */
};

static inline bool stops_at(uint8_t c, int what) {
  switch (what) {
    case STOP_IN_STRING:
      return c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
    default:
      return c == '"' || c == '\\';
  }
}

/* find returns the first byte at or after p that |what| stops at, or end;
 * 16 bytes per step where SSE2 is there. |what| is a constant at every call,
 * so each use inlines to one loop. */
static inline __attribute__((always_inline)) cptr find(cptr p, cptr end, int what) {
#if HL_JSON_SSE2
  const __m128i quote = _mm_set1_epi8('"');
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
    if (what == STOP_IN_STRING) {
      /* Signed compare: bytes >= 0x80 are negative, so "< 0x20" also
       * catches every non-ASCII byte. */
      m = _mm_or_si128(m, _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
    }
    unsigned mask = (unsigned)_mm_movemask_epi8(m);
    if (mask != 0) {
      return p + __builtin_ctz(mask);
    }
    p += 16;
  }
#endif
  while (p < end && !stops_at(*p, what)) {
    p++;
  }
  return p;
}

/* What read_escape found. */
typedef enum esc_status {
  ESC_OK,
  ESC_TRUNCATED,   /* the input ends after the backslash */
  ESC_UNKNOWN,     /* not one of \" \\ \/ \b \f \n \r \t \u */
  ESC_HEX,         /* \u without four hex digits */
  ESC_LOW_ALONE,   /* \uDC00..\uDFFF first */
  ESC_HIGH_ALONE,  /* \uD800..\uDBFF not followed by a low surrogate escape */
} esc_status;

/* read_escape reads the escape at p (p[0] == '\\'): on ESC_OK, *cp is the
 * code point (a surrogate pair already combined) and *adv its length in the
 * input. *cp holds the first \u value for the surrogate errors. */
static esc_status read_escape(cptr p, cptr end, int32_t *cp, size_t *adv) {
  static const uint8_t simple[128] = {['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
                                      ['f'] = '\f', ['n'] = '\n',   ['r'] = '\r', ['t'] = '\t'};
  if (end - p < 2) {
    return ESC_TRUNCATED;
  }
  uint8_t c = p[1];
  *adv = 2;
  if (c < 128 && simple[c] != 0) {
    *cp = simple[c];
    return ESC_OK;
  }
  if (c != 'u') {
    return ESC_UNKNOWN;
  }
  *cp = end - p >= 6 ? hex4(p + 2) : -1;
  if (*cp < 0) {
    return ESC_HEX;
  }
  *adv = 6;
  if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
    return ESC_LOW_ALONE;
  }
  if (*cp < 0xD800 || *cp > 0xDBFF) {
    return ESC_OK;
  }
  int32_t lo = (end - p >= 12 && p[6] == '\\' && p[7] == 'u') ? hex4(p + 8) : -1;
  if (lo < 0xDC00 || lo > 0xDFFF) {
    return ESC_HIGH_ALONE;
  }
  *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
  *adv = 12;
  return ESC_OK;
}

/* ==== validation ========================================================== */

typedef struct vstate {
  cptr start;
  cptr end;
  cptr err_at;
  char why[160];
} vstate;

__attribute__((format(printf, 3, 4), cold)) static cptr vfail(vstate *v, cptr at,
                                                             const char *fmt, ...) {
  v->err_at = at;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(v->why, sizeof(v->why), fmt, ap);
  va_end(ap);
  if (n < 0) {
    v->why[0] = '\0';
  }
  return NULL;
}

/* vfail_byte reports an unexpected byte, quoted if printable. */
static cptr vfail_byte(vstate *v, cptr at, const char *expected) {
  uint8_t c = *at;
  if (c > 0x20 && c < 0x7f) {
    return vfail(v, at, "unexpected character '%c', expected %s", c, expected);
  }
  return vfail(v, at, "unexpected byte 0x%02x, expected %s", c, expected);
}

/* v_escape checks the escape at p (p[0] == '\\') and returns what follows. */
static cptr v_escape(vstate *v, cptr p) {
  int32_t cp = 0;
  size_t adv = 0;
  switch (read_escape(p, v->end, &cp, &adv)) {
    case ESC_OK:
      return p + adv;
    case ESC_TRUNCATED:
      return vfail(v, p, "unterminated string");
    case ESC_UNKNOWN:
      if (p[1] > 0x20 && p[1] < 0x7f) {
        return vfail(v, p, "invalid escape sequence '\\%c' in a string", p[1]);
      }
      return vfail(v, p, "invalid escape sequence: backslash followed by byte 0x%02x", p[1]);
    case ESC_HEX:
      return vfail(v, p, "invalid \\u escape: expected 4 hex digits");
    case ESC_LOW_ALONE:
      return vfail(v, p, "unpaired UTF-16 surrogate \\u%04x (a low surrogate with no high one)",
                   (unsigned)cp);
    case ESC_HIGH_ALONE:
      return vfail(v, p, "unpaired UTF-16 surrogate \\u%04x (not followed by a low surrogate)",
                   (unsigned)cp);
  }
  HL_UNREACHABLE();
}

/* v_string validates a string whose opening quote is at q and returns the
 * position after its closing quote. */
static inline __attribute__((always_inline)) cptr v_string(vstate *v, cptr q) {
  cptr p = q + 1;
  cptr end = v->end;
  for (;;) {
    p = find(p, end, STOP_IN_STRING);
    if (p == end) {
      return vfail(v, q, "unterminated string");
    }
    if (*p == '"') {
      return p + 1;
    }
    if (*p == '\\') {
      p = v_escape(v, p);
      if (p == NULL) {
        return NULL;
      }
      continue;
    }
    if (*p < 0x20) {
      return vfail(v, p, "raw control byte 0x%02x in a string (escape it as \\u%04x)", *p, *p);
    }
    /* Non-ASCII: usually a run of it (accents, CJK), so stay scalar while
     * it lasts. */
    do {
      hl_utf8_error why = HL_UTF8_OK;
      int n = hl_utf8_next(p, end, &why);
      if (n < 0) {
        return vfail(v, p, "invalid UTF-8 in a string (byte 0x%02x: %s)", *p,
                     hl_utf8_error_text(why));
      }
      p += n;
    } while (p < end && *p >= 0x80);
  }
}

static cptr v_number(vstate *v, cptr p) {
  cptr end = v->end;
  cptr s = p;
  if (*p == '-') {
    p++;
    if (p == end || !is_digit(*p)) {
      return vfail(v, s, "expected a digit after '-' in a number");
    }
  }
  if (*p == '0') {
    p++;
    if (p < end && is_digit(*p)) {
      return vfail(v, s, "leading zero in a number");
    }
  } else {
    while (p < end && is_digit(*p)) {
      p++;
    }
  }
  if (p < end && *p == '.') {
    p++;
    if (p == end || !is_digit(*p)) {
      return vfail(v, s, "expected a digit after the decimal point in a number");
    }
    while (p < end && is_digit(*p)) {
      p++;
    }
  }
  if (p < end && (*p | 0x20) == 'e') {
    p++;
    if (p < end && (*p == '+' || *p == '-')) {
      p++;
    }
    if (p == end || !is_digit(*p)) {
      return vfail(v, s, "expected a digit in the exponent of a number");
    }
    while (p < end && is_digit(*p)) {
      p++;
    }
  }
  return p;
}

static cptr v_literal(vstate *v, cptr p, const char *word, size_t n) {
  if ((size_t)(v->end - p) < n || memcmp(p, word, n) != 0) {
    return vfail(v, p, "invalid literal, expected '%s'", word);
  }
  return p + n;
}

/* v_run validates the document; returns NULL with v->why set on failure. */
static cptr v_run(vstate *v, uint32_t depth_max, bool want_object) {
  uint64_t kinds[HL_JSON_DEPTH_CEILING / 64] = {0}; /* bit set: that level is an object */
  bool in_object = false; /* the innermost open container's kind, kept at hand */
  uint32_t depth = 0;
  cptr end = v->end;
  cptr p = v->start;
  cptr comma = NULL; /* the comma just read, for "trailing comma" errors */

  if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
    return vfail(v, p, "byte order mark (U+FEFF) before the JSON text; send plain UTF-8");
  }
  p = skip_ws(p, end);
  if (p == end) {
    return vfail(v, p, "empty document, expected a JSON value");
  }
  if (want_object && *p != '{') {
    return vfail(v, p, "the top-level value must be a JSON object");
  }

value:
  p = skip_ws(p, end);
  if (p == end) {
    return vfail(v, p, "unexpected end of input, expected a value");
  }
  switch (*p) {
    case '{':
    case '[':
      if (depth >= depth_max) {
        return vfail(v, p, "nesting deeper than %u levels (HL_JSON_DEPTH_MAX)", depth_max);
      }
      in_object = *p == '{';
      if (in_object) {
        kinds[depth / 64] |= 1ull << (depth % 64);
      } else {
        kinds[depth / 64] &= ~(1ull << (depth % 64));
      }
      depth++;
      p = skip_ws(p + 1, end);
      if (p < end && (*p == '}' || *p == ']')) {
        goto close;
      }
      comma = NULL;
      if (in_object) {
        goto key;
      }
      goto value;
    case '"':
      p = v_string(v, p);
      break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      p = v_number(v, p);
      break;
    case 't':
      p = v_literal(v, p, "true", 4);
      break;
    case 'f':
      p = v_literal(v, p, "false", 5);
      break;
    case 'n':
      p = v_literal(v, p, "null", 4);
      break;
    case ']':
      if (comma != NULL) {
        return vfail(v, comma, "trailing comma in array");
      }
      return vfail_byte(v, p, "a value");
    default:
      return vfail_byte(v, p, "a value");
  }
  if (p == NULL) {
    return NULL;
  }

after:
  if (depth == 0) {
    p = skip_ws(p, end);
    if (p != end) {
      return vfail(v, p, "unexpected data after the JSON value");
    }
    return p;
  }
  p = skip_ws(p, end);
  if (p == end) {
    return vfail(v, p, "unexpected end of input, an object or array is not closed");
  }
  if (*p == ',') {
    comma = p;
    p++;
    if (in_object) {
      goto key;
    }
    goto value;
  }
  if (*p == '}' || *p == ']') {
    goto close;
  }
  if (in_object) {
    return vfail_byte(v, p, "',' or '}' after an object member");
  }
  return vfail_byte(v, p, "',' or ']' after an array element");

close:
  if (in_object != (*p == '}')) {
    return vfail(v, p, "'%c' does not close the %s", *p, in_object ? "object" : "array");
  }
  depth--;
  p++;
  in_object = depth > 0 && ((kinds[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1);
  goto after;

key:
  p = skip_ws(p, end);
  if (p == end) {
    return vfail(v, p, "unexpected end of input, expected a string key in an object");
  }
  if (*p != '"') {
    if (*p == '}' && comma != NULL) {
      return vfail(v, comma, "trailing comma in object");
    }
    return vfail_byte(v, p, "a string key in an object");
  }
  p = v_string(v, p);
  if (p == NULL) {
    return NULL;
  }
  p = skip_ws(p, end);
  if (p == end || *p != ':') {
    if (p == end) {
      return vfail(v, p, "unexpected end of input, expected ':' after an object key");
    }
    return vfail_byte(v, p, "':' after an object key");
  }
  p++;
  comma = NULL;
  goto value;
}

static int validate(hl_span doc, uint32_t depth_max, bool want_object, hl_err *err) {
  if (depth_max > HL_JSON_DEPTH_CEILING) {
    return hl_err_fail(err, -EINVAL, "json depth limit %u is above HL_JSON_DEPTH_CEILING (%u)",
                       depth_max, (unsigned)HL_JSON_DEPTH_CEILING);
  }
  vstate v;
  v.start = (cptr)doc.ptr;
  v.end = v.start + doc.len;
  v.err_at = NULL;
  v.why[0] = '\0';
  if (doc.len == 0) {
    return hl_err_fail(err, -EINVAL, "line 1, column 1: empty document, expected a JSON value");
  }
  if (v_run(&v, depth_max, want_object) != NULL) {
    return 0;
  }
  /* Line and column are counted only now, off the hot path. */
  unsigned line = 1;
  cptr line_start = v.start;
  for (cptr q = v.start; q < v.err_at; q++) {
    if (*q == '\n') {
      line++;
      line_start = q + 1;
    }
  }
  return hl_err_fail(err, -EINVAL, "line %u, column %zu: %s", line,
                     (size_t)(v.err_at - line_start) + 1, v.why);
}

int hl_json_validate(hl_span doc, uint32_t depth_max, hl_err *err) {
  return validate(doc, depth_max, false, err);
}

int hl_json_validate_object(hl_span doc, uint32_t depth_max, hl_err *err) {
  return validate(doc, depth_max, true, err);
}

/* ==== paths =============================================================== */

int hl_json_path_compile(hl_span path, hl_json_path *out, hl_err *err) {
  memset(out, 0, offsetof(hl_json_path, bytes));
  if (path.len == 0) {
    return hl_err_fail(err, -EINVAL, "path is empty");
  }
  if (path.len > HL_TEMPLATE_PATH_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "path is longer than %d bytes (HL_TEMPLATE_PATH_BYTES_MAX)",
                       HL_TEMPLATE_PATH_BYTES_MAX);
  }
  size_t start = 0;
  uint32_t n = 0;
  for (size_t i = 0; i <= path.len; i++) {
    if (i < path.len && path.ptr[i] != '.') {
      continue;
    }
    if (i == start) {
      out->parts_n = 0;
      return hl_err_fail(err, -EINVAL, "path '%.*s' has an empty part at byte %zu (write a.b.c)",
                         (int)(path.len < 64 ? path.len : 64), path.ptr, i + 1);
    }
    if (n == HL_TEMPLATE_PATH_PARTS_MAX) {
      out->parts_n = 0;
      return hl_err_fail(err, -EINVAL, "path has more than %d parts (HL_TEMPLATE_PATH_PARTS_MAX)",
                         HL_TEMPLATE_PATH_PARTS_MAX);
    }
    hl_json_path_part *part = &out->parts[n++];
    part->off = (uint16_t)start;
    part->len = (uint16_t)(i - start);
    part->index = HL_JSON_NOT_INDEX;
    hl_span s = hl_span_make(path.ptr + start, i - start);
    uint64_t idx;
    bool canonical = s.len == 1 || s.ptr[0] != '0';
    if (canonical && hl_span_parse_u64(s, HL_JSON_NOT_INDEX - 1, &idx)) {
      part->index = (uint32_t)idx;
    }
    start = i + 1;
  }
  memcpy(out->bytes, path.ptr, path.len);
  out->len = (uint32_t)path.len;
  out->parts_n = n;
  return 0;
}

/* ==== lookup ============================================================== */

/* skip_string returns the position after the closing quote of a string whose
 * contents start at p, or NULL if it is not terminated. *escaped records
 * whether it held a backslash. */
static inline cptr skip_string(cptr p, cptr end, bool *escaped) {
  for (;;) {
    p = find(p, end, STOP_QUOTE);
    if (p == end) {
      return NULL;
    }
    if (*p == '"') {
      return p + 1;
    }
    *escaped = true;
    if (end - p < 2) {
      return NULL;
    }
    p += 2;
  }
}

/* Bits of one 64-byte block: which bytes are '"', '\\', '[' or '{', and
 * ']' or '}'. */
typedef struct block_bits {
  uint64_t quote;
  uint64_t bslash;
  uint64_t open;
  uint64_t close;
} block_bits;

static inline void classify_block(const uint8_t *b, block_bits *m) {
#if HL_JSON_SSE2
  m->quote = m->bslash = m->open = m->close = 0;
  for (int i = 0; i < 4; i++) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + 16 * i));
    __m128i y = _mm_or_si128(x, _mm_set1_epi8(0x20)); /* '[' -> '{', ']' -> '}' */
    int shift = 16 * i;
    m->quote |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')))
                << shift;
    m->bslash |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('\\')))
                 << shift;
    m->open |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(y, _mm_set1_epi8('{')))
               << shift;
    m->close |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(y, _mm_set1_epi8('}')))
                << shift;
  }
#else
  m->quote = m->bslash = m->open = m->close = 0;
  for (int i = 0; i < 64; i++) {
    uint64_t bit = 1ull << i;
    m->quote |= b[i] == '"' ? bit : 0;
    m->bslash |= b[i] == '\\' ? bit : 0;
    m->open |= (b[i] | 0x20) == '{' ? bit : 0;
    m->close |= (b[i] | 0x20) == '}' ? bit : 0;
  }
#endif
}

/* escaped_bits returns the bytes of a block that a backslash escapes;
 * *carry (0 or 1) says whether the block's first byte is escaped and is set
 * for the next block. Backslashes are rare, so they are walked one by one. */
static inline uint64_t escaped_bits(uint64_t bslash, uint64_t *carry) {
  uint64_t escaped = *carry;
  bslash &= ~*carry;
  *carry = 0;
  while (bslash != 0) {
    int i = __builtin_ctzll(bslash);
    if (i == 63) {
      *carry = 1;
      break;
    }
    escaped |= 1ull << (i + 1);
    bslash &= ~(3ull << i); /* this backslash, and the byte it escapes */
  }
  return escaped;
}

/* prefix_xor sets bit i to the xor of bits 0..i: with the unescaped quotes
 * as input, the bytes from an opening quote up to (not including) its
 * closing one. */
static inline uint64_t prefix_xor(uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

/* skip_nested returns the position after the bracket that closes the
 * container whose contents start at p (one level open), or NULL. It works
 * on 64-byte blocks: brackets inside strings are masked off with the string
 * bits, so its cost does not depend on how many strings there are. Brackets
 * are counted without checking their kind: the document was validated. The
 * last partial block is copied into padding (spaces change nothing). */
static cptr skip_nested(cptr p, cptr end) {
  size_t depth = 1;
  uint64_t in_string = 0; /* all ones while a string runs across blocks */
  uint64_t carry = 0;
  uint8_t tail[64];
  while (p < end) {
    size_t n = (size_t)(end - p);
    const uint8_t *b = p;
    if (n < 64) {
      memset(tail, ' ', sizeof(tail));
      memcpy(tail, p, n);
      b = tail;
    }
    block_bits m;
    classify_block(b, &m);
    uint64_t quotes = m.quote & ~escaped_bits(m.bslash, &carry);
    uint64_t strings = prefix_xor(quotes) ^ in_string;
    in_string = (uint64_t)((int64_t)strings >> 63);
    uint64_t open = m.open & ~strings;
    uint64_t close = m.close & ~strings;
    for (uint64_t bits = open | close; bits != 0; bits &= bits - 1) {
      int i = __builtin_ctzll(bits);
      if ((open >> i) & 1) {
        depth++;
      } else if (--depth == 0) {
        return p + i + 1;
      }
    }
    p += n < 64 ? n : 64;
  }
  return NULL;
}

/* number bytes: what can follow the first byte of a number token. */
static inline bool is_number_byte(uint8_t c) {
  return byte_class[c] & CLASS_NUMBER;
}

/* value_at reads the value starting at p into *out and returns the position
 * after it, or NULL if there is no value there. */
static cptr value_at(cptr p, cptr end, hl_json_value *out) {
  cptr q;
  bool escaped;
  if (p >= end) {
    return NULL;
  }
  switch (*p) {
    case '"':
      out->type = HL_JSON_STRING;
      q = skip_string(p + 1, end, &escaped);
      break;
    case '{':
      out->type = HL_JSON_OBJECT;
      q = skip_nested(p + 1, end);
      break;
    case '[':
      out->type = HL_JSON_ARRAY;
      q = skip_nested(p + 1, end);
      break;
    case 't':
      out->type = HL_JSON_TRUE;
      q = end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
      break;
    case 'f':
      out->type = HL_JSON_FALSE;
      q = end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
      break;
    case 'n':
      out->type = HL_JSON_NULL;
      q = end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
      break;
    default:
      if (*p != '-' && !is_digit(*p)) {
        return NULL;
      }
      out->type = HL_JSON_NUMBER;
      q = p + 1;
      while (q < end && is_number_byte(*q)) {
        q++;
      }
      break;
  }
  if (q == NULL) {
    out->type = HL_JSON_NONE;
    return NULL;
  }
  out->raw = hl_span_make(p, (size_t)(q - p));
  return q;
}

/* skip_value returns the position after the value at p, or NULL. */
static inline cptr skip_value(cptr p, cptr end) {
  bool escaped;
  if (p >= end) {
    return NULL;
  }
  switch (*p) {
    case '"':
      return skip_string(p + 1, end, &escaped);
    case '{':
    case '[':
      return skip_nested(p + 1, end);
    default: {
      /* A number or literal: up to the next delimiter. */
      cptr q = p;
      while (q < end && (byte_class[*q] & CLASS_SCALAR)) {
        q++;
      }
      return q > p ? q : NULL;
    }
  }
}

/* decode_escape decodes the escape at p (p[0] == '\\') into UTF-8 in
 * out[4]; returns the bytes written (*adv = input consumed) or -1. */
static int decode_escape(cptr p, cptr end, uint8_t out[4], size_t *adv) {
  int32_t cp;
  if (read_escape(p, end, &cp, adv) != ESC_OK) {
    return -1;
  }
  if (cp < 0x80) {
    out[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (uint8_t)(0xC0 | (cp >> 6));
    out[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (uint8_t)(0xE0 | (cp >> 12));
    out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (uint8_t)(0xF0 | (cp >> 18));
  out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

/* key_equals_escaped compares the escaped key contents [k, kend) with the
 * path part |want| after decoding, without a buffer. */
static bool key_equals_escaped(cptr k, cptr kend, const uint8_t *want, size_t want_len) {
  size_t i = 0;
  while (k < kend) {
    if (*k != '\\') {
      if (i == want_len || want[i] != *k) {
        return false;
      }
      i++;
      k++;
      continue;
    }
    uint8_t d[4];
    size_t adv;
    int n = decode_escape(k, kend, d, &adv);
    if (n < 0 || want_len - i < (size_t)n || memcmp(want + i, d, (size_t)n) != 0) {
      return false;
    }
    i += (size_t)n;
    k += adv;
  }
  return i == want_len;
}

static inline bool key_matches(cptr k, size_t klen, bool escaped, const hl_json_path *path,
                               const hl_json_path_part *part) {
  const uint8_t *want = (const uint8_t *)path->bytes + part->off;
  if (!escaped) {
    return klen == part->len && memcmp(k, want, klen) == 0;
  }
  return key_equals_escaped(k, k + klen, want, part->len);
}

/* key_sig packs a key's length, first and last byte (len > 0): equal keys
 * have equal signatures, so a differing signature rules a match out. */
static inline uint32_t key_sig(cptr k, size_t len) {
  return (uint32_t)(len & 0xFFFF) | (uint32_t)k[0] << 16 | (uint32_t)k[len - 1] << 24;
}

static inline unsigned sig_bucket(uint32_t sig) {
  return (sig * 0x9E3779B1u) >> 26;
}

/* A member's key as it sits in the document. */
typedef struct jkey {
  cptr ptr;
  size_t len;
  bool escaped;
} jkey;

/* read_member reads `"key" :` at p (after whitespace) and returns the start
 * of the member's value, or NULL. */
static inline cptr read_member(cptr p, cptr end, jkey *key) {
  if (p >= end || *p != '"') {
    return NULL;
  }
  key->escaped = false;
  key->ptr = p + 1;
  cptr q = skip_string(p + 1, end, &key->escaped);
  if (q == NULL) {
    return NULL;
  }
  key->len = (size_t)(q - 1 - key->ptr);
  q = skip_ws(q, end);
  if (q == end || *q != ':') {
    return NULL;
  }
  q = skip_ws(q + 1, end);
  return q < end ? q : NULL;
}

/* next_item moves past the separator after a member or element: returns the
 * next item's start, or sets *closed at the closing bracket, or NULL. */
static inline cptr next_item(cptr p, cptr end, bool *closed) {
  p = skip_ws(p, end);
  if (p == end) {
    return NULL;
  }
  if (*p == ',') {
    return skip_ws(p + 1, end);
  }
  if (*p == '}' || *p == ']') {
    *closed = true;
    return p + 1;
  }
  return NULL;
}

/* find_child returns the start of the child of the container at p named by
 * |part| (0), or sets *rc to -ENOENT / -EINVAL and returns NULL. */
static cptr find_child(cptr p, cptr end, const hl_json_path *path, const hl_json_path_part *part,
                       int *rc) {
  *rc = -EINVAL;
  bool object = *p == '{';
  if (!object && part->index == HL_JSON_NOT_INDEX) {
    *rc = -ENOENT;
    return NULL;
  }
  p = skip_ws(p + 1, end);
  if (p < end && (*p == '}' || *p == ']')) {
    *rc = -ENOENT;
    return NULL;
  }
  for (uint32_t i = 0;; i++) {
    cptr value = p;
    if (object) {
      jkey key;
      value = read_member(p, end, &key);
      if (value == NULL) {
        return NULL;
      }
      if (key_matches(key.ptr, key.len, key.escaped, path, part)) {
        return value;
      }
    } else if (i == part->index) {
      return value < end ? value : NULL;
    }
    bool closed = false;
    p = skip_value(value, end);
    p = p != NULL ? next_item(p, end, &closed) : NULL;
    if (p == NULL) {
      return NULL;
    }
    if (closed) {
      *rc = -ENOENT;
      return NULL;
    }
  }
}

int hl_json_lookup(hl_span doc, const hl_json_path *path, hl_json_value *out) {
  out->type = HL_JSON_NONE;
  out->raw = HL_SPAN_NULL;
  cptr end = (cptr)doc.ptr + doc.len;
  cptr p = skip_ws((cptr)doc.ptr, end);
  if (path->parts_n == 0) {
    return -ENOENT;
  }
  for (uint32_t i = 0; i < path->parts_n; i++) {
    if (p == end) {
      return -EINVAL;
    }
    if (*p != '{' && *p != '[') {
      return -ENOENT;
    }
    int rc;
    p = find_child(p, end, path, &path->parts[i], &rc);
    if (p == NULL) {
      return rc;
    }
  }
  hl_json_value v;
  if (value_at(p, end, &v) == NULL) {
    return -EINVAL;
  }
  *out = v;
  return 0;
}

/* ---- many paths in one pass ---------------------------------------------- */

typedef struct many {
  cptr end;
  const hl_json_path *const *paths;
  hl_json_value *out;
  uint64_t pending; /* paths not yet found or ruled out */
  int found;
  bool bad;
} many;

static cptr many_container(many *m, cptr p, uint32_t d, uint64_t active);

/* many_hit handles the value at p that the paths in |hits| reach with part
 * d: those that end here take the value, the others descend. Returns the
 * position after the value, or NULL (malformed, or everything resolved). */
static cptr many_hit(many *m, cptr p, uint32_t d, uint64_t hits) {
  uint64_t ends = 0;
  for (uint64_t b = hits; b != 0; b &= b - 1) {
    int i = __builtin_ctzll(b);
    if (m->paths[i]->parts_n == d + 1) {
      ends |= 1ull << i;
    }
  }
  uint64_t deeper = hits & ~ends;
  cptr q;
  hl_json_value v = {HL_JSON_NONE, HL_SPAN_NULL};
  if (deeper != 0 && (*p == '{' || *p == '[')) {
    q = many_container(m, p, d + 1, deeper);
    if (q == NULL) {
      return NULL;
    }
    v.type = *p == '{' ? HL_JSON_OBJECT : HL_JSON_ARRAY;
    v.raw = hl_span_make(p, (size_t)(q - p));
  } else {
    m->pending &= ~deeper; /* they would descend into a scalar */
    q = value_at(p, m->end, &v);
    if (q == NULL) {
      m->bad = true;
      return NULL;
    }
  }
  for (uint64_t b = ends; b != 0; b &= b - 1) {
    int i = __builtin_ctzll(b);
    m->out[i] = v;
    m->found++;
  }
  m->pending &= ~ends;
  return m->pending != 0 ? q : NULL;
}

/* many_container walks the container at p with the paths in |active|, all
 * of which have a part d. Returns the position after it, or NULL. */
static cptr many_container(many *m, cptr p, uint32_t d, uint64_t active) {
  cptr end = m->end;
  bool object = *p == '{';
  uint32_t index_max = 0;
  uint64_t want = 0;
  for (uint64_t b = active; b != 0; b &= b - 1) {
    int i = __builtin_ctzll(b);
    uint32_t idx = m->paths[i]->parts[d].index;
    if (object || idx != HL_JSON_NOT_INDEX) {
      want |= 1ull << i;
      index_max = idx != HL_JSON_NOT_INDEX && idx > index_max ? idx : index_max;
    }
  }
  m->pending &= ~(active & ~want); /* names cannot index an array */
  active = want;
  uint64_t buckets[64]; /* paths whose part d has a signature hashing here */
  uint64_t empty = 0;   /* paths whose part d is empty (only a zero path) */
  if (object) {
    memset(buckets, 0, sizeof(buckets));
    for (uint64_t b = active; b != 0; b &= b - 1) {
      int i = __builtin_ctzll(b);
      const hl_json_path_part *part = &m->paths[i]->parts[d];
      if (part->len == 0) {
        empty |= 1ull << i;
        continue;
      }
      buckets[sig_bucket(key_sig((cptr)m->paths[i]->bytes + part->off, part->len))] |= 1ull << i;
    }
  }
  p = skip_ws(p + 1, end);
  if (p < end && (*p == '}' || *p == ']')) {
    m->pending &= ~active;
    return p + 1;
  }
  for (uint32_t i = 0;; i++) {
    if (active == 0 || (!object && i > index_max)) {
      /* Nothing more to find here: count brackets to the end. */
      m->pending &= ~active;
      if (m->pending == 0) {
        return NULL;
      }
      cptr q = skip_nested(p, end);
      m->bad = q == NULL;
      return q;
    }
    cptr value = p;
    uint64_t hits = 0;
    if (object) {
      jkey key;
      value = read_member(p, end, &key);
      if (value == NULL) {
        m->bad = true;
        return NULL;
      }
      /* Most keys are not wanted: the signature's bucket says which paths
       * could match (usually none), and only those are compared. An
       * escaped key's raw bytes say nothing, so it meets every path. */
      uint64_t candidates = active;
      if (!key.escaped) {
        candidates = key.len > 0 ? buckets[sig_bucket(key_sig(key.ptr, key.len))] & active : 0;
        candidates |= empty & active;
      }
      for (uint64_t b = candidates; b != 0; b &= b - 1) {
        int k = __builtin_ctzll(b);
        const hl_json_path *path = m->paths[k];
        if (key_matches(key.ptr, key.len, key.escaped, path, &path->parts[d])) {
          hits |= 1ull << k;
        }
      }
    } else {
      if (value >= end) {
        m->bad = true;
        return NULL;
      }
      for (uint64_t b = active; b != 0; b &= b - 1) {
        int k = __builtin_ctzll(b);
        if (m->paths[k]->parts[d].index == i) {
          hits |= 1ull << k;
        }
      }
    }
    if (hits != 0) {
      active &= ~hits; /* first match wins: later duplicates are not searched */
      p = many_hit(m, value, d, hits);
      if (p == NULL) {
        return NULL;
      }
    } else {
      p = skip_value(value, end);
      if (p == NULL) {
        m->bad = true;
        return NULL;
      }
    }
    bool closed = false;
    p = next_item(p, end, &closed);
    if (p == NULL) {
      m->bad = true;
      return NULL;
    }
    if (closed) {
      m->pending &= ~active;
      return p;
    }
  }
}

int hl_json_lookup_many(hl_span doc, const hl_json_path *const *paths, size_t n,
                        hl_json_value *out) {
  cptr end = (cptr)doc.ptr + doc.len;
  cptr top = skip_ws((cptr)doc.ptr, end);
  int found = 0;
  bool bad = false;
  for (size_t base = 0; base < n; base += 64) {
    size_t k = n - base < 64 ? n - base : 64;
    many m = {end, paths + base, out + base, 0, 0, false};
    for (size_t i = 0; i < k; i++) {
      out[base + i].type = HL_JSON_NONE;
      out[base + i].raw = HL_SPAN_NULL;
      if (paths[base + i]->parts_n > 0) {
        m.pending |= 1ull << i;
      }
    }
    if (top == end) {
      bad = bad || m.pending != 0;
    } else if (m.pending != 0 && (*top == '{' || *top == '[')) {
      many_container(&m, top, 0, m.pending);
    }
    found += m.found;
    bad = bad || m.bad;
  }
  return bad ? -EINVAL : found;
}

/* ==== strings ============================================================= */

hl_span hl_json_string_contents(hl_span raw) {
  if (raw.len < 2 || raw.ptr[0] != '"' || raw.ptr[raw.len - 1] != '"') {
    return HL_SPAN_NULL;
  }
  return hl_span_make(raw.ptr + 1, raw.len - 2);
}

int hl_json_string_decode(hl_span raw, hl_buf *out) {
  hl_span s = hl_json_string_contents(raw);
  if (s.ptr == NULL) {
    return -EINVAL;
  }
  if (!hl_buf_ok(out)) {
    return -ENOSPC;
  }
  size_t mark = out->len;
  cptr p = (cptr)s.ptr;
  cptr end = p + s.len;
  while (p < end) {
    cptr run = p;
    while (p < end && *p != '\\') {
      p++;
    }
    hl_buf_put(out, run, (size_t)(p - run));
    if (p == end) {
      break;
    }
    uint8_t d[4];
    size_t adv;
    int n = decode_escape(p, end, d, &adv);
    if (n < 0) {
      hl_buf_truncate(out, mark);
      return -EINVAL;
    }
    hl_buf_put(out, d, (size_t)n);
    p += adv;
  }
  if (!hl_buf_ok(out)) {
    out->len = mark;
    return -ENOSPC;
  }
  return 0;
}
