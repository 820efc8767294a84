#!/usr/bin/env bash
# sink_wrk: hookline-sink next to nginx under the same wrk load, HTTP and
# HTTPS keep-alive, alternating (sink, nginx, sink, nginx, ...) as
# docs/benchmarks.md asks. For each run: wrk's requests/s and the server's
# CPU per request (user + sys of the server process over the run: the sink's
# own stats line, nginx's worker from /proc). Both servers have one worker
# and answer "ok" with 200.
#
#   bench/sink_wrk.sh [BUILD_DIR] [PAIRS] [SECONDS] [CONNECTIONS]
#   (defaults: build/release 3 5 64)
#
# Needs wrk, nginx and openssl (scripts/deps.sh --bench). Prints one JSON
# line per run and a summary with the median of the pairwise ratios.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
[[ "$build" = /* ]] || build="$root/$build"
pairs=${2:-3}
secs=${3:-5}
conns=${4:-64}
for tool in wrk nginx openssl python3; do
  command -v "$tool" >/dev/null || { echo "sink_wrk: $tool is not installed" >&2; exit 77; }
done
tmp=$(mktemp -d /tmp/sink_wrk.XXXXXX)
sink_pid=
nginx_pid=
cleanup() {
  [[ -n "$sink_pid" ]] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
  [[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
  -out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

"$build/hookline-sink" --quiet --listen 127.0.0.1:0 --listen 127.0.0.1:0,tls \
  --cert "$tmp/cert.pem" --key "$tmp/key.pem" --port-file "$tmp/ports" --stats "$tmp/stats" &
sink_pid=$!
for _ in $(seq 100); do [[ -f "$tmp/ports" ]] && break; sleep 0.05; done
sink_http=$(sed -n 1p "$tmp/ports")
sink_https=$(sed -n 2p "$tmp/ports")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nginx_http=$(free_port)
nginx_https=$(free_port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$nginx_http;
    listen 127.0.0.1:$nginx_https ssl;
    ssl_certificate $tmp/cert.pem;
    ssl_certificate_key $tmp/key.pem;
    location / { return 200 "ok"; }
  }
}
EOF
nginx -p "$tmp/nginx" -c "$tmp/nginx.conf" &
nginx_pid=$!
sleep 0.5

cpu_of_pid() { # user+sys seconds of a process
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
sink_cpu() {
  local before
  before=$(wc -l <"$tmp/stats" 2>/dev/null || echo 0)
  kill -USR1 "$sink_pid"
  for _ in $(seq 100); do
    [[ $(wc -l <"$tmp/stats" 2>/dev/null || echo 0) -gt $before ]] && break
    sleep 0.02
  done
  tail -n1 "$tmp/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["cpu_user_s"]+s["cpu_sys_s"])'
}

run() { # name scheme port cpu_fn
  local name=$1 url=$2 who=$3 c0 c1 out rps reqs
  if [[ $who == sink ]]; then c0=$(sink_cpu); else c0=$(cpu_of_pid "$nginx_pid"); fi
  out=$(wrk -t1 -c"$conns" -d"${secs}s" "$url")
  if [[ $who == sink ]]; then c1=$(sink_cpu); else c1=$(cpu_of_pid "$nginx_pid"); fi
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  python3 -c "import json; print(json.dumps({'server':'$who','case':'$name','rps':$rps,'requests':$reqs,'cpu_us_per_request':round(($c1-$c0)*1e6/$reqs,2)}))"
}

results="$tmp/results"
for _ in $(seq "$pairs"); do
  run http "http://127.0.0.1:$sink_http/" sink | tee -a "$results"
  run http "http://127.0.0.1:$nginx_http/" nginx | tee -a "$results"
  run https "https://127.0.0.1:$sink_https/" sink | tee -a "$results"
  run https "https://127.0.0.1:$nginx_https/" nginx | tee -a "$results"
done
python3 - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for case in ("http", "https"):
    s = [r for r in rows if r["case"] == case and r["server"] == "sink"]
    n = [r for r in rows if r["case"] == case and r["server"] == "nginx"]
    rps = statistics.median(a["rps"] / b["rps"] for a, b in zip(s, n))
    cpu = statistics.median(a["cpu_us_per_request"] / b["cpu_us_per_request"] for a, b in zip(s, n))
    print(json.dumps({"case": case,
                      "sink_rps_median": statistics.median(r["rps"] for r in s),
                      "nginx_rps_median": statistics.median(r["rps"] for r in n),
                      "sink_cpu_us_median": statistics.median(r["cpu_us_per_request"] for r in s),
                      "nginx_cpu_us_median": statistics.median(r["cpu_us_per_request"] for r in n),
                      "rps_ratio_median": round(rps, 2), "cpu_ratio_median": round(cpu, 2)}))
EOF
