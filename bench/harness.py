"""Benchmark workloads and the interleaved side-by-side runner.

The one implementation behind ``bench/run.py`` and the pytest-benchmark suite
``bench/test_bench_measures.py``; ``bench/plot.py`` draws its JSON.

A *workload* is a measure on a batch of a given shape and dtype (p with ~1 %
exact zeros, q strictly positive, rows normalized). Its *contenders* are the
same computation through fastinfo's public API (per thread count), the NumPy
baseline (``bench/numpy_baseline.py``), SciPy and PyTorch where they have the
function, and the *roofline*: a compiled, vectorized plain sum over the same
input(s) with the same threads, i.e. the cost of just reading the data.

The runner warms every contender up on a slice of the inputs (and checks
that it computes what the NumPy baseline computes), then interleaves them:
round-robin, each timed once per round with ``time.perf_counter``, the
starting contender rotating every round. It reports medians, so that every
ratio it derives -- speedup over NumPy, SciPy, PyTorch, over one thread,
share of the roofline -- comes from one run under the same machine
conditions.

>>> import harness                                       # with bench/ on sys.path
>>> results = harness.run_benchmarks(quick=True)         # doctest: +SKIP
>>> print(harness.format_table(results))                 # doctest: +SKIP
"""

import gc
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

import numpy_baseline  # bench/numpy_baseline.py, beside this file

MEASURES = ("entropy", "cross_entropy", "kl_divergence", "js_divergence")
# Logit space: softmax cross-entropy from logits and int64 labels, on
# its own shapes -- language-model scoring (2048 x 128000 float32, 1 GB of
# logits) and classification (100000 x 100 float64).
LOGIT_MEASURES = ("softmax_cross_entropy",)
LOGIT_WORKLOADS = (((2048, 128_000), "float32"), ((100_000, 100), "float64"))
# 10^7 elements each (80 MB per float64 array): many short rows, and few long
# ones (a 100k vocabulary). 1000 x 100000 would be 10^8 elements (800 MB per
# array, 10x the time); pass shapes= to run it.
SHAPES = ((10_000, 1_000), (100, 100_000))
DTYPES = ("float64", "float32")
THREADS = (1, 2)
LATENCY_SHAPE = (1, 100)
ZERO_FRACTION = 0.01

FULL_ROUNDS = 7
QUICK_ROUNDS = 3
# In quick mode SciPy and PyTorch (10-50x slower than fastinfo: most of the
# time of a run) are timed in this many rounds only.
QUICK_LIBRARY_ROUNDS = 1
LIBRARY_FAMILIES = ("scipy", "torch")
WARMUP_ELEMENTS = 1_000_000
# A latency timing loops over the call until it lasts this long (seconds).
FULL_LATENCY_TIME = 0.02
QUICK_LATENCY_TIME = 0.005

FAMILIES = ("fastinfo", "numpy", "scipy", "torch", "roofline")
# Above this share of the CPUs taken by other processes, the run warns at the
# start that it will be noisy, and with retry_busy a workload is timed again
# (after a pause of RETRY_PAUSE seconds).
BUSY_SHARE = 0.05
RETRY_PAUSE = 5.0

# The performance targets fastinfo is held to, as ratios measured in one run.
TARGET_SPEEDUP_1T = {"float64": 4.0, "float32": 6.0}
TARGET_SECOND_THREAD = 1.5
TARGET_KL_ROOFLINE_2T = 0.60
TARGET_LATENCY_US = 1.5
TARGET_MIN_ELEMENTS = 10_000_000


# --------------------------------------------------------------------------
# workloads and their inputs


@dataclass(frozen=True)
class Workload:
    """A measure on a (rows, length) batch of one dtype; `latency` marks the tiny call."""

    measure: str
    shape: tuple
    dtype: str
    latency: bool = False

    @property
    def logits(self):
        return self.measure in LOGIT_MEASURES

    @property
    def n_inputs(self):
        return 1 if self.measure == "entropy" or self.logits else 2

    @property
    def elements(self):
        return self.shape[0] * self.shape[1]

    @property
    def bytes_read(self):
        labels = self.shape[0] * 8 if self.logits else 0
        return self.n_inputs * self.elements * np.dtype(self.dtype).itemsize + labels

    @property
    def name(self):
        rows, length = self.shape
        return f"{self.measure}-{rows}x{length}-{self.dtype}" + ("-latency" if self.latency else "")


def workloads(measures=MEASURES, shapes=SHAPES, dtypes=DTYPES, latency=True):
    """The grid, ordered so that consecutive workloads share their inputs."""
    grid = [
        Workload(m, tuple(s), d)
        for s in shapes
        for d in dtypes
        for m in measures
        if m not in LOGIT_MEASURES
    ]
    grid += [Workload(m, tuple(s), d) for m in measures if m in LOGIT_MEASURES
             for s, d in LOGIT_WORKLOADS if d in dtypes]
    if latency:
        grid.append(Workload("entropy", LATENCY_SHAPE, "float64", latency=True))
    return grid


