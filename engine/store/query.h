/* query: the delivery log as operators see it, and the operator's writes.
 *
 * Reads for `hookline status`, `attempts` and `dead-letters`; the replay
 * writer (`hookline replay`); retention (`hookline prune`, and the engine's
 * automatic pruning); the endpoints' breaker state. This file and store.c
 * are the only ones that call sqlite3; reads work on a READ_ONLY store while
 * the engine writes (WAL).
 *
 * Time windows without an index. Attempt rows are appended by one writer
 * (the engine's store thread) when an attempt ends, so the rowid grows with
 * the time of logging L, and an attempt's started_ms lies in
 * [L - HL_ATTEMPT_LOG_DELAY_MS_MAX, L]. A bisection over the rowid on
 * started_ms therefore finds, in ~40 b-tree seeks, a rowid before which no
 * attempt of a window can lie (hl_query_first_rowid_since), and the window
 * is then a rowid range scan. This keeps indexes off the attempt table,
 * which the engine writes ~100k times a second (measured cost of indexes:
 * bench/store_index_bench). A wall clock stepping back by more than the
 * bound can hide rows from a window; nothing worse.
 *
 * Replay protocol (the engine's side of it is only "poll due pending rows"):
 * a replay inserts or replaces the (message, endpoint) row of `pending` with
 * next_ms = now and attempt = (highest attempt logged for the pair, or the
 * pending row's attempt - 1) + 1, and deletes the pair's dead letter, in one
 * transaction. The payload must be in `messages`: it is for retries, spills
 * and dead letters, and for delivered messages only when the engine runs
 * with --retain-payloads. */
#ifndef HL_STORE_QUERY_H
#define HL_STORE_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/hist.h"
#include "base/limits.h"
#include "base/span.h"
#include "store/store.h"


/* hl_query_first_rowid_since sets *rowid so that every attempt with
 * started_ms >= |since_ms| has a rowid >= it (a lower bound: rows just
 * above it may be older). An empty log gives 1. */
int hl_query_first_rowid_since(hl_store *s, int64_t since_ms, int64_t *rowid, hl_err *err);

/* hl_query_endpoint_rowid maps an endpoint id to the rowid the log uses;
 * -ENOENT with "no endpoint with id '...'" if there is none. */
int hl_query_endpoint_rowid(hl_store *s, hl_span id, int64_t *rowid, bool *enabled,
                            hl_err *err);

/* --- attempts ------------------------------------------------------------- */

typedef struct hl_attempt_filter {
  int64_t endpoint_rowid; /* 0: any endpoint */
  hl_span message_id;     /* empty: any (uses the message index) */
  hl_span event;          /* empty: any */
  bool failed;            /* only attempts that did not deliver */
  int32_t status_min;     /* status range, inclusive; both -1: any; */
  int32_t status_max;     /*   0..0 selects attempts with no response */
  int64_t since_ms;       /* 0: no time bound */
  uint32_t limit;         /* at most this many rows, newest first; > 0 */
} hl_attempt_filter;

/* hl_attempt_filter_init: no filter, HL_QUERY_LIMIT_DEFAULT rows. */
#define HL_QUERY_LIMIT_DEFAULT 100
void hl_attempt_filter_init(hl_attempt_filter *f);

typedef struct hl_attempt_row {
  int64_t rowid;
  hl_span message_id;
  hl_span event;
  int64_t endpoint_rowid;
  hl_span endpoint_id; /* empty if the endpoint was deleted since */
  uint32_t attempt;
  int64_t started_ms;
  uint32_t duration_us;
  int32_t status;
  hl_outcome outcome;
  hl_span error_class;
  hl_span error_detail;
  hl_span response_excerpt;
  int64_t next_ms;
} hl_attempt_row;

/* hl_query_attempts calls |fn| for each matching attempt, newest first;
 * spans are valid only during the call; a non-zero return stops the walk
 * and is returned. */
int hl_query_attempts(hl_store *s, const hl_attempt_filter *f,
                      int (*fn)(const hl_attempt_row *r, void *ctx), void *ctx, hl_err *err);

/* --- dead letters ----------------------------------------------------------- */

typedef struct hl_dead_letter_row {
  hl_span message_id;
  hl_span event; /* from the payload; empty if it is gone */
  int64_t endpoint_rowid;
  hl_span endpoint_id;
  int64_t dead_ms;
  hl_span last_error;
  uint32_t attempts; /* highest attempt number still in the log */
  bool has_payload;
} hl_dead_letter_row;

/* hl_query_dead_letters lists dead letters, newest first, of one endpoint
 * (|endpoint_rowid| > 0) or all; at most |limit| (0: no limit). */
int hl_query_dead_letters(hl_store *s, int64_t endpoint_rowid, uint32_t limit,
                          int (*fn)(const hl_dead_letter_row *r, void *ctx), void *ctx,
                          hl_err *err);

/* --- status ---------------------------------------------------------------- */


