/* outcome: what one attempt's result means for the delivery (ARCHITECTURE.md,
 * Outcomes), and when the next attempt happens.
 *
 *   2xx                      delivered
 *   410 Gone                 the endpoint is disabled; the delivery ends
 *   anything else            retry per the schedule, with ±20 % jitter and
 *   (3xx, 4xx, 5xx, every    Retry-After honoured within bounds; after the
 *   network/TLS/DNS error)   last attempt the delivery is dead-lettered
 *
 * Pure: the caller passes the clock and the random source. */
#ifndef HL_DELIVER_OUTCOME_H
#define HL_DELIVER_OUTCOME_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Retry-After above this is clamped: a receiver cannot park a delivery for
 * longer than a day. */
#define HL_RETRY_AFTER_MAX_S (24u * 3600)
#define HL_RETRY_JITTER_PERCENT 20

typedef struct hl_attempt_result {
  int status;              /* HTTP status, 0 when there was no response */
  bool has_retry_after;    /* the response carried a usable Retry-After */
  uint32_t retry_after_s;
} hl_attempt_result;

typedef struct hl_retry_policy {
  const uint32_t *schedule_s; /* delay before attempt i + 1; [0] is the first */
  uint32_t schedule_n;        /* = the maximum number of attempts */
} hl_retry_policy;

typedef struct hl_decision {
  hl_outcome outcome;
  int64_t next_ms; /* HL_OUTCOME_RETRY: when to send attempt + 1 */
} hl_decision;

/* hl_outcome_decide: |attempt| is the 1-based number of the attempt that
 * produced |r|; |rand| is any 64-bit random value (for the jitter). */
hl_decision hl_outcome_decide(const hl_attempt_result *r, uint32_t attempt,
                              const hl_retry_policy *p, int64_t now_ms, uint64_t rand);

/* hl_outcome_status_class names an HTTP failure for the attempt log:
 * "http_3xx", "http_4xx", "http_410", "http_429", "http_5xx", or "" for 2xx. */
const char *hl_outcome_status_class(int status);

#endif
