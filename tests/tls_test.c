/* Tests for io/tls: client and server state machines run against each other
 * in memory (no sockets), with certificates made in the test
 * (tests/tls_certs.h). Ciphertext moves between them in random splits and
 * with random short "sends", the way io_uring may deliver it. */
#include "io/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/assert.h"
#include "harness.h"
#include "tls_certs.h"

/* --- the test PKI, made once per process ------------------------------------ */

typedef struct pki {
  char root[512];       /* trusted root */
  char good[512];       /* leaf <- intermediate <- root, chain included */
  char good_key[512];
  char expired[512];
  char expired_key[512];
  char untrusted[512]; /* leaf <- another root */
  char untrusted_key[512];
} pki;

static const pki *test_pki(void) {
  static pki p;
  static bool made;
  if (made) {
    return &p;
  }
  const char *d = hl_test_tmpdir();
  snprintf(p.root, sizeof(p.root), "%s/root.pem", d);
  snprintf(p.good, sizeof(p.good), "%s/good.pem", d);
  snprintf(p.good_key, sizeof(p.good_key), "%s/good.key", d);
  snprintf(p.expired, sizeof(p.expired), "%s/expired.pem", d);
  snprintf(p.expired_key, sizeof(p.expired_key), "%s/expired.key", d);
  snprintf(p.untrusted, sizeof(p.untrusted), "%s/untrusted.pem", d);
  snprintf(p.untrusted_key, sizeof(p.untrusted_key), "%s/untrusted.key", d);
  tc_ca root = tc_ca_new("hookline test root", NULL);
  tc_ca inter = tc_ca_new("hookline test intermediate", &root);
  tc_ca other = tc_ca_new("somebody else's root", NULL);
  const char *sans = "DNS:localhost,DNS:*.example.test,IP:127.0.0.1,IP:::1";
  tc_ca_write(&root, p.root);
  tc_leaf_write(&inter, sans, -3600, 86400, p.good, p.good_key);
  tc_leaf_write(&inter, sans, -7200, -3600, p.expired, p.expired_key);
  tc_leaf_write(&other, sans, -3600, 86400, p.untrusted, p.untrusted_key);
  tc_ca_free(&inter);
  tc_ca_free(&other);
  tc_ca_free(&root);
  made = true;
  return &p;
}

static hl_tls_ctx *client_ctx(void) {
  hl_tls_client_options o = {.ca_file = test_pki()->root, .no_system_cas = true};
  hl_tls_ctx *c = NULL;
  hl_err err = {{0}};
  int rc = hl_tls_ctx_client_new(&o, &c, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "client ctx: %s", err.msg);
  }
  return c;
}

static hl_tls_ctx *server_ctx_v(const char *cert, const char *key, uint16_t min, uint16_t max) {
  hl_tls_server_options o = {.cert_file = cert, .key_file = key, .min_version = min,
                             .max_version = max};
  hl_tls_ctx *c = NULL;
  hl_err err = {{0}};
  int rc = hl_tls_ctx_server_new(&o, &c, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "server ctx: %s", err.msg);
  }
  return c;
}

static hl_tls_ctx *server_ctx(void) {
  return server_ctx_v(test_pki()->good, test_pki()->good_key, 0, 0);
}

/* --- two ends and the wire between them ------------------------------------ */

#define RX_BYTES (1u << 19)

typedef struct peer {
  hl_tls t;
  char *rx; /* plaintext received */
  size_t rx_len;
  int last; /* last result of drive() */
} peer;

static peer *peer_new(void) {
  peer *p = calloc(1, sizeof(*p));
  p->rx = malloc(RX_BYTES);
  HL_ASSERT(p->rx != NULL);
  return p;
}

static void peer_free(peer *p) {
  hl_tls_cleanup(&p->t);
  free(p->rx);
  free(p);
}

static peer *client_new(hl_tls_ctx *ctx, const char *host, hl_tls_sessions *sessions) {
  peer *p = peer_new();
  hl_err err = {{0}};
  int rc = hl_tls_client_init(&p->t, ctx, hl_span_cstr(host), sessions, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "client init: %s", err.msg);
  }
  return p;
}

static peer *server_new(hl_tls_ctx *ctx) {
  peer *p = peer_new();
  hl_err err = {{0}};
  HL_ASSERT(hl_tls_server_init(&p->t, ctx, &err) == 0);
  return p;
}

