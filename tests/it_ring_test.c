/* Integration tests for the ring with real processes: several producer
 * processes at once (each message consumed exactly once, in per-producer
 * order), producers killed with SIGKILL at random points (nothing partial is
 * consumed, the lane comes back), a full lane (-EAGAIN after the timeout,
 * without burning CPU, then success once drained), an engine killed and
 * restarted (unreleased records read again), a version mismatch (refused on
 * both sides), permission denied (an unprivileged producer), and invalid
 * input rejected with its reason while nothing reaches the ring.
 *
 * Children never use the harness's ASSERTs (a failure would unwind into the
 * child's copy of the test runner); they report through their exit code. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "harness.h"
#include "hookline/hookline.h"
#include "ring/consumer.h"
#include "ring/message.h"
#include "ring/ring_layout.h"

/* The first (in these tests, only) cursor of a consumer. */
#define K(c) hl_ring_consumer_cursor((c), 0)

#define LANE_BYTES (2u * 1024 * 1024)
#define NAMES_MAX 32

/* --- ring names: unique per test process, removed at exit ------------------ */

static char names[NAMES_MAX][128];
static size_t names_len;

static void unlink_all(void) {
  for (size_t i = 0; i < names_len; i++) {
    hl_ring_segment_unlink(names[i]);
  }
}

static const char *ring_name(const char *tag) {
  HL_ASSERT(names_len < NAMES_MAX);
  if (names_len == 0) {
    atexit(unlink_all);
  }
  snprintf(names[names_len], sizeof(names[0]), "hl_it_%d_%s", (int)getpid(), tag);
  return names[names_len++];
}

typedef struct corrupt_log {
  int count;
  char last[512];
} corrupt_log;

static void on_corrupt(void *ctx, uint32_t cursor, uint32_t lane, uint64_t pos,
                       const char *reason) {
  (void)cursor;
  (void)lane;
  (void)pos;
  corrupt_log *log = ctx;
  log->count++;
  snprintf(log->last, sizeof(log->last), "%s", reason);
}

static hl_ring_consumer *engine(const char *name, uint32_t lanes, uint32_t mode,
                                corrupt_log *log) {
  hl_ring_consumer_options o = {.create = true,
                                .lanes = lanes,
                                .lane_bytes = LANE_BYTES,
                                .mode = mode,
                                .inflight_per_lane = 4096,
                                .on_corrupt = on_corrupt,
                                .on_corrupt_ctx = log};
  hl_ring_consumer *c = NULL;
  hl_err err;
  if (hl_ring_consumer_open(&c, name, &o, &err) != 0) {
    hl_test_fail(__FILE__, __LINE__, "engine attach: %s", err.msg);
  }
  return c;
}

/* wait_for_work sleeps the way the engine does: announce, re-check, wait. */
static void wait_for_work(hl_ring_consumer *c, int64_t max_ms) {
  uint32_t *word, expected;
  if (hl_ring_cursor_prepare_sleep(K(c), &word, &expected) == 0) {
    hl_ring_futex_wait((_Atomic uint32_t *)word, expected, max_ms);
  }
  hl_ring_cursor_end_sleep(K(c));
}

static pid_t spawn(void (*fn)(const char *, int, int), const char *ring, int a, int b) {
  pid_t pid = fork();
  HL_ASSERT(pid >= 0);
  if (pid == 0) {
    fn(ring, a, b);
    _exit(0);
  }
  return pid;
}

