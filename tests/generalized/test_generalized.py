"""Generalized entropies and divergences (Renyi, Tsallis, Hellinger, total variation)
against independent oracles.

Oracles: mpmath at 50 significant digits applied to the exact values of the
floating-point inputs (``mpf(float)`` does not round), SciPy
(``scipy.stats.entropy``, ``scipy.spatial.distance.cityblock``) and NumPy for the
closed-form limits; properties with hypothesis. fastinfo is compared with itself
only where the contract promises it (thread counts, alpha = 1 equals
``fastinfo.entropy`` / ``fastinfo.kl_divergence``).

Accuracy near alpha = 1 (and for nearly equal p, q) is checked on *dyadic*
distributions -- integer counts / 2**40 whose entries sum to exactly 1.0 in any
summation order. For a float64 row that only sums to 1 up to rounding, the
formula log(sum p**alpha) / (1 - alpha) itself moves by (sum p - 1) / (1 - alpha),
i.e. ~1e-7 at alpha = 1 + 1e-9; on dyadic rows the exact value is the textbook
one and the naive implementation (log of a sum that is 1 + O(1e-9)) loses ~7 digits
while an accurate one keeps 12.
"""
import functools
import math

import mpmath
import numpy as np
import pytest
from helpers import assert_mp_close, random_rows
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats
from scipy.spatial.distance import cityblock

import fastinfo

DPS = 50
EPS = np.finfo(np.float64).eps
INF = math.inf
SETTINGS = settings(max_examples=40)


# --------------------------------------------------------------------------- oracles
def _mp(row):
    return [mpmath.mpf(float(v)) for v in np.asarray(row, dtype=np.float64).ravel()]


def _normalized(vals):
    s = mpmath.fsum(vals)
    return [v / s for v in vals]


def _support(p, normalize):
    """The exact positive values of p, divided by their exact sum with normalize."""
    P = _mp(p)
    if normalize:
        P = _normalized(P)
    return [v for v in P if v > 0]


def mp_renyi(p, alpha, normalize=False):
    """H_alpha = log(sum_{p>0} p^alpha) / (1 - alpha), with the limits at 0, 1, inf."""
    with mpmath.workdps(DPS):
        P = _support(p, normalize)
        if alpha == 0:
            return mpmath.log(len(P))
        if alpha == 1:
            return -mpmath.fsum(v * mpmath.log(v) for v in P)
        if alpha == INF:
            return -mpmath.log(max(P))
        a = mpmath.mpf(alpha)
        return mpmath.log(mpmath.fsum(v ** a for v in P)) / (1 - a)


def mp_tsallis(p, q, normalize=False):
    """S_q = sum_{p>0} (p - p^q) / (q - 1); q = 1: Shannon (nats)."""
    with mpmath.workdps(DPS):
        P = _support(p, normalize)
        if q == 1:
            return -mpmath.fsum(v * mpmath.log(v) for v in P)
        qq = mpmath.mpf(q)
        return mpmath.fsum((v - v ** qq) for v in P) / (qq - 1)


def mp_renyi_div(p, q, alpha, normalize=False):
    """D_alpha = log(sum_{p>0} p^alpha q^(1-alpha)) / (alpha - 1), with the contract's
    conventions for q_i = 0 < p_i and the limits at 0, 1, inf."""
    with mpmath.workdps(DPS):
        P, Q = _mp(p), _mp(q)
        if normalize:
            P, Q = _normalized(P), _normalized(Q)
        pairs = [(a, b) for a, b in zip(P, Q) if a > 0]
        if alpha == 0:
            s = mpmath.fsum(b for _, b in pairs)
            return mpmath.inf if s == 0 else -mpmath.log(s)
        if alpha >= 1 and any(b == 0 for _, b in pairs):
            return mpmath.inf
        if alpha == 1:
            return mpmath.fsum(a * mpmath.log(a / b) for a, b in pairs)
        if alpha == INF:
            return mpmath.log(max(a / b for a, b in pairs))
        al = mpmath.mpf(alpha)
        s = mpmath.fsum(a ** al * b ** (1 - al) for a, b in pairs if b > 0)
        return mpmath.inf if s == 0 else mpmath.log(s) / (al - 1)


def mp_hellinger(p, q, normalize=False):
    with mpmath.workdps(DPS):
        P, Q = _mp(p), _mp(q)
        if normalize:
            P, Q = _normalized(P), _normalized(Q)
        return mpmath.sqrt(mpmath.fsum((mpmath.sqrt(a) - mpmath.sqrt(b)) ** 2 for a, b in zip(P, Q)) / 2)


def mp_tv(p, q, normalize=False):
    with mpmath.workdps(DPS):
        P, Q = _mp(p), _mp(q)
        if normalize:
            P, Q = _normalized(P), _normalized(Q)
        return mpmath.fsum(abs(a - b) for a, b in zip(P, Q)) / 2


close = functools.partial(assert_mp_close, rtol=1e-12, atol=1e-15)


