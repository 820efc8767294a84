/* Tests for crypto/secretbox: round trips, every kind of damage (altered,
 * truncated, moved to another field, another key) failing cleanly, and the
 * master key's sources: environment formats, the 0600 key file, refusal of
 * an exposed or symlinked file, and concurrent first starts agreeing. */
#include "crypto/secretbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/mem.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define AD "ep_crm\0auth.token"
#define TEXT_MAX HL_SECRETBOX_TEXT_BYTES(HL_SECRETBOX_PLAINTEXT_BYTES_MAX)

static void box_with(hl_secretbox *b, uint8_t fill) {
  uint8_t key[HL_SECRETBOX_KEY_BYTES];
  memset(key, fill, sizeof(key));
  ASSERT_EQ(hl_secretbox_init(b, key), 0);
}

static void seal_ok(const hl_secretbox *b, hl_span pt, hl_span ad, hl_buf *out, char *mem,
                    size_t cap) {
  hl_buf_init(out, mem, cap);
  ASSERT_EQ(hl_secretbox_seal(b, pt, ad, out), 0);
}

/* A directory of its own under the test's temporary directory. */
static const char *fresh_dir(const char *name, char *mem, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  hl_buf_printf(&b, "%s/%s", hl_test_tmpdir(), name);
  const char *dir = hl_buf_cstr(&b);
  ASSERT_EQ(mkdir(dir, 0700), 0);
  return dir;
}

static const char *key_path(const char *dir, char *mem, size_t cap) {
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  hl_buf_printf(&b, "%s/master.key", dir);
  return hl_buf_cstr(&b);
}

TEST(round_trip_sizes_and_fresh_nonces) {
  hl_secretbox b;
  box_with(&b, 7);
  static char mem[TEXT_MAX], mem2[TEXT_MAX];
  static char pt_mem[HL_SECRETBOX_PLAINTEXT_BYTES_MAX + 1];
  hl_span ad = HL_SPAN_LIT(AD);
  const size_t sizes[] = {0, 1, 15, 16, 17, 100, HL_SECRETBOX_PLAINTEXT_BYTES_MAX};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    for (size_t k = 0; k < sizes[i]; k++) {
      pt_mem[k] = (char)hl_test_rand();
    }
    hl_span pt = hl_span_make(pt_mem, sizes[i]);
    hl_buf out, out2;
    seal_ok(&b, pt, ad, &out, mem, sizeof(mem));
    ASSERT_TRUE(hl_secretbox_is_sealed(hl_buf_span(&out)));
    ASSERT_EQ(out.len, HL_SECRETBOX_TEXT_BYTES(sizes[i]));
    seal_ok(&b, pt, ad, &out2, mem2, sizeof(mem2));
    ASSERT_FALSE(hl_span_eq(hl_buf_span(&out), hl_buf_span(&out2))); /* random nonce */
    char got_mem[HL_SECRETBOX_PLAINTEXT_BYTES_MAX];
    hl_buf got;
    hl_buf_init(&got, got_mem, sizeof(got_mem));
    hl_err err = {{0}};
    ASSERT_EQ(hl_secretbox_open(&b, hl_buf_span(&out), ad, &got, &err), 0);
    ASSERT_MEM_EQ(got.ptr, got.len, pt.ptr, pt.len);
  }
  hl_buf out;
  hl_buf_init(&out, mem, sizeof(mem));
  ASSERT_EQ(
      hl_secretbox_seal(&b, hl_span_make(pt_mem, HL_SECRETBOX_PLAINTEXT_BYTES_MAX + 1), ad, &out),
      -EMSGSIZE);
  char big_ad[HL_SECRETBOX_AD_BYTES_MAX + 1] = {0};
  ASSERT_EQ(hl_secretbox_seal(&b, HL_SPAN_LIT("x"), hl_span_make(big_ad, sizeof(big_ad)), &out),
            -EMSGSIZE);
  char small[20];
  hl_buf_init(&out, small, sizeof(small));
  ASSERT_EQ(hl_secretbox_seal(&b, HL_SPAN_LIT("secret"), ad, &out), -ENOSPC);
  ASSERT_EQ(out.len, 0);
  hl_secretbox_cleanup(&b);
}

/* open_fails expects an error and that nothing reached the output. */
static int open_fails(const hl_secretbox *b, hl_span text, hl_span ad) {
  char mem[64];
  memcpy(mem, "kept", 4);
  hl_buf got;
  hl_buf_init(&got, mem, sizeof(mem));
  hl_buf_put(&got, "kept", 4);
  hl_err err = {{0}};
  int rc = hl_secretbox_open(b, text, ad, &got, &err);
  ASSERT_NE(rc, 0);
  ASSERT_EQ(got.len, 4);
  ASSERT_TRUE(strlen(err.msg) > 0);
  ASSERT_TRUE(strstr(err.msg, "sealed value") != NULL);
  return rc;
}

