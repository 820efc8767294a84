/* Tests for store/store: schema, endpoints, the delivery log, retries. */
#include "store/store.h"

#include "base/buf.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

#include "harness.h"

static char dir_counter;

static const char *fresh_dir(void) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/data%d", hl_test_tmpdir(), dir_counter++);
  return path;
}

static hl_store *open_rw(const char *dir) {
  hl_store *s = NULL;
  hl_err err = {{0}};
  int rc = hl_store_open(&s, dir, HL_STORE_READ_WRITE, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "open: %s", err.msg);
  }
  return s;
}

static int64_t count_rows(const char *dir, const char *sql) {
  char path[600];
  snprintf(path, sizeof(path), "%s/hookline.db", dir);
  sqlite3 *db;
  ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

TEST(open_creates_private_dir_and_schema) {
  const char *dir = fresh_dir();
  hl_store *s = open_rw(dir);
  struct stat st;
  ASSERT_EQ(stat(dir, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0700);
  ASSERT_EQ(hl_store_schema_version(s), HL_STORE_SCHEMA_VERSION);
  hl_store_close(s);
  /* Reopening is idempotent. */
  s = open_rw(dir);
  ASSERT_EQ(hl_store_schema_version(s), HL_STORE_SCHEMA_VERSION);
  hl_store_close(s);
  hl_store_close(NULL);
}

TEST(read_only_open_of_missing_database_fails_clearly) {
  hl_store *s = NULL;
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_open(&s, fresh_dir(), HL_STORE_READ_ONLY, &err), -ENOENT);
  ASSERT_TRUE(s == NULL);
  ASSERT_TRUE(strstr(err.msg, "cannot open") != NULL);
}

TEST(newer_schema_is_refused) {
  const char *dir = fresh_dir();
  hl_store_close(open_rw(dir));
  char path[600];
  snprintf(path, sizeof(path), "%s/hookline.db", dir);
  sqlite3 *db;
  ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  hl_store *s = NULL;
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_open(&s, dir, HL_STORE_READ_WRITE, &err), -EPROTO);
  ASSERT_TRUE(strstr(err.msg, "newer than this hookline") != NULL);
}

static int collect_ids(const hl_endpoint_rec *r, void *ctx) {
  hl_buf *out = ctx;
  hl_buf_printf(out, "%s%s ", r->id, r->enabled ? "+" : "-");
  return 0;
}

TEST(endpoint_crud_bumps_the_generation) {
  const char *dir = fresh_dir();
  hl_store *s = open_rw(dir);
  hl_err err = {{0}};
  int64_t g0 = hl_store_endpoints_generation(s);
  bool created = false;
  ASSERT_EQ(hl_store_endpoint_put(s, HL_SPAN_LIT("crm"), HL_SPAN_LIT("{\"url\":\"a\"}"), true,
                                  &created, &err),
            0);
  ASSERT_TRUE(created);
  int64_t g1 = hl_store_endpoints_generation(s);
  ASSERT_GT(g1, g0);
  ASSERT_EQ(hl_store_endpoint_put(s, HL_SPAN_LIT("crm"), HL_SPAN_LIT("{\"url\":\"b\"}"), true,
                                  &created, &err),
            0);
  ASSERT_FALSE(created);
  ASSERT_GT(hl_store_endpoints_generation(s), g1);
  ASSERT_EQ(hl_store_endpoint_put(s, HL_SPAN_LIT("alpha"), HL_SPAN_LIT("{}"), false, &created,
                                  &err),
            0);

  hl_endpoint_rec r;
  ASSERT_EQ(hl_store_endpoint_get(s, HL_SPAN_LIT("crm"), &r, &err), 0);
  ASSERT_STR_EQ(r.config, "{\"url\":\"b\"}");
  ASSERT_TRUE(r.enabled);
  int64_t crm_rowid = r.rowid;
  hl_endpoint_rec_cleanup(&r);

  ASSERT_EQ(hl_store_endpoint_set_enabled(s, HL_SPAN_LIT("crm"), false, "410 Gone", &err), 0);
  ASSERT_EQ(hl_store_endpoint_get(s, HL_SPAN_LIT("crm"), &r, &err), 0);
  ASSERT_FALSE(r.enabled);
  ASSERT_STR_EQ(r.disabled_reason, "410 Gone");
  ASSERT_EQ(r.rowid, crm_rowid); /* updates keep the rowid the log refers to */
  hl_endpoint_rec_cleanup(&r);

  char ids[128];
  hl_buf ids_buf;
  hl_buf_init(&ids_buf, ids, sizeof(ids));
  ASSERT_EQ(hl_store_endpoint_foreach(s, collect_ids, &ids_buf, &err), 0);
  ASSERT_STR_EQ(hl_buf_cstr(&ids_buf), "alpha- crm- ");

  ASSERT_EQ(hl_store_endpoint_delete(s, HL_SPAN_LIT("alpha"), &err), 0);
  ASSERT_EQ(hl_store_endpoint_delete(s, HL_SPAN_LIT("alpha"), &err), -ENOENT);
  ASSERT_TRUE(strstr(err.msg, "no endpoint with id 'alpha'") != NULL);
  ASSERT_EQ(hl_store_endpoint_get(s, HL_SPAN_LIT("nope"), &r, &err), -ENOENT);
  ASSERT_EQ(hl_store_endpoint_set_enabled(s, HL_SPAN_LIT("nope"), true, NULL, &err), -ENOENT);

  /* Another connection sees the generation change (hot reload works across
   * processes). */
  hl_store *other = open_rw(dir);
  int64_t before = hl_store_endpoints_generation(other);
  ASSERT_EQ(hl_store_endpoint_set_enabled(s, HL_SPAN_LIT("crm"), true, NULL, &err), 0);
  ASSERT_GT(hl_store_endpoints_generation(other), before);
  hl_store_close(other);
  hl_store_close(s);
}

