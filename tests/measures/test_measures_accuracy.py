"""Accuracy of fastinfo's measures against arbitrary-precision oracles.

Every expected value here is computed with mpmath (or, for the 1e7-element float32
rows, with exactly-rounded float64 summation) from the exact values of the
floating-point inputs -- never with fastinfo itself.

Error model used for the tolerances (documented per test):

* entropy / cross_entropy on inputs with every p, q <= 1: all terms -p log p and
  -p log q have the same sign, so the sum is well conditioned and a float64
  implementation (per-term log error of a few ulp, float64 accumulation) must
  land within 1e-13 relative of the exact value even for K = 1e6.
* kl_divergence / js_divergence: the direct formula has terms of both signs. When
  p and q are independent the value is O(1) and we require 1e-12 relative. When p
  is close to q the value is second order in (p - q) while each term carries an
  absolute rounding error of order eps * p * (1 + |log p| + |log q|) (rounding of
  p/q, or of log p - log q); the tolerance is then that bound, which still fails
  any implementation that is off by more than rounding (e.g. computing CE - H).
"""

import math

import mpmath
import numpy as np
import pytest
from helpers import (KERNEL_LEVELS, MP_PREC, assert_mp_close, mp_cross_entropy, mp_entropy, mp_js, mp_kl)

import fastinfo
from fastinfo._dispatch import available_kernels

EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------- inputs
def make_distribution(kind, k, seed):
    """A float64 row of length k with every entry in [0, 1]."""
    rng = np.random.default_rng(seed)
    if kind == "dirichlet":
        p = rng.standard_exponential(k)
    elif kind == "peaked":  # Dirichlet(0.05): a few large entries, many tiny ones
        p = rng.gamma(0.05, size=k) + 1e-300
    elif kind == "zeros":  # about a third exactly 0
        p = rng.standard_exponential(k) * (rng.random(k) > 0.33)
        p[rng.integers(k)] = 1.0
    elif kind == "wide":  # magnitudes spread over 10^-300 .. 1 (subnormal-free)
        p = 10.0 ** rng.uniform(-300, 0, size=k)
    else:  # pragma: no cover
        raise AssertionError(kind)
    return p / p.sum()


def make_structured(k, n_distinct, seed, with_q=False):
    """Length-k row(s) whose entries take n_distinct values in a random order.

    The rows are genuine 1e6-element inputs (random order, so the kernel's
    accumulation sees effectively random addends), but the exact value of the
    float64 inputs is sum_j count_j * f(v_j) over the distinct values, which mpmath
    evaluates with n_distinct logarithms instead of k. Returned: p (and q), the
    distinct values, and their multiplicities.
    """
    rng = np.random.default_rng(seed)
    vp = rng.standard_exponential(n_distinct) * 10.0 ** rng.uniform(-6, 0, n_distinct)
    vq = rng.standard_exponential(n_distinct) * 10.0 ** rng.uniform(-6, 0, n_distinct)
    idx = rng.integers(n_distinct, size=k)
    counts = np.bincount(idx, minlength=n_distinct)
    # scale so the rows sum to ~1 (every entry < 1); scaling the distinct values
    # keeps the structure exact.
    vp = vp / float(np.dot(counts, vp))
    vq = vq / float(np.dot(counts, vq))
    p, q = vp[idx], vq[idx]
    assert p.max() < 1 and q.max() < 1
    if with_q:
        return p, q, vp, vq, counts
    return p, vp, counts


def make_structured_pairs(k, n_distinct, seed):
    """Like make_structured but the (p_i, q_i) pairs come from n_distinct pairs."""
    p, q, vp, vq, counts = make_structured(k, n_distinct, seed, with_q=True)
    return p, q, vp, vq, counts


SIZES = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 1000, 4099, 20000]
KINDS = ["dirichlet", "peaked", "zeros", "wide"]
CASES = [(k, kind) for k in SIZES for kind in KINDS if not (k < 3 and kind == "zeros")]
CASE_IDS = [f"K{k}-{kind}" for k, kind in CASES]


