/* h1_response: a streaming HTTP/1.1 response parser (push parser, one byte
 * stream in, a few events out).
 *
 * The connection layer feeds it whatever recv() or SSL_read() produced, in
 * pieces of any size; the parser never needs the header block in memory. Its
 * state is small and fixed (see sizeof(hl_h1_parser)): counters, a 17-byte
 * window on the current header name, and the short excerpts it keeps for the
 * client (reason phrase, Content-Type, Location, raw Retry-After). Body bytes
 * come back as spans into the caller's input; the caller keeps a bounded
 * excerpt and drops the rest.
 *
 * Decisions (RFC 9112 §6.3, with "close when in doubt"):
 * - Responses to HEAD, and 1xx, 204 and 304 responses, have no body whatever
 *   their headers say. 1xx responses (100, 103, ...) are skipped, at most
 *   limits->interim_responses_max of them; 101 is an error (we never ask to
 *   upgrade).
 * - Transfer-Encoding with chunked as the final coding: chunked body. With
 *   another final coding: the body runs until the server closes. chunked
 *   anywhere but last, coding parameters, an empty list, or Transfer-Encoding
 *   in an HTTP/1.0 response: bad_transfer_encoding.
 * - Transfer-Encoding and Content-Length together: Transfer-Encoding frames
 *   the body and the connection is not reused (the status still counts).
 * - Content-Length: digits only, no overflow; a list or repeated field whose
 *   values are all equal is accepted ("42, 42"), differing values are an
 *   error. Neither framing header: the body runs until close.
 * - Keep-alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
 *   "Connection: keep-alive"; never for close-delimited bodies, never after
 *   an error. The connection may be reused only if hl_h1_parser_reusable().
 * - Syntax: a line ends at LF with an optional CR before it (bare LF is
 *   accepted, bare CR is not); field names are tokens; whitespace before the
 *   colon, obs-fold, and NUL or control characters in values are errors.
 * - A result never depends on how the input was split into calls: the same
 *   events, the same body bytes, the same error at the same byte.
 *
 * No I/O, no allocation, no clock (Retry-After is converted by the caller
 * with hl_h1_parse_retry_after, given its own idea of now). */
#ifndef HL_HTTP_H1_RESPONSE_H
#define HL_HTTP_H1_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "base/span.h"
#include "http/h1_chunked.h"
#include "http/h1_syntax.h"

typedef enum hl_h1_framing {
  HL_H1_FRAMING_NONE,        /* no body: HEAD, 204, 304 */
  HL_H1_FRAMING_LENGTH,      /* Content-Length */
  HL_H1_FRAMING_CHUNKED,     /* Transfer-Encoding: ..., chunked */
  HL_H1_FRAMING_UNTIL_CLOSE, /* read until the server closes */
} hl_h1_framing;

/* What the client learns from the final response's head. Valid from the
 * HEADERS event on (status, version and reason from the end of the status
 * line on, so that an error later in the head can still be logged with the
 * status). Excerpts are cut to their limit (see *_truncated). */
typedef struct hl_h1_response {
  uint64_t content_length; /* when has_content_length */
  uint16_t status;         /* 100..999; 0 before the status line */
  uint8_t version_minor;   /* 0 or 1 (HTTP/1.2+ counts as 1.1) */
  uint8_t framing;         /* hl_h1_framing */
  bool keep_alive;         /* this response allows reusing the connection */
  bool has_content_length;
  bool has_transfer_encoding;
  bool conn_close;      /* Connection: close */
  bool conn_keep_alive; /* Connection: keep-alive */
  bool reason_truncated;
  bool content_type_truncated;
  bool location_truncated;
  uint8_t reason_len;
  uint8_t content_type_len;
  uint8_t location_len;
  uint8_t retry_after_len; /* 0 when absent or longer than its limit */
  char reason[HL_HTTP_REASON_EXCERPT_BYTES];
  char content_type[HL_HTTP_CONTENT_TYPE_EXCERPT_BYTES];
  char location[HL_HTTP_LOCATION_EXCERPT_BYTES];
  char retry_after[HL_HTTP_RETRY_AFTER_BYTES_MAX];
} hl_h1_response;

/* Excerpts as spans into the response (empty when the field was absent).
 * For repeated fields the first one counts. Trailing OWS is trimmed. */
static inline hl_span hl_h1_response_reason(const hl_h1_response *r) {
  return hl_span_make(r->reason, r->reason_len);
}
static inline hl_span hl_h1_response_content_type(const hl_h1_response *r) {
  return hl_span_make(r->content_type, r->content_type_len);
}
static inline hl_span hl_h1_response_location(const hl_h1_response *r) {
  return hl_span_make(r->location, r->location_len);
}
/* The raw Retry-After value, for hl_h1_parse_retry_after. */
static inline hl_span hl_h1_response_retry_after(const hl_h1_response *r) {
  return hl_span_make(r->retry_after, r->retry_after_len);
}

