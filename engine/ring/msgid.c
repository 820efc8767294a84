/* msgid: sortable unique message ids (see msgid.h). */
#include "ring/msgid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rng_next(hl_msgid_gen *g) {
  uint64_t s1 = g->rng[0];
  const uint64_t s0 = g->rng[1];
  g->rng[0] = s0;
  s1 ^= s1 << 23;
  g->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
  return g->rng[1] + s0;
}

void hl_msgid_gen_seed(hl_msgid_gen *g, uint64_t seed) {
  memset(g, 0, sizeof(*g));
  g->rng[0] = splitmix64(&seed);
  g->rng[1] = splitmix64(&seed) | 1; /* never all zero */
}

int hl_msgid_gen_init(hl_msgid_gen *g) {
  uint64_t seed[2];
  ssize_t n = getrandom(seed, sizeof(seed), 0);
  if (n != (ssize_t)sizeof(seed)) {
    return n < 0 ? -errno : -EIO;
  }
  hl_msgid_gen_seed(g, seed[0] ^ (seed[1] << 1));
  return 0;
}

void hl_msgid_next(hl_msgid_gen *g, uint64_t now_ms, char out[HL_MSGID_BYTES]) {
  now_ms &= (1ull << 48) - 1;
  if (now_ms > g->last_ms) {
    g->last_ms = now_ms;
    g->rand_hi = rng_next(g) & 0xffffu;
    g->rand_lo = rng_next(g);
  } else {
    /* Same (or an earlier) millisecond: count up the 80-bit random part;
     * when it overflows, borrow the next millisecond. */
    g->rand_lo++;
    if (g->rand_lo == 0) {
      g->rand_hi = (g->rand_hi + 1) & 0xffffu;
      if (g->rand_hi == 0) {
        g->last_ms++;
      }
    }
  }
  memcpy(out, HL_MSGID_PREFIX, 4);
  char *p = out + 4;
  for (int i = 0; i < 10; i++) {
    p[i] = crockford[(g->last_ms >> (45 - 5 * i)) & 31u];
  }
  /* 80 random bits as 16 characters, most significant first. */
  for (int i = 0; i < 16; i++) {
    int shift = 75 - 5 * i; /* bit offset of this character's low bit */
    uint64_t v;
    if (shift >= 64) {
      v = g->rand_hi >> (shift - 64);
    } else if (shift > 59) {
      v = (g->rand_lo >> shift) | (g->rand_hi << (64 - shift));
    } else {
      v = g->rand_lo >> shift;
    }
    p[10 + i] = crockford[v & 31u];
  }
}
