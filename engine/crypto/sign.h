/* sign: the webhook signing schemes, their verification, and secrets.
 *
 * An endpoint's signing configuration becomes one hl_signer when the
 * endpoint is loaded: secrets are validated and turned into derived keys
 * (HMAC pads, ed25519 keys) once, so signing a delivery costs only the MACs.
 * This module owns the wire formats of the signature headers; it never logs,
 * never allocates on the delivery path, and never writes a secret into an
 * error message (errors name the field: "secrets[1]: ...").
 *
 * Schemes (hl_sign_scheme, names as in configuration):
 *   standard     Standard Webhooks. Headers webhook-id, webhook-timestamp
 *                (Unix seconds) and webhook-signature; signed content is
 *                "<id>.<timestamp>.<body>". Secrets "whsec_<base64>" (the
 *                decoded bytes are the HMAC key, signature "v1,<base64>") or
 *                "whsk_<base64>" (ed25519, signature "v1a,<base64>"). The
 *                whsk_ payload is the 64-byte private key as BoringSSL and
 *                the reference implementation (Svix, ed25519-compact KeyPair)
 *                hold it: 32-byte seed then 32-byte public key; a bare 32-byte
 *                seed is also accepted. Verification also takes
 *                "whpk_<base64 of the 32-byte public key>". One signature per
 *                secret, space-separated, newest first.
 *   hmac-sha256  "<prefix><hex HMAC of the body>" in one header; defaults
 *                X-Webhook-Signature and "sha256=" (GitHub's
 *                X-Hub-Signature-256, Wilow's X-Wilow-Signature). The secret's
 *                raw bytes are the key. Receivers compare one value, so only
 *                the newest secret signs; older ones still verify.
 *   stripe       Stripe-Signature: "t=<ts>,v1=<hex>[,v1=<hex>...]" over
 *                "<ts>.<body>", one v1 per secret. The secret's raw bytes are
 *                the key (Stripe's own whsec_ strings are used as they are).
 *   static       The newest secret itself in a header (default X-Secret-Key).
 *   none         No header.
 * HMAC secrets (decoded whsec_, raw hmac-sha256 and stripe secrets) and static
 * secrets must be at least HL_SIGN_SECRET_BYTES_MIN (16) bytes long.
 *
 * Signing a delivery is two steps so that the engine can batch the HMAC work
 * of many deliveries through the multi-buffer signer (crypto/hmac_mb):
 *
 *   char *body = buf + HL_SIGN_HEADROOM_BYTES;       // render the body here
 *   hl_sign_state st;                                  // must not move until finish
 *   hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
 *   int n = hl_signer_prepare(&signer, &st, id, ts_s, body, body_len,
 *                             HL_SIGN_HEADROOM_BYTES, jobs, &err);
 *   ... collect the n jobs of many deliveries, compute them all (hmac_mb, or
 *       hl_sign_jobs_run), each job writes its 32-byte MAC into its state ...
 *   hl_signer_finish(&signer, &st, &headers);         // "Name: value\r\n" lines
 *
 * hl_signer_prepare writes the signed-content prefix ("<id>.<ts>." or
 * "<ts>.") into the headroom right before the body, so every job's message
 * is one contiguous span and the body is never copied; the headroom bytes are
 * scratch, not part of what is sent. ed25519 signatures are made inside
 * prepare; static and none produce no jobs. hl_signer_sign does both steps at
 * once for tools and tests, with a const body and no headroom. */
#ifndef HL_CRYPTO_SIGN_H
#define HL_CRYPTO_SIGN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"
#include "crypto/hmac.h"

typedef enum hl_sign_scheme {
  HL_SIGN_NONE = 0,
  HL_SIGN_STANDARD = 1,
  HL_SIGN_HMAC_SHA256 = 2,
  HL_SIGN_STRIPE = 3,
  HL_SIGN_STATIC = 4,
} hl_sign_scheme;

/* Largest signature one secret produces (ed25519; HMAC uses 32 bytes). */
#define HL_SIGN_SIG_BYTES_MAX 64
/* hl_sign_fingerprint's length in characters. */
#define HL_SIGN_FINGERPRINT_CHARS 8

/* Verification results besides 0 (valid) and -EINVAL (bad configuration). */
#define HL_SIGN_ENOHEADER (-ENODATA) /* a header the scheme needs is missing */
#define HL_SIGN_EMALFORMED (-EPROTO) /* a header is present but unparseable */
#define HL_SIGN_ESTALE (-ETIME)      /* timestamp outside the tolerance */
#define HL_SIGN_EMISMATCH (-EBADMSG) /* no signature matched any secret */

