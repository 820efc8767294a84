/* cmd_replay: `hookline replay`, sending deliveries again through the
 * running engine.
 *
 * A replay writes a pending row due now (store/query.h, "Replay protocol");
 * the engine polls due pending rows about every 250 ms and sends them,
 * logging each attempt like any other, with the same message id. Nothing
 * here talks to the engine directly, so a replay made while the engine is
 * stopped goes out when it starts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "ops.h"
#include "store/query.h"

static void replay_help(void) {
  printf(
      "usage: hookline replay MESSAGE_ID [--endpoint ID] [--dry-run] [--data-dir DIR]\n"
      "       hookline replay --endpoint ID --failed --since D [--dry-run] [--data-dir DIR]\n"
      "\n"
      "Sends deliveries again, now, through the running engine: a new attempt with\n"
      "the same message id, logged like any other (see 'hookline attempts').\n"
      "\n"
      "  MESSAGE_ID      replay this message to every endpoint it was attempted to,\n"
      "                  dead-lettered for or is waiting for (or to --endpoint only);\n"
      "                  delivered messages too, if their payload is stored\n"
      "  --endpoint ID   the endpoint\n"
      "  --failed        every delivery to --endpoint that failed (an attempt that did\n"
      "                  not deliver, or a dead letter) in the window and has not been\n"
      "                  delivered since; deliveries waiting for a retry go now\n"
      "  --since D       the window for --failed (30s, 15m, 2h, 7d; required)\n"
      "  --dry-run       count and show, write nothing\n"
      "\n"
      "A replay needs the message's payload. The engine stores it for retries and\n"
      "dead letters; for delivered messages only when it runs with\n"
      "--retain-payloads; 'hookline prune' removes old ones.\n"
      "\n"
      "examples:\n"
      "  hookline replay msg_01JD3Q7W3XK\n"
      "  hookline replay msg_01JD3Q7W3XK --endpoint crm\n"
      "  hookline replay --endpoint crm --failed --since 24h --dry-run\n"
      "  hookline replay --endpoint crm --failed --since 24h\n"
      "\n"
      "exit codes: 0 scheduled (or, with --dry-run, counted); 1 some or all deliveries\n"
      "could not be replayed (payload not stored, endpoint disabled); 2 usage; 3 unknown\n"
      "message or endpoint; 4 data dir or database unavailable.\n");
}

typedef struct target {
  int64_t rowid;
  char id[HL_ENDPOINT_ID_BYTES_MAX + 1];
  bool enabled;
  bool exists;
} target;

#define REPLAY_TARGETS_MAX 4096

typedef struct targets {
  target t[REPLAY_TARGETS_MAX];
  size_t n;
} targets;

static int add_target(int64_t rowid, void *vctx) {
  targets *ts = vctx;
  if (ts->n == REPLAY_TARGETS_MAX) {
    return -E2BIG;
  }
  ts->t[ts->n++].rowid = rowid;
  return 0;
}

/* name_targets fills in the endpoint ids (and notes deleted endpoints). */
static int name_one(const hl_endpoint_rec *r, void *vctx) {
  targets *ts = vctx;
  for (size_t i = 0; i < ts->n; i++) {
    if (ts->t[i].rowid == r->rowid) {
      memcpy(ts->t[i].id, r->id, sizeof(ts->t[i].id));
      ts->t[i].enabled = r->enabled;
      ts->t[i].exists = true;
    }
  }
  return 0;
}

static int replay_targets(hl_store *s, const char *message_id, const char *endpoint,
                          bool dry_run, targets *ts) {
  hl_err err = {{0}};
  hl_span mid = hl_span_cstr(message_id);
  int rc = 0;
  if (endpoint != NULL) {
    ts->n = 1;
    memset(&ts->t[0], 0, sizeof(ts->t[0]));
    rc = hl_ops_endpoint("replay", s, endpoint, &ts->t[0].rowid, &ts->t[0].enabled);
    if (rc != 0) {
      return rc;
    }
    hl_span_to_cstr(hl_span_cstr(endpoint), ts->t[0].id, sizeof(ts->t[0].id));
    ts->t[0].exists = true;
  } else {
    rc = hl_query_message_endpoints(s, mid, add_target, ts, &err);
    if (rc == 0) {
      rc = hl_store_endpoint_foreach(s, name_one, ts, &err);
    }
    if (rc != 0) {
      hl_cli_error("replay", "%s", rc == -E2BIG ? "the message went to too many endpoints; "
                                                  "give --endpoint"
                                                : err.msg);
      return HL_EXIT_UNAVAILABLE;
    }
    if (ts->n == 0) {
      hl_cli_error("replay",
                   "no delivery of message %s is recorded (wrong id, or pruned); to send a "
                   "stored payload to an endpoint anyway, give --endpoint",
                   message_id);
      return HL_EXIT_CONFIG;
    }
  }
  int exit_code = HL_EXIT_OK;
  int64_t now_ms = (int64_t)hl_clock_wall_ms();
  for (size_t i = 0; i < ts->n; i++) {
    const target *t = &ts->t[i];
    if (!t->exists) {
      printf("skipped   %s to deleted endpoint #%lld\n", message_id, (long long)t->rowid);
      continue;
    }
    if (!t->enabled) {
      hl_cli_error("replay", "endpoint %s is disabled; enable it first ('hookline endpoint "
                   "enable %s'), or the engine drops the replay", t->id, t->id);
      exit_code = HL_EXIT_FAIL;
      continue;
    }
    uint32_t attempt = 0;
    rc = hl_store_replay(s, mid, t->rowid, now_ms, dry_run, &attempt, &err);
    if (rc == -ENOENT) {
      hl_cli_error("replay", "%s", err.msg);
      exit_code = HL_EXIT_FAIL;
      continue;
    }
    if (rc != 0) {
      hl_cli_error("replay", "%s", err.msg);
      return HL_EXIT_UNAVAILABLE;
    }
    printf("%-9s %s to %s as attempt %u%s\n", dry_run ? "would replay" : "replayed", message_id,
           t->id, attempt, dry_run ? "" : " (due now)");
  }
  return exit_code;
}

