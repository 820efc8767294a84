"""Summaries of the raw runs: the median of each figure per case and
contender over the rounds, the median of the pairwise ratios hookline/peer
(round by round: hookline's run and the peer's run of the same round), and
the text table."""
import statistics

PERCENTILES = ("p50", "p90", "p99", "p99.9", "max")
FIGURES = ("deliveries_per_s", "cpu_us_per_delivery", "sink_cpu_us_per_delivery",
           "rss_peak_kib", "inflight_median", "inflight_max", "rss_kib_per_inflight",
           "anon_peak_kib", "anon_added_kib_per_inflight", "producer_cpu_us_per_delivery")


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs, contenders_order):
    cases = {}
    for r in runs:
        cases.setdefault(r["case"], []).append(r)
    out = {}
    for case, rs in cases.items():
        per = {}
        for name in contenders_order:
            mine = [r for r in rs if r["contender"] == name]
            if not mine:
                continue
            s = {"rounds": len(mine)}
            for f in FIGURES:
                s[f] = _median([r.get(f) for r in mine])
            lat = [r.get("latency_us") for r in mine if r.get("latency_us")]
            if lat:
                s["latency_us"] = {p: _median([l.get(p) for l in lat]) for p in PERCENTILES}
            s["latency_source"] = mine[0].get("latency_source")
            errs = {}
            for r in mine:
                for k, v in (r.get("errors") or {}).items():
                    errs[k] = errs.get(k, 0) + (v or 0)
            s["errors_total"] = {k: v for k, v in errs.items() if v}
            per[name] = s
        ratios = {}
        hl = {r["round"]: r for r in rs if r["contender"] == "hookline"}
        for name in contenders_order:
            if name == "hookline" or name not in per or not hl:
                continue
            peer = {r["round"]: r for r in rs if r["contender"] == name}
            rr = {}
            for f in ("deliveries_per_s", "cpu_us_per_delivery"):
                pairs = [hl[k][f] / peer[k][f] for k in hl if k in peer
                         and hl[k].get(f) and peer[k].get(f)]
                rr[f] = statistics.median(pairs) if pairs else None
            ratios[name] = rr
        out[case] = {"contenders": per, "ratio_hookline_over_peer": ratios}
    # failing: the healthy endpoint beside a failing one vs alone, per contender.
    if "failing/alone" in cases and "failing/beside" in cases:
        iso = {}
        for name in contenders_order:
            alone = {r["round"]: r for r in cases["failing/alone"] if r["contender"] == name}
            beside = {r["round"]: r for r in cases["failing/beside"] if r["contender"] == name}
            pairs = [beside[k]["deliveries_per_s"] / alone[k]["deliveries_per_s"]
                     for k in alone if k in beside and alone[k]["deliveries_per_s"]]
            if pairs:
                iso[name] = statistics.median(pairs)
        out["failing/beside"]["healthy_beside_over_alone"] = iso
    return out


def _fmt(v, digits=0, scale=1.0):
    if v is None:
        return "-"
    v = v * scale
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def table(summary, pending, case_info):
    lines = []
    head = (f"{'':10} {'deliv/s':>10} {'CPU us/d':>9} {'sink us/d':>9} {'RSS MiB':>8} "
            f"{'anon':>6} {'p50 us':>8} {'p90':>7} {'p99':>7} {'p99.9':>7} {'max':>8}  errors")
    for case, s in summary.items():
        info = case_info.get(case, {})
        desc = ", ".join(f"{k} {v}" for k, v in info.items())
        lines.append(f"\n== {case}" + (f" ({desc})" if desc else ""))
        conc = case.startswith("concurrency")
        lines.append(head + ("   in flight: max median  KiB each (RSS, added anon)"
                             if conc else ""))
        for name, c in s["contenders"].items():
            lat = c.get("latency_us") or {}
            errs = ", ".join(f"{k} {v:,}" for k, v in c["errors_total"].items()) or "none"
            row = (f"{name:10} {_fmt(c['deliveries_per_s']):>10} "
                   f"{_fmt(c['cpu_us_per_delivery'], 2):>9} "
                   f"{_fmt(c['sink_cpu_us_per_delivery'], 2):>9} "
                   f"{_fmt(c['rss_peak_kib'], 1, 1 / 1024):>8} "
                   f"{_fmt(c['anon_peak_kib'], 1, 1 / 1024):>6} "
                   f"{_fmt(lat.get('p50')):>8} {_fmt(lat.get('p90')):>7} "
                   f"{_fmt(lat.get('p99')):>7} {_fmt(lat.get('p99.9')):>7} "
                   f"{_fmt(lat.get('max')):>8}  {errs}")
            if conc:
                row += (f"   {_fmt(c.get('inflight_max')):>14} {_fmt(c.get('inflight_median')):>6}"
                        f"  {_fmt(c.get('rss_kib_per_inflight'), 1):>8}"
                        f" {_fmt(c.get('anon_added_kib_per_inflight'), 1):>6}")
            lines.append(row)
        for name in pending:
            lines.append(f"{name:10} pending: {pending[name]}")
        for peer, r in s.get("ratio_hookline_over_peer", {}).items():
            d, c = r.get("deliveries_per_s"), r.get("cpu_us_per_delivery")
            less = "" if not c else f" ({1 / c:.1f}x less)" if c <= 1 else f" ({c:.1f}x more)"
            lines.append(f"  hookline/{peer}: deliveries/s x{_fmt(d, 2)}, CPU per delivery "
                         f"x{_fmt(c, 2)}{less}")
        iso = s.get("healthy_beside_over_alone")
        if iso:
            lines.append("  healthy endpoint beside a failing one / alone: "
                         + ", ".join(f"{k} x{v:.2f}" for k, v in iso.items()))
    return "\n".join(lines)
