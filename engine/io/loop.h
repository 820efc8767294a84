/* loop: the io_uring event loop every network part of hookline runs on.
 *
 * One hl_loop per worker thread. It owns the ring, a provided-buffer ring for
 * multishot receives, a timer wheel (io/timer.h), an eventfd through which
 * other threads wake it, an optional signalfd for SIGINT/SIGTERM, and the
 * table that routes each completion to the module that submitted it. It
 * knows nothing about connections, TLS or HTTP: modules ("owners") sit on
 * top of it through the contract below. It must not be touched from another
 * thread, except through hl_loop_wake() and hl_loop_stop().
 *
 * ---- Ops and user_data ----------------------------------------------------
 * Every submission carries a 64-bit user_data, never a pointer:
 *
 *     bits 63..56 op    which owner, and which of its operation kinds
 *     bits 55..32 gen   the owner's slot generation (24 bits)
 *     bits 31..0  slot  the owner's slot index
 *
 * At init an owner registers a contiguous range of op ids with one handler
 * (hl_loop_register_ops): {name, count, handler, ctx, slots}. It gets back
 * the first id (|base|) and uses `base + kind` for its own kinds
 * (CONN_OP_CONNECT, CONN_OP_SEND, ...); the handler receives `kind` already
 * made relative. New modules therefore add ops without touching the loop.
 * Op 0 is the loop's own; ids run out after 254 (-ENOSPC).
 *
 * If the owner passes an hl_slots table (io/slots.h), the loop keeps that
 * table's in-flight counts: +1 for each submission on a slot, -1 for each
 * final completion (no IORING_CQE_F_MORE), and it drops "stale" completions
 * (slot released, generation moved on) before they reach the handler —
 * returning any provided buffer they carried. The owner then only acquires,
 * releases, and builds user_data with hl_slots_ud(slots, base + kind, slot).
 * Without a table (slots == NULL) gen and slot are the owner's to use as it
 * likes and the handler sees every completion.
 *
 * ---- An owner, e.g. the connection module -----------------------------------
 *   enum { CONN_OP_CONNECT, CONN_OP_SEND, CONN_OP_RECV, CONN_OP_COUNT };
 *   typedef struct conn { int fd; hl_timer deadline; ... } conn;  // conns[slot]
 *   init:  hl_slots_init(&m->slots, conns_max, conn_on_free, m);
 *          hl_loop_register_ops(loop, &(hl_loop_ops){"conn", CONN_OP_COUNT,
 *                               conn_handler, m, &m->slots}, &m->op);
 *   open:  hl_slots_acquire(&m->slots, &slot)      // -ENOSPC: refuse, counted
 *          hl_loop_connect(loop, hl_slots_ud(&m->slots, m->op + CONN_OP_CONNECT,
 *                          slot), fd, addr, len, connect_timeout_ms);
 *          hl_timer_arm_in(loop, &c->deadline, response_timeout_ms, on_timeout);
 *   handler: switch (c->kind) on the owner's own op numbers; conns[c->slot].
 *   close (the order matters):
 *          hl_timer_cancel(loop, &c->deadline);    // synchronous
 *          hl_loop_cancel_fd(loop, c->fd);         // pending ops end -ECANCELED
 *          hl_loop_close(loop, HL_UD_NONE, c->fd); // runs after the cancel
 *          hl_slots_release(&m->slots, slot);      // generation++; conn_on_free
 *                                                  // once the last CQE is in
 *   Timers are not io_uring ops: cancel them yourself before releasing, and
 *   reach the owner from the callback with HL_CONTAINER_OF. Keep one send
 *   in flight per stream socket (queue the rest): two sends in flight may
 *   interleave their bytes if the first one is short. Closing an fd does
 *   not cancel io_uring ops on it (they hold the file): cancel first.
 *   tests/it_loop_test.c has a complete client and echo server in this form.
 *
 * ---- Completions ------------------------------------------------------------
 * Handlers run only on the loop's thread, inside hl_loop_run_once() (or
 * hl_loop_drain()), never inside a submit call. A handler may submit ops,
 * arm/cancel timers, release slots and return buffers; it must not call
 * hl_loop_run_once / run / drain / free (asserted). A failed submit (< 0)
 * never produces a completion. Each successful submit produces exactly one
 * final completion; multishot ops produce any number of completions with
 * `more` set before it. Completions arrive in batches, in kernel order; a
 * completion can be for a slot that an earlier completion in the same batch
 * released — the loop drops it as stale, which is why user_data holds a
 * generation.
 *
 * Memory named in a submission (buffers, iovecs, msghdr, sockaddr, the
 * futex word) must stay valid and untouched until that op's final
 * completion. For an owner with a slot table this is the moment the slot
 * comes back through on_free.
 *
 * ---- Errors -------------------------------------------------------------------
 * Functions return 0 or a negative errno. Submit helpers fail with:
 *   -EBUSY      the submission queue is full and the kernel would not take
 *               it (rare: the CQ ring is backed up); retry on a later pass.
 *   -ESHUTDOWN  the loop is draining (hl_loop_drain) and takes no new work.
 *   -EINVAL     the op needs something this loop lacks (no buffer ring).
 *   -EOPNOTSUPP the kernel lacks the op (futex wait before Linux 6.7).
 * Completion results (hl_loop_cqe.res) are the kernel's: >= 0 success,
 * -errno failure; -ECANCELED after hl_loop_cancel*, after a connect deadline,
 * and for every op still in flight when hl_loop_drain runs.
 *
 * ---- Provided buffers (multishot receive) ------------------------------------
 * With options.recv_bufs > 0 the loop registers one buffer ring (group 0) of
 * recv_bufs buffers of recv_buf_bytes. A completion carrying a buffer has
 * c->buf != NULL (c->res bytes of data) and c->buf_id: ownership of that
 * buffer passes to the handler, which must give it back with
 * hl_loop_buf_release(loop, c->buf_id) — at once, or later (e.g. when a send
 * that echoes from it completes). Returns are published to the kernel in
 * one batch per iteration. When the ring is empty a multishot receive ends
 * with -ENOBUFS (counted in stats.bufs_exhausted) and its data stays in the
 * socket; re-arm it when hl_loop_bufs_free(loop) > 0 (buffers released in
 * this pass count), else from a short timer. (When many receives hit an
 * empty ring together they all re-arm and most end with -ENOBUFS again:
 * correct, but size the ring so that this is rare.)
 *
 * ---- Time -----------------------------------------------------------------
 * hl_loop_now_ms() is CLOCK_MONOTONIC, read once per iteration right after
 * io_uring_enter returns; timers (io/timer.h) compare against it. The loop
 * sleeps in io_uring_enter until a completion, a wake-up, or the timer
 * wheel's next boundary: one io_uring_enter per iteration submits, waits and
 * reaps.
 *
 * ---- Shutdown -------------------------------------------------------------
 *   hl_loop_stop(loop)          run() returns after the current iteration
 *   hl_loop_drain(loop, ms)     cancels everything in flight and dispatches
 *                               the -ECANCELED completions, so slot tables
 *                               empty and owners can free their memory;
 *                               afterwards submits fail with -ESHUTDOWN
 *   owners free their tables, hl_slots_cleanup(...)
 *   hl_loop_free(loop)          frees ring, buffers, fds (drains first,
 *                               without dispatching, if you did not)
 */