static int wait_exit(pid_t pid) {
  int status;
  if (waitpid(pid, &status, 0) != pid) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --- message contents both sides agree on ---------------------------------- */

/* fill_data writes {"p":P,"seq":S,"pad":"ccc..."} with a pad whose length
 * and letter follow from S, so the consumer can check every byte. */
static size_t fill_data(char *buf, size_t cap, int p, uint64_t seq, size_t pad_max) {
  size_t pad = pad_max > 0 ? (size_t)(seq * 7919 % pad_max) : 0;
  int n = snprintf(buf, cap, "{\"p\":%d,\"seq\":%llu,\"pad\":\"", p, (unsigned long long)seq);
  HL_ASSERT(n > 0 && (size_t)n + pad + 3 < cap);
  memset(buf + n, 'a' + (int)(seq % 26), pad);
  memcpy(buf + n + pad, "\"}", 3);
  return (size_t)n + pad + 2;
}

/* check_data parses what fill_data wrote; returns false on any mismatch. */
static bool check_data(hl_span data, int *p, uint64_t *seq, size_t pad_max) {
  char buf[16384 + 128];
  if (data.len >= sizeof(buf)) {
    return false;
  }
  int pp;
  unsigned long long ss;
  memcpy(buf, data.ptr, data.len);
  buf[data.len] = '\0';
  if (sscanf(buf, "{\"p\":%d,\"seq\":%llu,", &pp, &ss) != 2) {
    return false;
  }
  char want[16384 + 128];
  size_t n = fill_data(want, sizeof(want), pp, ss, pad_max);
  if (n != data.len || memcmp(want, data.ptr, n) != 0) {
    return false;
  }
  *p = pp;
  *seq = ss;
  return true;
}

static void produce_n(const char *ring, int p, int n) {
  hl_producer *h;
  hl_error e;
  if (hl_producer_open(&h, ring, NULL, &e) != 0) {
    fprintf(stderr, "producer %d: %s\n", p, e.msg);
    _exit(10);
  }
  char data[512];
  char id[32];
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "p%d-%d", p, i);
    hl_message m = {.event = "it.order", .id = id, .data = data};
    m.data_len = fill_data(data, sizeof(data), p, (uint64_t)i, 64);
    int rc = hl_produce(h, &m, 10000, &e);
    if (rc != 0) {
      fprintf(stderr, "producer %d message %d: %s\n", p, i, e.msg);
      _exit(11);
    }
  }
  hl_producer_close(h);
}

/* --- tests ------------------------------------------------------------------ */

TEST(several_producers_each_message_once_in_order) {
  enum { PRODUCERS = 4, PER = 40000 };
  corrupt_log log = {0};
  const char *ring = ring_name("order");
  hl_ring_consumer *c = engine(ring, 8, 0600, &log);
  pid_t kids[PRODUCERS];
  for (int k = 0; k < PRODUCERS; k++) {
    kids[k] = spawn(produce_n, ring, k, PER);
  }
  uint64_t next[PRODUCERS] = {0};
  uint64_t total = 0;
  hl_ring_item items[256];
  hl_ring_token toks[256];
  uint64_t deadline = hl_clock_mono_ms() + 60000;
  while (total < (uint64_t)PRODUCERS * PER && hl_clock_mono_ms() < deadline) {
    size_t n = hl_ring_cursor_read(K(c), items, 256);
    if (n == 0) {
      wait_for_work(c, 100);
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      hl_msg m;
      hl_err err;
      ASSERT_EQ(hl_msg_decode(items[i].payload, &m, &err), (int)items[i].payload.len);
      int p;
      uint64_t seq;
      ASSERT_TRUE(check_data(m.data, &p, &seq, 64));
      ASSERT_TRUE(p >= 0 && p < PRODUCERS);
      ASSERT_EQ(seq, next[p]); /* in order, none lost, none twice */
      char id[32];
      snprintf(id, sizeof(id), "p%d-%llu", p, (unsigned long long)seq);
      ASSERT_SPAN_EQ(m.id, id);
      next[p]++;
      toks[i] = items[i].token;
    }
    /* Release in a scrambled order: the tails must still only move past
     * released prefixes, and nothing may be read twice. */
    for (size_t i = n; i > 1; i--) {
      size_t j = hl_test_rand() % i;
      hl_ring_token t = toks[i - 1];
      toks[i - 1] = toks[j];
      toks[j] = t;
    }
    ASSERT_EQ(hl_ring_cursor_release(K(c), toks, n), 0);
    total += n;
  }
  for (int k = 0; k < PRODUCERS; k++) {
    ASSERT_EQ(wait_exit(kids[k]), 0);
    ASSERT_EQ(next[k], PER);
  }
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 256), 0);
  ASSERT_EQ(log.count, 0);
  hl_ring_cursor_stats st = hl_ring_cursor_stats_get(K(c));
  ASSERT_EQ(st.records_read, (uint64_t)PRODUCERS * PER);
  ASSERT_EQ(st.records_released, st.records_read);
  /* Every producer closed: every lane is free again. */
  for (uint32_t l = 0; l < 8; l++) {
    hl_ring_lane_info info;
    hl_ring_cursor_lane_info(K(c), l, &info);
    ASSERT_EQ(info.owner, 0);
    ASSERT_EQ(info.tail, info.head);
  }
  hl_ring_consumer_close(c);
}

