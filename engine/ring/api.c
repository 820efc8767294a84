/* api: libhookline's public producer functions (include/hookline/hookline.h)
 * over ring/producer and ring/message.
 *
 * This file, the producer, the message codec and the few base files they
 * need are all libhookline contains (cmake/parts/libhookline.cmake): keep
 * it free of anything that pulls in TLS, SQLite, c-ares or io_uring. */
#include "hookline/hookline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/limits.h"
#include "ring/message.h"
#include "ring/producer.h"

_Static_assert(sizeof(hl_error) == sizeof(hl_err), "public and internal error details agree");

/* Publish at least this often inside a batch, so the engine can start on a
 * long batch before it ends. */
#define BATCH_PUBLISH_EVERY 64

struct hl_producer {
  hl_ring_producer ring;
  hl_err last;
};

static int fail_out(hl_producer *p, hl_error *out, const hl_err *e, int rc) {
  if (p != NULL) {
    p->last = *e;
  }
  if (out != NULL) {
    memcpy(out->msg, e->msg, sizeof(out->msg));
  }
  return rc;
}

static void clear(hl_producer *p, hl_error *out) {
  p->last.msg[0] = '\0';
  if (out != NULL) {
    out->msg[0] = '\0';
  }
}

int hl_producer_open(hl_producer **out, const char *ring, const hl_producer_options *opts,
                     hl_error *err) {
  hl_err e = {{0}};
  if (out == NULL) {
    hl_err_set(&e, "hl_producer_open: out is NULL");
    return fail_out(NULL, err, &e, -EINVAL);
  }
  *out = NULL;
  int open_timeout_ms = HL_RING_OPEN_TIMEOUT_MS;
  if (opts != NULL) {
    if (opts->size < sizeof(uint32_t) * 2) {
      hl_err_set(&e, "options: size %u is too small; use HL_PRODUCER_OPTIONS_INIT", opts->size);
      return fail_out(NULL, err, &e, -EINVAL);
    }
    open_timeout_ms = opts->open_timeout_ms;
  }
  hl_producer *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    hl_err_set(&e, "out of memory");
    return fail_out(NULL, err, &e, -ENOMEM);
  }
  int rc = hl_ring_producer_open(&p->ring, ring != NULL ? ring : HL_DEFAULT_RING, open_timeout_ms,
                                 &e);
  if (rc != 0) {
    free(p);
    return fail_out(NULL, err, &e, rc);
  }
  *out = p;
  if (err != NULL) {
    err->msg[0] = '\0';
  }
  return 0;
}

void hl_producer_close(hl_producer *p) {
  if (p == NULL) {
    return;
  }
  hl_ring_producer_close(&p->ring);
  free(p);
}

const char *hl_producer_last_error(const hl_producer *p) {
  return p != NULL ? p->last.msg : "";
}

/* optional_name takes a NUL-terminated field without reading more than one
 * byte past its limit, so an over-long field costs O(limit). */
static hl_span optional_name(const char *s, size_t max) {
  return s != NULL ? hl_span_make(s, strnlen(s, max + 1)) : HL_SPAN_NULL;
}

/* now_ms: the producer timestamp. The coarse clock (the kernel tick, a few
 * ms) costs ~20 ns here against ~70 ns for the precise one, a quarter of
 * what producing a message costs otherwise. */
static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int to_msg(const hl_message *m, uint64_t now, hl_msg *out, hl_err *e) {
  if (m == NULL) {
    return hl_err_fail(e, -EINVAL, "message: NULL");
  }
  if (m->event == NULL) {
    return hl_err_fail(e, -EINVAL, "event: missing; name the event, e.g. lead.created");
  }
  if (m->data == NULL) {
    return hl_err_fail(e, -EINVAL, "data: missing; send a JSON object, at least {}");
  }
  out->event = optional_name(m->event, HL_EVENT_NAME_BYTES_MAX);
  out->id = optional_name(m->id, HL_MESSAGE_ID_BYTES_MAX);
  out->endpoint = optional_name(m->endpoint, HL_ENDPOINT_ID_BYTES_MAX);
  out->tenant = optional_name(m->tenant, HL_TENANT_BYTES_MAX);
  out->data = hl_span_make(m->data, m->data_len);
  out->timestamp_ms = m->timestamp_ms != 0 ? m->timestamp_ms : now;
  return hl_msg_validate(out, e);
}

