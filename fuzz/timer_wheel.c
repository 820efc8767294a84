/* Fuzz target: the timer wheel (io/timer) against a reference model.
 *
 * The input is a program over 32 timers: arm (at a distance spanning every
 * level, or already due), cancel, set what a timer's callback does (nothing,
 * re-arm itself later, cancel another timer), and advance time. The model is
 * a plain array of {armed, deadline}. Properties, checked on every step:
 *   - a timer fires only if armed, with its deadline <= the new time, and
 *     disarmed when its callback runs;
 *   - within one advance, overdue timers (armed with a deadline already
 *     past) fire first, then the others in non-decreasing deadline order;
 *   - after an advance, every armed timer's deadline is later than now
 *     (nothing due is left behind);
 *   - next_ms never overshoots the earliest armed deadline (or the wheel's
 *     time, when an overdue timer waits for the next pass);
 *   - the wheel's armed count equals the model's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/timer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N 32

typedef struct ftimer {
  hl_timer t;
  uint8_t action; /* 0 none, 1 re-arm later, 2 cancel |other| */
  uint8_t other;
  uint32_t rearm_ms;
} ftimer;

static struct {
  hl_timer_wheel w;
  ftimer timers[N];
  bool armed[N];
  uint64_t deadline[N];
  uint64_t now_ms;      /* the time being advanced to */
  bool overdue[N];       /* armed with deadline <= the wheel's time */
  uint64_t last_fired;   /* within one advance */
  bool fired_in_order;   /* a timer that was not overdue has fired */
  uint32_t fires;        /* within one advance */
} st;

/* Keep time far below HL_TIMER_NEVER (2^48 ms) so clamping never hides a
 * deadline; the largest arm distance is ~2^40. */
#define TIME_MAX (UINT64_C(1) << 47)

static void check(bool ok) {
  if (!ok) {
    abort();
  }
}

static void on_fire(struct hl_loop *loop, hl_timer *t) {
  (void)loop;
  ftimer *f = HL_CONTAINER_OF(t, ftimer, t);
  size_t i = (size_t)(f - st.timers);
  check(st.armed[i]);
  check(!hl_timer_armed(t));
  check(t->deadline_ms == st.deadline[i]);
  check(t->deadline_ms <= st.now_ms);
  if (st.overdue[i]) {
    check(!st.fired_in_order);
  } else {
    check(t->deadline_ms >= st.last_fired);
    st.last_fired = t->deadline_ms;
    st.fired_in_order = true;
  }
  st.armed[i] = false;
  st.fires++;
  /* A callback re-arming itself 1 ms later across an advance of years
   * would fire billions of times: correct, but not a useful fuzz input. */
  if (f->action == 1 && st.fires < 4096) {
    /* later than the wheel's own time, so it lands in the wheel (and fires
     * in this same advance if it is still <= now) */
    uint64_t base = st.w.now_ms > t->deadline_ms ? st.w.now_ms : t->deadline_ms;
    uint64_t d = base + 1 + f->rearm_ms;
    hl_timer_wheel_arm(&st.w, t, d, on_fire);
    st.armed[i] = true;
    st.overdue[i] = false;
    st.deadline[i] = t->deadline_ms;
  } else if (f->action == 2) {
    hl_timer_wheel_cancel(&st.w, &st.timers[f->other].t);
    st.armed[f->other] = false;
  }
}

/* distance: 0 .. ~2^40 ms, skewed towards the small values where the
 * levels' boundaries are. */
static uint64_t distance(const uint8_t *p) {
  uint64_t v = (uint64_t)p[0] | (uint64_t)p[1] << 8;
  return v << (p[2] % 25);
}

static void check_model(void) {
  uint64_t armed = 0, earliest = UINT64_MAX;
  for (size_t i = 0; i < N; i++) {
    check(st.armed[i] == hl_timer_armed(&st.timers[i].t));
    if (st.armed[i]) {
      armed++;
      earliest = st.deadline[i] < earliest ? st.deadline[i] : earliest;
    }
  }
  check(armed == st.w.armed);
  uint64_t next = hl_timer_wheel_next_ms(&st.w);
  /* overdue timers make it the wheel's own time */
  uint64_t bound = earliest > st.w.now_ms ? earliest : st.w.now_ms;
  check(armed == 0 ? next == UINT64_MAX : next <= bound);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 6) {
    return 0;
  }
  memset(&st, 0, sizeof(st));
  /* Start anywhere below 2^44 so that carries across high levels happen. */
  uint64_t start = 0;
  for (size_t i = 0; i < 6; i++) {
    start = start << 8 | data[i];
  }
  start &= (UINT64_C(1) << 44) - 1;
  hl_timer_wheel_init(&st.w, start);
  st.now_ms = start;
  for (size_t i = 0; i < N; i++) {
    hl_timer_init(&st.timers[i].t);
  }
  size_t pos = 6;
  while (pos + 4 <= size) {
    uint8_t opc = data[pos] % 4;
    size_t i = data[pos] / 4 % N;
    const uint8_t *arg = data + pos + 1;
    pos += 4;
    switch (opc) {
    case 0: {
      /* arm: sometimes in the past (due at the next pass) */
      uint64_t d = distance(arg);
      uint64_t deadline = (arg[2] & 0x80) && d <= st.w.now_ms ? st.w.now_ms - d : st.w.now_ms + d;
      hl_timer_wheel_arm(&st.w, &st.timers[i].t, deadline, on_fire);
      st.armed[i] = true;
      st.overdue[i] = deadline <= st.w.now_ms;
      st.deadline[i] = deadline;
      break;
    }
    case 1:
      hl_timer_wheel_cancel(&st.w, &st.timers[i].t);
      st.armed[i] = false;
      break;
    case 2:
      st.timers[i].action = arg[0] % 3;
      st.timers[i].other = arg[1] % N;
      st.timers[i].rearm_ms = (uint32_t)distance(arg) & 0xfffff;
      break;
    default: {
      uint64_t d = distance(arg);
      st.now_ms = st.w.now_ms + d < TIME_MAX ? st.w.now_ms + d : TIME_MAX;
      st.last_fired = 0;
      st.fired_in_order = false;
      st.fires = 0;
      hl_timer_wheel_expire(&st.w, st.now_ms, NULL);
      check(st.w.now_ms == st.now_ms);
      for (size_t k = 0; k < N; k++) {
        check(!st.armed[k] || st.deadline[k] > st.now_ms);
      }
      break;
    }
    }
    check_model();
  }
  return 0;
}
