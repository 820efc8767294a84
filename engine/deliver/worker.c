/* worker: the delivery loop (see worker.h).
 *
 * Tables, all sized at start: deliveries (dlv) and messages (wmsg), each
 * with a free list of indices. A delivery belongs to one message (or to none
 * when it came from the pending table or was spilled) and sits on its
 * endpoint's FIFO while it waits at the gate. The commit FIFO pairs each log
 * record's sequence number with the message it makes safe; when the store
 * thread's committed sequence passes it, the message's count of unsafe
 * deliveries drops, and at zero its ring position is released. */
#include "deliver/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/hist.h"
#include "base/log.h"
#include "base/mem.h"
#include "crypto/hmac_mb.h"
#include "deliver/outcome.h"
#include "http/client.h"
#include "io/dns.h"
#include "io/loop.h"
#include "io/tls.h"
#include "ring/message.h"
#include "ring/msgid.h"
#include "ring/ring_layout.h"

#define NONE UINT32_MAX
#define RING_READ_BATCH 256
#define INBOX_BYTES (8u * 1024 * 1024)
#define TICK_MS 100
#define ENDPOINT_QUEUE_MAX 100000

typedef enum dstate {
  D_FREE = 0,
  D_QUEUED,  /* on its endpoint's FIFO, waiting for the gate */
  D_SIGNING, /* rendered, in this iteration's signing batch */
  D_SENT,    /* at the client */
  D_LOGGING, /* finished; its record waits for room in the store lane */
} dstate;

typedef struct ep_rt ep_rt;

typedef struct dlv {
  dstate state;
  uint32_t next, prev;         /* endpoint FIFO, or the logging list */
  uint32_t msg;                /* NONE: not tied to a ring message */
  uint32_t msg_next, msg_prev; /* the message's deliveries */
  ep_rt *ep;
  hl_target *target; /* one reference */
  uint32_t attempt;
  bool from_pending;   /* a pending row exists for it */
  bool held;           /* in the worker's set of pending-row deliveries */
  bool payload_stored; /* the payload is in the messages table */
  char *owned;         /* owned copies of the message fields */
  hl_span id, event, tenant, endpoint, data;
  int64_t created_ms;
  hl_target_built req; /* the request; req.buf owned */
  hl_client_id cid;
  uint64_t started_ns;
  int64_t started_ms;
  /* D_LOGGING only (the store lane was full): the record waiting for room,
   * with its own copies of the strings the attempt row needs. */
  hl_log_attempt *log;
  char *log_mem;
  uint32_t batch_i; /* D_SIGNING: its place in the worker's batch */
  struct hl_worker *w;
} dlv;

typedef struct wmsg {
  bool used;
  hl_ring_token token;
  hl_msg m;
  char id[HL_MSGID_BYTES];
  uint32_t unsafe;  /* deliveries whose message-final record is uncommitted */
  uint32_t dlv_head;
  uint32_t age_next, age_prev;
  int64_t arrived_ms;
  bool spilled;
  bool payload_stored;
} wmsg;

struct ep_rt {
  int64_t rowid;
  hl_target *target; /* current, one reference */
  hl_gate gate;
  uint32_t q_head, q_tail, q_len;
  bool active; /* on the worker's list of endpoints to schedule */
  ep_rt *active_next;
  hl_timer wake;
  bool wake_armed;
  hl_breaker_state breaker_logged;
  bool gone;     /* dropped from the routing table */
  bool disabled; /* answered 410: off until the reload says otherwise */
  struct hl_worker *w;
};

typedef struct commit_ent {
  uint64_t seq;
  uint32_t msg;
} commit_ent;

/* Records the store thread posts to a worker's inbox. */
typedef struct due_hdr {
  int64_t endpoint_rowid;
  int64_t created_ms;
  uint32_t attempt;
  uint32_t len[5]; /* id, event, tenant, endpoint, data */
} due_hdr;

struct hl_worker {
  hl_worker_shared *sh;
  uint32_t index;
  _Atomic(hl_loop *) loop_pub;
  _Atomic bool stop;
  _Atomic bool ready;
  _Atomic(hl_route_table *) routes_next;
  hl_spsc inbox;
  hl_worker_stats stats;

  hl_loop *loop;
  hl_dns *dns;
  hl_client *client;
  hl_ring_cursor *cursor;
  hl_storer_lane *lane;
  hl_route_table *routes;
  uint8_t op_base;
  bool ring_wait_inflight;
  bool ring_sleeping;
  bool futex_ok;

  ep_rt **eps;
  uint32_t eps_mask;
  uint32_t eps_n;
  ep_rt *active;

  dlv *dels;
  uint32_t *held;     /* open addressing: delivery index + 1, 0 = empty */
  uint32_t held_mask;
  uint32_t dels_free; /* freed slots; below dels_hwm */
  uint32_t dels_hwm;  /* slots never used yet start here (untouched memory) */
  uint32_t dels_used;
  uint32_t logging_head; /* D_LOGGING list */
  wmsg *msgs;
  uint32_t msgs_free;
  uint32_t msgs_hwm;
  uint32_t msgs_used;
  uint32_t age_head, age_tail; /* messages oldest first */

  commit_ent *cq;
  uint64_t cq_head, cq_tail, cq_mask;

  char *scratch_body;
  char *scratch_misc;
  hl_json_value *values;
  dlv *batch[HL_HMAC_BATCH_JOBS_MAX];
  hl_sign_state batch_sign[HL_HMAC_BATCH_JOBS_MAX];
  uint32_t batch_n;
  hl_hmac_job jobs[HL_HMAC_BATCH_JOBS_MAX * HL_SECRETS_PER_ENDPOINT_MAX];
  hl_sign_job sjobs[HL_HMAC_BATCH_JOBS_MAX * HL_SECRETS_PER_ENDPOINT_MAX];
  uint32_t sjobs_n;

  hl_timer tick;
  hl_hist hist; /* delivery durations, us; the worker's own */
  /* Snapshots for other threads (metrics), refreshed each tick. */
  pthread_mutex_t snap_lock;
  hl_hist snap_hist;
  struct breaker_snap {
    char id[HL_ENDPOINT_ID_BYTES_MAX + 1];
    uint8_t state;
  } *snap_breakers;
  uint32_t snap_breakers_n, snap_breakers_cap;
  uint64_t ring_created_ms;
  uint64_t last_reap_ms;
  bool draining;
};

const char *hl_worker_class_name(uint32_t i) {
  static const char *const http[] = {"http_2xx", "http_3xx", "http_4xx",   "http_410",
                                     "http_429", "http_5xx", "http_other", "render_error"};
  if (i < HL_NETERR_COUNT_) {
    return hl_neterr_name((hl_neterr)i);
  }
  if (i >= HL_CLASS_HTTP_2XX && i < HL_CLASS_COUNT) {
    return http[i - HL_CLASS_HTTP_2XX];
  }
  return "";
}

static uint32_t class_of_status(int status) {
  return status == 410                     ? HL_CLASS_HTTP_410
         : status == 429                   ? HL_CLASS_HTTP_429
         : status >= 200 && status < 300   ? HL_CLASS_HTTP_2XX
         : status >= 300 && status < 400   ? HL_CLASS_HTTP_3XX
         : status >= 400 && status < 500   ? HL_CLASS_HTTP_4XX
         : status >= 500 && status < 600   ? HL_CLASS_HTTP_5XX
                                           : HL_CLASS_HTTP_OTHER;
}

