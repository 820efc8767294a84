/* endpoint: what a user configures for one webhook destination, and the
 * three forms it takes.
 *
 *   user JSON (endpoints.json, CLI flags)  --hl_endpoint_parse-->  config
 *   config  --hl_endpoint_write(sealed)-->  canonical JSON in the store,
 *           every secret sealed with the secret box (AES-256-GCM, the
 *           endpoint id and field name as associated data)
 *   stored JSON  --hl_endpoint_parse + hl_endpoint_open-->  config
 *   config  --hl_endpoint_write(redacted)-->  what list/show print: secrets
 *           replaced by fingerprints, URL passwords masked
 *
 * Parsing is strict: unknown or duplicate fields, wrong types and values out
 * of range are errors that name the field ("signing.secret: ..."), never
 * echoing a secret. hl_endpoint_validate adds the checks that need other
 * modules (URL and network policy, signer, header syntax); templates are
 * compiled and checked by hl_target_check (deliver/target.h).
 * This module does no I/O except the optional resolution of the URL's host
 * at save time, which a caller asks for explicitly. */
#ifndef HL_DELIVER_ENDPOINT_H
#define HL_DELIVER_ENDPOINT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"
#include "crypto/secretbox.h"
#include "crypto/sign.h"
#include "http/h1_request.h"
#include "io/netpolicy.h"

#define HL_ENDPOINT_FILTER_FIELDS_MAX 16
#define HL_ROTATION_GRACE_MS_DEFAULT (24ll * 3600 * 1000)

typedef enum hl_auth_type {
  HL_AUTH_NONE = 0,
  HL_AUTH_BEARER,
  HL_AUTH_BASIC,
  HL_AUTH_API_KEY,
} hl_auth_type;

typedef struct hl_endpoint_kv {
  char *name;
  char *value; /* a template */
} hl_endpoint_kv;

typedef struct hl_endpoint_secret {
  char *value;        /* plaintext in memory; sealed only in the store */
  int64_t expires_ms; /* 0: current; else a rotated-out secret's end */
} hl_endpoint_secret;

typedef struct hl_endpoint_config {
  char id[HL_ENDPOINT_ID_BYTES_MAX + 1];
  char *url;
  hl_http_method method;
  bool enabled;
  bool allow_http; /* plain http:// allowed for this endpoint */
  char *events[HL_ENDPOINT_EVENTS_MAX];
  uint32_t events_n; /* 0: every event */
  char *filter_any[HL_ENDPOINT_FILTER_FIELDS_MAX];
  uint32_t filter_any_n; /* deliver only if one of these fields is present */
  char *filter_all[HL_ENDPOINT_FILTER_FIELDS_MAX];
  uint32_t filter_all_n; /* deliver only if all of these fields are present */
  hl_endpoint_kv headers[HL_ENDPOINT_HEADERS_MAX];
  uint32_t headers_n;
  hl_endpoint_kv query[HL_ENDPOINT_QUERY_PARAMS_MAX];
  uint32_t query_n;
  struct {
    hl_auth_type type;
    char *token;    /* bearer */
    char *username; /* basic */
    char *password; /* basic (secret) */
    char *header;   /* api_key */
    char *value;    /* api_key (secret) */
  } auth;
  char *template_text;    /* NULL: the default envelope */
  bool template_is_value; /* given as a JSON value: placeholders only in strings */
  struct {
    hl_sign_scheme scheme;
    char *header; /* NULL: the scheme's default */
    char *prefix; /* hmac-sha256 only; NULL: "sha256=" */
    hl_endpoint_secret secrets[HL_SECRETS_PER_ENDPOINT_MAX];
    uint32_t secrets_n; /* newest first */
  } signing;
  char *event_header; /* NULL: default "X-Webhook-Event"; "": none */
  char *id_header;    /* NULL: default "X-Webhook-Id" (standard: webhook-id); "": none */
  uint32_t timeout_ms;
  uint32_t retry_schedule_s[HL_RETRY_SCHEDULE_STEPS_MAX];
  uint32_t retry_n; /* 0: the default schedule */
  uint32_t max_connections;
  uint32_t rate_limit_per_s; /* 0: unlimited */
} hl_endpoint_config;

#define HL_ENDPOINT_TIMEOUT_MS_DEFAULT 15000
#define HL_ENDPOINT_TIMEOUT_MS_MAX 120000
#define HL_ENDPOINT_MAX_CONNECTIONS_DEFAULT 16
#define HL_RETRY_DELAY_S_MAX (7u * 24 * 3600)
#define HL_RATE_LIMIT_PER_S_MAX 1000000

