"""The contenders: each is its own process (or, for hookline, the engine
process plus the application producing into its ring), all sending the same
signed 512 B JSON body to the same receiver.

  hookline  produce (libhookline) -> ring -> hookline run -> receiver: render
            from the endpoint's template, sign (hmac-sha256), send, log the
            attempt; the measured process is `hookline run`
  wrk       wrk -t1 with bench/peers/wrk_post.lua: the same body and a
            precomputed signature on every request (renders, signs nothing)
  curl      bench/peers/curl_multi.c: libcurl multi, HMAC per request
  node      bench/peers/node/sender.js: undici Pool, node:crypto HMAC

A contender turns a Workload into processes: start() returns a Run once it
is set up and idle (so that the harness can read its baseline memory), go()
starts the load, finish() waits for the end and returns what the contender
itself reported (its own counts, latency, errors by class).
"""
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field


ERROR_CLASSES = ("connect", "tls", "timeout", "io", "status", "other")
NODE_MIN = (20, 18, 1)  # undici 7's "engines"


@dataclass
class Group:
    """|conns| concurrent requests sending to |urls| in turn. role names what
    the group is for in a scenario's report ("healthy", "failing")."""
    conns: int
    urls: list
    role: str = "healthy"


@dataclass
class Workload:
    groups: list
    warmup_s: float
    measure_s: float
    rate: float = 0.0          # total requests/s, open loop; 0 = closed loop
    timeout_ms: int = 10000
    per_origin: int = 64       # connections per origin (hookline: max_connections)
    tail_s: float = 0.5        # the contender keeps going past the window
    # Concurrency: senders spread their start over ramp_s (peers: the slots'
    # first requests; hookline: the producer's rate rises linearly); after
    # warmup_s the warm-up goes on until the receiver holds ramp_inflight
    # requests (or ramp_max_s passed), then ramp_settle_s.
    ramp_s: float = 0.0
    ramp_inflight: int = 0
    ramp_max_s: float = 0.0
    ramp_settle_s: float = 0.0
    notes: dict = field(default_factory=dict)

    @property
    def duration_s(self):
        """How long a contender is told to run: the harness stops it earlier,
        at the end of its window."""
        return (self.warmup_s + self.ramp_max_s + self.ramp_settle_s + self.measure_s
                + self.tail_s)

    @property
    def conns(self):
        return sum(g.conns for g in self.groups)


class Context:
    """What every contender needs: binaries, the payload, the test CA, a
    scratch directory, and the child set-up (open-file limit)."""

    def __init__(self, source, build, payload, certs, workdir, preexec, hl_workers=1):
        self.source = source
        self.build = build
        self.payload = payload
        self.certs = certs
        self.workdir = workdir
        self.preexec = preexec
        self.hl_workers = hl_workers
        self.serial = 0

    def scratch(self, name):
        self.serial += 1
        d = os.path.join(self.workdir, f"{name}-{self.serial}")
        os.makedirs(d, exist_ok=True)
        return d


def _error_totals(d):
    """Errors by the harness's classes; unknown names count as "other"."""
    out = {c: 0 for c in ERROR_CLASSES}
    for k, v in (d or {}).items():
        out[k if k in out else "other"] += int(v)
    return out


