/* consumer: the engine's side of the ring.
 *
 * Attaching creates the segment if it is absent (mode from configuration,
 * 0600 by default) or re-attaches to the one a previous engine left, after
 * validating it; one engine at a time (an flock on the segment). Reading
 * takes records from every lane in turn, in batches, and hands out spans
 * into the segment plus a release token each. Releasing is separate: the
 * engine releases a record once it is safe (ARCHITECTURE.md, Durability), in
 * any order, and a lane's tail moves only past its longest released prefix.
 * After a restart everything not released is read again.
 *
 * The segment is writable by every producer, so nothing read from it is
 * trusted: heads, lengths, types and checksums are checked before any byte
 * is used, a record with a bad checksum is reported and skipped, and a lane
 * whose framing is broken is quarantined (reported, no longer read, reset
 * once its producer is gone). Corruption never makes the consumer read out
 * of bounds or stop.
 *
 * Sleeping: when it has nothing to do the engine calls
 * hl_ring_consumer_prepare_sleep, which sets the segment's sleep word,
 * re-checks every lane and returns the futex word and value to wait on (an
 * io_uring FUTEX_WAIT with FUTEX2_SIZE_U32, shared, not private); after
 * waking, for any reason, it calls hl_ring_consumer_end_sleep. Producers
 * make a wake-up syscall only while the word is set.
 *
 * One thread uses an hl_ring_consumer. It owns the mapping, the per-lane
 * read positions and the in-flight windows (allocated at attach, bounded);
 * it does not decode messages (ring/message.h) or decide when a record is
 * safe (the engine). */
#ifndef HL_RING_CONSUMER_H
#define HL_RING_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/span.h"
#include "ring/ring_layout.h"

typedef struct hl_ring_consumer hl_ring_consumer;

/* hl_ring_corrupt_fn reports one corruption: a skipped record or a
 * quarantined lane. |reason| is one sentence. */
typedef void (*hl_ring_corrupt_fn)(void *ctx, uint32_t lane, uint64_t pos, const char *reason);

typedef struct hl_ring_consumer_options {
  bool create;                 /* create the segment when it is absent */
  uint32_t mode;               /* for a created segment; 0 = HL_RING_MODE_DEFAULT (0600) */
  uint32_t lanes;              /* for a created segment; 0 = HL_RING_LANES_DEFAULT */
  uint64_t lane_bytes;         /* for a created segment; 0 = HL_RING_LANE_BYTES_DEFAULT */
  uint32_t inflight_per_lane;  /* read-but-unreleased records per lane; 0 = default;
                                  rounded up to a power of two */
  hl_ring_corrupt_fn on_corrupt; /* NULL: log a warning */
  void *on_corrupt_ctx;
} hl_ring_consumer_options;

/* A release token: which record to release. */
typedef struct hl_ring_token {
  uint32_t lane;
  uint32_t reserved0;
  uint64_t seq; /* per lane, counts records read since attach */
} hl_ring_token;

/* One record read. |payload| points into the shared segment and stays
 * valid (the producer cannot reuse its bytes) until the record is released.
 * Producers can still write to it, so copy it before trusting what was
 * checked (hl_msg_decode on a private copy). */
typedef struct hl_ring_item {
  hl_span payload;
  hl_ring_token token;
  uint64_t pos; /* byte position in the lane, for diagnostics */
} hl_ring_item;

typedef struct hl_ring_consumer_stats {
  uint64_t records_read;
  uint64_t records_released;
  uint64_t records_corrupt;   /* skipped: bad checksum or flags */
  uint64_t lanes_quarantined; /* times a lane was quarantined */
  uint64_t lanes_reset;       /* quarantined lanes reset after their owner left */
  uint64_t lanes_reaped;      /* lanes taken back from dead producers */
  uint64_t producer_wakes;    /* FUTEX_WAKE calls for producers waiting for space */
} hl_ring_consumer_stats;

