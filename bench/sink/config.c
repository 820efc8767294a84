/* config: hookline-sink's command line, and the immutable bytes the workers
 * share (TLS contexts, prebuilt hostile responses, body filler). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/span.h"
#include "sink.h"

static const char k_usage[] =
    "usage: hookline-sink --listen HOST:PORT[,tls][,cert=FILE,key=FILE][,tls-max=1.1|1.2] ...\n"
    "                     [options]\n"
    "\n"
    "An io_uring HTTP/1.1 + TLS receiver for tests and benchmarks. By default it\n"
    "answers every request with 200 and the body \"ok\", as fast as it can.\n"
    "\n"
    "  --listen SPEC          a listening port (repeatable); port 0 picks a free one.\n"
    "                         ,tls serves HTTPS with --cert/--key or the listener's own\n"
    "                         cert=/key= (an untrusted or wrong-host certificate is just\n"
    "                         another pair); tls-max=1.1 makes a TLS 1.1-only server\n"
    "  --cert FILE --key FILE default certificate chain and key (PEM) for tls listeners\n"
    "  --route [N:]PREFIX=ACTIONS\n"
    "                         behaviour for targets starting with PREFIX (longest prefix\n"
    "                         wins), on every listener or only listener N (0-based, in\n"
    "                         --listen order; N:/ makes a whole port behave). ACTIONS,\n"
    "                         comma-separated:\n"
    "                           status:CODE  rate:P (share answered with CODE, the rest\n"
    "                           200; deterministic per worker)  retry-after:S\n"
    "                           retry-after-date:S (HTTP-date S seconds ahead)\n"
    "                           delay:MS  body-bytes:N  close (Connection: close)\n"
    "                           mode:never|slow|big-header|endless|bad-status|reset|\n"
    "                                close-after|close-on-next|drop\n"
    "                           slow-ms:MS (slow, default 100)  header-bytes:N\n"
    "                           (big-header, default 102400)  chunk-ms:MS (endless)\n"
    "  --verify SCHEME:SECRET verify every request's signature (standard, hmac-sha256,\n"
    "                         stripe, static); SECRET may be @FILE; repeat for rotation\n"
    "  --verify-header NAME   --verify-prefix P   --verify-tolerance S (default 300)\n"
    "  --record FILE          append one JSON line per request\n"
    "  --record-body-bytes N  body bytes kept per recorded request (default 65536)\n"
    "  --stamp-path PATH      the JSON body's field (dotted path, e.g. data.sched_ns) with\n"
    "                         the Unix time in ns the request was scheduled at: stats\n"
    "                         get \"stamp\", a histogram of received - scheduled (us)\n"
    "  --port-file FILE       write the bound ports, one per line in --listen order\n"
    "  --stats FILE           append stats lines there instead of stdout\n"
    "  --workers N            threads, each with its own io_uring (default 1)\n"
    "  --max-conns N          connections per worker (default 16384)\n"
    "  --recv-bufs N          receive buffers per worker, a power of two (default 2048)\n"
    "  --quiet                no start-up line on stderr\n"
    "Stats: one JSON line on SIGUSR1 and at exit (SIGINT/SIGTERM).\n";

void sink_usage(int fd) {
  ssize_t w = write(fd, k_usage, sizeof(k_usage) - 1);
  (void)w;
}

static const char *const k_mode_names[SINK_MODE_COUNT_] = {
    "normal", "never", "slow", "big-header", "endless", "bad-status",
    "reset", "close-after", "close-on-next", "drop",
};

const char *sink_mode_name(sink_mode m) {
  return (unsigned)m < SINK_MODE_COUNT_ ? k_mode_names[m] : "?";
}

static void route_defaults(sink_route *r) {
  memset(r, 0, sizeof(*r));
  r->listener = -1;
  r->status = 200;
  r->rate = 1.0;
  r->retry_after_s = -1;
  r->body_bytes = 2;
  r->slow_ms = 100;
  r->header_bytes = 100 * 1024;
}

static bool parse_u32(hl_span s, uint64_t max, uint32_t *out) {
  uint64_t v;
  if (!hl_span_parse_u64(s, max, &v)) {
    return false;
  }
  *out = (uint32_t)v;
  return true;
}

/* --- --listen -------------------------------------------------------------- */