/* A worker thread with its own cursor, as the engine runs them: it must
 * see every message of every producer once, in per-producer order. */
enum { W_PRODUCERS = 3, W_PER = 20000 };

typedef struct worker {
  hl_ring_consumer *c;
  hl_ring_cursor *k;
  uint64_t next[W_PRODUCERS];
  uint64_t total;
  uint64_t seed;
  char failure[256];
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  hl_ring_item items[128];
  hl_ring_token toks[128];
  uint64_t deadline = hl_clock_mono_ms() + 60000;
  while (w->total < (uint64_t)W_PRODUCERS * W_PER && hl_clock_mono_ms() < deadline) {
    size_t n = hl_ring_cursor_read(w->k, items, 128);
    if (n == 0) {
      uint32_t *word, expected;
      if (hl_ring_cursor_prepare_sleep(w->k, &word, &expected) == 0) {
        hl_ring_futex_wait((_Atomic uint32_t *)word, expected, 100);
      }
      hl_ring_cursor_end_sleep(w->k);
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      hl_msg m;
      hl_err err;
      int p;
      uint64_t seq;
      if (hl_msg_decode(items[i].payload, &m, &err) < 0 || !check_data(m.data, &p, &seq, 64) ||
          p < 0 || p >= W_PRODUCERS || seq != w->next[p]) {
        snprintf(w->failure, sizeof(w->failure), "bad or out-of-order message after %llu",
                 (unsigned long long)w->total);
        return NULL;
      }
      w->next[p]++;
      toks[i] = items[i].token;
    }
    for (size_t i = n; i > 1; i--) {
      w->seed = w->seed * 6364136223846793005ull + 1442695040888963407ull;
      size_t j = (size_t)(w->seed >> 33) % i;
      hl_ring_token t = toks[i - 1];
      toks[i - 1] = toks[j];
      toks[j] = t;
    }
    if (hl_ring_cursor_release(w->k, toks, n) != 0) {
      snprintf(w->failure, sizeof(w->failure), "release failed");
      return NULL;
    }
    w->total += n;
  }
  return NULL;
}

