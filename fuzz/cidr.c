/* Fuzz target: the network policy's CIDR parser and address check.
 * Properties:
 * - an accepted CIDR has no host bits set, writes as text that parses back
 *   to the same network, and writing that again gives the same text;
 *   allowing it permits its first and last address;
 * - any 16 input bytes, read as an IPv6 address, and their first 4, read as
 *   IPv4, are either allowed or refused with a message (never anything
 *   else), and an IPv4 address gets the same answer as its IPv4-mapped,
 *   NAT64 and 6to4 forms. */
#include <errno.h>
#include <string.h>

#include "base/assert.h"
#include "io/netpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hl_span cidr_text(const hl_cidr *c, char *mem, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  hl_netpolicy_cidr_write(c, &b);
  HL_ASSERT(hl_buf_ok(&b));
  return hl_buf_span(&b);
}

static void fuzz_cidr(hl_span in) {
  hl_cidr c;
  hl_err err;
  if (hl_netpolicy_cidr_parse(in, &c, &err) != 0) {
    HL_ASSERT(err.msg[0] != '\0');
    return;
  }
  unsigned bytes = c.family == 4 ? 4 : 16;
  HL_ASSERT(c.family == 4 || c.family == 6);
  HL_ASSERT(c.prefix_bits <= bytes * 8);
  for (unsigned i = c.prefix_bits; i < bytes * 8; i++) {
    HL_ASSERT((c.addr[i / 8] & (0x80u >> (i % 8))) == 0);
  }
  char t1[64], t2[64];
  hl_span s1 = cidr_text(&c, t1, sizeof(t1));
  hl_cidr again;
  HL_ASSERT(hl_netpolicy_cidr_parse(s1, &again, &err) == 0);
  HL_ASSERT(memcmp(&again, &c, sizeof(c)) == 0);
  HL_ASSERT(hl_span_eq(cidr_text(&again, t2, sizeof(t2)), s1));

  hl_netpolicy p;
  hl_netpolicy_init(&p);
  t1[s1.len] = '\0';
  HL_ASSERT(hl_netpolicy_allow(&p, t1, &err) == 0);
  uint8_t last[16];
  memcpy(last, c.addr, sizeof(last));
  for (unsigned i = c.prefix_bits; i < bytes * 8; i++) {
    last[i / 8] |= (uint8_t)(0x80u >> (i % 8));
  }
  HL_ASSERT(hl_netpolicy_check_ip(&p, c.family, c.addr, NULL) == 0);
  HL_ASSERT(hl_netpolicy_check_ip(&p, c.family, last, NULL) == 0);
}

static int check(int family, const uint8_t *addr) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  hl_err err;
  err.msg[0] = '\0';
  int rc = hl_netpolicy_check_ip(&p, family, addr, &err);
  HL_ASSERT(rc == 0 || rc == -EACCES);
  HL_ASSERT((rc == 0) == (err.msg[0] == '\0'));
  return rc;
}

static void fuzz_addr(const uint8_t *data, size_t size) {
  if (size < 16) {
    return;
  }
  check(6, data);
  int want = check(4, data);
  uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  uint8_t nat64[16] = {0, 0x64, 0xff, 0x9b};
  uint8_t six2four[16] = {0x20, 0x02};
  memcpy(mapped + 12, data, 4);
  memcpy(nat64 + 12, data, 4);
  memcpy(six2four + 2, data, 4);
  memcpy(six2four + 6, data + 4, 10);
  HL_ASSERT(check(6, mapped) == want);
  HL_ASSERT(check(6, nat64) == want);
  HL_ASSERT(check(6, six2four) == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 256) {
    return 0;
  }
  fuzz_cidr(hl_span_make(data, size));
  fuzz_addr(data, size);
  return 0;
}
