/* endpoint: parsing, sealing, printing and validation of endpoint
 * configurations (see endpoint.h).
 *
 * Which values are secret: the signing secrets, auth.token, auth.password,
 * auth.value, and the values of custom headers whose name looks like a
 * credential (Authorization, Cookie, or containing "key", "token",
 * "secret", "auth", "password", "signature"). Those are sealed in the store
 * and shown as fingerprints; everything else is plain configuration. */
#include "deliver/endpoint.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "http/h1_syntax.h"
#include "text/url.h"
#include "text/utf8.h"

const uint32_t hl_retry_schedule_default_s[] = {0,     5,     300,   1800,  7200,
                                                18000, 36000, 50400, 72000, 86400};
const uint32_t hl_retry_schedule_default_n =
    sizeof(hl_retry_schedule_default_s) / sizeof(hl_retry_schedule_default_s[0]);

void hl_endpoint_config_init(hl_endpoint_config *c) {
  memset(c, 0, sizeof(*c));
  c->method = HL_HTTP_POST;
  c->enabled = true;
  c->timeout_ms = HL_ENDPOINT_TIMEOUT_MS_DEFAULT;
  c->max_connections = HL_ENDPOINT_MAX_CONNECTIONS_DEFAULT;
}

static void free_secret(char **s) {
  if (*s != NULL) {
    OPENSSL_cleanse(*s, strlen(*s));
    free(*s);
    *s = NULL;
  }
}

static void free_str(char **s) {
  free(*s);
  *s = NULL;
}

static void free_list(char **list, uint32_t *n) {
  for (uint32_t i = 0; i < *n; i++) {
    free_str(&list[i]);
  }
  *n = 0;
}

static void free_kvs(hl_endpoint_kv *kv, uint32_t *n) {
  for (uint32_t i = 0; i < *n; i++) {
    free_str(&kv[i].name);
    free_secret(&kv[i].value);
  }
  *n = 0;
}

void hl_endpoint_config_free(hl_endpoint_config *c) {
  free_str(&c->url);
  free_list(c->events, &c->events_n);
  free_list(c->filter_any, &c->filter_any_n);
  free_list(c->filter_all, &c->filter_all_n);
  free_kvs(c->headers, &c->headers_n);
  free_kvs(c->query, &c->query_n);
  free_secret(&c->auth.token);
  free_str(&c->auth.username);
  free_secret(&c->auth.password);
  free_str(&c->auth.header);
  free_secret(&c->auth.value);
  free_str(&c->template_text);
  free_str(&c->signing.header);
  free_str(&c->signing.prefix);
  for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
    free_secret(&c->signing.secrets[i].value);
  }
  c->signing.secrets_n = 0;
  free_str(&c->event_header);
  free_str(&c->id_header);
}

const char *hl_auth_type_name(hl_auth_type t) {
  static const char *const names[] = {"none", "bearer", "basic", "api_key"};
  return (unsigned)t < HL_ARRAY_LEN(names) ? names[t] : "unknown";
}

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

bool hl_endpoint_id_valid(hl_span id) {
  if (id.len == 0 || id.len > HL_ENDPOINT_ID_BYTES_MAX) {
    return false;
  }
  for (size_t i = 0; i < id.len; i++) {
    if (!name_char(id.ptr[i])) {
      return false;
    }
  }
  return true;
}

void hl_endpoint_generate_id(char out[HL_ENDPOINT_ID_BYTES_MAX + 1]) {
  static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  uint8_t rnd[16];
  RAND_bytes(rnd, sizeof(rnd));
  memcpy(out, "ep_", 3);
  for (size_t i = 0; i < sizeof(rnd); i++) {
    out[3 + i] = alphabet[rnd[i] & 31];
  }
  out[3 + sizeof(rnd)] = '\0';
}

bool hl_endpoint_event_matches(hl_span pattern, hl_span event) {
  if (hl_span_eq(pattern, HL_SPAN_LIT("*"))) {
    return true;
  }
  if (pattern.len >= 2 && hl_span_ends_with(pattern, HL_SPAN_LIT(".*"))) {
    /* "lead.*" matches "lead.created" and "lead.a.b", not "lead" or "leads.x". */
    hl_span prefix = hl_span_sub(pattern, 0, pattern.len - 1);
    return event.len > prefix.len && hl_span_starts_with(event, prefix);
  }
  return hl_span_eq(pattern, event);
}

/* --- parsing ------------------------------------------------------------- */

static bool sensitive_header(const char *name) {
  static const char *const exact[] = {"authorization", "proxy-authorization", "cookie"};
  static const char *const parts[] = {"key", "token", "secret", "auth", "password", "signature"};
  hl_span n = hl_span_cstr(name);
  for (size_t i = 0; i < HL_ARRAY_LEN(exact); i++) {
    if (hl_span_eq_nocase(n, hl_span_cstr(exact[i]))) {
      return true;
    }
  }
  char lower[HL_SIGN_HEADER_NAME_BYTES_MAX + 1];
  size_t len = n.len < sizeof(lower) - 1 ? n.len : sizeof(lower) - 1;
  for (size_t i = 0; i < len; i++) {
    lower[i] = hl_ascii_lower(name[i]);
  }
  lower[len] = '\0';
  for (size_t i = 0; i < HL_ARRAY_LEN(parts); i++) {
    if (strstr(lower, parts[i]) != NULL) {
      return true;
    }
  }
  return false;
}

static int dup_string(const cJSON *item, const char *field, size_t bytes_max, bool allow_empty,
                      char **out, hl_err *err) {
  if (!cJSON_IsString(item)) {
    return hl_err_fail(err, -EINVAL, "%s: expected a string", field);
  }
  size_t n = strlen(item->valuestring);
  if (n > bytes_max) {
    return hl_err_fail(err, -EINVAL, "%s: longer than %zu bytes", field, bytes_max);
  }
  if (n == 0 && !allow_empty) {
    return hl_err_fail(err, -EINVAL, "%s: must not be empty", field);
  }
  /* cJSON passes raw bytes through; the texts written back (the store, the
   * redacted view) must stay JSON, which is UTF-8. */
  if (!hl_utf8_valid(hl_span_make(item->valuestring, n))) {
    return hl_err_fail(err, -EINVAL, "%s: not valid UTF-8", field);
  }
  free(*out);
  *out = strdup(item->valuestring);
  return *out != NULL ? 0 : hl_err_fail(err, -ENOMEM, "%s: out of memory", field);
}

