"""The Gaussian closed forms at the ends of the float range: covariance ratios of 1e+-600,
means of +-1e308, log-variances 1e308 apart. Finite where the exact value is, +inf where it
exceeds the float range, never NaN. Oracle: the closed forms in mpmath at high precision."""
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo

TOP = mpmath.mpf(np.finfo(np.float64).max)


def mp_gaussian_kl(mu_p, S_p, mu_q, S_q):
    """(tr(S_q^-1 S_p) - d + log det S_q - log det S_p + dm^T S_q^-1 dm) / 2 of the exact float
    entries (the matrices scaled by their largest entry before the inversion)."""
    with mpmath.workdps(450):
        d = len(mu_p)
        A = mpmath.matrix([[mpmath.mpf(float(x)) for x in r] for r in S_p])
        B = mpmath.matrix([[mpmath.mpf(float(x)) for x in r] for r in S_q])
        sa, sb = max(abs(x) for x in A), max(abs(x) for x in B)
        Bi = (B / sb) ** -1 / sb
        dm = mpmath.matrix([mpmath.mpf(float(a)) - mpmath.mpf(float(b)) for a, b in zip(mu_q, mu_p)])
        logdet = (mpmath.log(mpmath.det(B / sb)) + d * mpmath.log(sb)
                  - mpmath.log(mpmath.det(A / sa)) - d * mpmath.log(sa))
        tr = sum((Bi * A)[i, i] for i in range(d))
        return (tr - d + logdet + (dm.T * Bi * dm)[0, 0]) / 2


def assert_float_of(got, exact, rtol=1e-11, atol=1e-300):
    """got is the float of the exact value: +-inf beyond the float range, else within rtol
    (and atol)."""
    got = float(got)
    assert not math.isnan(got)
    if abs(exact) > TOP:
        assert got == (math.inf if exact > 0 else -math.inf), (got, exact)
    else:
        with mpmath.workdps(50):
            assert abs(mpmath.mpf(got) - exact) <= rtol * abs(exact) + atol, (got, mpmath.nstr(exact, 17))


@pytest.mark.parametrize("case", [
    "p_huge_q_tiny", "ratio_1e200", "means_pm_1e308", "p_tiny_q_huge_2d", "p_tiny_q_huge_1d", "ratio_1e-600_mixed",
    "twice_kl_overflows", "twice_mahalanobis_overflows"])
def test_full_kl_at_the_ends_of_the_float_range(case):
    I2, z2 = np.eye(2), np.zeros(2)
    args = {
        "p_huge_q_tiny": (z2, 1e300 * I2, z2, 1e-300 * I2),               # tr = 2e600: +inf
        "ratio_1e200": (z2, 1e200 * I2, z2, I2),                          # 1e200 - 1 - ln(1e200)
        "means_pm_1e308": (np.full(2, 1e308), I2, np.full(2, -1e308), I2),  # 4e616: +inf
        "p_tiny_q_huge_2d": (z2, 1e-300 * I2, z2, 1e300 * I2),            # tr = 2e-600, ln det 2763
        "p_tiny_q_huge_1d": (np.zeros(1), [[1e-300]], np.zeros(1), [[1e300]]),
        "ratio_1e-600_mixed": (np.array([1.0, -2.0]), np.array([[2e-300, 1e-300], [1e-300, 3e-300]]),
                               np.array([1e150, 0.0]), np.array([[4e300, -1e300], [-1e300, 2e300]])),
        # the trace 3e308 overflows, half of it does not: KL = (3e308 - 1 - ln 3e308) / 2
        "twice_kl_overflows": (np.zeros(1), [[1.5e308]], np.zeros(1), [[0.5]]),
        "twice_mahalanobis_overflows": (np.array([0.9e154]), [[1.0]], np.array([-0.9e154]), [[1.0]]),
    }[case]
    got = fastinfo.gaussian_kl_divergence(*args)
    assert_float_of(got, mp_gaussian_kl(*args))
    if case == "p_tiny_q_huge_1d":
        assert got == pytest.approx(0.5 * (600 * math.log(10) - 1), rel=1e-13)


@st.composite
def scaled_gaussians(draw):
    d = draw(st.integers(1, 3))
    def cov():
        seed = draw(st.integers(0, 2 ** 32 - 1))
        X = np.random.default_rng(seed).standard_normal((d, d))
        S = X @ X.T + 0.5 * np.eye(d)
        S = S * 10.0 ** draw(st.sampled_from([-300, -150, -20, 0, 20, 150, 300]))
        return (S + S.T) / 2
    def mean():
        e = draw(st.sampled_from([0, 100, 300, 307]))
        return np.array([draw(st.floats(-1.7, 1.7)) * 10.0 ** e for _ in range(d)])
    return mean(), cov(), mean(), cov()


@settings(max_examples=40)
@given(scaled_gaussians())
def test_full_kl_scaled_covariances_vs_mpmath(args):
    got = fastinfo.gaussian_kl_divergence(*args)
    # equal covariances: KL = 0 up to (the eigenvalues' rounding)^2 ~ 1e-32
    assert_float_of(got, mp_gaussian_kl(*args), rtol=1e-9, atol=1e-24)


def test_full_kl_batch_has_no_nan_and_nearly_equal_pairs_keep_their_digits():
    I = np.eye(2)
    Sp = np.stack([1e300 * I, 1e-300 * I, I, I * (1 + 1e-9)])
    Sq = np.stack([1e-300 * I, 1e300 * I, 1e200 * I, I])
    got = fastinfo.gaussian_kl_divergence(np.zeros(2), Sp, np.zeros(2), Sq)
    assert not np.isnan(got).any()
    for i in range(4):
        assert_float_of(got[i], mp_gaussian_kl(np.zeros(2), Sp[i], np.zeros(2), Sq[i]), rtol=1e-9)


