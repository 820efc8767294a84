/* bench_hmac_ipsecmb: hookline's multi-buffer HMAC-SHA256 against
 * intel-ipsec-mb's, interleaved in one process (A B A B ...), one core.
 *
 *   bench_hmac_ipsecmb [--reps N] [--ms M] [--batch B]
 *
 * intel-ipsec-mb (Debian libipsec-mb-dev) is linked into this program only,
 * never into hl_core; cmake/parts/bench_ipsecmb.cmake builds it when the
 * library is found. Its AVX-512 manager is measured twice: as it comes (it
 * picks SHA-NI for HMAC-SHA256 where the CPU has it) and with
 * IMB_FLAG_SHANI_OFF (its 16-lane AVX-512 code). Jobs are submitted in
 * batches of --batch (default 64) and flushed at the end of each batch,
 * which is what the engine's per-loop-iteration batch is. Each figure is the
 * median of --reps runs (default 7) of --ms ms of CPU (default 100); the
 * ratio column is the median of the per-repetition ratios. */
/* ipsec-mb's pre-0.53 names (SHA1, SHA_256, ...) clash with BoringSSL's. */
#define NO_COMPAT_IMB_API_053 1
#include <intel-ipsec-mb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "hmac_bench.h"

typedef struct imb_peer {
  IMB_MGR *mgr;
  uint8_t ipad[HB_KEYS][32];
  uint8_t opad[HB_KEYS][32];
} imb_peer;

static void imb_peer_init(imb_peer *p, uint64_t flags, const hb_work *w) {
  p->mgr = alloc_mb_mgr(flags);
  if (p->mgr == NULL) {
    fprintf(stderr, "bench_hmac_ipsecmb: alloc_mb_mgr failed\n");
    exit(1);
  }
  init_mb_mgr_avx512(p->mgr);
  if (imb_get_errno(p->mgr) != 0) {
    fprintf(stderr, "bench_hmac_ipsecmb: init_mb_mgr_avx512: %s\n",
            imb_get_strerror(imb_get_errno(p->mgr)));
    exit(1);
  }
  for (int k = 0; k < HB_KEYS; k++) {
    uint8_t block[64] = {0}, pad[64];
    memcpy(block, w->key_bytes[k], sizeof(w->key_bytes[k]));
    for (int i = 0; i < 64; i++) {
      pad[i] = block[i] ^ 0x36;
    }
    IMB_SHA256_ONE_BLOCK(p->mgr, pad, p->ipad[k]);
    for (int i = 0; i < 64; i++) {
      pad[i] = block[i] ^ 0x5c;
    }
    IMB_SHA256_ONE_BLOCK(p->mgr, pad, p->opad[k]);
  }
}

static void imb_check(IMB_JOB *job) {
  if (job->status != IMB_STATUS_COMPLETED) {
    fprintf(stderr, "bench_hmac_ipsecmb: job failed (status %d)\n", (int)job->status);
    exit(1);
  }
}

static void run_imb(const void *arg, hb_work *w, size_t first, size_t batch) {
  const imb_peer *p = arg;
  IMB_MGR *m = p->mgr;
  for (size_t i = first; i < first + batch; i++) {
    hl_hmac_job *j = &w->jobs[i];
    IMB_JOB *job = IMB_GET_NEXT_JOB(m);
    job->cipher_mode = IMB_CIPHER_NULL;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_HASH_CIPHER;
    job->hash_alg = IMB_AUTH_HMAC_SHA_256;
    job->src = j->msg;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = j->len;
    job->auth_tag_output = j->out;
    job->auth_tag_output_len_in_bytes = 32;
    job->u.HMAC._hashed_auth_key_xor_ipad = p->ipad[i % HB_KEYS];
    job->u.HMAC._hashed_auth_key_xor_opad = p->opad[i % HB_KEYS];
    job = IMB_SUBMIT_JOB(m);
    while (job != NULL) {
      imb_check(job);
      job = IMB_GET_COMPLETED_JOB(m);
    }
  }
  IMB_JOB *job;
  while ((job = IMB_FLUSH_JOB(m)) != NULL) {
    imb_check(job);
  }
}