static void stat_add(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void stat_sub(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}

static int64_t wall_ms(void) {
  return (int64_t)hl_clock_wall_ms();
}

/* --- endpoint runtime state: rowid -> ep_rt (open addressing) ------------ */

static ep_rt *ep_find(hl_worker *w, int64_t rowid) {
  uint32_t i = (uint32_t)((uint64_t)rowid * 0x9e3779b97f4a7c15ull >> 32) & w->eps_mask;
  while (w->eps[i] != NULL) {
    if (w->eps[i]->rowid == rowid) {
      return w->eps[i];
    }
    i = (i + 1) & w->eps_mask;
  }
  return NULL;
}

static void ep_insert(hl_worker *w, ep_rt *e) {
  if ((w->eps_n + 1) * 2 > w->eps_mask + 1) {
    /* Grow at reload time only (never on the delivery path). */
    uint32_t old_n = w->eps_mask + 1;
    ep_rt **old = w->eps;
    w->eps_mask = old_n * 2 - 1;
    w->eps = calloc(old_n * 2, sizeof(ep_rt *));
    HL_ASSERT(w->eps != NULL);
    w->eps_n = 0;
    for (uint32_t i = 0; i < old_n; i++) {
      if (old[i] != NULL) {
        ep_insert(w, old[i]);
      }
    }
    free(old);
  }
  uint32_t i = (uint32_t)((uint64_t)e->rowid * 0x9e3779b97f4a7c15ull >> 32) & w->eps_mask;
  while (w->eps[i] != NULL) {
    i = (i + 1) & w->eps_mask;
  }
  w->eps[i] = e;
  w->eps_n++;
}

static void ep_activate(hl_worker *w, ep_rt *e) {
  if (!e->active && e->q_len > 0 && !e->wake_armed) {
    e->active = true;
    e->active_next = w->active;
    w->active = e;
  }
}

static void ep_on_wake(hl_loop *loop, hl_timer *t) {
  (void)loop;
  ep_rt *e = HL_CONTAINER_OF(t, ep_rt, wake);
  e->wake_armed = false;
  ep_activate(e->w, e);
}

/* --- tables ------------------------------------------------------------------ */

static uint32_t dlv_alloc(hl_worker *w) {
  uint32_t i = w->dels_free;
  if (i != NONE) {
    w->dels_free = w->dels[i].next;
  } else if (w->dels_hwm < w->sh->deliveries_max) {
    i = w->dels_hwm++;
  } else {
    return NONE;
  }
  dlv *d = &w->dels[i];
  memset(d, 0, sizeof(*d));
  d->next = d->prev = d->msg = d->msg_next = d->msg_prev = NONE;
  d->w = w;
  w->dels_used++;
  return i;
}

static void dlv_unlink_msg(hl_worker *w, dlv *d) {
  if (d->msg == NONE) {
    return;
  }
  wmsg *m = &w->msgs[d->msg];
  uint32_t self = (uint32_t)(d - w->dels);
  if (d->msg_prev != NONE) {
    w->dels[d->msg_prev].msg_next = d->msg_next;
  } else {
    HL_ASSERT(m->dlv_head == self);
    m->dlv_head = d->msg_next;
  }
  if (d->msg_next != NONE) {
    w->dels[d->msg_next].msg_prev = d->msg_prev;
  }
  d->msg = d->msg_next = d->msg_prev = NONE;
}

/* --- deliveries that have a pending row -------------------------------------
 * The store thread leases a due row as it hands it over. A lease that runs
 * out while the delivery still waits here (behind a long queue), or one
 * lost with a failed commit, hands the same (message, endpoint) over again.
 * The worker keeps its deliveries that have a pending row in this set and
 * drops such a second copy: the one it holds ends or replaces the row when
 * it finishes. (A replay of a delivery that is in flight at that moment is
 * dropped the same way: the attempt in flight is the replay's answer.) */

static uint32_t held_home(hl_worker *w, hl_span id, int64_t rowid) {
  uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)rowid;
  for (size_t i = 0; i < id.len; i++) {
    h = (h ^ (uint8_t)id.ptr[i]) * 0x100000001b3ull;
  }
  return (uint32_t)(h ^ (h >> 32)) & w->held_mask;
}

/* held_find returns the slot holding (id, rowid), or the empty slot where
 * it would go. */
static uint32_t held_find(hl_worker *w, hl_span id, int64_t rowid) {
  uint32_t i = held_home(w, id, rowid);
  while (w->held[i] != 0) {
    const dlv *d = &w->dels[w->held[i] - 1];
    if (d->ep->rowid == rowid && hl_span_eq(d->id, id)) {
      break;
    }
    i = (i + 1) & w->held_mask;
  }
  return i;
}

static void held_add(hl_worker *w, dlv *d) {
  uint32_t i = held_find(w, d->id, d->ep->rowid);
  if (w->held[i] == 0) { /* a producer's duplicate id may be there already */
    w->held[i] = (uint32_t)(d - w->dels) + 1;
    d->held = true;
  }
}

/* held_remove empties |d|'s slot and shifts back the entries after it that
 * probed past it (linear probing without tombstones). */
static void held_remove(hl_worker *w, dlv *d) {
  uint32_t i = held_find(w, d->id, d->ep->rowid);
  HL_ASSERT(w->held[i] == (uint32_t)(d - w->dels) + 1);
  w->held[i] = 0;
  d->held = false;
  for (uint32_t j = (i + 1) & w->held_mask; w->held[j] != 0; j = (j + 1) & w->held_mask) {
    const dlv *o = &w->dels[w->held[j] - 1];
    uint32_t k = held_home(w, o->id, o->ep->rowid);
    bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (!stays) {
      w->held[i] = w->held[j];
      w->held[j] = 0;
      i = j;
    }
  }
}

static void dlv_free(hl_worker *w, dlv *d) {
  if (d->held) {
    held_remove(w, d);
  }
  dlv_unlink_msg(w, d);
  hl_target_unref(d->target);
  free(d->owned);
  free(d->req.buf);
  free(d->log);
  free(d->log_mem);
  d->state = D_FREE;
  uint32_t i = (uint32_t)(d - w->dels);
  d->next = w->dels_free;
  w->dels_free = i;
  w->dels_used--;
}

static uint32_t msg_alloc(hl_worker *w) {
  uint32_t i = w->msgs_free;
  if (i != NONE) {
    w->msgs_free = w->msgs[i].age_next;
  } else if (w->msgs_hwm < w->sh->messages_max) {
    i = w->msgs_hwm++;
  } else {
    return NONE;
  }
  wmsg *m = &w->msgs[i];
  memset(m, 0, sizeof(*m));
  m->used = true;
  m->dlv_head = NONE;
  m->age_next = NONE;
  m->age_prev = w->age_tail;
  if (w->age_tail != NONE) {
    w->msgs[w->age_tail].age_next = i;
  } else {
    w->age_head = i;
  }
  w->age_tail = i;
  w->msgs_used++;
  stat_add(&w->stats.unreleased, 1);
  return i;
}

/* msg_release gives the message's ring position back and frees it. */
static void msg_release(hl_worker *w, uint32_t i) {
  wmsg *m = &w->msgs[i];
  HL_ASSERT(m->used && m->unsafe == 0 && m->dlv_head == NONE);
  hl_ring_cursor_release(w->cursor, &m->token, 1);
  if (m->age_prev != NONE) {
    w->msgs[m->age_prev].age_next = m->age_next;
  } else {
    w->age_head = m->age_next;
  }
  if (m->age_next != NONE) {
    w->msgs[m->age_next].age_prev = m->age_prev;
  } else {
    w->age_tail = m->age_prev;
  }
  m->used = false;
  m->age_next = w->msgs_free;
  w->msgs_free = i;
  w->msgs_used--;
  stat_sub(&w->stats.unreleased, 1);
}

/* A record with |seq| makes one delivery of message |msg| safe once it is
 * committed. */
static void commit_push(hl_worker *w, uint64_t seq, uint32_t msg) {
  HL_ASSERT(w->cq_tail - w->cq_head <= w->cq_mask);
  w->cq[w->cq_tail++ & w->cq_mask] = (commit_ent){seq, msg};
}

static void commits_apply(hl_worker *w) {
  uint64_t done = hl_storer_committed(w->lane);
  while (w->cq_head != w->cq_tail && w->cq[w->cq_head & w->cq_mask].seq <= done) {
    uint32_t i = w->cq[w->cq_head++ & w->cq_mask].msg;
    wmsg *m = &w->msgs[i];
    HL_ASSERT(m->unsafe > 0);
    if (--m->unsafe == 0 && m->dlv_head == NONE) {
      msg_release(w, i);
    }
  }
}

/* --- log records ------------------------------------------------------------ */

