/* consumer: attach, cursors with batch reads and out-of-order release, the
 * sleep protocol, corruption handling (see consumer.h). */
#include "ring/consumer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/mem.h"
#include "base/log.h"

/* A window slot: the position just past the record, with bit 0 set once the
 * cursor released it (positions are multiples of 16, so bit 0 is free). */
#define SLOT_RELEASED 1ull
#define NO_QUARANTINE UINT64_MAX
#define REAPER UINT32_MAX /* "cursor" index of reports made by reap/attach */

/* What a cursor publishes about one lane for the other threads: the tail is
 * the minimum of the cursors' release positions, and a quarantined lane is
 * reset once every cursor stopped with nothing in flight. */
typedef struct cursor_pub {
  _Atomic uint64_t released;
  _Atomic uint64_t read_pos;
  _Atomic uint32_t stopped;
  uint32_t reserved0;
} cursor_pub;

/* A cursor's private state for one lane. */
typedef struct cursor_lane {
  uint64_t read_pos;  /* next record to read */
  uint64_t released;  /* released up to here */
  uint64_t front_seq; /* oldest record not yet released past */
  uint64_t next_seq;  /* seq the next record read gets */
  uint64_t *win;      /* slots for seqs [front_seq, next_seq), indexed seq & win_mask */
  uint32_t epoch;     /* the lane epoch read_pos belongs to */
  bool stopped;       /* quarantined: not read until the lane is reset */
} cursor_lane;

struct hl_ring_cursor {
  alignas(HL_RING_CACHE_LINE) hl_ring_consumer *c;
  uint32_t index;
  uint32_t rr; /* lane that goes first in the next read */
  cursor_pub *pub; /* this cursor's row: one entry per lane */
  hl_ring_cursor_stats stats;
  cursor_lane lanes[HL_RING_LANES_MAX];
};

struct hl_ring_consumer {
  hl_ring_header *hdr;
  size_t map_bytes;
  int fd;      /* kept open: it holds the engine's flock */
  bool mapped; /* we mapped hdr (and unmap it at close) */
  hl_ring_geometry geo;
  uint64_t lane_mask;
  uint64_t win_cap;
  uint64_t win_mask;
  uint64_t *win_mem;
  size_t win_bytes;
  uint32_t cursor_count;
  hl_ring_cursor *cursors;
  cursor_pub *pub; /* [cursor][lane] */
  /* Where the first cursor that found a lane broken stopped; every cursor
   * stops there, so that all of them saw the same records. */
  _Atomic uint64_t quarantine_pos[HL_RING_LANES_MAX];
  hl_ring_corrupt_fn on_corrupt;
  void *on_corrupt_ctx;
  _Atomic uint64_t lanes_reaped;
  _Atomic uint64_t lanes_reset;
  _Atomic uint64_t producer_wakes;
  char name[HL_RING_NAME_BYTES_MAX];
};

static hl_ring_lane *lane_ctl(const hl_ring_consumer *c, uint32_t i) {
  return hl_ring_lane_at(c->hdr, &c->geo, i);
}

static cursor_pub *pub_at(const hl_ring_consumer *c, uint32_t cursor, uint32_t lane) {
  return &c->pub[(size_t)cursor * c->geo.lane_count + lane];
}

static void report(hl_ring_consumer *c, uint32_t cursor, uint32_t lane, uint64_t pos,
                   const char *reason) {
  if (c->on_corrupt != NULL) {
    c->on_corrupt(c->on_corrupt_ctx, cursor, lane, pos, reason);
    return;
  }
  HL_LOG(HL_LOG_WARN, "ring corruption", HL_F_STR("ring", c->name),
         HL_F_INT("cursor", cursor == REAPER ? -1 : (int64_t)cursor), HL_F_UINT("lane", lane),
         HL_F_UINT("pos", pos), HL_F_STR("reason", reason));
}

static void lower_quarantine_pos(hl_ring_consumer *c, uint32_t lane, uint64_t pos) {
  uint64_t cur = atomic_load_explicit(&c->quarantine_pos[lane], memory_order_acquire);
  while (pos < cur && !atomic_compare_exchange_weak_explicit(&c->quarantine_pos[lane], &cur, pos,
                                                             memory_order_acq_rel,
                                                             memory_order_acquire)) {
  }
}

static void stop(hl_ring_cursor *k, uint32_t i) {
  k->lanes[i].stopped = true;
  /* Publish where the cursor stopped before saying it stopped: reap
   * resets the lane only once released == read_pos for every stopped
   * cursor, and must not see a read position older than the records
   * still in flight. */
  atomic_store_explicit(&k->pub[i].read_pos, k->lanes[i].read_pos, memory_order_release);
  atomic_store_explicit(&k->pub[i].stopped, 1, memory_order_release);
}

