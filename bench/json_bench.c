/* json_bench: the JSON hot path of template rendering, against cJSON.
 *
 *   build/release/json_bench [repetitions]
 *
 * (1) On a ~600-byte lead document: validation throughput, one path lookup,
 *     nine lookups one by one, the same nine in one hl_json_lookup_many
 *     pass, and cJSON_Parse + cJSON_GetObjectItem for the same nine (what a
 *     DOM parser costs), all in the same run.
 * (2) hl_json_escape throughput for each implementation the CPU has, on
 *     ASCII text, text with many quotes and controls, and UTF-8 text, plus
 *     one short (email-sized) string.
 * Each figure is the median of the repetitions (default 7). The machine is
 * shared: compare rows of one run, not runs. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cpu.h"
#include "text/json_escape.h"
#include "text/json_scan.h"

#include "bench_lead.h"

static const char *const path_texts[9] = {
    "email", "phone", "name", "contact.first_name", "contact.last_name",
    "tags.0", "tags.2", "utm.source", "created_at",
};

enum { REPS_MAX = 101 };
static volatile size_t sink;

static hl_json_path paths[9];
static const hl_json_path *path_ptrs[9];

/* Each case runs |iters| operations per repetition; returns ns per op. */
typedef void (*case_fn)(size_t iters);

static void run_validate(size_t iters) {
  for (size_t i = 0; i < iters; i++) {
    sink += (size_t)hl_json_validate_object(HL_SPAN_LIT(lead), HL_JSON_DEPTH_MAX, NULL);
  }
}

static void run_one_lookup(size_t iters) {
  hl_json_value v;
  for (size_t i = 0; i < iters; i++) {
    hl_json_lookup(HL_SPAN_LIT(lead), &paths[3], &v);
    sink += v.raw.len;
  }
}

static void run_nine_lookups(size_t iters) {
  hl_json_value v;
  for (size_t i = 0; i < iters; i++) {
    for (int k = 0; k < 9; k++) {
      hl_json_lookup(HL_SPAN_LIT(lead), &paths[k], &v);
      sink += v.raw.len;
    }
  }
}

static void run_many(size_t iters) {
  hl_json_value v[9];
  for (size_t i = 0; i < iters; i++) {
    hl_json_lookup_many(HL_SPAN_LIT(lead), path_ptrs, 9, v);
    sink += v[8].raw.len;
  }
}

static void run_cjson(size_t iters) {
  for (size_t i = 0; i < iters; i++) {
    cJSON *root = cJSON_Parse(lead);
    const cJSON *contact = cJSON_GetObjectItem(root, "contact");
    const cJSON *tags = cJSON_GetObjectItem(root, "tags");
    const cJSON *found[9] = {
        cJSON_GetObjectItem(root, "email"),          cJSON_GetObjectItem(root, "phone"),
        cJSON_GetObjectItem(root, "name"),           cJSON_GetObjectItem(contact, "first_name"),
        cJSON_GetObjectItem(contact, "last_name"),   cJSON_GetArrayItem(tags, 0),
        cJSON_GetArrayItem(tags, 2),
        cJSON_GetObjectItem(cJSON_GetObjectItem(root, "utm"), "source"),
        cJSON_GetObjectItem(root, "created_at"),
    };
    for (int k = 0; k < 9; k++) {
      sink += found[k] != NULL ? strlen(found[k]->valuestring) : 0;
    }
    cJSON_Delete(root);
  }
}

static double measure(case_fn fn, size_t iters, int reps) {
  double t[REPS_MAX];
  fn(iters / 10 + 1); /* warm up */
  for (int r = 0; r < reps; r++) {
    double t0 = now_ns();
    fn(iters);
    t[r] = (now_ns() - t0) / (double)iters;
  }
  return median(t, reps);
}

/* ---- escape ------------------------------------------------------------------ */

enum { TEXT_BYTES = 16384 };
static char text_ascii[TEXT_BYTES], text_quotes[TEXT_BYTES], text_utf8[TEXT_BYTES];
static char escape_out[TEXT_BYTES * HL_JSON_ESCAPE_GROWTH_MAX];

