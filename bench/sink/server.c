/* server: one hookline-sink worker, an owner on an io/loop.
 *
 * Listening sockets take a multishot accept each; every connection takes a
 * multishot receive into the loop's provided buffers and has at most one
 * send in flight. Received bytes go through io/tls for HTTPS (plaintext
 * into the worker's scratch buffer) and then to the connection's request
 * reader (http/h1_request_parse). Bytes are copied only when they must
 * outlive the receive buffer: an incomplete head or requests pipelined
 * behind a held response (`pend`), and the head and body of a request that
 * is verified or recorded (`cap`). Both are allocated on demand and freed
 * when empty, so an idle connection holds neither.
 *
 * A connection's life:
 *   READ --request read--> HOLD (delay timer) --> WRITE --sent--> READ ...
 *                     \--> NEVER (reads and discards until the peer leaves)
 *   any --> CLOSING (TLS: close_notify or an alert being sent) --> DEAD
 * Responses are up to two byte segments (a head, a body) sent from
 * immutable memory (static strings, the config's shared bytes) or from the
 * connection's small head buffer, optionally paced by a timer (slow mode,
 * endless chunks) or repeated (endless). Teardown follows io/loop.h: cancel
 * timers, cancel the fd's ops, close, release the slot; the TLS state and
 * buffers are freed in on_free, once no send can still read them. */
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/clock.h"
#include "http/h1_request_parse.h"
#include "io/loop.h"
#include "text/json_escape.h"
#include "sink.h"

#define PLAIN_BYTES 16384
/* Keep at most this much ciphertext queued before sending. */
#define TLS_OUT_HIGH_BYTES 16384
#define ACCEPT_RETRY_MS 10

enum { OP_ACCEPT, OP_ACCEPT_COUNT };
enum { OP_RECV, OP_SEND, OP_CONN_COUNT };

enum { C_DEAD = 0, C_READ, C_HOLD, C_WRITE, C_NEVER, C_CLOSING };
enum { AFTER_KEEP, AFTER_CLOSE, AFTER_RESET, AFTER_CLOSE_ON_NEXT };
enum { SEND_NONE, SEND_CONTINUE, SEND_SEG, SEND_TLS };
enum { CLOSE_FIN, CLOSE_RST };

