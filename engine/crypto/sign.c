/* sign: webhook signing schemes, verification and secrets (see sign.h). */
#include "crypto/sign.h"

#include <openssl/curve25519.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"

enum {
  KEY_HMAC = 1,
  KEY_ED25519_PRIVATE = 2,
  KEY_ED25519_PUBLIC = 3,
  KEY_STATIC = 4,
};

#define U64_DIGITS_MAX 20
#define WHSEC "whsec_"
#define WHSK "whsk_"
#define WHPK "whpk_"
#define STANDARD_WHSEC_RANDOM_BYTES 24
#define RANDOM_SECRET_BYTES 32

/* Worst cases of what finish writes, checked against the published bound. */
#define LINE_OVERHEAD 4 /* ": " and "\r\n" */
#define STANDARD_LINES_MAX                                                         \
  (3 * (HL_SIGN_HEADER_NAME_BYTES_MAX + LINE_OVERHEAD) + HL_MESSAGE_ID_BYTES_MAX + \
   U64_DIGITS_MAX + HL_SECRETS_PER_ENDPOINT_MAX * (5 + 88))
#define STRIPE_LINES_MAX                                                \
  (HL_SIGN_HEADER_NAME_BYTES_MAX + LINE_OVERHEAD + 2 + U64_DIGITS_MAX + \
   HL_SECRETS_PER_ENDPOINT_MAX * (4 + 64))
#define STATIC_LINES_MAX (HL_SIGN_HEADER_NAME_BYTES_MAX + LINE_OVERHEAD + HL_SIGN_SECRET_BYTES_MAX)
_Static_assert(STANDARD_LINES_MAX <= HL_SIGN_HEADER_LINES_BYTES_MAX, "standard lines fit");
_Static_assert(STRIPE_LINES_MAX <= HL_SIGN_HEADER_LINES_BYTES_MAX, "stripe lines fit");
_Static_assert(STATIC_LINES_MAX <= HL_SIGN_HEADER_LINES_BYTES_MAX, "static lines fit");
_Static_assert(HL_SECRETS_PER_ENDPOINT_MAX <= UINT8_MAX, "keys_n is a uint8_t");
_Static_assert(HL_SIGN_SECRET_BYTES_MAX <= UINT16_MAX, "static_len is a uint16_t");
_Static_assert(HL_SIGN_HEADER_NAME_BYTES_MAX <= UINT8_MAX, "name lengths are uint8_t");

static const char *const scheme_names[] = {
    [HL_SIGN_NONE] = "none",
    [HL_SIGN_STANDARD] = "standard",
    [HL_SIGN_HMAC_SHA256] = "hmac-sha256",
    [HL_SIGN_STRIPE] = "stripe",
    [HL_SIGN_STATIC] = "static",
};

int hl_sign_scheme_parse(hl_span name, hl_sign_scheme *out) {
  for (size_t i = 0; i < HL_ARRAY_LEN(scheme_names); i++) {
    if (hl_span_eq_cstr(name, scheme_names[i])) {
      *out = (hl_sign_scheme)i;
      return 0;
    }
  }
  return -EINVAL;
}

const char *hl_sign_scheme_name(hl_sign_scheme scheme) {
  if ((size_t)scheme < HL_ARRAY_LEN(scheme_names)) {
    return scheme_names[scheme];
  }
  return "unknown";
}

/* --- configuration --------------------------------------------------------- */

const char *hl_sign_default_header(hl_sign_scheme scheme) {
  switch (scheme) {
  case HL_SIGN_STANDARD:
    return "webhook-signature";
  case HL_SIGN_HMAC_SHA256:
    return "X-Webhook-Signature";
  case HL_SIGN_STRIPE:
    return "Stripe-Signature";
  case HL_SIGN_STATIC:
    return "X-Secret-Key";
  case HL_SIGN_NONE:
    break;
  }
  return "";
}

/* RFC 9110 token characters: what a header name may contain. */
static bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_visible(unsigned char c) {
  return c >= 0x21 && c <= 0x7e;
}

static bool all_visible(hl_span s) {
  for (size_t i = 0; i < s.len; i++) {
    if (!is_visible((unsigned char)s.ptr[i])) {
      return false;
    }
  }
  return true;
}

/* copy_name stores a header name (|given|, or |def| when given.ptr is NULL). */
static int copy_name(char *dst, uint8_t *dst_len, hl_span given, const char *def, const char *field,
                     hl_err *err) {
  hl_span name = given.ptr != NULL ? given : hl_span_cstr(def);
  if (name.len == 0 || name.len > HL_SIGN_HEADER_NAME_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "%s: a header name needs 1 to %d characters", field,
                       HL_SIGN_HEADER_NAME_BYTES_MAX);
  }
  for (size_t i = 0; i < name.len; i++) {
    if (!is_tchar((unsigned char)name.ptr[i])) {
      return hl_err_fail(err, -EINVAL, "%s: \"%.*s\" is not a valid header name", field,
                         HL_SPAN_FMT(name));
    }
  }
  memcpy(dst, name.ptr, name.len);
  *dst_len = (uint8_t)name.len;
  return 0;
}

/* decode_prefixed base64-decodes the text after |prefix| into |out|. */
static int decode_prefixed(hl_span secret, size_t prefix_len, uint8_t *out, size_t cap,
                           size_t *out_len) {
  hl_span b64 = hl_span_sub(secret, prefix_len, secret.len);
  return hl_base64_decode(b64, out, cap, out_len);
}

