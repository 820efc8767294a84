/* storer: the engine's store thread, the only thread that writes SQLite.
 *
 * Workers never touch the database. Each worker has a lane: a bounded SPSC
 * queue of log records (an attempt and what follows from it: a payload to
 * keep, a retry to schedule, a dead letter, an endpoint to disable). The
 * store thread drains every lane into ONE transaction per round (group
 * commit), commits, and then publishes per lane the sequence number of the
 * last record committed. A worker releases a message's ring position only
 * once every record about it is committed: that is what makes a message
 * "safe" (ARCHITECTURE.md, Durability).
 *
 * The thread also polls, every poll_ms: due retries in the pending table
 * (handed to the engine with a lease, so a crash re-sends them and a slow
 * attempt is not sent twice), and the endpoints' change generation (the
 * engine reloads). It sleeps on a futex when idle: zero CPU. */
#ifndef HL_DELIVER_STORER_H
#define HL_DELIVER_STORER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/spsc.h"
#include "store/store.h"

#define HL_STORER_LANE_BYTES_DEFAULT (16u * 1024 * 1024)
#define HL_STORER_BATCH_MAX 16384
/* A round this large means the next is already waiting: no nap. */
#define HL_STORER_BATCH_TARGET 2048
#define HL_STORER_POLL_MS_DEFAULT 250
#define HL_STORER_DUE_BATCH_MAX 1024
#define HL_STORER_LANES_MAX 64

typedef struct hl_storer hl_storer;

/* One lane per worker. Fields are the storer's; workers use the functions. */
typedef struct hl_storer_lane {
  hl_spsc q;
  uint64_t next_seq;  /* worker-owned: seq of the next record */
  _Alignas(64) _Atomic uint64_t committed_seq; /* store-owned */
  hl_storer *owner;
  uint32_t index;
} hl_storer_lane;

/* What one finished attempt means for the database. */
typedef struct hl_log_attempt {
  hl_attempt_rec attempt;  /* the attempt row */
  hl_message_rec message;  /* id, event (always); payload when store_payload */
  bool store_payload;      /* keep the payload (retry, dead letter, retained) */
  bool from_pending;       /* the attempt came from the pending table */
} hl_log_attempt;

typedef enum hl_pending_verdict {
  HL_PENDING_TAKEN = 0,  /* dispatched to a worker */
  HL_PENDING_LATER,      /* the worker is busy; poll again later */
  HL_PENDING_DROP,       /* the endpoint is gone or disabled: end it */
} hl_pending_verdict;

typedef struct hl_storer_options {
  const char *data_dir;
  uint32_t lanes;            /* one per worker */
  size_t lane_bytes;         /* 0: HL_STORER_LANE_BYTES_DEFAULT */
  uint32_t poll_ms;          /* 0: HL_STORER_POLL_MS_DEFAULT */
  uint32_t lease_ms;         /* a dispatched retry is re-sent after this */
  bool reclaim_leases;       /* at open: the caller owns the data directory,
                                so leases left by an engine that died are
                                due again now */
  int64_t retention_ms;      /* keep the log this long; 0: forever */
  /* Called on the store thread with a due retry; spans valid during the
   * call only. */
  hl_pending_verdict (*on_due)(const hl_pending_rec *p, void *ctx);
  /* Called on the store thread when endpoints changed (and once at start),
   * with the thread's own store connection to read them. */
  void (*on_endpoints)(hl_store *s, int64_t generation, void *ctx);
  /* Called on the store thread after a commit advanced |lane|'s sequence. */
  void (*on_committed)(uint32_t lane, void *ctx);
  void *ctx;
} hl_storer_options;

/* hl_storer_new opens the store and allocates the lanes; hl_storer_start
 * starts the thread (callbacks begin). Between the two the caller sets up
 * whatever the callbacks reach (the workers, which need the lanes). */
int hl_storer_new(hl_storer **out, const hl_storer_options *o, hl_err *err);
int hl_storer_start(hl_storer *s, hl_err *err);

/* hl_storer_stop drains every lane, commits, and joins the thread. Workers
 * must have stopped writing. hl_storer_stop(NULL) is a no-op. */
void hl_storer_stop(hl_storer *s);

hl_storer_lane *hl_storer_lane_get(hl_storer *s, uint32_t i);

/* Worker side. Each returns the record's sequence number (> 0), or -EAGAIN
 * if the lane is full (the worker stops taking new work until commits free
 * room), or -E2BIG for a record that can never fit. Records are not visible
 * to the store thread until hl_storer_flush. */
int64_t hl_storer_attempt(hl_storer_lane *l, const hl_log_attempt *a);
/* hl_storer_defer keeps a delivery for later without an attempt: payload +
 * a pending row for |attempt| at |next_ms| (spill, breaker pause, overflow). */
int64_t hl_storer_defer(hl_storer_lane *l, const hl_message_rec *m, bool store_payload,
                        int64_t endpoint_rowid, uint32_t attempt, int64_t next_ms);
/* hl_storer_disable disables an endpoint (410 Gone) with |reason|. */
int64_t hl_storer_disable(hl_storer_lane *l, hl_span endpoint_id, hl_span reason);
/* hl_storer_breaker records an endpoint's circuit breaker state (for
 * `hookline status`). |state| is a static string (hl_breaker_name). */
int64_t hl_storer_breaker(hl_storer_lane *l, int64_t endpoint_rowid, const char *state,
                          int64_t since_ms, uint32_t failures);
/* hl_storer_flush publishes the records written so far and wakes the store
 * thread if it sleeps. */
void hl_storer_flush(hl_storer_lane *l);

static inline uint64_t hl_storer_committed(hl_storer_lane *l) {
  return atomic_load_explicit(&l->committed_seq, memory_order_acquire);
}

/* Counters for metrics (read racily, written by the store thread). */
typedef struct hl_storer_stats {
  _Atomic uint64_t records;
  _Atomic uint64_t commits;
  _Atomic uint64_t attempts;
  _Atomic uint64_t payloads;
  _Atomic uint64_t due_dispatched;
  _Atomic uint64_t errors;
  _Atomic int64_t pending; /* rows, refreshed each poll */
  _Atomic uint64_t pruned;  /* attempt rows removed by retention */
  _Atomic uint64_t last_round_ms; /* monotonic: the thread is alive */
} hl_storer_stats;

const hl_storer_stats *hl_storer_stats_get(const hl_storer *s);

#endif
