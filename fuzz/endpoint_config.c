/* Fuzz target: the endpoint configuration a user gives (`hookline endpoint
 * apply -f` documents, `endpoint add` / `endpoint update` bodies), and the
 * store form it becomes.
 *
 * Input: a JSON text. An object X is parsed (hl_endpoint_parse, user form);
 * an array [X, P1, P2, ...] parses X and then applies P1, P2, ... with
 * hl_endpoint_patch, as successive `endpoint update`s do. The text itself
 * also goes through hl_endpoint_load, the path of an untrusted store row.
 * Properties (abort on violation):
 *   a. parse, patch, validate, write and load return 0, or a negative errno
 *      with a non-empty message;
 *   b. a configuration that validates (default network policy, no DNS;
 *      given "ep_fuzz" as id when it has none, as `endpoint add` does)
 *      writes SEALED as valid JSON, loads back (parse from the store + open
 *      with the same secret box) to the same secrets, and the original and
 *      the loaded configuration write the same REDACTED text, which is
 *      valid JSON; their SEALED texts agree but for the sealed values (the
 *      nonces are random);
 *   c. no secret (signing secrets, auth token / password / value, values of
 *      headers named like credentials: Authorization, Cookie, or containing
 *      key, token, secret, auth, password, signature) shows in the REDACTED
 *      or SEALED text: with every secret replaced by another value the texts
 *      are the same but for the fingerprints and sealed values. Error
 *      messages never contain a secret of 8 bytes or more (unless that text
 *      also occurs in a non-secret string of the input, a field name or a
 *      URL, which a message may quote);
 *   d. patching parse(X) with X itself succeeds and changes nothing (same
 *      REDACTED text): hl_endpoint_patch replaces each given field (auth and
 *      filter as a whole, signing field by field), so a document applied to
 *      the configuration it describes is a no-op. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/limits.h"
#include "deliver/endpoint.h"
#include "io/netpolicy.h"
#include "text/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for a template at its limit plus the rest of a document. */
#define INPUT_BYTES_MAX (HL_TEMPLATE_BYTES_MAX + 32 * 1024)
/* What any configuration from such an input writes, sealed or redacted. */
#define TEXT_BYTES_MAX (2u << 20)
#define PATCHES_MAX 4
#define SECRET_CHECK_BYTES_MIN 8
#define INPUT_STRINGS_MAX 4096

/* check reports the failed property's line before aborting. */
#define check(ok) check_at((ok), __LINE__)
static void check_at(bool ok, int line) {
  if (!ok) {
    fprintf(stderr, "endpoint_config: property at line %d does not hold\n", line);
    abort();
  }
}

static const hl_secretbox *box(void) {
  static hl_secretbox b;
  static bool ready;
  if (!ready) {
    uint8_t key[HL_SECRETBOX_KEY_BYTES];
    memset(key, 7, sizeof(key));
    check(hl_secretbox_init(&b, key) == 0);
    ready = true;
  }
  return &b;
}

/* --- secrets in the input --------------------------------------------------- */

/* The rule of endpoint.c's header comment, written out independently:
 * Authorization, Cookie, or a name containing one of these words (any case;
 * "authorization" contains "auth"). */
static bool credential_header(const char *name) {
  static const char *const parts[] = {"key", "token", "secret", "auth", "password", "signature"};
  if (strcasecmp(name, "cookie") == 0) {
    return true;
  }
  char lower[HL_SIGN_HEADER_NAME_BYTES_MAX + 1];
  size_t n = strlen(name);
  if (n > HL_SIGN_HEADER_NAME_BYTES_MAX) {
    return false; /* never parses */
  }
  for (size_t i = 0; i <= n; i++) {
    lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
  }
  for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
    if (strstr(lower, parts[i]) != NULL) {
      return true;
    }
  }
  return false;
}

/* The strings of the inputs, split into secret values and everything else
 * (member names and other string values), pointing into the cJSON trees. */
typedef struct strings {
  const char *secret[INPUT_STRINGS_MAX];
  size_t secret_n;
  const char *plain[INPUT_STRINGS_MAX];
  size_t plain_n;
} strings;

static void add(const char **list, size_t *n, const char *s) {
  if (s != NULL && *n < INPUT_STRINGS_MAX) {
    list[(*n)++] = s;
  }
}

/* is_secret_member: whether |m| (a member of |parent|, itself the member
 * |parent_name| of a top-level endpoint object) holds a secret. */
static bool is_secret_member(const char *parent_name, const cJSON *m) {
  if (parent_name == NULL || m->string == NULL) {
    return false;
  }
  if (strcmp(parent_name, "signing") == 0) {
    return strcmp(m->string, "secret") == 0;
  }
  if (strcmp(parent_name, "auth") == 0) {
    return strcmp(m->string, "token") == 0 || strcmp(m->string, "password") == 0 ||
           strcmp(m->string, "value") == 0;
  }
  if (strcmp(parent_name, "headers") == 0) {
    return credential_header(m->string);
  }
  return false;
}

