/* ring_bench: the shared-memory ring with producer PROCESSES.
 *
 *   ring_bench [--messages N] [--idle-seconds S] [--repeat R]
 *
 * For 1, 2 and 4 producer processes (and two kinds of producer: `raw`, a
 * 512-byte record written with reserve/commit/publish, and `api`,
 * hl_produce with a 512-byte JSON object: validation + encoding included),
 * the parent is the engine: one cursor reading batches of 256 and releasing
 * each batch. Reported: messages/s (first message produced to last
 * consumed), the producers' and the consumer's CPU per message (getrusage:
 * steadier than wall time on a shared machine; the consumer's covers
 * reading, checksums, releasing and its sleeps), producer wake-up syscalls
 * per message, and times a producer waited for space. Then the idle cost: the
 * consumer sleeping on the ring's futex for S seconds with a producer
 * attached and silent, as CPU % from getrusage.
 *
 * The median of R runs is printed per configuration. The machine is shared
 * (2 vCPUs here): with 4 producers and the consumer there are more runnable
 * processes than cores, which is the "no collapse" case. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "hookline/hookline.h"
#include "ring/consumer.h"
#include "ring/producer.h"

#define RECORD_BYTES 512
#define BATCH 256
#define REPEAT_MAX 15

typedef enum { KIND_RAW, KIND_API } kind;

typedef struct result {
  double msgs_per_s;
  double producer_ns_per_msg;
  double consumer_ns_per_msg;
  double wakes_per_msg;
  double space_waits;
} result;

typedef struct child_report {
  uint64_t wakes;
  uint64_t waits;
  uint64_t start_ns;
  uint64_t cpu_ns; /* the producer process's CPU over its run */
} child_report;

static uint64_t thread_cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return (uint64_t)ru.ru_utime.tv_sec * 1000000000u + (uint64_t)ru.ru_utime.tv_usec * 1000u +
         (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
}

static void produce_raw(const char *ring, uint64_t n, child_report *rep) {
  hl_ring_producer p;
  hl_err err;
  if (hl_ring_producer_open(&p, ring, 1000, &err) != 0) {
    fprintf(stderr, "producer: %s\n", err.msg);
    _exit(1);
  }
  rep->start_ns = hl_clock_mono_ns();
  for (uint64_t i = 0; i < n; i++) {
    void *dst;
    if (hl_ring_producer_reserve(&p, RECORD_BYTES, -1, &dst, &err) != 0) {
      fprintf(stderr, "producer: %s\n", err.msg);
      _exit(1);
    }
    memset(dst, (int)(i & 0xff), RECORD_BYTES);
    hl_ring_producer_commit(&p, RECORD_BYTES);
    hl_ring_producer_publish(&p);
  }
  rep->wakes = p.wakes;
  rep->waits = p.waits;
  hl_ring_producer_close(&p);
}

static void produce_api(const char *ring, uint64_t n, child_report *rep) {
  hl_producer *p;
  hl_error e;
  hl_producer_options o = HL_PRODUCER_OPTIONS_INIT;
  o.open_timeout_ms = 1000;
  if (hl_producer_open(&p, ring, &o, &e) != 0) {
    fprintf(stderr, "producer: %s\n", e.msg);
    _exit(1);
  }
  /* A 512-byte JSON object, the size of a typical lead. */
  char data[RECORD_BYTES + 1];
  int head = snprintf(data, sizeof(data), "{\"email\":\"lead@example.com\",\"note\":\"");
  memset(data + head, 'x', RECORD_BYTES - (size_t)head - 2);
  memcpy(data + RECORD_BYTES - 2, "\"}", 2);
  hl_message m = {.event = "lead.created", .data = data, .data_len = RECORD_BYTES};
  rep->start_ns = hl_clock_mono_ns();
  for (uint64_t i = 0; i < n; i++) {
    if (hl_produce(p, &m, -1, &e) != 0) {
      fprintf(stderr, "producer: %s\n", e.msg);
      _exit(1);
    }
  }
  hl_producer_close(p);
  rep->wakes = 0; /* not visible through the public API */
  rep->waits = 0;
}

