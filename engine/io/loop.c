/* loop: the io_uring event loop (see loop.h).
 *
 * One iteration = publish returned buffers, one io_uring_enter that submits
 * and waits (DEFER_TASKRUN runs the kernel's completion work inside it),
 * reap every completion in batches, fire due timers. Everything the loop
 * needs is allocated in hl_loop_new. */
#include "io/loop.h"

#include <errno.h>
#include <liburing.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"

/* liburing 2.3's headers predate Linux 6.7: the futex opcode and flag are
 * the kernel's stable uapi values. */
#define HL_IORING_OP_FUTEX_WAIT 51
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif

/* Completions reaped per peek: enough to amortise the ring's atomics. */
#define CQE_BATCH 128
/* Kernel limits (IORING_MAX_ENTRIES, IORING_MAX_CQ_ENTRIES). */
#define SQ_ENTRIES_MAX 32768u
#define CQ_ENTRIES_MAX 65536u
#define RECV_BUF_BYTES_MIN 64u
#define RECV_BUF_BYTES_MAX (1u << 20)
#define OPS_MAX 255u /* op ids 1..254; 255 would let a user_data be liburing's reserved ~0 */

/* The loop's own completions: op 0, the kind in the slot field. */
enum { INTERNAL_IGNORE = 0, INTERNAL_WAKE = 1, INTERNAL_SIGNAL = 2 };

typedef struct op_entry {
  hl_loop_handler handler;
  void *ctx;
  hl_slots *slots;
  const char *name;
  uint8_t base;
} op_entry;

struct hl_loop {
  struct io_uring ring;
  bool ring_ready;
  bool in_dispatch;
  bool draining;
  uint8_t ops_next;
  unsigned features;
  unsigned rearm; /* internal reads that could not be re-armed yet (bit per kind) */
  pthread_t thread;
  uint64_t now_ns;
  uint64_t now_ms;
  uint32_t sq_entries;
  uint32_t cq_entries;
  hl_loop_stats stats;

  /* Provided buffers: one ring (group 0) and the memory behind it. */
  struct io_uring_buf_ring *br;
  size_t br_bytes;
  char *bufs;
  size_t bufs_bytes;
  uint32_t nbufs;
  uint32_t buf_bytes;
  uint32_t buf_returns; /* added to the ring since the last publish */
  uint8_t *buf_held;    /* 1 while a handler owns the buffer */

  /* Per-SQE storage for timespecs the kernel reads at submission. */
  struct __kernel_timespec *sqe_ts;

  int wake_fd;
  uint64_t wake_value;
  hl_loop_wake_fn on_wake;
  void *wake_ctx;
  int signal_fd;
  struct signalfd_siginfo siginfo;
  hl_loop_signal_fn on_signal;
  void *signal_ctx;

  op_entry ops[256]; /* indexed by any op byte; ids >= OPS_MAX stay empty */
  hl_timer_wheel wheel;

  /* Written by other threads: on their own cache line. */
  _Alignas(64) atomic_int stop_requested;
  atomic_int wake_pending;
};

hl_loop_options hl_loop_options_default(void) {
  return (hl_loop_options){
      .sq_entries = HL_LOOP_ENTRIES,
      .cq_entries = HL_LOOP_CQ_ENTRIES,
      .recv_bufs = HL_RECV_BUFS,
      .recv_buf_bytes = HL_RECV_BUF_BYTES,
  };
}

static bool is_pow2(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

static void clock_update(hl_loop *l) {
  l->now_ns = hl_clock_mono_ns();
  l->now_ms = l->now_ns / 1000000u;
}

/* --- submission ------------------------------------------------------------ */

static int submit_now(hl_loop *l) {
  l->stats.enters++;
  return io_uring_submit(&l->ring);
}

/* sqe_reserve makes room for |n| SQEs, submitting what is queued if the SQ
 * is full. */
static int sqe_reserve(hl_loop *l, unsigned n) {
  if (HL_LIKELY(io_uring_sq_space_left(&l->ring) >= n)) {
    return 0;
  }
  l->stats.sq_full++;
  submit_now(l);
  if (io_uring_sq_space_left(&l->ring) >= n) {
    return 0;
  }
  l->stats.submit_busy++;
  return -EBUSY;
}

/* sqe_take returns a reserved SQE labelled |ud| and counts it in flight. */
static struct io_uring_sqe *sqe_take(hl_loop *l, uint64_t ud) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
  HL_ASSERT(sqe != NULL); /* reserved */
  io_uring_sqe_set_data64(sqe, ud);
  l->stats.sqes++;
  l->stats.inflight++;
  uint8_t op = hl_ud_op(ud);
  if (op != 0 && l->ops[op].slots != NULL) {
    hl_slots_op_started(l->ops[op].slots, hl_ud_slot(ud), hl_ud_gen(ud));
  }
  return sqe;
}

