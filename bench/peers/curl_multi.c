/* curl_multi: the libcurl peer of the benchmark harness (bench/run).
 *
 * What a C programmer would write to send webhooks with libcurl: one multi
 * handle, one easy handle per in-flight request ("slot"), HTTP/1.1
 * keep-alive through the multi handle's connection cache, and per request
 * an HMAC-SHA256 hex signature of the body with the endpoint's secret, a
 * fresh header list, and the response read and discarded.
 *
 *   curl_multi --group CONNS:URL[,URL...] | --group CONNS:@FILE  (repeatable)
 *              --body-file F --secret-file F [--sig-header H] [--sig-prefix P]
 *              [--duration-s S] [--warmup-s W] [--rate R] [--timeout-ms T]
 *              [--per-origin N] [--ramp-s S] [--ca-file PEM] [--wait-stdin]
 *
 * A group is CONNS slots sending to its URLs in turn (one URL per request,
 * round-robin), so one group with 1,000 URLs spreads the load over 1,000
 * origins and a second group can aim at a failing endpoint with its own
 * slots. Without --rate the slots are a closed loop (each sends its next
 * request when the previous one ends; --ramp-s spreads the slots' first
 * requests evenly over S seconds, so that thousands of connections are not
 * all opened at once); with --rate R requests are scheduled
 * at fixed times t0 + k/R and wait for a free slot of the first group, and
 * latency counts from the scheduled time, so a stall is not hidden
 * (no coordinated omission).
 *
 * It links Debian's libcurl-openssl and OpenSSL's HMAC(): this program is a
 * peer, built only with HL_BENCH_PEERS=ON (cmake/parts/bench_peers.cmake),
 * and never shares a process with hl_core and its BoringSSL. The latency
 * histogram is engine/base/hist.c, which needs only libc.
 *
 * Output: one JSON line on stdout at the end (counts over the measured
 * window, which starts after the warm-up; errors by class; latency
 * percentiles in microseconds). With --wait-stdin it prints "ready" once
 * set up and waits for a line on stdin before sending, so that the harness
 * can sample its memory before any load; a second line (or the end of
 * stdin) ends the run early, at the end of the harness's window.
 *
 * With --rate, requests that are due but not yet answered when the run ends
 * are counted in the latency histogram at their age then: a sender that
 * falls behind shows it in its percentiles instead of hiding it. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/hist.h"

#define GROUPS_MAX 8
#define URLS_MAX 20000
#define SLOTS_MAX 20000
#define URL_BYTES_MAX 512
#define BODY_BYTES_MAX 65536
#define SECRET_BYTES_MAX 1024
#define HEADER_BYTES_MAX 256

/* Error classes, the same names the other contenders report. */
typedef enum err_class {
  ERR_CONNECT = 0,
  ERR_TLS,
  ERR_TIMEOUT,
  ERR_IO,
  ERR_STATUS,
  ERR_OTHER,
  ERR_CLASSES_
} err_class;

static const char *const k_err_names[ERR_CLASSES_] = {"connect", "tls", "timeout",
                                                     "io", "status", "other"};

typedef struct group {
  char **urls;
  uint32_t urls_n;
  uint32_t next; /* round-robin position */
  uint32_t conns;
  uint64_t ok;   /* successes in the measured window */
  uint64_t errors;
} group;

typedef struct slot {
  CURL *easy;
  uint32_t group;
  bool busy;
  uint64_t start_ns; /* sent (closed loop) or scheduled (--rate) */
  struct curl_slist *headers;
} slot;

typedef struct options {
  double duration_s;
  double warmup_s;
  double rate;
  double ramp_s;
  long timeout_ms;
  long per_origin;
  const char *ca_file;
  const char *sig_header;
  const char *sig_prefix;
  bool wait_stdin;
} options;

