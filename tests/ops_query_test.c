/* Tests for store/query: time windows over the rowid, the attempt and dead
 * letter listings, status, the replay writer, incremental pruning, and the
 * endpoint breaker state, on stores filled through the store API. */
#include "store/query.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"
#include "harness.h"

#define NOW 1800000000000ll /* a fixed wall clock for the rows */

static int dir_counter;

static hl_store *fresh(char *dir_out, size_t cap) {
  snprintf(dir_out, cap, "%s/q%d", hl_test_tmpdir(), dir_counter++);
  hl_store *s = NULL;
  hl_err err = {{0}};
  if (hl_store_open(&s, dir_out, HL_STORE_READ_WRITE, &err) != 0) {
    hl_test_fail(__FILE__, __LINE__, "open: %s", err.msg);
  }
  return s;
}

static int64_t add_endpoint(hl_store *s, const char *id) {
  hl_err err = {{0}};
  bool created;
  ASSERT_EQ(hl_store_endpoint_put(s, hl_span_cstr(id), HL_SPAN_LIT("{}"), true, &created, &err),
            0);
  int64_t rowid = 0;
  ASSERT_EQ(hl_query_endpoint_rowid(s, hl_span_cstr(id), &rowid, NULL, &err), 0);
  return rowid;
}

typedef struct att {
  const char *msg;
  int64_t ep;
  uint32_t attempt;
  int64_t started_ms;
  int32_t status;
  hl_outcome outcome;
  const char *error_class;
  uint32_t duration_us;
  const char *event;
} att;

static void add_attempt(hl_store *s, att a) {
  hl_err err = {{0}};
  hl_attempt_rec r = {.message_id = hl_span_cstr(a.msg),
                      .event = hl_span_cstr(a.event != NULL ? a.event : "lead.created"),
                      .endpoint_rowid = a.ep,
                      .attempt = a.attempt,
                      .started_ms = a.started_ms,
                      .duration_us = a.duration_us > 0 ? a.duration_us : 1000,
                      .status = a.status,
                      .outcome = a.outcome,
                      .error_class = hl_span_cstr(a.error_class != NULL ? a.error_class : ""),
                      .response_excerpt = HL_SPAN_LIT("ok")};
  ASSERT_EQ(hl_store_attempt_add(s, &r, &err), 0);
}

static void add_message(hl_store *s, const char *id, int64_t created_ms) {
  hl_err err = {{0}};
  hl_message_rec m = {.id = hl_span_cstr(id),
                      .event = HL_SPAN_LIT("lead.created"),
                      .data = HL_SPAN_LIT("{\"email\":\"a@b.c\"}"),
                      .created_ms = created_ms};
  ASSERT_EQ(hl_store_message_put(s, &m, &err), 0);
}

