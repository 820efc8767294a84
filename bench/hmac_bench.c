/* hmac_bench: HMAC-SHA256 of a 512-byte body on one core.
 *
 *   hmac_bench [repetitions=9] [iterations=200000]
 *
 * Variants, interleaved in every repetition (A B C D, A B C D, ...) so that
 * a noisy neighbour hurts all of them alike:
 *   boringssl_oneshot   HMAC(EVP_sha256(), key, ...): key schedule every call
 *   hl_hmac_precomputed hl_hmac_sha256 with the pads hashed once
 *   standard_sign       a full Standard Webhooks signature through the
 *                       delivery path: prefix "<id>.<ts>." written into the
 *                       headroom, MAC over prefix + body (~562 B), base64,
 *                       the three header lines
 *   standard_sign_1call hl_signer_sign (prefix and body hashed as two parts)
 * Reports, per variant, the median over repetitions of thread CPU time per
 * operation (steadier than wall time on a shared machine) and the wall-time
 * median, as ns/op and M ops/s. */
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/cpu.h"
#include "crypto/sign.h"

#define BODY_BYTES 512
#define REPS_MAX 64

static const char *const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static volatile uint8_t sink;

typedef struct bench_ctx {
  uint8_t key[24];
  hl_hmac_key pads;
  hl_signer signer;
  char mem[HL_SIGN_HEADROOM_BYTES + BODY_BYTES];
  char *body;
} bench_ctx;

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run_oneshot(bench_ctx *c, long iters) {
  uint8_t out[32];
  unsigned len = 0;
  for (long i = 0; i < iters; i++) {
    c->body[0] = (char)i;
    HMAC(EVP_sha256(), c->key, sizeof(c->key), (const uint8_t *)c->body, BODY_BYTES, out, &len);
    sink ^= out[0];
  }
}

static void run_precomputed(bench_ctx *c, long iters) {
  uint8_t out[32];
  for (long i = 0; i < iters; i++) {
    c->body[0] = (char)i;
    hl_hmac_sha256(&c->pads, c->body, BODY_BYTES, out);
    sink ^= out[0];
  }
}

static void run_standard(bench_ctx *c, long iters) {
  char lines[HL_SIGN_HEADER_LINES_BYTES_MAX];
  hl_sign_state st;
  hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
  for (long i = 0; i < iters; i++) {
    c->body[0] = (char)i;
    int n = hl_signer_prepare(&c->signer, &st, HL_SPAN_LIT("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
                              1700000000u + (uint64_t)i, c->body, BODY_BYTES,
                              HL_SIGN_HEADROOM_BYTES, jobs, NULL);
    hl_sign_jobs_run(jobs, (size_t)n);
    hl_buf h;
    hl_buf_init(&h, lines, sizeof(lines));
    if (hl_signer_finish(&c->signer, &st, &h) != 0) {
      abort();
    }
    sink ^= (uint8_t)h.ptr[h.len - 3];
  }
}

static void run_standard_1call(bench_ctx *c, long iters) {
  char lines[HL_SIGN_HEADER_LINES_BYTES_MAX];
  for (long i = 0; i < iters; i++) {
    c->body[0] = (char)i;
    hl_buf h;
    hl_buf_init(&h, lines, sizeof(lines));
    if (hl_signer_sign(&c->signer, HL_SPAN_LIT("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
                       1700000000u + (uint64_t)i, hl_span_make(c->body, BODY_BYTES), &h,
                       NULL) != 0) {
      abort();
    }
    sink ^= (uint8_t)h.ptr[h.len - 3];
  }
}

typedef struct variant {
  const char *name;
  void (*run)(bench_ctx *c, long iters);
  double cpu_ns[REPS_MAX];
  double wall_ns[REPS_MAX];
} variant;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 9;
  long iters = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
  if (reps < 1 || reps > REPS_MAX || iters < 1) {
    fprintf(stderr, "usage: hmac_bench [repetitions 1..%d] [iterations]\n", REPS_MAX);
    return 2;
  }
  static bench_ctx c;
  size_t n = 0;
  if (hl_base64_decode(hl_span_cstr(secret + 6), c.key, sizeof(c.key), &n) != 0 ||
      n != sizeof(c.key)) {
    abort();
  }
  hl_hmac_key_init(&c.pads, c.key, sizeof(c.key));
  hl_span secrets[] = {hl_span_cstr(secret)};
  hl_sign_config cfg = {.scheme = HL_SIGN_STANDARD, .secrets = secrets, .secrets_n = 1};
  if (hl_signer_init(&c.signer, &cfg, NULL) != 0) {
    abort();
  }
  c.body = c.mem + HL_SIGN_HEADROOM_BYTES;
  for (int i = 0; i < BODY_BYTES; i++) {
    c.body[i] = (char)('a' + i % 26);
  }
  variant vs[] = {
      {.name = "boringssl_oneshot", .run = run_oneshot},
      {.name = "hl_hmac_precomputed", .run = run_precomputed},
      {.name = "standard_sign", .run = run_standard},
      {.name = "standard_sign_1call", .run = run_standard_1call},
  };
  const int nv = (int)(sizeof(vs) / sizeof(vs[0]));
  for (int v = 0; v < nv; v++) {
    vs[v].run(&c, iters / 10 + 1); /* warm up */
  }
  for (int r = 0; r < reps; r++) {
    for (int v = 0; v < nv; v++) {
      uint64_t w0 = hl_clock_mono_ns(), c0 = cpu_ns();
      vs[v].run(&c, iters);
      uint64_t c1 = cpu_ns(), w1 = hl_clock_mono_ns();
      vs[v].cpu_ns[r] = (double)(c1 - c0) / (double)iters;
      vs[v].wall_ns[r] = (double)(w1 - w0) / (double)iters;
    }
  }
  printf("hmac_bench: %d B body, %d repetitions x %ld iterations, cpu: %s\n", BODY_BYTES, reps,
         iters, hl_cpu_describe());
  printf("%-22s %12s %10s %12s %10s\n", "variant", "cpu ns/op", "cpu M/s", "wall ns/op",
         "wall M/s");
  double base = 0;
  for (int v = 0; v < nv; v++) {
    double cpu = median(vs[v].cpu_ns, reps), wall = median(vs[v].wall_ns, reps);
    if (v == 0) {
      base = cpu;
    }
    printf("%-22s %12.1f %10.3f %12.1f %10.3f   (%.2fx one-shot)\n", vs[v].name, cpu,
           1000.0 / cpu, wall, 1000.0 / wall, base / cpu);
  }
  hl_signer_cleanup(&c.signer);
  hl_hmac_key_cleanup(&c.pads);
  return 0;
}
