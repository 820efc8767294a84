/* secretbox: AES-256-GCM sealing of secrets at rest (see secretbox.h). */
#include "crypto/secretbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/assert.h"

#define KEY_HEX_CHARS (2 * HL_SECRETBOX_KEY_BYTES)
#define KEY_B64_CHARS 44
/* A key file holds one key and at most "\r\n". */
#define KEY_FILE_BYTES_MAX (KEY_HEX_CHARS + 2)
#define BINARY_BYTES_MAX (HL_SECRETBOX_PLAINTEXT_BYTES_MAX + HL_SECRETBOX_OVERHEAD_BYTES)

int hl_secretbox_init(hl_secretbox *b, const uint8_t key[HL_SECRETBOX_KEY_BYTES]) {
  EVP_AEAD_CTX_zero(&b->aead);
  b->ready = false;
  if (!EVP_AEAD_CTX_init(&b->aead, EVP_aead_aes_256_gcm(), key, HL_SECRETBOX_KEY_BYTES,
                         HL_SECRETBOX_TAG_BYTES, NULL)) {
    ERR_clear_error();
    return -EINVAL;
  }
  b->ready = true;
  return 0;
}

void hl_secretbox_cleanup(hl_secretbox *b) {
  if (b->ready) {
    EVP_AEAD_CTX_cleanup(&b->aead);
  }
  OPENSSL_cleanse(b, sizeof(*b));
}

bool hl_secretbox_is_sealed(hl_span text) {
  return hl_span_starts_with(text, HL_SPAN_LIT(HL_SECRETBOX_PREFIX));
}

/* full_ad is the AEAD's associated data: the version byte, then |ad|. */
static size_t full_ad(uint8_t *dst, hl_span ad) {
  dst[0] = HL_SECRETBOX_VERSION;
  if (ad.len > 0) {
    memcpy(dst + 1, ad.ptr, ad.len);
  }
  return 1 + ad.len;
}

int hl_secretbox_seal(const hl_secretbox *b, hl_span plaintext, hl_span ad, hl_buf *out) {
  HL_ASSERT(b->ready);
  if (plaintext.len > HL_SECRETBOX_PLAINTEXT_BYTES_MAX || ad.len > HL_SECRETBOX_AD_BYTES_MAX) {
    return -EMSGSIZE;
  }
  uint8_t ad_buf[1 + HL_SECRETBOX_AD_BYTES_MAX];
  size_t ad_len = full_ad(ad_buf, ad);
  uint8_t bin[BINARY_BYTES_MAX];
  bin[0] = HL_SECRETBOX_VERSION;
  uint8_t *nonce = bin + 1;
  RAND_bytes(nonce, HL_SECRETBOX_NONCE_BYTES);
  uint8_t *ct = nonce + HL_SECRETBOX_NONCE_BYTES;
  size_t ct_len = 0;
  size_t cap = sizeof(bin) - (size_t)(ct - bin);
  if (!EVP_AEAD_CTX_seal(&b->aead, ct, &ct_len, cap, nonce, HL_SECRETBOX_NONCE_BYTES,
                         (const uint8_t *)plaintext.ptr, plaintext.len, ad_buf, ad_len)) {
    ERR_clear_error();
    HL_UNREACHABLE(); /* sizes were checked above; sealing cannot fail otherwise */
  }
  HL_ASSERT(ct_len == plaintext.len + HL_SECRETBOX_TAG_BYTES);
  size_t bin_len = 1 + HL_SECRETBOX_NONCE_BYTES + ct_len;
  size_t mark = out->len;
  hl_buf_put_cstr(out, HL_SECRETBOX_PREFIX);
  hl_buf_put_base64(out, bin, bin_len);
  OPENSSL_cleanse(bin, bin_len);
  if (!hl_buf_ok(out)) {
    hl_buf_truncate(out, mark);
    return -ENOSPC;
  }
  return 0;
}