typedef struct peer {
  options opt;
  group groups[GROUPS_MAX];
  uint32_t groups_n;
  slot *slots;
  uint32_t slots_n;
  char body[BODY_BYTES_MAX];
  size_t body_len;
  unsigned char secret[SECRET_BYTES_MAX];
  size_t secret_len;
  CURLM *multi;
  uint64_t t0_ns, measure_ns, end_ns;
  uint64_t sent;    /* requests started, whole run */
  uint64_t ok;      /* successes completed in the window */
  uint64_t errors[ERR_CLASSES_];
  uint64_t status_counts[600];
  uint64_t seq;     /* request ids */
  uint64_t unfinished; /* --rate: due in the window, unanswered at its end */
  uint32_t *free_slots; /* --rate: stack of idle slots */
  uint32_t free_n;
  hl_hist latency_us;
} peer;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void die(const char *what, const char *detail) {
  fprintf(stderr, "curl_multi: %s%s%s\n", what, detail != NULL ? ": " : "",
          detail != NULL ? detail : "");
  exit(2);
}

static double parse_num(const char *flag, const char *s, double min, double max) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "curl_multi: %s: '%s' is not a number in [%g, %g]\n", flag, s, min, max);
    exit(2);
  }
  return v;
}

static size_t read_file(const char *path, void *dst, size_t cap, bool trim) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    die("cannot open", path);
  }
  size_t n = fread(dst, 1, cap, f);
  bool more = fgetc(f) != EOF;
  fclose(f);
  if (more) {
    die("file too large", path);
  }
  while (trim && n > 0 && (((char *)dst)[n - 1] == '\n' || ((char *)dst)[n - 1] == '\r')) {
    n--;
  }
  return n;
}

