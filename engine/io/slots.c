/* slots: generation-checked slot tables (see slots.h).
 *
 * The free list is LIFO: a slot freed a moment ago is warm in the cache, and
 * reuse is safe at any time because a slot is only free once nothing is in
 * flight on it. */
#include "io/slots.h"

#include <errno.h>
#include <stdlib.h>

#include "base/assert.h"
#include "base/limits.h"

#define FREE_END UINT32_MAX

int hl_slots_init(hl_slots *s, uint32_t cap, hl_slots_free_fn on_free, void *ctx) {
  *s = (hl_slots){.free_head = FREE_END, .on_free = on_free, .ctx = ctx};
  if (cap == 0 || cap > HL_LOOP_SLOTS_MAX) {
    return -EINVAL;
  }
  s->meta = calloc(cap, sizeof(*s->meta));
  if (s->meta == NULL) {
    return -ENOMEM;
  }
  s->cap = cap;
  /* Push in reverse so that slot 0 comes out first: easier to read in logs. */
  for (uint32_t i = cap; i-- > 0;) {
    s->meta[i].gen = 1;
    s->meta[i].next_free = s->free_head;
    s->free_head = i;
  }
  return 0;
}

void hl_slots_cleanup(hl_slots *s) {
  free(s->meta);
  s->meta = NULL;
  s->cap = 0;
  s->live = 0;
  s->free_head = FREE_END;
}

int hl_slots_acquire(hl_slots *s, uint32_t *slot) {
  if (s->free_head == FREE_END) {
    s->exhausted++;
    return -ENOSPC;
  }
  uint32_t i = s->free_head;
  hl_slot_meta *m = &s->meta[i];
  HL_ASSERT(m->state == HL_SLOT_FREE && m->inflight == 0);
  s->free_head = m->next_free;
  m->next_free = FREE_END;
  m->state = HL_SLOT_LIVE;
  s->live++;
  *slot = i;
  return 0;
}

static void slot_free(hl_slots *s, uint32_t slot) {
  hl_slot_meta *m = &s->meta[slot];
  m->state = HL_SLOT_FREE;
  m->next_free = s->free_head;
  s->free_head = slot;
  s->live--;
  if (s->on_free != NULL) {
    s->on_free(s->ctx, slot);
  }
}

void hl_slots_release(hl_slots *s, uint32_t slot) {
  HL_ASSERT(slot < s->cap);
  hl_slot_meta *m = &s->meta[slot];
  HL_ASSERT(m->state == HL_SLOT_LIVE);
  m->gen = (m->gen + 1) & HL_SLOTS_GEN_MASK;
  m->state = HL_SLOT_CLOSING;
  if (m->inflight == 0) {
    slot_free(s, slot);
  }
}

void hl_slots_op_started(hl_slots *s, uint32_t slot, uint32_t gen) {
  HL_ASSERT(slot < s->cap);
  hl_slot_meta *m = &s->meta[slot];
  HL_ASSERT(m->state == HL_SLOT_LIVE && m->gen == gen);
  HL_ASSERT(m->inflight < UINT32_MAX);
  m->inflight++;
}

bool hl_slots_op_completed(hl_slots *s, uint32_t slot, uint32_t gen, bool final) {
  HL_ASSERT(slot < s->cap);
  hl_slot_meta *m = &s->meta[slot];
  /* Every completion belongs to an operation that was counted on this slot,
   * so the slot cannot be free and its count cannot be zero. */
  HL_ASSERT(m->state != HL_SLOT_FREE && m->inflight > 0);
  bool current = m->state == HL_SLOT_LIVE && m->gen == gen;
  if (!current) {
    s->stale++;
  }
  if (final) {
    m->inflight--;
    if (m->inflight == 0 && m->state == HL_SLOT_CLOSING) {
      slot_free(s, slot);
    }
  }
  return current;
}
