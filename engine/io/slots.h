/* slots: a preallocated table of owner slots with generations and in-flight
 * counts, so that io_uring completions can name their owner safely.
 *
 * An owner of I/O (the connection module, the sink, the DNS resolver) keeps
 * its objects in an array indexed by slot and puts {op, generation, slot} in
 * each operation's user_data (hl_slots_ud) instead of a pointer. The loop,
 * given this table when the owner registers its ops (hl_loop_register_ops),
 * counts every operation submitted on a slot and every final completion
 * (one without IORING_CQE_F_MORE), and drops completions whose generation is
 * no longer the slot's ("stale") before they reach the owner.
 *
 * Life of a slot:
 *
 *   FREE --acquire--> LIVE --release--> CLOSING --last completion--> FREE
 *                           (generation++)     (on_free called)
 *
 * hl_slots_release bumps the generation at once, so every completion still
 * in flight for the old generation is stale and never reaches the owner; the
 * slot goes back on the free list only when its in-flight count reaches zero,
 * which is when the kernel holds no reference to the owner's memory (send
 * buffers, recv buffers, sockaddr, msghdr). on_free tells the owner so. To
 * make that happen soon, cancel the slot's operations before releasing it
 * (hl_loop_cancel / hl_loop_cancel_fd): their -ECANCELED completions are the
 * last ones.
 *
 * Nothing here allocates after hl_slots_init; an empty free list is an error
 * (-ENOSPC) that is counted in |exhausted|, not a reason to grow. Not
 * thread-safe: a table belongs to one loop. */
#ifndef HL_IO_SLOTS_H
#define HL_IO_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

/* Generations are 24 bits wide (the width they have in user_data). */
#define HL_SLOTS_GEN_BITS 24
#define HL_SLOTS_GEN_MASK ((UINT32_C(1) << HL_SLOTS_GEN_BITS) - 1)

typedef enum hl_slot_state {
  HL_SLOT_FREE = 0,
  HL_SLOT_LIVE = 1,
  HL_SLOT_CLOSING = 2,
} hl_slot_state;

/* on_free: the slot has returned to the free list; nothing in flight refers
 * to it. Called from hl_slots_release (nothing was in flight) or from the
 * loop's dispatch when the last completion arrives. It must not acquire or
 * release slots of the same table. */
typedef void (*hl_slots_free_fn)(void *ctx, uint32_t slot);

typedef struct hl_slot_meta {
  uint32_t gen;
  uint32_t inflight;
  uint32_t next_free;
  uint32_t state;
} hl_slot_meta;

typedef struct hl_slots {
  hl_slot_meta *meta;
  uint32_t cap;
  uint32_t live; /* LIVE + CLOSING */
  uint32_t free_head;
  uint64_t exhausted; /* acquire calls refused for want of a free slot */
  uint64_t stale;     /* completions dropped for a generation mismatch */
  hl_slots_free_fn on_free;
  void *ctx;
} hl_slots;

/* hl_slots_init allocates |cap| slots (1..HL_LOOP_SLOTS_MAX), all free.
 * |on_free| may be NULL. Returns 0, -EINVAL or -ENOMEM. */
int hl_slots_init(hl_slots *s, uint32_t cap, hl_slots_free_fn on_free, void *ctx);

/* hl_slots_cleanup frees the table (a zeroed table is fine). Call it after
 * the loop has drained (hl_loop_drain) or been freed. */
void hl_slots_cleanup(hl_slots *s);

/* hl_slots_acquire takes a free slot, now LIVE, into |*slot|. Returns 0, or
 * -ENOSPC (counted in |exhausted|) when every slot is live or closing. */
int hl_slots_acquire(hl_slots *s, uint32_t *slot);

/* hl_slots_release ends the owner's use of a LIVE slot: its generation moves
 * on (pending completions become stale) and it is freed, with on_free, once
 * nothing is in flight — possibly before this returns. Submit no operation
 * on the slot afterwards (teardown ops that outlive it use HL_UD_NONE). */
void hl_slots_release(hl_slots *s, uint32_t slot);

static inline uint32_t hl_slots_gen(const hl_slots *s, uint32_t slot) {
  return s->meta[slot].gen;
}

static inline uint32_t hl_slots_inflight(const hl_slots *s, uint32_t slot) {
  return s->meta[slot].inflight;
}

static inline hl_slot_state hl_slots_state(const hl_slots *s, uint32_t slot) {
  return (hl_slot_state)s->meta[slot].state;
}

/* hl_slots_ud builds the user_data for operation |op| on |slot| at its
 * current generation: {op:8, generation:24, slot:32}. */
static inline uint64_t hl_slots_ud(const hl_slots *s, uint8_t op, uint32_t slot) {
  return ((uint64_t)op << 56) | ((uint64_t)(s->meta[slot].gen & HL_SLOTS_GEN_MASK) << 32) | slot;
}

/* --- for the loop (owners do not call these) --- */

/* hl_slots_op_started counts one more operation in flight on a LIVE slot
 * whose generation is |gen| (asserted: submitting on a stale reference is a
 * bug in the owner). */
void hl_slots_op_started(hl_slots *s, uint32_t slot, uint32_t gen);

/* hl_slots_op_completed accounts for one completion of an operation on
 * |slot| submitted at |gen|; |final| is false for a multishot completion
 * that will be followed by more. Returns true if the owner should see it
 * (the slot is LIVE at that generation), false if it is stale (counted).
 * A final completion may free a CLOSING slot (calling on_free). */
bool hl_slots_op_completed(hl_slots *s, uint32_t slot, uint32_t gen, bool final);

#endif