static int parse_addr(hl_span hostport, sink_listener *l, hl_err *err) {
  size_t colon = SIZE_MAX;
  for (size_t i = 0; i < hostport.len; i++) {
    if (hostport.ptr[i] == ':') {
      colon = i;
    }
  }
  if (colon == SIZE_MAX) {
    return hl_err_fail(err, -EINVAL, "--listen %s: expected HOST:PORT", l->text);
  }
  hl_span host = hl_span_sub(hostport, 0, colon);
  uint32_t port;
  if (!parse_u32(hl_span_sub(hostport, colon + 1, SIZE_MAX), 65535, &port)) {
    return hl_err_fail(err, -EINVAL, "--listen %s: the port is not a number 0..65535", l->text);
  }
  if (host.len >= 2 && host.ptr[0] == '[' && host.ptr[host.len - 1] == ']') {
    host = hl_span_sub(host, 1, host.len - 2);
  }
  char h[64];
  if (!hl_span_to_cstr(host, h, sizeof(h))) {
    return hl_err_fail(err, -EINVAL, "--listen %s: the host is too long", l->text);
  }
  memset(&l->addr, 0, sizeof(l->addr));
  struct sockaddr_in *a4 = (struct sockaddr_in *)&l->addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&l->addr;
  if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    l->addr_len = sizeof(*a4);
  } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    l->addr_len = sizeof(*a6);
  } else {
    return hl_err_fail(err, -EINVAL, "--listen %s: the host must be an IPv4 or IPv6 address",
                       l->text);
  }
  return 0;
}

static int parse_listen(sink_config *cfg, const char *arg, hl_err *err) {
  if (cfg->listeners_n == HL_SINK_LISTENERS_MAX) {
    return hl_err_fail(err, -EINVAL, "--listen: at most %d listeners", HL_SINK_LISTENERS_MAX);
  }
  sink_listener *l = &cfg->listeners[cfg->listeners_n];
  memset(l, 0, sizeof(*l));
  if (!hl_span_to_cstr(hl_span_cstr(arg), l->text, sizeof(l->text))) {
    return hl_err_fail(err, -EINVAL, "--listen: the value is too long");
  }
  hl_span s = hl_span_cstr(arg), part;
  bool first = true;
  while (s.len > 0 || first) {
    if (!hl_span_get_until(&s, ',', &part)) {
      part = s;
      s = hl_span_sub(s, s.len, 0);
    }
    if (first) {
      int rc = parse_addr(part, l, err);
      if (rc != 0) {
        return rc;
      }
      first = false;
    } else if (hl_span_eq_cstr(part, "tls")) {
      l->tls = true;
    } else if (hl_span_starts_with(part, HL_SPAN_LIT("cert="))) {
      l->cert_file = part.ptr + 5; /* the rest of argv's string up to ',' */
    } else if (hl_span_starts_with(part, HL_SPAN_LIT("key="))) {
      l->key_file = part.ptr + 4;
    } else if (hl_span_eq_cstr(part, "tls-max=1.1")) {
      l->tls_max_version = HL_TLS_V1_1;
    } else if (hl_span_eq_cstr(part, "tls-max=1.2")) {
      l->tls_max_version = HL_TLS_V1_2;
    } else {
      return hl_err_fail(err, -EINVAL, "--listen %s: unknown option \"%.*s\"", l->text,
                         HL_SPAN_FMT(part));
    }
  }
  cfg->listeners_n++;
  return 0;
}

/* The cert=/key= values point into argv, up to the next ',': cut them. */
static void terminate_listener_paths(char *arg) {
  for (char *p = arg; *p != '\0'; p++) {
    if (*p == ',') {
      *p = '\0';
    }
  }
}

/* --- --route ------------------------------------------------------------------ */

static int route_mode(hl_span v, sink_route *r) {
  for (int m = 0; m < SINK_MODE_COUNT_; m++) {
    if (hl_span_eq_cstr(v, k_mode_names[m])) {
      r->mode = (sink_mode)m;
      return 0;
    }
  }
  return -EINVAL;
}