static int parse_u32(const cJSON *item, const char *field, uint32_t min, uint32_t max,
                     uint32_t *out, hl_err *err) {
  /* The range first: converting a double outside it (1e300, inf) to an
   * integer type is undefined behaviour. */
  if (!cJSON_IsNumber(item) || !(item->valuedouble >= min && item->valuedouble <= max) ||
      item->valuedouble != (double)(uint32_t)item->valuedouble) {
    return hl_err_fail(err, -EINVAL, "%s: expected a whole number from %u to %u", field, min, max);
  }
  *out = (uint32_t)item->valuedouble;
  return 0;
}

static int parse_bool(const cJSON *item, const char *field, bool *out, hl_err *err) {
  if (!cJSON_IsBool(item)) {
    return hl_err_fail(err, -EINVAL, "%s: expected true or false", field);
  }
  *out = cJSON_IsTrue(item);
  return 0;
}

/* Walks an object's members with a field table: unknown and duplicate
 * members are errors. |seen| must have room for the table's size. */
typedef int (*field_fn)(const cJSON *item, void *ctx, hl_err *err);
typedef struct field_def {
  const char *name;
  field_fn fn;
} field_def;

static int walk_object(const cJSON *obj, const char *where, const field_def *fields, size_t n,
                       void *ctx, hl_err *err) {
  if (!cJSON_IsObject(obj) && where[0] == '\0') {
    return hl_err_fail(err, -EINVAL, "expected a JSON object of endpoint fields");
  }
  if (!cJSON_IsObject(obj)) {
    return hl_err_fail(err, -EINVAL, "%s: expected an object", where);
  }
  uint64_t seen = 0;
  HL_ASSERT(n <= 64);
  for (const cJSON *m = obj->child; m != NULL; m = m->next) {
    size_t i = 0;
    while (i < n && strcmp(fields[i].name, m->string) != 0) {
      i++;
    }
    if (i == n) {
      return hl_err_fail(err, -EINVAL, "%s%sunknown field '%.64s'", where, where[0] ? ": " : "",
                         m->string);
    }
    if ((seen & (1ull << i)) != 0) {
      return hl_err_fail(err, -EINVAL, "%s%s%s: given twice", where, where[0] ? "." : "",
                         fields[i].name);
    }
    seen |= 1ull << i;
    int rc = fields[i].fn(m, ctx, err);
    if (rc != 0) {
      if (where[0] != '\0') {
        hl_err_prefix(err, "%s", where);
      }
      return rc;
    }
  }
  return 0;
}

typedef struct parse_ctx {
  hl_endpoint_config *c;
  hl_endpoint_source source;
  bool have_url;
  bool have_id;
  bool signing_secret_given; /* the signing object being read has a secret */
} parse_ctx;

static int f_id(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  if (!cJSON_IsString(item) || !hl_endpoint_id_valid(hl_span_cstr(item->valuestring))) {
    return hl_err_fail(err, -EINVAL,
                       "id: expected 1 to %d characters of letters, digits, '_', '.', ':' or '-'",
                       HL_ENDPOINT_ID_BYTES_MAX);
  }
  hl_span_to_cstr(hl_span_cstr(item->valuestring), ctx->c->id, sizeof(ctx->c->id));
  ctx->have_id = true;
  return 0;
}

static int f_url(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  ctx->have_url = true;
  return dup_string(item, "url", HL_URL_BYTES_MAX, false, &ctx->c->url, err);
}

static int f_method(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  if (cJSON_IsString(item)) {
    for (int m = 0; m < HL_HTTP_METHOD_COUNT_; m++) {
      if (strcmp(item->valuestring, hl_http_method_name((hl_http_method)m)) == 0) {
        ctx->c->method = (hl_http_method)m;
        return 0;
      }
    }
  }
  return hl_err_fail(err, -EINVAL, "method: expected GET, POST, PUT, PATCH or DELETE");
}

static int f_enabled(const cJSON *item, void *vctx, hl_err *err) {
  return parse_bool(item, "enabled", &((parse_ctx *)vctx)->c->enabled, err);
}

static int f_allow_http(const cJSON *item, void *vctx, hl_err *err) {
  return parse_bool(item, "allow_http", &((parse_ctx *)vctx)->c->allow_http, err);
}

static bool event_pattern_valid(const char *p) {
  hl_span s = hl_span_cstr(p);
  if (hl_span_eq(s, HL_SPAN_LIT("*"))) {
    return true;
  }
  if (s.len >= 3 && hl_span_ends_with(s, HL_SPAN_LIT(".*"))) {
    s.len -= 2;
  }
  if (s.len == 0 || s.len > HL_EVENT_NAME_BYTES_MAX) {
    return false;
  }
  for (size_t i = 0; i < s.len; i++) {
    if (!name_char(s.ptr[i])) {
      return false;
    }
  }
  return true;
}

static int parse_string_list(const cJSON *item, const char *field, char **list, uint32_t *n,
                             uint32_t max, bool (*valid)(const char *), const char *what,
                             hl_err *err) {
  if (!cJSON_IsArray(item)) {
    return hl_err_fail(err, -EINVAL, "%s: expected an array of strings", field);
  }
  free_list(list, n);
  const cJSON *e;
  uint32_t i = 0;
  cJSON_ArrayForEach(e, item) {
    if (*n == max) {
      return hl_err_fail(err, -E2BIG, "%s: at most %u entries", field, max);
    }
    if (!cJSON_IsString(e) || !valid(e->valuestring)) {
      return hl_err_fail(err, -EINVAL, "%s[%u]: %s", field, i, what);
    }
    list[*n] = strdup(e->valuestring);
    if (list[*n] == NULL) {
      return hl_err_fail(err, -ENOMEM, "%s: out of memory", field);
    }
    (*n)++;
    i++;
  }
  return 0;
}

static int f_events(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  return parse_string_list(item, "events", ctx->c->events, &ctx->c->events_n,
                           HL_ENDPOINT_EVENTS_MAX, event_pattern_valid,
                           "expected an event name, a 'prefix.*' pattern, or '*'", err);
}

static bool field_path_valid(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > HL_TEMPLATE_PATH_BYTES_MAX || p[0] == '.' || p[n - 1] == '.' ||
      strstr(p, "..") != NULL) {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)p[i] < 0x20 || p[i] == '"') {
      return false;
    }
  }
  return hl_utf8_valid(hl_span_make(p, n));
}

static int f_filter_any(const cJSON *item, void *vctx, hl_err *err) {
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  return parse_string_list(item, "any_present", c->filter_any, &c->filter_any_n,
                           HL_ENDPOINT_FILTER_FIELDS_MAX, field_path_valid,
                           "expected a field path such as \"email\" or \"contact.phone\"", err);
}

static int f_filter_all(const cJSON *item, void *vctx, hl_err *err) {
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  return parse_string_list(item, "all_present", c->filter_all, &c->filter_all_n,
                           HL_ENDPOINT_FILTER_FIELDS_MAX, field_path_valid,
                           "expected a field path such as \"email\" or \"contact.phone\"", err);
}

