/* dns: c-ares driven by the io_uring loop, and the name cache (see dns.h).
 *
 * Three parts:
 *   - the cache: a fixed array of entries, a hash index (chains of entry
 *     indices), an LRU list of answered entries and a free list. An entry
 *     is FREE, PENDING (c-ares is looking it up; callers wait on it; not
 *     evictable), ZOMBIE (our deadline passed first: out of the index, its
 *     waiters answered, waiting only for c-ares to let go of it), or
 *     POSITIVE / NEGATIVE (cached until expires_ms, in the LRU list);
 *   - c-ares' sockets: one slot each in a small hl_slots table, with the
 *     read/write interest c-ares last asked for (want) and the events of
 *     the one-shot poll in flight (armed);
 *   - c-ares' clock: one loop timer at ares_timeout().
 *
 * Why one-shot polls and not multishot: c-ares changes a socket's interest
 * (a TCP socket wants POLLOUT only while it has bytes queued), a multishot
 * poll's mask cannot be changed, and a one-shot poll re-armed after
 * ares_process_fd reports whatever c-ares left unread at once (io_uring
 * checks readiness when it arms a poll), so nothing is missed. DNS traffic
 * is one or two datagrams per lookup: the extra SQE per readiness is
 * noise. */
#include "io/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/assert.h"
#include "base/clock.h"
#include "text/url.h"

#define NIL UINT32_MAX

enum { DNS_OP_POLL, DNS_OP_COUNT };

typedef enum entry_state {
  E_FREE = 0,
  E_PENDING,
  E_ZOMBIE,
  E_POSITIVE,
  E_NEGATIVE,
} entry_state;

/* Why a lookup ended; picks the status, the message and the counter. */
typedef enum outcome_kind {
  K_OK = 0,
  K_NXDOMAIN,
  K_NODATA,
  K_TIMEOUT,
  K_SERVFAIL,
  K_REFUSED,
  K_UNREACHABLE,
  K_OTHER,
} outcome_kind;

typedef struct dns_addr {
  uint8_t family; /* AF_INET or AF_INET6 */
  uint8_t bytes[16];
} dns_addr;

struct hl_dns_waitlist {
  hl_dns_query *head;
  hl_dns_query *tail;
  uint32_t n;
};

typedef struct dns_entry {
  uint64_t hash;
  uint64_t expires_ms; /* cached states: loop time at which it goes stale */
  uint32_t hash_next;  /* chain in the index */
  uint32_t lru_prev;   /* LRU links (cached) or the free list (next only) */
  uint32_t lru_next;
  uint32_t ttl_s;
  uint8_t state;
  uint8_t kind;     /* outcome_kind of a NEGATIVE entry */
  uint8_t starting; /* inside ares_getaddrinfo: a callback now is synchronous */
  uint8_t naddrs;
  uint32_t name_len;
  dns_addr addrs[HL_DNS_ADDRS_MAX];
  struct hl_dns_waitlist waiters;
  hl_timer deadline; /* PENDING: options.timeout_ms after the lookup began */
  hl_dns *d;
  char name[HL_HOST_BYTES_MAX + 1];
} dns_entry;

typedef struct dns_sock {
  int fd;
  uint16_t want;    /* POLLIN / POLLOUT, as c-ares last asked */
  uint16_t armed;   /* events of the poll in flight; 0: none */
  bool cancelling;  /* a cancel of the armed poll is queued */
  hl_timer retry;   /* re-arm after the SQ was full */
  hl_dns *d;
} dns_sock;

/* The result of one lookup, before it is cached and delivered. */
typedef struct dns_outcome {
  outcome_kind kind;
  int rc;
  uint32_t naddrs;
  uint32_t ttl_s;
  dns_addr addrs[HL_DNS_ADDRS_MAX];
  hl_err err;
  bool done; /* set when written to a resolve's synchronous sink */
} dns_outcome;

struct hl_dns {
  hl_loop *loop;
  ares_channel ch;
  hl_dns_options opts;
  struct ares_addrinfo_hints hints;
  uint8_t op;
  hl_slots slots;
  dns_sock socks[HL_DNS_SOCKETS_MAX];
  hl_timer ares_timer;
  dns_entry *entries;
  uint32_t cap;
  uint32_t *buckets;
  uint32_t bucket_mask;
  uint32_t free_head;
  uint32_t untouched; /* entries [untouched, cap) were never used */
  uint32_t lru_head; /* most recently used */
  uint32_t lru_tail;
  uint32_t nservers;
  uint32_t in_flight; /* PENDING + ZOMBIE */
  uint32_t cached;
  uint64_t seed;
  uint32_t callbacks; /* depth of user callbacks running */
  bool freeing;
  dns_outcome *sync_sink; /* where a synchronous c-ares answer goes */
  hl_err err;
  hl_dns_stats stats;
};

/* --- names and servers (pure) ---------------------------------------------------- */

int hl_dns_name_parse(hl_span host, hl_dns_name *out, hl_err *err) {
  hl_host h;
  memset(out, 0, sizeof(*out));
  int rc = hl_host_parse(host, &h, err);
  if (rc != 0) {
    return rc;
  }
  if (h.kind == HL_HOST_IPV4) {
    out->family = AF_INET;
    memcpy(out->addr, h.addr, 4);
    return 0;
  }
  if (h.kind == HL_HOST_IPV6) {
    out->family = AF_INET6;
    memcpy(out->addr, h.addr, 16);
    return 0;
  }
  /* hl_host_parse has dropped the trailing dot and bounded the length. */
  HL_ASSERT(h.name.len > 0 && h.name.len <= HL_HOST_BYTES_MAX);
  for (size_t i = 0; i < h.name.len; i++) {
    out->name[i] = hl_ascii_lower(h.name.ptr[i]);
  }
  out->name[h.name.len] = '\0';
  out->len = (uint32_t)h.name.len;
  return 0;
}

static bool parse_port(hl_span s, uint16_t *out) {
  if (s.len == 0 || s.len > 5 || (s.ptr[0] == '0')) {
    return false;
  }
  uint64_t v;
  if (!hl_span_parse_u64(s, 65535, &v)) {
    return false;
  }
  *out = (uint16_t)v;
  return true;
}

