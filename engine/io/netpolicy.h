/* netpolicy: the SSRF guard, deciding which hosts and addresses a webhook
 * may be delivered to.
 *
 * Endpoint URLs come from users, so without a guard a URL such as
 * http://169.254.169.254/ or https://[::ffff:10.0.0.1]/ would make the
 * engine fetch the cloud metadata service or an internal admin page on the
 * user's behalf. The policy refuses every special-purpose range (loopback,
 * private, link-local, CGNAT, documentation, multicast, reserved, ...),
 * reads the IPv4 address out of the IPv6 forms that embed one (IPv4-mapped,
 * IPv4-compatible, NAT64, 6to4) and checks it by the IPv4 rules, and
 * refuses Teredo, whose embedded address is obfuscated. An operator may
 * exempt ranges with an allow-list (--allow-network); the allow-list wins,
 * for embedded IPv4 addresses too.
 *
 * It is checked twice: on the URL when an endpoint is saved (names such as
 * localhost and *.internal are refused there, before any DNS), and on every
 * resolved address at connect time, which is what catches a public name that
 * resolves to a private address (DNS rebinding included, since the check is
 * on the address actually connected to).
 *
 * Pure: no I/O, no DNS, no allocation; a check is O(rules + allow-list).
 * The rules are a table in netpolicy.c, not code. */
#ifndef HL_IO_NETPOLICY_H
#define HL_IO_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"
#include "text/url.h"

/* An IP network: family 4 or 6, the network address in network byte order
 * (host bits always zero) and the prefix length. */
typedef struct hl_cidr {
  uint8_t family;
  uint8_t prefix_bits;
  uint8_t addr[16];
} hl_cidr;

typedef struct hl_netpolicy {
  hl_cidr allow[HL_NETPOLICY_ALLOW_MAX];
  size_t allow_len;
} hl_netpolicy;

/* hl_netpolicy_init makes the default policy: every rule on, nothing
 * allowed. */
void hl_netpolicy_init(hl_netpolicy *p);

/* hl_netpolicy_cidr_parse parses `a.b.c.d/n`, `a.b.c.d` (= /32), `v6/n` or
 * `v6` (= /128). Strict: IPv4 only as a dotted quad, prefix in decimal
 * without leading zeros and within 0..32 / 0..128, no host bits set beyond
 * the prefix (the error suggests the network that was probably meant).
 * Returns 0 or -EINVAL with |err| set. */
int hl_netpolicy_cidr_parse(hl_span text, hl_cidr *out, hl_err *err);

/* hl_netpolicy_cidr_write writes `address/prefix` (IPv6 in RFC 5952 form);
 * hl_netpolicy_cidr_parse reads it back to the same network. */
void hl_netpolicy_cidr_write(const hl_cidr *c, hl_buf *out);

/* hl_netpolicy_allow adds |cidr| to the allow-list. Returns 0 (also when it
 * is already there), -EINVAL for a malformed range, or -ENOSPC when the list
 * already holds HL_NETPOLICY_ALLOW_MAX ranges. */
int hl_netpolicy_allow(hl_netpolicy *p, const char *cidr, hl_err *err);

/* hl_netpolicy_check_ip checks an address given as bytes (|family| 4 or 6,
 * network byte order). Returns 0 if it may be connected to, or -EACCES with
 * |err| naming the address, the rule and how to allow it. */
int hl_netpolicy_check_ip(const hl_netpolicy *p, int family, const uint8_t *addr, hl_err *err);

/* hl_netpolicy_check_addr is hl_netpolicy_check_ip for a socket address
 * (AF_INET or AF_INET6; any other family is -EAFNOSUPPORT). Called on every
 * resolved address before connecting. */
int hl_netpolicy_check_addr(const hl_netpolicy *p, const struct sockaddr *sa, hl_err *err);

/* hl_netpolicy_check_host checks a host as written in a URL (IP literals
 * with or without brackets, or a name). Literals are checked as addresses.
 * Names are checked against the name rules (localhost, *.localhost,
 * *.local, *.internal, *.home.arpa, *.localdomain), case-insensitively,
 * trailing dot tolerated. The allow-list does not apply to names: a name
 * rule is about intent (the name says "this machine" or "my LAN"), and the
 * resolved address is checked again at connect time anyway. The one
 * exception is localhost and *.localhost, which are allowed when the
 * allow-list covers 127.0.0.1 or ::1, so that allowing loopback makes
 * http://localhost:PORT/ usable (the address it resolves to is still
 * checked at connect). Returns 0, -EACCES (refused) or -EINVAL (not a
 * valid host). */
int hl_netpolicy_check_host(const hl_netpolicy *p, hl_span host, hl_err *err);

/* hl_netpolicy_check_url refuses plain http unless |allow_plain_http|,
 * then checks the URL's host as hl_netpolicy_check_host does. Returns 0 or
 * -EACCES with |err| set. */
int hl_netpolicy_check_url(const hl_netpolicy *p, const hl_url *u, bool allow_plain_http,
                           hl_err *err);

#endif
