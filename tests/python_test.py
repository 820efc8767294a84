"""The Python binding (python/hookline) over the freshly built libhookline:
messages arrive byte for byte, errors are exceptions carrying the library's
reason, the context manager closes, batches validate first, a full ring
raises RingFull. The engine side is tests/ring_peer.c."""
import errno
import json
import os
import subprocess
import sys
import tempfile

bin_dir = os.environ["HL_BIN_DIR"]
sys.path.insert(0, os.path.join(os.environ["HL_SOURCE_DIR"], "python"))
os.environ["HOOKLINE_LIB"] = os.path.join(bin_dir, "libhookline.so.1")

import hookline  # noqa: E402

PEER = os.path.join(bin_dir, "ring_peer")


def peer(*args):
    return subprocess.run([PEER, *args], check=True, capture_output=True, text=True).stdout


def drain(ring, n):
    return [json.loads(line) for line in peer("drain", ring, "--count", str(n)).splitlines()]


def expect(exc_type, fragment, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        assert fragment in str(e), (fragment, str(e))
        assert e.reason and e.errno > 0, e
        return e
    raise AssertionError("%s not raised (wanted %r)" % (exc_type.__name__, fragment))


def main():
    tmp = tempfile.mkdtemp()
    ring = os.path.join(tmp, "ring")
    try:
        assert hookline.version().count(".") == 2, hookline.version()

        e = expect(hookline.RingUnavailable, "not found", hookline.Producer, ring=ring)
        assert e.errno == errno.ENOENT
        peer("create", ring, "--lanes", "2")

        with hookline.Producer(ring=ring) as p:
            p.send("lead.created", {"email": "a@b.c", "name": "Zoë"}, id="lead_42",
                   endpoint="crm", tenant="acme")
            p.send("raw.text", '{"n":1.50, "k":[1,2]}', timestamp_ms=1763800000000)
            p.send("raw.bytes", b'{"b":true}')
        assert p._h is None  # the context manager closed it
        expect(hookline.RingUnavailable, "closed", p.send, "x", {})

        ms = drain(ring, 3)
        assert ms[0]["event"] == "lead.created" and ms[0]["id"] == "lead_42", ms[0]
        assert ms[0]["endpoint"] == "crm" and ms[0]["tenant"] == "acme", ms[0]
        assert ms[0]["data"] == {"email": "a@b.c", "name": "Zoë"}, ms[0]
        assert ms[1]["ts"] == 1763800000000, ms[1]
        assert ms[2]["data"] == {"b": True}, ms[2]

        p = hookline.Producer(ring=ring)
        # Every rejection is an InvalidMessage (also a ValueError) with the reason.
        e = expect(hookline.InvalidMessage, "event: byte 4 (0x20) is not allowed",
                   p.send, "lead created", {})
        assert e.errno == errno.EINVAL and isinstance(e, ValueError)
        expect(hookline.InvalidMessage, "event: empty", p.send, "", {})
        expect(hookline.InvalidMessage, "data:", p.send, "e", '{"a":')
        expect(hookline.InvalidMessage, "data:", p.send, "e", "[1, 2]")
        expect(hookline.InvalidMessage, "data: empty", p.send, "e", "")
        expect(hookline.InvalidMessage, "data: expected a dict", p.send, "e", [1, 2])
        expect(hookline.InvalidMessage, "id: contains a NUL byte", p.send, "e", {}, id="a\0b")
        expect(hookline.InvalidMessage, "tenant: only letters", p.send, "e", {}, tenant="é")
        e = expect(hookline.InvalidMessage, "data: 262152 bytes, larger than the limit",
                   p.send, "e", {"x": "y" * 262144})
        assert e.errno == errno.EMSGSIZE

        # A batch is validated first: one bad message, nothing written.
        batch = [{"event": "b.%d" % i, "data": {"i": i}} for i in range(5)]
        bad = batch[:3] + [{"event": "b 3", "data": {}}] + batch[4:]
        expect(hookline.InvalidMessage, "message 3: event: byte 1", p.send_batch, bad)
        assert p.send_batch(batch) == 5
        ms = drain(ring, 5)  # exactly these five: nothing of the bad batch
        assert [m["event"] for m in ms] == ["b.%d" % i for i in range(5)], ms
        p.close()
        p.close()  # idempotent

        # A full ring raises RingFull once the timeout has passed.
        full = os.path.join(tmp, "full")
        peer("create", full, "--lanes", "1", "--lane-bytes", "2097152")
        with hookline.Producer(ring=full) as p:
            pad = "x" * 60000
            sent = 0
            try:
                for i in range(100):
                    p.send("f", {"i": i, "pad": pad}, timeout_ms=50)
                    sent += 1
            except hookline.RingFull as e:
                assert "full for 50 ms" in e.reason, e.reason
                assert e.errno == errno.EAGAIN
            assert 20 < sent < 40, sent
        print("ok")
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)


main()
