/* cmd_endpoint: `hookline endpoint add|update|list|show|enable|disable|
 * delete|rotate-secret|apply`.
 *
 * Every way of changing an endpoint goes through one path: the flags (or
 * the file) become a JSON patch in the user's form, hl_endpoint_parse /
 * hl_endpoint_patch apply it, hl_endpoint_validate checks it against the
 * network policy, and the sealed canonical form is stored. Secrets are read
 * from files or stdin where possible (command lines are visible to other
 * users), never printed, and a generated secret is shown exactly once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "deliver/endpoint.h"
#include "deliver/target.h"
#include "store/store.h"
#include "text/json_scan.h"

#define SECRET_FILE_BYTES_MAX 4096
#define APPLY_FILE_BYTES_MAX (16u * 1024 * 1024)

static void endpoint_help(void) {
  printf(
      "usage: hookline endpoint <command> [flags]\n"
      "\n"
      "commands:\n"
      "  add [--id ID] --url URL [fields]   create an endpoint\n"
      "  update ID [fields]                 change the fields given\n"
      "  list [--json]                      one line per endpoint\n"
      "  show ID [--json]                   an endpoint's configuration (secrets as fingerprints)\n"
      "  enable ID | disable ID | delete ID\n"
      "  rotate-secret ID [--secret-file F|-] [--grace-s N]\n"
      "                                     new signing secret; the old one keeps signing and\n"
      "                                     verifying for the grace period (default 86400 s)\n"
      "  apply -f FILE [--dry-run]          create or update every endpoint in FILE\n"
      "\n"
      "fields (add/update):\n"
      "  --url URL                 https:// (http:// only with --allow-http)\n"
      "  --method M                GET, POST (default), PUT, PATCH, DELETE\n"
      "  --event E                 event name, 'prefix.*' or '*' (repeat; none = all)\n"
      "  --filter-any FIELD        deliver only if one of these data fields is present (repeat)\n"
      "  --header 'Name: value'    custom header, value may hold {{placeholders}} (repeat;\n"
      "                            replaces the endpoint's headers)\n"
      "  --query 'name=value'      query parameter, value may hold {{placeholders}} (repeat)\n"
      "  --auth TYPE               none, bearer, basic, api_key\n"
      "  --auth-token-file F|-     bearer token      --auth-user U --auth-password-file F|-\n"
      "  --auth-header H --auth-value-file F|-       api_key header and value\n"
      "  --template TEXT | --template-file F         body template (default: envelope)\n"
      "  --signing SCHEME          standard, hmac-sha256, stripe, static, none\n"
      "  --secret-file F|-         signing secret (generated and shown once if omitted)\n"
      "  --signing-header H --signing-prefix P\n"
      "  --timeout-ms N  --retry-schedule 0,5,300  --max-connections N  --rate-limit N\n"
      "  --allow-http  --disabled  --enabled\n"
      "  --fields OBJECT           any fields as JSON, as in an apply file\n"
      "\n"
      "common: --data-dir DIR, --allow-network CIDR (repeat), --ca-file PEM\n"
      "\n"
      "examples:\n"
      "  hookline endpoint add --id crm --url https://crm.example.com/hooks \\\n"
      "      --event 'lead.*' --signing standard\n"
      "  hookline endpoint update crm --header 'X-Source: {{source}}' --timeout-ms 5000\n"
      "  hookline endpoint apply -f endpoints.json --dry-run\n"
      "  echo -n \"$TOKEN\" | hookline endpoint update crm --auth bearer --auth-token-file -\n"
      "\n"
      "exit codes: 0 ok, 2 usage, 3 invalid endpoint or file, 4 data dir unavailable.\n");
}

/* --- shared helpers ------------------------------------------------------ */

