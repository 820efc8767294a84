/* target: endpoint compilation, matching and rendering (see target.h). */
#include "deliver/target.h"

#include <errno.h>
#include <openssl/mem.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"

#define X_WEBHOOK_EVENT "X-Webhook-Event"
#define X_WEBHOOK_ID "X-Webhook-Id"

static void free_secret(char *s) {
  if (s != NULL) {
    OPENSSL_cleanse(s, strlen(s));
    free(s);
  }
}

static void target_free(hl_target *t) {
  free(t->url_text);
  hl_template_set_free(t->templates);
  free(t->auth_name);
  free_secret(t->auth_value);
  free(t->event_header);
  free(t->id_header);
  if (t->signs) {
    hl_signer_cleanup(&t->signer);
  }
  for (uint32_t i = 0; i < t->events_n; i++) {
    free(t->events[i]);
  }
  free(t->filter_any);
  free(t->filter_all);
  free(t->names_mem);
  OPENSSL_cleanse(t, sizeof(*t));
  free(t);
}

void hl_target_ref(hl_target *t) {
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void hl_target_unref(hl_target *t) {
  if (t != NULL && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
    target_free(t);
  }
}

static int compile(hl_target *t, hl_template_kind kind, hl_span text, const hl_template **out,
                   const char *field, hl_err *err) {
  int rc = hl_template_compile(t->templates, kind, text, out, err);
  if (rc != 0) {
    hl_err_prefix(err, "%s", field);
  }
  return rc;
}

static char *dup_span(hl_span s) {
  char *p = malloc(s.len + 1);
  if (p != NULL) {
    memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
  }
  return p;
}

static int compile_auth(hl_target *t, const hl_endpoint_config *c, hl_err *err) {
  char mem[HL_SECRETBOX_PLAINTEXT_BYTES_MAX * 2 + 64];
  hl_buf v;
  hl_buf_init(&v, mem, sizeof(mem));
  switch (c->auth.type) {
    case HL_AUTH_NONE:
      return 0;
    case HL_AUTH_BEARER:
      t->auth_name = strdup("Authorization");
      hl_buf_put_cstr(&v, "Bearer ");
      hl_buf_put_cstr(&v, c->auth.token);
      break;
    case HL_AUTH_BASIC: {
      char up[HL_SECRETBOX_PLAINTEXT_BYTES_MAX + 258];
      hl_buf u;
      hl_buf_init(&u, up, sizeof(up));
      hl_buf_printf(&u, "%s:%s", c->auth.username, c->auth.password);
      t->auth_name = strdup("Authorization");
      hl_buf_put_cstr(&v, "Basic ");
      hl_buf_put_base64(&v, u.ptr, u.len);
      OPENSSL_cleanse(up, sizeof(up));
      break;
    }
    case HL_AUTH_API_KEY:
      t->auth_name = strdup(c->auth.header);
      hl_buf_put_cstr(&v, c->auth.value);
      break;
  }
  t->auth_value = hl_buf_ok(&v) ? dup_span(hl_buf_span(&v)) : NULL;
  OPENSSL_cleanse(mem, sizeof(mem));
  if (t->auth_name == NULL || t->auth_value == NULL) {
    return hl_err_fail(err, -ENOMEM, "auth: out of memory or too long");
  }
  return 0;
}

static int compile_filters(hl_json_path **out, uint32_t *out_n, char *const *paths, uint32_t n,
                           const char *field, hl_err *err) {
  *out_n = 0;
  if (n == 0) {
    return 0;
  }
  *out = calloc(n, sizeof(hl_json_path));
  if (*out == NULL) {
    return hl_err_fail(err, -ENOMEM, "%s: out of memory", field);
  }
  for (uint32_t i = 0; i < n; i++) {
    int rc = hl_json_path_compile(hl_span_cstr(paths[i]), &(*out)[i], err);
    if (rc != 0) {
      hl_err_prefix(err, "filter.%s[%u]", field, i);
      return rc;
    }
    (*out_n)++;
  }
  return 0;
}

static int compile_kvs(hl_target *t, const hl_endpoint_kv *kv, uint32_t n, hl_target_kv *out,
                       uint32_t *out_n, hl_template_kind kind, const char *field, hl_buf *names,
                       hl_err *err) {
  for (uint32_t i = 0; i < n; i++) {
    char where[96];
    hl_buf w;
    hl_buf_init(&w, where, sizeof(where));
    hl_buf_printf(&w, "%s.%.64s", field, kv[i].name);
    int rc = compile(t, kind, hl_span_cstr(kv[i].value), &out[i].value, hl_buf_cstr(&w), err);
    if (rc != 0) {
      return rc;
    }
    size_t at = names->len;
    if (kind == HL_TEMPLATE_URL_QUERY) {
      hl_url_encode_component(hl_span_cstr(kv[i].name), names);
    } else {
      hl_buf_put_cstr(names, kv[i].name);
    }
    if (!hl_buf_ok(names)) {
      return hl_err_fail(err, -E2BIG, "%s: names too long", field);
    }
    out[i].name = hl_span_make(names->ptr + at, names->len - at); /* names never moves */
    (*out_n)++;
  }
  return 0;
}

static int target_build(hl_target *t, const hl_endpoint_config *c, hl_err *err) {
  memcpy(t->id, c->id, sizeof(t->id));
  t->method = c->method;
  t->allow_http = c->allow_http;
  t->timeout_ms = c->timeout_ms;
  t->url_text = strdup(c->url);
  t->templates = hl_template_set_new();
  t->names_mem = malloc(HL_URL_BYTES_MAX * 2);
  if (t->url_text == NULL || t->templates == NULL || t->names_mem == NULL) {
    return hl_err_fail(err, -ENOMEM, "endpoint %s: out of memory", c->id);
  }
  int rc = hl_url_parse(hl_span_cstr(t->url_text), &t->url, err);
  if (rc != 0) {
    hl_err_prefix(err, "url");
    return rc;
  }
  hl_span path = t->url.path.len > 0 ? t->url.path : HL_SPAN_LIT("/");
  rc = compile(t, HL_TEMPLATE_URL_PATH, path, &t->path, "url (path)", err);
  if (rc == 0 && t->url.has_query && t->url.query.len > 0) {
    rc = compile(t, HL_TEMPLATE_URL_PATH, t->url.query, &t->url_query, "url (query)", err);
  }
  if (rc == 0 && c->method != HL_HTTP_GET && c->method != HL_HTTP_DELETE) {
    hl_span text = c->template_text != NULL ? hl_span_cstr(c->template_text)
                                            : hl_template_default_body();
    hl_template_kind kind = c->template_is_value ? HL_TEMPLATE_JSON_STRINGS : HL_TEMPLATE_JSON;
    rc = compile(t, kind, text, &t->body, "template", err);
  }
  hl_buf names;
  hl_buf_init(&names, t->names_mem, HL_URL_BYTES_MAX * 2);
  if (rc == 0) {
    rc = compile_kvs(t, c->headers, c->headers_n, t->headers, &t->headers_n, HL_TEMPLATE_HEADER,
                     "headers", &names, err);
  }
  if (rc == 0) {
    rc = compile_kvs(t, c->query, c->query_n, t->query, &t->query_n, HL_TEMPLATE_URL_QUERY,
                     "query", &names, err);
  }
  if (rc == 0) {
    rc = compile_auth(t, c, err);
  }
  if (rc == 0 && c->signing.scheme != HL_SIGN_NONE) {
    rc = hl_endpoint_signer_init(c, &t->signer, err);
    t->signs = rc == 0;
  }
  /* The event and id headers: defaults, or none when configured empty. The
   * standard scheme writes webhook-id itself. */
  const char *ev = c->event_header != NULL ? c->event_header : X_WEBHOOK_EVENT;
  if (ev[0] != '\0') {
    t->event_header = strdup(ev);
  }
  if (c->signing.scheme != HL_SIGN_STANDARD) {
    const char *idh = c->id_header != NULL ? c->id_header : X_WEBHOOK_ID;
    if (idh[0] != '\0') {
      t->id_header = strdup(idh);
    }
  }
  for (uint32_t i = 0; rc == 0 && i < c->events_n; i++) {
    t->events[i] = strdup(c->events[i]);
    t->events_n++;
  }
  if (rc == 0) {
    rc = compile_filters(&t->filter_any, &t->filter_any_n, c->filter_any, c->filter_any_n,
                         "any_present", err);
  }
  if (rc == 0) {
    rc = compile_filters(&t->filter_all, &t->filter_all_n, c->filter_all, c->filter_all_n,
                         "all_present", err);
  }
  const uint32_t *sched = c->retry_n > 0 ? c->retry_schedule_s : hl_retry_schedule_default_s;
  uint32_t sched_n = c->retry_n > 0 ? c->retry_n : hl_retry_schedule_default_n;
  memcpy(t->retry_schedule_s, sched, sched_n * sizeof(sched[0]));
  t->retry = (hl_retry_policy){t->retry_schedule_s, sched_n};
  t->gate = (hl_gate_config){.max_inflight = c->max_connections,
                             .rate_per_s = c->rate_limit_per_s,
                             .breaker_threshold = HL_BREAKER_THRESHOLD_DEFAULT,
                             .open_ms = HL_BREAKER_OPEN_MS_DEFAULT,
                             .open_ms_max = HL_BREAKER_OPEN_MS_MAX_DEFAULT};
  return rc;
}

int hl_target_compile(const hl_endpoint_config *c, int64_t rowid, bool enabled, hl_target **out,
                      hl_err *err) {
  *out = NULL;
  hl_target *t = calloc(1, sizeof(*t));
  if (t == NULL) {
    return hl_err_fail(err, -ENOMEM, "endpoint %s: out of memory", c->id);
  }
  atomic_init(&t->refs, 1);
  t->rowid = rowid;
  t->enabled = enabled;
  int rc = target_build(t, c, err);
  if (rc != 0) {
    target_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

int hl_target_check(const hl_endpoint_config *c, hl_err *err) {
  hl_target *t;
  int rc = hl_target_compile(c, 0, true, &t, err);
  hl_target_unref(t);
  return rc;
}

static bool present(hl_span data, const hl_json_path *p) {
  hl_json_value v;
  if (hl_json_lookup(data, p, &v) != 0) {
    return false;
  }
  if (v.type == HL_JSON_NULL || v.type == HL_JSON_NONE) {
    return false;
  }
  return v.type != HL_JSON_STRING || v.raw.len > 2; /* "" counts as absent */
}

bool hl_target_wants(const hl_target *t, hl_span event, hl_span data) {
  if (t->events_n > 0) {
    bool any = false;
    for (uint32_t i = 0; i < t->events_n && !any; i++) {
      any = hl_endpoint_event_matches(hl_span_cstr(t->events[i]), event);
    }
    if (!any) {
      return false;
    }
  }
  for (uint32_t i = 0; i < t->filter_all_n; i++) {
    if (!present(data, &t->filter_all[i])) {
      return false;
    }
  }
  if (t->filter_any_n == 0) {
    return true;
  }
  for (uint32_t i = 0; i < t->filter_any_n; i++) {
    if (present(data, &t->filter_any[i])) {
      return true;
    }
  }
  return false;
}

static void add_header(hl_target_request *out, hl_span name, hl_span value) {
  HL_ASSERT(out->headers_n < HL_ARRAY_LEN(out->headers));
  out->headers[out->headers_n++] = (hl_h1_header){name, value};
}

int hl_target_render(const hl_target *t, const hl_template_msg *m, hl_json_value *values,
                     hl_buf *body_buf, hl_buf *scratch, hl_target_request *out) {
  out->headers_n = 0;
  int rc = hl_template_resolve(t->templates, m->data, values);
  if (rc < 0) {
    return rc;
  }
  /* Body after the signer's headroom. */
  if (hl_buf_reserve(body_buf, HL_SIGN_HEADROOM_BYTES) == NULL) {
    return -ENOSPC;
  }
  size_t body_at = body_buf->len;
  if (t->body != NULL) {
    rc = hl_template_render(t->body, values, m, body_buf);
    if (rc != 0) {
      return rc;
    }
  }
  out->body = hl_span_make(body_buf->ptr + body_at, body_buf->len - body_at);

  size_t at = scratch->len;
  rc = hl_template_render(t->path, values, m, scratch);
  char sep = '?';
  if (rc == 0 && t->url_query != NULL) {
    hl_buf_putc(scratch, sep);
    sep = '&';
    rc = hl_template_render(t->url_query, values, m, scratch);
  }
  for (uint32_t i = 0; rc == 0 && i < t->query_n; i++) {
    hl_buf_putc(scratch, sep);
    sep = '&';
    hl_buf_put_span(scratch, t->query[i].name);
    hl_buf_putc(scratch, '=');
    rc = hl_template_render(t->query[i].value, values, m, scratch);
  }
  if (rc != 0 || !hl_buf_ok(scratch)) {
    return rc != 0 ? rc : -ENOSPC;
  }
  out->target = hl_span_make(scratch->ptr + at, scratch->len - at);

  for (uint32_t i = 0; i < t->headers_n; i++) {
    at = scratch->len;
    rc = hl_template_render(t->headers[i].value, values, m, scratch);
    if (rc != 0) {
      return rc;
    }
    add_header(out, t->headers[i].name, hl_span_make(scratch->ptr + at, scratch->len - at));
  }
  if (t->auth_name != NULL) {
    add_header(out, hl_span_cstr(t->auth_name), hl_span_cstr(t->auth_value));
  }
  if (t->event_header != NULL) {
    add_header(out, hl_span_cstr(t->event_header), m->event);
  }
  if (t->id_header != NULL) {
    add_header(out, hl_span_cstr(t->id_header), m->id);
  }
  return 0;
}

#define HEAD_FIXED_BYTES 512

int hl_target_build(const hl_target *t, const hl_template_msg *m, uint64_t ts_s,
                    hl_json_value *values, char *scratch_body, char *scratch_misc,
                    hl_target_built *out, hl_sign_state *sign,
                    hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX], hl_err *err) {
  memset(out, 0, sizeof(*out));
  hl_buf body, misc;
  hl_buf_init(&body, scratch_body, HL_SIGN_HEADROOM_BYTES + HL_RENDER_BYTES_MAX);
  hl_buf_init(&misc, scratch_misc, HL_RENDER_BYTES_MAX);
  hl_target_request req;
  int rc = hl_target_render(t, m, values, &body, &misc, &req);
  if (rc != 0) {
    return hl_err_fail(err, rc, "the request could not be rendered: %s",
                       rc == -E2BIG ? "larger than HL_RENDER_BYTES_MAX" : "out of room");
  }
  size_t head_max = HEAD_FIXED_BYTES + req.target.len + t->url.host.name.len +
                    HL_SIGN_HEADER_LINES_BYTES_MAX;
  for (size_t i = 0; i < req.headers_n; i++) {
    head_max += req.headers[i].name.len + req.headers[i].value.len + 4;
  }
  out->buf = malloc(HL_SIGN_HEADROOM_BYTES + req.body.len + head_max);
  if (out->buf == NULL) {
    return hl_err_fail(err, -ENOMEM, "out of memory");
  }
  char *body_at = out->buf + HL_SIGN_HEADROOM_BYTES;
  if (req.body.len > 0) {
    memcpy(body_at, req.body.ptr, req.body.len);
  }
  out->body = hl_span_make(body_at, req.body.len);
  hl_buf_init(&out->head, body_at + req.body.len, head_max);
  hl_h1_request h1 = {.method = t->method,
                      .host = t->url.host.name,
                      .port = t->url.port_explicit ? t->url.port : 0,
                      .tls = t->url.scheme == HL_URL_HTTPS,
                      .target = req.target,
                      .headers = req.headers,
                      .headers_len = req.headers_n,
                      .body = out->body};
  struct iovec iov[2];
  rc = hl_h1_request_write(&h1, &out->head, iov, err);
  if (rc != 0 || !t->signs) {
    return rc;
  }
  return hl_signer_prepare(&t->signer, sign, m->id, ts_s, body_at, out->body.len,
                           HL_SIGN_HEADROOM_BYTES, jobs, err);
}

void hl_target_finish(const hl_target *t, hl_target_built *b, const hl_sign_state *sign) {
  if (!t->signs) {
    return;
  }
  /* The head ends with its blank line; the signature lines go before it. */
  hl_buf_truncate(&b->head, b->head.len - 2);
  hl_signer_finish(&t->signer, sign, &b->head);
  hl_buf_put(&b->head, "\r\n", 2);
  HL_ASSERT(hl_buf_ok(&b->head));
}
