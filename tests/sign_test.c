/* Tests for crypto/sign: published vectors, every scheme's round trip,
 * rotation, tolerance, tampering, hostile headers, secret validation (with
 * the secret never echoed), and agreement of the two-step headroom path with
 * the one-call path. */
#include "crypto/sign.h"

#include <openssl/curve25519.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/sha.h>
#include <stdio.h>

#include "base/assert.h"
#include "harness.h"

#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS 1614265330u
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

#define HEADERS_MAX 8

typedef struct signed_req {
  char mem[HL_SIGN_HEADER_LINES_BYTES_MAX];
  hl_buf buf;
  hl_sign_header h[HEADERS_MAX];
  size_t n;
} signed_req;

/* parse_lines splits "Name: value\r\n" lines into headers (test helper). */
static void parse_lines(signed_req *r) {
  hl_span rest = hl_buf_span(&r->buf), line;
  r->n = 0;
  while (rest.len > 0) {
    ASSERT_TRUE(hl_span_get_until(&rest, '\n', &line));
    ASSERT_TRUE(hl_span_ends_with(line, HL_SPAN_LIT("\r")));
    line.len--;
    hl_span name;
    ASSERT_TRUE(hl_span_get_until(&line, ':', &name));
    ASSERT_TRUE(hl_span_get_lit(&line, HL_SPAN_LIT(" ")));
    ASSERT_LT(r->n, HEADERS_MAX);
    r->h[r->n++] = (hl_sign_header){name, line};
  }
}

static hl_sign_config config(hl_sign_scheme scheme, const hl_span *secrets, size_t n) {
  return (hl_sign_config){.scheme = scheme, .secrets = secrets, .secrets_n = n};
}

static void init_ok(hl_signer *s, const hl_sign_config *cfg) {
  hl_err err = {{0}};
  int rc = hl_signer_init(s, cfg, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "hl_signer_init: %d %s", rc, err.msg);
  }
}

static void sign_ok(const hl_signer *s, hl_span id, uint64_t ts, hl_span body, signed_req *r) {
  hl_buf_init(&r->buf, r->mem, sizeof(r->mem));
  hl_err err = {{0}};
  int rc = hl_signer_sign(s, id, ts, body, &r->buf, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "hl_signer_sign: %d %s", rc, err.msg);
  }
  parse_lines(r);
}

/* sign_with builds a signer from |cfg|, signs once and wipes the signer. */
static void sign_with(const hl_sign_config *cfg, hl_span id, uint64_t ts, hl_span body,
                      signed_req *r) {
  hl_signer s;
  init_ok(&s, cfg);
  sign_ok(&s, id, ts, body, r);
  hl_signer_cleanup(&s);
}

static const hl_span sw_secrets[] = {HL_SPAN_LIT(SW_SECRET)};

/* sign_vector signs the Standard Webhooks vector; returns its configuration. */
static hl_sign_config sign_vector(signed_req *r) {
  hl_sign_config cfg = config(HL_SIGN_STANDARD, sw_secrets, 1);
  sign_with(&cfg, HL_SPAN_LIT(SW_ID), SW_TS, HL_SPAN_LIT(SW_BODY), r);
  return cfg;
}

static int verify(const hl_sign_config *cfg, const signed_req *r, hl_span body, uint64_t now_s,
                  uint64_t tolerance_s, hl_err *err) {
  return hl_sign_verify(cfg, r->h, r->n, body, now_s, tolerance_s, err);
}

/* An error text may name fields but must not contain the secret. */
static void assert_no_secret(const hl_err *err, const char *secret) {
  ASSERT_TRUE(strstr(err->msg, secret) == NULL);
}

TEST(standard_webhooks_vector) {
  signed_req r;
  hl_sign_config cfg = sign_vector(&r);
  ASSERT_SPAN_EQ(hl_buf_span(&r.buf), "webhook-id: " SW_ID
                                      "\r\n"
                                      "webhook-timestamp: 1614265330\r\n"
                                      "webhook-signature: " SW_SIG "\r\n");
  hl_err err = {{0}};
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT(SW_BODY), SW_TS + 10, 300, &err), 0);
}

TEST(standard_vector_through_headroom) {
  hl_span secrets[] = {HL_SPAN_LIT(SW_SECRET)};
  hl_sign_config cfg = config(HL_SIGN_STANDARD, secrets, 1);
  hl_signer s;
  init_ok(&s, &cfg);
  char mem[HL_SIGN_HEADROOM_BYTES + 64];
  memset(mem, '#', sizeof(mem));
  char *body = mem + HL_SIGN_HEADROOM_BYTES;
  memcpy(body, SW_BODY, strlen(SW_BODY));
  hl_sign_state st;
  hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
  int n = hl_signer_prepare(&s, &st, HL_SPAN_LIT(SW_ID), SW_TS, body, strlen(SW_BODY),
                            HL_SIGN_HEADROOM_BYTES, jobs, NULL);
  ASSERT_EQ(n, 1);
  ASSERT_SPAN_EQ(jobs[0].msg, SW_ID ".1614265330." SW_BODY);
  /* Only the prefix is written: the byte before it is untouched. */
  ASSERT_EQ(jobs[0].msg.ptr[-1], '#');
  hl_sign_jobs_run(jobs, (size_t)n);
  char out[512];
  hl_buf h;
  hl_buf_init(&h, out, sizeof(out));
  ASSERT_EQ(hl_signer_finish(&s, &st, &h), 0);
  ASSERT_SPAN_EQ(hl_buf_span(&h), "webhook-id: " SW_ID
                                  "\r\n"
                                  "webhook-timestamp: 1614265330\r\n"
                                  "webhook-signature: " SW_SIG "\r\n");
  hl_signer_cleanup(&s);
}

TEST(github_vector) {
  hl_span secrets[] = {HL_SPAN_LIT("It's a Secret to Everybody")};
  hl_sign_config cfg = config(HL_SIGN_HMAC_SHA256, secrets, 1);
  cfg.header = HL_SPAN_LIT("X-Hub-Signature-256");
  signed_req r;
  sign_with(&cfg, HL_SPAN_NULL, 0, HL_SPAN_LIT("Hello, World!"), &r);
  ASSERT_SPAN_EQ(hl_buf_span(&r.buf),
                 "X-Hub-Signature-256: "
                 "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\r\n");
  hl_err err = {{0}};
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT("Hello, World!"), 0, 0, &err), 0);
}

