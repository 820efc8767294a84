/* cmd_send: `hookline send`, a producer on the command line.
 *
 * One message from flags, or a stream of JSON lines (--jsonl FILE or -),
 * each {"event":..., "data":{...}, "id":..., "endpoint":..., "tenant":...,
 * "timestamp_ms":...}. Each line is validated strictly (text/json_scan.h,
 * which also gives the column of a mistake), its structure is read with
 * cJSON (types, unknown and duplicate keys), and `data` is sent as the exact
 * bytes it has in the line (found with hl_json_lookup: number spelling,
 * spacing and escapes kept). Everything goes through the public API
 * (hookline.h), exactly as an application would. */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "hookline/hookline.h"
#include "text/json_scan.h"

#define SEND_DEFAULT_TIMEOUT_MS 5000
/* A line holds the data plus the other fields and their keys. */
#define SEND_LINE_BYTES_MAX (HL_MESSAGE_DATA_BYTES_MAX + 4096)
#define SEND_READ_CHUNK_BYTES (64 * 1024)
#define SEND_PROGRESS_EVERY_MS 250
#define SEND_PROGRESS_AFTER_MS 1000

static void send_help(void) {
  printf(
      "usage: hookline send [--ring NAME] --event NAME --data JSON [--id ID]\n"
      "                     [--endpoint ID] [--tenant T] [--timeout-ms N]\n"
      "       hookline send [--ring NAME] --jsonl FILE|- [--stop-on-error]\n"
      "                     [--timeout-ms N]\n"
      "\n"
      "Hands messages to the engine through its shared-memory ring.\n"
      "\n"
      "  --ring NAME        ring to write to (default hookline; a path with '/' is a\n"
      "                     file-backed ring)\n"
      "  --event NAME       event name: 1-%d bytes of letters, digits and _ . : -\n"
      "  --data JSON        the message's data, a JSON object (sent byte for byte)\n"
      "  --id ID            message id (default: the engine assigns msg_<ulid>)\n"
      "  --endpoint ID      deliver to this endpoint only\n"
      "  --tenant T         tenant\n"
      "  --timeout-ms N     how long to wait when the ring is full (default %d)\n"
      "  --jsonl FILE|-     one JSON object per line:\n"
      "                     {\"event\":\"...\",\"data\":{...},\"id\":\"...\",\"endpoint\":\"...\",\n"
      "                      \"tenant\":\"...\",\"timestamp_ms\":N}  (event and data required)\n"
      "                     rejected lines are reported with their line numbers\n"
      "  --stop-on-error    stop at the first rejected line (default: report, go on)\n"
      "\n"
      "examples:\n"
      "  hookline send --event lead.created --data '{\"email\":\"a@b.c\"}'\n"
      "  hookline send --event lead.created --id lead_42 --endpoint crm --data '{}'\n"
      "  hookline send --jsonl leads.jsonl\n"
      "  producer | hookline send --jsonl - --stop-on-error\n"
      "\n"
      "exit codes: 0 everything sent; 1 some lines rejected (the others sent);\n"
      "2 usage; 3 invalid message (or, with --stop-on-error, an invalid line);\n"
      "4 ring unavailable (not found, permission, other version, no free lane);\n"
      "75 ring full until the timeout: retry later (lines before it were sent).\n",
      HL_EVENT_NAME_BYTES_MAX, SEND_DEFAULT_TIMEOUT_MS);
}

/* exit_for maps a libhookline error to the command's exit code. */
static int exit_for(int rc) {
  switch (rc) {
    case 0:
      return HL_EXIT_OK;
    case -EINVAL:
    case -EMSGSIZE:
      return HL_EXIT_CONFIG;
    case -EAGAIN:
      return HL_EXIT_TEMPFAIL;
    default:
      return HL_EXIT_UNAVAILABLE;
  }
}

/* --- reading lines, bounded ----------------------------------------------- */

typedef struct line_reader {
  FILE *f;
  char chunk[SEND_READ_CHUNK_BYTES];
  size_t pos, len;
  bool eof;
} line_reader;

/* next_line copies the next line (without its newline, and without a CR
 * before it) into |line|; a line longer than |cap| is consumed and
 * reported in *too_long. Returns false at the end of input. */