static int load_whsec(hl_sign_key *k, size_t i, hl_span secret, hl_err *err) {
  uint8_t raw[HL_SIGN_SECRET_BYTES_MAX];
  size_t n = 0;
  if (decode_prefixed(secret, strlen(WHSEC), raw, sizeof(raw), &n) != 0) {
    return hl_err_fail(err, -EINVAL, "secrets[%zu]: the text after whsec_ is not valid base64", i);
  }
  if (n < HL_SIGN_SECRET_BYTES_MIN) {
    OPENSSL_cleanse(raw, sizeof(raw));
    return hl_err_fail(err, -EINVAL,
                       "secrets[%zu]: the whsec_ key decodes to %zu bytes; at least %d are needed",
                       i, n, HL_SIGN_SECRET_BYTES_MIN);
  }
  k->kind = KEY_HMAC;
  hl_hmac_key_init(&k->u.hmac, raw, n);
  OPENSSL_cleanse(raw, sizeof(raw));
  return 0;
}

/* ed25519_private_from decodes a whsk_ payload: 64 bytes (seed | public key,
 * whose public half must match the seed) or a 32-byte seed. */
static int ed25519_private_from(hl_span secret, uint8_t priv[64], const char *field, hl_err *err) {
  uint8_t raw[64];
  size_t n = 0;
  int rc = decode_prefixed(secret, strlen(WHSK), raw, sizeof(raw), &n);
  if (rc == -EINVAL) {
    return hl_err_fail(err, -EINVAL, "%s: the text after whsk_ is not valid base64", field);
  }
  if (rc != 0 || (n != 64 && n != 32)) {
    OPENSSL_cleanse(raw, sizeof(raw));
    return hl_err_fail(err, -EINVAL,
                       "%s: a whsk_ key must decode to 64 bytes (seed and public key) or a "
                       "32-byte seed",
                       field);
  }
  uint8_t pub[32];
  ED25519_keypair_from_seed(pub, priv, raw);
  bool mismatch = n == 64 && CRYPTO_memcmp(pub, raw + 32, 32) != 0;
  OPENSSL_cleanse(raw, sizeof(raw));
  if (mismatch) {
    OPENSSL_cleanse(priv, 64);
    return hl_err_fail(err, -EINVAL, "%s: the whsk_ key's public half does not belong to its seed",
                       field);
  }
  return 0;
}

static int load_standard(hl_sign_key *k, size_t i, hl_span secret, bool verify_only, hl_err *err) {
  if (hl_span_starts_with(secret, HL_SPAN_LIT(WHSEC))) {
    return load_whsec(k, i, secret, err);
  }
  if (hl_span_starts_with(secret, HL_SPAN_LIT(WHSK))) {
    char field[32];
    snprintf(field, sizeof(field), "secrets[%zu]", i);
    k->kind = KEY_ED25519_PRIVATE;
    return ed25519_private_from(secret, k->u.ed25519_private, field, err);
  }
  if (hl_span_starts_with(secret, HL_SPAN_LIT(WHPK))) {
    if (!verify_only) {
      return hl_err_fail(err, -EINVAL,
                         "secrets[%zu]: is a public key (whpk_); signing needs the secret key "
                         "(whsk_)",
                         i);
    }
    size_t n = 0;
    uint8_t raw[32];
    if (decode_prefixed(secret, strlen(WHPK), raw, sizeof(raw), &n) != 0 || n != 32) {
      return hl_err_fail(err, -EINVAL,
                         "secrets[%zu]: a whpk_ key must be the base64 of a 32-byte public key", i);
    }
    k->kind = KEY_ED25519_PUBLIC;
    memcpy(k->u.ed25519_public, raw, 32);
    return 0;
  }
  return hl_err_fail(err, -EINVAL,
                     "secrets[%zu]: a standard secret must start with whsec_ (HMAC) or whsk_ "
                     "(ed25519)%s",
                     i, verify_only ? " or whpk_ (ed25519 public key)" : "");
}

static int load_secret(hl_signer *s, size_t i, hl_span secret, hl_err *err) {
  hl_sign_key *k = &s->keys[i];
  if (secret.len > HL_SIGN_SECRET_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "secrets[%zu]: longer than %d bytes", i,
                       HL_SIGN_SECRET_BYTES_MAX);
  }
  if (s->scheme == HL_SIGN_STANDARD) {
    return load_standard(k, i, secret, s->verify_only, err);
  }
  const char *name = hl_sign_scheme_name(s->scheme);
  if (secret.len < HL_SIGN_SECRET_BYTES_MIN) {
    return hl_err_fail(err, -EINVAL,
                       "secrets[%zu]: too short (%zu bytes); %s secrets need at "
                       "least %d bytes",
                       i, secret.len, name, HL_SIGN_SECRET_BYTES_MIN);
  }
  if (s->scheme == HL_SIGN_STATIC) {
    /* The value travels in a header: no CR, LF, spaces or control bytes. */
    if (!all_visible(secret)) {
      return hl_err_fail(err, -EINVAL,
                         "secrets[%zu]: a static secret may contain only visible "
                         "ASCII characters (it is sent in a header)",
                         i);
    }
    k->kind = KEY_STATIC;
    SHA256((const uint8_t *)secret.ptr, secret.len, k->u.static_sha256);
    if (i == 0) {
      memcpy(s->static_value, secret.ptr, secret.len);
      s->static_len = (uint16_t)secret.len;
    }
    return 0;
  }
  k->kind = KEY_HMAC;
  hl_hmac_key_init(&k->u.hmac, secret.ptr, secret.len);
  return 0;
}

