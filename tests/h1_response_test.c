/* Tests for http/h1_response: framing, interim responses, keep-alive, every
 * error class with tiny limits, Retry-After. Every input is also checked for
 * split invariance: parsed all at once, byte by byte and in random pieces,
 * each piece placed right before a PROT_NONE page, it must give the same
 * status, fields, body, completion and error. */
#include "http/h1_response.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/assert.h"
#include "base/err.h"
#include "harness.h"

#define BODY_CAP 16384

typedef struct opts {
  const hl_h1_limits *limits;
  bool head;
  bool eof; /* the server closes after the input */
} opts;

typedef struct result {
  hl_h1_error err;
  int headers_events;
  bool done;
  bool reusable;
  uint64_t body_bytes;
  size_t consumed;
  hl_h1_response resp;
  size_t body_len;
  char body[BODY_CAP];
} result;

static const hl_h1_limits *default_limits(void) {
  static hl_h1_limits l;
  l = hl_h1_limits_default();
  return &l;
}

/* feed gives one piece to the parser, as a connection would. */
static void feed(hl_h1_parser *p, const char *piece, size_t len, result *r) {
  while (r->err == HL_H1_OK) {
    hl_h1_event ev;
    ptrdiff_t n = hl_h1_parse(p, piece, len, &ev);
    if (n < 0) {
      r->err = hl_h1_parser_error(p);
      ASSERT_NE(r->err, HL_H1_OK);
      ASSERT_TRUE(hl_h1_parser_error_detail(p)[0] != '\0');
      ASSERT_FALSE(hl_h1_parser_reusable(p));
      return;
    }
    ASSERT_LE((size_t)n, len);
    const char *before = piece;
    piece += n;
    len -= (size_t)n;
    r->consumed += (size_t)n;
    switch (ev.type) {
      case HL_H1_EV_NONE:
        ASSERT_EQ(len, 0);
        return;
      case HL_H1_EV_HEADERS:
        r->headers_events++;
        ASSERT_FALSE(r->done);
        break;
      case HL_H1_EV_BODY:
        ASSERT_EQ(r->headers_events, 1);
        ASSERT_GT(ev.body.len, 0);
        /* Body spans lie inside this call's consumed input. */
        ASSERT_TRUE(ev.body.ptr >= before && ev.body.ptr + ev.body.len <= piece);
        ASSERT_LE(r->body_len + ev.body.len, sizeof(r->body));
        memcpy(r->body + r->body_len, ev.body.ptr, ev.body.len);
        r->body_len += ev.body.len;
        break;
      case HL_H1_EV_DONE:
        ASSERT_EQ(r->headers_events, 1);
        ASSERT_FALSE(r->done);
        r->done = true;
        break;
    }
  }
}

/* run parses |in| cut into pieces of the given lengths. */
static void run(const char *in, size_t len, const opts *o, const size_t *pieces, size_t npieces,
                result *r) {
  memset(r, 0, sizeof(*r));
  hl_h1_parser p;
  hl_h1_parser_init(&p, o->limits != NULL ? o->limits : default_limits(), o->head);
  size_t off = 0;
  for (size_t k = 0; k < npieces && r->err == HL_H1_OK; k++) {
    char *g = hl_test_guard(in + off, pieces[k]);
    feed(&p, g, pieces[k], r);
    hl_test_guard_free(g, pieces[k]);
    off += pieces[k];
  }
  if (r->err == HL_H1_OK && o->eof) {
    hl_h1_event ev;
    if (hl_h1_parse_eof(&p, &ev) < 0) {
      r->err = hl_h1_parser_error(&p);
    } else if (ev.type == HL_H1_EV_DONE) {
      ASSERT_FALSE(r->done);
      r->done = true;
    }
  }
  r->reusable = hl_h1_parser_reusable(&p);
  r->body_bytes = hl_h1_parser_body_bytes(&p);
  r->resp = *hl_h1_parser_response(&p);
  ASSERT_TRUE(off == len || r->err != HL_H1_OK);
  ASSERT_EQ(r->done, hl_h1_parser_done(&p) || (r->err == HL_H1_ERR_EXTRA_DATA));
  if (r->done && r->err == HL_H1_OK) {
    ASSERT_EQ(r->body_bytes, r->body_len);
  }
}

static void assert_same(const result *a, const result *b, const char *how) {
  if (a->err != b->err || a->headers_events != b->headers_events || a->done != b->done ||
      a->reusable != b->reusable || a->body_len != b->body_len ||
      memcmp(a->body, b->body, a->body_len) != 0 || a->resp.status != b->resp.status ||
      a->resp.version_minor != b->resp.version_minor || a->resp.framing != b->resp.framing ||
      a->resp.keep_alive != b->resp.keep_alive ||
      a->resp.has_content_length != b->resp.has_content_length ||
      a->resp.content_length != b->resp.content_length ||
      a->resp.has_transfer_encoding != b->resp.has_transfer_encoding ||
      a->resp.conn_close != b->resp.conn_close ||
      a->resp.conn_keep_alive != b->resp.conn_keep_alive ||
      !hl_span_eq(hl_h1_response_reason(&a->resp), hl_h1_response_reason(&b->resp)) ||
      !hl_span_eq(hl_h1_response_content_type(&a->resp), hl_h1_response_content_type(&b->resp)) ||
      !hl_span_eq(hl_h1_response_location(&a->resp), hl_h1_response_location(&b->resp)) ||
      !hl_span_eq(hl_h1_response_retry_after(&a->resp), hl_h1_response_retry_after(&b->resp))) {
    hl_test_fail(__FILE__, __LINE__,
                 "split %s differs from whole: err %s/%s headers %d/%d done %d/%d body %zu/%zu "
                 "status %u/%u",
                 how, hl_h1_error_name(a->err), hl_h1_error_name(b->err), a->headers_events,
                 b->headers_events, a->done, b->done, a->body_len, b->body_len, a->resp.status,
                 b->resp.status);
  }
}

