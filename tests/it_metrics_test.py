"""Operating hookline (issue 6): the Prometheus endpoint and /healthz,
scraped by curl from a live engine and parsed; JSON and text logs with no
line per successful delivery; non-loopback metrics addresses refused."""
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import hltest  # noqa: E402
import hlengine  # noqa: E402
from hltest import check, eq  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_prometheus(text):
    """Returns {name: {labels_text: value}}; checks every line's syntax."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            check(line == "" or line.startswith("# HELP ") or line.startswith("# TYPE "), line)
            continue
        m = re.fullmatch(r'([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)', line)
        check(m is not None, "bad exposition line: %r" % line)
        out.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
    return out


def test_metrics_and_health_from_a_live_engine():
    with hltest.tempdir() as d:
        pki = hltest.Pki(d)
        cert, key = pki.leaf("sink")
        port = free_port()
        with hltest.Sink(d, listen=["127.0.0.1:0,tls"], cert=cert, key=key,
                         routes=["/bad=status:503"]) as sink, \
                hlengine.Engine(d, ca=pki.ca, extra=["--metrics-addr", "127.0.0.1:%d" % port]) \
                as eng:
            eng.apply([{"id": "good", "url": sink.url(0, "/ok"), "events": ["a.*"]},
                       {"id": "bad", "url": sink.url(0, "/bad"), "events": ["a.*"],
                        "retry_schedule_s": [0, 60]}])
            eng.send_jsonl([{"event": "a.b", "data": {"i": i}} for i in range(50)])
            eng.wait_attempts(50, "--endpoint", "good")
            # "bad" fails until its circuit breaker pauses it (the rest wait
            # in the pending table): compare with what the log says.
            bad = eng.wait_attempts(10, "--endpoint", "bad")
            base = "http://127.0.0.1:%d" % port
            p = hltest.curl(["-i", base + "/metrics"])
            check(p.returncode == 0, p.stderr)
            check("text/plain; version=0.0.4" in p.stdout, p.stdout[:300])
            body = p.stdout.split("\r\n\r\n", 1)[1]
            m = parse_prometheus(body)
            eq(m["hookline_messages_total"][""], 50, "messages")
            eq(m["hookline_deliveries_total"][""], 100, "fan-out")
            # Counters are published by the workers every 100 ms.
            bad = eng.attempts("--endpoint", "bad")
            deadline = time.time() + 5
            while m["hookline_attempts_total"][""] < 50 + len(bad) and time.time() < deadline:
                time.sleep(0.2)
                m = parse_prometheus(hltest.curl([base + "/metrics"]).stdout)
            eq(m["hookline_attempts_total"][""], 50 + len(bad), "attempts")
            res = m["hookline_attempt_results_total"]
            eq(res['{class="http_2xx"}'], 50, "2xx")
            eq(res['{class="http_5xx"}'], len(bad), "5xx")
            eq(m["hookline_outcomes_total"]['{outcome="retry"}'], len(bad), "retries")
            eq(m["hookline_retries_scheduled_total"][""], len(bad), "retries scheduled")
            while m["hookline_pending_deliveries"][""] < 1 and time.time() < deadline + 5:
                time.sleep(0.2)  # refreshed by the store thread's poll
                m = parse_prometheus(hltest.curl([base + "/metrics"]).stdout)
            check(m["hookline_pending_deliveries"][""] >= 1, "parked deliveries are pending")
            check(m["hookline_pending_deliveries"][""] >= 0, "pending gauge")
            check(m["hookline_pool_connections"]['{state="open"}'] >= 1, "pool gauge")
            check(m["hookline_tls_handshakes_total"][""] >= 1, "handshakes")
            breakers = m["hookline_endpoint_breaker_state"]
            eq(set(breakers), {'{endpoint="good"}', '{endpoint="bad"}'}, "breaker series")
            eq(breakers['{endpoint="good"}'], 0, "good is closed")
            eq(breakers['{endpoint="bad"}'], 1, "bad is paused")
            hist = m["hookline_delivery_duration_seconds_bucket"]
            eq(hist['{le="+Inf"}'], 50 + len(bad), "histogram count")
            eq(m["hookline_delivery_duration_seconds_count"][""], 50 + len(bad), "_count")
            vals = [hist[k] for k in sorted(hist, key=lambda k: float(k[5:-2]))]
            check(vals == sorted(vals), "buckets are cumulative")

            p = hltest.curl(["-i", base + "/healthz"])
            check(p.stdout.startswith("HTTP/1.1 200"), p.stdout)
            h = json.loads(p.stdout.split("\r\n\r\n", 1)[1])
            eq(h["status"], "ok", "healthy")
            check(all(w["alive"] for w in h["workers"]) and h["store"]["alive"], str(h))
            check(hltest.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}",
                               base + "/nope"]).stdout == "404", "404")
            log = eng.log()
        lines = [json.loads(l) for l in log.splitlines() if l.startswith("{")]
        check(len(lines) < 40, "no line per delivery at the default level: %d" % len(lines))
        check(all({"ts", "level", "msg"} <= set(l) for l in lines), "JSON lines")


def test_non_loopback_metrics_address_is_refused():
    with hltest.tempdir() as d:
        p = subprocess.run([hltest.bin_path("hookline"), "run", "--data-dir",
                            os.path.join(d, "data"), "--ring", "hlm-%d" % os.getpid(),
                            "--metrics-addr", "0.0.0.0:9464"],
                           capture_output=True, text=True, timeout=30)
        check(p.returncode != 0, "must not start")
        check("not a loopback address" in p.stderr, p.stderr)
        try:
            os.unlink("/dev/shm/hlm-%d" % os.getpid())
        except OSError:
            pass


def test_text_logs():
    with hltest.tempdir() as d:
        with hlengine.Engine(d, extra=["--log-format", "text"]) as eng:
            pass
        text = eng.log()
        check(re.search(r"^\d{4}-\d\d-\d\dT\S+Z info engine ready workers=2", text, re.M),
              text)


if __name__ == "__main__":
    hltest.main(globals())
