/* engine: start-up, endpoint reloads, due retries, shutdown (see engine.h). */
#include "deliver/engine.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/metrics.h"
#include "base/clock.h"
#include "base/hist.h"
#include "base/log.h"
#include "crypto/secretbox.h"
#include "deliver/route.h"
#include "deliver/storer.h"
#include "deliver/worker.h"
#include "io/tls.h"
#include "ring/consumer.h"

typedef struct engine {
  const hl_config *cfg;
  uint32_t workers_n;
  hl_secretbox box;
  hl_worker_shared shared;
  hl_worker *workers[HL_CONFIG_WORKERS_MAX];
  pthread_t threads[HL_CONFIG_WORKERS_MAX];
  bool started[HL_CONFIG_WORKERS_MAX];
  hl_route_table *routes; /* the store thread's own reference */
  hl_metrics *metrics;
  int lock_fd; /* flock on <data-dir>/engine.lock: one engine per directory */
} engine;

/* --- store thread callbacks ------------------------------------------------- */

typedef struct load_ctx {
  engine *e;
  hl_target **targets;
  uint32_t n, cap;
  uint32_t failed;
} load_ctx;

static int load_one(const hl_endpoint_rec *r, void *vctx) {
  load_ctx *l = vctx;
  hl_err err = {{0}};
  hl_endpoint_config c;
  int rc = hl_endpoint_load(r->config, &l->e->box, &c, &err);
  if (rc == 0) {
    hl_endpoint_drop_expired(&c, (int64_t)hl_clock_wall_ms());
    hl_target *t = NULL;
    rc = hl_target_compile(&c, r->rowid, r->enabled, &t, &err);
    hl_endpoint_config_free(&c);
    if (rc == 0) {
      if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->targets = realloc(l->targets, l->cap * sizeof(*l->targets));
      }
      l->targets[l->n++] = t;
    }
  }
  if (rc != 0) {
    l->failed++;
    HL_LOG(HL_LOG_ERROR, "endpoint not loaded", HL_F_STR("endpoint", r->id),
           HL_F_STR("error", err.msg));
  }
  return 0;
}

static void on_endpoints(hl_store *s, int64_t generation, void *ctx) {
  engine *e = ctx;
  load_ctx l = {.e = e};
  hl_err err = {{0}};
  if (hl_store_endpoint_foreach(s, load_one, &l, &err) != 0) {
    HL_LOG(HL_LOG_ERROR, "reading endpoints failed", HL_F_STR("error", err.msg));
    for (uint32_t i = 0; i < l.n; i++) {
      hl_target_unref(l.targets[i]);
    }
    free(l.targets);
    return;
  }
  hl_route_table *t;
  if (hl_route_build(l.targets, l.n, generation, &t) != 0) {
    free(l.targets);
    HL_LOG(HL_LOG_ERROR, "building the routing table failed");
    return;
  }
  free(l.targets);
  for (uint32_t i = 0; i < e->workers_n; i++) {
    hl_route_ref(t);
    hl_worker_post_routes(e->workers[i], t);
  }
  hl_route_unref(e->routes);
  e->routes = t;
  HL_LOG(HL_LOG_INFO, "endpoints loaded", HL_F_UINT("endpoints", l.n),
         HL_F_UINT("failed", l.failed), HL_F_INT("generation", generation));
}

static hl_pending_verdict on_due(const hl_pending_rec *p, void *ctx) {
  engine *e = ctx;
  hl_target *t = e->routes != NULL ? hl_route_by_rowid(e->routes, p->endpoint_rowid) : NULL;
  if (t == NULL || !t->enabled) {
    return HL_PENDING_DROP;
  }
  hl_worker *w = e->workers[(uint64_t)p->endpoint_rowid % e->workers_n];
  if (!hl_worker_ready(w)) {
    return HL_PENDING_LATER;
  }
  return hl_worker_post_due(w, p) ? HL_PENDING_TAKEN : HL_PENDING_LATER;
}