/* check parses |in| whole, byte by byte and in random pieces, asserts that
 * all agree, and returns the whole-input result. */
static const result *check(const char *in, size_t len, const opts *o) {
  static result whole, other;
  static size_t pieces[70000];
  static const opts none = {0};
  if (o == NULL) {
    o = &none;
  }
  HL_ASSERT(len < HL_ARRAY_LEN(pieces));
  pieces[0] = len;
  run(in, len, o, pieces, 1, &whole);
  for (size_t k = 0; k < len; k++) {
    pieces[k] = 1;
  }
  run(in, len, o, pieces, len, &other);
  assert_same(&whole, &other, "byte by byte");
  for (int trial = 0; trial < 8; trial++) {
    size_t n = 0, off = 0;
    while (off < len) {
      size_t piece = 1 + hl_test_rand() % (trial < 4 ? 8 : 64);
      if (piece > len - off) {
        piece = len - off;
      }
      pieces[n++] = piece;
      off += piece;
    }
    run(in, len, o, pieces, n, &other);
    assert_same(&whole, &other, "random");
  }
  /* Every two-piece split too: the cut lands on every state boundary. */
  for (size_t cut = 1; cut < len && len < 2048; cut++) {
    pieces[0] = cut;
    pieces[1] = len - cut;
    run(in, len, o, pieces, 2, &other);
    assert_same(&whole, &other, "in two");
  }
  return &whole;
}

#define CHECK(lit, o) check((lit), sizeof(lit) - 1, (o))

static const opts eof_opts = {.eof = true};

/* --- framing ----------------------------------------------------------------- */

TEST(content_length_body) {
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                          "Content-Type: application/json; charset=utf-8  \r\n\r\nhello",
                          NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  ASSERT_TRUE(r->reusable);
  ASSERT_EQ(r->resp.status, 200);
  ASSERT_EQ(r->resp.version_minor, 1);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_LENGTH);
  ASSERT_EQ(r->resp.content_length, 5);
  ASSERT_SPAN_EQ(hl_h1_response_reason(&r->resp), "OK");
  ASSERT_SPAN_EQ(hl_h1_response_content_type(&r->resp), "application/json; charset=utf-8");
  ASSERT_MEM_EQ(r->body, r->body_len, "hello", 5);
}

TEST(content_length_zero_and_missing_reason) {
  const result *r = CHECK("HTTP/1.1 202\r\nContent-Length: 0\r\n\r\n", NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  ASSERT_TRUE(r->reusable);
  ASSERT_EQ(r->resp.status, 202);
  ASSERT_EQ(r->resp.reason_len, 0);
  ASSERT_EQ(r->body_len, 0);
  r = CHECK("HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n", NULL);
  ASSERT_EQ(r->resp.status, 500);
  ASSERT_EQ(r->resp.reason_len, 0);
  ASSERT_TRUE(r->done);
}

TEST(content_length_incomplete_body_waits) {
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->headers_events, 1);
  ASSERT_FALSE(r->done);
  ASSERT_EQ(r->body_len, 5);
  ASSERT_EQ(r->consumed, 44);
}

TEST(chunked_body_with_extensions_and_trailers) {
  const result *r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n6;name=\"v;x\"\r\n world\r\nA \t; a=b\r\n0123456789\r\n"
                          "0\r\nX-Trailer: a\r\nOther: b\r\n\r\n",
                          NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  ASSERT_TRUE(r->reusable);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_CHUNKED);
  ASSERT_MEM_EQ(r->body, r->body_len, "hello world0123456789", 21);
}

TEST(chunked_is_case_insensitive_and_final_coding_wins) {
  const result *r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n"
                          "2\r\nab\r\n0\r\n\r\n",
                          NULL);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_CHUNKED);
  ASSERT_TRUE(r->done);
  ASSERT_MEM_EQ(r->body, r->body_len, "ab", 2);
  /* Several fields form one list: the last coding of the last field. */
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: ,chunked , \r\n\r\n"
            "0\r\n\r\n",
            NULL);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_CHUNKED);
  ASSERT_TRUE(r->done);
}

TEST(transfer_encoding_without_final_chunked_reads_until_close) {
  const result *r =
      CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabcdef",
            &eof_opts);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_UNTIL_CLOSE);
  ASSERT_TRUE(r->done);
  ASSERT_FALSE(r->reusable);
  ASSERT_EQ(r->body_len, 6);
  /* "chunkedx" and "chunke" are other codings. */
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\nab", &eof_opts);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_UNTIL_CLOSE);
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunke\r\n\r\nab", &eof_opts);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_UNTIL_CLOSE);
}

