/* load: a load generator on hookline's HTTP client (http/client.h), to
 * compare with wrk against the same server.
 *
 *   load URL [--conns N] [--seconds S] [--ca FILE] [--body BYTES]
 *            [--idle N [--warm URL2]]
 *
 * Keeps N requests in flight over at most N keep-alive connections (the
 * same shape as `wrk -t1 -cN`): a fixed GET (or a POST with a body of
 * BYTES), resubmitted as each one completes, for S seconds after a short
 * warm-up. Prints requests/s, CPU microseconds per request (getrusage of
 * this process, user + system, over the measured window), connections
 * opened, TLS handshakes, and completions by error class.
 *
 * --idle N measures memory instead: it opens N pooled connections (N
 * requests at once, N connections allowed), lets them go idle, and prints
 * the RSS delta per idle connection. With --warm URL2 it first sends N
 * requests at once to URL2 (e.g. the plain-HTTP port) and closes those
 * connections, so that the request table's pages are already touched and
 * the delta is the connections' alone.
 *
 * The network policy allows loopback only (127.0.0.0/8, ::1). */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/clock.h"
#include "http/client.h"
#include "io/dns.h"
#include "io/tls.h"

typedef struct bench {
  hl_loop *loop;
  hl_client *cl;
  hl_url url;
  hl_netpolicy policy;
  hl_span body;
  uint64_t done;
  uint64_t by_error[HL_NETERR_COUNT_];
  uint64_t bad_status;
  bool refill;
  char first_error[HL_ERR_BYTES];
} bench;

static void on_done(void *ctx, hl_client_id id, const hl_client_result *r);

static int submit_one(bench *b) {
  hl_client_request q = {
      .url = &b->url,
      .method = b->body.len > 0 ? HL_HTTP_POST : HL_HTTP_GET,
      .body = b->body,
      .allow_plain_http = true,
      .policy = &b->policy,
      .done = on_done,
      .ctx = b,
  };
  hl_err err;
  int rc = hl_client_submit(b->cl, &q, NULL, &err);
  if (rc != 0) {
    fprintf(stderr, "load: submit: %s\n", err.msg);
  }
  return rc;
}

static void on_done(void *ctx, hl_client_id id, const hl_client_result *r) {
  (void)id;
  bench *b = ctx;
  b->done++;
  b->by_error[r->error]++;
  if (r->error != HL_NETERR_OK && b->first_error[0] == '\0') {
    snprintf(b->first_error, sizeof(b->first_error), "%s: %s", hl_neterr_name(r->error),
             r->detail);
  }
  if (r->error == HL_NETERR_OK && (r->status < 200 || r->status > 299)) {
    b->bad_status++;
  }
  if (b->refill) {
    (void)submit_one(b);
  }
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) {
      resident = 0;
    }
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void run_for(bench *b, uint64_t ms) {
  uint64_t end = hl_clock_mono_ms() + ms;
  while (hl_clock_mono_ms() < end) {
    hl_loop_run_once(b->loop, 10);
  }
}