# --------------------------------------------------------------------------- entropy
@pytest.mark.parametrize("k,kind", CASES, ids=CASE_IDS)
def test_entropy_float64_matches_mpmath(k, kind):
    p = make_distribution(kind, k, seed=k)
    got = fastinfo.entropy(p)
    assert isinstance(got, np.float64)
    # All terms >= 0 (p <= 1): relative 1e-13, and exact 0 when H is exactly 0.
    assert_mp_close(got, mp_entropy(p), rtol=1e-13, what=f"H K={k} {kind}")


@pytest.mark.parametrize("value", [1.0, 0.37, 0.5, 1e-300, 0.0], ids=lambda v: f"p={v}")
def test_entropy_single_element(value):
    got = fastinfo.entropy(np.array([value]))
    assert_mp_close(got, mp_entropy([value]), rtol=1e-13, what="K=1")
    if value in (0.0, 1.0):
        assert got == 0.0


@pytest.mark.parametrize("k,kind", [(1000, "dirichlet"), (20000, "peaked"), (4099, "wide")],
                         ids=["K1000-dirichlet", "K20000-peaked", "K4099-wide"])
@pytest.mark.parametrize("scale", [3.7, 1e-3, 250.0], ids=lambda s: f"x{s}")
def test_entropy_normalize_matches_mpmath(k, kind, scale):
    p_raw = make_distribution(kind, k, seed=k + 1) * scale
    got = fastinfo.entropy(p_raw, normalize=True)
    assert_mp_close(got, mp_entropy(p_raw, normalize=True), rtol=1e-13, what=f"H normalize K={k}")


@pytest.mark.parametrize("k,kind", [(500, "dirichlet"), (3000, "zeros")], ids=["K500", "K3000-zeros"])
def test_entropy_unnormalized_matches_mpmath(k, kind):
    # Rows that do not sum to 1 (entries > 1 make terms negative): formula applied
    # to what was passed. Bound: 1e-13 of sum |terms| (the condition number).
    p = make_distribution(kind, k, seed=7) * 40.0
    exact = mp_entropy(p)
    with mpmath.workprec(MP_PREC):
        mag = mpmath.fsum(abs(mpmath.mpf(float(x)) * mpmath.log(float(x))) for x in p if x > 0)
    assert_mp_close(fastinfo.entropy(p), exact, atol=1e-13 * mag, what="H unnormalized")


@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalize"])
@pytest.mark.parametrize("k", [1_000_000, 100_003], ids=["K1e6", "K100003"])
def test_entropy_large_structured_matches_mpmath(k, normalize):
    p, vp, counts = make_structured(k, 3000, seed=k)
    scale = 2.5 if normalize else 1.0
    got = fastinfo.entropy(p * scale, normalize=normalize)
    exact = mp_entropy(vp * scale, normalize=normalize, counts=counts)
    assert_mp_close(got, exact, rtol=1e-13, what=f"H K={k}")


# normalize=True must not depend on the scale of the input beyond rounding: the
# result is that of the exactly normalized distribution, within 1e-13 relative or
# (for tiny values such as the entropy of a nearly deterministic distribution)
# within the rounding bound of the normalized problem, 32 eps sum p(1 + |log p| +
# |log q|), which does not grow with |log(sum)|.
EXTREME_ROWS = {
    "peaked": np.array([1.0, 1e-10]),
    "peaked3": np.array([1.0, 3e-9, 1e-12]),
    "uniform2": np.array([1.0, 1.0]),
    "dirichlet50": make_distribution("dirichlet", 50, seed=50),
}
EXTREME_SCALES = [1e-300, 1e-200, 2.0**-600, 1e-100, 1e-6, 1e6, 1e100, 2.0**600, 1e300]
EXTREME_CASES = [(r, s) for r in EXTREME_ROWS for s in EXTREME_SCALES]


def _normalized_bound(p, q=None):
    p = np.asarray(p, float) / np.sum(p)
    q = p if q is None else np.asarray(q, float) / np.sum(q)
    return _kl_rounding_bound(p, q)


