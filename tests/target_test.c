/* Tests for deliver/target: compiling endpoints, matching, and rendering a
 * whole request (body, target, headers, signature). */
#include "deliver/target.h"

#include <errno.h>
#include <stdlib.h>

#include "harness.h"

static hl_target *compile_json(const char *text, hl_err *err, int *rc_out) {
  cJSON *j = cJSON_Parse(text);
  ASSERT_TRUE(j != NULL);
  hl_endpoint_config c;
  hl_err perr = {{0}};
  int rc = hl_endpoint_parse(j, HL_ENDPOINT_FROM_USER, &c, &perr);
  cJSON_Delete(j);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "parse: %s", perr.msg);
  }
  hl_target *t = NULL;
  *rc_out = hl_target_compile(&c, 42, true, &t, err);
  hl_endpoint_config_free(&c);
  return t;
}

static const char *lead =
    "{\"email\":\"ann@example.com\",\"phone\":\"+15551234567\",\"firstName\":\"Ann \\\"A\\\"\","
    "\"source\":\"widget\",\"tenant\":\"t 1/2\",\"tags\":[\"a\",\"b\"]}";

TEST(renders_the_documented_endpoint) {
  hl_err err = {{0}};
  int rc;
  hl_target *t = compile_json(
      "{\"id\": \"crm\", \"url\": \"https://crm.example.com/hooks/{{source}}?v=2\","
      " \"events\": [\"lead.*\"], \"headers\": {\"X-Source\": \"{{source}}\"},"
      " \"query\": {\"tenant\": \"{{tenant}}\"},"
      " \"auth\": {\"type\": \"basic\", \"username\": \"u\", \"password\": \"p\"},"
      " \"template\": {\"properties\": {\"email\": \"{{email}}\", \"firstname\": \"{{firstName}}\","
      " \"missing\": \"{{nope}}\"}},"
      " \"signing\": {\"scheme\": \"standard\", \"secret\": \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}}",
      &err, &rc);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "compile: %s", err.msg);
  }
  ASSERT_EQ(t->rowid, 42);
  ASSERT_TRUE(hl_target_wants(t, HL_SPAN_LIT("lead.created"), hl_span_cstr(lead)));
  ASSERT_FALSE(hl_target_wants(t, HL_SPAN_LIT("ticket.created"), hl_span_cstr(lead)));

  hl_template_msg m = {.id = HL_SPAN_LIT("msg_1"), .event = HL_SPAN_LIT("lead.created"),
                       .data = hl_span_cstr(lead), .timestamp_ms = 1614265330000};
  hl_json_value *values = calloc(hl_template_set_values_n(t->templates) + 1, sizeof(*values));
  char body_mem[4096], scratch_mem[4096];
  hl_buf body, scratch;
  hl_buf_init(&body, body_mem, sizeof(body_mem));
  hl_buf_init(&scratch, scratch_mem, sizeof(scratch_mem));
  hl_target_request req;
  ASSERT_EQ(hl_target_render(t, &m, values, &body, &scratch, &req), 0);
  ASSERT_SPAN_EQ(req.body,
                 "{\"properties\":{\"email\":\"ann@example.com\",\"firstname\":\"Ann \\\"A\\\"\","
                 "\"missing\":\"\"}}");
  ASSERT_EQ(req.body.ptr - body.ptr, HL_SIGN_HEADROOM_BYTES);
  ASSERT_SPAN_EQ(req.target, "/hooks/widget?v=2&tenant=t%201%2F2");
  ASSERT_EQ(req.headers_n, 3);
  ASSERT_SPAN_EQ(req.headers[0].name, "X-Source");
  ASSERT_SPAN_EQ(req.headers[0].value, "widget");
  ASSERT_SPAN_EQ(req.headers[1].name, "Authorization");
  ASSERT_SPAN_EQ(req.headers[1].value, "Basic dTpw");
  ASSERT_SPAN_EQ(req.headers[2].name, "X-Webhook-Event");
  ASSERT_SPAN_EQ(req.headers[2].value, "lead.created");

  /* The signature over the rendered body, with the headroom path. */
  hl_sign_state st;
  hl_sign_job jobs[HL_SECRETS_PER_ENDPOINT_MAX];
  int n = hl_signer_prepare(&t->signer, &st, m.id, 1614265330, (char *)req.body.ptr,
                            req.body.len, HL_SIGN_HEADROOM_BYTES, jobs, &err);
  ASSERT_EQ(n, 1);
  hl_sign_jobs_run(jobs, (size_t)n);
  char hdr_mem[1024];
  hl_buf hdrs;
  hl_buf_init(&hdrs, hdr_mem, sizeof(hdr_mem));
  ASSERT_EQ(hl_signer_finish(&t->signer, &st, &hdrs), 0);
  ASSERT_CONTAINS(hl_buf_cstr(&hdrs), "webhook-id: msg_1\r\n");
  ASSERT_CONTAINS(hl_buf_cstr(&hdrs), "webhook-signature: v1,");
  /* It verifies as a receiver would. */
  hl_sign_header got[3];
  size_t got_n = 0;
  hl_span rest = hl_buf_span(&hdrs), line;
  while (hl_span_get_until(&rest, '\n', &line)) {
    hl_span name;
    ASSERT_TRUE(hl_span_get_until(&line, ':', &name));
    got[got_n++] = (hl_sign_header){name, hl_span_trim_ows(hl_span_sub(line, 0, line.len - 1))};
  }
  ASSERT_EQ(hl_signer_verify(&t->signer, got, got_n, req.body, 1614265331, 300, &err), 0);
  free(values);
  hl_target_unref(t);
}