__attribute__((format(printf, 3, 4))) static void quarantine(hl_ring_cursor *k, uint32_t i,
                                                             const char *fmt, ...) {
  hl_ring_consumer *c = k->c;
  cursor_lane *kl = &k->lanes[i];
  if (kl->stopped) {
    return;
  }
  char why[HL_ERR_BYTES];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  char msg[HL_ERR_BYTES + 64];
  snprintf(msg, sizeof(msg), "lane quarantined: %s", why);
  lower_quarantine_pos(c, i, kl->read_pos);
  atomic_store_explicit(&lane_ctl(c, i)->state, HL_RING_LANE_QUARANTINED, memory_order_release);
  stop(k, i);
  k->stats.lanes_quarantined++;
  report(c, k->index, i, kl->read_pos, msg);
}

/* --- attach --------------------------------------------------------------- */

static int options_resolve(const hl_ring_consumer_options *o, hl_ring_consumer_options *r,
                           hl_err *err) {
  *r = o != NULL ? *o : (hl_ring_consumer_options){0};
  if (r->mode == 0) {
    r->mode = HL_RING_MODE_DEFAULT;
  }
  if (r->lanes == 0) {
    r->lanes = HL_RING_LANES_DEFAULT;
  }
  if (r->lane_bytes == 0) {
    r->lane_bytes = HL_RING_LANE_BYTES_DEFAULT;
  }
  if (r->cursors == 0) {
    r->cursors = 1;
  }
  if (r->inflight_per_lane == 0) {
    r->inflight_per_lane = HL_RING_LANE_INFLIGHT_DEFAULT;
  }
  if (r->cursors > HL_RING_CURSORS_MAX) {
    return hl_err_fail(err, -EINVAL, "ring cursors: %u is above the limit of %d", r->cursors,
                       HL_RING_CURSORS_MAX);
  }
  if (r->inflight_per_lane > HL_RING_LANE_INFLIGHT_MAX) {
    return hl_err_fail(err, -EINVAL, "ring in-flight per lane: %u is above the limit of %u",
                       r->inflight_per_lane, (unsigned)HL_RING_LANE_INFLIGHT_MAX);
  }
  return 0;
}

/* attach_lock takes the engine's exclusive lock on the segment. */
static int attach_lock(int fd, const char *name, hl_err *err) {
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    return 0;
  }
  if (errno != EWOULDBLOCK) {
    return hl_err_fail(err, -errno, "ring '%s': flock: %s", name, strerror(errno));
  }
  hl_ring_header h;
  memset(&h, 0, sizeof(h));
  ssize_t n = pread(fd, &h, sizeof(h), 0);
  uint32_t pid = n == (ssize_t)sizeof(h) ? atomic_load(&h.engine_pid) : 0;
  return hl_err_fail(err, -EBUSY, "ring '%s': another engine (pid %u) is attached to it", name,
                     pid);
}

static int map_fd(hl_ring_consumer *c, size_t bytes, hl_err *err) {
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
  if (m == MAP_FAILED) {
    return hl_err_fail(err, -errno, "ring '%s': mmap of %zu bytes: %s", c->name, bytes,
                       strerror(errno));
  }
  c->hdr = m;
  c->map_bytes = bytes;
  c->mapped = true;
  return 0;
}

/* init_segment sizes a new (or never-published) segment and writes its
 * header. Truncating to 0 first zeroes whatever a crashed creator left. */
static int init_segment(hl_ring_consumer *c, const hl_ring_consumer_options *o, hl_err *err) {
  int rc = hl_ring_geometry_compute(o->lanes, o->lane_bytes, &c->geo, err);
  if (rc != 0) {
    return rc;
  }
  if (ftruncate(c->fd, 0) != 0 || ftruncate(c->fd, (off_t)c->geo.segment_bytes) != 0) {
    return hl_err_fail(err, -errno, "ring '%s': cannot size it to %llu bytes: %s", c->name,
                       (unsigned long long)c->geo.segment_bytes, strerror(errno));
  }
  rc = map_fd(c, c->geo.segment_bytes, err);
  if (rc == 0) {
    hl_ring_header_init(c->hdr, &c->geo);
  }
  return rc;
}

static int map_segment(hl_ring_consumer *c, const hl_ring_consumer_options *o, hl_err *err) {
  struct stat st;
  if (fstat(c->fd, &st) != 0) {
    return hl_err_fail(err, -errno, "ring '%s': fstat: %s", c->name, strerror(errno));
  }
  if (st.st_size == 0) {
    return init_segment(c, o, err);
  }
  int rc = map_fd(c, (size_t)st.st_size, err);
  if (rc != 0) {
    return rc;
  }
  rc = hl_ring_header_check(c->hdr, c->map_bytes, c->name, &c->geo, err);
  if (rc == -EAGAIN) {
    /* Magic never published: its creator died while creating it, so no
     * producer has used it. We hold the lock: start it over. */
    munmap(c->hdr, c->map_bytes);
    c->hdr = NULL;
    c->mapped = false;
    return init_segment(c, o, err);
  }
  return rc;
}

