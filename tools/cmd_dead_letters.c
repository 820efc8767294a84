/* cmd_dead_letters: `hookline dead-letters`, the deliveries that ran out
 * of attempts, newest first. Reads the store READ_ONLY. */
#include <stdio.h>

#include "base/clock.h"
#include "ops.h"
#include "store/query.h"

#define DEAD_LETTERS_LIMIT_MAX 1000000

static void dead_letters_help(void) {
  printf(
      "usage: hookline dead-letters [--endpoint ID] [--limit N] [--json] [--data-dir DIR]\n"
      "\n"
      "Deliveries that failed every attempt of their retry schedule, newest first:\n"
      "when they died, message, endpoint, event, attempts made, last error, and\n"
      "whether the payload is stored (needed to replay it).\n"
      "\n"
      "  --endpoint ID   one endpoint's dead letters\n"
      "  --limit N       at most N (default: all)\n"
      "  --json          one JSON object per line\n"
      "\n"
      "examples:\n"
      "  hookline dead-letters\n"
      "  hookline dead-letters --endpoint crm --json\n"
      "  hookline replay --endpoint crm --failed --since 7d    # send them all again\n"
      "\n"
      "exit codes: 0 ok (also when there are none), 2 usage, 3 unknown endpoint,\n"
      "4 data dir or database unavailable.\n");
}

typedef struct dl_ctx {
  bool json;
  uint64_t n;
} dl_ctx;

static void put_endpoint(hl_buf *b, const hl_dead_letter_row *r) {
  if (r->endpoint_id.len > 0) {
    hl_buf_put_span(b, r->endpoint_id);
  } else {
    hl_buf_printf(b, "(deleted #%lld)", (long long)r->endpoint_rowid);
  }
}

static int print_one(const hl_dead_letter_row *r, void *vctx) {
  dl_ctx *c = vctx;
  c->n++;
  char ep[HL_ENDPOINT_ID_BYTES_MAX + 32];
  hl_buf eb;
  hl_buf_init(&eb, ep, sizeof(ep));
  put_endpoint(&eb, r);
  if (c->json) {
    hl_ops_json j;
    hl_ops_json_begin(&j);
    hl_ops_json_time(&j, "dead", r->dead_ms);
    hl_ops_json_str(&j, "message_id", r->message_id);
    hl_ops_json_str(&j, "endpoint", hl_buf_span(&eb));
    hl_ops_json_str(&j, "event", r->event);
    hl_ops_json_int(&j, "attempts", r->attempts);
    hl_ops_json_str(&j, "last_error", r->last_error);
    hl_ops_json_bool(&j, "payload_stored", r->has_payload);
    return hl_ops_json_end(&j);
  }
  char mem[HL_MESSAGE_ID_BYTES_MAX * 4 + HL_EVENT_NAME_BYTES_MAX * 4 + 1024];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  size_t col = b.len;
  hl_ops_put_time(&b, r->dead_ms);
  hl_ops_pad(&b, col, 24);
  col = b.len;
  hl_ops_put_text(&b, r->message_id);
  hl_ops_pad(&b, col, 30);
  col = b.len;
  hl_buf_put_cstr(&b, hl_buf_cstr(&eb));
  hl_ops_pad(&b, col, 16);
  col = b.len;
  if (r->event.len > 0) {
    hl_ops_put_text(&b, r->event);
  } else {
    hl_buf_putc(&b, '-');
  }
  hl_ops_pad(&b, col, 20);
  col = b.len;
  hl_buf_printf(&b, "%u", r->attempts);
  hl_ops_pad(&b, col, 8);
  hl_ops_put_text(&b, hl_span_sub(r->last_error, 0, 200));
  if (!r->has_payload) {
    hl_buf_put_cstr(&b, "  (payload not stored: cannot replay)");
  }
  printf("%s\n", hl_buf_ok(&b) ? hl_buf_cstr(&b) : "(line too long)");
  return 0;
}

int hl_cmd_dead_letters(int argc, char **argv) {
  enum { OPT_ENDPOINT = 1, OPT_LIMIT, OPT_JSON };
  static const struct option options[] = {
      HL_CLI_COMMON_OPTIONS,
      {"endpoint", required_argument, NULL, OPT_ENDPOINT},
      {"limit", required_argument, NULL, OPT_LIMIT},
      {"json", no_argument, NULL, OPT_JSON},
      {NULL, 0, NULL, 0},
  };
  hl_config cfg;
  hl_config_defaults(&cfg);
  const char *endpoint = NULL;
  uint64_t limit = 0;
  dl_ctx ctx = {0};
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    int rc = 0;
    switch (opt) {
      case OPT_ENDPOINT:
        endpoint = optarg;
        break;
      case OPT_LIMIT:
        if (!hl_span_parse_u64(hl_span_cstr(optarg), DEAD_LETTERS_LIMIT_MAX, &limit) ||
            limit == 0) {
          return hl_cli_usage_error("dead-letters", "--limit: expected a number from 1 to %d",
                                    DEAD_LETTERS_LIMIT_MAX);
        }
        break;
      case OPT_JSON:
        ctx.json = true;
        break;
      default:
        rc = hl_ops_common_flag("dead-letters", &cfg, opt, dead_letters_help);
    }
    if (rc != 0) {
      return rc < 0 ? HL_EXIT_OK : rc;
    }
  }
  if (optind < argc) {
    return hl_cli_usage_error("dead-letters", "unexpected argument '%s'", argv[optind]);
  }
  hl_store *s;
  int rc = hl_ops_open("dead-letters", &cfg, HL_STORE_READ_ONLY, &s);
  if (rc != 0) {
    return rc;
  }
  int64_t rowid = 0;
  if (endpoint != NULL) {
    rc = hl_ops_endpoint("dead-letters", s, endpoint, &rowid, NULL);
  }
  hl_err err = {{0}};
  if (rc == 0 && !ctx.json) {
    printf("%-24s  %-30s  %-16s  %-20s  %-8s  %s\n", "DEAD SINCE", "MESSAGE", "ENDPOINT",
           "EVENT", "ATTEMPTS", "LAST ERROR");
  }
  if (rc == 0 && hl_query_dead_letters(s, rowid, (uint32_t)limit, print_one, &ctx, &err) != 0) {
    hl_cli_error("dead-letters", "%s", err.msg);
    rc = HL_EXIT_UNAVAILABLE;
  }
  hl_store_close(s);
  if (rc == 0 && ctx.n == 0 && !ctx.json) {
    fprintf(stderr, "hookline dead-letters: none\n");
  }
  return rc;
}
