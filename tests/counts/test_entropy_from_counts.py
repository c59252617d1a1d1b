"""Entropy estimators from counts against their published formulas, evaluated in mpmath.

Each oracle below is written from the cited paper's formula with mpmath
(digamma, exact sums at 80 bits) -- an independent code path from
fastinfo/_counts.py (NumPy, its own digamma).
"""
import math

import mpmath
import numpy as np
import pytest
from scipy import stats

import fastinfo

MPMATH_PREC = 80   # bits for the oracles below (tests/conftest.py sets it for this module)


def mp_plugin(n):
    N = mpmath.fsum(n)
    return -mpmath.fsum((v / N) * mpmath.log(v / N) for v in n if v > 0)


def mp_miller_madow(n):
    N = mpmath.fsum(n)
    m = sum(1 for v in n if v > 0)
    return mp_plugin(n) + (m - 1) / (2 * N)


def mp_grassberger(n):
    N = mpmath.fsum(n)
    def G(k):
        return mpmath.digamma(k) + mpmath.mpf(-1) ** int(k) * (mpmath.digamma((k + 1) / 2) - mpmath.digamma(k / 2)) / 2
    return mpmath.log(N) - mpmath.fsum(v * G(v) for v in n if v > 0) / N


def mp_chao_shen(n):
    N = mpmath.fsum(n)
    f1 = sum(1 for v in n if v == 1)
    if f1 == N:
        f1 = N - 1
    C = 1 - f1 / N
    out = []
    for v in n:
        if v > 0:
            pa = C * v / N
            out.append(-pa * mpmath.log(pa) / (1 - (1 - pa) ** N))
    return mpmath.fsum(out)


def mp_james_stein(n):
    N = mpmath.fsum(n)
    K = len(n)
    p = [v / N for v in n]
    t = mpmath.mpf(1) / K
    den = (N - 1) * mpmath.fsum((t - x) ** 2 for x in p)
    lam = mpmath.mpf(1) if (den == 0 or N <= 1) else (1 - mpmath.fsum(x * x for x in p)) / den
    lam = min(max(lam, 0), 1)
    ps = [lam * t + (1 - lam) * x for x in p]
    return -mpmath.fsum(x * mpmath.log(x) for x in ps if x > 0)


ORACLES = {"plugin": mp_plugin, "miller_madow": mp_miller_madow, "grassberger": mp_grassberger,
           "chao_shen": mp_chao_shen, "james_stein": mp_james_stein}

SAMPLES = [
    [5, 3, 0, 1, 1, 2, 0, 7],
    [1, 1, 1, 1],                      # all singletons (Chao-Shen's f1 = N case)
    [10],                              # one category
    [2, 2],
    [0, 0, 3, 0],
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 1000],
]


@pytest.mark.parametrize("estimator", sorted(ORACLES))
@pytest.mark.parametrize("sample", range(len(SAMPLES)))
def test_estimator_vs_formula(estimator, sample):
    n = SAMPLES[sample]
    exact = ORACLES[estimator]([mpmath.mpf(v) for v in n])
    exact = max(exact, 0)
    for dtype in (np.int64, np.int32, np.uint8, np.float64):
        if max(n) > np.iinfo(dtype).max if np.dtype(dtype).kind != "f" else False:
            continue
        got = fastinfo.entropy_from_counts(np.array(n, dtype=dtype), estimator=estimator)
        assert abs(mpmath.mpf(float(got)) - exact) <= 1e-13 * abs(exact) + 1e-15, (estimator, n, got, exact)


def test_plugin_is_scipy_and_batches():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 20, (7, 30))
    got = fastinfo.entropy_from_counts(c)
    np.testing.assert_allclose(got, stats.entropy(c, axis=-1), rtol=1e-13)
    for est in sorted(ORACLES):
        b = fastinfo.entropy_from_counts(c, estimator=est, base=2)
        for i in range(7):
            exact = ORACLES[est]([mpmath.mpf(int(v)) for v in c[i]]) / mpmath.log(2)
            assert abs(mpmath.mpf(float(b[i])) - max(exact, 0)) <= 1e-12 * abs(exact) + 1e-15
        col = fastinfo.entropy_from_counts(c.T, estimator=est, axis=0)
        np.testing.assert_allclose(col, fastinfo.entropy_from_counts(c, estimator=est), rtol=1e-14)


def test_bias_corrections_point_the_right_way():
    # a large uniform population sampled sparsely: plug-in underestimates log K, the corrections less so
    rng = np.random.default_rng(1)
    K, N = 1000, 300
    c = np.bincount(rng.integers(0, K, N), minlength=K)
    truth = math.log(K)
    h = {e: float(fastinfo.entropy_from_counts(c, estimator=e)) for e in ORACLES}
    assert h["plugin"] < h["miller_madow"] < truth
    for e in ("miller_madow", "grassberger", "chao_shen", "james_stein"):
        assert abs(h[e] - truth) < abs(h["plugin"] - truth), (e, h)


def test_invalid_and_empty():
    assert fastinfo.entropy_from_counts(np.zeros(5)) == 0.0
    with pytest.raises(ValueError, match=r"batch index \(1,\)"):
        fastinfo.entropy_from_counts(np.array([[1, 2], [-1, 2]]))
    r = fastinfo.entropy_from_counts(np.array([[1.0, 2.0], [np.nan, 2.0]]), invalid="nan")
    assert np.isfinite(r[0]) and np.isnan(r[1])
    with pytest.raises(ValueError, match="integer"):
        fastinfo.entropy_from_counts(np.array([1.5, 2.0]), estimator="grassberger")
    with pytest.raises(ValueError, match="estimator"):
        fastinfo.entropy_from_counts([1, 2], estimator="nsb")
