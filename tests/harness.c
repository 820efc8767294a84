/* harness: registration, assertion reporting, and test utilities. */
#include "harness.h"

#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TESTS_MAX 512

static struct {
  const char *name;
  hl_test_fn fn;
} tests[TESTS_MAX];
static size_t tests_len;
static jmp_buf test_jmp;
static enum { RUN_OK, RUN_FAILED, RUN_SKIPPED } test_outcome;
static uint64_t rand_state;
static uint64_t rand_seed;

void hl_test_register(const char *name, hl_test_fn fn) {
  if (tests_len == TESTS_MAX) {
    fprintf(stderr, "harness: more than %d tests in one file\n", TESTS_MAX);
    abort();
  }
  tests[tests_len].name = name;
  tests[tests_len].fn = fn;
  tests_len++;
}

hl_tv hl_tv_i(long long v) {
  return (hl_tv){.kind = HL_TV_INT, .i = v};
}
hl_tv hl_tv_u(unsigned long long v) {
  return (hl_tv){.kind = HL_TV_UINT, .u = v};
}
hl_tv hl_tv_d(double v) {
  return (hl_tv){.kind = HL_TV_DBL, .d = v};
}
hl_tv hl_tv_s(const char *v) {
  return (hl_tv){.kind = HL_TV_STR, .s = v};
}
hl_tv hl_tv_p(const void *v) {
  return (hl_tv){.kind = HL_TV_PTR, .p = v};
}

static int cmp3(long double a, long double b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

int hl_tv_cmp(hl_tv a, hl_tv b) {
  bool a_int = a.kind == HL_TV_INT || a.kind == HL_TV_UINT;
  bool b_int = b.kind == HL_TV_INT || b.kind == HL_TV_UINT;
  if (a_int && b_int) {
    if (a.kind == HL_TV_INT && a.i < 0) {
      return (b.kind == HL_TV_INT && b.i < 0) ? (a.i < b.i ? -1 : a.i > b.i) : -1;
    }
    if (b.kind == HL_TV_INT && b.i < 0) {
      return 1;
    }
    unsigned long long x = a.kind == HL_TV_INT ? (unsigned long long)a.i : a.u;
    unsigned long long y = b.kind == HL_TV_INT ? (unsigned long long)b.i : b.u;
    return x < y ? -1 : x > y;
  }
  if (a.kind == HL_TV_DBL || b.kind == HL_TV_DBL) {
    long double x = a.kind == HL_TV_DBL ? a.d : a.kind == HL_TV_INT ? a.i : (long double)a.u;
    long double y = b.kind == HL_TV_DBL ? b.d : b.kind == HL_TV_INT ? b.i : (long double)b.u;
    return cmp3(x, y);
  }
  const void *x = a.kind == HL_TV_STR ? (const void *)a.s : a.p;
  const void *y = b.kind == HL_TV_STR ? (const void *)b.s : b.p;
  return x < y ? -1 : x > y;
}

static void tv_print(FILE *f, hl_tv v) {
  switch (v.kind) {
    case HL_TV_INT:
      fprintf(f, "%lld", v.i);
      break;
    case HL_TV_UINT:
      fprintf(f, "%llu", v.u);
      break;
    case HL_TV_DBL:
      fprintf(f, "%g", v.d);
      break;
    case HL_TV_STR:
      fprintf(f, "\"%s\"", v.s != NULL ? v.s : "(null)");
      break;
    case HL_TV_PTR:
      fprintf(f, "%p", v.p);
      break;
  }
}

static _Noreturn void fail_end(void) {
  test_outcome = RUN_FAILED;
  longjmp(test_jmp, 1);
}

void hl_test_fail_cmp(const char *file, int line, const char *op, const char *a_expr,
                      const char *b_expr, hl_tv a, hl_tv b) {
  fprintf(stderr, "%s:%d: expected %s %s %s\n  left:  ", file, line, a_expr, op, b_expr);
  tv_print(stderr, a);
  fprintf(stderr, "\n  right: ");
  tv_print(stderr, b);
  fprintf(stderr, "\n");
  fail_end();
}

void hl_test_fail(const char *file, int line, const char *fmt, ...) {
  fprintf(stderr, "%s:%d: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  fail_end();
}

void hl_test_skip(const char *reason) {
  fprintf(stderr, "  skipped: %s\n", reason);
  test_outcome = RUN_SKIPPED;
  longjmp(test_jmp, 1);
}

static void print_escaped(FILE *f, const unsigned char *p, size_t n) {
  size_t shown = n > 400 ? 400 : n;
  fputc('"', f);
  for (size_t i = 0; i < shown; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
      fputc(p[i], f);
    } else {
      fprintf(f, "\\x%02x", p[i]);
    }
  }
  fputc('"', f);
  if (shown < n) {
    fprintf(f, "... (%zu bytes)", n);
  }
}

void hl_test_assert_mem(const char *file, int line, const char *a_expr, const char *b_expr,
                        const void *a, size_t a_len, const void *b, size_t b_len) {
  if (a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0)) {
    return;
  }
  size_t at = 0;
  while (at < a_len && at < b_len && ((const char *)a)[at] == ((const char *)b)[at]) {
    at++;
  }
  fprintf(stderr, "%s:%d: expected %s == %s (first difference at byte %zu)\n  left:  ", file,
          line, a_expr, b_expr, at);
  print_escaped(stderr, a, a_len);
  fprintf(stderr, "\n  right: ");
  print_escaped(stderr, b, b_len);
  fprintf(stderr, "\n");
  fail_end();
}