/* op_sqe starts an owner's submission of |n| SQEs and returns the first. */
static int op_sqe(hl_loop *l, uint64_t ud, unsigned n, struct io_uring_sqe **sqe) {
  uint8_t op = hl_ud_op(ud);
  HL_ASSERT(op != 0 ? l->ops[op].handler != NULL : ud == HL_UD_NONE);
  if (HL_UNLIKELY(l->draining)) {
    return -ESHUTDOWN;
  }
  int r = sqe_reserve(l, n);
  if (r == 0) {
    *sqe = sqe_take(l, ud);
  }
  return r;
}

/* internal_sqe: an SQE of the loop's own, allowed while draining. */
static struct io_uring_sqe *internal_sqe(hl_loop *l, unsigned kind) {
  if (sqe_reserve(l, 1) != 0) {
    return NULL;
  }
  return sqe_take(l, hl_ud_make(0, 0, kind));
}

int hl_loop_nop(hl_loop *l, uint64_t ud) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r == 0) {
    io_uring_prep_nop(sqe);
  }
  return r;
}

int hl_loop_socket(hl_loop *l, uint64_t ud, int domain, int type, int protocol) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r == 0) {
    io_uring_prep_socket(sqe, domain, type, protocol, 0);
  }
  return r;
}

int hl_loop_connect(hl_loop *l, uint64_t ud, int fd, const struct sockaddr *addr,
                    socklen_t addr_len, uint32_t timeout_ms) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, timeout_ms > 0 ? 2 : 1, &sqe);
  if (r != 0) {
    return r;
  }
  io_uring_prep_connect(sqe, fd, addr, addr_len);
  if (timeout_ms > 0) {
    /* The linked timeout is the loop's: its own completion is consumed
     * here, so the owner sees exactly one completion per connect. */
    sqe->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *t = sqe_take(l, hl_ud_make(0, 0, INTERNAL_IGNORE));
    struct __kernel_timespec *ts = &l->sqe_ts[t - l->ring.sq.sqes];
    ts->tv_sec = timeout_ms / 1000u;
    ts->tv_nsec = (long long)(timeout_ms % 1000u) * 1000000;
    io_uring_prep_link_timeout(t, ts, 0);
  }
  return 0;
}

int hl_loop_send(hl_loop *l, uint64_t ud, int fd, const void *buf, size_t len, int flags) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r == 0) {
    io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL);
  }
  return r;
}

int hl_loop_sendmsg(hl_loop *l, uint64_t ud, int fd, const struct msghdr *msg, int flags) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r == 0) {
    io_uring_prep_sendmsg(sqe, fd, msg, (unsigned)(flags | MSG_NOSIGNAL));
  }
  return r;
}

int hl_loop_recv(hl_loop *l, uint64_t ud, int fd, void *buf, size_t len, int flags) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r == 0) {
    io_uring_prep_recv(sqe, fd, buf, len, flags);
  }
  return r;
}

int hl_loop_recv_multishot(hl_loop *l, uint64_t ud, int fd) {
  if (l->br == NULL) {
    return -EINVAL;
  }
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r == 0) {
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
  }
  return r;
}

int hl_loop_accept(hl_loop *l, uint64_t ud, int fd, bool multishot) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r != 0) {
    return r;
  }
  if (multishot) {
    io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  } else {
    io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  }
  return 0;
}

int hl_loop_poll(hl_loop *l, uint64_t ud, int fd, unsigned events, bool multishot) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r != 0) {
    return r;
  }
  if (multishot) {
    io_uring_prep_poll_multishot(sqe, fd, events);
  } else {
    io_uring_prep_poll_add(sqe, fd, events);
  }
  return 0;
}