@pytest.mark.parametrize("row,scale", EXTREME_CASES, ids=[f"{r}-x{s:.0e}" for r, s in EXTREME_CASES])
def test_entropy_normalize_extreme_scales_matches_mpmath(row, scale):
    p = EXTREME_ROWS[row] * scale
    exact = mp_entropy(p, normalize=True)
    tol = max(1e-13 * float(exact), _normalized_bound(p))
    assert_mp_close(fastinfo.entropy(p, normalize=True), exact, atol=tol, what=f"H normalize {row} x{scale}")
    assert_mp_close(fastinfo.entropy(p, normalize=True, base=2), exact / mpmath.log(2),
                    atol=tol / math.log(2), what="H normalize bits")


@pytest.mark.parametrize("p_scale", [3.0, 1e-300, 1e300], ids=lambda s: f"p{s:.0e}")
@pytest.mark.parametrize("row,scale", EXTREME_CASES, ids=[f"{r}-x{s:.0e}" for r, s in EXTREME_CASES])
def test_two_argument_normalize_extreme_scales_match_mpmath(row, scale, p_scale):
    # the two sums may differ by more than the float range (1e300 vs 1e-300)
    q = EXTREME_ROWS[row] * scale
    p = np.linspace(1.0, 2.0, len(q)) * p_scale
    bound = _normalized_bound(p, q)
    for f, oracle in ((fastinfo.cross_entropy, mp_cross_entropy), (fastinfo.kl_divergence, mp_kl),
                      (fastinfo.js_divergence, mp_js)):
        for a, b in ((p, q), (q, p)):
            exact = oracle(a, b, normalize=True)
            tol = max(1e-13 * abs(float(exact)), 2 * bound)
            assert_mp_close(f(a, b, normalize=True), exact, atol=tol, what=f"{f.__name__} {row} x{scale}")


@pytest.mark.parametrize("q", [[5e-324, 5e-324], [1e-310, 3e-310], [2e-309, 0.0, 1e-320]],
                         ids=["2x5e-324", "1e-310,3e-310", "2e-309,0,1e-320"])
def test_normalize_subnormal_sums_match_mpmath(q):
    # every entry (and the sum) subnormal: still valid, nonzero distributions
    q = np.array(q)
    p = np.arange(1.0, len(q) + 1)
    bound = 64 * EPS
    h_exact = mp_entropy(q, normalize=True)
    assert_mp_close(fastinfo.entropy(q, normalize=True), h_exact, atol=max(1e-13 * float(h_exact), bound), what="H")
    for f, oracle in ((fastinfo.cross_entropy, mp_cross_entropy), (fastinfo.kl_divergence, mp_kl),
                      (fastinfo.js_divergence, mp_js)):
        for a, b in ((p, q), (q, p)):
            exact = oracle(a, b, normalize=True)
            got = f(a, b, normalize=True)
            if mpmath.isinf(exact):
                assert np.isposinf(got), f.__name__
            else:
                assert_mp_close(got, exact, atol=max(1e-13 * abs(float(exact)), bound), what=f.__name__)


# --------------------------------------------------------------------------- cross entropy
@pytest.mark.parametrize("k,kind", CASES, ids=CASE_IDS)
def test_cross_entropy_float64_matches_mpmath(k, kind):
    p = make_distribution(kind, k, seed=k)
    q = make_distribution("dirichlet", k, seed=10_000 + k)
    got = fastinfo.cross_entropy(p, q)
    assert isinstance(got, np.float64)
    assert_mp_close(got, mp_cross_entropy(p, q), rtol=1e-13, what=f"CE K={k} {kind}")


@pytest.mark.parametrize("k", [3, 1000, 20000], ids=lambda k: f"K{k}")
def test_cross_entropy_normalize_matches_mpmath(k):
    p = make_distribution("dirichlet", k, seed=3) * 17.0
    q = make_distribution("peaked", k, seed=4) * 0.01
    got = fastinfo.cross_entropy(p, q, normalize=True)
    assert_mp_close(got, mp_cross_entropy(p, q, normalize=True), rtol=1e-13, what=f"CE normalize K={k}")


