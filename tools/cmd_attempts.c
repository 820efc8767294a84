/* cmd_attempts: `hookline attempts`, the execution log: every attempt the
 * engine made, newest first, filtered by endpoint, message, event, outcome,
 * status and time. Reads the store READ_ONLY, so it runs beside the engine. */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "ops.h"
#include "store/query.h"

#define ATTEMPTS_LIMIT_MAX 1000000

static void attempts_help(void) {
  printf(
      "usage: hookline attempts [--endpoint ID] [--message ID] [--event E] [--failed]\n"
      "                         [--status S] [--since D] [--limit N] [--verbose] [--json]\n"
      "                         [--data-dir DIR]\n"
      "\n"
      "The execution log, newest first: time, message, endpoint, attempt number,\n"
      "status code or error class, outcome, duration.\n"
      "\n"
      "  --endpoint ID   one endpoint's attempts\n"
      "  --message ID    one message's attempts (to every endpoint; uses an index)\n"
      "  --event E       one event name, or a prefix like 'lead.*'\n"
      "  --failed        only attempts that did not deliver\n"
      "  --status S      status 200, 429, ... or a class 2xx, 4xx, 5xx, or 'none' for\n"
      "                  attempts that got no response (network, TLS, timeout errors)\n"
      "  --since D       only attempts started in the last D (30s, 15m, 2h, 7d); also\n"
      "                  bounds the work of a filter that matches rarely\n"
      "  --limit N       at most N attempts (default %d)\n"
      "  --verbose       add the error detail, the response excerpt, the next attempt\n"
      "  --json          one JSON object per line (with --verbose: error_detail and\n"
      "                  response_excerpt fields too)\n"
      "\n"
      "examples:\n"
      "  hookline attempts --endpoint crm --failed --since 2h\n"
      "  hookline attempts --message msg_01JD3Q7W3XK --verbose\n"
      "  hookline attempts --status 5xx --since 15m --json | jq -r .error_class | sort | uniq -c\n"
      "\n"
      "exit codes: 0 ok (also when nothing matches), 2 usage, 3 unknown endpoint,\n"
      "4 data dir or database unavailable.\n",
      HL_QUERY_LIMIT_DEFAULT);
}

/* parse_status: "200" (100-599), "5xx" ([1-5]xx) or "none" (status 0). */
static int parse_status(const char *text, hl_attempt_filter *f) {
  hl_span s = hl_span_cstr(text);
  uint64_t n;
  if (hl_span_eq_cstr(s, "none")) {
    f->status_min = f->status_max = 0;
    return 0;
  }
  if (s.len == 3 && s.ptr[0] >= '1' && s.ptr[0] <= '5' && s.ptr[1] == 'x' && s.ptr[2] == 'x') {
    f->status_min = (s.ptr[0] - '0') * 100;
    f->status_max = f->status_min + 99;
    return 0;
  }
  if (s.len == 3 && hl_span_parse_u64(s, 599, &n) && n >= 100) {
    f->status_min = f->status_max = (int32_t)n;
    return 0;
  }
  return -1;
}

typedef struct attempts_ctx {
  bool json;
  bool verbose;
  uint64_t n;
} attempts_ctx;

static void put_endpoint(hl_buf *b, const hl_attempt_row *r) {
  if (r->endpoint_id.len > 0) {
    hl_buf_put_span(b, r->endpoint_id);
  } else {
    hl_buf_printf(b, "(deleted #%lld)", (long long)r->endpoint_rowid);
  }
}

static int print_json(const hl_attempt_row *r, const attempts_ctx *c) {
  hl_ops_json j;
  hl_ops_json_begin(&j);
  hl_ops_json_time(&j, "started", r->started_ms);
  hl_ops_json_str(&j, "message_id", r->message_id);
  hl_ops_json_str(&j, "event", r->event);
  char ep[HL_ENDPOINT_ID_BYTES_MAX + 32];
  hl_buf eb;
  hl_buf_init(&eb, ep, sizeof(ep));
  put_endpoint(&eb, r);
  hl_ops_json_str(&j, "endpoint", hl_buf_span(&eb));
  hl_ops_json_int(&j, "attempt", r->attempt);
  hl_ops_json_int(&j, "status", r->status);
  hl_ops_json_str(&j, "outcome", hl_span_cstr(hl_outcome_name(r->outcome)));
  hl_ops_json_str(&j, "error_class", r->error_class);
  hl_ops_json_int(&j, "duration_us", r->duration_us);
  if (r->next_ms > 0) {
    hl_ops_json_time(&j, "next_attempt", r->next_ms);
  }
  if (c->verbose) {
    hl_ops_json_str(&j, "error_detail", r->error_detail);
    hl_ops_json_str(&j, "response_excerpt", r->response_excerpt);
  }
  hl_ops_json_int(&j, "log_id", r->rowid);
  return hl_ops_json_end(&j);
}

