/* cmd_verify: `hookline verify` checks a received webhook's signature by
 * hand, and `hookline sign` makes one (to test a receiver, or a verifier).
 *
 * Both take the signing configuration an endpoint has (scheme, secrets,
 * header names, prefix) and go through crypto/sign, the code the engine
 * signs with, so what they accept is exactly what the engine sends.
 * Secrets come from --secret-file (a file or stdin) by preference: a
 * --secret on the command line is visible to every user of the machine
 * (ps, /proc/PID/cmdline) and stays in shell history. No secret is ever
 * printed, not even in an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "crypto/sign.h"
#include "ops.h"

#define VERIFY_HEADERS_MAX 64
#define VERIFY_HEADER_FILE_BYTES_MAX (64 * 1024)
#define VERIFY_BODY_BYTES_MAX HL_RENDER_BYTES_MAX
#define VERIFY_TOLERANCE_S_DEFAULT 300
#define VERIFY_TOLERANCE_S_MAX (365u * 24 * 3600)

static void verify_help(void) {
  printf(
      "usage: hookline verify --scheme SCHEME (--secret-file F|- | --secret S)...\n"
      "                       (--header 'Name: value'... | --headers-file F)\n"
      "                       [--tolerance SECONDS] [--body-file F] [signing flags] < body\n"
      "\n"
      "Checks a received webhook's signature, exactly as hookline signs: exit 0 when\n"
      "it is valid, 1 when not, with the reason on stderr: missing header, malformed\n"
      "header, stale timestamp, or mismatch (no signature matches any secret).\n"
      "\n"
      "  --scheme S          standard, hmac-sha256, stripe, static (none: always valid)\n"
      "  --secret-file F|-   the endpoint's secret, from a file or stdin (one line);\n"
      "                      repeat for several secrets (rotation: any may match)\n"
      "  --secret S          the same on the command line: avoid it; other users can\n"
      "                      read command lines (ps) and shells keep them in history\n"
      "  --header 'N: v'     a received header (repeat); names match case-insensitively\n"
      "  --headers-file F    received headers, one 'Name: value' per line (curl -D\n"
      "                      output works: the status line and blank lines are skipped)\n"
      "  --tolerance N       seconds the timestamp may differ from now (default %d;\n"
      "                      0 skips the check); standard and stripe only\n"
      "  --body-file F       the raw body (default: stdin), byte for byte as received\n"
      "signing flags (when the endpoint changed the defaults):\n"
      "  --signature-header H  --prefix P (hmac-sha256; '' for none)\n"
      "  --id-header H  --timestamp-header H (standard)\n"
      "\n"
      "examples:\n"
      "  hookline verify --scheme standard --secret-file secret.txt \\\n"
      "      --header 'webhook-id: msg_2Lh9' --header 'webhook-timestamp: 1732262400' \\\n"
      "      --header 'webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=' \\\n"
      "      --tolerance 0 < body.json\n"
      "  curl -s -D headers.txt -o body.json ... ; hookline verify --scheme hmac-sha256 \\\n"
      "      --secret-file secret.txt --headers-file headers.txt --body-file body.json\n"
      "\n"
      "exit codes: 0 valid, 1 not valid, 2 usage, 3 invalid secret or signing\n"
      "flags, 4 a file cannot be read.\n",
      VERIFY_TOLERANCE_S_DEFAULT);
}

static void sign_help(void) {
  printf(
      "usage: hookline sign --scheme SCHEME (--secret-file F|- | --secret S)...\n"
      "                     [--id ID] [--timestamp UNIX_S] [--body-file F] [--json]\n"
      "                     [signing flags] < body\n"
      "\n"
      "Prints the signature headers hookline would send with this body, one\n"
      "'Name: value' per line (or one JSON object with --json), to test a receiver or\n"
      "a verifier. Same secrets and signing flags as 'hookline verify'; several\n"
      "secrets (newest first) sign as during a rotation.\n"
      "\n"
      "  --id ID           the message id (standard signs it; default msg_test)\n"
      "  --timestamp N     Unix seconds (default: now)\n"
      "\n"
      "examples:\n"
      "  echo -n '{\"type\":\"lead.created\"}' > body.json\n"
      "  hookline sign --scheme standard --secret-file secret.txt --body-file body.json\n"
      "  hookline sign --scheme stripe --secret-file new.txt --secret-file old.txt < body.json\n"
      "\n"
      "exit codes: 0 ok, 2 usage, 3 invalid secret, id or signing flags, 4 a file\n"
      "cannot be read.\n");
}

typedef struct sig_flags {
  hl_sign_config cfg;
  hl_span secrets[HL_SECRETS_PER_ENDPOINT_MAX];
  char *owned[HL_SECRETS_PER_ENDPOINT_MAX]; /* secrets read from files, wiped */
  size_t secrets_n;
  bool scheme_given;
  bool stdin_used;
  const char *body_file;
  hl_sign_header headers[VERIFY_HEADERS_MAX];
  size_t headers_n;
  char *headers_file_text;
  uint64_t tolerance_s;
  const char *id;
  uint64_t timestamp_s;
  bool json;
} sig_flags;

