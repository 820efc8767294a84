/* hmac_bench: what the HMAC benchmarks share (header only, static).
 *
 * Rates are HMACs per second of this thread's CPU time, so that other work
 * on a shared machine slows a run down without changing its figure much.
 * Every contender is measured several times, interleaved (A B C A B C ...),
 * and reported by its median. Workloads: messages of one size (64 B, 512 B,
 * 4 KiB) or a mix, distinct bytes per job, a handful of keys. */
#ifndef HL_BENCH_HMAC_BENCH_H
#define HL_BENCH_HMAC_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/hmac_mb.h"

#define HB_KEYS 4
#define HB_JOBS_MAX 256
#define HB_MIXED 0 /* size 0 stands for the mixed-length workload */

typedef struct hb_work {
  size_t size; /* bytes per message, or HB_MIXED */
  uint8_t key_bytes[HB_KEYS][32];
  hl_hmac_key keys[HB_KEYS];
  uint8_t *pool;
  hl_hmac_job jobs[HB_JOBS_MAX];
} hb_work;

static inline uint64_t hb_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t hb_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* The mixed workload: webhook-like bodies, mostly a few hundred bytes, some
 * small, a few several KiB (mean about 700 B). */
static inline size_t hb_mixed_len(uint64_t *s) {
  uint64_t r = hb_rand(s) % 100;
  if (r < 20) {
    return 40 + hb_rand(s) % 160;
  }
  if (r < 90) {
    return 200 + hb_rand(s) % 800;
  }
  return 1000 + hb_rand(s) % 3097;
}

static inline void hb_work_init(hb_work *w, size_t size) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  memset(w, 0, sizeof(*w));
  w->size = size;
  for (int k = 0; k < HB_KEYS; k++) {
    for (size_t i = 0; i < sizeof(w->key_bytes[k]); i++) {
      w->key_bytes[k][i] = (uint8_t)hb_rand(&seed);
    }
    hl_hmac_key_init(&w->keys[k], w->key_bytes[k], sizeof(w->key_bytes[k]));
  }
  size_t total = 0, lens[HB_JOBS_MAX];
  for (int i = 0; i < HB_JOBS_MAX; i++) {
    lens[i] = size == HB_MIXED ? hb_mixed_len(&seed) : size;
    total += lens[i] + 1; /* +1: most messages start unaligned, as rendered bodies do */
  }
  w->pool = malloc(total);
  if (w->pool == NULL) {
    abort();
  }
  for (size_t i = 0; i < total; i++) {
    w->pool[i] = (uint8_t)hb_rand(&seed);
  }
  size_t off = 1;
  for (int i = 0; i < HB_JOBS_MAX; i++) {
    w->jobs[i].key = &w->keys[i % HB_KEYS];
    w->jobs[i].msg = w->pool + off;
    w->jobs[i].len = lens[i];
    off += lens[i] + 1;
  }
}

static inline void hb_work_free(hb_work *w) {
  for (int k = 0; k < HB_KEYS; k++) {
    hl_hmac_key_cleanup(&w->keys[k]);
  }
  free(w->pool);
}

static inline const char *hb_size_name(size_t size) {
  switch (size) {
    case HB_MIXED:
      return "mixed";
    case 4096:
      return "4 KiB";
    case 512:
      return "512 B";
    default:
      return "64 B";
  }
}

/* One contender: |run| computes |batch| HMACs of |w| starting at job |first|. */
typedef void (*hb_run_fn)(const void *arg, hb_work *w, size_t first, size_t batch);

/* hb_rate runs |run| for at least |min_ms| of CPU time, cycling through the
 * jobs in batches of |batch|, and returns HMACs per CPU second. */
static inline double hb_rate(hb_run_fn run, const void *arg, hb_work *w, size_t batch,
                             unsigned min_ms) {
  size_t per = HB_JOBS_MAX / batch * batch;
  run(arg, w, 0, batch); /* warm caches and branch predictors */
  uint64_t done = 0, t0 = hb_cpu_ns(), t;
  do {
    for (size_t first = 0; first < per; first += batch) {
      run(arg, w, first, batch);
    }
    done += per;
    t = hb_cpu_ns();
  } while (t - t0 < (uint64_t)min_ms * 1000000u);
  return (double)done * 1e9 / (double)(t - t0);
}

static inline int hb_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static inline double hb_median(double *v, size_t n) {
  qsort(v, n, sizeof(*v), hb_cmp_double);
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void hb_run_batch_impl(const void *arg, hb_work *w, size_t first, size_t batch) {
  hl_hmac_batch_impl(*(const hl_hmac_impl *)arg, w->jobs + first, batch);
}

#endif