void *hl_test_guard(const void *data, size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t pages = (len + page - 1) / page + 1;
  char *base = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    perror("mmap");
    abort();
  }
  char *guard = base + (pages - 1) * page;
  if (mprotect(guard, page, PROT_NONE) != 0) {
    perror("mprotect");
    abort();
  }
  char *p = guard - len;
  if (len > 0) {
    memcpy(p, data, len);
  }
  return p;
}

void hl_test_guard_free(void *p, size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t end = (uintptr_t)p + len; /* start of the guard page */
  size_t pages = (len + page - 1) / page + 1;
  munmap((void *)(end - (pages - 1) * page), pages * page);
}

static char tmpdir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void tmpdir_cleanup(void) {
  if (tmpdir[0] != '\0' && getenv("HL_TEST_KEEP") == NULL) {
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
}

const char *hl_test_tmpdir(void) {
  if (tmpdir[0] == '\0') {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/hltest.XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
      perror("mkdtemp");
      abort();
    }
    atexit(tmpdir_cleanup);
  }
  return tmpdir;
}

uint64_t hl_test_rand(void) {
  /* splitmix64 */
  uint64_t z = (rand_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hl_test_seed(void) {
  return rand_seed;
}

char *hl_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n + 1 >= cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    if (got == 0) {
      break;
    }
    n += got;
  }
  fclose(f);
  buf[n] = '\0';
  if (len != NULL) {
    *len = n;
  }
  return buf;
}

/* setjmp lives in its own frame so that no caller variable is clobbered. */
static void run_one(hl_test_fn fn) {
  if (setjmp(test_jmp) == 0) {
    fn();
  }
}

int main(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : NULL;
  const char *seed_env = getenv("HL_TEST_SEED");
  rand_seed = seed_env != NULL ? strtoull(seed_env, NULL, 0) : 0x686f6f6b6c696e65ull;
  size_t ran = 0, failed = 0, skipped = 0;
  for (size_t i = 0; i < tests_len; i++) {
    if (filter != NULL && strstr(tests[i].name, filter) == NULL) {
      continue;
    }
    rand_state = rand_seed;
    test_outcome = RUN_OK;
    fprintf(stderr, "[ RUN  ] %s\n", tests[i].name);
    run_one(tests[i].fn);
    ran++;
    if (test_outcome == RUN_FAILED) {
      failed++;
      fprintf(stderr, "[ FAIL ] %s (HL_TEST_SEED=%" PRIu64 ")\n", tests[i].name, rand_seed);
    } else if (test_outcome == RUN_SKIPPED) {
      skipped++;
      fprintf(stderr, "[ SKIP ] %s\n", tests[i].name);
    } else {
      fprintf(stderr, "[  OK  ] %s\n", tests[i].name);
    }
  }
  fprintf(stderr, "%zu tests: %zu passed, %zu failed, %zu skipped\n", ran, ran - failed - skipped,
          failed, skipped);
  if (ran == 0) {
    fprintf(stderr, "no test matched\n");
    return 1;
  }
  if (failed > 0) {
    return 1;
  }
  return skipped == ran ? 77 : 0;
}
