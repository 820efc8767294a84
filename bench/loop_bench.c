/* loop_bench: measurements behind io/loop's design choices.
 *
 *   loop_bench timers   arm+cancel and expiry of 100k deadlines: the timer
 *                       wheel (io/timer) against one io_uring timeout per
 *                       deadline (IORING_OP_TIMEOUT + TIMEOUT_REMOVE)
 *   loop_bench socket   socket(2)+close(2) against IORING_OP_SOCKET+CLOSE
 *   loop_bench echo [CONNS] [SECONDS] [MSG_BYTES]
 *                       ping-pong over loopback TCP: a forked server loop
 *                       (multishot accept, multishot recv into provided
 *                       buffers, send straight from the buffer) and a
 *                       client loop with CONNS connections (default 64,
 *                       5 s, 64 B); messages/s, CPU us per message and
 *                       io_uring_enter calls per message on each side
 *   loop_bench          all of the above
 *
 * CPU time is user+sys from getrusage, the steadier figure on a shared
 * machine; wall time is printed beside it. Each micro-benchmark runs 5 times
 * and the median is printed. */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "io/loop.h"

#define TIMERS 100000
#define RUNS 5

static uint64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
         (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n) {
  qsort(v, n, sizeof(*v), cmp_u64);
  return v[n / 2];
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static hl_loop *bench_loop(uint32_t recv_bufs, uint32_t buf_bytes) {
  hl_loop_options o = hl_loop_options_default();
  o.recv_bufs = recv_bufs;
  o.recv_buf_bytes = buf_bytes;
  hl_loop *l = NULL;
  hl_err err = {{0}};
  if (hl_loop_new(&o, &l, &err) != 0) {
    fprintf(stderr, "loop_bench: %s\n", err.msg);
    exit(1);
  }
  return l;
}

/* --- timers: the wheel ------------------------------------------------------------ */

static size_t wheel_fired;

static void count_fire(struct hl_loop *loop, hl_timer *t) {
  (void)loop;
  (void)t;
  wheel_fired++;
}

/* Arm TIMERS deadlines 1 ms .. 30 s ahead (connect, response and idle
 * timeouts), then cancel them all: what a connection does per request. */
static uint64_t wheel_arm_cancel_ns(hl_timer *ts, hl_timer_wheel *w) {
  hl_timer_wheel_init(w, 1000000);
  uint64_t t0 = hl_clock_mono_ns();
  for (size_t i = 0; i < TIMERS; i++) {
    hl_timer_wheel_arm(w, &ts[i], 1000000 + 1 + rng() % 30000, count_fire);
  }
  for (size_t i = 0; i < TIMERS; i++) {
    hl_timer_wheel_cancel(w, &ts[i]);
  }
  return hl_clock_mono_ns() - t0;
}

/* Arm TIMERS deadlines over 1 s and step a simulated clock 1 ms at a time
 * until all fired: arm + cascade + fire. */
static uint64_t wheel_expire_ns(hl_timer *ts, hl_timer_wheel *w) {
  hl_timer_wheel_init(w, 0);
  wheel_fired = 0;
  uint64_t t0 = hl_clock_mono_ns();
  for (size_t i = 0; i < TIMERS; i++) {
    hl_timer_wheel_arm(w, &ts[i], 1 + rng() % 1000, count_fire);
  }
  for (uint64_t now = 1; wheel_fired < TIMERS; now++) {
    hl_timer_wheel_expire(w, now, NULL);
  }
  return hl_clock_mono_ns() - t0;
}

/* The same through a real loop and clock: CPU per timer, and how many
 * io_uring_enter calls the loop made while sleeping between deadlines. */
static void loop_expire(hl_timer *ts, uint64_t *cpu_per_timer_ns, uint64_t *enters) {
  hl_loop *l = bench_loop(0, 0);
  wheel_fired = 0;
  hl_loop_stats before;
  hl_loop_stats_get(l, &before);
  uint64_t c0 = cpu_ns();
  for (size_t i = 0; i < TIMERS; i++) {
    hl_timer_init(&ts[i]);
    hl_timer_arm_in(l, &ts[i], 1 + rng() % 1000, count_fire);
  }
  while (wheel_fired < TIMERS) {
    hl_loop_run_once(l, -1);
  }
  *cpu_per_timer_ns = (cpu_ns() - c0) / TIMERS;
  hl_loop_stats after;
  hl_loop_stats_get(l, &after);
  *enters = after.enters - before.enters;
  hl_loop_free(l);
}

/* --- timers: one io_uring timeout per deadline ----------------------------------------- */

typedef struct raw_ring {
  struct io_uring ring;
  struct __kernel_timespec *ts; /* per SQE slot */
  size_t cqes;
} raw_ring;

static void raw_init(raw_ring *r) {
  struct io_uring_params p;
  memset(&p, 0, sizeof(p));
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
            IORING_SETUP_SUBMIT_ALL;
  p.cq_entries = 65536;
  HL_ASSERT(io_uring_queue_init_params(4096, &r->ring, &p) == 0);
  r->ts = calloc(r->ring.sq.ring_entries, sizeof(*r->ts));
  r->cqes = 0;
}

static void raw_reap(raw_ring *r) {
  struct io_uring_cqe *cqes[256];
  unsigned n;
  while ((n = io_uring_peek_batch_cqe(&r->ring, cqes, 256)) > 0) {
    io_uring_cq_advance(&r->ring, n);
    r->cqes += n;
  }
}

static struct io_uring_sqe *raw_sqe(raw_ring *r) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
  if (sqe == NULL) {
    io_uring_submit_and_get_events(&r->ring);
    raw_reap(r);
    sqe = io_uring_get_sqe(&r->ring);
  }
  HL_ASSERT(sqe != NULL);
  return sqe;
}

