/* timer: the hierarchical timing wheel (see timer.h).
 *
 * Invariant, for every timer in slot s of level L: its deadline d is after
 * the wheel's now, d and now agree on every bit above level L, and s is d's
 * level-L digit, which is therefore greater than now's. So every occupied
 * slot of a level lies ahead of now's digit, the lowest set bit of the
 * level's occupancy map is its next slot to come due, and the time at which
 * that slot is reached is now's upper bits with the digit set to s. */
#include "io/timer.h"

#include "base/assert.h"
#include "io/loop.h"

#define WHERE_DUE (HL_TIMER_WHEEL_LEVELS * HL_TIMER_WHEEL_SLOTS)
#define DIGIT_MASK (HL_TIMER_WHEEL_SLOTS - 1)

static void list_init(hl_timer_link *head) {
  head->next = head;
  head->prev = head;
}

static bool list_empty(const hl_timer_link *head) {
  return head->next == head;
}

static void list_push_back(hl_timer_link *head, hl_timer_link *l) {
  l->prev = head->prev;
  l->next = head;
  head->prev->next = l;
  head->prev = l;
}

static void list_unlink(hl_timer_link *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->next = NULL;
  l->prev = NULL;
}

/* list_move moves every element of |from| to the empty |to|. */
static void list_move(hl_timer_link *from, hl_timer_link *to) {
  list_init(to);
  if (list_empty(from)) {
    return;
  }
  to->next = from->next;
  to->prev = from->prev;
  to->next->prev = to;
  to->prev->next = to;
  list_init(from);
}

void hl_timer_wheel_init(hl_timer_wheel *w, uint64_t now_ms) {
  w->now_ms = now_ms;
  w->armed = 0;
  list_init(&w->due);
  for (unsigned l = 0; l < HL_TIMER_WHEEL_LEVELS; l++) {
    w->occupied[l] = 0;
    for (unsigned s = 0; s < HL_TIMER_WHEEL_SLOTS; s++) {
      list_init(&w->slots[l][s]);
    }
  }
}

static void wheel_insert(hl_timer_wheel *w, hl_timer *t) {
  uint64_t d = t->deadline_ms;
  if (d <= w->now_ms) {
    t->where = WHERE_DUE;
    list_push_back(&w->due, &t->link);
    return;
  }
  unsigned high_bit = 63u - (unsigned)__builtin_clzll(d ^ w->now_ms);
  unsigned level = high_bit / HL_TIMER_WHEEL_BITS;
  HL_ASSERT(level < HL_TIMER_WHEEL_LEVELS); /* deadlines are clamped to HL_TIMER_NEVER */
  unsigned slot = (unsigned)(d >> (level * HL_TIMER_WHEEL_BITS)) & DIGIT_MASK;
  t->where = level * HL_TIMER_WHEEL_SLOTS + slot;
  list_push_back(&w->slots[level][slot], &t->link);
  w->occupied[level] |= UINT64_C(1) << slot;
}

void hl_timer_wheel_cancel(hl_timer_wheel *w, hl_timer *t) {
  if (!hl_timer_armed(t)) {
    return;
  }
  list_unlink(&t->link);
  w->armed--;
  if (t->where == WHERE_DUE) {
    return;
  }
  unsigned level = t->where / HL_TIMER_WHEEL_SLOTS;
  unsigned slot = t->where % HL_TIMER_WHEEL_SLOTS;
  if (list_empty(&w->slots[level][slot])) {
    w->occupied[level] &= ~(UINT64_C(1) << slot);
  }
}

void hl_timer_wheel_arm(hl_timer_wheel *w, hl_timer *t, uint64_t deadline_ms, hl_timer_fn cb) {
  HL_ASSERT(cb != NULL);
  hl_timer_wheel_cancel(w, t);
  t->deadline_ms = deadline_ms < HL_TIMER_NEVER ? deadline_ms : HL_TIMER_NEVER;
  t->cb = cb;
  wheel_insert(w, t);
  w->armed++;
}

