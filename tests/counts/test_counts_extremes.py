"""entropy_from_counts at the ends of the count range: totals beyond the float range, int64
counts up to 2**63, rows dominated by one bin (a tiny entropy), byte-swapped dtypes and option
types. Oracle: each estimator's published formula in mpmath at 400 digits (exact integers,
no rewriting: the textbook expressions, where log N - sum n G(n) / N needs ~320 digits for
the smallest values here)."""
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo

ESTIMATORS = ["plugin", "miller_madow", "grassberger", "chao_shen", "james_stein"]


def _exact(v):
    """The exact value of a count: a Python int, or the float's exact value."""
    return mpmath.mpf(int(v)) if isinstance(v, (int, np.integer)) else mpmath.mpf(float(v))


def mp_estimate(counts, estimator):
    with mpmath.workdps(400):
        n = [_exact(v) for v in counts]
        N = mpmath.fsum(n)
        K = len(n)
        if N == 0:
            return mpmath.mpf(0)
        nz = [v for v in n if v > 0]
        plug = -mpmath.fsum(v / N * mpmath.log(v / N) for v in nz)
        if estimator == "plugin":
            h = plug
        elif estimator == "miller_madow":
            h = plug + (len(nz) - 1) / (2 * N)
        elif estimator == "grassberger":
            def G(k):
                sign = 1 if int(k) % 2 == 0 else -1
                return mpmath.digamma(k) + sign * (mpmath.digamma((k + 1) / 2) - mpmath.digamma(k / 2)) / 2
            h = mpmath.log(N) - mpmath.fsum(v * G(v) for v in nz) / N
        elif estimator == "chao_shen":
            f1 = sum(1 for v in n if v == 1)
            if f1 == N:
                f1 = N - 1
            C = 1 - f1 / N
            # 1 - (1 - q)^N, the power taken as exp(N log(1 - q)) at 400 digits
            h = -mpmath.fsum(C * v / N * mpmath.log(C * v / N) / (-mpmath.expm1(N * mpmath.log1p(-C * v / N)))
                             for v in nz)
        else:
            p = [v / N for v in n]
            t = mpmath.mpf(1) / K
            num = 1 - mpmath.fsum(x * x for x in p)
            den = (N - 1) * mpmath.fsum((t - x) ** 2 for x in p)
            lam = num / den if (den > 0 and N > 1) else mpmath.mpf(1)
            lam = min(max(lam, mpmath.mpf(0)), mpmath.mpf(1))
            ps = [lam * t + (1 - lam) * x for x in p]
            h = -mpmath.fsum(x * mpmath.log(x) for x in ps if x > 0)
        return max(h, mpmath.mpf(0))


def assert_estimate(got, counts, estimator, rtol=1e-13):
    want = mp_estimate(counts, estimator)
    got = float(got)
    with mpmath.workdps(400):
        assert abs(mpmath.mpf(got) - want) <= rtol * want + mpmath.mpf("1e-320"), (
            estimator, counts, got, mpmath.nstr(want, 17))


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("counts", [
    [1e308, 1e308, 0.0],                       # the total overflows: log 2 for every estimator
    [1.7e308, 1.7e308, 1.7e308, 1.0],
    [1.7e308, 1.0],                            # entropy ~4e-306: N overflows and 1/N matters
    [1e300, 1e300, 1.0],
    [1e20, 1.0],                               # one bin holds all but 1e-20 of the total
    np.array([2 ** 62, 2 ** 62 - 1, 3], dtype=np.int64),
    np.array([2 ** 62 - 1, 1], dtype=np.int64),
    np.array([2 ** 63 - 5, 3, 1], dtype=np.int64),   # total 2**63 - 1
    np.array([541461220249091], dtype=np.int64),     # one odd count: Grassberger ~1/n
    np.array([37], dtype=np.int64),
])
def test_huge_counts_vs_mpmath(estimator, counts):
    got = fastinfo.entropy_from_counts(counts, estimator=estimator)
    assert np.isfinite(got) and got >= 0
    assert_estimate(got, list(counts), estimator)


