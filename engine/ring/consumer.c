/* consumer: attach, batch reads, out-of-order release, sleep protocol,
 * corruption handling (see consumer.h). */
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
#include "base/log.h"

/* A window slot: the position just past the record, with bit 0 set once the
 * engine released it (positions are multiples of 16, so bit 0 is free). */
#define SLOT_RELEASED 1ull

typedef struct lane_state {
  uint64_t read_pos;  /* next record to read */
  uint64_t tail;      /* released up to here (our copy of lane->tail) */
  uint64_t front_seq; /* oldest record not yet passed by the tail */
  uint64_t next_seq;  /* seq the next record read gets */
  uint64_t *win;      /* slots for seqs [front_seq, next_seq), indexed seq & win_mask */
  bool quarantined;
} lane_state;

struct hl_ring_consumer {
  hl_ring_header *hdr;
  size_t map_bytes;
  int fd; /* kept open: it holds the engine's flock */
  bool mapped; /* we mapped hdr (and unmap it at close) */
  hl_ring_geometry geo;
  uint64_t lane_mask;
  uint64_t win_cap;
  uint64_t win_mask;
  uint64_t *win_mem;
  uint32_t rr; /* lane that goes first in the next read */
  hl_ring_corrupt_fn on_corrupt;
  void *on_corrupt_ctx;
  hl_ring_consumer_stats stats;
  lane_state lanes[HL_RING_LANES_MAX];
  char name[HL_RING_NAME_BYTES_MAX];
};

static void report(hl_ring_consumer *c, uint32_t lane, uint64_t pos, const char *reason) {
  if (c->on_corrupt != NULL) {
    c->on_corrupt(c->on_corrupt_ctx, lane, pos, reason);
    return;
  }
  HL_LOG(HL_LOG_WARN, "ring corruption", HL_F_STR("ring", c->name), HL_F_UINT("lane", lane),
         HL_F_UINT("pos", pos), HL_F_STR("reason", reason));
}

