"""hookline status|attempts|dead-letters|replay|prune|verify|sign through the
real binary, on a data dir whose delivery log is written through the store
API (ops_seed): filters, --json output parsed, exit codes, --help for each,
replay's pending rows and attempt numbers, prune, and verify/sign."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

BIN = os.environ["HL_BIN_DIR"]
HL = os.path.join(BIN, "hookline")
SEED = os.path.join(BIN, "ops_seed")
failures = []


def run(args, data=None, stdin=None, want=0, binary=False):
    cmd = [HL] + args + (["--data-dir", data] if data else [])
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=not binary, timeout=60)
    if p.returncode != want:
        failures.append(f"{args}: exit {p.returncode}, wanted {want}\n{p.stdout}{p.stderr}")
    return p


def check(cond, what):
    if not cond:
        failures.append(what)


def jsonl(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def seed(data, rows):
    p = subprocess.run([SEED, data], input="\n".join(json.dumps(r) for r in rows),
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit(f"ops_seed failed: {p.stderr}")


def db(data):
    return sqlite3.connect(f"file:{data}/hookline.db?mode=ro", uri=True)


H = 3600 * 1000
with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")

    # Every command has --help with examples and exit codes, exit 0.
    for cmd in ["status", "attempts", "replay", "dead-letters", "prune", "verify", "sign"]:
        p = run([cmd, "--help"])
        check("examples:" in p.stdout and "exit codes:" in p.stdout, f"{cmd} --help: {p.stdout}")
        run([cmd, "--no-such-flag"], want=2)
    p = run(["--help"])
    for cmd in ["status", "attempts", "replay", "dead-letters", "prune", "verify"]:
        check(f"  {cmd} " in p.stdout, f"hookline --help lists {cmd}")

    # No database: unavailable (4), and nothing is created.
    run(["status"], data, want=4)
    run(["replay", "m1"], data, want=4)
    run(["prune", "--older-than", "1d"], data, want=4)
    check(not os.path.exists(os.path.join(data, "hookline.db")), "a command created the db")

    for ep in ["crm", "hub", "idle"]:
        run(["endpoint", "add", "--id", ep, "--url", f"https://127.0.0.1/{ep}",
             "--allow-network", "127.0.0.0/8", "--signing", "none"], data)
    run(["endpoint", "disable", "idle"], data)

    # The log, in time order (as the engine writes it).
    rows = [
        # 40 days ago: old traffic and an old dead letter
        {"op": "message", "id": "ancient", "ago_ms": 40 * 24 * H},
        {"op": "attempt", "message": "ancient", "endpoint": "crm", "ago_ms": 40 * 24 * H,
         "status": 500, "outcome": "dead", "error_class": "http_5xx"},
        {"op": "dead", "message": "ancient", "endpoint": "crm", "ago_ms": 40 * 24 * H},
        {"op": "message", "id": "old_delivered", "ago_ms": 40 * 24 * H},
        {"op": "attempt", "message": "old_delivered", "endpoint": "hub", "ago_ms": 40 * 24 * H},
        # 3 hours ago: a dead letter after 3 attempts
        {"op": "message", "id": "d1", "event": "lead.created", "data": {"email": "a@b.c"},
         "ago_ms": 3 * H},
    ] + [
        {"op": "attempt", "message": "d1", "event": "lead.created", "endpoint": "crm",
         "attempt": k, "ago_ms": 3 * H - k * 1000, "status": 503,
         "outcome": "retry" if k < 3 else "dead", "error_class": "http_5xx",
         "error_detail": "503 Service Unavailable", "response": "upstream busy\n\x1b[31m"}
        for k in (1, 2, 3)
    ] + [
        {"op": "dead", "message": "d1", "endpoint": "crm", "ago_ms": 3 * H - 3000,
         "last_error": "http_5xx: 503 Service Unavailable"},
        # 20 minutes ago: a retry waiting, a delivered message without payload
        {"op": "message", "id": "r1", "event": "contact.created", "ago_ms": 20 * 60000},
        {"op": "attempt", "message": "r1", "event": "contact.created", "endpoint": "crm",
         "ago_ms": 20 * 60000, "status": 0, "outcome": "retry",
         "error_class": "connect_refused", "next_in_ms": 3600000, "duration_us": 250},
        {"op": "pending", "message": "r1", "endpoint": "crm", "attempt": 2, "in_ms": 3600000},
        {"op": "attempt", "message": "ok1", "event": "lead.created", "endpoint": "hub",
         "ago_ms": 10 * 60000, "status": 200, "duration_us": 12000},
        {"op": "attempt", "message": "ok1", "event": "lead.created", "endpoint": "crm",
         "ago_ms": 10 * 60000 - 5, "status": 429, "outcome": "retry",
         "error_class": "http_429", "duration_us": 3000},
        {"op": "state", "endpoint": "crm", "breaker": "open", "ago_ms": 60000, "failures": 10},
    ]
    seed(data, rows)

    # status
    p = run(["status"], data)
    lines = p.stdout.splitlines()
    check(lines[0].startswith("ENDPOINT"), p.stdout)
    crm = next(l for l in lines if l.startswith("crm "))
    check(" paused " in crm, crm)
    check(any(l.startswith("idle ") and " disabled " in l for l in lines), p.stdout)
    check("breaker open" in p.stdout and "10 consecutive failures" in p.stdout, p.stdout)
    st = {r["id"]: r for r in jsonl(run(["status", "--json"], data).stdout)}
    check(set(st) == {"crm", "hub", "idle"}, str(st))
    check(st["crm"]["state"] == "paused" and st["crm"]["pending"] == 1
          and st["crm"]["dead_letters"] == 2, str(st["crm"]))
    check(st["crm"]["attempts"] == 2 and st["crm"]["delivered"] == 0
          and st["crm"]["success_rate"] == 0, str(st["crm"]))
    check(st["crm"]["last_status"] == 429 and st["crm"]["last_error_class"] == "http_429",
          str(st["crm"]))
    check(st["hub"]["state"] == "enabled" and st["hub"]["success_rate"] == 1
          and 11000 <= st["hub"]["p50_us"] <= 12500, str(st["hub"]))
    check(st["idle"]["state"] == "disabled" and st["idle"]["last_attempt"] is None
          and st["idle"]["success_rate"] is None, str(st["idle"]))
    st = {r["id"]: r for r in jsonl(run(["status", "--json", "--window", "4h"], data).stdout)}
    check(st["crm"]["attempts"] == 5 and st["crm"]["window_s"] == 4 * 3600, str(st["crm"]))
    run(["status", "--window", "1.5h"], data, want=2)

    # attempts: filters, order, json, verbose
    a = jsonl(run(["attempts", "--json"], data).stdout)
    check([x["message_id"] for x in a[:3]] == ["ok1", "ok1", "r1"], str(a[:3]))
    check(all(a[i]["started_ms"] >= a[i + 1]["started_ms"] for i in range(len(a) - 1)),
          "attempts newest first")
    check(len(a) == 8, f"{len(a)} attempts")
    a = jsonl(run(["attempts", "--json", "--endpoint", "crm", "--failed", "--since", "4h"],
                  data).stdout)
    check([(x["message_id"], x["attempt"]) for x in a] ==
          [("ok1", 1), ("r1", 1), ("d1", 3), ("d1", 2), ("d1", 1)], str(a))
    a = jsonl(run(["attempts", "--json", "--status", "5xx"], data).stdout)
    check({x["status"] for x in a} == {500, 503} and len(a) == 4, str(a))
    a = jsonl(run(["attempts", "--json", "--status", "none"], data).stdout)
    check([x["error_class"] for x in a] == ["connect_refused"], str(a))
    a = jsonl(run(["attempts", "--json", "--status", "200"], data).stdout)
    check(len(a) == 2 and all(x["outcome"] == "delivered" for x in a), str(a))
    a = jsonl(run(["attempts", "--json", "--event", "contact.*"], data).stdout)
    check([x["message_id"] for x in a] == ["r1"] and "next_attempt" in a[0], str(a))
    a = jsonl(run(["attempts", "--json", "--message", "d1", "--verbose", "--limit", "2"],
                  data).stdout)
    check([x["attempt"] for x in a] == [3, 2], str(a))
    check(a[0]["error_detail"] == "503 Service Unavailable"
          and a[0]["response_excerpt"] == "upstream busy\n\x1b[31m", str(a[0]))
    p = run(["attempts", "--message", "d1", "--verbose"], data)
    check("response: upstream busy\\n\\x1b[31m" in p.stdout and "\x1b" not in p.stdout,
          "terminal output escapes control bytes: " + p.stdout)
    check("503 http_5xx" in p.stdout and "dead" in p.stdout, p.stdout)
    p = run(["attempts", "--message", "nope"], data)
    check("no attempts match" in p.stderr, p.stderr)
    run(["attempts", "--endpoint", "nope"], data, want=3)
    for bad in ["2x", "1.5h", "-2h", "0s", "h", "99999d", "2 h", "2H"]:
        p = run(["attempts", "--since", bad], data, want=2)
        check("--since" in p.stderr, f"--since {bad}: {p.stderr}")
    # Too long however many digits (fuzz/duration: past 2^64 it was "not a duration").
    for big in ["3651d", "18446744073709551615s", "99999999999999999999999999d"]:
        p = run(["attempts", "--since", big], data, want=2)
        check("is longer than 3650d" in p.stderr, f"--since {big}: {p.stderr}")
    for bad in ["6xx", "20", "abc", "5XX", "600"]:
        run(["attempts", "--status", bad], data, want=2)
    run(["attempts", "--limit", "0"], data, want=2)

    # dead-letters
    d = jsonl(run(["dead-letters", "--json"], data).stdout)
    check([x["message_id"] for x in d] == ["d1", "ancient"], str(d))
    check(d[0]["attempts"] == 3 and d[0]["payload_stored"] and d[0]["event"] == "lead.created",
          str(d[0]))
    check(run(["dead-letters", "--endpoint", "hub", "--json"], data).stdout == "", "hub has none")
    p = run(["dead-letters"], data)
    check("d1" in p.stdout and "3" in p.stdout, p.stdout)

    def pending(msg, ep):
        with db(data) as c:
            return c.execute("SELECT p.attempt, p.next_ms FROM pending p JOIN endpoints e "
                             "ON e.rowid = p.endpoint WHERE p.message_id = ? AND e.id = ?",
                             (msg, ep)).fetchone()

    def dead_count():
        with db(data) as c:
            return c.execute("SELECT count(*) FROM dead_letters").fetchone()[0]

    # replay one message: dry run, then for real (attempt 4, due now, dead letter gone)
    p = run(["replay", "d1", "--dry-run"], data)
    check("would replay d1 to crm as attempt 4" in p.stdout, p.stdout)
    check(pending("d1", "crm") is None and dead_count() == 2, "dry run wrote")
    before = int(time.time() * 1000)
    p = run(["replay", "d1"], data)
    check("replayed  d1 to crm as attempt 4 (due now)" in p.stdout, p.stdout)
    row = pending("d1", "crm")
    check(row is not None and row[0] == 4 and before - 1000 <= row[1] <= before + 5000, str(row))
    check(dead_count() == 1, "the replayed dead letter is gone")
    # a delivered message without its payload: refused, names the flag
    p = run(["replay", "ok1", "--endpoint", "hub"], data, want=1)
    check("--retain-payloads" in p.stderr, p.stderr)
    check(pending("ok1", "hub") is None, "no pending row without payload")
    p = run(["replay", "nope"], data, want=3)
    check("no delivery of message nope" in p.stderr, p.stderr)
    run(["replay", "d1", "--endpoint", "nope"], data, want=3)
    p = run(["replay", "d1", "--endpoint", "idle"], data, want=1)
    check("disabled" in p.stderr and "hookline endpoint enable idle" in p.stderr, p.stderr)
    run(["replay"], data, want=2)
    run(["replay", "--endpoint", "crm", "--failed"], data, want=2)
    run(["replay", "d1", "--failed", "--endpoint", "crm", "--since", "1h"], data, want=2)

    # replay an endpoint's failures in a window
    p = run(["replay", "--endpoint", "crm", "--failed", "--since", "24h", "--dry-run"], data,
            want=1)
    check("would replay 2 failed deliveries to crm" in p.stdout, p.stdout)
    check("cannot replay 1: payload not stored" in p.stdout, p.stdout)
    p = run(["replay", "--endpoint", "crm", "--failed", "--since", "24h"], data, want=1)
    check("replayed 2 failed deliveries" in p.stdout, p.stdout)
    r1 = pending("r1", "crm")
    check(r1 is not None and r1[0] == 2 and r1[1] <= int(time.time() * 1000), str(r1))
    check(pending("ancient", "crm") is None, "outside the window")

    # prune: dry run counts, then deletes old rows, keeps what pending rows need
    p = run(["prune", "--older-than", "30d", "--dry-run"], data)
    check("would delete 2 attempts, 1 dead letters, 2 payloads" in p.stdout, p.stdout)
    p = run(["prune", "--older-than", "30d"], data)
    check("deleted 2 attempts, 1 dead letters, 2 payloads" in p.stdout, p.stdout)
    with db(data) as c:
        ids = {r[0] for r in c.execute("SELECT id FROM messages")}
        check(ids == {"d1", "r1"}, str(ids))
        check(c.execute("SELECT count(*) FROM attempts").fetchone()[0] == 6, "attempts kept")
    p = run(["prune", "--older-than", "1m"], data)
    check(" 0 payloads" in p.stdout, "payloads pending rows need are kept: " + p.stdout)
    run(["prune"], data, want=2)
    run(["prune", "--older-than", "30"], data, want=2)

    # verify and sign: every scheme, rotation, tampering, staleness
    sec = os.path.join(tmp, "secret")
    old = os.path.join(tmp, "old")
    with open(sec, "w") as f:
        f.write("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
    with open(old, "w") as f:
        f.write("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" + "\n")
    body = b'{"type":"lead.created","timestamp":"2026-11-22T08:00:00Z","data":{"email":"a@b.c"}}'
    bodyf = os.path.join(tmp, "body")
    with open(bodyf, "wb") as f:
        f.write(body)

    def sign(args):
        p = run(["sign"] + args + ["--body-file", bodyf])
        return [l for l in p.stdout.splitlines() if l]

    def verify(args, headers, body_bytes=body, want=0):
        hargs = []
        for h in headers:
            hargs += ["--header", h]
        return run(["verify"] + args + hargs, stdin=body_bytes, want=want, binary=True)

    h = sign(["--scheme", "standard", "--secret-file", sec, "--id", "msg_1"])
    check(len(h) == 3 and h[0] == "webhook-id: msg_1" and h[2].startswith("webhook-signature: v1,"),
          str(h))
    verify(["--scheme", "standard", "--secret-file", sec], h)
    p = verify(["--scheme", "standard", "--secret-file", sec], h, body + b" ", want=1)
    check(b"mismatch" in p.stderr, p.stderr)
    p = verify(["--scheme", "standard", "--secret-file", sec], h[:2], want=1)
    check(b"missing header" in p.stderr and b"webhook-signature" in p.stderr, p.stderr)
    p = verify(["--scheme", "standard", "--secret-file", sec],
               h[:1] + ["webhook-timestamp: 12x"] + h[2:], want=1)
    check(b"malformed" in p.stderr, p.stderr)
    # rotation: signed with new and old; each secret alone verifies
    h = sign(["--scheme", "standard", "--secret-file", sec, "--secret-file", old])
    check(h[2].count("v1,") == 2, h[2])
    verify(["--scheme", "standard", "--secret-file", old], h)
    # stale: an hour-old timestamp fails by default, passes with --tolerance 0
    ts = str(int(time.time()) - 3600)
    h = sign(["--scheme", "stripe", "--secret-file", sec, "--timestamp", ts])
    p = verify(["--scheme", "stripe", "--secret-file", sec], h, want=1)
    check(b"stale timestamp" in p.stderr, p.stderr)
    verify(["--scheme", "stripe", "--secret-file", sec, "--tolerance", "0"], h)
    verify(["--scheme", "stripe", "--secret-file", sec, "--tolerance", "7200"], h)
    h = sign(["--scheme", "hmac-sha256", "--secret-file", sec, "--signature-header",
              "X-Hub-Signature-256"])
    check(h[0].startswith("X-Hub-Signature-256: sha256="), str(h))
    verify(["--scheme", "hmac-sha256", "--secret-file", sec, "--signature-header",
            "x-hub-signature-256"], h)
    verify(["--scheme", "hmac-sha256", "--secret-file", old, "--signature-header",
            "X-Hub-Signature-256"], h, want=1)
    # headers from a file (curl -D style) and the secret on stdin
    hf = os.path.join(tmp, "headers")
    with open(hf, "w") as f:
        f.write("HTTP/1.1 200 OK\r\n" + "\r\n".join(h) + "\r\nContent-Type: x\r\n\r\n")
    p = run(["verify", "--scheme", "hmac-sha256", "--secret-file", "-", "--signature-header",
             "X-Hub-Signature-256", "--headers-file", hf, "--body-file", bodyf],
            stdin=open(sec).read())
    check("valid (hmac-sha256)" in p.stdout, p.stdout)
    run(["verify", "--scheme", "hmac-sha256", "--secret-file", "-", "--headers-file", hf],
        stdin="x", want=2)  # stdin cannot hold both
    # static: verify works; sign refuses (it would print the secret)
    secret_text = open(sec).read().strip()
    verify(["--scheme", "static", "--secret-file", sec], [f"X-Secret-Key: {secret_text}"])
    verify(["--scheme", "static", "--secret-file", sec], ["X-Secret-Key: nope"], want=1)
    p = run(["sign", "--scheme", "static", "--secret-file", sec, "--body-file", bodyf], want=2)
    # bad secret: configuration error (3), and the secret is never printed
    p = run(["verify", "--scheme", "standard", "--secret", "whsec_###", "--header", "a: b"],
            stdin="", want=3)
    check("###" not in p.stderr + p.stdout, "secret echoed")
    run(["verify", "--scheme", "nope", "--secret", "x", "--header", "a: b"], stdin="", want=2)
    run(["verify", "--scheme", "standard", "--header", "a: b"], stdin="", want=2)
    run(["verify", "--scheme", "standard", "--secret-file", sec, "--header", "nocolon"],
        stdin="", want=2)
    run(["verify", "--scheme", "standard", "--secret-file", sec, "--tolerance", "-1",
         "--header", "a: b"], stdin="", want=2)
    run(["verify", "--scheme", "standard", "--secret-file", os.path.join(tmp, "missing"),
         "--header", "a: b"], stdin="", want=4)
    for p in [run(["sign", "--scheme", "standard", "--secret-file", sec, "--body-file", bodyf,
                   "--json"])]:
        j = json.loads(p.stdout)
        check(set(j) == {"webhook-id", "webhook-timestamp", "webhook-signature"}, str(j))
        check(secret_text not in p.stdout, "sign printed the secret")

if failures:
    print("\n---\n".join(failures))
    sys.exit(1)
print("ok")
