/* Tests for http/h1_chunked: data comes back exactly as encoded, whatever
 * the chunk sizes, extensions, trailers, line endings and input split; every
 * framing fault and limit gets its error class. Inputs sit right before a
 * PROT_NONE page, so an over-read faults. */
#include "http/h1_chunked.h"

#include <stdio.h>

#include "base/assert.h"
#include "base/buf.h"
#include "harness.h"

#define CAP 65536

typedef struct decoded {
  hl_h1_error err;
  bool done;
  size_t consumed;
  size_t len;
  char data[CAP];
} decoded;

/* decode feeds |in| in pieces of at most |piece_max| bytes (0: all at once;
 * pieces of random size in [1, piece_max] otherwise). */
static void decode(const char *in, size_t len, const hl_h1_limits *lim, size_t piece_max,
                   decoded *d) {
  memset(d, 0, sizeof(*d));
  hl_h1_chunked c;
  hl_h1_chunked_init(&c, lim);
  size_t off = 0;
  while (off < len && d->err == HL_H1_OK && !d->done) {
    size_t piece = piece_max == 0 ? len - off : 1 + hl_test_rand() % piece_max;
    if (piece > len - off) {
      piece = len - off;
    }
    char *g = hl_test_guard(in + off, piece);
    size_t at = 0;
    while (at < piece) {
      hl_span data;
      ptrdiff_t n = hl_h1_chunked_decode(&c, g + at, piece - at, &data);
      if (n < 0) {
        d->err = hl_h1_chunked_error(&c);
        ASSERT_NE(d->err, HL_H1_OK);
        ASSERT_TRUE(hl_h1_chunked_error_detail(&c)[0] != '\0');
        break;
      }
      if (data.len > 0) {
        /* The data span ends where consumption ended. */
        ASSERT_TRUE(data.ptr + data.len == g + at + n);
        ASSERT_LE(d->len + data.len, sizeof(d->data));
        memcpy(d->data + d->len, data.ptr, data.len);
        d->len += data.len;
      }
      at += (size_t)n;
      d->consumed += (size_t)n;
      if (hl_h1_chunked_done(&c)) {
        d->done = true;
        break;
      }
      if (n == 0) {
        break;
      }
    }
    hl_test_guard_free(g, piece);
    off += piece;
  }
  ASSERT_EQ(d->len, hl_h1_chunked_body_bytes(&c));
}

/* decode_all decodes whole, byte by byte and in random pieces; all must
 * agree. Returns the whole-input result. */
static const decoded *decode_all(const char *in, size_t len, const hl_h1_limits *lim) {
  static decoded whole, other;
  decode(in, len, lim, 0, &whole);
  /* Each piece costs an mmap: byte by byte only for short inputs. */
  static const size_t piece_max[] = {1, 2, 7, 64, 997};
  for (size_t k = len > 2048 ? 2 : 0; k < HL_ARRAY_LEN(piece_max); k++) {
    decode(in, len, lim, piece_max[k], &other);
    if (other.err != whole.err || other.done != whole.done ||
        (whole.err == HL_H1_OK && other.consumed != whole.consumed) ||
        other.len != whole.len || memcmp(other.data, whole.data, whole.len) != 0) {
      hl_test_fail(__FILE__, __LINE__,
                   "pieces of <= %zu bytes: err %s/%s done %d/%d consumed %zu/%zu data %zu/%zu",
                   piece_max[k], hl_h1_error_name(other.err), hl_h1_error_name(whole.err),
                   other.done, whole.done, other.consumed, whole.consumed, other.len, whole.len);
    }
  }
  return &whole;
}

static hl_h1_limits limits(void) {
  return hl_h1_limits_default();
}

#define DECODE(lit, lim) decode_all((lit), sizeof(lit) - 1, (lim))

TEST(simple_body) {
  hl_h1_limits l = limits();
  const decoded *d = DECODE("5\r\nhello\r\n0\r\n\r\n", &l);
  ASSERT_EQ(d->err, HL_H1_OK);
  ASSERT_TRUE(d->done);
  ASSERT_MEM_EQ(d->data, d->len, "hello", 5);
  ASSERT_EQ(d->consumed, 15);
}

TEST(stops_after_the_last_chunk) {
  hl_h1_limits l = limits();
  const decoded *d = DECODE("1\r\na\r\n0\r\nT: x\r\n\r\nHTTP/1.1 200 OK\r\n", &l);
  ASSERT_TRUE(d->done);
  ASSERT_EQ(d->consumed, 17);
  hl_h1_chunked c;
  hl_h1_chunked_init(&c, &l);
  hl_span data;
  ASSERT_EQ(hl_h1_chunked_decode(&c, "0\r\n\r\nmore", 9, &data), 5);
  ASSERT_TRUE(hl_h1_chunked_done(&c));
  ASSERT_EQ(hl_h1_chunked_decode(&c, "more", 4, &data), 0);
  ASSERT_EQ(data.len, 0);
}