TEST(every_altered_or_truncated_text_fails) {
  hl_secretbox b;
  box_with(&b, 1);
  char mem[256];
  hl_buf out;
  seal_ok(&b, HL_SPAN_LIT("api-token-0123456789"), HL_SPAN_LIT(AD), &out, mem, sizeof(mem));
  char mut[256];
  for (size_t i = 0; i < out.len; i++) {
    for (int bit = 0; bit < 8; bit++) {
      memcpy(mut, out.ptr, out.len);
      mut[i] = (char)(mut[i] ^ (1 << bit));
      open_fails(&b, hl_span_make(mut, out.len), HL_SPAN_LIT(AD));
    }
  }
  for (size_t len = 0; len < out.len; len++) {
    open_fails(&b, hl_span_make(out.ptr, len), HL_SPAN_LIT(AD));
  }
  hl_secretbox_cleanup(&b);
}

TEST(every_altered_binary_byte_fails_authentication) {
  hl_secretbox b;
  box_with(&b, 2);
  char mem[256];
  hl_buf out;
  seal_ok(&b, HL_SPAN_LIT("bearer-xyz"), HL_SPAN_LIT(AD), &out, mem, sizeof(mem));
  uint8_t bin[128];
  size_t n = 0;
  hl_span b64 = hl_span_sub(hl_buf_span(&out), strlen(HL_SECRETBOX_PREFIX), out.len);
  ASSERT_EQ(hl_base64_decode(b64, bin, sizeof(bin), &n), 0);
  ASSERT_EQ(n, 10 + HL_SECRETBOX_OVERHEAD_BYTES);
  ASSERT_EQ(bin[0], HL_SECRETBOX_VERSION);
  for (size_t i = 0; i < n; i++) {
    bin[i] ^= 0x80;
    char text_mem[256];
    hl_buf text;
    hl_buf_init(&text, text_mem, sizeof(text_mem));
    hl_buf_put_cstr(&text, HL_SECRETBOX_PREFIX);
    hl_buf_put_base64(&text, bin, n);
    int rc = open_fails(&b, hl_buf_span(&text), HL_SPAN_LIT(AD));
    /* The version byte is checked before decryption; the rest is the tag's job. */
    ASSERT_EQ(rc, i == 0 ? -EINVAL : -EBADMSG);
    bin[i] ^= 0x80;
  }
  hl_secretbox_cleanup(&b);
}

TEST(wrong_ad_or_key_fails_with_clear_error) {
  hl_secretbox b, other;
  box_with(&b, 3);
  box_with(&other, 4);
  char mem[256];
  hl_buf out;
  seal_ok(&b, HL_SPAN_LIT("secret"), HL_SPAN_LIT(AD), &out, mem, sizeof(mem));
  ASSERT_EQ(open_fails(&b, hl_buf_span(&out), HL_SPAN_LIT("ep_crm\0auth.user")), -EBADMSG);
  ASSERT_EQ(open_fails(&b, hl_buf_span(&out), HL_SPAN_LIT("ep_crm")), -EBADMSG);
  ASSERT_EQ(open_fails(&b, hl_buf_span(&out), HL_SPAN_NULL), -EBADMSG);
  ASSERT_EQ(open_fails(&other, hl_buf_span(&out), HL_SPAN_LIT(AD)), -EBADMSG);
  hl_err err = {{0}};
  char got_mem[64];
  hl_buf got;
  hl_buf_init(&got, got_mem, sizeof(got_mem));
  ASSERT_EQ(hl_secretbox_open(&other, hl_buf_span(&out), HL_SPAN_LIT(AD), &got, &err), -EBADMSG);
  ASSERT_TRUE(strstr(err.msg, "authentication failed") != NULL);
  ASSERT_TRUE(strstr(err.msg, "master key") != NULL);
  /* Not-a-box inputs say so. */
  ASSERT_EQ(hl_secretbox_open(&b, HL_SPAN_LIT("plain-secret"), HL_SPAN_LIT(AD), &got, &err),
            -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "does not start with hlbox1:") != NULL);
  ASSERT_EQ(hl_secretbox_open(&b, HL_SPAN_LIT("hlbox1:AAAA"), HL_SPAN_LIT(AD), &got, &err),
            -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "truncated") != NULL);
  ASSERT_EQ(hl_secretbox_open(&b, HL_SPAN_LIT("hlbox1:%%%%"), HL_SPAN_LIT(AD), &got, &err),
            -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "base64") != NULL);
  /* No room for the plaintext: -ENOSPC, nothing written. */
  char tiny[3];
  hl_buf small;
  hl_buf_init(&small, tiny, sizeof(tiny));
  ASSERT_EQ(hl_secretbox_open(&b, hl_buf_span(&out), HL_SPAN_LIT(AD), &small, &err), -ENOSPC);
  ASSERT_EQ(small.len, 0);
  hl_secretbox_cleanup(&b);
  hl_secretbox_cleanup(&other);
}

