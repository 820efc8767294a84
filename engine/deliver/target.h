/* target: an endpoint compiled for delivery.
 *
 * Built from an hl_endpoint_config when endpoints are (re)loaded, on the
 * store thread, and then only read by the worker that owns it: the parsed
 * URL, the method, every template of the endpoint compiled into one set
 * (body, URL path and query, header values, query values), the signer with
 * its derived keys, the auth header, the event patterns and field filters,
 * the retry schedule and the gate limits. Reference-counted: a reload
 * builds new targets, and deliveries in flight keep the one they started
 * with until they end. */
#ifndef HL_DELIVER_TARGET_H
#define HL_DELIVER_TARGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "crypto/sign.h"
#include "deliver/endpoint.h"
#include "deliver/gate.h"
#include "deliver/outcome.h"
#include "http/h1_request.h"
#include "text/json_scan.h"
#include "text/template.h"
#include "text/url.h"

typedef struct hl_target_kv {
  hl_span name; /* literal; query names already percent-encoded */
  const hl_template *value;
} hl_target_kv;

typedef struct hl_target {
  _Atomic uint32_t refs;
  int64_t rowid;
  char id[HL_ENDPOINT_ID_BYTES_MAX + 1];
  bool enabled;
  char *url_text; /* |url|'s spans point into it */
  hl_url url;
  hl_http_method method;
  bool allow_http;
  uint32_t timeout_ms;
  hl_template_set *templates;
  const hl_template *body; /* NULL for GET and DELETE */
  const hl_template *path;
  const hl_template *url_query; /* the URL's own query, NULL if none */
  hl_target_kv headers[HL_ENDPOINT_HEADERS_MAX];
  uint32_t headers_n;
  hl_target_kv query[HL_ENDPOINT_QUERY_PARAMS_MAX];
  uint32_t query_n;
  char *auth_name; /* NULL: no auth header */
  char *auth_value;
  char *event_header; /* NULL: none */
  char *id_header;    /* NULL: none (standard signs webhook-id itself) */
  hl_signer signer;
  bool signs;
  char *events[HL_ENDPOINT_EVENTS_MAX];
  uint32_t events_n;
  hl_json_path *filter_any;
  uint32_t filter_any_n;
  hl_json_path *filter_all;
  uint32_t filter_all_n;
  uint32_t retry_schedule_s[HL_RETRY_SCHEDULE_STEPS_MAX];
  hl_retry_policy retry;
  hl_gate_config gate;
  char *names_mem; /* owns the encoded query names */
} hl_target;

/* hl_target_compile builds the delivery form of |c|. Errors name the field
 * and, for templates, the line and column. */
int hl_target_compile(const hl_endpoint_config *c, int64_t rowid, bool enabled, hl_target **out,
                      hl_err *err);

/* hl_target_check compiles and discards: what saving an endpoint runs. */
int hl_target_check(const hl_endpoint_config *c, hl_err *err);

void hl_target_ref(hl_target *t);
/* hl_target_unref frees |t| (wiping its secrets) on the last reference. */
void hl_target_unref(hl_target *t);

/* hl_target_wants: does a message with |event| and |data| go to |t|
 * (events and field filters; not the explicit endpoint routing)? */
bool hl_target_wants(const hl_target *t, hl_span event, hl_span data);

/* The rendered request of one delivery. */
typedef struct hl_target_request {
  hl_span body;            /* inside the caller's buffer, after the headroom */
  hl_span target;          /* path?query, in the scratch buffer */
  hl_h1_header headers[HL_ENDPOINT_HEADERS_MAX + 8];
  size_t headers_n;
} hl_target_request;

/* hl_target_render renders |t| for message |m| in two buffers: |body_buf|
 * gets HL_SIGN_HEADROOM_BYTES of headroom then the body (it must live until
 * the request completes); |scratch| gets the target and header values (it
 * must live until the request is submitted). |values| is scratch for
 * hl_template_set_values_n(t->templates) values. Signing is separate
 * (hl_signer_prepare on the body). Returns 0, or -ENOSPC / -E2BIG. */
int hl_target_render(const hl_target *t, const hl_template_msg *m, hl_json_value *values,
                     hl_buf *body_buf, hl_buf *scratch, hl_target_request *out);

/* A request built for sending: |buf| (owned by the caller, free()) holds
 * the signer's headroom, the body and the head. Until hl_target_finish the
 * head lacks the signature lines. */
typedef struct hl_target_built {
  char *buf;
  hl_span body;
  hl_buf head;
} hl_target_built;

/* hl_target_build renders |t| for |m| (via the two scratch buffers, of
 * HL_SIGN_HEADROOM_BYTES + HL_RENDER_BYTES_MAX and HL_RENDER_BYTES_MAX
 * bytes), writes the head, and prepares the HMAC jobs of the signature
 * (timestamp |ts_s|) into |jobs|. Returns the number of jobs (>= 0), or
 * -ENOSPC / -E2BIG / -EINVAL. The caller computes the jobs (one at a time or
 * batched), then calls hl_target_finish. */
int hl_target_build(const hl_target *t, const hl_template_msg *m, uint64_t ts_s,
                    hl_json_value *values, char *scratch_body, char *scratch_misc,
                    hl_target_built *out, hl_sign_state *sign,
                    hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX], hl_err *err);

/* hl_target_finish adds the signature lines from |sign| (whose jobs have
 * run); the head is then complete. */
void hl_target_finish(const hl_target *t, hl_target_built *b, const hl_sign_state *sign);

#endif
