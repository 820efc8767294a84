/* Tests for deliver/route: exact-name index, globs and catch-alls, lookups
 * by id and rowid, no target returned twice, empty tables. */
#include "deliver/route.h"

#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

static hl_target *make(int64_t rowid, const char *id, const char *events_json) {
  char text[512];
  snprintf(text, sizeof(text), "{\"id\":\"%s\",\"url\":\"https://x.example.com\"%s%s}", id,
           events_json != NULL ? ",\"events\":" : "", events_json != NULL ? events_json : "");
  cJSON *j = cJSON_Parse(text);
  hl_endpoint_config c;
  hl_err err = {{0}};
  ASSERT_EQ(hl_endpoint_parse(j, HL_ENDPOINT_FROM_USER, &c, &err), 0);
  cJSON_Delete(j);
  hl_target *t = NULL;
  ASSERT_EQ(hl_target_compile(&c, rowid, true, &t, &err), 0);
  hl_endpoint_config_free(&c);
  return t;
}

static int count_for(const hl_route_table *t, const char *event, int64_t *rowids) {
  hl_target *const *lists[2];
  size_t ns[2];
  hl_route_candidates(t, hl_span_cstr(event), &lists[0], &ns[0], &lists[1], &ns[1]);
  int n = 0;
  for (int l = 0; l < 2; l++) {
    for (size_t k = 0; k < ns[l]; k++) {
      if (hl_target_wants(lists[l][k], hl_span_cstr(event), HL_SPAN_LIT("{}"))) {
        rowids[n++] = lists[l][k]->rowid;
      }
    }
  }
  return n;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

TEST(candidates_cover_exact_glob_and_catch_all) {
  hl_target *ts[] = {make(5, "e5", "[\"lead.created\",\"lead.updated\"]"),
                     make(2, "e2", "[\"lead.*\"]"), make(9, "e9", NULL),
                     make(7, "e7", "[\"ticket.opened\"]"),
                     make(3, "e3", "[\"lead.created\",\"ticket.*\"]")};
  hl_route_table *t;
  ASSERT_EQ(hl_route_build(ts, 5, 7, &t), 0);
  ASSERT_EQ(hl_route_generation(t), 7);
  ASSERT_EQ(hl_route_size(t), 5);
  ASSERT_EQ(hl_route_at(t, 0)->rowid, 2); /* by rowid */
  int64_t got[8];
  int n = count_for(t, "lead.created", got);
  qsort(got, (size_t)n, sizeof(got[0]), cmp64);
  ASSERT_EQ(n, 4);
  ASSERT_EQ(got[0], 2);
  ASSERT_EQ(got[1], 3);
  ASSERT_EQ(got[2], 5);
  ASSERT_EQ(got[3], 9);
  ASSERT_EQ(count_for(t, "ticket.opened", got), 3); /* e7 exact, e3 glob, e9 all */
  ASSERT_EQ(count_for(t, "other", got), 1);
  ASSERT_TRUE(hl_route_by_id(t, HL_SPAN_LIT("e7")) == hl_route_by_rowid(t, 7));
  ASSERT_TRUE(hl_route_by_id(t, HL_SPAN_LIT("nope")) == NULL);
  ASSERT_TRUE(hl_route_by_rowid(t, 4) == NULL);
  hl_route_unref(t);
}

TEST(many_names_and_an_empty_table) {
  enum { N = 300 };
  hl_target *ts[N];
  for (int i = 0; i < N; i++) {
    char id[16], ev[48];
    snprintf(id, sizeof(id), "e%d", i);
    snprintf(ev, sizeof(ev), "[\"event.%d\"]", i % 50);
    ts[i] = make(i + 1, id, ev);
  }
  hl_route_table *t;
  ASSERT_EQ(hl_route_build(ts, N, 1, &t), 0);
  int64_t got[N];
  for (int k = 0; k < 50; k++) {
    char ev[32];
    snprintf(ev, sizeof(ev), "event.%d", k);
    ASSERT_EQ(count_for(t, ev, got), N / 50);
  }
  hl_route_ref(t);
  hl_route_unref(t);
  hl_route_unref(t);
  hl_route_table *empty;
  ASSERT_EQ(hl_route_build(NULL, 0, 2, &empty), 0);
  ASSERT_EQ(count_for(empty, "lead.created", got), 0);
  ASSERT_TRUE(hl_route_by_rowid(empty, 1) == NULL);
  hl_route_unref(empty);
}
