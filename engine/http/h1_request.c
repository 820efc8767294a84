/* h1_request: request head writer (see h1_request.h). Everything is checked
 * before the first byte is written, so a refused request leaves no trace. */
#include "http/h1_request.h"

#include <errno.h>

#include "base/assert.h"
#include "base/limits.h"
#include "http/h1_syntax.h"

#ifndef HL_VERSION
#define HL_VERSION "0"
#endif

static const char *const method_names[HL_HTTP_METHOD_COUNT_] = {
    [HL_HTTP_GET] = "GET",     [HL_HTTP_POST] = "POST",     [HL_HTTP_PUT] = "PUT",
    [HL_HTTP_PATCH] = "PATCH", [HL_HTTP_DELETE] = "DELETE",
};

const char *hl_http_method_name(hl_http_method m) {
  if ((unsigned)m >= HL_HTTP_METHOD_COUNT_) {
    return NULL;
  }
  return method_names[m];
}

/* Headers whose value decides the framing or the connection: only the client
 * writes them (RFC 9110 §7.6.1 hop-by-hop fields, plus Host and the length).
 * Looked up by length first: most caller headers match no length. */
static bool is_owned(hl_span name) {
  switch (name.len) {
    case 2:
      return hl_span_eq_nocase(name, HL_SPAN_LIT("te"));
    case 4:
      return hl_span_eq_nocase(name, HL_SPAN_LIT("host"));
    case 6:
      return hl_span_eq_nocase(name, HL_SPAN_LIT("expect"));
    case 7:
      return hl_span_eq_nocase(name, HL_SPAN_LIT("upgrade")) ||
             hl_span_eq_nocase(name, HL_SPAN_LIT("trailer"));
    case 10:
      if (hl_span_eq_nocase(name, HL_SPAN_LIT("connection")) ||
          hl_span_eq_nocase(name, HL_SPAN_LIT("keep-alive"))) {
        return true;
      }
      break;
    case 14:
      if (hl_span_eq_nocase(name, HL_SPAN_LIT("content-length"))) {
        return true;
      }
      break;
    case 17:
      if (hl_span_eq_nocase(name, HL_SPAN_LIT("transfer-encoding"))) {
        return true;
      }
      break;
    default:
      break;
  }
  return name.len > 6 && hl_span_eq_nocase(hl_span_sub(name, 0, 6), HL_SPAN_LIT("proxy-"));
}

static bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c) {
  return (hl_h1_char_class[(uint8_t)c] & HL_H1_CHAR_HEX) != 0;
}

/* check_host accepts a DNS name or IPv4 literal (letters, digits, "-._~") or
 * an IPv6 literal without brackets (hex digits, ':' and '.'). */
static int check_host(hl_span host, bool *ipv6, hl_err *err) {
  if (host.len == 0) {
    return hl_err_fail(err, -EINVAL, "request host: empty");
  }
  if (host.len > HL_HOST_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "request host: longer than HL_HOST_BYTES_MAX (%d bytes)",
                       HL_HOST_BYTES_MAX);
  }
  *ipv6 = hl_span_find(host, ':') != SIZE_MAX;
  for (size_t k = 0; k < host.len; k++) {
    char c = host.ptr[k];
    bool ok = *ipv6 ? (is_hex(c) || c == ':' || c == '.')
                    : (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~');
    if (!ok) {
      return hl_err_fail(err, -EINVAL, "request host: invalid character at byte %zu%s", k,
                         *ipv6 ? " (a host with ':' must be an IPv6 literal, without brackets)" : "");
    }
  }
  return 0;
}

/* check_target accepts origin-form: "/" then visible ASCII without '#'
 * (the URL module percent-encodes everything else). */
static int check_target(hl_span target, hl_err *err) {
  if (target.len == 0 || target.ptr[0] != '/') {
    return hl_err_fail(err, -EINVAL, "request target: must start with '/'");
  }
  if (target.len > HL_URL_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "request target: longer than HL_URL_BYTES_MAX (%d bytes)",
                       HL_URL_BYTES_MAX);
  }
  for (size_t k = 0; k < target.len; k++) {
    uint8_t c = (uint8_t)target.ptr[k];
    if (c <= 0x20 || c >= 0x7f || c == '#') {
      return hl_err_fail(err, -EINVAL,
                         "request target: invalid character at byte %zu (spaces, control "
                         "characters, '#' and non-ASCII bytes must be percent-encoded)",
                         k);
    }
  }
  return 0;
}

