/* gate: concurrency, rate and breaker per endpoint (see gate.h). */
#include "deliver/gate.h"

#include "base/assert.h"

/* A bucket holds at most a tenth of a second of requests (at least one), so
 * an idle endpoint cannot save up a large burst. */
static int64_t bucket_max_milli(const hl_gate_config *c) {
  int64_t burst = c->rate_per_s / 10;
  return (burst < 1 ? 1 : burst) * 1000;
}

void hl_gate_init(hl_gate *g, const hl_gate_config *cfg, int64_t now_ms) {
  *g = (hl_gate){.cfg = *cfg, .pause_ms = cfg->open_ms, .refilled_ms = now_ms};
  g->tokens_milli = bucket_max_milli(cfg);
}

void hl_gate_reconfigure(hl_gate *g, const hl_gate_config *cfg) {
  g->cfg = *cfg;
  int64_t max = bucket_max_milli(cfg);
  if (g->tokens_milli > max) {
    g->tokens_milli = max;
  }
  if (g->pause_ms < cfg->open_ms || g->pause_ms > cfg->open_ms_max) {
    g->pause_ms = cfg->open_ms;
  }
}

static void refill(hl_gate *g, int64_t now_ms) {
  if (now_ms <= g->refilled_ms) {
    return;
  }
  /* rate_per_s requests per 1000 ms = rate_per_s milli-requests per ms. */
  g->tokens_milli += (now_ms - g->refilled_ms) * (int64_t)g->cfg.rate_per_s;
  int64_t max = bucket_max_milli(&g->cfg);
  if (g->tokens_milli > max) {
    g->tokens_milli = max;
  }
  g->refilled_ms = now_ms;
}

hl_gate_verdict hl_gate_acquire(hl_gate *g, int64_t now_ms, int64_t *at_ms) {
  *at_ms = 0;
  if (g->breaker == HL_BREAKER_OPEN) {
    if (now_ms < g->open_until_ms) {
      *at_ms = g->open_until_ms;
      return HL_GATE_PAUSED;
    }
    g->breaker = HL_BREAKER_HALF_OPEN;
    g->probe_inflight = false;
  }
  if (g->breaker == HL_BREAKER_HALF_OPEN && g->probe_inflight) {
    /* Only the probe goes; the rest wait for its verdict, briefly. */
    *at_ms = now_ms + g->cfg.open_ms;
    return HL_GATE_PAUSED;
  }
  if (g->inflight >= g->cfg.max_inflight) {
    return HL_GATE_QUEUE;
  }
  if (g->cfg.rate_per_s > 0) {
    refill(g, now_ms);
    if (g->tokens_milli < 1000) {
      int64_t wait = (1000 - g->tokens_milli + g->cfg.rate_per_s - 1) / g->cfg.rate_per_s;
      *at_ms = now_ms + (wait > 0 ? wait : 1);
      return HL_GATE_QUEUE;
    }
    g->tokens_milli -= 1000;
  }
  g->inflight++;
  if (g->breaker == HL_BREAKER_HALF_OPEN) {
    g->probe_inflight = true;
  }
  return HL_GATE_GO;
}

hl_breaker_state hl_gate_done(hl_gate *g, bool ok, int64_t now_ms) {
  HL_ASSERT(g->inflight > 0);
  g->inflight--;
  if (ok) {
    g->failures = 0;
    if (g->breaker != HL_BREAKER_CLOSED) {
      g->breaker = HL_BREAKER_CLOSED;
      g->pause_ms = g->cfg.open_ms;
    }
    g->probe_inflight = false;
    return g->breaker;
  }
  g->failures++;
  bool probe_failed = g->breaker == HL_BREAKER_HALF_OPEN && g->probe_inflight;
  bool trips = g->breaker == HL_BREAKER_CLOSED && g->cfg.breaker_threshold > 0 &&
               g->failures >= g->cfg.breaker_threshold;
  if (probe_failed || trips) {
    g->breaker = HL_BREAKER_OPEN;
    g->open_until_ms = now_ms + g->pause_ms;
    g->probe_inflight = false;
    uint64_t next = (uint64_t)g->pause_ms * 2;
    g->pause_ms = next > g->cfg.open_ms_max ? g->cfg.open_ms_max : (uint32_t)next;
  }
  return g->breaker;
}

void hl_gate_cancel(hl_gate *g) {
  HL_ASSERT(g->inflight > 0);
  g->inflight--;
  if (g->breaker == HL_BREAKER_HALF_OPEN) {
    g->probe_inflight = false;
  }
}

const char *hl_breaker_name(hl_breaker_state s) {
  switch (s) {
    case HL_BREAKER_CLOSED:
      return "closed";
    case HL_BREAKER_OPEN:
      return "open";
    case HL_BREAKER_HALF_OPEN:
      return "half_open";
  }
  return "unknown";
}
