#!/usr/bin/env python3
"""Verify a webhook that hookline signed: schemes standard (v1 HMAC, and v1a
ed25519 when the `cryptography` package is installed), hmac-sha256, stripe
and static. Standard library only otherwise. See docs/receiving.md.

As a library:
    from hookline_verify import verify, VerificationError
    verify("standard", [secret], request_headers, raw_body_bytes)  # raises

As a command (exit 0 valid, 1 not valid with the reason on stderr, 2 usage):
    python3 hookline_verify.py --scheme standard --secret-file secret.txt \\
        --header 'webhook-id: msg_1' --header 'webhook-timestamp: 1732262400' \\
        --header 'webhook-signature: v1,...' --body-file body.json
    (--headers-json FILE takes the headers as a JSON object or [[name, value], ...])
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time

# --- begin verify ---
DEFAULT_SIGNATURE_HEADER = {
    "standard": "webhook-signature",
    "hmac-sha256": "X-Webhook-Signature",
    "stripe": "Stripe-Signature",
    "static": "X-Secret-Key",
}


class VerificationError(Exception):
    """kind is one of: missing_header, malformed, stale, mismatch."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def _header(headers, name):
    """The one value of header |name| (case-insensitive). |headers| is a
    dict or a list of (name, value) pairs, as frameworks give them."""
    pairs = headers.items() if hasattr(headers, "items") else headers
    values = [v for k, v in pairs if k.lower() == name.lower()]
    if not values:
        raise VerificationError("missing_header", f"{name}: header missing")
    if len(values) > 1:
        raise VerificationError("malformed", f"{name}: header appears more than once")
    return values[0].strip()


def _check_timestamp(text, name, tolerance_s, now):
    if not (text.isascii() and text.isdigit()):
        raise VerificationError("malformed", f"{name}: not a Unix time in seconds")
    if tolerance_s and abs(now - int(text)) > tolerance_s:
        raise VerificationError("stale", f"{name}: more than {tolerance_s} s from now")


