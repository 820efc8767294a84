/* query: operator reads, replay and retention over the store (see query.h).
 *
 * These statements run rarely (a command, a prune step), so they are
 * prepared per call rather than kept prepared on every connection. */
#include "store/query.h"

#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/buf.h"

static int qfail(hl_store *s, hl_err *err, const char *what) {
  sqlite3 *db = hl_store_db(s);
  int code = sqlite3_extended_errcode(db) & 0xff;
  int rc = code == SQLITE_BUSY ? -EBUSY : code == SQLITE_FULL ? -ENOSPC : -EIO;
  return hl_err_fail(err, rc, "store: %s: %s", what, sqlite3_errmsg(db));
}

static int prep(hl_store *s, const char *sql, sqlite3_stmt **st, hl_err *err) {
  if (sqlite3_prepare_v2(hl_store_db(s), sql, -1, st, NULL) != SQLITE_OK) {
    *st = NULL;
    return qfail(s, err, "preparing a query");
  }
  return 0;
}

/* col_span: a column's bytes; empty and NULL values give an empty span
 * with a valid pointer (SQLite returns NULL for both). */
static hl_span col_span(sqlite3_stmt *st, int i) {
  const void *p = sqlite3_column_blob(st, i);
  return p != NULL ? hl_span_make(p, (size_t)sqlite3_column_bytes(st, i)) : HL_SPAN_LIT("");
}

static void bind_span(sqlite3_stmt *st, int i, hl_span v) {
  sqlite3_bind_text(st, i, v.len > 0 ? v.ptr : "", (int)v.len, SQLITE_STATIC);
}

static void col_cstr(sqlite3_stmt *st, int i, char *dst, size_t cap) {
  hl_span v = col_span(st, i);
  hl_span_to_cstr(hl_span_sub(v, 0, cap - 1), dst, cap);
}

/* step_one runs a statement expected to yield at most one row: 1 if it did
 * (|read|, if given, copies its columns while the row is current), 0 if
 * none, or a negative errno. The statement is reset either way. */
typedef void (*row_reader)(sqlite3_stmt *st, void *out);

static int step_one(hl_store *s, sqlite3_stmt *st, row_reader read, void *out, hl_err *err,
                    const char *what) {
  int step = sqlite3_step(st);
  int rc = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : qfail(s, err, what);
  if (rc == 1 && read != NULL) {
    read(st, out);
  }
  sqlite3_reset(st);
  return rc;
}

static void read_i64_pair(sqlite3_stmt *st, void *out) {
  int64_t *v = out;
  v[0] = sqlite3_column_int64(st, 0);
  v[1] = sqlite3_column_int64(st, 1);
}

static void read_i64(sqlite3_stmt *st, void *out) {
  *(int64_t *)out = sqlite3_column_int64(st, 0);
}

/* --- time windows over the rowid ----------------------------------------- */

/* next_row finds the first attempt with rowid >= |x|: v[0] rowid, v[1]
 * started_ms. */
static int next_row(hl_store *s, sqlite3_stmt *st, int64_t x, int64_t v[2], hl_err *err) {
  sqlite3_bind_int64(st, 1, x);
  return step_one(s, st, read_i64_pair, v, err, "locating a time window");
}

/* bisect sets *out to an attempt rowid b such that started(b) < |threshold|
 * and the next row's started >= |threshold|; to (first rowid - 1) when no
 * row is below the threshold, and to the last rowid when every row is.
 * started_ms is not monotonic in the rowid, so b is one such boundary, not
 * necessarily the only one; query.h explains why one suffices. */
static int bisect(hl_store *s, int64_t threshold, int64_t *out, hl_err *err) {
  sqlite3_stmt *ends = NULL, *next = NULL;
  int64_t range[2] = {0, 0};
  int rc = prep(s,
                "SELECT (SELECT min(rowid) FROM attempts), (SELECT max(rowid) FROM attempts)",
                &ends, err);
  if (rc == 0) {
    rc = prep(s, "SELECT rowid, started_ms FROM attempts WHERE rowid >= ?1 ORDER BY rowid LIMIT 1",
              &next, err);
  }
  if (rc == 0) {
    rc = step_one(s, ends, read_i64_pair, range, err, "locating a time window");
  }
  *out = 0;
  if (rc <= 0 || range[1] == 0) {
    goto done; /* error, or an empty log */
  }
  int64_t lo = range[0], hi = range[1], v[2] = {0, 0};
  if ((rc = next_row(s, next, lo, v, err)) <= 0) {
    goto done;
  }
  if (v[1] >= threshold) {
    *out = lo - 1;
    goto done;
  }
  if ((rc = next_row(s, next, hi, v, err)) <= 0) {
    goto done;
  }
  if (v[1] < threshold) {
    *out = hi;
    goto done;
  }
  /* f(x) = started(first row >= x) < threshold; f(lo) true, f(hi) false. */
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if ((rc = next_row(s, next, mid, v, err)) <= 0) {
      goto done;
    }
    if (v[1] < threshold) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  *out = lo;
  rc = 0;
done:
  sqlite3_finalize(ends);
  sqlite3_finalize(next);
  return rc < 0 ? rc : 0;
}

int hl_query_first_rowid_since(hl_store *s, int64_t since_ms, int64_t *rowid, hl_err *err) {
  int64_t b = 0;
  int rc = bisect(s, since_ms - HL_ATTEMPT_LOG_DELAY_MS_MAX, &b, err);
  *rowid = b + 1;
  return rc;
}

/* last_rowid_before sets *rowid so that every attempt with started_ms <
 * |before_ms| has a rowid <= it. */
static int last_rowid_before(hl_store *s, int64_t before_ms, int64_t *rowid, hl_err *err) {
  return bisect(s, before_ms + HL_ATTEMPT_LOG_DELAY_MS_MAX, rowid, err);
}

typedef struct ep_lookup {
  int64_t rowid;
  bool enabled;
} ep_lookup;

