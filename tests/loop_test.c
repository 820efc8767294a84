/* Tests for io/loop: options, op registration and dispatch, batching, slot
 * generations and stale completions, provided buffers (exhaustion and
 * re-arm), timers driven by the loop, eventfd wake-ups, signalfd, futex
 * waits woken by a thread and by another process, drain and free.
 * Assertions are on counts and order, never on precise timing. */
#include "io/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "harness.h"

/* --- a recording owner ------------------------------------------------------ */

#define REC_MAX 4096

typedef struct recorder {
  hl_loop_cqe seen[REC_MAX];
  size_t n;
  size_t bytes;
  char data[8192]; /* concatenated multishot payloads */
  bool hold_bufs;  /* keep provided buffers instead of returning them */
  uint16_t held[64];
  size_t n_held;
} recorder;

static void rec_handler(hl_loop *loop, void *ctx, const hl_loop_cqe *c) {
  recorder *r = ctx;
  if (r->n < REC_MAX) {
    r->seen[r->n++] = *c;
  }
  if (c->buf == NULL) {
    return;
  }
  size_t n = (size_t)c->res;
  if (r->bytes + n <= sizeof(r->data)) {
    memcpy(r->data + r->bytes, c->buf, n);
  }
  r->bytes += n;
  if (r->hold_bufs && r->n_held < HL_ARRAY_LEN(r->held)) {
    r->held[r->n_held++] = c->buf_id;
  } else {
    hl_loop_buf_release(loop, c->buf_id);
  }
}

static hl_loop *loop_make(uint32_t recv_bufs, uint32_t buf_bytes) {
  hl_loop_options o = hl_loop_options_default();
  o.sq_entries = 256;
  o.cq_entries = 1024;
  o.recv_bufs = recv_bufs;
  o.recv_buf_bytes = buf_bytes;
  hl_loop *l = NULL;
  hl_err err = {{0}};
  int r = hl_loop_new(&o, &l, &err);
  if (r != 0) {
    hl_test_fail(__FILE__, __LINE__, "hl_loop_new: %s", err.msg);
  }
  return l;
}

static uint8_t register_recorder(hl_loop *l, recorder *r, uint8_t count, hl_slots *slots) {
  hl_loop_ops ops = {.name = "test", .count = count, .handler = rec_handler, .ctx = r, .slots = slots};
  uint8_t base = 0;
  ASSERT_EQ(hl_loop_register_ops(l, &ops, &base), 0);
  return base;
}

/* run_until runs the loop until *counter reaches |want| or 5 s pass. */
static void run_until(hl_loop *l, const size_t *counter, size_t want) {
  uint64_t deadline = hl_clock_mono_ms() + 5000;
  while (*counter < want && hl_clock_mono_ms() < deadline) {
    ASSERT_GE(hl_loop_run_once(l, 100), 0);
  }
}

static hl_loop_stats stats_of(hl_loop *l) {
  hl_loop_stats s;
  hl_loop_stats_get(l, &s);
  return s;
}

/* --- options and registration ------------------------------------------------- */

TEST(bad_options_are_refused_with_a_message_naming_the_field) {
  struct {
    hl_loop_options o;
    const char *field;
  } cases[4];
  for (size_t i = 0; i < HL_ARRAY_LEN(cases); i++) {
    cases[i].o = hl_loop_options_default();
  }
  cases[0].o.sq_entries = 1000;
  cases[0].field = "sq_entries";
  cases[1].o.cq_entries = cases[1].o.sq_entries; /* must be at least twice */
  cases[1].field = "cq_entries";
  cases[2].o.recv_bufs = 100;
  cases[2].field = "recv_bufs";
  cases[3].o.recv_buf_bytes = 1;
  cases[3].field = "recv_buf_bytes";
  for (size_t i = 0; i < HL_ARRAY_LEN(cases); i++) {
    hl_loop *l = (hl_loop *)&cases; /* must be reset to NULL */
    hl_err err = {{0}};
    ASSERT_EQ(hl_loop_new(&cases[i].o, &l, &err), -EINVAL);
    ASSERT_TRUE(l == NULL);
    ASSERT_TRUE(strstr(err.msg, cases[i].field) != NULL);
  }
}

