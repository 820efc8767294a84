/* producer: one producer's side of the ring (linked into libhookline).
 *
 * Opening maps the segment and claims one lane (compare-and-swap of the
 * lane's owner word); closing gives the lane back. Records are written in
 * place past the lane's head and become visible only when published (one
 * release store of head), so a producer killed mid-write exposes nothing.
 * Publishing wakes the engine with one FUTEX_WAKE only if the engine said it
 * is going to sleep. A full lane makes reserve wait on the lane's space word
 * (no spinning) up to the caller's timeout, then fail with -EAGAIN.
 *
 * An hl_ring_producer is used by one thread at a time. It owns its mapping
 * and lane; it never reads other lanes' data. It must not decide what a
 * record means (ring/message.h does). */
#ifndef HL_RING_PRODUCER_H
#define HL_RING_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ring/ring_layout.h"

typedef struct hl_ring_producer {
  hl_ring_header *hdr; /* NULL when closed */
  size_t map_bytes;
  hl_ring_geometry geo;
  hl_ring_lane *lane;
  uint8_t *data;
  uint32_t lane_index;
  uint64_t owner;      /* our owner word */
  uint64_t head;       /* written up to here (>= published) */
  uint64_t published;  /* last head stored to the lane */
  uint64_t tail_seen;  /* the consumer's tail, last time we looked */
  uint64_t reserved_pos; /* position of the reserved record, or UINT64_MAX */
  size_t reserved_len;   /* payload bytes reserved there */
  uint64_t wakes;      /* FUTEX_WAKE calls made (for tests and benchmarks) */
  uint64_t waits;      /* times we waited for space */
} hl_ring_producer;

/* hl_ring_producer_open maps ring |name| and claims a free lane, waiting up
 * to |open_timeout_ms| (0: not at all, negative: no limit) for one. A lane
 * whose owner died is reclaimed once everything it published is released.
 * Errors: -ENOENT (no ring), -EACCES, -EPROTO / -EPROTONOSUPPORT (not a ring
 * this build understands), -EBUSY (no free lane), -EAGAIN (being created),
 * each with a message in |err|. */
int hl_ring_producer_open(hl_ring_producer *p, const char *name, int open_timeout_ms,
                          hl_err *err);

/* hl_ring_producer_close publishes what is written, gives the lane back and
 * unmaps. Safe on a closed (zeroed) producer. */
void hl_ring_producer_close(hl_ring_producer *p);

/* hl_ring_producer_reserve makes room for a record of |len| payload bytes
 * (1..HL_RING_RECORD_BYTES_MAX) and points *payload at it. If the lane is
 * full it first publishes what is written, then waits up to |timeout_ms|
 * (0: not at all, negative: no limit) for the engine to release records.
 * Errors: -EAGAIN (still full), -EMSGSIZE, -EIO (the engine quarantined the
 * lane, or the lane's control words are corrupted), -ESTALE (the ring was
 * removed: reopen). Nothing becomes visible until commit and publish. */
int hl_ring_producer_reserve(hl_ring_producer *p, size_t len, int timeout_ms, void **payload,
                             hl_err *err);

/* hl_ring_producer_commit seals the reserved record, holding |len| bytes
 * (at most what was reserved), with its header and checksum. */
void hl_ring_producer_commit(hl_ring_producer *p, size_t len);

/* hl_ring_producer_publish makes every committed record visible to the
 * engine and wakes it if it sleeps. */
void hl_ring_producer_publish(hl_ring_producer *p);

#endif