static int64_t count(hl_store *s, const char *sql) {
  sqlite3_stmt *st;
  ASSERT_EQ(sqlite3_prepare_v2(hl_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* --- schema 2 and endpoint state --------------------------------------------- */

TEST(migration_2_adds_endpoint_state) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  ASSERT_EQ(hl_store_schema_version(s), HL_STORE_SCHEMA_VERSION);
  hl_err err = {{0}};
  hl_endpoint_state st;
  ASSERT_EQ(hl_query_endpoint_state(s, 1, &st, &err), -ENOENT);
  ASSERT_EQ(hl_store_endpoint_state_put(s, 1, "open", NOW, 10, &err), 0);
  ASSERT_EQ(hl_store_endpoint_state_put(s, 1, "half_open", NOW + 5000, 10, &err), 0);
  ASSERT_EQ(hl_query_endpoint_state(s, 1, &st, &err), 0);
  ASSERT_STR_EQ(st.breaker, "half_open");
  ASSERT_EQ(st.since_ms, NOW + 5000);
  ASSERT_EQ(st.consecutive_failures, 10u);
  ASSERT_EQ(count(s, "SELECT count(*) FROM endpoint_state"), 1);
  hl_store_close(s);
}

TEST(a_version_1_database_is_migrated_in_place) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  int64_t ep = add_endpoint(s, "crm");
  add_attempt(s, (att){"m1", ep, 1, NOW, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  /* Make it look like a schema-1 file: drop what migrations 2 and 3 made. */
  ASSERT_EQ(sqlite3_exec(hl_store_db(s),
                         "DROP TABLE endpoint_state; ALTER TABLE pending DROP COLUMN leased;"
                         "PRAGMA user_version = 1",
                         NULL, NULL, NULL),
            SQLITE_OK);
  hl_store_close(s);
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_open(&s, dir, HL_STORE_READ_ONLY, &err), -EPROTO);
  ASSERT_CONTAINS(err.msg, "needs migrating");
  ASSERT_EQ(hl_store_open(&s, dir, HL_STORE_READ_WRITE, &err), 0);
  ASSERT_EQ(hl_store_schema_version(s), HL_STORE_SCHEMA_VERSION);
  ASSERT_EQ(count(s, "SELECT count(*) FROM attempts"), 1);
  ASSERT_EQ(hl_store_endpoint_state_put(s, ep, "open", NOW, 3, &err), 0);
  ASSERT_EQ(count(s, "SELECT count(*) FROM pending WHERE leased"), 0);
  hl_store_close(s);
}

/* --- windows ---------------------------------------------------------------- */

TEST(first_rowid_since_is_a_sound_and_tight_bound) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  hl_err err = {{0}};
  int64_t first = 0;
  ASSERT_EQ(hl_query_first_rowid_since(s, NOW, &first, &err), 0);
  ASSERT_EQ(first, 1); /* empty log */
  /* 20,000 attempts logged 100 ms apart; each started up to 2 minutes
   * before it was logged (long requests), so started_ms is not monotonic. */
  enum { N = 20000 };
  static int64_t started[N + 1];
  ASSERT_EQ(hl_store_begin(s, &err), 0);
  for (int i = 1; i <= N; i++) {
    int64_t logged = NOW + (int64_t)i * 100;
    started[i] = logged - (int64_t)(hl_test_rand() % 120000);
    add_attempt(s, (att){"m", 1, 1, started[i], 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  }
  ASSERT_EQ(hl_store_commit(s, &err), 0);
  for (int k = 0; k < 200; k++) {
    int64_t since = NOW + (int64_t)(hl_test_rand() % (N * 100 + 200000)) - 100000;
    ASSERT_EQ(hl_query_first_rowid_since(s, since, &first, &err), 0);
    for (int i = 1; i < first && i <= N; i++) {
      ASSERT_LT(started[i], since); /* nothing in the window is skipped */
    }
    /* Tight: rows logged more than the delay bound before the window start
     * are excluded (rowid i is logged at NOW + 100 i). */
    int64_t slack_rows = (HL_ATTEMPT_LOG_DELAY_MS_MAX + 120000) / 100 + 2;
    int64_t ideal = (since - NOW) / 100;
    ASSERT_GE(first, ideal - slack_rows);
  }
  /* Everything is older than a time far in the future. */
  ASSERT_EQ(hl_query_first_rowid_since(s, NOW * 2, &first, &err), 0);
  ASSERT_EQ(first, N + 1);
  hl_store_close(s);
}

/* --- attempts ----------------------------------------------------------------- */

typedef struct seen {
  char mem[4096];
  hl_buf b;
  int n;
} seen;

static void seen_init(seen *x) {
  hl_buf_init(&x->b, x->mem, sizeof(x->mem));
  x->n = 0;
}

static int on_attempt(const hl_attempt_row *r, void *ctx) {
  seen *x = ctx;
  x->n++;
  hl_buf_printf(&x->b, "%.*s/%.*s/%u/%d ", HL_SPAN_FMT(r->message_id),
                HL_SPAN_FMT(r->endpoint_id), r->attempt, r->status);
  return 0;
}

static const char *list(hl_store *s, const hl_attempt_filter *f, seen *x) {
  hl_err err = {{0}};
  seen_init(x);
  ASSERT_EQ(hl_query_attempts(s, f, on_attempt, x, &err), 0);
  return hl_buf_cstr(&x->b);
}

TEST(attempts_filters_and_order) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  int64_t crm = add_endpoint(s, "crm"), hub = add_endpoint(s, "hub");
  int64_t t = NOW - 3 * 3600 * 1000; /* three hours ago, then later */
  add_attempt(s, (att){"old", crm, 1, t, 500, HL_OUTCOME_RETRY, "http_5xx", 0, NULL});
  add_attempt(s, (att){"m1", crm, 1, NOW - 60000, 503, HL_OUTCOME_RETRY, "http_5xx", 0, NULL});
  add_attempt(s, (att){"m1", hub, 1, NOW - 59000, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  add_attempt(s, (att){"m2", hub, 1, NOW - 50000, 0, HL_OUTCOME_RETRY, "connect_refused", 0,
                       "contact.created"});
  add_attempt(s, (att){"m1", crm, 2, NOW - 40000, 429, HL_OUTCOME_RETRY, "http_429", 0, NULL});
  add_attempt(s, (att){"m1", crm, 3, NOW - 30000, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  hl_attempt_filter f;
  seen x;
  hl_attempt_filter_init(&f);
  ASSERT_STR_EQ(list(s, &f, &x),
                "m1/crm/3/200 m1/crm/2/429 m2/hub/1/0 m1/hub/1/200 m1/crm/1/503 old/crm/1/500 ");
  f.limit = 2;
  ASSERT_STR_EQ(list(s, &f, &x), "m1/crm/3/200 m1/crm/2/429 ");
  hl_attempt_filter_init(&f);
  f.endpoint_rowid = hub;
  ASSERT_STR_EQ(list(s, &f, &x), "m2/hub/1/0 m1/hub/1/200 ");
  hl_attempt_filter_init(&f);
  f.message_id = HL_SPAN_LIT("m1");
  f.endpoint_rowid = crm;
  ASSERT_STR_EQ(list(s, &f, &x), "m1/crm/3/200 m1/crm/2/429 m1/crm/1/503 ");
  hl_attempt_filter_init(&f);
  f.failed = true;
  f.since_ms = NOW - 3600 * 1000;
  ASSERT_STR_EQ(list(s, &f, &x), "m1/crm/2/429 m2/hub/1/0 m1/crm/1/503 ");
  hl_attempt_filter_init(&f);
  f.status_min = 500;
  f.status_max = 599;
  ASSERT_STR_EQ(list(s, &f, &x), "m1/crm/1/503 old/crm/1/500 ");
  f.status_min = f.status_max = 0;
  ASSERT_STR_EQ(list(s, &f, &x), "m2/hub/1/0 ");
  hl_attempt_filter_init(&f);
  f.event = HL_SPAN_LIT("contact.*");
  ASSERT_STR_EQ(list(s, &f, &x), "m2/hub/1/0 ");
  f.event = HL_SPAN_LIT("contact.created");
  ASSERT_STR_EQ(list(s, &f, &x), "m2/hub/1/0 ");
  f.event = HL_SPAN_LIT("contact");
  ASSERT_STR_EQ(list(s, &f, &x), "");
  hl_attempt_filter_init(&f);
  f.message_id = HL_SPAN_LIT("nope");
  ASSERT_STR_EQ(list(s, &f, &x), "");
  /* A deleted endpoint's attempts stay, without a name. */
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_endpoint_delete(s, HL_SPAN_LIT("hub"), &err), 0);
  hl_attempt_filter_init(&f);
  f.endpoint_rowid = hub;
  ASSERT_STR_EQ(list(s, &f, &x), "m2//1/0 m1//1/200 ");
  hl_store_close(s);
}

TEST(readers_see_committed_rows_while_the_writer_holds_its_lock) {
  char dir[512];
  hl_store *w = fresh(dir, sizeof(dir));
  int64_t ep = add_endpoint(w, "crm");
  add_attempt(w, (att){"m1", ep, 1, NOW, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_begin(w, &err), 0);
  add_attempt(w, (att){"m2", ep, 1, NOW, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  hl_store *r = NULL;
  ASSERT_EQ(hl_store_open(&r, dir, HL_STORE_READ_ONLY, &err), 0);
  hl_attempt_filter f;
  hl_attempt_filter_init(&f);
  seen x;
  ASSERT_STR_EQ(list(r, &f, &x), "m1/crm/1/200 ");
  ASSERT_EQ(hl_store_commit(w, &err), 0);
  ASSERT_STR_EQ(list(r, &f, &x), "m2/crm/1/200 m1/crm/1/200 ");
  hl_store_close(r);
  hl_store_close(w);
}

/* --- status ------------------------------------------------------------------- */

typedef struct status_seen {
  hl_endpoint_status st[4];
  int n;
} status_seen;

static int on_status(const hl_endpoint_status *st, void *ctx) {
  status_seen *x = ctx;
  ASSERT_LT(x->n, 4);
  x->st[x->n++] = *st;
  return 0;
}

TEST(status_per_endpoint) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  hl_err err = {{0}};
  int64_t zeta = add_endpoint(s, "zeta"), alpha = add_endpoint(s, "alpha");
  add_endpoint(s, "idle");
  ASSERT_EQ(hl_store_endpoint_set_enabled(s, HL_SPAN_LIT("idle"), false, "410 Gone", &err), 0);
  /* Rows are logged in time order, as the engine does. alpha: an old
   * attempt outside the window, then 100 in it: 90 delivered at 1..90 ms,
   * 10 failed at 1 s. zeta: only an attempt two hours ago (found by the
   * scan before the window). */
  add_attempt(s, (att){"a0", alpha, 1, NOW - 7200 * 1000, 200, HL_OUTCOME_DELIVERED, NULL, 5, NULL});
  add_attempt(s, (att){"z", zeta, 4, NOW - 7000 * 1000, 0, HL_OUTCOME_DEAD, "tls_certificate", 0,
                       NULL});
  for (int i = 1; i <= 100; i++) {
    bool ok = i <= 90;
    add_attempt(s, (att){"a", alpha, 1, NOW - 1000000 + i * 1000, ok ? 200 : 503,
                         ok ? HL_OUTCOME_DELIVERED : HL_OUTCOME_RETRY, ok ? NULL : "http_5xx",
                         ok ? (uint32_t)i * 1000 : 1000000, NULL});
  }
  /* zeta also has a pending retry, two dead letters, and an open breaker. */
  ASSERT_EQ(hl_store_pending_put(s, HL_SPAN_LIT("z2"), zeta, 2, NOW, &err), 0);
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("z"), zeta, NOW, HL_SPAN_LIT("x"), &err), 0);
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("z3"), zeta, NOW, HL_SPAN_LIT("x"), &err), 0);
  ASSERT_EQ(hl_store_endpoint_state_put(s, zeta, "open", NOW - 1000, 12, &err), 0);

  status_seen x = {0};
  hl_status_summary sum;
  ASSERT_EQ(hl_query_status(s, NOW, 3600 * 1000, on_status, &x, &sum, &err), 0);
  ASSERT_EQ(x.n, 3);
  ASSERT_FALSE(sum.window_cut);
  ASSERT_EQ(sum.window_ms, 3600 * 1000);
  const hl_endpoint_status *a = &x.st[0], *i = &x.st[1], *z = &x.st[2];
  ASSERT_STR_EQ(a->id, "alpha");
  ASSERT_STR_EQ(i->id, "idle");
  ASSERT_STR_EQ(z->id, "zeta");
  ASSERT_EQ(a->window_attempts, 100u);
  ASSERT_EQ(a->window_delivered, 90u);
  ASSERT_GE(a->p50_us, 49000u);
  ASSERT_LE(a->p50_us, 51000u);
  ASSERT_GE(a->p99_us, 980000u);
  ASSERT_TRUE(a->has_last);
  ASSERT_EQ(a->last_started_ms, NOW - 1000000 + 100 * 1000);
  ASSERT_EQ(a->last_status, 503);
  ASSERT_STR_EQ(a->last_error_class, "http_5xx");
  ASSERT_STR_EQ(a->breaker, "closed");
  ASSERT_FALSE(i->enabled);
  ASSERT_STR_EQ(i->disabled_reason, "410 Gone");
  ASSERT_FALSE(i->has_last);
  ASSERT_EQ(i->window_attempts, 0u);
  ASSERT_EQ(z->window_attempts, 0u);
  ASSERT_TRUE(z->has_last);
  ASSERT_EQ(z->last_outcome, HL_OUTCOME_DEAD);
  ASSERT_STR_EQ(z->last_error_class, "tls_certificate");
  ASSERT_EQ(z->pending, 1);
  ASSERT_EQ(z->dead_letters, 2);
  ASSERT_STR_EQ(z->breaker, "open");
  ASSERT_EQ(z->consecutive_failures, 12u);
  ASSERT_EQ(z->breaker_since_ms, NOW - 1000);
  hl_store_close(s);
}

/* --- dead letters ---------------------------------------------------------------- */

static int on_dead(const hl_dead_letter_row *r, void *ctx) {
  seen *x = ctx;
  x->n++;
  hl_buf_printf(&x->b, "%.*s/%.*s/%u/%s ", HL_SPAN_FMT(r->message_id), HL_SPAN_FMT(r->endpoint_id),
                r->attempts, r->has_payload ? "payload" : "-");
  return 0;
}

TEST(dead_letters_newest_first_with_attempts_and_payload) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  hl_err err = {{0}};
  int64_t crm = add_endpoint(s, "crm"), hub = add_endpoint(s, "hub");
  for (uint32_t k = 1; k <= 3; k++) {
    add_attempt(s, (att){"d1", crm, k, NOW - 1000, 500, k < 3 ? HL_OUTCOME_RETRY : HL_OUTCOME_DEAD,
                         "http_5xx", 0, NULL});
  }
  add_message(s, "d1", NOW - 5000);
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("d1"), crm, NOW - 100, HL_SPAN_LIT("e"), &err),
            0);
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("d2"), hub, NOW - 50, HL_SPAN_LIT("e"), &err),
            0);
  seen x;
  seen_init(&x);
  ASSERT_EQ(hl_query_dead_letters(s, 0, 0, on_dead, &x, &err), 0);
  ASSERT_STR_EQ(hl_buf_cstr(&x.b), "d2/hub/0/- d1/crm/3/payload ");
  seen_init(&x);
  ASSERT_EQ(hl_query_dead_letters(s, crm, 0, on_dead, &x, &err), 0);
  ASSERT_STR_EQ(hl_buf_cstr(&x.b), "d1/crm/3/payload ");
  seen_init(&x);
  ASSERT_EQ(hl_query_dead_letters(s, 0, 1, on_dead, &x, &err), 0);
  ASSERT_EQ(x.n, 1);
  hl_store_close(s);
}