TEST(default_envelope_and_get_without_body) {
  hl_err err = {{0}};
  int rc;
  hl_target *t = compile_json("{\"id\":\"e\",\"url\":\"https://x.example.com\"}", &err, &rc);
  ASSERT_EQ(rc, 0);
  hl_template_msg m = {.id = HL_SPAN_LIT("msg_2"), .event = HL_SPAN_LIT("a.b"),
                       .data = HL_SPAN_LIT("{\"k\":1}"), .timestamp_ms = 0};
  hl_json_value values[8];
  char body_mem[1024], scratch_mem[1024];
  hl_buf body, scratch;
  hl_buf_init(&body, body_mem, sizeof(body_mem));
  hl_buf_init(&scratch, scratch_mem, sizeof(scratch_mem));
  hl_target_request req;
  ASSERT_EQ(hl_target_render(t, &m, values, &body, &scratch, &req), 0);
  ASSERT_SPAN_EQ(req.body,
                 "{\"type\":\"a.b\",\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"data\":{\"k\":1}}");
  ASSERT_SPAN_EQ(req.target, "/");
  ASSERT_EQ(req.headers_n, 2); /* X-Webhook-Event and X-Webhook-Id */
  ASSERT_SPAN_EQ(req.headers[1].value, "msg_2");
  hl_target_unref(t);

  t = compile_json("{\"id\":\"g\",\"url\":\"https://x.example.com/q\",\"method\":\"GET\","
                   "\"query\":{\"e\":\"{{$event}}\"},\"event_header\":\"\",\"id_header\":\"\"}",
                   &err, &rc);
  ASSERT_EQ(rc, 0);
  hl_buf_reset(&body);
  hl_buf_reset(&scratch);
  ASSERT_EQ(hl_target_render(t, &m, values, &body, &scratch, &req), 0);
  ASSERT_EQ(req.body.len, 0);
  ASSERT_SPAN_EQ(req.target, "/q?e=a.b");
  ASSERT_EQ(req.headers_n, 0);
  hl_target_unref(t);
}

TEST(template_errors_name_field_and_position) {
  hl_err err = {{0}};
  int rc;
  hl_target *t = compile_json("{\"id\":\"e\",\"url\":\"https://x.example.com\","
                              "\"template\":\"{\\n  \\\"a\\\": {{x}\\n}\"}",
                              &err, &rc);
  ASSERT_EQ(rc, -EINVAL);
  ASSERT_TRUE(t == NULL);
  ASSERT_CONTAINS(err.msg, "template: line 2");
  compile_json("{\"id\":\"e\",\"url\":\"https://x.example.com\","
               "\"headers\":{\"X-A\":\"{{a\"}}",
               &err, &rc);
  ASSERT_EQ(rc, -EINVAL);
  ASSERT_CONTAINS(err.msg, "headers.X-A");
  compile_json("{\"id\":\"e\",\"url\":\"https://x.example.com\","
               "\"template\":\"{{a}}: 1\"}",
               &err, &rc);
  ASSERT_EQ(rc, -EINVAL);
  ASSERT_CONTAINS(err.msg, "template:");
}

TEST(field_filters) {
  hl_err err = {{0}};
  int rc;
  hl_target *t = compile_json("{\"id\":\"f\",\"url\":\"https://x.example.com\","
                              "\"filter\":{\"any_present\":[\"email\",\"phone\"],"
                              "\"all_present\":[\"contact.id\"]}}",
                              &err, &rc);
  ASSERT_EQ(rc, 0);
  hl_span ev = HL_SPAN_LIT("lead.created");
  ASSERT_TRUE(hl_target_wants(t, ev, HL_SPAN_LIT("{\"contact\":{\"id\":1},\"phone\":\"1\"}")));
  ASSERT_FALSE(hl_target_wants(t, ev, HL_SPAN_LIT("{\"contact\":{\"id\":1}}")));
  ASSERT_FALSE(hl_target_wants(t, ev, HL_SPAN_LIT("{\"contact\":{\"id\":1},\"email\":\"\"}")));
  ASSERT_FALSE(hl_target_wants(t, ev, HL_SPAN_LIT("{\"contact\":{\"id\":1},\"email\":null}")));
  ASSERT_FALSE(hl_target_wants(t, ev, HL_SPAN_LIT("{\"email\":\"a\"}")));
  hl_target_unref(t);
}
