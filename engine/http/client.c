/* client: requests over pooled connections (see client.h). */
#include "http/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/mem.h"
#include "http/pool.h"
#include "io/dns.h"
#include "io/tls.h"

#define NONE HL_POOL_NONE
/* Request slots beyond requests_max, so that a completion callback that
 * submits a new request finds a slot while its own is still being read
 * (a slot goes back on the free list only after its callback returns). */
#define REQ_SPARE 8

typedef enum req_state {
  REQ_FREE = 0,
  REQ_RESOLVING, /* looking up addresses for a new connection */
  REQ_QUEUED,    /* waiting in its origin's queue for a connection */
  REQ_CONNECTING, /* a new connection is being opened for it */
  REQ_ACTIVE,    /* on a connection: written and/or reading the response */
  REQ_FAILING,   /* failed inside submit: completes on the next iteration */
  REQ_DONE,      /* its callback is running */
} req_state;

typedef struct creq {
  struct hl_client *cl;
  uint32_t gen;
  uint8_t state;
  bool head_request;
  bool reused;   /* the current attempt is on a reused connection */
  bool retried;  /* already sent once more after the keep-alive race */
  bool got_byte; /* a response byte arrived on the current attempt */
  bool got_head;
  bool was_reused; /* any attempt was on a reused connection */
  uint32_t origin;
  uint32_t conn;
  hl_client_done_fn done;
  void *ctx;
  const hl_netpolicy *policy;
  uint32_t connect_timeout_ms, tls_handshake_timeout_ms, response_header_timeout_ms;
  struct iovec iov[2];
  hl_timer deadline; /* the whole request */
  hl_timer phase;    /* response head deadline; also "complete soon" */
  hl_neterr fail_cls;
  hl_err err;
  uint32_t body_len;
  /* timestamps, loop clock in ns (0: did not happen) */
  uint64_t t_submit, t_queued, t_dequeued, t_dns0, t_dns1, t_open, t_sent, t_first;
  uint32_t connect_us, tls_us;
  uint32_t naddrs;
  struct sockaddr_storage addrs[HL_CONN_ADDRS_MAX];
  hl_h1_parser parser;
  hl_dns_query dnsq; /* waiting while state == REQ_RESOLVING */
  hl_dns_addrs dns_out;
} creq;

/* Per connection (indexed by conn id). */
typedef struct cconn {
  struct hl_client *cl;
  uint32_t req;    /* request on it, or NONE */
  uint32_t served; /* requests completed on it */
  hl_timer idle;
  uint64_t t_open, t_ready;
} cconn;

struct hl_client {
  hl_loop *loop;
  hl_client_options o;
  hl_conns *conns;
  hl_pool pool;
  creq *reqs;
  cconn *cc;
  uint32_t conns_cap;
  char *body_mem; /* requests_max * body_bytes_kept */
  char *head_mem; /* requests_max * HL_HTTP_REQUEST_HEAD_BYTES_MAX */
  uint32_t slots_total; /* requests_max + REQ_SPARE */
  uint32_t *req_free;
  uint32_t req_free_len;
  hl_tls_sessions *sessions; /* per origin entry */
  bool in_submit;
  hl_client_stats st;
};

static void req_complete(hl_client *c, uint32_t ri, hl_neterr cls);
static void req_dispatch(hl_client *c, uint32_t ri);
static void conn_gone(hl_client *c, uint32_t ci, uint32_t origin);

/* --- small helpers ----------------------------------------------------------------- */

static uint64_t now_ns(const hl_client *c) {
  return hl_loop_now_ns(c->loop);
}

