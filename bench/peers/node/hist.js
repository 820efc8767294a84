'use strict';
// A log-linear histogram with the geometry of the engine's base/hist.h
// (HL_HIST_SUB_BITS = 6): values below 64 exact, above that 32 buckets per
// power of two (about 1.6 % resolution), percentiles as the highest value of
// the bucket holding the rank, clamped to [min, max]. Values are integers
// (microseconds); BigInt is not needed below 2^53.

const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;
const HALF = SUB / 2;

function index(v) {
  if (v < SUB) return v;
  const e = Math.floor(Math.log2(v));
  // Math.log2 can round up just below a power of two: correct it.
  const exp = 2 ** e > v ? e - 1 : e;
  const shift = exp - (SUB_BITS - 1);
  const top = Math.floor(v / 2 ** shift);
  return SUB + (exp - SUB_BITS) * HALF + (top - HALF);
}

function bucketHigh(i) {
  if (i < SUB) return i;
  const k = i - SUB;
  const e = Math.floor(k / HALF) + SUB_BITS;
  const top = (k % HALF) + HALF;
  const shift = e - (SUB_BITS - 1);
  return top * 2 ** shift + (2 ** shift - 1);
}

class Hist {
  constructor() {
    this.buckets = new Map();
    this.count = 0;
    this.min = Infinity;
    this.max = 0;
  }

  record(v) {
    v = Math.max(0, Math.floor(v));
    const i = index(v);
    this.buckets.set(i, (this.buckets.get(i) || 0) + 1);
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  percentile(p) {
    if (this.count === 0) return 0;
    if (p <= 0) return this.min;
    const want = p >= 100 ? this.count : (this.count * p) / 100;
    let rank = Math.ceil(want);
    if (rank === 0) rank = 1;
    let seen = 0;
    for (const i of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(i);
      if (seen >= rank) {
        const v = bucketHigh(i);
        return Math.min(Math.max(v, this.min), this.max);
      }
    }
    return this.max;
  }
}

module.exports = { Hist, index, bucketHigh };
