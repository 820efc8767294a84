/* Integration tests for io/dns: c-ares on the io_uring loop against a DNS
 * server of our own on loopback (tests/dns_test_server.h), never a real
 * one. The server counts the questions it gets, so the tests assert what
 * reached the network: cache hits send nothing, expired entries ask again,
 * concurrent lookups of one name send one question. Also: the hosts file
 * (localhost, and CARES_HOSTS), every error class (NXDOMAIN, NODATA,
 * timeout, SERVFAIL, REFUSED, unreachable server, malformed names),
 * truncation and the TCP retry, cancellation, LRU eviction, limits, 1,000
 * names at once, and teardown with lookups in flight (ASan checks c-ares'
 * memory is freed too). Unit tests of the name and server-list parsers
 * are at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "dns_test_server.h"
#include "harness.h"
#include "io/dns.h"
#include "io/loop.h"

static const dts_record records[] = {
    {"a.test", DTS_A, 300, "10.0.0.1", DTS_ANSWER},
    {"a.test", DTS_AAAA, 300, "fd00::1", DTS_ANSWER},
    {"two.test", DTS_A, 60, "10.0.0.2", DTS_ANSWER},
    {"two.test", DTS_A, 30, "10.0.0.3", DTS_ANSWER},
    {"two.test", DTS_AAAA, 45, "fd00::2", DTS_ANSWER},
    {"short.test", DTS_A, 1, "10.0.0.4", DTS_ANSWER},
    {"v6.test", DTS_AAAA, 300, "fd00::6", DTS_ANSWER},
    {"empty.test", 0, 0, NULL, DTS_ANSWER},
    {"alias.test", DTS_CNAME, 7, "a.test", DTS_ANSWER},
    {"capped.test", DTS_A, 999999, "10.0.0.5", DTS_ANSWER},
    {"servfail.test", 0, 0, NULL, DTS_SERVFAIL},
    {"refused.test", 0, 0, NULL, DTS_REFUSED},
    {"silent.test", 0, 0, NULL, DTS_SILENT},
    {"silent2.test", 0, 0, NULL, DTS_SILENT},
    {"silent3.test", 0, 0, NULL, DTS_SILENT},
    {"big.test", DTS_A, 300, "10.1.0.1", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.2", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.3", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.4", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.5", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.6", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.7", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.8", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.9", DTS_ANSWER},
    {"big.test", DTS_A, 300, "10.1.0.10", DTS_ANSWER},
    {"big.test", DTS_AAAA, 300, "fd00::b", DTS_ANSWER},
    {"tc.test", 0, 0, NULL, DTS_TRUNCATE},
    {"tc.test", DTS_A, 300, "10.2.0.1", DTS_ANSWER},
    {"tc.test", DTS_A, 300, "10.2.0.2", DTS_ANSWER},
    {"tc.test", DTS_AAAA, 300, "fd00::c", DTS_ANSWER},
};

/* --- fixture ------------------------------------------------------------------------ */

typedef struct result {
  int calls;
  int status;
  hl_dns_addrs addrs;
  char err[HL_ERR_BYTES];
  uint64_t at_ms;
  int *done; /* incremented on each call */
} result;

static void on_result(void *ctx, int status, const hl_dns_addrs *addrs, const hl_err *err) {
  result *r = ctx;
  r->calls++;
  r->status = status;
  r->at_ms = hl_clock_mono_ms();
  if (status == 0) {
    HL_ASSERT(addrs != NULL && err == NULL);
    r->addrs = *addrs;
  } else {
    HL_ASSERT(addrs == NULL && err != NULL);
    snprintf(r->err, sizeof(r->err), "%s", err->msg);
  }
  if (r->done != NULL) {
    (*r->done)++;
  }
}

typedef struct fixture {
  hl_loop *loop;
  dts_server srv;
  hl_dns *dns;
  char servers[64];
} fixture;

static hl_dns_options test_options(void) {
  hl_dns_options o = hl_dns_options_default();
  o.no_search = true;
  o.timeout_ms = 2000;
  o.negative_ttl_s = 1;
  return o;
}

static hl_loop *new_loop(void) {
  hl_loop_options lo = hl_loop_options_default();
  lo.sq_entries = 256;
  lo.cq_entries = 4096;
  lo.recv_bufs = 0;
  hl_loop *l = NULL;
  hl_err err;
  HL_ASSERT(hl_loop_new(&lo, &l, &err) == 0);
  return l;
}

/* fx_start starts a loop, the server and a resolver pointed at it (|o|:
 * NULL for test_options()). */
static void fx_start(fixture *f, const hl_dns_options *o) {
  memset(f, 0, sizeof(*f));
  f->loop = new_loop();
  HL_ASSERT(dts_start(&f->srv, records, HL_ARRAY_LEN(records)) == 0);
  dts_servers(&f->srv, f->servers, sizeof(f->servers));
  hl_dns_options opts = o != NULL ? *o : test_options();
  opts.servers = f->servers;
  hl_err err = {{0}};
  int rc = hl_dns_new(f->loop, &opts, &f->dns, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "hl_dns_new: %d %s", rc, err.msg);
  }
}

static void fx_stop(fixture *f) {
  HL_ASSERT(hl_loop_drain(f->loop, 2000) == 0);
  hl_dns_free(f->dns);
  hl_loop_free(f->loop);
  dts_stop(&f->srv);
}