_inputs_cache: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}


def make_inputs(shape, dtype, seed=0, logits=False):
    """(p, q) of `shape`: rows normalized, p with ~1 % exact zeros, q > 0.
    With `logits`: (normal(0, 3) logits of `shape`, int64 labels of its rows).

    One slot is cached (the grid is ordered to reuse it), so at most one pair
    of batches (2 x 80 MB for 10^7 float64 elements) is alive at a time.
    """
    key = (tuple(shape), np.dtype(dtype).name, seed)
    if key not in _inputs_cache and logits:
        _inputs_cache.clear()
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(shape, dtype=np.float32 if dtype == "float32" else np.float64)
        x *= 3.0
        _inputs_cache[key] = (x, rng.integers(0, shape[1], shape[0]))
    if key not in _inputs_cache:
        _inputs_cache.clear()
        rng = np.random.default_rng(seed)
        dt = np.dtype(dtype)
        p = rng.random(shape, dtype=dt)
        np.subtract(1, p, out=p)  # (0, 1]: no accidental zeros (float32 has 24 bits)
        p[rng.random(shape, dtype=np.float32) < ZERO_FRACTION] = 0
        p /= p.sum(axis=-1, keepdims=True)
        q = rng.random(shape, dtype=dt)
        np.subtract(1, q, out=q)
        q /= q.sum(axis=-1, keepdims=True)
        _inputs_cache[key] = (p, q)
    return _inputs_cache[key]


def clear_inputs():
    _inputs_cache.clear()


# --------------------------------------------------------------------------
# contenders


@dataclass
class Contender:
    """One way to compute a workload: `fn()` runs it on prebuilt inputs."""

    key: str  # unique within a workload, e.g. "fastinfo-2t"
    family: str  # one of FAMILIES
    n_threads: Optional[int]  # None: single-threaded library, or its default
    call: str  # the expression timed, for the table's legend
    fn: Callable[[], object]
    # maps the output to the NumPy baseline's quantity for the sanity check
    # (None: nothing to compare, as for the roofline)
    to_baseline: Optional[Callable[[object], np.ndarray]] = np.asarray


def contender_keys(workload, threads=THREADS):
    """Every contender a workload can have (some may be unavailable at run time)."""
    if workload.latency:
        return ["fastinfo", "fastinfo-1d", "numpy", "scipy", "torch", "roofline-1t"]
    return (
        [f"fastinfo-{n}t" for n in threads]
        + ["numpy", "scipy"]
        + [f"torch-{n}t" for n in threads]
        + [f"roofline-{n}t" for n in threads]
    )


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _roofline_kernel():
    try:
        from fastinfo._dispatch import kernels
    except ImportError:
        return None
    return getattr(kernels, "read_roofline", None)


_FASTINFO_CALLS = {
    "entropy": "fastinfo.entropy(p, n_threads=n)",
    "cross_entropy": "fastinfo.cross_entropy(p, q, n_threads=n)",
    "kl_divergence": "fastinfo.kl_divergence(p, q, n_threads=n)",
    "js_divergence": "fastinfo.js_divergence(p, q, n_threads=n)",
    "softmax_cross_entropy": "fastinfo.softmax_cross_entropy(x, y, n_threads=n)",
}
_SCIPY_CALLS = {
    "entropy": "scipy.stats.entropy(p, axis=-1)",
    "cross_entropy": "-scipy.special.xlogy(p, q).sum(-1)",
    "kl_divergence": "scipy.special.rel_entr(p, q).sum(-1)",
    "js_divergence": "scipy.spatial.distance.jensenshannon(p, q, axis=-1)  (sqrt, renormalizes)",
    "softmax_cross_entropy": "scipy.special.logsumexp(x, axis=-1) - x[arange(N), y]",
}
_TORCH_CALLS = {
    "entropy": "torch.special.entr(p).sum(-1)",
    "cross_entropy": "-torch.special.xlogy(p, q).sum(-1)",
    "kl_divergence": "F.kl_div(q.log(), p, reduction='none').sum(-1)",
    "js_divergence": "m = (p + q) / 2; (F.kl_div(m.log(), p) + F.kl_div(m.log(), q)).sum(-1) / 2",
    "softmax_cross_entropy": "F.cross_entropy(x, y, reduction='none')",
}