#ifndef HL_IO_LOOP_H
#define HL_IO_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"
#include "io/slots.h"
#include "io/timer.h"

typedef struct hl_loop hl_loop;

/* --- user_data ------------------------------------------------------------ */

/* HL_UD_NONE: "I do not need the completion". The loop consumes it. Use it
 * for fire-and-forget teardown (close after a slot is released); never for
 * an op whose memory you need to get back. */
#define HL_UD_NONE UINT64_C(0)

static inline uint64_t hl_ud_make(uint8_t op, uint32_t gen, uint32_t slot) {
  return ((uint64_t)op << 56) | ((uint64_t)(gen & HL_SLOTS_GEN_MASK) << 32) | slot;
}
static inline uint8_t hl_ud_op(uint64_t ud) {
  return (uint8_t)(ud >> 56);
}
static inline uint32_t hl_ud_gen(uint64_t ud) {
  return (uint32_t)(ud >> 32) & HL_SLOTS_GEN_MASK;
}
static inline uint32_t hl_ud_slot(uint64_t ud) {
  return (uint32_t)ud;
}

/* --- completions and owners --------------------------------------------- */

/* One completion, as a handler sees it. Valid during the handler call only
 * (except the buffer, see above). */
typedef struct hl_loop_cqe {
  int32_t res;     /* the kernel's result: >= 0 or -errno */
  uint32_t flags;  /* raw IORING_CQE_F_* flags */
  uint32_t slot;   /* from user_data */
  uint32_t gen;    /* from user_data */
  uint8_t op;      /* absolute op id */
  uint8_t kind;    /* op - base: the owner's own op number */
  bool more;       /* a multishot op will post more completions */
  uint16_t buf_id; /* valid when buf != NULL */
  char *buf;       /* provided buffer holding res bytes; the handler owns it */
} hl_loop_cqe;

