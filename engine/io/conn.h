/* conn: outgoing connections, socket + optional TLS, on the io_uring loop.
 *
 * It owns the connections of one loop: a table preallocated at start (a
 * full table is an error, counted, never a reason to allocate), each entry
 * with its socket, its state, its TLS object (when HTTPS) and its send
 * state. It connects (non-blocking through the loop, with a deadline, trying
 * each resolved address in turn and checking every one against the network
 * policy right before its connect, so a name that resolves to a forbidden
 * address is refused whatever it resolved to before), runs the TLS handshake
 * with a deadline, sends a request (head + body) with one sendmsg of two
 * iovecs for plain HTTP or through TLS, one send in flight, and keeps one
 * multishot receive armed from connect to close, feeding TLS and handing
 * the plaintext to its owner. It knows nothing of HTTP: the owner (the HTTP
 * client) parses, pools and decides when to close.
 *
 * State: ONE enum and ONE transition function (conn_transition in conn.c,
 * built on the pure table hl_conn_next below) that is the only writer of a
 * connection's state and asserts that each event is legal:
 *
 *   FREE --open--> CONNECTING --connected--> HANDSHAKE --handshaken--> READY
 *                  (next address: CONNECTING)  (plain HTTP: straight to READY)
 *   READY --start--> BUSY --finish--> READY          (keep-alive reuse)
 *   any live state --close--> CLOSED --freed--> FREE (last completion in)
 *
 * Teardown follows the loop's order: cancel timers, cancel the fd's ops,
 * close the fd, release the slot (which comes back on the free list once
 * the kernel has finished with its memory).
 *
 * Callbacks run on the loop's thread from completions or timers, never from
 * inside hl_conn_open / hl_conn_send. After on_end returns the connection is
 * gone: its id may be reused by the next hl_conn_open. */
#ifndef HL_IO_CONN_H
#define HL_IO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/err.h"
#include "base/limits.h"
#include "io/loop.h"
#include "io/netpolicy.h"

/* Why a delivery attempt failed, with stable short names (hl_neterr_name)
 * used in the attempt log and as metric labels. The connection layer sets
 * the network and TLS ones; the HTTP client the rest. */
typedef enum hl_neterr {
  HL_NETERR_OK = 0,
  HL_NETERR_DNS_NXDOMAIN,     /* dns_nxdomain: no such host, or no address */
  HL_NETERR_DNS_TIMEOUT,      /* dns_timeout */
  HL_NETERR_DNS_ERROR,        /* dns_error: any other resolver failure */
  HL_NETERR_POLICY_REFUSED,   /* policy_refused: the SSRF guard said no */
  HL_NETERR_CONNECT_REFUSED,  /* connect_refused: RST to our SYN */
  HL_NETERR_CONNECT_TIMEOUT,  /* connect_timeout */
  HL_NETERR_CONNECT_ERROR,    /* connect_error: unreachable, no route, ... */
  HL_NETERR_TLS_CERTIFICATE,  /* tls_certificate: chain or host name */
  HL_NETERR_TLS_HANDSHAKE,    /* tls_handshake: no common ground, bad record */
  HL_NETERR_TLS_ALERT,        /* tls_alert: the server sent a fatal alert */
  HL_NETERR_TLS_TIMEOUT,      /* tls_timeout: handshake deadline */
  HL_NETERR_WRITE_ERROR,      /* write_error: the request could not be sent */
  HL_NETERR_RESPONSE_TIMEOUT, /* response_timeout: no response head in time */
  HL_NETERR_REQUEST_TIMEOUT,  /* request_timeout: the whole request's deadline */
  HL_NETERR_PROTOCOL_ERROR,   /* protocol_error: the response broke a rule or a limit */
  HL_NETERR_BODY_TOO_LARGE,   /* body_too_large */
  HL_NETERR_CLOSED_EARLY,     /* closed_early: EOF or reset before a complete response */
  HL_NETERR_POOL_FULL,        /* pool_full: no connection could be had in time */
  HL_NETERR_CLIENT_BUSY,      /* client_busy: local tables full */
  HL_NETERR_CANCELED,         /* canceled: the engine withdrew the request */
  HL_NETERR_COUNT_
} hl_neterr;

/* hl_neterr_name returns the stable short name ("ok", "dns_nxdomain", ...)
 * or "unknown" outside the enum. */
const char *hl_neterr_name(hl_neterr e);

/* --- the state machine (pure, exposed for tests) ------------------------- */

typedef enum hl_conn_state {
  HL_CONN_FREE = 0,
  HL_CONN_CONNECTING,
  HL_CONN_HANDSHAKE,
  HL_CONN_READY,
  HL_CONN_BUSY,
  HL_CONN_CLOSED,
  HL_CONN_STATE_COUNT_
} hl_conn_state;

typedef enum hl_conn_event {
  HL_CONN_EV_OPEN,        /* FREE -> CONNECTING */
  HL_CONN_EV_NEXT_ADDR,   /* CONNECTING -> CONNECTING: that address failed */
  HL_CONN_EV_CONNECTED,   /* CONNECTING -> HANDSHAKE (TLS) */
  HL_CONN_EV_CONNECTED_PLAIN, /* CONNECTING -> READY */
  HL_CONN_EV_HANDSHAKEN,  /* HANDSHAKE -> READY */
  HL_CONN_EV_START,       /* READY -> BUSY: a request goes out */
  HL_CONN_EV_FINISH,      /* BUSY -> READY: its response is complete */
  HL_CONN_EV_CLOSE,       /* CONNECTING..BUSY -> CLOSED */
  HL_CONN_EV_FREED,       /* CLOSED -> FREE: nothing in flight any more */
  HL_CONN_EVENT_COUNT_
} hl_conn_event;

