"""Property-based tests (hypothesis) of the mathematical identities and the
contract's guarantees. Tolerances for identities that hold only up to rounding
are expressed relative to the sum of |terms| (the condition number of the sum),
so they do not depend on the implementation's summation order.
"""

import math

import numpy as np
import pytest
from helpers import absdiff
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastinfo

EPS = np.finfo(np.float64).eps
LN2 = math.log(2.0)  # == np.log(2): the float64 nearest ln 2 (just below it)
SETTINGS = settings(max_examples=60)

# entries: exact zeros, tiny, subnormal and ordinary magnitudes
ELEMENTS = st.one_of(
    st.just(0.0),
    st.floats(min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False),
    st.sampled_from([1e-300, 5e-324, 1e-12, 1.0, 0.5]),
)


@st.composite
def batches(draw, n_arrays=1, min_k=1, max_k=40, positive_rows=True):
    """n_arrays nonnegative float64 arrays of one shape (N, K); with positive_rows
    every distribution has a positive sum (so normalize=True is valid)."""
    n = draw(st.integers(1, 5))
    k = draw(st.integers(min_k, max_k))
    out = []
    for _ in range(n_arrays):
        a = draw(hnp.arrays(np.float64, (n, k), elements=ELEMENTS))
        if positive_rows and k:
            a[a.sum(axis=-1) == 0, 0] = 1.0
        out.append(a)
    return out


def normalized(a):
    return a / a.sum(axis=-1, keepdims=True)


def well_normalizable(*arrays):
    """Rows where dividing by the sum loses no more than rounding: no nonzero
    normalized entry is subnormal (or underflows to 0). Only there is the divided
    input a rounding-level stand-in for the exactly normalized distribution."""
    tiny = np.finfo(np.float64).tiny
    ok = np.ones(arrays[0].shape[:-1], bool)
    for a in arrays:
        an = normalized(a)
        ok &= np.all((a == 0) | (an >= tiny), axis=-1)
    return ok


