/* Tests for text/url: components of valid URLs, error texts of invalid ones,
 * normalisation round trips, parsing at a guard page, and the percent-codec. */
#include "text/url.h"

#include <errno.h>
#include <stdlib.h>

#include "base/limits.h"
#include "harness.h"

#define ASSERT_NOT_CONTAINS(hay, needle) \
  do { \
    const char *hl_h_ = (hay), *hl_n_ = (needle); \
    if (strstr(hl_h_, hl_n_) != NULL) { \
      hl_test_fail(__FILE__, __LINE__, "\"%s\" contains \"%s\"", hl_h_, hl_n_); \
    } \
  } while (0)

/* An optional component: NULL means "absent". */
static void assert_opt(bool has, hl_span got, const char *want, const char *what, const char *in) {
  if (want == NULL && has) {
    hl_test_fail(__FILE__, __LINE__, "%s: %s should be absent, got \"%.*s\"", in, what,
                 HL_SPAN_FMT(got));
  }
  if (want != NULL && (!has || !hl_span_eq_cstr(got, want))) {
    hl_test_fail(__FILE__, __LINE__, "%s: %s should be \"%s\", got %s\"%.*s\"", in, what, want,
                 has ? "" : "(absent) ", HL_SPAN_FMT(got));
  }
}

typedef void (*writer_fn)(const hl_url *, hl_buf *);

static const char *written(writer_fn fn, const hl_url *u, char *mem, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  fn(u, &b);
  const char *s = hl_buf_cstr(&b);
  ASSERT_TRUE(hl_buf_ok(&b));
  return s;
}

typedef struct valid_case {
  const char *in;
  const char *norm;
  const char *origin;
  const char *target;
  const char *host; /* hl_url.host.name */
  hl_host_kind kind;
  unsigned port;
  bool port_explicit;
  const char *user; /* NULL: no userinfo */
  const char *password;
  const char *query;
  const char *fragment;
} valid_case;

