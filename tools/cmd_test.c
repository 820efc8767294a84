/* cmd_test: `hookline test ENDPOINT` — the "Test connection" button.
 *
 * Sends one synthetic event to the endpoint right now, exactly as the
 * engine would (same templates, signature, auth, pools, network policy),
 * and prints the status, the timing and the start of the response. Exit 0
 * only on a 2xx. The attempt is not logged: it is not a delivery. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cli.h"
#include "deliver/endpoint.h"
#include "deliver/target.h"
#include "http/client.h"
#include "io/dns.h"
#include "io/loop.h"
#include "io/tls.h"
#include "store/store.h"
#include "text/json_scan.h"

static const char sample_data[] =
    "{\"email\":\"test@example.com\",\"phone\":\"+15555550100\",\"name\":\"Test Lead\","
    "\"firstName\":\"Test\",\"lastName\":\"Lead\",\"source\":\"hookline-test\",\"test\":true}";

static void test_help(void) {
  printf(
      "usage: hookline test ENDPOINT [--event E] [--data JSON] [--data-dir DIR]\n"
      "                     [--allow-network CIDR]... [--ca-file PEM]\n"
      "\n"
      "Sends one synthetic event to ENDPOINT now, as the engine would (templates,\n"
      "signature, auth, network policy), and prints the status, the timing and\n"
      "the start of the response body. Nothing is logged.\n"
      "\n"
      "  --event E     event name (default hookline.test)\n"
      "  --data JSON   the event's data object (default: a sample lead)\n"
      "\n"
      "examples:\n"
      "  hookline test crm\n"
      "  hookline test crm --event lead.created --data '{\"email\":\"a@b.c\"}'\n"
      "\n"
      "exit codes: 0 the endpoint answered 2xx, 1 it did not (or could not be\n"
      "reached), 2 usage, 3 invalid endpoint or data, 4 data dir unavailable.\n");
}

typedef struct test_state {
  bool done;
  hl_client_result r;
  char detail[512];
  char body[HL_RESPONSE_EXCERPT_BYTES];
} test_state;

static void on_done(void *ctx, hl_client_id id, const hl_client_result *r) {
  (void)id;
  test_state *t = ctx;
  t->r = *r;
  snprintf(t->detail, sizeof(t->detail), "%s", r->detail != NULL ? r->detail : "");
  size_t n = r->body.len < sizeof(t->body) ? r->body.len : sizeof(t->body);
  if (n > 0) {
    memcpy(t->body, r->body.ptr, n);
  }
  t->r.body = hl_span_make(t->body, n);
  t->r.detail = t->detail;
  t->r.response = NULL;
  t->done = true;
}

/* print_excerpt prints the body's start with control bytes escaped. */
static void print_excerpt(hl_span body) {
  printf("response: ");
  for (size_t i = 0; i < body.len; i++) {
    unsigned char c = (unsigned char)body.ptr[i];
    if (c >= 0x20 && c < 0x7f) {
      putchar(c);
    } else {
      printf("\\x%02x", c);
    }
  }
  putchar('\n');
}

static int load_target(const hl_config *cfg, const char *id, hl_target **out) {
  hl_err err = {{0}};
  hl_store *s = NULL;
  if (hl_store_open(&s, cfg->data_dir, HL_STORE_READ_ONLY, &err) != 0) {
    hl_cli_error("test", "%s", err.msg);
    return HL_EXIT_UNAVAILABLE;
  }
  hl_endpoint_rec rec;
  int rc = hl_store_endpoint_get(s, hl_span_cstr(id), &rec, &err);
  hl_store_close(s);
  if (rc != 0) {
    hl_cli_error("test", "%s", err.msg);
    return rc == -ENOENT ? HL_EXIT_CONFIG : HL_EXIT_UNAVAILABLE;
  }
  hl_secretbox box;
  hl_endpoint_config c;
  rc = hl_secretbox_load_key(&box, cfg->data_dir, &err);
  if (rc == 0) {
    rc = hl_endpoint_load(rec.config, &box, &c, &err);
    if (rc == 0) {
      hl_endpoint_drop_expired(&c, (int64_t)hl_clock_wall_ms());
      rc = hl_target_compile(&c, rec.rowid, rec.enabled, out, &err);
      hl_endpoint_config_free(&c);
    }
    hl_secretbox_cleanup(&box);
  }
  hl_endpoint_rec_cleanup(&rec);
  if (rc != 0) {
    hl_cli_error("test", "endpoint %s: %s", id, err.msg);
    return HL_EXIT_CONFIG;
  }
  return 0;
}