static int print_one(const hl_attempt_row *r, void *vctx) {
  attempts_ctx *c = vctx;
  c->n++;
  if (c->json) {
    return print_json(r, c);
  }
  char mem[HL_MESSAGE_ID_BYTES_MAX * 4 + 256];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  size_t col = b.len;
  hl_ops_put_time(&b, r->started_ms);
  hl_ops_pad(&b, col, 24);
  col = b.len;
  hl_ops_put_text(&b, r->message_id);
  hl_ops_pad(&b, col, 30);
  col = b.len;
  put_endpoint(&b, r);
  hl_ops_pad(&b, col, 16);
  col = b.len;
  hl_buf_printf(&b, "#%u", r->attempt);
  hl_ops_pad(&b, col, 3);
  col = b.len;
  if (r->status > 0) {
    hl_buf_printf(&b, "%d", r->status);
  }
  if (r->error_class.len > 0) {
    hl_buf_put_cstr(&b, r->status > 0 ? " " : "");
    hl_ops_put_text(&b, r->error_class);
  }
  hl_ops_pad(&b, col, 20);
  col = b.len;
  hl_buf_put_cstr(&b, hl_outcome_name(r->outcome));
  hl_ops_pad(&b, col, 9);
  hl_ops_put_duration_us(&b, r->duration_us);
  printf("%s\n", hl_buf_cstr(&b));
  if (!c->verbose) {
    return 0;
  }
  if (r->error_detail.len > 0) {
    hl_buf_reset(&b);
    hl_ops_put_text(&b, r->error_detail);
    printf("    error: %s\n", hl_buf_cstr(&b));
  }
  if (r->response_excerpt.len > 0) {
    char resp[HL_RESPONSE_EXCERPT_BYTES * 4 + 1];
    hl_buf rb;
    hl_buf_init(&rb, resp, sizeof(resp));
    hl_ops_put_text(&rb, r->response_excerpt);
    printf("    response: %s\n", hl_buf_ok(&rb) ? hl_buf_cstr(&rb) : "(too long to show)");
  }
  if (r->next_ms > 0) {
    hl_buf_reset(&b);
    hl_ops_put_time(&b, r->next_ms);
    printf("    next attempt: %s\n", hl_buf_cstr(&b));
  }
  return 0;
}

int hl_cmd_attempts(int argc, char **argv) {
  enum {
    OPT_ENDPOINT = 1,
    OPT_MESSAGE,
    OPT_EVENT,
    OPT_FAILED,
    OPT_STATUS,
    OPT_SINCE,
    OPT_LIMIT,
    OPT_VERBOSE,
    OPT_JSON,
  };
  static const struct option options[] = {
      HL_CLI_COMMON_OPTIONS,
      {"endpoint", required_argument, NULL, OPT_ENDPOINT},
      {"message", required_argument, NULL, OPT_MESSAGE},
      {"event", required_argument, NULL, OPT_EVENT},
      {"failed", no_argument, NULL, OPT_FAILED},
      {"status", required_argument, NULL, OPT_STATUS},
      {"since", required_argument, NULL, OPT_SINCE},
      {"limit", required_argument, NULL, OPT_LIMIT},
      {"verbose", no_argument, NULL, OPT_VERBOSE},
      {"json", no_argument, NULL, OPT_JSON},
      {NULL, 0, NULL, 0},
  };
  hl_config cfg;
  hl_config_defaults(&cfg);
  hl_attempt_filter f;
  hl_attempt_filter_init(&f);
  attempts_ctx ctx = {0};
  const char *endpoint = NULL;
  int64_t since = 0;
  hl_err err = {{0}};
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "v", options, NULL)) != -1) {
    int rc = 0;
    uint64_t n;
    switch (opt) {
      case OPT_ENDPOINT:
        endpoint = optarg;
        break;
      case OPT_MESSAGE:
        f.message_id = hl_span_cstr(optarg);
        break;
      case OPT_EVENT:
        f.event = hl_span_cstr(optarg);
        break;
      case OPT_FAILED:
        f.failed = true;
        break;
      case OPT_STATUS:
        if (parse_status(optarg, &f) != 0) {
          return hl_cli_usage_error("attempts",
                                    "--status: '%s' is not a status; expected a code like 200 "
                                    "or 429, a class like 5xx, or none",
                                    optarg);
        }
        break;
      case OPT_SINCE:
        if (hl_ops_parse_duration(optarg, "--since", &since, &err) != 0) {
          return hl_cli_usage_error("attempts", "%s", err.msg);
        }
        break;
      case OPT_LIMIT:
        if (!hl_span_parse_u64(hl_span_cstr(optarg), ATTEMPTS_LIMIT_MAX, &n) || n == 0) {
          return hl_cli_usage_error("attempts", "--limit: expected a number from 1 to %d",
                                    ATTEMPTS_LIMIT_MAX);
        }
        f.limit = (uint32_t)n;
        break;
      case 'v':
      case OPT_VERBOSE:
        ctx.verbose = true;
        break;
      case OPT_JSON:
        ctx.json = true;
        break;
      default:
        rc = hl_ops_common_flag("attempts", &cfg, opt, attempts_help);
    }
    if (rc != 0) {
      return rc < 0 ? HL_EXIT_OK : rc;
    }
  }
  if (optind < argc) {
    return hl_cli_usage_error("attempts", "unexpected argument '%s'", argv[optind]);
  }
  hl_store *s;
  int rc = hl_ops_open("attempts", &cfg, HL_STORE_READ_ONLY, &s);
  if (rc != 0) {
    return rc;
  }
  if (endpoint != NULL) {
    rc = hl_ops_endpoint("attempts", s, endpoint, &f.endpoint_rowid, NULL);
  }
  if (since > 0) {
    f.since_ms = (int64_t)hl_clock_wall_ms() - since;
  }
  if (rc == 0 && !ctx.json) {
    printf("%-24s  %-30s  %-16s  %-3s  %-20s  %-9s  %s\n", "STARTED", "MESSAGE", "ENDPOINT", "#",
           "RESULT", "OUTCOME", "DURATION");
  }
  if (rc == 0 && hl_query_attempts(s, &f, print_one, &ctx, &err) != 0) {
    hl_cli_error("attempts", "%s", err.msg);
    rc = HL_EXIT_UNAVAILABLE;
  }
  hl_store_close(s);
  if (rc == 0 && ctx.n == 0 && !ctx.json) {
    fprintf(stderr, "hookline attempts: no attempts match\n");
  }
  return rc;
}
