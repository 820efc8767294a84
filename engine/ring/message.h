/* message: what a producer hands the engine, and its bytes in a ring record.
 *
 * A message is {event, id?, endpoint?, tenant?, data, timestamp_ms}: `data`
 * is a JSON object kept as the producer's raw bytes; the optional fields are
 * absent when empty. Producers validate before anything is written
 * (hl_msg_validate); the engine decodes each record it reads
 * (hl_msg_decode), which checks framing, sizes and character sets again,
 * because the shared segment is writable by every producer.
 *
 * Names (event, id, endpoint, tenant) use the character set
 * [A-Za-z0-9_.:-]: safe in HTTP headers, URLs, log lines and JSON strings
 * without escaping.
 *
 * Encoding (host byte order, no padding, canonical: reserved bytes are zero
 * and the lengths account for every byte, so decode-then-encode gives back
 * the same bytes):
 *
 *   u8 version (1) | u8 0 | u16 event_len | u16 id_len | u16 endpoint_len |
 *   u16 tenant_len | u16 0 | u32 data_len | u64 timestamp_ms |
 *   event | id | endpoint | tenant | data
 *
 * Pure functions: no I/O, no allocation. */
#ifndef HL_RING_MESSAGE_H
#define HL_RING_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/span.h"

#define HL_MSG_ENCODING_VERSION 1
#define HL_MSG_HEADER_BYTES 24

typedef struct hl_msg {
  hl_span event;    /* required */
  hl_span id;       /* optional: empty = the engine assigns msg_<ulid> */
  hl_span endpoint; /* optional: deliver to this endpoint only */
  hl_span tenant;   /* optional */
  hl_span data;     /* required: a JSON object */
  uint64_t timestamp_ms; /* producer's wall clock */
} hl_msg;

/* hl_msg_name_ok says whether |s| is made of [A-Za-z0-9_.:-] only; if not,
 * *bad is the index of the first other byte. */
bool hl_msg_name_ok(hl_span s, size_t *bad);

/* hl_msg_validate checks every field of |m| (lengths against base/limits.h,
 * character sets, `data` a JSON object within HL_JSON_DEPTH_MAX) and returns
 * 0, or -EINVAL / -EMSGSIZE with |err| naming the field and the problem. */
int hl_msg_validate(const hl_msg *m, hl_err *err);

/* hl_msg_encoded_bytes is the encoding's size (|m| need not be valid, but
 * its lengths must fit the u16/u32 fields: validate first). */
size_t hl_msg_encoded_bytes(const hl_msg *m);

/* hl_msg_encode writes |m| into |out| (|cap| bytes) and returns the bytes
 * written, or 0 if they do not fit. |m| must have passed hl_msg_validate. */
size_t hl_msg_encode(const hl_msg *m, void *out, size_t cap);

/* hl_msg_decode parses a whole record payload into |out|, whose spans point
 * into |in|. Returns in.len (bytes consumed) or HL_INVALID with |err| saying
 * what is wrong. It checks framing, lengths and name character sets, not
 * that data is valid JSON (the engine's scanner is bounds-checked and fails
 * cleanly on bad JSON; call hl_msg_validate for the full check). */
int hl_msg_decode(hl_span in, hl_msg *out, hl_err *err);

#endif
