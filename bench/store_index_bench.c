/* store_index_bench: what an index on the attempt log costs the engine, and
 * what pruning costs.
 *
 *   store_index_bench [rows=200000] [repetitions=3] [dir=/tmp]
 *
 * The engine logs every attempt through hl_store_attempt_add in group
 * commits (~2,000 rows per transaction). Each variant below creates a fresh
 * database (schema as migrated, plus the variant's extra index), logs |rows|
 * delivered attempts in batches of 2,000 with realistic values (sortable
 * msg_ ids, 20 endpoints, an event name), and reports process CPU time
 * (user + sys: WAL writes are sys time) per row. Variants are interleaved in
 * every repetition (A B C D, A B C D, ...) so that a noisy neighbour hurts
 * them alike; the report is the median.
 *
 * Then, on the last database of the "schema" variant, it prunes every row
 * with hl_store_prune (batches of 5,000) and reports CPU per deleted row,
 * and times the two read paths the CLI uses: a one-hour window located by
 * rowid bisection, and "last attempt of one endpoint" without an index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sqlite3.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "store/query.h"
#include "store/store.h"

#define BATCH_ROWS 2000
#define REPS_MAX 16
#define ENDPOINTS 20

typedef struct variant {
  const char *name;
  const char *extra_sql; /* NULL: the schema as migrated */
} variant;

static const variant variants[] = {
    {"schema (no extra index)", NULL},
    {"- attempts_message (no index)", "DROP INDEX attempts_message"},
    {"+ attempts(endpoint)", "CREATE INDEX x ON attempts (endpoint)"},
    {"+ attempts(started_ms)", "CREATE INDEX x ON attempts (started_ms)"},
    {"+ attempts(endpoint, started_ms)", "CREATE INDEX x ON attempts (endpoint, started_ms)"},
};
#define VARIANTS (sizeof(variants) / sizeof(variants[0]))

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, const hl_err *err) {
  fprintf(stderr, "store_index_bench: %s: %s\n", what, err != NULL ? err->msg : "");
  exit(1);
}

static void fresh_dir(char *path, size_t cap, const char *base, const char *tag) {
  snprintf(path, cap, "%s/hl_index_bench_%d_%s", base, (int)getpid(), tag);
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
  if (system(cmd) != 0) {
    die("rm", NULL);
  }
}

/* log_rows logs |rows| attempts starting at wall time |t0_ms|, one per
 * 10 us of simulated time (100k/s, the engine's target rate). */
