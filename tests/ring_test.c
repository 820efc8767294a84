/* Tests for the ring in one process: layout and header validation, CRC-32C,
 * the message codec and its validation messages, message ids, and the
 * producer/consumer pair on a file-backed segment (release bookkeeping,
 * wrap-around, fairness, corruption, sleep protocol, backpressure,
 * re-attach). Several processes at once: it_ring_test.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/clock.h"
#include "harness.h"
#include "hookline/hookline.h"
#include "ring/consumer.h"
#include "ring/crc32c.h"
#include "ring/message.h"
#include "ring/msgid.h"
#include "ring/producer.h"
#include "ring/ring_layout.h"

/* The first (in these tests, only) cursor of a consumer. */
#define K(c) hl_ring_consumer_cursor((c), 0)

#define SMALL_LANE (2u * 1024 * 1024) /* the smallest power of two above the minimum */

/* --- helpers -------------------------------------------------------------- */

static const char *ring_path(const char *tag) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", hl_test_tmpdir(), tag);
  return path;
}

typedef struct corrupt_log {
  int count;
  uint32_t lane;
  char last[512];
} corrupt_log;

static void on_corrupt(void *ctx, uint32_t cursor, uint32_t lane, uint64_t pos,
                       const char *reason) {
  (void)cursor;
  (void)pos;
  corrupt_log *log = ctx;
  log->count++;
  log->lane = lane;
  snprintf(log->last, sizeof(log->last), "%s", reason);
}

static hl_ring_consumer *make_consumer(const char *path, uint32_t lanes, uint32_t inflight,
                                       corrupt_log *log) {
  hl_ring_consumer_options o = {.create = true,
                                .lanes = lanes,
                                .lane_bytes = SMALL_LANE,
                                .inflight_per_lane = inflight,
                                .on_corrupt = on_corrupt,
                                .on_corrupt_ctx = log};
  hl_ring_consumer *c = NULL;
  hl_err err;
  int rc = hl_ring_consumer_open(&c, path, &o, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "consumer open: %s", err.msg);
  }
  return c;
}

static void open_producer(hl_ring_producer *p, const char *path) {
  hl_err err;
  int rc = hl_ring_producer_open(p, path, 0, &err);
  if (rc != 0) {
    hl_test_fail(__FILE__, __LINE__, "producer open: %s", err.msg);
  }
}

/* put writes one raw record holding |len| bytes of |fill| (plus its index
 * in the first 4 bytes) and publishes it. */
static int put(hl_ring_producer *p, uint32_t idx, size_t len, int timeout_ms) {
  void *dst;
  hl_err err;
  int rc = hl_ring_producer_reserve(p, len, timeout_ms, &dst, &err);
  if (rc != 0) {
    return rc;
  }
  memset(dst, (int)(idx & 0x7f), len);
  memcpy(dst, &idx, len < 4 ? len : 4);
  hl_ring_producer_commit(p, len);
  hl_ring_producer_publish(p);
  return 0;
}

static uint32_t item_idx(const hl_ring_item *it) {
  uint32_t v = 0;
  memcpy(&v, it->payload.ptr, it->payload.len < 4 ? it->payload.len : 4);
  return v;
}

static hl_ring_lane_info lane_info(hl_ring_consumer *c, uint32_t lane) {
  hl_ring_lane_info info;
  ASSERT_EQ(hl_ring_cursor_lane_info(K(c), lane, &info), 0);
  return info;
}

/* --- CRC-32C and layout ----------------------------------------------------- */

TEST(crc32c_known_vectors_and_paths_agree) {
  ASSERT_EQ(hl_crc32c(0, "123456789", 9), 0xe3069283u);
  ASSERT_EQ(hl_crc32c_portable(0, "123456789", 9), 0xe3069283u);
  ASSERT_EQ(hl_crc32c(0, "", 0), 0u);
  uint8_t zeros[32] = {0};
  ASSERT_EQ(hl_crc32c(0, zeros, sizeof(zeros)), 0x8a9136aau); /* RFC 3720 B.4 */
  uint8_t buf[1100];
  for (size_t i = 0; i < sizeof(buf); i++) {
    buf[i] = (uint8_t)hl_test_rand();
  }
  for (int iter = 0; iter < 500; iter++) {
    size_t off = hl_test_rand() % 16, len = hl_test_rand() % (sizeof(buf) - 16);
    uint32_t seed = (uint32_t)hl_test_rand();
    ASSERT_EQ(hl_crc32c(seed, buf + off, len), hl_crc32c_portable(seed, buf + off, len));
    /* Extending in two steps equals one pass. */
    size_t cut = len > 0 ? hl_test_rand() % len : 0;
    ASSERT_EQ(hl_crc32c(hl_crc32c(0, buf + off, cut), buf + off + cut, len - cut),
              hl_crc32c(0, buf + off, len));
    uint64_t head[2] = {hl_test_rand(), seed};
    ASSERT_EQ(hl_crc32c_x3(head, buf + off, len), hl_crc32c_x3_portable(head, buf + off, len));
  }
  /* The three-stream checksum notices a flipped bit anywhere, a swapped
   * pair of words, and a different length of zeros. */
  const uint64_t h0[2] = {0, 0};
  for (size_t len = 1; len < 200; len += 7) {
    uint32_t base = hl_crc32c_x3(h0, buf, len);
    size_t bit = hl_test_rand() % (len * 8);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ASSERT_NE(hl_crc32c_x3(h0, buf, len), base);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    /* ... and in either header word. */
    uint64_t h1[2] = {1ull << (len % 64), 0}, h2[2] = {0, 1ull << (len % 64)};
    ASSERT_NE(hl_crc32c_x3(h1, buf, len), base);
    ASSERT_NE(hl_crc32c_x3(h2, buf, len), base);
  }
  uint8_t w[48];
  memcpy(w, buf, sizeof(w));
  uint32_t before = hl_crc32c_x3(h0, w, sizeof(w));
  memcpy(w, buf + 8, 8);
  memcpy(w + 8, buf, 8);
  ASSERT_NE(hl_crc32c_x3(h0, w, sizeof(w)), before);
  ASSERT_NE(hl_crc32c_x3(h0, zeros, 16), hl_crc32c_x3(h0, zeros, 24));
}

