/* dns_test_server: a tiny authoritative DNS server on loopback, for the DNS
 * tests and benchmark (header-only: tests/it_dns_test.c and
 * bench/dns_bench.c include it).
 *
 * It runs on its own thread with blocking poll(2), on an ephemeral UDP port
 * and a TCP listener on the same port number, and answers from a table the
 * caller gives (plus names generated on the fly), counting every question
 * per (name, type) so that tests can assert how many queries reached it:
 *
 *   - a name in the table: its records of the asked type (A, AAAA; a CNAME
 *     record is followed to its target in the table), NOERROR with no
 *     answer when the name has records of other types only;
 *   - a name with a behaviour: SERVFAIL, REFUSED, silence (never answers),
 *     or truncation over UDP (TC bit, no answers: c-ares retries over TCP,
 *     where the full answer is given);
 *   - `n<N>.many.test`: A 10.<N/256>.<N%256>.1, TTL 300, for any N;
 *   - `n<N>.zero.test`: A 10.<N/256>.<N%256>.2 with TTL 0;
 *   - anything else: NXDOMAIN.
 *
 * Names are matched case-insensitively. The server knows only what the
 * tests need: one question per message, class IN, no EDNS. */
#ifndef HL_TESTS_DNS_TEST_SERVER_H
#define HL_TESTS_DNS_TEST_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define DTS_A 1
#define DTS_CNAME 5
#define DTS_AAAA 28

typedef enum dts_behaviour {
  DTS_ANSWER = 0,
  DTS_SERVFAIL,
  DTS_REFUSED,
  DTS_SILENT,
  DTS_TRUNCATE, /* over UDP only */
} dts_behaviour;

typedef struct dts_record {
  const char *name;
  uint16_t type; /* DTS_A, DTS_AAAA, DTS_CNAME; 0 with a behaviour */
  uint32_t ttl;
  const char *data; /* address text, or the CNAME target */
  dts_behaviour behaviour;
} dts_record;

#define DTS_COUNT_SLOTS 16384
#define DTS_TCP_CONNS 8

typedef struct dts_count {
  char name[64];
  uint16_t type;
  uint32_t n;
} dts_count;

typedef struct dts_server {
  const dts_record *records;
  size_t nrecords;
  int udp_fd;
  int tcp_fd;
  int tcp_conns[DTS_TCP_CONNS];
  int stop_pipe[2];
  uint16_t port;
  pthread_t thread;
  pthread_mutex_t mu;
  dts_count counts[DTS_COUNT_SLOTS];
  dts_count overflow;
  atomic_uint total;
  atomic_uint tcp_queries;
} dts_server;

static void dts_lower(char *s) {
  for (; *s != '\0'; s++) {
    if (*s >= 'A' && *s <= 'Z') {
      *s = (char)(*s + 32);
    }
  }
}

static uint32_t dts_hash(const char *name, uint16_t type) {
  uint32_t h = 2166136261u ^ type;
  for (; *name != '\0'; name++) {
    h = (h ^ (uint8_t)*name) * 16777619u;
  }
  return h;
}

/* dts_slot finds the counter of (name, type); names are counted by their
 * first 63 bytes. */
static dts_count *dts_slot(dts_server *s, const char *full, uint16_t type) {
  char name[sizeof(s->counts[0].name)];
  size_t len = strlen(full) < sizeof(name) - 1 ? strlen(full) : sizeof(name) - 1;
  memcpy(name, full, len);
  name[len] = '\0';
  uint32_t h = dts_hash(name, type);
  for (uint32_t i = 0; i < 64; i++) { /* bounded probing keeps a full table fast */
    dts_count *c = &s->counts[(h + i) % DTS_COUNT_SLOTS];
    if (c->name[0] == '\0') {
      memcpy(c->name, name, len + 1);
      c->type = type;
      return c;
    }
    if (c->type == type && strcmp(c->name, name) == 0) {
      return c;
    }
  }
  return &s->overflow; /* the table is full (benchmarks): counted together */
}

