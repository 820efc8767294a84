#!/usr/bin/env bash
# libhookline as an application sees it: the shared library depends on libc
# alone (no BoringSSL, SQLite, c-ares, liburing, cJSON) and exports only the
# hl_ functions of hookline.h; `cmake --install` puts the library, header,
# pkg-config file and Python package under a prefix; a C program built with
# `pkg-config --cflags --libs hookline` and the installed Python package both
# deliver a message to a ring.
set -euo pipefail
bin="$HL_BIN_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
so="$bin/libhookline.so.1"

[[ -f "$so" && -f "$bin/libhookline.a" ]] || fail "libhookline not built"
readelf -d "$so" >"$tmp/dyn"
grep -q 'SONAME.*\[libhookline.so.1\]' "$tmp/dyn" || fail "SONAME: $(grep SONAME "$tmp/dyn")"
needed=$(grep NEEDED "$tmp/dyn" | sed 's/.*\[\(.*\)\]/\1/' | sort | tr '\n' ' ')
[[ "$needed" == "libc.so.6 " ]] || fail "libhookline needs more than libc: $needed"
nm -D --defined-only "$so" | awk '{print $3}' | sort >"$tmp/exports"
cat >"$tmp/want" <<'EOF'
hl_produce
hl_produce_batch
hl_producer_close
hl_producer_last_error
hl_producer_open
hl_strerror
hl_version
EOF
diff -u "$tmp/want" "$tmp/exports" || fail "unexpected exports"
# The static library must not reach for the engine's dependencies either.
nm -u "$bin/libhookline.a" 2>/dev/null | awk '{print $2}' | sort -u >"$tmp/undef"
if grep -E '^(SSL_|EVP_|sqlite3_|ares_|io_uring_|cJSON_|redis)' "$tmp/undef"; then
  fail "libhookline.a references engine dependencies"
fi

# Install into a scratch prefix.
prefix="$tmp/prefix"
cmake --install "$bin" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name hookline.pc)
[[ -n "$pc" ]] || fail "no hookline.pc installed"
[[ -f "$prefix/include/hookline/hookline.h" ]] || fail "header not installed"
pyinit=$(find "$prefix" -path '*hookline/__init__.py')
[[ -n "$pyinit" ]] || fail "python package not installed"

# The pkg-config file is relocatable: it finds the prefix from its own place.
cat >"$tmp/app.c" <<'EOF'
#include <hookline/hookline.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  hl_producer *p;
  hl_error e;
  if (hl_producer_open(&p, argv[1], NULL, &e) != 0) {
    fprintf(stderr, "open: %s\n", e.msg);
    return 1;
  }
  const char *data = "{\"from\":\"c\"}";
  hl_message m = {.event = "app.c", .data = data, .data_len = strlen(data)};
  int rc = hl_produce(p, &m, 1000, &e);
  if (rc != 0) {
    fprintf(stderr, "produce: %s (%s)\n", e.msg, hl_strerror(rc));
  }
  hl_producer_close(p);
  printf("%s\n", hl_version());
  return argc == 2 && rc == 0 ? 0 : 1;
}
EOF
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs hookline)
[[ "$flags" == *"-I$prefix/"*"include"* ]] || fail "pkg-config flags: $flags"
cc -std=c11 -Wall -Werror "$tmp/app.c" $flags -o "$tmp/app"
ring="$tmp/ring"
"$bin/ring_peer" create "$ring" --lanes 2
LD_LIBRARY_PATH="$(dirname "$(dirname "$pc")")" "$tmp/app" "$ring" >"$tmp/ver"
grep -q '^[0-9]*\.[0-9]*\.[0-9]*$' "$tmp/ver" || fail "version: $(cat "$tmp/ver")"

# The installed Python package finds the installed library by itself (no
# HOOKLINE_LIB), through the path recorded at install time.
grep -qF "$prefix/" "$(dirname "$pyinit")/_paths.py" || fail "_paths.py: $(cat "$(dirname "$pyinit")/_paths.py")"
env -u HOOKLINE_LIB PYTHONPATH="$(dirname "$(dirname "$pyinit")")" python3 - "$ring" <<'PY'
import sys, hookline
with hookline.Producer(ring=sys.argv[1]) as p:
    p.send("app.python", {"from": "python"})
PY
"$bin/ring_peer" drain "$ring" --count 2 >"$tmp/out"
grep -q '"event":"app.c".*"data":{"from":"c"}' "$tmp/out" || fail "C message: $(cat "$tmp/out")"
grep -q '"event":"app.python".*"data":{"from":"python"}' "$tmp/out" || fail "Python message"
echo ok
