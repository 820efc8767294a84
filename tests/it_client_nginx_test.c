/* Integration tests for http/client (with io/conn, http/pool, io/tls and
 * the h1 parser) against a real nginx that the test starts on loopback:
 * plain HTTP and HTTPS with a certificate from a test CA made here,
 * keep-alive reuse counted (connections and handshakes), resumption on
 * reconnect, a small keepalive_requests, 503 with Retry-After, 410, a 301
 * that is not followed, chunked responses, HTTP/1.0 close, idle connections
 * the server closes, wrong-host and untrusted certificates, connect
 * refused, the SSRF guard; and, against a small raw server in a thread,
 * the keep-alive race (retry once on a fresh connection; never after a
 * response byte; never for a fresh connection), response and request
 * timeouts, cancellation, the pool limits and a full request table. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "harness.h"
#include "http/client.h"
#include "io/tls.h"
#include "dns_test_server.h"
#include "lib/client_util.h"
#include "lib/nginx.h"
#include "lib/rawhttp.h"

/* --- fixture: nginx with several servers ------------------------------------------------
 * P0 http: /ok /503 /410 /301 /gz (gzip => chunked) /big
 * P1 http: keepalive_requests 2
 * P2 https: good certificate (localhost, 127.0.0.1), tickets on
 * P3 https: certificate for another host
 * P4 https: certificate from a CA the client does not trust
 * P5 http: keepalive_timeout 1s
 * P6: nothing listens (connect_refused) */

static tn_nginx nginx;
static bool nginx_up, nginx_tried;
static char ca_path[600];

/* Names the test's own DNS server answers (anything else: NXDOMAIN). */
static const dts_record dns_records[] = {
    {.name = "svc.test", .type = DTS_A, .ttl = 60, .data = "127.0.0.1"},
    {.name = "meta.test", .type = DTS_A, .ttl = 60, .data = "169.254.169.254"},
    {.name = "mixed.test", .type = DTS_A, .ttl = 60, .data = "10.1.2.3"},
    {.name = "mixed.test", .type = DTS_A, .ttl = 60, .data = "127.0.0.1"},
    {.name = "silent.test", .behaviour = DTS_SILENT},
};
static dts_server dns_srv;
static bool dns_up;
static char dns_servers[64];

static void stop_servers(void) {
  tn_nginx_stop(&nginx);
  if (dns_up) {
    dts_stop(&dns_srv);
    dns_up = false;
  }
}

static const char servers[] =
    "server { listen 127.0.0.1:@P0@; keepalive_requests 100000;\n"
    "  location = /ok { return 200 \"hello\"; }\n"
    "  location = /503 { add_header Retry-After 7 always; return 503 \"busy\"; }\n"
    "  location = /410 { return 410; }\n"
    "  location = /301 { return 301 http://127.0.0.1:@P0@/ok; }\n"
    "  location = /gz { gzip on; gzip_min_length 1; gzip_types text/plain; "
    "     default_type text/plain; alias @DIR@/www/big.txt; }\n"
    "  location = /big { alias @DIR@/www/big.txt; }\n"
    "}\n"
    "server { listen 127.0.0.1:@P1@; keepalive_requests 2; location / { return 200 \"two\"; } }\n"
    "server { listen 127.0.0.1:@P2@ ssl; ssl_certificate @DIR@/good.pem; "
    "  ssl_certificate_key @DIR@/good.key; ssl_session_tickets on; keepalive_requests 100000;\n"
    "  location / { return 200 \"secure\"; } }\n"
    "server { listen 127.0.0.1:@P3@ ssl; ssl_certificate @DIR@/wrong.pem; "
    "  ssl_certificate_key @DIR@/wrong.key; location / { return 200; } }\n"
    "server { listen 127.0.0.1:@P4@ ssl; ssl_certificate @DIR@/rogue.pem; "
    "  ssl_certificate_key @DIR@/rogue.key; location / { return 200; } }\n"
    "server { listen 127.0.0.1:@P5@; keepalive_timeout 1s; location / { return 200 \"short\"; } }\n";

static bool fixture(void) {
  if (nginx_tried) {
    return nginx_up;
  }
  nginx_tried = true;
  const char *tmp = hl_test_tmpdir();
  char dir[600], path[700];
  snprintf(dir, sizeof(dir), "%s/nginx", tmp);
  mkdir(dir, 0755);
  /* Certificates first: nginx reads them at start. */
  snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmp);
  ct_make_certs(dir, ca_path);
  snprintf(path, sizeof(path), "%s/www", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/www/big.txt", dir);
  FILE *f = fopen(path, "w");
  HL_ASSERT(f != NULL);
  for (int i = 0; i < 2000; i++) {
    fprintf(f, "line %05d of a compressible body\n", i);
  }
  fclose(f);
  HL_ASSERT(dts_start(&dns_srv, dns_records, HL_ARRAY_LEN(dns_records)) == 0);
  dts_servers(&dns_srv, dns_servers, sizeof(dns_servers));
  dns_up = true;
  nginx_up = tn_nginx_start(&nginx, tmp, servers, 6);
  atexit(stop_servers);
  return nginx_up;
}

