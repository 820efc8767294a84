/* h1_bench: the HTTP/1.1 client's pure parts on one core.
 *
 *   build/release/h1_bench [iterations]
 *
 * Parses a typical 2xx response (about 150 bytes of header fields and a
 * small JSON body) from init to DONE: all at once, in two pieces (cut inside
 * the header section, as a short recv would), and chunked; then writes a
 * typical POST head. Prints the median of 9 repetitions in ns per response
 * and GB/s of response bytes. Wall-clock figures on a shared machine: compare
 * runs made side by side, or use callgrind for instruction counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "http/h1_request.h"
#include "http/h1_response.h"

#define REPS 9

static const char response[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Sat, 27 Jul 2024 12:28:53 GMT\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 17\r\n"
    "Connection: keep-alive\r\n"
    "X-Request-Id: 5f1c2a9e\r\n"
    "\r\n"
    "{\"received\":true}";

static const char response_chunked[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Sat, 27 Jul 2024 12:28:53 GMT\r\n"
    "Content-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Connection: keep-alive\r\n"
    "X-Request-Id: 5f1c2a9e\r\n"
    "\r\n"
    "11\r\n{\"received\":true}\r\n0\r\n\r\n";

static volatile uint64_t sink;

/* parse_one runs one response through a fresh parser, in |pieces| pieces. */
static void parse_one(const hl_h1_limits *lim, const char *in, size_t len, size_t cut) {
  hl_h1_parser p;
  hl_h1_parser_init(&p, lim, false);
  uint64_t body = 0;
  size_t bounds[3] = {0, cut, len};
  for (int k = 0; k < 2; k++) {
    const char *buf = in + bounds[k];
    size_t n = bounds[k + 1] - bounds[k];
    for (;;) {
      hl_h1_event ev;
      ptrdiff_t used = hl_h1_parse(&p, buf, n, &ev);
      if (used < 0) {
        fprintf(stderr, "h1_bench: parse error %s\n", hl_h1_error_name(hl_h1_parser_error(&p)));
        exit(1);
      }
      buf += used;
      n -= (size_t)used;
      if (ev.type == HL_H1_EV_NONE || ev.type == HL_H1_EV_DONE) {
        break;
      }
      body += ev.body.len;
    }
  }
  if (!hl_h1_parser_reusable(&p)) {
    fprintf(stderr, "h1_bench: response not complete\n");
    exit(1);
  }
  sink += body + hl_h1_parser_response(&p)->status;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void bench_parse(const char *name, const char *in, size_t len, size_t cut, long iters) {
  hl_h1_limits lim = hl_h1_limits_default();
  double ns[REPS];
  for (int r = 0; r < REPS; r++) {
    uint64_t t0 = hl_clock_mono_ns();
    for (long i = 0; i < iters; i++) {
      parse_one(&lim, in, len, cut);
    }
    ns[r] = (double)(hl_clock_mono_ns() - t0) / (double)iters;
  }
  qsort(ns, REPS, sizeof(ns[0]), cmp_double);
  double med = ns[REPS / 2];
  printf("%-28s %4zu B  %7.1f ns/response  %5.2f GB/s  (min %.1f, max %.1f)\n", name, len, med,
         (double)len / med, ns[0], ns[REPS - 1]);
}

static void bench_write(long iters) {
  static const hl_h1_header headers[] = {
      {HL_SPAN_LIT("webhook-id"), HL_SPAN_LIT("msg_2b7Kx9QmZ1pL0aVtR4sYc8nE")},
      {HL_SPAN_LIT("webhook-timestamp"), HL_SPAN_LIT("1721996933")},
      {HL_SPAN_LIT("webhook-signature"),
       HL_SPAN_LIT("v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=")},
      {HL_SPAN_LIT("Authorization"), HL_SPAN_LIT("Bearer 0123456789abcdef")},
  };
  static const char body[512] = "{\"type\":\"lead.created\"}";
  hl_h1_request req = {
      .method = HL_HTTP_POST,
      .host = HL_SPAN_LIT("hooks.example.com"),
      .tls = true,
      .target = HL_SPAN_LIT("/webhooks/leads?source=hookline"),
      .headers = headers,
      .headers_len = 4,
      .body = hl_span_make(body, sizeof(body)),
  };
  char mem[1024];
  double ns[REPS];
  size_t head_len = 0;
  for (int r = 0; r < REPS; r++) {
    uint64_t t0 = hl_clock_mono_ns();
    for (long i = 0; i < iters; i++) {
      hl_buf b;
      hl_buf_init(&b, mem, sizeof(mem));
      struct iovec iov[2];
      if (hl_h1_request_write(&req, &b, iov, NULL) != 0) {
        fprintf(stderr, "h1_bench: write failed\n");
        exit(1);
      }
      head_len = iov[0].iov_len;
      sink += (uint64_t)mem[head_len - 3];
    }
    ns[r] = (double)(hl_clock_mono_ns() - t0) / (double)iters;
  }
  qsort(ns, REPS, sizeof(ns[0]), cmp_double);
  printf("%-28s %4zu B  %7.1f ns/request   (min %.1f, max %.1f)\n", "write POST head", head_len,
         ns[REPS / 2], ns[0], ns[REPS - 1]);
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
  if (iters <= 0) {
    fprintf(stderr, "usage: h1_bench [iterations]\n");
    return 2;
  }
  size_t len = sizeof(response) - 1;
  size_t head_cut = (size_t)(strstr(response, "Content-Length") - response) + 5;
  printf("h1_bench: %ld iterations, median of %d (sizeof(hl_h1_parser) = %zu)\n", iters, REPS,
         sizeof(hl_h1_parser));
  bench_parse("parse 200, whole", response, len, len, iters);
  bench_parse("parse 200, two pieces", response, len, head_cut, iters);
  bench_parse("parse 200 chunked, whole", response_chunked, sizeof(response_chunked) - 1,
              sizeof(response_chunked) - 1, iters);
  bench_write(iters);
  return 0;
}
