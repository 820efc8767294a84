/* Tests for io/timer: the hierarchical timing wheel, driven by hand (no
 * loop, no clock), so that order, counts and cancellation are exact. */
#include "io/timer.h"

#include <stdlib.h>

#include "harness.h"

typedef struct item {
  hl_timer t;
  uint32_t id;
  uint32_t fired;
  uint64_t fired_at_ms; /* the wheel's time when it fired */
} item;

/* What the callbacks see; tests reset it. */
static struct {
  hl_timer_wheel *w;
  uint64_t last_deadline_ms;
  uint64_t fired;
  bool out_of_order;
  item *items;
  size_t n_items;
  /* optional behaviour of callbacks */
  item *cancel_on_fire; /* cancel this one when any timer fires */
  uint64_t rearm_delta_ms;
  uint32_t rearm_times;
} rec;

static void rec_reset(hl_timer_wheel *w, item *items, size_t n) {
  memset(&rec, 0, sizeof(rec));
  rec.w = w;
  rec.items = items;
  rec.n_items = n;
  for (size_t i = 0; i < n; i++) {
    hl_timer_init(&items[i].t);
    items[i].id = (uint32_t)i;
    items[i].fired = 0;
  }
}

static void on_fire(struct hl_loop *loop, hl_timer *t) {
  (void)loop;
  item *it = HL_CONTAINER_OF(t, item, t);
  it->fired++;
  it->fired_at_ms = rec.w->now_ms;
  if (t->deadline_ms < rec.last_deadline_ms) {
    rec.out_of_order = true;
  }
  rec.last_deadline_ms = t->deadline_ms;
  rec.fired++;
  if (rec.cancel_on_fire != NULL) {
    hl_timer_wheel_cancel(rec.w, &rec.cancel_on_fire->t);
  }
  if (rec.rearm_times > 0) {
    rec.rearm_times--;
    hl_timer_wheel_arm(rec.w, t, t->deadline_ms + rec.rearm_delta_ms, on_fire);
  }
}

static hl_timer_wheel *wheel_new(uint64_t now_ms) {
  hl_timer_wheel *w = malloc(sizeof(*w));
  hl_timer_wheel_init(w, now_ms);
  return w;
}

/* wheel_with_random: a wheel at |now_ms| with |n| items armed at now + 1 +
 * rand % |spread_ms|; the caller frees both. */
static hl_timer_wheel *wheel_with_random(uint64_t now_ms, size_t n, uint64_t spread_ms,
                                         item **items) {
  hl_timer_wheel *w = wheel_new(now_ms);
  *items = calloc(n, sizeof(item));
  rec_reset(w, *items, n);
  for (size_t i = 0; i < n; i++) {
    hl_timer_wheel_arm(w, &(*items)[i].t, now_ms + 1 + hl_test_rand() % spread_ms, on_fire);
  }
  return w;
}

TEST(fires_in_deadline_order_across_levels) {
  enum { N = 5000 };
  hl_timer_wheel *w = wheel_new(1000);
  item *items = calloc(N, sizeof(item));
  rec_reset(w, items, N);
  for (size_t i = 0; i < N; i++) {
    /* 1 ms to ~4.6 hours ahead: levels 0 to 3 */
    uint64_t ahead = 1 + hl_test_rand() % (1u << (1 + hl_test_rand() % 24));
    hl_timer_wheel_arm(w, &items[i].t, 1000 + ahead, on_fire);
  }
  ASSERT_EQ(w->armed, (uint64_t)N);
  uint64_t now = 1000;
  while (w->armed > 0) {
    now += 1 + hl_test_rand() % 70000;
    hl_timer_wheel_expire(w, now, NULL);
    for (size_t i = 0; i < N; i++) {
      /* nothing that is due is left behind, nothing fires early */
      if (items[i].t.deadline_ms <= now) {
        ASSERT_EQ(items[i].fired, 1u);
      } else {
        ASSERT_EQ(items[i].fired, 0u);
      }
    }
  }
  ASSERT_EQ(rec.fired, (uint64_t)N);
  ASSERT_FALSE(rec.out_of_order);
  for (size_t i = 0; i < N; i++) {
    ASSERT_FALSE(hl_timer_armed(&items[i].t));
    /* fired exactly at its deadline on the wheel's clock */
    ASSERT_EQ(items[i].fired_at_ms, items[i].t.deadline_ms);
  }
  free(items);
  free(w);
}

