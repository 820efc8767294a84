/* Fuzz target: template rendering against random data, and each context's
 * encoding against cJSON.
 *
 * Input: byte 0 picks the kind, then the template text up to the first NUL
 * byte, then the data document. When the data is a valid JSON object:
 * - if the template compiles, it renders (or fails cleanly with -E2BIG,
 *   leaving the buffer as it was) and the render is, for the JSON kinds,
 *   valid JSON (the key property: a JSON body renders valid JSON for every
 *   message); for the header kind, free of every control byte but HTAB;
 *   for the URL kinds, URL text (printable ASCII, no space, '\' or '#', '%'
 *   only as %XX);
 * - for each distinct top-level key usable as a path, `{{key}}` renders, in
 *   every context, what cJSON says the value is:
 *     JSON string context `{"v":"{{k}}"}`: parsed back by cJSON, v is the
 *       value's string (strings), its number text (numbers), "true",
 *       "false", "" (null), or its JSON text (containers, compared as
 *       trees); JSON value context `{"w":{{k}}}`: w equals the value;
 *     header: the string with its control bytes removed (strings);
 *     URL query: only unreserved bytes and %XX, decoding to the string;
 *     text: the string.
 *   Strings holding U+0000 are compared with our decoder's length instead,
 *   as cJSON's strings end at the first NUL. */
#include <cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "template_props.h"
#include "text/template.h"
#include "text/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { INPUT_BYTES_MAX = 1 << 16, KEYS_MAX = 16 };

static bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

static char out_mem[HL_RENDER_BYTES_MAX + 64];
static char aux_mem[HL_RENDER_BYTES_MAX];

static hl_template_msg message(hl_span doc) {
  return (hl_template_msg){HL_SPAN_LIT("msg_\r\n\"\\\x00"), HL_SPAN_LIT("ev\x01\x7f\xff\xc3"),
                           HL_SPAN_LIT("t\n"), doc, 1772893800123ull};
}