static int parse_server(hl_span e, size_t index, hl_dns_server *out, hl_err *err) {
  memset(out, 0, sizeof(*out));
  out->port = 53;
  hl_span addr = e;
  hl_span port = HL_SPAN_NULL;
  bool v6 = false;
  if (e.len > 0 && e.ptr[0] == '[') {
    size_t close = hl_span_find(e, ']');
    if (close == SIZE_MAX) {
      return hl_err_fail(err, -EINVAL, "dns servers: entry %zu: '[' has no closing ']'", index);
    }
    addr = hl_span_sub(e, 1, close - 1);
    hl_span rest = hl_span_sub(e, close + 1, SIZE_MAX);
    if (rest.len > 0 && !hl_span_get_lit(&rest, HL_SPAN_LIT(":"))) {
      return hl_err_fail(err, -EINVAL,
                         "dns servers: entry %zu: expected ':port' after the ']'", index);
    }
    port = rest;
    if (port.len == 0 && e.ptr[e.len - 1] == ':') {
      return hl_err_fail(err, -EINVAL, "dns servers: entry %zu has an empty port", index);
    }
    v6 = true;
  } else {
    size_t colon = hl_span_find(e, ':');
    if (colon != SIZE_MAX && hl_span_find(hl_span_sub(e, colon + 1, SIZE_MAX), ':') != SIZE_MAX) {
      v6 = true; /* a bare IPv6 address: it cannot carry a port */
    } else if (colon != SIZE_MAX) {
      addr = hl_span_sub(e, 0, colon);
      port = hl_span_sub(e, colon + 1, SIZE_MAX);
      if (port.len == 0) {
        return hl_err_fail(err, -EINVAL, "dns servers: entry %zu has an empty port", index);
      }
    }
  }
  if (port.len > 0 && !parse_port(port, &out->port)) {
    return hl_err_fail(err, -EINVAL,
                       "dns servers: entry %zu: the port must be a number from 1 to 65535 "
                       "(no sign, no leading zero)",
                       index);
  }
  if (v6) {
    out->family = AF_INET6;
    if (hl_span_find(addr, '%') != SIZE_MAX || !hl_ipv6_parse(addr, out->addr)) {
      return hl_err_fail(err, -EINVAL,
                         "dns servers: entry %zu is not a valid IPv6 address (zone ids are not "
                         "supported)",
                         index);
    }
    return 0;
  }
  out->family = AF_INET;
  const char *why = hl_ipv4_parse_strict(addr, out->addr);
  if (why != NULL) {
    return hl_err_fail(err, -EINVAL,
                       "dns servers: entry %zu is not an IPv4 dotted quad (it %s); write "
                       "ip:port, [ipv6]:port or a bare IPv6 address",
                       index, why);
  }
  return 0;
}

int hl_dns_servers_parse(hl_span text, hl_dns_server *out, size_t cap, size_t *n, hl_err *err) {
  *n = 0;
  if (text.len == 0) {
    return hl_err_fail(err, -EINVAL, "dns servers: the list is empty");
  }
  size_t index = 1;
  for (;;) {
    hl_span e;
    bool last = !hl_span_get_until(&text, ',', &e);
    if (last) {
      e = text;
    }
    if (e.len == 0) {
      return hl_err_fail(err, -EINVAL,
                         "dns servers: entry %zu is empty (a leading, trailing or doubled ',')",
                         index);
    }
    if (*n == cap) {
      return hl_err_fail(err, -EINVAL, "dns servers: more than %zu servers", cap);
    }
    int rc = parse_server(e, index, &out[*n], err);
    if (rc != 0) {
      return rc;
    }
    (*n)++;
    index++;
    if (last) {
      return 0;
    }
  }
}

void hl_dns_servers_write(const hl_dns_server *s, size_t n, hl_buf *out) {
  for (size_t i = 0; i < n; i++) {
    char text[INET6_ADDRSTRLEN];
    HL_ASSERT(inet_ntop(s[i].family, s[i].addr, text, sizeof(text)) != NULL);
    if (i > 0) {
      hl_buf_putc(out, ',');
    }
    if (s[i].family == AF_INET6) {
      hl_buf_putc(out, '[');
      hl_buf_put_cstr(out, text);
      hl_buf_putc(out, ']');
    } else {
      hl_buf_put_cstr(out, text);
    }
    hl_buf_putc(out, ':');
    hl_buf_put_u64(out, s[i].port);
  }
}

/* --- the cache --------------------------------------------------------------------- */

/* name_hash: a seeded multiply-xorshift over 8-byte words. The seed is
 * random per resolver, so names chosen to collide cannot be precomputed. */
static uint64_t name_hash(uint64_t seed, const char *p, size_t n) {
  uint64_t h = seed ^ ((uint64_t)n * UINT64_C(0x9e3779b97f4a7c15));
  while (n > 0) {
    uint64_t w = 0;
    size_t k = n < 8 ? n : 8;
    memcpy(&w, p, k);
    h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 31;
    p += k;
    n -= k;
  }
  h *= UINT64_C(0x94d049bb133111eb);
  return h ^ (h >> 29);
}

static uint32_t entry_index(const hl_dns *d, const dns_entry *e) {
  return (uint32_t)(e - d->entries);
}

static dns_entry *cache_find(hl_dns *d, uint64_t hash, const char *name, uint32_t len) {
  for (uint32_t i = d->buckets[hash & d->bucket_mask]; i != NIL; i = d->entries[i].hash_next) {
    dns_entry *e = &d->entries[i];
    if (e->hash == hash && e->name_len == len && memcmp(e->name, name, len) == 0) {
      return e;
    }
  }
  return NULL;
}

static void index_insert(hl_dns *d, dns_entry *e) {
  uint32_t *head = &d->buckets[e->hash & d->bucket_mask];
  e->hash_next = *head;
  *head = entry_index(d, e);
}

static void index_remove(hl_dns *d, dns_entry *e) {
  uint32_t want = entry_index(d, e);
  uint32_t *link = &d->buckets[e->hash & d->bucket_mask];
  while (*link != want) {
    HL_ASSERT(*link != NIL);
    link = &d->entries[*link].hash_next;
  }
  *link = e->hash_next;
  e->hash_next = NIL;
}

static void lru_unlink(hl_dns *d, dns_entry *e) {
  if (e->lru_prev != NIL) {
    d->entries[e->lru_prev].lru_next = e->lru_next;
  } else {
    d->lru_head = e->lru_next;
  }
  if (e->lru_next != NIL) {
    d->entries[e->lru_next].lru_prev = e->lru_prev;
  } else {
    d->lru_tail = e->lru_prev;
  }
  e->lru_prev = e->lru_next = NIL;
  HL_ASSERT(d->cached > 0);
  d->cached--;
}

