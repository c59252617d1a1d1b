"""softmax_total_variation: TV = 1/2 sum_i |softmax(p/T)_i - softmax(q/T)_i| of each pair of rows.

Expected values come from SciPy's softmax in float64 (0.5 * the summed absolute difference),
from mpmath at 50 digits for small distances (q = p + a tiny perturbation, where the float64
difference of two rounded softmaxes would have lost every digit), and from PyTorch's kl_div
in float64 for Pinsker's inequality TV <= sqrt(KL / 2). Exact values: disjoint supports (-inf
logits) give 1, identical rows 0. Properties: 0 <= TV <= 1, symmetry, temperature = the
logits divided by T, invalid rows (NaN, +inf, only -inf) raise or give NaN.
"""

import math

import mpmath as mp
import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastinfo

tv = fastinfo.softmax_total_variation


# --------------------------------------------------------------------------- oracles
def scipy_tv(p, q, temperature=1.0, axis=-1):
    """0.5 * sum |softmax(p / T) - softmax(q / T)| in float64 (SciPy; NaN for an invalid row)."""
    with np.errstate(invalid="ignore"):
        a = sc.softmax(np.asarray(p, dtype=np.float64) / temperature, axis=axis)
        b = sc.softmax(np.asarray(q, dtype=np.float64) / temperature, axis=axis)
    return 0.5 * np.abs(a - b).sum(axis=axis)


def mp_tv(p, q, temperature=1.0):
    """TV of one pair of float rows in 50-digit arithmetic (a -inf logit: probability 0)."""
    with mp.workdps(50):
        def probs(x):
            e = [mp.e ** (mp.mpf(float(v)) / temperature) if np.isfinite(v) else mp.mpf(0) for v in x]
            s = mp.fsum(e)
            return [v / s for v in e]
        a, b = probs(p), probs(q)
        return mp.fsum(abs(x - y) for x, y in zip(a, b)) / 2


def torch_kl_rows(torch, p, q):
    """KL(softmax(p) || softmax(q)) per row, float64 (PyTorch kl_div with log targets)."""
    lp = torch.log_softmax(torch.as_tensor(np.asarray(p, dtype=np.float64)), -1)
    lq = torch.log_softmax(torch.as_tensor(np.asarray(q, dtype=np.float64)), -1)
    return torch.nn.functional.kl_div(lq, lp, reduction="none", log_target=True).sum(-1).numpy()


def logits(shape, seed, scale=3.0):
    return np.random.default_rng(seed).normal(size=shape) * scale


