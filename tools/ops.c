/* ops: shared helpers of the operator commands (see ops.h). */
#include "ops.h"

#include <errno.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "store/query.h"
#include "text/json_escape.h"

int hl_ops_parse_duration(const char *text, const char *flag, int64_t *ms, hl_err *err) {
  hl_span s = hl_span_cstr(text);
  int64_t unit_ms = 0;
  if (s.len >= 2) {
    switch (s.ptr[s.len - 1]) {
      case 's':
        unit_ms = 1000;
        break;
      case 'm':
        unit_ms = 60 * 1000;
        break;
      case 'h':
        unit_ms = 3600 * 1000;
        break;
      case 'd':
        unit_ms = 24 * 3600 * 1000;
        break;
      default:
        break;
    }
  }
  uint64_t n = 0;
  hl_span digits = hl_span_sub(s, 0, s.len - 1);
  if (unit_ms == 0 ||
      !hl_span_parse_u64(digits, (uint64_t)(HL_OPS_DURATION_MS_MAX / unit_ms), &n)) {
    /* Only digits is a well-formed duration that is too long, also when it
     * would not fit in 64 bits. */
    bool digits_ok = unit_ms != 0;
    for (size_t i = 0; i < digits.len && digits_ok; i++) {
      digits_ok = digits.ptr[i] >= '0' && digits.ptr[i] <= '9';
    }
    if (digits_ok) {
      return hl_err_fail(err, -ERANGE, "%s: '%s' is longer than 3650d", flag, text);
    }
    return hl_err_fail(err, -EINVAL,
                       "%s: '%s' is not a duration; expected a whole number and one unit of s, "
                       "m, h or d, like 30s, 15m, 2h or 7d",
                       flag, text);
  }
  if (n == 0) {
    return hl_err_fail(err, -EINVAL, "%s: the duration must be greater than zero", flag);
  }
  *ms = (int64_t)n * unit_ms;
  return 0;
}

void hl_ops_put_time(hl_buf *b, int64_t ms) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms < 0 || gmtime_r(&t, &tm) == NULL) {
    hl_buf_put_cstr(b, "-");
    return;
  }
  hl_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void hl_ops_put_ago(hl_buf *b, int64_t ms, int64_t now_ms) {
  int64_t d = now_ms - ms;
  bool future = d < 0;
  int64_t s = (future ? -d : d) / 1000;
  const char *unit = "s";
  if (s >= 2 * 24 * 3600) {
    s /= 24 * 3600;
    unit = "d";
  } else if (s >= 2 * 3600) {
    s /= 3600;
    unit = "h";
  } else if (s >= 2 * 60) {
    s /= 60;
    unit = "m";
  }
  hl_buf_printf(b, future ? "in %lld%s" : "%lld%s ago", (long long)s, unit);
}

void hl_ops_put_span_ms(hl_buf *b, int64_t ms) {
  static const struct {
    int64_t ms;
    char unit;
  } units[] = {{24 * 3600 * 1000, 'd'}, {3600 * 1000, 'h'}, {60 * 1000, 'm'}, {1000, 's'}};
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (ms >= units[i].ms && ms % units[i].ms == 0) {
      hl_buf_printf(b, "%lld%c", (long long)(ms / units[i].ms), units[i].unit);
      return;
    }
  }
  hl_buf_printf(b, "%llds", (long long)(ms / 1000));
}

void hl_ops_put_duration_us(hl_buf *b, uint64_t us) {
  if (us < 1000) {
    hl_buf_printf(b, "%lluus", (unsigned long long)us);
  } else if (us < 1000000) {
    hl_buf_printf(b, "%.1fms", (double)us / 1e3);
  } else {
    hl_buf_printf(b, "%.2fs", (double)us / 1e6);
  }
}

void hl_ops_pad(hl_buf *b, size_t start, size_t width) {
  size_t used = b->len - start;
  for (size_t i = used; i < width + 2 || i < used + 2; i++) {
    hl_buf_putc(b, ' ');
  }
}

void hl_ops_put_text(hl_buf *b, hl_span v) {
  for (size_t i = 0; i < v.len; i++) {
    unsigned char c = (unsigned char)v.ptr[i];
    if (c == '\n') {
      hl_buf_put_cstr(b, "\\n");
    } else if (c == '\t') {
      hl_buf_put_cstr(b, "\\t");
    } else if (c == '\\') {
      hl_buf_put_cstr(b, "\\\\");
    } else if (c >= 0x20 && c < 0x7f) {
      hl_buf_putc(b, (char)c);
    } else {
      hl_buf_printf(b, "\\x%02x", c);
    }
  }
}