static char *dup_range(const char *s, size_t n) {
  if (n == 0 || n >= URL_BYTES_MAX) {
    die("URL empty or too long", NULL);
  }
  char *d = malloc(n + 1);
  if (d == NULL) {
    die("out of memory", NULL);
  }
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static void group_add_url(group *g, const char *s, size_t n) {
  if (g->urls_n == URLS_MAX) {
    die("too many URLs in a group", NULL);
  }
  g->urls[g->urls_n++] = dup_range(s, n);
}

/* --group CONNS:URL[,URL...] or CONNS:@FILE (one URL per line). */
static void parse_group(peer *p, const char *arg) {
  if (p->groups_n == GROUPS_MAX) {
    die("too many --group", NULL);
  }
  const char *colon = strchr(arg, ':');
  if (colon == NULL) {
    die("--group wants CONNS:URL[,URL...] or CONNS:@FILE", arg);
  }
  char conns[16];
  size_t cl = (size_t)(colon - arg);
  if (cl == 0 || cl >= sizeof(conns)) {
    die("--group: bad connection count", arg);
  }
  memcpy(conns, arg, cl);
  conns[cl] = '\0';
  group *g = &p->groups[p->groups_n++];
  g->conns = (uint32_t)parse_num("--group", conns, 1, SLOTS_MAX);
  g->urls = calloc(URLS_MAX, sizeof(char *));
  if (g->urls == NULL) {
    die("out of memory", NULL);
  }
  const char *list = colon + 1;
  if (list[0] == '@') {
    FILE *f = fopen(list + 1, "r");
    if (f == NULL) {
      die("cannot open", list + 1);
    }
    char line[URL_BYTES_MAX + 2];
    while (fgets(line, sizeof(line), f) != NULL) {
      size_t n = strcspn(line, "\r\n");
      if (n > 0) {
        group_add_url(g, line, n);
      }
    }
    fclose(f);
  } else {
    while (*list != '\0') {
      size_t n = strcspn(list, ",");
      group_add_url(g, list, n);
      list += n + (list[n] == ',' ? 1 : 0);
    }
  }
  if (g->urls_n == 0) {
    die("--group has no URL", arg);
  }
}

static void parse_args(peer *p, int argc, char **argv) {
  const char *body_file = NULL, *secret_file = NULL;
  p->opt = (options){.duration_s = 5,
                     .timeout_ms = 10000,
                     .per_origin = 64,
                     .sig_header = "X-Webhook-Signature",
                     .sig_prefix = "sha256="};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--wait-stdin") == 0) {
      p->opt.wait_stdin = true;
      continue;
    }
    if (i + 1 >= argc) {
      die("missing value or unknown flag", a);
    }
    const char *v = argv[++i];
    if (strcmp(a, "--group") == 0) {
      parse_group(p, v);
    } else if (strcmp(a, "--body-file") == 0) {
      body_file = v;
    } else if (strcmp(a, "--secret-file") == 0) {
      secret_file = v;
    } else if (strcmp(a, "--sig-header") == 0) {
      p->opt.sig_header = v;
    } else if (strcmp(a, "--sig-prefix") == 0) {
      p->opt.sig_prefix = v;
    } else if (strcmp(a, "--duration-s") == 0) {
      p->opt.duration_s = parse_num(a, v, 0.1, 86400);
    } else if (strcmp(a, "--warmup-s") == 0) {
      p->opt.warmup_s = parse_num(a, v, 0, 86400);
    } else if (strcmp(a, "--rate") == 0) {
      p->opt.rate = parse_num(a, v, 0, 1e8);
    } else if (strcmp(a, "--ramp-s") == 0) {
      p->opt.ramp_s = parse_num(a, v, 0, 3600);
    } else if (strcmp(a, "--timeout-ms") == 0) {
      p->opt.timeout_ms = (long)parse_num(a, v, 1, 3600000);
    } else if (strcmp(a, "--per-origin") == 0) {
      p->opt.per_origin = (long)parse_num(a, v, 1, SLOTS_MAX);
    } else if (strcmp(a, "--ca-file") == 0) {
      p->opt.ca_file = v;
    } else {
      die("unknown flag", a);
    }
  }
  if (p->groups_n == 0 || body_file == NULL || secret_file == NULL) {
    die("usage: curl_multi --group CONNS:URL[,URL...]|CONNS:@FILE --body-file F "
        "--secret-file F [--duration-s S] [--warmup-s W] [--rate R] [--timeout-ms T] "
        "[--per-origin N] [--ramp-s S] [--ca-file PEM] [--sig-header H] [--sig-prefix P] "
        "[--wait-stdin]",
        NULL);
  }
  if (p->opt.rate > 0 && p->groups_n != 1) {
    die("--rate takes exactly one --group", NULL);
  }
  p->body_len = read_file(body_file, p->body, sizeof(p->body), false);
  p->secret_len = read_file(secret_file, p->secret, sizeof(p->secret), true);
  if (p->secret_len == 0) {
    die("empty secret", secret_file);
  }
}

static size_t discard(char *ptr, size_t size, size_t n, void *ctx) {
  (void)ptr;
  (void)ctx;
  return size * n;
}

static void setup_slots(peer *p) {
  for (uint32_t g = 0; g < p->groups_n; g++) {
    p->slots_n += p->groups[g].conns;
  }
  if (p->slots_n > SLOTS_MAX) {
    die("more than 20000 connections in all", NULL);
  }
  p->slots = calloc(p->slots_n, sizeof(slot));
  p->free_slots = calloc(p->slots_n, sizeof(uint32_t));
  if (p->slots == NULL || p->free_slots == NULL) {
    die("out of memory", NULL);
  }
  uint32_t s = 0;
  for (uint32_t g = 0; g < p->groups_n; g++) {
    for (uint32_t i = 0; i < p->groups[g].conns; i++, s++) {
      slot *sl = &p->slots[s];
      sl->group = g;
      p->free_slots[p->free_n++] = p->slots_n - 1 - s;
      sl->easy = curl_easy_init();
      if (sl->easy == NULL) {
        die("curl_easy_init failed", NULL);
      }
      CURL *e = sl->easy;
      curl_easy_setopt(e, CURLOPT_PRIVATE, sl);
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, p->body);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)p->body_len);
      curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p->opt.timeout_ms);
      curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
      if (p->opt.ca_file != NULL) {
        curl_easy_setopt(e, CURLOPT_CAINFO, p->opt.ca_file);
      }
    }
  }
}

