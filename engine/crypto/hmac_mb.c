/* hmac_mb: multi-buffer HMAC-SHA256 (see hmac_mb.h).
 *
 * Layout of the work. Every job is a sequence of SHA-256 blocks in three
 * phases: the message's whole blocks (read in place), one or two tail blocks
 * (the message's last bytes, 0x80, zeros, the bit length counting the
 * 64-byte ipad block), and one outer block (the inner digest, padding, from
 * the key's outer state). A lane holds one job; the scheduler runs the
 * compression over all lanes for as many blocks as the shortest phase still
 * has, then moves the lanes whose phase ended on (and a finished lane takes
 * the next waiting job). Between compressions the chaining state is one row
 * per lane, so moving a lane on is a few plain copies; a SIMD compression
 * transposes the rows into word vectors once per call.
 *
 * A compression function sees only (state, one block pointer per lane,
 * block count): the scalar, AVX2 and AVX-512 versions plug into the same
 * scheduler, so the portable build exercises the streaming logic too. Idle
 * lanes (the queue ran dry) are pointed at an active lane's data and their
 * state is ignored: cheaper than masking. When few lanes are left busy and
 * no job waits, hl_hmac_batch finishes them single-stream (SHA-NI), and it
 * uses the single stream outright for batches too small to pay for lanes.
 *
 * Loading blocks: each lane's 64-byte block is read with plain unaligned
 * loads and transposed in registers (AVX-512: 16x16 words in 64 shuffles;
 * AVX2: two 8x8 words in 48), then byte-swapped. Gathers did the same job
 * slower here: 795 against 600 cycles per 16-lane block (AVX-512), 1133
 * against 1040 per 8-lane block (AVX2). */
#include "crypto/hmac_mb.h"

#include <errno.h>
#include <openssl/mem.h>
#include <openssl/sha.h>
#include <stdalign.h>
#include <string.h>

#include "base/assert.h"
#include "base/cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HL_MB_X86 1
#define HL_TARGET_AVX2 __attribute__((target("avx2")))
#define HL_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#endif

#define MB_BLOCK HL_SHA256_BLOCK_BYTES
#define MB_SCALAR_LANES 4

/* K[64] is read (and unused) by the last SIMD round. */
static const uint32_t K256[65] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Chaining values of every lane, one row of eight words per lane: the
 * scheduler reads and writes a lane's row with plain copies, and the SIMD
 * compressions transpose the rows into word vectors on entry and back on
 * exit (a few dozen shuffles per call, not per block). */
typedef struct mb_state {
  alignas(64) uint32_t h[HL_HMAC_MB_LANES_MAX][8];
} mb_state;

/* Runs |nblocks| compressions on every lane: lane i reads its blocks from
 * ptr[i] onwards, contiguous. */
typedef void (*mb_compress_fn)(mb_state *st, const uint8_t *const *ptr, size_t nblocks);

/* Costs steer hl_hmac_batch between single-stream and lanes. Units are
 * nanoseconds on the machine they were measured on (an AMD EPYC, Zen 5, at
 * 3.5 GHz, bench/hmac_mb_bench.c and a block-level loop); only their ratios
 * matter. */
typedef struct mb_cost {
  unsigned block;   /* one compression of all lanes */
  unsigned job;     /* per job: tail and outer blocks built, lane moved on */
  unsigned batch;   /* per call: scheduler set-up and wipe */
} mb_cost;

/* Single stream, per block and per job, [0] without SHA-NI, [1] with:
 * BoringSSL's SHA-NI block is 35.5 ns, its AVX code 121 ns. */
static const mb_cost single_cost[2] = {{121, 30, 0}, {36, 22, 0}};

typedef struct mb_impl {
  unsigned lanes;
  mb_compress_fn compress;
  mb_cost cost;
} mb_impl;

static inline uint32_t load_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* --- portable compression ------------------------------------------------ */

static inline uint32_t ror32(uint32_t x, unsigned n) {
  return (x >> n) | (x << (32 - n));
}

