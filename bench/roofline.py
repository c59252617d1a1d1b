"""Every streaming measure as a share of the read roofline, from DRAM and from cache.

    python bench/roofline.py                       # the whole table (~4 minutes on 2 cores)
    python bench/roofline.py --quick               # 3 rounds, smaller DRAM inputs (~1.5 minutes)
    python bench/roofline.py --measures entropy kl_divergence --dtypes float32
    python bench/roofline.py --json bench/results-<date>-roofline.json
    python bench/roofline.py --report OLD.json NEW.json   # a Markdown table of saved runs

For each measure, dtype and thread count it times, interleaved round by round:

* the measure on a batch of at least 10^8 elements (rows come from DRAM), and
* the read roofline on the same arrays with the same threads: a compiled, vectorized
  plain sum (``read_roofline``), which reads every byte the measure reads; for a measure
  that writes an output as large as its input (surprisal), the read-and-write roofline
  (``read_write_roofline``: each row summed and its sum stored across the output's row),
  into a new array when the measure returns a new array (its pages are faulted in and
  zeroed by the operating system in both) or into the measure's ``out=``;
* the same measure on a slice of about 2 MB that stays in cache (called repeatedly), to tell
  a memory-bound kernel from a compute-bound one.

It prints medians: the time, the measure's input bandwidth in GB/s, its share of the
roofline (roofline time / measure time), the ratio DRAM / cache throughput, and which
way a float64/float32 row meets the streaming target (``verdict``: "share" of the roofline,
"cache": compute-bound and as fast from DRAM as in cache, within 10 %; "NO"). 2-byte
inputs (bfloat16, float16) are read by the roofline as float32 words over the same bytes.
Needs the compiled fastinfo (an in-place build or an install).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

import fastinfo as fi
from fastinfo._dispatch import kernels

# (name, kind, default shape (rows, cols), call)
#   kind "p": one probability array; "pq": two; "x": logits; "xy": two logit arrays;
#   "xl": logits and integer labels
MEASURES = {
    "entropy": ("p", lambda a, n: fi.entropy(a[0], n_threads=n, normalize=False)),
    "surprisal": ("p", lambda a, n: fi.surprisal(a[0], n_threads=n)),   # also writes a new output
    "surprisal_out": ("po", lambda a, n: fi.surprisal(a[0], out=a[1], n_threads=n)),
    "renyi_entropy_a2": ("p", lambda a, n: fi.renyi_entropy(a[0], 2.0, n_threads=n, normalize=False)),
    "tsallis_entropy_q2": ("p", lambda a, n: fi.tsallis_entropy(a[0], 2.0, n_threads=n, normalize=False)),
    "cross_entropy": ("pq", lambda a, n: fi.cross_entropy(a[0], a[1], n_threads=n, normalize=False)),
    "kl_divergence": ("pq", lambda a, n: fi.kl_divergence(a[0], a[1], n_threads=n, normalize=False)),
    "js_divergence": ("pq", lambda a, n: fi.js_divergence(a[0], a[1], n_threads=n, normalize=False)),
    "renyi_divergence_a2": ("pq", lambda a, n: fi.renyi_divergence(a[0], a[1], 2.0, n_threads=n,
                                                                   normalize=False)),
    "hellinger_distance": ("pq", lambda a, n: fi.hellinger_distance(a[0], a[1], n_threads=n, normalize=False)),
    "total_variation": ("pq", lambda a, n: fi.total_variation(a[0], a[1], n_threads=n, normalize=False)),
    "logsumexp": ("x", lambda a, n: fi.logsumexp(a[0], n_threads=n)),
    "softmax_entropy": ("x", lambda a, n: fi.softmax_entropy(a[0], n_threads=n)),
    "softmax_cross_entropy": ("xl", lambda a, n: fi.softmax_cross_entropy(a[0], a[1], n_threads=n)),
    "softmax_kl_divergence": ("xy", lambda a, n: fi.softmax_kl_divergence(a[0], a[1], n_threads=n)),
    "softmax_kl_divergence_t2": ("xy", lambda a, n: fi.softmax_kl_divergence(a[0], a[1], temperature=2.0,
                                                                             n_threads=n)),
    "softmax_js_divergence": ("xy", lambda a, n: fi.softmax_js_divergence(a[0], a[1], n_threads=n)),
}
SHAPES = {"p": (100_000, 1_000), "po": (100_000, 1_000), "pq": (100_000, 1_000), "x": (1_024, 128_000),
          "xy": (1_024, 128_000), "xl": (1_024, 128_000)}
CACHED_ROWS = {"p": 256, "po": 256, "pq": 128, "x": 4, "xy": 2, "xl": 4}   # ~2 MB: in L3


WRITES = {"surprisal", "surprisal_out"}   # write an output as large as the input: roofline counts it
ONE_ARRAY = {"entropy", "surprisal", "surprisal_out", "renyi_entropy_a2", "tsallis_entropy_q2", "logsumexp", "softmax_entropy"}


def verdict(name, dtype, share, dram_vs_cache):
    """The streaming-kernel target: float64 >= 70 % of the read roofline, float32 >= 70 % (two
    arrays) or >= 55 % (one array) -- or, for a kernel slower than that even in cache
    (compute-bound), a DRAM throughput within 10 % of its in-cache throughput. "" for
    2-byte input (its target is relative to float32). A measure that writes (WRITES) is held
    to the read-and-write roofline; for surprisal with a new output, its DRAM call faults in
    new pages and its in-cache call reuses freed heap memory, so only the share can meet it."""
    if dtype not in ("float64", "float32"):
        return ""
    target = 0.55 if dtype == "float32" and name in ONE_ARRAY else 0.70
    if share >= target:
        return "share"
    return "cache" if dram_vs_cache >= 0.90 else "NO"


def _dtype(name):
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def make_inputs(kind, shape, dtype, rng):
    n, k = shape
    if kind == "po":                      # p and the float output surprisal writes into
        p = make_inputs("p", shape, dtype, rng)[0]
        out = np.zeros(shape, np.float64 if p.dtype == np.float64 else np.float32)
        return [p, out]
    if kind in ("p", "pq"):
        arrays = []
        for _ in range(2 if kind == "pq" else 1):
            a = rng.random(shape, dtype=np.float32) + np.float32(1e-3)
            a /= a.sum(axis=1, keepdims=True)
            arrays.append(a.astype(dtype))
        return arrays
    x = (rng.standard_normal(shape, dtype=np.float32) * np.float32(3)).astype(dtype)
    if kind == "x":
        return [x]
    if kind == "xl":
        return [x, rng.integers(0, k, size=n).astype(np.int64)]
    y = (rng.standard_normal(shape, dtype=np.float32) * np.float32(3)).astype(dtype)
    return [x, y]


def _roof_view(a):
    """The bytes of a as a 2-D float32/float64 array for read_roofline."""
    if a.dtype.itemsize == 2:
        return a.view(np.uint16).reshape(a.shape[0], -1).view(np.float32)
    if a.dtype in (np.float32, np.float64):
        return a
    return None


def roofline(arrays, n_threads, kind="p", writes=False):
    """The read roofline of the measure's inputs; with writes, the read-and-write roofline
    of its first input and its output: arrays[1] ("po"), else a new array as the measure's."""
    if writes:
        p = arrays[0]
        out = arrays[1] if kind == "po" else np.empty(p.shape, np.float64 if p.dtype == np.float64
                                                       else np.float32)
        kernels.read_write_roofline(_roof_view(p), out, n_threads)
        return
    for a in arrays:
        v = _roof_view(a)
        if v is not None:
            kernels.read_roofline(v, n_threads)