@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalize"])
@pytest.mark.parametrize("k", [1_000_000, 100_003], ids=["K1e6", "K100003"])
def test_cross_entropy_large_structured_matches_mpmath(k, normalize):
    p, q, vp, vq, counts = make_structured_pairs(k, 3000, seed=k + 5)
    sp, sq = (0.5, 8.0) if normalize else (1.0, 1.0)
    got = fastinfo.cross_entropy(p * sp, q * sq, normalize=normalize)
    exact = mp_cross_entropy(vp * sp, vq * sq, normalize=normalize, counts=counts)
    assert_mp_close(got, exact, rtol=1e-13, what=f"CE K={k}")


# --------------------------------------------------------------------------- KL / JS
KL_SIZES = [1, 2, 5, 16, 33, 1000, 4096]


def _close_pair(k, seed, rel):
    """p and a q within relative `rel` of it, both normalized."""
    rng = np.random.default_rng(seed)
    p = make_distribution("dirichlet", k, seed)
    q = p * (1.0 + rel * rng.standard_normal(k))
    return p, q / q.sum()


def _kl_rounding_bound(p, q):
    # Absolute rounding error of the direct formula (see module docstring), c = 32.
    with np.errstate(divide="ignore"):
        lp = np.where(p > 0, np.abs(np.log(np.where(p > 0, p, 1.0))), 0.0)
        lq = np.where(q > 0, np.abs(np.log(np.where(q > 0, q, 1.0))), 0.0)
    return 32 * EPS * float(np.sum(p * (1.0 + lp + lq))) * (1 + len(p) * EPS)


def _js_rounding_bound(p, q):
    m = (p + q) / 2
    return _kl_rounding_bound(p, m) + _kl_rounding_bound(q, m)


@pytest.mark.parametrize("base", [None, 2, 10], ids=["nats", "bits", "base10"])
@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalize"])
@pytest.mark.parametrize("k", KL_SIZES, ids=lambda k: f"K{k}")
def test_kl_independent_matches_mpmath(k, normalize, base):
    p = make_distribution("dirichlet", k, seed=k)
    q = make_distribution("peaked" if k > 2 else "dirichlet", k, seed=k + 99)
    if normalize:
        p, q = p * 3.0, q * 0.2
    got = fastinfo.kl_divergence(p, q, normalize=normalize, base=base)
    exact = mp_kl(p, q, base=base, normalize=normalize)
    if exact == 0:  # K=1: p == q == [1] (after normalization)
        assert got == 0.0
    else:
        assert_mp_close(got, exact, rtol=1e-12, what=f"KL K={k}")


@pytest.mark.parametrize("base", [None, 2, 10], ids=["nats", "bits", "base10"])
@pytest.mark.parametrize("rel", [1e-3, 1e-6, 1e-9], ids=lambda r: f"close{r}")
@pytest.mark.parametrize("k", [2, 16, 33, 1000, 4096], ids=lambda k: f"K{k}")
def test_kl_close_distributions_matches_mpmath(k, rel, base):
    p, q = _close_pair(k, seed=k, rel=rel)
    got = fastinfo.kl_divergence(p, q, base=base)
    exact = mp_kl(p, q, base=base)
    lb = 1.0 if base is None else math.log(base)
    tol = max(1e-12 * abs(float(exact)), _kl_rounding_bound(p, q) / lb)
    assert_mp_close(got, exact, atol=tol, what=f"KL close K={k} rel={rel}")
    # normalized rows (sums agree within rounding): never negative
    assert got >= 0
    got_n = fastinfo.kl_divergence(p, q, base=base, normalize=True)
    assert_mp_close(got_n, mp_kl(p, q, base=base, normalize=True), atol=tol, what="KL close normalize")
    assert got_n >= 0


def test_kl_close_not_tiny_is_relative_accurate():
    # close, but the value (~5e-7) is far above the rounding bound (~1e-13):
    # relative 1e-12 must hold for the direct formula... up to that bound.
    p, q = _close_pair(2000, seed=5, rel=1e-3)
    exact = mp_kl(p, q)
    bound = _kl_rounding_bound(p, q)
    assert float(exact) > 1e5 * bound
    assert_mp_close(fastinfo.kl_divergence(p, q), exact, atol=1e-12 * float(exact) + bound, what="KL")