TEST(geometry_bounds_and_alignment) {
  hl_ring_geometry g;
  hl_err err;
  ASSERT_EQ(hl_ring_geometry_compute(0, SMALL_LANE, &g, &err), -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "ring lanes: 0") != NULL);
  ASSERT_EQ(hl_ring_geometry_compute(HL_RING_LANES_MAX + 1, SMALL_LANE, &g, &err), -EINVAL);
  ASSERT_EQ(hl_ring_geometry_compute(4, 3u << 20, &g, &err), -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "power of two") != NULL);
  ASSERT_EQ(hl_ring_geometry_compute(4, 1u << 20, &g, &err), -EINVAL); /* below the minimum */
  ASSERT_EQ(hl_ring_geometry_compute(5, SMALL_LANE, &g, &err), 0);
  ASSERT_EQ(g.lanes_offset % HL_RING_PAGE_BYTES, 0);
  ASSERT_EQ(g.data_offset % HL_RING_PAGE_BYTES, 0);
  ASSERT_GE(g.data_offset, g.lanes_offset + 5 * sizeof(hl_ring_lane));
  ASSERT_EQ(g.segment_bytes, g.data_offset + 5ull * SMALL_LANE);
  ASSERT_EQ(hl_ring_record_bytes(1), 32);
  ASSERT_EQ(hl_ring_record_bytes(16), 32);
  ASSERT_EQ(hl_ring_record_bytes(17), 48);
}

TEST(header_check_reports_each_problem) {
  hl_ring_geometry g;
  ASSERT_EQ(hl_ring_geometry_compute(2, SMALL_LANE, &g, NULL), 0);
  hl_ring_header *h = aligned_alloc(HL_RING_PAGE_BYTES, HL_RING_PAGE_BYTES);
  memset(h, 0, HL_RING_PAGE_BYTES);
  hl_ring_geometry got;
  hl_err err;
  ASSERT_EQ(hl_ring_header_check(h, g.segment_bytes, "r", &got, &err), -EAGAIN);
  hl_ring_header_init(h, &g);
  ASSERT_EQ(hl_ring_header_check(h, g.segment_bytes, "r", &got, &err), 0);
  ASSERT_EQ(got.segment_bytes, g.segment_bytes);
  ASSERT_EQ(hl_ring_header_check(h, g.segment_bytes - 1, "r", &got, &err), -EPROTO);
  ASSERT_TRUE(strstr(err.msg, "the segment has") != NULL);
  ASSERT_EQ(hl_ring_header_check(h, 100, "r", &got, &err), -EPROTO);
  h->layout_version = 7;
  ASSERT_EQ(hl_ring_header_check(h, g.segment_bytes, "r", &got, &err), -EPROTONOSUPPORT);
  ASSERT_TRUE(strstr(err.msg, "layout version 7") != NULL);
  h->layout_version = HL_RING_LAYOUT_VERSION;
  h->lane_bytes = 12345;
  ASSERT_EQ(hl_ring_header_check(h, g.segment_bytes, "r", &got, &err), -EPROTO);
  ASSERT_TRUE(strstr(err.msg, "corrupted header") != NULL);
  h->lane_bytes = SMALL_LANE;
  h->data_offset += 4096;
  ASSERT_EQ(hl_ring_header_check(h, g.segment_bytes, "r", &got, &err), -EPROTO);
  atomic_store(&h->magic, 0x1234);
  ASSERT_EQ(hl_ring_header_check(h, g.segment_bytes, "r", &got, &err), -EPROTO);
  ASSERT_TRUE(strstr(err.msg, "not a hookline ring") != NULL);
  free(h);
}

TEST(ring_names) {
  hl_err err;
  ASSERT_EQ(hl_ring_name_check("hookline", &err), 0);
  ASSERT_EQ(hl_ring_name_check("a.b_c-1", &err), 0);
  ASSERT_EQ(hl_ring_name_check("/var/run/x y", &err), 0); /* a path: the file system judges */
  ASSERT_EQ(hl_ring_name_check("", &err), -EINVAL);
  ASSERT_EQ(hl_ring_name_check("a b", &err), -EINVAL);
  ASSERT_TRUE(strstr(err.msg, "byte 1") != NULL);
  ASSERT_EQ(hl_ring_name_check("..", &err), -EINVAL);
  char longname[400];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  ASSERT_EQ(hl_ring_name_check(longname, &err), -ENAMETOOLONG);
}

TEST(owner_liveness) {
  uint64_t me = hl_ring_owner_self();
  ASSERT_EQ(hl_ring_owner_pid(me), getpid());
  ASSERT_TRUE(hl_ring_owner_alive(me));
  /* Same pid, another start time: a reused pid, so dead. */
  ASSERT_FALSE(hl_ring_owner_alive((me & 0xffffffffull) | ((me >> 32) + 1) << 32));
  pid_t child = fork();
  if (child == 0) {
    _exit(0);
  }
  ASSERT_GT(child, 0);
  /* A zombie is dead (its mappings are gone), and so is a reaped child. */
  uint64_t zombie = (uint64_t)(uint32_t)child;
  for (int i = 0; i < 200 && hl_ring_owner_alive(zombie); i++) {
    usleep(1000);
  }
  ASSERT_FALSE(hl_ring_owner_alive(zombie));
  waitpid(child, NULL, 0);
  ASSERT_FALSE(hl_ring_owner_alive(zombie));
  ASSERT_TRUE(hl_ring_owner_alive(HL_RING_OWNER_FREE));
  ASSERT_TRUE(hl_ring_owner_alive(HL_RING_OWNER_ENGINE));
}

/* --- messages ------------------------------------------------------------- */

static hl_msg sample_msg(void) {
  return (hl_msg){.event = HL_SPAN_LIT("lead.created"),
                  .id = HL_SPAN_LIT("lead_42"),
                  .endpoint = HL_SPAN_LIT("crm-1"),
                  .tenant = HL_SPAN_LIT("acme:eu"),
                  .data = HL_SPAN_LIT("{\"email\":\"a@b.c\"}"),
                  .timestamp_ms = 1763800000123ull};
}

static void expect_invalid(hl_msg m, int code, const char *fragment) {
  hl_err err = {{0}};
  int rc = hl_msg_validate(&m, &err);
  ASSERT_EQ(rc, code);
  if (strstr(err.msg, fragment) == NULL) {
    hl_test_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", err.msg, fragment);
  }
}

