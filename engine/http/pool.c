/* pool: per-origin connection bookkeeping (see pool.h). */
#include "http/pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/buf.h"

#define NONE HL_POOL_NONE

/* --- keys ------------------------------------------------------------------ */

void hl_origin_key_from_url(const hl_url *u, uint8_t tls_profile, hl_origin_key *k) {
  memset(k, 0, sizeof(*k));
  k->scheme = (uint8_t)u->scheme;
  k->tls_profile = tls_profile;
  k->port = u->port;
  if (u->host.kind == HL_HOST_IPV6) {
    /* Canonical text, so that [::1] and [0:0::1] share a pool. */
    HL_ASSERT(inet_ntop(AF_INET6, u->host.addr, k->host, sizeof(k->host)) != NULL);
    k->host_len = (uint16_t)strlen(k->host);
    return;
  }
  hl_buf b;
  hl_buf_init(&b, k->host, sizeof(k->host));
  hl_url_host_lower(u, &b);
  HL_ASSERT(hl_buf_ok(&b)); /* the URL parser bounds hosts by HL_HOST_BYTES_MAX */
  k->host_len = (uint16_t)b.len;
  hl_buf_cstr(&b);
}

bool hl_origin_key_eq(const hl_origin_key *a, const hl_origin_key *b) {
  return a->scheme == b->scheme && a->tls_profile == b->tls_profile && a->port == b->port &&
         a->host_len == b->host_len && memcmp(a->host, b->host, a->host_len) == 0;
}

uint32_t hl_origin_key_hash(const hl_origin_key *k) {
  /* FNV-1a: keys are short and not attacker-chosen in bulk (endpoints are
   * configured), so a simple hash with a bounded chain walk is enough. */
  uint32_t h = 2166136261u;
  uint8_t head[4] = {k->scheme, k->tls_profile, (uint8_t)(k->port >> 8), (uint8_t)k->port};
  for (size_t i = 0; i < sizeof(head); i++) {
    h = (h ^ head[i]) * 16777619u;
  }
  for (size_t i = 0; i < k->host_len; i++) {
    h = (h ^ (uint8_t)k->host[i]) * 16777619u;
  }
  return h;
}

/* --- init ------------------------------------------------------------------ */

int hl_pool_init(hl_pool *p, const hl_pool_limits *lim, hl_pool_recycle_fn on_recycle, void *ctx) {
  memset(p, 0, sizeof(*p));
  if (lim->origins_max == 0 || lim->conns_max == 0 || lim->conns_per_origin_max == 0 ||
      lim->requests_max == 0 || lim->waiters_per_origin_max == 0 ||
      lim->origins_max > HL_ORIGINS_MAX || lim->conn_ids_max < lim->conns_max ||
      lim->conn_ids_max >= NONE ||
      lim->requests_max >= NONE) {
    return -EINVAL;
  }
  p->lim = *lim;
  uint32_t nb = 1;
  while (nb < lim->origins_max * 2) {
    nb <<= 1;
  }
  p->origins = calloc(lim->origins_max, sizeof(*p->origins));
  p->buckets = malloc(nb * sizeof(*p->buckets));
  p->conns = malloc(lim->conn_ids_max * sizeof(*p->conns));
  p->reqs = malloc(lim->requests_max * sizeof(*p->reqs));
  if (p->origins == NULL || p->buckets == NULL || p->conns == NULL || p->reqs == NULL) {
    hl_pool_cleanup(p);
    return -ENOMEM;
  }
  p->bucket_mask = nb - 1;
  for (uint32_t i = 0; i < nb; i++) {
    p->buckets[i] = NONE;
  }
  for (uint32_t i = 0; i < lim->origins_max; i++) {
    p->origins[i].bucket_next = i + 1 < lim->origins_max ? i + 1 : NONE; /* free list */
  }
  for (uint32_t i = 0; i < lim->conn_ids_max; i++) {
    p->conns[i] = (hl_pool_conn){NONE, NONE, NONE, NONE, NONE, false};
  }
  for (uint32_t i = 0; i < lim->requests_max; i++) {
    p->reqs[i] = (hl_pool_req){NONE, NONE, NONE};
  }
  p->free_head = 0;
  p->unused_head = p->unused_tail = NONE;
  p->blocked_head = p->blocked_tail = NONE;
  p->glob_idle_head = p->glob_idle_tail = NONE;
  p->on_recycle = on_recycle;
  p->recycle_ctx = ctx;
  return 0;
}

