/* client_util: what the http/client integration tests share: a completion
 * record (ct_got, filled by ct_on_done) and the test PKI they serve and
 * trust (ct_make_certs). Header-only, like the rest of tests/lib. */
#ifndef HL_TESTS_LIB_CLIENT_UTIL_H
#define HL_TESTS_LIB_CLIENT_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "http/client.h"
#include "io/dns.h"
#include "tls_certs.h"

typedef struct ct_got {
  int calls;
  hl_neterr error;
  uint16_t status;
  int32_t retry_after_s;
  bool retried;
  uint64_t at_ms;
  char detail[HL_ERR_BYTES];
} ct_got;

/* ct_on_done: a completion callback whose ctx is a ct_got. */
__attribute__((unused)) static void ct_on_done(void *ctx, hl_client_id id, const hl_client_result *r) {
  (void)id;
  ct_got *g = ctx;
  g->calls++;
  g->error = r->error;
  g->status = r->status;
  g->retry_after_s = r->retry_after_s;
  g->retried = r->retried;
  g->at_ms = hl_clock_mono_ms();
  hl_span_to_cstr(hl_span_cstr(r->detail), g->detail, sizeof(g->detail));
}

/* ct_make_certs writes a test CA to |ca_path| and, in |dir|, three server
 * certificates with their keys: good.{pem,key} (localhost, 127.0.0.1,
 * signed by that CA), wrong.{pem,key} (wrong.example, same CA) and
 * rogue.{pem,key} (localhost, 127.0.0.1, signed by a CA nobody trusts). */
__attribute__((unused)) static void ct_make_certs(const char *dir, const char *ca_path) {
  static const struct {
    const char *name;
    const char *sans;
    bool rogue;
  } leaves[] = {{"good", "DNS:localhost,IP:127.0.0.1", false},
                {"wrong", "DNS:wrong.example", false},
                {"rogue", "DNS:localhost,IP:127.0.0.1", true}};
  tc_ca ca = tc_ca_new("hookline client test CA", NULL);
  tc_ca rogue = tc_ca_new("someone else's CA", NULL);
  tc_ca_write(&ca, ca_path);
  for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
    char cert[700], key[700];
    snprintf(cert, sizeof(cert), "%s/%s.pem", dir, leaves[i].name);
    snprintf(key, sizeof(key), "%s/%s.key", dir, leaves[i].name);
    tc_leaf_write(leaves[i].rogue ? &rogue : &ca, leaves[i].sans, -3600, 86400, cert, key);
  }
  tc_ca_free(&ca);
  tc_ca_free(&rogue);
}

/* ct_dns_new makes the loop's resolver for a test: name servers |servers|
 * ("ip:port", e.g. a tests/dns_test_server.h server; tests that only use
 * IP literals and localhost may name a port nothing listens on), no search
 * domains, short timeouts. */
__attribute__((unused)) static hl_dns *ct_dns_new(hl_loop *loop, const char *servers) {
  hl_dns_options o = hl_dns_options_default();
  o.servers = servers;
  o.no_search = true;
  o.timeout_ms = 1000;
  o.tries = 1;
  o.negative_ttl_s = 1;
  hl_dns *d = NULL;
  hl_err err;
  if (hl_dns_new(loop, &o, &d, &err) != 0) {
    fprintf(stderr, "hl_dns_new: %s\n", err.msg);
    abort();
  }
  return d;
}

#endif
