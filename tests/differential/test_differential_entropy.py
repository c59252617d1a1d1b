"""differential_entropy, the spacing estimators (Vasicek, van Es, Ebrahimi, Correa) of a
continuous variable's entropy from a sample, against scipy.stats.differential_entropy, Correa's
estimator in 60-digit mpmath, and the closed forms of large samples. Independent oracles only."""
import math

import numpy as np
import pytest
from scipy import stats

import fastinfo

METHODS = ["vasicek", "van es", "ebrahimi", "correa", "auto"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [7, 11, 64, 1001, 2500])
def test_differential_entropy_is_scipys(method, n):
    rng = np.random.default_rng(n)
    X = np.stack([rng.standard_normal(n), rng.exponential(size=n), rng.random(n) * 7 - 2,
                  rng.standard_t(3, size=n)])
    if method == "correa" and n > 1001:
        X = X[:2]          # SciPy's Correa builds a (rows, 2m+1, n) array: keep it small
    want = stats.differential_entropy(X, axis=-1, method=method)
    got = fastinfo.differential_entropy(X, method=method)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
    for m in (2, 3):
        if 2 * m < n:
            np.testing.assert_allclose(fastinfo.differential_entropy(X, method=method, window_length=m),
                                       stats.differential_entropy(X, axis=-1, method=method, window_length=m),
                                       rtol=1e-12, atol=1e-13)


def test_differential_entropy_axes_base_dtypes_threads():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 500, 4))
    want = stats.differential_entropy(X, axis=1, base=2)
    np.testing.assert_allclose(fastinfo.differential_entropy(X, axis=1, base=2), want, rtol=1e-12)
    x32 = X[:, :, 0].astype(np.float32)
    r = fastinfo.differential_entropy(x32)
    assert r.dtype == np.float32
    np.testing.assert_allclose(r, stats.differential_entropy(x32.astype(np.float64), axis=-1), rtol=1e-6)
    v = fastinfo.differential_entropy(X[0, :, 0])
    assert isinstance(v, np.float64) and np.ndim(v) == 0
    big = rng.standard_normal((64, 3000))
    a = fastinfo.differential_entropy(big, n_threads=1)
    b = fastinfo.differential_entropy(big, n_threads=2)
    assert np.array_equal(a, b)
    ints = rng.integers(0, 1000, (2, 400))
    np.testing.assert_allclose(fastinfo.differential_entropy(ints),
                               stats.differential_entropy(ints.astype(float), axis=-1), rtol=1e-12)
    before = big.copy()
    fastinfo.differential_entropy(big)
    assert np.array_equal(before, big)          # sorted a copy


def test_differential_entropy_estimates_known_values():
    # large samples: within the estimators' statistical error of the closed forms
    rng = np.random.default_rng(11)
    n = 200_000
    cases = [(rng.standard_normal(n) * 2.0, 0.5 * math.log(2 * math.pi * math.e * 4.0)),
             (rng.random(n) * 3.0, math.log(3.0)),
             (rng.exponential(0.5, n), 1.0 + math.log(0.5))]
    for x, h in cases:
        for method in ("vasicek", "ebrahimi", "van es", "auto"):
            assert abs(fastinfo.differential_entropy(x, method=method) - h) < 0.02, (method, h)


def test_differential_entropy_errors_and_nan():
    with pytest.raises(ValueError, match="window length"):
        fastinfo.differential_entropy(np.arange(10.0), window_length=5)
    with pytest.raises(ValueError, match="method"):
        fastinfo.differential_entropy(np.arange(10.0), method="kde")
    with pytest.raises(TypeError):
        fastinfo.differential_entropy(np.array(["a", "b", "c", "d", "e", "f"]))
    with pytest.raises(TypeError, match="window_length"):
        fastinfo.differential_entropy(np.arange(10.0), window_length=2.5)
    x = np.random.default_rng(0).standard_normal((2, 50))
    x[1, 7] = np.nan
    r = fastinfo.differential_entropy(x)
    assert np.isfinite(r[0]) and np.isnan(r[1])


def _correa_mpmath(x, m):
    """Correa's estimator exactly as SciPy defines it (padded ends), in 60-digit arithmetic."""
    import mpmath
    mpmath.mp.dps = 60
    xs = [mpmath.mpf(float(v)) for v in np.sort(x)]
    n = len(xs)
    pad = lambda k: xs[min(max(k, 0), n - 1)]
    s = mpmath.mpf(0)
    for i in range(n):
        w = [pad(i + j) for j in range(-m, m + 1)]
        mean = sum(w) / (2 * m + 1)
        num = sum((v - mean) * j for v, j in zip(w, range(-m, m + 1)))
        den = n * sum((v - mean) ** 2 for v in w)
        if den == 0:
            return -np.inf              # a tied window (documented -inf)
        s += mpmath.log(num / den)
    return float(-s / n)