int hl_loop_read(hl_loop *l, uint64_t ud, int fd, void *buf, uint32_t len) {
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r == 0) {
    io_uring_prep_read(sqe, fd, buf, len, (uint64_t)-1);
  }
  return r;
}

int hl_loop_futex_wait(hl_loop *l, uint64_t ud, const uint32_t *word, uint32_t expected) {
  if (!(l->features & HL_LOOP_F_FUTEX)) {
    return -EOPNOTSUPP;
  }
  struct io_uring_sqe *sqe;
  int r = op_sqe(l, ud, 1, &sqe);
  if (r == 0) {
    /* The kernel's layout: fd = FUTEX2 flags (shared, 32-bit: a producer
     * process's FUTEX_WAKE must reach it), addr = word, addr2 = expected
     * value, addr3 = wake bitmask; futex_flags stays 0. */
    io_uring_prep_rw(HL_IORING_OP_FUTEX_WAIT, sqe, FUTEX2_SIZE_U32, word, 0, expected);
    sqe->addr3 = FUTEX_BITSET_MATCH_ANY;
  }
  return r;
}

/* Teardown submissions (close, cancel) are the loop's own SQEs (or the
 * owner's for close) and stay allowed while draining, so that handlers that
 * see -ECANCELED can still close their fds. */
int hl_loop_close(hl_loop *l, uint64_t ud, int fd) {
  uint8_t op = hl_ud_op(ud);
  HL_ASSERT(op != 0 ? l->ops[op].handler != NULL : ud == HL_UD_NONE);
  int r = sqe_reserve(l, 1);
  if (r == 0) {
    io_uring_prep_close(sqe_take(l, ud), fd);
  }
  return r;
}

int hl_loop_cancel(hl_loop *l, uint64_t ud) {
  struct io_uring_sqe *sqe = internal_sqe(l, INTERNAL_IGNORE);
  if (sqe == NULL) {
    return -EBUSY;
  }
  io_uring_prep_cancel64(sqe, ud, IORING_ASYNC_CANCEL_ALL);
  return 0;
}

int hl_loop_cancel_fd(hl_loop *l, int fd) {
  struct io_uring_sqe *sqe = internal_sqe(l, INTERNAL_IGNORE);
  if (sqe == NULL) {
    return -EBUSY;
  }
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  return 0;
}

static int cancel_any(hl_loop *l) {
  struct io_uring_sqe *sqe = internal_sqe(l, INTERNAL_IGNORE);
  if (sqe == NULL) {
    return -EBUSY;
  }
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
  return 0;
}

/* --- provided buffers ------------------------------------------------------ */

void hl_loop_buf_release(hl_loop *l, uint16_t buf_id) {
  HL_ASSERT(buf_id < l->nbufs && l->buf_held[buf_id]);
  l->buf_held[buf_id] = 0;
  l->stats.bufs_out--;
  io_uring_buf_ring_add(l->br, l->bufs + (size_t)buf_id * l->buf_bytes, l->buf_bytes, buf_id,
                        io_uring_buf_ring_mask(l->nbufs), (int)l->buf_returns);
  l->buf_returns++;
}

/* bufs_publish makes this iteration's returns visible to the kernel: one
 * release store for the whole batch. */
static void bufs_publish(hl_loop *l) {
  if (l->buf_returns > 0) {
    io_uring_buf_ring_advance(l->br, (int)l->buf_returns);
    l->buf_returns = 0;
  }
}

uint32_t hl_loop_bufs_free(const hl_loop *l) {
  return l->nbufs - (uint32_t)l->stats.bufs_out;
}

uint32_t hl_loop_buf_bytes(const hl_loop *l) {
  return l->buf_bytes;
}

/* --- completion ------------------------------------------------------------ */

static int arm_internal_read(hl_loop *l, unsigned kind) {
  struct io_uring_sqe *sqe = internal_sqe(l, kind);
  if (sqe == NULL) {
    l->rearm |= 1u << kind;
    return -EBUSY;
  }
  l->rearm &= ~(1u << kind);
  if (kind == INTERNAL_WAKE) {
    io_uring_prep_read(sqe, l->wake_fd, &l->wake_value, sizeof(l->wake_value), (uint64_t)-1);
  } else {
    io_uring_prep_read(sqe, l->signal_fd, &l->siginfo, sizeof(l->siginfo), (uint64_t)-1);
  }
  return 0;
}