static int route_action(sink_route *r, hl_span key, hl_span v, bool has_v) {
  if (hl_span_eq_cstr(key, "close") && !has_v) {
    r->close = true;
    return 0;
  }
  if (!has_v) {
    return -EINVAL;
  }
  uint32_t n;
  if (hl_span_eq_cstr(key, "status")) {
    if (!parse_u32(v, 599, &n) || n < 200) {
      return -EINVAL;
    }
    r->status = (uint16_t)n;
  } else if (hl_span_eq_cstr(key, "rate")) {
    char buf[32];
    char *end = NULL;
    if (!hl_span_to_cstr(v, buf, sizeof(buf))) {
      return -EINVAL;
    }
    r->rate = strtod(buf, &end);
    if (end == buf || *end != '\0' || !(r->rate >= 0.0 && r->rate <= 1.0)) {
      return -EINVAL;
    }
  } else if (hl_span_eq_cstr(key, "retry-after") || hl_span_eq_cstr(key, "retry-after-date")) {
    if (!parse_u32(v, 10u * 365 * 86400, &n)) {
      return -EINVAL;
    }
    r->retry_after_s = n;
    r->retry_after_date = hl_span_eq_cstr(key, "retry-after-date");
  } else if (hl_span_eq_cstr(key, "delay")) {
    return parse_u32(v, 24u * 3600 * 1000, &r->delay_ms) ? 0 : -EINVAL;
  } else if (hl_span_eq_cstr(key, "body-bytes")) {
    return parse_u32(v, HL_SINK_RESPONSE_BODY_BYTES_MAX, &r->body_bytes) ? 0 : -EINVAL;
  } else if (hl_span_eq_cstr(key, "slow-ms")) {
    return parse_u32(v, 3600u * 1000, &r->slow_ms) ? 0 : -EINVAL;
  } else if (hl_span_eq_cstr(key, "header-bytes")) {
    return parse_u32(v, HL_SINK_BIG_HEADER_BYTES_MAX, &r->header_bytes) ? 0 : -EINVAL;
  } else if (hl_span_eq_cstr(key, "chunk-ms")) {
    return parse_u32(v, 3600u * 1000, &r->chunk_ms) ? 0 : -EINVAL;
  } else if (hl_span_eq_cstr(key, "mode")) {
    return route_mode(v, r);
  } else {
    return -EINVAL;
  }
  return 0;
}

static int parse_route(sink_config *cfg, const char *arg, hl_err *err) {
  if (cfg->routes_n == HL_SINK_ROUTES_MAX) {
    return hl_err_fail(err, -EINVAL, "--route: at most %d routes", HL_SINK_ROUTES_MAX);
  }
  sink_route *r = &cfg->routes[cfg->routes_n];
  route_defaults(r);
  hl_span s = hl_span_cstr(arg), head;
  if (!hl_span_get_until(&s, '=', &head)) {
    return hl_err_fail(err, -EINVAL, "--route %s: expected [N:]PREFIX=ACTIONS", arg);
  }
  if (!hl_span_to_cstr(head, r->text, sizeof(r->text))) {
    return hl_err_fail(err, -EINVAL, "--route %s: the prefix is too long", arg);
  }
  size_t colon = hl_span_find(head, ':');
  if (colon != SIZE_MAX && (head.len == 0 || head.ptr[0] != '/')) {
    uint32_t n;
    if (!parse_u32(hl_span_sub(head, 0, colon), HL_SINK_LISTENERS_MAX - 1, &n)) {
      return hl_err_fail(err, -EINVAL, "--route %s: the listener index is not a number", arg);
    }
    r->listener = (int)n;
    head = hl_span_sub(head, colon + 1, SIZE_MAX);
  }
  if (head.len == 0 || head.ptr[0] != '/' || head.len >= sizeof(r->prefix)) {
    return hl_err_fail(err, -EINVAL, "--route %s: the prefix must start with '/'", arg);
  }
  hl_span_to_cstr(head, r->prefix, sizeof(r->prefix));
  r->prefix_len = (uint32_t)head.len;
  while (s.len > 0) {
    hl_span action, key, v;
    if (!hl_span_get_until(&s, ',', &action)) {
      action = s;
      s = hl_span_sub(s, s.len, 0);
    }
    bool has_v = hl_span_get_until(&action, ':', &key);
    if (!has_v) {
      key = action;
    }
    v = action;
    if (route_action(r, key, v, has_v) != 0) {
      return hl_err_fail(err, -EINVAL, "--route %s: bad action \"%.*s%s%.*s\" (see --help)", arg,
                         HL_SPAN_FMT(key), has_v ? ":" : "", HL_SPAN_FMT(v));
    }
  }
  cfg->routes_n++;
  return 0;
}

