/* Fuzz target: the consumer on a corrupted segment.
 * The input sets one lane's head, tail and state, may damage the header, and
 * fills the lane's data from its tail on. Two cursors read and release until
 * nothing is left. Properties: no crash and no read outside the segment (the
 * lane ends at a PROT_NONE page); every item lies inside the lane's data;
 * each cursor reads no more bytes than head - tail; reaping after that never
 * fails. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring/consumer.h"
#include "ring/ring_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LANE_BYTES (2u * 1024 * 1024)

static uint8_t *seg;
static hl_ring_geometry geo;

static void quiet(void *ctx, uint32_t cursor, uint32_t lane, uint64_t pos, const char *reason) {
  (void)ctx;
  (void)cursor;
  (void)lane;
  (void)pos;
  if (reason == NULL || reason[0] == '\0') {
    abort();
  }
}

static void setup(void) {
  if (hl_ring_geometry_compute(1, LANE_BYTES, &geo, NULL) != 0) {
    abort();
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uint8_t *base = mmap(NULL, geo.segment_bytes + page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED || mprotect(base + geo.segment_bytes, page, PROT_NONE) != 0) {
    abort();
  }
  seg = base;
}

static uint64_t take_u64(const uint8_t **p, size_t *n) {
  uint64_t v = 0;
  size_t k = *n < 8 ? *n : 8;
  memcpy(&v, *p, k);
  *p += k;
  *n -= k;
  return v;
}

static void drain(hl_ring_consumer *c, uint64_t head, uint64_t tail, const uint8_t *lane) {
  hl_ring_item items[32];
  for (uint32_t k = 0; k < hl_ring_consumer_cursors(c); k++) {
    hl_ring_cursor *cur = hl_ring_consumer_cursor(c, k);
    uint64_t bytes = 0;
    for (int round = 0; round < 100000; round++) {
      size_t n = hl_ring_cursor_read(cur, items, 32);
      if (n == 0) {
        break;
      }
      for (size_t i = 0; i < n; i++) {
        const uint8_t *p = (const uint8_t *)items[i].payload.ptr;
        if (p < lane || p + items[i].payload.len > lane + LANE_BYTES) {
          abort();
        }
        bytes += items[i].payload.len;
        if (hl_ring_cursor_release(cur, &items[i].token, 1) != 0) {
          abort();
        }
      }
    }
    if (head >= tail && bytes > head - tail) {
      abort();
    }
    uint32_t *word, expected;
    if (hl_ring_cursor_prepare_sleep(cur, &word, &expected) == 0) {
      hl_ring_cursor_end_sleep(cur);
    }
  }
  hl_ring_consumer_reap(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (seg == NULL) {
    setup();
  }
  if (size < 2 || size > LANE_BYTES) {
    return 0;
  }
  uint8_t mode = data[0];
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  uint64_t tail = take_u64(&p, &n);
  uint64_t head_delta = take_u64(&p, &n);
  memset(seg, 0, geo.data_offset);
  hl_ring_header *h = (hl_ring_header *)seg;
  hl_ring_header_init(h, &geo);
  hl_ring_lane *l = hl_ring_lane_at(h, &geo, 0);
  uint8_t *lane = hl_ring_lane_data(h, &geo, 0);
  /* Mostly plausible positions (aligned, within a lap), sometimes raw. */
  if ((mode & 1) == 0) {
    tail &= ~(uint64_t)15 & 0xffffffffull;
    head_delta = (head_delta % (LANE_BYTES + 1)) & ~(uint64_t)15;
  }
  uint64_t head = tail + head_delta;
  atomic_store(&l->tail, tail);
  atomic_store(&l->head, head);
  atomic_store(&l->owner, (mode & 2) != 0 ? HL_RING_OWNER_FREE : 1);
  atomic_store(&l->state, (mode & 4) != 0 ? HL_RING_LANE_QUARANTINED : HL_RING_LANE_OK);
  if ((mode & 0xf0) == 0xf0) {
    h->lane_bytes = head_delta; /* a damaged header must be refused */
  }
  size_t off = (size_t)(tail & (LANE_BYTES - 1));
  size_t first = n < LANE_BYTES - off ? n : LANE_BYTES - off;
  memcpy(lane + off, p, first);
  memcpy(lane, p + first, n - first);
  hl_ring_consumer_options o = {.cursors = 2, .inflight_per_lane = 64, .on_corrupt = quiet};
  hl_ring_consumer *c;
  hl_err err;
  if (hl_ring_consumer_open_memory(&c, seg, geo.segment_bytes, &o, &err) == 0) {
    drain(c, head, tail, lane);
    hl_ring_consumer_close(c);
  } else if (err.msg[0] == '\0') {
    abort();
  }
  /* Leave the lane zeroed for the next input. */
  memset(lane + off, 0, first);
  memset(lane, 0, n - first);
  return 0;
}