static void lru_push_front(hl_dns *d, dns_entry *e) {
  uint32_t i = entry_index(d, e);
  e->lru_prev = NIL;
  e->lru_next = d->lru_head;
  if (d->lru_head != NIL) {
    d->entries[d->lru_head].lru_prev = i;
  } else {
    d->lru_tail = i;
  }
  d->lru_head = i;
  d->cached++;
}

static void entry_free(hl_dns *d, dns_entry *e) {
  HL_ASSERT(e->waiters.n == 0 && !hl_timer_armed(&e->deadline));
  e->state = E_FREE;
  e->lru_prev = NIL;
  e->lru_next = d->free_head;
  d->free_head = entry_index(d, e);
}

/* cache_drop removes an answered entry (expired or evicted). */
static void cache_drop(hl_dns *d, dns_entry *e) {
  HL_ASSERT(e->state == E_POSITIVE || e->state == E_NEGATIVE);
  index_remove(d, e);
  lru_unlink(d, e);
  entry_free(d, e);
}

/* entry_take returns a free entry, evicting the least recently used answer
 * if need be. There always is one: in-flight entries are fewer than
 * lookups_max, which is below the capacity (checked in hl_dns_new). */
static dns_entry *entry_take(hl_dns *d) {
  if (d->free_head == NIL && d->untouched < d->cap) {
    /* Entries are handed out in order the first time, so that a large
     * cache costs memory only as it fills. */
    dns_entry *e = &d->entries[d->untouched++];
    e->d = d;
    e->hash_next = e->lru_prev = e->lru_next = NIL;
    return e;
  }
  if (d->free_head == NIL) {
    HL_ASSERT(d->lru_tail != NIL);
    cache_drop(d, &d->entries[d->lru_tail]);
    d->stats.evictions++;
  }
  dns_entry *e = &d->entries[d->free_head];
  d->free_head = e->lru_next;
  e->lru_next = NIL;
  return e;
}

/* --- waiters ----------------------------------------------------------------------- */

static void wait_push(struct hl_dns_waitlist *w, hl_dns_query *q) {
  q->list = w;
  q->next = NULL;
  q->prev = w->tail;
  if (w->tail != NULL) {
    w->tail->next = q;
  } else {
    w->head = q;
  }
  w->tail = q;
  w->n++;
}

static void wait_unlink(hl_dns_query *q) {
  struct hl_dns_waitlist *w = q->list;
  if (q->prev != NULL) {
    q->prev->next = q->next;
  } else {
    w->head = q->next;
  }
  if (q->next != NULL) {
    q->next->prev = q->prev;
  } else {
    w->tail = q->prev;
  }
  q->next = q->prev = NULL;
  q->list = NULL;
  w->n--;
}

/* wait_move moves every waiter of |from| to |to| (an empty list on the
 * caller's stack), so that delivery does not depend on the entry, which a
 * callback may evict and reuse. */
static void wait_move(struct hl_dns_waitlist *from, struct hl_dns_waitlist *to) {
  *to = *from;
  for (hl_dns_query *q = to->head; q != NULL; q = q->next) {
    q->list = to;
  }
  from->head = from->tail = NULL;
  from->n = 0;
}

/* --- results ----------------------------------------------------------------------- */

static void addrs_fill(const dns_addr *a, uint32_t n, uint32_t ttl_s, hl_dns_addrs *out) {
  out->n = n;
  out->ttl_s = ttl_s;
  for (uint32_t i = 0; i < n; i++) {
    struct sockaddr_storage *ss = &out->addr[i];
    if (a[i].family == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *)ss;
      memset(sin, 0, sizeof(*sin));
      sin->sin_family = AF_INET;
      memcpy(&sin->sin_addr, a[i].bytes, 4);
    } else {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
      memset(sin6, 0, sizeof(*sin6));
      sin6->sin6_family = AF_INET6;
      memcpy(&sin6->sin6_addr, a[i].bytes, 16);
    }
  }
}

static void deliver(hl_dns *d, struct hl_dns_waitlist *w, const dns_outcome *o) {
  if (w->n == 0) {
    return;
  }
  hl_dns_addrs addrs;
  if (o->rc == 0) {
    addrs_fill(o->addrs, o->naddrs, o->ttl_s, &addrs);
  }
  d->callbacks++;
  hl_dns_query *q;
  while ((q = w->head) != NULL) {
    wait_unlink(q);
    q->cb(q->ctx, o->rc, o->rc == 0 ? &addrs : NULL, o->rc == 0 ? NULL : &o->err);
  }
  d->callbacks--;
}

static void count_outcome(hl_dns *d, outcome_kind kind) {
  switch (kind) {
    case K_OK:
      d->stats.answers++;
      break;
    case K_NXDOMAIN:
      d->stats.nxdomain++;
      break;
    case K_NODATA:
      d->stats.nodata++;
      break;
    case K_TIMEOUT:
      d->stats.timeouts++;
      break;
    default:
      d->stats.failures++;
      break;
  }
}

/* negative_message writes the reason for a NEGATIVE answer; |ares| is
 * c-ares' text, or NULL when it comes from the cache. */
static void negative_message(const hl_dns *d, const dns_entry *e, outcome_kind kind,
                             const char *ares, hl_err *err) {
  const char *what = kind == K_NXDOMAIN ? "does not exist (NXDOMAIN)" : "has no address (NODATA)";
  const char *fam = d->opts.family == HL_DNS_V4_ONLY   ? " of type A"
                    : d->opts.family == HL_DNS_V6_ONLY ? " of type AAAA"
                                                       : "";
  if (kind == K_NXDOMAIN) {
    fam = "";
  }
  if (ares != NULL) {
    hl_err_set(err, "dns: host %s %s%s (c-ares: %s)", e->name, what, fam, ares);
  } else {
    hl_err_set(err, "dns: host %s %s%s (cached answer)", e->name, what, fam);
  }
}

static outcome_kind kind_of_status(int status) {
  switch (status) {
    case ARES_SUCCESS:
      return K_OK;
    case ARES_ENOTFOUND:
      return K_NXDOMAIN;
    case ARES_ENODATA:
      return K_NODATA;
    case ARES_ETIMEOUT:
      return K_TIMEOUT;
    case ARES_ESERVFAIL:
      return K_SERVFAIL;
    case ARES_EREFUSED:
      return K_REFUSED;
    case ARES_ECONNREFUSED:
      return K_UNREACHABLE;
    default:
      return K_OTHER;
  }
}

