/* err: formatting of error details (see err.h). */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/assert.h"

_Noreturn void hl_assert_fail(const char *expr, const char *file, int line) {
  char msg[512];
  int n = snprintf(msg, sizeof(msg), "hookline: assertion failed: %s (%s:%d)\n", expr, file, line);
  if (n > 0) {
    ssize_t ignored = write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    (void)ignored;
  }
  abort();
}

__attribute__((format(printf, 2, 0))) static void err_vset(hl_err *err, const char *fmt,
                                                          va_list ap) {
  int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  if (n < 0) {
    err->msg[0] = '\0';
  }
}

void hl_err_set(hl_err *err, const char *fmt, ...) {
  if (err == NULL) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  err_vset(err, fmt, ap);
  va_end(ap);
}

int hl_err_fail(hl_err *err, int code, const char *fmt, ...) {
  if (err != NULL) {
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, fmt, ap);
    va_end(ap);
  }
  return code;
}

void hl_err_prefix(hl_err *err, const char *fmt, ...) {
  if (err == NULL) {
    return;
  }
  char prefix[HL_ERR_BYTES];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  if (n < 0) {
    return;
  }
  /* New text = prefix ": " old, cut to fit; the old text is moved first. */
  size_t p = strnlen(prefix, sizeof(prefix) - 1);
  size_t old = strnlen(err->msg, sizeof(err->msg) - 1);
  size_t shift = p + 2 < sizeof(err->msg) - 1 ? p + 2 : sizeof(err->msg) - 1;
  size_t keep = old < sizeof(err->msg) - 1 - shift ? old : sizeof(err->msg) - 1 - shift;
  memmove(err->msg + shift, err->msg, keep);
  memcpy(err->msg, prefix, shift < p ? shift : p);
  if (shift == p + 2) {
    err->msg[p] = ':';
    err->msg[p + 1] = ' ';
  }
  err->msg[shift + keep] = '\0';
}
