/* client: the HTTP/1.1 client the engine delivers through.
 *
 * One hl_client per worker loop. The engine submits a request (URL, method,
 * head or header list, body, timeouts, network policy) and gets exactly one
 * completion callback with a result: a status code, or a classified error
 * (hl_neterr, with a stable short name and a sentence of detail), the first
 * bytes of the response body, Retry-After, timings, and whether the
 * connection was reused. The client owns the request table, the per-origin
 * pools (http/pool.h) with their TLS session stores, the connections
 * (io/conn.h) and every timer of a request; it never follows redirects (a
 * 301 is just a status) and never pipelines.
 *
 * Connections: an idle keep-alive connection of the origin is reused first
 * (the most recently used one); otherwise a new one is opened if the
 * origin and the client are under their connection limits (when only the
 * total is reached, the connection idle longest anywhere is closed to make
 * room); otherwise the request waits in its origin's FIFO queue, its
 * deadline running. An idle connection keeps a receive armed and is closed
 * as soon as it turns readable (data or EOF), when its idle timeout passes,
 * or after requests_per_conn_max requests. A request whose REUSED
 * connection fails before any response byte arrives (reset, EOF, write
 * error: the server closed it just as we sent; the keep-alive race) is sent
 * again, once, on a fresh connection; never after a response byte, and never
 * when the failed connection was fresh.
 *
 * Memory: everything is allocated by hl_client_new (request table, body
 * excerpt and head buffers, connection table, origin table); a full request
 * table is refused at submit (-EBUSY, client_busy), never grown.
 *
 * Callbacks run on the loop's thread, from a completion or a timer, or from
 * inside hl_client_cancel / hl_client_cancel_all; never from inside
 * hl_client_submit (an error found during submit is delivered on the next
 * loop iteration). A callback may submit and cancel requests. */
#ifndef HL_HTTP_CLIENT_H
#define HL_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"
#include "http/h1_request.h"
#include "http/h1_response.h"
#include "io/conn.h"
#include "io/loop.h"
#include "io/netpolicy.h"
#include "text/url.h"

typedef struct hl_client hl_client;

/* A request's id: {generation:32, slot:32}. 0 is never a valid id. */
typedef uint64_t hl_client_id;

/* Durations in microseconds (0 when the phase did not happen: no DNS for
 * an IP literal, no connect on a reused connection). */
typedef struct hl_client_timings {
  uint32_t queue_us;   /* waiting for a connection (pool at its limit) */
  uint32_t dns_us;
  uint32_t connect_us; /* TCP connect on a new connection */
  uint32_t tls_us;     /* TLS handshake on a new connection */
  uint32_t ttfb_us;    /* request handed to the socket -> first response byte */
  uint32_t total_us;   /* submit -> completion */
} hl_client_timings;

typedef struct hl_client_result {
  hl_neterr error;  /* HL_NETERR_OK when a complete response arrived */
  uint16_t status;  /* the final status code; 0 if no status line arrived */
  const char *detail; /* "" when ok; else one sentence (the rule, the limit,
                         the address), never a secret */
  hl_span body;       /* the first body bytes, at most body_bytes_kept */
  uint64_t body_bytes; /* body bytes received in all */
  bool body_truncated; /* body_bytes > body.len */
  int32_t retry_after_s; /* Retry-After in seconds from now, -1 if absent
                            or unreadable */
  bool reused;      /* the response came on a connection that had carried an
                       earlier request */
  bool retried;     /* sent a second time after the keep-alive race */
  bool keep_alive;  /* the connection went back to the pool afterwards */
  /* The response head (content type, location, ...) when status != 0. */
  const hl_h1_response *response;
  hl_client_timings t;
} hl_client_result;

/* The completion callback: |r| and everything it points to are valid only
 * during the call. */
typedef void (*hl_client_done_fn)(void *ctx, hl_client_id id, const hl_client_result *r);

typedef struct hl_client_request {
  /* Read during submit only (the client copies the origin). */
  const hl_url *url;
  hl_http_method method;
  /* Either a complete request head the caller wrote (CR LF CR LF included;
   * valid until completion), or, when |head| is empty, a header list from
   * which the client writes the head (h1_request rules: Host, User-Agent,
   * Content-Type, Content-Length are the client's; read during submit). */
  hl_span head;
  const hl_h1_header *headers;
  size_t headers_len;
  hl_span body; /* caller-owned, valid until completion; not copied */
  /* Timeouts in ms; 0 takes the client's default. */
  uint32_t connect_timeout_ms;
  uint32_t tls_handshake_timeout_ms;
  uint32_t response_header_timeout_ms; /* request written -> response head */
  uint32_t request_timeout_ms;         /* submit -> completion, everything */
  bool allow_plain_http; /* http:// URLs are refused (policy_refused) unless set */
  /* The SSRF policy, checked on the URL's host and on every address right
   * before connecting. Required; valid until completion. */
  const hl_netpolicy *policy;
  uint8_t tls_profile; /* which TLS context (hl_client_options.tls) */
  hl_client_done_fn done;
  void *ctx;
} hl_client_request;