static const char k_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char k_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";
static const char k_bad_status[] = "HTTP/1.1 2x0 Bad Status Line\r\nContent-Length: 0\r\n\r\n";
static const char k_partial[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial";

typedef struct conn {
  int fd;
  uint32_t slot;
  uint8_t state;
  uint8_t after;
  uint8_t sending; /* SEND_* in flight */
  uint8_t listener;
  bool tls_on;
  bool close_on_next;
  bool keep_alive;
  bool head_request; /* HEAD: no response body */
  bool route_matched;
  bool repeat;         /* endless: the last segment forever */
  bool pace_bytes;     /* slow: one byte per pace_ms */
  uint8_t seg_n, seg_i;
  uint8_t cont_off; /* bytes of "100 Continue" sent (plain), 0 = none queued */
  bool cont;
  uint32_t seg_off;
  uint32_t pace_ms;
  uint32_t route_index; /* index into by_route */
  const sink_route *route;
  hl_span seg[2];
  hl_tls tls;
  hl_h1_reader reader;
  hl_timer timer;       /* delay and pacing */
  hl_timer rearm_timer; /* re-arming the receive after -ENOBUFS */
  uint64_t id;
  uint64_t seq;
  uint64_t body_bytes;
  char *pend; /* bytes not yet given to the reader */
  uint32_t pend_len;
  char *cap; /* head + captured body, for --verify / --record */
  uint32_t cap_head, cap_len, cap_cap;
  char head[200]; /* a response head built for this request */
  struct sink_worker *w;
} conn;

typedef struct accept_slot {
  hl_timer retry;
  uint32_t index;
  struct sink_worker *w;
} accept_slot;

struct sink_worker {
  const sink_config *cfg;
  uint32_t index;
  int fds[HL_SINK_LISTENERS_MAX];
  accept_slot accepts[HL_SINK_LISTENERS_MAX];
  hl_loop *loop;        /* the worker's own; published under |lock| */
  pthread_mutex_t lock; /* guards loop's publication and stop against sink_worker_stop */
  bool stop;
  uint8_t op_accept, op_conn;
  hl_slots slots;
  conn *conns;
  hl_h1_limits limits;
  hl_h1_field fields[HL_SINK_FIELDS_MAX];
  hl_sign_header sig_headers[HL_SINK_FIELDS_MAX];
  char plain[PLAIN_BYTES];
  double rate_acc[HL_SINK_ROUTES_MAX + 1];
  char *rec;
  size_t rec_cap;
  uint64_t next_conn;
  sink_stats stats;
};

static void pump(conn *c);
static void consume(conn *c, const char *p, size_t n, bool from_pend);
static void tls_drive(conn *c);

static uint64_t ud(conn *c, unsigned kind) {
  return hl_slots_ud(&c->w->slots, (uint8_t)(c->w->op_conn + kind), c->slot);
}

/* --- teardown ------------------------------------------------------------------ */

static void conn_close(conn *c, int how) {
  if (c->state == C_DEAD) {
    return;
  }
  sink_worker *w = c->w;
  if (c->state == C_HOLD || c->state == C_NEVER) {
    SINK_INC(w->stats.wait_out);
  }
  c->state = C_DEAD;
  hl_timer_cancel(w->loop, &c->timer);
  hl_timer_cancel(w->loop, &c->rearm_timer);
  if (how == CLOSE_RST) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  hl_loop_cancel_fd(w->loop, c->fd);
  hl_loop_close(w->loop, HL_UD_NONE, c->fd);
  SINK_INC(w->stats.conns_closed);
  hl_slots_release(&w->slots, c->slot);
}

static void on_free(void *ctx, uint32_t slot) {
  sink_worker *w = ctx;
  conn *c = &w->conns[slot];
  hl_tls_cleanup(&c->tls);
  free(c->pend);
  free(c->cap);
  c->pend = NULL;
  c->cap = NULL;
}

/* close_politely ends a connection after its response: TLS first sends
 * close_notify. */
static void close_politely(conn *c) {
  if (c->tls_on && hl_tls_shutdown(&c->tls) == 0 && hl_tls_out(&c->tls).len > 0) {
    c->state = C_CLOSING;
    pump(c);
    return;
  }
  conn_close(c, CLOSE_FIN);
}

/* --- receiving ------------------------------------------------------------------ */

static void rearm_fire(hl_loop *loop, hl_timer *t);

static void arm_recv(conn *c) {
  hl_loop *loop = c->w->loop;
  if (hl_loop_draining(loop)) {
    return;
  }
  if (hl_loop_bufs_free(loop) == 0 || hl_loop_recv_multishot(loop, ud(c, OP_RECV), c->fd) != 0) {
    hl_timer_arm_in(loop, &c->rearm_timer, 1, rearm_fire);
  }
}

static void rearm_fire(hl_loop *loop, hl_timer *t) {
  (void)loop;
  arm_recv(HL_CONTAINER_OF(t, conn, rearm_timer));
}

static bool pend_append(conn *c, const char *p, size_t n) {
  if (n > HL_SINK_PENDING_BYTES_MAX - c->pend_len) {
    return false;
  }
  if (c->pend == NULL) {
    c->pend = malloc(HL_SINK_PENDING_BYTES_MAX);
    if (c->pend == NULL) {
      return false;
    }
  }
  memmove(c->pend + c->pend_len, p, n);
  c->pend_len += (uint32_t)n;
  return true;
}

/* input takes request bytes (plaintext) in whatever state the connection
 * is in. */
static void input(conn *c, const char *p, size_t n) {
  if (c->state == C_NEVER || c->state == C_CLOSING || c->state == C_DEAD) {
    return;
  }
  if (c->close_on_next) {
    conn_close(c, CLOSE_FIN); /* the next request arrived: the race */
    return;
  }
  if (c->state != C_READ || c->pend_len > 0) {
    if (!pend_append(c, p, n)) {
      conn_close(c, CLOSE_FIN); /* more unread bytes than a head may have */
      return;
    }
    if (c->state == C_READ) {
      consume(c, c->pend, c->pend_len, true);
    }
    return;
  }
  consume(c, p, n, false);
}

static void on_recv(conn *c, const hl_loop_cqe *cq) {
  sink_worker *w = c->w;
  if (cq->buf != NULL) {
    SINK_ADD(w->stats.bytes_in, (uint64_t)cq->res);
    if (c->tls_on) {
      hl_tls_feed(&c->tls, cq->buf, (size_t)cq->res);
      tls_drive(c);
    } else {
      input(c, cq->buf, (size_t)cq->res);
    }
    hl_loop_buf_release(w->loop, cq->buf_id);
  }
  if (cq->more || c->state == C_DEAD) {
    return;
  }
  if (cq->res > 0 || cq->res == -ENOBUFS) {
    arm_recv(c);
    return;
  }
  /* The peer closed or reset the connection. */
  if (c->tls_on && !hl_tls_handshake_done(&c->tls) && c->state != C_CLOSING) {
    SINK_INC(w->stats.tls_failures); /* gave up on the handshake */
  }
  conn_close(c, CLOSE_FIN);
}

/* --- TLS ------------------------------------------------------------------------- */

static void tls_failed(conn *c) {
  SINK_INC(c->w->stats.tls_failures);
  c->state = C_CLOSING; /* send the alert, if any, then close */
  pump(c);
}

static void tls_drive(conn *c) {
  sink_worker *w = c->w;
  if (!hl_tls_handshake_done(&c->tls)) {
    int r = hl_tls_handshake(&c->tls);
    if (r == HL_TLS_FAILED) {
      tls_failed(c);
      return;
    }
    if (r != 0) {
      pump(c); /* a handshake flight to send */
      return;
    }
    SINK_INC(w->stats.tls_handshakes);
    if (hl_tls_session_reused(&c->tls)) {
      SINK_INC(w->stats.tls_resumed);
    }
  }
  for (;;) {
    int r = hl_tls_read(&c->tls, w->plain, sizeof(w->plain));
    if (r > 0) {
      input(c, w->plain, (size_t)r);
      if (c->state == C_DEAD) {
        return;
      }
      continue;
    }
    if (r == HL_TLS_WANT_READ) {
      break;
    }
    if (r == 0 || r == HL_TLS_WANT_WRITE) {
      /* close_notify; or output full while input waits, which only a
       * client reading nothing while sending can cause: give up on it. */
      conn_close(c, CLOSE_FIN);
      return;
    }
    tls_failed(c);
    return;
  }
  pump(c);
}

/* --- sending --------------------------------------------------------------------- */

static void pace_fire(hl_loop *loop, hl_timer *t) {
  (void)loop;
  pump(HL_CONTAINER_OF(t, conn, timer));
}

/* advance moves the response position by |n| bytes (plaintext taken by TLS
 * or bytes sent on a plain socket). */
static void advance(conn *c, size_t n) {
  c->seg_off += (uint32_t)n;
  while (c->seg_i < c->seg_n && c->seg_off == c->seg[c->seg_i].len) {
    c->seg_off = 0;
    c->seg_i++;
    if (c->seg_i == c->seg_n && c->repeat) {
      c->seg_i = (uint8_t)(c->seg_n - 1);
    }
  }
}

static void send_bytes(conn *c, uint8_t kind, const char *p, size_t n) {
  c->sending = kind;
  if (hl_loop_send(c->w->loop, ud(c, OP_SEND), c->fd, p, n, 0) != 0) {
    c->sending = SEND_NONE;
    conn_close(c, CLOSE_FIN);
  }
}

static void response_done(conn *c);

/* pump sends what can be sent now: the 100 Continue, ciphertext, or the
 * next piece of the response. */
static void pump(conn *c) {
  if (c->sending != SEND_NONE || c->state == C_DEAD) {
    return;
  }
  bool writing = c->state == C_WRITE;
  if (c->cont && !c->tls_on) {
    send_bytes(c, SEND_CONTINUE, k_continue + c->cont_off, sizeof(k_continue) - 1 - c->cont_off);
    return;
  }
  if (c->tls_on) {
    while (writing && c->seg_i < c->seg_n && hl_tls_out(&c->tls).len < TLS_OUT_HIGH_BYTES) {
      hl_span s = c->seg[c->seg_i];
      size_t take = c->pace_bytes ? 1 : s.len - c->seg_off;
      int r = hl_tls_write(&c->tls, s.ptr + c->seg_off, take);
      if (r == HL_TLS_WANT_WRITE) {
        break;
      }
      if (r < 0) {
        tls_failed(c);
        return;
      }
      advance(c, (size_t)r);
      if (c->pace_bytes) {
        break;
      }
    }
    hl_span o = hl_tls_out(&c->tls);
    if (o.len > 0) {
      send_bytes(c, SEND_TLS, o.ptr, o.len);
      return;
    }
  } else if (writing && c->seg_i < c->seg_n) {
    hl_span s = c->seg[c->seg_i];
    size_t take = c->pace_bytes ? 1 : s.len - c->seg_off;
    send_bytes(c, SEND_SEG, s.ptr + c->seg_off, take);
    return;
  }
  if (c->state == C_CLOSING) {
    conn_close(c, CLOSE_FIN);
  } else if (writing && c->seg_i == c->seg_n) {
    response_done(c);
  }
}

static void on_sent(conn *c, const hl_loop_cqe *cq) {
  sink_worker *w = c->w;
  uint8_t kind = c->sending;
  c->sending = SEND_NONE;
  if (cq->res <= 0) {
    conn_close(c, CLOSE_FIN); /* the peer went away */
    return;
  }
  SINK_ADD(w->stats.bytes_out, (uint64_t)cq->res);
  if (kind == SEND_CONTINUE) {
    c->cont_off = (uint8_t)(c->cont_off + cq->res);
    if (c->cont_off == sizeof(k_continue) - 1) {
      c->cont = false;
      c->cont_off = 0;
    }
  } else if (kind == SEND_TLS) {
    hl_tls_out_sent(&c->tls, (size_t)cq->res);
  } else {
    advance(c, (size_t)cq->res);
  }
  if (c->pace_ms > 0 && c->state == C_WRITE && c->seg_i < c->seg_n &&
      hl_tls_out(&c->tls).len == 0) {
    hl_timer_arm_in(w->loop, &c->timer, c->pace_ms, pace_fire);
    return;
  }
  pump(c);
}

/* --- requests ------------------------------------------------------------------------ */

static void route_pick(conn *c, hl_span target) {
  const sink_config *cfg = c->w->cfg;
  c->route = &cfg->default_route;
  c->route_index = cfg->routes_n;
  c->route_matched = false;
  uint32_t best = 0;
  for (uint32_t i = 0; i < cfg->routes_n; i++) {
    const sink_route *r = &cfg->routes[i];
    if ((r->listener < 0 || r->listener == c->listener) && r->prefix_len >= best &&
        hl_span_starts_with(target, hl_span_make(r->prefix, r->prefix_len))) {
      best = r->prefix_len;
      c->route = r;
      c->route_index = i;
      c->route_matched = true;
    }
  }
}

static bool capturing(const sink_config *cfg) {
  return cfg->verify || cfg->record_fd >= 0 || cfg->stamp;
}

static void cap_append(conn *c, const char *p, size_t n, size_t limit) {
  if (c->cap_len + n > limit) {
    n = c->cap_len < limit ? limit - c->cap_len : 0;
  }
  if (n == 0) {
    return;
  }
  if (c->cap_len + n > c->cap_cap) {
    size_t want = c->cap_cap * 2 > c->cap_len + n ? c->cap_cap * 2 : c->cap_len + n;
    want = want < limit ? want : limit;
    char *m = realloc(c->cap, want);
    if (m == NULL) {
      return; /* the capture stays short; verification will say so */
    }
    c->cap = m;
    c->cap_cap = (uint32_t)want;
  }
  memcpy(c->cap + c->cap_len, p, n);
  c->cap_len += (uint32_t)n;
}

static void on_head(conn *c, const char *p, size_t len) {
  sink_worker *w = c->w;
  const hl_h1_parsed_request *req = &c->reader.req;
  c->seq++;
  c->body_bytes = 0;
  c->keep_alive = req->keep_alive;
  c->head_request = hl_span_eq_cstr(req->method, "HEAD");
  route_pick(c, req->target);
  SINK_INC(w->stats.requests);
  SINK_INC(w->stats.by_route[c->route_index]);
  if (capturing(w->cfg)) {
    c->cap_len = 0;
    cap_append(c, p, len, len + HL_SINK_CAPTURE_BYTES_MAX);
    c->cap_head = c->cap_len;
  }
  if (req->expect_continue) {
    if (c->tls_on) {
      hl_tls_write(&c->tls, k_continue, sizeof(k_continue) - 1);
    } else {
      c->cont = true;
    }
    pump(c);
  }
}

static void on_body(conn *c, hl_span body) {
  c->body_bytes += body.len;
  if (capturing(c->w->cfg) && c->cap != NULL) {
    cap_append(c, body.ptr, body.len, c->cap_head + HL_SINK_CAPTURE_BYTES_MAX);
  }
}

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 408: return "Request Timeout";
  case 410: return "Gone";
  case 413: return "Content Too Large";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "Status";
  }
}