def dyadic(rng, k, zeros=0.0, bits=40):
    """A distribution whose entries are integers / 2**bits summing to exactly 1.0."""
    c = rng.integers(1, 2 ** 20, k).astype(np.float64)
    c[rng.random(k) < zeros] = 0
    if not c.any():
        c[0] = 1
    c = np.floor(c / c.sum() * 2.0 ** bits)
    c[np.argmax(c)] += 2.0 ** bits - c.sum()
    p = c / 2.0 ** bits
    assert p.sum() == 1.0 and math.fsum(p) == 1.0
    return p


def dyadic_near(rng, p, rel=1e-6, bits=40):
    """q = p * (1 + rel * noise), renormalized and rounded back to a dyadic distribution."""
    q = p * (1 + rel * rng.standard_normal(p.size))
    c = np.round(q / q.sum() * 2.0 ** bits)
    c[np.argmax(c)] += 2.0 ** bits - c.sum()
    q = c / 2.0 ** bits
    assert math.fsum(q) == 1.0 and np.array_equal(q > 0, p > 0) and not np.array_equal(p, q)
    return q


# --------------------------------------------------------------------------- the five functions
def _renyi2(p, q=None, **kw):
    return fastinfo.renyi_entropy(p, 2.0, **kw)


def _tsallis(p, q=None, **kw):
    return fastinfo.tsallis_entropy(p, 0.5, **kw)


def _rdiv(p, q, **kw):
    return fastinfo.renyi_divergence(p, q, 0.5, **kw)


def _hell(p, q, **kw):
    return fastinfo.hellinger_distance(p, q, **kw)


def _tv(p, q, **kw):
    return fastinfo.total_variation(p, q, **kw)


# name: (call, oracle(p, q, normalize), takes q, takes base)
FUNCS = {
    "renyi_entropy": (_renyi2, lambda p, q, n: mp_renyi(p, 2.0, n), False, True),
    "tsallis_entropy": (_tsallis, lambda p, q, n: mp_tsallis(p, 0.5, n), False, False),
    "renyi_divergence": (_rdiv, lambda p, q, n: mp_renyi_div(p, q, 0.5, n), True, True),
    "hellinger_distance": (_hell, lambda p, q, n: mp_hellinger(p, q, n), True, False),
    "total_variation": (_tv, lambda p, q, n: mp_tv(p, q, n), True, False),
}
NAMES = list(FUNCS)
TWO_ARG = [n for n in NAMES if FUNCS[n][2]]


# --------------------------------------------------------------------------- Renyi entropy
# 1e-300 and 1e300: sum p^alpha is ~m and ~0 (underflows in float64) -- the exact value is finite
ALPHAS = [0.0, 1e-300, 0.25, 0.5, 0.9, 0.99, 1.0, 1.5, 2.0, 3.0, 7.5, 30.0, 1e3, 1e300, INF]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_renyi_entropy_vs_mpmath(alpha):
    # normalized rows with zeros, and unnormalized ones (the formula as passed)
    batch = np.vstack([random_rows(4, 13, 1), random_rows(2, 13, 2, scale=7.25),
                       random_rows(2, 13, 3, normalize=False) * 0.03])
    got = fastinfo.renyi_entropy(batch, alpha)
    assert got.shape == (8,) and got.dtype == np.float64
    for i, row in enumerate(batch):
        close(got[i], mp_renyi(row, alpha), what=(alpha, i))
    # bits: dit's definition log2(sum p^alpha) / (1 - alpha)
    bits = fastinfo.renyi_entropy(batch[:4], alpha, base=2)
    with mpmath.workdps(DPS):
        for i, row in enumerate(batch[:4]):
            close(bits[i], mp_renyi(row, alpha) / mpmath.log(2), what=("bits", alpha, i))
            if alpha not in (0.0, 1.0, INF):
                a = mpmath.mpf(alpha)
                dit = mpmath.log(mpmath.fsum(v ** a for v in _mp(row) if v > 0), 2) / (1 - a)
                close(bits[i], dit, what=("dit", alpha, i))


def test_renyi_entropy_limits_vs_scipy():
    p = random_rows(6, 20, 4)
    np.testing.assert_allclose(fastinfo.renyi_entropy(p, 1), stats.entropy(p, axis=1), rtol=1e-13)
    np.testing.assert_allclose(fastinfo.renyi_entropy(p, 1.0, base=2), stats.entropy(p, base=2, axis=1),
                               rtol=1e-13)
    # the contract: alpha = 1 is fastinfo.entropy
    np.testing.assert_allclose(fastinfo.renyi_entropy(p, 1.0), fastinfo.entropy(p), rtol=1e-14, atol=0)
    np.testing.assert_allclose(fastinfo.renyi_entropy(p, 0), np.log((p > 0).sum(1)), rtol=1e-15)
    np.testing.assert_allclose(fastinfo.renyi_entropy(p, np.inf), -np.log(p.max(1)), rtol=1e-15)
    np.testing.assert_allclose(fastinfo.renyi_entropy(p, 2), -np.log((p * p).sum(1)), rtol=1e-13)
    # alpha = 0 counts the support, whatever the (positive) values are
    assert fastinfo.renyi_entropy([0.0, 3.0, 0.0, 1e-300, 0.5], 0) == pytest.approx(math.log(3), rel=1e-15)
    assert fastinfo.renyi_entropy([0.0, 1.0, 0.0], 0) == 0.0
    assert fastinfo.renyi_entropy([0.0, 1.0, 0.0], 2.5) == 0.0
    assert fastinfo.renyi_entropy([0.0, 1.0, 0.0], np.inf) == 0.0
    for a in (0, 0.5, 1, 2, np.inf):       # uniform on 4 of 6 cells: log 4 for every alpha
        assert fastinfo.renyi_entropy([0.25, 0, 0.25, 0.25, 0, 0.25], a) == pytest.approx(math.log(4), rel=1e-14)
    # python ints and numpy scalars are accepted as alpha
    assert fastinfo.renyi_entropy(p[0], np.float32(2.0)) == pytest.approx(float(mp_renyi(p[0], 2.0)), rel=1e-12)


