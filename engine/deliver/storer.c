/* storer: the store thread (see storer.h).
 *
 * A record is a fixed header followed by its variable fields back to back;
 * the header holds their lengths. One round: read every lane's published
 * records with a cursor (nothing freed yet), apply them in one transaction,
 * commit, and only then free them and publish the committed sequence. A
 * failed commit rolls back and the same records are tried again after a
 * pause: lanes fill, workers stop taking messages, producers wait — nothing
 * is lost. */
#include "deliver/storer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "ring/ring_layout.h"
#include "store/query.h"

enum { REC_ATTEMPT = 1, REC_DEFER, REC_DISABLE, REC_BREAKER };
enum { F_STORE_PAYLOAD = 1, F_FROM_PENDING = 2 };

/* Variable fields, in the order they follow the header. */
enum {
  V_MESSAGE_ID,
  V_EVENT,
  V_TENANT,
  V_ENDPOINT,
  V_DATA,
  V_ERROR_CLASS,
  V_ERROR_DETAIL,
  V_EXCERPT,
  V_COUNT,
};

typedef struct rec_hdr {
  uint32_t type;
  uint32_t flags;
  uint64_t seq;
  int64_t endpoint_rowid;
  int64_t started_ms;
  int64_t next_ms;
  int64_t created_ms;
  uint32_t attempt;
  int32_t status;
  uint32_t duration_us;
  uint32_t outcome;
  uint32_t len[V_COUNT];
} rec_hdr;

#define RETRY_PAUSE_MS 1000
#define ACTIVE_WINDOW_MS 20
#define NAP_MS 5

typedef struct due_item {
  char id[HL_MESSAGE_ID_BYTES_MAX + 1];
  char event[HL_EVENT_NAME_BYTES_MAX + 1];
  int64_t endpoint_rowid;
  uint32_t attempt;
  hl_pending_verdict verdict;
} due_item;

struct hl_storer {
  hl_storer_options o;
  hl_store *store;
  pthread_t thread;
  bool started;
  _Atomic bool stopping;
  _Atomic uint32_t wake_word;
  _Atomic uint32_t sleeping;
  int64_t generation;
  hl_storer_stats stats;
  due_item *due; /* HL_STORER_DUE_BATCH_MAX, for poll_due */
  hl_prune prune;     /* the retention pass under way */
  int64_t prune_next_ms;
  uint32_t lanes_n;
  hl_storer_lane lanes[];
};

/* --- worker side ----------------------------------------------------------- */

static int64_t put_record(hl_storer_lane *l, rec_hdr *h, const hl_span v[V_COUNT]) {
  size_t total = sizeof(*h);
  for (int i = 0; i < V_COUNT; i++) {
    h->len[i] = (uint32_t)v[i].len;
    total += v[i].len;
  }
  if (total > hl_spsc_record_max(&l->q)) {
    return -E2BIG;
  }
  char *p = hl_spsc_reserve(&l->q, total);
  if (p == NULL) {
    return -EAGAIN;
  }
  h->seq = ++l->next_seq;
  memcpy(p, h, sizeof(*h));
  p += sizeof(*h);
  for (int i = 0; i < V_COUNT; i++) {
    if (v[i].len > 0) {
      memcpy(p, v[i].ptr, v[i].len);
      p += v[i].len;
    }
  }
  return (int64_t)h->seq;
}

int64_t hl_storer_attempt(hl_storer_lane *l, const hl_log_attempt *a) {
  const hl_attempt_rec *at = &a->attempt;
  rec_hdr h = {.type = REC_ATTEMPT,
               .flags = (a->store_payload ? F_STORE_PAYLOAD : 0u) |
                        (a->from_pending ? F_FROM_PENDING : 0u),
               .endpoint_rowid = at->endpoint_rowid,
               .started_ms = at->started_ms,
               .next_ms = at->next_ms,
               .created_ms = a->message.created_ms,
               .attempt = at->attempt,
               .status = at->status,
               .duration_us = at->duration_us,
               .outcome = (uint32_t)at->outcome};
  hl_span v[V_COUNT] = {
      [V_MESSAGE_ID] = a->message.id,     [V_EVENT] = a->message.event,
      [V_TENANT] = a->message.tenant,     [V_ENDPOINT] = a->message.endpoint,
      [V_DATA] = a->store_payload ? a->message.data : HL_SPAN_NULL,
      [V_ERROR_CLASS] = at->error_class, [V_ERROR_DETAIL] = at->error_detail,
      [V_EXCERPT] = at->response_excerpt,
  };
  return put_record(l, &h, v);
}

