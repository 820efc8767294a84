/* http/client against hookline-sink (bench/sink), the project's hostile
 * receiver, run as a child process: every misbehaviour it offers, over
 * plain HTTP and HTTPS, at once on ONE client loop next to healthy
 * requests. Each must end in its class within its timeout, with no leak
 * (ASan), and the healthy requests must keep completing meanwhile. Also:
 * a status with Retry-After, and the two certificate failures (untrusted
 * CA, wrong host). Skipped when the sink binary is not built. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "harness.h"
#include "http/client.h"
#include "io/tls.h"
#include "lib/client_util.h"

enum { L_PLAIN, L_TLS, L_WRONG, L_ROGUE, L_COUNT };

typedef struct sink {
  pid_t pid;
  uint16_t port[L_COUNT];
} sink;

static bool sink_start(sink *s, const char *dir) {
  const char *bin_dir = getenv("HL_BIN_DIR");
  char bin[600], port_file[600], good[600], good_key[600], wrong[700], rogue[700];
  snprintf(bin, sizeof(bin), "%s/hookline-sink", bin_dir != NULL ? bin_dir : ".");
  if (access(bin, X_OK) != 0) {
    return false;
  }
  snprintf(port_file, sizeof(port_file), "%s/ports", dir);
  snprintf(good, sizeof(good), "%s/good.pem", dir);
  snprintf(good_key, sizeof(good_key), "%s/good.key", dir);
  snprintf(wrong, sizeof(wrong), "127.0.0.1:0,tls,cert=%s/wrong.pem,key=%s/wrong.key", dir, dir);
  snprintf(rogue, sizeof(rogue), "127.0.0.1:0,tls,cert=%s/rogue.pem,key=%s/rogue.key", dir, dir);
  pid_t pid = fork();
  HL_ASSERT(pid >= 0);
  if (pid == 0) {
    int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd >= 0) {
      dup2(null_fd, STDOUT_FILENO); /* its stats line at exit */
    }
    execl(bin, "hookline-sink", "--quiet", "--listen", "127.0.0.1:0", "--listen",
          "127.0.0.1:0,tls", "--listen", wrong, "--listen", rogue, "--cert", good, "--key",
          good_key, "--port-file", port_file, "--route", "/never=mode:never", "--route",
          "/slow=mode:slow,slow-ms:1", "--route", "/big=mode:big-header", "--route",
          "/endless=mode:endless,chunk-ms:0", "--route", "/badstatus=mode:bad-status",
          "--route", "/reset=mode:reset", "--route", "/race=mode:close-on-next", "--route",
          "/drop=mode:drop", "--route", "/busy=status:503,retry-after:7", "--route",
          "/gone=status:410", (char *)NULL);
    _exit(127);
  }
  s->pid = pid;
  for (int tries = 0; tries < 500; tries++) {
    FILE *f = fopen(port_file, "r");
    int n = 0;
    if (f != NULL) {
      unsigned p;
      while (n < L_COUNT && fscanf(f, "%u", &p) == 1) {
        s->port[n++] = (uint16_t)p;
      }
      fclose(f);
    }
    if (n == L_COUNT) {
      return true;
    }
    if (waitpid(pid, NULL, WNOHANG) == pid) {
      s->pid = 0;
      return false;
    }
    usleep(10 * 1000);
  }
  return false;
}

static void sink_stop(sink *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}

/* A failed assertion leaves the test early: stop the sink at exit too. */
static sink *running_sink;
static void stop_running_sink(void) {
  if (running_sink != NULL) {
    sink_stop(running_sink);
  }
}

typedef struct hostile_case {
  int listener;
  const char *path;
  hl_neterr want;
  uint16_t want_status;
  const char *detail;
} hostile_case;

