/* Fuzz target: text/json_scan, differential against cJSON (1.7.x).
 *
 * Properties:
 *  (a) whatever hl_json_validate accepts, cJSON accepts, except documents
 *      with a number token of 64 bytes or more (cJSON copies at most 63
 *      bytes of a number before strtod and then fails on the rest);
 *  (b) whatever cJSON accepts and we reject shows one of cJSON's known
 *      laxities, or our own depth limit. The laxities come from reading
 *      cJSON.c (parse_value, parse_string, parse_number, buffer_skip_
 *      whitespace, skip_utf8_bom) and each is checked by a small predicate
 *      that does not share code with the validator:
 *        - a UTF-8 byte order mark at the start (skip_utf8_bom);
 *        - a byte below 0x20 inside a string, or one outside strings other
 *          than tab, LF and CR (cJSON skips every byte <= 0x20 as space and
 *          copies string bytes without checking them);
 *        - ill-formed UTF-8 (cJSON never checks it);
 *        - a \u escape without four hex digits (parse_hex4 returns 0 for a
 *          bad digit, which reads as U+0000);
 *        - a number token that is not an RFC 8259 number (cJSON hands
 *          [0-9+-.eE]* to strtod: "01", "1.", "-.5", "1.e5" pass);
 *        - nesting deeper than HL_JSON_DEPTH_MAX (ours; cJSON allows 1000);
 *      the token predicates scan strings the way cJSON finds a string's end
 *      (a backslash skips the next byte), which is exact for documents
 *      cJSON accepted;
 *  (c) for accepted documents, paths derived from cJSON's tree (keys and
 *      indices, first-match on duplicate keys as cJSON's case-sensitive
 *      lookup does) resolve with hl_json_lookup to the same type, strings
 *      decode to cJSON's valuestring, numbers strtod to its valuedouble;
 *  (d) hl_json_lookup_many agrees with hl_json_lookup on every path;
 *  and on any input, lookups with paths made from the input's quoted text
 *  return 0 / -ENOENT / -EINVAL with spans inside the input, and a
 *  rejection message reads "line L, column C: ..." with L and C inside the
 *  input. */
#include <cJSON.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/limits.h"
#include "json_ref.h"
#include "text/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { IN_MAX = 1 << 16, PATHS_MAX = 48 };

static void check(bool ok) {
  if (!ok) {
    abort();
  }
}

/* ---- the string-aware token walk shared by the predicates ------------------ */

/* token_walk calls |fn| on every byte with whether it lies inside a string
 * (the quotes themselves count as inside). */
typedef void (*byte_fn)(const uint8_t *p, size_t i, size_t n, bool in_string, void *arg);

static void token_walk(const uint8_t *p, size_t n, byte_fn fn, void *arg) {
  bool in_string = false;
  for (size_t i = 0; i < n; i++) {
    if (!in_string) {
      in_string = p[i] == '"';
      fn(p, i, n, in_string, arg);
      continue;
    }
    fn(p, i, n, true, arg);
    if (p[i] == '\\' && i + 1 < n) {
      i++;
      fn(p, i, n, true, arg);
    } else if (p[i] == '"') {
      in_string = false;
    }
  }
}

static void control_byte(const uint8_t *p, size_t i, size_t n, bool in_string, void *arg) {
  (void)n;
  uint8_t c = p[i];
  if (c < 0x20 && (in_string || (c != '\t' && c != '\n' && c != '\r'))) {
    *(bool *)arg = true;
  }
}

static bool is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static void bad_u_escape(const uint8_t *p, size_t i, size_t n, bool in_string, void *arg) {
  /* A backslash inside a string whose next byte is 'u' (the walk reports
   * the escaped byte right after its backslash). */
  if (!in_string || p[i] != 'u' || i == 0 || p[i - 1] != '\\') {
    return;
  }
  size_t backslashes = 0;
  for (size_t j = i; j > 0 && p[j - 1] == '\\'; j--) {
    backslashes++;
  }
  if (backslashes % 2 == 0) {
    return; /* "\\u": an escaped backslash, then a plain 'u' */
  }
  bool ok = i + 4 < n;
  for (size_t k = 1; ok && k <= 4; k++) {
    ok = is_hex(p[i + k]);
  }
  if (!ok) {
    *(bool *)arg = true;
  }
}

typedef struct depth_state {
  long depth;
  long max;
} depth_state;

