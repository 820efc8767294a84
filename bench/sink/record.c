/* record: --record's JSON lines, one per request, for tests to read while
 * the sink runs. Each line is formatted into the worker's buffer and written
 * with one write(2) to an O_APPEND file, so lines from several workers never
 * interleave and a reader sees whole lines as soon as the request is read.
 *
 *   {"ts_ms":1732262400123,"worker":0,"conn":3,"seq":1,"listener":0,
 *    "port":40123,"tls":true,"method":"POST","target":"/hooks/a",
 *    "headers":[["Host","127.0.0.1:40123"],["Content-Length","11"]],
 *    "body":"hello world","body_bytes":11,"body_truncated":false,
 *    "route":"/hooks","mode":"normal","status":200,
 *    "sig":"valid","sig_error":null}
 *
 * "body" holds the body as a JSON string when it is UTF-8, else "body_b64"
 * holds it in base64; at most --record-body-bytes of it (body_truncated
 * says whether that was all). "sig" is absent without --verify. */
#include <errno.h>

#include "base/buf.h"
#include "base/clock.h"
#include "http/h1_request_parse.h"
#include "sink.h"
#include "text/json_escape.h"
#include "text/utf8.h"

static void put_str(hl_buf *b, hl_span s) {
  hl_buf_putc(b, '"');
  hl_json_escape(b, s);
  hl_buf_putc(b, '"');
}

static void put_key(hl_buf *b, const char *key) {
  hl_buf_putc(b, ',');
  hl_buf_putc(b, '"');
  hl_buf_put_cstr(b, key);
  hl_buf_put_cstr(b, "\":");
}

int sink_record_line(const sink_config *cfg, const sink_record_info *in, hl_buf *b) {
  const hl_h1_parsed_request *req = in->req;
  const sink_listener *l = &cfg->listeners[in->listener];
  hl_buf_printf(b, "{\"ts_ms\":%llu", (unsigned long long)hl_clock_wall_ms());
  put_key(b, "worker");
  hl_buf_put_u64(b, in->worker);
  put_key(b, "conn");
  hl_buf_put_u64(b, in->conn);
  put_key(b, "seq");
  hl_buf_put_u64(b, in->seq);
  put_key(b, "listener");
  hl_buf_put_u64(b, in->listener);
  put_key(b, "port");
  hl_buf_put_u64(b, l->port);
  put_key(b, "tls");
  hl_buf_put_cstr(b, in->tls ? "true" : "false");
  put_key(b, "method");
  put_str(b, req->method);
  put_key(b, "target");
  put_str(b, req->target);
  put_key(b, "headers");
  hl_buf_putc(b, '[');
  for (size_t i = 0; i < req->fields_n; i++) {
    hl_buf_put_cstr(b, i == 0 ? "[" : ",[");
    put_str(b, req->fields[i].name);
    hl_buf_putc(b, ',');
    put_str(b, req->fields[i].value);
    hl_buf_putc(b, ']');
  }
  hl_buf_putc(b, ']');
  hl_span body = in->body;
  if (body.len > cfg->record_body_bytes) {
    body.len = cfg->record_body_bytes;
  }
  if (hl_utf8_valid(body)) {
    put_key(b, "body");
    put_str(b, body);
  } else {
    put_key(b, "body_b64");
    hl_buf_putc(b, '"');
    hl_buf_put_base64(b, body.ptr, body.len);
    hl_buf_putc(b, '"');
  }
  put_key(b, "body_bytes");
  hl_buf_put_u64(b, in->body_bytes);
  put_key(b, "body_truncated");
  hl_buf_put_cstr(b, body.len < in->body_bytes ? "true" : "false");
  put_key(b, "route");
  if (in->route_matched) {
    put_str(b, hl_span_cstr(in->route->text));
  } else {
    hl_buf_put_cstr(b, "null");
  }
  put_key(b, "mode");
  put_str(b, hl_span_cstr(sink_mode_name(in->route->mode)));
  put_key(b, "status");
  if (in->status > 0) {
    hl_buf_put_u64(b, (uint64_t)in->status);
  } else {
    hl_buf_put_cstr(b, "null");
  }
  if (in->sig != NULL) {
    put_key(b, "sig");
    put_str(b, hl_span_cstr(in->sig));
    put_key(b, "sig_error");
    if (in->sig_error != NULL) {
      put_str(b, hl_span_cstr(in->sig_error));
    } else {
      hl_buf_put_cstr(b, "null");
    }
  }
  hl_buf_put_cstr(b, "}\n");
  return hl_buf_ok(b) ? 0 : -ENOSPC;
}