static void on_committed(uint32_t lane, void *ctx) {
  engine *e = ctx;
  hl_worker_wake(e->workers[lane]);
}

/* --- metrics and health ------------------------------------------------------ */

#define ALIVE_WITHIN_MS 10000

static uint64_t sum_stat(engine *e, size_t offset) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < e->workers_n; i++) {
    const char *st = (const char *)hl_worker_stats_get(e->workers[i]);
    n += atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)(st + offset), memory_order_relaxed);
  }
  return n;
}

#define SUM(field) sum_stat(e, offsetof(hl_worker_stats, field))

static void metric(hl_buf *b, const char *name, const char *type, const char *help,
                   uint64_t value) {
  hl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                (unsigned long long)value);
}

static void merge_hist(const hl_hist *h, void *ctx) {
  hl_hist_merge(ctx, h);
}

static void breaker_line(const char *id, int state, void *ctx) {
  hl_buf_printf(ctx, "hookline_endpoint_breaker_state{endpoint=\"%s\"} %d\n", id, state);
}

static void render_metrics(engine *e, hl_buf *b) {
  const hl_worker_stats *w0 = hl_worker_stats_get(e->workers[0]);
  metric(b, "hookline_messages_total", "counter", "Messages read from the ring.",
         atomic_load(&w0->messages));
  metric(b, "hookline_deliveries_total", "counter", "Deliveries created (message x endpoint).",
         SUM(deliveries));
  metric(b, "hookline_attempts_total", "counter", "Delivery attempts sent.", SUM(attempts));
  hl_buf_put_cstr(b, "# HELP hookline_attempt_results_total Attempts by result class.\n"
                     "# TYPE hookline_attempt_results_total counter\n");
  for (uint32_t c = 0; c < HL_CLASS_COUNT; c++) {
    uint64_t n = sum_stat(e, offsetof(hl_worker_stats, by_class) + c * sizeof(_Atomic uint64_t));
    const char *name = hl_worker_class_name(c);
    if (name[0] != '\0' && n > 0) {
      hl_buf_printf(b, "hookline_attempt_results_total{class=\"%s\"} %llu\n", name,
                    (unsigned long long)n);
    }
  }
  hl_buf_printf(b,
                "# HELP hookline_outcomes_total Attempt outcomes.\n"
                "# TYPE hookline_outcomes_total counter\n"
                "hookline_outcomes_total{outcome=\"delivered\"} %llu\n"
                "hookline_outcomes_total{outcome=\"retry\"} %llu\n"
                "hookline_outcomes_total{outcome=\"dead\"} %llu\n"
                "hookline_outcomes_total{outcome=\"disabled\"} %llu\n",
                (unsigned long long)SUM(delivered), (unsigned long long)SUM(retries),
                (unsigned long long)SUM(dead), (unsigned long long)SUM(disabled));
  metric(b, "hookline_retries_scheduled_total", "counter", "Retries scheduled.", SUM(retries));
  metric(b, "hookline_dead_letters_total", "counter", "Deliveries out of attempts.", SUM(dead));
  metric(b, "hookline_spilled_messages_total", "counter",
         "Slow messages whose deliveries were parked in the database.", SUM(spilled));
  metric(b, "hookline_in_flight", "gauge", "Requests at the HTTP client.", SUM(in_flight));
  metric(b, "hookline_queued", "gauge", "Deliveries waiting at an endpoint's gate.", SUM(queued));
  metric(b, "hookline_unreleased_messages", "gauge", "Messages read and not yet safe.",
         SUM(unreleased));
  uint64_t lag = 0;
  for (uint32_t i = 0; i < e->workers_n; i++) {
    uint64_t l = atomic_load(&hl_worker_stats_get(e->workers[i])->ring_lag);
    lag = l > lag ? l : lag;
  }
  metric(b, "hookline_ring_lag_bytes", "gauge", "Ring bytes published and not yet read.", lag);
  const hl_storer_stats *ss = hl_storer_stats_get(e->shared.storer);
  metric(b, "hookline_pending_deliveries", "gauge", "Rows in the pending table.",
         (uint64_t)atomic_load(&ss->pending));
  metric(b, "hookline_store_commits_total", "counter", "Group commits.", atomic_load(&ss->commits));
  metric(b, "hookline_store_records_total", "counter", "Log records committed.",
         atomic_load(&ss->records));
  metric(b, "hookline_store_errors_total", "counter", "Failed commits (retried).",
         atomic_load(&ss->errors));
  metric(b, "hookline_pruned_attempts_total", "counter", "Attempt rows removed by retention.",
         atomic_load(&ss->pruned));
  hl_buf_put_cstr(b, "# HELP hookline_pool_connections Pooled connections.\n"
                     "# TYPE hookline_pool_connections gauge\n");
  hl_buf_printf(b, "hookline_pool_connections{state=\"open\"} %llu\n",
                (unsigned long long)SUM(conns_open));
  hl_buf_printf(b, "hookline_pool_connections{state=\"idle\"} %llu\n",
                (unsigned long long)SUM(conns_idle));
  metric(b, "hookline_tls_handshakes_total", "counter", "TLS handshakes completed.",
         SUM(tls_handshakes));
  metric(b, "hookline_tls_resumptions_total", "counter", "Handshakes that resumed a session.",
         SUM(tls_resumed));
  metric(b, "hookline_dns_lookups_total", "counter", "Host name resolutions.", SUM(dns_lookups));
  metric(b, "hookline_dns_cache_hits_total", "counter", "Resolutions answered from the cache.",
         SUM(dns_cache_hits));
  hl_buf_put_cstr(b, "# HELP hookline_endpoint_breaker_state 0 closed, 1 open (paused), 2 "
                     "half open (probing).\n# TYPE hookline_endpoint_breaker_state gauge\n");
  for (uint32_t i = 0; i < e->workers_n; i++) {
    hl_worker_each_breaker(e->workers[i], breaker_line, b);
  }
  hl_hist h;
  hl_hist_init(&h);
  for (uint32_t i = 0; i < e->workers_n; i++) {
    hl_worker_with_hist(e->workers[i], merge_hist, &h);
  }
  static const double bounds_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10, 30};
  hl_buf_put_cstr(b, "# HELP hookline_delivery_duration_seconds Attempt duration, submit to "
                     "response.\n# TYPE hookline_delivery_duration_seconds histogram\n");
  for (size_t i = 0; i < sizeof(bounds_s) / sizeof(bounds_s[0]); i++) {
    hl_buf_printf(b, "hookline_delivery_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds_s[i],
                  (unsigned long long)hl_hist_count_le(&h, (uint64_t)(bounds_s[i] * 1e6)));
  }
  hl_buf_printf(b,
                "hookline_delivery_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                "hookline_delivery_duration_seconds_sum %.6f\n"
                "hookline_delivery_duration_seconds_count %llu\n",
                (unsigned long long)h.count, (double)h.sum / 1e6, (unsigned long long)h.count);
}

