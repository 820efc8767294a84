/* h1_syntax: HTTP/1.1 syntax shared by the response parser, the chunked
 * decoder and the request writer.
 *
 * It owns the character classes of RFC 9110 (token, field value), the
 * classified parse errors with their stable short names (written to the
 * attempt log and used as metric labels), the limits struct the parsers
 * enforce, and a streaming scanner for field lines ("Name: value" lines of a
 * header or trailer section). The scanner keeps five bytes of state, never
 * buffers a line, and reports name and value bytes as spans into the caller's
 * input; it decides nothing about what a field means. No I/O, no allocation.
 *
 * Line endings: a line ends at LF, optionally preceded by one CR (RFC 9112
 * §2.2 lets a recipient accept a bare LF, as curl and browsers do). A CR that
 * is not followed by LF is an error everywhere. */
#ifndef HL_HTTP_H1_SYNTAX_H
#define HL_HTTP_H1_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"

/* Why a response could not be parsed. Every error means the connection must
 * be closed. The names (hl_h1_error_name) are stable: they are stored in the
 * attempt log and used as metric labels. */
typedef enum hl_h1_error {
  HL_H1_OK = 0,
  HL_H1_ERR_BAD_STATUS_LINE,       /* bad_status_line */
  HL_H1_ERR_STATUS_LINE_TOO_LONG,  /* status_line_too_long */
  HL_H1_ERR_BAD_HEADER,            /* bad_header: field line syntax */
  HL_H1_ERR_HEADER_TOO_LONG,       /* header_too_long: one field line */
  HL_H1_ERR_TOO_MANY_HEADERS,      /* too_many_headers */
  HL_H1_ERR_HEADERS_TOO_LARGE,     /* headers_too_large: the whole section */
  HL_H1_ERR_BAD_CONTENT_LENGTH,    /* bad_content_length */
  HL_H1_ERR_BAD_TRANSFER_ENCODING, /* bad_transfer_encoding */
  HL_H1_ERR_BAD_CHUNK,             /* bad_chunk */
  HL_H1_ERR_CHUNK_LINE_TOO_LONG,   /* chunk_line_too_long */
  HL_H1_ERR_BODY_TOO_LARGE,        /* body_too_large: past the discard limit */
  HL_H1_ERR_TOO_MANY_INTERIM,      /* too_many_interim: 1xx responses */
  HL_H1_ERR_NO_RESPONSE,           /* no_response: closed before any byte */
  HL_H1_ERR_UNEXPECTED_EOF,        /* unexpected_eof: closed mid-response */
  HL_H1_ERR_EXTRA_DATA,            /* extra_data: bytes after the response */
  HL_H1_ERR_COUNT_
} hl_h1_error;

/* hl_h1_error_name returns the stable short name of |e| ("ok" for HL_H1_OK,
 * "unknown" outside the enum). */
const char *hl_h1_error_name(hl_h1_error e);

/* The bounds the parsers enforce. Tests set small ones; the engine uses
 * hl_h1_limits_default() or hl_h1_limits_from(). Lines are counted with their
 * CR LF; the header section counts its field lines and the empty line that
 * ends it (not the status line, which has its own bound). */
typedef struct hl_h1_limits {
  uint64_t body_bytes_discard_max;  /* body bytes read (and mostly dropped) */
  uint32_t status_line_bytes_max;
  uint32_t header_line_bytes_max;   /* one header or trailer line */
  uint32_t header_bytes_max;        /* a header section; also a trailer section */
  uint32_t chunk_line_bytes_max;    /* chunk-size line with its extensions */
  uint16_t headers_max;             /* field lines per section */
  uint16_t interim_responses_max;   /* 1xx responses before the final one */
} hl_h1_limits;

hl_h1_limits hl_h1_limits_default(void);

/* hl_h1_limits_from takes the defaults and the body bound of the engine's
 * configured limits. */
hl_h1_limits hl_h1_limits_from(const hl_limits *l);