TEST(validation_names_field_and_problem) {
  hl_msg m = sample_msg();
  hl_err err;
  ASSERT_EQ(hl_msg_validate(&m, &err), 0);
  m.event = HL_SPAN_NULL;
  expect_invalid(m, -EINVAL, "event: empty");
  m.event = HL_SPAN_LIT("lead created");
  expect_invalid(m, -EINVAL, "event: byte 4 (0x20) is not allowed");
  m.event = HL_SPAN_LIT("lead/created");
  expect_invalid(m, -EINVAL, "event: byte 4 (0x2f)");
  char big[HL_MESSAGE_DATA_BYTES_MAX + 2];
  memset(big, 'a', sizeof(big));
  m = sample_msg();
  m.event = hl_span_make(big, HL_EVENT_NAME_BYTES_MAX + 1);
  expect_invalid(m, -EMSGSIZE, "event: 129 bytes, longer than the limit of 128");
  m.event = hl_span_make(big, HL_EVENT_NAME_BYTES_MAX);
  ASSERT_EQ(hl_msg_validate(&m, &err), 0);
  m = sample_msg();
  m.id = hl_span_make(big, HL_MESSAGE_ID_BYTES_MAX + 1);
  expect_invalid(m, -EMSGSIZE, "id: 129 bytes");
  m = sample_msg();
  m.endpoint = HL_SPAN_LIT("crm\n");
  expect_invalid(m, -EINVAL, "endpoint: byte 3 (0x0a)");
  m = sample_msg();
  m.tenant = HL_SPAN_LIT("t\xc3\xa9");
  expect_invalid(m, -EINVAL, "tenant: byte 1 (0xc3)");
  m = sample_msg();
  m.data = HL_SPAN_NULL;
  expect_invalid(m, -EINVAL, "data: empty");
  m.data = hl_span_make(big, HL_MESSAGE_DATA_BYTES_MAX + 1);
  expect_invalid(m, -EMSGSIZE, "data: 262145 bytes, larger than the limit");
  /* Optional fields may be absent. */
  m = sample_msg();
  m.id = m.endpoint = m.tenant = HL_SPAN_NULL;
  ASSERT_EQ(hl_msg_validate(&m, &err), 0);
}

TEST(message_encode_decode_round_trip) {
  hl_msg m = sample_msg();
  uint8_t buf[256];
  size_t n = hl_msg_encode(&m, buf, sizeof(buf));
  ASSERT_EQ(n, hl_msg_encoded_bytes(&m));
  ASSERT_EQ(hl_msg_encode(&m, buf, n - 1), 0);
  uint8_t *g = hl_test_guard(buf, n);
  hl_msg d;
  hl_err err;
  ASSERT_EQ(hl_msg_decode(hl_span_make(g, n), &d, &err), (int)n);
  ASSERT_SPAN_EQ(d.event, "lead.created");
  ASSERT_SPAN_EQ(d.id, "lead_42");
  ASSERT_SPAN_EQ(d.endpoint, "crm-1");
  ASSERT_SPAN_EQ(d.tenant, "acme:eu");
  ASSERT_SPAN_EQ(d.data, "{\"email\":\"a@b.c\"}");
  ASSERT_EQ(d.timestamp_ms, 1763800000123ull);
  uint8_t again[256];
  ASSERT_EQ(hl_msg_encode(&d, again, sizeof(again)), n);
  ASSERT_MEM_EQ(again, n, buf, n);
  hl_test_guard_free(g, n);
  m.id = m.endpoint = m.tenant = HL_SPAN_NULL;
  n = hl_msg_encode(&m, buf, sizeof(buf));
  ASSERT_EQ(hl_msg_decode(hl_span_make(buf, n), &d, &err), (int)n);
  ASSERT_EQ(d.id.len, 0);
  ASSERT_EQ(d.tenant.len, 0);
}

static void expect_decode_error(const uint8_t *buf, size_t n, const char *fragment) {
  hl_msg d;
  hl_err err = {{0}};
  uint8_t *g = hl_test_guard(buf, n);
  int rc = hl_msg_decode(hl_span_make(g, n), &d, &err);
  hl_test_guard_free(g, n);
  ASSERT_EQ(rc, HL_INVALID);
  if (strstr(err.msg, fragment) == NULL) {
    hl_test_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", err.msg, fragment);
  }
}

TEST(message_decode_rejects_bad_framing) {
  hl_msg m = sample_msg();
  uint8_t buf[256], bad[256];
  size_t n = hl_msg_encode(&m, buf, sizeof(buf));
  expect_decode_error(buf, 10, "shorter than its 24-byte header");
  memcpy(bad, buf, n);
  bad[0] = 9;
  expect_decode_error(bad, n, "encoding version 9");
  memcpy(bad, buf, n);
  bad[1] = 1;
  expect_decode_error(bad, n, "reserved header bytes");
  memcpy(bad, buf, n);
  bad[2] = 0xff; /* event length far past the end */
  expect_decode_error(bad, n, "event length");
  memcpy(bad, buf, n);
  bad[12] ^= 1; /* data length off by one */
  expect_decode_error(bad, n, "data length");
  expect_decode_error(buf, n - 1, "data length");
  memcpy(bad, buf, n);
  bad[HL_MSG_HEADER_BYTES] = ' '; /* first byte of the event name */
  expect_decode_error(bad, n, "message: event: byte 0 (0x20)");
  memcpy(bad, buf, n);
  memset(bad + 2, 0, 2); /* no event: its bytes become the id's... and the lengths break */
  expect_decode_error(bad, n, "event: empty");
}

/* --- message ids ---------------------------------------------------------- */

static uint64_t crockford_value(char c) {
  const char *alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const char *p = strchr(alphabet, c);
  return p != NULL && c != '\0' ? (uint64_t)(p - alphabet) : 99;
}