static bool next_line(line_reader *r, char *line, size_t cap, size_t *len, bool *too_long) {
  *len = 0;
  *too_long = false;
  bool any = false;
  for (;;) {
    if (r->pos == r->len) {
      if (r->eof) {
        break;
      }
      r->len = fread(r->chunk, 1, sizeof(r->chunk), r->f);
      r->pos = 0;
      if (r->len == 0) {
        r->eof = true;
        break;
      }
    }
    any = true;
    char *start = r->chunk + r->pos;
    size_t avail = r->len - r->pos;
    char *nl = memchr(start, '\n', avail);
    size_t take = nl != NULL ? (size_t)(nl - start) : avail;
    if (!*too_long && *len + take <= cap) {
      memcpy(line + *len, start, take);
      *len += take;
    } else {
      *too_long = true;
    }
    r->pos += take + (nl != NULL ? 1 : 0);
    if (nl != NULL) {
      break;
    }
  }
  if (*len > 0 && line[*len - 1] == '\r') {
    (*len)--;
  }
  return any;
}

/* --- one JSON line -> hl_message ------------------------------------------- */

typedef struct line_msg {
  hl_message m;
  char *strings[4]; /* owned copies of event, id, endpoint, tenant */
} line_msg;

static void line_msg_free(line_msg *lm) {
  for (size_t i = 0; i < 4; i++) {
    free(lm->strings[i]);
    lm->strings[i] = NULL;
  }
}

static int take_string(const cJSON *v, const char *key, char **dst, const char **field,
                       char *why, size_t why_len) {
  if (!cJSON_IsString(v)) {
    snprintf(why, why_len, "\"%s\" must be a string", key);
    return -EINVAL;
  }
  /* cJSON stops at an escaped NUL; the library would then see a cut name. */
  *dst = strdup(v->valuestring);
  if (*dst == NULL) {
    snprintf(why, why_len, "out of memory");
    return -ENOMEM;
  }
  *field = *dst;
  return 0;
}

/* find_data_bytes locates the raw bytes of the top-level "data" member of
 * a validated line, so they are sent exactly as written. */
static bool find_data_bytes(const char *line, size_t len, hl_span *out) {
  hl_json_path path;
  hl_json_value v;
  if (hl_json_path_compile(HL_SPAN_LIT("data"), &path, NULL) != 0 ||
      hl_json_lookup(hl_span_make(line, len), &path, &v) != 0 || v.type != HL_JSON_OBJECT) {
    return false;
  }
  *out = v.raw;
  return true;
}

static int parse_line(const char *line, size_t len, line_msg *lm, char *why, size_t why_len) {
  memset(lm, 0, sizeof(*lm));
  hl_err jerr;
  if (hl_json_validate(hl_span_make(line, len), HL_JSON_DEPTH_MAX, &jerr) != 0) {
    snprintf(why, why_len, "not valid JSON: %s", jerr.msg);
    return -EINVAL;
  }
  cJSON *root = cJSON_ParseWithLength(line, len);
  if (root == NULL) {
    snprintf(why, why_len, "not valid JSON");
    return -EINVAL;
  }
  int rc = 0;
  const cJSON *data = NULL;
  if (!cJSON_IsObject(root)) {
    snprintf(why, why_len, "expected a JSON object per line");
    rc = -EINVAL;
  }
  static const char *const keys[] = {"event", "id", "endpoint", "tenant"};
  const char **fields[] = {&lm->m.event, &lm->m.id, &lm->m.endpoint, &lm->m.tenant};
  for (const cJSON *it = rc == 0 ? root->child : NULL; it != NULL && rc == 0; it = it->next) {
    /* A repeated key would leave it unclear which value was meant. */
    for (const cJSON *prev = root->child; prev != it && rc == 0; prev = prev->next) {
      if (strcmp(prev->string, it->string) == 0) {
        snprintf(why, why_len, "key \"%.40s\" appears twice", it->string);
        rc = -EINVAL;
      }
    }
    if (rc != 0) {
      break;
    }
    bool known = false;
    for (size_t k = 0; k < 4 && !known; k++) {
      if (strcmp(it->string, keys[k]) == 0) {
        known = true;
        rc = take_string(it, keys[k], &lm->strings[k], fields[k], why, why_len);
      }
    }
    if (known) {
      continue;
    }
    if (strcmp(it->string, "data") == 0) {
      data = it;
    } else if (strcmp(it->string, "timestamp_ms") == 0) {
      if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 9.0e15) {
        snprintf(why, why_len, "\"timestamp_ms\" must be a non-negative integer");
        rc = -EINVAL;
      } else {
        lm->m.timestamp_ms = (uint64_t)it->valuedouble;
      }
    } else {
      snprintf(why, why_len, "unknown key \"%.40s\" (expected event, data, id, endpoint, "
                             "tenant, timestamp_ms)", it->string);
      rc = -EINVAL;
    }
  }
  if (rc == 0 && lm->m.event == NULL) {
    snprintf(why, why_len, "\"event\" is missing");
    rc = -EINVAL;
  }
  if (rc == 0 && data == NULL) {
    snprintf(why, why_len, "\"data\" is missing");
    rc = -EINVAL;
  }
  if (rc == 0 && !cJSON_IsObject(data)) {
    snprintf(why, why_len, "\"data\" must be a JSON object");
    rc = -EINVAL;
  }
  hl_span raw;
  if (rc == 0 && !find_data_bytes(line, len, &raw)) {
    snprintf(why, why_len, "\"data\" could not be located");
    rc = -EINVAL;
  }
  if (rc == 0) {
    lm->m.data = raw.ptr;
    lm->m.data_len = raw.len;
  }
  cJSON_Delete(root);
  if (rc != 0) {
    line_msg_free(lm);
  }
  return rc;
}

