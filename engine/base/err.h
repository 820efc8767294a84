/* err: the project's error conventions, and human-readable error details.
 *
 * Functions return int: 0 on success, a negative errno on failure. Parsers
 * alone return the number of bytes consumed, HL_INCOMPLETE (need more bytes)
 * or HL_INVALID. Where a user can cause the error, the function also takes an
 * hl_err * (which may be NULL) and writes one sentence saying what was wrong
 * and, where it helps, what to do. Error text never contains a secret: write
 * the field's name, never its value. */
#ifndef HL_BASE_ERR_H
#define HL_BASE_ERR_H

#include <stddef.h>

#define HL_INVALID (-1)
#define HL_INCOMPLETE (-2)

#define HL_ERR_BYTES 256

typedef struct hl_err {
  char msg[HL_ERR_BYTES];
} hl_err;

/* hl_err_set formats a message into |err| (if not NULL), truncating to fit. */
void hl_err_set(hl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* hl_err_fail sets |err| like hl_err_set and returns |code|, so that a failure
 * reads `return hl_err_fail(err, -EINVAL, "url: empty host");`. */
int hl_err_fail(hl_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* hl_err_prefix prepends "prefix: " to the message already in |err|, for
 * callers that add context (a field name, a line number). */
void hl_err_prefix(hl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
