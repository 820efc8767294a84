/* hist: a fixed-size log-linear histogram of non-negative values (latencies
 * in microseconds, sizes in bytes).
 *
 * Values below 2^HL_HIST_SUB_BITS are counted exactly; above, each power of
 * two is split into 2^HL_HIST_SUB_BITS equal buckets, so any recorded value is
 * reported within 1 / 2^HL_HIST_SUB_BITS (about 1.6 %) of itself, like
 * HdrHistogram with two significant digits. Memory is fixed (no allocation),
 * recording is a few instructions, and histograms merge by addition, so
 * per-thread histograms can be summed for a report. Not thread-safe: one
 * writer per histogram. */
#ifndef HL_BASE_HIST_H
#define HL_BASE_HIST_H

#include <stdint.h>

#define HL_HIST_SUB_BITS 6
#define HL_HIST_SUB (1u << HL_HIST_SUB_BITS)
/* Buckets for the exact range plus (64 - SUB_BITS) halved powers of two. */
#define HL_HIST_BUCKETS (HL_HIST_SUB + (64 - HL_HIST_SUB_BITS) * (HL_HIST_SUB / 2))

typedef struct hl_hist {
  uint64_t count;
  uint64_t sum;
  uint64_t min;
  uint64_t max;
  uint64_t buckets[HL_HIST_BUCKETS];
} hl_hist;

void hl_hist_init(hl_hist *h);
void hl_hist_record(hl_hist *h, uint64_t value);
void hl_hist_record_n(hl_hist *h, uint64_t value, uint64_t n);
/* hl_hist_merge adds |src| into |dst|. */
void hl_hist_merge(hl_hist *dst, const hl_hist *src);

/* hl_hist_percentile returns the value at percentile |p| (0..100): the
 * highest value of the bucket holding that rank, clamped to [min, max];
 * 0 for an empty histogram. */
uint64_t hl_hist_percentile(const hl_hist *h, double p);

/* hl_hist_count_le returns how many recorded values lie in buckets wholly at
 * or below |value|, for cumulative Prometheus buckets: it never counts a
 * value above |value|, and is exact when |value| is a bucket's high end. */
uint64_t hl_hist_count_le(const hl_hist *h, uint64_t value);

/* Bucket geometry, for exporters: index of a value, and the highest value
 * that maps to a bucket. */
uint32_t hl_hist_index(uint64_t value);
uint64_t hl_hist_bucket_high(uint32_t index);

#endif