static void make_texts(void) {
  static const char words[] =
      "The quick brown fox jumps over the lazy dog; lead notes, pricing, follow-up call. ";
  static const char quoted[] = "say \"hi\"\\ n\tx\n ";
  static const char utf8[] = "Z\xC3\xBCrich caf\xC3\xA9 \xE2\x82\xAC""12 \xE6\x9D\xB1\xE4\xBA\xAC "
                             "\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0 ok ";
  for (size_t i = 0; i < TEXT_BYTES; i++) {
    text_ascii[i] = words[i % (sizeof(words) - 1)];
    text_quotes[i] = quoted[i % (sizeof(quoted) - 1)];
  }
  size_t n = 0;
  while (n + sizeof(utf8) - 1 <= TEXT_BYTES) {
    memcpy(text_utf8 + n, utf8, sizeof(utf8) - 1);
    n += sizeof(utf8) - 1;
  }
  memset(text_utf8 + n, 'x', TEXT_BYTES - n);
}

static double measure_escape(hl_json_escape_fn fn, hl_span in, size_t iters, int reps) {
  double t[REPS_MAX];
  hl_buf b;
  for (int r = 0; r <= reps; r++) {
    double t0 = now_ns();
    for (size_t i = 0; i < iters; i++) {
      hl_buf_init(&b, escape_out, sizeof(escape_out));
      fn(&b, in);
      sink += b.len;
    }
    if (r > 0) { /* the first pass warms up */
      t[r - 1] = (now_ns() - t0) / (double)iters;
    }
  }
  return median(t, reps);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 7;
  if (reps < 1 || reps > REPS_MAX) {
    reps = 7;
  }
  for (int k = 0; k < 9; k++) {
    if (hl_json_path_compile(hl_span_cstr(path_texts[k]), &paths[k], NULL) != 0) {
      return 1;
    }
    path_ptrs[k] = &paths[k];
  }
  hl_err err;
  if (hl_json_validate_object(HL_SPAN_LIT(lead), HL_JSON_DEPTH_MAX, &err) != 0) {
    fprintf(stderr, "json_bench: lead document invalid: %s\n", err.msg);
    return 1;
  }
  printf("json_bench: cpu [%s], %d repetitions, medians (machine shared: compare rows)\n\n",
         hl_cpu_describe(), reps);
  size_t doc = sizeof(lead) - 1;
  printf("(1) lead document, %zu bytes, 9 paths\n", doc);
  double v = measure(run_validate, 200000, reps);
  printf("  %-40s %9.1f ns  %6.2f GB/s\n", "validate (hl_json_validate_object)", v, doc / v);
  double one = measure(run_one_lookup, 1000000, reps);
  printf("  %-40s %9.1f ns\n", "lookup contact.first_name", one);
  double nine = measure(run_nine_lookups, 200000, reps);
  printf("  %-40s %9.1f ns  (%.1f ns per path)\n", "9 x hl_json_lookup", nine, nine / 9);
  double many = measure(run_many, 200000, reps);
  printf("  %-40s %9.1f ns  (%.1f ns per path)\n", "hl_json_lookup_many, 9 paths", many,
         many / 9);
  double cj = measure(run_cjson, 20000, reps);
  printf("  %-40s %9.1f ns  (%.0fx lookup_many)\n", "cJSON_Parse + 9 GetObjectItem + Delete", cj,
         cj / many);

  make_texts();
  printf("\n(2) hl_json_escape, GB/s of input (%d-byte texts), and ns for one short string\n",
         TEXT_BYTES);
  printf("  %-8s %10s %10s %10s %14s\n", "impl", "ascii", "quotes", "utf8", "24 B email");
  static const struct {
    hl_json_escape_kind kind;
    const char *name;
  } kinds[] = {{HL_JSON_ESCAPE_SCALAR, "scalar"},
               {HL_JSON_ESCAPE_AVX2, "avx2"},
               {HL_JSON_ESCAPE_AVX512, "avx512"}};
  for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
    hl_json_escape_fn fn = hl_json_escape_get(kinds[k].kind);
    if (fn == NULL) {
      printf("  %-8s (not available on this CPU)\n", kinds[k].name);
      continue;
    }
    double a = measure_escape(fn, hl_span_make(text_ascii, TEXT_BYTES), 2000, reps);
    double q = measure_escape(fn, hl_span_make(text_quotes, TEXT_BYTES), 500, reps);
    double u = measure_escape(fn, hl_span_make(text_utf8, TEXT_BYTES), 1000, reps);
    double e = measure_escape(fn, HL_SPAN_LIT("ann.oneil@example.com..."), 2000000, reps);
    printf("  %-8s %10.2f %10.2f %10.2f %11.1f ns\n", kinds[k].name, TEXT_BYTES / a,
           TEXT_BYTES / q, TEXT_BYTES / u, e);
  }
  return 0;
}
