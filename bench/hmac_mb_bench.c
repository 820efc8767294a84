/* hmac_mb_bench: HMAC-SHA256 signatures per second of CPU, one core.
 *
 *   hmac_mb_bench [--reps N] [--ms M]          the main table
 *   hmac_mb_bench --crossover [--reps N] [--ms M]
 *                 single-stream vs AVX2 vs AVX-512 vs auto for batch sizes
 *                 1..64, to place hl_hmac_batch's switch-over; reports the
 *                 best of the repetitions (other work on a shared machine
 *                 only ever slows a run, and the curves' shape is what
 *                 matters here)
 *
 * Contenders (main table): BoringSSL's one-shot HMAC(); hl_hmac_sha256 with
 * precomputed pads; each hl_hmac_batch_impl implementation over batches of
 * 64; and the auto-dispatching hl_hmac_batch at batch sizes 1, 4, 8, 16, 64.
 * Each figure is the median of --reps runs (default 5) of at least --ms
 * milliseconds of CPU each (default 100), contenders interleaved. intel-ipsec-mb
 * is compared in its own program, bench/peers/hmac_ipsecmb.c. */
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "hmac_bench.h"

static void run_oneshot(const void *arg, hb_work *w, size_t first, size_t batch) {
  (void)arg;
  for (size_t i = first; i < first + batch; i++) {
    hl_hmac_job *j = &w->jobs[i];
    unsigned len;
    HMAC(EVP_sha256(), w->key_bytes[i % HB_KEYS], sizeof(w->key_bytes[0]), j->msg, j->len, j->out,
         &len);
  }
}

static void run_precomputed(const void *arg, hb_work *w, size_t first, size_t batch) {
  (void)arg;
  for (size_t i = first; i < first + batch; i++) {
    hl_hmac_job *j = &w->jobs[i];
    hl_hmac_sha256(j->key, j->msg, j->len, j->out);
  }
}

static void run_auto(const void *arg, hb_work *w, size_t first, size_t batch) {
  (void)arg;
  hl_hmac_batch(w->jobs + first, batch);
}

typedef struct contender {
  const char *name;
  hb_run_fn run;
  hl_hmac_impl impl; /* for hb_run_batch_impl; also says what must be available */
  size_t batch;
} contender;

static const contender main_set[] = {
    {"BoringSSL HMAC() one-shot", run_oneshot, HL_HMAC_IMPL_SINGLE, 1},
    {"hl_hmac_sha256 precomputed", run_precomputed, HL_HMAC_IMPL_SINGLE, 1},
    {"single-stream, batch 64", hb_run_batch_impl, HL_HMAC_IMPL_SINGLE, 64},
    {"scalar 4-lane, batch 64", hb_run_batch_impl, HL_HMAC_IMPL_SCALAR, 64},
    {"AVX2 8-lane, batch 64", hb_run_batch_impl, HL_HMAC_IMPL_AVX2, 64},
    {"AVX-512 16-lane, batch 64", hb_run_batch_impl, HL_HMAC_IMPL_AVX512, 64},
    {"hl_hmac_batch, batch 1", run_auto, HL_HMAC_IMPL_AUTO, 1},
    {"hl_hmac_batch, batch 4", run_auto, HL_HMAC_IMPL_AUTO, 4},
    {"hl_hmac_batch, batch 8", run_auto, HL_HMAC_IMPL_AUTO, 8},
    {"hl_hmac_batch, batch 16", run_auto, HL_HMAC_IMPL_AUTO, 16},
    {"hl_hmac_batch, batch 64", run_auto, HL_HMAC_IMPL_AUTO, 64},
};
#define MAIN_N (sizeof(main_set) / sizeof(main_set[0]))

static const size_t sizes[] = {64, 512, 4096, HB_MIXED};
#define SIZES_N (sizeof(sizes) / sizeof(sizes[0]))
#define REPS_MAX 31

