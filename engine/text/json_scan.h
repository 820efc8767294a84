/* json_scan: strict JSON validation and on-demand path lookup over raw bytes.
 *
 * A message's `data` stays the producer's raw JSON bytes all the way to the
 * wire; templates pick values out of it by path (`contact.first_name`,
 * `tags.0`) without building a tree and without allocating. This module
 * owns:
 *   - the validator (RFC 8259, strict), run once when a message enters the
 *     engine, with errors that give line, column and the reason;
 *   - compiled paths and the lookups that resolve them against a document,
 *     one path at a time or many in a single pass;
 *   - decoding of a JSON string value to UTF-8.
 * It does no I/O and keeps no state between calls.
 *
 * Lookups trust that the document was validated: on anything else they stay
 * memory-safe (never read outside the span, never recurse deeper than a
 * path's length) and return -EINVAL or -ENOENT, but what they find is then
 * unspecified. */
#ifndef HL_TEXT_JSON_SCAN_H
#define HL_TEXT_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"

/* ---- validation ---------------------------------------------------------- */

/* hl_json_validate returns 0 if |doc| is exactly one JSON text (RFC 8259;
 * whitespace around it allowed) nested at most |depth_max| containers deep,
 * or -EINVAL with |err| set to "line L, column C: reason" (lines and columns
 * count from 1, columns in bytes). Strict: no trailing commas, comments,
 * leading zeros, `+1`, `.5`, `1.`, NaN or Infinity; only the escapes
 * \" \\ \/ \b \f \n \r \t \uXXXX; UTF-16 surrogates in \u escapes must pair;
 * no raw bytes below 0x20 in strings; strings must be well-formed UTF-8
 * (text/utf8.h). A UTF-8 byte order mark is rejected: RFC 8259 lets a parser
 * ignore one, but a producer has no reason to send it and it would be
 * copied into rendered bodies. Empty input is rejected. |depth_max| is
 * normally HL_JSON_DEPTH_MAX (hl_limits.json_depth_max); above
 * HL_JSON_DEPTH_CEILING the call fails with -EINVAL. */
int hl_json_validate(hl_span doc, uint32_t depth_max, hl_err *err);

/* hl_json_validate_object is hl_json_validate that also requires the
 * top-level value to be an object, as a message's `data` must be. */
int hl_json_validate_object(hl_span doc, uint32_t depth_max, hl_err *err);

/* ---- values -------------------------------------------------------------- */

typedef enum hl_json_type {
  HL_JSON_NONE = 0, /* missing */
  HL_JSON_NULL,
  HL_JSON_FALSE,
  HL_JSON_TRUE,
  HL_JSON_NUMBER,
  HL_JSON_STRING,
  HL_JSON_ARRAY,
  HL_JSON_OBJECT,
} hl_json_type;

/* A value found in a document: |raw| is its exact bytes there (a string
 * includes its quotes and is still escaped; a container runs from its
 * opening to its closing bracket). For HL_JSON_NONE, raw is {NULL, 0}. */
typedef struct hl_json_value {
  hl_json_type type;
  hl_span raw;
} hl_json_value;

/* ---- paths --------------------------------------------------------------- */

/* Marks a path part that is not an array index. */
#define HL_JSON_NOT_INDEX UINT32_MAX

typedef struct hl_json_path_part {
  uint16_t off;   /* into hl_json_path.bytes */
  uint16_t len;
  uint32_t index; /* the part as an array index, or HL_JSON_NOT_INDEX */
} hl_json_path_part;

/* A compiled path owns a copy of its text, so it outlives the template or
 * configuration it came from. Zero-initialised it has no parts and finds
 * nothing. */
typedef struct hl_json_path {
  uint32_t parts_n;
  uint32_t len;
  hl_json_path_part parts[HL_TEMPLATE_PATH_PARTS_MAX];
  char bytes[HL_TEMPLATE_PATH_BYTES_MAX];
} hl_json_path;

/* hl_json_path_compile parses a dotted path: `email`, `contact.first_name`,
 * `tags.0`, `a.b.2.c`. Parts are separated by '.', must not be empty, and
 * are matched byte for byte against decoded object keys (so a key that
 * contains '.' cannot be reached). A part that is a canonical decimal
 * (`0`, `17`; not `01`, at most 4294967294) indexes an array; in an object
 * the same part is an ordinary key. At most HL_TEMPLATE_PATH_PARTS_MAX parts
 * and HL_TEMPLATE_PATH_BYTES_MAX bytes. Returns 0, or -EINVAL with |err|
 * naming the problem. */
int hl_json_path_compile(hl_span path, hl_json_path *out, hl_err *err);

/* hl_json_path_text returns the path as it was written. */
static inline hl_span hl_json_path_text(const hl_json_path *p) {
  return (hl_span){p->bytes, p->len};
}

/* hl_json_lookup finds |path| in |doc| (a validated JSON text). Returns 0
 * with |*out| set, or -ENOENT (not there: missing key, index past the end,
 * or a part that would descend into a scalar) or -EINVAL (the bytes it had
 * to read are not JSON), with |*out| = {HL_JSON_NONE, {NULL, 0}}. Object
 * keys match after decoding their escapes (`"em\u0061il"` is `email`).
 * Duplicate keys: the first member with the key wins, and the search never
 * continues into a later duplicate (as cJSON and most DOM parsers do). */
int hl_json_lookup(hl_span doc, const hl_json_path *path, hl_json_value *out);

/* hl_json_lookup_many resolves |n| paths in one pass over |doc|, writing
 * out[i] for paths[i] (HL_JSON_NONE where missing); each out[i] is what
 * hl_json_lookup would give. Subtrees that no path enters are skipped by
 * bracket counting, and the scan stops as soon as every path is resolved.
 * Paths are taken 64 at a time (one pass per 64). Returns the number of
 * paths found (>= 0), or -EINVAL if the document was malformed where it was
 * read (out[] then holds what was found before that point). */
int hl_json_lookup_many(hl_span doc, const hl_json_path *const *paths, size_t n,
                        hl_json_value *out);

/* ---- strings ------------------------------------------------------------- */

/* hl_json_string_contents returns the bytes between the quotes of a string
 * value's raw span (still escaped, so they can be copied into another JSON
 * string as they are), or {NULL, 0} if |raw| is not a quoted string. */
hl_span hl_json_string_contents(hl_span raw);

/* hl_json_string_decode appends the UTF-8 text of the string value |raw|
 * (with its quotes) to |out|. Returns 0; -EINVAL if |raw| is not a
 * well-formed JSON string (bad escape, unpaired surrogate; raw bytes are
 * copied as they are, so only a validated document guarantees UTF-8);
 * -ENOSPC if |out| is full (its sticky error set, nothing of this string
 * kept). */
int hl_json_string_decode(hl_span raw, hl_buf *out);

#endif