/* dts_queries: questions received for |name| (lower-case) of |type|. */
static inline unsigned dts_queries(dts_server *s, const char *name, uint16_t type) {
  pthread_mutex_lock(&s->mu);
  unsigned n = dts_slot(s, name, type)->n;
  pthread_mutex_unlock(&s->mu);
  return n;
}

/* --- messages ------------------------------------------------------------------------ */

typedef struct dts_msg {
  uint8_t b[4096];
  size_t len;
} dts_msg;

static void dts_put(dts_msg *m, const void *p, size_t n) {
  if (m->len + n <= sizeof(m->b)) {
    memcpy(m->b + m->len, p, n);
  }
  m->len += n;
}

static void dts_put16(dts_msg *m, uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  dts_put(m, b, 2);
}

static void dts_put32(dts_msg *m, uint32_t v) {
  dts_put16(m, (uint16_t)(v >> 16));
  dts_put16(m, (uint16_t)v);
}

static void dts_put_name(dts_msg *m, const char *name) {
  while (*name != '\0') {
    const char *dot = strchr(name, '.');
    size_t n = dot != NULL ? (size_t)(dot - name) : strlen(name);
    uint8_t len = (uint8_t)n;
    dts_put(m, &len, 1);
    dts_put(m, name, n);
    name += n + (dot != NULL ? 1 : 0);
  }
  dts_put(m, "", 1);
}

/* dts_parse_question reads the one question; returns its end offset or 0. */
static size_t dts_parse_question(const uint8_t *q, size_t len, char *name, size_t cap,
                                 uint16_t *type) {
  if (len < 12 || q[4] != 0 || q[5] != 1) {
    return 0;
  }
  size_t off = 12, out = 0;
  for (;;) {
    if (off >= len) {
      return 0;
    }
    uint8_t l = q[off++];
    if (l == 0) {
      break;
    }
    if (l > 63 || off + l > len || out + l + 2 > cap) {
      return 0;
    }
    if (out > 0) {
      name[out++] = '.';
    }
    memcpy(name + out, q + off, l);
    out += l;
    off += l;
  }
  name[out] = '\0';
  if (off + 4 > len) {
    return 0;
  }
  *type = (uint16_t)(q[off] << 8 | q[off + 1]);
  return off + 4;
}

static void dts_add_rr(dts_msg *m, const char *owner, uint16_t type, uint32_t ttl,
                       const char *data) {
  dts_put_name(m, owner);
  dts_put16(m, type);
  dts_put16(m, 1);
  dts_put32(m, ttl);
  if (type == DTS_A) {
    uint8_t a[4];
    inet_pton(AF_INET, data, a);
    dts_put16(m, 4);
    dts_put(m, a, 4);
  } else if (type == DTS_AAAA) {
    uint8_t a[16];
    inet_pton(AF_INET6, data, a);
    dts_put16(m, 16);
    dts_put(m, a, 16);
  } else {
    dts_msg target = {.len = 0};
    dts_put_name(&target, data);
    dts_put16(m, (uint16_t)target.len);
    dts_put(m, target.b, target.len);
  }
}

/* dts_generated answers the n<N>.many.test / n<N>.zero.test families. */
static bool dts_generated(const char *name, uint16_t type, dts_msg *m, uint16_t *ancount,
                          bool *exists) {
  unsigned n;
  char zone[16];
  if (sscanf(name, "n%u.%15[a-z].test", &n, zone) != 2) {
    return false;
  }
  bool zero = strcmp(zone, "zero") == 0;
  if (!zero && strcmp(zone, "many") != 0) {
    return false;
  }
  *exists = true;
  if (type == DTS_A) {
    char text[32];
    snprintf(text, sizeof(text), "10.%u.%u.%u", (n >> 8) & 255, n & 255, zero ? 2 : 1);
    dts_add_rr(m, name, DTS_A, zero ? 0 : 300, text);
    (*ancount)++;
  }
  return true;
}

