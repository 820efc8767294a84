/* Tests for deliver/endpoint: parsing, sealing, redaction, validation,
 * rotation, event patterns. */
#include "deliver/endpoint.h"

#include <errno.h>
#include <stdlib.h>

#include "harness.h"

static const char *full_json =
    "{\"id\": \"crm\", \"url\": \"https://crm.example.com/hooks/leads\", \"method\": \"POST\","
    " \"enabled\": true, \"events\": [\"lead.created\", \"lead.*\"],"
    " \"filter\": {\"any_present\": [\"email\", \"phone\"]},"
    " \"headers\": {\"X-Source\": \"{{source}}\", \"X-Api-Key\": \"k-123456\"},"
    " \"query\": {\"tenant\": \"{{tenant}}\"},"
    " \"auth\": {\"type\": \"bearer\", \"token\": \"tok-SECRET-1\"},"
    " \"template\": {\"properties\": {\"email\": \"{{email}}\", \"firstname\": \"{{firstName}}\"}},"
    " \"signing\": {\"scheme\": \"standard\", \"secret\": \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"},"
    " \"timeout_ms\": 15000, \"retry_schedule_s\": [0, 5, 300, 1800], \"max_connections\": 16,"
    " \"rate_limit_per_s\": 0}";

static void parse_ok(const char *text, hl_endpoint_config *c) {
  cJSON *j = cJSON_Parse(text);
  ASSERT_TRUE(j != NULL);
  hl_err err = {{0}};
  int rc = hl_endpoint_parse(j, HL_ENDPOINT_FROM_USER, c, &err);
  cJSON_Delete(j);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "parse failed: %s", err.msg);
  }
}

static void parse_fails(const char *text, const char *want) {
  cJSON *j = cJSON_Parse(text);
  ASSERT_TRUE(j != NULL);
  hl_err err = {{0}};
  hl_endpoint_config c;
  int rc = hl_endpoint_parse(j, HL_ENDPOINT_FROM_USER, &c, &err);
  cJSON_Delete(j);
  ASSERT_EQ(rc, -EINVAL);
  ASSERT_CONTAINS(err.msg, want);
}

static void test_box(hl_secretbox *box) {
  uint8_t key[32];
  memset(key, 7, sizeof(key));
  ASSERT_EQ(hl_secretbox_init(box, key), 0);
}

TEST(parses_the_documented_example) {
  hl_endpoint_config c;
  parse_ok(full_json, &c);
  ASSERT_STR_EQ(c.id, "crm");
  ASSERT_EQ(c.method, HL_HTTP_POST);
  ASSERT_EQ(c.events_n, 2);
  ASSERT_STR_EQ(c.events[1], "lead.*");
  ASSERT_EQ(c.filter_any_n, 2);
  ASSERT_EQ(c.headers_n, 2);
  ASSERT_EQ(c.auth.type, HL_AUTH_BEARER);
  ASSERT_TRUE(c.template_is_value);
  ASSERT_STR_EQ(c.template_text,
                "{\"properties\":{\"email\":\"{{email}}\",\"firstname\":\"{{firstName}}\"}}");
  ASSERT_EQ(c.signing.scheme, HL_SIGN_STANDARD);
  ASSERT_EQ(c.signing.secrets_n, 1);
  ASSERT_EQ(c.retry_n, 4);
  ASSERT_EQ(c.retry_schedule_s[3], 1800);
  hl_endpoint_config_free(&c);
}

