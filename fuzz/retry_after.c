/* Fuzz target: Retry-After values.
 *
 * Input: 8 bytes of "now", then the value. Properties: the delay is within
 * [0, HL_HTTP_RETRY_AFTER_S_MAX]; OWS around the value changes nothing;
 * delta-seconds agree with a plain decimal reading; moving "now" forward by
 * k seconds shortens a date's delay by k (until 0); and every IMF-fixdate or
 * asctime date we accept is the same instant for glibc's strptime + timegm
 * (RFC 850 dates are left out: their two-digit years follow RFC 9110's
 * 50-year rule, which strptime does not). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/h1_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok) {
  if (!ok) {
    abort();
  }
}

/* reference_time parses |s| with strptime in the given format, whole. */
static bool reference_time(const char *s, const char *fmt, int64_t *t) {
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char *end = strptime(s, fmt, &tm);
  if (end == NULL || *end != '\0') {
    return false;
  }
  *t = (int64_t)timegm(&tm);
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8 || size > 128) {
    return 0;
  }
  int64_t now;
  memcpy(&now, data, 8);
  hl_span v = hl_span_make(data + 8, size - 8);
  uint32_t d = 12345678;
  bool ok = hl_h1_parse_retry_after(v, now, &d);
  if (!ok) {
    check(d == 12345678);
    return 0;
  }
  check(d <= HL_HTTP_RETRY_AFTER_S_MAX);

  /* Surrounding OWS is not part of the value. */
  char padded[140];
  size_t n = 0;
  padded[n++] = ' ';
  padded[n++] = '\t';
  memcpy(padded + n, v.ptr, v.len);
  n += v.len;
  padded[n++] = ' ';
  uint32_t d2 = 0;
  check(hl_h1_parse_retry_after(hl_span_make(padded, n), now, &d2) && d2 == d);

  hl_span t = hl_span_trim_ows(v);
  if (t.ptr[0] >= '0' && t.ptr[0] <= '9') {
    uint64_t x = 0;
    for (size_t k = 0; k < t.len; k++) {
      check(t.ptr[k] >= '0' && t.ptr[k] <= '9');
      x = x > HL_HTTP_RETRY_AFTER_S_MAX ? x : x * 10 + (uint64_t)(t.ptr[k] - '0');
    }
    check(d == (x > HL_HTTP_RETRY_AFTER_S_MAX ? HL_HTTP_RETRY_AFTER_S_MAX : x));
    return 0;
  }

  /* A date: it is an instant; find it and check the delay around it. */
  char s[140];
  check(hl_span_to_cstr(t, s, sizeof(s)));
  int64_t at;
  bool rfc850 = t.len > 4 && memchr(t.ptr, '-', t.len) != NULL;
  if (!rfc850) {
    bool ref = reference_time(s, "%a, %d %b %Y %H:%M:%S GMT", &at) ||
               reference_time(s, "%a %b %d %H:%M:%S %Y", &at);
    check(ref);
    check(hl_h1_parse_retry_after(t, at - 100, &d2) && d2 == 100);
    check(hl_h1_parse_retry_after(t, at, &d2) && d2 == 0);
    check(hl_h1_parse_retry_after(t, at + 1, &d2) && d2 == 0);
  }
  if (now > INT64_MIN + 1000 && now < INT64_MAX - 1000) {
    uint32_t later = 0;
    check(hl_h1_parse_retry_after(t, now + 7, &later));
    check(later == (d == HL_HTTP_RETRY_AFTER_S_MAX ? later : (d > 7 ? d - 7 : 0)));
    check(later <= d);
  }
  return 0;
}