static const valid_case valid_cases[] = {
    {"https://example.com", "https://example.com/", "https://example.com:443", "/", "example.com",
     HL_HOST_NAME, 443, false, NULL, NULL, NULL, NULL},
    {"HTTPS://Example.COM./a/b?x=1#top", "https://example.com/a/b?x=1#top",
     "https://example.com:443", "/a/b?x=1", "Example.COM", HL_HOST_NAME, 443, false, NULL, NULL,
     "x=1", "top"},
    {"http://example.com:80/", "http://example.com/", "http://example.com:80", "/", "example.com",
     HL_HOST_NAME, 80, true, NULL, NULL, NULL, NULL},
    {"http://example.com:8080", "http://example.com:8080/", "http://example.com:8080", "/",
     "example.com", HL_HOST_NAME, 8080, true, NULL, NULL, NULL, NULL},
    {"https://example.com:80/x", "https://example.com:80/x", "https://example.com:80", "/x",
     "example.com", HL_HOST_NAME, 80, true, NULL, NULL, NULL, NULL},
    {"https://user:p%40ss@hooks.example.com:8443/in?q", "https://user:p%40ss@hooks.example.com:8443/in?q",
     "https://hooks.example.com:8443", "/in?q", "hooks.example.com", HL_HOST_NAME, 8443, true,
     "user", "p%40ss", "q", NULL},
    {"https://1.2.3.4/x", "https://1.2.3.4/x", "https://1.2.3.4:443", "/x", "1.2.3.4",
     HL_HOST_IPV4, 443, false, NULL, NULL, NULL, NULL},
    {"https://1.2.3.4./x", "https://1.2.3.4/x", "https://1.2.3.4:443", "/x", "1.2.3.4",
     HL_HOST_IPV4, 443, false, NULL, NULL, NULL, NULL},
    {"https://0.0.0.0/", "https://0.0.0.0/", "https://0.0.0.0:443", "/", "0.0.0.0", HL_HOST_IPV4,
     443, false, NULL, NULL, NULL, NULL},
    {"https://255.255.255.255/", "https://255.255.255.255/", "https://255.255.255.255:443", "/",
     "255.255.255.255", HL_HOST_IPV4, 443, false, NULL, NULL, NULL, NULL},
    {"https://[2001:DB8::1]:8443/x", "https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443",
     "/x", "2001:DB8::1", HL_HOST_IPV6, 8443, true, NULL, NULL, NULL, NULL},
    {"https://[0:0::1]", "https://[0:0::1]/", "https://[::1]:443", "/", "0:0::1", HL_HOST_IPV6,
     443, false, NULL, NULL, NULL, NULL},
    {"https://[::ffff:127.0.0.1]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:127.0.0.1]:443",
     "/", "::ffff:127.0.0.1", HL_HOST_IPV6, 443, false, NULL, NULL, NULL, NULL},
    {"https://a.b?", "https://a.b/?", "https://a.b:443", "/?", "a.b", HL_HOST_NAME, 443, false,
     NULL, NULL, "", NULL},
    {"https://a.b#", "https://a.b/#", "https://a.b:443", "/", "a.b", HL_HOST_NAME, 443, false,
     NULL, NULL, NULL, ""},
    {"https://:secret@a.b/", "https://:secret@a.b/", "https://a.b:443", "/", "a.b", HL_HOST_NAME,
     443, false, "", "secret", NULL, NULL},
    {"https://user:@a.b/", "https://user:@a.b/", "https://a.b:443", "/", "a.b", HL_HOST_NAME, 443,
     false, "user", "", NULL, NULL},
    {"https://user@a.b/", "https://user@a.b/", "https://a.b:443", "/", "a.b", HL_HOST_NAME, 443,
     false, "user", NULL, NULL, NULL},
    {"https://u:p:q@a.b/", "https://u:p:q@a.b/", "https://a.b:443", "/", "a.b", HL_HOST_NAME, 443,
     false, "u", "p:q", NULL, NULL},
    {"https://a.b/p?x=[1]&y={{email}}|z", "https://a.b/p?x=[1]&y={{email}}|z", "https://a.b:443",
     "/p?x=[1]&y={{email}}|z", "a.b", HL_HOST_NAME, 443, false, NULL, NULL, "x=[1]&y={{email}}|z",
     NULL},
    {"https://a.b/%7Euser/%20x", "https://a.b/%7Euser/%20x", "https://a.b:443", "/%7Euser/%20x",
     "a.b", HL_HOST_NAME, 443, false, NULL, NULL, NULL, NULL},
    {"https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/",
     "https://xn--bcher-kva.example:443", "/", "xn--bcher-kva.example", HL_HOST_NAME, 443, false,
     NULL, NULL, NULL, NULL},
    {"https://a.b:0443/", "https://a.b/", "https://a.b:443", "/", "a.b", HL_HOST_NAME, 443, true,
     NULL, NULL, NULL, NULL},
    {"https://a.b:65535/", "https://a.b:65535/", "https://a.b:65535", "/", "a.b", HL_HOST_NAME,
     65535, true, NULL, NULL, NULL, NULL},
    {"https://a.b:1", "https://a.b:1/", "https://a.b:1", "/", "a.b", HL_HOST_NAME, 1, true, NULL,
     NULL, NULL, NULL},
    {"https://a.b/?q#f?/#", "https://a.b/?q#f?/#", "https://a.b:443", "/?q", "a.b", HL_HOST_NAME,
     443, false, NULL, NULL, "q", "f?/#"},
    {"http://a-b.c-d.e/", "http://a-b.c-d.e/", "http://a-b.c-d.e:80", "/", "a-b.c-d.e",
     HL_HOST_NAME, 80, false, NULL, NULL, NULL, NULL},
    {"https://example.com/a@b:c", "https://example.com/a@b:c", "https://example.com:443",
     "/a@b:c", "example.com", HL_HOST_NAME, 443, false, NULL, NULL, NULL, NULL},
    {"https://a.b/cb?redirect=http://x.y/z?w", "https://a.b/cb?redirect=http://x.y/z?w",
     "https://a.b:443", "/cb?redirect=http://x.y/z?w", "a.b", HL_HOST_NAME, 443, false, NULL, NULL,
     "redirect=http://x.y/z?w", NULL},
    /* The classic confusions: everything after '#' or '?' is not the host,
     * and "host:port@" before the real host is userinfo. */
    {"https://evil.com#@good.com", "https://evil.com/#@good.com", "https://evil.com:443", "/",
     "evil.com", HL_HOST_NAME, 443, false, NULL, NULL, NULL, "@good.com"},
    {"https://evil.com?@good.com", "https://evil.com/?@good.com", "https://evil.com:443",
     "/?@good.com", "evil.com", HL_HOST_NAME, 443, false, NULL, NULL, "@good.com", NULL},
    {"https://good.com:443@evil.com/", "https://good.com:443@evil.com/", "https://evil.com:443",
     "/", "evil.com", HL_HOST_NAME, 443, false, "good.com", "443", NULL, NULL},
    {"https://1e100.net/", "https://1e100.net/", "https://1e100.net:443", "/", "1e100.net",
     HL_HOST_NAME, 443, false, NULL, NULL, NULL, NULL},
    {"https://123.example/", "https://123.example/", "https://123.example:443", "/", "123.example",
     HL_HOST_NAME, 443, false, NULL, NULL, NULL, NULL},
    {"hTTp://LOCALHOST:3000/hook", "http://localhost:3000/hook", "http://localhost:3000", "/hook",
     "LOCALHOST", HL_HOST_NAME, 3000, true, NULL, NULL, NULL, NULL},
};

