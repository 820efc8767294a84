/* json_escape: arbitrary bytes into the contents of a JSON string.
 *
 * Templates put values that are not JSON (message ids, event names, header
 * values, decoded strings) inside JSON strings; this module writes them so
 * that the result is always valid JSON string contents and valid UTF-8,
 * whatever the input:
 *   - '"' and '\\' become \" and \\;
 *   - bytes below 0x20 become \b \f \n \r \t, or \u00XX (lower-case hex);
 *     0x7f is copied (JSON allows it);
 *   - well-formed UTF-8 is copied as it is ('/' and non-ASCII unescaped);
 *   - ill-formed UTF-8 is replaced by U+FFFD (EF BF BD), one per maximal
 *     ill-formed subpart (text/utf8.h), so the output is always UTF-8.
 * The quotes around the string are the caller's.
 *
 * Three implementations give byte-identical output: scalar (eight bytes at
 * a time in a word), AVX2 (32-byte blocks) and AVX-512BW (64-byte blocks).
 * The SIMD ones copy blocks with nothing to escape straight through and hand
 * each byte that needs attention to the scalar code, which reads a UTF-8
 * sequence across a block boundary whole. hl_json_escape picks the best one
 * the CPU has (base/cpu.h, so HL_CPU_DISABLE masks them). No allocation, no
 * state. */
#ifndef HL_TEXT_JSON_ESCAPE_H
#define HL_TEXT_JSON_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/span.h"

/* The worst case growth: one input byte can become six ("\u001f"). */
#define HL_JSON_ESCAPE_GROWTH_MAX 6

typedef void (*hl_json_escape_fn)(hl_buf *out, hl_span in);

typedef enum hl_json_escape_kind {
  HL_JSON_ESCAPE_SCALAR = 0,
  HL_JSON_ESCAPE_AVX2,
  HL_JSON_ESCAPE_AVX512,
} hl_json_escape_kind;

/* hl_json_escape appends the escaped form of |in| to |out| with the best
 * implementation for this CPU. If it does not fit, |out|'s sticky error is
 * set and nothing of |in| is kept (out->len is unchanged). */
void hl_json_escape(hl_buf *out, hl_span in);

/* hl_json_escape_get returns the implementation |kind|, or NULL if this CPU
 * (or HL_CPU_DISABLE) does not allow it. Callers on a hot path (template
 * rendering) keep the pointer instead of dispatching per call. */
hl_json_escape_fn hl_json_escape_get(hl_json_escape_kind kind);

/* hl_json_escape_best returns the implementation hl_json_escape uses. */
hl_json_escape_fn hl_json_escape_best(void);

/* The implementations themselves, for tests and benchmarks. The SIMD ones
 * must only be called when hl_json_escape_get says they are available. */
void hl_json_escape_scalar(hl_buf *out, hl_span in);
void hl_json_escape_avx2(hl_buf *out, hl_span in);
void hl_json_escape_avx512(hl_buf *out, hl_span in);

#endif