def _scipy_function(measure):
    """(callable(p, q), to_baseline) or None."""
    try:
        if measure == "entropy":
            from scipy.stats import entropy

            return (lambda p, q: entropy(p, axis=-1)), np.asarray
        if measure == "cross_entropy":
            from scipy.special import xlogy

            return (lambda p, q: -xlogy(p, q).sum(axis=-1)), np.asarray
        if measure == "kl_divergence":
            from scipy.special import rel_entr

            return (lambda p, q: rel_entr(p, q).sum(axis=-1)), np.asarray
        if measure == "js_divergence":
            from scipy.spatial.distance import jensenshannon

            return (lambda p, q: jensenshannon(p, q, axis=-1)), (lambda d: np.square(d))
        if measure == "softmax_cross_entropy":
            from scipy.special import logsumexp

            return (lambda x, y: logsumexp(x, axis=-1) - x[np.arange(len(y)), y]), np.asarray
    except ImportError:
        return None
    return None


def _torch_function(torch, measure):
    import torch.nn.functional as F

    if measure == "entropy":
        return lambda p, q: torch.special.entr(p).sum(-1)
    if measure == "cross_entropy":
        return lambda p, q: -torch.special.xlogy(p, q).sum(-1)
    if measure == "kl_divergence":
        return lambda p, q: F.kl_div(q.log(), p, reduction="none").sum(-1)
    if measure == "softmax_cross_entropy":
        return lambda x, y: F.cross_entropy(x, y, reduction="none")
    if measure == "js_divergence":

        def js(p, q):
            log_m = ((p + q) * 0.5).log()
            kl_pm = F.kl_div(log_m, p, reduction="none").sum(-1)
            kl_qm = F.kl_div(log_m, q, reduction="none").sum(-1)
            return (kl_pm + kl_qm) * 0.5

        return js
    return None


def build_contenders(workload, inputs, threads=THREADS):
    """The available contenders of `workload`, in `contender_keys` order."""
    import fastinfo

    measure = workload.measure
    p, q = inputs
    args = (p, q) if workload.logits else ((p,) if workload.n_inputs == 1 else (p, q))
    api = getattr(fastinfo, measure)
    baseline = getattr(numpy_baseline, measure)
    torch = _import_torch()
    roofline = _roofline_kernel()
    found = {}
    scipy_fn = _scipy_function(measure)
    if scipy_fn is not None:
        f, conv = scipy_fn
        found["scipy"] = Contender(
            "scipy", "scipy", None, _SCIPY_CALLS[measure], lambda: f(p, q), conv
        )

    if workload.latency:
        found["fastinfo"] = Contender(
            "fastinfo", "fastinfo", None, f"fastinfo.entropy(p)  # p.shape == {workload.shape}",
            lambda: api(*args),
        )
        p1 = p[0]
        found["fastinfo-1d"] = Contender(
            "fastinfo-1d", "fastinfo", None, f"fastinfo.entropy(p[0])  # 1-D, {p1.shape}",
            lambda: api(p1), lambda r: np.asarray(r).reshape(1),
        )
        found["numpy"] = Contender(
            "numpy", "numpy", None, "numpy_baseline.entropy(p)", lambda: baseline(*args)
        )
        if torch is not None:
            tf = _torch_function(torch, measure)
            tp, tq = torch.from_numpy(p), torch.from_numpy(q)
            found["torch"] = Contender(
                "torch", "torch", None, _TORCH_CALLS[measure], lambda: tf(tp, tq),
                lambda r: r.numpy(),
            )
        if roofline is not None:
            found["roofline-1t"] = Contender(
                "roofline-1t", "roofline", 1, "fastinfo._dispatch.kernels.read_roofline(p, 1)",
                lambda: roofline(p, 1), None,
            )
    else:
        for n in threads:
            found[f"fastinfo-{n}t"] = Contender(
                f"fastinfo-{n}t", "fastinfo", n, _FASTINFO_CALLS[measure],
                (lambda n=n: api(*args, n_threads=n)),
            )
        found["numpy"] = Contender(
            "numpy", "numpy", None,
            f"numpy_baseline.{measure}({', '.join(('xy' if workload.logits else 'pq')[: len(args)])})",
            lambda: baseline(*args),
        )
        if torch is not None:
            tf = _torch_function(torch, measure)
            tp, tq = torch.from_numpy(p), torch.from_numpy(q)

            def torch_call(n):
                def run():
                    torch.set_num_threads(n)
                    return tf(tp, tq)

                return run

            for n in threads:
                found[f"torch-{n}t"] = Contender(
                    f"torch-{n}t", "torch", n,
                    _TORCH_CALLS[measure] + "  with torch.set_num_threads(n)",
                    torch_call(n), lambda r: r.numpy(),
                )
        if roofline is not None:
            for n in threads:
                if len(args) == 1 or workload.logits:
                    fn = lambda n=n: roofline(p, n)  # noqa: E731
                    call = "read_roofline(x, n)" if workload.logits else "read_roofline(p, n)"
                else:
                    fn = lambda n=n: (roofline(p, n), roofline(q, n))  # noqa: E731
                    call = "read_roofline(p, n) + read_roofline(q, n)"
                found[f"roofline-{n}t"] = Contender(
                    f"roofline-{n}t", "roofline", n, call, fn, None
                )
    return [found[k] for k in contender_keys(workload, threads) if k in found]


