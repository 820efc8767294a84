/* produce: the application side of the hookline contender in the benchmark
 * harness (bench/run). It feeds an engine's ring through libhookline's
 * public API (hookline/hookline.h), as an application would.
 *
 *   produce --ring NAME [--duration-s S | --count N] [--rate R] [--ramp-s S] [--lanes K]
 *           [--batch B] [--event E] [--endpoint-file F] [--pad BYTES]
 *           [--open-timeout-ms T] [--wait-stdin]
 *
 * Every message's data is the same shape, fixed-width so that the body the
 * endpoint's template renders is always the same size:
 *   {"seq":"0000000042","sched_ns":"1732262400123456789",
 *    "customer":{"email":"ada@example.com","name":"Ada Lovelace"},"pad":"xx…"}
 * seq counts messages; sched_ns is the time (CLOCK_REALTIME, ns) the message
 * was scheduled for, so that a receiver can measure scheduled -> received
 * without coordinated omission.
 *
 * Without --rate each lane (thread, own producer handle = own ring lane)
 * writes batches of B as fast as the ring takes them, waiting on the ring
 * when it is full (the engine's pace), and sched_ns is the time the batch
 * was built. With --rate R message k is due at t0 + k/R (lanes take turns);
 * a lane that is late sends at once, stamped with the time it was due.
 * --ramp-s S raises the rate linearly from 0 to R over the first S seconds
 * (so that the engine opens its connections gradually, as the peers do).
 * --endpoint-file lists endpoint ids, one per line: message k names id
 * k mod n (explicit routing); without it messages are routed by event.
 *
 * Prints "ready" once every lane is open (with --wait-stdin, then waits for
 * a line on stdin, and a second line or the end of stdin stops it early),
 * and one JSON line at the end. */
#include <stdatomic.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "hookline/hookline.h"

#define LANES_MAX 16
#define BATCH_MAX 256
#define ENDPOINTS_MAX 100000
#define DATA_BYTES_MAX 8192
#define SEQ_DIGITS 10
#define STAMP_DIGITS 19

typedef struct options {
  const char *ring;
  const char *event;
  double duration_s;
  uint64_t count; /* 0: until duration_s */
  double rate;
  double ramp_s;
  uint32_t lanes;
  uint32_t batch;
  uint32_t pad;
  int open_timeout_ms;
  bool wait_stdin;
  char **endpoints;
  uint32_t endpoints_n;
} options;

typedef struct lane {
  const options *opt;
  atomic_bool *stop; /* set by the main thread on "stop" */
  uint32_t index;
  hl_producer *p;
  uint64_t t0_mono_ns, t0_wall_ns, end_ns;
  /* results */
  uint64_t produced;
  uint64_t full_waits; /* -EAGAIN: the ring was full for the wait */
  uint64_t errors;
  uint64_t late_max_ns; /* --rate: the latest a message left after its time */
  char error[HL_ERROR_BYTES];
  pthread_t thread;
} lane;

static uint64_t clock_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void die(const char *what, const char *detail) {
  fprintf(stderr, "produce: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(2);
}

static double parse_num(const char *flag, const char *s, double min, double max) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "produce: %s: '%s' is not a number in [%g, %g]\n", flag, s, min, max);
    exit(2);
  }
  return v;
}

static void read_endpoints(options *o, const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    die("cannot open", path);
  }
  o->endpoints = calloc(ENDPOINTS_MAX, sizeof(char *));
  if (o->endpoints == NULL) {
    die("out of memory", NULL);
  }
  char line[HL_ENDPOINT_ID_BYTES_MAX + 4];
  while (fgets(line, sizeof(line), f) != NULL) {
    size_t n = strcspn(line, "\r\n");
    if (n == 0) {
      continue;
    }
    if (o->endpoints_n == ENDPOINTS_MAX) {
      die("too many endpoint ids", path);
    }
    line[n] = '\0';
    o->endpoints[o->endpoints_n] = strdup(line);
    if (o->endpoints[o->endpoints_n++] == NULL) {
      die("out of memory", NULL);
    }
  }
  fclose(f);
}