/* run_until runs the loop until *counter reaches |want| or |timeout_ms|
 * passes; returns whether it got there. */
static bool run_until(fixture *f, const int *counter, int want, int timeout_ms) {
  uint64_t end = hl_clock_mono_ms() + (uint64_t)timeout_ms;
  while (*counter < want) {
    uint64_t now = hl_clock_mono_ms();
    if (now >= end) {
      return false;
    }
    HL_ASSERT(hl_loop_run_once(f->loop, (int)(end - now)) >= 0);
  }
  return true;
}

/* run_for runs the loop for |ms| (timers and late completions happen). */
static void run_for(fixture *f, int ms) {
  uint64_t end = hl_clock_mono_ms() + (uint64_t)ms;
  for (uint64_t now = hl_clock_mono_ms(); now < end; now = hl_clock_mono_ms()) {
    HL_ASSERT(hl_loop_run_once(f->loop, (int)(end - now)) >= 0);
  }
}

static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    HL_ASSERT(s->sin_port == 0);
    return inet_ntop(AF_INET, &s->sin_addr, buf, (socklen_t)cap);
  }
  const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
  HL_ASSERT(ss->ss_family == AF_INET6 && s6->sin6_port == 0);
  return inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)cap);
}

#define ASSERT_ADDR(addrs, i, text) \
  do { \
    char b_[INET6_ADDRSTRLEN]; \
    ASSERT_STR_EQ(addr_text(&(addrs).addr[i], b_, sizeof(b_)), text); \
  } while (0)

/* resolve_wait resolves |host| and waits for the callback if there is one;
 * returns the status either way and fills |r|. */
static int resolve_wait(fixture *f, const char *host, result *r) {
  hl_dns_query q;
  memset(&q, 0, sizeof(q));
  int done = 0;
  memset(r, 0, sizeof(*r));
  r->done = &done;
  int rc = hl_dns_resolve(f->dns, hl_span_cstr(host), &q, on_result, r, &r->addrs);
  if (rc == -EINPROGRESS) {
    HL_ASSERT(run_until(f, &done, 1, 10000));
    return r->status;
  }
  if (rc != 0) {
    snprintf(r->err, sizeof(r->err), "%s", hl_dns_last_error(f->dns)->msg);
  }
  r->status = rc;
  return rc;
}

/* --- answers and the cache ------------------------------------------------------------ */

TEST(resolves_and_caches_within_ttl) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  hl_dns_query q;
  memset(&q, 0, sizeof(q));
  int done = 0;
  memset(&r, 0, sizeof(r));
  r.done = &done;
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("a.test"), &q, on_result, &r, &r.addrs),
            -EINPROGRESS);
  ASSERT_TRUE(run_until(&f, &done, 1, 5000));
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(r.status, 0);
  ASSERT_EQ(r.addrs.n, 2u);
  ASSERT_ADDR(r.addrs, 0, "10.0.0.1"); /* IPv4 first by default */
  ASSERT_ADDR(r.addrs, 1, "fd00::1");
  ASSERT_EQ(r.addrs.ttl_s, 300u);
  ASSERT_EQ(dts_queries(&f.srv, "a.test", DTS_A), 1u);
  ASSERT_EQ(dts_queries(&f.srv, "a.test", DTS_AAAA), 1u);

  /* Within the TTL: answered at once, case and trailing dot ignored, no
   * question sent, no callback. */
  hl_dns_addrs out;
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("A.Test."), &q, on_result, &r, &out), 0);
  ASSERT_EQ(out.n, 2u);
  ASSERT_ADDR(out, 0, "10.0.0.1");
  ASSERT_TRUE(out.ttl_s > 295 && out.ttl_s <= 300);
  run_for(&f, 50);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(dts_queries(&f.srv, "a.test", DTS_A), 1u);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.lookups, 2u);
  ASSERT_EQ(st.cache_misses, 1u);
  ASSERT_EQ(st.cache_hits, 1u);
  ASSERT_EQ(st.answers, 1u);
  ASSERT_EQ(st.cached, 1u);
  ASSERT_EQ(st.in_flight, 0u);
  fx_stop(&f);
}

TEST(ttl_is_the_smallest_record_ttl_and_capped) {
  fixture f;
  hl_dns_options o = test_options();
  o.ttl_max_s = 100;
  fx_start(&f, &o);
  result r;
  ASSERT_EQ(resolve_wait(&f, "two.test", &r), 0);
  ASSERT_EQ(r.addrs.n, 3u);
  ASSERT_EQ(r.addrs.ttl_s, 30u);
  ASSERT_ADDR(r.addrs, 2, "fd00::2");
  ASSERT_EQ(resolve_wait(&f, "capped.test", &r), 0);
  ASSERT_EQ(r.addrs.ttl_s, 100u);
  /* The CNAME's TTL (7) bounds the answer's, below a.test's 300. */
  ASSERT_EQ(resolve_wait(&f, "alias.test", &r), 0);
  ASSERT_ADDR(r.addrs, 0, "10.0.0.1");
  ASSERT_EQ(r.addrs.ttl_s, 7u);
  fx_stop(&f);
}