static int send_one(const hl_config *cfg, hl_target *t, const char *event, const char *data) {
  hl_err err = {{0}};
  hl_netpolicy policy;
  hl_netpolicy_init(&policy);
  for (uint32_t i = 0; i < cfg->allow_networks_len; i++) {
    if (hl_netpolicy_allow(&policy, cfg->allow_networks[i], &err) != 0) {
      hl_cli_error("test", "--allow-network: %s", err.msg);
      return HL_EXIT_USAGE;
    }
  }
  hl_loop *loop = NULL;
  hl_dns *dns = NULL;
  hl_tls_ctx *tls = NULL;
  hl_client *client = NULL;
  char *scratch_body = malloc(HL_SIGN_HEADROOM_BYTES + HL_RENDER_BYTES_MAX);
  char *scratch_misc = malloc(HL_RENDER_BYTES_MAX);
  hl_json_value *values = calloc(HL_TEMPLATE_SET_PATHS_MAX + 1, sizeof(hl_json_value));
  hl_target_built built = {0};
  hl_loop_options lo = hl_loop_options_default();
  hl_dns_options dopts = hl_dns_options_default();
  hl_tls_client_options to = {.ca_file = cfg->ca_file[0] != '\0' ? cfg->ca_file : NULL};
  hl_limits lim = hl_limits_default();
  hl_client_options co = hl_client_options_from(&lim);
  co.requests_max = 4;
  co.conns_max = 4;
  int rc = scratch_body != NULL && scratch_misc != NULL && values != NULL ? 0 : -ENOMEM;
  if (rc == 0) {
    rc = hl_loop_new(&lo, &loop, &err);
  }
  if (rc == 0) {
    dopts.hosts_from_env = getenv("CARES_HOSTS") != NULL;
    rc = hl_dns_new(loop, &dopts, &dns, &err);
  }
  if (rc == 0) {
    rc = hl_tls_ctx_client_new(&to, &tls, &err);
  }
  if (rc == 0) {
    co.tls[0] = tls;
    co.dns = dns;
    rc = hl_client_new(loop, &co, &client, &err);
  }
  int exit_code = HL_EXIT_FAIL;
  if (rc != 0) {
    hl_cli_error("test", "%s", err.msg);
    goto out;
  }
  char id[40];
  snprintf(id, sizeof(id), "msg_test_%llu", (unsigned long long)hl_clock_wall_ms());
  hl_template_msg m = {.id = hl_span_cstr(id),
                       .event = hl_span_cstr(event),
                       .data = hl_span_cstr(data),
                       .timestamp_ms = hl_clock_wall_ms()};
  hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
  hl_sign_state sign;
  int n = hl_target_build(t, &m, hl_clock_wall_ms() / 1000, values, scratch_body, scratch_misc,
                          &built, &sign, jobs, &err);
  if (n < 0) {
    hl_cli_error("test", "endpoint %s: %s", t->id, err.msg);
    exit_code = HL_EXIT_CONFIG;
    goto out;
  }
  hl_sign_jobs_run(jobs, (size_t)n);
  hl_target_finish(t, &built, &sign);
  test_state st = {0};
  hl_client_request req = {.url = &t->url,
                           .method = t->method,
                           .head = hl_buf_span(&built.head),
                           .body = built.body,
                           .request_timeout_ms = t->timeout_ms,
                           .allow_plain_http = t->allow_http,
                           .policy = &policy,
                           .done = on_done,
                           .ctx = &st};
  hl_client_id cid;
  if (hl_client_submit(client, &req, &cid, &err) != 0) {
    hl_cli_error("test", "%s", err.msg);
    goto out;
  }
  while (!st.done) {
    hl_loop_run_once(loop, -1);
  }
  const hl_client_result *r = &st.r;
  if (r->error == HL_NETERR_OK) {
    printf("status: %u\n", r->status);
  } else {
    printf("error: %s: %s\n", hl_neterr_name(r->error), r->detail);
  }
  printf("timing: total %.1f ms (dns %.1f, connect %.1f, tls %.1f, first byte %.1f)\n",
         r->t.total_us / 1000.0, r->t.dns_us / 1000.0, r->t.connect_us / 1000.0,
         r->t.tls_us / 1000.0, r->t.ttfb_us / 1000.0);
  if (r->body.len > 0) {
    print_excerpt(r->body);
  }
  exit_code = r->error == HL_NETERR_OK && r->status >= 200 && r->status < 300 ? HL_EXIT_OK
                                                                              : HL_EXIT_FAIL;
out:
  if (loop != NULL) {
    hl_loop_drain(loop, 1000);
  }
  hl_client_free(client);
  hl_dns_free(dns);
  hl_loop_free(loop);
  hl_tls_ctx_free(tls);
  free(built.buf);
  free(scratch_body);
  free(scratch_misc);
  free(values);
  return exit_code;
}

int hl_cmd_test(int argc, char **argv) {
  enum { OPT_EVENT = 1, OPT_DATA };
  static const struct option options[] = {
      HL_CLI_COMMON_OPTIONS,
      {"event", required_argument, NULL, OPT_EVENT},
      {"data", required_argument, NULL, OPT_DATA},
      {NULL, 0, NULL, 0},
  };
  hl_config cfg;
  hl_config_defaults(&cfg);
  const char *event = "hookline.test";
  const char *data = sample_data;
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    switch (opt) {
      case OPT_EVENT:
        event = optarg;
        break;
      case OPT_DATA:
        data = optarg;
        break;
      case '?':
        return hl_cli_usage_error("test", "invalid arguments");
      default:
        switch (hl_cli_common(&cfg, opt, optarg)) {
          case HL_CLI_HANDLED:
            break;
          case HL_CLI_HELP:
            test_help();
            return HL_EXIT_OK;
          case HL_CLI_ERROR:
            return HL_EXIT_USAGE;
          case HL_CLI_NOT_COMMON:
            return hl_cli_usage_error("test", "unexpected option");
        }
    }
  }
  if (optind + 1 != argc) {
    return hl_cli_usage_error("test", "needs exactly one endpoint id");
  }
  hl_err err = {{0}};
  if (hl_json_validate_object(hl_span_cstr(data), HL_JSON_DEPTH_MAX, &err) != 0) {
    hl_cli_error("test", "--data: %s", err.msg);
    return HL_EXIT_CONFIG;
  }
  hl_log_configure(cfg.log_level, cfg.log_format, 2);
  signal(SIGPIPE, SIG_IGN);
  hl_target *t = NULL;
  int rc = load_target(&cfg, argv[optind], &t);
  if (rc != 0) {
    return rc;
  }
  rc = send_one(&cfg, t, event, data);
  hl_target_unref(t);
  return rc;
}