static bool render_health(engine *e, hl_buf *b) {
  uint64_t now = hl_clock_mono_ms();
  bool ok = true;
  hl_buf_put_cstr(b, "{\"workers\":[");
  for (uint32_t i = 0; i < e->workers_n; i++) {
    uint64_t last = atomic_load(&hl_worker_stats_get(e->workers[i])->last_iter_ms);
    bool alive = hl_worker_ready(e->workers[i]) && now - last < ALIVE_WITHIN_MS;
    ok &= alive;
    hl_buf_printf(b, "%s{\"worker\":%u,\"alive\":%s,\"idle_ms\":%llu}", i > 0 ? "," : "", i,
                  alive ? "true" : "false", (unsigned long long)(now - last));
  }
  const hl_storer_stats *ss = hl_storer_stats_get(e->shared.storer);
  uint64_t last = atomic_load(&ss->last_round_ms);
  bool store_alive = now - last < ALIVE_WITHIN_MS;
  ok &= store_alive;
  hl_buf_printf(b, "],\"store\":{\"alive\":%s,\"errors\":%llu},\"ring\":{\"attached\":true,"
                   "\"lag_bytes\":%llu},\"status\":\"%s\"}\n",
                store_alive ? "true" : "false", (unsigned long long)atomic_load(&ss->errors),
                (unsigned long long)atomic_load(&hl_worker_stats_get(e->workers[0])->ring_lag),
                ok ? "ok" : "unhealthy");
  return ok;
}

