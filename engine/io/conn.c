/* conn: outgoing connections on the io_uring loop (see conn.h). */
#include "io/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/buf.h"
#include "io/tls.h"

enum { OP_CONNECT, OP_SEND, OP_RECV, OP_COUNT };

/* Received buffers a TLS connection may hold while its output drains. */
#define CONN_HELD_MAX 4

typedef struct conn {
  hl_tls tls; /* zeroed for plain TCP */
  int fd;
  uint8_t state;      /* hl_conn_state; written only by conn_transition */
  bool timed_out;     /* the deadline fired while a connect was in flight */
  bool sending;       /* one send in flight at most */
  bool in_callback;   /* an owner callback is running for this conn */
  bool is_tls;
  bool req_pending;   /* a request is being written (plaintext or ciphertext left) */
  bool hs_want_write; /* the handshake waits for the output buffer to drain */
  /* Received buffers TLS has not finished with: held[0] is fed (TLS wants
   * to write before it reads on), the rest wait their turn. */
  uint8_t held_n;
  struct {
    char *ptr;
    uint32_t len;
    uint16_t id;
  } held[CONN_HELD_MAX];
  uint32_t addr_i;    /* address being tried */
  hl_conn_target t;   /* while connecting and handshaking */
  hl_neterr last_cls; /* the last address's failure, reported if none is left */
  int last_errno;
  struct msghdr msg;
  struct iovec iov[2];
  uint64_t t_open, t_connected, t_ready; /* loop clock, ns */
  hl_timer deadline; /* connect or handshake */
  hl_timer rearm;    /* multishot receive re-arm when buffers ran out */
  struct hl_conns *m;
} conn;

struct hl_conns {
  hl_loop *loop;
  hl_slots slots;
  uint8_t op;
  hl_conn_callbacks cb;
  void *ctx;
  conn *c;
  hl_err scratch_err;
  hl_conns_stats st;
  /* Plaintext out of TLS, and a request gathered into one record: used
   * within one call, so one per loop is enough. */
  char plain[HL_RECV_BUF_BYTES];
  char gather[16384];
};

/* --- names and the transition table ----------------------------------------------- */

static const char *const neterr_names[HL_NETERR_COUNT_] = {
    [HL_NETERR_OK] = "ok",
    [HL_NETERR_DNS_NXDOMAIN] = "dns_nxdomain",
    [HL_NETERR_DNS_TIMEOUT] = "dns_timeout",
    [HL_NETERR_DNS_ERROR] = "dns_error",
    [HL_NETERR_POLICY_REFUSED] = "policy_refused",
    [HL_NETERR_CONNECT_REFUSED] = "connect_refused",
    [HL_NETERR_CONNECT_TIMEOUT] = "connect_timeout",
    [HL_NETERR_CONNECT_ERROR] = "connect_error",
    [HL_NETERR_TLS_CERTIFICATE] = "tls_certificate",
    [HL_NETERR_TLS_HANDSHAKE] = "tls_handshake",
    [HL_NETERR_TLS_ALERT] = "tls_alert",
    [HL_NETERR_TLS_TIMEOUT] = "tls_timeout",
    [HL_NETERR_WRITE_ERROR] = "write_error",
    [HL_NETERR_RESPONSE_TIMEOUT] = "response_timeout",
    [HL_NETERR_REQUEST_TIMEOUT] = "request_timeout",
    [HL_NETERR_PROTOCOL_ERROR] = "protocol_error",
    [HL_NETERR_BODY_TOO_LARGE] = "body_too_large",
    [HL_NETERR_CLOSED_EARLY] = "closed_early",
    [HL_NETERR_POOL_FULL] = "pool_full",
    [HL_NETERR_CLIENT_BUSY] = "client_busy",
    [HL_NETERR_CANCELED] = "canceled",
};

const char *hl_neterr_name(hl_neterr e) {
  return (unsigned)e < HL_NETERR_COUNT_ ? neterr_names[e] : "unknown";
}

static const char *const state_names[HL_CONN_STATE_COUNT_] = {
    "free", "connecting", "handshake", "ready", "busy", "closed",
};

const char *hl_conn_state_name(hl_conn_state s) {
  return (unsigned)s < HL_CONN_STATE_COUNT_ ? state_names[s] : "unknown";
}