static void read_ep_lookup(sqlite3_stmt *st, void *out) {
  ep_lookup *e = out;
  e->rowid = sqlite3_column_int64(st, 0);
  e->enabled = sqlite3_column_int(st, 1) != 0;
}

int hl_query_endpoint_rowid(hl_store *s, hl_span id, int64_t *rowid, bool *enabled,
                            hl_err *err) {
  sqlite3_stmt *st;
  int rc = prep(s, "SELECT rowid, enabled FROM endpoints WHERE id = ?1", &st, err);
  if (rc != 0) {
    return rc;
  }
  bind_span(st, 1, id);
  ep_lookup e = {0};
  rc = step_one(s, st, read_ep_lookup, &e, err, "looking up an endpoint");
  sqlite3_finalize(st);
  if (rc == 0) {
    return hl_err_fail(err, -ENOENT, "no endpoint with id '%.*s'", HL_SPAN_FMT(id));
  }
  if (rc < 0) {
    return rc;
  }
  *rowid = e.rowid;
  if (enabled != NULL) {
    *enabled = e.enabled;
  }
  return 0;
}

/* --- attempts ------------------------------------------------------------- */

void hl_attempt_filter_init(hl_attempt_filter *f) {
  memset(f, 0, sizeof(*f));
  f->status_min = -1;
  f->status_max = -1;
  f->limit = HL_QUERY_LIMIT_DEFAULT;
}

enum {
  P_MESSAGE = 1,
  P_FIRST_ROWID,
  P_SINCE,
  P_ENDPOINT,
  P_EVENT,
  P_EVENT_PREFIX_LEN,
  P_STATUS_MIN,
  P_STATUS_MAX,
  P_LIMIT,
};

/* The statement holds only the conditions in use, so that SQLite can pick
 * the message index or the rowid range as the filter allows. */
static void attempts_sql(const hl_attempt_filter *f, bool event_prefix, hl_buf *b) {
  hl_buf_put_cstr(b,
                  "SELECT a.rowid, a.message_id, a.event, a.endpoint, e.id, a.attempt, "
                  "a.started_ms, a.duration_us, a.status, a.outcome, a.error_class, "
                  "a.error_detail, a.response_excerpt, a.next_ms FROM attempts a ");
  if (f->message_id.len > 0) {
    hl_buf_put_cstr(b, "INDEXED BY attempts_message ");
  }
  hl_buf_put_cstr(b, "LEFT JOIN endpoints e ON e.rowid = a.endpoint WHERE 1");
  if (f->message_id.len > 0) {
    hl_buf_put_cstr(b, " AND a.message_id = ?1");
  }
  if (f->since_ms > 0) {
    hl_buf_put_cstr(b, " AND a.rowid >= ?2 AND a.started_ms >= ?3");
  }
  if (f->endpoint_rowid > 0) {
    hl_buf_put_cstr(b, " AND a.endpoint = ?4");
  }
  if (f->event.len > 0) {
    hl_buf_put_cstr(b, event_prefix ? " AND substr(a.event, 1, ?6) = ?5" : " AND a.event = ?5");
  }
  if (f->failed) {
    hl_buf_printf(b, " AND a.outcome != %d", HL_OUTCOME_DELIVERED);
  }
  if (f->status_min >= 0) {
    hl_buf_put_cstr(b, " AND a.status BETWEEN ?7 AND ?8");
  }
  hl_buf_put_cstr(b, " ORDER BY a.rowid DESC LIMIT ?9");
}

int hl_query_attempts(hl_store *s, const hl_attempt_filter *f,
                      int (*fn)(const hl_attempt_row *r, void *ctx), void *ctx, hl_err *err) {
  /* "lead.*" matches every event starting "lead." */
  hl_span event = f->event;
  bool event_prefix = hl_span_ends_with(event, HL_SPAN_LIT(".*"));
  if (event_prefix) {
    event.len -= 1;
  }
  char sql[1024];
  hl_buf b;
  hl_buf_init(&b, sql, sizeof(sql));
  attempts_sql(f, event_prefix, &b);
  HL_ASSERT(hl_buf_ok(&b));
  hl_buf_cstr(&b);
  int64_t first = 1;
  int rc = f->since_ms > 0 ? hl_query_first_rowid_since(s, f->since_ms, &first, err) : 0;
  sqlite3_stmt *st = NULL;
  if (rc == 0) {
    rc = prep(s, sql, &st, err);
  }
  if (rc != 0) {
    return rc;
  }
  bind_span(st, P_MESSAGE, f->message_id);
  sqlite3_bind_int64(st, P_FIRST_ROWID, first);
  sqlite3_bind_int64(st, P_SINCE, f->since_ms);
  sqlite3_bind_int64(st, P_ENDPOINT, f->endpoint_rowid);
  bind_span(st, P_EVENT, event);
  sqlite3_bind_int64(st, P_EVENT_PREFIX_LEN, (int64_t)event.len);
  sqlite3_bind_int(st, P_STATUS_MIN, f->status_min);
  sqlite3_bind_int(st, P_STATUS_MAX, f->status_max);
  sqlite3_bind_int64(st, P_LIMIT, f->limit > 0 ? f->limit : HL_QUERY_LIMIT_DEFAULT);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    hl_attempt_row r = {
        .rowid = sqlite3_column_int64(st, 0),
        .message_id = col_span(st, 1),
        .event = col_span(st, 2),
        .endpoint_rowid = sqlite3_column_int64(st, 3),
        .endpoint_id = col_span(st, 4),
        .attempt = (uint32_t)sqlite3_column_int64(st, 5),
        .started_ms = sqlite3_column_int64(st, 6),
        .duration_us = (uint32_t)sqlite3_column_int64(st, 7),
        .status = sqlite3_column_int(st, 8),
        .outcome = (hl_outcome)sqlite3_column_int(st, 9),
        .error_class = col_span(st, 10),
        .error_detail = col_span(st, 11),
        .response_excerpt = col_span(st, 12),
        .next_ms = sqlite3_column_int64(st, 13),
    };
    rc = fn(&r, ctx);
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = qfail(s, err, "reading attempts");
  }
  sqlite3_finalize(st);
  return rc;
}