static int read_file(const char *path, size_t max, char **out, size_t *len, const char *what) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (f == NULL) {
    hl_cli_error("endpoint", "%s: cannot open %s: %s", what, path, strerror(errno));
    return HL_EXIT_UNAVAILABLE;
  }
  char *buf = malloc(max + 1);
  size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
  bool err = buf == NULL || ferror(f);
  if (f != stdin) {
    fclose(f);
  }
  if (err || n > max) {
    free(buf);
    hl_cli_error("endpoint", "%s: %s", what, err ? "cannot read" : "too large");
    return HL_EXIT_CONFIG;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

/* A secret file holds the secret, optionally followed by one newline. */
static int read_secret(const char *path, char **out, const char *what) {
  size_t len;
  int rc = read_file(path, SECRET_FILE_BYTES_MAX, out, &len, what);
  if (rc != 0) {
    return rc;
  }
  if (len > 0 && (*out)[len - 1] == '\n') {
    (*out)[--len] = '\0';
  }
  if (len > 0 && (*out)[len - 1] == '\r') {
    (*out)[--len] = '\0';
  }
  return 0;
}

typedef struct env {
  hl_config cfg;
  hl_store *store;
  hl_secretbox box;
  hl_netpolicy policy;
} env;

static int env_open(env *e, bool need_box) {
  hl_err err = {{0}};
  if (hl_store_open(&e->store, e->cfg.data_dir, HL_STORE_READ_WRITE, &err) != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    return HL_EXIT_UNAVAILABLE;
  }
  if (need_box && hl_secretbox_load_key(&e->box, e->cfg.data_dir, &err) != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    return HL_EXIT_UNAVAILABLE;
  }
  hl_netpolicy_init(&e->policy);
  for (uint32_t i = 0; i < e->cfg.allow_networks_len; i++) {
    if (hl_netpolicy_allow(&e->policy, e->cfg.allow_networks[i], &err) != 0) {
      hl_cli_error("endpoint", "--allow-network: %s", err.msg);
      return HL_EXIT_USAGE;
    }
  }
  return 0;
}

static void env_close(env *e) {
  hl_store_close(e->store);
  hl_secretbox_cleanup(&e->box);
}

/* load: the stored endpoint |id|, secrets opened; |rec_out| (may be NULL)
 * receives the store's record. */
static int load(env *e, const char *id, hl_endpoint_config *c, hl_endpoint_rec *rec_out) {
  hl_err err = {{0}};
  hl_endpoint_rec local;
  hl_endpoint_rec *rec = rec_out != NULL ? rec_out : &local;
  int rc = hl_store_endpoint_get(e->store, hl_span_cstr(id), rec, &err);
  if (rc != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    return rc == -ENOENT ? HL_EXIT_CONFIG : HL_EXIT_UNAVAILABLE;
  }
  rc = hl_endpoint_load(rec->config, &e->box, c, &err);
  if (rc == 0) {
    c->enabled = rec->enabled;
  } else {
    hl_cli_error("endpoint", "stored endpoint %s is unreadable: %s", id, err.msg);
    hl_endpoint_rec_cleanup(rec);
    return HL_EXIT_CONFIG;
  }
  if (rec_out == NULL) {
    hl_endpoint_rec_cleanup(rec);
  }
  return 0;
}


/* Secrets the user did not give are generated; *generated tells the caller
 * to show it once. */
static int ensure_secret(hl_endpoint_config *c, char generated[HL_SIGN_SECRET_BYTES_MAX]) {
  generated[0] = '\0';
  if (c->signing.scheme == HL_SIGN_NONE || c->signing.secrets_n > 0) {
    return 0;
  }
  hl_buf b;
  hl_buf_init(&b, generated, HL_SIGN_SECRET_BYTES_MAX);
  if (hl_sign_generate_secret(c->signing.scheme, &b) != 0 || hl_buf_cstr(&b)[0] == '\0') {
    return -EIO;
  }
  c->signing.secrets[0].value = strdup(generated);
  c->signing.secrets[0].expires_ms = 0;
  c->signing.secrets_n = 1;
  return c->signing.secrets[0].value != NULL ? 0 : -ENOMEM;
}

static int save(env *e, hl_endpoint_config *c, bool *created) {
  hl_err err = {{0}};
  size_t cap = 1u << 20;
  char *mem = malloc(cap);
  if (mem == NULL) {
    return HL_EXIT_FAIL;
  }
  hl_buf out;
  hl_buf_init(&out, mem, cap);
  int rc = hl_endpoint_write(c, HL_ENDPOINT_SEALED, &e->box, &out, &err);
  if (rc == 0) {
    rc = hl_store_endpoint_put(e->store, hl_span_cstr(c->id), hl_buf_span(&out), c->enabled,
                               created, &err);
  }
  free(mem);
  if (rc != 0) {
    hl_cli_error("endpoint", "%s: %s", c->id, err.msg);
    return HL_EXIT_UNAVAILABLE;
  }
  return 0;
}

static int validate(env *e, const hl_endpoint_config *c, const char *where) {
  hl_err err = {{0}};
  hl_endpoint_policy p = {.netpolicy = &e->policy, .resolve = true};
  if (hl_endpoint_validate(c, &p, &err) != 0 || hl_target_check(c, &err) != 0) {
    hl_cli_error("endpoint", "%s%s%s", where, where[0] != '\0' ? ": " : "", err.msg);
    return HL_EXIT_CONFIG;
  }
  return 0;
}

static void show_generated(const char *id, const char *secret) {
  if (secret[0] != '\0') {
    printf("signing secret for %s (shown once; store it now): %s\n", id, secret);
  }
}

/* --- flags to patch ------------------------------------------------------- */

enum {
  F_ID = 1,
  F_URL,
  F_METHOD,
  F_EVENT,
  F_FILTER_ANY,
  F_HEADER,
  F_QUERY,
  F_AUTH,
  F_AUTH_TOKEN_FILE,
  F_AUTH_USER,
  F_AUTH_PASSWORD_FILE,
  F_AUTH_HEADER,
  F_AUTH_VALUE_FILE,
  F_TEMPLATE,
  F_TEMPLATE_FILE,
  F_SIGNING,
  F_SECRET_FILE,
  F_SIGNING_HEADER,
  F_SIGNING_PREFIX,
  F_TIMEOUT,
  F_RETRY,
  F_MAX_CONNS,
  F_RATE,
  F_ALLOW_HTTP,
  F_DISABLED,
  F_ENABLED,
  F_JSON,
  F_FIELDS,
  F_FILE,
  F_DRY_RUN,
  F_GRACE,
};

static const struct option endpoint_options[] = {
    HL_CLI_COMMON_OPTIONS,
    {"id", required_argument, NULL, F_ID},
    {"url", required_argument, NULL, F_URL},
    {"method", required_argument, NULL, F_METHOD},
    {"event", required_argument, NULL, F_EVENT},
    {"filter-any", required_argument, NULL, F_FILTER_ANY},
    {"header", required_argument, NULL, F_HEADER},
    {"query", required_argument, NULL, F_QUERY},
    {"auth", required_argument, NULL, F_AUTH},
    {"auth-token-file", required_argument, NULL, F_AUTH_TOKEN_FILE},
    {"auth-user", required_argument, NULL, F_AUTH_USER},
    {"auth-password-file", required_argument, NULL, F_AUTH_PASSWORD_FILE},
    {"auth-header", required_argument, NULL, F_AUTH_HEADER},
    {"auth-value-file", required_argument, NULL, F_AUTH_VALUE_FILE},
    {"template", required_argument, NULL, F_TEMPLATE},
    {"template-file", required_argument, NULL, F_TEMPLATE_FILE},
    {"signing", required_argument, NULL, F_SIGNING},
    {"secret-file", required_argument, NULL, F_SECRET_FILE},
    {"signing-header", required_argument, NULL, F_SIGNING_HEADER},
    {"signing-prefix", required_argument, NULL, F_SIGNING_PREFIX},
    {"timeout-ms", required_argument, NULL, F_TIMEOUT},
    {"retry-schedule", required_argument, NULL, F_RETRY},
    {"max-connections", required_argument, NULL, F_MAX_CONNS},
    {"rate-limit", required_argument, NULL, F_RATE},
    {"allow-http", no_argument, NULL, F_ALLOW_HTTP},
    {"disabled", no_argument, NULL, F_DISABLED},
    {"enabled", no_argument, NULL, F_ENABLED},
    {"json", no_argument, NULL, F_JSON},
    {"fields", required_argument, NULL, F_FIELDS},
    {"file", required_argument, NULL, F_FILE},
    {"dry-run", no_argument, NULL, F_DRY_RUN},
    {"grace-s", required_argument, NULL, F_GRACE},
    {NULL, 0, NULL, 0},
};

/* Flags that set one field: the patch's |section| (NULL: top level) gets
 * |key| from the argument, a file, or a number. */
typedef enum flag_kind { FK_STRING, FK_NUMBER, FK_FILE, FK_SECRET_FILE } flag_kind;
typedef struct flag_field {
  int opt;
  const char *section;
  const char *key;
  flag_kind kind;
} flag_field;

static const flag_field flag_fields[] = {
    {F_ID, NULL, "id", FK_STRING},
    {F_URL, NULL, "url", FK_STRING},
    {F_METHOD, NULL, "method", FK_STRING},
    {F_AUTH, "auth", "type", FK_STRING},
    {F_AUTH_TOKEN_FILE, "auth", "token", FK_SECRET_FILE},
    {F_AUTH_USER, "auth", "username", FK_STRING},
    {F_AUTH_PASSWORD_FILE, "auth", "password", FK_SECRET_FILE},
    {F_AUTH_HEADER, "auth", "header", FK_STRING},
    {F_AUTH_VALUE_FILE, "auth", "value", FK_SECRET_FILE},
    {F_TEMPLATE, NULL, "template", FK_STRING},
    {F_TEMPLATE_FILE, NULL, "template", FK_FILE},
    {F_SIGNING, "signing", "scheme", FK_STRING},
    {F_SIGNING_HEADER, "signing", "header", FK_STRING},
    {F_SIGNING_PREFIX, "signing", "prefix", FK_STRING},
    {F_TIMEOUT, NULL, "timeout_ms", FK_NUMBER},
    {F_MAX_CONNS, NULL, "max_connections", FK_NUMBER},
    {F_RATE, NULL, "rate_limit_per_s", FK_NUMBER},
};

typedef struct flags {
  cJSON *patch; /* the fields, in the user's JSON form */
  const char *file;
  bool dry_run;
  uint64_t grace_s;
  const char *secret_file;
  bool json_out;
  const char *positional[2];
  int positional_n;
} flags;

static cJSON *patch_object(cJSON *patch, const char *key) {
  cJSON *o = cJSON_GetObjectItemCaseSensitive(patch, key);
  if (o == NULL) {
    o = cJSON_AddObjectToObject(patch, key);
  }
  return o;
}

static cJSON *patch_array(cJSON *patch, const char *key) {
  cJSON *a = cJSON_GetObjectItemCaseSensitive(patch, key);
  if (a == NULL) {
    a = cJSON_AddArrayToObject(patch, key);
  }
  return a;
}

static int add_number(cJSON *o, const char *key, const char *v, const char *flag) {
  uint64_t n;
  if (!hl_span_parse_u64(hl_span_cstr(v), UINT32_MAX, &n)) {
    return hl_cli_usage_error("endpoint", "%s: expected a number", flag);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(o, key);
  cJSON_AddNumberToObject(o, key, (double)n);
  return 0;
}

static void set_string(cJSON *o, const char *key, const char *v) {
  cJSON_DeleteItemFromObjectCaseSensitive(o, key);
  cJSON_AddStringToObject(o, key, v);
}

static const char *option_name(int opt) {
  for (const struct option *o = endpoint_options; o->name != NULL; o++) {
    if (o->val == opt) {
      return o->name;
    }
  }
  return "?";
}

static int set_from_file(cJSON *o, const char *key, const char *path, const char *flag,
                         bool secret) {
  char *v = NULL;
  size_t len;
  int rc = secret ? read_secret(path, &v, flag) : read_file(path, HL_TEMPLATE_BYTES_MAX, &v, &len, flag);
  if (rc == 0) {
    set_string(o, key, v);
    if (secret) {
      memset(v, 0, strlen(v));
    }
  }
  free(v);
  return rc;
}

/* apply_field applies a flag_fields flag; returns 0 or an exit code. */
static int apply_field(cJSON *patch, const flag_field *ff, const char *arg, const char *flag) {
  cJSON *o = ff->section != NULL ? patch_object(patch, ff->section) : patch;
  switch (ff->kind) {
    case FK_STRING:
      set_string(o, ff->key, arg);
      return 0;
    case FK_NUMBER:
      return add_number(o, ff->key, arg, flag);
    case FK_FILE:
    case FK_SECRET_FILE:
      return set_from_file(o, ff->key, arg, flag, ff->kind == FK_SECRET_FILE);
  }
  return 0;
}

/* parse_flags: |argv| after the subcommand. Returns 0, or an exit code. */
static int parse_flags(int argc, char **argv, const char *sub, flags *f, hl_config *cfg) {
  memset(f, 0, sizeof(*f));
  f->grace_s = HL_ROTATION_GRACE_MS_DEFAULT / 1000;
  f->patch = cJSON_CreateObject();
  optind = 1;
  int opt, rc = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "f:", endpoint_options, NULL)) != -1) {
    cJSON *p = f->patch;
    const flag_field *ff = NULL;
    for (size_t i = 0; i < sizeof(flag_fields) / sizeof(flag_fields[0]); i++) {
      if (flag_fields[i].opt == opt) {
        ff = &flag_fields[i];
      }
    }
    if (ff != NULL) {
      char flag[40];
      snprintf(flag, sizeof(flag), "--%s", option_name(opt));
      rc = apply_field(p, ff, optarg, flag);
      continue;
    }
    switch (opt) {
      case F_EVENT:
        cJSON_AddItemToArray(patch_array(p, "events"), cJSON_CreateString(optarg));
        break;
      case F_FILTER_ANY:
        cJSON_AddItemToArray(patch_array(patch_object(p, "filter"), "any_present"),
                             cJSON_CreateString(optarg));
        break;
      case F_HEADER: {
        const char *colon = strchr(optarg, ':');
        if (colon == NULL) {
          return hl_cli_usage_error("endpoint", "--header: expected 'Name: value'");
        }
        char name[HL_SIGN_HEADER_NAME_BYTES_MAX];
        if (!hl_span_to_cstr(hl_span_make(optarg, (size_t)(colon - optarg)), name, sizeof(name))) {
          return hl_cli_usage_error("endpoint", "--header: name too long");
        }
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t') {
          value++;
        }
        set_string(patch_object(p, "headers"), name, value);
        break;
      }
      case F_QUERY: {
        const char *eq = strchr(optarg, '=');
        char name[257];
        if (eq == NULL ||
            !hl_span_to_cstr(hl_span_make(optarg, (size_t)(eq - optarg)), name, sizeof(name))) {
          return hl_cli_usage_error("endpoint", "--query: expected 'name=value'");
        }
        set_string(patch_object(p, "query"), name, eq + 1);
        break;
      }
      case F_SECRET_FILE:
        f->secret_file = optarg;
        if (strcmp(sub, "rotate-secret") != 0) {
          rc = set_from_file(patch_object(p, "signing"), "secret", optarg, "--secret-file", true);
        }
        break;
      case F_RETRY: {
        cJSON *a = cJSON_CreateArray();
        cJSON_DeleteItemFromObjectCaseSensitive(p, "retry_schedule_s");
        cJSON_AddItemToObject(p, "retry_schedule_s", a);
        hl_span rest = hl_span_cstr(optarg), part;
        while (rc == 0 && rest.len > 0) {
          if (!hl_span_get_until(&rest, ',', &part)) {
            part = rest;
            rest.len = 0;
          }
          uint64_t n;
          if (!hl_span_parse_u64(hl_span_trim_ows(part), UINT32_MAX, &n)) {
            rc = hl_cli_usage_error("endpoint", "--retry-schedule: expected seconds like 0,5,300");
          }
          cJSON_AddItemToArray(a, cJSON_CreateNumber((double)n));
        }
        break;
      }
      case F_ALLOW_HTTP:
        cJSON_DeleteItemFromObjectCaseSensitive(p, "allow_http");
        cJSON_AddTrueToObject(p, "allow_http");
        break;
      case F_DISABLED:
      case F_ENABLED:
        cJSON_DeleteItemFromObjectCaseSensitive(p, "enabled");
        cJSON_AddBoolToObject(p, "enabled", opt == F_ENABLED);
        break;
      case F_FIELDS: {
        cJSON *j = cJSON_Parse(optarg);
        if (!cJSON_IsObject(j)) {
          cJSON_Delete(j);
          return hl_cli_usage_error("endpoint", "--fields: expected a JSON object");
        }
        for (cJSON *m = j->child; m != NULL; m = m->next) {
          cJSON_DeleteItemFromObjectCaseSensitive(p, m->string);
          cJSON_AddItemToObject(p, m->string, cJSON_Duplicate(m, true));
        }
        cJSON_Delete(j);
        break;
      }
      case F_JSON:
        f->json_out = true;
        break;
      case 'f':
      case F_FILE:
        f->file = optarg;
        break;
      case F_DRY_RUN:
        f->dry_run = true;
        break;
      case F_GRACE:
        if (!hl_span_parse_u64(hl_span_cstr(optarg), 365u * 24 * 3600, &f->grace_s)) {
          return hl_cli_usage_error("endpoint", "--grace-s: expected seconds");
        }
        break;
      case '?':
        return hl_cli_usage_error("endpoint", "invalid arguments");
      default:
        switch (hl_cli_common(cfg, opt, optarg)) {
          case HL_CLI_HANDLED:
            break;
          case HL_CLI_HELP:
            endpoint_help();
            return -1;
          case HL_CLI_ERROR:
            return HL_EXIT_USAGE;
          case HL_CLI_NOT_COMMON:
            return hl_cli_usage_error("endpoint", "unexpected option");
        }
    }
  }
  if (rc != 0) {
    return rc;
  }
  for (int i = optind; i < argc; i++) {
    if (f->positional_n == 2) {
      return hl_cli_usage_error("endpoint", "unexpected argument '%s'", argv[i]);
    }
    f->positional[f->positional_n++] = argv[i];
  }
  return 0;
}