static bool render(void *ctx, hl_metrics_page page, hl_buf *out) {
  engine *e = ctx;
  if (page == HL_METRICS_PAGE_HEALTH) {
    return render_health(e, out);
  }
  render_metrics(e, out);
  return true;
}

/* --- threads ------------------------------------------------------------------ */

static void *worker_main(void *arg) {
  hl_worker *w = arg;
  char name[16];
  snprintf(name, sizeof(name), "hl-worker-%u", hl_worker_index(w));
  pthread_setname_np(pthread_self(), name);
  hl_err err = {{0}};
  if (hl_worker_run(w, &err) != 0) {
    HL_LOG(HL_LOG_ERROR, "worker failed to start", HL_F_STR("error", err.msg));
  }
  return NULL;
}

static void engine_stop(engine *e) {
  hl_metrics_stop(e->metrics);
  e->metrics = NULL;
  for (uint32_t i = 0; i < e->workers_n; i++) {
    if (e->started[i]) {
      hl_worker_stop(e->workers[i]);
    }
  }
  for (uint32_t i = 0; i < e->workers_n; i++) {
    if (e->started[i]) {
      pthread_join(e->threads[i], NULL);
    }
  }
  hl_storer_stop(e->shared.storer);
  e->shared.storer = NULL;
  for (uint32_t i = 0; i < e->workers_n; i++) {
    hl_worker_free(e->workers[i]);
  }
  hl_route_unref(e->routes);
  hl_ring_consumer_close(e->shared.ring);
  hl_tls_ctx_free(e->shared.tls);
  hl_secretbox_cleanup(&e->box);
  if (e->lock_fd >= 0) {
    close(e->lock_fd); /* drops the lock */
  }
}

/* lock_data_dir makes this engine the data directory's only one: the store
 * thread takes back the retries leased to an engine that is gone, which
 * is right only if no other engine is running on the same database. */
static int lock_data_dir(engine *e, hl_err *err) {
  char path[HL_CONFIG_PATH_BYTES + 16];
  snprintf(path, sizeof(path), "%s/engine.lock", e->cfg->data_dir);
  e->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (e->lock_fd < 0) {
    return hl_err_fail(err, -errno, "--data-dir: cannot open %s: %s", path, strerror(errno));
  }
  if (flock(e->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return hl_err_fail(err, -EBUSY, "--data-dir: another engine is running on %s",
                         e->cfg->data_dir);
    }
    return hl_err_fail(err, -errno, "--data-dir: cannot lock %s: %s", path, strerror(errno));
  }
  return 0;
}

