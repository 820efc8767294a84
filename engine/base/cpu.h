/* cpu: instruction-set features, detected once, for run-time dispatch.
 *
 * SIMD code paths (JSON escape, multi-buffer HMAC) ask hl_cpu_has() and keep a
 * portable fallback. HL_CPU_DISABLE (environment, comma-separated: "avx512",
 * "avx2", "sha", "sse42") masks features off, so tests and benchmarks can force each
 * path on a machine that has them all. */
#ifndef HL_BASE_CPU_H
#define HL_BASE_CPU_H

#include <stdbool.h>

typedef enum hl_cpu_feature {
  HL_CPU_AVX2 = 1u << 0,
  HL_CPU_AVX512 = 1u << 1, /* F + BW + VL, with OS support for the state */
  HL_CPU_SHA = 1u << 2,    /* SHA-NI */
  HL_CPU_BMI2 = 1u << 3,
  HL_CPU_SSE42 = 1u << 4, /* the crc32 instruction (CRC32C) */
} hl_cpu_feature;

/* hl_cpu_features returns the mask of available features (thread-safe). */
unsigned hl_cpu_features(void);

static inline bool hl_cpu_has(hl_cpu_feature f) {
  return (hl_cpu_features() & (unsigned)f) == (unsigned)f;
}

/* hl_cpu_describe returns e.g. "avx2 avx512 sha bmi2" for logs and reports. */
const char *hl_cpu_describe(void);

#endif