TEST(msgid_format_and_order) {
  hl_msgid_gen g;
  hl_msgid_gen_seed(&g, 42);
  char prev[HL_MSGID_BYTES + 1] = {0}, id[HL_MSGID_BYTES + 1] = {0};
  uint64_t ms = 1763800000123ull;
  for (int i = 0; i < 5000; i++) {
    /* Same millisecond, later ones, and a clock stepping back. */
    uint64_t now = i < 2000 ? ms : i < 4000 ? ms + (uint64_t)i : ms - 5;
    hl_msgid_next(&g, now, id);
    ASSERT_EQ(memcmp(id, "msg_", 4), 0);
    uint64_t ts = 0;
    for (int k = 0; k < HL_MSGID_CHARS; k++) {
      uint64_t v = crockford_value(id[4 + k]);
      ASSERT_LT(v, 32);
      if (k < 10) {
        ts = ts << 5 | v;
      }
    }
    if (i < 2000) {
      ASSERT_EQ(ts, ms);
    }
    if (i > 0) {
      ASSERT_LT(strcmp(prev, id), 0);
    }
    memcpy(prev, id, sizeof(id));
  }
  hl_msgid_gen a, b;
  ASSERT_EQ(hl_msgid_gen_init(&a), 0);
  ASSERT_EQ(hl_msgid_gen_init(&b), 0);
  char ia[HL_MSGID_BYTES], ib[HL_MSGID_BYTES];
  hl_msgid_next(&a, ms, ia);
  hl_msgid_next(&b, ms, ib);
  ASSERT_EQ(memcmp(ia, ib, 14), 0); /* same millisecond prefix */
  ASSERT_NE(memcmp(ia, ib, HL_MSGID_BYTES), 0);
}

/* --- producer and consumer -------------------------------------------------- */

TEST(release_moves_tail_only_past_released_prefix) {
  corrupt_log log = {0};
  const char *path = ring_path("release");
  hl_ring_consumer *c = make_consumer(path, 2, 64, &log);
  hl_ring_producer p;
  open_producer(&p, path);
  for (uint32_t i = 0; i < 5; i++) {
    ASSERT_EQ(put(&p, i, 100, 0), 0);
  }
  hl_ring_item items[8];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 8), 5);
  for (uint32_t i = 0; i < 5; i++) {
    ASSERT_EQ(item_idx(&items[i]), i);
    ASSERT_EQ(items[i].payload.len, 100);
    ASSERT_EQ(items[i].token.lane, p.lane_index);
    ASSERT_EQ(items[i].token.seq, i);
  }
  uint32_t L = p.lane_index;
  /* Release 1, 3, 4 first: record 0 holds the tail. */
  hl_ring_token t[] = {items[1].token, items[3].token, items[4].token};
  ASSERT_EQ(hl_ring_cursor_release(K(c), t, 3), 0);
  ASSERT_EQ(lane_info(c, L).tail, 0);
  ASSERT_EQ(atomic_load(&p.lane->tail), 0);
  ASSERT_EQ(hl_ring_cursor_release(K(c), &items[0].token, 1), 0);
  ASSERT_EQ(lane_info(c, L).tail, 2 * 128); /* past 0 and 1; 2 still held */
  ASSERT_EQ(atomic_load(&p.lane->tail), 2 * 128);
  ASSERT_EQ(hl_ring_cursor_release(K(c), &items[1].token, 1), -EALREADY);
  hl_ring_token never = {.lane = L, .seq = 99};
  ASSERT_EQ(hl_ring_cursor_release(K(c), &never, 1), -EINVAL);
  hl_ring_token nolane = {.lane = 77, .seq = 0};
  ASSERT_EQ(hl_ring_cursor_release(K(c), &nolane, 1), -EINVAL);
  ASSERT_EQ(hl_ring_cursor_release(K(c), &items[2].token, 1), 0);
  ASSERT_EQ(lane_info(c, L).tail, 5 * 128);
  ASSERT_EQ(lane_info(c, L).inflight, 0);
  ASSERT_EQ(hl_ring_cursor_release(K(c), &items[4].token, 1), -EALREADY);
  /* release_upto: "safe up to" a seq. */
  for (uint32_t i = 0; i < 4; i++) {
    ASSERT_EQ(put(&p, 10 + i, 50, 0), 0);
  }
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 8), 4);
  ASSERT_EQ(hl_ring_cursor_release_upto(K(c), L, items[2].token.seq), 0);
  ASSERT_EQ(lane_info(c, L).inflight, 1);
  ASSERT_EQ(lane_info(c, L).tail, 5 * 128 + 3 * 80);
  ASSERT_EQ(hl_ring_cursor_release_upto(K(c), L, items[3].token.seq + 1), -EINVAL);
  hl_ring_cursor_stats st = hl_ring_cursor_stats_get(K(c));
  ASSERT_EQ(st.records_read, 9);
  ASSERT_EQ(st.records_released, 8);
  ASSERT_EQ(log.count, 0);
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(wrap_around_with_pad_records_keeps_order) {
  corrupt_log log = {0};
  const char *path = ring_path("wrap");
  hl_ring_consumer *c = make_consumer(path, 1, 4096, &log);
  hl_ring_producer p;
  open_producer(&p, path);
  hl_ring_item items[64];
  uint32_t next_put = 0, next_get = 0;
  /* Several laps of the lane with odd record sizes, so records end at
   * every alignment and pads of every length are written. */
  while (next_get < 40000) {
    for (int k = 0; k < 50; k++) {
      size_t len = 4 + (size_t)(hl_test_rand() % 700);
      if (put(&p, next_put, len, 0) != 0) {
        break;
      }
      next_put++;
    }
    size_t n = hl_ring_cursor_read(K(c), items, 64);
    for (size_t i = 0; i < n; i++) {
      ASSERT_EQ(item_idx(&items[i]), next_get);
      uint8_t fill = (uint8_t)(next_get & 0x7f);
      for (size_t b = 4; b < items[i].payload.len; b++) {
        ASSERT_EQ((uint8_t)items[i].payload.ptr[b], fill);
      }
      ASSERT_EQ(hl_ring_cursor_release(K(c), &items[i].token, 1), 0);
      next_get++;
    }
  }
  ASSERT_GT(p.head, 3ull * SMALL_LANE); /* several laps */
  ASSERT_EQ(log.count, 0);
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(reads_are_fair_across_lanes_and_bounded_by_window) {
  corrupt_log log = {0};
  const char *path = ring_path("fair");
  hl_ring_consumer *c = make_consumer(path, 4, 16, &log);
  hl_ring_producer a, b;
  open_producer(&a, path);
  open_producer(&b, path);
  ASSERT_NE(a.lane_index, b.lane_index);
  for (uint32_t i = 0; i < 40; i++) {
    ASSERT_EQ(put(&a, i, 32, 0), 0);
    ASSERT_EQ(put(&b, 1000 + i, 32, 0), 0);
  }
  hl_ring_item items[64];
  size_t n = hl_ring_cursor_read(K(c), items, 10);
  ASSERT_EQ(n, 10);
  int from_a = 0;
  for (size_t i = 0; i < n; i++) {
    from_a += items[i].token.lane == a.lane_index;
  }
  ASSERT_EQ(from_a, 5);
  /* The window (16 per lane) bounds what is read and not released. */
  n += hl_ring_cursor_read(K(c), items + n, 54);
  ASSERT_EQ(n, 32);
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 64), 0);
  uint32_t *word, expected;
  /* Full windows do not count as work: the engine may sleep. */
  ASSERT_EQ(hl_ring_cursor_prepare_sleep(K(c), &word, &expected), 0);
  hl_ring_cursor_end_sleep(K(c));
  ASSERT_EQ(hl_ring_cursor_release_upto(K(c), a.lane_index, 15), 0);
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 64), 16);
  hl_ring_producer_close(&a);
  hl_ring_producer_close(&b);
  hl_ring_consumer_close(c);
}