#define X HL_CONN_STATE_COUNT_
/* next[state][event]; X = illegal. */
static const uint8_t next_state[HL_CONN_STATE_COUNT_][HL_CONN_EVENT_COUNT_] = {
    /*                  OPEN             NEXT_ADDR        CONNECTED        CONNECTED_PLAIN HANDSHAKEN     START          FINISH          CLOSE           FREED */
    [HL_CONN_FREE] = {HL_CONN_CONNECTING, X, X, X, X, X, X, X, X},
    [HL_CONN_CONNECTING] = {X, HL_CONN_CONNECTING, HL_CONN_HANDSHAKE, HL_CONN_READY, X, X, X,
                            HL_CONN_CLOSED, X},
    [HL_CONN_HANDSHAKE] = {X, X, X, X, HL_CONN_READY, X, X, HL_CONN_CLOSED, X},
    [HL_CONN_READY] = {X, X, X, X, X, HL_CONN_BUSY, X, HL_CONN_CLOSED, X},
    [HL_CONN_BUSY] = {X, X, X, X, X, X, HL_CONN_READY, HL_CONN_CLOSED, X},
    [HL_CONN_CLOSED] = {X, X, X, X, X, X, X, X, HL_CONN_FREE},
};
#undef X

hl_conn_state hl_conn_next(hl_conn_state s, hl_conn_event e) {
  if ((unsigned)s >= HL_CONN_STATE_COUNT_ || (unsigned)e >= HL_CONN_EVENT_COUNT_) {
    return HL_CONN_STATE_COUNT_;
  }
  return (hl_conn_state)next_state[s][e];
}

/* conn_transition is the only writer of c->state. */
static void conn_transition(conn *c, hl_conn_event e) {
  hl_conn_state n = hl_conn_next((hl_conn_state)c->state, e);
  HL_ASSERT(n != HL_CONN_STATE_COUNT_);
  c->state = (uint8_t)n;
}

/* --- helpers ----------------------------------------------------------------- */

static uint32_t conn_id(const hl_conns *m, const conn *c) {
  return (uint32_t)(c - m->c);
}

static uint64_t conn_ud(hl_conns *m, conn *c, unsigned kind) {
  return hl_slots_ud(&m->slots, (uint8_t)(m->op + kind), conn_id(m, c));
}

static socklen_t addr_len(const struct sockaddr_storage *a) {
  return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* addr_text writes "1.2.3.4:443" or "[::1]:443". */
static void addr_text(const struct sockaddr_storage *a, hl_buf *out) {
  char ip[INET6_ADDRSTRLEN];
  uint16_t port;
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
    port = ntohs(s6->sin6_port);
    hl_buf_printf(out, "[%s]:%u", ip, port);
  } else {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    port = ntohs(s4->sin_port);
    hl_buf_printf(out, "%s:%u", ip, port);
  }
}

static void conn_free_slot(void *ctx, uint32_t slot) {
  hl_conns *m = ctx;
  conn *c = &m->c[slot];
  /* Only now: an in-flight send may have been reading TLS's output buffer
   * until its final completion. */
  hl_tls_cleanup(&c->tls);
  memset(&c->tls, 0, sizeof(c->tls));
  conn_transition(c, HL_CONN_EV_FREED);
}

/* conn_teardown closes in the loop's order: timers, the fd's ops, the fd,
 * the slot. The slot (and so the send buffers the kernel may still read)
 * is reused only once the last completion is in. */
static void conn_teardown(hl_conns *m, conn *c) {
  conn_transition(c, HL_CONN_EV_CLOSE);
  hl_timer_cancel(m->loop, &c->deadline);
  hl_timer_cancel(m->loop, &c->rearm);
  for (uint8_t i = 0; i < c->held_n; i++) {
    hl_loop_buf_release(m->loop, c->held[i].id);
  }
  c->held_n = 0;
  if (c->is_tls) {
    /* The origin's store may be recycled before the slot is freed. */
    hl_tls_set_sessions(&c->tls, NULL);
  }
  if (c->fd >= 0) {
    (void)hl_loop_cancel_fd(m->loop, c->fd);
    (void)hl_loop_close(m->loop, HL_UD_NONE, c->fd);
    c->fd = -1;
  }
  m->st.closed++;
  m->st.live--;
  hl_slots_release(&m->slots, conn_id(m, c));
}

/* conn_end tells the owner and closes. */
static void conn_end(hl_conns *m, conn *c, hl_neterr cls, int sys_errno, bool eof,
                     bool write_side, const hl_err *detail) {
  hl_conn_end end = {.cls = cls, .sys_errno = sys_errno, .eof = eof, .write_side = write_side};
  if (detail != NULL) {
    end.detail = *detail;
  }
  c->in_callback = true;
  m->cb.on_end(m->ctx, conn_id(m, c), &end);
  c->in_callback = false;
  conn_teardown(m, c);
}