TEST(ops_are_registered_as_ranges_and_dispatched_with_relative_kinds) {
  hl_loop *l = loop_make(0, 0);
  recorder *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
  uint8_t base_a = register_recorder(l, a, 3, NULL);
  uint8_t base_b = register_recorder(l, b, 2, NULL);
  ASSERT_EQ(base_a, 1u);
  ASSERT_EQ(base_b, 4u);
  ASSERT_EQ(hl_loop_nop(l, hl_ud_make(base_a + 2, 77, 1234)), 0);
  ASSERT_EQ(hl_loop_nop(l, hl_ud_make(base_b + 1, 5, 9)), 0);
  run_until(l, &b->n, 1);
  ASSERT_EQ(a->n, 1u);
  ASSERT_EQ(a->seen[0].kind, 2);
  ASSERT_EQ(a->seen[0].op, base_a + 2);
  ASSERT_EQ(a->seen[0].gen, 77u);
  ASSERT_EQ(a->seen[0].slot, 1234u);
  ASSERT_EQ(a->seen[0].res, 0);
  ASSERT_FALSE(a->seen[0].more);
  ASSERT_EQ(b->seen[0].kind, 1);

  hl_loop_ops bad = {.name = "bad", .count = 0, .handler = rec_handler};
  uint8_t base;
  ASSERT_EQ(hl_loop_register_ops(l, &bad, &base), -EINVAL);
  bad.count = 200;
  ASSERT_EQ(hl_loop_register_ops(l, &bad, &base), 0);
  bad.count = 60; /* 5 + 200 + 60 > 254 */
  ASSERT_EQ(hl_loop_register_ops(l, &bad, &base), -ENOSPC);
  hl_loop_free(l);
  free(a);
  free(b);
}

TEST(user_data_packs_op_generation_slot) {
  uint64_t ud = hl_ud_make(0xab, 0x123456, 0xdeadbeef);
  ASSERT_EQ(hl_ud_op(ud), 0xab);
  ASSERT_EQ(hl_ud_gen(ud), 0x123456u);
  ASSERT_EQ(hl_ud_slot(ud), 0xdeadbeefu);
  /* the generation is cut to 24 bits, never spilling into the op */
  ASSERT_EQ(hl_ud_op(hl_ud_make(1, 0xffffffff, 0)), 1);
}

/* --- batching and the SQ --------------------------------------------------------- */

TEST(one_enter_per_iteration_submits_and_reaps_a_batch) {
  hl_loop *l = loop_make(0, 0);
  recorder *r = calloc(1, sizeof(*r));
  uint8_t op = register_recorder(l, r, 1, NULL);
  hl_loop_run_once(l, 0); /* settle the internal eventfd read */
  hl_loop_stats before = stats_of(l);
  for (uint32_t i = 0; i < 100; i++) {
    ASSERT_EQ(hl_loop_nop(l, hl_ud_make(op, 0, i)), 0);
  }
  ASSERT_EQ(hl_loop_run_once(l, -1), 100);
  hl_loop_stats after = stats_of(l);
  ASSERT_EQ(r->n, 100u);
  ASSERT_EQ(after.enters - before.enters, 1);
  ASSERT_EQ(after.sqes - before.sqes, 100);
  ASSERT_EQ(after.cqes - before.cqes, 100);
  for (uint32_t i = 0; i < 100; i++) {
    ASSERT_EQ(r->seen[i].slot, i); /* nops complete in submission order */
  }
  hl_loop_free(l);
  free(r);
}

/* nops_round_trip submits |n| nops on a loop made from |o| and checks that
 * each one completes once, in order; returns the loop's stats. */
static hl_loop_stats nops_round_trip(const hl_loop_options *o, uint32_t n, unsigned *features) {
  hl_loop_stats st = {0};
  hl_loop *l;
  ASSERT_EQ(hl_loop_new(o, &l, NULL), 0);
  recorder *r = calloc(1, sizeof(*r));
  uint8_t op = register_recorder(l, r, 1, NULL);
  for (uint32_t i = 0; i < n; i++) {
    ASSERT_EQ(hl_loop_nop(l, hl_ud_make(op, 0, i)), 0);
  }
  run_until(l, &r->n, n);
  ASSERT_EQ(r->n, (size_t)n);
  for (uint32_t i = 0; i < n; i++) {
    ASSERT_EQ(r->seen[i].slot, i);
  }
  hl_loop_stats_get(l, &st);
  *features = hl_loop_features(l);
  hl_loop_free(l);
  free(r);
  return st;
}

