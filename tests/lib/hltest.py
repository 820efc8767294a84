"""hltest: helpers for hookline's Python script tests (tests/*_test.py).

A test imports it with

    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
    import hltest

and ends with `hltest.main(globals())`, which runs every function named
test_* in file order and exits 0 (all passed), 1 (a failure) or 77 (all
skipped: raise hltest.Skip("why")). Everything is loopback, in temporary
directories, started and stopped by the test.

Paths
  bin_path(name)      a built binary: $HL_BIN_DIR/name (ctest sets it), else
                      build/release/name in the checkout
  source_dir()        the checkout ($HL_SOURCE_DIR, else found from this file)
  tempdir()           context manager: a fresh directory, removed afterwards
                      unless HL_TEST_KEEP is set

Certificates (made with the `openssl` command, a separate process)
  Pki(dir)            a test CA in |dir|; .ca is its certificate (give it to
                      curl --cacert or hookline --ca-file)
  pki.leaf(name, sans=("DNS:localhost", "IP:127.0.0.1"), expired=False)
                      -> (cert_path, key_path), signed by the CA
  pki.untrusted_leaf(name, sans=...)
                      -> (cert_path, key_path) from another CA nobody trusts

The receiver
  Sink(dir, listen=["127.0.0.1:0", "127.0.0.1:0,tls"], routes=[...],
       cert=..., key=..., verify=["standard:whsec_..."], record=True,
       workers=1, extra=[...])
                      context manager running bench/sink's hookline-sink on
                      ephemeral ports (it waits for the port file)
    .ports            bound ports, in --listen order
    .url(i, path="/") "http://127.0.0.1:PORT/path" (https for tls listeners;
                      host= picks another name, e.g. "localhost")
    .records()        the --record JSON lines so far, parsed
    .wait_records(n)  waits (default 5 s) until n records exist; returns them
    .stats()          sends SIGUSR1 and returns the new stats line (a dict)
    .stop()           SIGTERM; returns the final stats line; asserts exit 0
                      (called by the context manager if the test did not)

Clients and signatures
  curl(args, timeout=10)          runs curl -sS; CompletedProcess with str output
                                  (CR LF kept as sent)
  raw_http(port, data, timeout)   sends raw bytes, returns all bytes read until
                                  the server closes or the timeout
  sign_standard(secret, msg_id, ts, body) -> dict of Standard Webhooks headers
  sign_hmac_sha256(secret, body, prefix="sha256=") -> the header value

Assertions
  check(cond, what)   raises AssertionError(what) when cond is false
  eq(a, b, what)      same, printing both values
"""

import contextlib
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback


class Skip(Exception):
    """Raised by a test to skip itself."""


def source_dir():
    env = os.environ.get("HL_SOURCE_DIR")
    if env:
        return env
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bin_path(name):
    env = os.environ.get("HL_BIN_DIR")
    base = env if env else os.path.join(source_dir(), "build", "release")
    path = os.path.join(base, name)
    if not os.path.exists(path):
        raise Skip(f"{path} is not built")
    return path