static void usage(void) {
  fprintf(stderr, "usage: load URL [--conns N] [--seconds S] [--ca FILE] [--body BYTES] "
                  "[--idle N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage();
  }
  const char *url = argv[1];
  const char *ca = NULL;
  const char *warm = NULL;
  unsigned conns = 50, seconds = 5, body_bytes = 0, idle = 0;
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) {
      usage();
    }
    unsigned long v = strtoul(argv[i + 1], NULL, 10);
    if (strcmp(argv[i], "--conns") == 0) {
      conns = (unsigned)v;
    } else if (strcmp(argv[i], "--seconds") == 0) {
      seconds = (unsigned)v;
    } else if (strcmp(argv[i], "--body") == 0) {
      body_bytes = (unsigned)v;
    } else if (strcmp(argv[i], "--idle") == 0) {
      idle = (unsigned)v;
    } else if (strcmp(argv[i], "--warm") == 0) {
      warm = argv[i + 1];
    } else if (strcmp(argv[i], "--ca") == 0) {
      ca = argv[i + 1];
    } else {
      usage();
    }
  }
  if (idle > 0) {
    conns = idle;
  }
  (void)warm;
  if (conns == 0 || conns > 16000) {
    usage();
  }
  /* The engine runs on mimalloc; this program links glibc's malloc, which
   * would trim and re-grow the heap (brk + page faults) every time a TLS
   * output buffer is freed and made again. Keep freed memory mapped, as
   * mimalloc does. */
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
  static bench b;
  hl_err err;
  if (hl_url_parse(hl_span_cstr(url), &b.url, &err) != 0) {
    fprintf(stderr, "load: %s\n", err.msg);
    return 2;
  }
  hl_netpolicy_init(&b.policy);
  hl_netpolicy_allow(&b.policy, "127.0.0.0/8", &err);
  hl_netpolicy_allow(&b.policy, "::1/128", &err);
  char *body = NULL;
  if (body_bytes > 0) {
    body = malloc(body_bytes);
    memset(body, 'x', body_bytes);
    b.body = hl_span_make(body, body_bytes);
  }
  hl_loop_options lo = hl_loop_options_default();
  lo.recv_bufs = 1024;
  if (hl_loop_new(&lo, &b.loop, &err) != 0) {
    fprintf(stderr, "load: %s\n", err.msg);
    return 1;
  }
  hl_tls_ctx *tls = NULL;
  hl_tls_client_options to = {.ca_file = ca, .no_system_cas = ca != NULL};
  if (hl_tls_ctx_client_new(&to, &tls, &err) != 0) {
    fprintf(stderr, "load: %s\n", err.msg);
    return 1;
  }
  hl_dns *dns = NULL;
  if (hl_dns_new(b.loop, NULL, &dns, &err) != 0) {
    fprintf(stderr, "load: %s\n", err.msg);
    return 1;
  }
  hl_limits l = hl_limits_default();
  hl_client_options o = hl_client_options_from(&l);
  o.dns = dns;
  o.requests_max = conns;
  o.conns_max = conns;
  o.conns_per_origin_max = conns;
  o.origins_max = 16;
  o.tls[0] = tls;
  if (hl_client_new(b.loop, &o, &b.cl, &err) != 0) {
    fprintf(stderr, "load: %s\n", err.msg);
    return 1;
  }
  if (idle > 0) {
    if (warm != NULL) {
      hl_url target = b.url;
      if (hl_url_parse(hl_span_cstr(warm), &b.url, &err) != 0) {
        fprintf(stderr, "load: --warm: %s\n", err.msg);
        return 2;
      }
      for (unsigned i = 0; i < idle; i++) {
        submit_one(&b);
      }
      while (b.done < idle) {
        hl_loop_run_once(b.loop, 10);
      }
      hl_client_cancel_all(b.cl); /* closes the idle connections */
      run_for(&b, 300);
      b.url = target;
      b.done = 0;
      memset(b.by_error, 0, sizeof(b.by_error));
    }
    long before = rss_kib();
    for (unsigned i = 0; i < idle; i++) {
      submit_one(&b);
    }
    while (b.done < idle) {
      hl_loop_run_once(b.loop, 10);
    }
    run_for(&b, 500);
    hl_client_stats st;
    hl_client_stats_get(b.cl, &st);
    long after = rss_kib();
    printf("idle %u conns_idle %u opened %llu handshakes %llu errors %llu rss_before_kib %ld "
           "rss_after_kib %ld per_conn_bytes %.0f\n",
           idle, st.conns_idle, (unsigned long long)st.conns_opened,
           (unsigned long long)st.handshakes, (unsigned long long)(b.done - b.by_error[0]),
           before, after, (double)(after - before) * 1024.0 / (st.conns_idle ? st.conns_idle : 1));
  } else {
    b.refill = true;
    for (unsigned i = 0; i < conns; i++) {
      submit_one(&b);
    }
    run_for(&b, 500); /* warm-up: connections and handshakes */
    uint64_t done0 = b.done;
    hl_loop_stats ls0, ls1;
    hl_loop_stats_get(b.loop, &ls0);
    double cpu0 = cpu_s();
    uint64_t t0 = hl_clock_mono_ns();
    run_for(&b, (uint64_t)seconds * 1000);
    uint64_t n = b.done - done0;
    double wall = (double)(hl_clock_mono_ns() - t0) / 1e9;
    double cpu = cpu_s() - cpu0;
    b.refill = false;
    hl_loop_stats_get(b.loop, &ls1);
    hl_client_stats st;
    hl_client_stats_get(b.cl, &st);
    printf("requests %llu rps %.0f cpu_us_per_req %.2f conns %u opened %llu handshakes %llu "
           "resumed %llu bad_status %llu",
           (unsigned long long)n, (double)n / wall, n > 0 ? cpu * 1e6 / (double)n : 0.0, conns,
           (unsigned long long)st.conns_opened, (unsigned long long)st.handshakes,
           (unsigned long long)st.resumed, (unsigned long long)b.bad_status);
    printf(" enters_per_req %.3f sqes_per_req %.2f cqes_per_req %.2f",
           (double)(ls1.enters - ls0.enters) / (double)(n ? n : 1),
           (double)(ls1.sqes - ls0.sqes) / (double)(n ? n : 1),
           (double)(ls1.cqes - ls0.cqes) / (double)(n ? n : 1));
    for (int i = 1; i < HL_NETERR_COUNT_; i++) {
      if (b.by_error[i] > 0) {
        printf(" %s %llu", hl_neterr_name((hl_neterr)i), (unsigned long long)b.by_error[i]);
      }
    }
    printf("\n");
    if (b.first_error[0] != '\0') {
      fprintf(stderr, "load: first error: %s\n", b.first_error);
    }
  }
  hl_client_cancel_all(b.cl);
  hl_loop_drain(b.loop, 2000);
  hl_client_free(b.cl);
  hl_dns_free(dns);
  hl_loop_free(b.loop);
  hl_tls_ctx_free(tls);
  free(body);
  return 0;
}
