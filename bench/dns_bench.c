/* dns_bench: the resolver's cost, against the loopback test server of
 * tests/dns_test_server.h (never a real DNS server).
 *
 *   dns_bench hit  [ITERATIONS]        ns per hl_dns_resolve answered from the cache
 *   dns_bench cold [NAMES] [BATCH]     lookups/s and loop-thread CPU per lookup for
 *                                      NAMES distinct names, BATCH in flight at once,
 *                                      A only and A+AAAA
 *
 * The server runs on its own thread in this process; "CPU per lookup" is the
 * loop thread's alone (CLOCK_THREAD_CPUTIME_ID), i.e. hookline's side: c-ares,
 * the io_uring polls, the cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/dns_test_server.h"
#include "base/assert.h"
#include "base/clock.h"
#include "io/dns.h"
#include "io/loop.h"

static const dts_record records[] = {
    {"hit.bench.test", DTS_A, 3600, "10.0.0.1", DTS_ANSWER},
    {"hit.bench.test", DTS_AAAA, 3600, "fd00::1", DTS_ANSWER},
};

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct bench {
  hl_loop *loop;
  hl_dns *dns;
  dts_server srv;
  int done;
  int failed;
} bench;

static void on_done(void *ctx, int status, const hl_dns_addrs *addrs, const hl_err *err) {
  (void)addrs;
  bench *b = ctx;
  b->done++;
  if (status != 0) {
    if (b->failed++ == 0) {
      fprintf(stderr, "lookup failed: %s (server saw %u questions)\n", err->msg,
              atomic_load(&b->srv.total));
    }
  }
}

static void bench_open(bench *b, hl_dns_family family) {
  memset(b, 0, sizeof(*b));
  hl_loop_options lo = hl_loop_options_default();
  lo.sq_entries = 1024;
  lo.cq_entries = 8192;
  lo.recv_bufs = 0;
  hl_err err;
  HL_ASSERT(hl_loop_new(&lo, &b->loop, &err) == 0);
  HL_ASSERT(dts_start(&b->srv, records, sizeof(records) / sizeof(records[0])) == 0);
  char servers[64];
  dts_servers(&b->srv, servers, sizeof(servers));
  hl_dns_options o = hl_dns_options_default();
  o.servers = servers;
  o.no_search = true;
  o.family = family;
  o.cache_entries = 1u << 20;
  if (hl_dns_new(b->loop, &o, &b->dns, &err) != 0) {
    fprintf(stderr, "hl_dns_new: %s\n", err.msg);
    exit(1);
  }
}

static void bench_close(bench *b) {
  HL_ASSERT(hl_loop_drain(b->loop, 2000) == 0);
  hl_dns_free(b->dns);
  hl_loop_free(b->loop);
  dts_stop(&b->srv);
}

static void run_until(bench *b, int want) {
  while (b->done < want) {
    HL_ASSERT(hl_loop_run_once(b->loop, 1000) >= 0);
  }
}

static int bench_hit(long iterations) {
  bench b;
  bench_open(&b, HL_DNS_PREFER_V4);
  hl_dns_query q;
  memset(&q, 0, sizeof(q));
  hl_dns_addrs out;
  hl_span name = HL_SPAN_LIT("hit.bench.test");
  HL_ASSERT(hl_dns_resolve(b.dns, name, &q, on_done, &b, &out) == -EINPROGRESS);
  run_until(&b, 1);
  static const char *const forms[] = {"hit.bench.test", "Hit.Bench.Test.", "192.0.2.1"};
  for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
    name = hl_span_cstr(forms[f]);
    uint64_t t0 = thread_cpu_ns();
    for (long i = 0; i < iterations; i++) {
      if (hl_dns_resolve(b.dns, name, &q, on_done, &b, &out) != 0) {
        fprintf(stderr, "not answered from the cache\n");
        return 1;
      }
    }
    uint64_t ns = thread_cpu_ns() - t0;
    printf("hit %-16s %ld resolves: %.1f ns CPU each (%u addresses copied)\n", forms[f], iterations,
           (double)ns / (double)iterations, out.n);
  }
  bench_close(&b);
  return 0;
}

static int bench_cold(int names, int batch, hl_dns_family family, const char *label) {
  bench b;
  bench_open(&b, family);
  hl_dns_query *q = calloc((size_t)batch, sizeof(*q));
  hl_dns_addrs out;
  uint64_t cpu0 = thread_cpu_ns(), t0 = hl_clock_mono_ns();
  for (int started = 0; started < names;) {
    int n = names - started < batch ? names - started : batch;
    b.done = 0;
    for (int i = 0; i < n; i++) {
      char name[64];
      snprintf(name, sizeof(name), "n%d.many.test", started + i);
      HL_ASSERT(hl_dns_resolve(b.dns, hl_span_cstr(name), &q[i], on_done, &b, &out) ==
                -EINPROGRESS);
    }
    run_until(&b, n);
    started += n;
  }
  uint64_t ns = hl_clock_mono_ns() - t0, cpu = thread_cpu_ns() - cpu0;
  printf("cold %-6s %d names, %d in flight: %.0f lookups/s, %.1f us loop-thread CPU per lookup, "
         "%u questions, %d failed\n",
         label, names, batch, (double)names * 1e9 / (double)ns, (double)cpu / 1e3 / names,
         atomic_load(&b.srv.total), b.failed);
  free(q);
  bench_close(&b);
  return b.failed != 0;
}

static long arg_long(int argc, char **argv, int i, long dflt) {
  if (argc <= i) {
    return dflt;
  }
  char *end;
  long v = strtol(argv[i], &end, 10);
  if (*argv[i] == '\0' || *end != '\0' || v < 1 || v > 1000000000L) {
    fprintf(stderr, "argument %d must be a number from 1 to 1e9\n", i);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "hit") == 0) {
    return bench_hit(arg_long(argc, argv, 2, 10000000));
  }
  if (strcmp(mode, "cold") == 0) {
    int names = (int)arg_long(argc, argv, 2, 20000);
    int batch = (int)arg_long(argc, argv, 3, 256);
    if (names > 1000000 || batch > HL_DNS_LOOKUPS_MAX) {
      fprintf(stderr, "NAMES <= 1000000, BATCH <= %d\n", HL_DNS_LOOKUPS_MAX);
      return 2;
    }
    int rc = bench_cold(names, batch, HL_DNS_V4_ONLY, "A");
    return rc | bench_cold(names, batch, HL_DNS_PREFER_V4, "A+AAAA");
  }
  fprintf(stderr, "usage: dns_bench hit [ITERATIONS] | cold [NAMES] [BATCH]\n");
  return 2;
}