static void check_valid(const valid_case *c, const hl_url *u) {
  char mem[512];
  ASSERT_STR_EQ(written(hl_url_write, u, mem, sizeof(mem)), c->norm);
  ASSERT_STR_EQ(written(hl_url_origin, u, mem, sizeof(mem)), c->origin);
  ASSERT_STR_EQ(written(hl_url_request_target, u, mem, sizeof(mem)), c->target);
  ASSERT_SPAN_EQ(u->host.name, c->host);
  ASSERT_EQ((int)u->host.kind, (int)c->kind);
  ASSERT_EQ(u->port, c->port);
  ASSERT_EQ(u->port_explicit, c->port_explicit);
  assert_opt(u->has_userinfo, u->user, c->user, "user", c->in);
  assert_opt(u->has_password, u->password, c->password, "password", c->in);
  assert_opt(u->has_query, u->query, c->query, "query", c->in);
  assert_opt(u->has_fragment, u->fragment, c->fragment, "fragment", c->in);
}

TEST(valid_urls_have_the_expected_components) {
  for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
    const valid_case *c = &valid_cases[i];
    size_t len = strlen(c->in);
    /* At a guard page: a read past the end faults. */
    char *g = hl_test_guard(c->in, len);
    hl_url u;
    hl_err err = {{0}};
    int rc = hl_url_parse(hl_span_make(g, len), &u, &err);
    if (rc != 0) {
      hl_test_fail(__FILE__, __LINE__, "%s: %s", c->in, err.msg);
    }
    check_valid(c, &u);
    hl_test_guard_free(g, len);
  }
}

TEST(normalised_form_parses_back_to_the_same_components) {
  for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
    const valid_case *c = &valid_cases[i];
    hl_url u;
    ASSERT_EQ(hl_url_parse(hl_span_cstr(c->in), &u, NULL), 0);
    char norm[512];
    written(hl_url_write, &u, norm, sizeof(norm));
    hl_url v;
    ASSERT_EQ(hl_url_parse(hl_span_cstr(norm), &v, NULL), 0);
    ASSERT_TRUE(hl_span_eq_nocase(u.host.name, v.host.name));
    ASSERT_EQ(memcmp(u.host.addr, v.host.addr, 16), 0);
    ASSERT_EQ(u.port, v.port);
    ASSERT_TRUE(hl_span_eq(u.user, v.user) && hl_span_eq(u.password, v.password));
    ASSERT_TRUE(hl_span_eq(u.query, v.query) && hl_span_eq(u.fragment, v.fragment));
    char again[512];
    ASSERT_STR_EQ(written(hl_url_write, &v, again, sizeof(again)), norm);
  }
}

