/* url: the webhook URL parser and percent-codec (see url.h). */
#include "text/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "base/limits.h"

/* Longest text of an IPv6 address (INET6_ADDRSTRLEN without its NUL). */
#define URL_IPV6_TEXT_BYTES_MAX 45
/* How much of a host or scheme an error message quotes. */
#define URL_QUOTE_BYTES_MAX 64

static bool is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c) {
  if (is_digit(c)) {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

static bool is_unreserved(unsigned char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(unsigned char c) {
  return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

static int quote_len(size_t len) {
  return len > URL_QUOTE_BYTES_MAX ? URL_QUOTE_BYTES_MAX : (int)len;
}

/* valid_escape: |s| has "%XX" at |i|, with two hex digits. */
static bool valid_escape(hl_span s, size_t i) {
  return i + 2 < s.len && hex_value((unsigned char)s.ptr[i + 1]) >= 0 &&
         hex_value((unsigned char)s.ptr[i + 2]) >= 0;
}

/* Bytes that no part of a URL may hold, raw: control bytes and spaces break
 * HTTP framing and log lines; a backslash is read as '/' by WHATWG parsers,
 * which is a classic way to make two parsers disagree about the host. */
static int check_forbidden_bytes(hl_span in, hl_err *err) {
  for (size_t i = 0; i < in.len; i++) {
    unsigned char c = (unsigned char)in.ptr[i];
    if (c < 0x20 || c == 0x7f) {
      return hl_err_fail(err, -EINVAL,
                         "url: control byte 0x%02x at offset %zu; control characters are not "
                         "allowed anywhere in a URL",
                         c, i);
    }
    if (c == ' ') {
      return hl_err_fail(err, -EINVAL, "url: space at offset %zu; percent-encode it as %%20", i);
    }
    if (c == '\\') {
      return hl_err_fail(err, -EINVAL,
                         "url: backslash at offset %zu (some parsers read it as '/'); "
                         "percent-encode it as %%5C",
                         i);
    }
  }
  return 0;
}

static int parse_scheme(hl_span in, hl_url *out, size_t *pos, hl_err *err) {
  size_t i = 0;
  while (i < in.len) {
    unsigned char c = (unsigned char)in.ptr[i];
    bool ok = is_alpha(c) || (i > 0 && (is_digit(c) || c == '+' || c == '-' || c == '.'));
    if (!ok) {
      break;
    }
    i++;
  }
  if (i == 0 || i == in.len || in.ptr[i] != ':') {
    return hl_err_fail(err, -EINVAL, "url: no scheme; write it as https://host/path");
  }
  hl_span scheme = hl_span_make(in.ptr, i);
  bool slashes = i + 2 < in.len && in.ptr[i + 1] == '/' && in.ptr[i + 2] == '/';
  if (hl_span_eq_nocase(scheme, HL_SPAN_LIT("https"))) {
    out->scheme = HL_URL_HTTPS;
  } else if (hl_span_eq_nocase(scheme, HL_SPAN_LIT("http"))) {
    out->scheme = HL_URL_HTTP;
  } else if (slashes) {
    return hl_err_fail(err, -EINVAL,
                       "url: unsupported scheme \"%.*s\"; only https and http URLs can be "
                       "webhook endpoints",
                       quote_len(i), in.ptr);
  } else {
    return hl_err_fail(err, -EINVAL,
                       "url: unsupported scheme \"%.*s\" (no \"//\" follows it: if that was a "
                       "host, start the URL with https://)",
                       quote_len(i), in.ptr);
  }
  if (!slashes) {
    return hl_err_fail(err, -EINVAL, "url: expected \"//\" after \"%.*s:\"", (int)i, in.ptr);
  }
  *pos = i + 3;
  return 0;
}

/* Userinfo stays as written (percent-encoded); the engine decodes it when it
 * builds the Authorization header. Errors name the part and the offset, never
 * the bytes: the user name is often an API key too. */
static int parse_userinfo(hl_span in, size_t start, size_t end, hl_url *out, hl_err *err) {
  if (start == end) {
    return hl_err_fail(err, -EINVAL,
                       "url: '@' at offset %zu has no user name before it; remove it or add "
                       "the user name",
                       end);
  }
  size_t colon = hl_span_find(hl_span_make(in.ptr + start, end - start), ':');
  out->has_userinfo = true;
  if (colon == SIZE_MAX) {
    out->user = hl_span_make(in.ptr + start, end - start);
  } else {
    colon += start;
    out->has_password = true;
    out->user = hl_span_make(in.ptr + start, colon - start);
    out->password = hl_span_make(in.ptr + colon + 1, end - colon - 1);
  }
  for (size_t i = start; i < end; i++) {
    unsigned char c = (unsigned char)in.ptr[i];
    const char *part = colon != SIZE_MAX && i > colon ? "password" : "user name";
    if (c == ':' || is_unreserved(c) || is_sub_delim(c)) {
      continue;
    }
    if (c == '%') {
      if (!valid_escape(in, i) || i + 2 >= end) {
        return hl_err_fail(err, -EINVAL,
                           "url: invalid percent-escape in the %s at offset %zu ('%%' must be "
                           "followed by two hex digits)",
                           part, i);
      }
      i += 2;
      continue;
    }
    if (c == '@') {
      return hl_err_fail(err, -EINVAL,
                         "url: more than one '@' before the host; percent-encode an '@' in the "
                         "%s as %%40",
                         part);
    }
    return hl_err_fail(err, -EINVAL,
                       "url: the %s has a character that must be percent-encoded, at offset %zu",
                       part, i);
  }
  return 0;
}

static int parse_port(hl_span in, size_t start, size_t end, hl_url *out, hl_err *err) {
  hl_span p = hl_span_make(in.ptr + start, end - start);
  if (p.len == 0) {
    return hl_err_fail(err, -EINVAL,
                       "url: the port after ':' at offset %zu is empty; remove the ':' or give "
                       "a port",
                       start - 1);
  }
  for (size_t i = 0; i < p.len; i++) {
    unsigned char c = (unsigned char)p.ptr[i];
    if (!is_digit(c)) {
      if (c > 0x20 && c < 0x7f) {
        return hl_err_fail(err, -EINVAL,
                           "url: the port has '%c' at offset %zu; a port is decimal digits only",
                           c, start + i);
      }
      return hl_err_fail(err, -EINVAL,
                         "url: the port has byte 0x%02x at offset %zu; a port is decimal digits "
                         "only",
                         c, start + i);
    }
  }
  uint64_t v = 0;
  if (!hl_span_parse_u64(p, 65535, &v) || v == 0) {
    return hl_err_fail(err, -EINVAL, "url: port %.*s is out of range (1..65535)", quote_len(p.len),
                       p.ptr);
  }
  out->port = (uint16_t)v;
  out->port_explicit = true;
  return 0;
}

static int parse_authority(hl_span in, size_t start, size_t end, hl_url *out, hl_err *err) {
  size_t host_start = start;
  for (size_t i = end; i > start; i--) {
    if (in.ptr[i - 1] == '@') {
      int rc = parse_userinfo(in, start, i - 1, out, err);
      if (rc != 0) {
        return rc;
      }
      host_start = i;
      break;
    }
  }
  hl_span rest = hl_span_make(in.ptr + host_start, end - host_start);
  size_t host_len;
  if (rest.len > 0 && rest.ptr[0] == '[') {
    size_t close = hl_span_find(rest, ']');
    if (close == SIZE_MAX) {
      return hl_err_fail(err, -EINVAL, "url: '[' at offset %zu has no closing ']'", host_start);
    }
    host_len = close + 1;
    if (host_len < rest.len && rest.ptr[host_len] != ':') {
      return hl_err_fail(err, -EINVAL,
                         "url: unexpected byte at offset %zu after the IPv6 address; expected "
                         "':' and a port, or the path",
                         host_start + host_len);
    }
  } else {
    host_len = hl_span_find(rest, ':');
    if (host_len == SIZE_MAX) {
      host_len = rest.len;
    } else if (hl_span_find(hl_span_sub(rest, host_len + 1, SIZE_MAX), ':') != SIZE_MAX) {
      return hl_err_fail(err, -EINVAL,
                         "url: more than one ':' after the host; an IPv6 address must be in "
                         "brackets, as in https://[2001:db8::1]/");
    }
  }
  if (hl_host_parse(hl_span_make(rest.ptr, host_len), &out->host, err) != 0) {
    hl_err_prefix(err, "url");
    return -EINVAL;
  }
  if (host_len < rest.len) {
    return parse_port(in, host_start + host_len + 1, end, out, err);
  }
  out->port = hl_url_default_port(out->scheme);
  return 0;
}

/* Path, query and fragment: any printable ASCII (see url.h for why that is
 * wider than RFC 3986), '%' only as a valid escape, nothing >= 0x80. */
static int check_part(hl_span in, size_t start, size_t end, const char *what, hl_err *err) {
  for (size_t i = start; i < end; i++) {
    unsigned char c = (unsigned char)in.ptr[i];
    if (c >= 0x80) {
      return hl_err_fail(err, -EINVAL,
                         "url: byte 0x%02x at offset %zu in the %s is not ASCII; percent-encode "
                         "it",
                         c, i, what);
    }
    if (c == '%') {
      if (!valid_escape(in, i) || i + 2 >= end) {
        return hl_err_fail(err, -EINVAL,
                           "url: invalid percent-escape at offset %zu in the %s ('%%' must be "
                           "followed by two hex digits)",
                           i, what);
      }
      i += 2;
    }
  }
  return 0;
}

static size_t decimal_digits(uint32_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

static bool port_written(const hl_url *u) {
  return u->port != hl_url_default_port(u->scheme);
}

/* The length hl_url_write produces, computed without writing, so that the
 * parser can refuse a URL whose normalised form would break the bound. */
static size_t written_len(const hl_url *u) {
  size_t n = (u->scheme == HL_URL_HTTPS ? 5 : 4) + 3;
  if (u->has_userinfo) {
    n += u->user.len + (u->has_password ? 1 + u->password.len : 0) + 1;
  }
  n += u->host.name.len + (u->host.kind == HL_HOST_IPV6 ? 2 : 0);
  if (port_written(u)) {
    n += 1 + decimal_digits(u->port);
  }
  n += u->path.len > 0 ? u->path.len : 1;
  if (u->has_query) {
    n += 1 + u->query.len;
  }
  if (u->has_fragment) {
    n += 1 + u->fragment.len;
  }
  return n;
}

int hl_url_parse(hl_span in, hl_url *out, hl_err *err) {
  memset(out, 0, sizeof(*out));
  if (in.len == 0) {
    return hl_err_fail(err, -EINVAL, "url: empty; write it as https://host/path");
  }
  if (in.len > HL_URL_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "url: %zu bytes is longer than the limit of %d bytes", in.len,
                       HL_URL_BYTES_MAX);
  }
  int rc = check_forbidden_bytes(in, err);
  size_t pos = 0;
  if (rc == 0) {
    rc = parse_scheme(in, out, &pos, err);
  }
  if (rc != 0) {
    return rc;
  }
  size_t end = pos;
  while (end < in.len && in.ptr[end] != '/' && in.ptr[end] != '?' && in.ptr[end] != '#') {
    end++;
  }
  rc = parse_authority(in, pos, end, out, err);
  if (rc != 0) {
    return rc;
  }
  pos = end;
  while (end < in.len && in.ptr[end] != '?' && in.ptr[end] != '#') {
    end++;
  }
  out->path = hl_span_make(in.ptr + pos, end - pos);
  rc = check_part(in, pos, end, "path", err);
  if (rc == 0 && end < in.len && in.ptr[end] == '?') {
    pos = ++end;
    while (end < in.len && in.ptr[end] != '#') {
      end++;
    }
    out->has_query = true;
    out->query = hl_span_make(in.ptr + pos, end - pos);
    rc = check_part(in, pos, end, "query", err);
  }
  if (rc == 0 && end < in.len) {
    pos = end + 1;
    out->has_fragment = true;
    out->fragment = hl_span_make(in.ptr + pos, in.len - pos);
    rc = check_part(in, pos, in.len, "fragment", err);
  }
  if (rc == 0 && written_len(out) > HL_URL_BYTES_MAX) {
    rc = hl_err_fail(err, -EINVAL, "url: its normalised form is longer than the limit of %d bytes",
                     HL_URL_BYTES_MAX);
  }
  return rc;
}

uint16_t hl_url_default_port(hl_url_scheme scheme) {
  return scheme == HL_URL_HTTPS ? 443 : 80;
}

static void put_lower(hl_buf *out, hl_span s) {
  char *dst = hl_buf_reserve(out, s.len);
  if (dst == NULL) {
    return;
  }
  for (size_t i = 0; i < s.len; i++) {
    dst[i] = hl_ascii_lower(s.ptr[i]);
  }
}

static void put_host(const hl_url *u, hl_buf *out) {
  bool v6 = u->host.kind == HL_HOST_IPV6;
  if (v6) {
    hl_buf_putc(out, '[');
  }
  put_lower(out, u->host.name);
  if (v6) {
    hl_buf_putc(out, ']');
  }
}

static void put_scheme(const hl_url *u, hl_buf *out) {
  hl_buf_put_cstr(out, u->scheme == HL_URL_HTTPS ? "https://" : "http://");
}

static void write_url(const hl_url *u, hl_buf *out, bool redact) {
  put_scheme(u, out);
  if (u->has_userinfo && redact) {
    hl_buf_put_cstr(out, "****@");
  } else if (u->has_userinfo) {
    hl_buf_put_span(out, u->user);
    if (u->has_password) {
      hl_buf_putc(out, ':');
      hl_buf_put_span(out, u->password);
    }
    hl_buf_putc(out, '@');
  }
  hl_url_host_header(u, out);
  hl_url_request_target(u, out);
  if (u->has_fragment) {
    hl_buf_putc(out, '#');
    hl_buf_put_span(out, u->fragment);
  }
}

void hl_url_write(const hl_url *u, hl_buf *out) {
  write_url(u, out, false);
}

void hl_url_write_redacted(const hl_url *u, hl_buf *out) {
  write_url(u, out, true);
}

void hl_url_origin(const hl_url *u, hl_buf *out) {
  put_scheme(u, out);
  if (u->host.kind == HL_HOST_IPV6) {
    /* Canonical text, so that [::1] and [0:0::1] share a pool. */
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, u->host.addr, text, sizeof(text)) == NULL) {
      out->err = true;
      return;
    }
    hl_buf_putc(out, '[');
    hl_buf_put_cstr(out, text);
    hl_buf_putc(out, ']');
  } else {
    put_lower(out, u->host.name);
  }
  hl_buf_putc(out, ':');
  hl_buf_put_u64(out, u->port);
}

void hl_url_request_target(const hl_url *u, hl_buf *out) {
  if (u->path.len > 0) {
    hl_buf_put_span(out, u->path);
  } else {
    hl_buf_putc(out, '/');
  }
  if (u->has_query) {
    hl_buf_putc(out, '?');
    hl_buf_put_span(out, u->query);
  }
}

void hl_url_host_lower(const hl_url *u, hl_buf *out) {
  put_lower(out, u->host.name);
}

void hl_url_host_header(const hl_url *u, hl_buf *out) {
  put_host(u, out);
  if (port_written(u)) {
    hl_buf_putc(out, ':');
    hl_buf_put_u64(out, u->port);
  }
}

/* --- hosts --- */

const char *hl_ipv4_parse_strict(hl_span s, uint8_t out[4]) {
  size_t parts = 0;
  size_t i = 0;
  for (;;) {
    size_t start = i;
    while (i < s.len && s.ptr[i] != '.') {
      i++;
    }
    hl_span p = hl_span_make(s.ptr + start, i - start);
    if (parts == 4) {
      return "has more than 4 parts";
    }
    if (p.len == 0) {
      return "has an empty part";
    }
    if (p.len > 1 && p.ptr[0] == '0') {
      return p.ptr[1] == 'x' || p.ptr[1] == 'X' ? "has a hexadecimal part"
                                                : "has a part with a leading zero (octal)";
    }
    for (size_t k = 0; k < p.len; k++) {
      if (!is_digit((unsigned char)p.ptr[k])) {
        return "has a part that is not a decimal number";
      }
    }
    if (i == s.len && parts == 0) {
      return "is a single number, not a.b.c.d";
    }
    uint64_t v = 0;
    if (!hl_span_parse_u64(p, 255, &v)) {
      return "has a part greater than 255";
    }
    out[parts++] = (uint8_t)v;
    if (i == s.len) {
      break;
    }
    i++;
  }
  return parts == 4 ? NULL : "has fewer than 4 parts";
}

bool hl_ipv6_parse(hl_span s, uint8_t out[16]) {
  char text[URL_IPV6_TEXT_BYTES_MAX + 1];
  /* hl_span_to_cstr refuses an embedded NUL, which would otherwise let
   * inet_pton accept a prefix of the text. */
  if (!hl_span_to_cstr(s, text, sizeof(text))) {
    return false;
  }
  return inet_pton(AF_INET6, text, out) == 1;
}

static int parse_ipv6_host(hl_span h, hl_host *out, hl_err *err) {
  for (size_t i = 0; i < h.len; i++) {
    unsigned char c = (unsigned char)h.ptr[i];
    if (c == '%') {
      return hl_err_fail(err, -EINVAL,
                         "host [%.*s] has a zone id ('%%25...' or '%%...'); IPv6 zone ids are "
                         "not supported",
                         (int)i, h.ptr);
    }
    if (hex_value(c) < 0 && c != ':' && c != '.') {
      return hl_err_fail(err, -EINVAL,
                         "host: byte 0x%02x at offset %zu cannot be part of an IPv6 address", c,
                         i);
    }
  }
  if (!hl_ipv6_parse(h, out->addr)) {
    return hl_err_fail(err, -EINVAL, "host [%.*s] is not a valid IPv6 address", quote_len(h.len),
                       h.ptr);
  }
  out->kind = HL_HOST_IPV6;
  out->name = h;
  return 0;
}

/* A label that a WHATWG parser would read as a number: decimal digits, or
 * 0x followed by hex digits (possibly none). */
static bool is_numeric_label(hl_span label) {
  if (label.len >= 2 && label.ptr[0] == '0' && (label.ptr[1] == 'x' || label.ptr[1] == 'X')) {
    for (size_t i = 2; i < label.len; i++) {
      if (hex_value((unsigned char)label.ptr[i]) < 0) {
        return false;
      }
    }
    return true;
  }
  for (size_t i = 0; i < label.len; i++) {
    if (!is_digit((unsigned char)label.ptr[i])) {
      return false;
    }
  }
  return label.len > 0;
}

static int check_name_bytes(hl_span h, hl_err *err) {
  for (size_t i = 0; i < h.len; i++) {
    unsigned char c = (unsigned char)h.ptr[i];
    if (c >= 0x80) {
      return hl_err_fail(err, -EINVAL,
                         "host: non-ASCII host names are not supported; use the IDNA (xn--) "
                         "form");
    }
    if (c == '%') {
      return hl_err_fail(err, -EINVAL,
                         "host: percent-encoding is not allowed in a host name; write it as "
                         "plain letters, digits, '-' and '.'");
    }
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.') {
      if (c > 0x20 && c < 0x7f) {
        return hl_err_fail(err, -EINVAL,
                           "host: '%c' at offset %zu is not allowed in a host name (letters, "
                           "digits, '-' and '.' only)",
                           c, i);
      }
      return hl_err_fail(err, -EINVAL,
                         "host: byte 0x%02x at offset %zu is not allowed in a host name", c, i);
    }
  }
  return 0;
}

static int parse_name_or_ipv4(hl_span h, hl_host *out, hl_err *err) {
  int rc = check_name_bytes(h, err);
  if (rc != 0) {
    return rc;
  }
  if (h.len > 0 && h.ptr[h.len - 1] == '.') {
    h.len--; /* the root label: "example.com." names example.com */
  }
  if (h.len == 0) {
    return hl_err_fail(err, -EINVAL, "host is empty");
  }
  if (h.len > HL_HOST_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "host is %zu bytes, longer than the DNS limit of %d", h.len,
                       HL_HOST_BYTES_MAX);
  }
  hl_span label = HL_SPAN_NULL;
  for (size_t start = 0; start <= h.len;) {
    size_t dot = hl_span_find(hl_span_sub(h, start, SIZE_MAX), '.');
    size_t len = dot == SIZE_MAX ? h.len - start : dot;
    if (len == 0) {
      return hl_err_fail(err, -EINVAL, "host \"%.*s\" has an empty label (a leading dot or \"..\")",
                         quote_len(h.len), h.ptr);
    }
    if (len > HL_HOST_LABEL_BYTES_MAX) {
      return hl_err_fail(err, -EINVAL, "host has a label of %zu bytes; DNS allows at most %d", len,
                         HL_HOST_LABEL_BYTES_MAX);
    }
    label = hl_span_make(h.ptr + start, len);
    start += len + 1;
  }
  out->name = h;
  if (!is_numeric_label(label)) {
    out->kind = HL_HOST_NAME;
    return 0;
  }
  /* A name ending in a number is what browsers and many resolvers read as an
   * IPv4 address, in whatever base its parts look like; only the one form
   * that everything reads the same way is accepted. */
  const char *why = hl_ipv4_parse_strict(h, out->addr);
  if (why != NULL) {
    return hl_err_fail(err, -EINVAL,
                       "host \"%.*s\" is not a strict dotted-quad IPv4 address (it %s); short, "
                       "octal, hex and integer forms are refused",
                       quote_len(h.len), h.ptr, why);
  }
  out->kind = HL_HOST_IPV4;
  return 0;
}