TEST(hmac_default_header_and_custom_prefix) {
  hl_span secrets[] = {HL_SPAN_LIT("It's a Secret to Everybody")};
  hl_sign_config cfg = config(HL_SIGN_HMAC_SHA256, secrets, 1);
  signed_req r;
  sign_with(&cfg, HL_SPAN_NULL, 0, HL_SPAN_LIT("Hello, World!"), &r);
  ASSERT_EQ(r.n, 1);
  ASSERT_SPAN_EQ(r.h[0].name, "X-Webhook-Signature");
  ASSERT_TRUE(hl_span_starts_with(r.h[0].value, HL_SPAN_LIT("sha256=757107ea")));
  /* An empty (non-NULL) prefix means the bare hex digest. */
  cfg.prefix = hl_span_make("", 0);
  cfg.header = HL_SPAN_LIT("X-Wilow-Signature");
  sign_with(&cfg, HL_SPAN_NULL, 0, HL_SPAN_LIT("Hello, World!"), &r);
  ASSERT_SPAN_EQ(r.h[0].value, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  hl_err err = {{0}};
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT("Hello, World!"), 0, 0, &err), 0);
}

TEST(stripe_vector_agrees_with_boringssl_hmac) {
  const char *secret = "whsec_stripe_test_0123456789abcdef";
  const char *body = "{\"id\":\"evt_1\",\"object\":\"event\"}";
  hl_span secrets[] = {hl_span_cstr(secret)};
  hl_sign_config cfg = config(HL_SIGN_STRIPE, secrets, 1);
  signed_req r;
  sign_with(&cfg, HL_SPAN_NULL, 1700000000, hl_span_cstr(body), &r);
  /* Independently: HMAC-SHA256(secret as bytes, "1700000000." + body). */
  char payload[256];
  int len = snprintf(payload, sizeof(payload), "1700000000.%s", body);
  uint8_t want[32];
  unsigned want_len = 0;
  HMAC(EVP_sha256(), secret, strlen(secret), (const uint8_t *)payload, (size_t)len, want,
       &want_len);
  ASSERT_EQ(want_len, 32);
  char expect_mem[256];
  hl_buf expect;
  hl_buf_init(&expect, expect_mem, sizeof(expect_mem));
  hl_buf_put_cstr(&expect, "Stripe-Signature: t=1700000000,v1=");
  hl_buf_put_hex(&expect, want, 32);
  hl_buf_put_cstr(&expect, "\r\n");
  ASSERT_SPAN_EQ(hl_buf_span(&r.buf), hl_buf_cstr(&expect));
  hl_err err = {{0}};
  ASSERT_EQ(verify(&cfg, &r, hl_span_cstr(body), 1700000100, 300, &err), 0);
}

TEST(static_and_none) {
  const char *secret = "ar_live_4f9a2c77e1d04b8a";
  hl_span secrets[] = {hl_span_cstr(secret), HL_SPAN_LIT("older-static-secret-123")};
  hl_sign_config cfg = config(HL_SIGN_STATIC, secrets, 2);
  signed_req r;
  sign_with(&cfg, HL_SPAN_LIT("msg_1"), 1, HL_SPAN_LIT("{}"), &r);
  ASSERT_SPAN_EQ(hl_buf_span(&r.buf), "X-Secret-Key: ar_live_4f9a2c77e1d04b8a\r\n");
  hl_err err = {{0}};
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT("{}"), 0, 0, &err), 0);
  /* The older secret still verifies, an unknown one does not. */
  hl_sign_header old = {HL_SPAN_LIT("x-secret-key"), HL_SPAN_LIT(" older-static-secret-123 ")};
  ASSERT_EQ(hl_sign_verify(&cfg, &old, 1, HL_SPAN_NULL, 0, 0, &err), 0);
  hl_sign_header bad = {HL_SPAN_LIT("X-Secret-Key"), HL_SPAN_LIT("ar_live_4f9a2c77e1d04b8b")};
  ASSERT_EQ(hl_sign_verify(&cfg, &bad, 1, HL_SPAN_NULL, 0, 0, &err), HL_SIGN_EMISMATCH);
  ASSERT_EQ(hl_sign_verify(&cfg, &bad, 0, HL_SPAN_NULL, 0, 0, &err), HL_SIGN_ENOHEADER);

  hl_sign_config none = config(HL_SIGN_NONE, NULL, 0);
  sign_with(&none, HL_SPAN_LIT("msg_1"), 1, HL_SPAN_LIT("{}"), &r);
  ASSERT_EQ(r.buf.len, 0);
  hl_sign_state st;
  hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
  char body[HL_SIGN_HEADROOM_BYTES + 2];
  hl_signer s;
  init_ok(&s, &none);
  ASSERT_EQ(hl_signer_prepare(&s, &st, HL_SPAN_NULL, 1, body + HL_SIGN_HEADROOM_BYTES, 2,
                              HL_SIGN_HEADROOM_BYTES, jobs, NULL),
            0);
  hl_signer_cleanup(&s);
  ASSERT_EQ(hl_sign_verify(&none, NULL, 0, HL_SPAN_LIT("x"), 0, 0, &err), 0);
}

TEST(standard_rotation_three_secrets) {
  hl_span secrets[] = {HL_SPAN_LIT("whsec_bmV3ZXN0LXNlY3JldC0wMTIzNDU2Nzg5"),
                       HL_SPAN_LIT(SW_SECRET),
                       HL_SPAN_LIT("whsec_b2xkZXN0LXNlY3JldC0wMTIzNDU2Nzg5")};
  hl_sign_config cfg = config(HL_SIGN_STANDARD, secrets, 3);
  signed_req r;
  sign_with(&cfg, HL_SPAN_LIT(SW_ID), SW_TS, HL_SPAN_LIT(SW_BODY), &r);
  ASSERT_EQ(r.n, 3);
  /* Newest first; the vector's secret second, with the vector's signature. */
  hl_span sigs = r.h[2].value, a, b;
  ASSERT_TRUE(hl_span_get_until(&sigs, ' ', &a));
  ASSERT_TRUE(hl_span_get_until(&sigs, ' ', &b));
  ASSERT_SPAN_EQ(b, SW_SIG);
  ASSERT_TRUE(hl_span_starts_with(sigs, HL_SPAN_LIT("v1,")));
  /* A receiver holding any one of them accepts. */
  hl_err err = {{0}};
  for (size_t i = 0; i < 3; i++) {
    hl_sign_config one = config(HL_SIGN_STANDARD, &secrets[i], 1);
    ASSERT_EQ(verify(&one, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), 0);
  }
  hl_span other[] = {HL_SPAN_LIT("whsec_dW5yZWxhdGVkLXNlY3JldC0wMTIzNDU2Nzg5")};
  hl_sign_config stranger = config(HL_SIGN_STANDARD, other, 1);
  ASSERT_EQ(verify(&stranger, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), HL_SIGN_EMISMATCH);
  ASSERT_TRUE(strstr(err.msg, "no signature matched") != NULL);
}

