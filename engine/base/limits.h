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
/* The most json_depth_max may ever be set to: the validator keeps one bit
 * per open container on its stack, so this bounds that stack (128 bytes). */
#define HL_JSON_DEPTH_CEILING 1024

/* --- URLs and endpoints --- */
#define HL_URL_BYTES_MAX 4096
#define HL_HOST_BYTES_MAX 253
#define HL_HOST_LABEL_BYTES_MAX 63
#define HL_ENDPOINT_HEADERS_MAX 32
#define HL_ENDPOINT_QUERY_PARAMS_MAX 32
#define HL_ENDPOINT_EVENTS_MAX 64
#define HL_RETRY_SCHEDULE_STEPS_MAX 32
#define HL_SECRETS_PER_ENDPOINT_MAX 4

/* --- signing and secrets at rest --- */
/* Free bytes the caller leaves in front of a rendered body, where the signer
 * writes the signed-content prefix ("<id>.<timestamp>." for Standard
 * Webhooks) so that the HMAC input is one contiguous span without a copy. */
#define HL_SIGN_HEADROOM_BYTES 192
/* A secret as configured (its text, prefix included). */
#define HL_SIGN_SECRET_BYTES_MAX 512
/* HMAC keys (raw or decoded) and static secrets shorter than this are refused. */
#define HL_SIGN_SECRET_BYTES_MIN 16
#define HL_SIGN_HEADER_NAME_BYTES_MAX 64
#define HL_SIGN_PREFIX_BYTES_MAX 32
/* Signatures examined in one received header (hookline verify): bounds the
 * ed25519 work a hostile header can cause. */
#define HL_SIGN_CANDIDATES_MAX 16
/* Header lines one signer writes per delivery, all schemes, worst case. */
#define HL_SIGN_HEADER_LINES_BYTES_MAX 1024
/* A value sealed in the secret box (auth header values, secrets). */
#define HL_SECRETBOX_PLAINTEXT_BYTES_MAX 8192
/* Associated data bound to a sealed value (endpoint id and field name). */
#define HL_SECRETBOX_AD_BYTES_MAX 512

/* --- templates --- */
#define HL_TEMPLATE_BYTES_MAX (64 * 1024)
#define HL_TEMPLATE_SEGMENTS_MAX 1024
#define HL_TEMPLATE_PATH_BYTES_MAX 256
#define HL_TEMPLATE_PATH_PARTS_MAX 16
/* Distinct data paths in all the templates of one endpoint (body, headers,
 * query, URL): one resolve pass finds them all (json_scan takes 64 paths
 * per pass over the data). */
#define HL_TEMPLATE_SET_PATHS_MAX 256
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
#define HL_HTTP_HEADER_NAME_BYTES_MAX 256
/* What the response parser keeps of a response's head (a few hundred bytes
 * per in-flight delivery): short excerpts for the attempt log, and the raw
 * Retry-After value (the longest HTTP-date form is 33 bytes). */
#define HL_HTTP_REASON_EXCERPT_BYTES 32
#define HL_HTTP_CONTENT_TYPE_EXCERPT_BYTES 64
#define HL_HTTP_LOCATION_EXCERPT_BYTES 128
#define HL_HTTP_RETRY_AFTER_BYTES_MAX 40
/* A Retry-After further away than this is honoured only up to it. */
#define HL_HTTP_RETRY_AFTER_S_MAX (24 * 3600)

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
/* Addresses kept per name: enough to try several, small enough to copy. */
#define HL_DNS_ADDRS_MAX 8
/* Attempts per DNS server (c-ares doubles the wait on each round). */
#define HL_DNS_TRIES 2
#define HL_DNS_TRIES_MAX 5
/* Distinct names being looked up at once on one loop; each holds a cache
 * entry that cannot be evicted until c-ares answers. */
#define HL_DNS_LOOKUPS_MAX 1024
/* Callers waiting on one name's lookup (coalesced into one query). */
#define HL_DNS_WAITERS_MAX 1024
/* Name servers used (resolv.conf or the servers option); c-ares opens at
 * most a UDP and a TCP socket to each. */
#define HL_DNS_SERVERS_MAX 8
#define HL_DNS_SOCKETS_MAX (2 * HL_DNS_SERVERS_MAX)
/* Receive buffer asked for c-ares' sockets (the kernel caps it at
 * net.core.rmem_max): a burst of answers to many lookups started at once
 * must not overflow it, or c-ares waits a whole try's timeout to ask again. */
