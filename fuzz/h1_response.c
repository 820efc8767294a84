/* Fuzz target: the streaming response parser.
 *
 * Input: one byte of options (HEAD request, close after the input, tiny
 * limits), one byte seeding the split, then the response bytes. Properties:
 * - split invariance: parsed whole and in pieces derived from the seed (each
 *   piece in its own exact-size allocation, so ASan sees any over-read), the
 *   parser gives the same events, body bytes, completion, fields and error;
 * - consistency: the head comes before any body; a complete response has no
 *   error; body bytes never exceed the limit; a complete Content-Length body
 *   has exactly Content-Length bytes; bodiless framings give none; only a
 *   complete keep-alive response is reusable; errors always have a name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1_response.h"
#include "split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_CAP 4096

typedef struct outcome {
  hl_h1_error err;
  int headers;
  bool done;
  bool reusable;
  uint64_t body_len;
  uint64_t body_hash;
  char body[BODY_CAP]; /* the first bytes, compared exactly */
  hl_h1_response resp;
} outcome;

static void check(bool ok) {
  if (!ok) {
    abort();
  }
}

static void feed(hl_h1_parser *p, const hl_h1_limits *lim, const char *buf, size_t len,
                 outcome *o) {
  while (o->err == HL_H1_OK) {
    hl_h1_event ev;
    ptrdiff_t n = hl_h1_parse(p, buf, len, &ev);
    if (n < 0) {
      o->err = hl_h1_parser_error(p);
      check(o->err != HL_H1_OK && hl_h1_parser_error_detail(p)[0] != '\0');
      check(!hl_h1_parser_reusable(p));
      return;
    }
    check((size_t)n <= len);
    const char *before = buf;
    buf += n;
    len -= (size_t)n;
    switch (ev.type) {
      case HL_H1_EV_NONE:
        check(len == 0);
        return;
      case HL_H1_EV_HEADERS: {
        check(o->headers == 0);
        o->headers++;
        const hl_h1_response *r = hl_h1_parser_response(p);
        check(r->status >= 200 && r->status <= 999);
        break;
      }
      case HL_H1_EV_BODY:
        check(o->headers == 1 && !o->done && ev.body.len > 0);
        check(ev.body.ptr >= before && ev.body.ptr + ev.body.len <= buf);
        for (size_t k = 0; k < ev.body.len; k++) {
          if (o->body_len < BODY_CAP) {
            o->body[o->body_len] = ev.body.ptr[k];
          }
          o->body_len++;
          o->body_hash = (o->body_hash ^ (uint8_t)ev.body.ptr[k]) * 0x100000001b3ull;
        }
        check(o->body_len <= lim->body_bytes_discard_max);
        break;
      case HL_H1_EV_DONE:
        check(o->headers == 1 && !o->done);
        o->done = true;
        break;
    }
  }
}

static void run(const char *in, size_t len, const hl_h1_limits *lim, bool head, bool eof,
                uint32_t seed, outcome *o) {
  memset(o, 0, sizeof(*o));
  hl_h1_parser p;
  hl_h1_parser_init(&p, lim, head);
  size_t off = 0;
  uint32_t x = seed | 1;
  while (off < len && o->err == HL_H1_OK) {
    size_t piece = fuzz_next_piece(&x, seed, len - off, 97);
    char *copy = malloc(piece);
    check(copy != NULL);
    memcpy(copy, in + off, piece);
    feed(&p, lim, copy, piece, o);
    free(copy);
    off += piece;
  }
  if (o->err == HL_H1_OK && eof) {
    hl_h1_event ev;
    if (hl_h1_parse_eof(&p, &ev) < 0) {
      o->err = hl_h1_parser_error(&p);
      check(o->err == HL_H1_ERR_UNEXPECTED_EOF || o->err == HL_H1_ERR_NO_RESPONSE ||
            o->err == HL_H1_ERR_BODY_TOO_LARGE);
    } else if (ev.type == HL_H1_EV_DONE) {
      check(!o->done);
      o->done = true;
    }
  }
  o->reusable = hl_h1_parser_reusable(&p);
  o->resp = *hl_h1_parser_response(&p);
  check(hl_h1_parser_body_bytes(&p) == o->body_len);
  const hl_h1_response *r = &o->resp;
  if (o->done && o->err == HL_H1_OK) {
    check(hl_h1_parser_done(&p));
    if (r->framing == HL_H1_FRAMING_LENGTH) {
      check(o->body_len == r->content_length);
    }
    if (r->framing == HL_H1_FRAMING_NONE) {
      check(o->body_len == 0);
    }
  }
  if (o->reusable) {
    check(o->done && o->err == HL_H1_OK && r->keep_alive &&
          r->framing != HL_H1_FRAMING_UNTIL_CLOSE && !r->conn_close);
  }
  check(r->reason_len <= sizeof(r->reason) && r->content_type_len <= sizeof(r->content_type) &&
        r->location_len <= sizeof(r->location) && r->retry_after_len <= sizeof(r->retry_after));
}

static bool same(const outcome *a, const outcome *b) {
  const hl_h1_response *x = &a->resp, *y = &b->resp;
  size_t kept = a->body_len < BODY_CAP ? (size_t)a->body_len : BODY_CAP;
  return a->err == b->err && a->headers == b->headers && a->done == b->done &&
         a->reusable == b->reusable && a->body_len == b->body_len &&
         a->body_hash == b->body_hash && memcmp(a->body, b->body, kept) == 0 &&
         x->status == y->status && x->version_minor == y->version_minor &&
         x->framing == y->framing && x->keep_alive == y->keep_alive &&
         x->has_content_length == y->has_content_length &&
         x->content_length == y->content_length &&
         x->has_transfer_encoding == y->has_transfer_encoding &&
         x->conn_close == y->conn_close && x->conn_keep_alive == y->conn_keep_alive &&
         hl_span_eq(hl_h1_response_reason(x), hl_h1_response_reason(y)) &&
         hl_span_eq(hl_h1_response_content_type(x), hl_h1_response_content_type(y)) &&
         hl_span_eq(hl_h1_response_location(x), hl_h1_response_location(y)) &&
         hl_span_eq(hl_h1_response_retry_after(x), hl_h1_response_retry_after(y));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > 65536) {
    return 0;
  }
  uint8_t flags = data[0];
  uint32_t seed = data[1] * 2654435761u + 1;
  const char *in = (const char *)data + 2;
  size_t len = size - 2;
  hl_h1_limits lim = hl_h1_limits_default();
  if (flags & 4) {
    /* Tiny limits so that every bound is reached. */
    lim = (hl_h1_limits){.body_bytes_discard_max = 64,
                         .status_line_bytes_max = 24,
                         .header_line_bytes_max = 32,
                         .header_bytes_max = 96,
                         .chunk_line_bytes_max = 8,
                         .headers_max = 4,
                         .interim_responses_max = 2};
  }
  static outcome whole, split;
  run(in, len, &lim, flags & 1, flags & 2, 0, &whole);
  run(in, len, &lim, flags & 1, flags & 2, seed, &split);
  check(same(&whole, &split));
  return 0;
}