TEST(stripe_and_hmac_rotation) {
  hl_span secrets[] = {HL_SPAN_LIT("newest-secret-0123456789"),
                       HL_SPAN_LIT("older-secret-0123456789")};
  hl_sign_config cfg = config(HL_SIGN_STRIPE, secrets, 2);
  signed_req r;
  sign_with(&cfg, HL_SPAN_NULL, 1700000000, HL_SPAN_LIT("{}"), &r);
  ASSERT_EQ(r.n, 1);
  ASSERT_EQ(r.h[0].value.len, strlen("t=1700000000") + 2 * (4 + 64));
  hl_err err = {{0}};
  hl_sign_config old = config(HL_SIGN_STRIPE, &secrets[1], 1);
  ASSERT_EQ(verify(&old, &r, HL_SPAN_LIT("{}"), 1700000000, 300, &err), 0);

  /* hmac-sha256 sends one signature, made with the newest secret; a
   * verifier that holds both (old receiver config) accepts it. */
  cfg.scheme = HL_SIGN_HMAC_SHA256;
  sign_with(&cfg, HL_SPAN_NULL, 0, HL_SPAN_LIT("{}"), &r);
  ASSERT_EQ(r.h[0].value.len, strlen("sha256=") + 64);
  hl_sign_config both = config(HL_SIGN_HMAC_SHA256, secrets, 2);
  ASSERT_EQ(verify(&both, &r, HL_SPAN_LIT("{}"), 0, 0, &err), 0);
  hl_sign_config newest = config(HL_SIGN_HMAC_SHA256, &secrets[0], 1);
  ASSERT_EQ(verify(&newest, &r, HL_SPAN_LIT("{}"), 0, 0, &err), 0);
  hl_sign_config old_hmac = config(HL_SIGN_HMAC_SHA256, &secrets[1], 1);
  ASSERT_EQ(verify(&old_hmac, &r, HL_SPAN_LIT("{}"), 0, 0, &err), HL_SIGN_EMISMATCH);
}

TEST(tolerance_both_directions_and_zero_skips) {
  signed_req r;
  hl_sign_config cfg = sign_vector(&r);
  hl_span body = HL_SPAN_LIT(SW_BODY);
  hl_err err = {{0}};
  ASSERT_EQ(verify(&cfg, &r, body, SW_TS + 300, 300, &err), 0);
  ASSERT_EQ(verify(&cfg, &r, body, SW_TS - 300, 300, &err), 0);
  ASSERT_EQ(verify(&cfg, &r, body, SW_TS + 301, 300, &err), HL_SIGN_ESTALE);
  ASSERT_TRUE(strstr(err.msg, "webhook-timestamp") != NULL);
  ASSERT_TRUE(strstr(err.msg, "behind") != NULL);
  ASSERT_EQ(verify(&cfg, &r, body, SW_TS - 301, 300, &err), HL_SIGN_ESTALE);
  ASSERT_TRUE(strstr(err.msg, "ahead") != NULL);
  ASSERT_EQ(verify(&cfg, &r, body, 0, 0, &err), 0);
  ASSERT_EQ(verify(&cfg, &r, body, UINT64_MAX, 0, &err), 0);

  hl_span ssecret[] = {HL_SPAN_LIT("stripe-secret-0123456789")};
  hl_sign_config stripe = config(HL_SIGN_STRIPE, ssecret, 1);
  sign_with(&stripe, HL_SPAN_NULL, 1000, body, &r);
  ASSERT_EQ(verify(&stripe, &r, body, 2000, 300, &err), HL_SIGN_ESTALE);
  ASSERT_EQ(verify(&stripe, &r, body, 2000, 0, &err), 0);
}

/* replace_value swaps one header's value (test helper). */
static void replace_value(signed_req *r, const char *name, hl_span value) {
  for (size_t i = 0; i < r->n; i++) {
    if (hl_span_eq_nocase(r->h[i].name, hl_span_cstr(name))) {
      r->h[i].value = value;
      return;
    }
  }
  hl_test_fail(__FILE__, __LINE__, "no header %s", name);
}

TEST(tampering_is_detected_for_every_scheme) {
  const hl_sign_scheme schemes[] = {HL_SIGN_STANDARD, HL_SIGN_HMAC_SHA256, HL_SIGN_STRIPE};
  const char *sig_header[] = {"webhook-signature", "X-Webhook-Signature", "Stripe-Signature"};
  hl_span secrets[][1] = {{HL_SPAN_LIT(SW_SECRET)},
                          {HL_SPAN_LIT("hmac-secret-0123456789")},
                          {HL_SPAN_LIT("stripe-secret-0123456789")}};
  char body[] = "{\"event\":\"lead.created\",\"data\":{\"email\":\"a@example.com\"}}";
  for (size_t k = 0; k < HL_ARRAY_LEN(schemes); k++) {
    hl_sign_config cfg = config(schemes[k], secrets[k], 1);
    hl_signer s;
    init_ok(&s, &cfg);
    signed_req r;
    sign_ok(&s, HL_SPAN_LIT("msg_abc"), 1700000000, hl_span_cstr(body), &r);
    hl_err err = {{0}};
    ASSERT_EQ(verify(&cfg, &r, hl_span_cstr(body), 1700000000, 300, &err), 0);
    /* Any flipped body byte fails. */
    for (size_t i = 0; i < strlen(body); i++) {
      body[i] ^= 0x01;
      ASSERT_EQ(verify(&cfg, &r, hl_span_cstr(body), 1700000000, 300, &err), HL_SIGN_EMISMATCH);
      body[i] ^= 0x01;
    }
    ASSERT_EQ(verify(&cfg, &r, hl_span_make(body, strlen(body) - 1), 1700000000, 300, &err),
              HL_SIGN_EMISMATCH);
    /* Any flipped signature character fails (or no longer parses). */
    hl_span sig = hl_span_cstr(sig_header[k]);
    hl_span orig = HL_SPAN_NULL;
    for (size_t i = 0; i < r.n; i++) {
      if (hl_span_eq_nocase(r.h[i].name, sig)) {
        orig = r.h[i].value;
      }
    }
    char mut[256];
    ASSERT_LT(orig.len, sizeof(mut));
    for (size_t i = 0; i < orig.len; i++) {
      memcpy(mut, orig.ptr, orig.len);
      /* Hex digits compare case-insensitively: change the letter, not the case. */
      mut[i] = hl_ascii_lower(mut[i]) == 'b' ? 'c' : 'b';
      replace_value(&r, sig_header[k], hl_span_make(mut, orig.len));
      int rc = verify(&cfg, &r, hl_span_cstr(body), 1700000000, 300, &err);
      ASSERT_NE(rc, 0);
    }
    replace_value(&r, sig_header[k], orig);
    hl_signer_cleanup(&s);
  }
}

