/* Fuzz target: base64 and hex decoders.
 * Properties: a decoder never writes past its output; whatever decodes
 * re-encodes to exactly the input (both are strict and canonical); and any
 * bytes encode to text that decodes back to them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) {
    return 0;
  }
  hl_span in = hl_span_make(data, size);
  uint8_t out[4096];
  char mem[8200];
  hl_buf b;
  size_t n;
  if (hl_base64_decode(in, out, sizeof(out), &n) == 0) {
    hl_buf_init(&b, mem, sizeof(mem));
    hl_buf_put_base64(&b, out, n);
    if (!hl_buf_ok(&b) || !hl_span_eq(hl_buf_span(&b), in)) {
      abort();
    }
  }
  if (hl_hex_decode(in, out, sizeof(out), &n) == 0) {
    hl_buf_init(&b, mem, sizeof(mem));
    hl_buf_put_hex(&b, out, n);
    /* Hex decoding accepts both cases; encoding writes lower case. */
    if (!hl_buf_ok(&b) || b.len != size) {
      abort();
    }
    for (size_t i = 0; i < size; i++) {
      if (hl_ascii_lower((char)data[i]) != b.ptr[i]) {
        abort();
      }
    }
  }
  hl_buf_init(&b, mem, sizeof(mem));
  hl_buf_put_base64(&b, data, size);
  if (!hl_buf_ok(&b) || hl_base64_decode(hl_buf_span(&b), out, sizeof(out), &n) != 0 ||
      n != size || memcmp(out, data, size) != 0) {
    abort();
  }
  return 0;
}