/* Character classes (RFC 9110 §5.6.2 tchar; §5.5 field-vchar, obs-text, SP and
 * HTAB for field values). */
#define HL_H1_CHAR_TOKEN 1u
#define HL_H1_CHAR_VALUE 2u
#define HL_H1_CHAR_HEX 4u
extern const uint8_t hl_h1_char_class[256];

static inline bool hl_h1_is_tchar(char c) {
  return (hl_h1_char_class[(uint8_t)c] & HL_H1_CHAR_TOKEN) != 0;
}

static inline bool hl_h1_is_value_char(char c) {
  return (hl_h1_char_class[(uint8_t)c] & HL_H1_CHAR_VALUE) != 0;
}

/* hl_h1_is_token: |s| is a non-empty RFC 9110 token. */
bool hl_h1_is_token(hl_span s);

/* hl_h1_value_run returns how many bytes at the start of |p| (|n| bytes)
 * are field-value bytes (hl_h1_is_value_char): the index of the first NUL,
 * CR, LF, other control character or DEL, or |n|. It never reads past
 * p[n - 1] (16 bytes at a time with SSE2 where the CPU has it, which every
 * x86-64 does). */
size_t hl_h1_value_run(const char *p, size_t n);

/* --- streaming field-line scanner ---------------------------------------- */

typedef struct hl_h1_field_scan {
  uint32_t line_bytes; /* bytes of the current line so far */
  uint8_t state;
} hl_h1_field_scan;

/* What one hl_h1_field_scan_step call saw, in input order: name bytes (a
 * piece of the name when the line is split across calls), the colon
 * (name_done), value bytes after the leading OWS (a piece; trailing OWS is
 * included, the consumer trims), the end of the value (value_done: at its CR
 * or LF), the end of the line (line_done: at its LF), or the empty line that
 * ends the section (end_of_fields). On error, err and detail say why. */
typedef struct hl_h1_field_out {
  hl_span name;
  hl_span value;
  bool name_done;
  bool value_done;
  bool line_done;
  bool end_of_fields;
  hl_h1_error err;
  const char *detail;
} hl_h1_field_out;

static inline void hl_h1_field_scan_init(hl_h1_field_scan *s) {
  s->line_bytes = 0;
  s->state = 0;
}

/* hl_h1_field_scan_step scans field lines in |buf| (|len| bytes). It returns
 * the number of bytes consumed and fills |out|, or returns HL_INVALID with
 * out->err set. It stops right after a line's end or the section's end, so a
 * caller sees at most one name and one value per call (the name's events
 * come before the value's). Where a byte
 * is invalid it first returns what came before it (without consuming the bad
 * byte) and fails on the next call: so results never depend on how the input
 * was split. Consumes at least one byte unless |len| is 0. */
ptrdiff_t hl_h1_field_scan_step(hl_h1_field_scan *s, uint32_t line_bytes_max, const char *buf,
                                size_t len, hl_h1_field_out *out);

/* --- a bounded field section ---------------------------------------------- */

/* A field section: the header section of a response, or the trailer section
 * of a chunked body. The scanner plus the section's own bounds. */
typedef struct hl_h1_section {
  hl_h1_field_scan scan;
  uint32_t bytes;  /* section bytes so far */
  uint16_t fields; /* field lines so far */
} hl_h1_section;

static inline void hl_h1_section_init(hl_h1_section *s) {
  hl_h1_field_scan_init(&s->scan);
  s->bytes = 0;
  s->fields = 0;
}

/* hl_h1_section_step is hl_h1_field_scan_step bounded by |lim|: each line by
 * header_line_bytes_max, the section by header_bytes_max (checked at the byte
 * that would pass it) and headers_max field lines (checked at each name's
 * colon). Errors: header_too_long, headers_too_large, too_many_headers and
 * bad_header, in out->err. */
ptrdiff_t hl_h1_section_step(hl_h1_section *s, const hl_h1_limits *lim, const char *buf,
                             size_t len, hl_h1_field_out *out);

#endif
