/* tls_bench: what an io/tls connection costs, in memory and in CPU, with
 * client and server run against each other in memory (no sockets).
 *
 *   tls_bench mem [N]     heap per idle established connection, client and
 *                         server side: N pairs (default 1000) handshake and
 *                         exchange one request/response (so TLS 1.3 tickets
 *                         are read), then the heap in use (mallinfo2) is
 *                         measured as the servers and then the clients are
 *                         freed. Also: with TLS 1.2, and resumed.
 *   tls_bench cpu [N]     CPU per full handshake, per resumed handshake,
 *                         and per 512 B request / 100 B response exchange
 *                         on an established connection (both ends' work).
 *
 * The certificates are made at start (tests/tls_certs.h) in a temp dir. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../tests/tls_certs.h"
#include "base/assert.h"
#include "io/tls.h"

typedef struct pair {
  hl_tls c, s;
} pair;

typedef struct env {
  char dir[64];
  char ca[128], cert[128], key[128];
  hl_tls_ctx *cc, *sc, *sc12;
  hl_tls_sessions store;
} env;

static void env_init(env *e) {
  snprintf(e->dir, sizeof(e->dir), "/tmp/tls_bench.XXXXXX");
  HL_ASSERT(mkdtemp(e->dir) != NULL);
  snprintf(e->ca, sizeof(e->ca), "%s/ca.pem", e->dir);
  snprintf(e->cert, sizeof(e->cert), "%s/leaf.pem", e->dir);
  snprintf(e->key, sizeof(e->key), "%s/leaf.key", e->dir);
  tc_ca root = tc_ca_new("bench root", NULL);
  tc_ca inter = tc_ca_new("bench intermediate", &root);
  tc_ca_write(&root, e->ca);
  tc_leaf_write(&inter, "DNS:localhost", -3600, 86400, e->cert, e->key);
  tc_ca_free(&inter);
  tc_ca_free(&root);
  hl_err err;
  hl_tls_client_options co = {.ca_file = e->ca, .no_system_cas = true};
  hl_tls_server_options so = {.cert_file = e->cert, .key_file = e->key};
  HL_ASSERT(hl_tls_ctx_client_new(&co, &e->cc, &err) == 0);
  HL_ASSERT(hl_tls_ctx_server_new(&so, &e->sc, &err) == 0);
  so.max_version = HL_TLS_V1_2;
  HL_ASSERT(hl_tls_ctx_server_new(&so, &e->sc12, &err) == 0);
  hl_tls_sessions_init(&e->store);
}

static void env_cleanup(env *e) {
  hl_tls_sessions_clear(&e->store);
  hl_tls_ctx_free(e->cc);
  hl_tls_ctx_free(e->sc);
  hl_tls_ctx_free(e->sc12);
  unlink(e->ca);
  unlink(e->cert);
  unlink(e->key);
  rmdir(e->dir);
}

/* flow moves |from|'s pending ciphertext into |to| and lets |to| consume it
 * (handshake, then reads into |sink|). Returns bytes moved. */
static size_t flow(hl_tls *from, hl_tls *to, char *sink, size_t cap, size_t *got) {
  hl_span o = hl_tls_out(from);
  if (o.len == 0) {
    return 0;
  }
  hl_tls_feed(to, o.ptr, o.len);
  int r = hl_tls_handshake(to);
  while (r == 0) {
    r = hl_tls_read(to, sink, cap);
    if (r > 0) {
      *got += (size_t)r;
      r = 0;
    } else if (r == 0) {
      break;
    }
  }
  HL_ASSERT(r == HL_TLS_WANT_READ);
  size_t n = o.len;
  hl_tls_out_sent(from, n);
  return n;
}

static void settle(pair *p) {
  char sink[4096];
  size_t got = 0;
  for (;;) {
    size_t moved = flow(&p->c, &p->s, sink, sizeof(sink), &got);
    moved += flow(&p->s, &p->c, sink, sizeof(sink), &got);
    if (moved == 0) {
      return;
    }
  }
}

static void open_pair(env *e, pair *p, hl_tls_ctx *sc, hl_tls_sessions *store) {
  hl_err err;
  HL_ASSERT(hl_tls_client_init(&p->c, e->cc, HL_SPAN_LIT("localhost"), store, &err) == 0);
  HL_ASSERT(hl_tls_server_init(&p->s, sc, &err) == 0);
  HL_ASSERT(hl_tls_handshake(&p->c) == HL_TLS_WANT_READ);
  settle(p);
  HL_ASSERT(hl_tls_handshake_done(&p->c) && hl_tls_handshake_done(&p->s));
}

