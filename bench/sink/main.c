/* hookline-sink: main thread. Parses the command line, binds every listener
 * once per worker (SO_REUSEPORT spreads connections over the workers),
 * writes the port file, starts the workers, then waits for signals:
 * SIGUSR1 prints the stats line, SIGINT / SIGTERM stop the workers, print
 * the final stats line and exit 0. Exit codes: 2 usage, 3 bad configuration
 * (certificates, secrets), 4 a resource is unavailable (bind, threads). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "sink.h"

typedef struct app {
  sink_config cfg;
  sink_worker *workers[HL_SINK_WORKERS_MAX];
  pthread_t threads[HL_SINK_WORKERS_MAX];
  int fds[HL_SINK_WORKERS_MAX][HL_SINK_LISTENERS_MAX];
  uint64_t start_ms;
} app;

static void *worker_main(void *arg) {
  sink_worker *w = arg;
  int rc = sink_worker_run(w);
  return (void *)(intptr_t)rc;
}

/* --- listening sockets -------------------------------------------------------- */

static int bind_one(sink_listener *l, uint16_t port, hl_err *err) {
  int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return hl_err_fail(err, -errno, "socket: %s", strerror(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  struct sockaddr_storage a = l->addr;
  if (a.ss_family == AF_INET) {
    ((struct sockaddr_in *)&a)->sin_port = htons(port);
  } else {
    ((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
  }
  if (bind(fd, (struct sockaddr *)&a, l->addr_len) != 0 || listen(fd, 4096) != 0) {
    int e = errno;
    close(fd);
    return hl_err_fail(err, -e, "--listen %s: %s", l->text, strerror(e));
  }
  socklen_t len = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  l->port = ntohs(a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
                                         : ((struct sockaddr_in6 *)&a)->sin6_port);
  return fd;
}

static int bind_all(app *a, hl_err *err) {
  for (uint32_t li = 0; li < a->cfg.listeners_n; li++) {
    sink_listener *l = &a->cfg.listeners[li];
    uint16_t port = ntohs(l->addr.ss_family == AF_INET
                              ? ((struct sockaddr_in *)&l->addr)->sin_port
                              : ((struct sockaddr_in6 *)&l->addr)->sin6_port);
    for (uint32_t w = 0; w < a->cfg.workers; w++) {
      /* The first worker's bind picks the port when 0 was asked for; the
       * others join it. */
      int fd = bind_one(l, w == 0 ? port : l->port, err);
      if (fd < 0) {
        return fd;
      }
      a->fds[w][li] = fd;
    }
  }
  return 0;
}

static int write_port_file(const sink_config *cfg, hl_err *err) {
  char tmp[4096];
  char text[HL_SINK_LISTENERS_MAX * 8];
  hl_buf b;
  hl_buf_init(&b, text, sizeof(text));
  for (uint32_t i = 0; i < cfg->listeners_n; i++) {
    hl_buf_put_u64(&b, cfg->listeners[i].port);
    hl_buf_putc(&b, '\n');
  }
  /* Written aside and renamed, so a test polling for it never reads half. */
  snprintf(tmp, sizeof(tmp), "%s.tmp", cfg->port_file);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, b.ptr, b.len) != (ssize_t)b.len || close(fd) != 0 ||
      rename(tmp, cfg->port_file) != 0) {
    return hl_err_fail(err, -errno, "--port-file %s: %s", cfg->port_file, strerror(errno));
  }
  return 0;
}

/* --- stats ------------------------------------------------------------------------ */

static void stats_line(app *a, hl_buf *b) {
  sink_stats sum;
  memset(&sum, 0, sizeof(sum));
  const uint64_t *src;
  uint64_t *dst = (uint64_t *)&sum;
  size_t n = sizeof(sum) / sizeof(uint64_t);
  for (uint32_t w = 0; w < a->cfg.workers; w++) {
    src = (const uint64_t *)sink_worker_stats(a->workers[w]);
    for (size_t i = 0; i < n; i++) {
      dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  hl_buf_printf(b, "{\"requests\":%llu,\"responses\":%llu,\"by_status\":{",
                (unsigned long long)sum.requests, (unsigned long long)sum.responses);
  bool first = true;
  for (int s = 0; s < 600; s++) {
    if (sum.by_status[s] != 0) {
      hl_buf_printf(b, "%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)sum.by_status[s]);
      first = false;
    }
  }
  hl_buf_put_cstr(b, "},\"by_route\":{");
  for (uint32_t r = 0; r <= a->cfg.routes_n; r++) {
    const char *name = r < a->cfg.routes_n ? a->cfg.routes[r].text : "default";
    hl_buf_printf(b, "%s\"%s\":%llu", r == 0 ? "" : ",", name,
                  (unsigned long long)sum.by_route[r]);
  }
  hl_buf_printf(b,
                "},\"sig_valid\":%llu,\"sig_invalid\":%llu,\"hostile\":%llu,\"waiting\":%llu,"
                "\"connections\":%llu,\"connections_open\":%llu,\"connections_refused\":%llu,"
                "\"tls_handshakes\":%llu,\"tls_resumed\":%llu,\"tls_failures\":%llu,"
                "\"parse_errors\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
                "\"workers\":%u,\"uptime_ms\":%llu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f",
                (unsigned long long)sum.sig_valid, (unsigned long long)sum.sig_invalid,
                (unsigned long long)sum.hostile,
                /* read apart from wait_in, wait_out may be a step ahead */
                (unsigned long long)(sum.wait_in > sum.wait_out ? sum.wait_in - sum.wait_out : 0),
                (unsigned long long)sum.conns_accepted,
                (unsigned long long)(sum.conns_accepted - sum.conns_closed),
                (unsigned long long)sum.conns_refused, (unsigned long long)sum.tls_handshakes,
                (unsigned long long)sum.tls_resumed, (unsigned long long)sum.tls_failures,
                (unsigned long long)sum.parse_errors, (unsigned long long)sum.bytes_in,
                (unsigned long long)sum.bytes_out, a->cfg.workers,
                (unsigned long long)(hl_clock_mono_ms() - a->start_ms),
                (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
  if (a->cfg.stamp) {
    /* Sparse cumulative buckets (index: count): a reader subtracts two
     * lines to get the histogram of a time window. */
    hl_buf_printf(b, ",\"stamp\":{\"bad\":%llu,\"buckets\":{",
                  (unsigned long long)sum.stamp_bad);
    bool any = false;
    for (uint32_t i = 0; i < HL_HIST_BUCKETS; i++) {
      if (sum.stamp_buckets[i] != 0) {
        hl_buf_printf(b, "%s\"%u\":%llu", any ? "," : "", i,
                      (unsigned long long)sum.stamp_buckets[i]);
        any = true;
      }
    }
    hl_buf_put_cstr(b, "}}");
  }
  hl_buf_put_cstr(b, "}\n");
}

static void print_stats(app *a) {
  static char text[128 * 1024]; /* fits every status, route and stamp bucket */
  hl_buf b;
  hl_buf_init(&b, text, sizeof(text));
  stats_line(a, &b);
  int fd = 1;
  if (a->cfg.stats_file != NULL) {
    fd = open(a->cfg.stats_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      fprintf(stderr, "hookline-sink: --stats %s: %s\n", a->cfg.stats_file, strerror(errno));
      return;
    }
  }
  ssize_t w = write(fd, b.ptr, b.len);
  (void)w;
  if (fd != 1) {
    close(fd);
  }
}

/* --- main ---------------------------------------------------------------------------- */

static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static int fail(app *a, int code, const hl_err *err) {
  fprintf(stderr, "hookline-sink: %s\n", err->msg);
  sink_config_cleanup(&a->cfg);
  return code;
}

static int start(app *a, hl_err *err) {
  for (uint32_t w = 0; w < a->cfg.workers; w++) {
    for (uint32_t l = 0; l < HL_SINK_LISTENERS_MAX; l++) {
      a->fds[w][l] = -1;
    }
  }
  int rc = bind_all(a, err);
  if (rc == 0 && a->cfg.port_file != NULL) {
    rc = write_port_file(&a->cfg, err);
  }
  for (uint32_t w = 0; rc == 0 && w < a->cfg.workers; w++) {
    rc = sink_worker_new(&a->cfg, w, a->fds[w], &a->workers[w]);
    if (rc != 0) {
      hl_err_set(err, "worker %u: %s", w, strerror(-rc));
      break;
    }
    for (uint32_t l = 0; l < a->cfg.listeners_n; l++) {
      a->fds[w][l] = -1; /* the worker owns them now */
    }
    if (pthread_create(&a->threads[w], NULL, worker_main, a->workers[w]) != 0) {
      sink_worker_free(a->workers[w]);
      a->workers[w] = NULL;
      rc = hl_err_fail(err, -EAGAIN, "cannot start worker %u", w);
    }
  }
  return rc;
}

static void stop(app *a) {
  for (uint32_t w = 0; w < a->cfg.workers; w++) {
    if (a->workers[w] != NULL) {
      sink_worker_stop(a->workers[w]);
    }
  }
  for (uint32_t w = 0; w < a->cfg.workers; w++) {
    if (a->workers[w] != NULL) {
      pthread_join(a->threads[w], NULL);
    }
  }
}

int main(int argc, char **argv) {
  static app a;
  hl_err err = {{0}};
  a.start_ms = hl_clock_mono_ms();
  int rc = sink_config_parse(&a.cfg, argc, argv, &err);
  if (rc == 1) {
    sink_usage(1);
    sink_config_cleanup(&a.cfg);
    return 0;
  }
  if (rc != 0) {
    return fail(&a, 2, &err);
  }
  if (a.cfg.quiet) {
    hl_log_configure(HL_LOG_WARN, HL_LOG_JSON, 2);
  }
  raise_fd_limit();
  if (sink_config_prepare(&a.cfg, &err) != 0) {
    return fail(&a, 3, &err);
  }
  /* Blocked here, inherited by the workers: only sigwait below sees them. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  rc = start(&a, &err);
  if (rc == 0 && !a.cfg.quiet) {
    for (uint32_t i = 0; i < a.cfg.listeners_n; i++) {
      fprintf(stderr, "hookline-sink: listening on %s (port %u, %s), %u worker(s)\n",
              a.cfg.listeners[i].text, a.cfg.listeners[i].port,
              a.cfg.listeners[i].tls ? "https" : "http", a.cfg.workers);
    }
  }
  while (rc == 0) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) {
      continue;
    }
    if (sig == SIGUSR1) {
      print_stats(&a);
      continue;
    }
    break;
  }
  stop(&a);
  if (rc == 0) {
    print_stats(&a);
  }
  for (uint32_t w = 0; w < a.cfg.workers; w++) {
    sink_worker_free(a.workers[w]);
    for (uint32_t l = 0; l < a.cfg.listeners_n; l++) {
      if (a.fds[w][l] >= 0) {
        close(a.fds[w][l]);
      }
    }
  }
  if (rc != 0) {
    return fail(&a, 4, &err);
  }
  sink_config_cleanup(&a.cfg);
  return 0;
}
