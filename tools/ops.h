/* ops: what the operator commands (status, attempts, replay, dead-letters,
 * prune, verify) share: strict durations, times and durations for people,
 * JSON lines, the common flag loop, and opening the store.
 *
 * Every operator command accepts --data-dir (and the other common flags,
 * tools/cli.h), --help, and, where it lists things, --json for one JSON
 * object per line. Reading commands open the database READ_ONLY, so they
 * work beside a running engine (WAL readers never block its writer). */
#ifndef HL_TOOLS_OPS_H
#define HL_TOOLS_OPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli.h"
#include "store/store.h"

/* The longest duration a flag accepts (--since, --older-than): ten years. */
#define HL_OPS_DURATION_MS_MAX (3650ll * 24 * 3600 * 1000)

/* hl_ops_parse_duration parses "<digits><unit>" with unit s, m, h or d
 * (30s, 15m, 2h, 7d): no sign, no spaces, no fractions, no other units,
 * greater than zero, at most HL_OPS_DURATION_MS_MAX. |flag| names the flag
 * in the error. */
int hl_ops_parse_duration(const char *text, const char *flag, int64_t *ms, hl_err *err);

/* hl_ops_put_time writes a wall-clock time in ms as UTC ISO 8601 with
 * milliseconds ("2026-11-22T08:00:00.123Z"). */
void hl_ops_put_time(hl_buf *b, int64_t ms);

/* hl_ops_put_ago writes how long before |now_ms| |ms| was: "42s ago",
 * "3m ago", "5h ago", "2d ago" ("in 5s" for the future). */
void hl_ops_put_ago(hl_buf *b, int64_t ms, int64_t now_ms);

/* hl_ops_put_span_ms writes a span in the largest unit that divides it:
 * "1h", "90m", "7d", "45s". */
void hl_ops_put_span_ms(hl_buf *b, int64_t ms);

/* hl_ops_put_duration_us writes a duration for people: 830us, 12.3ms,
 * 2.10s. */
void hl_ops_put_duration_us(hl_buf *b, uint64_t us);

/* hl_ops_pad ends a column: spaces until the text since |start| is
 * |width| wide, then two more. */
void hl_ops_pad(hl_buf *b, size_t start, size_t width);

/* hl_ops_put_text writes bytes for a terminal: printable ASCII as is,
 * anything else (newlines, control bytes, non-ASCII) as \n, \t or \xHH, so
 * a response excerpt can never move the cursor or inject escapes. */
void hl_ops_put_text(hl_buf *b, hl_span v);

/* JSON lines: hl_ops_json_begin, fields, hl_ops_json_end (prints the line
 * on stdout). Strings are escaped (text/json_escape: always valid UTF-8). */
typedef struct hl_ops_json {
  hl_buf b;
  bool first;
  char mem[16384];
} hl_ops_json;

void hl_ops_json_begin(hl_ops_json *j);
void hl_ops_json_str(hl_ops_json *j, const char *key, hl_span v);
void hl_ops_json_int(hl_ops_json *j, const char *key, int64_t v);
void hl_ops_json_num(hl_ops_json *j, const char *key, double v);
void hl_ops_json_bool(hl_ops_json *j, const char *key, bool v);
void hl_ops_json_null(hl_ops_json *j, const char *key);
/* hl_ops_json_time adds "<key>_ms": ms and "<key>": ISO text. */
void hl_ops_json_time(hl_ops_json *j, const char *key, int64_t ms);
/* hl_ops_json_end prints the object as one line; -ENOSPC if it did not
 * fit (never printed half). */
int hl_ops_json_end(hl_ops_json *j);

/* hl_ops_open opens the store of |cfg| and returns 0, or prints why not and
 * returns the exit code (HL_EXIT_UNAVAILABLE: no database there, unreadable,
 * or a schema that needs a newer hookline). */
int hl_ops_open(const char *cmd, const hl_config *cfg, hl_store_mode mode, hl_store **out);

/* hl_ops_endpoint resolves an endpoint id to its rowid; prints the error
 * and returns HL_EXIT_CONFIG when there is no such endpoint. */
int hl_ops_endpoint(const char *cmd, hl_store *s, const char *id, int64_t *rowid, bool *enabled);

/* hl_ops_common_flag handles a getopt_long result that is not one of the
 * command's own: common flags, --help (prints |help| and returns -1, which
 * the caller turns into exit 0), '?' and unknown ones (usage error). */
int hl_ops_common_flag(const char *cmd, hl_config *cfg, int opt, void (*help)(void));

#endif
