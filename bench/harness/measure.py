"""One measured run: a contender against the receiver, with a warm-up and a
measured window in which the harness reads, at its start and at its end,
the receiver's counts, the contender's CPU (/proc/<pid>/stat) and the
receiver's CPU; memory (VmRSS, VmHWM) is read before the load and at the
end, in-flight requests at the receiver every quarter second.

Figures of one run:
  deliveries        2xx responses the receiver sent in the window
  deliveries_per_s  deliveries / window
  cpu_us_per_delivery   the sending process's user+sys CPU in the window /
                    deliveries (hookline: the `hookline run` process; its
                    producer is reported apart as producer_cpu_us_per_delivery)
  sink_cpu_us_per_delivery  the same for the receiver's processes
  rss_peak_kib      VmHWM of the sending process at the end
  rss_base_kib      VmRSS before the load (after start-up)
  anon_peak_kib     the most RssAnon (private heap, no shared memory or
                    files: hookline's ring pages are not in it) seen in the
                    window's samples; anon_base_kib before the load
  inflight_max / inflight_median  received-and-unanswered requests at the
                    receiver during the window (the concurrency scenario)
  latency_us        p50 p90 p99 p99.9 max, from the contender (see
                    latency_source)
  errors            by class: connect tls timeout io status other, from the
                    contender (peers: their own; hookline: its attempt log),
                    plus receiver-side bad_signature
"""
import statistics
import time

from . import hist, procstat


def _cpu(pids):
    total = 0.0
    for p in pids:
        c = procstat.cpu_s(p)
        if c is not None:
            total += c
    return total


