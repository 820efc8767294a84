"""hlengine: a running `hookline run` for integration tests (with hltest).

    with hltest.tempdir() as d, hlengine.Engine(d, ca=pki.ca) as eng:
        eng.apply([{"id": "crm", "url": sink.url(0, "/hook"), ...}])
        eng.send("lead.created", {"email": "a@b.c"})
        rows = eng.wait_attempts(1)          # `hookline attempts --json`

Engine(dir, ca=None, workers=2, allow=("127.0.0.0/8",), extra=(), env=None)
                     starts the engine on its own data dir and ring name
                     (removed at the end), waits for "engine ready"
  .hookline(args, check=True, input=None)
                     runs the hookline command with this engine's --data-dir
                     (and --ring for `send`); returns CompletedProcess
  .apply(endpoints)  `hookline endpoint apply` of {"endpoints": endpoints}
  .send(event, data, id=None, endpoint=None)
  .send_jsonl(lines) `hookline send --jsonl -`
  .attempts(*filters) `hookline attempts --json --limit 100000 ...` as dicts
  .wait_attempts(n, *filters, timeout=10)
  .stop(sig=SIGTERM) returns the exit code; .kill() sends SIGKILL
  .start()           starts again on the same data dir and ring
  .log()             everything the engine wrote to stderr so far
"""

import json
import os
import signal
import subprocess
import time

import hltest


class Engine:
    def __init__(self, directory, ca=None, workers=2, allow=("127.0.0.0/8",), extra=(),
                 env=None):
        self.dir = directory
        self.data = os.path.join(directory, "data")
        self.ring = "hltest-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
        self.ca = ca
        self.workers = workers
        self.allow = list(allow)
        self.extra = list(extra)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.logs = []
        self.start()

    def _common(self):
        args = ["--data-dir", self.data]
        for a in self.allow:
            args += ["--allow-network", a]
        if self.ca:
            args += ["--ca-file", self.ca]
        return args

    def start(self):
        self.log_path = os.path.join(self.dir, "engine-%d.log" % len(self.logs))
        self.logs.append(self.log_path)
        self.log_file = open(self.log_path, "w")
        cmd = [hltest.bin_path("hookline"), "run", "--ring", self.ring, "--workers",
               str(self.workers)] + self._common() + self.extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log_file,
                                     env=self.env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if "engine ready" in self._read(self.log_path):
                return
            if self.proc.poll() is not None:
                raise AssertionError("engine exited %d:\n%s" % (self.proc.returncode,
                                                                self._read(self.log_path)))
            time.sleep(0.02)
        raise AssertionError("engine not ready:\n" + self._read(self.log_path))

    @staticmethod
    def _read(path):
        with open(path) as f:
            return f.read()

    def log(self):
        return "".join(self._read(p) for p in self.logs)

    def hookline(self, args, check=True, input=None, timeout=60):
        cmd = [hltest.bin_path("hookline")] + args
        sub = args[0] if args else ""
        if sub == "send":
            cmd += ["--ring", self.ring]
        elif sub in ("endpoint", "test"):
            cmd += self._common()
        elif sub in ("attempts", "status", "replay", "dead-letters", "prune"):
            cmd += ["--data-dir", self.data]
        p = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout,
                           env=self.env)
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout,
                                                        p.stderr))
        return p

    def reloads(self):
        return self.log().count("endpoints loaded")

    def wait_reload(self, before, timeout=10):
        """Waits until the engine has loaded endpoints again (it polls for
        changes every 250 ms); messages sent earlier are routed by the old
        configuration."""
        deadline = time.monotonic() + timeout
        while self.reloads() <= before:
            if time.monotonic() > deadline:
                raise AssertionError("the engine did not reload its endpoints")
            time.sleep(0.02)

    def apply(self, endpoints):
        path = os.path.join(self.dir, "endpoints-%d.json" % time.monotonic_ns())
        with open(path, "w") as f:
            json.dump({"endpoints": endpoints}, f)
        before = self.reloads()
        p = self.hookline(["endpoint", "apply", "-f", path])
        if self.proc is not None and "0 to create, 0 to update" not in p.stdout:
            self.wait_reload(before)
        return p

    def send(self, event, data, id=None, endpoint=None):
        args = ["send", "--event", event, "--data", json.dumps(data)]
        if id:
            args += ["--id", id]
        if endpoint:
            args += ["--endpoint", endpoint]
        return self.hookline(args)

    def send_jsonl(self, lines):
        text = "".join(json.dumps(l) + "\n" for l in lines)
        return self.hookline(["send", "--jsonl", "-"], input=text, timeout=600)

    def attempts(self, *filters):
        p = self.hookline(["attempts", "--json", "--limit", "1000000"] + list(filters))
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def wait_attempts(self, n, *filters, timeout=10):
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            rows = self.attempts(*filters)
            if len(rows) >= n:
                return rows
            time.sleep(0.05)
        raise AssertionError("%d attempts after %ss, wanted %d: %s\n--- engine log:\n%s" % (
            len(rows), timeout, n, rows[:5], self.log()[-4000:]))

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("engine did not stop within %ss" % timeout)
        finally:
            self.log_file.close()
            self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.proc is not None:
            self.stop()
        for name in (self.ring,):
            try:
                os.unlink("/dev/shm/" + name)
            except OSError:
                pass
        return False