static void run_auto(const void *arg, hb_work *w, size_t first, size_t batch) {
  (void)arg;
  hl_hmac_batch(w->jobs + first, batch);
}

/* Both libraries must agree before anything is timed. */
static void cross_check(hb_work *w, const imb_peer *p) {
  uint8_t want[HB_JOBS_MAX][32];
  hl_hmac_batch(w->jobs, HB_JOBS_MAX);
  for (int i = 0; i < HB_JOBS_MAX; i++) {
    memcpy(want[i], w->jobs[i].out, 32);
    memset(w->jobs[i].out, 0, 32);
  }
  run_imb(p, w, 0, HB_JOBS_MAX);
  for (int i = 0; i < HB_JOBS_MAX; i++) {
    if (memcmp(want[i], w->jobs[i].out, 32) != 0) {
      fprintf(stderr, "bench_hmac_ipsecmb: ipsec-mb and hookline disagree on job %d\n", i);
      exit(1);
    }
  }
}

#define REPS_MAX 31
enum { C_IMB, C_IMB_NOSHA, C_HL512, C_HLAUTO, C_N };

int main(int argc, char **argv) {
  unsigned reps = 7, ms = 100;
  size_t batch = 64;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = (unsigned)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
      ms = (unsigned)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
      batch = strtoul(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "usage: %s [--reps N] [--ms M] [--batch B]\n", argv[0]);
      return 2;
    }
  }
  if (reps < 1 || reps > REPS_MAX || ms < 1 || batch < 1 || batch > HB_JOBS_MAX) {
    fprintf(stderr, "bench_hmac_ipsecmb: --reps 1..%d, --ms >= 1, --batch 1..%d\n", REPS_MAX,
            HB_JOBS_MAX);
    return 2;
  }
  hl_hmac_impl avx512 = HL_HMAC_IMPL_AVX512;
  bool have512 = hl_hmac_impl_available(avx512);
  printf("cpu: %s; intel-ipsec-mb %s; batch %zu; M/s per core, median of %u x %u ms CPU\n",
         hl_cpu_describe(), imb_get_version_str(), batch, reps, ms);
  printf("%-8s %14s %14s %14s %14s %12s %12s\n", "size", "ipsec-mb", "ipsec-mb-noSHA",
         "hl avx512", "hl_hmac_batch", "512/noSHA", "auto/ipsec");
  static const size_t sizes[] = {64, 512, 4096, HB_MIXED};
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    hb_work *w = malloc(sizeof(*w));
    hb_work_init(w, sizes[s]);
    imb_peer imb, imb_nosha;
    imb_peer_init(&imb, 0, w);
    imb_peer_init(&imb_nosha, IMB_FLAG_SHANI_OFF, w);
    cross_check(w, &imb);
    cross_check(w, &imb_nosha);
    double v[C_N][REPS_MAX], r512[REPS_MAX], rauto[REPS_MAX];
    for (unsigned r = 0; r < reps; r++) {
      v[C_IMB][r] = hb_rate(run_imb, &imb, w, batch, ms);
      v[C_HL512][r] = have512 ? hb_rate(hb_run_batch_impl, &avx512, w, batch, ms) : 0;
      v[C_IMB_NOSHA][r] = hb_rate(run_imb, &imb_nosha, w, batch, ms);
      v[C_HLAUTO][r] = hb_rate(run_auto, NULL, w, batch, ms);
      r512[r] = v[C_HL512][r] / v[C_IMB_NOSHA][r];
      rauto[r] = v[C_HLAUTO][r] / v[C_IMB][r];
    }
    printf("%-8s", hb_size_name(sizes[s]));
    for (int c = 0; c < C_N; c++) {
      printf(" %14.2f", hb_median(v[c], reps) / 1e6);
    }
    printf(" %12.2f %12.2f\n", hb_median(r512, reps), hb_median(rauto, reps));
    free_mb_mgr(imb.mgr);
    free_mb_mgr(imb_nosha.mgr);
    hb_work_free(w);
    free(w);
  }
  return 0;
}