TEST(tampered_timestamp_and_id) {
  signed_req r;
  hl_sign_config cfg = sign_vector(&r);
  hl_err err = {{0}};
  replace_value(&r, "webhook-timestamp", HL_SPAN_LIT("1614265331"));
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), HL_SIGN_EMISMATCH);
  replace_value(&r, "webhook-timestamp", HL_SPAN_LIT("01614265330")); /* same number, other text */
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), HL_SIGN_EMISMATCH);
  replace_value(&r, "webhook-timestamp", HL_SPAN_LIT("1614265330"));
  replace_value(&r, "webhook-id", HL_SPAN_LIT("msg_p5jXN8AQM9LWM0D4loKWxJeK"));
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), HL_SIGN_EMISMATCH);
  replace_value(&r, "webhook-id", HL_SPAN_LIT(SW_ID));
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), 0);

  /* Stripe: moving t changes the signed payload. */
  hl_span ss[] = {HL_SPAN_LIT("stripe-secret-0123456789")};
  hl_sign_config stripe = config(HL_SIGN_STRIPE, ss, 1);
  hl_signer s2;
  init_ok(&s2, &stripe);
  signed_req r2;
  sign_ok(&s2, HL_SPAN_NULL, 1700000000, HL_SPAN_LIT("{}"), &r2);
  char mut[256];
  memcpy(mut, r2.h[0].value.ptr, r2.h[0].value.len);
  mut[strlen("t=170000000")] = '1';
  replace_value(&r2, "Stripe-Signature", hl_span_make(mut, r2.h[0].value.len));
  ASSERT_EQ(verify(&stripe, &r2, HL_SPAN_LIT("{}"), 1700000001, 300, &err), HL_SIGN_EMISMATCH);
  hl_signer_cleanup(&s2);
}

static int verify_standard_headers(const char *id, const char *ts, const char *sig, hl_err *err) {
  hl_span secrets[] = {HL_SPAN_LIT(SW_SECRET)};
  hl_sign_config cfg = config(HL_SIGN_STANDARD, secrets, 1);
  hl_sign_header h[3];
  size_t n = 0;
  if (id != NULL) {
    h[n++] = (hl_sign_header){HL_SPAN_LIT("webhook-id"), hl_span_cstr(id)};
  }
  if (ts != NULL) {
    h[n++] = (hl_sign_header){HL_SPAN_LIT("Webhook-Timestamp"), hl_span_cstr(ts)};
  }
  if (sig != NULL) {
    h[n++] = (hl_sign_header){HL_SPAN_LIT("WEBHOOK-SIGNATURE"), hl_span_cstr(sig)};
  }
  return hl_sign_verify(&cfg, h, n, HL_SPAN_LIT(SW_BODY), SW_TS, 300, err);
}

TEST(malformed_standard_headers) {
  hl_err err = {{0}};
  /* Header names match case-insensitively; extra spaces are tolerated. */
  ASSERT_EQ(verify_standard_headers(SW_ID, "1614265330", "  v2,abc  " SW_SIG "  ", &err), 0);
  ASSERT_EQ(verify_standard_headers(NULL, "1614265330", SW_SIG, &err), HL_SIGN_ENOHEADER);
  ASSERT_TRUE(strstr(err.msg, "webhook-id: header missing") != NULL);
  ASSERT_EQ(verify_standard_headers(SW_ID, NULL, SW_SIG, &err), HL_SIGN_ENOHEADER);
  ASSERT_EQ(verify_standard_headers(SW_ID, "1614265330", NULL, &err), HL_SIGN_ENOHEADER);
  ASSERT_EQ(verify_standard_headers(SW_ID, "16142653x0", SW_SIG, &err), HL_SIGN_EMALFORMED);
  ASSERT_TRUE(strstr(err.msg, "not a Unix time") != NULL);
  ASSERT_EQ(verify_standard_headers(SW_ID, "", SW_SIG, &err), HL_SIGN_EMALFORMED);
  ASSERT_EQ(verify_standard_headers(SW_ID, "-1614265330", SW_SIG, &err), HL_SIGN_EMALFORMED);
  ASSERT_EQ(verify_standard_headers(SW_ID, "99999999999999999999999", SW_SIG, &err),
            HL_SIGN_EMALFORMED);
  ASSERT_EQ(verify_standard_headers("msg.1", "1614265330", SW_SIG, &err), HL_SIGN_EMALFORMED);
  ASSERT_EQ(verify_standard_headers("", "1614265330", SW_SIG, &err), HL_SIGN_EMALFORMED);
  const char *bad_sigs[] = {"",
                            "v1",
                            "v1,",
                            "v1,!!!!",
                            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
                            "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                            ",,,,",
                            "v1 ,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=="};
  for (size_t i = 0; i < HL_ARRAY_LEN(bad_sigs); i++) {
    ASSERT_EQ(verify_standard_headers(SW_ID, "1614265330", bad_sigs[i], &err), HL_SIGN_EMISMATCH);
  }
  /* Past HL_SIGN_CANDIDATES_MAX signatures the header is refused outright. */
  char many[2048];
  hl_buf b;
  hl_buf_init(&b, many, sizeof(many));
  for (int i = 0; i < HL_SIGN_CANDIDATES_MAX; i++) {
    hl_buf_put_cstr(&b, "v1,AAAA ");
  }
  hl_buf_put_cstr(&b, SW_SIG);
  ASSERT_EQ(verify_standard_headers(SW_ID, "1614265330", hl_buf_cstr(&b), &err),
            HL_SIGN_EMALFORMED);
  /* The same header twice is ambiguous. */
  hl_span secrets[] = {HL_SPAN_LIT(SW_SECRET)};
  hl_sign_config cfg = config(HL_SIGN_STANDARD, secrets, 1);
  hl_sign_header dup[] = {{HL_SPAN_LIT("webhook-id"), HL_SPAN_LIT(SW_ID)},
                          {HL_SPAN_LIT("webhook-timestamp"), HL_SPAN_LIT("1614265330")},
                          {HL_SPAN_LIT("webhook-signature"), HL_SPAN_LIT(SW_SIG)},
                          {HL_SPAN_LIT("webhook-timestamp"), HL_SPAN_LIT("1614265330")}};
  ASSERT_EQ(hl_sign_verify(&cfg, dup, 4, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err),
            HL_SIGN_EMALFORMED);
  ASSERT_TRUE(strstr(err.msg, "more than once") != NULL);
}

