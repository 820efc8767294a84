/* cmd_run: `hookline run`, the engine process.
 *
 * Parses the flags into an hl_config (embedded defaults otherwise), prints
 * the effective configuration as one JSON line on stdout, and runs until
 * SIGINT or SIGTERM, then exits 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "deliver/engine.h"
#include "ops.h"

#if defined(HL_WITH_MIMALLOC)
#include <mimalloc.h>
#endif

static void run_help(void) {
  printf(
      "usage: hookline run [--data-dir DIR] [--ring NAME] [--workers N]\n"
      "                    [--allow-network CIDR]... [--ca-file PEM]\n"
      "                    [--metrics-addr HOST:PORT] [--log-level LEVEL]\n"
      "                    [--log-format json|text]\n"
      "\n"
      "Runs the delivery engine until SIGINT or SIGTERM.\n"
      "\n"
      "  --data-dir DIR         endpoints and attempt log (default ./hookline-data,\n"
      "                         or $HOOKLINE_DATA)\n"
      "  --ring NAME            shared-memory ring producers write to (default hookline)\n"
      "  --workers N            event loops (default: one per CPU)\n"
      "  --allow-network CIDR   exempt a range from the SSRF policy (repeatable)\n"
      "  --ca-file PEM          trust these roots in addition to the system's\n"
      "  --metrics-addr H:P     serve Prometheus metrics on a loopback address\n"
      "  --retain-payloads      keep every delivered payload, so any message can be\n"
      "                         replayed (costs database writes per message)\n"
      "  --retention D          keep the attempt log this long (default 30d; 0 = forever)\n"
      "  --log-level L          debug, info, warn, error (default info)\n"
      "  --log-format F         json (default) or text\n"
      "\n"
      "examples:\n"
      "  hookline run\n"
      "  hookline run --data-dir /var/lib/hookline --workers 2\n"
      "  hookline run --allow-network 127.0.0.0/8 --ca-file test-ca.pem\n"
      "\n"
      "exit codes: 0 stopped by a signal, 2 usage, 3 invalid configuration.\n");
}

int hl_cmd_run(int argc, char **argv) {
  enum { OPT_WORKERS = 1, OPT_METRICS_ADDR, OPT_RETAIN, OPT_RETENTION };
  static const struct option options[] = {
      HL_CLI_COMMON_OPTIONS,
      {"workers", required_argument, NULL, OPT_WORKERS},
      {"metrics-addr", required_argument, NULL, OPT_METRICS_ADDR},
      {"retain-payloads", no_argument, NULL, OPT_RETAIN},
      {"retention", required_argument, NULL, OPT_RETENTION},
      {NULL, 0, NULL, 0},
  };
  hl_config cfg;
  hl_config_defaults(&cfg);
  hl_err err = {{0}};
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    int rc = 0;
    switch (opt) {
      case OPT_WORKERS:
        rc = hl_config_set_workers(&cfg, optarg, &err);
        break;
      case OPT_METRICS_ADDR:
        rc = hl_config_set_metrics_addr(&cfg, optarg, &err);
        break;
      case OPT_RETAIN:
        cfg.retain_payloads = true;
        break;
      case OPT_RETENTION:
        if (strcmp(optarg, "0") == 0) {
          cfg.retention_ms = 0;
        } else {
          rc = hl_ops_parse_duration(optarg, "--retention", &cfg.retention_ms, &err);
        }
        break;
      case '?':
        return hl_cli_usage_error("run", "invalid arguments");
      default:
        switch (hl_cli_common(&cfg, opt, optarg)) {
          case HL_CLI_HANDLED:
            break;
          case HL_CLI_HELP:
            run_help();
            return HL_EXIT_OK;
          case HL_CLI_ERROR:
            return HL_EXIT_USAGE;
          case HL_CLI_NOT_COMMON:
            return hl_cli_usage_error("run", "unexpected option");
        }
    }
    if (rc != 0) {
      return hl_cli_usage_error("run", "%s", err.msg);
    }
  }
  if (optind < argc) {
    return hl_cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
  }
  hl_log_configure(cfg.log_level, cfg.log_format, 2);

  /* Signals are taken synchronously: blocked here, received by sigwait (and,
   * once the engine runs, by the loops through signalfd). */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);

  char mem[4096];
  hl_buf out;
  hl_buf_init(&out, mem, sizeof(mem));
  hl_config_write_json(&cfg, &out);
  hl_buf_putc(&out, '\n');
  if (!hl_buf_ok(&out)) {
    hl_cli_error("run", "configuration too large to print");
    return HL_EXIT_CONFIG;
  }
  fwrite(out.ptr, 1, out.len, stdout);
  fflush(stdout);
#if defined(HL_WITH_MIMALLOC)
  HL_LOG(HL_LOG_INFO, "allocator", HL_F_STR("name", "mimalloc"), HL_F_INT("version", mi_version()));
#endif
  if (hl_engine_run(&cfg, &err) != 0) {
    hl_cli_error("run", "%s", err.msg);
    return err.msg[0] != '\0' && strstr(err.msg, "--") != NULL ? HL_EXIT_CONFIG
                                                                : HL_EXIT_UNAVAILABLE;
  }
  return HL_EXIT_OK;
}
