"""Pairwise matrices at the edges: ``out=`` sharing memory with P or Q, values beyond the
float range's reach on the BLAS and fast paths, float32 rows, undefined pairs and option
types. Oracles: scipy.special (xlogy, rel_entr), scipy.spatial.distance.cdist and mpmath."""
import math

import mpmath
import numpy as np
import pytest
import scipy.special as sc
from helpers import mp_cross_entropy, mp_js, mp_kl, random_rows
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

import fastinfo
from fastinfo import _pairwise

FUNCS = {"ce": fastinfo.pairwise_cross_entropy, "kl": fastinfo.pairwise_kl_divergence,
         "js": fastinfo.pairwise_js_divergence}
_TOP = mpmath.mpf(np.finfo(np.float64).max)
METHODS = [("ce", "blas"), ("ce", "exact"), ("kl", "blas"), ("kl", "exact"), ("js", "fast"), ("js", "exact")]


def scipy_matrix(measure, P, Q):
    """The SciPy value of every pair of rows (rows as passed, float64)."""
    P, Q = np.asarray(P, np.float64)[:, None, :], np.asarray(Q, np.float64)[None, :, :]
    if measure == "ce":
        with np.errstate(divide="ignore"):
            return -sc.xlogy(P, Q).sum(-1)
    if measure == "kl":
        return sc.rel_entr(P, Q).sum(-1)
    return cdist(P[:, 0], Q[0], metric="jensenshannon") ** 2


def assert_matches_scipy(measure, got, P, Q, rtol=1e-11):
    want = scipy_matrix(measure, P, Q)
    assert np.array_equal(np.isposinf(got), np.isposinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=1e-14)


# --------------------------------------------------------------------------- out= aliasing
@pytest.mark.parametrize("measure,method", METHODS)
@pytest.mark.parametrize("alias", ["P", "P_reversed", "Q"])
def test_out_sharing_memory_with_an_input(measure, method, alias, monkeypatch):
    """out=P, out=P[::-1] (an overlapping view) and out=Q give the values of a call without
    out, with the rows spanning several blocks of the BLAS path (blocks of 16 rows here) and
    of the compiled Q blocks (~256 KB of Q rows: 200 rows of 200 columns are two blocks)."""
    monkeypatch.setattr(_pairwise, "_BLOCK_BYTES", 8 * 200 * 16)
    f = FUNCS[measure]
    K = 200
    if alias == "Q":
        P, Q = random_rows(K, K, 1), random_rows(K, K, 2)          # out (N, M) has Q's shape (M, K)
    else:
        P, Q = random_rows(70, K, 3), random_rows(K, K, 4)         # out (N, M) has P's shape (N, K)
    want = f(P, Q, method=method)
    assert_matches_scipy(measure, want, P, Q)
    P2, Q2 = P.copy(), Q.copy()
    out = {"P": P2, "P_reversed": P2[::-1], "Q": Q2}[alias]
    got = f(P2, Q2, method=method, out=out)
    assert got is out
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("measure,method", METHODS)
def test_out_is_p_over_several_default_row_blocks(measure, method):
    """The default blocks: 1024 rows of P per BLAS block, so 2100 rows make three; out=P
    (2100 x 8) must not change rows that later blocks still read."""
    f = FUNCS[measure]
    P, Q = random_rows(2100, 8, 5, zeros=0.1), random_rows(8, 8, 6, zeros=0.1)
    want = scipy_matrix(measure, P, Q)
    got = f(P, Q, method=method, out=P)
    assert got is P
    assert np.array_equal(np.isposinf(got), np.isposinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-11, atol=1e-14)


def test_out_not_sharing_memory_is_written_in_place():
    P, Q = random_rows(5, 7, 1), random_rows(4, 7, 2)
    out = np.full((5, 4), -1.0)
    for f in FUNCS.values():
        assert f(P, Q, out=out) is out and np.all(out >= 0)


# --------------------------------------------------------------------------- huge values
def test_huge_rows_agree_across_methods():
    """Rows of 1e308: KL and JS are +inf, the cross-entropy -inf (sum -p log q overflows
    below), as the one-pair functions give; no NaN, no warning."""
    P, Q = np.full((1, 3), 1e308), np.full((1, 3), 2.0)
    with np.errstate(all="raise"):
        for method in ("blas", "exact"):
            assert fastinfo.pairwise_kl_divergence(P, Q, method=method)[0, 0] == math.inf
            assert fastinfo.pairwise_cross_entropy(P, Q, method=method)[0, 0] == -math.inf
        for method in ("fast", "exact"):
            assert fastinfo.pairwise_js_divergence(P, Q, method=method)[0, 0] == math.inf
    # exact values: KL = 3e308 log(5e307) overflows; so does -sum p log q
    assert mp_kl(P[0], Q[0]) > _TOP and mp_cross_entropy(P[0], Q[0]) < -_TOP