/* opens: does a value sealed by one box open in another? */
static bool opens(const hl_secretbox *sealer, const hl_secretbox *opener) {
  char mem[256], got_mem[64];
  hl_buf out, got;
  seal_ok(sealer, HL_SPAN_LIT("value"), HL_SPAN_LIT(AD), &out, mem, sizeof(mem));
  hl_buf_init(&got, got_mem, sizeof(got_mem));
  return hl_secretbox_open(opener, hl_buf_span(&out), HL_SPAN_LIT(AD), &got, NULL) == 0;
}

TEST(key_file_created_0600_and_reused) {
  unsetenv(HL_SECRETBOX_ENV);
  char dmem[512], pmem[600];
  const char *dir = fresh_dir("keyfile", dmem, sizeof(dmem));
  const char *path = key_path(dir, pmem, sizeof(pmem));
  hl_secretbox a, b;
  hl_err err = {{0}};
  ASSERT_EQ(hl_secretbox_load_key(&a, dir, &err), 0);
  struct stat st;
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  size_t len = 0;
  char *text = hl_test_read_file(path, &len);
  ASSERT_EQ(len, 65);
  ASSERT_EQ(text[64], '\n');
  uint8_t key[32];
  ASSERT_EQ(hl_secretbox_parse_key(hl_span_make(text, 64), key), 0);
  OPENSSL_cleanse(text, len);
  free(text);
  ASSERT_EQ(hl_secretbox_load_key(&b, dir, &err), 0);
  ASSERT_TRUE(opens(&a, &b));
  /* Only master.key is left: the temporary file was removed. */
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t entries = 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    entries++;
    ASSERT_STR_EQ(e->d_name, "master.key");
  }
  closedir(d);
  ASSERT_EQ(entries, 1);
  hl_secretbox_cleanup(&a);
  hl_secretbox_cleanup(&b);
}

TEST(exposed_or_odd_key_files_are_refused) {
  unsetenv(HL_SECRETBOX_ENV);
  char dmem[512], pmem[600];
  const char *dir = fresh_dir("exposed", dmem, sizeof(dmem));
  const char *path = key_path(dir, pmem, sizeof(pmem));
  hl_secretbox b;
  hl_err err = {{0}};
  ASSERT_EQ(hl_secretbox_load_key(&b, dir, &err), 0);
  hl_secretbox_cleanup(&b);
  const mode_t modes[] = {0644, 0640, 0604, 0660};
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
    ASSERT_EQ(chmod(path, modes[i]), 0);
    ASSERT_EQ(hl_secretbox_load_key(&b, dir, &err), -EPERM);
    ASSERT_TRUE(strstr(err.msg, "chmod 600") != NULL);
    ASSERT_TRUE(strstr(err.msg, path) != NULL);
    hl_secretbox_cleanup(&b);
  }
  ASSERT_EQ(chmod(path, 0400), 0); /* stricter than 0600 is fine */
  ASSERT_EQ(hl_secretbox_load_key(&b, dir, &err), 0);
  hl_secretbox_cleanup(&b);

  /* Garbage content: refused, and not echoed. */
  const char *garbage = "not-a-key-but-a-secret-looking-string";
  ASSERT_EQ(chmod(path, 0600), 0);
  FILE *f = fopen(path, "w");
  fputs(garbage, f);
  fclose(f);
  ASSERT_EQ(hl_secretbox_load_key(&b, dir, &err), -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "64 hex characters") != NULL);
  ASSERT_TRUE(strstr(err.msg, garbage) == NULL);
  hl_secretbox_cleanup(&b);

  /* A symlink is refused even when its target is private. */
  char lmem[512], tmem[600];
  const char *ldir = fresh_dir("symlinked", lmem, sizeof(lmem));
  const char *lpath = key_path(ldir, tmem, sizeof(tmem));
  f = fopen(path, "w");
  fputs("0000000000000000000000000000000000000000000000000000000000000000\n", f);
  fclose(f);
  ASSERT_EQ(symlink(path, lpath), 0);
  ASSERT_EQ(hl_secretbox_load_key(&b, ldir, &err), -ELOOP);
  ASSERT_TRUE(strstr(err.msg, "symbolic link") != NULL);
  hl_secretbox_cleanup(&b);

  /* No data directory at all. */
  ASSERT_EQ(hl_secretbox_load_key(&b, "/nonexistent/hookline-data", &err), -ENOENT);
  ASSERT_TRUE(strstr(err.msg, "/nonexistent/hookline-data") != NULL);
  hl_secretbox_cleanup(&b);
  ASSERT_EQ(hl_secretbox_load_key(&b, NULL, &err), -EINVAL);
  ASSERT_TRUE(strstr(err.msg, HL_SECRETBOX_ENV) != NULL);
}