static hl_message_rec dlv_message(const dlv *d) {
  return (hl_message_rec){.id = d->id,
                          .event = d->event,
                          .tenant = d->tenant,
                          .endpoint = d->endpoint,
                          .data = d->data,
                          .created_ms = d->created_ms};
}

/* dlv_own copies the message fields the delivery still needs into memory it
 * owns, before its message's ring position can be released. */
static int dlv_own(dlv *d, bool with_data) {
  if (d->owned != NULL) {
    return 0;
  }
  size_t n = d->id.len + d->event.len + d->tenant.len + d->endpoint.len +
             (with_data ? d->data.len : 0);
  char *p = malloc(n + 1);
  if (p == NULL) {
    return -ENOMEM;
  }
  d->owned = p;
  hl_span *f[5] = {&d->id, &d->event, &d->tenant, &d->endpoint, &d->data};
  for (int i = 0; i < (with_data ? 5 : 4); i++) {
    if (f[i]->len > 0) {
      memcpy(p, f[i]->ptr, f[i]->len);
    }
    f[i]->ptr = p;
    p += f[i]->len;
  }
  if (!with_data) {
    d->data = HL_SPAN_NULL;
  }
  return 0;
}

/* log_try writes |a|, a finished delivery's record; on success the delivery
 * is done with (its message, if any, waits for the commit). */
static bool log_try(hl_worker *w, dlv *d, const hl_log_attempt *a) {
  int64_t seq = hl_storer_attempt(w->lane, a);
  if (seq == -EAGAIN) {
    return false;
  }
  if (seq < 0) {
    /* A record that can never fit (cannot happen with bounded fields);
     * keep the message unreleased rather than lose it. */
    HL_LOG(HL_LOG_ERROR, "attempt record too large", HL_F_SPAN("message", d->id));
    return false;
  }
  if (d->msg != NONE) {
    commit_push(w, (uint64_t)seq, d->msg);
  }
  dlv_free(w, d);
  return true;
}

/* logging_keep copies |a| so that the delivery can wait for room in the
 * store lane (rare: the store thread is far behind). */
static void logging_keep(hl_worker *w, dlv *d, const hl_log_attempt *a) {
  const hl_span *f[] = {&a->attempt.error_class, &a->attempt.error_detail,
                        &a->attempt.response_excerpt};
  size_t n = 0;
  for (size_t i = 0; i < 3; i++) {
    n += f[i]->len;
  }
  d->log = malloc(sizeof(*d->log));
  d->log_mem = malloc(n + 1);
  HL_ASSERT(d->log != NULL && d->log_mem != NULL);
  *d->log = *a;
  hl_span *g[] = {&d->log->attempt.error_class, &d->log->attempt.error_detail,
                  &d->log->attempt.response_excerpt};
  char *p = d->log_mem;
  for (size_t i = 0; i < 3; i++) {
    if (f[i]->len > 0) {
      memcpy(p, f[i]->ptr, f[i]->len);
    }
    *g[i] = hl_span_make(p, f[i]->len);
    p += f[i]->len;
  }
  d->state = D_LOGGING;
  d->next = w->logging_head;
  w->logging_head = (uint32_t)(d - w->dels);
}

static void logging_retry(hl_worker *w) {
  uint32_t i = w->logging_head, keep = NONE;
  w->logging_head = NONE;
  while (i != NONE) {
    dlv *d = &w->dels[i];
    uint32_t next = d->next;
    if (!log_try(w, d, d->log)) {
      d->next = keep;
      keep = i;
    }
    i = next;
  }
  w->logging_head = keep;
}

/* finish records an attempt's end (or a delivery ended without one). */
static void finish(hl_worker *w, dlv *d, const hl_attempt_rec *a) {
  hl_log_attempt log = {.attempt = *a, .message = dlv_message(d)};
  log.attempt.message_id = d->id;
  log.attempt.event = d->event;
  log.attempt.endpoint_rowid = d->ep->rowid;
  log.attempt.attempt = d->attempt;
  bool needs = a->outcome == HL_OUTCOME_RETRY || a->outcome == HL_OUTCOME_DEAD ||
               w->sh->retain_payloads;
  log.store_payload = needs && !d->payload_stored;
  log.from_pending = d->from_pending;
  if (!log_try(w, d, &log)) {
    /* The message fields stay valid while the delivery lives (its ring
     * message waits for this record; a spilled one owns copies). */
    logging_keep(w, d, &log);
  }
}

/* defer parks a delivery in the pending table without an attempt: the
 * breaker is open, the endpoint's queue overflowed, or a spill. Returns the
 * record's sequence, or < 0 (the caller keeps the delivery). */
static int64_t defer(hl_worker *w, dlv *d, int64_t next_ms) {
  hl_message_rec m = dlv_message(d);
  int64_t seq = hl_storer_defer(w->lane, &m, !d->payload_stored, d->ep->rowid, d->attempt, next_ms);
  if (seq > 0) {
    d->payload_stored = true;
    d->from_pending = true;
    stat_add(&w->stats.deferred, 1);
  }
  return seq;
}

/* defer_queued takes a delivery off its endpoint's FIFO into the pending
 * table and frees it. */
static bool defer_queued(hl_worker *w, dlv *d, int64_t next_ms) {
  int64_t seq = defer(w, d, next_ms);
  if (seq < 0) {
    return false;
  }
  if (d->msg != NONE) {
    commit_push(w, (uint64_t)seq, d->msg);
  }
  dlv_free(w, d);
  return true;
}

/* defer_sent gives a request in flight a pending row (due at |next_ms| if it
 * never completes) and makes its message safe; the delivery goes on, now
 * one of the worker's held pending deliveries. Returns false when the store
 * lane is full (nothing changed). */
static bool defer_sent(hl_worker *w, dlv *d, int64_t next_ms) {
  int64_t seq = defer(w, d, next_ms);
  if (seq < 0) {
    return false;
  }
  if (!d->held) {
    held_add(w, d);
  }
  if (d->msg != NONE) {
    commit_push(w, (uint64_t)seq, d->msg);
    HL_ASSERT(dlv_own(d, false) == 0);
    dlv_unlink_msg(w, d);
  }
  return true;
}

/* --- endpoint queues ------------------------------------------------------- */

/* q_insert puts |d| on its endpoint's FIFO, at the back or (a request the
 * client could not take now) at the front. */
static void q_insert(hl_worker *w, ep_rt *e, dlv *d, bool front) {
  uint32_t i = (uint32_t)(d - w->dels);
  d->state = D_QUEUED;
  d->prev = front ? NONE : e->q_tail;
  d->next = front ? e->q_head : NONE;
  if (d->prev != NONE) {
    w->dels[d->prev].next = i;
  } else {
    e->q_head = i;
  }
  if (d->next != NONE) {
    w->dels[d->next].prev = i;
  } else {
    e->q_tail = i;
  }
  e->q_len++;
  stat_add(&w->stats.queued, 1);
  ep_activate(w, e);
}

static void q_push(hl_worker *w, ep_rt *e, dlv *d) {
  q_insert(w, e, d, false);
}

static void q_remove(hl_worker *w, ep_rt *e, dlv *d) {
  if (d->prev != NONE) {
    w->dels[d->prev].next = d->next;
  } else {
    e->q_head = d->next;
  }
  if (d->next != NONE) {
    w->dels[d->next].prev = d->prev;
  } else {
    e->q_tail = d->prev;
  }
  d->next = d->prev = NONE;
  e->q_len--;
  stat_sub(&w->stats.queued, 1);
}

/* Ends every queued delivery of an endpoint that was disabled or deleted. */
static void ep_drop_queue(hl_worker *w, ep_rt *e, const char *why) {
  while (e->q_head != NONE) {
    dlv *d = &w->dels[e->q_head];
    q_remove(w, e, d);
    hl_attempt_rec a = {.started_ms = wall_ms(),
                        .outcome = HL_OUTCOME_DROPPED,
                        .error_class = HL_SPAN_LIT("endpoint_unavailable"),
                        .error_detail = hl_span_cstr(why)};
    finish(w, d, &a);
  }
}

/* --- routing table --------------------------------------------------------- */

