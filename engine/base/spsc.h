/* spsc: a bounded single-producer / single-consumer queue of variable-length
 * records, between two threads of one process (a worker loop and the store
 * thread).
 *
 * Records are written in place and published with a release store of the
 * head; the consumer reads them in place and frees them with a release store
 * of the tail, so nothing is copied twice and nothing allocates after init.
 * A record never wraps: when it would not fit before the end of the buffer,
 * the producer pads to the end and starts at offset 0. A full queue is
 * reported (NULL from hl_spsc_reserve), never grown: the producer applies
 * back-pressure. Each side caches the other's index to touch the shared
 * cache line only when it must. */
#ifndef HL_BASE_SPSC_H
#define HL_BASE_SPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hl_spsc {
  /* Producer-owned line. */
  _Alignas(64) _Atomic uint64_t head;
  uint64_t tail_cache;
  uint64_t reserved; /* bytes reserved but not yet published */
  /* Consumer-owned line. */
  _Alignas(64) _Atomic uint64_t tail;
  uint64_t head_cache;
  /* Read-only after init. */
  _Alignas(64) uint8_t *data;
  uint64_t cap; /* bytes, a power of two */
} hl_spsc;

/* hl_spsc_init allocates a queue of |cap_bytes| (rounded up to a power of
 * two, at least 4 KiB). Returns 0 or -ENOMEM. */
int hl_spsc_init(hl_spsc *q, size_t cap_bytes);
void hl_spsc_cleanup(hl_spsc *q);

/* hl_spsc_record_max returns the largest record the queue can ever hold. */
size_t hl_spsc_record_max(const hl_spsc *q);

/* Producer: hl_spsc_reserve returns |len| writable bytes (8-byte aligned) for
 * one record, or NULL if the queue has no room now (or |len| is larger than
 * hl_spsc_record_max). Several records may be reserved before one
 * hl_spsc_publish makes them all visible. */
void *hl_spsc_reserve(hl_spsc *q, size_t len);
void hl_spsc_publish(hl_spsc *q);

/* Consumer: hl_spsc_peek returns the next record and its length, or NULL if
 * none is published. hl_spsc_pop frees it (and any padding before the next).
 * Records are freed in order. */
const void *hl_spsc_peek(hl_spsc *q, size_t *len);
void hl_spsc_pop(hl_spsc *q);

/* Consumer, several records at a time: hl_spsc_next returns the record at
 * *cursor (which starts at hl_spsc_begin) and moves the cursor past it, or
 * returns NULL when no further record is published. Nothing is freed until
 * hl_spsc_release(q, cursor), so a consumer can read a batch, try to act on
 * it, and free it only once it succeeded. */
typedef uint64_t hl_spsc_cursor;
hl_spsc_cursor hl_spsc_begin(hl_spsc *q);
const void *hl_spsc_next(hl_spsc *q, hl_spsc_cursor *cursor, size_t *len);
void hl_spsc_release(hl_spsc *q, hl_spsc_cursor cursor);

/* hl_spsc_empty is a consumer-side check. */
bool hl_spsc_empty(hl_spsc *q);

#endif
