/* Fuzz target: the URL parser and the URL percent-codec.
 * Properties:
 * - whatever parses writes a normalised form that fits HL_URL_BYTES_MAX and
 *   parses again to the same components (host equal ignoring case, an empty
 *   path read back as "/", an explicit default port read back as implicit),
 *   and writing the re-parsed URL gives identical bytes (idempotence); the
 *   origin, request target and Host header agree between the two parses;
 * - a successful parse never leaves a control byte, space or backslash in
 *   any component, and a literal host's bytes agree with its text;
 * - any bytes percent-encode to text of unreserved bytes and %XX only, which
 *   decodes back to them; whatever decodes re-encodes to a text that decodes
 *   to the same bytes, and to the input itself when the input was canonical. */
#include <string.h>

#include "base/assert.h"
#include "base/limits.h"
#include "text/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A little past the URL bound, so that the length check is exercised. */
#define INPUT_BYTES_MAX (HL_URL_BYTES_MAX + 16)

typedef void (*writer_fn)(const hl_url *, hl_buf *);

static hl_span write_with(writer_fn fn, const hl_url *u, char *mem, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  fn(u, &b);
  HL_ASSERT(hl_buf_ok(&b));
  return hl_buf_span(&b);
}

static bool clean(hl_span s) {
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    if (c <= 0x20 || c >= 0x7f || c == '\\') {
      return false;
    }
  }
  return true;
}

static void check_same(const hl_url *a, const hl_url *b) {
  HL_ASSERT(a->scheme == b->scheme);
  HL_ASSERT(a->host.kind == b->host.kind);
  HL_ASSERT(hl_span_eq_nocase(a->host.name, b->host.name));
  HL_ASSERT(memcmp(a->host.addr, b->host.addr, sizeof(a->host.addr)) == 0);
  HL_ASSERT(a->port == b->port);
  bool is_default = a->port == hl_url_default_port(a->scheme);
  HL_ASSERT(b->port_explicit == (a->port_explicit && !is_default));
  HL_ASSERT(a->has_userinfo == b->has_userinfo && hl_span_eq(a->user, b->user));
  HL_ASSERT(a->has_password == b->has_password && hl_span_eq(a->password, b->password));
  if (a->path.len == 0) {
    HL_ASSERT(hl_span_eq_cstr(b->path, "/"));
  } else {
    HL_ASSERT(hl_span_eq(a->path, b->path));
  }
  HL_ASSERT(a->has_query == b->has_query && hl_span_eq(a->query, b->query));
  HL_ASSERT(a->has_fragment == b->has_fragment && hl_span_eq(a->fragment, b->fragment));
}

static void check_literal(const hl_url *u) {
  uint8_t addr[16] = {0};
  if (u->host.kind == HL_HOST_IPV4) {
    HL_ASSERT(hl_ipv4_parse_strict(u->host.name, addr) == NULL);
    HL_ASSERT(memcmp(addr, u->host.addr, 4) == 0);
  } else if (u->host.kind == HL_HOST_IPV6) {
    HL_ASSERT(hl_ipv6_parse(u->host.name, addr));
    HL_ASSERT(memcmp(addr, u->host.addr, 16) == 0);
  }
}

static void fuzz_url(hl_span in) {
  hl_url u;
  hl_err err;
  if (hl_url_parse(in, &u, &err) != 0) {
    HL_ASSERT(err.msg[0] != '\0');
    return;
  }
  HL_ASSERT(clean(u.host.name) && clean(u.user) && clean(u.password) && clean(u.path) &&
        clean(u.query) && clean(u.fragment));
  HL_ASSERT(u.port != 0);
  check_literal(&u);
  static char norm[HL_URL_BYTES_MAX];
  hl_span n1 = write_with(hl_url_write, &u, norm, sizeof(norm));
  hl_url v;
  HL_ASSERT(hl_url_parse(n1, &v, &err) == 0);
  check_same(&u, &v);
  static char again[HL_URL_BYTES_MAX];
  HL_ASSERT(hl_span_eq(write_with(hl_url_write, &v, again, sizeof(again)), n1));
  writer_fn same[] = {hl_url_origin, hl_url_request_target, hl_url_host_header,
                      hl_url_host_lower, hl_url_write_redacted};
  for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
    static char x[HL_URL_BYTES_MAX + 64], y[HL_URL_BYTES_MAX + 64];
    HL_ASSERT(hl_span_eq(write_with(same[i], &u, x, sizeof(x)), write_with(same[i], &v, y, sizeof(y))));
  }
}

static bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

static bool is_upper_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* The encoder's own output form: unreserved bytes as they are, every other
 * byte as %XX in upper case, and no escape of an unreserved byte. */
static bool canonical(hl_span s) {
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    if (is_unreserved(c)) {
      continue;
    }
    if (c != '%' || i + 2 >= s.len || !is_upper_hex((unsigned char)s.ptr[i + 1]) ||
        !is_upper_hex((unsigned char)s.ptr[i + 2])) {
      return false;
    }
    unsigned v = (unsigned)((s.ptr[i + 1] <= '9' ? s.ptr[i + 1] - '0' : s.ptr[i + 1] - 'A' + 10) * 16 +
                            (s.ptr[i + 2] <= '9' ? s.ptr[i + 2] - '0' : s.ptr[i + 2] - 'A' + 10));
    if (is_unreserved((unsigned char)v)) {
      return false;
    }
    i += 2;
  }
  return true;
}

static void fuzz_codec(hl_span in) {
  static char enc[3 * INPUT_BYTES_MAX], dec[3 * INPUT_BYTES_MAX], enc2[3 * INPUT_BYTES_MAX];
  hl_buf e, d, e2;
  hl_buf_init(&e, enc, sizeof(enc));
  hl_url_encode_component(in, &e);
  HL_ASSERT(hl_buf_ok(&e) && canonical(hl_buf_span(&e)));
  hl_buf_init(&d, dec, sizeof(dec));
  HL_ASSERT(hl_url_decode_component(hl_buf_span(&e), &d, NULL) == 0);
  HL_ASSERT(hl_span_eq(hl_buf_span(&d), in));

  hl_buf_init(&d, dec, sizeof(dec));
  hl_err err;
  if (hl_url_decode_component(in, &d, &err) != 0) {
    return;
  }
  HL_ASSERT(d.len <= in.len);
  hl_buf_init(&e2, enc2, sizeof(enc2));
  hl_url_encode_component(hl_buf_span(&d), &e2);
  HL_ASSERT(hl_buf_ok(&e2));
  if (canonical(in)) {
    HL_ASSERT(hl_span_eq(hl_buf_span(&e2), in));
  }
  static char dec2[3 * INPUT_BYTES_MAX];
  hl_buf d2;
  hl_buf_init(&d2, dec2, sizeof(dec2));
  HL_ASSERT(hl_url_decode_component(hl_buf_span(&e2), &d2, NULL) == 0);
  HL_ASSERT(hl_span_eq(hl_buf_span(&d2), hl_buf_span(&d)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > INPUT_BYTES_MAX) {
    return 0;
  }
  hl_span in = hl_span_make(data, size);
  fuzz_url(in);
  fuzz_codec(in);
  return 0;
}
