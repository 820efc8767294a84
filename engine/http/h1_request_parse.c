/* h1_request_parse: request head parser (see h1_request_parse.h). The
 * request line is parsed here; field lines by h1_syntax's scanner, which is
 * run over the contiguous buffer so each name and value arrives as adjacent
 * pieces that are joined into one span. */
#include "http/h1_request_parse.h"

#include "base/assert.h"

static ptrdiff_t invalid(hl_h1_parsed_request *req, const char *why) {
  req->error = why;
  return HL_INVALID;
}

/* line_end: at |buf[i]|, a CR LF or a bare LF ends the line. Returns the
 * bytes of the line ending (1 or 2), 0 if |i| is not at a line ending, or
 * HL_INCOMPLETE when a CR is the last byte. -1 for a CR not before LF. */
static int line_end(const char *buf, size_t len, size_t i) {
  if (buf[i] == '\n') {
    return 1;
  }
  if (buf[i] != '\r') {
    return 0;
  }
  if (i + 1 == len) {
    return HL_INCOMPLETE;
  }
  return buf[i + 1] == '\n' ? 2 : -1;
}

/* request_line parses "METHOD SP target SP HTTP/1.x" and its line ending;
 * returns the bytes consumed. */
static ptrdiff_t request_line(const char *buf, size_t len, uint32_t max, hl_h1_parsed_request *req) {
  size_t i = 0;
  size_t lim = len < max ? len : max;
  while (i < lim && hl_h1_is_tchar(buf[i])) {
    i++;
  }
  if (i < lim && (i == 0 || buf[i] != ' ')) {
    return invalid(req, "the request line does not start with a method token and one space");
  }
  req->method = hl_span_make(buf, i);
  size_t t = ++i;
  /* Targets are visible ASCII: percent-encoding covers everything else. */
  while (i < lim && buf[i] > ' ' && buf[i] < 0x7f) {
    i++;
  }
  if (i < lim && (i == t || buf[i] != ' ')) {
    return invalid(req, "the request target is empty or holds a control, space or non-ASCII byte");
  }
  req->target = hl_span_make(buf + t, i - t);
  static const char version[] = " HTTP/1.";
  for (size_t k = 0; k < sizeof(version) - 1 && i < lim; k++, i++) {
    if (buf[i] != version[k]) {
      return invalid(req, "the request line does not end with HTTP/1.0 or HTTP/1.1");
    }
  }
  if (i < lim) {
    if (buf[i] != '0' && buf[i] != '1') {
      return invalid(req, "the HTTP version is not 1.0 or 1.1");
    }
    req->minor_version = (uint8_t)(buf[i] - '0');
    i++;
  }
  if (i < lim) {
    int e = line_end(buf, lim, i);
    if (e > 0) {
      return (ptrdiff_t)(i + (size_t)e);
    }
    if (e != HL_INCOMPLETE) {
      return invalid(req, "the request line does not end after the HTTP version");
    }
  }
  if (len >= max) {
    return invalid(req, "the request line is longer than its limit "
                        "(HL_HTTP_STATUS_LINE_BYTES_MAX)");
  }
  return HL_INCOMPLETE;
}

/* list_next splits the next element off a comma-separated list, trimmed
 * of whitespace; false when the list is used up. */
static bool list_next(hl_span *list, hl_span *el) {
  if (list->ptr == NULL) {
    return false;
  }
  size_t comma = hl_span_find(*list, ',');
  *el = hl_span_trim_ows(hl_span_sub(*list, 0, comma));
  *list = comma == SIZE_MAX ? HL_SPAN_NULL : hl_span_sub(*list, comma + 1, SIZE_MAX);
  return true;
}

/* transfer_encoding: every element must be "chunked", once, last: other
 * codings (gzip, ...) are not accepted by this receiver. */
static bool transfer_encoding(hl_h1_parsed_request *req, hl_span value) {
  hl_span el;
  while (list_next(&value, &el)) {
    if (req->body == HL_H1_BODY_CHUNKED || !hl_span_eq_nocase(el, HL_SPAN_LIT("chunked"))) {
      return false;
    }
    req->body = HL_H1_BODY_CHUNKED;
  }
  return true;
}

/* interpret reads the framing fields once the head is complete. */
static ptrdiff_t interpret(hl_h1_parsed_request *req, const hl_h1_limits *lim) {
  bool has_length = false, has_te = false, conn_close = false, conn_keep_alive = false;
  for (size_t i = 0; i < req->fields_n; i++) {
    hl_span name = req->fields[i].name, value = req->fields[i].value;
    if (hl_span_eq_nocase(name, HL_SPAN_LIT("content-length"))) {
      uint64_t n;
      if (!hl_span_parse_u64(value, lim->body_bytes_discard_max, &n)) {
        return invalid(req, "Content-Length is not one decimal number within the body limit");
      }
      if (has_length && n != req->content_length) {
        return invalid(req, "Content-Length values differ");
      }
      has_length = true;
      req->content_length = n;
    } else if (hl_span_eq_nocase(name, HL_SPAN_LIT("transfer-encoding"))) {
      has_te = true;
      if (!transfer_encoding(req, value)) {
        return invalid(req, "Transfer-Encoding is not a list ending in chunked (only chunked is "
                            "accepted)");
      }
    } else if (hl_span_eq_nocase(name, HL_SPAN_LIT("connection"))) {
      hl_span el;
      while (list_next(&value, &el)) {
        conn_close = conn_close || hl_span_eq_nocase(el, HL_SPAN_LIT("close"));
        conn_keep_alive = conn_keep_alive || hl_span_eq_nocase(el, HL_SPAN_LIT("keep-alive"));
      }
    } else if (hl_span_eq_nocase(name, HL_SPAN_LIT("expect"))) {
      if (!hl_span_eq_nocase(value, HL_SPAN_LIT("100-continue"))) {
        return invalid(req, "Expect is not 100-continue");
      }
      req->expect_continue = true;
    }
  }
  req->keep_alive = !conn_close && (req->minor_version == 1 || conn_keep_alive);
  if (has_te && has_length) {
    /* RFC 9112 §6.1: a server may reject it, and a sink should: the two
     * framings disagreeing is how requests are smuggled. */
    return invalid(req, "both Transfer-Encoding and Content-Length are present");
  }
  if (has_te && req->body != HL_H1_BODY_CHUNKED) {
    return invalid(req, "Transfer-Encoding does not end in chunked");
  }
  if (has_length) {
    req->body = HL_H1_BODY_LENGTH;
  }
  return 0;
}