/* drive does what the connection layer does after a receive: handshake
 * until done, then read until the input is used up. */
static int drive(peer *p) {
  int r = 0;
  if (!hl_tls_handshake_done(&p->t)) {
    r = hl_tls_handshake(&p->t);
  }
  while (r == 0 && hl_tls_handshake_done(&p->t)) {
    HL_ASSERT(p->rx_len < RX_BYTES);
    r = hl_tls_read(&p->t, p->rx + p->rx_len, RX_BYTES - p->rx_len);
    if (r > 0) {
      p->rx_len += (size_t)r;
      r = 0;
      continue;
    }
    if (r == 0) {
      break; /* close_notify */
    }
  }
  p->last = r;
  if (r == HL_TLS_WANT_READ) {
    HL_ASSERT(hl_tls_in_pending(&p->t) == 0);
  }
  return r;
}

/* move "sends" what |from| has pending (sometimes only part of it, like a
 * short send) and feeds it to |to| in random chunks, driving after each.
 * Returns false if nothing was pending. */
static bool move(peer *from, peer *to) {
  hl_span o = hl_tls_out(&from->t);
  if (o.len == 0) {
    return false;
  }
  size_t n = o.len;
  if (hl_test_rand() % 4 == 0) {
    n = 1 + hl_test_rand() % o.len;
  }
  char *wire = malloc(n);
  memcpy(wire, o.ptr, n);
  hl_tls_out_sent(&from->t, n);
  for (size_t off = 0; off < n;) {
    size_t k = 1 + hl_test_rand() % (hl_test_rand() % 2 ? 64 : 6000);
    k = k < n - off ? k : n - off;
    hl_tls_feed(&to->t, wire + off, k);
    int r = drive(to);
    off += k;
    if (r == HL_TLS_FAILED || r == 0) {
      break;
    }
  }
  free(wire);
  return true;
}

static void pump(peer *a, peer *b) {
  for (int i = 0; i < 100000; i++) {
    bool moved = move(a, b);
    moved = move(b, a) || moved;
    if (!moved) {
      return;
    }
  }
  HL_UNREACHABLE();
}

/* connect runs a handshake: the client speaks first. */
static void connect_pair(peer *c, peer *s) {
  drive(c);
  pump(c, s);
}

static void expect_fail(peer *p, hl_tls_fail kind, const char *text) {
  hl_err err = {{0}};
  hl_tls_describe(&p->t, &err);
  if (hl_tls_failure(&p->t) != kind) {
    hl_test_fail(__FILE__, __LINE__, "expected %s, got %s (%s)", hl_tls_fail_name(kind),
                 hl_tls_fail_name(hl_tls_failure(&p->t)), err.msg);
  }
  ASSERT_CONTAINS(err.msg, hl_tls_fail_name(kind));
  ASSERT_CONTAINS(err.msg, text);
}

/* send_all writes |len| bytes from |from| in random pieces, moving
 * ciphertext whenever the output buffer fills. */
static void send_all(peer *from, peer *to, const char *data, size_t len) {
  size_t off = 0;
  while (off < len) {
    size_t k = 1 + hl_test_rand() % 40000;
    k = k < len - off ? k : len - off;
    int r = hl_tls_write(&from->t, data + off, k);
    if (r == HL_TLS_WANT_WRITE) {
      ASSERT_TRUE(move(from, to));
      continue;
    }
    ASSERT_GT(r, 0);
    ASSERT_LE((size_t)r, k);
    off += (size_t)r;
    if (hl_test_rand() % 3 == 0) {
      pump(from, to);
    }
  }
  pump(from, to);
}

static char *random_bytes(size_t n) {
  char *p = malloc(n);
  for (size_t i = 0; i < n; i++) {
    p[i] = (char)hl_test_rand();
  }
  return p;
}

/* --- tests ----------------------------------------------------------------------- */

