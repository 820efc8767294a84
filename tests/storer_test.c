/* Tests for deliver/storer: group commit from several worker lanes, the
 * committed sequence, retries/dead letters/defers/disables, due retries with
 * leases, endpoint change notifications, and no loss when commits fail. */
#include "deliver/storer.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "base/clock.h"
#include "harness.h"

static int dir_n;

static const char *fresh_dir(void) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/storer%d", hl_test_tmpdir(), dir_n++);
  return path;
}

static int64_t query(const char *dir, const char *sql) {
  char path[600];
  snprintf(path, sizeof(path), "%s/hookline.db", dir);
  sqlite3 *db;
  ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *st;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

typedef struct seen {
  _Atomic int committed_calls;
  _Atomic int endpoint_calls;
  _Atomic int64_t generation;
  hl_pending_verdict verdict;
  _Atomic int due_calls;
} seen;

static void on_committed(uint32_t lane, void *ctx) {
  (void)lane;
  atomic_fetch_add(&((seen *)ctx)->committed_calls, 1);
}

static void on_endpoints(hl_store *s, int64_t g, void *ctx) {
  (void)s;
  atomic_fetch_add(&((seen *)ctx)->endpoint_calls, 1);
  atomic_store(&((seen *)ctx)->generation, g);
}

static hl_pending_verdict on_due(const hl_pending_rec *p, void *ctx) {
  (void)p;
  atomic_fetch_add(&((seen *)ctx)->due_calls, 1);
  return ((seen *)ctx)->verdict;
}

static hl_storer *start(const char *dir, uint32_t lanes, seen *sn) {
  hl_storer_options o = {.data_dir = dir,
                         .lanes = lanes,
                         .lane_bytes = 1 << 20,
                         .poll_ms = 20,
                         .lease_ms = 60000,
                         .on_due = on_due,
                         .on_endpoints = on_endpoints,
                         .on_committed = on_committed,
                         .ctx = sn};
  hl_storer *s = NULL;
  hl_err err = {{0}};
  if (hl_storer_new(&s, &o, &err) != 0 || hl_storer_start(s, &err) != 0) {
    hl_test_fail(__FILE__, __LINE__, "start: %s", err.msg);
  }
  return s;
}

static void wait_committed(hl_storer_lane *l, uint64_t seq) {
  for (int i = 0; i < 5000 && hl_storer_committed(l) < seq; i++) {
    usleep(1000);
  }
  ASSERT_GE(hl_storer_committed(l), seq);
}

static hl_log_attempt attempt(const char *id, hl_outcome o, uint32_t n) {
  hl_log_attempt a = {
      .attempt = {.endpoint_rowid = 3,
                  .attempt = n,
                  .started_ms = 1000,
                  .duration_us = 900,
                  .status = o == HL_OUTCOME_DELIVERED ? 200 : 503,
                  .outcome = o,
                  .error_class = o == HL_OUTCOME_DELIVERED ? HL_SPAN_NULL : HL_SPAN_LIT("http_5xx"),
                  .next_ms = o == HL_OUTCOME_RETRY ? 5000 : 0},
      .message = {.id = hl_span_cstr(id), .event = HL_SPAN_LIT("lead.created"),
                  .data = HL_SPAN_LIT("{\"email\":\"a@b.c\"}"), .created_ms = 999},
  };
  a.store_payload = o == HL_OUTCOME_RETRY || o == HL_OUTCOME_DEAD;
  return a;
}

typedef struct writer_arg {
  hl_storer_lane *lane;
  int n;
  uint64_t last;
} writer_arg;

static void *writer(void *v) {
  writer_arg *w = v;
  char id[32];
  for (int i = 0; i < w->n; i++) {
    snprintf(id, sizeof(id), "msg_%u_%d", w->lane->index, i);
    hl_log_attempt a = attempt(id, HL_OUTCOME_DELIVERED, 1);
    int64_t seq;
    while ((seq = hl_storer_attempt(w->lane, &a)) == -EAGAIN) {
      hl_storer_flush(w->lane);
      usleep(100);
    }
    w->last = (uint64_t)seq;
    if (i % 64 == 63) {
      hl_storer_flush(w->lane);
    }
  }
  hl_storer_flush(w->lane);
  return NULL;
}

TEST(two_lanes_group_commit_everything) {
  const char *dir = fresh_dir();
  seen sn = {0};
  hl_storer *s = start(dir, 2, &sn);
  writer_arg w[2] = {{hl_storer_lane_get(s, 0), 20000, 0}, {hl_storer_lane_get(s, 1), 20000, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    pthread_create(&t[i], NULL, writer, &w[i]);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    wait_committed(w[i].lane, w[i].last);
    ASSERT_EQ(w[i].last, 20000);
  }
  const hl_storer_stats *st = hl_storer_stats_get(s);
  /* Group commit: far fewer transactions than records. */
  ASSERT_LT(atomic_load(&st->commits), 4000);
  ASSERT_GT(atomic_load(&sn.committed_calls), 0);
  hl_storer_stop(s);
  ASSERT_EQ(query(dir, "SELECT count(*) FROM attempts"), 40000);
  ASSERT_EQ(query(dir, "SELECT count(DISTINCT message_id) FROM attempts"), 40000);
  /* Delivered messages keep no payload. */
  ASSERT_EQ(query(dir, "SELECT count(*) FROM messages"), 0);
}

TEST(retry_dead_defer_and_disable) {
  const char *dir = fresh_dir();
  seen sn = {.verdict = HL_PENDING_LATER};
  hl_storer *s = start(dir, 1, &sn);
  hl_storer_lane *l = hl_storer_lane_get(s, 0);
  hl_log_attempt a = attempt("msg_r", HL_OUTCOME_RETRY, 1);
  ASSERT_GT(hl_storer_attempt(l, &a), 0);
  hl_message_rec m = {.id = HL_SPAN_LIT("msg_d"), .event = HL_SPAN_LIT("lead.created"),
                      .data = HL_SPAN_LIT("{}"), .created_ms = 5};
  ASSERT_GT(hl_storer_defer(l, &m, true, 3, 1, 99999999999999), 0);
  int64_t seq = hl_storer_disable(l, HL_SPAN_LIT("gone"), HL_SPAN_LIT("410 Gone"));
  hl_storer_flush(l);
  wait_committed(l, (uint64_t)seq);
  ASSERT_EQ(query(dir, "SELECT attempt FROM pending WHERE message_id = 'msg_r'"), 2);
  ASSERT_EQ(query(dir, "SELECT next_ms FROM pending WHERE message_id = 'msg_r'"), 5000);
  ASSERT_EQ(query(dir, "SELECT attempt FROM pending WHERE message_id = 'msg_d'"), 1);
  ASSERT_EQ(query(dir, "SELECT count(*) FROM messages"), 2);

  /* The retry fails for good: dead letter, its pending row goes. */
  a = attempt("msg_r", HL_OUTCOME_DEAD, 2);
  a.store_payload = false; /* it came from the pending table: already kept */
  a.from_pending = true;
  seq = hl_storer_attempt(l, &a);
  hl_storer_flush(l);
  wait_committed(l, (uint64_t)seq);
  ASSERT_EQ(query(dir, "SELECT count(*) FROM pending WHERE message_id = 'msg_r'"), 0);
  ASSERT_EQ(query(dir, "SELECT count(*) FROM dead_letters WHERE message_id = 'msg_r'"), 1);
  ASSERT_EQ(query(dir, "SELECT count(*) FROM attempts WHERE message_id = 'msg_r'"), 2);
  hl_storer_stop(s);
}

TEST(due_retries_are_leased_or_dropped) {
  const char *dir = fresh_dir();
  seen sn = {.verdict = HL_PENDING_TAKEN};
  hl_storer *s = start(dir, 1, &sn);
  hl_storer_lane *l = hl_storer_lane_get(s, 0);
  hl_log_attempt a = attempt("msg_due", HL_OUTCOME_RETRY, 1);
  a.attempt.next_ms = 1; /* due long ago */
  int64_t seq = hl_storer_attempt(l, &a);
  hl_storer_flush(l);
  wait_committed(l, (uint64_t)seq);
  for (int i = 0; i < 2000 && atomic_load(&sn.due_calls) == 0; i++) {
    usleep(1000);
  }
  ASSERT_EQ(atomic_load(&sn.due_calls), 1);
  usleep(100000); /* several more polls: the lease keeps it from coming back */
  ASSERT_EQ(atomic_load(&sn.due_calls), 1);
  int64_t lease_end = query(dir, "SELECT next_ms FROM pending WHERE message_id = 'msg_due'");
  ASSERT_GT(lease_end, (int64_t)hl_clock_wall_ms() + 50000);
  hl_storer_stop(s);

  /* A restart with the endpoint gone: the delivery is ended and logged. */
  sn.verdict = HL_PENDING_DROP;
  atomic_store(&sn.due_calls, 0);
  hl_store *db = NULL;
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_open(&db, dir, HL_STORE_READ_WRITE, &err), 0);
  ASSERT_EQ(hl_store_pending_put(db, HL_SPAN_LIT("msg_due"), 3, 2, 1, &err), 0);
  hl_store_close(db);
  s = start(dir, 1, &sn);
  for (int i = 0; i < 2000 && query(dir, "SELECT count(*) FROM pending") > 0; i++) {
    usleep(1000);
  }
  hl_storer_stop(s);
  ASSERT_EQ(query(dir, "SELECT count(*) FROM pending"), 0);
  ASSERT_EQ(query(dir, "SELECT count(*) FROM attempts WHERE outcome = 5"), 1);
}

TEST(endpoint_changes_are_announced) {
  const char *dir = fresh_dir();
  seen sn = {.verdict = HL_PENDING_LATER};
  hl_storer *s = start(dir, 1, &sn);
  for (int i = 0; i < 2000 && atomic_load(&sn.endpoint_calls) == 0; i++) {
    usleep(1000);
  }
  ASSERT_EQ(atomic_load(&sn.endpoint_calls), 1); /* once at start */
  hl_store *db = NULL;
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_open(&db, dir, HL_STORE_READ_WRITE, &err), 0);
  bool created;
  ASSERT_EQ(hl_store_endpoint_put(db, HL_SPAN_LIT("e"), HL_SPAN_LIT("{}"), true, &created, &err),
            0);
  hl_store_close(db);
  for (int i = 0; i < 2000 && atomic_load(&sn.endpoint_calls) == 1; i++) {
    usleep(1000);
  }
  ASSERT_EQ(atomic_load(&sn.endpoint_calls), 2);
  hl_storer_stop(s);
}