TEST(sleep_flag_gates_wakeups) {
  corrupt_log log = {0};
  const char *path = ring_path("sleep");
  hl_ring_consumer *c = make_consumer(path, 2, 256, &log);
  hl_ring_producer p;
  open_producer(&p, path);
  /* Engine awake: producers never make the wake-up syscall. */
  for (uint32_t i = 0; i < 100; i++) {
    ASSERT_EQ(put(&p, i, 64, 0), 0);
  }
  ASSERT_EQ(p.wakes, 0);
  uint32_t *word, expected;
  ASSERT_EQ(hl_ring_cursor_prepare_sleep(K(c), &word, &expected), -EAGAIN);
  ASSERT_EQ(atomic_load(&p.hdr->sleep_word), 0); /* withdrawn */
  hl_ring_item items[128];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 128), 100);
  ASSERT_EQ(hl_ring_cursor_prepare_sleep(K(c), &word, &expected), 0);
  ASSERT_EQ(*word, expected);
  ASSERT_EQ(hl_ring_futex_wait((_Atomic uint32_t *)word, expected, 10), -ETIMEDOUT);
  /* One publish while asleep: one wake, and the word is cleared, so the
   * next publishes cost nothing. */
  ASSERT_EQ(put(&p, 100, 64, 0), 0);
  ASSERT_EQ(p.wakes, 1);
  ASSERT_EQ(*word, 0);
  ASSERT_EQ(hl_ring_futex_wait((_Atomic uint32_t *)word, expected, 1000), 0);
  ASSERT_EQ(put(&p, 101, 64, 0), 0);
  ASSERT_EQ(p.wakes, 1);
  hl_ring_cursor_end_sleep(K(c));
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(full_lane_waits_then_eagain_then_succeeds_after_drain) {
  corrupt_log log = {0};
  const char *path = ring_path("full");
  hl_ring_consumer *c = make_consumer(path, 1, 1 << 16, &log);
  hl_ring_producer p;
  open_producer(&p, path);
  uint32_t i = 0;
  while (put(&p, i, 1000, 0) == 0) {
    i++;
  }
  ASSERT_EQ(i, SMALL_LANE / 1024);
  void *dst;
  hl_err err;
  uint64_t t0 = hl_clock_mono_ms();
  ASSERT_EQ(hl_ring_producer_reserve(&p, 1000, 0, &dst, &err), -EAGAIN);
  ASSERT_LT(hl_clock_mono_ms() - t0, 50);
  t0 = hl_clock_mono_ms();
  ASSERT_EQ(hl_ring_producer_reserve(&p, 1000, 120, &dst, &err), -EAGAIN);
  ASSERT_GE(hl_clock_mono_ms() - t0, 120);
  ASSERT_TRUE(strstr(err.msg, "full for 120 ms") != NULL);
  ASSERT_GE(p.waits, 1);
  hl_ring_item items[4];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 1), 1);
  ASSERT_EQ(put(&p, i, 1000, 0), -EAGAIN); /* read is not released */
  ASSERT_EQ(hl_ring_cursor_release(K(c), &items[0].token, 1), 0);
  ASSERT_EQ(put(&p, i, 1000, 0), 0);
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(reattach_rereads_unreleased_and_is_exclusive) {
  corrupt_log log = {0};
  const char *path = ring_path("reattach");
  hl_ring_consumer *c = make_consumer(path, 2, 64, &log);
  hl_ring_consumer *second = NULL;
  hl_err err;
  hl_ring_consumer_options o = {.create = true};
  ASSERT_EQ(hl_ring_consumer_open(&second, path, &o, &err), -EBUSY);
  ASSERT_TRUE(strstr(err.msg, "another engine") != NULL);
  hl_ring_producer p;
  open_producer(&p, path);
  for (uint32_t i = 0; i < 6; i++) {
    ASSERT_EQ(put(&p, i, 40, 0), 0);
  }
  hl_ring_item items[8];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 8), 6);
  hl_ring_token t[] = {items[0].token, items[1].token, items[3].token};
  ASSERT_EQ(hl_ring_cursor_release(K(c), t, 3), 0);
  hl_ring_consumer_close(c);
  /* The new engine starts at the tail: 2, 3, 4, 5 again (3 was released,
   * but out of order, so the tail never passed it). */
  c = make_consumer(path, 2, 64, &log);
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 8), 4);
  for (uint32_t i = 0; i < 4; i++) {
    ASSERT_EQ(item_idx(&items[i]), 2 + i);
  }
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(checksum_mismatch_is_reported_and_skipped) {
  corrupt_log log = {0};
  const char *path = ring_path("crc");
  hl_ring_consumer *c = make_consumer(path, 1, 64, &log);
  hl_ring_producer p;
  open_producer(&p, path);
  ASSERT_EQ(put(&p, 0, 64, 0), 0);
  ASSERT_EQ(put(&p, 1, 64, 0), 0);
  ASSERT_EQ(put(&p, 2, 64, 0), 0);
  p.data[80 + 16 + 10] ^= 0x40; /* a payload byte of record 1 */
  hl_ring_item items[4];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 4), 2);
  ASSERT_EQ(item_idx(&items[0]), 0);
  ASSERT_EQ(item_idx(&items[1]), 2);
  ASSERT_EQ(log.count, 1);
  ASSERT_TRUE(strstr(log.last, "checksum mismatch") != NULL);
  ASSERT_EQ(hl_ring_cursor_stats_get(K(c)).records_corrupt, 1);
  hl_ring_cursor_release(K(c), &items[0].token, 1);
  hl_ring_cursor_release(K(c), &items[1].token, 1);
  ASSERT_EQ(lane_info(c, 0).tail, 3 * 80); /* the skipped record does not hold it */
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(broken_framing_quarantines_lane_then_reset) {
  corrupt_log log = {0};
  const char *path = ring_path("quarantine");
  hl_ring_consumer *c = make_consumer(path, 2, 64, &log);
  hl_ring_producer p;
  open_producer(&p, path);
  ASSERT_EQ(put(&p, 0, 64, 0), 0);
  ASSERT_EQ(put(&p, 1, 64, 0), 0);
  hl_ring_record r;
  memcpy(&r, p.data + 80, sizeof(r));
  r.len = 0x7fffffff; /* far past the lane */
  memcpy(p.data + 80, &r, sizeof(r));
  hl_ring_item items[4];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 4), 1);
  ASSERT_EQ(log.count, 1);
  ASSERT_TRUE(strstr(log.last, "lane quarantined: record at position 80 has length") != NULL);
  ASSERT_TRUE(lane_info(c, p.lane_index).quarantined);
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 4), 0);
  /* The producer learns it on its next write. */
  void *dst;
  hl_err err;
  ASSERT_EQ(hl_ring_producer_reserve(&p, 10, 0, &dst, &err), -EIO);
  ASSERT_TRUE(strstr(err.msg, "quarantined") != NULL);
  /* While the producer holds it, the lane stays quarantined; once it is
   * gone and the engine released what it read, the lane is reset. */
  ASSERT_EQ(hl_ring_consumer_reap(c), 0);
  uint32_t lane = p.lane_index;
  hl_ring_producer_close(&p);
  ASSERT_EQ(hl_ring_consumer_reap(c), 0); /* item 0 is still held */
  hl_ring_cursor_release(K(c), &items[0].token, 1);
  ASSERT_EQ(hl_ring_consumer_reap(c), 1);
  ASSERT_TRUE(strstr(log.last, "reset") != NULL);
  open_producer(&p, path);
  ASSERT_EQ(p.lane_index, lane);
  ASSERT_EQ(atomic_load(&p.lane->state), HL_RING_LANE_OK);
  /* The lane restarts at a fresh position, a lap past everything read. */
  ASSERT_EQ(p.head, SMALL_LANE);
  ASSERT_EQ(put(&p, 7, 64, 0), 0);
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 4), 1);
  ASSERT_EQ(item_idx(&items[0]), 7);
  ASSERT_FALSE(lane_info(c, lane).quarantined);
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(bad_heads_stamps_and_types_quarantine) {
  struct {
    const char *what;
    int kind;
  } cases[] = {{"head beyond the lane", 0}, {"misaligned head", 1}, {"stale stamp", 2},
               {"unknown type", 3},         {"pad of wrong length", 4}};
  for (size_t k = 0; k < HL_ARRAY_LEN(cases); k++) {
    corrupt_log log = {0};
    char tag[32];
    snprintf(tag, sizeof(tag), "bad%zu", k);
    const char *path = ring_path(tag);
    hl_ring_consumer *c = make_consumer(path, 1, 64, &log);
    hl_ring_producer p;
    open_producer(&p, path);
    ASSERT_EQ(put(&p, 0, 64, 0), 0);
    hl_ring_record r;
    memcpy(&r, p.data, sizeof(r));
    switch (cases[k].kind) {
      case 0:
        atomic_store(&p.lane->head, 3ull * SMALL_LANE);
        break;
      case 1:
        atomic_store(&p.lane->head, 72);
        break;
      case 2:
        r.stamp = 12345;
        break;
      case 3:
        r.type = 9;
        break;
      case 4:
        r.type = HL_RING_REC_PAD;
        break;
    }
    memcpy(p.data, &r, sizeof(r));
    hl_ring_item items[4];
    ASSERT_EQ(hl_ring_cursor_read(K(c), items, 4), 0);
    if (log.count != 1 || strstr(log.last, "lane quarantined") == NULL) {
      hl_test_fail(__FILE__, __LINE__, "%s: got %d reports, last '%s'", cases[k].what, log.count,
                   log.last);
    }
    hl_ring_producer_close(&p);
    hl_ring_consumer_close(c);
    unlink(path);
  }
}

