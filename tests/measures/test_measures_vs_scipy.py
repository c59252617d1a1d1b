"""fastinfo against SciPy's implementations of the same measures.

SciPy is a required test dependency (no skip): scipy.stats.entropy,
scipy.special.entr / rel_entr and scipy.spatial.distance.jensenshannon are the
oracles. SciPy computes in float64 with plain NumPy sums; on well-conditioned
inputs both agree to ~1e-13, so rtol=1e-12 catches any formula or convention
difference without tripping on summation order.
"""

import numpy as np
import pytest
import scipy.special
import scipy.stats
from helpers import absdiff
from scipy.spatial.distance import jensenshannon

import fastinfo

RTOL = 1e-12


def rand_dist(rng, shape, zeros=0.0):
    """Nonnegative, not normalized, optionally with exact zeros."""
    x = rng.standard_exponential(shape) * rng.uniform(0.1, 10.0)
    if zeros:
        x = x * (rng.random(shape) >= zeros)
    return x


def ensure_nonzero(p, axis):
    """Add 1 to the first entry of every distribution along `axis` (no all-zero rows)."""
    idx = [slice(None)] * p.ndim
    idx[axis] = 0
    p[tuple(idx)] += 1.0
    return p


SHAPES_AXES = [
    ((50,), 0),
    ((50,), -1),
    ((8, 33), -1),
    ((8, 33), 1),
    ((33, 8), 0),
    ((4, 17, 5), 1),
    ((4, 17, 5), -2),
    ((4, 5, 17), 2),
    ((17, 4, 5), 0),
    ((17, 4, 5), -3),
]
SA_IDS = [f"{'x'.join(map(str, s))}-axis{a}" for s, a in SHAPES_AXES]


# --------------------------------------------------------------------------- entropy
@pytest.mark.parametrize("base", [None, 2, 10, np.e, 0.3], ids=["nats", "bits", "b10", "be", "b0.3"])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=SA_IDS)
def test_entropy_normalize_matches_scipy_stats(shape, axis, base):
    rng = np.random.default_rng(1)
    p = ensure_nonzero(rand_dist(rng, shape, zeros=0.2), axis)
    expected = scipy.stats.entropy(p, base=base, axis=axis)
    got = fastinfo.entropy(p, normalize=True, base=base, axis=axis)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=SA_IDS)
def test_entropy_raw_matches_sum_of_entr(shape, axis):
    rng = np.random.default_rng(2)
    p = rand_dist(rng, shape, zeros=0.3) / 20.0  # entries mostly < 1
    expected = scipy.special.entr(p).sum(axis=axis)
    got = fastinfo.entropy(p, axis=axis)
    mag = np.abs(scipy.special.entr(p)).sum(axis=axis)
    assert np.all(np.abs(got - expected) <= RTOL * mag + 1e-300)


def test_entropy_entries_above_one_matches_entr():
    # entr(x) is negative for x > 1: the formula is applied to what was passed
    p = np.array([[2.0, 3.0, 0.0], [0.5, 1.0, 7.5]])
    expected = scipy.special.entr(p).sum(axis=-1)
    assert np.all(expected < 0)
    np.testing.assert_allclose(fastinfo.entropy(p), expected, rtol=RTOL)


# --------------------------------------------------------------------------- KL
@pytest.mark.parametrize("base", [None, 2, 10], ids=["nats", "bits", "b10"])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=SA_IDS)
def test_kl_normalize_matches_scipy_stats(shape, axis, base):
    rng = np.random.default_rng(3)
    p = ensure_nonzero(rand_dist(rng, shape, zeros=0.25), axis)
    q = rand_dist(rng, shape)  # q > 0 everywhere: finite
    expected = scipy.stats.entropy(p, q, base=base, axis=axis)
    got = fastinfo.kl_divergence(p, q, normalize=True, base=base, axis=axis)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=SA_IDS)