class Run:
    """A started contender. |pid| is the process whose CPU and memory are
    measured; |side_pids| are helpers reported separately (hookline's
    producer)."""

    def __init__(self, contender, procs, pid, side_pids=()):
        self.contender = contender
        self.procs = procs
        self.pid = pid
        self.side_pids = list(side_pids)

    def go(self):
        pass

    def stop(self):
        """Ends the load at the end of the harness's window."""

    def finish(self, timeout_s):
        raise NotImplementedError

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _read_ready(proc, what, timeout_s=30):
    """Waits for the 'ready' line of a --wait-stdin process."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        if sel.select(timeout=0.1):
            line = proc.stdout.readline()
            if line.strip() == b"ready":
                return
            if not line:
                break
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.kill()
    raise RuntimeError(f"{what} did not get ready: {err[-2000:]}")


def _say(proc, line):
    try:
        proc.stdin.write(line)
        proc.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass


class PeerRun(Run):
    """curl and node: --wait-stdin, one JSON report line on stdout."""

    def go(self):
        _say(self.procs[0], b"go\n")

    def stop(self):
        _say(self.procs[0], b"stop\n")

    def finish(self, timeout_s):
        p = self.procs[0]
        try:
            out, err = p.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise RuntimeError(f"{self.contender} did not finish in time")
        if p.returncode != 0:
            raise RuntimeError(f"{self.contender} exited {p.returncode}: "
                               f"{err.decode(errors='replace')[-2000:]}")
        rep = json.loads(out.decode().strip().splitlines()[-1])
        rep["errors"] = _error_totals(rep.get("errors"))
        return rep


def _peer_args(wl, ctx, files_dir):
    args = []
    for i, g in enumerate(wl.groups):
        if len(g.urls) > 4:
            path = os.path.join(files_dir, f"urls{i}")
            with open(path, "w") as f:
                f.write("\n".join(g.urls) + "\n")
            args += ["--group", f"{g.conns}:@{path}"]
        else:
            args += ["--group", f"{g.conns}:{','.join(g.urls)}"]
    pl = ctx.payload
    args += ["--body-file", pl.body_file, "--secret-file", pl.secret_file,
             "--sig-header", pl.sig_header, "--sig-prefix", pl.sig_prefix,
             "--duration-s", f"{wl.duration_s:.3f}", "--warmup-s", f"{wl.warmup_s:.3f}",
             "--timeout-ms", str(wl.timeout_ms), "--per-origin", str(wl.per_origin),
             "--ca-file", ctx.certs["ca"], "--wait-stdin"]
    if wl.rate > 0:
        args += ["--rate", f"{wl.rate:.1f}"]
    if wl.ramp_s > 0:
        args += ["--ramp-s", f"{wl.ramp_s:.2f}"]
    return args


class Contender:
    name = ""

    def __init__(self, ctx):
        self.ctx = ctx

    def available(self):
        """(True, "") or (False, why not)."""
        return True, ""

    def supports(self, wl):
        """(True, "") or (False, why this workload is not applicable)."""
        return True, ""

    def _start_peer(self, cmd, wl):
        d = self.ctx.scratch(self.name)
        p = subprocess.Popen(cmd + _peer_args(wl, self.ctx, d), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=self.ctx.preexec)
        _read_ready(p, self.name)
        return PeerRun(self.name, [p], p.pid)


class Curl(Contender):
    name = "curl"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.binary = os.path.join(ctx.build, "curl_multi")

    def available(self):
        if not os.access(self.binary, os.X_OK):
            return False, "curl_multi not built (configure with -DHL_BENCH_PEERS=ON and " \
                          "install libcurl4-openssl-dev: scripts/deps.sh --bench)"
        return True, ""

    def start(self, wl):
        return self._start_peer([self.binary], wl)


class Node(Contender):
    name = "node"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.dir = os.path.join(ctx.source, "bench", "peers", "node")

    def available(self):
        if shutil.which("node") is None:
            return False, "node is not installed (scripts/deps.sh --bench)"
        if not os.path.isdir(os.path.join(self.dir, "node_modules", "undici")):
            return False, "undici is not installed (npm ci in bench/peers/node)"
        try:
            v = subprocess.run(["node", "--version"], capture_output=True, text=True,
                               timeout=30).stdout.strip().lstrip("v")
            have = tuple(int(x) for x in v.split(".")[:3])
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return False, "node --version failed"
        if have < NODE_MIN:
            return False, (f"undici 7 needs Node >= {'.'.join(map(str, NODE_MIN))}, this is {v} "
                           "(Debian 12's nodejs is 18: install Node 20 or later)")
        return True, ""

    def start(self, wl):
        return self._start_peer(["node", os.path.join(self.dir, "sender.js")], wl)


class WrkRun(Run):
    def stop(self):
        # wrk stops on SIGINT and still prints its summary.
        if self.procs[0].poll() is None:
            self.procs[0].send_signal(signal.SIGINT)

    def finish(self, timeout_s):
        p = self.procs[0]
        try:
            out, err = p.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise RuntimeError("wrk did not finish in time")
        text = out.decode(errors="replace")
        line = [l for l in text.splitlines() if l.startswith("WRKJSON ")]
        if p.returncode != 0 or not line:
            raise RuntimeError(f"wrk exited {p.returncode}: {text[-1000:]}"
                               f"{err.decode(errors='replace')[-1000:]}")
        rep = json.loads(line[-1][len("WRKJSON "):])
        e = rep.pop("errors")
        rep["errors"] = _error_totals({"connect": e["connect"], "io": e["read"] + e["write"],
                                       "status": e["status"], "timeout": e["timeout"]})
        rep["wrk_output"] = text.strip()
        return rep


class Wrk(Contender):
    name = "wrk"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.script = os.path.join(ctx.source, "bench", "peers", "wrk_post.lua")

    def available(self):
        if shutil.which("wrk") is None:
            return False, "wrk is not installed (scripts/deps.sh --bench)"
        return True, ""

    def supports(self, wl):
        # Where every endpoint behaves the same (concurrency), wrk may put
        # all its connections on the first one.
        if len(wl.groups) != 1 or (len(wl.groups[0].urls) != 1
                                   and not wl.notes.get("wrk_one_url_ok")):
            return False, "wrk sends to one URL only"
        return True, ""

    def start(self, wl):
        g = wl.groups[0]
        env = dict(os.environ)
        if wl.rate > 0:
            # wrk's only pacing: a whole-millisecond pause per connection
            # between requests; rounded, so its rate is near, not at, R.
            env["WRK_DELAY_MS"] = str(max(1, round(g.conns * 1000 / wl.rate)))
        pl = self.ctx.payload
        # wrk takes whole seconds.
        args = ["wrk", "-t1", f"-c{g.conns}", f"-d{math.ceil(wl.duration_s)}s",
                f"--timeout", f"{math.ceil(wl.timeout_ms / 1000)}s", "-s", self.script,
                g.urls[0], "--", pl.body_file, pl.sig_header, pl.sig_prefix + pl.signature]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             preexec_fn=self.ctx.preexec)
        return WrkRun(self.name, [p], p.pid)


class HooklineRun(Run):
    def __init__(self, contender, engine, producer, data_dir, ring, logs):
        super().__init__(contender, [producer, engine], engine.pid, [producer.pid])
        self.engine = engine
        self.producer = producer
        self.data_dir = data_dir
        self.ring = ring
        self.logs = logs

    def go(self):
        _say(self.producer, b"go\n")

    def stop(self):
        _say(self.producer, b"stop\n")

    def finish(self, timeout_s):
        try:
            out, err = self.producer.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.producer.kill()
            out, err = self.producer.communicate()
        rep = {}
        lines = out.decode(errors="replace").strip().splitlines()
        if lines and lines[-1].startswith("{"):
            rep["producer"] = json.loads(lines[-1])
        else:
            rep["producer"] = {"error": err.decode(errors="replace")[-1000:]}
        # Stop the engine: it finishes or spills what is in flight and commits
        # the attempt log.
        if self.engine.poll() is None:
            self.engine.send_signal(signal.SIGTERM)
        try:
            self.engine.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.engine.kill()
            self.engine.wait()
            rep["engine_stop"] = "killed after 30 s"
        rep["engine_exit"] = self.engine.returncode
        rep.update(attempt_log(os.path.join(self.data_dir, "hookline.db")))
        rep["errors"] = _error_totals(rep.pop("error_classes", {}))
        _unlink_ring(self.ring)
        return rep

    def kill(self):
        super().kill()
        _unlink_ring(self.ring)


class EngineNotReady(RuntimeError):
    pass


def _tail(path, n):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:].strip()
    except OSError:
        return ""


def _unlink_ring(ring):
    try:
        os.unlink(f"/dev/shm/{ring}")
    except OSError:
        pass


def attempt_log(db):
    """Counts from the engine's attempt log: deliveries (outcome 1) and
    failed attempts by error class (mapped onto the harness's classes)."""
    out = {"attempts": 0, "delivered": 0, "error_classes": {}}
    if not os.path.exists(db):
        return out
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        for outcome, n in c.execute("SELECT outcome, count(*) FROM attempts GROUP BY outcome"):
            out["attempts"] += n
            if outcome == 1:
                out["delivered"] += n
        for cls, status, n in c.execute(
                "SELECT error_class, status, count(*) FROM attempts WHERE outcome != 1 "
                "GROUP BY error_class, status"):
            out["error_classes"][_map_class(cls or "", status)] = \
                out["error_classes"].get(_map_class(cls or "", status), 0) + n
        c.close()
    except sqlite3.Error as e:
        out["attempt_log_error"] = str(e)
    return out


def _map_class(cls, status):
    if status and not (200 <= status < 300):
        return "status"
    for key, name in (("tls", "tls"), ("cert", "tls"), ("timeout", "timeout"),
                      ("connect", "connect"), ("dns", "connect"), ("refused", "connect"),
                      ("write", "io"), ("read", "io"), ("closed", "io"), ("reset", "io")):
        if key in cls:
            return name
    return "other"


class Hookline(Contender):
    name = "hookline"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.binary = os.path.join(ctx.build, "hookline")
        self.producer = os.path.join(ctx.build, "produce")
        self.pending = None  # a reason, when the engine does not deliver yet

    def available(self):
        for b in (self.binary, self.producer):
            if not os.access(b, os.X_OK):
                return False, f"{os.path.basename(b)} is not built"
        if self.pending:
            return False, self.pending
        return True, ""

    def endpoints(self, wl):
        """One endpoint per URL. Groups of one URL are fan-out endpoints
        (every message goes to each, routed by event); a group of many
        URLs is served round-robin by naming the endpoint in each message."""
        eps, rr = [], []
        pl = self.ctx.payload
        for gi, g in enumerate(wl.groups):
            for ui, url in enumerate(g.urls):
                ep = {"id": f"g{gi}e{ui:05d}", "url": url, "events": ["bench.delivery"],
                      "template": pl.template,
                      "signing": {"scheme": "hmac-sha256", "secret": pl.secret,
                                  "header": pl.sig_header, "prefix": pl.sig_prefix},
                      "timeout_ms": wl.timeout_ms, "retry_schedule_s": [0, 60],
                      "max_connections": min(wl.per_origin, 64)}
                eps.append(ep)
                if len(g.urls) > 1:
                    rr.append(ep["id"])
        return eps, rr

    def start(self, wl, ring_wait_s=15):
        d = self.ctx.scratch("hookline")
        data = os.path.join(d, "data")
        os.makedirs(data, mode=0o700)
        eps, rr = self.endpoints(wl)
        with open(os.path.join(d, "endpoints.json"), "w") as f:
            json.dump({"endpoints": eps}, f)
        common = ["--data-dir", data, "--allow-network", "127.0.0.0/8",
                  "--ca-file", self.ctx.certs["ca"]]
        # The master key is the data directory's own master.key, made by the
        # first command (HOOKLINE_MASTER_KEY, if set, is used instead).
        env = dict(os.environ)
        r = subprocess.run([self.binary, "endpoint", "apply", "-f",
                            os.path.join(d, "endpoints.json")] + common,
                           capture_output=True, env=env, timeout=300)
        if r.returncode != 0:
            raise RuntimeError("hookline endpoint apply failed: "
                               + (r.stderr or r.stdout).decode(errors="replace")[-2000:])
        ring = f"hlbench-{os.getpid()}-{self.ctx.serial}"
        _unlink_ring(ring)
        log = open(os.path.join(d, "engine.log"), "wb")
        engine = subprocess.Popen([self.binary, "run", "--ring", ring, "--workers",
                                   str(self.ctx.hl_workers), "--log-level", "warn"] + common,
                                  stdout=log, stderr=subprocess.STDOUT, env=env,
                                  preexec_fn=self.ctx.preexec)
        give_up = time.monotonic() + ring_wait_s
        while not os.path.exists(f"/dev/shm/{ring}"):
            if engine.poll() is not None or time.monotonic() > give_up:
                engine.kill()
                engine.wait()
                raise EngineNotReady(f"`hookline run` created no ring within {ring_wait_s} s "
                                     f"(log: {_tail(log.name, 300)})")
            time.sleep(0.01)
        args = [self.producer, "--ring", ring, "--duration-s", f"{wl.duration_s:.3f}",
                "--pad", str(self.ctx.payload.pad), "--wait-stdin",
                "--lanes", str(wl.notes.get("producer_lanes", 1))]
        rate = wl.notes.get("hookline_rate", wl.rate)
        if rate > 0:
            args += ["--rate", f"{rate:.1f}"]
        if wl.ramp_s > 0:
            args += ["--ramp-s", f"{wl.ramp_s:.2f}"]
        if rr:
            path = os.path.join(d, "endpoint-ids")
            with open(path, "w") as f:
                f.write("\n".join(rr) + "\n")
            args += ["--endpoint-file", path]
        producer = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, preexec_fn=self.ctx.preexec)
        try:
            _read_ready(producer, "produce")
        except RuntimeError:
            engine.kill()
            engine.wait()
            _unlink_ring(ring)
            raise
        return HooklineRun(self.name, engine, producer, data, ring, log.name)


def make_all(ctx):
    return {"hookline": Hookline(ctx), "wrk": Wrk(ctx), "curl": Curl(ctx), "node": Node(ctx)}
