/* tls: TLS (BoringSSL) as a state machine over memory, client and server.
 *
 * No socket I/O happens here: the connection layer moves ciphertext through
 * io_uring and hands it to this module, and sends what this module produces.
 * An hl_tls is one connection's TLS state, embedded in the caller's
 * connection struct (it must not move between init and cleanup: BoringSSL
 * keeps a pointer to it). An hl_tls_ctx holds what connections share: the
 * BoringSSL SSL_CTX, the trusted CAs, the server's certificate and key.
 * This module owns certificate and host name verification, ALPN, session
 * resumption and the classification of TLS failures; it knows nothing of
 * io_uring, sockets, timers or HTTP.
 *
 * ---- Bytes in, bytes out -------------------------------------------------
 * Ciphertext IN: hl_tls_feed(t, data, len) lends the module the caller's
 * received bytes (e.g. a provided buffer straight from a multishot receive).
 * Nothing is copied then; BoringSSL takes bytes from that span as it needs
 * them during the following hl_tls_handshake / hl_tls_read / hl_tls_write
 * calls (a partial record is copied into BoringSSL's own buffer). Once a
 * call returns HL_TLS_WANT_READ, every fed byte has been taken and the
 * caller may reuse or return its buffer (hl_tls_in_pending() == 0); the
 * same holds after HL_TLS_FAILED and after close_notify (read returning 0),
 * when whatever was left is dropped.
 *
 * Ciphertext OUT: every call may produce ciphertext (handshake flights,
 * records, alerts, close_notify). It accumulates in the connection's output
 * buffer; hl_tls_out(t) gives {ptr, len} of what is pending. The caller
 * sends it and reports what the kernel took with hl_tls_out_sent(t, n).
 * The span stays valid and unmoved until hl_tls_out_sent or hl_tls_cleanup;
 * new ciphertext is appended after it, so the caller keeps exactly one send
 * in flight and sends what was appended after that send completes. The
 * buffer (HL_TLS_OUT_BYTES) is allocated when ciphertext is first produced
 * and freed as soon as everything has been sent, so an idle connection
 * holds none.
 *
 * Plaintext: hl_tls_write encrypts from the caller's bytes (partial writes:
 * it takes what fits in the output buffer) and hl_tls_read decrypts into the
 * caller's buffer. Both drive the handshake first if it is not finished, so
 * a server may simply start reading.
 *
 * ---- Results ---------------------------------------------------------------
 * hl_tls_handshake / hl_tls_read / hl_tls_write / hl_tls_shutdown return
 *   >= 0               success (bytes for read/write; 0 from read = the peer
 *                      sent close_notify, a clean end of the stream)
 *   HL_TLS_WANT_READ   needs more ciphertext from the peer: send what is
 *                      pending, then wait for the socket and hl_tls_feed.
 *   HL_TLS_WANT_WRITE  the output buffer is full: send what is pending and
 *                      call again after hl_tls_out_sent.
 *   HL_TLS_FAILED      the connection is dead. hl_tls_failure() classifies
 *                      it and hl_tls_describe() explains it. Send what is
 *                      pending (it may hold an alert for the peer), then
 *                      close. Every later call returns HL_TLS_FAILED again.
 *
 * ---- The caller's duties (the connection layer) ---------------------------
 *   1. After EVERY call into this module, if hl_tls_out(t).len > 0 and no
 *      send is in flight, send hl_tls_out(t); one send in flight at a time.
 *   2. On a send completion with n > 0 bytes: hl_tls_out_sent(t, n); send
 *      again if more is pending; if the last write or handshake call
 *      returned HL_TLS_WANT_WRITE, call it again.
 *   3. On received bytes: hl_tls_feed(t, buf, n), then drive: while the
 *      handshake is not done, hl_tls_handshake; then hl_tls_read until it
 *      returns HL_TLS_WANT_READ (or 0, or HL_TLS_FAILED); then return the
 *      buffer. If you must stop reading earlier, keep the buffer until
 *      hl_tls_in_pending(t) is 0.
 *   4. On end of file from the socket (recv returned 0, or a reset):
 *      hl_tls_feed_eof(t) and read/handshake once more: you get 0 (the peer
 *      had sent close_notify) or HL_TLS_FAILED (tls_closed, truncated; or
 *      tls_handshake when the handshake was not finished).
 *   5. Handshake timeout: arm your own timer (HL_TLS_HANDSHAKE_TIMEOUT_MS)
 *      before the first hl_tls_handshake and cancel it when
 *      hl_tls_handshake_done(t); this module never looks at a clock.
 *   6. To close politely: hl_tls_shutdown(t) queues close_notify; send it,
 *      then close the socket (no need to wait for the peer's).
 *   7. Call hl_tls_cleanup(t) once the last send that used hl_tls_out's
 *      memory has completed (it frees the output buffer).
 *   8. Client connections that may resume: give hl_tls_client_init the
 *      origin's hl_tls_sessions, and keep it alive while the connection
 *      lives (or hl_tls_set_sessions(t, NULL) first).
 *
 * ---- Failures (hl_tls_fail), with their stable names for the attempt log --
 *   tls_certificate  the server's certificate was refused; describe gives
 *                    the verifier's reason ("certificate has expired",
 *                    "unable to get local issuer certificate", "hostname
 *                    mismatch", "IP address mismatch", ...).
 *   tls_handshake    the handshake failed: a fatal alert from the peer (its
 *                    description, e.g. "protocol version"), a protocol
 *                    error we detected (e.g. "wrong version number" for
 *                    plain HTTP bytes), no shared version or cipher, or the
 *                    peer closing before the handshake finished.
 *   tls_alert        after the handshake: a fatal alert from the peer, or a
 *                    record we could not decrypt or parse.
 *   tls_closed       the stream ended without close_notify (truncation);
 *                    hl_tls_closed_cleanly() tells the two endings apart
 *                    (read returning 0 is the clean one).
 *   tls_internal     out of memory or a BoringSSL internal error.
 *
 * ---- Session resumption (client) ------------------------------------------
 * The pool keeps one hl_tls_sessions per origin. hl_tls_client_init offers
 * the newest stored session (a TLS 1.3 ticket is single-use, so it leaves
 * the store; a TLS 1.2 session stays). New sessions are stored as they
 * arrive: for TLS 1.2 at the end of the handshake, for TLS 1.3 when the
 * server's NewSessionTicket messages are read, which happens after the
 * handshake, inside hl_tls_read (so a connection that completes one
 * request/response exchange has stored its tickets). Nothing to call.
 *
 * ---- Threads ----------------------------------------------------------------
 * An hl_tls_ctx is immutable after creation and may be shared by threads
 * (BoringSSL reference-counts and locks what it shares), but the usual
 * arrangement is one client context per worker loop. An hl_tls and an
 * hl_tls_sessions belong to one thread. Free a context only after every
 * hl_tls and hl_tls_sessions that used it has been cleaned up. */
