/* cmd_prune: `hookline prune --older-than D`, retention by hand.
 *
 * Deletes in short transactions (store/query.h, hl_store_prune_step), so
 * it can run beside the engine without stalling its attempt log; the
 * engine's automatic retention uses the same steps. */
#include <stdio.h>

#include "base/clock.h"
#include "ops.h"
#include "store/query.h"

static void prune_help(void) {
  printf(
      "usage: hookline prune --older-than D [--dry-run] [--data-dir DIR]\n"
      "\n"
      "Deletes from the database what is older than D (30s, 15m, 2h, 7d):\n"
      "  - attempts that started before then;\n"
      "  - dead letters that died before then;\n"
      "  - stored payloads created before then that no retry and no remaining dead\n"
      "    letter needs (so a replay of those is no longer possible);\n"
      "  - the breaker state of deleted endpoints.\n"
      "Retries waiting in the schedule, and their payloads, are never deleted.\n"
      "Runs in short transactions, so the engine keeps logging meanwhile.\n"
      "\n"
      "  --older-than D  required\n"
      "  --dry-run       count what would go, delete nothing\n"
      "\n"
      "examples:\n"
      "  hookline prune --older-than 30d --dry-run\n"
      "  hookline prune --older-than 30d --data-dir /var/lib/hookline\n"
      "\n"
      "exit codes: 0 ok, 2 usage, 4 data dir or database unavailable (or busy).\n");
}

int hl_cmd_prune(int argc, char **argv) {
  enum { OPT_OLDER_THAN = 1, OPT_DRY_RUN };
  static const struct option options[] = {
      HL_CLI_COMMON_OPTIONS,
      {"older-than", required_argument, NULL, OPT_OLDER_THAN},
      {"dry-run", no_argument, NULL, OPT_DRY_RUN},
      {NULL, 0, NULL, 0},
  };
  hl_config cfg;
  hl_config_defaults(&cfg);
  int64_t older_than = 0;
  bool dry_run = false;
  hl_err err = {{0}};
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    int rc = 0;
    if (opt == OPT_OLDER_THAN) {
      if (hl_ops_parse_duration(optarg, "--older-than", &older_than, &err) != 0) {
        return hl_cli_usage_error("prune", "%s", err.msg);
      }
    } else if (opt == OPT_DRY_RUN) {
      dry_run = true;
    } else {
      rc = hl_ops_common_flag("prune", &cfg, opt, prune_help);
    }
    if (rc != 0) {
      return rc < 0 ? HL_EXIT_OK : rc;
    }
  }
  if (optind < argc) {
    return hl_cli_usage_error("prune", "unexpected argument '%s'", argv[optind]);
  }
  if (older_than == 0) {
    return hl_cli_usage_error("prune", "--older-than D is required (e.g. 30d)");
  }
  hl_store *s;
  int rc = hl_ops_open("prune", &cfg, dry_run ? HL_STORE_READ_ONLY : HL_STORE_READ_WRITE, &s);
  if (rc != 0) {
    return rc;
  }
  int64_t cutoff = (int64_t)hl_clock_wall_ms() - older_than;
  hl_prune_stats st;
  rc = dry_run ? hl_store_prune_count(s, cutoff, &st, &err)
               : hl_store_prune(s, cutoff, HL_PRUNE_BATCH_ROWS_DEFAULT, &st, &err);
  hl_store_close(s);
  if (rc != 0) {
    hl_cli_error("prune", "%s", err.msg);
    return HL_EXIT_UNAVAILABLE;
  }
  char when[40];
  hl_buf wb;
  hl_buf_init(&wb, when, sizeof(when));
  hl_ops_put_time(&wb, cutoff);
  printf("%s %lld attempts, %lld dead letters, %lld payloads, %lld endpoint states "
         "(older than %s)%s\n",
         dry_run ? "would delete" : "deleted", (long long)st.attempts, (long long)st.dead_letters,
         (long long)st.messages, (long long)st.endpoint_states, hl_buf_cstr(&wb),
         dry_run ? "; dry run: nothing deleted" : "");
  return HL_EXIT_OK;
}