/* --- dead letters ----------------------------------------------------------- */

int hl_query_dead_letters(hl_store *s, int64_t endpoint_rowid, uint32_t limit,
                          int (*fn)(const hl_dead_letter_row *r, void *ctx), void *ctx,
                          hl_err *err) {
  sqlite3_stmt *st;
  int rc = prep(s,
                "SELECT d.message_id, m.event, d.endpoint, e.id, d.dead_ms, d.last_error, "
                "(SELECT max(a.attempt) FROM attempts a WHERE a.message_id = d.message_id "
                "AND a.endpoint = d.endpoint), m.id IS NOT NULL "
                "FROM dead_letters d LEFT JOIN messages m ON m.id = d.message_id "
                "LEFT JOIN endpoints e ON e.rowid = d.endpoint "
                "WHERE ?1 = 0 OR d.endpoint = ?1 ORDER BY d.dead_ms DESC LIMIT ?2",
                &st, err);
  if (rc != 0) {
    return rc;
  }
  sqlite3_bind_int64(st, 1, endpoint_rowid);
  sqlite3_bind_int64(st, 2, limit > 0 ? (int64_t)limit : -1);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    hl_dead_letter_row r = {
        .message_id = col_span(st, 0),
        .event = col_span(st, 1),
        .endpoint_rowid = sqlite3_column_int64(st, 2),
        .endpoint_id = col_span(st, 3),
        .dead_ms = sqlite3_column_int64(st, 4),
        .last_error = col_span(st, 5),
        .attempts = (uint32_t)sqlite3_column_int64(st, 6),
        .has_payload = sqlite3_column_int(st, 7) != 0,
    };
    rc = fn(&r, ctx);
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = qfail(s, err, "reading dead letters");
  }
  sqlite3_finalize(st);
  return rc;
}

/* --- status ----------------------------------------------------------------- */

typedef struct ep_stat {
  hl_endpoint_status st;
  int64_t last_rowid;
  hl_hist *hist; /* allocated on the first attempt in the window */
} ep_stat;

typedef struct status_run {
  ep_stat *eps; /* sorted by rowid */
  size_t n, cap;
  size_t missing_last;
} status_run;

static ep_stat *find_ep(status_run *r, int64_t rowid) {
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->eps[mid].st.rowid < rowid) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < r->n && r->eps[lo].st.rowid == rowid ? &r->eps[lo] : NULL;
}

static int load_endpoints(hl_store *s, status_run *r, hl_err *err) {
  sqlite3_stmt *st;
  int rc = prep(s,
                "SELECT e.rowid, e.id, e.enabled, e.disabled_reason, s.breaker, s.since_ms, "
                "s.consecutive_failures FROM endpoints e LEFT JOIN endpoint_state s "
                "ON s.endpoint = e.rowid ORDER BY e.rowid",
                &st, err);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if (r->n == r->cap) {
      size_t cap = r->cap > 0 ? r->cap * 2 : 16;
      ep_stat *eps = realloc(r->eps, cap * sizeof(*eps));
      if (eps == NULL) {
        rc = hl_err_fail(err, -ENOMEM, "status: out of memory");
        break;
      }
      r->eps = eps;
      r->cap = cap;
    }
    ep_stat *e = &r->eps[r->n++];
    memset(e, 0, sizeof(*e));
    e->st.rowid = sqlite3_column_int64(st, 0);
    col_cstr(st, 1, e->st.id, sizeof(e->st.id));
    e->st.enabled = sqlite3_column_int(st, 2) != 0;
    col_cstr(st, 3, e->st.disabled_reason, sizeof(e->st.disabled_reason));
    if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
      memcpy(e->st.breaker, "closed", sizeof("closed"));
    } else {
      col_cstr(st, 4, e->st.breaker, sizeof(e->st.breaker));
      e->st.breaker_since_ms = sqlite3_column_int64(st, 5);
      e->st.consecutive_failures = (uint32_t)sqlite3_column_int64(st, 6);
    }
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = qfail(s, err, "reading endpoints");
  }
  sqlite3_finalize(st);
  r->missing_last = r->n;
  return rc;
}

/* count_by_endpoint adds "SELECT endpoint, count(*) ... GROUP BY endpoint"
 * results into the field at |offset| of each endpoint's status. */
static int count_by_endpoint(hl_store *s, status_run *r, const char *sql, size_t offset,
                             hl_err *err) {
  sqlite3_stmt *st;
  int rc = prep(s, sql, &st, err);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    ep_stat *e = find_ep(r, sqlite3_column_int64(st, 0));
    if (e != NULL) {
      int64_t *field = (int64_t *)((char *)&e->st + offset);
      *field = sqlite3_column_int64(st, 1);
    }
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = qfail(s, err, "counting");
  }
  sqlite3_finalize(st);
  return rc;
}

/* set_last records a row (rowid, endpoint, started_ms, status, outcome,
 * error_class in columns 0, 1, 2, 4, 5, 6) as an endpoint's last attempt if
 * it started later than the one it has. */
static void set_last(status_run *r, ep_stat *e, sqlite3_stmt *st) {
  int64_t rowid = sqlite3_column_int64(st, 0);
  int64_t started = sqlite3_column_int64(st, 2);
  /* Rows are logged when attempts end: the last one started may be an
   * earlier row than the last one logged. */
  if (e->st.has_last && (started < e->st.last_started_ms ||
                         (started == e->st.last_started_ms && rowid < e->last_rowid))) {
    return;
  }
  if (!e->st.has_last) {
    r->missing_last--;
  }
  e->st.has_last = true;
  e->last_rowid = rowid;
  e->st.last_started_ms = sqlite3_column_int64(st, 2);
  e->st.last_status = sqlite3_column_int(st, 4);
  e->st.last_outcome = (hl_outcome)sqlite3_column_int(st, 5);
  col_cstr(st, 6, e->st.last_error_class, sizeof(e->st.last_error_class));
}

