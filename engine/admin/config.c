/* config: defaults, setters and printing (see config.h). */
#include "admin/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int set_string(char *dst, size_t cap, const char *v, const char *flag, hl_err *err) {
  if (v[0] == '\0') {
    return hl_err_fail(err, -EINVAL, "%s: must not be empty", flag);
  }
  if (!hl_span_to_cstr(hl_span_cstr(v), dst, cap)) {
    return hl_err_fail(err, -ENAMETOOLONG, "%s: longer than %zu bytes", flag, cap - 1);
  }
  return 0;
}

void hl_config_defaults(hl_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  set_string(cfg->data_dir, sizeof(cfg->data_dir), HL_DEFAULT_DATA_DIR, "data dir", NULL);
  set_string(cfg->ring_name, sizeof(cfg->ring_name), HL_DEFAULT_RING_NAME, "ring", NULL);
  cfg->ring_mode = HL_DEFAULT_RING_MODE;
  cfg->workers = 0;
  cfg->log_level = HL_LOG_INFO;
  cfg->log_format = HL_LOG_JSON;
  cfg->limits = hl_limits_default();
  cfg->retention_ms = HL_DEFAULT_RETENTION_MS;
  cfg->spill_after_ms = HL_DEFAULT_SPILL_AFTER_MS;
  cfg->shutdown_grace_ms = HL_DEFAULT_SHUTDOWN_GRACE_MS;
  const char *env = getenv("HOOKLINE_DATA");
  if (env != NULL && env[0] != '\0') {
    hl_config_set_data_dir(cfg, env, NULL);
  }
}

int hl_config_set_data_dir(hl_config *cfg, const char *v, hl_err *err) {
  return set_string(cfg->data_dir, sizeof(cfg->data_dir), v, "--data-dir", err);
}

int hl_config_set_ring_name(hl_config *cfg, const char *v, hl_err *err) {
  for (const char *p = v; *p != '\0'; p++) {
    bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == '/';
    if (!ok) {
      return hl_err_fail(err, -EINVAL,
                         "--ring: name may hold letters, digits, '-', '_', '.', and '/' for a "
                         "file-backed path");
    }
  }
  return set_string(cfg->ring_name, sizeof(cfg->ring_name), v, "--ring", err);
}

int hl_config_set_workers(hl_config *cfg, const char *v, hl_err *err) {
  uint64_t n;
  if (!hl_span_parse_u64(hl_span_cstr(v), HL_CONFIG_WORKERS_MAX, &n) || n == 0) {
    return hl_err_fail(err, -EINVAL, "--workers: expected a number from 1 to %d",
                       HL_CONFIG_WORKERS_MAX);
  }
  cfg->workers = (uint32_t)n;
  return 0;
}

int hl_config_add_allow_network(hl_config *cfg, const char *v, hl_err *err) {
  if (cfg->allow_networks_len == HL_CONFIG_ALLOW_NETWORKS_MAX) {
    return hl_err_fail(err, -E2BIG, "--allow-network: at most %d ranges",
                       HL_CONFIG_ALLOW_NETWORKS_MAX);
  }
  /* The syntax is checked where the ranges are compiled (io/netpolicy). */
  int rc = set_string(cfg->allow_networks[cfg->allow_networks_len], HL_CONFIG_CIDR_BYTES, v,
                      "--allow-network", err);
  if (rc == 0) {
    cfg->allow_networks_len++;
  }
  return rc;
}

int hl_config_set_ca_file(hl_config *cfg, const char *v, hl_err *err) {
  int rc = set_string(cfg->ca_file, sizeof(cfg->ca_file), v, "--ca-file", err);
  if (rc == 0 && access(cfg->ca_file, R_OK) != 0) {
    rc = hl_err_fail(err, -errno, "--ca-file: cannot read %s: %s", cfg->ca_file, strerror(errno));
    cfg->ca_file[0] = '\0';
  }
  return rc;
}

int hl_config_set_metrics_addr(hl_config *cfg, const char *v, hl_err *err) {
  return set_string(cfg->metrics_addr, sizeof(cfg->metrics_addr), v, "--metrics-addr", err);
}

uint32_t hl_config_workers(const hl_config *cfg) {
  if (cfg->workers != 0) {
    return cfg->workers;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) {
    return 1;
  }
  return n > HL_CONFIG_WORKERS_MAX ? HL_CONFIG_WORKERS_MAX : (uint32_t)n;
}

static void put_json_string(hl_buf *out, const char *s) {
  hl_buf_putc(out, '"');
  for (; *s != '\0'; s++) {
    if (*s == '"' || *s == '\\') {
      hl_buf_putc(out, '\\');
    }
    hl_buf_putc(out, (unsigned char)*s < 0x20 ? '?' : *s);
  }
  hl_buf_putc(out, '"');
}

void hl_config_write_json(const hl_config *cfg, hl_buf *out) {
  static const char *const levels[] = {"debug", "info", "warn", "error"};
  hl_buf_put_cstr(out, "{\"version\":\"" HL_VERSION "\",\"data_dir\":");
  put_json_string(out, cfg->data_dir);
  hl_buf_put_cstr(out, ",\"ring\":");
  put_json_string(out, cfg->ring_name);
  hl_buf_printf(out, ",\"ring_mode\":\"0%o\",\"workers\":%u,\"allow_networks\":[",
                cfg->ring_mode, hl_config_workers(cfg));
  for (uint32_t i = 0; i < cfg->allow_networks_len; i++) {
    if (i > 0) {
      hl_buf_putc(out, ',');
    }
    put_json_string(out, cfg->allow_networks[i]);
  }
  hl_buf_put_cstr(out, "],\"ca_file\":");
  put_json_string(out, cfg->ca_file[0] != '\0' ? cfg->ca_file : "(system)");
  hl_buf_put_cstr(out, ",\"metrics_addr\":");
  put_json_string(out, cfg->metrics_addr[0] != '\0' ? cfg->metrics_addr : "(off)");
  hl_buf_printf(out, ",\"log_level\":\"%s\",\"log_format\":\"%s\"", levels[cfg->log_level],
                cfg->log_format == HL_LOG_JSON ? "json" : "text");
  hl_buf_printf(out,
                ",\"retain_payloads\":%s,\"retention_s\":%lld,\"spill_after_ms\":%u,"
                "\"shutdown_grace_ms\":%u",
                cfg->retain_payloads ? "true" : "false", (long long)(cfg->retention_ms / 1000),
                cfg->spill_after_ms, cfg->shutdown_grace_ms);
  const hl_limits *l = &cfg->limits;
  hl_buf_printf(out,
                ",\"limits\":{\"message_data_bytes_max\":%zu,\"conns_max\":%u,"
                "\"conns_per_origin_max\":%u,\"connect_timeout_ms\":%u,"
                "\"tls_handshake_timeout_ms\":%u,\"response_header_timeout_ms\":%u,"
                "\"request_timeout_ms\":%u,\"deliveries_in_flight_max\":%u}}",
                l->message_data_bytes_max, l->conns_max, l->conns_per_origin_max,
                l->connect_timeout_ms, l->tls_handshake_timeout_ms,
                l->response_header_timeout_ms, l->request_timeout_ms,
                l->deliveries_in_flight_max);
}