TEST(malformed_hmac_and_stripe_headers) {
  hl_span secrets[] = {HL_SPAN_LIT("It's a Secret to Everybody")};
  hl_sign_config cfg = config(HL_SIGN_HMAC_SHA256, secrets, 1);
  hl_err err = {{0}};
  const char *bad[] = {"",
                       "sha256=",
                       "sha256=757107ea",
                       "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                       "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                       "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1z",
                       "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700"};
  for (size_t i = 0; i < HL_ARRAY_LEN(bad); i++) {
    hl_sign_header h = {HL_SPAN_LIT("X-Webhook-Signature"), hl_span_cstr(bad[i])};
    ASSERT_EQ(hl_sign_verify(&cfg, &h, 1, HL_SPAN_LIT("Hello, World!"), 0, 0, &err),
              HL_SIGN_EMALFORMED);
  }
  /* Upper-case hex is the same digest. */
  hl_sign_header up = {
      HL_SPAN_LIT("x-webhook-signature"),
      HL_SPAN_LIT("sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17")};
  ASSERT_EQ(hl_sign_verify(&cfg, &up, 1, HL_SPAN_LIT("Hello, World!"), 0, 0, &err), 0);

  hl_span ss[] = {HL_SPAN_LIT("stripe-secret-0123456789")};
  hl_sign_config stripe = config(HL_SIGN_STRIPE, ss, 1);
  signed_req r;
  sign_with(&stripe, HL_SPAN_NULL, 1700000000, HL_SPAN_LIT("{}"), &r);
  char good[256];
  ASSERT_TRUE(hl_span_to_cstr(r.h[0].value, good, sizeof(good)));
  const char *v1 = strstr(good, "v1=");
  char mem[512];
  hl_buf b;
  /* Extra schemes, spaces and odd items are ignored; the v1 still counts. */
  hl_buf_init(&b, mem, sizeof(mem));
  hl_buf_printf(&b, " v0=abc , junk, t=1700000000 ,%s, v1=zz", v1);
  hl_sign_header h = {HL_SPAN_LIT("stripe-signature"), hl_span_cstr(hl_buf_cstr(&b))};
  ASSERT_EQ(hl_sign_verify(&stripe, &h, 1, HL_SPAN_LIT("{}"), 1700000000, 300, &err), 0);
  hl_buf_init(&b, mem, sizeof(mem));
  hl_buf_printf(&b, "%s", v1);
  h.value = hl_span_cstr(hl_buf_cstr(&b));
  ASSERT_EQ(hl_sign_verify(&stripe, &h, 1, HL_SPAN_LIT("{}"), 1700000000, 300, &err),
            HL_SIGN_EMALFORMED);
  ASSERT_TRUE(strstr(err.msg, "no t=") != NULL);
  hl_buf_init(&b, mem, sizeof(mem));
  hl_buf_printf(&b, "t=1700000000,t=1700000000,%s", v1);
  h.value = hl_span_cstr(hl_buf_cstr(&b));
  ASSERT_EQ(hl_sign_verify(&stripe, &h, 1, HL_SPAN_LIT("{}"), 1700000000, 300, &err),
            HL_SIGN_EMALFORMED);
  h.value = HL_SPAN_LIT("t=1700000000");
  ASSERT_EQ(hl_sign_verify(&stripe, &h, 1, HL_SPAN_LIT("{}"), 1700000000, 300, &err),
            HL_SIGN_EMISMATCH);
  h.value = HL_SPAN_LIT("t=abc,v1=00");
  ASSERT_EQ(hl_sign_verify(&stripe, &h, 1, HL_SPAN_LIT("{}"), 1700000000, 300, &err),
            HL_SIGN_EMALFORMED);
}

/* init_fails checks that a configuration is refused with a message that
 * mentions |needle| and does not contain any of the secrets. */
static void init_fails(const hl_sign_config *cfg, const char *needle) {
  hl_signer s;
  hl_err err = {{0}};
  ASSERT_EQ(hl_signer_init(&s, cfg, &err), -EINVAL);
  if (strstr(err.msg, needle) == NULL) {
    hl_test_fail(__FILE__, __LINE__, "error \"%s\" does not mention \"%s\"", err.msg, needle);
  }
  for (size_t i = 0; i < cfg->secrets_n; i++) {
    char secret[HL_SIGN_SECRET_BYTES_MAX + 1];
    if (cfg->secrets[i].len >= 4 && hl_span_to_cstr(cfg->secrets[i], secret, sizeof(secret))) {
      assert_no_secret(&err, secret);
      /* Nor the part after a prefix. */
      const char *under = strchr(secret, '_');
      if (under != NULL && strlen(under + 1) >= 4) {
        assert_no_secret(&err, under + 1);
      }
    }
  }
  /* A refused signer is wiped and safe to clean up. */
  ASSERT_EQ(s.keys_n, 0);
  hl_signer_cleanup(&s);
}

TEST(bad_secrets_are_refused_without_echo) {
  hl_span short_raw[] = {HL_SPAN_LIT("tooShortSecret1")}; /* 15 bytes */
  hl_sign_config c = config(HL_SIGN_HMAC_SHA256, short_raw, 1);
  init_fails(&c, "secrets[0]: too short (15 bytes); hmac-sha256 secrets need at least 16 bytes");
  c.scheme = HL_SIGN_STRIPE;
  init_fails(&c, "stripe secrets need at least 16");
  c.scheme = HL_SIGN_STATIC;
  init_fails(&c, "at least 16");

  hl_span ok_then_bad[] = {HL_SPAN_LIT(SW_SECRET), HL_SPAN_LIT("whsec_not*base64*at*all1234")};
  c = config(HL_SIGN_STANDARD, ok_then_bad, 2);
  init_fails(&c, "secrets[1]: the text after whsec_ is not valid base64");
  hl_span short_whsec[] = {HL_SPAN_LIT("whsec_c2hvcnRrZXkxMjM0NTY3")}; /* 15 bytes */
  c = config(HL_SIGN_STANDARD, short_whsec, 1);
  init_fails(&c, "decodes to 15 bytes; at least 16");
  hl_span no_prefix[] = {HL_SPAN_LIT("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")};
  c = config(HL_SIGN_STANDARD, no_prefix, 1);
  init_fails(&c, "must start with whsec_");
  hl_span whsk_size[] = {HL_SPAN_LIT("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")};
  c = config(HL_SIGN_STANDARD, whsk_size, 1);
  init_fails(&c, "64 bytes");
  hl_span whpk[] = {HL_SPAN_LIT("whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")};
  c = config(HL_SIGN_STANDARD, whpk, 1);
  init_fails(&c, "is a public key (whpk_)");
  c.verify_only = true;
  hl_signer s;
  ASSERT_EQ(hl_signer_init(&s, &c, NULL), 0);
  hl_signer_cleanup(&s);

  hl_span spaced[] = {HL_SPAN_LIT("static secret with spaces")};
  c = config(HL_SIGN_STATIC, spaced, 1);
  init_fails(&c, "visible ASCII");
  hl_span crlf[] = {HL_SPAN_LIT("static-secret\r\nX-Evil: 1")};
  c = config(HL_SIGN_STATIC, crlf, 1);
  init_fails(&c, "visible ASCII");

  hl_span five[] = {HL_SPAN_LIT(SW_SECRET), HL_SPAN_LIT(SW_SECRET), HL_SPAN_LIT(SW_SECRET),
                    HL_SPAN_LIT(SW_SECRET), HL_SPAN_LIT(SW_SECRET)};
  c = config(HL_SIGN_STANDARD, five, HL_SECRETS_PER_ENDPOINT_MAX + 1);
  init_fails(&c, "secrets: at most 4");
  c = config(HL_SIGN_STANDARD, five, 0);
  init_fails(&c, "secrets: the standard scheme needs at least one secret");
  c = config(HL_SIGN_NONE, five, 1);
  init_fails(&c, "secrets: the none scheme takes no secrets");
  char huge[HL_SIGN_SECRET_BYTES_MAX + 1];
  memset(huge, 'x', sizeof(huge));
  hl_span long_secret[] = {hl_span_make(huge, sizeof(huge))};
  c = config(HL_SIGN_HMAC_SHA256, long_secret, 1);
  init_fails(&c, "longer than 512 bytes");
}

