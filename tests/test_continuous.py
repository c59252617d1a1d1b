"""Continuous variables (issue 6, first part): spacing estimators against
scipy.stats.differential_entropy, Gaussian closed forms against
torch.distributions and mpmath. Independent oracles only."""
import math

import mpmath
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


# --------------------------------------------------------------------------- Gaussians
torch = pytest.importorskip("torch")
D = torch.distributions


def spd(rng, batch, d):
    A = rng.standard_normal(batch + (d, d))
    return A @ np.swapaxes(A, -1, -2) + 0.3 * np.eye(d)


@pytest.mark.parametrize("d", [1, 3, 6])
def test_gaussian_entropy_and_kl_vs_torch(d):
    rng = np.random.default_rng(d)
    Sp, Sq = spd(rng, (4,), d), spd(rng, (4,), d)
    mp_, mq_ = rng.standard_normal((4, d)), rng.standard_normal((4, d))
    P = D.MultivariateNormal(torch.tensor(mp_), covariance_matrix=torch.tensor(Sp))
    Q = D.MultivariateNormal(torch.tensor(mq_), covariance_matrix=torch.tensor(Sq))
    np.testing.assert_allclose(fastinfo.gaussian_entropy(Sp), P.entropy().numpy(), rtol=1e-12)
    np.testing.assert_allclose(fastinfo.gaussian_kl_divergence(mp_, Sp, mq_, Sq),
                               D.kl_divergence(P, Q).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fastinfo.gaussian_entropy(Sp, base=2), P.entropy().numpy() / math.log(2),
                               rtol=1e-12)
    var = rng.random((4, d)) + 0.1
    N = D.Normal(torch.zeros(4, d, dtype=torch.float64), torch.tensor(np.sqrt(var)))
    np.testing.assert_allclose(fastinfo.gaussian_entropy(var, diagonal=True), N.entropy().sum(-1).numpy(),
                               rtol=1e-12)


def test_gaussian_kl_vs_mpmath_and_nearly_equal():
    mpmath.mp.dps = 40
    rng = np.random.default_rng(5)
    S = spd(rng, (), 3)
    Sq = S * (1 + 1e-7)            # KL ~ 3/2 (x - log1p(x)) ~ 2e-14: no cancellation allowed
    mu = rng.standard_normal(3)
    got = fastinfo.gaussian_kl_divergence(mu, S, mu, Sq)
    x = mpmath.mpf(1) / (1 + mpmath.mpf("1e-7")) - 1
    want = mpmath.mpf(3) / 2 * (x - mpmath.log1p(x))
    assert abs(got - want) <= 1e-8 * want
    Sa, Sb = spd(rng, (), 4), spd(rng, (), 4)
    ma, mb = rng.standard_normal(4), rng.standard_normal(4)
    A, B = mpmath.matrix(Sa.tolist()), mpmath.matrix(Sb.tolist())
    Bi = B ** -1
    dm = mpmath.matrix((mb - ma).tolist())
    want = (sum((Bi * A)[i, i] for i in range(4)) - 4 + mpmath.log(mpmath.det(B) / mpmath.det(A))
            + (dm.T * Bi * dm)[0, 0]) / 2
    assert abs(fastinfo.gaussian_kl_divergence(ma, Sa, mb, Sb) - want) <= 1e-12 * abs(want)


def test_diagonal_kl_vs_torch_and_overflow_free():
    rng = np.random.default_rng(9)
    mu, lv = rng.standard_normal((8, 5)), rng.standard_normal((8, 5)) * 3
    mq, lq = rng.standard_normal((8, 5)), rng.standard_normal((8, 5))
    P = D.Normal(torch.tensor(mu), torch.tensor(np.exp(lv / 2)))
    np.testing.assert_allclose(fastinfo.diagonal_gaussian_kl_divergence(mu, lv),
                               D.kl_divergence(P, D.Normal(0.0, 1.0)).sum(-1).numpy(), rtol=1e-12)
    Q = D.Normal(torch.tensor(mq), torch.tensor(np.exp(lq / 2)))
    np.testing.assert_allclose(fastinfo.diagonal_gaussian_kl_divergence(mu, lv, mq, lq),
                               D.kl_divergence(P, Q).sum(-1).numpy(), rtol=1e-11)
    assert fastinfo.diagonal_gaussian_kl_divergence(mu, lv, reduction="sum") == pytest.approx(
        float(fastinfo.diagonal_gaussian_kl_divergence(mu, lv).sum()), rel=1e-15)
    # log-variances of +-800: exp(800) overflows, the divergence does not
    mpmath.mp.dps = 30
    r = fastinfo.diagonal_gaussian_kl_divergence([[1.0]], [[800.0]], [[0.0]], [[799.0]])
    want = (mpmath.e - 1 - 1 + mpmath.exp(-799)) / 2
    assert abs(r[0] - want) <= 1e-14 * want
    assert fastinfo.diagonal_gaussian_kl_divergence([0.0], [-800.0], [0.0], [-800.0]) == 0.0
    with pytest.raises(ValueError):
        fastinfo.diagonal_gaussian_kl_divergence([np.nan], [0.0])


def test_gaussian_errors_name_the_batch_index():
    good = np.eye(2)
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])          # symmetric, not positive definite
    with pytest.raises(ValueError, match=r"batch index \(1, 0\)"):
        fastinfo.gaussian_entropy(np.stack([np.stack([good, good]), np.stack([bad, good])]))
    with pytest.raises(ValueError, match="not symmetric"):
        fastinfo.gaussian_entropy(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="cov_q"):
        fastinfo.gaussian_kl_divergence(np.zeros(2), good, np.zeros(2), bad)
    with pytest.raises(ValueError, match="positive"):
        fastinfo.gaussian_entropy(np.array([1.0, -1.0]), diagonal=True)


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
