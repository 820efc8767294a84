/* consumer: the engine's side of the ring.
 *
 * An hl_ring_consumer is the engine's attachment to the segment. Attaching
 * creates the segment if it is absent (mode from configuration, 0600 by
 * default) or re-attaches to the one a previous engine left, after
 * validating it; one engine at a time (an flock on the segment).
 *
 * Reading goes through cursors, one per engine worker (thread): every cursor
 * sees every record (docs/architecture.md, "Every worker reads every
 * message"). A cursor reads from every lane in turn, in batches, and hands
 * out spans into the segment with a release token each. Releasing is
 * separate and may happen in any order: a cursor's release position on a
 * lane moves past its longest released prefix, and the lane's tail, which
 * frees space for the producer, is the minimum over all cursors. After a
 * restart everything not released is read again.
 *
 * The segment is writable by every producer, so nothing read from it is
 * trusted: heads, lengths, types, stamps and checksums are checked before a
 * byte is used. A record with a bad checksum is reported and skipped; a lane
 * whose framing is broken is quarantined (reported, no longer read, and
 * reset by hl_ring_consumer_reap once its producer is gone and every cursor
 * has let go of it). Corruption never makes a cursor read out of bounds.
 *
 * Sleeping: a cursor with nothing to do calls hl_ring_cursor_prepare_sleep,
 * which sets the cursor's bit in the segment's sleep word, re-checks every
 * lane and returns the word and value to wait on: an io_uring
 * IORING_OP_FUTEX_WAIT with FUTEX2_SIZE_U32, shared (not FUTEX2_PRIVATE),
 * mask FUTEX_BITSET_MATCH_ANY. After waking, for any reason, the worker
 * calls hl_ring_cursor_end_sleep. Producers make the FUTEX_WAKE syscall only
 * while some bit is set, and clear the word when they do. A FUTEX_WAIT that
 * is still armed stays valid across end_sleep / prepare_sleep: re-arm only
 * after it completed.
 *
 * Threads: each cursor is used by one thread; cursors may run in parallel.
 * hl_ring_consumer_reap and the consumer-level getters may be called from
 * any one thread while cursors run. Open and close happen with no cursor in
 * use. The module owns the mapping, the cursors and their in-flight windows
 * (allocated at attach, bounded); it does not decode messages
 * (ring/message.h) or decide when a record is safe (the engine). */
#ifndef HL_RING_CONSUMER_H
#define HL_RING_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/span.h"
#include "ring/ring_layout.h"

typedef struct hl_ring_consumer hl_ring_consumer;
typedef struct hl_ring_cursor hl_ring_cursor;

/* hl_ring_corrupt_fn reports one corruption seen by cursor |cursor|: a
 * skipped record, a quarantined lane, or a lane reset (cursor UINT32_MAX
 * when reported by hl_ring_consumer_reap). |reason| is one sentence. It is
 * called on the thread that found it. */
typedef void (*hl_ring_corrupt_fn)(void *ctx, uint32_t cursor, uint32_t lane, uint64_t pos,
                                   const char *reason);

typedef struct hl_ring_consumer_options {
  bool create;                 /* create the segment when it is absent */
  uint32_t mode;               /* for a created segment; 0 = HL_RING_MODE_DEFAULT (0600) */
  uint32_t lanes;              /* for a created segment; 0 = HL_RING_LANES_DEFAULT */
  uint64_t lane_bytes;         /* for a created segment; 0 = HL_RING_LANE_BYTES_DEFAULT */
  uint32_t cursors;            /* readers (workers); 0 = 1; at most HL_RING_CURSORS_MAX */
  uint32_t inflight_per_lane;  /* read-but-unreleased records per cursor and lane;
                                  0 = HL_RING_LANE_INFLIGHT_DEFAULT; rounded up to a
                                  power of two */
  hl_ring_corrupt_fn on_corrupt; /* NULL: log a warning */
  void *on_corrupt_ctx;
} hl_ring_consumer_options;

/* A release token: which record a cursor releases. */
typedef struct hl_ring_token {
  uint32_t lane;
  uint32_t reserved0;
  uint64_t seq; /* per cursor and lane: counts records read since attach */
} hl_ring_token;

/* One record read. |payload| points into the shared segment and stays
 * valid (the producer cannot reuse its bytes) until every cursor released
 * the record. Producers can still write to it, so decode a private copy
 * when the result must stay consistent (hl_msg_decode checks bounds either
 * way). */
typedef struct hl_ring_item {
  hl_span payload;
  hl_ring_token token;
  uint64_t pos; /* byte position in the lane, for diagnostics */
} hl_ring_item;