def test_kl_raw_matches_sum_of_rel_entr(shape, axis):
    # without normalize the formula is sum p log(p/q) exactly like rel_entr -- the
    # values may be negative when the rows do not sum to the same total.
    rng = np.random.default_rng(4)
    p = rand_dist(rng, shape, zeros=0.3)
    q = rand_dist(rng, shape, zeros=0.1)
    terms = scipy.special.rel_entr(p, q)
    expected = terms.sum(axis=axis)
    got = fastinfo.kl_divergence(p, q, axis=axis)
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    fin = np.isfinite(expected)
    mag = np.where(np.isfinite(terms), np.abs(terms), 0).sum(axis=axis)
    assert np.all(absdiff(got, expected)[fin] <= (RTOL * mag + 1e-300)[fin])


def test_kl_raw_can_be_negative_like_rel_entr():
    p = np.array([0.1, 0.2, 0.1])
    q = np.array([0.3, 0.3, 0.4])
    expected = scipy.special.rel_entr(p, q).sum()
    assert expected < 0
    got = fastinfo.kl_divergence(p, q)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_kl_zero_conventions_match_rel_entr():
    p = np.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    q = np.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    expected = scipy.special.rel_entr(p, q).sum(axis=-1)
    got = fastinfo.kl_divergence(p, q)
    np.testing.assert_array_equal(got, expected)  # 0, 0, inf, inf
    assert np.isposinf(got[2]) and np.isposinf(got[3]) and got[0] == 0 and got[1] == 0


# --------------------------------------------------------------------------- cross entropy
@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalize"])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=SA_IDS)
def test_cross_entropy_is_entr_plus_rel_entr(shape, axis, normalize):
    # H(p, q) = H(p) + D(p||q) = sum entr(p) + sum rel_entr(p, q)
    rng = np.random.default_rng(5)
    p = ensure_nonzero(rand_dist(rng, shape, zeros=0.3), axis)
    q = rand_dist(rng, shape)
    if normalize:
        pn = p / p.sum(axis=axis, keepdims=True)
        qn = q / q.sum(axis=axis, keepdims=True)
    else:
        pn, qn = p / 50.0, q / 50.0
        p, q = pn, qn
    h = scipy.special.entr(pn).sum(axis=axis)
    d = scipy.special.rel_entr(pn, qn).sum(axis=axis)
    got = fastinfo.cross_entropy(p, q, axis=axis, normalize=normalize)
    mag = np.abs(scipy.special.entr(pn)).sum(axis=axis) + np.abs(scipy.special.rel_entr(pn, qn)).sum(axis=axis)
    assert np.all(np.abs(got - (h + d)) <= 4 * RTOL * mag)


def test_cross_entropy_with_base_matches_scipy():
    rng = np.random.default_rng(6)
    p = rand_dist(rng, (6, 40))
    q = rand_dist(rng, (6, 40))
    for base in (2, 10):
        expected = scipy.stats.entropy(p, base=base, axis=-1) + scipy.stats.entropy(p, q, base=base, axis=-1)
        got = fastinfo.cross_entropy(p, q, normalize=True, base=base)
        np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_cross_entropy_q_zero_is_inf_like_rel_entr():
    p = np.array([[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]])
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    d = scipy.special.rel_entr(p, q).sum(axis=-1)
    got = fastinfo.cross_entropy(p, q)
    assert np.array_equal(np.isposinf(got), np.isposinf(d))
    assert got[1] == 0.0  # p==0 with q==0: exactly 0


# --------------------------------------------------------------------------- Jensen-Shannon
@pytest.mark.parametrize("base", [None, 2, 10], ids=["nats", "bits", "b10"])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=SA_IDS)
def test_js_distance_matches_scipy(shape, axis, base):
    rng = np.random.default_rng(7)
    p = ensure_nonzero(rand_dist(rng, shape, zeros=0.3), axis)
    q = ensure_nonzero(rand_dist(rng, shape, zeros=0.3), axis)
    expected = jensenshannon(p, q, base=base, axis=axis)
    got = fastinfo.js_divergence(p, q, distance=True, normalize=True, base=base, axis=axis)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    div = fastinfo.js_divergence(p, q, normalize=True, base=base, axis=axis)
    np.testing.assert_allclose(div, expected**2, rtol=RTOL)


