/* Unit tests for http/pool: origin keys, the origin table (lookup, LRU
 * recycling, refusal when every entry is busy), connection counts against
 * both limits, LIFO idle reuse with a global oldest, FIFO waiters with
 * removal from the middle and a bound, and the blocked-origin list; plus a
 * randomised run against a simple model. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/assert.h"
#include "harness.h"
#include "http/pool.h"

static hl_origin_key key_of(const char *url, uint8_t profile) {
  hl_url u;
  hl_err err;
  hl_origin_key k;
  HL_ASSERT(hl_url_parse(hl_span_cstr(url), &u, &err) == 0);
  hl_origin_key_from_url(&u, profile, &k);
  return k;
}

static hl_pool_limits small_limits(void) {
  return (hl_pool_limits){.origins_max = 4, .conns_max = 6, .conn_ids_max = 8,
                          .conns_per_origin_max = 3,
                          .requests_max = 16, .waiters_per_origin_max = 2};
}

static size_t recycled_count;
static void count_recycle(void *ctx, uint32_t origin) {
  (void)ctx;
  (void)origin;
  recycled_count++;
}

TEST(origin_keys_normalise_case_ipv6_and_default_port) {
  hl_origin_key a = key_of("https://Example.COM/x", 0);
  hl_origin_key b = key_of("https://example.com:443/y?q", 0);
  ASSERT_TRUE(hl_origin_key_eq(&a, &b));
  ASSERT_EQ(hl_origin_key_hash(&a), hl_origin_key_hash(&b));
  ASSERT_STR_EQ(a.host, "example.com");
  hl_origin_key c = key_of("http://example.com/", 0);
  ASSERT_FALSE(hl_origin_key_eq(&a, &c)); /* scheme and port differ */
  hl_origin_key d = key_of("https://example.com/", 1);
  ASSERT_FALSE(hl_origin_key_eq(&a, &d)); /* TLS profile differs */
  hl_origin_key e = key_of("https://example.com:8443/", 0);
  ASSERT_FALSE(hl_origin_key_eq(&a, &e));
  hl_origin_key v1 = key_of("https://[0:0::1]:8443/", 0);
  hl_origin_key v2 = key_of("https://[::1]:8443/", 0);
  ASSERT_TRUE(hl_origin_key_eq(&v1, &v2));
  ASSERT_STR_EQ(v1.host, "::1");
}

TEST(init_refuses_zero_limits) {
  hl_pool p;
  hl_pool_limits l = small_limits();
  l.conns_max = 0;
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), -EINVAL);
  l = small_limits();
  l.origins_max = HL_ORIGINS_MAX + 1;
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), -EINVAL);
  l = small_limits();
  l.conn_ids_max = l.conns_max - 1; /* ids must cover every counted connection */
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), -EINVAL);
}

