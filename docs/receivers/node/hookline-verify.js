#!/usr/bin/env node
// Verify a webhook that hookline signed: schemes standard (v1 HMAC and v1a
// ed25519), hmac-sha256, stripe and static. Node's own crypto module only,
// no packages. See docs/receiving.md.
//
// As a module:
//   const { verify, VerificationError } = require("./hookline-verify");
//   verify("standard", [secret], req.headers, rawBodyBuffer); // throws
//
// As a command (exit 0 valid, 1 not valid with the reason on stderr, 2 usage):
//   node hookline-verify.js --scheme standard --secret-file secret.txt \
//     --header 'webhook-id: msg_1' --header 'webhook-timestamp: 1732262400' \
//     --header 'webhook-signature: v1,...' --body-file body.json
//   (--headers-json FILE takes the headers as a JSON object or [[name, value], ...])
"use strict";
const crypto = require("crypto");
const fs = require("fs");

// --- begin verify ---
const DEFAULT_SIGNATURE_HEADER = {
  standard: "webhook-signature",
  "hmac-sha256": "X-Webhook-Signature",
  stripe: "Stripe-Signature",
  static: "X-Secret-Key",
};

class VerificationError extends Error {
  // kind is one of: missing_header, malformed, stale, mismatch
  constructor(kind, message) {
    super(`${kind}: ${message}`);
    this.kind = kind;
  }
}

// header returns the one value of |name| (case-insensitive). |headers| is an
// object (Node's req.headers: lower-case names, repeated ones joined or in
// arrays) or a list of [name, value] pairs.
function header(headers, name) {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  const values = [];
  for (const [k, v] of pairs) {
    if (k.toLowerCase() === name.toLowerCase()) {
      values.push(...(Array.isArray(v) ? v : [v]));
    }
  }
  if (values.length === 0) throw new VerificationError("missing_header", `${name}: header missing`);
  if (values.length > 1) {
    throw new VerificationError("malformed", `${name}: header appears more than once`);
  }
  return String(values[0]).trim();
}

function checkTimestamp(text, name, toleranceS, nowS) {
  if (!/^[0-9]+$/.test(text)) throw new VerificationError("malformed", `${name}: not a Unix time in seconds`);
  if (toleranceS && Math.abs(nowS - Number(text)) > toleranceS) {
    throw new VerificationError("stale", `${name}: more than ${toleranceS} s from now`);
  }
}

const hmac = (key, data) => crypto.createHmac("sha256", key).update(data).digest();

// same compares in constant time; unequal lengths are simply unequal.
function same(a, b) {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function ed25519Ok(publicKey, signature, data) {
  try {
    const key = crypto.createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: publicKey.toString("base64url") },
      format: "jwk",
    });
    return crypto.verify(null, data, key, signature);
  } catch {
    return false;
  }
}

function verifyStandard(secrets, headers, body, toleranceS, nowS, o) {
  const id = header(headers, o.idHeader);
  const ts = header(headers, o.timestampHeader);
  const signatures = header(headers, o.signatureHeader);
  checkTimestamp(ts, o.timestampHeader, toleranceS, nowS);
  const signed = Buffer.concat([Buffer.from(`${id}.${ts}.`), body]);
  const expected = [], publicKeys = [];
  for (const s of secrets) {
    if (s.startsWith("whsec_")) expected.push(hmac(Buffer.from(s.slice(6), "base64"), signed).toString("base64"));
    else if (s.startsWith("whpk_")) publicKeys.push(Buffer.from(s.slice(5), "base64"));
    else throw new Error("a standard secret starts with whsec_ (or whpk_ for v1a)");
  }
  let ok = false;
  for (const candidate of signatures.split(" ")) {
    const comma = candidate.indexOf(",");
    const version = candidate.slice(0, comma), sig = candidate.slice(comma + 1);
    if (comma < 0) continue;
    if (version === "v1") {
      for (const e of expected) ok = same(sig, e) || ok; // every comparison is made
    } else if (version === "v1a") {
      const raw = Buffer.from(sig, "base64");
      for (const k of publicKeys) ok = ed25519Ok(k, raw, signed) || ok;
    }
  }
  if (!ok) throw new VerificationError("mismatch", `${o.signatureHeader}: no signature matched any secret`);
}

function verifyHmac(secrets, headers, body, o) {
  const value = header(headers, o.signatureHeader);
  if (!value.startsWith(o.prefix) || value.length !== o.prefix.length + 64) {
    throw new VerificationError("malformed", `${o.signatureHeader}: expected "${o.prefix}" and 64 hex digits`);
  }
  const got = value.slice(o.prefix.length).toLowerCase();
  let ok = false;
  for (const s of secrets) ok = same(got, hmac(s, body).toString("hex")) || ok;
  if (!ok) throw new VerificationError("mismatch", `${o.signatureHeader}: no signature matched any secret`);
}

