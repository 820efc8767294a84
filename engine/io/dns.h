/* dns: asynchronous name resolution for one event loop, through c-ares, with
 * a small positive/negative cache.
 *
 * One hl_dns per hl_loop. c-ares builds and parses the DNS messages and
 * decides when to retry; this module gives it its I/O and its time from the
 * loop: every socket c-ares opens is polled with io_uring (one-shot
 * poll_add, re-armed after each readiness, cancelled and re-armed when
 * c-ares changes its read/write interest), and c-ares' next timeout is a
 * timer on the loop's wheel that runs ares_process_fd(BAD, BAD) when it
 * fires. Nothing here blocks the loop thread, starts a thread or calls
 * getaddrinfo. (c-ares does read two local files with ordinary syscalls:
 * /etc/resolv.conf once in hl_dns_new, and the hosts file on each cache
 * miss, which the cache keeps rare; see HL_DNS_HOSTS_TTL_S.)
 *
 * Lookups. A host is validated exactly as a URL host is (hl_host_parse:
 * letters, digits, '-' and '.', labels of 1..63 bytes, at most 253 bytes),
 * lower-cased, and its trailing dot dropped; that string is the cache key
 * and the name given to c-ares (ares_getaddrinfo with the "fb" lookup
 * order: the hosts file first, then DNS; `localhost` always resolves, from
 * the hosts file or c-ares' RFC 6761 fallback). IP literals are answered at
 * once without c-ares. Concurrent lookups of one name share one c-ares
 * lookup (at most HL_DNS_WAITERS_MAX callers wait on it).
 *
 * The cache holds options.cache_entries names, evicting the least recently
 * used. An answer is kept for the smallest TTL among its address and CNAME
 * records, capped at options.ttl_max_s (TTL 0 is not cached); hosts-file
 * answers, which have no TTL, for options.hosts_ttl_s. "No such name"
 * (NXDOMAIN) and "no address" (NODATA) are kept for options.negative_ttl_s;
 * timeouts and server failures are not cached, so the next lookup asks
 * again. Every table is allocated in hl_dns_new: a lookup allocates nothing
 * itself (c-ares allocates its query and answer internally).
 *
 * Not here: the SSRF policy (io/netpolicy). The caller checks every
 * returned address immediately before connecting to it; checking at connect
 * time rather than here is what defeats DNS rebinding (a name that answered
 * a public address first and a private one later), so a cached answer is
 * never trusted as "already checked".
 *
 * Threading: everything runs on the loop's thread. Callbacks run from the
 * loop (hl_loop_run_once), never from inside hl_dns_resolve. */
#ifndef HL_IO_DNS_H
#define HL_IO_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"
#include "io/loop.h"

typedef struct hl_dns hl_dns; /* one per loop */

/* Resolved addresses: AF_INET / AF_INET6 socket addresses with port 0 (the
 * caller sets the port), the preferred family first (options.family).
 * ttl_s is how long the answer stays cached from now. */
typedef struct hl_dns_addrs {
  uint32_t n;
  struct sockaddr_storage addr[HL_DNS_ADDRS_MAX];
  uint32_t ttl_s;
} hl_dns_addrs;

/* hl_dns_cb reports one lookup. |status|:
 *   0           |addrs| holds at least one address (|err| NULL)
 *   -ENOENT     no such host (NXDOMAIN), or it has no address of the
 *               families asked for (NODATA)
 *   -ETIMEDOUT  no answer within options.timeout_ms
 *   -EIO        anything else: the server failed (SERVFAIL), refused
 *               (REFUSED), could not be reached, sent garbage ...
 * On failure |addrs| is NULL and |err| says which of these it was, with
 * c-ares' reason. Both pointers are valid during the call only. -ECANCELED
 * is never delivered: a cancelled query gets no callback at all. The
 * callback may resolve again, cancel other queries, or free its own query
 * memory; it must not call hl_dns_free. */
typedef void (*hl_dns_cb)(void *ctx, int status, const hl_dns_addrs *addrs, const hl_err *err);

/* A query waiting for a lookup, embedded in the caller's own struct so that
 * waiting allocates nothing. Zero it once before its first use; the fields
 * are private. It is "waiting" from hl_dns_resolve returning -EINPROGRESS
 * until its callback starts or hl_dns_cancel. */