/* One request: the signature of the body (computed per request, as a
 * sender signing each delivery would), a fresh header list, the next URL of
 * the slot's group. */
static void start_request(peer *p, slot *sl, uint64_t start_ns) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), p->secret, (int)p->secret_len, (const unsigned char *)p->body,
           p->body_len, mac, &mac_len) == NULL) {
    die("HMAC failed", NULL);
  }
  static const char hex[] = "0123456789abcdef";
  char sig[HEADER_BYTES_MAX], id[64];
  int n = snprintf(sig, sizeof(sig), "%s: %s", p->opt.sig_header, p->opt.sig_prefix);
  if (n < 0 || (size_t)n + 2 * mac_len + 1 > sizeof(sig)) {
    die("signature header too long", NULL);
  }
  for (unsigned int i = 0; i < mac_len; i++) {
    sig[n++] = hex[mac[i] >> 4];
    sig[n++] = hex[mac[i] & 15];
  }
  sig[n] = '\0';
  snprintf(id, sizeof(id), "X-Webhook-Id: curl_%016" PRIx64, p->seq++);
  curl_slist_free_all(sl->headers);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  h = curl_slist_append(h, sig);
  h = curl_slist_append(h, id);
  h = curl_slist_append(h, "X-Webhook-Event: bench.delivery");
  h = curl_slist_append(h, "Expect:");
  if (h == NULL) {
    die("out of memory", NULL);
  }
  sl->headers = h;
  group *g = &p->groups[sl->group];
  curl_easy_setopt(sl->easy, CURLOPT_URL, g->urls[g->next]);
  g->next = (g->next + 1) % g->urls_n;
  curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, h);
  sl->start_ns = start_ns;
  sl->busy = true;
  p->sent++;
  CURLMcode mc = curl_multi_add_handle(p->multi, sl->easy);
  if (mc != CURLM_OK) {
    die("curl_multi_add_handle", curl_multi_strerror(mc));
  }
}

static err_class classify(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
      return ERR_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return ERR_TLS;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return ERR_IO;
    default:
      return ERR_OTHER;
  }
}

/* A finished transfer: count it if it started inside the measured window
 * and ended before its end; the slot is free again. */
static void finish(peer *p, CURLMsg *msg, uint64_t t) {
  slot *sl = NULL;
  curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
  CURLcode rc = msg->data.result;
  long status = 0;
  curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle(p->multi, msg->easy_handle);
  sl->busy = false;
  if (sl->start_ns < p->measure_ns || t > p->end_ns) {
    return;
  }
  group *g = &p->groups[sl->group];
  if (rc == CURLE_OK && status >= 200 && status < 300) {
    p->ok++;
    g->ok++;
    p->status_counts[status]++;
    hl_hist_record(&p->latency_us, (t - sl->start_ns) / 1000u);
    return;
  }
  g->errors++;
  if (rc == CURLE_OK) {
    p->errors[ERR_STATUS]++;
    if (status > 0 && status < 600) {
      p->status_counts[status]++;
    }
  } else {
    p->errors[classify(rc)]++;
  }
}

static uint64_t sched_ns(const peer *p, uint64_t k) {
  return p->t0_ns + (uint64_t)((double)k * 1e9 / p->opt.rate);
}

/* ramp_ns: when slot |i| of a closed loop sends its first request. */
static uint64_t ramp_ns(const peer *p, uint32_t i) {
  return p->t0_ns + (uint64_t)(p->opt.ramp_s * 1e9 * i / p->slots_n);
}