static void collect(const cJSON *node, const char *parent_name, int depth, strings *s) {
  for (const cJSON *m = node->child; m != NULL; m = m->next) {
    if (m->string != NULL) {
      add(s->plain, &s->plain_n, m->string);
    }
    if (cJSON_IsString(m)) {
      if (is_secret_member(parent_name, m)) {
        add(s->secret, &s->secret_n, m->valuestring);
      } else {
        add(s->plain, &s->plain_n, m->valuestring);
      }
    }
    /* Secrets sit one level into an endpoint object (signing.secret); what
     * is deeper (a template) is plain. */
    collect(m, depth == 0 && cJSON_IsObject(node) ? m->string : NULL, depth + 1, s);
  }
}

/* check_message: property (a) and the error half of (c). */
static void check_message(const strings *s, const hl_err *err) {
  check(err->msg[0] != '\0');
  for (size_t i = 0; i < s->secret_n; i++) {
    const char *secret = s->secret[i];
    if (strlen(secret) < SECRET_CHECK_BYTES_MIN || strstr(err->msg, secret) == NULL) {
      continue;
    }
    bool quoted_elsewhere = false;
    for (size_t k = 0; k < s->plain_n && !quoted_elsewhere; k++) {
      quoted_elsewhere = strstr(s->plain[k], secret) != NULL;
    }
    check(quoted_elsewhere);
  }
}

/* --- secrets in a configuration -------------------------------------------- */

typedef struct slots {
  char **slot[HL_SECRETS_PER_ENDPOINT_MAX + 3 + HL_ENDPOINT_HEADERS_MAX];
  size_t n;
} slots;

static void secret_slots(hl_endpoint_config *c, slots *out) {
  out->n = 0;
  for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
    out->slot[out->n++] = &c->signing.secrets[i].value;
  }
  char **auth[] = {&c->auth.token, &c->auth.password, &c->auth.value};
  for (size_t i = 0; i < 3; i++) {
    if (*auth[i] != NULL) {
      out->slot[out->n++] = auth[i];
    }
  }
  for (uint32_t i = 0; i < c->headers_n; i++) {
    if (credential_header(c->headers[i].name)) {
      out->slot[out->n++] = &c->headers[i].value;
    }
  }
}

/* strip_values copies |text| leaving out what follows each |marker| up to
 * the closing quote: the fingerprints or sealed values. */
static size_t strip_values(const hl_buf *text, const char *marker, char *out) {
  size_t n = 0, mlen = strlen(marker);
  for (size_t i = 0; i < text->len;) {
    if (i + mlen <= text->len && memcmp(text->ptr + i, marker, mlen) == 0) {
      memcpy(out + n, marker, mlen);
      n += mlen;
      i += mlen;
      while (i < text->len && text->ptr[i] != '"') {
        i++;
      }
      continue;
    }
    out[n++] = text->ptr[i++];
  }
  return n;
}

typedef struct scratch {
  char a[TEXT_BYTES_MAX], b[TEXT_BYTES_MAX], c[TEXT_BYTES_MAX], d[TEXT_BYTES_MAX];
} scratch;

static void write_ok(const hl_endpoint_config *c, hl_endpoint_view view, char *mem, hl_buf *out) {
  hl_err err = {{0}};
  hl_buf_init(out, mem, TEXT_BYTES_MAX);
  check(hl_endpoint_write(c, view, box(), out, &err) == 0);
  check(hl_json_validate(hl_buf_span(out), HL_JSON_DEPTH_CEILING, NULL) == 0);
}

/* same_but_values: |x| and |y| agree once the values after |marker| are
 * left out. */
static bool same_but_values(const hl_buf *x, const hl_buf *y, const char *marker, scratch *m) {
  size_t nx = strip_values(x, marker, m->c);
  size_t ny = strip_values(y, marker, m->d);
  return nx == ny && memcmp(m->c, m->d, nx) == 0;
}

/* check_outputs_hide_secrets: (c) for the written texts, by swapping every
 * secret for another value. */
static void check_outputs_hide_secrets(hl_endpoint_config *c, scratch *m) {
  static char other_a[] = "another-value-0123456789", other_b[] = "second-value-9876543210";
  slots s;
  secret_slots(c, &s);
  if (s.n == 0) {
    return;
  }
  char *saved[sizeof(s.slot) / sizeof(s.slot[0])];
  hl_buf x, y;
  for (int view = 0; view < 2; view++) {
    hl_endpoint_view v = view == 0 ? HL_ENDPOINT_REDACTED : HL_ENDPOINT_SEALED;
    const char *marker = view == 0 ? "\"fingerprint:" : "\"" HL_SECRETBOX_PREFIX;
    write_ok(c, v, m->a, &x);
    for (size_t i = 0; i < s.n; i++) {
      saved[i] = *s.slot[i];
      *s.slot[i] = strcmp(saved[i], other_a) != 0 ? other_a : other_b;
    }
    write_ok(c, v, m->b, &y);
    for (size_t i = 0; i < s.n; i++) {
      *s.slot[i] = saved[i];
    }
    check(same_but_values(&x, &y, marker, m));
  }
}