#define NEED_NGINX() \
  do { \
    if (!fixture()) { \
      TEST_SKIP("nginx could not be started"); \
    } \
  } while (0)

/* --- a loop, a client, and collected results -------------------------------------------- */

#define RESULTS_MAX 512

typedef struct got {
  int calls;
  hl_client_result r;
  char detail[HL_ERR_BYTES];
  char body[256];
  uint8_t framing;
} got;

typedef struct env {
  hl_loop *loop;
  hl_dns *dns;
  hl_client *cl;
  hl_tls_ctx *tls;
  hl_netpolicy policy;
  hl_client_options o;
  got g[RESULTS_MAX];
  int done;
} env;

static void on_done(void *ctx, hl_client_id id, const hl_client_result *r) {
  (void)id;
  got *g = ctx;
  g->calls++;
  g->r = *r;
  g->r.response = NULL;
  hl_span_to_cstr(hl_span_cstr(r->detail), g->detail, sizeof(g->detail));
  size_t n = r->body.len < sizeof(g->body) - 1 ? r->body.len : sizeof(g->body) - 1;
  memcpy(g->body, r->body.ptr, n);
  g->body[n] = '\0';
  g->framing = r->response != NULL ? r->response->framing : 0;
}

static hl_client_options test_options(void) {
  hl_limits l = hl_limits_default();
  hl_client_options o = hl_client_options_from(&l);
  o.requests_max = 64;
  o.conns_max = 32;
  o.conns_per_origin_max = 4;
  o.origins_max = 16;
  o.waiters_per_origin_max = 64;
  o.request_timeout_ms = 5000;
  o.response_header_timeout_ms = 3000;
  o.connect_timeout_ms = 2000;
  o.tls_handshake_timeout_ms = 2000;
  return o;
}

static void env_open(env *e, const hl_client_options *o) {
  memset(e, 0, sizeof(*e));
  hl_err err;
  hl_loop_options lo = hl_loop_options_default();
  lo.recv_bufs = 256;
  HL_ASSERT(hl_loop_new(&lo, &e->loop, &err) == 0);
  (void)fixture(); /* makes the test CA (raw-server tests need it too) */
  hl_tls_client_options to = {.ca_file = ca_path, .no_system_cas = true};
  HL_ASSERT(hl_tls_ctx_client_new(&to, &e->tls, &err) == 0);
  e->o = *o;
  e->o.tls[0] = e->tls;
  e->dns = ct_dns_new(e->loop, dns_servers);
  e->o.dns = e->dns;
  HL_ASSERT(hl_client_new(e->loop, &e->o, &e->cl, &err) == 0);
  hl_netpolicy_init(&e->policy);
  HL_ASSERT(hl_netpolicy_allow(&e->policy, "127.0.0.0/8", &err) == 0);
  HL_ASSERT(hl_netpolicy_allow(&e->policy, "::1/128", &err) == 0);
}

static void env_close(env *e) {
  hl_client_cancel_all(e->cl);
  HL_ASSERT(hl_loop_drain(e->loop, 2000) == 0);
  hl_client_free(e->cl);
  hl_dns_free(e->dns);
  hl_loop_free(e->loop);
  hl_tls_ctx_free(e->tls);
}

/* submit sends GET |url| (a URL string kept by the caller) into g. */
static int submit_ex(env *e, const char *url, got *g, hl_client_request *tmpl, hl_client_id *id) {
  static hl_url u; /* read during submit only */
  hl_err err;
  HL_ASSERT(hl_url_parse(hl_span_cstr(url), &u, &err) == 0);
  hl_client_request q = {.url = &u, .method = HL_HTTP_GET, .policy = &e->policy,
                         .allow_plain_http = true, .done = on_done, .ctx = g};
  if (tmpl != NULL) {
    q.head = tmpl->head;
    q.headers = tmpl->headers;
    q.headers_len = tmpl->headers_len;
    q.response_header_timeout_ms = tmpl->response_header_timeout_ms;
    q.request_timeout_ms = tmpl->request_timeout_ms;
    q.connect_timeout_ms = tmpl->connect_timeout_ms;
    q.allow_plain_http = tmpl->allow_plain_http;
    if (tmpl->policy != NULL) {
      q.policy = tmpl->policy;
    }
  }
  int rc = hl_client_submit(e->cl, &q, id, &err);
  if (rc != 0) {
    fprintf(stderr, "submit: %s\n", err.msg);
  }
  return rc;
}

static void submit(env *e, const char *url, got *g) {
  HL_ASSERT(submit_ex(e, url, g, NULL, NULL) == 0);
}

