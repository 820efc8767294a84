/* hookline-sink: the HTTP/1.1 + TLS receiver that tests and benchmarks
 * deliver to. Shared declarations of its parts:
 *
 *   config.c   the command line: listeners, routes (behaviours), options
 *   server.c   one worker: an io_uring loop (io/loop.h) that accepts,
 *              reads requests (http/h1_request_parse.h), verifies, records
 *              and answers them, over plain TCP or io/tls
 *   record.c   --record: one JSON line per request
 *   main.c     threads, signals, stats
 *
 * The configuration is built on the main thread and is read-only once the
 * workers start; each worker owns its loop, connections and counters. The
 * main thread reads the counters (relaxed atomic loads of values only their
 * worker writes) to print stats. */
#ifndef HL_SINK_H
#define HL_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"
#include "base/hist.h"
#include "base/limits.h"
#include "crypto/sign.h"
#include "io/tls.h"
#include "text/json_scan.h"

/* What a route does with a request (after reading it whole). */
typedef enum sink_mode {
  SINK_MODE_NORMAL = 0, /* answer status (at rate), after delay */
  SINK_MODE_NEVER,      /* never answer; keep reading and discarding */
  SINK_MODE_SLOW,       /* answer one byte every slow_ms */
  SINK_MODE_BIG_HEADER, /* a response whose header is header_bytes long */
  SINK_MODE_ENDLESS,    /* a chunked body that never ends */
  SINK_MODE_BAD_STATUS, /* a malformed status line, then close */
  SINK_MODE_RESET,      /* part of a response, then RST (SO_LINGER 0) */
  SINK_MODE_CLOSE_AFTER, /* a keep-alive response, then close at once */
  SINK_MODE_CLOSE_ON_NEXT, /* a keep-alive response; close when the next
                              request arrives, without answering it */
  SINK_MODE_DROP,       /* close without answering */
  SINK_MODE_COUNT_
} sink_mode;

const char *sink_mode_name(sink_mode m);

typedef struct sink_route {
  char text[HL_SINK_ROUTE_PREFIX_BYTES_MAX + 8]; /* "[N:]prefix", the stats key */
  char prefix[HL_SINK_ROUTE_PREFIX_BYTES_MAX];
  uint32_t prefix_len;
  int listener; /* -1: every listener */
  sink_mode mode;
  uint16_t status;
  double rate;        /* share of requests answered with |status|; others 200 */
  int64_t retry_after_s; /* -1: no Retry-After */
  bool retry_after_date; /* as an HTTP-date now + retry_after_s */
  bool close;          /* answer with Connection: close and close */
  uint32_t delay_ms;
  uint32_t body_bytes; /* response body size; 2 ("ok") by default */
  uint32_t slow_ms;    /* slow mode: interval between bytes */
  uint32_t header_bytes; /* big-header mode: header size */
  uint32_t chunk_ms;     /* endless mode: interval between chunks (0: flat out) */
  /* Immutable response bytes made at start and shared by workers. */
  char *fixed;     /* big-header or bad-status response, endless head */
  uint32_t fixed_len;
} sink_route;

typedef struct sink_listener {
  char text[128]; /* as given, for messages */
  struct sockaddr_storage addr;
  socklen_t addr_len;
  bool tls;
  const char *cert_file; /* per listener, else --cert */
  const char *key_file;
  uint16_t tls_max_version; /* 0: default */
  hl_tls_ctx *tls_ctx;      /* shared by the workers */
  uint16_t port;            /* bound port (after bind) */
} sink_listener;