TEST(a_full_submission_queue_is_flushed_and_nothing_is_lost) {
  hl_loop_options o = hl_loop_options_default();
  o.sq_entries = 8;
  o.cq_entries = 4096;
  o.recv_bufs = 0;
  unsigned features;
  hl_loop_stats st = nops_round_trip(&o, 1000, &features);
  ASSERT_GT(st.sq_full, 0);
  ASSERT_EQ(st.inflight, 1); /* only the loop's eventfd read */
}

TEST(fallback_without_defer_taskrun_still_works) {
  hl_loop_options o = hl_loop_options_default();
  o.sq_entries = 64;
  o.cq_entries = 128;
  o.recv_bufs = 0;
  o.no_defer_taskrun = true;
  unsigned features;
  nops_round_trip(&o, 10, &features);
  ASSERT_EQ(features & HL_LOOP_F_DEFER_TASKRUN, 0u);
}

/* --- slots: generations and stale completions -------------------------------------- */

typedef struct slot_owner {
  hl_slots slots;
  size_t freed;
} slot_owner;

static void slot_owner_free(void *ctx, uint32_t slot) {
  (void)slot;
  ((slot_owner *)ctx)->freed++;
}

/* fixture: a loop, a recording owner with |nops| op ids tracked by a slot
 * table of |cap| slots (or untracked when cap is 0), and a socket pair. */
typedef struct fixture {
  hl_loop *l;
  recorder *r;
  slot_owner so;
  uint8_t op;
  int sv[2];
} fixture;

static void fixture_init(fixture *f, uint32_t recv_bufs, uint32_t cap, uint8_t nops) {
  memset(f, 0, sizeof(*f));
  f->l = loop_make(recv_bufs, 256);
  f->r = calloc(1, sizeof(*f->r));
  if (cap > 0) {
    ASSERT_EQ(hl_slots_init(&f->so.slots, cap, slot_owner_free, &f->so), 0);
  }
  f->op = register_recorder(f->l, f->r, nops, cap > 0 ? &f->so.slots : NULL);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, f->sv), 0);
}

static void fixture_done(fixture *f) {
  hl_loop_free(f->l);
  hl_slots_cleanup(&f->so.slots);
  close(f->sv[0]);
  close(f->sv[1]);
  free(f->r);
}

TEST(cancelled_op_on_a_released_slot_is_dropped_and_slot_reused_after_it) {
  fixture f;
  fixture_init(&f, 0, 1, 1);
  uint32_t slot;
  ASSERT_EQ(hl_slots_acquire(&f.so.slots, &slot), 0);
  uint32_t gen = hl_slots_gen(&f.so.slots, slot);
  char buf[16];
  uint64_t ud = hl_slots_ud(&f.so.slots, f.op, slot);
  ASSERT_EQ(hl_loop_recv(f.l, ud, f.sv[0], buf, sizeof(buf), 0), 0);
  ASSERT_EQ(hl_slots_inflight(&f.so.slots, slot), 1u);
  ASSERT_EQ(hl_loop_run_once(f.l, 0), 0); /* the recv is now waiting in the kernel */

  ASSERT_EQ(hl_loop_cancel(f.l, ud), 0);
  hl_slots_release(&f.so.slots, slot);
  uint32_t again;
  ASSERT_EQ(hl_slots_acquire(&f.so.slots, &again), -ENOSPC); /* still in flight */
  ASSERT_EQ(f.so.freed, 0u);
  run_until(f.l, &f.so.freed, 1);
  ASSERT_EQ(f.so.freed, 1u);
  ASSERT_EQ(f.r->n, 0u); /* the -ECANCELED completion never reached the owner */
  ASSERT_EQ(stats_of(f.l).stale, 1);
  ASSERT_EQ(f.so.slots.stale, 1);

  ASSERT_EQ(hl_slots_acquire(&f.so.slots, &again), 0);
  ASSERT_EQ(again, slot);
  ASSERT_EQ(hl_slots_gen(&f.so.slots, again), gen + 1);
  /* the new generation's op is delivered */
  ASSERT_EQ(hl_loop_recv(f.l, hl_slots_ud(&f.so.slots, f.op, again), f.sv[0], buf, sizeof(buf), 0),
            0);
  ASSERT_EQ(write(f.sv[1], "ping", 4), 4);
  run_until(f.l, &f.r->n, 1);
  ASSERT_EQ(f.r->n, 1u);
  ASSERT_EQ(f.r->seen[0].res, 4);
  ASSERT_EQ(f.r->seen[0].gen, gen + 1);
  ASSERT_EQ(hl_slots_inflight(&f.so.slots, again), 0u);
  hl_slots_release(&f.so.slots, again);
  ASSERT_EQ(f.so.freed, 2u);
  fixture_done(&f);
}