TEST(host_header_and_lower_host) {
  static const char *const cases[][3] = {
      {"https://Example.COM./x", "example.com", "example.com"},
      {"https://Example.COM:443/x", "example.com", "example.com"},
      {"https://Example.COM:8443/x", "example.com:8443", "example.com"},
      {"http://a.b:443/", "a.b:443", "a.b"},
      {"https://[::FFFF:1.2.3.4]:444/", "[::ffff:1.2.3.4]:444", "::ffff:1.2.3.4"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hl_url u;
    ASSERT_EQ(hl_url_parse(hl_span_cstr(cases[i][0]), &u, NULL), 0);
    char mem[128];
    ASSERT_STR_EQ(written(hl_url_host_header, &u, mem, sizeof(mem)), cases[i][1]);
    ASSERT_STR_EQ(written(hl_url_host_lower, &u, mem, sizeof(mem)), cases[i][2]);
  }
}

TEST(redacted_form_hides_the_userinfo) {
  hl_url u;
  ASSERT_EQ(hl_url_parse(HL_SPAN_LIT("https://sk_live_abc:hunter2@api.example.com/x?y#z"), &u,
                         NULL),
            0);
  char mem[128];
  const char *s = written(hl_url_write_redacted, &u, mem, sizeof(mem));
  ASSERT_STR_EQ(s, "https://****@api.example.com/x?y#z");
  ASSERT_EQ(hl_url_parse(HL_SPAN_LIT("https://api.example.com/"), &u, NULL), 0);
  ASSERT_STR_EQ(written(hl_url_write_redacted, &u, mem, sizeof(mem)), "https://api.example.com/");
}

TEST(literal_addresses_are_parsed_into_bytes) {
  hl_url u;
  ASSERT_EQ(hl_url_parse(HL_SPAN_LIT("https://192.168.10.254:8443/"), &u, NULL), 0);
  ASSERT_EQ((int)u.host.kind, HL_HOST_IPV4);
  const uint8_t v4[4] = {192, 168, 10, 254};
  ASSERT_MEM_EQ(u.host.addr, 4, v4, 4);
  ASSERT_EQ(hl_url_parse(HL_SPAN_LIT("https://[2001:db8::a:1]/"), &u, NULL), 0);
  ASSERT_EQ((int)u.host.kind, HL_HOST_IPV6);
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 1};
  ASSERT_MEM_EQ(u.host.addr, 16, v6, 16);
  ASSERT_EQ(hl_url_parse(HL_SPAN_LIT("https://example.com/"), &u, NULL), 0);
  ASSERT_EQ((int)u.host.kind, HL_HOST_NAME);
}

typedef struct invalid_case {
  const char *in;
  const char *error; /* a substring of the message */
} invalid_case;