TEST(origin_table_finds_recycles_lru_and_refuses_when_busy) {
  hl_pool p;
  hl_pool_limits l = small_limits();
  recycled_count = 0;
  ASSERT_EQ(hl_pool_init(&p, &l, count_recycle, NULL), 0);
  char url[64];
  uint32_t o[4];
  for (int i = 0; i < 4; i++) {
    snprintf(url, sizeof(url), "https://h%d.example/", i);
    hl_origin_key k = key_of(url, 0);
    ASSERT_EQ(hl_pool_origin_get(&p, &k, &o[i]), 0);
  }
  /* Same key again: same entry, one more reference. */
  hl_origin_key k0 = key_of("https://H0.example/", 0);
  uint32_t again;
  ASSERT_EQ(hl_pool_origin_get(&p, &k0, &again), 0);
  ASSERT_EQ(again, o[0]);
  ASSERT_EQ(p.origins[o[0]].refs, 2u);
  /* Every entry referenced: a fifth origin is refused. */
  hl_origin_key k5 = key_of("https://h5.example/", 0);
  uint32_t o5;
  ASSERT_EQ(hl_pool_origin_get(&p, &k5, &o5), -ENOSPC);
  ASSERT_EQ(p.origins_full, 1u);
  /* Drop h2 then h1: h2 is least recently unused, so it is recycled first. */
  hl_pool_origin_put(&p, o[2]);
  hl_pool_origin_put(&p, o[1]);
  ASSERT_EQ(hl_pool_origin_get(&p, &k5, &o5), 0);
  ASSERT_EQ(o5, o[2]);
  ASSERT_EQ(recycled_count, 1u);
  /* h2 is gone, h1 still cached. */
  hl_origin_key k1 = key_of("https://h1.example/", 0);
  uint32_t o1;
  ASSERT_EQ(hl_pool_origin_get(&p, &k1, &o1), 0);
  ASSERT_EQ(o1, o[1]);
  /* An origin with a connection but no reference is not recyclable. */
  hl_pool_conn_opened(&p, o1, 0);
  hl_pool_origin_put(&p, o1);
  hl_origin_key k6 = key_of("https://h6.example/", 0);
  uint32_t o6;
  ASSERT_EQ(hl_pool_origin_get(&p, &k6, &o6), -ENOSPC);
  hl_pool_conn_closed(&p, 0);
  ASSERT_EQ(hl_pool_origin_get(&p, &k6, &o6), 0);
  ASSERT_EQ(o6, o1);
  hl_pool_cleanup(&p);
  ASSERT_EQ(recycled_count, 2u + 4u); /* two recycled, four live at cleanup */
}

TEST(connection_limits_per_origin_and_total) {
  hl_pool p;
  hl_pool_limits l = small_limits();
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), 0);
  hl_origin_key ka = key_of("https://a.example/", 0), kb = key_of("https://b.example/", 0);
  hl_origin_key kc = key_of("https://c.example/", 0);
  uint32_t a, b, c;
  ASSERT_EQ(hl_pool_origin_get(&p, &ka, &a), 0);
  ASSERT_EQ(hl_pool_origin_get(&p, &kb, &b), 0);
  ASSERT_EQ(hl_pool_origin_get(&p, &kc, &c), 0);
  uint32_t id = 0;
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(hl_pool_can_open(&p, a));
    hl_pool_conn_opened(&p, a, id++);
  }
  ASSERT_FALSE(hl_pool_can_open(&p, a)); /* per-origin limit */
  ASSERT_TRUE(hl_pool_can_open(&p, b));
  for (int i = 0; i < 3; i++) {
    hl_pool_conn_opened(&p, b, id++);
  }
  ASSERT_TRUE(hl_pool_total_full(&p));
  ASSERT_FALSE(hl_pool_can_open(&p, c)); /* total limit */
  hl_pool_conn_closed(&p, 1);
  ASSERT_TRUE(hl_pool_can_open(&p, c));
  ASSERT_TRUE(hl_pool_can_open(&p, a));
  ASSERT_EQ(p.conns_open, 5u);
  hl_pool_cleanup(&p);
}

/* A connection id may be above conns_max (closing connections keep theirs
 * for a while); the count is what is limited. */
TEST(connection_ids_above_the_count_limit_are_usable) {
  hl_pool p;
  hl_pool_limits l = small_limits();
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), 0);
  hl_origin_key ka = key_of("https://a.example/", 0);
  uint32_t a;
  ASSERT_EQ(hl_pool_origin_get(&p, &ka, &a), 0);
  hl_pool_conn_opened(&p, a, 7); /* conn_ids_max - 1 */
  hl_pool_idle_push(&p, 7);
  uint32_t got;
  ASSERT_TRUE(hl_pool_idle_pop(&p, a, &got));
  ASSERT_EQ(got, 7u);
  hl_pool_conn_closed(&p, 7);
  ASSERT_EQ(p.conns_open, 0u);
  hl_pool_cleanup(&p);
}