TEST(garbage_segment_refused_with_clear_errors) {
  const char *path = ring_path("garbage");
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  char junk[8192];
  for (size_t i = 0; i < sizeof(junk); i++) {
    junk[i] = (char)hl_test_rand();
  }
  ASSERT_EQ(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
  close(fd);
  hl_ring_consumer *c;
  hl_err err;
  hl_ring_consumer_options o = {.create = true};
  ASSERT_EQ(hl_ring_consumer_open(&c, path, &o, &err), -EPROTO);
  ASSERT_TRUE(strstr(err.msg, "not a hookline ring") != NULL);
  hl_ring_producer p;
  ASSERT_EQ(hl_ring_producer_open(&p, path, 0, &err), -EPROTO);
  ASSERT_EQ(hl_ring_producer_open(&p, ring_path("absent"), 0, &err), -ENOENT);
  ASSERT_TRUE(strstr(err.msg, "is the engine running") != NULL);
}

TEST(public_api_rejects_before_writing) {
  corrupt_log log = {0};
  const char *path = ring_path("api");
  hl_ring_consumer *c = make_consumer(path, 2, 64, &log);
  hl_producer *p;
  hl_error e;
  ASSERT_EQ(hl_producer_open(&p, path, NULL, &e), 0);
  hl_message m = {.event = "lead.created", .data = "{\"a\":1}", .data_len = 7};
  struct {
    hl_message m;
    int rc;
    const char *fragment;
  } bad[] = {
      {{.event = "", .data = "{}", .data_len = 2}, -EINVAL, "event: empty"},
      {{.event = NULL, .data = "{}", .data_len = 2}, -EINVAL, "event: missing"},
      {{.event = "a b", .data = "{}", .data_len = 2}, -EINVAL, "event: byte 1 (0x20)"},
      {{.event = "e", .data = NULL}, -EINVAL, "data: missing"},
      {{.event = "e", .data = "", .data_len = 0}, -EINVAL, "data: empty"},
      {{.event = "e", .id = "x y", .data = "{}", .data_len = 2}, -EINVAL, "id: byte 1"},
  };
  for (size_t i = 0; i < HL_ARRAY_LEN(bad); i++) {
    int rc = hl_produce(p, &bad[i].m, 0, &e);
    ASSERT_EQ(rc, bad[i].rc);
    if (strstr(e.msg, bad[i].fragment) == NULL) {
      hl_test_fail(__FILE__, __LINE__, "case %zu: '%s' lacks '%s'", i, e.msg, bad[i].fragment);
    }
    ASSERT_STR_EQ(hl_producer_last_error(p), e.msg);
  }
  hl_ring_item items[8];
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 8), 0); /* nothing was written */
  /* A batch with one bad message writes nothing, and names the index. */
  hl_message batch[3] = {m, m, m};
  batch[2].event = "bad event";
  size_t written = 99;
  ASSERT_EQ(hl_produce_batch(p, batch, 3, &written, 0, &e), -EINVAL);
  ASSERT_EQ(written, 0);
  ASSERT_TRUE(strstr(e.msg, "message 2: event: byte 3") != NULL);
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 8), 0);
  batch[2].event = "ok";
  ASSERT_EQ(hl_produce_batch(p, batch, 3, &written, 0, &e), 0);
  ASSERT_EQ(written, 3);
  ASSERT_EQ(hl_produce(p, &m, 0, &e), 0);
  ASSERT_STR_EQ(hl_producer_last_error(p), "");
  ASSERT_EQ(hl_ring_cursor_read(K(c), items, 8), 4);
  hl_msg d;
  hl_err err;
  ASSERT_GT(hl_msg_decode(items[2].payload, &d, &err), 0);
  ASSERT_SPAN_EQ(d.event, "ok");
  ASSERT_SPAN_EQ(d.data, "{\"a\":1}");
  ASSERT_GT(d.timestamp_ms, 1700000000000ull); /* 0 became now */
  ASSERT_STR_EQ(hl_strerror(-EAGAIN), "ring full: the engine has not caught up; retry later");
  ASSERT_STR_EQ(hl_strerror(-E2BIG), "Argument list too long");
  ASSERT_EQ(hl_produce(NULL, &m, 0, &e), -EINVAL);
  ASSERT_TRUE(strstr(e.msg, "NULL handle") != NULL);
  ASSERT_EQ(hl_produce_batch(p, NULL, 2, &written, 0, &e), -EINVAL);
  ASSERT_EQ(hl_produce_batch(p, NULL, 0, &written, 0, &e), 0);
  hl_producer_close(p);
  hl_producer_close(NULL);
  hl_ring_consumer_close(c);
}