@pytest.mark.parametrize("base", [None, 2, 10], ids=["nats", "bits", "base10"])
@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalize"])
@pytest.mark.parametrize("k", KL_SIZES, ids=lambda k: f"K{k}")
def test_js_independent_matches_mpmath(k, normalize, base):
    p = make_distribution("zeros" if k > 4 else "dirichlet", k, seed=k)
    q = make_distribution("peaked", k, seed=k + 7)
    if normalize:
        p, q = p * 0.3, q * 11.0
    exact = mp_js(p, q, base=base, normalize=normalize)
    got = fastinfo.js_divergence(p, q, normalize=normalize, base=base)
    dist = fastinfo.js_divergence(p, q, normalize=normalize, base=base, distance=True)
    if exact == 0:
        assert got == 0.0 and dist == 0.0
        return
    lb = 1.0 if base is None else math.log(base)
    tol = max(1e-12 * abs(float(exact)), _js_rounding_bound(p, q) / lb)
    assert_mp_close(got, exact, atol=tol, what=f"JS K={k}")
    with mpmath.workprec(MP_PREC):
        # |sqrt(a) - sqrt(b)| = |a - b| / (sqrt(a) + sqrt(b)) <= |a - b| / sqrt(b)
        root = mpmath.sqrt(exact)
        assert_mp_close(dist, root, atol=max(1e-12 * float(root), tol / float(root)), what="JS distance")


@pytest.mark.parametrize("base", [None, 2, 10], ids=["nats", "bits", "base10"])
@pytest.mark.parametrize("rel", [1e-3, 1e-6, 1e-9, 1e-15], ids=lambda r: f"close{r}")
@pytest.mark.parametrize("k", [2, 33, 1000, 4096], ids=lambda k: f"K{k}")
def test_js_close_distributions_matches_mpmath(k, rel, base):
    p, q = _close_pair(k, seed=k + 1, rel=rel)
    lb = 1.0 if base is None else math.log(base)
    bound = _js_rounding_bound(p, q) / lb
    exact = mp_js(p, q, base=base)
    got = fastinfo.js_divergence(p, q, base=base)
    assert got >= 0
    assert_mp_close(got, exact, atol=max(1e-12 * abs(float(exact)), bound), what=f"JS close K={k} rel={rel}")
    dist = fastinfo.js_divergence(p, q, base=base, distance=True)
    assert not np.isnan(dist) and dist >= 0
    with mpmath.workprec(MP_PREC):
        # |sqrt(a) - sqrt(b)| <= sqrt(|a - b|)
        d_tol = max(1e-12 * float(mpmath.sqrt(exact)), math.sqrt(bound))
        assert_mp_close(dist, mpmath.sqrt(exact), atol=d_tol, what="JS distance close")


# --------------------------------------------------------------------------- base
@pytest.mark.parametrize("base", [2, 10, 2.0, 10.0, 0.5, 7.25], ids=lambda b: f"base{b!r}")
def test_entropy_and_cross_entropy_base_match_mpmath(base):
    p = make_distribution("dirichlet", 777, seed=1)
    q = make_distribution("wide", 777, seed=2)
    assert_mp_close(fastinfo.entropy(p, base=base), mp_entropy(p, base=base), rtol=1e-13, what="H base")
    assert_mp_close(fastinfo.cross_entropy(p, q, base=base), mp_cross_entropy(p, q, base=base),
                  rtol=1e-13, what="CE base")


def test_base_uniform_distribution_exact_values():
    # H(uniform over 1024) = 10 bits, and over 1000 = 3 decimal digits; exact
    # values known in closed form (the mpmath oracle agrees).
    p = np.full(1024, 1 / 1024)
    assert abs(fastinfo.entropy(p, base=2) - 10.0) <= 10.0 * 1e-14
    p = np.full(1000, 1e-3)
    assert_mp_close(fastinfo.entropy(p, base=10), mp_entropy(p, base=10), rtol=1e-13, what="H base10")
    assert abs(fastinfo.entropy(p, base=10) - 3.0) <= 3.0 * 1e-13


