/* Tests for base/hist: bucket geometry and percentiles against exact sorts. */
#include "base/hist.h"

#include <stdlib.h>

#include "harness.h"

TEST(geometry_is_contiguous_and_monotonic) {
  /* Every bucket's range starts right after the previous one ends. */
  for (uint32_t i = 1; i < HL_HIST_BUCKETS; i++) {
    uint64_t prev_high = hl_hist_bucket_high(i - 1);
    ASSERT_EQ(hl_hist_index(prev_high), i - 1);
    ASSERT_EQ(hl_hist_index(prev_high + 1), i);
  }
  ASSERT_EQ(hl_hist_index(UINT64_MAX), HL_HIST_BUCKETS - 1);
  ASSERT_EQ(hl_hist_bucket_high(HL_HIST_BUCKETS - 1), UINT64_MAX);
}

TEST(relative_error_is_bounded) {
  for (int i = 0; i < 100000; i++) {
    uint64_t v = hl_test_rand() >> (hl_test_rand() % 64);
    uint64_t high = hl_hist_bucket_high(hl_hist_index(v));
    ASSERT_GE(high, v);
    /* high - v < v / 32 (2 / SUB) for values past the exact range. */
    if (v >= HL_HIST_SUB) {
      ASSERT_LE((double)(high - v), (double)v * 2.0 / HL_HIST_SUB);
    } else {
      ASSERT_EQ(high, v);
    }
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

TEST(percentiles_match_a_sort_within_resolution) {
  enum { N = 20000 };
  static uint64_t values[N];
  hl_hist h;
  hl_hist_init(&h);
  for (int i = 0; i < N; i++) {
    /* Long-tailed, like latencies: mostly ~100 us, some ms. */
    values[i] = 50 + hl_test_rand() % 100 + (hl_test_rand() % 100 == 0 ? hl_test_rand() % 50000 : 0);
    hl_hist_record(&h, values[i]);
  }
  qsort(values, N, sizeof(values[0]), cmp_u64);
  const double ps[] = {1, 50, 90, 99, 99.9, 100};
  for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
    size_t rank = (size_t)(ps[k] / 100.0 * N + 0.999999);
    uint64_t exact = values[(rank == 0 ? 1 : rank) - 1];
    uint64_t got = hl_hist_percentile(&h, ps[k]);
    ASSERT_GE(got, exact);
    ASSERT_LE((double)got, (double)exact * 1.04 + 1);
  }
  ASSERT_EQ(hl_hist_percentile(&h, 100), values[N - 1]);
  ASSERT_EQ(hl_hist_percentile(&h, 0), values[0]);
  ASSERT_EQ(h.count, N);
  ASSERT_EQ(hl_hist_count_le(&h, UINT64_MAX), N);
}

TEST(merge_adds_and_empty_is_zero) {
  hl_hist a, b;
  hl_hist_init(&a);
  hl_hist_init(&b);
  ASSERT_EQ(hl_hist_percentile(&a, 50), 0);
  hl_hist_record_n(&a, 10, 3);
  hl_hist_record(&b, 1000);
  hl_hist_merge(&a, &b);
  ASSERT_EQ(a.count, 4);
  ASSERT_EQ(a.sum, 1030);
  ASSERT_EQ(a.min, 10);
  ASSERT_EQ(a.max, 1000);
  ASSERT_EQ(hl_hist_percentile(&a, 75), 10);
  ASSERT_EQ(hl_hist_percentile(&a, 76), 1000);
  ASSERT_EQ(hl_hist_count_le(&a, 999), 3);
}
