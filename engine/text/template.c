/* template: compile `{{placeholder}}` templates, render them (see template.h).
 *
 * A compiled template is an array of segments, each a literal run followed
 * by at most one placeholder: {literal offset and length, value slot,
 * context, message field}. The literal bytes of all segments sit in one
 * array. Rendering walks the segments once; the common case (a string value
 * inside a JSON string) is two memcpy per segment. Everything that can be
 * decided once is decided at compile time: which value slot, which
 * encoding, whether a message field is the fallback, and that the literal
 * parts make valid JSON / a valid header / valid URL text. */
#include "text/template.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/limits.h"
#include "text/json_escape.h"
#include "text/url.h"

/* ==== compiled form ======================================================= */

/* Contexts: how a placeholder's value is encoded. */
enum {
  CTX_END = 0, /* no placeholder: the last segment */
  CTX_STRING,  /* inside a JSON string, a data path (the hot case) */
  CTX_STRING_FIELD, /* inside a JSON string, a $ field: rendered as CTX_STRING */
  CTX_VALUE,   /* JSON value position */
  CTX_HEADER,
  CTX_URL,
  CTX_TEXT,
};

/* Message fields, for `$` names and the fallback of bare names. */
enum {
  F_NONE = 0,
  F_ID,
  F_EVENT,
  F_TENANT,
  F_TIMESTAMP,
  F_TIMESTAMP_S,
  F_DATA,
  F_OPEN, /* {{$open}}: a literal "{{", never a segment */
};

#define NO_SLOT UINT16_MAX

typedef struct tseg {
  uint32_t lit_off;
  uint32_t lit_len;
  uint16_t slot;  /* index into the set's values, or NO_SLOT */
  uint8_t ctx;
  uint8_t field;  /* the value when the slot is NO_SLOT or missing */
} tseg;

struct hl_template {
  hl_template_kind kind;
  uint32_t segs_n;
  uint32_t placeholders;
  size_t lits_len;
  hl_json_escape_fn escape;
  const tseg *segs;
  const char *lits;
  /* segs and lits follow in the same allocation */
};

struct hl_template_set {
  hl_json_escape_fn escape;
  uint32_t paths_n;
  uint32_t templates_n;
  uint32_t templates_cap;
  hl_template **templates;
  const hl_json_path *paths[HL_TEMPLATE_SET_PATHS_MAX];
};

hl_template_set *hl_template_set_new(void) {
  hl_template_set *set = calloc(1, sizeof(*set));
  if (set != NULL) {
    set->escape = hl_json_escape_best();
  }
  return set;
}

void hl_template_set_free(hl_template_set *set) {
  if (set == NULL) {
    return;
  }
  for (uint32_t i = 0; i < set->paths_n; i++) {
    free((void *)set->paths[i]);
  }
  for (uint32_t i = 0; i < set->templates_n; i++) {
    free(set->templates[i]);
  }
  free(set->templates);
  free(set);
}

size_t hl_template_set_values_n(const hl_template_set *set) {
  return set->paths_n;
}

hl_template_kind hl_template_kind_of(const hl_template *t) {
  return t->kind;
}

size_t hl_template_placeholders(const hl_template *t) {
  return t->placeholders;
}

size_t hl_template_literal_bytes(const hl_template *t) {
  return t->lits_len;
}

hl_span hl_template_default_body(void) {
  return HL_SPAN_LIT("{\"type\":\"{{$event}}\",\"timestamp\":\"{{$timestamp}}\",\"data\":{{$data}}}");
}

/* ==== compiler ============================================================ */

/* JSON lexer states: what the next token may be. */
enum {
  X_VALUE,          /* after ':' or ',' in an array, or at the top */
  X_VALUE_OR_CLOSE, /* after '[' */
  X_KEY,            /* after ',' in an object */
  X_KEY_OR_CLOSE,   /* after '{' */
  X_COLON,          /* after a key */
  X_AFTER,          /* after a value */
};

_Static_assert(HL_JSON_DEPTH_MAX <= 64, "the lexer keeps one bit per open container in a word");