typedef struct hl_ring_lane_info {
  uint64_t owner; /* owner word: pid in the low 32 bits; 0 = free */
  uint64_t head;
  uint64_t tail;
  uint64_t read_pos;
  uint64_t inflight; /* read and not released */
  bool quarantined;
} hl_ring_lane_info;

/* hl_ring_consumer_open attaches to ring |name| (options may be NULL for
 * defaults with create off). Errors, each with a message naming the ring:
 * -ENOENT, -EACCES, -EBUSY (another engine is attached), -EPROTO (not a
 * hookline ring or inconsistent), -EPROTONOSUPPORT (layout version),
 * -EINVAL (bad options), -ENOMEM. */
int hl_ring_consumer_open(hl_ring_consumer **out, const char *name,
                          const hl_ring_consumer_options *opts, hl_err *err);

/* hl_ring_consumer_open_memory attaches to a segment image at |mem| (|len|
 * bytes, 64-byte aligned) that the caller mapped or built: no file, no
 * lock, no creation. For tools, tests and fuzzing; the memory must outlive
 * the consumer. Same validation and errors as hl_ring_consumer_open. */
int hl_ring_consumer_open_memory(hl_ring_consumer **out, void *mem, size_t len,
                                 const hl_ring_consumer_options *opts, hl_err *err);

/* hl_ring_consumer_close detaches (the segment and its unreleased records
 * stay for the next engine). hl_ring_consumer_close(NULL) is a no-op. */
void hl_ring_consumer_close(hl_ring_consumer *c);

/* hl_ring_consumer_geometry returns the attached segment's sizes. */
hl_ring_geometry hl_ring_consumer_geometry(const hl_ring_consumer *c);

/* hl_ring_consumer_read fills up to |cap| items, taking records from every
 * lane with data in turn (at most cap / lanes-with-data from each per
 * round), and returns how many. 0 means nothing to read. */
size_t hl_ring_consumer_read(hl_ring_consumer *c, hl_ring_item *items, size_t cap);

/* hl_ring_consumer_release releases records in any order. Tokens must come
 * from this consumer's reads and each is released once: -EINVAL (unknown
 * lane or never read) or -EALREADY (released before) is returned for the
 * first bad token, after the good ones are applied. Lane tails are stored
 * once per call and producers waiting for space are woken. */
int hl_ring_consumer_release(hl_ring_consumer *c, const hl_ring_token *tokens, size_t n);

/* hl_ring_consumer_release_upto releases every record of |lane| read so far
 * with seq <= |seq| ("safe up to"). */
int hl_ring_consumer_release_upto(hl_ring_consumer *c, uint32_t lane, uint64_t seq);

/* hl_ring_consumer_prepare_sleep announces that the engine will sleep and
 * re-checks every lane. Returns 0 with *word and *expected set: wait on
 * them (FUTEX_WAIT semantics: returns at once if *word != *expected).
 * Returns -EAGAIN if records arrived meanwhile: read them instead (the
 * announcement is withdrawn). */
int hl_ring_consumer_prepare_sleep(hl_ring_consumer *c, uint32_t **word, uint32_t *expected);

/* hl_ring_consumer_end_sleep withdraws the announcement after waking. */
void hl_ring_consumer_end_sleep(hl_ring_consumer *c);

/* hl_ring_consumer_reap frees lanes whose producer died (once everything
 * they published is released) and resets quarantined lanes nobody owns.
 * Call it now and then (every second is plenty); returns lanes changed. */
uint32_t hl_ring_consumer_reap(hl_ring_consumer *c);

hl_ring_consumer_stats hl_ring_consumer_stats_get(const hl_ring_consumer *c);
int hl_ring_consumer_lane_info(const hl_ring_consumer *c, uint32_t lane, hl_ring_lane_info *out);

/* hl_ring_consumer_retire marks the segment removed, so producers still
 * attached get -ESTALE and reopen, and unlinks it. */
int hl_ring_consumer_retire(hl_ring_consumer *c);

#endif
