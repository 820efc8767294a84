/* store: hookline's SQLite database, the only code that calls sqlite3.
 *
 * One file, <data_dir>/hookline.db, in WAL mode with synchronous=NORMAL so
 * that the engine's store thread writes while CLI commands read. The schema
 * is created and migrated here (PRAGMA user_version). An hl_store is one
 * connection: use it from one thread at a time (the engine has one store
 * thread; each CLI command opens its own).
 *
 * What is kept, and why (measured on the 2-core target, docs/benchmarks.md):
 * an attempt row with integer references costs ~1 us, a 512 B payload row
 * ~4 us (WAL write volume). So every attempt is logged, while a message's
 * payload is stored only when a later attempt or a replay needs it: pending
 * retries, spilled in-flight deliveries, dead letters, and (opt-in, engine
 * flag) every delivered message.
 *
 * Endpoint configurations are stored as canonical JSON text whose secret
 * fields the caller has already sealed with the secret box; this module never
 * sees a plaintext secret. */
#ifndef HL_STORE_STORE_H
#define HL_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "base/span.h"

typedef struct hl_store hl_store;
typedef struct sqlite3 sqlite3;

#define HL_STORE_FILE "hookline.db"
#define HL_STORE_BUSY_TIMEOUT_MS 5000
/* The schema version this build creates and migrates to. */
#define HL_STORE_SCHEMA_VERSION 3

typedef enum hl_store_mode {
  HL_STORE_READ_WRITE = 0, /* create the data dir and schema if missing */
  HL_STORE_READ_ONLY = 1,  /* queries only; fails if the database is absent */
} hl_store_mode;

/* hl_store_open opens (creating and migrating if allowed) the database in
 * |data_dir|. The directory is created 0700 when missing. */
int hl_store_open(hl_store **out, const char *data_dir, hl_store_mode mode, hl_err *err);

/* hl_store_close closes the connection; hl_store_close(NULL) is a no-op. */
void hl_store_close(hl_store *s);

/* hl_store_schema_version returns the schema version the file is at. */
int hl_store_schema_version(hl_store *s);

/* hl_store_db returns the connection, for store/query.c only (the one other
 * file that may call sqlite3); hl_store_read_only says how it was opened. */
sqlite3 *hl_store_db(hl_store *s);
bool hl_store_read_only(const hl_store *s);

/* --- transactions (the store thread groups many writes in one) --- */
int hl_store_begin(hl_store *s, hl_err *err);
int hl_store_commit(hl_store *s, hl_err *err);
void hl_store_rollback(hl_store *s);

/* --- endpoints --- */

typedef struct hl_endpoint_rec {
  int64_t rowid; /* stable small integer the attempt log references */
  char id[HL_ENDPOINT_ID_BYTES_MAX + 1];
  bool enabled;
  char disabled_reason[128]; /* why the engine disabled it (e.g. "410 Gone") */
  char *config;              /* canonical JSON, secrets sealed; owned (free) */
  int64_t created_ms;
  int64_t updated_ms;
} hl_endpoint_rec;

void hl_endpoint_rec_cleanup(hl_endpoint_rec *r);

/* hl_store_endpoint_put inserts or replaces endpoint |id|. *created is set
 * to whether it was new. */
int hl_store_endpoint_put(hl_store *s, hl_span id, hl_span config_json, bool enabled,
                          bool *created, hl_err *err);

/* hl_store_endpoint_get loads one endpoint; -ENOENT if there is none. */
int hl_store_endpoint_get(hl_store *s, hl_span id, hl_endpoint_rec *out, hl_err *err);

/* hl_store_endpoint_foreach calls |fn| for every endpoint in id order; the
 * record is valid only during the call. A non-zero return from |fn| stops
 * the walk and is returned. */
int hl_store_endpoint_foreach(hl_store *s, int (*fn)(const hl_endpoint_rec *r, void *ctx),
                              void *ctx, hl_err *err);

int hl_store_endpoint_delete(hl_store *s, hl_span id, hl_err *err);

/* hl_store_endpoint_set_enabled enables or disables; |reason| (may be NULL)
 * records why, e.g. the engine disabling an endpoint after a 410. */
int hl_store_endpoint_set_enabled(hl_store *s, hl_span id, bool enabled, const char *reason,
                                  hl_err *err);

/* hl_store_endpoints_generation returns a number that changes whenever any
 * endpoint changes (in this or another process), for cheap hot-reload polls. */
int64_t hl_store_endpoints_generation(hl_store *s);

/* --- the delivery log --- */

