/* Tests for base/spsc: ordering, wrap-around, fullness, and two threads. */
#include "base/spsc.h"

#include <pthread.h>
#include <sched.h>

#include "harness.h"

TEST(records_come_out_in_order_across_wraps) {
  hl_spsc q;
  ASSERT_EQ(hl_spsc_init(&q, 4096), 0);
  uint32_t next_in = 0, next_out = 0;
  for (int round = 0; round < 2000; round++) {
    /* Odd sizes so records straddle the end of the buffer in every way. */
    int burst = 1 + (int)(hl_test_rand() % 7);
    for (int i = 0; i < burst; i++) {
      size_t len = 4 + hl_test_rand() % 300;
      uint8_t *p = hl_spsc_reserve(&q, len);
      if (p == NULL) {
        break;
      }
      ASSERT_EQ((uintptr_t)p % 8, 0);
      memcpy(p, &next_in, 4);
      memset(p + 4, (int)(next_in & 0xff), len - 4);
      next_in++;
    }
    hl_spsc_publish(&q);
    int take = (int)(hl_test_rand() % 8);
    for (int i = 0; i < take; i++) {
      size_t len;
      const uint8_t *p = hl_spsc_peek(&q, &len);
      if (p == NULL) {
        break;
      }
      uint32_t seq;
      memcpy(&seq, p, 4);
      ASSERT_EQ(seq, next_out);
      for (size_t k = 4; k < len; k++) {
        ASSERT_EQ(p[k], (uint8_t)(seq & 0xff));
      }
      hl_spsc_pop(&q);
      next_out++;
    }
  }
  size_t len;
  while (hl_spsc_peek(&q, &len) != NULL) {
    hl_spsc_pop(&q);
    next_out++;
  }
  ASSERT_EQ(next_out, next_in);
  ASSERT_GT(next_in, 3000);
  ASSERT_TRUE(hl_spsc_empty(&q));
  hl_spsc_cleanup(&q);
}

TEST(full_queue_refuses_and_unpublished_records_are_invisible) {
  hl_spsc q;
  ASSERT_EQ(hl_spsc_init(&q, 4096), 0);
  ASSERT_TRUE(hl_spsc_reserve(&q, hl_spsc_record_max(&q) + 1) == NULL);
  int n = 0;
  while (hl_spsc_reserve(&q, 100) != NULL) {
    n++;
  }
  ASSERT_EQ(n, 4096 / 112);
  size_t len;
  ASSERT_TRUE(hl_spsc_peek(&q, &len) == NULL); /* nothing published yet */
  hl_spsc_publish(&q);
  ASSERT_TRUE(hl_spsc_peek(&q, &len) != NULL);
  ASSERT_EQ(len, 100);
  hl_spsc_pop(&q);
  ASSERT_TRUE(hl_spsc_reserve(&q, 100) != NULL); /* room again */
  hl_spsc_cleanup(&q);
}

TEST(largest_record_always_fits_an_empty_queue) {
  hl_spsc q;
  ASSERT_EQ(hl_spsc_init(&q, 8192), 0);
  size_t max = hl_spsc_record_max(&q);
  for (int i = 0; i < 50; i++) {
    /* Leave the head at an awkward offset, drain, then place a max record. */
    ASSERT_TRUE(hl_spsc_reserve(&q, 8 * (size_t)(i + 1)) != NULL);
    hl_spsc_publish(&q);
    size_t len;
    hl_spsc_peek(&q, &len);
    hl_spsc_pop(&q);
    ASSERT_TRUE(hl_spsc_reserve(&q, max) != NULL);
    hl_spsc_publish(&q);
    ASSERT_TRUE(hl_spsc_peek(&q, &len) != NULL);
    ASSERT_EQ(len, max);
    hl_spsc_pop(&q);
  }
  hl_spsc_cleanup(&q);
}

enum { THREAD_RECORDS = 2000000 };

static void *consumer_thread(void *arg) {
  hl_spsc *q = arg;
  uint64_t expect = 0, bad = 0;
  while (expect < THREAD_RECORDS) {
    size_t len;
    const uint64_t *p = hl_spsc_peek(q, &len);
    if (p == NULL) {
      sched_yield();
      continue;
    }
    if (len != 8 + (expect % 5) * 8 || p[0] != expect) {
      bad++;
    }
    hl_spsc_pop(q);
    expect++;
  }
  return (void *)(uintptr_t)bad;
}

TEST(two_threads_pass_millions_of_records_intact) {
  hl_spsc q;
  ASSERT_EQ(hl_spsc_init(&q, 1 << 16), 0);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, NULL, consumer_thread, &q), 0);
  for (uint64_t i = 0; i < THREAD_RECORDS;) {
    uint64_t *p = hl_spsc_reserve(&q, 8 + (i % 5) * 8);
    if (p == NULL) {
      hl_spsc_publish(&q);
      sched_yield();
      continue;
    }
    p[0] = i++;
    if (i % 16 == 0) {
      hl_spsc_publish(&q);
    }
  }
  hl_spsc_publish(&q);
  void *bad;
  pthread_join(t, &bad);
  ASSERT_EQ((uintptr_t)bad, 0);
  hl_spsc_cleanup(&q);
}

TEST(cursor_reads_a_batch_and_frees_only_on_release) {
  hl_spsc q;
  ASSERT_EQ(hl_spsc_init(&q, 4096), 0);
  for (uint64_t i = 0; i < 10; i++) {
    uint64_t *p = hl_spsc_reserve(&q, 8);
    *p = i;
  }
  hl_spsc_publish(&q);
  hl_spsc_cursor c = hl_spsc_begin(&q);
  size_t len;
  const uint64_t *r;
  uint64_t want = 0;
  while ((r = hl_spsc_next(&q, &c, &len)) != NULL) {
    ASSERT_EQ(*r, want++);
  }
  ASSERT_EQ(want, 10);
  /* Not released: a second pass sees them again (as after a failed commit). */
  c = hl_spsc_begin(&q);
  r = hl_spsc_next(&q, &c, &len);
  ASSERT_EQ(*r, 0);
  while (hl_spsc_next(&q, &c, &len) != NULL) {
  }
  hl_spsc_release(&q, c);
  ASSERT_TRUE(hl_spsc_empty(&q));
  hl_spsc_cleanup(&q);
}
