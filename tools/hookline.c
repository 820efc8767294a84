/* hookline: the command-line entry point. Dispatches to one function per
 * subcommand; each parses its own flags (tools/cli.h) and calls the engine. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"run", hl_cmd_run, "run the delivery engine"},
    {"endpoint", hl_cmd_endpoint, "add, change, list and apply endpoints"},
    {"test", hl_cmd_test, "send a test event to an endpoint now"},
    {"send", hl_cmd_send, "hand messages to the engine (one, or JSON lines)"},
    {"status", hl_cmd_status, "one line per endpoint: state, last attempt, success, backlog"},
    {"attempts", hl_cmd_attempts, "the execution log, filtered"},
    {"replay", hl_cmd_replay, "send a message, or an endpoint's failures, again now"},
    {"dead-letters", hl_cmd_dead_letters, "deliveries that ran out of attempts"},
    {"prune", hl_cmd_prune, "delete old attempts, dead letters and payloads"},
    {"verify", hl_cmd_verify, "check a received webhook's signature"},
    {"sign", hl_cmd_sign, "print the signature headers for a body (to test receivers)"},
};

static void usage(FILE *f) {
  fprintf(f,
          "hookline " HL_VERSION " - webhook delivery engine\n"
          "\n"
          "usage: hookline <command> [flags]\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
    fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
  }
  fprintf(f,
          "  %-14s %s\n"
          "\n"
          "Run 'hookline <command> --help' for a command's flags and examples.\n"
          "Exit codes: 0 ok, 1 failed, 2 usage, 3 invalid config or data,\n"
          "4 unavailable, 75 temporary failure (try again).\n",
          "version", "print the version");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return HL_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
    usage(stdout);
    return HL_EXIT_OK;
  }
  if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
    printf("hookline %s\n", HL_VERSION);
    return HL_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
    if (strcmp(name, commands[i].name) == 0) {
      return commands[i].fn(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "hookline: unknown command '%s'\n\n", name);
  usage(stderr);
  return HL_EXIT_USAGE;
}
