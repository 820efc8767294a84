/* netpolicy: the SSRF guard (see netpolicy.h). */
#include "io/netpolicy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "base/assert.h"

/* Longest CIDR text we accept: an IPv6 address (45) and "/128". */
#define CIDR_TEXT_BYTES_MAX 49

/* One refused range. For the IPv6 forms that carry an IPv4 address, |embed|
 * lists where its four bytes sit (several layouts where the form allows
 * several, as RFC 6052 does for NAT64 prefixes); the address is refused if
 * the IPv4 rules refuse any of them. A rule with no layout is refused as a
 * whole. The first matching rule wins, so a narrower rule comes before the
 * wider one that contains it. */
typedef struct np_rule {
  uint8_t addr[16];
  uint8_t prefix_bits;
  uint8_t layouts;
  uint8_t embed[4][4];
  const char *what;
  const char *ref;
} np_rule;

static const np_rule v4_rules[] = {
    {{0, 0, 0, 0}, 8, 0, {{0}}, "\"this network\"", "RFC 1122; 0.0.0.0 reaches this host"},
    {{10, 0, 0, 0}, 8, 0, {{0}}, "private network", "RFC 1918"},
    {{100, 64, 0, 0}, 10, 0, {{0}}, "shared address space (CGNAT)", "RFC 6598"},
    {{127, 0, 0, 0}, 8, 0, {{0}}, "loopback", "RFC 1122"},
    {{169, 254, 169, 254}, 32, 0, {{0}}, "cloud metadata service", "link-local, RFC 3927"},
    {{169, 254, 0, 0}, 16, 0, {{0}}, "link-local", "RFC 3927"},
    {{172, 16, 0, 0}, 12, 0, {{0}}, "private network", "RFC 1918"},
    {{192, 0, 0, 0}, 24, 0, {{0}}, "IETF protocol assignments", "RFC 6890"},
    {{192, 0, 2, 0}, 24, 0, {{0}}, "documentation (TEST-NET-1)", "RFC 5737"},
    {{192, 168, 0, 0}, 16, 0, {{0}}, "private network", "RFC 1918"},
    {{198, 18, 0, 0}, 15, 0, {{0}}, "benchmarking", "RFC 2544"},
    {{198, 51, 100, 0}, 24, 0, {{0}}, "documentation (TEST-NET-2)", "RFC 5737"},
    {{203, 0, 113, 0}, 24, 0, {{0}}, "documentation (TEST-NET-3)", "RFC 5737"},
    {{224, 0, 0, 0}, 4, 0, {{0}}, "multicast", "RFC 5771"},
    {{255, 255, 255, 255}, 32, 0, {{0}}, "broadcast", "RFC 919"},
    {{240, 0, 0, 0}, 4, 0, {{0}}, "reserved", "RFC 1112"},
};

#define EMBED_LAST4 {12, 13, 14, 15}

static const np_rule v6_rules[] = {
    {{0}, 128, 0, {{0}}, "unspecified address", "RFC 4291"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, 0, {{0}}, "loopback", "RFC 4291"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 1, {EMBED_LAST4}, "IPv4-mapped", "RFC 4291"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 1, {EMBED_LAST4}, "IPv4-translated", "RFC 2765"},
    {{0}, 96, 1, {EMBED_LAST4}, "IPv4-compatible (deprecated)", "RFC 4291"},
    {{0, 0x64, 0xff, 0x9b}, 96, 1, {EMBED_LAST4}, "NAT64", "RFC 6052"},
    /* Local-use NAT64: the operator picks the prefix length inside the /48,
     * so every RFC 6052 layout that fits (/48, /56, /64, /96) is checked. */
    {{0, 0x64, 0xff, 0x9b, 0, 1},
     48,
     4,
     {{6, 7, 9, 10}, {7, 9, 10, 11}, {9, 10, 11, 12}, EMBED_LAST4},
     "local-use NAT64",
     "RFC 8215"},
    {{0x01, 0x00}, 64, 0, {{0}}, "discard-only", "RFC 6666"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, 0, {{0}}, "documentation", "RFC 3849"},
    {{0x20, 0x01}, 32, 0, {{0}}, "Teredo", "RFC 4380; its embedded address is obfuscated"},
    {{0x20, 0x02}, 16, 1, {{2, 3, 4, 5}}, "6to4", "RFC 3056"},
    {{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54},
     128,
     0,
     {{0}},
     "cloud metadata service",
     "unique local, RFC 4193"},
    {{0xfc}, 7, 0, {{0}}, "unique local", "RFC 4193"},
    {{0xfe, 0x80}, 10, 0, {{0}}, "link-local", "RFC 4291"},
    {{0xfe, 0xc0}, 10, 0, {{0}}, "site-local (deprecated)", "RFC 3879"},
    {{0xff}, 8, 0, {{0}}, "multicast", "RFC 4291"},
};