typedef struct hl_ring_cursor_stats {
  uint64_t records_read;
  uint64_t records_released;
  uint64_t records_corrupt;   /* skipped: bad checksum or flags */
  uint64_t lanes_quarantined; /* lanes this cursor found broken */
} hl_ring_cursor_stats;

typedef struct hl_ring_consumer_stats {
  uint64_t lanes_reaped;   /* lanes taken back from dead producers */
  uint64_t lanes_reset;    /* quarantined lanes reset */
  uint64_t producer_wakes; /* FUTEX_WAKE calls for producers waiting for space */
} hl_ring_consumer_stats;

typedef struct hl_ring_lane_info {
  uint64_t owner; /* owner word: pid in the low 32 bits; 0 = free */
  uint64_t head;
  uint64_t tail;      /* the lane's shared tail */
  uint64_t released;  /* this cursor's release position */
  uint64_t read_pos;  /* this cursor's read position */
  uint64_t inflight;  /* read and not released by this cursor */
  bool quarantined;   /* this cursor stopped reading the lane */
} hl_ring_lane_info;

/* hl_ring_consumer_open attaches to ring |name| (|opts| may be NULL: one
 * cursor, no creation). Errors, each with a message naming the ring:
 * -ENOENT, -EACCES, -EBUSY (another engine is attached), -EPROTO (not a
 * hookline ring, or inconsistent), -EPROTONOSUPPORT (layout version),
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

hl_ring_geometry hl_ring_consumer_geometry(const hl_ring_consumer *c);

/* hl_ring_consumer_created_ms returns when the segment was created: with a
 * record's lane and position it names the record for the segment's whole
 * life (the engine derives ids for messages sent without one from it). */
uint64_t hl_ring_consumer_created_ms(const hl_ring_consumer *c);
uint32_t hl_ring_consumer_cursors(const hl_ring_consumer *c);

/* hl_ring_consumer_cursor returns cursor |i| (< the cursors option). */
hl_ring_cursor *hl_ring_consumer_cursor(hl_ring_consumer *c, uint32_t i);

/* hl_ring_consumer_reap frees lanes whose producer died once every cursor
 * released everything it published, and resets quarantined lanes nobody
 * owns once every cursor stopped at the bad record and released what it
 * read before it. Call it now and then (every second is plenty); returns
 * the number of lanes changed. */
uint32_t hl_ring_consumer_reap(hl_ring_consumer *c);

hl_ring_consumer_stats hl_ring_consumer_stats_get(const hl_ring_consumer *c);

/* hl_ring_consumer_retire marks the segment removed, so producers still
 * attached get -ESTALE and reopen, and unlinks it. */
int hl_ring_consumer_retire(hl_ring_consumer *c);

/* hl_ring_cursor_read fills up to |cap| items, taking records from every
 * lane with data in turn (at most cap / lanes-with-data from each per
 * round, the first lane rotating), and returns how many; 0 = nothing. */
size_t hl_ring_cursor_read(hl_ring_cursor *k, hl_ring_item *items, size_t cap);

/* hl_ring_cursor_release releases records in any order. Tokens must come
 * from this cursor's reads, each released once: -EINVAL (unknown lane, or
 * never read) or -EALREADY (released before) is returned for the first bad
 * token, after the good ones are applied. Lane tails are raised once per
 * call and producers waiting for space are woken. */
int hl_ring_cursor_release(hl_ring_cursor *k, const hl_ring_token *tokens, size_t n);

/* hl_ring_cursor_release_upto releases every record of |lane| this cursor
 * read with seq <= |seq| ("safe up to"). -EINVAL if |seq| was never read. */
int hl_ring_cursor_release_upto(hl_ring_cursor *k, uint32_t lane, uint64_t seq);

/* hl_ring_cursor_prepare_sleep announces that this cursor's worker will
 * sleep and re-checks every lane. Returns 0 with *word and *expected set:
 * wait on them (FUTEX_WAIT semantics: returns at once if *word differs).
 * Returns -EAGAIN if there is something to read (the announcement is
 * withdrawn). */
int hl_ring_cursor_prepare_sleep(hl_ring_cursor *k, uint32_t **word, uint32_t *expected);

/* hl_ring_cursor_end_sleep withdraws the announcement after waking. */
void hl_ring_cursor_end_sleep(hl_ring_cursor *k);

hl_ring_cursor_stats hl_ring_cursor_stats_get(const hl_ring_cursor *k);
int hl_ring_cursor_lane_info(const hl_ring_cursor *k, uint32_t lane, hl_ring_lane_info *out);

#endif