/* The default retry schedule (ARCHITECTURE.md, Outcomes): delays in seconds
 * before attempts 2, 3, ... */
extern const uint32_t hl_retry_schedule_default_s[];
extern const uint32_t hl_retry_schedule_default_n;

void hl_endpoint_config_init(hl_endpoint_config *c);
/* hl_endpoint_config_free frees the strings, wiping the secret ones. */
void hl_endpoint_config_free(hl_endpoint_config *c);

typedef enum hl_endpoint_source {
  HL_ENDPOINT_FROM_USER,   /* plaintext secrets; rotated secrets not allowed */
  HL_ENDPOINT_FROM_STORE,  /* secrets sealed; open with hl_endpoint_open */
} hl_endpoint_source;

/* hl_endpoint_parse reads one endpoint object. Fields other than id and url
 * are optional; id may be absent for HL_ENDPOINT_FROM_USER when the caller
 * generates one (hl_endpoint_generate_id). */
int hl_endpoint_parse(const cJSON *obj, hl_endpoint_source source, hl_endpoint_config *out,
                      hl_err *err);

/* hl_endpoint_patch applies the fields present in |patch| (user form) to
 * an existing configuration: each given field replaces the old value (auth
 * and filter as a whole; signing field by field, and a changed scheme drops
 * the old secrets). The id cannot change. On error |c| may be partly
 * patched: the caller discards it. */
int hl_endpoint_patch(hl_endpoint_config *c, const cJSON *patch, hl_err *err);

/* hl_endpoint_open replaces every sealed secret in |c| (parsed from the
 * store) with its plaintext; a secret sealed for another endpoint or field,
 * or under another master key, fails. */
int hl_endpoint_open(hl_endpoint_config *c, const hl_secretbox *box, hl_err *err);

/* hl_endpoint_load parses a stored configuration (the store's canonical
 * JSON text) and opens its secrets: what the engine, `hookline test` and the
 * endpoint commands all do with a row. */
int hl_endpoint_load(const char *stored_json, const hl_secretbox *box, hl_endpoint_config *out,
                     hl_err *err);

typedef enum hl_endpoint_view {
  HL_ENDPOINT_SEALED,   /* for the store: secrets sealed with |box| */
  HL_ENDPOINT_REDACTED, /* for people: fingerprints instead of secrets */
} hl_endpoint_view;

/* hl_endpoint_write writes |c| as canonical JSON (fixed field order,
 * defaults made explicit). */
int hl_endpoint_write(const hl_endpoint_config *c, hl_endpoint_view view, const hl_secretbox *box,
                      hl_buf *out, hl_err *err);

typedef struct hl_endpoint_policy {
  const hl_netpolicy *netpolicy;
  bool resolve; /* also resolve the host now and check every address */
} hl_endpoint_policy;

/* hl_endpoint_validate checks what parsing cannot: the URL and the network
 * policy, header names and literal values, and the signer (secret formats
 * and lengths). */
int hl_endpoint_validate(const hl_endpoint_config *c, const hl_endpoint_policy *policy,
                         hl_err *err);

/* hl_endpoint_signer_init builds the signer for |c| (errors prefixed
 * "signing"). */
int hl_endpoint_signer_init(const hl_endpoint_config *c, hl_signer *s, hl_err *err);

/* hl_endpoint_generate_id writes "ep_" + 16 random base32 characters. */
void hl_endpoint_generate_id(char out[HL_ENDPOINT_ID_BYTES_MAX + 1]);

/* hl_endpoint_id_valid: 1..HL_ENDPOINT_ID_BYTES_MAX of [A-Za-z0-9_.:-]. */
bool hl_endpoint_id_valid(hl_span id);

/* hl_endpoint_rotate makes |new_secret| current and keeps the previous
 * current secret verifying and signing until now + grace_ms; secrets whose
 * grace has passed are dropped. */
int hl_endpoint_rotate(hl_endpoint_config *c, const char *new_secret, int64_t now_ms,
                       int64_t grace_ms, hl_err *err);

/* hl_endpoint_drop_expired removes rotated-out secrets past their end. */
void hl_endpoint_drop_expired(hl_endpoint_config *c, int64_t now_ms);

/* hl_auth_type_name / hl_endpoint_event_matches: helpers shared with the
 * router and the CLI. A pattern is an exact name, "prefix.*" or "*". */
const char *hl_auth_type_name(hl_auth_type t);
bool hl_endpoint_event_matches(hl_span pattern, hl_span event);

#endif
