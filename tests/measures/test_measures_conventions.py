"""Every convention of the probability measures' API contract (entropy, cross_entropy,
kl_divergence, js_divergence, surprisal): axes, broadcasting, bases, normalize, empty and
zero/infinite entries, invalid input, dtypes, memory layouts, out=, n_threads, and edge values.

Expected values come from SciPy (entr, rel_entr, xlogy) and plain math; results
of one fastinfo call are compared with another only where the contract promises
equality (bitwise across n_threads, unchanged results for the valid rows with
invalid="nan", out= filling).
"""

import functools
import math
import threading

import numpy as np
import pytest
from helpers import (as_bits, assert_close, name_token, neglog, ref_cross_entropy, ref_entropy, ref_js,
                     ref_js_distance, ref_kl, ref_normalize, traced_peak)

import fastinfo

AxisError = np.exceptions.AxisError

# name -> (call(p, q, **kw), oracle(p, q, axis), takes q)
MEASURES = {
    "entropy": (lambda p, q, **kw: fastinfo.entropy(p, **kw), ref_entropy, False),
    "cross_entropy": (fastinfo.cross_entropy, ref_cross_entropy, True),
    "kl_divergence": (fastinfo.kl_divergence, ref_kl, True),
    "js_divergence": (fastinfo.js_divergence, ref_js, True),
    "js_distance": (lambda p, q, **kw: fastinfo.js_divergence(p, q, distance=True, **kw), ref_js_distance, True),
}
NAMES = list(MEASURES)
TWO_ARG = [n for n in NAMES if MEASURES[n][2]]


def call(name, p, q=None, **kw):
    """The measure `name` of p (and q); "surprisal" takes p only."""
    if name == "surprisal":
        return fastinfo.surprisal(p, **kw)
    return MEASURES[name][0](p, q, **kw)


def oracle(name, p, q=None, axis=-1):
    return MEASURES[name][1](p, q, axis=axis)


def rand(shape, seed=0, zeros=0.0, low=0.0):
    rng = np.random.default_rng(seed)
    x = rng.random(shape) + low
    if zeros:
        x[rng.random(shape) < zeros] = 0.0
    return x


# --------------------------------------------------------------------------- axis / keepdims / scalars
AXIS_CASES = [((3, 4, 5), ax) for ax in (0, 1, 2, -1, -2, -3)] + [((6, 7), 0), ((6, 7), -2), ((2, 3, 4, 5), 2)]


@pytest.mark.parametrize("shape,axis", AXIS_CASES, ids=[f"{'x'.join(map(str, s))}-ax{a}" for s, a in AXIS_CASES])
@pytest.mark.parametrize("name", NAMES)
def test_axis(name, shape, axis):
    p = rand(shape, seed=1, low=0.01)
    q = rand(shape, seed=2, low=0.01)
    got = call(name, p, q, axis=axis)
    expected_shape = tuple(np.delete(np.array(shape), axis))
    assert got.shape == expected_shape
    assert_close(got, oracle(name, p, q, axis=axis))


@pytest.mark.parametrize("axis", [0, 1, 2, -1], ids=lambda a: f"ax{a}")
@pytest.mark.parametrize("name", NAMES)
def test_keepdims(name, axis):
    p = rand((3, 4, 5), seed=3, low=0.01)
    q = rand((3, 4, 5), seed=4, low=0.01)
    got = call(name, p, q, axis=axis, keepdims=True)
    expected = np.expand_dims(oracle(name, p, q, axis=axis), axis)
    assert got.shape == expected.shape
    assert_close(got, expected)
    np.testing.assert_array_equal(got, np.expand_dims(call(name, p, q, axis=axis), axis))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", NAMES)
def test_one_dimensional_input_gives_numpy_scalar(name, dtype):
    p = rand(10, seed=5, low=0.1).astype(dtype)
    q = rand(10, seed=6, low=0.1).astype(dtype)
    got = call(name, p, q)
    assert type(got) is dtype  # np.float64 / np.float32, not a 0-d array
    assert_close(got, oracle(name, p, q), rtol=1e-13 if dtype is np.float64 else 2e-6)
    kept = call(name, p, q, keepdims=True)
    assert isinstance(kept, np.ndarray) and kept.shape == (1,) and kept.dtype == dtype


@pytest.mark.parametrize("shape,axis", [((4, 5), 2), ((4, 5), -3), ((5,), 1), ((5,), -2), ((2, 3, 4), 3)],
                         ids=["2d-ax2", "2d-ax-3", "1d-ax1", "1d-ax-2", "3d-ax3"])
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_axis_out_of_range_raises_axis_error(name, shape, axis):
    p = rand(shape, seed=7, low=0.1)
    with pytest.raises(AxisError):
        call(name, p, p, axis=axis)


# --------------------------------------------------------------------------- broadcasting
BROADCAST_CASES = [
    ("NK-vs-K", (6, 9), (9,), -1, (6,)),
    ("K-vs-NK", (9,), (6, 9), -1, (6,)),
    ("3x1xK-vs-4xK", (3, 1, 9), (4, 9), -1, (3, 4)),
    ("4xK-vs-3x1xK", (4, 9), (3, 1, 9), -1, (3, 4)),
    ("KxN-vs-Kx1-axis0", (9, 6), (9, 1), 0, (6,)),
    # a negative axis: with operands of different ndim it names the same axis of both
    ("2x1xKx3-vs-5xKx1-axis-2", (2, 1, 9, 3), (5, 9, 1), -2, (2, 5, 3)),
]


@pytest.mark.parametrize("case", BROADCAST_CASES, ids=[c[0] for c in BROADCAST_CASES])
@pytest.mark.parametrize("name", TWO_ARG)
def test_broadcasting(name, case):
    _, ps, qs, axis, out_shape = case
    p = rand(ps, seed=8, low=0.01)
    q = rand(qs, seed=9, low=0.01)
    got = call(name, p, q, axis=axis)
    assert got.shape == out_shape
    pb, qb = np.broadcast_arrays(p, q)
    assert_close(got, oracle(name, pb, qb, axis=axis))
    kw = dict(axis=axis, normalize=True)
    assert_close(call(name, p, q, **kw), oracle(name, ref_normalize(pb, axis), ref_normalize(qb, axis), axis=axis))


@pytest.mark.parametrize("name", TWO_ARG)
def test_broadcasting_does_not_materialize(name):
    # p (3,1,K) vs q (4,K): broadcasting by copying would allocate 12*K doubles per
    # argument (192 MB here). NumPy registers its data allocations with tracemalloc.
    k = 2_000_000
    p = rand((3, 1, k), seed=10, low=0.01)
    q = rand((4, k), seed=11, low=0.01)
    call(name, p[:, :, :16], q[:, :16])  # warm-up (lazy imports, dispatch)
    got, extra = traced_peak(lambda: call(name, p, q))
    assert got.shape == (3, 4)
    assert extra < q.nbytes // 2, f"allocated {extra / 1e6:.0f} MB"
    # spot-check values on two cells
    assert_close(got[2, 1], oracle(name, p[2, 0], q[1]), rtol=1e-12)
    assert_close(got[0, 3], oracle(name, p[0, 0], q[3]), rtol=1e-12)