/* usable_key: a key that `{{key}}` reaches as a one-part path. */
static bool usable_key(const char *k) {
  size_t n = strlen(k);
  if (n == 0 || n > HL_TEMPLATE_PATH_BYTES_MAX || k[0] == '$' || k[0] == ' ' || k[0] == '\t' ||
      k[n - 1] == ' ' || k[n - 1] == '\t') {
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)k[i];
    if (c == '.' || c == '{' || c == '}' || c < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

/* render_one compiles |pre| key |post| as a template and renders it;
 * returns the render, or a span with NULL ptr if it did not fit. */
static hl_span render_one(hl_template_kind kind, const char *pre, const char *key,
                          const char *post, const hl_template_msg *msg) {
  char text[HL_TEMPLATE_PATH_BYTES_MAX * 2 + 64];
  hl_buf tb;
  hl_buf_init(&tb, text, sizeof(text));
  hl_buf_put_cstr(&tb, pre);
  hl_buf_put_cstr(&tb, key);
  hl_buf_put_cstr(&tb, post);
  check(hl_buf_ok(&tb));
  hl_template_set *set = hl_template_set_new();
  const hl_template *t;
  hl_err err;
  if (hl_template_compile(set, kind, hl_buf_span(&tb), &t, &err) != 0) {
    abort(); /* a usable key in a fixed template always compiles */
  }
  hl_buf b;
  hl_buf_init(&b, out_mem, sizeof(out_mem));
  int rc = hl_template_render_message(set, t, msg, &b);
  hl_template_set_free(set);
  check(rc == 0 || rc == -E2BIG);
  return rc == 0 ? hl_buf_span(&b) : HL_SPAN_NULL;
}

/* decoded returns the value's string decoded by us (for strings with NUL). */
static hl_span decoded(const char *doc, size_t doc_len, const char *key) {
  hl_json_path p;
  check(hl_json_path_compile(hl_span_cstr(key), &p, NULL) == 0);
  hl_json_value v;
  check(hl_json_lookup(hl_span_make(doc, doc_len), &p, &v) == 0);
  hl_buf b;
  hl_buf_init(&b, aux_mem, sizeof(aux_mem));
  check(hl_json_string_decode(v.raw, &b) == 0);
  return hl_buf_span(&b);
}

/* same_member: the path made of cJSON's key finds this very value (not so
 * when the key held U+0000, where cJSON's key is cut short). */
static bool same_member(const cJSON *item, hl_span doc) {
  hl_json_path p;
  hl_json_value v;
  if (hl_json_path_compile(hl_span_cstr(item->string), &p, NULL) != 0 ||
      hl_json_lookup(doc, &p, &v) != 0) {
    return false;
  }
  cJSON *found = cJSON_ParseWithLength(v.raw.ptr, v.raw.len);
  bool same = found != NULL && cJSON_Compare(found, item, true);
  cJSON_Delete(found);
  return same;
}

static void check_key(const cJSON *item, hl_span doc) {
  const char *key = item->string;
  if (!same_member(item, doc)) {
    return;
  }
  hl_template_msg msg = message(doc);
  bool is_string = cJSON_IsString(item);
  size_t slen = 0;
  bool has_nul = false;
  if (is_string) {
    slen = strlen(item->valuestring);
    has_nul = decoded(doc.ptr, doc.len, key).len != slen;
  }
  /* JSON: string and value contexts. */
  char text[HL_TEMPLATE_PATH_BYTES_MAX * 2 + 64];
  hl_buf tb;
  hl_buf_init(&tb, text, sizeof(text));
  hl_buf_put_cstr(&tb, "}}\",\"w\":{{");
  hl_buf_put_cstr(&tb, key);
  hl_buf_put_cstr(&tb, "}}}");
  hl_span s = render_one(HL_TEMPLATE_JSON, "{\"v\":\"{{", key, hl_buf_cstr(&tb), &msg);
  if (s.ptr != NULL) {
    cJSON *root = cJSON_ParseWithLength(s.ptr, s.len);
    check(root != NULL);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "w");
    check(cJSON_IsString(v) && w != NULL);
    check(cJSON_Compare(w, item, true));
    if (is_string) {
      check(has_nul || strcmp(v->valuestring, item->valuestring) == 0);
    } else if (cJSON_IsNull(item)) {
      check(v->valuestring[0] == '\0');
    } else if (cJSON_IsBool(item)) {
      check(strcmp(v->valuestring, cJSON_IsTrue(item) ? "true" : "false") == 0);
    } else if (cJSON_IsNumber(item)) {
      char *end = NULL;
      double d = strtod(v->valuestring, &end);
      check(*end == '\0' && (d == item->valuedouble || d != d));
    } else {
      cJSON *inner = cJSON_Parse(v->valuestring);
      check(inner != NULL && cJSON_Compare(inner, item, true));
      cJSON_Delete(inner);
    }
    cJSON_Delete(root);
  }
  if (!is_string || has_nul) {
    return;
  }
  /* Header: the string without its control bytes. */
  s = render_one(HL_TEMPLATE_HEADER, "{{", key, "}}", &msg);
  if (s.ptr != NULL) {
    size_t j = 0;
    for (size_t i = 0; i < slen; i++) {
      unsigned char c = (unsigned char)item->valuestring[i];
      if (!is_ctl(c)) {
        check(j < s.len && s.ptr[j++] == (char)c);
      }
    }
    check(j == s.len);
  }
  /* URL: unreserved and %XX only, decoding to the string. */
  s = render_one(HL_TEMPLATE_URL_QUERY, "{{", key, "}}", &msg);
  if (s.ptr != NULL) {
    for (size_t i = 0; i < s.len; i++) {
      unsigned char c = (unsigned char)s.ptr[i];
      if (c == '%') {
        check(i + 2 < s.len && is_hex(s.ptr[i + 1]) && is_hex(s.ptr[i + 2]));
        i += 2;
      } else {
        check(is_unreserved(c));
      }
    }
    hl_buf b;
    hl_buf_init(&b, aux_mem, sizeof(aux_mem));
    check(hl_url_decode_component(s, &b, NULL) == 0);
    check(b.len == slen && memcmp(b.ptr, item->valuestring, slen) == 0);
  }
  /* Text: the string. */
  s = render_one(HL_TEMPLATE_TEXT, "{{", key, "}}", &msg);
  if (s.ptr != NULL) {
    check(s.len == slen && memcmp(s.ptr, item->valuestring, slen) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > INPUT_BYTES_MAX) {
    return 0;
  }
  hl_template_kind kind = (hl_template_kind)(HL_TEMPLATE_JSON + data[0] % 6);
  const char *text = (const char *)data + 1;
  const char *nul = memchr(text, '\0', size - 1);
  if (nul == NULL) {
    return 0;
  }
  hl_span tmpl = hl_span_make(text, (size_t)(nul - text));
  hl_span doc = hl_span_make(nul + 1, size - 1 - tmpl.len - 1);
  if (hl_json_validate_object(doc, HL_JSON_DEPTH_MAX, NULL) != 0) {
    return 0;
  }
  hl_template_msg msg = message(doc);
  hl_template_set *set = hl_template_set_new();
  const hl_template *t;
  hl_err err;
  if (hl_template_compile(set, kind, tmpl, &t, &err) == 0) {
    hl_buf b;
    hl_buf_init(&b, out_mem, sizeof(out_mem));
    hl_buf_put_cstr(&b, "pre");
    int rc = hl_template_render_message(set, t, &msg, &b);
    check(rc == 0 || rc == -E2BIG);
    if (rc == 0) {
      check_output(kind, hl_span_make(b.ptr + 3, b.len - 3));
    } else {
      check(b.len == 3 && !hl_buf_ok(&b));
    }
  }
  hl_template_set_free(set);

  /* Per key, against cJSON. */
  cJSON *root = cJSON_ParseWithLength(doc.ptr, doc.len);
  if (root == NULL) {
    return 0; /* cJSON's own limits (long numbers) */
  }
  int keys = 0;
  for (const cJSON *item = root->child; item != NULL && keys < KEYS_MAX; item = item->next) {
    if (!usable_key(item->string)) {
      continue;
    }
    /* First member wins: skip a key seen before. */
    bool seen = false;
    for (const cJSON *prev = root->child; prev != item; prev = prev->next) {
      seen = seen || strcmp(prev->string, item->string) == 0;
    }
    if (seen) {
      continue;
    }
    keys++;
    check_key(item, doc);
  }
  cJSON_Delete(root);
  return 0;
}