static void sig_flags_free(sig_flags *f) {
  for (size_t i = 0; i < f->secrets_n; i++) {
    if (f->owned[i] != NULL) {
      memset(f->owned[i], 0, strlen(f->owned[i]));
      free(f->owned[i]);
    }
  }
  free(f->headers_file_text);
}

/* read_all reads a file (or stdin for "-") of at most |max| bytes. */
static int read_all(const char *cmd, const char *path, size_t max, char **out, size_t *len,
                    const char *what) {
  FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (fp == NULL) {
    hl_cli_error(cmd, "%s: cannot open %s: %s", what, path, strerror(errno));
    return HL_EXIT_UNAVAILABLE;
  }
  char *buf = malloc(max + 1);
  size_t n = buf != NULL ? fread(buf, 1, max + 1, fp) : 0;
  bool failed = buf == NULL || ferror(fp);
  if (fp != stdin) {
    fclose(fp);
  }
  if (failed || n > max) {
    free(buf);
    hl_cli_error(cmd, "%s: %s", what, failed ? "cannot read it" : "too large");
    return failed ? HL_EXIT_UNAVAILABLE : HL_EXIT_CONFIG;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static int use_stdin(const char *cmd, sig_flags *f, const char *what) {
  if (f->stdin_used) {
    return hl_cli_usage_error(cmd, "%s: stdin is already used for something else", what);
  }
  f->stdin_used = true;
  return 0;
}

static int add_secret(const char *cmd, sig_flags *f, const char *value, bool from_file) {
  if (f->secrets_n == HL_SECRETS_PER_ENDPOINT_MAX) {
    return hl_cli_usage_error(cmd, "at most %d secrets", HL_SECRETS_PER_ENDPOINT_MAX);
  }
  char *text = NULL;
  size_t len = 0;
  if (from_file) {
    int rc = strcmp(value, "-") == 0 ? use_stdin(cmd, f, "--secret-file -") : 0;
    if (rc == 0) {
      rc = read_all(cmd, value, HL_SIGN_SECRET_BYTES_MAX + 2, &text, &len, "--secret-file");
    }
    if (rc != 0) {
      return rc;
    }
    /* One line: a trailing newline (and CR) is not part of the secret. */
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) {
      text[--len] = '\0';
    }
    f->owned[f->secrets_n] = text;
    value = text;
  }
  f->secrets[f->secrets_n++] = hl_span_cstr(value);
  return 0;
}

static int add_header(const char *cmd, sig_flags *f, hl_span line) {
  hl_span name;
  if (!hl_span_get_until(&line, ':', &name) || hl_span_trim_ows(name).len == 0) {
    return hl_cli_usage_error(cmd, "--header: expected 'Name: value'");
  }
  if (f->headers_n == VERIFY_HEADERS_MAX) {
    return hl_cli_usage_error(cmd, "at most %d headers", VERIFY_HEADERS_MAX);
  }
  f->headers[f->headers_n++] =
      (hl_sign_header){.name = hl_span_trim_ows(name), .value = hl_span_trim_ows(line)};
  return 0;
}

/* headers_file: "Name: value" lines; a status line ("HTTP/1.1 200 OK"),
 * blank lines and CRs are skipped. The text is kept: headers point into it. */
static int headers_file(const char *cmd, sig_flags *f, const char *path) {
  if (f->headers_file_text != NULL) {
    return hl_cli_usage_error(cmd, "--headers-file: given twice");
  }
  size_t len = 0;
  int rc = strcmp(path, "-") == 0 ? use_stdin(cmd, f, "--headers-file -") : 0;
  if (rc == 0) {
    rc = read_all(cmd, path, VERIFY_HEADER_FILE_BYTES_MAX, &f->headers_file_text, &len,
                  "--headers-file");
  }
  hl_span rest = hl_span_make(f->headers_file_text, len), line;
  while (rc == 0 && rest.len > 0) {
    if (!hl_span_get_until(&rest, '\n', &line)) {
      line = rest;
      rest = HL_SPAN_NULL;
    }
    if (hl_span_ends_with(line, HL_SPAN_LIT("\r"))) {
      line.len--;
    }
    if (line.len == 0 || hl_span_starts_with(line, HL_SPAN_LIT("HTTP/"))) {
      continue;
    }
    rc = add_header(cmd, f, line);
  }
  return rc;
}

enum {
  OPT_SCHEME = 1,
  OPT_SECRET,
  OPT_SECRET_FILE,
  OPT_HEADER,
  OPT_HEADERS_FILE,
  OPT_TOLERANCE,
  OPT_BODY_FILE,
  OPT_SIGNATURE_HEADER,
  OPT_PREFIX,
  OPT_ID_HEADER,
  OPT_TIMESTAMP_HEADER,
  OPT_ID,
  OPT_TIMESTAMP,
  OPT_JSON,
};

static const struct option sig_options[] = {
    {"help", no_argument, NULL, HL_OPT_HELP},
    {"scheme", required_argument, NULL, OPT_SCHEME},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"header", required_argument, NULL, OPT_HEADER},
    {"headers-file", required_argument, NULL, OPT_HEADERS_FILE},
    {"tolerance", required_argument, NULL, OPT_TOLERANCE},
    {"body-file", required_argument, NULL, OPT_BODY_FILE},
    {"signature-header", required_argument, NULL, OPT_SIGNATURE_HEADER},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"id-header", required_argument, NULL, OPT_ID_HEADER},
    {"timestamp-header", required_argument, NULL, OPT_TIMESTAMP_HEADER},
    {"id", required_argument, NULL, OPT_ID},
    {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

/* Flags each command accepts besides the shared signing ones. */
static bool verify_only_flag(int opt) {
  return opt == OPT_HEADER || opt == OPT_HEADERS_FILE || opt == OPT_TOLERANCE;
}

static bool sign_only_flag(int opt) {
  return opt == OPT_ID || opt == OPT_TIMESTAMP || opt == OPT_JSON;
}

static int parse_one(const char *cmd, bool verifying, sig_flags *f, int opt) {
  uint64_t n;
  if ((verifying && sign_only_flag(opt)) || (!verifying && verify_only_flag(opt))) {
    return hl_cli_usage_error(cmd, "this flag belongs to 'hookline %s'",
                              verifying ? "sign" : "verify");
  }
  switch (opt) {
    case OPT_SCHEME:
      if (hl_sign_scheme_parse(hl_span_cstr(optarg), &f->cfg.scheme) != 0) {
        return hl_cli_usage_error(
            cmd, "--scheme: expected standard, hmac-sha256, stripe, static or none");
      }
      f->scheme_given = true;
      return 0;
    case OPT_SECRET:
    case OPT_SECRET_FILE:
      return add_secret(cmd, f, optarg, opt == OPT_SECRET_FILE);
    case OPT_HEADER:
      return add_header(cmd, f, hl_span_cstr(optarg));
    case OPT_HEADERS_FILE:
      return headers_file(cmd, f, optarg);
    case OPT_TOLERANCE:
      if (!hl_span_parse_u64(hl_span_cstr(optarg), VERIFY_TOLERANCE_S_MAX, &f->tolerance_s)) {
        return hl_cli_usage_error(cmd, "--tolerance: expected seconds, 0 to %u",
                                  VERIFY_TOLERANCE_S_MAX);
      }
      return 0;
    case OPT_BODY_FILE:
      f->body_file = optarg;
      return 0;
    case OPT_SIGNATURE_HEADER:
      f->cfg.header = hl_span_cstr(optarg);
      return 0;
    case OPT_PREFIX:
      f->cfg.prefix = hl_span_cstr(optarg);
      return 0;
    case OPT_ID_HEADER:
      f->cfg.id_header = hl_span_cstr(optarg);
      return 0;
    case OPT_TIMESTAMP_HEADER:
      f->cfg.timestamp_header = hl_span_cstr(optarg);
      return 0;
    case OPT_ID:
      f->id = optarg;
      return 0;
    case OPT_TIMESTAMP:
      if (!hl_span_parse_u64(hl_span_cstr(optarg), 999999999999ull, &n)) {
        return hl_cli_usage_error(cmd, "--timestamp: expected Unix seconds");
      }
      f->timestamp_s = n;
      return 0;
    case OPT_JSON:
      f->json = true;
      return 0;
    case HL_OPT_HELP:
      (verifying ? verify_help : sign_help)();
      return -1;
    default:
      return hl_cli_usage_error(cmd, "invalid arguments");
  }
}

static int parse_sig_flags(const char *cmd, bool verifying, int argc, char **argv, sig_flags *f) {
  memset(f, 0, sizeof(*f));
  f->tolerance_s = VERIFY_TOLERANCE_S_DEFAULT;
  f->id = "msg_test";
  f->timestamp_s = hl_clock_wall_ms() / 1000;
  optind = 1;
  int opt, rc = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "", sig_options, NULL)) != -1) {
    rc = parse_one(cmd, verifying, f, opt);
  }
  if (rc != 0) {
    return rc;
  }
  if (optind < argc) {
    return hl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  }
  if (!f->scheme_given) {
    return hl_cli_usage_error(cmd, "--scheme is required");
  }
  if (f->cfg.scheme != HL_SIGN_NONE && f->secrets_n == 0) {
    return hl_cli_usage_error(cmd, "give the secret with --secret-file F (or --secret S)");
  }
  if (verifying && f->headers_n == 0 && f->cfg.scheme != HL_SIGN_NONE) {
    return hl_cli_usage_error(cmd, "give the received headers with --header or --headers-file");
  }
  if (f->body_file == NULL && f->stdin_used) {
    return hl_cli_usage_error(cmd, "stdin holds a secret or headers: give the body with "
                                   "--body-file");
  }
  f->cfg.secrets = f->secrets;
  f->cfg.secrets_n = f->secrets_n;
  return 0;
}