static hl_neterr connect_class(int res, bool timed_out) {
  if (timed_out) {
    return HL_NETERR_CONNECT_TIMEOUT;
  }
  if (res == -ECONNREFUSED) {
    return HL_NETERR_CONNECT_REFUSED;
  }
  if (res == -ETIMEDOUT) {
    return HL_NETERR_CONNECT_TIMEOUT;
  }
  return HL_NETERR_CONNECT_ERROR;
}

static void conn_fail_detail(hl_conns *m, conn *c, hl_err *err) {
  char text[80];
  hl_buf b;
  hl_buf_init(&b, text, sizeof(text));
  addr_text(&c->t.addrs[c->addr_i], &b);
  const char *a = hl_buf_cstr(&b);
  (void)m;
  switch (c->last_cls) {
  case HL_NETERR_CONNECT_TIMEOUT:
    hl_err_set(err, "connect to %s: no answer within connect_timeout_ms (%u ms)", a,
               c->t.connect_timeout_ms);
    break;
  case HL_NETERR_CONNECT_REFUSED:
    hl_err_set(err, "connect to %s: refused (nothing listens on that port)", a);
    break;
  default:
    hl_err_set(err, "connect to %s: %s", a, strerror(c->last_errno));
    break;
  }
}

/* --- connecting ------------------------------------------------------------------ */

static void deadline_fired(hl_loop *loop, hl_timer *t);

/* try_connect starts a connect to the next address the policy allows.
 * Returns 0 (a connect is in flight) or -1 when no address is left, with
 * |err| describing the last failure. */
static int try_connect(hl_conns *m, conn *c, hl_err *err) {
  for (; c->addr_i < c->t.addrs_len; c->addr_i++) {
    const struct sockaddr_storage *a = &c->t.addrs[c->addr_i];
    if (c->t.policy != NULL &&
        hl_netpolicy_check_addr(c->t.policy, (const struct sockaddr *)a, err) != 0) {
      m->st.policy_refused++;
      c->last_cls = HL_NETERR_POLICY_REFUSED;
      continue;
    }
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      c->last_cls = HL_NETERR_CONNECT_ERROR;
      c->last_errno = errno;
      hl_err_set(err, "socket: %s", strerror(errno));
      continue;
    }
    /* Requests are small and latency matters more than segment count. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = hl_loop_connect(m->loop, conn_ud(m, c, OP_CONNECT), fd, (const struct sockaddr *)a,
                            addr_len(a), 0);
    if (r != 0) {
      close(fd);
      c->last_cls = HL_NETERR_CONNECT_ERROR;
      c->last_errno = -r;
      hl_err_set(err, "connect: the event loop refused the submission: %s", strerror(-r));
      continue;
    }
    c->fd = fd;
    c->timed_out = false;
    m->st.connects++;
    if (c->t.connect_timeout_ms > 0) {
      hl_timer_arm_in(m->loop, &c->deadline, c->t.connect_timeout_ms, deadline_fired);
    }
    return 0;
  }
  return -1;
}

static void recv_arm(hl_conns *m, conn *c);

static void rearm_fired(hl_loop *loop, hl_timer *t) {
  (void)loop;
  conn *c = HL_CONTAINER_OF(t, conn, rearm);
  recv_arm(c->m, c);
}

static void recv_arm(hl_conns *m, conn *c) {
  if (hl_loop_bufs_free(m->loop) == 0) {
    hl_timer_arm_in(m->loop, &c->rearm, 1, rearm_fired);
    return;
  }
  int r = hl_loop_recv_multishot(m->loop, conn_ud(m, c, OP_RECV), c->fd);
  if (r != 0) {
    /* -EBUSY: the SQ is backed up; try again shortly rather than lose the
     * connection. Anything else is a broken loop. */
    HL_ASSERT(r == -EBUSY);
    hl_timer_arm_in(m->loop, &c->rearm, 1, rearm_fired);
    return;
  }
  m->st.recv_rearms++;
}

/* --- TLS ------------------------------------------------------------------------- */

static hl_neterr tls_class(const hl_tls *t) {
  switch (hl_tls_failure(t)) {
  case HL_TLS_FAIL_CERTIFICATE:
    return HL_NETERR_TLS_CERTIFICATE;
  case HL_TLS_FAIL_ALERT:
    return HL_NETERR_TLS_ALERT;
  case HL_TLS_FAIL_CLOSED:
    return HL_NETERR_CLOSED_EARLY;
  default:
    return HL_NETERR_TLS_HANDSHAKE;
  }
}

static void tls_failed(hl_conns *m, conn *c) {
  hl_err e;
  hl_tls_describe(&c->tls, &e);
  hl_neterr cls = tls_class(&c->tls);
  conn_end(m, c, cls, 0, cls == HL_NETERR_CLOSED_EARLY, false, &e);
}

