/* metrics: a bounded, blocking HTTP/1.1 responder (see metrics.h). */
#include "admin/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "http/h1_request_parse.h"

#define HEAD_BYTES_MAX 8192
#define FIELDS_MAX 32

struct hl_metrics {
  int fd;
  int port;
  pthread_t thread;
  _Atomic bool stop;
  hl_metrics_render_fn fn;
  void *ctx;
  char *body; /* HL_METRICS_BODY_BYTES_MAX */
};

/* parse_addr accepts host:port with a loopback host only. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, hl_err *err) {
  hl_span s = hl_span_cstr(addr);
  size_t colon = SIZE_MAX;
  for (size_t i = 0; i < s.len; i++) {
    if (s.ptr[i] == ':') {
      colon = i;
    }
  }
  uint64_t port;
  if (colon == SIZE_MAX || !hl_span_parse_u64(hl_span_sub(s, colon + 1, s.len), 65535, &port)) {
    return hl_err_fail(err, -EINVAL, "--metrics-addr: expected HOST:PORT, e.g. 127.0.0.1:9464");
  }
  hl_span host = hl_span_sub(s, 0, colon);
  if (host.len >= 2 && host.ptr[0] == '[' && host.ptr[host.len - 1] == ']') {
    host = hl_span_sub(host, 1, host.len - 2);
  }
  char h[64];
  if (!hl_span_to_cstr(host, h, sizeof(h))) {
    return hl_err_fail(err, -EINVAL, "--metrics-addr: host too long");
  }
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (strcmp(h, "localhost") == 0) {
    memcpy(h, "127.0.0.1", 10);
  }
  if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
    if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127) {
      return hl_err_fail(err, -EACCES,
                         "--metrics-addr: %s is not a loopback address; metrics listen on "
                         "127.0.0.0/8 or ::1 only",
                         h);
    }
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof(*in4);
    return 0;
  }
  if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
      return hl_err_fail(err, -EACCES,
                         "--metrics-addr: %s is not a loopback address; metrics listen on "
                         "127.0.0.0/8 or ::1 only",
                         h);
    }
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*in6);
    return 0;
  }
  return hl_err_fail(err, -EINVAL, "--metrics-addr: '%s' is not an IP address or localhost", h);
}

static void send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) {
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

static void respond(int fd, int status, const char *reason, const char *type, hl_span body) {
  char head[256];
  hl_buf h;
  hl_buf_init(&h, head, sizeof(head));
  hl_buf_printf(&h,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                status, reason, type, body.len);
  send_all(fd, h.ptr, h.len);
  send_all(fd, body.ptr, body.len);
}

static void serve_one(hl_metrics *m, int fd) {
  struct timeval tv = {HL_METRICS_READ_TIMEOUT_MS / 1000, (HL_METRICS_READ_TIMEOUT_MS % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[HEAD_BYTES_MAX];
  size_t len = 0;
  hl_h1_limits lim = hl_h1_limits_default();
  hl_h1_field fields[FIELDS_MAX];
  hl_h1_parsed_request req;
  ptrdiff_t rc = HL_INCOMPLETE;
  while (rc == HL_INCOMPLETE && len < sizeof(buf)) {
    ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
    if (n <= 0) {
      return;
    }
    len += (size_t)n;
    rc = hl_h1_request_parse(buf, len, &lim, &req, fields, FIELDS_MAX);
  }
  if (rc < 0) {
    respond(fd, 400, "Bad Request", "text/plain", HL_SPAN_LIT("bad request\n"));
    return;
  }
  hl_span path = req.target;
  size_t q = hl_span_find(path, '?');
  if (q != SIZE_MAX) {
    path.len = q;
  }
  bool get = hl_span_eq(req.method, HL_SPAN_LIT("GET")) || hl_span_eq(req.method, HL_SPAN_LIT("HEAD"));
  hl_buf out;
  hl_buf_init(&out, m->body, HL_METRICS_BODY_BYTES_MAX);
  if (get && hl_span_eq(path, HL_SPAN_LIT("/metrics"))) {
    m->fn(m->ctx, HL_METRICS_PAGE_METRICS, &out);
    if (!hl_buf_ok(&out)) {
      respond(fd, 500, "Internal Server Error", "text/plain",
              HL_SPAN_LIT("metrics larger than HL_METRICS_BODY_BYTES_MAX\n"));
      return;
    }
    respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", hl_buf_span(&out));
  } else if (get && hl_span_eq(path, HL_SPAN_LIT("/healthz"))) {
    bool ok = m->fn(m->ctx, HL_METRICS_PAGE_HEALTH, &out);
    respond(fd, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "application/json",
            hl_buf_span(&out));
  } else {
    respond(fd, 404, "Not Found", "text/plain", HL_SPAN_LIT("try /metrics or /healthz\n"));
  }
}

static void *metrics_main(void *arg) {
  hl_metrics *m = arg;
  pthread_setname_np(pthread_self(), "hl-metrics");
  while (!atomic_load(&m->stop)) {
    struct pollfd p = {.fd = m->fd, .events = POLLIN};
    if (poll(&p, 1, 200) <= 0) {
      continue;
    }
    int fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    serve_one(m, fd);
    close(fd);
  }
  return NULL;
}

int hl_metrics_start(const char *addr, hl_metrics_render_fn fn, void *ctx, hl_metrics **out,
                     hl_err *err) {
  *out = NULL;
  struct sockaddr_storage ss;
  socklen_t sl;
  int rc = parse_addr(addr, &ss, &sl, err);
  if (rc != 0) {
    return rc;
  }
  hl_metrics *m = calloc(1, sizeof(*m));
  if (m == NULL || (m->body = malloc(HL_METRICS_BODY_BYTES_MAX)) == NULL) {
    free(m);
    return hl_err_fail(err, -ENOMEM, "metrics: out of memory");
  }
  m->fn = fn;
  m->ctx = ctx;
  m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(m->fd, (struct sockaddr *)&ss, sl) != 0 || listen(m->fd, 16) != 0) {
    rc = hl_err_fail(err, -errno, "--metrics-addr: cannot listen on %s: %s", addr,
                     strerror(errno));
    goto fail;
  }
  getsockname(m->fd, (struct sockaddr *)&ss, &sl);
  m->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
  if (pthread_create(&m->thread, NULL, metrics_main, m) != 0) {
    rc = hl_err_fail(err, -EAGAIN, "metrics: cannot start its thread");
    goto fail;
  }
  HL_LOG(HL_LOG_INFO, "metrics listening", HL_F_STR("addr", addr), HL_F_INT("port", m->port));
  *out = m;
  return 0;
fail:
  if (m->fd >= 0) {
    close(m->fd);
  }
  free(m->body);
  free(m);
  return rc;
}

int hl_metrics_port(const hl_metrics *m) {
  return m->port;
}

void hl_metrics_stop(hl_metrics *m) {
  if (m == NULL) {
    return;
  }
  atomic_store(&m->stop, true);
  pthread_join(m->thread, NULL);
  close(m->fd);
  free(m->body);
  free(m);
}
