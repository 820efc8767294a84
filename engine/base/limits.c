/* limits: the built-in defaults (see limits.h). */
#include "base/limits.h"

hl_limits hl_limits_default(void) {
  return (hl_limits){
      .message_data_bytes_max = HL_MESSAGE_DATA_BYTES_MAX,
      .json_depth_max = HL_JSON_DEPTH_MAX,
      .conns_max = HL_CONNS_MAX,
      .conns_per_origin_max = HL_CONNS_PER_ORIGIN_MAX,
      .requests_per_conn_max = HL_REQUESTS_PER_CONN_MAX,
      .pool_idle_timeout_ms = HL_POOL_IDLE_TIMEOUT_MS,
      .connect_timeout_ms = HL_CONNECT_TIMEOUT_MS,
      .tls_handshake_timeout_ms = HL_TLS_HANDSHAKE_TIMEOUT_MS,
      .response_header_timeout_ms = HL_RESPONSE_HEADER_TIMEOUT_MS,
      .request_timeout_ms = HL_REQUEST_TIMEOUT_MS,
      .dns_timeout_ms = HL_DNS_TIMEOUT_MS,
      .http_body_bytes_kept = HL_HTTP_BODY_BYTES_KEPT,
      .http_body_bytes_discard_max = HL_HTTP_BODY_BYTES_DISCARD_MAX,
      .deliveries_in_flight_max = HL_DELIVERIES_IN_FLIGHT_MAX,
  };
}
