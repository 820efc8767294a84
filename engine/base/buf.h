/* buf: a bounded byte builder with a sticky error bit.
 *
 * An hl_buf writes into memory the caller provides and never grows: a write
 * that does not fit sets |err|, writes nothing, and every later write is a
 * no-op. The caller checks hl_buf_ok() once at the end instead of after every
 * call, which keeps rendering code straight-line (BoringSSL's CBB habit, minus
 * the allocation). Nothing here does I/O. */
#ifndef HL_BASE_BUF_H
#define HL_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/span.h"

typedef struct hl_buf {
  char *ptr;
  size_t len;
  size_t cap;
  bool err;
} hl_buf;

static inline void hl_buf_init(hl_buf *b, void *mem, size_t cap) {
  b->ptr = (char *)mem;
  b->len = 0;
  b->cap = cap;
  b->err = false;
}

static inline bool hl_buf_ok(const hl_buf *b) {
  return !b->err;
}

static inline hl_span hl_buf_span(const hl_buf *b) {
  return (hl_span){b->ptr, b->len};
}

static inline size_t hl_buf_room(const hl_buf *b) {
  return b->err ? 0 : b->cap - b->len;
}

/* hl_buf_reset empties |b| and clears its error bit. */
static inline void hl_buf_reset(hl_buf *b) {
  b->len = 0;
  b->err = false;
}

/* hl_buf_reserve returns |n| writable bytes at the end of |b| and counts them
 * as written, or returns NULL and sets the error bit if they do not fit. */
char *hl_buf_reserve(hl_buf *b, size_t n);

void hl_buf_put(hl_buf *b, const void *p, size_t n);
void hl_buf_putc(hl_buf *b, char c);
void hl_buf_put_span(hl_buf *b, hl_span s);
void hl_buf_put_cstr(hl_buf *b, const char *s);
void hl_buf_put_u64(hl_buf *b, uint64_t v);
void hl_buf_put_i64(hl_buf *b, int64_t v);
/* hl_buf_put_hex writes |n| bytes as lower-case hex. */
void hl_buf_put_hex(hl_buf *b, const void *p, size_t n);
/* hl_buf_put_base64 writes standard base64 (RFC 4648, with padding). */
void hl_buf_put_base64(hl_buf *b, const void *p, size_t n);
/* hl_buf_printf appends formatted text; it sets the error bit on truncation. */
void hl_buf_printf(hl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* hl_buf_cstr NUL-terminates |b| (without counting the NUL in len) and
 * returns its bytes, or returns "" and sets the error bit if there is no room
 * for the terminator. */
const char *hl_buf_cstr(hl_buf *b);

/* hl_buf_truncate shrinks |b| to |len| bytes (no-op if already shorter). */
void hl_buf_truncate(hl_buf *b, size_t len);

/* Decoders for the codecs above. Each writes at most |cap| bytes to |out|,
 * stores the decoded length in |*out_len| and returns 0, or returns -EINVAL
 * for malformed input and -ENOSPC if the result does not fit. */
int hl_hex_decode(hl_span in, uint8_t *out, size_t cap, size_t *out_len);
int hl_base64_decode(hl_span in, uint8_t *out, size_t cap, size_t *out_len);

#endif