typedef struct compiler {
  hl_template_set *set;
  hl_template_kind kind;
  const char *text;
  size_t n;
  hl_err *err;
  tseg *segs; /* scratch, HL_TEMPLATE_SEGMENTS_MAX */
  uint32_t segs_n;
  uint32_t placeholders;
  char *lits; /* scratch, n bytes (literals never outgrow the text) */
  size_t lits_len;
  size_t seg_lit_start;
  char *neutral; /* JSON kinds: the text with placeholders neutralised */
  uint32_t paths_n0;
  /* JSON lexer */
  uint64_t objects; /* bit d set: the container at depth d is an object */
  uint32_t depth;
  uint8_t state;
  bool in_string;
  bool string_is_key;
} compiler;

static bool is_json_kind(hl_template_kind kind) {
  return kind == HL_TEMPLATE_JSON || kind == HL_TEMPLATE_JSON_STRINGS;
}

/* fail_at reports "line L, column C: why" for byte |off| of the text. */
__attribute__((format(printf, 3, 4))) static int fail_at(compiler *c, size_t off,
                                                         const char *fmt, ...) {
  unsigned line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < off && i < c->n; i++) {
    if (c->text[i] == '\n') {
      line++;
      line_start = i + 1;
    }
  }
  char why[HL_ERR_BYTES];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  hl_err_set(c->err, "line %u, column %zu: %s", line, off - line_start + 1, why);
  return -EINVAL;
}

static bool is_hex(char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* url_literal_byte checks one literal byte of a URL kind; returns the bytes
 * it covers (a %XX escape is three) or a negative error. */
static int url_literal_byte(compiler *c, size_t i) {
  unsigned char ch = (unsigned char)c->text[i];
  if (ch == '%') {
    if (i + 2 < c->n && is_hex(c->text[i + 1]) && is_hex(c->text[i + 2])) {
      return 3;
    }
    return fail_at(c, i, "'%%' not followed by two hex digits in a URL (write %%25 for '%%')");
  }
  if (ch == ' ') {
    return fail_at(c, i, "space in a URL (write %%20)");
  }
  if (ch < 0x21 || ch > 0x7e) {
    return fail_at(c, i, "byte 0x%02x in a URL (percent-encode it)", ch);
  }
  if (ch == '\\' || ch == '#') {
    return fail_at(c, i, "'%c' in a URL (write %%%02X)", ch, ch);
  }
  if (ch == '?' && c->kind == HL_TEMPLATE_URL_PATH) {
    return fail_at(c, i, "'?' in a URL path (query parameters are configured apart, or write %%3F)");
  }
  if (ch == '&' && c->kind == HL_TEMPLATE_URL_QUERY) {
    return fail_at(c, i, "'&' in a query parameter value (write %%26)");
  }
  return 1;
}

/* lex_byte feeds one literal byte (outside a placeholder) to the JSON lexer;
 * returns the bytes consumed (an escape in a string is two) or an error. */
static int lex_byte(compiler *c, size_t i) {
  char ch = c->text[i];
  if (c->in_string) {
    if (ch == '\\') {
      return i + 1 < c->n ? 2 : 1;
    }
    if (ch == '"') {
      c->in_string = false;
      c->state = c->string_is_key ? X_COLON : X_AFTER;
    }
    return 1;
  }
  switch (ch) {
  case ' ':
  case '\t':
  case '\n':
  case '\r':
    break;
  case '"':
    c->in_string = true;
    c->string_is_key = c->state == X_KEY || c->state == X_KEY_OR_CLOSE;
    break;
  case '{':
  case '[':
    if (c->depth == HL_JSON_DEPTH_MAX) {
      return fail_at(c, i, "nested deeper than %d (HL_JSON_DEPTH_MAX)", HL_JSON_DEPTH_MAX);
    }
    if (ch == '{') {
      c->objects |= 1ull << c->depth;
    } else {
      c->objects &= ~(1ull << c->depth);
    }
    c->depth++;
    c->state = ch == '{' ? X_KEY_OR_CLOSE : X_VALUE_OR_CLOSE;
    break;
  case '}':
  case ']':
    if (c->depth > 0) {
      c->depth--;
    }
    c->state = X_AFTER;
    break;
  case ':':
    c->state = X_VALUE;
    break;
  case ',':
    c->state = (c->depth > 0 && ((c->objects >> (c->depth - 1)) & 1)) ? X_KEY : X_VALUE;
    break;
  default: /* part of a number or literal; the validator checks which */
    c->state = X_AFTER;
    break;
  }
  return 1;
}

/* literal_byte checks the literal byte at |i| for the template's kind. */
static int literal_byte(compiler *c, size_t i) {
  unsigned char ch = (unsigned char)c->text[i];
  switch (c->kind) {
  case HL_TEMPLATE_JSON:
  case HL_TEMPLATE_JSON_STRINGS:
    return lex_byte(c, i);
  case HL_TEMPLATE_HEADER:
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
      return fail_at(c, i, "control byte 0x%02x in a header value (only HTAB is allowed)", ch);
    }
    return 1;
  case HL_TEMPLATE_URL_PATH:
  case HL_TEMPLATE_URL_QUERY:
    return url_literal_byte(c, i);
  case HL_TEMPLATE_TEXT:
    return 1;
  }
  HL_ASSERT(false);
  return -EINVAL;
}

