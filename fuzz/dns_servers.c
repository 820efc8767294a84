/* Fuzz target: the resolver's servers option ("ip[:port],..."). Properties:
 * - an accepted list has 1..HL_DNS_SERVERS_MAX entries, each AF_INET or
 *   AF_INET6 with a port from 1 to 65535;
 * - writing it gives text that parses back to the same list, and writing
 *   that again gives the same text (the written form is canonical);
 * - a refusal is -EINVAL with a message that starts "dns servers:". */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "base/assert.h"
#include "io/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hl_span write_list(const hl_dns_server *s, size_t n, char *mem, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  hl_dns_servers_write(s, n, &b);
  HL_ASSERT(hl_buf_ok(&b));
  return hl_buf_span(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hl_dns_server s[HL_DNS_SERVERS_MAX];
  size_t n = 99;
  hl_err err;
  err.msg[0] = '\0';
  int rc = hl_dns_servers_parse(hl_span_make(data, size), s, HL_DNS_SERVERS_MAX, &n, &err);
  if (rc != 0) {
    HL_ASSERT(rc == -EINVAL && strncmp(err.msg, "dns servers: ", 13) == 0);
    return 0;
  }
  HL_ASSERT(n >= 1 && n <= HL_DNS_SERVERS_MAX);
  for (size_t i = 0; i < n; i++) {
    HL_ASSERT((s[i].family == AF_INET || s[i].family == AF_INET6) && s[i].port >= 1);
  }
  char t1[1024], t2[1024];
  hl_span w1 = write_list(s, n, t1, sizeof(t1));
  hl_dns_server again[HL_DNS_SERVERS_MAX];
  size_t n2 = 0;
  HL_ASSERT(hl_dns_servers_parse(w1, again, HL_DNS_SERVERS_MAX, &n2, &err) == 0);
  HL_ASSERT(n2 == n);
  for (size_t i = 0; i < n; i++) {
    HL_ASSERT(again[i].family == s[i].family && again[i].port == s[i].port);
    HL_ASSERT(memcmp(again[i].addr, s[i].addr, s[i].family == AF_INET ? 4 : 16) == 0);
  }
  HL_ASSERT(hl_span_eq(write_list(again, n2, t2, sizeof(t2)), w1));
  return 0;
}