function verifyStripe(secrets, headers, body, toleranceS, nowS, o) {
  let ts = null;
  const candidates = [];
  for (const item of header(headers, o.signatureHeader).split(",")) {
    const eq = item.indexOf("=");
    if (eq < 0) continue;
    const key = item.slice(0, eq).trim(), value = item.slice(eq + 1).trim();
    if (key === "t") {
      if (ts !== null) throw new VerificationError("malformed", `${o.signatureHeader}: more than one t=`);
      ts = value;
    } else if (key === "v1") {
      candidates.push(value.toLowerCase());
    }
  }
  if (ts === null) throw new VerificationError("malformed", `${o.signatureHeader}: no t= timestamp`);
  checkTimestamp(ts, `${o.signatureHeader} t=`, toleranceS, nowS);
  const signed = Buffer.concat([Buffer.from(`${ts}.`), body]);
  let ok = false;
  for (const s of secrets) {
    const expected = hmac(s, signed).toString("hex");
    for (const c of candidates) ok = same(c, expected) || ok;
  }
  if (!ok) throw new VerificationError("mismatch", `${o.signatureHeader}: no signature matched any secret`);
}

function verifyStatic(secrets, headers, o) {
  // Compare digests, so the time taken does not depend on the lengths.
  const digest = (v) => crypto.createHash("sha256").update(v).digest();
  const got = digest(header(headers, o.signatureHeader));
  let ok = false;
  for (const s of secrets) ok = same(got, digest(s)) || ok;
  if (!ok) throw new VerificationError("mismatch", `${o.signatureHeader}: the secret does not match`);
}

// verify throws VerificationError unless |body| (a Buffer of the raw bytes
// received) and |headers| carry a valid signature by one of |secrets|
// (several during a rotation). toleranceS = 0 skips the timestamp check.
function verify(scheme, secrets, headers, body, toleranceS = 300, options = {}) {
  if (!Buffer.isBuffer(body)) throw new TypeError("body must be the raw request bytes (a Buffer), not parsed JSON");
  const o = {
    signatureHeader: options.signatureHeader || DEFAULT_SIGNATURE_HEADER[scheme],
    prefix: options.prefix ?? "sha256=",
    idHeader: options.idHeader || "webhook-id",
    timestampHeader: options.timestampHeader || "webhook-timestamp",
  };
  const nowS = options.nowS ?? Math.floor(Date.now() / 1000);
  switch (scheme) {
    case "standard": return verifyStandard(secrets, headers, body, toleranceS, nowS, o);
    case "hmac-sha256": return verifyHmac(secrets, headers, body, o);
    case "stripe": return verifyStripe(secrets, headers, body, toleranceS, nowS, o);
    case "static": return verifyStatic(secrets, headers, o);
    default: throw new Error(`unknown scheme ${scheme}`);
  }
}
// --- end verify ---

module.exports = { verify, VerificationError };

function main(argv) {
  const a = { secretFiles: [], headers: [], tolerance: 300, options: {} };
  const usage = (msg) => { process.stderr.write(`hookline-verify: ${msg}\n`); return 2; };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i], v = argv[i + 1];
    if (v === undefined) return usage(`${flag} needs a value`);
    i++;
    if (flag === "--scheme") a.scheme = v;
    else if (flag === "--secret-file") a.secretFiles.push(v);
    else if (flag === "--header") {
      const c = v.indexOf(":");
      if (c < 0) return usage(`--header ${v}: expected 'Name: value'`);
      a.headers.push([v.slice(0, c).trim(), v.slice(c + 1).trim()]);
    } else if (flag === "--headers-json") {
      const j = JSON.parse(fs.readFileSync(v, "utf8"));
      a.headers.push(...(Array.isArray(j) ? j : Object.entries(j)));
    } else if (flag === "--body-file") a.bodyFile = v;
    else if (flag === "--tolerance") a.tolerance = Number(v);
    else if (flag === "--signature-header") a.options.signatureHeader = v;
    else if (flag === "--prefix") a.options.prefix = v;
    else if (flag === "--id-header") a.options.idHeader = v;
    else if (flag === "--timestamp-header") a.options.timestampHeader = v;
    else return usage(`unknown flag ${flag}`);
  }
  if (!(a.scheme in DEFAULT_SIGNATURE_HEADER)) return usage("--scheme: standard, hmac-sha256, stripe or static");
  if (a.secretFiles.length === 0) return usage("give at least one --secret-file");
  if (!Number.isInteger(a.tolerance) || a.tolerance < 0) return usage("--tolerance: seconds");
  const secrets = a.secretFiles.map((f) => fs.readFileSync(f, "utf8").replace(/[\r\n]+$/, ""));
  const body = fs.readFileSync(a.bodyFile ?? 0);
  try {
    verify(a.scheme, secrets, a.headers, body, a.tolerance, a.options);
  } catch (e) {
    if (e instanceof VerificationError) {
      process.stderr.write(`not valid: ${e.message}\n`);
      return 1;
    }
    return usage(e.message);
  }
  process.stdout.write(`valid (${a.scheme})\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
