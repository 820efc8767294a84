/* Tests for http/h1_request: the exact bytes of written heads, the body
 * handed over without a copy, and every validation error with its message,
 * header injection attempts included. */
#include "http/h1_request.h"

#include <errno.h>
#include <stdio.h>

#include "base/assert.h"
#include "base/limits.h"
#include "harness.h"

static char mem[4096];

/* write_req writes |req| into a fresh buffer and returns the rc. */
static int write_req(const hl_h1_request *req, hl_buf *b, struct iovec iov[2], hl_err *err) {
  hl_buf_init(b, mem, sizeof(mem));
  err->msg[0] = '\0';
  return hl_h1_request_write(req, b, iov, err);
}

/* expect_head: |req| is written, as |head| exactly unless it is NULL. */
static void expect_head(const hl_h1_request *req, const char *head, int line) {
  hl_buf b;
  struct iovec iov[2];
  hl_err err;
  int rc = write_req(req, &b, iov, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, line, "write failed: %s", err.msg);
  }
  if (head != NULL) {
    hl_test_assert_mem(__FILE__, line, "head", "expected", iov[0].iov_base, iov[0].iov_len, head,
                       strlen(head));
  }
  ASSERT_EQ(iov[0].iov_len, b.len);
  /* The body is the caller's memory, not a copy. */
  ASSERT_TRUE(iov[1].iov_base == (void *)req->body.ptr);
  ASSERT_EQ(iov[1].iov_len, req->body.len);
}
#define EXPECT_HEAD(req, head) expect_head((req), (head), __LINE__)

static void expect_error(const hl_h1_request *req, int code, const char *msg, int line) {
  hl_buf b;
  struct iovec iov[2];
  hl_err err;
  int rc = write_req(req, &b, iov, &err);
  if (rc != code) {
    hl_test_fail(__FILE__, line, "expected rc %d, got %d (%s)", code, rc, err.msg);
  }
  hl_test_assert_mem(__FILE__, line, "err.msg", "msg", err.msg, strlen(err.msg), msg, strlen(msg));
  ASSERT_EQ(b.len, 0); /* nothing written */
  ASSERT_FALSE(b.err);
}
#define EXPECT_ERROR(req, msg) expect_error((req), -EINVAL, (msg), __LINE__)

#define EXPECT_OK(req) expect_head((req), NULL, __LINE__)

static hl_h1_request post(void) {
  return (hl_h1_request){
      .method = HL_HTTP_POST,
      .host = HL_SPAN_LIT("hooks.example.com"),
      .tls = true,
      .target = HL_SPAN_LIT("/in/lead?src=hl"),
      .body = HL_SPAN_LIT("{\"a\":1}"),
  };
}

TEST(post_with_body) {
  hl_h1_request r = post();
  EXPECT_HEAD(&r, "POST /in/lead?src=hl HTTP/1.1\r\n"
                  "Host: hooks.example.com\r\n"
                  "User-Agent: hookline/" HL_VERSION "\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: 7\r\n"
                  "\r\n");
}