TEST(transfer_encoding_and_content_length_close_the_connection) {
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n"
                          "\r\n3\r\nabc\r\n0\r\n\r\n",
                          NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_CHUNKED);
  ASSERT_TRUE(r->done);
  ASSERT_FALSE(r->reusable);
  ASSERT_MEM_EQ(r->body, r->body_len, "abc", 3);
}

TEST(no_framing_reads_until_close) {
  const result *r = CHECK("HTTP/1.1 200 OK\r\nX: y\r\n\r\nsome body", &eof_opts);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_UNTIL_CLOSE);
  ASSERT_TRUE(r->done);
  ASSERT_FALSE(r->reusable);
  ASSERT_MEM_EQ(r->body, r->body_len, "some body", 9);
  /* Without the close it is not complete. */
  r = CHECK("HTTP/1.1 200 OK\r\n\r\nsome body", NULL);
  ASSERT_FALSE(r->done);
  ASSERT_EQ(r->body_len, 9);
}

TEST(head_204_304_have_no_body) {
  opts head = {.head = true};
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", &head);
  ASSERT_TRUE(r->done);
  ASSERT_TRUE(r->reusable);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_NONE);
  ASSERT_EQ(r->resp.content_length, 1000);
  ASSERT_EQ(r->body_len, 0);
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &head);
  ASSERT_TRUE(r->done);
  r = CHECK("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", NULL);
  ASSERT_TRUE(r->done);
  ASSERT_TRUE(r->reusable);
  ASSERT_EQ(r->body_len, 0);
  r = CHECK("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", NULL);
  ASSERT_TRUE(r->done);
  ASSERT_EQ(r->resp.framing, HL_H1_FRAMING_NONE);
  /* What follows a bodiless response is not its body. */
  r = CHECK("HTTP/1.1 204 No Content\r\n\r\nX", NULL);
  ASSERT_TRUE(r->done);
  ASSERT_EQ(r->err, HL_H1_ERR_EXTRA_DATA);
  ASSERT_FALSE(r->reusable);
}

TEST(interim_responses_are_skipped) {
  const result *r = CHECK("HTTP/1.1 100 Continue\r\n\r\n"
                          "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n"
                          "Content-Type: text/x-early\r\n\r\n"
                          "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nLocation: /x/1\r\n\r\nok",
                          NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->headers_events, 1);
  ASSERT_EQ(r->resp.status, 201);
  ASSERT_SPAN_EQ(hl_h1_response_reason(&r->resp), "Created");
  ASSERT_EQ(r->resp.content_type_len, 0); /* the 103's fields are gone */
  ASSERT_SPAN_EQ(hl_h1_response_location(&r->resp), "/x/1");
  ASSERT_TRUE(r->done);
  ASSERT_MEM_EQ(r->body, r->body_len, "ok", 2);
}