/* pick_status: the route's status for |rate| of the requests, spread evenly
 * (an accumulator, not a coin: a test can count on the result). */
static int pick_status(conn *c) {
  const sink_route *r = c->route;
  double *acc = &c->w->rate_acc[c->route_index];
  *acc += r->rate;
  if (*acc >= 1.0 - 1e-9) {
    *acc -= 1.0;
    return r->status;
  }
  return 200;
}

static void retry_after(hl_buf *b, const sink_route *r, int status) {
  /* Only with the route's own status: the requests its rate lets through
   * get a plain 200. */
  if (r->retry_after_s < 0 || status != r->status) {
    return;
  }
  hl_buf_put_cstr(b, "Retry-After: ");
  if (!r->retry_after_date) {
    hl_buf_put_u64(b, (uint64_t)r->retry_after_s);
  } else {
    time_t t = (time_t)(hl_clock_wall_ms() / 1000) + (time_t)r->retry_after_s;
    struct tm tm;
    char date[64];
    gmtime_r(&t, &tm);
    size_t n = strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    hl_buf_put(b, date, n);
  }
  hl_buf_put_cstr(b, "\r\n");
}

/* normal_response sets the segments of an ordinary response. */
static void normal_response(conn *c, int status) {
  const sink_config *cfg = c->w->cfg;
  const sink_route *r = c->route;
  bool close = r->close || !c->keep_alive;
  bool no_body = c->head_request || status == 204 || status == 304;
  c->seg_n = 1;
  if (status == 200 && r->body_bytes == 2 && !close && r->retry_after_s < 0 && !no_body) {
    c->seg[0] = HL_SPAN_LIT(k_ok); /* the benchmark path: nothing to build */
  } else {
    hl_buf b;
    hl_buf_init(&b, c->head, sizeof(c->head));
    hl_buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, reason(status));
    if (status != 204 && status != 304) {
      hl_buf_printf(&b, "Content-Length: %u\r\n", r->body_bytes);
    }
    retry_after(&b, r, status);
    if (close) {
      hl_buf_put_cstr(&b, "Connection: close\r\n");
    }
    hl_buf_put_cstr(&b, "\r\n");
    HL_ASSERT(hl_buf_ok(&b));
    c->seg[0] = hl_buf_span(&b);
    if (!no_body && r->body_bytes > 0) {
      c->seg[1] = hl_span_make(cfg->filler, r->body_bytes);
      c->seg_n = 2;
    }
  }
  c->after = close ? AFTER_CLOSE : AFTER_KEEP;
}