@pytest.mark.parametrize("delta", [1e-6, 1e-9, 1e-12, 1e-15])
@pytest.mark.parametrize("sign", [1, -1])
def test_renyi_entropy_near_one(delta, sign):
    rng = np.random.default_rng(int(delta ** -0.25) + sign)
    alpha = 1.0 + sign * delta
    for k, zeros in ((2, 0.0), (50, 0.3), (400, 0.0)):
        p = dyadic(rng, k, zeros)
        exact = mp_renyi(p, alpha)
        close(fastinfo.renyi_entropy(p, alpha), exact, rtol=1e-12, what=(alpha, k))
        with mpmath.workdps(DPS):
            close(fastinfo.renyi_entropy(p, alpha, base=2), exact / mpmath.log(2), rtol=1e-12)


# --------------------------------------------------------------------------- Tsallis entropy
@pytest.mark.parametrize("q", [-2.0, -0.5, 0.0, 0.3, 0.5, 0.999, 1.0, 1.001, 2.0, 3.7, 10.0])
def test_tsallis_vs_mpmath(q):
    batch = np.vstack([random_rows(4, 11, 5), random_rows(2, 11, 6, scale=2.5),
                       random_rows(2, 11, 7, normalize=False) * 0.1])
    got = fastinfo.tsallis_entropy(batch, q)
    assert got.shape == (8,) and got.dtype == np.float64
    for i, row in enumerate(batch):
        close(got[i], mp_tsallis(row, q), what=(q, i))


@pytest.mark.parametrize("q", [-1.0, 0.0, 0.5, 2.0, 3.0])
def test_tsallis_is_dits_definition_for_normalized_p(q):
    rng = np.random.default_rng(8)
    for k in (1, 3, 40):
        p = dyadic(rng, k, zeros=0.25)
        with mpmath.workdps(DPS):
            qq = mpmath.mpf(q)
            dit = (1 - mpmath.fsum(v ** qq for v in _mp(p) if v > 0)) / (qq - 1)
        close(fastinfo.tsallis_entropy(p, q), dit, atol=1e-15, what=(q, k))


def test_tsallis_limits_and_zeros():
    p = random_rows(5, 17, 9)
    np.testing.assert_allclose(fastinfo.tsallis_entropy(p, 1), stats.entropy(p, axis=1), rtol=1e-13)
    # q = 2: 1 - sum p^2 (Gini-Simpson); q = 0: (support size) - 1 for a normalized p
    np.testing.assert_allclose(fastinfo.tsallis_entropy(p, 2.0), 1 - (p * p).sum(1), rtol=1e-13)
    np.testing.assert_allclose(fastinfo.tsallis_entropy(p, 0.0), (p > 0).sum(1) - 1.0, rtol=1e-13, atol=1e-14)
    # zeros are excluded, also for q <= 0 (where 0**q would be inf or 1)
    # sum over p > 0 of (p - p^-1) / (-2) = 2 * (0.5 - 2) / -2 = 1.5
    assert fastinfo.tsallis_entropy([0.5, 0.0, 0.5], -1.0) == pytest.approx(1.5, rel=1e-15)
    assert fastinfo.tsallis_entropy([1.0, 0.0, 0.0], -3.0) == 0.0
    assert fastinfo.tsallis_entropy([0.0, 0.25, 0.75], 0.0) == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("delta", [1e-6, 1e-9, 1e-12, 1e-15])
@pytest.mark.parametrize("sign", [1, -1])
def test_tsallis_near_one(delta, sign):
    # the termwise formula needs no exact sum: any normalized rows
    q = 1.0 + sign * delta
    p = random_rows(3, 60, 10, zeros=0.3)
    got = fastinfo.tsallis_entropy(p, q)
    for i, row in enumerate(p):
        close(got[i], mp_tsallis(row, q), rtol=1e-12, what=(q, i))


# --------------------------------------------------------------------------- Renyi divergence
DIV_ALPHAS = [0.0, 0.25, 0.5, 0.9, 1.0, 1.5, 2.0, 7.0, 500.0, 1e300, INF]