TEST(stale_multishot_data_returns_its_buffer_to_the_ring) {
  fixture f;
  fixture_init(&f, 16, 4, 1);
  uint32_t slot;
  ASSERT_EQ(hl_slots_acquire(&f.so.slots, &slot), 0);
  ASSERT_EQ(hl_loop_recv_multishot(f.l, hl_slots_ud(&f.so.slots, f.op, slot), f.sv[0]), 0);
  hl_loop_run_once(f.l, 0);
  /* Data arrives, but the owner releases the slot before the loop reaps. */
  ASSERT_EQ(write(f.sv[1], "abcdef", 6), 6);
  hl_slots_release(&f.so.slots, slot);
  ASSERT_EQ(hl_loop_cancel_fd(f.l, f.sv[0]), 0);
  run_until(f.l, &f.so.freed, 1);
  ASSERT_EQ(f.so.freed, 1u);
  ASSERT_EQ(f.r->n, 0u);
  ASSERT_GE(stats_of(f.l).stale, 1);
  ASSERT_EQ(stats_of(f.l).bufs_out, 0);
  ASSERT_EQ(hl_loop_bufs_free(f.l), 16u);
  fixture_done(&f);
}

/* --- provided buffers --------------------------------------------------------------- */

TEST(multishot_recv_survives_buffer_exhaustion_by_rearming) {
  enum { BUFS = 8, BUF_BYTES = 64, TOTAL = 4096 };
  hl_loop *l = loop_make(BUFS, BUF_BYTES);
  ASSERT_TRUE(hl_loop_features(l) & HL_LOOP_F_BUF_RING);
  recorder *r = calloc(1, sizeof(*r));
  r->hold_bufs = true;
  uint8_t op = register_recorder(l, r, 1, NULL);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  char pattern[TOTAL];
  for (size_t i = 0; i < TOTAL; i++) {
    pattern[i] = (char)('a' + (i * 7) % 26);
  }
  ASSERT_EQ(write(sv[1], pattern, TOTAL), TOTAL);
  uint64_t ud = hl_ud_make(op, 0, 0);
  ASSERT_EQ(hl_loop_recv_multishot(l, ud, sv[0]), 0);
  size_t arms = 1, enobufs = 0;
  uint64_t deadline = hl_clock_mono_ms() + 5000;
  while (r->bytes < TOTAL && hl_clock_mono_ms() < deadline) {
    size_t before = r->n;
    ASSERT_GE(hl_loop_run_once(l, 100), 0);
    for (size_t i = before; i < r->n; i++) {
      if (!r->seen[i].more) {
        /* the multishot ended: it must be for want of buffers */
        ASSERT_EQ(r->seen[i].res, -ENOBUFS);
        enobufs++;
        ASSERT_EQ(hl_loop_bufs_free(l), 0u);
        for (size_t k = 0; k < r->n_held; k++) {
          hl_loop_buf_release(l, r->held[k]);
        }
        r->n_held = 0;
        ASSERT_EQ(hl_loop_bufs_free(l), (uint32_t)BUFS);
        ASSERT_EQ(hl_loop_recv_multishot(l, ud, sv[0]), 0);
        arms++;
      }
    }
  }
  ASSERT_EQ(r->bytes, (size_t)TOTAL);
  ASSERT_MEM_EQ(r->data, r->bytes, pattern, (size_t)TOTAL); /* in order, nothing lost */
  ASSERT_GE(enobufs, 1u);
  ASSERT_EQ(stats_of(l).bufs_exhausted, enobufs);
  ASSERT_EQ(arms, enobufs + 1);
  /* the peer closing ends the multishot with res 0 */
  for (size_t k = 0; k < r->n_held; k++) {
    hl_loop_buf_release(l, r->held[k]);
  }
  r->n_held = 0;
  r->hold_bufs = false;
  size_t n = r->n;
  close(sv[1]);
  run_until(l, &r->n, n + 1);
  ASSERT_EQ(r->seen[r->n - 1].res, 0);
  ASSERT_FALSE(r->seen[r->n - 1].more);
  ASSERT_EQ(stats_of(l).bufs_out, 0);
  close(sv[0]);
  hl_loop_free(l);
  free(r);
}