static bool mine(const hl_worker *w, const hl_target *t) {
  return (uint64_t)t->rowid % w->sh->workers == w->index;
}

static void routes_adopt(hl_worker *w) {
  hl_route_table *t = atomic_exchange(&w->routes_next, NULL);
  if (t == NULL) {
    return;
  }
  for (uint32_t i = 0; i <= w->eps_mask; i++) {
    if (w->eps[i] != NULL) {
      w->eps[i]->gone = true;
    }
  }
  int64_t now = (int64_t)hl_loop_now_ms(w->loop);
  for (uint32_t i = 0; i < hl_route_size(t); i++) {
    hl_target *tg = hl_route_at(t, i);
    if (!mine(w, tg)) {
      continue;
    }
    ep_rt *e = ep_find(w, tg->rowid);
    if (e == NULL) {
      e = calloc(1, sizeof(*e));
      HL_ASSERT(e != NULL);
      e->rowid = tg->rowid;
      e->q_head = e->q_tail = NONE;
      e->w = w;
      hl_gate_init(&e->gate, &tg->gate, now);
      ep_insert(w, e);
    } else {
      hl_gate_reconfigure(&e->gate, &tg->gate);
      hl_target_unref(e->target);
    }
    hl_target_ref(tg);
    e->target = tg;
    e->gone = false;
    e->disabled = !tg->enabled;
  }
  /* Endpoints that were deleted, or disabled, end their waiting deliveries;
   * deliveries at the client finish on the target they started with. */
  for (uint32_t i = 0; i <= w->eps_mask; i++) {
    ep_rt *e = w->eps[i];
    if (e != NULL && (e->gone || e->disabled)) {
      ep_drop_queue(w, e, e->gone ? "the endpoint was deleted" : "the endpoint is disabled");
    }
  }
  hl_route_unref(w->routes);
  w->routes = t;
}

/* --- new deliveries ------------------------------------------------------- */

/* The id of a message sent without one: "msg_" + a ULID whose time is the
 * producer's and whose other 80 bits come from the record's place in the
 * ring, so every worker, and the same worker after a restart, gives the
 * same message the same id. */
static void derive_id(const hl_worker *w, const hl_ring_item *it, uint64_t ts_ms,
                      char out[HL_MSGID_BYTES]) {
  uint64_t a = w->ring_created_ms * 0x9e3779b97f4a7c15ull ^ it->pos;
  uint64_t b = ((uint64_t)it->token.lane << 48) ^ it->pos ^ (ts_ms << 7);
  for (int r = 0; r < 3; r++) { /* splitmix-style mixing */
    a = (a ^ (a >> 30)) * 0xbf58476d1ce4e5b9ull + b;
    b = (b ^ (b >> 27)) * 0x94d049bb133111ebull + a;
  }
  static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  memcpy(out, HL_MSGID_PREFIX, 4);
  char *p = out + 4;
  for (int i = 9; i >= 0; i--) { /* 48-bit time, 10 characters */
    p[i] = alphabet[(ts_ms >> (5 * (9 - i))) & 31];
  }
  uint64_t bits[2] = {a, b};
  for (int i = 0; i < 16; i++) { /* 80 more bits, 16 characters */
    p[10 + i] = alphabet[(bits[i / 13] >> (5 * (i % 13))) & 31];
  }
}

static void dlv_start_queue(hl_worker *w, uint32_t di, ep_rt *e) {
  dlv *d = &w->dels[di];
  d->ep = e;
  d->target = e->target;
  hl_target_ref(d->target);
  stat_add(&w->stats.deliveries, 1);
  if (e->q_len >= ENDPOINT_QUEUE_MAX) {
    /* A backlog this deep belongs in the database, not in memory. */
    if (defer_queued(w, d, wall_ms())) {
      return;
    }
  }
  q_push(w, e, d);
}

static void msg_add_dlv(hl_worker *w, uint32_t mi, uint32_t di) {
  wmsg *m = &w->msgs[mi];
  dlv *d = &w->dels[di];
  d->msg = mi;
  d->msg_prev = NONE;
  d->msg_next = m->dlv_head;
  if (m->dlv_head != NONE) {
    w->dels[m->dlv_head].msg_prev = di;
  }
  m->dlv_head = di;
  m->unsafe++;
  d->id = hl_span_make(m->id, HL_MSGID_BYTES);
  if (m->m.id.len > 0) {
    d->id = m->m.id;
  }
  d->event = m->m.event;
  d->tenant = m->m.tenant;
  d->endpoint = m->m.endpoint;
  d->data = m->m.data;
  d->created_ms = (int64_t)m->m.timestamp_ms;
  d->attempt = 1;
}

/* usable: this worker's endpoint, and on. */
static ep_rt *usable(hl_worker *w, const hl_target *t) {
  if (!mine(w, t)) {
    return NULL;
  }
  ep_rt *e = ep_find(w, t->rowid);
  return e != NULL && !e->disabled && !e->gone ? e : NULL;
}

/* route_one fans a ring message out to this worker's endpoints. */
static void route_one(hl_worker *w, const hl_ring_item *it) {
  uint32_t mi = msg_alloc(w);
  HL_ASSERT(mi != NONE); /* the caller read no more than there is room for */
  wmsg *m = &w->msgs[mi];
  m->token = it->token;
  m->arrived_ms = (int64_t)hl_loop_now_ms(w->loop);
  stat_add(&w->stats.messages, 1);
  hl_err err = {{0}};
  if (hl_msg_decode(it->payload, &m->m, &err) < 0) {
    HL_LOG(HL_LOG_WARN, "skipping an undecodable ring record", HL_F_STR("error", err.msg),
           HL_F_UINT("lane", it->token.lane));
    msg_release(w, mi);
    return;
  }
  if (m->m.id.len == 0) {
    derive_id(w, it, m->m.timestamp_ms, m->id);
  }
  if (w->routes != NULL) {
    if (m->m.endpoint.len > 0) {
      hl_target *t = hl_route_by_id(w->routes, m->m.endpoint);
      ep_rt *e = t != NULL ? usable(w, t) : NULL;
      uint32_t di = e != NULL ? dlv_alloc(w) : NONE;
      if (di != NONE) {
        msg_add_dlv(w, mi, di);
        dlv_start_queue(w, di, e);
      }
    } else {
      hl_target *const *lists[2];
      size_t ns[2];
      hl_route_candidates(w->routes, m->m.event, &lists[0], &ns[0], &lists[1], &ns[1]);
      for (int l = 0; l < 2; l++) {
        for (size_t k = 0; k < ns[l]; k++) {
          hl_target *t = lists[l][k];
          ep_rt *e = usable(w, t);
          if (e == NULL || !hl_target_wants(t, m->m.event, m->m.data)) {
            continue;
          }
          uint32_t di = dlv_alloc(w);
          HL_ASSERT(di != NONE); /* reserved by the caller */
          msg_add_dlv(w, mi, di);
          dlv_start_queue(w, di, e);
        }
      }
    }
  }
  if (m->unsafe == 0) {
    msg_release(w, mi); /* not for any of this worker's endpoints */
  }
}

/* ring_read takes as many records as the tables can hold for sure: every
 * record might fan out to all of this worker's endpoints. */
static size_t ring_read(hl_worker *w) {
  if (w->draining || w->routes == NULL) {
    return 0;
  }
  uint32_t fanout = w->eps_n > 0 ? w->eps_n : 1;
  uint32_t free_dels = w->sh->deliveries_max - w->dels_used;
  uint32_t free_msgs = w->sh->messages_max - w->msgs_used;
  size_t cap = free_dels / fanout;
  cap = cap < free_msgs ? cap : free_msgs;
  cap = cap < RING_READ_BATCH ? cap : RING_READ_BATCH;
  if (cap == 0) {
    return 0;
  }
  hl_ring_item items[RING_READ_BATCH];
  size_t n = hl_ring_cursor_read(w->cursor, items, cap);
  for (size_t i = 0; i < n; i++) {
    route_one(w, &items[i]);
  }
  return n;
}

/* --- due retries from the store thread ------------------------------------ */