static bool patch_empty(const flags *f) {
  return f->patch->child == NULL;
}

/* load_arg loads the endpoint named by the one positional argument. */
static int load_arg(env *e, const flags *f, const char *verb, hl_endpoint_config *c,
                    hl_endpoint_rec *rec_out) {
  if (f->positional_n != 1) {
    return hl_cli_usage_error("endpoint", "%s needs the endpoint id", verb);
  }
  return load(e, f->positional[0], c, rec_out);
}

/* --- subcommands ---------------------------------------------------------- */

/* commit_endpoint finishes add/update/rotate: a secret generated if the
 * scheme needs one, validation, the sealed save, the report (with a
 * generated secret shown once), and the wiping of |c| and |generated|. */
static int commit_endpoint(env *e, hl_endpoint_config *c, char generated[HL_SIGN_SECRET_BYTES_MAX],
                           int rc, const char *done) {
  if (rc == 0 && generated[0] == '\0' && ensure_secret(c, generated) != 0) {
    rc = HL_EXIT_FAIL;
  }
  if (rc == 0) {
    rc = validate(e, c, "");
  }
  bool created;
  if (rc == 0) {
    rc = save(e, c, &created);
  }
  if (rc == 0) {
    printf("%s\n", done);
    show_generated(c->id, generated);
  }
  memset(generated, 0, HL_SIGN_SECRET_BYTES_MAX);
  hl_endpoint_config_free(c);
  return rc;
}

