/* ring_layout: the shared-memory contract between producers and the engine.
 *
 * One segment per engine instance: a POSIX shared-memory object (a name
 * without '/', e.g. "hookline" = /dev/shm/hookline) or a file (a name with a
 * '/'). It holds
 *
 *   [header: identity line | engine line | sleep-word line]      (4 KiB page)
 *   [lane control blocks: lane_count x 3 cache lines]            (page-rounded)
 *   [lane data: lane_count x lane_bytes, power of two each]
 *
 * Each lane is a single-producer / single-consumer byte ring. Positions are
 * 64-bit byte counts that only grow (the offset in the lane is pos & mask).
 * The producer owns `head`: it writes a whole record past head, then
 * publishes it with a release store of head. The consumer owns `tail`: it
 * moves it (release) only past records the engine has released. A record
 * never wraps: when it would not fit before the lane's end the producer
 * first writes a pad record running to the end.
 *
 * Record = 16-byte header {len, type, flags, crc, stamp} + payload, padded to
 * 16 bytes. `stamp` is the low 32 bits of (position / 16), so a header read
 * at the wrong place is recognised; `crc` is hl_crc32c_x3 over the header
 * (crc field zero) and the payload (ring/crc32c.h). Byte order is the host's: producers and the
 * engine run on the same machine.
 *
 * Wake-ups: a producer calls FUTEX_WAKE on the header's sleep word only when
 * an engine worker has set its bit in it (going to sleep); the worker sets
 * its bit, re-checks every lane, and then waits on the word. The producer
 * that finds the word non-zero swaps in 0 and wakes every waiter. A producer whose lane is full sets its
 * lane's space word and waits on it; the consumer wakes it after moving the
 * tail. Futexes are shared (no FUTEX_PRIVATE_FLAG): several processes.
 *
 * Owners: a lane's owner word is pid | (process start time << 32), set by
 * compare-and-swap. A dead owner (no such pid, a zombie, or a pid reused by
 * a process started later) loses the lane once everything it published is
 * released. Producers and the engine must share a pid namespace.
 *
 * This module owns the layout, its validation, the record header, segment
 * naming and opening, owner liveness, and the futex calls. It must not hold
 * policy (what to read, when to release): that is producer.c / consumer.c. */
#ifndef HL_RING_LAYOUT_H
#define HL_RING_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "base/limits.h"

#define HL_RING_MAGIC 0x454e494c4b4f4f48ull /* "HOOKLINE" in little-endian bytes */
#define HL_RING_LAYOUT_VERSION 1u
#define HL_RING_CACHE_LINE 64
#define HL_RING_PAGE_BYTES 4096
#define HL_RING_RECORD_ALIGN 16
#define HL_RING_RECORD_HEADER_BYTES 16
/* Mode of a created segment unless configured (admin/config.h agrees). */
#define HL_RING_MODE_DEFAULT 0600

/* Record types. */
#define HL_RING_REC_MSG 1u /* payload: a message (ring/message.h) */
#define HL_RING_REC_PAD 2u /* filler up to the lane's end, skipped */

/* Lane states (lane->state). */
#define HL_RING_LANE_OK 0u
#define HL_RING_LANE_QUARANTINED 1u /* the consumer found a corrupted record */

/* Header flags. */
#define HL_RING_F_RETIRED 1u /* the segment was unlinked: producers must reopen */

/* Owner word values besides pid | start << 32. */
#define HL_RING_OWNER_FREE 0ull
#define HL_RING_OWNER_ENGINE UINT64_MAX /* the consumer is resetting the lane */

typedef struct hl_ring_header {
  /* Identity: written once by the creator; magic last, with release. */
  alignas(HL_RING_CACHE_LINE) _Atomic uint64_t magic;
  uint32_t layout_version;
  uint32_t header_bytes;   /* sizeof(hl_ring_header) */
  uint32_t lane_ctl_bytes; /* sizeof(hl_ring_lane) */
  uint32_t lane_count;
  uint64_t lane_bytes;     /* per lane, a power of two */
  uint64_t lanes_offset;   /* where the lane control blocks start */
  uint64_t data_offset;    /* where lane 0's data starts */
  uint64_t segment_bytes;
  uint64_t created_ms;     /* wall clock */
  uint32_t record_bytes_max;
  uint32_t reserved0;
  /* Engine state. */
  alignas(HL_RING_CACHE_LINE) _Atomic uint32_t engine_pid; /* 0 = none attached */
  _Atomic uint32_t flags;                                  /* HL_RING_F_* */
  _Atomic uint64_t engine_attaches;                        /* count, for operators */
  /* The futex word producers wake: one bit per engine worker (cursor) that
   * is going to sleep, 0 while all are awake. Alone on its line so that
   * producers' reads of it stay cache hits. */
  alignas(HL_RING_CACHE_LINE) _Atomic uint32_t sleep_word;
} hl_ring_header;

typedef struct hl_ring_lane {
  /* Owner line: written on claim and release only. */
  alignas(HL_RING_CACHE_LINE) _Atomic uint64_t owner;
  _Atomic uint32_t state; /* HL_RING_LANE_* */
  _Atomic uint32_t epoch; /* bumped when the engine resets the lane */
  _Atomic uint64_t claims; /* times a producer claimed this lane */
  /* Producer line. */
  alignas(HL_RING_CACHE_LINE) _Atomic uint64_t head;
  /* Consumer line: tail, and the futex word a producer waits on when full. */
  alignas(HL_RING_CACHE_LINE) _Atomic uint64_t tail;
  _Atomic uint32_t space_word; /* non-zero while the producer waits for space */
} hl_ring_lane;

