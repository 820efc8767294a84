/* producer: lane claim, in-place writes, publication, backpressure (see
 * producer.h). */
#include "ring/producer.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"

/* A producer waiting for space wakes at least this often to notice a
 * quarantined lane or a removed ring. */
#define PRODUCER_WAIT_SLICE_MS 100
/* Polling interval while waiting for a free lane or for the ring's creator. */
#define PRODUCER_OPEN_POLL_MS 5

static void sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
  nanosleep(&ts, NULL);
}

static int64_t remaining_ms(uint64_t deadline_ms) {
  uint64_t now = hl_clock_mono_ms();
  return now >= deadline_ms ? 0 : (int64_t)(deadline_ms - now);
}

static uint64_t deadline_after(int timeout_ms) {
  return timeout_ms < 0 ? UINT64_MAX : hl_clock_mono_ms() + (uint64_t)timeout_ms;
}

static int map_segment(hl_ring_producer *p, const char *name, hl_err *err) {
  int fd;
  bool created;
  int rc = hl_ring_segment_open(name, false, 0, &fd, &created, err);
  if (rc != 0) {
    return rc;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rc = -errno;
    close(fd);
    return hl_err_fail(err, rc, "ring '%s': fstat: %s", name, strerror(-rc));
  }
  if ((size_t)st.st_size < sizeof(hl_ring_header)) {
    close(fd);
    return hl_err_fail(err, -EAGAIN, "ring '%s': not initialised yet (the engine is creating it)",
                       name);
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  rc = m == MAP_FAILED ? -errno : 0;
  close(fd);
  if (rc != 0) {
    return hl_err_fail(err, rc, "ring '%s': mmap: %s", name, strerror(-rc));
  }
  p->hdr = m;
  p->map_bytes = (size_t)st.st_size;
  rc = hl_ring_header_check(p->hdr, p->map_bytes, name, &p->geo, err);
  if (rc == 0 && (atomic_load_explicit(&p->hdr->flags, memory_order_acquire) &
                  HL_RING_F_RETIRED) != 0) {
    rc = hl_err_fail(err, -ESTALE, "ring '%s': removed by the engine; open it again", name);
  }
  if (rc != 0) {
    munmap(p->hdr, p->map_bytes);
    p->hdr = NULL;
  }
  return rc;
}

/* lane_positions_ok: head and tail of a lane we are about to write are
 * consistent (aligned, tail <= head, at most one lane apart). */
static bool lane_positions_ok(uint64_t head, uint64_t tail, uint64_t lane_bytes) {
  return head % HL_RING_RECORD_ALIGN == 0 && tail % HL_RING_RECORD_ALIGN == 0 && tail <= head &&
         head - tail <= lane_bytes;
}

/* try_take claims lane |i| if its owner word is still |expect|. */
static bool try_take(hl_ring_producer *p, uint32_t i, uint64_t expect) {
  hl_ring_lane *l = hl_ring_lane_at(p->hdr, &p->geo, i);
  if (!atomic_compare_exchange_strong_explicit(&l->owner, &expect, p->owner,
                                               memory_order_acq_rel, memory_order_relaxed)) {
    return false;
  }
  uint64_t head = atomic_load_explicit(&l->head, memory_order_acquire);
  uint64_t tail = atomic_load_explicit(&l->tail, memory_order_acquire);
  if (atomic_load_explicit(&l->state, memory_order_acquire) != HL_RING_LANE_OK ||
      !lane_positions_ok(head, tail, p->geo.lane_bytes)) {
    /* Quarantined meanwhile, or corrupted: the consumer resets such lanes
     * once nobody owns them. */
    atomic_store_explicit(&l->owner, HL_RING_OWNER_FREE, memory_order_release);
    return false;
  }
  atomic_fetch_add_explicit(&l->claims, 1, memory_order_relaxed);
  p->lane = l;
  p->lane_index = i;
  p->data = hl_ring_lane_data(p->hdr, &p->geo, i);
  p->head = head;
  p->published = head;
  p->tail_seen = tail;
  return true;
}

static bool claim_lane(hl_ring_producer *p) {
  /* Free lanes first; then lanes of dead owners whose records are all
   * released (nothing of theirs is lost by reusing the lane). */
  for (uint32_t i = 0; i < p->geo.lane_count; i++) {
    hl_ring_lane *l = hl_ring_lane_at(p->hdr, &p->geo, i);
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) == HL_RING_OWNER_FREE &&
        atomic_load_explicit(&l->state, memory_order_relaxed) == HL_RING_LANE_OK &&
        try_take(p, i, HL_RING_OWNER_FREE)) {
      return true;
    }
  }
  for (uint32_t i = 0; i < p->geo.lane_count; i++) {
    hl_ring_lane *l = hl_ring_lane_at(p->hdr, &p->geo, i);
    uint64_t owner = atomic_load_explicit(&l->owner, memory_order_acquire);
    if (owner == HL_RING_OWNER_FREE || owner == HL_RING_OWNER_ENGINE ||
        atomic_load_explicit(&l->state, memory_order_relaxed) != HL_RING_LANE_OK ||
        atomic_load_explicit(&l->tail, memory_order_acquire) !=
            atomic_load_explicit(&l->head, memory_order_acquire) ||
        hl_ring_owner_alive(owner)) {
      continue;
    }
    if (try_take(p, i, owner)) {
      return true;
    }
  }
  return false;
}

