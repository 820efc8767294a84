/* span: a read-only view of bytes, and a bounds-checked reader over it.
 *
 * An hl_span is {ptr, len}, laid out like struct iovec so that a span can be
 * handed to writev without copying. It never owns its bytes. The reader
 * functions (hl_span_get_*, hl_span_skip) advance the span on success and
 * leave it untouched on failure, so a parser can try one production and fall
 * back to another. Nothing here allocates or does I/O. */
#ifndef HL_BASE_SPAN_H
#define HL_BASE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct hl_span {
  const char *ptr;
  size_t len;
} hl_span;

#define HL_SPAN_LIT(s) ((hl_span){(s), sizeof(s) - 1})
#define HL_SPAN_NULL ((hl_span){NULL, 0})
/* For printf: printf("%.*s", HL_SPAN_FMT(s)). */
#define HL_SPAN_FMT(s) (int)(s).len, (s).ptr

static inline hl_span hl_span_make(const void *ptr, size_t len) {
  return (hl_span){(const char *)ptr, len};
}

static inline hl_span hl_span_cstr(const char *s) {
  return (hl_span){s, s != NULL ? strlen(s) : 0};
}

static inline bool hl_span_empty(hl_span s) {
  return s.len == 0;
}

/* hl_span_sub returns bytes [off, off + n) of |s|, clamped to |s|. */
hl_span hl_span_sub(hl_span s, size_t off, size_t n);

bool hl_span_eq(hl_span a, hl_span b);
bool hl_span_eq_cstr(hl_span a, const char *b);
/* hl_span_eq_nocase compares ASCII case-insensitively (HTTP names, hosts). */
bool hl_span_eq_nocase(hl_span a, hl_span b);
bool hl_span_starts_with(hl_span s, hl_span prefix);
bool hl_span_ends_with(hl_span s, hl_span suffix);
bool hl_span_ends_with_nocase(hl_span s, hl_span suffix);

/* hl_span_find returns the index of the first |c| in |s|, or SIZE_MAX. */
size_t hl_span_find(hl_span s, char c);

/* hl_span_trim_ows removes leading and trailing spaces and tabs (HTTP OWS). */
hl_span hl_span_trim_ows(hl_span s);

/* Reader: each call consumes from the front of |s| on success (returns true)
 * and leaves |s| unchanged on failure (returns false). */
bool hl_span_skip(hl_span *s, size_t n);
bool hl_span_get_u8(hl_span *s, uint8_t *out);
/* hl_span_get_bytes splits the first |n| bytes off into |out|. */
bool hl_span_get_bytes(hl_span *s, size_t n, hl_span *out);
/* hl_span_get_until splits off the bytes before the first |c| into |out| and
 * consumes the |c| too. Fails if |c| does not occur. */
bool hl_span_get_until(hl_span *s, char c, hl_span *out);
/* hl_span_get_lit consumes |lit| if |s| starts with it. */
bool hl_span_get_lit(hl_span *s, hl_span lit);

/* hl_span_parse_u64 parses all of |s| as a decimal number no greater than
 * |max|: digits only (no sign, no spaces), at least one digit. */
bool hl_span_parse_u64(hl_span s, uint64_t max, uint64_t *out);

/* hl_span_to_cstr copies |s| into |dst| (capacity |cap|) with a terminating
 * NUL. Fails, writing an empty string, if it does not fit or |s| contains a
 * NUL byte. */
bool hl_span_to_cstr(hl_span s, char *dst, size_t cap);

static inline char hl_ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

#endif