/* flush_raw sends the pending ciphertext unless a send is already in
 * flight (one send per socket: the next one starts from on_send). Returns
 * 0 or the loop's error. */
static int flush_raw(hl_conns *m, conn *c) {
  hl_span out = hl_tls_out(&c->tls);
  if (c->sending || out.len == 0) {
    return 0;
  }
  int r = hl_loop_send(m->loop, conn_ud(m, c, OP_SEND), c->fd, out.ptr, out.len, 0);
  if (r == 0) {
    m->st.sends++;
    c->sending = true;
  }
  return r;
}

/* flush is flush_raw from a completion: a failure ends the connection. */
static int flush(hl_conns *m, conn *c) {
  int r = flush_raw(m, c);
  if (r != 0) {
    hl_err e;
    hl_err_set(&e, "sending on the TLS connection failed: the event loop refused: %s",
               strerror(-r));
    conn_end(m, c, HL_NETERR_WRITE_ERROR, -r, false, true, &e);
    return -1;
  }
  return 0;
}

static void became_ready(hl_conns *m, conn *c) {
  c->t_ready = hl_loop_now_ns(m->loop);
  m->cb.on_ready(m->ctx, conn_id(m, c));
}

/* drive_handshake advances the handshake; returns false if the connection
 * ended. */
static bool drive_handshake(hl_conns *m, conn *c) {
  int r = hl_tls_handshake(&c->tls);
  if (r == HL_TLS_FAILED) {
    tls_failed(m, c);
    return false;
  }
  c->hs_want_write = r == HL_TLS_WANT_WRITE;
  if (flush(m, c) != 0) {
    return false;
  }
  if (r == 0) {
    hl_timer_cancel(m->loop, &c->deadline);
    m->st.handshakes++;
    m->st.resumed += hl_tls_session_reused(&c->tls);
    conn_transition(c, HL_CONN_EV_HANDSHAKEN);
    uint32_t id = conn_id(m, c);
    uint32_t gen = hl_slots_gen(&m->slots, id);
    became_ready(m, c);
    return hl_slots_gen(&m->slots, id) == gen && c->state != HL_CONN_CLOSED;
  }
  return true;
}

/* pump_request encrypts what is left of the request into TLS's output
 * buffer and sends it. A request that fits in one record is gathered into
 * one write, so head and body share a record (and usually one send).
 * Returns 0, HL_TLS_FAILED, or the loop's error; it never ends the
 * connection itself (hl_conn_send must not call back). */
static int pump_request(hl_conns *m, conn *c) {
  size_t total = c->iov[0].iov_len + c->iov[1].iov_len;
  if (total <= sizeof(m->gather) && c->iov[0].iov_len > 0 && c->iov[1].iov_len > 0) {
    memcpy(m->gather, c->iov[0].iov_base, c->iov[0].iov_len);
    memcpy(m->gather + c->iov[0].iov_len, c->iov[1].iov_base, c->iov[1].iov_len);
    int r = hl_tls_write(&c->tls, m->gather, total);
    if (r == HL_TLS_FAILED) {
      return r;
    }
    size_t n = r > 0 ? (size_t)r : 0;
    for (int i = 0; i < 2; i++) {
      size_t k = n < c->iov[i].iov_len ? n : c->iov[i].iov_len;
      c->iov[i].iov_base = (char *)c->iov[i].iov_base + k;
      c->iov[i].iov_len -= k;
      n -= k;
    }
  }
  for (int i = 0; i < 2; i++) {
    while (c->iov[i].iov_len > 0) {
      int r = hl_tls_write(&c->tls, c->iov[i].iov_base, c->iov[i].iov_len);
      if (r == HL_TLS_FAILED) {
        return r;
      }
      if (r < 0) {
        return flush_raw(m, c); /* WANT_WRITE: output full; on_send resumes */
      }
      c->iov[i].iov_base = (char *)c->iov[i].iov_base + r;
      c->iov[i].iov_len -= (size_t)r;
    }
  }
  return flush_raw(m, c);
}

/* pump_or_end runs pump_request from a completion, ending the connection
 * on failure. Returns false if it ended. */
static bool pump_or_end(hl_conns *m, conn *c) {
  int r = pump_request(m, c);
  if (r == 0) {
    return true;
  }
  if (r == HL_TLS_FAILED) {
    tls_failed(m, c);
    return false;
  }
  hl_err e;
  hl_err_set(&e, "sending the request failed: the event loop refused: %s", strerror(-r));
  conn_end(m, c, HL_NETERR_WRITE_ERROR, -r, false, true, &e);
  return false;
}