TEST(expired_entry_asks_again) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  ASSERT_EQ(resolve_wait(&f, "short.test", &r), 0);
  ASSERT_EQ(r.addrs.n, 1u); /* no AAAA record: the A alone */
  ASSERT_EQ(r.addrs.ttl_s, 1u);
  ASSERT_EQ(resolve_wait(&f, "short.test", &r), 0);
  ASSERT_EQ(r.calls, 0); /* from the cache */
  ASSERT_EQ(dts_queries(&f.srv, "short.test", DTS_A), 1u);
  run_for(&f, 1100);
  ASSERT_EQ(resolve_wait(&f, "short.test", &r), 0);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(dts_queries(&f.srv, "short.test", DTS_A), 2u);

  /* TTL 0 is never cached. */
  ASSERT_EQ(resolve_wait(&f, "n7.zero.test", &r), 0);
  ASSERT_ADDR(r.addrs, 0, "10.0.7.2");
  ASSERT_EQ(r.addrs.ttl_s, 0u);
  ASSERT_EQ(resolve_wait(&f, "n7.zero.test", &r), 0);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(dts_queries(&f.srv, "n7.zero.test", DTS_A), 2u);
  fx_stop(&f);
}

TEST(resolve_after_the_loop_was_idle_gets_its_full_timeout) {
  /* The loop's cached time is as old as its last iteration. A lookup
   * started after a pause longer than the timeout (start-up, a test) must
   * still get its whole timeout rather than time out at once. */
  fixture f;
  hl_dns_options o = test_options();
  o.timeout_ms = 300;
  fx_start(&f, &o);
  HL_ASSERT(hl_loop_run_once(f.loop, 0) >= 0);
  usleep(500 * 1000);
  result r;
  uint64_t t0 = hl_clock_mono_ms();
  ASSERT_EQ(resolve_wait(&f, "silent.test", &r), -ETIMEDOUT);
  ASSERT_GE(r.at_ms - t0, 250u);
  fx_stop(&f);
}

TEST(family_preference_and_only) {
  fixture f;
  hl_dns_options o = test_options();
  o.family = HL_DNS_PREFER_V6;
  fx_start(&f, &o);
  result r;
  ASSERT_EQ(resolve_wait(&f, "a.test", &r), 0);
  ASSERT_ADDR(r.addrs, 0, "fd00::1");
  ASSERT_ADDR(r.addrs, 1, "10.0.0.1");
  fx_stop(&f);

  o.family = HL_DNS_V4_ONLY;
  fx_start(&f, &o);
  ASSERT_EQ(resolve_wait(&f, "a.test", &r), 0);
  ASSERT_EQ(r.addrs.n, 1u);
  ASSERT_ADDR(r.addrs, 0, "10.0.0.1");
  ASSERT_EQ(dts_queries(&f.srv, "a.test", DTS_AAAA), 0u);
  /* A name with only an AAAA record has no address for this resolver. */
  ASSERT_EQ(resolve_wait(&f, "v6.test", &r), -ENOENT);
  ASSERT_CONTAINS(r.err, "NODATA");
  ASSERT_CONTAINS(r.err, "of type A");
  fx_stop(&f);

  o.family = HL_DNS_V6_ONLY;
  fx_start(&f, &o);
  ASSERT_EQ(resolve_wait(&f, "a.test", &r), 0);
  ASSERT_EQ(r.addrs.n, 1u);
  ASSERT_ADDR(r.addrs, 0, "fd00::1");
  fx_stop(&f);
}

TEST(more_addresses_than_kept_are_cut) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  ASSERT_EQ(resolve_wait(&f, "big.test", &r), 0);
  ASSERT_EQ(r.addrs.n, (uint32_t)HL_DNS_ADDRS_MAX);
  for (uint32_t i = 0; i < r.addrs.n; i++) {
    ASSERT_EQ(r.addrs.addr[i].ss_family, AF_INET); /* preferred family first */
  }
  fx_stop(&f);
}

TEST(truncated_udp_answer_is_retried_over_tcp) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  ASSERT_EQ(resolve_wait(&f, "tc.test", &r), 0);
  ASSERT_EQ(r.addrs.n, 3u);
  ASSERT_ADDR(r.addrs, 0, "10.2.0.1");
  ASSERT_ADDR(r.addrs, 1, "10.2.0.2");
  ASSERT_ADDR(r.addrs, 2, "fd00::c");
  ASSERT_GE(atomic_load(&f.srv.tcp_queries), 2u);
  fx_stop(&f);
}

/* --- hosts file and literals ------------------------------------------------------------ */

TEST(localhost_comes_from_the_hosts_file) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  /* Answered inside hl_dns_resolve: /etc/hosts, or c-ares' RFC 6761
   * fallback when the file lacks it. */
  ASSERT_EQ(resolve_wait(&f, "localhost", &r), 0);
  ASSERT_EQ(r.calls, 0);
  ASSERT_GE(r.addrs.n, 1u);
  bool loopback = false;
  for (uint32_t i = 0; i < r.addrs.n; i++) {
    char b[INET6_ADDRSTRLEN];
    const char *t = addr_text(&r.addrs.addr[i], b, sizeof(b));
    loopback = loopback || strcmp(t, "127.0.0.1") == 0 || strcmp(t, "::1") == 0;
  }
  ASSERT_TRUE(loopback);
  ASSERT_EQ(r.addrs.ttl_s, (uint32_t)HL_DNS_HOSTS_TTL_S);
  ASSERT_EQ(atomic_load(&f.srv.total), 0u);
  /* Cached afterwards, like any answer. */
  ASSERT_EQ(resolve_wait(&f, "LocalHost", &r), 0);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.cache_hits, 1u);
  fx_stop(&f);
}