def mp_diag_kl(mu_p, lv_p, mu_q, lv_q):
    # 800 digits: e^r - 1 - r ~ r^2 / 2 for r down to 1e-300 keeps its digits
    with mpmath.workdps(800):
        terms = []
        for a, b, c, e in zip(mu_p, lv_p, mu_q, lv_q):
            a, b, c, e = (mpmath.mpf(float(v)) for v in (a, b, c, e))
            r = b - e
            terms.append(mpmath.expm1(r) - r + (a - c) ** 2 * mpmath.exp(-e))
        return mpmath.fsum(terms) / 2


@pytest.mark.parametrize("args", [
    ([0.0], [1e308], [0.0], [-1e308]),            # r = 2e308 overflows: +inf
    ([0.0], [-1e308], [0.0], [1e308]),            # e^r - 1 - r = 2e308: +inf
    ([1e308], [0.0], [-1e308], [1e308]),          # (2e308)^2 e^-1e308 = 0: the log-variance term
    ([1e308], [0.0], [-1e308], [1300.0]),         # (2e308)^2 e^-1300: finite
    ([1e-200], [-1000.0], [0.0], [-1000.0]),      # 1e-400 e^1000: finite
    ([1e200], [1000.0], [0.0], [1000.0]),
    ([3.0, 1e-300], [0.5, -700.0], [1.0, 0.0], [0.25, -690.0]),
    ([0.9e154], [0.0], [-0.9e154], [0.0]),         # (1.8e154)^2 = 3.2e308 overflows, half of it does not
    ([0.0], [-0.9e308], [0.0], [0.9e308]),        # r = -1.8e308: (e^r - 1 - r) / 2 = 0.9e308
])
def test_diagonal_kl_at_the_ends_of_the_float_range(args):
    with np.errstate(all="raise"):
        got = fastinfo.diagonal_gaussian_kl_divergence(*args)
    assert_float_of(got, mp_diag_kl(*args), rtol=1e-14)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.floats(-1e308, 1e308), st.floats(-2000, 2000), st.floats(-1e308, 1e308),
                          st.sampled_from([-1e308, -3000.0, -700.0, 0.0, 700.0, 3000.0, 1e308])),
                min_size=1, max_size=4))
def test_diagonal_kl_wide_range_vs_mpmath(rows):
    mu_p, lv_p, mu_q, lv_q = (np.array(c) for c in zip(*rows))
    got = fastinfo.diagonal_gaussian_kl_divergence(mu_p, lv_p, mu_q, lv_q)
    assert_float_of(got, mp_diag_kl(mu_p, lv_p, mu_q, lv_q), rtol=1e-13)


@pytest.mark.parametrize("scale", [1e-320, 1e-300, 1.0, 1e300, 1.7e308])
def test_gaussian_entropy_extremes_vs_mpmath(scale):
    S = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 1.0]]) * scale
    with mpmath.workdps(60):
        A = mpmath.matrix([[mpmath.mpf(float(x)) for x in r] for r in S])
        s = max(abs(x) for x in A)
        want = (3 * (mpmath.log(2 * mpmath.pi) + 1) + mpmath.log(mpmath.det(A / s)) + 3 * mpmath.log(s)) / 2
        var = np.diagonal(S)
        want_diag = (3 * (mpmath.log(2 * mpmath.pi) + 1) + mpmath.fsum(mpmath.log(mpmath.mpf(float(v))) for v in var)) / 2
    # subnormal entries (1e-320) carry few digits: the matrix is what it is, the oracle sees the same floats
    assert_float_of(fastinfo.gaussian_entropy(S), want, rtol=1e-12)
    assert_float_of(fastinfo.gaussian_entropy(var, diagonal=True), want_diag, rtol=1e-14)


@pytest.mark.parametrize("dtype", [">f8", ">f4"])
def test_byte_swapped_input(dtype):
    """Big-endian input gives the values (float64) of the native input of the same precision."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2, 3, 3))
    S = X @ np.swapaxes(X, -1, -2) + np.eye(3)
    S = (S + np.swapaxes(S, -1, -2)) / 2
    mu = rng.standard_normal((2, 3))
    lv = rng.standard_normal((2, 3))
    native = dtype.replace(">", "<")
    calls = [
        lambda t: fastinfo.gaussian_entropy(S.astype(t)),
        lambda t: fastinfo.gaussian_entropy(np.exp(lv).astype(t), diagonal=True),
        lambda t: fastinfo.gaussian_kl_divergence(mu.astype(t), S.astype(t), mu[::-1].astype(t), S[::-1].astype(t)),
        lambda t: fastinfo.diagonal_gaussian_kl_divergence(mu.astype(t), lv.astype(t)),
    ]
    for call in calls:
        a, b = call(dtype), call(native)
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a, b)


def test_diagonal_kl_axis_must_be_an_int():
    mu = np.zeros((2, 3))
    for bad in (True, np.bool_(True), 1.0):
        with pytest.raises(TypeError, match="axis"):
            fastinfo.diagonal_gaussian_kl_divergence(mu, mu, axis=bad)
    np.testing.assert_array_equal(fastinfo.diagonal_gaussian_kl_divergence(mu, mu, axis=np.int64(0)), np.zeros(3))
