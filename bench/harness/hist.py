"""The log-linear histogram geometry of engine/base/hist.h (HL_HIST_SUB_BITS
= 6), for histograms that arrive as bucket counts (hookline-sink's
--stamp-path buckets): subtract two cumulative snapshots, then read
percentiles. A percentile is the highest value of the bucket holding its
rank (so at most ~1.6 % above the true value); "max" is the highest value of
the highest non-empty bucket."""
SUB_BITS = 6
SUB = 1 << SUB_BITS
HALF = SUB // 2
PERCENTILES = (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9))


def index(v):
    if v < SUB:
        return v
    e = v.bit_length() - 1
    shift = e - (SUB_BITS - 1)
    return SUB + (e - SUB_BITS) * HALF + ((v >> shift) - HALF)


def bucket_high(i):
    if i < SUB:
        return i
    k = i - SUB
    e = k // HALF + SUB_BITS
    top = k % HALF + HALF
    shift = e - (SUB_BITS - 1)
    return (top << shift) + ((1 << shift) - 1)


def diff(after, before):
    """after - before, bucket by bucket ({index: count}, keys as ints)."""
    out = {}
    for k, v in after.items():
        d = v - before.get(k, 0)
        if d:
            out[int(k)] = d
    return out


def percentiles(buckets):
    """{"count", "p50", "p90", "p99", "p99.9", "max"} of {index: count}."""
    items = sorted((int(k), v) for k, v in buckets.items() if v > 0)
    count = sum(v for _, v in items)
    out = {"count": count}
    for name, p in PERCENTILES:
        if count == 0:
            out[name] = 0
            continue
        want = count * p / 100.0
        rank = max(1, int(want) + (1 if int(want) < want else 0))
        seen = 0
        for i, v in items:
            seen += v
            if seen >= rank:
                out[name] = bucket_high(i)
                break
    out["max"] = bucket_high(items[-1][0]) if items else 0
    return out