/* join grows |*s| by the piece |p|, which starts where |*s| ends. */
static void join(hl_span *s, hl_span p) {
  if (s->ptr == NULL) {
    *s = p;
  } else {
    HL_ASSERT(s->ptr + s->len == p.ptr);
    s->len += p.len;
  }
}

ptrdiff_t hl_h1_request_parse(const char *buf, size_t len, const hl_h1_limits *lim,
                              hl_h1_parsed_request *req, hl_h1_field *fields, size_t fields_cap) {
  *req = (hl_h1_parsed_request){.fields = fields};
  ptrdiff_t i = request_line(buf, len, lim->status_line_bytes_max, req);
  if (i < 0) {
    return i;
  }
  hl_h1_limits flim = *lim;
  if (flim.headers_max > fields_cap) {
    flim.headers_max = (uint16_t)(fields_cap < UINT16_MAX ? fields_cap : UINT16_MAX);
  }
  hl_h1_section sec;
  hl_h1_section_init(&sec);
  hl_h1_field *f = NULL;
  while ((size_t)i < len) {
    hl_h1_field_out out;
    ptrdiff_t n = hl_h1_section_step(&sec, &flim, buf + i, len - (size_t)i, &out);
    if (n < 0) {
      return invalid(req, out.detail);
    }
    i += n;
    if (out.name.len > 0 || out.name_done) {
      if (f == NULL) {
        if (req->fields_n == fields_cap) {
          return invalid(req, "more header fields than the receiver's field array holds");
        }
        f = &fields[req->fields_n++];
        *f = (hl_h1_field){HL_SPAN_NULL, HL_SPAN_NULL};
      }
      join(&f->name, out.name);
    }
    if (out.value.len > 0) {
      join(&f->value, out.value);
    }
    if (out.value_done) {
      f->value = f->value.ptr != NULL ? hl_span_trim_ows(f->value) : hl_span_make(buf + i, 0);
      f = NULL;
    }
    if (out.end_of_fields) {
      ptrdiff_t r = interpret(req, lim);
      return r < 0 ? r : i;
    }
  }
  return HL_INCOMPLETE;
}

hl_span hl_h1_request_field(const hl_h1_parsed_request *req, hl_span name) {
  for (size_t i = 0; i < req->fields_n; i++) {
    if (hl_span_eq_nocase(req->fields[i].name, name)) {
      return req->fields[i].value;
    }
  }
  return HL_SPAN_NULL;
}

/* --- reader ------------------------------------------------------------------ */

enum { R_HEAD = 0, R_LENGTH, R_CHUNKED, R_FAILED };

void hl_h1_reader_init(hl_h1_reader *r, const hl_h1_limits *lim, hl_h1_field *fields, size_t cap) {
  *r = (hl_h1_reader){.limits = lim, .fields = fields, .fields_cap = cap, .state = R_HEAD};
}

bool hl_h1_reader_in_body(const hl_h1_reader *r) {
  return r->state == R_LENGTH || r->state == R_CHUNKED;
}

static ptrdiff_t reader_fail(hl_h1_reader *r, const char *why) {
  r->state = R_FAILED;
  r->error = why;
  return HL_INVALID;
}

ptrdiff_t hl_h1_reader_read(hl_h1_reader *r, const char *buf, size_t len, hl_h1_read *out) {
  *out = (hl_h1_read){.body = HL_SPAN_NULL};
  switch (r->state) {
  case R_HEAD: {
    ptrdiff_t n = hl_h1_request_parse(buf, len, r->limits, &r->req, r->fields, r->fields_cap);
    if (n == HL_INCOMPLETE) {
      return 0;
    }
    if (n < 0) {
      return reader_fail(r, r->req.error);
    }
    out->head = true;
    if (r->req.body == HL_H1_BODY_CHUNKED) {
      hl_h1_chunked_init(&r->chunked, r->limits);
      r->state = R_CHUNKED;
    } else if (r->req.body == HL_H1_BODY_LENGTH && r->req.content_length > 0) {
      r->body_left = r->req.content_length;
      r->state = R_LENGTH;
    } else {
      out->end = true;
    }
    return n;
  }
  case R_LENGTH: {
    size_t n = len < r->body_left ? len : (size_t)r->body_left;
    out->body = hl_span_make(buf, n);
    r->body_left -= n;
    if (r->body_left == 0) {
      out->end = true;
      r->state = R_HEAD;
    }
    return (ptrdiff_t)n;
  }
  case R_CHUNKED: {
    ptrdiff_t n = hl_h1_chunked_decode(&r->chunked, buf, len, &out->body);
    if (n < 0) {
      return reader_fail(r, hl_h1_chunked_error_detail(&r->chunked));
    }
    if (hl_h1_chunked_done(&r->chunked)) {
      out->end = true;
      r->state = R_HEAD;
    }
    return n;
  }
  default:
    return HL_INVALID;
  }
}
