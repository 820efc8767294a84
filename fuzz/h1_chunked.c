/* Fuzz target: the chunked-coding decoder.
 *
 * The first byte picks the mode.
 * - Even: the rest is a chunked body as a server might send it. Decoded
 *   whole and in pieces derived from the input (each piece its own exact-size
 *   allocation, so ASan sees any over-read), it must give the same data,
 *   completion, consumed count and error, and data spans must end where
 *   consumption ends.
 * - Odd (oracle): the rest is data plus the encoder's choices; the data is
 *   encoded as chunks of sizes taken from the input (hex case, leading
 *   zeros, extensions, LF or CRLF, trailers), and decoding, whole and split,
 *   must return exactly the data and consume exactly the encoding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "http/h1_chunked.h"
#include "split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_CAP 65536

typedef struct result {
  hl_h1_error err;
  bool done;
  size_t consumed;
  size_t len;
  char out[OUT_CAP];
} result;

static void check(bool ok) {
  if (!ok) {
    abort();
  }
}

static void decode(const char *in, size_t len, const hl_h1_limits *lim, uint32_t seed, result *r) {
  memset(r, 0, sizeof(*r));
  hl_h1_chunked c;
  hl_h1_chunked_init(&c, lim);
  uint32_t x = seed | 1;
  size_t off = 0;
  while (off < len && r->err == HL_H1_OK && !r->done) {
    size_t piece = fuzz_next_piece(&x, seed, len - off, 61);
    char *copy = malloc(piece);
    check(copy != NULL);
    memcpy(copy, in + off, piece);
    size_t at = 0;
    while (at < piece && r->err == HL_H1_OK && !r->done) {
      hl_span d;
      ptrdiff_t n = hl_h1_chunked_decode(&c, copy + at, piece - at, &d);
      if (n < 0) {
        r->err = hl_h1_chunked_error(&c);
        check(r->err != HL_H1_OK);
        break;
      }
      check((size_t)n <= piece - at);
      if (d.len > 0) {
        check(d.ptr >= copy + at && d.ptr + d.len == copy + at + n);
        check(r->len + d.len <= OUT_CAP);
        memcpy(r->out + r->len, d.ptr, d.len);
        r->len += d.len;
      }
      at += (size_t)n;
      r->consumed += (size_t)n;
      r->done = hl_h1_chunked_done(&c);
      check(n > 0 || r->done);
    }
    free(copy);
    off += piece;
  }
  check(r->len == hl_h1_chunked_body_bytes(&c));
  check(r->len <= lim->body_bytes_discard_max);
}

static bool same(const result *a, const result *b) {
  return a->err == b->err && a->done == b->done && a->len == b->len &&
         memcmp(a->out, b->out, a->len) == 0 && (a->err != HL_H1_OK || a->consumed == b->consumed);
}

/* encode turns |data| into chunks; |plan| supplies the choices. */
static size_t encode(const uint8_t *payload, size_t len, const uint8_t *plan, size_t plan_len,
                     char *out, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, out, cap);
  size_t off = 0, p = 0;
  for (;;) {
    uint8_t choice = plan_len > 0 ? plan[p++ % plan_len] : 0;
    size_t chunk = len - off;
    if (chunk > 0 && (choice & 0x80) == 0) {
      chunk = 1 + (size_t)(choice & 0x3f) % chunk;
    }
    for (int z = 0; z < (choice >> 6 & 1); z++) {
      hl_buf_putc(&b, '0');
    }
    if (choice & 2) {
      hl_buf_printf(&b, "%zX", chunk);
    } else {
      hl_buf_printf(&b, "%zx", chunk);
    }
    if (choice & 4) {
      hl_buf_put_cstr(&b, " \t;n=\"v, w\";m");
    }
    const char *eol = (choice & 8) ? "\n" : "\r\n";
    hl_buf_put_cstr(&b, eol);
    if (chunk == 0) {
      break;
    }
    hl_buf_put(&b, payload + off, chunk);
    hl_buf_put_cstr(&b, eol);
    off += chunk;
  }
  if (plan_len > 0 && (plan[0] & 16)) {
    hl_buf_put_cstr(&b, "Expires: never\r\nX-Checksum:  abc \r\n");
  }
  hl_buf_put_cstr(&b, "\r\n");
  check(hl_buf_ok(&b));
  return b.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192) {
    return 0;
  }
  hl_h1_limits lim = hl_h1_limits_default();
  static result whole, split;
  uint32_t seed = 0x9e3779b9u;
  for (size_t k = 0; k < size && k < 8; k++) {
    seed = (seed ^ data[k]) * 16777619u;
  }
  seed |= 1;
  if ((data[0] & 1) == 0) {
    if (data[0] & 2) {
      lim.chunk_line_bytes_max = 12;
      lim.header_line_bytes_max = 16;
      lim.header_bytes_max = 40;
      lim.headers_max = 2;
      lim.body_bytes_discard_max = 100;
    }
    decode((const char *)data + 1, size - 1, &lim, 0, &whole);
    decode((const char *)data + 1, size - 1, &lim, seed, &split);
    check(same(&whole, &split));
    return 0;
  }
  /* Oracle mode: the first quarter plans the encoding, the rest is data. */
  size_t plan_len = (size - 1) / 4;
  const uint8_t *plan = data + 1;
  const uint8_t *payload = data + 1 + plan_len;
  size_t len = size - 1 - plan_len;
  static char enc[32 * 8192]; /* up to ~24 bytes of framing per data byte */
  size_t n = encode(payload, len, plan, plan_len, enc, sizeof(enc));
  decode(enc, n, &lim, 0, &whole);
  check(whole.err == HL_H1_OK && whole.done && whole.consumed == n);
  check(whole.len == len && memcmp(whole.out, payload, len) == 0);
  decode(enc, n, &lim, seed, &split);
  check(same(&whole, &split));
  return 0;
}