# --------------------------------------------------------------------------
# timing


def _time_once(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def _calibrate(fn, min_time):
    """Calls per timing so that one timing lasts at least `min_time` seconds."""
    number = 1
    while True:
        elapsed = _time_once(fn, number) * number
        if elapsed >= min_time or number >= 1 << 24:
            return number
        number = max(number * 2, int(number * 1.2 * min_time / max(elapsed, 1e-9)))


def _agrees(output, reference_output, to_baseline, dtype):
    if to_baseline is None:
        return None
    got = np.asarray(to_baseline(output), dtype=np.float64).reshape(-1)
    want = np.asarray(reference_output, dtype=np.float64).reshape(-1)
    if np.dtype(dtype) == np.float32:
        rtol, atol = 1e-3, 1e-5
    else:
        rtol, atol = 1e-6, 1e-9
    return bool(got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=atol))


def warm_up(workload, inputs, threads=THREADS):
    """Call every contender once on a slice of the inputs; {key: agrees with NumPy}.

    The slice (~10^6 elements: enough rows for the threads to start) warms
    imports, lazy initialisation and thread pools, and its results are
    compared with the NumPy baseline's, so that the contenders are known to
    compute the same quantity. Every contender allocates its temporaries anew
    on each call, so a full-size warm-up would add time and nothing else.
    """
    rows, length = workload.shape
    keep = max(1, min(rows, -(-WARMUP_ELEMENTS // max(length, 1))))
    sliced = tuple(a[:keep] for a in inputs)
    contenders = build_contenders(workload, sliced, threads)
    outputs = {c.key: c.fn() for c in contenders}
    baseline = next((outputs[c.key] for c in contenders if c.family == "numpy"), None)
    if baseline is None:
        return {}
    return {
        c.key: _agrees(outputs[c.key], baseline, c.to_baseline, workload.dtype)
        for c in contenders
        if c.family != "numpy"
    }


def time_contenders(contenders, rounds, min_time=None, library_rounds=None):
    """Interleaved timings: {key: [seconds per call, one per round it ran in]}, calls per timing.

    Round-robin: in each round every contender is timed once; the contender
    that goes first rotates every round, so none always runs right after the
    same one. With `min_time`, a timing loops over the call until it lasts
    that long (microsecond calls). `library_rounds` (quick mode) limits SciPy
    and PyTorch, the slow contenders, to the first rounds.
    """
    numbers = {
        c.key: (_calibrate(c.fn, min_time) if min_time else 1) for c in contenders
    }
    samples = {c.key: [] for c in contenders}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            shift = r % len(contenders)
            for c in contenders[shift:] + contenders[:shift]:
                if (
                    library_rounds is not None
                    and r >= library_rounds
                    and c.family in LIBRARY_FAMILIES
                ):
                    continue
                samples[c.key].append(_time_once(c.fn, numbers[c.key]))
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples, numbers


def _machine_busy_seconds():
    """CPU seconds the whole machine has been busy (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    except (OSError, ValueError, AttributeError, IndexError):
        return None


class OtherLoad:
    """Share of the machine's CPUs used by *other* processes over a stretch of time.

    Other work on the machine is the main source of noise (a 2-thread run
    needs both cores); recording it says which figures to distrust.
    """

    def __enter__(self):
        self.busy = _machine_busy_seconds()
        self.own = time.process_time()
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        busy = _machine_busy_seconds()
        wall = time.perf_counter() - self.wall
        if busy is None or self.busy is None or wall <= 0:
            self.share = None
        else:
            others = (busy - self.busy) - (time.process_time() - self.own)
            self.share = max(0.0, others / (wall * (os.cpu_count() or 1)))
        return False


def _ratio(numerator, denominator):
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def run_workload(workload, rounds, threads=THREADS, quick=False, library_rounds=None):
    """Time one workload; returns result dicts (one per thread count, or one for latency)."""
    inputs = make_inputs(workload.shape, workload.dtype, logits=workload.logits)
    agrees = warm_up(workload, inputs, threads)
    contenders = build_contenders(workload, inputs, threads)
    min_time = None
    if workload.latency:
        min_time = QUICK_LATENCY_TIME if quick else FULL_LATENCY_TIME
    with OtherLoad() as other:
        samples, numbers = time_contenders(contenders, rounds, min_time, library_rounds)
    median = {k: statistics.median(v) for k, v in samples.items()}
    by_key = {c.key: c for c in contenders}
    common = {
        "workload": workload.name,
        "measure": workload.measure,
        "shape": list(workload.shape),
        "dtype": workload.dtype,
        "elements": workload.elements,
        "bytes_read": workload.bytes_read,
        "rounds": rounds,
        # CPU share taken by other processes while this workload was timed
        "other_load": other.share,
    }

    if workload.latency:
        fast = median.get("fastinfo")
        return [
            dict(
                common,
                kind="latency",
                n_threads=None,
                median_us={k: v * 1e6 for k, v in median.items()},
                samples_us={k: [s * 1e6 for s in v] for k, v in samples.items()},
                calls_per_timing=numbers,
                calls={k: c.call for k, c in by_key.items()},
                agrees=agrees,
                vs_fastinfo={k: _ratio(v, fast) for k, v in median.items()},
            )
        ]

    rows = []
    fast_1t = median.get(f"fastinfo-{threads[0]}t")
    for n in threads:
        keys = {
            "fastinfo": f"fastinfo-{n}t",
            "numpy": "numpy",
            "scipy": "scipy",
            "torch": f"torch-{n}t",
            "roofline": f"roofline-{n}t",
        }
        keys = {fam: k for fam, k in keys.items() if k in median}
        med = {fam: median[k] for fam, k in keys.items()}
        fast = med.get("fastinfo")
        rows.append(
            dict(
                common,
                kind="throughput",
                n_threads=n,
                median_s=med,
                samples_s={fam: samples[k] for fam, k in keys.items()},
                calls={fam: by_key[k].call for fam, k in keys.items()},
                agrees={fam: agrees.get(k) for fam, k in keys.items() if fam != "numpy"},
                gelem_per_s={fam: workload.elements / t / 1e9 for fam, t in med.items()},
                gbyte_per_s={fam: workload.bytes_read / t / 1e9 for fam, t in med.items()},
                speedup_vs_numpy=_ratio(med.get("numpy"), fast),
                speedup_vs_scipy=_ratio(med.get("scipy"), fast),
                speedup_vs_torch=_ratio(med.get("torch"), fast),
                roofline_fraction=_ratio(med.get("roofline"), fast),
                second_thread_speedup=(_ratio(fast_1t, fast) if n != threads[0] else None),
                # the most a second thread can give: the 1-thread time over the
                # time of just reading the input with n threads (memory bound)
                second_thread_ceiling=(_ratio(fast_1t, med.get("roofline")) if n != threads[0] else None),
            )
        )
    return rows


def run_benchmarks(
    quick=False,
    rounds=None,
    library_rounds=None,
    threads=THREADS,
    measures=MEASURES + LOGIT_MEASURES,
    shapes=SHAPES,
    dtypes=DTYPES,
    latency=True,
    retry_busy=0,
    progress=None,
):
    """Run the grid; returns a list of result dicts (raw figures, JSON-serializable).

    `quick` lowers the repeat counts: QUICK_ROUNDS interleaved rounds instead
    of FULL_ROUNDS, SciPy and PyTorch timed in QUICK_LIBRARY_ROUNDS of them
    only, shorter latency loops. `retry_busy` times a workload again (up to
    that many times, after a pause) while other processes took more than
    BUSY_SHARE of the CPUs, and keeps the quietest attempt. `progress`, if
    given, is called with a line of text before each workload.
    """
    if rounds is None:
        rounds = QUICK_ROUNDS if quick else FULL_ROUNDS
    if library_rounds is None and quick:
        library_rounds = QUICK_LIBRARY_ROUNDS
    results = []
    try:
        for w in workloads(measures, shapes, dtypes, latency):
            if progress is not None:
                progress(f"{w.name} ...")
            best = None
            for attempt in range(1 + retry_busy):
                if attempt:
                    time.sleep(RETRY_PAUSE)
                rows = run_workload(w, rounds, tuple(threads), quick, library_rounds)
                load = rows[0]["other_load"]
                for row in rows:
                    row["attempts"] = attempt + 1
                if best is None or (load or 0.0) < (best[0]["other_load"] or 0.0):
                    best = rows
                if load is None or load <= BUSY_SHARE:
                    break
                if progress is not None and attempt < retry_busy:
                    progress(f"  other processes took {load:.0%} of the CPUs: again")
            results.extend(best)
    finally:
        clear_inputs()
    return results


def keep_heap():
    """Make glibc keep freed memory in the process instead of returning it to the OS.

    NumPy, SciPy and PyTorch allocate batch-sized temporaries on every call;
    above 32 MB glibc maps them afresh each time, and touching the new pages
    costs page faults, which in a virtual machine can cost more than the
    arithmetic and vary wildly from call to call. With the heap kept, the
    figures measure the computation (NumPy's cost of faulting its
    temporaries is then left out). Returns True if it took effect.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        m_trim_threshold, m_mmap_max = -1, -4
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(
            libc.mallopt(m_trim_threshold, 2**31 - 1)
        )
    except (OSError, AttributeError):
        return False


# --------------------------------------------------------------------------
# environment, targets, tables


def environment():
    """What the figures were measured on (for the JSON and the README)."""
    import fastinfo

    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "env": {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "FASTINFO_SIMD")
            if k in os.environ
        },
        "fastinfo": getattr(fastinfo, "__version__", None),
    }
    try:
        env["fastinfo_config"] = fastinfo.config()
    except Exception as exc:  # not there yet, or failing: keep the figures anyway
        env["fastinfo_config"] = repr(exc)
    env["roofline_available"] = _roofline_kernel() is not None
    try:
        import scipy

        env["scipy"] = scipy.__version__
    except ImportError:
        env["scipy"] = None
    torch = _import_torch()
    env["torch"] = torch.__version__ if torch is not None else None
    return env


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def check_targets(results):
    """The performance targets, each with the value measured in this run and whether it holds."""
    # the targets are stated for batches of 10^7 elements (smaller ones
    # run on one thread below PARALLEL_MIN_WORK, or from cache)
    thr = [r for r in results if r["kind"] == "throughput" and r["elements"] >= TARGET_MIN_ELEMENTS]
    out = []

    def add(target, rows, value_of, threshold, higher_is_better=True):
        values = [(r, value_of(r)) for r in rows]
        values = [(r, v) for r, v in values if v is not None]
        if not values:
            out.append({"target": target, "holds": None, "worst": None, "failing": [], "values": {}})
            return
        worst_row, worst = (min if higher_is_better else max)(values, key=lambda rv: rv[1])
        failing = [
            _row_label(r) for r, v in values
            if (v < threshold if higher_is_better else v > threshold)
        ]
        out.append(
            {
                "target": target,
                "holds": not failing,
                "worst": worst,
                "worst_case": _row_label(worst_row),
                "failing": failing,
                "values": {_row_label(r): v for r, v in values},
            }
        )

    for dtype, need in TARGET_SPEEDUP_1T.items():
        add(
            f">= {need:g}x the NumPy baseline on 1 thread ({dtype})",
            [r for r in thr if r["n_threads"] == 1 and r["dtype"] == dtype],
            lambda r: r["speedup_vs_numpy"],
            need,
        )
    add(
        f">= {TARGET_SECOND_THREAD:g}x more from a second thread",
        [r for r in thr if r["n_threads"] == 2],
        lambda r: r["second_thread_speedup"],
        TARGET_SECOND_THREAD,
    )
    add(
        f"... where the memory bound leaves room for it ('2nd max' >= {TARGET_SECOND_THREAD:g}x)",
        [r for r in thr if r["n_threads"] == 2
         and (r.get("second_thread_ceiling") or 0.0) >= TARGET_SECOND_THREAD],
        lambda r: r["second_thread_speedup"],
        TARGET_SECOND_THREAD,
    )
    add(
        f">= {TARGET_KL_ROOFLINE_2T:.0%} of the roofline for KL at 2 threads",
        [r for r in thr if r["n_threads"] == 2 and r["measure"] == "kl_divergence"],
        lambda r: r["roofline_fraction"],
        TARGET_KL_ROOFLINE_2T,
    )
    add(
        f"1x100 entropy call <= {TARGET_LATENCY_US:g} us through the Python API",
        [r for r in results if r["kind"] == "latency"],
        lambda r: r["median_us"].get("fastinfo"),
        TARGET_LATENCY_US,
        higher_is_better=False,
    )
    return out


def _row_label(r):
    rows, length = r["shape"]
    label = f"{r['measure']} {rows}x{length} {r['dtype']}"
    if r["kind"] == "throughput":
        label += f" {r['n_threads']}t"
    return label


def _fmt(x, digits=3):
    if x is None:
        return "—"
    if x == 0 or not math.isfinite(x):
        return str(x)
    magnitude = int(math.floor(math.log10(abs(x))))
    decimals = max(0, digits - 1 - magnitude)
    return f"{x:.{decimals}f}"


def _fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}x"