static void sha256_block_c(uint32_t s[8], const uint8_t *p) {
  uint32_t w[64];
  for (int t = 0; t < 16; t++) {
    w[t] = load_be32(p + 4 * t);
  }
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = ror32(w[t - 15], 7) ^ ror32(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = ror32(w[t - 2], 17) ^ ror32(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (int t = 0; t < 64; t++) {
    uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) + K256[t] +
                  w[t];
    uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  s[0] += a;
  s[1] += b;
  s[2] += c;
  s[3] += d;
  s[4] += e;
  s[5] += f;
  s[6] += g;
  s[7] += h;
}

static void mb_compress_scalar(mb_state *st, const uint8_t *const *ptr, size_t nblocks) {
  for (unsigned lane = 0; lane < MB_SCALAR_LANES; lane++) {
    for (size_t b = 0; b < nblocks; b++) {
      sha256_block_c(st->h[lane], ptr[lane] + b * MB_BLOCK);
    }
  }
}

#if defined(HL_MB_X86)
/* The compiler would reassociate the rounds' additions into a longer
 * chain; partial sums are pinned with an empty asm (no instruction). */
#define MB_PIN(x) __asm__("" : "+v"(x))

/* --- AVX-512: 16 lanes ------------------------------------------------------
 * The three rotations of each Sigma fold into one three-way XOR, and Ch /
 * Maj are one ternary-logic instruction each (truth tables 0xca = e ? f : g,
 * 0xe8 = majority, 0x96 = a ^ b ^ c). The sixteen schedule words mostly
 * stay in registers (32 zmm: 8 state + 16 W + temporaries).
 *
 * What sets the speed (measured on Zen 5, where these instructions take 2
 * cycles): the rounds are a dependency chain, so latency, not instruction
 * count, decides. vpternlogd answers 1-2 cycles sooner for its first
 * operand than for the others, so the newest value (e for Ch, a for Maj,
 * the last rotation for a Sigma) goes first; register copies this needs are
 * free (eliminated at rename). With the additions ordered below, a block
 * costs ~600 cycles for 16 lanes, against ~1000 written the textbook way. */
#define V5_ADD(x, y) _mm512_add_epi32((x), (y))
#define V5_XOR3(x, y, z) _mm512_ternarylogic_epi32((x), (y), (z), 0x96)
#define V5_S0(a) V5_SIGMA(a, 2, 13, 22)
#define V5_S1(e) V5_SIGMA(e, 6, 11, 25)
#define V5_s0(x) V5_XOR3(_mm512_ror_epi32(x, 7), _mm512_ror_epi32(x, 18), _mm512_srli_epi32(x, 3))
#define V5_s1(x) V5_XOR3(_mm512_ror_epi32(x, 17), _mm512_ror_epi32(x, 19), _mm512_srli_epi32(x, 10))


/* Sigma0 / Sigma1, the rotation issued last as vpternlogd's first
 * operand. */
#define V5_SIGMA(x, r1, r2, r3) \
  __extension__({ \
    __m512i p_ = _mm512_ror_epi32(x, r1); \
    __m512i q_ = _mm512_ror_epi32(x, r2); \
    __m512i r_ = _mm512_ror_epi32(x, r3); \
    _mm512_ternarylogic_epi32(r_, p_, q_, 0x96); \
  })

/* W[t] for t >= 16, in place in the 16-word window. */
#define V5_SCHED(t) \
  W[(t)&15] = V5_ADD(V5_ADD(W[(t)&15], W[((t) + 9) & 15]), \
                     V5_ADD(V5_s0(W[((t) + 1) & 15]), V5_s1(W[((t) + 14) & 15])))

/* Round i of a group of 16 (k points at the group's constants). |hkw| =
 * h + K[t] + W[t] and |pre| = d + hkw arrive computed by the round before
 * (h and d are known rounds ahead), so that the new e is pre + Ch + Sigma1
 * and the new a is hkw + Ch + Sigma1 + Maj + Sigma0 with the Sigma, which
 * arrives last, added last: two additions after it instead of three or
 * four. |sched| also extends the message schedule by the word the next
 * round needs. */
#define V5_ROUND(a, b, c, d, e, f, g, h, i, sched) \
  do { \
    if (sched) { \
      V5_SCHED((i) + 1); \
    } \
    __m512i hkw_n = V5_ADD(g, V5_ADD(W[((i) + 1) & 15], _mm512_set1_epi32((int)k[(i) + 1]))); \
    __m512i pre_n = V5_ADD(c, hkw_n); \
    __m512i ch_ = _mm512_ternarylogic_epi32(e, f, g, 0xca); \
    __m512i s1_ = V5_S1(e); \
    __m512i u_ = V5_ADD(pre, ch_), v_ = V5_ADD(hkw, ch_); \
    MB_PIN(u_); \
    MB_PIN(v_); \
    d = V5_ADD(u_, s1_); \
    __m512i w_ = V5_ADD(V5_ADD(v_, s1_), _mm512_ternarylogic_epi32(a, b, c, 0xe8)); \
    MB_PIN(w_); \
    h = V5_ADD(w_, V5_S0(a)); \
    hkw = hkw_n; \
    pre = pre_n; \
  } while (0)

#define V5_ROUNDS8(i, s) \
  V5_ROUND(a, b, c, d, e, f, g, h, (i) + 0, (s) || (i) + 0 == 15); \
  V5_ROUND(h, a, b, c, d, e, f, g, (i) + 1, (s) || (i) + 1 == 15); \
  V5_ROUND(g, h, a, b, c, d, e, f, (i) + 2, (s) || (i) + 2 == 15); \
  V5_ROUND(f, g, h, a, b, c, d, e, (i) + 3, (s) || (i) + 3 == 15); \
  V5_ROUND(e, f, g, h, a, b, c, d, (i) + 4, (s) || (i) + 4 == 15); \
  V5_ROUND(d, e, f, g, h, a, b, c, (i) + 5, (s) || (i) + 5 == 15); \
  V5_ROUND(c, d, e, f, g, h, a, b, (i) + 6, (s) || (i) + 6 == 15); \
  V5_ROUND(b, c, d, e, f, g, h, a, (i) + 7, (s) || (i) + 7 == 15)

/* Loads block |off| of the 16 lanes and transposes it into W[0..15], each
 * word t of every lane, byte-swapped to big-endian order. */
HL_TARGET_AVX512 static inline void x16_load_block(__m512i W[16], const uint8_t *const *ptr,
                                                   size_t off) {
  const __m512i bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
  __m512i r[16], t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; i++) {
    r[i] = _mm512_shuffle_epi8(_mm512_loadu_si512((const void *)(ptr[i] + off)), bswap);
  }
  /* Pairs of rows interleave words, then quads interleave pairs: within each
   * 128-bit chunk c, t[4g + m] holds word 4c + m of rows 4g .. 4g + 3. */
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
#pragma GCC unroll 4
  for (int g = 0; g < 4; g++) {
    __m512i p0 = t[4 * g], p1 = t[4 * g + 1], p2 = t[4 * g + 2], p3 = t[4 * g + 3];
    t[4 * g + 0] = _mm512_unpacklo_epi64(p0, p2);
    t[4 * g + 1] = _mm512_unpackhi_epi64(p0, p2);
    t[4 * g + 2] = _mm512_unpacklo_epi64(p1, p3);
    t[4 * g + 3] = _mm512_unpackhi_epi64(p1, p3);
  }
  /* Word 4c + m of all rows = chunk c of t[m], t[4 + m], t[8 + m], t[12 + m]. */
#pragma GCC unroll 4
  for (int m = 0; m < 4; m++) {
    __m512i x01 = _mm512_shuffle_i32x4(t[m], t[4 + m], 0x44);
    __m512i y01 = _mm512_shuffle_i32x4(t[m], t[4 + m], 0xee);
    __m512i x23 = _mm512_shuffle_i32x4(t[8 + m], t[12 + m], 0x44);
    __m512i y23 = _mm512_shuffle_i32x4(t[8 + m], t[12 + m], 0xee);
    W[m] = _mm512_shuffle_i32x4(x01, x23, 0x88);
    W[4 + m] = _mm512_shuffle_i32x4(x01, x23, 0xdd);
    W[8 + m] = _mm512_shuffle_i32x4(y01, y23, 0x88);
    W[12 + m] = _mm512_shuffle_i32x4(y01, y23, 0xdd);
  }
}

/* Word-major chaining values of 16 lanes: v[w] is one zmm. */
typedef struct x16_state {
  alignas(64) uint32_t v[8][16];
} x16_state;

/* One block on all lanes. A function per block rather than a loop body:
 * inside a loop the compiler hoists the round constants out as broadcast
 * registers and spills them, costing more than the state's load and store
 * here. */
HL_TARGET_AVX512 __attribute__((noinline)) static void x16_block(x16_state *st,
                                                               const uint8_t *const *ptr,
                                                               size_t off, const uint32_t *k) {
  /* Hide the table's contents so each constant stays a memory operand
   * (an embedded broadcast) instead of an immediate moved and broadcast. */
  __asm__("" : "+r"(k));
  __m512i W[16];
  x16_load_block(W, ptr, off);
  __m512i a = _mm512_load_si512((const void *)st->v[0]);
  __m512i b = _mm512_load_si512((const void *)st->v[1]);
  __m512i c = _mm512_load_si512((const void *)st->v[2]);
  __m512i d = _mm512_load_si512((const void *)st->v[3]);
  __m512i e = _mm512_load_si512((const void *)st->v[4]);
  __m512i f = _mm512_load_si512((const void *)st->v[5]);
  __m512i g = _mm512_load_si512((const void *)st->v[6]);
  __m512i h = _mm512_load_si512((const void *)st->v[7]);
  __m512i hkw = V5_ADD(h, V5_ADD(W[0], _mm512_set1_epi32((int)k[0])));
  __m512i pre = V5_ADD(d, hkw);
  /* Rounds 0..15 use the loaded words; 16..63 are three identical groups
   * of 16 (the window indices repeat), looped to keep the code small. The
   * last round schedules a 65th word and reads K[64]: unused. */
  V5_ROUNDS8(0, 0);
  V5_ROUNDS8(8, 0);
  for (int j = 0; j < 3; j++) {
    k += 16;
    V5_ROUNDS8(0, 1);
    V5_ROUNDS8(8, 1);
  }
  _mm512_store_si512((void *)st->v[0], V5_ADD(a, _mm512_load_si512((const void *)st->v[0])));
  _mm512_store_si512((void *)st->v[1], V5_ADD(b, _mm512_load_si512((const void *)st->v[1])));
  _mm512_store_si512((void *)st->v[2], V5_ADD(c, _mm512_load_si512((const void *)st->v[2])));
  _mm512_store_si512((void *)st->v[3], V5_ADD(d, _mm512_load_si512((const void *)st->v[3])));
  _mm512_store_si512((void *)st->v[4], V5_ADD(e, _mm512_load_si512((const void *)st->v[4])));
  _mm512_store_si512((void *)st->v[5], V5_ADD(f, _mm512_load_si512((const void *)st->v[5])));
  _mm512_store_si512((void *)st->v[6], V5_ADD(g, _mm512_load_si512((const void *)st->v[6])));
  _mm512_store_si512((void *)st->v[7], V5_ADD(h, _mm512_load_si512((const void *)st->v[7])));
}

/* Lane rows to word vectors: rows i and i + 4 share a register, an 8x8
 * word transpose runs inside each 256-bit half, and 128-bit chunk shuffles
 * put lanes 0..15 in order. */
HL_TARGET_AVX512 static void x16_rows_to_words(x16_state *out, const mb_state *st) {
  __m512i u[8];
#pragma GCC unroll 2
  for (int g = 0; g < 2; g++) {
    __m512i z[4], t[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
      __m256i lo = _mm256_load_si256((const __m256i *)(const void *)st->h[8 * g + j]);
      __m256i hi = _mm256_load_si256((const __m256i *)(const void *)st->h[8 * g + j + 4]);
      z[j] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    t[0] = _mm512_unpacklo_epi32(z[0], z[1]);
    t[1] = _mm512_unpackhi_epi32(z[0], z[1]);
    t[2] = _mm512_unpacklo_epi32(z[2], z[3]);
    t[3] = _mm512_unpackhi_epi32(z[2], z[3]);
    u[4 * g + 0] = _mm512_unpacklo_epi64(t[0], t[2]);
    u[4 * g + 1] = _mm512_unpackhi_epi64(t[0], t[2]);
    u[4 * g + 2] = _mm512_unpacklo_epi64(t[1], t[3]);
    u[4 * g + 3] = _mm512_unpackhi_epi64(t[1], t[3]);
  }
#pragma GCC unroll 4
  for (int m = 0; m < 4; m++) {
    _mm512_store_si512((void *)out->v[m], _mm512_shuffle_i32x4(u[m], u[4 + m], 0x88));
    _mm512_store_si512((void *)out->v[4 + m], _mm512_shuffle_i32x4(u[m], u[4 + m], 0xdd));
  }
}

/* The inverse of x16_rows_to_words. */
HL_TARGET_AVX512 static void x16_words_to_rows(mb_state *st, const x16_state *in) {
  const __m512i lo_idx = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
  const __m512i hi_idx = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
#pragma GCC unroll 2
  for (int g = 0; g < 2; g++) {
    __m512i u[4], t[4], z[4];
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++) {
      __m512i w = _mm512_load_si512((const void *)in->v[m]);
      __m512i w4 = _mm512_load_si512((const void *)in->v[m + 4]);
      u[m] = _mm512_permutex2var_epi64(w, g == 0 ? lo_idx : hi_idx, w4);
    }
    t[0] = _mm512_unpacklo_epi32(u[0], u[1]);
    t[1] = _mm512_unpackhi_epi32(u[0], u[1]);
    t[2] = _mm512_unpacklo_epi32(u[2], u[3]);
    t[3] = _mm512_unpackhi_epi32(u[2], u[3]);
    z[0] = _mm512_unpacklo_epi64(t[0], t[2]);
    z[1] = _mm512_unpackhi_epi64(t[0], t[2]);
    z[2] = _mm512_unpacklo_epi64(t[1], t[3]);
    z[3] = _mm512_unpackhi_epi64(t[1], t[3]);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
      _mm256_store_si256((__m256i *)(void *)st->h[8 * g + j], _mm512_castsi512_si256(z[j]));
      _mm256_store_si256((__m256i *)(void *)st->h[8 * g + j + 4],
                         _mm512_extracti64x4_epi64(z[j], 1));
    }
  }
}