TEST(parse_errors_name_the_field) {
  parse_fails("{\"id\":\"a\"}", "url: missing");
  parse_fails("{\"url\":\"https://x\",\"timeout\":5}", "unknown field 'timeout'");
  parse_fails("{\"url\":\"https://x\",\"url\":\"https://y\"}", "url: given twice");
  parse_fails("{\"url\":\"https://x\",\"method\":\"HEAD\"}", "method: expected GET");
  parse_fails("{\"url\":\"https://x\",\"id\":\"a b\"}", "id: expected");
  parse_fails("{\"url\":\"https://x\",\"events\":[\"lead created\"]}", "events[0]:");
  parse_fails("{\"url\":\"https://x\",\"auth\":{\"type\":\"bearer\"}}",
              "auth: type bearer takes exactly 'token'");
  parse_fails("{\"url\":\"https://x\",\"auth\":{\"type\":\"basic\",\"username\":\"a:b\","
              "\"password\":\"p\"}}",
              "auth.username: must not contain ':'");
  parse_fails("{\"url\":\"https://x\",\"timeout_ms\":1.5}", "timeout_ms: expected a whole number");
  parse_fails("{\"url\":\"https://x\",\"retry_schedule_s\":[0,-1]}", "retry_schedule_s[1]");
  parse_fails("{\"url\":\"https://x\",\"retry_schedule_s\":[]}", "retry_schedule_s: expected");
  parse_fails("{\"url\":\"https://x\",\"signing\":{\"secret\":\"abcdefghijklmnopq\"}}",
              "signing.scheme: missing");
  parse_fails("{\"url\":\"https://x\",\"signing\":{\"scheme\":\"rsa\"}}", "signing: scheme:");
  parse_fails("{\"url\":\"https://x\",\"headers\":{\"A\":\"1\",\"a\":\"2\"}}", "given twice");
  parse_fails("{\"url\":\"https://x\",\"template\":5}", "template: expected");
  parse_fails("{\"url\":\"https://x\",\"filter\":{\"any_present\":[\"a..b\"]}}",
              "filter: any_present[0]");
  parse_fails("{\"url\":\"https://x\",\"filter\":[]}", "filter: expected an object");
  /* Not an object at all: the message does not start with an empty field. */
  parse_fails("[{\"url\":\"https://x\"}]", "expected a JSON object of endpoint fields");
  hl_endpoint_config c;
  parse_ok("{\"url\":\"https://x\"}", &c);
  cJSON *patch = cJSON_Parse("\"url\"");
  hl_err err = {{0}};
  ASSERT_EQ(hl_endpoint_patch(&c, patch, &err), -EINVAL);
  ASSERT_STR_EQ(err.msg, "expected a JSON object of endpoint fields");
  cJSON_Delete(patch);
  hl_endpoint_config_free(&c);
}

/* Found by fuzz/endpoint_config: cJSON passes bytes that are not UTF-8
 * through (`endpoint update --fields`, flags), and the store and the
 * redacted view then held text that is not JSON. */
TEST(strings_must_be_utf8) {
  parse_fails("{\"url\":\"https://example.com/\xff\"}", "url: not valid UTF-8");
  parse_fails("{\"url\":\"https://x\",\"headers\":{\"X-Api-Ke\x83\":\"1\"}}",
              "headers: names must be valid UTF-8");
  parse_fails("{\"url\":\"https://x\",\"headers\":{\"X-A\":\"\xc0\xaf\"}}",
              "headers.X-A: not valid UTF-8");
  parse_fails("{\"url\":\"https://x\",\"auth\":{\"type\":\"bearer\",\"token\":\"\xed\xa0\x80\"}}",
              "auth: token: not valid UTF-8");
  parse_fails("{\"url\":\"https://x\",\"template\":{\"\xf5\":1}}", "template: not valid UTF-8");
  parse_fails("{\"url\":\"https://x\",\"filter\":{\"all_present\":[\"a\xe2\x82\"]}}",
              "filter: all_present[0]");
  /* Well-formed UTF-8 is fine everywhere. */
  hl_endpoint_config c;
  parse_ok("{\"url\":\"https://example.com/caf\xc3\xa9\",\"headers\":{\"X-\xe2\x82\xac\":"
           "\"\xf0\x9f\x98\x80\"},\"template\":{\"\xc3\xa9\":\"{{a}}\"}}",
           &c);
  hl_endpoint_config_free(&c);
}

/* Found by fuzz/endpoint_config (UBSan): numbers were converted to an
 * integer before their range was checked, undefined for 1e300 or inf. */
TEST(huge_numbers_are_range_errors) {
  parse_fails("{\"url\":\"https://x\",\"timeout_ms\":1e300}", "timeout_ms: expected a whole number");
  parse_fails("{\"url\":\"https://x\",\"max_connections\":-1e300}", "max_connections:");
  parse_fails("{\"url\":\"https://x\",\"retry_schedule_s\":[0,1e999]}", "retry_schedule_s[1]:");
  parse_fails("{\"url\":\"https://x\",\"rate_limit_per_s\":4294967296}", "rate_limit_per_s:");
  static const char *const expires[] = {"1e300", "9223372036854775808", "-1", "1.5"};
  for (size_t i = 0; i < sizeof(expires) / sizeof(expires[0]); i++) {
    char text[256];
    hl_buf b;
    hl_buf_init(&b, text, sizeof(text));
    hl_buf_printf(&b,
                  "{\"id\":\"a\",\"url\":\"https://x\",\"signing\":{\"scheme\":\"stripe\","
                  "\"secrets\":[{\"value\":\"hlbox1:x\",\"expires_ms\":%s}]}}",
                  expires[i]);
    cJSON *j = cJSON_Parse(hl_buf_cstr(&b));
    hl_endpoint_config c;
    hl_err err = {{0}};
    ASSERT_EQ(hl_endpoint_parse(j, HL_ENDPOINT_FROM_STORE, &c, &err), -EINVAL);
    ASSERT_CONTAINS(err.msg, "secrets.expires_ms: expected a whole number");
    cJSON_Delete(j);
  }
}

