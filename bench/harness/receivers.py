"""The receivers every contender sends to: hookline-sink (bench/sink, the
default) and nginx (a third-party receiver, for the steady scenario).

A receiver listens on loopback ports with the test CA's certificate; each
port can behave normally, hold every response (hold_ms) or never answer
(failing). stats() gives cumulative counts the harness subtracts across a
measured window:
  ok        2xx responses (the deliveries; counted when the receiver
            decides them, before any hold)
  requests  requests received
  inflight  requests received and not yet answered (held)
  sig_invalid, by_status, connections_open, ...
plus the receiver processes' pids, whose CPU the harness reads from /proc.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

from . import procstat

# Ports per hookline-sink process: its --listen limit (HL_SINK_LISTENERS_MAX).
# More ports than that would be spread over several sink processes.
SINK_LISTENERS_MAX = int(os.environ.get("HL_BENCH_SINK_LISTENERS_MAX", "1024"))


def free_ports(n):
    """|n| distinct free loopback ports (bound together, then released)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def wait_port(port, timeout_s, proc=None, what="receiver"):
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout_s} s")


class Layout:
    """What a scenario asks of the receiver: |ports| listening ports, the
    ones in |hold| answering after hold_ms, the ones in |failing| never
    answering; |stamp|: measure received - scheduled from the body's
    data.sched_ns (hookline-sink --stamp-path)."""

    def __init__(self, ports, hold_ms=0, hold=(), failing=(), stamp=False):
        self.ports = ports
        self.hold_ms = hold_ms
        self.hold = set(hold)
        self.failing = set(failing)
        self.stamp = stamp

STAMP_PATH = "data.sched_ns"