TEST(stepping_one_ms_at_a_time_fires_each_on_time) {
  enum { N = 3000 };
  item *items;
  hl_timer_wheel *w = wheel_with_random(0, N, 10000, &items);
  for (uint64_t now = 1; now <= 10000; now++) {
    hl_timer_wheel_expire(w, now, NULL);
  }
  ASSERT_EQ(rec.fired, (uint64_t)N);
  ASSERT_FALSE(rec.out_of_order);
  free(items);
  free(w);
}

TEST(cancelled_timers_never_fire) {
  enum { N = 20000 };
  item *items;
  hl_timer_wheel *w = wheel_with_random(50, N, 300000, &items);
  size_t cancelled = 0;
  for (size_t i = 0; i < N; i += 3) {
    hl_timer_wheel_cancel(w, &items[i].t);
    ASSERT_FALSE(hl_timer_armed(&items[i].t));
    cancelled++;
  }
  hl_timer_wheel_cancel(w, &items[0].t); /* twice: a no-op */
  ASSERT_EQ(w->armed, (uint64_t)(N - cancelled));
  hl_timer_wheel_expire(w, 50 + 300001, NULL);
  ASSERT_EQ(rec.fired, (uint64_t)(N - cancelled));
  for (size_t i = 0; i < N; i++) {
    ASSERT_EQ(items[i].fired, i % 3 == 0 ? 0u : 1u);
  }
  ASSERT_EQ(w->armed, 0);
  ASSERT_EQ(hl_timer_wheel_next_ms(w), UINT64_MAX);
  free(items);
  free(w);
}

TEST(callback_may_cancel_a_timer_due_in_the_same_pass) {
  hl_timer_wheel *w = wheel_new(0);
  item items[3];
  rec_reset(w, items, 3);
  hl_timer_wheel_arm(w, &items[0].t, 10, on_fire);
  hl_timer_wheel_arm(w, &items[1].t, 20, on_fire); /* cancelled by the first */
  hl_timer_wheel_arm(w, &items[2].t, 20, on_fire);
  rec.cancel_on_fire = &items[1];
  ASSERT_EQ(hl_timer_wheel_expire(w, 100, NULL), 2);
  ASSERT_EQ(items[0].fired, 1u);
  ASSERT_EQ(items[1].fired, 0u);
  ASSERT_EQ(items[2].fired, 1u);
  free(w);
}

TEST(callback_may_rearm_itself) {
  hl_timer_wheel *w = wheel_new(0);
  item it[1];
  rec_reset(w, it, 1);
  rec.rearm_delta_ms = 7;
  rec.rearm_times = 5;
  hl_timer_wheel_arm(w, &it[0].t, 7, on_fire);
  /* 7, 14, ... 42: six firings, all inside one pass to 50 */
  ASSERT_EQ(hl_timer_wheel_expire(w, 50, NULL), 6);
  ASSERT_EQ(it[0].fired, 6u);
  ASSERT_FALSE(hl_timer_armed(&it[0].t));
  ASSERT_FALSE(rec.out_of_order);
  free(w);
}