static int init_names(hl_signer *s, const hl_sign_config *cfg, hl_err *err) {
  hl_sign_scheme sc = cfg->scheme;
  if (sc != HL_SIGN_HMAC_SHA256 && cfg->prefix.ptr != NULL) {
    return hl_err_fail(err, -EINVAL, "prefix: only the hmac-sha256 scheme takes a prefix");
  }
  if (sc != HL_SIGN_STANDARD && (cfg->id_header.ptr != NULL || cfg->timestamp_header.ptr != NULL)) {
    return hl_err_fail(err, -EINVAL,
                       "id_header, timestamp_header: only the standard scheme sends them");
  }
  if (sc == HL_SIGN_NONE) {
    if (cfg->header.ptr != NULL) {
      return hl_err_fail(err, -EINVAL, "header: the none scheme sends no header");
    }
    return 0;
  }
  int rc =
      copy_name(s->header, &s->header_len, cfg->header, hl_sign_default_header(sc), "header", err);
  if (rc == 0 && sc == HL_SIGN_STANDARD) {
    rc = copy_name(s->id_header, &s->id_header_len, cfg->id_header, "webhook-id", "id_header", err);
  }
  if (rc == 0 && sc == HL_SIGN_STANDARD) {
    rc = copy_name(s->timestamp_header, &s->timestamp_header_len, cfg->timestamp_header,
                   "webhook-timestamp", "timestamp_header", err);
  }
  if (rc == 0 && sc == HL_SIGN_HMAC_SHA256) {
    hl_span p = cfg->prefix.ptr != NULL ? cfg->prefix : HL_SPAN_LIT("sha256=");
    if (p.len > HL_SIGN_PREFIX_BYTES_MAX || !all_visible(p)) {
      return hl_err_fail(err, -EINVAL,
                         "prefix: at most %d visible ASCII characters (no spaces or control "
                         "characters)",
                         HL_SIGN_PREFIX_BYTES_MAX);
    }
    if (p.len > 0) {
      memcpy(s->prefix, p.ptr, p.len);
    }
    s->prefix_len = (uint8_t)p.len;
  }
  return rc;
}

static int init_secrets(hl_signer *s, const hl_sign_config *cfg, hl_err *err) {
  if (cfg->scheme == HL_SIGN_NONE) {
    if (cfg->secrets_n != 0) {
      return hl_err_fail(err, -EINVAL, "secrets: the none scheme takes no secrets");
    }
    return 0;
  }
  if (cfg->secrets_n == 0) {
    return hl_err_fail(err, -EINVAL, "secrets: the %s scheme needs at least one secret",
                       hl_sign_scheme_name(cfg->scheme));
  }
  if (cfg->secrets_n > HL_SECRETS_PER_ENDPOINT_MAX) {
    return hl_err_fail(err, -EINVAL, "secrets: at most %d (the newest first; drop retired ones)",
                       HL_SECRETS_PER_ENDPOINT_MAX);
  }
  for (size_t i = 0; i < cfg->secrets_n; i++) {
    int rc = load_secret(s, i, cfg->secrets[i], err);
    if (rc != 0) {
      return rc;
    }
    s->keys_n = (uint8_t)(i + 1);
  }
  return 0;
}

int hl_signer_init(hl_signer *s, const hl_sign_config *cfg, hl_err *err) {
  memset(s, 0, sizeof(*s));
  if ((size_t)cfg->scheme >= HL_ARRAY_LEN(scheme_names)) {
    return hl_err_fail(err, -EINVAL, "scheme: unknown signing scheme");
  }
  s->scheme = cfg->scheme;
  s->verify_only = cfg->verify_only;
  int rc = init_names(s, cfg, err);
  if (rc == 0) {
    rc = init_secrets(s, cfg, err);
  }
  if (rc != 0) {
    hl_signer_cleanup(s);
  }
  return rc;
}

void hl_signer_cleanup(hl_signer *s) {
  OPENSSL_cleanse(s, sizeof(*s));
}

/* --- signing ----------------------------------------------------------------- */

/* A Standard Webhooks id goes into a header and into "<id>.<ts>.": visible
 * ASCII, and no '.', which would make the signed content ambiguous. */
static bool valid_id(hl_span id) {
  if (id.len == 0 || id.len > HL_MESSAGE_ID_BYTES_MAX) {
    return false;
  }
  for (size_t i = 0; i < id.len; i++) {
    unsigned char c = (unsigned char)id.ptr[i];
    if (!is_visible(c) || c == '.') {
      return false;
    }
  }
  return true;
}

static char *put_raw(char *p, const void *src, size_t n) {
  if (n > 0) {
    memcpy(p, src, n);
  }
  return p + n;
}

/* write_prefix writes the signed-content prefix so that it ends exactly at
 * |end|, using at most |room| bytes before it, and returns it in |prefix|;
 * st->id then points at the id's copy inside it. */