/* run_until runs the loop until |*count| reaches |n| (or 10 s pass). */
static bool run_until_calls(env *e, got *g, int n_got, int each) {
  uint64_t end = hl_clock_mono_ms() + 10000;
  for (;;) {
    int ok = 0;
    for (int i = 0; i < n_got; i++) {
      ok += g[i].calls >= each;
    }
    if (ok == n_got) {
      return true;
    }
    if (hl_clock_mono_ms() > end) {
      return false;
    }
    hl_loop_run_once(e->loop, 50);
  }
}

static void run_ms(env *e, uint64_t ms) {
  uint64_t end = hl_clock_mono_ms() + ms;
  while (hl_clock_mono_ms() < end) {
    hl_loop_run_once(e->loop, 10);
  }
}

static void url_of(char *out, size_t cap, const char *scheme, const char *host, int port_i,
                   const char *path) {
  snprintf(out, cap, "%s://%s:%u%s", scheme, host, nginx.port[port_i], path);
}

static void expect(const got *g, hl_neterr cls, unsigned status) {
  if (g->calls != 1 || g->r.error != cls || g->r.status != status) {
    hl_test_fail(__FILE__, __LINE__, "calls %d, got %s/%u (%s), want %s/%u", g->calls,
                 hl_neterr_name(g->r.error), g->r.status, g->detail, hl_neterr_name(cls), status);
  }
}

/* --- plain HTTP against nginx ---------------------------------------------------------- */

TEST(http_200_with_body_and_timings) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  url_of(url, sizeof(url), "http", "127.0.0.1", 0, "/ok");
  submit(e, url, &e->g[0]);
  ASSERT_TRUE(run_until_calls(e, e->g, 1, 1));
  expect(&e->g[0], HL_NETERR_OK, 200);
  ASSERT_STR_EQ(e->g[0].body, "hello");
  ASSERT_EQ(e->g[0].r.body_bytes, 5u);
  ASSERT_FALSE(e->g[0].r.reused);
  ASSERT_TRUE(e->g[0].r.keep_alive);
  ASSERT_EQ(e->g[0].r.retry_after_s, -1);
  ASSERT_GT(e->g[0].r.t.total_us, 0u);
  ASSERT_LE(e->g[0].r.t.ttfb_us, e->g[0].r.t.total_us);
  /* localhost resolves too (to 127.0.0.1 first). */
  url_of(url, sizeof(url), "http", "localhost", 0, "/ok");
  submit(e, url, &e->g[1]);
  ASSERT_TRUE(run_until_calls(e, &e->g[1], 1, 1));
  expect(&e->g[1], HL_NETERR_OK, 200);
  env_close(e);
  free(e);
}

TEST(statuses_503_retry_after_410_and_301_not_followed) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[3][128];
  url_of(url[0], sizeof(url[0]), "http", "127.0.0.1", 0, "/503");
  url_of(url[1], sizeof(url[1]), "http", "127.0.0.1", 0, "/410");
  url_of(url[2], sizeof(url[2]), "http", "127.0.0.1", 0, "/301");
  for (int i = 0; i < 3; i++) {
    submit(e, url[i], &e->g[i]);
  }
  ASSERT_TRUE(run_until_calls(e, e->g, 3, 1));
  expect(&e->g[0], HL_NETERR_OK, 503);
  ASSERT_EQ(e->g[0].r.retry_after_s, 7);
  ASSERT_STR_EQ(e->g[0].body, "busy");
  expect(&e->g[1], HL_NETERR_OK, 410);
  expect(&e->g[2], HL_NETERR_OK, 301);
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_EQ(st.completed, 3u); /* the redirect was not followed */
  env_close(e);
  free(e);
}

/* N requests, 8 at a time, at most 4 connections: reused, never more
 * connections than allowed. */
static void reuse_run(env *e, const char *scheme, int port_i, int n) {
  char url[128];
  url_of(url, sizeof(url), scheme, "127.0.0.1", port_i, "/");
  int submitted = 0;
  while (submitted < n) {
    int inflight = submitted;
    for (int i = 0; i < submitted; i++) {
      inflight -= e->g[i].calls;
    }
    while (inflight < 8 && submitted < n) {
      submit(e, url, &e->g[submitted++]);
      inflight++;
    }
    hl_loop_run_once(e->loop, 50);
  }
  HL_ASSERT(run_until_calls(e, e->g, n, 1));
}

TEST(http_keep_alive_reuses_at_most_the_allowed_connections) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  reuse_run(e, "http", 0, 300);
  for (int i = 0; i < 300; i++) {
    expect(&e->g[i], HL_NETERR_OK, 404);
  }
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_LE(st.conns_opened, 4u);
  ASSERT_GE(st.reused, 296u);
  ASSERT_GT(st.queued, 0u); /* 8 at a time over 4 connections: some waited */
  ASSERT_EQ(st.by_error[HL_NETERR_OK], 300u);
  env_close(e);
  free(e);
}