#define STATUS_COLUMNS "rowid, endpoint, started_ms, duration_us, status, outcome, error_class"

static int scan_window(hl_store *s, status_run *r, int64_t first, int64_t since_ms,
                       uint64_t *rows, hl_err *err) {
  sqlite3_stmt *st;
  int rc = prep(s, "SELECT " STATUS_COLUMNS " FROM attempts WHERE rowid >= ?1 ORDER BY rowid",
                &st, err);
  if (rc != 0) {
    return rc;
  }
  sqlite3_bind_int64(st, 1, first);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    (*rows)++;
    ep_stat *e = find_ep(r, sqlite3_column_int64(st, 1));
    if (e == NULL) {
      continue; /* a deleted endpoint */
    }
    set_last(r, e, st);
    if (sqlite3_column_int64(st, 2) < since_ms) {
      continue;
    }
    if (e->hist == NULL) {
      e->hist = malloc(sizeof(*e->hist));
      if (e->hist == NULL) {
        rc = hl_err_fail(err, -ENOMEM, "status: out of memory");
        break;
      }
      hl_hist_init(e->hist);
    }
    hl_hist_record(e->hist, (uint64_t)sqlite3_column_int64(st, 3));
    e->st.window_attempts++;
    e->st.window_delivered += sqlite3_column_int(st, 5) == HL_OUTCOME_DELIVERED;
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = qfail(s, err, "reading attempts");
  }
  sqlite3_finalize(st);
  return rc;
}

/* scan_before looks further back for the last attempt of endpoints that
 * had none in the window, a bounded number of rows. */
static int scan_before(hl_store *s, status_run *r, int64_t first, uint64_t *rows, hl_err *err) {
  if (r->missing_last == 0 || first <= 1) {
    return 0;
  }
  sqlite3_stmt *st;
  int rc = prep(s,
                "SELECT " STATUS_COLUMNS
                " FROM attempts WHERE rowid < ?1 ORDER BY rowid DESC LIMIT ?2",
                &st, err);
  if (rc != 0) {
    return rc;
  }
  sqlite3_bind_int64(st, 1, first);
  sqlite3_bind_int64(st, 2, HL_STATUS_LAST_SCAN_ROWS_MAX);
  int step;
  while (rc == 0 && r->missing_last > 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    (*rows)++;
    ep_stat *e = find_ep(r, sqlite3_column_int64(st, 1));
    if (e != NULL && !e->st.has_last) {
      set_last(r, e, st);
    }
  }
  if (rc == 0 && r->missing_last > 0 && step != SQLITE_DONE) {
    rc = qfail(s, err, "reading attempts");
  }
  sqlite3_finalize(st);
  return rc;
}

static int cmp_ep_id(const void *a, const void *b) {
  const ep_stat *x = *(const ep_stat *const *)a, *y = *(const ep_stat *const *)b;
  return strcmp(x->st.id, y->st.id);
}

static int report_status(status_run *r, int (*fn)(const hl_endpoint_status *st, void *ctx),
                         void *ctx, hl_err *err) {
  ep_stat **order = malloc((r->n > 0 ? r->n : 1) * sizeof(*order));
  if (order == NULL) {
    return hl_err_fail(err, -ENOMEM, "status: out of memory");
  }
  for (size_t i = 0; i < r->n; i++) {
    order[i] = &r->eps[i];
    if (r->eps[i].hist != NULL) {
      r->eps[i].st.p50_us = hl_hist_percentile(r->eps[i].hist, 50);
      r->eps[i].st.p99_us = hl_hist_percentile(r->eps[i].hist, 99);
    }
  }
  qsort(order, r->n, sizeof(*order), cmp_ep_id);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < r->n; i++) {
    rc = fn(&order[i]->st, ctx);
  }
  free(order);
  return rc;
}