TEST(too_many_interim_responses) {
  hl_h1_limits l = hl_h1_limits_default();
  l.interim_responses_max = 2;
  opts o = {.limits = &l};
  const result *r = CHECK("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
                          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                          &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  r = CHECK("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            &o);
  ASSERT_EQ(r->err, HL_H1_ERR_TOO_MANY_INTERIM);
  ASSERT_EQ(r->headers_events, 0);
}

TEST(switching_protocols_is_an_error) {
  const result *r = CHECK("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", NULL);
  ASSERT_EQ(r->err, HL_H1_ERR_BAD_STATUS_LINE);
}

/* --- keep-alive ----------------------------------------------------------------- */

TEST(keep_alive_decisions) {
  const result *r = CHECK("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL);
  ASSERT_TRUE(r->done);
  ASSERT_EQ(r->resp.version_minor, 0);
  ASSERT_FALSE(r->reusable);
  r = CHECK("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", NULL);
  ASSERT_TRUE(r->resp.conn_keep_alive);
  ASSERT_TRUE(r->reusable);
  r = CHECK("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", NULL);
  ASSERT_TRUE(r->done);
  ASSERT_TRUE(r->resp.conn_close);
  ASSERT_FALSE(r->reusable);
  r = CHECK("HTTP/1.1 200 OK\r\nConnection: keep-alive, upgrade ,CLOSE\r\nContent-Length: 0\r\n\r\n",
            NULL);
  ASSERT_TRUE(r->resp.conn_close);
  ASSERT_TRUE(r->resp.conn_keep_alive);
  ASSERT_FALSE(r->reusable);
  /* Options that merely start like "close" are other options. */
  r = CHECK("HTTP/1.1 200 OK\r\nConnection: closer, clos, close;x\r\nContent-Length: 0\r\n\r\n",
            NULL);
  ASSERT_FALSE(r->resp.conn_close);
  ASSERT_TRUE(r->reusable);
  /* A higher minor version is handled as 1.1. */
  r = CHECK("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", NULL);
  ASSERT_EQ(r->resp.version_minor, 1);
  ASSERT_TRUE(r->reusable);
}

TEST(parser_is_reused_for_the_next_response) {
  hl_h1_parser p;
  const hl_h1_limits *l = default_limits();
  const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA";
  const char *b = "HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n";
  for (int k = 0; k < 2; k++) {
    const char *in = k == 0 ? a : b;
    hl_h1_parser_init(&p, l, false);
    hl_h1_event ev;
    size_t len = strlen(in);
    ptrdiff_t n = hl_h1_parse(&p, in, len, &ev);
    ASSERT_EQ(ev.type, HL_H1_EV_HEADERS);
    n += hl_h1_parse(&p, in + n, len - (size_t)n, &ev);
    if (k == 0) {
      ASSERT_EQ(ev.type, HL_H1_EV_BODY);
      n += hl_h1_parse(&p, in + n, len - (size_t)n, &ev);
    }
    ASSERT_EQ(ev.type, HL_H1_EV_DONE);
    ASSERT_EQ((size_t)n, len);
    ASSERT_TRUE(hl_h1_parser_reusable(&p));
  }
  ASSERT_EQ(hl_h1_parser_response(&p)->status, 503);
  uint32_t delay = 0;
  ASSERT_TRUE(hl_h1_parse_retry_after(hl_h1_response_retry_after(hl_h1_parser_response(&p)), 0,
                                      &delay));
  ASSERT_EQ(delay, 7);
}

/* --- fields ----------------------------------------------------------------------- */

TEST(content_length_lists_and_repeats) {
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\ncontent-length:3\r\n\r\nabc",
                          NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->resp.content_length, 3);
  ASSERT_TRUE(r->done);
  r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n1234567", NULL);
  ASSERT_EQ(r->resp.content_length, 7);
  ASSERT_TRUE(r->done);
}

TEST(bad_content_length) {
  static const char *const bad[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1.5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
  };
  for (size_t k = 0; k < HL_ARRAY_LEN(bad); k++) {
    const result *r = check(bad[k], strlen(bad[k]), NULL);
    if (r->err != HL_H1_ERR_BAD_CONTENT_LENGTH) {
      hl_test_fail(__FILE__, __LINE__, "input %zu: got %s", k, hl_h1_error_name(r->err));
    }
    ASSERT_EQ(r->headers_events, 0);
  }
  /* The largest number parses; the body limit then refuses it. */
  const result *r =
      CHECK("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nabc", NULL);
  ASSERT_EQ(r->headers_events, 1);
  ASSERT_EQ(r->resp.content_length, UINT64_MAX);
  ASSERT_EQ(r->err, HL_H1_ERR_BODY_TOO_LARGE);
  ASSERT_EQ(r->body_len, 0);
}

TEST(bad_transfer_encoding) {
  static const char *const bad[] = {
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;q=1, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding:  \r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked x\r\n\r\n",
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  for (size_t k = 0; k < HL_ARRAY_LEN(bad); k++) {
    const result *r = check(bad[k], strlen(bad[k]), NULL);
    if (r->err != HL_H1_ERR_BAD_TRANSFER_ENCODING) {
      hl_test_fail(__FILE__, __LINE__, "input %zu: got %s", k, hl_h1_error_name(r->err));
    }
  }
}

TEST(excerpts_first_field_wins_and_long_values_are_cut) {
  const result *r = CHECK("HTTP/1.1 301 Moved Permanently with a reason phrase longer than kept\r\n"
                          "content-type: text/html\r\nContent-Type: application/json\r\n"
                          "Location: https://example.com/a/very/long/path/that/goes/on/and/on/"
                          "and/on/beyond/the/one/hundred/and/twenty/eight/bytes/kept/for/the/"
                          "attempt/log/excerpt/x\r\nContent-Length: 0\r\n\r\n",
                          NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->resp.status, 301);
  ASSERT_SPAN_EQ(hl_h1_response_content_type(&r->resp), "text/html");
  /* Cut at 32 bytes, then its trailing space trimmed. */
  ASSERT_TRUE(r->resp.reason_truncated);
  ASSERT_SPAN_EQ(hl_h1_response_reason(&r->resp), "Moved Permanently with a reason");
  ASSERT_EQ(r->resp.location_len, HL_HTTP_LOCATION_EXCERPT_BYTES);
  ASSERT_TRUE(r->resp.location_truncated);
  ASSERT_TRUE(hl_span_starts_with(hl_h1_response_location(&r->resp),
                                  HL_SPAN_LIT("https://example.com/a/very/long/")));
  ASSERT_FALSE(r->resp.content_type_truncated);
}

TEST(retry_after_value_is_kept_raw) {
  const result *r = CHECK("HTTP/1.1 429 Too Many Requests\r\nRetry-After:  Sun, 06 Nov 1994 "
                          "08:49:37 GMT \t\r\nContent-Length: 0\r\n\r\n",
                          NULL);
  ASSERT_SPAN_EQ(hl_h1_response_retry_after(&r->resp), "Sun, 06 Nov 1994 08:49:37 GMT");
  /* Longer than any valid value: dropped, not cut. */
  r = CHECK("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1234567890123456789012345678901234567890"
            "1\r\nContent-Length: 0\r\n\r\n",
            NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->resp.retry_after_len, 0);
}

TEST(bare_lf_line_endings_are_accepted) {
  const result *r = CHECK("HTTP/1.1 200 OK\nContent-Length: 2\nX: y\r\n\nok", NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  ASSERT_MEM_EQ(r->body, r->body_len, "ok", 2);
  r = CHECK("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nok\n0\nT: 1\n\n", NULL);
  ASSERT_TRUE(r->done);
  ASSERT_MEM_EQ(r->body, r->body_len, "ok", 2);
}

TEST(status_codes_and_obs_text) {
  const result *r = CHECK("HTTP/1.1 999 Caf\xc3\xa9\r\nX-Opaque: \x80\xff\t!\r\nContent-Length: 0\r\n\r\n",
                          NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_EQ(r->resp.status, 999);
  ASSERT_SPAN_EQ(hl_h1_response_reason(&r->resp), "Caf\xc3\xa9");
  r = CHECK("HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n", NULL);
  ASSERT_EQ(r->resp.status, 410);
}

/* --- syntax errors ------------------------------------------------------------------ */

static void expect_error(const char *in, hl_h1_error err, const opts *o, int line) {
  const result *r = check(in, strlen(in), o);
  if (r->err != err) {
    hl_test_fail(__FILE__, line, "expected %s, got %s for \"%s\"", hl_h1_error_name(err),
                 hl_h1_error_name(r->err), in);
  }
}
#define EXPECT_ERROR(in, err, o) expect_error((in), (err), (o), __LINE__)

TEST(bad_status_lines) {
  static const char *const bad[] = {
      "HTTP/1.1 20 OK\r\n\r\n",   "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 099 X\r\n\r\n",   "http/1.1 200 OK\r\n\r\n",  "HTTP/1.1  200 OK\r\n\r\n",
      "HTTP/1.x 200 OK\r\n\r\n",  "HTTP/1.1 2O0 OK\r\n\r\n",  "HTTP/1.1 200 O\rK\r\n\r\n",
      "HTTP/1.1 200 O\x01K\r\n\r\n", "HTTP/1.1 200\tOK\r\n\r\n", "\r\nHTTP/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\r\n\r\n", "ICY 200 OK\r\n\r\n",       "HTTP/1.1 200 OK\x7f\r\n\r\n",
  };
  for (size_t k = 0; k < HL_ARRAY_LEN(bad); k++) {
    EXPECT_ERROR(bad[k], HL_H1_ERR_BAD_STATUS_LINE, NULL);
  }
}

TEST(bad_header_syntax) {
  static const char *const bad[] = {
      "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\n\r\n",          /* obs-fold */
      "HTTP/1.1 200 OK\r\nX-A: b\r\n\tc\r\n\r\n",         /* obs-fold with HTAB */
      "HTTP/1.1 200 OK\r\n Content-Length: 0\r\n\r\n",    /* first line folded */
      "HTTP/1.1 200 OK\r\nX-A : b\r\n\r\n",               /* space before colon */
      "HTTP/1.1 200 OK\r\nContent-Length\t: 0\r\n\r\n",   /* tab before colon */
      "HTTP/1.1 200 OK\r\nX-A: b\rc\r\n\r\n",             /* bare CR in a value */
      "HTTP/1.1 200 OK\r\nX-A: b\r\r\n\r\n",              /* CR CR LF */
      "HTTP/1.1 200 OK\r\nX-A: b\r\n\r\r\n",              /* bare CR ending the head */
      "HTTP/1.1 200 OK\r\nX-A: b\x01\r\n\r\n",            /* control character */
      "HTTP/1.1 200 OK\r\nX-A: \x7f\r\n\r\n",             /* DEL */
      "HTTP/1.1 200 OK\r\nX-A b\r\n\r\n",                 /* no colon */
      "HTTP/1.1 200 OK\r\nX-A\r\n\r\n",                   /* no colon */
      "HTTP/1.1 200 OK\r\n: b\r\n\r\n",                   /* empty name */
      "HTTP/1.1 200 OK\r\nX(A): b\r\n\r\n",               /* not a token */
      "HTTP/1.1 200 OK\r\nX\xc3\xa9: b\r\n\r\n",          /* non-ASCII name */
      "HTTP/1.1 200 OK\r\n\x01: b\r\n\r\n",
  };
  for (size_t k = 0; k < HL_ARRAY_LEN(bad); k++) {
    EXPECT_ERROR(bad[k], HL_H1_ERR_BAD_HEADER, NULL);
  }
  /* NUL in a value (strlen cannot carry it). */
  static const char nul[] = "HTTP/1.1 200 OK\r\nX-A: b\0c\r\n\r\n";
  const result *r = CHECK(nul, NULL);
  ASSERT_EQ(r->err, HL_H1_ERR_BAD_HEADER);
  static const char nul_in_cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\0\r\n\r\n";
  r = CHECK(nul_in_cl, NULL);
  ASSERT_EQ(r->err, HL_H1_ERR_BAD_HEADER);
  /* A Content-Length that is wrong before the bad byte: the earlier fault wins
   * in every split. */
  static const char both[] = "HTTP/1.1 200 OK\r\nContent-Length: x\0\r\n\r\n";
  r = CHECK(both, NULL);
  ASSERT_EQ(r->err, HL_H1_ERR_BAD_CONTENT_LENGTH);
}

/* --- limits ---------------------------------------------------------------------- */

TEST(status_line_limit) {
  hl_h1_limits l = hl_h1_limits_default();
  l.status_line_bytes_max = 17; /* "HTTP/1.1 200 OK\r\n" */
  opts o = {.limits = &l};
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  EXPECT_ERROR("HTTP/1.1 200 OK!\r\nContent-Length: 0\r\n\r\n", HL_H1_ERR_STATUS_LINE_TOO_LONG, &o);
  EXPECT_ERROR("HTTP/1.1 200 OK xxxxxxxxxxxxxxxxxxxxxxx", HL_H1_ERR_STATUS_LINE_TOO_LONG, &o);
  hl_h1_parser p;
  hl_h1_parser_init(&p, &l, false);
  hl_h1_event ev;
  ASSERT_EQ(hl_h1_parse(&p, "HTTP/1.1 200 OK!!", 17, &ev), 17);
  ASSERT_EQ(ev.type, HL_H1_EV_NONE);
  ASSERT_EQ(hl_h1_parse(&p, "!", 1, &ev), HL_INVALID);
  ASSERT_TRUE(strstr(hl_h1_parser_error_detail(&p), "HL_HTTP_STATUS_LINE_BYTES_MAX") != NULL);
  ASSERT_STR_EQ(hl_h1_error_name(hl_h1_parser_error(&p)), "status_line_too_long");
}

TEST(header_line_limit) {
  hl_h1_limits l = hl_h1_limits_default();
  l.header_line_bytes_max = 20; /* "Content-Length: 2\r\n" is 19 */
  opts o = {.limits = &l};
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 2 \r\nX: 123456789012345\r\n\r\nok", &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nX: 1234567890123456\r\n\r\n", HL_H1_ERR_HEADER_TOO_LONG, &o);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nX-Very-Long-Header-Name: 1\r\n\r\n", HL_H1_ERR_HEADER_TOO_LONG,
               &o);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nX: 12345678901234567890123", HL_H1_ERR_HEADER_TOO_LONG, &o);
  /* Trailer lines have the same bound. */
  l.header_line_bytes_max = 28; /* "Transfer-Encoding: chunked\r\n" */
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 12345678901234567890123\r\n\r\n",
            &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 123456789012345678901234\r\n\r\n",
               HL_H1_ERR_HEADER_TOO_LONG, &o);
}

TEST(header_count_limit) {
  hl_h1_limits l = hl_h1_limits_default();
  l.headers_max = 2;
  opts o = {.limits = &l};
  const result *r = CHECK("HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n", &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", HL_H1_ERR_TOO_MANY_HEADERS, &o);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
               HL_H1_ERR_TOO_MANY_HEADERS, &o);
  /* Each interim response has its own count. */
  r = CHECK("HTTP/1.1 103 Early\r\nA: 1\r\nB: 2\r\n\r\nHTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n",
            &o);
  ASSERT_EQ(r->err, HL_H1_OK);
}

TEST(header_section_limit) {
  hl_h1_limits l = hl_h1_limits_default();
  l.header_bytes_max = 26; /* "Content-Length: 2\r\nA:1\r\n\r\n" */
  opts o = {.limits = &l};
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nA:1\r\n\r\nok", &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nA:12\r\n\r\nok", HL_H1_ERR_HEADERS_TOO_LARGE,
               &o);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
               HL_H1_ERR_HEADERS_TOO_LARGE, &o);
  /* The trailer section has the same bound. */
  l.header_bytes_max = 30; /* "Transfer-Encoding: chunked\r\n\r\n" */
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT1: aaaaaaaaaaaa\r\n\r\n",
            &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
               "\r\n0\r\nT1: aaaaaaaaaaaa\r\nT2: bbbbbbbbbbbb\r\n\r\n",
               HL_H1_ERR_HEADERS_TOO_LARGE, &o);
}