TEST(handshake_alpn_and_data_both_ways_in_random_splits) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx();
  for (int round = 0; round < 4; round++) {
    peer *c = client_new(cc, round % 2 ? "api.example.test" : "localhost", NULL);
    peer *s = server_new(sc);
    connect_pair(c, s);
    ASSERT_TRUE(hl_tls_handshake_done(&c->t));
    ASSERT_TRUE(hl_tls_handshake_done(&s->t));
    ASSERT_STR_EQ(hl_tls_version_name(&c->t), "TLSv1.3");
    ASSERT_SPAN_EQ(hl_tls_alpn(&c->t), "http/1.1");
    ASSERT_SPAN_EQ(hl_tls_alpn(&s->t), "http/1.1");
    size_t n = 150000 + hl_test_rand() % 100000;
    char *up = random_bytes(n), *down = random_bytes(n / 3);
    send_all(c, s, up, n);
    send_all(s, c, down, n / 3);
    ASSERT_MEM_EQ(s->rx, s->rx_len, up, n);
    ASSERT_MEM_EQ(c->rx, c->rx_len, down, n / 3);
    /* Everything was sent: neither end holds an output buffer. */
    ASSERT_TRUE(c->t.out == NULL && s->t.out == NULL);
    ASSERT_EQ(hl_tls_failure(&c->t), HL_TLS_FAIL_NONE);
    free(up);
    free(down);
    peer_free(c);
    peer_free(s);
  }
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

TEST(write_takes_what_fits_then_wants_write) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx();
  peer *c = client_new(cc, "localhost", NULL), *s = server_new(sc);
  ASSERT_EQ(hl_tls_write(&c->t, "x", 1), HL_TLS_WANT_READ); /* handshake first */
  pump(c, s);
  size_t n = 200000;
  char *data = random_bytes(n);
  int r = hl_tls_write(&c->t, data, n);
  ASSERT_GT(r, 16384);
  ASSERT_LT(r, HL_TLS_OUT_BYTES);
  ASSERT_LE(hl_tls_out(&c->t).len, (size_t)HL_TLS_OUT_BYTES);
  ASSERT_EQ(hl_tls_write(&c->t, data + r, n - (size_t)r), HL_TLS_WANT_WRITE);
  ASSERT_EQ(hl_tls_write(&c->t, data, 0), 0);
  size_t off = (size_t)r;
  send_all(c, s, data + off, n - off);
  ASSERT_MEM_EQ(s->rx, s->rx_len, data, n);
  free(data);
  peer_free(c);
  peer_free(s);
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