void hl_pool_cleanup(hl_pool *p) {
  if (p->origins != NULL && p->on_recycle != NULL) {
    for (uint32_t i = 0; i < p->lim.origins_max; i++) {
      if (p->origins[i].in_use) {
        p->on_recycle(p->recycle_ctx, i);
      }
    }
  }
  free(p->origins);
  free(p->buckets);
  free(p->conns);
  free(p->reqs);
  memset(p, 0, sizeof(*p));
}

/* --- the unused-origin LRU ------------------------------------------------------ */

static void unused_unlink(hl_pool *p, uint32_t o) {
  hl_pool_origin *e = &p->origins[o];
  if (!e->unused_listed) {
    return;
  }
  if (e->lru_prev != NONE) {
    p->origins[e->lru_prev].lru_next = e->lru_next;
  } else {
    p->unused_head = e->lru_next;
  }
  if (e->lru_next != NONE) {
    p->origins[e->lru_next].lru_prev = e->lru_prev;
  } else {
    p->unused_tail = e->lru_prev;
  }
  e->lru_prev = e->lru_next = NONE;
  e->unused_listed = false;
}

/* origin_touch keeps the invariant: an origin is on the unused list exactly
 * when nothing counts on it (no connection, no reference). Appending at the
 * tail makes the head the least recently used. */
static void origin_touch(hl_pool *p, uint32_t o) {
  hl_pool_origin *e = &p->origins[o];
  bool unused = e->conns == 0 && e->refs == 0;
  if (!unused) {
    unused_unlink(p, o);
    return;
  }
  if (e->unused_listed) {
    return;
  }
  HL_ASSERT(e->waiting == 0 && e->idle == 0);
  e->lru_next = NONE;
  e->lru_prev = p->unused_tail;
  if (p->unused_tail != NONE) {
    p->origins[p->unused_tail].lru_next = o;
  } else {
    p->unused_head = o;
  }
  p->unused_tail = o;
  e->unused_listed = true;
}

static void bucket_remove(hl_pool *p, uint32_t o) {
  uint32_t *link = &p->buckets[p->origins[o].hash & p->bucket_mask];
  while (*link != o) {
    HL_ASSERT(*link != NONE);
    link = &p->origins[*link].bucket_next;
  }
  *link = p->origins[o].bucket_next;
}

/* blocked_unlink takes an origin off the blocked list (rare: only when an
 * origin whose waiters all left is recycled), so a linear walk is fine. */
static void blocked_unlink(hl_pool *p, uint32_t o) {
  if (!p->origins[o].blocked) {
    return;
  }
  uint32_t prev = NONE;
  for (uint32_t i = p->blocked_head; i != o; i = p->origins[i].blocked_next) {
    HL_ASSERT(i != NONE);
    prev = i;
  }
  uint32_t next = p->origins[o].blocked_next;
  if (prev == NONE) {
    p->blocked_head = next;
  } else {
    p->origins[prev].blocked_next = next;
  }
  if (p->blocked_tail == o) {
    p->blocked_tail = prev;
  }
  p->origins[o].blocked = false;
  p->origins[o].blocked_next = NONE;
}

static bool origin_take_entry(hl_pool *p, uint32_t *o) {
  if (p->free_head != NONE) {
    *o = p->free_head;
    p->free_head = p->origins[*o].bucket_next;
    return true;
  }
  if (p->unused_head == NONE) {
    return false;
  }
  /* Recycle the origin unused for longest; its TLS sessions go with it. */
  *o = p->unused_head;
  unused_unlink(p, *o);
  blocked_unlink(p, *o);
  bucket_remove(p, *o);
  if (p->on_recycle != NULL) {
    p->on_recycle(p->recycle_ctx, *o);
  }
  p->origins_live--;
  p->origins_recycled++;
  return true;
}