HL_TARGET_AVX512 static void mb_compress_avx512(mb_state *st, const uint8_t *const *ptr,
                                                size_t nblocks) {
  x16_state v;
  x16_rows_to_words(&v, st);
  for (size_t blk = 0; blk < nblocks; blk++) {
    x16_block(&v, ptr, blk * MB_BLOCK, K256);
  }
  x16_words_to_rows(st, &v);
}

/* --- AVX2: 8 lanes -------------------------------------------------------------
 * No rotate instruction: each Sigma is six shifts and five XORs over the
 * word. Ch is ((f ^ g) & e) ^ g; Maj is ((a ^ b) & (b ^ c)) ^ b. */
#define V2_ADD(x, y) _mm256_add_epi32((x), (y))
#define V2_XOR(x, y) _mm256_xor_si256((x), (y))
#define V2_SR(x, n) _mm256_srli_epi32((x), (n))
#define V2_SL(x, n) _mm256_slli_epi32((x), (n))
#define V2_SIG(x, r1, r2, r3) \
  V2_XOR(V2_XOR(V2_XOR(V2_SR(x, r1), V2_SL(x, 32 - (r1))), \
                V2_XOR(V2_SR(x, r2), V2_SL(x, 32 - (r2)))), \
         V2_XOR(V2_SR(x, r3), V2_SL(x, 32 - (r3))))
