/* engine: start-up, endpoint reloads, due retries, shutdown (see engine.h). */
#include "deliver/engine.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
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

/* --- threads ------------------------------------------------------------------ */

static void *worker_main(void *arg) {
  hl_worker *w = arg;
  hl_err err = {{0}};
  if (hl_worker_run(w, &err) != 0) {
    HL_LOG(HL_LOG_ERROR, "worker failed to start", HL_F_STR("error", err.msg));
  }
  return NULL;
}

static void engine_stop(engine *e) {
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
}

int hl_engine_run(const hl_config *cfg, hl_err *err) {
  engine *e = calloc(1, sizeof(*e));
  if (e == NULL) {
    return hl_err_fail(err, -ENOMEM, "engine: out of memory");
  }
  e->cfg = cfg;
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