static void arm_timer(int tfd, uint64_t at_ns) {
  struct itimerspec its = {0};
  its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
  its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) {
    its.it_value.tv_nsec = 1;
  }
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* count_unfinished records, at the end of a --rate run, every request of
 * the measured window still waiting for a slot or for its response, at its
 * age now. */
static void count_unfinished(peer *p, uint64_t scheduled) {
  for (uint32_t s = 0; s < p->slots_n; s++) {
    if (p->slots[s].busy && p->slots[s].start_ns >= p->measure_ns) {
      hl_hist_record(&p->latency_us, (p->end_ns - p->slots[s].start_ns) / 1000u);
      p->unfinished++;
    }
  }
  for (uint64_t k = scheduled; sched_ns(p, k) < p->end_ns; k++) {
    if (sched_ns(p, k) >= p->measure_ns) {
      hl_hist_record(&p->latency_us, (p->end_ns - sched_ns(p, k)) / 1000u);
      p->unfinished++;
    }
  }
}

/* collect handles every finished transfer: counts it, frees its slot (or,
 * in a closed loop, starts the slot's next request). Returns whether there
 * was one. */
static bool collect(peer *p) {
  bool any = false;
  CURLMsg *msg;
  int left;
  uint64_t t = now_ns();
  while ((msg = curl_multi_info_read(p->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) {
      continue;
    }
    any = true;
    slot *sl = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
    finish(p, msg, t);
    if (p->opt.rate > 0) {
      p->free_slots[p->free_n++] = (uint32_t)(sl - p->slots);
    } else if (t < p->end_ns) {
      start_request(p, sl, t);
    }
  }
  return any;
}

static void run(peer *p) {
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd < 0) {
    die("timerfd_create failed", strerror(errno));
  }
  p->t0_ns = now_ns();
  p->measure_ns = p->t0_ns + (uint64_t)(p->opt.warmup_s * 1e9);
  p->end_ns = p->t0_ns + (uint64_t)(p->opt.duration_s * 1e9);
  uint64_t scheduled = 0; /* --rate: requests started so far */
  uint64_t armed = 0;     /* the timer's current deadline (one syscall per change) */
  uint32_t ramped = 0;    /* closed loop: slots started so far */
  for (;;) {
    uint64_t t = now_ns();
    if (t >= p->end_ns) {
      break;
    }
    while (p->opt.rate <= 0 && ramped < p->slots_n && ramp_ns(p, ramped) <= t) {
      start_request(p, &p->slots[ramped++], t);
    }
    if (p->opt.rate > 0) {
      /* Start every request whose time has come, while slots are free;
       * the rest wait, and their latency keeps counting. */
      while (p->free_n > 0 && sched_ns(p, scheduled) <= t) {
        start_request(p, &p->slots[p->free_slots[--p->free_n]], sched_ns(p, scheduled));
        scheduled++;
      }
    }
    uint64_t next = p->opt.rate > 0           ? sched_ns(p, scheduled)
                    : ramped < p->slots_n ? ramp_ns(p, ramped)
                                          : p->end_ns;
    next = next < p->end_ns ? next : p->end_ns;
    if (next != armed) {
      arm_timer(tfd, next);
      armed = next;
    }
    /* Transfers can finish inside curl_multi_perform: collect them before
     * polling, or the loop would sleep with a done transfer unseen. */
    int running = 0;
    curl_multi_perform(p->multi, &running);
    if (collect(p)) {
      continue;
    }
    struct curl_waitfd extra[2] = {{.fd = tfd, .events = CURL_WAIT_POLLIN},
                                   {.fd = 0, .events = CURL_WAIT_POLLIN}};
    CURLMcode mc = curl_multi_poll(p->multi, extra, p->opt.wait_stdin ? 2 : 1, 1000, NULL);
    if (mc != CURLM_OK) {
      die("curl_multi_poll", curl_multi_strerror(mc));
    }
    uint64_t expirations;
    ssize_t r = read(tfd, &expirations, sizeof(expirations));
    (void)r;
    if (p->opt.wait_stdin && (extra[1].revents & CURL_WAIT_POLLIN) != 0) {
      p->end_ns = now_ns(); /* "stop", or the harness went away */
    }
  }
  if (p->opt.rate > 0) {
    count_unfinished(p, scheduled);
  }
  close(tfd);
}