int hl_query_status(hl_store *s, int64_t now_ms, int64_t window_ms,
                    int (*fn)(const hl_endpoint_status *st, void *ctx), void *ctx,
                    hl_status_summary *summary, hl_err *err) {
  status_run r = {0};
  memset(summary, 0, sizeof(*summary));
  int64_t since_ms = now_ms - window_ms;
  int64_t first = 1, ends[2] = {0, 0};
  sqlite3_stmt *st = NULL;
  /* One read transaction, so every count is of the same snapshot. */
  int rc = sqlite3_exec(hl_store_db(s), "BEGIN", NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : qfail(s, err, "starting a read");
  if (rc != 0) {
    return rc;
  }
  rc = load_endpoints(s, &r, err);
  if (rc == 0) {
    rc = count_by_endpoint(s, &r, "SELECT endpoint, count(*) FROM pending GROUP BY endpoint",
                           offsetof(hl_endpoint_status, pending), err);
  }
  if (rc == 0) {
    rc = count_by_endpoint(s, &r,
                           "SELECT endpoint, count(*) FROM dead_letters GROUP BY endpoint",
                           offsetof(hl_endpoint_status, dead_letters), err);
  }
  if (rc == 0) {
    rc = hl_query_first_rowid_since(s, since_ms, &first, err);
  }
  if (rc == 0) {
    rc = prep(s, "SELECT max(rowid), 0 FROM attempts", &st, err);
  }
  if (rc == 0) {
    rc = step_one(s, st, read_i64_pair, ends, err, "reading attempts");
    rc = rc < 0 ? rc : 0;
  }
  summary->window_ms = window_ms;
  if (rc == 0 && ends[0] - first + 1 > HL_STATUS_SCAN_ROWS_MAX) {
    first = ends[0] - HL_STATUS_SCAN_ROWS_MAX + 1;
    summary->window_cut = true;
    int64_t v[2] = {0, 0};
    sqlite3_finalize(st);
    rc = prep(s, "SELECT rowid, started_ms FROM attempts WHERE rowid >= ?1 LIMIT 1", &st, err);
    if (rc == 0 && (rc = next_row(s, st, first, v, err)) > 0) {
      summary->window_ms = now_ms - v[1];
      since_ms = v[1];
    }
    rc = rc < 0 ? rc : 0;
  }
  sqlite3_finalize(st);
  if (rc == 0) {
    rc = scan_window(s, &r, first, since_ms, &summary->rows_read, err);
  }
  if (rc == 0) {
    rc = scan_before(s, &r, first, &summary->rows_read, err);
  }
  sqlite3_exec(hl_store_db(s), "COMMIT", NULL, NULL, NULL);
  if (rc == 0) {
    rc = report_status(&r, fn, ctx, err);
  }
  for (size_t i = 0; i < r.n; i++) {
    free(r.eps[i].hist);
  }
  free(r.eps);
  return rc;
}

/* --- replay ---------------------------------------------------------------- */

typedef struct delivery_info {
  bool has_attempts;
  hl_outcome latest;
  int64_t max_attempt;
  bool pending;
  int64_t pending_attempt;
  bool dead;
  bool has_payload;
} delivery_info;

static void read_delivery(sqlite3_stmt *st, void *out) {
  delivery_info *d = out;
  d->has_attempts = sqlite3_column_type(st, 0) != SQLITE_NULL;
  d->latest = (hl_outcome)sqlite3_column_int(st, 0);
  d->max_attempt = sqlite3_column_int64(st, 1);
  d->pending = sqlite3_column_type(st, 2) != SQLITE_NULL;
  d->pending_attempt = sqlite3_column_int64(st, 2);
  d->dead = sqlite3_column_int(st, 3) != 0;
  d->has_payload = sqlite3_column_int(st, 4) != 0;
}

/* The replay statements, prepared once per replay call. */
typedef struct replay_sql {
  sqlite3_stmt *info;
  sqlite3_stmt *undead;
} replay_sql;

static int replay_sql_prepare(hl_store *s, replay_sql *q, hl_err *err) {
  memset(q, 0, sizeof(*q));
  int rc = prep(s,
                "SELECT (SELECT outcome FROM attempts WHERE message_id = ?1 AND endpoint = ?2 "
                "ORDER BY rowid DESC LIMIT 1), "
                "(SELECT max(attempt) FROM attempts WHERE message_id = ?1 AND endpoint = ?2), "
                "(SELECT attempt FROM pending WHERE message_id = ?1 AND endpoint = ?2), "
                "EXISTS (SELECT 1 FROM dead_letters WHERE message_id = ?1 AND endpoint = ?2), "
                "EXISTS (SELECT 1 FROM messages WHERE id = ?1)",
                &q->info, err);
  if (rc == 0) {
    rc = prep(s, "DELETE FROM dead_letters WHERE message_id = ?1 AND endpoint = ?2", &q->undead,
              err);
  }
  return rc;
}

static void replay_sql_finalize(replay_sql *q) {
  sqlite3_finalize(q->info);
  sqlite3_finalize(q->undead);
}

static int delivery_read(hl_store *s, replay_sql *q, hl_span message_id, int64_t endpoint_rowid,
                         delivery_info *d, hl_err *err) {
  memset(d, 0, sizeof(*d));
  bind_span(q->info, 1, message_id);
  sqlite3_bind_int64(q->info, 2, endpoint_rowid);
  int rc = step_one(s, q->info, read_delivery, d, err, "reading a delivery");
  return rc < 0 ? rc : 0;
}

static uint32_t next_attempt(const delivery_info *d) {
  int64_t base = d->max_attempt;
  if (d->pending && d->pending_attempt - 1 > base) {
    base = d->pending_attempt - 1;
  }
  return (uint32_t)(base + 1);
}

/* schedule writes the pending row and drops the dead letter. */
static int schedule(hl_store *s, replay_sql *q, hl_span message_id, int64_t endpoint_rowid,
                    uint32_t attempt, int64_t now_ms, hl_err *err) {
  int rc = hl_store_pending_put(s, message_id, endpoint_rowid, attempt, now_ms, err);
  if (rc != 0) {
    return rc;
  }
  bind_span(q->undead, 1, message_id);
  sqlite3_bind_int64(q->undead, 2, endpoint_rowid);
  rc = step_one(s, q->undead, NULL, NULL, err, "removing a dead letter");
  return rc < 0 ? rc : 0;
}

static int no_payload(hl_err *err, hl_span message_id) {
  return hl_err_fail(err, -ENOENT,
                     "message %.*s: its payload is not stored (payloads of delivered messages are "
                     "kept only when the engine runs with --retain-payloads, and prune removes "
                     "old ones)",
                     HL_SPAN_FMT(message_id));
}

int hl_store_replay(hl_store *s, hl_span message_id, int64_t endpoint_rowid, int64_t now_ms,
                    bool dry_run, uint32_t *attempt, hl_err *err) {
  replay_sql q;
  int rc = replay_sql_prepare(s, &q, err);
  bool in_tx = false;
  if (rc == 0 && !dry_run) {
    rc = hl_store_begin(s, err);
    in_tx = rc == 0;
  }
  delivery_info d;
  if (rc == 0) {
    rc = delivery_read(s, &q, message_id, endpoint_rowid, &d, err);
  }
  if (rc == 0 && !d.has_payload) {
    rc = no_payload(err, message_id);
  }
  if (rc == 0) {
    *attempt = next_attempt(&d);
    if (!dry_run) {
      rc = schedule(s, &q, message_id, endpoint_rowid, *attempt, now_ms, err);
    }
  }
  if (in_tx && rc == 0) {
    rc = hl_store_commit(s, err);
  } else if (in_tx) {
    hl_store_rollback(s);
  }
  replay_sql_finalize(&q);
  return rc;
}

int hl_query_message_endpoints(hl_store *s, hl_span message_id,
                               int (*fn)(int64_t endpoint_rowid, void *ctx), void *ctx,
                               hl_err *err) {
  sqlite3_stmt *st;
  int rc = prep(s,
                "SELECT endpoint FROM attempts WHERE message_id = ?1 "
                "UNION SELECT endpoint FROM dead_letters WHERE message_id = ?1 "
                "UNION SELECT endpoint FROM pending WHERE message_id = ?1 ORDER BY 1",
                &st, err);
  if (rc != 0) {
    return rc;
  }
  bind_span(st, 1, message_id);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    rc = fn(sqlite3_column_int64(st, 0), ctx);
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = qfail(s, err, "reading a message's endpoints");
  }
  sqlite3_finalize(st);
  return rc;
}

