/* message: validation, encoding and decoding (see message.h). */
#include "ring/message.h"

#include <errno.h>
#include <string.h>

#include "base/limits.h"
#include "text/json_scan.h"

/* One bit per byte value allowed in names: [A-Za-z0-9_.:-]. */
static bool name_byte_ok(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == ':' || c == '-';
}

bool hl_msg_name_ok(hl_span s, size_t *bad) {
  for (size_t i = 0; i < s.len; i++) {
    if (!name_byte_ok((unsigned char)s.ptr[i])) {
      *bad = i;
      return false;
    }
  }
  return true;
}

static int check_name(hl_span s, const char *field, size_t max, bool required, hl_err *err) {
  if (s.len == 0) {
    if (required) {
      return hl_err_fail(err, -EINVAL, "%s: empty; name the event, e.g. lead.created", field);
    }
    return 0;
  }
  if (s.len > max) {
    return hl_err_fail(err, -EMSGSIZE, "%s: %zu bytes, longer than the limit of %zu", field,
                       s.len, max);
  }
  size_t bad;
  if (!hl_msg_name_ok(s, &bad)) {
    return hl_err_fail(err, -EINVAL,
                       "%s: byte %zu (0x%02x) is not allowed; use letters, digits and _ . : -",
                       field, bad, (unsigned)(unsigned char)s.ptr[bad]);
  }
  return 0;
}

/* data_check is the one place that decides whether `data` is acceptable
 * JSON: strictly valid (text/json_scan.h), an object, within the depth
 * limit. */
static int data_check(hl_span data, hl_err *err) {
  int rc = hl_json_validate_object(data, HL_JSON_DEPTH_MAX, err);
  if (rc != 0) {
    hl_err_prefix(err, "data");
    return -EINVAL;
  }
  return 0;
}

int hl_msg_validate(const hl_msg *m, hl_err *err) {
  int rc = check_name(m->event, "event", HL_EVENT_NAME_BYTES_MAX, true, err);
  if (rc == 0) {
    rc = check_name(m->id, "id", HL_MESSAGE_ID_BYTES_MAX, false, err);
  }
  if (rc == 0) {
    rc = check_name(m->endpoint, "endpoint", HL_ENDPOINT_ID_BYTES_MAX, false, err);
  }
  if (rc == 0) {
    rc = check_name(m->tenant, "tenant", HL_TENANT_BYTES_MAX, false, err);
  }
  if (rc != 0) {
    return rc;
  }
  if (m->data.len == 0) {
    return hl_err_fail(err, -EINVAL, "data: empty; send a JSON object, at least {}");
  }
  if (m->data.len > HL_MESSAGE_DATA_BYTES_MAX) {
    return hl_err_fail(err, -EMSGSIZE, "data: %zu bytes, larger than the limit of %d bytes",
                       m->data.len, HL_MESSAGE_DATA_BYTES_MAX);
  }
  return data_check(m->data, err);
}

size_t hl_msg_encoded_bytes(const hl_msg *m) {
  return HL_MSG_HEADER_BYTES + m->event.len + m->id.len + m->endpoint.len + m->tenant.len +
         m->data.len;
}

static void put_u16(uint8_t *p, size_t v) {
  uint16_t x = (uint16_t)v;
  memcpy(p, &x, sizeof(x));
}

static uint16_t get_u16(const uint8_t *p) {
  uint16_t x;
  memcpy(&x, p, sizeof(x));
  return x;
}

static uint8_t *put_span(uint8_t *p, hl_span s) {
  if (s.len > 0) {
    memcpy(p, s.ptr, s.len);
  }
  return p + s.len;
}