TEST(body_limit) {
  hl_h1_limits l = hl_h1_limits_default();
  l.body_bytes_discard_max = 5;
  opts o = {.limits = &l, .eof = true};
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345", &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n123456", &o);
  ASSERT_EQ(r->err, HL_H1_ERR_BODY_TOO_LARGE);
  ASSERT_EQ(r->headers_events, 1);
  ASSERT_EQ(r->body_len, 0);
  r = CHECK("HTTP/1.1 200 OK\r\n\r\n12345", &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  r = CHECK("HTTP/1.1 200 OK\r\n\r\n123456", &o);
  ASSERT_EQ(r->err, HL_H1_ERR_BODY_TOO_LARGE);
  ASSERT_EQ(r->body_len, 5); /* exactly the limit, then the error */
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n123\r\n2\r\n45\r\n0\r\n\r\n",
            &o);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n123\r\n3\r\n456\r\n0\r\n\r\n",
            &o);
  ASSERT_EQ(r->err, HL_H1_ERR_BODY_TOO_LARGE);
  ASSERT_EQ(r->body_len, 3);
}

TEST(chunk_errors) {
  hl_h1_limits l = hl_h1_limits_default();
  l.chunk_line_bytes_max = 8;
  opts o = {.limits = &l};
  const char *pre = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  static const struct {
    const char *chunks;
    hl_h1_error err;
  } cases[] = {
      {"zz\r\n", HL_H1_ERR_BAD_CHUNK},
      {"\r\n", HL_H1_ERR_BAD_CHUNK},
      {"-1\r\n", HL_H1_ERR_BAD_CHUNK},
      {"5\r\nhelloX", HL_H1_ERR_BAD_CHUNK},
      {"5\r\nhello\rX", HL_H1_ERR_BAD_CHUNK},
      {"5\r\rhello", HL_H1_ERR_BAD_CHUNK},
      {"5 5\r\n", HL_H1_ERR_BAD_CHUNK},
      {"5;\x01\r\n", HL_H1_ERR_BAD_CHUNK},
      {"10000000000000000\r\n", HL_H1_ERR_CHUNK_LINE_TOO_LONG},
      {"0000005;x\r\n", HL_H1_ERR_CHUNK_LINE_TOO_LONG},
      {"0\r\nBad Trailer: 1\r\n\r\n", HL_H1_ERR_BAD_HEADER},
      {"0\r\nT: 1\r\n folded\r\n\r\n", HL_H1_ERR_BAD_HEADER},
      {"0\r\n\rX", HL_H1_ERR_BAD_HEADER},
  };
  char in[256];
  for (size_t k = 0; k < HL_ARRAY_LEN(cases); k++) {
    size_t n = (size_t)snprintf(in, sizeof(in), "%s%s", pre, cases[k].chunks);
    const result *r = check(in, n, &o);
    if (r->err != cases[k].err) {
      hl_test_fail(__FILE__, __LINE__, "case %zu: expected %s, got %s", k,
                   hl_h1_error_name(cases[k].err), hl_h1_error_name(r->err));
    }
  }
  /* With the default limits, a size past 64 bits. */
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
               HL_H1_ERR_BAD_CHUNK, NULL);
}