static void start_writing(conn *c) {
  c->state = C_WRITE;
  c->seg_i = 0;
  c->seg_off = 0;
  pump(c);
}

static void delay_fire(hl_loop *loop, hl_timer *t) {
  (void)loop;
  conn *c = HL_CONTAINER_OF(t, conn, timer);
  SINK_INC(c->w->stats.wait_out);
  start_writing(c);
}

/* Stamps older than this are not a scheduled send time but a wrong field. */
#define STAMP_AGE_NS_MAX (3600ull * 1000000000u)

/* stamp_record histograms how long ago the request was scheduled: the
 * body's --stamp-path value (Unix ns, a number or a string of digits)
 * against the wall clock now, when the request has been read whole. A body
 * without one, or a time in the future or over an hour old, counts as bad. */
static void stamp_record(sink_worker *w, hl_span body) {
  hl_json_value v;
  uint64_t stamp = 0;
  bool ok = hl_json_lookup(body, &w->cfg->stamp_path, &v) == 0 &&
            (v.type == HL_JSON_NUMBER || v.type == HL_JSON_STRING) &&
            hl_span_parse_u64(v.type == HL_JSON_STRING ? hl_json_string_contents(v.raw) : v.raw,
                              UINT64_MAX, &stamp);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  if (!ok || stamp == 0 || stamp > now || now - stamp > STAMP_AGE_NS_MAX) {
    SINK_INC(w->stats.stamp_bad);
    return;
  }
  SINK_INC(w->stats.stamp_buckets[hl_hist_index((now - stamp) / 1000u)]);
}

