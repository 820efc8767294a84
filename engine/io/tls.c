/* tls: BoringSSL over memory for io_uring connections (see tls.h).
 *
 * One BIO per connection reads from the span the caller lent with
 * hl_tls_feed and writes into the connection's output buffer, so ciphertext
 * is copied once in each direction (into BoringSSL's record buffer on the
 * way in, out of its write buffer on the way out) and never through a
 * memory BIO's growing queue. Both contexts use TLS_with_buffers_method:
 * certificates stay DER in CRYPTO_BUFFERs shared through a pool, and the
 * client verifies them itself (custom verify: parse, X509_verify_cert with
 * the host, free), so no connection keeps parsed X509 objects. */
#include "io/tls.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/assert.h"

struct hl_tls_ctx {
  SSL_CTX *ssl_ctx;
  X509_STORE *store; /* client: trusted CAs */
  CRYPTO_BUFFER_POOL *pool;
  bool server;
};

enum {
  F_SERVER = 1u << 0,
  F_DONE = 1u << 1,     /* handshake complete */
  F_EOF = 1u << 2,      /* the peer's stream ended (hl_tls_feed_eof) */
  F_CLEAN = 1u << 3,    /* close_notify received */
  F_SHUTDOWN = 1u << 4, /* close_notify queued */
  F_NOMEM = 1u << 5,    /* the output buffer could not be allocated */
};

/* What fail_code holds. */
enum {
  SRC_NONE = 0,
  SRC_VERIFY,     /* an X509_V_ERR_* code */
  SRC_PEER_ALERT, /* a TLS alert description the peer sent */
  SRC_LIB,        /* a packed BoringSSL error */
  SRC_EOF,        /* the stream ended */
  SRC_NOMEM,
  SRC_SENT_ALERT, /* BoringSSL gave no reason, only the alert it sent */
};

/* Room left beyond one sealed record when sizing a write, for what
 * BoringSSL may emit before it (a KeyUpdate, a pending alert). */
#define TLS_WRITE_SLACK_BYTES 256
#define TLS_RECORD_PLAINTEXT_MAX 16384

static const uint8_t k_alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

/* --- the connection BIO ------------------------------------------------------ */

