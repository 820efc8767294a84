/* cli: what every `hookline` subcommand shares: exit codes, flag parsing of
 * the common engine flags, and error printing.
 *
 * Exit codes (documented in README and every --help):
 *   0  success
 *   1  the operation ran and failed (a test delivery got a non-2xx, a
 *      signature did not verify, some lines of a batch were rejected)
 *   2  usage error (unknown flag, missing argument)
 *   3  invalid configuration or data (bad endpoint, bad JSON, bad URL)
 *   4  a resource is unavailable (ring not found, data dir unreadable)
 *  75  temporary failure: back-pressure, try again (EX_TEMPFAIL) */
#ifndef HL_TOOLS_CLI_H
#define HL_TOOLS_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "admin/config.h"

enum {
  HL_EXIT_OK = 0,
  HL_EXIT_FAIL = 1,
  HL_EXIT_USAGE = 2,
  HL_EXIT_CONFIG = 3,
  HL_EXIT_UNAVAILABLE = 4,
  HL_EXIT_TEMPFAIL = 75,
};

/* Long options shared by the commands that validate or send to endpoints.
 * Their codes start at 1000 so they never collide with a command's own. */
enum {
  HL_OPT_DATA_DIR = 1000,
  HL_OPT_RING,
  HL_OPT_ALLOW_NETWORK,
  HL_OPT_CA_FILE,
  HL_OPT_LOG_LEVEL,
  HL_OPT_LOG_FORMAT,
  HL_OPT_HELP,
};

#define HL_CLI_COMMON_OPTIONS \
  {"data-dir", required_argument, NULL, HL_OPT_DATA_DIR}, \
      {"ring", required_argument, NULL, HL_OPT_RING}, \
      {"allow-network", required_argument, NULL, HL_OPT_ALLOW_NETWORK}, \
      {"ca-file", required_argument, NULL, HL_OPT_CA_FILE}, \
      {"log-level", required_argument, NULL, HL_OPT_LOG_LEVEL}, \
      {"log-format", required_argument, NULL, HL_OPT_LOG_FORMAT}, \
      {"help", no_argument, NULL, HL_OPT_HELP}

typedef enum hl_cli_status {
  HL_CLI_HANDLED = 0, /* a common option, applied to the config */
  HL_CLI_NOT_COMMON,  /* not one of the common options */
  HL_CLI_HELP,        /* --help: print the command's help, exit 0 */
  HL_CLI_ERROR,       /* invalid value: message printed, exit HL_EXIT_USAGE */
} hl_cli_status;

/* hl_cli_common applies the common option |opt| (with |arg|) to |cfg|. */
hl_cli_status hl_cli_common(hl_config *cfg, int opt, const char *arg);

/* hl_cli_error prints "hookline <cmd>: <message>" on stderr. */
void hl_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* hl_cli_usage_error prints the error and a hint to use --help, and returns
 * HL_EXIT_USAGE. */
int hl_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Subcommands. */
int hl_cmd_run(int argc, char **argv);
int hl_cmd_endpoint(int argc, char **argv);
int hl_cmd_test(int argc, char **argv);
int hl_cmd_send(int argc, char **argv);
int hl_cmd_status(int argc, char **argv);
int hl_cmd_attempts(int argc, char **argv);
int hl_cmd_replay(int argc, char **argv);
int hl_cmd_dead_letters(int argc, char **argv);
int hl_cmd_prune(int argc, char **argv);
int hl_cmd_verify(int argc, char **argv);
int hl_cmd_sign(int argc, char **argv);

#endif
