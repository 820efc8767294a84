#!/usr/bin/env bash
# The hookline command: help, usage errors, and `run` on embedded defaults
# printing its configuration and stopping cleanly on SIGTERM and SIGINT.
set -euo pipefail
hl="$HL_BIN_DIR/hookline"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$hl" --help | grep -q "usage: hookline <command>" || fail "--help"
"$hl" version | grep -q "^hookline [0-9]" || fail "version"
set +e
"$hl" nosuch 2>"$tmp/err"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "unknown command exit $rc"
grep -q "unknown command 'nosuch'" "$tmp/err" || fail "unknown command message"

set +e
"$hl" run --workers 0 2>"$tmp/err"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--workers 0 exit $rc"
grep -q -- "--workers: expected a number" "$tmp/err" || fail "--workers message"
"$hl" run --help | grep -q -- "--allow-network CIDR" || fail "run --help"

for sig in TERM INT; do
  cd "$tmp"
  "$hl" run --workers 2 --allow-network 127.0.0.0/8 >"$tmp/out" 2>"$tmp/log" &
  pid=$!
  for _ in $(seq 100); do grep -q "engine ready" "$tmp/log" && break; sleep 0.05; done
  grep -q "engine ready" "$tmp/log" || fail "engine not ready: $(cat "$tmp/log")"
  kill -"$sig" "$pid"
  set +e
  wait "$pid"; rc=$?
  set -e
  [[ $rc -eq 0 ]] || fail "SIG$sig exit $rc"
  python3 - "$tmp/out" <<'PY'
import json, sys
cfg = json.loads(open(sys.argv[1]).readline())
assert cfg["data_dir"] == "./hookline-data", cfg
assert cfg["ring"] == "hookline", cfg
assert cfg["workers"] == 2, cfg
assert cfg["allow_networks"] == ["127.0.0.0/8"], cfg
PY
  grep -q '"msg":"engine stopped"' "$tmp/log" || fail "no stop line"
done
echo ok