static int write_prefix(const hl_signer *s, hl_sign_state *st, hl_span id, char *end, size_t room,
                        hl_span *prefix, hl_err *err) {
  size_t len = 0;
  if (s->scheme == HL_SIGN_STANDARD) {
    if (!valid_id(id)) {
      return hl_err_fail(err, -EINVAL,
                         "message id: must be 1 to %d visible ASCII characters without '.' "
                         "(Standard Webhooks signs \"<id>.<timestamp>.<body>\")",
                         HL_MESSAGE_ID_BYTES_MAX);
    }
    len = id.len + 1;
  }
  if (s->scheme == HL_SIGN_STANDARD || s->scheme == HL_SIGN_STRIPE) {
    len += st->timestamp_len + 1u;
  }
  if (len > room) {
    return hl_err_fail(err, -ENOSPC, "body headroom: %zu bytes needed before the body", len);
  }
  char *p = end - len;
  *prefix = hl_span_make(p, len);
  if (s->scheme == HL_SIGN_STANDARD) {
    st->id = hl_span_make(p, id.len);
    p = put_raw(p, id.ptr, id.len);
    *p++ = '.';
  }
  if (len > 0) {
    p = put_raw(p, st->timestamp_text, st->timestamp_len);
    *p++ = '.';
  }
  HL_ASSERT(p == end);
  return 0;
}

/* signatures: how many the scheme sends (hmac-sha256 sends the newest only). */
static size_t signatures(const hl_signer *s) {
  switch (s->scheme) {
  case HL_SIGN_STANDARD:
  case HL_SIGN_STRIPE:
    return s->keys_n;
  case HL_SIGN_HMAC_SHA256:
    return 1;
  case HL_SIGN_STATIC:
  case HL_SIGN_NONE:
    break;
  }
  return 0;
}

static void state_start(hl_sign_state *st, uint64_t ts) {
  st->id = HL_SPAN_NULL;
  st->timestamp_s = ts;
  char tmp[U64_DIGITS_MAX];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + ts % 10);
    ts /= 10;
  } while (ts != 0);
  st->timestamp_len = (uint8_t)(sizeof(tmp) - i);
  memcpy(st->timestamp_text, tmp + i, st->timestamp_len);
  st->msg = HL_SPAN_NULL;
  st->sigs_n = 0;
}

int hl_signer_prepare(const hl_signer *s, hl_sign_state *st, hl_span id, uint64_t timestamp_s,
                      char *body, size_t body_len, size_t headroom,
                      hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX], hl_err *err) {
  state_start(st, timestamp_s);
  if (s->verify_only) {
    return hl_err_fail(err, -EINVAL, "signer: built for verification only");
  }
  size_t n = signatures(s);
  if (n == 0) {
    return 0;
  }
  hl_span prefix;
  int rc = write_prefix(s, st, id, body, headroom, &prefix, err);
  if (rc != 0) {
    return rc;
  }
  st->msg = hl_span_make(body - prefix.len, prefix.len + body_len);
  int jobs_n = 0;
  for (size_t i = 0; i < n; i++) {
    const hl_sign_key *k = &s->keys[i];
    if (k->kind == KEY_HMAC) {
      jobs[jobs_n++] = (hl_sign_job){.key = &k->u.hmac, .msg = st->msg, .out = st->sig[i]};
    } else {
      HL_ASSERT(k->kind == KEY_ED25519_PRIVATE);
      ED25519_sign(st->sig[i], (const uint8_t *)st->msg.ptr, st->msg.len, k->u.ed25519_private);
    }
  }
  st->sigs_n = (uint8_t)n;
  return jobs_n;
}

void hl_sign_jobs_run(const hl_sign_job *jobs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    hl_hmac_sha256(jobs[i].key, jobs[i].msg.ptr, jobs[i].msg.len, jobs[i].out);
  }
}

static void put_name(hl_buf *h, const char *name, size_t len) {
  hl_buf_put(h, name, len);
  hl_buf_put(h, ": ", 2);
}

static char *put_line(char *p, const char *name, size_t name_len, const char *value,
                      size_t value_len) {
  p = put_raw(p, name, name_len);
  p = put_raw(p, ": ", 2);
  p = put_raw(p, value, value_len);
  return put_raw(p, "\r\n", 2);
}

#define B64_CHARS(n) (((n) + 2) / 3 * 4)

/* finish_standard reserves its three lines at once and fills them: this is
 * the default scheme, and piecewise appends cost as much as a tenth of the
 * MAC. */
static void finish_standard(const hl_signer *s, const hl_sign_state *st, hl_buf *h) {
  size_t sigs_len = 0;
  for (size_t i = 0; i < st->sigs_n; i++) {
    bool hmac = s->keys[i].kind == KEY_HMAC;
    sigs_len += (i > 0) +
                (hmac ? 3 + B64_CHARS(HL_HMAC_SHA256_BYTES) : 4 + B64_CHARS(ED25519_SIGNATURE_LEN));
  }
  size_t len = s->id_header_len + st->id.len + s->timestamp_header_len + st->timestamp_len +
               s->header_len + sigs_len + 3 * LINE_OVERHEAD;
  char *p = hl_buf_reserve(h, len);
  if (p == NULL) {
    return;
  }
  char *end = p + len;
  p = put_line(p, s->id_header, s->id_header_len, st->id.ptr, st->id.len);
  p = put_line(p, s->timestamp_header, s->timestamp_header_len, st->timestamp_text,
               st->timestamp_len);
  p = put_raw(p, s->header, s->header_len);
  p = put_raw(p, ": ", 2);
  for (size_t i = 0; i < st->sigs_n; i++) {
    if (i > 0) {
      *p++ = ' ';
    }
    bool hmac = s->keys[i].kind == KEY_HMAC;
    p = hmac ? put_raw(p, "v1,", 3) : put_raw(p, "v1a,", 4);
    hl_buf sig;
    hl_buf_init(&sig, p, (size_t)(end - p));
    hl_buf_put_base64(&sig, st->sig[i], hmac ? HL_HMAC_SHA256_BYTES : ED25519_SIGNATURE_LEN);
    p += sig.len;
  }
  p = put_raw(p, "\r\n", 2);
  HL_ASSERT(p == end);
}