typedef struct hl_endpoint_status {
  int64_t rowid;
  char id[HL_ENDPOINT_ID_BYTES_MAX + 1];
  bool enabled;
  char disabled_reason[128];
  char breaker[16]; /* "closed" when the engine recorded no state */
  int64_t breaker_since_ms;
  uint32_t consecutive_failures;
  bool has_last; /* last attempt found (in the window or the scan before) */
  int64_t last_started_ms;
  int32_t last_status;
  hl_outcome last_outcome;
  char last_error_class[64];
  uint64_t window_attempts;
  uint64_t window_delivered;
  uint64_t p50_us, p99_us; /* of all attempts in the window; 0 if none */
  int64_t pending;
  int64_t dead_letters;
} hl_endpoint_status;

typedef struct hl_status_summary {
  int64_t window_ms;  /* the window actually covered */
  bool window_cut;    /* HL_STATUS_SCAN_ROWS_MAX stopped the scan early */
  uint64_t rows_read; /* attempt rows read */
} hl_status_summary;

/* hl_query_status calls |fn| for every endpoint, in id order, with its
 * state and the statistics of the attempts started in the |window_ms|
 * before |now_ms|. */
int hl_query_status(hl_store *s, int64_t now_ms, int64_t window_ms,
                    int (*fn)(const hl_endpoint_status *st, void *ctx), void *ctx,
                    hl_status_summary *summary, hl_err *err);

/* --- replay ---------------------------------------------------------------- */

typedef struct hl_replay_stats {
  int64_t scheduled;         /* pending rows written (or, dry run, to write) */
  int64_t from_dead_letters; /* of which were dead letters */
  int64_t were_pending;      /* of which already waited for a retry */
  int64_t missing_payload;   /* could not: payload not stored */
  int64_t already_delivered; /* skipped (bulk only): delivered since */
} hl_replay_stats;

/* hl_store_replay schedules (message, endpoint) for now, per the replay
 * protocol above; *attempt receives the attempt number it will be. With
 * |dry_run| nothing is written. -ENOENT (err names --retain-payloads) when
 * the payload is not stored. Opens its own transaction: call it outside
 * one. */
int hl_store_replay(hl_store *s, hl_span message_id, int64_t endpoint_rowid, int64_t now_ms,
                    bool dry_run, uint32_t *attempt, hl_err *err);

/* hl_query_message_endpoints calls |fn| with each endpoint rowid that
 * |message_id| was attempted to, dead-lettered for or is pending for, in
 * rowid order. */
int hl_query_message_endpoints(hl_store *s, hl_span message_id,
                               int (*fn)(int64_t endpoint_rowid, void *ctx), void *ctx,
                               hl_err *err);


/* hl_store_replay_failed replays every delivery of |endpoint_rowid| that
 * failed (an attempt not delivered, or a dead letter) since |since_ms| and
 * has not been delivered since, in transactions of HL_REPLAY_BATCH_ROWS.
 * Deliveries without a payload are counted, not replayed. */
int hl_store_replay_failed(hl_store *s, int64_t endpoint_rowid, int64_t since_ms,
                           int64_t now_ms, bool dry_run, hl_replay_stats *stats, hl_err *err);

/* --- retention --------------------------------------------------------------- */

typedef struct hl_prune_stats {
  int64_t attempts;
  int64_t dead_letters;
  int64_t messages;
  int64_t endpoint_states; /* of deleted endpoints */
} hl_prune_stats;


/* hl_prune: one pruning pass, done in steps. Removes attempts started
 * before cutoff_ms, dead letters older than it, payloads created before it
 * that no pending row or remaining dead letter needs, and the breaker state
 * of deleted endpoints. Pending rows are never removed. */
typedef struct hl_prune {
  int64_t cutoff_ms;
  uint32_t batch_rows;
  bool done;
  hl_prune_stats deleted;
  /* progress */
  int phase;
  int64_t attempts_last; /* rowid already handled */
  int64_t attempts_bound;
  char message_last[HL_MESSAGE_ID_BYTES_MAX * 2];
  size_t message_last_len;
} hl_prune;

void hl_prune_init(hl_prune *p, int64_t cutoff_ms, uint32_t batch_rows);

/* hl_store_prune_step does one bounded transaction of pass |p| (at most
 * |batch_rows| rows deleted or, for payloads, examined) and sets p->done at
 * the end of the pass. Call it outside a transaction. The engine's store
 * thread runs one step between group commits while a pass is under way
 * (automatic retention): each step holds the write lock for milliseconds. */
int hl_store_prune_step(hl_store *s, hl_prune *p, hl_err *err);

/* hl_store_prune runs a whole pass (for `hookline prune`). */
int hl_store_prune(hl_store *s, int64_t cutoff_ms, uint32_t batch_rows, hl_prune_stats *deleted,
                   hl_err *err);

/* hl_store_prune_count counts what a pass with |cutoff_ms| would remove. */
int hl_store_prune_count(hl_store *s, int64_t cutoff_ms, hl_prune_stats *would, hl_err *err);

/* --- endpoint state ---------------------------------------------------------- */

typedef struct hl_endpoint_state {
  char breaker[16];
  int64_t since_ms;
  uint32_t consecutive_failures;
} hl_endpoint_state;

/* hl_query_endpoint_state reads what hl_store_endpoint_state_put stored;
 * -ENOENT if nothing was. */
int hl_query_endpoint_state(hl_store *s, int64_t endpoint_rowid, hl_endpoint_state *out,
                            hl_err *err);

#endif