TEST(sealed_round_trip_restores_every_secret) {
  hl_secretbox box;
  test_box(&box);
  hl_endpoint_config c;
  parse_ok(full_json, &c);
  char mem[16384];
  hl_buf out;
  hl_buf_init(&out, mem, sizeof(mem));
  hl_err err = {{0}};
  ASSERT_EQ(hl_endpoint_write(&c, HL_ENDPOINT_SEALED, &box, &out, &err), 0);
  const char *stored = hl_buf_cstr(&out);
  /* No secret in the stored text; the non-secret header is plain. */
  ASSERT_TRUE(strstr(stored, "tok-SECRET-1") == NULL);
  ASSERT_TRUE(strstr(stored, "MfKQ9r8G") == NULL);
  ASSERT_TRUE(strstr(stored, "k-123456") == NULL);
  ASSERT_CONTAINS(stored, "\"X-Source\":\"{{source}}\"");
  ASSERT_CONTAINS(stored, "hlbox1:");

  cJSON *j = cJSON_Parse(stored);
  hl_endpoint_config back;
  ASSERT_EQ(hl_endpoint_parse(j, HL_ENDPOINT_FROM_STORE, &back, &err), 0);
  cJSON_Delete(j);
  ASSERT_EQ(hl_endpoint_open(&back, &box, &err), 0);
  ASSERT_STR_EQ(back.auth.token, "tok-SECRET-1");
  ASSERT_STR_EQ(back.signing.secrets[0].value, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_STR_EQ(back.headers[1].value, "k-123456");

  /* Redacted forms of the original and the round-tripped config agree. */
  char a[8192], b[8192];
  hl_buf ba, bb;
  hl_buf_init(&ba, a, sizeof(a));
  hl_buf_init(&bb, b, sizeof(b));
  ASSERT_EQ(hl_endpoint_write(&c, HL_ENDPOINT_REDACTED, NULL, &ba, &err), 0);
  ASSERT_EQ(hl_endpoint_write(&back, HL_ENDPOINT_REDACTED, NULL, &bb, &err), 0);
  ASSERT_MEM_EQ(ba.ptr, ba.len, bb.ptr, bb.len);
  const char *shown = hl_buf_cstr(&ba);
  ASSERT_TRUE(strstr(shown, "tok-SECRET-1") == NULL);
  ASSERT_TRUE(strstr(shown, "k-123456") == NULL);
  ASSERT_CONTAINS(shown, "\"token\":\"fingerprint:");
  hl_endpoint_config_free(&back);

  /* A sealed value moved to another endpoint does not open. */
  char *moved = strdup(stored);
  memcpy(strstr(moved, "\"id\":\"crm\""), "\"id\":\"crx\"", 10);
  j = cJSON_Parse(moved);
  ASSERT_EQ(hl_endpoint_parse(j, HL_ENDPOINT_FROM_STORE, &back, &err), 0);
  cJSON_Delete(j);
  ASSERT_NE(hl_endpoint_open(&back, &box, &err), 0);
  ASSERT_TRUE(strstr(err.msg, "tok-SECRET") == NULL);
  hl_endpoint_config_free(&back);
  free(moved);
  hl_endpoint_config_free(&c);
  hl_secretbox_cleanup(&box);
}

/* store_round_trip seals |c|, loads it back and returns the loaded copy. */
static void store_round_trip(const hl_endpoint_config *c, const hl_secretbox *box,
                             hl_endpoint_config *back) {
  size_t cap = 1u << 20;
  char *mem = malloc(cap);
  hl_buf out;
  hl_buf_init(&out, mem, cap);
  hl_err err = {{0}};
  ASSERT_EQ(hl_endpoint_write(c, HL_ENDPOINT_SEALED, box, &out, &err), 0);
  int rc = hl_endpoint_load(hl_buf_cstr(&out), box, back, &err);
  free(mem);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "load failed: %s", err.msg);
  }
}