static const invalid_case invalid_cases[] = {
    {"", "url: empty"},
    {"example.com/path", "no scheme"},
    {"//example.com/", "no scheme"},
    {"1http://example.com/", "no scheme"},
    {"ftp://example.com/", "unsupported scheme \"ftp\""},
    {"ws://example.com/", "unsupported scheme \"ws\""},
    {"localhost:8080/x", "unsupported scheme \"localhost\" (no \"//\" follows it"},
    {"javascript:alert(1)", "unsupported scheme \"javascript\""},
    {"https:/example.com", "expected \"//\" after \"https:\""},
    {"http:example.com", "expected \"//\" after \"http:\""},
    {"https://", "host is empty"},
    {"https:///path", "host is empty"},
    {"https://user@/", "host is empty"},
    {"https://:443/", "host is empty"},
    {"https://./", "host is empty"},
    {"https://@example.com/", "'@' at offset 8 has no user name"},
    {"https://a@b@c.com/", "more than one '@'"},
    {"https://exa mple.com/", "space at offset 11"},
    {"https://example.com/a\nb", "control byte 0x0a at offset 21"},
    {"https://example.com/a\rb", "control byte 0x0d at offset 21"},
    {"https://example.com/\t", "control byte 0x09 at offset 20"},
    {"https://example.com/\x7f", "control byte 0x7f at offset 20"},
    {"https://example.com\\@evil.com/", "backslash at offset 19"},
    {"https:\\\\evil.com/", "backslash at offset 6"},
    {"https://example.com:0/", "port 0 is out of range"},
    {"https://example.com:65536/", "port 65536 is out of range"},
    {"https://example.com:99999999999999999999999/", "is out of range (1..65535)"},
    {"https://example.com:/", "the port after ':' at offset 19 is empty"},
    {"https://example.com:8a/", "the port has 'a' at offset 21"},
    {"https://example.com:-1/", "the port has '-' at offset 20"},
    {"https://example.com:+80/", "the port has '+'"},
    {"https://example.com:80\xc3\xa9/", "the port has byte 0xc3"},
    {"https://127.1/", "(it has fewer than 4 parts)"},
    {"https://127.0.1/", "has fewer than 4 parts"},
    {"https://0x7f.0.0.1/", "has a hexadecimal part"},
    {"https://0X7F.0.0.1/", "has a hexadecimal part"},
    {"https://017.0.0.1/", "leading zero (octal)"},
    {"https://127.0.0.01/", "leading zero (octal)"},
    {"https://2130706433/", "is a single number"},
    {"https://0x7f000001/", "has a hexadecimal part"},
    {"https://0/", "is a single number"},
    {"https://1.2.3.4.5/", "has more than 4 parts"},
    {"https://1.2.3.256/", "has a part greater than 255"},
    {"https://1.2.3.1000/", "has a part greater than 255"},
    {"https://example.123/", "not a strict dotted-quad IPv4 address"},
    {"https://example.0x/", "not a strict dotted-quad IPv4 address"},
    {"https://a.0xff/", "not a strict dotted-quad IPv4 address"},
    {"https://1..2.3/", "empty label"},
    {"https://.example.com/", "empty label"},
    {"https://example..com/", "empty label"},
    {"https://example.com../", "empty label"},
    {"https://b\xc3\xbc" "cher.example/", "non-ASCII host names are not supported; use the IDNA (xn--) form"},
    {"https://ex%61mple.com/", "percent-encoding is not allowed in a host"},
    {"https://exa_mple.com/", "'_' at offset 3"},
    {"https://exa]mple.com/", "']' at offset 3"},
    {"https://[::1/", "'[' at offset 8 has no closing ']'"},
    {"https://[::1]x/", "after the IPv6 address"},
    {"https://[::1]]/", "after the IPv6 address"},
    {"https://[fe80::1%25eth0]/", "zone id"},
    {"https://[fe80::1%eth0]/", "zone id"},
    {"https://[::g]/", "byte 0x67 at offset 2 cannot be part of an IPv6 address"},
    {"https://[1:2:3:4:5:6:7:8:9]/", "is not a valid IPv6 address"},
    {"https://[]/", "is not a valid IPv6 address"},
    {"https://[1.2.3.4]/", "is not a valid IPv6 address"},
    {"https://[::1.2.3.04]/", "is not a valid IPv6 address"},
    {"https://::1/", "must be in brackets"},
    {"https://2001:db8::1/", "must be in brackets"},
    {"https://[::1]:/", "port after ':' at offset 13 is empty"},
    {"https://example.com/%zz", "invalid percent-escape at offset 20 in the path"},
    {"https://example.com/%4", "invalid percent-escape at offset 20 in the path"},
    {"https://example.com/?a=%4#", "invalid percent-escape at offset 23 in the query"},
    {"https://example.com/#%", "invalid percent-escape at offset 21 in the fragment"},
    {"https://example.com/caf\xc3\xa9", "byte 0xc3 at offset 23 in the path is not ASCII"},
    {"https://example.com/?q=\xff", "byte 0xff at offset 23 in the query"},
    {"https://example.com/#\x80", "byte 0x80 at offset 21 in the fragment"},
    {"https://us\xc3\xa9r:pw@a.b/", "the user name has a character that must be percent-encoded"},
    {"https://user:p[w@a.b/", "the password has a character that must be percent-encoded"},
    {"https://user:p%zzw@a.b/", "invalid percent-escape in the password"},
    {"https://us%4:pw@a.b/", "invalid percent-escape in the user name"},
};

TEST(invalid_urls_get_a_clear_error) {
  for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
    const invalid_case *c = &invalid_cases[i];
    size_t len = strlen(c->in);
    char *g = hl_test_guard(c->in, len);
    hl_url u;
    hl_err err = {{0}};
    int rc = hl_url_parse(hl_span_make(g, len), &u, &err);
    if (rc != -EINVAL) {
      hl_test_fail(__FILE__, __LINE__, "\"%s\" should be refused (rc %d)", c->in, rc);
    }
    ASSERT_CONTAINS(err.msg, c->error);
    ASSERT_TRUE(strncmp(err.msg, "url: ", 5) == 0);
    hl_test_guard_free(g, len);
  }
}