TEST(a_locked_database_delays_commits_but_loses_nothing) {
  const char *dir = fresh_dir();
  seen sn = {.verdict = HL_PENDING_LATER};
  hl_storer *s = start(dir, 1, &sn);
  hl_storer_lane *l = hl_storer_lane_get(s, 0);
  /* Another connection holds the write lock longer than the busy timeout. */
  char path[600];
  snprintf(path, sizeof(path), "%s/hookline.db", dir);
  sqlite3 *locker;
  ASSERT_EQ(sqlite3_open(path, &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  int64_t seq = 0;
  for (int i = 0; i < 100; i++) {
    char id[16];
    snprintf(id, sizeof(id), "m%d", i);
    hl_log_attempt a = attempt(id, HL_OUTCOME_DELIVERED, 1);
    seq = hl_storer_attempt(l, &a);
  }
  hl_storer_flush(l);
  /* Wait for the store thread to give up once (after its busy timeout). */
  const hl_storer_stats *st = hl_storer_stats_get(s);
  for (int i = 0; i < 30000 && atomic_load(&st->errors) == 0; i++) {
    usleep(1000);
  }
  ASSERT_GE(atomic_load(&st->errors), 1);
  ASSERT_EQ(hl_storer_committed(l), 0);
  sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(locker);
  wait_committed(l, (uint64_t)seq);
  hl_storer_stop(s);
  ASSERT_EQ(query(dir, "SELECT count(*) FROM attempts"), 100);
}