/* verify_and_record runs --verify and --record on a request read whole
 * that will be answered with |status| (0: none). */
static void verify_and_record(conn *c, int status) {
  sink_worker *w = c->w;
  const sink_config *cfg = w->cfg;
  if (!capturing(cfg) || c->cap == NULL) {
    return;
  }
  hl_h1_parsed_request req;
  ptrdiff_t n = hl_h1_request_parse(c->cap, c->cap_head, &w->limits, &req, w->fields,
                                    HL_SINK_FIELDS_MAX);
  if (n != (ptrdiff_t)c->cap_head) {
    return; /* the capture was cut short by a failed allocation */
  }
  hl_span body = hl_span_make(c->cap + c->cap_head, c->cap_len - c->cap_head);
  if (cfg->stamp) {
    stamp_record(w, body);
  }
  const char *sig = NULL;
  hl_err err = {{0}};
  bool sig_failed = false;
  if (cfg->verify) {
    for (size_t i = 0; i < req.fields_n; i++) {
      w->sig_headers[i] = (hl_sign_header){req.fields[i].name, req.fields[i].value};
    }
    int rc;
    if (body.len < c->body_bytes) {
      rc = hl_err_fail(&err, -EFBIG, "the body is longer than the capture limit "
                                     "(HL_SINK_CAPTURE_BYTES_MAX), so it was not verified");
    } else {
      rc = hl_signer_verify(&cfg->signer, w->sig_headers, req.fields_n, body,
                            hl_clock_wall_ms() / 1000, cfg->verify_tolerance_s, &err);
    }
    sig = rc == 0 ? "valid" : "invalid";
    sig_failed = rc != 0;
    if (rc == 0) {
      SINK_INC(w->stats.sig_valid);
    } else {
      SINK_INC(w->stats.sig_invalid);
    }
  }
  if (cfg->record_fd >= 0) {
    sink_record_info info = {
        .worker = w->index,
        .conn = c->id,
        .seq = c->seq,
        .listener = c->listener,
        .tls = c->tls_on,
        .req = &req,
        .body = body,
        .body_bytes = c->body_bytes,
        .route = c->route,
        .route_matched = c->route_matched,
        .status = status,
        .sig = sig,
        .sig_error = sig_failed ? err.msg : NULL,
    };
    hl_buf b;
    hl_buf_init(&b, w->rec, w->rec_cap);
    if (sink_record_line(cfg, &info, &b) == 0) {
      ssize_t wr = write(cfg->record_fd, b.ptr, b.len); /* one line, one write */
      (void)wr;
    }
  }
}