def _div_batch():
    P = np.vstack([random_rows(4, 12, 11), random_rows(2, 12, 12, scale=3.0)])
    Q = np.vstack([random_rows(4, 12, 13, zeros=0.0), random_rows(2, 12, 14, zeros=0.0, scale=0.5)])
    # zeros of q under p > 0 (row 1), zeros of p under q > 0 (row 2: p has zeros anyway),
    # disjoint supports (row 3)
    Q[1, np.argmax(P[1])] = 0.0
    P[3] = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    Q[3] = [0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0]
    return P, Q


@pytest.mark.parametrize("alpha", DIV_ALPHAS)
def test_renyi_divergence_vs_mpmath(alpha):
    P, Q = _div_batch()
    got = fastinfo.renyi_divergence(P, Q, alpha)
    assert got.shape == (6,) and got.dtype == np.float64
    for i in range(len(P)):
        close(got[i], mp_renyi_div(P[i], Q[i], alpha), what=(alpha, i))
    bits = fastinfo.renyi_divergence(P, Q, alpha, base=2)
    with mpmath.workdps(DPS):
        for i in range(len(P)):
            close(bits[i], mp_renyi_div(P[i], Q[i], alpha) / mpmath.log(2), what=("bits", alpha, i))


def test_renyi_divergence_limits_and_zero_conventions():
    P, Q = random_rows(6, 15, 15), random_rows(6, 15, 16, zeros=0.1)
    with np.errstate(divide="ignore"):
        kl = stats.entropy(P, Q, axis=1)
    got = fastinfo.renyi_divergence(P, Q, 1)
    assert np.array_equal(np.isposinf(got), np.isposinf(kl)) and np.isposinf(kl).any()
    fin = np.isfinite(kl)
    np.testing.assert_allclose(got[fin], kl[fin], rtol=1e-12)
    np.testing.assert_allclose(got[fin], fastinfo.kl_divergence(P, Q)[fin], rtol=1e-13)
    np.testing.assert_allclose(fastinfo.renyi_divergence(P, Q, 0), -np.log((Q * (P > 0)).sum(1)), rtol=1e-13,
                               atol=1e-15)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(P > 0, P / Q, 0.0)
    np.testing.assert_allclose(fastinfo.renyi_divergence(P, Q, np.inf), np.log(ratio.max(1)), rtol=1e-13)
    # q = 0 < p: +inf from alpha = 1 on; below 1 that term is 0
    p, q = [0.5, 0.5], [1.0, 0.0]
    for a in (1.0, 1.5, 2, np.inf):
        assert fastinfo.renyi_divergence(p, q, a) == np.inf
    assert fastinfo.renyi_divergence(p, q, 0.5) == pytest.approx(math.log(2), rel=1e-14)   # -2 log sqrt(.5)
    assert fastinfo.renyi_divergence(p, q, 0.0) == 0.0                # -log(q1 + q2) = -log 1
    # disjoint supports: +inf for every alpha, including 0
    for a in (0, 0.3, 1, 3, np.inf):
        assert fastinfo.renyi_divergence([1.0, 0.0], [0.0, 1.0], a) == np.inf
    # p = 0 < q contributes nothing (alpha = 0 included: the sum is over p > 0)
    assert fastinfo.renyi_divergence([1.0, 0.0], [0.25, 0.75], 0) == pytest.approx(math.log(4), rel=1e-15)
    assert fastinfo.renyi_divergence([1.0, 0.0], [0.25, 0.75], 2) == pytest.approx(math.log(4), rel=1e-15)
    assert fastinfo.renyi_divergence([1.0, 0.0], [0.25, 0.75], np.inf) == pytest.approx(math.log(4), rel=1e-15)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1 - 1e-9, 1.0, 1 + 1e-9, 1 + 1e-12, 2.0, 5.0, INF])
def test_renyi_divergence_of_nearly_equal_distributions(alpha):
    """D ~ 1e-12: relative accuracy needs the terms p (q/p)^(1-alpha) - p, not a
    log of a sum that is 1 + 1e-12 (which would keep ~4 digits)."""
    rng = np.random.default_rng(17)
    for k, zeros in ((5, 0.0), (100, 0.2)):
        p = dyadic(rng, k, zeros)
        q = dyadic_near(rng, p)
        exact = mp_renyi_div(p, q, alpha)
        if alpha == INF:
            assert 1e-8 < exact < 1e-4
        elif alpha != 0:
            assert 1e-15 < exact < 1e-9
        close(fastinfo.renyi_divergence(p, q, alpha), exact, rtol=1e-9, atol=1e-25, what=(alpha, k))
        close(fastinfo.renyi_divergence(q, p, alpha), mp_renyi_div(q, p, alpha), rtol=1e-9, atol=1e-25)
        # and of p against itself: 0 (dyadic p: the formula is exactly 0)
        assert abs(fastinfo.renyi_divergence(p, p, alpha)) <= 1e-15


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 2.0, 5.0, INF])
def test_renyi_divergence_of_p_with_itself(alpha):
    P = random_rows(20, 30, 18, zeros=0.3)
    got = fastinfo.renyi_divergence(P, P, alpha)
    with mpmath.workdps(DPS):
        for i, row in enumerate(P):
            # the formula on the exact floats is log(sum p) / (alpha - 1) (sum p = 1 up to rounding);
            # allow that plus the rounding of a float64 sum of the row
            s = abs(mpmath.fsum(_mp(row)) - 1)
            tol = 1e-15 + (float(s) + 30 * EPS) / (abs(alpha - 1) if alpha not in (1.0, INF) else 1.0)
            assert abs(got[i]) <= tol, (alpha, i, got[i], tol)


