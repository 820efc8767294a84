"""The receiver's guide's verifiers (docs/receivers/*), run as their command
lines against requests signed by hookline's signer (`hookline sign`), for
every scheme: valid requests, rotation (several signatures, several
secrets), ed25519 (v1a), a tampered body, a wrong secret, stale and future
timestamps, missing and malformed headers, custom header names; each
verdict must agree with `hookline verify`. Python and Node always run; Go
and Ruby run where `go` / `ruby` are installed (skipped, and said, where
not). Also checks that docs/receiving.md mirrors the Python verifier.

Reusable: `python3 receivers_test.py --check SCHEME SECRET_FILE... -- HEADERS_JSON
BODY_FILE` runs every available verifier on one captured request (for the
engine's end-to-end tests) and exits non-zero unless all say valid."""
import atexit
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("HL_BIN_DIR", "")
SRC = os.environ.get("HL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
HL = os.path.join(BIN, "hookline")
R = os.path.join(SRC, "docs", "receivers")
failures = []
skipped = []


def check(cond, what):
    if not cond:
        failures.append(what)


def verifiers():
    v = {
        "python": [sys.executable, os.path.join(R, "python", "hookline_verify.py")],
        "node": ["node", os.path.join(R, "node", "hookline-verify.js")],
    }
    if shutil.which("node") is None:
        failures.append("node is not installed (the guide's Node verifier must be tested)")
        del v["node"]
    if shutil.which("go"):
        # Built once (`go run` would compile and link at every call).
        d = tempfile.mkdtemp(prefix="hl-go-verify-")
        atexit.register(shutil.rmtree, d, True)
        out = os.path.join(d, "verify")
        subprocess.run(["go", "build", "-o", out, os.path.join(R, "go", "verify.go")],
                       check=True, env=dict(os.environ, CGO_ENABLED="0",
                                            GOCACHE=os.environ.get("GOCACHE") or
                                            os.path.join(os.environ.get("HOME") or d,
                                                         ".cache", "go-build")))
        v["go"] = [out]
    else:
        skipped.append("go (not installed)")
    if shutil.which("ruby"):
        v["ruby"] = ["ruby", os.path.join(R, "ruby", "hookline_verify.rb")]
    else:
        skipped.append("ruby (not installed)")
    return v


def run_verifier(cmd, scheme, secret_files, headers, body_file, extra=()):
    args = list(cmd) + ["--scheme", scheme]
    for f in secret_files:
        args += ["--secret-file", f]
    for name, value in headers:
        args += ["--header", f"{name}: {value}"]
    args += ["--body-file", body_file] + list(extra)
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stderr


def hookline_verify(scheme, secret_files, headers, body_file, extra=()):
    return run_verifier([HL, "verify"], scheme, secret_files, headers, body_file, extra)


def sign(scheme, secret_files, body_file, extra=()):
    args = [HL, "sign", "--scheme", scheme, "--body-file", body_file] + list(extra)
    for f in secret_files:
        args += ["--secret-file", f]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit(f"hookline sign failed: {p.stderr}")
    return [tuple(x.strip() for x in l.split(":", 1)) for l in p.stdout.splitlines() if l]


def expect(vs, case, scheme, secrets, headers, body_file, want, kind=None, extra=()):
    """Every verifier, and hookline verify, must give |want| (0 or 1), with
    |kind| in the reason when it is 1."""
    rc, err = hookline_verify(scheme, secrets, headers, body_file, extra)
    check(rc == want, f"{case}: hookline verify exit {rc}, wanted {want}: {err}")
    for lang, cmd in vs.items():
        rc, err = run_verifier(cmd, scheme, secrets, headers, body_file, extra)
        check(rc == want, f"{case}: {lang} exit {rc}, wanted {want}: {err}")
        if want == 1 and kind is not None:
            check(kind in err, f"{case}: {lang} reason {err!r} lacks {kind!r}")


def write(path, data, mode="w"):
    with open(path, mode) as f:
        f.write(data)
    return path


def ed25519_pair():
    """A whsk_/whpk_ pair made by Node's crypto (an independent ed25519)."""
    js = ("const c=require('crypto');const {privateKey,publicKey}=c.generateKeyPairSync('ed25519');"
          "const d=Buffer.from(privateKey.export({format:'jwk'}).d,'base64url');"
          "const x=Buffer.from(publicKey.export({format:'jwk'}).x,'base64url');"
          "console.log('whsk_'+Buffer.concat([d,x]).toString('base64'));"
          "console.log('whpk_'+x.toString('base64'));")
    out = subprocess.run(["node", "-e", js], capture_output=True, text=True, check=True).stdout
    sk, pk = out.split()
    return sk, pk


def check_mirror():
    """docs/receiving.md holds the Python verifier's core verbatim."""
    with open(os.path.join(R, "python", "hookline_verify.py")) as f:
        src = f.read()
    core = src.split("# --- begin verify ---\n", 1)[1].split("# --- end verify ---", 1)[0]
    with open(os.path.join(SRC, "docs", "receiving.md")) as f:
        doc = f.read()
    block = doc.split("<!-- mirror: receivers/python/hookline_verify.py", 1)[1]
    block = block.split("```python\n", 1)[1].split("```", 1)[0]
    check(block == core, "docs/receiving.md no longer mirrors the Python verifier's core: "
          "copy the region between the begin/end markers")
    for lang, path in [("node", "node/hookline-verify.js"), ("go", "go/verify.go"),
                       ("ruby", "ruby/hookline_verify.rb")]:
        with open(os.path.join(R, path)) as f:
            text = f.read()
        check("--- begin verify ---" in text and "--- end verify ---" in text, f"{path} markers")
        check(f"receivers/{path}" in doc, f"docs/receiving.md links {path}")


def main():
    check_mirror()
    vs = verifiers()
    with tempfile.TemporaryDirectory() as tmp:
        body = b'{"type":"lead.created","timestamp":"2026-11-22T08:00:00.000Z",' \
               b'"data":{"email":"j\\u00f6rg@example.com","name":"J\xc3\xb6rg","n":1.50}}\n'
        body_file = write(os.path.join(tmp, "body"), body, "wb")
        tampered = write(os.path.join(tmp, "tampered"), body.replace(b"1.50", b"1.5"), "wb")
        empty = write(os.path.join(tmp, "empty"), b"", "wb")
        whsec = write(os.path.join(tmp, "whsec"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
        whsec_old = write(os.path.join(tmp, "whsec_old"),
                          "whsec_" + base64.b64encode(b"an older secret, 30 bytes long").decode())
        raw = write(os.path.join(tmp, "raw"), "0f1e2d3c4b5a69788796a5b4c3d2e1f0-raw-secret\n")
        raw_old = write(os.path.join(tmp, "raw_old"), "whsec_stripe_style_secret_text_1234")
        wrong = write(os.path.join(tmp, "wrong"), "whsec_" + base64.b64encode(b"x" * 24).decode())
        wrong_raw = write(os.path.join(tmp, "wrong_raw"), "not-the-secret-at-all-0000")

        # standard: valid, rotation both ways, tampered, wrong, stale, future
        h = sign("standard", [whsec], body_file, ["--id", "msg_01JD3Q7W3X"])
        expect(vs, "standard", "standard", [whsec], h, body_file, 0)
        expect(vs, "standard tampered", "standard", [whsec], h, tampered, 1, "mismatch")
        expect(vs, "standard wrong secret", "standard", [wrong], h, body_file, 1, "mismatch")
        expect(vs, "standard secrets list", "standard", [wrong, whsec], h, body_file, 0)
        h2 = sign("standard", [whsec, whsec_old], body_file)
        check(h2[2][1].count("v1,") == 2, str(h2))
        expect(vs, "standard rotation (old secret)", "standard", [whsec_old], h2, body_file, 0)
        expect(vs, "standard rotation (new secret)", "standard", [whsec], h2, body_file, 0)
        old_ts = str(int(time.time()) - 3600)
        hs = sign("standard", [whsec], body_file, ["--timestamp", old_ts])
        expect(vs, "standard stale", "standard", [whsec], hs, body_file, 1, "stale")
        expect(vs, "standard stale, tolerance 0", "standard", [whsec], hs, body_file, 0,
               extra=["--tolerance", "0"])
        expect(vs, "standard stale, wide tolerance", "standard", [whsec], hs, body_file, 0,
               extra=["--tolerance", "7200"])
        hf = sign("standard", [whsec], body_file, ["--timestamp", str(int(time.time()) + 3600)])
        expect(vs, "standard future", "standard", [whsec], hf, body_file, 1, "stale")
        expect(vs, "standard missing signature", "standard", [whsec], h[:2], body_file, 1,
               "missing_header" if False else "missing")
        expect(vs, "standard bad timestamp", "standard", [whsec],
               [h[0], ("webhook-timestamp", "17e8"), h[2]], body_file, 1, "malformed")
        upper = [(n.upper(), v) for n, v in h]
        expect(vs, "standard header case", "standard", [whsec], upper, body_file, 0)
        expect(vs, "standard unknown version ignored", "standard", [whsec],
               h[:2] + [("webhook-signature", "v9,AAAA " + h[2][1])], body_file, 0)
        he = sign("standard", [whsec], empty)
        expect(vs, "standard empty body", "standard", [whsec], he, empty, 0)
        hc = sign("standard", [whsec], body_file,
                  ["--id-header", "X-Msg-Id", "--timestamp-header", "X-Msg-Time",
                   "--signature-header", "X-Msg-Sig"])
        check([n for n, _ in hc] == ["X-Msg-Id", "X-Msg-Time", "X-Msg-Sig"], str(hc))
        expect(vs, "standard custom names", "standard", [whsec], hc, body_file, 0,
               extra=["--id-header", "x-msg-id", "--timestamp-header", "x-msg-time",
                      "--signature-header", "x-msg-sig"])

        # standard v1a (ed25519): hookline signs with whsk_, receivers hold whpk_
        sk, pk = ed25519_pair()
        whsk = write(os.path.join(tmp, "whsk"), sk)
        whpk = write(os.path.join(tmp, "whpk"), pk)
        ha = sign("standard", [whsk, whsec], body_file)
        check(ha[2][1].startswith("v1a,") and " v1," in ha[2][1], str(ha))
        v1a = dict(vs)
        try:
            import cryptography  # noqa: F401 (the Python verifier's v1a needs it)
        except ImportError:
            v1a.pop("python")
            skipped.append("python v1a (the cryptography package is not installed)")
        expect(v1a, "v1a", "standard", [whpk], ha, body_file, 0)
        expect(v1a, "v1a tampered", "standard", [whpk], ha, tampered, 1, "mismatch")
        _, other_pk = ed25519_pair()
        expect(v1a, "v1a other key", "standard", [write(os.path.join(tmp, "pk2"), other_pk)], ha,
               body_file, 1, "mismatch")

        # hmac-sha256: default header, GitHub-style header, no prefix
        h = sign("hmac-sha256", [raw], body_file)
        check(h[0][0] == "X-Webhook-Signature" and h[0][1].startswith("sha256="), str(h))
        expect(vs, "hmac-sha256", "hmac-sha256", [raw], h, body_file, 0)
        expect(vs, "hmac-sha256 tampered", "hmac-sha256", [raw], h, tampered, 1, "mismatch")
        expect(vs, "hmac-sha256 wrong", "hmac-sha256", [wrong_raw], h, body_file, 1, "mismatch")
        expect(vs, "hmac-sha256 rotation: receiver holds both", "hmac-sha256",
               [raw_old, raw], h, body_file, 0)
        expect(vs, "hmac-sha256 missing", "hmac-sha256", [raw], [("X-Other", "x")], body_file,
               1, "missing")
        expect(vs, "hmac-sha256 malformed", "hmac-sha256", [raw],
               [("X-Webhook-Signature", "sha1=abcd")], body_file, 1, "malformed")
        h = sign("hmac-sha256", [raw], body_file, ["--signature-header", "X-Hub-Signature-256"])
        expect(vs, "hmac-sha256 github", "hmac-sha256", [raw], h, body_file, 0,
               extra=["--signature-header", "x-hub-signature-256"])
        h = sign("hmac-sha256", [raw], body_file,
                 ["--signature-header", "X-Wilow-Signature", "--prefix", ""])
        check(len(h[0][1]) == 64, str(h))
        expect(vs, "hmac-sha256 no prefix", "hmac-sha256", [raw], h, body_file, 0,
               extra=["--signature-header", "X-Wilow-Signature", "--prefix", ""])

        # stripe: valid, rotation, tampered, stale
        h = sign("stripe", [raw, raw_old], body_file)
        check(h[0][1].startswith("t=") and h[0][1].count(",v1=") == 2, str(h))
        expect(vs, "stripe", "stripe", [raw], h, body_file, 0)
        expect(vs, "stripe rotation (old)", "stripe", [raw_old], h, body_file, 0)
        expect(vs, "stripe tampered", "stripe", [raw], h, tampered, 1, "mismatch")
        expect(vs, "stripe wrong", "stripe", [wrong_raw], h, body_file, 1, "mismatch")
        hs = sign("stripe", [raw], body_file, ["--timestamp", old_ts])
        expect(vs, "stripe stale", "stripe", [raw], hs, body_file, 1, "stale")
        expect(vs, "stripe stale, tolerance 0", "stripe", [raw], hs, body_file, 0,
               extra=["--tolerance", "0"])
        expect(vs, "stripe no t", "stripe", [raw], [("Stripe-Signature", "v1=" + "0" * 64)],
               body_file, 1, "malformed")

        # static: the secret itself (hookline sign refuses to print it)
        secret = open(raw).read().strip()
        expect(vs, "static", "static", [raw], [("X-Secret-Key", secret)], body_file, 0)
        expect(vs, "static wrong", "static", [raw], [("X-Secret-Key", secret + "x")], body_file,
               1, "mismatch")
        expect(vs, "static custom header", "static", [raw], [("X-Api-Secret", secret)], body_file,
               0, extra=["--signature-header", "X-Api-Secret"])

        # headers from a JSON file, as a test of a captured request would pass them
        h = sign("standard", [whsec], body_file)
        hj = write(os.path.join(tmp, "headers.json"), json.dumps(dict(h)))
        for lang, cmd in vs.items():
            rc, err = run_verifier(cmd, "standard", [whsec], [], body_file,
                                   ["--headers-json", hj])
            check(rc == 0, f"{lang} --headers-json: {err}")

    if skipped:
        print("skipped: " + "; ".join(skipped))
    if failures:
        print("\n".join(failures))
        return 1
    print(f"ok ({', '.join(vs)})")
    return 0


def check_one(argv):
    """--check SCHEME SECRET_FILE... -- HEADERS_JSON BODY_FILE [verifier flags...]"""
    sep = argv.index("--")
    scheme, secrets = argv[0], argv[1:sep]
    headers_json, body_file, extra = argv[sep + 1], argv[sep + 2], argv[sep + 3:]
    bad = 0
    for lang, cmd in verifiers().items():
        rc, err = run_verifier(cmd, scheme, secrets, [], body_file,
                               ["--headers-json", headers_json] + extra)
        print(f"{lang}: {'valid' if rc == 0 else 'NOT VALID: ' + err.strip()}")
        bad |= rc != 0
    return 1 if bad or failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        sys.exit(check_one(sys.argv[2:]))
    sys.exit(main())