def timed(fn, reps=1):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def _pct(share):
    """A share in percent with one decimal, rounded down: a share shown at the target meets it."""
    return f"{math.floor(share * 1000 + 1e-6) / 10:.1f}"   # (1e-6: 0.08 / 0.1 is 0.7999...)


def _summary(row):
    """(ms, share, DRAM/cache, verdict) of one saved row: the medians the live table prints."""
    mf, mr, mc = (statistics.median(row[k]) for k in ("fastinfo_s", "roofline_s", "cached_s"))
    share = mr / mf
    dram_vs_cache = (row["bytes"] / mf) / (row["cached_bytes"] / mc)
    return mf * 1e3, share, dram_vs_cache, verdict(row["measure"], row["dtype"], share, dram_vs_cache)


def report(paths):
    """A Markdown table of the float64/float32 cells of one or more saved runs (``--json``),
    side by side in the order given, and the count of cells that meet the target in each."""
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append({(r["measure"], r["dtype"], r["threads"]): _summary(r) for r in json.load(f)["rows"]
                         if r["dtype"] in ("float64", "float32")})
    keys = [k for k in runs[-1] if all(k in run for run in runs)]
    tag = (lambda i: f" ({i + 1})") if len(runs) > 1 else (lambda i: "")
    cols = [f"{c}{tag(i)}" for c in ("ms", "share", "DRAM / cache", "verdict") for i in range(len(runs))]
    lines = ["| measure | dtype | threads | " + " | ".join(cols) + " |", "|---" * (3 + len(cols)) + "|"]
    v = lambda x: f"**{x.lower()}**" if x == "NO" else x
    for key in keys:
        cells = [run[key] for run in runs]
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(
            [f"{c[0]:.1f}" for c in cells] + [f"{_pct(c[1])}%" for c in cells]
            + [f"{c[2]:.2f}x" for c in cells] + [v(c[3]) for c in cells]) + " |")
    met = [sum(run[k][3] != "NO" for k in keys) for run in runs]
    lines.append("")
    lines.append("Cells meeting the target: " + ", ".join(f"{m} of {len(keys)}{tag(i)}" for i, m in enumerate(met)))
    print("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--measures", nargs="+", default=list(MEASURES), choices=list(MEASURES))
    ap.add_argument("--dtypes", nargs="+", default=["float64", "float32", "bfloat16"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="3 rounds, half-size DRAM inputs")
    ap.add_argument("--json", help="write every sample here")
    ap.add_argument("--report", nargs="+", metavar="JSON", help="print saved runs as a Markdown table; time nothing")
    args = ap.parse_args(argv)
    if args.report:
        report(args.report)
        return 0
    rounds = 3 if args.quick else args.rounds
    rng = np.random.default_rng(0)
    rows = []
    print(f"fastinfo {fi.__version__}, SIMD {fi.config()['simd']}, "
          f"{os.cpu_count()} CPUs, logit prefetch plan {kernels.prefetch_plan()}", flush=True)
    hdr = f"{'measure':26s} {'dtype':9s} thr  {'ms':>8s} {'GB/s':>6s} {'roof%':>6s} {'dram/cache':>10s}  target"
    print(hdr)
    for name in args.measures:
        kind, call = MEASURES[name]
        for dt in args.dtypes:
            dtype = _dtype(dt)
            shape = SHAPES[kind]
            if args.quick:
                shape = (shape[0] // 2, shape[1])
            try:
                arrays = make_inputs(kind, shape, dtype, rng)
                call(arrays, 1)
            except Exception as exc:   # a dtype the measure does not take natively
                print(f"{name:26s} {dt:9s}  skipped: {type(exc).__name__}: {str(exc)[:60]}", flush=True)
                continue
            inputs = 1 if kind == "po" else len(arrays)     # the bytes read (GB/s: input bandwidth)
            nbytes = sum(a.nbytes for a in arrays[:inputs] if a.dtype.kind == "f" or a.dtype.itemsize == 2)
            cr = CACHED_ROWS[kind]
            cached = [a[:cr] for a in arrays]
            cached_bytes = sum(a.nbytes for a in cached[:inputs] if a.dtype.kind == "f" or a.dtype.itemsize == 2)
            writes = name in WRITES
            reps = max(1, int(2e7 // max(cached_bytes, 1)))
            for n in args.threads:
                t_fi, t_roof, t_cache = [], [], []
                for _ in range(rounds):
                    t_roof.append(timed(lambda: roofline(arrays, n, kind, writes)))
                    t_fi.append(timed(lambda: call(arrays, n)))
                    t_cache.append(timed(lambda: call(cached, n), reps))
                rows.append(dict(measure=name, dtype=dt, threads=n, shape=list(shape), bytes=nbytes,
                                 fastinfo_s=t_fi, roofline_s=t_roof, cached_s=t_cache,
                                 cached_bytes=cached_bytes, cached_reps=reps))
                ms, share, dram_vs_cache, v = _summary(rows[-1])
                print(f"{name:26s} {dt:9s} {n:3d}  {ms:8.1f} {nbytes / ms / 1e6:6.2f} {_pct(share):>5s}% "
                      f"{dram_vs_cache:9.2f}x  {v}", flush=True)
            del arrays, cached
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(cpu=os.cpu_count(), prefetch_plan=kernels.prefetch_plan(), rows=rows), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