int64_t hl_storer_defer(hl_storer_lane *l, const hl_message_rec *m, bool store_payload,
                        int64_t endpoint_rowid, uint32_t attempt, int64_t next_ms) {
  rec_hdr h = {.type = REC_DEFER,
               .flags = store_payload ? F_STORE_PAYLOAD : 0u,
               .endpoint_rowid = endpoint_rowid,
               .next_ms = next_ms,
               .created_ms = m->created_ms,
               .attempt = attempt};
  hl_span v[V_COUNT] = {
      [V_MESSAGE_ID] = m->id,     [V_EVENT] = m->event, [V_TENANT] = m->tenant,
      [V_ENDPOINT] = m->endpoint, [V_DATA] = store_payload ? m->data : HL_SPAN_NULL,
  };
  return put_record(l, &h, v);
}

int64_t hl_storer_disable(hl_storer_lane *l, hl_span endpoint_id, hl_span reason) {
  rec_hdr h = {.type = REC_DISABLE};
  hl_span v[V_COUNT] = {[V_ENDPOINT] = endpoint_id, [V_ERROR_DETAIL] = reason};
  return put_record(l, &h, v);
}

int64_t hl_storer_breaker(hl_storer_lane *l, int64_t endpoint_rowid, const char *state,
                          int64_t since_ms, uint32_t failures) {
  rec_hdr h = {.type = REC_BREAKER,
               .endpoint_rowid = endpoint_rowid,
               .started_ms = since_ms,
               .attempt = failures};
  hl_span v[V_COUNT] = {[V_ERROR_CLASS] = hl_span_cstr(state)};
  return put_record(l, &h, v);
}

void hl_storer_flush(hl_storer_lane *l) {
  hl_spsc_publish(&l->q);
  hl_storer *s = l->owner;
  if (atomic_load(&s->sleeping) != 0) {
    atomic_fetch_add(&s->wake_word, 1);
    hl_ring_futex_wake(&s->wake_word);
  }
}

/* --- store thread ------------------------------------------------------------ */

static void decode(const char *p, rec_hdr *h, hl_span v[V_COUNT]) {
  memcpy(h, p, sizeof(*h));
  p += sizeof(*h);
  for (int i = 0; i < V_COUNT; i++) {
    v[i] = hl_span_make(p, h->len[i]);
    p += h->len[i];
  }
}

static hl_message_rec message_of(const rec_hdr *h, const hl_span v[V_COUNT]) {
  return (hl_message_rec){.id = v[V_MESSAGE_ID],
                          .event = v[V_EVENT],
                          .tenant = v[V_TENANT],
                          .endpoint = v[V_ENDPOINT],
                          .data = v[V_DATA],
                          .created_ms = h->created_ms};
}

static int apply_attempt(hl_storer *s, const rec_hdr *h, const hl_span v[V_COUNT], hl_err *err) {
  hl_message_rec m = message_of(h, v);
  int rc = 0;
  if ((h->flags & F_STORE_PAYLOAD) != 0) {
    rc = hl_store_message_put(s->store, &m, err);
    atomic_fetch_add_explicit(&s->stats.payloads, 1, memory_order_relaxed);
  }
  hl_attempt_rec a = {.message_id = m.id,
                      .event = m.event,
                      .endpoint_rowid = h->endpoint_rowid,
                      .attempt = h->attempt,
                      .started_ms = h->started_ms,
                      .duration_us = h->duration_us,
                      .status = h->status,
                      .outcome = (hl_outcome)h->outcome,
                      .error_class = v[V_ERROR_CLASS],
                      .error_detail = v[V_ERROR_DETAIL],
                      .response_excerpt = v[V_EXCERPT],
                      .next_ms = h->next_ms};
  if (rc == 0) {
    rc = hl_store_attempt_add(s->store, &a, err);
    atomic_fetch_add_explicit(&s->stats.attempts, 1, memory_order_relaxed);
  }
  if (rc != 0) {
    return rc;
  }
  switch (a.outcome) {
    case HL_OUTCOME_RETRY:
      return hl_store_pending_put(s->store, m.id, h->endpoint_rowid, h->attempt + 1, h->next_ms,
                                  err);
    case HL_OUTCOME_DEAD:
      rc = hl_store_dead_letter_put(s->store, m.id, h->endpoint_rowid, h->started_ms,
                                    v[V_ERROR_CLASS], err);
      break;
    default:
      break;
  }
  if (rc == 0 && (h->flags & F_FROM_PENDING) != 0) {
    rc = hl_store_pending_delete(s->store, m.id, h->endpoint_rowid, err);
  }
  return rc;
}