static void add_literal(compiler *c, const char *p, size_t n) {
  HL_ASSERT(c->lits_len + n <= c->n);
  memcpy(c->lits + c->lits_len, p, n);
  c->lits_len += n;
}

static const struct {
  const char *name;
  uint8_t field;
} dollar_names[] = {
    {"id", F_ID},
    {"event", F_EVENT},
    {"tenant", F_TENANT},
    {"timestamp", F_TIMESTAMP},
    {"timestamp_s", F_TIMESTAMP_S},
    {"data", F_DATA},
    {"open", F_OPEN},
};

/* Bare names that fall back to a message field when data lacks them. */
static uint8_t fallback_field(hl_span path) {
  for (size_t i = 0; i < 4; i++) {
    if (hl_span_eq_cstr(path, dollar_names[i].name)) {
      return dollar_names[i].field;
    }
  }
  return F_NONE;
}

/* add_path returns the set's slot for |path|, adding it if new. */
static int add_path(compiler *c, hl_span path, size_t at, uint16_t *slot) {
  hl_template_set *set = c->set;
  for (uint32_t i = 0; i < set->paths_n; i++) {
    if (hl_span_eq(hl_json_path_text(set->paths[i]), path)) {
      *slot = (uint16_t)i;
      return 0;
    }
  }
  if (set->paths_n == HL_TEMPLATE_SET_PATHS_MAX) {
    return fail_at(c, at, "more than %d distinct paths in one endpoint's templates "
                          "(HL_TEMPLATE_SET_PATHS_MAX)",
                   HL_TEMPLATE_SET_PATHS_MAX);
  }
  hl_json_path *p = malloc(sizeof(*p));
  if (p == NULL) {
    return -ENOMEM;
  }
  hl_err why;
  if (hl_json_path_compile(path, p, &why) != 0) {
    free(p);
    return fail_at(c, at, "placeholder %s", why.msg);
  }
  *slot = (uint16_t)set->paths_n;
  set->paths[set->paths_n++] = p;
  return 0;
}

/* placeholder_context decides the context of a placeholder opening at
 * |at|, from the kind and (JSON kinds) the lexer's state. */
static int placeholder_context(compiler *c, size_t at, uint8_t *ctx) {
  switch (c->kind) {
  case HL_TEMPLATE_HEADER:
    *ctx = CTX_HEADER;
    return 0;
  case HL_TEMPLATE_URL_PATH:
  case HL_TEMPLATE_URL_QUERY:
    *ctx = CTX_URL;
    return 0;
  case HL_TEMPLATE_TEXT:
    *ctx = CTX_TEXT;
    return 0;
  case HL_TEMPLATE_JSON:
  case HL_TEMPLATE_JSON_STRINGS:
    break;
  }
  if (c->in_string) {
    if (c->string_is_key) {
      return fail_at(c, at, "placeholder in an object key (keys must be literal)");
    }
    *ctx = CTX_STRING;
    return 0;
  }
  if (c->state == X_KEY || c->state == X_KEY_OR_CLOSE) {
    return fail_at(c, at, "placeholder in an object key (keys must be literal)");
  }
  if (c->state != X_VALUE && c->state != X_VALUE_OR_CLOSE) {
    return fail_at(c, at, "placeholder where no JSON value can go (expected ',', ':' or a "
                          "closing bracket)");
  }
  if (c->kind == HL_TEMPLATE_JSON_STRINGS) {
    return fail_at(c, at, "placeholder outside a JSON string (a template given as a JSON value "
                          "may use placeholders only inside strings)");
  }
  *ctx = CTX_VALUE;
  c->state = X_AFTER;
  return 0;
}