static void resumption_round(uint16_t server_max, bool single_use) {
  hl_tls_ctx *cc = client_ctx();
  hl_tls_ctx *sc = server_ctx_v(test_pki()->good, test_pki()->good_key, 0, server_max);
  hl_tls_sessions store;
  hl_tls_sessions_init(&store);
  peer *c = client_new(cc, "localhost", &store), *s = server_new(sc);
  connect_pair(c, s);
  ASSERT_FALSE(hl_tls_session_reused(&c->t));
  /* TLS 1.3 tickets come after the handshake and are read with the first
   * response bytes. */
  send_all(s, c, "HTTP/1.1 200 OK\r\n", 17);
  ASSERT_GE(store.n, 1);
  ASSERT_EQ(store.saved, store.n);
  peer_free(c);
  peer_free(s);
  for (int i = 0; i < 3; i++) {
    uint32_t before = store.n;
    c = client_new(cc, "localhost", &store);
    s = server_new(sc);
    ASSERT_EQ(store.n, single_use ? before - 1 : before);
    connect_pair(c, s);
    send_all(s, c, "ok", 2);
    ASSERT_TRUE(hl_tls_session_reused(&c->t));
    ASSERT_TRUE(hl_tls_session_reused(&s->t));
    ASSERT_EQ(hl_tls_failure(&c->t), HL_TLS_FAIL_NONE);
    peer_free(c);
    peer_free(s);
  }
  ASSERT_EQ(store.offered, 3);
  ASSERT_LE(store.n, HL_TLS_SESSIONS_PER_ORIGIN);
  hl_tls_sessions_clear(&store);
  ASSERT_EQ(store.n, 0);
  /* An empty store: a full handshake again. */
  c = client_new(cc, "localhost", &store);
  s = server_new(sc);
  connect_pair(c, s);
  ASSERT_FALSE(hl_tls_session_reused(&c->t));
  peer_free(c);
  peer_free(s);
  hl_tls_sessions_clear(&store);
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

TEST(second_connection_resumes_tls13) {
  resumption_round(0, true);
}

TEST(second_connection_resumes_tls12) {
  resumption_round(HL_TLS_V1_2, false);
}

TEST(session_for_one_origin_does_not_serve_a_detached_connection) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx();
  hl_tls_sessions store;
  hl_tls_sessions_init(&store);
  peer *c = client_new(cc, "localhost", &store), *s = server_new(sc);
  connect_pair(c, s);
  hl_tls_set_sessions(&c->t, NULL); /* e.g. the origin went away */
  send_all(s, c, "data", 4);
  ASSERT_EQ(store.n, 0);
  ASSERT_MEM_EQ(c->rx, c->rx_len, "data", 4);
  peer_free(c);
  peer_free(s);
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

static void cert_failure(const char *cert, const char *key, const char *host, const char *reason,
                         const char *server_sees) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx_v(cert, key, 0, 0);
  peer *c = client_new(cc, host, NULL), *s = server_new(sc);
  connect_pair(c, s);
  ASSERT_EQ(c->last, HL_TLS_FAILED);
  ASSERT_FALSE(hl_tls_handshake_done(&c->t));
  expect_fail(c, HL_TLS_FAIL_CERTIFICATE, reason);
  /* The client told the server why (the alert went out with pump). */
  expect_fail(s, HL_TLS_FAIL_HANDSHAKE, server_sees);
  /* Every later call says the same. */
  ASSERT_EQ(hl_tls_handshake(&c->t), HL_TLS_FAILED);
  ASSERT_EQ(hl_tls_write(&c->t, "x", 1), HL_TLS_FAILED);
  char b[8];
  ASSERT_EQ(hl_tls_read(&c->t, b, sizeof(b)), HL_TLS_FAILED);
  peer_free(c);
  peer_free(s);
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

TEST(wrong_host_name_is_a_certificate_failure) {
  cert_failure(test_pki()->good, test_pki()->good_key, "hooks.example.com", "hostname mismatch",
               "bad certificate");
  /* A wildcard covers one label only. */
  cert_failure(test_pki()->good, test_pki()->good_key, "a.b.example.test", "hostname mismatch",
               "bad certificate");
}

TEST(untrusted_ca_is_a_certificate_failure) {
  cert_failure(test_pki()->untrusted, test_pki()->untrusted_key, "localhost",
               "unable to get local issuer certificate", "unknown CA");
}

TEST(expired_certificate_is_a_certificate_failure) {
  cert_failure(test_pki()->expired, test_pki()->expired_key, "localhost", "certificate has expired",
               "certificate expired");
}

TEST(ip_literals_are_checked_against_ip_sans) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx();
  const char *ok[] = {"127.0.0.1", "[::1]", "::1"};
  for (size_t i = 0; i < HL_ARRAY_LEN(ok); i++) {
    peer *c = client_new(cc, ok[i], NULL), *s = server_new(sc);
    connect_pair(c, s);
    ASSERT_TRUE(hl_tls_handshake_done(&c->t));
    peer_free(c);
    peer_free(s);
  }
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
  cert_failure(test_pki()->good, test_pki()->good_key, "127.0.0.2", "IP address mismatch",
               "bad certificate");
}