def _hmac(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def _ed25519_ok(public_key, signature, data):
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return False  # v1a needs the cryptography package
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
        return True
    except Exception:
        return False


def _verify_standard(secrets, headers, body, tolerance_s, now, sig_header, id_header, ts_header):
    msg_id = _header(headers, id_header)
    ts = _header(headers, ts_header)
    signatures = _header(headers, sig_header)
    _check_timestamp(ts, ts_header, tolerance_s, now)
    signed = f"{msg_id}.{ts}.".encode() + body
    expected, public_keys = [], []
    for s in secrets:
        if s.startswith("whsec_"):
            expected.append(base64.b64encode(_hmac(base64.b64decode(s[6:]), signed)).decode())
        elif s.startswith("whpk_"):
            public_keys.append(base64.b64decode(s[5:]))
        else:
            raise ValueError("a standard secret starts with whsec_ (or whpk_ for v1a)")
    ok = False
    for candidate in signatures.split(" "):
        version, _, sig = candidate.partition(",")
        if version == "v1":
            for e in expected:  # no early exit: every comparison is made
                ok |= hmac.compare_digest(sig.encode(), e.encode())
        elif version == "v1a" and public_keys:
            try:
                raw = base64.b64decode(sig, validate=True)
            except ValueError:
                continue  # not base64: cannot match
            ok |= any(_ed25519_ok(k, raw, signed) for k in public_keys)
    if not ok:
        raise VerificationError("mismatch", f"{sig_header}: no signature matched any secret")


def _verify_hmac(secrets, headers, body, sig_header, prefix):
    value = _header(headers, sig_header)
    if not value.startswith(prefix) or len(value) != len(prefix) + 64:
        raise VerificationError("malformed", f'{sig_header}: expected "{prefix}" and 64 hex digits')
    got = value[len(prefix):].lower().encode()
    ok = False
    for s in secrets:
        ok |= hmac.compare_digest(got, _hmac(s.encode(), body).hex().encode())
    if not ok:
        raise VerificationError("mismatch", f"{sig_header}: no signature matched any secret")


def _verify_stripe(secrets, headers, body, tolerance_s, now, sig_header):
    ts, candidates = None, []
    for item in _header(headers, sig_header).split(","):
        key, eq, value = item.strip().partition("=")
        if not eq:
            continue
        if key == "t":
            if ts is not None:
                raise VerificationError("malformed", f"{sig_header}: more than one t=")
            ts = value
        elif key == "v1":
            candidates.append(value.lower().encode())
    if ts is None:
        raise VerificationError("malformed", f"{sig_header}: no t= timestamp")
    _check_timestamp(ts, f"{sig_header} t=", tolerance_s, now)
    signed = f"{ts}.".encode() + body
    ok = False
    for s in secrets:
        expected = _hmac(s.encode(), signed).hex().encode()
        for c in candidates:
            ok |= hmac.compare_digest(c, expected)
    if not ok:
        raise VerificationError("mismatch", f"{sig_header}: no signature matched any secret")


def _verify_static(secrets, headers, sig_header):
    # Compare digests, so the time taken does not depend on the lengths.
    got = hashlib.sha256(_header(headers, sig_header).encode()).digest()
    ok = False
    for s in secrets:
        ok |= hmac.compare_digest(got, hashlib.sha256(s.encode()).digest())
    if not ok:
        raise VerificationError("mismatch", f"{sig_header}: the secret does not match")


def verify(scheme, secrets, headers, body, tolerance_s=300, signature_header=None,
           prefix="sha256=", id_header="webhook-id", timestamp_header="webhook-timestamp",
           now=None):
    """Raises VerificationError unless |body| (the raw bytes received) and
    |headers| carry a valid signature by one of |secrets| (several during a
    rotation). tolerance_s=0 skips the timestamp check."""
    if not isinstance(body, (bytes, bytearray)):
        raise TypeError("body must be the raw request bytes, not parsed or re-encoded JSON")
    now = int(time.time()) if now is None else now
    sig_header = signature_header or DEFAULT_SIGNATURE_HEADER[scheme]
    if scheme == "standard":
        _verify_standard(secrets, headers, bytes(body), tolerance_s, now, sig_header, id_header,
                         timestamp_header)
    elif scheme == "hmac-sha256":
        _verify_hmac(secrets, headers, bytes(body), sig_header, prefix)
    elif scheme == "stripe":
        _verify_stripe(secrets, headers, bytes(body), tolerance_s, now, sig_header)
    elif scheme == "static":
        _verify_static(secrets, headers, sig_header)
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
# --- end verify ---


def main(argv):
    p = argparse.ArgumentParser(description="Verify a webhook signed by hookline.")
    p.add_argument("--scheme", required=True, choices=sorted(DEFAULT_SIGNATURE_HEADER))
    p.add_argument("--secret-file", action="append", default=[],
                   help="a file holding one secret (repeat during a rotation)")
    p.add_argument("--header", action="append", default=[], help="'Name: value' (repeat)")
    p.add_argument("--headers-json", help="headers as a JSON object or [[name, value], ...]")
    p.add_argument("--body-file", help="the raw body (default: stdin)")
    p.add_argument("--tolerance", type=int, default=300, help="seconds; 0 skips the check")
    p.add_argument("--signature-header")
    p.add_argument("--prefix", default="sha256=")
    p.add_argument("--id-header", default="webhook-id")
    p.add_argument("--timestamp-header", default="webhook-timestamp")
    a = p.parse_args(argv)
    secrets = []
    for path in a.secret_file:
        with open(path) as f:
            secrets.append(f.read().strip("\r\n"))
    if not secrets:
        p.error("give at least one --secret-file")
    headers = []
    for h in a.header:
        name, colon, value = h.partition(":")
        if not colon:
            p.error(f"--header {h!r}: expected 'Name: value'")
        headers.append((name.strip(), value.strip()))
    if a.headers_json:
        with open(a.headers_json) as f:
            j = json.load(f)
        headers += list(j.items()) if isinstance(j, dict) else [tuple(x) for x in j]
    if a.body_file:
        with open(a.body_file, "rb") as f:
            body = f.read()
    else:
        body = sys.stdin.buffer.read()
    try:
        verify(a.scheme, secrets, headers, body, a.tolerance, a.signature_header, a.prefix,
               a.id_header, a.timestamp_header)
    except VerificationError as e:
        print(f"not valid: {e}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"configuration: {e}", file=sys.stderr)
        return 2
    print(f"valid ({a.scheme})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
