/* h1_chunked: a streaming decoder for the chunked transfer coding
 * (RFC 9112 §7.1).
 *
 * It owns the chunk framing only: chunk-size lines (hex, overflow-checked,
 * bounded by the body limit), chunk extensions (skipped, their bytes checked
 * and the line bounded), the CR LF after each chunk's data, the last chunk,
 * and the trailer section (syntax checked with the header limits, then
 * dropped). Data comes back as spans into the caller's input: nothing is
 * copied and nothing is buffered, so it can be fed arbitrary pieces of a
 * stream. The state is 56 bytes. It knows nothing of the response around it
 * (h1_response drives it) and does no I/O. */
#ifndef HL_HTTP_H1_CHUNKED_H
#define HL_HTTP_H1_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/span.h"
#include "http/h1_syntax.h"

typedef struct hl_h1_chunked {
  const hl_h1_limits *limits;
  const char *err_detail;
  uint64_t size;       /* chunk-size being read, then data bytes left in the chunk */
  uint64_t body_bytes; /* data bytes so far */
  hl_h1_section trailer;
  uint32_t line_bytes; /* chunk-size line bytes so far */
  uint8_t state;
  uint8_t err; /* hl_h1_error */
} hl_h1_chunked;

/* hl_h1_chunked_init starts a chunked body. |limits| must outlive |c|. */
void hl_h1_chunked_init(hl_h1_chunked *c, const hl_h1_limits *limits);

/* hl_h1_chunked_decode consumes bytes of a chunked body from |buf| (|len|
 * bytes) and returns how many it consumed, or HL_INVALID (see
 * hl_h1_chunked_error). |*data| is set to the chunk data among the consumed
 * bytes (empty if none); it always ends where consumption ended, so a call
 * returns at most one data span and the caller calls again with the rest.
 * Once the body is complete (hl_h1_chunked_done) it consumes nothing more. */
ptrdiff_t hl_h1_chunked_decode(hl_h1_chunked *c, const char *buf, size_t len, hl_span *data);

/* hl_h1_chunked_done: the last chunk and the trailer section have been read. */
bool hl_h1_chunked_done(const hl_h1_chunked *c);

/* hl_h1_chunked_error is HL_H1_OK until decoding fails; then the class, and
 * hl_h1_chunked_error_detail a sentence naming the rule or the limit. */
hl_h1_error hl_h1_chunked_error(const hl_h1_chunked *c);
const char *hl_h1_chunked_error_detail(const hl_h1_chunked *c);

/* hl_h1_chunked_body_bytes: data bytes decoded so far. */
static inline uint64_t hl_h1_chunked_body_bytes(const hl_h1_chunked *c) {
  return c->body_bytes;
}

#endif
