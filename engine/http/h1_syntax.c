/* h1_syntax: character classes, error names, limits and the field-line
 * scanner (see h1_syntax.h). */
#include "http/h1_syntax.h"

#include "base/assert.h"
#include "base/err.h"

#define T HL_H1_CHAR_TOKEN
#define V HL_H1_CHAR_VALUE
#define H HL_H1_CHAR_HEX

/* Ranges never overlap: each byte is listed once. */
const uint8_t hl_h1_char_class[256] = {
    ['\t'] = V,
    [' '] = V,
    ['!'] = T | V,
    ['"'] = V,
    ['#' ... '\''] = T | V,
    ['(' ... ')'] = V,
    ['*' ... '+'] = T | V,
    [','] = V,
    ['-' ... '.'] = T | V,
    ['/'] = V,
    ['0' ... '9'] = T | V | H,
    [':' ... '@'] = V,
    ['A' ... 'F'] = T | V | H,
    ['G' ... 'Z'] = T | V,
    ['[' ... ']'] = V,
    ['^' ... '`'] = T | V,
    ['a' ... 'f'] = T | V | H,
    ['g' ... 'z'] = T | V,
    ['{'] = V,
    ['|'] = T | V,
    ['}'] = V,
    ['~'] = T | V,
    [0x80 ... 0xff] = V,
};

#undef T
#undef V
#undef H

static const char *const error_names[HL_H1_ERR_COUNT_] = {
    [HL_H1_OK] = "ok",
    [HL_H1_ERR_BAD_STATUS_LINE] = "bad_status_line",
    [HL_H1_ERR_STATUS_LINE_TOO_LONG] = "status_line_too_long",
    [HL_H1_ERR_BAD_HEADER] = "bad_header",
    [HL_H1_ERR_HEADER_TOO_LONG] = "header_too_long",
    [HL_H1_ERR_TOO_MANY_HEADERS] = "too_many_headers",
    [HL_H1_ERR_HEADERS_TOO_LARGE] = "headers_too_large",
    [HL_H1_ERR_BAD_CONTENT_LENGTH] = "bad_content_length",
    [HL_H1_ERR_BAD_TRANSFER_ENCODING] = "bad_transfer_encoding",
    [HL_H1_ERR_BAD_CHUNK] = "bad_chunk",
    [HL_H1_ERR_CHUNK_LINE_TOO_LONG] = "chunk_line_too_long",
    [HL_H1_ERR_BODY_TOO_LARGE] = "body_too_large",
    [HL_H1_ERR_TOO_MANY_INTERIM] = "too_many_interim",
    [HL_H1_ERR_NO_RESPONSE] = "no_response",
    [HL_H1_ERR_UNEXPECTED_EOF] = "unexpected_eof",
    [HL_H1_ERR_EXTRA_DATA] = "extra_data",
};

const char *hl_h1_error_name(hl_h1_error e) {
  if ((unsigned)e >= HL_H1_ERR_COUNT_) {
    return "unknown";
  }
  return error_names[e];
}

hl_h1_limits hl_h1_limits_default(void) {
  return (hl_h1_limits){
      .body_bytes_discard_max = HL_HTTP_BODY_BYTES_DISCARD_MAX,
      .status_line_bytes_max = HL_HTTP_STATUS_LINE_BYTES_MAX,
      .header_line_bytes_max = HL_HTTP_HEADER_LINE_BYTES_MAX,
      .header_bytes_max = HL_HTTP_RESPONSE_HEADER_BYTES_MAX,
      .chunk_line_bytes_max = HL_HTTP_CHUNK_LINE_BYTES_MAX,
      .headers_max = HL_HTTP_RESPONSE_HEADERS_MAX,
      .interim_responses_max = HL_HTTP_INTERIM_RESPONSES_MAX,
  };
}

hl_h1_limits hl_h1_limits_from(const hl_limits *l) {
  hl_h1_limits h = hl_h1_limits_default();
  h.body_bytes_discard_max = l->http_body_bytes_discard_max;
  return h;
}

