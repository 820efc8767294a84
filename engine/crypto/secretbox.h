/* secretbox: secrets at rest, sealed with AES-256-GCM under the master key.
 *
 * Endpoint secrets and auth values are stored in SQLite as text of the form
 *
 *   hlbox1:<base64(version | nonce | ciphertext | tag)>
 *
 * with a 1-byte version (1), a random 12-byte nonce per value and a 16-byte
 * tag. The caller's associated data (e.g. "<endpoint id>\0<field name>") and
 * the version byte are authenticated, so a sealed value copied into another
 * field or endpoint, altered, truncated, or opened with another master key
 * fails with an error instead of yielding garbage. Random 96-bit nonces are
 * safe for far more values than an engine ever seals under one key.
 *
 * The master key comes from HOOKLINE_MASTER_KEY (64 hex characters, or the
 * standard base64 of 32 bytes: 44 characters with one '=') or else from
 * <data_dir>/master.key (the same text, one optional trailing newline),
 * created with mode 0600 on first use. This module owns that file; it never
 * logs or prints a key, and wipes key bytes after use. */
#ifndef HL_CRYPTO_SECRETBOX_H
#define HL_CRYPTO_SECRETBOX_H

#include <openssl/aead.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"

#define HL_SECRETBOX_KEY_BYTES 32
#define HL_SECRETBOX_NONCE_BYTES 12
#define HL_SECRETBOX_TAG_BYTES 16
#define HL_SECRETBOX_VERSION 1
#define HL_SECRETBOX_PREFIX "hlbox1:"
#define HL_SECRETBOX_ENV "HOOKLINE_MASTER_KEY"
#define HL_SECRETBOX_KEY_FILE "master.key"
/* Bytes of binary overhead around the ciphertext. */
#define HL_SECRETBOX_OVERHEAD_BYTES (1 + HL_SECRETBOX_NONCE_BYTES + HL_SECRETBOX_TAG_BYTES)
/* HL_SECRETBOX_TEXT_BYTES(n): length of the sealed text of n plaintext bytes. */
#define HL_SECRETBOX_TEXT_BYTES(n) \
  (sizeof(HL_SECRETBOX_PREFIX) - 1 + ((n) + HL_SECRETBOX_OVERHEAD_BYTES + 2) / 3 * 4)

/* hl_secretbox: an initialised AES-256-GCM key. Immutable after init, so
 * threads may share it. */
typedef struct hl_secretbox {
  EVP_AEAD_CTX aead;
  bool ready;
} hl_secretbox;

/* hl_secretbox_init keys |b| with |key|; returns 0 or -EINVAL. The caller
 * wipes its copy of |key|. */
int hl_secretbox_init(hl_secretbox *b, const uint8_t key[HL_SECRETBOX_KEY_BYTES]);

/* hl_secretbox_load_key keys |b| with the master key: HOOKLINE_MASTER_KEY if
 * set and non-empty, else <data_dir>/master.key, which is created (0600,
 * published atomically so concurrent starts agree on one key) if missing.
 * Refuses a key file that group or others can access, a symlink, or text in
 * neither format. Returns 0 or a negative errno with |err| saying what to do
 * (never the key). */
int hl_secretbox_load_key(hl_secretbox *b, const char *data_dir, hl_err *err);

/* hl_secretbox_parse_key decodes master-key text (64 hex characters or the
 * base64 of 32 bytes); returns 0 or -EINVAL. */
int hl_secretbox_parse_key(hl_span text, uint8_t key[HL_SECRETBOX_KEY_BYTES]);

/* hl_secretbox_cleanup wipes the key schedule. Safe on a zeroed box. */
void hl_secretbox_cleanup(hl_secretbox *b);

/* hl_secretbox_seal appends the sealed text of |plaintext| (at most
 * HL_SECRETBOX_PLAINTEXT_BYTES_MAX bytes) bound to |ad| (at most
 * HL_SECRETBOX_AD_BYTES_MAX bytes) to |out|. Returns 0, -EMSGSIZE if an
 * input is too long, or -ENOSPC if |out| is full. */
int hl_secretbox_seal(const hl_secretbox *b, hl_span plaintext, hl_span ad, hl_buf *out);

/* hl_secretbox_open appends the plaintext of sealed |text| to |out| if it
 * authenticates under the key and |ad|. Returns 0; -EINVAL for text that is
 * not a well-formed hlbox1 value (wrong prefix, bad base64, truncated,
 * unknown version); -EBADMSG if authentication fails (wrong master key,
 * wrong field, or altered); -ENOSPC if |out| is full. On failure nothing is
 * appended. The caller wipes the plaintext after use. */
int hl_secretbox_open(const hl_secretbox *b, hl_span text, hl_span ad, hl_buf *out, hl_err *err);

/* hl_secretbox_is_sealed says whether |text| looks like a sealed value. */
bool hl_secretbox_is_sealed(hl_span text);

#endif
