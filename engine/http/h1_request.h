/* h1_request: writes an HTTP/1.1 request head.
 *
 * It owns the request's framing and the headers the client controls: the
 * request line, Host, User-Agent, Content-Type, Content-Length and
 * Connection. Caller headers (the endpoint's, the signature's) are validated
 * and written after them; a header that would let a caller change the
 * framing or the connection (Host, Content-Length, Transfer-Encoding,
 * Connection, Upgrade, TE, Trailer, Expect, Keep-Alive, Proxy-*) is refused.
 * The body is never copied: the writer returns the head and the body as two
 * iovecs for one writev() / SSL_write pass. No I/O, no allocation.
 *
 * Exact output, in this order (CR LF after each line):
 *   METHOD target HTTP/1.1
 *   Host: host[:port]            (port only when not the scheme's default;
 *                                 IPv6 literals in brackets)
 *   User-Agent: hookline/<HL_VERSION>   (unless the caller gives one)
 *   Content-Type: application/json      (when there is a body, unless the
 *                                        caller gives one)
 *   Content-Length: N            (always for POST, PUT and PATCH; for GET and
 *                                 DELETE only with a body)
 *   Connection: close            (only when asked)
 *   caller headers, in the caller's order
 *   (empty line) */
#ifndef HL_HTTP_H1_REQUEST_H
#define HL_HTTP_H1_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/span.h"

typedef enum hl_http_method {
  HL_HTTP_GET,
  HL_HTTP_POST,
  HL_HTTP_PUT,
  HL_HTTP_PATCH,
  HL_HTTP_DELETE,
  HL_HTTP_METHOD_COUNT_
} hl_http_method;

/* hl_http_method_name: "GET", "POST", ... or NULL outside the enum. */
const char *hl_http_method_name(hl_http_method m);

typedef struct hl_h1_header {
  hl_span name;
  hl_span value;
} hl_h1_header;

typedef struct hl_h1_request {
  hl_http_method method;
  hl_span host;  /* name or IP literal; IPv6 without brackets ("::1") */
  uint16_t port; /* 0: the scheme's default */
  bool tls;      /* https: default port 443, else 80 */
  hl_span target; /* origin-form: "/path?query" */
  const hl_h1_header *headers;
  size_t headers_len;
  hl_span body; /* sent as it is, never copied; may be empty */
  bool close;   /* ask the server to close after the response */
} hl_h1_request;

/* hl_h1_request_write validates |req| and appends its head to |head|. On
 * success it returns 0 and sets iov[0] to the head (the bytes appended) and
 * iov[1] to the body (iov_len 0 when there is none). On failure |head| is
 * left as it was and |err| says which field is wrong (never a header's
 * value): -EINVAL for invalid input, -ENOSPC when the head does not fit. */
int hl_h1_request_write(const hl_h1_request *req, hl_buf *head, struct iovec iov[2], hl_err *err);

#endif