#ifndef HL_IO_TLS_H
#define HL_IO_TLS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"

struct ssl_st;
struct ssl_session_st;

/* Results besides success (see the header comment). */
#define HL_TLS_WANT_READ (-EAGAIN)
#define HL_TLS_WANT_WRITE (-ENOBUFS)
#define HL_TLS_FAILED (-EPROTO)

/* Protocol versions, for hl_tls_server_options (the wire values). */
#define HL_TLS_V1_1 0x0302
#define HL_TLS_V1_2 0x0303
#define HL_TLS_V1_3 0x0304

/* The system CA bundle a client context trusts unless told not to. */
#define HL_TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

typedef enum hl_tls_fail {
  HL_TLS_FAIL_NONE = 0,
  HL_TLS_FAIL_CERTIFICATE, /* tls_certificate */
  HL_TLS_FAIL_HANDSHAKE,   /* tls_handshake */
  HL_TLS_FAIL_ALERT,       /* tls_alert */
  HL_TLS_FAIL_CLOSED,      /* tls_closed */
  HL_TLS_FAIL_INTERNAL,    /* tls_internal */
} hl_tls_fail;

typedef struct hl_tls_ctx hl_tls_ctx;

/* --- contexts ------------------------------------------------------------ */

typedef struct hl_tls_client_options {
  /* PEM file of extra trusted CAs (`--ca-file`), or NULL. */
  const char *ca_file;
  /* Do not load HL_TLS_SYSTEM_CA_FILE (tests and fuzzing trust only their
   * own CA). A context with neither trusts nothing and refuses every
   * certificate. */
  bool no_system_cas;
} hl_tls_client_options;