TEST(methods_and_content_length) {
  hl_h1_request r = post();
  r.body = HL_SPAN_NULL;
  r.method = HL_HTTP_PUT;
  EXPECT_HEAD(&r, "PUT /in/lead?src=hl HTTP/1.1\r\nHost: hooks.example.com\r\n"
                  "User-Agent: hookline/" HL_VERSION "\r\nContent-Length: 0\r\n\r\n");
  r.method = HL_HTTP_PATCH;
  EXPECT_HEAD(&r, "PATCH /in/lead?src=hl HTTP/1.1\r\nHost: hooks.example.com\r\n"
                  "User-Agent: hookline/" HL_VERSION "\r\nContent-Length: 0\r\n\r\n");
  r.method = HL_HTTP_POST;
  EXPECT_HEAD(&r, "POST /in/lead?src=hl HTTP/1.1\r\nHost: hooks.example.com\r\n"
                  "User-Agent: hookline/" HL_VERSION "\r\nContent-Length: 0\r\n\r\n");
  r.method = HL_HTTP_GET;
  r.target = HL_SPAN_LIT("/");
  EXPECT_HEAD(&r, "GET / HTTP/1.1\r\nHost: hooks.example.com\r\n"
                  "User-Agent: hookline/" HL_VERSION "\r\n\r\n");
  r.method = HL_HTTP_DELETE;
  EXPECT_HEAD(&r, "DELETE / HTTP/1.1\r\nHost: hooks.example.com\r\n"
                  "User-Agent: hookline/" HL_VERSION "\r\n\r\n");
  /* A body on DELETE is framed like any other. */
  r.body = HL_SPAN_LIT("x");
  EXPECT_HEAD(&r, "DELETE / HTTP/1.1\r\nHost: hooks.example.com\r\n"
                  "User-Agent: hookline/" HL_VERSION "\r\nContent-Type: application/json\r\n"
                  "Content-Length: 1\r\n\r\n");
  ASSERT_STR_EQ(hl_http_method_name(HL_HTTP_PATCH), "PATCH");
  ASSERT_TRUE(hl_http_method_name(HL_HTTP_METHOD_COUNT_) == NULL);
  r.method = (hl_http_method)7;
  EXPECT_ERROR(&r, "request method: unknown method 7");
}

TEST(host_and_port) {
  hl_h1_request r = {.method = HL_HTTP_GET, .host = HL_SPAN_LIT("a.b"), .target = HL_SPAN_LIT("/")};
  const char *ua = "User-Agent: hookline/" HL_VERSION "\r\n\r\n";
  char expect[256];
  struct {
    bool tls;
    uint16_t port;
    const char *host;
    const char *line;
  } cases[] = {
      {false, 0, "a.b", "Host: a.b\r\n"},
      {false, 80, "a.b", "Host: a.b\r\n"},
      {true, 443, "a.b", "Host: a.b\r\n"},
      {true, 80, "a.b", "Host: a.b:80\r\n"},
      {false, 443, "a.b", "Host: a.b:443\r\n"},
      {true, 8443, "a.b", "Host: a.b:8443\r\n"},
      {false, 65535, "10.0.0.1", "Host: 10.0.0.1:65535\r\n"},
      {true, 0, "::1", "Host: [::1]\r\n"},
      {false, 8080, "2001:db8::1", "Host: [2001:db8::1]:8080\r\n"},
      {true, 0, "::ffff:192.0.2.1", "Host: [::ffff:192.0.2.1]\r\n"},
      {true, 0, "My-Host_1.example~x", "Host: My-Host_1.example~x\r\n"},
  };
  for (size_t k = 0; k < HL_ARRAY_LEN(cases); k++) {
    r.tls = cases[k].tls;
    r.port = cases[k].port;
    r.host = hl_span_cstr(cases[k].host);
    hl_buf b;
    hl_buf_init(&b, expect, sizeof(expect));
    hl_buf_put_cstr(&b, "GET / HTTP/1.1\r\n");
    hl_buf_put_cstr(&b, cases[k].line);
    hl_buf_put_cstr(&b, ua);
    hl_buf_cstr(&b);
    EXPECT_HEAD(&r, expect);
  }
}

TEST(connection_close_and_caller_headers) {
  hl_h1_header h[] = {
      {HL_SPAN_LIT("webhook-id"), HL_SPAN_LIT("msg_2x")},
      {HL_SPAN_LIT("Authorization"), HL_SPAN_LIT("Bearer t0k")},
      {HL_SPAN_LIT("X-Empty"), HL_SPAN_LIT("")},
      {HL_SPAN_LIT("X-Tab"), HL_SPAN_LIT("a\tb Caf\xc3\xa9")},
  };
  hl_h1_request r = post();
  r.headers = h;
  r.headers_len = HL_ARRAY_LEN(h);
  r.close = true;
  EXPECT_HEAD(&r, "POST /in/lead?src=hl HTTP/1.1\r\n"
                  "Host: hooks.example.com\r\n"
                  "User-Agent: hookline/" HL_VERSION "\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: 7\r\n"
                  "Connection: close\r\n"
                  "webhook-id: msg_2x\r\n"
                  "Authorization: Bearer t0k\r\n"
                  "X-Empty: \r\n"
                  "X-Tab: a\tb Caf\xc3\xa9\r\n"
                  "\r\n");
}

