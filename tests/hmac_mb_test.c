/* Tests for crypto/hmac_mb: every implementation, run explicitly, agrees
 * with BoringSSL's HMAC(EVP_sha256()) on random keys (shorter and longer
 * than a block), every message length 0..300, random lengths up to 4 KiB,
 * the padding boundaries, every lane count 1..16, batches that stream
 * through the lanes, lanes of very different lengths, shared keys and
 * unaligned messages that end right before a PROT_NONE page. */
#include "crypto/hmac_mb.h"

#include <errno.h>
#include <openssl/hmac.h>
#include <stdlib.h>

#include "base/assert.h"
#include "harness.h"

#define KEYS 8
#define MSG_MAX 4096
#define JOBS_MAX 400

typedef struct fixture {
  uint8_t key_bytes[KEYS][200];
  size_t key_len[KEYS];
  hl_hmac_key keys[KEYS];
  /* Message bytes; job i's message starts at an offset chosen per job, so
   * most are unaligned. */
  uint8_t pool[MSG_MAX + 64];
  hl_hmac_job jobs[JOBS_MAX];
  size_t key_of[JOBS_MAX];
} fixture;

static fixture fx;
static bool fx_ready;

static void fixture_init(void) {
  for (int k = 0; k < KEYS; k++) {
    /* 0, a short key, exactly a block, longer than a block, and randoms. */
    static const size_t fixed[] = {0, 4, 64, 65, 200};
    fx.key_len[k] = k < 5 ? fixed[k] : hl_test_rand() % 201;
    for (size_t i = 0; i < fx.key_len[k]; i++) {
      fx.key_bytes[k][i] = (uint8_t)hl_test_rand();
    }
    hl_hmac_key_init(&fx.keys[k], fx.key_bytes[k], fx.key_len[k]);
  }
  for (size_t i = 0; i < sizeof(fx.pool); i++) {
    fx.pool[i] = (uint8_t)hl_test_rand();
  }
}

static void job_set(size_t i, size_t len) {
  HL_ASSERT(len <= MSG_MAX);
  size_t off = hl_test_rand() % (sizeof(fx.pool) - len + 1);
  fx.key_of[i] = hl_test_rand() % KEYS;
  fx.jobs[i].key = &fx.keys[fx.key_of[i]];
  fx.jobs[i].msg = fx.pool + off;
  fx.jobs[i].len = len;
  memset(fx.jobs[i].out, 0xee, sizeof(fx.jobs[i].out));
}

/* check runs |impl| over jobs[0..n) and compares each with BoringSSL. */
static void check(hl_hmac_impl impl, size_t n) {
  ASSERT_EQ(hl_hmac_batch_impl(impl, fx.jobs, n), 0);
  for (size_t i = 0; i < n; i++) {
    uint8_t want[32];
    unsigned want_len = 0;
    size_t k = fx.key_of[i];
    ASSERT_TRUE(HMAC(EVP_sha256(), fx.key_bytes[k], fx.key_len[k], fx.jobs[i].msg, fx.jobs[i].len,
                     want, &want_len) != NULL);
    ASSERT_EQ(want_len, 32);
    if (memcmp(fx.jobs[i].out, want, 32) != 0) {
      hl_test_fail(__FILE__, __LINE__, "%s: job %zu of %zu (len %zu, key %zu bytes) differs",
                   hl_hmac_impl_name(impl), i, n, fx.jobs[i].len, fx.key_len[k]);
    }
  }
}

static void need(hl_hmac_impl impl) {
  if (!fx_ready) {
    fixture_init();
    fx_ready = true;
  }
  if (!hl_hmac_impl_available(impl)) {
    TEST_SKIP("CPU lacks this implementation");
  }
}

/* Every length 0..300 in one batch (streams through the lanes), then in
 * shuffled order so that neighbouring lanes have unrelated lengths. */
static void every_length_to_300(hl_hmac_impl impl) {
  need(impl);
  for (size_t i = 0; i <= 300; i++) {
    job_set(i, i);
  }
  check(impl, 301);
  for (size_t i = 0; i <= 300; i++) {
    job_set(i, hl_test_rand() % 301);
  }
  check(impl, 301);
}

/* Lengths around every padding edge: 55 is the last that fits one tail
 * block, 56..63 need two, 64 is whole blocks plus a padding-only block. */
static void padding_boundaries(hl_hmac_impl impl) {
  need(impl);
  static const size_t edges[] = {0,   1,   55,  56,  57,  63,  64,  65,   119,  120,  121,  127,
                                 128, 129, 183, 184, 191, 192, 511, 512,  513,  1023, 1024, 4039,
                                 4040, 4047, 4048, 4095, 4096};
  size_t n = HL_ARRAY_LEN(edges);
  for (size_t i = 0; i < n; i++) {
    job_set(i, edges[i]);
  }
  check(impl, n);
  /* Each edge alone, so a lane runs with every other lane idle. */
  for (size_t i = 0; i < n; i++) {
    job_set(0, edges[i]);
    check(impl, 1);
  }
}

/* Every lane count 1..16 with equal lengths, then with one 4 KiB lane among
 * short ones (lanes finish 60 blocks apart). */
static void every_lane_count(hl_hmac_impl impl) {
  need(impl);
  static const size_t lens[] = {0, 55, 64, 120, 512, 4096};
  for (size_t n = 1; n <= 16; n++) {
    for (size_t l = 0; l < HL_ARRAY_LEN(lens); l++) {
      for (size_t i = 0; i < n; i++) {
        job_set(i, lens[l]);
      }
      check(impl, n);
    }
    for (size_t i = 0; i < n; i++) {
      job_set(i, i == n / 2 ? 4096 : hl_test_rand() % 130);
    }
    check(impl, n);
  }
}