int hl_signer_finish(const hl_signer *s, const hl_sign_state *st, hl_buf *h) {
  switch (s->scheme) {
  case HL_SIGN_STANDARD:
    finish_standard(s, st, h);
    break;
  case HL_SIGN_HMAC_SHA256:
    put_name(h, s->header, s->header_len);
    hl_buf_put(h, s->prefix, s->prefix_len);
    hl_buf_put_hex(h, st->sig[0], HL_HMAC_SHA256_BYTES);
    hl_buf_put(h, "\r\n", 2);
    break;
  case HL_SIGN_STRIPE:
    put_name(h, s->header, s->header_len);
    hl_buf_put(h, "t=", 2);
    hl_buf_put(h, st->timestamp_text, st->timestamp_len);
    for (size_t i = 0; i < st->sigs_n; i++) {
      hl_buf_put(h, ",v1=", 4);
      hl_buf_put_hex(h, st->sig[i], HL_HMAC_SHA256_BYTES);
    }
    hl_buf_put(h, "\r\n", 2);
    break;
  case HL_SIGN_STATIC:
    put_name(h, s->header, s->header_len);
    hl_buf_put(h, s->static_value, s->static_len);
    hl_buf_put(h, "\r\n", 2);
    break;
  case HL_SIGN_NONE:
    break;
  }
  return hl_buf_ok(h) ? 0 : -ENOSPC;
}

/* contiguous returns malloc'd prefix|body, for ed25519 (no streaming API). */
static uint8_t *contiguous(hl_span prefix, hl_span body) {
  uint8_t *m = malloc(prefix.len + body.len + 1);
  if (m == NULL) {
    return NULL;
  }
  memcpy(m, prefix.ptr, prefix.len);
  if (body.len > 0) {
    memcpy(m + prefix.len, body.ptr, body.len);
  }
  return m;
}

int hl_signer_sign(const hl_signer *s, hl_span id, uint64_t timestamp_s, hl_span body,
                   hl_buf *headers, hl_err *err) {
  hl_sign_state st;
  state_start(&st, timestamp_s);
  if (s->verify_only) {
    return hl_err_fail(err, -EINVAL, "signer: built for verification only");
  }
  size_t n = signatures(s);
  char room[HL_SIGN_HEADROOM_BYTES];
  hl_span prefix = HL_SPAN_NULL;
  if (n > 0) {
    int rc = write_prefix(s, &st, id, room + sizeof(room), sizeof(room), &prefix, err);
    if (rc != 0) {
      return rc;
    }
  }
  hl_span parts[2] = {prefix, body};
  uint8_t *whole = NULL;
  for (size_t i = 0; i < n; i++) {
    const hl_sign_key *k = &s->keys[i];
    if (k->kind == KEY_HMAC) {
      hl_hmac_sha256_parts(&k->u.hmac, parts, 2, st.sig[i]);
      continue;
    }
    if (whole == NULL) {
      whole = contiguous(prefix, body);
      if (whole == NULL) {
        return hl_err_fail(err, -ENOMEM, "signing: out of memory");
      }
    }
    ED25519_sign(st.sig[i], whole, prefix.len + body.len, k->u.ed25519_private);
  }
  free(whole);
  st.sigs_n = (uint8_t)n;
  int rc = hl_signer_finish(s, &st, headers);
  if (rc != 0) {
    hl_err_set(err, "headers: no room for the signature header lines");
  }
  return rc;
}

/* --- verification -------------------------------------------------------------- */

/* find_header returns the one value of |name|; absent is ENOHEADER, twice
 * is EMALFORMED (which of two would the signer have meant?). */
static int find_header(const hl_sign_header *h, size_t n, const char *name, size_t name_len,
                       hl_span *value, hl_err *err) {
  hl_span want = hl_span_make(name, name_len);
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    if (!hl_span_eq_nocase(h[i].name, want)) {
      continue;
    }
    if (found) {
      return hl_err_fail(err, HL_SIGN_EMALFORMED, "%.*s: header appears more than once",
                         HL_SPAN_FMT(want));
    }
    found = true;
    *value = hl_span_trim_ows(h[i].value);
  }
  if (!found) {
    return hl_err_fail(err, HL_SIGN_ENOHEADER, "%.*s: header missing", HL_SPAN_FMT(want));
  }
  return 0;
}

/* Timestamps beyond this are nonsense (year 33658); keeps arithmetic simple. */
#define TIMESTAMP_S_MAX 999999999999ull