typedef struct id_list {
  char **ids;
  size_t n, cap;
} id_list;

static void id_list_free(id_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->ids[i]);
  }
  free(l->ids);
}

static int id_list_add(id_list *l, hl_span id, hl_err *err) {
  if (l->n == HL_REPLAY_DELIVERIES_MAX) {
    return hl_err_fail(err, -E2BIG,
                       "more than %d failed deliveries in the window; replay a shorter window "
                       "(--since) in several runs",
                       HL_REPLAY_DELIVERIES_MAX);
  }
  if (l->n == l->cap) {
    size_t cap = l->cap > 0 ? l->cap * 2 : 64;
    char **ids = realloc(l->ids, cap * sizeof(*ids));
    if (ids == NULL) {
      return hl_err_fail(err, -ENOMEM, "replay: out of memory");
    }
    l->ids = ids;
    l->cap = cap;
  }
  char *copy = malloc(id.len + 1);
  if (copy == NULL) {
    return hl_err_fail(err, -ENOMEM, "replay: out of memory");
  }
  memcpy(copy, id.ptr, id.len);
  copy[id.len] = '\0';
  l->ids[l->n++] = copy;
  return 0;
}

/* failed_deliveries collects the message ids of the endpoint's failed
 * attempts and dead letters since |since_ms|, each once. */
static int failed_deliveries(hl_store *s, int64_t endpoint_rowid, int64_t since_ms, id_list *out,
                             hl_err *err) {
  int64_t first = 1;
  int rc = hl_query_first_rowid_since(s, since_ms, &first, err);
  sqlite3_stmt *st = NULL;
  if (rc == 0) {
    char sql[512];
    hl_buf b;
    hl_buf_init(&b, sql, sizeof(sql));
    hl_buf_printf(&b,
                  "SELECT message_id FROM attempts WHERE rowid >= ?1 AND started_ms >= ?2 "
                  "AND endpoint = ?3 AND outcome != %d "
                  "UNION SELECT message_id FROM dead_letters WHERE endpoint = ?3 "
                  "AND dead_ms >= ?2",
                  HL_OUTCOME_DELIVERED);
    rc = prep(s, hl_buf_cstr(&b), &st, err);
  }
  if (rc != 0) {
    return rc;
  }
  sqlite3_bind_int64(st, 1, first);
  sqlite3_bind_int64(st, 2, since_ms);
  sqlite3_bind_int64(st, 3, endpoint_rowid);
  int step;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    rc = id_list_add(out, col_span(st, 0), err);
  }
  if (rc == 0 && step != SQLITE_DONE) {
    rc = qfail(s, err, "finding failed deliveries");
  }
  sqlite3_finalize(st);
  return rc;
}

/* replay_one classifies and (unless |dry_run|) schedules one delivery. */
static int replay_one(hl_store *s, replay_sql *q, hl_span id, int64_t endpoint_rowid,
                      int64_t now_ms, bool dry_run, hl_replay_stats *stats, hl_err *err) {
  delivery_info d;
  int rc = delivery_read(s, q, id, endpoint_rowid, &d, err);
  if (rc != 0) {
    return rc;
  }
  if (d.has_attempts && d.latest == HL_OUTCOME_DELIVERED && !d.dead && !d.pending) {
    stats->already_delivered++;
    return 0;
  }
  if (!d.has_payload) {
    stats->missing_payload++;
    return 0;
  }
  stats->scheduled++;
  stats->from_dead_letters += d.dead;
  stats->were_pending += d.pending;
  return dry_run ? 0 : schedule(s, q, id, endpoint_rowid, next_attempt(&d), now_ms, err);
}

int hl_store_replay_failed(hl_store *s, int64_t endpoint_rowid, int64_t since_ms,
                           int64_t now_ms, bool dry_run, hl_replay_stats *stats, hl_err *err) {
  memset(stats, 0, sizeof(*stats));
  id_list ids = {0};
  replay_sql q;
  int rc = replay_sql_prepare(s, &q, err);
  if (rc == 0) {
    rc = failed_deliveries(s, endpoint_rowid, since_ms, &ids, err);
  }
  for (size_t i = 0; rc == 0 && i < ids.n; i += HL_REPLAY_BATCH_ROWS) {
    if (!dry_run && (rc = hl_store_begin(s, err)) != 0) {
      break;
    }
    for (size_t k = i; rc == 0 && k < ids.n && k < i + HL_REPLAY_BATCH_ROWS; k++) {
      rc = replay_one(s, &q, hl_span_cstr(ids.ids[k]), endpoint_rowid, now_ms, dry_run, stats,
                      err);
    }
    if (!dry_run && rc == 0) {
      rc = hl_store_commit(s, err);
    } else if (!dry_run) {
      hl_store_rollback(s);
    }
  }
  replay_sql_finalize(&q);
  id_list_free(&ids);
  return rc;
}

/* --- retention --------------------------------------------------------------- */

enum {
  PRUNE_ATTEMPTS_START,
  PRUNE_ATTEMPTS,
  PRUNE_DEAD_LETTERS,
  PRUNE_MESSAGES,
  PRUNE_ENDPOINT_STATE,
  PRUNE_DONE,
};

