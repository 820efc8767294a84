/* msgid: the ids the engine gives messages that arrive without one.
 *
 * An id is "msg_" + 26 Crockford base32 characters: 48 bits of Unix
 * milliseconds then 80 random bits (the ULID layout), so ids sort by
 * creation time as plain strings. Within one millisecond a generator
 * increments the random part instead of drawing a new one, so the ids one
 * generator makes are strictly increasing. The state lives in the caller's
 * hl_msgid_gen (one per worker loop): no locks, no global state. The random
 * bits come from a generator seeded by getrandom(2); ids are unique, not
 * secret. */
#ifndef HL_RING_MSGID_H
#define HL_RING_MSGID_H

#include <stdint.h>

#define HL_MSGID_PREFIX "msg_"
#define HL_MSGID_CHARS 26
#define HL_MSGID_BYTES (4 + HL_MSGID_CHARS) /* without a NUL */

typedef struct hl_msgid_gen {
  uint64_t last_ms;
  uint64_t rand_hi; /* top 16 of the 80 random bits */
  uint64_t rand_lo; /* low 64 */
  uint64_t rng[2];  /* xorshift128+ state, never all zero */
} hl_msgid_gen;

/* hl_msgid_gen_init seeds |g| from getrandom(2); returns 0 or -errno. */
int hl_msgid_gen_init(hl_msgid_gen *g);

/* hl_msgid_gen_seed seeds |g| deterministically (tests, benchmarks). */
void hl_msgid_gen_seed(hl_msgid_gen *g, uint64_t seed);

/* hl_msgid_next writes the next id for wall time |now_ms| into |out| (not
 * NUL-terminated). A clock that goes backwards keeps the last millisecond,
 * so ids never decrease. */
void hl_msgid_next(hl_msgid_gen *g, uint64_t now_ms, char out[HL_MSGID_BYTES]);

#endif