/* Names that say "this machine" or "my local network" whatever they resolve
 * to; each matches itself and every name under it. */
typedef struct np_name_rule {
  const char *suffix;
  const char *what;
  bool loopback; /* yields when the allow-list covers loopback */
} np_name_rule;

static const np_name_rule name_rules[] = {
    {"localhost", "loopback names (RFC 6761)", true},
    {"localdomain", "local-machine names", false},
    {"local", "multicast DNS names (RFC 6762)", false},
    {"internal", "private-use names (ICANN)", false},
    {"home.arpa", "home network names (RFC 8375)", false},
};

static size_t addr_bytes(int family) {
  return family == 4 ? 4 : 16;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits) {
  unsigned whole = bits / 8;
  if (memcmp(a, net, whole) != 0) {
    return false;
  }
  unsigned rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[whole] & mask) == (net[whole] & mask);
}

static bool allowed(const hl_netpolicy *p, int family, const uint8_t *addr) {
  for (size_t i = 0; i < p->allow_len; i++) {
    const hl_cidr *c = &p->allow[i];
    if (c->family == family && prefix_match(addr, c->addr, c->prefix_bits)) {
      return true;
    }
  }
  return false;
}

static const np_rule *find_rule(int family, const uint8_t *addr) {
  const np_rule *rules = family == 4 ? v4_rules : v6_rules;
  size_t n = family == 4 ? HL_ARRAY_LEN(v4_rules) : HL_ARRAY_LEN(v6_rules);
  for (size_t i = 0; i < n; i++) {
    if (prefix_match(addr, rules[i].addr, rules[i].prefix_bits)) {
      return &rules[i];
    }
  }
  return NULL;
}

static void addr_text(int family, const uint8_t *addr, char *text, size_t cap) {
  if (inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, text, (socklen_t)cap) == NULL) {
    HL_UNREACHABLE(); /* the buffers are INET6_ADDRSTRLEN */
  }
}

static void rule_text(int family, const np_rule *r, char *text, size_t cap) {
  hl_cidr c = {.family = (uint8_t)family, .prefix_bits = r->prefix_bits};
  memcpy(c.addr, r->addr, addr_bytes(family));
  hl_buf b;
  hl_buf_init(&b, text, cap);
  hl_netpolicy_cidr_write(&c, &b);
  hl_buf_cstr(&b);
  HL_ASSERT(hl_buf_ok(&b));
}

static int refuse(int family, const uint8_t *addr, const np_rule *r, const uint8_t *v4,
                  const np_rule *r4, hl_err *err) {
  char a[INET6_ADDRSTRLEN];
  char net[CIDR_TEXT_BYTES_MAX + 1];
  addr_text(family, addr, a, sizeof(a));
  if (v4 == NULL) {
    rule_text(family, r, net, sizeof(net));
    return hl_err_fail(err, -EACCES,
                       "address %s is refused by the network policy: %s %s (%s); allow it "
                       "with --allow-network",
                       a, r->what, net, r->ref);
  }
  char inner[INET6_ADDRSTRLEN];
  addr_text(4, v4, inner, sizeof(inner));
  rule_text(4, r4, net, sizeof(net));
  return hl_err_fail(err, -EACCES,
                     "address %s is refused by the network policy: %s, embedding %s, which is "
                     "%s %s (%s); allow it with --allow-network",
                     a, r->what, inner, r4->what, net, r4->ref);
}

