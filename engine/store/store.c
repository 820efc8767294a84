/* store: schema, migrations and prepared statements (see store.h).
 *
 * Every statement is prepared once at open and reset after use; the hot
 * writers (attempts, pending) bind integers and spans without copying
 * (SQLITE_STATIC: the caller's spans outlive the step). */
#include "store/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/clock.h"

/* Each migration moves the schema from version i to i + 1; they only ever
 * get appended. */
static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta VALUES ('endpoints_generation', 0);"
    "CREATE TABLE endpoints ("
    "  rowid INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  enabled INTEGER NOT NULL,"
    "  disabled_reason TEXT NOT NULL DEFAULT '',"
    "  config TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE TRIGGER endpoints_ins AFTER INSERT ON endpoints BEGIN"
    "  UPDATE meta SET value = value + 1 WHERE key = 'endpoints_generation'; END;"
    "CREATE TRIGGER endpoints_upd AFTER UPDATE ON endpoints BEGIN"
    "  UPDATE meta SET value = value + 1 WHERE key = 'endpoints_generation'; END;"
    "CREATE TRIGGER endpoints_del AFTER DELETE ON endpoints BEGIN"
    "  UPDATE meta SET value = value + 1 WHERE key = 'endpoints_generation'; END;"
    /* Attempts are append-only and ordered by time of insertion, so the
     * rowid doubles as a time index for "recent" queries. */
    "CREATE TABLE attempts ("
    "  rowid INTEGER PRIMARY KEY,"
    "  message_id TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  endpoint INTEGER NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  started_ms INTEGER NOT NULL,"
    "  duration_us INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  outcome INTEGER NOT NULL,"
    "  error_class TEXT,"
    "  error_detail TEXT,"
    "  response_excerpt BLOB,"
    "  next_ms INTEGER);"
    "CREATE INDEX attempts_message ON attempts (message_id);"
    "CREATE TABLE messages ("
    "  id TEXT PRIMARY KEY,"
    "  event TEXT NOT NULL,"
    "  tenant TEXT NOT NULL DEFAULT '',"
    "  endpoint TEXT NOT NULL DEFAULT '',"
    "  created_ms INTEGER NOT NULL,"
    "  data BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE pending ("
    "  message_id TEXT NOT NULL,"
    "  endpoint INTEGER NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  next_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (message_id, endpoint)) WITHOUT ROWID;"
    "CREATE INDEX pending_due ON pending (next_ms);"
    "CREATE TABLE dead_letters ("
    "  message_id TEXT NOT NULL,"
    "  endpoint INTEGER NOT NULL,"
    "  dead_ms INTEGER NOT NULL,"
    "  last_error TEXT NOT NULL,"
    "  PRIMARY KEY (message_id, endpoint)) WITHOUT ROWID;"
    "CREATE INDEX dead_letters_time ON dead_letters (dead_ms);",
    /* 2: endpoint runtime state (the circuit breaker) for `hookline status`.
     * No index is added on attempts: each one costs the engine on every
     * logged attempt (bench/store_index_bench), and the CLI's time windows
     * use the rowid, which grows with the time of logging (store/query.c). */
    "CREATE TABLE endpoint_state ("
    "  endpoint INTEGER PRIMARY KEY,"
    "  breaker TEXT NOT NULL,"
    "  since_ms INTEGER NOT NULL,"
    "  consecutive_failures INTEGER NOT NULL);",
    /* 3: a retry handed to a running engine is leased (next_ms is then the
     * lease's end); the next engine to start takes leases back at once
     * rather than waiting for them to run out. */
    "ALTER TABLE pending ADD COLUMN leased INTEGER NOT NULL DEFAULT 0;",
};

_Static_assert(HL_ARRAY_LEN(migrations) == HL_STORE_SCHEMA_VERSION,
               "HL_STORE_SCHEMA_VERSION names the last migration");

