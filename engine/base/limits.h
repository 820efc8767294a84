/* limits: every bound in hookline, in one place.
 *
 * Each limit has its unit last in its name and its default here, as a macro
 * so that relations between defaults can be checked at compile time. Modules
 * read the bounds they enforce from an hl_limits (which the engine may
 * override from configuration); none of them invents its own. When a bound is
 * hit the module returns an error naming the limit, never grows past it. */
#ifndef HL_BASE_LIMITS_H
#define HL_BASE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/* --- messages (producer input) --- */
#define HL_EVENT_NAME_BYTES_MAX 128
#define HL_MESSAGE_ID_BYTES_MAX 128
#define HL_ENDPOINT_ID_BYTES_MAX 128
#define HL_TENANT_BYTES_MAX 128
#define HL_MESSAGE_DATA_BYTES_MAX (256 * 1024)
#define HL_JSON_DEPTH_MAX 64

/* --- URLs and endpoints --- */
#define HL_URL_BYTES_MAX 4096
#define HL_HOST_BYTES_MAX 253
#define HL_ENDPOINT_HEADERS_MAX 32
#define HL_ENDPOINT_QUERY_PARAMS_MAX 32
#define HL_ENDPOINT_EVENTS_MAX 64
#define HL_RETRY_SCHEDULE_STEPS_MAX 32
#define HL_SECRETS_PER_ENDPOINT_MAX 4

/* --- templates --- */
#define HL_TEMPLATE_BYTES_MAX (64 * 1024)
#define HL_TEMPLATE_SEGMENTS_MAX 1024
#define HL_TEMPLATE_PATH_BYTES_MAX 256
#define HL_TEMPLATE_PATH_PARTS_MAX 16
/* A rendered body holds the template's literals plus at most the message's
 * data a bounded number of times; past this the render fails cleanly. */
#define HL_RENDER_BYTES_MAX (1024 * 1024)

/* --- HTTP/1.1 client --- */
#define HL_HTTP_REQUEST_HEADERS_MAX 64
#define HL_HTTP_HEADER_VALUE_BYTES_MAX 8192
#define HL_HTTP_STATUS_LINE_BYTES_MAX 8192
#define HL_HTTP_HEADER_LINE_BYTES_MAX 8192
#define HL_HTTP_RESPONSE_HEADERS_MAX 100
#define HL_HTTP_RESPONSE_HEADER_BYTES_MAX (64 * 1024)
#define HL_HTTP_BODY_BYTES_KEPT 4096
#define HL_HTTP_BODY_BYTES_DISCARD_MAX (1024 * 1024)
#define HL_HTTP_CHUNK_LINE_BYTES_MAX 1024
#define HL_HTTP_INTERIM_RESPONSES_MAX 8

/* --- connections and timeouts --- */
#define HL_CONNS_MAX 16384
#define HL_CONNS_PER_ORIGIN_MAX 64
#define HL_ORIGINS_MAX 16384
#define HL_REQUESTS_PER_CONN_MAX 10000
#define HL_POOL_IDLE_TIMEOUT_MS 30000
#define HL_CONNECT_TIMEOUT_MS 10000
#define HL_TLS_HANDSHAKE_TIMEOUT_MS 10000
#define HL_RESPONSE_HEADER_TIMEOUT_MS 15000
#define HL_REQUEST_TIMEOUT_MS 30000
#define HL_DNS_TIMEOUT_MS 5000
#define HL_DNS_CACHE_ENTRIES_MAX 4096
#define HL_DNS_NEGATIVE_TTL_S 30
#define HL_DNS_TTL_MAX_S 3600

/* --- io_uring loop --- */
#define HL_LOOP_ENTRIES 4096
#define HL_LOOP_SLOTS_MAX 65536
#define HL_RECV_BUF_BYTES 16384
#define HL_RECV_BUFS 4096

/* --- shared-memory ring --- */
#define HL_RING_LANES_MAX 64
#define HL_RING_LANE_BYTES_DEFAULT (4u * 1024 * 1024)
#define HL_RING_RECORD_BYTES_MAX (HL_MESSAGE_DATA_BYTES_MAX + 1024)

/* --- signing --- */
/* HMAC jobs the engine hands hl_hmac_batch at once (its per-loop job
 * array). 16 fill the AVX-512 lanes; 64 keep them full while lanes refill
 * (mixed lengths: 4.7 M/s at 64 against 2.3 at 16); beyond, equal lengths
 * gain nothing and mixed ones ~10% (bench/hmac_mb_bench.c --crossover). */
#define HL_HMAC_BATCH_JOBS_MAX 64

/* --- delivery --- */
#define HL_DELIVERIES_IN_FLIGHT_MAX 32768
#define HL_RESPONSE_EXCERPT_BYTES 1024
#define HL_STORE_QUEUE_ENTRIES 65536

_Static_assert(HL_HTTP_HEADER_LINE_BYTES_MAX <= HL_HTTP_RESPONSE_HEADER_BYTES_MAX,
               "a header line must fit in the header block");
_Static_assert(HL_RESPONSE_EXCERPT_BYTES <= HL_HTTP_BODY_BYTES_KEPT,
               "the logged excerpt is cut from the kept body");
_Static_assert(HL_CONNS_PER_ORIGIN_MAX <= HL_CONNS_MAX, "origin share of the total");
_Static_assert(HL_RING_RECORD_BYTES_MAX * 4 <= HL_RING_LANE_BYTES_DEFAULT,
               "a default lane holds several maximal records");
_Static_assert(HL_TEMPLATE_PATH_BYTES_MAX <= HL_TEMPLATE_BYTES_MAX, "path inside template");
_Static_assert(HL_CONNECT_TIMEOUT_MS <= HL_REQUEST_TIMEOUT_MS, "connect within the request");

/* The limits a running engine enforces; defaults from the macros above,
 * overridable from configuration. */
typedef struct hl_limits {
  size_t message_data_bytes_max;
  uint32_t json_depth_max;
  uint32_t conns_max;
  uint32_t conns_per_origin_max;
  uint32_t requests_per_conn_max;
  uint32_t pool_idle_timeout_ms;
  uint32_t connect_timeout_ms;
  uint32_t tls_handshake_timeout_ms;
  uint32_t response_header_timeout_ms;
  uint32_t request_timeout_ms;
  uint32_t dns_timeout_ms;
  size_t http_body_bytes_kept;
  size_t http_body_bytes_discard_max;
  uint32_t deliveries_in_flight_max;
} hl_limits;

/* hl_limits_default returns the built-in limits. */
hl_limits hl_limits_default(void);

#endif
