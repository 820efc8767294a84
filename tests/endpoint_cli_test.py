"""hookline endpoint: add/update/list/show/enable/disable/delete/rotate-secret/
apply through the real binary, with the exit codes the README documents, and
no secret given by the user ever printed."""
import json
import os
import subprocess
import sys
import tempfile

HL = os.path.join(os.environ["HL_BIN_DIR"], "hookline")
failures = []


def run(args, data_dir, stdin=None, want=0):
    p = subprocess.run([HL, "endpoint"] + args + ["--data-dir", data_dir],
                       input=stdin, capture_output=True, text=True, timeout=60)
    if p.returncode != want:
        failures.append(f"{args}: exit {p.returncode}, wanted {want}\n{p.stdout}{p.stderr}")
    return p


def check(cond, what):
    if not cond:
        failures.append(what)


with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")
    token = "tok-USER-GIVEN-9f8e7d"
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    outputs = []

    secret_file = os.path.join(tmp, "secret")
    with open(secret_file, "w") as f:
        f.write(secret + "\n")
    p = run(["add", "--id", "crm", "--url", "https://crm.example.com/hooks",
             "--event", "lead.*", "--signing", "standard", "--secret-file", secret_file,
             "--auth", "bearer", "--auth-token-file", "-",
             "--header", "X-Source: {{source}}"], data, stdin=token)
    outputs.append(p)
    check("created endpoint crm" in p.stdout, f"add output: {p.stdout}")
    check("shown once" not in p.stdout, "a given secret must not be shown")

    # A generated secret is shown exactly once, by the command that made it.
    p = run(["add", "--id", "gen", "--url", "https://x.example.com/", "--signing",
             "hmac-sha256"], data)
    check("signing secret for gen (shown once" in p.stdout, f"generated: {p.stdout}")
    generated = p.stdout.strip().split(": ")[-1]
    check(len(generated) == 64, f"generated secret length {len(generated)}")

    p = run(["add", "--id", "crm", "--url", "https://y.example.com/"], data, want=3)
    check("exists" in p.stderr, p.stderr)
    p = run(["add", "--id", "bad", "--url", "https://10.0.0.5/x"], data, want=3)
    check("10.0.0.0/8" in p.stderr and "--allow-network" in p.stderr, p.stderr)
    p = run(["add", "--id", "ok10", "--url", "https://10.0.0.5/x", "--allow-network",
             "10.0.0.0/8"], data)
    p = run(["add", "--id", "h", "--url", "http://plain.example.com/"], data, want=3)
    check("http" in p.stderr, p.stderr)
    p = run(["add", "--url", "https://z.example.com/", "--timeout-ms", "abc"], data, want=2)

    p = run(["list"], data)
    outputs.append(p)
    lines = p.stdout.strip().splitlines()
    check(lines[0].startswith("ID"), p.stdout)
    check(any(l.startswith("crm ") and "enabled" in l and "standard" in l and "lead.*" in l
              for l in lines), p.stdout)
    p = run(["list", "--json"], data)
    outputs.append(p)
    rows = [json.loads(l) for l in p.stdout.strip().splitlines()]
    check({r["id"] for r in rows} == {"crm", "gen", "ok10"}, str(rows))

    p = run(["show", "crm", "--json"], data)
    outputs.append(p)
    shown = json.loads(p.stdout)
    check(shown["auth"]["token"].startswith("fingerprint:"), str(shown["auth"]))
    check(shown["signing"]["secrets"][0]["value"].startswith("fingerprint:"), str(shown))
    check(shown["headers"] == {"X-Source": "{{source}}"}, str(shown["headers"]))
    check(shown["retry_schedule_s"][:3] == [0, 5, 300], str(shown["retry_schedule_s"]))

    p = run(["update", "crm", "--timeout-ms", "5000", "--method", "PUT"], data)
    shown = json.loads(run(["show", "crm", "--json"], data).stdout)
    check(shown["timeout_ms"] == 5000 and shown["method"] == "PUT", str(shown))
    check(shown["auth"]["type"] == "bearer", "update must keep other fields")
    run(["update", "crm"], data, want=2)
    run(["update", "nope", "--timeout-ms", "5000"], data, want=3)

    p = run(["rotate-secret", "crm"], data)
    outputs.append(p)
    check("stays valid for 86400 s" in p.stdout and "shown once" in p.stdout, p.stdout)
    shown = json.loads(run(["show", "crm", "--json"], data).stdout)
    secrets = shown["signing"]["secrets"]
    check(len(secrets) == 2 and secrets[0]["expires_ms"] == 0 and secrets[1]["expires_ms"] > 0,
          str(secrets))

    run(["disable", "crm"], data)
    check(" disabled " in run(["list"], data).stdout, "disable")
    run(["enable", "crm"], data)
    run(["delete", "ok10"], data)
    run(["delete", "ok10"], data, want=3)

    # apply: dry run first, then for real, then again (unchanged).
    spec = {"endpoints": [
        {"id": "crm", "url": "https://crm.example.com/hooks/leads", "method": "POST",
         "events": ["lead.created"], "filter": {"any_present": ["email", "phone"]},
         "headers": {"X-Source": "{{source}}"}, "query": {"tenant": "{{tenant}}"},
         "auth": {"type": "bearer", "token": token},
         "template": {"properties": {"email": "{{email}}", "firstname": "{{firstName}}"}},
         "signing": {"scheme": "standard"}, "timeout_ms": 15000,
         "retry_schedule_s": [0, 5, 300, 1800], "max_connections": 16},
        {"id": "slack", "url": "https://hooks.example.com/services/T0/B0",
         "signing": {"scheme": "hmac-sha256", "header": "X-Wilow-Signature",
                     "secret": "0123456789abcdef-user-secret"}},
    ]}
    spec_file = os.path.join(tmp, "endpoints.json")
    with open(spec_file, "w") as f:
        json.dump(spec, f)
    p = run(["apply", "-f", spec_file, "--dry-run"], data)
    outputs.append(p)
    check("would update  crm" in p.stdout and "would create  slack" in p.stdout, p.stdout)
    check("dry run" in p.stdout, p.stdout)
    check("slack" not in run(["list"], data).stdout, "dry run wrote something")
    p = run(["apply", "-f", spec_file], data)
    outputs.append(p)
    check("created       slack" in p.stdout, p.stdout)
    p = run(["apply", "-f", spec_file], data)
    check("unchanged     crm" in p.stdout and "unchanged     slack" in p.stdout, p.stdout)

    # An invalid file changes nothing and names the endpoint and the field.
    spec["endpoints"][1]["url"] = "https://169.254.169.254/latest"
    spec["endpoints"][0]["timeout_ms"] = 7000
    with open(spec_file, "w") as f:
        json.dump(spec, f)
    p = run(["apply", "-f", spec_file], data, want=3)
    check("endpoints[1] (slack): url:" in p.stderr, p.stderr)
    check(json.loads(run(["show", "crm", "--json"], data).stdout)["timeout_ms"] == 15000,
          "a failed apply must write nothing")
    with open(spec_file, "w") as f:
        f.write('{"endpoints": [\n  {"id": "x", "url": "https://a.example.com/",}\n]}')
    p = run(["apply", "-f", spec_file], data, want=3)
    check("line 2" in p.stderr and "trailing comma" in p.stderr, p.stderr)

    for p in outputs:
        for s in (token, secret, "0123456789abcdef-user-secret"):
            check(s not in p.stdout and s not in p.stderr, f"secret printed: {p.args}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