/* dts_answer builds the response to |q| in |m|; false: send nothing. */
static bool dts_answer(dts_server *s, const uint8_t *q, size_t len, bool tcp, dts_msg *m) {
  char name[256];
  uint16_t type;
  size_t qend = dts_parse_question(q, len, name, sizeof(name), &type);
  if (qend == 0) {
    return false;
  }
  dts_lower(name);
  pthread_mutex_lock(&s->mu);
  dts_slot(s, name, type)->n++;
  pthread_mutex_unlock(&s->mu);
  atomic_fetch_add(&s->total, 1);
  if (tcp) {
    atomic_fetch_add(&s->tcp_queries, 1);
  }
  dts_behaviour how = DTS_ANSWER;
  bool exists = false;
  for (size_t i = 0; i < s->nrecords; i++) {
    if (strcasecmp(s->records[i].name, name) == 0) {
      exists = true;
      if (s->records[i].behaviour != DTS_ANSWER) {
        how = s->records[i].behaviour;
      }
    }
  }
  if (how == DTS_SILENT) {
    return false;
  }
  m->len = 0;
  dts_put(m, q, 2); /* id */
  uint8_t rcode = how == DTS_SERVFAIL ? 2 : how == DTS_REFUSED ? 5 : 0;
  bool truncate = how == DTS_TRUNCATE && !tcp;
  uint8_t flags[2] = {(uint8_t)(0x84 | (truncate ? 0x02 : 0) | (q[2] & 0x01)), (uint8_t)(0x80 | rcode)};
  dts_put(m, flags, 2);
  dts_put16(m, 1);
  size_t ancount_at = m->len;
  dts_put16(m, 0);
  dts_put16(m, 0);
  dts_put16(m, 0);
  dts_put(m, q + 12, qend - 12);
  uint16_t ancount = 0;
  if (rcode == 0 && !truncate && !dts_generated(name, type, m, &ancount, &exists)) {
    const char *owner = name;
    for (int hops = 0; hops < 4; hops++) {
      const char *cname = NULL;
      for (size_t i = 0; i < s->nrecords; i++) {
        const dts_record *r = &s->records[i];
        if (strcasecmp(r->name, owner) != 0 || r->behaviour != DTS_ANSWER) {
          continue;
        }
        if (r->type == type || r->type == DTS_CNAME) {
          dts_add_rr(m, r->name, r->type, r->ttl, r->data);
          ancount++;
        }
        if (r->type == DTS_CNAME) {
          cname = r->data;
        }
      }
      if (cname == NULL) {
        break;
      }
      owner = cname;
    }
  }
  if (rcode == 0 && !exists) {
    m->b[3] = (uint8_t)(0x80 | 3); /* NXDOMAIN */
  }
  m->b[ancount_at] = (uint8_t)(ancount >> 8);
  m->b[ancount_at + 1] = (uint8_t)ancount;
  return m->len <= sizeof(m->b);
}

/* --- the server thread -------------------------------------------------------------- */

static void dts_serve_tcp(dts_server *s, int *fdp) {
  uint8_t buf[2 + 512];
  ssize_t n = recv(*fdp, buf, 2, MSG_WAITALL);
  size_t len = n == 2 ? (size_t)(buf[0] << 8 | buf[1]) : 0;
  if (len == 0 || len > 512 || recv(*fdp, buf + 2, len, MSG_WAITALL) != (ssize_t)len) {
    close(*fdp);
    *fdp = -1;
    return;
  }
  dts_msg m;
  if (dts_answer(s, buf + 2, len, true, &m)) {
    uint8_t hdr[2] = {(uint8_t)(m.len >> 8), (uint8_t)m.len};
    if (send(*fdp, hdr, 2, MSG_NOSIGNAL) != 2 ||
        send(*fdp, m.b, m.len, MSG_NOSIGNAL) != (ssize_t)m.len) {
      close(*fdp);
      *fdp = -1;
    }
  }
}