static uint32_t us_between(uint64_t a_ns, uint64_t b_ns) {
  if (a_ns == 0 || b_ns < a_ns) {
    return 0;
  }
  uint64_t us = (b_ns - a_ns) / 1000u;
  return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static hl_client_id req_id(const hl_client *c, uint32_t ri) {
  return ((uint64_t)c->reqs[ri].gen << 32) | ri;
}

static char *req_body_mem(hl_client *c, uint32_t ri) {
  return c->body_mem + (size_t)ri * c->o.body_bytes_kept;
}

static hl_pool_origin *req_origin(hl_client *c, const creq *r) {
  return hl_pool_origin_at(&c->pool, r->origin);
}

/* --- options ------------------------------------------------------------------------ */

hl_client_options hl_client_options_from(const hl_limits *l) {
  hl_client_options o;
  memset(&o, 0, sizeof(o));
  o.requests_max = l->deliveries_in_flight_max;
  o.conns_max = l->conns_max;
  o.conns_per_origin_max = l->conns_per_origin_max;
  o.origins_max = HL_ORIGINS_MAX;
  o.waiters_per_origin_max = HL_POOL_WAITERS_PER_ORIGIN_MAX;
  o.requests_per_conn_max = l->requests_per_conn_max;
  o.idle_timeout_ms = l->pool_idle_timeout_ms;
  o.body_bytes_kept = (uint32_t)l->http_body_bytes_kept;
  o.connect_timeout_ms = l->connect_timeout_ms;
  o.tls_handshake_timeout_ms = l->tls_handshake_timeout_ms;
  o.response_header_timeout_ms = l->response_header_timeout_ms;
  o.request_timeout_ms = l->request_timeout_ms;
  o.h1 = hl_h1_limits_from(l);
  return o;
}

/* --- name resolution ----------------------------------------------------------------
 * Through the loop's resolver (io/dns): answered at once from its cache or
 * for IP literals, else later through dns_done. Ports are the client's. */

static void resolved(hl_client *c, uint32_t ri, int status);

/* take_addrs copies the resolver's answer (port 0) with the origin's port. */
static void take_addrs(hl_client *c, creq *r, const hl_dns_addrs *a) {
  uint16_t port = req_origin(c, r)->key.port;
  r->naddrs = a->n < HL_CONN_ADDRS_MAX ? a->n : HL_CONN_ADDRS_MAX;
  for (uint32_t i = 0; i < r->naddrs; i++) {
    r->addrs[i] = a->addr[i];
    if (r->addrs[i].ss_family == AF_INET6) {
      ((struct sockaddr_in6 *)&r->addrs[i])->sin6_port = htons(port);
    } else {
      ((struct sockaddr_in *)&r->addrs[i])->sin_port = htons(port);
    }
  }
}

static void dns_done(void *ctx, int status, const hl_dns_addrs *a, const hl_err *err) {
  creq *r = ctx;
  hl_client *c = r->cl;
  if (status == 0) {
    take_addrs(c, r, a);
  } else if (err != NULL) {
    r->err = *err;
  }
  resolved(c, (uint32_t)(r - c->reqs), status);
}

/* resolve_start looks the origin's host up: 0 (r->addrs filled),
 * -EINPROGRESS (resolved() follows), or a negative errno (r->err says
 * why). */
static int resolve_start(hl_client *c, creq *r) {
  const hl_origin_key *k = &req_origin(c, r)->key;
  int rc = hl_dns_resolve(c->o.dns, hl_span_make(k->host, k->host_len), &r->dnsq, dns_done, r,
                          &r->dns_out);
  if (rc == 0) {
    take_addrs(c, r, &r->dns_out);
  } else if (rc != -EINPROGRESS) {
    r->err = *hl_dns_last_error(c->o.dns);
  }
  return rc;
}

/* --- completing --------------------------------------------------------------------- */

static void fill_result(hl_client *c, uint32_t ri, hl_neterr cls, hl_client_result *res) {
  creq *r = &c->reqs[ri];
  memset(res, 0, sizeof(*res));
  res->error = cls;
  res->detail = cls == HL_NETERR_OK ? "" : r->err.msg;
  res->retry_after_s = -1;
  const hl_h1_response *h = hl_h1_parser_response(&r->parser);
  if (r->got_byte && h->status >= 100) { /* a partial code is not a status */
    res->status = h->status;
    res->response = h;
    uint32_t s;
    if (r->got_head && h->retry_after_len > 0 &&
        hl_h1_parse_retry_after(hl_h1_response_retry_after(h),
                                (int64_t)(hl_clock_wall_ms() / 1000u), &s)) {
      res->retry_after_s = (int32_t)s;
    }
  }
  res->body = hl_span_make(req_body_mem(c, ri), r->body_len);
  res->body_bytes = r->got_byte ? hl_h1_parser_body_bytes(&r->parser) : 0;
  res->body_truncated = res->body_bytes > r->body_len;
  res->reused = r->reused;
  res->retried = r->retried;
  res->t.queue_us = us_between(r->t_queued, r->t_dequeued != 0 ? r->t_dequeued : now_ns(c));
  res->t.dns_us = us_between(r->t_dns0, r->t_dns1);
  res->t.connect_us = r->connect_us;
  res->t.tls_us = r->tls_us;
  res->t.ttfb_us = us_between(r->t_sent, r->t_first);
  res->t.total_us = us_between(r->t_submit, now_ns(c));
}

static void req_release(hl_client *c, uint32_t ri) {
  creq *r = &c->reqs[ri];
  r->state = REQ_FREE;
  r->gen = (r->gen + 1) & 0x7fffffffu;
  if (r->gen == 0) {
    r->gen = 1; /* ids are never 0 */
  }
  c->req_free[c->req_free_len++] = ri;
}

/* conn_forget: connection |ci| is closed (or closing); uncount it. */
static void conn_forget(hl_client *c, uint32_t ci) {
  hl_timer_cancel(c->loop, &c->cc[ci].idle);
  c->cc[ci].req = NONE;
  hl_pool_conn_closed(&c->pool, ci);
}

/* serve_waiters lets waiters that the limits held back open connections,
 * after a connection of |origin| closed. */
static void serve_waiters(hl_client *c, uint32_t origin) {
  uint32_t ri;
  while (hl_pool_can_open(&c->pool, origin) && hl_pool_wait_pop(&c->pool, origin, &ri)) {
    req_dispatch(c, ri);
  }
  uint32_t o;
  while (!hl_pool_total_full(&c->pool) && hl_pool_blocked_next(&c->pool, &o)) {
    while (hl_pool_can_open(&c->pool, o) && hl_pool_wait_pop(&c->pool, o, &ri)) {
      req_dispatch(c, ri);
    }
    if (hl_pool_origin_at(&c->pool, o)->waiting > 0 && hl_pool_total_full(&c->pool)) {
      hl_pool_blocked_mark(&c->pool, o);
      break;
    }
  }
}

static void conn_gone(hl_client *c, uint32_t ci, uint32_t origin) {
  conn_forget(c, ci);
  serve_waiters(c, origin);
}

/* conn_drop closes connection |ci| that no request is using. */
static void conn_drop(hl_client *c, uint32_t ci) {
  uint32_t origin = hl_pool_conn_origin(&c->pool, ci);
  hl_conn_close(c->conns, ci);
  conn_gone(c, ci, origin);
}

/* req_detach_conn closes the request's connection (a connection that a
 * request left half-way cannot carry another) and forgets it. */
static void req_detach_conn(hl_client *c, creq *r) {
  if (r->conn == NONE) {
    return;
  }
  uint32_t ci = r->conn;
  r->conn = NONE;
  c->cc[ci].req = NONE;
  conn_drop(c, ci);
}

/* req_complete delivers the one completion of request |ri| and frees it.
 * |keep_alive|: its connection went back to the pool. */
static void req_complete_ex(hl_client *c, uint32_t ri, hl_neterr cls, bool keep_alive) {
  creq *r = &c->reqs[ri];
  HL_ASSERT(r->state != REQ_FREE && r->state != REQ_DONE);
  hl_timer_cancel(c->loop, &r->deadline);
  hl_timer_cancel(c->loop, &r->phase);
  if (r->state == REQ_QUEUED) {
    hl_pool_wait_remove(&c->pool, ri);
  } else if (r->state == REQ_RESOLVING) {
    hl_dns_cancel(c->o.dns, &r->dnsq);
  }
  r->state = REQ_DONE;
  req_detach_conn(c, r);
  hl_client_result res;
  fill_result(c, ri, cls, &res);
  res.keep_alive = keep_alive;
  c->st.completed++;
  c->st.by_error[cls]++;
  c->st.in_flight--; /* the callback may submit in its place */
  r->done(r->ctx, req_id(c, ri), &res);
  hl_pool_origin_put(&c->pool, r->origin);
  req_release(c, ri);
}

static void req_complete(hl_client *c, uint32_t ri, hl_neterr cls) {
  req_complete_ex(c, ri, cls, false);
}

static void phase_fired(hl_loop *loop, hl_timer *t) {
  (void)loop;
  creq *r = HL_CONTAINER_OF(t, creq, phase);
  hl_client *c = r->cl;
  uint32_t ri = (uint32_t)(r - c->reqs);
  if (r->state == REQ_FAILING) {
    req_complete(c, ri, r->fail_cls);
    return;
  }
  HL_ASSERT(r->state == REQ_ACTIVE && !r->got_head);
  hl_err_set(&r->err, "no response head within response_header_timeout_ms (%u ms) after the "
             "request was written%s", r->response_header_timeout_ms,
             r->got_byte ? " (part of one arrived)" : "");
  req_complete(c, ri, HL_NETERR_RESPONSE_TIMEOUT);
}

/* req_fail completes request |ri| with |cls| (r->err already says why): at
 * once, or on the next loop iteration when called from inside
 * hl_client_submit, which must never run a callback. */
static void req_fail(hl_client *c, uint32_t ri, hl_neterr cls) {
  creq *r = &c->reqs[ri];
  if (!c->in_submit) {
    req_complete(c, ri, cls);
    return;
  }
  if (r->state == REQ_QUEUED) {
    hl_pool_wait_remove(&c->pool, ri);
  } else if (r->state == REQ_RESOLVING) {
    hl_dns_cancel(c->o.dns, &r->dnsq);
  }
  req_detach_conn(c, r);
  r->state = REQ_FAILING;
  r->fail_cls = cls;
  hl_timer_cancel(c->loop, &r->deadline);
  hl_timer_arm_in(c->loop, &r->phase, 0, phase_fired);
}

static void deadline_fired(hl_loop *loop, hl_timer *t) {
  (void)loop;
  creq *r = HL_CONTAINER_OF(t, creq, deadline);
  hl_client *c = r->cl;
  uint32_t ri = (uint32_t)(r - c->reqs);
  uint32_t ms = (uint32_t)((now_ns(c) - r->t_submit) / 1000000u);
  const hl_origin_key *k = &req_origin(c, r)->key;
  switch (r->state) {
  case REQ_QUEUED:
    hl_err_set(&r->err, "no connection to %s became free within request_timeout_ms (%u ms): "
               "the pool was at its limit (%u per origin, %u in all)", k->host, ms,
               c->o.conns_per_origin_max, c->o.conns_max);
    req_complete(c, ri, HL_NETERR_POOL_FULL);
    return;
  case REQ_RESOLVING:
  case REQ_CONNECTING:
    hl_err_set(&r->err, "request_timeout_ms (%u ms) passed while %s %s", ms,
               r->state == REQ_RESOLVING ? "resolving" : "connecting to", k->host);
    req_complete(c, ri, HL_NETERR_REQUEST_TIMEOUT);
    return;
  case REQ_ACTIVE:
    hl_err_set(&r->err, "request_timeout_ms (%u ms) passed before the response was complete "
               "(%llu body bytes so far)", ms,
               (unsigned long long)(r->got_byte ? hl_h1_parser_body_bytes(&r->parser) : 0));
    req_complete(c, ri, HL_NETERR_REQUEST_TIMEOUT);
    return;
  default:
    HL_UNREACHABLE();
  }
}

/* --- putting requests on connections -------------------------------------------------- */

static void idle_fired(hl_loop *loop, hl_timer *t);

/* req_send puts request |ri| on READY connection |ci|. */
static void req_send(hl_client *c, uint32_t ri, uint32_t ci, bool reused) {
  creq *r = &c->reqs[ri];
  r->state = REQ_ACTIVE;
  r->conn = ci;
  r->reused = reused;
  r->got_byte = false;
  r->got_head = false;
  r->body_len = 0;
  r->t_first = 0;
  c->cc[ci].req = ri;
  if (r->t_queued != 0 && r->t_dequeued == 0) {
    r->t_dequeued = now_ns(c);
  }
  if (reused) {
    c->st.reused++;
  }
  hl_h1_parser_init(&r->parser, &c->o.h1, r->head_request);
  r->t_sent = now_ns(c);
  int rc = hl_conn_send(c->conns, ci, r->iov);
  if (rc != 0) {
    hl_err_set(&r->err, "sending the request failed: the event loop refused: %s",
               strerror(-rc));
    req_fail(c, ri, HL_NETERR_WRITE_ERROR);
    return;
  }
  hl_timer_arm_in(c->loop, &r->phase, r->response_header_timeout_ms, phase_fired);
}

/* conn_park gives a READY connection with no request to the next waiter of
 * its origin, or parks it idle (its receive stays armed: if it turns
 * readable, on_data or on_end closes it). */
static void conn_park(hl_client *c, uint32_t ci) {
  uint32_t origin = hl_pool_conn_origin(&c->pool, ci);
  cconn *k = &c->cc[ci];
  HL_ASSERT(k->req == NONE);
  if (k->served >= c->o.requests_per_conn_max) {
    conn_drop(c, ci);
    return;
  }
  uint32_t ri;
  if (hl_pool_wait_pop(&c->pool, origin, &ri)) {
    req_send(c, ri, ci, k->served > 0);
    return;
  }
  hl_pool_idle_push(&c->pool, ci);
  hl_timer_arm_in(c->loop, &k->idle, c->o.idle_timeout_ms, idle_fired);
}

static void idle_fired(hl_loop *loop, hl_timer *t) {
  (void)loop;
  cconn *k = HL_CONTAINER_OF(t, cconn, idle);
  hl_client *c = k->cl;
  uint32_t ci = (uint32_t)(k - c->cc);
  HL_ASSERT(hl_pool_conn_is_idle(&c->pool, ci));
  c->st.idle_closed_timeout++;
  conn_drop(c, ci);
}

static void open_conn(hl_client *c, uint32_t ri) {
  creq *r = &c->reqs[ri];
  hl_pool_origin *o = req_origin(c, r);
  hl_conn_target t = {
      .addrs = r->addrs,
      .addrs_len = r->naddrs,
      .policy = r->policy,
      .connect_timeout_ms = r->connect_timeout_ms,
      .tls_handshake_timeout_ms = r->tls_handshake_timeout_ms,
  };
  if (o->key.scheme == HL_URL_HTTPS) {
    t.tls = c->o.tls[o->key.tls_profile];
    t.server_name = o->key.host;
    t.sessions = &c->sessions[r->origin];
  }
  uint32_t ci;
  int rc = hl_conn_open(c->conns, &t, &ci, &r->err);
  if (rc != 0) {
    hl_neterr cls = rc == -EACCES   ? HL_NETERR_POLICY_REFUSED
                    : rc == -ENOSPC ? HL_NETERR_CLIENT_BUSY
                                    : HL_NETERR_CONNECT_ERROR;
    req_fail(c, ri, cls);
    return;
  }
  hl_pool_conn_opened(&c->pool, r->origin, ci);
  cconn *k = &c->cc[ci];
  k->req = ri;
  k->served = 0;
  r->conn = ci;
  r->state = REQ_CONNECTING;
  c->st.conns_opened++;
}

/* start_new opens a new connection for |ri| (the caller checked that the
 * limits allow one): resolve, then connect. */
/* resolved continues a new connection once the addresses are known
 * (|status| 0) or the lookup failed (r->err says why). */
static void resolved(hl_client *c, uint32_t ri, int status) {
  creq *r = &c->reqs[ri];
  HL_ASSERT(r->state == REQ_RESOLVING);
  r->t_dns1 = now_ns(c);
  if (status != 0) {
    req_fail(c, ri, status == -ENOENT      ? HL_NETERR_DNS_NXDOMAIN
                    : status == -ETIMEDOUT ? HL_NETERR_DNS_TIMEOUT
                                           : HL_NETERR_DNS_ERROR);
    return;
  }
  if (!hl_pool_can_open(&c->pool, r->origin)) {
    /* Others took the room while we resolved: wait like everyone. */
    req_dispatch(c, ri);
    return;
  }
  open_conn(c, ri);
}

static void start_new(hl_client *c, uint32_t ri) {
  creq *r = &c->reqs[ri];
  r->state = REQ_RESOLVING;
  r->t_dns0 = now_ns(c);
  int rc = resolve_start(c, r);
  if (rc != -EINPROGRESS) {
    resolved(c, ri, rc);
  }
}

/* req_dispatch finds request |ri| a connection: an idle one of its origin,
 * a new one, or a place in its origin's queue. */
static void req_dispatch(hl_client *c, uint32_t ri) {
  creq *r = &c->reqs[ri];
  uint32_t ci;
  if (hl_pool_idle_pop(&c->pool, r->origin, &ci)) {
    hl_timer_cancel(c->loop, &c->cc[ci].idle);
    req_send(c, ri, ci, true);
    return;
  }
  if (!hl_pool_can_open(&c->pool, r->origin) && hl_pool_total_full(&c->pool) &&
      req_origin(c, r)->conns < c->o.conns_per_origin_max && hl_pool_idle_oldest(&c->pool, &ci)) {
    /* Only the total limit is in the way: close the connection idle longest
     * (of another origin) to make room. */
    c->st.idle_closed_for_room++;
    hl_conn_close(c->conns, ci);
    conn_forget(c, ci);
  }
  if (hl_pool_can_open(&c->pool, r->origin)) {
    start_new(c, ri);
    return;
  }
  if (hl_pool_wait_push(&c->pool, r->origin, ri) != 0) {
    hl_err_set(&r->err, "%u requests already wait for a connection to %s "
               "(waiters_per_origin_max)", c->o.waiters_per_origin_max, req_origin(c, r)->key.host);
    req_fail(c, ri, HL_NETERR_POOL_FULL);
    return;
  }
  r->state = REQ_QUEUED;
  if (r->t_queued == 0) {
    r->t_queued = now_ns(c);
  }
  c->st.queued++;
  if (hl_pool_total_full(&c->pool)) {
    hl_pool_blocked_mark(&c->pool, r->origin);
  }
}

/* --- connection events -------------------------------------------------------------- */

static void on_ready(void *ctx, uint32_t ci) {
  hl_client *c = ctx;
  cconn *k = &c->cc[ci];
  uint64_t t_open, t_conn, t_ready;
  hl_conn_times(c->conns, ci, &t_open, &t_conn, &t_ready);
  if (hl_pool_origin_at(&c->pool, hl_pool_conn_origin(&c->pool, ci))->key.scheme ==
      HL_URL_HTTPS) {
    c->st.handshakes++;
    c->st.resumed += hl_conn_resumed(c->conns, ci);
  }
  uint32_t ri = k->req;
  if (ri == NONE) {
    conn_park(c, ci);
    return;
  }
  creq *r = &c->reqs[ri];
  HL_ASSERT(r->state == REQ_CONNECTING && r->conn == ci);
  r->connect_us = us_between(t_open, t_conn);
  r->tls_us = t_ready > t_conn ? us_between(t_conn, t_ready) : 0;
  req_send(c, ri, ci, false);
}

static void on_sent(void *ctx, uint32_t ci) {
  (void)ctx;
  (void)ci;
}

static void keep_body(hl_client *c, uint32_t ri, hl_span b) {
  creq *r = &c->reqs[ri];
  size_t room = c->o.body_bytes_kept - r->body_len;
  size_t n = b.len < room ? b.len : room;
  memcpy(req_body_mem(c, ri) + r->body_len, b.ptr, n);
  r->body_len += (uint32_t)n;
}

/* response_done: request |ri| got its complete response on |ci|. The
 * connection goes back to the pool before the callback runs, so that a
 * request the callback submits can reuse it. */
static void response_done(hl_client *c, uint32_t ri, uint32_t ci, bool extra) {
  creq *r = &c->reqs[ri];
  cconn *k = &c->cc[ci];
  bool reusable = hl_h1_parser_reusable(&r->parser) && !extra;
  r->conn = NONE;
  k->req = NONE;
  k->served++;
  if (reusable && k->served < c->o.requests_per_conn_max) {
    hl_conn_finish(c->conns, ci);
    conn_park(c, ci);
  } else {
    conn_drop(c, ci);
    reusable = false;
  }
  req_complete_ex(c, ri, HL_NETERR_OK, reusable);
}

static void parse_failed(hl_client *c, uint32_t ri) {
  creq *r = &c->reqs[ri];
  hl_h1_error e = hl_h1_parser_error(&r->parser);
  hl_err_set(&r->err, "%s: %s", hl_h1_error_name(e), hl_h1_parser_error_detail(&r->parser));
  req_complete(c, ri, e == HL_H1_ERR_BODY_TOO_LARGE ? HL_NETERR_BODY_TOO_LARGE
                                                    : HL_NETERR_PROTOCOL_ERROR);
}

static void on_data(void *ctx, uint32_t ci, const char *p, size_t n) {
  hl_client *c = ctx;
  cconn *k = &c->cc[ci];
  uint32_t ri = k->req;
  if (ri == NONE) {
    /* An idle connection turned readable: the server is closing it or
     * talking out of turn; either way it cannot carry a request. */
    c->st.idle_closed_readable++;
    conn_drop(c, ci);
    return;
  }
  creq *r = &c->reqs[ri];
  HL_ASSERT(r->state == REQ_ACTIVE);
  if (!r->got_byte) {
    r->got_byte = true;
    r->t_first = now_ns(c);
  }
  for (;;) {
    hl_h1_event ev;
    ptrdiff_t used = hl_h1_parse(&r->parser, p, n, &ev);
    if (used < 0) {
      parse_failed(c, ri);
      return;
    }
    p += used;
    n -= (size_t)used;
    switch (ev.type) {
    case HL_H1_EV_NONE:
      return;
    case HL_H1_EV_HEADERS:
      r->got_head = true;
      hl_timer_cancel(c->loop, &r->phase);
      break;
    case HL_H1_EV_BODY:
      keep_body(c, ri, ev.body);
      break;
    case HL_H1_EV_DONE:
      response_done(c, ri, ci, n > 0);
      return;
    }
  }
}

/* retry_fresh sends |ri| again on a new connection after its reused one
 * failed before any response byte. */
static void retry_fresh(hl_client *c, uint32_t ri) {
  creq *r = &c->reqs[ri];
  r->retried = true;
  c->st.retried++;
  if (hl_pool_can_open(&c->pool, r->origin)) {
    start_new(c, ri);
  } else {
    req_dispatch(c, ri);
  }
}

static void on_end(void *ctx, uint32_t ci, const hl_conn_end *end) {
  hl_client *c = ctx;
  cconn *k = &c->cc[ci];
  uint32_t origin = hl_pool_conn_origin(&c->pool, ci);
  uint32_t ri = k->req;
  if (ri == NONE) {
    if (hl_pool_conn_is_idle(&c->pool, ci)) {
      c->st.idle_closed_readable++;
    }
    conn_gone(c, ci, origin);
    return;
  }
  creq *r = &c->reqs[ri];
  r->conn = NONE; /* the connection module closes it after we return */
  conn_forget(c, ci);
  if (r->state == REQ_CONNECTING) {
    r->err = end->detail;
    req_complete(c, ri, end->cls);
    serve_waiters(c, origin);
    return;
  }
  HL_ASSERT(r->state == REQ_ACTIVE);
  if (end->eof) {
    hl_h1_event ev = {.type = HL_H1_EV_NONE};
    if (hl_h1_parse_eof(&r->parser, &ev) == 0) {
      /* The close ended a body delimited by the close. */
      req_complete(c, ri, HL_NETERR_OK);
      serve_waiters(c, origin);
      return;
    }
  }
  if (!r->got_byte && r->reused && !r->retried) {
    hl_timer_cancel(c->loop, &r->phase);
    retry_fresh(c, ri);
    serve_waiters(c, origin);
    return;
  }
  if (end->eof) {
    hl_err_set(&r->err, "%s: the server closed the connection %s",
               hl_h1_error_name(hl_h1_parser_error(&r->parser)),
               r->got_byte ? "before the response was complete" : "without answering");
    req_complete(c, ri, HL_NETERR_CLOSED_EARLY);
  } else if (end->write_side && !r->got_byte) {
    r->err = end->detail;
    req_complete(c, ri, HL_NETERR_WRITE_ERROR);
  } else {
    r->err = end->detail;
    req_complete(c, ri, end->cls == HL_NETERR_WRITE_ERROR ? HL_NETERR_CLOSED_EARLY : end->cls);
  }
  serve_waiters(c, origin);
}

/* --- public ------------------------------------------------------------------------- */

static void origin_recycled(void *ctx, uint32_t origin) {
  hl_client *c = ctx;
  hl_tls_sessions_clear(&c->sessions[origin]);
}

static size_t client_body_mem_bytes(const hl_client *c) {
  return (size_t)c->slots_total * (c->o.body_bytes_kept > 0 ? c->o.body_bytes_kept : 1);
}

static size_t client_head_mem_bytes(const hl_client *c) {
  return (size_t)c->slots_total * HL_HTTP_REQUEST_HEAD_BYTES_MAX;
}

int hl_client_new(hl_loop *loop, const hl_client_options *o, hl_client **out, hl_err *err) {
  *out = NULL;
  if (o->requests_max == 0 || o->requests_max > HL_CLIENT_REQUESTS_MAX) {
    return hl_err_fail(err, -EINVAL, "client: requests_max must be 1..%u, not %u",
                       HL_CLIENT_REQUESTS_MAX, o->requests_max);
  }
  if (o->dns == NULL) {
    return hl_err_fail(err, -EINVAL, "client: dns (the loop's resolver) is required");
  }
  if (o->body_bytes_kept > HL_HTTP_BODY_BYTES_KEPT) {
    return hl_err_fail(err, -EINVAL, "client: body_bytes_kept must be at most %u, not %u",
                       HL_HTTP_BODY_BYTES_KEPT, o->body_bytes_kept);
  }
  if (o->requests_per_conn_max == 0 || o->idle_timeout_ms == 0 || o->request_timeout_ms == 0 ||
      o->connect_timeout_ms == 0 || o->tls_handshake_timeout_ms == 0 ||
      o->response_header_timeout_ms == 0) {
    return hl_err_fail(err, -EINVAL, "client: requests_per_conn_max and every timeout must be "
                                     "at least 1");
  }
  hl_client *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return hl_err_fail(err, -ENOMEM, "client: out of memory");
  }
  c->loop = loop;
  c->o = *o;
  /* Closing connections keep their slot until the kernel is done with
   * them, so the connection table (and id space) has room beyond
   * conns_max. */
  uint64_t cap = (uint64_t)o->conns_max + o->conns_max / 4 + 16;
  c->conns_cap = cap > HL_LOOP_SLOTS_MAX ? HL_LOOP_SLOTS_MAX : (uint32_t)cap;
  hl_pool_limits pl = {.origins_max = o->origins_max, .conns_max = o->conns_max,
                       .conn_ids_max = c->conns_cap,
                       .conns_per_origin_max = o->conns_per_origin_max,
                       .requests_max = o->requests_max + REQ_SPARE,
                       .waiters_per_origin_max = o->waiters_per_origin_max};
  int rc = hl_pool_init(&c->pool, &pl, origin_recycled, c);
  if (rc != 0) {
    free(c);
    return hl_err_fail(err, rc, "client: bad pool limits (origins_max %u, conns_max %u, "
                       "conns_per_origin_max %u, waiters_per_origin_max %u)", o->origins_max,
                       o->conns_max, o->conns_per_origin_max, o->waiters_per_origin_max);
  }
  c->slots_total = o->requests_max + REQ_SPARE;
  c->reqs = hl_mem_reserve(c->slots_total * sizeof(*c->reqs));
  c->cc = hl_mem_reserve(c->conns_cap * sizeof(*c->cc));
  c->req_free = malloc(c->slots_total * sizeof(*c->req_free));
  c->sessions = calloc(o->origins_max, sizeof(*c->sessions));
  /* Large and touched only as used (base/mem.h). */
  c->body_mem = hl_mem_reserve(client_body_mem_bytes(c));
  c->head_mem = hl_mem_reserve(client_head_mem_bytes(c));
  if (c->reqs == NULL || c->cc == NULL || c->req_free == NULL || c->sessions == NULL ||
      c->body_mem == NULL || c->head_mem == NULL) {
    hl_client_free(c);
    return hl_err_fail(err, -ENOMEM, "client: out of memory for %u requests", o->requests_max);
  }
  hl_conns_options co = {.conns_max = c->conns_cap,
                         .cb = {on_ready, on_sent, on_data, on_end},
                         .ctx = c};
  rc = hl_conns_new(loop, &co, &c->conns, err);
  if (rc != 0) {
    hl_client_free(c);
    return rc;
  }
  for (uint32_t i = 0; i < c->slots_total; i++) {
    c->reqs[i].cl = c;
    c->reqs[i].gen = 1;
    c->req_free[i] = c->slots_total - 1 - i; /* slot 0 first */
  }
  c->req_free_len = c->slots_total;
  for (uint32_t i = 0; i < c->conns_cap; i++) {
    c->cc[i].cl = c;
    c->cc[i].req = NONE;
  }
  *out = c;
  return 0;
}