/* placeholder compiles the placeholder whose "{{" is at |open|: it ends the
 * current segment (or, for {{$open}}, adds "{{" to its literal). Sets
 * |*next| to the byte after its "}}". */
static int placeholder(compiler *c, size_t open, size_t lit, size_t *next) {
  const char *t = c->text;
  size_t close = open + 2;
  while (close + 1 < c->n && !(t[close] == '}' && t[close + 1] == '}') && t[close] != '\n') {
    close++;
  }
  if (close + 1 >= c->n || t[close] == '\n') {
    return fail_at(c, open, "unclosed {{ (a placeholder ends with }} on the line it starts)");
  }
  size_t a = open + 2, b = close;
  while (a < b && (t[a] == ' ' || t[a] == '\t')) {
    a++;
  }
  while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t')) {
    b--;
  }
  if (a == b) {
    return fail_at(c, open, "empty placeholder");
  }
  for (size_t i = a; i < b; i++) {
    unsigned char ch = (unsigned char)t[i];
    if (ch == '{' || ch == '}') {
      return fail_at(c, i, "'%c' inside a placeholder (a literal {{ is written {{$open}})", ch);
    }
    if (ch < 0x20 || ch == 0x7f) {
      return fail_at(c, i, "control byte 0x%02x inside a placeholder", ch);
    }
  }
  hl_span name = hl_span_make(t + a, b - a);
  uint8_t field = F_NONE;
  uint16_t slot = NO_SLOT;
  if (t[a] == '$') {
    hl_span dollar = hl_span_make(t + a + 1, b - a - 1);
    for (size_t i = 0; i < sizeof(dollar_names) / sizeof(dollar_names[0]); i++) {
      if (hl_span_eq_cstr(dollar, dollar_names[i].name)) {
        field = dollar_names[i].field;
      }
    }
    if (field == F_NONE) {
      return fail_at(c, a, "unknown message field $%.*s (known: $id, $event, $tenant, "
                           "$timestamp, $timestamp_s, $data, $open)",
                     (int)(dollar.len < 64 ? dollar.len : 64), dollar.ptr);
    }
  }
  add_literal(c, t + lit, open - lit);
  if (field == F_OPEN) {
    if (is_json_kind(c->kind) && !c->in_string) {
      return fail_at(c, open, "{{$open}} outside a JSON string (the body would not be JSON)");
    }
    add_literal(c, "{{", 2);
    if (c->neutral != NULL) {
      memset(c->neutral + open + 2, ' ', close + 2 - (open + 2));
    }
    *next = close + 2;
    return 0;
  }
  uint8_t ctx = CTX_END;
  int rc = placeholder_context(c, open, &ctx);
  if (rc != 0) {
    return rc;
  }
  if (c->segs_n + 1 >= HL_TEMPLATE_SEGMENTS_MAX) {
    return fail_at(c, open, "more than %d placeholders (HL_TEMPLATE_SEGMENTS_MAX)",
                   HL_TEMPLATE_SEGMENTS_MAX - 1);
  }
  if (field == F_NONE) {
    rc = add_path(c, name, a, &slot);
    if (rc != 0) {
      return rc;
    }
    field = fallback_field(name);
  } else if (ctx == CTX_STRING) {
    ctx = CTX_STRING_FIELD; /* so that the render loop tests one byte */
  }
  c->segs[c->segs_n++] = (tseg){(uint32_t)c->seg_lit_start,
                                (uint32_t)(c->lits_len - c->seg_lit_start), slot, ctx, field};
  c->seg_lit_start = c->lits_len;
  c->placeholders++;
  if (c->neutral != NULL) {
    /* Same length, so the validator's line and column are the template's. */
    memset(c->neutral + open, ' ', close + 2 - open);
    if (ctx == CTX_VALUE) {
      memcpy(c->neutral + open, "null", 4);
    }
  }
  *next = close + 2;
  return 0;
}