static int f_filter(const cJSON *item, void *vctx, hl_err *err) {
  static const field_def fields[] = {{"any_present", f_filter_any}, {"all_present", f_filter_all}};
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  free_list(c->filter_any, &c->filter_any_n);
  free_list(c->filter_all, &c->filter_all_n);
  return walk_object(item, "filter", fields, HL_ARRAY_LEN(fields), vctx, err);
}

/* parse_kvs reads an object of name: value. With |sealed_credentials| (the
 * store's headers) the values of credential headers are sealed texts, longer
 * than the plaintext they hold. */
static int parse_kvs(const cJSON *item, const char *field, hl_endpoint_kv *kv, uint32_t *n,
                     uint32_t max, size_t name_max, bool sealed_credentials, hl_err *err) {
  if (!cJSON_IsObject(item)) {
    return hl_err_fail(err, -EINVAL, "%s: expected an object of name: value", field);
  }
  free_kvs(kv, n);
  for (const cJSON *m = item->child; m != NULL; m = m->next) {
    if (*n == max) {
      return hl_err_fail(err, -E2BIG, "%s: at most %u entries", field, max);
    }
    size_t name_len = strlen(m->string);
    if (name_len == 0 || name_len > name_max) {
      return hl_err_fail(err, -EINVAL, "%s: names must be 1 to %zu bytes", field, name_max);
    }
    if (!hl_utf8_valid(hl_span_make(m->string, name_len))) {
      return hl_err_fail(err, -EINVAL, "%s: names must be valid UTF-8", field);
    }
    for (uint32_t i = 0; i < *n; i++) {
      if (strcasecmp(kv[i].name, m->string) == 0) {
        return hl_err_fail(err, -EINVAL, "%s.%.64s: given twice", field, m->string);
      }
    }
    char where[96];
    hl_buf w;
    hl_buf_init(&w, where, sizeof(where));
    hl_buf_printf(&w, "%s.%.64s", field, m->string);
    size_t value_max = HL_HTTP_HEADER_VALUE_BYTES_MAX;
    if (sealed_credentials && sensitive_header(m->string)) {
      value_max = HL_SECRETBOX_TEXT_BYTES(HL_HTTP_HEADER_VALUE_BYTES_MAX);
    }
    kv[*n].name = strdup(m->string);
    int rc = kv[*n].name != NULL ? 0 : -ENOMEM;
    if (rc == 0) {
      rc = dup_string(m, hl_buf_cstr(&w), value_max, true, &kv[*n].value, err);
    }
    (*n)++;
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

static int f_headers(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  return parse_kvs(item, "headers", ctx->c->headers, &ctx->c->headers_n, HL_ENDPOINT_HEADERS_MAX,
                   HL_SIGN_HEADER_NAME_BYTES_MAX, ctx->source == HL_ENDPOINT_FROM_STORE, err);
}

static int f_query(const cJSON *item, void *vctx, hl_err *err) {
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  return parse_kvs(item, "query", c->query, &c->query_n, HL_ENDPOINT_QUERY_PARAMS_MAX, 256, false,
                   err);
}

/* auth ---------------------------------------------------------------------- */

static int f_auth_type(const cJSON *item, void *vctx, hl_err *err) {
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  for (int t = HL_AUTH_NONE; t <= HL_AUTH_API_KEY; t++) {
    if (cJSON_IsString(item) && strcmp(item->valuestring, hl_auth_type_name(t)) == 0) {
      c->auth.type = (hl_auth_type)t;
      return 0;
    }
  }
  return hl_err_fail(err, -EINVAL, "type: expected none, bearer, basic or api_key");
}

/* secret_bytes_max: the longest text a secret field may hold: the plaintext
 * from a user, its sealed text (which is longer) from the store. */
static size_t secret_bytes_max(const parse_ctx *ctx) {
  return ctx->source == HL_ENDPOINT_FROM_STORE
             ? HL_SECRETBOX_TEXT_BYTES(HL_SECRETBOX_PLAINTEXT_BYTES_MAX)
             : HL_SECRETBOX_PLAINTEXT_BYTES_MAX;
}

static int f_auth_token(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  return dup_string(item, "token", secret_bytes_max(ctx), false, &ctx->c->auth.token, err);
}
static int f_auth_username(const cJSON *item, void *vctx, hl_err *err) {
  return dup_string(item, "username", 256, false, &((parse_ctx *)vctx)->c->auth.username, err);
}
static int f_auth_password(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  return dup_string(item, "password", secret_bytes_max(ctx), true, &ctx->c->auth.password, err);
}
static int f_auth_header(const cJSON *item, void *vctx, hl_err *err) {
  return dup_string(item, "header", HL_SIGN_HEADER_NAME_BYTES_MAX, false,
                    &((parse_ctx *)vctx)->c->auth.header, err);
}
static int f_auth_value(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  return dup_string(item, "value", secret_bytes_max(ctx), false, &ctx->c->auth.value, err);
}

static int f_auth(const cJSON *item, void *vctx, hl_err *err) {
  static const field_def fields[] = {{"type", f_auth_type},         {"token", f_auth_token},
                                     {"username", f_auth_username}, {"password", f_auth_password},
                                     {"header", f_auth_header},     {"value", f_auth_value}};
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  /* auth is replaced as a whole, also when patching an existing endpoint. */
  free_secret(&c->auth.token);
  free_str(&c->auth.username);
  free_secret(&c->auth.password);
  free_str(&c->auth.header);
  free_secret(&c->auth.value);
  c->auth.type = HL_AUTH_NONE;
  int rc = walk_object(item, "auth", fields, HL_ARRAY_LEN(fields), vctx, err);
  if (rc != 0) {
    return rc;
  }
  /* Each type takes exactly its own fields. */
  bool token = c->auth.token != NULL, basic = c->auth.username != NULL || c->auth.password != NULL,
       key = c->auth.header != NULL || c->auth.value != NULL;
  switch (c->auth.type) {
    case HL_AUTH_NONE:
      if (token || basic || key) {
        return hl_err_fail(err, -EINVAL, "auth: type none takes no other fields");
      }
      return 0;
    case HL_AUTH_BEARER:
      if (!token || basic || key) {
        return hl_err_fail(err, -EINVAL, "auth: type bearer takes exactly 'token'");
      }
      return 0;
    case HL_AUTH_BASIC:
      if (c->auth.username == NULL || c->auth.password == NULL || token || key) {
        return hl_err_fail(err, -EINVAL, "auth: type basic takes 'username' and 'password'");
      }
      if (strchr(c->auth.username, ':') != NULL) {
        return hl_err_fail(err, -EINVAL, "auth.username: must not contain ':'");
      }
      return 0;
    case HL_AUTH_API_KEY:
      if (c->auth.header == NULL || c->auth.value == NULL || token || basic) {
        return hl_err_fail(err, -EINVAL, "auth: type api_key takes 'header' and 'value'");
      }
      return 0;
  }
  return 0;
}

/* template ------------------------------------------------------------------ */

static int f_template(const cJSON *item, void *vctx, hl_err *err) {
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  free_str(&c->template_text);
  if (cJSON_IsString(item)) {
    c->template_is_value = false;
    return dup_string(item, "template", HL_TEMPLATE_BYTES_MAX, false, &c->template_text, err);
  }
  if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
    c->template_is_value = true;
    c->template_text = cJSON_PrintUnformatted(item);
    if (c->template_text == NULL) {
      return hl_err_fail(err, -ENOMEM, "template: out of memory");
    }
    size_t n = strlen(c->template_text);
    if (n > HL_TEMPLATE_BYTES_MAX) {
      return hl_err_fail(err, -EINVAL, "template: longer than %d bytes", HL_TEMPLATE_BYTES_MAX);
    }
    if (!hl_utf8_valid(hl_span_make(c->template_text, n))) {
      return hl_err_fail(err, -EINVAL, "template: not valid UTF-8");
    }
    return 0;
  }
  if (cJSON_IsNull(item)) {
    return 0; /* the default envelope */
  }
  return hl_err_fail(err, -EINVAL,
                     "template: expected a JSON object or array whose strings may hold "
                     "{{placeholders}}, or a string of raw template text");
}

/* signing ------------------------------------------------------------------- */

static int f_sign_scheme(const cJSON *item, void *vctx, hl_err *err) {
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  hl_sign_scheme scheme;
  if (!cJSON_IsString(item) || hl_sign_scheme_parse(hl_span_cstr(item->valuestring), &scheme) != 0) {
    return hl_err_fail(err, -EINVAL,
                       "scheme: expected standard, hmac-sha256, stripe, static or none");
  }
  if (scheme != c->signing.scheme) {
    /* Secrets of one scheme mean nothing to another; a secret given beside
     * the new scheme is for it, whichever member comes first. */
    if (!((parse_ctx *)vctx)->signing_secret_given) {
      for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
        free_secret(&c->signing.secrets[i].value);
      }
      c->signing.secrets_n = 0;
    }
    c->signing.scheme = scheme;
  }
  return 0;
}