def _fmt_share(x):
    return "—" if x is None else f"{x:.0%}"


def _flag(row, family):
    ok = row["agrees"].get(family)
    return " (!)" if ok is False else ""


def format_table(results):
    """Markdown tables of the medians and the ratios measured in the same run."""
    lines = []
    thr = [r for r in results if r["kind"] == "throughput"]
    if thr:
        lines += [
            "Medians of interleaved rounds, milliseconds per call; ratios are time(other) / time(fastinfo) "
            "from the same run; NumPy and SciPy are single-threaded (the same timing in both thread rows); "
            "'2nd thr' is fastinfo 1 thread / 2 threads, '2nd max' the most a second thread could give "
            "(fastinfo 1 thread / roofline 2 threads: the memory bound); 'roofline' is time(roofline) / time(fastinfo); "
            "'others' is the CPU share other processes took meanwhile (noise).",
            "",
            "| measure | shape | dtype | thr | fastinfo ms | NumPy ms | SciPy ms | PyTorch ms "
            "| roofline ms | vs NumPy | vs SciPy | vs PyTorch | 2nd thr | 2nd max | roofline | G el/s | GB/s | others |",
            "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in thr:
            ms = {fam: t * 1e3 for fam, t in r["median_s"].items()}
            frac = r["roofline_fraction"]
            lines.append(
                "| {m} | {s} | {d} | {n} | {fi} | {np_} | {sc} | {to} | {rl} | {x_np} | {x_sc} "
                "| {x_to} | {x_2} | {x_2max} | {frac} | {ge} | {gb} | {busy} |".format(
                    m=r["measure"],
                    s="x".join(str(v) for v in r["shape"]),
                    d=r["dtype"],
                    n=r["n_threads"],
                    fi=_fmt(ms.get("fastinfo")) + _flag(r, "fastinfo"),
                    np_=_fmt(ms.get("numpy")),
                    sc=_fmt(ms.get("scipy")) + _flag(r, "scipy"),
                    to=_fmt(ms.get("torch")) + _flag(r, "torch"),
                    rl=_fmt(ms.get("roofline")),
                    x_np=_fmt_ratio(r["speedup_vs_numpy"]),
                    x_sc=_fmt_ratio(r["speedup_vs_scipy"]),
                    x_to=_fmt_ratio(r["speedup_vs_torch"]),
                    x_2=_fmt_ratio(r["second_thread_speedup"]),
                    x_2max=_fmt_ratio(r.get("second_thread_ceiling")),
                    frac="—" if frac is None else f"{frac:.0%}",
                    ge=_fmt(r["gelem_per_s"].get("fastinfo")),
                    gb=_fmt(r["gbyte_per_s"].get("fastinfo")),
                    busy=_fmt_share(r.get("other_load")),
                )
            )
    if any(ok is False for r in results for ok in r["agrees"].values()):
        lines += ["", "(!) this contender's result differs from the NumPy baseline's."]
    for r in results:
        if r["kind"] != "latency":
            continue
        lines += [
            "",
            f"Latency of one {'x'.join(str(v) for v in r['shape'])} {r['dtype']} {r['measure']} call "
            "(median of interleaved rounds, each timing a loop of calls; other processes took "
            f"{_fmt_share(r.get('other_load'))} of the CPUs meanwhile):",
            "",
            "| contender | call | µs per call | vs fastinfo |",
            "|---|---|--:|--:|",
        ]
        for key, us in r["median_us"].items():
            flag = " (!)" if r["agrees"].get(key) is False else ""
            lines.append(
                f"| {key} | `{r['calls'][key]}` | {_fmt(us)}{flag} "
                f"| {_fmt_ratio(r['vs_fastinfo'].get(key))} |"
            )
    return "\n".join(lines)


def format_calls(results):
    """Legend: the exact expression each contender timed, per measure."""
    seen = {}
    for r in results:
        if r["kind"] != "throughput":
            continue
        for fam, call in r["calls"].items():
            seen.setdefault(r["measure"], {}).setdefault(fam, call)
    lines = []
    for measure, calls in seen.items():
        lines.append(f"- {measure}:")
        lines += [f"  - {fam}: `{call}`" for fam, call in calls.items()]
    return "\n".join(lines)


def format_targets(targets):
    lines = ["| target | worst case measured | holds |", "|---|---|---|"]
    for t in targets:
        if t["holds"] is None:
            lines.append(f"| {t['target']} | not measured | — |")
            continue
        worst = t["worst"]
        if "us" in t["target"]:
            value = f"{worst:.2f} µs"
        elif "roofline" in t["target"]:
            value = f"{worst:.0%}"
        else:
            value = f"{worst:.3f}x"
        verdict = "yes" if t["holds"] else "NO (" + "; ".join(t["failing"]) + ")"
        lines.append(f"| {t['target']} | {value} ({t['worst_case']}) | {verdict} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# command line (bench/run.py)


def _parse_shape(text):
    try:
        rows, length = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"shape must look like 10000x1000, got {text!r}") from None
    return rows, length


# --size-sweep: batches of 10^4 .. 10^7 elements, from cache-resident to memory-bound, for the
# throughput-against-size plots; with --quick only two measures and no latency call
SIZE_SWEEP_SHAPES = ((10, 1_000), (100, 1_000), (1_000, 1_000), (10_000, 1_000))
SIZE_SWEEP_QUICK_MEASURES = ("entropy", "kl_divergence")


def plot_results(results, path, environment=None):
    """One PNG per measure and dtype (``bench/plot.py``); returns the paths written."""
    import plot  # matplotlib is needed only when plotting

    return plot.plot_results(results, path, environment=environment)


def main(argv=None, prog=None):
    """Run the grid, print the tables and the targets, optionally write the raw figures as JSON."""
    import argparse
    import json

    ap = argparse.ArgumentParser(
        prog=prog,
        description="fastinfo side by side with the NumPy baseline, SciPy, PyTorch and the "
        "read roofline, interleaved in one run.",
    )
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK_ROUNDS} rounds instead of {FULL_ROUNDS}, SciPy and PyTorch in "
                    f"{QUICK_LIBRARY_ROUNDS} of them, shorter latency loops")
    ap.add_argument("--json", metavar="PATH", help="write the raw figures (and environment) here")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (overrides --quick's)")
    ap.add_argument("--threads", type=int, nargs="+", default=list(THREADS), metavar="N",
                    help="thread counts (default: 1 2); the first is the base of '2nd thr'")
    ap.add_argument("--measures", nargs="+", choices=MEASURES + LOGIT_MEASURES,
                    help="default: all of them (--size-sweep: the four probability measures, "
                    "with --quick entropy and kl_divergence)")
    ap.add_argument("--shapes", type=_parse_shape, nargs="+", metavar="NxK",
                    help="batch shapes (default: "
                    + " ".join(f"{r}x{k}" for r, k in SHAPES) + "; --size-sweep: "
                    + " ".join(f"{r}x{k}" for r, k in SIZE_SWEEP_SHAPES) + ")")
    ap.add_argument("--size-sweep", action="store_true",
                    help="time batches of 10^4 to 10^7 elements instead, for the plots of "
                    "throughput against size (pass --plot)")
    ap.add_argument("--plot", metavar="PATH",
                    help="write PNG plots of throughput and speed-up over NumPy against size, one "
                    "per measure and dtype: PATH-<measure>-<dtype>.png (needs matplotlib)")
    ap.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    ap.add_argument("--no-latency", action="store_true", help="skip the 1x100 latency call")
    ap.add_argument("--keep-heap", action="store_true",
                    help="keep freed memory in the process (glibc): no page faults on the "
                    "contenders' temporaries, steadier NumPy/SciPy/PyTorch figures")
    ap.add_argument("--retry-busy", type=int, default=0, metavar="N",
                    help=f"time a workload again, up to N times, while other processes took more "
                    f"than {BUSY_SHARE * 100:.0f}%% of the CPUs (keeps the quietest attempt)")
    args = ap.parse_args(argv)
    if args.size_sweep:
        shapes = args.shapes or SIZE_SWEEP_SHAPES
        measures = args.measures or (SIZE_SWEEP_QUICK_MEASURES if args.quick else MEASURES)
        latency = not (args.no_latency or args.quick)
    else:
        shapes = args.shapes or SHAPES
        measures = args.measures or MEASURES + LOGIT_MEASURES
        latency = not args.no_latency
    if args.plot:
        # fail before the run, not after minutes of timing
        import plot  # noqa: F401

    env = environment()
    env["keep_heap"] = keep_heap() if args.keep_heap else False
    cfg = env["fastinfo_config"]
    print(f"fastinfo {env['fastinfo']}  config: {cfg}")
    print(f"numpy {env['numpy']}, scipy {env['scipy']}, torch {env['torch']}; "
          f"{env['cpu']} x {env['cpu_count']}; load average {env['loadavg']}")
    if not env["roofline_available"]:
        print("note: fastinfo._dispatch.kernels.read_roofline is missing: no roofline figures")
    if args.keep_heap:
        print("heap kept (--keep-heap): " + ("yes" if env["keep_heap"] else "not supported here"))
    with OtherLoad() as probe:  # the load average lags by minutes: look for a second
        time.sleep(1.0)
    if probe.share is not None and probe.share > BUSY_SHARE:
        print(f"warning: other processes are taking {probe.share:.0%} of the CPUs: the figures "
              "(the 2-thread ones above all) will be noisy; see the 'others' column, rerun on an "
              "idle machine or pass --retry-busy")
    start = time.perf_counter()
    results = run_benchmarks(
        quick=args.quick,
        rounds=args.rounds,
        threads=tuple(args.threads),
        measures=tuple(measures),
        shapes=tuple(tuple(shape) for shape in shapes),
        dtypes=tuple(args.dtypes),
        latency=latency,
        retry_busy=args.retry_busy,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    elapsed = time.perf_counter() - start
    targets = check_targets(results)
    print()
    print(format_table(results))
    print()
    print("Calls timed:")
    print(format_calls(results))
    print()
    print(format_targets(targets))
    load_after = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print(f"\n{elapsed:.0f} s; load average before {env['loadavg']}, after {load_after}")
    shares = [r["other_load"] for r in results if r.get("other_load") is not None]
    if shares:
        worst = max(results, key=lambda r: r.get("other_load") or 0)
        print(f"other processes took {statistics.mean(shares):.0%} of the CPUs on average while "
              f"timing, at most {worst['other_load']:.0%} ({worst['workload']})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "argv": sys.argv if argv is None else list(argv),
                    "environment": env,
                    "loadavg_after": load_after,
                    "elapsed_s": elapsed,
                    "results": results,
                    "targets": targets,
                },
                f,
                indent=1,
            )
        print(f"raw figures written to {args.json}")
    if args.plot:
        for path in plot_results(results, args.plot, environment=env):
            print(f"plot written to {path}")
    return 0