static int compile_text(compiler *c) {
  const char *t = c->text;
  size_t i = 0, lit = 0;
  while (i < c->n) {
    if (t[i] == '{' && i + 1 < c->n && t[i + 1] == '{') {
      /* In a run of braces the placeholder opens at the last two. */
      size_t open = i + 2;
      while (open < c->n && t[open] == '{') {
        open++;
      }
      open -= 2;
      for (; i < open; i++) {
        int rc = literal_byte(c, i);
        if (rc < 0) {
          return rc;
        }
      }
      int rc = placeholder(c, open, lit, &i);
      if (rc != 0) {
        return rc;
      }
      lit = i;
      continue;
    }
    int rc = literal_byte(c, i);
    if (rc < 0) {
      return rc;
    }
    i += (size_t)rc;
  }
  add_literal(c, t + lit, c->n - lit);
  c->segs[c->segs_n++] = (tseg){(uint32_t)c->seg_lit_start,
                                (uint32_t)(c->lits_len - c->seg_lit_start), NO_SLOT, CTX_END,
                                F_NONE};
  if (c->neutral != NULL) {
    return hl_json_validate(hl_span_make(c->neutral, c->n), HL_JSON_DEPTH_MAX, c->err);
  }
  return 0;
}

static int add_template(hl_template_set *set, const compiler *c, const hl_template **out) {
  if (set->templates_n == set->templates_cap) {
    uint32_t cap = set->templates_cap ? set->templates_cap * 2 : 8;
    hl_template **grown = realloc(set->templates, cap * sizeof(*grown));
    if (grown == NULL) {
      return -ENOMEM;
    }
    set->templates = grown;
    set->templates_cap = cap;
  }
  size_t segs_bytes = c->segs_n * sizeof(tseg);
  hl_template *t = malloc(sizeof(*t) + segs_bytes + c->lits_len + 1);
  if (t == NULL) {
    return -ENOMEM;
  }
  tseg *segs = (tseg *)(t + 1);
  char *lits = (char *)segs + segs_bytes;
  memcpy(segs, c->segs, segs_bytes);
  memcpy(lits, c->lits, c->lits_len);
  lits[c->lits_len] = '\0';
  *t = (hl_template){c->kind, c->segs_n, c->placeholders, c->lits_len, set->escape, segs, lits};
  set->templates[set->templates_n++] = t;
  *out = t;
  return 0;
}

int hl_template_compile(hl_template_set *set, hl_template_kind kind, hl_span text,
                        const hl_template **out, hl_err *err) {
  *out = NULL;
  compiler c = {.set = set, .kind = kind, .text = text.ptr, .n = text.len, .err = err};
  if (kind < HL_TEMPLATE_JSON || kind > HL_TEMPLATE_TEXT) {
    return hl_err_fail(err, -EINVAL, "unknown template kind %d", (int)kind);
  }
  if (text.len > HL_TEMPLATE_BYTES_MAX) {
    return fail_at(&c, HL_TEMPLATE_BYTES_MAX, "template is longer than %d bytes "
                                              "(HL_TEMPLATE_BYTES_MAX)",
                   HL_TEMPLATE_BYTES_MAX);
  }
  c.paths_n0 = set->paths_n;
  c.state = X_VALUE;
  c.segs = malloc(HL_TEMPLATE_SEGMENTS_MAX * sizeof(tseg));
  c.lits = malloc(text.len + 1);
  if (is_json_kind(kind)) {
    c.neutral = malloc(text.len + 1);
  }
  int rc = -ENOMEM;
  if (c.segs != NULL && c.lits != NULL && (c.neutral != NULL || !is_json_kind(kind))) {
    if (c.neutral != NULL && text.len > 0) {
      memcpy(c.neutral, text.ptr, text.len);
    }
    rc = compile_text(&c);
    if (rc == 0) {
      rc = add_template(set, &c, out);
    }
  }
  if (rc == -ENOMEM) {
    hl_err_set(err, "out of memory compiling a template");
  }
  if (rc != 0) {
    /* Leave the set as it was: drop the paths this template added. */
    while (set->paths_n > c.paths_n0) {
      free((void *)set->paths[--set->paths_n]);
    }
  }
  free(c.segs);
  free(c.lits);
  free(c.neutral);
  return rc;
}

/* ==== resolve ============================================================= */

int hl_template_resolve(const hl_template_set *set, hl_span data, hl_json_value *values) {
  if (set->paths_n == 0) {
    return 0;
  }
  if (data.len == 0) {
    for (uint32_t i = 0; i < set->paths_n; i++) {
      values[i] = (hl_json_value){HL_JSON_NONE, HL_SPAN_NULL};
    }
    return 0;
  }
  int rc = hl_json_lookup_many(data, set->paths, set->paths_n, values);
  return rc < 0 ? rc : 0;
}

/* ==== render ============================================================== */