static int f_sign_header(const cJSON *item, void *vctx, hl_err *err) {
  return dup_string(item, "header", HL_SIGN_HEADER_NAME_BYTES_MAX - 1, false,
                    &((parse_ctx *)vctx)->c->signing.header, err);
}

static int f_sign_prefix(const cJSON *item, void *vctx, hl_err *err) {
  return dup_string(item, "prefix", HL_SIGN_PREFIX_BYTES_MAX - 1, true,
                    &((parse_ctx *)vctx)->c->signing.prefix, err);
}

static int f_sign_secret(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  hl_endpoint_config *c = ctx->c;
  if (ctx->source != HL_ENDPOINT_FROM_USER) {
    return hl_err_fail(err, -EINVAL, "secret: stored endpoints keep 'secrets'");
  }
  for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
    free_secret(&c->signing.secrets[i].value);
  }
  c->signing.secrets_n = 1;
  c->signing.secrets[0].expires_ms = 0;
  return dup_string(item, "secret", HL_SECRETBOX_PLAINTEXT_BYTES_MAX, false,
                    &c->signing.secrets[0].value, err);
}

static int f_sign_secrets(const cJSON *item, void *vctx, hl_err *err) {
  parse_ctx *ctx = vctx;
  hl_endpoint_config *c = ctx->c;
  if (ctx->source != HL_ENDPOINT_FROM_STORE) {
    return hl_err_fail(err, -EINVAL,
                       "secrets: give one 'secret'; rotation keeps older ones "
                       "(hookline endpoint rotate-secret)");
  }
  if (!cJSON_IsArray(item)) {
    return hl_err_fail(err, -EINVAL, "secrets: expected an array");
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, item) {
    if (c->signing.secrets_n == HL_SECRETS_PER_ENDPOINT_MAX) {
      return hl_err_fail(err, -E2BIG, "secrets: at most %d", HL_SECRETS_PER_ENDPOINT_MAX);
    }
    hl_endpoint_secret *s = &c->signing.secrets[c->signing.secrets_n++];
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(e, "value");
    const cJSON *expires = cJSON_GetObjectItemCaseSensitive(e, "expires_ms");
    int rc = dup_string(value, "secrets.value", HL_SECRETBOX_TEXT_BYTES(HL_SECRETBOX_PLAINTEXT_BYTES_MAX),
                        false, &s->value, err);
    if (rc != 0) {
      return rc;
    }
    /* In range before the conversion, as in parse_u32 (2^63 is exact). */
    if (!cJSON_IsNumber(expires) ||
        !(expires->valuedouble >= 0 && expires->valuedouble < 9223372036854775808.0) ||
        expires->valuedouble != (double)(int64_t)expires->valuedouble) {
      return hl_err_fail(err, -EINVAL, "secrets.expires_ms: expected a whole number, 0 or more");
    }
    s->expires_ms = (int64_t)expires->valuedouble;
  }
  return 0;
}

static int f_signing(const cJSON *item, void *vctx, hl_err *err) {
  static const field_def fields[] = {{"scheme", f_sign_scheme},   {"header", f_sign_header},
                                     {"prefix", f_sign_prefix},   {"secret", f_sign_secret},
                                     {"secrets", f_sign_secrets}};
  parse_ctx *ctx = vctx;
  ctx->signing_secret_given = cJSON_GetObjectItemCaseSensitive(item, "secret") != NULL ||
                              cJSON_GetObjectItemCaseSensitive(item, "secrets") != NULL;
  return walk_object(item, "signing", fields, HL_ARRAY_LEN(fields), vctx, err);
}

static int f_event_header(const cJSON *item, void *vctx, hl_err *err) {
  return dup_string(item, "event_header", HL_SIGN_HEADER_NAME_BYTES_MAX - 1, true,
                    &((parse_ctx *)vctx)->c->event_header, err);
}

static int f_id_header(const cJSON *item, void *vctx, hl_err *err) {
  return dup_string(item, "id_header", HL_SIGN_HEADER_NAME_BYTES_MAX - 1, true,
                    &((parse_ctx *)vctx)->c->id_header, err);
}