static void bracket_depth(const uint8_t *p, size_t i, size_t n, bool in_string, void *arg) {
  (void)n;
  depth_state *d = arg;
  if (in_string) {
    return;
  }
  if (p[i] == '[' || p[i] == '{') {
    d->depth++;
    d->max = d->depth > d->max ? d->depth : d->max;
  } else if (p[i] == ']' || p[i] == '}') {
    d->depth--;
  }
}

/* Number tokens: maximal runs of [0-9+-.eE] outside strings that start with
 * '-' or a digit, checked with a POSIX regular expression for RFC 8259. */
typedef struct number_state {
  regex_t rfc;
  size_t run_start;
  bool in_run;
  bool lax;
  bool long_token;
  const uint8_t *p;
} number_state;

static bool number_byte(uint8_t c) {
  return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

static void number_end(number_state *s, size_t end) {
  char tok[IN_MAX + 1];
  size_t len = end - s->run_start;
  memcpy(tok, s->p + s->run_start, len);
  tok[len] = '\0';
  if (regexec(&s->rfc, tok, 0, NULL, 0) != 0) {
    s->lax = true;
  }
  if (len >= 64) {
    s->long_token = true;
  }
  s->in_run = false;
}

static void number_token(const uint8_t *p, size_t i, size_t n, bool in_string, void *arg) {
  number_state *s = arg;
  bool part = !in_string && number_byte(p[i]);
  if (s->in_run && !part) {
    number_end(s, i);
  }
  if (!s->in_run && part && (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')) &&
      (i == 0 || !number_byte(p[i - 1]))) {
    s->in_run = true;
    s->run_start = i;
  }
  if (s->in_run && i + 1 == n) {
    number_end(s, n);
  }
}

typedef struct laxity {
  bool bom, control, utf8, u_escape, number, depth, long_number;
} laxity;

static laxity find_laxities(const uint8_t *p, size_t n) {
  laxity l;
  memset(&l, 0, sizeof(l));
  l.bom = n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF;
  token_walk(p, n, control_byte, &l.control);
  l.utf8 = !ref_utf8_valid(p, n);
  token_walk(p, n, bad_u_escape, &l.u_escape);
  depth_state d = {0, 0};
  token_walk(p, n, bracket_depth, &d);
  l.depth = d.max > HL_JSON_DEPTH_MAX;
  static number_state ns;
  static bool compiled;
  if (!compiled) {
    check(regcomp(&ns.rfc, "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?$",
                  REG_EXTENDED | REG_NOSUB) == 0);
    compiled = true;
  }
  ns.in_run = false;
  ns.lax = false;
  ns.long_token = false;
  ns.p = p;
  token_walk(p, n, number_token, &ns);
  l.number = ns.lax;
  l.long_number = ns.long_token;
  return l;
}

/* ---- paths from cJSON's tree -------------------------------------------------- */

typedef struct derived {
  hl_json_path path;
  const cJSON *node; /* what cJSON resolves the path to */
} derived;

typedef struct walk {
  derived *out;
  size_t n;
  const cJSON *root;
} walk;

/* cjson_resolve follows |path| through cJSON the way ours is specified:
 * index into arrays, first case-sensitive key match in objects. */
static const cJSON *cjson_resolve(const cJSON *node, const hl_json_path *path) {
  for (uint32_t i = 0; i < path->parts_n && node != NULL; i++) {
    const hl_json_path_part *part = &path->parts[i];
    if (cJSON_IsArray(node)) {
      node = part->index == HL_JSON_NOT_INDEX ? NULL : cJSON_GetArrayItem(node, (int)part->index);
    } else if (cJSON_IsObject(node)) {
      char key[HL_TEMPLATE_PATH_BYTES_MAX + 1];
      memcpy(key, path->bytes + part->off, part->len);
      key[part->len] = '\0';
      node = cJSON_GetObjectItemCaseSensitive(node, key);
    } else {
      node = NULL;
    }
  }
  return node;
}

static void derive(walk *w, const cJSON *node, char *text, size_t len, uint32_t parts) {
  if (parts == HL_TEMPLATE_PATH_PARTS_MAX) {
    return;
  }
  int i = 0;
  for (const cJSON *c = node->child; c != NULL && w->n < PATHS_MAX; c = c->next, i++) {
    char part[32];
    const char *name = part;
    size_t name_len;
    if (cJSON_IsArray(node)) {
      name_len = (size_t)snprintf(part, sizeof(part), "%d", i);
    } else {
      name = c->string;
      name_len = strlen(name);
      if (name_len == 0 || memchr(name, '.', name_len) != NULL) {
        continue; /* not expressible as a path part */
      }
    }
    size_t add = (len > 0 ? 1 : 0) + name_len;
    if (len + add > HL_TEMPLATE_PATH_BYTES_MAX) {
      continue;
    }
    if (len > 0) {
      text[len] = '.';
    }
    memcpy(text + len + (len > 0 ? 1 : 0), name, name_len);
    derived *d = &w->out[w->n];
    check(hl_json_path_compile(hl_span_make(text, len + add), &d->path, NULL) == 0);
    /* Under a later duplicate key the path resolves to nothing (the first
     * duplicate wins), and ours must then say -ENOENT. */
    d->node = cjson_resolve(w->root, &d->path);
    w->n++;
    derive(w, c, text, len + add, parts + 1);
  }
}

static hl_json_type cjson_type(const cJSON *c) {
  if (cJSON_IsNull(c)) {
    return HL_JSON_NULL;
  }
  if (cJSON_IsFalse(c)) {
    return HL_JSON_FALSE;
  }
  if (cJSON_IsTrue(c)) {
    return HL_JSON_TRUE;
  }
  if (cJSON_IsNumber(c)) {
    return HL_JSON_NUMBER;
  }
  if (cJSON_IsString(c)) {
    return HL_JSON_STRING;
  }
  if (cJSON_IsArray(c)) {
    return HL_JSON_ARRAY;
  }
  return HL_JSON_OBJECT;
}

static void check_value(const hl_json_value *v, const cJSON *node) {
  check(v->type == cjson_type(node));
  if (v->type == HL_JSON_STRING) {
    static char mem[IN_MAX];
    hl_buf b;
    hl_buf_init(&b, mem, sizeof(mem));
    check(hl_json_string_decode(v->raw, &b) == 0);
    check(hl_span_eq(hl_buf_span(&b), hl_span_cstr(node->valuestring)));
  } else if (v->type == HL_JSON_NUMBER) {
    char num[IN_MAX + 1];
    memcpy(num, v->raw.ptr, v->raw.len);
    num[v->raw.len] = '\0';
    char *end = NULL;
    double d = strtod(num, &end);
    check(end == num + v->raw.len);
    check(d == node->valuedouble);
  }
}

/* check_many runs lookup_many on |paths|: results always stay inside the
 * input, and on a validated document they equal the single lookups. */
static void check_many(hl_span doc, const hl_json_path *const *paths, size_t n, bool valid) {
  hl_json_value many[PATHS_MAX];
  int found = hl_json_lookup_many(doc, paths, n, many);
  check(found >= -EINVAL && found <= (int)n && found != -ENOENT);
  int want = 0;
  for (size_t i = 0; i < n; i++) {
    hl_json_value one;
    int rc = hl_json_lookup(doc, paths[i], &one);
    check(rc == 0 || rc == -ENOENT || rc == -EINVAL);
    check((rc == 0) == (one.type != HL_JSON_NONE));
    want += rc == 0;
    const hl_json_value *vs[2] = {&one, &many[i]};
    for (int k = 0; k < 2; k++) {
      if (vs[k]->type != HL_JSON_NONE) {
        check(vs[k]->raw.ptr >= doc.ptr && vs[k]->raw.len > 0 &&
              vs[k]->raw.ptr + vs[k]->raw.len <= doc.ptr + doc.len);
      }
    }
    if (valid) {
      check(rc != -EINVAL);
      check(one.type == many[i].type && one.raw.ptr == many[i].raw.ptr &&
            one.raw.len == many[i].raw.len);
    }
  }
  if (valid) {
    check(found == want);
  }
}

/* Paths made from the input's own quoted text, for inputs of any kind. */
static size_t paths_from_text(const uint8_t *p, size_t n, hl_json_path *out, size_t max) {
  const char *parts[4];
  size_t lens[4];
  size_t k = 0;
  for (size_t i = 0; i < n && k < 4; i++) {
    if (p[i] != '"') {
      continue;
    }
    size_t j = i + 1;
    while (j < n && p[j] != '"' && p[j] != '.' && j - i <= 24) {
      j++;
    }
    if (j < n && p[j] == '"' && j > i + 1) {
      parts[k] = (const char *)p + i + 1;
      lens[k++] = j - i - 1;
    }
    i = j;
  }
  size_t m = 0;
  char text[128];
  static const char *const fixed[] = {"0", "1", "a", "0.0", "a.b"};
  for (size_t f = 0; f < sizeof(fixed) / sizeof(fixed[0]) && m < max; f++) {
    check(hl_json_path_compile(hl_span_cstr(fixed[f]), &out[m++], NULL) == 0);
  }
  for (size_t a = 0; a < k && m + 3 <= max; a++) {
    check(hl_json_path_compile(hl_span_make(parts[a], lens[a]), &out[m++], NULL) == 0);
    size_t b = (a + 1) % k;
    size_t len = 0;
    memcpy(text, parts[a], lens[a]);
    len = lens[a];
    text[len++] = '.';
    memcpy(text + len, parts[b], lens[b]);
    len += lens[b];
    check(hl_json_path_compile(hl_span_make(text, len), &out[m++], NULL) == 0);
    memcpy(text + lens[a], ".0", 2);
    check(hl_json_path_compile(hl_span_make(text, lens[a] + 2), &out[m++], NULL) == 0);
  }
  return m;
}

static void check_error_position(const char *msg, const uint8_t *p, size_t n) {
  unsigned line = 0;
  size_t col = 0;
  int used = 0;
  check(sscanf(msg, "line %u, column %zu: %n", &line, &col, &used) == 2 && used > 0);
  check(msg[used] != '\0');
  /* The line exists, and the column is at most one past its end. */
  size_t start = 0;
  for (unsigned l = 1; l < line; l++) {
    const uint8_t *nl = memchr(p + start, '\n', n - start);
    check(nl != NULL);
    start = (size_t)(nl - p) + 1;
  }
  const uint8_t *nl = memchr(p + start, '\n', n - start);
  size_t line_len = (nl != NULL ? (size_t)(nl - p) : n) - start;
  check(line >= 1 && col >= 1 && col <= line_len + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > IN_MAX) {
    return 0;
  }
  ref_init();
  hl_span doc = hl_span_make(data, size);
  hl_err err;
  err.msg[0] = '\0';
  bool ours = hl_json_validate(doc, HL_JSON_DEPTH_MAX, &err) == 0;
  if (!ours) {
    check_error_position(err.msg, data, size);
  }
  size_t first = 0;
  while (first < size && (data[first] == ' ' || data[first] == '\t' || data[first] == '\n' ||
                          data[first] == '\r')) {
    first++;
  }
  check((hl_json_validate_object(doc, HL_JSON_DEPTH_MAX, NULL) == 0) ==
        (ours && first < size && data[first] == '{'));

  static char copy[IN_MAX + 1];
  memcpy(copy, data, size);
  copy[size] = '\0';
  cJSON *root = cJSON_ParseWithLengthOpts(copy, size + 1, NULL, 1);
  laxity lax = find_laxities(data, size);
  if (ours && root == NULL) {
    check(lax.long_number); /* (a) */
  }
  if (!ours && root != NULL) {
    check(lax.bom || lax.control || lax.utf8 || lax.u_escape || lax.number || lax.depth); /* (b) */
  }

  /* Lookups with paths from the text, on every input. */
  static hl_json_path text_paths[PATHS_MAX];
  const hl_json_path *ptrs[PATHS_MAX];
  size_t tn = paths_from_text(data, size, text_paths, PATHS_MAX);
  for (size_t i = 0; i < tn; i++) {
    ptrs[i] = &text_paths[i];
  }
  check_many(doc, ptrs, tn, ours);

  /* (c) and (d) on documents both accept. cJSON cuts keys and strings at
   * an escaped NUL, so those documents are left out of (c). */
  if (ours && root != NULL) {
    static derived paths[PATHS_MAX];
    walk w = {paths, 0, root};
    char text[HL_TEMPLATE_PATH_BYTES_MAX];
    bool has_nul = memmem(data, size, "\\u0000", 6) != NULL;
    if (!has_nul && (cJSON_IsArray(root) || cJSON_IsObject(root))) {
      derive(&w, root, text, 0, 0);
    }
    for (size_t i = 0; i < w.n; i++) {
      hl_json_value v;
      int rc = hl_json_lookup(doc, &paths[i].path, &v);
      if (paths[i].node == NULL) {
        check(rc == -ENOENT && v.type == HL_JSON_NONE);
      } else {
        check(rc == 0);
        check_value(&v, paths[i].node);
      }
      ptrs[i] = &paths[i].path;
    }
    check_many(doc, ptrs, w.n, true);
  }
  cJSON_Delete(root);
  return 0;
}