/* attach_lane starts every cursor at the lane's tail: what was read and not
 * released by a previous engine is read again. */
static void attach_lane(hl_ring_consumer *c, uint32_t i) {
  hl_ring_lane *l = lane_ctl(c, i);
  if (atomic_load_explicit(&l->owner, memory_order_acquire) == HL_RING_OWNER_ENGINE) {
    /* A previous engine died while resetting this lane: finish it (we hold
     * the engine lock, and no producer can claim it meanwhile). */
    atomic_store_explicit(&l->head, 0, memory_order_relaxed);
    atomic_store_explicit(&l->tail, 0, memory_order_relaxed);
    atomic_store_explicit(&l->state, HL_RING_LANE_OK, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->epoch, 1, memory_order_release);
    atomic_store_explicit(&l->owner, HL_RING_OWNER_FREE, memory_order_release);
  }
  uint64_t tail = atomic_load_explicit(&l->tail, memory_order_acquire);
  uint64_t head = atomic_load_explicit(&l->head, memory_order_acquire);
  uint32_t epoch = atomic_load_explicit(&l->epoch, memory_order_acquire);
  atomic_store_explicit(&c->quarantine_pos[i], NO_QUARANTINE, memory_order_relaxed);
  for (uint32_t k = 0; k < c->cursor_count; k++) {
    cursor_lane *kl = &c->cursors[k].lanes[i];
    kl->read_pos = kl->released = tail;
    kl->epoch = epoch;
    cursor_pub *p = pub_at(c, k, i);
    atomic_store_explicit(&p->released, tail, memory_order_relaxed);
    atomic_store_explicit(&p->read_pos, tail, memory_order_relaxed);
  }
  bool broken = tail % HL_RING_RECORD_ALIGN != 0 || head % HL_RING_RECORD_ALIGN != 0 ||
                head < tail || head - tail > c->geo.lane_bytes;
  if (broken) {
    char msg[160];
    snprintf(msg, sizeof(msg), "lane quarantined: at attach, head %llu and tail %llu are "
                               "inconsistent",
             (unsigned long long)head, (unsigned long long)tail);
    atomic_store_explicit(&l->state, HL_RING_LANE_QUARANTINED, memory_order_release);
    report(c, REAPER, i, tail, msg);
  }
  if (atomic_load_explicit(&l->state, memory_order_acquire) != HL_RING_LANE_OK) {
    /* Quarantined before (or just now): no cursor reads it; reap resets it
     * once its producer is gone. */
    atomic_store_explicit(&c->quarantine_pos[i], tail, memory_order_relaxed);
  }
}

static hl_ring_consumer *consumer_new(const hl_ring_consumer_options *o) {
  hl_ring_consumer *c = calloc(1, sizeof(*c));
  if (c != NULL) {
    c->fd = -1;
    c->on_corrupt = o->on_corrupt;
    c->on_corrupt_ctx = o->on_corrupt_ctx;
    c->cursor_count = o->cursors;
  }
  return c;
}

/* consumer_start allocates the cursors and their windows and takes over
 * the lanes of a mapped, validated segment. */
static int consumer_start(hl_ring_consumer *c, const hl_ring_consumer_options *o, hl_err *err) {
  c->lane_mask = c->geo.lane_bytes - 1;
  c->win_cap = 1;
  while (c->win_cap < o->inflight_per_lane) {
    c->win_cap <<= 1;
  }
  c->win_mask = c->win_cap - 1;
  size_t lanes = c->geo.lane_count, cursors = c->cursor_count;
  /* The windows are sized for the worst case and touched only as used. */
  c->win_bytes = (size_t)cursors * lanes * c->win_cap * sizeof(uint64_t);
  c->win_mem = hl_mem_reserve(c->win_bytes);
  c->pub = calloc(cursors * lanes, sizeof(cursor_pub));
  c->cursors = aligned_alloc(HL_RING_CACHE_LINE, cursors * sizeof(hl_ring_cursor));
  if (c->win_mem == NULL || c->pub == NULL || c->cursors == NULL) {
    return hl_err_fail(err, -ENOMEM, "ring '%s': out of memory for %zu cursors", c->name,
                       cursors);
  }
  memset(c->cursors, 0, cursors * sizeof(hl_ring_cursor));
  for (uint32_t k = 0; k < c->cursor_count; k++) {
    hl_ring_cursor *cur = &c->cursors[k];
    cur->c = c;
    cur->index = k;
    cur->pub = pub_at(c, k, 0);
    for (uint32_t i = 0; i < c->geo.lane_count; i++) {
      cur->lanes[i].win = c->win_mem + ((size_t)k * lanes + i) * c->win_cap;
    }
  }
  for (uint32_t i = 0; i < c->geo.lane_count; i++) {
    attach_lane(c, i);
  }
  atomic_store_explicit(&c->hdr->engine_pid, (uint32_t)getpid(), memory_order_release);
  atomic_fetch_add_explicit(&c->hdr->engine_attaches, 1, memory_order_relaxed);
  /* A previous engine may have died asleep: producers would keep waking. */
  atomic_store_explicit(&c->hdr->sleep_word, 0, memory_order_release);
  return 0;
}