static int f_timeout(const cJSON *item, void *vctx, hl_err *err) {
  return parse_u32(item, "timeout_ms", 100, HL_ENDPOINT_TIMEOUT_MS_MAX,
                   &((parse_ctx *)vctx)->c->timeout_ms, err);
}

static int f_retry(const cJSON *item, void *vctx, hl_err *err) {
  hl_endpoint_config *c = ((parse_ctx *)vctx)->c;
  if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) == 0) {
    return hl_err_fail(err, -EINVAL,
                       "retry_schedule_s: expected a non-empty array of delays in seconds, the "
                       "first for the first attempt (usually 0)");
  }
  c->retry_n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, item) {
    if (c->retry_n == HL_RETRY_SCHEDULE_STEPS_MAX) {
      return hl_err_fail(err, -E2BIG, "retry_schedule_s: at most %d attempts",
                         HL_RETRY_SCHEDULE_STEPS_MAX);
    }
    char where[48];
    hl_buf w;
    hl_buf_init(&w, where, sizeof(where));
    hl_buf_printf(&w, "retry_schedule_s[%u]", c->retry_n);
    int rc = parse_u32(e, hl_buf_cstr(&w), 0, HL_RETRY_DELAY_S_MAX,
                       &c->retry_schedule_s[c->retry_n], err);
    if (rc != 0) {
      return rc;
    }
    c->retry_n++;
  }
  return 0;
}

static int f_max_connections(const cJSON *item, void *vctx, hl_err *err) {
  return parse_u32(item, "max_connections", 1, HL_CONNS_PER_ORIGIN_MAX,
                   &((parse_ctx *)vctx)->c->max_connections, err);
}

static int f_rate_limit(const cJSON *item, void *vctx, hl_err *err) {
  return parse_u32(item, "rate_limit_per_s", 0, HL_RATE_LIMIT_PER_S_MAX,
                   &((parse_ctx *)vctx)->c->rate_limit_per_s, err);
}

static const field_def endpoint_fields[] = {
    {"id", f_id},
    {"url", f_url},
    {"method", f_method},
    {"enabled", f_enabled},
    {"allow_http", f_allow_http},
    {"events", f_events},
    {"filter", f_filter},
    {"headers", f_headers},
    {"query", f_query},
    {"auth", f_auth},
    {"template", f_template},
    {"signing", f_signing},
    {"event_header", f_event_header},
    {"id_header", f_id_header},
    {"timeout_ms", f_timeout},
    {"retry_schedule_s", f_retry},
    {"max_connections", f_max_connections},
    {"rate_limit_per_s", f_rate_limit},
};

int hl_endpoint_parse(const cJSON *obj, hl_endpoint_source source, hl_endpoint_config *out,
                      hl_err *err) {
  hl_endpoint_config_init(out);
  parse_ctx ctx = {.c = out, .source = source};
  int rc = walk_object(obj, "", endpoint_fields, HL_ARRAY_LEN(endpoint_fields), &ctx, err);
  if (rc == 0 && !ctx.have_url) {
    rc = hl_err_fail(err, -EINVAL, "url: missing");
  }
  if (rc == 0 && !ctx.have_id && source == HL_ENDPOINT_FROM_STORE) {
    rc = hl_err_fail(err, -EINVAL, "id: missing");
  }
  if (rc == 0 && out->signing.secrets_n > 0 && out->signing.scheme == HL_SIGN_NONE) {
    rc = hl_err_fail(err, -EINVAL,
                     "signing.scheme: missing or none, but a secret is given (use standard, "
                     "hmac-sha256, stripe or static)");
  }
  if (rc != 0) {
    hl_endpoint_config_free(out);
  }
  return rc;
}

int hl_endpoint_patch(hl_endpoint_config *c, const cJSON *patch, hl_err *err) {
  char id[sizeof(c->id)];
  memcpy(id, c->id, sizeof(id));
  parse_ctx ctx = {.c = c, .source = HL_ENDPOINT_FROM_USER};
  int rc = walk_object(patch, "", endpoint_fields, HL_ARRAY_LEN(endpoint_fields), &ctx, err);
  if (rc == 0 && ctx.have_id && strcmp(id, c->id) != 0) {
    rc = hl_err_fail(err, -EINVAL, "id: an endpoint's id cannot change");
  }
  memcpy(c->id, id, sizeof(id));
  if (rc == 0 && c->signing.secrets_n > 0 && c->signing.scheme == HL_SIGN_NONE) {
    rc = hl_err_fail(err, -EINVAL, "signing.scheme: none takes no secret");
  }
  return rc;
}

/* --- sealing ------------------------------------------------------------- */

/* Associated data binds a sealed value to its endpoint and field, so a
 * ciphertext copied into another endpoint's row or field does not open. */
static hl_span seal_ad(char *mem, size_t cap, const char *id, const char *field,
                       const char *sub) {
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  hl_buf_printf(&b, "hookline/%s/%s", id, field);
  if (sub != NULL) {
    hl_buf_putc(&b, '.');
    for (const char *p = sub; *p != '\0'; p++) {
      hl_buf_putc(&b, hl_ascii_lower(*p));
    }
  }
  return hl_buf_span(&b);
}

/* open_one replaces *value (sealed text) with its plaintext. */
static int open_one(const hl_secretbox *box, char **value, const char *id, const char *field,
                    const char *sub, hl_err *err) {
  if (*value == NULL) {
    return 0;
  }
  if (!hl_secretbox_is_sealed(hl_span_cstr(*value))) {
    return hl_err_fail(err, -EINVAL, "%s: stored value is not sealed", field);
  }
  char ad_mem[HL_SECRETBOX_AD_BYTES_MAX];
  hl_span ad = seal_ad(ad_mem, sizeof(ad_mem), id, field, sub);
  size_t cap = strlen(*value);
  char *plain = malloc(cap + 1);
  if (plain == NULL) {
    return hl_err_fail(err, -ENOMEM, "%s: out of memory", field);
  }
  hl_buf out;
  hl_buf_init(&out, plain, cap + 1);
  int rc = hl_secretbox_open(box, hl_span_cstr(*value), ad, &out, err);
  if (rc != 0 || memchr(out.ptr, '\0', out.len) != NULL) {
    OPENSSL_cleanse(plain, cap + 1);
    free(plain);
    if (rc == 0) {
      rc = hl_err_fail(err, -EINVAL, "%s: stored value holds a NUL byte", field);
    } else {
      hl_err_prefix(err, "%s", field);
    }
    return rc;
  }
  hl_buf_cstr(&out);
  free(*value);
  *value = plain;
  return 0;
}