typedef struct due_seen {
  int n;
  char mem[256];
  hl_buf order;
} due_seen;

static void due_reset(due_seen *seen) {
  seen->n = 0;
  hl_buf_init(&seen->order, seen->mem, sizeof(seen->mem));
}

static int on_due(const hl_pending_rec *p, void *ctx) {
  due_seen *seen = ctx;
  seen->n++;
  hl_buf_printf(&seen->order, "%.*s/%lld/%u:%.*s ", HL_SPAN_FMT(p->message.id),
                (long long)p->endpoint_rowid, p->attempt, HL_SPAN_FMT(p->message.data));
  return 0;
}

TEST(delivery_log_and_retry_schedule) {
  const char *dir = fresh_dir();
  hl_store *s = open_rw(dir);
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_begin(s, &err), 0);
  for (int i = 0; i < 3; i++) {
    char id[16];
    snprintf(id, sizeof(id), "msg_%d", i);
    hl_message_rec m = {.id = hl_span_cstr(id),
                        .event = HL_SPAN_LIT("lead.created"),
                        .data = i == 0 ? HL_SPAN_LIT("{\"a\":0}") : HL_SPAN_LIT("{}"),
                        .created_ms = 1000 + i};
    ASSERT_EQ(hl_store_message_put(s, &m, &err), 0);
    hl_attempt_rec a = {.message_id = m.id,
                        .event = m.event,
                        .endpoint_rowid = 7,
                        .attempt = 1,
                        .started_ms = 5000,
                        .duration_us = 1234,
                        .status = 503,
                        .outcome = HL_OUTCOME_RETRY,
                        .error_class = HL_SPAN_LIT("http_5xx"),
                        .response_excerpt = HL_SPAN_LIT("busy"),
                        .next_ms = 9000 - i * 1000};
    ASSERT_EQ(hl_store_attempt_add(s, &a, &err), 0);
    ASSERT_EQ(hl_store_pending_put(s, m.id, 7, 2, a.next_ms, &err), 0);
  }
  /* Messages are immutable: a second put keeps the first payload. */
  hl_message_rec again = {.id = HL_SPAN_LIT("msg_0"), .event = HL_SPAN_LIT("x"),
                          .data = HL_SPAN_LIT("{\"changed\":1}")};
  ASSERT_EQ(hl_store_message_put(s, &again, &err), 0);
  ASSERT_EQ(hl_store_commit(s, &err), 0);

  ASSERT_EQ(count_rows(dir, "SELECT count(*) FROM attempts WHERE status = 503"), 3);
  ASSERT_EQ(count_rows(dir, "SELECT count(*) FROM attempts WHERE error_detail IS NULL"), 3);
  ASSERT_EQ(hl_store_pending_count(s), 3);

  due_seen seen;
  due_reset(&seen);
  ASSERT_EQ(hl_store_pending_due(s, 8000, 10, on_due, &seen, &err), 0);
  ASSERT_EQ(seen.n, 2);
  ASSERT_STR_EQ(hl_buf_cstr(&seen.order), "msg_2/7/2:{} msg_1/7/2:{} ");
  due_reset(&seen);
  ASSERT_EQ(hl_store_pending_due(s, 100000, 1, on_due, &seen, &err), 0);
  ASSERT_STR_EQ(hl_buf_cstr(&seen.order), "msg_2/7/2:{} ");

  ASSERT_EQ(hl_store_pending_delete(s, HL_SPAN_LIT("msg_2"), 7, &err), 0);
  ASSERT_EQ(hl_store_dead_letter_put(s, HL_SPAN_LIT("msg_0"), 7, 10000, HL_SPAN_LIT("http_5xx"),
                                     &err),
            0);
  ASSERT_EQ(hl_store_pending_put(s, HL_SPAN_LIT("msg_0"), 7, 3, 100, &err), 0);
  ASSERT_EQ(hl_store_pending_count(s), 2);
  due_reset(&seen);
  ASSERT_EQ(hl_store_pending_due(s, 8000, 10, on_due, &seen, &err), 0);
  ASSERT_STR_EQ(hl_buf_cstr(&seen.order), "msg_0/7/3:{\"a\":0} msg_1/7/2:{} ");
  ASSERT_EQ(count_rows(dir, "SELECT count(*) FROM dead_letters"), 1);
  hl_store_close(s);
}