/* copy_bytes is memcpy for the short runs templates are made of (most
 * literals and values are under 32 bytes): two overlapping loads and
 * stores instead of a call. It reads and writes only [p, p + n) and
 * [d, d + n), so it is safe at the very end of a message's data. */
static inline void copy_bytes(char *d, const char *p, size_t n) {
  if (n >= 16) {
    if (n > 32) {
      memcpy(d, p, n);
      return;
    }
    memcpy(d, p, 16);
    memcpy(d + n - 16, p + n - 16, 16);
  } else if (n >= 8) {
    memcpy(d, p, 8);
    memcpy(d + n - 8, p + n - 8, 8);
  } else if (n >= 4) {
    memcpy(d, p, 4);
    memcpy(d + n - 4, p + n - 4, 4);
  } else if (n > 0) {
    d[0] = p[0];
    d[n / 2] = p[n / 2];
    d[n - 1] = p[n - 1];
  }
}

/* put appends without the out-of-line hl_buf_put; the render loop checks
 * the sticky error once per segment, so put need not look at it. */
static inline void put(hl_buf *b, const char *p, size_t n) {
  if (n > b->cap - b->len) {
    b->err = true;
    return;
  }
  copy_bytes(b->ptr + b->len, p, n);
  b->len += n;
}

/* strip_ctl removes every control byte except HTAB (so CR, LF, NUL, DEL)
 * from b[mark, len): what a header value may never carry. */
static void strip_ctl(hl_buf *b, size_t mark) {
  if (b->err) {
    return;
  }
  size_t w = mark;
  for (size_t r = mark; r < b->len; r++) {
    unsigned char ch = (unsigned char)b->ptr[r];
    if ((ch >= 0x20 && ch != 0x7f) || ch == '\t') {
      b->ptr[w++] = (char)ch;
    }
  }
  b->len = w;
}

/* escape_len returns the length of the JSON escape at s[i] (a '\'): 2, 6
 * for \uXXXX, or 12 for a surrogate pair. */
static size_t escape_len(hl_span s, size_t i) {
  if (i + 1 >= s.len || s.ptr[i + 1] != 'u' || i + 6 > s.len) {
    return i + 1 < s.len ? 2 : 1;
  }
  char h0 = s.ptr[i + 2], h1 = s.ptr[i + 3];
  bool high = (h0 == 'd' || h0 == 'D') &&
              ((h1 >= '8' && h1 <= '9') || (h1 >= 'a' && h1 <= 'b') || (h1 >= 'A' && h1 <= 'B'));
  if (high && i + 12 <= s.len && s.ptr[i + 6] == '\\' && s.ptr[i + 7] == 'u') {
    return 12;
  }
  return 6;
}

/* url_put_string percent-encodes the decoded text of the JSON string |raw|
 * without a scratch buffer: runs without escapes are encoded in place, each
 * escape is decoded on its own. */
static void url_put_string(hl_buf *b, hl_span raw) {
  hl_span s = hl_json_string_contents(raw);
  size_t run = 0, i = 0;
  while (i < s.len) {
    if (s.ptr[i] != '\\') {
      i++;
      continue;
    }
    hl_url_encode_component(hl_span_make(s.ptr + run, i - run), b);
    size_t n = escape_len(s, i);
    char quoted[14];
    quoted[0] = '"';
    memcpy(quoted + 1, s.ptr + i, n);
    quoted[n + 1] = '"';
    char bytes[8];
    hl_buf d;
    hl_buf_init(&d, bytes, sizeof(bytes));
    if (hl_json_string_decode(hl_span_make(quoted, n + 2), &d) == 0) {
      hl_url_encode_component(hl_buf_span(&d), b);
    }
    i += n;
    run = i;
  }
  hl_url_encode_component(hl_span_make(s.ptr + run, s.len - run), b);
}

/* put2 writes |v| (0..99) as two digits. */
static inline void put2(char *p, uint32_t v) {
  p[0] = (char)('0' + v / 10);
  p[1] = (char)('0' + v % 10);
}

