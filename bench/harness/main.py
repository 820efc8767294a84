"""bench/run: hookline against the senders a user would pick instead.

  bench/run [--quick | --smoke] [--scenarios steady,many,...] [--contenders ...]
            [--rounds N] [--micro] [--nginx] [--no-setup] [--build-dir DIR]
            [--results-dir DIR] [--receiver auto|sink|nginx]

Installs what it needs (scripts/deps.sh --bench, npm ci for the Node peer),
builds (scripts/build.sh with -DHL_BENCH_PEERS=ON), starts the receiver on
loopback with a test CA it generates, runs every scenario for every
contender, alternating contenders round by round, and leaves in
bench/results/<timestamp>/ the raw results (results.json), the table
(table.txt) and the plot (plot.svg).
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from . import certs, contenders, micro, payload, receivers, report, scenarios, svg
from .measure import measure

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPEN_FILES = 20000
CONTENDERS = ("hookline", "wrk", "curl", "node")


class Progress:
    """One line, rewritten in place on a terminal; on anything else only the
    finished runs are printed, one line each."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.width = 0
        self.prefix = ""

    def update(self, text):
        if self.tty:
            line = (self.prefix + text)[:shutil.get_terminal_size((120, 20)).columns - 1]
            self.stream.write("\r" + line + " " * max(0, self.width - len(line)))
            self.stream.flush()
            self.width = len(line)

    def done(self, text):
        if self.tty:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        self.stream.write(self.prefix + text + "\n")
        self.stream.flush()


def raise_open_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "kernel": platform.release(),
            "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "loadavg_at_start": [round(x, 2) for x in load],
            "python": platform.python_version(),
            "shared": "the machine is shared with other work; compare rows of one run, "
                      "not runs"}