/* Found by fuzz/endpoint_config: a sealed value is about 4/3 of its
 * plaintext, so a long token or credential header stored fine and then
 * failed to load ("auth: token: longer than 8192 bytes"). */
TEST(long_secrets_load_back_from_the_store) {
  hl_secretbox box;
  test_box(&box);
  size_t n = HL_SECRETBOX_PLAINTEXT_BYTES_MAX;
  char *big = malloc(n + 1);
  memset(big, 't', n);
  big[n] = '\0';
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "id", "long");
  cJSON_AddStringToObject(j, "url", "https://example.com/");
  cJSON *auth = cJSON_AddObjectToObject(j, "auth");
  cJSON_AddStringToObject(auth, "type", "basic");
  cJSON_AddStringToObject(auth, "username", "svc");
  cJSON_AddStringToObject(auth, "password", big);
  cJSON_AddStringToObject(cJSON_AddObjectToObject(j, "headers"), "X-Api-Key", big);
  hl_endpoint_config c, back;
  hl_err err = {{0}};
  ASSERT_EQ(hl_endpoint_parse(j, HL_ENDPOINT_FROM_USER, &c, &err), 0);
  store_round_trip(&c, &box, &back);
  ASSERT_STR_EQ(back.auth.password, big);
  ASSERT_STR_EQ(back.headers[0].value, big);
  hl_endpoint_config_free(&back);
  hl_endpoint_config_free(&c);
  cJSON_Delete(j);

  j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "id", "long");
  cJSON_AddStringToObject(j, "url", "https://example.com/");
  auth = cJSON_AddObjectToObject(j, "auth");
  cJSON_AddStringToObject(auth, "type", "bearer");
  cJSON_AddStringToObject(auth, "token", big);
  ASSERT_EQ(hl_endpoint_parse(j, HL_ENDPOINT_FROM_USER, &c, &err), 0);
  store_round_trip(&c, &box, &back);
  ASSERT_STR_EQ(back.auth.token, big);
  hl_endpoint_config_free(&back);
  hl_endpoint_config_free(&c);
  /* One byte more is still refused from a user. */
  big = realloc(big, n + 2);
  memcpy(big + n, "t", 2);
  cJSON_ReplaceItemInObject(auth, "token", cJSON_CreateString(big));
  ASSERT_EQ(hl_endpoint_parse(j, HL_ENDPOINT_FROM_USER, &c, &err), -EINVAL);
  ASSERT_CONTAINS(err.msg, "auth: token: longer than 8192 bytes");
  cJSON_Delete(j);
  free(big);
  hl_secretbox_cleanup(&box);
}

static int validate_text(const char *text, const char *allow, hl_err *err) {
  hl_endpoint_config c;
  parse_ok(text, &c);
  hl_netpolicy p;
  hl_netpolicy_init(&p);
  if (allow != NULL) {
    ASSERT_EQ(hl_netpolicy_allow(&p, allow, NULL), 0);
  }
  hl_endpoint_policy pol = {.netpolicy = &p, .resolve = false};
  int rc = hl_endpoint_validate(&c, &pol, err);
  hl_endpoint_config_free(&c);
  return rc;
}