/* --- end of stream ---------------------------------------------------------------- */

TEST(eof_classification) {
  hl_h1_parser p;
  hl_h1_event ev;
  hl_h1_parser_init(&p, default_limits(), false);
  ASSERT_EQ(hl_h1_parse_eof(&p, &ev), HL_INVALID);
  ASSERT_EQ(hl_h1_parser_error(&p), HL_H1_ERR_NO_RESPONSE);
  ASSERT_STR_EQ(hl_h1_error_name(hl_h1_parser_error(&p)), "no_response");

  EXPECT_ERROR("H", HL_H1_ERR_UNEXPECTED_EOF, &eof_opts);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nContent-Le", HL_H1_ERR_UNEXPECTED_EOF, &eof_opts);
  EXPECT_ERROR("HTTP/1.1 100 Continue\r\n\r\n", HL_H1_ERR_UNEXPECTED_EOF, &eof_opts);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", HL_H1_ERR_UNEXPECTED_EOF,
               &eof_opts);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
               HL_H1_ERR_UNEXPECTED_EOF, &eof_opts);
  EXPECT_ERROR("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
               HL_H1_ERR_UNEXPECTED_EOF, &eof_opts);
  /* A close after a complete response is no error. */
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &eof_opts);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
}

TEST(extra_data_after_the_response) {
  const result *r = CHECK("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", NULL);
  ASSERT_TRUE(r->done);
  ASSERT_EQ(r->err, HL_H1_ERR_EXTRA_DATA);
  ASSERT_MEM_EQ(r->body, r->body_len, "ok", 2);
  r = CHECK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\r\n", NULL);
  ASSERT_EQ(r->err, HL_H1_ERR_EXTRA_DATA);
}

