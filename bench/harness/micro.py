"""--micro: the micro-benchmark programs (bench/<name>.c, one program each,
and peers such as bench_hmac_ipsecmb), run one after the other with their
default arguments; their text output is kept in the results JSON."""
import glob
import os
import subprocess
import time

NOT_MICRO = {"produce"}  # bench/*.c that are parts of the harness, not benchmarks


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
        progress.update(f"micro: {name}")
        t = time.monotonic()
        try:
            r = subprocess.run([path], capture_output=True, text=True, timeout=timeout_s)
            out[name] = {"exit": r.returncode, "seconds": round(time.monotonic() - t, 1),
                         "output": r.stdout + (r.stderr if r.returncode else "")}
        except subprocess.TimeoutExpired:
            out[name] = {"exit": None, "seconds": timeout_s, "output": "timed out"}
        progress.done(f"micro: {name} ({out[name]['seconds']} s, exit {out[name]['exit']})")
    return out
