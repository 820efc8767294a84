/* harness: the project's tiny test framework.
 *
 *   TEST(parses_port) {
 *     ASSERT_EQ(url.port, 8443);
 *     ASSERT_STR_EQ(buf, "expected");
 *   }
 *
 * Each tests/<name>_test.c is one executable and one ctest entry. A failed
 * assertion prints both sides and ends the current test; the others still
 * run. TEST_SKIP("why") skips the current test; if every test skipped, the
 * executable exits 77, which ctest reports as skipped. argv[1], if given,
 * runs only the tests whose name contains it. */
#ifndef HL_TESTS_HARNESS_H
#define HL_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/span.h"

typedef void (*hl_test_fn)(void);
void hl_test_register(const char *name, hl_test_fn fn);

#define TEST(name) \
  static void test_##name(void); \
  __attribute__((constructor)) static void test_register_##name(void) { \
    hl_test_register(#name, test_##name); \
  } \
  static void test_##name(void)

/* A value captured for printing: integers keep their signedness so that
 * ASSERT_EQ(size, 5) compares mathematically without sign warnings. */
typedef struct hl_tv {
  enum { HL_TV_INT, HL_TV_UINT, HL_TV_DBL, HL_TV_STR, HL_TV_PTR } kind;
  long long i;
  unsigned long long u;
  double d;
  const char *s;
  const void *p;
} hl_tv;

hl_tv hl_tv_i(long long v);
hl_tv hl_tv_u(unsigned long long v);
hl_tv hl_tv_d(double v);
hl_tv hl_tv_s(const char *v);
hl_tv hl_tv_p(const void *v);

#define HL_TV(x) \
  _Generic((x), \
      _Bool: hl_tv_u, char: hl_tv_i, signed char: hl_tv_i, short: hl_tv_i, int: hl_tv_i, \
      long: hl_tv_i, long long: hl_tv_i, unsigned char: hl_tv_u, unsigned short: hl_tv_u, \
      unsigned int: hl_tv_u, unsigned long: hl_tv_u, unsigned long long: hl_tv_u, \
      float: hl_tv_d, double: hl_tv_d, char *: hl_tv_s, const char *: hl_tv_s, \
      default: hl_tv_p)(x)

/* hl_tv_cmp: <0, 0, >0; strings compare by pointer (use ASSERT_STR_EQ). */
int hl_tv_cmp(hl_tv a, hl_tv b);

_Noreturn void hl_test_fail_cmp(const char *file, int line, const char *op, const char *a_expr,
                                const char *b_expr, hl_tv a, hl_tv b);
_Noreturn void hl_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void hl_test_skip(const char *reason);

#define HL_ASSERT_CMP_(a, b, op, ok) \
  do { \
    hl_tv hl_a_ = HL_TV(a), hl_b_ = HL_TV(b); \
    int hl_c_ = hl_tv_cmp(hl_a_, hl_b_); \
    if (!(ok)) { \
      hl_test_fail_cmp(__FILE__, __LINE__, op, #a, #b, hl_a_, hl_b_); \
    } \
  } while (0)

#define ASSERT_EQ(a, b) HL_ASSERT_CMP_(a, b, "==", hl_c_ == 0)
#define ASSERT_NE(a, b) HL_ASSERT_CMP_(a, b, "!=", hl_c_ != 0)
#define ASSERT_LT(a, b) HL_ASSERT_CMP_(a, b, "<", hl_c_ < 0)
#define ASSERT_LE(a, b) HL_ASSERT_CMP_(a, b, "<=", hl_c_ <= 0)
#define ASSERT_GT(a, b) HL_ASSERT_CMP_(a, b, ">", hl_c_ > 0)
#define ASSERT_GE(a, b) HL_ASSERT_CMP_(a, b, ">=", hl_c_ >= 0)

#define ASSERT_TRUE(c) \
  do { \
    if (!(c)) { \
      hl_test_fail(__FILE__, __LINE__, "expected true: %s", #c); \
    } \
  } while (0)
#define ASSERT_FALSE(c) \
  do { \
    if (c) { \
      hl_test_fail(__FILE__, __LINE__, "expected false: %s", #c); \
    } \
  } while (0)

void hl_test_assert_mem(const char *file, int line, const char *a_expr, const char *b_expr,
                        const void *a, size_t a_len, const void *b, size_t b_len);
#define ASSERT_STR_EQ(a, b) \
  do { \
    const char *hl_sa_ = (a), *hl_sb_ = (b); \
    hl_test_assert_mem(__FILE__, __LINE__, #a, #b, hl_sa_, hl_sa_ ? strlen(hl_sa_) : 0, hl_sb_, \
                       hl_sb_ ? strlen(hl_sb_) : 0); \
  } while (0)
/* ASSERT_SPAN_EQ(span, "literal or C string") */
#define ASSERT_SPAN_EQ(s, cstr) \
  do { \
    hl_span hl_s_ = (s); \
    const char *hl_c2_ = (cstr); \
    hl_test_assert_mem(__FILE__, __LINE__, #s, #cstr, hl_s_.ptr, hl_s_.len, hl_c2_, strlen(hl_c2_)); \
  } while (0)
/* ASSERT_CONTAINS(text, "substring"): error messages are checked this way. */
#define ASSERT_CONTAINS(hay, needle) \
  do { \
    const char *hl_h_ = (hay), *hl_n_ = (needle); \
    if (strstr(hl_h_, hl_n_) == NULL) { \
      hl_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", hl_h_, hl_n_); \
    } \
  } while (0)
#define ASSERT_MEM_EQ(a, a_len, b, b_len) \
  hl_test_assert_mem(__FILE__, __LINE__, #a, #b, (a), (a_len), (b), (b_len))

#define TEST_SKIP(reason) hl_test_skip(reason)

/* hl_test_guard copies |len| bytes so that they end exactly at a PROT_NONE
 * page: any read past the end faults (picohttpparser's habit). Free with
 * hl_test_guard_free. */
void *hl_test_guard(const void *data, size_t len);
void hl_test_guard_free(void *p, size_t len);

/* hl_test_tmpdir returns a fresh directory for this test process, removed
 * with everything in it at exit (unless HL_TEST_KEEP is set). */
const char *hl_test_tmpdir(void);

/* hl_test_rand: deterministic PRNG; the seed (HL_TEST_SEED or the default)
 * is printed when a test fails so that a failure can be replayed. */
uint64_t hl_test_rand(void);
uint64_t hl_test_seed(void);

/* hl_test_read_file reads a whole file into a malloc'd, NUL-terminated
 * buffer; returns NULL if it cannot. */
char *hl_test_read_file(const char *path, size_t *len);

#include <string.h>

#endif