/* Random batches up to 400 jobs of random lengths up to 4 KiB: lanes refill
 * at every block count. */
static void random_batches(hl_hmac_impl impl) {
  need(impl);
  for (int iter = 0; iter < 40; iter++) {
    size_t n = 1 + hl_test_rand() % (iter < 20 ? 40 : JOBS_MAX);
    for (size_t i = 0; i < n; i++) {
      uint64_t r = hl_test_rand();
      size_t len = (r & 3) == 0 ? hl_test_rand() % (MSG_MAX + 1) : hl_test_rand() % 700;
      job_set(i, len);
    }
    check(impl, n);
  }
}

/* Messages ending right before an unreadable page: a lane that read one
 * byte past its message would fault. Also one key shared by all jobs. */
static void guarded_messages(hl_hmac_impl impl) {
  need(impl);
  void *guard[24];
  size_t glen[24];
  for (size_t i = 0; i < 24; i++) {
    glen[i] = i < 16 ? i * 64 + (i & 1) * 7 : 1 + hl_test_rand() % 1500;
    job_set(i, glen[i]);
    guard[i] = hl_test_guard(fx.jobs[i].msg, glen[i]);
    fx.jobs[i].msg = guard[i];
    fx.jobs[i].key = &fx.keys[3];
    fx.key_of[i] = 3;
  }
  check(impl, 24);
  for (size_t i = 0; i < 24; i++) {
    hl_test_guard_free(guard[i], glen[i]);
  }
}

#define IMPL_TESTS(name, impl) \
  TEST(name##_every_length_to_300) { every_length_to_300(impl); } \
  TEST(name##_padding_boundaries) { padding_boundaries(impl); } \
  TEST(name##_every_lane_count) { every_lane_count(impl); } \
  TEST(name##_random_batches) { random_batches(impl); } \
  TEST(name##_guarded_messages) { guarded_messages(impl); }

IMPL_TESTS(scalar, HL_HMAC_IMPL_SCALAR)
IMPL_TESTS(single, HL_HMAC_IMPL_SINGLE)
IMPL_TESTS(avx2, HL_HMAC_IMPL_AVX2)
IMPL_TESTS(avx512, HL_HMAC_IMPL_AVX512)
IMPL_TESTS(auto, HL_HMAC_IMPL_AUTO)

TEST(rfc4231_case_2_in_a_full_batch) {
  hl_hmac_key k;
  hl_hmac_key_init(&k, "Jefe", 4);
  const char *msg = "what do ya want for nothing?";
  static const uint8_t want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                   0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                   0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  hl_hmac_job jobs[20];
  for (int impl = 0; impl < HL_HMAC_IMPL_COUNT; impl++) {
    if (!hl_hmac_impl_available((hl_hmac_impl)impl)) {
      continue;
    }
    for (size_t i = 0; i < HL_ARRAY_LEN(jobs); i++) {
      jobs[i] = (hl_hmac_job){.key = &k, .msg = (const uint8_t *)msg, .len = 28};
    }
    ASSERT_EQ(hl_hmac_batch_impl((hl_hmac_impl)impl, jobs, HL_ARRAY_LEN(jobs)), 0);
    for (size_t i = 0; i < HL_ARRAY_LEN(jobs); i++) {
      ASSERT_MEM_EQ(jobs[i].out, 32, want, 32);
    }
  }
  hl_hmac_key_cleanup(&k);
}

TEST(empty_batch_touches_nothing) {
  hl_hmac_job job = {.key = NULL, .msg = NULL, .len = 0};
  memset(job.out, 0xab, sizeof(job.out));
  for (int impl = 0; impl < HL_HMAC_IMPL_COUNT; impl++) {
    if (hl_hmac_impl_available((hl_hmac_impl)impl)) {
      ASSERT_EQ(hl_hmac_batch_impl((hl_hmac_impl)impl, &job, 0), 0);
    }
  }
  hl_hmac_batch(&job, 0);
  for (size_t i = 0; i < sizeof(job.out); i++) {
    ASSERT_EQ(job.out[i], 0xab);
  }
}

TEST(empty_message_may_be_null) {
  hl_hmac_key k;
  hl_hmac_key_init(&k, "key", 3);
  uint8_t want[32];
  unsigned want_len;
  HMAC(EVP_sha256(), "key", 3, (const uint8_t *)"", 0, want, &want_len);
  for (int impl = 0; impl < HL_HMAC_IMPL_COUNT; impl++) {
    if (!hl_hmac_impl_available((hl_hmac_impl)impl)) {
      continue;
    }
    hl_hmac_job job = {.key = &k, .msg = NULL, .len = 0};
    ASSERT_EQ(hl_hmac_batch_impl((hl_hmac_impl)impl, &job, 1), 0);
    ASSERT_MEM_EQ(job.out, 32, want, 32);
  }
}

TEST(unknown_or_missing_impl_is_refused) {
  hl_hmac_job job = {.key = NULL, .msg = NULL, .len = 0};
  memset(job.out, 0xab, sizeof(job.out));
  ASSERT_EQ(hl_hmac_batch_impl((hl_hmac_impl)99, &job, 1), -ENOTSUP);
  ASSERT_FALSE(hl_hmac_impl_available((hl_hmac_impl)99));
  ASSERT_STR_EQ(hl_hmac_impl_name((hl_hmac_impl)99), "unknown");
  ASSERT_STR_EQ(hl_hmac_impl_name(HL_HMAC_IMPL_AVX512), "avx512");
  ASSERT_TRUE(hl_hmac_impl_available(HL_HMAC_IMPL_SCALAR));
  ASSERT_TRUE(hl_hmac_impl_available(HL_HMAC_IMPL_SINGLE));
  ASSERT_EQ(job.out[0], 0xab);
}