typedef void (*hl_loop_handler)(hl_loop *loop, void *ctx, const hl_loop_cqe *c);

typedef struct hl_loop_ops {
  const char *name;        /* for logs, e.g. "conn" (static string) */
  uint8_t count;           /* op ids needed (1..254) */
  hl_loop_handler handler; /* called for every non-stale completion */
  void *ctx;               /* passed to handler; outlives the loop's use */
  hl_slots *slots;         /* optional: in-flight and generation tracking */
} hl_loop_ops;

/* hl_loop_register_ops reserves |ops->count| consecutive op ids for one owner
 * and stores the first in |*base|. |ops->slots| (if any) must stay valid
 * until hl_loop_drain has returned or the loop is freed. Returns 0, -EINVAL
 * (count 0 or no handler) or -ENOSPC (ids exhausted). */
int hl_loop_register_ops(hl_loop *loop, const hl_loop_ops *ops, uint8_t *base);

/* --- lifecycle ------------------------------------------------------------ */

typedef void (*hl_loop_wake_fn)(hl_loop *loop, void *ctx);
typedef void (*hl_loop_signal_fn)(hl_loop *loop, void *ctx, int signo);

typedef struct hl_loop_options {
  uint32_t sq_entries;     /* SQ ring size (power of two), HL_LOOP_ENTRIES */
  uint32_t cq_entries;     /* CQ ring size, >= 2 * sq_entries, HL_LOOP_CQ_ENTRIES */
  uint32_t recv_bufs;      /* provided buffers: a power of two up to
                              HL_LOOP_BUF_RING_ENTRIES_MAX, or 0 for none */
  uint32_t recv_buf_bytes; /* each buffer's size, HL_RECV_BUF_BYTES */
  /* Called on the loop's thread after hl_loop_wake() from any thread: drain
   * your cross-thread queue here. Several wakes may coalesce into one call,
   * and hl_loop_stop() causes one too: treat it as "look at your queue". */
  hl_loop_wake_fn on_wake;
  void *wake_ctx;
  /* handle_signals: block SIGINT and SIGTERM in this thread and read them
   * from a signalfd. Threads created afterwards inherit the mask; threads
   * created before must block them too, or the kernel may deliver there.
   * on_signal (if set) is called with the signal number; without it the
   * loop stops. Use it in one loop of the process only. */
  bool handle_signals;
  hl_loop_signal_fn on_signal;
  void *signal_ctx;
  /* For tests: skip IORING_SETUP_DEFER_TASKRUN to exercise the fallback. */
  bool no_defer_taskrun;
} hl_loop_options;

/* hl_loop_options_default: sizes from base/limits.h, no callbacks. */
hl_loop_options hl_loop_options_default(void);

/* hl_loop_new creates a loop from |opts| on the calling thread, which must be
 * the thread that runs it (IORING_SETUP_SINGLE_ISSUER binds the ring to it).
 * Everything is allocated here; nothing is allocated afterwards. On failure
 * returns a negative errno and explains in |err|: which option is invalid,
 * or what the kernel refused. */
int hl_loop_new(const hl_loop_options *opts, hl_loop **out, hl_err *err);

/* hl_loop_free cancels and drains whatever is still in flight (without
 * calling handlers or touching slot tables), then frees everything. Call it
 * on the loop's thread (asserted), before that thread exits. NULL is a
 * no-op. */
void hl_loop_free(hl_loop *loop);

/* hl_loop_run_once does one iteration: publish returned buffers, submit
 * everything queued and wait (one io_uring_enter) for a completion, a wake,
 * the next timer, or |timeout_ms| (0: do not wait; < 0: no limit); then
 * dispatch all completions and fire due timers. Returns the number of
 * completions and timers handled (>= 0) or a negative errno if the ring
 * failed. */
int hl_loop_run_once(hl_loop *loop, int timeout_ms);

/* hl_loop_run iterates until hl_loop_stop(); returns 0, or a negative errno
 * if the ring failed. The stop request is consumed, so run can be called
 * again. */
int hl_loop_run(hl_loop *loop);

/* hl_loop_stop asks run() to return after the current iteration. Safe from
 * any thread and from a signal handler. */
void hl_loop_stop(hl_loop *loop);