enum {
  ST_BEGIN,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_ENDPOINT_INSERT,
  ST_ENDPOINT_UPDATE,
  ST_ENDPOINT_GET,
  ST_ENDPOINT_LIST,
  ST_ENDPOINT_DELETE,
  ST_ENDPOINT_ENABLE,
  ST_GENERATION,
  ST_ATTEMPT_ADD,
  ST_MESSAGE_PUT,
  ST_PENDING_PUT,
  ST_PENDING_DELETE,
  ST_PENDING_DUE,
  ST_PENDING_LEASE,
  ST_PENDING_RECLAIM,
  ST_PENDING_COUNT,
  ST_DEAD_PUT,
  ST_ENDPOINT_STATE_PUT,
  ST_COUNT,
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_ENDPOINT_INSERT] = "INSERT INTO endpoints (id, enabled, config, created_ms, updated_ms) "
                           "VALUES (?1, ?2, ?3, ?4, ?4)",
    [ST_ENDPOINT_UPDATE] = "UPDATE endpoints SET enabled = ?2, config = ?3, updated_ms = ?4, "
                           "disabled_reason = CASE WHEN ?2 THEN '' ELSE disabled_reason END "
                           "WHERE id = ?1",
    [ST_ENDPOINT_GET] = "SELECT rowid, id, enabled, disabled_reason, config, created_ms, "
                        "updated_ms FROM endpoints WHERE id = ?1",
    [ST_ENDPOINT_LIST] = "SELECT rowid, id, enabled, disabled_reason, config, created_ms, "
                         "updated_ms FROM endpoints ORDER BY id",
    [ST_ENDPOINT_DELETE] = "DELETE FROM endpoints WHERE id = ?1",
    [ST_ENDPOINT_ENABLE] = "UPDATE endpoints SET enabled = ?2, disabled_reason = ?3, "
                           "updated_ms = ?4 WHERE id = ?1",
    [ST_GENERATION] = "SELECT value FROM meta WHERE key = 'endpoints_generation'",
    [ST_ATTEMPT_ADD] = "INSERT INTO attempts (message_id, event, endpoint, attempt, started_ms, "
                       "duration_us, status, outcome, error_class, error_detail, "
                       "response_excerpt, next_ms) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_MESSAGE_PUT] = "INSERT OR IGNORE INTO messages (id, event, tenant, endpoint, created_ms, "
                       "data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_PENDING_PUT] = "INSERT OR REPLACE INTO pending (message_id, endpoint, attempt, next_ms) "
                       "VALUES (?1, ?2, ?3, ?4)",
    [ST_PENDING_DELETE] = "DELETE FROM pending WHERE message_id = ?1 AND endpoint = ?2",
    [ST_PENDING_DUE] = "SELECT p.message_id, m.event, m.tenant, m.endpoint, m.data, "
                       "m.created_ms, p.endpoint, p.attempt, p.next_ms FROM pending p "
                       "JOIN messages m ON m.id = p.message_id "
                       "WHERE p.next_ms <= ?1 ORDER BY p.next_ms LIMIT ?2",
    [ST_PENDING_LEASE] = "UPDATE pending SET next_ms = ?3, leased = 1 "
                         "WHERE message_id = ?1 AND endpoint = ?2",
    [ST_PENDING_RECLAIM] = "UPDATE pending SET next_ms = ?1, leased = 0 WHERE leased = 1",
    [ST_PENDING_COUNT] = "SELECT count(*) FROM pending",
    [ST_DEAD_PUT] = "INSERT OR REPLACE INTO dead_letters (message_id, endpoint, dead_ms, "
                    "last_error) VALUES (?1, ?2, ?3, ?4)",
    [ST_ENDPOINT_STATE_PUT] = "INSERT OR REPLACE INTO endpoint_state (endpoint, breaker, "
                              "since_ms, consecutive_failures) VALUES (?1, ?2, ?3, ?4)",
};

struct hl_store {
  sqlite3 *db;
  hl_store_mode mode;
  sqlite3_stmt *st[ST_COUNT];
};

static int db_fail(hl_store *s, hl_err *err, const char *what) {
  int code = sqlite3_extended_errcode(s->db);
  int rc = (code & 0xff) == SQLITE_BUSY ? -EBUSY : (code & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
  return hl_err_fail(err, rc, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec_sql(hl_store *s, const char *sql, hl_err *err) {
  if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    return db_fail(s, err, "statement failed");
  }
  return 0;
}

int hl_store_schema_version(hl_store *s) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
    return -EIO;
  }
  int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
  sqlite3_finalize(st);
  return v;
}

