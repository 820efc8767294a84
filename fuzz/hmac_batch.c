/* Fuzz target: multi-buffer HMAC-SHA256 batches (crypto/hmac_mb).
 * Property: for any batch (job count, keys, lengths, contents), every
 * implementation this CPU has, and the auto-dispatching hl_hmac_batch,
 * computes exactly BoringSSL's HMAC(EVP_sha256()) for every job.
 *
 * Input layout (short inputs are padded with zeros):
 *   [0] jobs - 1 (mod 40)   [1] keys - 1 (mod 4)
 *   per key: [len mod 201] then len key bytes
 *   per job: [key index] [len lo] [len hi] [offset]
 *   the rest: the pool; a job's message is len (mod pool size + 1) bytes
 *   of it, starting at offset scaled into the room left, so messages
 *   overlap, share bytes, start unaligned and may end at the input's end. */
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hmac_mb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_JOBS_MAX 40
#define FUZZ_KEYS_MAX 4

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t next_byte(reader *r) {
  if (r->n == 0) {
    return 0;
  }
  r->n--;
  return *r->p++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader r = {data, size};
  size_t njobs = 1 + next_byte(&r) % FUZZ_JOBS_MAX;
  size_t nkeys = 1 + next_byte(&r) % FUZZ_KEYS_MAX;
  const uint8_t *key_bytes[FUZZ_KEYS_MAX];
  size_t key_len[FUZZ_KEYS_MAX];
  hl_hmac_key keys[FUZZ_KEYS_MAX];
  for (size_t k = 0; k < nkeys; k++) {
    size_t want = next_byte(&r) % 201;
    key_len[k] = want < r.n ? want : r.n;
    key_bytes[k] = r.p;
    r.p += key_len[k];
    r.n -= key_len[k];
    hl_hmac_key_init(&keys[k], key_bytes[k], key_len[k]);
  }
  uint8_t desc[FUZZ_JOBS_MAX][4];
  for (size_t i = 0; i < njobs; i++) {
    for (int j = 0; j < 4; j++) {
      desc[i][j] = next_byte(&r);
    }
  }
  const uint8_t *pool = r.p;
  size_t pool_len = r.n;
  hl_hmac_job jobs[FUZZ_JOBS_MAX];
  size_t key_of[FUZZ_JOBS_MAX];
  for (size_t i = 0; i < njobs; i++) {
    size_t len = ((size_t)desc[i][1] | (size_t)desc[i][2] << 8) % (pool_len + 1);
    size_t room = pool_len - len;
    size_t off = room * desc[i][3] / 255;
    key_of[i] = desc[i][0] % nkeys;
    jobs[i] = (hl_hmac_job){.key = &keys[key_of[i]], .msg = len > 0 ? pool + off : NULL,
                            .len = len};
  }
  uint8_t want[FUZZ_JOBS_MAX][32];
  for (size_t i = 0; i < njobs; i++) {
    unsigned out_len = 0;
    size_t k = key_of[i];
    if (HMAC(EVP_sha256(), key_bytes[k], key_len[k], jobs[i].msg, jobs[i].len, want[i],
             &out_len) == NULL ||
        out_len != 32) {
      abort();
    }
  }
  for (int impl = 0; impl < HL_HMAC_IMPL_COUNT; impl++) {
    if (!hl_hmac_impl_available((hl_hmac_impl)impl)) {
      continue;
    }
    for (size_t i = 0; i < njobs; i++) {
      memset(jobs[i].out, 0, sizeof(jobs[i].out));
    }
    if (hl_hmac_batch_impl((hl_hmac_impl)impl, jobs, njobs) != 0) {
      abort();
    }
    for (size_t i = 0; i < njobs; i++) {
      if (memcmp(jobs[i].out, want[i], 32) != 0) {
        abort();
      }
    }
  }
  for (size_t k = 0; k < nkeys; k++) {
    hl_hmac_key_cleanup(&keys[k]);
  }
  return 0;
}