void hl_prune_init(hl_prune *p, int64_t cutoff_ms, uint32_t batch_rows) {
  memset(p, 0, sizeof(*p));
  p->cutoff_ms = cutoff_ms;
  p->batch_rows = batch_rows > 0 ? batch_rows : HL_PRUNE_BATCH_ROWS_DEFAULT;
  p->phase = PRUNE_ATTEMPTS_START;
}

/* run_delete binds nothing itself: the caller has bound |st|. Returns the
 * rows deleted, or a negative errno. */
static int64_t run_delete(hl_store *s, sqlite3_stmt *st, hl_err *err, const char *what) {
  int rc = step_one(s, st, NULL, NULL, err, what);
  return rc < 0 ? rc : sqlite3_changes64(hl_store_db(s));
}

/* prune_attempts deletes the next batch_rows rows (by rowid) up to the
 * pass's bound, keeping those in range that started after the cutoff. */
static int prune_attempts(hl_store *s, hl_prune *p, hl_err *err) {
  sqlite3_stmt *hi_st = NULL, *del = NULL;
  int rc = prep(s,
                "SELECT rowid FROM attempts WHERE rowid > ?1 AND rowid <= ?2 "
                "ORDER BY rowid LIMIT 1 OFFSET ?3",
                &hi_st, err);
  if (rc == 0) {
    rc = prep(s,
              "DELETE FROM attempts WHERE rowid > ?1 AND rowid <= ?2 AND started_ms < ?3",
              &del, err);
  }
  int64_t hi = p->attempts_bound;
  if (rc == 0) {
    sqlite3_bind_int64(hi_st, 1, p->attempts_last);
    sqlite3_bind_int64(hi_st, 2, p->attempts_bound);
    sqlite3_bind_int64(hi_st, 3, (int64_t)p->batch_rows - 1);
    rc = step_one(s, hi_st, read_i64, &hi, err, "pruning attempts");
    rc = rc < 0 ? rc : 0;
  }
  if (rc == 0) {
    sqlite3_bind_int64(del, 1, p->attempts_last);
    sqlite3_bind_int64(del, 2, hi);
    sqlite3_bind_int64(del, 3, p->cutoff_ms);
    int64_t n = run_delete(s, del, err, "pruning attempts");
    if (n < 0) {
      rc = (int)n;
    } else {
      p->deleted.attempts += n;
      p->attempts_last = hi;
      if (hi >= p->attempts_bound) {
        p->phase = PRUNE_DEAD_LETTERS;
      }
    }
  }
  sqlite3_finalize(hi_st);
  sqlite3_finalize(del);
  return rc;
}

static int prune_dead_letters(hl_store *s, hl_prune *p, hl_err *err) {
  sqlite3_stmt *del;
  int rc = prep(s,
                "DELETE FROM dead_letters WHERE (message_id, endpoint) IN "
                "(SELECT message_id, endpoint FROM dead_letters WHERE dead_ms < ?1 "
                "ORDER BY dead_ms LIMIT ?2)",
                &del, err);
  if (rc != 0) {
    return rc;
  }
  sqlite3_bind_int64(del, 1, p->cutoff_ms);
  sqlite3_bind_int64(del, 2, p->batch_rows);
  int64_t n = run_delete(s, del, err, "pruning dead letters");
  sqlite3_finalize(del);
  if (n < 0) {
    return (int)n;
  }
  p->deleted.dead_letters += n;
  if (n < (int64_t)p->batch_rows) {
    p->phase = PRUNE_MESSAGES;
  }
  return 0;
}

/* Payloads are walked in id order, batch_rows ids per step (ids are the
 * primary key, so each step is a range of the b-tree), and the ones no
 * pending row or dead letter needs are deleted if old enough. */
#define MESSAGE_UNNEEDED                                                  \
  "created_ms < ?3 AND NOT EXISTS (SELECT 1 FROM pending p WHERE "        \
  "p.message_id = messages.id) AND NOT EXISTS (SELECT 1 FROM dead_letters " \
  "d WHERE d.message_id = messages.id)"

static void read_message_key(sqlite3_stmt *st, void *out) {
  hl_prune *p = out;
  hl_span id = col_span(st, 0);
  if (id.len <= sizeof(p->message_last)) {
    memcpy(p->message_last, id.ptr, id.len);
    p->message_last_len = id.len;
  } else {
    p->message_last_len = SIZE_MAX; /* cannot happen with validated ids */
  }
}

static int prune_messages(hl_store *s, hl_prune *p, hl_err *err) {
  sqlite3_stmt *key = NULL, *del = NULL;
  int rc = prep(s, "SELECT id FROM messages WHERE id > ?1 ORDER BY id LIMIT 1 OFFSET ?2", &key,
                err);
  if (rc == 0) {
    rc = prep(s,
              "DELETE FROM messages WHERE id > ?1 AND (?2 IS NULL OR id <= ?2) AND " MESSAGE_UNNEEDED,
              &del, err);
  }
  hl_prune next = *p;
  int found = 0;
  if (rc == 0) {
    sqlite3_bind_text(key, 1, p->message_last, (int)p->message_last_len, SQLITE_STATIC);
    sqlite3_bind_int64(key, 2, (int64_t)p->batch_rows - 1);
    found = step_one(s, key, read_message_key, &next, err, "pruning payloads");
    rc = found < 0 ? found : 0;
  }
  if (rc == 0 && found == 1 && next.message_last_len == SIZE_MAX) {
    rc = hl_err_fail(err, -EOVERFLOW, "pruning payloads: a message id is over %zu bytes",
                     sizeof(p->message_last));
  }
  if (rc == 0) {
    sqlite3_bind_text(del, 1, p->message_last, (int)p->message_last_len, SQLITE_STATIC);
    if (found == 1) {
      sqlite3_bind_text(del, 2, next.message_last, (int)next.message_last_len, SQLITE_STATIC);
    }
    sqlite3_bind_int64(del, 3, p->cutoff_ms);
    int64_t n = run_delete(s, del, err, "pruning payloads");
    if (n < 0) {
      rc = (int)n;
    } else {
      p->deleted.messages += n;
      memcpy(p->message_last, next.message_last, next.message_last_len);
      p->message_last_len = next.message_last_len;
      if (found == 0) {
        p->phase = PRUNE_ENDPOINT_STATE;
      }
    }
  }
  sqlite3_finalize(key);
  sqlite3_finalize(del);
  return rc;
}

