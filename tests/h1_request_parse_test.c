/* Tests for http/h1_request_parse: request heads, framing fields, limits,
 * and the prefix property (every prefix of a valid head is incomplete). */
#include "http/h1_request_parse.h"

#include "base/buf.h"

#include <stdio.h>

#include "harness.h"

#define FIELDS 16

typedef struct parsed {
  ptrdiff_t r;
  hl_h1_parsed_request req;
  hl_h1_field fields[FIELDS];
  void *guard;
  size_t len;
} parsed;

/* parse runs the parser on a copy of |s| that ends at a PROT_NONE page. */
static ptrdiff_t parse_lim(parsed *p, const char *s, size_t len, const hl_h1_limits *lim) {
  p->guard = hl_test_guard(s, len);
  p->len = len;
  p->r = hl_h1_request_parse(p->guard, len, lim, &p->req, p->fields, FIELDS);
  return p->r;
}

static ptrdiff_t parse(parsed *p, const char *s) {
  hl_h1_limits lim = hl_h1_limits_default();
  return parse_lim(p, s, strlen(s), &lim);
}

static void done(parsed *p) {
  hl_test_guard_free(p->guard, p->len);
}

static void expect_invalid(const char *s, const char *why) {
  parsed p;
  ASSERT_EQ(parse(&p, s), HL_INVALID);
  ASSERT_CONTAINS(p.req.error, why);
  done(&p);
}

TEST(get_with_fields) {
  parsed p;
  const char *s = "GET /hooks/a?x=1 HTTP/1.1\r\nHost: sink\r\nX-Empty:\r\n"
                  "X-Pad: \t v a l \t\r\n\r\nnext";
  ASSERT_EQ(parse(&p, s), (ptrdiff_t)strlen(s) - 4);
  ASSERT_SPAN_EQ(p.req.method, "GET");
  ASSERT_SPAN_EQ(p.req.target, "/hooks/a?x=1");
  ASSERT_EQ(p.req.minor_version, 1);
  ASSERT_EQ(p.req.fields_n, 3);
  ASSERT_SPAN_EQ(p.req.fields[0].name, "Host");
  ASSERT_SPAN_EQ(p.req.fields[0].value, "sink");
  ASSERT_SPAN_EQ(p.req.fields[1].value, "");
  ASSERT_SPAN_EQ(p.req.fields[2].value, "v a l");
  ASSERT_SPAN_EQ(hl_h1_request_field(&p.req, HL_SPAN_LIT("x-pad")), "v a l");
  ASSERT_TRUE(hl_h1_request_field(&p.req, HL_SPAN_LIT("nope")).ptr == NULL);
  ASSERT_EQ(p.req.body, HL_H1_BODY_NONE);
  ASSERT_TRUE(p.req.keep_alive);
  ASSERT_FALSE(p.req.expect_continue);
  done(&p);
}

TEST(bare_lf_lines_are_accepted) {
  parsed p;
  ASSERT_EQ(parse(&p, "GET / HTTP/1.1\nHost: x\n\n"), 24);
  ASSERT_SPAN_EQ(p.req.fields[0].value, "x");
  done(&p);
}

