/* Fuzz target: arbitrary bytes as the server's side of a TLS connection,
 * fed to an io/tls client in pieces.
 *
 * The first input byte picks the piece sizes; the rest is "server
 * ciphertext". After every piece the target drives the client the way the
 * connection layer does (handshake, then read until the input is used up)
 * and throws away what the client wants to send; at the end it reports end
 * of stream. Properties, beyond "no crash, no leak, no over-read":
 *   - every call ends in need-more (WANT_READ, with every fed byte taken), a
 *     clean close_notify, or FAILED with a classified failure whose
 *     description starts with its stable name;
 *   - a failure is never tls_internal (these inputs are small);
 *   - once failed, the connection stays failed and ignores more input;
 *   - after end of stream nothing can ask for more input.
 * A fuzzed server cannot complete the key exchange (the ClientHello random
 * is fresh each run), so the target exercises the record layer, the
 * plaintext handshake messages (ServerHello, HelloRetryRequest, TLS 1.2
 * Certificate / ServerKeyExchange) and alerts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "io/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hl_tls_ctx *fuzz_ctx(void) {
  static hl_tls_ctx *ctx;
  if (ctx == NULL) {
    hl_tls_client_options o = {.no_system_cas = true};
    hl_err err;
    HL_ASSERT(hl_tls_ctx_client_new(&o, &ctx, &err) == 0);
  }
  return ctx;
}

static void check_failed(const hl_tls *t) {
  hl_tls_fail f = hl_tls_failure(t);
  HL_ASSERT(f == HL_TLS_FAIL_HANDSHAKE || f == HL_TLS_FAIL_CERTIFICATE ||
            f == HL_TLS_FAIL_ALERT || f == HL_TLS_FAIL_CLOSED);
  hl_err err;
  hl_tls_describe(t, &err);
  const char *name = hl_tls_fail_name(f);
  HL_ASSERT(strncmp(err.msg, name, strlen(name)) == 0);
}

/* drive returns the client's state after taking the fed bytes. */
static int drive(hl_tls *t) {
  char plain[4096];
  int r = hl_tls_handshake(t);
  while (r == 0) {
    r = hl_tls_read(t, plain, sizeof(plain));
    if (r > 0) {
      r = 0;
    } else if (r == 0) {
      HL_ASSERT(hl_tls_closed_cleanly(t));
      return 0;
    }
  }
  HL_ASSERT(r == HL_TLS_WANT_READ || r == HL_TLS_FAILED);
  if (r == HL_TLS_WANT_READ) {
    HL_ASSERT(hl_tls_in_pending(t) == 0);
  } else {
    check_failed(t);
  }
  hl_tls_out_sent(t, hl_tls_out(t).len); /* "sent" */
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hl_tls t;
  hl_err err;
  HL_ASSERT(hl_tls_client_init(&t, fuzz_ctx(), HL_SPAN_LIT("localhost"), NULL, &err) == 0);
  HL_ASSERT(drive(&t) == HL_TLS_WANT_READ); /* ClientHello out */
  uint8_t split = size > 0 ? data[0] : 0;
  size_t off = size > 0 ? 1 : 0;
  int r = HL_TLS_WANT_READ;
  while (off < size) {
    size_t piece = split == 0 ? size - off : 1 + (split + off) % (4u * split);
    piece = piece < size - off ? piece : size - off;
    hl_tls_feed(&t, data + off, piece);
    off += piece;
    r = drive(&t);
    if (r != HL_TLS_WANT_READ) {
      break;
    }
  }
  if (r == HL_TLS_FAILED) {
    hl_tls_feed(&t, data, size); /* ignored */
    HL_ASSERT(hl_tls_in_pending(&t) == 0);
    HL_ASSERT(drive(&t) == HL_TLS_FAILED);
  }
  hl_tls_feed_eof(&t);
  r = drive(&t);
  HL_ASSERT(r == HL_TLS_FAILED || (r == 0 && hl_tls_closed_cleanly(&t)));
  hl_tls_cleanup(&t);
  return 0;
}
