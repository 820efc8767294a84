/* metrics: the operator's HTTP endpoint — Prometheus text on /metrics and
 * liveness on /healthz — on a loopback address only.
 *
 * One small thread with blocking sockets: it is not on the delivery path,
 * serves one scrape at a time, and bounds everything (request head bytes,
 * read time, response size). What it serves comes from a render callback
 * the engine provides; this module knows HTTP, not the engine. */
#ifndef HL_ADMIN_METRICS_H
#define HL_ADMIN_METRICS_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"

#define HL_METRICS_BODY_BYTES_MAX (4u * 1024 * 1024)
#define HL_METRICS_READ_TIMEOUT_MS 2000

typedef enum hl_metrics_page {
  HL_METRICS_PAGE_METRICS,
  HL_METRICS_PAGE_HEALTH,
} hl_metrics_page;

/* The engine writes the page into |out|; for health it returns false when
 * something is unhealthy (the server answers 503). */
typedef bool (*hl_metrics_render_fn)(void *ctx, hl_metrics_page page, hl_buf *out);

typedef struct hl_metrics hl_metrics;

/* hl_metrics_start listens on |addr| ("127.0.0.1:9464", "[::1]:9464",
 * "localhost:9464") and serves until hl_metrics_stop. Addresses outside
 * loopback are refused: metrics are not meant to be public. */
int hl_metrics_start(const char *addr, hl_metrics_render_fn fn, void *ctx, hl_metrics **out,
                     hl_err *err);

/* hl_metrics_port is the bound port (useful with port 0). */
int hl_metrics_port(const hl_metrics *m);

void hl_metrics_stop(hl_metrics *m);

#endif