TEST(due_timers_fire_on_the_next_pass_not_inside_arm) {
  hl_timer_wheel *w = wheel_new(500);
  item it[2];
  rec_reset(w, it, 2);
  hl_timer_wheel_arm(w, &it[0].t, 500, on_fire); /* already due */
  hl_timer_wheel_arm(w, &it[1].t, 3, on_fire);   /* long past */
  ASSERT_EQ(it[0].fired, 0u);
  ASSERT_EQ(hl_timer_wheel_next_ms(w), 500);
  ASSERT_EQ(hl_timer_wheel_expire(w, 500, NULL), 2);
  ASSERT_EQ(it[0].fired, 1u);
  ASSERT_EQ(it[1].fired, 1u);
  /* A callback that re-arms at "now" waits for the following pass. */
  rec.rearm_delta_ms = 0;
  rec.rearm_times = 1;
  hl_timer_wheel_arm(w, &it[0].t, 500, on_fire);
  ASSERT_EQ(hl_timer_wheel_expire(w, 500, NULL), 1);
  ASSERT_TRUE(hl_timer_armed(&it[0].t));
  ASSERT_EQ(hl_timer_wheel_expire(w, 500, NULL), 1);
  ASSERT_FALSE(hl_timer_armed(&it[0].t));
  free(w);
}

TEST(rearming_an_armed_timer_moves_it) {
  hl_timer_wheel *w = wheel_new(0);
  item it[1];
  rec_reset(w, it, 1);
  hl_timer_wheel_arm(w, &it[0].t, 100, on_fire);
  hl_timer_wheel_arm(w, &it[0].t, 5000, on_fire);
  ASSERT_EQ(w->armed, 1);
  ASSERT_EQ(hl_timer_wheel_expire(w, 4999, NULL), 0);
  ASSERT_EQ(hl_timer_wheel_expire(w, 5000, NULL), 1);
  ASSERT_EQ(it[0].fired, 1u);
  free(w);
}

TEST(next_ms_is_a_lower_bound_and_exact_on_level_zero) {
  hl_timer_wheel *w = wheel_new(0);
  item it[2];
  rec_reset(w, it, 2);
  ASSERT_EQ(hl_timer_wheel_next_ms(w), UINT64_MAX);
  hl_timer_wheel_arm(w, &it[0].t, 37, on_fire);
  ASSERT_EQ(hl_timer_wheel_next_ms(w), 37);
  hl_timer_wheel_cancel(w, &it[0].t);
  hl_timer_wheel_arm(w, &it[1].t, 100000, on_fire);
  for (int guard = 0; guard < 100 && w->armed > 0; guard++) {
    uint64_t next = hl_timer_wheel_next_ms(w);
    ASSERT_LE(next, 100000);
    ASSERT_GT(next, w->now_ms);
    hl_timer_wheel_expire(w, next, NULL); /* a cascade point, or the deadline */
  }
  ASSERT_EQ(it[1].fired, 1u);
  ASSERT_EQ(it[1].fired_at_ms, 100000);
  free(w);
}

TEST(far_deadlines_are_clamped_and_large_jumps_work) {
  hl_timer_wheel *w = wheel_new(12345);
  item it[4];
  rec_reset(w, it, 4);
  hl_timer_wheel_arm(w, &it[0].t, UINT64_MAX, on_fire);
  ASSERT_EQ(it[0].t.deadline_ms, HL_TIMER_NEVER);
  hl_timer_wheel_arm(w, &it[1].t, UINT64_C(1) << 40, on_fire);
  hl_timer_wheel_arm(w, &it[2].t, 86400000ull * 3, on_fire); /* three days */
  hl_timer_wheel_arm(w, &it[3].t, 12346, on_fire);
  ASSERT_EQ(hl_timer_wheel_expire(w, UINT64_C(1) << 41, NULL), 3);
  ASSERT_EQ(it[0].fired, 0u);
  ASSERT_FALSE(rec.out_of_order);
  ASSERT_TRUE(hl_timer_armed(&it[0].t));
  /* time does not go back */
  ASSERT_EQ(hl_timer_wheel_expire(w, 5, NULL), 0);
  ASSERT_EQ(w->now_ms, UINT64_C(1) << 41);
  ASSERT_EQ(hl_timer_wheel_expire(w, HL_TIMER_NEVER, NULL), 1);
  ASSERT_EQ(w->armed, 0);
  free(w);
}