#define HL_CLIENT_TLS_PROFILES_MAX 4

struct hl_tls_ctx;
struct hl_dns;

typedef struct hl_client_options {
  uint32_t requests_max;         /* requests in flight (table size) */
  uint32_t conns_max;            /* connections open at once */
  uint32_t conns_per_origin_max;
  uint32_t origins_max;
  uint32_t waiters_per_origin_max;
  uint32_t requests_per_conn_max;
  uint32_t idle_timeout_ms;
  uint32_t body_bytes_kept;      /* <= HL_HTTP_BODY_BYTES_KEPT */
  /* Defaults for requests that leave theirs at 0. */
  uint32_t connect_timeout_ms;
  uint32_t tls_handshake_timeout_ms;
  uint32_t response_header_timeout_ms;
  uint32_t request_timeout_ms;
  hl_h1_limits h1; /* response parser bounds */
  /* TLS contexts by profile (the caller owns them and frees them after
   * hl_client_free). A request for https:// with a NULL context for its
   * profile fails with tls_handshake. */
  struct hl_tls_ctx *tls[HL_CLIENT_TLS_PROFILES_MAX];
  /* The loop's resolver (io/dns.h), required; the caller owns it and frees
   * it after hl_client_free. */
  struct hl_dns *dns;
} hl_client_options;

/* hl_client_options_from takes every bound from |l| (engine limits). */
hl_client_options hl_client_options_from(const hl_limits *l);

/* hl_client_new allocates everything for |o| and registers with |loop|.
 * Returns 0 or a negative errno with |err| naming the bad option. */
int hl_client_new(hl_loop *loop, const hl_client_options *o, hl_client **out, hl_err *err);

/* hl_client_free frees the client. Every request must have completed
 * (hl_client_cancel_all completes them) and the loop must have drained
 * (hl_loop_drain) so that no connection is in flight. NULL is a no-op. */
void hl_client_free(hl_client *c);

/* hl_client_submit starts |r| and stores its id in |*id| (may be NULL).
 * Returns 0: exactly one completion follows, never from inside this call.
 * On failure nothing follows and |err| says why:
 *   -EINVAL  the request is malformed (a header, the method, no policy or
 *            callback, a head that does not fit);
 *   -EBUSY   the request table is full (client_busy);
 *   -ENOSPC  the origin table is full of busy origins (pool_full). */
int hl_client_submit(hl_client *c, const hl_client_request *r, hl_client_id *id, hl_err *err);

/* hl_client_cancel completes request |id| with `canceled` before returning
 * (closing its connection if it was on one). Returns false, doing nothing,
 * if |id| is not in flight (already completed, or never was). */
bool hl_client_cancel(hl_client *c, hl_client_id id);

/* hl_client_cancel_all cancels every request in flight (engine shutdown)
 * and closes every connection, idle ones included. */
void hl_client_cancel_all(hl_client *c);

/* Counters (cumulative unless marked gauge). */
typedef struct hl_client_stats {
  uint64_t submitted;
  uint64_t completed;
  uint64_t by_error[HL_NETERR_COUNT_]; /* completions per class (OK included) */
  uint64_t busy;            /* submits refused: request table full */
  uint64_t conns_opened;    /* new connections started */
  uint64_t handshakes;      /* TLS handshakes completed */
  uint64_t resumed;         /* of which resumed a session */
  uint64_t reused;          /* requests sent on a reused connection */
  uint64_t retried;         /* keep-alive race retries */
  uint64_t idle_closed_readable; /* idle connections closed: data or EOF */
  uint64_t idle_closed_timeout;
  uint64_t idle_closed_for_room; /* closed to make room under the total limit */
  uint64_t queued;          /* requests that waited for a connection */
  uint32_t in_flight;       /* gauge */
  uint32_t conns_open;      /* gauge */
  uint32_t conns_idle;      /* gauge */
} hl_client_stats;

void hl_client_stats_get(const hl_client *c, hl_client_stats *out);

#endif
