/* log: structured log lines on stderr, as JSON (default) or plain text.
 *
 *   HL_LOG(HL_LOG_WARN, "endpoint disabled",
 *          HL_F_STR("endpoint", id), HL_F_INT("status", 410));
 *
 * prints {"ts":"2026-11-22T08:00:00.123Z","level":"warn","msg":"endpoint
 * disabled","endpoint":"crm","status":410}. Each line is formatted in a
 * bounded stack buffer and written with one write(2), so lines from several
 * threads never interleave; an over-long line is cut and marked. Log state
 * changes, never every successful delivery, and never a secret: pass field
 * names and fingerprints, not values from the secret box. */
#ifndef HL_BASE_LOG_H
#define HL_BASE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/span.h"

typedef enum hl_log_level {
  HL_LOG_DEBUG = 0,
  HL_LOG_INFO = 1,
  HL_LOG_WARN = 2,
  HL_LOG_ERROR = 3,
} hl_log_level;

typedef enum hl_log_format {
  HL_LOG_JSON = 0,
  HL_LOG_TEXT = 1,
} hl_log_format;

typedef enum hl_log_kind {
  HL_LOG_F_STR,
  HL_LOG_F_INT,
  HL_LOG_F_UINT,
  HL_LOG_F_BOOL,
} hl_log_kind;

typedef struct hl_log_field {
  const char *key;
  hl_log_kind kind;
  hl_span str;
  int64_t i;
  uint64_t u;
} hl_log_field;

#define HL_F_STR(k, v) ((hl_log_field){.key = (k), .kind = HL_LOG_F_STR, .str = hl_span_cstr(v)})
#define HL_F_SPAN(k, v) ((hl_log_field){.key = (k), .kind = HL_LOG_F_STR, .str = (v)})
#define HL_F_INT(k, v) ((hl_log_field){.key = (k), .kind = HL_LOG_F_INT, .i = (int64_t)(v)})
#define HL_F_UINT(k, v) ((hl_log_field){.key = (k), .kind = HL_LOG_F_UINT, .u = (uint64_t)(v)})
#define HL_F_BOOL(k, v) ((hl_log_field){.key = (k), .kind = HL_LOG_F_BOOL, .u = (v) ? 1 : 0})

/* The first element is a placeholder so that a call with no fields is valid;
 * hl_log_emit skips it. */
#define HL_LOG(level, msg, ...) \
  do { \
    if ((level) >= hl_log_min_level()) { \
      const hl_log_field hl_log_fields_[] = {{.key = NULL}, __VA_ARGS__}; \
      hl_log_emit((level), (msg), hl_log_fields_ + 1, \
                  sizeof(hl_log_fields_) / sizeof(hl_log_fields_[0]) - 1); \
    } \
  } while (0)

/* hl_log_configure sets the process's level, format and output fd (2 by
 * default). Call it once at start-up, before threads start. */
void hl_log_configure(hl_log_level min_level, hl_log_format format, int fd);
hl_log_level hl_log_min_level(void);
void hl_log_emit(hl_log_level level, const char *msg, const hl_log_field *fields, size_t n);

/* Parsers for the command line; return 0 or -EINVAL. */
int hl_log_level_parse(const char *s, hl_log_level *out);
int hl_log_format_parse(const char *s, hl_log_format *out);

#endif