TEST(validation_applies_policy_headers_and_signing) {
  hl_err err = {{0}};
  ASSERT_EQ(validate_text(full_json, NULL, &err), 0);
  ASSERT_EQ(validate_text("{\"id\":\"a\",\"url\":\"http://example.com/\"}", NULL, &err), -EACCES);
  ASSERT_CONTAINS(err.msg, "url:");
  ASSERT_EQ(validate_text("{\"id\":\"a\",\"url\":\"http://example.com/\",\"allow_http\":true}",
                          NULL, &err),
            0);
  ASSERT_EQ(validate_text("{\"id\":\"a\",\"url\":\"https://10.1.2.3/\"}", NULL, &err), -EACCES);
  ASSERT_CONTAINS(err.msg, "10.0.0.0/8");
  ASSERT_EQ(validate_text("{\"id\":\"a\",\"url\":\"https://10.1.2.3/\"}", "10.0.0.0/8", &err), 0);
  ASSERT_EQ(validate_text("{\"id\":\"a\",\"url\":\"https://db.internal/\"}", NULL, &err),
            -EACCES);
  ASSERT_EQ(validate_text("{\"id\":\"a\",\"url\":\"https://u:p@example.com/\"}", NULL, &err),
            -EINVAL);
  ASSERT_CONTAINS(err.msg, "credentials in the URL");
  ASSERT_TRUE(strstr(err.msg, "u:p") == NULL);
  ASSERT_NE(validate_text("{\"id\":\"a\",\"url\":\"https://example.com/\","
                          "\"headers\":{\"X-A\":\"a\\r\\nInjected: 1\"}}",
                          NULL, &err),
            0);
  ASSERT_CONTAINS(err.msg, "headers");
  ASSERT_NE(validate_text("{\"id\":\"a\",\"url\":\"https://example.com/\","
                          "\"headers\":{\"Content-Length\":\"5\"}}",
                          NULL, &err),
            0);
  ASSERT_NE(validate_text("{\"id\":\"a\",\"url\":\"https://example.com/\","
                          "\"headers\":{\"Bad Name\":\"5\"}}",
                          NULL, &err),
            0);
  ASSERT_EQ(validate_text("{\"id\":\"a\",\"url\":\"https://example.com/\","
                          "\"auth\":{\"type\":\"bearer\",\"token\":\"t\"},"
                          "\"headers\":{\"authorization\":\"x\"}}",
                          NULL, &err),
            -EINVAL);
  ASSERT_CONTAINS(err.msg, "hookline sets this header itself");
  ASSERT_NE(validate_text("{\"id\":\"a\",\"url\":\"https://example.com/\","
                          "\"signing\":{\"scheme\":\"hmac-sha256\",\"secret\":\"short-secret\"}}",
                          NULL, &err),
            0);
  ASSERT_CONTAINS(err.msg, "signing");
  ASSERT_TRUE(strstr(err.msg, "short-secret") == NULL);
  ASSERT_EQ(validate_text("{\"id\":\"a\",\"url\":\"https://example.com/\","
                          "\"signing\":{\"scheme\":\"hmac-sha256\",\"header\":\"X-Wilow-Signature\","
                          "\"secret\":\"0123456789abcdef0123\"}}",
                          NULL, &err),
            0);
}

TEST(patch_replaces_given_fields_only) {
  hl_endpoint_config c;
  parse_ok(full_json, &c);
  cJSON *patch = cJSON_Parse("{\"timeout_ms\": 5000, \"auth\": {\"type\": \"api_key\","
                             " \"header\": \"X-Key\", \"value\": \"v-1\"}}");
  hl_err err = {{0}};
  ASSERT_EQ(hl_endpoint_patch(&c, patch, &err), 0);
  cJSON_Delete(patch);
  ASSERT_EQ(c.timeout_ms, 5000);
  ASSERT_EQ(c.auth.type, HL_AUTH_API_KEY);
  ASSERT_TRUE(c.auth.token == NULL); /* auth replaced as a whole */
  ASSERT_STR_EQ(c.url, "https://crm.example.com/hooks/leads");
  ASSERT_EQ(c.signing.secrets_n, 1);
  patch = cJSON_Parse("{\"signing\": {\"scheme\": \"stripe\"}}");
  ASSERT_EQ(hl_endpoint_patch(&c, patch, &err), 0);
  cJSON_Delete(patch);
  ASSERT_EQ(c.signing.secrets_n, 0); /* a new scheme drops the old secrets */
  patch = cJSON_Parse("{\"id\": \"other\"}");
  ASSERT_EQ(hl_endpoint_patch(&c, patch, &err), -EINVAL);
  cJSON_Delete(patch);
  ASSERT_STR_EQ(c.id, "crm");
  hl_endpoint_config_free(&c);
}

/* Found by fuzz/endpoint_config: with "secret" before "scheme" the scheme
 * change dropped the secret just given, so {"secret": S, "scheme":
 * "standard"} parsed without a secret and failed validation as "missing",
 * while the other member order worked. JSON members have no order. */
