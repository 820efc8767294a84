/* Tests for io/netpolicy: every rule at its boundaries (first and last
 * address inside, the neighbours just outside), the embedded-IPv4 forms,
 * allow-list interactions, name rules, and CIDR parsing. */
#include "io/netpolicy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "harness.h"

/* check_text checks an address written as text; returns the result and
 * leaves the message in |err|. */
static int check_text(const hl_netpolicy *p, const char *text, hl_err *err) {
  uint8_t addr[16];
  err->msg[0] = '\0';
  if (inet_pton(AF_INET, text, addr) == 1) {
    return hl_netpolicy_check_ip(p, 4, addr, err);
  }
  if (inet_pton(AF_INET6, text, addr) == 1) {
    return hl_netpolicy_check_ip(p, 6, addr, err);
  }
  hl_test_fail(__FILE__, __LINE__, "test address %s does not parse", text);
}

typedef struct addr_case {
  const char *addr;
  const char *refusal; /* NULL: allowed; else a substring of the error */
} addr_case;

static void run_cases(const hl_netpolicy *p, const addr_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    hl_err err;
    int rc = check_text(p, cases[i].addr, &err);
    if (cases[i].refusal == NULL && rc != 0) {
      hl_test_fail(__FILE__, __LINE__, "%s should be allowed: %s", cases[i].addr, err.msg);
    }
    if (cases[i].refusal != NULL) {
      if (rc != -EACCES) {
        hl_test_fail(__FILE__, __LINE__, "%s should be refused (%s)", cases[i].addr,
                     cases[i].refusal);
      }
      ASSERT_CONTAINS(err.msg, cases[i].refusal);
      ASSERT_CONTAINS(err.msg, "allow it with --allow-network");
    }
  }
}

static const addr_case v4_cases[] = {
    {"0.0.0.0", "\"this network\" 0.0.0.0/8"},
    {"0.255.255.255", "\"this network\" 0.0.0.0/8"},
    {"1.0.0.0", NULL},
    {"9.255.255.255", NULL},
    {"10.0.0.0", "private network 10.0.0.0/8 (RFC 1918)"},
    {"10.255.255.255", "private network 10.0.0.0/8 (RFC 1918)"},
    {"11.0.0.0", NULL},
    {"100.63.255.255", NULL},
    {"100.64.0.0", "shared address space (CGNAT) 100.64.0.0/10 (RFC 6598)"},
    {"100.127.255.255", "shared address space (CGNAT) 100.64.0.0/10"},
    {"100.128.0.0", NULL},
    {"126.255.255.255", NULL},
    {"127.0.0.0", "loopback 127.0.0.0/8"},
    {"127.0.0.1", "address 127.0.0.1 is refused by the network policy: loopback 127.0.0.0/8"},
    {"127.255.255.255", "loopback 127.0.0.0/8"},
    {"128.0.0.0", NULL},
    {"169.253.255.255", NULL},
    {"169.254.0.0", "link-local 169.254.0.0/16 (RFC 3927)"},
    {"169.254.169.253", "link-local 169.254.0.0/16"},
    {"169.254.169.254", "cloud metadata service 169.254.169.254/32"},
    {"169.254.169.255", "link-local 169.254.0.0/16"},
    {"169.254.255.255", "link-local 169.254.0.0/16"},
    {"169.255.0.0", NULL},
    {"172.15.255.255", NULL},
    {"172.16.0.0", "private network 172.16.0.0/12"},
    {"172.31.255.255", "private network 172.16.0.0/12"},
    {"172.32.0.0", NULL},
    {"191.255.255.255", NULL},
    {"192.0.0.0", "IETF protocol assignments 192.0.0.0/24"},
    {"192.0.0.255", "IETF protocol assignments 192.0.0.0/24"},
    {"192.0.1.0", NULL},
    {"192.0.1.255", NULL},
    {"192.0.2.0", "documentation (TEST-NET-1) 192.0.2.0/24"},
    {"192.0.2.255", "documentation (TEST-NET-1) 192.0.2.0/24"},
    {"192.0.3.0", NULL},
    {"192.167.255.255", NULL},
    {"192.168.0.0", "private network 192.168.0.0/16"},
    {"192.168.255.255", "private network 192.168.0.0/16"},
    {"192.169.0.0", NULL},
    {"198.17.255.255", NULL},
    {"198.18.0.0", "benchmarking 198.18.0.0/15"},
    {"198.19.255.255", "benchmarking 198.18.0.0/15"},
    {"198.20.0.0", NULL},
    {"198.51.99.255", NULL},
    {"198.51.100.0", "documentation (TEST-NET-2) 198.51.100.0/24"},
    {"198.51.100.255", "documentation (TEST-NET-2) 198.51.100.0/24"},
    {"198.51.101.0", NULL},
    {"203.0.112.255", NULL},
    {"203.0.113.0", "documentation (TEST-NET-3) 203.0.113.0/24"},
    {"203.0.113.255", "documentation (TEST-NET-3) 203.0.113.0/24"},
    {"203.0.114.0", NULL},
    {"223.255.255.255", NULL},
    {"224.0.0.0", "multicast 224.0.0.0/4"},
    {"239.255.255.255", "multicast 224.0.0.0/4"},
    {"240.0.0.0", "reserved 240.0.0.0/4"},
    {"255.255.255.254", "reserved 240.0.0.0/4"},
    {"255.255.255.255", "broadcast 255.255.255.255/32"},
    {"8.8.8.8", NULL},
    {"1.1.1.1", NULL},
    {"93.184.216.34", NULL},
};