bool hl_worker_post_due(hl_worker *w, const hl_pending_rec *p) {
  const hl_message_rec *m = &p->message;
  size_t n = sizeof(due_hdr) + m->id.len + m->event.len + m->tenant.len + m->endpoint.len +
             m->data.len;
  char *r = hl_spsc_reserve(&w->inbox, n);
  if (r == NULL) {
    return false;
  }
  due_hdr h = {.endpoint_rowid = p->endpoint_rowid,
               .created_ms = m->created_ms,
               .attempt = p->attempt,
               .len = {(uint32_t)m->id.len, (uint32_t)m->event.len, (uint32_t)m->tenant.len,
                       (uint32_t)m->endpoint.len, (uint32_t)m->data.len}};
  memcpy(r, &h, sizeof(h));
  char *q = r + sizeof(h);
  const hl_span f[5] = {m->id, m->event, m->tenant, m->endpoint, m->data};
  for (int i = 0; i < 5; i++) {
    if (f[i].len > 0) {
      memcpy(q, f[i].ptr, f[i].len);
      q += f[i].len;
    }
  }
  hl_spsc_publish(&w->inbox);
  hl_worker_wake(w);
  return true;
}

/* inbox_return hands due retries the worker will not send back to the
 * pending table, due now (they were leased when dispatched). */
static void inbox_return(hl_worker *w) {
  const char *r;
  size_t len;
  while ((r = hl_spsc_peek(&w->inbox, &len)) != NULL) {
    due_hdr h;
    memcpy(&h, r, sizeof(h));
    const char *q = r + sizeof(h);
    hl_message_rec m = {.created_ms = h.created_ms};
    hl_span *f[4] = {&m.id, &m.event, &m.tenant, &m.endpoint};
    for (int i = 0; i < 4; i++) {
      *f[i] = hl_span_make(q, h.len[i]);
      q += h.len[i];
    }
    while (hl_storer_defer(w->lane, &m, false, h.endpoint_rowid, h.attempt, wall_ms()) < 0) {
      hl_storer_flush(w->lane);
      hl_loop_run_once(w->loop, 10);
    }
    hl_spsc_pop(&w->inbox);
  }
}

static void inbox_take(hl_worker *w) {
  const char *r;
  size_t len;
  while (w->dels_used < w->sh->deliveries_max && (r = hl_spsc_peek(&w->inbox, &len)) != NULL) {
    due_hdr h;
    memcpy(&h, r, sizeof(h));
    ep_rt *e = ep_find(w, h.endpoint_rowid);
    if (e == NULL) {
      /* The store thread posts its newest routing table before the retries
       * it schedules by it; take that table before deciding. */
      routes_adopt(w);
      e = ep_find(w, h.endpoint_rowid);
    }
    if (e == NULL || e->gone || e->disabled) {
      /* Deleted or disabled since it was scheduled: leave the pending row,
       * the store thread drops it on its next poll. */
      hl_spsc_pop(&w->inbox);
      continue;
    }
    if (w->held[held_find(w, hl_span_make(r + sizeof(h), h.len[0]), h.endpoint_rowid)] != 0) {
      hl_spsc_pop(&w->inbox); /* already here: see held_add */
      stat_add(&w->stats.redispatched, 1);
      continue;
    }
    uint32_t di = dlv_alloc(w);
    dlv *d = &w->dels[di];
    size_t total = len - sizeof(h);
    d->owned = malloc(total + 1);
    HL_ASSERT(d->owned != NULL);
    memcpy(d->owned, r + sizeof(h), total);
    hl_spsc_pop(&w->inbox);
    const char *q = d->owned;
    hl_span *f[5] = {&d->id, &d->event, &d->tenant, &d->endpoint, &d->data};
    for (int i = 0; i < 5; i++) {
      *f[i] = hl_span_make(q, h.len[i]);
      q += h.len[i];
    }
    d->created_ms = h.created_ms;
    d->attempt = h.attempt;
    d->from_pending = true;
    d->payload_stored = true;
    d->ep = e;
    held_add(w, d);
    dlv_start_queue(w, di, e);
  }
}

/* --- sending ---------------------------------------------------------------- */

static void on_done(void *ctx, hl_client_id id, const hl_client_result *r);

static void render_failed(hl_worker *w, dlv *d, const char *why) {
  stat_add(&w->stats.render_errors, 1);
  stat_add(&w->stats.by_class[HL_CLASS_RENDER_ERROR], 1);
  hl_attempt_rec a = {.started_ms = wall_ms(),
                      .outcome = HL_OUTCOME_DEAD,
                      .error_class = HL_SPAN_LIT("render_error"),
                      .error_detail = hl_span_cstr(why)};
  finish(w, d, &a);
}

/* prepare renders |d| into its own buffer and queues its HMAC jobs. */
static void prepare(hl_worker *w, dlv *d) {
  hl_template_msg tm = {.id = d->id,
                        .event = d->event,
                        .tenant = d->tenant,
                        .data = d->data,
                        .timestamp_ms = (uint64_t)d->created_ms};
  hl_err err = {{0}};
  d->batch_i = w->batch_n;
  int n = hl_target_build(d->target, &tm, (uint64_t)wall_ms() / 1000, w->values,
                          w->scratch_body, w->scratch_misc, &d->req, &w->batch_sign[d->batch_i],
                          w->sjobs + w->sjobs_n, &err);
  if (n < 0) {
    render_failed(w, d, err.msg);
    return;
  }
  w->sjobs_n += (uint32_t)n;
  d->state = D_SIGNING;
  w->batch[w->batch_n++] = d;
}

static void submit(hl_worker *w, dlv *d) {
  const hl_target *t = d->target;
  hl_target_finish(t, &d->req, &w->batch_sign[d->batch_i]);
  hl_client_request r = {.url = &t->url,
                         .method = t->method,
                         .head = hl_buf_span(&d->req.head),
                         .body = d->req.body,
                         .request_timeout_ms = t->timeout_ms,
                         .allow_plain_http = t->allow_http,
                         .policy = &w->sh->policy,
                         .done = on_done,
                         .ctx = d};
  d->started_ns = hl_clock_mono_ns();
  d->started_ms = wall_ms();
  hl_err err = {{0}};
  int rc = hl_client_submit(w->client, &r, &d->cid, &err);
  if (rc != 0) {
    /* The client's tables are full: this attempt did not happen; put it
     * back at the head of the line for the next iteration. */
    hl_gate_cancel(&d->ep->gate);
    free(d->req.buf);
    d->req.buf = NULL;
    q_insert(w, d->ep, d, true);
    return;
  }
  d->state = D_SENT;
  stat_add(&w->stats.in_flight, 1);
}

/* flush_batch signs every prepared delivery with one batch HMAC call and
 * hands them to the client. */
static void flush_batch(hl_worker *w) {
  if (w->batch_n == 0) {
    return;
  }
  for (uint32_t i = 0; i < w->sjobs_n; i++) {
    w->jobs[i] = (hl_hmac_job){.key = w->sjobs[i].key,
                               .msg = (const uint8_t *)w->sjobs[i].msg.ptr,
                               .len = w->sjobs[i].msg.len};
  }
  hl_hmac_batch(w->jobs, w->sjobs_n);
  for (uint32_t i = 0; i < w->sjobs_n; i++) {
    memcpy(w->sjobs[i].out, w->jobs[i].out, HL_HMAC_SHA256_BYTES);
  }
  for (uint32_t i = 0; i < w->batch_n; i++) {
    submit(w, w->batch[i]);
  }
  w->batch_n = 0;
  w->sjobs_n = 0;
}

static void log_breaker(hl_worker *w, ep_rt *e, hl_breaker_state s) {
  if (s == e->breaker_logged) {
    return;
  }
  /* For `hookline status`; losing one to a full lane only delays it. */
  hl_storer_breaker(w->lane, e->rowid, hl_breaker_name(s), wall_ms(), e->gate.failures);
  if (s == HL_BREAKER_OPEN || e->breaker_logged == HL_BREAKER_OPEN ||
      s == HL_BREAKER_CLOSED) {
    HL_LOG(s == HL_BREAKER_OPEN ? HL_LOG_WARN : HL_LOG_INFO,
           s == HL_BREAKER_OPEN ? "endpoint paused by its circuit breaker"
                                : "endpoint circuit breaker closed",
           HL_F_STR("endpoint", e->target->id), HL_F_UINT("failures", e->gate.failures),
           HL_F_INT("pause_ms", s == HL_BREAKER_OPEN
                                    ? e->gate.open_until_ms - (int64_t)hl_loop_now_ms(w->loop)
                                    : 0));
  }
  e->breaker_logged = s;
}