static int read_body(const char *cmd, sig_flags *f, char **body, size_t *len) {
  return read_all(cmd, f->body_file != NULL ? f->body_file : "-", VERIFY_BODY_BYTES_MAX, body,
                  len, "body");
}

/* reason names the kind of failure before the module's sentence. */
static const char *reason(int rc) {
  switch (rc) {
    case HL_SIGN_ENOHEADER:
      return "missing header";
    case HL_SIGN_EMALFORMED:
      return "malformed";
    case HL_SIGN_ESTALE:
      return "stale timestamp";
    case HL_SIGN_EMISMATCH:
      return "mismatch";
    default:
      return "error";
  }
}

int hl_cmd_verify(int argc, char **argv) {
  sig_flags f;
  int rc = parse_sig_flags("verify", true, argc, argv, &f);
  char *body = NULL;
  size_t len = 0;
  if (rc == 0) {
    rc = read_body("verify", &f, &body, &len);
  }
  if (rc == 0) {
    hl_err err = {{0}};
    int v = hl_sign_verify(&f.cfg, f.headers, f.headers_n, hl_span_make(body, len),
                           hl_clock_wall_ms() / 1000, f.tolerance_s, &err);
    if (v == 0) {
      printf("valid (%s)\n", hl_sign_scheme_name(f.cfg.scheme));
    } else if (v == -EINVAL) {
      hl_cli_error("verify", "signing configuration: %s", err.msg);
      rc = HL_EXIT_CONFIG;
    } else {
      hl_cli_error("verify", "not valid: %s: %s", reason(v), err.msg);
      rc = HL_EXIT_FAIL;
    }
  }
  free(body);
  sig_flags_free(&f);
  return rc < 0 ? HL_EXIT_OK : rc;
}