static int check_timestamp(hl_span text, const char *field, size_t field_len, uint64_t now_s,
                           uint64_t tolerance_s, hl_err *err) {
  uint64_t ts = 0;
  if (!hl_span_parse_u64(text, TIMESTAMP_S_MAX, &ts)) {
    return hl_err_fail(err, HL_SIGN_EMALFORMED, "%.*s: not a Unix time in seconds", (int)field_len,
                       field);
  }
  uint64_t diff = ts > now_s ? ts - now_s : now_s - ts;
  if (tolerance_s != 0 && diff > tolerance_s) {
    return hl_err_fail(err, HL_SIGN_ESTALE,
                       "%.*s: %llu s %s the current time, outside the %llu s tolerance",
                       (int)field_len, field, (unsigned long long)diff,
                       ts > now_s ? "ahead of" : "behind", (unsigned long long)tolerance_s);
  }
  return 0;
}

/* macs computes each HMAC key's MAC over |parts| once; entries of other
 * keys are left untouched. */
static void macs(const hl_signer *s, const hl_span *parts, size_t n,
                 uint8_t out[HL_SECRETS_PER_ENDPOINT_MAX][HL_HMAC_SHA256_BYTES]) {
  for (size_t i = 0; i < s->keys_n; i++) {
    if (s->keys[i].kind == KEY_HMAC) {
      hl_hmac_sha256_parts(&s->keys[i].u.hmac, parts, n, out[i]);
    }
  }
}

/* match_mac compares a candidate with every HMAC key's MAC, without
 * stopping early, in constant time per comparison. */
static bool match_mac(const hl_signer *s, const uint8_t mac[][HL_HMAC_SHA256_BYTES],
                      const uint8_t *cand) {
  int hits = 0;
  for (size_t i = 0; i < s->keys_n; i++) {
    if (s->keys[i].kind == KEY_HMAC) {
      hits |= CRYPTO_memcmp(mac[i], cand, HL_HMAC_SHA256_BYTES) == 0;
    }
  }
  return hits != 0;
}

static const uint8_t *ed25519_public_of(const hl_sign_key *k) {
  if (k->kind == KEY_ED25519_PRIVATE) {
    return k->u.ed25519_private + 32;
  }
  return k->kind == KEY_ED25519_PUBLIC ? k->u.ed25519_public : NULL;
}

static int no_match(hl_err *err, const char *name, size_t name_len) {
  return hl_err_fail(err, HL_SIGN_EMISMATCH, "%.*s: no signature matched any secret", (int)name_len,
                     name);
}

typedef struct standard_msg {
  hl_span parts[5];
  uint8_t *whole; /* contiguous copy, made on the first v1a candidate */
  size_t whole_len;
  bool oom;
} standard_msg;

static bool match_v1a(const hl_signer *s, standard_msg *m, const uint8_t sig[64]) {
  bool hit = false;
  for (size_t i = 0; i < s->keys_n; i++) {
    const uint8_t *pub = ed25519_public_of(&s->keys[i]);
    if (pub == NULL) {
      continue;
    }
    if (m->whole == NULL) {
      m->whole_len = m->parts[0].len + 1 + m->parts[2].len + 1 + m->parts[4].len;
      m->whole = malloc(m->whole_len + 1);
      if (m->whole == NULL) {
        m->oom = true;
        return false;
      }
      size_t o = 0;
      for (size_t p = 0; p < 5; p++) {
        if (m->parts[p].len > 0) {
          memcpy(m->whole + o, m->parts[p].ptr, m->parts[p].len);
        }
        o += m->parts[p].len;
      }
    }
    hit |= ED25519_verify(m->whole, m->whole_len, sig, pub) == 1;
  }
  return hit;
}

/* match_standard tries one "v1,<b64>" / "v1a,<b64>" candidate; unknown
 * versions and undecodable signatures simply do not match. */
static bool match_standard(const hl_signer *s, standard_msg *m,
                           const uint8_t mac[][HL_HMAC_SHA256_BYTES], hl_span cand) {
  hl_span version;
  if (!hl_span_get_until(&cand, ',', &version)) {
    return false;
  }
  uint8_t sig[64];
  size_t n = 0;
  if (hl_base64_decode(cand, sig, sizeof(sig), &n) != 0) {
    return false;
  }
  if (hl_span_eq_cstr(version, "v1") && n == HL_HMAC_SHA256_BYTES) {
    return match_mac(s, mac, sig);
  }
  if (hl_span_eq_cstr(version, "v1a") && n == ED25519_SIGNATURE_LEN) {
    return match_v1a(s, m, sig);
  }
  return false;
}