int hl_netpolicy_check_ip(const hl_netpolicy *p, int family, const uint8_t *addr, hl_err *err) {
  HL_ASSERT(family == 4 || family == 6);
  if (allowed(p, family, addr)) {
    return 0;
  }
  const np_rule *r = find_rule(family, addr);
  if (r == NULL) {
    return 0;
  }
  if (r->layouts == 0) {
    return refuse(family, addr, r, NULL, NULL, err);
  }
  for (size_t l = 0; l < r->layouts; l++) {
    uint8_t v4[4];
    for (size_t k = 0; k < 4; k++) {
      v4[k] = addr[r->embed[l][k]];
    }
    const np_rule *r4 = allowed(p, 4, v4) ? NULL : find_rule(4, v4);
    if (r4 != NULL) {
      return refuse(family, addr, r, v4, r4, err);
    }
  }
  return 0;
}

int hl_netpolicy_check_addr(const hl_netpolicy *p, const struct sockaddr *sa, hl_err *err) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    return hl_netpolicy_check_ip(p, 4, (const uint8_t *)&in->sin_addr, err);
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
    return hl_netpolicy_check_ip(p, 6, in6->sin6_addr.s6_addr, err);
  }
  return hl_err_fail(err, -EAFNOSUPPORT,
                     "address family %d is refused by the network policy: only IPv4 and IPv6",
                     (int)sa->sa_family);
}

static bool loopback_allowed(const hl_netpolicy *p) {
  static const uint8_t v4[4] = {127, 0, 0, 1};
  static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return allowed(p, 4, v4) || allowed(p, 6, v6);
}

/* |name| is validated (letters, digits, '-', '.'; no trailing dot). */
static int check_name(const hl_netpolicy *p, hl_span name, hl_err *err) {
  for (size_t i = 0; i < HL_ARRAY_LEN(name_rules); i++) {
    const np_name_rule *r = &name_rules[i];
    hl_span suffix = hl_span_cstr(r->suffix);
    bool match = hl_span_eq_nocase(name, suffix) ||
                 (hl_span_ends_with_nocase(name, suffix) && name.len > suffix.len &&
                  name.ptr[name.len - suffix.len - 1] == '.');
    if (!match) {
      continue;
    }
    if (r->loopback && loopback_allowed(p)) {
      return 0;
    }
    int shown = name.len > 64 ? 64 : (int)name.len;
    if (r->loopback) {
      return hl_err_fail(err, -EACCES,
                         "host \"%.*s\" is refused by the network policy: %s and the names "
                         "under it are %s; allow 127.0.0.0/8 or ::1 with --allow-network to "
                         "reach it",
                         shown, name.ptr, r->suffix, r->what);
    }
    return hl_err_fail(err, -EACCES,
                       "host \"%.*s\" is refused by the network policy: names under .%s are "
                       "%s; name rules cannot be lifted, use an IP address in an allowed network",
                       shown, name.ptr, r->suffix, r->what);
  }
  return 0;
}

static int check_parsed_host(const hl_netpolicy *p, const hl_host *h, hl_err *err) {
  switch (h->kind) {
  case HL_HOST_IPV4:
    return hl_netpolicy_check_ip(p, 4, h->addr, err);
  case HL_HOST_IPV6:
    return hl_netpolicy_check_ip(p, 6, h->addr, err);
  case HL_HOST_NAME:
    return check_name(p, h->name, err);
  }
  HL_UNREACHABLE();
}

int hl_netpolicy_check_host(const hl_netpolicy *p, hl_span host, hl_err *err) {
  hl_host h;
  if (hl_host_parse(host, &h, err) != 0) {
    hl_err_prefix(err, "network policy");
    return -EINVAL;
  }
  return check_parsed_host(p, &h, err);
}

int hl_netpolicy_check_url(const hl_netpolicy *p, const hl_url *u, bool allow_plain_http,
                           hl_err *err) {
  if (u->scheme == HL_URL_HTTP && !allow_plain_http) {
    return hl_err_fail(err, -EACCES,
                       "url: plain http is refused by the network policy; use https, or allow "
                       "plain http explicitly");
  }
  return check_parsed_host(p, &u->host, err);
}

/* --- CIDR text --- */

void hl_netpolicy_init(hl_netpolicy *p) {
  memset(p, 0, sizeof(*p));
}

static int parse_prefix(hl_span s, unsigned max, unsigned *out) {
  uint64_t v = 0;
  if (s.len == 0 || (s.len > 1 && s.ptr[0] == '0') || !hl_span_parse_u64(s, max, &v)) {
    return -EINVAL;
  }
  *out = (unsigned)v;
  return 0;
}