size_t hl_msg_encode(const hl_msg *m, void *out, size_t cap) {
  size_t n = hl_msg_encoded_bytes(m);
  if (n > cap) {
    return 0;
  }
  uint8_t *p = out;
  p[0] = HL_MSG_ENCODING_VERSION;
  p[1] = 0;
  put_u16(p + 2, m->event.len);
  put_u16(p + 4, m->id.len);
  put_u16(p + 6, m->endpoint.len);
  put_u16(p + 8, m->tenant.len);
  put_u16(p + 10, 0);
  uint32_t data_len = (uint32_t)m->data.len;
  memcpy(p + 12, &data_len, sizeof(data_len));
  memcpy(p + 16, &m->timestamp_ms, sizeof(m->timestamp_ms));
  p += HL_MSG_HEADER_BYTES;
  p = put_span(p, m->event);
  p = put_span(p, m->id);
  p = put_span(p, m->endpoint);
  p = put_span(p, m->tenant);
  put_span(p, m->data);
  return n;
}

static int decode_name(hl_span *rest, size_t len, const char *field, size_t max, bool required,
                       hl_span *out, hl_err *err) {
  if (!hl_span_get_bytes(rest, len, out)) {
    return hl_err_fail(err, HL_INVALID, "message: %s length %zu runs past the record", field,
                       len);
  }
  if (check_name(*out, field, max, required, err) != 0) {
    hl_err_prefix(err, "message");
    return HL_INVALID;
  }
  return 0;
}

int hl_msg_decode(hl_span in, hl_msg *out, hl_err *err) {
  if (in.len < HL_MSG_HEADER_BYTES) {
    return hl_err_fail(err, HL_INVALID, "message: %zu bytes, shorter than its %d-byte header",
                       in.len, HL_MSG_HEADER_BYTES);
  }
  if (in.len > HL_RING_RECORD_BYTES_MAX) {
    return hl_err_fail(err, HL_INVALID, "message: %zu bytes, larger than a record may be",
                       in.len);
  }
  const uint8_t *p = (const uint8_t *)in.ptr;
  if (p[0] != HL_MSG_ENCODING_VERSION) {
    return hl_err_fail(err, HL_INVALID, "message: encoding version %u, expected %d", p[0],
                       HL_MSG_ENCODING_VERSION);
  }
  if (p[1] != 0 || get_u16(p + 10) != 0) {
    return hl_err_fail(err, HL_INVALID, "message: reserved header bytes are not zero");
  }
  size_t event_len = get_u16(p + 2), id_len = get_u16(p + 4), endpoint_len = get_u16(p + 6),
         tenant_len = get_u16(p + 8);
  uint32_t data_len;
  memcpy(&data_len, p + 12, sizeof(data_len));
  hl_msg m;
  memcpy(&m.timestamp_ms, p + 16, sizeof(m.timestamp_ms));
  hl_span rest = hl_span_sub(in, HL_MSG_HEADER_BYTES, in.len);
  int rc = decode_name(&rest, event_len, "event", HL_EVENT_NAME_BYTES_MAX, true, &m.event, err);
  if (rc == 0) {
    rc = decode_name(&rest, id_len, "id", HL_MESSAGE_ID_BYTES_MAX, false, &m.id, err);
  }
  if (rc == 0) {
    rc = decode_name(&rest, endpoint_len, "endpoint", HL_ENDPOINT_ID_BYTES_MAX, false,
                     &m.endpoint, err);
  }
  if (rc == 0) {
    rc = decode_name(&rest, tenant_len, "tenant", HL_TENANT_BYTES_MAX, false, &m.tenant, err);
  }
  if (rc != 0) {
    return rc;
  }
  if (data_len != rest.len) {
    return hl_err_fail(err, HL_INVALID, "message: data length %u, but %zu bytes remain",
                       data_len, rest.len);
  }
  if (data_len == 0 || data_len > HL_MESSAGE_DATA_BYTES_MAX) {
    return hl_err_fail(err, HL_INVALID, "message: data length %u is outside 1..%d", data_len,
                       HL_MESSAGE_DATA_BYTES_MAX);
  }
  m.data = rest;
  *out = m;
  return (int)in.len;
}
