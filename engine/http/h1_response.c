/* h1_response: streaming response parser (see h1_response.h).
 *
 * One state enum and one loop: the status line is taken byte by byte (it is
 * short), the header section through the shared field-line scanner (which
 * hands back name and value pieces), and the body by framing. Every limit is
 * checked at the exact byte that would pass it, and every value is read in
 * input order, which is what makes results independent of how the input was
 * split. */
#include "http/h1_response.h"

#include "base/assert.h"
#include "base/err.h"

enum {
  ST_STATUS,    /* "HTTP/1.x NNN", position in value_pos */
  ST_REASON,    /* reason phrase */
  ST_STATUS_CR, /* CR of the status line */
  ST_FIELDS,    /* header section */
  ST_BODY_LENGTH,
  ST_BODY_CHUNKED,
  ST_BODY_CLOSE,
  ST_DONE,
  ST_ERROR,
};

/* The fields the client reads; every other field is only syntax-checked. */
enum {
  FIELD_OTHER,
  FIELD_CONTENT_LENGTH,
  FIELD_TRANSFER_ENCODING,
  FIELD_CONNECTION,
  FIELD_CONTENT_TYPE,
  FIELD_LOCATION,
  FIELD_RETRY_AFTER,
};

enum {
  FLAG_HEAD_REQUEST = 1u << 0,
  FLAG_TE_CHUNKED_LAST = 1u << 1, /* the last transfer coding so far is chunked */
  FLAG_VALUE_ELEMENTS = 1u << 2,  /* the current list value has an element */
  FLAG_SEEN_CONTENT_TYPE = 1u << 3,
  FLAG_SEEN_LOCATION = 1u << 4,
  FLAG_SEEN_RETRY_AFTER = 1u << 5,
};

/* States of a comma-separated list value (Content-Length, Transfer-Encoding,
 * Connection). */
enum { V_BEFORE, V_TOKEN, V_AFTER, V_SKIP };

static const struct {
  const char *name;
  uint8_t len;
  uint8_t field;
} known_fields[] = {
    {"content-length", 14, FIELD_CONTENT_LENGTH},
    {"transfer-encoding", 17, FIELD_TRANSFER_ENCODING},
    {"connection", 10, FIELD_CONNECTION},
    {"content-type", 12, FIELD_CONTENT_TYPE},
    {"location", 8, FIELD_LOCATION},
    {"retry-after", 11, FIELD_RETRY_AFTER},
};

_Static_assert(sizeof(((hl_h1_parser *)0)->name) == 17, "longest known field name");

void hl_h1_parser_init(hl_h1_parser *p, const hl_h1_limits *limits, bool head_request) {
  *p = (hl_h1_parser){
      .limits = limits,
      .state = ST_STATUS,
      .flags = head_request ? FLAG_HEAD_REQUEST : 0,
  };
}

hl_h1_error hl_h1_parser_error(const hl_h1_parser *p) {
  return (hl_h1_error)p->err;
}

const char *hl_h1_parser_error_detail(const hl_h1_parser *p) {
  return p->err_detail != NULL ? p->err_detail : "";
}

bool hl_h1_parser_done(const hl_h1_parser *p) {
  return p->state == ST_DONE;
}

bool hl_h1_parser_reusable(const hl_h1_parser *p) {
  return p->state == ST_DONE && p->resp.keep_alive;
}

uint64_t hl_h1_parser_body_bytes(const hl_h1_parser *p) {
  switch (p->resp.framing) {
    case HL_H1_FRAMING_LENGTH:
      return p->resp.content_length - p->body;
    case HL_H1_FRAMING_CHUNKED:
      return hl_h1_chunked_body_bytes(&p->chunked);
    case HL_H1_FRAMING_UNTIL_CLOSE:
      return p->body;
    default:
      return 0;
  }
}