# --------------------------------------------------------------------------- Hellinger, total variation
def test_hellinger_and_tv_vs_oracles():
    P = np.vstack([random_rows(5, 14, 19), random_rows(2, 14, 20, scale=4.0), random_rows(1, 14, 21, normalize=False)])
    Q = np.vstack([random_rows(5, 14, 22), random_rows(2, 14, 23, scale=0.2), random_rows(1, 14, 24, normalize=False)])
    Q[0] = P[0]
    Q[1] = np.roll(P[1], 3)
    h = fastinfo.hellinger_distance(P, Q)
    tv = fastinfo.total_variation(P, Q)
    assert h.shape == tv.shape == (8,) and h[0] == 0.0 and tv[0] == 0.0
    for i in range(len(P)):
        close(h[i], mp_hellinger(P[i], Q[i]), what=("hellinger", i))
        close(tv[i], mp_tv(P[i], Q[i]), what=("tv", i))
        assert tv[i] == pytest.approx(0.5 * cityblock(P[i], Q[i]), rel=1e-13, abs=1e-16)
    # for normalized (here dyadic, sum exactly 1) rows: H = sqrt(1 - sum sqrt(p q)); disjoint: H = TV = 1
    rng = np.random.default_rng(25)
    for _ in range(5):
        p, q = dyadic(rng, 9, 0.3), dyadic(rng, 9, 0.3)
        with mpmath.workdps(DPS):
            bc = mpmath.fsum(mpmath.sqrt(a * b) for a, b in zip(_mp(p), _mp(q)))
            close(fastinfo.hellinger_distance(p, q), mpmath.sqrt(1 - bc), rtol=1e-12)
    assert fastinfo.hellinger_distance([0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]) == pytest.approx(1.0, rel=1e-15)
    assert fastinfo.total_variation([0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]) == 1.0


def test_hellinger_of_nearly_equal_distributions():
    """(sqrt p - sqrt q)^2 termwise: 1 - sum sqrt(p q) would cancel to ~3 digits here."""
    rng = np.random.default_rng(26)
    for k in (3, 200):
        p = dyadic(rng, k, 0.1)
        q = dyadic_near(rng, p)
        exact = mp_hellinger(p, q)
        assert exact < 1e-6
        close(fastinfo.hellinger_distance(p, q), exact, rtol=1e-8, atol=0)
        close(fastinfo.total_variation(p, q), mp_tv(p, q), rtol=1e-13, atol=0)


# --------------------------------------------------------------------------- API
@pytest.mark.parametrize("name", NAMES)
def test_scalar_axis_broadcast_keepdims_out(name):
    f, oracle, two, _ = FUNCS[name]
    K = 9
    P = random_rows(4, K, 27)
    Q = random_rows(3, K, 28, zeros=0.0)
    # 1-D: a NumPy scalar
    r = f(P[0], Q[0])
    assert isinstance(r, np.float64), type(r)
    close(r, oracle(P[0], Q[0], False))
    # axis=0: the distributions are the columns
    r = f(P.T, Q[:1].T if two else None, axis=0)
    assert r.shape == (4,)
    for i in range(4):
        close(r[i], oracle(P[i], Q[0], False))
    # q of shape (K,) against p of shape (N, K); (3, 1, K) against (4, K) -> (3, 4)
    if two:
        r = f(P, Q[1])
        assert r.shape == (4,)
        for i in range(4):
            close(r[i], oracle(P[i], Q[1], False))
        r = f(Q[:, None, :], P)
        assert r.shape == (3, 4)
        for i in range(3):
            for j in range(4):
                close(r[i, j], oracle(Q[i], P[j], False))
        with pytest.raises(ValueError):
            f(P, Q)                      # batch shapes (4,) and (3,) do not broadcast
        r = f(P[0], Q, normalize=True)           # p broadcast against a batch of q
        assert r.shape == (3,)
        for i in range(3):
            close(r[i], oracle(P[0], Q[i], True))
    # a strided 3-D view, distributions along axis 1, normalized
    A = np.random.default_rng(41).random((3, K, 4))[:, :, ::2] * 5
    B = np.random.default_rng(42).random((3, K, 2)) + 0.1
    r = f(A, B if two else None, axis=1, normalize=True)
    assert r.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            close(r[i, j], oracle(A[i, :, j], B[i, :, j], True))
    # keepdims and out
    r = f(P, Q[0] if two else None, keepdims=True)
    assert r.shape == (4, 1)
    r0 = f(P.T, Q[0][:, None] if two else None, axis=0, keepdims=True)
    assert r0.shape == (1, 4)
    out = np.full(4, np.nan)
    res = f(P, Q[0] if two else None, out=out)
    assert res is out
    for i in range(4):
        close(out[i], oracle(P[i], Q[0], False))
    out_kd = np.full((4, 1), np.nan)
    assert f(P, Q[0] if two else None, keepdims=True, out=out_kd) is out_kd
    assert np.array_equal(out_kd[:, 0], out)
    with pytest.raises((ValueError, TypeError)):
        f(P, Q[0] if two else None, out=np.empty(3))