static void raw_timeout(raw_ring *r, uint64_t ud, uint64_t ms) {
  struct io_uring_sqe *sqe = raw_sqe(r);
  struct __kernel_timespec *ts = &r->ts[sqe - r->ring.sq.sqes];
  ts->tv_sec = (long long)(ms / 1000);
  ts->tv_nsec = (long long)(ms % 1000) * 1000000;
  io_uring_prep_timeout(sqe, ts, 0, 0);
  io_uring_sqe_set_data64(sqe, ud);
}

static void raw_wait_cqes(raw_ring *r, size_t want) {
  while (r->cqes < want) {
    io_uring_submit_and_wait(&r->ring, 1);
    raw_reap(r);
  }
}

/* Arm and remove TIMERS io_uring timeouts, |outstanding| at a time: the
 * kernel finds a timeout to remove by walking its list, so the cost per
 * removal grows with how many are armed. */
static uint64_t uring_arm_cancel_cpu_ns(size_t outstanding) {
  raw_ring r;
  raw_init(&r);
  uint64_t c0 = cpu_ns();
  for (size_t done = 0; done < TIMERS; done += outstanding) {
    for (size_t i = done; i < done + outstanding; i++) {
      raw_timeout(&r, i + 1, 1 + rng() % 30000);
    }
    for (size_t i = done; i < done + outstanding; i++) {
      io_uring_prep_timeout_remove(raw_sqe(&r), i + 1, 0);
    }
    /* each removal: its own CQE and the removed timeout's */
    raw_wait_cqes(&r, 2 * (done + outstanding));
  }
  uint64_t cpu = cpu_ns() - c0;
  io_uring_queue_exit(&r.ring);
  free(r.ts);
  return cpu;
}

static uint64_t uring_expire_cpu_ns(void) {
  raw_ring r;
  raw_init(&r);
  uint64_t c0 = cpu_ns();
  for (size_t i = 0; i < TIMERS; i++) {
    raw_timeout(&r, i + 1, 1 + rng() % 1000);
  }
  raw_wait_cqes(&r, TIMERS);
  uint64_t cpu = cpu_ns() - c0;
  io_uring_queue_exit(&r.ring);
  free(r.ts);
  return cpu;
}

static void bench_timers(void) {
  hl_timer *ts = calloc(TIMERS, sizeof(*ts));
  hl_timer_wheel *w = malloc(sizeof(*w));
  uint64_t a[RUNS], b[RUNS], c[RUNS], c1k[RUNS], d[RUNS];
  for (int i = 0; i < RUNS; i++) {
    a[i] = wheel_arm_cancel_ns(ts, w);
    b[i] = wheel_expire_ns(ts, w);
    c[i] = uring_arm_cancel_cpu_ns(TIMERS);
    c1k[i] = uring_arm_cancel_cpu_ns(1000);
    d[i] = uring_expire_cpu_ns();
  }
  printf("timers (%d deadlines, median of %d):\n", TIMERS, RUNS);
  printf("  wheel   arm+cancel    %9.1f ns/timer      (1 ms..30 s ahead)\n",
         (double)median(a, RUNS) / TIMERS);
  printf("  wheel   arm+expire    %9.1f ns/timer      (over 1 s, 1 ms steps)\n",
         (double)median(b, RUNS) / TIMERS);
  printf("  io_uring TIMEOUT+REMOVE %9.1f ns/timer CPU (all %d armed at once)\n",
         (double)median(c, RUNS) / TIMERS, TIMERS);
  printf("  io_uring TIMEOUT+REMOVE %9.1f ns/timer CPU (1,000 armed at a time)\n",
         (double)median(c1k, RUNS) / TIMERS);
  printf("  io_uring TIMEOUT expire %9.1f ns/timer CPU (over 1 s)\n", (double)median(d, RUNS) / TIMERS);
  uint64_t cpu_per, enters;
  loop_expire(ts, &cpu_per, &enters);
  printf("  loop    arm+expire    %9.1f ns/timer CPU  (%llu io_uring_enter calls for %d timers over 1 s)\n",
         (double)cpu_per, (unsigned long long)enters, TIMERS);
  free(ts);
  free(w);
}