static void failure_outcome(const hl_dns *d, const dns_entry *e, int status, dns_outcome *o) {
  const char *why = ares_strerror(status);
  switch (o->kind) {
    case K_NXDOMAIN:
    case K_NODATA:
      o->rc = -ENOENT;
      negative_message(d, e, o->kind, why, &o->err);
      break;
    case K_TIMEOUT:
      o->rc = -ETIMEDOUT;
      hl_err_set(&o->err, "dns: no answer for %s from the DNS servers (c-ares: %s)", e->name, why);
      break;
    case K_SERVFAIL:
      o->rc = -EIO;
      hl_err_set(&o->err, "dns: the DNS server failed to answer for %s (SERVFAIL; c-ares: %s)",
                 e->name, why);
      break;
    case K_REFUSED:
      o->rc = -EIO;
      hl_err_set(&o->err, "dns: the DNS server refused to answer for %s (REFUSED; c-ares: %s)",
                 e->name, why);
      break;
    case K_UNREACHABLE:
      o->rc = -EIO;
      if (d->nservers == 1) {
        hl_err_set(&o->err, "dns: the DNS server could not be reached to look up %s (c-ares: %s)",
                   e->name, why);
      } else {
        hl_err_set(&o->err,
                   "dns: none of the %u DNS servers answered for %s: each failed (SERVFAIL), "
                   "refused (REFUSED) or could not be reached (c-ares: %s)",
                   d->nservers, e->name, why);
      }
      break;
    default:
      o->rc = -EIO;
      hl_err_set(&o->err, "dns: looking up %s failed (c-ares status %d: %s)", e->name, status, why);
      break;
  }
}

static uint32_t clamp_ttl(int ttl, uint32_t max) {
  if (ttl <= 0) {
    return 0;
  }
  return (uint32_t)ttl < max ? (uint32_t)ttl : max;
}

/* collect copies the answer's addresses, preferred family first, and takes
 * the smallest TTL of the records it keeps and of the CNAME chain. */
