"""The request every contender sends: one 512 B JSON body, signed with
HMAC-SHA256 (hex, "sha256=" prefix, X-Webhook-Signature: hookline's
hmac-sha256 scheme) under one secret.

The peers send the body as bytes; hookline renders it per delivery from the
endpoint's template and the message data that bench/produce.c writes, whose
fields are fixed-width, so the rendered body has the same 512 B (the
engine-assigned message id "msg_" + 26 characters and the ISO timestamp are
fixed-width too).
"""
import hashlib
import hmac
import os

BODY_BYTES = 512
SECRET = "bench-secret-not-a-real-one-0123456789"  # >= 16 bytes, hmac-sha256
SIG_HEADER = "X-Webhook-Signature"
SIG_PREFIX = "sha256="

TEMPLATE = ('{"type":"{{$event}}","id":"{{$id}}","timestamp":"{{$timestamp}}",'
            '"data":{"seq":"{{seq}}","sched_ns":"{{sched_ns}}",'
            '"customer":{"email":"{{customer.email}}","name":"{{customer.name}}"},'
            '"pad":"{{pad}}"}}')

# The values the template's placeholders take, at their fixed widths.
SAMPLE = {"$event": "bench.delivery", "$id": "msg_01JDBENCH00000000000000000",
          "$timestamp": "2024-11-22T09:00:00.000Z", "seq": "0" * 10, "sched_ns": "0" * 19,
          "customer.email": "ada@example.com", "customer.name": "Ada Lovelace"}
assert len(SAMPLE["$id"]) == 30 and len(SAMPLE["$timestamp"]) == 24


def render(pad):
    text = TEMPLATE
    for k, v in SAMPLE.items():
        text = text.replace("{{" + k + "}}", v)
    return text.replace("{{pad}}", "x" * pad)


class Payload:
    def __init__(self, directory):
        self.pad = BODY_BYTES - len(render(0))
        assert self.pad > 0
        self.body = render(self.pad).encode()
        assert len(self.body) == BODY_BYTES
        self.template = TEMPLATE
        self.secret = SECRET
        self.sig_header = SIG_HEADER
        self.sig_prefix = SIG_PREFIX
        self.signature = hmac.new(SECRET.encode(), self.body, hashlib.sha256).hexdigest()
        self.body_file = os.path.join(directory, "body.json")
        self.secret_file = os.path.join(directory, "secret")
        with open(self.body_file, "wb") as f:
            f.write(self.body)
        with open(self.secret_file, "w") as f:
            f.write(SECRET)
        os.chmod(self.secret_file, 0o600)