int hl_ring_producer_open(hl_ring_producer *p, const char *name, int open_timeout_ms,
                          hl_err *err) {
  memset(p, 0, sizeof(*p));
  p->reserved_pos = UINT64_MAX;
  uint64_t deadline = deadline_after(open_timeout_ms);
  int rc;
  for (;;) {
    rc = map_segment(p, name, err);
    if (rc != -EAGAIN || remaining_ms(deadline) == 0) {
      break;
    }
    sleep_ms(PRODUCER_OPEN_POLL_MS);
  }
  if (rc != 0) {
    return rc;
  }
  p->owner = hl_ring_owner_self();
  while (!claim_lane(p)) {
    if (remaining_ms(deadline) == 0) {
      uint32_t lanes = p->geo.lane_count;
      hl_ring_producer_close(p);
      return hl_err_fail(err, -EBUSY,
                         "ring '%s': all %u lanes are in use by running producers; close idle "
                         "producers or give the engine more lanes",
                         name, lanes);
    }
    sleep_ms(PRODUCER_OPEN_POLL_MS);
  }
  return 0;
}

void hl_ring_producer_close(hl_ring_producer *p) {
  if (p->hdr == NULL) {
    return;
  }
  if (p->lane != NULL) {
    p->reserved_pos = UINT64_MAX;
    hl_ring_producer_publish(p);
    uint64_t me = p->owner;
    atomic_compare_exchange_strong_explicit(&p->lane->owner, &me, HL_RING_OWNER_FREE,
                                            memory_order_release, memory_order_relaxed);
  }
  munmap(p->hdr, p->map_bytes);
  memset(p, 0, sizeof(*p));
  p->reserved_pos = UINT64_MAX;
}

void hl_ring_producer_publish(hl_ring_producer *p) {
  if (p->head == p->published) {
    return;
  }
  /* A sequentially consistent exchange (one locked instruction, cheaper
   * than a store and a fence) pairs with the fence in the consumer's
   * prepare-to-sleep: either the engine sees this head when it re-checks,
   * or the load below sees its sleep bit. */
  atomic_exchange_explicit(&p->lane->head, p->head, memory_order_seq_cst);
  p->published = p->head;
  _Atomic uint32_t *w = &p->hdr->sleep_word;
  if (atomic_load_explicit(w, memory_order_seq_cst) != 0 &&
      atomic_exchange_explicit(w, 0, memory_order_acq_rel) != 0) {
    hl_ring_futex_wake(w);
    p->wakes++;
  }
}

/* lane_check: the engine may have quarantined our lane or removed the ring
 * since we last looked; both end this producer's writes. */
static int lane_check(hl_ring_producer *p, hl_err *err) {
  if ((atomic_load_explicit(&p->hdr->flags, memory_order_relaxed) & HL_RING_F_RETIRED) != 0) {
    return hl_err_fail(err, -ESTALE, "ring: removed by the engine; open it again");
  }
  if (atomic_load_explicit(&p->lane->state, memory_order_relaxed) != HL_RING_LANE_OK) {
    return hl_err_fail(err, -EIO,
                       "ring lane %u: quarantined by the engine after a corrupted record; close "
                       "the producer and open it again",
                       p->lane_index);
  }
  return 0;
}

/* refresh_tail reads the consumer's tail; a value that cannot be right means
 * the lane's control words were overwritten. */