typedef struct hl_dns_query hl_dns_query;
struct hl_dns_waitlist;
struct hl_dns_query {
  hl_dns_query *next;
  hl_dns_query *prev;
  struct hl_dns_waitlist *list; /* NULL when not waiting */
  hl_dns_cb cb;
  void *ctx;
};

typedef enum hl_dns_family {
  HL_DNS_PREFER_V4 = 0, /* ask for A and AAAA, IPv4 addresses first (default) */
  HL_DNS_PREFER_V6 = 1, /* ask for A and AAAA, IPv6 addresses first */
  HL_DNS_V4_ONLY = 2,   /* ask for A only */
  HL_DNS_V6_ONLY = 3,   /* ask for AAAA only */
} hl_dns_family;

typedef struct hl_dns_options {
  /* Name servers as "ip[:port],..." (IPv6 as "[v6]:port" or a bare "v6"
   * without port; port 53 when omitted), at most HL_DNS_SERVERS_MAX. NULL
   * or "": those of /etc/resolv.conf (the first HL_DNS_SERVERS_MAX). Tests
   * point this at their own server on loopback. */
  const char *servers;
  uint32_t timeout_ms;     /* a lookup ends with -ETIMEDOUT after this: HL_DNS_TIMEOUT_MS */
  uint32_t tries;          /* attempts per server, 1..HL_DNS_TRIES_MAX: HL_DNS_TRIES */
  uint32_t cache_entries;  /* names cached, > lookups_max: HL_DNS_CACHE_ENTRIES_MAX */
  uint32_t lookups_max;    /* distinct names in flight at once: HL_DNS_LOOKUPS_MAX */
  uint32_t negative_ttl_s; /* NXDOMAIN / NODATA kept: HL_DNS_NEGATIVE_TTL_S */
  uint32_t ttl_max_s;      /* cap on a positive answer's TTL: HL_DNS_TTL_MAX_S */
  uint32_t hosts_ttl_s;    /* hosts-file answers kept: HL_DNS_HOSTS_TTL_S */
  hl_dns_family family;
  /* Ignore resolv.conf's search domains (and its ndots): names are looked
   * up only as given. Off by default, so that short names work as they do
   * with getaddrinfo (e.g. Kubernetes service names); tests turn it on to
   * be independent of the machine's resolv.conf. */
  bool no_search;
  /* Read the hosts file named by the CARES_HOSTS environment variable
   * instead of /etc/hosts when it is set (c-ares' ARES_AI_ENVHOSTS). For
   * tests. */
  bool hosts_from_env;
} hl_dns_options;

/* hl_dns_options_default: the limits.h defaults, servers from resolv.conf. */
hl_dns_options hl_dns_options_default(void);

/* Counters for metrics; read on the loop's thread. */
typedef struct hl_dns_stats {
  uint64_t lookups;           /* hl_dns_resolve calls */
  uint64_t literals;          /* ... that were IP literals, answered at once */
  uint64_t cache_hits;        /* ... answered from the cache (positive or negative) */
  uint64_t cache_misses;      /* ... that started a c-ares lookup */
  uint64_t coalesced;         /* ... that joined a lookup already in flight */
  uint64_t invalid;           /* ... refused: malformed host */
  uint64_t busy;              /* ... refused: lookups_max or HL_DNS_WAITERS_MAX reached */
  uint64_t answers;           /* c-ares lookups that found addresses */
  uint64_t nxdomain;          /* c-ares lookups ending in NXDOMAIN */
  uint64_t nodata;            /* ... in "the name has no address" */
  uint64_t timeouts;          /* ... in a timeout */
  uint64_t failures;          /* ... in a server failure or another error */
  uint64_t evictions;         /* cached names dropped to make room */
  uint64_t sockets_exhausted; /* c-ares sockets we could not poll (HL_DNS_SOCKETS_MAX) */
  uint64_t cached;            /* gauge: names in the cache */
  uint64_t in_flight;         /* gauge: c-ares lookups in flight */
} hl_dns_stats;