/* on_request_end answers a request that has been read whole. */
static void on_request_end(conn *c) {
  sink_worker *w = c->w;
  const sink_route *r = c->route;
  c->pace_ms = 0;
  c->pace_bytes = false;
  c->repeat = false;
  c->seg_n = 0;
  int status = 0;
  switch (r->mode) {
  case SINK_MODE_NORMAL:
  case SINK_MODE_CLOSE_AFTER:
  case SINK_MODE_CLOSE_ON_NEXT:
  case SINK_MODE_SLOW:
    status = pick_status(c);
    normal_response(c, status);
    if (r->mode == SINK_MODE_CLOSE_AFTER) {
      c->after = AFTER_CLOSE;
    } else if (r->mode == SINK_MODE_CLOSE_ON_NEXT && c->after == AFTER_KEEP) {
      c->after = AFTER_CLOSE_ON_NEXT;
    } else if (r->mode == SINK_MODE_SLOW) {
      c->pace_ms = r->slow_ms;
      c->pace_bytes = true;
    }
    break;
  case SINK_MODE_BIG_HEADER:
    status = 200;
    c->seg[0] = hl_span_make(r->fixed, r->fixed_len);
    c->seg_n = 1;
    c->after = c->keep_alive ? AFTER_KEEP : AFTER_CLOSE;
    break;
  case SINK_MODE_ENDLESS:
    status = 200;
    c->seg[0] = hl_span_make(r->fixed, r->fixed_len);
    c->seg[1] = hl_span_make(r->fixed + r->fixed_len - (4096 + 8), 4096 + 8); /* one chunk */
    c->seg_n = 2;
    c->repeat = true;
    c->pace_ms = r->chunk_ms;
    break;
  case SINK_MODE_BAD_STATUS:
    c->seg[0] = HL_SPAN_LIT(k_bad_status);
    c->seg_n = 1;
    c->after = AFTER_CLOSE;
    break;
  case SINK_MODE_RESET:
    c->seg[0] = HL_SPAN_LIT(k_partial);
    c->seg_n = 1;
    c->after = AFTER_RESET;
    break;
  case SINK_MODE_NEVER:
  case SINK_MODE_DROP:
  default:
    break;
  }
  verify_and_record(c, status);
  if (r->mode != SINK_MODE_NORMAL) {
    SINK_INC(w->stats.hostile);
  }
  if (status > 0) {
    SINK_INC(w->stats.responses);
    SINK_INC(w->stats.by_status[status]);
  }
  if (r->mode == SINK_MODE_NEVER) {
    c->state = C_NEVER;
    SINK_INC(w->stats.wait_in);
    return;
  }
  if (r->mode == SINK_MODE_DROP) {
    conn_close(c, CLOSE_FIN);
    return;
  }
  if (r->delay_ms > 0) {
    c->state = C_HOLD;
    SINK_INC(w->stats.wait_in);
    hl_timer_arm_in(w->loop, &c->timer, r->delay_ms, delay_fire);
    return;
  }
  start_writing(c);
}

