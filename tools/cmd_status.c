/* cmd_status: `hookline status`, one line per endpoint: state (enabled,
 * disabled, paused or probing by the circuit breaker), the last attempt,
 * success rate and p50/p99 duration over the last hour, retries pending and
 * dead letters. Reads the store READ_ONLY, so it runs beside the engine. */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "ops.h"
#include "store/query.h"

#define STATUS_WINDOW_MS_DEFAULT (3600 * 1000)

static void status_help(void) {
  printf(
      "usage: hookline status [--data-dir DIR] [--window DURATION] [--json]\n"
      "\n"
      "One line per endpoint:\n"
      "  STATE     enabled, disabled (by an operator, or by the engine after 410 Gone),\n"
      "            paused (circuit breaker open after consecutive failures) or probing\n"
      "            (the breaker lets one attempt through to test the endpoint)\n"
      "  LAST      when the last attempt started, and its status code or error class\n"
      "  OK        share of the window's attempts that delivered, and how many there were\n"
      "  P50/P99   attempt duration percentiles over the window\n"
      "  PENDING   deliveries waiting for a retry (or a replay)\n"
      "  DEAD      dead letters (use 'hookline dead-letters', 'hookline replay')\n"
      "\n"
      "  --window D    statistics window (default 1h); D is like 30s, 15m, 2h, 7d\n"
      "  --json        one JSON object per endpoint per line\n"
      "\n"
      "At most %d of the newest attempts are read for the window; when the log\n"
      "holds more, the statistics cover the shorter span that was read (said\n"
      "below the table, and as window_s/window_cut in JSON).\n"
      "\n"
      "examples:\n"
      "  hookline status\n"
      "  hookline status --data-dir /var/lib/hookline --json | jq 'select(.dead_letters > 0)'\n"
      "  hookline status --window 24h\n"
      "\n"
      "exit codes: 0 ok, 2 usage, 4 data dir or database unavailable.\n",
      HL_STATUS_SCAN_ROWS_MAX);
}

typedef struct status_ctx {
  bool json;
  int64_t now_ms;
  const hl_status_summary *summary;
  int n;
} status_ctx;

static const char *state_name(const hl_endpoint_status *st) {
  if (!st->enabled) {
    return "disabled";
  }
  if (strcmp(st->breaker, "open") == 0) {
    return "paused";
  }
  if (strcmp(st->breaker, "half_open") == 0) {
    return "probing";
  }
  return "enabled";
}

/* put_result: "200", "503 http_5xx", "connect_refused". */
static void put_result(hl_buf *b, int32_t status, const char *error_class) {
  if (status > 0) {
    hl_buf_printf(b, "%d", status);
  }
  if (error_class[0] != '\0' && (status == 0 || strncmp(error_class, "http_", 5) != 0)) {
    hl_buf_printf(b, "%s%s", status > 0 ? " " : "", error_class);
  }
  if (status == 0 && error_class[0] == '\0') {
    hl_buf_put_cstr(b, "-");
  }
}

static int print_json(const hl_endpoint_status *st, status_ctx *c) {
  hl_ops_json j;
  hl_ops_json_begin(&j);
  hl_ops_json_str(&j, "id", hl_span_cstr(st->id));
  hl_ops_json_str(&j, "state", hl_span_cstr(state_name(st)));
  hl_ops_json_bool(&j, "enabled", st->enabled);
  hl_ops_json_str(&j, "disabled_reason", hl_span_cstr(st->disabled_reason));
  hl_ops_json_str(&j, "breaker", hl_span_cstr(st->breaker));
  hl_ops_json_int(&j, "breaker_since_ms", st->breaker_since_ms);
  hl_ops_json_int(&j, "consecutive_failures", st->consecutive_failures);
  if (st->has_last) {
    hl_ops_json_time(&j, "last_attempt", st->last_started_ms);
    hl_ops_json_int(&j, "last_status", st->last_status);
    hl_ops_json_str(&j, "last_outcome", hl_span_cstr(hl_outcome_name(st->last_outcome)));
    hl_ops_json_str(&j, "last_error_class", hl_span_cstr(st->last_error_class));
  } else {
    hl_ops_json_null(&j, "last_attempt");
  }
  hl_ops_json_int(&j, "window_s", c->summary->window_ms / 1000);
  hl_ops_json_bool(&j, "window_cut", c->summary->window_cut);
  hl_ops_json_int(&j, "attempts", (int64_t)st->window_attempts);
  hl_ops_json_int(&j, "delivered", (int64_t)st->window_delivered);
  if (st->window_attempts > 0) {
    hl_ops_json_num(&j, "success_rate", (double)st->window_delivered / (double)st->window_attempts);
    hl_ops_json_int(&j, "p50_us", (int64_t)st->p50_us);
    hl_ops_json_int(&j, "p99_us", (int64_t)st->p99_us);
  } else {
    hl_ops_json_null(&j, "success_rate");
    hl_ops_json_null(&j, "p50_us");
    hl_ops_json_null(&j, "p99_us");
  }
  hl_ops_json_int(&j, "pending", st->pending);
  hl_ops_json_int(&j, "dead_letters", st->dead_letters);
  return hl_ops_json_end(&j);
}