int hl_secretbox_open(const hl_secretbox *b, hl_span text, hl_span ad, hl_buf *out, hl_err *err) {
  HL_ASSERT(b->ready);
  hl_span rest = text;
  if (!hl_span_get_lit(&rest, HL_SPAN_LIT(HL_SECRETBOX_PREFIX))) {
    return hl_err_fail(err, -EINVAL, "sealed value: does not start with " HL_SECRETBOX_PREFIX);
  }
  if (ad.len > HL_SECRETBOX_AD_BYTES_MAX) {
    return hl_err_fail(err, -EINVAL, "sealed value: associated data longer than %d bytes",
                       HL_SECRETBOX_AD_BYTES_MAX);
  }
  uint8_t bin[BINARY_BYTES_MAX];
  size_t bin_len = 0;
  int rc = hl_base64_decode(rest, bin, sizeof(bin), &bin_len);
  if (rc == -ENOSPC) {
    return hl_err_fail(err, -EINVAL, "sealed value: longer than any value this engine seals");
  }
  if (rc != 0) {
    return hl_err_fail(err, -EINVAL, "sealed value: not valid base64 after the prefix");
  }
  if (bin_len < HL_SECRETBOX_OVERHEAD_BYTES) {
    return hl_err_fail(err, -EINVAL, "sealed value: truncated");
  }
  if (bin[0] != HL_SECRETBOX_VERSION) {
    return hl_err_fail(err, -EINVAL, "sealed value: unknown format version %u", bin[0]);
  }
  uint8_t ad_buf[1 + HL_SECRETBOX_AD_BYTES_MAX];
  size_t ad_len = full_ad(ad_buf, ad);
  const uint8_t *nonce = bin + 1;
  const uint8_t *ct = nonce + HL_SECRETBOX_NONCE_BYTES;
  size_t ct_len = bin_len - 1 - HL_SECRETBOX_NONCE_BYTES;
  size_t pt_len = ct_len - HL_SECRETBOX_TAG_BYTES;
  size_t mark = out->len;
  uint8_t *dst = (uint8_t *)hl_buf_reserve(out, pt_len);
  if (dst == NULL) {
    return hl_err_fail(err, -ENOSPC, "sealed value: no room for the plaintext");
  }
  size_t got = 0;
  if (!EVP_AEAD_CTX_open(&b->aead, dst, &got, pt_len, nonce, HL_SECRETBOX_NONCE_BYTES, ct, ct_len,
                         ad_buf, ad_len)) {
    ERR_clear_error();
    OPENSSL_cleanse(dst, pt_len);
    hl_buf_truncate(out, mark);
    return hl_err_fail(err, -EBADMSG,
                       "sealed value: authentication failed (a different master key, a value "
                       "moved from another field, or altered data)");
  }
  HL_ASSERT(got == pt_len);
  return 0;
}

/* --- master key ---------------------------------------------------------------- */

int hl_secretbox_parse_key(hl_span text, uint8_t key[HL_SECRETBOX_KEY_BYTES]) {
  size_t n = 0;
  int rc = -EINVAL;
  if (text.len == KEY_HEX_CHARS) {
    rc = hl_hex_decode(text, key, HL_SECRETBOX_KEY_BYTES, &n);
  } else if (text.len == KEY_B64_CHARS) {
    rc = hl_base64_decode(text, key, HL_SECRETBOX_KEY_BYTES, &n);
  }
  if (rc != 0 || n != HL_SECRETBOX_KEY_BYTES) {
    OPENSSL_cleanse(key, HL_SECRETBOX_KEY_BYTES);
    return -EINVAL;
  }
  return 0;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      return w < 0 ? -errno : -EIO;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* read_key_file reads and checks an existing key file; -ENOENT (no message)
 * if there is none. */
static int read_key_file(const char *path, uint8_t key[HL_SECRETBOX_KEY_BYTES], hl_err *err) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) {
      return -ENOENT;
    }
    if (e == ELOOP) {
      return hl_err_fail(err, -ELOOP, "master key file %s: is a symbolic link; refusing it", path);
    }
    return hl_err_fail(err, -e, "master key file %s: %s", path, strerror(e));
  }
  struct stat st;
  int rc = 0;
  char text[KEY_FILE_BYTES_MAX + 1];
  size_t len = 0;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    rc = hl_err_fail(err, -e, "master key file %s: %s", path, strerror(e));
  } else if (!S_ISREG(st.st_mode)) {
    rc = hl_err_fail(err, -EINVAL, "master key file %s: not a regular file", path);
  } else if ((st.st_mode & 077) != 0) {
    rc = hl_err_fail(err, -EPERM,
                     "master key file %s: group or others may access it (mode %03o); run "
                     "`chmod 600 %s`",
                     path, (unsigned)(st.st_mode & 0777), path);
  }
  while (rc == 0 && len < sizeof(text)) {
    ssize_t r = read(fd, text + len, sizeof(text) - len);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      int e = errno;
      rc = hl_err_fail(err, -e, "master key file %s: %s", path, strerror(e));
    }
    if (r <= 0) {
      break;
    }
    len += (size_t)r;
  }
  close(fd);
  if (rc == 0) {
    hl_span t = hl_span_make(text, len);
    if (hl_span_ends_with(t, HL_SPAN_LIT("\n"))) {
      t.len--;
      if (hl_span_ends_with(t, HL_SPAN_LIT("\r"))) {
        t.len--;
      }
    }
    if (hl_secretbox_parse_key(t, key) != 0) {
      rc = hl_err_fail(err, -EINVAL,
                       "master key file %s: must hold 64 hex characters or the base64 of 32 "
                       "bytes",
                       path);
    }
  }
  OPENSSL_cleanse(text, sizeof(text));
  return rc;
}