int hl_netpolicy_cidr_parse(hl_span text, hl_cidr *out, hl_err *err) {
  memset(out, 0, sizeof(*out));
  if (text.len == 0) {
    return hl_err_fail(err, -EINVAL,
                       "network: empty; expected an address or a prefix such as 10.0.0.0/8 or "
                       "fd00::/8");
  }
  for (size_t i = 0; i < text.len; i++) {
    unsigned char c = (unsigned char)text.ptr[i];
    if (c <= 0x20 || c >= 0x7f) {
      return hl_err_fail(err, -EINVAL, "network: byte 0x%02x at offset %zu is not allowed", c, i);
    }
  }
  if (text.len > CIDR_TEXT_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "network: %zu bytes is too long for an address and prefix",
                       text.len);
  }
  size_t slash = hl_span_find(text, '/');
  hl_span addr = hl_span_sub(text, 0, slash);
  bool v6 = hl_span_find(addr, ':') != SIZE_MAX;
  unsigned max = v6 ? 128 : 32;
  out->family = v6 ? 6 : 4;
  if (v6 && hl_span_find(addr, '%') != SIZE_MAX) {
    return hl_err_fail(err, -EINVAL, "network \"%.*s\": IPv6 zone ids are not supported",
                       (int)text.len, text.ptr);
  }
  if (v6 && !hl_ipv6_parse(addr, out->addr)) {
    return hl_err_fail(err, -EINVAL, "network \"%.*s\": not a valid IPv6 address",
                       (int)text.len, text.ptr);
  }
  const char *why = v6 ? NULL : hl_ipv4_parse_strict(addr, out->addr);
  if (why != NULL) {
    return hl_err_fail(err, -EINVAL,
                       "network \"%.*s\": not a strict dotted-quad IPv4 address (it %s)",
                       (int)text.len, text.ptr, why);
  }
  unsigned bits = max;
  if (slash != SIZE_MAX && parse_prefix(hl_span_sub(text, slash + 1, SIZE_MAX), max, &bits) != 0) {
    return hl_err_fail(err, -EINVAL,
                       "network \"%.*s\": the prefix length must be a decimal number from 0 to "
                       "%u without leading zeros",
                       (int)text.len, text.ptr, max);
  }
  out->prefix_bits = (uint8_t)bits;
  hl_cidr net = *out;
  for (unsigned i = bits; i < max; i++) {
    net.addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
  }
  if (memcmp(net.addr, out->addr, sizeof(net.addr)) != 0) {
    char meant[CIDR_TEXT_BYTES_MAX + 1];
    hl_buf b;
    hl_buf_init(&b, meant, sizeof(meant));
    hl_netpolicy_cidr_write(&net, &b);
    return hl_err_fail(err, -EINVAL, "network %.*s has host bits set; did you mean %s?",
                       (int)text.len, text.ptr, hl_buf_cstr(&b));
  }
  return 0;
}

void hl_netpolicy_cidr_write(const hl_cidr *c, hl_buf *out) {
  HL_ASSERT(c->family == 4 || c->family == 6);
  char text[INET6_ADDRSTRLEN];
  addr_text(c->family, c->addr, text, sizeof(text));
  hl_buf_put_cstr(out, text);
  hl_buf_putc(out, '/');
  hl_buf_put_u64(out, c->prefix_bits);
}

int hl_netpolicy_allow(hl_netpolicy *p, const char *cidr, hl_err *err) {
  hl_cidr c;
  int rc = hl_netpolicy_cidr_parse(hl_span_cstr(cidr), &c, err);
  if (rc != 0) {
    hl_err_prefix(err, "--allow-network");
    return rc;
  }
  for (size_t i = 0; i < p->allow_len; i++) {
    if (memcmp(&p->allow[i], &c, sizeof(c)) == 0) {
      return 0;
    }
  }
  if (p->allow_len == HL_NETPOLICY_ALLOW_MAX) {
    return hl_err_fail(err, -ENOSPC,
                       "--allow-network: the allow-list already holds %d ranges, the most it "
                       "can (HL_NETPOLICY_ALLOW_MAX)",
                       HL_NETPOLICY_ALLOW_MAX);
  }
  p->allow[p->allow_len++] = c;
  return 0;
}
