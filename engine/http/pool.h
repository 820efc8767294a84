/* pool: the bookkeeping of per-origin connection pools.
 *
 * An origin is (scheme, lower-cased host, port, TLS profile): two requests
 * may share a connection only if all four are equal. For each origin the
 * pool keeps how many connections are open (or opening), a LIFO stack of
 * idle keep-alive connections (the most recently used one is reused first:
 * it is the least likely to have been closed by the server, and the others
 * age out through the idle timeout), a bounded FIFO of requests waiting for
 * a connection. Whoever keeps per-origin state beside the pool (the
 * client's TLS session stores) hears when an origin entry is recycled.
 *
 * Everything is sized at hl_pool_init and nothing grows: the origin table
 * has a fixed number of entries in a chained hash table; an origin with no
 * connection and no reference stays cached (with its TLS session) on an LRU
 * list and is recycled when a new origin needs its entry. Connections and
 * requests are named by their indices (conn ids, request slots); the pool
 * owns only the links between them, in arrays indexed by those ids. A
 * global LRU list of idle connections across origins lets the client close
 * the one idle longest when the total connection limit is reached.
 *
 * Pure data structure: no I/O, no clock, no allocation after init; the
 * client (http/client.c) decides when to open, reuse, park and close. */
#ifndef HL_HTTP_POOL_H
#define HL_HTTP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"
#include "text/url.h"

#define HL_POOL_NONE UINT32_MAX

/* An origin key. Build it with hl_origin_key_from_url so that equal origins
 * give equal keys byte for byte (the host is lower-cased, an IPv6 literal is
 * in canonical text). */
typedef struct hl_origin_key {
  uint8_t scheme; /* hl_url_scheme */
  uint8_t tls_profile;
  uint16_t port;
  uint16_t host_len;
  char host[HL_HOST_BYTES_MAX + 1]; /* NUL-terminated for SNI and logs */
} hl_origin_key;

/* hl_origin_key_from_url fills |k| from a parsed URL and a TLS profile (an
 * index the caller gives TLS settings that change what a connection is:
 * trust anchors, verification). */
void hl_origin_key_from_url(const hl_url *u, uint8_t tls_profile, hl_origin_key *k);

bool hl_origin_key_eq(const hl_origin_key *a, const hl_origin_key *b);
uint32_t hl_origin_key_hash(const hl_origin_key *k);

typedef struct hl_pool_origin {
  hl_origin_key key;
  uint32_t hash;
  uint32_t bucket_next;
  uint32_t lru_prev, lru_next; /* on the unused list (no conn, no ref) */
  uint32_t conns;              /* open or opening */
  uint32_t refs;               /* requests that name this origin */
  uint32_t idle_head;          /* LIFO stack of idle connections */
  uint32_t idle;
  uint32_t wait_head, wait_tail; /* FIFO of waiting requests */
  uint32_t waiting;
  uint32_t blocked_next; /* on the blocked list: waiters held by the total limit */
  bool in_use;
  bool unused_listed;
  bool blocked;
} hl_pool_origin;

typedef struct hl_pool_limits {
  uint32_t origins_max;
  uint32_t conns_max;            /* connections counted at once */
  /* Connection ids are 0..conn_ids_max-1 (>= conns_max: a closing
   * connection's id stays taken for a while after it is uncounted). */
  uint32_t conn_ids_max;
  uint32_t conns_per_origin_max;
  uint32_t requests_max;         /* request ids are 0..requests_max-1 */
  uint32_t waiters_per_origin_max;
} hl_pool_limits;

/* Called when origin entry |origin| is about to be reused for another key
 * (and for every entry at cleanup): drop what you keep for it. */
typedef void (*hl_pool_recycle_fn)(void *ctx, uint32_t origin);

/* Per-connection links (indexed by conn id). */
typedef struct hl_pool_conn {
  uint32_t origin; /* HL_POOL_NONE when not counted */
  uint32_t idle_prev, idle_next;  /* in its origin's idle stack */
  uint32_t glob_prev, glob_next;  /* in the global idle LRU */
  bool idle;
} hl_pool_conn;

typedef struct hl_pool_req {
  uint32_t prev, next;
  uint32_t origin; /* HL_POOL_NONE when not waiting */
} hl_pool_req;

