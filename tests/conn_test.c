/* Unit tests for io/conn's pure parts: the state transition table (every
 * (state, event) pair checked against the legal list, and the documented
 * paths walk through), the error class names (stable, unique, complete),
 * and option checking. The connection paths themselves run against real
 * servers in it_client_nginx_test. */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "harness.h"
#include "io/conn.h"

typedef struct legal {
  hl_conn_state from;
  hl_conn_event ev;
  hl_conn_state to;
} legal;

static const legal legal_moves[] = {
    {HL_CONN_FREE, HL_CONN_EV_OPEN, HL_CONN_CONNECTING},
    {HL_CONN_CONNECTING, HL_CONN_EV_NEXT_ADDR, HL_CONN_CONNECTING},
    {HL_CONN_CONNECTING, HL_CONN_EV_CONNECTED, HL_CONN_HANDSHAKE},
    {HL_CONN_CONNECTING, HL_CONN_EV_CONNECTED_PLAIN, HL_CONN_READY},
    {HL_CONN_CONNECTING, HL_CONN_EV_CLOSE, HL_CONN_CLOSED},
    {HL_CONN_HANDSHAKE, HL_CONN_EV_HANDSHAKEN, HL_CONN_READY},
    {HL_CONN_HANDSHAKE, HL_CONN_EV_CLOSE, HL_CONN_CLOSED},
    {HL_CONN_READY, HL_CONN_EV_START, HL_CONN_BUSY},
    {HL_CONN_READY, HL_CONN_EV_CLOSE, HL_CONN_CLOSED},
    {HL_CONN_BUSY, HL_CONN_EV_FINISH, HL_CONN_READY},
    {HL_CONN_BUSY, HL_CONN_EV_CLOSE, HL_CONN_CLOSED},
    {HL_CONN_CLOSED, HL_CONN_EV_FREED, HL_CONN_FREE},
};

TEST(transition_table_allows_exactly_the_documented_moves) {
  size_t legal_seen = 0;
  for (int s = 0; s < HL_CONN_STATE_COUNT_; s++) {
    for (int e = 0; e < HL_CONN_EVENT_COUNT_; e++) {
      hl_conn_state want = HL_CONN_STATE_COUNT_;
      for (size_t i = 0; i < sizeof(legal_moves) / sizeof(legal_moves[0]); i++) {
        if (legal_moves[i].from == (hl_conn_state)s && legal_moves[i].ev == (hl_conn_event)e) {
          want = legal_moves[i].to;
          legal_seen++;
        }
      }
      hl_conn_state got = hl_conn_next((hl_conn_state)s, (hl_conn_event)e);
      if (got != want) {
        hl_test_fail(__FILE__, __LINE__, "state %s, event %d: got %s, want %s",
                     hl_conn_state_name((hl_conn_state)s), e, hl_conn_state_name(got),
                     hl_conn_state_name(want));
      }
    }
  }
  ASSERT_EQ(legal_seen, sizeof(legal_moves) / sizeof(legal_moves[0]));
}

TEST(out_of_range_states_and_events_are_illegal) {
  ASSERT_EQ(hl_conn_next(HL_CONN_STATE_COUNT_, HL_CONN_EV_OPEN), HL_CONN_STATE_COUNT_);
  ASSERT_EQ(hl_conn_next(HL_CONN_FREE, HL_CONN_EVENT_COUNT_), HL_CONN_STATE_COUNT_);
  ASSERT_STR_EQ(hl_conn_state_name(HL_CONN_STATE_COUNT_), "unknown");
}

/* A keep-alive life: open, connect, handshake, three requests, close. */
TEST(a_keep_alive_life_walks_the_table) {
  static const hl_conn_event path[] = {
      HL_CONN_EV_OPEN,   HL_CONN_EV_NEXT_ADDR, HL_CONN_EV_CONNECTED, HL_CONN_EV_HANDSHAKEN,
      HL_CONN_EV_START,  HL_CONN_EV_FINISH,    HL_CONN_EV_START,     HL_CONN_EV_FINISH,
      HL_CONN_EV_START,  HL_CONN_EV_CLOSE,     HL_CONN_EV_FREED,
  };
  hl_conn_state s = HL_CONN_FREE;
  for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
    s = hl_conn_next(s, path[i]);
    ASSERT_NE(s, HL_CONN_STATE_COUNT_);
  }
  ASSERT_EQ(s, HL_CONN_FREE);
  /* A request cannot start before the handshake, nor twice at once. */
  ASSERT_EQ(hl_conn_next(HL_CONN_HANDSHAKE, HL_CONN_EV_START), HL_CONN_STATE_COUNT_);
  ASSERT_EQ(hl_conn_next(HL_CONN_BUSY, HL_CONN_EV_START), HL_CONN_STATE_COUNT_);
  /* A closed connection cannot be closed again or reused. */
  ASSERT_EQ(hl_conn_next(HL_CONN_CLOSED, HL_CONN_EV_CLOSE), HL_CONN_STATE_COUNT_);
  ASSERT_EQ(hl_conn_next(HL_CONN_CLOSED, HL_CONN_EV_START), HL_CONN_STATE_COUNT_);
}

