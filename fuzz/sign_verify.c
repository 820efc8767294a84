/* Fuzz target: signature verification over hostile headers and bodies.
 *
 * Input: byte 0 picks the scheme (standard HMAC, standard HMAC + ed25519,
 * hmac-sha256, stripe, static, none) and byte 1 the tolerance; the rest is
 * split at its first three NUL bytes into the webhook-id value, the
 * timestamp value, the signature header value, and the body.
 * Properties:
 *   - verify never crashes and returns 0 or one of the four documented
 *     verification errors, whatever the headers;
 *   - a request signed by the signer (one-call path) always verifies, and
 *     the two-step headroom path writes exactly the same header lines;
 *   - flipping any body byte (every byte for HMAC schemes, a few for
 *     ed25519, which is slow) never verifies, and neither does a shorter
 *     body. */
#include <openssl/curve25519.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_BYTES_MAX 4096
#define NOW_S 1700000000u

/* Fixed secrets: the Standard Webhooks vector's, a raw one, and an ed25519
 * key pair from a fixed seed (whsk_ of seed 0x01.. 0x20 and its public key
 * are derived at start). */
static const char *const raw_secret = "fuzz-secret-0123456789abcdef";
static const char *const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

typedef struct scheme_case {
  hl_sign_scheme scheme;
  bool with_ed25519;
} scheme_case;

static const scheme_case cases[] = {
    {HL_SIGN_STANDARD, false}, {HL_SIGN_STANDARD, true}, {HL_SIGN_HMAC_SHA256, false},
    {HL_SIGN_STRIPE, false},   {HL_SIGN_STATIC, false},  {HL_SIGN_NONE, false},
};

static hl_span whsk_text(char *mem, size_t cap) {
  uint8_t seed[32], pub[32], priv[64];
  for (int i = 0; i < 32; i++) {
    seed[i] = (uint8_t)(i + 1);
  }
  ED25519_keypair_from_seed(pub, priv, seed);
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  hl_buf_put_cstr(&b, "whsk_");
  hl_buf_put_base64(&b, priv, sizeof(priv));
  return hl_buf_span(&b);
}

static void build(hl_signer *s, const scheme_case *c) {
  char whsk_mem[128];
  hl_span secrets[2];
  size_t n = 0;
  if (c->scheme == HL_SIGN_STANDARD) {
    secrets[n++] = hl_span_cstr(whsec);
    if (c->with_ed25519) {
      secrets[n++] = whsk_text(whsk_mem, sizeof(whsk_mem));
    }
  } else if (c->scheme != HL_SIGN_NONE) {
    secrets[n++] = hl_span_cstr(raw_secret);
  }
  hl_sign_config cfg = {.scheme = c->scheme, .secrets = secrets, .secrets_n = n};
  if (hl_signer_init(s, &cfg, NULL) != 0) {
    abort();
  }
}

static bool known_result(int rc) {
  return rc == 0 || rc == HL_SIGN_ENOHEADER || rc == HL_SIGN_EMALFORMED || rc == HL_SIGN_ESTALE ||
         rc == HL_SIGN_EMISMATCH;
}

/* id_ok: the Standard Webhooks id rule, restated independently. */
static bool id_ok(hl_span id) {
  if (id.len < 1 || id.len > HL_MESSAGE_ID_BYTES_MAX) {
    return false;
  }
  for (size_t i = 0; i < id.len; i++) {
    if (id.ptr[i] <= ' ' || id.ptr[i] > '~' || id.ptr[i] == '.') {
      return false;
    }
  }
  return true;
}

/* next_field splits off bytes up to the next NUL (or all that is left). */
static hl_span next_field(hl_span *rest) {
  hl_span f;
  if (!hl_span_get_until(rest, '\0', &f)) {
    f = *rest;
    *rest = HL_SPAN_NULL;
  }
  return f;
}

static size_t parse_lines(hl_span text, hl_sign_header *h, size_t cap) {
  size_t n = 0;
  hl_span line, name;
  while (n < cap && hl_span_get_until(&text, '\n', &line)) {
    line.len--; /* "\r" */
    if (!hl_span_get_until(&line, ':', &name) || !hl_span_skip(&line, 1)) {
      abort();
    }
    h[n++] = (hl_sign_header){name, line};
  }
  return n;
}