#define HL_DNS_SOCK_RCVBUF_BYTES (1024 * 1024)
/* Hosts-file answers carry no TTL; they are cached this long so that the
 * file is not read again for every lookup, yet edits are seen soon. */
#define HL_DNS_HOSTS_TTL_S 10
/* The most cache entries the option may ask for. */
#define HL_DNS_CACHE_ENTRIES_CEILING (1u << 20)
/* Requests waiting for a connection of one origin (FIFO, deadline running). */
#define HL_POOL_WAITERS_PER_ORIGIN_MAX 4096
/* Addresses of one name the client tries in turn when connecting: all
 * that the resolver keeps. */
#define HL_CONN_ADDRS_MAX HL_DNS_ADDRS_MAX
/* A request head the client writes from a header list (a caller may pass
 * a head it rendered itself instead, of any length). */
#define HL_HTTP_REQUEST_HEAD_BYTES_MAX 8192
/* Requests in flight in one client (one worker loop). */
#define HL_CLIENT_REQUESTS_MAX 32768
_Static_assert(HL_POOL_WAITERS_PER_ORIGIN_MAX <= HL_CLIENT_REQUESTS_MAX, "waiters are requests");
/* Ranges an operator may exempt from the SSRF guard (--allow-network). */
#define HL_NETPOLICY_ALLOW_MAX 32

/* --- TLS --- */
/* A connection's ciphertext output buffer, allocated while ciphertext waits
 * to be sent and freed when all of it has gone: it holds one full record
 * (16 KiB + overhead) plus a handshake flight. */
#define HL_TLS_OUT_BYTES (32 * 1024)
/* Sessions (tickets) kept per origin for resumption; a TLS 1.3 server sends
 * two per connection and each is used once. */
#define HL_TLS_SESSIONS_PER_ORIGIN 4

/* --- hookline-sink (bench/sink), the test and benchmark receiver --- */
#define HL_SINK_WORKERS_MAX 64
/* Listening ports per sink process: the benchmark spreads its many-endpoints
 * scenario over 1,000 ports of one sink. */
#define HL_SINK_LISTENERS_MAX 1024
#define HL_SINK_ROUTES_MAX 32
#define HL_SINK_ROUTE_PREFIX_BYTES_MAX 256
/* Connections per worker (slots preallocated at start). */
#define HL_SINK_CONNS_PER_WORKER 16384
#define HL_SINK_RECV_BUFS 2048
/* Request heads: line, field section, fields. */
#define HL_SINK_REQUEST_LINE_BYTES_MAX 8192
#define HL_SINK_HEADER_BYTES_MAX (32 * 1024)
#define HL_SINK_FIELDS_MAX 64
/* Bytes received but not yet parsed a connection may hold: an incomplete
 * head, or pipelined requests waiting behind a held response. */
#define HL_SINK_PENDING_BYTES_MAX (HL_SINK_REQUEST_LINE_BYTES_MAX + HL_SINK_HEADER_BYTES_MAX)
/* A request body is read whole up to this; longer ones fail with 413. */
#define HL_SINK_BODY_BYTES_MAX (64ull * 1024 * 1024)
/* Body bytes kept per request for signature checks and --record. */
#define HL_SINK_CAPTURE_BYTES_MAX (1024 * 1024)
#define HL_SINK_RECORD_BODY_BYTES 65536
/* Response shapes a route may ask for. */
#define HL_SINK_RESPONSE_BODY_BYTES_MAX (4 * 1024 * 1024)
#define HL_SINK_BIG_HEADER_BYTES_MAX (16 * 1024 * 1024)

/* --- io_uring loop --- */
#define HL_LOOP_ENTRIES 4096
/* The CQ ring is larger than the SQ so that a burst of completions from many
 * in-flight ops (multishot receives on thousands of connections) fits
 * without the kernel's overflow list. */
#define HL_LOOP_CQ_ENTRIES 32768
#define HL_LOOP_SLOTS_MAX 65536
#define HL_RECV_BUF_BYTES 16384
#define HL_RECV_BUFS 4096
/* The kernel's bound on a provided-buffer ring (buffer ids are 16 bits). */
#define HL_LOOP_BUF_RING_ENTRIES_MAX 32768
/* How long hl_loop_free waits for cancelled ops to complete. */
#define HL_LOOP_DRAIN_TIMEOUT_MS 2000

