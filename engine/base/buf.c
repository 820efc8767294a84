/* buf: bounded builder and the hex / base64 codecs (see buf.h). */
#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

char *hl_buf_reserve(hl_buf *b, size_t n) {
  if (b->err || n > b->cap - b->len) {
    b->err = true;
    return NULL;
  }
  char *p = b->ptr + b->len;
  b->len += n;
  return p;
}

void hl_buf_put(hl_buf *b, const void *p, size_t n) {
  if (n == 0) {
    return;
  }
  char *dst = hl_buf_reserve(b, n);
  if (dst != NULL) {
    memcpy(dst, p, n);
  }
}

void hl_buf_putc(hl_buf *b, char c) {
  char *dst = hl_buf_reserve(b, 1);
  if (dst != NULL) {
    *dst = c;
  }
}

void hl_buf_put_span(hl_buf *b, hl_span s) {
  hl_buf_put(b, s.ptr, s.len);
}

void hl_buf_put_cstr(hl_buf *b, const char *s) {
  hl_buf_put(b, s, strlen(s));
}

void hl_buf_put_u64(hl_buf *b, uint64_t v) {
  char tmp[20];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  hl_buf_put(b, tmp + i, sizeof(tmp) - i);
}

void hl_buf_put_i64(hl_buf *b, int64_t v) {
  if (v < 0) {
    hl_buf_putc(b, '-');
    hl_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
    return;
  }
  hl_buf_put_u64(b, (uint64_t)v);
}

void hl_buf_put_hex(hl_buf *b, const void *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  if (n > SIZE_MAX / 2) {
    b->err = true;
    return;
  }
  char *dst = hl_buf_reserve(b, n * 2);
  if (dst == NULL) {
    return;
  }
  const uint8_t *src = p;
  for (size_t i = 0; i < n; i++) {
    dst[2 * i] = digits[src[i] >> 4];
    dst[2 * i + 1] = digits[src[i] & 15];
  }
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void hl_buf_put_base64(hl_buf *b, const void *p, size_t n) {
  if (n > (SIZE_MAX / 4) * 3 - 2) {
    b->err = true;
    return;
  }
  char *dst = hl_buf_reserve(b, (n + 2) / 3 * 4);
  if (dst == NULL) {
    return;
  }
  const uint8_t *src = p;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
    *dst++ = b64_alphabet[v >> 18];
    *dst++ = b64_alphabet[(v >> 12) & 63];
    *dst++ = b64_alphabet[(v >> 6) & 63];
    *dst++ = b64_alphabet[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)src[i] << 16;
    if (i + 1 < n) {
      v |= (uint32_t)src[i + 1] << 8;
    }
    *dst++ = b64_alphabet[v >> 18];
    *dst++ = b64_alphabet[(v >> 12) & 63];
    *dst++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
    *dst++ = '=';
  }
}

void hl_buf_printf(hl_buf *b, const char *fmt, ...) {
  if (b->err) {
    return;
  }
  size_t room = b->cap - b->len;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->ptr + b->len, room, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= room) {
    b->err = true;
    return;
  }
  b->len += (size_t)n;
}

const char *hl_buf_cstr(hl_buf *b) {
  if (b->err || b->len >= b->cap) {
    b->err = true;
    return "";
  }
  b->ptr[b->len] = '\0';
  return b->ptr;
}

void hl_buf_truncate(hl_buf *b, size_t len) {
  if (len < b->len) {
    b->len = len;
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = hl_ascii_lower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

int hl_hex_decode(hl_span in, uint8_t *out, size_t cap, size_t *out_len) {
  if (in.len % 2 != 0) {
    return -EINVAL;
  }
  if (in.len / 2 > cap) {
    return -ENOSPC;
  }
  for (size_t i = 0; i < in.len; i += 2) {
    int hi = hex_value(in.ptr[i]);
    int lo = hex_value(in.ptr[i + 1]);
    if (hi < 0 || lo < 0) {
      return -EINVAL;
    }
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  *out_len = in.len / 2;
  return 0;
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

/* Strict RFC 4648 base64: padding required, no whitespace, and the unused
 * low bits of the last symbol must be zero, so each byte string has exactly
 * one accepted encoding. */
int hl_base64_decode(hl_span in, uint8_t *out, size_t cap, size_t *out_len) {
  if (in.len % 4 != 0) {
    return -EINVAL;
  }
  size_t pad = 0;
  if (in.len >= 4 && in.ptr[in.len - 1] == '=') {
    pad = in.ptr[in.len - 2] == '=' ? 2 : 1;
  }
  size_t n = in.len / 4 * 3 - pad;
  if (n > cap) {
    return -ENOSPC;
  }
  size_t o = 0;
  for (size_t i = 0; i < in.len; i += 4) {
    bool last = i + 4 == in.len;
    int v[4];
    for (size_t k = 0; k < 4; k++) {
      bool is_pad = last && k >= 4 - pad;
      v[k] = is_pad ? 0 : b64_value(in.ptr[i + k]);
      if (v[k] < 0) {
        return -EINVAL;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
    size_t take = last ? 3 - pad : 3;
    if (last && pad > 0 && (bytes[take] != 0 || (pad == 2 && bytes[2] != 0))) {
      return -EINVAL; /* non-canonical: stray bits under the padding */
    }
    memcpy(out + o, bytes, take);
    o += take;
  }
  *out_len = o;
  return 0;
}