@pytest.mark.parametrize("name", NAMES)
def test_float32_and_counts(name):
    f, oracle, two, has_base = FUNCS[name]
    P = random_rows(5, 21, 29).astype(np.float32)
    Q = random_rows(5, 21, 30, zeros=0.05).astype(np.float32)
    r = f(P, Q if two else None)
    assert r.dtype == np.float32 and r.shape == (5,)
    for i in range(5):
        # computed in float64 from the float32 values, rounded once: within 1 float32 ulp
        close(r[i], oracle(P[i], Q[i], False), rtol=2 ** -23, atol=1e-30)
    assert f(P[0], Q[0] if two else None).dtype == np.float32
    # counts (int64, and a Python list): normalize divides by the exact sum
    rng = np.random.default_rng(31)
    C, D = rng.integers(0, 50, (4, 21)), rng.integers(1, 9, (4, 21))
    C[:, 0] += 1
    r = f(C, D if two else None, normalize=True)
    assert r.dtype == np.float64
    for i in range(4):
        close(r[i], oracle(C[i], D[i], True), rtol=1e-12, what=(name, i))
    r_list = f(C.tolist(), D.tolist() if two else None, normalize=True)
    assert np.array_equal(r_list, r)
    if has_base:
        r2 = f(C, D if two else None, normalize=True, base=2)
        with mpmath.workdps(DPS):
            for i in range(4):
                close(r2[i], oracle(C[i], D[i], True) / mpmath.log(2), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [-0.25, np.nan, np.inf])
def test_invalid_entries(name, bad):
    f, oracle, two, _ = FUNCS[name]
    P, Q = random_rows(4, 7, 32), random_rows(4, 7, 33, zeros=0.0)
    Pb = P.copy()
    Pb[2, 3] = bad
    with pytest.raises(ValueError, match=r"batch index \(?2,?\)?"):
        f(Pb, Q if two else None)
    r = f(Pb, Q if two else None, invalid="nan")
    assert np.isnan(r[2]) and np.all(np.isfinite(r[[0, 1, 3]]))
    for i in (0, 1, 3):
        close(r[i], oracle(P[i], Q[i], False))
    if two:                           # the bad value in q
        Qb = Q.copy()
        Qb[1, 0] = bad
        with pytest.raises(ValueError, match=r"batch index \(?1,?\)?"):
            f(P, Qb)
        r = f(P, Qb, invalid="nan")
        assert np.isnan(r[1]) and np.all(np.isfinite(r[[0, 2, 3]]))
    # 1-D
    with pytest.raises(ValueError, match="batch index"):
        f(Pb[2], Q[2] if two else None)
    assert np.isnan(f(Pb[2], Q[2] if two else None, invalid="nan"))
    # axis=0: column 2 is the bad distribution
    with pytest.raises(ValueError, match=r"batch index \(?2,?\)?"):
        f(Pb.T, Q.T if two else None, axis=0)


@pytest.mark.parametrize("name", NAMES)
def test_normalize_all_zero_row_and_inputs_untouched(name):
    f, _, two, _ = FUNCS[name]
    P, Q = random_rows(3, 6, 34), random_rows(3, 6, 35) * 3
    P[1] = 0.0
    P_before, Q_before = P.copy(), Q.copy()
    with pytest.raises(ValueError, match=r"batch index \(?1,?\)?"):
        f(P, Q if two else None, normalize=True)
    r = f(P, Q if two else None, normalize=True, invalid="nan")
    assert np.isnan(r[1]) and np.all(np.isfinite(r[[0, 2]]))
    if two:
        with pytest.raises(ValueError, match=r"batch index \(?1,?\)?"):
            f(Q, P, normalize=True)
    P[2, 2] = -1.0
    P_before = P.copy()
    f(P, Q if two else None, normalize=True, invalid="nan")
    f(P, Q if two else None, invalid="nan", out=np.empty(3))
    assert np.array_equal(P, P_before, equal_nan=True) and np.array_equal(Q, Q_before)
    P32 = P.astype(np.float32)
    c32 = P32.copy()
    f(P32, Q.astype(np.float32) if two else None, normalize=True, invalid="nan")
    assert np.array_equal(P32, c32)