TEST(keepalive_requests_2_server_closes_and_every_request_succeeds) {
  NEED_NGINX();
  hl_client_options o = test_options();
  /* Few connections counted, many opened and closed: closing ones keep
   * their ids for a while, so ids run past conns_max. */
  o.conns_max = 2;
  o.conns_per_origin_max = 2;
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  url_of(url, sizeof(url), "http", "127.0.0.1", 1, "/");
  for (int i = 0; i < 20; i++) {
    submit(e, url, &e->g[i]);
    ASSERT_TRUE(run_until_calls(e, &e->g[i], 1, 1));
    expect(&e->g[i], HL_NETERR_OK, 200);
    /* nginx says Connection: close on every second request. */
    ASSERT_EQ(e->g[i].r.keep_alive, i % 2 == 0);
  }
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_EQ(st.conns_opened, 10u);
  ASSERT_EQ(st.reused, 10u);
  env_close(e);
  free(e);
}

TEST(chunked_response_from_gzip) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  url_of(url, sizeof(url), "http", "127.0.0.1", 0, "/gz");
  hl_h1_header h[] = {{HL_SPAN_LIT("Accept-Encoding"), HL_SPAN_LIT("gzip")}};
  hl_client_request t = {.headers = h, .headers_len = 1, .allow_plain_http = true};
  ASSERT_EQ(submit_ex(e, url, &e->g[0], &t, NULL), 0);
  url_of(url, sizeof(url), "http", "127.0.0.1", 0, "/big");
  submit(e, url, &e->g[1]);
  ASSERT_TRUE(run_until_calls(e, e->g, 2, 1));
  expect(&e->g[0], HL_NETERR_OK, 200);
  ASSERT_EQ(e->g[0].framing, HL_H1_FRAMING_CHUNKED);
  ASSERT_TRUE(e->g[0].r.keep_alive);
  ASSERT_GT(e->g[0].r.body_bytes, 100u);
  ASSERT_LT(e->g[0].r.body_bytes, 68000u); /* compressed */
  expect(&e->g[1], HL_NETERR_OK, 200);
  ASSERT_EQ(e->g[1].framing, HL_H1_FRAMING_LENGTH);
  ASSERT_EQ(e->g[1].r.body_bytes, 2000u * 34u);
  ASSERT_TRUE(e->g[1].r.body_truncated);
  ASSERT_EQ(e->g[1].r.body.len, (size_t)o.body_bytes_kept);
  env_close(e);
  free(e);
}

TEST(http_1_0_request_gets_a_closing_response) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  url_of(url, sizeof(url), "http", "127.0.0.1", 0, "/ok");
  hl_client_request t = {.head = HL_SPAN_LIT("GET /ok HTTP/1.0\r\nHost: x\r\n\r\n"),
                         .allow_plain_http = true};
  ASSERT_EQ(submit_ex(e, url, &e->g[0], &t, NULL), 0);
  ASSERT_TRUE(run_until_calls(e, e->g, 1, 1));
  expect(&e->g[0], HL_NETERR_OK, 200);
  ASSERT_FALSE(e->g[0].r.keep_alive);
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_EQ(st.conns_open, 0u);
  env_close(e);
  free(e);
}

TEST(idle_connection_closed_by_the_server_is_dropped_and_replaced) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  url_of(url, sizeof(url), "http", "127.0.0.1", 5, "/");
  submit(e, url, &e->g[0]);
  ASSERT_TRUE(run_until_calls(e, e->g, 1, 1));
  expect(&e->g[0], HL_NETERR_OK, 200);
  run_ms(e, 1600); /* nginx's keepalive_timeout is 1 s */
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_EQ(st.idle_closed_readable, 1u);
  ASSERT_EQ(st.conns_open, 0u);
  submit(e, url, &e->g[1]);
  ASSERT_TRUE(run_until_calls(e, &e->g[1], 1, 1));
  expect(&e->g[1], HL_NETERR_OK, 200);
  ASSERT_FALSE(e->g[1].r.reused);
  env_close(e);
  free(e);
}