static int print_sign_json(hl_span lines) {
  hl_ops_json j;
  hl_ops_json_begin(&j);
  hl_span rest = lines, line, name;
  while (hl_span_get_until(&rest, '\n', &line)) {
    line.len -= hl_span_ends_with(line, HL_SPAN_LIT("\r")) ? 1 : 0;
    if (hl_span_get_until(&line, ':', &name)) {
      char key[HL_SIGN_HEADER_NAME_BYTES_MAX + 1];
      hl_span_to_cstr(hl_span_sub(name, 0, HL_SIGN_HEADER_NAME_BYTES_MAX), key, sizeof(key));
      hl_ops_json_str(&j, key, hl_span_trim_ows(line));
    }
  }
  return hl_ops_json_end(&j) == 0 ? HL_EXIT_OK : HL_EXIT_FAIL;
}

int hl_cmd_sign(int argc, char **argv) {
  sig_flags f;
  int rc = parse_sig_flags("sign", false, argc, argv, &f);
  char *body = NULL;
  size_t len = 0;
  if (rc == 0) {
    rc = read_body("sign", &f, &body, &len);
  }
  hl_signer signer;
  memset(&signer, 0, sizeof(signer));
  hl_err err = {{0}};
  if (rc == 0 && f.cfg.scheme == HL_SIGN_STATIC) {
    /* Its only header is the secret itself, which is never printed. */
    rc = hl_cli_usage_error("sign", "--scheme static: nothing to compute; the receiver gets the "
                                    "secret itself in its header");
  }
  if (rc == 0 && hl_signer_init(&signer, &f.cfg, &err) != 0) {
    hl_cli_error("sign", "signing configuration: %s", err.msg);
    rc = HL_EXIT_CONFIG;
  }
  char mem[HL_SIGN_HEADER_LINES_BYTES_MAX];
  hl_buf lines;
  hl_buf_init(&lines, mem, sizeof(mem));
  if (rc == 0 && hl_signer_sign(&signer, hl_span_cstr(f.id), f.timestamp_s,
                                hl_span_make(body, len), &lines, &err) != 0) {
    hl_cli_error("sign", "%s", err.msg);
    rc = HL_EXIT_CONFIG;
  }
  if (rc == 0 && f.json) {
    rc = print_sign_json(hl_buf_span(&lines));
  } else if (rc == 0) {
    /* "Name: value\r\n" lines, printed without the CRs. */
    hl_span rest = hl_buf_span(&lines), line;
    while (hl_span_get_until(&rest, '\n', &line)) {
      line.len -= hl_span_ends_with(line, HL_SPAN_LIT("\r")) ? 1 : 0;
      printf("%.*s\n", HL_SPAN_FMT(line));
    }
  }
  hl_signer_cleanup(&signer);
  free(body);
  sig_flags_free(&f);
  return rc < 0 ? HL_EXIT_OK : rc;
}
