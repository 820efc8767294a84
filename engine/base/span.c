/* span: bounds-checked byte views (see span.h). */
#include "base/span.h"

hl_span hl_span_sub(hl_span s, size_t off, size_t n) {
  if (off > s.len) {
    off = s.len;
  }
  if (n > s.len - off) {
    n = s.len - off;
  }
  return (hl_span){s.ptr + off, n};
}

bool hl_span_eq(hl_span a, hl_span b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool hl_span_eq_cstr(hl_span a, const char *b) {
  return hl_span_eq(a, hl_span_cstr(b));
}

bool hl_span_eq_nocase(hl_span a, hl_span b) {
  if (a.len != b.len) {
    return false;
  }
  for (size_t i = 0; i < a.len; i++) {
    if (hl_ascii_lower(a.ptr[i]) != hl_ascii_lower(b.ptr[i])) {
      return false;
    }
  }
  return true;
}

bool hl_span_starts_with(hl_span s, hl_span prefix) {
  return s.len >= prefix.len && hl_span_eq(hl_span_sub(s, 0, prefix.len), prefix);
}

bool hl_span_ends_with(hl_span s, hl_span suffix) {
  return s.len >= suffix.len && hl_span_eq(hl_span_sub(s, s.len - suffix.len, suffix.len), suffix);
}

bool hl_span_ends_with_nocase(hl_span s, hl_span suffix) {
  return s.len >= suffix.len &&
         hl_span_eq_nocase(hl_span_sub(s, s.len - suffix.len, suffix.len), suffix);
}

size_t hl_span_find(hl_span s, char c) {
  if (s.len == 0) {
    return SIZE_MAX;
  }
  const char *p = memchr(s.ptr, c, s.len);
  return p != NULL ? (size_t)(p - s.ptr) : SIZE_MAX;
}

hl_span hl_span_trim_ows(hl_span s) {
  while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
    s.ptr++;
    s.len--;
  }
  while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t')) {
    s.len--;
  }
  return s;
}

bool hl_span_skip(hl_span *s, size_t n) {
  if (n > s->len) {
    return false;
  }
  s->ptr += n;
  s->len -= n;
  return true;
}

bool hl_span_get_u8(hl_span *s, uint8_t *out) {
  if (s->len == 0) {
    return false;
  }
  *out = (uint8_t)s->ptr[0];
  s->ptr++;
  s->len--;
  return true;
}

bool hl_span_get_bytes(hl_span *s, size_t n, hl_span *out) {
  if (n > s->len) {
    return false;
  }
  *out = (hl_span){s->ptr, n};
  s->ptr += n;
  s->len -= n;
  return true;
}

bool hl_span_get_until(hl_span *s, char c, hl_span *out) {
  size_t i = hl_span_find(*s, c);
  if (i == SIZE_MAX) {
    return false;
  }
  *out = (hl_span){s->ptr, i};
  s->ptr += i + 1;
  s->len -= i + 1;
  return true;
}

bool hl_span_get_lit(hl_span *s, hl_span lit) {
  if (!hl_span_starts_with(*s, lit)) {
    return false;
  }
  s->ptr += lit.len;
  s->len -= lit.len;
  return true;
}

bool hl_span_parse_u64(hl_span s, uint64_t max, uint64_t *out) {
  if (s.len == 0) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < s.len; i++) {
    unsigned d = (unsigned char)s.ptr[i] - '0';
    /* v * 10 + d <= max, written so that nothing overflows. */
    if (d > 9 || d > max || v > (max - d) / 10) {
      return false;
    }
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool hl_span_to_cstr(hl_span s, char *dst, size_t cap) {
  if (cap == 0) {
    return false;
  }
  if (s.len >= cap || (s.len > 0 && memchr(s.ptr, '\0', s.len) != NULL)) {
    dst[0] = '\0';
    return false;
  }
  if (s.len > 0) {
    memcpy(dst, s.ptr, s.len);
  }
  dst[s.len] = '\0';
  return true;
}