void hl_ops_json_begin(hl_ops_json *j) {
  hl_buf_init(&j->b, j->mem, sizeof(j->mem));
  hl_buf_putc(&j->b, '{');
  j->first = true;
}

static void json_key(hl_ops_json *j, const char *key) {
  if (!j->first) {
    hl_buf_putc(&j->b, ',');
  }
  j->first = false;
  hl_buf_putc(&j->b, '"');
  hl_json_escape(&j->b, hl_span_cstr(key));
  hl_buf_put_cstr(&j->b, "\":");
}

void hl_ops_json_str(hl_ops_json *j, const char *key, hl_span v) {
  json_key(j, key);
  hl_buf_putc(&j->b, '"');
  hl_json_escape(&j->b, v);
  hl_buf_putc(&j->b, '"');
}

void hl_ops_json_int(hl_ops_json *j, const char *key, int64_t v) {
  json_key(j, key);
  hl_buf_put_i64(&j->b, v);
}

void hl_ops_json_num(hl_ops_json *j, const char *key, double v) {
  json_key(j, key);
  hl_buf_printf(&j->b, "%.6g", v);
}

void hl_ops_json_bool(hl_ops_json *j, const char *key, bool v) {
  json_key(j, key);
  hl_buf_put_cstr(&j->b, v ? "true" : "false");
}

void hl_ops_json_null(hl_ops_json *j, const char *key) {
  json_key(j, key);
  hl_buf_put_cstr(&j->b, "null");
}

void hl_ops_json_time(hl_ops_json *j, const char *key, int64_t ms) {
  char name[64];
  hl_buf nb;
  hl_buf_init(&nb, name, sizeof(name));
  hl_buf_printf(&nb, "%s_ms", key);
  hl_ops_json_int(j, hl_buf_cstr(&nb), ms);
  char text[40];
  hl_buf tb;
  hl_buf_init(&tb, text, sizeof(text));
  hl_ops_put_time(&tb, ms);
  hl_ops_json_str(j, key, hl_buf_span(&tb));
}

int hl_ops_json_end(hl_ops_json *j) {
  hl_buf_put_cstr(&j->b, "}\n");
  if (!hl_buf_ok(&j->b)) {
    return -ENOSPC;
  }
  fwrite(j->b.ptr, 1, j->b.len, stdout);
  return 0;
}

int hl_ops_open(const char *cmd, const hl_config *cfg, hl_store_mode mode, hl_store **out) {
  hl_err err = {{0}};
  /* Operator commands never create a database: a mistyped --data-dir must
   * say so, not answer from an empty one. */
  char path[HL_CONFIG_PATH_BYTES + 32];
  hl_buf pb;
  hl_buf_init(&pb, path, sizeof(path));
  hl_buf_printf(&pb, "%s/%s", cfg->data_dir, HL_STORE_FILE);
  struct stat st;
  int rc = stat(hl_buf_cstr(&pb), &st) == 0 ? hl_store_open(out, cfg->data_dir, mode, &err)
                                             : hl_err_fail(&err, -ENOENT, "no database");
  if (rc == 0) {
    return 0;
  }
  if (rc == -ENOENT) {
    hl_cli_error(cmd,
                 "no hookline database in %s (give --data-dir or set HOOKLINE_DATA; the engine "
                 "or 'hookline endpoint add' creates it)",
                 cfg->data_dir);
  } else {
    hl_cli_error(cmd, "%s", err.msg);
  }
  return HL_EXIT_UNAVAILABLE;
}

int hl_ops_endpoint(const char *cmd, hl_store *s, const char *id, int64_t *rowid, bool *enabled) {
  hl_err err = {{0}};
  int rc = hl_query_endpoint_rowid(s, hl_span_cstr(id), rowid, enabled, &err);
  if (rc != 0) {
    hl_cli_error(cmd, "%s", err.msg);
    return rc == -ENOENT ? HL_EXIT_CONFIG : HL_EXIT_UNAVAILABLE;
  }
  return 0;
}

int hl_ops_common_flag(const char *cmd, hl_config *cfg, int opt, void (*help)(void)) {
  if (opt == '?') {
    return hl_cli_usage_error(cmd, "invalid arguments");
  }
  switch (hl_cli_common(cfg, opt, optarg)) {
    case HL_CLI_HANDLED:
      return 0;
    case HL_CLI_HELP:
      help();
      return -1;
    case HL_CLI_ERROR:
      return HL_EXIT_USAGE;
    case HL_CLI_NOT_COMMON:
      break;
  }
  return hl_cli_usage_error(cmd, "unexpected option");
}