int hl_ring_consumer_open(hl_ring_consumer **out, const char *name,
                          const hl_ring_consumer_options *opts, hl_err *err) {
  *out = NULL;
  hl_ring_consumer_options o;
  int rc = options_resolve(opts, &o, err);
  if (rc != 0) {
    return rc;
  }
  hl_ring_geometry want;
  if (o.create && (rc = hl_ring_geometry_compute(o.lanes, o.lane_bytes, &want, err)) != 0) {
    return rc;
  }
  hl_ring_consumer *c = consumer_new(&o);
  if (c == NULL) {
    return hl_err_fail(err, -ENOMEM, "ring '%s': out of memory", name);
  }
  bool created;
  rc = hl_ring_segment_open(name, o.create, o.mode, &c->fd, &created, err);
  if (rc == 0) {
    snprintf(c->name, sizeof(c->name), "%s", name);
    rc = attach_lock(c->fd, name, err);
  }
  if (rc == 0) {
    rc = map_segment(c, &o, err);
  }
  if (rc == 0) {
    rc = consumer_start(c, &o, err);
  }
  if (rc != 0) {
    hl_ring_consumer_close(c);
    return rc;
  }
  *out = c;
  return 0;
}

int hl_ring_consumer_open_memory(hl_ring_consumer **out, void *mem, size_t len,
                                 const hl_ring_consumer_options *opts, hl_err *err) {
  *out = NULL;
  hl_ring_consumer_options o;
  int rc = options_resolve(opts, &o, err);
  if (rc != 0) {
    return rc;
  }
  hl_ring_consumer *c = consumer_new(&o);
  if (c == NULL) {
    return hl_err_fail(err, -ENOMEM, "ring in memory: out of memory");
  }
  snprintf(c->name, sizeof(c->name), "(memory)");
  c->hdr = mem;
  c->map_bytes = len;
  rc = hl_ring_header_check(c->hdr, len, c->name, &c->geo, err);
  if (rc == 0) {
    rc = consumer_start(c, &o, err);
  }
  if (rc != 0) {
    c->hdr = NULL;
    hl_ring_consumer_close(c);
    return rc;
  }
  *out = c;
  return 0;
}

void hl_ring_consumer_close(hl_ring_consumer *c) {
  if (c == NULL) {
    return;
  }
  if (c->hdr != NULL) {
    uint32_t me = (uint32_t)getpid();
    atomic_compare_exchange_strong(&c->hdr->engine_pid, &me, 0);
    if (c->mapped) {
      munmap(c->hdr, c->map_bytes);
    }
  }
  if (c->fd >= 0) {
    close(c->fd);
  }
  hl_mem_release(c->win_mem, c->win_bytes);
  free(c->pub);
  free(c->cursors);
  free(c);
}

uint64_t hl_ring_consumer_created_ms(const hl_ring_consumer *c) {
  return c->hdr->created_ms;
}

hl_ring_geometry hl_ring_consumer_geometry(const hl_ring_consumer *c) {
  return c->geo;
}

uint32_t hl_ring_consumer_cursors(const hl_ring_consumer *c) {
  return c->cursor_count;
}

hl_ring_cursor *hl_ring_consumer_cursor(hl_ring_consumer *c, uint32_t i) {
  HL_ASSERT(i < c->cursor_count);
  return &c->cursors[i];
}

int hl_ring_consumer_retire(hl_ring_consumer *c) {
  atomic_fetch_or_explicit(&c->hdr->flags, HL_RING_F_RETIRED, memory_order_release);
  return hl_ring_segment_unlink(c->name);
}

hl_ring_consumer_stats hl_ring_consumer_stats_get(const hl_ring_consumer *c) {
  return (hl_ring_consumer_stats){
      .lanes_reaped = atomic_load(&((hl_ring_consumer *)c)->lanes_reaped),
      .lanes_reset = atomic_load(&((hl_ring_consumer *)c)->lanes_reset),
      .producer_wakes = atomic_load(&((hl_ring_consumer *)c)->producer_wakes),
  };
}

/* --- release and tails ---------------------------------------------------- */

static bool window_full(const hl_ring_consumer *c, const cursor_lane *kl) {
  return kl->next_seq - kl->front_seq == c->win_cap;
}

static void window_push(hl_ring_consumer *c, cursor_lane *kl, uint64_t end, bool released) {
  HL_ASSERT(!window_full(c, kl) && end % HL_RING_RECORD_ALIGN == 0);
  kl->win[kl->next_seq & c->win_mask] = end | (released ? SLOT_RELEASED : 0);
  kl->next_seq++;
}

/* advance moves the cursor's release position past its longest released
 * prefix and publishes it; returns whether it moved. */