TEST(worker_threads_each_see_every_message_from_every_process) {
  corrupt_log log = {0};
  const char *ring = ring_name("workers");
  hl_ring_consumer_options o = {.create = true,
                                .lanes = 4,
                                .lane_bytes = LANE_BYTES,
                                .cursors = 2,
                                .inflight_per_lane = 1024,
                                .on_corrupt = on_corrupt,
                                .on_corrupt_ctx = &log};
  hl_ring_consumer *c;
  hl_err err;
  ASSERT_EQ(hl_ring_consumer_open(&c, ring, &o, &err), 0);
  worker w[2];
  pthread_t th[2];
  for (uint32_t i = 0; i < 2; i++) {
    memset(&w[i], 0, sizeof(w[i]));
    w[i].c = c;
    w[i].k = hl_ring_consumer_cursor(c, i);
    w[i].seed = hl_test_rand();
    ASSERT_EQ(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  pid_t kids[W_PRODUCERS];
  for (int p = 0; p < W_PRODUCERS; p++) {
    kids[p] = spawn(produce_n, ring, p, W_PER);
  }
  for (int p = 0; p < W_PRODUCERS; p++) {
    ASSERT_EQ(wait_exit(kids[p]), 0);
  }
  for (uint32_t i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    ASSERT_STR_EQ(w[i].failure, "");
    for (int p = 0; p < W_PRODUCERS; p++) {
      ASSERT_EQ(w[i].next[p], W_PER);
    }
  }
  for (uint32_t l = 0; l < 4; l++) {
    hl_ring_lane_info info;
    hl_ring_cursor_lane_info(hl_ring_consumer_cursor(c, 0), l, &info);
    ASSERT_EQ(info.tail, info.head);
    ASSERT_EQ(info.owner, 0);
  }
  ASSERT_EQ(log.count, 0);
  hl_ring_consumer_close(c);
}

/* produce_forever opens the ring, says so on |fd|, and writes big messages
 * until it is killed. */
static void produce_forever(const char *ring, int fd, int pad_max) {
  hl_producer *h;
  hl_error e;
  if (hl_producer_open(&h, ring, NULL, &e) != 0 || write(fd, "S", 1) != 1) {
    _exit(10);
  }
  char *data = malloc(16384 + 128);
  for (uint64_t i = 0;; i++) {
    hl_message m = {.event = "it.kill", .data = data};
    m.data_len = fill_data(data, 16384 + 128, 0, i, (size_t)pad_max);
    if (hl_produce(h, &m, -1, &e) != 0) {
      _exit(11);
    }
  }
}

/* drain reads everything published so far by a producer of
 * produce_forever, checks that its messages are whole and follow *next, and
 * releases them. Returns how many it read. */
static uint64_t drain(hl_ring_consumer *c, int pad_max, uint64_t *next_seq) {
  hl_ring_item items[64];
  uint64_t next = *next_seq, start = next;
  for (;;) {
    size_t n = hl_ring_cursor_read(K(c), items, 64);
    if (n == 0) {
      uint32_t *word, expected;
      if (hl_ring_cursor_prepare_sleep(K(c), &word, &expected) == 0) {
        hl_ring_cursor_end_sleep(K(c));
        *next_seq = next;
        return next - start;
      }
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      hl_msg m;
      hl_err err;
      int p;
      uint64_t seq;
      if (hl_msg_decode(items[i].payload, &m, &err) < 0 ||
          !check_data(m.data, &p, &seq, (size_t)pad_max) || seq != next) {
        hl_test_fail(__FILE__, __LINE__, "message %llu of a killed producer is damaged",
                     (unsigned long long)next);
      }
      next++;
      hl_ring_cursor_release(K(c), &items[i].token, 1);
    }
  }
}

TEST(producer_killed_at_random_points_leaves_only_whole_messages) {
  corrupt_log log = {0};
  const char *ring = ring_name("kill");
  hl_ring_consumer *c = engine(ring, 2, 0600, &log);
  uint64_t total = 0;
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  for (int round = 0; round < 24; round++) {
    int pad_max = 16384;
    uint64_t next = 0;
    pid_t kid = spawn(produce_forever, ring, pipefd[1], pad_max);
    char b;
    ASSERT_EQ(read(pipefd[0], &b, 1), 1); /* it holds a lane now */
    /* Kill it after a random while: sometimes mid-message, sometimes while
     * it waits on a full lane (odd rounds do not drain meanwhile). */
    uint64_t until = hl_clock_mono_ms() + 1 + hl_test_rand() % 40;
    while (hl_clock_mono_ms() < until) {
      if (round % 2 == 0) {
        total += drain(c, pad_max, &next);
      } else {
        usleep(1000);
      }
    }
    kill(kid, SIGKILL);
    ASSERT_EQ(wait_exit(kid), 128 + SIGKILL);
    total += drain(c, pad_max, &next);
    /* Its records are all released: the lane comes back. */
    ASSERT_EQ(hl_ring_consumer_reap(c), 1);
    for (uint32_t l = 0; l < 2; l++) {
      hl_ring_lane_info info;
      hl_ring_cursor_lane_info(K(c), l, &info);
      ASSERT_EQ(info.owner, 0);
    }
  }
  ASSERT_GT(total, 100);
  ASSERT_EQ(log.count, 0);
  ASSERT_EQ(hl_ring_consumer_stats_get(c).lanes_reaped, 24);
  hl_ring_consumer_close(c);
  close(pipefd[0]);
  close(pipefd[1]);
}

TEST(dead_producers_lane_is_reclaimed_by_the_next_producer) {
  corrupt_log log = {0};
  const char *ring = ring_name("reclaim");
  hl_ring_consumer *c = engine(ring, 1, 0600, &log);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t kid = spawn(produce_forever, ring, pipefd[1], 100);
  char b;
  ASSERT_EQ(read(pipefd[0], &b, 1), 1);
  usleep(20000);
  kill(kid, SIGKILL);
  ASSERT_EQ(wait_exit(kid), 128 + SIGKILL);
  hl_producer *p;
  hl_error e;
  /* The only lane belongs to a dead process with unreleased records. */
  ASSERT_EQ(hl_producer_open(&p, ring, NULL, &e), -EBUSY);
  uint64_t next = 0;
  ASSERT_GT(drain(c, 100, &next), 0);
  ASSERT_EQ(hl_producer_open(&p, ring, NULL, &e), 0);
  hl_message m = {.event = "after", .data = "{}", .data_len = 2};
  ASSERT_EQ(hl_produce(p, &m, 0, &e), 0);
  hl_ring_item items[4];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 4), 1);
  hl_producer_close(p);
  hl_ring_consumer_close(c);
  close(pipefd[0]);
  close(pipefd[1]);
}