/* --- the stream ----------------------------------------------------------- */

typedef struct send_stats {
  uint64_t lines, sent, rejected;
  uint64_t started_ms, shown_ms;
  bool progress;
} send_stats;

static void progress(send_stats *st, bool last) {
  if (!st->progress) {
    return;
  }
  uint64_t now = hl_clock_mono_ms();
  if (!last && (now - st->started_ms < SEND_PROGRESS_AFTER_MS ||
                now - st->shown_ms < SEND_PROGRESS_EVERY_MS)) {
    return;
  }
  if (last && st->shown_ms == 0) {
    return; /* never shown: nothing to clear */
  }
  st->shown_ms = now;
  double secs = (double)(now - st->started_ms) / 1000.0;
  fprintf(stderr, "\rline %llu: %llu sent, %llu rejected (%.0f/s)%s",
          (unsigned long long)st->lines, (unsigned long long)st->sent,
          (unsigned long long)st->rejected, secs > 0 ? (double)st->sent / secs : 0.0,
          last ? "\n" : "");
}

static int send_jsonl(hl_producer *p, const char *path, bool stop_on_error, int timeout_ms) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (f == NULL) {
    hl_cli_error("send", "--jsonl %s: %s", path, strerror(errno));
    return HL_EXIT_UNAVAILABLE;
  }
  line_reader *r = calloc(1, sizeof(*r));
  char *line = malloc(SEND_LINE_BYTES_MAX);
  if (r == NULL || line == NULL) {
    free(r);
    free(line);
    if (f != stdin) {
      fclose(f);
    }
    hl_cli_error("send", "out of memory");
    return HL_EXIT_FAIL;
  }
  r->f = f;
  send_stats st = {.started_ms = hl_clock_mono_ms(), .progress = isatty(2) == 1};
  int exit_code = HL_EXIT_OK;
  size_t len;
  bool too_long;
  while (exit_code == HL_EXIT_OK && next_line(r, line, SEND_LINE_BYTES_MAX, &len, &too_long)) {
    st.lines++;
    if (!too_long && len == 0) {
      continue; /* blank lines separate nothing; skip them quietly */
    }
    char why[HL_ERROR_BYTES + 64];
    int rc;
    line_msg lm;
    if (too_long) {
      snprintf(why, sizeof(why), "longer than %d bytes", SEND_LINE_BYTES_MAX);
      rc = -EMSGSIZE;
    } else {
      rc = parse_line(line, len, &lm, why, sizeof(why));
    }
    if (rc == 0) {
      hl_error e;
      rc = hl_produce(p, &lm.m, timeout_ms, &e);
      if (rc != 0) {
        snprintf(why, sizeof(why), "%s", e.msg);
      }
      line_msg_free(&lm);
    }
    if (rc == 0) {
      st.sent++;
    } else if (rc == -EINVAL || rc == -EMSGSIZE) {
      st.rejected++;
      hl_cli_error("send", "line %llu: %s", (unsigned long long)st.lines, why);
      if (stop_on_error) {
        exit_code = HL_EXIT_CONFIG;
      }
    } else {
      hl_cli_error("send", "line %llu: %s; lines before it were sent", (unsigned long long)st.lines,
                   why);
      exit_code = exit_for(rc);
    }
    progress(&st, false);
  }
  if (exit_code == HL_EXIT_OK && ferror(f)) {
    hl_cli_error("send", "--jsonl %s: read error", path);
    exit_code = HL_EXIT_FAIL;
  }
  progress(&st, true);
  fprintf(stderr, "hookline send: %llu sent, %llu rejected\n", (unsigned long long)st.sent,
          (unsigned long long)st.rejected);
  if (exit_code == HL_EXIT_OK && st.rejected > 0) {
    exit_code = HL_EXIT_FAIL;
  }
  if (f != stdin) {
    fclose(f);
  }
  free(line);
  free(r);
  return exit_code;
}