#define V2_sig(x, r1, r2, s) \
  V2_XOR(V2_XOR(V2_XOR(V2_SR(x, r1), V2_SL(x, 32 - (r1))), \
                V2_XOR(V2_SR(x, r2), V2_SL(x, 32 - (r2)))), \
         V2_SR(x, s))

#define V2_SCHED(t) \
  W[(t)&15] = V2_ADD(V2_ADD(W[(t)&15], W[((t) + 9) & 15]), \
                     V2_ADD(V2_sig(W[((t) + 1) & 15], 7, 18, 3), \
                            V2_sig(W[((t) + 14) & 15], 17, 19, 10)))

/* The same round structure as V5_ROUND (see there). */
#define V2_ROUND(a, b, c, d, e, f, g, h, i, sched) \
  do { \
    if (sched) { \
      V2_SCHED((i) + 1); \
    } \
    __m256i hkw_n = V2_ADD(g, V2_ADD(W[((i) + 1) & 15], _mm256_set1_epi32((int)k[(i) + 1]))); \
    __m256i pre_n = V2_ADD(c, hkw_n); \
    __m256i ch_ = V2_XOR(_mm256_and_si256(V2_XOR(f, g), e), g); \
    __m256i s1_ = V2_SIG(e, 6, 11, 25); \
    __m256i u_ = V2_ADD(pre, ch_), v_ = V2_ADD(hkw, ch_); \
    MB_PIN(u_); \
    MB_PIN(v_); \
    d = V2_ADD(u_, s1_); \
    __m256i mj_ = V2_XOR(_mm256_and_si256(V2_XOR(a, b), V2_XOR(b, c)), b); \
    __m256i w_ = V2_ADD(V2_ADD(v_, s1_), mj_); \
    MB_PIN(w_); \
    h = V2_ADD(w_, V2_SIG(a, 2, 13, 22)); \
    hkw = hkw_n; \
    pre = pre_n; \
  } while (0)