/* read_plain decrypts and delivers everything the fed bytes hold. Returns
 * false if the connection ended. TLS may still hold fed bytes
 * (it wants to write first). */
static bool read_plain(hl_conns *m, conn *c) {
  for (;;) {
    int r = hl_tls_read(&c->tls, m->plain, sizeof(m->plain));
    if (r > 0) {
      if (c->state == HL_CONN_HANDSHAKE) {
        HL_UNREACHABLE(); /* read only after the handshake */
      }
      uint32_t id = conn_id(m, c);
      uint32_t gen = hl_slots_gen(&m->slots, id);
      c->in_callback = true;
      m->cb.on_data(m->ctx, id, m->plain, (size_t)r);
      c->in_callback = false;
      if (hl_slots_gen(&m->slots, id) != gen || c->state == HL_CONN_CLOSED) {
        return false;
      }
      continue;
    }
    if (r == 0) {
      hl_err e;
      hl_err_set(&e, "the server closed the TLS connection (close_notify)");
      conn_end(m, c, HL_NETERR_CLOSED_EARLY, 0, true, false, &e);
      return false;
    }
    if (r == HL_TLS_FAILED) {
      tls_failed(m, c);
      return false;
    }
    if (flush(m, c) != 0) {
      return false;
    }
    return true; /* WANT_READ: all fed bytes taken; WANT_WRITE: wait for the send */
  }
}

/* tls_input handles ciphertext that arrived (or the end of the stream when
 * |eof|). Returns false if the connection ended. */
static bool tls_input(hl_conns *m, conn *c) {
  if (c->state == HL_CONN_HANDSHAKE) {
    if (!drive_handshake(m, c)) {
      return false;
    }
    if (c->state == HL_CONN_HANDSHAKE) {
      return true;
    }
  }
  return read_plain(m, c);
}

static void on_connect(hl_conns *m, conn *c, int res) {
  hl_timer_cancel(m->loop, &c->deadline);
  if (res < 0) {
    c->last_cls = connect_class(res, c->timed_out);
    c->last_errno = -res;
    conn_fail_detail(m, c, &m->scratch_err);
    (void)hl_loop_close(m->loop, HL_UD_NONE, c->fd);
    c->fd = -1;
    c->addr_i++;
    conn_transition(c, HL_CONN_EV_NEXT_ADDR);
    if (try_connect(m, c, &m->scratch_err) != 0) {
      hl_err e = m->scratch_err;
      conn_end(m, c, c->last_cls, c->last_errno, false, false, &e);
    }
    return;
  }
  m->st.connected++;
  c->t_connected = hl_loop_now_ns(m->loop);
  recv_arm(m, c);
  if (!c->is_tls) {
    conn_transition(c, HL_CONN_EV_CONNECTED_PLAIN);
    became_ready(m, c);
    return;
  }
  conn_transition(c, HL_CONN_EV_CONNECTED);
  hl_err e;
  int r = hl_tls_client_init(&c->tls, c->t.tls, hl_span_cstr(c->t.server_name), c->t.sessions,
                             &e);
  if (r != 0) {
    conn_end(m, c, HL_NETERR_TLS_HANDSHAKE, -r, false, false, &e);
    return;
  }
  if (c->t.tls_handshake_timeout_ms > 0) {
    hl_timer_arm_in(m->loop, &c->deadline, c->t.tls_handshake_timeout_ms, deadline_fired);
  }
  (void)drive_handshake(m, c);
}

static void deadline_fired(hl_loop *loop, hl_timer *t) {
  (void)loop;
  conn *c = HL_CONTAINER_OF(t, conn, deadline);
  hl_conns *m = c->m;
  if (c->state == HL_CONN_CONNECTING) {
    /* The connect's -ECANCELED completion reports it as a timeout. */
    c->timed_out = true;
    (void)hl_loop_cancel(m->loop, conn_ud(m, c, OP_CONNECT));
    return;
  }
  HL_ASSERT(c->state == HL_CONN_HANDSHAKE);
  hl_err e;
  hl_err_set(&e, "TLS handshake with %s did not finish within tls_handshake_timeout_ms (%u ms)",
             c->t.server_name != NULL ? c->t.server_name : "the server",
             c->t.tls_handshake_timeout_ms);
  conn_end(m, c, HL_NETERR_TLS_TIMEOUT, 0, false, false, &e);
}

/* --- receiving and sending ---------------------------------------------------------- */

/* deliver hands plaintext to the owner; returns false if the owner closed
 * the connection from inside the callback. */
