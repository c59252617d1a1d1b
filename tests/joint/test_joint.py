"""Joint-distribution measures (joint and conditional entropy, mutual information and its
normalized form, variation of information) of tables, against mpmath and SciPy.

Oracles: mpmath at 100 bits on the exact float64 table (marginals summed
exactly), scipy.stats.entropy for the marginal entropies; properties with
hypothesis. Never fastinfo against itself, except where the contract promises
equality (thread counts, axes swapped).
"""
import math

import functools

import mpmath
import numpy as np
import pytest
from helpers import assert_mp_close
from hypothesis import given, settings, strategies as st
from scipy import stats

import fastinfo

MPMATH_PREC = 100   # bits for the oracle below (tests/conftest.py sets it for this module)


def mp_all(t, normalize=False):
    """(H(X,Y), H(X), H(Y), H(Y|X), H(X|Y), I) of a 2-D table, exactly (mpmath)."""
    P = [[mpmath.mpf(float(v)) for v in row] for row in np.asarray(t, dtype=np.float64)]
    s = mpmath.fsum(v for row in P for v in row)
    if normalize:
        P = [[v / s for v in row] for row in P]
    px = [mpmath.fsum(row) for row in P]
    py = [mpmath.fsum(P[i][j] for i in range(len(P))) for j in range(len(P[0]))]
    xl = lambda v: v * mpmath.log(v) if v > 0 else mpmath.mpf(0)   # noqa: E731
    hxy = -mpmath.fsum(xl(v) for row in P for v in row)
    hx = -mpmath.fsum(xl(v) for v in px)
    hy = -mpmath.fsum(xl(v) for v in py)
    hygx = mpmath.fsum(P[i][j] * (mpmath.log(px[i]) - mpmath.log(P[i][j]))
                       for i in range(len(P)) for j in range(len(P[0])) if P[i][j] > 0)
    hxgy = mpmath.fsum(P[i][j] * (mpmath.log(py[j]) - mpmath.log(P[i][j]))
                       for i in range(len(P)) for j in range(len(P[0])) if P[i][j] > 0)
    mi = mpmath.fsum(P[i][j] * mpmath.log(P[i][j] / (px[i] * py[j]))
                     for i in range(len(P)) for j in range(len(P[0])) if P[i][j] > 0)
    return hxy, hx, hy, hygx, hxgy, mi


close = functools.partial(assert_mp_close, rtol=1e-13, atol=1e-15)


def tables(seed, shape=(7, 9), zeros=0.2):
    rng = np.random.default_rng(seed)
    t = rng.random(shape)
    t[rng.random(shape) < zeros] = 0
    return t / t.sum()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("normalize", [False, True])
def test_every_quantity_vs_mpmath(seed, normalize):
    t = tables(seed, shape=(3 + seed, 11 - seed))
    if normalize:
        t = t * 37.0                    # counts-like: the exact answer is that of t / sum
    hxy, hx, hy, hygx, hxgy, mi = mp_all(t, normalize)
    kw = dict(normalize=normalize)
    close(fastinfo.joint_entropy(t, **kw), hxy)
    close(fastinfo.conditional_entropy(t, **kw), hygx)
    close(fastinfo.conditional_entropy(t, axes=(-1, -2), **kw), hxgy)
    close(fastinfo.mutual_information(t, **kw), mi)
    close(fastinfo.variation_of_information(t, **kw), hygx + hxgy)
    close(fastinfo.normalized_mutual_information(t, **kw), mi / ((hx + hy) / 2))
    close(fastinfo.normalized_mutual_information(t, average="geometric", **kw), mi / mpmath.sqrt(hx * hy))
    close(fastinfo.normalized_mutual_information(t, average="min", **kw), mi / min(hx, hy))
    close(fastinfo.normalized_mutual_information(t, average="max", **kw), mi / max(hx, hy))
    close(fastinfo.mutual_information(t, base=2, **kw), mi / mpmath.log(2))


def test_marginals_against_scipy():
    t = tables(11)
    hx, hy = stats.entropy(t.sum(1)), stats.entropy(t.sum(0))
    hxy = stats.entropy(t.ravel())
    assert math.isclose(fastinfo.conditional_entropy(t), hxy - hx, rel_tol=1e-12)
    assert math.isclose(fastinfo.conditional_entropy(t, axes=(1, 0)), hxy - hy, rel_tol=1e-12)
    assert math.isclose(fastinfo.mutual_information(t), hx + hy - hxy, rel_tol=1e-12)