void hl_client_free(hl_client *c) {
  if (c == NULL) {
    return;
  }
  HL_ASSERT(c->st.in_flight == 0);
  hl_conns_free(c->conns);
  hl_pool_cleanup(&c->pool); /* clears the session stores through origin_recycled */
  hl_mem_release(c->reqs, c->slots_total * sizeof(*c->reqs));
  hl_mem_release(c->cc, c->conns_cap * sizeof(*c->cc));
  free(c->req_free);
  free(c->sessions);
  hl_mem_release(c->body_mem, client_body_mem_bytes(c));
  hl_mem_release(c->head_mem, client_head_mem_bytes(c));
  free(c);
}

static int build_head(hl_client *c, uint32_t ri, const hl_client_request *q, hl_err *err) {
  creq *r = &c->reqs[ri];
  if (q->head.len > 0) {
    r->iov[0] = (struct iovec){(void *)q->head.ptr, q->head.len};
    r->iov[1] = (struct iovec){(void *)q->body.ptr, q->body.len};
    return 0;
  }
  char target_mem[HL_URL_BYTES_MAX];
  hl_buf target;
  hl_buf_init(&target, target_mem, sizeof(target_mem));
  hl_url_request_target(q->url, &target);
  if (!hl_buf_ok(&target)) {
    return hl_err_fail(err, -EINVAL, "url: the request target is longer than %u bytes",
                       HL_URL_BYTES_MAX);
  }
  const hl_origin_key *k = &req_origin(c, r)->key;
  hl_h1_request hr = {
      .method = q->method,
      .host = hl_span_make(k->host, k->host_len),
      .port = q->url->port,
      .tls = q->url->scheme == HL_URL_HTTPS,
      .target = hl_buf_span(&target),
      .headers = q->headers,
      .headers_len = q->headers_len,
      .body = q->body,
  };
  hl_buf head;
  hl_buf_init(&head, c->head_mem + (size_t)ri * HL_HTTP_REQUEST_HEAD_BYTES_MAX,
              HL_HTTP_REQUEST_HEAD_BYTES_MAX);
  return hl_h1_request_write(&hr, &head, r->iov, err);
}