TEST(signing_secret_and_scheme_in_either_order) {
  static const char *const docs[] = {
      "{\"id\":\"a\",\"url\":\"https://example.com/\",\"signing\":{\"secret\":"
      "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"scheme\":\"standard\"}}",
      "{\"id\":\"a\",\"url\":\"https://example.com/\",\"signing\":{\"scheme\":"
      "\"standard\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}}"};
  static const char *const patches[] = {
      "{\"signing\":{\"secret\":\"0123456789abcdef0123\",\"scheme\":\"stripe\"}}",
      "{\"signing\":{\"scheme\":\"stripe\",\"secret\":\"0123456789abcdef0123\"}}"};
  for (size_t i = 0; i < 2; i++) {
    hl_endpoint_config c;
    parse_ok(docs[i], &c);
    ASSERT_EQ(c.signing.scheme, HL_SIGN_STANDARD);
    ASSERT_EQ(c.signing.secrets_n, 1);
    ASSERT_STR_EQ(c.signing.secrets[0].value, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    cJSON *patch = cJSON_Parse(patches[i]);
    hl_err err = {{0}};
    ASSERT_EQ(hl_endpoint_patch(&c, patch, &err), 0);
    cJSON_Delete(patch);
    ASSERT_EQ(c.signing.scheme, HL_SIGN_STRIPE);
    ASSERT_EQ(c.signing.secrets_n, 1);
    ASSERT_STR_EQ(c.signing.secrets[0].value, "0123456789abcdef0123");
    hl_endpoint_config_free(&c);
  }
}

TEST(rotation_keeps_the_old_secret_for_the_grace_period) {
  hl_endpoint_config c;
  parse_ok(full_json, &c);
  hl_err err = {{0}};
  ASSERT_EQ(hl_endpoint_rotate(&c, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1000, 500, &err), 0);
  ASSERT_EQ(c.signing.secrets_n, 2);
  ASSERT_STR_EQ(c.signing.secrets[0].value, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  ASSERT_EQ(c.signing.secrets[0].expires_ms, 0);
  ASSERT_EQ(c.signing.secrets[1].expires_ms, 1500);
  hl_endpoint_drop_expired(&c, 1499);
  ASSERT_EQ(c.signing.secrets_n, 2);
  hl_endpoint_drop_expired(&c, 1500);
  ASSERT_EQ(c.signing.secrets_n, 1);
  /* Rotation with no grace replaces at once; the table never overflows. */
  for (int i = 0; i < 10; i++) {
    ASSERT_EQ(hl_endpoint_rotate(&c, "whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", 2000 + i,
                                 1000000, &err),
              0);
    ASSERT_LE(c.signing.secrets_n, HL_SECRETS_PER_ENDPOINT_MAX);
  }
  ASSERT_EQ(hl_endpoint_rotate(&c, "whsec_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", 3000, 0, &err), 0);
  ASSERT_EQ(c.signing.secrets_n, 1);
  hl_endpoint_config_free(&c);
}

TEST(event_patterns) {
  ASSERT_TRUE(hl_endpoint_event_matches(HL_SPAN_LIT("*"), HL_SPAN_LIT("anything")));
  ASSERT_TRUE(hl_endpoint_event_matches(HL_SPAN_LIT("lead.*"), HL_SPAN_LIT("lead.created")));
  ASSERT_TRUE(hl_endpoint_event_matches(HL_SPAN_LIT("lead.*"), HL_SPAN_LIT("lead.a.b")));
  ASSERT_FALSE(hl_endpoint_event_matches(HL_SPAN_LIT("lead.*"), HL_SPAN_LIT("lead")));
  ASSERT_FALSE(hl_endpoint_event_matches(HL_SPAN_LIT("lead.*"), HL_SPAN_LIT("lead.")));
  ASSERT_FALSE(hl_endpoint_event_matches(HL_SPAN_LIT("lead.*"), HL_SPAN_LIT("leads.created")));
  ASSERT_TRUE(hl_endpoint_event_matches(HL_SPAN_LIT("lead.created"), HL_SPAN_LIT("lead.created")));
  ASSERT_FALSE(hl_endpoint_event_matches(HL_SPAN_LIT("lead.created"), HL_SPAN_LIT("lead.create")));
}

TEST(generated_ids_are_valid_and_distinct) {
  char a[HL_ENDPOINT_ID_BYTES_MAX + 1], b[HL_ENDPOINT_ID_BYTES_MAX + 1];
  hl_endpoint_generate_id(a);
  hl_endpoint_generate_id(b);
  ASSERT_TRUE(hl_endpoint_id_valid(hl_span_cstr(a)));
  ASSERT_EQ(strlen(a), 19);
  ASSERT_TRUE(strcmp(a, b) != 0);
}