TEST(custom_hosts_file_through_cares_hosts) {
  char path[512];
  snprintf(path, sizeof(path), "%s/hosts", hl_test_tmpdir());
  FILE *fp = fopen(path, "w");
  ASSERT_TRUE(fp != NULL);
  fputs("# test hosts\n10.9.8.7 custom.test other.test\nfd00::9 custom.test\n", fp);
  fclose(fp);
  ASSERT_EQ(setenv("CARES_HOSTS", path, 1), 0);
  fixture f;
  hl_dns_options o = test_options();
  o.hosts_from_env = true;
  fx_start(&f, &o);
  result r;
  ASSERT_EQ(resolve_wait(&f, "Custom.Test", &r), 0);
  ASSERT_EQ(r.addrs.n, 2u);
  ASSERT_ADDR(r.addrs, 0, "10.9.8.7");
  ASSERT_ADDR(r.addrs, 1, "fd00::9");
  ASSERT_EQ(atomic_load(&f.srv.total), 0u);
  /* Not in the file: on to DNS. */
  ASSERT_EQ(resolve_wait(&f, "a.test", &r), 0);
  ASSERT_EQ(dts_queries(&f.srv, "a.test", DTS_A), 1u);
  fx_stop(&f);
  unsetenv("CARES_HOSTS");
}

TEST(ip_literals_are_answered_at_once) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  ASSERT_EQ(resolve_wait(&f, "192.0.2.7", &r), 0);
  ASSERT_EQ(r.addrs.n, 1u);
  ASSERT_ADDR(r.addrs, 0, "192.0.2.7");
  ASSERT_EQ(resolve_wait(&f, "[2001:DB8::1]", &r), 0);
  ASSERT_ADDR(r.addrs, 0, "2001:db8::1");
  ASSERT_EQ(resolve_wait(&f, "2001:db8::2", &r), 0);
  ASSERT_ADDR(r.addrs, 0, "2001:db8::2");
  ASSERT_EQ(atomic_load(&f.srv.total), 0u);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.literals, 3u);
  fx_stop(&f);
}

TEST(malformed_names_are_refused_with_a_reason) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  static const struct {
    const char *host;
    const char *why;
  } bad[] = {
      {"", "empty"},
      {"a..b", "empty label"},
      {".a", "empty label"},
      {"a b.test", "not allowed"},
      {"a_b.test", "not allowed"},
      {"caf\xc3\xa9.test", "non-ASCII"},
      {"127.1", "dotted-quad"},
      {"[::1", "closing"},
      {"0123456789012345678901234567890123456789012345678901234567890123.test", "label of 64"},
  };
  for (size_t i = 0; i < HL_ARRAY_LEN(bad); i++) {
    ASSERT_EQ(resolve_wait(&f, bad[i].host, &r), -EINVAL);
    ASSERT_CONTAINS(r.err, "dns: ");
    ASSERT_CONTAINS(r.err, bad[i].why);
  }
  char longname[300];
  memset(longname, 'a', sizeof(longname));
  for (size_t i = 50; i < sizeof(longname); i += 51) {
    longname[i] = '.';
  }
  longname[254] = '\0';
  ASSERT_EQ(resolve_wait(&f, longname, &r), -EINVAL);
  ASSERT_CONTAINS(r.err, "253");
  ASSERT_EQ(atomic_load(&f.srv.total), 0u);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.invalid, HL_ARRAY_LEN(bad) + 1);
  fx_stop(&f);
}

/* --- errors ------------------------------------------------------------------------------- */

TEST(nxdomain_is_negative_cached) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  ASSERT_EQ(resolve_wait(&f, "nope.test", &r), -ENOENT);
  ASSERT_EQ(r.calls, 1);
  ASSERT_CONTAINS(r.err, "nope.test does not exist (NXDOMAIN)");
  ASSERT_CONTAINS(r.err, "c-ares:");
  ASSERT_EQ(dts_queries(&f.srv, "nope.test", DTS_A), 1u);
  /* Cached: answered at once, nothing sent. */
  ASSERT_EQ(resolve_wait(&f, "nope.test", &r), -ENOENT);
  ASSERT_EQ(r.calls, 0);
  ASSERT_CONTAINS(r.err, "NXDOMAIN");
  ASSERT_CONTAINS(r.err, "cached");
  ASSERT_EQ(dts_queries(&f.srv, "nope.test", DTS_A), 1u);
  /* After negative_ttl_s (1 s here) it asks again. */
  run_for(&f, 1100);
  ASSERT_EQ(resolve_wait(&f, "nope.test", &r), -ENOENT);
  ASSERT_EQ(r.calls, 1);
  ASSERT_EQ(dts_queries(&f.srv, "nope.test", DTS_A), 2u);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.nxdomain, 2u);
  ASSERT_EQ(st.cache_hits, 1u);
  fx_stop(&f);
}

TEST(name_without_address_is_nodata) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  ASSERT_EQ(resolve_wait(&f, "empty.test", &r), -ENOENT);
  ASSERT_CONTAINS(r.err, "empty.test has no address (NODATA)");
  ASSERT_EQ(resolve_wait(&f, "empty.test", &r), -ENOENT);
  ASSERT_EQ(r.calls, 0);
  ASSERT_EQ(dts_queries(&f.srv, "empty.test", DTS_A), 1u);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.nodata, 1u);
  ASSERT_EQ(st.nxdomain, 0u);
  fx_stop(&f);
}