static int cmd_add(env *e, flags *f) {
  hl_err err = {{0}};
  hl_endpoint_config c;
  if (cJSON_GetObjectItemCaseSensitive(f->patch, "id") == NULL) {
    char id[HL_ENDPOINT_ID_BYTES_MAX + 1];
    hl_endpoint_generate_id(id);
    cJSON_AddStringToObject(f->patch, "id", id);
  }
  if (hl_endpoint_parse(f->patch, HL_ENDPOINT_FROM_USER, &c, &err) != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    return HL_EXIT_CONFIG;
  }
  hl_endpoint_rec existing;
  if (hl_store_endpoint_get(e->store, hl_span_cstr(c.id), &existing, NULL) == 0) {
    hl_endpoint_rec_cleanup(&existing);
    hl_cli_error("endpoint", "an endpoint with id '%s' exists; use 'hookline endpoint update'",
                 c.id);
    hl_endpoint_config_free(&c);
    return HL_EXIT_CONFIG;
  }
  char generated[HL_SIGN_SECRET_BYTES_MAX] = "";
  char done[HL_ENDPOINT_ID_BYTES_MAX + 32];
  snprintf(done, sizeof(done), "created endpoint %s", c.id);
  return commit_endpoint(e, &c, generated, 0, done);
}