int hl_engine_run(const hl_config *cfg, hl_err *err) {
  engine *e = calloc(1, sizeof(*e));
  if (e == NULL) {
    return hl_err_fail(err, -ENOMEM, "engine: out of memory");
  }
  e->cfg = cfg;
  e->lock_fd = -1;
  e->workers_n = hl_config_workers(cfg);
  hl_worker_shared *sh = &e->shared;
  sh->workers = e->workers_n;
  sh->retain_payloads = cfg->retain_payloads;
  sh->spill_after_ms = cfg->spill_after_ms;
  sh->shutdown_grace_ms = cfg->shutdown_grace_ms;
  sh->deliveries_max = cfg->limits.deliveries_in_flight_max;
  sh->messages_max = cfg->limits.deliveries_in_flight_max;
  sh->ca_file = cfg->ca_file[0] != '\0' ? cfg->ca_file : NULL;
  /* The data dir holds the master key and the database: make it first. */
  int rc = 0;
  if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
    rc = hl_err_fail(err, -errno, "--data-dir: cannot create %s: %s", cfg->data_dir,
                     strerror(errno));
  }
  if (rc == 0) {
    rc = lock_data_dir(e, err);
  }
  if (rc == 0) {
    rc = hl_secretbox_load_key(&e->box, cfg->data_dir, err);
  }
  hl_netpolicy_init(&sh->policy);
  for (uint32_t i = 0; rc == 0 && i < cfg->allow_networks_len; i++) {
    rc = hl_netpolicy_allow(&sh->policy, cfg->allow_networks[i], err);
    if (rc != 0) {
      hl_err_prefix(err, "--allow-network");
    }
  }
  if (rc == 0) {
    hl_tls_client_options to = {.ca_file = sh->ca_file};
    rc = hl_tls_ctx_client_new(&to, &sh->tls, err);
  }
  if (rc == 0) {
    hl_ring_consumer_options ro = {.create = true,
                                   .mode = cfg->ring_mode,
                                   .cursors = e->workers_n,
                                   /* A worker never holds more unreleased
                                    * records than its message table. */
                                   .inflight_per_lane = sh->messages_max};
    rc = hl_ring_consumer_open(&sh->ring, cfg->ring_name, &ro, err);
  }
  if (rc == 0) {
    hl_storer_options so = {.data_dir = cfg->data_dir,
                            .lanes = e->workers_n,
                            .lease_ms = 5 * 60 * 1000,
                            .reclaim_leases = true,
                            .retention_ms = cfg->retention_ms,
                            .on_due = on_due,
                            .on_endpoints = on_endpoints,
                            .on_committed = on_committed,
                            .ctx = e};
    rc = hl_storer_new(&sh->storer, &so, err);
  }
  /* Workers need the store thread's lanes, and its callbacks reach the
   * workers: create both, then start the store thread. */
  for (uint32_t i = 0; rc == 0 && i < e->workers_n; i++) {
    rc = hl_worker_new(sh, i, &e->workers[i], err);
  }
  if (rc == 0) {
    rc = hl_storer_start(sh->storer, err);
  }
  for (uint32_t i = 0; rc == 0 && i < e->workers_n; i++) {
    if (pthread_create(&e->threads[i], NULL, worker_main, e->workers[i]) != 0) {
      rc = hl_err_fail(err, -EAGAIN, "engine: cannot start worker %u", i);
    } else {
      e->started[i] = true;
    }
  }
  if (rc != 0) {
    engine_stop(e);
    free(e);
    return rc;
  }
  /* "ready" means every worker's loop runs (its set-up can still fail). */
  uint64_t until = hl_clock_mono_ms() + 10000;
  for (uint32_t i = 0; i < e->workers_n && hl_clock_mono_ms() < until; i++) {
    while (!hl_worker_ready(e->workers[i]) && hl_clock_mono_ms() < until) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
  }
  if (cfg->metrics_addr[0] != '\0') {
    rc = hl_metrics_start(cfg->metrics_addr, render, e, &e->metrics, err);
    if (rc != 0) {
      engine_stop(e);
      free(e);
      return rc;
    }
  }
  HL_LOG(HL_LOG_INFO, "engine ready", HL_F_UINT("workers", e->workers_n),
         HL_F_STR("ring", cfg->ring_name), HL_F_STR("data_dir", cfg->data_dir));
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  HL_LOG(HL_LOG_INFO, "engine stopping", HL_F_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
  engine_stop(e);
  free(e);
  HL_LOG(HL_LOG_INFO, "engine stopped");
  return 0;
}
