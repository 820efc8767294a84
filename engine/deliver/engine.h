/* engine: `hookline run` — the threads and how they start and stop.
 *
 * Start: load the master key, build the network policy and the TLS client
 * context, attach the ring (creating it if absent), start the store thread,
 * start one worker thread per --workers. The store thread's endpoint reload
 * compiles every endpoint into targets, builds a routing table and posts it
 * to every worker; its due-retry poll hands each retry to the worker that
 * owns the endpoint. Stop (SIGINT/SIGTERM): workers stop reading, finish or
 * spill what is in flight within the grace period, wait for their records
 * to commit and release what is safe; then the store thread drains and the
 * process exits 0. */
#ifndef HL_DELIVER_ENGINE_H
#define HL_DELIVER_ENGINE_H

#include "admin/config.h"
#include "base/err.h"

/* hl_engine_run runs until SIGINT or SIGTERM. The caller must have blocked
 * both signals in every thread (they are taken with sigwait). Returns 0, or
 * a negative errno with |err| saying what could not start. */
int hl_engine_run(const hl_config *cfg, hl_err *err);

#endif