#define V2_ROUNDS8(i, s) \
  V2_ROUND(a, b, c, d, e, f, g, h, (i) + 0, (s) || (i) + 0 == 15); \
  V2_ROUND(h, a, b, c, d, e, f, g, (i) + 1, (s) || (i) + 1 == 15); \
  V2_ROUND(g, h, a, b, c, d, e, f, (i) + 2, (s) || (i) + 2 == 15); \
  V2_ROUND(f, g, h, a, b, c, d, e, (i) + 3, (s) || (i) + 3 == 15); \
  V2_ROUND(e, f, g, h, a, b, c, d, (i) + 4, (s) || (i) + 4 == 15); \
  V2_ROUND(d, e, f, g, h, a, b, c, (i) + 5, (s) || (i) + 5 == 15); \
  V2_ROUND(c, d, e, f, g, h, a, b, (i) + 6, (s) || (i) + 6 == 15); \
  V2_ROUND(b, c, d, e, f, g, h, a, (i) + 7, (s) || (i) + 7 == 15)

/* Transposes 8 rows of 8 words (one per lane) into 8 words of 8 lanes. */
HL_TARGET_AVX2 static inline void x8_transpose(__m256i out[8], __m256i r[8]) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
  }
#pragma GCC unroll 2
  for (int g = 0; g < 2; g++) {
    u[4 * g + 0] = _mm256_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 1] = _mm256_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
    u[4 * g + 2] = _mm256_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
    u[4 * g + 3] = _mm256_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
  }
#pragma GCC unroll 4
  for (int m = 0; m < 4; m++) {
    out[m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x20);
    out[4 + m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x31);
  }
}

HL_TARGET_AVX2 static inline void x8_load_block(__m256i W[16], const uint8_t *const *ptr,
                                                size_t off) {
  const __m256i bswap = _mm256_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3, 12,
                                        13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  __m256i r[8];
#pragma GCC unroll 2
  for (int half = 0; half < 2; half++) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
      r[i] = _mm256_shuffle_epi8(
          _mm256_loadu_si256((const __m256i *)(const void *)(ptr[i] + off + 32 * half)), bswap);
    }
    x8_transpose(W + 8 * half, r);
  }
}

/* Word-major chaining values of 8 lanes: v[w] is one ymm. */
typedef struct x8_state {
  alignas(32) uint32_t v[8][8];
} x8_state;

HL_TARGET_AVX2 __attribute__((noinline)) static void x8_block(x8_state *st,
                                                           const uint8_t *const *ptr,
                                                           size_t off, const uint32_t *k) {
  __asm__("" : "+r"(k));
  __m256i W[16];
  x8_load_block(W, ptr, off);
  __m256i a = _mm256_load_si256((const __m256i *)(const void *)st->v[0]);
  __m256i b = _mm256_load_si256((const __m256i *)(const void *)st->v[1]);
  __m256i c = _mm256_load_si256((const __m256i *)(const void *)st->v[2]);
  __m256i d = _mm256_load_si256((const __m256i *)(const void *)st->v[3]);
  __m256i e = _mm256_load_si256((const __m256i *)(const void *)st->v[4]);
  __m256i f = _mm256_load_si256((const __m256i *)(const void *)st->v[5]);
  __m256i g = _mm256_load_si256((const __m256i *)(const void *)st->v[6]);
  __m256i h = _mm256_load_si256((const __m256i *)(const void *)st->v[7]);
  __m256i hkw = V2_ADD(h, V2_ADD(W[0], _mm256_set1_epi32((int)k[0])));
  __m256i pre = V2_ADD(d, hkw);
  V2_ROUNDS8(0, 0);
  V2_ROUNDS8(8, 0);
  for (int j = 0; j < 3; j++) {
    k += 16;
    V2_ROUNDS8(0, 1);
    V2_ROUNDS8(8, 1);
  }
#define V2_FEED(i, x) \
  _mm256_store_si256((__m256i *)(void *)st->v[i], \
                     V2_ADD(x, _mm256_load_si256((const __m256i *)(const void *)st->v[i])))
  V2_FEED(0, a);
  V2_FEED(1, b);
  V2_FEED(2, c);
  V2_FEED(3, d);
  V2_FEED(4, e);
  V2_FEED(5, f);
  V2_FEED(6, g);
  V2_FEED(7, h);
#undef V2_FEED
}

