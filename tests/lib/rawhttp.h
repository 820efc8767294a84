/* rawhttp: a small misbehaving HTTP/1.1 server for client tests, on
 * loopback, one thread per connection (blocking sockets: simple, and the
 * tests need a few connections only).
 *
 * What it does with a request is chosen by its path (the first line's
 * target) or, failing that, by the server's mode:
 *   /ok         200 with "ok", keep-alive
 *   /never      reads requests and never answers
 *   /bytewise   a valid 200 response, one byte per write, 2 ms apart
 *   /bigheader  a status line and then 100 KB of header lines
 *   /endless    a chunked body that never ends (1 KB chunks, 1 ms apart)
 *   /badstatus  "HTTP/1.1 2OO OK"
 *   /rst        half a response, then a reset (SO_LINGER 0)
 *   /partial    half a response, then a clean close
 *   /race       the first request on a connection is answered; the second
 *               one is met with a close before any byte (keep-alive race)
 *   /close      a close before any byte, on any request
 * Header-only (static functions), like tests/lib/nginx.h. */
#ifndef HL_TESTS_LIB_RAWHTTP_H
#define HL_TESTS_LIB_RAWHTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RH_CONNS_MAX 128

typedef struct rh_server {
  int lfd;
  uint16_t port;
  const char *mode_path; /* used when the target matches nothing */
  pthread_t acc;
  pthread_t th[RH_CONNS_MAX];
  int fds[RH_CONNS_MAX];
  int n;
  int stopping;
  pthread_mutex_t mu;
} rh_server;

typedef struct rh_conn {
  rh_server *s;
  int fd;
  int index;
} rh_conn;

static void rh_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* rh_read_head reads one request head (to the empty line) and copies its
 * target into |target|. Returns false on EOF or error. */
static bool rh_read_head(int fd, char *target, size_t cap) {
  char buf[8192];
  size_t len = 0;
  while (len < sizeof(buf)) {
    ssize_t n = recv(fd, buf + len, 1, 0);
    if (n <= 0) {
      return false;
    }
    len++;
    if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0) {
      const char *sp = memchr(buf, ' ', len);
      const char *end = sp != NULL ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - buf)) : NULL;
      size_t tl = end != NULL ? (size_t)(end - sp - 1) : 0;
      tl = tl < cap - 1 ? tl : cap - 1;
      memcpy(target, sp != NULL ? sp + 1 : "", tl);
      target[tl] = '\0';
      return true;
    }
  }
  return false;
}

static bool rh_send(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    p += n;
    len -= (size_t)n;
  }
  return true;
}

static bool rh_send_str(int fd, const char *s) {
  return rh_send(fd, s, strlen(s));
}

static const char rh_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* rh_serve answers one request; returns false to close the connection. */
static bool rh_serve(rh_conn *rc, const char *path, int req) {
  int fd = rc->fd;
  if (strcmp(path, "/ok") == 0) {
    return rh_send_str(fd, rh_ok);
  }
  if (strcmp(path, "/never") == 0) {
    return true;
  }
  if (strcmp(path, "/bytewise") == 0) {
    for (size_t i = 0; i < sizeof(rh_ok) - 1; i++) {
      if (!rh_send(fd, rh_ok + i, 1)) {
        return false;
      }
      rh_sleep_ms(2);
    }
    return true;
  }
  if (strcmp(path, "/bigheader") == 0) {
    if (!rh_send_str(fd, "HTTP/1.1 200 OK\r\n")) {
      return false;
    }
    char line[1024];
    memset(line, 'a', sizeof(line));
    memcpy(line, "X-Filler: ", 10);
    line[sizeof(line) - 2] = '\r';
    line[sizeof(line) - 1] = '\n';
    for (int i = 0; i < 100; i++) {
      if (!rh_send(fd, line, sizeof(line))) {
        return false;
      }
    }
    return rh_send_str(fd, "Content-Length: 0\r\n\r\n");
  }
  if (strcmp(path, "/endless") == 0) {
    if (!rh_send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) {
      return false;
    }
    char chunk[1024 + 8];
    memcpy(chunk, "400\r\n", 5);
    memset(chunk + 5, 'z', 1024);
    memcpy(chunk + 5 + 1024, "\r\n", 2);
    while (rh_send(fd, chunk, 5 + 1024 + 2)) {
      rh_sleep_ms(1);
    }
    return false;
  }
  if (strcmp(path, "/badstatus") == 0) {
    return rh_send_str(fd, "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n");
  }
  if (strcmp(path, "/rst") == 0 || strcmp(path, "/partial") == 0) {
    rh_send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
    rh_sleep_ms(20);
    if (path[1] == 'r') {
      /* close() with a zero linger sends RST instead of FIN. */
      struct linger lg = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      pthread_mutex_lock(&rc->s->mu);
      rc->s->fds[rc->index] = -1;
      pthread_mutex_unlock(&rc->s->mu);
      close(fd);
      rc->fd = -1;
    }
    return false;
  }
  if (strcmp(path, "/race") == 0) {
    return req == 0 || rc->index > 0 ? rh_send_str(fd, rh_ok) : false;
  }
  if (strcmp(path, "/close") == 0) {
    return false;
  }
  return rc->s->mode_path != NULL && strcmp(path, rc->s->mode_path) != 0
             ? rh_serve(rc, rc->s->mode_path, req)
             : rh_send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

static void *rh_conn_main(void *arg) {
  rh_conn *rc = arg;
  char target[256];
  for (int req = 0; rh_read_head(rc->fd, target, sizeof(target)); req++) {
    if (!rh_serve(rc, target, req)) {
      break;
    }
  }
  if (rc->fd >= 0) {
    shutdown(rc->fd, SHUT_WR);
  }
  free(rc);
  return NULL;
}

static void *rh_accept_main(void *arg) {
  rh_server *s = arg;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) {
      return NULL;
    }
    pthread_mutex_lock(&s->mu);
    if (s->n == RH_CONNS_MAX || s->stopping) {
      pthread_mutex_unlock(&s->mu);
      close(fd);
      continue;
    }
    rh_conn *rc = malloc(sizeof(*rc));
    *rc = (rh_conn){s, fd, s->n};
    s->fds[s->n] = fd;
    pthread_create(&s->th[s->n], NULL, rh_conn_main, rc);
    s->n++;
    pthread_mutex_unlock(&s->mu);
  }
}

/* rh_start listens on a free loopback port. |mode_path| (may be NULL) is
 * the behaviour for targets that name none (e.g. "/"). */
static void rh_start(rh_server *s, const char *mode_path) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->mu, NULL);
  s->mode_path = mode_path;
  s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, len) != 0 || listen(s->lfd, 128) != 0 ||
      getsockname(s->lfd, (struct sockaddr *)&a, &len) != 0) {
    abort();
  }
  s->port = ntohs(a.sin_port);
  pthread_create(&s->acc, NULL, rh_accept_main, s);
}

/* rh_stop stops accepting, unblocks every connection thread and joins. */
static void rh_stop(rh_server *s) {
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_mutex_unlock(&s->mu);
  shutdown(s->lfd, SHUT_RDWR);
  pthread_join(s->acc, NULL);
  close(s->lfd);
  for (int i = 0; i < s->n; i++) {
    pthread_mutex_lock(&s->mu);
    int fd = s->fds[i];
    pthread_mutex_unlock(&s->mu);
    if (fd >= 0) {
      shutdown(fd, SHUT_RDWR);
    }
    pthread_join(s->th[i], NULL);
    if (fd >= 0) {
      close(fd);
    }
  }
  pthread_mutex_destroy(&s->mu);
}

#endif
