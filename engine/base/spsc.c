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

hl_spsc_cursor hl_spsc_begin(hl_spsc *q) {
  return atomic_load_explicit(&q->tail, memory_order_relaxed);
}

const void *hl_spsc_next(hl_spsc *q, hl_spsc_cursor *cursor, size_t *len) {
  uint64_t at = *cursor;
  for (;;) {
    if (at == q->head_cache) {
      q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
      if (at == q->head_cache) {
        *cursor = at;
        return NULL;
      }
    }
    uint64_t hdr;
    memcpy(&hdr, q->data + (at & (q->cap - 1)), sizeof(hdr));
    if (hdr == HL_SPSC_PAD) {
      at += q->cap - (at & (q->cap - 1));
      continue;
    }
    HL_ASSERT(hdr <= hl_spsc_record_max(q));
    *len = (size_t)hdr;
    *cursor = at + HDR_BYTES + round8(hdr);
    return q->data + ((at + HDR_BYTES) & (q->cap - 1));
  }
}

void hl_spsc_release(hl_spsc *q, hl_spsc_cursor cursor) {
  atomic_store_explicit(&q->tail, cursor, memory_order_release);
}

const void *hl_spsc_peek(hl_spsc *q, size_t *len) {
  hl_spsc_cursor c = hl_spsc_begin(q);
  return hl_spsc_next(q, &c, len);
}

void hl_spsc_pop(hl_spsc *q) {
  hl_spsc_cursor c = hl_spsc_begin(q);
  size_t len;
  const void *rec = hl_spsc_next(q, &c, &len);
  HL_ASSERT(rec != NULL);
  hl_spsc_release(q, c);
}

bool hl_spsc_empty(hl_spsc *q) {
  size_t len;
  return hl_spsc_peek(q, &len) == NULL;
}
