/* outcome: classification and backoff (see outcome.h). */
#include "deliver/outcome.h"

const char *hl_outcome_status_class(int status) {
  if (status >= 200 && status < 300) {
    return "";
  }
  if (status == 410) {
    return "http_410";
  }
  if (status == 429) {
    return "http_429";
  }
  if (status >= 300 && status < 400) {
    return "http_3xx";
  }
  if (status >= 400 && status < 500) {
    return "http_4xx";
  }
  if (status >= 500 && status < 600) {
    return "http_5xx";
  }
  return "http_other";
}

hl_decision hl_outcome_decide(const hl_attempt_result *r, uint32_t attempt,
                              const hl_retry_policy *p, int64_t now_ms, uint64_t rand) {
  if (r->status >= 200 && r->status < 300) {
    return (hl_decision){HL_OUTCOME_DELIVERED, 0};
  }
  if (r->status == 410) {
    return (hl_decision){HL_OUTCOME_DISABLED, 0};
  }
  if (attempt >= p->schedule_n) {
    return (hl_decision){HL_OUTCOME_DEAD, 0};
  }
  uint64_t delay_ms = (uint64_t)p->schedule_s[attempt] * 1000;
  /* ±20 % jitter spreads retries of a burst that failed together. */
  uint64_t span = delay_ms * 2 * HL_RETRY_JITTER_PERCENT / 100;
  if (span > 0) {
    delay_ms = delay_ms - span / 2 + rand % (span + 1);
  }
  if (r->has_retry_after) {
    uint64_t ra = (uint64_t)(r->retry_after_s < HL_RETRY_AFTER_MAX_S ? r->retry_after_s
                                                                      : HL_RETRY_AFTER_MAX_S) *
                  1000;
    /* The receiver asked for at least this long; never sooner than asked,
     * and never sooner than our own schedule. */
    if (ra > delay_ms) {
      delay_ms = ra;
    }
  }
  return (hl_decision){HL_OUTCOME_RETRY, now_ms + (int64_t)delay_ms};
}