/* fill_then_wait: fills its lane, checks -EAGAIN (at once, then after a
 * 300 ms wait that costs almost no CPU), tells the parent, then succeeds
 * once the parent drains. Exit code says which step failed. */
static void fill_then_wait(const char *ring, int fd, int unused) {
  (void)unused;
  hl_producer *h;
  hl_error e;
  if (hl_producer_open(&h, ring, NULL, &e) != 0) {
    _exit(10);
  }
  char data[1024];
  int filled = 0;
  hl_message m = {.event = "it.full", .data = data};
  m.data_len = fill_data(data, sizeof(data), 0, 1, 900); /* ~750 bytes */
  int rc;
  while ((rc = hl_produce(h, &m, 0, &e)) == 0) {
    filled++;
  }
  if (rc != -EAGAIN || filled < 100 || strstr(e.msg, "full") == NULL) {
    _exit(12);
  }
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  uint64_t t0 = hl_clock_mono_ms();
  rc = hl_produce(h, &m, 300, &e);
  uint64_t waited = hl_clock_mono_ms() - t0;
  getrusage(RUSAGE_SELF, &r1);
  long cpu_us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000L +
                (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
                (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000L +
                (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
  if (rc != -EAGAIN || waited < 300) {
    _exit(13);
  }
  if (cpu_us > 30000) {
    fprintf(stderr, "waiting for space burned %ld us of CPU\n", cpu_us);
    _exit(14);
  }
  if (write(fd, &filled, sizeof(filled)) != (ssize_t)sizeof(filled)) {
    _exit(15);
  }
  /* The parent drains now; this blocks until it does. */
  rc = hl_produce(h, &m, 10000, &e);
  if (rc != 0) {
    _exit(16);
  }
  hl_producer_close(h);
  _exit(0);
}

TEST(full_lane_gives_eagain_after_timeout_then_succeeds_once_drained) {
  corrupt_log log = {0};
  const char *ring = ring_name("full");
  hl_ring_consumer *c = engine(ring, 1, 0600, &log);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t kid = spawn(fill_then_wait, ring, pipefd[1], 0);
  int filled = 0;
  /* The producer reports once it hit -EAGAIN twice. */
  ASSERT_EQ(read(pipefd[0], &filled, sizeof(filled)), (ssize_t)sizeof(filled));
  hl_ring_item items[4096];
  size_t n = hl_ring_cursor_read(K(c), items, 4096);
  ASSERT_GT(n, 100);
  usleep(50000); /* the producer is still blocked: nothing was released */
  ASSERT_EQ(hl_ring_cursor_read(K(c), items + n, 1), 0);
  hl_ring_token toks[4096];
  for (size_t i = 0; i < n; i++) {
    toks[i] = items[i].token;
  }
  ASSERT_EQ(hl_ring_cursor_release(K(c), toks, n), 0);
  ASSERT_EQ(wait_exit(kid), 0);
  ASSERT_EQ(n, (size_t)filled); /* everything it wrote, and nothing else */
  ASSERT_GE(hl_ring_consumer_stats_get(c).producer_wakes, 1);
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 4), 1); /* the message that waited */
  close(pipefd[0]);
  close(pipefd[1]);
  hl_ring_consumer_close(c);
}

/* engine_child reads everything, releases the first half, reports, and
 * waits to be killed like a crashing engine. */
static void engine_child(const char *ring, int fd, int expect) {
  hl_ring_consumer *c;
  hl_err err;
  hl_ring_consumer_options o = {.create = false};
  if (hl_ring_consumer_open(&c, ring, &o, &err) != 0) {
    _exit(20);
  }
  hl_ring_item items[256];
  size_t n = 0;
  uint64_t deadline = hl_clock_mono_ms() + 10000;
  while ((int)n < expect && hl_clock_mono_ms() < deadline) {
    n += hl_ring_cursor_read(K(c), items + n, 256 - n);
  }
  if ((int)n != expect) {
    _exit(21);
  }
  for (size_t i = 0; i < n / 2; i++) {
    hl_ring_cursor_release(K(c), &items[i].token, 1);
  }
  if (write(fd, "R", 1) != 1) {
    _exit(22);
  }
  pause();
  _exit(23);
}

TEST(engine_killed_and_restarted_reads_unreleased_again) {
  corrupt_log log = {0};
  const char *ring = ring_name("restart");
  hl_ring_consumer *c = engine(ring, 2, 0600, &log);
  hl_ring_consumer_close(c);
  hl_producer *p;
  hl_error e;
  ASSERT_EQ(hl_producer_open(&p, ring, NULL, &e), 0);
  char data[128], id[16];
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "m%d", i);
    hl_message m = {.event = "it.restart", .id = id, .data = data};
    m.data_len = fill_data(data, sizeof(data), 0, (uint64_t)i, 10);
    ASSERT_EQ(hl_produce(p, &m, 0, &e), 0);
  }
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t kid = spawn(engine_child, ring, pipefd[1], 100);
  char b;
  ASSERT_EQ(read(pipefd[0], &b, 1), 1);
  kill(kid, SIGKILL);
  ASSERT_EQ(wait_exit(kid), 128 + SIGKILL);
  /* The dead engine's lock went with it; a new engine attaches and gets
   * exactly what was not released: m50 .. m99, in order. */
  c = engine(ring, 2, 0600, &log);
  hl_ring_item items[256];
  size_t n = hl_ring_cursor_read(K(c), items, 256);
  ASSERT_EQ(n, 50);
  for (size_t i = 0; i < n; i++) {
    hl_msg m;
    hl_err err;
    ASSERT_GT(hl_msg_decode(items[i].payload, &m, &err), 0);
    snprintf(id, sizeof(id), "m%zu", 50 + i);
    ASSERT_SPAN_EQ(m.id, id);
  }
  hl_producer_close(p);
  hl_ring_consumer_close(c);
  close(pipefd[0]);
  close(pipefd[1]);
}