static void parse_args(options *o, int argc, char **argv) {
  *o = (options){.event = "bench.delivery", .duration_s = 5, .lanes = 1, .batch = 64,
                 .pad = 256, .open_timeout_ms = 10000};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--wait-stdin") == 0) {
      o->wait_stdin = true;
      continue;
    }
    if (i + 1 >= argc) {
      die("missing value or unknown flag", a);
    }
    const char *v = argv[++i];
    if (strcmp(a, "--ring") == 0) {
      o->ring = v;
    } else if (strcmp(a, "--event") == 0) {
      o->event = v;
    } else if (strcmp(a, "--duration-s") == 0) {
      o->duration_s = parse_num(a, v, 0.01, 86400);
    } else if (strcmp(a, "--count") == 0) {
      o->count = (uint64_t)parse_num(a, v, 1, 1e12);
    } else if (strcmp(a, "--rate") == 0) {
      o->rate = parse_num(a, v, 0, 1e8);
    } else if (strcmp(a, "--ramp-s") == 0) {
      o->ramp_s = parse_num(a, v, 0, 3600);
    } else if (strcmp(a, "--lanes") == 0) {
      o->lanes = (uint32_t)parse_num(a, v, 1, LANES_MAX);
    } else if (strcmp(a, "--batch") == 0) {
      o->batch = (uint32_t)parse_num(a, v, 1, BATCH_MAX);
    } else if (strcmp(a, "--pad") == 0) {
      o->pad = (uint32_t)parse_num(a, v, 0, DATA_BYTES_MAX - 256);
    } else if (strcmp(a, "--open-timeout-ms") == 0) {
      o->open_timeout_ms = (int)parse_num(a, v, 0, 600000);
    } else if (strcmp(a, "--endpoint-file") == 0) {
      read_endpoints(o, v);
    } else {
      die("unknown flag", a);
    }
  }
  if (o->ring == NULL) {
    die("usage: produce --ring NAME [--duration-s S | --count N] [--rate R] [--lanes K] "
        "[--ramp-s S] [--batch B] [--event E] [--endpoint-file F] [--pad BYTES] "
        "[--open-timeout-ms T] "
        "[--wait-stdin]",
        NULL);
  }
}

/* The data template and the offsets of its two numbers, written in place
 * per message. */
typedef struct data_shape {
  char text[DATA_BYTES_MAX];
  size_t len;
  size_t seq_at, stamp_at;
} data_shape;

static void shape_init(data_shape *d, uint32_t pad) {
  int n = snprintf(d->text, sizeof(d->text), "{\"seq\":\"%0*d\",\"sched_ns\":\"%0*d\","
                   "\"customer\":{\"email\":\"ada@example.com\",\"name\":\"Ada Lovelace\"},"
                   "\"pad\":\"",
                   SEQ_DIGITS, 0, STAMP_DIGITS, 0);
  if (n < 0 || (size_t)n + pad + 3 > sizeof(d->text)) {
    die("--pad too large", NULL);
  }
  memset(d->text + n, 'x', pad);
  memcpy(d->text + n + pad, "\"}", 3);
  d->len = (size_t)n + pad + 2;
  d->seq_at = strlen("{\"seq\":\"");
  d->stamp_at = d->seq_at + SEQ_DIGITS + strlen("\",\"sched_ns\":\"");
}

static void put_digits(char *at, int width, uint64_t v) {
  for (int i = width - 1; i >= 0; i--) {
    at[i] = (char)('0' + v % 10);
    v /= 10;
  }
}