TEST(multishot_recv_needs_a_buffer_ring) {
  hl_loop *l = loop_make(0, 0);
  recorder *r = calloc(1, sizeof(*r));
  uint8_t op = register_recorder(l, r, 1, NULL);
  ASSERT_EQ(hl_loop_recv_multishot(l, hl_ud_make(op, 0, 0), 0), -EINVAL);
  ASSERT_EQ(hl_loop_bufs_free(l), 0u);
  hl_loop_free(l);
  free(r);
}

/* --- timers on the loop ---------------------------------------------------------------- */

typedef struct ltimer {
  hl_timer t;
  uint64_t fired_at_ms;
  int fired;
} ltimer;

static struct {
  size_t fired;
  uint64_t last_deadline;
  bool out_of_order;
  bool early;
} ltimers;

static void ltimer_fire(hl_loop *loop, hl_timer *t) {
  ltimer *lt = HL_CONTAINER_OF(t, ltimer, t);
  lt->fired++;
  lt->fired_at_ms = hl_loop_now_ms(loop);
  if (t->deadline_ms < ltimers.last_deadline) {
    ltimers.out_of_order = true;
  }
  if (lt->fired_at_ms < t->deadline_ms) {
    ltimers.early = true;
  }
  ltimers.last_deadline = t->deadline_ms;
  ltimers.fired++;
}

TEST(thousands_of_timers_fire_in_order_and_cancelled_ones_never) {
  enum { N = 10000 };
  hl_loop *l = loop_make(0, 0);
  memset(&ltimers, 0, sizeof(ltimers));
  ltimer *ts = calloc(N, sizeof(*ts));
  uint64_t now = hl_loop_now_ms(l);
  for (size_t i = 0; i < N; i++) {
    hl_timer_arm(l, &ts[i].t, now + 1 + hl_test_rand() % 300, ltimer_fire);
  }
  size_t cancelled = 0;
  for (size_t i = 0; i < N; i += 3) {
    hl_timer_cancel(l, &ts[i].t);
    cancelled++;
  }
  ASSERT_EQ(stats_of(l).timers_armed, (uint64_t)(N - cancelled));
  run_until(l, &ltimers.fired, N - cancelled);
  ASSERT_EQ(ltimers.fired, (size_t)(N - cancelled));
  ASSERT_FALSE(ltimers.out_of_order);
  ASSERT_FALSE(ltimers.early);
  for (size_t i = 0; i < N; i++) {
    ASSERT_EQ(ts[i].fired, i % 3 == 0 ? 0 : 1);
  }
  hl_loop_stats s = stats_of(l);
  ASSERT_EQ(s.timers_fired, (uint64_t)(N - cancelled));
  ASSERT_EQ(s.timers_armed, 0);
  /* The loop slept between deadlines instead of spinning: 300 ms of
   * deadlines take far fewer iterations than 10,000. */
  ASSERT_LT(s.iterations, 2000);
  hl_loop_free(l);
  free(ts);
}

TEST(an_idle_loop_wakes_for_its_next_timer) {
  hl_loop *l = loop_make(0, 0);
  memset(&ltimers, 0, sizeof(ltimers));
  ltimer t = {0};
  hl_timer_arm_in(l, &t.t, 30, ltimer_fire);
  uint64_t start = hl_loop_now_ms(l);
  /* One call, no completions pending: it must return for the timer, long
   * before its own 5 s bound. */
  int guard = 0;
  while (t.fired == 0 && guard++ < 10) {
    ASSERT_GE(hl_loop_run_once(l, 5000), 0);
  }
  ASSERT_EQ(t.fired, 1);
  ASSERT_GE(t.fired_at_ms, start + 30);
  ASSERT_LT(t.fired_at_ms, start + 4000);
  hl_loop_free(l);
}

/* --- cross-thread wake and stop ----------------------------------------------------------- */

typedef struct wake_state {
  hl_loop *loop;
  atomic_size_t posted;
  size_t seen;
  size_t calls;
} wake_state;

static void on_wake(hl_loop *loop, void *ctx) {
  (void)loop;
  wake_state *w = ctx;
  w->calls++;
  w->seen = atomic_load(&w->posted);
}