def test_stride_zero_broadcast_view_input_no_copy():
    k = 3_000_000
    row = rand(k, seed=12, low=0.01)
    p = np.broadcast_to(row, (8, k))  # read-only, batch stride 0
    q = rand((8, k), seed=13, low=0.01)
    got, extra = traced_peak(lambda: fastinfo.kl_divergence(p, q))
    assert extra < row.nbytes // 2
    assert_close(got[5], ref_kl(row, q[5]), rtol=1e-12)


LENGTH_MISMATCH = [
    ("1d", (5,), (4,), -1),
    ("2d", (3, 5), (3, 4), -1),
    ("q-len1-along-axis", (3, 5), (3, 1), -1),
    ("p-len1-along-axis", (3, 1), (3, 5), -1),
    ("K-vs-NK", (4,), (3, 5), -1),
    ("axis0", (5, 3), (4, 3), 0),
    ("batch-not-broadcastable", (3, 5), (4, 5), -1),
]


@pytest.mark.parametrize("case", LENGTH_MISMATCH, ids=[c[0] for c in LENGTH_MISMATCH])
@pytest.mark.parametrize("name", TWO_ARG)
def test_length_mismatch_raises_value_error(name, case):
    _, ps, qs, axis = case
    with pytest.raises(ValueError):
        call(name, rand(ps, low=0.1), rand(qs, low=0.1), axis=axis)


# --------------------------------------------------------------------------- base
BAD_BASES = [0, 0.0, 1, 1.0, -2, -0.5, math.nan, math.inf, -math.inf, "2", "e", [2], object()]


@pytest.mark.parametrize("base", BAD_BASES, ids=[repr(b) for b in BAD_BASES[:-1]] + ["object()"])
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_invalid_base_raises_value_error(name, base):
    p = rand((3, 4), low=0.1)
    with pytest.raises(ValueError):
        call(name, p, p[::-1], base=base)


GOOD_BASES = [(2, "2"), (10, "10"), (2.0, "2.0"), (0.5, "0.5"), (math.e, "e"), (1.0001, "1.0001"),
              (np.float64(3.0), "np.float64(3)"), (np.int64(16), "np.int64(16)"), (np.float32(2.0), "np.float32(2)")]
# js_distance with a base < 1 would be the square root of a negative divergence:
# the contract does not say what that gives, so it is not tested.
BASE_CASES = [(n, b) for n in NAMES for b, _ in GOOD_BASES if not (n == "js_distance" and b < 1)]
BASE_IDS = [f"{n}-{i}" for n in NAMES for b, i in GOOD_BASES if not (n == "js_distance" and b < 1)]


@pytest.mark.parametrize("name,base", BASE_CASES, ids=BASE_IDS)
def test_valid_base_scales_by_log_base(name, base):
    p = rand((3, 7), seed=14, low=0.05)
    q = rand((3, 7), seed=15, low=0.05)
    got = call(name, p, q, base=base)
    assert got.dtype == np.float64
    nat = oracle(name, p, q)
    lb = math.log(float(base))
    expected = np.sqrt(ref_js(p, q) / lb) if name == "js_distance" else nat / lb
    assert_close(got, expected, rtol=1e-12)


def test_base_none_is_nats_and_base_e_matches():
    p = rand(50, seed=16, low=0.01)
    assert_close(fastinfo.entropy(p, base=None), ref_entropy(p))
    assert_close(fastinfo.entropy(p, base=math.e), ref_entropy(p))


# --------------------------------------------------------------------------- normalize
@pytest.mark.parametrize("name", NAMES)
def test_normalize_matches_divided_input(name):
    p = rand((5, 11), seed=17, zeros=0.2, low=0.0) * 37.0
    q = rand((5, 11), seed=18, low=0.01) * 0.01
    p[:, 0] += 1.0
    got = call(name, p, q, normalize=True)
    assert_close(got, oracle(name, ref_normalize(p), ref_normalize(q)), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_normalize_false_uses_values_as_passed(name):
    p = np.array([[2.0, 6.0], [0.25, 0.25]])
    q = np.array([[1.0, 3.0], [0.5, 0.125]])
    assert_close(call(name, p, q), oracle(name, p, q))


NAME_ARG = [(n, "p") for n in NAMES + ["surprisal"]] + [(n, "q") for n in TWO_ARG]
NAME_ARG_IDS = [f"{n}-{a}" for n, a in NAME_ARG]


@pytest.mark.parametrize("name,arg", NAME_ARG, ids=NAME_ARG_IDS)
def test_normalize_all_zero_distribution(name, arg):
    p = rand((4, 6), seed=19, low=0.1)
    q = rand((4, 6), seed=20, low=0.1)
    (p if arg == "p" else q)[2] = 0.0
    f = functools.partial(call, name)
    with pytest.raises(ValueError) as exc:
        f(p, q, normalize=True)
    msg = str(exc.value)
    assert "batch index (2,)" in msg
    assert name_token(msg, arg), msg
    r = f(p, q, normalize=True, invalid="nan")
    if name == "surprisal":
        assert np.all(np.isnan(r[2])) and not np.any(np.isnan(r[[0, 1, 3]]))
        assert_close(r[[0, 1, 3]], neglog(ref_normalize(p[[0, 1, 3]])))
    else:
        assert np.isnan(r[2]) and not np.any(np.isnan(r[[0, 1, 3]]))
        assert_close(r[[0, 1, 3]], oracle(name, ref_normalize(p[[0, 1, 3]]), ref_normalize(q[[0, 1, 3]])), rtol=1e-12)
    # without normalize an all-zero row is an ordinary input
    r = f(p, q)
    assert not np.any(np.isnan(r))


def test_normalize_all_zero_1d():
    with pytest.raises(ValueError, match=r"batch index \(\)"):
        fastinfo.entropy(np.zeros(5), normalize=True)
    assert np.isnan(fastinfo.entropy(np.zeros(5), normalize=True, invalid="nan"))
    assert fastinfo.entropy(np.zeros(5)) == 0.0


K1_SCALES = [5e-324, 1e-310, 1e-300, 2.0**-900, 1e-3, 1.0, 56.0, 1e300, 1.7e308]


@pytest.mark.parametrize("q_scale", K1_SCALES, ids=lambda s: f"q{s:.0e}")
@pytest.mark.parametrize("p_scale", [5e-324, 1.0, 56.0, 1e300], ids=lambda s: f"p{s:.0e}")
def test_normalize_single_element_distributions_give_zero(p_scale, q_scale):
    # any positive single-element row normalizes to [1]: every measure is 0
    # (surprisal of the element too), whatever the scale
    p, q = np.array([p_scale]), np.array([q_scale])
    tol = 4 * np.finfo(float).eps
    for name in NAMES:
        r = call(name, p, q, normalize=True)
        assert abs(r) <= (math.sqrt(tol) if name == "js_distance" else tol), (name, r)
    assert abs(fastinfo.surprisal(q, normalize=True)[0]) <= tol


def test_normalize_subnormal_and_huge_sums():
    # valid, finite, nonnegative rows whose sums are subnormal or overflow: the
    # contract's only invalid inputs are negative/NaN/inf entries and all-zero rows.
    ln2 = math.log(2)
    for row in ([5e-324, 5e-324], [1e-309, 1e-309], [1e308, 1e308], [1.5e308, 1.5e308]):
        p = np.array(row)
        h = fastinfo.entropy(p, normalize=True)
        assert abs(h - ln2) <= 1e-13, (row, h)
        assert_close(fastinfo.surprisal(p, normalize=True), [ln2, ln2], rtol=1e-13)
        assert_close(fastinfo.js_divergence(np.array([1.0, 0.0]), p, normalize=True), ref_js([1.0, 0.0], [0.5, 0.5]))
        assert_close(fastinfo.kl_divergence(np.array([1.0, 0.5]), p, normalize=True),
                     ref_kl([2 / 3, 1 / 3], [0.5, 0.5]))
        assert_close(fastinfo.cross_entropy(np.array([1.0, 0.5]), p, normalize=True), ln2)
    # sums whose ratio is outside the float range
    assert_close(fastinfo.kl_divergence(np.array([1e60, 0.0]), np.array([1e-300, 1e-300]), normalize=True), ln2)
    assert np.isposinf(fastinfo.kl_divergence(np.array([1e-300, 1e-300]), np.array([1e60, 0.0]), normalize=True))
    assert_close(fastinfo.cross_entropy(np.array([1e300, 0.0]), np.array([1e-300, 1e-300]), normalize=True), ln2)
    assert_close(fastinfo.js_divergence(np.array([1e300, 0.0]), np.array([1e-300, 1e-300]), normalize=True),
          ref_js([1.0, 0.0], [0.5, 0.5]))
    # q normalizes to [1, 0]: p's second entry meets q == 0 -> +inf (not 0)
    q = np.array([5e-324, 0.0])
    assert np.isposinf(fastinfo.kl_divergence(np.array([0.0, 2.0]), q, normalize=True))
    assert_close(fastinfo.js_divergence(np.array([0.0, 2.0]), q, normalize=True), ln2)


# --------------------------------------------------------------------------- empty
@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalize"])
@pytest.mark.parametrize("name", NAMES)
def test_empty_distribution_axis_gives_zero(name, normalize):
    r = call(name, np.zeros((3, 0)), np.zeros((3, 0)), normalize=normalize)
    assert r.shape == (3,) and r.dtype == np.float64
    assert np.all(r == 0.0)
    r1 = call(name, np.zeros(0), np.zeros(0), normalize=normalize)
    assert type(r1) is np.float64 and r1 == 0.0
    r32 = call(name, np.zeros((2, 0), np.float32), np.zeros((2, 0), np.float32), normalize=normalize)
    assert r32.dtype == np.float32 and np.all(r32 == 0)
    r0 = call(name, np.zeros((0, 4, 0)), np.zeros((0, 4, 0)), normalize=normalize, axis=1)
    assert r0.shape == (0, 0)
    rk = call(name, np.zeros((3, 0)), np.zeros((3, 0)), normalize=normalize, keepdims=True)
    assert rk.shape == (3, 1) and np.all(rk == 0)


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch(name):
    r = call(name, np.zeros((0, 5)), np.zeros((0, 5)))
    assert r.shape == (0,) and r.dtype == np.float64


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4)], ids=["0", "3x0", "0x4"])
@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalize"])
def test_surprisal_of_empty_is_empty(shape, normalize):
    r = fastinfo.surprisal(np.zeros(shape), normalize=normalize)
    assert isinstance(r, np.ndarray) and r.shape == shape and r.dtype == np.float64