static int bio_read(BIO *b, char *dst, int want) {
  hl_tls *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (t->in_len == 0) {
    if (t->flags & F_EOF) {
      return 0;
    }
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = (size_t)want < t->in_len ? (size_t)want : t->in_len;
  memcpy(dst, t->in, n);
  t->in += n;
  t->in_len -= n;
  return (int)n;
}

static int bio_write(BIO *b, const char *src, int len) {
  hl_tls *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (t->out == NULL) {
    t->out = malloc(HL_TLS_OUT_BYTES);
    if (t->out == NULL) {
      t->flags |= F_NOMEM;
      return -1; /* no retry flag: BoringSSL fails the operation */
    }
    t->out_head = 0;
    t->out_tail = 0;
  }
  size_t room = HL_TLS_OUT_BYTES - t->out_tail;
  if (room == 0) {
    BIO_set_retry_write(b);
    return -1;
  }
  size_t n = (size_t)len < room ? (size_t)len : room;
  memcpy(t->out + t->out_tail, src, n);
  t->out_tail += (uint32_t)n;
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  /* BoringSSL flushes after every flight and record; the bytes are already
   * in the output buffer, which the caller sends. */
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int bio_destroy(BIO *b) {
  (void)b;
  return 1;
}

static const BIO_METHOD k_bio_method = {
    .type = BIO_TYPE_SOURCE_SINK,
    .name = "hookline",
    .bwrite = bio_write,
    .bread = bio_read,
    .ctrl = bio_ctrl,
    .create = bio_create,
    .destroy = bio_destroy,
};

/* --- sessions ----------------------------------------------------------------- */

void hl_tls_sessions_init(hl_tls_sessions *s) {
  memset(s, 0, sizeof(*s));
}

void hl_tls_sessions_clear(hl_tls_sessions *s) {
  for (uint32_t i = 0; i < s->n; i++) {
    SSL_SESSION_free(s->s[i]);
    s->s[i] = NULL;
  }
  s->n = 0;
}

/* sessions_put takes ownership of |sess|, evicting the oldest when full. */
static void sessions_put(hl_tls_sessions *s, SSL_SESSION *sess) {
  if (s->n == HL_TLS_SESSIONS_PER_ORIGIN) {
    SSL_SESSION_free(s->s[0]);
    memmove(&s->s[0], &s->s[1], (s->n - 1) * sizeof(s->s[0]));
    s->n--;
  }
  s->s[s->n++] = sess;
  s->saved++;
}

/* sessions_offer sets the newest stored session on |ssl|; a single-use
 * (TLS 1.3) session leaves the store, since a ticket offered twice lets an
 * observer link the connections and a server may refuse it anyway. */
static void sessions_offer(hl_tls_sessions *s, SSL *ssl) {
  if (s == NULL || s->n == 0) {
    return;
  }
  SSL_SESSION *sess = s->s[s->n - 1];
  if (SSL_set_session(ssl, sess) != 1) {
    return;
  }
  s->offered++;
  if (SSL_SESSION_should_be_single_use(sess)) {
    SSL_SESSION_free(sess);
    s->s[--s->n] = NULL;
  }
}

/* new_session_cb: BoringSSL has a session worth keeping (end of a TLS 1.2
 * handshake, or a TLS 1.3 NewSessionTicket read after it). Returning 1
 * keeps the reference BoringSSL passed us. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
  hl_tls *t = SSL_get_app_data(ssl);
  if (t == NULL || t->sessions == NULL || !SSL_SESSION_is_resumable(sess)) {
    return 0;
  }
  sessions_put(t->sessions, sess);
  return 1;
}

/* info_cb keeps the last fatal alert we sent: a few of BoringSSL's
 * failures push no error code, and the alert is then the only reason. */
static void info_cb(const SSL *ssl, int where, int value) {
  if ((where & SSL_CB_WRITE_ALERT) && (value >> 8) == SSL3_AL_FATAL) {
    hl_tls *t = SSL_get_app_data(ssl);
    if (t != NULL) {
      t->sent_alert = (uint8_t)value;
    }
  }
}

/* --- verification (client) ------------------------------------------------ */

static uint8_t verify_alert(int code) {
  switch (code) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return SSL_AD_CERTIFICATE_EXPIRED;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    return SSL_AD_UNKNOWN_CA;
  default:
    return SSL_AD_BAD_CERTIFICATE;
  }
}

/* verify_chain checks the peer's chain against the context's store, for
 * server use, naming the host. Returns an X509_V_ERR_* code (X509_V_OK if
 * good) and sets |*depth|. */
static int verify_chain(hl_tls *t, SSL *ssl, int *depth) {
  const STACK_OF(CRYPTO_BUFFER) *chain = SSL_get0_peer_certificates(ssl);
  *depth = 0;
  if (chain == NULL || sk_CRYPTO_BUFFER_num(chain) == 0) {
    return X509_V_ERR_UNSPECIFIED;
  }
  int code = X509_V_ERR_OUT_OF_MEM;
  X509 *leaf = NULL;
  STACK_OF(X509) *untrusted = sk_X509_new_null();
  X509_STORE_CTX *sctx = X509_STORE_CTX_new();
  if (untrusted == NULL || sctx == NULL) {
    goto done;
  }
  for (size_t i = 0; i < sk_CRYPTO_BUFFER_num(chain); i++) {
    X509 *x = X509_parse_from_buffer(sk_CRYPTO_BUFFER_value(chain, i));
    if (x == NULL) {
      code = X509_V_ERR_UNSPECIFIED; /* BoringSSL parsed it already */
      *depth = (int)i;
      goto done;
    }
    if (i == 0) {
      leaf = x;
    } else if (!sk_X509_push(untrusted, x)) {
      X509_free(x);
      goto done;
    }
  }
  if (!X509_STORE_CTX_init(sctx, t->ctx->store, leaf, untrusted) ||
      !X509_STORE_CTX_set_default(sctx, "ssl_server")) {
    goto done;
  }
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);
  int set;
  if (t->ip_len != 0) {
    set = X509_VERIFY_PARAM_set1_ip(param, t->ip, t->ip_len);
  } else {
    const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    set = host != NULL && X509_VERIFY_PARAM_set1_host(param, host, strlen(host));
  }
  if (!set) {
    goto done;
  }
  if (X509_verify_cert(sctx) == 1) {
    code = X509_V_OK;
  } else {
    code = X509_STORE_CTX_get_error(sctx);
    *depth = X509_STORE_CTX_get_error_depth(sctx);
    if (code == X509_V_OK) {
      code = X509_V_ERR_UNSPECIFIED;
    }
  }
done:
  X509_STORE_CTX_free(sctx);
  X509_free(leaf);
  sk_X509_pop_free(untrusted, X509_free);
  ERR_clear_error();
  return code;
}