static int verify_standard(const hl_signer *s, const hl_sign_header *h, size_t hn, hl_span body,
                           uint64_t now_s, uint64_t tolerance_s, hl_err *err) {
  hl_span id, ts, sigs;
  int rc = find_header(h, hn, s->id_header, s->id_header_len, &id, err);
  if (rc == 0) {
    rc = find_header(h, hn, s->timestamp_header, s->timestamp_header_len, &ts, err);
  }
  if (rc == 0) {
    rc = find_header(h, hn, s->header, s->header_len, &sigs, err);
  }
  if (rc != 0) {
    return rc;
  }
  if (!valid_id(id)) {
    return hl_err_fail(err, HL_SIGN_EMALFORMED,
                       "%.*s: not an id (1 to %d visible ASCII characters without '.')",
                       (int)s->id_header_len, s->id_header, HL_MESSAGE_ID_BYTES_MAX);
  }
  rc = check_timestamp(ts, s->timestamp_header, s->timestamp_header_len, now_s, tolerance_s, err);
  if (rc != 0) {
    return rc;
  }
  standard_msg m = {.parts = {id, HL_SPAN_LIT("."), ts, HL_SPAN_LIT("."), body}};
  uint8_t mac[HL_SECRETS_PER_ENDPOINT_MAX][HL_HMAC_SHA256_BYTES];
  macs(s, m.parts, 5, mac);
  bool hit = false;
  size_t cands = 0;
  hl_span rest = sigs, cand;
  while (rest.len > 0 && rc == 0) {
    if (!hl_span_get_until(&rest, ' ', &cand)) {
      cand = rest;
      rest = HL_SPAN_NULL;
    }
    if (cand.len == 0) {
      continue; /* several spaces in a row */
    }
    if (++cands > HL_SIGN_CANDIDATES_MAX) {
      rc = hl_err_fail(err, HL_SIGN_EMALFORMED, "%.*s: more than %d signatures", (int)s->header_len,
                       s->header, HL_SIGN_CANDIDATES_MAX);
      break;
    }
    hit |= match_standard(s, &m, (const uint8_t(*)[HL_HMAC_SHA256_BYTES])mac, cand);
  }
  free(m.whole);
  OPENSSL_cleanse(mac, sizeof(mac));
  if (rc == 0 && m.oom) {
    rc = hl_err_fail(err, -ENOMEM, "verify: out of memory");
  }
  if (rc == 0 && !hit) {
    rc = no_match(err, s->header, s->header_len);
  }
  return rc;
}

static int verify_hmac(const hl_signer *s, const hl_sign_header *h, size_t hn, hl_span body,
                       hl_err *err) {
  hl_span value;
  int rc = find_header(h, hn, s->header, s->header_len, &value, err);
  if (rc != 0) {
    return rc;
  }
  uint8_t cand[HL_HMAC_SHA256_BYTES];
  size_t n = 0;
  if (!hl_span_get_lit(&value, hl_span_make(s->prefix, s->prefix_len)) ||
      hl_hex_decode(value, cand, sizeof(cand), &n) != 0 || n != sizeof(cand)) {
    return hl_err_fail(err, HL_SIGN_EMALFORMED, "%.*s: expected \"%.*s\" and 64 hex digits",
                       (int)s->header_len, s->header, (int)s->prefix_len, s->prefix);
  }
  uint8_t mac[HL_SECRETS_PER_ENDPOINT_MAX][HL_HMAC_SHA256_BYTES];
  macs(s, &body, 1, mac);
  bool hit = match_mac(s, (const uint8_t(*)[HL_HMAC_SHA256_BYTES])mac, cand);
  OPENSSL_cleanse(mac, sizeof(mac));
  return hit ? 0 : no_match(err, s->header, s->header_len);
}

/* stripe_item splits "key=value" (surrounding spaces allowed). */
static bool stripe_item(hl_span item, hl_span *key, hl_span *value) {
  item = hl_span_trim_ows(item);
  if (!hl_span_get_until(&item, '=', key)) {
    return false;
  }
  *value = item;
  return true;
}

static int verify_stripe(const hl_signer *s, const hl_sign_header *h, size_t hn, hl_span body,
                         uint64_t now_s, uint64_t tolerance_s, hl_err *err) {
  hl_span value;
  int rc = find_header(h, hn, s->header, s->header_len, &value, err);
  if (rc != 0) {
    return rc;
  }
  hl_span ts = HL_SPAN_NULL, item, key, v;
  bool have_ts = false;
  uint8_t cand[HL_SIGN_CANDIDATES_MAX][HL_HMAC_SHA256_BYTES];
  size_t cands = 0;
  hl_span rest = value;
  while (rest.len > 0) {
    if (!hl_span_get_until(&rest, ',', &item)) {
      item = rest;
      rest = HL_SPAN_NULL;
    }
    if (!stripe_item(item, &key, &v)) {
      continue; /* not key=value: ignored, as Stripe's libraries do */
    }
    if (hl_span_eq_cstr(key, "t")) {
      if (have_ts) {
        return hl_err_fail(err, HL_SIGN_EMALFORMED, "%.*s: more than one t=", (int)s->header_len,
                           s->header);
      }
      have_ts = true;
      ts = v;
    } else if (hl_span_eq_cstr(key, "v1")) {
      if (cands == HL_SIGN_CANDIDATES_MAX) {
        return hl_err_fail(err, HL_SIGN_EMALFORMED, "%.*s: more than %d signatures",
                           (int)s->header_len, s->header, HL_SIGN_CANDIDATES_MAX);
      }
      size_t n = 0;
      if (hl_hex_decode(v, cand[cands], HL_HMAC_SHA256_BYTES, &n) == 0 &&
          n == HL_HMAC_SHA256_BYTES) {
        cands++;
      }
    }
  }
  if (!have_ts) {
    return hl_err_fail(err, HL_SIGN_EMALFORMED, "%.*s: no t= timestamp", (int)s->header_len,
                       s->header);
  }
  char field[HL_SIGN_HEADER_NAME_BYTES_MAX + 4];
  int field_len = snprintf(field, sizeof(field), "%.*s t=", (int)s->header_len, s->header);
  rc = check_timestamp(ts, field, (size_t)field_len, now_s, tolerance_s, err);
  if (rc != 0) {
    return rc;
  }
  hl_span parts[3] = {ts, HL_SPAN_LIT("."), body};
  uint8_t mac[HL_SECRETS_PER_ENDPOINT_MAX][HL_HMAC_SHA256_BYTES];
  macs(s, parts, 3, mac);
  bool hit = false;
  for (size_t c = 0; c < cands; c++) {
    hit |= match_mac(s, (const uint8_t(*)[HL_HMAC_SHA256_BYTES])mac, cand[c]);
  }
  OPENSSL_cleanse(mac, sizeof(mac));
  return hit ? 0 : no_match(err, s->header, s->header_len);
}