TEST(idle_is_lifo_per_origin_and_oldest_is_global) {
  hl_pool p;
  hl_pool_limits l = small_limits();
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), 0);
  hl_origin_key ka = key_of("https://a.example/", 0), kb = key_of("https://b.example/", 0);
  uint32_t a, b, got;
  ASSERT_EQ(hl_pool_origin_get(&p, &ka, &a), 0);
  ASSERT_EQ(hl_pool_origin_get(&p, &kb, &b), 0);
  hl_pool_conn_opened(&p, a, 0);
  hl_pool_conn_opened(&p, a, 1);
  hl_pool_conn_opened(&p, b, 2);
  hl_pool_conn_opened(&p, a, 3);
  ASSERT_FALSE(hl_pool_idle_oldest(&p, &got));
  hl_pool_idle_push(&p, 0);
  hl_pool_idle_push(&p, 2);
  hl_pool_idle_push(&p, 1);
  hl_pool_idle_push(&p, 3);
  ASSERT_EQ(p.conns_idle, 4u);
  ASSERT_TRUE(hl_pool_idle_oldest(&p, &got));
  ASSERT_EQ(got, 0u);
  ASSERT_TRUE(hl_pool_idle_pop(&p, a, &got));
  ASSERT_EQ(got, 3u); /* most recent first */
  hl_pool_idle_remove(&p, 1); /* e.g. it turned readable */
  ASSERT_TRUE(hl_pool_idle_pop(&p, a, &got));
  ASSERT_EQ(got, 0u);
  ASSERT_FALSE(hl_pool_idle_pop(&p, a, &got));
  ASSERT_TRUE(hl_pool_idle_oldest(&p, &got));
  ASSERT_EQ(got, 2u);
  /* Closing an idle connection takes it off both lists. */
  hl_pool_conn_closed(&p, 2);
  ASSERT_FALSE(hl_pool_idle_oldest(&p, &got));
  ASSERT_EQ(p.conns_idle, 0u);
  ASSERT_EQ(p.origins[b].conns, 0u);
  hl_pool_cleanup(&p);
}

TEST(waiters_fifo_bounded_and_removable) {
  hl_pool p;
  hl_pool_limits l = small_limits();
  l.waiters_per_origin_max = 3;
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), 0);
  hl_origin_key ka = key_of("https://a.example/", 0);
  uint32_t a, r;
  ASSERT_EQ(hl_pool_origin_get(&p, &ka, &a), 0);
  ASSERT_EQ(hl_pool_wait_push(&p, a, 5), 0);
  ASSERT_EQ(hl_pool_wait_push(&p, a, 7), 0);
  ASSERT_EQ(hl_pool_wait_push(&p, a, 9), 0);
  ASSERT_EQ(hl_pool_wait_push(&p, a, 11), -ENOSPC);
  ASSERT_TRUE(hl_pool_req_waiting(&p, 7));
  hl_pool_wait_remove(&p, 7);
  ASSERT_FALSE(hl_pool_req_waiting(&p, 7));
  ASSERT_EQ(hl_pool_wait_push(&p, a, 11), 0);
  uint32_t order[3];
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(hl_pool_wait_pop(&p, a, &r));
    order[i] = r;
  }
  ASSERT_FALSE(hl_pool_wait_pop(&p, a, &r));
  ASSERT_EQ(order[0], 5u);
  ASSERT_EQ(order[1], 9u);
  ASSERT_EQ(order[2], 11u);
  hl_pool_cleanup(&p);
}