typedef struct hl_ring_record {
  uint32_t len;   /* payload bytes */
  uint16_t type;  /* HL_RING_REC_* */
  uint16_t flags; /* 0 */
  uint32_t crc;   /* hl_crc32c_x3(this header with crc = 0, payload) */
  uint32_t stamp; /* (uint32_t)(position / 16) */
} hl_ring_record;

_Static_assert(sizeof(hl_ring_record) == HL_RING_RECORD_HEADER_BYTES &&
                   HL_RING_RECORD_HEADER_BYTES == 2 * sizeof(uint64_t),
               "record header size: two checksum words");
_Static_assert(sizeof(hl_ring_header) <= HL_RING_PAGE_BYTES, "header fits its page");
_Static_assert(sizeof(hl_ring_lane) == 3 * HL_RING_CACHE_LINE, "three lines per lane");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "shared atomics must be lock-free");
_Static_assert(HL_RING_RECORD_BYTES_MAX % HL_RING_RECORD_ALIGN == 0, "aligned record max");

/* The sizes of a segment, derived from lane count and lane size. */
typedef struct hl_ring_geometry {
  uint32_t lane_count;
  uint64_t lane_bytes;
  uint64_t lanes_offset;
  uint64_t data_offset;
  uint64_t segment_bytes;
} hl_ring_geometry;

/* hl_ring_geometry_compute fills |g| for |lane_count| lanes of |lane_bytes|
 * each, or returns -EINVAL naming the bad value (lanes 1..HL_RING_LANES_MAX,
 * lane bytes a power of two in [HL_RING_LANE_BYTES_MIN,
 * HL_RING_LANE_BYTES_MAX]). */
int hl_ring_geometry_compute(uint32_t lane_count, uint64_t lane_bytes, hl_ring_geometry *g,
                             hl_err *err);

/* hl_ring_header_init writes a fresh header for |g| into |h| (zeroed memory)
 * and publishes it (magic stored last, with release). */
void hl_ring_header_init(hl_ring_header *h, const hl_ring_geometry *g);

/* hl_ring_header_check validates a mapped header against the mapping's size
 * and fills |g|. Errors: -EAGAIN (magic still zero: being created), -EPROTO
 * (not a hookline ring, or inconsistent sizes), -EPROTONOSUPPORT (another
 * layout version). |name| is used in the message. */
int hl_ring_header_check(const hl_ring_header *h, size_t mapped_bytes, const char *name,
                         hl_ring_geometry *g, hl_err *err);

static inline hl_ring_lane *hl_ring_lane_at(hl_ring_header *h, const hl_ring_geometry *g,
                                            uint32_t i) {
  return (hl_ring_lane *)((char *)h + g->lanes_offset) + i;
}

static inline uint8_t *hl_ring_lane_data(hl_ring_header *h, const hl_ring_geometry *g,
                                         uint32_t i) {
  return (uint8_t *)h + g->data_offset + (uint64_t)i * g->lane_bytes;
}

/* hl_ring_record_bytes is the space a record with |payload_len| bytes takes. */
static inline uint64_t hl_ring_record_bytes(uint64_t payload_len) {
  return (HL_RING_RECORD_HEADER_BYTES + payload_len + HL_RING_RECORD_ALIGN - 1) &
         ~(uint64_t)(HL_RING_RECORD_ALIGN - 1);
}

static inline uint32_t hl_ring_stamp(uint64_t pos) {
  return (uint32_t)(pos / HL_RING_RECORD_ALIGN);
}

/* hl_ring_record_crc computes a record's checksum (|r|'s crc field is
 * ignored) over its header and |payload|. */
uint32_t hl_ring_record_crc(const hl_ring_record *r, const void *payload, size_t len);

/* --- segment names -------------------------------------------------------- */

/* hl_ring_name_check validates a ring name: 1..HL_RING_NAME_BYTES_MAX-1
 * bytes; without '/', letters, digits, '.', '_', '-' (a POSIX shared-memory
 * object); with '/', a file path. */
int hl_ring_name_check(const char *name, hl_err *err);

/* hl_ring_segment_open opens the segment |name| read-write. With |create|,
 * a missing segment is created (exclusively) with exactly |mode| (umask does
 * not apply) and *created is set. Errors name the ring and say what to do:
 * -ENOENT (not there), -EACCES (permission), others from the system. */
int hl_ring_segment_open(const char *name, bool create, uint32_t mode, int *fd_out,
                         bool *created, hl_err *err);

/* hl_ring_segment_unlink removes the segment |name| (0, or -errno). */
int hl_ring_segment_unlink(const char *name);

/* hl_ring_segment_path writes the file system path of |name| (for messages:
 * /dev/shm/<name> for shared-memory names) into |out|. */
void hl_ring_segment_path(const char *name, char *out, size_t cap);

/* --- owners --------------------------------------------------------------- */

/* hl_ring_owner_self returns this process's owner word. */
uint64_t hl_ring_owner_self(void);

static inline pid_t hl_ring_owner_pid(uint64_t owner) {
  return (pid_t)(uint32_t)owner;
}

/* hl_ring_owner_alive says whether the process behind |owner| still runs
 * (and is the same process: a reused pid is dead). FREE and ENGINE count as
 * alive, so that nobody reclaims them. */
bool hl_ring_owner_alive(uint64_t owner);

/* --- futexes (shared between processes) ----------------------------------- */

/* hl_ring_futex_wait sleeps while *word == expected, for at most timeout_ms
 * (negative: no limit). Returns 0 when woken or when *word differs,
 * -ETIMEDOUT, -EINTR, or another -errno from futex(2). */
int hl_ring_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ms);

/* hl_ring_futex_wake wakes every waiter on |word|. */
void hl_ring_futex_wake(_Atomic uint32_t *word);

#endif
