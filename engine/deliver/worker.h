/* worker: one delivery loop (ARCHITECTURE.md, "A delivery's life").
 *
 * A worker runs on its own thread with its own io_uring loop, HTTP client,
 * resolver and connection pools, and owns the endpoints whose rowid modulo
 * the worker count is its index. Each iteration it
 *   1. adopts a new routing table if the store thread posted one,
 *   2. takes due retries from its inbox (posted by the store thread),
 *   3. releases ring positions whose log records are committed,
 *   4. reads ring records (its own cursor; every worker reads every
 *      message) and routes them to its endpoints' queues,
 *   5. starts what the endpoints' gates allow: render, then sign all of
 *      them with one batch HMAC call, then submit to the client,
 *   6. publishes its log records to the store thread,
 *   7. waits in io_uring (client completions, timers, the ring's futex, a
 *      wake-up from another thread).
 * A finished attempt becomes a log record; the message's ring position is
 * released once every delivery of it has a committed final record.
 * Unfinished deliveries are spilled (payload + pending row) so that the
 * ring keeps moving: when their lane is more than half full, or after
 * spill_after_ms. */
#ifndef HL_DELIVER_WORKER_H
#define HL_DELIVER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "deliver/route.h"
#include "deliver/storer.h"
#include "io/netpolicy.h"
#include "ring/consumer.h"

struct hl_tls_ctx;

/* What every worker shares, read-only while they run. */
typedef struct hl_worker_shared {
  uint32_t workers;
  hl_ring_consumer *ring;
  hl_storer *storer;
  hl_netpolicy policy;
  struct hl_tls_ctx *tls;
  const char *ca_file;
  bool retain_payloads;   /* keep every delivered payload (replay) */
  uint32_t spill_after_ms;
  uint32_t shutdown_grace_ms;
  uint32_t deliveries_max; /* per worker */
  uint32_t messages_max;   /* per worker: read, unreleased */
} hl_worker_shared;

typedef struct hl_worker hl_worker;

/* Attempt results by class, for metrics: the network classes (io/conn.h
 * hl_neterr), then these. */
enum {
  HL_CLASS_HTTP_2XX = 32,
  HL_CLASS_HTTP_3XX,
  HL_CLASS_HTTP_4XX,
  HL_CLASS_HTTP_410,
  HL_CLASS_HTTP_429,
  HL_CLASS_HTTP_5XX,
  HL_CLASS_HTTP_OTHER,
  HL_CLASS_RENDER_ERROR,
  HL_CLASS_COUNT,
};

/* hl_worker_class_name names an HL_CLASS_* or hl_neterr index ("" if none). */
const char *hl_worker_class_name(uint32_t i);

/* Counters for metrics, written by the worker, read by anyone (relaxed). */
typedef struct hl_worker_stats {
  _Atomic uint64_t by_class[HL_CLASS_COUNT]; /* attempts by result class */
  _Atomic uint64_t last_iter_ms;  /* monotonic: the loop is alive */
  _Atomic uint64_t ring_lag;      /* gauge: records published, not read yet */
  _Atomic uint64_t conns_open;    /* gauges copied from the client each tick */
  _Atomic uint64_t conns_idle;
  _Atomic uint64_t tls_handshakes; /* counters copied from the client */
  _Atomic uint64_t tls_resumed;
  _Atomic uint64_t dns_lookups;
  _Atomic uint64_t dns_cache_hits;
  _Atomic uint64_t messages;      /* records read from the ring */
  _Atomic uint64_t deliveries;    /* deliveries created (fan-out) */
  _Atomic uint64_t attempts;
  _Atomic uint64_t delivered;
  _Atomic uint64_t retries;       /* retries scheduled */
  _Atomic uint64_t dead;
  _Atomic uint64_t disabled;
  _Atomic uint64_t spilled;
  _Atomic uint64_t deferred;      /* parked by a breaker or overflow */
  _Atomic uint64_t redispatched;  /* a pending delivery handed over again
                                     while held (lease ran out): dropped */
  _Atomic uint64_t render_errors;
  _Atomic uint64_t in_flight;     /* gauge: requests at the client */
  _Atomic uint64_t queued;        /* gauge: deliveries waiting at a gate */
  _Atomic uint64_t unreleased;    /* gauge: messages read, not released */
  _Atomic uint64_t duration_sum_us;
  _Atomic uint64_t duration_n;
} hl_worker_stats;

/* hl_worker_new allocates a worker (any thread); hl_worker_run runs it on
 * the calling thread until hl_worker_stop, then shuts down gracefully. */
int hl_worker_new(hl_worker_shared *sh, uint32_t index, hl_worker **out, hl_err *err);
int hl_worker_run(hl_worker *w, hl_err *err);
void hl_worker_free(hl_worker *w);

/* From other threads. */
void hl_worker_stop(hl_worker *w);
/* hl_worker_post_routes hands |t| (one reference, taken over) to the worker. */
void hl_worker_post_routes(hl_worker *w, hl_route_table *t);
/* hl_worker_post_due queues a due retry for the worker (store thread);
 * returns false when its inbox is full. */
bool hl_worker_post_due(hl_worker *w, const hl_pending_rec *p);
/* hl_worker_wake: a commit advanced (store thread). */
void hl_worker_wake(hl_worker *w);
bool hl_worker_ready(const hl_worker *w);
uint32_t hl_worker_index(const hl_worker *w);

const hl_worker_stats *hl_worker_stats_get(const hl_worker *w);

/* Snapshots the worker refreshes every tick for other threads: the
 * delivery-duration histogram (microseconds) and its endpoints' breaker
 * states. |fn| runs under the snapshot's lock. */
struct hl_hist;
void hl_worker_with_hist(hl_worker *w, void (*fn)(const struct hl_hist *h, void *ctx), void *ctx);
void hl_worker_each_breaker(hl_worker *w, void (*fn)(const char *endpoint_id, int state, void *ctx),
                            void *ctx);

#endif