/* level_due_ms: when level |level|'s first occupied slot is reached. */
static uint64_t level_due_ms(const hl_timer_wheel *w, unsigned level) {
  uint64_t occ = w->occupied[level];
  if (occ == 0) {
    return UINT64_MAX;
  }
  unsigned shift = level * HL_TIMER_WHEEL_BITS;
  uint64_t upper = (w->now_ms >> (shift + HL_TIMER_WHEEL_BITS)) << (shift + HL_TIMER_WHEEL_BITS);
  return upper | ((uint64_t)__builtin_ctzll(occ) << shift);
}

static uint64_t wheel_next_ms(const hl_timer_wheel *w) {
  uint64_t next = UINT64_MAX;
  for (unsigned l = 0; l < HL_TIMER_WHEEL_LEVELS; l++) {
    uint64_t at = level_due_ms(w, l);
    next = at < next ? at : next;
  }
  return next;
}

uint64_t hl_timer_wheel_next_ms(const hl_timer_wheel *w) {
  if (!list_empty(&w->due)) {
    return w->now_ms;
  }
  return wheel_next_ms(w);
}

static void fire(hl_timer_wheel *w, hl_timer *t, struct hl_loop *loop) {
  list_unlink(&t->link);
  w->armed--;
  t->cb(loop, t);
}

/* run_slot empties one slot that has come due at the wheel's now: timers at
 * their deadline fire, the others move down a level. A callback cannot add
 * to this slot (new deadlines land in slots ahead of now's digits), so the
 * loop ends; it may cancel timers still in it, which simply unlinks them. */
static size_t run_slot(hl_timer_wheel *w, unsigned level, unsigned slot, struct hl_loop *loop) {
  hl_timer_link *head = &w->slots[level][slot];
  w->occupied[level] &= ~(UINT64_C(1) << slot);
  size_t fired = 0;
  while (!list_empty(head)) {
    hl_timer *t = (hl_timer *)head->next;
    if (t->deadline_ms <= w->now_ms) {
      fire(w, t, loop);
      fired++;
    } else {
      list_unlink(&t->link);
      wheel_insert(w, t);
    }
  }
  return fired;
}

size_t hl_timer_wheel_expire(hl_timer_wheel *w, uint64_t now_ms, struct hl_loop *loop) {
  size_t fired = 0;
  /* The due list is taken whole first: timers that callbacks arm for "now"
   * wait for the next pass instead of looping here forever. */
  hl_timer_link due;
  list_move(&w->due, &due);
  while (!list_empty(&due)) {
    fire(w, (hl_timer *)due.next, loop);
    fired++;
  }
  for (;;) {
    uint64_t at = wheel_next_ms(w);
    if (at > now_ms) {
      break;
    }
    /* Step to the next boundary, then empty every level's slot that is due
     * exactly then: stepping boundary by boundary keeps deadline order. */
    unsigned levels_due = 0;
    for (unsigned l = 0; l < HL_TIMER_WHEEL_LEVELS; l++) {
      if (level_due_ms(w, l) == at) {
        levels_due |= 1u << l;
      }
    }
    HL_ASSERT(at > w->now_ms); /* occupied slots lie ahead of now */
    w->now_ms = at;
    for (unsigned l = HL_TIMER_WHEEL_LEVELS; l-- > 0;) {
      if (levels_due & (1u << l)) {
        unsigned slot = (unsigned)(at >> (l * HL_TIMER_WHEEL_BITS)) & DIGIT_MASK;
        fired += run_slot(w, l, slot, loop);
      }
    }
  }
  if (now_ms > w->now_ms) {
    w->now_ms = now_ms;
  }
  return fired;
}

void hl_timer_arm(struct hl_loop *loop, hl_timer *t, uint64_t deadline_ms, hl_timer_fn cb) {
  hl_timer_wheel_arm(hl_loop_timer_wheel(loop), t, deadline_ms, cb);
}

void hl_timer_arm_in(struct hl_loop *loop, hl_timer *t, uint64_t delay_ms, hl_timer_fn cb) {
  uint64_t now = hl_loop_now_ms(loop);
  uint64_t deadline = delay_ms < HL_TIMER_NEVER - now ? now + delay_ms : HL_TIMER_NEVER;
  hl_timer_wheel_arm(hl_loop_timer_wheel(loop), t, deadline, cb);
}

void hl_timer_cancel(struct hl_loop *loop, hl_timer *t) {
  hl_timer_wheel_cancel(hl_loop_timer_wheel(loop), t);
}
