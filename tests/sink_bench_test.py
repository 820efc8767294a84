"""hookline-sink's figures for the benchmark (bench/harness): the "waiting"
gauge (requests held or never answered: a sender's in-flight deliveries),
and --stamp-path, the histogram of received - scheduled that the
benchmark uses for hookline's latency. Requests carry a
scheduled time in their JSON body; the stats line's "stamp" buckets must
count each well-stamped request once, at an age no less than how old its
stamp was, and count every missing, malformed, future or ancient stamp as
bad. The Python reading of the buckets (bench/harness/hist.py) is checked
against values known in advance."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import hltest  # noqa: E402

sys.path.insert(0, os.path.join(hltest.source_dir(), "bench"))
from harness import hist  # noqa: E402


def post(port, body):
    p = hltest.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H",
                     "Content-Type: application/json", "--data-binary", body,
                     f"http://127.0.0.1:{port}/hook"])
    hltest.eq(p.stdout, "200", f"status for {body[:60]}")


def test_stamp_histogram():
    with hltest.tempdir() as d:
        with hltest.Sink(d, extra=["--stamp-path", "data.sched_ns"], record=False) as sink:
            port = sink.ports[0]
            age_ns = 300 * 10**6  # stamped 300 ms in the past
            for kind in ("string", "number", "string"):
                stamp = time.time_ns() - age_ns
                value = f'"{stamp}"' if kind == "string" else str(stamp)
                post(port, '{"type":"t","data":{"seq":"1","sched_ns":' + value + '}}')
            bad = ['{"data":{}}', '{"data":{"sched_ns":"12x"}}', '{"data":{"sched_ns":true}}',
                   '{"data":{"sched_ns":"' + str(time.time_ns() + 60 * 10**9) + '"}}',
                   '{"data":{"sched_ns":"1000"}}', 'not json at all']
            for body in bad:
                post(port, body)
            st = sink.stats()
            stamp = st.get("stamp")
            hltest.check(stamp is not None, f"no stamp in the stats line: {st}")
            hltest.eq(stamp["bad"], len(bad), "bad stamps")
            p = hist.percentiles(stamp["buckets"])
            hltest.eq(p["count"], 3, "stamped requests")
            # Each was received after its stamp aged 300 ms, and well within
            # the test's own time; the bucket's top is at most 1.6 % above.
            hltest.check(300000 <= p["p50"] <= 30 * 10**6, f"p50 {p['p50']} us")
            hltest.check(p["max"] >= p["p99"] >= p["p50"], f"order: {p}")
        # Without the option there is no "stamp" and no capture cost.
        with hltest.Sink(d, record=False) as sink:
            post(sink.ports[0], '{"data":{"sched_ns":"1"}}')
            hltest.check("stamp" not in sink.stats(), "stamp without --stamp-path")


def wait_for(sink, key, want, timeout_s=5):
    give_up = time.monotonic() + timeout_s
    while True:
        got = sink.stats()[key]
        if got == want or time.monotonic() > give_up:
            return got
        time.sleep(0.05)


def test_waiting_gauge():
    req = (b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")
    with hltest.tempdir() as d:
        with hltest.Sink(d, listen=["127.0.0.1:0", "127.0.0.1:0"], record=False,
                         routes=["0:/=delay:1500", "1:/=mode:never"]) as sink:
            held = [socket.create_connection(("127.0.0.1", sink.ports[0])) for _ in range(3)]
            never = [socket.create_connection(("127.0.0.1", sink.ports[1])) for _ in range(2)]
            for s in held + never:
                s.sendall(req)
            hltest.eq(wait_for(sink, "waiting", 5), 5, "held and never-answered requests")
            never[0].close()
            hltest.eq(wait_for(sink, "waiting", 4), 4, "a never-answered one closed by the client")
            for s in held:
                s.settimeout(5)
                hltest.check(s.recv(100).startswith(b"HTTP/1.1 200"), "a held request answered")
            hltest.eq(wait_for(sink, "waiting", 1), 1, "held ones answered")
            for s in held + never[1:]:
                s.close()
            hltest.eq(wait_for(sink, "waiting", 0), 0, "all closed")


def test_bad_stamp_path_is_refused():
    with hltest.tempdir() as d:
        p = __import__("subprocess").run(
            [hltest.bin_path("hookline-sink"), "--listen", "127.0.0.1:0",
             "--stamp-path", "data..x"], capture_output=True, text=True, timeout=10)
        hltest.check(p.returncode != 0, "an empty path part must be refused")
        hltest.check("--stamp-path" in p.stderr, f"the error names the option: {p.stderr}")


def test_hist_geometry():
    # The same buckets as engine/base/hist.c (values checked against it).
    for v, i, high in ((0, 0, 0), (63, 63, 63), (64, 64, 65), (127, 95, 127), (128, 96, 131),
                       (1000, 190, 1007), (4096, 256, 4223), (1000000, 509, 1015807),
                       (123456789, 730, 123731967)):
        hltest.eq(hist.index(v), i, f"index({v})")
        hltest.eq(hist.bucket_high(i), high, f"bucket_high({i})")
    b = {hist.index(v): 1 for v in range(1, 101)}
    p = hist.percentiles(b)
    hltest.eq(p["count"], 64 + 18, "distinct buckets of 1..100")
    before = {"5": 2, "70": 1}
    after = {"5": 3, "70": 1, "80": 4}
    hltest.eq(hist.diff(after, before), {5: 1, 80: 4}, "window difference")
    hltest.eq(hist.percentiles({})["p99"], 0, "empty")


hltest.main(globals())