/* --- socket creation ----------------------------------------------------------------- */

#define SOCKETS 10000

static size_t socket_done;

static void socket_handler(hl_loop *l, void *ctx, const hl_loop_cqe *c) {
  (void)ctx;
  if (c->kind == 0) {
    HL_ASSERT(c->res >= 0);
    HL_ASSERT(hl_loop_close(l, HL_UD_NONE, c->res) == 0);
    socket_done++;
  }
}

static void bench_socket(void) {
  uint64_t sys[RUNS], sys_nodelay[RUNS], ring[RUNS];
  for (int run = 0; run < RUNS; run++) {
    for (int nodelay = 0; nodelay < 2; nodelay++) {
      uint64_t c0 = cpu_ns();
      for (int i = 0; i < SOCKETS; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (nodelay) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        close(fd);
      }
      *(nodelay ? &sys_nodelay[run] : &sys[run]) = cpu_ns() - c0;
    }

    hl_loop *l = bench_loop(0, 0);
    hl_loop_ops ops = {.name = "bench-socket", .count = 1, .handler = socket_handler};
    uint8_t op;
    HL_ASSERT(hl_loop_register_ops(l, &ops, &op) == 0);
    socket_done = 0;
    uint64_t c0 = cpu_ns();
    for (uint32_t i = 0; i < SOCKETS; i++) {
      HL_ASSERT(hl_loop_socket(l, hl_ud_make(op, 0, i), AF_INET,
                               SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) == 0);
    }
    while (socket_done < SOCKETS) {
      hl_loop_run_once(l, -1);
    }
    hl_loop_run_once(l, 0); /* the closes */
    ring[run] = cpu_ns() - c0;
    hl_loop_free(l);
  }
  printf("sockets (%d, median of %d):\n", SOCKETS, RUNS);
  printf("  socket()+close() syscalls                    %6.2f us CPU each\n",
         (double)median(sys, RUNS) / SOCKETS / 1000);
  printf("  socket()+setsockopt(NODELAY)+close() syscalls %6.2f us CPU each\n",
         (double)median(sys_nodelay, RUNS) / SOCKETS / 1000);
  printf("  IORING_OP_SOCKET + IORING_OP_CLOSE, batched   %6.2f us CPU each (no NODELAY)\n",
         (double)median(ring, RUNS) / SOCKETS / 1000);
}

/* --- echo ping-pong ---------------------------------------------------------------------- */

/* The server has no slot table: one connection per fd, slot = fd, and the
 * generation field carries the provided buffer being echoed (a trick for
 * owners whose ops never outlive their fd). */
enum { SRV_ACCEPT, SRV_RECV, SRV_SEND, SRV_OPS };

typedef struct echo_server {
  int lfd;
  uint8_t op;
  size_t open;
  size_t served;
} echo_server;

