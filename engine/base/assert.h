/* assert: invariants that hold whatever the input.
 *
 * HL_ASSERT is on in every build, release included: a broken invariant means
 * the engine's own state is wrong, and continuing would turn a crash we can
 * debug into corruption we cannot. Bad bytes from a peer or a producer are
 * never asserted on; they are errors returned to the caller. */
#ifndef HL_BASE_ASSERT_H
#define HL_BASE_ASSERT_H

_Noreturn void hl_assert_fail(const char *expr, const char *file, int line);

#define HL_ASSERT(cond) \
  do { \
    if (__builtin_expect(!(cond), 0)) { \
      hl_assert_fail(#cond, __FILE__, __LINE__); \
    } \
  } while (0)

#define HL_UNREACHABLE() hl_assert_fail("unreachable", __FILE__, __LINE__)

#define HL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define HL_LIKELY(x) __builtin_expect(!!(x), 1)
#define HL_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
