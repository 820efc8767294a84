/* Fuzz target: opening sealed values from an untrusted store.
 *
 * Input: byte 0 picks a mutation (position and xor value come from the
 * input too); the rest is the text to open and, separately, a plaintext to
 * seal. Properties:
 *   - opening any text never crashes, returns 0 or one of the documented
 *     errors, and on failure appends nothing;
 *   - a text that opens re-seals and opens to the same plaintext;
 *   - a freshly sealed value opens to its plaintext, and after any one-byte
 *     change or truncation it never opens ("never succeeds on a mutated
 *     valid box"): the base64 is canonical, so a changed character always
 *     changes the decoded bytes or fails to decode. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secretbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AD "ep_fuzz\0secret"
#define TEXT_MAX HL_SECRETBOX_TEXT_BYTES(HL_SECRETBOX_PLAINTEXT_BYTES_MAX)

static hl_secretbox *box(void) {
  static hl_secretbox b;
  static bool ready;
  if (!ready) {
    uint8_t key[HL_SECRETBOX_KEY_BYTES];
    for (size_t i = 0; i < sizeof(key); i++) {
      key[i] = (uint8_t)i;
    }
    if (hl_secretbox_init(&b, key) != 0) {
      abort();
    }
    ready = true;
  }
  return &b;
}

static int open_into(hl_span text, hl_buf *out) {
  size_t before = out->len;
  int rc = hl_secretbox_open(box(), text, HL_SPAN_LIT(AD), out, NULL);
  if (rc != 0 && rc != -EINVAL && rc != -EBADMSG && rc != -ENOSPC) {
    abort();
  }
  if (rc != 0 && out->len != before) {
    abort();
  }
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > TEXT_MAX) {
    return 0;
  }
  static char pt_mem[HL_SECRETBOX_PLAINTEXT_BYTES_MAX];
  static char sealed_mem[TEXT_MAX], resealed_mem[TEXT_MAX];
  hl_span text = hl_span_make(data + 1, size - 1);
  hl_buf pt, sealed;

  /* 1. Arbitrary text. */
  hl_buf_init(&pt, pt_mem, sizeof(pt_mem));
  if (open_into(text, &pt) == 0) {
    hl_buf_init(&sealed, resealed_mem, sizeof(resealed_mem));
    if (hl_secretbox_seal(box(), hl_buf_span(&pt), HL_SPAN_LIT(AD), &sealed) != 0) {
      abort();
    }
    char again_mem[HL_SECRETBOX_PLAINTEXT_BYTES_MAX];
    hl_buf again;
    hl_buf_init(&again, again_mem, sizeof(again_mem));
    if (open_into(hl_buf_span(&sealed), &again) != 0 ||
        !hl_span_eq(hl_buf_span(&again), hl_buf_span(&pt))) {
      abort();
    }
  }

  /* 2. Seal the input, then damage it. */
  hl_span plain = hl_span_sub(text, 0, HL_SECRETBOX_PLAINTEXT_BYTES_MAX);
  hl_buf_init(&sealed, sealed_mem, sizeof(sealed_mem));
  if (hl_secretbox_seal(box(), plain, HL_SPAN_LIT(AD), &sealed) != 0) {
    abort();
  }
  hl_buf_init(&pt, pt_mem, sizeof(pt_mem));
  if (open_into(hl_buf_span(&sealed), &pt) != 0 || !hl_span_eq(hl_buf_span(&pt), plain)) {
    abort();
  }
  size_t pos = (data[0] * 131u + size) % sealed.len;
  uint8_t flip = (uint8_t)(data[0] | 1);
  sealed.ptr[pos] = (char)(sealed.ptr[pos] ^ flip);
  hl_buf_init(&pt, pt_mem, sizeof(pt_mem));
  if (open_into(hl_buf_span(&sealed), &pt) == 0) {
    abort();
  }
  sealed.ptr[pos] = (char)(sealed.ptr[pos] ^ flip);
  if (open_into(hl_span_make(sealed.ptr, pos), &pt) == 0) {
    abort();
  }
  return 0;
}
