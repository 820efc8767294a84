"""Integration tests for hookline-sink (bench/sink), driven with curl and raw
sockets over loopback: recording, signature verification, delays, statuses
with Retry-After, every hostile mode as a client sees it, certificates per
port, bad requests, pipelining, stats on SIGUSR1 and at exit. The test CA is
made here with the openssl command (tests/lib/hltest.py)."""

import base64
import email.utils
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import hltest  # noqa: E402
from hltest import check, eq  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"sink test secret 0123456789abcdef").decode()


def curl_code(args, timeout=10):
    p = hltest.curl(args, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_default_answer_and_recording_over_http_and_https():
    with hltest.tempdir() as d:
        pki = hltest.Pki(d)
        cert, key = pki.leaf("sink")
        with hltest.Sink(d, listen=["127.0.0.1:0", "127.0.0.1:0,tls"], cert=cert, key=key,
                         extra=["--record-body-bytes", "16"]) as sink:
            rc, out, err = curl_code(["-i", sink.url(0, "/plain?q=1")])
            eq(rc, 0, err)
            check(out.startswith("HTTP/1.1 200 OK"), out)
            check(out.endswith("\r\n\r\nok"), out)
            body = json.dumps({"event": "lead.created", "data": {"email": "a@b.c"}})
            rc, out, err = curl_code(["--cacert", pki.ca, "-H", "Content-Type: application/json",
                                      "-H", "X-Custom: héllo", "--data-binary", body,
                                      sink.url(1, "/hooks/tls", host="localhost")])
            eq((rc, out), (0, "ok"), err)
            recs = sink.wait_records(2)
            eq(len(recs), 2, "records")
            r0, r1 = recs
            eq((r0["method"], r0["target"], r0["tls"], r0["status"]), ("GET", "/plain?q=1", False, 200))
            eq((r1["method"], r1["target"], r1["tls"]), ("POST", "/hooks/tls", True))
            headers = {k.lower(): v for k, v in r1["headers"]}
            eq(headers["content-type"], "application/json")
            eq(headers["x-custom"], "héllo")
            eq(r1["body"], body[:16])
            check(r1["body_truncated"] and r1["body_bytes"] == len(body), r1)
            eq(r1["port"], sink.ports[1])
            # A body that is not UTF-8 is recorded in base64.
            p = subprocess.run(["curl", "-sS", "--data-binary", "@-", sink.url(0, "/bin")],
                               input=b"\xff\xfe\x00ok", capture_output=True, timeout=10)
            eq(p.returncode, 0, p.stderr)
            rec = sink.wait_records(3)[2]
            eq(base64.b64decode(rec["body_b64"]), b"\xff\xfe\x00ok")
            stats = sink.stop()
            eq(stats["requests"], 3)
            eq(stats["by_status"], {"200": 3})
            eq(stats["tls_handshakes"], 1)
            eq(stats["connections_open"], 0)


def test_chunked_bodies_and_expect_continue():
    with hltest.tempdir() as d:
        with hltest.Sink(d) as sink:
            data = "x" * 5000 + "end"
            path = os.path.join(d, "body")
            with open(path, "w") as f:
                f.write(data)
            rc, out, err = curl_code(["-H", "Transfer-Encoding: chunked", "--data-binary",
                                      "@" + path, sink.url(0, "/chunked")])
            eq((rc, out), (0, "ok"), err)
            t0 = time.monotonic()
            rc, out, err = curl_code(["-H", "Expect: 100-continue", "--data-binary", "@" + path,
                                      sink.url(0, "/expect"), "-w", "%{http_code}"])
            # curl waits a second for "100 Continue" when the server sends none.
            check(time.monotonic() - t0 < 0.9, "100 Continue was not sent")
            eq((rc, out), (0, "ok200"), err)
            recs = sink.wait_records(2)
            eq(recs[0]["body_bytes"], len(data))
            eq(recs[0]["body"], data)  # under the default record limit
            eq(recs[1]["body_bytes"], len(data))


def _post(url, body, headers):
    args = ["--data-binary", "@-", url]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    return subprocess.run(["curl", "-sS", *args], input=body, capture_output=True, timeout=10)


def test_verifies_standard_webhooks_signatures():
    with hltest.tempdir() as d:
        with hltest.Sink(d, verify=["standard:" + SECRET]) as sink:
            body = b'{"type":"lead.created","data":{"id":1}}'
            ts = int(time.time())
            good = hltest.sign_standard(SECRET, "msg_1", ts, body)
            eq(_post(sink.url(0, "/h"), body, good).returncode, 0)
            eq(_post(sink.url(0, "/h"), body + b" ", good).returncode, 0)  # body changed
            stale = hltest.sign_standard(SECRET, "msg_2", ts - 3600, body)
            eq(_post(sink.url(0, "/h"), body, stale).returncode, 0)
            eq(_post(sink.url(0, "/h"), body, {}).returncode, 0)  # no signature
            recs = sink.wait_records(4)
            eq([r["sig"] for r in recs], ["valid", "invalid", "invalid", "invalid"])
            check(recs[0]["sig_error"] is None, recs[0])
            for r in recs[1:]:
                check(r["sig_error"], r)
            stats = sink.stop()
            eq((stats["sig_valid"], stats["sig_invalid"]), (1, 3))
            # The secret never shows up in what the sink writes.
            for path in (sink.log_file, sink.stats_file, sink.record_file):
                with open(path) as f:
                    check(SECRET[6:] not in f.read(), f"secret in {path}")


def test_verifies_hmac_sha256_in_a_chosen_header():
    secret = "an hmac secret of some length"
    with hltest.tempdir() as d:
        spath = os.path.join(d, "secret")
        with open(spath, "w") as f:
            f.write(secret + "\n")
        with hltest.Sink(d, verify=["hmac-sha256:@" + spath],
                         extra=["--verify-header", "X-Hub-Signature-256"]) as sink:
            body = b"payload"
            sig = hltest.sign_hmac_sha256(secret, body)
            eq(_post(sink.url(0, "/gh"), body, {"X-Hub-Signature-256": sig}).returncode, 0)
            eq(_post(sink.url(0, "/gh"), body, {"X-Hub-Signature-256": sig[:-1] + "0"}).returncode, 0)
            eq(_post(sink.url(0, "/gh"), body, {"X-Webhook-Signature": sig}).returncode, 0)
            stats = sink.stop()
            eq((stats["sig_valid"], stats["sig_invalid"]), (1, 2))


def test_delays_statuses_rates_and_retry_after():
    routes = ["/slow=delay:300", "/fail=status:503,retry-after:7,rate:0.5",
              "/gone=status:410,close", "/later=status:429,retry-after-date:120",
              "/big=body-bytes:100000"]
    with hltest.tempdir() as d:
        with hltest.Sink(d, routes=routes, record=False) as sink:
            t0 = time.monotonic()
            rc, out, err = curl_code([sink.url(0, "/slow/x")])
            check(time.monotonic() - t0 >= 0.3, "the delay was not applied")
            eq((rc, out), (0, "ok"), err)
            codes = []
            for _ in range(4):
                rc, out, err = curl_code(["-i", sink.url(0, "/fail")])
                codes.append(out.split(" ")[1])
                check(("Retry-After: 7\r\n" in out) == (codes[-1] == "503"), out)
            eq(sorted(codes), ["200", "200", "503", "503"])
            rc, out, err = curl_code(["-i", sink.url(0, "/gone")])
            check(out.startswith("HTTP/1.1 410 Gone") and "Connection: close" in out, out)
            rc, out, err = curl_code(["-i", sink.url(0, "/later")])
            check(out.startswith("HTTP/1.1 429"), out)
            date = [line for line in out.split("\r\n") if line.startswith("Retry-After: ")][0]
            when = email.utils.parsedate_to_datetime(date[len("Retry-After: "):]).timestamp()
            check(100 < when - time.time() < 140, date)
            rc, out, err = curl_code([sink.url(0, "/big")])
            eq(len(out), 100000)
            stats = sink.stop()
            eq(stats["by_status"], {"200": 4, "503": 2, "410": 1, "429": 1})
            eq(stats["by_route"]["/fail"], 4)


def test_holds_a_thousand_requests_on_timers():
    n = 1000
    with hltest.tempdir() as d:
        with hltest.Sink(d, routes=["/hold=delay:1000"], record=False) as sink:
            socks = []
            t0 = time.monotonic()
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", sink.ports[0]))
                s.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            answered = 0
            for s in socks:
                s.settimeout(10)
                if s.recv(1024).startswith(b"HTTP/1.1 200 OK"):
                    answered += 1
                s.close()
            eq(answered, n, "answers")
            # One thread, timers: held together, not one after another.
            check(time.monotonic() - t0 < 10, "held requests were not concurrent")
            eq(sink.stop()["responses"], n)


HOSTILE = ["/never=mode:never", "/slow=mode:slow,slow-ms:20", "/bighead=mode:big-header",
           "/endless=mode:endless", "/badstatus=mode:bad-status", "/reset=mode:reset",
           "/drop=mode:drop"]


def _hostile_checks(sink, i, tls_args):
    rc, out, err = curl_code(tls_args + ["-m", "1", sink.url(i, "/never", host="localhost")])
    eq(rc, 28, f"never: {err}")  # timeout
    t0 = time.monotonic()
    rc, out, err = curl_code(tls_args + [sink.url(i, "/slow", host="localhost")])
    eq((rc, out), (0, "ok"), f"slow: {err}")
    check(time.monotonic() - t0 > 0.5, "slow mode was not slow")  # ~40 bytes x 20 ms
    rc, out, err = curl_code(tls_args + ["-m", "2", sink.url(i, "/slow", host="localhost"),
                                         "-m", "0.3"])
    eq(rc, 28, f"slow with a short timeout: {err}")
    rc, out, err = curl_code(tls_args + [sink.url(i, "/bighead", host="localhost")])
    # curl 7.88 reports its 100 KB header limit as "Out of memory" (27).
    check(rc in (27, 56, 8), f"big header: {rc} {err}")
    rc, out, err = curl_code(tls_args + ["-m", "1", "-o", "/dev/null", "-w", "%{size_download}",
                                         sink.url(i, "/endless", host="localhost")])
    check(rc == 28 and int(out) > 100000, f"endless: {rc} {out} {err}")
    rc, out, err = curl_code(tls_args + [sink.url(i, "/badstatus", host="localhost")])
    check(rc in (1, 8), f"bad status: {rc} {err}")
    rc, out, err = curl_code(tls_args + [sink.url(i, "/reset", host="localhost")])
    check(rc in (18, 35, 56), f"reset: {rc} {err}")
    rc, out, err = curl_code(tls_args + [sink.url(i, "/drop", host="localhost")])
    check(rc in (52, 35, 56), f"drop: {rc} {err}")


def test_hostile_modes_as_curl_sees_them():
    with hltest.tempdir() as d:
        pki = hltest.Pki(d)
        cert, key = pki.leaf("sink")
        with hltest.Sink(d, listen=["127.0.0.1:0", "127.0.0.1:0,tls"], cert=cert, key=key,
                         routes=HOSTILE, record=False) as sink:
            _hostile_checks(sink, 0, [])
            _hostile_checks(sink, 1, ["--cacert", pki.ca])
            # A healthy request on the same sink, after all that.
            rc, out, err = curl_code(["--cacert", pki.ca, sink.url(1, "/fine", host="localhost")])
            eq((rc, out), (0, "ok"), err)
            stats = sink.stop()
            check(stats["hostile"] >= 2 * len(HOSTILE), stats)


def test_keep_alive_close_races():
    with hltest.tempdir() as d:
        routes = ["/after=mode:close-after", "/next=mode:close-on-next"]
        with hltest.Sink(d, routes=routes, record=False) as sink:
            # close-after: the connection closes right after the response;
            # curl's second request needs a new connection.
            rc, out, err = curl_code(["-v", "-w", " %{num_connects}", sink.url(0, "/after"),
                                      sink.url(0, "/after")])
            eq(rc, 0, err)
            eq(out, "ok 1ok 1")
            # close-on-next: the second request on the connection is met with a
            # close and no answer; curl notices and retries on a new one.
            rc, out, err = curl_code(["-v", "-w", " %{num_connects}", sink.url(0, "/next"),
                                      sink.url(0, "/next")])
            eq(rc, 0, err)
            check(out.startswith("ok 1ok"), out)
            raw = hltest.raw_http(sink.ports[0], b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
                                  b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            eq(raw.count(b"HTTP/1.1 200"), 1, raw)
            stats = sink.stop()
            check(stats["connections"] >= 5, stats)


def test_certificates_per_port():
    with hltest.tempdir() as d:
        pki = hltest.Pki(d)
        good = pki.leaf("good")
        other = pki.untrusted_leaf("untrusted")
        wrong = pki.leaf("wrong", sans=("DNS:elsewhere.example",))
        expired = pki.leaf("expired", expired=True)
        listen = ["127.0.0.1:0,tls",
                  f"127.0.0.1:0,tls,cert={other[0]},key={other[1]}",
                  f"127.0.0.1:0,tls,cert={wrong[0]},key={wrong[1]}",
                  f"127.0.0.1:0,tls,cert={expired[0]},key={expired[1]}",
                  "127.0.0.1:0,tls,tls-max=1.1"]
        with hltest.Sink(d, listen=listen, cert=good[0], key=good[1], record=False) as sink:
            def get(i):
                return curl_code(["--cacert", pki.ca, sink.url(i, "/", host="localhost")])
            eq(get(0)[:2], (0, "ok"))
            rc, _, err = get(1)
            check(rc == 60 and "issuer" in err, f"untrusted: {rc} {err}")
            rc, _, err = get(2)
            check(rc == 60 and "subject" in err, f"wrong host: {rc} {err}")
            rc, _, err = get(3)
            check(rc == 60 and "expired" in err, f"expired: {rc} {err}")
            rc, _, err = get(4)
            eq(rc, 35, f"TLS 1.1 only: {err}")
            stats = sink.stop()
            # curl checks the host name after the handshake, so the sink sees
            # three failed handshakes and one that completed then closed.
            check(stats["tls_failures"] >= 3, stats)


def test_routes_per_listener():
    with hltest.tempdir() as d:
        with hltest.Sink(d, listen=["127.0.0.1:0", "127.0.0.1:0"],
                         routes=["1:/=mode:drop", "/x=status:202"], record=False) as sink:
            eq(curl_code([sink.url(0, "/a")])[:2], (0, "ok"))
            eq(curl_code([sink.url(1, "/a")])[0], 52)  # empty reply
            # the longer prefix wins on listener 1 too
            eq(curl_code(["-w", "%{http_code}", sink.url(1, "/x")])[:2], (0, "ok202"))


def test_bad_requests_pipelining_and_stats():
    with hltest.tempdir() as d:
        with hltest.Sink(d, routes=["/a=status:201"], record=False) as sink:
            raw = hltest.raw_http(sink.ports[0], b"NOT HTTP AT ALL\r\n\r\n")
            check(raw.startswith(b"HTTP/1.1 400 Bad Request"), raw)
            check(b"Connection: close" in raw, raw)
            raw = hltest.raw_http(sink.ports[0], b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            check(raw.startswith(b"HTTP/1.1 400"), raw)
            raw = hltest.raw_http(sink.ports[0], b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                                  b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                                  b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            eq(raw.count(b"HTTP/1.1 "), 3, raw)
            check(raw.startswith(b"HTTP/1.1 201"), raw)
            s1 = sink.stats()
            eq(s1["parse_errors"], 2)
            eq(s1["requests"], 3)
            eq(s1["by_route"], {"/a": 1, "default": 2})
            eq(s1["by_status"], {"201": 1, "200": 2, "400": 2})
            eq(curl_code([sink.url(0, "/z")])[:2], (0, "ok"))
            s2 = sink.stats()
            eq(s2["requests"], 4)
            final = sink.stop()
            eq(final["requests"], 4)
            eq(final["connections"], 4)
            check(final["bytes_in"] > 0 and final["bytes_out"] > 0, final)


def test_several_workers_share_the_load():
    with hltest.tempdir() as d:
        with hltest.Sink(d, workers=2, record=True) as sink:
            def client():
                for _ in range(25):
                    raw = hltest.raw_http(sink.ports[0],
                                          b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    check(raw.endswith(b"ok"), raw)
            threads = [threading.Thread(target=client) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            eq(len(sink.wait_records(100)), 100)
            eq(sink.stop()["requests"], 100)


def test_command_line_errors():
    sink = hltest.bin_path("hookline-sink")
    cases = [
        ([], 2, "--listen"),
        (["--listen", "127.0.0.1:0", "--route", "/x=mode:sideways"], 2, "bad action"),
        (["--listen", "127.0.0.1:0", "--route", "5:/x=status:200"], 2, "no listener 5"),
        (["--listen", "nowhere:0"], 2, "IPv4 or IPv6"),
        (["--listen", "127.0.0.1:0,tls"], 3, "cert_file"),
        (["--listen", "127.0.0.1:0", "--verify", "standard:whsec_!!"], 2, "--verify"),
    ]
    for args, code, text in cases:
        p = subprocess.run([sink, *args], capture_output=True, text=True, timeout=10)
        eq(p.returncode, code, f"{args}: {p.stderr}")
        check(text in p.stderr, f"{args}: {p.stderr}")
    p = subprocess.run([sink, "--help"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0 and "--route" in p.stdout, p.stdout)


if __name__ == "__main__":
    hltest.main(globals())