static bool deliver(hl_conns *m, conn *c, const char *p, size_t n) {
  uint32_t id = conn_id(m, c);
  uint32_t gen = hl_slots_gen(&m->slots, id);
  c->in_callback = true;
  m->cb.on_data(m->ctx, id, p, n);
  c->in_callback = false;
  return hl_slots_gen(&m->slots, id) == gen && c->state != HL_CONN_CLOSED &&
         c->state != HL_CONN_FREE;
}

static void on_eof(hl_conns *m, conn *c, int res) {
  hl_err e;
  if (c->is_tls && res == 0) {
    hl_tls_feed_eof(&c->tls);
    if (!tls_input(m, c)) {
      return;
    }
    /* TLS saw nothing wrong but the stream is over. */
  }
  if (c->is_tls && c->state == HL_CONN_HANDSHAKE) {
    hl_err_set(&e, "tls_handshake: the server closed the connection during the handshake%s%s",
               res < 0 ? ": " : "", res < 0 ? strerror(-res) : "");
    conn_end(m, c, HL_NETERR_TLS_HANDSHAKE, -res, res == 0, false, &e);
    return;
  }
  if (res == 0) {
    hl_err_set(&e, "the server closed the connection");
    conn_end(m, c, HL_NETERR_CLOSED_EARLY, 0, true, false, &e);
  } else {
    hl_err_set(&e, "receive failed: %s", strerror(-res));
    conn_end(m, c, HL_NETERR_CLOSED_EARLY, -res, false, false, &e);
  }
}

/* held_drain feeds TLS the held buffers in order, starting with held[0]
 * (already fed when |first_fed|), releasing each once TLS has taken all of
 * it. Stops, keeping the rest, while TLS still wants to write first.
 * Returns false if the connection ended. */
static bool held_drain(hl_conns *m, conn *c, bool first_fed) {
  while (c->held_n > 0) {
    if (!first_fed) {
      hl_tls_feed(&c->tls, c->held[0].ptr, c->held[0].len);
    }
    first_fed = false;
    if (!tls_input(m, c)) {
      return false;
    }
    if (hl_tls_in_pending(&c->tls) > 0) {
      return true;
    }
    hl_loop_buf_release(m->loop, c->held[0].id);
    memmove(&c->held[0], &c->held[1], (size_t)(c->held_n - 1) * sizeof(c->held[0]));
    c->held_n--;
  }
  return true;
}

static void on_recv(hl_conns *m, conn *c, const hl_loop_cqe *cq) {
  if (cq->buf != NULL) {
    bool alive = true;
    if (c->is_tls && c->held_n > 0) {
      /* TLS is still on an earlier buffer: this one waits its turn. */
      if (c->held_n == CONN_HELD_MAX) {
        hl_loop_buf_release(m->loop, cq->buf_id);
        hl_err e;
        hl_err_set(&e, "the server sent more than %u receive buffers while the TLS connection "
                   "could not write", CONN_HELD_MAX);
        conn_end(m, c, HL_NETERR_PROTOCOL_ERROR, 0, false, false, &e);
        return;
      }
      c->held[c->held_n].ptr = cq->buf;
      c->held[c->held_n].len = (uint32_t)cq->res;
      c->held[c->held_n].id = cq->buf_id;
      c->held_n++;
    } else if (c->is_tls) {
      hl_tls_feed(&c->tls, cq->buf, (size_t)cq->res);
      alive = tls_input(m, c);
      if (alive && hl_tls_in_pending(&c->tls) > 0) {
        /* TLS wants to write before it reads on: keep the buffer until the
         * send completes (feeds must stay in order). */
        c->held[0].ptr = cq->buf;
        c->held[0].len = (uint32_t)cq->res;
        c->held[0].id = cq->buf_id;
        c->held_n = 1;
      } else {
        hl_loop_buf_release(m->loop, cq->buf_id);
      }
    } else {
      alive = deliver(m, c, cq->buf, (size_t)cq->res);
      hl_loop_buf_release(m->loop, cq->buf_id);
    }
    if (!alive) {
      return;
    }
  }
  if (cq->more) {
    return;
  }
  if (cq->res > 0 || cq->res == -ENOBUFS) {
    recv_arm(m, c);
    return;
  }
  on_eof(m, c, cq->res);
}

static int send_plain(hl_conns *m, conn *c) {
  c->msg.msg_iov = c->iov;
  c->msg.msg_iovlen = 2;
  if (c->iov[0].iov_len == 0) {
    c->msg.msg_iov = &c->iov[1];
    c->msg.msg_iovlen = 1;
  }
  int r = hl_loop_sendmsg(m->loop, conn_ud(m, c, OP_SEND), c->fd, &c->msg, MSG_WAITALL);
  if (r == 0) {
    m->st.sends++;
    c->sending = true;
  }
  return r;
}