TEST(caller_user_agent_and_content_type_replace_the_defaults) {
  hl_h1_header h[] = {
      {HL_SPAN_LIT("content-type"), HL_SPAN_LIT("application/x-www-form-urlencoded")},
      {HL_SPAN_LIT("USER-AGENT"), HL_SPAN_LIT("Acme/2")},
  };
  hl_h1_request r = post();
  r.body = HL_SPAN_LIT("a=1");
  r.headers = h;
  r.headers_len = 2;
  EXPECT_HEAD(&r, "POST /in/lead?src=hl HTTP/1.1\r\n"
                  "Host: hooks.example.com\r\n"
                  "Content-Length: 3\r\n"
                  "content-type: application/x-www-form-urlencoded\r\n"
                  "USER-AGENT: Acme/2\r\n"
                  "\r\n");
  hl_h1_header twice[] = {
      {HL_SPAN_LIT("User-Agent"), HL_SPAN_LIT("a")},
      {HL_SPAN_LIT("user-agent"), HL_SPAN_LIT("b")},
  };
  r.headers = twice;
  EXPECT_ERROR(&r, "header \"user-agent\": given twice");
  hl_h1_header ct_twice[] = {
      {HL_SPAN_LIT("Content-Type"), HL_SPAN_LIT("a/b")},
      {HL_SPAN_LIT("Content-Type"), HL_SPAN_LIT("a/b")},
  };
  r.headers = ct_twice;
  EXPECT_ERROR(&r, "header \"Content-Type\": given twice");
}

TEST(client_owned_headers_are_refused) {
  static const char *const owned[] = {
      "Host",    "content-length", "Transfer-Encoding", "CONNECTION",          "Upgrade", "TE",
      "Trailer", "Expect",         "Keep-Alive",        "Proxy-Authorization", "proxy-connection",
  };
  hl_h1_request r = post();
  char msg[256];
  for (size_t k = 0; k < HL_ARRAY_LEN(owned); k++) {
    hl_h1_header h = {hl_span_cstr(owned[k]), HL_SPAN_LIT("x")};
    r.headers = &h;
    r.headers_len = 1;
    snprintf(msg, sizeof(msg), "header \"%s\": set by the client itself; remove it from the headers",
             owned[k]);
    EXPECT_ERROR(&r, msg);
  }
  /* Names that only look alike are fine. */
  hl_h1_header ok[] = {{HL_SPAN_LIT("X-Host"), HL_SPAN_LIT("x")},
                       {HL_SPAN_LIT("Proxy"), HL_SPAN_LIT("x")},
                       {HL_SPAN_LIT("Tee"), HL_SPAN_LIT("x")}};
  r.headers = ok;
  r.headers_len = 3;
  EXPECT_OK(&r);
}