typedef struct hl_pool {
  hl_pool_limits lim;
  hl_pool_origin *origins;
  uint32_t *buckets;
  uint32_t bucket_mask;
  uint32_t free_head;                 /* never-used or recycled entries */
  uint32_t unused_head, unused_tail;  /* LRU of cached unused origins */
  uint32_t blocked_head, blocked_tail;
  hl_pool_conn *conns;
  hl_pool_req *reqs;
  uint32_t glob_idle_head, glob_idle_tail; /* head: most recent */
  uint32_t conns_open;
  uint32_t conns_idle;
  uint32_t origins_live;
  uint64_t origins_recycled;
  uint64_t origins_full; /* origin lookups refused: every entry busy */
  hl_pool_recycle_fn on_recycle;
  void *recycle_ctx;
} hl_pool;

/* hl_pool_init allocates everything for |lim| (each bound >= 1). Returns 0,
 * -EINVAL or -ENOMEM. |on_recycle| may be NULL. */
int hl_pool_init(hl_pool *p, const hl_pool_limits *lim, hl_pool_recycle_fn on_recycle, void *ctx);
void hl_pool_cleanup(hl_pool *p);

/* hl_pool_origin_get finds the origin for |k| or makes one, recycling the
 * least recently unused cached origin if the table is full, and takes a
 * reference on it (a request holds one from submit to completion, so that
 * its origin is not recycled while it resolves or waits). Returns 0 with
 * |*origin| set, or -ENOSPC when every entry has connections or references
 * (counted in origins_full). */
int hl_pool_origin_get(hl_pool *p, const hl_origin_key *k, uint32_t *origin);

/* hl_pool_origin_put drops a reference taken by hl_pool_origin_get. */
void hl_pool_origin_put(hl_pool *p, uint32_t origin);

static inline hl_pool_origin *hl_pool_origin_at(hl_pool *p, uint32_t origin) {
  return &p->origins[origin];
}

/* hl_pool_can_open: the origin and the whole pool are below their
 * connection limits. */
bool hl_pool_can_open(const hl_pool *p, uint32_t origin);
bool hl_pool_total_full(const hl_pool *p);

/* hl_pool_conn_opened counts connection |conn| against |origin| (it must
 * not be counted yet, and hl_pool_can_open must hold). */
void hl_pool_conn_opened(hl_pool *p, uint32_t origin, uint32_t conn);

/* hl_pool_conn_closed uncounts |conn| (removing it from the idle lists if
 * it was idle). */
void hl_pool_conn_closed(hl_pool *p, uint32_t conn);

static inline uint32_t hl_pool_conn_origin(const hl_pool *p, uint32_t conn) {
  return p->conns[conn].origin;
}

/* Idle connections: push parks |conn| on top of its origin's stack and at
 * the head of the global LRU; pop takes the most recently parked one of
 * |origin|; remove takes a given one out (it turned readable or timed out);
 * oldest is the global least recently parked (to be closed when the total
 * limit is reached). */
void hl_pool_idle_push(hl_pool *p, uint32_t conn);
bool hl_pool_idle_pop(hl_pool *p, uint32_t origin, uint32_t *conn);
void hl_pool_idle_remove(hl_pool *p, uint32_t conn);
bool hl_pool_idle_oldest(const hl_pool *p, uint32_t *conn);
static inline bool hl_pool_conn_is_idle(const hl_pool *p, uint32_t conn) {
  return p->conns[conn].idle;
}

/* Waiters: push appends request |req| to |origin|'s queue (-ENOSPC when
 * the queue holds waiters_per_origin_max); pop takes the oldest; remove
 * takes a given one out (its deadline passed, or it was cancelled). */
int hl_pool_wait_push(hl_pool *p, uint32_t origin, uint32_t req);
bool hl_pool_wait_pop(hl_pool *p, uint32_t origin, uint32_t *req);
void hl_pool_wait_remove(hl_pool *p, uint32_t req);
static inline bool hl_pool_req_waiting(const hl_pool *p, uint32_t req) {
  return p->reqs[req].origin != HL_POOL_NONE;
}

/* Blocked origins have waiters that the total limit (not their own) holds
 * back; when any connection closes, the client serves them first come,
 * first served. mark is idempotent; next pops one. */
void hl_pool_blocked_mark(hl_pool *p, uint32_t origin);
bool hl_pool_blocked_next(hl_pool *p, uint32_t *origin);

#endif