/* --- --verify ----------------------------------------------------------------- */

typedef struct verify_args {
  hl_sign_scheme scheme;
  bool have_scheme;
  char *secrets[HL_SECRETS_PER_ENDPOINT_MAX];
  size_t secrets_n;
  const char *header;
  const char *prefix;
} verify_args;

static char *read_secret_file(const char *path, hl_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    hl_err_set(err, "--verify: cannot read the secret file %s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = calloc(1, HL_SIGN_SECRET_BYTES_MAX + 1);
  ssize_t n = buf != NULL ? read(fd, buf, HL_SIGN_SECRET_BYTES_MAX) : -1;
  close(fd);
  if (n < 0) {
    free(buf);
    hl_err_set(err, "--verify: cannot read the secret file %s", path);
    return NULL;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
    buf[--n] = '\0';
  }
  return buf;
}

static int parse_verify(verify_args *v, const char *arg, hl_err *err) {
  hl_span s = hl_span_cstr(arg), name;
  hl_sign_scheme scheme;
  if (!hl_span_get_until(&s, ':', &name) || hl_sign_scheme_parse(name, &scheme) != 0) {
    return hl_err_fail(err, -EINVAL,
                       "--verify: expected SCHEME:SECRET with SCHEME standard, hmac-sha256, "
                       "stripe or static");
  }
  if (v->have_scheme && scheme != v->scheme) {
    return hl_err_fail(err, -EINVAL, "--verify: every --verify must use the same scheme");
  }
  if (v->secrets_n == HL_SECRETS_PER_ENDPOINT_MAX) {
    return hl_err_fail(err, -EINVAL, "--verify: at most %d secrets", HL_SECRETS_PER_ENDPOINT_MAX);
  }
  v->scheme = scheme;
  v->have_scheme = true;
  char *secret = s.len > 0 && s.ptr[0] == '@' ? read_secret_file(s.ptr + 1, err) : strdup(s.ptr);
  if (secret == NULL) {
    return -EINVAL;
  }
  /* Newest first, as the signer expects: the last one given is the newest. */
  memmove(&v->secrets[1], &v->secrets[0], v->secrets_n * sizeof(v->secrets[0]));
  v->secrets[0] = secret;
  v->secrets_n++;
  return 0;
}

static int verify_finish(sink_config *cfg, verify_args *v, hl_err *err) {
  int rc = 0;
  if (v->have_scheme) {
    hl_span secrets[HL_SECRETS_PER_ENDPOINT_MAX];
    for (size_t i = 0; i < v->secrets_n; i++) {
      secrets[i] = hl_span_cstr(v->secrets[i]);
    }
    hl_sign_config sc = {
        .scheme = v->scheme,
        .header = v->header != NULL ? hl_span_cstr(v->header) : HL_SPAN_NULL,
        .prefix = v->prefix != NULL ? hl_span_cstr(v->prefix) : HL_SPAN_NULL,
        .secrets = secrets,
        .secrets_n = v->secrets_n,
        .verify_only = true,
    };
    rc = hl_signer_init(&cfg->signer, &sc, err);
    if (rc != 0) {
      hl_err_prefix(err, "--verify");
    }
    cfg->verify = rc == 0;
  }
  for (size_t i = 0; i < v->secrets_n; i++) {
    memset(v->secrets[i], 0, strlen(v->secrets[i]));
    free(v->secrets[i]);
  }
  return rc;
}

/* --- the command line ------------------------------------------------------- */

static int parse_number(const char *opt, const char *arg, uint64_t max, uint32_t *out,
                        hl_err *err) {
  if (!parse_u32(hl_span_cstr(arg), max, out)) {
    return hl_err_fail(err, -EINVAL, "%s: expected a number up to %llu", opt,
                       (unsigned long long)max);
  }
  return 0;
}

static int parse_option(sink_config *cfg, verify_args *v, const char *opt, char *arg, hl_err *err) {
  uint32_t n = 0;
  int rc = 0;
  if (strcmp(opt, "--listen") == 0) {
    rc = parse_listen(cfg, arg, err);
    terminate_listener_paths(arg);
  } else if (strcmp(opt, "--route") == 0) {
    rc = parse_route(cfg, arg, err);
  } else if (strcmp(opt, "--cert") == 0) {
    cfg->cert_file = arg;
  } else if (strcmp(opt, "--key") == 0) {
    cfg->key_file = arg;
  } else if (strcmp(opt, "--port-file") == 0) {
    cfg->port_file = arg;
  } else if (strcmp(opt, "--stats") == 0) {
    cfg->stats_file = arg;
  } else if (strcmp(opt, "--record") == 0) {
    cfg->record_file = arg;
  } else if (strcmp(opt, "--record-body-bytes") == 0) {
    rc = parse_number(opt, arg, HL_SINK_CAPTURE_BYTES_MAX, &cfg->record_body_bytes, err);
  } else if (strcmp(opt, "--stamp-path") == 0) {
    rc = hl_json_path_compile(hl_span_cstr(arg), &cfg->stamp_path, err);
    if (rc != 0) {
      hl_err_prefix(err, "--stamp-path");
    }
    cfg->stamp = rc == 0;
  } else if (strcmp(opt, "--verify") == 0) {
    rc = parse_verify(v, arg, err);
  } else if (strcmp(opt, "--verify-header") == 0) {
    v->header = arg;
  } else if (strcmp(opt, "--verify-prefix") == 0) {
    v->prefix = arg;
  } else if (strcmp(opt, "--verify-tolerance") == 0) {
    rc = parse_number(opt, arg, 10u * 365 * 86400, &n, err);
    cfg->verify_tolerance_s = n;
  } else if (strcmp(opt, "--workers") == 0) {
    rc = parse_number(opt, arg, HL_SINK_WORKERS_MAX, &cfg->workers, err);
    if (rc == 0 && cfg->workers == 0) {
      rc = hl_err_fail(err, -EINVAL, "--workers: at least 1");
    }
  } else if (strcmp(opt, "--max-conns") == 0) {
    rc = parse_number(opt, arg, HL_LOOP_SLOTS_MAX, &cfg->conns_per_worker, err);
    if (rc == 0 && cfg->conns_per_worker == 0) {
      rc = hl_err_fail(err, -EINVAL, "--max-conns: at least 1");
    }
  } else if (strcmp(opt, "--recv-bufs") == 0) {
    rc = parse_number(opt, arg, HL_LOOP_BUF_RING_ENTRIES_MAX, &cfg->recv_bufs, err);
    if (rc == 0 && (cfg->recv_bufs == 0 || (cfg->recv_bufs & (cfg->recv_bufs - 1)) != 0)) {
      rc = hl_err_fail(err, -EINVAL, "--recv-bufs: a power of two");
    }
  } else {
    rc = hl_err_fail(err, -EINVAL, "unknown option %s (see --help)", opt);
  }
  return rc;
}

int sink_config_parse(sink_config *cfg, int argc, char **argv, hl_err *err) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->workers = 1;
  cfg->conns_per_worker = HL_SINK_CONNS_PER_WORKER;
  cfg->recv_bufs = HL_SINK_RECV_BUFS;
  cfg->record_fd = -1;
  cfg->record_body_bytes = HL_SINK_RECORD_BODY_BYTES;
  cfg->verify_tolerance_s = 300;
  route_defaults(&cfg->default_route);
  snprintf(cfg->default_route.text, sizeof(cfg->default_route.text), "default");
  verify_args v = {0};
  int rc = 0;
  for (int i = 1; i < argc && rc == 0; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
      rc = 1;
    } else if (strcmp(opt, "--quiet") == 0) {
      cfg->quiet = true;
    } else if (i + 1 >= argc) {
      rc = hl_err_fail(err, -EINVAL, "%s needs a value", opt);
    } else {
      rc = parse_option(cfg, &v, opt, argv[++i], err);
    }
  }
  int vrc = verify_finish(cfg, &v, rc == 0 ? err : NULL);
  if (rc == 0) {
    rc = vrc;
  }
  if (rc == 0 && cfg->listeners_n == 0) {
    rc = hl_err_fail(err, -EINVAL, "at least one --listen is needed (see --help)");
  }
  for (uint32_t i = 0; rc == 0 && i < cfg->routes_n; i++) {
    if (cfg->routes[i].listener >= (int)cfg->listeners_n) {
      rc = hl_err_fail(err, -EINVAL, "--route %s: there is no listener %d", cfg->routes[i].text,
                       cfg->routes[i].listener);
    }
  }
  return rc;
}