TEST(errors_are_sticky) {
  hl_h1_parser p;
  hl_h1_event ev;
  hl_h1_parser_init(&p, default_limits(), false);
  ASSERT_EQ(hl_h1_parse(&p, "XTTP", 4, &ev), HL_INVALID);
  ASSERT_EQ(hl_h1_parse(&p, "HTTP/1.1 200 OK\r\n", 17, &ev), HL_INVALID);
  ASSERT_EQ(hl_h1_parse_eof(&p, &ev), HL_INVALID);
  ASSERT_EQ(hl_h1_parser_error(&p), HL_H1_ERR_BAD_STATUS_LINE);
}

TEST(error_names_are_distinct) {
  for (int a = 0; a < HL_H1_ERR_COUNT_; a++) {
    const char *na = hl_h1_error_name((hl_h1_error)a);
    ASSERT_TRUE(na != NULL && na[0] != '\0');
    ASSERT_TRUE(strcmp(na, "unknown") != 0);
    for (int b = 0; b < a; b++) {
      ASSERT_TRUE(strcmp(na, hl_h1_error_name((hl_h1_error)b)) != 0);
    }
  }
  ASSERT_STR_EQ(hl_h1_error_name(HL_H1_ERR_COUNT_), "unknown");
  ASSERT_STR_EQ(hl_h1_error_name(HL_H1_ERR_BAD_CHUNK), "bad_chunk");
  ASSERT_STR_EQ(hl_h1_error_name(HL_H1_ERR_HEADERS_TOO_LARGE), "headers_too_large");
}

TEST(state_is_small) {
  fprintf(stderr, "  sizeof(hl_h1_parser) = %zu (response excerpts %zu, chunked %zu)\n",
          sizeof(hl_h1_parser), sizeof(hl_h1_response), sizeof(hl_h1_chunked));
  ASSERT_LE(sizeof(hl_h1_parser) - sizeof(hl_h1_response), 160);
  ASSERT_LE(sizeof(hl_h1_parser), 512);
}

/* A large response in random pieces, as a long stream of recv buffers. */
TEST(large_chunked_body_in_random_pieces) {
  static char in[60000];
  static char expect[BODY_CAP];
  size_t n = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  size_t body = 0;
  while (body < 12000) {
    size_t chunk = 1 + hl_test_rand() % 700;
    n += (size_t)snprintf(in + n, sizeof(in) - n, "%zx\r\n", chunk);
    for (size_t k = 0; k < chunk; k++) {
      char c = (char)('a' + hl_test_rand() % 26);
      in[n++] = c;
      expect[body++] = c;
    }
    in[n++] = '\r';
    in[n++] = '\n';
  }
  n += (size_t)snprintf(in + n, sizeof(in) - n, "0\r\n\r\n");
  const result *r = check(in, n, NULL);
  ASSERT_EQ(r->err, HL_H1_OK);
  ASSERT_TRUE(r->done);
  ASSERT_MEM_EQ(r->body, r->body_len, expect, body);
}

