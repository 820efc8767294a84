'use strict';
// The Node.js peer of hookline's benchmark harness (bench/run): what many
// teams write in a queue worker to send webhooks. undici@7 Pool per origin
// (HTTP/1.1 keep-alive, no pipelining), node:crypto HMAC-SHA256 of the body
// per request, the response body read and dropped.
//
//   node sender.js --group CONNS:URL[,URL...] | --group CONNS:@FILE  (repeatable)
//                  --body-file F --secret-file F [--sig-header H] [--sig-prefix P]
//                  [--duration-s S] [--warmup-s W] [--rate R] [--timeout-ms T]
//                  [--per-origin N] [--ramp-s S] [--ca-file PEM] [--wait-stdin]
//
// The same options and the same JSON report as bench/peers/curl_multi.c: a
// group is CONNS concurrent requests sending to its URLs in turn; without
// --rate each of them sends its next request when the previous one ends
// (--ramp-s spreads their first requests evenly over S seconds);
// with --rate requests are scheduled at t0 + k/R, wait for one of the first
// group's CONNS places if all are taken, and latency counts from the
// scheduled time (no coordinated omission); requests due in the measured
// window and unanswered at its end are counted at their age then.
//
// --wait-stdin: print "ready", start on the first line of stdin, stop early
// on the second (or when stdin ends), at the end of the harness's window.
const crypto = require('node:crypto');
const fs = require('node:fs');
const readline = require('node:readline');
const { Pool } = require('undici');
const { Hist } = require('./hist');

const ERR_CLASSES = ['connect', 'tls', 'timeout', 'io', 'status', 'other'];

function die(msg) {
  process.stderr.write(`sender.js: ${msg}\n`);
  process.exit(2);
}

function num(flag, s, min, max) {
  const v = Number(s);
  if (s === '' || !Number.isFinite(v) || v < min || v > max) {
    die(`${flag}: '${s}' is not a number in [${min}, ${max}]`);
  }
  return v;
}

function parseArgs(argv) {
  const o = {
    groups: [], durationS: 5, warmupS: 0, rate: 0, rampS: 0, timeoutMs: 10000, perOrigin: 64,
    caFile: null, sigHeader: 'X-Webhook-Signature', sigPrefix: 'sha256=', waitStdin: false,
    bodyFile: null, secretFile: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--wait-stdin') { o.waitStdin = true; continue; }
    if (i + 1 >= argv.length) die(`missing value or unknown flag ${a}`);
    const v = argv[++i];
    switch (a) {
      case '--group': {
        const c = v.indexOf(':');
        if (c <= 0) die(`--group wants CONNS:URL[,URL...] or CONNS:@FILE, not ${v}`);
        const conns = num('--group', v.slice(0, c), 1, 20000);
        const list = v.slice(c + 1);
        const urls = list.startsWith('@')
          ? fs.readFileSync(list.slice(1), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean)
          : list.split(',').filter(Boolean);
        if (urls.length === 0) die(`--group has no URL: ${v}`);
        o.groups.push({ conns, urls: urls.map((u) => new URL(u)), next: 0, ok: 0, errors: 0 });
        break;
      }
      case '--body-file': o.bodyFile = v; break;
      case '--secret-file': o.secretFile = v; break;
      case '--sig-header': o.sigHeader = v; break;
      case '--sig-prefix': o.sigPrefix = v; break;
      case '--duration-s': o.durationS = num(a, v, 0.1, 86400); break;
      case '--warmup-s': o.warmupS = num(a, v, 0, 86400); break;
      case '--rate': o.rate = num(a, v, 0, 1e8); break;
      case '--ramp-s': o.rampS = num(a, v, 0, 3600); break;
      case '--timeout-ms': o.timeoutMs = num(a, v, 1, 3600000); break;
      case '--per-origin': o.perOrigin = num(a, v, 1, 20000); break;
      case '--ca-file': o.caFile = v; break;
      default: die(`unknown flag ${a}`);
    }
  }
  if (o.groups.length === 0 || !o.bodyFile || !o.secretFile) {
    die('usage: sender.js --group CONNS:URL[,URL...]|CONNS:@FILE --body-file F --secret-file F '
      + '[--duration-s S] [--warmup-s W] [--rate R] [--timeout-ms T] [--per-origin N] '
      + '[--ramp-s S] [--ca-file PEM] [--sig-header H] [--sig-prefix P] [--wait-stdin]');
  }
  if (o.rate > 0 && o.groups.length !== 1) die('--rate takes exactly one --group');
  return o;
}