def test_radix_sort_order_on_special_values():
    # the compiled sort must order -inf, negatives, -0.0/0.0, subnormals, ties, +inf as
    # NumPy does: the estimates then equal SciPy's, infinities and NaN included
    rng = np.random.default_rng(4)
    base = rng.standard_normal(300) * 10.0 ** rng.integers(-300, 300, 300)
    base[:20] = 5e-324 * rng.integers(1, 50, 20)            # subnormals
    base[20:30] = -0.0
    base[30:40] = 0.0
    base[40:60] = 3.25                                       # ties
    rows = [base, np.concatenate([base, [np.inf]]), np.concatenate([base, [-np.inf, np.inf]]),
            np.concatenate([-base, [np.nan]])]
    for x in rows:
        for method in ("vasicek", "van es", "ebrahimi", "correa"):
            got = fastinfo.differential_entropy(x, method=method, window_length=3)
            want = stats.differential_entropy(x, method=method, window_length=3)
            if method == "correa" and np.isnan(want) and np.isfinite(x).all():
                # SciPy's unscaled sums overflow (NaN); the estimator in mpmath instead
                want = _correa_mpmath(x, 3)
            if np.isfinite(want):
                assert got == pytest.approx(want, rel=1e-12)
            else:
                assert (np.isnan(got) and np.isnan(want)) or got == want, (method, got, want)


def test_correa_without_overflow_on_a_wide_range():
    # SciPy's Correa sums unscaled squares: inf or NaN from about 1e154 on. fastinfo scales each
    # window by a power of two first: the estimator itself, checked in 60-digit arithmetic
    rng = np.random.default_rng(6)
    for lo, hi in ((150, 300), (-320, -300), (-300, 300)):
        x = rng.standard_normal(120) * 10.0 ** rng.integers(lo, hi, 120)
        x = np.unique(x)                    # distinct values: no tied window
        assert not np.isfinite(stats.differential_entropy(x, method="correa", window_length=2)) or lo < 0
        got = fastinfo.differential_entropy(x, method="correa", window_length=2)
        assert got == pytest.approx(_correa_mpmath(x, 2), rel=1e-12, abs=1e-12)
    x = rng.standard_normal(500)                   # ordinary data: SciPy's values, unchanged
    for scale in (1.0, 2.0 ** -1070, 2.0 ** 1000):
        got = fastinfo.differential_entropy(x * scale, method="correa", window_length=4)
        assert got == pytest.approx(_correa_mpmath(x * scale, 4), rel=1e-12)


def test_correa_tied_window_is_minus_inf():
    # where 2m + 1 order statistics tie, Correa's formula is 0/0 (NaN in SciPy): the documented
    # -inf, as every other method gives for a zero spacing
    for x in ([0.0, 0.0, 0.0], [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 4.0]):
        assert fastinfo.differential_entropy(np.array(x), method="correa", window_length=1) == -np.inf
    assert np.isfinite(fastinfo.differential_entropy(np.arange(9.0), method="correa", window_length=1))


def test_correa_tie_detected_by_the_window_ends():
    # a tie is 2m + 1 equal values: a zero sum of squares would miss the ties whose rounded mean
    # leaves +-1 ulp deviations, giving +inf (log 0 in the sum) or NaN instead of -inf
    for v in (0.1, 0.3, 0.7):
        for m in (1, 3):
            x = np.array([v] * 7 + [v + 1, v + 2, v + 3, v + 5, v + 8, v + 13])
            assert fastinfo.differential_entropy(x, method="correa", window_length=m) == -np.inf, (v, m)
    x = np.array([0.3] * 5 + [0.7] * 5 + [2, 3, 5, 8, 13])
    assert fastinfo.differential_entropy(x, method="correa", window_length=1) == -np.inf


def test_spacings_that_overflow_give_a_number_or_minus_inf():
    # finite samples give a number or -inf, never the NaN of an overflowed c * spacing = +inf
    # beside a tie's -inf (SciPy gives NaN for [0, 0, 1e308]). Oracle: SciPy on the data scaled
    # by 2^-16 (spacings scale exactly), plus 16 log 2
    for method in ("vasicek", "van es", "ebrahimi"):
        assert fastinfo.differential_entropy(np.array([0.0, 0.0, 1e308]), method=method,
                                             window_length=1) == -np.inf, method
        x = np.array([-1.7e308, -1e308, -3.0, 0.0, 2.5, 1e307, 1.5e308, 1.7e308, 1.79e308])
        want = stats.differential_entropy(x * 2.0**-16, method=method, window_length=2) + 16 * np.log(2)
        got = fastinfo.differential_entropy(x, method=method, window_length=2)
        assert got == pytest.approx(want, rel=1e-12), (method, got, want)