typedef enum hl_h1_event_type {
  HL_H1_EV_NONE,    /* nothing to report: every byte given was consumed */
  HL_H1_EV_HEADERS, /* the final response's head is complete */
  HL_H1_EV_BODY,    /* body bytes: ev->body */
  HL_H1_EV_DONE,    /* the response is complete */
} hl_h1_event_type;

typedef struct hl_h1_event {
  hl_h1_event_type type;
  hl_span body; /* HL_H1_EV_BODY: bytes inside the input of this call */
} hl_h1_event;

/* The parser's state. Fields are private: use the functions below and
 * hl_h1_parser_response(). The struct is public only so that it can live
 * inside the connection's state without allocation. */
typedef struct hl_h1_parser {
  const hl_h1_limits *limits;
  const char *err_detail;
  uint64_t body;      /* LENGTH: bytes left; UNTIL_CLOSE: bytes so far */
  uint64_t value_num; /* Content-Length element being read */
  hl_h1_chunked chunked;
  hl_h1_section head;
  uint32_t line_bytes; /* status line bytes so far */
  uint8_t state;
  uint8_t err;         /* hl_h1_error */
  uint8_t interim;     /* 1xx responses skipped */
  uint8_t field;       /* which field the current line is */
  uint8_t value_state; /* sub-state inside the current field's value */
  uint8_t value_pos;   /* position inside a token being matched */
  uint8_t value_match; /* candidates still matching */
  uint8_t name_len;    /* bytes of the current name (saturates) */
  uint8_t flags;
  char name[17]; /* lower-cased start of the current name */
  hl_h1_response resp;
} hl_h1_parser;

/* hl_h1_parser_init prepares |p| for one response (call it again for each
 * request on a kept-alive connection). |limits| must outlive |p|.
 * |head_request|: the request was HEAD, so the response has no body. */
void hl_h1_parser_init(hl_h1_parser *p, const hl_h1_limits *limits, bool head_request);

/* hl_h1_parse consumes bytes from |buf| (|len| bytes, may be 0) and reports
 * at most one event in |*ev|. Returns the number of bytes consumed, or
 * HL_INVALID on error (see hl_h1_parser_error; the connection must be
 * closed). Call it again with the unconsumed rest until it reports
 * HL_H1_EV_NONE (all consumed, need more input) or HL_H1_EV_DONE. After DONE,
 * any further byte is extra data (HL_H1_ERR_EXTRA_DATA): we never pipeline.
 * Typical loop:
 *
 *   for (;;) {
 *     ptrdiff_t n = hl_h1_parse(&p, buf, len, &ev);
 *     if (n < 0) { close; log hl_h1_error_name(hl_h1_parser_error(&p)); }
 *     buf += n; len -= n;
 *     if (ev.type == HL_H1_EV_NONE) break;     // wait for more bytes
 *     ... HEADERS: read hl_h1_parser_response(&p); BODY: keep an excerpt
 *     ... DONE: if (len > 0 || !hl_h1_parser_reusable(&p)) close
 *   }
 */
ptrdiff_t hl_h1_parse(hl_h1_parser *p, const char *buf, size_t len, hl_h1_event *ev);

/* hl_h1_parse_eof tells the parser that the peer closed the connection. It
 * returns 0 and reports HL_H1_EV_DONE if that ends a close-delimited body
 * (HL_H1_EV_NONE if the response was already complete), or HL_INVALID:
 * no_response if not a byte had arrived (a reused connection the server had
 * closed: safe to retry), unexpected_eof otherwise. */
int hl_h1_parse_eof(hl_h1_parser *p, hl_h1_event *ev);

/* The final response's head (see hl_h1_response for when fields are valid). */
static inline const hl_h1_response *hl_h1_parser_response(const hl_h1_parser *p) {
  return &p->resp;
}

/* hl_h1_parser_error: HL_H1_OK, or why parsing failed; the detail is a
 * sentence naming the rule or the limit (static storage, never peer bytes). */
hl_h1_error hl_h1_parser_error(const hl_h1_parser *p);
const char *hl_h1_parser_error_detail(const hl_h1_parser *p);

/* hl_h1_parser_done: the response is complete (DONE was reported). */
bool hl_h1_parser_done(const hl_h1_parser *p);

/* hl_h1_parser_reusable: complete, without error, and keep-alive: the
 * connection may carry the next request (if no extra bytes came with it). */
bool hl_h1_parser_reusable(const hl_h1_parser *p);

/* hl_h1_parser_body_bytes: body bytes reported so far. */
uint64_t hl_h1_parser_body_bytes(const hl_h1_parser *p);

/* hl_h1_parse_retry_after converts a Retry-After value (delta-seconds, or an
 * HTTP-date in IMF-fixdate, RFC 850 or asctime form; surrounding OWS
 * allowed) into seconds from |now_s| (Unix time), clamped to
 * [0, HL_HTTP_RETRY_AFTER_S_MAX]: a date in the past gives 0. Returns false,
 * leaving |*delay_s| alone, for anything else (the header is then treated as
 * absent). */
bool hl_h1_parse_retry_after(hl_span value, int64_t now_s, uint32_t *delay_s);

#endif