static int prune_endpoint_state(hl_store *s, hl_prune *p, hl_err *err) {
  sqlite3_stmt *del;
  int rc = prep(s, "DELETE FROM endpoint_state WHERE endpoint NOT IN (SELECT rowid FROM endpoints)",
                &del, err);
  if (rc != 0) {
    return rc;
  }
  int64_t n = run_delete(s, del, err, "pruning endpoint state");
  sqlite3_finalize(del);
  if (n < 0) {
    return (int)n;
  }
  p->deleted.endpoint_states += n;
  p->phase = PRUNE_DONE;
  return 0;
}

int hl_store_prune_step(hl_store *s, hl_prune *p, hl_err *err) {
  if (p->phase == PRUNE_DONE) {
    p->done = true;
    return 0;
  }
  int rc = hl_store_begin(s, err);
  if (rc != 0) {
    return rc;
  }
  switch (p->phase) {
    case PRUNE_ATTEMPTS_START:
      /* The bound is fixed for the pass: rows logged later are newer. */
      rc = last_rowid_before(s, p->cutoff_ms, &p->attempts_bound, err);
      p->phase = PRUNE_ATTEMPTS;
      if (rc == 0) {
        rc = prune_attempts(s, p, err);
      }
      break;
    case PRUNE_ATTEMPTS:
      rc = prune_attempts(s, p, err);
      break;
    case PRUNE_DEAD_LETTERS:
      rc = prune_dead_letters(s, p, err);
      break;
    case PRUNE_MESSAGES:
      rc = prune_messages(s, p, err);
      break;
    default:
      rc = prune_endpoint_state(s, p, err);
      break;
  }
  if (rc == 0) {
    rc = hl_store_commit(s, err);
  } else {
    hl_store_rollback(s);
  }
  p->done = rc == 0 && p->phase == PRUNE_DONE;
  return rc;
}

int hl_store_prune(hl_store *s, int64_t cutoff_ms, uint32_t batch_rows, hl_prune_stats *deleted,
                   hl_err *err) {
  hl_prune p;
  hl_prune_init(&p, cutoff_ms, batch_rows);
  int rc = 0;
  while (rc == 0 && !p.done) {
    rc = hl_store_prune_step(s, &p, err);
  }
  *deleted = p.deleted;
  return rc;
}

static int count_one(hl_store *s, const char *sql, int64_t a, int64_t b, int64_t *out,
                     hl_err *err) {
  sqlite3_stmt *st;
  int rc = prep(s, sql, &st, err);
  if (rc != 0) {
    return rc;
  }
  sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  rc = step_one(s, st, read_i64, out, err, "counting");
  sqlite3_finalize(st);
  return rc < 0 ? rc : 0;
}

int hl_store_prune_count(hl_store *s, int64_t cutoff_ms, hl_prune_stats *would, hl_err *err) {
  memset(would, 0, sizeof(*would));
  int64_t bound = 0;
  int rc = last_rowid_before(s, cutoff_ms, &bound, err);
  if (rc == 0) {
    rc = count_one(s, "SELECT count(*) FROM attempts WHERE rowid <= ?1 AND started_ms < ?2",
                   bound, cutoff_ms, &would->attempts, err);
  }
  if (rc == 0) {
    rc = count_one(s, "SELECT count(*) FROM dead_letters WHERE dead_ms < ?2", 0, cutoff_ms,
                   &would->dead_letters, err);
  }
  if (rc == 0) {
    /* Payloads whose dead letters go in the same pass go too. */
    rc = count_one(s,
                   "SELECT count(*) FROM messages WHERE created_ms < ?2 AND NOT EXISTS "
                   "(SELECT 1 FROM pending p WHERE p.message_id = messages.id) AND NOT EXISTS "
                   "(SELECT 1 FROM dead_letters d WHERE d.message_id = messages.id AND "
                   "d.dead_ms >= ?2)",
                   0, cutoff_ms, &would->messages, err);
  }
  if (rc == 0) {
    rc = count_one(s,
                   "SELECT count(*) FROM endpoint_state WHERE endpoint NOT IN "
                   "(SELECT rowid FROM endpoints)",
                   0, 1, &would->endpoint_states, err);
  }
  return rc;
}

/* --- endpoint state ---------------------------------------------------------- */

static void read_state(sqlite3_stmt *st, void *out) {
  hl_endpoint_state *e = out;
  col_cstr(st, 0, e->breaker, sizeof(e->breaker));
  e->since_ms = sqlite3_column_int64(st, 1);
  e->consecutive_failures = (uint32_t)sqlite3_column_int64(st, 2);
}

int hl_query_endpoint_state(hl_store *s, int64_t endpoint_rowid, hl_endpoint_state *out,
                            hl_err *err) {
  sqlite3_stmt *st;
  int rc = prep(s,
                "SELECT breaker, since_ms, consecutive_failures FROM endpoint_state "
                "WHERE endpoint = ?1",
                &st, err);
  if (rc != 0) {
    return rc;
  }
  sqlite3_bind_int64(st, 1, endpoint_rowid);
  memset(out, 0, sizeof(*out));
  rc = step_one(s, st, read_state, out, err, "reading endpoint state");
  sqlite3_finalize(st);
  if (rc == 0) {
    return hl_err_fail(err, -ENOENT, "no state recorded for endpoint %lld",
                       (long long)endpoint_rowid);
  }
  return rc < 0 ? rc : 0;
}