TEST(bad_names_are_refused) {
  hl_span secrets[] = {HL_SPAN_LIT("hmac-secret-0123456789")};
  hl_sign_config c = config(HL_SIGN_HMAC_SHA256, secrets, 1);
  c.header = HL_SPAN_LIT("X-Sig: evil");
  init_fails(&c, "header: \"X-Sig: evil\" is not a valid header name");
  c.header = hl_span_make("", 0);
  init_fails(&c, "header: a header name needs 1 to 64");
  c.header = HL_SPAN_NULL;
  c.prefix = HL_SPAN_LIT("sha256=\r\n");
  init_fails(&c, "prefix: at most 32 visible ASCII");
  c = config(HL_SIGN_STRIPE, secrets, 1);
  c.prefix = HL_SPAN_LIT("v1=");
  init_fails(&c, "prefix: only the hmac-sha256 scheme");
  c = config(HL_SIGN_STRIPE, secrets, 1);
  c.id_header = HL_SPAN_LIT("x-id");
  init_fails(&c, "only the standard scheme");
  hl_span sw[] = {HL_SPAN_LIT(SW_SECRET)};
  c = config(HL_SIGN_STANDARD, sw, 1);
  c.timestamp_header = HL_SPAN_LIT("x ts");
  init_fails(&c, "timestamp_header:");
  hl_sign_scheme out;
  ASSERT_EQ(hl_sign_scheme_parse(HL_SPAN_LIT("hmac-sha256"), &out), 0);
  ASSERT_EQ(out, HL_SIGN_HMAC_SHA256);
  ASSERT_EQ(hl_sign_scheme_parse(HL_SPAN_LIT("HMAC"), &out), -EINVAL);
  for (int i = HL_SIGN_NONE; i <= HL_SIGN_STATIC; i++) {
    ASSERT_EQ(hl_sign_scheme_parse(hl_span_cstr(hl_sign_scheme_name((hl_sign_scheme)i)), &out), 0);
    ASSERT_EQ(out, i);
  }
}

TEST(custom_standard_header_names) {
  hl_span secrets[] = {HL_SPAN_LIT(SW_SECRET)};
  hl_sign_config cfg = config(HL_SIGN_STANDARD, secrets, 1);
  cfg.header = HL_SPAN_LIT("svix-signature");
  cfg.id_header = HL_SPAN_LIT("svix-id");
  cfg.timestamp_header = HL_SPAN_LIT("svix-timestamp");
  signed_req r;
  sign_with(&cfg, HL_SPAN_LIT(SW_ID), SW_TS, HL_SPAN_LIT(SW_BODY), &r);
  ASSERT_SPAN_EQ(hl_buf_span(&r.buf), "svix-id: " SW_ID
                                      "\r\n"
                                      "svix-timestamp: 1614265330\r\n"
                                      "svix-signature: " SW_SIG "\r\n");
  hl_err err = {{0}};
  ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), 0);
}

TEST(headroom_path_matches_one_call_path) {
  hl_span secrets[] = {HL_SPAN_LIT(SW_SECRET),
                       HL_SPAN_LIT("whsec_b2xkZXN0LXNlY3JldC0wMTIzNDU2Nzg5")};
  hl_span raw[] = {HL_SPAN_LIT("hmac-secret-0123456789"), HL_SPAN_LIT("older-secret-0123456789")};
  const hl_sign_scheme schemes[] = {HL_SIGN_STANDARD, HL_SIGN_HMAC_SHA256, HL_SIGN_STRIPE};
  for (size_t k = 0; k < HL_ARRAY_LEN(schemes); k++) {
    hl_sign_config cfg = config(schemes[k], k == 0 ? secrets : raw, 2);
    hl_signer s;
    init_ok(&s, &cfg);
    for (int iter = 0; iter < 200; iter++) {
      static char mem[HL_SIGN_HEADROOM_BYTES + 2048];
      char id[HL_MESSAGE_ID_BYTES_MAX];
      size_t id_len = 1 + hl_test_rand() % sizeof(id);
      for (size_t i = 0; i < id_len; i++) {
        id[i] = (char)('0' + hl_test_rand() % 75); /* '0'..'z': never '.' */
      }
      size_t body_len = hl_test_rand() % 2048;
      char *body = mem + HL_SIGN_HEADROOM_BYTES;
      for (size_t i = 0; i < body_len; i++) {
        body[i] = (char)hl_test_rand();
      }
      uint64_t ts = hl_test_rand() % 4000000000u;
      signed_req one;
      sign_ok(&s, hl_span_make(id, id_len), ts, hl_span_make(body, body_len), &one);

      hl_sign_state st;
      hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
      int n = hl_signer_prepare(&s, &st, hl_span_make(id, id_len), ts, body, body_len,
                                HL_SIGN_HEADROOM_BYTES, jobs, NULL);
      ASSERT_EQ(n, schemes[k] == HL_SIGN_HMAC_SHA256 ? 1 : 2);
      for (int j = 0; j < n; j++) {
        /* One contiguous span ending exactly at the body's end. */
        ASSERT_TRUE(jobs[j].msg.ptr + jobs[j].msg.len == body + body_len);
        ASSERT_TRUE(jobs[j].msg.ptr >= mem);
      }
      hl_sign_jobs_run(jobs, (size_t)n);
      char out[HL_SIGN_HEADER_LINES_BYTES_MAX];
      hl_buf h;
      hl_buf_init(&h, out, sizeof(out));
      ASSERT_EQ(hl_signer_finish(&s, &st, &h), 0);
      ASSERT_MEM_EQ(h.ptr, h.len, one.buf.ptr, one.buf.len);
      hl_err err = {{0}};
      ASSERT_EQ(verify(&cfg, &one, hl_span_make(body, body_len), ts, 1, &err), 0);
    }
    hl_signer_cleanup(&s);
  }
}