static void echo_server_handler(hl_loop *l, void *ctx, const hl_loop_cqe *c) {
  echo_server *s = ctx;
  int fd = (int)c->slot;
  if (c->kind == SRV_ACCEPT) {
    if (c->res >= 0) {
      s->open++;
      s->served++;
      HL_ASSERT(hl_loop_recv_multishot(l, hl_ud_make(s->op + SRV_RECV, 0, (uint32_t)c->res), c->res) ==
                0);
    }
    if (!c->more) {
      HL_ASSERT(hl_loop_accept(l, hl_ud_make(s->op + SRV_ACCEPT, 0, 0), s->lfd, true) == 0);
    }
  } else if (c->kind == SRV_SEND) {
    hl_loop_buf_release(l, (uint16_t)c->gen);
  } else if (c->buf != NULL) {
    HL_ASSERT(hl_loop_send(l, hl_ud_make(s->op + SRV_SEND, c->buf_id, (uint32_t)fd), fd, c->buf,
                           (size_t)c->res, MSG_WAITALL) == 0);
    if (!c->more) {
      HL_ASSERT(hl_loop_recv_multishot(l, hl_ud_make(s->op + SRV_RECV, 0, (uint32_t)fd), fd) == 0);
    }
  } else if (c->res == -ENOBUFS) {
    HL_ASSERT(hl_loop_recv_multishot(l, hl_ud_make(s->op + SRV_RECV, 0, (uint32_t)fd), fd) == 0);
  } else if (!c->more) {
    HL_ASSERT(hl_loop_close(l, HL_UD_NONE, fd) == 0);
    s->open--;
    if (s->open == 0) {
      hl_loop_stop(l);
    }
  }
}

/* run_server (child process): serves until every connection has closed,
 * then writes its CPU time and stats to |report_fd|. */
static void run_server(int lfd, int report_fd) {
  hl_loop *l = bench_loop(4096, 2048);
  echo_server s = {.lfd = lfd};
  hl_loop_ops ops = {.name = "bench-server", .count = SRV_OPS, .handler = echo_server_handler,
                     .ctx = &s};
  HL_ASSERT(hl_loop_register_ops(l, &ops, &s.op) == 0);
  HL_ASSERT(hl_loop_accept(l, hl_ud_make(s.op + SRV_ACCEPT, 0, 0), lfd, true) == 0);
  uint64_t c0 = cpu_ns();
  hl_loop_run(l);
  uint64_t report[3];
  hl_loop_stats st;
  hl_loop_stats_get(l, &st);
  report[0] = cpu_ns() - c0;
  report[1] = st.enters;
  report[2] = st.cqes;
  HL_ASSERT(write(report_fd, report, sizeof(report)) == sizeof(report));
  hl_loop_free(l);
  _exit(0);
}

enum { CLI_CONNECT, CLI_SEND, CLI_RECV, CLI_OPS };

typedef struct echo_client {
  uint8_t op;
  int *fds;
  uint32_t *got; /* bytes of the current echo received, per connection */
  uint32_t msg_bytes;
  char *msg;
  size_t messages;
  size_t connected;
  bool stopping;
  size_t closed;
} echo_client;

static void client_ping(hl_loop *l, echo_client *k, uint32_t i) {
  HL_ASSERT(hl_loop_send(l, hl_ud_make(k->op + CLI_SEND, 0, i), k->fds[i], k->msg, k->msg_bytes,
                         MSG_WAITALL) == 0);
}

static void echo_client_handler(hl_loop *l, void *ctx, const hl_loop_cqe *c) {
  echo_client *k = ctx;
  uint32_t i = c->slot;
  int fd = k->fds[i];
  if (c->kind == CLI_CONNECT) {
    HL_ASSERT(c->res == 0);
    k->connected++;
    HL_ASSERT(hl_loop_recv_multishot(l, hl_ud_make(k->op + CLI_RECV, 0, i), fd) == 0);
    client_ping(l, k, i);
    return;
  }
  if (c->kind == CLI_SEND) {
    HL_ASSERT(c->res == (int32_t)k->msg_bytes);
    return;
  }
  if (c->buf != NULL) {
    k->got[i] += (uint32_t)c->res;
    hl_loop_buf_release(l, c->buf_id);
    if (k->got[i] == k->msg_bytes) {
      k->got[i] = 0;
      k->messages++;
      if (!k->stopping) {
        client_ping(l, k, i);
      } else {
        shutdown(fd, SHUT_WR); /* the server sees EOF and closes */
      }
    }
  }
  if (!c->more) {
    if (c->res > 0 || c->res == -ENOBUFS) {
      HL_ASSERT(hl_loop_recv_multishot(l, hl_ud_make(k->op + CLI_RECV, 0, i), fd) == 0);
    } else {
      HL_ASSERT(hl_loop_close(l, HL_UD_NONE, fd) == 0);
      k->closed++;
    }
  }
}

