/* Fuzz target: the resolver's host validation and normalisation (the cache
 * key). Properties:
 * - it accepts exactly what the URL host parser accepts, and classifies it
 *   the same way (name, IPv4, IPv6);
 * - an accepted name is lower-case ASCII letters, digits, '-' and '.',
 *   1..253 bytes, labels of 1..63 bytes, no trailing dot, and c-ares
 *   accepts it as a query name;
 * - normalising is idempotent (parsing the key again gives the same key)
 *   and case-blind (the input with its letters' case flipped gives the same
 *   key or the same refusal);
 * - a refusal is -EINVAL with a message. */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "base/assert.h"
#include "io/dns.h"
#include "text/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const hl_dns_name *n) {
  HL_ASSERT(n->len >= 1 && n->len <= HL_HOST_BYTES_MAX && n->name[n->len] == '\0');
  HL_ASSERT(strlen(n->name) == n->len && n->name[n->len - 1] != '.');
  size_t label = 0;
  for (uint32_t i = 0; i < n->len; i++) {
    char c = n->name[i];
    HL_ASSERT((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
    if (c == '.') {
      HL_ASSERT(label >= 1);
      label = 0;
    } else {
      label++;
      HL_ASSERT(label <= HL_HOST_LABEL_BYTES_MAX);
    }
  }
  HL_ASSERT(label >= 1);
  unsigned char *q = NULL;
  int qlen = 0;
  HL_ASSERT(ares_create_query(n->name, 1, 1, 0x1234, 1, &q, &qlen, 0) == ARES_SUCCESS);
  ares_free_string(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hl_span in = hl_span_make(data, size);
  hl_dns_name n;
  hl_err err;
  err.msg[0] = '\0';
  int rc = hl_dns_name_parse(in, &n, &err);
  hl_host h;
  int href = hl_host_parse(in, &h, NULL);
  HL_ASSERT((rc == 0) == (href == 0));
  if (rc != 0) {
    HL_ASSERT(rc == -EINVAL && err.msg[0] != '\0');
  } else if (n.family == 0) {
    HL_ASSERT(h.kind == HL_HOST_NAME);
    check_name(&n);
    hl_dns_name again;
    HL_ASSERT(hl_dns_name_parse(hl_span_make(n.name, n.len), &again, NULL) == 0);
    HL_ASSERT(memcmp(&again, &n, sizeof(n)) == 0);
  } else {
    HL_ASSERT(n.family == (h.kind == HL_HOST_IPV4 ? AF_INET : AF_INET6));
    HL_ASSERT(memcmp(n.addr, h.addr, n.family == AF_INET ? 4 : 16) == 0);
    char text[INET6_ADDRSTRLEN];
    HL_ASSERT(inet_ntop(n.family, n.addr, text, sizeof(text)) != NULL);
    hl_dns_name again;
    HL_ASSERT(hl_dns_name_parse(hl_span_cstr(text), &again, NULL) == 0);
    HL_ASSERT(again.family == n.family && memcmp(again.addr, n.addr, 16) == 0);
  }

  if (size > HL_URL_BYTES_MAX) {
    return 0;
  }
  char flipped[HL_URL_BYTES_MAX];
  for (size_t i = 0; i < size; i++) {
    char c = (char)data[i];
    flipped[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
  }
  hl_dns_name f;
  int rf = hl_dns_name_parse(hl_span_make(flipped, size), &f, NULL);
  HL_ASSERT(rf == rc);
  if (rc == 0) {
    HL_ASSERT(memcmp(&f, &n, sizeof(n)) == 0);
  }
  return 0;
}