TEST(header_injection_is_refused) {
  hl_h1_request r = post();
  static const struct {
    hl_span value;
    size_t at;
  } bad[] = {
      {HL_SPAN_LIT("a\r\nInjected: 1"), 1}, {HL_SPAN_LIT("a\nInjected: 1"), 1},
      {HL_SPAN_LIT("abc\r"), 3},             {{"a\0b", 3}, 1},
      {HL_SPAN_LIT("\x7f"), 0},              {HL_SPAN_LIT("\x1b[31m"), 0},
      {HL_SPAN_LIT("0123456789abcdef0123456789\n"), 26},
  };
  hl_h1_header h = {HL_SPAN_LIT("X-Lead"), HL_SPAN_NULL};
  r.headers = &h;
  r.headers_len = 1;
  char msg[128];
  for (size_t k = 0; k < HL_ARRAY_LEN(bad); k++) {
    h.value = bad[k].value;
    snprintf(msg, sizeof(msg),
             "header \"X-Lead\": value contains CR, LF, NUL or another control character at "
             "byte %zu",
             bad[k].at);
    EXPECT_ERROR(&r, msg);
  }
  /* In the name: never printed, only located. */
  h = (hl_h1_header){HL_SPAN_LIT("X-A\r\nInjected"), HL_SPAN_LIT("1")};
  EXPECT_ERROR(&r, "header 0: name is not an HTTP token (invalid character at byte 3)");
  h = (hl_h1_header){HL_SPAN_LIT("X A"), HL_SPAN_LIT("1")};
  EXPECT_ERROR(&r, "header 0: name is not an HTTP token (invalid character at byte 1)");
  h = (hl_h1_header){HL_SPAN_LIT("X-A:"), HL_SPAN_LIT("1")};
  EXPECT_ERROR(&r, "header 0: name is not an HTTP token (invalid character at byte 3)");
  h = (hl_h1_header){HL_SPAN_LIT(""), HL_SPAN_LIT("1")};
  EXPECT_ERROR(&r, "header 0: empty name");
}

TEST(errors_never_show_values) {
  hl_h1_request r = post();
  hl_h1_header h[] = {{HL_SPAN_LIT("X-Ok"), HL_SPAN_LIT("fine")},
                      {HL_SPAN_LIT("Authorization"), HL_SPAN_LIT("Bearer s3cr3t\r\n")}};
  r.headers = h;
  r.headers_len = 2;
  hl_buf b;
  struct iovec iov[2];
  hl_err err;
  ASSERT_EQ(write_req(&r, &b, iov, &err), -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "s3cr3t") == NULL);
  ASSERT_TRUE(strstr(err.msg, "Authorization") != NULL);
}

TEST(header_bounds) {
  static hl_h1_header many[HL_HTTP_REQUEST_HEADERS_MAX + 1];
  for (size_t k = 0; k < HL_ARRAY_LEN(many); k++) {
    many[k] = (hl_h1_header){HL_SPAN_LIT("X"), HL_SPAN_LIT("1")};
  }
  hl_h1_request r = post();
  r.headers = many;
  r.headers_len = HL_HTTP_REQUEST_HEADERS_MAX;
  EXPECT_OK(&r);
  r.headers_len = HL_HTTP_REQUEST_HEADERS_MAX + 1;
  EXPECT_ERROR(&r, "headers: 65 given, more than HL_HTTP_REQUEST_HEADERS_MAX (64)");

  static char big[HL_HTTP_HEADER_VALUE_BYTES_MAX + 1];
  memset(big, 'v', sizeof(big));
  static char head_mem[2 * HL_HTTP_HEADER_VALUE_BYTES_MAX];
  hl_h1_header h = {HL_SPAN_LIT("X-Big"), hl_span_make(big, HL_HTTP_HEADER_VALUE_BYTES_MAX)};
  r.headers = &h;
  r.headers_len = 1;
  hl_buf b;
  struct iovec iov[2];
  hl_err err;
  hl_buf_init(&b, head_mem, sizeof(head_mem));
  ASSERT_EQ(hl_h1_request_write(&r, &b, iov, &err), 0);
  h.value.len++;
  EXPECT_ERROR(&r, "header \"X-Big\": value longer than HL_HTTP_HEADER_VALUE_BYTES_MAX (8192 bytes)");
  h = (hl_h1_header){hl_span_make(big, HL_HTTP_HEADER_NAME_BYTES_MAX + 1), HL_SPAN_LIT("1")};
  EXPECT_ERROR(&r, "header 0: name longer than HL_HTTP_HEADER_NAME_BYTES_MAX (256 bytes)");
}