int hl_endpoint_open(hl_endpoint_config *c, const hl_secretbox *box, hl_err *err) {
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < c->signing.secrets_n; i++) {
    rc = open_one(box, &c->signing.secrets[i].value, c->id, "signing.secrets", NULL, err);
  }
  if (rc == 0) {
    rc = open_one(box, &c->auth.token, c->id, "auth.token", NULL, err);
  }
  if (rc == 0) {
    rc = open_one(box, &c->auth.password, c->id, "auth.password", NULL, err);
  }
  if (rc == 0) {
    rc = open_one(box, &c->auth.value, c->id, "auth.value", NULL, err);
  }
  for (uint32_t i = 0; rc == 0 && i < c->headers_n; i++) {
    if (sensitive_header(c->headers[i].name)) {
      rc = open_one(box, &c->headers[i].value, c->id, "headers", c->headers[i].name, err);
    }
  }
  return rc;
}

int hl_endpoint_load(const char *stored_json, const hl_secretbox *box, hl_endpoint_config *out,
                     hl_err *err) {
  cJSON *j = cJSON_Parse(stored_json);
  if (j == NULL) {
    return hl_err_fail(err, -EINVAL, "the stored configuration is not JSON");
  }
  int rc = hl_endpoint_parse(j, HL_ENDPOINT_FROM_STORE, out, err);
  cJSON_Delete(j);
  if (rc == 0) {
    rc = hl_endpoint_open(out, box, err);
    if (rc != 0) {
      hl_endpoint_config_free(out);
    }
  }
  return rc;
}

/* --- writing ------------------------------------------------------------- */

typedef struct writer {
  hl_buf *out;
  hl_endpoint_view view;
  const hl_secretbox *box;
  const char *id;
  int rc;
  hl_err *err;
  bool first;
} writer;

static void put_json_string(hl_buf *out, const char *s) {
  static const char hex[] = "0123456789abcdef";
  hl_buf_putc(out, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\') {
      hl_buf_putc(out, '\\');
      hl_buf_putc(out, (char)*p);
    } else if (*p < 0x20) {
      char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
      hl_buf_put(out, esc, sizeof(esc));
    } else {
      hl_buf_putc(out, (char)*p);
    }
  }
  hl_buf_putc(out, '"');
}

static void w_key(writer *w, const char *key) {
  if (!w->first) {
    hl_buf_putc(w->out, ',');
  }
  w->first = false;
  put_json_string(w->out, key);
  hl_buf_putc(w->out, ':');
}

static void w_str(writer *w, const char *key, const char *value) {
  if (value == NULL) {
    return;
  }
  w_key(w, key);
  put_json_string(w->out, value);
}

/* w_secret writes a secret value sealed (store) or as a fingerprint. */
static void w_secret_value(writer *w, const char *value, const char *field, const char *sub) {
  if (w->view == HL_ENDPOINT_REDACTED) {
    char fp[32];
    hl_buf f;
    hl_buf_init(&f, fp, sizeof(fp));
    hl_buf_put_cstr(&f, "fingerprint:");
    hl_sign_fingerprint(hl_span_cstr(value), &f);
    put_json_string(w->out, hl_buf_cstr(&f));
    return;
  }
  char ad_mem[HL_SECRETBOX_AD_BYTES_MAX];
  hl_span ad = seal_ad(ad_mem, sizeof(ad_mem), w->id, field, sub);
  size_t len = strlen(value);
  hl_buf_putc(w->out, '"');
  size_t before = w->out->len;
  if (w->rc == 0 && hl_secretbox_seal(w->box, hl_span_make(value, len), ad, w->out) != 0) {
    w->rc = hl_err_fail(w->err, -ENOSPC, "%s: cannot seal the value", field);
  }
  if (w->out->len == before && w->rc == 0) {
    w->rc = hl_err_fail(w->err, -ENOSPC, "%s: cannot seal the value", field);
  }
  hl_buf_putc(w->out, '"');
}

static void w_secret(writer *w, const char *key, const char *value, const char *field) {
  if (value == NULL) {
    return;
  }
  w_key(w, key);
  w_secret_value(w, value, field, NULL);
}

static void w_u32(writer *w, const char *key, uint32_t v) {
  w_key(w, key);
  hl_buf_put_u64(w->out, v);
}

static void w_bool(writer *w, const char *key, bool v) {
  w_key(w, key);
  hl_buf_put_cstr(w->out, v ? "true" : "false");
}

static void w_list(writer *w, const char *key, char *const *list, uint32_t n) {
  w_key(w, key);
  hl_buf_putc(w->out, '[');
  for (uint32_t i = 0; i < n; i++) {
    if (i > 0) {
      hl_buf_putc(w->out, ',');
    }
    put_json_string(w->out, list[i]);
  }
  hl_buf_putc(w->out, ']');
}

static void w_open(writer *w, const char *key) {
  w_key(w, key);
  hl_buf_putc(w->out, '{');
  w->first = true;
}

static void w_close(writer *w) {
  hl_buf_putc(w->out, '}');
  w->first = false;
}

static void w_kvs(writer *w, const char *key, const hl_endpoint_kv *kv, uint32_t n, bool headers) {
  w_open(w, key);
  for (uint32_t i = 0; i < n; i++) {
    if (headers && sensitive_header(kv[i].name)) {
      w_key(w, kv[i].name);
      w_secret_value(w, kv[i].value, "headers", kv[i].name);
    } else {
      w_str(w, kv[i].name, kv[i].value);
    }
  }
  w_close(w);
}

