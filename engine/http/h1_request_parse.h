/* h1_request_parse: the head of an HTTP/1.1 request, for receivers
 * (hookline-sink, and tests that play a server).
 *
 * picohttpparser's shape: a pure function over a contiguous buffer holding
 * the start of a request, returning the head's length, HL_INCOMPLETE (the
 * head has not ended yet: call again with more bytes, from the start) or
 * HL_INVALID (with a sentence in req->error). Method, target and fields are
 * spans into the buffer; the caller provides the field array. Field lines go
 * through h1_syntax's field scanner and limits, so requests and responses
 * follow one set of rules (CRLF or bare LF, no obs-fold, token names, no
 * whitespace before the colon). The verdict never depends on how much of
 * the buffer has arrived: a prefix of a valid head is HL_INCOMPLETE, and a
 * buffer found HL_INVALID stays HL_INVALID however it grows, so a receiver
 * can reject garbage (e.g. TLS bytes on a plain port) at the first bad byte.
 *
 * It also interprets the fields that frame the body and the connection:
 * Content-Length, Transfer-Encoding (chunked last, or refused), Connection
 * and Expect: 100-continue.
 *
 * hl_h1_reader strings requests together on one connection: head, then the
 * body by its framing (Content-Length, or chunked through http/h1_chunked),
 * then the next head, so a receiver feeds it whatever recv() returned. It
 * keeps no bytes: while a head is incomplete it consumes nothing and the
 * caller keeps those bytes and calls again with them followed by more (one
 * contiguous buffer). Body bytes come back as spans into the input. No I/O,
 * no allocation. */
#ifndef HL_HTTP_H1_REQUEST_PARSE_H
#define HL_HTTP_H1_REQUEST_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/span.h"
#include "http/h1_chunked.h"
#include "http/h1_syntax.h"

typedef struct hl_h1_field {
  hl_span name;
  hl_span value; /* without leading and trailing whitespace */
} hl_h1_field;

typedef enum hl_h1_body_kind {
  HL_H1_BODY_NONE = 0,    /* no Content-Length, no Transfer-Encoding */
  HL_H1_BODY_LENGTH = 1,  /* content_length bytes (may be 0) */
  HL_H1_BODY_CHUNKED = 2, /* Transfer-Encoding ending in chunked */
} hl_h1_body_kind;

typedef struct hl_h1_parsed_request {
  hl_span method;
  hl_span target;
  uint8_t minor_version; /* HTTP/1.0 or HTTP/1.1 */
  hl_h1_field *fields;   /* the caller's array */
  size_t fields_n;
  hl_h1_body_kind body;
  uint64_t content_length;
  bool keep_alive;      /* HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive" */
  bool expect_continue; /* Expect: 100-continue */
  const char *error;    /* on HL_INVALID: what was wrong (a static sentence) */
} hl_h1_parsed_request;

/* hl_h1_request_parse parses the request head at the start of |buf|.
 * Bounds: the request line by lim->status_line_bytes_max, each field line by
 * header_line_bytes_max, the field section by header_bytes_max, the number
 * of fields by the smaller of headers_max and |fields_cap|; a body length by
 * body_bytes_discard_max. Returns the head's length in bytes (the body
 * starts there), HL_INCOMPLETE or HL_INVALID. */
ptrdiff_t hl_h1_request_parse(const char *buf, size_t len, const hl_h1_limits *lim,
                              hl_h1_parsed_request *req, hl_h1_field *fields, size_t fields_cap);

/* --- a connection's stream of requests ------------------------------------ */

typedef struct hl_h1_reader {
  const hl_h1_limits *limits;
  hl_h1_field *fields;
  size_t fields_cap;
  hl_h1_parsed_request req; /* the current request's head */
  uint64_t body_left;
  hl_h1_chunked chunked;
  uint8_t state;
  const char *error;
} hl_h1_reader;

/* What one hl_h1_reader_read call found, in stream order: a head (req is
 * filled; its spans point into the buffer given to that call), body bytes
 * (a span into the buffer), the end of the request. */
typedef struct hl_h1_read {
  bool head;
  hl_span body;
  bool end;
} hl_h1_read;

/* hl_h1_reader_init starts at a request head. |lim| and |fields| (|cap|
 * entries) must outlive |r|. */
void hl_h1_reader_init(hl_h1_reader *r, const hl_h1_limits *lim, hl_h1_field *fields, size_t cap);

/* hl_h1_reader_read consumes from |buf| (|len| bytes) and returns how many
 * bytes it consumed, or HL_INVALID (r->error says why; the connection is
 * unusable). It stops after a head, after one body span, or at the end of a
 * request, so call it again with the rest. While a head is incomplete it
 * returns 0 with nothing in |out|: keep the bytes, and call again with them
 * and what follows, contiguously. */
ptrdiff_t hl_h1_reader_read(hl_h1_reader *r, const char *buf, size_t len, hl_h1_read *out);

/* hl_h1_reader_in_body: a head has been read and its body has not ended. */
bool hl_h1_reader_in_body(const hl_h1_reader *r);

/* hl_h1_request_field finds the first field named |name| (ASCII case-
 * insensitively); returns its value, or a span with a NULL ptr. */
hl_span hl_h1_request_field(const hl_h1_parsed_request *req, hl_span name);

#endif