/* Lane rows to word vectors and back: an 8x8 transpose either way. */
HL_TARGET_AVX2 static void x8_transpose_state(uint32_t out[8][8], const uint32_t in[8][8]) {
  __m256i r[8], w[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    r[i] = _mm256_load_si256((const __m256i *)(const void *)in[i]);
  }
  x8_transpose(w, r);
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    _mm256_store_si256((__m256i *)(void *)out[i], w[i]);
  }
}

HL_TARGET_AVX2 static void mb_compress_avx2(mb_state *st, const uint8_t *const *ptr,
                                            size_t nblocks) {
  x8_state v;
  x8_transpose_state(v.v, (const uint32_t(*)[8])st->h);
  for (size_t blk = 0; blk < nblocks; blk++) {
    x8_block(&v, ptr, blk * MB_BLOCK, K256);
  }
  x8_transpose_state(st->h, (const uint32_t(*)[8])v.v);
}
#endif /* HL_MB_X86 */

/* The scalar lanes exist for portability and tests; hl_hmac_batch prefers
 * BoringSSL's single stream to them, so their cost is only indicative. */
static const mb_impl mb_scalar = {MB_SCALAR_LANES, mb_compress_scalar, {1600, 34, 60}};
#if defined(HL_MB_X86)
static const mb_impl mb_avx2 = {8, mb_compress_avx2, {290, 34, 60}};
static const mb_impl mb_avx512 = {16, mb_compress_avx512, {170, 34, 80}};
#endif

/* --- one job's blocks ---------------------------------------------------------- */

enum { PHASE_MSG, PHASE_TAIL, PHASE_OUTER };

typedef struct mb_lane {
  hl_hmac_job *job; /* NULL: idle */
  const uint8_t *ptr; /* next block of the current phase */
  size_t blocks;      /* blocks left in the current phase */
  unsigned phase;
  unsigned tail_blocks;
  /* The tail blocks; once they are hashed, the outer block. */
  alignas(64) uint8_t buf[2 * MB_BLOCK];
} mb_lane;

/* lane_start loads |job| into |l| and its inner chaining state (the key's
 * state after the ipad block) into |s|. The bit length counts that ipad
 * block. */
static void lane_start(mb_lane *l, hl_hmac_job *job, uint32_t s[8]) {
  memcpy(s, hl_hmac_key_inner_words(job->key), 8 * sizeof(uint32_t));
  size_t full = job->len / MB_BLOCK, rem = job->len % MB_BLOCK;
  l->job = job;
  l->tail_blocks = rem < MB_BLOCK - 8 ? 1 : 2;
  size_t tail_bytes = l->tail_blocks * MB_BLOCK;
  if (rem > 0) {
    memcpy(l->buf, job->msg + full * MB_BLOCK, rem);
  }
  l->buf[rem] = 0x80;
  memset(l->buf + rem + 1, 0, tail_bytes - rem - 1 - 8);
  uint64_t bits = ((uint64_t)job->len + MB_BLOCK) * 8;
  store_be32(l->buf + tail_bytes - 8, (uint32_t)(bits >> 32));
  store_be32(l->buf + tail_bytes - 4, (uint32_t)bits);
  if (full > 0) {
    l->phase = PHASE_MSG;
    l->ptr = job->msg; /* not NULL: the message has a whole block */
    l->blocks = full;
  } else {
    l->phase = PHASE_TAIL;
    l->ptr = l->buf;
    l->blocks = l->tail_blocks;
  }
}

/* lane_next_phase moves |l| past a finished phase, given the lane's chaining
 * state |s| (updated in place). Returns true when the job is done and its
 * HMAC written. */
static bool lane_next_phase(mb_lane *l, uint32_t s[8]) {
  switch (l->phase) {
    case PHASE_MSG:
      l->phase = PHASE_TAIL;
      l->ptr = l->buf;
      l->blocks = l->tail_blocks;
      return false;
    case PHASE_TAIL:
      /* The outer block: inner digest, 0x80, zeros, (64 + 32) * 8 bits. */
      for (int w = 0; w < 8; w++) {
        store_be32(l->buf + 4 * w, s[w]);
      }
      memset(l->buf + 32, 0, MB_BLOCK - 32);
      l->buf[32] = 0x80;
      l->buf[62] = 0x03;
      memcpy(s, hl_hmac_key_outer_words(l->job->key), 8 * sizeof(uint32_t));
      l->phase = PHASE_OUTER;
      l->ptr = l->buf;
      l->blocks = 1;
      return false;
    case PHASE_OUTER:
      for (int w = 0; w < 8; w++) {
        store_be32(l->job->out + 4 * w, s[w]);
      }
      l->job = NULL;
      return true;
    default:
      HL_UNREACHABLE();
  }
}

