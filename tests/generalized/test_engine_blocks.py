"""The generalized measures' passes on the row engine's blocks (first pass: validity, sums,
max, support; Hellinger, total variation and chi^2 sums; the Renyi and Tsallis power sums):
every storage type, rows that end inside a vector, span several blocks or are read with a
stride, and an invalid value anywhere."""
import math

import ml_dtypes
import numpy as np
import pytest

import fastinfo as fi

DTYPES = [np.dtype(np.float64), np.dtype(np.float32), np.dtype(ml_dtypes.bfloat16), np.dtype(np.float16)]
IDS = [d.name for d in DTYPES]
CALLS = {
    "renyi_entropy": lambda p, q, **kw: fi.renyi_entropy(p, 2.5, **kw),
    "renyi_entropy_near_1": lambda p, q, **kw: fi.renyi_entropy(p, 1.01, **kw),
    "tsallis_entropy": lambda p, q, **kw: fi.tsallis_entropy(p, 2.0, **kw),
    "renyi_divergence": lambda p, q, **kw: fi.renyi_divergence(p, q, 3.0, **kw),
    "hellinger_distance": lambda p, q, **kw: fi.hellinger_distance(p, q, **kw),
    "total_variation": lambda p, q, **kw: fi.total_variation(p, q, **kw),
}