def measure(case_key, round_no, contender, wl, receiver, progress):
    label = f"{case_key} round {round_no} {contender.name}"
    progress.update(f"{label}: starting")
    run = contender.start(wl)
    try:
        base = procstat.mem_kib(run.pid) or {}
        run.go()
        t_go = time.monotonic()
        sink_pids = receiver.pids()
        while time.monotonic() < t_go + wl.warmup_s:
            progress.update(f"{label}: warm-up {time.monotonic() - t_go:4.1f}/{wl.warmup_s:.1f} s")
            time.sleep(min(0.1, max(0.0, t_go + wl.warmup_s - time.monotonic())))
        ramp_s = ramp(wl, receiver, progress, label, t_go)
        s0 = receiver.stats()
        t0 = time.monotonic()
        c0, k0, p0 = _cpu([run.pid]), _cpu(sink_pids), _cpu(run.side_pids)
        inflight, rss_samples = [], []
        last = (t0, s0["ok"])
        while True:
            now = time.monotonic()
            if now >= t0 + wl.measure_s:
                break
            time.sleep(min(0.25, t0 + wl.measure_s - now))
            if time.monotonic() >= t0 + wl.measure_s - 0.05:
                continue
            s = receiver.stats()
            inflight.append(s["inflight"])
            m = procstat.mem_kib(run.pid)
            if m:
                rss_samples.append(m.get("anon", 0))
            t = time.monotonic()
            rate = (s["ok"] - last[1]) / max(1e-6, t - last[0])
            last = (t, s["ok"])
            progress.update(f"{label}: measure {t - t0:4.1f}/{wl.measure_s:.1f} s "
                            f"{rate:10,.0f}/s in flight {s['inflight']:,}")
        c1, k1, p1 = _cpu([run.pid]), _cpu(sink_pids), _cpu(run.side_pids)
        s1 = receiver.stats()
        t1 = time.monotonic()
        mem = procstat.mem_kib(run.pid) or {}
        rss_samples.append(mem.get("anon", 0))
        inflight.append(s1["inflight"])
        progress.update(f"{label}: finishing")
        run.stop()
        rep = run.finish(timeout_s=wl.duration_s + 60)
    except BaseException:
        run.kill()
        raise
    window = t1 - t0
    n = s1["ok"] - s0["ok"]
    lat = rep.get("latency_us")
    if contender.name == "hookline" and "stamp" in s1:
        # The producer stamped each message with its scheduled time; the
        # sink histogrammed received - scheduled (hookline-sink --stamp-path).
        lat = hist.percentiles(hist.diff(s1["stamp"]["buckets"], s0["stamp"]["buckets"]))
        lat["stamp_bad"] = s1["stamp"]["bad"] - s0["stamp"]["bad"]
        rep["latency_us"] = lat
    if lat is not None and not lat.get("count"):
        lat = None  # nothing completed in the contender's own window
    errors = dict(rep.get("errors", {}))
    errors["bad_signature"] = s1.get("sig_invalid", 0) - s0.get("sig_invalid", 0)
    statuses = {}
    for code, v in s1.get("by_status", {}).items():
        d = v - s0.get("by_status", {}).get(code, 0)
        if d:
            statuses[code] = d
    out = {
        "case": case_key,
        "round": round_no,
        "contender": contender.name,
        "window_s": round(window, 4),
        "ramp_s": round(ramp_s, 2) if ramp_s is not None else None,
        "deliveries": n,
        "deliveries_per_s": n / window if window > 0 else 0.0,
        "cpu_s": round(c1 - c0, 4),
        "cpu_us_per_delivery": (c1 - c0) * 1e6 / n if n > 0 else None,
        "sink_cpu_s": round(k1 - k0, 4),
        "sink_cpu_us_per_delivery": (k1 - k0) * 1e6 / n if n > 0 else None,
        "rss_base_kib": base.get("rss"),
        "rss_peak_kib": mem.get("hwm"),
        "rss_end_kib": mem.get("rss"),
        "anon_base_kib": base.get("anon"),
        "anon_peak_kib": max(rss_samples) if rss_samples else None,
        "inflight_max": max(inflight) if inflight else 0,
        "inflight_median": statistics.median(inflight) if inflight else 0,
        "receiver_status": statuses,
        "receiver_sig_valid": s1.get("sig_valid", 0) - s0.get("sig_valid", 0),
        "receiver_connections_opened": s1.get("connections", 0) - s0.get("connections", 0),
        "receiver_tls_handshakes": s1.get("tls_handshakes", 0) - s0.get("tls_handshakes", 0),
        "errors": errors,
        "latency_us": lat,
        "latency_source": latency_source(contender.name, rep, wl),
        "report": rep,
        "workload": {"conns": wl.conns, "rate": wl.rate, "groups": [
            {"conns": g.conns, "urls": len(g.urls), "role": g.role} for g in wl.groups],
            "warmup_s": wl.warmup_s, "measure_s": wl.measure_s, "timeout_ms": wl.timeout_ms,
            "per_origin": wl.per_origin, **wl.notes},
    }
    if run.side_pids:
        out["producer_cpu_s"] = round(p1 - p0, 4)
        out["producer_cpu_us_per_delivery"] = (p1 - p0) * 1e6 / n if n > 0 else None
    # Memory per in-flight delivery, over the most requests the receiver held
    # at once (closed-loop senders come in waves, so the median can be far
    # below the peak that set the memory): all of the peak RSS, and the
    # private heap the load added (anon peak - anon before the load).
    if out["rss_peak_kib"] and out["inflight_max"] > 0:
        out["rss_kib_per_inflight"] = out["rss_peak_kib"] / out["inflight_max"]
        if out["anon_peak_kib"] and out["anon_base_kib"] is not None:
            out["anon_added_kib_per_inflight"] = \
                max(0, out["anon_peak_kib"] - out["anon_base_kib"]) / out["inflight_max"]
    return out


def ramp(wl, receiver, progress, label, t_go):
    """The concurrency warm-up: until the receiver holds ramp_inflight
    requests (95 %), at most ramp_max_s, then ramp_settle_s more. Returns
    how long the ramp took (None without one)."""
    if not wl.ramp_inflight:
        return None
    t = time.monotonic()
    want = 0.95 * wl.ramp_inflight
    while time.monotonic() < t + wl.ramp_max_s:
        s = receiver.stats()
        progress.update(f"{label}: ramp {time.monotonic() - t_go:5.1f} s, in flight "
                        f"{s['inflight']:,}/{wl.ramp_inflight:,}")
        if s["inflight"] >= want:
            break
        time.sleep(0.25)
    took = time.monotonic() - t
    time.sleep(wl.ramp_settle_s)
    return took


def latency_source(name, rep, wl):
    lat = rep.get("latency_us") if rep else None
    if name == "wrk":
        return ("wrk's own: request sent -> response read, closed loop over its whole run "
                "(warm-up included), not corrected for coordinated omission"
                + ("; paced by a per-connection delay" if wl.rate > 0 else ""))
    if name == "hookline":
        if lat is None:
            return "not measured (the receiver reports no scheduled -> received times)"
        return "scheduled time (stamped by the producer) -> request received by the sink"
    if lat is None:
        return "not measured"
    if lat.get("measured_from") == "scheduled":
        return "scheduled send time -> response read (in the peer; no coordinated omission)"
    return "request sent -> response read (in the peer, closed loop)"