int hl_pool_origin_get(hl_pool *p, const hl_origin_key *k, uint32_t *origin) {
  uint32_t h = hl_origin_key_hash(k);
  for (uint32_t o = p->buckets[h & p->bucket_mask]; o != NONE; o = p->origins[o].bucket_next) {
    if (p->origins[o].hash == h && hl_origin_key_eq(&p->origins[o].key, k)) {
      p->origins[o].refs++;
      origin_touch(p, o);
      *origin = o;
      return 0;
    }
  }
  uint32_t o;
  if (!origin_take_entry(p, &o)) {
    p->origins_full++;
    return -ENOSPC;
  }
  hl_pool_origin *e = &p->origins[o];
  memset(e, 0, sizeof(*e));
  e->key = *k;
  e->hash = h;
  e->lru_prev = e->lru_next = NONE;
  e->idle_head = NONE;
  e->wait_head = e->wait_tail = NONE;
  e->blocked_next = NONE;
  e->in_use = true;
  e->refs = 1;
  uint32_t *bucket = &p->buckets[h & p->bucket_mask];
  e->bucket_next = *bucket;
  *bucket = o;
  p->origins_live++;
  *origin = o;
  return 0;
}

void hl_pool_origin_put(hl_pool *p, uint32_t origin) {
  hl_pool_origin *e = &p->origins[origin];
  HL_ASSERT(e->in_use && e->refs > 0);
  e->refs--;
  origin_touch(p, origin);
}

/* --- connections -------------------------------------------------------------- */

bool hl_pool_total_full(const hl_pool *p) {
  return p->conns_open >= p->lim.conns_max;
}

bool hl_pool_can_open(const hl_pool *p, uint32_t origin) {
  return !hl_pool_total_full(p) && p->origins[origin].conns < p->lim.conns_per_origin_max;
}

void hl_pool_conn_opened(hl_pool *p, uint32_t origin, uint32_t conn) {
  HL_ASSERT(conn < p->lim.conn_ids_max && p->conns[conn].origin == NONE);
  HL_ASSERT(hl_pool_can_open(p, origin));
  p->conns[conn] = (hl_pool_conn){origin, NONE, NONE, NONE, NONE, false};
  p->origins[origin].conns++;
  p->conns_open++;
  origin_touch(p, origin);
}

void hl_pool_conn_closed(hl_pool *p, uint32_t conn) {
  uint32_t o = p->conns[conn].origin;
  HL_ASSERT(o != NONE);
  if (p->conns[conn].idle) {
    hl_pool_idle_remove(p, conn);
  }
  HL_ASSERT(p->origins[o].conns > 0 && p->conns_open > 0);
  p->origins[o].conns--;
  p->conns_open--;
  p->conns[conn].origin = NONE;
  origin_touch(p, o);
}

/* --- idle connections ---------------------------------------------------------- */

void hl_pool_idle_push(hl_pool *p, uint32_t conn) {
  hl_pool_conn *c = &p->conns[conn];
  HL_ASSERT(c->origin != NONE && !c->idle);
  hl_pool_origin *e = &p->origins[c->origin];
  c->idle = true;
  c->idle_prev = NONE;
  c->idle_next = e->idle_head;
  if (e->idle_head != NONE) {
    p->conns[e->idle_head].idle_prev = conn;
  }
  e->idle_head = conn;
  e->idle++;
  c->glob_prev = NONE;
  c->glob_next = p->glob_idle_head;
  if (p->glob_idle_head != NONE) {
    p->conns[p->glob_idle_head].glob_prev = conn;
  } else {
    p->glob_idle_tail = conn;
  }
  p->glob_idle_head = conn;
  p->conns_idle++;
}