static const char k_request[512] = "POST /hook HTTP/1.1\r\nHost: localhost\r\n";
static const char k_response[100] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

static void exchange(pair *p) {
  HL_ASSERT(hl_tls_write(&p->c, k_request, sizeof(k_request)) == (int)sizeof(k_request));
  settle(p);
  HL_ASSERT(hl_tls_write(&p->s, k_response, sizeof(k_response)) == (int)sizeof(k_response));
  settle(p);
}

static size_t heap_used(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static void mem_case(env *e, const char *name, hl_tls_ctx *sc, bool resume, size_t n) {
  pair *pairs = calloc(n, sizeof(*pairs));
  HL_ASSERT(pairs != NULL);
  if (resume) {
    pair warm;
    open_pair(e, &warm, sc, &e->store);
    exchange(&warm);
    hl_tls_cleanup(&warm.c);
    hl_tls_cleanup(&warm.s);
  }
  size_t resumed = 0;
  for (size_t i = 0; i < n; i++) {
    open_pair(e, &pairs[i], sc, resume ? &e->store : NULL);
    exchange(&pairs[i]);
    resumed += hl_tls_session_reused(&pairs[i].c);
    HL_ASSERT(pairs[i].c.out == NULL && pairs[i].s.out == NULL);
  }
  malloc_trim(0);
  size_t all = heap_used();
  for (size_t i = 0; i < n; i++) {
    hl_tls_cleanup(&pairs[i].s);
  }
  size_t no_servers = heap_used();
  for (size_t i = 0; i < n; i++) {
    hl_tls_cleanup(&pairs[i].c);
  }
  size_t none = heap_used();
  printf("{\"case\":\"%s\",\"conns\":%zu,\"version\":\"%s\",\"resumed\":%zu,"
         "\"client_bytes_per_conn\":%.0f,\"server_bytes_per_conn\":%.0f}\n",
         name, n, sc == e->sc12 ? "TLSv1.2" : "TLSv1.3", resumed,
         (double)(no_servers - none) / (double)n, (double)(all - no_servers) / (double)n);
  hl_tls_sessions_clear(&e->store);
  free(pairs);
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void cpu_handshakes(env *e, const char *name, bool resume, size_t n) {
  pair p;
  if (resume) {
    open_pair(e, &p, e->sc, &e->store);
    exchange(&p);
    hl_tls_cleanup(&p.c);
    hl_tls_cleanup(&p.s);
  }
  size_t resumed = 0;
  double t0 = cpu_s();
  for (size_t i = 0; i < n; i++) {
    open_pair(e, &p, e->sc, resume ? &e->store : NULL);
    if (resume) {
      exchange(&p); /* reads the next tickets, as a pooled connection would */
    }
    resumed += hl_tls_session_reused(&p.c);
    hl_tls_cleanup(&p.c);
    hl_tls_cleanup(&p.s);
  }
  double us = (cpu_s() - t0) * 1e6 / (double)n;
  printf("{\"case\":\"%s\",\"n\":%zu,\"resumed\":%zu,\"cpu_us_per_handshake_both_ends\":%.1f}\n",
         name, n, resumed, us);
  hl_tls_sessions_clear(&e->store);
}

static void cpu_exchanges(env *e, size_t n) {
  pair p;
  open_pair(e, &p, e->sc, NULL);
  double t0 = cpu_s();
  for (size_t i = 0; i < n; i++) {
    exchange(&p);
  }
  double us = (cpu_s() - t0) * 1e6 / (double)n;
  printf("{\"case\":\"exchange_512_100\",\"n\":%zu,\"cpu_us_per_exchange_both_ends\":%.2f}\n",
         n, us);
  hl_tls_cleanup(&p.c);
  hl_tls_cleanup(&p.s);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "mem";
  size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
  env e;
  env_init(&e);
  if (strcmp(mode, "mem") == 0) {
    n = n ? n : 1000;
    mem_case(&e, "full_handshake", e.sc, false, n);
    mem_case(&e, "full_handshake", e.sc12, false, n);
    mem_case(&e, "resumed", e.sc, true, n);
  } else if (strcmp(mode, "cpu") == 0) {
    n = n ? n : 2000;
    cpu_handshakes(&e, "full_handshake", false, n);
    cpu_handshakes(&e, "resumed_handshake", true, n);
    cpu_exchanges(&e, n * 50);
  } else {
    fprintf(stderr, "usage: tls_bench mem|cpu [N]\n");
    env_cleanup(&e);
    return 2;
  }
  env_cleanup(&e);
  return 0;
}