typedef struct sink_config {
  sink_listener listeners[HL_SINK_LISTENERS_MAX];
  uint32_t listeners_n;
  sink_route routes[HL_SINK_ROUTES_MAX];
  uint32_t routes_n;
  sink_route default_route; /* 200, normal: requests no route matches */
  uint32_t workers;
  uint32_t conns_per_worker;
  uint32_t recv_bufs;
  const char *cert_file;
  const char *key_file;
  const char *port_file;
  const char *stats_file;
  const char *record_file;
  int record_fd; /* -1 without --record */
  uint32_t record_body_bytes;
  bool verify;
  hl_signer signer;
  uint64_t verify_tolerance_s;
  bool quiet;
  /* --stamp-path: where a request's JSON body holds the Unix time (ns) it
   * was scheduled at; the sink histograms received - scheduled. */
  bool stamp;
  hl_json_path stamp_path;
  /* Shared immutable filler for response bodies (the largest body_bytes). */
  char *filler;
  uint32_t filler_len;
} sink_config;

/* config.c */
int sink_config_parse(sink_config *cfg, int argc, char **argv, hl_err *err);
/* sink_config_prepare loads certificates and builds the shared response
 * bytes. */
int sink_config_prepare(sink_config *cfg, hl_err *err);
void sink_config_cleanup(sink_config *cfg);
void sink_usage(int fd);

/* Counters of one worker. Only the worker writes them (SINK_INC, plain
 * stores of an atomically loaded value), the main thread reads them with
 * relaxed loads. */
typedef struct sink_stats {
  uint64_t requests;
  uint64_t responses;
  uint64_t conns_accepted;
  uint64_t conns_closed;
  uint64_t conns_refused; /* no free slot */
  uint64_t tls_handshakes;
  uint64_t tls_resumed;
  uint64_t tls_failures;
  uint64_t parse_errors;
  uint64_t sig_valid;
  uint64_t sig_invalid;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t hostile; /* requests answered by a hostile mode */
  /* Requests read whole and not answered yet (delayed or never answered):
   * waiting = wait_in - wait_out, the in-flight deliveries a sender has
   * here (the benchmark's concurrency scenario reads it). */
  uint64_t wait_in;
  uint64_t wait_out;
  uint64_t by_status[600];
  uint64_t by_route[HL_SINK_ROUTES_MAX + 1]; /* the last one: no route */
  /* --stamp-path: received - scheduled in microseconds, in hist.h's bucket
   * geometry (plain counts, so workers' stats still add up), and bodies
   * without a usable stamp. */
  uint64_t stamp_buckets[HL_HIST_BUCKETS];
  uint64_t stamp_bad;
} sink_stats;

_Static_assert(sizeof(sink_stats) % sizeof(uint64_t) == 0,
               "main sums stats as an array of counters");

#define SINK_ADD(field, n) \
  __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define SINK_INC(field) SINK_ADD(field, 1)
#define SINK_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

typedef struct sink_worker sink_worker;

/* server.c */
/* sink_worker_new makes worker |index|'s state; |fds| are its listening
 * sockets, one per cfg->listeners (it takes them over). The loop itself is
 * created by sink_worker_run on the worker's thread. */
int sink_worker_new(const sink_config *cfg, uint32_t index, const int *fds, sink_worker **out);
/* sink_worker_run runs the loop until sink_worker_stop, then closes every
 * connection and frees the loop. Returns 0 or a negative errno. */
int sink_worker_run(sink_worker *w);
void sink_worker_stop(sink_worker *w);
void sink_worker_free(sink_worker *w);
const sink_stats *sink_worker_stats(const sink_worker *w);

/* record.c */
typedef struct sink_record_info {
  uint32_t worker;
  uint64_t conn;
  uint64_t seq; /* request number on the connection, from 1 */
  uint32_t listener;
  bool tls;
  const void *req; /* const hl_h1_parsed_request * (the head, spans valid) */
  hl_span body;
  uint64_t body_bytes; /* all of it, even beyond the capture */
  const sink_route *route;
  bool route_matched;
  int status;     /* the status answered, 0 if none */
  const char *sig; /* "valid", "invalid" or NULL (not verifying) */
  const char *sig_error;
} sink_record_info;

/* sink_record_line formats one JSON line into |out| (ending in '\n');
 * returns 0 or -ENOSPC. */
int sink_record_line(const sink_config *cfg, const sink_record_info *info, hl_buf *out);

#endif