static int apply(hl_storer *s, const char *p, hl_err *err) {
  rec_hdr h;
  hl_span v[V_COUNT];
  decode(p, &h, v);
  switch (h.type) {
    case REC_ATTEMPT:
      return apply_attempt(s, &h, v, err);
    case REC_DEFER: {
      hl_message_rec m = message_of(&h, v);
      int rc = (h.flags & F_STORE_PAYLOAD) != 0 ? hl_store_message_put(s->store, &m, err) : 0;
      return rc != 0 ? rc
                     : hl_store_pending_put(s->store, m.id, h.endpoint_rowid, h.attempt, h.next_ms,
                                            err);
    }
    case REC_DISABLE: {
      char reason[128];
      hl_span_to_cstr(hl_span_sub(v[V_ERROR_DETAIL], 0, sizeof(reason) - 1), reason,
                      sizeof(reason));
      int rc = hl_store_endpoint_set_enabled(s->store, v[V_ENDPOINT], false, reason, err);
      return rc == -ENOENT ? 0 : rc; /* deleted meanwhile: nothing to disable */
    }
    case REC_BREAKER: {
      char state[32];
      hl_span_to_cstr(hl_span_sub(v[V_ERROR_CLASS], 0, sizeof(state) - 1), state, sizeof(state));
      return hl_store_endpoint_state_put(s->store, h.endpoint_rowid, state, h.started_ms,
                                         h.attempt, err);
    }
  }
  HL_UNREACHABLE();
}

/* One round of group commit. Returns records committed, or -errno. */
static int64_t commit_round(hl_storer *s) {
  hl_spsc_cursor cur[HL_STORER_LANES_MAX];
  uint64_t last_seq[HL_STORER_LANES_MAX];
  int64_t n = 0;
  hl_err err = {{0}};
  bool began = false;
  int rc = 0;
  for (uint32_t i = 0; i < s->lanes_n && rc == 0; i++) {
    hl_storer_lane *l = &s->lanes[i];
    cur[i] = hl_spsc_begin(&l->q);
    last_seq[i] = 0;
    const char *p;
    size_t len;
    while (rc == 0 && n < HL_STORER_BATCH_MAX && (p = hl_spsc_next(&l->q, &cur[i], &len)) != NULL) {
      if (!began) {
        rc = hl_store_begin(s->store, &err);
        began = rc == 0;
        if (rc != 0) {
          break;
        }
      }
      rc = apply(s, p, &err);
      memcpy(&last_seq[i], p + offsetof(rec_hdr, seq), sizeof(uint64_t));
      n++;
    }
  }
  if (!began && rc == 0) {
    return 0; /* nothing to write */
  }
  if (rc == 0) {
    rc = hl_store_commit(s->store, &err);
  }
  if (rc != 0) {
    if (began) {
      hl_store_rollback(s->store);
    }
    atomic_fetch_add_explicit(&s->stats.errors, 1, memory_order_relaxed);
    HL_LOG(HL_LOG_ERROR, "store write failed; retrying", HL_F_STR("error", err.msg));
    return rc;
  }
  for (uint32_t i = 0; i < s->lanes_n; i++) {
    if (last_seq[i] == 0) {
      continue;
    }
    hl_spsc_release(&s->lanes[i].q, cur[i]);
    atomic_store_explicit(&s->lanes[i].committed_seq, last_seq[i], memory_order_release);
    if (s->o.on_committed != NULL) {
      s->o.on_committed(i, s->o.ctx);
    }
  }
  atomic_fetch_add_explicit(&s->stats.records, (uint64_t)n, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->stats.commits, 1, memory_order_relaxed);
  return n;
}


typedef struct due_ctx {
  hl_storer *s;
  due_item *items;
  uint32_t n;
} due_ctx;

static int on_due_row(const hl_pending_rec *p, void *vctx) {
  due_ctx *d = vctx;
  due_item *it = &d->items[d->n];
  if (!hl_span_to_cstr(p->message.id, it->id, sizeof(it->id))) {
    return 0; /* cannot be ours: ids are bounded on the way in */
  }
  hl_span_to_cstr(hl_span_sub(p->message.event, 0, sizeof(it->event) - 1), it->event,
                  sizeof(it->event));
  it->endpoint_rowid = p->endpoint_rowid;
  it->attempt = p->attempt;
  it->verdict = d->s->o.on_due(p, d->s->o.ctx);
  d->n++;
  return 0;
}