TEST(a_lease_hides_a_retry_until_reclaimed) {
  const char *dir = fresh_dir();
  hl_store *s = open_rw(dir);
  hl_err err = {{0}};
  due_seen seen;
  due_reset(&seen);
  ASSERT_EQ(hl_store_message_put(s, &(hl_message_rec){.id = HL_SPAN_LIT("l1"),
                                                      .event = HL_SPAN_LIT("e"),
                                                      .data = HL_SPAN_LIT("{}")},
                                 &err),
            0);
  ASSERT_EQ(hl_store_pending_put(s, HL_SPAN_LIT("l1"), 4, 2, 100, &err), 0);
  ASSERT_EQ(hl_store_pending_lease(s, HL_SPAN_LIT("l1"), 4, 500000, &err), 0);
  ASSERT_EQ(hl_store_pending_due(s, 1000, 10, on_due, &seen, &err), 0);
  ASSERT_EQ(seen.n, 0); /* leased: not due before the lease ends */
  ASSERT_EQ(hl_store_pending_reclaim(s, 2000, &err), 1);
  ASSERT_EQ(hl_store_pending_reclaim(s, 2000, &err), 0); /* nothing left leased */
  ASSERT_EQ(hl_store_pending_due(s, 2000, 10, on_due, &seen, &err), 0);
  ASSERT_STR_EQ(hl_buf_cstr(&seen.order), "l1/4/2:{} ");
  /* A new schedule for the pair ends its lease. */
  ASSERT_EQ(hl_store_pending_lease(s, HL_SPAN_LIT("l1"), 4, 500000, &err), 0);
  ASSERT_EQ(hl_store_pending_put(s, HL_SPAN_LIT("l1"), 4, 3, 3000, &err), 0);
  ASSERT_EQ(hl_store_pending_reclaim(s, 9000, &err), 0);
  ASSERT_EQ(count_rows(dir, "SELECT next_ms FROM pending WHERE message_id = 'l1'"), 3000);
  hl_store_close(s);
}

TEST(rollback_discards_the_batch) {
  const char *dir = fresh_dir();
  hl_store *s = open_rw(dir);
  hl_err err = {{0}};
  ASSERT_EQ(hl_store_begin(s, &err), 0);
  ASSERT_EQ(hl_store_pending_put(s, HL_SPAN_LIT("m"), 1, 2, 5, &err), 0);
  hl_store_rollback(s);
  ASSERT_EQ(hl_store_pending_count(s), 0);
  hl_store_close(s);
}