/* hl_dns_new creates the resolver of |loop| (on the loop's thread) with
 * |opts| (NULL: defaults): it sets up c-ares (reading /etc/resolv.conf
 * unless opts->servers is given), registers its poll op with the loop and
 * allocates the cache. Returns 0, -EINVAL (an option is invalid: |err| says
 * which), -ENOMEM, -ENOSPC (the loop has no op ids left), or -EIO (c-ares
 * failed to start: |err| has its reason). */
int hl_dns_new(hl_loop *loop, const hl_dns_options *opts, hl_dns **out, hl_err *err);

/* hl_dns_free destroys the resolver. Lookups in flight end silently: no
 * callback runs (cancel your queries first if you track them). Call it
 * either after hl_loop_drain(), or immediately before hl_loop_free() with no
 * loop iteration in between: the loop keeps a pointer to the resolver's
 * slot table for completions still in flight. Not from a callback. NULL is
 * a no-op. */
void hl_dns_free(hl_dns *d);

/* hl_dns_resolve looks |host| up (a name, or an IP literal with or without
 * brackets). Returns:
 *   0            answered at once (cache, IP literal, hosts file): |*out|
 *                is filled and |cb| will not be called
 *   -EINPROGRESS |q| is waiting; |cb|(|ctx|, ...) is called later, once
 *   -EINVAL      |host| is not a valid host name
 *   -ENOENT      cached negative answer (NXDOMAIN / NODATA), or an IP
 *                literal of a family options.family excludes
 *   -EBUSY       options.lookups_max names are in flight, or
 *                HL_DNS_WAITERS_MAX queries already wait on this one
 *   -ESHUTDOWN   the loop is draining
 *   -ETIMEDOUT / -EIO as for the callback, when c-ares failed at once
 * For every negative return hl_dns_last_error() says why. |q| must not be
 * waiting already (asserted). */
int hl_dns_resolve(hl_dns *d, hl_span host, hl_dns_query *q, hl_dns_cb cb, void *ctx,
                   hl_dns_addrs *out);

/* hl_dns_cancel stops |q| waiting: its callback will never be called. The
 * lookup itself continues if it was started (its answer still fills the
 * cache). A query that is not waiting is left as it is. */
void hl_dns_cancel(hl_dns *d, hl_dns_query *q);

/* hl_dns_last_error explains the last negative return of hl_dns_resolve.
 * Valid until the next call into |d|. */
const hl_err *hl_dns_last_error(const hl_dns *d);

/* hl_dns_stats_get copies the counters. */
void hl_dns_stats_get(const hl_dns *d, hl_dns_stats *out);

/* --- the pure parts (exposed for tests and fuzzing) ----------------------- */

/* A host as the resolver reads it: an IP literal (family AF_INET or
 * AF_INET6, addr in network byte order), or a name (family 0): lower-case,
 * without trailing dot, NUL-terminated, len bytes. */
typedef struct hl_dns_name {
  int family;
  uint8_t addr[16];
  uint32_t len;
  char name[HL_HOST_BYTES_MAX + 1];
} hl_dns_name;

/* hl_dns_name_parse validates and normalises |host| (see "Lookups" above).
 * Normalising is idempotent: parsing out->name again gives the same
 * result. Returns 0 or -EINVAL with |err| set. */
int hl_dns_name_parse(hl_span host, hl_dns_name *out, hl_err *err);

/* One name server: family AF_INET or AF_INET6, address in network byte
 * order, port. */
typedef struct hl_dns_server {
  int family;
  uint8_t addr[16];
  uint16_t port;
} hl_dns_server;

/* hl_dns_servers_parse parses a servers option ("ip[:port],...", see
 * hl_dns_options.servers) into |out| (room for |cap|), count in |*n|.
 * Strict: no spaces, no empty entries, decimal ports 1..65535 without
 * leading zeros, IPv4 as a dotted quad, no IPv6 zone ids. Returns 0 or
 * -EINVAL with |err| naming the entry and the problem. */
int hl_dns_servers_parse(hl_span text, hl_dns_server *out, size_t cap, size_t *n, hl_err *err);

/* hl_dns_servers_write writes |n| servers in the form hl_dns_servers_parse
 * reads, every port explicit ("192.0.2.1:53,[2001:db8::1]:53"). */
void hl_dns_servers_write(const hl_dns_server *s, size_t n, hl_buf *out);

#endif