static int cmd_update(env *e, flags *f) {
  if (patch_empty(f)) {
    return hl_cli_usage_error("endpoint", "update: no fields given");
  }
  hl_endpoint_config c;
  int rc = load_arg(e, f, "update", &c, NULL);
  if (rc != 0) {
    return rc;
  }
  hl_err err = {{0}};
  char generated[HL_SIGN_SECRET_BYTES_MAX] = "";
  if (hl_endpoint_patch(&c, f->patch, &err) != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    rc = HL_EXIT_CONFIG;
  }
  char done[HL_ENDPOINT_ID_BYTES_MAX + 32];
  snprintf(done, sizeof(done), "updated endpoint %s", c.id);
  return commit_endpoint(e, &c, generated, rc, done);
}

static int print_redacted(const hl_endpoint_config *c, bool pretty) {
  char *mem = malloc(1u << 20);
  hl_buf out;
  hl_buf_init(&out, mem, 1u << 20);
  hl_err err = {{0}};
  int rc = hl_endpoint_write(c, HL_ENDPOINT_REDACTED, NULL, &out, &err);
  if (rc == 0) {
    cJSON *j = pretty ? cJSON_ParseWithLength(out.ptr, out.len) : NULL;
    char *text = j != NULL ? cJSON_Print(j) : NULL;
    if (text != NULL) {
      printf("%s\n", text);
    } else {
      printf("%.*s\n", (int)out.len, out.ptr);
    }
    free(text);
    cJSON_Delete(j);
  }
  free(mem);
  return rc == 0 ? 0 : HL_EXIT_FAIL;
}

