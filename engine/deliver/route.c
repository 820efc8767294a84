/* route: the routing table (see route.h).
 *
 * Exact event names live in an open-addressing hash table whose entries
 * point at runs of one array of targets, grouped by name. A target whose
 * patterns are all exact names is listed under each of them; a target with
 * any glob, or with no events (every event), is in |wild|. A message's event
 * matches at most one exact name, so no target is returned twice. */
#include "deliver/route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct name_slot {
  hl_span name; /* empty: free */
  uint32_t start;
  uint32_t count;
} name_slot;

struct hl_route_table {
  _Atomic uint32_t refs;
  int64_t generation;
  uint32_t n;
  hl_target **by_rowid; /* sorted by rowid */
  hl_target **exact;    /* grouped by name */
  uint32_t exact_n;
  hl_target **wild;
  uint32_t wild_n;
  name_slot *names;
  uint32_t names_mask;
};

static uint64_t hash_span(hl_span s) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
  for (size_t i = 0; i < s.len; i++) {
    h = (h ^ (uint8_t)s.ptr[i]) * 0x100000001b3ull;
  }
  return h;
}

static bool all_exact(const hl_target *t) {
  if (t->events_n == 0) {
    return false;
  }
  for (uint32_t i = 0; i < t->events_n; i++) {
    if (strchr(t->events[i], '*') != NULL) {
      return false;
    }
  }
  return true;
}

typedef struct pair {
  hl_span name;
  hl_target *t;
} pair;

static int cmp_rowid(const void *a, const void *b) {
  int64_t x = (*(hl_target *const *)a)->rowid, y = (*(hl_target *const *)b)->rowid;
  return x < y ? -1 : x > y;
}

static int cmp_pair(const void *a, const void *b) {
  const pair *x = a, *y = b;
  size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
  int c = memcmp(x->name.ptr, y->name.ptr, n);
  return c != 0 ? c : (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

static name_slot *find_slot(const hl_route_table *t, hl_span name) {
  uint32_t i = (uint32_t)hash_span(name) & t->names_mask;
  while (t->names[i].name.len != 0 && !hl_span_eq(t->names[i].name, name)) {
    i = (i + 1) & t->names_mask;
  }
  return &t->names[i];
}

int hl_route_build(hl_target **targets, uint32_t n, int64_t generation, hl_route_table **out) {
  hl_route_table *t = calloc(1, sizeof(*t));
  size_t pairs_n = 0;
  for (uint32_t i = 0; i < n; i++) {
    pairs_n += all_exact(targets[i]) ? targets[i]->events_n : 0;
  }
  pair *pairs = calloc(pairs_n + 1, sizeof(*pairs));
  uint32_t slots = 16;
  while (slots < pairs_n * 2) {
    slots <<= 1;
  }
  if (t != NULL) {
    t->by_rowid = calloc(n + 1, sizeof(hl_target *));
    t->exact = calloc(pairs_n + 1, sizeof(hl_target *));
    t->wild = calloc(n + 1, sizeof(hl_target *));
    t->names = calloc(slots, sizeof(name_slot));
  }
  if (t == NULL || pairs == NULL || t->by_rowid == NULL || t->exact == NULL || t->wild == NULL ||
      t->names == NULL) {
    free(pairs);
    if (t != NULL) {
      t->n = 0;
      atomic_init(&t->refs, 1);
      hl_route_unref(t);
    }
    for (uint32_t i = 0; i < n; i++) {
      hl_target_unref(targets[i]);
    }
    return -ENOMEM;
  }
  atomic_init(&t->refs, 1);
  t->generation = generation;
  t->n = n;
  t->names_mask = slots - 1;
  if (n > 0) { /* with no endpoints |targets| may be NULL */
    memcpy(t->by_rowid, targets, n * sizeof(hl_target *));
    qsort(t->by_rowid, n, sizeof(hl_target *), cmp_rowid);
  }
  size_t p = 0;
  for (uint32_t i = 0; i < n; i++) {
    hl_target *tg = t->by_rowid[i];
    if (!all_exact(tg)) {
      t->wild[t->wild_n++] = tg;
      continue;
    }
    for (uint32_t k = 0; k < tg->events_n; k++) {
      pairs[p++] = (pair){hl_span_cstr(tg->events[k]), tg};
    }
  }
  qsort(pairs, pairs_n, sizeof(pair), cmp_pair);
  for (size_t i = 0; i < pairs_n; i++) {
    t->exact[i] = pairs[i].t;
    name_slot *s = find_slot(t, pairs[i].name);
    if (s->name.len == 0) {
      *s = (name_slot){pairs[i].name, (uint32_t)i, 0};
    }
    s->count++;
  }
  t->exact_n = (uint32_t)pairs_n;
  free(pairs);
  *out = t;
  return 0;
}

void hl_route_ref(hl_route_table *t) {
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void hl_route_unref(hl_route_table *t) {
  if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) {
    return;
  }
  for (uint32_t i = 0; i < t->n; i++) {
    hl_target_unref(t->by_rowid[i]);
  }
  free(t->by_rowid);
  free(t->exact);
  free(t->wild);
  free(t->names);
  free(t);
}

int64_t hl_route_generation(const hl_route_table *t) {
  return t->generation;
}

uint32_t hl_route_size(const hl_route_table *t) {
  return t->n;
}

hl_target *hl_route_at(const hl_route_table *t, uint32_t i) {
  return i < t->n ? t->by_rowid[i] : NULL;
}

void hl_route_candidates(const hl_route_table *t, hl_span event, hl_target *const **exact,
                         size_t *exact_n, hl_target *const **wild, size_t *wild_n) {
  const name_slot *s = event.len > 0 ? find_slot(t, event) : NULL;
  *exact = s != NULL && s->name.len != 0 ? t->exact + s->start : t->exact;
  *exact_n = s != NULL && s->name.len != 0 ? s->count : 0;
  *wild = t->wild;
  *wild_n = t->wild_n;
}

hl_target *hl_route_by_id(const hl_route_table *t, hl_span id) {
  for (uint32_t i = 0; i < t->n; i++) {
    if (hl_span_eq(hl_span_cstr(t->by_rowid[i]->id), id)) {
      return t->by_rowid[i];
    }
  }
  return NULL;
}

hl_target *hl_route_by_rowid(const hl_route_table *t, int64_t rowid) {
  uint32_t lo = 0, hi = t->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (t->by_rowid[mid]->rowid < rowid) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < t->n && t->by_rowid[lo]->rowid == rowid ? t->by_rowid[lo] : NULL;
}