static void bad_request(conn *c, const char *why) {
  SINK_INC(c->w->stats.parse_errors);
  SINK_INC(c->w->stats.responses);
  SINK_INC(c->w->stats.by_status[400]);
  hl_buf b;
  hl_buf_init(&b, c->head, sizeof(c->head));
  hl_buf_put_cstr(&b, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: ");
  size_t room = hl_buf_room(&b);
  size_t n = strlen(why);
  n = n + 8 < room ? n : (room > 8 ? room - 8 : 0);
  hl_buf_put_u64(&b, n);
  hl_buf_put_cstr(&b, "\r\n\r\n");
  hl_buf_put(&b, why, n);
  c->seg[0] = hl_buf_span(&b);
  c->seg_n = hl_buf_ok(&b) ? 1 : 0;
  c->after = AFTER_CLOSE;
  c->pace_ms = 0;
  c->pace_bytes = false;
  c->repeat = false;
  start_writing(c);
}

static void response_done(conn *c) {
  c->cap_len = 0;
  if (c->cap != NULL && c->cap_cap > 64 * 1024) {
    free(c->cap); /* keep small captures for the next request, not big ones */
    c->cap = NULL;
    c->cap_cap = 0;
  }
  switch (c->after) {
  case AFTER_KEEP:
    c->state = C_READ;
    if (c->pend_len > 0) {
      consume(c, c->pend, c->pend_len, true);
    }
    return;
  case AFTER_CLOSE_ON_NEXT:
    c->state = C_READ;
    c->close_on_next = true;
    if (c->pend_len > 0) {
      conn_close(c, CLOSE_FIN);
    }
    return;
  case AFTER_RESET:
    conn_close(c, CLOSE_RST);
    return;
  default:
    close_politely(c);
    return;
  }
}

/* consume feeds [p, p + n) to the request reader while the connection is
 * reading; what it does not use is kept in pend (|from_pend|: p is pend). */
static void consume(conn *c, const char *p, size_t n, bool from_pend) {
  size_t off = 0;
  while (off < n && c->state == C_READ) {
    hl_h1_read ev;
    ptrdiff_t r = hl_h1_reader_read(&c->reader, p + off, n - off, &ev);
    if (r < 0) {
      bad_request(c, c->reader.error);
      off = n; /* nothing more is read from this connection */
      break;
    }
    if (r == 0 && !ev.head && !ev.end) {
      break; /* an incomplete head */
    }
    if (ev.head) {
      on_head(c, p + off, (size_t)r);
    }
    if (ev.body.len > 0) {
      on_body(c, ev.body);
    }
    off += (size_t)r;
    if (ev.end) {
      on_request_end(c);
    }
  }
  if (c->state == C_DEAD) {
    return;
  }
  if (from_pend) {
    memmove(c->pend, c->pend + off, n - off);
    c->pend_len = (uint32_t)(n - off);
  } else if (off < n && !pend_append(c, p + off, n - off)) {
    conn_close(c, CLOSE_FIN);
    return;
  }
  if (c->pend_len == 0 && c->pend != NULL) {
    free(c->pend);
    c->pend = NULL;
  }
}

/* --- accepting ----------------------------------------------------------------------- */

static void conn_open(sink_worker *w, int fd, uint32_t listener) {
  uint32_t slot;
  if (hl_slots_acquire(&w->slots, &slot) != 0) {
    close(fd);
    SINK_INC(w->stats.conns_refused);
    return;
  }
  const sink_listener *l = &w->cfg->listeners[listener];
  conn *c = &w->conns[slot];
  memset(c, 0, sizeof(*c));
  c->fd = fd;
  c->slot = slot;
  c->w = w;
  c->listener = (uint8_t)listener;
  c->id = (uint64_t)w->index << 40 | ++w->next_conn;
  c->state = C_READ;
  hl_timer_init(&c->timer);
  hl_timer_init(&c->rearm_timer);
  hl_h1_reader_init(&c->reader, &w->limits, w->fields, HL_SINK_FIELDS_MAX);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SINK_INC(w->stats.conns_accepted);
  if (l->tls) {
    hl_err err;
    if (hl_tls_server_init(&c->tls, l->tls_ctx, &err) != 0) {
      conn_close(c, CLOSE_FIN);
      return;
    }
    c->tls_on = true;
  }
  arm_recv(c);
}

static void accept_arm(sink_worker *w, uint32_t i);

static void accept_retry_fire(hl_loop *loop, hl_timer *t) {
  (void)loop;
  accept_slot *a = HL_CONTAINER_OF(t, accept_slot, retry);
  accept_arm(a->w, a->index);
}

static void accept_arm(sink_worker *w, uint32_t i) {
  if (hl_loop_draining(w->loop) || w->fds[i] < 0) {
    return;
  }
  if (hl_loop_accept(w->loop, hl_ud_make(w->op_accept, 0, i), w->fds[i], true) != 0) {
    hl_timer_arm_in(w->loop, &w->accepts[i].retry, ACCEPT_RETRY_MS, accept_retry_fire);
  }
}

static void accept_handler(hl_loop *loop, void *ctx, const hl_loop_cqe *cq) {
  sink_worker *w = ctx;
  (void)loop;
  if (cq->res >= 0) {
    conn_open(w, cq->res, cq->slot);
  }
  if (!cq->more && cq->res != -ECANCELED) {
    if (cq->res < 0) {
      /* EMFILE and friends: try again a little later, not in a hot loop. */
      hl_timer_arm_in(w->loop, &w->accepts[cq->slot].retry, ACCEPT_RETRY_MS, accept_retry_fire);
    } else {
      accept_arm(w, cq->slot);
    }
  }
}

static void conn_handler(hl_loop *loop, void *ctx, const hl_loop_cqe *cq) {
  sink_worker *w = ctx;
  (void)loop;
  conn *c = &w->conns[cq->slot];
  if (cq->kind == OP_RECV) {
    on_recv(c, cq);
  } else {
    on_sent(c, cq);
  }
}

/* --- the worker ---------------------------------------------------------------------- */

int sink_worker_new(const sink_config *cfg, uint32_t index, const int *fds, sink_worker **out) {
  sink_worker *w = calloc(1, sizeof(*w));
  if (w == NULL) {
    return -ENOMEM;
  }
  w->cfg = cfg;
  w->index = index;
  pthread_mutex_init(&w->lock, NULL);
  for (uint32_t i = 0; i < HL_SINK_LISTENERS_MAX; i++) {
    w->fds[i] = i < cfg->listeners_n ? fds[i] : -1;
    w->accepts[i] = (accept_slot){.index = i, .w = w};
    hl_timer_init(&w->accepts[i].retry);
  }
  w->limits = hl_h1_limits_default();
  w->limits.status_line_bytes_max = HL_SINK_REQUEST_LINE_BYTES_MAX;
  w->limits.header_bytes_max = HL_SINK_HEADER_BYTES_MAX;
  w->limits.headers_max = HL_SINK_FIELDS_MAX;
  w->limits.body_bytes_discard_max = HL_SINK_BODY_BYTES_MAX;
  w->conns = calloc(cfg->conns_per_worker, sizeof(conn));
  int rc = w->conns != NULL ? hl_slots_init(&w->slots, cfg->conns_per_worker, on_free, w) : -ENOMEM;
  if (rc == 0 && cfg->record_fd >= 0) {
    /* Every recorded byte may grow sixfold when escaped. */
    size_t raw = (size_t)cfg->record_body_bytes + HL_SINK_PENDING_BYTES_MAX;
    w->rec_cap = HL_JSON_ESCAPE_GROWTH_MAX * raw + 4096;
    w->rec = malloc(w->rec_cap);
    rc = w->rec != NULL ? 0 : -ENOMEM;
  }
  if (rc != 0) {
    sink_worker_free(w);
    return rc;
  }
  *out = w;
  return 0;
}

void sink_worker_free(sink_worker *w) {
  if (w == NULL) {
    return;
  }
  for (uint32_t i = 0; i < HL_SINK_LISTENERS_MAX; i++) {
    if (w->fds[i] >= 0) {
      close(w->fds[i]);
    }
  }
  hl_slots_cleanup(&w->slots);
  free(w->conns);
  free(w->rec);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

const sink_stats *sink_worker_stats(const sink_worker *w) {
  return &w->stats;
}

void sink_worker_stop(sink_worker *w) {
  pthread_mutex_lock(&w->lock);
  w->stop = true;
  if (w->loop != NULL) {
    hl_loop_stop(w->loop);
  }
  pthread_mutex_unlock(&w->lock);
}

static void shutdown_all(sink_worker *w) {
  for (uint32_t i = 0; i < w->cfg->listeners_n; i++) {
    hl_timer_cancel(w->loop, &w->accepts[i].retry);
    hl_loop_cancel_fd(w->loop, w->fds[i]);
  }
  for (uint32_t s = 0; s < w->cfg->conns_per_worker; s++) {
    if (hl_slots_state(&w->slots, s) == HL_SLOT_LIVE) {
      conn_close(&w->conns[s], CLOSE_FIN);
    }
  }
  hl_loop_drain(w->loop, HL_LOOP_DRAIN_TIMEOUT_MS);
}

int sink_worker_run(sink_worker *w) {
  hl_loop_options o = hl_loop_options_default();
  o.recv_bufs = w->cfg->recv_bufs;
  hl_err err;
  hl_loop *loop = NULL;
  int rc = hl_loop_new(&o, &loop, &err);
  if (rc != 0) {
    fprintf(stderr, "hookline-sink: worker %u: %s\n", w->index, err.msg);
    return rc;
  }
  pthread_mutex_lock(&w->lock);
  w->loop = loop;
  bool stop = w->stop;
  pthread_mutex_unlock(&w->lock);
  rc = hl_loop_register_ops(loop, &(hl_loop_ops){"sink_accept", OP_ACCEPT_COUNT, accept_handler,
                                                 w, NULL},
                            &w->op_accept);
  if (rc == 0) {
    rc = hl_loop_register_ops(loop, &(hl_loop_ops){"sink_conn", OP_CONN_COUNT, conn_handler, w,
                                                   &w->slots},
                              &w->op_conn);
  }
  if (rc == 0 && !stop) {
    for (uint32_t i = 0; i < w->cfg->listeners_n; i++) {
      accept_arm(w, i);
    }
    rc = hl_loop_run(loop);
  }
  shutdown_all(w);
  pthread_mutex_lock(&w->lock);
  w->loop = NULL;
  pthread_mutex_unlock(&w->lock);
  hl_loop_free(loop);
  return rc;
}