def test_js_keepdims_matches_scipy():
    rng = np.random.default_rng(8)
    p = rand_dist(rng, (3, 20, 4)) + 0.01
    q = rand_dist(rng, (3, 20, 4)) + 0.01
    expected = jensenshannon(p, q, axis=1, keepdims=True)
    got = fastinfo.js_divergence(p, q, axis=1, keepdims=True, distance=True, normalize=True)
    assert got.shape == (3, 1, 4) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_js_disjoint_support_matches_scipy():
    p = np.array([[1.0, 0.0, 0.0, 3.0], [0.0, 0.0, 0.0, 1.0]])
    q = np.array([[0.0, 2.0, 5.0, 0.0], [0.0, 0.0, 0.0, 4.0]])
    expected = jensenshannon(p, q, axis=1, base=2)
    got = fastinfo.js_divergence(p, q, normalize=True, distance=True, base=2)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)
    assert got[1] == 0.0


def _scipy_nan_cases():
    """Nearly identical distributions for which SciPy's jensenshannon takes the
    square root of a slightly negative number (scipy#20083, scipy#20779)."""
    x = np.nextafter(0.5, 0)
    cases = [
        ("nextafter-half", np.array([x, 1 - x]), np.array([1 - x, x])),
        ("scipy20083-f32",
         np.array([0.027501475, 0.055202297], dtype=np.float32),
         np.array([0.027537677, 0.055334348], dtype=np.float32)),
    ]
    rng = np.random.default_rng(20083)
    for i in range(6):
        p = rng.dirichlet(np.ones(7))
        q = p * (1 + 1e-15 * rng.standard_normal(7))
        cases.append((f"perturbed{i}", p, q))
    return cases


NAN_CASES = _scipy_nan_cases()


@pytest.mark.parametrize("name,p,q", NAN_CASES, ids=[c[0] for c in NAN_CASES])
def test_js_distance_finite_where_scipy_may_return_nan(name, p, q):
    with np.errstate(invalid="ignore"):
        sp = jensenshannon(p, q)
    got = fastinfo.js_divergence(p, q, distance=True, normalize=True)
    assert got.dtype == np.result_type(p.dtype, q.dtype)
    assert np.isfinite(got) and got >= 0
    # the exact JSD is ~(p-q)^2 ~ 1e-30: anything but rounding noise is wrong
    assert got <= (1e-3 if p.dtype == np.float32 else 1e-7)
    if not np.isnan(sp):
        assert abs(float(got) - float(sp)) <= 1e-7
    div = fastinfo.js_divergence(p, q, normalize=True)
    assert np.isfinite(div) and div >= 0


def test_scipy_nan_cases_really_trigger_scipy_nan():
    # guards the relevance of the test above with the pinned SciPy: at least the
    # two published reproducers return NaN from SciPy.
    with np.errstate(invalid="ignore"):
        nan_count = sum(bool(np.isnan(jensenshannon(p, q))) for _, p, q in NAN_CASES)
    assert nan_count >= 2


def test_js_batch_with_scipy_nan_rows():
    # the same near-identical pairs as rows of one batch: no NaN anywhere
    p = np.stack([c[1].astype(np.float64) for c in NAN_CASES[2:]])
    q = np.stack([c[2].astype(np.float64) for c in NAN_CASES[2:]])
    got = fastinfo.js_divergence(p, q, distance=True, normalize=True, base=2)
    assert not np.any(np.isnan(got)) and np.all(got >= 0) and np.all(got <= 1e-7)


# --------------------------------------------------------------------------- surprisal
def test_surprisal_matches_minus_log_and_entr_identity():
    rng = np.random.default_rng(9)
    p = rand_dist(rng, (5, 30), zeros=0.2)
    p = p / p.sum(axis=-1, keepdims=True)
    s = fastinfo.surprisal(p)
    assert s.shape == p.shape
    with np.errstate(divide="ignore"):
        expected = -np.log(p)
    np.testing.assert_allclose(s, expected, rtol=1e-14, atol=1e-15)
    # sum p * surprisal = entropy (entr oracle), p == 0 terms dropped
    h = np.where(p > 0, p * np.where(p > 0, s, 0), 0).sum(axis=-1)
    np.testing.assert_allclose(h, scipy.special.entr(p).sum(axis=-1), rtol=1e-13)