def _rows(n, k, dtype, seed):
    rng = np.random.default_rng(seed)
    p = rng.random((n, k)) + 0.01
    return (p / p.sum(1, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("K", [3, 8192 + 5, 3 * 8192])
@pytest.mark.parametrize("where", ["first", "last", "block_end", "middle"])
@pytest.mark.parametrize("bad", [-1e-3, np.nan, np.inf])
def test_an_invalid_value_anywhere_makes_its_row_nan(dtype, K, where, bad):
    p, q = _rows(3, K, dtype, 1), _rows(3, K, dtype, 2)
    j = {"first": 0, "last": K - 1, "block_end": min(K - 1, 8191), "middle": K // 2}[where]
    for name, f in CALLS.items():
        for which in ("p", "q"):
            if which == "q" and name in ("renyi_entropy", "renyi_entropy_near_1", "tsallis_entropy"):
                continue
            a, b = p.copy(), q.copy()
            (a if which == "p" else b)[1, j] = bad
            for normalize in (False, True):
                got = f(a, b, normalize=normalize, invalid="nan")
                assert np.isnan(got[1]), (name, which, normalize)
                assert np.isfinite(got[[0, 2]]).all(), (name, which, normalize)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("K", [1, 7, 8192 + 5, 3 * 8192 + 1])
@pytest.mark.parametrize("normalize", [False, True])
def test_distances_against_float64_formulas_contiguous_and_strided(dtype, K, normalize):
    p, q = _rows(4, 2 * K, dtype, 3), _rows(4, 2 * K, dtype, 4)
    for sl in (np.s_[:, :K], np.s_[:, ::2]):
        a, b = p[sl], q[sl]
        P, Q = a.astype(np.float64), b.astype(np.float64)
        if normalize:
            P, Q = P / P.sum(1, keepdims=True), Q / Q.sum(1, keepdims=True)
        tv = 0.5 * np.abs(P - Q).sum(1)
        hel = np.sqrt(0.5 * ((np.sqrt(P) - np.sqrt(Q)) ** 2).sum(1))
        rtol = 1e-13 if dtype == np.float64 else 1e-6      # float32 results for the others
        np.testing.assert_allclose(fi.total_variation(a, b, normalize=normalize), tv, rtol=rtol, atol=1e-300)
        np.testing.assert_allclose(fi.hellinger_distance(a, b, normalize=normalize), hel, rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_support_and_max_of_the_first_pass(dtype):
    """Renyi order 0 counts the support, order inf takes the max, wherever they lie in the
    blocks."""
    K = 2 * 8192 + 9
    p = np.zeros((2, K))
    p[0, ::3] = 1.0 / len(p[0, ::3])
    p[1, 5] = 0.5
    p[1, K - 1] = 0.25
    p[1, 8192] = 0.25
    a = p.astype(dtype)
    np.testing.assert_allclose(fi.renyi_entropy(a, 0.0), np.log([len(p[0, ::3]), 3]), rtol=1e-6)
    P = a.astype(np.float64)
    np.testing.assert_allclose(fi.renyi_entropy(a, np.inf, normalize=False), -np.log(P.max(1)), rtol=1e-6)
    np.testing.assert_allclose(fi.renyi_entropy(a[:, ::-1], np.inf, normalize=False), -np.log(P.max(1)), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("K", [1, 7, 8192 + 5, 3 * 8192 + 1])
@pytest.mark.parametrize("alpha", [0.5, 2.0, 3.0])
def test_renyi_power_sums_against_mpmath_contiguous_and_strided(dtype, K, alpha):
    # the power sum's blocks (orders 1/2, 2, 3): the largest value repeated in the first and the
    # last element and across a block boundary (ties, counted apart), rows read with a stride
    import mpmath
    p = _rows(2, 2 * K, dtype, 5)
    p[:, [0, -1, min(2 * K - 1, 8191), min(2 * K - 1, 8192)]] = p.max()
    for sl in (np.s_[:, :K], np.s_[:, ::2]):
        a = p[sl]
        got = fi.renyi_entropy(a, alpha, normalize=False)
        for i, row in enumerate(a.astype(np.float64)):
            s = mpmath.fsum(mpmath.mpf(float(x)) ** mpmath.mpf(alpha) for x in row)
            want = float(mpmath.log(s) / (1 - mpmath.mpf(alpha)))
            rtol = 1e-12 if dtype == np.float64 else 1e-6      # float32 results for the others
            assert got[i] == pytest.approx(want, rel=rtol, abs=1e-300), (alpha, K, i)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("K", [1, 7, 8192 + 5, 3 * 8192 + 1])
@pytest.mark.parametrize("alpha", [0.3, 1.7, 6.0])
@pytest.mark.parametrize("normalize", [False, True])
def test_power_sums_of_any_order_against_libm_pow(dtype, K, alpha, normalize):
    # orders other than 1/2, 2, 3 (exp(a log y) in the blocks), Renyi and Tsallis, against
    # libm's pow summed exactly (math.fsum); the largest value tied across a block boundary
    p = _rows(2, 2 * K, dtype, 6)
    p[:, [0, min(2 * K - 1, 8191), min(2 * K - 1, 8192)]] = p.max()
    rtol = 1e-12 if dtype == np.float64 else 1e-6      # float32 results for the others
    for sl in (np.s_[:, :K], np.s_[:, ::2]):
        a = p[sl]
        ren = fi.renyi_entropy(a, alpha, normalize=normalize)
        ts = fi.tsallis_entropy(a, alpha, normalize=normalize)
        for i, row in enumerate(a.astype(np.float64)):
            x = row / math.fsum(row) if normalize else row
            sa = math.fsum(np.power(x, alpha))
            assert ren[i] == pytest.approx(math.log(sa) / (1 - alpha), rel=rtol, abs=1e-300), (alpha, K, i)
            assert ts[i] == pytest.approx((math.fsum(x) - sa) / (alpha - 1), rel=rtol, abs=1e-300), (alpha, K, i)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("K", [1, 7, 8192 + 5, 3 * 8192 + 1])
@pytest.mark.parametrize("normalize", [False, True])
def test_tsallis_and_renyi_divergence_2_against_mpmath(dtype, K, normalize):
    # the Tsallis sums of orders 2, 1/2, 3 and the chi^2 sum of the Renyi divergence of order 2
    import mpmath
    p, q = _rows(2, 2 * K, dtype, 7), _rows(2, 2 * K, dtype, 8)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    for sl in (np.s_[:, :K], np.s_[:, ::2]):
        a, b = p[sl], q[sl]
        d2 = fi.renyi_divergence(a, b, 2.0, normalize=normalize)
        ts = {t: fi.tsallis_entropy(a, t, normalize=normalize) for t in (0.5, 2.0, 3.0)}
        for i in range(2):
            x = [mpmath.mpf(float(v)) for v in a[i].astype(np.float64)]
            y = [mpmath.mpf(float(v)) for v in b[i].astype(np.float64)]
            if normalize:
                sx, sy = mpmath.fsum(x), mpmath.fsum(y)
                x, y = [v / sx for v in x], [v / sy for v in y]
            want = float(mpmath.log(mpmath.fsum(u * u / v for u, v in zip(x, y))))
            assert d2[i] == pytest.approx(want, rel=rtol, abs=1e-15), (K, i)
            for t, got in ts.items():
                mt = mpmath.mpf(t)
                want = float((mpmath.fsum(x) - mpmath.fsum(u ** mt for u in x)) / (mt - 1))
                assert got[i] == pytest.approx(want, rel=rtol, abs=1e-300), (t, K, i)


@pytest.mark.parametrize("K", [10, 1000])
@pytest.mark.parametrize("scale", [1e-315, 1e-310, 1e-300, 1e-30, 1e30, 1e300])
def test_rows_scaled_by_tiny_and_huge_factors(scale, K):
    """The quotients p / mx and p / sum p of the power sums and the distances, with divisors
    that are subnormal (rows of 10 scaled by 1e-310: the sums too; rows of 1 000: the largest
    value), tiny and huge, and subnormal elements. Normalized, the measures of c p are those
    of p: against the float64 formulas on p / sum p."""
    rng = np.random.default_rng(7)
    base = rng.random((3, K)) + 0.01
    qb = rng.random((3, K)) + 0.01
    p, q = base * scale, qb * scale
    P, Q = p / p.sum(1, keepdims=True), q / q.sum(1, keepdims=True)   # the scaled values' own
    rtol = 1e-12                    # the same stored values: subnormal ones are exact too
    for alpha in (0.5, 2.0, 3.0, 1.7):
        np.testing.assert_allclose(fi.renyi_entropy(p, alpha, normalize=True),
                                   np.log((P ** alpha).sum(1)) / (1 - alpha), rtol=rtol)
        np.testing.assert_allclose(fi.tsallis_entropy(p, alpha, normalize=True),
                                   (1 - (P ** alpha).sum(1)) / (alpha - 1), rtol=rtol)
    np.testing.assert_allclose(fi.total_variation(p, q, normalize=True), 0.5 * np.abs(P - Q).sum(1), rtol=rtol)
    np.testing.assert_allclose(fi.hellinger_distance(p, q, normalize=True),
                               np.sqrt(0.5 * ((np.sqrt(P) - np.sqrt(Q)) ** 2).sum(1)), rtol=rtol)


def test_one_element_rows_are_certain_exactly():
    """A row of one positive value, normalized: x = s / s is exactly 1 (the quotient is
    correctly rounded, not s times a rounded 1/s, which can be 1 - 2^-53), so the Tsallis
    entropy is exactly 0 and the distance of the row to itself too."""
    rng = np.random.default_rng(8)
    s = np.ldexp(rng.random(4096) + 0.5, rng.integers(-1000, 1000, 4096))
    rows = np.zeros((4096, 9))
    rows[:, 4] = s                      # inside the first vector of every level
    for q in (2.0, 3.0, 1.7):
        got = fi.tsallis_entropy(rows, q, normalize=True)
        assert (got == 0).all(), (q, s[got != 0][:3], got[got != 0][:3])
    other = rows.copy()
    other[:, 4] = s * 3.0
    assert (fi.total_variation(rows, other, normalize=True) == 0).all()
    assert (fi.hellinger_distance(rows, other, normalize=True) == 0).all()
