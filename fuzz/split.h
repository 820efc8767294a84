/* split: how the fuzz targets cut one input into pieces, as recv() would.
 * A xorshift stream seeded from the input picks each piece's length: mostly
 * a few bytes, sometimes up to |large|. Seed 0 means one piece. Header-only
 * helper for the targets in this folder (not a target itself). */
#ifndef HL_FUZZ_SPLIT_H
#define HL_FUZZ_SPLIT_H

#include <stddef.h>
#include <stdint.h>

static inline size_t fuzz_next_piece(uint32_t *x, uint32_t seed, size_t left, uint32_t large) {
  if (seed == 0) {
    return left;
  }
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  size_t cut = 1 + *x % ((*x & 0x100) != 0 ? 4 : large);
  return cut < left ? cut : left;
}

#endif