TEST(connect_refused_and_policy_refusals) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  url_of(url, sizeof(url), "http", "127.0.0.1", 6, "/");
  submit(e, url, &e->g[0]);
  /* The default policy refuses loopback: the address rule names it. */
  hl_netpolicy strict;
  hl_netpolicy_init(&strict);
  url_of(url, sizeof(url), "http", "127.0.0.1", 0, "/ok");
  hl_client_request t = {.policy = &strict, .allow_plain_http = true};
  ASSERT_EQ(submit_ex(e, url, &e->g[1], &t, NULL), 0);
  /* Plain http without allow_plain_http. */
  hl_client_request t2 = {.allow_plain_http = false};
  ASSERT_EQ(submit_ex(e, url, &e->g[2], &t2, NULL), 0);
  /* localhost passes the name rule (the allow-list covers ::1) but the
   * address it resolves to is checked again at connect: 127.0.0.1 is not
   * allowed by this policy. */
  hl_netpolicy v6only;
  hl_netpolicy_init(&v6only);
  hl_err err;
  ASSERT_EQ(hl_netpolicy_allow(&v6only, "::1/128", &err), 0);
  url_of(url, sizeof(url), "http", "localhost", 0, "/ok");
  hl_client_request t3 = {.policy = &v6only, .allow_plain_http = true};
  ASSERT_EQ(submit_ex(e, url, &e->g[3], &t3, NULL), 0);
  /* Nothing is delivered from inside submit. */
  ASSERT_EQ(e->g[1].calls + e->g[2].calls + e->g[3].calls, 0);
  ASSERT_TRUE(run_until_calls(e, e->g, 4, 1));
  expect(&e->g[0], HL_NETERR_CONNECT_REFUSED, 0);
  ASSERT_CONTAINS(e->g[0].detail, "refused");
  expect(&e->g[1], HL_NETERR_POLICY_REFUSED, 0);
  ASSERT_CONTAINS(e->g[1].detail, "127.0.0.1");
  expect(&e->g[2], HL_NETERR_POLICY_REFUSED, 0);
  ASSERT_CONTAINS(e->g[2].detail, "http");
  expect(&e->g[3], HL_NETERR_POLICY_REFUSED, 0);
  ASSERT_CONTAINS(e->g[3].detail, "127.0.0.1");
  env_close(e);
  free(e);
}

/* --- HTTPS against nginx ---------------------------------------------------------------- */

TEST(https_reuse_handshakes_and_resumption) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  reuse_run(e, "https", 2, 200);
  for (int i = 0; i < 200; i++) {
    expect(&e->g[i], HL_NETERR_OK, 200);
  }
  ASSERT_STR_EQ(e->g[199].body, "secure");
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_LE(st.conns_opened, 4u);
  ASSERT_LE(st.handshakes, st.conns_opened);
  ASSERT_GE(st.reused, 196u);
  /* Close the pooled connections; the next one resumes a session. */
  uint64_t opened = st.conns_opened;
  hl_client_cancel_all(e->cl);
  run_ms(e, 20);
  char url[128];
  url_of(url, sizeof(url), "https", "127.0.0.1", 2, "/"); /* same origin */
  submit(e, url, &e->g[200]);
  ASSERT_TRUE(run_until_calls(e, &e->g[200], 1, 1));
  expect(&e->g[200], HL_NETERR_OK, 200);
  ASSERT_GT(e->g[200].r.t.tls_us, 0u);
  hl_client_stats_get(e->cl, &st);
  ASSERT_EQ(st.conns_opened, opened + 1);
  ASSERT_GE(st.resumed, 1u);
  env_close(e);
  free(e);
}

TEST(https_wrong_host_and_untrusted_ca_are_certificate_errors) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[2][128];
  url_of(url[0], sizeof(url[0]), "https", "localhost", 3, "/");
  url_of(url[1], sizeof(url[1]), "https", "127.0.0.1", 4, "/");
  submit(e, url[0], &e->g[0]);
  submit(e, url[1], &e->g[1]);
  /* Plain HTTP bytes where TLS is expected: a handshake error. */
  char url3[128];
  url_of(url3, sizeof(url3), "https", "127.0.0.1", 0, "/");
  submit(e, url3, &e->g[2]);
  ASSERT_TRUE(run_until_calls(e, e->g, 3, 1));
  expect(&e->g[0], HL_NETERR_TLS_CERTIFICATE, 0);
  ASSERT_CONTAINS(e->g[0].detail, "mismatch");
  expect(&e->g[1], HL_NETERR_TLS_CERTIFICATE, 0);
  ASSERT_CONTAINS(e->g[1].detail, "issuer");
  expect(&e->g[2], HL_NETERR_TLS_HANDSHAKE, 0);
  env_close(e);
  free(e);
}

/* --- a raw server (tests/lib/rawhttp.h) for what nginx cannot do on demand --- */

static void raw_url(char *out, size_t cap, const rh_server *s, const char *path) {
  snprintf(out, cap, "http://127.0.0.1:%u%s", s->port, path);
}

TEST(keep_alive_race_is_retried_once_on_a_fresh_connection) {
  rh_server s;
  rh_start(&s, NULL);
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  raw_url(url, sizeof(url), &s, "/race");
  for (int i = 0; i < 3; i++) {
    submit(e, url, &e->g[i]);
    ASSERT_TRUE(run_until_calls(e, &e->g[i], 1, 1));
    expect(&e->g[i], HL_NETERR_OK, 200);
  }
  ASSERT_FALSE(e->g[0].r.retried);
  ASSERT_TRUE(e->g[1].r.retried); /* its reused connection closed unanswered */
  ASSERT_FALSE(e->g[1].r.reused); /* answered on the fresh one */
  ASSERT_TRUE(e->g[2].r.reused);
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_EQ(st.retried, 1u);
  ASSERT_EQ(st.conns_opened, 2u);
  env_close(e);
  rh_stop(&s);
  free(e);
}