TEST(servfail_and_refused_are_io_errors_and_not_cached) {
  fixture f;
  fx_start(&f, NULL);
  result r;
  ASSERT_EQ(resolve_wait(&f, "servfail.test", &r), -EIO);
  ASSERT_CONTAINS(r.err, "SERVFAIL");
  ASSERT_EQ(resolve_wait(&f, "refused.test", &r), -EIO);
  ASSERT_CONTAINS(r.err, "REFUSED");
  unsigned before = dts_queries(&f.srv, "servfail.test", DTS_A);
  ASSERT_GE(before, 1u);
  ASSERT_EQ(resolve_wait(&f, "servfail.test", &r), -EIO);
  ASSERT_EQ(r.calls, 1); /* asked again */
  ASSERT_GT(dts_queries(&f.srv, "servfail.test", DTS_A), before);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.failures, 3u);
  fx_stop(&f);
}

TEST(silent_server_times_out_within_the_timeout) {
  fixture f;
  hl_dns_options o = test_options();
  o.timeout_ms = 400;
  fx_start(&f, &o);
  result r;
  uint64_t t0 = hl_clock_mono_ms();
  ASSERT_EQ(resolve_wait(&f, "silent.test", &r), -ETIMEDOUT);
  uint64_t took = r.at_ms - t0;
  ASSERT_GE(took, 300u);
  ASSERT_LE(took, 900u);
  ASSERT_CONTAINS(r.err, "silent.test");
  ASSERT_GE(dts_queries(&f.srv, "silent.test", DTS_A), 2u); /* tries = 2 */
  /* Not cached: the next lookup asks again. */
  unsigned sent = dts_queries(&f.srv, "silent.test", DTS_A);
  ASSERT_EQ(resolve_wait(&f, "silent.test", &r), -ETIMEDOUT);
  ASSERT_GT(dts_queries(&f.srv, "silent.test", DTS_A), sent);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.timeouts, 2u);
  /* Other names on the same loop are unaffected meanwhile. */
  ASSERT_EQ(resolve_wait(&f, "a.test", &r), 0);
  run_for(&f, 200);
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.in_flight, 0u);
  fx_stop(&f);
}

/* closed_port returns a loopback UDP port with nothing behind it: a
 * datagram sent there draws ICMP port unreachable, so c-ares sees
 * ECONNREFUSED on its socket. */
static unsigned closed_port(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  HL_ASSERT(bind(fd, (struct sockaddr *)&a, alen) == 0);
  HL_ASSERT(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* fx_reopen replaces the loop and the resolver, keeping the server, with
 * options |o| (whose servers are used as they are). */
static void fx_reopen(fixture *f, const hl_dns_options *o) {
  HL_ASSERT(hl_loop_drain(f->loop, 2000) == 0);
  hl_dns_free(f->dns);
  hl_loop_free(f->loop);
  f->loop = new_loop();
  hl_err err;
  if (hl_dns_new(f->loop, o, &f->dns, &err) != 0) {
    hl_test_fail(__FILE__, __LINE__, "hl_dns_new: %s", err.msg);
  }
}

TEST(several_servers_fall_back_and_fail_together) {
  fixture f;
  fx_start(&f, NULL);
  hl_dns_options o = test_options();
  char servers[128];
  o.servers = servers;
  /* The first server is dead: c-ares moves on to the second. */
  snprintf(servers, sizeof(servers), "127.0.0.1:%u,%s", closed_port(), f.servers);
  fx_reopen(&f, &o);
  result r;
  ASSERT_EQ(resolve_wait(&f, "a.test", &r), 0);
  ASSERT_ADDR(r.addrs, 0, "10.0.0.1");
  /* Two servers that both answer SERVFAIL (the same one, twice): c-ares
   * asks each and reports them together. */
  snprintf(servers, sizeof(servers), "%s,%s", f.servers, f.servers);
  fx_reopen(&f, &o);
  ASSERT_EQ(resolve_wait(&f, "servfail.test", &r), -EIO);
  ASSERT_CONTAINS(r.err, "none of the 2 DNS servers answered for servfail.test");
  ASSERT_GE(dts_queries(&f.srv, "servfail.test", DTS_A), 2u);
  fx_stop(&f);
}

TEST(unreachable_server_is_an_io_error) {
  char servers[64];
  snprintf(servers, sizeof(servers), "127.0.0.1:%u", closed_port());
  hl_loop *l = new_loop();
  hl_dns_options o = test_options();
  o.servers = servers;
  o.timeout_ms = 1000;
  hl_dns *d;
  hl_err err;
  ASSERT_EQ(hl_dns_new(l, &o, &d, &err), 0);
  fixture f = {.loop = l, .dns = d};
  result r;
  ASSERT_EQ(resolve_wait(&f, "a.test", &r), -EIO);
  ASSERT_CONTAINS(r.err, "a.test");
  ASSERT_CONTAINS(r.err, "the DNS server could not be reached");
  ASSERT_EQ(hl_loop_drain(l, 1000), 0);
  hl_dns_free(d);
  hl_loop_free(l);
}

/* --- concurrency, cancellation, limits ------------------------------------------------------ */

TEST(concurrent_lookups_of_one_name_send_one_query) {
  fixture f;
  fx_start(&f, NULL);
  enum { N = 100 };
  static hl_dns_query q[N];
  static result r[N];
  memset(q, 0, sizeof(q));
  memset(r, 0, sizeof(r));
  int done = 0;
  for (int i = 0; i < N; i++) {
    r[i].done = &done;
    hl_dns_addrs out;
    ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("a.test"), &q[i], on_result, &r[i], &out),
              -EINPROGRESS);
  }
  ASSERT_TRUE(run_until(&f, &done, N, 5000));
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(r[i].calls, 1);
    ASSERT_EQ(r[i].status, 0);
    ASSERT_ADDR(r[i].addrs, 0, "10.0.0.1");
  }
  ASSERT_EQ(dts_queries(&f.srv, "a.test", DTS_A), 1u);
  ASSERT_EQ(dts_queries(&f.srv, "a.test", DTS_AAAA), 1u);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.coalesced, (uint64_t)N - 1);
  ASSERT_EQ(st.cache_misses, 1u);
  fx_stop(&f);
}