static int fail(hl_h1_parser *p, hl_h1_error err, const char *detail) {
  p->state = ST_ERROR;
  p->err = (uint8_t)err;
  p->err_detail = detail;
  p->resp.keep_alive = false;
  return HL_INVALID;
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

/* --- excerpts --------------------------------------------------------------- */

/* excerpt_put appends |s| to an excerpt of capacity |cap|; returns false if
 * some of it did not fit. */
static bool excerpt_put(char *dst, size_t cap, uint8_t *len, hl_span s) {
  size_t room = cap - *len;
  size_t n = s.len < room ? s.len : room;
  memcpy(dst + *len, s.ptr, n);
  *len = (uint8_t)(*len + n);
  return n == s.len;
}

static void excerpt_trim(const char *dst, uint8_t *len) {
  while (*len > 0 && is_ows(dst[*len - 1])) {
    (*len)--;
  }
}

/* --- status line ------------------------------------------------------------ */

static int status_line_end(hl_h1_parser *p) {
  if (p->resp.status == 101) {
    return fail(p, HL_H1_ERR_BAD_STATUS_LINE,
                "101 Switching Protocols, but the request asked for no upgrade");
  }
  excerpt_trim(p->resp.reason, &p->resp.reason_len);
  p->state = ST_FIELDS;
  hl_h1_section_init(&p->head);
  return 0;
}

/* status_fixed_byte checks "HTTP/1.x NNN" and what follows the code. */
static int status_fixed_byte(hl_h1_parser *p, char c) {
  static const char prefix[] = "HTTP/1.";
  uint8_t pos = p->value_pos++;
  if (pos < sizeof(prefix) - 1) {
    if (c != prefix[pos]) {
      return fail(p, HL_H1_ERR_BAD_STATUS_LINE, "the status line does not start with HTTP/1.x");
    }
    return 0;
  }
  if (pos == 7) {
    if (!is_digit(c)) {
      return fail(p, HL_H1_ERR_BAD_STATUS_LINE, "the status line does not start with HTTP/1.x");
    }
    /* RFC 9110 §2.5: a higher minor version is handled as the highest we know. */
    p->resp.version_minor = c == '0' ? 0 : 1;
    return 0;
  }
  if (pos == 8) {
    if (c != ' ') {
      return fail(p, HL_H1_ERR_BAD_STATUS_LINE, "the HTTP version is not followed by a space");
    }
    return 0;
  }
  if (pos <= 11) {
    if (!is_digit(c) || (pos == 9 && c == '0')) {
      return fail(p, HL_H1_ERR_BAD_STATUS_LINE, "the status code is not three digits (100-999)");
    }
    p->resp.status = (uint16_t)(p->resp.status * 10 + (c - '0'));
    return 0;
  }
  /* The reason phrase may be empty, and many servers drop the space too. */
  if (c == ' ') {
    p->state = ST_REASON;
    return 0;
  }
  if (c == '\r') {
    p->state = ST_STATUS_CR;
    return 0;
  }
  if (c == '\n') {
    return status_line_end(p);
  }
  return fail(p, HL_H1_ERR_BAD_STATUS_LINE, "the status code is not three digits (100-999)");
}

static int status_byte(hl_h1_parser *p, char c) {
  switch (p->state) {
    case ST_STATUS:
      return status_fixed_byte(p, c);
    case ST_REASON:
      if (c == '\r') {
        p->state = ST_STATUS_CR;
        return 0;
      }
      if (c == '\n') {
        return status_line_end(p);
      }
      if (!hl_h1_is_value_char(c)) {
        return fail(p, HL_H1_ERR_BAD_STATUS_LINE,
                    "the reason phrase contains NUL or a control character");
      }
      if (!excerpt_put(p->resp.reason, sizeof(p->resp.reason), &p->resp.reason_len,
                       hl_span_make(&c, 1))) {
        p->resp.reason_truncated = true;
      }
      return 0;
    case ST_STATUS_CR:
      if (c != '\n') {
        return fail(p, HL_H1_ERR_BAD_STATUS_LINE, "a CR in the status line is not followed by LF");
      }
      return status_line_end(p);
    default:
      HL_UNREACHABLE();
  }
}

/* status_fast takes "HTTP/1.x NNN" in one step when it is all there and
 * well-formed; anything else goes byte by byte, which finds the fault. */
static bool status_fast(hl_h1_parser *p, const char *b) {
  if (memcmp(b, "HTTP/1.", 7) != 0 || !is_digit(b[7]) || b[8] != ' ' || b[9] < '1' ||
      b[9] > '9' || !is_digit(b[10]) || !is_digit(b[11])) {
    return false;
  }
  p->resp.version_minor = b[7] == '0' ? 0 : 1;
  p->resp.status = (uint16_t)((b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0'));
  p->value_pos = 12;
  p->line_bytes = 12;
  return true;
}

static ptrdiff_t status_step(hl_h1_parser *p, const char *buf, size_t len) {
  uint32_t max = p->limits->status_line_bytes_max;
  size_t i = 0;
  if (p->line_bytes == 0 && len >= 12 && max >= 12 && status_fast(p, buf)) {
    i = 12;
  }
  while (i < len && p->state != ST_FIELDS) {
    if (p->state == ST_REASON && p->line_bytes < max) {
      size_t room = max - p->line_bytes;
      size_t run = hl_h1_value_run(buf + i, len - i < room ? len - i : room);
      if (run > 0) {
        if (!excerpt_put(p->resp.reason, sizeof(p->resp.reason), &p->resp.reason_len,
                         hl_span_make(buf + i, run))) {
          p->resp.reason_truncated = true;
        }
        p->line_bytes += (uint32_t)run;
        i += run;
        continue;
      }
    }
    if (p->line_bytes >= max) {
      return fail(p, HL_H1_ERR_STATUS_LINE_TOO_LONG,
                  "the status line is longer than the status line limit "
                  "(HL_HTTP_STATUS_LINE_BYTES_MAX)");
    }
    p->line_bytes++;
    if (status_byte(p, buf[i]) < 0) {
      return HL_INVALID;
    }
    i++;
  }
  return (ptrdiff_t)i;
}

/* --- field values ------------------------------------------------------------ */

enum { L_SEP, L_START, L_TOKEN, L_END, L_BAD };

/* list_step moves a list value's state over |c|: a separator (OWS or comma),
 * the first or a further byte of an element (|in_token|: c may be part of
 * one), the end of an element (c is the OWS or comma after it), or a byte
 * that cannot stand here. */
static int list_step(hl_h1_parser *p, char c, bool in_token) {
  switch (p->value_state) {
    case V_BEFORE:
      if (is_ows(c) || c == ',') {
        return L_SEP;
      }
      if (in_token) {
        p->value_state = V_TOKEN;
        return L_START;
      }
      return L_BAD;
    case V_TOKEN:
      if (in_token) {
        return L_TOKEN;
      }
      if (c == ',') {
        p->value_state = V_BEFORE;
        return L_END;
      }
      if (is_ows(c)) {
        p->value_state = V_AFTER;
        return L_END;
      }
      return L_BAD;
    case V_AFTER:
      if (c == ',') {
        p->value_state = V_BEFORE;
        return L_SEP;
      }
      return is_ows(c) ? L_SEP : L_BAD;
    case V_SKIP:
      if (c == ',') {
        p->value_state = V_BEFORE;
      }
      return L_SEP;
    default:
      HL_UNREACHABLE();
  }
}

static int content_length_element_end(hl_h1_parser *p) {
  hl_h1_response *r = &p->resp;
  if (r->has_content_length && r->content_length != p->value_num) {
    return fail(p, HL_H1_ERR_BAD_CONTENT_LENGTH, "Content-Length values differ");
  }
  r->has_content_length = true;
  r->content_length = p->value_num;
  p->flags |= FLAG_VALUE_ELEMENTS;
  return 0;
}

static int content_length_byte(hl_h1_parser *p, char c) {
  switch (list_step(p, c, is_digit(c))) {
    case L_START:
      p->value_num = 0;
      /* fall through */
    case L_TOKEN: {
      unsigned d = (unsigned)(c - '0');
      if (p->value_num > (UINT64_MAX - d) / 10) {
        return fail(p, HL_H1_ERR_BAD_CONTENT_LENGTH, "Content-Length overflows 64 bits");
      }
      p->value_num = p->value_num * 10 + d;
      return 0;
    }
    case L_END:
      return content_length_element_end(p);
    case L_SEP:
      return 0;
    default:
      return fail(p, HL_H1_ERR_BAD_CONTENT_LENGTH, "Content-Length is not a decimal number");
  }
}

static int transfer_encoding_element_end(hl_h1_parser *p) {
  if ((p->flags & FLAG_TE_CHUNKED_LAST) != 0) {
    return fail(p, HL_H1_ERR_BAD_TRANSFER_ENCODING,
                "Transfer-Encoding has a coding after chunked (chunked must be the last)");
  }
  if (p->value_match != 0 && p->value_pos == 7) {
    p->flags |= FLAG_TE_CHUNKED_LAST;
  }
  p->resp.has_transfer_encoding = true;
  p->flags |= FLAG_VALUE_ELEMENTS;
  return 0;
}

static int transfer_encoding_byte(hl_h1_parser *p, char c) {
  static const char chunked[] = "chunked";
  switch (list_step(p, c, hl_h1_is_tchar(c))) {
    case L_START:
      p->value_pos = 0;
      p->value_match = 1;
      /* fall through */
    case L_TOKEN:
      if (p->value_pos >= 7 || hl_ascii_lower(c) != chunked[p->value_pos]) {
        p->value_match = 0;
      }
      if (p->value_pos < UINT8_MAX) {
        p->value_pos++;
      }
      return 0;
    case L_END:
      return transfer_encoding_element_end(p);
    case L_SEP:
      return 0;
    default:
      if (c == ';') {
        return fail(p, HL_H1_ERR_BAD_TRANSFER_ENCODING,
                    "Transfer-Encoding has coding parameters (not accepted)");
      }
      return fail(p, HL_H1_ERR_BAD_TRANSFER_ENCODING,
                  "Transfer-Encoding is not a list of coding names");
  }
}

/* Connection options are matched against "close" (bit 1) and "keep-alive"
 * (bit 2); an element that is not a plain token is ignored. */
static void connection_element_end(hl_h1_parser *p) {
  if ((p->value_match & 1) != 0 && p->value_pos == 5) {
    p->resp.conn_close = true;
  }
  if ((p->value_match & 2) != 0 && p->value_pos == 10) {
    p->resp.conn_keep_alive = true;
  }
}

static void connection_byte(hl_h1_parser *p, char c) {
  static const char close_opt[] = "close";
  static const char keep_alive_opt[] = "keep-alive";
  switch (list_step(p, c, hl_h1_is_tchar(c))) {
    case L_START:
      p->value_pos = 0;
      p->value_match = 3;
      /* fall through */
    case L_TOKEN: {
      char l = hl_ascii_lower(c);
      if (p->value_pos >= 5 || l != close_opt[p->value_pos]) {
        p->value_match &= (uint8_t)~1u;
      }
      if (p->value_pos >= 10 || l != keep_alive_opt[p->value_pos]) {
        p->value_match &= (uint8_t)~2u;
      }
      if (p->value_pos < UINT8_MAX) {
        p->value_pos++;
      }
      return;
    }
    case L_END:
      connection_element_end(p);
      return;
    case L_SEP:
      return;
    default:
      p->value_state = V_SKIP;
      return;
  }
}

static int value_piece(hl_h1_parser *p, hl_span v) {
  hl_h1_response *r = &p->resp;
  switch (p->field) {
    case FIELD_CONTENT_LENGTH:
      for (size_t k = 0; k < v.len; k++) {
        if (content_length_byte(p, v.ptr[k]) < 0) {
          return HL_INVALID;
        }
      }
      return 0;
    case FIELD_TRANSFER_ENCODING:
      for (size_t k = 0; k < v.len; k++) {
        if (transfer_encoding_byte(p, v.ptr[k]) < 0) {
          return HL_INVALID;
        }
      }
      return 0;
    case FIELD_CONNECTION:
      for (size_t k = 0; k < v.len; k++) {
        connection_byte(p, v.ptr[k]);
      }
      return 0;
    case FIELD_CONTENT_TYPE:
      if (!excerpt_put(r->content_type, sizeof(r->content_type), &r->content_type_len, v)) {
        r->content_type_truncated = true;
      }
      return 0;
    case FIELD_LOCATION:
      if (!excerpt_put(r->location, sizeof(r->location), &r->location_len, v)) {
        r->location_truncated = true;
      }
      return 0;
    case FIELD_RETRY_AFTER:
      if (!excerpt_put(r->retry_after, sizeof(r->retry_after), &r->retry_after_len, v)) {
        p->value_state = 1; /* too long to be a Retry-After value */
      }
      return 0;
    default:
      return 0;
  }
}

static int value_end(hl_h1_parser *p) {
  hl_h1_response *r = &p->resp;
  switch (p->field) {
    case FIELD_CONTENT_LENGTH:
      if (p->value_state == V_TOKEN && content_length_element_end(p) < 0) {
        return HL_INVALID;
      }
      if ((p->flags & FLAG_VALUE_ELEMENTS) == 0) {
        return fail(p, HL_H1_ERR_BAD_CONTENT_LENGTH, "Content-Length is empty");
      }
      return 0;
    case FIELD_TRANSFER_ENCODING:
      if (p->value_state == V_TOKEN && transfer_encoding_element_end(p) < 0) {
        return HL_INVALID;
      }
      if ((p->flags & FLAG_VALUE_ELEMENTS) == 0) {
        return fail(p, HL_H1_ERR_BAD_TRANSFER_ENCODING, "Transfer-Encoding is empty");
      }
      return 0;
    case FIELD_CONNECTION:
      if (p->value_state == V_TOKEN) {
        connection_element_end(p);
      }
      return 0;
    case FIELD_CONTENT_TYPE:
      excerpt_trim(r->content_type, &r->content_type_len);
      return 0;
    case FIELD_LOCATION:
      excerpt_trim(r->location, &r->location_len);
      return 0;
    case FIELD_RETRY_AFTER:
      if (p->value_state != 0) {
        r->retry_after_len = 0;
      }
      excerpt_trim(r->retry_after, &r->retry_after_len);
      return 0;
    default:
      return 0;
  }
}

/* --- header section ------------------------------------------------------------ */

/* name_piece keeps the first bytes of a name; name_len stops at cap + 1,
 * which no known name has. */
static void name_piece(hl_h1_parser *p, hl_span s) {
  size_t have = p->name_len;
  if (have < sizeof(p->name)) {
    size_t room = sizeof(p->name) - have;
    memcpy(p->name + have, s.ptr, s.len < room ? s.len : room);
  }
  size_t total = have + s.len;
  p->name_len = (uint8_t)(total > sizeof(p->name) ? sizeof(p->name) + 1 : total);
}

/* name_is compares the kept name with a lower-case known name of the same
 * length, eight bytes at a time. Names are tokens, so OR-ing 0x20 folds
 * exactly the letters: for a letter or '-' in |lower| no other token byte can
 * match. */
static bool name_is(const hl_h1_parser *p, const char *lower) {
  size_t k = 0;
  for (; p->name_len - k >= 8; k += 8) {
    uint64_t a, b;
    memcpy(&a, p->name + k, 8);
    memcpy(&b, lower + k, 8);
    if ((a | 0x2020202020202020ull) != b) {
      return false;
    }
  }
  for (; k < p->name_len; k++) {
    if ((p->name[k] | 0x20) != lower[k]) {
      return false;
    }
  }
  return true;
}

static uint8_t field_of_name(const hl_h1_parser *p) {
  for (size_t k = 0; k < HL_ARRAY_LEN(known_fields); k++) {
    if (p->name_len == known_fields[k].len && name_is(p, known_fields[k].name)) {
      return known_fields[k].field;
    }
  }
  return FIELD_OTHER;
}

/* field_begin: the name is complete; decide what its value means. */
static void field_begin(hl_h1_parser *p) {
  uint8_t field = FIELD_OTHER;
  if (p->name_len >= 8 && p->name_len <= 17) {
    field = field_of_name(p);
  }
  /* For the excerpts, the first field of a name counts. */
  uint8_t seen = field == FIELD_CONTENT_TYPE ? FLAG_SEEN_CONTENT_TYPE
                 : field == FIELD_LOCATION   ? FLAG_SEEN_LOCATION
                 : field == FIELD_RETRY_AFTER ? FLAG_SEEN_RETRY_AFTER
                                              : 0;
  if (seen != 0) {
    if ((p->flags & seen) != 0) {
      field = FIELD_OTHER;
    }
    p->flags |= seen;
  }
  p->field = field;
  p->name_len = 0;
  p->value_state = V_BEFORE;
  p->value_pos = 0;
  p->value_match = 0;
  p->flags &= (uint8_t)~FLAG_VALUE_ELEMENTS;
}

static void response_reset(hl_h1_parser *p) {
  p->resp = (hl_h1_response){0};
  p->flags &= FLAG_HEAD_REQUEST;
  p->state = ST_STATUS;
  p->line_bytes = 0;
  p->value_pos = 0;
}

/* head_end: the header section is complete. Returns 1 for the final
 * response's head, 0 after skipping an interim one, or HL_INVALID. */
static int head_end(hl_h1_parser *p) {
  hl_h1_response *r = &p->resp;
  if (r->status < 200) {
    if (p->interim >= p->limits->interim_responses_max) {
      return fail(p, HL_H1_ERR_TOO_MANY_INTERIM,
                  "more 1xx responses than the interim limit (HL_HTTP_INTERIM_RESPONSES_MAX)");
    }
    p->interim++;
    response_reset(p);
    return 0;
  }
  if (r->has_transfer_encoding && r->version_minor == 0) {
    /* RFC 9112 §6.1: the framing of such a message is faulty. */
    return fail(p, HL_H1_ERR_BAD_TRANSFER_ENCODING,
                "an HTTP/1.0 response has Transfer-Encoding");
  }
  r->keep_alive = !r->conn_close && (r->version_minor == 1 || r->conn_keep_alive);
  if (r->has_transfer_encoding && r->has_content_length) {
    /* RFC 9112 §6.3: Transfer-Encoding wins; both may mean smuggling. */
    r->keep_alive = false;
  }
  if ((p->flags & FLAG_HEAD_REQUEST) != 0 || r->status == 204 || r->status == 304) {
    r->framing = HL_H1_FRAMING_NONE;
    p->body = 0;
    p->state = ST_BODY_LENGTH;
  } else if (r->has_transfer_encoding && (p->flags & FLAG_TE_CHUNKED_LAST) != 0) {
    r->framing = HL_H1_FRAMING_CHUNKED;
    hl_h1_chunked_init(&p->chunked, p->limits);
    p->state = ST_BODY_CHUNKED;
  } else if (!r->has_transfer_encoding && r->has_content_length) {
    r->framing = HL_H1_FRAMING_LENGTH;
    p->body = r->content_length;
    p->state = ST_BODY_LENGTH;
  } else {
    r->framing = HL_H1_FRAMING_UNTIL_CLOSE;
    r->keep_alive = false;
    p->body = 0;
    p->state = ST_BODY_CLOSE;
  }
  return 1;
}

/* fields_step scans the header section; |*final| is set when the final
 * response's head is complete. */
static ptrdiff_t fields_step(hl_h1_parser *p, const char *buf, size_t len, bool *final) {
  size_t i = 0;
  while (i < len && p->state == ST_FIELDS) {
    hl_h1_field_out out;
    ptrdiff_t n = hl_h1_section_step(&p->head, p->limits, buf + i, len - i, &out);
    if (n < 0) {
      return fail(p, out.err, out.detail);
    }
    i += (size_t)n;
    if (out.name.len > 0) {
      name_piece(p, out.name);
    }
    if (out.name_done) {
      field_begin(p);
    }
    if (out.value.len > 0 && value_piece(p, out.value) < 0) {
      return HL_INVALID;
    }
    if (out.value_done && value_end(p) < 0) {
      return HL_INVALID;
    }
    if (out.end_of_fields) {
      int r = head_end(p);
      if (r < 0) {
        return HL_INVALID;
      }
      *final = r == 1;
      break;
    }
  }
  return (ptrdiff_t)i;
}

/* --- the loop ---------------------------------------------------------------- */

static ptrdiff_t done(hl_h1_parser *p, size_t consumed, hl_h1_event *ev) {
  p->state = ST_DONE;
  ev->type = HL_H1_EV_DONE;
  return (ptrdiff_t)consumed;
}

static ptrdiff_t body(hl_h1_event *ev, const char *buf, size_t consumed, size_t n) {
  ev->type = HL_H1_EV_BODY;
  ev->body = hl_span_make(buf + consumed, n);
  return (ptrdiff_t)(consumed + n);
}

static const char body_too_large[] =
    "the body is larger than the body limit (HL_HTTP_BODY_BYTES_DISCARD_MAX)";

ptrdiff_t hl_h1_parse(hl_h1_parser *p, const char *buf, size_t len, hl_h1_event *ev) {
  ev->type = HL_H1_EV_NONE;
  ev->body = HL_SPAN_NULL;
  size_t i = 0;
  for (;;) {
    ptrdiff_t n;
    switch (p->state) {
      case ST_STATUS:
      case ST_REASON:
      case ST_STATUS_CR:
        if (i == len) {
          return (ptrdiff_t)i;
        }
        n = status_step(p, buf + i, len - i);
        if (n < 0) {
          return HL_INVALID;
        }
        i += (size_t)n;
        break;
      case ST_FIELDS: {
        if (i == len) {
          return (ptrdiff_t)i;
        }
        bool final = false;
        n = fields_step(p, buf + i, len - i, &final);
        if (n < 0) {
          return HL_INVALID;
        }
        i += (size_t)n;
        if (final) {
          ev->type = HL_H1_EV_HEADERS;
          return (ptrdiff_t)i;
        }
        break;
      }
      case ST_BODY_LENGTH: {
        if (p->body > p->limits->body_bytes_discard_max) {
          return fail(p, HL_H1_ERR_BODY_TOO_LARGE, body_too_large);
        }
        if (p->body == 0) {
          return done(p, i, ev);
        }
        if (i == len) {
          return (ptrdiff_t)i;
        }
        size_t take = len - i < p->body ? len - i : (size_t)p->body;
        p->body -= take;
        return body(ev, buf, i, take);
      }
      case ST_BODY_CHUNKED: {
        if (hl_h1_chunked_done(&p->chunked)) {
          return done(p, i, ev);
        }
        if (i == len) {
          return (ptrdiff_t)i;
        }
        hl_span data;
        n = hl_h1_chunked_decode(&p->chunked, buf + i, len - i, &data);
        if (n < 0) {
          return fail(p, hl_h1_chunked_error(&p->chunked), hl_h1_chunked_error_detail(&p->chunked));
        }
        i += (size_t)n;
        if (data.len > 0) {
          ev->type = HL_H1_EV_BODY;
          ev->body = data;
          return (ptrdiff_t)i;
        }
        break;
      }
      case ST_BODY_CLOSE: {
        if (i == len) {
          return (ptrdiff_t)i;
        }
        uint64_t room = p->limits->body_bytes_discard_max - p->body;
        if (room == 0) {
          return fail(p, HL_H1_ERR_BODY_TOO_LARGE, body_too_large);
        }
        size_t take = len - i < room ? len - i : (size_t)room;
        p->body += take;
        return body(ev, buf, i, take);
      }
      case ST_DONE:
        if (i < len) {
          return fail(p, HL_H1_ERR_EXTRA_DATA,
                      "bytes arrived after the complete response (requests are not pipelined)");
        }
        return (ptrdiff_t)i;
      case ST_ERROR:
        return HL_INVALID;
      default:
        HL_UNREACHABLE();
    }
  }
}

int hl_h1_parse_eof(hl_h1_parser *p, hl_h1_event *ev) {
  ev->type = HL_H1_EV_NONE;
  ev->body = HL_SPAN_NULL;
  switch (p->state) {
    case ST_ERROR:
      return HL_INVALID;
    case ST_DONE:
      return 0;
    case ST_BODY_CLOSE:
      done(p, 0, ev);
      return 0;
    case ST_BODY_LENGTH:
      if (p->body > p->limits->body_bytes_discard_max) {
        return fail(p, HL_H1_ERR_BODY_TOO_LARGE, body_too_large);
      }
      if (p->body == 0) {
        done(p, 0, ev);
        return 0;
      }
      return fail(p, HL_H1_ERR_UNEXPECTED_EOF,
                  "the connection closed before the Content-Length bytes of the body");
    case ST_BODY_CHUNKED:
      if (hl_h1_chunked_done(&p->chunked)) {
        done(p, 0, ev);
        return 0;
      }
      return fail(p, HL_H1_ERR_UNEXPECTED_EOF, "the connection closed inside a chunked body");
    case ST_STATUS:
      if (p->line_bytes == 0 && p->interim == 0) {
        return fail(p, HL_H1_ERR_NO_RESPONSE, "the connection closed before any response byte");
      }
      /* fall through */
    default:
      return fail(p, HL_H1_ERR_UNEXPECTED_EOF, "the connection closed inside the response head");
  }
}

/* --- Retry-After (RFC 9110 §10.2.3, HTTP-date §5.6.7) ------------------------ */

static const char day_names[7][10] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char day_names_long[7][10] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                           "Friday", "Saturday", "Sunday"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool name_in(hl_span s, const char (*names)[10]) {
  for (size_t k = 0; k < 7; k++) {
    if (hl_span_eq_cstr(s, names[k])) {
      return true;
    }
  }
  return false;
}

/* get_digits reads exactly |n| decimal digits. */
static bool get_digits(hl_span *s, size_t n, int *out) {
  if (s->len < n) {
    return false;
  }
  int v = 0;
  for (size_t k = 0; k < n; k++) {
    if (!is_digit(s->ptr[k])) {
      return false;
    }
    v = v * 10 + (s->ptr[k] - '0');
  }
  *out = v;
  hl_span_skip(s, n);
  return true;
}

static bool get_month(hl_span *s, int *month) {
  for (int k = 0; k < 12; k++) {
    if (hl_span_get_lit(s, hl_span_make(month_names[k], 3))) {
      *month = k + 1;
      return true;
    }
  }
  return false;
}

typedef struct http_date {
  int year, month, day, hour, minute, second;
} http_date;

static bool get_time(hl_span *s, http_date *d) {
  return get_digits(s, 2, &d->hour) && hl_span_get_lit(s, HL_SPAN_LIT(":")) &&
         get_digits(s, 2, &d->minute) && hl_span_get_lit(s, HL_SPAN_LIT(":")) &&
         get_digits(s, 2, &d->second);
}

/* days_from_civil: days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* year_of_days: the year of a day count since 1970-01-01. */
static int64_t year_of_days(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + (mp >= 10);
}

static bool date_valid(const http_date *d) {
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d->day < 1 || d->day > mdays[d->month - 1] || d->hour > 23 || d->minute > 59 ||
      d->second > 60) {
    return false;
  }
  bool leap = (d->year % 4 == 0 && d->year % 100 != 0) || d->year % 400 == 0;
  return !(d->month == 2 && d->day == 29 && !leap);
}

/* parse_http_date reads IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"),
 * RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime
 * ("Sun Nov  6 08:49:37 1994"). Names are case-sensitive, as the grammar
 * says; the day name is checked but not against the date. */
static bool parse_http_date(hl_span s, int64_t now_s, int64_t *unix_s) {
  size_t k = 0;
  while (k < s.len && ((s.ptr[k] >= 'A' && s.ptr[k] <= 'Z') || (s.ptr[k] >= 'a' && s.ptr[k] <= 'z'))) {
    k++;
  }
  hl_span day_name = hl_span_sub(s, 0, k);
  hl_span_skip(&s, k);
  http_date d = {0};
  bool comma = hl_span_get_lit(&s, HL_SPAN_LIT(", "));
  if (comma && name_in(day_name, day_names)) {
    if (!get_digits(&s, 2, &d.day) || !hl_span_get_lit(&s, HL_SPAN_LIT(" ")) ||
        !get_month(&s, &d.month) || !hl_span_get_lit(&s, HL_SPAN_LIT(" ")) ||
        !get_digits(&s, 4, &d.year) || !hl_span_get_lit(&s, HL_SPAN_LIT(" ")) ||
        !get_time(&s, &d) || !hl_span_get_lit(&s, HL_SPAN_LIT(" GMT"))) {
      return false;
    }
  } else if (comma && name_in(day_name, day_names_long)) {
    int yy = 0;
    if (!get_digits(&s, 2, &d.day) || !hl_span_get_lit(&s, HL_SPAN_LIT("-")) ||
        !get_month(&s, &d.month) || !hl_span_get_lit(&s, HL_SPAN_LIT("-")) ||
        !get_digits(&s, 2, &yy) || !hl_span_get_lit(&s, HL_SPAN_LIT(" ")) ||
        !get_time(&s, &d) || !hl_span_get_lit(&s, HL_SPAN_LIT(" GMT"))) {
      return false;
    }
    /* RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the
     * past century. */
    int64_t now_days = (now_s < 0 ? 0 : now_s > 253402300799 ? 253402300799 : now_s) / 86400;
    int64_t now_year = year_of_days(now_days);
    int64_t year = now_year - now_year % 100 + yy;
    if (year > now_year + 50) {
      year -= 100;
    }
    d.year = (int)year;
  } else if (!comma && name_in(day_name, day_names) && hl_span_get_lit(&s, HL_SPAN_LIT(" "))) {
    if (!get_month(&s, &d.month) || !hl_span_get_lit(&s, HL_SPAN_LIT(" "))) {
      return false;
    }
    if (!(hl_span_get_lit(&s, HL_SPAN_LIT(" ")) ? get_digits(&s, 1, &d.day)
                                                 : get_digits(&s, 2, &d.day)) ||
        !hl_span_get_lit(&s, HL_SPAN_LIT(" ")) || !get_time(&s, &d) ||
        !hl_span_get_lit(&s, HL_SPAN_LIT(" ")) || !get_digits(&s, 4, &d.year)) {
      return false;
    }
  } else {
    return false;
  }
  if (s.len != 0 || !date_valid(&d)) {
    return false;
  }
  *unix_s = days_from_civil(d.year, d.month, d.day) * 86400 + d.hour * 3600 + d.minute * 60 +
            d.second;
  return true;
}

bool hl_h1_parse_retry_after(hl_span value, int64_t now_s, uint32_t *delay_s) {
  hl_span v = hl_span_trim_ows(value);
  if (v.len == 0) {
    return false;
  }
  if (is_digit(v.ptr[0])) {
    uint64_t n = 0;
    for (size_t k = 0; k < v.len; k++) {
      if (!is_digit(v.ptr[k])) {
        return false;
      }
      if (n <= HL_HTTP_RETRY_AFTER_S_MAX) {
        n = n * 10 + (uint64_t)(v.ptr[k] - '0');
      }
    }
    *delay_s = n > HL_HTTP_RETRY_AFTER_S_MAX ? HL_HTTP_RETRY_AFTER_S_MAX : (uint32_t)n;
    return true;
  }
  int64_t at_s;
  if (!parse_http_date(v, now_s, &at_s)) {
    return false;
  }
  int64_t delta;
  if (__builtin_sub_overflow(at_s, now_s, &delta)) {
    delta = now_s < 0 ? INT64_MAX : 0;
  }
  *delay_s = delta <= 0 ? 0 : delta > HL_HTTP_RETRY_AFTER_S_MAX ? HL_HTTP_RETRY_AFTER_S_MAX : (uint32_t)delta;
  return true;
}
