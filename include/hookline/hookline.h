/* hookline.h: the producer API of libhookline.
 *
 * An application hands events to a hookline engine on the same machine
 * through the engine's shared-memory ring:
 *
 *   hl_producer *p;
 *   hl_error e;
 *   if (hl_producer_open(&p, "hookline", NULL, &e) != 0) { puts(e.msg); ... }
 *   hl_message m = {.event = "lead.created",
 *                   .data = "{\"email\":\"a@b.c\"}", .data_len = 17};
 *   int rc = hl_produce(p, &m, 1000, &e);   // 0, or -errno with e.msg
 *   hl_producer_close(p);
 *
 * Link with `pkg-config --cflags --libs hookline`. The library depends only
 * on the C library (no TLS, no SQLite, no io_uring), so it can be loaded
 * into any process.
 *
 * Conventions: every function returns 0 or a negative errno; hl_strerror
 * names a code, and an hl_error out-parameter (may be NULL) receives one
 * sentence naming the field and the problem. The same sentence is kept in
 * the handle (hl_producer_last_error).
 *
 * Validation happens before anything is written; a rejected message leaves
 * no trace in the ring:
 *   event     required, 1..HL_EVENT_NAME_BYTES_MAX bytes of [A-Za-z0-9_.:-]
 *   id        optional (NULL or ""), <= HL_MESSAGE_ID_BYTES_MAX, same set;
 *             the engine assigns "msg_" + a sortable unique id when absent
 *   endpoint  optional, <= HL_ENDPOINT_ID_BYTES_MAX, same set
 *   tenant    optional, <= HL_TENANT_BYTES_MAX, same set
 *   data      required, a JSON object (at least "{}"), at most
 *             HL_MESSAGE_DATA_BYTES_MAX bytes, nested at most
 *             HL_JSON_DEPTH_MAX deep; kept byte for byte
 * Errors: -EINVAL (bad field), -EMSGSIZE (too long).
 *
 * Once hl_produce returns 0 the message is in the ring and the engine will
 * deliver it at least once, even if it crashes and restarts.
 *
 * Threads: a handle owns one lane of the ring and is not locked: use one
 * handle per thread, or serialise calls on a shared handle yourself. Many
 * handles (threads or processes) produce in parallel without contending.
 * Do not use a handle in a child after fork(); open a new one there. */
#ifndef HOOKLINE_HOOKLINE_H
#define HOOKLINE_HOOKLINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HL_PUBLIC __attribute__((visibility("default")))
#else
#define HL_PUBLIC
#endif

#define HL_ABI_VERSION 1

/* Limits, spelled exactly as in the engine's base/limits.h: a translation
 * unit that includes both fails to compile if they ever differ. */
#define HL_EVENT_NAME_BYTES_MAX 128
#define HL_MESSAGE_ID_BYTES_MAX 128
#define HL_ENDPOINT_ID_BYTES_MAX 128
#define HL_TENANT_BYTES_MAX 128
#define HL_MESSAGE_DATA_BYTES_MAX (256 * 1024)
#define HL_JSON_DEPTH_MAX 64

#define HL_DEFAULT_RING "hookline"
#define HL_ERROR_BYTES 256

/* hl_error: a readable reason; msg is always NUL-terminated. */
typedef struct hl_error {
  char msg[HL_ERROR_BYTES];
} hl_error;

typedef struct hl_producer hl_producer;

typedef struct hl_producer_options {
  /* sizeof(hl_producer_options), so that later fields can be added. */
  uint32_t size;
  /* How long hl_producer_open waits for a free lane when every lane is
   * taken (0: fail at once with -EBUSY; negative: no limit). */
  int32_t open_timeout_ms;
} hl_producer_options;

#define HL_PRODUCER_OPTIONS_INIT {sizeof(hl_producer_options), 0}

typedef struct hl_message {
  const char *event;    /* required, NUL-terminated */
  const char *id;       /* optional: NULL or "" = assigned by the engine */
  const char *endpoint; /* optional: deliver to this endpoint only */
  const char *tenant;   /* optional */
  const char *data;     /* required: a JSON object, data_len bytes (no NUL needed) */
  size_t data_len;
  uint64_t timestamp_ms; /* Unix ms; 0 = now (the kernel's coarse clock: a few ms) */
} hl_message;

/* hl_producer_open opens ring |ring| (NULL: "hookline"; a name containing
 * '/' is a file path, otherwise a POSIX shared-memory name) and claims one
 * of its lanes. |opts| may be NULL. On success *out is the handle.
 * Errors: -ENOENT (no such ring: is the engine running?), -EACCES (no
 * permission), -EPROTONOSUPPORT (ring made by another hookline version),
 * -EPROTO (not a hookline ring), -EBUSY (every lane taken), -EINVAL. */
HL_PUBLIC int hl_producer_open(hl_producer **out, const char *ring,
                               const hl_producer_options *opts, hl_error *err);

/* hl_produce validates |m| and writes it to the ring. If the ring is full it
 * waits up to |timeout_ms| (0: not at all; negative: no limit) for the
 * engine to catch up, then returns -EAGAIN with nothing written.
 * Errors: -EINVAL / -EMSGSIZE (invalid message), -EAGAIN (full),
 * -EIO (the engine quarantined this handle's lane: reopen), -ESTALE (the
 * ring was removed: reopen). */
HL_PUBLIC int hl_produce(hl_producer *p, const hl_message *m, int timeout_ms, hl_error *err);

/* hl_produce_batch validates all |n| messages first: if one is invalid,
 * nothing is written and the error names its index. Then it writes them in
 * order, waking the engine at most once per batch; *written (may be NULL)
 * counts the messages in the ring, also when it fails with -EAGAIN part
 * way (|timeout_ms| applies to each wait). */
HL_PUBLIC int hl_produce_batch(hl_producer *p, const hl_message *msgs, size_t n,
                               size_t *written, int timeout_ms, hl_error *err);

/* hl_producer_close gives the lane back and frees the handle. Messages
 * already produced stay in the ring. hl_producer_close(NULL) is a no-op. */
HL_PUBLIC void hl_producer_close(hl_producer *p);

/* hl_producer_last_error returns the reason for the handle's last failure
 * ("" if none). Valid until the next call on the handle. */
HL_PUBLIC const char *hl_producer_last_error(const hl_producer *p);

/* hl_strerror names an error code: hl_strerror(-EAGAIN) is "ring full: the
 * engine has not caught up; retry later". Never NULL; static storage. */
HL_PUBLIC const char *hl_strerror(int code);

/* hl_version returns the library version, e.g. "0.1.0". */
HL_PUBLIC const char *hl_version(void);

#ifdef __cplusplus
}
#endif

#endif
