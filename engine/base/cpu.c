/* cpu: feature detection (see cpu.h). */
#include "base/cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static unsigned cpu_mask;
static char cpu_text[64];
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static unsigned cpu_detect(void) {
  unsigned m = 0;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    m |= HL_CPU_AVX2;
  }
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    m |= HL_CPU_AVX512;
  }
  if (__builtin_cpu_supports("bmi2")) {
    m |= HL_CPU_BMI2;
  }
  if (__builtin_cpu_supports("sse4.2")) {
    m |= HL_CPU_SSE42;
  }
  unsigned a, b, c, d;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0) {
    m |= HL_CPU_SHA;
  }
#endif
  return m;
}

static void cpu_init(void) {
  unsigned m = cpu_detect();
  const char *off = getenv("HL_CPU_DISABLE");
  if (off != NULL) {
    if (strstr(off, "avx512") != NULL) {
      m &= ~(unsigned)HL_CPU_AVX512;
    }
    if (strstr(off, "avx2") != NULL) {
      /* AVX-512 code paths assume AVX2 is there too. */
      m &= ~(unsigned)(HL_CPU_AVX2 | HL_CPU_AVX512);
    }
    if (strstr(off, "sha") != NULL) {
      m &= ~(unsigned)HL_CPU_SHA;
    }
    if (strstr(off, "sse42") != NULL) {
      m &= ~(unsigned)HL_CPU_SSE42;
    }
  }
  cpu_mask = m;
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{HL_CPU_AVX2, "avx2"}, {HL_CPU_AVX512, "avx512"}, {HL_CPU_SHA, "sha"},
               {HL_CPU_BMI2, "bmi2"}, {HL_CPU_SSE42, "sse42"}};
  size_t len = 0;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if ((m & names[i].bit) == 0) {
      continue;
    }
    size_t n = strlen(names[i].name);
    if (len + n + 2 > sizeof(cpu_text)) {
      break;
    }
    if (len > 0) {
      cpu_text[len++] = ' ';
    }
    memcpy(cpu_text + len, names[i].name, n);
    len += n;
  }
  cpu_text[len] = '\0';
}

unsigned hl_cpu_features(void) {
  pthread_once(&cpu_once, cpu_init);
  return cpu_mask;
}

const char *hl_cpu_describe(void) {
  pthread_once(&cpu_once, cpu_init);
  return cpu_text[0] != '\0' ? cpu_text : "none";
}