static int migrate(hl_store *s, hl_err *err) {
  const int latest = (int)HL_ARRAY_LEN(migrations);
  int v = hl_store_schema_version(s);
  if (v < 0) {
    return db_fail(s, err, "reading the schema version");
  }
  if (v > latest) {
    return hl_err_fail(err, -EPROTO,
                       "store: the database has schema version %d, newer than this hookline "
                       "(%d); upgrade hookline",
                       v, latest);
  }
  if (v == latest) {
    return 0;
  }
  if (s->mode == HL_STORE_READ_ONLY) {
    return hl_err_fail(err, -EPROTO,
                       "store: the database needs migrating (version %d to %d); run any "
                       "writing command or the engine first",
                       v, latest);
  }
  int rc = exec_sql(s, "BEGIN IMMEDIATE", err);
  if (rc == 0) {
    /* Another process may have migrated between the read and the lock. */
    v = hl_store_schema_version(s);
    rc = v < 0 ? db_fail(s, err, "reading the schema version") : 0;
  }
  for (int i = v; rc == 0 && i < latest; i++) {
    char pragma[64];
    hl_buf b;
    hl_buf_init(&b, pragma, sizeof(pragma));
    hl_buf_printf(&b, "PRAGMA user_version = %d", i + 1);
    rc = exec_sql(s, migrations[i], err);
    if (rc == 0) {
      rc = exec_sql(s, hl_buf_cstr(&b), err);
    }
  }
  if (rc == 0) {
    return exec_sql(s, "COMMIT", err);
  }
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int hl_store_open(hl_store **out, const char *data_dir, hl_store_mode mode, hl_err *err) {
  *out = NULL;
  char path[1024];
  hl_buf b;
  hl_buf_init(&b, path, sizeof(path));
  hl_buf_printf(&b, "%s/%s", data_dir, HL_STORE_FILE);
  if (!hl_buf_ok(&b)) {
    return hl_err_fail(err, -ENAMETOOLONG, "store: data dir path too long");
  }
  if (mode == HL_STORE_READ_WRITE && mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
    return hl_err_fail(err, -errno, "store: cannot create data dir %s: %s", data_dir,
                       strerror(errno));
  }
  hl_store *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    return hl_err_fail(err, -ENOMEM, "store: out of memory");
  }
  s->mode = mode;
  int flags = SQLITE_OPEN_NOMUTEX |
              (mode == HL_STORE_READ_ONLY ? SQLITE_OPEN_READONLY
                                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc;
  if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
    rc = hl_err_fail(err, mode == HL_STORE_READ_ONLY ? -ENOENT : -EIO,
                     "store: cannot open %s: %s", path,
                     s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
    goto fail;
  }
  sqlite3_busy_timeout(s->db, HL_STORE_BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes(s->db, 1);
  if (mode == HL_STORE_READ_WRITE) {
    chmod(path, 0600);
    rc = exec_sql(s, "PRAGMA journal_mode = WAL", err);
    if (rc == 0) {
      rc = exec_sql(s, "PRAGMA synchronous = NORMAL", err);
    }
    if (rc != 0) {
      goto fail;
    }
  }
  rc = exec_sql(s, "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -16384", err);
  if (rc == 0) {
    rc = migrate(s, err);
  }
  if (rc != 0) {
    goto fail;
  }
  for (int i = 0; i < ST_COUNT; i++) {
    if (sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                           NULL) != SQLITE_OK) {
      rc = db_fail(s, err, "preparing statements");
      goto fail;
    }
  }
  *out = s;
  return 0;
fail:
  hl_store_close(s);
  return rc;
}

void hl_store_close(hl_store *s) {
  if (s == NULL) {
    return;
  }
  for (int i = 0; i < ST_COUNT; i++) {
    sqlite3_finalize(s->st[i]);
  }
  sqlite3_close(s->db);
  free(s);
}

/* Binding helpers: spans are bound without copying; an empty span binds an
 * empty string, never NULL, unless |null_if_empty|. */
static void bind_span(sqlite3_stmt *st, int i, hl_span v) {
  sqlite3_bind_text(st, i, v.len > 0 ? v.ptr : "", (int)v.len, SQLITE_STATIC);
}

static void bind_span_or_null(sqlite3_stmt *st, int i, hl_span v) {
  if (v.len == 0) {
    sqlite3_bind_null(st, i);
  } else {
    sqlite3_bind_text(st, i, v.ptr, (int)v.len, SQLITE_STATIC);
  }
}

/* run_write steps a bound statement to completion and resets it. */
static int run_write(hl_store *s, int which, hl_err *err, const char *what) {
  sqlite3_stmt *st = s->st[which];
  int rc = sqlite3_step(st);
  int out = rc == SQLITE_DONE ? 0 : db_fail(s, err, what);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

int hl_store_begin(hl_store *s, hl_err *err) {
  return run_write(s, ST_BEGIN, err, "begin");
}

int hl_store_commit(hl_store *s, hl_err *err) {
  return run_write(s, ST_COMMIT, err, "commit");
}

void hl_store_rollback(hl_store *s) {
  run_write(s, ST_ROLLBACK, NULL, "rollback");
}

void hl_endpoint_rec_cleanup(hl_endpoint_rec *r) {
  free(r->config);
  r->config = NULL;
}

static int read_endpoint(sqlite3_stmt *st, hl_endpoint_rec *r) {
  memset(r, 0, sizeof(*r));
  r->rowid = sqlite3_column_int64(st, 0);
  const unsigned char *id = sqlite3_column_text(st, 1);
  hl_span_to_cstr(hl_span_make(id, (size_t)sqlite3_column_bytes(st, 1)), r->id, sizeof(r->id));
  r->enabled = sqlite3_column_int(st, 2) != 0;
  const unsigned char *reason = sqlite3_column_text(st, 3);
  hl_span reason_span = hl_span_make(reason, (size_t)sqlite3_column_bytes(st, 3));
  hl_span_to_cstr(hl_span_sub(reason_span, 0, sizeof(r->disabled_reason) - 1),
                  r->disabled_reason, sizeof(r->disabled_reason));
  size_t n = (size_t)sqlite3_column_bytes(st, 4);
  r->config = malloc(n + 1);
  if (r->config == NULL) {
    return -ENOMEM;
  }
  if (n > 0) {
    memcpy(r->config, sqlite3_column_text(st, 4), n);
  }
  r->config[n] = '\0';
  r->created_ms = sqlite3_column_int64(st, 5);
  r->updated_ms = sqlite3_column_int64(st, 6);
  return 0;
}

int hl_store_endpoint_put(hl_store *s, hl_span id, hl_span config_json, bool enabled,
                          bool *created, hl_err *err) {
  int64_t now = (int64_t)hl_clock_wall_ms();
  sqlite3_stmt *st = s->st[ST_ENDPOINT_UPDATE];
  bind_span(st, 1, id);
  sqlite3_bind_int(st, 2, enabled);
  bind_span(st, 3, config_json);
  sqlite3_bind_int64(st, 4, now);
  int rc = run_write(s, ST_ENDPOINT_UPDATE, err, "updating endpoint");
  if (rc != 0) {
    return rc;
  }
  *created = sqlite3_changes(s->db) == 0;
  if (!*created) {
    return 0;
  }
  st = s->st[ST_ENDPOINT_INSERT];
  bind_span(st, 1, id);
  sqlite3_bind_int(st, 2, enabled);
  bind_span(st, 3, config_json);
  sqlite3_bind_int64(st, 4, now);
  return run_write(s, ST_ENDPOINT_INSERT, err, "inserting endpoint");
}

int hl_store_endpoint_get(hl_store *s, hl_span id, hl_endpoint_rec *out, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_ENDPOINT_GET];
  bind_span(st, 1, id);
  int step = sqlite3_step(st);
  int rc;
  if (step == SQLITE_ROW) {
    rc = read_endpoint(st, out);
  } else if (step == SQLITE_DONE) {
    rc = hl_err_fail(err, -ENOENT, "no endpoint with id '%.*s'", HL_SPAN_FMT(id));
  } else {
    rc = db_fail(s, err, "reading endpoint");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

int hl_store_endpoint_foreach(hl_store *s, int (*fn)(const hl_endpoint_rec *r, void *ctx),
                              void *ctx, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_ENDPOINT_LIST];
  int rc = 0;
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    hl_endpoint_rec r;
    rc = read_endpoint(st, &r);
    if (rc == 0) {
      rc = fn(&r, ctx);
    }
    hl_endpoint_rec_cleanup(&r);
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = db_fail(s, err, "listing endpoints");
  }
  sqlite3_reset(st);
  return rc;
}

int hl_store_endpoint_delete(hl_store *s, hl_span id, hl_err *err) {
  bind_span(s->st[ST_ENDPOINT_DELETE], 1, id);
  int rc = run_write(s, ST_ENDPOINT_DELETE, err, "deleting endpoint");
  if (rc == 0 && sqlite3_changes(s->db) == 0) {
    rc = hl_err_fail(err, -ENOENT, "no endpoint with id '%.*s'", HL_SPAN_FMT(id));
  }
  return rc;
}

int hl_store_endpoint_set_enabled(hl_store *s, hl_span id, bool enabled, const char *reason,
                                  hl_err *err) {
  sqlite3_stmt *st = s->st[ST_ENDPOINT_ENABLE];
  bind_span(st, 1, id);
  sqlite3_bind_int(st, 2, enabled);
  bind_span(st, 3, hl_span_cstr(enabled || reason == NULL ? "" : reason));
  sqlite3_bind_int64(st, 4, (int64_t)hl_clock_wall_ms());
  int rc = run_write(s, ST_ENDPOINT_ENABLE, err, "enabling endpoint");
  if (rc == 0 && sqlite3_changes(s->db) == 0) {
    rc = hl_err_fail(err, -ENOENT, "no endpoint with id '%.*s'", HL_SPAN_FMT(id));
  }
  return rc;
}

int64_t hl_store_endpoints_generation(hl_store *s) {
  sqlite3_stmt *st = s->st[ST_GENERATION];
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -EIO;
  sqlite3_reset(st);
  return v;
}

const char *hl_outcome_name(hl_outcome o) {
  switch (o) {
    case HL_OUTCOME_DELIVERED:
      return "delivered";
    case HL_OUTCOME_RETRY:
      return "retry";
    case HL_OUTCOME_DEAD:
      return "dead";
    case HL_OUTCOME_DISABLED:
      return "disabled";
    case HL_OUTCOME_DROPPED:
      return "dropped";
  }
  return "unknown";
}

int hl_store_attempt_add(hl_store *s, const hl_attempt_rec *a, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_ATTEMPT_ADD];
  bind_span(st, 1, a->message_id);
  bind_span(st, 2, a->event);
  sqlite3_bind_int64(st, 3, a->endpoint_rowid);
  sqlite3_bind_int(st, 4, (int)a->attempt);
  sqlite3_bind_int64(st, 5, a->started_ms);
  sqlite3_bind_int64(st, 6, a->duration_us);
  sqlite3_bind_int(st, 7, a->status);
  sqlite3_bind_int(st, 8, (int)a->outcome);
  bind_span_or_null(st, 9, a->error_class);
  bind_span_or_null(st, 10, a->error_detail);
  if (a->response_excerpt.len > 0) {
    sqlite3_bind_blob(st, 11, a->response_excerpt.ptr, (int)a->response_excerpt.len,
                      SQLITE_STATIC);
  }
  if (a->next_ms != 0) {
    sqlite3_bind_int64(st, 12, a->next_ms);
  }
  return run_write(s, ST_ATTEMPT_ADD, err, "logging attempt");
}