@contextlib.contextmanager
def tempdir(prefix="hltest-"):
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield d
    finally:
        if not os.environ.get("HL_TEST_KEEP"):
            shutil.rmtree(d, ignore_errors=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: {a!r} != {b!r}")


# --- certificates -------------------------------------------------------------


def _openssl(*args, cwd=None):
    if shutil.which("openssl") is None:
        raise Skip("the openssl command is not installed")
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {p.stderr.strip()}")


class Pki:
    """A throw-away certificate authority in |directory|."""

    def __init__(self, directory, name="hltest-ca"):
        self.dir = directory
        self.ca, self.ca_key = self._ca(name)
        self._other = None

    def _ca(self, name):
        cert = os.path.join(self.dir, f"{name}.pem")
        key = os.path.join(self.dir, f"{name}.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cert, key

    def _sign(self, name, sans, ca, ca_key, expired):
        key = os.path.join(self.dir, f"{name}.key")
        csr = os.path.join(self.dir, f"{name}.csr")
        cert = os.path.join(self.dir, f"{name}.pem")
        ext = os.path.join(self.dir, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    f"subjectAltName={','.join(sans)}\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        # -days -1: notAfter a day before notBefore (now), i.e. expired.
        _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                 "-out", cert, "-days", "-1" if expired else "2", "-extfile", ext)
        return cert, key

    def leaf(self, name, sans=("DNS:localhost", "IP:127.0.0.1"), expired=False):
        return self._sign(name, sans, self.ca, self.ca_key, expired)

    def untrusted_leaf(self, name, sans=("DNS:localhost", "IP:127.0.0.1")):
        if self._other is None:
            self._other = self._ca("hltest-untrusted-ca")
        return self._sign(name, sans, self._other[0], self._other[1], False)


# --- the sink -------------------------------------------------------------------------


class Sink:
    """hookline-sink on ephemeral loopback ports (see the module comment)."""

    def __init__(self, directory, listen=("127.0.0.1:0",), routes=(), cert=None, key=None,
                 verify=(), record=True, workers=1, extra=(), start_timeout=10):
        self.dir = directory
        self.listen = list(listen)
        tag = f"sink{int(time.monotonic() * 1e6) % 10**9}"
        self.port_file = os.path.join(directory, f"{tag}.ports")
        self.stats_file = os.path.join(directory, f"{tag}.stats")
        self.record_file = os.path.join(directory, f"{tag}.records") if record else None
        self.log_file = os.path.join(directory, f"{tag}.log")
        args = [bin_path("hookline-sink"), "--quiet", "--port-file", self.port_file,
                "--stats", self.stats_file, "--workers", str(workers)]
        for spec in self.listen:
            args += ["--listen", spec]
        for r in routes:
            args += ["--route", r]
        for v in verify:
            args += ["--verify", v]
        if cert:
            args += ["--cert", cert, "--key", key]
        if self.record_file:
            args += ["--record", self.record_file]
        args += list(extra)
        self.args = args
        self._log = open(self.log_file, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self._log)
        self.final = None
        deadline = time.monotonic() + start_timeout
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                self._log.close()
                raise RuntimeError(f"hookline-sink exited {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("hookline-sink did not write its port file")
            time.sleep(0.01)
        with open(self.port_file) as f:
            self.ports = [int(line) for line in f.read().split()]

    def log(self):
        with open(self.log_file) as f:
            return f.read()

    def url(self, i, path="/", host="127.0.0.1"):
        scheme = "https" if ",tls" in self.listen[i] else "http"
        return f"{scheme}://{host}:{self.ports[i]}{path}"

    def records(self):
        if not self.record_file or not os.path.exists(self.record_file):
            return []
        with open(self.record_file) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def wait_records(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            recs = self.records()
            if len(recs) >= n or time.monotonic() > deadline:
                return recs
            time.sleep(0.01)

    def _stats_lines(self):
        if not os.path.exists(self.stats_file):
            return []
        with open(self.stats_file) as f:
            return [line for line in f if line.endswith("\n")]

    def stats(self, timeout=5):
        before = len(self._stats_lines())
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self._stats_lines()
            if len(lines) > before:
                return json.loads(lines[-1])
            time.sleep(0.01)
        raise RuntimeError("hookline-sink printed no stats after SIGUSR1")

    def stop(self, timeout=10):
        if self.final is not None:
            return self.final
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("hookline-sink did not stop on SIGTERM")
        self._log.close()
        eq(rc, 0, f"hookline-sink exit code (log: {self.log()})")
        lines = self._stats_lines()
        self.final = json.loads(lines[-1]) if lines else {}
        return self.final

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.final is None:
            if exc_type is None:
                self.stop()
            else:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
        return False


# --- clients ---------------------------------------------------------------------------


def curl(args, timeout=10):
    if shutil.which("curl") is None:
        raise Skip("curl is not installed")
    p = subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=timeout)
    # Decoded by hand: text mode would turn the protocol's CR LF into LF.
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    return p


def raw_http(port, data, timeout=2.0, host="127.0.0.1"):
    """Sends |data| and reads until the server closes (or |timeout|)."""
    out = b""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out


def sign_standard(secret, msg_id, ts, body):
    """Standard Webhooks headers for |body| (bytes) with a whsec_ |secret|."""
    key = base64.b64decode(secret[len("whsec_"):])
    content = f"{msg_id}.{ts}.".encode() + body
    sig = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": f"v1,{sig}"}


def sign_hmac_sha256(secret, body, prefix="sha256="):
    return prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- the runner ---------------------------------------------------------------------------


def main(namespace):
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith("test_") and callable(fn)]
    only = sys.argv[1] if len(sys.argv) > 1 else None
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and only not in name:
            continue
        print(f"[ RUN  ] {name}", flush=True)
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print(f"[ SKIP ] {name}: {e}", flush=True)
            continue
        except Exception:  # a failed test, whatever raised
            failed += 1
            traceback.print_exc()
            print(f"[ FAIL ] {name}", flush=True)
            continue
        passed += 1
        print(f"[  OK  ] {name} ({time.monotonic() - t0:.2f}s)", flush=True)
    print(f"{passed + failed + skipped} tests: {passed} passed, {failed} failed, {skipped} skipped")
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(77)
    sys.exit(0)