/* check_round_trip: (b). */
static void check_round_trip(hl_endpoint_config *c, const strings *s, scratch *m) {
  hl_buf sealed, x, y;
  write_ok(c, HL_ENDPOINT_SEALED, m->a, &sealed);
  hl_endpoint_config back;
  hl_err err = {{0}};
  int rc = hl_endpoint_load(hl_buf_cstr(&sealed), box(), &back, &err);
  if (rc != 0) {
    check_message(s, &err);
  }
  check(rc == 0);
  slots want, got;
  secret_slots(c, &want);
  secret_slots(&back, &got);
  check(want.n == got.n);
  for (size_t i = 0; i < want.n; i++) {
    check(strcmp(*want.slot[i], *got.slot[i]) == 0);
  }
  write_ok(&back, HL_ENDPOINT_SEALED, m->b, &y);
  check(same_but_values(&sealed, &y, "\"" HL_SECRETBOX_PREFIX, m));
  write_ok(c, HL_ENDPOINT_REDACTED, m->a, &x);
  write_ok(&back, HL_ENDPOINT_REDACTED, m->b, &y);
  check(x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0);
  hl_endpoint_config_free(&back);
}

/* check_patch_is_noop: (d). */
static void check_patch_is_noop(const cJSON *doc, const hl_endpoint_config *c, const strings *s,
                                scratch *m) {
  hl_endpoint_config again;
  hl_err err = {{0}};
  check(hl_endpoint_parse(doc, HL_ENDPOINT_FROM_USER, &again, &err) == 0);
  int rc = hl_endpoint_patch(&again, doc, &err);
  if (rc != 0) {
    check_message(s, &err);
  }
  check(rc == 0);
  hl_buf x, y;
  write_ok(c, HL_ENDPOINT_REDACTED, m->a, &x);
  write_ok(&again, HL_ENDPOINT_REDACTED, m->b, &y);
  check(x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0);
  hl_endpoint_config_free(&again);
}

static void check_config(const cJSON *doc, const cJSON *patches, const strings *s, scratch *m) {
  hl_endpoint_config c;
  hl_err err = {{0}};
  int rc = hl_endpoint_parse(doc, HL_ENDPOINT_FROM_USER, &c, &err);
  if (rc != 0) {
    check(rc < 0);
    check_message(s, &err);
    return;
  }
  check_patch_is_noop(doc, &c, s, m);
  int applied = 0;
  for (const cJSON *p = patches; p != NULL && applied < PATCHES_MAX; p = p->next, applied++) {
    rc = hl_endpoint_patch(&c, p, &err);
    if (rc != 0) {
      /* Partly patched: discarded, as the caller does. */
      check(rc < 0);
      check_message(s, &err);
      hl_endpoint_config_free(&c);
      return;
    }
  }
  if (c.id[0] == '\0') {
    memcpy(c.id, "ep_fuzz", sizeof("ep_fuzz"));
  }
  check_outputs_hide_secrets(&c, m);
  hl_netpolicy policy;
  hl_netpolicy_init(&policy);
  hl_endpoint_policy pol = {.netpolicy = &policy, .resolve = false};
  rc = hl_endpoint_validate(&c, &pol, &err);
  if (rc != 0) {
    check(rc < 0);
    check_message(s, &err);
  } else {
    check_round_trip(&c, s, m);
  }
  hl_endpoint_config_free(&c);
}

/* check_store_text: the input as a store row: loads cleanly or not at all. */
static void check_store_text(const char *text, const strings *s, scratch *m) {
  hl_endpoint_config c;
  hl_err err = {{0}};
  int rc = hl_endpoint_load(text, box(), &c, &err);
  if (rc != 0) {
    check(rc < 0);
    check_message(s, &err);
    return;
  }
  hl_buf x;
  write_ok(&c, HL_ENDPOINT_REDACTED, m->a, &x);
  hl_endpoint_config_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static scratch m;
  static strings s;
  static char text[INPUT_BYTES_MAX + 1];
  if (size > INPUT_BYTES_MAX) {
    return 0;
  }
  memcpy(text, data, size);
  text[size] = '\0';
  cJSON *root = cJSON_ParseWithLength(text, size);
  if (root == NULL) {
    return 0;
  }
  s.secret_n = 0;
  s.plain_n = 0;
  const cJSON *doc = root, *patches = NULL;
  if (cJSON_IsArray(root)) {
    doc = root->child;
    patches = doc != NULL ? doc->next : NULL;
    for (const cJSON *e = root->child; e != NULL; e = e->next) {
      collect(e, NULL, 0, &s);
    }
  } else {
    collect(root, NULL, 0, &s);
  }
  if (cJSON_IsObject(doc)) {
    check_config(doc, patches, &s, &m);
  }
  check_store_text(text, &s, &m);
  cJSON_Delete(root);
  return 0;
}