/* --- shared-memory ring --- */
#define HL_RING_LANES_MAX 64
#define HL_RING_LANES_DEFAULT 32
#define HL_RING_LANE_BYTES_DEFAULT (4u * 1024 * 1024)
/* A lane holds at least a few maximal records and at most 1 GiB, so that
 * positions inside it fit in 32 bits. */
#define HL_RING_LANE_BYTES_MIN (HL_RING_RECORD_BYTES_MAX * 4)
#define HL_RING_LANE_BYTES_MAX (1024u * 1024 * 1024)
#define HL_RING_RECORD_BYTES_MAX (HL_MESSAGE_DATA_BYTES_MAX + 1024)
/* Records one engine worker has read from one lane and not yet released;
 * past this it stops reading that lane until it releases some. */
#define HL_RING_LANE_INFLIGHT_DEFAULT 4096
#define HL_RING_LANE_INFLIGHT_MAX (1u << 20)
/* Readers (engine workers) of one ring: one bit each in the sleep word. */
#define HL_RING_CURSORS_MAX 32
/* How long hl_producer_open waits for a free lane, by default. */
#define HL_RING_OPEN_TIMEOUT_MS 0
#define HL_RING_NAME_BYTES_MAX 256

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

/* --- operator queries, replay and retention (store/query) --- */
/* The longest an attempt's row may be logged after the attempt started
 * (the request's timeouts, plus queueing and the group commit), with a wide
 * margin: time windows over the attempt log rely on it. */
#define HL_ATTEMPT_LOG_DELAY_MS_MAX (15 * 60 * 1000)
/* `hookline status` reads at most this many of the newest attempts for its
 * window (about a second of work), and this many more, further back, for
 * the last attempt of endpoints idle in the window. */
#define HL_STATUS_SCAN_ROWS_MAX 2000000
#define HL_STATUS_LAST_SCAN_ROWS_MAX 2000000
/* A bulk replay handles at most this many deliveries per call (memory for
 * their ids), written this many per transaction so that the engine's
 * writer never waits long for the lock. */
#define HL_REPLAY_DELIVERIES_MAX 1000000
#define HL_REPLAY_BATCH_ROWS 1000
/* Rows one prune step deletes (or, for payloads, examines). */
#define HL_PRUNE_BATCH_ROWS_DEFAULT 5000

_Static_assert(HL_ATTEMPT_LOG_DELAY_MS_MAX >= 4 * HL_REQUEST_TIMEOUT_MS,
               "an attempt is logged well within the window slack");
_Static_assert(HL_HTTP_HEADER_LINE_BYTES_MAX <= HL_HTTP_RESPONSE_HEADER_BYTES_MAX,
               "a header line must fit in the header block");
_Static_assert(HL_RESPONSE_EXCERPT_BYTES <= HL_HTTP_BODY_BYTES_KEPT,
               "the logged excerpt is cut from the kept body");
_Static_assert(HL_HTTP_REASON_EXCERPT_BYTES <= 255 && HL_HTTP_CONTENT_TYPE_EXCERPT_BYTES <= 255 &&
                   HL_HTTP_LOCATION_EXCERPT_BYTES <= 255 && HL_HTTP_RETRY_AFTER_BYTES_MAX <= 255,
               "response excerpts have one-byte lengths");
_Static_assert(HL_HTTP_RESPONSE_HEADERS_MAX <= 65535 && HL_HTTP_INTERIM_RESPONSES_MAX <= 255,
               "response parser counters");
_Static_assert(HL_HTTP_STATUS_LINE_BYTES_MAX <= HL_HTTP_RESPONSE_HEADER_BYTES_MAX,
               "the status line is bounded like a header line");
_Static_assert(HL_HTTP_HEADER_NAME_BYTES_MAX <= HL_HTTP_HEADER_LINE_BYTES_MAX, "name in its line");
_Static_assert(HL_CONNS_PER_ORIGIN_MAX <= HL_CONNS_MAX, "origin share of the total");
_Static_assert(HL_RING_RECORD_BYTES_MAX * 4 <= HL_RING_LANE_BYTES_DEFAULT,
               "a default lane holds several maximal records");