# --------------------------------------------------------------------------- batches
def test_batch_rows_match_mpmath():
    # a batch whose rows have very different lengths of support / magnitudes
    rows = [make_distribution(kind, 513, seed=s) for s, kind in enumerate(KINDS * 3)]
    p = np.stack(rows)
    q = np.stack([make_distribution("peaked" if s % 2 else "wide", 513, seed=100 + s) for s in range(len(rows))])
    h = fastinfo.entropy(p)
    ce = fastinfo.cross_entropy(p, q)
    assert h.shape == (len(rows),) and ce.shape == (len(rows),)
    for i in range(len(rows)):
        assert_mp_close(h[i], mp_entropy(p[i]), rtol=1e-13, what=f"H row {i}")
        assert_mp_close(ce[i], mp_cross_entropy(p[i], q[i]), rtol=1e-13, what=f"CE row {i}")


# --------------------------------------------------------------------------- float32
# Oracle for the 1e7-element float32 rows: each float32 value is promoted to
# float64 exactly; np.log in float64 is accurate to a few ulp (~1e-15 relative),
# the float64 product adds half an ulp, and math.fsum returns the exactly rounded
# sum of those float64 terms. All terms have one sign for entropy / cross-entropy
# (entries <= 1), and are O(value) for KL / JS of independent rows, so the oracle
# is within ~1e-14 relative of the exact value of the float32 input -- 8 orders of
# magnitude below the 1e-6 tolerance (itself ~8 float32 ulps). The check is
# sensitive: float32 accumulation of 1e7 terms is off by ~1e-4 relative.
K32 = 10_000_000


@pytest.fixture(scope="module")
def float32_rows():
    rng = np.random.default_rng(2024)
    p = rng.standard_exponential(K32)
    q = rng.standard_exponential(K32)
    p32 = (p / p.sum()).astype(np.float32)
    q32 = (q / q.sum()).astype(np.float32)
    return p32, q32


def _rel_err(got, exact):
    return abs(float(got) - exact) / abs(exact)


def test_float32_entropy_1e7(float32_rows):
    p32, _ = float32_rows
    got = fastinfo.entropy(p32)
    assert isinstance(got, np.float32)
    p = p32.astype(np.float64)
    exact = -math.fsum(p * np.log(p))
    assert _rel_err(got, exact) <= 1e-6, (float(got), exact)


def test_float32_cross_entropy_1e7(float32_rows):
    p32, q32 = float32_rows
    got = fastinfo.cross_entropy(p32, q32)
    assert isinstance(got, np.float32)
    p, q = p32.astype(np.float64), q32.astype(np.float64)
    exact = -math.fsum(p * np.log(q))
    assert _rel_err(got, exact) <= 1e-6, (float(got), exact)


def test_float32_kl_1e7(float32_rows):
    p32, q32 = float32_rows
    got = fastinfo.kl_divergence(p32, q32)
    assert isinstance(got, np.float32)
    p, q = p32.astype(np.float64), q32.astype(np.float64)
    exact = math.fsum(p * np.log(p / q))
    assert exact > 0.1
    assert _rel_err(got, exact) <= 1e-6, (float(got), exact)


def test_float32_js_1e7(float32_rows):
    p32, q32 = float32_rows
    got = fastinfo.js_divergence(p32, q32)
    assert isinstance(got, np.float32)
    p, q = p32.astype(np.float64), q32.astype(np.float64)
    m = (p + q) / 2
    exact = 0.5 * math.fsum(np.concatenate([p * np.log(p / m), q * np.log(q / m)]))
    assert exact > 0.01
    assert _rel_err(got, exact) <= 1e-6, (float(got), exact)