typedef struct caller_defaults {
  bool user_agent;
  bool content_type;
} caller_defaults;

static int check_header(const hl_h1_header *h, size_t index, caller_defaults *given,
                        hl_err *err) {
  if (h->name.len == 0) {
    return hl_err_fail(err, -EINVAL, "header %zu: empty name", index);
  }
  if (h->name.len > HL_HTTP_HEADER_NAME_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "header %zu: name longer than HL_HTTP_HEADER_NAME_BYTES_MAX "
                       "(%d bytes)", index, HL_HTTP_HEADER_NAME_BYTES_MAX);
  }
  for (size_t k = 0; k < h->name.len; k++) {
    if (!hl_h1_is_tchar(h->name.ptr[k])) {
      return hl_err_fail(err, -EINVAL,
                         "header %zu: name is not an HTTP token (invalid character at byte %zu)",
                         index, k);
    }
  }
  /* From here on the name is a token, safe to print. */
  if (is_owned(h->name)) {
    return hl_err_fail(err, -EINVAL,
                       "header \"%.*s\": set by the client itself; remove it from the headers",
                       HL_SPAN_FMT(h->name));
  }
  bool *seen = NULL;
  if (h->name.len == 10 && hl_span_eq_nocase(h->name, HL_SPAN_LIT("user-agent"))) {
    seen = &given->user_agent;
  } else if (h->name.len == 12 && hl_span_eq_nocase(h->name, HL_SPAN_LIT("content-type"))) {
    seen = &given->content_type;
  }
  if (seen != NULL) {
    if (*seen) {
      return hl_err_fail(err, -EINVAL, "header \"%.*s\": given twice", HL_SPAN_FMT(h->name));
    }
    *seen = true;
  }
  if (h->value.len > HL_HTTP_HEADER_VALUE_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL,
                       "header \"%.*s\": value longer than HL_HTTP_HEADER_VALUE_BYTES_MAX "
                       "(%d bytes)",
                       HL_SPAN_FMT(h->name), HL_HTTP_HEADER_VALUE_BYTES_MAX);
  }
  size_t ok = hl_h1_value_run(h->value.ptr, h->value.len);
  if (ok != h->value.len) {
    return hl_err_fail(err, -EINVAL,
                       "header \"%.*s\": value contains CR, LF, NUL or another control "
                       "character at byte %zu",
                       HL_SPAN_FMT(h->name), ok);
  }
  return 0;
}

/* The head is sized first and then copied in one pass: one bounds check, no
 * per-piece calls. */
#define USER_AGENT_LINE "User-Agent: hookline/" HL_VERSION "\r\n"
#define CONTENT_TYPE_LINE "Content-Type: application/json\r\n"
#define CONTENT_LENGTH_NAME "Content-Length: "
#define CLOSE_LINE "Connection: close\r\n"
#define LIT_LEN(s) (sizeof(s) - 1)

/* put_decimal writes |v| in decimal at |w|; returns the end. With |w| NULL
 * it only counts. */
static char *put_decimal(char *w, uint64_t v, size_t *len) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  *len = n;
  if (w == NULL) {
    return NULL;
  }
  for (size_t k = 0; k < n; k++) {
    w[k] = digits[n - 1 - k];
  }
  return w + n;
}

static char *put(char *w, const void *p, size_t n) {
  memcpy(w, p, n);
  return w + n;
}

