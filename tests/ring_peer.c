/* ring_peer: the engine's side of the ring for script tests (send_test.sh,
 * python_test.py), built by cmake/parts/libhookline.cmake.
 *
 *   ring_peer create RING [--lanes N] [--lane-bytes N] [--mode OCTAL]
 *   ring_peer drain RING --count N [--timeout-ms T]
 *   ring_peer unlink RING
 *
 * `drain` attaches, reads until it has N messages (sleeping on the ring's
 * futex in between), prints each as one JSON line
 *   {"lane":0,"event":"e","id":"","endpoint":"","tenant":"","ts":1,"data":{..}}
 * releases them, and exits 0; 1 if the timeout passed first. Names are of
 * [A-Za-z0-9_.:-] (checked by hl_msg_decode), so they need no escaping. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "ring/consumer.h"
#include "ring/message.h"

/* The first (in these tests, only) cursor of a consumer. */
#define K(c) hl_ring_consumer_cursor((c), 0)

static int usage(void) {
  fprintf(stderr,
          "usage: ring_peer create RING [--lanes N] [--lane-bytes N] [--mode OCTAL]\n"
          "       ring_peer drain RING --count N [--timeout-ms T]\n"
          "       ring_peer unlink RING\n");
  return 2;
}

static unsigned long long num(const char *s, int base) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno != 0 || *end != '\0' || end == s) {
    fprintf(stderr, "ring_peer: bad number '%s'\n", s);
    exit(2);
  }
  return v;
}

static void print_span(hl_span s) {
  fwrite(s.ptr, 1, s.len, stdout);
}

static void print_msg(uint32_t lane, const hl_msg *m) {
  printf("{\"lane\":%u,\"event\":\"", lane);
  print_span(m->event);
  fputs("\",\"id\":\"", stdout);
  print_span(m->id);
  fputs("\",\"endpoint\":\"", stdout);
  print_span(m->endpoint);
  fputs("\",\"tenant\":\"", stdout);
  print_span(m->tenant);
  printf("\",\"ts\":%llu,\"data\":", (unsigned long long)m->timestamp_ms);
  print_span(m->data);
  fputs("}\n", stdout);
}

static int drain(hl_ring_consumer *c, unsigned long long count, long long timeout_ms) {
  uint64_t deadline = hl_clock_mono_ms() + (uint64_t)timeout_ms;
  unsigned long long got = 0;
  hl_ring_item items[64];
  hl_ring_token toks[64];
  while (got < count) {
    size_t n = hl_ring_cursor_read(K(c), items, sizeof(items) / sizeof(items[0]));
    for (size_t i = 0; i < n; i++) {
      hl_msg m;
      hl_err err;
      if (hl_msg_decode(items[i].payload, &m, &err) < 0) {
        fprintf(stderr, "ring_peer: undecodable record: %s\n", err.msg);
        return 1;
      }
      print_msg(items[i].token.lane, &m);
      toks[i] = items[i].token;
    }
    if (hl_ring_cursor_release(K(c), toks, n) != 0) {
      fprintf(stderr, "ring_peer: release failed\n");
      return 1;
    }
    got += n;
    if (n > 0) {
      continue;
    }
    uint64_t now = hl_clock_mono_ms();
    if (now >= deadline) {
      fprintf(stderr, "ring_peer: timeout after %llu of %llu messages\n", got, count);
      return 1;
    }
    uint32_t *word, expected;
    if (hl_ring_cursor_prepare_sleep(K(c), &word, &expected) == 0) {
      uint64_t left = deadline - now;
      hl_ring_futex_wait((_Atomic uint32_t *)word, expected, (int64_t)(left < 100 ? left : 100));
      hl_ring_cursor_end_sleep(K(c));
    }
  }
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    return usage();
  }
  const char *cmd = argv[1], *ring = argv[2];
  if (strcmp(cmd, "unlink") == 0) {
    int rc = hl_ring_segment_unlink(ring);
    if (rc != 0) {
      fprintf(stderr, "ring_peer: unlink %s: %s\n", ring, strerror(-rc));
    }
    return rc == 0 ? 0 : 1;
  }
  hl_ring_consumer_options o = {0};
  unsigned long long count = 0;
  long long timeout_ms = 10000;
  for (int i = 3; i < argc; i++) {
    if (i + 1 >= argc) {
      return usage();
    }
    const char *v = argv[++i];
    if (strcmp(argv[i - 1], "--lanes") == 0) {
      o.lanes = (uint32_t)num(v, 10);
    } else if (strcmp(argv[i - 1], "--lane-bytes") == 0) {
      o.lane_bytes = num(v, 10);
    } else if (strcmp(argv[i - 1], "--mode") == 0) {
      o.mode = (uint32_t)num(v, 8);
    } else if (strcmp(argv[i - 1], "--count") == 0) {
      count = num(v, 10);
    } else if (strcmp(argv[i - 1], "--timeout-ms") == 0) {
      timeout_ms = (long long)num(v, 10);
    } else {
      return usage();
    }
  }
  o.create = strcmp(cmd, "create") == 0;
  if (!o.create && strcmp(cmd, "drain") != 0) {
    return usage();
  }
  hl_ring_consumer *c;
  hl_err err;
  int rc = hl_ring_consumer_open(&c, ring, &o, &err);
  if (rc != 0) {
    fprintf(stderr, "ring_peer: %s\n", err.msg);
    return 1;
  }
  rc = o.create ? 0 : drain(c, count, timeout_ms);
  hl_ring_consumer_close(c);
  return rc;
}