typedef struct hl_tls_server_options {
  const char *cert_file; /* PEM: the leaf certificate, then its chain */
  const char *key_file;  /* PEM: the private key */
  /* Protocol range; 0 means the defaults (TLS 1.2 .. TLS 1.3). Tests make a
   * TLS 1.1-only server with max_version = HL_TLS_V1_1. */
  uint16_t min_version;
  uint16_t max_version;
} hl_tls_server_options;

/* hl_tls_ctx_client_new makes a client context: verification of the chain
 * (system CAs + ca_file) and of the host name on every connection, SNI, ALPN
 * "http/1.1", TLS 1.2 minimum, session tickets. Peer certificates are kept
 * as shared, de-duplicated buffers, never as parsed X509 objects, which is
 * most of why a connection is small. Returns 0, or -EINVAL / -ENOMEM with
 * |err| naming the option and the problem (e.g. a ca_file that is missing
 * or holds no certificate). */
int hl_tls_ctx_client_new(const hl_tls_client_options *opts, hl_tls_ctx **out, hl_err *err);

/* hl_tls_ctx_server_new makes a server context from a certificate chain and
 * key (checked to match): ALPN "http/1.1" when the client offers it,
 * session tickets on (no server-side session cache). Returns 0 or -EINVAL /
 * -ENOMEM with |err| naming cert_file / key_file and the problem. */
int hl_tls_ctx_server_new(const hl_tls_server_options *opts, hl_tls_ctx **out, hl_err *err);

/* hl_tls_ctx_free frees |ctx| (NULL is a no-op); see "Threads" above. */
void hl_tls_ctx_free(hl_tls_ctx *ctx);

/* --- the per-origin session store (client) ------------------------------ */

typedef struct hl_tls_sessions {
  struct ssl_session_st *s[HL_TLS_SESSIONS_PER_ORIGIN]; /* oldest first */
  uint32_t n;
  uint64_t saved;   /* sessions stored since init */
  uint64_t offered; /* sessions offered to a new connection */
} hl_tls_sessions;

/* hl_tls_sessions_init empties |s| (a zeroed struct is also empty). */
void hl_tls_sessions_init(hl_tls_sessions *s);

/* hl_tls_sessions_clear drops every stored session (e.g. when the origin's
 * pool is freed). The struct may be reused afterwards. */
void hl_tls_sessions_clear(hl_tls_sessions *s);

/* --- connections ------------------------------------------------------------ */

/* One connection's TLS state. Embed it; the fields are the module's. */
typedef struct hl_tls {
  struct ssl_st *ssl;
  hl_tls_ctx *ctx;
  hl_tls_sessions *sessions; /* client: where new sessions go (may be NULL) */
  const char *in;            /* fed ciphertext not yet taken */
  size_t in_len;
  char *out; /* HL_TLS_OUT_BYTES, or NULL when nothing is pending */
  uint32_t out_head, out_tail;
  uint16_t write_retry_len; /* a sealed record waits for the same bytes */
  uint8_t sent_alert;       /* the last fatal alert we sent */
  uint32_t fail_code; /* verify error, alert, or packed BoringSSL error */
  uint8_t fail;       /* hl_tls_fail */
  uint8_t fail_src;   /* which kind of code fail_code is */
  uint8_t flags;
  uint8_t ip_len; /* client: 4 or 16 when the host is an IP literal */
  uint8_t ip[16];
  int32_t fail_depth; /* certificate depth of a verify error */
} hl_tls;

/* hl_tls_client_init starts a client connection to |host| (a DNS name, or
 * an IPv4 / IPv6 literal with or without brackets): SNI with the name (not
 * for IP literals), the certificate must name it (an IP literal must be an
 * IP SAN). Offers a session from |sessions| (may be NULL) and stores new
 * ones there. The ClientHello is produced by the first hl_tls_handshake.
 * Returns 0, -EINVAL (bad host, |err| says why) or -ENOMEM. On failure |t|
 * is left so that hl_tls_cleanup is a no-op. */