static int replay_message(hl_store *s, const char *message_id, const char *endpoint,
                          bool dry_run) {
  targets *all = calloc(1, sizeof(*all));
  if (all == NULL) {
    hl_cli_error("replay", "out of memory");
    return HL_EXIT_FAIL;
  }
  int rc = replay_targets(s, message_id, endpoint, dry_run, all);
  free(all);
  return rc;
}

static int replay_failed(hl_store *s, const char *endpoint, int64_t since, bool dry_run) {
  int64_t rowid;
  bool enabled;
  int rc = hl_ops_endpoint("replay", s, endpoint, &rowid, &enabled);
  if (rc != 0) {
    return rc;
  }
  if (!enabled) {
    hl_cli_error("replay",
                 "endpoint %s is disabled; enable it first ('hookline endpoint enable %s'), or "
                 "the engine drops the replays",
                 endpoint, endpoint);
    return HL_EXIT_FAIL;
  }
  hl_err err = {{0}};
  hl_replay_stats st;
  int64_t now_ms = (int64_t)hl_clock_wall_ms();
  rc = hl_store_replay_failed(s, rowid, now_ms - since, now_ms, dry_run, &st, &err);
  if (rc != 0) {
    hl_cli_error("replay", "%s", err.msg);
    return rc == -E2BIG ? HL_EXIT_FAIL : HL_EXIT_UNAVAILABLE;
  }
  char window[32];
  hl_buf wb;
  hl_buf_init(&wb, window, sizeof(window));
  hl_ops_put_span_ms(&wb, since);
  printf("%s %lld failed deliveries to %s from the last %s (%lld dead letters, %lld waiting "
         "for a retry)\n",
         dry_run ? "would replay" : "replayed", (long long)st.scheduled, endpoint,
         hl_buf_cstr(&wb), (long long)st.from_dead_letters, (long long)st.were_pending);
  if (st.already_delivered > 0) {
    printf("skipped %lld delivered since they failed\n", (long long)st.already_delivered);
  }
  if (st.missing_payload > 0) {
    printf("cannot replay %lld: payload not stored (pruned, or the engine ran without "
           "--retain-payloads)\n",
           (long long)st.missing_payload);
    return HL_EXIT_FAIL;
  }
  return HL_EXIT_OK;
}

int hl_cmd_replay(int argc, char **argv) {
  enum { OPT_ENDPOINT = 1, OPT_FAILED, OPT_SINCE, OPT_DRY_RUN };
  static const struct option options[] = {
      HL_CLI_COMMON_OPTIONS,
      {"endpoint", required_argument, NULL, OPT_ENDPOINT},
      {"failed", no_argument, NULL, OPT_FAILED},
      {"since", required_argument, NULL, OPT_SINCE},
      {"dry-run", no_argument, NULL, OPT_DRY_RUN},
      {NULL, 0, NULL, 0},
  };
  hl_config cfg;
  hl_config_defaults(&cfg);
  const char *endpoint = NULL;
  bool failed = false, dry_run = false;
  int64_t since = 0;
  hl_err err = {{0}};
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    int rc = 0;
    switch (opt) {
      case OPT_ENDPOINT:
        endpoint = optarg;
        break;
      case OPT_FAILED:
        failed = true;
        break;
      case OPT_SINCE:
        if (hl_ops_parse_duration(optarg, "--since", &since, &err) != 0) {
          return hl_cli_usage_error("replay", "%s", err.msg);
        }
        break;
      case OPT_DRY_RUN:
        dry_run = true;
        break;
      default:
        rc = hl_ops_common_flag("replay", &cfg, opt, replay_help);
    }
    if (rc != 0) {
      return rc < 0 ? HL_EXIT_OK : rc;
    }
  }
  const char *message_id = optind < argc ? argv[optind] : NULL;
  if (optind + 1 < argc) {
    return hl_cli_usage_error("replay", "unexpected argument '%s'", argv[optind + 1]);
  }
  if (failed && message_id != NULL) {
    return hl_cli_usage_error("replay", "give either MESSAGE_ID or --failed, not both");
  }
  if (failed && (endpoint == NULL || since == 0)) {
    return hl_cli_usage_error("replay", "--failed needs --endpoint ID and --since D (e.g. 24h)");
  }
  if (!failed && since != 0) {
    return hl_cli_usage_error("replay", "--since goes with --failed");
  }
  if (!failed && message_id == NULL) {
    return hl_cli_usage_error("replay", "give a MESSAGE_ID, or --endpoint ID --failed --since D");
  }
  hl_store *s;
  int rc = hl_ops_open("replay", &cfg, dry_run ? HL_STORE_READ_ONLY : HL_STORE_READ_WRITE, &s);
  if (rc != 0) {
    return rc;
  }
  rc = failed ? replay_failed(s, endpoint, since, dry_run)
              : replay_message(s, message_id, endpoint, dry_run);
  hl_store_close(s);
  return rc;
}