static void collect(const hl_dns *d, const struct ares_addrinfo *res, dns_outcome *o) {
  int first = d->opts.family == HL_DNS_PREFER_V6 || d->opts.family == HL_DNS_V6_ONLY ? AF_INET6
                                                                                       : AF_INET;
  int order[2] = {first, first == AF_INET ? AF_INET6 : AF_INET};
  uint32_t ttl = d->opts.ttl_max_s;
  for (int pass = 0; pass < 2; pass++) {
    for (const struct ares_addrinfo_node *n = res->nodes; n != NULL; n = n->ai_next) {
      if (n->ai_family != order[pass] || o->naddrs == HL_DNS_ADDRS_MAX) {
        continue;
      }
      dns_addr *a = &o->addrs[o->naddrs];
      a->family = (uint8_t)n->ai_family;
      if (n->ai_family == AF_INET) {
        memcpy(a->bytes, &((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr, 4);
      } else {
        memcpy(a->bytes, &((const struct sockaddr_in6 *)(const void *)n->ai_addr)->sin6_addr, 16);
      }
      uint32_t t = clamp_ttl(n->ai_ttl, d->opts.ttl_max_s);
      ttl = t < ttl ? t : ttl;
      o->naddrs++;
    }
  }
  for (const struct ares_addrinfo_cname *c = res->cnames; c != NULL; c = c->next) {
    uint32_t t = clamp_ttl(c->ttl, d->opts.ttl_max_s);
    ttl = t < ttl ? t : ttl;
  }
  o->ttl_s = ttl;
}

static void outcome_from_ares(const hl_dns *d, const dns_entry *e, int status,
                              const struct ares_addrinfo *res, dns_outcome *o) {
  memset(o, 0, sizeof(*o));
  o->kind = kind_of_status(status);
  if (o->kind == K_OK && res != NULL) {
    collect(d, res, o);
    if (e->starting && o->ttl_s == 0) {
      /* Answered inside ares_getaddrinfo: the hosts file (or c-ares'
       * localhost fallback), whose entries have no TTL. */
      o->ttl_s = d->opts.hosts_ttl_s;
    }
  }
  if (o->kind == K_OK && o->naddrs == 0) {
    o->kind = K_NODATA;
    o->rc = -ENOENT;
    negative_message(d, e, K_NODATA, "the answer held no address", &o->err);
    return;
  }
  if (o->kind != K_OK) {
    failure_outcome(d, e, status, o);
  }
}

/* finish ends a PENDING entry's lookup: caches what may be cached, hands a
 * synchronous answer to hl_dns_resolve, and calls the waiters. */
static void finish(hl_dns *d, dns_entry *e, const dns_outcome *o) {
  HL_ASSERT(e->state == E_PENDING);
  count_outcome(d, o->kind);
  if (e->starting) {
    HL_ASSERT(d->sync_sink != NULL && e->waiters.n == 0);
    *d->sync_sink = *o;
    d->sync_sink->done = true;
    e->starting = 0;
  }
  struct hl_dns_waitlist w;
  wait_move(&e->waiters, &w);
  /* The clock rather than the loop's cached time, which is stale when the
   * answer came synchronously from a resolve made outside the loop. */
  uint64_t now_ms = hl_clock_mono_ms();
  if (o->kind == K_OK) {
    e->state = E_POSITIVE;
    e->naddrs = (uint8_t)o->naddrs;
    memcpy(e->addrs, o->addrs, sizeof(e->addrs));
    e->ttl_s = o->ttl_s;
    e->expires_ms = now_ms + (uint64_t)o->ttl_s * 1000;
    lru_push_front(d, e);
  } else if (o->kind == K_NXDOMAIN || o->kind == K_NODATA) {
    e->state = E_NEGATIVE;
    e->kind = (uint8_t)o->kind;
    e->naddrs = 0;
    e->ttl_s = d->opts.negative_ttl_s;
    e->expires_ms = now_ms + (uint64_t)d->opts.negative_ttl_s * 1000;
    lru_push_front(d, e);
  } else {
    index_remove(d, e);
    entry_free(d, e);
  }
  deliver(d, &w, o);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
  (void)timeouts;
  dns_entry *e = arg;
  hl_dns *d = e->d;
  if (d->freeing) {
    /* ares_destroy in hl_dns_free: no callbacks; the table goes whole. */
    ares_freeaddrinfo(res);
    return;
  }
  dns_outcome o;
  outcome_from_ares(d, e, status, res, &o);
  ares_freeaddrinfo(res);
  HL_ASSERT(d->in_flight > 0);
  d->in_flight--;
  hl_timer_cancel(d->loop, &e->deadline);
  if (e->state == E_ZOMBIE) {
    entry_free(d, e); /* its waiters had their -ETIMEDOUT already */
    return;
  }
  finish(d, e, &o);
}

/* on_deadline: c-ares has not answered within timeout_ms (its own tries
 * are budgeted to end a little earlier; this is the guarantee). The waiters
 * get -ETIMEDOUT now; the entry leaves the index so that a new lookup of the
 * name starts afresh, and stays allocated until c-ares lets go of it. */
static void on_deadline(hl_loop *l, hl_timer *t) {
  (void)l;
  dns_entry *e = HL_CONTAINER_OF(t, dns_entry, deadline);
  hl_dns *d = e->d;
  HL_ASSERT(e->state == E_PENDING);
  index_remove(d, e);
  e->state = E_ZOMBIE;
  dns_outcome o;
  memset(&o, 0, sizeof(o));
  o.kind = K_TIMEOUT;
  o.rc = -ETIMEDOUT;
  hl_err_set(&o.err, "dns: no answer for %s within %u ms", e->name, d->opts.timeout_ms);
  count_outcome(d, K_TIMEOUT);
  struct hl_dns_waitlist w;
  wait_move(&e->waiters, &w);
  deliver(d, &w, &o);
}

/* --- c-ares' sockets and clock on the loop ------------------------------------------- */

static void update_timer(hl_dns *d);

static uint64_t sock_ud(const hl_dns *d, uint32_t slot) {
  return hl_slots_ud(&d->slots, (uint8_t)(d->op + DNS_OP_POLL), slot);
}

static bool sock_live(const hl_dns *d, uint32_t slot) {
  return hl_slots_state(&d->slots, slot) == HL_SLOT_LIVE;
}

static void sock_retry_timer(hl_loop *l, hl_timer *t);

/* sock_sync makes the poll in flight match what c-ares wants: arm one if
 * none is in flight, or cancel one whose events differ (its completion,
 * -ECANCELED, re-arms with the new events). */
static void sock_sync(hl_dns *d, uint32_t slot) {
  dns_sock *s = &d->socks[slot];
  if (s->want == 0 || hl_loop_draining(d->loop)) {
    return;
  }
  if (s->armed != 0) {
    if (s->armed != s->want && !s->cancelling && hl_loop_cancel(d->loop, sock_ud(d, slot)) == 0) {
      s->cancelling = true;
    }
    return;
  }
  int r = hl_loop_poll(d->loop, sock_ud(d, slot), s->fd, s->want, false);
  if (r == 0) {
    s->armed = s->want;
  } else if (r == -EBUSY) {
    hl_timer_arm_in(d->loop, &s->retry, 1, sock_retry_timer);
  }
  /* -ESHUTDOWN: the loop is draining; c-ares' queries time out. */
}

static void sock_retry_timer(hl_loop *l, hl_timer *t) {
  (void)l;
  dns_sock *s = HL_CONTAINER_OF(t, dns_sock, retry);
  sock_sync(s->d, (uint32_t)(s - s->d->socks));
}

static void sock_close(hl_dns *d, uint32_t slot) {
  dns_sock *s = &d->socks[slot];
  hl_timer_cancel(d->loop, &s->retry);
  if (s->armed != 0) {
    /* The poll holds the socket open in the kernel until it ends; c-ares
     * closes its fd right after this callback. If the cancel cannot be
     * queued the poll still ends when the loop drains, and its completion
     * is stale either way. */
    (void)hl_loop_cancel(d->loop, sock_ud(d, slot));
  }
  s->fd = -1;
  s->want = s->armed = 0;
  s->cancelling = false;
  hl_slots_release(&d->slots, slot);
}

static bool sock_find(const hl_dns *d, int fd, uint32_t *slot) {
  for (uint32_t i = 0; i < HL_DNS_SOCKETS_MAX; i++) {
    if (sock_live(d, i) && d->socks[i].fd == fd) {
      *slot = i;
      return true;
    }
  }
  return false;
}

/* on_sock_state is c-ares' ARES_OPT_SOCK_STATE_CB: it opened |fd| or
 * changed what it waits for on it; (0, 0) means it is about to close it. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable) {
  hl_dns *d = data;
  uint16_t want = (uint16_t)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
  uint32_t slot;
  if (!sock_find(d, fd, &slot)) {
    if (want == 0) {
      return;
    }
    if (hl_slots_acquire(&d->slots, &slot) != 0) {
      /* Cannot happen with at most HL_DNS_SERVERS_MAX servers; if it did,
       * this socket's queries would end by c-ares' timeout. */
      d->stats.sockets_exhausted++;
      return;
    }
    dns_sock *s = &d->socks[slot];
    s->fd = fd;
    s->armed = 0;
    s->cancelling = false;
    s->d = d;
    hl_timer_init(&s->retry);
  }
  if (want == 0) {
    sock_close(d, slot);
    return;
  }
  d->socks[slot].want = want;
  sock_sync(d, slot);
}

static void on_poll(hl_loop *l, void *ctx, const hl_loop_cqe *c) {
  (void)l;
  hl_dns *d = ctx;
  uint32_t slot = c->slot;
  dns_sock *s = &d->socks[slot];
  HL_ASSERT(c->kind == DNS_OP_POLL && sock_live(d, slot));
  s->armed = 0;
  s->cancelling = false;
  if (c->res == -ECANCELED) {
    sock_sync(d, slot); /* our own cancel (new interest) or the loop draining */
    return;
  }
  /* An error from the poll itself is passed on as "readable" so that
   * c-ares reads, sees the socket's error and handles it. */
  unsigned ev = c->res >= 0 ? (unsigned)c->res : POLLERR;
  ares_socket_t rfd = (ev & (POLLIN | POLLERR | POLLHUP)) && (s->want & POLLIN) ? s->fd
                                                                               : ARES_SOCKET_BAD;
  ares_socket_t wfd = (ev & (POLLOUT | POLLERR | POLLHUP)) && (s->want & POLLOUT)
                          ? s->fd
                          : ARES_SOCKET_BAD;
  if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD) {
    uint32_t gen = c->gen;
    ares_process_fd(d->ch, rfd, wfd);
    /* c-ares may have closed the socket, and opened another in this slot. */
    if (!sock_live(d, slot) || hl_slots_gen(&d->slots, slot) != gen) {
      update_timer(d);
      return;
    }
  }
  sock_sync(d, slot);
  update_timer(d);
}