def test_total_beyond_the_float_range_is_log_2():
    for estimator in ESTIMATORS:
        got = fastinfo.entropy_from_counts([1e308, 1e308, 0], estimator=estimator)
        assert got == pytest.approx(math.log(2), rel=1e-15), estimator
        got2 = fastinfo.entropy_from_counts([[1e308, 1e308, 0], [3, 1, 0]], estimator=estimator, base=2)
        assert got2[0] == pytest.approx(1.0, rel=1e-15), estimator


@st.composite
def int64_rows(draw):
    """int64 counts: a few small, a few up to 2**61 (the total stays below 2**63)."""
    k = draw(st.integers(1, 6))
    small = st.integers(0, 50)
    big = st.integers(0, 2 ** 61)
    return np.array([draw(st.one_of(small, big)) for _ in range(k)], dtype=np.int64)


@settings(max_examples=40)
@given(int64_rows(), st.sampled_from(ESTIMATORS))
def test_int64_counts_vs_mpmath(counts, estimator):
    got = fastinfo.entropy_from_counts(counts, estimator=estimator)
    # the estimator of the int64 counts themselves (float64 rounds counts above 2**53 by
    # ~1e-16 relative, which moves the value by as much)
    assert_estimate(got, [int(v) for v in counts], estimator, rtol=1e-13)


@settings(max_examples=40)
@given(st.lists(st.one_of(st.integers(0, 40).map(float), st.floats(1e290, 1.7e308)),   # floats >= 2**53 are integers
                min_size=1, max_size=5), st.sampled_from(ESTIMATORS))
def test_float_counts_beyond_the_float_range_vs_mpmath(counts, estimator):
    got = fastinfo.entropy_from_counts(np.array(counts), estimator=estimator)
    assert_estimate(got, counts, estimator)


def test_batch_mixing_huge_and_ordinary_rows():
    C = np.array([[1e308, 1e308, 1e308, 5.0], [3.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    for estimator in ESTIMATORS:
        got = fastinfo.entropy_from_counts(C, estimator=estimator)
        for i in range(4):
            assert_estimate(got[i], list(C[i]), estimator)


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">i8", ">i4"])
def test_byte_swapped_counts(dtype):
    """Big-endian counts give the dtype and values of the native ones (float32 for float32)."""
    C = np.array([[3, 1, 0, 7], [2, 2, 2, 2], [0, 0, 0, 0], [40, 1, 1, 9]])
    native = dtype.replace(">", "<")
    for estimator in ESTIMATORS:
        a = fastinfo.entropy_from_counts(C.astype(dtype), estimator=estimator)
        b = fastinfo.entropy_from_counts(C.astype(native), estimator=estimator)
        assert a.dtype == b.dtype == (np.float32 if native == "<f4" else np.float64)
        np.testing.assert_array_equal(a, b)
        for i in range(4):
            assert_estimate(a[i], [int(v) for v in C[i]], estimator, rtol=1e-6 if native == "<f4" else 1e-13)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_integer_options_refuse_bool(estimator):
    """As NumPy refuses ``axis=True``: bool (or float) axis and n_threads are TypeErrors for
    every estimator, not 1."""
    C = np.array([[3, 1, 0], [2, 2, 2]])
    for bad in (True, np.bool_(False), 1.0):
        with pytest.raises(TypeError, match="axis"):
            fastinfo.entropy_from_counts(C, estimator=estimator, axis=bad)
        with pytest.raises(TypeError, match="n_threads"):
            fastinfo.entropy_from_counts(C, estimator=estimator, n_threads=bad)
    got = fastinfo.entropy_from_counts(C, estimator=estimator, axis=np.int64(1), n_threads=np.int32(1))
    for i in range(2):
        assert_estimate(got[i], list(C[i]), estimator)