static void bench_echo(uint32_t conns, uint32_t seconds, uint32_t msg_bytes) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(addr);
  HL_ASSERT(bind(lfd, (struct sockaddr *)&addr, alen) == 0 && listen(lfd, 4096) == 0);
  HL_ASSERT(getsockname(lfd, (struct sockaddr *)&addr, &alen) == 0);
  int report[2];
  HL_ASSERT(pipe(report) == 0);
  pid_t pid = fork();
  HL_ASSERT(pid >= 0);
  if (pid == 0) {
    close(report[0]);
    run_server(lfd, report[1]);
  }
  close(report[1]);
  close(lfd);

  hl_loop *l = bench_loop(4096, 2048);
  echo_client k = {.msg_bytes = msg_bytes};
  k.fds = calloc(conns, sizeof(int));
  k.got = calloc(conns, sizeof(uint32_t));
  k.msg = calloc(1, msg_bytes);
  memset(k.msg, 'x', msg_bytes);
  hl_loop_ops ops = {.name = "bench-client", .count = CLI_OPS, .handler = echo_client_handler,
                     .ctx = &k};
  HL_ASSERT(hl_loop_register_ops(l, &ops, &k.op) == 0);
  for (uint32_t i = 0; i < conns; i++) {
    k.fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(k.fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    HL_ASSERT(hl_loop_connect(l, hl_ud_make(k.op + CLI_CONNECT, 0, i), k.fds[i],
                              (struct sockaddr *)&addr, sizeof(addr), 5000) == 0);
  }
  while (k.connected < conns) {
    hl_loop_run_once(l, -1);
  }
  /* Warm up for 0.5 s, then measure. */
  uint64_t warm_until = hl_clock_mono_ns() + 500000000u;
  while (hl_clock_mono_ns() < warm_until) {
    hl_loop_run_once(l, -1);
  }
  hl_loop_stats s0, s1;
  hl_loop_stats_get(l, &s0);
  size_t m0 = k.messages;
  uint64_t c0 = cpu_ns(), t0 = hl_clock_mono_ns();
  uint64_t end = t0 + (uint64_t)seconds * 1000000000u;
  while (hl_clock_mono_ns() < end) {
    hl_loop_run_once(l, -1);
  }
  uint64_t cpu = cpu_ns() - c0, wall = hl_clock_mono_ns() - t0;
  hl_loop_stats_get(l, &s1);
  size_t msgs = k.messages - m0;
  k.stopping = true;
  while (k.closed < conns) {
    hl_loop_run_once(l, 100);
  }
  uint64_t srv[3] = {0};
  HL_ASSERT(read(report[0], srv, sizeof(srv)) == sizeof(srv));
  close(report[0]);
  waitpid(pid, NULL, 0);
  size_t total = k.messages; /* the server's figures cover the whole run */

  printf("echo ping-pong (%u connections, %u B messages, %u s; machine shared with other work):\n",
         conns, msg_bytes, seconds);
  printf("  %.0f messages/s (round trips), wall %.2f s\n", (double)msgs * 1e9 / (double)wall,
         (double)wall / 1e9);
  printf("  client: %.2f us CPU/message, %.3f io_uring_enter/message, %.1f completions/enter\n",
         (double)cpu / 1000.0 / (double)msgs, (double)(s1.enters - s0.enters) / (double)msgs,
         (double)(s1.cqes - s0.cqes) / (double)(s1.enters - s0.enters));
  printf("  server: %.2f us CPU/message, %.3f io_uring_enter/message (whole run, %zu messages)\n",
         (double)srv[0] / 1000.0 / (double)total, (double)srv[1] / (double)total, total);
  hl_loop_stats_get(l, &s1);
  printf("  io_uring_enter calls counted by the loops, whole run: client %llu, server %llu\n",
         (unsigned long long)s1.enters, (unsigned long long)srv[1]);
  hl_loop_free(l);
  free(k.fds);
  free(k.got);
  free(k.msg);
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "all";
  hl_log_configure(HL_LOG_WARN, HL_LOG_TEXT, 2);
  if (strcmp(what, "timers") == 0 || strcmp(what, "all") == 0) {
    bench_timers();
  }
  if (strcmp(what, "socket") == 0 || strcmp(what, "all") == 0) {
    bench_socket();
  }
  if (strcmp(what, "echo") == 0 || strcmp(what, "all") == 0) {
    uint32_t conns = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 64;
    uint32_t secs = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 5;
    uint32_t bytes = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 64;
    if (conns == 0 || conns > 8000 || secs == 0 || bytes == 0 || bytes > 2048) {
      fprintf(stderr, "usage: loop_bench echo [CONNS 1..8000] [SECONDS] [MSG_BYTES 1..2048]\n");
      return 2;
    }
    bench_echo(conns, secs, bytes);
  }
  return 0;
}