function classify(err) {
  const code = (err && (err.code || (err.cause && err.cause.code))) || '';
  if (/TIMEOUT/.test(code)) return 'timeout';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL') return 'connect';
  if (/CERT|SSL|TLS|ERR_SSL|SELF_SIGNED|UNABLE_TO/.test(code)) return 'tls';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET'
      || code === 'UND_ERR_CLOSED') return 'io';
  return 'other';
}

const nowNs = () => process.hrtime.bigint();

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const body = fs.readFileSync(o.bodyFile);
  const secret = fs.readFileSync(o.secretFile, 'utf8').replace(/[\r\n]+$/, '');
  const ca = o.caFile ? fs.readFileSync(o.caFile) : undefined;
  const pools = new Map(); // origin -> Pool
  const poolFor = (url) => {
    let p = pools.get(url.origin);
    if (!p) {
      p = new Pool(url.origin, {
        connections: o.perOrigin,
        pipelining: 1,
        keepAliveTimeout: 600000,
        keepAliveMaxTimeout: 600000,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
        connectTimeout: o.timeoutMs,
        connect: { ca, rejectUnauthorized: true },
      });
      pools.set(url.origin, p);
    }
    return p;
  };
  const stats = {
    sent: 0, ok: 0, unfinished: 0, errors: Object.fromEntries(ERR_CLASSES.map((c) => [c, 0])),
    status: {}, latency: new Hist(),
  };
  let seq = 0;
  let t0 = 0n;
  let measureNs = 0n;
  let endNs = 0n;

  // One delivery: sign, send, read the response; count it if it started in
  // the measured window and ended before its end.
  async function deliver(g, startNs) {
    const url = g.urls[g.next];
    g.next = (g.next + 1) % g.urls.length;
    const sig = crypto.createHmac('sha256', secret).update(body).digest('hex');
    const headers = {
      'content-type': 'application/json',
      [o.sigHeader]: o.sigPrefix + sig,
      'x-webhook-id': `node_${(seq++).toString(16).padStart(16, '0')}`,
      'x-webhook-event': 'bench.delivery',
    };
    stats.sent++;
    let status = 0;
    let err = null;
    try {
      const res = await poolFor(url).request({ path: url.pathname + url.search, method: 'POST',
        headers, body });
      status = res.statusCode;
      await res.body.dump();
    } catch (e) {
      err = e;
    }
    const t = nowNs();
    if (startNs < measureNs || t > endNs) return;
    if (err === null && status >= 200 && status < 300) {
      stats.ok++;
      g.ok++;
      stats.status[status] = (stats.status[status] || 0) + 1;
      stats.latency.record(Number((t - startNs) / 1000n));
      return;
    }
    g.errors++;
    if (err === null) {
      stats.errors.status++;
      stats.status[status] = (stats.status[status] || 0) + 1;
    } else {
      stats.errors[classify(err)]++;
    }
  }

  let stopEarly = () => {};
  const stopped = new Promise((resolve) => { stopEarly = resolve; });
  if (o.waitStdin) {
    process.stdout.write('ready\n');
    const rl = readline.createInterface({ input: process.stdin });
    await new Promise((resolve) => rl.once('line', resolve));
    rl.once('line', () => stopEarly());
    rl.once('close', () => stopEarly());
  }
  const cpu0 = process.cpuUsage();
  t0 = nowNs();
  measureNs = t0 + BigInt(Math.round(o.warmupS * 1e9));
  endNs = t0 + BigInt(Math.round(o.durationS * 1e9));
  const timer = setTimeout(() => stopEarly(), o.durationS * 1000);
  stopped.then(() => {
    clearTimeout(timer);
    const t = nowNs();
    if (t < endNs) endNs = t;
  });

  if (o.rate <= 0) {
    const loops = [];
    const total = o.groups.reduce((n, g) => n + g.conns, 0);
    let slot = 0;
    for (const g of o.groups) {
      for (let i = 0; i < g.conns; i++, slot++) {
        const delayMs = (o.rampS * 1000 * slot) / total;
        loops.push((async () => {
          if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
          while (nowNs() < endNs) await deliver(g, nowNs());
        })());
      }
    }
    // Stop at the end even if some requests hang (a failing endpoint).
    await Promise.race([Promise.all(loops), stopped]);
  } else {
    const unfinished = await paced(o, (startNs) => deliver(o.groups[0], startNs), t0,
      () => endNs, stopped);
    // Due in the window and unanswered at its end: counted at their age.
    for (const s of unfinished) {
      if (s >= measureNs) {
        stats.latency.record(Number((endNs - s) / 1000n));
        stats.unfinished++;
      }
    }
  }
  const cpu = process.cpuUsage(cpu0);
  report(o, stats, Number(endNs - measureNs) / 1e9, (cpu.user + cpu.system) / 1e6);
  process.exit(0);
}