TEST(no_retry_after_a_response_byte_nor_on_a_fresh_connection) {
  rh_server s;
  rh_start(&s, NULL);
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  raw_url(url, sizeof(url), &s, "/ok");
  submit(e, url, &e->g[0]);
  ASSERT_TRUE(run_until_calls(e, e->g, 1, 1));
  raw_url(url, sizeof(url), &s, "/partial"); /* on the reused connection */
  submit(e, url, &e->g[1]);
  ASSERT_TRUE(run_until_calls(e, &e->g[1], 1, 1));
  expect(&e->g[0], HL_NETERR_OK, 200);
  expect(&e->g[1], HL_NETERR_CLOSED_EARLY, 200);
  ASSERT_FALSE(e->g[1].r.retried);
  ASSERT_TRUE(e->g[1].r.reused);
  ASSERT_CONTAINS(e->g[1].detail, "unexpected_eof");
  env_close(e);
  env_open(e, &o);
  raw_url(url, sizeof(url), &s, "/close");
  submit(e, url, &e->g[0]);
  ASSERT_TRUE(run_until_calls(e, e->g, 1, 1));
  expect(&e->g[0], HL_NETERR_CLOSED_EARLY, 0);
  ASSERT_FALSE(e->g[0].r.retried);
  ASSERT_CONTAINS(e->g[0].detail, "no_response");
  env_close(e);
  rh_stop(&s);
  free(e);
}

TEST(timeouts_cancel_pool_full_and_busy) {
  rh_server s;
  rh_start(&s, NULL);
  hl_client_options o = test_options();
  o.requests_max = 5;
  o.conns_per_origin_max = 1;
  o.waiters_per_origin_max = 2;
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  raw_url(url, sizeof(url), &s, "/never");
  hl_client_request t = {.response_header_timeout_ms = 150, .request_timeout_ms = 400,
                         .allow_plain_http = true};
  hl_client_id ids[5];
  /* g0 takes the one connection and times out waiting for the head; g1
   * waits in the queue, then gets the (fresh) connection...; g2 waits and
   * is cancelled; g3 finds the queue full. */
  ASSERT_EQ(submit_ex(e, url, &e->g[0], &t, &ids[0]), 0);
  ASSERT_EQ(submit_ex(e, url, &e->g[1], &t, &ids[1]), 0);
  ASSERT_EQ(submit_ex(e, url, &e->g[2], &t, &ids[2]), 0);
  ASSERT_EQ(submit_ex(e, url, &e->g[3], &t, &ids[3]), 0);
  hl_client_request t5 = {.request_timeout_ms = 200, .response_header_timeout_ms = 5000,
                          .allow_plain_http = true};
  ASSERT_EQ(submit_ex(e, "http://127.0.0.1:1/", &e->g[4], &t5, &ids[4]), 0);
  /* The table (5) is full: refused at submit, no callback. */
  got extra = {0};
  ASSERT_EQ(submit_ex(e, url, &extra, &t, NULL), -EBUSY);
  ASSERT_TRUE(hl_client_cancel(e->cl, ids[2]));
  ASSERT_EQ(e->g[2].calls, 1);
  ASSERT_FALSE(hl_client_cancel(e->cl, ids[2])); /* exactly once */
  ASSERT_TRUE(run_until_calls(e, e->g, 5, 1));
  run_ms(e, 50);
  expect(&e->g[0], HL_NETERR_RESPONSE_TIMEOUT, 0);
  expect(&e->g[2], HL_NETERR_CANCELED, 0);
  expect(&e->g[3], HL_NETERR_POOL_FULL, 0);
  ASSERT_CONTAINS(e->g[3].detail, "waiters_per_origin_max");
  /* g1 waited in the queue and then timed out on its own connection. */
  ASSERT_EQ(e->g[1].calls, 1);
  ASSERT_TRUE(e->g[1].r.error == HL_NETERR_RESPONSE_TIMEOUT ||
              e->g[1].r.error == HL_NETERR_POOL_FULL);
  ASSERT_GT(e->g[1].r.t.queue_us, 0u);
  /* Port 1 is refused quickly. */
  expect(&e->g[4], HL_NETERR_CONNECT_REFUSED, 0);
  ASSERT_EQ(extra.calls, 0);
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(e->g[i].calls, 1);
  }
  /* Whole-request deadline while the server holds the head back. */
  hl_client_request t6 = {.response_header_timeout_ms = 5000, .request_timeout_ms = 100,
                          .allow_plain_http = true};
  ASSERT_EQ(submit_ex(e, url, &e->g[5], &t6, NULL), 0);
  ASSERT_TRUE(run_until_calls(e, &e->g[5], 1, 1));
  expect(&e->g[5], HL_NETERR_REQUEST_TIMEOUT, 0);
  env_close(e);
  rh_stop(&s);
  free(e);
}