def test_huge_rows_normalized():
    """normalize=True with rows whose sums overflow: the values of the normalized rows."""
    P = np.array([[1e308, 1e308, 1e308], [1.5e308, 1e308, 0.0]])
    Q = np.array([[1.0, 2.0, 3.0], [1e308, 1.7e308, 1e307]])
    for measure, method in METHODS:
        got = FUNCS[measure](P, Q, normalize=True, method=method)
        oracle = {"ce": mp_cross_entropy, "kl": mp_kl, "js": mp_js}[measure]
        for i in range(2):
            for j in range(2):
                want = float(oracle(P[i], Q[j], normalize=True))
                assert got[i, j] == pytest.approx(want, rel=1e-12, abs=1e-15), (measure, method, i, j)


def test_normalized_values_below_the_float_range_of_their_row():
    """A value ~1e-321 in a row summing to ~1e307 is ~1e-628 once normalized, 0 in float64:
    where it meets q = 0 in Q that pair is KL = +inf. The BLAS path hands such rows to the
    row kernels, which give the same values as method='exact'."""
    P = np.array([[9.99e306, 6.5e-321, 2.3e306, 4.3], [0.3, 0.2, 0.5, 0.0]])
    Q = np.array([[2.4e-1, 1.4e-2, 9.3e-1, 8.6e-1], [0.25, 0.25, 0.25, 0.25]])
    for measure in ("ce", "kl"):
        a = FUNCS[measure](P, Q, normalize=True, method="blas")
        b = FUNCS[measure](P, Q, normalize=True, method="exact")
        np.testing.assert_allclose(a, b, rtol=1e-13)
        oracle = {"ce": mp_cross_entropy, "kl": mp_kl}[measure]
        for i in range(2):
            for j in range(2):
                assert a[i, j] == pytest.approx(float(oracle(P[i], Q[j], normalize=True)), rel=1e-12)


# exponents of the values: with normalize=True no value falls below ~1e-303 of its row's sum
_EXP_RAW = [-300, -10, 0, 10, 300, 307, 308]
_EXP_NORM = [5, 10, 150, 300, 307]


def _mp_terms(p, q, normalize):
    """|p log q| + |p log p| per element over the support: the terms of CE, H and KL."""
    with mpmath.workprec(120):
        ps = [mpmath.mpf(float(x)) for x in p]
        qs = [mpmath.mpf(float(x)) for x in q]
        if normalize:
            sp, sq = mpmath.fsum(ps), mpmath.fsum(qs)
            ps, qs = [x / sp for x in ps], [x / sq for x in qs]
        return [abs(x * mpmath.log(y)) + abs(x * mpmath.log(x)) for x, y in zip(ps, qs) if x > 0 and y > 0]


@st.composite
def extreme_rows(draw):
    normalize = draw(st.booleans())
    K = draw(st.integers(1, 5))
    exps = _EXP_NORM if normalize else _EXP_RAW
    def row():
        vals = [min(draw(st.floats(1.0, 9.99)) * 10.0 ** draw(st.sampled_from(exps)), 1.7e308)
                for _ in range(K)]
        zero = draw(st.lists(st.booleans(), min_size=K, max_size=K))
        vals = [0.0 if z else v for v, z in zip(vals, zero)]
        if normalize and not any(vals):
            vals[0] = 1.0
        return vals
    return np.array([row() for _ in range(3)]), np.array([row() for _ in range(2)]), normalize


def _beyond_the_kernels(measure, p, q, normalize):
    """Pairs outside what the compiled row kernels (method='exact', and the pairs the BLAS and
    fast paths hand them) compute in float64: a single term beyond the float range whose
    infinity cancels against another (CE, KL), or a JS whose rows' total mass as passed
    exceeds half the float range (the kernel's JS sums before halving, and its large-value
    path keeps ~8 digits there)."""
    if normalize:
        return False
    terms = _mp_terms(p, q, False) + _mp_terms(q, p, False)
    if max(terms, default=0) > _TOP:
        return True
    return measure == "js" and mpmath.fsum(mpmath.mpf(float(x)) for x in list(p) + list(q)) > _TOP / 2


