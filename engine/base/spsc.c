/* spsc: record queue (see spsc.h).
 *
 * Each record is an 8-byte header holding its payload length, then the
 * payload padded to 8 bytes. A header with HL_SPSC_PAD means "skip to the
 * start of the buffer". Positions are free-running 64-bit byte counters;
 * offsets are position & (cap - 1). */
#include "base/spsc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"

#define HL_SPSC_PAD UINT64_MAX
#define HDR_BYTES 8u

static uint64_t round8(uint64_t n) {
  return (n + 7u) & ~(uint64_t)7u;
}

int hl_spsc_init(hl_spsc *q, size_t cap_bytes) {
  memset(q, 0, sizeof(*q));
  uint64_t cap = 4096;
  while (cap < cap_bytes) {
    cap <<= 1;
  }
  q->data = aligned_alloc(64, cap);
  if (q->data == NULL) {
    return -ENOMEM;
  }
  q->cap = cap;
  atomic_init(&q->head, 0);
  atomic_init(&q->tail, 0);
  return 0;
}

void hl_spsc_cleanup(hl_spsc *q) {
  free(q->data);
  q->data = NULL;
}

size_t hl_spsc_record_max(const hl_spsc *q) {
  /* Worst case a record must skip a pad of almost its own size, so half the
   * buffer (minus headers) always fits once the queue drains. */
  return q->cap / 2 - 2 * HDR_BYTES;
}

static void put_header(hl_spsc *q, uint64_t pos, uint64_t value) {
  memcpy(q->data + (pos & (q->cap - 1)), &value, sizeof(value));
}

void *hl_spsc_reserve(hl_spsc *q, size_t len) {
  if (len > hl_spsc_record_max(q)) {
    return NULL;
  }
  uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed) + q->reserved;
  uint64_t need = HDR_BYTES + round8(len);
  uint64_t off = head & (q->cap - 1);
  uint64_t pad = off + need > q->cap ? q->cap - off : 0;
  if (head + pad + need - q->tail_cache > q->cap) {
    q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (head + pad + need - q->tail_cache > q->cap) {
      return NULL;
    }
  }
  if (pad > 0) {
    put_header(q, head, HL_SPSC_PAD);
    head += pad;
    q->reserved += pad;
  }
  put_header(q, head, len);
  q->reserved += need;
  return q->data + ((head + HDR_BYTES) & (q->cap - 1));
}

void hl_spsc_publish(hl_spsc *q) {
  if (q->reserved == 0) {
    return;
  }
  uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  atomic_store_explicit(&q->head, head + q->reserved, memory_order_release);
  q->reserved = 0;
}

const void *hl_spsc_peek(hl_spsc *q, size_t *len) {
  uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  for (;;) {
    if (tail == q->head_cache) {
      q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
      if (tail == q->head_cache) {
        return NULL;
      }
    }
    uint64_t hdr;
    memcpy(&hdr, q->data + (tail & (q->cap - 1)), sizeof(hdr));
    if (hdr != HL_SPSC_PAD) {
      HL_ASSERT(hdr <= hl_spsc_record_max(q));
      *len = (size_t)hdr;
      return q->data + ((tail + HDR_BYTES) & (q->cap - 1));
    }
    /* Skip the pad; it is ours to free since the producer published it. */
    tail += q->cap - (tail & (q->cap - 1));
    atomic_store_explicit(&q->tail, tail, memory_order_release);
  }
}

void hl_spsc_pop(hl_spsc *q) {
  uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  uint64_t hdr;
  memcpy(&hdr, q->data + (tail & (q->cap - 1)), sizeof(hdr));
  HL_ASSERT(hdr != HL_SPSC_PAD && tail != q->head_cache);
  atomic_store_explicit(&q->tail, tail + HDR_BYTES + round8(hdr), memory_order_release);
}

bool hl_spsc_empty(hl_spsc *q) {
  size_t len;
  return hl_spsc_peek(q, &len) == NULL;
}