static void internal_complete(hl_loop *l, const hl_loop_cqe *c) {
  if (c->slot == INTERNAL_WAKE) {
    /* Clear before calling on_wake: a wake that races with on_wake's queue
     * drain writes the eventfd again and the re-armed read sees it. */
    atomic_store(&l->wake_pending, 0);
    if (c->res > 0) {
      l->stats.wakes++;
      if (l->on_wake != NULL) {
        l->on_wake(l, l->wake_ctx);
      }
    }
    if (!l->draining) {
      arm_internal_read(l, INTERNAL_WAKE);
    }
  } else if (c->slot == INTERNAL_SIGNAL) {
    if (c->res == (int32_t)sizeof(l->siginfo)) {
      l->stats.signals++;
      if (l->on_signal != NULL) {
        l->on_signal(l, l->signal_ctx, (int)l->siginfo.ssi_signo);
      } else {
        hl_loop_stop(l);
      }
    }
    if (!l->draining) {
      arm_internal_read(l, INTERNAL_SIGNAL);
    }
  }
}

static void dispatch(hl_loop *l, const struct io_uring_cqe *cqe) {
  uint64_t ud = cqe->user_data;
  hl_loop_cqe c = {
      .res = cqe->res,
      .flags = cqe->flags,
      .slot = hl_ud_slot(ud),
      .gen = hl_ud_gen(ud),
      .op = hl_ud_op(ud),
      .more = (cqe->flags & IORING_CQE_F_MORE) != 0,
  };
  if (!c.more) {
    HL_ASSERT(l->stats.inflight > 0);
    l->stats.inflight--;
  }
  if (cqe->flags & IORING_CQE_F_BUFFER) {
    uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    HL_ASSERT(bid < l->nbufs && !l->buf_held[bid]);
    l->buf_held[bid] = 1;
    l->stats.bufs_out++;
    c.buf = l->bufs + (size_t)bid * l->buf_bytes;
    c.buf_id = bid;
  }
  if (c.res == -ENOBUFS) {
    l->stats.bufs_exhausted++;
  }
  if (c.op == 0) {
    HL_ASSERT(c.buf == NULL); /* the loop's own ops never select buffers */
    internal_complete(l, &c);
    return;
  }
  const op_entry *e = &l->ops[c.op];
  HL_ASSERT(e->handler != NULL);
  if (e->slots != NULL && !hl_slots_op_completed(e->slots, c.slot, c.gen, !c.more)) {
    l->stats.stale++;
    if (c.buf != NULL) {
      hl_loop_buf_release(l, c.buf_id);
    }
    return;
  }
  c.kind = (uint8_t)(c.op - e->base);
  e->handler(l, e->ctx, &c);
}

/* reap dispatches every completion in the CQ, a batch at a time. Bounded by
 * the CQ size so that timers still run when completions keep coming. */
static unsigned reap(hl_loop *l) {
  struct io_uring_cqe *cqes[CQE_BATCH];
  unsigned total = 0;
  while (total < l->cq_entries) {
    unsigned n = io_uring_peek_batch_cqe(&l->ring, cqes, CQE_BATCH);
    if (n == 0) {
      break;
    }
    for (unsigned i = 0; i < n; i++) {
      dispatch(l, cqes[i]);
    }
    io_uring_cq_advance(&l->ring, n);
    total += n;
  }
  l->stats.cqes += total;
  return total;
}

/* enter submits what is queued and waits for one completion, bounded by
 * |timeout_ms| (< 0: none) and by the timer wheel: one io_uring_enter. */