/* lane_finish_single runs what is left of |l| with BoringSSL's block
 * function (SHA-NI where the CPU has it), starting from state |s|. */
static void lane_finish_single(mb_lane *l, uint32_t s[8]) {
  for (;;) {
    if (l->blocks > 0) {
      SHA256_TransformBlocks(s, l->ptr, l->blocks);
    }
    if (lane_next_phase(l, s)) {
      return;
    }
  }
}

/* --- the scheduler ------------------------------------------------------------------ */

/* job_blocks counts the compressions of one HMAC: the message's whole
 * blocks, one or two tail blocks, the outer block. */
static size_t job_blocks(size_t len) {
  return len / MB_BLOCK + (len % MB_BLOCK < MB_BLOCK - 8 ? 1 : 2) + 1;
}

/* The order jobs enter the lanes: those longer than the batch's mean
 * first, then the rest, so that the last lanes to fill get short jobs and
 * the lanes run dry close together (a cheap longest-first). Two passes over
 * the array, no allocation, the caller's order untouched. */
typedef struct mb_queue {
  hl_hmac_job *jobs;
  size_t n;
  size_t mean_blocks;
  size_t pos;    /* next index to look at in this pass */
  unsigned pass; /* 0: jobs above the mean, 1: the others */
  size_t left;   /* jobs not yet handed out */
} mb_queue;

static void queue_init(mb_queue *q, hl_hmac_job *jobs, size_t n) {
  size_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    sum += job_blocks(jobs[i].len);
  }
  *q = (mb_queue){.jobs = jobs, .n = n, .mean_blocks = n > 0 ? sum / n : 0, .left = n};
}

/* queue_next returns the next job, or NULL when all were handed out. */
static hl_hmac_job *queue_next(mb_queue *q) {
  while (q->left > 0) {
    if (q->pos == q->n) {
      HL_ASSERT(q->pass == 0);
      q->pass = 1;
      q->pos = 0;
    }
    hl_hmac_job *job = &q->jobs[q->pos++];
    bool is_long = job_blocks(job->len) > q->mean_blocks;
    if (is_long == (q->pass == 0)) {
      q->left--;
      return job;
    }
  }
  return NULL;
}


/* mb_run computes jobs[0..n) on |im|'s lanes; once the queue is empty and
 * at most |single_lanes| lanes are active, it finishes them single-stream. */
static void mb_run(const mb_impl *im, hl_hmac_job *jobs, size_t n, unsigned single_lanes) {
  HL_ASSERT(im->lanes <= HL_HMAC_MB_LANES_MAX);
  mb_state st;
  mb_lane lanes[HL_HMAC_MB_LANES_MAX];
  const uint8_t *ptr[HL_HMAC_MB_LANES_MAX];
  mb_queue q;
  queue_init(&q, jobs, n);
  memset(&st, 0, sizeof(st));
  size_t run = SIZE_MAX;
  unsigned active = 0;
  for (unsigned i = 0; i < im->lanes; i++) {
    lanes[i].job = queue_next(&q);
    if (lanes[i].job != NULL) {
      lane_start(&lanes[i], lanes[i].job, st.h[i]);
      active++;
      run = lanes[i].blocks < run ? lanes[i].blocks : run;
    }
  }
  while (active > 0) {
    /* With no job waiting, the next step costs one all-lanes compression
     * per block in SIMD, or one block per active lane single-stream: once
     * too few lanes are active, finish them one by one. */
    if (q.left == 0 && active <= single_lanes) {
      for (unsigned i = 0; i < im->lanes; i++) {
        if (lanes[i].job != NULL) {
          lane_finish_single(&lanes[i], st.h[i]);
        }
      }
      break;
    }
    /* An idle lane hashes an active lane's blocks (readable for |run|
     * blocks); its state is garbage and never read. */
    const uint8_t *spare = NULL;
    for (unsigned i = 0; i < im->lanes; i++) {
      if (lanes[i].job != NULL) {
        spare = lanes[i].ptr;
        break;
      }
    }
    for (unsigned i = 0; i < im->lanes; i++) {
      ptr[i] = lanes[i].job != NULL ? lanes[i].ptr : spare;
    }
    im->compress(&st, ptr, run);
    size_t next_run = SIZE_MAX;
    for (unsigned i = 0; i < im->lanes; i++) {
      mb_lane *l = &lanes[i];
      if (l->job == NULL) {
        continue;
      }
      l->ptr += run * MB_BLOCK;
      l->blocks -= run;
      /* Every phase has at least one block, so one step suffices. */
      if (l->blocks == 0 && lane_next_phase(l, st.h[i])) {
        hl_hmac_job *job = queue_next(&q);
        if (job == NULL) {
          active--;
          continue;
        }
        lane_start(l, job, st.h[i]);
      }
      next_run = l->blocks < next_run ? l->blocks : next_run;
    }
    run = next_run;
  }
  /* Only the lanes that ran hold key-derived state. */
  unsigned used = n < im->lanes ? (unsigned)n : im->lanes;
  OPENSSL_cleanse(st.h, used * sizeof(st.h[0]));
  OPENSSL_cleanse(lanes, used * sizeof(lanes[0]));
}