/* Static secrets are compared through their SHA-256 so that the comparison
 * takes the same time whatever the candidate's length. */
static int verify_static(const hl_signer *s, const hl_sign_header *h, size_t hn, hl_err *err) {
  hl_span value;
  int rc = find_header(h, hn, s->header, s->header_len, &value, err);
  if (rc != 0) {
    return rc;
  }
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)value.ptr, value.len, digest);
  int hits = 0;
  for (size_t i = 0; i < s->keys_n; i++) {
    hits |= CRYPTO_memcmp(digest, s->keys[i].u.static_sha256, sizeof(digest)) == 0;
  }
  return hits != 0 ? 0 : no_match(err, s->header, s->header_len);
}

int hl_signer_verify(const hl_signer *s, const hl_sign_header *headers, size_t headers_n,
                     hl_span body, uint64_t now_s, uint64_t tolerance_s, hl_err *err) {
  switch (s->scheme) {
  case HL_SIGN_STANDARD:
    return verify_standard(s, headers, headers_n, body, now_s, tolerance_s, err);
  case HL_SIGN_HMAC_SHA256:
    return verify_hmac(s, headers, headers_n, body, err);
  case HL_SIGN_STRIPE:
    return verify_stripe(s, headers, headers_n, body, now_s, tolerance_s, err);
  case HL_SIGN_STATIC:
    return verify_static(s, headers, headers_n, err);
  case HL_SIGN_NONE:
    break;
  }
  return 0;
}

int hl_sign_verify(const hl_sign_config *cfg, const hl_sign_header *headers, size_t headers_n,
                   hl_span body, uint64_t now_s, uint64_t tolerance_s, hl_err *err) {
  hl_sign_config c = *cfg;
  c.verify_only = true;
  hl_signer s;
  int rc = hl_signer_init(&s, &c, err);
  if (rc == 0) {
    rc = hl_signer_verify(&s, headers, headers_n, body, now_s, tolerance_s, err);
  }
  hl_signer_cleanup(&s);
  return rc;
}

/* --- secrets ------------------------------------------------------------------- */

int hl_sign_generate_secret(hl_sign_scheme scheme, hl_buf *out) {
  uint8_t raw[RANDOM_SECRET_BYTES];
  switch (scheme) {
  case HL_SIGN_STANDARD:
    RAND_bytes(raw, STANDARD_WHSEC_RANDOM_BYTES);
    hl_buf_put_cstr(out, WHSEC);
    hl_buf_put_base64(out, raw, STANDARD_WHSEC_RANDOM_BYTES);
    break;
  case HL_SIGN_HMAC_SHA256:
  case HL_SIGN_STRIPE:
  case HL_SIGN_STATIC:
    RAND_bytes(raw, sizeof(raw));
    hl_buf_put_hex(out, raw, sizeof(raw));
    break;
  case HL_SIGN_NONE:
  default:
    return -EINVAL;
  }
  OPENSSL_cleanse(raw, sizeof(raw));
  return hl_buf_ok(out) ? 0 : -ENOSPC;
}

int hl_sign_generate_keypair(hl_buf *secret_key, hl_buf *public_key) {
  uint8_t pub[32], priv[64];
  ED25519_keypair(pub, priv);
  hl_buf_put_cstr(secret_key, WHSK);
  hl_buf_put_base64(secret_key, priv, sizeof(priv));
  hl_buf_put_cstr(public_key, WHPK);
  hl_buf_put_base64(public_key, pub, sizeof(pub));
  OPENSSL_cleanse(priv, sizeof(priv));
  return hl_buf_ok(secret_key) && hl_buf_ok(public_key) ? 0 : -ENOSPC;
}

int hl_sign_public_key(hl_span secret_key, hl_buf *public_key, hl_err *err) {
  if (!hl_span_starts_with(secret_key, HL_SPAN_LIT(WHSK))) {
    return hl_err_fail(err, -EINVAL, "secret key: must start with whsk_");
  }
  uint8_t priv[64];
  int rc = ed25519_private_from(secret_key, priv, "secret key", err);
  if (rc != 0) {
    return rc;
  }
  hl_buf_put_cstr(public_key, WHPK);
  hl_buf_put_base64(public_key, priv + 32, 32);
  OPENSSL_cleanse(priv, sizeof(priv));
  return hl_buf_ok(public_key) ? 0 : -ENOSPC;
}

void hl_sign_fingerprint(hl_span secret, hl_buf *out) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)secret.ptr, secret.len, digest);
  hl_buf_put_hex(out, digest, HL_SIGN_FINGERPRINT_CHARS / 2);
}