TEST(hex_sizes_extensions_and_lf_endings) {
  hl_h1_limits l = limits();
  const decoded *d = DECODE("0000a;x=1;y=\"q\\\"t\"\r\n0123456789\nB \t\r\nabcdefghijk\r\n"
                            "0 ; last\n\n",
                            &l);
  ASSERT_EQ(d->err, HL_H1_OK);
  ASSERT_TRUE(d->done);
  ASSERT_MEM_EQ(d->data, d->len, "0123456789abcdefghijk", 21);
}

TEST(incomplete_input_is_not_done) {
  hl_h1_limits l = limits();
  static const char *const partial[] = {"", "5", "5\r", "5\r\nhel", "5\r\nhello", "5\r\nhello\r",
                                        "0\r\n", "0\r\nT: 1\r\n", "0\r\n\r"};
  for (size_t k = 0; k < HL_ARRAY_LEN(partial); k++) {
    const decoded *d = decode_all(partial[k], strlen(partial[k]), &l);
    ASSERT_EQ(d->err, HL_H1_OK);
    ASSERT_FALSE(d->done);
    ASSERT_EQ(d->consumed, strlen(partial[k]));
  }
}

static void expect_error(const char *in, size_t len, const hl_h1_limits *l, hl_h1_error err,
                         int line) {
  const decoded *d = decode_all(in, len, l);
  if (d->err != err) {
    hl_test_fail(__FILE__, line, "expected %s, got %s for \"%.*s\"", hl_h1_error_name(err),
                 hl_h1_error_name(d->err), (int)len, in);
  }
}
#define EXPECT_ERROR(lit, l, err) expect_error((lit), sizeof(lit) - 1, (l), (err), __LINE__)