static void on_ares_timer(hl_loop *l, hl_timer *t) {
  (void)l;
  hl_dns *d = HL_CONTAINER_OF(t, hl_dns, ares_timer);
  ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  update_timer(d);
}

/* update_timer points the loop timer at c-ares' next timeout (rounded up
 * to the next millisecond, so that it never fires before c-ares is due). */
static void update_timer(hl_dns *d) {
  if (d->freeing) {
    return;
  }
  struct timeval tv;
  struct timeval *next = ares_timeout(d->ch, NULL, &tv);
  if (next == NULL) {
    hl_timer_cancel(d->loop, &d->ares_timer);
    return;
  }
  uint64_t ms = (uint64_t)next->tv_sec * 1000 + ((uint64_t)next->tv_usec + 999) / 1000;
  hl_timer_arm_in(d->loop, &d->ares_timer, ms, on_ares_timer);
}

/* --- lifecycle ----------------------------------------------------------------------- */

hl_dns_options hl_dns_options_default(void) {
  return (hl_dns_options){
      .servers = NULL,
      .timeout_ms = HL_DNS_TIMEOUT_MS,
      .tries = HL_DNS_TRIES,
      .cache_entries = HL_DNS_CACHE_ENTRIES_MAX,
      .lookups_max = HL_DNS_LOOKUPS_MAX,
      .negative_ttl_s = HL_DNS_NEGATIVE_TTL_S,
      .ttl_max_s = HL_DNS_TTL_MAX_S,
      .hosts_ttl_s = HL_DNS_HOSTS_TTL_S,
      .family = HL_DNS_PREFER_V4,
      .no_search = false,
      .hosts_from_env = false,
  };
}

static int check_options(const hl_dns_options *o, hl_err *err) {
  if (o->timeout_ms < 10 || o->timeout_ms > 600000) {
    return hl_err_fail(err, -EINVAL, "dns: timeout_ms must be from 10 to 600000, not %u",
                       o->timeout_ms);
  }
  if (o->tries < 1 || o->tries > HL_DNS_TRIES_MAX) {
    return hl_err_fail(err, -EINVAL, "dns: tries must be from 1 to %d, not %u", HL_DNS_TRIES_MAX,
                       o->tries);
  }
  if (o->lookups_max < 1 || o->cache_entries <= o->lookups_max ||
      o->cache_entries > HL_DNS_CACHE_ENTRIES_CEILING) {
    return hl_err_fail(err, -EINVAL,
                       "dns: cache_entries (%u) must be above lookups_max (%u, at least 1) and "
                       "at most %u",
                       o->cache_entries, o->lookups_max, HL_DNS_CACHE_ENTRIES_CEILING);
  }
  if (o->ttl_max_s > 7 * 86400 || o->negative_ttl_s > 7 * 86400 || o->hosts_ttl_s > 7 * 86400) {
    return hl_err_fail(err, -EINVAL,
                       "dns: ttl_max_s, negative_ttl_s and hosts_ttl_s must be at most a week");
  }
  if ((unsigned)o->family > HL_DNS_V6_ONLY) {
    return hl_err_fail(err, -EINVAL, "dns: family must be one of the hl_dns_family values");
  }
  return 0;
}

static void library_init_once(void) {
  (void)ares_library_init(ARES_LIB_INIT_ALL); /* allocator hooks only, on Linux */
}

/* per_try_ms: c-ares waits timeout, 2 x timeout, 4 x timeout ...
 * on successive rounds over the servers. Spread 90 % of the lookup's
 * budget over |tries| rounds so that c-ares' own timeout (and its attempts
 * on later servers) comes before our deadline. */
static int per_try_ms(const hl_dns_options *o) {
  uint64_t rounds = (UINT64_C(1) << o->tries) - 1;
  uint64_t ms = (uint64_t)o->timeout_ms * 9 / 10 / rounds;
  return ms < 1 ? 1 : (int)ms;
}

/* server_list reads the servers option, or else the servers c-ares took
 * from resolv.conf (the first HL_DNS_SERVERS_MAX, so that c-ares' sockets
 * fit the slot table). */
static int server_list(hl_dns *d, const char *servers, hl_dns_server *list, size_t *n,
                       hl_err *err) {
  *n = 0;
  if (servers != NULL && servers[0] != '\0') {
    return hl_dns_servers_parse(hl_span_cstr(servers), list, HL_DNS_SERVERS_MAX, n, err);
  }
  struct ares_addr_port_node *have = NULL;
  if (ares_get_servers_ports(d->ch, &have) != ARES_SUCCESS) {
    return hl_err_fail(err, -EIO, "dns: cannot read c-ares' server list");
  }
  for (struct ares_addr_port_node *p = have; p != NULL && *n < HL_DNS_SERVERS_MAX; p = p->next) {
    list[*n].family = p->family;
    memcpy(list[*n].addr, &p->addr, p->family == AF_INET ? 4 : 16);
    list[*n].port = (uint16_t)(p->udp_port > 0 && p->udp_port <= 65535 ? p->udp_port : 53);
    (*n)++;
  }
  ares_free_data(have);
  if (*n == 0) {
    return hl_err_fail(err, -EINVAL, "dns: no name server configured (resolv.conf has none)");
  }
  return 0;
}

static int set_servers(hl_dns *d, const hl_dns_server *list, size_t n, hl_err *err) {
  struct ares_addr_port_node nodes[HL_DNS_SERVERS_MAX];
  memset(nodes, 0, sizeof(nodes));
  for (size_t i = 0; i < n; i++) {
    nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
    nodes[i].family = list[i].family;
    memcpy(&nodes[i].addr, list[i].addr, list[i].family == AF_INET ? 4 : 16);
    nodes[i].udp_port = list[i].port;
    nodes[i].tcp_port = list[i].port;
  }
  int st = ares_set_servers_ports(d->ch, nodes);
  if (st != ARES_SUCCESS) {
    return hl_err_fail(err, -EIO, "dns: c-ares refused the server list (%s)", ares_strerror(st));
  }
  d->nservers = (uint32_t)n;
  return 0;
}

