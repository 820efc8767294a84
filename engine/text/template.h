/* template: `{{placeholder}}` templates, compiled once per endpoint and
 * rendered per delivery into one contiguous buffer with no allocation.
 *
 * An endpoint has several templates: its body, each header value, each
 * query parameter value, its URL path. They are compiled into one
 * hl_template_set, which keeps ONE table of the distinct data paths they
 * use, so that one hl_template_resolve per (message, endpoint) finds every
 * placeholder of every template in a single pass over the message's data
 * (json_scan's hl_json_lookup_many). Rendering then only copies literal
 * bytes and the resolved value spans with the encoding of each
 * placeholder's context: no lookup, no allocation, no state.
 *
 * Placeholders. `{{path}}`, with optional spaces or tabs inside the braces
 * (`{{ email }}`); the path is a json_scan path (`contact.first_name`,
 * `tags.0`) looked up in the message's data. Message fields are reached
 * with a `$` name, which never looks in data:
 *   {{$id}} {{$event}} {{$tenant}}   the message's fields (text)
 *   {{$timestamp}}    ISO 8601 UTC with milliseconds, 2026-03-07T14:30:00.000Z
 *   {{$timestamp_s}}  Unix seconds (a number)
 *   {{$data}}         the whole data object, raw
 *   {{$open}}         the two characters `{{` (the way to write them literally)
 * A bare `{{id}}`, `{{event}}`, `{{tenant}}` or `{{timestamp}}` is looked up
 * in data first and falls back to the message field when data has no such
 * key (a key that is present, even as null, wins). Unknown `$` names are
 * compile errors. In a run of three or more `{`, the placeholder opens at
 * the last two (`{{{x}}}` is `{`, x, `}`); a placeholder closes at the first
 * `}}` and must close on the line it opens on. Paths may not contain `{`,
 * `}` or control characters. Literal `{{` is written `{{$open}}`: it is the
 * one spelling that survives every form a template arrives in (raw text, a
 * JSON string re-encoded by the configuration layer, a URL) unchanged.
 *
 * Kinds (the context decides the encoding of a value):
 *   HL_TEMPLATE_JSON: a JSON body written as template text. A small JSON
 *     lexer places each placeholder: inside a string it renders string
 *     contents (a string value's raw escaped contents, as they are; numbers,
 *     true, false as their text; null or missing as nothing; objects and
 *     arrays as their raw JSON text escaped); in value position it renders
 *     the raw JSON value, or `null` when missing. A placeholder in an object
 *     key (inside or instead of the key string) or where no value can go is
 *     a compile error. The template with every placeholder replaced by a
 *     neutral value (`null` in value position, nothing in a string) must be
 *     valid JSON, so every render is valid JSON for every message whose data
 *     was validated.
 *   HL_TEMPLATE_JSON_STRINGS: the same for a body given as a JSON value in
 *     the configuration (the caller passes its JSON text): placeholders only
 *     inside strings, object keys literal.
 *   HL_TEMPLATE_HEADER: an HTTP header value. Strings decoded (UTF-8), other
 *     values as their raw JSON text, null or missing as nothing; every
 *     control character except HTAB (so CR, LF, NUL and DEL) is stripped
 *     from values, and literals may not contain one: no message can ever
 *     produce a header break.
 *   HL_TEMPLATE_URL_PATH: a URL path (or the whole URL). Literals are URL
 *     text and are checked (printable ASCII, no space, '\', '#' or '?', '%'
 *     only as %XX); values are decoded and percent-encoded as a component
 *     (RFC 3986 unreserved bytes kept, so '/' becomes %2F).
 *   HL_TEMPLATE_URL_QUERY: one query parameter value: as URL_PATH, but '?'
 *     is allowed in literals and '&' is not.
 *   HL_TEMPLATE_TEXT: plain text (a non-JSON body): strings decoded, other
 *     values raw, literals as they are.
 * Message fields follow the same rules: text fields are escaped in a JSON
 * string and quoted in value position (an empty tenant is missing),
 * $timestamp is a string, $timestamp_s a number, $data the raw object.
 *
 * Threads: a set is built on one thread; once built, resolve and render
 * only read it and may run on any number of threads. */
#ifndef HL_TEXT_TEMPLATE_H
#define HL_TEXT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/span.h"
#include "text/json_scan.h"

