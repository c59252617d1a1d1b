"""expected_mutual_information of tables with huge counts: fast, interruptible, and accurate
(the cells whose count spreads over more than ~10^4 values take the moment expansion)."""
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from scipy import stats

import fastinfo


def _emi_exact(table):
    """sum over cells of E[(n/N) log(n N/(a b))], n ~ Hypergeometric(N, a, b), as a NumPy sum
    over +-40 standard deviations of the support: the pmf from the running sum of the log term
    ratios, normalized by its own sum, and the summand less its mean-zero part (n - mu)/N, so
    nothing cancels (SciPy's logpmf, from lgamma of N, is too coarse at these N)."""
    t = np.asarray(table, dtype=np.float64)
    N = t.sum()
    total = []
    for ai in t.sum(axis=1):
        for bj in t.sum(axis=0):
            mu = ai * bj / N
            sd = math.sqrt(mu)
            lo = max(1.0, ai + bj - N, math.floor(mu - 40 * sd))
            hi = min(ai, bj, math.ceil(mu + 40 * sd))
            n = np.arange(lo, hi + 1.0)
            m = int(np.argmin(np.abs(n - mu)))
            r = np.log((ai - n[:-1]) * (bj - n[:-1]) / ((n[:-1] + 1) * (N - ai - bj + n[:-1] + 1)))
            logw = np.concatenate([[0.0], np.cumsum(r)])
            logw -= logw[m]
            w = np.exp(logw)
            g = n / N * np.log(n / mu) - (n - mu) / N
            W = np.sum(w)            # NumPy's pairwise sums: ~1e-16 relative here
            total.append(np.sum(w * g) / W + (np.sum(w * n) / W - mu) / N)
    return math.fsum(total)


@pytest.mark.parametrize("table", [[[60000, 40000], [30000, 70000]],                      # the walk
                                   [[600_000_000, 200_000_000], [400_000_000, 800_000_000]]])      # expansion
def test_large_counts_match_the_exact_sum(table):
    ref = _emi_exact(table)
    got = fastinfo.expected_mutual_information(np.array(table))
    assert got == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("value", [1e30, 1e200, float(2 ** 61)])
def test_huge_counts_are_fast_and_finite(value):
    t0 = time.perf_counter()
    v = fastinfo.expected_mutual_information(np.full((2, 2), value))
    assert time.perf_counter() - t0 < 5.0
    assert np.isfinite(v) and v >= 0
    # 4 equal cells: a = b = 2c, N = 4c; each cell contributes ~ var / (2 mu N) = 1 / (32 c)
    assert v == pytest.approx(4 * (0.5 * 0.25) / (4 * value), rel=1e-6)


def test_int64_counts_near_the_top():
    v = fastinfo.expected_mutual_information(np.full((2, 2), 2 ** 61, dtype=np.int64))
    assert np.isfinite(v) and v == pytest.approx(0.125 / 2 ** 61, rel=1e-6)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_many_large_cells_answer_ctrl_c():
    # a 400 x 400 table of distinct large sums: long enough to interrupt
    code = textwrap.dedent("""
        import numpy as np, fastinfo, sys
        rng = np.random.default_rng(0)
        t = rng.integers(20000, 40000, (400, 400))
        print("start", flush=True)
        try:
            fastinfo.expected_mutual_information(t, n_threads=1)
            print("finished")
        except KeyboardInterrupt:
            print("interrupted")
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "start"
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    t0 = time.perf_counter()
    out, _ = p.communicate(timeout=60)
    assert time.perf_counter() - t0 < 10
    assert out.strip() in ("interrupted", "finished")