class Sink:
    name = "hookline-sink"

    def __init__(self, binary, certs, secret_file, workdir, workers=1, preexec=None):
        self.binary = binary
        self.certs = certs
        self.secret_file = secret_file
        self.workdir = workdir
        self.workers = workers
        self.preexec = preexec
        self.procs = []  # (Popen, stats_file)
        self.ports = []

    def start(self, layout):
        os.makedirs(self.workdir, exist_ok=True)
        indices = list(range(layout.ports))
        chunks = [indices[i:i + SINK_LISTENERS_MAX]
                  for i in range(0, len(indices), SINK_LISTENERS_MAX)]
        # Connections per sink process: its share of the most a scenario
        # holds (15,000 in flight) with room for reconnects.
        max_conns = max(1024, min(16384, 18000 // len(chunks) + 512))
        for n, chunk in enumerate(chunks):
            port_file = os.path.join(self.workdir, f"ports{n}")
            stats_file = os.path.join(self.workdir, f"stats{n}")
            for f in (port_file, stats_file):
                if os.path.exists(f):
                    os.unlink(f)
            args = [self.binary, "--cert", self.certs["cert"], "--key", self.certs["key"],
                    "--port-file", port_file, "--stats", stats_file,
                    "--workers", str(self.workers), "--max-conns", str(max_conns),
                    "--verify", f"hmac-sha256:@{self.secret_file}", "--quiet"]
            if layout.stamp:
                args += ["--stamp-path", STAMP_PATH]
            # Routes are few (HL_SINK_ROUTES_MAX): one for all ports when
            # every port holds, else one per special port.
            hold_all = all(i in layout.hold for i in chunk)
            if hold_all:
                args += ["--route", f"/=delay:{layout.hold_ms}"]
            for local, i in enumerate(chunk):
                args += ["--listen", "127.0.0.1:0,tls"]
                if i in layout.failing:
                    args += ["--route", f"{local}:/=mode:never"]
                elif i in layout.hold and not hold_all:
                    args += ["--route", f"{local}:/=delay:{layout.hold_ms}"]
            log = open(os.path.join(self.workdir, f"sink{n}.log"), "wb")
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                 preexec_fn=self.preexec)
            self.procs.append((p, stats_file))
            give_up = time.monotonic() + 10
            while True:
                if p.poll() is not None:
                    raise RuntimeError(f"hookline-sink exited with {p.returncode}: "
                                       + open(log.name, errors="replace").read()[-2000:])
                try:
                    with open(port_file) as f:
                        got = [int(x) for x in f.read().split()]
                    if len(got) == len(chunk):
                        self.ports += got
                        break
                except (OSError, ValueError):
                    pass
                if time.monotonic() > give_up:
                    raise RuntimeError("hookline-sink wrote no port file within 10 s")
                time.sleep(0.01)
        for port in self.ports[:1]:
            wait_port(port, 5, what="hookline-sink")
        return self.ports

    def pids(self):
        return [p.pid for p, _ in self.procs]

    @staticmethod
    def _last_line(path, after):
        try:
            with open(path, "rb") as f:
                f.seek(after)
                data = f.read()
        except OSError:
            return None, after
        end = data.rfind(b"\n")
        if end < 0:
            return None, after
        start = data.rfind(b"\n", 0, end) + 1
        return data[start:end], after + end + 1

    def stats(self, final=False):
        """Sums the stats lines of every sink process (SIGUSR1 each, then
        read the line it appends)."""
        sizes = []
        for p, f in self.procs:
            sizes.append(os.path.getsize(f) if os.path.exists(f) else 0)
            if p.poll() is None and not final:
                p.send_signal(signal.SIGUSR1)
        total = {"ok": 0, "requests": 0, "responses": 0, "waiting": 0, "sig_valid": 0,
                 "sig_invalid": 0,
                 "connections_open": 0, "connections": 0, "tls_handshakes": 0,
                 "tls_failures": 0, "parse_errors": 0, "by_status": {}}
        stamp = None
        for (p, f), size in zip(self.procs, sizes):
            give_up = time.monotonic() + 5
            line = None
            while line is None and time.monotonic() < give_up:
                line, _ = self._last_line(f, 0 if final else size)
                if line is None:
                    time.sleep(0.002)
            if line is None:
                raise RuntimeError("hookline-sink printed no stats line within 5 s")
            s = json.loads(line)
            for k in ("requests", "responses", "waiting", "sig_valid", "sig_invalid",
                      "connections_open",
                      "connections", "tls_handshakes", "tls_failures", "parse_errors"):
                total[k] += s.get(k, 0)
            for code, n in s.get("by_status", {}).items():
                total["by_status"][code] = total["by_status"].get(code, 0) + n
                if code.startswith("2"):
                    total["ok"] += n
            if "stamp" in s:
                stamp = stamp or {"bad": 0, "buckets": {}}
                stamp["bad"] += s["stamp"]["bad"]
                for k, n in s["stamp"]["buckets"].items():
                    stamp["buckets"][k] = stamp["buckets"].get(k, 0) + n
        if stamp is not None:
            total["stamp"] = stamp
        # Received and not answered yet (held or never answered); the sink
        # counts a response when it decides it, so requests - responses
        # would not show a held one.
        total["inflight"] = total["waiting"]
        return total

    def stop(self):
        final = None
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        try:
            final = self.stats(final=True)
        except (RuntimeError, ValueError):
            final = None
        self.procs, self.ports = [], []
        return final


class Nginx:
    """nginx (one worker, access log off) as a third-party receiver. Counts
    come from stub_status on a plain-HTTP status port; the requests the
    harness makes to it are subtracted. Responses: `return 200` (POST bodies
    are read and discarded); held ports use the echo module's echo_sleep."""
    name = "nginx"

    def __init__(self, certs, workdir, preexec=None):
        self.certs = certs
        self.workdir = workdir
        self.preexec = preexec
        self.proc = None
        self.ports = []
        self.status_port = None
        self.queries = 0

    def start(self, layout):
        d = self.workdir
        os.makedirs(f"{d}/tmp", exist_ok=True)
        ports = free_ports(layout.ports + 1)
        self.status_port, self.ports = ports[0], ports[1:]
        echo = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
        needs_echo = bool(layout.hold or layout.failing)
        if needs_echo and not os.path.exists(echo):
            raise RuntimeError("nginx's echo module (libnginx-mod-http-echo) is needed to hold "
                               "responses")
        servers = []
        for i, port in enumerate(self.ports):
            if i in layout.failing:
                body = "echo_sleep 3600; echo ok;"
            elif i in layout.hold:
                body = f"echo_sleep {layout.hold_ms / 1000:.3f}; echo ok;"
            else:
                body = 'return 200 "ok";'
            servers.append(f"server {{ listen 127.0.0.1:{port} ssl; "
                           f"location / {{ {body} }} }}")
        conf = f"""
{f"load_module {echo};" if needs_echo else ""}
{"user root;" if os.geteuid() == 0 else ""}
daemon off; master_process on; worker_processes 1;
pid {d}/nginx.pid; error_log {d}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 19000; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  client_body_buffer_size 16k;
  keepalive_requests 100000000; keepalive_timeout 600s;
  ssl_certificate {self.certs["cert"]}; ssl_certificate_key {self.certs["key"]};
  ssl_session_cache shared:hlbench:10m;
  server {{ listen 127.0.0.1:{self.status_port}; location / {{ stub_status; }} }}
  {chr(10).join(servers)}
}}
"""
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["nginx", "-p", d + "/", "-c", f"{d}/nginx.conf",
                                      "-e", f"{d}/error.log"], preexec_fn=self.preexec,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.status_port, 10, self.proc, "nginx")
        for port in self.ports[:1]:
            wait_port(port, 10, self.proc, "nginx")
        return self.ports

    def pids(self):
        return procstat.tree_pids(self.proc.pid) if self.proc else []

    def stats(self, final=False):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/",
                                      timeout=5).read().decode()
        self.queries += 1
        m = re.search(r"\s(\d+)\s+(\d+)\s+(\d+)\s", text)
        writing = int(re.search(r"Writing:\s+(\d+)", text).group(1))
        active = int(re.search(r"Active connections:\s+(\d+)", text).group(1))
        requests = int(m.group(3)) - self.queries
        # "Writing" counts connections answering now, this query's included.
        inflight = max(0, writing - 1)
        return {"ok": requests - inflight, "requests": requests,
                "responses": requests - inflight, "inflight": inflight,
                "sig_valid": 0, "sig_invalid": 0, "connections_open": active - 1,
                "connections": int(m.group(1)), "by_status": {}}

    def stop(self):
        final = None
        if self.proc and self.proc.poll() is None:
            try:
                final = self.stats()
            except OSError:
                final = None
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc, self.ports = None, []
        return final