TEST(ipv4_rules_at_their_boundaries) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  run_cases(&p, v4_cases, sizeof(v4_cases) / sizeof(v4_cases[0]));
}

static const addr_case v6_cases[] = {
    {"::", "unspecified address ::/128"},
    {"::1", "address ::1 is refused by the network policy: loopback ::1/128"},
    {"::2", "IPv4-compatible (deprecated), embedding 0.0.0.2, which is \"this network\""},
    {"::8.8.8.8", NULL},
    {"::10.0.0.1", "IPv4-compatible (deprecated), embedding 10.0.0.1, which is private network"},
    {"::255.255.255.255", "embedding 255.255.255.255, which is broadcast"},
    {"::1:0:0", NULL},
    /* IPv4-mapped: first and last, every kind of v4 rule, and neighbours. */
    {"::fffe:ffff:ffff", NULL},
    {"::ffff:0.0.0.0", "IPv4-mapped, embedding 0.0.0.0, which is \"this network\" 0.0.0.0/8"},
    {"::ffff:255.255.255.255", "IPv4-mapped, embedding 255.255.255.255, which is broadcast"},
    {"::1:0:0:0", NULL},
    {"::ffff:8.8.8.8", NULL},
    {"::ffff:127.0.0.1", "IPv4-mapped, embedding 127.0.0.1, which is loopback 127.0.0.0/8"},
    {"::ffff:10.1.2.3", "embedding 10.1.2.3, which is private network 10.0.0.0/8"},
    {"::ffff:100.64.0.1", "shared address space (CGNAT)"},
    {"::ffff:169.254.169.254", "embedding 169.254.169.254, which is cloud metadata service"},
    {"::ffff:169.254.1.1", "which is link-local"},
    {"::ffff:172.16.0.1", "which is private network 172.16.0.0/12"},
    {"::ffff:192.0.0.1", "which is IETF protocol assignments"},
    {"::ffff:192.0.2.1", "which is documentation (TEST-NET-1)"},
    {"::ffff:192.168.1.1", "which is private network 192.168.0.0/16"},
    {"::ffff:198.18.0.1", "which is benchmarking"},
    {"::ffff:198.51.100.1", "which is documentation (TEST-NET-2)"},
    {"::ffff:203.0.113.1", "which is documentation (TEST-NET-3)"},
    {"::ffff:224.0.0.1", "which is multicast"},
    {"::ffff:240.0.0.1", "which is reserved"},
    /* IPv4-translated (SIIT). */
    {"::ffff:0:a00:1", "IPv4-translated, embedding 10.0.0.1"},
    {"::ffff:0:808:808", NULL},
    /* NAT64 well-known prefix. */
    {"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
    {"64:ff9b::", "NAT64, embedding 0.0.0.0"},
    {"64:ff9b::ffff:ffff", "NAT64, embedding 255.255.255.255, which is broadcast"},
    {"64:ff9b::10.0.0.1", "NAT64, embedding 10.0.0.1, which is private network"},
    {"64:ff9b::169.254.169.254", "NAT64, embedding 169.254.169.254, which is cloud metadata"},
    {"64:ff9b::8.8.8.8", NULL},
    {"64:ff9b::1:0:0", NULL},
    /* Local-use NAT64: every RFC 6052 layout must read a public address. */
    {"64:ff9b:1:ab12:3456:7800:808:808", NULL},
    {"64:ff9b:1:ab12:3456:7800:a00:1", "local-use NAT64, embedding 10.0.0.1"},
    {"64:ff9b:1:a00:0:108:808:808", "local-use NAT64, embedding 10.0.0.1"},
    {"64:ff9b:1::", "local-use NAT64, embedding 0.0.0.0"},
    {"64:ff9b:0:ffff:ffff:ffff:ffff:ffff", NULL},
    {"64:ff9b:2::808:808", NULL},
    /* Discard-only. */
    {"ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
    {"100::", "discard-only 100::/64 (RFC 6666)"},
    {"100::ffff:ffff:ffff:ffff", "discard-only 100::/64"},
    {"100:0:0:1::", NULL},
    /* Teredo and documentation, side by side under 2001::/16. */
    {"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
    {"2001::", "Teredo 2001::/32 (RFC 4380; its embedded address is obfuscated)"},
    {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo 2001::/32"},
    {"2001:1::", NULL},
    {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
    {"2001:db8::", "documentation 2001:db8::/32 (RFC 3849)"},
    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation 2001:db8::/32"},
    {"2001:db9::", NULL},
    /* 6to4: the IPv4 address is bits 16..47. */
    {"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
    {"2002::", "6to4, embedding 0.0.0.0"},
    {"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4, embedding 255.255.255.255"},
    {"2002:a00:1::1", "6to4, embedding 10.0.0.1, which is private network"},
    {"2002:7f00:1::", "6to4, embedding 127.0.0.1, which is loopback"},
    {"2002:a9fe:a9fe::", "6to4, embedding 169.254.169.254, which is cloud metadata service"},
    {"2002:808:808::1", NULL},
    {"2003::", NULL},
    /* Unique local, with the AWS metadata address named. */
    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
    {"fc00::", "unique local fc00::/7 (RFC 4193)"},
    {"fd00:ec2::254", "cloud metadata service fd00:ec2::254/128"},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local fc00::/7"},
    {"fe00::", NULL},
    {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
    {"fe80::", "link-local fe80::/10"},
    {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local fe80::/10"},
    {"fec0::", "site-local (deprecated) fec0::/10"},
    {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local (deprecated) fec0::/10"},
    {"ff00::", "multicast ff00::/8"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast ff00::/8"},
    {"2606:4700:4700::1111", NULL},
    {"2a00:1450:4001::200e", NULL},
};

TEST(ipv6_rules_and_embedded_forms_at_their_boundaries) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  run_cases(&p, v6_cases, sizeof(v6_cases) / sizeof(v6_cases[0]));
}

/* Whatever the IPv4 rules say about an address, its embedded IPv6 forms say
 * the same, with and without an allow-list. */
TEST(embedded_forms_agree_with_the_ipv4_rules_on_random_addresses) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 20000; i++) {
      uint32_t r = (uint32_t)hl_test_rand();
      /* Half the time, land in the special-purpose part of the space. */
      static const uint8_t firsts[] = {0, 10, 100, 127, 169, 172, 192, 198, 203, 224, 240, 255};
      uint8_t v4[4] = {(uint8_t)(r >> 24), (uint8_t)(r >> 16), (uint8_t)(r >> 8), (uint8_t)r};
      if (i % 2 == 0) {
        v4[0] = firsts[(r >> 3) % sizeof(firsts)];
      }
      int want = hl_netpolicy_check_ip(&p, 4, v4, NULL);
      uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      uint8_t nat64[16] = {0, 0x64, 0xff, 0x9b};
      uint8_t six2four[16] = {0x20, 0x02};
      memcpy(mapped + 12, v4, 4);
      memcpy(nat64 + 12, v4, 4);
      memcpy(six2four + 2, v4, 4);
      ASSERT_EQ(hl_netpolicy_check_ip(&p, 6, mapped, NULL), want);
      ASSERT_EQ(hl_netpolicy_check_ip(&p, 6, nat64, NULL), want);
      ASSERT_EQ(hl_netpolicy_check_ip(&p, 6, six2four, NULL), want);
    }
    ASSERT_EQ(hl_netpolicy_allow(&p, "10.0.0.0/8", NULL), 0);
    ASSERT_EQ(hl_netpolicy_allow(&p, "127.0.0.0/8", NULL), 0);
    ASSERT_EQ(hl_netpolicy_allow(&p, "192.168.0.0/24", NULL), 0);
  }
}

TEST(allow_list_wins_for_direct_and_embedded_addresses) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  ASSERT_EQ(hl_netpolicy_allow(&p, "10.0.0.0/8", NULL), 0);
  ASSERT_EQ(hl_netpolicy_allow(&p, "127.0.0.0/8", NULL), 0);
  ASSERT_EQ(hl_netpolicy_allow(&p, "169.254.169.254", NULL), 0);
  ASSERT_EQ(hl_netpolicy_allow(&p, "fd00::/8", NULL), 0);
  static const addr_case cases[] = {
      {"10.1.2.3", NULL},
      {"9.255.255.255", NULL},
      {"172.16.0.1", "private network 172.16.0.0/12"},
      {"127.0.0.1", NULL},
      {"::ffff:127.0.0.1", NULL},
      {"::ffff:10.1.2.3", NULL},
      {"64:ff9b::10.1.2.3", NULL},
      {"2002:a01:203::", NULL},
      {"::ffff:172.16.0.1", "IPv4-mapped, embedding 172.16.0.1"},
      {"::1", "loopback ::1/128"},
      {"169.254.169.254", NULL},
      {"169.254.169.253", "link-local 169.254.0.0/16"},
      {"fd12::1", NULL},
      {"fd00:ec2::254", NULL},
      {"fc00::1", "unique local fc00::/7"},
  };
  run_cases(&p, cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(allow_list_of_an_ipv6_range_covers_its_embedded_addresses) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  ASSERT_EQ(hl_netpolicy_allow(&p, "::ffff:0:0/96", NULL), 0);
  static const addr_case cases[] = {
      {"::ffff:10.0.0.1", NULL},
      {"10.0.0.1", "private network"},
      {"64:ff9b::10.0.0.1", "NAT64, embedding 10.0.0.1"},
  };
  run_cases(&p, cases, sizeof(cases) / sizeof(cases[0]));
  ASSERT_EQ(hl_netpolicy_allow(&p, "0.0.0.0/0", NULL), 0);
  static const addr_case everything_v4[] = {
      {"10.0.0.1", NULL},
      {"255.255.255.255", NULL},
      {"64:ff9b::10.0.0.1", NULL},
      {"fe80::1", "link-local"},
  };
  run_cases(&p, everything_v4, sizeof(everything_v4) / sizeof(everything_v4[0]));
}

TEST(allow_list_is_bounded_and_ignores_duplicates) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  hl_err err;
  for (int i = 0; i < HL_NETPOLICY_ALLOW_MAX; i++) {
    char cidr[32];
    hl_buf b;
    hl_buf_init(&b, cidr, sizeof(cidr));
    hl_buf_printf(&b, "10.%d.0.0/16", i);
    ASSERT_EQ(hl_netpolicy_allow(&p, hl_buf_cstr(&b), &err), 0);
    ASSERT_EQ(hl_netpolicy_allow(&p, hl_buf_cstr(&b), &err), 0);
  }
  ASSERT_EQ(p.allow_len, HL_NETPOLICY_ALLOW_MAX);
  ASSERT_EQ(hl_netpolicy_allow(&p, "10.200.0.0/16", &err), -ENOSPC);
  ASSERT_CONTAINS(err.msg, "already holds 32 ranges");
  ASSERT_EQ(hl_netpolicy_allow(&p, "10.1.0.0/16", &err), 0);
  ASSERT_EQ(hl_netpolicy_allow(&p, "10.1.0.1/16", &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "--allow-network: network 10.1.0.1/16 has host bits set");
}

TEST(socket_addresses) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  hl_err err;
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(443)};
  inet_pton(AF_INET, "10.9.8.7", &in.sin_addr);
  ASSERT_EQ(hl_netpolicy_check_addr(&p, (struct sockaddr *)&in, &err), -EACCES);
  ASSERT_CONTAINS(err.msg,
                  "address 10.9.8.7 is refused by the network policy: private network "
                  "10.0.0.0/8 (RFC 1918); allow it with --allow-network");
  inet_pton(AF_INET, "8.8.4.4", &in.sin_addr);
  ASSERT_EQ(hl_netpolicy_check_addr(&p, (struct sockaddr *)&in, &err), 0);
  struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
  inet_pton(AF_INET6, "::ffff:169.254.169.254", &in6.sin6_addr);
  ASSERT_EQ(hl_netpolicy_check_addr(&p, (struct sockaddr *)&in6, &err), -EACCES);
  ASSERT_CONTAINS(err.msg, "cloud metadata service 169.254.169.254/32");
  inet_pton(AF_INET6, "2606:4700::1", &in6.sin6_addr);
  ASSERT_EQ(hl_netpolicy_check_addr(&p, (struct sockaddr *)&in6, &err), 0);
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  ASSERT_EQ(hl_netpolicy_check_addr(&p, (struct sockaddr *)&un, &err), -EAFNOSUPPORT);
  ASSERT_CONTAINS(err.msg, "only IPv4 and IPv6");
}

typedef struct host_case {
  const char *host;
  int rc;
  const char *msg;
} host_case;

static void run_hosts(const hl_netpolicy *p, const host_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    hl_err err;
    err.msg[0] = '\0';
    int rc = hl_netpolicy_check_host(p, hl_span_cstr(cases[i].host), &err);
    if (rc != cases[i].rc) {
      hl_test_fail(__FILE__, __LINE__, "host %s: rc %d, want %d (%s)", cases[i].host, rc,
                   cases[i].rc, err.msg);
    }
    if (cases[i].msg != NULL) {
      ASSERT_CONTAINS(err.msg, cases[i].msg);
    }
  }
}

TEST(name_rules) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  static const host_case cases[] = {
      {"localhost", -EACCES, "host \"localhost\" is refused by the network policy: localhost and the names under it are loopback names"},
      {"LocalHost.", -EACCES, "loopback names (RFC 6761); allow 127.0.0.0/8 or ::1"},
      {"api.localhost", -EACCES, "loopback name"},
      {"localhost.localdomain", -EACCES, "names under .localdomain are local-machine names"},
      {"printer.local", -EACCES, "names under .local are multicast DNS names (RFC 6762)"},
      {"LOCAL", -EACCES, "names under .local are"},
      {"metadata.google.internal", -EACCES, "names under .internal are private-use names (ICANN)"},
      {"router.home.arpa", -EACCES, "home network names (RFC 8375)"},
      {"home.arpa.", -EACCES, "names under .home.arpa"},
      {"localhost.com", 0, NULL},
      {"notlocalhost", 0, NULL},
      {"mylocal", 0, NULL},
      {"internal.example.com", 0, NULL},
      {"local.example.com", 0, NULL},
      {"arpa", 0, NULL},
      {"example.com", 0, NULL},
      {"example.com.", 0, NULL},
      /* Literals are checked as addresses. */
      {"127.0.0.1", -EACCES, "loopback 127.0.0.0/8"},
      {"[::1]", -EACCES, "loopback ::1/128"},
      {"::ffff:10.0.0.1", -EACCES, "IPv4-mapped, embedding 10.0.0.1"},
      {"8.8.8.8", 0, NULL},
      {"[2606:4700::1]", 0, NULL},
      /* And what is not a host at all is invalid, not refused. */
      {"127.1", -EINVAL, "network policy: host \"127.1\" is not a strict dotted-quad"},
      {"0x7f.0.0.1", -EINVAL, "hexadecimal"},
      {"", -EINVAL, "host is empty"},
      {"a_b.com", -EINVAL, "'_'"},
      {"[fe80::1%eth0]", -EINVAL, "zone id"},
  };
  run_hosts(&p, cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(localhost_yields_to_an_allowed_loopback_and_nothing_else_does) {
  static const char *const loopbacks[] = {"127.0.0.0/8", "127.0.0.1", "::1", "::/0"};
  for (size_t i = 0; i < sizeof(loopbacks) / sizeof(loopbacks[0]); i++) {
    hl_netpolicy p;
    hl_netpolicy_init(&p);
    ASSERT_EQ(hl_netpolicy_allow(&p, loopbacks[i], NULL), 0);
    static const host_case cases[] = {
        {"localhost", 0, NULL},
        {"LOCALHOST.", 0, NULL},
        {"app.localhost", 0, NULL},
        {"metadata.google.internal", -EACCES, "name rules cannot be lifted"},
        {"printer.local", -EACCES, "names under .local are"},
        {"localhost.localdomain", -EACCES, "names under .localdomain are"},
    };
    run_hosts(&p, cases, sizeof(cases) / sizeof(cases[0]));
  }
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  ASSERT_EQ(hl_netpolicy_allow(&p, "127.0.0.2", NULL), 0);
  ASSERT_EQ(hl_netpolicy_allow(&p, "10.0.0.0/8", NULL), 0);
  ASSERT_EQ(hl_netpolicy_check_host(&p, HL_SPAN_LIT("localhost"), NULL), -EACCES);
}

TEST(urls) {
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  static const struct {
    const char *url;
    bool plain;
    int rc;
    const char *msg;
  } cases[] = {
      {"https://hooks.example.com/in", false, 0, NULL},
      {"http://hooks.example.com/in", false, -EACCES, "plain http is refused"},
      {"http://hooks.example.com/in", true, 0, NULL},
      {"https://localhost:8443/", false, -EACCES, "loopback name"},
      {"http://localhost:8080/", true, -EACCES, "loopback name"},
      {"https://127.0.0.1/", false, -EACCES, "loopback 127.0.0.0/8"},
      {"https://[::ffff:7f00:1]/", false, -EACCES, "embedding 127.0.0.1"},
      {"https://169.254.169.254/latest/meta-data/", false, -EACCES, "cloud metadata service"},
      {"https://metadata.google.internal/", false, -EACCES, ".internal"},
      {"https://8.8.8.8/", false, 0, NULL},
      {"https://[2606:4700::1]:8443/", false, 0, NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hl_url u;
    ASSERT_EQ(hl_url_parse(hl_span_cstr(cases[i].url), &u, NULL), 0);
    hl_err err;
    err.msg[0] = '\0';
    int rc = hl_netpolicy_check_url(&p, &u, cases[i].plain, &err);
    if (rc != cases[i].rc) {
      hl_test_fail(__FILE__, __LINE__, "%s: rc %d, want %d (%s)", cases[i].url, rc, cases[i].rc,
                   err.msg);
    }
    if (cases[i].msg != NULL) {
      ASSERT_CONTAINS(err.msg, cases[i].msg);
    }
  }
  ASSERT_EQ(hl_netpolicy_allow(&p, "127.0.0.0/8", NULL), 0);
  hl_url u;
  ASSERT_EQ(hl_url_parse(HL_SPAN_LIT("http://localhost:8080/"), &u, NULL), 0);
  ASSERT_EQ(hl_netpolicy_check_url(&p, &u, true, NULL), 0);
  ASSERT_EQ(hl_netpolicy_check_url(&p, &u, false, NULL), -EACCES);
}

static const char *cidr_text(const hl_cidr *c, char *mem, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  hl_netpolicy_cidr_write(c, &b);
  return hl_buf_cstr(&b);
}

TEST(cidr_parse_and_write) {
  static const char *const cases[][2] = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"10.0.0.1", "10.0.0.1/32"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"192.168.1.128/25", "192.168.1.128/25"},
      {"255.255.255.255/32", "255.255.255.255/32"},
      {"::/0", "::/0"},
      {"::1", "::1/128"},
      {"FD00::/8", "fd00::/8"},
      {"fe80:0:0::/10", "fe80::/10"},
      {"2001:db8::/32", "2001:db8::/32"},
      {"::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"},
      {"2001:db8::8000/113", "2001:db8::8000/113"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hl_cidr c;
    hl_err err;
    if (hl_netpolicy_cidr_parse(hl_span_cstr(cases[i][0]), &c, &err) != 0) {
      hl_test_fail(__FILE__, __LINE__, "%s: %s", cases[i][0], err.msg);
    }
    char mem[64];
    ASSERT_STR_EQ(cidr_text(&c, mem, sizeof(mem)), cases[i][1]);
    hl_cidr again;
    ASSERT_EQ(hl_netpolicy_cidr_parse(hl_span_cstr(mem), &again, &err), 0);
    ASSERT_EQ(memcmp(&c, &again, sizeof(c)), 0);
  }
  hl_cidr c;
  ASSERT_EQ(hl_netpolicy_cidr_parse(HL_SPAN_LIT("172.16.0.0/12"), &c, NULL), 0);
  ASSERT_EQ(c.family, 4);
  ASSERT_EQ(c.prefix_bits, 12);
  const uint8_t want[4] = {172, 16, 0, 0};
  ASSERT_MEM_EQ(c.addr, 4, want, 4);
}

TEST(cidr_errors) {
  static const char *const cases[][2] = {
      {"10.0.0.1/8", "network 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
      {"192.168.1.1/24", "did you mean 192.168.1.0/24?"},
      {"fd00::1/8", "network fd00::1/8 has host bits set; did you mean fd00::/8?"},
      {"::1/127", "did you mean ::/127?"},
      {"10.0.0.0/33", "from 0 to 32"},
      {"::/129", "from 0 to 128"},
      {"10.0.0.0/", "from 0 to 32"},
      {"10.0.0.0/08", "without leading zeros"},
      {"10.0.0.0/-1", "prefix length"},
      {"10.0.0.0/8/8", "prefix length"},
      {"10.0.0.0/ 8", "byte 0x20 at offset 9"},
      {"10.1/16", "not a strict dotted-quad IPv4 address (it has fewer than 4 parts)"},
      {"0x0a.0.0.0/8", "hexadecimal"},
      {"010.0.0.0/8", "leading zero (octal)"},
      {"/8", "has an empty part"},
      {"fe80::1%eth0/64", "zone ids are not supported"},
      {"fe80::g/64", "not a valid IPv6 address"},
      {"1:2:3:4:5:6:7:8:9/64", "not a valid IPv6 address"},
      {"", "network: empty"},
      {"example.com/8", "not a decimal number"},
      {"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa/1", "too long"},
      {"10.0.0.0/8\xc3\xa9", "byte 0xc3 at offset 10"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hl_cidr c;
    hl_err err;
    err.msg[0] = '\0';
    if (hl_netpolicy_cidr_parse(hl_span_cstr(cases[i][0]), &c, &err) != -EINVAL) {
      hl_test_fail(__FILE__, __LINE__, "%s should be refused", cases[i][0]);
    }
    ASSERT_CONTAINS(err.msg, cases[i][1]);
  }
  /* An embedded NUL is a byte like any other bad one, not an end. */
  hl_cidr c;
  hl_err err;
  ASSERT_EQ(hl_netpolicy_cidr_parse(hl_span_make("::1\0/8", 6), &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "byte 0x00 at offset 3");
}