TEST(tls11_only_server_is_refused) {
  hl_tls_ctx *cc = client_ctx();
  hl_tls_ctx *sc = server_ctx_v(test_pki()->good, test_pki()->good_key, HL_TLS_V1_1, HL_TLS_V1_1);
  peer *c = client_new(cc, "localhost", NULL), *s = server_new(sc);
  connect_pair(c, s);
  expect_fail(c, HL_TLS_FAIL_HANDSHAKE, "alert from the peer: protocol version");
  expect_fail(s, HL_TLS_FAIL_HANDSHAKE, "unsupported protocol");
  peer_free(c);
  peer_free(s);
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

TEST(close_notify_is_a_clean_end) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx();
  peer *c = client_new(cc, "localhost", NULL), *s = server_new(sc);
  connect_pair(c, s);
  ASSERT_EQ(hl_tls_write(&s->t, "bye", 3), 3);
  ASSERT_EQ(hl_tls_shutdown(&s->t), 0);
  ASSERT_EQ(hl_tls_shutdown(&s->t), 0); /* once */
  pump(s, c);
  ASSERT_EQ(c->last, 0);
  ASSERT_MEM_EQ(c->rx, c->rx_len, "bye", 3);
  ASSERT_TRUE(hl_tls_closed_cleanly(&c->t));
  ASSERT_EQ(hl_tls_failure(&c->t), HL_TLS_FAIL_NONE);
  char b[8];
  ASSERT_EQ(hl_tls_read(&c->t, b, sizeof(b)), 0);
  hl_err err = {{0}};
  hl_tls_describe(&c->t, &err);
  ASSERT_CONTAINS(err.msg, "close_notify");
  /* The socket's end of file after close_notify changes nothing. */
  hl_tls_feed_eof(&c->t);
  ASSERT_EQ(hl_tls_read(&c->t, b, sizeof(b)), 0);
  peer_free(c);
  peer_free(s);
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

TEST(end_of_stream_without_close_notify_is_truncation) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx();
  peer *c = client_new(cc, "localhost", NULL), *s = server_new(sc);
  connect_pair(c, s);
  send_all(s, c, "partial", 7);
  /* Half a record, then the socket ends. */
  ASSERT_EQ(hl_tls_write(&s->t, "more", 4), 4);
  hl_span o = hl_tls_out(&s->t);
  hl_tls_feed(&c->t, o.ptr, o.len / 2);
  ASSERT_EQ(drive(c), HL_TLS_WANT_READ);
  hl_tls_feed_eof(&c->t);
  ASSERT_EQ(drive(c), HL_TLS_FAILED);
  expect_fail(c, HL_TLS_FAIL_CLOSED, "truncated");
  ASSERT_FALSE(hl_tls_closed_cleanly(&c->t));
  ASSERT_MEM_EQ(c->rx, c->rx_len, "partial", 7);
  peer_free(c);
  peer_free(s);
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

TEST(end_of_stream_during_handshake_is_a_handshake_failure) {
  hl_tls_ctx *cc = client_ctx();
  peer *c = client_new(cc, "localhost", NULL);
  ASSERT_EQ(drive(c), HL_TLS_WANT_READ);
  ASSERT_GT(hl_tls_out(&c->t).len, 0); /* the ClientHello */
  hl_tls_feed_eof(&c->t);
  ASSERT_EQ(drive(c), HL_TLS_FAILED);
  expect_fail(c, HL_TLS_FAIL_HANDSHAKE, "closed the connection during the handshake");
  peer_free(c);
  hl_tls_ctx_free(cc);
}

TEST(garbage_ciphertext_is_classified_not_a_crash) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx();
  /* A plain HTTP server answering a ClientHello. */
  peer *c = client_new(cc, "localhost", NULL);
  drive(c);
  const char *http = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  hl_tls_feed(&c->t, http, strlen(http));
  ASSERT_EQ(drive(c), HL_TLS_FAILED);
  expect_fail(c, HL_TLS_FAIL_HANDSHAKE, "wrong version number");
  peer_free(c);
  /* A plain HTTP client talking to a TLS server. */
  peer *s = server_new(sc);
  const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  hl_tls_feed(&s->t, get, strlen(get));
  ASSERT_EQ(drive(s), HL_TLS_FAILED);
  expect_fail(s, HL_TLS_FAIL_HANDSHAKE, "tls_handshake");
  peer_free(s);
  /* Random records after an established handshake. */
  for (int i = 0; i < 50; i++) {
    c = client_new(cc, "localhost", NULL);
    s = server_new(sc);
    connect_pair(c, s);
    char junk[300];
    for (size_t k = 0; k < sizeof(junk); k++) {
      junk[k] = (char)hl_test_rand();
    }
    if (i % 2) {
      memcpy(junk, "\x17\x03\x03\x01\x00", 5); /* a plausible application record */
    }
    hl_tls_feed(&c->t, junk, sizeof(junk));
    int r = drive(c);
    ASSERT_TRUE(r == HL_TLS_FAILED || r == HL_TLS_WANT_READ);
    if (r == HL_TLS_FAILED) {
      expect_fail(c, HL_TLS_FAIL_ALERT, "tls_alert");
    }
    peer_free(c);
    peer_free(s);
  }
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

TEST(peer_alert_after_handshake_is_tls_alert) {
  hl_tls_ctx *cc = client_ctx(), *sc = server_ctx();
  peer *c = client_new(cc, "localhost", NULL), *s = server_new(sc);
  connect_pair(c, s);
  /* Corrupt one byte of a record in flight: the server fails to decrypt
   * and tells the client. */
  ASSERT_EQ(hl_tls_write(&c->t, "hello", 5), 5);
  hl_span o = hl_tls_out(&c->t);
  char *wire = malloc(o.len);
  memcpy(wire, o.ptr, o.len);
  wire[o.len - 3] ^= 0x40;
  hl_tls_feed(&s->t, wire, o.len);
  hl_tls_out_sent(&c->t, o.len);
  ASSERT_EQ(drive(s), HL_TLS_FAILED);
  expect_fail(s, HL_TLS_FAIL_ALERT, "decrypt");
  ASSERT_GT(hl_tls_out(&s->t).len, 0); /* the alert for the client */
  pump(s, c);
  expect_fail(c, HL_TLS_FAIL_ALERT, "alert from the peer: bad record mac");
  free(wire);
  peer_free(c);
  peer_free(s);
  hl_tls_ctx_free(cc);
  hl_tls_ctx_free(sc);
}

TEST(contexts_refuse_bad_files_with_clear_errors) {
  hl_tls_ctx *c = NULL;
  hl_err err = {{0}};
  hl_tls_client_options co = {.ca_file = "/nonexistent/ca.pem", .no_system_cas = true};
  ASSERT_EQ(hl_tls_ctx_client_new(&co, &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "ca_file: cannot read /nonexistent/ca.pem");
  ASSERT_TRUE(c == NULL);
  co.ca_file = test_pki()->good_key; /* a key, not a certificate */
  ASSERT_EQ(hl_tls_ctx_client_new(&co, &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "holds no PEM certificate");

  hl_tls_server_options so = {.cert_file = test_pki()->good, .key_file = test_pki()->expired_key};
  ASSERT_EQ(hl_tls_ctx_server_new(&so, &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "does not match the certificate");
  so.key_file = "/nonexistent/key.pem";
  ASSERT_EQ(hl_tls_ctx_server_new(&so, &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "key_file: cannot read");
  so.key_file = test_pki()->good; /* a certificate, not a key */
  ASSERT_EQ(hl_tls_ctx_server_new(&so, &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "holds no PEM private key");
  so.cert_file = test_pki()->good_key;
  so.key_file = test_pki()->good_key;
  ASSERT_EQ(hl_tls_ctx_server_new(&so, &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "cert_file");
  so.cert_file = NULL;
  ASSERT_EQ(hl_tls_ctx_server_new(&so, &c, &err), -EINVAL);
  so = (hl_tls_server_options){.cert_file = test_pki()->good, .key_file = test_pki()->good_key,
                               .min_version = HL_TLS_V1_3, .max_version = HL_TLS_V1_2};
  ASSERT_EQ(hl_tls_ctx_server_new(&so, &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "min_version");
  ASSERT_TRUE(c == NULL);
  hl_tls_ctx_free(NULL);
}

TEST(bad_hosts_are_refused) {
  hl_tls_ctx *cc = client_ctx();
  hl_tls t;
  hl_err err = {{0}};
  ASSERT_EQ(hl_tls_client_init(&t, cc, HL_SPAN_LIT(""), NULL, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "host");
  ASSERT_EQ(hl_tls_client_init(&t, cc, HL_SPAN_LIT("a\0b"), NULL, &err), -EINVAL);
  ASSERT_EQ(hl_tls_client_init(&t, cc, HL_SPAN_LIT("[]"), NULL, &err), -EINVAL);
  hl_tls_cleanup(&t); /* left clean by the failures */
  hl_tls_ctx_free(cc);
}

TEST(system_bundle_loads) {
  if (access(HL_TLS_SYSTEM_CA_FILE, R_OK) != 0) {
    TEST_SKIP("no system CA bundle");
  }
  hl_tls_client_options o = {0};
  hl_tls_ctx *c = NULL;
  hl_err err = {{0}};
  ASSERT_EQ(hl_tls_ctx_client_new(&o, &c, &err), 0);
  /* It trusts public CAs, not the test root. */
  hl_tls_ctx *sc = server_ctx();
  peer *cl = client_new(c, "localhost", NULL), *s = server_new(sc);
  connect_pair(cl, s);
  expect_fail(cl, HL_TLS_FAIL_CERTIFICATE, "unable to get local issuer certificate");
  peer_free(cl);
  peer_free(s);
  hl_tls_ctx_free(sc);
  hl_tls_ctx_free(c);
}