static const hl_hmac_impl impl_ids[] = {HL_HMAC_IMPL_SINGLE, HL_HMAC_IMPL_AVX2,
                                        HL_HMAC_IMPL_AVX512, HL_HMAC_IMPL_AUTO};

static void main_table(unsigned reps, unsigned ms) {
  static double rates[MAIN_N][SIZES_N][REPS_MAX];
  for (size_t s = 0; s < SIZES_N; s++) {
    hb_work *w = malloc(sizeof(*w));
    hb_work_init(w, sizes[s]);
    for (unsigned r = 0; r < reps; r++) {
      for (size_t c = 0; c < MAIN_N; c++) {
        const contender *ct = &main_set[c];
        rates[c][s][r] = hl_hmac_impl_available(ct->impl)
                             ? hb_rate(ct->run, &ct->impl, w, ct->batch, ms)
                             : 0;
      }
    }
    hb_work_free(w);
    free(w);
  }
  printf("HMAC-SHA256, M/s per core (median of %u x %u ms CPU)\n", reps, ms);
  printf("%-30s", "");
  for (size_t s = 0; s < SIZES_N; s++) {
    printf("%10s", hb_size_name(sizes[s]));
  }
  printf("\n");
  for (size_t c = 0; c < MAIN_N; c++) {
    printf("%-30s", main_set[c].name);
    for (size_t s = 0; s < SIZES_N; s++) {
      double m = hb_median(rates[c][s], reps);
      if (m == 0) {
        printf("%10s", "n/a");
      } else {
        printf("%10.2f", m / 1e6);
      }
    }
    printf("\n");
  }
}

static void crossover(unsigned reps, unsigned ms) {
  static const size_t batches[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                                   18, 20, 24, 28, 32, 40, 48, 64, 128, 256};
  static const size_t xsizes[] = {64, 512, HB_MIXED};
  enum { NB = sizeof(batches) / sizeof(batches[0]), NI = sizeof(impl_ids) / sizeof(impl_ids[0]) };
  for (size_t s = 0; s < sizeof(xsizes) / sizeof(xsizes[0]); s++) {
    hb_work *w = malloc(sizeof(*w));
    hb_work_init(w, xsizes[s]);
    printf("\n%s messages, M/s per core by batch size (best of %u)\n", hb_size_name(xsizes[s]),
           reps);
    printf("%6s", "batch");
    for (size_t i = 0; i < NI; i++) {
      printf("%10s", hl_hmac_impl_name(impl_ids[i]));
    }
    printf("\n");
    for (size_t b = 0; b < NB; b++) {
      double v[NI][REPS_MAX];
      for (unsigned r = 0; r < reps; r++) {
        for (size_t i = 0; i < NI; i++) {
          v[i][r] = hl_hmac_impl_available(impl_ids[i])
                        ? hb_rate(hb_run_batch_impl, &impl_ids[i], w, batches[b], ms)
                        : 0;
        }
      }
      printf("%6zu", batches[b]);
      for (size_t i = 0; i < NI; i++) {
        hb_median(v[i], reps); /* sorts */
        printf("%10.2f", v[i][reps - 1] / 1e6);
      }
      printf("\n");
    }
    hb_work_free(w);
    free(w);
  }
}

int main(int argc, char **argv) {
  unsigned reps = 5, ms = 100;
  bool cross = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--crossover") == 0) {
      cross = true;
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = (unsigned)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
      ms = (unsigned)strtoul(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "usage: %s [--crossover] [--reps N] [--ms M]\n", argv[0]);
      return 2;
    }
  }
  if (reps < 1 || reps > REPS_MAX || ms < 1) {
    fprintf(stderr, "hmac_mb_bench: --reps must be 1..%d and --ms at least 1\n", REPS_MAX);
    return 2;
  }
  printf("cpu: %s (HL_CPU_DISABLE=%s)\n", hl_cpu_describe(),
         getenv("HL_CPU_DISABLE") ? getenv("HL_CPU_DISABLE") : "");
  if (cross) {
    crossover(reps, ms);
  } else {
    main_table(reps, ms);
  }
  return 0;
}
