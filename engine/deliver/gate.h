/* gate: whether a delivery to one endpoint may start now.
 *
 * Three limits per endpoint, all owned by the worker the endpoint belongs
 * to (no locks):
 *   - concurrency: at most max_inflight requests at once (max_connections);
 *   - rate: a token bucket refilled at rate_per_s (0 = unlimited), so a
 *     burst of queued deliveries goes out at the configured pace;
 *   - circuit breaker: after threshold consecutive failures the endpoint is
 *     paused (OPEN) for open_ms, then one probe is let through (HALF_OPEN):
 *     success closes the breaker, failure reopens it for twice as long (up
 *     to open_ms_max). A paused endpoint's deliveries wait in the retry
 *     schedule instead of holding connections and slots, so a dead
 *     endpoint cannot slow the healthy ones.
 * Pure: the caller passes the clock. */
#ifndef HL_DELIVER_GATE_H
#define HL_DELIVER_GATE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum hl_breaker_state {
  HL_BREAKER_CLOSED = 0,
  HL_BREAKER_OPEN,
  HL_BREAKER_HALF_OPEN,
} hl_breaker_state;

typedef struct hl_gate_config {
  uint32_t max_inflight;
  uint32_t rate_per_s;        /* 0: unlimited */
  uint32_t breaker_threshold; /* consecutive failures that open it; 0: never */
  uint32_t open_ms;           /* first pause */
  uint32_t open_ms_max;       /* longest pause */
} hl_gate_config;

#define HL_BREAKER_THRESHOLD_DEFAULT 10
#define HL_BREAKER_OPEN_MS_DEFAULT 5000
#define HL_BREAKER_OPEN_MS_MAX_DEFAULT (5 * 60 * 1000)

typedef struct hl_gate {
  hl_gate_config cfg;
  uint32_t inflight;
  hl_breaker_state breaker;
  uint32_t failures;      /* consecutive */
  uint32_t pause_ms;      /* the current (next) pause length */
  int64_t open_until_ms;  /* OPEN: when the probe may go */
  bool probe_inflight;    /* HALF_OPEN: the one probe is out */
  int64_t tokens_milli;   /* rate bucket, in thousandths of a request */
  int64_t refilled_ms;
} hl_gate;

typedef enum hl_gate_verdict {
  HL_GATE_GO = 0, /* start it; call hl_gate_done when it ends */
  HL_GATE_QUEUE,  /* full or rate-limited: keep it queued; retry at *at_ms
                     (rate) or when a request ends (concurrency, *at_ms 0) */
  HL_GATE_PAUSED, /* breaker open: park it until *at_ms */
} hl_gate_verdict;

void hl_gate_init(hl_gate *g, const hl_gate_config *cfg, int64_t now_ms);

/* hl_gate_reconfigure applies new limits (endpoint updated) and keeps the
 * state (in-flight count, breaker). */
void hl_gate_reconfigure(hl_gate *g, const hl_gate_config *cfg);

hl_gate_verdict hl_gate_acquire(hl_gate *g, int64_t now_ms, int64_t *at_ms);

/* hl_gate_done ends a request that hl_gate_acquire let through. |ok| is
 * whether it succeeded (2xx). Returns the breaker state after it, so the
 * caller can log transitions. */
hl_breaker_state hl_gate_done(hl_gate *g, bool ok, int64_t now_ms);

/* hl_gate_cancel gives back a slot hl_gate_acquire granted for a request
 * that was never sent (no success, no failure). */
void hl_gate_cancel(hl_gate *g);

const char *hl_breaker_name(hl_breaker_state s);

#endif