/* create_key_file writes a new random key to a private temporary file and
 * publishes it with link(2), which fails if |path| exists: a concurrent
 * start either wins or gets -EEXIST and reads the winner's complete file, so
 * no process ever reads a half-written key. */
static int create_key_file(const char *dir, const char *path, hl_err *err) {
  uint8_t raw[HL_SECRETBOX_KEY_BYTES + 4];
  RAND_bytes(raw, sizeof(raw));
  char tmp_mem[PATH_MAX];
  hl_buf tmp;
  hl_buf_init(&tmp, tmp_mem, sizeof(tmp_mem));
  hl_buf_printf(&tmp, "%s/.%s.%ld.", dir, HL_SECRETBOX_KEY_FILE, (long)getpid());
  hl_buf_put_hex(&tmp, raw + HL_SECRETBOX_KEY_BYTES, 4);
  const char *tmp_path = hl_buf_cstr(&tmp);
  if (!hl_buf_ok(&tmp)) {
    OPENSSL_cleanse(raw, sizeof(raw));
    return hl_err_fail(err, -ENAMETOOLONG, "data directory %s: path too long", dir);
  }
  char text_mem[KEY_HEX_CHARS + 1];
  hl_buf text;
  hl_buf_init(&text, text_mem, sizeof(text_mem));
  hl_buf_put_hex(&text, raw, HL_SECRETBOX_KEY_BYTES);
  hl_buf_putc(&text, '\n');
  OPENSSL_cleanse(raw, sizeof(raw));
  int rc = 0;
  int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    rc = hl_err_fail(err, -e, "master key file: cannot create it in %s: %s", dir, strerror(e));
  } else {
    rc = write_all(fd, text.ptr, text.len);
    if (rc == 0 && fsync(fd) != 0) {
      rc = -errno;
    }
    close(fd);
    if (rc != 0) {
      hl_err_set(err, "master key file: cannot write it in %s: %s", dir, strerror(-rc));
    } else if (link(tmp_path, path) != 0) {
      rc = -errno;
      if (rc != -EEXIST) {
        hl_err_set(err, "master key file %s: cannot create it: %s", path, strerror(-rc));
      }
    }
    unlink(tmp_path);
  }
  OPENSSL_cleanse(text_mem, sizeof(text_mem));
  if (rc == 0) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)fsync(dfd); /* best effort: make the new name durable */
      close(dfd);
    }
  }
  return rc;
}

static int load_from_file(const char *dir, uint8_t key[HL_SECRETBOX_KEY_BYTES], hl_err *err) {
  if (dir == NULL || dir[0] == '\0') {
    return hl_err_fail(err, -EINVAL,
                       "master key: set " HL_SECRETBOX_ENV " or give a data directory");
  }
  char path_mem[PATH_MAX];
  hl_buf pb;
  hl_buf_init(&pb, path_mem, sizeof(path_mem));
  hl_buf_printf(&pb, "%s/%s", dir, HL_SECRETBOX_KEY_FILE);
  const char *path = hl_buf_cstr(&pb);
  if (!hl_buf_ok(&pb)) {
    return hl_err_fail(err, -ENAMETOOLONG, "data directory %s: path too long", dir);
  }
  int rc = read_key_file(path, key, err);
  if (rc != -ENOENT) {
    return rc;
  }
  rc = create_key_file(dir, path, err);
  if (rc != 0 && rc != -EEXIST) {
    return rc;
  }
  /* Read back what was published (ours or a concurrent winner's). */
  rc = read_key_file(path, key, err);
  if (rc == -ENOENT) {
    rc = hl_err_fail(err, -ENOENT, "master key file %s: vanished while starting", path);
  }
  return rc;
}

int hl_secretbox_load_key(hl_secretbox *b, const char *data_dir, hl_err *err) {
  memset(b, 0, sizeof(*b));
  uint8_t key[HL_SECRETBOX_KEY_BYTES];
  int rc;
  const char *env = getenv(HL_SECRETBOX_ENV);
  if (env != NULL && env[0] != '\0') {
    rc = hl_secretbox_parse_key(hl_span_cstr(env), key);
    if (rc != 0) {
      return hl_err_fail(err, -EINVAL,
                         HL_SECRETBOX_ENV
                         ": must be 64 hex characters or the base64 of 32 "
                         "bytes (44 characters); generate one with `openssl rand -hex 32`");
    }
  } else {
    rc = load_from_file(data_dir, key, err);
    if (rc != 0) {
      OPENSSL_cleanse(key, sizeof(key));
      return rc;
    }
  }
  rc = hl_secretbox_init(b, key);
  OPENSSL_cleanse(key, sizeof(key));
  if (rc != 0) {
    return hl_err_fail(err, rc, "master key: cannot initialise AES-256-GCM");
  }
  return 0;
}