def test_independent_table_has_zero_information():
    rng = np.random.default_rng(3)
    px, py = rng.dirichlet(np.ones(50)), rng.dirichlet(np.ones(70))
    t = np.outer(px, py)
    mi = fastinfo.mutual_information(t)
    assert 0.0 <= mi <= 1e-15
    # the difference of entropies is ~1e-15 off, and can be negative
    assert fastinfo.normalized_mutual_information(t) <= 1e-15


def test_batches_axes_and_threads():
    rng = np.random.default_rng(5)
    T = rng.random((6, 4, 8, 5))           # batch (6, 5), X on axis 1, Y on axis 2
    got = fastinfo.mutual_information(T, axes=(1, 2), normalize=True)
    assert got.shape == (6, 5)
    for a in range(6):
        for b in range(5):
            close(got[a, b], mp_all(T[a, :, :, b], True)[5])
    big = rng.random((300, 40, 50))
    r1 = fastinfo.mutual_information(big, normalize=True, n_threads=1)
    r2 = fastinfo.mutual_information(big, normalize=True, n_threads=2)
    assert np.array_equal(r1, r2)
    # swapping X and Y: I symmetric, conditional entropies exchange
    close(fastinfo.mutual_information(T[0, :, :, 0].T, normalize=True), mp_all(T[0, :, :, 0], True)[5])
    f32 = fastinfo.mutual_information(big.astype(np.float32), normalize=True)
    assert f32.dtype == np.float32 and np.allclose(f32, r1, rtol=1e-5)


def test_invalid_tables():
    t = tables(1)
    b = np.stack([t, t, t])
    b[1, 2, 3] = -0.1
    with pytest.raises(ValueError, match=r"batch index \(1,\).*|x=2, y=3"):
        fastinfo.mutual_information(b)
    r = fastinfo.mutual_information(b, invalid="nan")
    assert np.isnan(r[1]) and np.all(np.isfinite(r[[0, 2]]))
    with pytest.raises(ValueError, match="sums to zero"):
        fastinfo.joint_entropy(np.zeros((3, 3)), normalize=True)
    with pytest.raises(ValueError):
        fastinfo.mutual_information(np.ones(3))
    with pytest.raises(ValueError):
        fastinfo.mutual_information(t, axes=(0, 0))
    with pytest.raises(ValueError, match="average"):
        fastinfo.normalized_mutual_information(t, average="mean")
    before = b.copy()
    fastinfo.mutual_information(b, invalid="nan")
    assert np.array_equal(before, b)


def test_degenerate_tables():
    assert fastinfo.mutual_information(np.zeros((0, 3))) == 0.0
    one = np.array([[0.0, 1.0, 0.0]])
    assert fastinfo.mutual_information(one) == 0.0
    assert fastinfo.normalized_mutual_information(one) == 1.0        # both constant
    col = np.array([[0.5], [0.5]])
    assert fastinfo.normalized_mutual_information(col) == 0.0        # X varies, Y constant


@settings(max_examples=60)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_information_bounds_and_symmetry_of_random_tables(k, l, seed):
    rng = np.random.default_rng(seed)
    t = rng.random((k, l)) * (rng.random((k, l)) > 0.3)
    if not t.any():
        t[0, 0] = 1.0
    t /= t.sum()
    mi = fastinfo.mutual_information(t)
    hx, hy = stats.entropy(t.sum(1)), stats.entropy(t.sum(0))
    assert mi >= 0.0
    assert mi <= min(hx, hy) + 1e-12
    assert math.isclose(mi, fastinfo.mutual_information(t.T), rel_tol=1e-12, abs_tol=1e-15)
    vi = fastinfo.variation_of_information(t)
    assert vi >= 0 and math.isclose(vi, fastinfo.joint_entropy(t) - mi, rel_tol=1e-10, abs_tol=1e-13)
    assert 0.0 <= fastinfo.normalized_mutual_information(t) <= 1.0


def test_axes_must_be_a_pair_of_integers():
    # operator.index, as NumPy's axis arguments: int() would accept axes="01" and truncate
    # axes=(0.7, 1) to (0, 1) silently
    t = np.ones((2, 3)) / 6
    for bad in ("01", (0.7, 1), (0, "1"), (0,), (0, 1, 2), 0, None):
        with pytest.raises(TypeError, match="axes must be a pair of ints"):
            fastinfo.joint_entropy(t, axes=bad)
    assert fastinfo.joint_entropy(t, axes=(np.int64(1), 0)) == fastinfo.joint_entropy(t.T)