static void fill(const lane *l, data_shape *d, hl_message *m, uint64_t seq, uint64_t stamp_ns) {
  put_digits(d->text + d->seq_at, SEQ_DIGITS, seq);
  put_digits(d->text + d->stamp_at, STAMP_DIGITS, stamp_ns);
  const options *o = l->opt;
  *m = (hl_message){.event = o->event, .data = d->text, .data_len = d->len};
  if (o->endpoints_n > 0) {
    m->endpoint = o->endpoints[seq % o->endpoints_n];
  }
}

static bool lane_done(const lane *l, uint64_t seq, uint64_t now) {
  const options *o = l->opt;
  return now >= l->end_ns || (o->count > 0 && seq >= o->count) ||
         atomic_load_explicit(l->stop, memory_order_relaxed);
}

/* As fast as the ring takes them: batches of B, the lane's share of the
 * sequence numbers (lane i takes i, i + K, i + 2K, ...). */
static void run_closed(lane *l) {
  const options *o = l->opt;
  data_shape *shapes = calloc(o->batch, sizeof(data_shape));
  hl_message msgs[BATCH_MAX];
  if (shapes == NULL) {
    die("out of memory", NULL);
  }
  for (uint32_t i = 0; i < o->batch; i++) {
    shape_init(&shapes[i], o->pad);
  }
  uint64_t seq = l->index;
  while (!lane_done(l, seq, clock_ns(CLOCK_MONOTONIC))) {
    uint64_t stamp = clock_ns(CLOCK_REALTIME);
    uint32_t n = 0;
    while (n < o->batch && !(o->count > 0 && seq >= o->count)) {
      fill(l, &shapes[n], &msgs[n], seq, stamp);
      seq += o->lanes;
      n++;
    }
    size_t off = 0;
    while (off < n) {
      size_t written = 0;
      hl_error e;
      int rc = hl_produce_batch(l->p, msgs + off, n - off, &written, 200, &e);
      off += written;
      l->produced += written;
      if (rc == -EAGAIN) {
        l->full_waits++;
        if (lane_done(l, 0, clock_ns(CLOCK_MONOTONIC))) {
          break;
        }
      } else if (rc != 0) {
        l->errors++;
        snprintf(l->error, sizeof(l->error), "%s", e.msg);
        free(shapes);
        return;
      }
    }
  }
  free(shapes);
}

/* due_offset_ns: when message |k| is due, counted from t0: k / R, or on
 * the ramp (rate R t / S for t < S, so k = R t^2 / 2S messages by t),
 * sqrt(2 k S / R), then S / 2 + k / R. */
static uint64_t due_offset_ns(const options *o, uint64_t k) {
  double on_ramp = o->rate * o->ramp_s / 2;
  double t = (double)k < on_ramp ? sqrt(2.0 * (double)k * o->ramp_s / o->rate)
                                 : o->ramp_s / 2 + (double)k / o->rate;
  return (uint64_t)(t * 1e9);
}

/* Fixed rate: message k (this lane's k = i, i + K, ...) is due at
 * t0 + due_offset_ns(k). */
static void run_paced(lane *l) {
  const options *o = l->opt;
  data_shape shape;
  shape_init(&shape, o->pad);
  for (uint64_t seq = l->index;; seq += o->lanes) {
    uint64_t due = l->t0_mono_ns + due_offset_ns(o, seq);
    if (lane_done(l, seq, due)) {
      return;
    }
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    if (now < due) {
      struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u),
                            .tv_nsec = (long)(due % 1000000000u)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
      }
      if (atomic_load_explicit(l->stop, memory_order_relaxed)) {
        return;
      }
    } else if (now - due > l->late_max_ns) {
      l->late_max_ns = now - due;
    }
    hl_message m;
    fill(l, &shape, &m, seq, l->t0_wall_ns + (due - l->t0_mono_ns));
    hl_error e;
    int rc;
    while ((rc = hl_produce(l->p, &m, 200, &e)) == -EAGAIN) {
      l->full_waits++;
      if (lane_done(l, 0, clock_ns(CLOCK_MONOTONIC))) {
        return;
      }
    }
    if (rc != 0) {
      l->errors++;
      snprintf(l->error, sizeof(l->error), "%s", e.msg);
      return;
    }
    l->produced++;
  }
}