/* sign_both signs with the one-call path and checks the headroom path
 * writes the same lines; returns the lines in |out|. */
static void sign_both(const hl_signer *s, hl_span id, uint64_t ts, hl_span body, hl_buf *out) {
  if (hl_signer_sign(s, id, ts, body, out, NULL) != 0) {
    abort();
  }
  static char mem[HL_SIGN_HEADROOM_BYTES + BODY_BYTES_MAX];
  char *b = mem + HL_SIGN_HEADROOM_BYTES;
  if (body.len > 0) {
    memcpy(b, body.ptr, body.len);
  }
  hl_sign_state st;
  hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
  int n = hl_signer_prepare(s, &st, id, ts, b, body.len, HL_SIGN_HEADROOM_BYTES, jobs, NULL);
  if (n < 0) {
    abort();
  }
  hl_sign_jobs_run(jobs, (size_t)n);
  char lines[HL_SIGN_HEADER_LINES_BYTES_MAX];
  hl_buf h;
  hl_buf_init(&h, lines, sizeof(lines));
  if (hl_signer_finish(s, &st, &h) != 0 || !hl_span_eq(hl_buf_span(&h), hl_buf_span(out))) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > BODY_BYTES_MAX + 512) {
    return 0;
  }
  const scheme_case *c = &cases[data[0] % (sizeof(cases) / sizeof(cases[0]))];
  uint64_t tolerance_s = data[1] * 10u;
  hl_span rest = hl_span_make(data + 2, size - 2);
  hl_span id = next_field(&rest);
  hl_span ts = next_field(&rest);
  hl_span sig = next_field(&rest);
  hl_span body = rest;
  if (body.len > BODY_BYTES_MAX) {
    return 0;
  }
  hl_signer s;
  build(&s, c);

  /* 1. Hostile headers. */
  hl_sign_header hostile[] = {
      {HL_SPAN_LIT("webhook-id"), id},
      {HL_SPAN_LIT("webhook-timestamp"), ts},
      {hl_span_cstr(c->scheme == HL_SIGN_NONE ? "X-None" : hl_sign_default_header(c->scheme)),
       sig}};
  int rc = hl_signer_verify(&s, hostile, 3, body, NOW_S, tolerance_s, NULL);
  if (!known_result(rc)) {
    abort();
  }

  /* 2. What the signer makes verifies. Ids the signer refuses are replaced. */
  uint64_t when = NOW_S;
  if (!hl_span_parse_u64(ts, 9999999999u, &when)) {
    when = NOW_S + data[1];
  }
  char lines_mem[HL_SIGN_HEADER_LINES_BYTES_MAX];
  hl_buf lines;
  hl_buf_init(&lines, lines_mem, sizeof(lines_mem));
  hl_span use_id = id;
  if (c->scheme == HL_SIGN_STANDARD && !id_ok(id)) {
    if (hl_signer_sign(&s, id, when, body, &lines, NULL) != -EINVAL || lines.len != 0) {
      abort();
    }
    use_id = HL_SPAN_LIT("msg_fuzz");
  }
  sign_both(&s, use_id, when, body, &lines);
  hl_sign_header good[4];
  size_t n = parse_lines(hl_buf_span(&lines), good, 4);
  if (hl_signer_verify(&s, good, n, body, when, tolerance_s, NULL) != 0) {
    abort();
  }

  /* 3. Any changed body byte, or a shorter body, never verifies. */
  if (c->scheme != HL_SIGN_STATIC && c->scheme != HL_SIGN_NONE && body.len > 0) {
    static uint8_t mut[BODY_BYTES_MAX];
    memcpy(mut, body.ptr, body.len);
    size_t step = c->with_ed25519 ? body.len / 4 + 1 : 1;
    for (size_t i = 0; i < body.len; i += step) {
      mut[i] ^= (uint8_t)(data[1] | 1);
      if (hl_signer_verify(&s, good, n, hl_span_make(mut, body.len), when, 0, NULL) !=
          HL_SIGN_EMISMATCH) {
        abort();
      }
      mut[i] ^= (uint8_t)(data[1] | 1);
    }
    if (hl_signer_verify(&s, good, n, hl_span_make(mut, body.len - 1), when, 0, NULL) !=
        HL_SIGN_EMISMATCH) {
      abort();
    }
  }
  hl_signer_cleanup(&s);
  return 0;
}
