/* Tests for deliver/outcome: classification, schedule, jitter, Retry-After. */
#include "deliver/outcome.h"

#include "harness.h"

static const uint32_t sched[] = {0, 5, 300, 1800};
static const hl_retry_policy policy = {sched, 4};

TEST(success_and_gone_end_the_delivery) {
  hl_attempt_result r = {.status = 204};
  ASSERT_EQ(hl_outcome_decide(&r, 1, &policy, 1000, 0).outcome, HL_OUTCOME_DELIVERED);
  r.status = 410;
  ASSERT_EQ(hl_outcome_decide(&r, 1, &policy, 1000, 0).outcome, HL_OUTCOME_DISABLED);
  ASSERT_STR_EQ(hl_outcome_status_class(410), "http_410");
  ASSERT_STR_EQ(hl_outcome_status_class(200), "");
}

TEST(failures_retry_on_schedule_then_die) {
  const int statuses[] = {0, 301, 400, 404, 429, 500, 503, 599, 999};
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    hl_attempt_result r = {.status = statuses[i]};
    hl_decision d = hl_outcome_decide(&r, 1, &policy, 1000, 0);
    ASSERT_EQ(d.outcome, HL_OUTCOME_RETRY);
    /* attempt 2 is due 5 s later, minus up to 20 % */
    ASSERT_GE(d.next_ms, 1000 + 4000);
    ASSERT_LE(d.next_ms, 1000 + 6000);
    ASSERT_EQ(hl_outcome_decide(&r, 4, &policy, 1000, 0).outcome, HL_OUTCOME_DEAD);
  }
  ASSERT_STR_EQ(hl_outcome_status_class(301), "http_3xx");
  ASSERT_STR_EQ(hl_outcome_status_class(503), "http_5xx");
  ASSERT_STR_EQ(hl_outcome_status_class(429), "http_429");
}

TEST(jitter_stays_within_twenty_percent_and_spreads) {
  hl_attempt_result r = {.status = 503};
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 10000; i++) {
    hl_decision d = hl_outcome_decide(&r, 2, &policy, 0, hl_test_rand());
    ASSERT_GE(d.next_ms, 240000);
    ASSERT_LE(d.next_ms, 360000);
    lo = d.next_ms < lo ? d.next_ms : lo;
    hi = d.next_ms > hi ? d.next_ms : hi;
  }
  ASSERT_LT(lo, 250000);
  ASSERT_GT(hi, 350000);
}

TEST(retry_after_is_honoured_within_bounds) {
  hl_attempt_result r = {.status = 429, .has_retry_after = true, .retry_after_s = 120};
  /* Longer than the schedule's 5 s: the receiver's wish wins. */
  ASSERT_EQ(hl_outcome_decide(&r, 1, &policy, 0, 0).next_ms, 120000);
  /* Shorter than the schedule: the schedule wins. */
  r.retry_after_s = 1;
  ASSERT_GE(hl_outcome_decide(&r, 2, &policy, 0, 0).next_ms, 240000);
  /* Absurd values are clamped to a day. */
  r.retry_after_s = 10u * 24 * 3600;
  ASSERT_EQ(hl_outcome_decide(&r, 1, &policy, 0, 0).next_ms, 24ll * 3600 * 1000);
  /* It never revives a delivery out of attempts. */
  ASSERT_EQ(hl_outcome_decide(&r, 4, &policy, 0, 0).outcome, HL_OUTCOME_DEAD);
}

TEST(immediate_first_retry) {
  static const uint32_t now_sched[] = {0, 0, 10};
  hl_retry_policy p = {now_sched, 3};
  hl_attempt_result r = {.status = 500};
  hl_decision d = hl_outcome_decide(&r, 1, &p, 777, hl_test_rand());
  ASSERT_EQ(d.outcome, HL_OUTCOME_RETRY);
  ASSERT_EQ(d.next_ms, 777);
}