TEST(prepare_rejects_bad_ids_and_small_headroom) {
  hl_span secrets[] = {HL_SPAN_LIT(SW_SECRET)};
  hl_sign_config cfg = config(HL_SIGN_STANDARD, secrets, 1);
  hl_signer s;
  init_ok(&s, &cfg);
  char mem[HL_SIGN_HEADROOM_BYTES + 16] = {0};
  char *body = mem + HL_SIGN_HEADROOM_BYTES;
  hl_sign_state st;
  hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
  hl_err err = {{0}};
  char long_id[HL_MESSAGE_ID_BYTES_MAX + 1];
  memset(long_id, 'a', sizeof(long_id));
  const hl_span bad[] = {HL_SPAN_LIT(""), HL_SPAN_LIT("msg.1"), HL_SPAN_LIT("msg 1"),
                         HL_SPAN_LIT("msg\r\n1"), hl_span_make(long_id, sizeof(long_id))};
  for (size_t i = 0; i < HL_ARRAY_LEN(bad); i++) {
    ASSERT_EQ(hl_signer_prepare(&s, &st, bad[i], 1, body, 4, HL_SIGN_HEADROOM_BYTES, jobs, &err),
              -EINVAL);
    ASSERT_TRUE(strstr(err.msg, "message id:") != NULL);
  }
  /* The longest valid id fits the headroom with the longest timestamp. */
  ASSERT_EQ(hl_signer_prepare(&s, &st, hl_span_make(long_id, HL_MESSAGE_ID_BYTES_MAX), UINT64_MAX,
                              body, 4, HL_SIGN_HEADROOM_BYTES, jobs, &err),
            1);
  ASSERT_EQ(hl_signer_prepare(&s, &st, HL_SPAN_LIT(SW_ID), SW_TS, body, 4, 20, jobs, &err),
            -ENOSPC);
  /* A full header buffer is reported, not truncated silently. */
  ASSERT_EQ(hl_signer_prepare(&s, &st, HL_SPAN_LIT(SW_ID), SW_TS, body, 4, HL_SIGN_HEADROOM_BYTES,
                              jobs, &err),
            1);
  hl_sign_jobs_run(jobs, 1);
  char small[40];
  hl_buf h;
  hl_buf_init(&h, small, sizeof(small));
  ASSERT_EQ(hl_signer_finish(&s, &st, &h), -ENOSPC);
  hl_signer_cleanup(&s);
}

TEST(v1a_ed25519_sign_and_verify) {
  char sk_mem[128], pk_mem[64];
  hl_buf sk, pk;
  hl_buf_init(&sk, sk_mem, sizeof(sk_mem));
  hl_buf_init(&pk, pk_mem, sizeof(pk_mem));
  ASSERT_EQ(hl_sign_generate_keypair(&sk, &pk), 0);
  ASSERT_TRUE(hl_span_starts_with(hl_buf_span(&sk), HL_SPAN_LIT("whsk_")));
  ASSERT_EQ(sk.len, 5 + 88);
  ASSERT_TRUE(hl_span_starts_with(hl_buf_span(&pk), HL_SPAN_LIT("whpk_")));
  ASSERT_EQ(pk.len, 5 + 44);
  char derived_mem[64];
  hl_buf derived;
  hl_buf_init(&derived, derived_mem, sizeof(derived_mem));
  ASSERT_EQ(hl_sign_public_key(hl_buf_span(&sk), &derived, NULL), 0);
  ASSERT_MEM_EQ(derived.ptr, derived.len, pk.ptr, pk.len);

  /* Mixed rotation: an HMAC secret first, then the ed25519 key. */
  hl_span secrets[] = {HL_SPAN_LIT(SW_SECRET), hl_buf_span(&sk)};
  hl_sign_config cfg = config(HL_SIGN_STANDARD, secrets, 2);
  signed_req r;
  sign_with(&cfg, HL_SPAN_LIT(SW_ID), SW_TS, HL_SPAN_LIT(SW_BODY), &r);
  hl_span sigs = r.h[2].value, first;
  ASSERT_TRUE(hl_span_get_until(&sigs, ' ', &first));
  ASSERT_SPAN_EQ(first, SW_SIG);
  ASSERT_TRUE(hl_span_get_lit(&sigs, HL_SPAN_LIT("v1a,")));
  /* Independently: BoringSSL verifies the v1a signature over id.ts.body. */
  uint8_t sig[64], pub[32];
  size_t n = 0;
  ASSERT_EQ(hl_base64_decode(sigs, sig, sizeof(sig), &n), 0);
  ASSERT_EQ(n, 64);
  ASSERT_EQ(hl_base64_decode(hl_span_sub(hl_buf_span(&pk), 5, 44), pub, sizeof(pub), &n), 0);
  const char *content = SW_ID ".1614265330." SW_BODY;
  ASSERT_EQ(ED25519_verify((const uint8_t *)content, strlen(content), sig, pub), 1);

  /* The receiver holds only the public key. */
  hl_span pub_only[] = {hl_buf_span(&pk)};
  hl_sign_config recv = config(HL_SIGN_STANDARD, pub_only, 1);
  hl_err err = {{0}};
  ASSERT_EQ(verify(&recv, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), 0);
  ASSERT_EQ(verify(&recv, &r, HL_SPAN_LIT("{\"test\": 2432232315}"), SW_TS, 300, &err),
            HL_SIGN_EMISMATCH);
  /* A signer holding the secret key verifies too. */
  hl_span sk_only[] = {hl_buf_span(&sk)};
  hl_sign_config own = config(HL_SIGN_STANDARD, sk_only, 1);
  ASSERT_EQ(verify(&own, &r, HL_SPAN_LIT(SW_BODY), SW_TS, 300, &err), 0);

  /* The headroom path makes the same (deterministic) signature. */
  char mem[HL_SIGN_HEADROOM_BYTES + 64];
  char *body = mem + HL_SIGN_HEADROOM_BYTES;
  memcpy(body, SW_BODY, strlen(SW_BODY));
  hl_sign_state st;
  hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
  hl_signer s;
  init_ok(&s, &cfg);
  ASSERT_EQ(hl_signer_prepare(&s, &st, HL_SPAN_LIT(SW_ID), SW_TS, body, strlen(SW_BODY),
                              HL_SIGN_HEADROOM_BYTES, jobs, NULL),
            1);
  hl_sign_jobs_run(jobs, 1);
  char out[HL_SIGN_HEADER_LINES_BYTES_MAX];
  hl_buf h;
  hl_buf_init(&h, out, sizeof(out));
  ASSERT_EQ(hl_signer_finish(&s, &st, &h), 0);
  ASSERT_MEM_EQ(h.ptr, h.len, r.buf.ptr, r.buf.len);
  OPENSSL_cleanse(sk_mem, sizeof(sk_mem));
}

