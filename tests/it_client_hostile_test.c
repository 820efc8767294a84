/* Hostile servers against http/client, all on ONE loop at once, next to a
 * healthy server that keeps being asked: never answering, one byte at a
 * time, a 100 KB header, an endless chunked body, a bad status line, a
 * reset mid-response, a clean close mid-response, the keep-alive race.
 * Each must end in its class within its timeout, and the healthy requests
 * must keep completing while the hostile ones hang.
 *
 * The servers are tests/lib/rawhttp.h (threads on loopback). The same
 * cases against bench's hookline-sink, and its TLS cases (untrusted and
 * wrong-host certificates, which it_client_nginx_test covers against
 * nginx), belong here once the sink exists. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/clock.h"
#include "harness.h"
#include "http/client.h"
#include "lib/client_util.h"
#include "lib/rawhttp.h"

typedef struct hostile_case {
  const char *path;
  hl_neterr want;
  uint16_t want_status;
  const char *detail; /* substring of the detail, or NULL */
} hostile_case;

static const hostile_case cases[] = {
    {"/never", HL_NETERR_RESPONSE_TIMEOUT, 0, "response_header_timeout_ms"},
    {"/bytewise", HL_NETERR_OK, 200, NULL},
    {"/bigheader", HL_NETERR_PROTOCOL_ERROR, 200, "headers_too_large"},
    {"/endless", HL_NETERR_BODY_TOO_LARGE, 200, "body_too_large"},
    {"/badstatus", HL_NETERR_PROTOCOL_ERROR, 0, "bad_status_line"},
    {"/rst", HL_NETERR_CLOSED_EARLY, 200, NULL},
    {"/partial", HL_NETERR_CLOSED_EARLY, 200, "unexpected_eof"},
    {"/close", HL_NETERR_CLOSED_EARLY, 0, "no_response"},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void submit_get(hl_client *cl, hl_netpolicy *pol, const char *url, ct_got *g,
                       uint32_t header_ms, uint32_t request_ms) {
  hl_url u;
  hl_err err;
  HL_ASSERT(hl_url_parse(hl_span_cstr(url), &u, &err) == 0);
  hl_client_request q = {.url = &u, .method = HL_HTTP_GET, .policy = pol,
                         .allow_plain_http = true, .done = ct_on_done, .ctx = g,
                         .response_header_timeout_ms = header_ms,
                         .request_timeout_ms = request_ms};
  HL_ASSERT(hl_client_submit(cl, &q, NULL, &err) == 0);
}

TEST(every_hostile_case_ends_in_its_class_and_healthy_requests_go_on) {
  rh_server hostile, healthy;
  rh_start(&hostile, NULL);
  rh_start(&healthy, NULL);
  hl_err err;
  hl_loop *loop;
  hl_loop_options lo = hl_loop_options_default();
  lo.recv_bufs = 256;
  ASSERT_EQ(hl_loop_new(&lo, &loop, &err), 0);
  hl_limits l = hl_limits_default();
  hl_client_options o = hl_client_options_from(&l);
  hl_dns *dns = ct_dns_new(loop, "127.0.0.1:9");
  o.dns = dns;
  o.requests_max = 64;
  o.conns_max = 32;
  o.origins_max = 8;
  o.h1.body_bytes_discard_max = 256 * 1024; /* the endless body ends here */
  hl_client *cl;
  ASSERT_EQ(hl_client_new(loop, &o, &cl, &err), 0);
  hl_netpolicy pol;
  hl_netpolicy_init(&pol);
  ASSERT_EQ(hl_netpolicy_allow(&pol, "127.0.0.0/8", &err), 0);

  uint64_t t0 = hl_clock_mono_ms();
  ct_got g[NCASES + 1];
  memset(g, 0, sizeof(g));
  char url[128];
  for (size_t i = 0; i < NCASES; i++) {
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", hostile.port, cases[i].path);
    submit_get(cl, &pol, url, &g[i], 400, 5000);
  }
  /* The keep-alive race (its own server, so that connection numbers are
   * its own): a first request warms a connection, the second on it is met
   * with a close and retried on a fresh one. */
  ct_got race[2];
  memset(race, 0, sizeof(race));
  rh_server racer;
  rh_start(&racer, NULL);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/race", racer.port);
  submit_get(cl, &pol, url, &race[0], 1000, 5000);

  /* Healthy requests, one after another, while the hostile ones hang. */
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/ok", healthy.port);
  ct_got ok[40];
  memset(ok, 0, sizeof(ok));
  int ok_sent = 0;
  submit_get(cl, &pol, url, &ok[ok_sent++], 1000, 2000);
  bool race_second = false;
  uint64_t end = t0 + 8000;
  for (;;) {
    hl_loop_run_once(loop, 5);
    if (ok_sent < 40 && ok[ok_sent - 1].calls == 1) {
      submit_get(cl, &pol, url, &ok[ok_sent++], 1000, 2000);
    }
    if (!race_second && race[0].calls == 1) {
      race_second = true;
      snprintf(url, sizeof(url), "http://127.0.0.1:%u/race", racer.port);
      submit_get(cl, &pol, url, &race[1], 1000, 5000);
      snprintf(url, sizeof(url), "http://127.0.0.1:%u/ok", healthy.port);
    }
    int done = 0;
    for (size_t i = 0; i < NCASES; i++) {
      done += g[i].calls;
    }
    if ((done == (int)NCASES && ok[39].calls == 1 && race[1].calls == 1) ||
        hl_clock_mono_ms() > end) {
      break;
    }
  }
  for (size_t i = 0; i < NCASES; i++) {
    if (g[i].calls != 1 || g[i].error != cases[i].want || g[i].status != cases[i].want_status) {
      hl_test_fail(__FILE__, __LINE__, "%s: calls %d, ct_got %s/%u (%s), want %s/%u",
                   cases[i].path, g[i].calls, hl_neterr_name(g[i].error), g[i].status,
                   g[i].detail, hl_neterr_name(cases[i].want), cases[i].want_status);
    }
    if (cases[i].detail != NULL) {
      ASSERT_CONTAINS(g[i].detail, cases[i].detail);
    }
    /* Within its timeout (400 ms for the head; bodies end at their limit). */
    ASSERT_LT(g[i].at_ms - t0, 3000u);
  }
  ASSERT_EQ(race[0].calls, 1);
  ASSERT_EQ(race[1].calls, 1);
  ASSERT_EQ(race[1].error, HL_NETERR_OK);
  ASSERT_TRUE(race[1].retried);
  /* Every healthy request completed, and the first ones did while the
   * never-answering request was still pending. */
  for (int i = 0; i < 40; i++) {
    ASSERT_EQ(ok[i].calls, 1);
    ASSERT_EQ(ok[i].error, HL_NETERR_OK);
    ASSERT_EQ(ok[i].status, 200);
  }
  ASSERT_LT(ok[5].at_ms, g[0].at_ms);
  hl_client_stats st;
  hl_client_stats_get(cl, &st);
  ASSERT_EQ(st.in_flight, 0u);

  hl_client_cancel_all(cl);
  ASSERT_EQ(hl_loop_drain(loop, 2000), 0);
  hl_client_free(cl);
  hl_dns_free(dns);
  hl_loop_free(loop);
  rh_stop(&hostile);
  rh_stop(&healthy);
  rh_stop(&racer);
}

/* The engine's defaults (every limit at its limits.h value) make a client. */
TEST(default_options_make_a_client) {
  hl_err err;
  hl_loop *loop;
  hl_loop_options lo = hl_loop_options_default();
  lo.recv_bufs = 64;
  ASSERT_EQ(hl_loop_new(&lo, &loop, &err), 0);
  hl_limits l = hl_limits_default();
  hl_client_options o = hl_client_options_from(&l);
  hl_client *cl = NULL;
  ASSERT_EQ(hl_client_new(loop, &o, &cl, &err), -EINVAL); /* no resolver */
  ASSERT_CONTAINS(err.msg, "dns");
  hl_dns *dns = ct_dns_new(loop, "127.0.0.1:9");
  o.dns = dns;
  int rc = hl_client_new(loop, &o, &cl, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "hl_client_new: %s", err.msg);
  }
  o.body_bytes_kept = HL_HTTP_BODY_BYTES_KEPT + 1;
  hl_client *bad = NULL;
  ASSERT_EQ(hl_client_new(loop, &o, &bad, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "body_bytes_kept");
  hl_client_free(cl);
  hl_dns_free(dns);
  hl_loop_free(loop);
}
