/* hist: log-linear bucketing (see hist.h).
 *
 * Layout: values v < SUB map to bucket v. Otherwise let e = floor(log2 v)
 * (e >= SUB_BITS); the top SUB_BITS bits of v, of which the first is always
 * 1, select one of SUB/2 buckets in that power of two. */
#include "base/hist.h"

#include <string.h>

#include "base/assert.h"

void hl_hist_init(hl_hist *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

uint32_t hl_hist_index(uint64_t v) {
  if (v < HL_HIST_SUB) {
    return (uint32_t)v;
  }
  uint32_t e = 63u - (uint32_t)__builtin_clzll(v);
  uint32_t shift = e - (HL_HIST_SUB_BITS - 1);
  uint32_t top = (uint32_t)(v >> shift); /* in [SUB/2, SUB) */
  return HL_HIST_SUB + (e - HL_HIST_SUB_BITS) * (HL_HIST_SUB / 2) + (top - HL_HIST_SUB / 2);
}

uint64_t hl_hist_bucket_high(uint32_t i) {
  if (i < HL_HIST_SUB) {
    return i;
  }
  uint32_t k = i - HL_HIST_SUB;
  uint32_t e = k / (HL_HIST_SUB / 2) + HL_HIST_SUB_BITS;
  uint64_t top = k % (HL_HIST_SUB / 2) + HL_HIST_SUB / 2;
  uint32_t shift = e - (HL_HIST_SUB_BITS - 1);
  uint64_t low = top << shift;
  uint64_t width = (uint64_t)1 << shift;
  /* The last bucket's high end is UINT64_MAX (low + width wraps to 0). */
  return low + (width - 1);
}

void hl_hist_record_n(hl_hist *h, uint64_t v, uint64_t n) {
  uint32_t i = hl_hist_index(v);
  HL_ASSERT(i < HL_HIST_BUCKETS);
  h->buckets[i] += n;
  h->count += n;
  h->sum += v * n;
  if (v < h->min) {
    h->min = v;
  }
  if (v > h->max) {
    h->max = v;
  }
}

void hl_hist_record(hl_hist *h, uint64_t v) {
  hl_hist_record_n(h, v, 1);
}

void hl_hist_merge(hl_hist *dst, const hl_hist *src) {
  for (uint32_t i = 0; i < HL_HIST_BUCKETS; i++) {
    dst->buckets[i] += src->buckets[i];
  }
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->count > 0) {
    dst->min = src->min < dst->min ? src->min : dst->min;
    dst->max = src->max > dst->max ? src->max : dst->max;
  }
}

uint64_t hl_hist_percentile(const hl_hist *h, double p) {
  if (h->count == 0) {
    return 0;
  }
  if (p <= 0) {
    return h->min;
  }
  /* Rank of the percentile, 1-based, rounded up: p99 of 100 values is the
   * 99th smallest. */
  double want = p >= 100 ? (double)h->count : (double)h->count * p / 100.0;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want) {
    rank++;
  }
  if (rank == 0) {
    rank = 1;
  }
  uint64_t seen = 0;
  for (uint32_t i = 0; i < HL_HIST_BUCKETS; i++) {
    seen += h->buckets[i];
    if (seen >= rank) {
      uint64_t v = hl_hist_bucket_high(i);
      return v > h->max ? h->max : v < h->min ? h->min : v;
    }
  }
  return h->max;
}

uint64_t hl_hist_count_le(const hl_hist *h, uint64_t value) {
  /* Only buckets wholly at or below |value|: never counts a value above it.
   * Exact when |value| is a bucket's high end. */
  uint64_t n = 0;
  for (uint32_t i = 0; i < HL_HIST_BUCKETS && hl_hist_bucket_high(i) <= value; i++) {
    n += h->buckets[i];
  }
  return n;
}