static int refresh_tail(hl_ring_producer *p, hl_err *err) {
  uint64_t tail = atomic_load_explicit(&p->lane->tail, memory_order_acquire);
  if (tail < p->tail_seen || !lane_positions_ok(p->published, tail, p->geo.lane_bytes)) {
    return hl_err_fail(err, -EIO, "ring lane %u: tail %llu is inconsistent with head %llu",
                       p->lane_index, (unsigned long long)tail,
                       (unsigned long long)p->published);
  }
  p->tail_seen = tail;
  return 0;
}

static bool fits(const hl_ring_producer *p, uint64_t total) {
  return p->geo.lane_bytes - (p->head - p->tail_seen) >= total;
}

static int wait_space(hl_ring_producer *p, uint64_t total, int timeout_ms, hl_err *err) {
  /* The engine can only drain what it can see. */
  hl_ring_producer_publish(p);
  uint64_t deadline = deadline_after(timeout_ms);
  _Atomic uint32_t *w = &p->lane->space_word;
  for (;;) {
    int rc = refresh_tail(p, err);
    if (rc != 0 || fits(p, total)) {
      return rc;
    }
    int64_t left = remaining_ms(deadline);
    if (left == 0) {
      break;
    }
    /* Announce the wait, then look once more: the consumer moves the tail
     * and then reads this word, so one of us sees the other. */
    atomic_store_explicit(w, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    rc = refresh_tail(p, err);
    if (rc == 0 && !fits(p, total)) {
      p->waits++;
      hl_ring_futex_wait(w, 1, left < PRODUCER_WAIT_SLICE_MS ? left : PRODUCER_WAIT_SLICE_MS);
      rc = lane_check(p, err);
    }
    atomic_store_explicit(w, 0, memory_order_relaxed);
    if (rc != 0) {
      return rc;
    }
  }
  return hl_err_fail(err, -EAGAIN,
                     "ring lane %u: full for %d ms; the engine has not released records (is it "
                     "running?)",
                     p->lane_index, timeout_ms);
}

static void write_header(hl_ring_producer *p, uint64_t pos, uint16_t type, uint32_t len,
                         const void *payload) {
  hl_ring_record r = {.len = len, .type = type, .flags = 0, .crc = 0, .stamp = hl_ring_stamp(pos)};
  r.crc = hl_ring_record_crc(&r, payload, type == HL_RING_REC_MSG ? len : 0);
  memcpy(p->data + (pos & (p->geo.lane_bytes - 1)), &r, sizeof(r));
}

int hl_ring_producer_reserve(hl_ring_producer *p, size_t len, int timeout_ms, void **payload,
                             hl_err *err) {
  HL_ASSERT(p->lane != NULL);
  if (len == 0 || len > HL_RING_RECORD_BYTES_MAX) {
    return hl_err_fail(err, -EMSGSIZE, "record: %zu bytes is outside 1..%d", len,
                       HL_RING_RECORD_BYTES_MAX);
  }
  int rc = lane_check(p, err);
  if (rc != 0) {
    return rc;
  }
  uint64_t size = hl_ring_record_bytes(len);
  uint64_t off = p->head & (p->geo.lane_bytes - 1);
  uint64_t to_end = p->geo.lane_bytes - off;
  uint64_t pad = size > to_end ? to_end : 0;
  if (!fits(p, pad + size)) {
    rc = wait_space(p, pad + size, timeout_ms, err);
    if (rc != 0) {
      return rc;
    }
  }
  if (pad > 0) {
    /* Records never wrap: fill the rest of the lane with a pad record. It
     * is invisible until the record after it is published. */
    write_header(p, p->head, HL_RING_REC_PAD, (uint32_t)(pad - HL_RING_RECORD_HEADER_BYTES), NULL);
    p->head += pad;
  }
  p->reserved_pos = p->head;
  p->reserved_len = len;
  *payload = p->data + (p->head & (p->geo.lane_bytes - 1)) + HL_RING_RECORD_HEADER_BYTES;
  return 0;
}

void hl_ring_producer_commit(hl_ring_producer *p, size_t len) {
  HL_ASSERT(p->reserved_pos != UINT64_MAX && p->reserved_pos == p->head);
  HL_ASSERT(len > 0 && len <= p->reserved_len);
  uint64_t pos = p->reserved_pos;
  const uint8_t *payload =
      p->data + (pos & (p->geo.lane_bytes - 1)) + HL_RING_RECORD_HEADER_BYTES;
  write_header(p, pos, HL_RING_REC_MSG, (uint32_t)len, payload);
  p->head = pos + hl_ring_record_bytes(len);
  p->reserved_pos = UINT64_MAX;
}