static void *waker_thread(void *arg) {
  wake_state *w = arg;
  for (int i = 0; i < 1000; i++) {
    atomic_fetch_add(&w->posted, 1);
    hl_loop_wake(w->loop);
    if (i % 100 == 0) {
      usleep(1000);
    }
  }
  hl_loop_stop(w->loop);
  return NULL;
}

TEST(another_thread_wakes_the_loop_and_stops_it) {
  wake_state *w = calloc(1, sizeof(*w));
  hl_loop_options o = hl_loop_options_default();
  o.recv_bufs = 0;
  o.on_wake = on_wake;
  o.wake_ctx = w;
  ASSERT_EQ(hl_loop_new(&o, &w->loop, NULL), 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, waker_thread, w), 0);
  ASSERT_EQ(hl_loop_run(w->loop), 0); /* returns because of the stop */
  pthread_join(th, NULL);
  /* every post is observed by some on_wake call after it */
  run_until(w->loop, &w->seen, 1000);
  ASSERT_EQ(w->seen, 1000u);
  ASSERT_GE(w->calls, 1u);
  ASSERT_LE(w->calls, 1001u); /* coalesced, never more than one per wake */
  ASSERT_EQ(stats_of(w->loop).wakes, w->calls);
  hl_loop_free(w->loop);
  free(w);
}

/* --- signals ------------------------------------------------------------------------ */

static int signal_seen;

static void on_signal(hl_loop *loop, void *ctx, int signo) {
  *(int *)ctx = signo;
  hl_loop_stop(loop);
}

TEST(sigterm_and_sigint_stop_the_loop_through_signalfd) {
  hl_loop_options o = hl_loop_options_default();
  o.recv_bufs = 0;
  o.handle_signals = true;
  o.on_signal = on_signal;
  o.signal_ctx = &signal_seen;
  hl_loop *l;
  ASSERT_EQ(hl_loop_new(&o, &l, NULL), 0);
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  ASSERT_EQ(hl_loop_run(l), 0);
  ASSERT_EQ(signal_seen, SIGTERM);
  ASSERT_EQ(stats_of(l).signals, 1);
  hl_loop_free(l);

  /* Without on_signal the loop simply stops. */
  o.on_signal = NULL;
  ASSERT_EQ(hl_loop_new(&o, &l, NULL), 0);
  ASSERT_EQ(kill(getpid(), SIGINT), 0);
  ASSERT_EQ(hl_loop_run(l), 0);
  ASSERT_EQ(stats_of(l).signals, 1);
  hl_loop_free(l);
}

/* --- futex wait ------------------------------------------------------------------------- */

static long futex_wake(uint32_t *word) {
  /* Not FUTEX_PRIVATE_FLAG: this is what a producer process calls. */
  return syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

typedef struct futex_arg {
  uint32_t *word;
  uint32_t value;
} futex_arg;

static void *futex_waker(void *arg) {
  futex_arg *a = arg;
  usleep(20000);
  __atomic_store_n(a->word, a->value, __ATOMIC_SEQ_CST);
  futex_wake(a->word);
  return NULL;
}

TEST(futex_wait_is_woken_by_a_thread_and_by_another_process) {
  hl_loop *l = loop_make(0, 0);
  if (!(hl_loop_features(l) & HL_LOOP_F_FUTEX)) {
    hl_loop_free(l);
    TEST_SKIP("kernel lacks IORING_OP_FUTEX_WAIT (Linux < 6.7)");
  }
  recorder *r = calloc(1, sizeof(*r));
  uint8_t op = register_recorder(l, r, 1, NULL);
  uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_TRUE(word != MAP_FAILED);

  /* The value already moved on: -EAGAIN at once. */
  *word = 5;
  ASSERT_EQ(hl_loop_futex_wait(l, hl_ud_make(op, 0, 1), word, 4), 0);
  run_until(l, &r->n, 1);
  ASSERT_EQ(r->seen[0].res, -EAGAIN);

  /* Woken by a thread. */
  futex_arg a = {word, 6};
  ASSERT_EQ(hl_loop_futex_wait(l, hl_ud_make(op, 0, 2), word, 5), 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, futex_waker, &a), 0);
  run_until(l, &r->n, 2);
  pthread_join(th, NULL);
  ASSERT_EQ(r->n, 2u);
  ASSERT_EQ(r->seen[1].slot, 2u);
  ASSERT_EQ(r->seen[1].res, 0);

  /* Woken by another process through the shared mapping. */
  ASSERT_EQ(hl_loop_futex_wait(l, hl_ud_make(op, 0, 3), word, 6), 0);
  hl_loop_run_once(l, 0);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    usleep(20000);
    __atomic_store_n(word, 7, __ATOMIC_SEQ_CST);
    _exit(futex_wake(word) == 1 ? 0 : 1);
  }
  run_until(l, &r->n, 3);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(r->n, 3u);
  ASSERT_EQ(r->seen[2].res, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* it woke exactly one waiter */

  /* A wait can be cancelled. */
  uint64_t ud = hl_ud_make(op, 0, 4);
  ASSERT_EQ(hl_loop_futex_wait(l, ud, word, 7), 0);
  hl_loop_run_once(l, 0);
  ASSERT_EQ(hl_loop_cancel(l, ud), 0);
  run_until(l, &r->n, 4);
  ASSERT_EQ(r->seen[3].res, -ECANCELED);
  munmap(word, 4096);
  hl_loop_free(l);
  free(r);
}