/* schedule starts what each active endpoint's gate allows. */
static void schedule(hl_worker *w) {
  if (w->draining) {
    return; /* shutting down: nothing new goes out */
  }
  int64_t now = (int64_t)hl_loop_now_ms(w->loop);
  while (w->active != NULL) {
    ep_rt *e = w->active;
    w->active = e->active_next;
    e->active = false;
    while (e->q_head != NONE) {
      if (w->batch_n == HL_HMAC_BATCH_JOBS_MAX) {
        flush_batch(w);
      }
      int64_t at;
      hl_gate_verdict v = hl_gate_acquire(&e->gate, now, &at);
      if (v == HL_GATE_GO) {
        dlv *d = &w->dels[e->q_head];
        q_remove(w, e, d);
        if (d->target != e->target) {
          /* Updated while it waited: it goes out as configured now. */
          hl_target_unref(d->target);
          d->target = e->target;
          hl_target_ref(d->target);
        }
        prepare(w, d);
        continue;
      }
      if (v == HL_GATE_QUEUE) {
        if (at != 0) {
          e->wake_armed = true;
          hl_timer_arm(w->loop, &e->wake, (uint64_t)at, ep_on_wake);
        }
        break; /* at 0: a finishing request of this endpoint re-activates it */
      }
      /* Paused by the breaker: park the whole queue until the pause ends,
       * so it holds no memory or slots meanwhile. */
      log_breaker(w, e, HL_BREAKER_OPEN);
      int64_t wall_at = wall_ms() + (at - now);
      while (e->q_head != NONE) {
        dlv *d = &w->dels[e->q_head];
        q_remove(w, e, d);
        if (!defer_queued(w, d, wall_at)) {
          q_push(w, e, d); /* the store lane is full: try again later */
          e->active = false;
          break;
        }
      }
      break;
    }
  }
  flush_batch(w);
}

static void on_done(void *ctx, hl_client_id id, const hl_client_result *r) {
  (void)id;
  dlv *d = ctx;
  hl_worker *w = d->w;
  ep_rt *e = d->ep;
  stat_sub(&w->stats.in_flight, 1);
  if (r->error == HL_NETERR_CANCELED) {
    /* Withdrawn at shutdown: not an attempt. Its pending row (or its
     * unreleased message) brings it back. */
    hl_gate_cancel(&e->gate);
    dlv_free(w, d);
    return;
  }
  stat_add(&w->stats.attempts, 1);
  uint64_t us = (hl_clock_mono_ns() - d->started_ns) / 1000;
  stat_add(&w->stats.duration_sum_us, us);
  stat_add(&w->stats.duration_n, 1);
  hl_hist_record(&w->hist, us);
  stat_add(&w->stats.by_class[r->error != HL_NETERR_OK ? (uint32_t)r->error
                                                       : class_of_status(r->status)],
           1);
  int status = r->error == HL_NETERR_OK ? r->status : 0;
  hl_attempt_result ar = {.status = status,
                          .has_retry_after = r->retry_after_s >= 0,
                          .retry_after_s = r->retry_after_s >= 0 ? (uint32_t)r->retry_after_s : 0};
  hl_decision dec = hl_outcome_decide(&ar, d->attempt, &d->target->retry, wall_ms(),
                                      (uint64_t)d->started_ns * 0x9e3779b97f4a7c15ull);
  bool ok = dec.outcome == HL_OUTCOME_DELIVERED;
  hl_breaker_state b = hl_gate_done(&e->gate, ok, (int64_t)hl_loop_now_ms(w->loop));
  log_breaker(w, e, b);
  const char *cls = r->error != HL_NETERR_OK ? hl_neterr_name(r->error)
                                             : hl_outcome_status_class(r->status);
  hl_attempt_rec a = {.started_ms = d->started_ms,
                      .duration_us = (uint32_t)(us < UINT32_MAX ? us : UINT32_MAX),
                      .status = r->status,
                      .outcome = dec.outcome,
                      .error_class = hl_span_cstr(cls),
                      .error_detail = hl_span_cstr(r->detail != NULL ? r->detail : ""),
                      .response_excerpt = hl_span_sub(r->body, 0, HL_RESPONSE_EXCERPT_BYTES),
                      .next_ms = dec.next_ms};
  switch (dec.outcome) {
    case HL_OUTCOME_DELIVERED:
      stat_add(&w->stats.delivered, 1);
      break;
    case HL_OUTCOME_RETRY:
      stat_add(&w->stats.retries, 1);
      break;
    case HL_OUTCOME_DEAD:
      stat_add(&w->stats.dead, 1);
      HL_LOG(HL_LOG_WARN, "delivery dead-lettered: no attempts left",
             HL_F_STR("endpoint", d->target->id), HL_F_SPAN("message", d->id),
             HL_F_UINT("attempts", d->attempt), HL_F_STR("error", cls));
      break;
    case HL_OUTCOME_DISABLED:
      stat_add(&w->stats.disabled, 1);
      break;
    default:
      break;
  }
  if (dec.outcome == HL_OUTCOME_DISABLED && !e->disabled) {
    HL_LOG(HL_LOG_WARN, "endpoint disabled: it answered 410 Gone",
           HL_F_STR("endpoint", e->target->id));
    hl_storer_disable(w->lane, hl_span_cstr(e->target->id), HL_SPAN_LIT("410 Gone"));
    e->disabled = true;
    ep_drop_queue(w, e, "the endpoint answered 410 Gone");
  }
  free(d->req.buf);
  d->req.buf = NULL;
  finish(w, d, &a);
  ep_activate(w, e);
}

/* --- spilling ------------------------------------------------------------- */

/* spill_msg makes every delivery of a slow message safe without waiting
 * for it: queued ones move to the pending table; ones at the client get a
 * pending row due after their deadline (a crash re-sends them; their
 * completion replaces the row). Returns false if the store lane is full. */
static bool spill_msg(hl_worker *w, uint32_t mi) {
  wmsg *m = &w->msgs[mi];
  int64_t now = wall_ms();
  uint32_t i = m->dlv_head;
  while (i != NONE) {
    dlv *d = &w->dels[i];
    uint32_t next = d->msg_next;
    if (d->state == D_QUEUED) {
      ep_rt *e = d->ep;
      q_remove(w, e, d);
      if (!defer_queued(w, d, now)) {
        q_push(w, e, d);
        return false;
      }
    } else if (d->state == D_SENT &&
               !defer_sent(w, d, now + (int64_t)d->target->timeout_ms + 60000)) {
      return false;
    }
    i = next;
  }
  m->spilled = true;
  stat_add(&w->stats.spilled, 1);
  return true;
}

/* snapshot publishes what only this thread may read: client, resolver and
 * cursor counters, the duration histogram, the breakers. */