static const hostile_case cases[] = {
    {L_PLAIN, "/never", HL_NETERR_RESPONSE_TIMEOUT, 0, "response_header_timeout_ms"},
    {L_TLS, "/never", HL_NETERR_RESPONSE_TIMEOUT, 0, "response_header_timeout_ms"},
    {L_PLAIN, "/slow", HL_NETERR_OK, 200, NULL},
    {L_TLS, "/slow", HL_NETERR_OK, 200, NULL},
    {L_PLAIN, "/big", HL_NETERR_PROTOCOL_ERROR, 200, "header"},
    {L_TLS, "/big", HL_NETERR_PROTOCOL_ERROR, 200, "header"},
    {L_PLAIN, "/endless", HL_NETERR_BODY_TOO_LARGE, 200, "body_too_large"},
    {L_TLS, "/endless", HL_NETERR_BODY_TOO_LARGE, 200, "body_too_large"},
    {L_PLAIN, "/badstatus", HL_NETERR_PROTOCOL_ERROR, 0, "bad_status_line"},
    {L_TLS, "/badstatus", HL_NETERR_PROTOCOL_ERROR, 0, "bad_status_line"},
    {L_PLAIN, "/reset", HL_NETERR_CLOSED_EARLY, 200, "reset"},
    {L_PLAIN, "/drop", HL_NETERR_CLOSED_EARLY, 0, "no_response"},
    {L_TLS, "/drop", HL_NETERR_CLOSED_EARLY, 0, NULL},
    {L_PLAIN, "/busy", HL_NETERR_OK, 503, NULL},
    {L_TLS, "/gone", HL_NETERR_OK, 410, NULL},
    {L_WRONG, "/", HL_NETERR_TLS_CERTIFICATE, 0, "mismatch"},
    {L_ROGUE, "/", HL_NETERR_TLS_CERTIFICATE, 0, NULL},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

typedef struct env {
  hl_loop *loop;
  hl_dns *dns;
  hl_client *cl;
  hl_tls_ctx *tls;
  hl_netpolicy pol;
  sink s;
} env;

static void submit(env *e, int listener, const char *host, const char *path, ct_got *g,
                   uint32_t header_ms) {
  char url[160];
  snprintf(url, sizeof(url), "%s://%s:%u%s", listener == L_PLAIN ? "http" : "https", host,
           e->s.port[listener], path);
  hl_url u;
  hl_err err;
  HL_ASSERT(hl_url_parse(hl_span_cstr(url), &u, &err) == 0);
  hl_client_request q = {.url = &u, .method = HL_HTTP_POST, .body = HL_SPAN_LIT("{\"a\":1}"),
                         .policy = &e->pol, .allow_plain_http = true, .done = ct_on_done,
                         .ctx = g, .response_header_timeout_ms = header_ms,
                         .request_timeout_ms = 6000};
  HL_ASSERT(hl_client_submit(e->cl, &q, NULL, &err) == 0);
}

TEST(every_sink_misbehaviour_ends_in_its_class_with_healthy_traffic_unaffected) {
  const char *dir = hl_test_tmpdir();
  char path[600];
  snprintf(path, sizeof(path), "%s/ca.pem", dir);
  ct_make_certs(dir, path);
  static env e;
  memset(&e, 0, sizeof(e));
  if (!sink_start(&e.s, dir)) {
    TEST_SKIP("hookline-sink is not built or did not start");
  }
  running_sink = &e.s;
  atexit(stop_running_sink);
  hl_err err;
  hl_loop_options lo = hl_loop_options_default();
  lo.recv_bufs = 256;
  ASSERT_EQ(hl_loop_new(&lo, &e.loop, &err), 0);
  snprintf(path, sizeof(path), "%s/ca.pem", dir);
  hl_tls_client_options to = {.ca_file = path, .no_system_cas = true};
  ASSERT_EQ(hl_tls_ctx_client_new(&to, &e.tls, &err), 0);
  hl_limits l = hl_limits_default();
  hl_client_options o = hl_client_options_from(&l);
  o.requests_max = 64;
  o.conns_max = 48;
  o.origins_max = 16;
  o.h1.body_bytes_discard_max = 256 * 1024;
  o.tls[0] = e.tls;
  e.dns = ct_dns_new(e.loop, "127.0.0.1:9");
  o.dns = e.dns;
  ASSERT_EQ(hl_client_new(e.loop, &o, &e.cl, &err), 0);
  hl_netpolicy_init(&e.pol);
  ASSERT_EQ(hl_netpolicy_allow(&e.pol, "127.0.0.0/8", &err), 0);

  uint64_t t0 = hl_clock_mono_ms();
  ct_got g[NCASES];
  memset(g, 0, sizeof(g));
  for (size_t i = 0; i < NCASES; i++) {
    submit(&e, cases[i].listener, cases[i].listener == L_WRONG ? "localhost" : "127.0.0.1",
           cases[i].path, &g[i], 500);
  }
  /* The keep-alive race over TLS: the sink answers the first request and
   * closes when the second arrives on the same connection. */
  ct_got race[2];
  memset(race, 0, sizeof(race));
  submit(&e, L_TLS, "localhost", "/race", &race[0], 2000);
  ct_got ok[60];
  memset(ok, 0, sizeof(ok));
  int ok_sent = 0;
  submit(&e, ok_sent % 2 ? L_TLS : L_PLAIN, "127.0.0.1", "/ok", &ok[ok_sent], 2000);
  ok_sent++;
  bool race_second = false;
  while (hl_clock_mono_ms() < t0 + 10000) {
    hl_loop_run_once(e.loop, 5);
    if (ok_sent < 60 && ok[ok_sent - 1].calls == 1) {
      submit(&e, ok_sent % 2 ? L_TLS : L_PLAIN, "127.0.0.1", "/ok", &ok[ok_sent], 2000);
      ok_sent++;
    }
    if (!race_second && race[0].calls == 1) {
      race_second = true;
      submit(&e, L_TLS, "localhost", "/race", &race[1], 2000);
    }
    int done = 0;
    for (size_t i = 0; i < NCASES; i++) {
      done += g[i].calls;
    }
    if (done == (int)NCASES && ok[59].calls == 1 && race[1].calls == 1) {
      break;
    }
  }
  for (size_t i = 0; i < NCASES; i++) {
    if (g[i].calls != 1 || g[i].error != cases[i].want || g[i].status != cases[i].want_status) {
      hl_test_fail(__FILE__, __LINE__, "listener %d %s: calls %d, ct_got %s/%u (%s), want %s/%u",
                   cases[i].listener, cases[i].path, g[i].calls, hl_neterr_name(g[i].error),
                   g[i].status, g[i].detail, hl_neterr_name(cases[i].want),
                   cases[i].want_status);
    }
    if (cases[i].detail != NULL) {
      ASSERT_CONTAINS(g[i].detail, cases[i].detail);
    }
    ASSERT_LT(g[i].at_ms - t0, 4000u);
  }
  ASSERT_EQ(g[13].retry_after_s, 7);
  ASSERT_EQ(race[0].error, HL_NETERR_OK);
  ASSERT_EQ(race[1].calls, 1);
  if (race[1].error != HL_NETERR_OK || !race[1].retried) {
    hl_test_fail(__FILE__, __LINE__, "race: %s retried %d (%s)", hl_neterr_name(race[1].error),
                 race[1].retried, race[1].detail);
  }
  for (int i = 0; i < 60; i++) {
    if (ok[i].calls != 1 || ok[i].error != HL_NETERR_OK || ok[i].status != 200) {
      hl_test_fail(__FILE__, __LINE__, "healthy %d: calls %d, %s/%u (%s)", i, ok[i].calls,
                   hl_neterr_name(ok[i].error), ok[i].status, ok[i].detail);
    }
  }
  /* Healthy requests went on while the never-answering ones hung. */
  ASSERT_LT(ok[5].at_ms, g[0].at_ms);
  hl_client_stats st;
  hl_client_stats_get(e.cl, &st);
  ASSERT_EQ(st.in_flight, 0u);
  ASSERT_EQ(st.retried, 1u);

  hl_client_cancel_all(e.cl);
  ASSERT_EQ(hl_loop_drain(e.loop, 2000), 0);
  hl_client_free(e.cl);
  hl_dns_free(e.dns);
  hl_loop_free(e.loop);
  hl_tls_ctx_free(e.tls);
  sink_stop(&e.s);
}