int hl_store_message_put(hl_store *s, const hl_message_rec *m, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_MESSAGE_PUT];
  bind_span(st, 1, m->id);
  bind_span(st, 2, m->event);
  bind_span(st, 3, m->tenant);
  bind_span(st, 4, m->endpoint);
  sqlite3_bind_int64(st, 5, m->created_ms);
  sqlite3_bind_blob(st, 6, m->data.len > 0 ? m->data.ptr : "", (int)m->data.len, SQLITE_STATIC);
  return run_write(s, ST_MESSAGE_PUT, err, "storing message");
}

int hl_store_pending_put(hl_store *s, hl_span message_id, int64_t endpoint_rowid,
                         uint32_t attempt, int64_t next_ms, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_PENDING_PUT];
  bind_span(st, 1, message_id);
  sqlite3_bind_int64(st, 2, endpoint_rowid);
  sqlite3_bind_int(st, 3, (int)attempt);
  sqlite3_bind_int64(st, 4, next_ms);
  return run_write(s, ST_PENDING_PUT, err, "scheduling retry");
}

int hl_store_pending_delete(hl_store *s, hl_span message_id, int64_t endpoint_rowid,
                            hl_err *err) {
  sqlite3_stmt *st = s->st[ST_PENDING_DELETE];
  bind_span(st, 1, message_id);
  sqlite3_bind_int64(st, 2, endpoint_rowid);
  return run_write(s, ST_PENDING_DELETE, err, "removing retry");
}