static uint32_t or_default(uint32_t v, uint32_t d) {
  return v != 0 ? v : d;
}

int hl_client_submit(hl_client *c, const hl_client_request *q, hl_client_id *id, hl_err *err) {
  if (q->url == NULL || q->policy == NULL || q->done == NULL ||
      q->tls_profile >= HL_CLIENT_TLS_PROFILES_MAX) {
    return hl_err_fail(err, -EINVAL, "client: a request needs a url, a policy, a done callback "
                                     "and a tls_profile below %u", HL_CLIENT_TLS_PROFILES_MAX);
  }
  if (c->st.in_flight >= c->o.requests_max || c->req_free_len == 0) {
    c->st.busy++;
    return hl_err_fail(err, -EBUSY, "client_busy: all %u request slots are in flight "
                       "(requests_max)", c->o.requests_max);
  }
  hl_origin_key key;
  hl_origin_key_from_url(q->url, q->tls_profile, &key);
  uint32_t origin;
  if (hl_pool_origin_get(&c->pool, &key, &origin) != 0) {
    return hl_err_fail(err, -ENOSPC, "pool_full: all %u origin entries have connections or "
                       "requests (origins_max)", c->o.origins_max);
  }
  uint32_t ri = c->req_free[c->req_free_len - 1];
  creq *r = &c->reqs[ri];
  uint32_t gen = r->gen;
  memset(r, 0, sizeof(*r));
  r->cl = c;
  r->gen = gen;
  r->origin = origin;
  r->conn = NONE;
  int rc = build_head(c, ri, q, err);
  if (rc != 0) {
    hl_pool_origin_put(&c->pool, origin);
    return rc;
  }
  c->req_free_len--;
  c->st.in_flight++;
  c->st.submitted++;
  r->done = q->done;
  r->ctx = q->ctx;
  r->policy = q->policy;
  r->connect_timeout_ms = or_default(q->connect_timeout_ms, c->o.connect_timeout_ms);
  r->tls_handshake_timeout_ms = or_default(q->tls_handshake_timeout_ms,
                                           c->o.tls_handshake_timeout_ms);
  r->response_header_timeout_ms = or_default(q->response_header_timeout_ms,
                                             c->o.response_header_timeout_ms);
  r->t_submit = now_ns(c);
  r->state = REQ_RESOLVING;
  hl_timer_init(&r->deadline);
  hl_timer_init(&r->phase);
  hl_h1_parser_init(&r->parser, &c->o.h1, false);
  hl_timer_arm_in(c->loop, &r->deadline, or_default(q->request_timeout_ms, c->o.request_timeout_ms),
                  deadline_fired);
  if (id != NULL) {
    *id = req_id(c, ri);
  }
  c->in_submit = true;
  if (hl_netpolicy_check_url(q->policy, q->url, q->allow_plain_http, &r->err) != 0) {
    req_fail(c, ri, HL_NETERR_POLICY_REFUSED);
  } else if (key.scheme == HL_URL_HTTPS && c->o.tls[key.tls_profile] == NULL) {
    hl_err_set(&r->err, "https to %s: the client has no TLS context for profile %u", key.host,
               key.tls_profile);
    req_fail(c, ri, HL_NETERR_TLS_HANDSHAKE);
  } else {
    req_dispatch(c, ri);
  }
  c->in_submit = false;
  return 0;
}

bool hl_client_cancel(hl_client *c, hl_client_id id) {
  uint32_t ri = (uint32_t)id;
  uint32_t gen = (uint32_t)(id >> 32);
  if (ri >= c->slots_total) {
    return false;
  }
  creq *r = &c->reqs[ri];
  if (r->gen != gen || r->state == REQ_FREE || r->state == REQ_DONE) {
    return false;
  }
  hl_err_set(&r->err, "the request was canceled (engine shutdown or withdrawal)");
  req_complete(c, ri, HL_NETERR_CANCELED);
  return true;
}

void hl_client_cancel_all(hl_client *c) {
  for (uint32_t ri = 0; ri < c->slots_total; ri++) {
    creq *r = &c->reqs[ri];
    if (r->state != REQ_FREE && r->state != REQ_DONE) {
      hl_client_cancel(c, req_id(c, ri));
    }
  }
  uint32_t ci;
  while (hl_pool_idle_oldest(&c->pool, &ci)) {
    hl_conn_close(c->conns, ci);
    conn_forget(c, ci);
  }
}

void hl_client_stats_get(const hl_client *c, hl_client_stats *out) {
  *out = c->st;
  out->conns_open = c->pool.conns_open;
  out->conns_idle = c->pool.conns_idle;
}