TEST(v1a_seed_form_and_mismatched_halves) {
  uint8_t pub[32], priv[64];
  ED25519_keypair(pub, priv);
  char full_mem[128], seed_mem[128];
  hl_buf full, seed;
  hl_buf_init(&full, full_mem, sizeof(full_mem));
  hl_buf_init(&seed, seed_mem, sizeof(seed_mem));
  hl_buf_put_cstr(&full, "whsk_");
  hl_buf_put_base64(&full, priv, 64);
  hl_buf_put_cstr(&seed, "whsk_");
  hl_buf_put_base64(&seed, priv, 32);
  signed_req a, b;
  hl_signer s;
  hl_span s1[] = {hl_buf_span(&full)};
  hl_sign_config c1 = config(HL_SIGN_STANDARD, s1, 1);
  init_ok(&s, &c1);
  sign_ok(&s, HL_SPAN_LIT("msg_1"), 5, HL_SPAN_LIT("x"), &a);
  hl_signer_cleanup(&s);
  hl_span s2[] = {hl_buf_span(&seed)};
  hl_sign_config c2 = config(HL_SIGN_STANDARD, s2, 1);
  init_ok(&s, &c2);
  sign_ok(&s, HL_SPAN_LIT("msg_1"), 5, HL_SPAN_LIT("x"), &b);
  hl_signer_cleanup(&s);
  ASSERT_MEM_EQ(a.buf.ptr, a.buf.len, b.buf.ptr, b.buf.len);

  priv[40] ^= 1; /* public half no longer belongs to the seed */
  hl_buf_init(&full, full_mem, sizeof(full_mem));
  hl_buf_put_cstr(&full, "whsk_");
  hl_buf_put_base64(&full, priv, 64);
  hl_span s3[] = {hl_buf_span(&full)};
  hl_sign_config c3 = config(HL_SIGN_STANDARD, s3, 1);
  init_fails(&c3, "public half does not belong to its seed");
  OPENSSL_cleanse(priv, sizeof(priv));
}

TEST(generated_secrets_are_valid_and_distinct) {
  const hl_sign_scheme schemes[] = {HL_SIGN_STANDARD, HL_SIGN_HMAC_SHA256, HL_SIGN_STRIPE,
                                    HL_SIGN_STATIC};
  for (size_t k = 0; k < HL_ARRAY_LEN(schemes); k++) {
    char m1[128], m2[128];
    hl_buf a, b;
    hl_buf_init(&a, m1, sizeof(m1));
    hl_buf_init(&b, m2, sizeof(m2));
    ASSERT_EQ(hl_sign_generate_secret(schemes[k], &a), 0);
    ASSERT_EQ(hl_sign_generate_secret(schemes[k], &b), 0);
    ASSERT_FALSE(hl_span_eq(hl_buf_span(&a), hl_buf_span(&b)));
    if (schemes[k] == HL_SIGN_STANDARD) {
      ASSERT_EQ(a.len, 6 + 32);
      ASSERT_TRUE(hl_span_starts_with(hl_buf_span(&a), HL_SPAN_LIT("whsec_")));
    } else {
      uint8_t raw[32];
      size_t n = 0;
      ASSERT_EQ(a.len, 64);
      ASSERT_EQ(hl_hex_decode(hl_buf_span(&a), raw, sizeof(raw), &n), 0);
    }
    hl_span secrets[] = {hl_buf_span(&a)};
    hl_sign_config cfg = config(schemes[k], secrets, 1);
    hl_signer s;
    init_ok(&s, &cfg);
    signed_req r;
    sign_ok(&s, HL_SPAN_LIT("msg_1"), 7, HL_SPAN_LIT("{}"), &r);
    hl_err err = {{0}};
    ASSERT_EQ(verify(&cfg, &r, HL_SPAN_LIT("{}"), 7, 10, &err), 0);
    hl_signer_cleanup(&s);
  }
  char m[8];
  hl_buf small;
  hl_buf_init(&small, m, sizeof(m));
  ASSERT_EQ(hl_sign_generate_secret(HL_SIGN_NONE, &small), -EINVAL);
  ASSERT_EQ(hl_sign_generate_secret(HL_SIGN_STANDARD, &small), -ENOSPC);
}

TEST(fingerprint_is_sha256_prefix) {
  char mem[16];
  hl_buf b;
  hl_buf_init(&b, mem, sizeof(mem));
  hl_sign_fingerprint(HL_SPAN_LIT(SW_SECRET), &b);
  uint8_t d[32];
  SHA256((const uint8_t *)SW_SECRET, strlen(SW_SECRET), d);
  char want[9];
  hl_buf w;
  hl_buf_init(&w, want, sizeof(want));
  hl_buf_put_hex(&w, d, 4);
  ASSERT_STR_EQ(hl_buf_cstr(&b), hl_buf_cstr(&w));
  ASSERT_EQ(b.len, HL_SIGN_FINGERPRINT_CHARS);
  hl_buf_init(&b, mem, sizeof(mem));
  hl_sign_fingerprint(HL_SPAN_LIT("whsec_b2xkZXN0LXNlY3JldC0wMTIzNDU2Nzg5"), &b);
  ASSERT_FALSE(hl_span_eq(hl_buf_span(&b), hl_buf_span(&w)));
}

TEST(verify_only_signer_cannot_sign) {
  hl_span secrets[] = {HL_SPAN_LIT(SW_SECRET)};
  hl_sign_config cfg = config(HL_SIGN_STANDARD, secrets, 1);
  cfg.verify_only = true;
  hl_signer s;
  init_ok(&s, &cfg);
  char mem[256];
  hl_buf h;
  hl_buf_init(&h, mem, sizeof(mem));
  hl_err err = {{0}};
  ASSERT_EQ(hl_signer_sign(&s, HL_SPAN_LIT(SW_ID), SW_TS, HL_SPAN_LIT(SW_BODY), &h, &err), -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "verification only") != NULL);
  hl_signer_cleanup(&s);
}