static int write_one(hl_producer *p, const hl_msg *m, int timeout_ms, hl_err *e) {
  size_t n = hl_msg_encoded_bytes(m);
  void *dst;
  int rc = hl_ring_producer_reserve(&p->ring, n, timeout_ms, &dst, e);
  if (rc != 0) {
    return rc;
  }
  size_t w = hl_msg_encode(m, dst, n);
  hl_ring_producer_commit(&p->ring, w);
  return 0;
}

static int null_handle(hl_error *out) {
  hl_err e;
  hl_err_set(&e, "producer: NULL handle; open one with hl_producer_open");
  return fail_out(NULL, out, &e, -EINVAL);
}

int hl_produce(hl_producer *p, const hl_message *m, int timeout_ms, hl_error *err) {
  if (p == NULL) {
    return null_handle(err);
  }
  hl_err e;
  hl_msg msg;
  int rc = to_msg(m, now_ms(), &msg, &e);
  if (rc == 0) {
    rc = write_one(p, &msg, timeout_ms, &e);
  }
  if (rc != 0) {
    return fail_out(p, err, &e, rc);
  }
  hl_ring_producer_publish(&p->ring);
  clear(p, err);
  return 0;
}

int hl_produce_batch(hl_producer *p, const hl_message *msgs, size_t n, size_t *written,
                     int timeout_ms, hl_error *err) {
  if (written != NULL) {
    *written = 0;
  }
  if (p == NULL) {
    return null_handle(err);
  }
  if (msgs == NULL && n > 0) {
    hl_err e;
    hl_err_set(&e, "messages: NULL with a count of %zu", n);
    return fail_out(p, err, &e, -EINVAL);
  }
  hl_err e;
  hl_msg msg;
  uint64_t now = now_ms();
  for (size_t i = 0; i < n; i++) {
    int rc = to_msg(&msgs[i], now, &msg, &e);
    if (rc != 0) {
      hl_err_prefix(&e, "message %zu", i);
      return fail_out(p, err, &e, rc);
    }
  }
  for (size_t i = 0; i < n; i++) {
    /* Validated above; converting again is cheaper than keeping n copies. */
    to_msg(&msgs[i], now, &msg, &e);
    int rc = write_one(p, &msg, timeout_ms, &e);
    if (rc != 0) {
      hl_ring_producer_publish(&p->ring);
      hl_err_prefix(&e, "message %zu", i);
      return fail_out(p, err, &e, rc);
    }
    if (written != NULL) {
      *written = i + 1;
    }
    if ((i + 1) % BATCH_PUBLISH_EVERY == 0) {
      hl_ring_producer_publish(&p->ring);
    }
  }
  hl_ring_producer_publish(&p->ring);
  clear(p, err);
  return 0;
}

const char *hl_strerror(int code) {
  switch (code) {
    case 0:
      return "success";
    case -EINVAL:
      return "invalid argument or message";
    case -EMSGSIZE:
      return "message field too long";
    case -EAGAIN:
      return "ring full: the engine has not caught up; retry later";
    case -ENOENT:
      return "ring not found: is the engine running?";
    case -EACCES:
      return "permission denied on the ring";
    case -EBUSY:
      return "every lane of the ring is in use";
    case -EPROTO:
      return "not a hookline ring, or a corrupted one";
    case -EPROTONOSUPPORT:
      return "ring made by another version of hookline";
    case -EIO:
      return "lane quarantined by the engine: reopen the producer";
    case -ESTALE:
      return "ring removed by the engine: reopen the producer";
    case -ENOMEM:
      return "out of memory";
    default:
      break;
  }
  const char *s = code < 0 ? strerrordesc_np(-code) : NULL;
  return s != NULL ? s : "unknown error";
}

const char *hl_version(void) {
  return HL_VERSION;
}