TEST(blocked_origins_in_order_once_and_dropped_when_recycled) {
  hl_pool p;
  hl_pool_limits l = small_limits();
  l.origins_max = 3;
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), 0);
  hl_origin_key ka = key_of("https://a.example/", 0), kb = key_of("https://b.example/", 0);
  hl_origin_key kc = key_of("https://c.example/", 0), kd = key_of("https://d.example/", 0);
  uint32_t a, b, c, d, o;
  ASSERT_EQ(hl_pool_origin_get(&p, &ka, &a), 0);
  ASSERT_EQ(hl_pool_origin_get(&p, &kb, &b), 0);
  ASSERT_EQ(hl_pool_origin_get(&p, &kc, &c), 0);
  hl_pool_blocked_mark(&p, b);
  hl_pool_blocked_mark(&p, a);
  hl_pool_blocked_mark(&p, b); /* idempotent */
  hl_pool_blocked_mark(&p, c);
  /* c loses its last reference and is recycled for d: it leaves the list. */
  hl_pool_origin_put(&p, c);
  ASSERT_EQ(hl_pool_origin_get(&p, &kd, &d), 0);
  ASSERT_EQ(d, c);
  ASSERT_TRUE(hl_pool_blocked_next(&p, &o));
  ASSERT_EQ(o, b);
  ASSERT_TRUE(hl_pool_blocked_next(&p, &o));
  ASSERT_EQ(o, a);
  ASSERT_FALSE(hl_pool_blocked_next(&p, &o));
  hl_pool_cleanup(&p);
}

/* A random sequence of opens, parks, pops, closes checked against counts
 * kept by hand: totals, per-origin counts and idle counts always agree. */
TEST(random_operations_keep_counts_consistent) {
  hl_pool p;
  hl_pool_limits l = {.origins_max = 8, .conns_max = 20, .conn_ids_max = 20,
                      .conns_per_origin_max = 5,
                      .requests_max = 4, .waiters_per_origin_max = 1};
  ASSERT_EQ(hl_pool_init(&p, &l, NULL, NULL), 0);
  uint32_t origin_of[8];
  for (int i = 0; i < 8; i++) {
    char url[64];
    snprintf(url, sizeof(url), "http://o%d.example/", i);
    hl_origin_key k = key_of(url, 0);
    ASSERT_EQ(hl_pool_origin_get(&p, &k, &origin_of[i]), 0);
  }
  int conn_origin[20] = {0};
  bool open[20] = {false}, idle[20] = {false};
  for (int step = 0; step < 20000; step++) {
    uint32_t id = (uint32_t)(hl_test_rand() % 20);
    int oi = (int)(hl_test_rand() % 8);
    switch (hl_test_rand() % 4) {
    case 0:
      if (!open[id] && hl_pool_can_open(&p, origin_of[oi])) {
        hl_pool_conn_opened(&p, origin_of[oi], id);
        open[id] = true;
        conn_origin[id] = oi;
      }
      break;
    case 1:
      if (open[id] && !idle[id]) {
        hl_pool_idle_push(&p, id);
        idle[id] = true;
      }
      break;
    case 2: {
      uint32_t got;
      if (hl_pool_idle_pop(&p, origin_of[oi], &got)) {
        ASSERT_TRUE(idle[got] && conn_origin[got] == oi);
        idle[got] = false;
      }
      break;
    }
    default:
      if (open[id]) {
        hl_pool_conn_closed(&p, id);
        open[id] = idle[id] = false;
      }
      break;
    }
    uint32_t total = 0, idle_total = 0, per[8] = {0}, idle_per[8] = {0};
    for (int i = 0; i < 20; i++) {
      total += open[i];
      idle_total += idle[i];
      per[conn_origin[i]] += open[i];
      idle_per[conn_origin[i]] += idle[i];
    }
    ASSERT_EQ(p.conns_open, total);
    ASSERT_EQ(p.conns_idle, idle_total);
    for (int i = 0; i < 8; i++) {
      ASSERT_EQ(p.origins[origin_of[i]].conns, per[i]);
      ASSERT_EQ(p.origins[origin_of[i]].idle, idle_per[i]);
      ASSERT_LE(per[i], 5u);
    }
  }
  hl_pool_cleanup(&p);
}