TEST(framing_errors) {
  hl_h1_limits l = limits();
  EXPECT_ERROR("x\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR(" 5\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("0x5\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("5 5\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("5\rx", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("5\r\nhelloX\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("5\r\nhello\r\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("5;a\x01\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("5;a\x7f\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  static const char nul[] = "5;\0\r\n";
  EXPECT_ERROR(nul, &l, HL_H1_ERR_BAD_CHUNK);
  /* 16 hex digits fit in 64 bits; 17 significant ones do not. */
  EXPECT_ERROR("10000000000000000\r\n", &l, HL_H1_ERR_BAD_CHUNK);
  EXPECT_ERROR("0\r\nT : 1\r\n\r\n", &l, HL_H1_ERR_BAD_HEADER);
  EXPECT_ERROR("0\r\nT: 1\r\n x\r\n\r\n", &l, HL_H1_ERR_BAD_HEADER);
  EXPECT_ERROR("0\r\nT\r\n\r\n", &l, HL_H1_ERR_BAD_HEADER);
  EXPECT_ERROR("0\r\nT: \x01\r\n\r\n", &l, HL_H1_ERR_BAD_HEADER);
  EXPECT_ERROR("0\r\n\rx", &l, HL_H1_ERR_BAD_HEADER);
}

TEST(limits) {
  hl_h1_limits l = limits();
  l.chunk_line_bytes_max = 6;
  const decoded *d = DECODE("3;a=b\n" "abc\r\n0001\r\nd\r\n0\r\n\r\n", &l); /* lines of 6 bytes */
  ASSERT_EQ(d->err, HL_H1_OK);
  ASSERT_MEM_EQ(d->data, d->len, "abcd", 4);
  EXPECT_ERROR("3;a=bc\n", &l, HL_H1_ERR_CHUNK_LINE_TOO_LONG);
  EXPECT_ERROR("0000003\r\n", &l, HL_H1_ERR_CHUNK_LINE_TOO_LONG);

  l = limits();
  l.body_bytes_discard_max = 10;
  d = DECODE("5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n", &l);
  ASSERT_EQ(d->err, HL_H1_OK);
  ASSERT_EQ(d->len, 10);
  d = DECODE("5\r\n12345\r\n6\r\n678901\r\n0\r\n\r\n", &l);
  ASSERT_EQ(d->err, HL_H1_ERR_BODY_TOO_LARGE);
  ASSERT_EQ(d->len, 5); /* refused at the size, before any of its data */
  EXPECT_ERROR("ffffffffffffffff\r\n", &l, HL_H1_ERR_BODY_TOO_LARGE);

  /* Trailer sections have the header bounds: each limit, just met, then
   * passed by one. */
  static const struct {
    int which;
    uint32_t max;
    const char *ok;
    const char *over;
    hl_h1_error err;
  } trailer_cases[] = {
      {0, 1, "0\r\nA: 1\r\n\r\n", "0\r\nA: 1\r\nB: 2\r\n\r\n", HL_H1_ERR_TOO_MANY_HEADERS},
      {1, 8, "0\r\nA: 123\r\n\r\n", "0\r\nA: 1234\r\n\r\n", HL_H1_ERR_HEADER_TOO_LONG},
      {2, 14, "0\r\nA: 1\r\nB: 2\r\n\r\n", "0\r\nA: 1\r\nB: 23\r\n\r\n",
       HL_H1_ERR_HEADERS_TOO_LARGE},
  };
  for (size_t k = 0; k < HL_ARRAY_LEN(trailer_cases); k++) {
    l = limits();
    uint32_t max = trailer_cases[k].max;
    if (trailer_cases[k].which == 0) {
      l.headers_max = (uint16_t)max;
    } else if (trailer_cases[k].which == 1) {
      l.header_line_bytes_max = max;
    } else {
      l.header_bytes_max = max;
    }
    d = decode_all(trailer_cases[k].ok, strlen(trailer_cases[k].ok), &l);
    ASSERT_TRUE(d->done);
    expect_error(trailer_cases[k].over, strlen(trailer_cases[k].over), &l, trailer_cases[k].err,
                 __LINE__);
  }
}

TEST(errors_are_sticky) {
  hl_h1_limits l = limits();
  hl_h1_chunked c;
  hl_h1_chunked_init(&c, &l);
  hl_span data;
  ASSERT_EQ(hl_h1_chunked_decode(&c, "g", 1, &data), HL_INVALID);
  ASSERT_EQ(hl_h1_chunked_decode(&c, "0\r\n\r\n", 5, &data), HL_INVALID);
  ASSERT_EQ(hl_h1_chunked_decode(&c, "", 0, &data), HL_INVALID);
  ASSERT_EQ(hl_h1_chunked_error(&c), HL_H1_ERR_BAD_CHUNK);
}

/* encode writes |data| as chunks of random sizes with random spellings: hex
 * case, leading zeros, extensions, LF or CRLF endings, trailers. */
static size_t encode(const char *data, size_t len, char *out, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, out, cap);
  size_t off = 0;
  for (;;) {
    size_t chunk = len - off;
    if (chunk > 0 && hl_test_rand() % 4 != 0) {
      chunk = 1 + hl_test_rand() % chunk;
    }
    int zeros = (int)(hl_test_rand() % 3);
    for (int z = 0; z < zeros; z++) {
      hl_buf_putc(&b, '0');
    }
    hl_buf_printf(&b, hl_test_rand() % 2 ? "%zx" : "%zX", chunk);
    if (hl_test_rand() % 3 == 0) {
      hl_buf_put_cstr(&b, hl_test_rand() % 2 ? " ;ext=\"a b\"" : ";x");
    }
    const char *eol = hl_test_rand() % 5 == 0 ? "\n" : "\r\n";
    hl_buf_put_cstr(&b, eol);
    if (chunk == 0) {
      break;
    }
    hl_buf_put(&b, data + off, chunk);
    hl_buf_put_cstr(&b, eol);
    off += chunk;
  }
  if (hl_test_rand() % 2) {
    hl_buf_put_cstr(&b, "Trailer-A: x\r\nB:\r\n");
  }
  hl_buf_put_cstr(&b, "\r\n");
  HL_ASSERT(hl_buf_ok(&b));
  return b.len;
}

TEST(round_trip_oracle) {
  hl_h1_limits l = limits();
  static char data[4096];
  static char enc[3 * 4096 + 1024];
  for (int iter = 0; iter < 200; iter++) {
    size_t len = hl_test_rand() % (iter < 180 ? 64 : sizeof(data));
    for (size_t k = 0; k < len; k++) {
      data[k] = (char)hl_test_rand(); /* any bytes, CR and LF included */
    }
    size_t n = encode(data, len, enc, sizeof(enc));
    const decoded *d = decode_all(enc, n, &l);
    ASSERT_EQ(d->err, HL_H1_OK);
    ASSERT_TRUE(d->done);
    ASSERT_EQ(d->consumed, n);
    ASSERT_MEM_EQ(d->data, d->len, data, len);
  }
}