static int enter(hl_loop *l, int timeout_ms) {
  bool wait = timeout_ms != 0 && !atomic_load_explicit(&l->stop_requested, memory_order_relaxed);
  int64_t wait_ns = timeout_ms > 0 ? (int64_t)timeout_ms * 1000000 : -1;
  uint64_t next_ms = hl_timer_wheel_next_ms(&l->wheel);
  if (wait && next_ms != UINT64_MAX) {
    uint64_t now_ns = hl_clock_mono_ns();
    uint64_t now_ms = now_ns / 1000000u;
    if (next_ms <= now_ms) {
      wait = false;
    } else {
      /* Far deadlines are capped so the arithmetic cannot overflow; the
       * loop simply wakes once more before them. */
      uint64_t ahead_ms = next_ms - now_ms < (UINT64_C(1) << 31) ? next_ms - now_ms : UINT64_C(1) << 31;
      int64_t until_ns = (int64_t)(ahead_ms * 1000000u - now_ns % 1000000u);
      if (wait_ns < 0 || until_ns < wait_ns) {
        wait_ns = until_ns;
      }
    }
  }
  l->stats.enters++;
  int r;
  if (!wait) {
    r = io_uring_submit_and_get_events(&l->ring);
  } else if (wait_ns < 0) {
    r = io_uring_submit_and_wait(&l->ring, 1);
  } else {
    struct __kernel_timespec ts = {.tv_sec = wait_ns / 1000000000,
                                   .tv_nsec = wait_ns % 1000000000};
    struct io_uring_cqe *cqe;
    r = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
  }
  /* Timed out, interrupted, or the CQ is backed up (reaping fixes it). */
  if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
    return r;
  }
  return 0;
}

int hl_loop_run_once(hl_loop *l, int timeout_ms) {
  HL_ASSERT(!l->in_dispatch);
  HL_ASSERT(pthread_equal(pthread_self(), l->thread));
  l->stats.iterations++;
  for (unsigned kind = INTERNAL_WAKE; l->rearm != 0 && kind <= INTERNAL_SIGNAL; kind++) {
    if ((l->rearm & (1u << kind)) && !l->draining) {
      arm_internal_read(l, kind);
    }
  }
  bufs_publish(l);
  int r = enter(l, timeout_ms);
  if (r < 0) {
    return r;
  }
  clock_update(l);
  l->in_dispatch = true;
  unsigned n = reap(l);
  size_t fired = hl_timer_wheel_expire(&l->wheel, l->now_ms, l);
  l->in_dispatch = false;
  l->stats.timers_fired += fired;
  return (int)(n + fired);
}

int hl_loop_run(hl_loop *l) {
  while (!atomic_exchange(&l->stop_requested, 0)) {
    int r = hl_loop_run_once(l, -1);
    if (r < 0) {
      return r;
    }
  }
  return 0;
}

void hl_loop_stop(hl_loop *l) {
  atomic_store(&l->stop_requested, 1);
  hl_loop_wake(l);
}

void hl_loop_wake(hl_loop *l) {
  if (atomic_exchange(&l->wake_pending, 1) == 0) {
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof(one)) < 0) {
      /* EAGAIN: the counter is saturated, so a wake is pending anyway. */
    }
  }
}

int hl_loop_drain(hl_loop *l, int timeout_ms) {
  HL_ASSERT(!l->in_dispatch);
  l->draining = true;
  uint64_t deadline_ms = hl_clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
  if (l->stats.inflight > 0 && cancel_any(l) != 0) {
    return -EBUSY;
  }
  while (l->stats.inflight > 0) {
    uint64_t now_ms = hl_clock_mono_ms();
    if (now_ms >= deadline_ms) {
      return -ETIMEDOUT;
    }
    int r = hl_loop_run_once(l, (int)(deadline_ms - now_ms));
    if (r < 0) {
      return r;
    }
  }
  return 0;
}

bool hl_loop_draining(const hl_loop *l) {
  return l->draining;
}

/* drain_silently: hl_loop_free's last resort. It consumes completions
 * without dispatching them (the owners may be gone), so the kernel holds no
 * reference to loop memory when the ring is torn down. */