TEST(cancel_all_completes_everything_once) {
  rh_server s;
  rh_start(&s, NULL);
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  raw_url(url, sizeof(url), &s, "/never");
  for (int i = 0; i < 10; i++) {
    submit(e, url, &e->g[i]);
  }
  run_ms(e, 100);
  hl_client_cancel_all(e->cl);
  for (int i = 0; i < 10; i++) {
    expect(&e->g[i], HL_NETERR_CANCELED, 0);
  }
  run_ms(e, 20);
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_EQ(st.in_flight, 0u);
  ASSERT_EQ(st.conns_open, 0u);
  env_close(e);
  rh_stop(&s);
  free(e);
}

/* A listener whose accept queue is full drops new SYNs: the connect hangs
 * until connect_timeout_ms. */
TEST(connect_timeout_on_a_full_backlog) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  HL_ASSERT(bind(lfd, (struct sockaddr *)&a, len) == 0 && listen(lfd, 0) == 0);
  HL_ASSERT(getsockname(lfd, (struct sockaddr *)&a, &len) == 0);
  int fill[4];
  for (int i = 0; i < 4; i++) {
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
  }
  usleep(50 * 1000);
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ntohs(a.sin_port));
  hl_client_request t = {.connect_timeout_ms = 300, .allow_plain_http = true};
  ASSERT_EQ(submit_ex(e, url, &e->g[0], &t, NULL), 0);
  ASSERT_TRUE(run_until_calls(e, e->g, 1, 1));
  env_close(e);
  for (int i = 0; i < 4; i++) {
    close(fill[i]);
  }
  close(lfd);
  if (e->g[0].r.error != HL_NETERR_CONNECT_TIMEOUT) {
    hl_neterr got_cls = e->g[0].r.error;
    free(e);
    if (got_cls == HL_NETERR_RESPONSE_TIMEOUT || got_cls == HL_NETERR_REQUEST_TIMEOUT) {
      TEST_SKIP("this kernel completed the connect despite the full backlog");
    }
    hl_test_fail(__FILE__, __LINE__, "got %s", hl_neterr_name(got_cls));
  }
  ASSERT_CONTAINS(e->g[0].detail, "connect_timeout_ms");
  ASSERT_GE(e->g[0].r.t.total_us, 290000u);
  free(e);
}

/* The engine resubmits from its completion callback with the table full:
 * the slot of the request being completed must not be in the way. */
typedef struct chain {
  env *e;
  const char *url;
  int left;
  int ok;
  int refused;
} chain;

static void chain_done(void *ctx, hl_client_id id, const hl_client_result *r) {
  (void)id;
  chain *ch = ctx;
  ch->ok += r->error == HL_NETERR_OK && r->status == 200;
  if (ch->left > 0) {
    ch->left--;
    static hl_url u;
    hl_err err;
    HL_ASSERT(hl_url_parse(hl_span_cstr(ch->url), &u, &err) == 0);
    hl_client_request q = {.url = &u, .method = HL_HTTP_GET, .policy = &ch->e->policy,
                           .allow_plain_http = true, .done = chain_done, .ctx = ch};
    if (hl_client_submit(ch->e->cl, &q, NULL, &err) != 0) {
      ch->refused++;
    }
  }
}

TEST(completion_callback_can_submit_with_the_table_full) {
  NEED_NGINX();
  hl_client_options o = test_options();
  o.requests_max = 2;
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  url_of(url, sizeof(url), "http", "127.0.0.1", 0, "/ok");
  chain ch = {e, url, 100, 0, 0};
  hl_url u;
  hl_err err;
  ASSERT_EQ(hl_url_parse(hl_span_cstr(url), &u, &err), 0);
  for (int i = 0; i < 2; i++) {
    hl_client_request q = {.url = &u, .method = HL_HTTP_GET, .policy = &e->policy,
                           .allow_plain_http = true, .done = chain_done, .ctx = &ch};
    ASSERT_EQ(hl_client_submit(e->cl, &q, NULL, &err), 0);
  }
  uint64_t end = hl_clock_mono_ms() + 10000;
  while (ch.ok + ch.refused < 102 && hl_clock_mono_ms() < end) {
    hl_loop_run_once(e->loop, 50);
  }
  ASSERT_EQ(ch.refused, 0);
  ASSERT_EQ(ch.ok, 102);
  hl_client_stats st;
  hl_client_stats_get(e->cl, &st);
  ASSERT_LE(st.conns_opened, 2u); /* and no handshake per request */
  env_close(e);
  free(e);
}