/* --- shared bytes -------------------------------------------------------------- */

static char *build(hl_buf *b, size_t cap) {
  char *mem = malloc(cap);
  hl_buf_init(b, mem, mem != NULL ? cap : 0);
  return mem;
}

static int route_fixed(sink_route *r) {
  hl_buf b;
  switch (r->mode) {
  case SINK_MODE_BIG_HEADER: {
    if (build(&b, r->header_bytes + 128) == NULL) {
      return -ENOMEM;
    }
    hl_buf_put_cstr(&b, "HTTP/1.1 200 OK\r\nX-Big: ");
    char *fill = hl_buf_reserve(&b, r->header_bytes);
    if (fill != NULL) {
      memset(fill, 'b', r->header_bytes);
    }
    hl_buf_put_cstr(&b, "\r\nContent-Length: 2\r\n\r\nok");
    break;
  }
  case SINK_MODE_ENDLESS:
    if (build(&b, 64 + 4096 + 8) == NULL) {
      return -ENOMEM;
    }
    /* The head, then one 4 KiB chunk that the worker repeats forever. */
    hl_buf_put_cstr(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n");
    char *fill = hl_buf_reserve(&b, 4096);
    if (fill != NULL) {
      memset(fill, 'e', 4096);
    }
    hl_buf_put_cstr(&b, "\r\n");
    break;
  default:
    return 0;
  }
  HL_ASSERT(hl_buf_ok(&b));
  r->fixed = b.ptr;
  r->fixed_len = (uint32_t)b.len;
  return 0;
}

int sink_config_prepare(sink_config *cfg, hl_err *err) {
  for (uint32_t i = 0; i < cfg->listeners_n; i++) {
    sink_listener *l = &cfg->listeners[i];
    if (!l->tls) {
      continue;
    }
    hl_tls_server_options o = {
        .cert_file = l->cert_file != NULL ? l->cert_file : cfg->cert_file,
        .key_file = l->key_file != NULL ? l->key_file : cfg->key_file,
        .max_version = l->tls_max_version,
        .min_version = l->tls_max_version == HL_TLS_V1_1 ? HL_TLS_V1_1 : 0,
    };
    int rc = hl_tls_ctx_server_new(&o, &l->tls_ctx, err);
    if (rc != 0) {
      hl_err_prefix(err, "--listen %s", l->text);
      return rc;
    }
  }
  uint32_t filler = 2;
  for (uint32_t i = 0; i < cfg->routes_n; i++) {
    if (route_fixed(&cfg->routes[i]) != 0) {
      return hl_err_fail(err, -ENOMEM, "out of memory building responses");
    }
    if (cfg->routes[i].body_bytes > filler) {
      filler = cfg->routes[i].body_bytes;
    }
  }
  cfg->filler = malloc(filler);
  if (cfg->filler == NULL) {
    return hl_err_fail(err, -ENOMEM, "out of memory building responses");
  }
  memset(cfg->filler, 'x', filler);
  memcpy(cfg->filler, "ok", 2);
  cfg->filler_len = filler;
  if (cfg->record_file != NULL) {
    cfg->record_fd = open(cfg->record_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (cfg->record_fd < 0) {
      return hl_err_fail(err, -errno, "--record: cannot open %s: %s", cfg->record_file,
                         strerror(errno));
    }
  }
  return 0;
}

void sink_config_cleanup(sink_config *cfg) {
  for (uint32_t i = 0; i < cfg->listeners_n; i++) {
    hl_tls_ctx_free(cfg->listeners[i].tls_ctx);
  }
  for (uint32_t i = 0; i < cfg->routes_n; i++) {
    free(cfg->routes[i].fixed);
  }
  free(cfg->filler);
  if (cfg->record_fd >= 0) {
    close(cfg->record_fd);
  }
  if (cfg->verify) {
    hl_signer_cleanup(&cfg->signer);
  }
  memset(cfg, 0, sizeof(*cfg));
}