/* --- Retry-After ------------------------------------------------------------------ */

TEST(retry_after_delta_seconds) {
  uint32_t d = 99;
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("120"), 1000, &d));
  ASSERT_EQ(d, 120);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT(" 0 "), 1000, &d));
  ASSERT_EQ(d, 0);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("99999999999999999999999999"), 0, &d));
  ASSERT_EQ(d, HL_HTTP_RETRY_AFTER_S_MAX);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("86401"), 0, &d));
  ASSERT_EQ(d, HL_HTTP_RETRY_AFTER_S_MAX);
  d = 77;
  static const char *const garbage[] = {"", "  ", "-5", "+5", "5s", "1.5", "0x10", "5 5", "soon",
                                        "Sun, 06 Nov 1994 08:49:37 UTC"};
  for (size_t k = 0; k < HL_ARRAY_LEN(garbage); k++) {
    if (hl_h1_parse_retry_after(hl_span_cstr(garbage[k]), 0, &d)) {
      hl_test_fail(__FILE__, __LINE__, "accepted \"%s\"", garbage[k]);
    }
  }
  ASSERT_EQ(d, 77);
}

TEST(retry_after_http_dates) {
  const int64_t t = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
  uint32_t d = 0;
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sun, 06 Nov 1994 08:49:37 GMT"), t - 30, &d));
  ASSERT_EQ(d, 30);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sunday, 06-Nov-94 08:49:37 GMT"), t - 31, &d));
  ASSERT_EQ(d, 31);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sun Nov  6 08:49:37 1994"), t - 32, &d));
  ASSERT_EQ(d, 32);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sun Nov 16 08:49:37 1994"), t, &d));
  ASSERT_EQ(d, HL_HTTP_RETRY_AFTER_S_MAX); /* ten days: capped */
  /* In the past: retry now. */
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sun, 06 Nov 1994 08:49:37 GMT"), t + 5, &d));
  ASSERT_EQ(d, 0);
  /* Leap day, end of year, the epoch. */
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Thu, 29 Feb 2024 00:00:00 GMT"), 1709164800 - 1, &d));
  ASSERT_EQ(d, 1);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Thu, 01 Jan 1970 00:01:40 GMT"), 0, &d));
  ASSERT_EQ(d, 100);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Fri, 31 Dec 1999 23:59:59 GMT"), 946684799 - 9, &d));
  ASSERT_EQ(d, 9);
  /* RFC 850 two-digit years: "94" seen in 2024 is 1994, "30" is 2030. */
  const int64_t y2024 = 1704067200; /* 2024-01-01 */
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Tuesday, 01-Jan-30 00:00:00 GMT"),
                                      1893456000 - 60, &d));
  ASSERT_EQ(d, 60);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sunday, 06-Nov-94 08:49:37 GMT"), y2024, &d));
  ASSERT_EQ(d, 0);
  static const char *const bad[] = {
      "Sun, 6 Nov 1994 08:49:37 GMT",   "Sun, 06 nov 1994 08:49:37 GMT",
      "sun, 06 Nov 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 08:49:37",
      "Sun, 06 Nov 1994 24:00:00 GMT",  "Sun, 06 Nov 1994 08:60:00 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT",  "Sun, 29 Feb 2023 08:49:37 GMT",
      "Sun, 00 Nov 1994 08:49:37 GMT",  "Sun, 06 Nov 94 08:49:37 GMT",
      "Sunday, 06 Nov 1994 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
      "Sun Nov 6 08:49:37 1994",        "Sun Nov  6 08:49:37 1994 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMTx", "Xyz, 06 Nov 1994 08:49:37 GMT",
      "Sun,06 Nov 1994 08:49:37 GMT",   "Sun, 06 Nov 1994 8:49:37 GMT",
  };
  for (size_t k = 0; k < HL_ARRAY_LEN(bad); k++) {
    if (hl_h1_parse_retry_after(hl_span_cstr(bad[k]), t, &d)) {
      hl_test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[k]);
    }
  }
  /* A leap second is a valid time. */
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800, &d));
  ASSERT_EQ(d, 0);
}

TEST(retry_after_extreme_now) {
  uint32_t d = 0;
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sun, 06 Nov 1994 08:49:37 GMT"), INT64_MIN, &d));
  ASSERT_EQ(d, HL_HTTP_RETRY_AFTER_S_MAX);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sun, 06 Nov 1994 08:49:37 GMT"), INT64_MAX, &d));
  ASSERT_EQ(d, 0);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sunday, 06-Nov-94 08:49:37 GMT"), INT64_MAX, &d));
  ASSERT_EQ(d, 0);
  ASSERT_TRUE(hl_h1_parse_retry_after(HL_SPAN_LIT("Sunday, 06-Nov-94 08:49:37 GMT"), INT64_MIN, &d));
  ASSERT_EQ(d, HL_HTTP_RETRY_AFTER_S_MAX);
}