TEST(waiters_on_one_name_are_bounded) {
  fixture f;
  hl_dns_options o = test_options();
  o.timeout_ms = 200;
  fx_start(&f, &o);
  enum { N = HL_DNS_WAITERS_MAX + 1 };
  static hl_dns_query q[N];
  static result r[N];
  memset(q, 0, sizeof(q));
  memset(r, 0, sizeof(r));
  int done = 0;
  hl_dns_addrs out;
  for (int i = 0; i < N - 1; i++) {
    r[i].done = &done;
    ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("silent.test"), &q[i], on_result, &r[i], &out),
              -EINPROGRESS);
  }
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("silent.test"), &q[N - 1], on_result, &r[N - 1],
                           &out),
            -EBUSY);
  ASSERT_CONTAINS(hl_dns_last_error(f.dns)->msg, "HL_DNS_WAITERS_MAX");
  ASSERT_TRUE(run_until(&f, &done, N - 1, 3000));
  for (int i = 0; i < N - 1; i++) {
    ASSERT_EQ(r[i].status, -ETIMEDOUT);
  }
  ASSERT_EQ(r[N - 1].calls, 0);
  fx_stop(&f);
}

TEST(cancelled_query_is_never_called_back) {
  fixture f;
  hl_dns_options o = test_options();
  o.timeout_ms = 300;
  fx_start(&f, &o);
  hl_dns_query q1, q2, q3;
  memset(&q1, 0, sizeof(q1));
  memset(&q2, 0, sizeof(q2));
  memset(&q3, 0, sizeof(q3));
  result r1 = {0}, r2 = {0}, r3 = {0};
  int done = 0;
  r2.done = &done;
  hl_dns_addrs out;
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("silent.test"), &q1, on_result, &r1, &out),
            -EINPROGRESS);
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("silent.test"), &q2, on_result, &r2, &out),
            -EINPROGRESS);
  hl_dns_cancel(f.dns, &q1);
  hl_dns_cancel(f.dns, &q1); /* idempotent */
  ASSERT_TRUE(run_until(&f, &done, 1, 3000));
  ASSERT_EQ(r2.status, -ETIMEDOUT);
  /* A lookup whose every query was cancelled still completes and fills the
   * cache. */
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("a.test"), &q3, on_result, &r3, &out), -EINPROGRESS);
  hl_dns_cancel(f.dns, &q3);
  run_for(&f, 500);
  ASSERT_EQ(r1.calls, 0);
  ASSERT_EQ(r3.calls, 0);
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("a.test"), &q3, on_result, &r3, &out), 0);
  ASSERT_EQ(dts_queries(&f.srv, "a.test", DTS_A), 1u);
  /* A query can be reused after its callback or its cancel. */
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("two.test"), &q1, on_result, &r1, &out),
            -EINPROGRESS);
  r1.done = &done;
  ASSERT_TRUE(run_until(&f, &done, 2, 3000));
  ASSERT_EQ(r1.calls, 1);
  ASSERT_EQ(r1.status, 0);
  fx_stop(&f);
}

/* A callback that resolves again from inside the callback: the same name
 * (now cached) and another one (a new lookup), and cancels a sibling that
 * has not been called yet. */
typedef struct chain {
  fixture *f;
  hl_dns_query q_next;
  hl_dns_query *sibling;
  result next;
  int hits;
  int *done;
} chain;

static void on_chain(void *ctx, int status, const hl_dns_addrs *addrs, const hl_err *err) {
  (void)addrs;
  (void)err;
  chain *c = ctx;
  HL_ASSERT(status == 0);
  hl_dns_addrs out;
  hl_dns_query q;
  memset(&q, 0, sizeof(q));
  if (hl_dns_resolve(c->f->dns, HL_SPAN_LIT("a.test"), &q, on_chain, c, &out) == 0) {
    c->hits++;
  }
  if (c->sibling != NULL) {
    hl_dns_cancel(c->f->dns, c->sibling);
  }
  c->next.done = c->done;
  HL_ASSERT(hl_dns_resolve(c->f->dns, HL_SPAN_LIT("two.test"), &c->q_next, on_result, &c->next,
                           &out) == -EINPROGRESS);
}