static void *dts_thread(void *arg) {
  dts_server *s = arg;
  for (;;) {
    struct pollfd p[3 + DTS_TCP_CONNS];
    p[0] = (struct pollfd){.fd = s->stop_pipe[0], .events = POLLIN};
    p[1] = (struct pollfd){.fd = s->udp_fd, .events = POLLIN};
    p[2] = (struct pollfd){.fd = s->tcp_fd, .events = POLLIN};
    for (int i = 0; i < DTS_TCP_CONNS; i++) {
      p[3 + i] = (struct pollfd){.fd = s->tcp_conns[i], .events = POLLIN};
    }
    if (poll(p, 3 + DTS_TCP_CONNS, -1) < 0) {
      continue;
    }
    if (p[0].revents != 0) {
      return NULL;
    }
    if (p[1].revents & POLLIN) {
      uint8_t q[512];
      struct sockaddr_storage from;
      socklen_t flen = sizeof(from);
      ssize_t n = recvfrom(s->udp_fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
      dts_msg m;
      if (n > 0 && dts_answer(s, q, (size_t)n, false, &m)) {
        sendto(s->udp_fd, m.b, m.len, 0, (struct sockaddr *)&from, flen);
      }
    }
    if (p[2].revents & POLLIN) {
      int c = accept(s->tcp_fd, NULL, NULL);
      for (int i = 0; c >= 0 && i < DTS_TCP_CONNS; i++) {
        if (s->tcp_conns[i] < 0) {
          s->tcp_conns[i] = c;
          c = -1;
        }
      }
      if (c >= 0) {
        close(c);
      }
    }
    for (int i = 0; i < DTS_TCP_CONNS; i++) {
      if (s->tcp_conns[i] >= 0 && (p[3 + i].revents & (POLLIN | POLLHUP | POLLERR))) {
        dts_serve_tcp(s, &s->tcp_conns[i]);
      }
    }
  }
}

/* dts_start binds UDP and TCP on one free loopback port and starts the
 * thread. Returns 0 or -errno. */
static inline int dts_start(dts_server *s, const dts_record *records, size_t nrecords) {
  memset(s, 0, sizeof(*s));
  s->records = records;
  s->nrecords = nrecords;
  pthread_mutex_init(&s->mu, NULL);
  for (int i = 0; i < DTS_TCP_CONNS; i++) {
    s->tcp_conns[i] = -1;
  }
  for (int attempt = 0; attempt < 50; attempt++) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    s->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rcvbuf = 4 << 20; /* a burst of 2,000 questions must not be dropped */
    setsockopt(s->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (s->udp_fd < 0 || bind(s->udp_fd, (struct sockaddr *)&a, alen) != 0 ||
        getsockname(s->udp_fd, (struct sockaddr *)&a, &alen) != 0) {
      return -errno;
    }
    s->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s->tcp_fd, (struct sockaddr *)&a, alen) == 0 && listen(s->tcp_fd, 16) == 0) {
      s->port = ntohs(a.sin_port);
      break;
    }
    close(s->udp_fd);
    close(s->tcp_fd);
    s->udp_fd = s->tcp_fd = -1;
  }
  if (s->port == 0 || pipe(s->stop_pipe) != 0) {
    return -EADDRINUSE;
  }
  return -pthread_create(&s->thread, NULL, dts_thread, s);
}

/* dts_servers writes the servers option naming this server. */
static inline void dts_servers(const dts_server *s, char *out, size_t cap) {
  snprintf(out, cap, "127.0.0.1:%u", s->port);
}

static inline void dts_stop(dts_server *s) {
  if (write(s->stop_pipe[1], "x", 1) != 1) {
    abort();
  }
  pthread_join(s->thread, NULL);
  close(s->stop_pipe[0]);
  close(s->stop_pipe[1]);
  close(s->udp_fd);
  close(s->tcp_fd);
  for (int i = 0; i < DTS_TCP_CONNS; i++) {
    if (s->tcp_conns[i] >= 0) {
      close(s->tcp_conns[i]);
    }
  }
  pthread_mutex_destroy(&s->mu);
}

#endif