static int channel_open(hl_dns *d, bool one_server, hl_err *err) {
  char lookups[] = "fb"; /* the hosts file, then DNS; c-ares copies it */
  struct ares_options ao;
  memset(&ao, 0, sizeof(ao));
  /* STAYOPEN keeps the UDP socket (and its armed poll) between lookups
   * instead of closing and reopening it for each. With several servers,
   * c-ares moves on to the next one after a SERVFAIL or REFUSED and, when
   * all have failed, reports them together as "could not contact"; with
   * one there is nowhere to move on to, so NOCHECKRESP lets the answer's
   * own code through and the error says SERVFAIL or REFUSED. */
  ao.flags = ARES_FLAG_STAYOPEN | (one_server ? ARES_FLAG_NOCHECKRESP : 0);
  ao.timeout = per_try_ms(&d->opts);
  ao.tries = (int)d->opts.tries;
  ao.lookups = lookups;
  ao.sock_state_cb = on_sock_state;
  ao.sock_state_cb_data = d;
  ao.socket_receive_buffer_size = HL_DNS_SOCK_RCVBUF_BYTES;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS |
             ARES_OPT_SOCK_STATE_CB | ARES_OPT_SOCK_RCVBUF;
  if (d->opts.no_search) {
    ao.domains = NULL;
    ao.ndomains = 0;
    ao.ndots = 1;
    mask |= ARES_OPT_DOMAINS | ARES_OPT_NDOTS;
  }
  int st = ares_init_options(&d->ch, &ao, mask);
  if (st != ARES_SUCCESS) {
    d->ch = NULL;
    return hl_err_fail(err, st == ARES_ENOMEM ? -ENOMEM : -EIO, "dns: c-ares failed to start (%s)",
                       ares_strerror(st));
  }
  return 0;
}

static int channel_init(hl_dns *d, const char *servers, hl_err *err) {
  /* The one piece of process-wide state: c-ares' library initialisation
   * is a counter that is not thread-safe, and worker loops start their
   * resolvers on their own threads. */
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, library_init_once);
  memset(&d->hints, 0, sizeof(d->hints));
  /* NOSORT: c-ares' RFC 6724 sort connects a UDP socket per address to
   * learn source addresses (syscalls per lookup); we order by family. */
  d->hints.ai_flags = ARES_AI_NOSORT | (d->opts.hosts_from_env ? ARES_AI_ENVHOSTS : 0);
  d->hints.ai_family = d->opts.family == HL_DNS_V4_ONLY   ? AF_INET
                       : d->opts.family == HL_DNS_V6_ONLY ? AF_INET6
                                                          : AF_UNSPEC;
  hl_dns_server list[HL_DNS_SERVERS_MAX];
  size_t n;
  int rc = channel_open(d, false, err);
  if (rc == 0) {
    rc = server_list(d, servers, list, &n, err);
  }
  if (rc == 0 && n == 1) {
    /* No socket is open yet: the first channel goes without a trace. */
    ares_destroy(d->ch);
    d->ch = NULL;
    rc = channel_open(d, true, err);
  }
  return rc == 0 ? set_servers(d, list, n, err) : rc;
}

static int cache_init(hl_dns *d) {
  d->cap = d->opts.cache_entries;
  uint32_t buckets = 1;
  while (buckets < 2 * d->cap) {
    buckets <<= 1;
  }
  d->entries = calloc(d->cap, sizeof(*d->entries));
  d->buckets = malloc(sizeof(*d->buckets) * buckets);
  if (d->entries == NULL || d->buckets == NULL) {
    return -ENOMEM;
  }
  d->bucket_mask = buckets - 1;
  memset(d->buckets, 0xff, sizeof(*d->buckets) * buckets);
  d->free_head = NIL;
  d->untouched = 0;
  d->lru_head = d->lru_tail = NIL;
  if (getrandom(&d->seed, sizeof(d->seed), GRND_NONBLOCK) != (ssize_t)sizeof(d->seed)) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* only collision resistance suffers */
    d->seed = (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)(uintptr_t)d;
  }
  return 0;
}

int hl_dns_new(hl_loop *loop, const hl_dns_options *opts, hl_dns **out, hl_err *err) {
  *out = NULL;
  hl_dns_options o = opts != NULL ? *opts : hl_dns_options_default();
  int rc = check_options(&o, err);
  if (rc != 0) {
    return rc;
  }
  hl_dns *d = calloc(1, sizeof(*d));
  if (d == NULL) {
    return hl_err_fail(err, -ENOMEM, "dns: out of memory");
  }
  d->loop = loop;
  d->opts = o;
  d->opts.servers = NULL; /* the caller's string is read here only */
  for (uint32_t i = 0; i < HL_DNS_SOCKETS_MAX; i++) {
    d->socks[i].fd = -1;
    d->socks[i].d = d;
  }
  rc = cache_init(d);
  if (rc == 0) {
    rc = hl_slots_init(&d->slots, HL_DNS_SOCKETS_MAX, NULL, NULL);
  }
  if (rc != 0) {
    hl_err_set(err, "dns: out of memory for a cache of %u entries", o.cache_entries);
    hl_dns_free(d);
    return rc;
  }
  hl_loop_ops ops = {.name = "dns", .count = DNS_OP_COUNT, .handler = on_poll, .ctx = d,
                     .slots = &d->slots};
  rc = hl_loop_register_ops(loop, &ops, &d->op);
  if (rc != 0) {
    hl_err_set(err, "dns: the loop has no operation ids left");
    hl_dns_free(d);
    return rc;
  }
  rc = channel_init(d, o.servers, err);
  if (rc != 0) {
    hl_dns_free(d);
    return rc;
  }
  *out = d;
  return 0;
}

void hl_dns_free(hl_dns *d) {
  if (d == NULL) {
    return;
  }
  HL_ASSERT(d->callbacks == 0);
  d->freeing = true;
  if (d->ch != NULL) {
    /* Ends every query (on_addrinfo ignores them: freeing) and closes every
     * socket (on_sock_state: cancel the poll, release the slot). */
    ares_destroy(d->ch);
    d->ch = NULL;
  }
  hl_timer_cancel(d->loop, &d->ares_timer);
  for (uint32_t i = 0; i < HL_DNS_SOCKETS_MAX; i++) {
    hl_timer_cancel(d->loop, &d->socks[i].retry);
  }
  for (uint32_t i = 0; d->entries != NULL && i < d->untouched; i++) {
    hl_timer_cancel(d->loop, &d->entries[i].deadline);
  }
  hl_slots_cleanup(&d->slots);
  free(d->entries);
  free(d->buckets);
  free(d);
}