static bool advance(hl_ring_cursor *k, uint32_t i) {
  cursor_lane *kl = &k->lanes[i];
  uint64_t mask = k->c->win_mask;
  bool moved = false;
  while (kl->front_seq != kl->next_seq) {
    uint64_t slot = kl->win[kl->front_seq & mask];
    if ((slot & SLOT_RELEASED) == 0) {
      break;
    }
    kl->released = slot & ~SLOT_RELEASED;
    kl->front_seq++;
    moved = true;
  }
  if (moved) {
    atomic_store_explicit(&k->pub[i].released, kl->released, memory_order_release);
  }
  return moved;
}

/* raise_tail moves lane i's shared tail up to the minimum release position
 * of all cursors. Several cursors may race here: the tail only grows. */
static bool raise_tail(hl_ring_consumer *c, uint32_t i) {
  uint64_t m = UINT64_MAX;
  for (uint32_t k = 0; k < c->cursor_count; k++) {
    uint64_t v = atomic_load_explicit(&pub_at(c, k, i)->released, memory_order_acquire);
    m = v < m ? v : m;
  }
  _Atomic uint64_t *tail = &lane_ctl(c, i)->tail;
  uint64_t cur = atomic_load_explicit(tail, memory_order_relaxed);
  while (cur < m) {
    if (atomic_compare_exchange_weak_explicit(tail, &cur, m, memory_order_release,
                                              memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

/* publish_tails raises the tails of the lanes in |moved| and wakes their
 * producers if they wait for space. */
static void publish_tails(hl_ring_consumer *c, uint64_t moved) {
  uint64_t raised = 0;
  for (uint32_t i = 0; moved != 0 && i < c->geo.lane_count; i++) {
    if (((moved >> i) & 1u) != 0 && raise_tail(c, i)) {
      raised |= 1ull << i;
    }
  }
  if (raised == 0) {
    return;
  }
  /* Pairs with the producer's fence between announcing a wait and
   * re-reading the tail. */
  atomic_thread_fence(memory_order_seq_cst);
  for (uint32_t i = 0; i < c->geo.lane_count; i++) {
    if (((raised >> i) & 1u) == 0) {
      continue;
    }
    _Atomic uint32_t *w = &lane_ctl(c, i)->space_word;
    if (atomic_load_explicit(w, memory_order_relaxed) != 0 &&
        atomic_exchange_explicit(w, 0, memory_order_acq_rel) != 0) {
      hl_ring_futex_wake(w);
      atomic_fetch_add_explicit(&c->producer_wakes, 1, memory_order_relaxed);
    }
  }
}

static int release_one(hl_ring_cursor *k, const hl_ring_token *t, uint64_t *moved) {
  if (t->lane >= k->c->geo.lane_count) {
    return -EINVAL;
  }
  cursor_lane *kl = &k->lanes[t->lane];
  if (t->seq >= kl->next_seq) {
    return -EINVAL;
  }
  if (t->seq < kl->front_seq) {
    return -EALREADY;
  }
  uint64_t *slot = &kl->win[t->seq & k->c->win_mask];
  if ((*slot & SLOT_RELEASED) != 0) {
    return -EALREADY;
  }
  *slot |= SLOT_RELEASED;
  k->stats.records_released++;
  if (t->seq == kl->front_seq && advance(k, t->lane)) {
    *moved |= 1ull << t->lane;
  }
  return 0;
}

int hl_ring_cursor_release(hl_ring_cursor *k, const hl_ring_token *tokens, size_t n) {
  uint64_t moved = 0;
  int first_err = 0;
  for (size_t j = 0; j < n; j++) {
    int rc = release_one(k, &tokens[j], &moved);
    if (rc != 0 && first_err == 0) {
      first_err = rc;
    }
  }
  publish_tails(k->c, moved);
  return first_err;
}

int hl_ring_cursor_release_upto(hl_ring_cursor *k, uint32_t lane, uint64_t seq) {
  if (lane >= k->c->geo.lane_count) {
    return -EINVAL;
  }
  cursor_lane *kl = &k->lanes[lane];
  if (seq >= kl->next_seq) {
    return -EINVAL;
  }
  for (uint64_t s = kl->front_seq; s <= seq; s++) {
    uint64_t *slot = &kl->win[s & k->c->win_mask];
    if ((*slot & SLOT_RELEASED) == 0) {
      *slot |= SLOT_RELEASED;
      k->stats.records_released++;
    }
  }
  if (advance(k, lane)) {
    publish_tails(k->c, 1ull << lane);
  }
  return 0;
}

/* --- reading -------------------------------------------------------------- */

/* lane_sync follows a reset of lane i (its epoch changed): the cursor let go
 * of everything there before the reset, and starts again at the new tail. */
static bool lane_sync(hl_ring_cursor *k, uint32_t i) {
  hl_ring_lane *l = lane_ctl(k->c, i);
  cursor_lane *kl = &k->lanes[i];
  uint32_t e = atomic_load_explicit(&l->epoch, memory_order_acquire);
  if (e == kl->epoch) {
    return false;
  }
  HL_ASSERT(kl->front_seq == kl->next_seq);
  uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);
  kl->read_pos = kl->released = t;
  kl->stopped = false;
  kl->epoch = e;
  atomic_store_explicit(&k->pub[i].released, t, memory_order_relaxed);
  atomic_store_explicit(&k->pub[i].read_pos, t, memory_order_relaxed);
  atomic_store_explicit(&k->pub[i].stopped, 0, memory_order_release);
  return true;
}

/* readable: the cursor may read lane i now (not stopped, window not full,
 * not at the quarantine point). */
static bool readable(hl_ring_cursor *k, uint32_t i) {
  cursor_lane *kl = &k->lanes[i];
  if (kl->stopped || window_full(k->c, kl)) {
    return false;
  }
  if (kl->read_pos >= atomic_load_explicit(&k->c->quarantine_pos[i], memory_order_acquire)) {
    stop(k, i);
    return false;
  }
  return true;
}

/* lane_head loads lane i's head and checks it against what the cursor
 * knows; a head that cannot be right quarantines the lane. Returns false if
 * nothing can be read from the lane. */
static bool lane_head(hl_ring_cursor *k, uint32_t i, uint64_t *head) {
  lane_sync(k, i);
  if (!readable(k, i)) {
    return false;
  }
  cursor_lane *kl = &k->lanes[i];
  uint64_t h = atomic_load_explicit(&lane_ctl(k->c, i)->head, memory_order_acquire);
  if (h == kl->read_pos) {
    return false;
  }
  if (h % HL_RING_RECORD_ALIGN != 0 || h < kl->read_pos ||
      h - kl->released > k->c->geo.lane_bytes) {
    quarantine(k, i,
               "head %llu is not a valid position (read up to %llu, released %llu, lane %llu "
               "bytes)",
               (unsigned long long)h, (unsigned long long)kl->read_pos,
               (unsigned long long)kl->released, (unsigned long long)k->c->geo.lane_bytes);
    return false;
  }
  *head = h;
  return true;
}

/* read_record examines the record at the cursor's read position in lane i.
 * Returns 1 with *item filled for a message, 0 for a record consumed
 * internally (pad, skipped corrupt record), -1 if the lane got quarantined. */
static int read_record(hl_ring_cursor *k, uint32_t i, uint64_t head, hl_ring_item *item) {
  hl_ring_consumer *c = k->c;
  cursor_lane *kl = &k->lanes[i];
  uint64_t pos = kl->read_pos;
  uint64_t avail = head - pos;
  uint64_t off = pos & c->lane_mask;
  uint64_t to_end = c->geo.lane_bytes - off;
  const uint8_t *base = hl_ring_lane_data(c->hdr, &c->geo, i) + off;
  hl_ring_record r;
  memcpy(&r, base, sizeof(r)); /* one read of the header: the checks use this copy */
  if (r.stamp != hl_ring_stamp(pos)) {
    quarantine(k, i, "record at position %llu carries stamp %u, not %u (overwritten or misframed)",
               (unsigned long long)pos, r.stamp, hl_ring_stamp(pos));
    return -1;
  }
  uint64_t size;
  if (r.type == HL_RING_REC_PAD) {
    size = to_end;
    if ((uint64_t)r.len + HL_RING_RECORD_HEADER_BYTES != to_end) {
      quarantine(k, i, "pad record at position %llu has length %u, not %llu",
                 (unsigned long long)pos, r.len,
                 (unsigned long long)(to_end - HL_RING_RECORD_HEADER_BYTES));
      return -1;
    }
  } else if (r.type == HL_RING_REC_MSG) {
    size = hl_ring_record_bytes(r.len);
    if (r.len == 0 || r.len > HL_RING_RECORD_BYTES_MAX || size > to_end) {
      quarantine(k, i, "record at position %llu has length %u (at most %llu fit)",
                 (unsigned long long)pos, r.len,
                 (unsigned long long)(to_end - HL_RING_RECORD_HEADER_BYTES));
      return -1;
    }
  } else {
    quarantine(k, i, "record at position %llu has unknown type %u", (unsigned long long)pos,
               r.type);
    return -1;
  }
  if (size > avail) {
    quarantine(k, i, "record at position %llu (%llu bytes) runs past the head %llu",
               (unsigned long long)pos, (unsigned long long)size, (unsigned long long)head);
    return -1;
  }
  kl->read_pos = pos + size;
  const uint8_t *payload = base + HL_RING_RECORD_HEADER_BYTES;
  uint32_t plen = r.type == HL_RING_REC_MSG ? r.len : 0;
  if (r.crc != hl_ring_record_crc(&r, payload, plen) || r.flags != 0) {
    char msg[128];
    snprintf(msg, sizeof(msg), "record skipped: %s (type %u, %u bytes)",
             r.flags != 0 ? "unknown flags" : "checksum mismatch", r.type, r.len);
    k->stats.records_corrupt++;
    report(c, k->index, i, pos, msg);
    window_push(c, kl, kl->read_pos, true);
    return 0;
  }
  if (r.type == HL_RING_REC_PAD) {
    window_push(c, kl, kl->read_pos, true);
    return 0;
  }
  item->payload = hl_span_make(payload, r.len);
  item->token = (hl_ring_token){.lane = i, .seq = kl->next_seq};
  item->pos = pos;
  window_push(c, kl, kl->read_pos, false);
  k->stats.records_read++;
  return 1;
}

/* read_lane takes up to |max| messages from lane i. Pads and skipped
 * records cost window slots but no items; the release position may move
 * past them. */
static size_t read_lane(hl_ring_cursor *k, uint32_t i, uint64_t head, hl_ring_item *items,
                        size_t max, uint64_t *moved) {
  cursor_lane *kl = &k->lanes[i];
  size_t n = 0;
  while (n < max && kl->read_pos != head && readable(k, i)) {
    int rc = read_record(k, i, head, &items[n]);
    if (rc < 0) {
      break;
    }
    if (rc == 0 && advance(k, i)) {
      *moved |= 1ull << i;
    }
    n += (size_t)rc;
  }
  atomic_store_explicit(&k->pub[i].read_pos, kl->read_pos, memory_order_release);
  return n;
}

size_t hl_ring_cursor_read(hl_ring_cursor *k, hl_ring_item *items, size_t cap) {
  uint32_t lanes = k->c->geo.lane_count;
  uint64_t heads[HL_RING_LANES_MAX];
  uint64_t active = 0;
  uint32_t n_active = 0;
  for (uint32_t i = 0; i < lanes; i++) {
    if (lane_head(k, i, &heads[i])) {
      active |= 1ull << i;
      n_active++;
    }
  }
  size_t count = 0;
  uint64_t moved = 0;
  /* Rounds over the lanes with data, each taking at most |quota|, until
   * the batch is full or every lane is drained; the first lane rotates. */
  while (active != 0 && count < cap) {
    size_t quota = (cap - count) / n_active;
    if (quota == 0) {
      quota = 1;
    }
    for (uint32_t j = 0; j < lanes && count < cap; j++) {
      uint32_t i = (k->rr + j) % lanes;
      if (((active >> i) & 1u) == 0) {
        continue;
      }
      size_t want = cap - count < quota ? cap - count : quota;
      size_t got = read_lane(k, i, heads[i], items + count, want, &moved);
      count += got;
      if (got < want || k->lanes[i].read_pos == heads[i]) {
        active &= ~(1ull << i);
        n_active--;
      }
    }
  }
  k->rr = (k->rr + 1) % lanes;
  publish_tails(k->c, moved);
  return count;
}

/* --- sleeping ------------------------------------------------------------- */

int hl_ring_cursor_prepare_sleep(hl_ring_cursor *k, uint32_t **word, uint32_t *expected) {
  _Atomic uint32_t *w = &k->c->hdr->sleep_word;
  uint32_t bit = 1u << k->index;
  uint32_t v = atomic_fetch_or_explicit(w, bit, memory_order_seq_cst) | bit;
  /* Pairs with the producer's fence after publishing: either we see its
   * head below, or it sees our bit and wakes us. */
  atomic_thread_fence(memory_order_seq_cst);
  for (uint32_t i = 0; i < k->c->geo.lane_count; i++) {
    bool work = lane_sync(k, i);
    if (!work && readable(k, i)) {
      uint64_t h = atomic_load_explicit(&lane_ctl(k->c, i)->head, memory_order_acquire);
      work = h != k->lanes[i].read_pos;
    }
    if (work) {
      atomic_fetch_and_explicit(w, ~bit, memory_order_relaxed);
      return -EAGAIN;
    }
  }
  *word = (uint32_t *)w;
  *expected = v;
  return 0;
}

void hl_ring_cursor_end_sleep(hl_ring_cursor *k) {
  atomic_fetch_and_explicit(&k->c->hdr->sleep_word, ~(1u << k->index), memory_order_relaxed);
}

hl_ring_cursor_stats hl_ring_cursor_stats_get(const hl_ring_cursor *k) {
  return k->stats;
}

int hl_ring_cursor_lane_info(const hl_ring_cursor *k, uint32_t lane, hl_ring_lane_info *out) {
  if (lane >= k->c->geo.lane_count) {
    return -EINVAL;
  }
  hl_ring_lane *l = lane_ctl(k->c, lane);
  const cursor_lane *kl = &k->lanes[lane];
  out->owner = atomic_load_explicit(&l->owner, memory_order_acquire);
  out->head = atomic_load_explicit(&l->head, memory_order_acquire);
  out->tail = atomic_load_explicit(&l->tail, memory_order_acquire);
  out->released = kl->released;
  out->read_pos = kl->read_pos;
  out->inflight = kl->next_seq - kl->front_seq;
  out->quarantined = kl->stopped;
  return 0;
}

/* --- lanes of dead producers, quarantined lanes --------------------------- */

/* cursors_let_go: every cursor stopped at the quarantine point of lane i
 * and released everything it read there. *max_read is the furthest read. */
static bool cursors_let_go(hl_ring_consumer *c, uint32_t i, uint64_t *max_read) {
  *max_read = 0;
  for (uint32_t k = 0; k < c->cursor_count; k++) {
    cursor_pub *p = pub_at(c, k, i);
    if (atomic_load_explicit(&p->stopped, memory_order_acquire) == 0) {
      return false;
    }
    uint64_t read = atomic_load_explicit(&p->read_pos, memory_order_acquire);
    if (atomic_load_explicit(&p->released, memory_order_acquire) != read) {
      return false;
    }
    *max_read = read > *max_read ? read : *max_read;
  }
  return true;
}

static bool reset_lane(hl_ring_consumer *c, uint32_t i, uint64_t owner) {
  hl_ring_lane *l = lane_ctl(c, i);
  if (atomic_load_explicit(&c->quarantine_pos[i], memory_order_acquire) == NO_QUARANTINE) {
    /* Marked quarantined in the segment, but by no cursor of ours (a
     * producer wrote its state): stop every cursor where it is. */
    uint64_t max_read = 0;
    for (uint32_t k = 0; k < c->cursor_count; k++) {
      uint64_t r = atomic_load_explicit(&pub_at(c, k, i)->read_pos, memory_order_acquire);
      max_read = r > max_read ? r : max_read;
    }
    lower_quarantine_pos(c, i, max_read);
    return false;
  }
  uint64_t max_read;
  if (!cursors_let_go(c, i, &max_read) ||
      !atomic_compare_exchange_strong_explicit(&l->owner, &owner, HL_RING_OWNER_ENGINE,
                                               memory_order_acq_rel, memory_order_relaxed)) {
    return false;
  }
  /* Restart past every position any cursor used, so that a late tail update
   * from before the reset cannot move the new tail. */
  uint64_t lb = c->geo.lane_bytes;
  uint64_t x = max_read <= UINT64_MAX - lb ? (max_read + lb - 1) / lb * lb : 0;
  uint64_t head = atomic_load_explicit(&l->head, memory_order_relaxed);
  char msg[160];
  snprintf(msg, sizeof(msg), "quarantined lane reset: %llu unread bytes discarded",
           head >= max_read && head - max_read <= lb ? (unsigned long long)(head - max_read)
                                                     : 0ull);
  report(c, REAPER, i, max_read, msg);
  atomic_store_explicit(&l->head, x, memory_order_relaxed);
  atomic_store_explicit(&l->tail, x, memory_order_relaxed);
  atomic_store_explicit(&l->space_word, 0, memory_order_relaxed);
  atomic_store_explicit(&c->quarantine_pos[i], NO_QUARANTINE, memory_order_relaxed);
  atomic_store_explicit(&l->state, HL_RING_LANE_OK, memory_order_relaxed);
  atomic_fetch_add_explicit(&l->epoch, 1, memory_order_release);
  atomic_store_explicit(&l->owner, HL_RING_OWNER_FREE, memory_order_release);
  atomic_fetch_add_explicit(&c->lanes_reset, 1, memory_order_relaxed);
  return true;
}

uint32_t hl_ring_consumer_reap(hl_ring_consumer *c) {
  uint32_t changed = 0;
  for (uint32_t i = 0; i < c->geo.lane_count; i++) {
    hl_ring_lane *l = lane_ctl(c, i);
    uint64_t owner = atomic_load_explicit(&l->owner, memory_order_acquire);
    if (owner == HL_RING_OWNER_ENGINE) {
      continue;
    }
    bool gone = owner == HL_RING_OWNER_FREE || !hl_ring_owner_alive(owner);
    if (atomic_load_explicit(&l->state, memory_order_acquire) != HL_RING_LANE_OK) {
      changed += gone && reset_lane(c, i, owner) ? 1u : 0u;
      continue;
    }
    if (owner == HL_RING_OWNER_FREE || !gone) {
      continue;
    }
    /* The tail is the minimum over the cursors: at the head, every cursor
     * released everything the dead producer published. */
    if (atomic_load_explicit(&l->tail, memory_order_acquire) !=
        atomic_load_explicit(&l->head, memory_order_acquire)) {
      continue;
    }
    if (atomic_compare_exchange_strong_explicit(&l->owner, &owner, HL_RING_OWNER_FREE,
                                                memory_order_acq_rel, memory_order_relaxed)) {
      atomic_fetch_add_explicit(&c->lanes_reaped, 1, memory_order_relaxed);
      changed++;
    }
  }
  return changed;
}
