"""bench/run in its smoke mode (bench/harness): one short round of the
steady scenario for every contender that is available here, against
hookline-sink, so that the harness does not rot. It checks the structure of
results.json, that every contender that ran has receiver-counted
deliveries, that a contender that did not run says why (hookline is
"pending" until `hookline run` delivers), and that the table and the SVG
plot were written. No timing is asserted: the figures of a shared machine
mean nothing in a test.

Skipped (77) when hookline-sink is not built or no contender can run (wrk
not installed, curl_multi not built: configure with -DHL_BENCH_PEERS=ON,
node or bench/peers/node/node_modules missing, hookline pending)."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import hltest  # noqa: E402

FIGURES = ("deliveries", "deliveries_per_s", "window_s", "cpu_s", "cpu_us_per_delivery",
           "sink_cpu_us_per_delivery", "rss_peak_kib", "errors", "latency_us",
           "latency_source", "workload")
ERROR_CLASSES = ("connect", "tls", "timeout", "io", "status", "other", "bad_signature")


def run_smoke(results):
    src = hltest.source_dir()
    build = os.path.dirname(hltest.bin_path("hookline"))
    if not os.access(hltest.bin_path("hookline-sink"), os.X_OK):
        raise hltest.Skip("hookline-sink is not built")
    p = subprocess.run([sys.executable, os.path.join(src, "bench", "run"), "--smoke",
                        "--no-setup", "--build-dir", build, "--results-dir", results,
                        "--receiver", "sink"], capture_output=True, text=True, timeout=600)
    hltest.check(p.returncode == 0, f"bench/run exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    with open(os.path.join(results, "results.json")) as f:
        return json.load(f), p.stdout


def test_smoke():
    with hltest.tempdir() as d:
        results = os.path.join(d, "results")
        out, stdout = run_smoke(results)
        for key in ("schema", "mode", "machine", "contenders", "pending", "runs", "summary",
                    "cases", "receiver", "command"):
            hltest.check(key in out, f"results.json lacks '{key}'")
        hltest.eq(out["mode"], "smoke", "mode")
        hltest.eq(out["receiver"], "sink", "receiver")
        for key in ("nproc", "cpu_model", "kernel"):
            hltest.check(key in out["machine"], f"machine lacks '{key}'")
        ran = [n for n, c in out["contenders"].items() if c["available"]]
        for n, c in out["contenders"].items():
            if not c["available"]:
                hltest.check(c["reason"] and out["pending"].get(n) == c["reason"],
                             f"{n} did not run and says no reason: {c}")
        if not ran:
            raise hltest.Skip("no contender available: " + json.dumps(out["pending"]))
        runs = [r for r in out["runs"] if r["case"] == "steady"]
        hltest.eq(sorted(r["contender"] for r in runs), sorted(ran), "one steady run each")
        for r in runs:
            hltest.check("failed" not in r, f"{r['contender']} failed: {r.get('failed')}")
            for f in FIGURES:
                hltest.check(f in r, f"{r['contender']}'s run lacks '{f}'")
            # Counted by the receiver, not by the sender.
            hltest.check(r["deliveries"] > 0, f"{r['contender']}: no deliveries at the sink")
            hltest.check(r["receiver_sig_valid"] > 0,
                         f"{r['contender']}: no request with a valid signature")
            hltest.eq(r["errors"]["bad_signature"], 0, f"{r['contender']}: bad signatures")
            for c in ERROR_CLASSES:
                hltest.check(c in r["errors"], f"{r['contender']}: no error class '{c}'")
            hltest.check(r["cpu_s"] >= 0 and r["rss_peak_kib"] > 0,
                         f"{r['contender']}: CPU or RSS not read")
        s = out["summary"]["steady"]["contenders"]
        for n in ran:
            hltest.check(s[n]["deliveries_per_s"] > 0, f"summary: {n} has no deliveries/s")
        if "hookline" in ran:
            ratios = out["summary"]["steady"]["ratio_hookline_over_peer"]
            hltest.eq(sorted(ratios), sorted(n for n in ran if n != "hookline"), "ratios")
        with open(os.path.join(results, "table.txt")) as f:
            table = f.read()
        for n in ran:
            hltest.check(f"\n{n} " in table, f"table lacks a row for {n}")
        root = ET.parse(os.path.join(results, "plot.svg")).getroot()
        hltest.check(root.tag.endswith("svg"), "plot.svg is not an SVG document")
        hltest.check(len(root.findall(".//{http://www.w3.org/2000/svg}rect")) > len(ran),
                     "plot.svg has no bars")


def test_rejects_unknown_names():
    src = hltest.source_dir()
    with hltest.tempdir() as d:
        results = os.path.join(d, "never-written")
        for args in (["--scenarios", "nope"], ["--contenders", "hookline,nope"]):
            p = subprocess.run([sys.executable, os.path.join(src, "bench", "run"), "--no-setup",
                                "--build-dir", os.path.dirname(hltest.bin_path("hookline")),
                                "--results-dir", results, *args],
                               capture_output=True, text=True, timeout=60)
            hltest.check(p.returncode != 0 and "nope" in p.stderr,
                         f"{args}: exit {p.returncode}, stderr {p.stderr}")
            hltest.check(not os.path.exists(results), f"{args}: results written anyway")


hltest.main(globals())