// Fixed-rate sending: request k is due at t0 + k/R. Due requests start while
// fewer than CONNS are in flight; the others queue. Node's timers have
// millisecond granularity, so due requests are also started whenever a
// response completes (which, under load, is far more often than every
// millisecond); the timer covers quiet moments. A request started late is
// still measured from its due time.
function paced(o, send, t0, endOf, stopped) {
  const periodNs = 1e9 / o.rate;
  const limit = o.groups[0].conns;
  let k = 0;
  let inflight = 0;
  const queue = [];
  const started = new Set(); // due times of the requests in flight
  const sched = (i) => t0 + BigInt(Math.round(i * periodNs));
  const startDue = () => {
    const t = nowNs();
    while (sched(k) <= t && t < endOf()) {
      const s = sched(k++);
      if (inflight < limit) launch(s); else queue.push(s);
    }
  };
  const launch = (startNs) => {
    inflight++;
    started.add(startNs);
    send(startNs).finally(() => {
      inflight--;
      started.delete(startNs);
      if (queue.length > 0) launch(queue.shift());
      startDue();
    });
  };
  return new Promise((resolve) => {
    let timer = null;
    const finish = () => {
      clearTimeout(timer);
      // What is still queued, in flight, or due and never started.
      const left = [...started, ...queue];
      for (let i = k; sched(i) < endOf(); i++) left.push(sched(i));
      resolve(left);
    };
    stopped.then(finish);
    const tick = () => {
      startDue();
      const waitMs = Number(sched(k) - nowNs()) / 1e6;
      timer = setTimeout(tick, Math.max(0, Math.floor(waitMs)));
    };
    tick();
  });
}

function report(o, stats, windowS, cpuS) {
  const h = stats.latency;
  const out = {
    contender: 'node',
    node_version: process.version,
    undici_version: require('undici/package.json').version,
    window_s: windowS,
    sent: stats.sent,
    ok: stats.ok,
    rate: windowS > 0 ? stats.ok / windowS : 0,
    cpu_s: cpuS,
    errors: stats.errors,
    status: stats.status,
    groups: o.groups.map((g) => ({ conns: g.conns, urls: g.urls.length, ok: g.ok, errors: g.errors })),
    unfinished: stats.unfinished,
    latency_us: {
      count: h.count, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99),
      'p99.9': h.percentile(99.9), max: h.count ? h.max : 0,
      measured_from: o.rate > 0 ? 'scheduled' : 'sent',
    },
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