/* --- drain and free ------------------------------------------------------------------------ */

TEST(drain_cancels_everything_and_refuses_new_work) {
  fixture f;
  fixture_init(&f, 16, 8, 3);
  hl_slots *slots = &f.so.slots;
  uint32_t s1, s2;
  ASSERT_EQ(hl_slots_acquire(slots, &s1), 0);
  ASSERT_EQ(hl_slots_acquire(slots, &s2), 0);
  char buf[8];
  ASSERT_EQ(hl_loop_recv(f.l, hl_slots_ud(slots, f.op, s1), f.sv[0], buf, sizeof(buf), 0), 0);
  ASSERT_EQ(hl_loop_poll(f.l, hl_slots_ud(slots, f.op + 1, s1), f.sv[1], POLLIN, true), 0);
  ASSERT_EQ(hl_loop_recv_multishot(f.l, hl_slots_ud(slots, f.op + 2, s2), f.sv[1]), 0);
  hl_loop_run_once(f.l, 0);
  ASSERT_EQ(hl_slots_inflight(slots, s1), 2u);

  ASSERT_EQ(hl_loop_drain(f.l, 2000), 0);
  ASSERT_TRUE(hl_loop_draining(f.l));
  ASSERT_EQ(stats_of(f.l).inflight, 0);
  ASSERT_EQ(f.r->n, 3u);
  for (size_t i = 0; i < f.r->n; i++) {
    ASSERT_EQ(f.r->seen[i].res, -ECANCELED);
    ASSERT_FALSE(f.r->seen[i].more);
  }
  ASSERT_EQ(hl_slots_inflight(slots, s1), 0u);
  ASSERT_EQ(hl_slots_inflight(slots, s2), 0u);
  ASSERT_EQ(hl_loop_nop(f.l, hl_slots_ud(slots, f.op, s1)), -ESHUTDOWN);
  ASSERT_EQ(hl_loop_recv(f.l, hl_slots_ud(slots, f.op, s1), f.sv[0], buf, 8, 0), -ESHUTDOWN);
  /* teardown is still allowed */
  int fd = dup(f.sv[0]);
  ASSERT_EQ(hl_loop_close(f.l, HL_UD_NONE, fd), 0);
  hl_loop_run_once(f.l, 100);
  ASSERT_EQ(stats_of(f.l).inflight, 0);
  ASSERT_EQ(fcntl(fd, F_GETFD), -1); /* closed by the kernel */
  fixture_done(&f);
}

TEST(free_with_operations_in_flight_calls_no_handler) {
  fixture f;
  fixture_init(&f, 16, 0, 1);
  ASSERT_EQ(hl_loop_recv_multishot(f.l, hl_ud_make(f.op, 0, 0), f.sv[0]), 0);
  ASSERT_EQ(hl_loop_poll(f.l, hl_ud_make(f.op, 0, 1), f.sv[1], POLLIN, false), 0);
  hl_loop_run_once(f.l, 0);
  recorder *r = f.r;
  f.r = NULL;
  fixture_done(&f); /* hl_loop_free must cancel, drain and free without calling |r| */
  ASSERT_EQ(r->n, 0u);
  free(r);
}