static void request_sent_if_done(hl_conns *m, conn *c) {
  if (c->req_pending && !c->sending && c->iov[0].iov_len + c->iov[1].iov_len == 0) {
    c->req_pending = false;
    m->cb.on_sent(m->ctx, conn_id(m, c));
  }
}

static void on_send_tls(hl_conns *m, conn *c, int res) {
  hl_tls_out_sent(&c->tls, (size_t)res);
  if (c->held_n > 0 && !held_drain(m, c, true)) {
    return; /* TLS wanted to write before reading on: now it could */
  }
  if (c->state == HL_CONN_HANDSHAKE && c->hs_want_write) {
    if (!drive_handshake(m, c)) {
      return;
    }
  }
  if (c->req_pending && c->iov[0].iov_len + c->iov[1].iov_len > 0) {
    if (!pump_or_end(m, c)) {
      return;
    }
  } else if (flush(m, c) != 0) {
    return;
  }
  request_sent_if_done(m, c);
}

static void on_send(hl_conns *m, conn *c, int res) {
  c->sending = false;
  if (res <= 0) {
    /* 0 bytes for a non-empty send: the socket cannot take more; treat it
     * as the error it is rather than spin. */
    hl_err e;
    hl_err_set(&e, "sending the request failed: %s", res < 0 ? strerror(-res) : "no progress");
    conn_end(m, c, HL_NETERR_WRITE_ERROR, res < 0 ? -res : EIO, false, true, &e);
    return;
  }
  if (c->is_tls) {
    on_send_tls(m, c, res);
    return;
  }
  size_t n = (size_t)res;
  for (int i = 0; i < 2 && n > 0; i++) {
    size_t k = n < c->iov[i].iov_len ? n : c->iov[i].iov_len;
    c->iov[i].iov_base = (char *)c->iov[i].iov_base + k;
    c->iov[i].iov_len -= k;
    n -= k;
  }
  if (c->iov[0].iov_len + c->iov[1].iov_len > 0) {
    /* Short despite MSG_WAITALL (a signal, or the socket shut down under
     * us): send the rest. */
    int r = send_plain(m, c);
    if (r != 0) {
      hl_err e;
      hl_err_set(&e, "sending the request failed: the event loop refused: %s", strerror(-r));
      conn_end(m, c, HL_NETERR_WRITE_ERROR, -r, false, true, &e);
    }
    return;
  }
  request_sent_if_done(m, c);
}

static void conn_handler(hl_loop *loop, void *ctx, const hl_loop_cqe *cq) {
  (void)loop;
  hl_conns *m = ctx;
  conn *c = &m->c[cq->slot];
  switch (cq->kind) {
  case OP_CONNECT:
    on_connect(m, c, cq->res);
    return;
  case OP_SEND:
    on_send(m, c, cq->res);
    return;
  case OP_RECV:
    on_recv(m, c, cq);
    return;
  default:
    HL_UNREACHABLE();
  }
}

/* --- public ---------------------------------------------------------------------- */

int hl_conns_new(hl_loop *loop, const hl_conns_options *opts, hl_conns **out, hl_err *err) {
  *out = NULL;
  if (opts->conns_max == 0 || opts->conns_max > HL_LOOP_SLOTS_MAX) {
    return hl_err_fail(err, -EINVAL, "conns_max must be 1..%u, not %u", HL_LOOP_SLOTS_MAX,
                       opts->conns_max);
  }
  if (opts->cb.on_ready == NULL || opts->cb.on_sent == NULL || opts->cb.on_data == NULL ||
      opts->cb.on_end == NULL) {
    return hl_err_fail(err, -EINVAL, "conn: every callback must be set");
  }
  hl_conns *m = calloc(1, sizeof(*m));
  if (m == NULL) {
    return hl_err_fail(err, -ENOMEM, "conn: out of memory");
  }
  m->loop = loop;
  m->cb = opts->cb;
  m->ctx = opts->ctx;
  m->c = calloc(opts->conns_max, sizeof(*m->c));
  int r = m->c == NULL ? -ENOMEM : hl_slots_init(&m->slots, opts->conns_max, conn_free_slot, m);
  if (r == 0) {
    hl_loop_ops ops = {.name = "conn", .count = OP_COUNT, .handler = conn_handler, .ctx = m,
                       .slots = &m->slots};
    r = hl_loop_register_ops(loop, &ops, &m->op);
  }
  if (r != 0) {
    hl_slots_cleanup(&m->slots);
    free(m->c);
    free(m);
    return hl_err_fail(err, r, "conn: cannot set up %u connections: %s", opts->conns_max,
                       strerror(-r));
  }
  for (uint32_t i = 0; i < opts->conns_max; i++) {
    m->c[i].fd = -1;
    m->c[i].m = m;
  }
  *out = m;
  return 0;
}