static hl_span column_span(sqlite3_stmt *st, int i) {
  const void *p = sqlite3_column_blob(st, i);
  return hl_span_make(p, (size_t)sqlite3_column_bytes(st, i));
}

int hl_store_pending_due(hl_store *s, int64_t now_ms, uint32_t limit,
                         int (*fn)(const hl_pending_rec *p, void *ctx), void *ctx, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_PENDING_DUE];
  sqlite3_bind_int64(st, 1, now_ms);
  sqlite3_bind_int(st, 2, (int)limit);
  int rc = 0;
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    hl_pending_rec p = {
        .message =
            {
                .id = column_span(st, 0),
                .event = column_span(st, 1),
                .tenant = column_span(st, 2),
                .endpoint = column_span(st, 3),
                .data = column_span(st, 4),
                .created_ms = sqlite3_column_int64(st, 5),
            },
        .endpoint_rowid = sqlite3_column_int64(st, 6),
        .attempt = (uint32_t)sqlite3_column_int(st, 7),
        .next_ms = sqlite3_column_int64(st, 8),
    };
    rc = fn(&p, ctx);
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = db_fail(s, err, "loading due retries");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

int hl_store_pending_lease(hl_store *s, hl_span message_id, int64_t endpoint_rowid,
                           int64_t until_ms, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_PENDING_LEASE];
  bind_span(st, 1, message_id);
  sqlite3_bind_int64(st, 2, endpoint_rowid);
  sqlite3_bind_int64(st, 3, until_ms);
  return run_write(s, ST_PENDING_LEASE, err, "leasing retry");
}

