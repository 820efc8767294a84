#!/usr/bin/env bash
# `hookline send`: one message, JSON lines with bad lines (line numbers,
# continue or stop), stdin, a full ring, a missing ring, permission, and the
# exit codes documented in --help. The engine side is tests/ring_peer.c,
# which creates a file-backed ring and prints what it consumes.
set -euo pipefail
hl="$HL_BIN_DIR/hookline"
peer="$HL_BIN_DIR/ring_peer"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ring="$tmp/ring"

# expect CODE CMD...: runs CMD, stderr to $tmp/err, and checks the exit code.
expect() {
  local want=$1; shift
  set +e
  "$@" 2>"$tmp/err"; local rc=$?
  set -e
  [[ $rc -eq $want ]] || fail "'$*' exited $rc, expected $want: $(cat "$tmp/err")"
}
has() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks '$1': $(cat "$tmp/err")"; }

"$hl" send --help >"$tmp/help"
for s in "exit codes" "--jsonl FILE|-" "--stop-on-error" "hookline send --event lead.created"; do
  grep -qF -- "$s" "$tmp/help" || fail "--help lacks '$s'"
done

# No ring yet: unavailable (4), and the message says what to do.
expect 4 "$hl" send --ring "$ring" --event a --data '{}'
has "not found"
has "is the engine running"

"$peer" create "$ring" --lanes 2
[[ $(stat -c %a "$ring") == 600 ]] || fail "ring mode $(stat -c %a "$ring")"

# One message; fields and data arrive byte for byte.
"$hl" send --ring "$ring" --event lead.created --id lead_42 --endpoint crm --tenant acme \
  --data '{"email":"a@b.c","n":1.50}'
"$peer" drain "$ring" --count 1 >"$tmp/out"
python3 - "$tmp/out" <<'PY'
import json, sys
m = json.loads(open(sys.argv[1]).readline())
assert m["event"] == "lead.created" and m["id"] == "lead_42", m
assert m["endpoint"] == "crm" and m["tenant"] == "acme", m
assert m["data"] == {"email": "a@b.c", "n": 1.5}, m
PY
grep -qF '"data":{"email":"a@b.c","n":1.50}}' "$tmp/out" || fail "data bytes changed: $(cat "$tmp/out")"

# Usage errors (2) and invalid messages (3), each with its reason.
expect 2 "$hl" send --ring "$ring" --event a
has "give --event and --data"
expect 2 "$hl" send --ring "$ring" --jsonl - --event a
expect 2 "$hl" send --ring "$ring" --event a --data '{}' --timeout-ms -1
expect 3 "$hl" send --ring "$ring" --event "lead created" --data '{}'
has "event: byte 4 (0x20) is not allowed"
expect 3 "$hl" send --ring "$ring" --event a --data '{"a":'
has "data:"
expect 3 "$hl" send --ring "$ring" --event a --data '[1]'
has "data:"
expect 3 "$hl" send --ring "$ring" --event a --data ''
has "data: empty"
expect 3 "$hl" send --ring "$ring" --event "$(printf 'e%.0s' {1..129})" --data '{}'
has "event: 129 bytes, longer than the limit of 128"

# JSON lines: good lines are sent, bad ones reported by number, exit 1.
cat >"$tmp/in.jsonl" <<'EOF'
{"event":"a.one","data":{"k":1}}
{"event":"a.two","data":{"k":
{"data":{"k":3}}
{"event":"a.four","data":{"k":4},"evnet":"typo"}

{"event":"a six","data":{}}
{"event":"a.seven","data":[7]}
{"event":"a.eight","data":{"k":8, "x" : [1, 2.0e3]},"id":"m8","endpoint":"e8","tenant":"t8"}
{"event":"a.nine","data":{},"id":42}
{"event":"a.ten","data":{"s":"\u00e9\n"},"timestamp_ms":1763800000000}
EOF
expect 1 "$hl" send --ring "$ring" --jsonl "$tmp/in.jsonl"
has "line 2: not valid JSON"
has "line 3: \"event\" is missing"
has "line 4: unknown key \"evnet\""
has "line 6: event: byte 1 (0x20)"
has "line 7: \"data\" must be a JSON object"
has "line 9: \"id\" must be a string"
has "3 sent, 6 rejected"
grep -q "line 5" "$tmp/err" && fail "blank line reported"
"$peer" drain "$ring" --count 3 >"$tmp/out"
python3 - "$tmp/out" <<'PY'
import json, sys
ms = [json.loads(l) for l in open(sys.argv[1])]
assert [m["event"] for m in ms] == ["a.one", "a.eight", "a.ten"], ms
assert ms[1]["id"] == "m8" and ms[1]["endpoint"] == "e8" and ms[1]["tenant"] == "t8", ms[1]
assert ms[2]["ts"] == 1763800000000 and ms[2]["data"] == {"s": "\u00e9\n"}, ms[2]
PY
# data is sent exactly as written in the line, spacing and number spelling kept
grep -qF '"data":{"k":8, "x" : [1, 2.0e3]}}' "$tmp/out" || fail "line data re-encoded: $(cat "$tmp/out")"

# --stop-on-error stops at the first bad line (exit 3); what came before was sent.
expect 3 "$hl" send --ring "$ring" --jsonl "$tmp/in.jsonl" --stop-on-error
has "line 2:"
has "1 sent, 1 rejected"
"$peer" drain "$ring" --count 1 >/dev/null

# stdin
printf '{"event":"s.%d","data":{"i":%d}}\n' 1 1 2 2 3 3 | "$hl" send --ring "$ring" --jsonl -
"$peer" drain "$ring" --count 3 >"$tmp/out"
[[ $(grep -c '"event":"s\.' "$tmp/out") -eq 3 ]] || fail "stdin lines"

# A full ring: exit 75 after the timeout, with the line that did not fit.
full="$tmp/full"
"$peer" create "$full" --lanes 1 --lane-bytes 2097152
python3 -c '
import json
pad = "x" * 60000
for i in range(100):
    print(json.dumps({"event": "f", "data": {"i": i, "pad": pad}}))' >"$tmp/big.jsonl"
expect 75 "$hl" send --ring "$full" --jsonl "$tmp/big.jsonl" --timeout-ms 100
has "full for 100 ms"
has "lines before it were sent"
line=$(grep -o "line [0-9]*:" "$tmp/err" | head -1 | tr -dc 0-9)
[[ $line -gt 20 && $line -lt 40 ]] || fail "full at line $line"

# Permission: a 0600 ring owned by root refuses another user (exit 4).
if [[ $(id -u) -eq 0 ]] && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
  chmod 755 "$tmp"
  expect 4 setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$hl" send --ring "$ring" --event a --data '{}'
  has "permission denied"
  has "mode 0600"
fi
echo ok