TEST(lanes_run_out_then_come_back) {
  corrupt_log log = {0};
  const char *path = ring_path("lanes");
  hl_ring_consumer *c = make_consumer(path, 2, 64, &log);
  hl_ring_producer a, b, x;
  open_producer(&a, path);
  open_producer(&b, path);
  hl_err err;
  ASSERT_EQ(hl_ring_producer_open(&x, path, 0, &err), -EBUSY);
  ASSERT_TRUE(strstr(err.msg, "all 2 lanes are in use") != NULL);
  uint64_t t0 = hl_clock_mono_ms();
  ASSERT_EQ(hl_ring_producer_open(&x, path, 30, &err), -EBUSY);
  ASSERT_GE(hl_clock_mono_ms() - t0, 30);
  uint32_t lane = a.lane_index;
  hl_ring_producer_close(&a);
  open_producer(&x, path);
  ASSERT_EQ(x.lane_index, lane);
  ASSERT_EQ(atomic_load(&x.lane->claims), 2);
  hl_ring_producer_close(&x);
  hl_ring_producer_close(&b);
  hl_ring_consumer_close(c);
}

TEST(retired_ring_tells_producers_to_reopen) {
  corrupt_log log = {0};
  const char *path = ring_path("retire");
  hl_ring_consumer *c = make_consumer(path, 1, 64, &log);
  hl_ring_producer p;
  open_producer(&p, path);
  ASSERT_EQ(hl_ring_consumer_retire(c), 0);
  ASSERT_EQ(access(path, F_OK), -1);
  void *dst;
  hl_err err;
  ASSERT_EQ(hl_ring_producer_reserve(&p, 10, 0, &dst, &err), -ESTALE);
  ASSERT_TRUE(strstr(err.msg, "open it again") != NULL);
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

/* --- several cursors (one per engine worker) ------------------------------ */

static hl_ring_consumer *make_consumer_cursors(const char *path, uint32_t cursors,
                                               corrupt_log *log) {
  hl_ring_consumer_options o = {.create = true,
                                .lanes = 2,
                                .lane_bytes = SMALL_LANE,
                                .cursors = cursors,
                                .inflight_per_lane = 64,
                                .on_corrupt = on_corrupt,
                                .on_corrupt_ctx = log};
  hl_ring_consumer *c = NULL;
  hl_err err;
  if (hl_ring_consumer_open(&c, path, &o, &err) != 0) {
    hl_test_fail(__FILE__, __LINE__, "consumer open: %s", err.msg);
  }
  return c;
}

TEST(every_cursor_reads_everything_and_the_tail_is_their_minimum) {
  corrupt_log log = {0};
  const char *path = ring_path("cursors");
  hl_ring_consumer *c = make_consumer_cursors(path, 2, &log);
  ASSERT_EQ(hl_ring_consumer_cursors(c), 2);
  hl_ring_cursor *k0 = hl_ring_consumer_cursor(c, 0), *k1 = hl_ring_consumer_cursor(c, 1);
  hl_ring_producer p;
  open_producer(&p, path);
  for (uint32_t i = 0; i < 4; i++) {
    ASSERT_EQ(put(&p, i, 100, 0), 0);
  }
  hl_ring_item a[8], b[8];
  ASSERT_EQ(hl_ring_cursor_read(k0, a, 8), 4);
  ASSERT_EQ(hl_ring_cursor_read(k1, b, 8), 4);
  for (uint32_t i = 0; i < 4; i++) {
    ASSERT_EQ(item_idx(&a[i]), i);
    ASSERT_EQ(item_idx(&b[i]), i);
    ASSERT_TRUE(a[i].payload.ptr == b[i].payload.ptr); /* the same bytes, no copy */
  }
  /* Cursor 0 releases everything; the tail waits for cursor 1. */
  hl_ring_token t0[] = {a[3].token, a[0].token, a[2].token, a[1].token};
  ASSERT_EQ(hl_ring_cursor_release(k0, t0, 4), 0);
  ASSERT_EQ(atomic_load(&p.lane->tail), 0);
  ASSERT_EQ(hl_ring_cursor_release(k1, &b[0].token, 1), 0);
  ASSERT_EQ(atomic_load(&p.lane->tail), 128);
  ASSERT_EQ(hl_ring_cursor_release_upto(k1, b[3].token.lane, b[3].token.seq), 0);
  ASSERT_EQ(atomic_load(&p.lane->tail), 4 * 128);
  hl_ring_lane_info i0, i1;
  ASSERT_EQ(hl_ring_cursor_lane_info(k0, p.lane_index, &i0), 0);
  ASSERT_EQ(hl_ring_cursor_lane_info(k1, p.lane_index, &i1), 0);
  ASSERT_EQ(i0.released, 512);
  ASSERT_EQ(i1.released, 512);
  ASSERT_EQ(hl_ring_cursor_stats_get(k1).records_released, 4);
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(each_cursor_sleeps_on_its_own_bit) {
  corrupt_log log = {0};
  const char *path = ring_path("cursorsleep");
  hl_ring_consumer *c = make_consumer_cursors(path, 3, &log);
  hl_ring_cursor *k0 = hl_ring_consumer_cursor(c, 0), *k2 = hl_ring_consumer_cursor(c, 2);
  hl_ring_producer p;
  open_producer(&p, path);
  uint32_t *w0, *w2, e0, e2;
  ASSERT_EQ(hl_ring_cursor_prepare_sleep(k0, &w0, &e0), 0);
  ASSERT_EQ(hl_ring_cursor_prepare_sleep(k2, &w2, &e2), 0);
  ASSERT_TRUE(w0 == w2);
  ASSERT_EQ(e0, 1u);
  ASSERT_EQ(e2, 5u);
  ASSERT_EQ(*w0, 5u);
  /* A worker waking for another reason clears only its own bit. */
  hl_ring_cursor_end_sleep(k0);
  ASSERT_EQ(*w0, 4u);
  /* The publish wakes the remaining sleeper once and clears the word. */
  ASSERT_EQ(put(&p, 1, 64, 0), 0);
  ASSERT_EQ(p.wakes, 1);
  ASSERT_EQ(*w0, 0u);
  ASSERT_EQ(hl_ring_cursor_prepare_sleep(k2, &w2, &e2), -EAGAIN); /* there is work */
  ASSERT_EQ(hl_ring_cursor_prepare_sleep(k0, &w0, &e0), -EAGAIN);
  ASSERT_EQ(*w0, 0u);
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}

TEST(quarantine_stops_every_cursor_at_the_same_record) {
  corrupt_log log = {0};
  const char *path = ring_path("cursorquarantine");
  hl_ring_consumer *c = make_consumer_cursors(path, 2, &log);
  hl_ring_cursor *k0 = hl_ring_consumer_cursor(c, 0), *k1 = hl_ring_consumer_cursor(c, 1);
  hl_ring_producer p;
  open_producer(&p, path);
  for (uint32_t i = 0; i < 3; i++) {
    ASSERT_EQ(put(&p, i, 64, 0), 0);
  }
  hl_ring_record r;
  memcpy(&r, p.data + 160, sizeof(r));
  r.type = 77; /* record 2 breaks the framing */
  memcpy(p.data + 160, &r, sizeof(r));
  hl_ring_item a[8], b[8];
  ASSERT_EQ(hl_ring_cursor_read(k0, a, 8), 2);
  ASSERT_EQ(log.count, 1);
  /* Cursor 1 gets the same two records, then stops at the same place. */
  ASSERT_EQ(hl_ring_cursor_read(k1, b, 1), 1);
  ASSERT_EQ(hl_ring_cursor_read(k1, b + 1, 8), 1);
  ASSERT_EQ(item_idx(&b[1]), 1);
  ASSERT_EQ(hl_ring_cursor_read(k1, b, 8), 0);
  uint32_t lane = p.lane_index;
  hl_ring_producer_close(&p);
  /* Reset waits until both cursors released what they read. */
  hl_ring_cursor_release(k0, &a[0].token, 1);
  hl_ring_cursor_release(k0, &a[1].token, 1);
  hl_ring_cursor_release(k1, &b[0].token, 1);
  ASSERT_EQ(hl_ring_consumer_reap(c), 0);
  hl_ring_cursor_release_upto(k1, lane, 1);
  ASSERT_EQ(hl_ring_consumer_reap(c), 1);
  ASSERT_EQ(hl_ring_consumer_stats_get(c).lanes_reset, 1);
  open_producer(&p, path);
  ASSERT_EQ(p.lane_index, lane);
  ASSERT_EQ(put(&p, 9, 64, 0), 0);
  ASSERT_EQ(hl_ring_cursor_read(k0, a, 8), 1);
  ASSERT_EQ(hl_ring_cursor_read(k1, b, 8), 1);
  ASSERT_EQ(item_idx(&a[0]), 9);
  ASSERT_EQ(item_idx(&b[0]), 9);
  hl_ring_cursor_release(k0, &a[0].token, 1);
  hl_ring_cursor_release(k1, &b[0].token, 1);
  ASSERT_EQ(atomic_load(&p.lane->tail), SMALL_LANE + 80);
  hl_ring_producer_close(&p);
  hl_ring_consumer_close(c);
}