static bool drain_silently(hl_loop *l, int timeout_ms) {
  l->draining = true;
  if (l->stats.inflight == 0) {
    return true;
  }
  cancel_any(l);
  uint64_t deadline_ms = hl_clock_mono_ms() + (uint64_t)timeout_ms;
  while (l->stats.inflight > 0) {
    uint64_t now_ms = hl_clock_mono_ms();
    if (now_ms >= deadline_ms) {
      return false;
    }
    uint64_t wait_ms = deadline_ms - now_ms;
    struct __kernel_timespec ts = {.tv_sec = (long long)(wait_ms / 1000),
                                   .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
    struct io_uring_cqe *cqe;
    l->stats.enters++;
    io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
    struct io_uring_cqe *cqes[CQE_BATCH];
    unsigned n;
    while ((n = io_uring_peek_batch_cqe(&l->ring, cqes, CQE_BATCH)) > 0) {
      for (unsigned i = 0; i < n; i++) {
        if (!(cqes[i]->flags & IORING_CQE_F_MORE)) {
          l->stats.inflight--;
        }
      }
      io_uring_cq_advance(&l->ring, n);
    }
  }
  return true;
}

/* --- owners ------------------------------------------------------------------ */

int hl_loop_register_ops(hl_loop *l, const hl_loop_ops *ops, uint8_t *base) {
  if (ops->count == 0 || ops->handler == NULL) {
    return -EINVAL;
  }
  if ((unsigned)l->ops_next + ops->count > OPS_MAX) {
    return -ENOSPC;
  }
  uint8_t first = l->ops_next;
  for (unsigned i = 0; i < ops->count; i++) {
    l->ops[first + i] = (op_entry){.handler = ops->handler,
                                   .ctx = ops->ctx,
                                   .slots = ops->slots,
                                   .name = ops->name,
                                   .base = first};
  }
  l->ops_next = (uint8_t)(first + ops->count);
  *base = first;
  HL_LOG(HL_LOG_DEBUG, "io_uring ops registered", HL_F_STR("owner", ops->name ? ops->name : "?"),
         HL_F_UINT("first", first), HL_F_UINT("count", ops->count));
  return 0;
}

/* --- lifecycle -------------------------------------------------------------- */

static int check_options(const hl_loop_options *o, hl_err *err) {
  if (!is_pow2(o->sq_entries) || o->sq_entries > SQ_ENTRIES_MAX) {
    return hl_err_fail(err, -EINVAL, "loop: sq_entries %u must be a power of two up to %u",
                       o->sq_entries, SQ_ENTRIES_MAX);
  }
  if (!is_pow2(o->cq_entries) || o->cq_entries > CQ_ENTRIES_MAX ||
      o->cq_entries < 2 * o->sq_entries) {
    return hl_err_fail(err, -EINVAL,
                       "loop: cq_entries %u must be a power of two between 2 * sq_entries (%u) "
                       "and %u",
                       o->cq_entries, 2 * o->sq_entries, CQ_ENTRIES_MAX);
  }
  if (o->recv_bufs != 0 &&
      (!is_pow2(o->recv_bufs) || o->recv_bufs > HL_LOOP_BUF_RING_ENTRIES_MAX)) {
    return hl_err_fail(err, -EINVAL, "loop: recv_bufs %u must be 0 or a power of two up to %u",
                       o->recv_bufs, HL_LOOP_BUF_RING_ENTRIES_MAX);
  }
  if (o->recv_bufs != 0 &&
      (o->recv_buf_bytes < RECV_BUF_BYTES_MIN || o->recv_buf_bytes > RECV_BUF_BYTES_MAX)) {
    return hl_err_fail(err, -EINVAL, "loop: recv_buf_bytes %u must be between %u and %u",
                       o->recv_buf_bytes, RECV_BUF_BYTES_MIN, RECV_BUF_BYTES_MAX);
  }
  return 0;
}

/* ring_setup asks for the fastest setup this kernel accepts: SINGLE_ISSUER +
 * DEFER_TASKRUN (completion work runs only inside our io_uring_enter, no
 * inter-processor interrupts), then COOP_TASKRUN, then plain. */
static int ring_setup(hl_loop *l, const hl_loop_options *o, hl_err *err) {
  const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  const unsigned tries[] = {
      base | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      base | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
      base | IORING_SETUP_COOP_TASKRUN,
      base,
  };
  int r = -EINVAL;
  int refused = 0; /* why the preferred flags were refused */
  for (size_t i = o->no_defer_taskrun ? 1 : 0; i < HL_ARRAY_LEN(tries); i++) {
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = tries[i];
    p.cq_entries = o->cq_entries;
    r = io_uring_queue_init_params(o->sq_entries, &l->ring, &p);
    if (r == 0) {
      if (tries[i] & IORING_SETUP_DEFER_TASKRUN) {
        l->features |= HL_LOOP_F_DEFER_TASKRUN;
      } else if (refused != 0) {
        HL_LOG(HL_LOG_WARN,
               "io_uring: kernel refused SINGLE_ISSUER/DEFER_TASKRUN; running with fewer setup "
               "flags (more syscalls and interrupts per completion)",
               HL_F_UINT("setup_flags", tries[i]), HL_F_INT("errno", -refused));
      } else {
        HL_LOG(HL_LOG_INFO, "io_uring: DEFER_TASKRUN disabled by option");
      }
      l->sq_entries = p.sq_entries;
      l->cq_entries = p.cq_entries;
      return 0;
    }
    if (r != -EINVAL) {
      break; /* not a flag problem: ENOMEM, EPERM, EMFILE */
    }
    refused = r;
  }
  return hl_err_fail(err, r,
                     "io_uring: setup failed (%s); check /proc/sys/kernel/io_uring_disabled and "
                     "the memlock and open-file limits",
                     strerror(-r));
}

static int bufs_setup(hl_loop *l, const hl_loop_options *o, hl_err *err) {
  l->nbufs = o->recv_bufs;
  l->buf_bytes = o->recv_buf_bytes;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  l->br_bytes = ((size_t)l->nbufs * sizeof(struct io_uring_buf) + page - 1) / page * page;
  l->bufs_bytes = (size_t)l->nbufs * l->buf_bytes;
  /* The ring must be page aligned (liburing 2.3 has no io_uring_setup_buf_
   * ring to do this); mmap gives that. Buffer memory is touched lazily. */
  void *br = mmap(NULL, l->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *bufs = mmap(NULL, l->bufs_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  l->br = br == MAP_FAILED ? NULL : br;
  l->bufs = bufs == MAP_FAILED ? NULL : bufs;
  l->buf_held = calloc(l->nbufs, 1);
  if (l->br == NULL || l->bufs == NULL || l->buf_held == NULL) {
    return hl_err_fail(err, -ENOMEM, "loop: cannot allocate %u receive buffers of %u bytes",
                       l->nbufs, l->buf_bytes);
  }
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = (uintptr_t)l->br;
  reg.ring_entries = l->nbufs;
  reg.bgid = 0;
  int r = io_uring_register_buf_ring(&l->ring, &reg, 0);
  if (r < 0) {
    munmap(l->br, l->br_bytes);
    l->br = NULL;
    return hl_err_fail(err, r, "io_uring: registering the provided-buffer ring failed (%s)",
                       strerror(-r));
  }
  io_uring_buf_ring_init(l->br);
  int mask = io_uring_buf_ring_mask(l->nbufs);
  for (uint32_t i = 0; i < l->nbufs; i++) {
    io_uring_buf_ring_add(l->br, l->bufs + (size_t)i * l->buf_bytes, l->buf_bytes, (uint16_t)i,
                          mask, (int)i);
  }
  io_uring_buf_ring_advance(l->br, (int)l->nbufs);
  l->features |= HL_LOOP_F_BUF_RING;
  return 0;
}

static void probe_features(hl_loop *l) {
  if (io_uring_register_ring_fd(&l->ring) == 1) {
    l->features |= HL_LOOP_F_REG_RING;
  }
  struct io_uring_probe *p = io_uring_get_probe_ring(&l->ring);
  if (p != NULL) {
    if (io_uring_opcode_supported(p, HL_IORING_OP_FUTEX_WAIT)) {
      l->features |= HL_LOOP_F_FUTEX;
    }
    if (io_uring_opcode_supported(p, IORING_OP_SOCKET)) {
      l->features |= HL_LOOP_F_SOCKET;
    }
    io_uring_free_probe(p);
  }
}

static int fds_setup(hl_loop *l, const hl_loop_options *o, hl_err *err) {
  l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->wake_fd < 0) {
    return hl_err_fail(err, -errno, "loop: eventfd failed (%s)", strerror(errno));
  }
  arm_internal_read(l, INTERNAL_WAKE);
  if (!o->handle_signals) {
    return 0;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  l->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (l->signal_fd < 0) {
    return hl_err_fail(err, -errno, "loop: signalfd failed (%s)", strerror(errno));
  }
  arm_internal_read(l, INTERNAL_SIGNAL);
  return 0;
}

int hl_loop_new(const hl_loop_options *o, hl_loop **out, hl_err *err) {
  *out = NULL;
  int r = check_options(o, err);
  if (r < 0) {
    return r;
  }
  hl_loop *l = aligned_alloc(64, (sizeof(*l) + 63) / 64 * 64);
  if (l == NULL) {
    return hl_err_fail(err, -ENOMEM, "loop: out of memory");
  }
  memset(l, 0, sizeof(*l));
  l->wake_fd = -1;
  l->signal_fd = -1;
  l->ops_next = 1;
  l->thread = pthread_self();
  l->on_wake = o->on_wake;
  l->wake_ctx = o->wake_ctx;
  l->on_signal = o->on_signal;
  l->signal_ctx = o->signal_ctx;
  atomic_init(&l->stop_requested, 0);
  atomic_init(&l->wake_pending, 0);
  clock_update(l);
  hl_timer_wheel_init(&l->wheel, l->now_ms);

  r = ring_setup(l, o, err);
  if (r < 0) {
    goto fail;
  }
  l->ring_ready = true;
  probe_features(l);
  l->sqe_ts = calloc(l->sq_entries, sizeof(*l->sqe_ts));
  if (l->sqe_ts == NULL) {
    r = hl_err_fail(err, -ENOMEM, "loop: out of memory");
    goto fail;
  }
  if (o->recv_bufs > 0 && (r = bufs_setup(l, o, err)) < 0) {
    goto fail;
  }
  if ((r = fds_setup(l, o, err)) < 0) {
    goto fail;
  }
  HL_LOG(HL_LOG_INFO, "io_uring loop ready", HL_F_UINT("sq_entries", l->sq_entries),
         HL_F_UINT("cq_entries", l->cq_entries),
         HL_F_BOOL("defer_taskrun", l->features & HL_LOOP_F_DEFER_TASKRUN),
         HL_F_BOOL("futex_wait", l->features & HL_LOOP_F_FUTEX),
         HL_F_BOOL("registered_ring", l->features & HL_LOOP_F_REG_RING),
         HL_F_UINT("recv_bufs", l->nbufs), HL_F_UINT("recv_buf_bytes", l->buf_bytes));
  *out = l;
  return 0;
fail:
  hl_loop_free(l);
  return r;
}

void hl_loop_free(hl_loop *l) {
  if (l == NULL) {
    return;
  }
  HL_ASSERT(!l->in_dispatch);
  /* SINGLE_ISSUER: another thread's io_uring_enter would fail, the drain
   * would time out and everything would leak. */
  HL_ASSERT(pthread_equal(pthread_self(), l->thread));
  bool drained = true;
  if (l->ring_ready) {
    drained = drain_silently(l, HL_LOOP_DRAIN_TIMEOUT_MS);
    if (l->br != NULL) {
      io_uring_unregister_buf_ring(&l->ring, 0);
    }
    io_uring_queue_exit(&l->ring);
  }
  if (!drained) {
    /* An op the kernel would not cancel may still write into the buffers or
     * the loop itself: leak them rather than hand that memory to others. */
    HL_LOG(HL_LOG_WARN, "io_uring loop freed with operations still in flight",
           HL_F_UINT("inflight", l->stats.inflight));
    return;
  }
  if (l->br != NULL) {
    munmap(l->br, l->br_bytes);
  }
  if (l->bufs != NULL) {
    munmap(l->bufs, l->bufs_bytes);
  }
  if (l->wake_fd >= 0) {
    close(l->wake_fd);
  }
  if (l->signal_fd >= 0) {
    close(l->signal_fd);
  }
  free(l->buf_held);
  free(l->sqe_ts);
  free(l);
}

/* --- accessors ---------------------------------------------------------------- */

uint64_t hl_loop_now_ms(const hl_loop *l) {
  return l->now_ms;
}

uint64_t hl_loop_now_ns(const hl_loop *l) {
  return l->now_ns;
}

hl_timer_wheel *hl_loop_timer_wheel(hl_loop *l) {
  return &l->wheel;
}

unsigned hl_loop_features(const hl_loop *l) {
  return l->features;
}

void hl_loop_stats_get(const hl_loop *l, hl_loop_stats *out) {
  *out = l->stats;
  out->timers_armed = l->wheel.armed;
}