def test_bad_parameters():
    p, q = random_rows(2, 5, 36), random_rows(2, 5, 37)
    for bad in (-0.5, -np.inf, np.nan, -1e-300):
        with pytest.raises(ValueError):
            fastinfo.renyi_entropy(p, bad)
        with pytest.raises(ValueError):
            fastinfo.renyi_divergence(p, q, bad)
    for bad in ("2", None, [2.0]):
        with pytest.raises(TypeError):
            fastinfo.renyi_entropy(p, bad)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError):
            fastinfo.tsallis_entropy(p, bad)
    with pytest.raises(ValueError):
        fastinfo.renyi_entropy(p, 2.0, invalid="ignore")
    with pytest.raises(ValueError):
        fastinfo.renyi_entropy(p, 2.0, base=-2)
    with pytest.raises(ValueError):
        fastinfo.hellinger_distance(p, random_rows(2, 6, 38))        # lengths differ along the axis


def test_threads_bitwise():
    P = random_rows(2000, 300, 39, zeros=0.1)
    Q = random_rows(2000, 300, 40, zeros=0.0)
    calls = [
        lambda nt: fastinfo.renyi_entropy(P, 0.5, n_threads=nt),
        lambda nt: fastinfo.renyi_entropy(P, 1 + 1e-9, n_threads=nt),
        lambda nt: fastinfo.tsallis_entropy(P, 2.5, n_threads=nt),
        lambda nt: fastinfo.renyi_divergence(P, Q, 2.0, n_threads=nt),
        lambda nt: fastinfo.renyi_divergence(P, Q[0], 0.7, normalize=True, n_threads=nt),
        lambda nt: fastinfo.hellinger_distance(P, Q, n_threads=nt),
        lambda nt: fastinfo.total_variation(P, Q, n_threads=nt),
    ]
    for c in calls:
        r1, r2 = c(1), c(2)
        assert np.array_equal(r1, r2)
    # and the values are the oracle's (one row)
    close(calls[0](2)[1234], mp_renyi(P[1234], 0.5))


# --------------------------------------------------------------------------- properties
ELEMENTS = st.one_of(st.just(0.0), st.floats(1e-6, 1e3), st.sampled_from([1e-300, 1e-12, 0.5, 1.0]))
GRID = [0.0, 0.3, 0.5, 0.99, 1.0, 1.01, 2.0, 5.0, INF]


@st.composite
def dists(draw, n=1, max_k=30, elements=ELEMENTS):
    k = draw(st.integers(1, max_k))
    out = []
    for _ in range(n):
        a = draw(hnp.arrays(np.float64, k, elements=elements))
        if not a.any():
            a[draw(st.integers(0, k - 1))] = 1.0
        out.append(a / a.sum())
    return out


@SETTINGS
@given(dists())
def test_renyi_entropy_non_increasing_and_bounded(ps):
    (p,) = ps
    h = [float(fastinfo.renyi_entropy(p, a)) for a in GRID]
    m = int((p > 0).sum())
    slack = 1e-12 * max(1.0, math.log(m) if m else 1.0)
    for a, b, (x, y) in zip(GRID, GRID[1:], zip(h, h[1:])):
        assert y <= x + slack, (a, b, x, y)
    for a, x in zip(GRID, h):
        assert -slack <= x <= math.log(m) + slack, (a, x, m)


TS_GRID = [-0.5, 0.0, 0.3, 0.99, 1.0, 1.01, 2.0, 5.0]


@SETTINGS
@given(dists())
def test_tsallis_non_increasing_in_q_and_bounded(ps):
    """For normalized p, S_q >= 0 and is non-increasing in q; for q > 0 it is at most
    ln_q(m) = (m^(1-q) - 1) / (1 - q), its value on the uniform distribution over the support."""
    (p,) = ps
    m = int((p > 0).sum())
    s = [float(fastinfo.tsallis_entropy(p, q)) for q in TS_GRID]
    for q, x in zip(TS_GRID, s):
        assert x >= -1e-12 * max(1.0, m), (q, x)
        if q > 0:
            lnq = math.log(m) if q == 1 else (m ** (1 - q) - 1) / (1 - q)
            assert x <= lnq + 1e-12 * max(1.0, lnq), (q, x, lnq)
    for a, b, x, y in zip(TS_GRID, TS_GRID[1:], s, s[1:]):
        assert y <= x + 1e-12 * max(1.0, abs(x)), (a, b, x, y)


DIV_ELEMENTS = st.one_of(st.just(0.0), st.floats(1e-4, 1e3), st.sampled_from([1e-9, 0.5, 1.0]))


@SETTINGS
@given(dists(n=2, elements=DIV_ELEMENTS))
def test_renyi_divergence_non_decreasing_and_nonnegative(pq):
    p, q = pq
    d = [float(fastinfo.renyi_divergence(p, q, a)) for a in GRID]
    for a, x in zip(GRID, d):
        assert x >= -1e-12 and not math.isnan(x), (a, x)
    for a, b, x, y in zip(GRID, GRID[1:], d, d[1:]):
        assert y == INF if x == INF else y >= x - 1e-11 * max(1.0, abs(x)), (a, b, x, y)
    assert abs(float(fastinfo.renyi_divergence(p, p, 2.0))) <= 1e-12