int hl_endpoint_write(const hl_endpoint_config *c, hl_endpoint_view view, const hl_secretbox *box,
                      hl_buf *out, hl_err *err) {
  HL_ASSERT(view == HL_ENDPOINT_REDACTED || box != NULL);
  writer w = {.out = out, .view = view, .box = box, .id = c->id, .err = err, .first = true};
  hl_buf_putc(out, '{');
  w_str(&w, "id", c->id);
  if (view == HL_ENDPOINT_REDACTED) {
    /* A URL may carry a password; show it masked. */
    hl_url url;
    char mem[HL_URL_BYTES_MAX + 16];
    hl_buf b;
    hl_buf_init(&b, mem, sizeof(mem));
    if (hl_url_parse(hl_span_cstr(c->url), &url, NULL) == 0) {
      hl_url_write_redacted(&url, &b);
    } else {
      hl_buf_put_cstr(&b, "(invalid)");
    }
    w_str(&w, "url", hl_buf_cstr(&b));
  } else {
    w_str(&w, "url", c->url);
  }
  w_str(&w, "method", hl_http_method_name(c->method));
  w_bool(&w, "enabled", c->enabled);
  w_bool(&w, "allow_http", c->allow_http);
  w_list(&w, "events", c->events, c->events_n);
  w_open(&w, "filter");
  w_list(&w, "any_present", c->filter_any, c->filter_any_n);
  w_list(&w, "all_present", c->filter_all, c->filter_all_n);
  w_close(&w);
  w_kvs(&w, "headers", c->headers, c->headers_n, true);
  w_kvs(&w, "query", c->query, c->query_n, false);
  w_open(&w, "auth");
  w_str(&w, "type", hl_auth_type_name(c->auth.type));
  w_secret(&w, "token", c->auth.token, "auth.token");
  w_str(&w, "username", c->auth.username);
  w_secret(&w, "password", c->auth.password, "auth.password");
  w_str(&w, "header", c->auth.header);
  w_secret(&w, "value", c->auth.value, "auth.value");
  w_close(&w);
  if (c->template_text != NULL) {
    w_key(&w, "template");
    if (c->template_is_value) {
      hl_buf_put_cstr(out, c->template_text); /* already canonical JSON */
    } else {
      put_json_string(out, c->template_text);
    }
  }
  w_open(&w, "signing");
  w_str(&w, "scheme", hl_sign_scheme_name(c->signing.scheme));
  w_str(&w, "header", c->signing.header);
  w_str(&w, "prefix", c->signing.prefix);
  w_key(&w, "secrets");
  hl_buf_putc(out, '[');
  for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
    hl_buf_put_cstr(out, i > 0 ? ",{" : "{");
    w.first = true;
    w_key(&w, "value");
    w_secret_value(&w, c->signing.secrets[i].value, "signing.secrets", NULL);
    w_key(&w, "expires_ms");
    hl_buf_put_i64(out, c->signing.secrets[i].expires_ms);
    hl_buf_putc(out, '}');
  }
  hl_buf_putc(out, ']');
  w.first = false;
  w_close(&w);
  w_str(&w, "event_header", c->event_header);
  w_str(&w, "id_header", c->id_header);
  w_u32(&w, "timeout_ms", c->timeout_ms);
  w_key(&w, "retry_schedule_s");
  hl_buf_putc(out, '[');
  const uint32_t *sched = c->retry_n > 0 ? c->retry_schedule_s : hl_retry_schedule_default_s;
  uint32_t sched_n = c->retry_n > 0 ? c->retry_n : hl_retry_schedule_default_n;
  for (uint32_t i = 0; i < sched_n; i++) {
    if (i > 0) {
      hl_buf_putc(out, ',');
    }
    hl_buf_put_u64(out, sched[i]);
  }
  hl_buf_putc(out, ']');
  w_u32(&w, "max_connections", c->max_connections);
  w_u32(&w, "rate_limit_per_s", c->rate_limit_per_s);
  hl_buf_putc(out, '}');
  if (w.rc == 0 && !hl_buf_ok(out)) {
    w.rc = hl_err_fail(err, -ENOSPC, "endpoint %s: configuration too large", c->id);
  }
  return w.rc;
}

/* --- rotation ------------------------------------------------------------ */

void hl_endpoint_drop_expired(hl_endpoint_config *c, int64_t now_ms) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
    hl_endpoint_secret *s = &c->signing.secrets[i];
    if (s->expires_ms != 0 && s->expires_ms <= now_ms) {
      free_secret(&s->value);
      continue;
    }
    c->signing.secrets[kept++] = *s;
  }
  for (uint32_t i = kept; i < c->signing.secrets_n; i++) {
    c->signing.secrets[i] = (hl_endpoint_secret){0};
  }
  c->signing.secrets_n = kept;
}

int hl_endpoint_rotate(hl_endpoint_config *c, const char *new_secret, int64_t now_ms,
                       int64_t grace_ms, hl_err *err) {
  if (c->signing.scheme == HL_SIGN_NONE) {
    return hl_err_fail(err, -EINVAL, "endpoint %s has no signing scheme to rotate", c->id);
  }
  hl_endpoint_drop_expired(c, now_ms);
  if (grace_ms <= 0) {
    /* No grace: every old secret stops at once. */
    for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
      free_secret(&c->signing.secrets[i].value);
    }
    c->signing.secrets_n = 0;
  }
  if (c->signing.secrets_n == HL_SECRETS_PER_ENDPOINT_MAX) {
    /* The oldest rotated-out secret makes room. */
    free_secret(&c->signing.secrets[HL_SECRETS_PER_ENDPOINT_MAX - 1].value);
    c->signing.secrets_n--;
  }
  char *copy = strdup(new_secret);
  if (copy == NULL) {
    return hl_err_fail(err, -ENOMEM, "rotate: out of memory");
  }
  for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
    if (c->signing.secrets[i].expires_ms == 0) {
      c->signing.secrets[i].expires_ms = now_ms + grace_ms;
    }
  }
  memmove(&c->signing.secrets[1], &c->signing.secrets[0],
          c->signing.secrets_n * sizeof(c->signing.secrets[0]));
  c->signing.secrets[0] = (hl_endpoint_secret){.value = copy, .expires_ms = 0};
  c->signing.secrets_n++;
  return 0;
}

/* --- validation ---------------------------------------------------------- */

/* hl_endpoint_sign_config fills |cfg| (and |secrets|) from |c|. */
static void sign_config_of(const hl_endpoint_config *c, hl_sign_config *cfg,
                           hl_span secrets[HL_SECRETS_PER_ENDPOINT_MAX]) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->scheme = c->signing.scheme;
  cfg->header = c->signing.header != NULL ? hl_span_cstr(c->signing.header) : HL_SPAN_NULL;
  cfg->prefix = c->signing.prefix != NULL ? hl_span_cstr(c->signing.prefix) : HL_SPAN_NULL;
  if (c->signing.prefix != NULL && c->signing.prefix[0] == '\0') {
    cfg->prefix = hl_span_make("", 0); /* empty, not default */
  }
  if (c->id_header != NULL && c->id_header[0] != '\0' && c->signing.scheme == HL_SIGN_STANDARD) {
    cfg->id_header = hl_span_cstr(c->id_header);
  }
  for (uint32_t i = 0; i < c->signing.secrets_n; i++) {
    secrets[i] = hl_span_cstr(c->signing.secrets[i].value);
  }
  cfg->secrets = secrets;
  cfg->secrets_n = c->signing.secrets_n;
}

int hl_endpoint_signer_init(const hl_endpoint_config *c, hl_signer *s, hl_err *err) {
  hl_sign_config cfg;
  hl_span secrets[HL_SECRETS_PER_ENDPOINT_MAX];
  sign_config_of(c, &cfg, secrets);
  int rc = hl_signer_init(s, &cfg, err);
  if (rc != 0) {
    hl_err_prefix(err, "signing");
  }
  return rc;
}