TEST(bad_targets) {
  hl_h1_request r = post();
  static const char *const bad[] = {"/a b", "/a\tb", "/a\r\nX: 1", "/\x7f", "/caf\xc3\xa9",
                                    "/a#frag"};
  for (size_t k = 0; k < HL_ARRAY_LEN(bad); k++) {
    r.target = hl_span_cstr(bad[k]);
    hl_buf b;
    struct iovec iov[2];
    hl_err err;
    ASSERT_EQ(write_req(&r, &b, iov, &err), -EINVAL);
    ASSERT_TRUE(strstr(err.msg, "request target: invalid character at byte") == err.msg);
  }
  r.target = HL_SPAN_LIT("/a b");
  EXPECT_ERROR(&r, "request target: invalid character at byte 2 (spaces, control characters, "
                   "'#' and non-ASCII bytes must be percent-encoded)");
  r.target = HL_SPAN_LIT("a");
  EXPECT_ERROR(&r, "request target: must start with '/'");
  r.target = HL_SPAN_NULL;
  EXPECT_ERROR(&r, "request target: must start with '/'");
  r.target = HL_SPAN_LIT("*");
  EXPECT_ERROR(&r, "request target: must start with '/'");
  r.target = HL_SPAN_LIT("/a-._~!$&'()*+,;=:@%20/?q=1&r=/x?");
  EXPECT_OK(&r);
}

TEST(bad_hosts) {
  hl_h1_request r = post();
  r.host = HL_SPAN_NULL;
  EXPECT_ERROR(&r, "request host: empty");
  r.host = HL_SPAN_LIT("a/b");
  EXPECT_ERROR(&r, "request host: invalid character at byte 1");
  r.host = HL_SPAN_LIT("user@host");
  EXPECT_ERROR(&r, "request host: invalid character at byte 4");
  r.host = HL_SPAN_LIT("a b");
  EXPECT_ERROR(&r, "request host: invalid character at byte 1");
  r.host = HL_SPAN_LIT("evil\r\nX-Y");
  EXPECT_ERROR(&r, "request host: invalid character at byte 4");
  r.host = HL_SPAN_LIT("evil\r\nX: 1");
  EXPECT_ERROR(&r, "request host: invalid character at byte 1 (a host with ':' must be an IPv6 "
                   "literal, without brackets)");
  r.host = HL_SPAN_LIT("[::1]");
  EXPECT_ERROR(&r, "request host: invalid character at byte 0 (a host with ':' must be an IPv6 "
                   "literal, without brackets)");
  r.host = HL_SPAN_LIT("host:80");
  EXPECT_ERROR(&r, "request host: invalid character at byte 0 (a host with ':' must be an IPv6 "
                   "literal, without brackets)");
  static char longname[HL_HOST_BYTES_MAX + 1];
  memset(longname, 'a', sizeof(longname));
  r.host = hl_span_make(longname, sizeof(longname));
  EXPECT_ERROR(&r, "request host: longer than HL_HOST_BYTES_MAX (253 bytes)");
}

TEST(buffer_too_small_leaves_it_untouched) {
  hl_h1_request r = post();
  char small[64];
  hl_buf b;
  hl_buf_init(&b, small, sizeof(small));
  hl_buf_put_cstr(&b, "prefix");
  struct iovec iov[2];
  hl_err err;
  ASSERT_EQ(hl_h1_request_write(&r, &b, iov, &err), -ENOSPC);
  ASSERT_STR_EQ(err.msg, "request head: does not fit in its buffer (64 bytes)");
  ASSERT_EQ(b.len, 6);
  ASSERT_FALSE(b.err);
  /* Appending after existing bytes: iov[0] covers only the head. */
  char roomy[512];
  hl_buf_init(&b, roomy, sizeof(roomy));
  hl_buf_put_cstr(&b, "prefix");
  ASSERT_EQ(hl_h1_request_write(&r, &b, iov, &err), 0);
  ASSERT_TRUE(iov[0].iov_base == roomy + 6);
  ASSERT_EQ(iov[0].iov_len, b.len - 6);
  ASSERT_TRUE(memcmp(iov[0].iov_base, "POST ", 5) == 0);
}