static double log_rows(hl_store *s, long rows, int64_t t0_ms) {
  hl_err err = {{0}};
  double c0 = cpu_s();
  for (long i = 0; i < rows; i += BATCH_ROWS) {
    if (hl_store_begin(s, &err) != 0) {
      die("begin", &err);
    }
    for (long k = i; k < i + BATCH_ROWS && k < rows; k++) {
      char id[40];
      snprintf(id, sizeof(id), "msg_01JD%012ldQ7W3", k);
      hl_attempt_rec a = {.message_id = hl_span_cstr(id),
                          .event = HL_SPAN_LIT("lead.created"),
                          .endpoint_rowid = 1 + k % ENDPOINTS,
                          .attempt = 1,
                          .started_ms = t0_ms + k / 100,
                          .duration_us = (uint32_t)(800 + k % 700),
                          .status = 200,
                          .outcome = HL_OUTCOME_DELIVERED};
      if (hl_store_attempt_add(s, &a, &err) != 0) {
        die("attempt", &err);
      }
    }
    if (hl_store_commit(s, &err) != 0) {
      die("commit", &err);
    }
  }
  return cpu_s() - c0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long rows = argc > 1 ? atol(argv[1]) : 200000;
  int reps = argc > 2 ? atoi(argv[2]) : 3;
  const char *base = argc > 3 ? argv[3] : "/tmp";
  if (rows <= 0 || reps <= 0 || reps > REPS_MAX) {
    fprintf(stderr, "usage: store_index_bench [rows] [repetitions<=16] [dir]\n");
    return 2;
  }
  double per_row_us[VARIANTS][REPS_MAX];
  char dir[1024];
  int64_t t0_ms = (int64_t)hl_clock_wall_ms() - rows / 100;
  hl_err err = {{0}};
  for (int r = 0; r < reps; r++) {
    for (size_t v = 0; v < VARIANTS; v++) {
      char tag[16];
      snprintf(tag, sizeof(tag), "v%zu", v);
      fresh_dir(dir, sizeof(dir), base, tag);
      hl_store *s = NULL;
      if (hl_store_open(&s, dir, HL_STORE_READ_WRITE, &err) != 0) {
        die("open", &err);
      }
      if (variants[v].extra_sql != NULL &&
          sqlite3_exec(hl_store_db(s), variants[v].extra_sql, NULL, NULL, NULL) != SQLITE_OK) {
        die("index", NULL);
      }
      per_row_us[v][r] = log_rows(s, rows, t0_ms) * 1e6 / (double)rows;
      hl_store_close(s);
    }
  }
  printf("attempt log, %ld rows in batches of %d, CPU (user+sys) per row, median of %d:\n",
         rows, BATCH_ROWS, reps);
  for (size_t v = 0; v < VARIANTS; v++) {
    qsort(per_row_us[v], (size_t)reps, sizeof(double), cmp_double);
    double base_us = per_row_us[0][reps / 2];
    printf("  %-34s %6.3f us/row  (%+.0f %%)\n", variants[v].name, per_row_us[v][reps / 2],
           100.0 * (per_row_us[v][reps / 2] - base_us) / base_us);
  }

  /* Read paths and pruning on the plain schema. */
  fresh_dir(dir, sizeof(dir), base, "v0");
  hl_store *s = NULL;
  if (hl_store_open(&s, dir, HL_STORE_READ_WRITE, &err) != 0) {
    die("open", &err);
  }
  log_rows(s, rows, t0_ms);
  int64_t now_ms = t0_ms + rows / 100;
  uint64_t w0 = hl_clock_mono_ns();
  int64_t first = 0;
  for (int i = 0; i < 100; i++) {
    if (hl_query_first_rowid_since(s, now_ms - rows / 200, &first, &err) != 0) {
      die("window", &err);
    }
  }
  uint64_t w1 = hl_clock_mono_ns();
  sqlite3_stmt *st;
  sqlite3_prepare_v2(hl_store_db(s),
                     "SELECT max(rowid) FROM attempts WHERE endpoint = 999", -1, &st, NULL);
  sqlite3_step(st);
  sqlite3_finalize(st);
  uint64_t w2 = hl_clock_mono_ns();
  printf("window start by rowid bisection: %.1f us; last attempt of an endpoint with none, "
         "no index (full scan of %ld rows): %.1f ms\n",
         (double)(w1 - w0) / 100 / 1e3, rows, (double)(w2 - w1) / 1e6);

  hl_prune_stats stats;
  double c0 = cpu_s();
  uint64_t p0 = hl_clock_mono_ns();
  if (hl_store_prune(s, now_ms + 1, 5000, &stats, &err) != 0) {
    die("prune", &err);
  }
  double c1 = cpu_s();
  uint64_t p1 = hl_clock_mono_ns();
  printf("prune: %lld attempts deleted, %.3f us CPU per row, %.1f ms wall in total\n",
         (long long)stats.attempts, (c1 - c0) * 1e6 / (double)(stats.attempts > 0 ? stats.attempts : 1),
         (double)(p1 - p0) / 1e6);
  hl_store_close(s);
  fresh_dir(dir, sizeof(dir), base, "v0");
  for (size_t v = 1; v < VARIANTS; v++) {
    char tag[16];
    snprintf(tag, sizeof(tag), "v%zu", v);
    fresh_dir(dir, sizeof(dir), base, tag);
  }
  return 0;
}