int hl_tls_client_init(hl_tls *t, hl_tls_ctx *ctx, hl_span host, hl_tls_sessions *sessions,
                       hl_err *err);

/* hl_tls_server_init starts a server connection. Returns 0 or -ENOMEM. */
int hl_tls_server_init(hl_tls *t, hl_tls_ctx *ctx, hl_err *err);

/* hl_tls_cleanup frees the connection's TLS state and output buffer. A
 * zeroed or already cleaned-up hl_tls is fine. */
void hl_tls_cleanup(hl_tls *t);

/* hl_tls_set_sessions changes (or with NULL detaches) the session store. */
void hl_tls_set_sessions(hl_tls *t, hl_tls_sessions *sessions);

/* hl_tls_feed lends |len| received ciphertext bytes (see "Bytes in"). Any
 * bytes of an earlier feed must have been taken (asserted). After a failure
 * or close_notify the bytes are ignored. */
void hl_tls_feed(hl_tls *t, const void *data, size_t len);

/* hl_tls_feed_eof: the peer's stream has ended; no more bytes will come. */
void hl_tls_feed_eof(hl_tls *t);

/* hl_tls_in_pending: fed bytes not yet taken by BoringSSL. */
static inline size_t hl_tls_in_pending(const hl_tls *t) {
  return t->in_len;
}

/* hl_tls_out: the ciphertext waiting to be sent ({NULL, 0} if none). */
static inline hl_span hl_tls_out(const hl_tls *t) {
  return (hl_span){t->out != NULL ? t->out + t->out_head : NULL, t->out_tail - t->out_head};
}

/* hl_tls_out_sent: the first |n| bytes of hl_tls_out() have been sent
 * (n <= its len, asserted). Frees the buffer when nothing is left. */
void hl_tls_out_sent(hl_tls *t, size_t n);

/* hl_tls_handshake advances the handshake: 0 when it is complete (also on
 * every later call), or WANT_READ / WANT_WRITE / FAILED. */
int hl_tls_handshake(hl_tls *t);
bool hl_tls_handshake_done(const hl_tls *t);

/* hl_tls_read decrypts up to |cap| bytes into |buf|: > 0 bytes, 0 when the
 * peer sent close_notify, or WANT_READ / WANT_WRITE / FAILED. */
int hl_tls_read(hl_tls *t, void *buf, size_t cap);

/* hl_tls_write encrypts from |data|: returns how many of |len| bytes it
 * took (>= 1; fewer than |len| when the output buffer filled, so send and
 * call again with the rest), or WANT_READ (handshake in progress) /
 * WANT_WRITE (output buffer full) / FAILED. |len| 0 returns 0. */
int hl_tls_write(hl_tls *t, const void *data, size_t len);

/* hl_tls_shutdown queues close_notify (once). Returns 0, WANT_WRITE or
 * FAILED. */
int hl_tls_shutdown(hl_tls *t);

/* --- what happened -------------------------------------------------------- */

hl_tls_fail hl_tls_failure(const hl_tls *t);

/* hl_tls_fail_name: "tls_certificate", "tls_handshake", "tls_alert",
 * "tls_closed", "tls_internal" ("" for none). */
const char *hl_tls_fail_name(hl_tls_fail f);

/* hl_tls_describe writes one sentence about the failure into |err|, e.g.
 * "tls_certificate: hostname mismatch (certificate depth 0)" or
 * "tls_handshake: alert from the peer: protocol version". */
void hl_tls_describe(const hl_tls *t, hl_err *err);

/* hl_tls_closed_cleanly: the peer ended the stream with close_notify. */
bool hl_tls_closed_cleanly(const hl_tls *t);

/* hl_tls_session_reused: the handshake resumed a stored session. */
bool hl_tls_session_reused(const hl_tls *t);

/* hl_tls_alpn: the negotiated ALPN protocol ("http/1.1"), or empty. */
hl_span hl_tls_alpn(const hl_tls *t);

/* hl_tls_version_name: "TLSv1.3", "TLSv1.2", ... ("" before the handshake). */
const char *hl_tls_version_name(const hl_tls *t);

#endif