__attribute__((format(printf, 3, 4))) static void quarantine(hl_ring_consumer *c, uint32_t i,
                                                             const char *fmt, ...) {
  lane_state *ls = &c->lanes[i];
  if (ls->quarantined) {
    return;
  }
  char why[HL_ERR_BYTES];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  char msg[HL_ERR_BYTES + 64];
  snprintf(msg, sizeof(msg), "lane quarantined: %s", why);
  ls->quarantined = true;
  atomic_store_explicit(&hl_ring_lane_at(c->hdr, &c->geo, i)->state, HL_RING_LANE_QUARANTINED,
                        memory_order_release);
  c->stats.lanes_quarantined++;
  report(c, i, ls->read_pos, msg);
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
  if (r->inflight_per_lane == 0) {
    r->inflight_per_lane = HL_RING_LANE_INFLIGHT_DEFAULT;
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

/* attach_lanes starts every lane at its tail: what was read and not
 * released by a previous engine is read again. */
static void attach_lanes(hl_ring_consumer *c) {
  for (uint32_t i = 0; i < c->geo.lane_count; i++) {
    hl_ring_lane *l = hl_ring_lane_at(c->hdr, &c->geo, i);
    lane_state *ls = &c->lanes[i];
    ls->win = c->win_mem + (uint64_t)i * c->win_cap;
    if (atomic_load_explicit(&l->owner, memory_order_acquire) == HL_RING_OWNER_ENGINE) {
      /* A previous engine died while resetting this lane: finish it (we
       * hold the engine lock, and no producer can claim it meanwhile). */
      atomic_store_explicit(&l->head, 0, memory_order_relaxed);
      atomic_store_explicit(&l->tail, 0, memory_order_relaxed);
      atomic_store_explicit(&l->state, HL_RING_LANE_OK, memory_order_relaxed);
      atomic_store_explicit(&l->owner, HL_RING_OWNER_FREE, memory_order_release);
    }
    uint64_t tail = atomic_load_explicit(&l->tail, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&l->head, memory_order_acquire);
    ls->tail = tail;
    ls->read_pos = tail;
    if (atomic_load_explicit(&l->state, memory_order_acquire) != HL_RING_LANE_OK) {
      ls->quarantined = true;
    } else if (tail % HL_RING_RECORD_ALIGN != 0 || head % HL_RING_RECORD_ALIGN != 0 ||
               head < tail || head - tail > c->geo.lane_bytes) {
      quarantine(c, i, "at attach, head %llu and tail %llu are inconsistent",
                 (unsigned long long)head, (unsigned long long)tail);
    }
  }
}

static hl_ring_consumer *consumer_new(const hl_ring_consumer_options *o) {
  hl_ring_consumer *c = calloc(1, sizeof(*c));
  if (c != NULL) {
    c->fd = -1;
    c->on_corrupt = o->on_corrupt;
    c->on_corrupt_ctx = o->on_corrupt_ctx;
  }
  return c;
}

/* consumer_start allocates the in-flight windows and takes over the lanes
 * of a mapped, validated segment. */
static int consumer_start(hl_ring_consumer *c, const hl_ring_consumer_options *o, hl_err *err) {
  c->lane_mask = c->geo.lane_bytes - 1;
  c->win_cap = 1;
  while (c->win_cap < o->inflight_per_lane) {
    c->win_cap <<= 1;
  }
  c->win_mask = c->win_cap - 1;
  c->win_mem = calloc((size_t)c->geo.lane_count * c->win_cap, sizeof(uint64_t));
  if (c->win_mem == NULL) {
    return hl_err_fail(err, -ENOMEM, "ring '%s': out of memory for in-flight windows", c->name);
  }
  attach_lanes(c);
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
  free(c->win_mem);
  free(c);
}

hl_ring_geometry hl_ring_consumer_geometry(const hl_ring_consumer *c) {
  return c->geo;
}

int hl_ring_consumer_retire(hl_ring_consumer *c) {
  atomic_fetch_or_explicit(&c->hdr->flags, HL_RING_F_RETIRED, memory_order_release);
  return hl_ring_segment_unlink(c->name);
}

/* --- tails and release ---------------------------------------------------- */

static bool window_full(const hl_ring_consumer *c, const lane_state *ls) {
  return ls->next_seq - ls->front_seq == c->win_cap;
}

static void window_push(hl_ring_consumer *c, lane_state *ls, uint64_t end, bool released) {
  HL_ASSERT(!window_full(c, ls) && end % HL_RING_RECORD_ALIGN == 0);
  ls->win[ls->next_seq & c->win_mask] = end | (released ? SLOT_RELEASED : 0);
  ls->next_seq++;
}

/* advance moves the lane's tail past its longest released prefix; returns
 * whether it moved. */
static bool advance(hl_ring_consumer *c, lane_state *ls) {
  bool moved = false;
  while (ls->front_seq != ls->next_seq) {
    uint64_t slot = ls->win[ls->front_seq & c->win_mask];
    if ((slot & SLOT_RELEASED) == 0) {
      break;
    }
    ls->tail = slot & ~SLOT_RELEASED;
    ls->front_seq++;
    moved = true;
  }
  return moved;
}

/* publish_tails stores the tails of the lanes in |moved| and wakes their
 * producers if they wait for space. */
static void publish_tails(hl_ring_consumer *c, uint64_t moved) {
  if (moved == 0) {
    return;
  }
  for (uint32_t i = 0; i < c->geo.lane_count; i++) {
    if ((moved >> i) & 1u) {
      atomic_store_explicit(&hl_ring_lane_at(c->hdr, &c->geo, i)->tail, c->lanes[i].tail,
                            memory_order_release);
    }
  }
  /* Pairs with the producer's fence between announcing a wait and
   * re-reading the tail. */
  atomic_thread_fence(memory_order_seq_cst);
  for (uint32_t i = 0; i < c->geo.lane_count; i++) {
    if (((moved >> i) & 1u) == 0) {
      continue;
    }
    _Atomic uint32_t *w = &hl_ring_lane_at(c->hdr, &c->geo, i)->space_word;
    if (atomic_load_explicit(w, memory_order_relaxed) != 0 &&
        atomic_exchange_explicit(w, 0, memory_order_acq_rel) != 0) {
      hl_ring_futex_wake(w);
      c->stats.producer_wakes++;
    }
  }
}

static int release_one(hl_ring_consumer *c, const hl_ring_token *t, uint64_t *moved) {
  if (t->lane >= c->geo.lane_count) {
    return -EINVAL;
  }
  lane_state *ls = &c->lanes[t->lane];
  if (t->seq >= ls->next_seq) {
    return -EINVAL;
  }
  if (t->seq < ls->front_seq) {
    return -EALREADY;
  }
  uint64_t *slot = &ls->win[t->seq & c->win_mask];
  if ((*slot & SLOT_RELEASED) != 0) {
    return -EALREADY;
  }
  *slot |= SLOT_RELEASED;
  c->stats.records_released++;
  if (t->seq == ls->front_seq && advance(c, ls)) {
    *moved |= 1ull << t->lane;
  }
  return 0;
}

int hl_ring_consumer_release(hl_ring_consumer *c, const hl_ring_token *tokens, size_t n) {
  uint64_t moved = 0;
  int first_err = 0;
  for (size_t k = 0; k < n; k++) {
    int rc = release_one(c, &tokens[k], &moved);
    if (rc != 0 && first_err == 0) {
      first_err = rc;
    }
  }
  publish_tails(c, moved);
  return first_err;
}

int hl_ring_consumer_release_upto(hl_ring_consumer *c, uint32_t lane, uint64_t seq) {
  if (lane >= c->geo.lane_count) {
    return -EINVAL;
  }
  lane_state *ls = &c->lanes[lane];
  if (seq >= ls->next_seq) {
    return -EINVAL;
  }
  uint64_t moved = 0;
  for (uint64_t s = ls->front_seq; s <= seq; s++) {
    uint64_t *slot = &ls->win[s & c->win_mask];
    if ((*slot & SLOT_RELEASED) == 0) {
      *slot |= SLOT_RELEASED;
      c->stats.records_released++;
    }
  }
  if (advance(c, ls)) {
    moved = 1ull << lane;
  }
  publish_tails(c, moved);
  return 0;
}

/* --- reading -------------------------------------------------------------- */

/* lane_head loads lane i's head and checks it against what we know; a head
 * that cannot be right quarantines the lane. Returns false if nothing can be
 * read from the lane. */
static bool lane_head(hl_ring_consumer *c, uint32_t i, uint64_t *head) {
  lane_state *ls = &c->lanes[i];
  if (ls->quarantined || window_full(c, ls)) {
    return false;
  }
  uint64_t h = atomic_load_explicit(&hl_ring_lane_at(c->hdr, &c->geo, i)->head,
                                    memory_order_acquire);
  if (h == ls->read_pos) {
    return false;
  }
  if (h % HL_RING_RECORD_ALIGN != 0 || h < ls->read_pos || h - ls->tail > c->geo.lane_bytes) {
    quarantine(c, i, "head %llu is not a valid position (read up to %llu, tail %llu, lane %llu "
                     "bytes)",
               (unsigned long long)h, (unsigned long long)ls->read_pos,
               (unsigned long long)ls->tail, (unsigned long long)c->geo.lane_bytes);
    return false;
  }
  *head = h;
  return true;
}

/* read_record examines the record at the lane's read position. Returns 1
 * with *item filled for a message, 0 for a record consumed internally (pad,
 * skipped corrupt record), -1 if the lane got quarantined. */
static int read_record(hl_ring_consumer *c, uint32_t i, uint64_t head, hl_ring_item *item) {
  lane_state *ls = &c->lanes[i];
  uint64_t pos = ls->read_pos;
  uint64_t avail = head - pos;
  uint64_t off = pos & c->lane_mask;
  uint64_t to_end = c->geo.lane_bytes - off;
  const uint8_t *base = hl_ring_lane_data(c->hdr, &c->geo, i) + off;
  hl_ring_record r;
  memcpy(&r, base, sizeof(r)); /* one read of the header: the checks use this copy */
  if (r.stamp != hl_ring_stamp(pos)) {
    quarantine(c, i, "record at position %llu carries stamp %u, not %u (overwritten or misframed)",
               (unsigned long long)pos, r.stamp, hl_ring_stamp(pos));
    return -1;
  }
  uint64_t size;
  if (r.type == HL_RING_REC_PAD) {
    size = to_end;
    if ((uint64_t)r.len + HL_RING_RECORD_HEADER_BYTES != to_end) {
      quarantine(c, i, "pad record at position %llu has length %u, not %llu",
                 (unsigned long long)pos, r.len,
                 (unsigned long long)(to_end - HL_RING_RECORD_HEADER_BYTES));
      return -1;
    }
  } else if (r.type == HL_RING_REC_MSG) {
    size = hl_ring_record_bytes(r.len);
    if (r.len == 0 || r.len > HL_RING_RECORD_BYTES_MAX || size > to_end) {
      quarantine(c, i, "record at position %llu has length %u (at most %llu fit)",
                 (unsigned long long)pos, r.len,
                 (unsigned long long)(to_end - HL_RING_RECORD_HEADER_BYTES));
      return -1;
    }
  } else {
    quarantine(c, i, "record at position %llu has unknown type %u", (unsigned long long)pos,
               r.type);
    return -1;
  }
  if (size > avail) {
    quarantine(c, i, "record at position %llu (%llu bytes) runs past the head %llu",
               (unsigned long long)pos, (unsigned long long)size, (unsigned long long)head);
    return -1;
  }
  ls->read_pos = pos + size;
  const uint8_t *payload = base + HL_RING_RECORD_HEADER_BYTES;
  uint32_t plen = r.type == HL_RING_REC_MSG ? r.len : 0;
  if (r.crc != hl_ring_record_crc(&r, payload, plen) || r.flags != 0) {
    char msg[128];
    snprintf(msg, sizeof(msg), "record skipped: %s (type %u, %u bytes)",
             r.flags != 0 ? "unknown flags" : "checksum mismatch", r.type, r.len);
    c->stats.records_corrupt++;
    report(c, i, pos, msg);
    window_push(c, ls, ls->read_pos, true);
    return 0;
  }
  if (r.type == HL_RING_REC_PAD) {
    window_push(c, ls, ls->read_pos, true);
    return 0;
  }
  item->payload = hl_span_make(payload, r.len);
  item->token = (hl_ring_token){.lane = i, .seq = ls->next_seq};
  item->pos = pos;
  window_push(c, ls, ls->read_pos, false);
  c->stats.records_read++;
  return 1;
}

/* read_lane takes up to |max| messages from lane i. Pads and skipped
 * records cost window slots but no items; the tail may move past them. */
static size_t read_lane(hl_ring_consumer *c, uint32_t i, uint64_t head, hl_ring_item *items,
                        size_t max, uint64_t *moved) {
  lane_state *ls = &c->lanes[i];
  size_t n = 0;
  while (n < max && ls->read_pos != head && !window_full(c, ls)) {
    int rc = read_record(c, i, head, &items[n]);
    if (rc < 0) {
      break;
    }
    if (rc == 0 && advance(c, ls)) {
      *moved |= 1ull << i;
    }
    n += (size_t)rc;
  }
  return n;
}

size_t hl_ring_consumer_read(hl_ring_consumer *c, hl_ring_item *items, size_t cap) {
  uint32_t lanes = c->geo.lane_count;
  uint64_t heads[HL_RING_LANES_MAX];
  uint64_t active = 0;
  uint32_t n_active = 0;
  for (uint32_t i = 0; i < lanes; i++) {
    if (lane_head(c, i, &heads[i])) {
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
    for (uint32_t k = 0; k < lanes && count < cap; k++) {
      uint32_t i = (c->rr + k) % lanes;
      if (((active >> i) & 1u) == 0) {
        continue;
      }
      size_t want = cap - count < quota ? cap - count : quota;
      size_t got = read_lane(c, i, heads[i], items + count, want, &moved);
      count += got;
      lane_state *ls = &c->lanes[i];
      if (got < want || ls->read_pos == heads[i] || ls->quarantined || window_full(c, ls)) {
        active &= ~(1ull << i);
        n_active--;
      }
    }
  }
  c->rr = (c->rr + 1) % lanes;
  publish_tails(c, moved);
  return count;
}

/* --- sleeping ------------------------------------------------------------- */

int hl_ring_consumer_prepare_sleep(hl_ring_consumer *c, uint32_t **word, uint32_t *expected) {
  atomic_store_explicit(&c->hdr->sleep_word, 1, memory_order_seq_cst);
  /* Pairs with the producer's fence after publishing: either we see its
   * head below, or it sees the word and wakes us. */
  atomic_thread_fence(memory_order_seq_cst);
  for (uint32_t i = 0; i < c->geo.lane_count; i++) {
    lane_state *ls = &c->lanes[i];
    if (ls->quarantined || window_full(c, ls)) {
      continue;
    }
    uint64_t h = atomic_load_explicit(&hl_ring_lane_at(c->hdr, &c->geo, i)->head,
                                      memory_order_acquire);
    if (h != ls->read_pos) {
      atomic_store_explicit(&c->hdr->sleep_word, 0, memory_order_relaxed);
      return -EAGAIN;
    }
  }
  *word = (uint32_t *)&c->hdr->sleep_word;
  *expected = 1;
  return 0;
}

void hl_ring_consumer_end_sleep(hl_ring_consumer *c) {
  atomic_store_explicit(&c->hdr->sleep_word, 0, memory_order_relaxed);
}

/* --- lanes of dead producers, quarantined lanes --------------------------- */

static bool reset_lane(hl_ring_consumer *c, uint32_t i, uint64_t owner) {
  hl_ring_lane *l = hl_ring_lane_at(c->hdr, &c->geo, i);
  lane_state *ls = &c->lanes[i];
  if (ls->front_seq != ls->next_seq) {
    return false; /* the engine still holds spans into this lane */
  }
  if (!atomic_compare_exchange_strong_explicit(&l->owner, &owner, HL_RING_OWNER_ENGINE,
                                               memory_order_acq_rel, memory_order_relaxed)) {
    return false;
  }
  uint64_t head = atomic_load_explicit(&l->head, memory_order_relaxed);
  char msg[128];
  snprintf(msg, sizeof(msg), "quarantined lane reset: %llu unread bytes discarded",
           head >= ls->read_pos ? (unsigned long long)(head - ls->read_pos) : 0ull);
  report(c, i, ls->read_pos, msg);
  atomic_store_explicit(&l->head, 0, memory_order_relaxed);
  atomic_store_explicit(&l->tail, 0, memory_order_relaxed);
  atomic_store_explicit(&l->space_word, 0, memory_order_relaxed);
  atomic_store_explicit(&l->state, HL_RING_LANE_OK, memory_order_relaxed);
  ls->read_pos = 0;
  ls->tail = 0;
  ls->quarantined = false;
  atomic_store_explicit(&l->owner, HL_RING_OWNER_FREE, memory_order_release);
  c->stats.lanes_reset++;
  return true;
}

uint32_t hl_ring_consumer_reap(hl_ring_consumer *c) {
  uint32_t changed = 0;
  for (uint32_t i = 0; i < c->geo.lane_count; i++) {
    hl_ring_lane *l = hl_ring_lane_at(c->hdr, &c->geo, i);
    lane_state *ls = &c->lanes[i];
    uint64_t owner = atomic_load_explicit(&l->owner, memory_order_acquire);
    if (owner == HL_RING_OWNER_ENGINE) {
      continue;
    }
    bool gone = owner == HL_RING_OWNER_FREE || !hl_ring_owner_alive(owner);
    if (ls->quarantined) {
      changed += gone && reset_lane(c, i, owner) ? 1u : 0u;
      continue;
    }
    if (owner == HL_RING_OWNER_FREE || !gone) {
      continue;
    }
    uint64_t head = atomic_load_explicit(&l->head, memory_order_acquire);
    if (head != ls->tail || ls->front_seq != ls->next_seq) {
      continue; /* its records are not all released yet */
    }
    if (atomic_compare_exchange_strong_explicit(&l->owner, &owner, HL_RING_OWNER_FREE,
                                                memory_order_acq_rel, memory_order_relaxed)) {
      c->stats.lanes_reaped++;
      changed++;
    }
  }
  return changed;
}

hl_ring_consumer_stats hl_ring_consumer_stats_get(const hl_ring_consumer *c) {
  return c->stats;
}

int hl_ring_consumer_lane_info(const hl_ring_consumer *c, uint32_t lane, hl_ring_lane_info *out) {
  if (lane >= c->geo.lane_count) {
    return -EINVAL;
  }
  hl_ring_lane *l = hl_ring_lane_at(c->hdr, &c->geo, lane);
  const lane_state *ls = &c->lanes[lane];
  out->owner = atomic_load_explicit(&l->owner, memory_order_acquire);
  out->head = atomic_load_explicit(&l->head, memory_order_acquire);
  out->tail = ls->tail;
  out->read_pos = ls->read_pos;
  out->inflight = ls->next_seq - ls->front_seq;
  out->quarantined = ls->quarantined;
  return 0;
}