/* hl_sign_config describes one endpoint's signing. Spans are read during
 * hl_signer_init only. A span with a NULL ptr means "the scheme's default";
 * for |prefix| a non-NULL empty span means "no prefix". */
typedef struct hl_sign_config {
  hl_sign_scheme scheme;
  hl_span header;           /* signature header (static: the secret's header) */
  hl_span prefix;           /* hmac-sha256 only; default "sha256=" */
  hl_span id_header;        /* standard only; default "webhook-id" */
  hl_span timestamp_header; /* standard only; default "webhook-timestamp" */
  const hl_span *secrets;   /* newest first, 1..HL_SECRETS_PER_ENDPOINT_MAX */
  size_t secrets_n;
  bool verify_only; /* accept whpk_ public keys; such a signer only verifies */
} hl_sign_config;

/* One derived key; the signer's internals, shown so that hl_signer can live
 * in an endpoint struct without allocation. */
typedef struct hl_sign_key {
  uint8_t kind;
  union {
    hl_hmac_key hmac;
    uint8_t ed25519_private[64]; /* seed | public key */
    uint8_t ed25519_public[32];
    uint8_t static_sha256[32];
  } u;
} hl_sign_key;

/* hl_signer: an endpoint's validated signing configuration and derived keys.
 * Immutable after init, so worker threads may share it. Holds secrets: wipe
 * with hl_signer_cleanup, never print. */
typedef struct hl_signer {
  hl_sign_scheme scheme;
  bool verify_only;
  uint8_t keys_n;
  uint8_t header_len, prefix_len, id_header_len, timestamp_header_len;
  uint16_t static_len;
  hl_sign_key keys[HL_SECRETS_PER_ENDPOINT_MAX];
  char header[HL_SIGN_HEADER_NAME_BYTES_MAX];
  char prefix[HL_SIGN_PREFIX_BYTES_MAX];
  char id_header[HL_SIGN_HEADER_NAME_BYTES_MAX];
  char timestamp_header[HL_SIGN_HEADER_NAME_BYTES_MAX];
  char static_value[HL_SIGN_SECRET_BYTES_MAX]; /* static: the newest secret */
} hl_signer;

/* hl_sign_job: one HMAC to compute: out = HMAC(key, msg). |out| points at
 * HL_HMAC_SHA256_BYTES inside the hl_sign_state that prepare filled. */
typedef struct hl_sign_job {
  const hl_hmac_key *key;
  hl_span msg;
  uint8_t *out;
} hl_sign_job;

/* hl_sign_state: one delivery between prepare and finish. Jobs point into
 * it, so it must stay where it is until the jobs are done. */
typedef struct hl_sign_state {
  hl_span id; /* standard: points at the copy in the headroom prefix */
  uint64_t timestamp_s;
  char timestamp_text[20]; /* decimal, formatted once for prefix and header */
  uint8_t timestamp_len;
  hl_span msg; /* the signed content: prefix + body */
  uint8_t sigs_n;
  uint8_t sig[HL_SECRETS_PER_ENDPOINT_MAX][HL_SIGN_SIG_BYTES_MAX];
} hl_sign_state;

/* A received header, for verification. */
typedef struct hl_sign_header {
  hl_span name;
  hl_span value;
} hl_sign_header;

/* hl_sign_scheme_parse maps "standard", "hmac-sha256", "stripe", "static"
 * or "none" to a scheme; returns 0 or -EINVAL. */
int hl_sign_scheme_parse(hl_span name, hl_sign_scheme *out);
const char *hl_sign_scheme_name(hl_sign_scheme scheme);

/* hl_sign_default_header returns the scheme's default signature header
 * ("webhook-signature", "X-Webhook-Signature", "Stripe-Signature",
 * "X-Secret-Key"; "" for none). */
const char *hl_sign_default_header(hl_sign_scheme scheme);

/* hl_signer_init validates |cfg| and derives the keys. Returns 0, or -EINVAL
 * with |err| naming the field (header, prefix, id_header, timestamp_header,
 * secrets, secrets[i]) and the problem, never a secret's value. On failure
 * |s| is left wiped; hl_signer_cleanup is safe either way. */
int hl_signer_init(hl_signer *s, const hl_sign_config *cfg, hl_err *err);

/* hl_signer_cleanup wipes the key material. */
void hl_signer_cleanup(hl_signer *s);