static int print_one(const hl_endpoint_status *st, void *vctx) {
  status_ctx *c = vctx;
  c->n++;
  if (c->json) {
    return print_json(st, c);
  }
  char last[96], ok[32], p50[16], p99[16];
  hl_buf lb, ob, b50, b99;
  hl_buf_init(&lb, last, sizeof(last));
  hl_buf_init(&ob, ok, sizeof(ok));
  hl_buf_init(&b50, p50, sizeof(p50));
  hl_buf_init(&b99, p99, sizeof(p99));
  if (st->has_last) {
    hl_ops_put_ago(&lb, st->last_started_ms, c->now_ms);
    hl_buf_putc(&lb, ' ');
    put_result(&lb, st->last_status, st->last_error_class);
  } else {
    hl_buf_put_cstr(&lb, "-");
  }
  if (st->window_attempts > 0) {
    hl_buf_printf(&ob, "%.1f%% of %llu",
                  100.0 * (double)st->window_delivered / (double)st->window_attempts,
                  (unsigned long long)st->window_attempts);
    hl_ops_put_duration_us(&b50, st->p50_us);
    hl_ops_put_duration_us(&b99, st->p99_us);
  } else {
    hl_buf_put_cstr(&ob, "-");
    hl_buf_put_cstr(&b50, "-");
    hl_buf_put_cstr(&b99, "-");
  }
  printf("%-24s %-9s %-28s %-18s %-8s %-8s %7lld %6lld\n", st->id, state_name(st),
         hl_buf_cstr(&lb), hl_buf_cstr(&ob), hl_buf_cstr(&b50), hl_buf_cstr(&b99),
         (long long)st->pending, (long long)st->dead_letters);
  if (!st->enabled && st->disabled_reason[0] != '\0') {
    printf("%-24s   disabled: %s\n", "", st->disabled_reason);
  } else if (st->enabled && strcmp(st->breaker, "closed") != 0) {
    char since[32];
    hl_buf sb;
    hl_buf_init(&sb, since, sizeof(since));
    hl_ops_put_ago(&sb, st->breaker_since_ms, c->now_ms);
    printf("%-24s   breaker %s since %s after %u consecutive failures\n", "", st->breaker,
           hl_buf_cstr(&sb), st->consecutive_failures);
  }
  return 0;
}

int hl_cmd_status(int argc, char **argv) {
  enum { OPT_JSON = 1, OPT_WINDOW };
  static const struct option options[] = {
      HL_CLI_COMMON_OPTIONS,
      {"json", no_argument, NULL, OPT_JSON},
      {"window", required_argument, NULL, OPT_WINDOW},
      {NULL, 0, NULL, 0},
  };
  hl_config cfg;
  hl_config_defaults(&cfg);
  bool json = false;
  int64_t window_ms = STATUS_WINDOW_MS_DEFAULT;
  hl_err err = {{0}};
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    int rc = 0;
    if (opt == OPT_JSON) {
      json = true;
    } else if (opt == OPT_WINDOW) {
      if (hl_ops_parse_duration(optarg, "--window", &window_ms, &err) != 0) {
        return hl_cli_usage_error("status", "%s", err.msg);
      }
    } else {
      rc = hl_ops_common_flag("status", &cfg, opt, status_help);
    }
    if (rc != 0) {
      return rc < 0 ? HL_EXIT_OK : rc;
    }
  }
  if (optind < argc) {
    return hl_cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
  }
  hl_store *s;
  int rc = hl_ops_open("status", &cfg, HL_STORE_READ_ONLY, &s);
  if (rc != 0) {
    return rc;
  }
  hl_status_summary summary;
  status_ctx ctx = {.json = json, .now_ms = (int64_t)hl_clock_wall_ms(), .summary = &summary};
  if (!json) {
    printf("%-24s %-9s %-28s %-18s %-8s %-8s %7s %6s\n", "ENDPOINT", "STATE", "LAST ATTEMPT",
           "OK (WINDOW)", "P50", "P99", "PENDING", "DEAD");
  }
  if (hl_query_status(s, ctx.now_ms, window_ms, print_one, &ctx, &summary, &err) != 0) {
    hl_cli_error("status", "%s", err.msg);
    rc = HL_EXIT_UNAVAILABLE;
  }
  hl_store_close(s);
  if (rc == 0 && !json) {
    if (ctx.n == 0) {
      printf("(no endpoints; add one with 'hookline endpoint add')\n");
    }
    char w[32];
    hl_buf wb;
    hl_buf_init(&wb, w, sizeof(w));
    hl_ops_put_span_ms(&wb, summary.window_ms);
    printf("window: the last %s%s\n", hl_buf_cstr(&wb),
           summary.window_cut ? " (cut short: only the newest attempts were read)" : "");
  }
  return rc;
}
