/* nginx: start a real nginx for an integration test, and stop it.
 *
 *   tn_nginx n;
 *   if (!tn_nginx_start(&n, dir, "server { listen 127.0.0.1:@P0@; ... }")) skip;
 *   ... n.port[0] ...
 *   tn_nginx_stop(&n);
 *
 * The server blocks are the test's; @P0@ .. @P7@ are replaced by free
 * loopback ports picked here, and @DIR@ by the nginx prefix directory
 * (a fresh folder under |dir| holding the config, pid file, logs and temp
 * folders). nginx runs in the foreground (`daemon off`) as a child process
 * with one worker, errors logged to DIR/error.log (printed if start
 * fails), no access log. Header-only (static functions) so that any test
 * can include it; returns false (the test should skip) when nginx is not
 * installed. */
#ifndef HL_TESTS_LIB_NGINX_H
#define HL_TESTS_LIB_NGINX_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TN_PORTS 8

typedef struct tn_nginx {
  pid_t pid;
  char dir[512];
  uint16_t port[TN_PORTS];
} tn_nginx;

/* tn_free_port returns a loopback TCP port that was free a moment ago. */
static uint16_t tn_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    abort();
  }
  close(fd);
  return ntohs(a.sin_port);
}

static const char *tn_nginx_binary(void) {
  static const char *const paths[] = {"/usr/sbin/nginx", "/usr/bin/nginx",
                                      "/usr/local/sbin/nginx"};
  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    if (access(paths[i], X_OK) == 0) {
      return paths[i];
    }
  }
  return NULL;
}

/* tn_expand copies |in| to |out| replacing @Pn@ and @DIR@. */
static void tn_expand(const tn_nginx *n, const char *in, FILE *out) {
  while (*in != '\0') {
    if (in[0] == '@' && in[1] == 'P' && in[2] >= '0' && in[2] < '0' + TN_PORTS && in[3] == '@') {
      fprintf(out, "%u", n->port[in[2] - '0']);
      in += 4;
    } else if (strncmp(in, "@DIR@", 5) == 0) {
      fputs(n->dir, out);
      in += 5;
    } else {
      fputc(*in++, out);
    }
  }
}

static bool tn_port_open(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  if (fd >= 0) {
    close(fd);
  }
  return ok;
}

static void tn_print_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return;
  }
  char line[512];
  while (fgets(line, sizeof(line), f) != NULL) {
    fputs(line, stderr);
  }
  fclose(f);
}

/* tn_nginx_start writes the config and starts nginx, waiting until every
 * port in |wait_ports| (a count from port 0 up) accepts connections. */
static bool tn_nginx_start(tn_nginx *n, const char *parent, const char *servers,
                           int wait_ports) {
  memset(n, 0, sizeof(*n));
  const char *bin = tn_nginx_binary();
  if (bin == NULL) {
    fprintf(stderr, "nginx: not installed\n");
    return false;
  }
  snprintf(n->dir, sizeof(n->dir), "%s/nginx", parent);
  mkdir(n->dir, 0755);
  char path[600];
  snprintf(path, sizeof(path), "%s/tmp", n->dir);
  mkdir(path, 0755);
  for (int i = 0; i < TN_PORTS; i++) {
    n->port[i] = tn_free_port();
  }
  snprintf(path, sizeof(path), "%s/nginx.conf", n->dir);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    return false;
  }
  /* As root, nginx would switch its worker to `nobody`, which cannot read
   * the test's files: stay root. */
  if (geteuid() == 0) {
    fputs("user root;\n", f);
  }
  tn_expand(n,
            "daemon off;\nmaster_process on;\nworker_processes 1;\n"
            "pid @DIR@/nginx.pid;\nerror_log @DIR@/error.log info;\n"
            "events { worker_connections 8192; }\n"
            "http {\n  access_log off;\n  default_type text/plain;\n"
            "  client_body_temp_path @DIR@/tmp/body;\n  proxy_temp_path @DIR@/tmp/proxy;\n"
            "  fastcgi_temp_path @DIR@/tmp/fastcgi;\n  uwsgi_temp_path @DIR@/tmp/uwsgi;\n"
            "  scgi_temp_path @DIR@/tmp/scgi;\n",
            f);
  tn_expand(n, servers, f);
  fputs("\n}\n", f);
  fclose(f);
  char log[600];
  snprintf(log, sizeof(log), "%s/error.log", n->dir);
  pid_t pid = fork();
  if (pid < 0) {
    return false;
  }
  if (pid == 0) {
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s/", n->dir);
    execl(bin, "nginx", "-p", prefix, "-c", path, "-e", log, (char *)NULL);
    _exit(127);
  }
  n->pid = pid;
  for (int tries = 0; tries < 500; tries++) {
    bool all = true;
    for (int i = 0; i < wait_ports && all; i++) {
      all = tn_port_open(n->port[i]);
    }
    if (all) {
      return true;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      fprintf(stderr, "nginx exited at start; its log:\n");
      tn_print_file(log);
      n->pid = 0;
      return false;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "nginx did not open its ports within 5 s; its log:\n");
  tn_print_file(log);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  n->pid = 0;
  return false;
}

/* tn_nginx_stop stops nginx (fast shutdown) and waits for it. */
static void tn_nginx_stop(tn_nginx *n) {
  if (n->pid <= 0) {
    return;
  }
  kill(n->pid, SIGTERM);
  for (int tries = 0; tries < 300; tries++) {
    if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
      n->pid = 0;
      return;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(n->pid, SIGKILL);
  waitpid(n->pid, NULL, 0);
  n->pid = 0;
}

#endif