typedef enum hl_template_kind {
  HL_TEMPLATE_JSON = 1,
  HL_TEMPLATE_JSON_STRINGS,
  HL_TEMPLATE_HEADER,
  HL_TEMPLATE_URL_PATH,
  HL_TEMPLATE_URL_QUERY,
  HL_TEMPLATE_TEXT,
} hl_template_kind;

/* The message as templates see it. |data| is the message's data object,
 * already validated (hl_json_validate_object); an empty span reads as {}.
 * |tenant| may be empty (no tenant). The spans are only read during the
 * call that takes them. */
typedef struct hl_template_msg {
  hl_span id;
  hl_span event;
  hl_span tenant;
  hl_span data;
  uint64_t timestamp_ms;
} hl_template_msg;

typedef struct hl_template_set hl_template_set;
typedef struct hl_template hl_template;

/* hl_template_set_new returns an empty set, or NULL if out of memory.
 * hl_template_set_free frees it and every template compiled into it;
 * hl_template_set_free(NULL) is a no-op. */
hl_template_set *hl_template_set_new(void);
void hl_template_set_free(hl_template_set *set);

/* hl_template_compile compiles |text| as a template of |kind| into |set|
 * and stores it in |*out| (owned by the set, valid until the set is freed).
 * Allocates; meant for configuration time. Returns 0; -EINVAL with |err|
 * set to "line L, column C: reason" (lines and columns from 1, columns in
 * bytes) for a bad template, the set then unchanged; -ENOMEM. Bounds:
 * HL_TEMPLATE_BYTES_MAX bytes of text, HL_TEMPLATE_SEGMENTS_MAX segments
 * (placeholders + 1), HL_TEMPLATE_PATH_BYTES_MAX bytes per path and
 * HL_TEMPLATE_SET_PATHS_MAX distinct paths in the whole set. */
int hl_template_compile(hl_template_set *set, hl_template_kind kind, hl_span text,
                        const hl_template **out, hl_err *err);

/* hl_template_set_values_n returns how many values hl_template_resolve
 * writes: the size of the values array that resolve and render take. It
 * grows as templates are compiled into the set. */
size_t hl_template_set_values_n(const hl_template_set *set);

/* hl_template_resolve looks up every data path of the set in |data| (a
 * validated JSON object; empty reads as {}) in one pass and writes
 * values[0 .. hl_template_set_values_n(set)). Returns 0, or -EINVAL if the
 * data turned out not to be JSON where it was read. */
int hl_template_resolve(const hl_template_set *set, hl_span data, hl_json_value *values);

/* hl_template_render appends |t| rendered with |values| (from
 * hl_template_resolve on this message's data, against t's set) and |msg|
 * to |out|. No allocation. Returns 0; -ENOSPC if |out| is full; -E2BIG if
 * this render alone would exceed HL_RENDER_BYTES_MAX. On failure |out|'s
 * sticky error is set and nothing of this render is kept. */
int hl_template_render(const hl_template *t, const hl_json_value *values,
                       const hl_template_msg *msg, hl_buf *out);

/* hl_template_render_message resolves and renders in one call (for tests
 * and `hookline test`; the engine resolves once per message and endpoint
 * and renders every template from those values). Keeps the values on the
 * stack (HL_TEMPLATE_SET_PATHS_MAX of them, 6 KiB). Returns what resolve
 * or render returns. */
int hl_template_render_message(const hl_template_set *set, const hl_template *t,
                               const hl_template_msg *msg, hl_buf *out);

/* hl_template_kind_of returns the kind |t| was compiled as. */
hl_template_kind hl_template_kind_of(const hl_template *t);

/* hl_template_placeholders returns how many placeholders |t| has ({{$open}}
 * does not count): 0 means every render gives hl_template_literal(t). */
size_t hl_template_placeholders(const hl_template *t);

/* hl_template_literal_bytes returns how many literal bytes every render
 * writes (a lower bound on the rendered size). */
size_t hl_template_literal_bytes(const hl_template *t);

/* hl_template_default_body returns the body template of an endpoint that
 * sets none (HL_TEMPLATE_JSON):
 *   {"type":"{{$event}}","timestamp":"{{$timestamp}}","data":{{$data}}} */
hl_span hl_template_default_body(void);

/* hl_template_format_timestamp writes |timestamp_ms| as {{$timestamp}}
 * does: ISO 8601 UTC with milliseconds (years past 9999 get more digits). */
void hl_template_format_timestamp(uint64_t timestamp_ms, hl_buf *out);

#endif