TEST(error_class_names_are_stable_and_unique) {
  static const char *const expected[HL_NETERR_COUNT_] = {
      "ok",           "dns_nxdomain",    "dns_timeout",     "dns_error",
      "policy_refused", "connect_refused", "connect_timeout", "connect_error",
      "tls_certificate", "tls_handshake",  "tls_alert",       "tls_timeout",
      "write_error",  "response_timeout", "request_timeout", "protocol_error",
      "body_too_large", "closed_early",   "pool_full",       "client_busy",
      "canceled",
  };
  for (int i = 0; i < HL_NETERR_COUNT_; i++) {
    ASSERT_STR_EQ(hl_neterr_name((hl_neterr)i), expected[i]);
    for (int j = 0; j < i; j++) {
      ASSERT_TRUE(strcmp(hl_neterr_name((hl_neterr)i), hl_neterr_name((hl_neterr)j)) != 0);
    }
  }
  ASSERT_STR_EQ(hl_neterr_name(HL_NETERR_COUNT_), "unknown");
  ASSERT_STR_EQ(hl_neterr_name((hl_neterr)-1), "unknown");
}

static void nop_ready(void *ctx, uint32_t id) {
  (void)ctx;
  (void)id;
}
static void nop_data(void *ctx, uint32_t id, const char *p, size_t n) {
  (void)ctx;
  (void)id;
  (void)p;
  (void)n;
}
static void nop_end(void *ctx, uint32_t id, const hl_conn_end *e) {
  (void)ctx;
  (void)id;
  (void)e;
}

TEST(options_are_checked_with_a_clear_error) {
  hl_loop *loop;
  hl_err err;
  hl_loop_options lo = hl_loop_options_default();
  lo.recv_bufs = 64;
  ASSERT_EQ(hl_loop_new(&lo, &loop, &err), 0);
  hl_conns *m;
  hl_conns_options o = {.conns_max = 0, .cb = {nop_ready, nop_ready, nop_data, nop_end}};
  ASSERT_EQ(hl_conns_new(loop, &o, &m, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "conns_max");
  o.conns_max = 4;
  o.cb.on_end = NULL;
  ASSERT_EQ(hl_conns_new(loop, &o, &m, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "callback");
  o.cb.on_end = nop_end;
  ASSERT_EQ(hl_conns_new(loop, &o, &m, &err), 0);
  /* No address, too many addresses: refused before anything happens. */
  struct sockaddr_storage addrs[HL_CONN_ADDRS_MAX + 1];
  memset(addrs, 0, sizeof(addrs));
  hl_conn_target t = {.addrs = addrs, .addrs_len = 0};
  uint32_t id;
  ASSERT_EQ(hl_conn_open(m, &t, &id, &err), -EINVAL);
  t.addrs_len = HL_CONN_ADDRS_MAX + 1;
  ASSERT_EQ(hl_conn_open(m, &t, &id, &err), -EINVAL);
  hl_conns_stats st;
  hl_conns_stats_get(m, &st);
  ASSERT_EQ(st.opened, 0u);
  /* Every address refused by the policy: -EACCES naming the rule, and the
   * slot goes straight back (nothing was submitted). */
  hl_netpolicy pol;
  hl_netpolicy_init(&pol);
  struct sockaddr_in *a0 = (struct sockaddr_in *)&addrs[0];
  a0->sin_family = AF_INET;
  a0->sin_port = htons(80);
  a0->sin_addr.s_addr = htonl(0x7f000001);
  struct sockaddr_in *a1 = (struct sockaddr_in *)&addrs[1];
  *a1 = *a0;
  a1->sin_addr.s_addr = htonl(0xa9fea9fe); /* 169.254.169.254 */
  t = (hl_conn_target){.addrs = addrs, .addrs_len = 2, .policy = &pol};
  ASSERT_EQ(hl_conn_open(m, &t, &id, &err), -EACCES);
  ASSERT_CONTAINS(err.msg, "169.254.169.254");
  hl_conns_stats_get(m, &st);
  ASSERT_EQ(st.policy_refused, 2u);
  ASSERT_EQ(st.live, 0u);
  hl_conns_free(m);
  hl_loop_free(loop);
}