TEST(keep_alive_rules) {
  parsed p;
  parse(&p, "GET / HTTP/1.0\r\n\r\n");
  ASSERT_FALSE(p.req.keep_alive);
  done(&p);
  parse(&p, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_TRUE(p.req.keep_alive);
  done(&p);
  parse(&p, "GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n");
  ASSERT_FALSE(p.req.keep_alive);
  done(&p);
  parse(&p, "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n");
  ASSERT_FALSE(p.req.keep_alive);
  done(&p);
}

TEST(body_framing) {
  parsed p;
  parse(&p, "POST / HTTP/1.1\r\nContent-Length: 42\r\ncontent-length: 42\r\n\r\n");
  ASSERT_EQ(p.req.body, HL_H1_BODY_LENGTH);
  ASSERT_EQ(p.req.content_length, 42);
  done(&p);
  parse(&p, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.req.body, HL_H1_BODY_LENGTH);
  ASSERT_EQ(p.req.content_length, 0);
  done(&p);
  parse(&p, "POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n");
  ASSERT_EQ(p.req.body, HL_H1_BODY_CHUNKED);
  ASSERT_TRUE(p.req.expect_continue);
  done(&p);
  expect_invalid("POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", "differ");
  expect_invalid("POST / HTTP/1.1\r\nContent-Length: 4, 4\r\n\r\n", "Content-Length");
  expect_invalid("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "Content-Length");
  expect_invalid("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                 "Content-Length");
  expect_invalid("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "chunked");
  expect_invalid("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "chunked");
  expect_invalid("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 "chunked");
  expect_invalid("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                 "both");
  expect_invalid("POST / HTTP/1.1\r\nExpect: something\r\n\r\n", "Expect");
}

TEST(bad_request_lines_fail_at_the_first_bad_byte) {
  expect_invalid("\x16\x03\x01\x02\x00", "method");
  parsed p;
  ASSERT_EQ(parse(&p, "\x16"), HL_INVALID); /* one byte of a TLS ClientHello */
  done(&p);
  expect_invalid(" GET / HTTP/1.1\r\n\r\n", "method");
  expect_invalid("GET  / HTTP/1.1\r\n\r\n", "target");
  expect_invalid("GET /a\x01 HTTP/1.1\r\n\r\n", "target");
  expect_invalid("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", "target");
  expect_invalid("GET / HTTP/2.0\r\n\r\n", "HTTP/1.0 or HTTP/1.1");
  expect_invalid("GET / HTTP/1.2\r\n\r\n", "version");
  expect_invalid("GET / HTTP/1.1 \r\n\r\n", "does not end");
  expect_invalid("GET / HTTP/1.1\r\r\n\r\n", "does not end");
  expect_invalid("GET / HTTP/1.1\r\nHost : x\r\n\r\n", "whitespace");
  expect_invalid("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "obs-fold");
  expect_invalid("GET / HTTP/1.1\r\nNoColon\r\n\r\n", "colon");
  expect_invalid("GET / HTTP/1.1\r\nA: \x01\r\n\r\n", "");
}

TEST(every_prefix_of_a_valid_head_is_incomplete) {
  const char *s = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n";
  size_t n = strlen(s);
  for (size_t k = 0; k < n; k++) {
    parsed p;
    hl_h1_limits lim = hl_h1_limits_default();
    ASSERT_EQ(parse_lim(&p, s, k, &lim), HL_INCOMPLETE);
    done(&p);
  }
}

TEST(limits) {
  hl_h1_limits lim = hl_h1_limits_default();
  lim.status_line_bytes_max = 32;
  lim.header_line_bytes_max = 24;
  lim.header_bytes_max = 64;
  parsed p;
  const char *ok = "GET /0123456789 HTTP/1.1\r\n\r\n";
  ASSERT_EQ(parse_lim(&p, ok, strlen(ok), &lim), (ptrdiff_t)strlen(ok));
  done(&p);
  const char *line = "GET /0123456789012345678901234567 HTTP/1.1\r\n\r\n";
  ASSERT_EQ(parse_lim(&p, line, strlen(line), &lim), HL_INVALID);
  ASSERT_CONTAINS(p.req.error, "request line is longer");
  done(&p);
  /* Without its end in sight, it fails as soon as the limit is reached. */
  ASSERT_EQ(parse_lim(&p, line, 32, &lim), HL_INVALID);
  done(&p);
  ASSERT_EQ(parse_lim(&p, line, 31, &lim), HL_INCOMPLETE);
  done(&p);
  const char *field = "GET / HTTP/1.1\r\nX-Long: 01234567890123456789\r\n\r\n";
  ASSERT_EQ(parse_lim(&p, field, strlen(field), &lim), HL_INVALID);
  ASSERT_CONTAINS(p.req.error, "line limit");
  done(&p);
  char many[512] = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 20; i++) {
    snprintf(many + strlen(many), sizeof(many) - strlen(many), "F%d: v\r\n", i);
  }
  snprintf(many + strlen(many), sizeof(many) - strlen(many), "\r\n");
  ASSERT_EQ(parse_lim(&p, many, strlen(many), &lim), HL_INVALID);
  ASSERT_CONTAINS(p.req.error, "section limit");
  done(&p);
  lim = hl_h1_limits_default();
  ASSERT_EQ(parse_lim(&p, many, strlen(many), &lim), HL_INVALID); /* FIELDS is 16 */
  ASSERT_CONTAINS(p.req.error, "field");
  done(&p);
  lim.headers_max = 20;
  hl_h1_parsed_request req;
  hl_h1_field fields[20];
  ASSERT_EQ(hl_h1_request_parse(many, strlen(many), &lim, &req, fields, 20),
            (ptrdiff_t)strlen(many));
  ASSERT_EQ(req.fields_n, 20);
  ASSERT_SPAN_EQ(req.fields[19].name, "F19");
}

/* read_stream feeds |s| in pieces of |piece| bytes, keeping incomplete heads
 * the way a receiver does, and writes what it saw into |out|. */
static int read_stream(const char *s, size_t piece, char *out, size_t cap) {
  hl_h1_limits lim = hl_h1_limits_default();
  hl_h1_field fields[FIELDS];
  hl_h1_reader rd;
  hl_h1_reader_init(&rd, &lim, fields, FIELDS);
  hl_buf b;
  hl_buf_init(&b, out, cap);
  char keep[1024];
  size_t kept = 0, len = strlen(s);
  for (size_t off = 0; off < len;) {
    size_t n = piece < len - off ? piece : len - off;
    memcpy(keep + kept, s + off, n);
    off += n;
    const char *p = keep;
    size_t left = kept + n;
    while (left > 0) {
      hl_h1_read ev;
      ptrdiff_t r = hl_h1_reader_read(&rd, p, left, &ev);
      if (r < 0) {
        hl_buf_printf(&b, "ERR(%s)", rd.error);
        hl_buf_cstr(&b);
        return -1;
      }
      if (r == 0 && !ev.head && !ev.end) {
        break;
      }
      if (ev.head) {
        hl_buf_printf(&b, "[%.*s %.*s]", HL_SPAN_FMT(rd.req.method), HL_SPAN_FMT(rd.req.target));
      }
      hl_buf_put_span(&b, ev.body);
      if (ev.end) {
        hl_buf_put_cstr(&b, "|");
      }
      p += r;
      left -= (size_t)r;
    }
    memmove(keep, p, left);
    kept = left;
  }
  hl_buf_cstr(&b);
  return (int)kept;
}

TEST(reader_strings_pipelined_requests_together_in_any_split) {
  const char *s = "GET /a HTTP/1.1\r\n\r\n"
                  "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                  "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n"
                  "T: 1\r\n\r\n"
                  "GET /d HT";
  const char *want = "[GET /a]|[POST /b]hello|[POST /c]abcde|";
  for (size_t piece = 1; piece < strlen(s); piece++) {
    char out[512];
    ASSERT_EQ(read_stream(s, piece, out, sizeof(out)), 9); /* "GET /d HT" is kept */
    ASSERT_STR_EQ(out, want);
  }
}

TEST(reader_fails_on_bad_chunks_and_stays_failed) {
  char out[256];
  ASSERT_EQ(read_stream("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 7, out,
                        sizeof(out)),
            -1);
  ASSERT_CONTAINS(out, "ERR(");
  hl_h1_limits lim = hl_h1_limits_default();
  hl_h1_field fields[FIELDS];
  hl_h1_reader rd;
  hl_h1_reader_init(&rd, &lim, fields, FIELDS);
  hl_h1_read ev;
  ASSERT_EQ(hl_h1_reader_read(&rd, "\x16\x03\x01", 3, &ev), HL_INVALID);
  ASSERT_EQ(hl_h1_reader_read(&rd, "GET / HTTP/1.1\r\n\r\n", 18, &ev), HL_INVALID);
  ASSERT_FALSE(hl_h1_reader_in_body(&rd));
}