int hl_host_parse(hl_span host, hl_host *out, hl_err *err) {
  memset(out, 0, sizeof(*out));
  if (host.len == 0) {
    return hl_err_fail(err, -EINVAL, "host is empty");
  }
  if (host.ptr[0] == '[') {
    if (host.len < 2 || host.ptr[host.len - 1] != ']') {
      return hl_err_fail(err, -EINVAL, "host: '[' has no closing ']'");
    }
    return parse_ipv6_host(hl_span_sub(host, 1, host.len - 2), out, err);
  }
  if (hl_span_find(host, ':') != SIZE_MAX) {
    return parse_ipv6_host(host, out, err);
  }
  return parse_name_or_ipv4(host, out, err);
}

/* --- percent-codec --- */

void hl_url_encode_component(hl_span in, hl_buf *out) {
  static const char digits[] = "0123456789ABCDEF";
  for (size_t i = 0; i < in.len; i++) {
    unsigned char c = (unsigned char)in.ptr[i];
    if (is_unreserved(c)) {
      hl_buf_putc(out, (char)c);
      continue;
    }
    char *dst = hl_buf_reserve(out, 3);
    if (dst == NULL) {
      return;
    }
    dst[0] = '%';
    dst[1] = digits[c >> 4];
    dst[2] = digits[c & 15];
  }
}

int hl_url_decode_component(hl_span in, hl_buf *out, hl_err *err) {
  for (size_t i = 0; i < in.len; i++) {
    char c = in.ptr[i];
    if (c == '%') {
      if (!valid_escape(in, i)) {
        return hl_err_fail(err, -EINVAL,
                           "invalid percent-escape at offset %zu ('%%' must be followed by two "
                           "hex digits)",
                           i);
      }
      c = (char)(hex_value((unsigned char)in.ptr[i + 1]) << 4 |
                 hex_value((unsigned char)in.ptr[i + 2]));
      i += 2;
    }
    hl_buf_putc(out, c);
  }
  if (!hl_buf_ok(out)) {
    return hl_err_fail(err, -ENOSPC, "decoded text does not fit in %zu bytes", out->cap);
  }
  return 0;
}