TEST(bad_status_line_is_a_protocol_error_and_big_body_too_large) {
  rh_server s;
  rh_start(&s, NULL);
  hl_client_options o = test_options();
  o.h1.body_bytes_discard_max = 10000;
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  raw_url(url, sizeof(url), &s, "/badstatus");
  submit(e, url, &e->g[0]);
  ASSERT_TRUE(run_until_calls(e, e->g, 1, 1));
  expect(&e->g[0], HL_NETERR_PROTOCOL_ERROR, 0);
  ASSERT_CONTAINS(e->g[0].detail, "bad_status_line");
  if (fixture()) {
    url_of(url, sizeof(url), "http", "127.0.0.1", 0, "/big");
    submit(e, url, &e->g[1]);
    ASSERT_TRUE(run_until_calls(e, &e->g[1], 1, 1));
    /* Content-Length already says too much: refused at the head. */
    expect(&e->g[1], HL_NETERR_BODY_TOO_LARGE, 200);
    ASSERT_CONTAINS(e->g[1].detail, "body_too_large");
    hl_client_stats st;
    hl_client_stats_get(e->cl, &st);
    ASSERT_EQ(st.conns_open, 0u); /* the rest of the body was not read: closed */
  }
  env_close(e);
  rh_stop(&s);
  free(e);
}

/* A server that accepts TCP but never speaks TLS: the handshake deadline. */
TEST(tls_handshake_timeout) {
  rh_server s;
  rh_start(&s, "/never");
  hl_client_options o = test_options();
  o.tls_handshake_timeout_ms = 200;
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  snprintf(url, sizeof(url), "https://127.0.0.1:%u/", s.port);
  submit(e, url, &e->g[0]);
  ASSERT_TRUE(run_until_calls(e, e->g, 1, 1));
  expect(&e->g[0], HL_NETERR_TLS_TIMEOUT, 0);
  ASSERT_CONTAINS(e->g[0].detail, "tls_handshake_timeout_ms");
  ASSERT_GE(e->g[0].r.t.total_us, 190000u);
  env_close(e);
  rh_stop(&s);
  free(e);
}

/* Names through the resolver: the answer's port is the URL's, every
 * address is checked by the policy right before its connect (a name that
 * resolves to the metadata address is refused whatever the name), a
 * refused address is skipped for the next one, and the lookup failures
 * have their classes. */
TEST(names_resolve_and_every_address_is_checked_at_connect) {
  NEED_NGINX();
  hl_client_options o = test_options();
  env *e = calloc(1, sizeof(*e));
  env_open(e, &o);
  char url[128];
  snprintf(url, sizeof(url), "http://svc.test:%u/ok", nginx.port[0]);
  submit(e, url, &e->g[0]);
  snprintf(url, sizeof(url), "http://meta.test:%u/ok", nginx.port[0]);
  submit(e, url, &e->g[1]);
  snprintf(url, sizeof(url), "http://mixed.test:%u/ok", nginx.port[0]);
  submit(e, url, &e->g[2]);
  submit(e, "http://nosuch.test/", &e->g[3]);
  /* The default policy refuses loopback: a public-looking name that
   * resolves to 127.0.0.1 is refused at connect. */
  hl_netpolicy strict;
  hl_netpolicy_init(&strict);
  snprintf(url, sizeof(url), "http://svc.test:%u/ok", nginx.port[0]);
  hl_client_request t = {.policy = &strict, .allow_plain_http = true};
  ASSERT_EQ(submit_ex(e, url, &e->g[4], &t, NULL), 0);
  submit(e, "http://silent.test/", &e->g[5]);
  ASSERT_TRUE(run_until_calls(e, e->g, 6, 1));
  expect(&e->g[0], HL_NETERR_OK, 200);
  ASSERT_STR_EQ(e->g[0].body, "hello");
  expect(&e->g[1], HL_NETERR_POLICY_REFUSED, 0);
  ASSERT_CONTAINS(e->g[1].detail, "169.254.169.254");
  expect(&e->g[2], HL_NETERR_OK, 200); /* 10.1.2.3 refused, 127.0.0.1 used */
  expect(&e->g[3], HL_NETERR_DNS_NXDOMAIN, 0);
  ASSERT_CONTAINS(e->g[3].detail, "nosuch.test");
  expect(&e->g[4], HL_NETERR_POLICY_REFUSED, 0);
  ASSERT_CONTAINS(e->g[4].detail, "127.0.0.1");
  expect(&e->g[5], HL_NETERR_DNS_TIMEOUT, 0);
  /* Cached now: the second lookup is answered at once. */
  snprintf(url, sizeof(url), "http://svc.test:%u/ok", nginx.port[0]);
  submit(e, url, &e->g[6]);
  ASSERT_TRUE(run_until_calls(e, &e->g[6], 1, 1));
  expect(&e->g[6], HL_NETERR_OK, 200);
  ASSERT_EQ(dts_queries(&dns_srv, "svc.test", DTS_A), 1u);
  env_close(e);
  free(e);
}