# --------------------------------------------------------------------------- zero / inf conventions
def test_zero_p_terms_are_exactly_zero_whatever_q():
    assert fastinfo.entropy(np.array([0.0, 1.0, 0.0])) == 0.0
    assert fastinfo.entropy(np.array([0.0, 0.0])) == 0.0
    assert fastinfo.cross_entropy(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    assert fastinfo.cross_entropy(np.array([0.0, 1.0]), np.array([1e-300, 1.0])) == 0.0
    assert fastinfo.kl_divergence(np.array([0.0, 0.5, 0.5]), np.array([0.0, 0.5, 0.5])) == 0.0
    assert fastinfo.kl_divergence(np.array([0.0, 1.0]), np.array([0.7, 1.0])) == 0.0
    assert fastinfo.kl_divergence(np.array([0.0, 1.0]), np.array([5e-324, 1.0])) == 0.0
    # both normalize to [0, 1]: zero up to rounding of the normalization
    kl_n = fastinfo.kl_divergence(np.array([0.0, 2.0]), np.array([0.0, 5.0]), normalize=True)
    assert 0.0 <= kl_n <= 4 * np.finfo(float).eps
    assert fastinfo.js_divergence(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    assert fastinfo.js_divergence(np.array([0.0, 3.0]), np.array([0.0, 1.0]), normalize=True, distance=True) == 0.0
    # -0.0 is a zero, not a negative probability
    assert fastinfo.entropy(np.array([-0.0, 1.0])) == 0.0
    assert fastinfo.kl_divergence(np.array([-0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    # ln 2 from two exact halves (a few ulp of log allowed)
    ce = fastinfo.cross_entropy(np.array([0.0, 0.5, 0.5]), np.array([0.0, 0.5, 0.5]))
    assert abs(ce - math.log(2)) <= 4 * np.finfo(float).eps


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kw", [{}, {"normalize": True}, {"base": 2}], ids=["plain", "normalize", "bits"])
def test_q_zero_with_positive_p_is_plus_inf(kw, dtype):
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0], [1.0, 0.0, 0.0]], dtype)
    q = np.array([[1.0, 0.0, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]], dtype)
    for f in (fastinfo.cross_entropy, fastinfo.kl_divergence):
        r = f(p, q, **kw)
        assert r.dtype == dtype
        assert np.isposinf(r[0]) and np.isposinf(r[2]) and np.isfinite(r[1]), (f.__name__, r)
    js = fastinfo.js_divergence(p, q, **kw)
    assert np.all(np.isfinite(js)) and np.all(js >= 0)
    # disjoint supports: exactly ln 2 (1 bit) up to rounding, never above
    top = 1.0 if kw.get("base") == 2 else math.log(2)
    assert abs(js[2] - top) <= 4 * np.finfo(dtype).eps and js[2] <= np.array(top, dtype)


def test_extreme_ratios_never_nan():
    # p/q can underflow (p subnormal, q > 1) or overflow (q subnormal): whatever the
    # value of such a term, a row that also has q == 0 < p is +inf (contract), and
    # valid input never gives NaN (NaN is reserved for invalid distributions).
    p = np.array([5e-324, 5e-324])
    q = np.array([0.0, 2.0])
    assert np.isposinf(fastinfo.kl_divergence(p, q))
    assert np.isposinf(fastinfo.cross_entropy(p, q))
    assert np.isposinf(fastinfo.kl_divergence(np.array([1e300, 1.0]), np.array([1e-300, 0.0])))
    under = fastinfo.kl_divergence(np.array([5e-324]), np.array([2.0]))  # exact: -3.7e-321
    over = fastinfo.kl_divergence(np.array([1.0]), np.array([1e-310]))  # exact: 713.8
    assert not np.isnan(under) and under <= 0
    assert not np.isnan(over) and over > 700
    js = fastinfo.js_divergence(np.array([1e300, 5e-324]), np.array([5e-324, 1e300]))
    assert np.isfinite(js) and abs(js - 1e300 * math.log(2)) <= 1e-12 * 1e300


def test_js_huge_values_stay_finite():
    # "JS is always finite for any nonnegative input": m = (p+q)/2 must not overflow
    p = np.array([1.5e308, 1e308, 0.0])
    q = np.array([1.5e308, 0.0, 1e308])
    r = fastinfo.js_divergence(p, q)
    assert np.isfinite(r) and r >= 0
    expected = 0.5 * (1e308 * math.log(2) + 1e308 * math.log(2))
    assert abs(r - expected) <= 1e-12 * expected
    assert fastinfo.js_divergence(p, p) == 0.0
    tiny = np.array([5e-324, 5e-324])
    assert fastinfo.js_divergence(tiny, tiny) == 0.0
    assert np.isfinite(fastinfo.js_divergence(tiny, np.array([5e-324, 0.0])))


# --------------------------------------------------------------------------- invalid
BAD_VALUES = [-1.0, -1e-300, math.nan, math.inf, -math.inf]
BAD_IDS = ["neg", "tiny-neg", "nan", "inf", "-inf"]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=BAD_IDS)
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_invalid_raise_message_batch_index_and_argument(name, bad):
    p = rand((2, 3, 6), seed=21, low=0.1)
    p[1, 0, 4] = bad
    p[0, 2, 1] = bad  # first offending distribution in C order: (0, 2)
    q = rand((2, 3, 6), seed=22, low=0.1)
    f = functools.partial(call, name)
    with pytest.raises(ValueError) as exc:
        f(p, q)
    msg_p = str(exc.value)
    assert "batch index (0, 2)" in msg_p, msg_p
    assert name_token(msg_p, "p"), msg_p
    if not MEASURES.get(name, (None, None, False))[2]:
        return
    with pytest.raises(ValueError) as exc:
        f(q, p)  # now the bad values are in q
    msg_q = str(exc.value)
    assert "batch index (0, 2)" in msg_q, msg_q
    assert name_token(msg_q, "q"), msg_q
    assert msg_p != msg_q


@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_invalid_raise_1d_has_empty_batch_index(name):
    p = np.array([0.5, -0.25, 0.75])
    f = functools.partial(call, name)
    with pytest.raises(ValueError, match=r"batch index \(\)"):
        f(p, np.full(3, 1 / 3))
    if MEASURES.get(name, (None, None, False))[2]:
        with pytest.raises(ValueError, match=r"batch index \(\)") as exc:
            f(np.full(3, 1 / 3), np.array([0.5, np.nan, 0.5]))
        assert name_token(str(exc.value), "q")


def test_invalid_raise_batch_index_other_axes():
    p = rand((6, 4), seed=23, low=0.1)
    p[2, 3] = -1.0  # axis=0: distributions are columns; column 3 is bad
    p[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"batch index \(1,\)"):
        fastinfo.entropy(p, axis=0)
    with pytest.raises(ValueError, match=r"batch index \(2,\)"):
        fastinfo.entropy(p, axis=1)
    p3 = rand((3, 5, 4), seed=24, low=0.1)
    p3[2, 1, 0] = np.inf  # axis=1: batch index (2, 0)
    with pytest.raises(ValueError, match=r"batch index \(2, 0\)"):
        fastinfo.entropy(p3, axis=1)
    with pytest.raises(ValueError, match=r"batch index \(2, 0\)"):
        fastinfo.entropy(p3, axis=1, keepdims=True)


def test_invalid_raise_batch_index_with_broadcasting():
    k = 5
    p = rand((3, 1, k), seed=25, low=0.1)
    q = rand((4, k), seed=26, low=0.1)
    q[2, 1] = -0.5  # offends in every (i, 2): first is (0, 2)
    with pytest.raises(ValueError, match=r"batch index \(0, 2\)") as exc:
        fastinfo.kl_divergence(p, q)
    assert name_token(str(exc.value), "q")
    r = fastinfo.kl_divergence(p, q, invalid="nan")
    assert r.shape == (3, 4)
    assert np.all(np.isnan(r[:, 2])) and not np.any(np.isnan(r[:, [0, 1, 3]]))
    assert_close(r[1, 3], ref_kl(p[1, 0], q[3]))
    p[1, 0, 0] = np.nan
    q[2, 1] = 0.5
    with pytest.raises(ValueError, match=r"batch index \(1, 0\)") as exc:
        fastinfo.js_divergence(p, q)
    assert name_token(str(exc.value), "p")


@pytest.mark.parametrize("name", TWO_ARG)
def test_invalid_q_where_p_is_zero_still_invalid(name):
    # the p == 0 convention applies to valid q; a NaN/negative q is invalid input
    p = np.array([[0.0, 1.0], [0.5, 0.5]])
    q = np.array([[np.nan, 1.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"batch index \(0,\)"):
        call(name, p, q)
    r = call(name, p, q, invalid="nan")
    assert np.isnan(r[0])
    assert_close(r[1], oracle(name, p[1], q[1]))


@pytest.mark.parametrize("bad", BAD_VALUES, ids=BAD_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_invalid_nan_only_bad_distributions(name, bad):
    p = rand((6, 5), seed=27, zeros=0.2, low=0.0)
    q = rand((6, 5), seed=28, low=0.05)
    p[:, 0] += 0.5
    p[1, 3] = bad
    if MEASURES[name][2]:
        q[4, 0] = bad
    bad_rows = [1, 4] if MEASURES[name][2] else [1]
    good = [i for i in range(6) if i not in bad_rows]
    for normalize in (False, True):
        r = call(name, p, q, invalid="nan", normalize=normalize)
        assert r.shape == (6,)
        assert np.all(np.isnan(r[bad_rows]))
        assert not np.any(np.isnan(r[good]))
        pg, qg = p[good], q[good]
        if normalize:
            pg, qg = ref_normalize(pg), ref_normalize(qg)
        assert_close(r[good], oracle(name, pg, qg), rtol=1e-12)


@pytest.mark.parametrize("invalid", ["ignore", "warn", "", "NaN ", None], ids=repr)
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_unknown_invalid_value_raises(name, invalid):
    p = rand((2, 3), low=0.1)  # valid data: the option itself is rejected
    with pytest.raises(ValueError):
        call(name, p, p, invalid=invalid)


# --------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    p = rand((4, 50), seed=29, low=0.01).astype(np.float32)
    q = rand((4, 50), seed=30, low=0.01).astype(np.float32)
    r = call(name, p, q)
    assert r.dtype == np.float32
    assert_close(r, oracle(name, p.astype(np.float64), q.astype(np.float64)), rtol=2e-6, atol=1e-7)
    r1 = call(name, p[0], q[0])
    assert type(r1) is np.float32


@pytest.mark.parametrize("order", ["f32-f64", "f64-f32"])
@pytest.mark.parametrize("name", TWO_ARG)
def test_mixed_float32_float64_gives_float64(name, order):
    p = rand((4, 50), seed=31, low=0.01)
    q = rand((4, 50), seed=32, low=0.01)
    p = p.astype(np.float32) if order == "f32-f64" else p
    q = q.astype(np.float32) if order == "f64-f32" else q
    r = call(name, p, q)
    assert r.dtype == np.float64
    # computed in float64 from the (exactly promoted) float32 values
    assert_close(r, oracle(name, p.astype(np.float64), q.astype(np.float64)), rtol=1e-12)
    assert type(call(name, p[0], q[0])) is np.float64


NONFLOAT_DTYPES = [np.int64, np.int32, np.uint8, np.int8, np.bool_]


@pytest.mark.parametrize("name", NAMES)
def test_float16_computed_as_float32(name):
    # 2-byte floats (float16, bfloat16) are computed in float32, as PyTorch and JAX users expect
    rng = np.random.default_rng(34)
    p = rng.random((5, 8)).astype(np.float16)
    q = (rng.random((5, 8)) + 0.1).astype(np.float16)
    r = call(name, p, q, normalize=True)
    assert r.dtype == np.float32
    assert_close(r, oracle(name, ref_normalize(p.astype(np.float64)), ref_normalize(q.astype(np.float64))),
                 rtol=1e-5, atol=1e-6)
    assert type(call(name, p[0], q[0], normalize=True)) is np.float32


@pytest.mark.parametrize("dtype", NONFLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", NAMES)
def test_integer_bool_computed_as_float64(name, dtype):
    rng = np.random.default_rng(33)
    if dtype is np.bool_:
        p = rng.random((5, 8)) < 0.6
        q = np.ones((5, 8), bool)
        p[:, 0] = True
    else:
        p = rng.integers(0, 50, (5, 8)).astype(dtype)
        q = rng.integers(1, 50, (5, 8)).astype(dtype)
        p[:, 0] += 1
    r = call(name, p, q, normalize=True)
    assert r.dtype == np.float64
    assert_close(r, oracle(name, ref_normalize(p.astype(np.float64)), ref_normalize(q.astype(np.float64))), rtol=1e-12)
    assert type(call(name, p[0], q[0], normalize=True)) is np.float64
    if MEASURES[name][2]:  # mixed with float32 -> float64 as well
        r = call(name, p, q.astype(np.float32), normalize=True)
        assert r.dtype == np.float64


@pytest.mark.parametrize("dtype", NONFLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_surprisal_nonfloat_dtypes(dtype):
    p = np.array([[1, 0, 1, 1], [0, 1, 1, 0]]).astype(dtype)
    r = fastinfo.surprisal(p, normalize=True)
    assert r.dtype == np.float64 and r.shape == p.shape
    assert_close(r, neglog(ref_normalize(p.astype(np.float64))))


def test_int_negative_values_are_invalid():
    with pytest.raises(ValueError, match=r"batch index \(1,\)"):
        fastinfo.entropy(np.array([[1, 2], [3, -1]], dtype=np.int64), normalize=True)


BAD_DTYPE_INPUTS = {
    "complex128": lambda: np.array([0.5 + 0j, 0.5]),
    "complex64": lambda: np.array([0.5, 0.5], dtype=np.complex64),
    "object-floats": lambda: np.array([0.5, 0.5], dtype=object),
    "str": lambda: np.array(["0.5", "0.5"]),
    "list-of-str": lambda: ["a", "b"],
    "bytes": lambda: np.array([b"a", b"b"]),
}


@pytest.mark.parametrize("kind", list(BAD_DTYPE_INPUTS))
@pytest.mark.parametrize("name,arg", NAME_ARG, ids=NAME_ARG_IDS)
def test_complex_object_str_raise_type_error(name, arg, kind):
    bad = BAD_DTYPE_INPUTS[kind]()
    good = np.array([0.5, 0.5])
    with pytest.raises(TypeError):
        if arg == "p":
            call(name, bad, good)
        else:
            call(name, good, bad)


@pytest.mark.parametrize("name", NAMES)
def test_python_lists_accepted(name):
    p = [[0.25, 0.75], [0.5, 0.5]]
    q = [[0.5, 0.5], [0.1, 0.9]]
    r = call(name, p, q)
    assert isinstance(r, np.ndarray) and r.dtype == np.float64
    assert_close(r, oracle(name, np.array(p), np.array(q)))
    r1 = call(name, [0.25, 0.75], [0.5, 0.5])
    assert type(r1) is np.float64
    r_int = call(name, [1, 3], [1, 1], normalize=True)
    assert_close(r_int, oracle(name, np.array([0.25, 0.75]), np.array([0.5, 0.5])))


@pytest.mark.parametrize("scalar", [0.5, np.float64(0.5), np.array(0.5), 1, np.float32(1.0)],
                         ids=["float", "np.float64", "0d-array", "int", "np.float32"])
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_zero_dimensional_input_raises_value_error(name, scalar):
    with pytest.raises(ValueError):
        call(name, scalar, scalar)


def test_non_native_byte_order_float64():
    # '>f8' is float64 (just not in native byte order): values must be read right
    p = rand((3, 9), seed=34, low=0.01)
    q = rand((3, 9), seed=35, low=0.01)
    swapped = p.astype(p.dtype.newbyteorder())
    r = fastinfo.kl_divergence(swapped, q)
    assert r.dtype.kind == "f" and r.dtype.itemsize == 8
    assert_close(r, ref_kl(p, q))
    assert_close(fastinfo.entropy(swapped), ref_entropy(p))


# --------------------------------------------------------------------------- layouts
def _layouts(tmp_path, dtype):
    """Arrays of shape (40, 33) and `dtype` in every memory layout."""
    base = rand((40, 33), seed=36, zeros=0.1, low=0.01).astype(dtype)
    big = rand((80, 100), seed=37, low=0.01).astype(dtype)
    big[::2, :99:3] = base
    ro = base.copy()
    ro.flags.writeable = False
    mm_path = tmp_path / f"p_{np.dtype(dtype).name}.dat"
    mm = np.memmap(mm_path, dtype=dtype, mode="w+", shape=base.shape)
    mm[:] = base
    mm.flush()
    del mm
    buf = bytearray(base.nbytes + 1)
    unaligned = np.frombuffer(buf, dtype=dtype, count=base.size, offset=1).reshape(base.shape)
    assert not unaligned.flags.aligned
    unaligned[...] = base  # bytearray-backed: writable
    fortran_big = np.asfortranarray(big)
    lay = {
        "C": base.copy(),
        "F": np.asfortranarray(base),
        "rows-step2-cols-step3": big[::2, :99:3],
        "neg-rows": base[::-1].copy()[::-1],
        "neg-cols": np.ascontiguousarray(base[:, ::-1])[:, ::-1],
        "neg-both-F-strided": fortran_big[78::-2, 96::-3],
        "transposed-view": np.ascontiguousarray(base.T).T,
        "readonly": ro,
        "memmap-r": np.memmap(mm_path, dtype=dtype, mode="r", shape=base.shape),
        "memmap-c": np.memmap(mm_path, dtype=dtype, mode="c", shape=base.shape),
        "broadcast-batch": np.broadcast_to(big[1, :33], base.shape),  # no zeros: columns stay valid
        "broadcast-scalar": np.broadcast_to(np.asarray(0.03, dtype), base.shape),
        "unaligned": unaligned,
        "3d-middle-slice": np.stack([big, big, big], axis=1)[::2, 1, :99:3],
    }
    assert all(a.shape == base.shape and a.dtype == dtype for a in lay.values())
    return lay


LAYOUT_NAMES = ["C", "F", "rows-step2-cols-step3", "neg-rows", "neg-cols", "neg-both-F-strided",
                "transposed-view", "readonly", "memmap-r", "memmap-c", "broadcast-batch",
                "broadcast-scalar", "unaligned", "3d-middle-slice"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_every_layout(name, layout, dtype, tmp_path):
    lay = _layouts(tmp_path, dtype)
    p = lay[layout]
    q = lay["F"][::-1]  # q in another layout (negative-stride Fortran)
    pc, qc = np.array(p, dtype=np.float64), np.array(q, dtype=np.float64)
    before = np.array(p)
    rtol, atol = (1e-12, 1e-15) if dtype is np.float64 else (2e-6, 1e-7)
    for axis in (-1, 0):
        if name == "surprisal":
            r = fastinfo.surprisal(p, axis=axis)
            assert r.dtype == dtype and r.shape == p.shape
            assert_close(r, neglog(pc), rtol=rtol, atol=atol)
            r = fastinfo.surprisal(p, normalize=True, axis=axis)
            assert_close(r, neglog(ref_normalize(pc, axis)), rtol=rtol, atol=atol)
            continue
        r = call(name, p, q, axis=axis)
        assert r.dtype == dtype
        assert_close(r, oracle(name, pc, qc, axis=axis), rtol=rtol, atol=atol)
        assert_close(call(name, p, q, axis=axis, normalize=True),
              oracle(name, ref_normalize(pc, axis), ref_normalize(qc, axis), axis=axis), rtol=rtol, atol=atol)
        if MEASURES[name][2]:  # the layout on the q side too
            assert_close(call(name, q, p, axis=axis), oracle(name, qc, pc, axis=axis), rtol=rtol, atol=atol)
    np.testing.assert_array_equal(np.array(p), before)


# --------------------------------------------------------------------------- inputs never modified
@pytest.mark.parametrize("invalid", ["raise", "nan"])
@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalize"])
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_inputs_never_modified(name, normalize, invalid):
    p = rand((5, 12), seed=38, zeros=0.2, low=0.0) * 3.0
    q = rand((5, 12), seed=39, zeros=0.1, low=0.0) * 0.5
    p[:, 0] += 1
    q[:, 0] += 1
    if invalid == "nan":
        p[2, 4] = -1.0
        q[3, 5] = np.nan
        q[4] = 0.0
    pf = np.asfortranarray(p)
    p0, q0, pf0 = p.copy(), q.copy(), pf.copy()
    out_shape = p.shape if name == "surprisal" else (5,)
    out = np.empty(out_shape)
    for args in ((p, q), (pf, q[::-1]), (p[:, ::-1], pf)):
        kw = dict(normalize=normalize, invalid=invalid)
        if name == "surprisal":
            fastinfo.surprisal(args[0], **kw)
            fastinfo.surprisal(args[0], out=out, **kw)
        else:
            call(name, *args, **kw)
            call(name, *args, out=out, **kw)
    assert np.array_equal(p, p0, equal_nan=True)
    assert np.array_equal(q, q0, equal_nan=True)
    assert np.array_equal(pf, pf0, equal_nan=True)
    assert p.flags.writeable and pf.flags.f_contiguous and p.flags.c_contiguous


@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_read_only_inputs_work(name):
    p = rand((4, 10), seed=40, low=0.01)
    q = rand((4, 10), seed=41, low=0.01)
    p.flags.writeable = False
    q.flags.writeable = False
    for normalize in (False, True):
        if name == "surprisal":
            r = fastinfo.surprisal(p, normalize=normalize)
            assert_close(r, -np.log(ref_normalize(p) if normalize else p))
        else:
            r = call(name, p, q, normalize=normalize)
            pp, qq = (ref_normalize(p), ref_normalize(q)) if normalize else (p, q)
            assert_close(r, oracle(name, pp, qq))


# --------------------------------------------------------------------------- out=
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", NAMES)
def test_out_filled_and_returned(name, dtype):
    p = rand((6, 9), seed=42, low=0.01).astype(dtype)
    q = rand((6, 9), seed=43, low=0.01).astype(dtype)
    out = np.full(6, -7.0, dtype=dtype)
    r = call(name, p, q, out=out)
    assert r is out
    rtol = 1e-13 if dtype is np.float64 else 2e-6
    assert_close(out, oracle(name, p.astype(np.float64), q.astype(np.float64)), rtol=rtol, atol=1e-7)
    # keepdims shape
    out_k = np.empty((6, 1), dtype=dtype)
    assert call(name, p, q, keepdims=True, out=out_k) is out_k
    np.testing.assert_array_equal(out_k[:, 0], out)
    # axis=0 of a 3-D array
    p3 = rand((9, 2, 3), seed=44, low=0.01).astype(dtype)
    out3 = np.empty((2, 3), dtype=dtype)
    assert call(name, p3, p3[::-1], axis=0, out=out3) is out3
    assert_close(out3, oracle(name, p3.astype(np.float64), p3[::-1].astype(np.float64), axis=0), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_out_for_1d_input_is_0d(name):
    p = rand(9, seed=45, low=0.01)
    q = rand(9, seed=46, low=0.01)
    out = np.empty(())
    r = call(name, p, q, out=out)
    assert r is out
    assert_close(out[()], oracle(name, p, q))
    with pytest.raises(ValueError):
        call(name, p, q, out=np.empty(1))


@pytest.mark.parametrize("name", NAMES)
def test_out_non_contiguous(name):
    p = rand((7, 9), seed=47, low=0.01)
    q = rand((7, 9), seed=48, low=0.01)
    buf = np.full(21, -7.0)
    out = buf[::3]
    assert not out.flags.c_contiguous
    r = call(name, p, q, out=out)
    assert r is out
    assert_close(buf[::3], oracle(name, p, q))
    assert np.all(buf[1::3] == -7.0) and np.all(buf[2::3] == -7.0)
    buf2 = np.full((4, 6), -7.0)  # 2-D non-contiguous, reversed
    out2 = buf2[::-2, ::2]
    p3 = rand((2, 3, 9), seed=49, low=0.01)
    assert call(name, p3, p3[:, ::-1], out=out2) is out2
    assert_close(out2, oracle(name, p3, p3[:, ::-1]))
    assert np.all(buf2[::2] == -7.0) and np.all(buf2[:, 1::2] == -7.0)


@pytest.mark.parametrize("shape", [(7,), (5, 1), (1, 6), (6, 1), ()], ids=["7", "5x1", "1x6", "6x1-nokeepdims", "0d"])
@pytest.mark.parametrize("name", NAMES)
def test_out_wrong_shape_value_error(name, shape):
    p = rand((6, 9), seed=50, low=0.01)
    with pytest.raises(ValueError):
        call(name, p, p[::-1], out=np.empty(shape))


@pytest.mark.parametrize("in_dtype,out_dtype", [(np.float64, np.float32), (np.float32, np.float64),
                                                (np.float64, np.int64), (np.float64, np.complex128),
                                                (np.float64, np.float16)],
                         ids=["f64->f32", "f32->f64", "f64->i8", "f64->c16", "f64->f2"])
@pytest.mark.parametrize("name", NAMES)
def test_out_wrong_dtype_type_error(name, in_dtype, out_dtype):
    p = rand((6, 9), seed=51, low=0.01).astype(in_dtype)
    with pytest.raises(TypeError):
        call(name, p, p[::-1], out=np.empty(6, dtype=out_dtype))


def test_out_with_invalid_nan_and_surprisal():
    p = rand((3, 4), seed=52, low=0.01)
    p[1, 2] = -1
    out = np.empty(3)
    assert fastinfo.entropy(p, invalid="nan", out=out) is out
    assert np.isnan(out[1]) and not np.isnan(out[[0, 2]]).any()
    s_out = np.empty((3, 4))
    assert fastinfo.surprisal(p, invalid="nan", out=s_out) is s_out
    assert np.all(np.isnan(s_out[1]))
    assert_close(s_out[[0, 2]], -np.log(p[[0, 2]]))
    s_nc = np.empty((3, 8))[:, ::2]
    assert fastinfo.surprisal(p[[0, 2, 0]], out=s_nc) is s_nc
    assert_close(s_nc, -np.log(p[[0, 2, 0]]))
    ok = np.abs(p)  # valid input, so only `out` can be wrong
    with pytest.raises(ValueError):
        fastinfo.surprisal(ok, out=np.empty(3))
    with pytest.raises(ValueError):
        fastinfo.surprisal(ok, out=np.empty((4, 3)))
    with pytest.raises(TypeError):
        fastinfo.surprisal(ok, out=np.empty((3, 4), np.float32))
    with pytest.raises(TypeError):
        fastinfo.surprisal(ok.astype(np.float32), out=np.empty((3, 4)))


# --------------------------------------------------------------------------- n_threads
@pytest.fixture(scope="module")
def big_inputs():
    rng = np.random.default_rng(53)
    p = rng.random((2000, 3000))
    q = rng.random((2000, 3000))
    p[rng.random(p.shape) < 0.05] = 0.0
    long_p = rng.random(3_000_000)
    long_q = rng.random(3_000_000)
    return p, q, long_p, long_q


THREAD_SETTINGS = [None, 1, 2, 3]


@pytest.mark.parametrize("name", NAMES)
def test_n_threads_bitwise_identical_batch(name, big_inputs):
    p, q, _, _ = big_inputs
    results = [call(name, p, q, n_threads=n) for n in THREAD_SETTINGS]
    for n, r in zip(THREAD_SETTINGS[1:], results[1:]):
        assert np.array_equal(as_bits(r), as_bits(results[0])), f"n_threads={n} differs from None"
    idx = [0, 1234, 1999]
    assert_close(results[0][idx], oracle(name, p[idx], q[idx]), rtol=1e-12)


@pytest.mark.parametrize("shape", [(3_000_000,), (1, 3_000_000), (2, 1_500_000)], ids=["1d-3e6", "1x3e6", "2x1.5e6"])
@pytest.mark.parametrize("name", NAMES)
def test_n_threads_bitwise_identical_long_rows(name, shape, big_inputs):
    # batches no larger than the thread count: a row must be split across threads
    # (or not) without changing a single bit
    _, _, lp, lq = big_inputs
    p, q = lp.reshape(shape), lq.reshape(shape)
    results = [call(name, p, q, n_threads=n) for n in THREAD_SETTINGS]
    for n, r in zip(THREAD_SETTINGS[1:], results[1:]):
        assert np.array_equal(as_bits(r), as_bits(results[0])), f"n_threads={n}"
    if len(shape) == 1:
        assert type(results[0]) is np.float64
    assert_close(np.ravel(results[0])[0], oracle(name, p.reshape(-1, shape[-1])[0], q.reshape(-1, shape[-1])[0]),
                 rtol=1e-11)


@pytest.mark.parametrize("variant", ["f32", "normalize-bits", "axis0", "surprisal", "invalid-nan"])
def test_n_threads_bitwise_identical_variants(variant, big_inputs):
    p, q, lp, _ = big_inputs
    if variant == "f32":
        p32, q32 = p.astype(np.float32), q.astype(np.float32)
        runs = [(fastinfo.kl_divergence, (p32, q32), {}), (fastinfo.entropy, (lp.astype(np.float32),), {}),
                (fastinfo.js_divergence, (p32, q32), {"distance": True})]
    elif variant == "normalize-bits":
        runs = [(fastinfo.cross_entropy, (p, q), {"normalize": True, "base": 2}),
                (fastinfo.entropy, (lp,), {"normalize": True, "base": 10})]
    elif variant == "axis0":
        runs = [(fastinfo.entropy, (p,), {"axis": 0}), (fastinfo.kl_divergence, (p, q), {"axis": 0})]
    elif variant == "surprisal":
        runs = [(fastinfo.surprisal, (p[:500],), {"normalize": True})]
    else:
        pb = p[:700].copy()
        pb[::7, 5] = -1.0
        runs = [(fastinfo.entropy, (pb,), {"invalid": "nan", "normalize": True})]
    for f, args, kw in runs:
        results = [f(*args, n_threads=n, **kw) for n in THREAD_SETTINGS]
        for n, r in zip(THREAD_SETTINGS[1:], results[1:]):
            assert np.array_equal(as_bits(r), as_bits(results[0])), (variant, f.__name__, n)


def test_long_rows_strided_broadcast_and_invalid_across_threads(big_inputs):
    # rows long enough to be split across threads: strided and broadcast operands,
    # and an offending value near the end of a row must still be found
    _, _, lp, lq = big_inputs
    buf = np.empty(2 * lp.size)
    buf[::2] = lp
    strided = buf[::2]
    two = np.broadcast_to(lq, (2, lq.size))
    for n in THREAD_SETTINGS:
        r = fastinfo.kl_divergence(strided, lq, n_threads=n)
        assert_close(r, ref_kl(lp, lq), rtol=1e-11)
        rb = fastinfo.js_divergence(lp[None, :], two, n_threads=n)
        assert rb.shape == (2,) and rb[0] == rb[1]
    bad = lp.copy()
    bad[-1] = np.nan
    for n in THREAD_SETTINGS:
        with pytest.raises(ValueError, match=r"batch index \(\)"):
            fastinfo.entropy(bad, n_threads=n)
        assert np.isnan(fastinfo.entropy(bad, invalid="nan", n_threads=n))
    b2 = lp.reshape(2, -1).copy()
    b2[1, -2] = -1.0
    for n in THREAD_SETTINGS:
        with pytest.raises(ValueError, match=r"batch index \(1,\)"):
            fastinfo.cross_entropy(lq.reshape(2, -1), b2, n_threads=n)
        r = fastinfo.cross_entropy(lq.reshape(2, -1), b2, invalid="nan", n_threads=n)
        assert np.isfinite(r[0]) and np.isnan(r[1])
    zeros = np.zeros(lp.size)
    for n in THREAD_SETTINGS:
        with pytest.raises(ValueError, match=r"batch index \(\)"):
            fastinfo.entropy(zeros, normalize=True, n_threads=n)
        assert fastinfo.entropy(zeros, n_threads=n) == 0.0


def test_n_threads_bitwise_small_batches():
    # fewer rows than threads, and tiny rows
    rng = np.random.default_rng(54)
    for shape in [(1, 5), (2, 1000), (3, 77), (5, 1), (1, 0)]:
        p = rng.random(shape)
        q = rng.random(shape)
        for name in NAMES:
            rs = [call(name, p, q, n_threads=n) for n in THREAD_SETTINGS + [8]]
            for r in rs[1:]:
                assert np.array_equal(as_bits(r), as_bits(rs[0])), (shape, name)


def test_n_threads_none_follows_threadpoolctl_at_call_time(big_inputs):
    # threadpoolctl is a test dependency (pyproject [test]); not optional here
    from threadpoolctl import threadpool_limits

    p, q, _, _ = big_inputs
    cfg = fastinfo.config()
    full = fastinfo.kl_divergence(p[:300], q[:300])
    with threadpool_limits(limits=1, user_api="openmp"):
        if cfg["openmp"]:
            assert fastinfo.config()["max_threads"] == 1
        limited = fastinfo.kl_divergence(p[:300], q[:300])
    assert fastinfo.config()["max_threads"] == cfg["max_threads"]
    assert np.array_equal(as_bits(limited), as_bits(full))


@pytest.mark.parametrize("n", [0, -1, -4], ids=repr)
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_n_threads_nonpositive_value_error(name, n):
    p = rand((3, 4), low=0.1)
    with pytest.raises(ValueError):
        call(name, p, p, n_threads=n)


@pytest.mark.parametrize("n", [1.5, 2.0, "2", [2]], ids=repr)
@pytest.mark.parametrize("name", NAMES + ["surprisal"])
def test_n_threads_non_int_type_error(name, n):
    p = rand((3, 4), low=0.1)
    with pytest.raises(TypeError):
        call(name, p, p, n_threads=n)


# --------------------------------------------------------------------------- GIL
def test_two_python_threads_score_concurrently(big_inputs):
    p, q, _, _ = big_inputs
    pa, qa = p[:1000], q[:1000]
    pb, qb = q[1000:], p[1000:]
    expected_a = fastinfo.kl_divergence(pa, qa, n_threads=1)
    expected_b = fastinfo.js_divergence(pb, qb, n_threads=1)
    results, errors = {}, []
    barrier = threading.Barrier(2)

    def work(key, f, a, b):
        try:
            barrier.wait(timeout=60)
            results[key] = [f(a, b, n_threads=1) for _ in range(3)]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=("a", fastinfo.kl_divergence, pa, qa)),
               threading.Thread(target=work, args=("b", fastinfo.js_divergence, pb, qb))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "threads did not finish"
    assert not errors, errors
    for r in results["a"]:
        assert np.array_equal(as_bits(r), as_bits(expected_a))
    for r in results["b"]:
        assert np.array_equal(as_bits(r), as_bits(expected_b))


# --------------------------------------------------------------------------- surprisal
def test_surprisal_elementwise():
    p = np.array([[0.5, 0.25, 0.25, 0.0], [1.0, 0.0, 1e-300, 5e-324]])
    s = fastinfo.surprisal(p)
    assert s.shape == p.shape and s.dtype == np.float64
    expected = [[math.log(2), math.log(4), math.log(4), math.inf],
                [0.0, math.inf, -math.log(1e-300), -math.log(5e-324)]]
    assert_close(s, expected)
    assert s[0, 3] == math.inf and s[1, 1] == math.inf and s[1, 0] == 0.0
    bits = fastinfo.surprisal(p, base=2)
    assert_close(bits[0, :3], [1.0, 2.0, 2.0])
    assert bits[0, 3] == math.inf
    assert fastinfo.surprisal(np.array([0.0]))[0] == math.inf
    # values > 1 (unnormalized): negative surprisal, formula as passed
    assert_close(fastinfo.surprisal(np.array([4.0])), [-math.log(4.0)])


def test_surprisal_keepdims_ignored_and_axis_normalization():
    p = rand((3, 5), seed=55, low=0.01)
    np.testing.assert_array_equal(fastinfo.surprisal(p, keepdims=True), fastinfo.surprisal(p))
    assert fastinfo.surprisal(p, keepdims=True).shape == (3, 5)
    assert_close(fastinfo.surprisal(p, normalize=True, axis=0), -np.log(p / p.sum(axis=0, keepdims=True)))
    assert_close(fastinfo.surprisal(p, normalize=True), -np.log(p / p.sum(axis=1, keepdims=True)))
    s1 = fastinfo.surprisal(p[0])
    assert isinstance(s1, np.ndarray) and s1.shape == (5,)
    s32 = fastinfo.surprisal(p.astype(np.float32))
    assert s32.dtype == np.float32
    assert_close(s32, -np.log(p.astype(np.float32).astype(np.float64)), rtol=2e-6)


@pytest.mark.parametrize("bad", BAD_VALUES, ids=BAD_IDS)
def test_surprisal_invalid(bad):
    p = rand((4, 6), seed=56, low=0.01)
    p[2, 3] = bad
    with pytest.raises(ValueError, match=r"batch index \(2,\)"):
        fastinfo.surprisal(p)
    s = fastinfo.surprisal(p, invalid="nan")
    assert np.all(np.isnan(s[2]))
    assert not np.any(np.isnan(s[[0, 1, 3]]))
    assert_close(s[[0, 1, 3]], -np.log(p[[0, 1, 3]]))
    # along axis 0, the bad element's column is the bad distribution
    s0 = fastinfo.surprisal(p, invalid="nan", axis=0)
    assert np.all(np.isnan(s0[:, 3])) and not np.any(np.isnan(np.delete(s0, 3, axis=1)))
    with pytest.raises(ValueError, match=r"batch index \(3,\)"):
        fastinfo.surprisal(p, axis=0)


# --------------------------------------------------------------------------- edge values
def test_kl_normalize_extreme_sums_with_subnormal_q():
    # normalizing makes both calls the same distributions: KL = 0.5*log(0.5/(1e-320/(1+1e-320)))
    a = fastinfo.kl_divergence([1e308, 1e308], [1.0, 1e-320], normalize=True)
    b = fastinfo.kl_divergence([1.0, 1.0], [1.0, 1e-320], normalize=True)
    expected = 0.5 * math.log(0.5) + 0.5 * (math.log(0.5) - math.log(1e-320))
    assert math.isfinite(a) and abs(a - expected) <= 1e-12 * expected
    assert abs(b - expected) <= 1e-12 * expected


@pytest.mark.parametrize("name", ["entropy", "cross_entropy"])
def test_float32_normalize_with_huge_sums(name):
    k = 1_400_000   # sum ~4.8e44: 1/sum is below the float32 normal range
    p = np.full(k, 3.4e38, np.float32)
    r = fastinfo.entropy(p, normalize=True) if name == "entropy" else \
        fastinfo.cross_entropy(np.ones(k, np.float32), p, normalize=True)
    assert abs(float(r) - math.log(k)) <= 1e-6 * math.log(k)


def test_js_distance_with_base_below_one_is_rejected():
    with pytest.raises(ValueError, match="base > 1"):
        fastinfo.js_divergence([1.0, 0.0], [0.0, 1.0], distance=True, base=0.5)
    with pytest.raises(ValueError, match="base > 1"):
        fastinfo.js_divergence(np.ones((2, 3)), np.ones((2, 3)), distance=True, base=0.5)
    # the divergence itself is fine in base 0.5: negative, and +0.0 (not -0.0) for p == q
    v = fastinfo.js_divergence([1.0, 0.0], [0.0, 1.0], base=0.5)
    assert v == -1.0
    z = fastinfo.js_divergence([0.5, 0.5], [0.5, 0.5], base=0.5)
    assert z == 0.0 and math.copysign(1.0, z) == 1.0


def test_operands_differing_by_leading_ones_broadcast():
    r = fastinfo.kl_divergence(np.array([0.5, 0.5]), np.array([[0.5, 0.5]]))
    assert isinstance(r, np.ndarray) and r.shape == (1,) and r[0] == 0.0
    r = fastinfo.kl_divergence(np.ones(3), np.ones((1, 3)), axis=0)
    assert r.shape == (3,) and np.all(r == 0.0)
    r = fastinfo.kl_divergence(np.ones((1, 3)), np.ones(3), axis=0)
    assert r.shape == (3,) and np.all(r == 0.0)


def test_nan_from_valid_input_is_explained():
    with pytest.raises(ValueError, match="undefined"):
        fastinfo.cross_entropy([1e308, 1.0], [1e308, 0.0])
    assert np.isnan(fastinfo.cross_entropy([1e308, 1.0], [1e308, 0.0], invalid="nan"))


# --------------------------------------------------------------------------- docstrings
def test_docstring_examples_run():
    import doctest

    from fastinfo import _measures
    res = doctest.testmod(_measures, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 10 and res.failed == 0