@SETTINGS
@given(dists(n=3))
def test_hellinger_tv_metric_and_le_cam(pqr):
    p, q, r = pqr
    H = {(i, j): float(fastinfo.hellinger_distance(a, b)) for i, a in enumerate(pqr) for j, b in enumerate(pqr)}
    T = {(i, j): float(fastinfo.total_variation(a, b)) for i, a in enumerate(pqr) for j, b in enumerate(pqr)}
    for D in (H, T):
        for i in range(3):
            assert D[i, i] == 0.0
            for j in range(3):
                assert D[i, j] == D[j, i]
                assert -0.0 <= D[i, j] <= 1.0 + 1e-15
                for k in range(3):
                    assert D[i, k] <= D[i, j] + D[j, k] + 1e-12
    for key in H:
        h, tv = H[key], T[key]
        assert h * h <= tv + 1e-12 and tv <= math.sqrt(2) * h + 1e-12, (key, h, tv)


def test_hellinger_and_tv_do_not_overflow_short_of_the_result():
    # the sums are halved before they are added: huge unnormalized rows keep a finite result
    assert fastinfo.total_variation([1e308, 0.0], [0.0, 1e308]) == 1e308
    assert math.isclose(fastinfo.hellinger_distance([1e308, 0.0], [0.0, 1e308]), 1e154, rel_tol=1e-15)


def _mp_renyi_div_normalized(p, q, alpha):
    p = [mpmath.mpf(float(v)) for v in p]
    q = [mpmath.mpf(float(v)) for v in q]
    sp, sq = mpmath.fsum(p), mpmath.fsum(q)
    s = mpmath.fsum((a / sp) ** alpha * (b / sq) ** (1 - alpha) for a, b in zip(p, q) if a > 0)
    return mpmath.log(s) / (alpha - 1)


@pytest.mark.parametrize("alpha", [0.5, 2.0, 0.7, 3.5])
@pytest.mark.parametrize("mass", [1e-8, 1e8, 1e10])
def test_renyi_divergence_normalize_with_very_different_masses(alpha, mass):
    # counts against probabilities: the normalized forms must not cancel the masses away
    mpmath.mp.dps = 50
    p = np.array([0.2, 0.3, 0.5])
    q = np.array([0.5, 0.3, 0.2]) * mass
    want = _mp_renyi_div_normalized(p, q, mpmath.mpf(alpha))
    got = fastinfo.renyi_divergence(p, q, alpha, normalize=True)
    assert abs(got - want) <= 1e-13 * abs(want)
    got2 = fastinfo.renyi_divergence(q, p, alpha, normalize=True)
    want2 = _mp_renyi_div_normalized(q, p, mpmath.mpf(alpha))
    assert abs(got2 - want2) <= 1e-13 * abs(want2)


def test_subnormal_and_tiny_sums_are_measured_not_nan():
    tiny = [1e-310, 1e-310]
    for alpha in (0.5, 2.0, 3.7, 1.05):
        assert math.isclose(fastinfo.renyi_entropy(tiny, alpha, normalize=True), math.log(2), rel_tol=1e-12)
    assert math.isclose(fastinfo.tsallis_entropy(tiny, 1.05, normalize=True),
                        (1 - 2 * 0.5 ** 1.05) / 0.05, rel_tol=1e-12)
    assert math.isclose(fastinfo.total_variation(tiny, [1.0, 0.0], normalize=True), 0.5, rel_tol=1e-15)
    mpmath.mp.dps = 50
    for alpha in (0.5, 2.0):
        want = _mp_renyi_div_normalized(tiny, [1.0, 2.0], mpmath.mpf(alpha))
        got = fastinfo.renyi_divergence(tiny, [1.0, 2.0], alpha, normalize=True)
        assert abs(got - want) <= 1e-13 * abs(want)


def test_renyi_entropy_near_one_with_counts():
    # counts (sum 1e6) near alpha = 1: the normalized form works on p / sum p
    mpmath.mp.dps = 50
    counts = np.array([999_990.0, 4.0, 3.0, 2.0, 1.0])
    for alpha in (1 - 1e-7, 1 + 1e-7, 1.1):
        x = [mpmath.mpf(float(c)) / mpmath.mpf(float(counts.sum())) for c in counts]
        want = mpmath.log(mpmath.fsum(v ** alpha for v in x)) / (1 - mpmath.mpf(alpha))
        got = fastinfo.renyi_entropy(counts, alpha, normalize=True)
        assert abs(got - want) <= 1e-11 * abs(want), (alpha, got, want)


@pytest.mark.parametrize("name", ["renyi_entropy", "tsallis_entropy", "renyi_divergence",
                                  "hellinger_distance", "total_variation"])
def test_empty_distribution_is_zero(name):
    f = getattr(fastinfo, name)
    args = {"renyi_entropy": (2.0,), "tsallis_entropy": (2.0,), "renyi_divergence": (0.5,)}.get(name, ())
    two = name in ("renyi_divergence", "hellinger_distance", "total_variation")
    e = np.empty((3, 0))
    for normalize in (False, True):
        r = f(e, e, *args, normalize=normalize) if two else f(e, *args, normalize=normalize)
        assert np.array_equal(r, np.zeros(3))
