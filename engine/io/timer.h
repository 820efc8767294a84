/* timer: deadlines for the event loop, on a hierarchical timing wheel.
 *
 * A timer is an hl_timer embedded in its owner's struct (a connection, a
 * retry entry): arming and cancelling never allocate, cost O(1) (a list
 * insert and a bitmap bit), and the owner gets back to itself from the
 * callback with HL_CONTAINER_OF. Deadlines are absolute, in the loop's
 * monotonic milliseconds (hl_loop_now_ms()), at 1 ms resolution.
 *
 * Why a wheel and not one io_uring timeout per deadline (`loop_bench
 * timers`, 100k deadlines, shared 2-core VM): arm+cancel costs 16-23 ns on
 * the wheel; with IORING_OP_TIMEOUT + TIMEOUT_REMOVE it costs ~450 ns with
 * 1,000 armed and ~150 us with 100,000 armed, because the kernel finds the
 * timeout to remove by walking its list. Expiry costs ~6.4 us of CPU per
 * io_uring timeout (one hrtimer interrupt and wake-up each) against
 * ~0.4-0.6 us per timer through the loop, which sleeps until the wheel's
 * next boundary (990 io_uring_enter calls for 100k deadlines over 1 s). A
 * connection re-arms its idle and response deadlines on every request, so
 * this is on the hot path. The loop drives the wheel from its wait timeout.
 *
 * Layout: 8 levels of 64 slots; level L holds timers whose deadline differs
 * from "now" first in bits [6L, 6L+6). Each level keeps a 64-bit occupancy
 * map, so the next boundary is found with one ctz per level. A timer moves
 * down at most once per level as time passes (cascading). Deadlines are
 * clamped to HL_TIMER_NEVER (2^48 - 1 ms, ~8900 years).
 *
 * Ordering: timers fire in non-decreasing deadline order (ms); the order of
 * timers with the same deadline is unspecified. A timer armed with a deadline
 * at or before the wheel's current time fires on the next expiry pass (the
 * loop's next iteration), never re-entrantly from hl_timer_arm.
 *
 * This module owns the wheel and the timers' links; it does no I/O and
 * reads no clock: time comes in through hl_timer_wheel_expire(). */
#ifndef HL_IO_TIMER_H
#define HL_IO_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HL_TIMER_WHEEL_BITS 6
#define HL_TIMER_WHEEL_SLOTS (1u << HL_TIMER_WHEEL_BITS)
#define HL_TIMER_WHEEL_LEVELS 8
/* The latest representable deadline; later ones are clamped to it. */
#define HL_TIMER_NEVER ((UINT64_C(1) << (HL_TIMER_WHEEL_BITS * HL_TIMER_WHEEL_LEVELS)) - 1)

/* HL_CONTAINER_OF: from a pointer to |member| back to its enclosing struct. */
#define HL_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct hl_loop;
typedef struct hl_timer hl_timer;

/* A timer callback runs on the loop's thread, from hl_loop_run_once(), after
 * the timer has been disarmed: it may re-arm |t|, arm or cancel any other
 * timer, submit I/O, and release the owner's slot. */
typedef void (*hl_timer_fn)(struct hl_loop *loop, hl_timer *t);

typedef struct hl_timer_link {
  struct hl_timer_link *next;
  struct hl_timer_link *prev;
} hl_timer_link;

/* Embed one per deadline in the owner's struct. Zero-initialised (or
 * hl_timer_init) means "not armed". The fields are the wheel's. */
struct hl_timer {
  hl_timer_link link; /* first: a link is its timer */
  uint64_t deadline_ms;
  hl_timer_fn cb;
  uint32_t where; /* level * 64 + slot, or the due list */
};

typedef struct hl_timer_wheel {
  uint64_t now_ms;
  uint64_t armed; /* timers currently armed */
  uint64_t occupied[HL_TIMER_WHEEL_LEVELS];
  hl_timer_link due; /* deadline <= now_ms when armed: fire on the next pass */
  hl_timer_link slots[HL_TIMER_WHEEL_LEVELS][HL_TIMER_WHEEL_SLOTS];
} hl_timer_wheel;

static inline void hl_timer_init(hl_timer *t) {
  t->link.next = NULL;
  t->link.prev = NULL;
  t->deadline_ms = 0;
  t->cb = NULL;
  t->where = 0;
}

/* hl_timer_armed: true between arm and its firing or cancellation. */
static inline bool hl_timer_armed(const hl_timer *t) {
  return t->link.next != NULL;
}

/* --- the loop's timers (the usual API; see also hl_loop_now_ms) --- */

/* hl_timer_arm arms |t| to call |cb| once the loop's clock reaches
 * |deadline_ms|. Arming an armed timer moves it (cancel + arm in O(1)). */
void hl_timer_arm(struct hl_loop *loop, hl_timer *t, uint64_t deadline_ms, hl_timer_fn cb);

/* hl_timer_arm_in arms |t| for |delay_ms| after the loop's cached now. */
void hl_timer_arm_in(struct hl_loop *loop, hl_timer *t, uint64_t delay_ms, hl_timer_fn cb);

/* hl_timer_cancel disarms |t| if it is armed (no-op otherwise). After it
 * returns the callback will not run, including from an expiry pass that is
 * in progress. */
void hl_timer_cancel(struct hl_loop *loop, hl_timer *t);

/* --- the wheel itself (used by the loop, by tests and by the fuzz target) --- */

/* hl_timer_wheel_init empties |w| and sets its time to |now_ms|. */
void hl_timer_wheel_init(hl_timer_wheel *w, uint64_t now_ms);

void hl_timer_wheel_arm(hl_timer_wheel *w, hl_timer *t, uint64_t deadline_ms, hl_timer_fn cb);
void hl_timer_wheel_cancel(hl_timer_wheel *w, hl_timer *t);

/* hl_timer_wheel_next_ms returns when the wheel next needs hl_timer_wheel_
 * expire: no later than the earliest deadline (it may be an earlier cascade
 * point); the wheel's now if timers are due; UINT64_MAX if none is armed. */
uint64_t hl_timer_wheel_next_ms(const hl_timer_wheel *w);

/* hl_timer_wheel_expire advances the wheel to |now_ms| (time never goes
 * back: an earlier value only fires the due list) and calls, with |loop|,
 * every timer whose deadline is at or before it. Returns how many fired. */
size_t hl_timer_wheel_expire(hl_timer_wheel *w, uint64_t now_ms, struct hl_loop *loop);

#endif