def test_float32_entropy_structured_1e6_matches_mpmath():
    # cross-check of the float32 path against mpmath itself (exact oracle on the
    # structured input; see make_structured)
    p, vp, counts = make_structured(1_000_000, 2000, seed=11)
    v32 = vp.astype(np.float32)
    idx = np.repeat(np.arange(len(vp)), counts)
    np.random.default_rng(0).shuffle(idx)
    p32 = v32[idx]
    got = fastinfo.entropy(p32)
    assert got.dtype == np.float32
    exact = mp_entropy(v32.astype(np.float64), counts=counts)
    assert_mp_close(got, exact, rtol=1e-6, what="H float32 1e6")


# --------------------------------------------------------------- nearly equal rows
# KL and JS of nearly identical distributions are small differences of large
# terms. The kernels carry the rounding of each ratio (and of p + q for JS)
# exactly, so the relative error stays ~1e-16 / (eps sqrt(K)) -- the limit set
# by the log's own relative accuracy -- instead of growing like 1e-16 / eps^2.
# Checked on every compiled SIMD variant that runs here (generic loops and
# AVX-512 blocks), normalized and not, float64 and float32, against mpmath.
_NEAR_TOL = {  # eps -> allowed relative error (float64, float32)
    1e-2: (1e-13, 2e-6),
    1e-4: (1e-11, 1e-4),
}


def _near_rows(eps, k=700, seed=3):
    rng = np.random.default_rng(seed)
    p = rng.random(k) + 0.05
    q = p * (1 + eps * rng.standard_normal(k))
    return p / p.sum(), q / q.sum()


@pytest.mark.parametrize("level", KERNEL_LEVELS)
@pytest.mark.parametrize("eps", sorted(_NEAR_TOL))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("normalize", [False, True])
def test_nearly_equal_rows_kl_js(level, eps, dtype, normalize):
    mod = available_kernels()[level]
    p, q = _near_rows(eps)
    if normalize:                       # rows summing to 3 and 0.5: the kernels rescale
        p, q = 3 * p, 0.5 * q
    p, q = p.astype(dtype), q.astype(dtype)
    tol = _NEAR_TOL[eps][0 if dtype == np.float64 else 1]
    out = np.empty(1)
    exact_kl = mp_kl(p.astype(np.float64), q.astype(np.float64), normalize=normalize)
    exact_js = mp_js(p.astype(np.float64), q.astype(np.float64), normalize=normalize)
    # With normalize, the rounded factors 1/sp, sq/sp each shift the result by
    # ~1e-16 absolute (in float64 also for float32 input): an absolute allowance.
    slack = 2e-15 if normalize else 0.0
    for n_threads in (1, 2):
        mod.shannon_rows(mod.MEASURES["kl_divergence"], p[None], q[None], out, normalize, False, 1.0, n_threads)
        assert_mp_close(out[0], exact_kl, atol=tol * exact_kl + slack, what=f"KL {level} {np.dtype(dtype).name} eps={eps}")
        mod.shannon_rows(mod.MEASURES["js_divergence"], p[None], q[None], out, normalize, False, 1.0, n_threads)
        assert_mp_close(out[0], exact_js, atol=tol * exact_js + slack, what=f"JS {level} {np.dtype(dtype).name} eps={eps}")


@pytest.mark.parametrize("level", KERNEL_LEVELS)
def test_kl_ratio_underflowing_to_a_subnormal_is_recomputed(level):
    # p/q below the smallest normal number has lost bits: the AVX-512 blocks must take the
    # careful path (log p - log q) there. Exact values from mpmath: 1e-38 log(1e-38 / 5e6) and
    # 1e-300 log(1e-300 / 3e23).
    mod = available_kernels()[level]
    out = np.empty(1)
    for p, q, name in ((1e-38, 5e6, "float"), (1.2098767e-25, 1.6165383e+19, "float"),
                       (1e-300, 3e23, "double")):
        dt = np.float32 if name == "float" else np.float64
        P, Q = np.array([[p]], dt), np.array([[q]], dt)
        mod.shannon_rows(mod.MEASURES["kl_divergence"], P, Q, out, False, False, 1.0, 1)
        exact = float(mp_kl(P[0], Q[0]))
        assert abs(out[0] - exact) <= 1e-14 * abs(exact), (level, p, q, out[0], exact)
