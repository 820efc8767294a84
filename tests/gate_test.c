/* Tests for deliver/gate: concurrency, token bucket, circuit breaker. */
#include "deliver/gate.h"

#include "harness.h"

static hl_gate_config cfg(uint32_t inflight, uint32_t rate, uint32_t threshold) {
  return (hl_gate_config){.max_inflight = inflight,
                          .rate_per_s = rate,
                          .breaker_threshold = threshold,
                          .open_ms = 1000,
                          .open_ms_max = 4000};
}

TEST(concurrency_is_capped_and_freed) {
  hl_gate g;
  hl_gate_config c = cfg(2, 0, 0);
  hl_gate_init(&g, &c, 0);
  int64_t at;
  ASSERT_EQ(hl_gate_acquire(&g, 0, &at), HL_GATE_GO);
  ASSERT_EQ(hl_gate_acquire(&g, 0, &at), HL_GATE_GO);
  ASSERT_EQ(hl_gate_acquire(&g, 0, &at), HL_GATE_QUEUE);
  ASSERT_EQ(at, 0); /* wait for a request to end, not for a time */
  hl_gate_done(&g, true, 1);
  ASSERT_EQ(hl_gate_acquire(&g, 1, &at), HL_GATE_GO);
}

TEST(rate_limit_paces_a_burst) {
  hl_gate g;
  hl_gate_config c = cfg(1000, 100, 0); /* 100/s: burst of 10, then one per 10 ms */
  hl_gate_init(&g, &c, 0);
  int64_t at;
  int went = 0;
  while (hl_gate_acquire(&g, 0, &at) == HL_GATE_GO) {
    went++;
  }
  ASSERT_EQ(went, 10);
  ASSERT_EQ(at, 10);
  /* Over one simulated second, about 100 more go. */
  int64_t now = 0;
  int more = 0;
  while (now < 1000) {
    if (hl_gate_acquire(&g, now, &at) == HL_GATE_GO) {
      more++;
    } else {
      ASSERT_GT(at, now);
      now = at;
    }
  }
  ASSERT_GE(more, 99);
  ASSERT_LE(more, 101);
}

TEST(breaker_opens_probes_and_backs_off) {
  hl_gate g;
  hl_gate_config c = cfg(10, 0, 3);
  hl_gate_init(&g, &c, 0);
  int64_t at;
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(hl_gate_acquire(&g, 0, &at), HL_GATE_GO);
    ASSERT_EQ(hl_gate_done(&g, false, 0), HL_BREAKER_CLOSED);
  }
  ASSERT_EQ(hl_gate_acquire(&g, 0, &at), HL_GATE_GO);
  ASSERT_EQ(hl_gate_done(&g, false, 100), HL_BREAKER_OPEN);
  ASSERT_EQ(hl_gate_acquire(&g, 500, &at), HL_GATE_PAUSED);
  ASSERT_EQ(at, 1100);
  /* After the pause exactly one probe goes; the rest wait for it. */
  ASSERT_EQ(hl_gate_acquire(&g, 1100, &at), HL_GATE_GO);
  ASSERT_EQ(hl_gate_acquire(&g, 1100, &at), HL_GATE_PAUSED);
  /* The probe fails: paused twice as long. */
  ASSERT_EQ(hl_gate_done(&g, false, 1200), HL_BREAKER_OPEN);
  ASSERT_EQ(hl_gate_acquire(&g, 1300, &at), HL_GATE_PAUSED);
  ASSERT_EQ(at, 3200);
  ASSERT_EQ(hl_gate_acquire(&g, 3200, &at), HL_GATE_GO);
  ASSERT_EQ(hl_gate_done(&g, false, 3200), HL_BREAKER_OPEN);
  ASSERT_EQ(hl_gate_acquire(&g, 3200, &at), HL_GATE_PAUSED);
  ASSERT_EQ(at, 7200); /* capped at open_ms_max */
  ASSERT_EQ(hl_gate_acquire(&g, 7200, &at), HL_GATE_GO);
  ASSERT_EQ(hl_gate_done(&g, false, 7200), HL_BREAKER_OPEN);
  ASSERT_EQ(hl_gate_acquire(&g, 7300, &at), HL_GATE_PAUSED);
  ASSERT_EQ(at, 11200);
  /* A successful probe closes it and resets the pause. */
  ASSERT_EQ(hl_gate_acquire(&g, 11200, &at), HL_GATE_GO);
  ASSERT_EQ(hl_gate_done(&g, true, 11300), HL_BREAKER_CLOSED);
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(hl_gate_acquire(&g, 11300, &at), HL_GATE_GO);
  }
  for (int i = 0; i < 5; i++) {
    hl_gate_done(&g, false, 11400);
  }
  ASSERT_EQ(hl_gate_acquire(&g, 11500, &at), HL_GATE_PAUSED);
  ASSERT_EQ(at, 12400); /* back to the first pause */
}

TEST(successes_between_failures_keep_it_closed) {
  hl_gate g;
  hl_gate_config c = cfg(10, 0, 3);
  hl_gate_init(&g, &c, 0);
  int64_t at;
  for (int i = 0; i < 100; i++) {
    ASSERT_EQ(hl_gate_acquire(&g, i, &at), HL_GATE_GO);
    hl_gate_done(&g, i % 3 == 2, i);
  }
  ASSERT_EQ(g.breaker, HL_BREAKER_CLOSED);
}

TEST(reconfigure_keeps_state) {
  hl_gate g;
  hl_gate_config c = cfg(1, 0, 0);
  hl_gate_init(&g, &c, 0);
  int64_t at;
  ASSERT_EQ(hl_gate_acquire(&g, 0, &at), HL_GATE_GO);
  ASSERT_EQ(hl_gate_acquire(&g, 0, &at), HL_GATE_QUEUE);
  c.max_inflight = 2;
  hl_gate_reconfigure(&g, &c);
  ASSERT_EQ(g.inflight, 1);
  ASSERT_EQ(hl_gate_acquire(&g, 0, &at), HL_GATE_GO);
}
