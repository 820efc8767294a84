/* url: the webhook URL parser, its normalised forms, and the URL
 * percent-codec.
 *
 * hl_url_parse splits `scheme://user:pass@host:port/path?query#frag` into
 * spans that point into the caller's bytes: it neither allocates nor copies,
 * so the input must outlive the hl_url. It is deliberately stricter than
 * RFC 3986 and WHATWG where leniency has been used to smuggle requests to
 * places they should not go: only http and https; no control bytes, spaces
 * or backslashes anywhere; host names of letters, digits, '-' and '.' only;
 * IPv4 only in strict dotted-quad form (a host whose last label is a number
 * must be one, so `127.1`, `0x7f.0.0.1`, `017.0.0.1` and `2130706433` are
 * refused rather than read the way some resolver might); IPv6 only in
 * brackets and without zone ids. Errors say what was wrong and, for bad
 * bytes, at which offset; they never quote the user name or password.
 *
 * Accepted in the path, query and fragment: every printable ASCII byte
 * except '\' (and '#', '?' where they end a part), with '%' only as a
 * valid %XX escape. That is wider than RFC 3986's pchar on purpose: raw
 * '[', ']', '|', '{', '}' are common in real webhook query strings and
 * endpoint URLs may carry template placeholders; none of them can break
 * HTTP framing. Bytes >= 0x80 must be percent-encoded.
 *
 * The module owns URL text only: it does no I/O, no DNS and no policy
 * (engine/io/netpolicy decides which hosts may be reached). */
#ifndef HL_TEXT_URL_H
#define HL_TEXT_URL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/span.h"

typedef enum hl_url_scheme {
  HL_URL_HTTP = 1,
  HL_URL_HTTPS = 2,
} hl_url_scheme;

typedef enum hl_host_kind {
  HL_HOST_NAME = 0, /* a registered name, resolved through DNS */
  HL_HOST_IPV4 = 4, /* a strict dotted quad; addr[0..3] */
  HL_HOST_IPV6 = 6, /* a bracketed literal; addr[0..15] */
} hl_host_kind;

typedef struct hl_host {
  hl_host_kind kind;
  /* The host as written (case preserved), without brackets and without a
   * trailing dot. */
  hl_span name;
  /* Network byte order; meaningful for the two literal kinds only. */
  uint8_t addr[16];
} hl_host;

typedef struct hl_url {
  hl_url_scheme scheme;
  hl_host host;
  uint16_t port;      /* always set: explicit, or 80 / 443 */
  bool port_explicit; /* the URL spelled a port (possibly the default) */
  /* user and password are raw (still percent-encoded); decode them with
   * hl_url_decode_component before building Basic auth. */
  bool has_userinfo; /* an '@' was present; user may still be empty */
  bool has_password; /* a ':' was present in the userinfo */
  bool has_query;    /* a '?' was present; query may still be empty */
  bool has_fragment; /* a '#' was present; the fragment is never sent */
  hl_span user;
  hl_span password;
  hl_span path; /* "" or starts with '/'; raw */
  hl_span query;
  hl_span fragment;
} hl_url;

/* hl_url_parse parses all of |in| into |out| (spans point into |in|).
 * Returns 0, or -EINVAL with |err| saying what is wrong (never quoting the
 * password); on failure |out| holds nothing usable. |in| is bounded by
 * HL_URL_BYTES_MAX, and so is its normalised form, so every parsed URL can
 * be written and parsed again. A port is decimal 1..65535 (leading zeros
 * allowed, the value is what counts). */
int hl_url_parse(hl_span in, hl_url *out, hl_err *err);

/* hl_url_default_port returns 80 or 443. */
uint16_t hl_url_default_port(hl_url_scheme scheme);

/* hl_url_write writes the normalised URL: lower-case scheme and host, no
 * trailing dot on the host, no port when it is the scheme's default, an
 * empty path written as "/", everything else (userinfo, path, query,
 * fragment, and IPv6 text, which is only lower-cased) byte for byte. The fragment is kept so that parse -> write ->
 * parse gives back every component; it is still never sent. The result
 * contains the password: store it, never log it (see
 * hl_url_write_redacted). Fits in HL_URL_BYTES_MAX bytes. */
void hl_url_write(const hl_url *u, hl_buf *out);

/* hl_url_write_redacted is hl_url_write with the whole userinfo replaced by
 * "****", for logs and error messages. */
void hl_url_write_redacted(const hl_url *u, hl_buf *out);

/* hl_url_origin writes the connection-pooling key `scheme://host:port`:
 * lower-case host, IPv6 in its canonical (RFC 5952) text in brackets, port
 * always written. Two URLs that may share a connection have equal origins. */
void hl_url_origin(const hl_url *u, hl_buf *out);

/* hl_url_request_target writes the HTTP origin-form request target:
 * path (or "/" when empty), then "?query" when the URL had a '?'. */
void hl_url_request_target(const hl_url *u, hl_buf *out);

/* hl_url_host_lower writes the host lower-cased, without brackets or
 * trailing dot: the name for DNS and TLS SNI / certificate checks. */
void hl_url_host_lower(const hl_url *u, hl_buf *out);

/* hl_url_host_header writes the Host header value: lower-case host, IPv6
 * in brackets, ":port" only when the port is not the scheme's default. */
void hl_url_host_header(const hl_url *u, hl_buf *out);

/* hl_host_parse validates a bare host (no port): a registered name, a
 * strict dotted-quad IPv4 address, or an IPv6 literal with or without
 * brackets. Returns 0 or -EINVAL with |err| set. The URL parser and the
 * network policy use it, so both read a host the same way. */
int hl_host_parse(hl_span host, hl_host *out, hl_err *err);

/* hl_ipv4_parse_strict parses exactly `a.b.c.d`, four decimal parts 0..255
 * without leading zeros. Returns NULL on success, or a short reason
 * ("has 2 parts, not 4") for an error message. */
const char *hl_ipv4_parse_strict(hl_span s, uint8_t out[4]);

/* hl_ipv6_parse parses an IPv6 address in text form (no brackets, no zone
 * id) with inet_pton. Returns true on success. */
bool hl_ipv6_parse(hl_span s, uint8_t out[16]);

/* hl_url_encode_component percent-encodes |in| for any URL context: RFC 3986
 * unreserved bytes (ALPHA DIGIT - . _ ~) are kept, every other byte becomes
 * %XX with upper-case hex. */
void hl_url_encode_component(hl_span in, hl_buf *out);

/* hl_url_decode_component decodes %XX escapes (either hex case) and copies
 * every other byte as it is ('+' stays '+'). Returns 0, -EINVAL with |err|
 * set for a '%' not followed by two hex digits, or -ENOSPC if |out| is full.
 * The error names the offset, never the text (it may be a password). */
int hl_url_decode_component(hl_span in, hl_buf *out, hl_err *err);

#endif