int hl_h1_request_write(const hl_h1_request *req, hl_buf *head, struct iovec iov[2], hl_err *err) {
  const char *method = hl_http_method_name(req->method);
  if (method == NULL) {
    return hl_err_fail(err, -EINVAL, "request method: unknown method %d", (int)req->method);
  }
  bool ipv6 = false;
  int rc = check_host(req->host, &ipv6, err);
  if (rc == 0) {
    rc = check_target(req->target, err);
  }
  if (rc != 0) {
    return rc;
  }
  if (req->headers_len > HL_HTTP_REQUEST_HEADERS_MAX) {
    return hl_err_fail(err, -EINVAL, "headers: %zu given, more than HL_HTTP_REQUEST_HEADERS_MAX (%d)",
                       req->headers_len, HL_HTTP_REQUEST_HEADERS_MAX);
  }
  caller_defaults given = {0};
  for (size_t k = 0; k < req->headers_len; k++) {
    rc = check_header(&req->headers[k], k, &given, err);
    if (rc != 0) {
      return rc;
    }
  }

  uint16_t default_port = req->tls ? 443 : 80;
  bool show_port = req->port != 0 && req->port != default_port;
  bool has_body_method =
      req->method == HL_HTTP_POST || req->method == HL_HTTP_PUT || req->method == HL_HTTP_PATCH;
  bool content_length = has_body_method || req->body.len > 0;
  bool content_type = !given.content_type && req->body.len > 0;
  size_t method_len = strlen(method), port_len = 0, body_len_len = 0;
  put_decimal(NULL, req->port, &port_len);
  put_decimal(NULL, req->body.len, &body_len_len);

  size_t need = method_len + 1 + req->target.len + LIT_LEN(" HTTP/1.1\r\nHost: ") + req->host.len +
                (ipv6 ? 2 : 0) + (show_port ? 1 + port_len : 0) + 2 +
                (given.user_agent ? 0 : LIT_LEN(USER_AGENT_LINE)) +
                (content_type ? LIT_LEN(CONTENT_TYPE_LINE) : 0) +
                (content_length ? LIT_LEN(CONTENT_LENGTH_NAME) + body_len_len + 2 : 0) +
                (req->close ? LIT_LEN(CLOSE_LINE) : 0) + 2;
  for (size_t k = 0; k < req->headers_len; k++) {
    need += req->headers[k].name.len + 2 + req->headers[k].value.len + 2;
  }
  if (head->err || need > head->cap - head->len) {
    return hl_err_fail(err, -ENOSPC, "request head: does not fit in its buffer (%zu bytes)",
                       head->cap);
  }
  size_t start = head->len;
  char *w = head->ptr + start;
  w = put(w, method, method_len);
  *w++ = ' ';
  w = put(w, req->target.ptr, req->target.len);
  w = put(w, " HTTP/1.1\r\nHost: ", LIT_LEN(" HTTP/1.1\r\nHost: "));
  if (ipv6) {
    *w++ = '[';
  }
  w = put(w, req->host.ptr, req->host.len);
  if (ipv6) {
    *w++ = ']';
  }
  if (show_port) {
    *w++ = ':';
    w = put_decimal(w, req->port, &port_len);
  }
  w = put(w, "\r\n", 2);
  if (!given.user_agent) {
    w = put(w, USER_AGENT_LINE, LIT_LEN(USER_AGENT_LINE));
  }
  if (content_type) {
    w = put(w, CONTENT_TYPE_LINE, LIT_LEN(CONTENT_TYPE_LINE));
  }
  if (content_length) {
    w = put(w, CONTENT_LENGTH_NAME, LIT_LEN(CONTENT_LENGTH_NAME));
    w = put_decimal(w, req->body.len, &body_len_len);
    w = put(w, "\r\n", 2);
  }
  if (req->close) {
    w = put(w, CLOSE_LINE, LIT_LEN(CLOSE_LINE));
  }
  for (size_t k = 0; k < req->headers_len; k++) {
    const hl_h1_header *h = &req->headers[k];
    w = put(w, h->name.ptr, h->name.len);
    w = put(w, ": ", 2);
    if (h->value.len > 0) {
      w = put(w, h->value.ptr, h->value.len);
    }
    w = put(w, "\r\n", 2);
  }
  w = put(w, "\r\n", 2);
  HL_ASSERT((size_t)(w - (head->ptr + start)) == need);
  head->len = start + need;
  iov[0].iov_base = head->ptr + start;
  iov[0].iov_len = head->len - start;
  iov[1].iov_base = (void *)req->body.ptr;
  iov[1].iov_len = req->body.len;
  return 0;
}
