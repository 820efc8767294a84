/* Fuzz target: the request stream reader of hookline-sink
 * (http/h1_request_parse: hl_h1_reader over hl_h1_request_parse and
 * h1_chunked), with small limits so that inputs reach them.
 *
 * The first four bytes seed how the rest is cut into pieces (fuzz/split.h);
 * the rest is what a client sends on one connection: heads, bodies
 * (Content-Length or chunked), possibly several pipelined requests. The
 * target reads it the way the sink does: pieces straight from the "receive
 * buffer" (each its own exact-size allocation, so ASan sees over-reads),
 * and only an incomplete head is kept and joined with the next piece.
 * Properties:
 *   - split invariance: the sequence of heads (every parsed field), body
 *     bytes and request ends, the verdict and the bytes left unconsumed are
 *     the same as when the whole input is one piece;
 *   - bounds: fields within the limit, names are tokens, values hold no
 *     CR, LF or NUL and no surrounding whitespace, targets visible ASCII, a
 *     head's length within the request-line + section limits, a body within
 *     the body limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "http/h1_request_parse.h"
#include "split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS_CAP 8

static void check(bool ok) {
  if (!ok) {
    abort();
  }
}

static hl_h1_limits small_limits(void) {
  hl_h1_limits lim = hl_h1_limits_default();
  lim.status_line_bytes_max = 256;
  lim.header_line_bytes_max = 128;
  lim.header_bytes_max = 512;
  lim.headers_max = 12; /* more than FIELDS_CAP: the array bound is hit too */
  lim.chunk_line_bytes_max = 64;
  lim.body_bytes_discard_max = 4096;
  return lim;
}

typedef struct run {
  hl_buf trace;
  int verdict; /* 0 ok, HL_INVALID */
  size_t pending;
  uint64_t body_bytes; /* of the current request */
} run;

static bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

static void trace_head(run *r, const hl_h1_parsed_request *q, const hl_h1_limits *lim, const char *base,
                       size_t len, size_t head_len) {
  check(head_len <= (size_t)lim->status_line_bytes_max + lim->header_bytes_max);
  check(q->fields_n <= FIELDS_CAP);
  check(hl_h1_is_token(q->method));
  check(q->method.ptr == base && q->target.ptr + q->target.len <= base + len);
  for (size_t i = 0; i < q->target.len; i++) {
    check(q->target.ptr[i] > ' ' && q->target.ptr[i] < 0x7f);
  }
  hl_buf_printf(&r->trace, "H %.*s %.*s 1.%u %u %llu %d %d\n", HL_SPAN_FMT(q->method),
                HL_SPAN_FMT(q->target), q->minor_version, (unsigned)q->body,
                (unsigned long long)q->content_length, q->keep_alive, q->expect_continue);
  for (size_t i = 0; i < q->fields_n; i++) {
    hl_span n = q->fields[i].name, v = q->fields[i].value;
    check(hl_h1_is_token(n));
    check(v.len == 0 || (!is_ows(v.ptr[0]) && !is_ows(v.ptr[v.len - 1])));
    for (size_t k = 0; k < v.len; k++) {
      check(v.ptr[k] != '\r' && v.ptr[k] != '\n' && v.ptr[k] != '\0');
    }
    hl_buf_put_span(&r->trace, n);
    hl_buf_putc(&r->trace, ':');
    hl_buf_put_span(&r->trace, v);
    hl_buf_putc(&r->trace, '\n');
  }
}

/* feed reads one contiguous buffer; returns the bytes it left (an
 * incomplete head), or SIZE_MAX once the stream is invalid. */
static size_t feed(run *r, hl_h1_reader *rd, const char *p, size_t len) {
  while (len > 0) {
    hl_h1_read ev;
    ptrdiff_t n = hl_h1_reader_read(rd, p, len, &ev);
    if (n < 0) {
      check(rd->error != NULL && rd->error[0] != '\0');
      r->verdict = HL_INVALID;
      return SIZE_MAX;
    }
    if (n == 0 && !ev.head && !ev.end) {
      check(!hl_h1_reader_in_body(rd));
      return len;
    }
    check((size_t)n <= len);
    if (ev.head) {
      trace_head(r, &rd->req, rd->limits, p, len, (size_t)n);
      r->body_bytes = 0;
    }
    if (ev.body.len > 0) {
      check(ev.body.ptr >= p && ev.body.ptr + ev.body.len <= p + n);
      r->body_bytes += ev.body.len;
      check(r->body_bytes <= rd->limits->body_bytes_discard_max);
      hl_buf_put_span(&r->trace, ev.body); /* how bodies are cut is free */
    }
    if (ev.end) {
      hl_buf_printf(&r->trace, "\nE %llu\n", (unsigned long long)r->body_bytes);
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void read_all(const char *in, size_t len, uint32_t seed, run *r, char *trace, size_t cap) {
  hl_h1_limits lim = small_limits();
  hl_h1_field fields[FIELDS_CAP];
  hl_h1_reader rd;
  hl_h1_reader_init(&rd, &lim, fields, FIELDS_CAP);
  hl_buf_init(&r->trace, trace, cap);
  r->verdict = 0;
  char *keep = malloc(len + 1); /* an incomplete head, joined with the next piece */
  size_t kept = 0;
  uint32_t x = seed;
  for (size_t off = 0; off < len && r->verdict == 0;) {
    size_t n = fuzz_next_piece(&x, seed, len - off, 300);
    char *piece = malloc(n);
    memcpy(piece, in + off, n);
    off += n;
    size_t left;
    if (kept > 0) {
      memcpy(keep + kept, piece, n);
      left = feed(r, &rd, keep, kept + n);
      if (left != SIZE_MAX) {
        memmove(keep, keep + kept + n - left, left);
      }
    } else {
      left = feed(r, &rd, piece, n);
      if (left != SIZE_MAX) {
        memcpy(keep, piece + n - left, left);
      }
    }
    kept = left == SIZE_MAX ? 0 : left;
    free(piece);
  }
  r->pending = kept;
  free(keep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) {
    return 0;
  }
  uint32_t seed;
  memcpy(&seed, data, 4);
  const char *in = (const char *)data + 4;
  size_t len = size - 4;
  size_t cap = 2 * len + 4096;
  char *t1 = malloc(cap), *t2 = malloc(cap);
  run whole, split;
  read_all(in, len, 0, &whole, t1, cap);
  read_all(in, len, seed | 1, &split, t2, cap);
  check(hl_buf_ok(&whole.trace) && hl_buf_ok(&split.trace));
  check(whole.verdict == split.verdict);
  check(whole.verdict != 0 || whole.pending == split.pending);
  check(whole.trace.len == split.trace.len && memcmp(t1, t2, whole.trace.len) == 0);
  free(t1);
  free(t2);
  return 0;
}