TEST(nul_byte_is_refused_with_its_offset) {
  static const char in[] = "https://example.com/a\0b";
  hl_url u;
  hl_err err;
  ASSERT_EQ(hl_url_parse(hl_span_make(in, sizeof(in) - 1), &u, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "control byte 0x00 at offset 21");
  static const char host[] = "https://example.com\0.evil.com/";
  ASSERT_EQ(hl_url_parse(hl_span_make(host, sizeof(host) - 1), &u, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "control byte 0x00 at offset 19");
}

TEST(errors_never_quote_the_password) {
  static const char *const bad[] = {
      "https://user:hunter2@exa_mple.com/",  "https://user:hunter2[@a.b/",
      "https://user:hunter2%zz@a.b/",        "https://user:hunter2@@a.b/",
      "https://user:hunter2@a.b:99999/",     "https://user:hunter2\xc3\xa9@a.b/",
      "https://user:hunter2@127.1/",         "https://hunter2@[::1%eth0]/",
      "https://user:hunter2 x@a.b/",         "ftp://user:hunter2@a.b/",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    hl_url u;
    hl_err err;
    ASSERT_EQ(hl_url_parse(hl_span_cstr(bad[i]), &u, &err), -EINVAL);
    ASSERT_NOT_CONTAINS(err.msg, "hunter2");
  }
}

static void fill(char *p, size_t n, char c) {
  memset(p, c, n);
}

TEST(host_length_and_label_bounds) {
  char url[600];
  /* A 63-byte label is fine, 64 is not. */
  memcpy(url, "https://", 8);
  fill(url + 8, 63, 'a');
  memcpy(url + 8 + 63, ".com/", 6);
  hl_url u;
  hl_err err;
  ASSERT_EQ(hl_url_parse(hl_span_cstr(url), &u, &err), 0);
  fill(url + 8, 64, 'a');
  memcpy(url + 8 + 64, ".com/", 6);
  ASSERT_EQ(hl_url_parse(hl_span_cstr(url), &u, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "label of 64 bytes");
  /* 253 bytes of host (63+1+63+1+63+1+61), then with a trailing dot (254
   * bytes written, 253 meant), then 254 bytes. */
  size_t n = 8;
  for (int i = 0; i < 3; i++) {
    fill(url + n, 63, 'b');
    n += 63;
    url[n++] = '.';
  }
  fill(url + n, 61, 'c');
  n += 61;
  memcpy(url + n, "/", 2);
  ASSERT_EQ(hl_url_parse(hl_span_cstr(url), &u, &err), 0);
  ASSERT_EQ(u.host.name.len, 253);
  memcpy(url + n, "./", 3);
  ASSERT_EQ(hl_url_parse(hl_span_cstr(url), &u, &err), 0);
  ASSERT_EQ(u.host.name.len, 253);
  memcpy(url + n, "c/", 3);
  ASSERT_EQ(hl_url_parse(hl_span_cstr(url), &u, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "254 bytes, longer than the DNS limit of 253");
}

TEST(url_length_is_bounded_including_the_normalised_form) {
  static char url[HL_URL_BYTES_MAX + 2];
  memcpy(url, "https://a.b/", 12);
  fill(url + 12, HL_URL_BYTES_MAX - 12, 'p');
  hl_url u;
  hl_err err;
  ASSERT_EQ(hl_url_parse(hl_span_make(url, HL_URL_BYTES_MAX), &u, &err), 0);
  url[HL_URL_BYTES_MAX] = 'p';
  ASSERT_EQ(hl_url_parse(hl_span_make(url, HL_URL_BYTES_MAX + 1), &u, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "4097 bytes is longer than the limit of 4096");
  /* At the limit with an empty path: writing it adds a '/', which would not
   * parse again, so it is refused up front. */
  memcpy(url, "https://a.b?", 12);
  ASSERT_EQ(hl_url_parse(hl_span_make(url, HL_URL_BYTES_MAX), &u, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "normalised form is longer than the limit");
  ASSERT_EQ(hl_url_parse(hl_span_make(url, HL_URL_BYTES_MAX - 1), &u, &err), 0);
  char *norm = malloc(HL_URL_BYTES_MAX);
  hl_buf b;
  hl_buf_init(&b, norm, HL_URL_BYTES_MAX);
  hl_url_write(&u, &b);
  ASSERT_TRUE(hl_buf_ok(&b));
  ASSERT_EQ(b.len, HL_URL_BYTES_MAX);
  free(norm);
}

/* Every prefix of every test URL, at a guard page: parsing either succeeds
 * or fails cleanly, and a success still round-trips. */
TEST(every_prefix_parses_or_fails_cleanly_at_a_guard_page) {
  for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
    const char *s = valid_cases[i].in;
    for (size_t len = 0; len <= strlen(s); len++) {
      char *g = hl_test_guard(s, len);
      hl_url u;
      hl_err err;
      int rc = hl_url_parse(hl_span_make(g, len), &u, &err);
      ASSERT_TRUE(rc == 0 || rc == -EINVAL);
      if (rc == 0) {
        char mem[512];
        hl_url v;
        const char *norm = written(hl_url_write, &u, mem, sizeof(mem));
        ASSERT_EQ(hl_url_parse(hl_span_cstr(norm), &v, NULL), 0);
      }
      hl_test_guard_free(g, len);
    }
  }
}

TEST(host_parse_accepts_bare_and_bracketed_forms) {
  hl_host h;
  hl_err err;
  ASSERT_EQ(hl_host_parse(HL_SPAN_LIT("[::1]"), &h, &err), 0);
  ASSERT_EQ((int)h.kind, HL_HOST_IPV6);
  ASSERT_SPAN_EQ(h.name, "::1");
  ASSERT_EQ(hl_host_parse(HL_SPAN_LIT("::1"), &h, &err), 0);
  ASSERT_EQ((int)h.kind, HL_HOST_IPV6);
  ASSERT_EQ(hl_host_parse(HL_SPAN_LIT("LocalHost."), &h, &err), 0);
  ASSERT_EQ((int)h.kind, HL_HOST_NAME);
  ASSERT_SPAN_EQ(h.name, "LocalHost");
  ASSERT_EQ(hl_host_parse(HL_SPAN_LIT("10.0.0.1"), &h, &err), 0);
  ASSERT_EQ((int)h.kind, HL_HOST_IPV4);
  ASSERT_EQ(hl_host_parse(HL_SPAN_LIT("[::1"), &h, &err), -EINVAL);
  ASSERT_EQ(hl_host_parse(HL_SPAN_LIT("["), &h, &err), -EINVAL);
  ASSERT_EQ(hl_host_parse(HL_SPAN_LIT(""), &h, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "host is empty");
  ASSERT_EQ(hl_host_parse(HL_SPAN_LIT("a b"), &h, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "byte 0x20 at offset 1");
}

TEST(strict_ipv4_reasons) {
  uint8_t a[4];
  ASSERT_TRUE(hl_ipv4_parse_strict(HL_SPAN_LIT("0.0.0.0"), a) == NULL);
  ASSERT_TRUE(hl_ipv4_parse_strict(HL_SPAN_LIT("1.22.133.255"), a) == NULL);
  const uint8_t want[4] = {1, 22, 133, 255};
  ASSERT_MEM_EQ(a, 4, want, 4);
  ASSERT_STR_EQ(hl_ipv4_parse_strict(HL_SPAN_LIT(""), a), "has an empty part");
  ASSERT_STR_EQ(hl_ipv4_parse_strict(HL_SPAN_LIT("1.2.3."), a), "has an empty part");
  ASSERT_STR_EQ(hl_ipv4_parse_strict(HL_SPAN_LIT("1.2.3.4."), a), "has more than 4 parts");
  ASSERT_STR_EQ(hl_ipv4_parse_strict(HL_SPAN_LIT("1.2.3.-4"), a),
                "has a part that is not a decimal number");
  ASSERT_STR_EQ(hl_ipv4_parse_strict(HL_SPAN_LIT("1.2.3.0255"), a),
                "has a part with a leading zero (octal)");
  ASSERT_STR_EQ(hl_ipv4_parse_strict(HL_SPAN_LIT("99999999999999999999999.1.1.1"), a),
                "has a part greater than 255");
}

TEST(percent_encoding_vectors) {
  static const char *const vectors[][2] = {
      {"", ""},
      {"abcXYZ019-._~", "abcXYZ019-._~"},
      {"a b&c=d/e?f#g", "a%20b%26c%3Dd%2Fe%3Ff%23g"},
      {"caf\xc3\xa9", "caf%C3%A9"},
      {"100%", "100%25"},
      {"+:@!*'()[]{}", "%2B%3A%40%21%2A%27%28%29%5B%5D%7B%7D"},
      {"\r\n", "%0D%0A"},
  };
  for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
    char mem[128];
    hl_buf b;
    hl_buf_init(&b, mem, sizeof(mem));
    hl_url_encode_component(hl_span_cstr(vectors[i][0]), &b);
    ASSERT_TRUE(hl_buf_ok(&b));
    ASSERT_SPAN_EQ(hl_buf_span(&b), vectors[i][1]);
    char dec[128];
    hl_buf d;
    hl_buf_init(&d, dec, sizeof(dec));
    ASSERT_EQ(hl_url_decode_component(hl_span_cstr(vectors[i][1]), &d, NULL), 0);
    ASSERT_SPAN_EQ(hl_buf_span(&d), vectors[i][0]);
  }
  /* The NUL byte too. */
  char mem[8];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  hl_url_encode_component(hl_span_make("\0", 1), &b);
  ASSERT_SPAN_EQ(hl_buf_span(&b), "%00");
}

TEST(percent_decoding_is_strict) {
  char mem[16];
  hl_buf b;
  hl_err err;
  hl_buf_init(&b, mem, sizeof(mem));
  ASSERT_EQ(hl_url_decode_component(HL_SPAN_LIT("a+b%2fc%2F"), &b, &err), 0);
  ASSERT_SPAN_EQ(hl_buf_span(&b), "a+b/c/");
  static const char *const bad[][2] = {
      {"%", "offset 0"},   {"%4", "offset 0"}, {"ab%zz", "offset 2"},
      {"%g1", "offset 0"}, {"%1g", "offset 0"}, {"ok%41%", "offset 5"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    hl_buf_init(&b, mem, sizeof(mem));
    ASSERT_EQ(hl_url_decode_component(hl_span_cstr(bad[i][0]), &b, &err), -EINVAL);
    ASSERT_CONTAINS(err.msg, "invalid percent-escape");
    ASSERT_CONTAINS(err.msg, bad[i][1]);
  }
  hl_buf_init(&b, mem, 3);
  ASSERT_EQ(hl_url_decode_component(HL_SPAN_LIT("%41%42%43%44"), &b, &err), -ENOSPC);
}

TEST(percent_codec_round_trips_random_bytes) {
  for (int iter = 0; iter < 2000; iter++) {
    char in[64];
    size_t len = hl_test_rand() % sizeof(in);
    for (size_t i = 0; i < len; i++) {
      in[i] = (char)hl_test_rand();
    }
    char enc[3 * sizeof(in)];
    hl_buf b;
    hl_buf_init(&b, enc, sizeof(enc));
    hl_url_encode_component(hl_span_make(in, len), &b);
    ASSERT_TRUE(hl_buf_ok(&b));
    /* The encoding is itself a valid URL path segment. */
    char url[256];
    hl_buf ub;
    hl_buf_init(&ub, url, sizeof(url));
    hl_buf_put_cstr(&ub, "https://a.b/");
    hl_buf_put_span(&ub, hl_buf_span(&b));
    hl_url u;
    ASSERT_EQ(hl_url_parse(hl_buf_span(&ub), &u, NULL), 0);
    char dec[64];
    hl_buf d;
    hl_buf_init(&d, dec, sizeof(dec));
    ASSERT_EQ(hl_url_decode_component(hl_buf_span(&b), &d, NULL), 0);
    ASSERT_MEM_EQ(d.ptr, d.len, in, len);
  }
}