def git_rev():
    try:
        return subprocess.run(["git", "-C", SOURCE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return ""


def setup(args, progress):
    """Packages, the Node peer's dependencies, the build."""
    progress.done("setup: scripts/deps.sh --bench")
    subprocess.run([os.path.join(SOURCE, "scripts", "deps.sh"), "--bench"], check=True)
    node_dir = os.path.join(SOURCE, "bench", "peers", "node")
    if shutil.which("npm"):
        stamp = os.path.join(node_dir, "node_modules", ".package-lock.json")
        lock = os.path.join(node_dir, "package-lock.json")
        if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(lock):
            progress.done("setup: npm ci (bench/peers/node)")
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=node_dir,
                           check=True)
    progress.done(f"setup: scripts/build.sh {args.build_dir} -DHL_BENCH_PEERS=ON")
    env = dict(os.environ)
    env.setdefault("CC", "gcc")
    subprocess.run([os.path.join(SOURCE, "scripts", "build.sh"), args.build_dir,
                    "-DHL_BENCH_PEERS=ON"], check=True, env=env,
                   stdout=subprocess.DEVNULL if not args.verbose else None)


def parse(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="every scenario, short (< 2 min)")
    mode.add_argument("--smoke", action="store_true",
                      help="the steady scenario, one short round (for the test)")
    ap.add_argument("--scenarios", help="comma-separated subset of: "
                    + ",".join(scenarios.ORDER) + " (or 'none')")
    ap.add_argument("--contenders", default="hookline,wrk,curl,node")
    ap.add_argument("--rounds", type=int, help="rounds (default 3)")
    ap.add_argument("--micro", action="store_true",
                    help="also run the micro-benchmarks (bench/*_bench) and keep their output")
    ap.add_argument("--nginx", action="store_true",
                    help="also run the steady scenario against nginx (full runs always do)")
    ap.add_argument("--receiver", choices=("auto", "sink", "nginx"), default="auto",
                    help="auto: hookline-sink when built, else nginx")
    ap.add_argument("--no-setup", action="store_true",
                    help="do not install packages, npm ci or build")
    ap.add_argument("--build-dir", default=os.path.join(SOURCE, "build", "bench"))
    ap.add_argument("--results-dir", help="default bench/results/<timestamp>")
    ap.add_argument("--hl-workers", type=int, default=1,
                    help="hookline run --workers (default 1: one core, like the peers)")
    ap.add_argument("--sink-workers", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    return ap.parse_args(argv)


def pick_mode(args):
    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    mode = scenarios.MODES[name]
    if args.rounds:
        mode.rounds = mode.conc_rounds = mode.failing_rounds = mode.other_rounds = args.rounds
    chosen = list(mode.scenarios)
    if args.scenarios:
        chosen = [] if args.scenarios == "none" else args.scenarios.split(",")
        for s in chosen:
            if s not in scenarios.ORDER:
                sys.exit(f"bench/run: unknown scenario '{s}' (known: {', '.join(scenarios.ORDER)})")
    if args.nginx and "nginx" not in chosen:
        chosen.append("nginx")
    return name, mode, [s for s in scenarios.ORDER if s in chosen]


def make_receiver(kind, ctx, workdir, args):
    if kind == "nginx":
        return receivers.Nginx(ctx.certs, workdir, preexec=raise_open_files)
    return receivers.Sink(sink_binary(args.build_dir), ctx.certs, ctx.payload.secret_file,
                          workdir, workers=args.sink_workers, preexec=raise_open_files)


def sink_binary(build):
    return os.path.join(build, "hookline-sink")


def probe_hookline(hl, ctx, args, workdir):
    """Does `hookline run` deliver? One endpoint, a few messages, a few
    seconds: if nothing arrives the engine is not there yet, and the hookline
    contender is reported as pending instead of measured."""
    ok, why = hl.available()
    if not ok:
        return why
    rx = make_receiver("sink" if os.access(sink_binary(args.build_dir), os.X_OK) else "nginx",
                       ctx, os.path.join(workdir, "probe-receiver"), args)
    try:
        ports = rx.start(receivers.Layout(1))
        wl = contenders.Workload([contenders.Group(1, [scenarios.url(ports[0])])], 0, 0,
                                 rate=20, tail_s=1.0)
        run = hl.start(wl, ring_wait_s=5)
        run.go()
        give_up = time.monotonic() + 6
        got = 0
        while time.monotonic() < give_up and got == 0:
            time.sleep(0.2)
            got = rx.stats()["ok"]
        run.finish(timeout_s=30)
        if got == 0:
            return ("`hookline run` delivered nothing to the receiver within 6 s "
                    "(the engine has not landed yet)")
        return None
    except contenders.EngineNotReady:
        return "`hookline run` does not create its ring yet (the engine has not landed)"
    except RuntimeError as e:
        return f"hookline could not be started: {e}"
    finally:
        rx.stop()


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    args.build_dir = os.path.abspath(args.build_dir)
    raise_open_files()
    mode_name, mode, chosen = pick_mode(args)
    wanted = [c for c in args.contenders.split(",") if c]
    for c in wanted:
        if c not in CONTENDERS:
            sys.exit(f"bench/run: unknown contender '{c}' (known: {', '.join(CONTENDERS)})")
    progress = Progress()
    if not args.no_setup:
        setup(args, progress)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = os.path.abspath(args.results_dir or os.path.join(SOURCE, "bench", "results",
                                                                   stamp))
    os.makedirs(results_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="hlbench-")
    started = time.monotonic()
    out = {"schema": 1, "started": datetime.datetime.now().astimezone().isoformat(
        timespec="seconds"), "mode": mode_name, "git": git_rev(), "machine": machine(),
        "command": "bench/run " + " ".join(sys.argv[1:] if argv is None else argv),
        "contenders": {}, "pending": {}, "cases": {}, "runs": [], "summary": {}}
    # Children are started by us and stopped by us; a signal stops the run
    # cleanly (receivers and contenders are torn down in finally).
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        ctx = contenders.Context(SOURCE, args.build_dir, payload.Payload(workdir),
                                 certs.make(workdir), workdir, raise_open_files,
                                 hl_workers=args.hl_workers)
        rx_kind = args.receiver
        if rx_kind == "auto":
            rx_kind = "sink" if os.access(sink_binary(args.build_dir), os.X_OK) else "nginx"
            if rx_kind == "nginx":
                progress.done("receiver: hookline-sink is not built; using nginx")
        out["receiver"] = rx_kind
        every = contenders.make_all(ctx)
        active = []
        for name in wanted:
            c = every[name]
            if name == "hookline" and chosen:
                progress.update("probing hookline run")
                c.pending = probe_hookline(c, ctx, args, workdir)
            ok, why = c.available()
            out["contenders"][name] = {"available": ok, "reason": why}
            if ok:
                active.append(c)
            else:
                out["pending"][name] = why
                progress.done(f"{name}: not run: {why}")
        order = [c.name for c in active]
        if args.micro:
            out["micro"] = micro.run(args.build_dir, SOURCE, mode_name, progress)
        for scen in chosen:
            run_scenario(scen, mode, active, ctx, args, workdir, rx_kind, out, progress)
        out["summary"] = report.summarize(out["runs"], order)
        text = report.table(out["summary"], out["pending"],
                            {k: v for k, v in out["cases"].items()})
        if out.get("micro"):
            text += "\n\n== micro-benchmarks (output in results.json, \"micro\")\n" + "\n".join(
                f"{k:40} {v.get('seconds', '-'):>6} s  exit {v.get('exit', v.get('skipped'))}"
                for k, v in out["micro"].items())
    except KeyboardInterrupt:
        print("\nbench/run: interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out["elapsed_s"] = round(time.monotonic() - started, 1)
    m = out["machine"]
    header = (f"hookline bench, {out['started']}, mode {mode_name}, git {out['git']}, "
              f"receiver {out['receiver']}\n{m['nproc']} CPUs ({m['cpu_model']}), kernel "
              f"{m['kernel']}, load at start {m['loadavg_at_start']}; shared machine: compare "
              f"rows of one run, not runs")
    with open(os.path.join(results_dir, "results.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(results_dir, "table.txt"), "w") as f:
        f.write(header + "\n" + text + "\n")
    with open(os.path.join(results_dir, "plot.svg"), "w") as f:
        f.write(svg.render(out["summary"], order, "hookline vs peers",
                           f"{out['started']} - {m['nproc']} x {m['cpu_model']} - kernel "
                           f"{m['kernel']} - {mode_name} - receiver {out['receiver']} "
                           f"(shared machine)", pending=out["pending"]))
    print(header + "\n" + text)
    print(f"\nresults: {results_dir}/results.json, table.txt, plot.svg "
          f"({out['elapsed_s']:.0f} s)")
    return 0


def run_scenario(scen, mode, active, ctx, args, workdir, rx_kind, out, progress):
    if scen == "latency":
        cases = scenarios.latency(mode, lambda: latency_rate(out))
    elif scen == "nginx":
        cases = scenarios.nginx(mode)
    else:
        cases = getattr(scenarios, scen)(mode)
    rounds = {"concurrency": mode.conc_rounds, "failing": mode.failing_rounds,
              "many": mode.other_rounds, "latency": mode.other_rounds}.get(scen, mode.rounds)
    kind = "nginx" if scen == "nginx" else rx_kind
    rx = make_receiver(kind, ctx, os.path.join(workdir, f"rx-{scen}"), args)
    try:
        progress.update(f"{scen}: starting {rx.name}")
        ports = rx.start(cases[0].layout)
        for case in cases:
            out["cases"][case.key] = dict(case.info)
        for r in range(1, rounds + 1):
            for case in cases:
                wl = case.workload_for(ports)
                if "rate_basis" in wl.notes:
                    out["cases"][case.key]["rate"] = round(wl.rate)
                    out["cases"][case.key]["rate_basis"] = wl.notes["rate_basis"]
                for c in active:
                    ok, why = c.supports(wl)
                    if not ok:
                        out["cases"][case.key].setdefault("not_applicable", {})[c.name] = why
                        continue
                    t_run = time.monotonic()
                    try:
                        res = measure(case.key, r, c, wl, rx, progress)
                    except RuntimeError as e:
                        progress.done(f"{case.key} round {r} {c.name}: FAILED: {e}")
                        out["runs"].append({"case": case.key, "round": r, "contender": c.name,
                                            "failed": str(e), "deliveries_per_s": None})
                        continue
                    res["elapsed_s"] = round(time.monotonic() - t_run, 2)
                    out["runs"].append(res)
                    lat = res.get("latency_us") or {}
                    errs = sum(v for v in res["errors"].values() if v)
                    progress.done(
                        f"{case.key:18} round {r} {c.name:9} {res['deliveries_per_s']:>10,.0f}/s"
                        f"  CPU {_f(res['cpu_us_per_delivery'])} us/d"
                        f"  sink {_f(res['sink_cpu_us_per_delivery'])} us/d"
                        f"  p99 {lat.get('p99', '-')} us  errors {errs}"
                        + (f"  in flight {res['inflight_median']:,.0f}"
                           if scen == "concurrency" else ""))
    finally:
        rx.stop()


def _f(v):
    return "-" if v is None else f"{v:.2f}"


def latency_rate(out):
    """Half of hookline's median steady peak; without it (hookline pending or
    steady not run), half of the fastest contender's, said so."""
    def med(name):
        v = [r["deliveries_per_s"] for r in out["runs"]
             if r["case"] == "steady" and r["contender"] == name and r.get("deliveries_per_s")]
        return statistics.median(v) if v else None
    hl = med("hookline")
    if hl:
        return hl / 2, "half of hookline's steady peak"
    peaks = {n: med(n) for n in ("curl", "node", "wrk")}
    peaks = {n: v for n, v in peaks.items() if v}
    if peaks:
        name = max(peaks, key=peaks.get)
        return peaks[name] / 2, f"half of {name}'s steady peak (hookline's was not measured)"
    return 5000.0, "5,000/s (no steady peak measured)"