void hl_template_format_timestamp(uint64_t timestamp_ms, hl_buf *out) {
  uint64_t days = timestamp_ms / 86400000u;
  uint32_t ms = (uint32_t)(timestamp_ms % 86400000u);
  /* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm, with
   * eras of 400 years so that it stays in unsigned arithmetic). */
  uint64_t z = days + 719468u;
  uint64_t era = z / 146097u;
  uint32_t doe = (uint32_t)(z - era * 146097u);
  uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  uint32_t mp = (5 * doy + 2) / 153;
  uint32_t day = doy - (153 * mp + 2) / 5 + 1;
  uint32_t month = mp < 10 ? mp + 3 : mp - 9;
  uint64_t year = yoe + era * 400 + (month <= 2);
  /* "YYYY-MM-DDTHH:MM:SS.mmmZ", the year with more digits past 9999. */
  char tmp[48];
  size_t n = 0;
  if (year < 10000) {
    put2(tmp, (uint32_t)year / 100);
    put2(tmp + 2, (uint32_t)year % 100);
    n = 4;
  } else {
    char digits[24];
    size_t nd = 0;
    for (; year != 0; year /= 10) {
      digits[nd++] = (char)('0' + year % 10);
    }
    while (nd > 0) {
      tmp[n++] = digits[--nd];
    }
  }
  char *p = tmp + n;
  p[0] = '-';
  put2(p + 1, month);
  p[3] = '-';
  put2(p + 4, day);
  p[6] = 'T';
  put2(p + 7, ms / 3600000u);
  p[9] = ':';
  put2(p + 10, ms / 60000u % 60);
  p[12] = ':';
  put2(p + 13, ms / 1000u % 60);
  p[15] = '.';
  p[16] = (char)('0' + ms % 1000 / 100);
  put2(p + 17, ms % 100);
  p[19] = 'Z';
  if (!out->err) {
    put(out, tmp, n + 20);
  }
}

/* put_escaped writes |s| as JSON string contents. Message fields are
 * short and almost always plain (event names, ids, timestamps): those are
 * copied after one look at each byte instead of a call into the escaper. */
static void put_escaped(const hl_template *t, hl_buf *b, hl_span s) {
  /* plain[c]: printable ASCII that JSON strings take as it is. */
  static const uint8_t plain[256] = {
      [0x20 ... 0x21] = 1, /* not '"' (0x22) */
      [0x23 ... 0x5b] = 1, /* not '\\' (0x5c) */
      [0x5d ... 0x7e] = 1,
  };
  if (s.len <= 64) {
    size_t i = 0;
    while (i < s.len && plain[(unsigned char)s.ptr[i]]) {
      i++;
    }
    if (i == s.len) {
      put(b, s.ptr, s.len);
      return;
    }
  }
  t->escape(b, s);
}

/* put_text writes text that is not JSON (a message field, raw JSON text of
 * a non-string value) in context |ctx|. */
static void put_text(const hl_template *t, hl_buf *b, uint8_t ctx, hl_span s) {
  size_t mark = b->len;
  switch (ctx) {
  case CTX_STRING:
    put_escaped(t, b, s);
    return;
  case CTX_VALUE:
    hl_buf_putc(b, '"');
    put_escaped(t, b, s);
    hl_buf_putc(b, '"');
    return;
  case CTX_HEADER:
    put(b, s.ptr, s.len);
    strip_ctl(b, mark);
    return;
  case CTX_URL:
    hl_url_encode_component(s, b);
    return;
  default:
    put(b, s.ptr, s.len);
    return;
  }
}

static void put_field(const hl_template *t, hl_buf *b, uint8_t ctx, uint8_t field,
                      const hl_template_msg *msg) {
  char tmp[48];
  hl_buf num;
  hl_buf_init(&num, tmp, sizeof(tmp));
  hl_span s = HL_SPAN_NULL;
  switch (field) {
  case F_ID:
    s = msg->id;
    break;
  case F_EVENT:
    s = msg->event;
    break;
  case F_TENANT:
    s = msg->tenant;
    break;
  case F_TIMESTAMP:
    /* Digits and "-:.TZ": nothing to escape or strip, only ':' to encode. */
    hl_template_format_timestamp(msg->timestamp_ms, &num);
    if (ctx == CTX_URL) {
      hl_url_encode_component(hl_buf_span(&num), b);
    } else if (ctx == CTX_VALUE) {
      hl_buf_putc(&num, '"');
      hl_buf_putc(b, '"');
      put(b, num.ptr, num.len);
    } else {
      put(b, num.ptr, num.len);
    }
    return;
  case F_TIMESTAMP_S:
    /* A number in every context: digits need no encoding anywhere. */
    hl_buf_put_u64(b, msg->timestamp_ms / 1000);
    return;
  case F_DATA:
    s = msg->data.len > 0 ? msg->data : HL_SPAN_LIT("{}");
    if (ctx == CTX_VALUE) {
      put(b, s.ptr, s.len);
      return;
    }
    break;
  default:
    HL_ASSERT(false);
  }
  if (s.len == 0) {
    if (ctx == CTX_VALUE) {
      put(b, "null", 4);
    }
    return;
  }
  put_text(t, b, ctx, s);
}