static void print_report(const peer *p, double cpu_s) {
  double window_s = (double)(p->end_ns - p->measure_ns) / 1e9;
  printf("{\"contender\":\"curl\",\"curl_version\":\"%s\",\"window_s\":%.3f,\"sent\":%" PRIu64
         ",\"ok\":%" PRIu64 ",\"rate\":%.1f,\"cpu_s\":%.3f,\"errors\":{",
         curl_version_info(CURLVERSION_NOW)->version, window_s, p->sent, p->ok,
         window_s > 0 ? (double)p->ok / window_s : 0.0, cpu_s);
  for (int c = 0; c < ERR_CLASSES_; c++) {
    printf("%s\"%s\":%" PRIu64, c == 0 ? "" : ",", k_err_names[c], p->errors[c]);
  }
  printf("},\"status\":{");
  bool first = true;
  for (int s = 0; s < 600; s++) {
    if (p->status_counts[s] != 0) {
      printf("%s\"%d\":%" PRIu64, first ? "" : ",", s, p->status_counts[s]);
      first = false;
    }
  }
  printf("},\"groups\":[");
  for (uint32_t g = 0; g < p->groups_n; g++) {
    printf("%s{\"conns\":%u,\"urls\":%u,\"ok\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
           g == 0 ? "" : ",", p->groups[g].conns, p->groups[g].urls_n, p->groups[g].ok,
           p->groups[g].errors);
  }
  const hl_hist *h = &p->latency_us;
  printf("],\"unfinished\":%" PRIu64, p->unfinished);
  printf(",\"latency_us\":{\"count\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
         ",\"p99\":%" PRIu64 ",\"p99.9\":%" PRIu64 ",\"max\":%" PRIu64
         ",\"measured_from\":\"%s\"}}\n",
         h->count, hl_hist_percentile(h, 50), hl_hist_percentile(h, 90),
         hl_hist_percentile(h, 99), hl_hist_percentile(h, 99.9), h->count ? h->max : 0,
         p->opt.rate > 0 ? "scheduled" : "sent");
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  static peer p; /* large (histogram, status counts): not on the stack */
  signal(SIGPIPE, SIG_IGN);
  hl_hist_init(&p.latency_us);
  parse_args(&p, argc, argv);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    die("curl_global_init failed", NULL);
  }
  p.multi = curl_multi_init();
  if (p.multi == NULL) {
    die("curl_multi_init failed", NULL);
  }
  setup_slots(&p);
  /* Keep a connection per slot and per origin cached, HTTP/1.1 only (no
   * pipelining, no multiplexing), at most --per-origin to one origin. */
  uint32_t urls = 0;
  for (uint32_t g = 0; g < p.groups_n; g++) {
    urls += p.groups[g].urls_n;
  }
  long cache = (long)(p.slots_n > urls ? p.slots_n : urls);
  curl_multi_setopt(p.multi, CURLMOPT_MAXCONNECTS, cache);
  curl_multi_setopt(p.multi, CURLMOPT_MAX_HOST_CONNECTIONS, p.opt.per_origin);
  curl_multi_setopt(p.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
  if (p.opt.wait_stdin) {
    printf("ready\n");
    fflush(stdout);
    char line[8];
    if (fgets(line, sizeof(line), stdin) == NULL) {
      return 0;
    }
  }
  double cpu0 = self_cpu_s();
  run(&p);
  print_report(&p, self_cpu_s() - cpu0);
  fflush(stdout);
  /* The OS reclaims the handles and connections; closing thousands of TLS
   * connections one by one would only delay the harness. */
  _exit(0);
}
