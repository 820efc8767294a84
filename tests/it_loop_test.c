/* Integration tests for io/loop over loopback TCP: an echo server (multishot
 * accept, multishot receive into provided buffers, one send in flight per
 * socket, echoing straight from the provided buffer) and a client with
 * 2,000 connections open at once in the same loop; connect deadlines and
 * refusals. The two owners are written the way the connection module is
 * meant to use the loop: slot tables, per-slot timers, cancel-close-release
 * teardown, and re-arming a multishot receive after -ENOBUFS. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "harness.h"
#include "io/loop.h"

#define CONNS 2000
#define MSG_BYTES 100
#define SEND_QUEUE 8

/* --- shared helpers ------------------------------------------------------------------ */

static int listen_loopback(int backlog, struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  HL_ASSERT(fd >= 0);
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*addr);
  HL_ASSERT(bind(fd, (struct sockaddr *)addr, len) == 0);
  HL_ASSERT(listen(fd, backlog) == 0);
  HL_ASSERT(getsockname(fd, (struct sockaddr *)addr, &len) == 0);
  return fd;
}

static int tcp_socket(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  HL_ASSERT(fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
  return fd;
}

/* rearm_recv re-arms a multishot receive that ended, the way every owner
 * should: at once if buffers are free, otherwise from a 1 ms timer. */
static void rearm_recv(hl_loop *l, uint64_t ud, int fd, hl_timer *t, hl_timer_fn retry) {
  if (hl_loop_bufs_free(l) > 0) {
    HL_ASSERT(hl_loop_recv_multishot(l, ud, fd) == 0);
  } else {
    hl_timer_arm_in(l, t, 1, retry);
  }
}

/* --- echo server ---------------------------------------------------------------------- */

enum { SRV_RECV, SRV_SEND, SRV_OPS };

typedef struct srv_conn {
  int fd;
  bool eof;
  bool sending;
  uint16_t queue[SEND_QUEUE]; /* provided buffers waiting to be echoed */
  char *queue_buf[SEND_QUEUE];
  uint32_t queue_len[SEND_QUEUE];
  unsigned q_head, q_count;
  hl_timer rearm;
  uint32_t slot;
  struct server *srv;
} srv_conn;

typedef struct server {
  hl_loop *l;
  int lfd;
  uint8_t accept_op;
  uint8_t op;
  hl_slots slots;
  srv_conn conns[CONNS];
  size_t accepted, closed, live_max;
  bool failed;
} server;

static uint64_t srv_ud(server *s, unsigned kind, uint32_t slot) {
  return hl_slots_ud(&s->slots, (uint8_t)(s->op + kind), slot);
}

static void srv_send_next(server *s, srv_conn *c) {
  if (c->sending || c->q_count == 0) {
    return;
  }
  /* One send in flight per socket: two concurrent sends on one stream
   * socket could interleave their bytes if the first one were short. */
  c->sending = true;
  HL_ASSERT(hl_loop_send(s->l, srv_ud(s, SRV_SEND, c->slot), c->fd, c->queue_buf[c->q_head],
                         c->queue_len[c->q_head], MSG_WAITALL) == 0);
}

static void srv_close(server *s, srv_conn *c) {
  /* Nothing is in flight any more (receive ended, no send): close without
   * waiting for the result and give the slot back. */
  hl_timer_cancel(s->l, &c->rearm);
  HL_ASSERT(hl_loop_close(s->l, HL_UD_NONE, c->fd) == 0);
  hl_slots_release(&s->slots, c->slot);
}

static void srv_rearm_timer(hl_loop *l, hl_timer *t) {
  srv_conn *c = HL_CONTAINER_OF(t, srv_conn, rearm);
  rearm_recv(l, srv_ud(c->srv, SRV_RECV, c->slot), c->fd, &c->rearm, srv_rearm_timer);
}

static void srv_handler(hl_loop *l, void *ctx, const hl_loop_cqe *cq) {
  server *s = ctx;
  srv_conn *c = &s->conns[cq->slot];
  if (cq->kind == SRV_SEND) {
    hl_loop_buf_release(l, c->queue[c->q_head]);
    if (cq->res != (int32_t)c->queue_len[c->q_head]) {
      s->failed = true;
    }
    c->q_head = (c->q_head + 1) % SEND_QUEUE;
    c->q_count--;
    c->sending = false;
    srv_send_next(s, c);
  } else if (cq->buf != NULL) {
    if (c->q_count == SEND_QUEUE) {
      s->failed = true;
      hl_loop_buf_release(l, cq->buf_id);
    } else {
      unsigned tail = (c->q_head + c->q_count) % SEND_QUEUE;
      c->queue[tail] = cq->buf_id;
      c->queue_buf[tail] = cq->buf; /* ours until hl_loop_buf_release */
      c->queue_len[tail] = (uint32_t)cq->res;
      c->q_count++;
      srv_send_next(s, c);
    }
    if (!cq->more) {
      rearm_recv(l, srv_ud(s, SRV_RECV, c->slot), c->fd, &c->rearm, srv_rearm_timer);
    }
  } else if (cq->res == -ENOBUFS) {
    rearm_recv(l, srv_ud(s, SRV_RECV, c->slot), c->fd, &c->rearm, srv_rearm_timer);
  } else if (!cq->more) {
    c->eof = true; /* 0: the client closed; < 0: reset */
  }
  if (c->eof && !c->sending && c->q_count == 0) {
    srv_close(s, c);
  }
}

static void srv_on_free(void *ctx, uint32_t slot) {
  (void)slot;
  ((server *)ctx)->closed++;
}

static void accept_handler(hl_loop *l, void *ctx, const hl_loop_cqe *cq) {
  server *s = ctx;
  if (cq->res >= 0) {
    uint32_t slot;
    if (hl_slots_acquire(&s->slots, &slot) != 0) {
      close(cq->res);
      s->failed = true;
    } else {
      s->accepted++;
      s->live_max = s->slots.live > s->live_max ? s->slots.live : s->live_max;
      srv_conn *c = &s->conns[slot];
      memset(c, 0, sizeof(*c));
      c->fd = cq->res;
      c->slot = slot;
      c->srv = s;
      HL_ASSERT(hl_loop_recv_multishot(l, srv_ud(s, SRV_RECV, slot), c->fd) == 0);
    }
  }
  if (!cq->more && !hl_loop_draining(l)) {
    HL_ASSERT(hl_loop_accept(l, hl_ud_make(s->accept_op, 0, 0), s->lfd, true) == 0);
  }
}

static void server_start(server *s, hl_loop *l, struct sockaddr_in *addr) {
  s->l = l;
  s->lfd = listen_loopback(4096, addr);
  ASSERT_EQ(hl_slots_init(&s->slots, CONNS, srv_on_free, s), 0);
  hl_loop_ops acc = {.name = "test-accept", .count = 1, .handler = accept_handler, .ctx = s};
  hl_loop_ops conn = {.name = "test-server", .count = SRV_OPS, .handler = srv_handler, .ctx = s,
                      .slots = &s->slots};
  ASSERT_EQ(hl_loop_register_ops(l, &acc, &s->accept_op), 0);
  ASSERT_EQ(hl_loop_register_ops(l, &conn, &s->op), 0);
  ASSERT_EQ(hl_loop_accept(l, hl_ud_make(s->accept_op, 0, 0), s->lfd, true), 0);
}

/* --- echo client ------------------------------------------------------------------------ */

enum { CLI_CONNECT, CLI_SEND, CLI_RECV, CLI_OPS };

typedef struct cli_conn {
  int fd;
  uint32_t slot;
  char tx[MSG_BYTES];
  char rx[MSG_BYTES];
  size_t rx_len;
  hl_timer rearm;
  struct client *cli;
} cli_conn;

typedef struct client {
  hl_loop *l;
  uint8_t op;
  hl_slots slots;
  cli_conn conns[CONNS];
  struct sockaddr_in addr;
  size_t connect_cqes, connected, sent, done, freed;
  size_t errors;
  int last_error;
  bool go; /* every connection is up: start sending */
} client;

static uint64_t cli_ud(client *k, unsigned kind, uint32_t slot) {
  return hl_slots_ud(&k->slots, (uint8_t)(k->op + kind), slot);
}

static void cli_teardown(client *k, cli_conn *c) {
  /* The multishot receive is still armed: cancel it, close the fd behind
   * it, and release the slot; the slot is reused only after the receive's
   * -ECANCELED completion (dropped as stale) has arrived. */
  hl_timer_cancel(k->l, &c->rearm);
  HL_ASSERT(hl_loop_cancel_fd(k->l, c->fd) == 0);
  HL_ASSERT(hl_loop_close(k->l, HL_UD_NONE, c->fd) == 0);
  hl_slots_release(&k->slots, c->slot);
}

static void cli_fail(client *k, cli_conn *c, int err) {
  k->errors++;
  k->last_error = err;
  cli_teardown(k, c);
}

static void cli_rearm_timer(hl_loop *l, hl_timer *t) {
  cli_conn *c = HL_CONTAINER_OF(t, cli_conn, rearm);
  rearm_recv(l, cli_ud(c->cli, CLI_RECV, c->slot), c->fd, &c->rearm, cli_rearm_timer);
}

static void cli_send(client *k, cli_conn *c) {
  HL_ASSERT(hl_loop_send(k->l, cli_ud(k, CLI_SEND, c->slot), c->fd, c->tx, MSG_BYTES,
                         MSG_WAITALL) == 0);
  HL_ASSERT(hl_loop_recv_multishot(k->l, cli_ud(k, CLI_RECV, c->slot), c->fd) == 0);
}

static void cli_on_recv(client *k, cli_conn *c, const hl_loop_cqe *cq) {
  if (cq->buf != NULL) {
    size_t n = (size_t)cq->res;
    if (c->rx_len + n > MSG_BYTES) {
      n = 0; /* more than was sent: fail below */
      c->rx_len = MSG_BYTES + 1;
    }
    memcpy(c->rx + c->rx_len, cq->buf, n);
    c->rx_len += n;
    hl_loop_buf_release(k->l, cq->buf_id);
    if (c->rx_len == MSG_BYTES && memcmp(c->rx, c->tx, MSG_BYTES) == 0) {
      k->done++;
      cli_teardown(k, c);
      return;
    }
    if (c->rx_len > MSG_BYTES) {
      cli_fail(k, c, -EPROTO);
      return;
    }
  }
  if (cq->more) {
    return;
  }
  if (cq->res > 0 || cq->res == -ENOBUFS) {
    rearm_recv(k->l, cli_ud(k, CLI_RECV, c->slot), c->fd, &c->rearm, cli_rearm_timer);
  } else {
    cli_fail(k, c, cq->res == 0 ? -ECONNRESET : cq->res);
  }
}

static void cli_handler(hl_loop *l, void *ctx, const hl_loop_cqe *cq) {
  (void)l;
  client *k = ctx;
  cli_conn *c = &k->conns[cq->slot];
  switch (cq->kind) {
  case CLI_CONNECT:
    k->connect_cqes++;
    if (cq->res < 0) {
      cli_fail(k, c, cq->res);
      return;
    }
    k->connected++;
    if (k->go) {
      cli_send(k, c);
    }
    return;
  case CLI_SEND:
    if (cq->res != MSG_BYTES) {
      cli_fail(k, c, cq->res < 0 ? cq->res : -EIO);
      return;
    }
    k->sent++;
    return;
  case CLI_RECV:
    cli_on_recv(k, c, cq);
    return;
  default:
    HL_UNREACHABLE();
  }
}

static void cli_on_free(void *ctx, uint32_t slot) {
  (void)slot;
  ((client *)ctx)->freed++;
}

static void client_init(client *k, hl_loop *l, const struct sockaddr_in *addr) {
  k->l = l;
  k->addr = *addr;
  ASSERT_EQ(hl_slots_init(&k->slots, CONNS, cli_on_free, k), 0);
  hl_loop_ops ops = {.name = "test-client", .count = CLI_OPS, .handler = cli_handler, .ctx = k,
                     .slots = &k->slots};
  ASSERT_EQ(hl_loop_register_ops(l, &ops, &k->op), 0);
}

static int client_connect(client *k, uint32_t timeout_ms, uint32_t *slot_out) {
  uint32_t slot;
  int r = hl_slots_acquire(&k->slots, &slot);
  if (r != 0) {
    return r;
  }
  cli_conn *c = &k->conns[slot];
  memset(c, 0, sizeof(*c));
  c->fd = tcp_socket();
  c->slot = slot;
  c->cli = k;
  for (size_t i = 0; i < MSG_BYTES; i++) {
    c->tx[i] = (char)('A' + (slot * 31 + i) % 58);
  }
  r = hl_loop_connect(k->l, cli_ud(k, CLI_CONNECT, slot), c->fd, (struct sockaddr *)&k->addr,
                      sizeof(k->addr), timeout_ms);
  if (slot_out != NULL) {
    *slot_out = slot;
  }
  return r;
}

static hl_loop *loop_with_bufs(uint32_t recv_bufs, uint32_t buf_bytes) {
  hl_loop_options o = hl_loop_options_default();
  o.recv_bufs = recv_bufs;
  o.recv_buf_bytes = buf_bytes;
  hl_loop *l = NULL;
  hl_err err = {{0}};
  if (hl_loop_new(&o, &l, &err) != 0) {
    hl_test_fail(__FILE__, __LINE__, "hl_loop_new: %s", err.msg);
  }
  return l;
}

/* echo_run: |conns| clients connect, then all send, the server echoes,
 * the clients verify and tear down; returns the loop's stats. */
static hl_loop_stats echo_run(uint32_t recv_bufs, uint32_t buf_bytes, uint32_t conns) {
  hl_loop *l = loop_with_bufs(recv_bufs, buf_bytes);
  server *s = calloc(1, sizeof(*s));
  client *k = calloc(1, sizeof(*k));
  struct sockaddr_in addr;
  server_start(s, l, &addr);
  client_init(k, l, &addr);

  for (uint32_t i = 0; i < conns; i++) {
    ASSERT_EQ(client_connect(k, 10000, NULL), 0);
  }
  /* Phase 1: all connected, none sending yet: 2,000 live connections on
   * each side, 4,000 sockets in one ring. */
  bool all_up = false;
  uint64_t deadline = hl_clock_mono_ms() + 20000;
  while (!all_up && k->errors == 0 && hl_clock_mono_ms() < deadline) {
    ASSERT_GE(hl_loop_run_once(l, 100), 0);
    all_up = k->connected == conns && s->accepted == conns;
  }
  ASSERT_EQ(k->errors, 0u);
  ASSERT_EQ(k->connected, (size_t)conns);
  ASSERT_EQ(s->accepted, (size_t)conns);
  ASSERT_EQ(s->live_max, (size_t)conns);
  ASSERT_EQ(k->slots.live, conns);

  /* Phase 2: everyone sends, the server echoes, clients verify and close. */
  k->go = true;
  for (uint32_t i = 0; i < conns; i++) {
    cli_send(k, &k->conns[i]);
  }
  bool finished = false;
  deadline = hl_clock_mono_ms() + 30000;
  while (!finished && hl_clock_mono_ms() < deadline) {
    ASSERT_GE(hl_loop_run_once(l, 100), 0);
    finished = k->done + k->errors == conns && k->freed == conns && s->closed == conns;
  }
  if (k->errors != 0) {
    fprintf(stderr, "client errors: %zu, last %d\n", k->errors, k->last_error);
  }
  ASSERT_EQ(k->errors, 0u);
  ASSERT_EQ(k->sent, (size_t)conns);
  ASSERT_EQ(k->done, (size_t)conns);
  ASSERT_EQ(k->freed, (size_t)conns); /* every client slot came back */
  ASSERT_EQ(s->closed, (size_t)conns);
  ASSERT_FALSE(s->failed);
  ASSERT_EQ(k->slots.live, 0u);
  ASSERT_EQ(s->slots.live, 0u);

  /* The last closes and cancels were queued by the final handlers. */
  hl_loop_stats st;
  hl_loop_stats_get(l, &st);
  for (int i = 0; i < 100 && st.inflight > 2; i++) {
    ASSERT_GE(hl_loop_run_once(l, 10), 0);
    hl_loop_stats_get(l, &st);
  }
  ASSERT_EQ(st.bufs_out, 0);
  ASSERT_GE(st.stale, (uint64_t)conns); /* each client's cancelled receive */
  /* Batching: far fewer syscalls than operations. */
  ASSERT_LT(st.enters * 4, st.sqes);
  fprintf(stderr, "echo: %llu sqes, %llu cqes, %llu enters, %llu iterations, %llu stale, %llu enobufs\n",
          (unsigned long long)st.sqes, (unsigned long long)st.cqes,
          (unsigned long long)st.enters, (unsigned long long)st.iterations,
          (unsigned long long)st.stale, (unsigned long long)st.bufs_exhausted);

  /* Only the listener's accept and the loop's eventfd read remain. */
  ASSERT_EQ(st.inflight, 2);
  ASSERT_EQ(hl_loop_drain(l, 2000), 0);
  hl_loop_free(l);
  close(s->lfd);
  hl_slots_cleanup(&s->slots);
  hl_slots_cleanup(&k->slots);
  free(s);
  free(k);
  return st;
}

TEST(echo_with_2000_concurrent_connections_in_one_loop) {
  hl_loop_stats st = echo_run(4096, 512, CONNS);
  ASSERT_EQ(st.bufs_exhausted, 0);
}

TEST(echo_survives_a_buffer_ring_far_smaller_than_the_traffic) {
  /* 32 buffers of 64 bytes for 500 connections of 100-byte messages:
   * receives keep ending with -ENOBUFS and are re-armed, at once or from
   * a 1 ms timer, and every byte still arrives in order. */
  hl_loop_stats st = echo_run(32, 64, 500);
  ASSERT_GT(st.bufs_exhausted, 0);
}


TEST(connect_deadline_cancels_a_connect_that_hangs) {
  hl_loop *l = loop_with_bufs(4096, 512);
  client *k = calloc(1, sizeof(*k));
  struct sockaddr_in addr;
  /* A listener that never accepts, with a backlog of 0: once its accept
   * queue holds a connection the kernel drops further SYNs, so the next
   * connect waits for a retransmission (1 s) longer than our deadline. */
  int lfd = listen_loopback(0, &addr);
  client_init(k, l, &addr);
  bool timed_out = false;
  int attempts = 0;
  for (; attempts < 8 && !timed_out; attempts++) {
    size_t before_ok = k->connected, before_err = k->errors;
    ASSERT_EQ(client_connect(k, 150, NULL), 0);
    uint64_t start = hl_clock_mono_ms();
    while (k->connected == before_ok && k->errors == before_err &&
           hl_clock_mono_ms() < start + 5000) {
      ASSERT_GE(hl_loop_run_once(l, 100), 0);
    }
    timed_out = k->errors > before_err && k->last_error == -ECANCELED;
  }
  ASSERT_TRUE(timed_out);
  /* The linked timeout's own completion never reaches the owner: the
   * client saw exactly one completion per connect. */
  hl_loop_run_once(l, 50);
  ASSERT_EQ(k->connect_cqes, (size_t)attempts);
  ASSERT_EQ(k->connected + k->errors, (size_t)attempts);
  hl_loop_free(l);
  close(lfd);
  for (uint32_t i = 0; i < CONNS; i++) {
    if (hl_slots_state(&k->slots, i) == HL_SLOT_LIVE) {
      close(k->conns[i].fd);
    }
  }
  hl_slots_cleanup(&k->slots);
  free(k);
}

TEST(connect_to_a_closed_port_is_refused) {
  hl_loop *l = loop_with_bufs(4096, 512);
  client *k = calloc(1, sizeof(*k));
  struct sockaddr_in addr;
  int lfd = listen_loopback(1, &addr);
  close(lfd); /* the port is now closed */
  client_init(k, l, &addr);
  ASSERT_EQ(client_connect(k, 1000, NULL), 0);
  bool done = false;
  uint64_t deadline = hl_clock_mono_ms() + 5000;
  while (!done && hl_clock_mono_ms() < deadline) {
    ASSERT_GE(hl_loop_run_once(l, 100), 0);
    done = k->errors > 0 || k->connected > 0;
  }
  ASSERT_EQ(k->errors, 1u);
  ASSERT_EQ(k->last_error, -ECONNREFUSED);
  hl_loop_free(l);
  hl_slots_cleanup(&k->slots);
  free(k);
}