bool hl_h1_is_token(hl_span s) {
  if (s.len == 0) {
    return false;
  }
  for (size_t i = 0; i < s.len; i++) {
    if (!hl_h1_is_tchar(s.ptr[i])) {
      return false;
    }
  }
  return true;
}

#if defined(__SSE2__)
#include <emmintrin.h>

size_t hl_h1_value_run(const char *p, size_t n) {
  const __m128i last_ctl = _mm_set1_epi8(0x1f);
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i tab = _mm_set1_epi8('\t');
  size_t i = 0;
  for (; n - i >= 16; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    /* Unsigned v <= 0x1f, except HTAB; or DEL. Bytes >= 0x80 are obs-text. */
    __m128i bad = _mm_cmpeq_epi8(_mm_min_epu8(v, last_ctl), v);
    bad = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), bad);
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, del));
    unsigned mask = (unsigned)_mm_movemask_epi8(bad);
    if (mask != 0) {
      return i + (size_t)__builtin_ctz(mask);
    }
  }
  while (i < n && hl_h1_is_value_char(p[i])) {
    i++;
  }
  return i;
}
#else
size_t hl_h1_value_run(const char *p, size_t n) {
  size_t i = 0;
  while (i < n && hl_h1_is_value_char(p[i])) {
    i++;
  }
  return i;
}
#endif

/* --- field-line scanner ---------------------------------------------------- */

enum {
  F_LINE_START, /* first byte of a line: a name, or the empty line */
  F_NAME,
  F_OWS, /* after the colon, before the value */
  F_VALUE,
  F_CR,     /* CR after a value: LF must follow */
  F_END_CR, /* CR of the empty line */
};

/* stop: the byte at |i| is invalid. Report what came before it first, so that
 * the consumer sees the same bytes before the error however the input was
 * split; the next call meets the bad byte with nothing pending and fails. */
static ptrdiff_t stop(hl_h1_field_out *out, size_t i, hl_h1_error err, const char *detail) {
  if (out->name.len > 0 || out->name_done || out->value.len > 0 || out->value_done) {
    return (ptrdiff_t)i;
  }
  out->err = err;
  out->detail = detail;
  return HL_INVALID;
}

static void line_reset(hl_h1_field_scan *s) {
  s->line_bytes = 0;
  s->state = F_LINE_START;
}

/* scan_run extends |span| over the bytes from |i| that have class |cls|,
 * without passing the line limit; returns the index of the first other byte
 * (or of the first byte past the limit, or |len|). */
static size_t scan_run(hl_h1_field_scan *s, uint32_t line_bytes_max, const char *buf, size_t len,
                       size_t i, uint8_t cls, hl_span *span) {
  size_t room = line_bytes_max - s->line_bytes;
  size_t lim = len - i < room ? len : i + room;
  size_t j = i;
  if (cls == HL_H1_CHAR_VALUE) {
    j += hl_h1_value_run(buf + i, lim - i);
  } else {
    while (j < lim && (hl_h1_char_class[(uint8_t)buf[j]] & cls) != 0) {
      j++;
    }
  }
  if (j > i) {
    if (span->len == 0) {
      span->ptr = buf + i;
    }
    span->len += j - i;
    s->line_bytes += (uint32_t)(j - i);
  }
  return j;
}

