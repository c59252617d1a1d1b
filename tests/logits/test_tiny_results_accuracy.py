"""Relative accuracy of tiny results of the logit kernels, against mpmath.

A confident row has log-sum-exp m + log(1 + t) with t far below the rounding of 1:
log1p of the sum of the non-maximal terms keeps t's digits (as SciPy's logsumexp does
since its gh-18295), where log of the rounded sum would give 0.
"""
import mpmath
import numpy as np
import pytest

import fastinfo

MPMATH_PREC = 3000    # bits: p = 1 - t with t down to e^-745 must not round to 1

XS = [1e-300, 1e-8, 0.5, 1.0, 10.0, 36.0, 40.0, 100.0, 300.0, 700.0, 708.0, 740.0, 745.0]


def _lse_ref(row):
    return mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row))


SUBNORMAL_STEP = mpmath.mpf(2) ** -1074      # below 2**-1022 results are subnormal, this far apart


def _rel(a, b):
    """Relative error of a against b; a subnormal result counts as exact when correctly rounded
    (no double lies closer to b)."""
    b = mpmath.mpf(b)
    err = abs(mpmath.mpf(float(a)) - b)
    if abs(b) < 2.2250738585072014e-308 and err <= SUBNORMAL_STEP / 2:
        return 0.0
    if b == 0:
        return abs(a)
    return float(err / abs(b))


@pytest.mark.parametrize("x", XS)
def test_logsumexp_zero_and_minus_x(x):
    row = np.array([0.0, -x])
    ref = _lse_ref(row)
    assert _rel(fastinfo.logsumexp(row), ref) <= 1e-15
    # the order, ties and a shift do not matter
    assert _rel(fastinfo.logsumexp(row[::-1].copy()), ref) <= 1e-15


@pytest.mark.parametrize("x", [40.0, 100.0, 700.0])
def test_logsumexp_tied_maxima_and_long_rows(x):
    # two maximal logits: t = 1 + tiny, exact integer part
    row = np.array([0.0, -x, 0.0, -x - 1.0])
    assert _rel(fastinfo.logsumexp(row), _lse_ref(row)) <= 1e-15
    # a long row (several lanes, a tail) with one winner: t is a sum of 999 rounded exponentials,
    # so a few ulps, not one
    row = np.full(1000, -x)
    row[123] = 0.0
    assert _rel(fastinfo.logsumexp(row), _lse_ref(row)) <= 1e-14


@pytest.mark.parametrize("margin", [1.0, 20.0, 40.0, 100.0, 300.0, 600.0, 700.0])
@pytest.mark.parametrize("K", [2, 5, 37])
def test_cross_entropy_of_a_winning_label(margin, K):
    logits = np.zeros((1, K))
    logits[0, 1:] = -margin
    logits[0, K - 1] = -margin - 0.5
    ref = _lse_ref(logits[0]) - mpmath.mpf(float(logits[0, 0]))
    ce = fastinfo.softmax_cross_entropy(logits, np.array([0]))
    assert _rel(ce[0], ref) <= 1e-15
    # log_softmax of the winner is -(that), and the entropy of such a row is positive and accurate
    ls = fastinfo.log_softmax(logits[0])
    assert _rel(-ls[0], ref) <= 1e-15


@pytest.mark.parametrize("margin", [5.0, 30.0, 200.0])
def test_softmax_entropy_of_a_confident_row(margin):
    row = np.array([0.0, -margin, -margin])
    p = [mpmath.exp(mpmath.mpf(float(v)) - _lse_ref(row)) for v in row]
    ref = -mpmath.fsum(pi * mpmath.log(pi) for pi in p)
    assert _rel(fastinfo.softmax_entropy(row), ref) <= 1e-14


def test_matches_scipy_on_its_own_example():
    scipy_special = pytest.importorskip("scipy.special")
    # SciPy's gh-18295 case
    a = np.array([0.0, -40.0])
    assert fastinfo.logsumexp(a) == pytest.approx(scipy_special.logsumexp(a), rel=1e-15)
    assert fastinfo.logsumexp(a) > 0


def test_float32_rows():
    row = np.array([0.0, -20.0], dtype=np.float32)
    ref = _lse_ref(row.astype(np.float64))
    r = fastinfo.logsumexp(row)
    assert r.dtype == np.float32
    assert _rel(float(r), ref) <= 1e-6