/* --- lookups --------------------------------------------------------------------- */

static int literal_answer(hl_dns *d, const hl_dns_name *n, hl_dns_addrs *out) {
  dns_addr a;
  a.family = (uint8_t)n->family;
  memcpy(a.bytes, n->addr, 16);
  if ((d->opts.family == HL_DNS_V4_ONLY && n->family != AF_INET) ||
      (d->opts.family == HL_DNS_V6_ONLY && n->family != AF_INET6)) {
    return hl_err_fail(&d->err, -ENOENT,
                       "dns: the address literal is IPv%c but the resolver is set to IPv%c only",
                       n->family == AF_INET ? '4' : '6', n->family == AF_INET ? '6' : '4');
  }
  d->stats.literals++;
  addrs_fill(&a, 1, d->opts.ttl_max_s, out);
  return 0;
}

/* cache_answer answers from a fresh cached entry. */
static int cache_answer(hl_dns *d, dns_entry *e, uint64_t now_ms, hl_dns_addrs *out) {
  d->stats.cache_hits++;
  if (e != &d->entries[d->lru_head]) {
    lru_unlink(d, e);
    lru_push_front(d, e);
  }
  if (e->state == E_NEGATIVE) {
    negative_message(d, e, (outcome_kind)e->kind, NULL, &d->err);
    return -ENOENT;
  }
  /* Expiry is stamped from the clock, |now_ms| is the loop's (possibly a
   * little older): never report more than the answer's own TTL. */
  uint64_t left_s = (e->expires_ms - now_ms + 999) / 1000;
  addrs_fill(e->addrs, e->naddrs, left_s < e->ttl_s ? (uint32_t)left_s : e->ttl_s, out);
  return 0;
}

/* start_lookup begins a c-ares lookup for a new PENDING entry. c-ares may
 * answer inside ares_getaddrinfo (hosts file, localhost, a bad name): then
 * the answer comes back through |sink| and no one waits. */
static int start_lookup(hl_dns *d, const hl_dns_name *n, uint64_t hash, hl_dns_query *q,
                        hl_dns_cb cb, void *ctx, hl_dns_addrs *out) {
  if (d->in_flight >= d->opts.lookups_max) {
    d->stats.busy++;
    return hl_err_fail(&d->err, -EBUSY,
                       "dns: %u lookups are already in flight (lookups_max); try again later",
                       d->opts.lookups_max);
  }
  d->stats.cache_misses++;
  dns_entry *e = entry_take(d);
  e->hash = hash;
  e->name_len = n->len;
  memcpy(e->name, n->name, n->len + 1);
  e->state = E_PENDING;
  e->naddrs = 0;
  e->waiters.head = e->waiters.tail = NULL;
  e->waiters.n = 0;
  index_insert(d, e);
  d->in_flight++;

  dns_outcome sync;
  sync.done = false;
  dns_outcome *outer = d->sync_sink;
  d->sync_sink = &sync;
  e->starting = 1;
  ares_getaddrinfo(d->ch, e->name, NULL, &d->hints, on_addrinfo, e);
  d->sync_sink = outer;
  if (sync.done) {
    /* The entry is cached or freed already; do not touch it. */
    if (sync.rc == 0) {
      addrs_fill(sync.addrs, sync.naddrs, sync.ttl_s, out);
      return 0;
    }
    d->err = sync.err;
    return sync.rc;
  }
  e->starting = 0;
  /* From the clock, not the loop's cached time: a resolve made outside the
   * loop's handlers after a long pause (start-up) would otherwise get a
   * deadline that has already passed. */
  hl_timer_arm(d->loop, &e->deadline, hl_clock_mono_ms() + d->opts.timeout_ms, on_deadline);
  q->cb = cb;
  q->ctx = ctx;
  wait_push(&e->waiters, q);
  update_timer(d);
  return -EINPROGRESS;
}

int hl_dns_resolve(hl_dns *d, hl_span host, hl_dns_query *q, hl_dns_cb cb, void *ctx,
                   hl_dns_addrs *out) {
  HL_ASSERT(!d->freeing && q->list == NULL && cb != NULL);
  d->stats.lookups++;
  d->err.msg[0] = '\0';
  hl_dns_name n;
  int rc = hl_dns_name_parse(host, &n, &d->err);
  if (rc != 0) {
    d->stats.invalid++;
    hl_err_prefix(&d->err, "dns");
    return rc;
  }
  if (n.family != 0) {
    return literal_answer(d, &n, out);
  }
  if (hl_loop_draining(d->loop)) {
    return hl_err_fail(&d->err, -ESHUTDOWN, "dns: the loop is shutting down");
  }
  uint64_t hash = name_hash(d->seed, n.name, n.len);
  uint64_t now_ms = hl_loop_now_ms(d->loop);
  dns_entry *e = cache_find(d, hash, n.name, n.len);
  if (e != NULL && e->state == E_PENDING) {
    if (e->waiters.n >= HL_DNS_WAITERS_MAX) {
      d->stats.busy++;
      return hl_err_fail(&d->err, -EBUSY,
                         "dns: %d queries already wait for %s (HL_DNS_WAITERS_MAX)",
                         HL_DNS_WAITERS_MAX, e->name);
    }
    d->stats.coalesced++;
    q->cb = cb;
    q->ctx = ctx;
    wait_push(&e->waiters, q);
    return -EINPROGRESS;
  }
  if (e != NULL) {
    if (now_ms < e->expires_ms) {
      return cache_answer(d, e, now_ms, out);
    }
    cache_drop(d, e); /* stale: ask again */
  }
  return start_lookup(d, &n, hash, q, cb, ctx, out);
}

void hl_dns_cancel(hl_dns *d, hl_dns_query *q) {
  (void)d;
  if (q->list != NULL) {
    wait_unlink(q);
  }
}

const hl_err *hl_dns_last_error(const hl_dns *d) {
  return &d->err;
}

void hl_dns_stats_get(const hl_dns *d, hl_dns_stats *out) {
  *out = d->stats;
  out->cached = d->cached;
  out->in_flight = d->in_flight;
}