/* Hands due retries to the engine and leases them. */
static void poll_due(hl_storer *s, int64_t now_ms) {
  if (s->o.on_due == NULL) {
    return;
  }
  due_item *items = s->due;
  due_ctx d = {.s = s, .items = items};
  hl_err err = {{0}};
  if (hl_store_begin(s->store, &err) != 0) {
    return;
  }
  int rc = hl_store_pending_due(s->store, now_ms, HL_STORER_DUE_BATCH_MAX, on_due_row, &d, &err);
  for (uint32_t i = 0; rc == 0 && i < d.n; i++) {
    due_item *it = &items[i];
    hl_span id = hl_span_cstr(it->id);
    if (it->verdict == HL_PENDING_TAKEN) {
      rc = hl_store_pending_lease(s->store, id, it->endpoint_rowid, now_ms + s->o.lease_ms,
                                  &err);
      atomic_fetch_add_explicit(&s->stats.due_dispatched, 1, memory_order_relaxed);
    } else if (it->verdict == HL_PENDING_DROP) {
      hl_attempt_rec a = {.message_id = id,
                          .event = hl_span_cstr(it->event),
                          .endpoint_rowid = it->endpoint_rowid,
                          .attempt = it->attempt,
                          .started_ms = now_ms,
                          .outcome = HL_OUTCOME_DROPPED,
                          .error_class = HL_SPAN_LIT("endpoint_unavailable"),
                          .error_detail = HL_SPAN_LIT("the endpoint was deleted or disabled")};
      rc = hl_store_attempt_add(s->store, &a, &err);
      if (rc == 0) {
        rc = hl_store_pending_delete(s->store, id, it->endpoint_rowid, &err);
      }
    }
  }
  if (rc == 0) {
    rc = hl_store_commit(s->store, &err);
  }
  if (rc != 0) {
    hl_store_rollback(s->store);
    HL_LOG(HL_LOG_ERROR, "scheduling retries failed", HL_F_STR("error", err.msg));
  }
  atomic_store_explicit(&s->stats.pending, hl_store_pending_count(s->store),
                        memory_order_relaxed);
}

static void poll_endpoints(hl_storer *s) {
  int64_t g = hl_store_endpoints_generation(s->store);
  if (g >= 0 && g != s->generation) {
    s->generation = g;
    if (s->o.on_endpoints != NULL) {
      s->o.on_endpoints(s->store, g, s->o.ctx);
    }
  }
}

/* Retention: one bounded prune step per poll while a pass runs; a new pass
 * starts every RETENTION_PASS_MS. */
#define RETENTION_PASS_MS (10 * 60 * 1000)

static void poll_retention(hl_storer *s, int64_t now_wall_ms) {
  if (s->o.retention_ms <= 0) {
    return;
  }
  if (s->prune.done && now_wall_ms >= s->prune_next_ms) {
    hl_prune_init(&s->prune, now_wall_ms - s->o.retention_ms, HL_PRUNE_BATCH_ROWS_DEFAULT);
    s->prune_next_ms = now_wall_ms + RETENTION_PASS_MS;
  }
  if (s->prune.done) {
    return;
  }
  hl_err err = {{0}};
  if (hl_store_prune_step(s->store, &s->prune, &err) != 0) {
    HL_LOG(HL_LOG_WARN, "retention pruning failed; will retry", HL_F_STR("error", err.msg));
    s->prune.done = true;
  }
  atomic_store_explicit(&s->stats.pruned, (uint64_t)s->prune.deleted.attempts,
                        memory_order_relaxed);
}

static bool lanes_empty(hl_storer *s) {
  for (uint32_t i = 0; i < s->lanes_n; i++) {
    if (!hl_spsc_empty(&s->lanes[i].q)) {
      return false;
    }
  }
  return true;
}

