/* hmac_mb: many HMAC-SHA256 signatures at once, in SIMD lanes.
 *
 * The engine collects the HMAC jobs of every delivery rendered in one loop
 * iteration and hands them to hl_hmac_batch. A multi-buffer implementation
 * runs one SHA-256 compression on 8 (AVX2) or 16 (AVX-512) independent
 * messages at a time, one message per 32-bit lane; jobs stream through the
 * lanes, so a lane whose message is done takes the next waiting job while
 * the others carry on. Each job has its own key (precomputed pads, see
 * crypto/hmac.h) and its own length; every message is one contiguous span.
 *
 * This module owns only the hashing: it never allocates, never keeps state
 * between calls (all scratch is on the stack), and touches no job field but
 * |out|. It must not learn about signing schemes (crypto/sign does that).
 * Key material passes through stack scratch, which is wiped before return. */
#ifndef HL_CRYPTO_HMAC_MB_H
#define HL_CRYPTO_HMAC_MB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/hmac.h"

/* The widest implementation's lane count (AVX-512: 16 x 32-bit words). */
#define HL_HMAC_MB_LANES_MAX 16

/* One signature to compute: HMAC-SHA256(key, msg[0..len)) into |out|. The
 * key and message must stay valid and unchanged for the duration of the
 * call; |msg| needs no alignment and may be NULL when |len| is 0. Jobs may
 * share a key. */
typedef struct hl_hmac_job {
  const hl_hmac_key *key;
  const uint8_t *msg;
  size_t len;
  uint8_t out[HL_HMAC_SHA256_BYTES];
} hl_hmac_job;

typedef enum hl_hmac_impl {
  HL_HMAC_IMPL_AUTO = 0, /* what hl_hmac_batch picks for this batch */
  HL_HMAC_IMPL_SCALAR,   /* portable C, 4 lanes through the same scheduler */
  HL_HMAC_IMPL_SINGLE,   /* one job at a time, BoringSSL's SHA-256 (SHA-NI) */
  HL_HMAC_IMPL_AVX2,     /* 8 lanes */
  HL_HMAC_IMPL_AVX512,   /* 16 lanes (AVX-512 F + BW + VL) */
} hl_hmac_impl;

#define HL_HMAC_IMPL_COUNT 5

/* hl_hmac_batch computes every job's HMAC. It chooses per batch: the
 * single-stream path when too few jobs wait to fill SIMD lanes, else the
 * widest multi-buffer implementation the CPU has (base/cpu.h, so
 * HL_CPU_DISABLE applies), finishing the last few lanes single-stream when
 * that is cheaper than running mostly idle lanes. Any n (0 included); any
 * mix of keys and lengths. */
void hl_hmac_batch(hl_hmac_job *jobs, size_t n);

/* hl_hmac_batch_impl runs exactly |impl| (no single-stream finish for the
 * multi-buffer ones), for tests, fuzzing and benchmarks. Returns 0, or
 * -ENOTSUP (computing nothing) when this CPU or build lacks |impl|. */
int hl_hmac_batch_impl(hl_hmac_impl impl, hl_hmac_job *jobs, size_t n);

/* hl_hmac_impl_available says whether |impl| can run here. */
bool hl_hmac_impl_available(hl_hmac_impl impl);

/* hl_hmac_impl_name returns a short name ("avx512", ...) for reports. */
const char *hl_hmac_impl_name(hl_hmac_impl impl);

#endif