void hl_pool_idle_remove(hl_pool *p, uint32_t conn) {
  hl_pool_conn *c = &p->conns[conn];
  HL_ASSERT(c->idle);
  hl_pool_origin *e = &p->origins[c->origin];
  if (c->idle_prev != NONE) {
    p->conns[c->idle_prev].idle_next = c->idle_next;
  } else {
    e->idle_head = c->idle_next;
  }
  if (c->idle_next != NONE) {
    p->conns[c->idle_next].idle_prev = c->idle_prev;
  }
  if (c->glob_prev != NONE) {
    p->conns[c->glob_prev].glob_next = c->glob_next;
  } else {
    p->glob_idle_head = c->glob_next;
  }
  if (c->glob_next != NONE) {
    p->conns[c->glob_next].glob_prev = c->glob_prev;
  } else {
    p->glob_idle_tail = c->glob_prev;
  }
  c->idle_prev = c->idle_next = c->glob_prev = c->glob_next = NONE;
  c->idle = false;
  HL_ASSERT(e->idle > 0 && p->conns_idle > 0);
  e->idle--;
  p->conns_idle--;
}

bool hl_pool_idle_pop(hl_pool *p, uint32_t origin, uint32_t *conn) {
  uint32_t c = p->origins[origin].idle_head;
  if (c == NONE) {
    return false;
  }
  hl_pool_idle_remove(p, c);
  *conn = c;
  return true;
}

bool hl_pool_idle_oldest(const hl_pool *p, uint32_t *conn) {
  if (p->glob_idle_tail == NONE) {
    return false;
  }
  *conn = p->glob_idle_tail;
  return true;
}

/* --- waiting requests ----------------------------------------------------------- */

int hl_pool_wait_push(hl_pool *p, uint32_t origin, uint32_t req) {
  hl_pool_origin *e = &p->origins[origin];
  hl_pool_req *r = &p->reqs[req];
  HL_ASSERT(r->origin == NONE && e->refs > 0);
  if (e->waiting >= p->lim.waiters_per_origin_max) {
    return -ENOSPC;
  }
  r->origin = origin;
  r->next = NONE;
  r->prev = e->wait_tail;
  if (e->wait_tail != NONE) {
    p->reqs[e->wait_tail].next = req;
  } else {
    e->wait_head = req;
  }
  e->wait_tail = req;
  e->waiting++;
  return 0;
}

void hl_pool_wait_remove(hl_pool *p, uint32_t req) {
  hl_pool_req *r = &p->reqs[req];
  HL_ASSERT(r->origin != NONE);
  hl_pool_origin *e = &p->origins[r->origin];
  if (r->prev != NONE) {
    p->reqs[r->prev].next = r->next;
  } else {
    e->wait_head = r->next;
  }
  if (r->next != NONE) {
    p->reqs[r->next].prev = r->prev;
  } else {
    e->wait_tail = r->prev;
  }
  HL_ASSERT(e->waiting > 0);
  e->waiting--;
  *r = (hl_pool_req){NONE, NONE, NONE};
}

bool hl_pool_wait_pop(hl_pool *p, uint32_t origin, uint32_t *req) {
  uint32_t r = p->origins[origin].wait_head;
  if (r == NONE) {
    return false;
  }
  hl_pool_wait_remove(p, r);
  *req = r;
  return true;
}

/* --- origins held back by the total limit ------------------------------------------ */

void hl_pool_blocked_mark(hl_pool *p, uint32_t origin) {
  hl_pool_origin *e = &p->origins[origin];
  if (e->blocked) {
    return;
  }
  e->blocked = true;
  e->blocked_next = NONE;
  if (p->blocked_tail != NONE) {
    p->origins[p->blocked_tail].blocked_next = origin;
  } else {
    p->blocked_head = origin;
  }
  p->blocked_tail = origin;
}

bool hl_pool_blocked_next(hl_pool *p, uint32_t *origin) {
  uint32_t o = p->blocked_head;
  if (o == NONE) {
    return false;
  }
  hl_pool_origin *e = &p->origins[o];
  p->blocked_head = e->blocked_next;
  if (p->blocked_head == NONE) {
    p->blocked_tail = NONE;
  }
  e->blocked = false;
  e->blocked_next = NONE;
  *origin = o;
  return true;
}