static void *lane_main(void *arg) {
  lane *l = arg;
  if (l->opt->rate > 0) {
    run_paced(l);
  } else {
    run_closed(l);
  }
  return NULL;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  options o;
  parse_args(&o, argc, argv);
  static lane lanes[LANES_MAX];
  static atomic_bool stop;
  hl_producer_options popt = HL_PRODUCER_OPTIONS_INIT;
  popt.open_timeout_ms = 1000;
  /* The engine creates the ring when it starts: wait for it. */
  uint64_t give_up = clock_ns(CLOCK_MONOTONIC) + (uint64_t)o.open_timeout_ms * 1000000u;
  for (uint32_t i = 0; i < o.lanes; i++) {
    hl_error e;
    int rc;
    while ((rc = hl_producer_open(&lanes[i].p, o.ring, &popt, &e)) == -ENOENT &&
           clock_ns(CLOCK_MONOTONIC) < give_up) {
      struct timespec ts = {0, 20 * 1000000};
      nanosleep(&ts, NULL);
    }
    if (rc != 0) {
      die("cannot open the ring", e.msg);
    }
    lanes[i].opt = &o;
    lanes[i].stop = &stop;
    lanes[i].index = i;
  }
  printf("ready\n");
  fflush(stdout);
  if (o.wait_stdin) {
    char line[8];
    if (fgets(line, sizeof(line), stdin) == NULL) {
      return 0;
    }
  }
  double cpu0 = self_cpu_s();
  uint64_t t0 = clock_ns(CLOCK_MONOTONIC), w0 = clock_ns(CLOCK_REALTIME);
  for (uint32_t i = 0; i < o.lanes; i++) {
    lanes[i].t0_mono_ns = t0;
    lanes[i].t0_wall_ns = w0;
    lanes[i].end_ns = t0 + (uint64_t)(o.duration_s * 1e9);
    if (pthread_create(&lanes[i].thread, NULL, lane_main, &lanes[i]) != 0) {
      die("pthread_create failed", NULL);
    }
  }
  if (o.wait_stdin) {
    /* Blocks until "stop" or the end of stdin; lanes that finish first
     * simply wait here with us. */
    char line[8];
    (void)!fgets(line, sizeof(line), stdin);
    atomic_store(&stop, true);
  }
  uint64_t produced = 0, waits = 0, errors = 0, late = 0;
  const char *error = "";
  for (uint32_t i = 0; i < o.lanes; i++) {
    pthread_join(lanes[i].thread, NULL);
    produced += lanes[i].produced;
    waits += lanes[i].full_waits;
    errors += lanes[i].errors;
    late = lanes[i].late_max_ns > late ? lanes[i].late_max_ns : late;
    if (lanes[i].error[0] != '\0') {
      error = lanes[i].error;
    }
    hl_producer_close(lanes[i].p);
  }
  double secs = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
  printf("{\"produced\":%" PRIu64 ",\"seconds\":%.3f,\"rate\":%.1f,\"ring_full_waits\":%" PRIu64
         ",\"errors\":%" PRIu64 ",\"late_max_us\":%" PRIu64 ",\"cpu_s\":%.3f,\"error\":\"",
         produced, secs, secs > 0 ? (double)produced / secs : 0.0, waits, errors, late / 1000,
         self_cpu_s() - cpu0);
  /* The reason comes from libhookline: printable, but escape what JSON needs. */
  for (const char *c = error; *c != '\0'; c++) {
    if (*c == '"' || *c == '\\') {
      putchar('\\');
    }
    putchar((unsigned char)*c >= 0x20 ? *c : ' ');
  }
  printf("\"}\n");
  return errors > 0 ? 1 : 0;
}