/* hl_conn_next returns the state |e| leads to from |s|, or
 * HL_CONN_STATE_COUNT_ if |e| is not legal in |s|. */
hl_conn_state hl_conn_next(hl_conn_state s, hl_conn_event e);
const char *hl_conn_state_name(hl_conn_state s);

/* --- the connection table ---------------------------------------------------- */

typedef struct hl_conns hl_conns;
struct hl_tls_ctx;

/* How the connection ended, for on_end. */
typedef struct hl_conn_end {
  hl_neterr cls;   /* CLOSED_EARLY for a clean EOF or a reset after connect */
  int sys_errno;   /* the kernel's errno when there was one (positive), or 0 */
  bool eof;        /* the peer closed cleanly (FIN, or TLS close_notify) */
  bool write_side; /* the failure was on a send */
  hl_err detail;   /* one sentence: the address, the reason */
} hl_conn_end;

typedef struct hl_conn_callbacks {
  /* The connection is READY (connected, handshake done). */
  void (*on_ready)(void *ctx, uint32_t id);
  /* Every byte given to hl_conn_send has been written. */
  void (*on_sent)(void *ctx, uint32_t id);
  /* Plaintext arrived (in any state from READY on); the bytes are valid
   * during the call only. The owner may call hl_conn_close inside. */
  void (*on_data)(void *ctx, uint32_t id, const char *p, size_t n);
  /* The connection failed or the peer closed it; it is closed right after
   * this returns (the owner must not call hl_conn_close for it). */
  void (*on_end)(void *ctx, uint32_t id, const hl_conn_end *end);
} hl_conn_callbacks;

typedef struct hl_conns_options {
  /* Table size (1..HL_LOOP_SLOTS_MAX). Closing connections hold their slot
   * until the kernel is done with them, so give it room beyond the number
   * of connections you let be open (the client adds a quarter). */
  uint32_t conns_max;
  hl_conn_callbacks cb;
  void *ctx;
} hl_conns_options;

/* What to connect to. |addrs| must stay valid until on_ready or on_end (or
 * hl_conn_close): it is read one address at a time while connecting. */
typedef struct hl_conn_target {
  const struct sockaddr_storage *addrs;
  uint32_t addrs_len;          /* 1..HL_CONN_ADDRS_MAX */
  const hl_netpolicy *policy;  /* checked on each address; NULL: no check */
  uint32_t connect_timeout_ms; /* per address */
  uint32_t tls_handshake_timeout_ms;
  /* TLS: NULL for plain TCP. |server_name| (NUL-terminated, valid until
   * on_ready/on_end) is sent as SNI (unless an IP literal) and verified
   * against the certificate. |sessions| (the origin's store, may be NULL)
   * offers a session for resumption and receives new ones; it must outlive
   * the connection. */
  struct hl_tls_ctx *tls;
  const char *server_name;
  struct hl_tls_sessions *sessions;
} hl_conn_target;

typedef struct hl_conns_stats {
  uint64_t opened;          /* hl_conn_open calls that got a slot */
  uint64_t exhausted;       /* hl_conn_open refused: table full */
  uint64_t connects;        /* connect attempts (one per address tried) */
  uint64_t connected;       /* TCP connections established */
  uint64_t handshakes;      /* TLS handshakes completed */
  uint64_t resumed;         /* of which resumed a session */
  uint64_t policy_refused;  /* addresses refused by the network policy */
  uint64_t sends;           /* send/sendmsg submissions */
  uint64_t recv_rearms;     /* multishot receives re-armed */
  uint64_t closed;          /* connections closed, any reason */
  uint32_t live;            /* gauge: slots not FREE */
} hl_conns_stats;

/* hl_conns_new registers the connection ops with |loop| and allocates the
 * table. Returns 0, -EINVAL (bad options, with |err|), -ENOMEM, or the
 * loop's error. Free it after hl_loop_drain (or before the loop with
 * every connection closed). */
int hl_conns_new(hl_loop *loop, const hl_conns_options *opts, hl_conns **out, hl_err *err);
void hl_conns_free(hl_conns *m);

/* hl_conn_open starts connecting to |t| and stores the connection's id in
 * |*id|. Returns 0 (on_ready or on_end follows), -ENOSPC (table full,
 * counted) or -EACCES when the policy refuses every address (|err| says
 * which rule; nothing follows). Other negative errnos: the loop refused the
 * submission; nothing follows. */
int hl_conn_open(hl_conns *m, const hl_conn_target *t, uint32_t *id, hl_err *err);

/* hl_conn_send writes |iov[0]| then |iov[1]| (either may be empty) on a
 * READY connection, which becomes BUSY. The bytes must stay valid until
 * on_sent or on_end. Returns 0 or a negative errno from the loop (nothing
 * follows; the connection stays READY). */
int hl_conn_send(hl_conns *m, uint32_t id, const struct iovec iov[2]);

/* hl_conn_finish marks the response on a BUSY connection complete: it is
 * READY again and may carry another request. */
void hl_conn_finish(hl_conns *m, uint32_t id);

/* hl_conn_close closes a connection the owner is done with (no callback). */
void hl_conn_close(hl_conns *m, uint32_t id);

hl_conn_state hl_conn_state_of(const hl_conns *m, uint32_t id);
/* hl_conn_times: when the connection was opened, connected (TCP) and
 * became READY, on the loop's clock in ns (0: not yet). */
void hl_conn_times(const hl_conns *m, uint32_t id, uint64_t *open_ns, uint64_t *connected_ns,
                   uint64_t *ready_ns);
/* hl_conn_resumed: the connection's TLS handshake resumed a session. */
bool hl_conn_resumed(const hl_conns *m, uint32_t id);
void hl_conns_stats_get(const hl_conns *m, hl_conns_stats *out);

#endif
