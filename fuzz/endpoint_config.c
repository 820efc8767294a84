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
 *      messages never quote a secret of 8 bytes or more: when one contains
 *      a secret's text, the run is repeated with that secret reversed and
 *      the message must still contain the original text (it came from the
 *      message's own words or a quoted field name or URL, not the secret);
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
#define SECRETS_MAX ((PATCHES_MAX + 1) * (HL_ENDPOINT_HEADERS_MAX + 4))
#define MESSAGES_MAX 8

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

/* is_secret_member: whether |m|, a member of the object that is member
 * |parent_name| of an endpoint object, holds a secret. */
static bool is_secret_member(const char *parent_name, const cJSON *m) {
  if (parent_name == NULL || m->string == NULL || !cJSON_IsString(m)) {
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

/* The secret strings of an input's endpoint objects, in its cJSON tree. */
typedef struct secrets {
  char *value[SECRETS_MAX];
  size_t n;
} secrets;

/* collect_secrets adds the secrets of endpoint object |obj| (signing.secret,
 * auth.*, credential headers: one level down, never inside a template). */
static void collect_secrets(const cJSON *obj, secrets *out) {
  if (!cJSON_IsObject(obj)) {
    return;
  }
  for (const cJSON *field = obj->child; field != NULL; field = field->next) {
    if (!cJSON_IsObject(field)) {
      continue;
    }
    for (const cJSON *m = field->child; m != NULL; m = m->next) {
      if (is_secret_member(field->string, m) && out->n < SECRETS_MAX) {
        out->value[out->n++] = m->valuestring;
      }
    }
  }
}

static void input_secrets(const cJSON *root, secrets *out) {
  out->n = 0;
  if (cJSON_IsArray(root)) {
    for (const cJSON *e = root->child; e != NULL; e = e->next) {
      collect_secrets(e, out);
    }
  } else {
    collect_secrets(root, out);
  }
}

/* The error messages of one run, in order. */
typedef struct messages {
  char text[MESSAGES_MAX][HL_ERR_BYTES];
  size_t n;
} messages;

/* failed: property (a), and the message kept for the secrets check. */
static void failed(messages *msgs, int rc, const hl_err *err) {
  check(rc < 0 && err->msg[0] != '\0');
  if (msgs->n < MESSAGES_MAX) {
    memcpy(msgs->text[msgs->n++], err->msg, HL_ERR_BYTES);
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
static void check_round_trip(hl_endpoint_config *c, messages *msgs, scratch *m) {
  hl_buf sealed, x, y;
  write_ok(c, HL_ENDPOINT_SEALED, m->a, &sealed);
  hl_endpoint_config back;
  hl_err err = {{0}};
  int rc = hl_endpoint_load(hl_buf_cstr(&sealed), box(), &back, &err);
  if (rc != 0) {
    failed(msgs, rc, &err);
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
static void check_patch_is_noop(const cJSON *doc, const hl_endpoint_config *c, messages *msgs,
                                scratch *m) {
  hl_endpoint_config again;
  hl_err err = {{0}};
  check(hl_endpoint_parse(doc, HL_ENDPOINT_FROM_USER, &again, &err) == 0);
  int rc = hl_endpoint_patch(&again, doc, &err);
  if (rc != 0) {
    failed(msgs, rc, &err);
  }
  check(rc == 0);
  hl_buf x, y;
  write_ok(c, HL_ENDPOINT_REDACTED, m->a, &x);
  write_ok(&again, HL_ENDPOINT_REDACTED, m->b, &y);
  check(x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0);
  hl_endpoint_config_free(&again);
}

static void check_config(const cJSON *doc, const cJSON *patches, messages *msgs, scratch *m) {
  hl_endpoint_config c;
  hl_err err = {{0}};
  int rc = hl_endpoint_parse(doc, HL_ENDPOINT_FROM_USER, &c, &err);
  if (rc != 0) {
    failed(msgs, rc, &err);
    return;
  }
  check_patch_is_noop(doc, &c, msgs, m);
  int applied = 0;
  for (const cJSON *p = patches; p != NULL && applied < PATCHES_MAX; p = p->next, applied++) {
    rc = hl_endpoint_patch(&c, p, &err);
    if (rc != 0) {
      /* Partly patched: discarded, as the caller does. */
      failed(msgs, rc, &err);
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
    failed(msgs, rc, &err);
  } else {
    check_round_trip(&c, msgs, m);
  }
  hl_endpoint_config_free(&c);
}

/* check_store_text: the text as a store row loads cleanly or not at all. */
static void check_store_text(const char *text, messages *msgs, scratch *m) {
  hl_endpoint_config c;
  hl_err err = {{0}};
  int rc = hl_endpoint_load(text, box(), &c, &err);
  if (rc != 0) {
    failed(msgs, rc, &err);
    return;
  }
  hl_buf x;
  write_ok(&c, HL_ENDPOINT_REDACTED, m->a, &x);
  hl_endpoint_config_free(&c);
}

/* run checks every property but the error half of (c) on one input (|text|
 * is what cJSON made |root| from) and collects the error messages. */
static void run(const cJSON *root, const char *text, messages *msgs, scratch *m) {
  msgs->n = 0;
  const cJSON *doc = root, *patches = NULL;
  if (cJSON_IsArray(root)) {
    doc = root->child;
    patches = doc != NULL ? doc->next : NULL;
  }
  if (cJSON_IsObject(doc)) {
    check_config(doc, patches, msgs, m);
  }
  check_store_text(text, msgs, m);
}

/* check_messages_hide: the error half of (c) for |secret|. A message may
 * contain the secret's text legitimately: a field name, a URL or the
 * message's own words ("standard") can hold it. So the run is repeated with
 * the secret reversed wherever it is a secret: a message that quoted it
 * now holds the reversed text instead; one that did not is unchanged. */
static void check_messages_hide(const cJSON *root, const messages *msgs, const char *secret,
                                scratch *m) {
  size_t n = strlen(secret);
  bool appears = false;
  for (size_t k = 0; k < msgs->n && !appears; k++) {
    appears = strstr(msgs->text[k], secret) != NULL;
  }
  if (n < SECRET_CHECK_BYTES_MIN || !appears) {
    return;
  }
  static char reversed[INPUT_BYTES_MAX + 1];
  for (size_t i = 0; i < n; i++) {
    reversed[i] = secret[n - 1 - i];
  }
  reversed[n] = '\0';
  if (strcmp(reversed, secret) == 0) {
    return; /* a palindrome: nothing to tell apart */
  }
  cJSON *other = cJSON_Duplicate(root, true);
  check(other != NULL);
  static secrets in_other;
  input_secrets(other, &in_other);
  for (size_t i = 0; i < in_other.n; i++) {
    if (strcmp(in_other.value[i], secret) == 0) {
      memcpy(in_other.value[i], reversed, n);
    }
  }
  char *text = cJSON_PrintUnformatted(other);
  check(text != NULL);
  static messages again;
  run(other, text, &again, m);
  for (size_t k = 0; k < msgs->n; k++) {
    if (strstr(msgs->text[k], secret) != NULL) {
      check(k < again.n && strstr(again.text[k], secret) != NULL);
    }
  }
  free(text);
  cJSON_Delete(other);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static scratch m;
  static messages msgs;
  static secrets in_input;
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
  run(root, text, &msgs, &m);
  input_secrets(root, &in_input);
  for (size_t i = 0; i < in_input.n; i++) {
    check_messages_hide(root, &msgs, in_input.value[i], &m);
  }
  cJSON_Delete(root);
  return 0;
}