static void *storer_main(void *arg) {
  hl_storer *s = arg;
  pthread_setname_np(pthread_self(), "hl-store");
  int64_t next_poll = 0;
  int64_t last_active = (int64_t)hl_clock_mono_ms();
  for (;;) {
    bool stopping = atomic_load(&s->stopping);
    atomic_store_explicit(&s->stats.last_round_ms, hl_clock_mono_ms(), memory_order_relaxed);
    int64_t n = commit_round(s);
    if (n < 0) {
      /* Keep the records; try again after a pause (disk full, locked). */
      hl_ring_futex_wait(&s->wake_word, atomic_load(&s->wake_word), RETRY_PAUSE_MS);
      if (stopping && n == -ENOSPC) {
        break;
      }
      continue;
    }
    int64_t now = (int64_t)hl_clock_mono_ms();
    if (!stopping && now >= next_poll) {
      poll_endpoints(s);
      poll_due(s, (int64_t)hl_clock_wall_ms());
      poll_retention(s, (int64_t)hl_clock_wall_ms());
      next_poll = now + s->o.poll_ms;
    }
    if (n >= HL_STORER_BATCH_TARGET) {
      continue; /* busy: the next batch is already waiting */
    }
    if (stopping) {
      if (n == 0) {
        break;
      }
      continue;
    }
    /* While records keep coming, nap between commits instead of sleeping:
     * a nap gathers the next batch, and workers never pay a wake-up
     * syscall for it. Only after ACTIVE_WINDOW_MS without records does the
     * thread sleep deeply and ask to be woken. */
    if (n > 0) {
      last_active = now;
    }
    if (now - last_active < ACTIVE_WINDOW_MS) {
      hl_ring_futex_wait(&s->wake_word, atomic_load(&s->wake_word), NAP_MS);
      continue;
    }
    /* Deep sleep until a worker publishes or the next poll: read the word
     * before checking the lanes, so a publish in between wakes us. */
    uint32_t word = atomic_load(&s->wake_word);
    atomic_store(&s->sleeping, 1);
    if (lanes_empty(s) && !atomic_load(&s->stopping)) {
      int64_t wait = next_poll - (int64_t)hl_clock_mono_ms();
      hl_ring_futex_wait(&s->wake_word, word, wait > 0 ? wait : 0);
    }
    atomic_store(&s->sleeping, 0);
    last_active = (int64_t)hl_clock_mono_ms();
  }
  return NULL;
}

int hl_storer_new(hl_storer **out, const hl_storer_options *o, hl_err *err) {
  *out = NULL;
  hl_storer *s = calloc(1, sizeof(*s) + o->lanes * sizeof(hl_storer_lane));
  if (s == NULL) {
    return hl_err_fail(err, -ENOMEM, "store thread: out of memory");
  }
  s->o = *o;
  if (s->o.poll_ms == 0) {
    s->o.poll_ms = HL_STORER_POLL_MS_DEFAULT;
  }
  if (s->o.lease_ms == 0) {
    s->o.lease_ms = 5 * 60 * 1000;
  }
  s->generation = -1;
  s->prune.done = true;
  s->lanes_n = o->lanes;
  HL_ASSERT(o->lanes >= 1 && o->lanes <= HL_STORER_LANES_MAX);
  s->due = calloc(HL_STORER_DUE_BATCH_MAX, sizeof(due_item));
  size_t bytes = o->lane_bytes != 0 ? o->lane_bytes : HL_STORER_LANE_BYTES_DEFAULT;
  int rc = s->due != NULL ? 0 : -ENOMEM;
  for (uint32_t i = 0; i < o->lanes && rc == 0; i++) {
    s->lanes[i].owner = s;
    s->lanes[i].index = i;
    rc = hl_spsc_init(&s->lanes[i].q, bytes);
  }
  if (rc != 0) {
    rc = hl_err_fail(err, rc, "store thread: cannot allocate %u lanes of %zu bytes", o->lanes,
                     bytes);
  }
  if (rc == 0) {
    rc = hl_store_open(&s->store, o->data_dir, HL_STORE_READ_WRITE, err);
  }
  if (rc == 0 && o->reclaim_leases) {
    int64_t n = hl_store_pending_reclaim(s->store, (int64_t)hl_clock_wall_ms(), err);
    rc = n < 0 ? (int)n : 0;
    if (n > 0) {
      HL_LOG(HL_LOG_INFO, "retries handed to an engine that stopped are due again",
             HL_F_INT("deliveries", n));
    }
  }
  if (rc != 0) {
    hl_storer_stop(s);
    return rc;
  }
  *out = s;
  return 0;
}

int hl_storer_start(hl_storer *s, hl_err *err) {
  if (pthread_create(&s->thread, NULL, storer_main, s) != 0) {
    return hl_err_fail(err, -EAGAIN, "store thread: cannot start");
  }
  s->started = true;
  return 0;
}

void hl_storer_stop(hl_storer *s) {
  if (s == NULL) {
    return;
  }
  if (s->started) {
    atomic_store(&s->stopping, true);
    atomic_fetch_add(&s->wake_word, 1);
    hl_ring_futex_wake(&s->wake_word);
    pthread_join(s->thread, NULL);
  }
  hl_store_close(s->store);
  for (uint32_t i = 0; i < s->lanes_n; i++) {
    hl_spsc_cleanup(&s->lanes[i].q);
  }
  free(s->due);
  free(s);
}

hl_storer_lane *hl_storer_lane_get(hl_storer *s, uint32_t i) {
  HL_ASSERT(i < s->lanes_n);
  return &s->lanes[i];
}

const hl_storer_stats *hl_storer_stats_get(const hl_storer *s) {
  return &s->stats;
}