int64_t hl_store_pending_reclaim(hl_store *s, int64_t now_ms, hl_err *err) {
  sqlite3_bind_int64(s->st[ST_PENDING_RECLAIM], 1, now_ms);
  int rc = run_write(s, ST_PENDING_RECLAIM, err, "reclaiming leased retries");
  return rc != 0 ? rc : sqlite3_changes64(s->db);
}

int64_t hl_store_pending_count(hl_store *s) {
  sqlite3_stmt *st = s->st[ST_PENDING_COUNT];
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -EIO;
  sqlite3_reset(st);
  return v;
}

int hl_store_dead_letter_put(hl_store *s, hl_span message_id, int64_t endpoint_rowid,
                             int64_t dead_ms, hl_span last_error, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_DEAD_PUT];
  bind_span(st, 1, message_id);
  sqlite3_bind_int64(st, 2, endpoint_rowid);
  sqlite3_bind_int64(st, 3, dead_ms);
  bind_span(st, 4, last_error);
  return run_write(s, ST_DEAD_PUT, err, "recording dead letter");
}

int hl_store_endpoint_state_put(hl_store *s, int64_t endpoint_rowid, const char *breaker,
                                int64_t since_ms, uint32_t consecutive_failures, hl_err *err) {
  sqlite3_stmt *st = s->st[ST_ENDPOINT_STATE_PUT];
  sqlite3_bind_int64(st, 1, endpoint_rowid);
  bind_span(st, 2, hl_span_cstr(breaker));
  sqlite3_bind_int64(st, 3, since_ms);
  sqlite3_bind_int64(st, 4, consecutive_failures);
  return run_write(s, ST_ENDPOINT_STATE_PUT, err, "recording endpoint state");
}

sqlite3 *hl_store_db(hl_store *s) {
  return s->db;
}

bool hl_store_read_only(const hl_store *s) {
  return s->mode == HL_STORE_READ_ONLY;
}
