/* clock: monotonic and wall time, in named units. No state. */
#ifndef HL_BASE_CLOCK_H
#define HL_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* hl_clock_mono_ns: monotonic nanoseconds, for durations and deadlines. */
static inline uint64_t hl_clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t hl_clock_mono_ms(void) {
  return hl_clock_mono_ns() / 1000000u;
}

/* hl_clock_wall_ms: Unix time in milliseconds, for timestamps that leave the
 * process (signatures, the attempt log). */
static inline uint64_t hl_clock_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