static result run_once(const char *ring, kind k, int producers, uint64_t total) {
  hl_ring_consumer_options o = {.create = true, .lanes = 8, .inflight_per_lane = 8192};
  hl_ring_consumer *c;
  hl_err err;
  if (hl_ring_consumer_open(&c, ring, &o, &err) != 0) {
    fprintf(stderr, "ring_bench: %s\n", err.msg);
    exit(1);
  }
  hl_ring_cursor *cur = hl_ring_consumer_cursor(c, 0);
  uint64_t per = total / (uint64_t)producers;
  int fds[8][2];
  pid_t kids[8];
  for (int i = 0; i < producers; i++) {
    if (pipe(fds[i]) != 0) {
      exit(1);
    }
    kids[i] = fork();
    if (kids[i] == 0) {
      child_report rep = {0};
      uint64_t cpu0 = thread_cpu_ns();
      if (k == KIND_RAW) {
        produce_raw(ring, per, &rep);
      } else {
        produce_api(ring, per, &rep);
      }
      rep.cpu_ns = thread_cpu_ns() - cpu0;
      ssize_t w = write(fds[i][1], &rep, sizeof(rep));
      _exit(w == (ssize_t)sizeof(rep) ? 0 : 1);
    }
  }
  hl_ring_item items[BATCH];
  hl_ring_token toks[BATCH];
  uint64_t got = 0, cpu = thread_cpu_ns();
  while (got < per * (uint64_t)producers) {
    size_t n = hl_ring_cursor_read(cur, items, BATCH);
    for (size_t i = 0; i < n; i++) {
      toks[i] = items[i].token;
    }
    hl_ring_cursor_release(cur, toks, n);
    got += n;
    if (n == 0) {
      uint32_t *word, expected;
      if (hl_ring_cursor_prepare_sleep(cur, &word, &expected) == 0) {
        hl_ring_futex_wait((_Atomic uint32_t *)word, expected, 100);
      }
      hl_ring_cursor_end_sleep(cur);
    }
  }
  uint64_t end_ns = hl_clock_mono_ns();
  cpu = thread_cpu_ns() - cpu;
  uint64_t start_ns = UINT64_MAX, wakes = 0, waits = 0, producer_cpu = 0;
  for (int i = 0; i < producers; i++) {
    child_report rep;
    if (read(fds[i][0], &rep, sizeof(rep)) != (ssize_t)sizeof(rep)) {
      exit(1);
    }
    waitpid(kids[i], NULL, 0);
    close(fds[i][0]);
    close(fds[i][1]);
    start_ns = rep.start_ns < start_ns ? rep.start_ns : start_ns;
    wakes += rep.wakes;
    waits += rep.waits;
    producer_cpu += rep.cpu_ns;
  }
  hl_ring_consumer_close(c);
  hl_ring_segment_unlink(ring);
  /* The consumer's CPU covers the whole run: reading, checksums,
   * releasing, and its sleeps (the syscalls) while producers are slower. */
  double secs = (double)(end_ns - start_ns) / 1e9;
  return (result){
      .msgs_per_s = (double)got / secs,
      .producer_ns_per_msg = (double)producer_cpu / (double)got,
      .consumer_ns_per_msg = (double)cpu / (double)got,
      .wakes_per_msg = (double)wakes / (double)got,
      .space_waits = (double)waits,
  };
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return v[n / 2];
}

