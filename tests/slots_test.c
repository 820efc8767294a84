/* Tests for io/slots: acquire/release, generations, in-flight counting and
 * deferred reuse, driven by hand as the loop would drive them. */
#include "io/slots.h"

#include <errno.h>

#include "base/limits.h"
#include "harness.h"

static uint32_t freed_count;
static uint32_t last_freed;

static void on_free(void *ctx, uint32_t slot) {
  ASSERT_TRUE(ctx == &freed_count);
  freed_count++;
  last_freed = slot;
}

TEST(rejects_bad_capacity) {
  hl_slots s;
  ASSERT_EQ(hl_slots_init(&s, 0, NULL, NULL), -EINVAL);
  ASSERT_EQ(hl_slots_init(&s, HL_LOOP_SLOTS_MAX + 1, NULL, NULL), -EINVAL);
  hl_slots_cleanup(&s);
}

TEST(exhaustion_is_counted_not_grown) {
  hl_slots s;
  ASSERT_EQ(hl_slots_init(&s, 3, NULL, NULL), 0);
  uint32_t a, b, c, d;
  ASSERT_EQ(hl_slots_acquire(&s, &a), 0);
  ASSERT_EQ(hl_slots_acquire(&s, &b), 0);
  ASSERT_EQ(hl_slots_acquire(&s, &c), 0);
  ASSERT_TRUE(a != b && b != c && a != c);
  ASSERT_EQ(hl_slots_acquire(&s, &d), -ENOSPC);
  ASSERT_EQ(hl_slots_acquire(&s, &d), -ENOSPC);
  ASSERT_EQ(s.exhausted, 2);
  ASSERT_EQ(s.live, 3);
  hl_slots_release(&s, b);
  ASSERT_EQ(hl_slots_acquire(&s, &d), 0);
  ASSERT_EQ(d, b);
  hl_slots_cleanup(&s);
}

TEST(release_with_nothing_in_flight_frees_at_once_and_bumps_generation) {
  hl_slots s;
  freed_count = 0;
  ASSERT_EQ(hl_slots_init(&s, 1, on_free, &freed_count), 0);
  uint32_t slot;
  ASSERT_EQ(hl_slots_acquire(&s, &slot), 0);
  uint32_t gen = hl_slots_gen(&s, slot);
  uint64_t ud = hl_slots_ud(&s, 7, slot);
  ASSERT_EQ(ud >> 56, 7u);
  ASSERT_EQ((ud >> 32) & HL_SLOTS_GEN_MASK, gen);
  ASSERT_EQ((uint32_t)ud, slot);
  hl_slots_release(&s, slot);
  ASSERT_EQ(freed_count, 1u);
  ASSERT_EQ(hl_slots_state(&s, slot), HL_SLOT_FREE);
  ASSERT_EQ(hl_slots_gen(&s, slot), gen + 1);
  hl_slots_cleanup(&s);
}

TEST(slot_is_reused_only_after_its_last_completion) {
  hl_slots s;
  freed_count = 0;
  ASSERT_EQ(hl_slots_init(&s, 1, on_free, &freed_count), 0);
  uint32_t slot, other;
  ASSERT_EQ(hl_slots_acquire(&s, &slot), 0);
  uint32_t gen = hl_slots_gen(&s, slot);
  hl_slots_op_started(&s, slot, gen); /* a recv */
  hl_slots_op_started(&s, slot, gen); /* a multishot poll */
  ASSERT_EQ(hl_slots_inflight(&s, slot), 2u);
  /* a current multishot completion reaches the owner and keeps the count */
  ASSERT_TRUE(hl_slots_op_completed(&s, slot, gen, false));
  ASSERT_EQ(hl_slots_inflight(&s, slot), 2u);

  hl_slots_release(&s, slot);
  ASSERT_EQ(hl_slots_state(&s, slot), HL_SLOT_CLOSING);
  ASSERT_EQ(freed_count, 0u);
  ASSERT_EQ(hl_slots_acquire(&s, &other), -ENOSPC); /* not reusable yet */

  /* the old generation's completions are stale from now on */
  ASSERT_FALSE(hl_slots_op_completed(&s, slot, gen, false));
  ASSERT_FALSE(hl_slots_op_completed(&s, slot, gen, true));
  ASSERT_EQ(hl_slots_inflight(&s, slot), 1u);
  ASSERT_EQ(freed_count, 0u);
  ASSERT_EQ(hl_slots_acquire(&s, &other), -ENOSPC);
  ASSERT_FALSE(hl_slots_op_completed(&s, slot, gen, true)); /* the last one */
  ASSERT_EQ(freed_count, 1u);
  ASSERT_EQ(last_freed, slot);
  ASSERT_EQ(s.stale, 3);

  ASSERT_EQ(hl_slots_acquire(&s, &other), 0);
  ASSERT_EQ(other, slot);
  ASSERT_EQ(hl_slots_gen(&s, other), gen + 1);
  hl_slots_cleanup(&s);
}

TEST(generation_wraps_within_24_bits) {
  hl_slots s;
  ASSERT_EQ(hl_slots_init(&s, 1, NULL, NULL), 0);
  s.meta[0].gen = HL_SLOTS_GEN_MASK;
  uint32_t slot;
  ASSERT_EQ(hl_slots_acquire(&s, &slot), 0);
  hl_slots_release(&s, slot);
  ASSERT_EQ(hl_slots_gen(&s, slot), 0u);
  hl_slots_cleanup(&s);
}