TEST(version_mismatch_refused_on_both_sides) {
  corrupt_log log = {0};
  const char *ring = ring_name("version");
  hl_ring_consumer *c = engine(ring, 1, 0600, &log);
  hl_ring_consumer_close(c);
  char path[256];
  hl_ring_segment_path(ring, path, sizeof(path));
  int fd = open(path, O_RDWR);
  ASSERT_GE(fd, 0);
  hl_ring_header *h = mmap(NULL, HL_RING_PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_TRUE(h != MAP_FAILED);
  h->layout_version = HL_RING_LAYOUT_VERSION + 1; /* a newer engine made it */
  hl_err err;
  hl_ring_consumer_options o = {.create = true};
  ASSERT_EQ(hl_ring_consumer_open(&c, ring, &o, &err), -EPROTONOSUPPORT);
  ASSERT_TRUE(strstr(err.msg, "layout version 2, but this build speaks version 1") != NULL);
  hl_producer *p;
  hl_error e;
  ASSERT_EQ(hl_producer_open(&p, ring, NULL, &e), -EPROTONOSUPPORT);
  ASSERT_TRUE(strstr(e.msg, "layout version 2") != NULL);
  ASSERT_STR_EQ(hl_strerror(-EPROTONOSUPPORT), "ring made by another version of hookline");
  h->layout_version = HL_RING_LAYOUT_VERSION;
  ASSERT_EQ(hl_producer_open(&p, ring, NULL, &e), 0);
  hl_producer_close(p);
  munmap(h, HL_RING_PAGE_BYTES);
  close(fd);
}

/* unprivileged_open: as uid/gid 65534, open the ring; exit 0 if it opened,
 * 1 if refused with a clear EACCES message, 2 otherwise. */
static void unprivileged_open(const char *ring, int unused_a, int unused_b) {
  (void)unused_a;
  (void)unused_b;
  if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
    _exit(3);
  }
  hl_producer *p;
  hl_error e;
  int rc = hl_producer_open(&p, ring, NULL, &e);
  if (rc == 0) {
    hl_producer_close(p);
    _exit(0);
  }
  bool clear = rc == -EACCES && strstr(e.msg, "permission denied") != NULL &&
               strstr(e.msg, "mode 0600") != NULL && strstr(e.msg, "0660") != NULL;
  if (!clear) {
    fprintf(stderr, "unclear refusal %d: %s\n", rc, e.msg);
  }
  _exit(clear ? 1 : 2);
}