/* put_value writes a value found in data, in context |ctx|. */
static void put_value(const hl_template *t, hl_buf *b, uint8_t ctx, hl_json_value v) {
  if (ctx == CTX_VALUE) {
    put(b, v.raw.ptr, v.raw.len);
    return;
  }
  if (v.type == HL_JSON_NULL) {
    return;
  }
  if (v.type != HL_JSON_STRING) {
    if (ctx == CTX_STRING && v.type != HL_JSON_OBJECT && v.type != HL_JSON_ARRAY) {
      put(b, v.raw.ptr, v.raw.len); /* a number or literal is valid string contents */
      return;
    }
    put_text(t, b, ctx, v.raw);
    return;
  }
  size_t mark = b->len;
  switch (ctx) {
  case CTX_STRING: {
    hl_span in = hl_json_string_contents(v.raw);
    put(b, in.ptr, in.len);
    return;
  }
  case CTX_HEADER:
    hl_json_string_decode(v.raw, b);
    strip_ctl(b, mark);
    return;
  case CTX_URL:
    url_put_string(b, v.raw);
    return;
  default:
    hl_json_string_decode(v.raw, b);
    return;
  }
}

/* put_slow writes every placeholder but a data string into a JSON string:
 * another context, another type, a message field, or missing. */
static void put_slow(const hl_template *t, const tseg *s, const hl_json_value *values,
                     const hl_template_msg *msg, hl_buf *out) {
  hl_json_value v = {HL_JSON_NONE, HL_SPAN_NULL};
  if (s->slot != NO_SLOT) {
    v = values[s->slot];
  }
  uint8_t ctx = s->ctx == CTX_STRING_FIELD ? CTX_STRING : s->ctx;
  if (v.type != HL_JSON_NONE) {
    put_value(t, out, ctx, v);
  } else if (s->field != F_NONE) {
    put_field(t, out, ctx, s->field, msg);
  } else if (ctx == CTX_VALUE) {
    put(out, "null", 4);
  }
}

int hl_template_render(const hl_template *t, const hl_json_value *values,
                       const hl_template_msg *msg, hl_buf *out) {
  if (out->err) {
    return -ENOSPC;
  }
  size_t start = out->len, cap = out->cap;
  bool bounded = cap - start > HL_RENDER_BYTES_MAX;
  if (bounded) {
    out->cap = start + HL_RENDER_BYTES_MAX;
  }
  /* The loop keeps the buffer's length in a local and hands it back to
   * |out| only around the slow paths. */
  const char *lits = t->lits;
  char *dst = out->ptr;
  size_t len = start, room_end = out->cap;
  for (const tseg *s = t->segs;; s++) {
    size_t n = s->lit_len;
    if (n > room_end - len) {
      goto full;
    }
    copy_bytes(dst + len, lits + s->lit_off, n);
    len += n;
    if (s->ctx == CTX_STRING && values[s->slot].type == HL_JSON_STRING) {
      /* The common case: an escaped string into a JSON string, as it is. */
      hl_span raw = values[s->slot].raw;
      n = raw.len - 2;
      if (n > room_end - len) {
        goto full;
      }
      copy_bytes(dst + len, raw.ptr + 1, n);
      len += n;
      continue;
    }
    if (s->ctx == CTX_END) {
      break;
    }
    out->len = len;
    put_slow(t, s, values, msg, out);
    if (out->err) {
      goto full;
    }
    len = out->len;
  }
  out->len = len;
  out->cap = cap;
  return 0;
full:
  out->err = true;
  out->len = start;
  out->cap = cap;
  return bounded ? -E2BIG : -ENOSPC;
}

int hl_template_render_message(const hl_template_set *set, const hl_template *t,
                               const hl_template_msg *msg, hl_buf *out) {
  hl_json_value values[HL_TEMPLATE_SET_PATHS_MAX];
  int rc = hl_template_resolve(set, msg->data, values);
  if (rc != 0) {
    return rc;
  }
  return hl_template_render(t, values, msg, out);
}
