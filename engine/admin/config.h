/* config: the engine's run-time configuration, with embedded defaults.
 *
 * `hookline run` with no flags runs on these defaults; flags and environment
 * (HOOKLINE_DATA) override them. The struct owns its strings (fixed arrays,
 * no allocation); hl_config_check validates relations and names the field in
 * its error. */
#ifndef HL_ADMIN_CONFIG_H
#define HL_ADMIN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/log.h"

#define HL_CONFIG_PATH_BYTES 512
#define HL_CONFIG_NAME_BYTES 128
#define HL_CONFIG_ALLOW_NETWORKS_MAX 32
#define HL_CONFIG_CIDR_BYTES 64
#define HL_CONFIG_WORKERS_MAX 64

#define HL_DEFAULT_DATA_DIR "./hookline-data"
#define HL_DEFAULT_RING_NAME "hookline"
#define HL_DEFAULT_RING_MODE 0600

typedef struct hl_config {
  char data_dir[HL_CONFIG_PATH_BYTES];
  char ring_name[HL_CONFIG_NAME_BYTES];
  uint32_t ring_mode;
  uint32_t workers; /* 0 = one per online CPU */
  char allow_networks[HL_CONFIG_ALLOW_NETWORKS_MAX][HL_CONFIG_CIDR_BYTES];
  uint32_t allow_networks_len;
  char ca_file[HL_CONFIG_PATH_BYTES]; /* empty = system bundle only */
  char metrics_addr[HL_CONFIG_NAME_BYTES]; /* empty = no metrics listener */
  hl_log_level log_level;
  hl_log_format log_format;
  bool retain_payloads;       /* keep delivered payloads (replay of any message) */
  int64_t retention_ms;       /* attempt log kept this long; 0 = forever */
  uint32_t spill_after_ms;    /* unfinished deliveries spill to the database
                                 after this, or earlier when their ring lane
                                 is more than half full */
  uint32_t shutdown_grace_ms; /* SIGTERM: in-flight requests get this long */
  hl_limits limits;
} hl_config;

#define HL_DEFAULT_RETENTION_MS (30ll * 24 * 3600 * 1000)
#define HL_DEFAULT_SPILL_AFTER_MS 30000
#define HL_DEFAULT_SHUTDOWN_GRACE_MS 10000

/* hl_config_defaults fills |cfg| with the embedded defaults, then applies
 * HOOKLINE_DATA from the environment if set. */
void hl_config_defaults(hl_config *cfg);

/* Setters used by the command line; each validates and names the flag. */
int hl_config_set_data_dir(hl_config *cfg, const char *v, hl_err *err);
int hl_config_set_ring_name(hl_config *cfg, const char *v, hl_err *err);
int hl_config_set_workers(hl_config *cfg, const char *v, hl_err *err);
int hl_config_add_allow_network(hl_config *cfg, const char *v, hl_err *err);
int hl_config_set_ca_file(hl_config *cfg, const char *v, hl_err *err);
int hl_config_set_metrics_addr(hl_config *cfg, const char *v, hl_err *err);

/* hl_config_workers resolves workers == 0 to the number of online CPUs. */
uint32_t hl_config_workers(const hl_config *cfg);

/* hl_config_write_json writes the configuration as one JSON object. */
void hl_config_write_json(const hl_config *cfg, hl_buf *out);

#endif