static void snapshot(hl_worker *w) {
  hl_client_stats cs;
  hl_client_stats_get(w->client, &cs);
  atomic_store_explicit(&w->stats.conns_open, cs.conns_open, memory_order_relaxed);
  atomic_store_explicit(&w->stats.conns_idle, cs.conns_idle, memory_order_relaxed);
  atomic_store_explicit(&w->stats.tls_handshakes, cs.handshakes, memory_order_relaxed);
  atomic_store_explicit(&w->stats.tls_resumed, cs.resumed, memory_order_relaxed);
  hl_dns_stats ds;
  hl_dns_stats_get(w->dns, &ds);
  atomic_store_explicit(&w->stats.dns_lookups, ds.lookups, memory_order_relaxed);
  atomic_store_explicit(&w->stats.dns_cache_hits, ds.cache_hits, memory_order_relaxed);
  uint64_t lag = 0;
  hl_ring_geometry g = hl_ring_consumer_geometry(w->sh->ring);
  for (uint32_t i = 0; i < g.lane_count; i++) {
    hl_ring_lane_info li;
    if (hl_ring_cursor_lane_info(w->cursor, i, &li) == 0 && li.head > li.read_pos) {
      lag += li.head - li.read_pos;
    }
  }
  atomic_store_explicit(&w->stats.ring_lag, lag, memory_order_relaxed);
  pthread_mutex_lock(&w->snap_lock);
  w->snap_hist = w->hist;
  if (w->snap_breakers_cap < w->eps_n) {
    free(w->snap_breakers);
    w->snap_breakers_cap = w->eps_n * 2;
    w->snap_breakers = calloc(w->snap_breakers_cap, sizeof(*w->snap_breakers));
  }
  w->snap_breakers_n = 0;
  for (uint32_t i = 0; w->snap_breakers != NULL && i <= w->eps_mask; i++) {
    ep_rt *e = w->eps[i];
    if (e != NULL && !e->gone) {
      struct breaker_snap *b = &w->snap_breakers[w->snap_breakers_n++];
      memcpy(b->id, e->target->id, sizeof(b->id));
      b->state = (uint8_t)e->gate.breaker;
    }
  }
  pthread_mutex_unlock(&w->snap_lock);
}

void hl_worker_with_hist(hl_worker *w, void (*fn)(const hl_hist *h, void *ctx), void *ctx) {
  pthread_mutex_lock(&w->snap_lock);
  fn(&w->snap_hist, ctx);
  pthread_mutex_unlock(&w->snap_lock);
}

void hl_worker_each_breaker(hl_worker *w, void (*fn)(const char *endpoint_id, int state, void *ctx),
                            void *ctx) {
  pthread_mutex_lock(&w->snap_lock);
  for (uint32_t i = 0; i < w->snap_breakers_n; i++) {
    fn(w->snap_breakers[i].id, w->snap_breakers[i].state, ctx);
  }
  pthread_mutex_unlock(&w->snap_lock);
}

/* spill_slow decides which unfinished messages to park in the database.
 * Holding a message in the ring costs nothing while its lane has room, but
 * a lane's tail moves only past a contiguous released prefix, so one slow
 * delivery holds back everything behind it. So: spill when the message's
 * lane is more than half full (and the message has had SPILL_MIN_AGE_MS),
 * or once it is spill_after_ms old whatever the lane (this bounds what a
 * crash sends twice). */
#define SPILL_MIN_AGE_MS 250

static void spill_slow(hl_worker *w, int64_t now) {
  hl_ring_geometry g = hl_ring_consumer_geometry(w->sh->ring);
  bool pressed[HL_RING_LANES_MAX];
  bool any = false;
  for (uint32_t l = 0; l < g.lane_count && l < HL_RING_LANES_MAX; l++) {
    hl_ring_lane_info li;
    /* head and tail are read one after the other: a lane reset between
     * the two reads can make tail pass head, which is no pressure. */
    pressed[l] = hl_ring_cursor_lane_info(w->cursor, l, &li) == 0 && li.head >= li.tail &&
                 li.head - li.tail > g.lane_bytes / 2;
    any |= pressed[l];
  }
  for (uint32_t i = w->age_head; i != NONE;) {
    wmsg *m = &w->msgs[i];
    uint32_t next = m->age_next;
    int64_t age = now - m->arrived_ms;
    if (age < SPILL_MIN_AGE_MS || (!any && age < (int64_t)w->sh->spill_after_ms)) {
      break; /* oldest first: the rest are younger */
    }
    bool due = age >= (int64_t)w->sh->spill_after_ms ||
               (m->token.lane < HL_RING_LANES_MAX && pressed[m->token.lane]);
    if (due && !m->spilled && m->dlv_head != NONE && !spill_msg(w, i)) {
      break; /* the store lane is full: next tick */
    }
    i = next;
  }
}

static void on_tick(hl_loop *loop, hl_timer *t) {
  (void)loop;
  hl_worker *w = HL_CONTAINER_OF(t, hl_worker, tick);
  int64_t now = (int64_t)hl_loop_now_ms(w->loop);
  spill_slow(w, now);
  snapshot(w);
  if (w->index == 0 && (uint64_t)now - w->last_reap_ms >= 1000) {
    w->last_reap_ms = (uint64_t)now;
    hl_ring_consumer_reap(w->sh->ring); /* dead producers' lanes */
  }
  hl_timer_arm_in(w->loop, &w->tick, TICK_MS, on_tick);
}

/* --- the loop ----------------------------------------------------------------- */

enum { OP_RING_WAIT, OP_COUNT };

static void on_ring_op(hl_loop *loop, void *ctx, const hl_loop_cqe *c) {
  (void)loop;
  hl_worker *w = ctx;
  if (c->kind == OP_RING_WAIT && !c->more) {
    w->ring_wait_inflight = false;
  }
}

/* wait_ms decides how long the loop may sleep; arms the ring's futex when
 * the worker is idle (producers then wake it). */
static int wait_ms(hl_worker *w, size_t read, bool ring_blocked) {
  bool room = w->dels_used < w->sh->deliveries_max;
  if (read == RING_READ_BATCH || w->active != NULL || (room && !hl_spsc_empty(&w->inbox))) {
    return 0;
  }
  if (w->draining || ring_blocked || w->routes == NULL) {
    return -1; /* completions, timers and wake-ups will come */
  }
  if (!w->futex_ok) {
    return 1; /* no futex op in this kernel: poll the ring */
  }
  uint32_t *word;
  uint32_t expected;
  if (hl_ring_cursor_prepare_sleep(w->cursor, &word, &expected) != 0) {
    return 0; /* records arrived meanwhile */
  }
  w->ring_sleeping = true;
  if (!w->ring_wait_inflight) {
    uint64_t ud = hl_ud_make((uint8_t)(w->op_base + OP_RING_WAIT), 0, 0);
    if (hl_loop_futex_wait(w->loop, ud, word, expected) == 0) {
      w->ring_wait_inflight = true;
    } else {
      return 1;
    }
  }
  return -1;
}

static void iteration(hl_worker *w) {
  atomic_store_explicit(&w->stats.last_iter_ms, hl_clock_mono_ms(), memory_order_relaxed);
  routes_adopt(w);
  inbox_take(w);
  commits_apply(w);
  logging_retry(w);
  bool full = w->dels_used == w->sh->deliveries_max || w->msgs_used == w->sh->messages_max;
  size_t read = ring_read(w);
  bool blocked = read == 0 && (full || w->logging_head != NONE);
  schedule(w);
  hl_storer_flush(w->lane);
  int timeout = wait_ms(w, read, blocked);
  hl_loop_run_once(w->loop, timeout);
  if (w->ring_sleeping) {
    hl_ring_cursor_end_sleep(w->cursor);
    w->ring_sleeping = false;
  }
}

static void settle(hl_worker *w, int timeout_ms) {
  commits_apply(w);
  logging_retry(w);
  schedule(w);
  hl_storer_flush(w->lane);
  hl_loop_run_once(w->loop, timeout_ms);
}

/* worker_shutdown: no new messages; queued deliveries go to the pending table at
 * once; requests at the client get the grace period, then are spilled and
 * withdrawn; then the worker waits (bounded) for its records to commit so
 * that it can release what is safe. What is not released is read again by
 * the next engine: at least once. */
