#!/usr/bin/env python3
"""Side-by-side: bench/load (hookline's HTTP client) against wrk -t1, both
keep-alive with N connections, against the same nginx (HTTP and HTTPS),
alternating A B A B ... and reporting medians and the median of the
pairwise ratios (docs: BENCHMARKS.md). Also the RSS per idle pooled TLS
connection (load --idle).

    python3 bench/load_vs_wrk.py BUILD_DIR [--pairs 3] [--conns 50]
                                 [--seconds 5] [--idle 2000] [--sink]

Starts its own nginx (one worker, access log off, `return 200`) on free
loopback ports in a temp dir, with a certificate from a throw-away CA made
with the openssl command; stops it at the end. wrk's CPU is its user+sys
time (getrusage of the child) over its whole run; load prints its own
over the measured window. --sink also runs the pairs against
BUILD_DIR/hookline-sink (one worker, HTTP and HTTPS).
"""
import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_certs(d):
    def run(*a):
        subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
        "-days", "2", "-subj", "/CN=hookline bench CA")
    run("openssl", "req", *ec, "-keyout", f"{d}/srv.key", "-out", f"{d}/srv.csr",
        "-subj", "/CN=localhost")
    with open(f"{d}/ext.cnf", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", f"{d}/srv.csr", "-CA", f"{d}/ca.pem", "-CAkey",
        f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/srv.pem", "-days", "2", "-extfile",
        f"{d}/ext.cnf")


def start_nginx(d, http_port, https_port):
    conf = f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off; master_process on; worker_processes 1;
pid {d}/nginx.pid; error_log {d}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 10000; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  keepalive_requests 1000000; keepalive_timeout 300s;
  server {{ listen 127.0.0.1:{http_port}; location / {{ return 200 "ok"; }} }}
  server {{ listen 127.0.0.1:{https_port} ssl; ssl_certificate {d}/srv.pem;
           ssl_certificate_key {d}/srv.key; location / {{ return 200 "ok"; }} }}
}}
"""
    os.makedirs(f"{d}/tmp", exist_ok=True)
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(conf)
    p = subprocess.Popen(["nginx", "-p", d + "/", "-c", f"{d}/nginx.conf", "-e",
                          f"{d}/error.log"])
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=0.1).close()
            socket.create_connection(("127.0.0.1", http_port), timeout=0.1).close()
            return p
        except OSError:
            time.sleep(0.01)
    p.kill()
    sys.exit("nginx did not start: " + open(f"{d}/error.log").read())


def start_sink(build, d):
    pf = f"{d}/sink-ports"
    p = subprocess.Popen([f"{build}/hookline-sink", "--quiet", "--listen", "127.0.0.1:0",
                          "--listen", "127.0.0.1:0,tls", "--cert", f"{d}/srv.pem", "--key",
                          f"{d}/srv.key", "--port-file", pf], stdout=subprocess.DEVNULL)
    for _ in range(500):
        try:
            ports = [int(x) for x in open(pf).read().split()]
            if len(ports) == 2:
                return p, ports
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    p.kill()
    sys.exit("hookline-sink did not start")


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_load(build, url, conns, seconds, ca):
    r = subprocess.run([f"{build}/load", url, "--conns", str(conns), "--seconds", str(seconds),
                        "--ca", ca], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"load failed ({r.returncode}): {r.stderr[-2000:]}")
    out = r.stdout
    m = re.search(r"requests (\d+) rps (\d+) cpu_us_per_req ([\d.]+)", out)
    return float(m.group(2)), float(m.group(3)), out.strip()


def run_wrk(url, conns, seconds):
    c0 = child_cpu()
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", url], check=True,
                         capture_output=True, text=True).stdout
    cpu = child_cpu() - c0
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return rps, cpu * 1e6 / max(n, 1), (errs.group(0) if errs else "no errors")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--sink", action="store_true")
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    d = tempfile.mkdtemp(prefix="hl-load-")
    make_certs(d)
    hp, sp = free_port(), free_port()
    ng = start_nginx(d, hp, sp)
    targets = [("nginx", "http", hp), ("nginx", "https", sp)]
    sink = None
    if a.sink:
        sink, (shp, ssp) = start_sink(a.build, d)
        targets += [("sink", "http", shp), ("sink", "https", ssp)]
    try:
        for server, scheme, port in targets:
            url = f"{scheme}://127.0.0.1:{port}/"
            rows = []
            for i in range(a.pairs):
                l_rps, l_cpu, l_out = run_load(a.build, url, a.conns, a.seconds, f"{d}/ca.pem")
                w_rps, w_cpu, w_err = run_wrk(url, a.conns, a.seconds)
                rows.append((l_rps, l_cpu, w_rps, w_cpu))
                print(f"{server} {scheme} pair {i + 1}: load {l_rps:.0f} req/s {l_cpu:.2f} us/req | "
                      f"wrk {w_rps:.0f} req/s {w_cpu:.2f} us/req ({w_err})\n    load: {l_out}")
            med = lambda k: statistics.median(r[k] for r in rows)
            print(f"{server} {scheme} medians: load {med(0):.0f} req/s {med(1):.2f} us/req; "
                  f"wrk {med(2):.0f} req/s {med(3):.2f} us/req; "
                  f"rps ratio load/wrk {statistics.median(r[0] / r[2] for r in rows):.2f}; "
                  f"cpu ratio wrk/load {statistics.median(r[3] / r[1] for r in rows):.2f}")
        if a.idle > 0:
            out = subprocess.run([f"{a.build}/load", f"https://127.0.0.1:{sp}/", "--idle",
                                  str(a.idle), "--warm", f"http://127.0.0.1:{hp}/", "--ca",
                                  f"{d}/ca.pem"], check=True,
                                 capture_output=True, text=True).stdout
            print("idle TLS:", out.strip())
    finally:
        for p in (ng, sink):
            if p is not None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