void hl_conns_free(hl_conns *m) {
  if (m == NULL) {
    return;
  }
  hl_slots_cleanup(&m->slots);
  free(m->c);
  free(m);
}

int hl_conn_open(hl_conns *m, const hl_conn_target *t, uint32_t *id, hl_err *err) {
  if (t->addrs_len == 0 || t->addrs_len > HL_CONN_ADDRS_MAX) {
    return hl_err_fail(err, -EINVAL, "conn: %u addresses given, 1..%u allowed", t->addrs_len,
                       HL_CONN_ADDRS_MAX);
  }
  if (t->tls != NULL && t->server_name == NULL) {
    return hl_err_fail(err, -EINVAL, "conn: a TLS connection needs a server_name");
  }
  uint32_t slot;
  if (hl_slots_acquire(&m->slots, &slot) != 0) {
    m->st.exhausted++;
    return hl_err_fail(err, -ENOSPC,
                       "conn: all %u connections are in use (conns_max); the request was refused",
                       m->slots.cap);
  }
  conn *c = &m->c[slot];
  hl_timer_init(&c->deadline);
  hl_timer_init(&c->rearm);
  c->fd = -1;
  c->t = *t;
  c->addr_i = 0;
  c->sending = false;
  c->in_callback = false;
  c->is_tls = t->tls != NULL;
  c->req_pending = false;
  c->hs_want_write = false;
  c->held_n = 0;
  c->last_cls = HL_NETERR_OK;
  c->last_errno = 0;
  c->t_open = hl_loop_now_ns(m->loop);
  c->t_connected = c->t_ready = 0;
  conn_transition(c, HL_CONN_EV_OPEN);
  m->st.opened++;
  m->st.live++;
  if (try_connect(m, c, err) != 0) {
    /* Nothing was submitted: the slot goes straight back. */
    int code = c->last_cls == HL_NETERR_POLICY_REFUSED ? -EACCES : -(c->last_errno ?: EIO);
    conn_transition(c, HL_CONN_EV_CLOSE);
    m->st.live--;
    hl_slots_release(&m->slots, slot);
    return code;
  }
  *id = slot;
  return 0;
}

int hl_conn_send(hl_conns *m, uint32_t id, const struct iovec iov[2]) {
  conn *c = &m->c[id];
  HL_ASSERT(c->state == HL_CONN_READY && (c->is_tls || !c->sending));
  c->iov[0] = iov[0];
  c->iov[1] = iov[1];
  c->req_pending = true;
  if (!c->is_tls) {
    int r = send_plain(m, c);
    if (r != 0) {
      c->req_pending = false;
      return r;
    }
    conn_transition(c, HL_CONN_EV_START);
    return 0;
  }
  /* Encrypt now; the owner hears on_sent once the kernel has it all. */
  int r = pump_request(m, c);
  if (r != 0) {
    c->req_pending = false;
    return r == HL_TLS_FAILED ? -EPROTO : r;
  }
  conn_transition(c, HL_CONN_EV_START);
  return 0;
}

void hl_conn_finish(hl_conns *m, uint32_t id) {
  conn *c = &m->c[id];
  HL_ASSERT(c->is_tls || !c->sending);
  conn_transition(c, HL_CONN_EV_FINISH);
}

void hl_conn_close(hl_conns *m, uint32_t id) {
  conn *c = &m->c[id];
  HL_ASSERT(c->state != HL_CONN_FREE && c->state != HL_CONN_CLOSED);
  conn_teardown(m, c);
}

hl_conn_state hl_conn_state_of(const hl_conns *m, uint32_t id) {
  return (hl_conn_state)m->c[id].state;
}

void hl_conn_times(const hl_conns *m, uint32_t id, uint64_t *open_ns, uint64_t *connected_ns,
                   uint64_t *ready_ns) {
  const conn *c = &m->c[id];
  *open_ns = c->t_open;
  *connected_ns = c->t_connected;
  *ready_ns = c->t_ready;
}

bool hl_conn_resumed(const hl_conns *m, uint32_t id) {
  return m->c[id].is_tls && hl_tls_session_reused(&m->c[id].tls);
}

void hl_conns_stats_get(const hl_conns *m, hl_conns_stats *out) {
  *out = m->st;
}