/* --- replay --------------------------------------------------------------------- */

static int64_t pending_attempt(hl_store *s, const char *msg, int64_t ep, int64_t *next_ms) {
  sqlite3_stmt *st;
  ASSERT_EQ(sqlite3_prepare_v2(hl_store_db(s),
                               "SELECT attempt, next_ms FROM pending WHERE message_id = ?1 AND "
                               "endpoint = ?2",
                               -1, &st, NULL),
            SQLITE_OK);
  sqlite3_bind_text(st, 1, msg, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, ep);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    v = sqlite3_column_int64(st, 0);
    if (next_ms != NULL) {
      *next_ms = sqlite3_column_int64(st, 1);
    }
  }
  sqlite3_finalize(st);
  return v;
}

TEST(replay_one_delivery) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  hl_err err = {{0}};
  int64_t crm = add_endpoint(s, "crm");
  /* A dead letter after 3 attempts. */
  for (uint32_t k = 1; k <= 3; k++) {
    add_attempt(s, (att){"d1", crm, k, NOW - 9000 + k, 500, k < 3 ? HL_OUTCOME_RETRY : HL_OUTCOME_DEAD,
                         "http_5xx", 0, NULL});
  }
  add_message(s, "d1", NOW - 9000);
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("d1"), crm, NOW - 100, HL_SPAN_LIT("e"), &err),
            0);
  uint32_t attempt = 0;
  ASSERT_EQ(hl_store_replay(s, HL_SPAN_LIT("d1"), crm, NOW, true, &attempt, &err), 0);
  ASSERT_EQ(attempt, 4u);
  ASSERT_EQ(hl_store_pending_count(s), 0); /* dry run wrote nothing */
  ASSERT_EQ(count(s, "SELECT count(*) FROM dead_letters"), 1);
  ASSERT_EQ(hl_store_replay(s, HL_SPAN_LIT("d1"), crm, NOW, false, &attempt, &err), 0);
  ASSERT_EQ(attempt, 4u);
  int64_t next = 0;
  ASSERT_EQ(pending_attempt(s, "d1", crm, &next), 4);
  ASSERT_EQ(next, NOW);
  ASSERT_EQ(count(s, "SELECT count(*) FROM dead_letters"), 0);
  /* Replaying again before the engine ran it keeps the number. */
  ASSERT_EQ(hl_store_replay(s, HL_SPAN_LIT("d1"), crm, NOW + 5, false, &attempt, &err), 0);
  ASSERT_EQ(attempt, 4u);
  /* A retry scheduled as attempt 7 (attempts pruned meanwhile) stays 7. */
  add_message(s, "r1", NOW);
  ASSERT_EQ(hl_store_pending_put(s, HL_SPAN_LIT("r1"), crm, 7, NOW + 3600000, &err), 0);
  ASSERT_EQ(hl_store_replay(s, HL_SPAN_LIT("r1"), crm, NOW, false, &attempt, &err), 0);
  ASSERT_EQ(attempt, 7u);
  ASSERT_EQ(pending_attempt(s, "r1", crm, &next), 7);
  ASSERT_EQ(next, NOW);
  /* No payload: refused, nothing written, and the error names the flag. */
  add_attempt(s, (att){"gone", crm, 1, NOW, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  ASSERT_EQ(hl_store_replay(s, HL_SPAN_LIT("gone"), crm, NOW, false, &attempt, &err), -ENOENT);
  ASSERT_CONTAINS(err.msg, "--retain-payloads");
  ASSERT_CONTAINS(err.msg, "gone");
  ASSERT_EQ(pending_attempt(s, "gone", crm, NULL), -1);
  hl_store_close(s);
}

static int collect_rowids(int64_t rowid, void *ctx) {
  seen *x = ctx;
  hl_buf_printf(&x->b, "%lld ", (long long)rowid);
  return 0;
}

TEST(message_endpoints_are_the_fan_out_set) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  hl_err err = {{0}};
  int64_t a = add_endpoint(s, "a"), b = add_endpoint(s, "b"), c = add_endpoint(s, "c");
  add_attempt(s, (att){"m", c, 1, NOW, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  add_attempt(s, (att){"m", a, 1, NOW, 500, HL_OUTCOME_RETRY, NULL, 0, NULL});
  add_attempt(s, (att){"m", a, 2, NOW, 500, HL_OUTCOME_RETRY, NULL, 0, NULL});
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("m"), b, NOW, HL_SPAN_LIT("e"), &err), 0);
  add_attempt(s, (att){"other", b, 1, NOW, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  seen x;
  seen_init(&x);
  ASSERT_EQ(hl_query_message_endpoints(s, HL_SPAN_LIT("m"), collect_rowids, &x, &err), 0);
  char want[64];
  snprintf(want, sizeof(want), "%lld %lld %lld ", (long long)a, (long long)b, (long long)c);
  ASSERT_STR_EQ(hl_buf_cstr(&x.b), want);
  hl_store_close(s);
}

TEST(replay_failed_deliveries_of_an_endpoint) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  hl_err err = {{0}};
  int64_t crm = add_endpoint(s, "crm"), hub = add_endpoint(s, "hub");
  int64_t recent = NOW - 3600 * 1000;
  ASSERT_EQ(hl_store_begin(s, &err), 0);
  /* 2,500 dead letters (several replay transactions), with payloads. */
  for (int i = 0; i < 2500; i++) {
    char id[32];
    snprintf(id, sizeof(id), "dead_%04d", i);
    add_attempt(s, (att){id, crm, 1, recent + i, 500, HL_OUTCOME_DEAD, "http_5xx", 0, NULL});
    add_message(s, id, recent);
    ASSERT_EQ(hl_store_dead_letter_put(s, hl_span_cstr(id), crm, recent + i, HL_SPAN_LIT("e"),
                                       &err),
              0);
  }
  ASSERT_EQ(hl_store_commit(s, &err), 0);
  /* Failed then delivered: skipped. */
  add_attempt(s, (att){"healed", crm, 1, recent, 500, HL_OUTCOME_RETRY, "http_5xx", 0, NULL});
  add_attempt(s, (att){"healed", crm, 2, recent + 10, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  add_message(s, "healed", recent);
  /* Waiting for a retry: goes now, keeps its number. */
  add_attempt(s, (att){"waiting", crm, 1, recent, 0, HL_OUTCOME_RETRY, "connect_refused", 0, NULL});
  add_message(s, "waiting", recent);
  ASSERT_EQ(hl_store_pending_put(s, HL_SPAN_LIT("waiting"), crm, 2, NOW + 999999, &err), 0);
  /* Failed without a payload: counted, not replayed. */
  add_attempt(s, (att){"lost", crm, 1, recent, 0, HL_OUTCOME_DROPPED, NULL, 0, NULL});
  /* Another endpoint, and a failure before the window: untouched. */
  add_attempt(s, (att){"hubfail", hub, 1, recent, 500, HL_OUTCOME_RETRY, "http_5xx", 0, NULL});
  add_message(s, "hubfail", recent);
  add_attempt(s, (att){"ancient", crm, 1, NOW - 50 * 3600 * 1000ll, 500, HL_OUTCOME_DEAD, NULL, 0,
                       NULL});
  add_message(s, "ancient", recent);

  hl_replay_stats st;
  int64_t since = NOW - 24 * 3600 * 1000;
  ASSERT_EQ(hl_store_replay_failed(s, crm, since, NOW, true, &st, &err), 0);
  ASSERT_EQ(st.scheduled, 2501);
  ASSERT_EQ(st.from_dead_letters, 2500);
  ASSERT_EQ(st.were_pending, 1);
  ASSERT_EQ(st.missing_payload, 1);
  ASSERT_EQ(st.already_delivered, 1);
  ASSERT_EQ(hl_store_pending_count(s), 1); /* the dry run wrote nothing */
  ASSERT_EQ(hl_store_replay_failed(s, crm, since, NOW, false, &st, &err), 0);
  ASSERT_EQ(st.scheduled, 2501);
  ASSERT_EQ(hl_store_pending_count(s), 2501);
  ASSERT_EQ(count(s, "SELECT count(*) FROM dead_letters"), 0);
  ASSERT_EQ(pending_attempt(s, "dead_0007", crm, NULL), 2);
  int64_t next = 0;
  ASSERT_EQ(pending_attempt(s, "waiting", crm, &next), 2);
  ASSERT_EQ(next, NOW);
  ASSERT_EQ(pending_attempt(s, "healed", crm, NULL), -1);
  ASSERT_EQ(pending_attempt(s, "hubfail", hub, NULL), -1);
  ASSERT_EQ(pending_attempt(s, "ancient", crm, NULL), -1);
  /* Done once, the same window has nothing new to do but the ones now
   * pending (they go again: an operator asked for now). */
  ASSERT_EQ(hl_store_replay_failed(s, crm, since, NOW, true, &st, &err), 0);
  ASSERT_EQ(st.from_dead_letters, 0);
  hl_store_close(s);
}

/* --- prune -------------------------------------------------------------------------- */

static void prune_fixture(hl_store *s, int64_t *ep_out) {
  hl_err err = {{0}};
  int64_t ep = add_endpoint(s, "crm");
  int64_t old = NOW - 40ll * 24 * 3600 * 1000, young = NOW - 3600 * 1000;
  ASSERT_EQ(hl_store_begin(s, &err), 0);
  for (int i = 0; i < 103; i++) {
    add_attempt(s, (att){"a", ep, 1, old + i, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  }
  for (int i = 0; i < 11; i++) {
    add_attempt(s, (att){"b", ep, 1, young + i, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  }
  /* Old payloads: unreferenced (goes), needed by a retry (stays), needed
   * by a young dead letter (stays), with an old dead letter (both go). */
  for (int i = 0; i < 20; i++) {
    char id[16];
    snprintf(id, sizeof(id), "old_%02d", i);
    add_message(s, id, old);
  }
  add_message(s, "old_retry", old);
  ASSERT_EQ(hl_store_pending_put(s, HL_SPAN_LIT("old_retry"), ep, 5, NOW, &err), 0);
  add_message(s, "old_young_dead", old);
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("old_young_dead"), ep, young,
                                     HL_SPAN_LIT("e"), &err),
            0);
  add_message(s, "old_old_dead", old);
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("old_old_dead"), ep, old, HL_SPAN_LIT("e"),
                                     &err),
            0);
  add_message(s, "young", young);
  /* The breaker state of an endpoint deleted since. */
  ASSERT_EQ(hl_store_endpoint_state_put(s, 999, "open", old, 3, &err), 0);
  ASSERT_EQ(hl_store_endpoint_state_put(s, ep, "closed", old, 0, &err), 0);
  ASSERT_EQ(hl_store_commit(s, &err), 0);
  *ep_out = ep;
}

TEST(prune_removes_old_rows_in_bounded_steps_and_keeps_what_is_needed) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  int64_t ep;
  prune_fixture(s, &ep);
  hl_err err = {{0}};
  int64_t cutoff = NOW - 30ll * 24 * 3600 * 1000;
  hl_prune_stats would;
  ASSERT_EQ(hl_store_prune_count(s, cutoff, &would, &err), 0);
  ASSERT_EQ(would.attempts, 103);
  ASSERT_EQ(would.dead_letters, 1);
  ASSERT_EQ(would.messages, 21);
  ASSERT_EQ(would.endpoint_states, 1);

  hl_prune p;
  hl_prune_init(&p, cutoff, 7);
  int steps = 0;
  hl_prune_stats before = p.deleted;
  while (!p.done) {
    ASSERT_EQ(hl_store_prune_step(s, &p, &err), 0);
    steps++;
    ASSERT_LE(p.deleted.attempts - before.attempts, 7);
    ASSERT_LE(p.deleted.messages - before.messages, 7);
    ASSERT_LE(p.deleted.dead_letters - before.dead_letters, 7);
    before = p.deleted;
    ASSERT_LT(steps, 100);
  }
  ASSERT_GE(steps, 103 / 7 + 25 / 7);
  ASSERT_EQ(p.deleted.attempts, would.attempts);
  ASSERT_EQ(p.deleted.dead_letters, would.dead_letters);
  ASSERT_EQ(p.deleted.messages, would.messages);
  ASSERT_EQ(p.deleted.endpoint_states, would.endpoint_states);
  ASSERT_EQ(count(s, "SELECT count(*) FROM attempts"), 11);
  ASSERT_EQ(count(s, "SELECT count(*) FROM attempts WHERE message_id = 'b'"), 11);
  ASSERT_EQ(count(s, "SELECT count(*) FROM messages WHERE id = 'old_retry'"), 1);
  ASSERT_EQ(count(s, "SELECT count(*) FROM messages WHERE id = 'old_young_dead'"), 1);
  ASSERT_EQ(count(s, "SELECT count(*) FROM messages WHERE id = 'young'"), 1);
  ASSERT_EQ(count(s, "SELECT count(*) FROM messages"), 3);
  ASSERT_EQ(count(s, "SELECT count(*) FROM dead_letters"), 1);
  ASSERT_EQ(hl_store_pending_count(s), 1);
  ASSERT_EQ(count(s, "SELECT count(*) FROM endpoint_state"), 1);
  /* Retries still find their payload. */
  uint32_t attempt;
  ASSERT_EQ(hl_store_replay(s, HL_SPAN_LIT("old_retry"), ep, NOW, true, &attempt, &err), 0);
  ASSERT_EQ(attempt, 5u);
  /* A second pass has nothing left. */
  hl_prune_stats again;
  ASSERT_EQ(hl_store_prune(s, cutoff, 1000, &again, &err), 0);
  ASSERT_EQ(again.attempts + again.messages + again.dead_letters + again.endpoint_states, 0);
  hl_store_close(s);
}

TEST(prune_keeps_attempts_newer_than_the_cutoff_even_inside_the_bound) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  int64_t ep = add_endpoint(s, "crm");
  hl_err err = {{0}};
  int64_t cutoff = NOW - 1000000;
  /* Interleaved around the cutoff: logged in order, started a little
   * before or after it (within the logging delay bound). */
  for (int i = 0; i < 50; i++) {
    int64_t started = cutoff + (i % 2 == 0 ? -1 - i : i);
    add_attempt(s, (att){"x", ep, 1, started, 200, HL_OUTCOME_DELIVERED, NULL, 0, NULL});
  }
  hl_prune_stats d;
  ASSERT_EQ(hl_store_prune(s, cutoff, 4, &d, &err), 0);
  ASSERT_EQ(d.attempts, 25);
  ASSERT_EQ(count(s, "SELECT count(*) FROM attempts WHERE started_ms < 1799999000000"), 0);
  ASSERT_EQ(count(s, "SELECT count(*) FROM attempts"), 25);
  hl_store_close(s);
}

TEST(prune_of_an_empty_store_is_done_at_once) {
  char dir[512];
  hl_store *s = fresh(dir, sizeof(dir));
  hl_err err = {{0}};
  hl_prune_stats d;
  ASSERT_EQ(hl_store_prune(s, NOW, 0, &d, &err), 0);
  ASSERT_EQ(d.attempts + d.messages + d.dead_letters + d.endpoint_states, 0);
  hl_store_close(s);
}
