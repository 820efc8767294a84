"""The plot, written as SVG by hand (no plotting library): deliveries/s per
contender for every case (bars, each case on its own scale, the value
printed), and latency percentiles per contender (log scale) for the fixed-
rate latency case and the closed-loop steady case."""
import math
from xml.sax.saxutils import escape

COLORS = {"hookline": "#1f6fb4", "wrk": "#8c8c8c", "curl": "#2ca02c", "node": "#e6801a"}
PCTS = ("p50", "p90", "p99", "p99.9", "max")
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


def _text(x, y, s, size=12, anchor="start", weight="normal", fill="#222"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}" {FONT}>{escape(str(s))}</text>')


def _si(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.1f}k"
    return f"{v:,.0f}"


def _us(v):
    if v >= 1e6:
        return f"{v / 1e6:.1f} s"
    if v >= 1e3:
        return f"{v / 1e3:.1f} ms"
    return f"{v:.0f} us"


def throughput_panel(summary, order, pending, x0, y0, width):
    """Returns (svg parts, height)."""
    parts = [_text(x0, y0 + 16, "Deliveries per second (median of rounds; each case on its "
                   "own scale)", 15, weight="bold")]
    y = y0 + 34
    label_w, bar_h, gap = 190, 14, 3
    bar_w = width - label_w - 90
    for case, s in summary.items():
        rows = [(n, s["contenders"][n]["deliveries_per_s"]) for n in order
                if n in s["contenders"] and s["contenders"][n]["deliveries_per_s"]]
        if not rows:
            continue
        top = max(v for _, v in rows) or 1
        parts.append(_text(x0, y + bar_h - 2, case, 12, weight="bold"))
        for name, v in rows:
            w = max(1.0, bar_w * v / top)
            parts.append(f'<rect x="{x0 + label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                         f'fill="{COLORS.get(name, "#555")}"/>')
            parts.append(_text(x0 + label_w - 6, y + bar_h - 3, name, 11, anchor="end"))
            parts.append(_text(x0 + label_w + w + 5, y + bar_h - 3, _si(v), 11))
            y += bar_h + gap
        for name in pending:
            parts.append(_text(x0 + label_w - 6, y + bar_h - 3, name, 11, anchor="end",
                               fill="#999"))
            parts.append(_text(x0 + label_w, y + bar_h - 3, "pending (not measured)", 11,
                               fill="#999"))
            y += bar_h + gap
        y += 10
    return parts, y - y0


def latency_panel(title, lat, order, x0, y0, w, h):
    """Percentile lines, log-scale y. |lat| maps contender -> {pct: us}."""
    parts = [_text(x0, y0 + 14, title, 13, weight="bold")]
    px0, py0, pw, ph = x0 + 60, y0 + 28, w - 80, h - 75
    vals = [v for d in lat.values() for v in d.values() if v]
    if not vals:
        parts.append(_text(px0, py0 + 20, "no latency measured", 12))
        return parts
    lo = 10 ** math.floor(math.log10(max(1, min(vals))))
    hi = 10 ** math.ceil(math.log10(max(vals) + 1))
    if hi <= lo:
        hi = lo * 10

    def ypos(v):
        v = max(v, lo)
        return py0 + ph - ph * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    parts.append(f'<rect x="{px0}" y="{py0}" width="{pw}" height="{ph}" fill="none" '
                 f'stroke="#bbb"/>')
    d = lo
    while d <= hi:
        yy = ypos(d)
        parts.append(f'<line x1="{px0}" y1="{yy:.1f}" x2="{px0 + pw}" y2="{yy:.1f}" '
                     f'stroke="#eee"/>')
        parts.append(_text(px0 - 5, yy + 4, _us(d), 10, anchor="end"))
        d *= 10
    step = pw / (len(PCTS) - 1)
    for i, p in enumerate(PCTS):
        parts.append(_text(px0 + i * step, py0 + ph + 15, p, 10, anchor="middle"))
    lx = px0
    for name in order:
        if name not in lat:
            continue
        pts = [(px0 + i * step, ypos(lat[name][p])) for i, p in enumerate(PCTS)
               if lat[name].get(p)]
        if not pts:
            continue
        c = COLORS.get(name, "#555")
        parts.append('<polyline fill="none" stroke-width="2" stroke="%s" points="%s"/>'
                     % (c, " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)))
        for x, y in pts:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"/>')
        # The legend runs under the axis, where no line can cover it.
        ly = py0 + ph + 22
        parts.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{c}"/>')
        parts.append(_text(lx + 14, ly + 9, name, 10))
        lx += 24 + 7 * len(name)
    return parts


def render(summary, order, title, subtitle, pending=()):
    width = 900
    parts = [_text(20, 26, title, 17, weight="bold"), _text(20, 44, subtitle, 11, fill="#555")]
    tp, th = throughput_panel(summary, order, list(pending), 20, 56, width - 40)
    parts += tp
    y = 56 + th + 10
    lat_cases = [(c, t) for c, t in (("latency", "Latency at a fixed rate (percentiles)"),
                                     ("steady", "Latency, steady closed loop"))
                 if c in summary]
    ph = 280
    if lat_cases:
        w = (width - 40) // len(lat_cases)
        for i, (case, t) in enumerate(lat_cases):
            lat = {n: c["latency_us"] for n, c in summary[case]["contenders"].items()
                   if c.get("latency_us")}
            parts += latency_panel(t, lat, order, 20 + i * w, y, w, ph)
        y += ph
    height = y + 20
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(parts) + "\n</svg>\n")
