/* log: formatting and emission of log lines (see log.h).
 *
 * The configuration is process-wide by nature (one stderr), set once before
 * threads start and read-only afterwards. */
#include "base/log.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"

#define LOG_LINE_BYTES 4096

static struct {
  hl_log_level min_level;
  hl_log_format format;
  int fd;
} log_config = {HL_LOG_INFO, HL_LOG_JSON, 2};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hl_log_configure(hl_log_level min_level, hl_log_format format, int fd) {
  log_config.min_level = min_level;
  log_config.format = format;
  log_config.fd = fd;
}

hl_log_level hl_log_min_level(void) {
  return log_config.min_level;
}

/* JSON string contents; control bytes as \u00XX. Bytes >= 0x80 are copied:
 * a log line is for people, and invalid UTF-8 from a peer is shown as \u00XX
 * only when it would break the line (control bytes). */
static void put_json_escaped(hl_buf *b, hl_span s) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    if (c == '"' || c == '\\') {
      hl_buf_putc(b, '\\');
      hl_buf_putc(b, (char)c);
    } else if (c == '\n') {
      hl_buf_put(b, "\\n", 2);
    } else if (c == '\t') {
      hl_buf_put(b, "\\t", 2);
    } else if (c < 0x20 || c == 0x7f) {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      hl_buf_put(b, esc, sizeof(esc));
    } else {
      hl_buf_putc(b, (char)c);
    }
  }
}

/* Text format: values with spaces or quotes are quoted; control bytes become
 * '?', so a peer's bytes can never forge a second log line. */
static void put_text_value(hl_buf *b, hl_span s, bool may_quote) {
  bool quote = may_quote && (s.len == 0 || hl_span_find(s, ' ') != SIZE_MAX ||
                             hl_span_find(s, '"') != SIZE_MAX);
  if (quote) {
    hl_buf_putc(b, '"');
  }
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    hl_buf_putc(b, (c < 0x20 || c == 0x7f) ? '?' : c == '"' ? '\'' : (char)c);
  }
  if (quote) {
    hl_buf_putc(b, '"');
  }
}

static void put_timestamp(hl_buf *b) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  hl_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void put_field_value(hl_buf *b, const hl_log_field *f, bool json) {
  switch (f->kind) {
    case HL_LOG_F_STR:
      if (json) {
        hl_buf_putc(b, '"');
        put_json_escaped(b, f->str);
        hl_buf_putc(b, '"');
      } else {
        put_text_value(b, f->str, true);
      }
      break;
    case HL_LOG_F_INT:
      hl_buf_put_i64(b, f->i);
      break;
    case HL_LOG_F_UINT:
      hl_buf_put_u64(b, f->u);
      break;
    case HL_LOG_F_BOOL:
      hl_buf_put_cstr(b, f->u != 0 ? "true" : "false");
      break;
  }
}

static void format_line(hl_buf *b, hl_log_level level, hl_span msg, const hl_log_field *fields,
                        size_t n, bool json) {
  if (json) {
    hl_buf_put_cstr(b, "{\"ts\":\"");
    put_timestamp(b);
    hl_buf_put_cstr(b, "\",\"level\":\"");
    hl_buf_put_cstr(b, level_names[level]);
    hl_buf_put_cstr(b, "\",\"msg\":\"");
    put_json_escaped(b, msg);
    hl_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
      hl_buf_put_cstr(b, ",\"");
      put_json_escaped(b, hl_span_cstr(fields[i].key));
      hl_buf_put_cstr(b, "\":");
      put_field_value(b, &fields[i], true);
    }
  } else {
    put_timestamp(b);
    hl_buf_putc(b, ' ');
    hl_buf_put_cstr(b, level_names[level]);
    hl_buf_putc(b, ' ');
    put_text_value(b, msg, false);
    for (size_t i = 0; i < n; i++) {
      hl_buf_putc(b, ' ');
      hl_buf_put_cstr(b, fields[i].key);
      hl_buf_putc(b, '=');
      put_field_value(b, &fields[i], false);
    }
  }
}

void hl_log_emit(hl_log_level level, const char *msg, const hl_log_field *fields, size_t n) {
  char mem[LOG_LINE_BYTES];
  hl_buf b;
  /* Keep room for the truncation marker and the line's end. */
  hl_buf_init(&b, mem, sizeof(mem) - 32);
  bool json = log_config.format == HL_LOG_JSON;
  format_line(&b, level, hl_span_cstr(msg), fields, n, json);
  bool truncated = !hl_buf_ok(&b);
  if (truncated) {
    /* Too long: keep a well-formed line with the message cut short and no
     * fields, rather than a line a log pipeline cannot parse. */
    hl_buf_reset(&b);
    format_line(&b, level, hl_span_sub(hl_span_cstr(msg), 0, 1024), NULL, 0, json);
  }
  b.cap = sizeof(mem);
  if (truncated) {
    hl_buf_put_cstr(&b, json ? ",\"truncated\":true" : " truncated=true");
  }
  hl_buf_put_cstr(&b, json ? "}\n" : "\n");
  ssize_t ignored = write(log_config.fd, b.ptr, b.len);
  (void)ignored;
}

int hl_log_level_parse(const char *s, hl_log_level *out) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (hl_log_level)i;
      return 0;
    }
  }
  return -EINVAL;
}

int hl_log_format_parse(const char *s, hl_log_format *out) {
  if (strcmp(s, "json") == 0) {
    *out = HL_LOG_JSON;
    return 0;
  }
  if (strcmp(s, "text") == 0) {
    *out = HL_LOG_TEXT;
    return 0;
  }
  return -EINVAL;
}