static int cmd_show(env *e, flags *f) {
  hl_endpoint_config c;
  hl_endpoint_rec rec;
  int rc = load_arg(e, f, "show", &c, &rec);
  if (rc != 0) {
    return rc;
  }
  if (!rec.enabled && rec.disabled_reason[0] != '\0' && !f->json_out) {
    printf("# disabled: %s\n", rec.disabled_reason);
  }
  rc = print_redacted(&c, !f->json_out);
  hl_endpoint_rec_cleanup(&rec);
  hl_endpoint_config_free(&c);
  return rc;
}

typedef struct list_ctx {
  env *e;
  bool json;
  int rc;
  int n;
} list_ctx;

static int list_one(const hl_endpoint_rec *r, void *vctx) {
  list_ctx *ctx = vctx;
  hl_err err = {{0}};
  hl_endpoint_config c;
  cJSON *j = cJSON_Parse(r->config);
  int rc = j != NULL ? hl_endpoint_parse(j, HL_ENDPOINT_FROM_STORE, &c, &err) : -EINVAL;
  cJSON_Delete(j);
  if (rc != 0) {
    printf("%-24s (unreadable: %s)\n", r->id, err.msg);
    ctx->rc = HL_EXIT_CONFIG;
    return 0;
  }
  c.enabled = r->enabled;
  ctx->n++;
  if (ctx->json) {
    print_redacted(&c, false);
  } else {
    hl_url url;
    char mem[HL_URL_BYTES_MAX + 16];
    hl_buf b;
    hl_buf_init(&b, mem, sizeof(mem));
    if (hl_url_parse(hl_span_cstr(c.url), &url, NULL) == 0) {
      hl_url_write_redacted(&url, &b);
    }
    char events[256];
    hl_buf ev;
    hl_buf_init(&ev, events, sizeof(events));
    for (uint32_t i = 0; i < c.events_n; i++) {
      hl_buf_printf(&ev, "%s%s", i > 0 ? "," : "", c.events[i]);
    }
    if (c.events_n == 0) {
      hl_buf_put_cstr(&ev, "*");
    }
    printf("%-24s %-8s %-6s %-11s %-20s %s\n", r->id,
           r->enabled ? "enabled" : "disabled", hl_http_method_name(c.method),
           hl_sign_scheme_name(c.signing.scheme), hl_buf_cstr(&ev), hl_buf_cstr(&b));
  }
  hl_endpoint_config_free(&c);
  return 0;
}

static int cmd_list(env *e, flags *f) {
  list_ctx ctx = {.e = e, .json = f->json_out};
  if (!ctx.json) {
    printf("%-24s %-8s %-6s %-11s %-20s %s\n", "ID", "STATE", "METHOD", "SIGNING", "EVENTS",
           "URL");
  }
  hl_err err = {{0}};
  if (hl_store_endpoint_foreach(e->store, list_one, &ctx, &err) != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    return HL_EXIT_UNAVAILABLE;
  }
  return ctx.rc;
}

static int cmd_enable(env *e, flags *f, bool enable, const char *verb) {
  if (f->positional_n != 1) {
    return hl_cli_usage_error("endpoint", "%s needs the endpoint id", verb);
  }
  hl_err err = {{0}};
  int rc = hl_store_endpoint_set_enabled(e->store, hl_span_cstr(f->positional[0]), enable,
                                         enable ? NULL : "disabled by an operator", &err);
  if (rc != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    return rc == -ENOENT ? HL_EXIT_CONFIG : HL_EXIT_UNAVAILABLE;
  }
  printf("%s endpoint %s\n", enable ? "enabled" : "disabled", f->positional[0]);
  return 0;
}

static int cmd_delete(env *e, flags *f) {
  if (f->positional_n != 1) {
    return hl_cli_usage_error("endpoint", "delete needs the endpoint id");
  }
  hl_err err = {{0}};
  int rc = hl_store_endpoint_delete(e->store, hl_span_cstr(f->positional[0]), &err);
  if (rc != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    return rc == -ENOENT ? HL_EXIT_CONFIG : HL_EXIT_UNAVAILABLE;
  }
  printf("deleted endpoint %s\n", f->positional[0]);
  return 0;
}

static int cmd_rotate(env *e, flags *f) {
  hl_endpoint_config c;
  int rc = load_arg(e, f, "rotate-secret", &c, NULL);
  if (rc != 0) {
    return rc;
  }
  char generated[HL_SIGN_SECRET_BYTES_MAX] = "";
  char *given = NULL;
  if (f->secret_file != NULL) {
    rc = read_secret(f->secret_file, &given, "--secret-file");
  } else {
    hl_buf b;
    hl_buf_init(&b, generated, sizeof(generated));
    rc = hl_sign_generate_secret(c.signing.scheme, &b) == 0 ? 0 : HL_EXIT_CONFIG;
    hl_buf_cstr(&b);
  }
  hl_err err = {{0}};
  if (rc == 0 && hl_endpoint_rotate(&c, given != NULL ? given : generated,
                                    (int64_t)hl_clock_wall_ms(), (int64_t)f->grace_s * 1000,
                                    &err) != 0) {
    hl_cli_error("endpoint", "%s", err.msg);
    rc = HL_EXIT_CONFIG;
  }
  if (given != NULL) {
    memset(given, 0, strlen(given));
    free(given);
  }
  char done[HL_ENDPOINT_ID_BYTES_MAX + 96];
  snprintf(done, sizeof(done),
           "rotated the signing secret of %s; the previous one stays valid for %llu s", c.id,
           (unsigned long long)f->grace_s);
  return commit_endpoint(e, &c, generated, rc, done);
}