/* Outcome of one attempt, as stored. */
typedef enum hl_outcome {
  HL_OUTCOME_DELIVERED = 1, /* 2xx */
  HL_OUTCOME_RETRY = 2,     /* failed; another attempt is scheduled */
  HL_OUTCOME_DEAD = 3,      /* failed; no attempts left (dead letter) */
  HL_OUTCOME_DISABLED = 4,  /* 410 Gone: endpoint disabled, delivery ended */
  HL_OUTCOME_DROPPED = 5,   /* endpoint deleted or disabled before sending */
} hl_outcome;

const char *hl_outcome_name(hl_outcome o);

typedef struct hl_attempt_rec {
  hl_span message_id;
  hl_span event;
  int64_t endpoint_rowid;
  uint32_t attempt; /* 1-based */
  int64_t started_ms;
  uint32_t duration_us;
  int32_t status;      /* HTTP status, 0 when no response */
  hl_outcome outcome;
  hl_span error_class; /* short stable name ("connect_refused"), empty on success */
  hl_span error_detail;
  hl_span response_excerpt;
  int64_t next_ms; /* next attempt time for HL_OUTCOME_RETRY, else 0 */
} hl_attempt_rec;

int hl_store_attempt_add(hl_store *s, const hl_attempt_rec *a, hl_err *err);

typedef struct hl_message_rec {
  hl_span id;
  hl_span event;
  hl_span tenant;   /* may be empty */
  hl_span endpoint; /* explicit endpoint id, may be empty */
  hl_span data;     /* the producer's raw JSON object */
  int64_t created_ms;
} hl_message_rec;

/* hl_store_message_put stores a payload; a second put of the same id keeps
 * the first (messages are immutable). */
int hl_store_message_put(hl_store *s, const hl_message_rec *m, hl_err *err);

/* hl_store_pending_put schedules attempt |attempt| of (message, endpoint) at
 * |next_ms|, replacing any earlier schedule for that pair. The message's
 * payload must be stored (hl_store_message_put) in the same transaction. */
int hl_store_pending_put(hl_store *s, hl_span message_id, int64_t endpoint_rowid,
                         uint32_t attempt, int64_t next_ms, hl_err *err);

int hl_store_pending_delete(hl_store *s, hl_span message_id, int64_t endpoint_rowid,
                            hl_err *err);

typedef struct hl_pending_rec {
  hl_message_rec message;
  int64_t endpoint_rowid;
  uint32_t attempt;
  int64_t next_ms;
} hl_pending_rec;

/* hl_store_pending_due calls |fn| for up to |limit| deliveries due at or
 * before |now_ms|, earliest first; spans are valid only during the call. */
int hl_store_pending_due(hl_store *s, int64_t now_ms, uint32_t limit,
                         int (*fn)(const hl_pending_rec *p, void *ctx), void *ctx, hl_err *err);

/* hl_store_pending_lease marks a due delivery as handed to the running
 * engine until |until_ms|: it is not due again before then. A later
 * hl_store_pending_put or _delete of the pair ends the lease. */
int hl_store_pending_lease(hl_store *s, hl_span message_id, int64_t endpoint_rowid,
                           int64_t until_ms, hl_err *err);

/* hl_store_pending_reclaim makes every leased delivery due at |now_ms|
 * again. Only an engine that starts, and so owns the data directory (its
 * lock), may call it: the leases it takes back belonged to an engine that
 * is gone. Returns how many, or a negative errno. */
int64_t hl_store_pending_reclaim(hl_store *s, int64_t now_ms, hl_err *err);

/* hl_store_pending_count returns the number of scheduled deliveries. */
int64_t hl_store_pending_count(hl_store *s);

/* hl_store_dead_letter_put records that (message, endpoint) ran out of
 * attempts; its payload must be stored. */
int hl_store_dead_letter_put(hl_store *s, hl_span message_id, int64_t endpoint_rowid,
                             int64_t dead_ms, hl_span last_error, hl_err *err);

/* --- endpoint runtime state (schema 2) --- */

/* hl_store_endpoint_state_put records an endpoint's circuit breaker after a
 * change: |breaker| is hl_breaker_name()'s text ("closed", "open",
 * "half_open"), |since_ms| when it entered that state (wall clock), and the
 * consecutive failures that led there. The engine's store thread calls it
 * on every breaker transition (inside its group commit is fine); `hookline
 * status` shows open as "paused" and half_open as "probing". */
int hl_store_endpoint_state_put(hl_store *s, int64_t endpoint_rowid, const char *breaker,
                                int64_t since_ms, uint32_t consecutive_failures, hl_err *err);

#endif