/* --- single stream --------------------------------------------------------------- */

/* One job with BoringSSL's block function: the same phases as a lane, with
 * no SHA256_CTX buffering in between. */
static void single_run(hl_hmac_job *jobs, size_t n) {
  mb_lane l;
  uint32_t s[8];
  for (size_t i = 0; i < n; i++) {
    lane_start(&l, &jobs[i], s);
    lane_finish_single(&l, s);
  }
  OPENSSL_cleanse(&l, sizeof(l));
  OPENSSL_cleanse(s, sizeof(s));
}

/* --- dispatch ---------------------------------------------------------------------- */

/* mb_impl_for returns |impl|'s lanes if the CPU features |cpu| allow it. */
static const mb_impl *mb_impl_for(hl_hmac_impl impl, unsigned cpu) {
  switch (impl) {
    case HL_HMAC_IMPL_SCALAR:
      return &mb_scalar;
#if defined(HL_MB_X86)
    case HL_HMAC_IMPL_AVX2:
      return (cpu & HL_CPU_AVX2) != 0 ? &mb_avx2 : NULL;
    case HL_HMAC_IMPL_AVX512:
      return (cpu & HL_CPU_AVX512) != 0 ? &mb_avx512 : NULL;
#endif
    default:
      (void)cpu;
      return NULL;
  }
}

bool hl_hmac_impl_available(hl_hmac_impl impl) {
  switch (impl) {
    case HL_HMAC_IMPL_AUTO:
    case HL_HMAC_IMPL_SINGLE:
      return true;
    default:
      return mb_impl_for(impl, hl_cpu_features()) != NULL;
  }
}

const char *hl_hmac_impl_name(hl_hmac_impl impl) {
  switch (impl) {
    case HL_HMAC_IMPL_AUTO:
      return "auto";
    case HL_HMAC_IMPL_SCALAR:
      return "scalar";
    case HL_HMAC_IMPL_SINGLE:
      return "single";
    case HL_HMAC_IMPL_AVX2:
      return "avx2";
    case HL_HMAC_IMPL_AVX512:
      return "avx512";
    default:
      return "unknown";
  }
}

/* lanes_pay_off: would |im|'s lanes compute jobs[0..n) (n <= lanes, all
 * at once) for less than the single-stream path? */
static bool lanes_pay_off(const mb_impl *im, const mb_cost *one, const hl_hmac_job *jobs,
                          size_t n) {
  size_t sum = 0, max = 0;
  for (size_t i = 0; i < n; i++) {
    size_t b = job_blocks(jobs[i].len);
    sum += b;
    max = b > max ? b : max;
  }
  size_t lanes = max * im->cost.block + n * im->cost.job + im->cost.batch;
  size_t single = sum * one->block + n * one->job;
  return lanes < single;
}

void hl_hmac_batch(hl_hmac_job *jobs, size_t n) {
  unsigned cpu = hl_cpu_features();
  const mb_impl *im = mb_impl_for(HL_HMAC_IMPL_AVX512, cpu);
  if (im == NULL) {
    im = mb_impl_for(HL_HMAC_IMPL_AVX2, cpu);
  }
  const mb_cost *one = &single_cost[(cpu & HL_CPU_SHA) != 0];
  /* AVX2's 8 lanes only match SHA-NI, block for block: not worth it. */
  if (im != NULL && im->cost.block >= im->lanes * one->block) {
    im = NULL;
  }
  /* Lanes cost at least one all-lanes block per block of the longest job:
   * with n * one->block <= cost.block they cannot win, whatever the
   * lengths; otherwise, up to a full set of lanes, weigh the lengths. */
  if (im == NULL || n * one->block <= im->cost.block ||
      (n <= im->lanes && !lanes_pay_off(im, one, jobs, n))) {
    single_run(jobs, n);
    return;
  }
  /* Once no job waits, a step of the lanes costs cost.block and does one
   * block for each active lane: below that many, finish single-stream. */
  mb_run(im, jobs, n, im->cost.block / one->block);
}

int hl_hmac_batch_impl(hl_hmac_impl impl, hl_hmac_job *jobs, size_t n) {
  switch (impl) {
    case HL_HMAC_IMPL_AUTO:
      hl_hmac_batch(jobs, n);
      return 0;
    case HL_HMAC_IMPL_SINGLE:
      single_run(jobs, n);
      return 0;
    default: {
      const mb_impl *im = mb_impl_for(impl, hl_cpu_features());
      if (im == NULL) {
        return -ENOTSUP;
      }
      mb_run(im, jobs, n, 0);
      return 0;
    }
  }
}
