"""The scenarios (issue 7), each a receiver layout plus, per contender, a
Workload; sizes and durations per mode (full, --quick, --smoke).

  steady       keep-alive, 64 connections, one endpoint, closed loop
  many         the same load spread over 1,000 endpoints (distinct ports on
               the receiver): every request goes to the next endpoint, so
               per-origin pooling matters
  concurrency  the receiver holds every response 2 s; in-flight deliveries
               ramp through steps up to 15,000 (over 250 endpoints, 60 per
               origin: hookline's per-origin limit is 64); errors and memory
               per in-flight delivery
  latency      a fixed rate, half of hookline's measured steady peak,
               latency from the scheduled send time (no coordinated omission)
  failing      a healthy endpoint alone, then beside one that never answers
               (1 s timeout): the healthy one's deliveries/s in both cases
  nginx        steady against nginx instead of hookline-sink (full runs, or
               --nginx)
"""
from dataclasses import dataclass, field

from .contenders import Group, Workload
from .receivers import Layout

ORDER = ("steady", "many", "concurrency", "latency", "failing", "nginx")


@dataclass
class Mode:
    rounds: int
    warmup_s: float
    measure_s: float
    tail_s: float
    many_endpoints: int
    many_warmup_s: float
    conc_steps: list
    conc_rounds: int
    conc_endpoints: int
    failing_rounds: int
    other_rounds: int  # many, latency
    scenarios: tuple = ORDER


MODES = {
    "full": Mode(rounds=3, warmup_s=2.0, measure_s=5.0, tail_s=0.5, many_endpoints=1000,
                 many_warmup_s=6.0, conc_steps=[1000, 5000, 15000], conc_rounds=3,
                 conc_endpoints=250, failing_rounds=3, other_rounds=3),
    # Under two minutes with every contender: three rounds of the headline
    # comparison (steady), two of the others, one ramp step.
    "quick": Mode(rounds=3, warmup_s=0.4, measure_s=1.0, tail_s=0.3, many_endpoints=100,
                  many_warmup_s=1.0, conc_steps=[1000], conc_rounds=1, conc_endpoints=100,
                  failing_rounds=2, other_rounds=2, scenarios=ORDER[:-1]),
    "smoke": Mode(rounds=1, warmup_s=0.3, measure_s=0.8, tail_s=0.3, many_endpoints=8,
                  many_warmup_s=0.5, conc_steps=[64], conc_rounds=1, conc_endpoints=4,
                  failing_rounds=1, other_rounds=1, scenarios=("steady",)),
}

HOLD_MS = 2000
CONNS = 64


@dataclass
class Case:
    """One measured configuration of a scenario: every contender runs it in
    each round. |key| names it in the results (e.g. "concurrency/15000")."""
    scenario: str
    key: str
    workload_for: object   # function(urls) -> Workload
    layout: object = None
    info: dict = field(default_factory=dict)


def url(port, path="/hook"):
    return f"https://127.0.0.1:{port}{path}"


def steady(mode):
    def wl(ports):
        return Workload([Group(CONNS, [url(ports[0])])], mode.warmup_s, mode.measure_s,
                        tail_s=mode.tail_s, per_origin=CONNS)
    return [Case("steady", "steady", wl, Layout(1), {"conns": CONNS, "endpoints": 1})]


def many(mode):
    n = mode.many_endpoints

    def wl(ports):
        # The warm-up is long enough for a connection to every origin.
        return Workload([Group(CONNS, [url(p, f"/ep/{i}") for i, p in enumerate(ports)])],
                        mode.many_warmup_s, mode.measure_s, tail_s=mode.tail_s, per_origin=8)
    return [Case("many", "many", wl, Layout(n), {"conns": CONNS, "endpoints": n})]


def concurrency(mode):
    cases = []
    n = mode.conc_endpoints
    hold_s = HOLD_MS / 1000
    for step in mode.conc_steps:
        def wl(ports, step=step):
            urls = [url(p) for p in ports]
            # Peers: a closed loop of |step| requests, each held 2 s. hookline:
            # messages at step / 2 s, so that |step| are in flight; per-origin
            # limit enough for an even share plus slack.
            per_origin = min(64, -(-step // len(urls)) + 4)
            # Thousands of TLS handshakes at once would time out on two
            # cores: senders ramp up over step / 1,000 s (1,000 new
            # connections a second), and the warm-up lasts until the receiver
            # holds |step| requests.
            ramp_s = step / 1000
            w = Workload([Group(step, urls)], warmup_s=hold_s + mode.warmup_s,
                         measure_s=max(mode.measure_s, hold_s), tail_s=mode.tail_s,
                         timeout_ms=10000, per_origin=per_origin, ramp_s=ramp_s,
                         ramp_inflight=step, ramp_max_s=2 * ramp_s + 10,
                         ramp_settle_s=min(1.0, mode.warmup_s))
            w.notes["hookline_rate"] = step / hold_s
            # A cursor keeps at most HL_RING_LANE_INFLIGHT_DEFAULT (4,096)
            # records of one lane unreleased: more in flight need more lanes.
            w.notes["producer_lanes"] = min(16, -(-step // 3000))
            w.notes["inflight_target"] = step
            w.notes["wrk_one_url_ok"] = True
            return w
        cases.append(Case("concurrency", f"concurrency/{step}", wl,
                          Layout(n, hold_ms=HOLD_MS, hold=range(n)),
                          {"inflight_target": step, "hold_ms": HOLD_MS, "endpoints": n}))
    return cases


def latency(mode, rate_of):
    """|rate_of()| is decided when the case runs: half of hookline's steady
    peak, measured earlier in the same run."""
    def wl(ports):
        w = Workload([Group(CONNS, [url(ports[0])])], mode.warmup_s, mode.measure_s,
                     tail_s=mode.tail_s, per_origin=CONNS)
        w.rate, w.notes["rate_basis"] = rate_of()
        return w
    return [Case("latency", "latency", wl, Layout(1, stamp=True), {"conns": CONNS})]


def failing(mode):
    def alone(ports):
        return Workload([Group(CONNS, [url(ports[0])])], mode.warmup_s, mode.measure_s,
                        tail_s=mode.tail_s, timeout_ms=1000, per_origin=CONNS)

    def beside(ports):
        return Workload([Group(CONNS, [url(ports[0])]),
                         Group(CONNS, [url(ports[1], "/failing")], role="failing")],
                        mode.warmup_s, mode.measure_s, tail_s=mode.tail_s, timeout_ms=1000,
                        per_origin=CONNS)
    layout = Layout(2, failing=[1])
    return [Case("failing", "failing/alone", alone, layout, {"variant": "alone"}),
            Case("failing", "failing/beside", beside, layout,
                 {"variant": "beside a never-answering endpoint (1 s timeout)"})]


def nginx(mode):
    cases = steady(mode)
    for c in cases:
        c.scenario, c.key = "nginx", "nginx"
    return cases
