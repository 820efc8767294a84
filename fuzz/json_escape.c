/* Fuzz target: text/json_escape (and text/utf8).
 * Properties, for arbitrary bytes:
 *   - every implementation this CPU has (scalar, AVX2, AVX-512) writes
 *     exactly what an independent byte-at-a-time reference writes (fuzz/
 *     json_ref.h, whose UTF-8 tables come from encoding every code point);
 *   - hl_utf8_valid agrees with the reference on the input;
 *   - the output in quotes passes hl_json_validate, and decoding it gives
 *     the input back when the input was valid UTF-8;
 *   - with a capacity picked by the first byte, every implementation either
 *     fits (same bytes) or sets the sticky error with out->len unchanged,
 *     and they all agree on which. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "json_ref.h"
#include "text/json_escape.h"
#include "text/json_scan.h"
#include "text/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { IN_MAX = 8192, OUT_MAX = IN_MAX * HL_JSON_ESCAPE_GROWTH_MAX + 16 };

static char ref_mem[OUT_MAX];
static char out_mem[OUT_MAX];
static char dec_mem[OUT_MAX];

static void check(bool ok) {
  if (!ok) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > IN_MAX) {
    return 0;
  }
  ref_init();
  hl_span in = hl_span_make(data, size);
  bool valid = ref_utf8_valid(data, size);
  check(hl_utf8_valid(in) == valid);

  /* The reference, in quotes. */
  hl_buf ref;
  hl_buf_init(&ref, ref_mem, sizeof(ref_mem));
  hl_buf_putc(&ref, '"');
  ref_escape(&ref, data, size);
  hl_buf_putc(&ref, '"');
  check(hl_buf_ok(&ref));
  hl_span ref_contents = hl_span_make(ref.ptr + 1, ref.len - 2);

  check(hl_json_validate(hl_buf_span(&ref), 0, NULL) == 0);
  hl_buf dec;
  hl_buf_init(&dec, dec_mem, sizeof(dec_mem));
  check(hl_json_string_decode(hl_buf_span(&ref), &dec) == 0);
  if (valid) {
    check(hl_span_eq(hl_buf_span(&dec), in));
  }

  size_t cap = size > 0 ? (size_t)data[0] * (ref_contents.len + 2) / 255 : 0;
  int fits = -1;
  static const hl_json_escape_kind kinds[] = {HL_JSON_ESCAPE_SCALAR, HL_JSON_ESCAPE_AVX2,
                                              HL_JSON_ESCAPE_AVX512};
  for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
    hl_json_escape_fn fn = hl_json_escape_get(kinds[k]);
    if (fn == NULL) {
      continue;
    }
    /* Ample room, at an odd offset. */
    hl_buf b;
    hl_buf_init(&b, out_mem, sizeof(out_mem));
    hl_buf_putc(&b, '.');
    fn(&b, in);
    check(hl_buf_ok(&b));
    check(hl_span_eq(hl_span_make(b.ptr + 1, b.len - 1), ref_contents));
    /* Tight room. */
    hl_buf_init(&b, out_mem, cap);
    fn(&b, in);
    bool ok = hl_buf_ok(&b);
    check(fits == -1 || fits == (int)ok);
    fits = ok;
    check(ok == (ref_contents.len <= cap));
    check(ok ? hl_span_eq(hl_buf_span(&b), ref_contents) : b.len == 0);
  }
  return 0;
}