static enum ssl_verify_result_t verify_cb(SSL *ssl, uint8_t *out_alert) {
  hl_tls *t = SSL_get_app_data(ssl);
  int depth = 0;
  int code = verify_chain(t, ssl, &depth);
  if (code == X509_V_OK) {
    return ssl_verify_ok;
  }
  t->fail_src = SRC_VERIFY;
  t->fail_code = (uint32_t)code;
  t->fail_depth = depth;
  *out_alert = verify_alert(code);
  return ssl_verify_invalid;
}

/* --- contexts ------------------------------------------------------------------ */

static int alpn_select_cb(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in,
                          unsigned in_len, void *arg) {
  (void)ssl;
  (void)arg;
  /* Only http/1.1 is spoken; a client offering other protocols alone gets
   * no ALPN rather than a failed handshake. */
  for (unsigned i = 0; i < in_len;) {
    unsigned n = in[i];
    if (i + 1 + n <= in_len && n == k_alpn_http11[0] &&
        memcmp(in + i + 1, k_alpn_http11 + 1, n) == 0) {
      *out = in + i + 1;
      *out_len = (uint8_t)n;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

static hl_tls_ctx *ctx_alloc(bool server) {
  hl_tls_ctx *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return NULL;
  }
  c->server = server;
  c->pool = CRYPTO_BUFFER_POOL_new();
  c->ssl_ctx = SSL_CTX_new(TLS_with_buffers_method());
  if (c->pool == NULL || c->ssl_ctx == NULL) {
    hl_tls_ctx_free(c);
    return NULL;
  }
  SSL_CTX_set0_buffer_pool(c->ssl_ctx, c->pool);
  return c;
}

static int ctx_fail(hl_tls_ctx *c, hl_err *err, int code, const char *what) {
  hl_tls_ctx_free(c);
  ERR_clear_error();
  return hl_err_fail(err, code, "%s", what);
}

static int load_cas(X509_STORE *store, const char *field, const char *path, hl_err *err) {
  if (access(path, R_OK) != 0) {
    return hl_err_fail(err, -EINVAL, "%s: cannot read %s: %s", field, path, strerror(errno));
  }
  if (!X509_STORE_load_locations(store, path, NULL)) {
    ERR_clear_error();
    return hl_err_fail(err, -EINVAL, "%s: %s holds no PEM certificate", field, path);
  }
  return 0;
}

int hl_tls_ctx_client_new(const hl_tls_client_options *opts, hl_tls_ctx **out, hl_err *err) {
  *out = NULL;
  hl_tls_ctx *c = ctx_alloc(false);
  if (c == NULL) {
    return hl_err_fail(err, -ENOMEM, "tls: out of memory creating the client context");
  }
  c->store = X509_STORE_new();
  if (c->store == NULL) {
    return ctx_fail(c, err, -ENOMEM, "tls: out of memory creating the CA store");
  }
  int rc = 0;
  if (!opts->no_system_cas) {
    rc = load_cas(c->store, "system CA bundle", HL_TLS_SYSTEM_CA_FILE, err);
  }
  if (rc == 0 && opts->ca_file != NULL) {
    rc = load_cas(c->store, "ca_file", opts->ca_file, err);
  }
  if (rc != 0) {
    hl_tls_ctx_free(c);
    return rc;
  }
  SSL_CTX *s = c->ssl_ctx;
  if (!SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) ||
      SSL_CTX_set_alpn_protos(s, k_alpn_http11, sizeof(k_alpn_http11)) != 0) {
    return ctx_fail(c, err, -ENOMEM, "tls: cannot configure the client context");
  }
  SSL_CTX_set_custom_verify(s, SSL_VERIFY_PEER, verify_cb);
  SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(s, new_session_cb);
  SSL_CTX_set_mode(s, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_info_callback(s, info_cb);
  *out = c;
  return 0;
}

/* load_chain reads every CERTIFICATE block of |path| into |bufs|. */
static int load_chain(hl_tls_ctx *c, const char *path, CRYPTO_BUFFER **bufs, size_t cap,
                      size_t *n, hl_err *err) {
  BIO *bio = BIO_new_file(path, "r");
  if (bio == NULL) {
    ERR_clear_error();
    return hl_err_fail(err, -EINVAL, "cert_file: cannot read %s: %s", path, strerror(errno));
  }
  int rc = 0;
  *n = 0;
  for (;;) {
    char *name = NULL, *header = NULL;
    uint8_t *data = NULL;
    long len = 0;
    if (!PEM_read_bio(bio, &name, &header, &data, &len)) {
      break;
    }
    if (strcmp(name, "CERTIFICATE") == 0) {
      if (*n == cap) {
        rc = hl_err_fail(err, -EINVAL, "cert_file: %s: more than %zu certificates", path, cap);
      } else {
        bufs[*n] = CRYPTO_BUFFER_new(data, (size_t)len, c->pool);
        rc = bufs[*n] != NULL ? 0 : -ENOMEM;
        *n += bufs[*n] != NULL;
      }
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (rc != 0) {
      break;
    }
  }
  BIO_free(bio);
  ERR_clear_error();
  if (rc == 0 && *n == 0) {
    rc = hl_err_fail(err, -EINVAL, "cert_file: %s holds no PEM certificate", path);
  }
  return rc;
}

static EVP_PKEY *load_key(const char *path, hl_err *err) {
  BIO *bio = BIO_new_file(path, "r");
  if (bio == NULL) {
    ERR_clear_error();
    hl_err_set(err, "key_file: cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  ERR_clear_error();
  if (key == NULL) {
    hl_err_set(err, "key_file: %s holds no PEM private key (or it is encrypted)", path);
  }
  return key;
}

#define TLS_CHAIN_CERTS_MAX 8

int hl_tls_ctx_server_new(const hl_tls_server_options *opts, hl_tls_ctx **out, hl_err *err) {
  *out = NULL;
  if (opts->cert_file == NULL || opts->key_file == NULL) {
    return hl_err_fail(err, -EINVAL, "tls: a server needs both cert_file and key_file");
  }
  hl_tls_ctx *c = ctx_alloc(true);
  if (c == NULL) {
    return hl_err_fail(err, -ENOMEM, "tls: out of memory creating the server context");
  }
  CRYPTO_BUFFER *chain[TLS_CHAIN_CERTS_MAX];
  size_t n = 0;
  int rc = load_chain(c, opts->cert_file, chain, TLS_CHAIN_CERTS_MAX, &n, err);
  EVP_PKEY *key = rc == 0 ? load_key(opts->key_file, err) : NULL;
  if (rc == 0 && key == NULL) {
    rc = -EINVAL;
  }
  if (rc == 0 && !SSL_CTX_set_chain_and_key(c->ssl_ctx, chain, n, key, NULL)) {
    rc = hl_err_fail(err, -EINVAL, "key_file: %s does not match the certificate in %s",
                     opts->key_file, opts->cert_file);
  }
  for (size_t i = 0; i < n; i++) {
    CRYPTO_BUFFER_free(chain[i]);
  }
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (rc != 0) {
    hl_tls_ctx_free(c);
    return rc;
  }
  uint16_t min = opts->min_version != 0 ? opts->min_version : TLS1_2_VERSION;
  uint16_t max = opts->max_version != 0 ? opts->max_version : TLS1_3_VERSION;
  if (!SSL_CTX_set_min_proto_version(c->ssl_ctx, min) ||
      !SSL_CTX_set_max_proto_version(c->ssl_ctx, max) || min > max) {
    return ctx_fail(c, err, -EINVAL, "tls: min_version/max_version is not a valid TLS range");
  }
  SSL_CTX_set_alpn_select_cb(c->ssl_ctx, alpn_select_cb, NULL);
  /* Tickets carry the session, so the server keeps no per-session state. */
  SSL_CTX_set_session_cache_mode(c->ssl_ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_info_callback(c->ssl_ctx, info_cb);
  *out = c;
  return 0;
}

void hl_tls_ctx_free(hl_tls_ctx *c) {
  if (c == NULL) {
    return;
  }
  SSL_CTX_free(c->ssl_ctx);
  X509_STORE_free(c->store);
  /* Last: every certificate buffer (contexts, sessions) points into it. */
  CRYPTO_BUFFER_POOL_free(c->pool);
  free(c);
}

/* --- connections ------------------------------------------------------------ */

/* conn_init creates the SSL of a zeroed |t|. */
static int conn_init(hl_tls *t, hl_tls_ctx *ctx, bool server) {
  t->ctx = ctx;
  t->flags = server ? F_SERVER : 0;
  SSL *ssl = SSL_new(ctx->ssl_ctx);
  BIO *bio = BIO_new(&k_bio_method);
  if (ssl == NULL || bio == NULL) {
    SSL_free(ssl);
    BIO_free(bio);
    ERR_clear_error();
    return -ENOMEM;
  }
  BIO_set_data(bio, t);
  SSL_set_bio(ssl, bio, bio); /* one reference, owned by ssl */
  SSL_set_app_data(ssl, t);
  /* Frees the handshake configuration once the handshake is over: one of
   * the larger parts of an idle connection. */
  SSL_set_shed_handshake_config(ssl, 1);
  if (server) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  t->ssl = ssl;
  return 0;
}

/* host_parse strips IPv6 brackets and recognises IP literals. */
static int host_parse(hl_tls *t, hl_span host, char *name, size_t cap, hl_err *err) {
  if (host.len >= 2 && host.ptr[0] == '[' && host.ptr[host.len - 1] == ']') {
    host = hl_span_sub(host, 1, host.len - 2);
  }
  if (host.len == 0 || host.len > HL_HOST_BYTES_MAX || !hl_span_to_cstr(host, name, cap)) {
    return hl_err_fail(err, -EINVAL, "tls: host is empty, too long or holds a NUL byte");
  }
  if (inet_pton(AF_INET, name, t->ip) == 1) {
    t->ip_len = 4;
  } else if (inet_pton(AF_INET6, name, t->ip) == 1) {
    t->ip_len = 16;
  }
  return 0;
}

int hl_tls_client_init(hl_tls *t, hl_tls_ctx *ctx, hl_span host, hl_tls_sessions *sessions,
                       hl_err *err) {
  HL_ASSERT(!ctx->server);
  char name[HL_HOST_BYTES_MAX + 1];
  memset(t, 0, sizeof(*t));
  int rc = host_parse(t, host, name, sizeof(name), err);
  if (rc == 0 && conn_init(t, ctx, false) != 0) {
    rc = hl_err_fail(err, -ENOMEM, "tls: out of memory creating a connection");
  }
  if (rc != 0) {
    memset(t, 0, sizeof(*t));
    return rc;
  }
  /* RFC 6066: no SNI for IP literals. The name set here is also what the
   * certificate is checked against (verify_chain reads it back). */
  if (t->ip_len == 0 && !SSL_set_tlsext_host_name(t->ssl, name)) {
    hl_tls_cleanup(t);
    ERR_clear_error();
    return hl_err_fail(err, -ENOMEM, "tls: out of memory setting the server name");
  }
  t->sessions = sessions;
  sessions_offer(sessions, t->ssl);
  return 0;
}

int hl_tls_server_init(hl_tls *t, hl_tls_ctx *ctx, hl_err *err) {
  HL_ASSERT(ctx->server);
  memset(t, 0, sizeof(*t));
  if (conn_init(t, ctx, true) != 0) {
    memset(t, 0, sizeof(*t));
    return hl_err_fail(err, -ENOMEM, "tls: out of memory creating a connection");
  }
  return 0;
}

void hl_tls_cleanup(hl_tls *t) {
  SSL_free(t->ssl); /* frees the BIO too */
  free(t->out);
  memset(t, 0, sizeof(*t));
}

void hl_tls_set_sessions(hl_tls *t, hl_tls_sessions *sessions) {
  t->sessions = sessions;
}

void hl_tls_feed(hl_tls *t, const void *data, size_t len) {
  if (t->fail != HL_TLS_FAIL_NONE || (t->flags & F_CLEAN)) {
    return; /* the stream is over: nothing more is read */
  }
  HL_ASSERT(t->in_len == 0);
  t->in = data;
  t->in_len = len;
}

void hl_tls_feed_eof(hl_tls *t) {
  t->flags |= F_EOF;
}

void hl_tls_out_sent(hl_tls *t, size_t n) {
  HL_ASSERT(n <= (size_t)(t->out_tail - t->out_head));
  t->out_head += (uint32_t)n;
  if (t->out_head == t->out_tail) {
    free(t->out);
    t->out = NULL;
    t->out_head = 0;
    t->out_tail = 0;
  } else if (t->out_head > 0) {
    /* The send that used the old position has completed, so the rest can
     * move to the front and leave the whole buffer for new records. */
    memmove(t->out, t->out + t->out_head, t->out_tail - t->out_head);
    t->out_tail -= t->out_head;
    t->out_head = 0;
  }
}

/* --- driving BoringSSL ---------------------------------------------------- */

static void mark_done(hl_tls *t) {
  if (!(t->flags & F_DONE) && !SSL_in_init(t->ssl)) {
    t->flags |= F_DONE;
  }
}

static int set_failed(hl_tls *t, hl_tls_fail kind, uint8_t src, uint32_t code) {
  t->fail = (uint8_t)kind;
  t->in_len = 0; /* nothing more will be read: the caller may free it */
  if (t->fail_src != SRC_VERIFY) {
    t->fail_src = src;
    t->fail_code = code;
  }
  ERR_clear_error();
  return HL_TLS_FAILED;
}

/* classify turns a BoringSSL failure (|ret| <= 0 from SSL_*) into one of
 * the module's results, recording why the connection died. */
static int classify(hl_tls *t, int ret) {
  int e = SSL_get_error(t->ssl, ret);
  bool done = (t->flags & F_DONE) != 0;
  switch (e) {
  case SSL_ERROR_WANT_READ:
    if (t->in_len != 0) {
      /* BoringSSL asks for more only once the BIO is dry; if it ever did
       * otherwise the caller could not release its buffer, so the
       * connection ends here rather than the process (never seen in
       * fuzzing). */
      return set_failed(t, HL_TLS_FAIL_INTERNAL, SRC_LIB, 0);
    }
    return HL_TLS_WANT_READ;
  case SSL_ERROR_WANT_WRITE:
    return HL_TLS_WANT_WRITE;
  case SSL_ERROR_ZERO_RETURN:
    t->flags |= F_CLEAN;
    t->in_len = 0; /* bytes after close_notify mean nothing */
    ERR_clear_error();
    return 0;
  case SSL_ERROR_SYSCALL:
    if (t->flags & F_NOMEM) {
      return set_failed(t, HL_TLS_FAIL_INTERNAL, SRC_NOMEM, 0);
    }
    if ((t->flags & F_EOF) && t->in_len == 0) {
      return set_failed(t, done ? HL_TLS_FAIL_CLOSED : HL_TLS_FAIL_HANDSHAKE, SRC_EOF, 0);
    }
    /* A protocol failure for which BoringSSL queued no error code. */
    return set_failed(t, done ? HL_TLS_FAIL_ALERT : HL_TLS_FAIL_HANDSHAKE, SRC_SENT_ALERT,
                      t->sent_alert);
  case SSL_ERROR_SSL: {
    uint32_t packed = ERR_peek_error();
    int reason = ERR_GET_REASON(packed);
    if (t->fail_src == SRC_VERIFY) {
      return set_failed(t, HL_TLS_FAIL_CERTIFICATE, SRC_VERIFY, t->fail_code);
    }
    if (ERR_GET_LIB(packed) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
        reason < SSL_AD_REASON_OFFSET + 256) {
      return set_failed(t, done ? HL_TLS_FAIL_ALERT : HL_TLS_FAIL_HANDSHAKE, SRC_PEER_ALERT,
                        (uint32_t)(reason - SSL_AD_REASON_OFFSET));
    }
    if (reason == ERR_R_MALLOC_FAILURE) {
      return set_failed(t, HL_TLS_FAIL_INTERNAL, SRC_NOMEM, 0);
    }
    return set_failed(t, done ? HL_TLS_FAIL_ALERT : HL_TLS_FAIL_HANDSHAKE, SRC_LIB, packed);
  }
  default:
    return set_failed(t, HL_TLS_FAIL_INTERNAL, SRC_LIB, ERR_peek_error());
  }
}

int hl_tls_handshake(hl_tls *t) {
  if (t->fail != HL_TLS_FAIL_NONE) {
    return HL_TLS_FAILED;
  }
  if (t->flags & F_DONE) {
    return 0;
  }
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    mark_done(t);
    return 0;
  }
  r = classify(t, r);
  if (r == 0) { /* close_notify before the handshake finished */
    r = set_failed(t, HL_TLS_FAIL_HANDSHAKE, SRC_EOF, 0);
  }
  return r;
}

bool hl_tls_handshake_done(const hl_tls *t) {
  return (t->flags & F_DONE) != 0;
}

int hl_tls_read(hl_tls *t, void *buf, size_t cap) {
  if (t->fail != HL_TLS_FAIL_NONE) {
    return HL_TLS_FAILED;
  }
  if (t->flags & F_CLEAN) {
    return 0;
  }
  int r = SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
  mark_done(t);
  if (r > 0) {
    return r;
  }
  return classify(t, r);
}

int hl_tls_write(hl_tls *t, const void *data, size_t len) {
  int r = hl_tls_handshake(t);
  if (r != 0) {
    return r;
  }
  if (len == 0) {
    return 0;
  }
  /* Seal no more than the output buffer can take, one record at a time, so
   * that BoringSSL never holds a half-flushed record that would pin the
   * caller's plaintext until a retry with the same bytes. */
  size_t overhead = SSL_max_seal_overhead(t->ssl) + TLS_WRITE_SLACK_BYTES;
  size_t total = 0;
  const char *p = data;
  while (total < len) {
    size_t used = t->out != NULL ? t->out_tail : 0;
    size_t room = HL_TLS_OUT_BYTES - used;
    if (room <= overhead && t->write_retry_len == 0) {
      break;
    }
    size_t chunk = len - total;
    if (chunk > room - overhead) {
      chunk = room - overhead;
    }
    if (chunk > TLS_RECORD_PLAINTEXT_MAX) {
      chunk = TLS_RECORD_PLAINTEXT_MAX;
    }
    if (t->write_retry_len != 0) {
      /* BoringSSL sealed a record it could not flush: it must be offered
       * the same bytes again (at least as many), wherever they now are. */
      HL_ASSERT(total == 0 && len >= t->write_retry_len);
      chunk = t->write_retry_len;
    }
    r = SSL_write(t->ssl, p + total, (int)chunk);
    if (r <= 0) {
      r = classify(t, r);
      if (r == HL_TLS_WANT_WRITE && total == 0) {
        t->write_retry_len = (uint16_t)chunk;
      }
      if (r == 0) { /* not expected: a write after close_notify */
        r = set_failed(t, HL_TLS_FAIL_CLOSED, SRC_EOF, 0);
      }
      if (r == HL_TLS_FAILED || total == 0) {
        return r;
      }
      break;
    }
    t->write_retry_len = 0;
    total += (size_t)r;
  }
  return total > 0 ? (int)total : HL_TLS_WANT_WRITE;
}

int hl_tls_shutdown(hl_tls *t) {
  if (t->fail != HL_TLS_FAIL_NONE) {
    return HL_TLS_FAILED;
  }
  if ((t->flags & F_SHUTDOWN) || !(t->flags & F_DONE)) {
    return 0; /* nothing to say politely before the handshake is over */
  }
  int r = SSL_shutdown(t->ssl);
  if (r >= 0) {
    t->flags |= F_SHUTDOWN;
    return 0;
  }
  r = classify(t, r);
  return r == 0 ? 0 : r;
}

/* --- what happened -------------------------------------------------------- */

hl_tls_fail hl_tls_failure(const hl_tls *t) {
  return (hl_tls_fail)t->fail;
}

const char *hl_tls_fail_name(hl_tls_fail f) {
  switch (f) {
  case HL_TLS_FAIL_CERTIFICATE:
    return "tls_certificate";
  case HL_TLS_FAIL_HANDSHAKE:
    return "tls_handshake";
  case HL_TLS_FAIL_ALERT:
    return "tls_alert";
  case HL_TLS_FAIL_CLOSED:
    return "tls_closed";
  case HL_TLS_FAIL_INTERNAL:
    return "tls_internal";
  case HL_TLS_FAIL_NONE:
    break;
  }
  return "";
}

/* readable turns BoringSSL's texts into lower-case prose: "Hostname
 * mismatch" -> "hostname mismatch", "WRONG_VERSION_NUMBER" -> "wrong
 * version number"; "IP address mismatch" keeps its acronym. */
static void readable(const char *in, char *out, size_t cap) {
  bool shouting = true;
  for (const char *p = in; *p != '\0'; p++) {
    if (*p >= 'a' && *p <= 'z') {
      shouting = false;
    }
  }
  size_t i = 0;
  for (; in[i] != '\0' && i + 1 < cap; i++) {
    char c = in[i];
    if (shouting) {
      c = c == '_' ? ' ' : hl_ascii_lower(c);
    } else if (i == 0 && in[1] >= 'a' && in[1] <= 'z') {
      c = hl_ascii_lower(c);
    }
    out[i] = c;
  }
  out[i] = '\0';
}

void hl_tls_describe(const hl_tls *t, hl_err *err) {
  const char *name = hl_tls_fail_name((hl_tls_fail)t->fail);
  char text[128];
  switch (t->fail_src) {
  case SRC_VERIFY:
    readable(X509_verify_cert_error_string((long)t->fail_code), text, sizeof(text));
    hl_err_set(err, "%s: %s (certificate depth %d)", name, text, (int)t->fail_depth);
    return;
  case SRC_PEER_ALERT:
    readable(SSL_alert_desc_string_long((int)t->fail_code), text, sizeof(text));
    hl_err_set(err, "%s: alert from the peer: %s", name, text);
    return;
  case SRC_LIB: {
    const char *r = ERR_reason_error_string(t->fail_code);
    readable(r != NULL ? r : "unknown error", text, sizeof(text));
    hl_err_set(err, "%s: %s", name, text);
    return;
  }
  case SRC_EOF:
    if (t->fail == HL_TLS_FAIL_HANDSHAKE) {
      hl_err_set(err, "%s: the peer closed the connection during the handshake", name);
    } else {
      hl_err_set(err, "%s: the peer ended the stream without close_notify (truncated)", name);
    }
    return;
  case SRC_NOMEM:
    hl_err_set(err, "%s: out of memory", name);
    return;
  case SRC_SENT_ALERT:
    readable(t->fail_code != 0 ? SSL_alert_desc_string_long((int)t->fail_code) : "unknown", text,
             sizeof(text));
    hl_err_set(err, "%s: protocol error (we sent the alert: %s)", name, text);
    return;
  default:
    break;
  }
  if (t->flags & F_CLEAN) {
    hl_err_set(err, "tls_closed: the peer closed the stream with close_notify");
  } else {
    hl_err_set(err, "tls: no failure");
  }
}

bool hl_tls_closed_cleanly(const hl_tls *t) {
  return (t->flags & F_CLEAN) != 0;
}

bool hl_tls_session_reused(const hl_tls *t) {
  return t->ssl != NULL && SSL_session_reused(t->ssl);
}

hl_span hl_tls_alpn(const hl_tls *t) {
  const uint8_t *p = NULL;
  unsigned len = 0;
  if (t->ssl != NULL) {
    SSL_get0_alpn_selected(t->ssl, &p, &len);
  }
  return hl_span_make(p, len);
}

const char *hl_tls_version_name(const hl_tls *t) {
  if (t->ssl == NULL || !(t->flags & F_DONE)) {
    return "";
  }
  return SSL_get_version(t->ssl);
}