static void worker_shutdown(hl_worker *w) {
  w->draining = true;
  for (uint32_t i = 0; i <= w->eps_mask; i++) {
    ep_rt *e = w->eps[i];
    while (e != NULL && e->q_head != NONE) {
      dlv *d = &w->dels[e->q_head];
      q_remove(w, e, d);
      if (!defer_queued(w, d, wall_ms())) {
        q_push(w, e, d);
        settle(w, 10);
      }
    }
  }
  uint64_t deadline = hl_clock_mono_ms() + w->sh->shutdown_grace_ms;
  while (atomic_load(&w->stats.in_flight) > 0 && hl_clock_mono_ms() < deadline) {
    settle(w, 10);
  }
  /* Whatever is still at the client is parked in the pending table, due
   * now, and withdrawn: the next engine sends it again. */
  for (uint32_t i = 0; i < w->dels_hwm; i++) {
    dlv *d = &w->dels[i];
    if (d->state != D_SENT) {
      continue;
    }
    while (!defer_sent(w, d, wall_ms())) {
      settle(w, 10);
    }
  }
  hl_client_cancel_all(w->client);
  inbox_return(w);
  /* Every record written must commit before the worker lets go (the store
   * thread outlives the workers, but a record never published is lost). */
  deadline = hl_clock_mono_ms() + 10000;
  do {
    settle(w, 10);
  } while ((hl_storer_committed(w->lane) < w->lane->next_seq || w->logging_head != NONE ||
            atomic_load(&w->stats.in_flight) > 0) &&
           hl_clock_mono_ms() < deadline);
  commits_apply(w);
}

/* --- construction and the cross-thread interface ------------------------------ */

int hl_worker_new(hl_worker_shared *sh, uint32_t index, hl_worker **out, hl_err *err) {
  *out = NULL;
  hl_worker *w = calloc(1, sizeof(*w));
  if (w == NULL) {
    return hl_err_fail(err, -ENOMEM, "worker %u: out of memory", index);
  }
  w->sh = sh;
  w->index = index;
  hl_hist_init(&w->hist);
  hl_hist_init(&w->snap_hist);
  pthread_mutex_init(&w->snap_lock, NULL);
  w->logging_head = NONE;
  w->age_head = w->age_tail = NONE;
  int rc = hl_spsc_init(&w->inbox, INBOX_BYTES);
  uint64_t cq_n = 1;
  while (cq_n < (uint64_t)sh->deliveries_max * 2 + 16) {
    cq_n <<= 1;
  }
  w->cq_mask = cq_n - 1;
  /* Sized for the worst case, touched only as used (base/mem.h). */
  w->cq = hl_mem_reserve(cq_n * sizeof(commit_ent));
  w->dels = hl_mem_reserve(sh->deliveries_max * sizeof(dlv));
  uint64_t held_n = 1;
  while (held_n < (uint64_t)sh->deliveries_max * 2) {
    held_n <<= 1;
  }
  w->held_mask = (uint32_t)held_n - 1;
  w->held = hl_mem_reserve(held_n * sizeof(uint32_t));
  w->msgs = hl_mem_reserve(sh->messages_max * sizeof(wmsg));
  w->dels_free = w->msgs_free = NONE;
  w->eps_mask = 63;
  w->eps = calloc(64, sizeof(ep_rt *));
  w->scratch_body = malloc(HL_SIGN_HEADROOM_BYTES + HL_RENDER_BYTES_MAX);
  w->scratch_misc = malloc(HL_RENDER_BYTES_MAX);
  w->values = calloc(HL_TEMPLATE_SET_PATHS_MAX + 1, sizeof(hl_json_value));
  if (rc != 0 || w->cq == NULL || w->dels == NULL || w->msgs == NULL || w->eps == NULL ||
      w->scratch_body == NULL || w->scratch_misc == NULL || w->values == NULL) {
    hl_worker_free(w);
    return hl_err_fail(err, -ENOMEM, "worker %u: cannot allocate its tables", index);
  }
  w->cursor = hl_ring_consumer_cursor(sh->ring, index);
  w->lane = hl_storer_lane_get(sh->storer, index);
  w->ring_created_ms = hl_ring_consumer_created_ms(sh->ring);
  *out = w;
  return 0;
}

static int setup(hl_worker *w, hl_err *err) {
  hl_loop_options lo = hl_loop_options_default();
  int rc = hl_loop_new(&lo, &w->loop, err);
  if (rc != 0) {
    return rc;
  }
  w->futex_ok = (hl_loop_features(w->loop) & HL_LOOP_F_FUTEX) != 0;
  rc = hl_loop_register_ops(w->loop,
                            &(hl_loop_ops){"ring", OP_COUNT, on_ring_op, w, NULL}, &w->op_base);
  hl_dns_options dopts = hl_dns_options_default();
  /* CARES_HOSTS names an extra hosts file (tests point names at addresses
   * the network policy must refuse). */
  dopts.hosts_from_env = getenv("CARES_HOSTS") != NULL;
  if (rc == 0) {
    rc = hl_dns_new(w->loop, &dopts, &w->dns, err);
  }
  if (rc == 0) {
    hl_limits lim = hl_limits_default();
    hl_client_options co = hl_client_options_from(&lim);
    co.requests_max = w->sh->deliveries_max;
    co.tls[0] = w->sh->tls;
    co.dns = w->dns;
    rc = hl_client_new(w->loop, &co, &w->client, err);
  }
  if (rc != 0) {
    return rc;
  }
  hl_timer_arm_in(w->loop, &w->tick, TICK_MS, on_tick);
  atomic_store(&w->loop_pub, w->loop);
  atomic_store(&w->ready, true);
  return 0;
}

static void teardown(hl_worker *w) {
  atomic_store(&w->loop_pub, NULL);
  if (w->loop != NULL) {
    hl_timer_cancel(w->loop, &w->tick);
    for (uint32_t i = 0; i <= w->eps_mask; i++) {
      if (w->eps[i] != NULL && w->eps[i]->wake_armed) {
        hl_timer_cancel(w->loop, &w->eps[i]->wake);
      }
    }
  }
  /* Drain first: owners free their slot tables only once nothing of theirs
   * is in flight (io/loop.h, Shutdown). */
  if (w->loop != NULL) {
    hl_loop_drain(w->loop, 1000);
  }
  hl_client_free(w->client);
  w->client = NULL;
  hl_dns_free(w->dns);
  w->dns = NULL;
  hl_loop_free(w->loop);
  w->loop = NULL;
}

int hl_worker_run(hl_worker *w, hl_err *err) {
  int rc = setup(w, err);
  if (rc == 0) {
    while (!atomic_load(&w->stop)) {
      iteration(w);
    }
    worker_shutdown(w);
  }
  teardown(w);
  return rc;
}

void hl_worker_free(hl_worker *w) {
  if (w == NULL) {
    return;
  }
  HL_ASSERT(w->loop == NULL);
  for (uint32_t i = 0; w->dels != NULL && i < w->dels_hwm; i++) {
    if (w->dels[i].state != D_FREE) {
      dlv_free(w, &w->dels[i]);
    }
  }
  for (uint32_t i = 0; w->eps != NULL && i <= w->eps_mask; i++) {
    if (w->eps[i] != NULL) {
      hl_target_unref(w->eps[i]->target);
      free(w->eps[i]);
    }
  }
  hl_route_unref(w->routes);
  hl_route_unref(atomic_exchange(&w->routes_next, NULL));
  hl_spsc_cleanup(&w->inbox);
  free(w->snap_breakers);
  pthread_mutex_destroy(&w->snap_lock);
  free(w->eps);
  hl_mem_release(w->cq, (w->cq_mask + 1) * sizeof(commit_ent));
  hl_mem_release(w->dels, w->sh->deliveries_max * sizeof(dlv));
  hl_mem_release(w->held, ((size_t)w->held_mask + 1) * sizeof(uint32_t));
  hl_mem_release(w->msgs, w->sh->messages_max * sizeof(wmsg));
  free(w->scratch_body);
  free(w->scratch_misc);
  free(w->values);
  free(w);
}

void hl_worker_wake(hl_worker *w) {
  hl_loop *loop = atomic_load(&w->loop_pub);
  if (loop != NULL) {
    hl_loop_wake(loop);
  }
}

void hl_worker_stop(hl_worker *w) {
  atomic_store(&w->stop, true);
  hl_worker_wake(w);
}

void hl_worker_post_routes(hl_worker *w, hl_route_table *t) {
  hl_route_unref(atomic_exchange(&w->routes_next, t));
  hl_worker_wake(w);
}

uint32_t hl_worker_index(const hl_worker *w) {
  return w->index;
}

bool hl_worker_ready(const hl_worker *w) {
  return atomic_load(&w->ready);
}

const hl_worker_stats *hl_worker_stats_get(const hl_worker *w) {
  return &w->stats;
}