/* --- flags ---------------------------------------------------------------- */

int hl_cmd_send(int argc, char **argv) {
  enum {
    OPT_EVENT = 1,
    OPT_DATA,
    OPT_ID,
    OPT_ENDPOINT,
    OPT_TENANT,
    OPT_TIMEOUT,
    OPT_JSONL,
    OPT_STOP,
  };
  static const struct option options[] = {
      HL_CLI_COMMON_OPTIONS,
      {"event", required_argument, NULL, OPT_EVENT},
      {"data", required_argument, NULL, OPT_DATA},
      {"id", required_argument, NULL, OPT_ID},
      {"endpoint", required_argument, NULL, OPT_ENDPOINT},
      {"tenant", required_argument, NULL, OPT_TENANT},
      {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
      {"jsonl", required_argument, NULL, OPT_JSONL},
      {"stop-on-error", no_argument, NULL, OPT_STOP},
      {NULL, 0, NULL, 0},
  };
  hl_config cfg;
  hl_config_defaults(&cfg);
  hl_message m = {0};
  const char *jsonl = NULL;
  bool stop_on_error = false;
  int timeout_ms = SEND_DEFAULT_TIMEOUT_MS;
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    switch (opt) {
      case OPT_EVENT:
        m.event = optarg;
        break;
      case OPT_DATA:
        m.data = optarg;
        m.data_len = strlen(optarg);
        break;
      case OPT_ID:
        m.id = optarg;
        break;
      case OPT_ENDPOINT:
        m.endpoint = optarg;
        break;
      case OPT_TENANT:
        m.tenant = optarg;
        break;
      case OPT_TIMEOUT: {
        uint64_t v;
        if (!hl_span_parse_u64(hl_span_cstr(optarg), INT32_MAX, &v)) {
          return hl_cli_usage_error("send", "--timeout-ms: expected milliseconds, 0 to %d",
                                    INT32_MAX);
        }
        timeout_ms = (int)v;
        break;
      }
      case OPT_JSONL:
        jsonl = optarg;
        break;
      case OPT_STOP:
        stop_on_error = true;
        break;
      case '?':
        return hl_cli_usage_error("send", "invalid arguments");
      default:
        switch (hl_cli_common(&cfg, opt, optarg)) {
          case HL_CLI_HANDLED:
            break;
          case HL_CLI_HELP:
            send_help();
            return HL_EXIT_OK;
          case HL_CLI_ERROR:
            return HL_EXIT_USAGE;
          case HL_CLI_NOT_COMMON:
            return hl_cli_usage_error("send", "unexpected option");
        }
    }
  }
  if (optind < argc) {
    return hl_cli_usage_error("send", "unexpected argument '%s'", argv[optind]);
  }
  bool single = m.event != NULL || m.data != NULL || m.id != NULL || m.endpoint != NULL ||
                m.tenant != NULL;
  if (jsonl != NULL && single) {
    return hl_cli_usage_error("send", "--jsonl cannot be combined with --event, --data, --id, "
                                      "--endpoint or --tenant");
  }
  if (jsonl == NULL && (m.event == NULL || m.data == NULL)) {
    return hl_cli_usage_error("send", "give --event and --data, or --jsonl FILE");
  }
  if (jsonl == NULL && stop_on_error) {
    return hl_cli_usage_error("send", "--stop-on-error applies to --jsonl only");
  }
  hl_producer *p;
  hl_error e;
  int rc = hl_producer_open(&p, cfg.ring_name, NULL, &e);
  if (rc != 0) {
    hl_cli_error("send", "%s", e.msg);
    return exit_for(rc) == HL_EXIT_CONFIG ? HL_EXIT_USAGE : exit_for(rc);
  }
  int code;
  if (jsonl != NULL) {
    code = send_jsonl(p, jsonl, stop_on_error, timeout_ms);
  } else {
    rc = hl_produce(p, &m, timeout_ms, &e);
    if (rc != 0) {
      hl_cli_error("send", "%s", e.msg);
    }
    code = exit_for(rc);
  }
  hl_producer_close(p);
  return code;
}