_Static_assert(HL_RING_LANES_DEFAULT <= HL_RING_LANES_MAX, "default lanes within the maximum");
_Static_assert(HL_RING_LANE_BYTES_DEFAULT <= HL_RING_LANE_BYTES_MAX, "default lane within max");
_Static_assert(HL_RING_LANE_INFLIGHT_DEFAULT <= HL_RING_LANE_INFLIGHT_MAX, "in-flight window");
_Static_assert(HL_EVENT_NAME_BYTES_MAX + HL_MESSAGE_ID_BYTES_MAX + HL_ENDPOINT_ID_BYTES_MAX +
                       HL_TENANT_BYTES_MAX + 64 <=
                   HL_RING_RECORD_BYTES_MAX - HL_MESSAGE_DATA_BYTES_MAX,
               "a maximal message fits in a maximal record");
_Static_assert(HL_TEMPLATE_PATH_BYTES_MAX <= HL_TEMPLATE_BYTES_MAX, "path inside template");
_Static_assert(HL_TEMPLATE_SET_PATHS_MAX <= 65535 && HL_TEMPLATE_SEGMENTS_MAX <= 65535,
               "template slots and segments are 16-bit");
_Static_assert(HL_HOST_LABEL_BYTES_MAX < HL_HOST_BYTES_MAX, "a label fits in a host");
_Static_assert(HL_HOST_BYTES_MAX + 64 < HL_URL_BYTES_MAX, "a URL holds a maximal host");
_Static_assert(HL_JSON_DEPTH_MAX <= HL_JSON_DEPTH_CEILING, "default depth within the ceiling");
_Static_assert(HL_CONNECT_TIMEOUT_MS <= HL_REQUEST_TIMEOUT_MS, "connect within the request");
_Static_assert(HL_MESSAGE_ID_BYTES_MAX + 20 + 2 <= HL_SIGN_HEADROOM_BYTES,
               "the headroom holds \"<id>.<timestamp>.\" with the longest id");
_Static_assert(HL_SIGN_SECRET_BYTES_MIN <= HL_SIGN_SECRET_BYTES_MAX, "secret bounds");
_Static_assert(HL_HTTP_HEADER_VALUE_BYTES_MAX <= HL_SECRETBOX_PLAINTEXT_BYTES_MAX,
               "any header value can be sealed");
_Static_assert(HL_LOOP_CQ_ENTRIES >= 2 * HL_LOOP_ENTRIES, "CQ ring larger than the SQ ring");
_Static_assert(HL_LOOP_CQ_ENTRIES <= 65536 && HL_LOOP_ENTRIES <= 32768, "kernel ring limits");
_Static_assert((HL_RECV_BUFS & (HL_RECV_BUFS - 1)) == 0 &&
                   HL_RECV_BUFS <= HL_LOOP_BUF_RING_ENTRIES_MAX,
               "a buffer ring holds a power of two of buffers");
_Static_assert(HL_CONNS_MAX <= HL_LOOP_SLOTS_MAX, "every connection fits a slot table");
_Static_assert(HL_DNS_LOOKUPS_MAX < HL_DNS_CACHE_ENTRIES_MAX,
               "pending lookups leave evictable cache entries");
_Static_assert(HL_DNS_CACHE_ENTRIES_MAX <= HL_DNS_CACHE_ENTRIES_CEILING, "cache default");
_Static_assert(HL_DNS_WAITERS_MAX >= HL_CONNS_PER_ORIGIN_MAX,
               "every connection of one origin can wait on its name");
_Static_assert(HL_DNS_TIMEOUT_MS <= HL_REQUEST_TIMEOUT_MS, "DNS within the request");
_Static_assert(HL_DNS_TRIES >= 1 && HL_DNS_TRIES <= HL_DNS_TRIES_MAX, "DNS tries");
_Static_assert(HL_SINK_RECORD_BODY_BYTES <= HL_SINK_CAPTURE_BYTES_MAX, "recorded from the captured body");
_Static_assert(HL_SINK_CAPTURE_BYTES_MAX <= HL_SINK_BODY_BYTES_MAX, "captured from the body");
_Static_assert(HL_SINK_CONNS_PER_WORKER <= HL_LOOP_SLOTS_MAX, "sink connections fit a slot table");
_Static_assert(HL_TLS_OUT_BYTES >= 16384 + 2048, "the TLS output buffer holds a full record");

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