def rel_errors(scale, seed, rows=20, K=50):
    """The relative errors of TV(p, p + scale * noise) for rows of K logits ~ N(0, 3), against mpmath."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(rows, K)) * 3.0
    q = p + scale * rng.standard_normal((rows, K))
    got = tv(p, q)
    errs = []
    for i in range(rows):
        exact = mp_tv(p[i], q[i])
        assert exact > 0
        errs.append(float(abs((mp.mpf(float(got[i])) - exact) / exact)))
    return np.array(errs), got


# --------------------------------------------------------------------------- against SciPy
@pytest.mark.parametrize("shape,axis", [((9,), -1), ((6, 17), -1), ((6, 17), 0), ((3, 4, 40), -1),
                                        ((3, 5, 4), 1), ((2, 1000), -1)])
@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_against_scipy(shape, axis, temperature):
    p, q = logits(shape, 1), logits(shape, 2)
    got = tv(p, q, temperature=temperature, axis=axis)
    want = scipy_tv(p, q, temperature, axis)
    assert np.asarray(got).dtype == np.float64 and np.shape(got) == want.shape     # a scalar for one row
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_temperature_is_the_logits_divided():
    """TV(p, q, T) is the TV of p / T and q / T (the oracle on the divided logits)."""
    p, q = logits((8, 23), 3, scale=6.0), logits((8, 23), 4, scale=6.0)
    for t in (0.25, 0.7, 2.0, 10.0):
        np.testing.assert_allclose(tv(p, q, temperature=t), scipy_tv(p / t, q / t), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tv(p, q, temperature=t), [float(mp_tv(a / t, b / t)) for a, b in zip(p, q)],
                                   rtol=1e-12, atol=1e-15)


def test_large_logits_and_broadcasting():
    """Logits of size 1e4 (no overflow), and q broadcast against a batch of p."""
    p, q = logits((5, 30), 5, scale=1e4), logits((30,), 6, scale=1e4)
    np.testing.assert_allclose(tv(p, q), scipy_tv(p, np.broadcast_to(q, p.shape)), rtol=1e-12, atol=1e-15)


def test_float32_logits():
    p, q = logits((7, 31), 7).astype(np.float32), logits((7, 31), 8).astype(np.float32)
    got = tv(p, q)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, scipy_tv(p, q), rtol=2e-6, atol=1e-6)
    s = tv(p, q, reduction="sum")
    assert isinstance(s, np.float32)


# --------------------------------------------------------------------------- small distances against mpmath
def test_small_distances_keep_their_relative_accuracy():
    """q = p + 1e-9 noise: TV ~ 1e-9, which the difference of two float64 softmaxes gets only
    to ~1e-7 relative; the contract is 1e-6 relative, row by row."""
    errs, got = rel_errors(1e-9, seed=11)
    assert errs.max() <= 1e-6, errs.max()
    assert np.all((got > 1e-11) & (got < 1e-7))


def test_tiny_distances_keep_their_relative_accuracy():
    """q = p + 1e-12 noise: TV ~ 1e-12, where the plain float64 difference has at most a few
    digits left."""
    errs, _ = rel_errors(1e-12, seed=12)
    assert errs.max() <= 1e-6, errs.max()


@pytest.mark.parametrize("temperature", [0.5, 4.0])
def test_small_distances_with_temperature(temperature):
    rng = np.random.default_rng(13)
    p = rng.normal(size=(6, 50)) * 3.0
    q = p + 1e-9 * rng.standard_normal((6, 50))
    got = tv(p, q, temperature=temperature)
    want = np.array([float(mp_tv(a, b, temperature)) for a, b in zip(p, q)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


def test_small_distance_with_masked_classes():
    """-inf logits in both rows at the same classes leave the small distance of the rest intact."""
    rng = np.random.default_rng(14)
    p = rng.normal(size=(5, 40)) * 3.0
    q = p + 1e-9 * rng.standard_normal((5, 40))
    p[:, ::3] = q[:, ::3] = -np.inf
    got = tv(p, q)
    want = np.array([float(mp_tv(a, b)) for a, b in zip(p, q)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


# --------------------------------------------------------------------------- exact values, bounds
def test_disjoint_supports_give_exactly_one():
    p = np.array([[0.0, -np.inf, -np.inf], [3.0, 1.0, -np.inf], [-np.inf, -np.inf, 7.0]])
    q = np.array([[-np.inf, 0.0, 5.0], [-np.inf, -np.inf, 2.0], [0.0, 1.0, -np.inf]])
    got = tv(p, q)
    assert got.tolist() == [1.0, 1.0, 1.0]
    assert tv(p.astype(np.float32), q.astype(np.float32)).tolist() == [1.0, 1.0, 1.0]
    assert tv(p, q, temperature=3.0).tolist() == [1.0, 1.0, 1.0]


def test_identical_rows_give_exactly_zero():
    p = logits((6, 37), 15, scale=20.0)
    p[2, :5] = -np.inf
    assert tv(p, p).tolist() == [0.0] * 6
    assert tv(p, p.copy(), temperature=0.3).tolist() == [0.0] * 6
    assert tv(p.astype(np.float32), p.astype(np.float32)).tolist() == [0.0] * 6
    # a constant shift does not change the softmax: 0 up to rounding
    assert np.all(tv(p, p + 5.0) <= 1e-15)


def test_single_class_and_one_live_class():
    assert tv([3.0], [-7.0]) == 0.0
    assert tv([[1.0, -np.inf], [2.0, 5.0]], [[-4.0, -np.inf], [2.0, 5.0]]).tolist() == [0.0, 0.0]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12).flatmap(lambda k: st.tuples(
    hnp.arrays(np.float64, (3, k), elements=st.floats(-40, 40)),
    hnp.arrays(np.float64, (3, k), elements=st.floats(-40, 40)))),
    st.floats(0.2, 5.0))
def test_bounds_symmetry_pinsker(torch, pq, temperature):
    """0 <= TV <= 1, TV(p, q) = TV(q, p) to 1e-15, Pinsker TV <= sqrt(KL / 2) (KL from PyTorch),
    and the SciPy oracle."""
    p, q = pq
    a = tv(p, q, temperature=temperature)
    b = tv(q, p, temperature=temperature)
    assert np.all((a >= 0.0) & (a <= 1.0))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)
    np.testing.assert_allclose(a, scipy_tv(p, q, temperature), rtol=1e-10, atol=1e-13)
    # Pinsker as 2 TV^2 <= KL: the float64 KL of PyTorch is exact only to a few ulps of the logits
    kl = torch_kl_rows(torch, p / temperature, q / temperature)
    slack = 16 * np.finfo(np.float64).eps * (1.0 + max(np.abs(p).max(), np.abs(q).max()) / temperature)
    assert np.all(2 * a.astype(np.float64) ** 2 <= kl * (1 + 1e-12) + slack)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, (2, 6), elements=st.floats(-30, 30) | st.just(-np.inf)),
       hnp.arrays(np.float64, (2, 6), elements=st.floats(-30, 30) | st.just(-np.inf)))
def test_with_minus_inf_logits(p, q):
    """-inf logits anywhere (a row of only -inf is invalid: NaN with invalid='nan')."""
    got = tv(p, q, invalid="nan")
    want = scipy_tv(p, q)
    dead = np.all(p == -np.inf, axis=-1) | np.all(q == -np.inf, axis=-1)
    assert np.all(np.isnan(got[dead]))
    np.testing.assert_allclose(got[~dead], want[~dead], rtol=1e-10, atol=1e-13)
    assert np.all((got[~dead] >= 0) & (got[~dead] <= 1))


# --------------------------------------------------------------------------- invalid rows, options
@pytest.mark.parametrize("bad,side", [(np.nan, "p_logits"), (np.inf, "q_logits"), ("dead", "p_logits")])
def test_invalid_rows(bad, side):
    p, q = logits((3, 4, 9), 16), logits((3, 4, 9), 17)
    target = p if side == "p_logits" else q
    if bad == "dead":
        target[1, 2] = -np.inf
        match = r"-inf .*batch index \(1, 2\)"
    else:
        target[1, 2, 5] = bad
        match = rf"{side} .*batch index \(1, 2\)"
    with pytest.raises(ValueError, match=match):
        tv(p, q)
    got = tv(p, q, invalid="nan")
    assert np.isnan(got[1, 2])
    ok = np.ones((3, 4), dtype=bool)
    ok[1, 2] = False
    np.testing.assert_allclose(got[ok], scipy_tv(p, q)[ok], rtol=1e-12, atol=1e-15)
    assert np.isnan(tv(p, q, invalid="nan", reduction="sum"))


def test_reductions_keepdims_out_and_no_base():
    p, q = logits((4, 6, 11), 18), logits((4, 6, 11), 19)
    rows = scipy_tv(p, q)
    assert tv(p, q, reduction="sum") == pytest.approx(math.fsum(rows.ravel()), rel=1e-12)
    assert tv(p, q, reduction="mean") == pytest.approx(rows.mean(), rel=1e-12)
    assert tv(p, q, reduction="batchmean") == pytest.approx(rows.sum() / 4, rel=1e-12)
    k = tv(p, q, keepdims=True)
    assert k.shape == (4, 6, 1)
    np.testing.assert_allclose(k[..., 0], rows, rtol=1e-12, atol=1e-15)
    o = np.empty((4, 6))
    assert tv(p, q, out=o) is o
    np.testing.assert_allclose(o, rows, rtol=1e-12, atol=1e-15)
    with pytest.raises(TypeError, match="base"):
        tv(p, q, base=2)
    with pytest.raises(ValueError, match="reduction"):
        tv(p, q, reduction="average")


def test_threads_bitwise():
    p, q = logits((64, 257), 20), logits((64, 257), 21)
    q[::2] = p[::2] + 1e-9
    one = tv(p, q, n_threads=1)
    two = tv(p, q, n_threads=2)
    assert one.tobytes() == two.tobytes()