TEST(callbacks_may_resolve_and_cancel) {
  fixture f;
  fx_start(&f, NULL);
  chain c;
  memset(&c, 0, sizeof(c));
  c.f = &f;
  int done = 0;
  c.done = &done;
  hl_dns_query q, sibling;
  memset(&q, 0, sizeof(q));
  memset(&sibling, 0, sizeof(sibling));
  result rs = {0};
  c.sibling = &sibling;
  hl_dns_addrs out;
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("a.test"), &q, on_chain, &c, &out), -EINPROGRESS);
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("a.test"), &sibling, on_result, &rs, &out),
            -EINPROGRESS);
  ASSERT_TRUE(run_until(&f, &done, 1, 5000));
  ASSERT_EQ(c.hits, 1);
  ASSERT_EQ(c.next.status, 0);
  ASSERT_EQ(rs.calls, 0); /* cancelled by the first callback */
  fx_stop(&f);
}

TEST(thousand_names_at_once) {
  fixture f;
  fx_start(&f, NULL);
  enum { N = 1000 };
  hl_dns_query *q = calloc(N, sizeof(*q));
  result *r = calloc(N, sizeof(*r));
  int done = 0;
  for (int i = 0; i < N; i++) {
    char name[64];
    snprintf(name, sizeof(name), "n%d.many.test", i);
    r[i].done = &done;
    hl_dns_addrs out;
    ASSERT_EQ(hl_dns_resolve(f.dns, hl_span_cstr(name), &q[i], on_result, &r[i], &out),
              -EINPROGRESS);
  }
  ASSERT_TRUE(run_until(&f, &done, N, 20000));
  for (int i = 0; i < N; i++) {
    char want[32];
    snprintf(want, sizeof(want), "10.%d.%d.1", i >> 8, i & 255);
    ASSERT_EQ(r[i].calls, 1);
    ASSERT_EQ(r[i].status, 0);
    ASSERT_EQ(r[i].addrs.n, 1u);
    ASSERT_ADDR(r[i].addrs, 0, want);
  }
  /* One question per name, unless the kernel dropped some of the burst
   * (net.core.rmem_max below HL_DNS_SOCK_RCVBUF_BYTES) and c-ares asked
   * again: correct, but then this count is higher. */
  ASSERT_GE(atomic_load(&f.srv.total), (unsigned)N);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.answers, (uint64_t)N);
  ASSERT_EQ(st.cached, (uint64_t)N);
  ASSERT_EQ(st.timeouts, 0u);
  free(q);
  free(r);
  fx_stop(&f);
}

TEST(least_recently_used_name_is_evicted) {
  fixture f;
  hl_dns_options o = test_options();
  o.cache_entries = 4;
  o.lookups_max = 2;
  fx_start(&f, &o);
  result r;
  const char *names[] = {"n1.many.test", "n2.many.test", "n3.many.test", "n4.many.test"};
  for (size_t i = 0; i < 4; i++) {
    ASSERT_EQ(resolve_wait(&f, names[i], &r), 0);
  }
  ASSERT_EQ(resolve_wait(&f, "n1.many.test", &r), 0); /* n1 used: n2 is now the oldest */
  ASSERT_EQ(r.calls, 0);
  ASSERT_EQ(resolve_wait(&f, "n5.many.test", &r), 0);
  ASSERT_EQ(resolve_wait(&f, "n1.many.test", &r), 0);
  ASSERT_EQ(r.calls, 0);
  ASSERT_EQ(resolve_wait(&f, "n2.many.test", &r), 0);
  ASSERT_EQ(r.calls, 1); /* evicted: asked again */
  ASSERT_EQ(dts_queries(&f.srv, "n2.many.test", DTS_A), 2u);
  ASSERT_EQ(dts_queries(&f.srv, "n1.many.test", DTS_A), 1u);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.evictions, 2u);
  ASSERT_EQ(st.cached, 4u);
  fx_stop(&f);
}

TEST(lookups_in_flight_are_bounded) {
  fixture f;
  hl_dns_options o = test_options();
  o.cache_entries = 8;
  o.lookups_max = 2;
  o.timeout_ms = 300;
  fx_start(&f, &o);
  hl_dns_query q[3];
  memset(q, 0, sizeof(q));
  result r[3];
  memset(r, 0, sizeof(r));
  int done = 0;
  hl_dns_addrs out;
  r[0].done = r[1].done = &done;
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("silent.test"), &q[0], on_result, &r[0], &out),
            -EINPROGRESS);
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("silent2.test"), &q[1], on_result, &r[1], &out),
            -EINPROGRESS);
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("silent3.test"), &q[2], on_result, &r[2], &out),
            -EBUSY);
  ASSERT_CONTAINS(hl_dns_last_error(f.dns)->msg, "lookups_max");
  ASSERT_TRUE(run_until(&f, &done, 2, 3000));
  run_for(&f, 300); /* c-ares lets go of the timed-out lookups */
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("a.test"), &q[2], on_result, &r[2], &out),
            -EINPROGRESS);
  hl_dns_cancel(f.dns, &q[2]);
  hl_dns_stats st;
  hl_dns_stats_get(f.dns, &st);
  ASSERT_EQ(st.busy, 1u);
  fx_stop(&f);
}

TEST(free_with_lookups_in_flight_calls_nothing) {
  fixture f;
  fx_start(&f, NULL);
  hl_dns_query q[2];
  memset(q, 0, sizeof(q));
  result r[2];
  memset(r, 0, sizeof(r));
  hl_dns_addrs out;
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("silent.test"), &q[0], on_result, &r[0], &out),
            -EINPROGRESS);
  ASSERT_EQ(hl_dns_resolve(f.dns, HL_SPAN_LIT("a.test"), &q[1], on_result, &r[1], &out),
            -EINPROGRESS);
  /* Free straight away (before the loop ever ran), then the loop. */
  hl_dns_free(f.dns);
  hl_loop_free(f.loop);
  dts_stop(&f.srv);
  ASSERT_EQ(r[0].calls + r[1].calls, 0);
}

