/* Fuzz target: the message record decoder (ring/message.h).
 * Properties: decoding never reads outside the input; whatever decodes
 * re-encodes to exactly the input (the encoding is canonical); and a message
 * built from the input's bytes that passes validation survives
 * encode -> decode with every field equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "ring/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decode(const uint8_t *data, size_t size) {
  hl_msg m;
  hl_err err;
  int rc = hl_msg_decode(hl_span_make(data, size), &m, &err);
  if (rc == HL_INVALID) {
    if (err.msg[0] == '\0') {
      abort(); /* every rejection says why */
    }
    return;
  }
  if (rc != (int)size || hl_msg_encoded_bytes(&m) != size) {
    abort();
  }
  const char *lo = (const char *)data, *hi = lo + size;
  const hl_span parts[] = {m.event, m.id, m.endpoint, m.tenant, m.data};
  for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
    if (parts[i].len > 0 && (parts[i].ptr < lo || parts[i].ptr + parts[i].len > hi)) {
      abort();
    }
  }
  uint8_t *again = malloc(size);
  if (again == NULL || hl_msg_encode(&m, again, size) != size || memcmp(again, data, size) != 0) {
    abort();
  }
  free(again);
}

static bool same(hl_span a, hl_span b) {
  return hl_span_eq(a, b);
}

/* check_round_trip cuts the input into the five fields (the first bytes give
 * the lengths) and round-trips the message if it is valid. */
static void check_round_trip(const uint8_t *data, size_t size) {
  if (size < 5) {
    return;
  }
  size_t lens[4];
  for (size_t i = 0; i < 4; i++) {
    lens[i] = data[i] % 40;
  }
  size_t off = 4;
  hl_span f[4];
  for (size_t i = 0; i < 4; i++) {
    size_t n = lens[i] <= size - off ? lens[i] : size - off;
    f[i] = hl_span_make(data + off, n);
    off += n;
  }
  hl_msg m = {.event = f[0],
              .id = f[1],
              .endpoint = f[2],
              .tenant = f[3],
              .data = hl_span_make(data + off, size - off),
              .timestamp_ms = size * 1000003u};
  hl_err err;
  if (hl_msg_validate(&m, &err) != 0) {
    return;
  }
  size_t n = hl_msg_encoded_bytes(&m);
  uint8_t *buf = malloc(n);
  hl_msg d;
  if (buf == NULL || hl_msg_encode(&m, buf, n) != n ||
      hl_msg_decode(hl_span_make(buf, n), &d, &err) != (int)n) {
    abort();
  }
  if (!same(d.event, m.event) || !same(d.id, m.id) || !same(d.endpoint, m.endpoint) ||
      !same(d.tenant, m.tenant) || !same(d.data, m.data) || d.timestamp_ms != m.timestamp_ms) {
    abort();
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > HL_RING_RECORD_BYTES_MAX + 64) {
    return 0;
  }
  check_decode(data, size);
  check_round_trip(data, size);
  return 0;
}