TEST(env_key_formats) {
  const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  const char *b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; /* the same 32 bytes */
  hl_secretbox a, b;
  hl_err err = {{0}};
  /* The environment wins: no data directory needed. */
  ASSERT_EQ(setenv(HL_SECRETBOX_ENV, hex, 1), 0);
  ASSERT_EQ(hl_secretbox_load_key(&a, "/nonexistent", &err), 0);
  ASSERT_EQ(setenv(HL_SECRETBOX_ENV, b64, 1), 0);
  ASSERT_EQ(hl_secretbox_load_key(&b, "/nonexistent", &err), 0);
  ASSERT_TRUE(opens(&a, &b));
  hl_secretbox_cleanup(&b);
  ASSERT_EQ(setenv(HL_SECRETBOX_ENV,
                   "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", 1),
            0);
  ASSERT_EQ(hl_secretbox_load_key(&b, NULL, &err), 0);
  ASSERT_TRUE(opens(&b, &a));
  hl_secretbox_cleanup(&b);
  const char *bad[] = {
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",   /* 63 */
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", /* 65 */
      "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",    /* unpadded */
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", /* trailing newline */
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+=",   /* non-canonical */
      "correct horse battery staple",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ASSERT_EQ(setenv(HL_SECRETBOX_ENV, bad[i], 1), 0);
    ASSERT_EQ(hl_secretbox_load_key(&b, NULL, &err), -EINVAL);
    ASSERT_TRUE(strstr(err.msg, HL_SECRETBOX_ENV ": must be 64 hex characters") != NULL);
    ASSERT_TRUE(strstr(err.msg, bad[i]) == NULL);
    hl_secretbox_cleanup(&b);
  }
  /* Empty means unset: the key file is used. */
  char dmem[512];
  const char *dir = fresh_dir("envempty", dmem, sizeof(dmem));
  ASSERT_EQ(setenv(HL_SECRETBOX_ENV, "", 1), 0);
  ASSERT_EQ(hl_secretbox_load_key(&b, dir, &err), 0);
  ASSERT_FALSE(opens(&a, &b));
  hl_secretbox_cleanup(&b);
  hl_secretbox_cleanup(&a);
  unsetenv(HL_SECRETBOX_ENV);
}

TEST(concurrent_first_starts_agree_on_one_key) {
  unsetenv(HL_SECRETBOX_ENV);
  char dmem[512];
  const char *dir = fresh_dir("race", dmem, sizeof(dmem));
  enum { CHILDREN = 6 };
  pid_t pids[CHILDREN];
  for (int i = 0; i < CHILDREN; i++) {
    pids[i] = fork();
    ASSERT_TRUE(pids[i] >= 0);
    if (pids[i] == 0) {
      hl_secretbox b;
      char mem[256], path_mem[600];
      hl_buf out, path;
      if (hl_secretbox_load_key(&b, dir, NULL) != 0) {
        _exit(1);
      }
      hl_buf_init(&out, mem, sizeof(mem));
      if (hl_secretbox_seal(&b, HL_SPAN_LIT("shared"), HL_SPAN_LIT(AD), &out) != 0) {
        _exit(2);
      }
      hl_buf_init(&path, path_mem, sizeof(path_mem));
      hl_buf_printf(&path, "%s/../race-%d.txt", dir, i);
      FILE *f = fopen(hl_buf_cstr(&path), "w");
      if (f == NULL || fwrite(out.ptr, 1, out.len, f) != out.len || fclose(f) != 0) {
        _exit(3);
      }
      _exit(0);
    }
  }
  for (int i = 0; i < CHILDREN; i++) {
    int status = 0;
    ASSERT_EQ(waitpid(pids[i], &status, 0), pids[i]);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }
  hl_secretbox b;
  ASSERT_EQ(hl_secretbox_load_key(&b, dir, NULL), 0);
  for (int i = 0; i < CHILDREN; i++) {
    char path_mem[600], got_mem[64];
    hl_buf path, got;
    hl_buf_init(&path, path_mem, sizeof(path_mem));
    hl_buf_printf(&path, "%s/../race-%d.txt", dir, i);
    size_t len = 0;
    char *text = hl_test_read_file(hl_buf_cstr(&path), &len);
    ASSERT_TRUE(text != NULL);
    hl_buf_init(&got, got_mem, sizeof(got_mem));
    ASSERT_EQ(hl_secretbox_open(&b, hl_span_make(text, len), HL_SPAN_LIT(AD), &got, NULL), 0);
    ASSERT_SPAN_EQ(hl_buf_span(&got), "shared");
    free(text);
  }
  hl_secretbox_cleanup(&b);
}