@settings(max_examples=40)
@given(extreme_rows())
def test_blas_and_fast_paths_with_extreme_values_vs_mpmath(data):
    P, Q, normalize = data
    oracles = {"ce": mp_cross_entropy, "kl": mp_kl, "js": mp_js}
    for measure, method in METHODS:
        got = FUNCS[measure](P, Q, normalize=normalize, method=method, invalid="nan")
        for i in range(P.shape[0]):
            for j in range(Q.shape[0]):
                g = float(got[i, j])
                with mpmath.workprec(120):
                    exact = oracles[measure](P[i], Q[j], normalize=normalize)
                    if mpmath.isinf(exact):
                        # +inf from p > 0 = q beside a finite part that overflows float64 is
                        # undefined there (inf - inf): NaN, as the one-pair functions
                        assert g == math.inf or math.isnan(g), (measure, method)
                        continue
                    if _beyond_the_kernels(measure, P[i], Q[j], normalize):
                        continue
                    if abs(exact) > _TOP:
                        assert g == (math.inf if exact > 0 else -math.inf), (measure, method)
                        continue
                    # rounding of a sum: ~1e-16 of the sum of its terms' magnitudes (which the
                    # BLAS KL, CE - H, also meets)
                    scale = mpmath.fsum(_mp_terms(P[i], Q[j], normalize) + _mp_terms(Q[j], P[i], normalize))
                    tol = 1e-12 * abs(exact) + 1e-14 * scale + (1e-15 if normalize else 1e-300)
                    err = abs(mpmath.mpf(g) - exact) if math.isfinite(g) else mpmath.inf
                assert err <= tol, (measure, method, normalize, P[i], Q[j], g, exact)


# --------------------------------------------------------------------------- float32, undefined pairs
def test_float32_kl_blas_keeps_float64_accuracy():
    """float32 rows: the row entropies H(P[i]) are taken in float64, so CE - H keeps ~1e-15
    (a float32 H cost ~1e-7)."""
    P32 = random_rows(40, 30, 11, zeros=0.0).astype(np.float32)
    Q32 = random_rows(20, 30, 12, zeros=0.0).astype(np.float32)
    want = scipy_matrix("kl", P32.astype(np.float64), Q32.astype(np.float64))
    got = fastinfo.pairwise_kl_divergence(P32, Q32)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("method", ["blas", "exact"])
def test_undefined_pair_raises_naming_both_rows(method):
    # -p log q: -2e308 log 3 overflows to -inf beside +inf from p = 1 against q = 0
    P = np.array([[0.5, 0.5, 0.0], [1e308, 1e308, 1.0]])
    Q = np.array([[0.2, 0.3, 0.5], [3.0, 3.0, 0.0]])
    with pytest.raises(ValueError, match=r"row 1 of P and row 1 of Q"):
        fastinfo.pairwise_cross_entropy(P, Q, method=method)
    got = fastinfo.pairwise_cross_entropy(P, Q, method=method, invalid="nan")
    assert np.isnan(got[1, 1]) and np.isfinite(got[0]).all()
    np.testing.assert_allclose(got[0], scipy_matrix("ce", P[:1], Q)[0], rtol=1e-13)


# --------------------------------------------------------------------------- option types
@pytest.mark.parametrize("measure,method", METHODS)
def test_n_threads_must_be_an_int_not_a_bool(measure, method):
    """As NumPy refuses ``axis=True``: a bool, float or string n_threads is a TypeError, on
    every method (the BLAS cross-entropy included); 0 a ValueError."""
    P, Q = random_rows(3, 4, 1), random_rows(2, 4, 2)
    f = FUNCS[measure]
    for bad in (True, np.bool_(False), 1.5, "2"):
        with pytest.raises(TypeError, match="n_threads"):
            f(P, Q, method=method, n_threads=bad)
    with pytest.raises(ValueError, match="n_threads"):
        f(P, Q, method=method, n_threads=0)
    np.testing.assert_allclose(f(P, Q, method=method, n_threads=np.int64(1)), scipy_matrix(measure, P, Q),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [">f8", ">f4"])
def test_byte_swapped_input(dtype):
    """Big-endian rows give the values of the native ones of the same precision (float64
    results)."""
    P, Q = random_rows(6, 9, 1), random_rows(5, 9, 2)
    native = dtype.replace(">", "<")
    for measure, method in METHODS:
        a = FUNCS[measure](P.astype(dtype), Q.astype(dtype), method=method)
        b = FUNCS[measure](P.astype(native), Q.astype(native), method=method)
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_array_equal(a, b)
        # float32 rows: terms in float32 arithmetic (method='exact', the fast JS), ~1e-7
        assert_matches_scipy(measure, a, P.astype(native).astype(np.float64), Q.astype(native).astype(np.float64),
                             rtol=1e-11 if native == "<f8" else 1e-6)
