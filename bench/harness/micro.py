"""--micro: the micro-benchmark programs (bench/<name>.c, one program each,
and peers such as bench_hmac_ipsecmb), run one after the other; their text
output is kept in the results JSON. Programs are run with their default
arguments unless ARGS says otherwise (commands, or shorter runs for
--quick); a program not listed here runs with none, so new benchmarks are
picked up as they land."""
import glob
import os
import subprocess
import time

NOT_MICRO = {"produce", "load"}  # bench/*.c that are tools (harness, load generator)

# name -> {mode: [argument lists, one run each]}; "full" also covers smoke.
ARGS = {
    "dns_bench": {"full": [["hit"], ["cold"]]},
    "tls_bench": {"full": [["mem"], ["cpu"]]},
    "loop_bench": {"quick": [["timers"], ["socket"], ["echo", "64", "1"]]},
    "ring_bench": {"quick": [["--messages", "1000000", "--idle-seconds", "2", "--repeat", "1"]]},
    "hmac_mb_bench": {"quick": [["--reps", "3"]]},
    "bench_hmac_ipsecmb": {"quick": [["--reps", "3"]]},
}


def arg_lists(name, mode):
    a = ARGS.get(name, {})
    return a.get(mode) or a.get("full") or [[]]


def programs(build, source):
    names = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(source, "bench",
                                                                            "*.c")))
    names = [n for n in names if n not in NOT_MICRO]
    names += sorted(os.path.basename(p) for p in glob.glob(os.path.join(build, "bench_*"))
                    if os.access(p, os.X_OK))
    return names


def run(build, source, mode, progress, timeout_s=600):
    out = {}
    for name in programs(build, source):
        path = os.path.join(build, name)
        if not os.access(path, os.X_OK):
            out[name] = {"skipped": "not built"}
            continue
        for args in arg_lists(name, mode):
            key = " ".join([name] + args)
            progress.update(f"micro: {key}")
            t = time.monotonic()
            try:
                r = subprocess.run([path] + args, capture_output=True, text=True,
                                   timeout=timeout_s)
                out[key] = {"exit": r.returncode, "seconds": round(time.monotonic() - t, 1),
                            "output": r.stdout + (r.stderr if r.returncode else "")}
            except subprocess.TimeoutExpired:
                out[key] = {"exit": None, "seconds": timeout_s, "output": "timed out"}
            progress.done(f"micro: {key} ({out[key]['seconds']} s, exit {out[key]['exit']})")
    return out