/* --- apply ---------------------------------------------------------------- */

typedef struct plan_item {
  hl_endpoint_config c;
  bool exists;
  bool changed;
  char changes[256]; /* changed field names, for the report */
  char generated[HL_SIGN_SECRET_BYTES_MAX];
} plan_item;

/* redacted_json parses the redacted form of |c| (what people see). */
static cJSON *redacted_json(const hl_endpoint_config *c) {
  size_t cap = 1u << 20;
  char *mem = malloc(cap);
  if (mem == NULL) {
    return NULL;
  }
  hl_buf b;
  hl_buf_init(&b, mem, cap);
  cJSON *j = NULL;
  if (hl_endpoint_write(c, HL_ENDPOINT_REDACTED, NULL, &b, NULL) == 0) {
    j = cJSON_ParseWithLength(b.ptr, b.len);
  }
  free(mem);
  return j;
}

/* diff_fields lists the top-level fields whose redacted values differ. */
static void diff_fields(const cJSON *old_j, const hl_endpoint_config *new_c, plan_item *item) {
  cJSON *new_j = redacted_json(new_c);
  hl_buf names;
  hl_buf_init(&names, item->changes, sizeof(item->changes));
  for (cJSON *m = new_j != NULL ? new_j->child : NULL; m != NULL; m = m->next) {
    cJSON *o = cJSON_GetObjectItemCaseSensitive(old_j, m->string);
    if (o == NULL || !cJSON_Compare(o, m, true)) {
      hl_buf_printf(&names, "%s%s", names.len > 0 ? ", " : "", m->string);
    }
  }
  hl_buf_cstr(&names);
  item->changed = names.len > 0 || new_j == NULL;
  cJSON_Delete(new_j);
}

/* plan_one turns endpoint object |obj| into the configuration to store. */
static int plan_one(env *e, const cJSON *obj, plan_item *item, hl_err *err) {
  if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, "id"))) {
    return hl_err_fail(err, -EINVAL, "id: required in an apply file");
  }
  int rc = hl_endpoint_parse(obj, HL_ENDPOINT_FROM_USER, &item->c, err);
  if (rc != 0) {
    return rc;
  }
  hl_endpoint_config old;
  hl_endpoint_rec rec;
  item->exists = hl_store_endpoint_get(e->store, hl_span_cstr(item->c.id), &rec, NULL) == 0;
  if (item->exists) {
    hl_endpoint_rec_cleanup(&rec);
    if (load(e, item->c.id, &old, NULL) != 0) {
      return hl_err_fail(err, -EIO, "the stored endpoint cannot be read");
    }
    cJSON *old_j = redacted_json(&old);
    /* Secrets are not required in the file: an unchanged scheme keeps the
     * stored ones, and a new secret rotates (the old one keeps verifying
     * for the grace period) instead of breaking receivers at once. */
    if (old.signing.scheme == item->c.signing.scheme && old.signing.scheme != HL_SIGN_NONE) {
      char *given = item->c.signing.secrets_n > 0 ? item->c.signing.secrets[0].value : NULL;
      item->c.signing.secrets[0].value = NULL;
      item->c.signing.secrets_n = 0;
      memcpy(item->c.signing.secrets, old.signing.secrets, sizeof(old.signing.secrets));
      item->c.signing.secrets_n = old.signing.secrets_n;
      old.signing.secrets_n = 0;
      if (given != NULL && strcmp(given, item->c.signing.secrets[0].value) != 0) {
        rc = hl_endpoint_rotate(&item->c, given, (int64_t)hl_clock_wall_ms(),
                                HL_ROTATION_GRACE_MS_DEFAULT, err);
      }
      if (given != NULL) {
        memset(given, 0, strlen(given));
        free(given);
      }
    }
    if (rc == 0) {
      diff_fields(old_j, &item->c, item);
    }
    cJSON_Delete(old_j);
    hl_endpoint_config_free(&old);
  } else {
    item->changed = true;
  }
  if (rc == 0 && ensure_secret(&item->c, item->generated) != 0) {
    rc = hl_err_fail(err, -EIO, "cannot generate a secret");
  }
  if (rc == 0) {
    hl_endpoint_policy p = {.netpolicy = &e->policy, .resolve = true};
    rc = hl_endpoint_validate(&item->c, &p, err);
  }
  if (rc == 0) {
    rc = hl_target_check(&item->c, err);
  }
  return rc;
}

