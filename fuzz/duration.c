/* Fuzz target: hl_ops_parse_duration (tools/ops.h), the "<digits><unit>"
 * durations of --since, --older-than, --window and --retention.
 *
 * Input: the flag's text (up to the first NUL). Properties (abort on
 * violation), against a reference written here from the documented rules
 * (digits, then one unit of s, m, h or d; greater than zero; at most 3650
 * days):
 *   - the parser accepts exactly what the reference accepts, with the same
 *     number of milliseconds, 0 < ms <= HL_OPS_DURATION_MS_MAX;
 *   - a refusal returns a negative errno, leaves *ms alone and says why in
 *     a message naming the flag; -ERANGE exactly for well-formed durations
 *     longer than the maximum, however many digits they have;
 *   - an accepted duration written back for people (hl_ops_put_span_ms,
 *     "90m", "7d") parses to the same milliseconds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_BYTES_MAX 256
#define FLAG "--since"
/* Ten years of 365 days, as the documentation says. */
#define REF_MS_MAX 315360000000ll
_Static_assert(REF_MS_MAX == HL_OPS_DURATION_MS_MAX, "the documented maximum is 3650d");

static void check(bool ok) {
  if (!ok) {
    abort();
  }
}

typedef enum ref_result { REF_OK, REF_SYNTAX, REF_ZERO, REF_TOO_LONG } ref_result;

static ref_result reference(const char *s, int64_t *ms) {
  size_t n = strlen(s);
  if (n < 2) {
    return REF_SYNTAX;
  }
  int64_t unit_ms;
  switch (s[n - 1]) {
    case 's':
      unit_ms = 1000;
      break;
    case 'm':
      unit_ms = 60000;
      break;
    case 'h':
      unit_ms = 3600000;
      break;
    case 'd':
      unit_ms = 86400000;
      break;
    default:
      return REF_SYNTAX;
  }
  /* Past 10^15 units any duration is too long; stop counting there so the
   * value never overflows, but keep checking that the rest are digits. */
  int64_t v = 0;
  bool huge = false;
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return REF_SYNTAX;
    }
    if (!huge) {
      v = v * 10 + (s[i] - '0');
      huge = v > 1000000000000000ll;
    }
  }
  if (huge || v > REF_MS_MAX / unit_ms) {
    return REF_TOO_LONG;
  }
  if (v == 0) {
    return REF_ZERO;
  }
  *ms = v * unit_ms;
  return REF_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > INPUT_BYTES_MAX) {
    return 0;
  }
  char text[INPUT_BYTES_MAX + 1];
  memcpy(text, data, size);
  text[size] = '\0';

  int64_t want = 0;
  ref_result ref = reference(text, &want);
  const int64_t untouched = -42;
  int64_t ms = untouched;
  hl_err err = {{0}};
  int rc = hl_ops_parse_duration(text, FLAG, &ms, &err);
  if (rc != 0) {
    check(ref != REF_OK);
    check(rc < 0 && ms == untouched);
    check(err.msg[0] != '\0' && strstr(err.msg, FLAG) != NULL);
    check((rc == -ERANGE) == (ref == REF_TOO_LONG));
    return 0;
  }
  check(ref == REF_OK && ms == want);
  check(ms > 0 && ms <= HL_OPS_DURATION_MS_MAX);

  char out_mem[64];
  hl_buf out;
  hl_buf_init(&out, out_mem, sizeof(out_mem));
  hl_ops_put_span_ms(&out, ms);
  int64_t again = untouched;
  check(hl_ops_parse_duration(hl_buf_cstr(&out), FLAG, &again, &err) == 0 && again == ms);
  return 0;
}