/* hl_loop_wake makes the loop call options.on_wake soon. Safe from any
 * thread (one eventfd write, skipped when a wake is already pending). */
void hl_loop_wake(hl_loop *loop);

/* hl_loop_drain cancels every op in flight (IORING_ASYNC_CANCEL_ANY) and
 * runs the loop, dispatching completions normally, until nothing is in
 * flight or |timeout_ms| passes. From then on submits fail with -ESHUTDOWN
 * and only hl_loop_free remains. Returns 0 or -ETIMEDOUT. */
int hl_loop_drain(hl_loop *loop, int timeout_ms);

/* hl_loop_draining: true once hl_loop_drain has begun; handlers use it to
 * stop re-arming. */
bool hl_loop_draining(const hl_loop *loop);

/* --- time ----------------------------------------------------------------- */

/* hl_loop_now_ms: monotonic milliseconds, cached once per iteration. */
uint64_t hl_loop_now_ms(const hl_loop *loop);
uint64_t hl_loop_now_ns(const hl_loop *loop);

/* hl_loop_timer_wheel: the loop's wheel (for io/timer.c). */
hl_timer_wheel *hl_loop_timer_wheel(hl_loop *loop);

/* --- submissions ---------------------------------------------------------
 * All queue one or two SQEs and return 0; the kernel sees them at the next
 * io_uring_enter (the end of the current iteration, or earlier if the SQ
 * fills). |ud| is from hl_slots_ud / hl_ud_make with a registered op. */

/* hl_loop_nop completes with res 0 on the next iteration: a way to run code
 * after the current batch without a timer. */
int hl_loop_nop(hl_loop *loop, uint64_t ud);

/* hl_loop_socket creates a socket in the kernel (IORING_OP_SOCKET); res is
 * the fd. `loop_bench socket`: ~3.1 us CPU per socket+close through the ring
 * against ~5.1 us with socket(2)+close(2) (~6.5 us adding a TCP_NODELAY
 * setsockopt, which the ring op cannot do before Linux 6.7's URING_CMD). A
 * connection is made once per many requests, so a plain socket(2) is fine
 * where the extra state of an asynchronous step is not worth it. */
int hl_loop_socket(hl_loop *loop, uint64_t ud, int domain, int type, int protocol);

/* hl_loop_connect connects |fd| to |addr|. With |timeout_ms| > 0 a linked
 * timeout cancels the connect after that long: the completion then has
 * res -ECANCELED (map it to a timeout unless you cancelled it yourself). */
int hl_loop_connect(hl_loop *loop, uint64_t ud, int fd, const struct sockaddr *addr,
                    socklen_t addr_len, uint32_t timeout_ms);

/* hl_loop_send sends |len| bytes (MSG_NOSIGNAL is always added). res is the
 * count sent, which on a stream socket may be short of |len| unless |flags|
 * has MSG_WAITALL (io_uring then retries until all is sent or an error).
 * One send in flight per stream socket (see the owner recipe above). */
int hl_loop_send(hl_loop *loop, uint64_t ud, int fd, const void *buf, size_t len, int flags);

/* hl_loop_sendmsg: writev-style send of |msg|'s iovecs (MSG_NOSIGNAL added);
 * short counts as for hl_loop_send. */
int hl_loop_sendmsg(hl_loop *loop, uint64_t ud, int fd, const struct msghdr *msg, int flags);

/* hl_loop_recv: one receive into the caller's buffer; res 0 is end of file. */
int hl_loop_recv(hl_loop *loop, uint64_t ud, int fd, void *buf, size_t len, int flags);

/* hl_loop_recv_multishot arms a multishot receive into the loop's provided
 * buffers (at most one armed per socket: chunks must arrive in order): one
 * completion per chunk with c->buf set and more == true (the raw flag
 * IORING_CQE_F_SOCK_NONEMPTY says more is already waiting), until
 * a final one (more == false): res 0 (peer closed), -ENOBUFS (re-arm when
 * buffers are free), another error, or data (the kernel ended the multishot,
 * e.g. on CQ pressure: process it and re-arm). -EINVAL without a buffer
 * ring. */
int hl_loop_recv_multishot(hl_loop *loop, uint64_t ud, int fd);

/* hl_loop_accept accepts on a listening socket (new fds are SOCK_CLOEXEC |
 * SOCK_NONBLOCK); res is the new fd. With |multishot| one submission keeps
 * accepting, more == true on each; re-arm when a completion has more false. */
int hl_loop_accept(hl_loop *loop, uint64_t ud, int fd, bool multishot);

