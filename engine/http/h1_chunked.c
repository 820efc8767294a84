/* h1_chunked: streaming chunked-coding decoder (see h1_chunked.h). */
#include "http/h1_chunked.h"

#include "base/assert.h"
#include "base/err.h"

enum {
  C_SIZE_START, /* first byte of a chunk-size line */
  C_SIZE,       /* hex digits */
  C_SIZE_WS,    /* BWS after the size */
  C_EXT,        /* chunk extensions: skipped */
  C_SIZE_CR,    /* CR of the size line */
  C_DATA,
  C_DATA_CR, /* CR LF after a chunk's data */
  C_DATA_LF,
  C_TRAILERS,
  C_DONE,
  C_ERROR,
};

void hl_h1_chunked_init(hl_h1_chunked *c, const hl_h1_limits *limits) {
  *c = (hl_h1_chunked){.limits = limits, .state = C_SIZE_START};
  hl_h1_section_init(&c->trailer);
}

bool hl_h1_chunked_done(const hl_h1_chunked *c) {
  return c->state == C_DONE;
}

hl_h1_error hl_h1_chunked_error(const hl_h1_chunked *c) {
  return (hl_h1_error)c->err;
}

const char *hl_h1_chunked_error_detail(const hl_h1_chunked *c) {
  return c->err_detail != NULL ? c->err_detail : "";
}

static ptrdiff_t fail(hl_h1_chunked *c, hl_h1_error err, const char *detail) {
  c->state = C_ERROR;
  c->err = (uint8_t)err;
  c->err_detail = detail;
  return HL_INVALID;
}

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') {
    return ch - '0';
  }
  char l = hl_ascii_lower(ch);
  if (l >= 'a' && l <= 'f') {
    return l - 'a' + 10;
  }
  return -1;
}

/* size_line_end: the chunk-size line is complete; the size is known. */
static ptrdiff_t size_line_end(hl_h1_chunked *c) {
  if (c->size > c->limits->body_bytes_discard_max - c->body_bytes) {
    return fail(c, HL_H1_ERR_BODY_TOO_LARGE,
                "a chunk takes the body past the body limit (HL_HTTP_BODY_BYTES_DISCARD_MAX)");
  }
  c->line_bytes = 0;
  if (c->size == 0) {
    c->state = C_TRAILERS;
    hl_h1_section_init(&c->trailer);
  } else {
    c->state = C_DATA;
  }
  return 0;
}

/* size_line_byte takes one byte of a chunk-size line: 0 or HL_INVALID. */
static ptrdiff_t size_line_byte(hl_h1_chunked *c, char ch) {
  int h = hex_value(ch);
  switch (c->state) {
    case C_SIZE_START:
      if (h < 0) {
        return fail(c, HL_H1_ERR_BAD_CHUNK, "a chunk-size line does not start with a hex digit");
      }
      c->size = (uint64_t)h;
      c->state = C_SIZE;
      return 0;
    case C_SIZE:
      if (h >= 0) {
        if ((c->size >> 60) != 0) {
          return fail(c, HL_H1_ERR_BAD_CHUNK, "a chunk size overflows 64 bits");
        }
        c->size = (c->size << 4) | (uint64_t)h;
        return 0;
      }
      if (ch == ' ' || ch == '\t') {
        c->state = C_SIZE_WS;
        return 0;
      }
      break;
    case C_SIZE_WS:
      if (ch == ' ' || ch == '\t') {
        return 0;
      }
      break;
    case C_EXT:
      if (ch != '\r' && ch != '\n') {
        if (!hl_h1_is_value_char(ch)) {
          return fail(c, HL_H1_ERR_BAD_CHUNK,
                      "a chunk extension contains NUL or a control character");
        }
        return 0;
      }
      break;
    case C_SIZE_CR:
      if (ch != '\n') {
        return fail(c, HL_H1_ERR_BAD_CHUNK, "a CR in a chunk-size line is not followed by LF");
      }
      return size_line_end(c);
    default:
      HL_UNREACHABLE();
  }
  /* After the size (C_SIZE, C_SIZE_WS) or in the extensions (C_EXT). */
  if (ch == ';') {
    c->state = C_EXT;
    return 0;
  }
  if (ch == '\r') {
    c->state = C_SIZE_CR;
    return 0;
  }
  if (ch == '\n') {
    return size_line_end(c);
  }
  return fail(c, HL_H1_ERR_BAD_CHUNK, "a chunk size is followed by an invalid character");
}

/* trailers_step scans the trailer section, bounded like a header section. */
static ptrdiff_t trailers_step(hl_h1_chunked *c, const char *buf, size_t len) {
  hl_h1_field_out out;
  ptrdiff_t n = hl_h1_section_step(&c->trailer, c->limits, buf, len, &out);
  if (n < 0) {
    return fail(c, out.err, out.detail);
  }
  if (out.end_of_fields) {
    c->state = C_DONE;
  }
  return n;
}

ptrdiff_t hl_h1_chunked_decode(hl_h1_chunked *c, const char *buf, size_t len, hl_span *data) {
  *data = HL_SPAN_NULL;
  if (c->state == C_ERROR) {
    return HL_INVALID;
  }
  size_t i = 0;
  while (i < len) {
    char ch = buf[i];
    switch (c->state) {
      case C_SIZE_START:
      case C_SIZE:
      case C_SIZE_WS:
      case C_EXT:
      case C_SIZE_CR:
        if (c->line_bytes >= c->limits->chunk_line_bytes_max) {
          return fail(c, HL_H1_ERR_CHUNK_LINE_TOO_LONG,
                      "a chunk-size line is longer than the chunk line limit "
                      "(HL_HTTP_CHUNK_LINE_BYTES_MAX)");
        }
        c->line_bytes++;
        if (size_line_byte(c, ch) < 0) {
          return HL_INVALID;
        }
        i++;
        break;
      case C_DATA: {
        size_t n = len - i;
        if (n > c->size) {
          n = (size_t)c->size;
        }
        *data = hl_span_make(buf + i, n);
        c->size -= n;
        c->body_bytes += n;
        if (c->size == 0) {
          c->state = C_DATA_CR;
        }
        return (ptrdiff_t)(i + n);
      }
      case C_DATA_CR:
        if (ch == '\n') {
          c->state = C_SIZE_START;
        } else if (ch == '\r') {
          c->state = C_DATA_LF;
        } else {
          return fail(c, HL_H1_ERR_BAD_CHUNK, "a chunk's data is not followed by CRLF");
        }
        i++;
        break;
      case C_DATA_LF:
        if (ch != '\n') {
          return fail(c, HL_H1_ERR_BAD_CHUNK, "a chunk's data is not followed by CRLF");
        }
        c->state = C_SIZE_START;
        i++;
        break;
      case C_TRAILERS: {
        ptrdiff_t n = trailers_step(c, buf + i, len - i);
        if (n < 0) {
          return HL_INVALID;
        }
        i += (size_t)n;
        break;
      }
      case C_DONE:
        return (ptrdiff_t)i;
      default:
        HL_UNREACHABLE();
    }
  }
  return (ptrdiff_t)i;
}