static int cmd_apply(env *e, flags *f) {
  if (f->file == NULL) {
    return hl_cli_usage_error("endpoint", "apply needs -f FILE");
  }
  char *text = NULL;
  size_t len = 0;
  int rc = read_file(f->file, APPLY_FILE_BYTES_MAX, &text, &len, f->file);
  if (rc != 0) {
    return rc;
  }
  hl_err err = {{0}};
  if (hl_json_validate(hl_span_make(text, len), HL_JSON_DEPTH_MAX, &err) != 0) {
    hl_cli_error("endpoint", "%s: %s", f->file, err.msg);
    free(text);
    return HL_EXIT_CONFIG;
  }
  cJSON *doc = cJSON_ParseWithLength(text, len);
  free(text);
  cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "endpoints");
  if (!cJSON_IsObject(doc) || !cJSON_IsArray(list) || cJSON_GetArraySize(doc) != 1) {
    hl_cli_error("endpoint", "%s: expected {\"endpoints\": [ ... ]}", f->file);
    cJSON_Delete(doc);
    return HL_EXIT_CONFIG;
  }
  int n = cJSON_GetArraySize(list);
  plan_item *items = calloc((size_t)(n > 0 ? n : 1), sizeof(*items));
  rc = items != NULL ? 0 : HL_EXIT_FAIL;
  int planned = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    cJSON *obj = cJSON_GetArrayItem(list, i);
    if (plan_one(e, obj, &items[i], &err) != 0) {
      cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
      hl_cli_error("endpoint", "%s: endpoints[%d]%s%s%s: %s", f->file, i,
                   cJSON_IsString(id) ? " (" : "", cJSON_IsString(id) ? id->valuestring : "",
                   cJSON_IsString(id) ? ")" : "", err.msg);
      rc = HL_EXIT_CONFIG;
    }
    planned = i + 1;
    for (int k = 0; rc == 0 && k < i; k++) {
      if (strcmp(items[k].c.id, items[i].c.id) == 0) {
        hl_cli_error("endpoint", "%s: endpoints[%d]: id '%s' appears twice", f->file, i,
                     items[i].c.id);
        rc = HL_EXIT_CONFIG;
      }
    }
  }
  cJSON_Delete(doc);
  /* All or nothing: one transaction, after every endpoint validated. */
  if (rc == 0 && !f->dry_run) {
    rc = hl_store_begin(e->store, &err) == 0 ? 0 : HL_EXIT_UNAVAILABLE;
    for (int i = 0; rc == 0 && i < n; i++) {
      bool created;
      if (items[i].changed) {
        rc = save(e, &items[i].c, &created);
      }
    }
    if (rc == 0) {
      rc = hl_store_commit(e->store, &err) == 0 ? 0 : HL_EXIT_UNAVAILABLE;
    } else {
      hl_store_rollback(e->store);
    }
    if (rc != 0 && err.msg[0] != '\0') {
      hl_cli_error("endpoint", "%s", err.msg);
    }
  }
  int created = 0, updated = 0, unchanged = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    const plan_item *it = &items[i];
    const char *verb = !it->exists ? (f->dry_run ? "would create" : "created")
                       : it->changed ? (f->dry_run ? "would update" : "updated")
                                     : "unchanged";
    created += !it->exists;
    updated += it->exists && it->changed;
    unchanged += it->exists && !it->changed;
    printf("%-13s %s%s%s%s\n", verb, it->c.id, it->exists && it->changed ? " (" : "",
           it->exists && it->changed ? it->changes : "", it->exists && it->changed ? ")" : "");
    if (!f->dry_run) {
      show_generated(it->c.id, it->generated);
    }
  }
  if (rc == 0) {
    printf("%d to create, %d to update, %d unchanged%s\n", created, updated, unchanged,
           f->dry_run ? " (dry run: nothing written)" : "");
  }
  for (int i = 0; i < planned; i++) {
    memset(items[i].generated, 0, sizeof(items[i].generated));
    hl_endpoint_config_free(&items[i].c);
  }
  free(items);
  return rc;
}

int hl_cmd_endpoint(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    endpoint_help();
    return argc < 2 ? HL_EXIT_USAGE : HL_EXIT_OK;
  }
  const char *sub = argv[1];
  static const char *const subs[] = {"add",    "update", "list",   "show",          "enable",
                                     "disable", "delete", "apply", "rotate-secret"};
  bool known = false;
  for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
    known |= strcmp(sub, subs[i]) == 0;
  }
  if (!known) {
    return hl_cli_usage_error("endpoint", "unknown command '%s'", sub);
  }
  env e;
  memset(&e, 0, sizeof(e));
  hl_config_defaults(&e.cfg);
  flags f;
  int rc = parse_flags(argc - 1, argv + 1, sub, &f, &e.cfg);
  if (rc != 0) {
    cJSON_Delete(f.patch);
    return rc < 0 ? HL_EXIT_OK : rc;
  }
  hl_log_configure(e.cfg.log_level, e.cfg.log_format, 2);
  bool reads_only = strcmp(sub, "list") == 0;
  rc = env_open(&e, !reads_only);
  if (rc == 0) {
    if (strcmp(sub, "add") == 0) {
      rc = cmd_add(&e, &f);
    } else if (strcmp(sub, "update") == 0) {
      rc = cmd_update(&e, &f);
    } else if (strcmp(sub, "list") == 0) {
      rc = cmd_list(&e, &f);
    } else if (strcmp(sub, "show") == 0) {
      rc = cmd_show(&e, &f);
    } else if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) {
      rc = cmd_enable(&e, &f, strcmp(sub, "enable") == 0, sub);
    } else if (strcmp(sub, "delete") == 0) {
      rc = cmd_delete(&e, &f);
    } else if (strcmp(sub, "rotate-secret") == 0) {
      rc = cmd_rotate(&e, &f);
    } else {
      rc = cmd_apply(&e, &f);
    }
  }
  env_close(&e);
  cJSON_Delete(f.patch);
  return rc;
}