/* hl_signer_prepare starts signing one delivery. |body| (|body_len| bytes)
 * must have |headroom| writable bytes in front of it (HL_SIGN_HEADROOM_BYTES
 * always suffices), where the signed-content prefix is written. Fills |st|
 * and up to HL_SECRETS_PER_ENDPOINT_MAX |jobs|; returns the number of jobs
 * (0 for static, none and ed25519-only), or -EINVAL if |id| cannot be a
 * Standard Webhooks id (empty, longer than HL_MESSAGE_ID_BYTES_MAX, or not
 * visible ASCII without '.'), or -ENOSPC if |headroom| is too small. A
 * verify-only signer returns -EINVAL. */
int hl_signer_prepare(const hl_signer *s, hl_sign_state *st, hl_span id, uint64_t timestamp_s,
                      char *body, size_t body_len, size_t headroom,
                      hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX], hl_err *err);

/* hl_sign_jobs_run computes |n| jobs one by one with hl_hmac_sha256: the
 * portable path, and the reference the batch signer must agree with. */
void hl_sign_jobs_run(const hl_sign_job *jobs, size_t n);

/* hl_signer_finish appends the scheme's header lines ("Name: value\r\n",
 * at most HL_SIGN_HEADER_LINES_BYTES_MAX bytes) to |headers| once the jobs
 * of |st| are done. Returns 0, or -ENOSPC if |headers| is (or became) full. */
int hl_signer_finish(const hl_signer *s, const hl_sign_state *st, hl_buf *headers);

/* hl_signer_sign is prepare + run + finish for a const |body| without
 * headroom (the prefix is hashed as a separate part). It allocates a copy
 * of the signed content for ed25519 keys only; not for the delivery path. */
int hl_signer_sign(const hl_signer *s, hl_span id, uint64_t timestamp_s, hl_span body,
                   hl_buf *headers, hl_err *err);

/* hl_signer_verify checks a received request. |headers| are matched by
 * name, case-insensitively; a needed header present twice is malformed.
 * |tolerance_s| bounds |now_s - timestamp| in both directions (0 = no check;
 * only standard and stripe carry a timestamp). Every candidate signature is
 * compared against every secret in constant time (CRYPTO_memcmp, or ed25519
 * verification), and any match is accepted (rotation). Returns 0 if valid,
 * HL_SIGN_ENOHEADER, HL_SIGN_EMALFORMED, HL_SIGN_ESTALE or
 * HL_SIGN_EMISMATCH, with a sentence in |err|. Scheme none is always valid.
 * Allocates a copy of the signed content only to check v1a signatures. */
int hl_signer_verify(const hl_signer *s, const hl_sign_header *headers, size_t headers_n,
                     hl_span body, uint64_t now_s, uint64_t tolerance_s, hl_err *err);

/* hl_sign_verify is hl_signer_init (verify_only forced on) + verify +
 * cleanup, for `hookline verify` and tests; -EINVAL for a bad |cfg|. */
int hl_sign_verify(const hl_sign_config *cfg, const hl_sign_header *headers, size_t headers_n,
                   hl_span body, uint64_t now_s, uint64_t tolerance_s, hl_err *err);

/* hl_sign_generate_secret appends a new random secret for |scheme|:
 * standard: "whsec_" + base64 of 24 random bytes (the spec's recommended
 * size); hmac-sha256, stripe and static: 64 lower-case hex characters (32
 * random bytes; header-safe, and the key is those 64 ASCII bytes). Returns 0,
 * -EINVAL for none, -ENOSPC if |out| is full. Wipe |out| after use. */
int hl_sign_generate_secret(hl_sign_scheme scheme, hl_buf *out);

/* hl_sign_generate_keypair appends a new ed25519 pair for standard v1a:
 * "whsk_" + base64(64-byte private key) to |secret_key| and "whpk_" +
 * base64(32-byte public key) to |public_key|. Returns 0 or -ENOSPC. */
int hl_sign_generate_keypair(hl_buf *secret_key, hl_buf *public_key);

/* hl_sign_public_key appends the "whpk_" public key of a "whsk_" secret key
 * (for showing to receivers). Returns 0, -EINVAL (err says why) or -ENOSPC. */
int hl_sign_public_key(hl_span secret_key, hl_buf *public_key, hl_err *err);

/* hl_sign_fingerprint appends HL_SIGN_FINGERPRINT_CHARS lower-case hex
 * characters: the start of SHA-256(secret text), so a user can tell secrets
 * apart (`printf %s "$secret" | sha256sum | cut -c1-8`) without seeing one. */
void hl_sign_fingerprint(hl_span secret, hl_buf *out);

#endif