ptrdiff_t hl_h1_field_scan_step(hl_h1_field_scan *s, uint32_t line_bytes_max, const char *buf,
                                size_t len, hl_h1_field_out *out) {
  *out = (hl_h1_field_out){.name = HL_SPAN_NULL, .value = HL_SPAN_NULL};
  size_t i = 0;
  while (i < len) {
    if (s->line_bytes >= line_bytes_max) {
      return stop(out, i, HL_H1_ERR_HEADER_TOO_LONG,
                  "a header or trailer line is longer than the header line limit "
                  "(HL_HTTP_HEADER_LINE_BYTES_MAX)");
    }
    char c = buf[i];
    switch (s->state) {
      case F_LINE_START:
        if (hl_h1_is_tchar(c)) {
          s->state = F_NAME;
          continue;
        }
        if (c == '\r') {
          s->state = F_END_CR;
          break;
        }
        if (c == '\n') {
          line_reset(s);
          out->end_of_fields = true;
          return (ptrdiff_t)(i + 1);
        }
        if (c == ' ' || c == '\t') {
          return stop(out, i, HL_H1_ERR_BAD_HEADER,
                      "a header line starts with whitespace (obs-fold is not accepted)");
        }
        if (c == ':') {
          return stop(out, i, HL_H1_ERR_BAD_HEADER, "a header line has an empty field name");
        }
        return stop(out, i, HL_H1_ERR_BAD_HEADER, "a header line starts with an invalid character");
      case F_NAME:
        i = scan_run(s, line_bytes_max, buf, len, i, HL_H1_CHAR_TOKEN, &out->name);
        if (i == len || s->line_bytes >= line_bytes_max) {
          continue;
        }
        c = buf[i];
        if (c == ':') {
          s->state = F_OWS;
          out->name_done = true;
          break;
        }
        if (c == ' ' || c == '\t') {
          return stop(out, i, HL_H1_ERR_BAD_HEADER,
                      "whitespace between a header field name and its colon");
        }
        if (c == '\r' || c == '\n') {
          return stop(out, i, HL_H1_ERR_BAD_HEADER, "a header line has no colon");
        }
        return stop(out, i, HL_H1_ERR_BAD_HEADER, "a header field name has an invalid character");
      case F_OWS:
        if (c != ' ' && c != '\t') {
          s->state = F_VALUE;
          continue;
        }
        break;
      case F_VALUE:
        i = scan_run(s, line_bytes_max, buf, len, i, HL_H1_CHAR_VALUE, &out->value);
        if (i == len || s->line_bytes >= line_bytes_max) {
          continue;
        }
        c = buf[i];
        if (c == '\r') {
          s->state = F_CR;
          out->value_done = true;
          break;
        }
        if (c == '\n') {
          line_reset(s);
          out->value_done = true;
          out->line_done = true;
          return (ptrdiff_t)(i + 1);
        }
        return stop(out, i, HL_H1_ERR_BAD_HEADER,
                    "a header value contains NUL or a control character");
      case F_CR:
      case F_END_CR:
        if (c != '\n') {
          return stop(out, i, HL_H1_ERR_BAD_HEADER, "a CR in the header section is not followed by LF");
        }
        out->end_of_fields = s->state == F_END_CR;
        out->line_done = !out->end_of_fields;
        line_reset(s);
        return (ptrdiff_t)(i + 1);
      default:
        HL_UNREACHABLE();
    }
    /* The byte at |i| was accepted by the state above. */
    s->line_bytes++;
    i++;
  }
  return (ptrdiff_t)i;
}

ptrdiff_t hl_h1_section_step(hl_h1_section *s, const hl_h1_limits *lim, const char *buf,
                             size_t len, hl_h1_field_out *out) {
  uint32_t budget = lim->header_bytes_max - s->bytes;
  if (budget == 0 && len > 0) {
    *out = (hl_h1_field_out){.err = HL_H1_ERR_HEADERS_TOO_LARGE,
                             .detail = "the header or trailer section is larger than the "
                                       "section limit (HL_HTTP_RESPONSE_HEADER_BYTES_MAX)"};
    return HL_INVALID;
  }
  ptrdiff_t n = hl_h1_field_scan_step(&s->scan, lim->header_line_bytes_max, buf,
                                      len < budget ? len : budget, out);
  if (n < 0) {
    return HL_INVALID;
  }
  HL_ASSERT(n > 0 || len == 0);
  s->bytes += (uint32_t)n;
  if (out->name_done && s->fields++ >= lim->headers_max) {
    out->err = HL_H1_ERR_TOO_MANY_HEADERS;
    out->detail = "more header or trailer fields than the field count limit "
                  "(HL_HTTP_RESPONSE_HEADERS_MAX)";
    return HL_INVALID;
  }
  return n;
}
