/* ops_seed: fills a data dir's delivery log through the store API, so the
 * operator commands can be tested on known rows without a running engine.
 *
 *   ops_seed DATA_DIR < lines
 *
 * Each input line is one JSON object; all are written in one transaction.
 * Times are given relative to now ("ago_ms", "in_ms") so tests do not
 * depend on the clock. Endpoints are named by id (create them first with
 * `hookline endpoint add`).
 *   {"op":"attempt","message":"m1","event":"lead.created","endpoint":"crm",
 *    "attempt":1,"ago_ms":5000,"duration_us":1200,"status":503,
 *    "outcome":"retry","error_class":"http_5xx","error_detail":"...",
 *    "response":"...","next_in_ms":5000}
 *   {"op":"message","id":"m1","event":"lead.created","data":{...},"ago_ms":0}
 *   {"op":"pending","message":"m1","endpoint":"crm","attempt":2,"in_ms":0}
 *   {"op":"dead","message":"m1","endpoint":"crm","ago_ms":0,"last_error":"..."}
 *   {"op":"state","endpoint":"crm","breaker":"open","ago_ms":0,"failures":10}
 * Exit 0, or 1 with the line number and the problem on stderr. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "store/query.h"
#include "store/store.h"

#define SEED_LINE_BYTES_MAX (1024 * 1024)

static const char *str(const cJSON *o, const char *key, const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : def;
}

static int64_t num(const cJSON *o, const char *key, int64_t def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

static int outcome_of(const char *name) {
  static const char *const names[] = {"", "delivered", "retry", "dead", "disabled", "dropped"};
  for (int i = 1; i < 6; i++) {
    if (strcmp(name, names[i]) == 0) {
      return i;
    }
  }
  return 0;
}

static int endpoint_rowid(hl_store *s, const cJSON *o, const char *key, int64_t *rowid,
                          hl_err *err) {
  const char *id = str(o, key, NULL);
  if (id == NULL) {
    return hl_err_fail(err, -1, "\"%s\" missing", key);
  }
  return hl_query_endpoint_rowid(s, hl_span_cstr(id), rowid, NULL, err);
}

static int seed_one(hl_store *s, const cJSON *o, int64_t now, hl_err *err) {
  const char *op = str(o, "op", "");
  int64_t ep = 0;
  if (strcmp(op, "message") == 0) {
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    char *text = data != NULL ? cJSON_PrintUnformatted(data) : NULL;
    hl_message_rec m = {.id = hl_span_cstr(str(o, "id", "")),
                        .event = hl_span_cstr(str(o, "event", "test.event")),
                        .data = hl_span_cstr(text != NULL ? text : "{}"),
                        .created_ms = now - num(o, "ago_ms", 0)};
    int rc = hl_store_message_put(s, &m, err);
    cJSON_free(text);
    return rc;
  }
  int rc = endpoint_rowid(s, o, "endpoint", &ep, err);
  if (rc != 0) {
    return rc;
  }
  if (strcmp(op, "attempt") == 0) {
    int outcome = outcome_of(str(o, "outcome", "delivered"));
    if (outcome == 0) {
      return hl_err_fail(err, -1, "unknown outcome");
    }
    int64_t next_in = num(o, "next_in_ms", -1);
    hl_attempt_rec a = {.message_id = hl_span_cstr(str(o, "message", "")),
                        .event = hl_span_cstr(str(o, "event", "test.event")),
                        .endpoint_rowid = ep,
                        .attempt = (uint32_t)num(o, "attempt", 1),
                        .started_ms = now - num(o, "ago_ms", 0),
                        .duration_us = (uint32_t)num(o, "duration_us", 1000),
                        .status = (int32_t)num(o, "status", 200),
                        .outcome = (hl_outcome)outcome,
                        .error_class = hl_span_cstr(str(o, "error_class", "")),
                        .error_detail = hl_span_cstr(str(o, "error_detail", "")),
                        .response_excerpt = hl_span_cstr(str(o, "response", "")),
                        .next_ms = next_in >= 0 ? now + next_in : 0};
    return hl_store_attempt_add(s, &a, err);
  }
  if (strcmp(op, "pending") == 0) {
    return hl_store_pending_put(s, hl_span_cstr(str(o, "message", "")), ep,
                                (uint32_t)num(o, "attempt", 2), now + num(o, "in_ms", 0), err);
  }
  if (strcmp(op, "dead") == 0) {
    return hl_store_dead_letter_put(s, hl_span_cstr(str(o, "message", "")), ep,
                                    now - num(o, "ago_ms", 0),
                                    hl_span_cstr(str(o, "last_error", "http_5xx")), err);
  }
  if (strcmp(op, "state") == 0) {
    return hl_store_endpoint_state_put(s, ep, str(o, "breaker", "closed"),
                                       now - num(o, "ago_ms", 0), (uint32_t)num(o, "failures", 0),
                                       err);
  }
  return hl_err_fail(err, -1, "unknown op '%s'", op);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: ops_seed DATA_DIR < lines\n");
    return 2;
  }
  hl_store *s = NULL;
  hl_err err = {{0}};
  if (hl_store_open(&s, argv[1], HL_STORE_READ_WRITE, &err) != 0 ||
      hl_store_begin(s, &err) != 0) {
    fprintf(stderr, "ops_seed: %s\n", err.msg);
    return 1;
  }
  char *line = malloc(SEED_LINE_BYTES_MAX);
  int64_t now = (int64_t)hl_clock_wall_ms();
  int rc = 0, n = 0;
  while (rc == 0 && line != NULL && fgets(line, SEED_LINE_BYTES_MAX, stdin) != NULL) {
    n++;
    cJSON *o = cJSON_Parse(line);
    if (o == NULL) {
      continue; /* blank lines */
    }
    rc = seed_one(s, o, now, &err);
    cJSON_Delete(o);
    if (rc != 0) {
      fprintf(stderr, "ops_seed: line %d: %s\n", n, err.msg);
    }
  }
  if (rc == 0 && hl_store_commit(s, &err) != 0) {
    fprintf(stderr, "ops_seed: %s\n", err.msg);
    rc = 1;
  }
  free(line);
  hl_store_close(s);
  return rc == 0 ? 0 : 1;
}