TEST(options_are_checked) {
  hl_loop *l = new_loop();
  hl_dns *d = NULL;
  hl_err err;
  hl_dns_options o = hl_dns_options_default();
  o.tries = 0;
  ASSERT_EQ(hl_dns_new(l, &o, &d, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "tries");
  o = hl_dns_options_default();
  o.cache_entries = 10;
  o.lookups_max = 10;
  ASSERT_EQ(hl_dns_new(l, &o, &d, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "cache_entries");
  o = hl_dns_options_default();
  o.servers = "127.0.0.1:53,,10.0.0.1";
  ASSERT_EQ(hl_dns_new(l, &o, &d, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "entry 2 is empty");
  ASSERT_TRUE(d == NULL);
  /* The defaults work, with resolv.conf's servers (nothing is sent). */
  ASSERT_EQ(hl_dns_new(l, NULL, &d, &err), 0);
  hl_dns_free(d);
  hl_loop_free(l);
}

/* --- the pure parsers ----------------------------------------------------------------------- */

TEST(name_parse_normalises) {
  hl_dns_name n;
  hl_err err;
  ASSERT_EQ(hl_dns_name_parse(HL_SPAN_LIT("WWW.Example.COM."), &n, &err), 0);
  ASSERT_EQ(n.family, 0);
  ASSERT_STR_EQ(n.name, "www.example.com");
  ASSERT_EQ(n.len, 15u);
  hl_dns_name again;
  ASSERT_EQ(hl_dns_name_parse(hl_span_make(n.name, n.len), &again, &err), 0);
  ASSERT_EQ(memcmp(&n, &again, sizeof(n)), 0);
  ASSERT_EQ(hl_dns_name_parse(HL_SPAN_LIT("10.1.2.3"), &n, &err), 0);
  ASSERT_EQ(n.family, AF_INET);
  ASSERT_EQ(n.addr[0], 10);
  ASSERT_EQ(n.addr[3], 3);
  ASSERT_EQ(hl_dns_name_parse(HL_SPAN_LIT("[::ffff:1.2.3.4]"), &n, &err), 0);
  ASSERT_EQ(n.family, AF_INET6);
  ASSERT_EQ(n.addr[10], 0xff);
  ASSERT_EQ(hl_dns_name_parse(HL_SPAN_LIT("a.-b"), &n, &err), 0); /* as the URL parser reads it */
  ASSERT_EQ(hl_dns_name_parse(HL_SPAN_LIT("a/b"), &n, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "'/'");
  ASSERT_EQ(hl_dns_name_parse(HL_SPAN_LIT("."), &n, &err), -EINVAL);
}

static void servers_round_trip(const char *in, const char *want) {
  hl_dns_server s[HL_DNS_SERVERS_MAX];
  size_t n;
  hl_err err;
  if (hl_dns_servers_parse(hl_span_cstr(in), s, HL_DNS_SERVERS_MAX, &n, &err) != 0) {
    hl_test_fail(__FILE__, __LINE__, "%s: %s", in, err.msg);
  }
  char mem[512];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  hl_dns_servers_write(s, n, &b);
  ASSERT_STR_EQ(hl_buf_cstr(&b), want);
}

TEST(servers_parse_and_write) {
  servers_round_trip("127.0.0.1", "127.0.0.1:53");
  servers_round_trip("127.0.0.1:5353,[::1]:54,::2,[2001:DB8::1]",
                     "127.0.0.1:5353,[::1]:54,[::2]:53,[2001:db8::1]:53");
  servers_round_trip("10.0.0.1:65535", "10.0.0.1:65535");
  static const struct {
    const char *in;
    const char *why;
  } bad[] = {
      {"", "empty"},
      {",1.2.3.4", "entry 1 is empty"},
      {"1.2.3.4,", "entry 2 is empty"},
      {"1.2.3.4:", "empty port"},
      {"1.2.3.4:0", "port"},
      {"1.2.3.4:053", "leading zero"},
      {"1.2.3.4:65536", "port"},
      {"1.2.3.4:+53", "port"},
      {"1.2.3", "dotted quad"},
      {"01.2.3.4", "dotted quad"},
      {"host.example:53", "dotted quad"},
      {"[::1", "closing"},
      {"[::1]x", "':port'"},
      {"[::1]:", "empty port"},
      {"[1.2.3.4]:53", "IPv6"},
      {"fe80::1%eth0", "zone"},
      {"1.2.3.4 ,5.6.7.8", "dotted quad"},
      {"1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5,1.1.1.6,1.1.1.7,1.1.1.8,1.1.1.9", "more than 8"},
  };
  for (size_t i = 0; i < HL_ARRAY_LEN(bad); i++) {
    hl_dns_server s[HL_DNS_SERVERS_MAX];
    size_t n;
    hl_err err = {{0}};
    ASSERT_EQ(hl_dns_servers_parse(hl_span_cstr(bad[i].in), s, HL_DNS_SERVERS_MAX, &n, &err),
              -EINVAL);
    ASSERT_CONTAINS(err.msg, "dns servers: ");
    ASSERT_CONTAINS(err.msg, bad[i].why);
  }
}