static void idle(const char *ring, int seconds) {
  hl_ring_consumer_options o = {.create = true, .lanes = 8};
  hl_ring_consumer *c;
  hl_err err;
  if (hl_ring_consumer_open(&c, ring, &o, &err) != 0) {
    fprintf(stderr, "ring_bench: %s\n", err.msg);
    exit(1);
  }
  /* A producer attached and silent, as an idle application would be. */
  pid_t kid = fork();
  if (kid == 0) {
    hl_producer *p;
    hl_error e;
    if (hl_producer_open(&p, ring, NULL, &e) != 0) {
      _exit(1);
    }
    pause();
    _exit(0);
  }
  hl_ring_cursor *cur = hl_ring_consumer_cursor(c, 0);
  uint64_t cpu0 = thread_cpu_ns(), t0 = hl_clock_mono_ns();
  uint64_t deadline = t0 + (uint64_t)seconds * 1000000000u, wakeups = 0;
  while (hl_clock_mono_ns() < deadline) {
    uint32_t *word, expected;
    if (hl_ring_cursor_prepare_sleep(cur, &word, &expected) == 0) {
      uint64_t left_ms = (deadline - hl_clock_mono_ns()) / 1000000u + 1;
      hl_ring_futex_wait((_Atomic uint32_t *)word, expected, (int64_t)left_ms);
      wakeups++;
    }
    hl_ring_cursor_end_sleep(cur);
  }
  uint64_t cpu = thread_cpu_ns() - cpu0, wall = hl_clock_mono_ns() - t0;
  kill(kid, SIGTERM);
  waitpid(kid, NULL, 0);
  hl_ring_consumer_close(c);
  hl_ring_segment_unlink(ring);
  printf("idle consumer, %d s, one silent producer attached: CPU %.4f %% (%.3f ms), %llu "
         "wake-ups\n",
         seconds, 100.0 * (double)cpu / (double)wall, (double)cpu / 1e6,
         (unsigned long long)wakeups);
}

int main(int argc, char **argv) {
  uint64_t total = 4000000;
  int idle_s = 10, repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--messages") == 0) {
      total = strtoull(argv[i + 1], NULL, 10);
    } else if (strcmp(argv[i], "--idle-seconds") == 0) {
      idle_s = atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--repeat") == 0) {
      repeat = atoi(argv[i + 1]);
    } else {
      fprintf(stderr, "usage: ring_bench [--messages N] [--idle-seconds S] [--repeat R]\n");
      return 2;
    }
  }
  if (repeat < 1 || repeat > REPEAT_MAX) {
    repeat = 3;
  }
  char ring[64];
  snprintf(ring, sizeof(ring), "hl_bench_%d", (int)getpid());
  printf("ring_bench: %llu messages of %d bytes per run, median of %d runs, %ld CPUs "
         "(shared machine)\n",
         (unsigned long long)total, RECORD_BYTES, repeat, sysconf(_SC_NPROCESSORS_ONLN));
  printf("%-4s %-9s %12s %16s %16s %10s %11s\n", "kind", "producers", "messages/s",
         "producer ns/msg", "consumer ns/msg", "wakes/msg", "space waits");
  static const int counts[] = {1, 2, 4};
  for (int kk = 0; kk < 2; kk++) {
    for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
      double rate[REPEAT_MAX], pns[REPEAT_MAX], ns[REPEAT_MAX], wakes[REPEAT_MAX],
          waits[REPEAT_MAX];
      for (int r = 0; r < repeat; r++) {
        result res = run_once(ring, (kind)kk, counts[ci], total);
        rate[r] = res.msgs_per_s;
        pns[r] = res.producer_ns_per_msg;
        ns[r] = res.consumer_ns_per_msg;
        wakes[r] = res.wakes_per_msg;
        waits[r] = res.space_waits;
      }
      printf("%-4s %-9d %12.0f %16.1f %16.1f %10.5f %11.0f\n", kk == KIND_RAW ? "raw" : "api",
             counts[ci], median(rate, repeat), median(pns, repeat), median(ns, repeat),
             median(wakes, repeat), median(waits, repeat));
      fflush(stdout);
    }
  }
  if (idle_s > 0) {
    idle(ring, idle_s);
  }
  return 0;
}