TEST(permission_denied_for_another_user) {
  if (geteuid() != 0) {
    TEST_SKIP("needs root to drop to another uid");
  }
  corrupt_log log = {0};
  /* Shared memory (/dev/shm is world-traversable) and a file in a directory
   * others may enter: refused at 0600, accepted at 0666. */
  char dir[] = "/tmp/hl_it_perm_XXXXXX";
  ASSERT_TRUE(mkdtemp(dir) != NULL);
  ASSERT_EQ(chmod(dir, 0755), 0);
  char file_ring[256];
  snprintf(file_ring, sizeof(file_ring), "%s/ring", dir);
  const char *rings[] = {ring_name("perm"), file_ring};
  for (size_t i = 0; i < 2; i++) {
    hl_ring_consumer *c = engine(rings[i], 1, 0600, &log);
    struct stat st;
    char path[256];
    hl_ring_segment_path(rings[i], path, sizeof(path));
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600); /* exactly the mode asked, whatever the umask */
    int code = wait_exit(spawn(unprivileged_open, rings[i], 0, 0));
    if (code == 3) {
      hl_ring_consumer_close(c);
      TEST_SKIP("cannot switch to uid 65534 here");
    }
    ASSERT_EQ(code, 1);
    hl_ring_consumer_close(c);
    hl_ring_segment_unlink(rings[i]);
    c = engine(rings[i], 1, 0666, &log);
    ASSERT_EQ(wait_exit(spawn(unprivileged_open, rings[i], 0, 0)), 0);
    hl_ring_consumer_close(c);
    hl_ring_segment_unlink(rings[i]);
  }
  rmdir(dir);
}

/* bad_inputs: each rejection with its reason; exit 0 if all were right. */
static void bad_inputs(const char *ring, int unused_a, int unused_b) {
  (void)unused_a;
  (void)unused_b;
  hl_producer *h;
  hl_error e;
  if (hl_producer_open(&h, ring, NULL, &e) != 0) {
    _exit(10);
  }
  static char big[HL_MESSAGE_DATA_BYTES_MAX + 16];
  big[0] = '{';
  memset(big + 1, ' ', sizeof(big) - 2);
  big[sizeof(big) - 1] = '}';
  struct {
    hl_message m;
    int rc;
    const char *reason;
  } cases[] = {
      {{.event = "e", .data = "{\"a\":", .data_len = 5}, -EINVAL, "data: "},
      {{.event = "e", .data = "[1,2]", .data_len = 5}, -EINVAL, "data: "},
      {{.event = "e", .data = "{} x", .data_len = 4}, -EINVAL, "data: "},
      {{.event = "e", .data = big, .data_len = sizeof(big)}, -EMSGSIZE, "data: 262160 bytes"},
      {{.event = "e", .data = "", .data_len = 0}, -EINVAL, "data: empty"},
      {{.event = "", .data = "{}", .data_len = 2}, -EINVAL, "event: empty"},
      {{.event = "e", .endpoint = "", .tenant = "t t", .data = "{}", .data_len = 2}, -EINVAL,
       "tenant: byte 1"},
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = hl_produce(h, &cases[i].m, 0, &e);
    if (rc != cases[i].rc || strstr(e.msg, cases[i].reason) == NULL) {
      fprintf(stderr, "case %zu: rc %d, '%s'\n", i, rc, e.msg);
      bad++;
    }
  }
  hl_message ok = {.event = "e", .data = "{}", .data_len = 2};
  if (hl_produce(h, &ok, 0, &e) != 0) {
    bad++;
  }
  hl_producer_close(h);
  _exit(bad == 0 ? 0 : 1);
}

TEST(invalid_oversized_and_empty_inputs_rejected_with_reasons) {
  corrupt_log log = {0};
  const char *ring = ring_name("invalid");
  hl_ring_consumer *c = engine(ring, 1, 0600, &log);
  ASSERT_EQ(wait_exit(spawn(bad_inputs, ring, 0, 0)), 0);
  hl_ring_item items[16];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 16), 1); /* only the valid one */
  hl_msg m;
  hl_err err;
  ASSERT_GT(hl_msg_decode(items[0].payload, &m, &err), 0);
  ASSERT_SPAN_EQ(m.data, "{}");
  hl_ring_consumer_close(c);
}