def xlogy_abs(x, y):
    """|x log y| elementwise with 0 where x == 0 (tolerance magnitudes only)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(x * np.log(np.where(y > 0, y, 1.0)))
    return np.where(x > 0, r, 0.0)


def raw_log_mag(*arrays):
    """sum over a row of phat * |log x| for the *raw* (unnormalized) entries x of
    each array, phat the normalized first array. A fused normalization takes logs
    of the values as passed, log(x) - log(sum): each log carries eps relative
    error, i.e. eps * |log x| absolute, which the normalized problem alone does
    not show. Used for normalize=True comparisons only."""
    pn = normalized(arrays[0])
    tot = 0.0
    for a in arrays:
        with np.errstate(divide="ignore"):
            la = np.abs(np.log(np.where(a > 0, a, 1.0)))
        tot = tot + (pn * la).sum(-1) + (normalized(a) * la).sum(-1)
    return tot


def js_mag(p, q):
    # sum of |terms| of the JS sum, plus p + q for the rounding of the ratios p/m
    m = (p + q) / 2
    return (p + q + xlogy_abs(p, p) + xlogy_abs(p, m) + xlogy_abs(q, q) + xlogy_abs(q, m)).sum(axis=-1)


# --------------------------------------------------------------------------- signs and bounds
@SETTINGS
@given(batches(n_arrays=2))
def test_kl_nonnegative_on_normalized_input(arrays):
    p, q = arrays
    d = fastinfo.kl_divergence(p, q, normalize=True)
    assert not np.any(np.isnan(d))
    assert np.all(d >= 0), d
    # rows normalized by the caller (sums agree within rounding): also never negative
    d2 = fastinfo.kl_divergence(normalized(p), normalized(q))
    assert np.all(d2 >= 0), d2


@SETTINGS
@given(batches(n_arrays=1))
def test_kl_of_a_distribution_with_itself_is_zero(arrays):
    (p,) = arrays
    assert np.all(fastinfo.kl_divergence(p, p) == 0.0)
    assert np.all(fastinfo.kl_divergence(p, p, normalize=True) == 0.0)
    assert np.all(fastinfo.kl_divergence(p, p.copy(), base=2) == 0.0)
    assert np.all(fastinfo.js_divergence(p, p) == 0.0)
    assert np.all(fastinfo.js_divergence(p, p, normalize=True, distance=True) == 0.0)


@SETTINGS
@given(batches(n_arrays=1))
def test_entropy_between_zero_and_log_k(arrays):
    (p,) = arrays
    k = p.shape[-1]
    h = fastinfo.entropy(p, normalize=True)
    assert np.all(h >= 0), h
    assert np.all(h <= math.log(k) + 16 * EPS * max(1.0, math.log(k))), (h, math.log(k))
    hb = fastinfo.entropy(p, normalize=True, base=2)
    assert np.all(hb >= 0) and np.all(hb <= math.log2(k) + 16 * EPS * max(1.0, math.log2(k)))
    # rows normalized by the caller (all entries <= 1): every term is >= 0
    assert np.all(fastinfo.entropy(normalized(p)) >= 0)


@SETTINGS
@given(batches(n_arrays=2))
def test_js_symmetric_nonnegative_and_bounded(arrays):
    p, q = arrays
    a = fastinfo.js_divergence(p, q, normalize=True)
    b = fastinfo.js_divergence(q, p, normalize=True)
    pn, qn = normalized(p), normalized(q)
    tol = 8 * EPS * js_mag(pn, qn) + 1e-300
    assert np.all(np.abs(a - b) <= tol), (a, b)
    assert np.all(a >= 0) and np.all(b >= 0)
    assert np.all(a <= LN2), a  # contract: <= log 2 for normalized input
    bits = fastinfo.js_divergence(p, q, normalize=True, base=2)
    assert np.all(bits >= 0) and np.all(bits <= 1.0), bits


@SETTINGS
@given(batches(n_arrays=2, positive_rows=False))
def test_js_finite_nonnegative_and_distance_never_nan_for_any_nonnegative_input(arrays):
    # any nonnegative input, unnormalized, all-zero rows included (normalize=False)
    p, q = arrays
    for distance in (False, True):
        for base in (None, 2):
            r = fastinfo.js_divergence(p, q, distance=distance, base=base)
            assert np.all(np.isfinite(r)), r
            assert np.all(r >= 0), r


@SETTINGS
@given(batches(n_arrays=2))
def test_js_distance_never_nan_normalized(arrays):
    p, q = arrays
    d = fastinfo.js_divergence(p, q, normalize=True, distance=True)
    assert np.all(np.isfinite(d)) and np.all(d >= 0)
    assert np.all(d <= math.sqrt(LN2))
    # identical up to the last bits: the scipy#20083 situation
    q2 = p * (1 + 4 * EPS * np.sign(np.sin(np.arange(p.size).reshape(p.shape) + 1)))
    d2 = fastinfo.js_divergence(p, q2, normalize=True, distance=True)
    assert np.all(np.isfinite(d2)) and np.all(d2 >= 0) and np.all(d2 <= 1e-6)


@SETTINGS
@given(batches(n_arrays=2, positive_rows=False), st.sampled_from([None, 2, 0.5]))
def test_valid_input_never_gives_nan(arrays, base):
    # NaN is reserved for invalid distributions (invalid="nan"); finite nonnegative
    # input -- subnormal, huge ratios p/q, all-zero rows -- is valid.
    p, q = arrays
    for name in ("entropy", "cross_entropy", "kl_divergence", "js_divergence"):
        f = getattr(fastinfo, name)
        args = (p,) if name == "entropy" else (p, q)
        r = f(*args, base=base)
        assert not np.any(np.isnan(r)), (name, r)
    s = fastinfo.surprisal(p, base=base)
    assert not np.any(np.isnan(s))
    pos = p.sum(-1) > 0
    qpos = q.sum(-1) > 0
    both = pos & qpos
    if both.any():
        for name in ("entropy", "cross_entropy", "kl_divergence", "js_divergence"):
            f = getattr(fastinfo, name)
            args = (p[both],) if name == "entropy" else (p[both], q[both])
            assert not np.any(np.isnan(f(*args, normalize=True, base=base))), name


# --------------------------------------------------------------------------- identities
@SETTINGS
@given(batches(n_arrays=2))
@example([np.array([[0.0, 2.0]]), np.array([[5e-324, 0.0]])])  # subnormal sum of q
@example([np.array([[1.0, 1.0]]), np.array([[1e-300, 1e-300]])])  # sum far from 1
def test_kl_equals_cross_entropy_minus_entropy(arrays):
    p, q = arrays
    for normalize in (False, True):
        d = fastinfo.kl_divergence(p, q, normalize=normalize)
        ce = fastinfo.cross_entropy(p, q, normalize=normalize)
        h = fastinfo.entropy(p, normalize=normalize)
        pp, qq = (normalized(p), normalized(q)) if normalize else (p, q)
        # rounding of p/q costs ~eps*p absolute in each KL term: hence the sum(p)
        mag = xlogy_abs(pp, pp).sum(-1) + xlogy_abs(pp, qq).sum(-1) + pp.sum(-1)
        if normalize:
            mag = mag + raw_log_mag(p, q)
        # ce == inf exactly when some q == 0 < p; then KL is inf too. (KL may also
        # overflow to inf on its own when p/q overflows for a subnormal q, as
        # scipy.special.rel_entr does: those rows are not compared. With
        # normalize=True a normalized q entry may underflow to 0: skipped too.)
        rows = well_normalizable(p, q) if normalize else np.ones(p.shape[0], bool)
        assert np.all(np.isposinf(d)[np.isposinf(ce) & rows])
        both = np.isfinite(ce) & np.isfinite(h) & np.isfinite(d)
        if normalize:
            both &= well_normalizable(p, q)
        assert np.all(absdiff(d, ce - h)[both] <= (8 * EPS * (1 + p.shape[-1] * EPS) * mag + 1e-300)[both])


@SETTINGS
@given(
    batches(n_arrays=2),
    st.one_of(st.floats(1.05, 1e3), st.floats(0.01, 0.95), st.sampled_from([2, 10, math.e])),
)
def test_base_scaling(arrays, base):
    p, q = arrays
    lb = math.log(base)
    pn, qn = normalized(p), normalized(q)
    checks = [
        (fastinfo.entropy, (p,), xlogy_abs(pn, pn).sum(-1)),
        (fastinfo.cross_entropy, (p, q), xlogy_abs(pn, qn).sum(-1)),
        (fastinfo.kl_divergence, (p, q), xlogy_abs(pn, pn).sum(-1) + xlogy_abs(pn, qn).sum(-1) + 1.0),
        (fastinfo.js_divergence, (p, q), js_mag(pn, qn)),
    ]
    for f, args, mag in checks:
        nat = f(*args, normalize=True)
        b = f(*args, normalize=True, base=base)
        fin = np.isfinite(nat)
        assert np.array_equal(np.isinf(nat), np.isinf(b))
        assert np.all(absdiff(b, nat / lb)[fin] <= (8 * EPS * mag / abs(lb) + 1e-300)[fin]), f.__name__
    s = fastinfo.surprisal(p, base=base)
    with np.errstate(divide="ignore"):
        s_nat = fastinfo.surprisal(p)
    fin = np.isfinite(s_nat)
    assert np.all(absdiff(s, s_nat / lb)[fin] <= 8 * EPS * np.abs(s_nat / lb)[fin] + 1e-300)


@SETTINGS
@given(batches(n_arrays=2, min_k=0), st.booleans())
def test_batch_equals_row_by_row(arrays, normalize):
    p, q = arrays
    k = p.shape[-1]
    funcs = {
        "entropy": lambda a, b, **kw: fastinfo.entropy(a, **kw),
        "cross_entropy": fastinfo.cross_entropy,
        "kl_divergence": fastinfo.kl_divergence,
        "js_divergence": fastinfo.js_divergence,
        "js_distance": lambda a, b, **kw: fastinfo.js_divergence(a, b, distance=True, **kw),
    }
    pn, qn = (normalized(p), normalized(q)) if (normalize and k) else (p, q)
    mag = (pn + qn + xlogy_abs(pn, pn) + xlogy_abs(pn, qn) + xlogy_abs(qn, qn)).sum(-1) + js_mag(pn, qn)
    for name, f in funcs.items():
        batch = f(p, q, normalize=normalize)
        assert batch.shape == (p.shape[0],)
        for i in range(p.shape[0]):
            row = f(p[i], q[i], normalize=normalize)
            assert np.ndim(row) == 0
            if not (np.isfinite(row) and np.isfinite(batch[i])):
                assert row == batch[i] or (np.isnan(row) and np.isnan(batch[i])), (name, row, batch[i])
            elif name == "js_distance":
                assert abs(row - batch[i]) <= math.sqrt(8 * EPS * mag[i]) + 1e-300, name
            else:
                assert abs(row - batch[i]) <= 8 * EPS * mag[i] + 1e-300, (name, row, batch[i])
    s = fastinfo.surprisal(p, normalize=normalize)
    for i in range(p.shape[0]):
        np.testing.assert_allclose(fastinfo.surprisal(p[i], normalize=normalize), s[i], rtol=4 * EPS, atol=0)


@SETTINGS
@given(batches(n_arrays=2))
@example([np.array([[1.0, 0.0]]), np.array([[1e-300, 1e-300]])])
@example([np.array([[5e-324]]), np.array([[1.0]])])
def test_normalize_true_equals_dividing_by_the_sum(arrays):
    p, q = arrays
    pn, qn = normalized(p), normalized(q)
    mags = {
        "entropy": xlogy_abs(pn, pn).sum(-1),
        "cross_entropy": xlogy_abs(pn, qn).sum(-1),
        "kl_divergence": xlogy_abs(pn, pn).sum(-1) + xlogy_abs(pn, qn).sum(-1),
        "js_divergence": js_mag(pn, qn),
    }
    k = p.shape[-1]
    # p/sum(p) is itself rounded: a relative perturbation of ~eps per entry changes
    # each term by ~eps * p * (1 + |log p|); allow 16 eps of the magnitude + K eps.
    for name, mag in mags.items():
        f = getattr(fastinfo, name)
        args_n = (p,) if name == "entropy" else (p, q)
        args_d = (pn,) if name == "entropy" else (pn, qn)
        a = f(*args_n, normalize=True)
        b = f(*args_d)
        rows = well_normalizable(p, q)
        assert np.array_equal(np.isposinf(a)[rows], np.isposinf(b)[rows]), name
        fin = np.isfinite(a) & rows
        tol = 16 * EPS * (mag + raw_log_mag(p, q) + 1.0) * (1 + k * EPS)
        assert np.all(absdiff(a, b)[fin] <= tol[fin]), (name, a, b)
    with np.errstate(divide="ignore"):
        s_ref = -np.log(pn)
    rows = well_normalizable(p)
    np.testing.assert_allclose(fastinfo.surprisal(p, normalize=True)[rows], s_ref[rows], rtol=8 * EPS, atol=8 * EPS)


@SETTINGS
@given(batches(n_arrays=2), st.sampled_from([-900, -600, -200, -20, 20, 200, 600, 900]))
@example([np.array([[1e-300, 1e-300]]), np.array([[1.0, 0.0]])], 200)  # sums 1e300 apart
@example([np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])], -900)
def test_normalize_is_scale_invariant(arrays, k):
    # multiplying a row by 2**k is exact (when nothing under/overflows), so the
    # normalized distribution is the same: results may differ by rounding only
    # (bounded independently of k).
    p, q = arrays
    s = 2.0**k
    ps, qs = p * s, q * s
    if not (np.array_equal(ps / s, p) and np.array_equal(qs / s, q)
            and np.all(np.isfinite(ps.sum(-1))) and np.all(np.isfinite(qs.sum(-1)))):
        return  # scaling not exact for this example (subnormal/overflow)
    pn, qn = normalized(p), normalized(q)
    k_len = p.shape[-1]
    mags = {
        "entropy": xlogy_abs(pn, pn).sum(-1),
        "cross_entropy": xlogy_abs(pn, qn).sum(-1),
        "kl_divergence": xlogy_abs(pn, pn).sum(-1) + xlogy_abs(pn, qn).sum(-1),
        "js_divergence": js_mag(pn, qn),
    }
    for name, mag in mags.items():
        f = getattr(fastinfo, name)
        a = f(*((p,) if name == "entropy" else (p, q)), normalize=True)
        b = f(*((ps,) if name == "entropy" else (ps, q)), normalize=True)
        c = f(*((p,) if name == "entropy" else (p, qs)), normalize=True)
        tol = 32 * EPS * (mag + raw_log_mag(p, q) + raw_log_mag(ps, qs) + 1.0) * (1 + k_len * EPS)
        rows = well_normalizable(p, q)  # else the magnitude estimate above is off
        for other in (b, c):
            assert np.array_equal(np.isposinf(a)[rows], np.isposinf(other)[rows]), name
            fin = np.isfinite(a) & rows
            assert np.all(absdiff(a, other)[fin] <= tol[fin]), (name, k, a, other)


@SETTINGS
@given(batches(n_arrays=1, positive_rows=False))
def test_surprisal_is_minus_log_elementwise(arrays):
    (p,) = arrays
    s = fastinfo.surprisal(p)
    assert s.shape == p.shape and s.dtype == np.float64
    for x, got in zip(p.ravel().tolist(), s.ravel().tolist()):
        if x == 0:
            assert got == math.inf
        else:
            exact = -math.log(x)
            assert abs(got - exact) <= 8 * EPS * abs(exact), (x, got, exact)


@SETTINGS
@given(batches(n_arrays=2), st.integers(0, 4), st.sampled_from(["neg", "nan", "inf"]))
def test_invalid_nan_only_poisons_the_bad_row(arrays, row, kind):
    p, q = arrays
    row = row % p.shape[0]
    bad = p.copy()
    bad[row, -1] = {"neg": -0.5, "nan": np.nan, "inf": np.inf}[kind]
    good_rows = np.arange(p.shape[0]) != row
    for name in ("entropy", "cross_entropy", "kl_divergence", "js_divergence"):
        f = getattr(fastinfo, name)
        args = (bad,) if name == "entropy" else (bad, q)
        ref_args = (p,) if name == "entropy" else (p, q)
        for normalize in (False, True):
            r = f(*args, invalid="nan", normalize=normalize)
            ref = f(*ref_args, normalize=normalize)
            assert np.isnan(r[row]), name
            np.testing.assert_array_equal(r[good_rows], ref[good_rows])
            with pytest.raises(ValueError, match=r"batch index \(" + str(row) + r",\)"):
                f(*args, normalize=normalize)
    s = fastinfo.surprisal(bad, invalid="nan")
    assert np.all(np.isnan(s[row]))
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(s[good_rows], fastinfo.surprisal(p)[good_rows])