/* hl_loop_close closes |fd| in the kernel. Ops still in flight on it keep it
 * open until they finish, so cancel them first (hl_loop_cancel_fd) in the
 * same pass. ud may be HL_UD_NONE. */
int hl_loop_close(hl_loop *loop, uint64_t ud, int fd);

/* hl_loop_poll waits for |events| (POLLIN, POLLOUT, ...) on |fd|; res is the
 * revents mask. Multishot: one completion per readiness change, more == true,
 * until cancelled. For fds that others read (c-ares sockets). */
int hl_loop_poll(hl_loop *loop, uint64_t ud, int fd, unsigned events, bool multishot);

/* hl_loop_read reads from a non-seekable fd (an eventfd, a pipe). */
int hl_loop_read(hl_loop *loop, uint64_t ud, int fd, void *buf, uint32_t len);

/* hl_loop_futex_wait completes (res 0) once a FUTEX_WAKE hits |word| (a
 * 32-bit word in memory shared with other processes: the futex is not
 * private, so a plain futex(word, FUTEX_WAKE, n) from a producer process
 * wakes it), or at once with -EAGAIN if *word != |expected| when the kernel
 * looks. Protocol: read the word, re-check your condition, then wait with
 * the value you read — -EAGAIN means it changed, re-check. Returns
 * -EOPNOTSUPP before Linux 6.7 (hl_loop_features lacks HL_LOOP_F_FUTEX):
 * the caller then polls the word from a timer (bounded sleep, e.g. 1 ms). */
int hl_loop_futex_wait(hl_loop *loop, uint64_t ud, const uint32_t *word, uint32_t expected);

/* hl_loop_cancel cancels every in-flight op whose user_data is exactly |ud|
 * (IORING_ASYNC_CANCEL_ALL). Each cancelled op completes with -ECANCELED
 * (one that already finished completes normally). To cancel all of a
 * connection's ops at once, use hl_loop_cancel_fd. */
int hl_loop_cancel(hl_loop *loop, uint64_t ud);

/* hl_loop_cancel_fd cancels every in-flight op on |fd|. */
int hl_loop_cancel_fd(hl_loop *loop, int fd);

/* --- provided buffers ------------------------------------------------------ */

/* hl_loop_buf_release gives buffer |buf_id| back to the ring (published at
 * the next iteration). Releasing a buffer you do not hold is asserted. */
void hl_loop_buf_release(hl_loop *loop, uint16_t buf_id);

/* hl_loop_bufs_free: buffers available to the kernel now or at the next
 * iteration (0 without a buffer ring). */
uint32_t hl_loop_bufs_free(const hl_loop *loop);
uint32_t hl_loop_buf_bytes(const hl_loop *loop);

/* --- introspection --------------------------------------------------------- */

enum {
  HL_LOOP_F_DEFER_TASKRUN = 1u << 0, /* SINGLE_ISSUER | DEFER_TASKRUN accepted */
  HL_LOOP_F_FUTEX = 1u << 1,         /* IORING_OP_FUTEX_WAIT supported */
  HL_LOOP_F_SOCKET = 1u << 2,        /* IORING_OP_SOCKET supported */
  HL_LOOP_F_REG_RING = 1u << 3,      /* ring fd registered (cheaper enter) */
  HL_LOOP_F_BUF_RING = 1u << 4,      /* provided-buffer ring in use */
};
unsigned hl_loop_features(const hl_loop *loop);

/* Counters for metrics; read them on the loop's thread. */
typedef struct hl_loop_stats {
  uint64_t iterations;     /* hl_loop_run_once calls */
  uint64_t enters;         /* io_uring_enter calls (syscalls) */
  uint64_t sqes;           /* submissions queued */
  uint64_t cqes;           /* completions reaped */
  uint64_t stale;          /* completions dropped: slot released */
  uint64_t timers_fired;   /* timer callbacks run */
  uint64_t bufs_exhausted; /* -ENOBUFS completions (buffer ring empty) */
  uint64_t sq_full;        /* early submits because the SQ filled */
  uint64_t submit_busy;    /* submits refused with -EBUSY */
  uint64_t wakes;          /* on_wake calls */
  uint64_t signals;        /* signals read */
  uint64_t inflight;       /* gauge: ops submitted, final completion pending */
  uint64_t bufs_out;       /* gauge: provided buffers held by handlers */
  uint64_t timers_armed;   /* gauge */
} hl_loop_stats;

void hl_loop_stats_get(const hl_loop *loop, hl_loop_stats *out);

#endif
