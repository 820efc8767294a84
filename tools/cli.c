/* cli: shared flag handling and error printing (see cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>

void hl_cli_error(const char *cmd, const char *fmt, ...) {
  fprintf(stderr, "hookline %s: ", cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int hl_cli_usage_error(const char *cmd, const char *fmt, ...) {
  fprintf(stderr, "hookline %s: ", cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'hookline %s --help'.\n", cmd);
  return HL_EXIT_USAGE;
}

hl_cli_status hl_cli_common(hl_config *cfg, int opt, const char *arg) {
  hl_err err = {{0}};
  int rc;
  switch (opt) {
    case HL_OPT_DATA_DIR:
      rc = hl_config_set_data_dir(cfg, arg, &err);
      break;
    case HL_OPT_RING:
      rc = hl_config_set_ring_name(cfg, arg, &err);
      break;
    case HL_OPT_ALLOW_NETWORK:
      rc = hl_config_add_allow_network(cfg, arg, &err);
      break;
    case HL_OPT_CA_FILE:
      rc = hl_config_set_ca_file(cfg, arg, &err);
      break;
    case HL_OPT_LOG_LEVEL:
      rc = hl_log_level_parse(arg, &cfg->log_level);
      if (rc != 0) {
        hl_err_set(&err, "--log-level: expected debug, info, warn or error");
      }
      break;
    case HL_OPT_LOG_FORMAT:
      rc = hl_log_format_parse(arg, &cfg->log_format);
      if (rc != 0) {
        hl_err_set(&err, "--log-format: expected json or text");
      }
      break;
    case HL_OPT_HELP:
      return HL_CLI_HELP;
    default:
      return HL_CLI_NOT_COMMON;
  }
  if (rc != 0) {
    fprintf(stderr, "hookline: %s\n", err.msg);
    return HL_CLI_ERROR;
  }
  return HL_CLI_HANDLED;
}