static int check_resolved(const hl_url *url, const hl_netpolicy *policy, hl_err *err) {
  char host[HL_HOST_BYTES_MAX + 1];
  if (url->host.kind != HL_HOST_NAME || !hl_span_to_cstr(url->host.name, host, sizeof(host))) {
    return 0;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  if (getaddrinfo(host, NULL, &hints, &res) != 0) {
    /* Not resolvable now is not an error at save time: the address is
     * checked again on every connect. */
    return 0;
  }
  int rc = 0;
  for (struct addrinfo *a = res; a != NULL && rc == 0; a = a->ai_next) {
    rc = hl_netpolicy_check_addr(policy, a->ai_addr, err);
    if (rc != 0) {
      hl_err_prefix(err, "url: %s resolves to a refused address", host);
    }
  }
  freeaddrinfo(res);
  return rc;
}

/* The names hookline itself writes on every request from this endpoint. */
static size_t own_header_names(const hl_endpoint_config *c, hl_span names[8]) {
  size_t n = 0;
  switch (c->signing.scheme) {
    case HL_SIGN_STANDARD:
      names[n++] = HL_SPAN_LIT("webhook-timestamp");
      names[n++] = c->id_header != NULL && c->id_header[0] != '\0' ? hl_span_cstr(c->id_header)
                                                                   : HL_SPAN_LIT("webhook-id");
      break;
    case HL_SIGN_NONE:
      break;
    default:
      break;
  }
  if (c->signing.scheme != HL_SIGN_NONE) {
    names[n++] = c->signing.header != NULL ? hl_span_cstr(c->signing.header)
                                           : hl_span_cstr(hl_sign_default_header(c->signing.scheme));
  }
  if (c->signing.scheme != HL_SIGN_STANDARD) {
    names[n++] = c->id_header != NULL ? hl_span_cstr(c->id_header) : HL_SPAN_LIT("X-Webhook-Id");
  }
  names[n++] = c->event_header != NULL ? hl_span_cstr(c->event_header)
                                       : HL_SPAN_LIT("X-Webhook-Event");
  if (c->auth.type == HL_AUTH_BEARER || c->auth.type == HL_AUTH_BASIC) {
    names[n++] = HL_SPAN_LIT("Authorization");
  } else if (c->auth.type == HL_AUTH_API_KEY) {
    names[n++] = hl_span_cstr(c->auth.header);
  }
  return n;
}

static bool visible_ascii(const char *s) {
  for (; *s != '\0'; s++) {
    if (*s <= 0x20 || *s >= 0x7f) {
      return false;
    }
  }
  return true;
}

static int check_headers(const hl_endpoint_config *c, hl_err *err) {
  hl_span own[8];
  size_t own_n = own_header_names(c, own);
  for (size_t i = 0; i < own_n; i++) {
    if (own[i].len > 0 && !hl_h1_is_token(own[i])) {
      return hl_err_fail(err, -EINVAL, "header name '%.*s' is not a valid HTTP token",
                         HL_SPAN_FMT(hl_span_sub(own[i], 0, 64)));
    }
    for (size_t k = 0; k < c->headers_n; k++) {
      if (own[i].len > 0 && hl_span_eq_nocase(own[i], hl_span_cstr(c->headers[k].name))) {
        return hl_err_fail(err, -EINVAL,
                           "headers.%.64s: hookline sets this header itself for this endpoint "
                           "(signing, auth, id or event header)",
                           c->headers[k].name);
      }
    }
  }
  if (c->auth.type == HL_AUTH_BEARER && !visible_ascii(c->auth.token)) {
    return hl_err_fail(err, -EINVAL, "auth.token: only visible ASCII characters are allowed");
  }
  if (c->auth.type == HL_AUTH_API_KEY && !visible_ascii(c->auth.value)) {
    return hl_err_fail(err, -EINVAL, "auth.value: only visible ASCII characters are allowed");
  }
  /* Let the request writer check names, reserved headers and literal bytes
   * exactly as it will when sending (placeholders are valid value bytes). */
  hl_h1_header hdrs[HL_ENDPOINT_HEADERS_MAX];
  for (uint32_t i = 0; i < c->headers_n; i++) {
    hdrs[i] = (hl_h1_header){hl_span_cstr(c->headers[i].name), hl_span_cstr(c->headers[i].value)};
  }
  hl_h1_request req = {.method = c->method,
                       .host = HL_SPAN_LIT("example.com"),
                       .tls = true,
                       .target = HL_SPAN_LIT("/"),
                       .headers = hdrs,
                       .headers_len = c->headers_n};
  size_t cap = HL_ENDPOINT_HEADERS_MAX * (HL_HTTP_HEADER_VALUE_BYTES_MAX + 256) + 1024;
  char *scratch = malloc(cap);
  if (scratch == NULL) {
    return hl_err_fail(err, -ENOMEM, "headers: out of memory");
  }
  hl_buf head;
  hl_buf_init(&head, scratch, cap);
  struct iovec iov[2];
  int rc = hl_h1_request_write(&req, &head, iov, err);
  if (rc != 0) {
    hl_err_prefix(err, "headers");
  }
  free(scratch);
  return rc;
}

int hl_endpoint_validate(const hl_endpoint_config *c, const hl_endpoint_policy *policy,
                         hl_err *err) {
  if (!hl_endpoint_id_valid(hl_span_cstr(c->id))) {
    return hl_err_fail(err, -EINVAL, "id: missing or invalid");
  }
  hl_url url;
  int rc = hl_url_parse(hl_span_cstr(c->url), &url, err);
  if (rc != 0) {
    hl_err_prefix(err, "url");
    return rc;
  }
  if (url.has_userinfo) {
    return hl_err_fail(err, -EINVAL,
                       "url: credentials in the URL are not accepted; use \"auth\": {\"type\": "
                       "\"basic\", ...} so they are stored encrypted");
  }
  rc = hl_netpolicy_check_url(policy->netpolicy, &url, c->allow_http, err);
  if (rc != 0) {
    hl_err_prefix(err, "url");
    return rc;
  }
  if (policy->resolve) {
    rc = check_resolved(&url, policy->netpolicy, err);
    if (rc != 0) {
      return rc;
    }
  }
  rc = check_headers(c, err);
  if (rc != 0) {
    return rc;
  }
  if (c->signing.scheme != HL_SIGN_NONE) {
    if (c->signing.secrets_n == 0) {
      return hl_err_fail(err, -EINVAL, "signing.secret: missing for scheme %s",
                         hl_sign_scheme_name(c->signing.scheme));
    }
    hl_signer signer;
    rc = hl_endpoint_signer_init(c, &signer, err);
    if (rc != 0) {
      return rc;
    }
    hl_signer_cleanup(&signer);
  }
  return 0;
}

