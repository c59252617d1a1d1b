"""ensemble_uncertainty: total, aleatoric and epistemic uncertainty of M members' logits.

Expected values come from independent computations only: PyTorch in float64 on the CPU
(softmax of each member, the mean of the members' rows, entropies with 0 log 0 = 0 by masking
the zero probabilities) and mpmath at 50 digits for small cases, among them near-agreeing
members whose epistemic part is about 1e-12 and members with -inf logits (masks). fastinfo's
results are compared with each other only where the contract promises equality: one thread
against two, base 2 against nats / ln 2, torch tensors against NumPy arrays, and the member
axis elsewhere against the member axis first.
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo

FIELDS = ("total", "aleatoric", "epistemic")
RTOL, ATOL = 1e-12, 1e-13
RTOL_LOW, ATOL_LOW = 2e-6, 1e-6
MP_DPS = 50
EXACT_ATOL = 1e-15          # absolute error allowed against the 50-digit value (small K)

SETTINGS = settings(max_examples=50, deadline=None)


# --------------------------------------------------------------------------- data and oracles
def bf16():
    """NumPy's bfloat16 (ml_dtypes), or the test is skipped."""
    return np.dtype(pytest.importorskip("ml_dtypes").bfloat16)


def as_dtype(name):
    return bf16() if name == "bfloat16" else np.dtype(name)


def make_logits(shape, seed=0, scale=3.0):
    return np.random.default_rng(seed).normal(size=shape) * scale


def oracle(torch, x, axis=0, temperature=1.0):
    """(total, aleatoric, epistemic) in nats from PyTorch float64: the members moved first,
    p_m = softmax(x_m / T), p = mean_m p_m, H(q) = -sum q log q over q > 0 only."""
    xd = np.moveaxis(np.asarray(x).astype(np.float64), axis, 0)
    z = torch.from_numpy(np.ascontiguousarray(xd)) / temperature
    p = torch.softmax(z, -1)
    logp = torch.log_softmax(z, -1)
    zero = torch.zeros_like(p)
    h_members = -torch.where(p > 0, p * logp, zero).sum(-1)
    pbar = p.mean(0)
    logpbar = torch.log(torch.where(pbar > 0, pbar, torch.ones_like(pbar)))
    total = -torch.where(pbar > 0, pbar * logpbar, torch.zeros_like(pbar)).sum(-1)
    aleatoric = h_members.mean(0)
    return {"total": total.numpy(), "aleatoric": aleatoric.numpy(),
            "epistemic": (total - aleatoric).numpy()}


def mp_oracle(x, temperature=1.0):
    """(total, aleatoric, epistemic) of (M, K) logits with mpmath at 50 digits, as mpf: -inf
    logits are probability 0 and add nothing to an entropy."""
    x = np.asarray(x, dtype=np.float64)
    M, K = x.shape
    with mpmath.workdps(MP_DPS):
        T = mpmath.mpf(temperature)
        members = []
        for row in x:
            top = max(mpmath.mpf(float(v)) for v in row if np.isfinite(v)) / T
            e = [mpmath.exp(mpmath.mpf(float(v)) / T - top) if np.isfinite(v) else mpmath.mpf(0)
                 for v in row]
            s = mpmath.fsum(e)
            members.append([v / s for v in e])

        def H(q):
            return -mpmath.fsum(v * mpmath.log(v) for v in q if v > 0)

        pbar = [mpmath.fsum(members[m][k] for m in range(M)) / M for k in range(K)]
        total = H(pbar)
        aleatoric = mpmath.fsum(H(q) for q in members) / M
        return total, aleatoric, total - aleatoric


def assert_matches(got, want, rtol=RTOL, atol=ATOL):
    for f in FIELDS:
        g = np.asarray(getattr(got, f), dtype=np.float64)
        assert g.shape == np.shape(want[f]), (f, g.shape, np.shape(want[f]))
        np.testing.assert_allclose(g, want[f], rtol=rtol, atol=atol, err_msg=f)


def assert_same_bits(a, b):
    for f in FIELDS:
        u, v = np.asarray(getattr(a, f)), np.asarray(getattr(b, f))
        assert u.dtype == v.dtype and u.shape == v.shape, f
        assert u.tobytes() == v.tobytes(), f


def numpy_of(t):
    return t.detach().cpu().numpy()


# =========================================================================== the result
def test_result_is_a_named_tuple_of_the_three_fields():
    """EnsembleUncertainty has total, aleatoric and epistemic in that order; the call returns
    one."""
    assert tuple(fastinfo.EnsembleUncertainty._fields) == FIELDS
    u = fastinfo.ensemble_uncertainty(make_logits((3, 2, 4)))
    assert isinstance(u, fastinfo.EnsembleUncertainty) and len(u) == 3


def test_documented_examples():
    """The two docstring examples: (0.9294, 0.6656, 0.2638) for three members over three classes,
    epistemic 0.6919 and aleatoric 0.0012 for two members that disagree."""
    members = np.array([[[2.0, 0.0, 0.0]], [[0.0, 2.0, 0.0]], [[2.0, 0.0, 0.0]]])
    u = fastinfo.ensemble_uncertainty(members)
    np.testing.assert_allclose([u.total[0], u.aleatoric[0], u.epistemic[0]],
                               [0.9294, 0.6656, 0.2638], atol=5e-5)
    u = fastinfo.ensemble_uncertainty([[[9.0, 0.0]], [[0.0, 9.0]]])
    assert round(float(u.epistemic[0]), 4) == 0.6919
    assert round(float(u.aleatoric[0]), 4) == 0.0012


# =========================================================================== shapes and axes
@pytest.mark.parametrize("shape", [(4, 7, 11), (3, 2, 5, 9), (5, 6)], ids=["MNK", "MABK", "MK"])
def test_shapes_vs_torch(torch, shape):
    """Every field has the batch shape (0-d for (M, K) logits), is float64 for float64 logits
    and agrees with the PyTorch float64 oracle."""
    x = make_logits(shape, seed=1)
    got = fastinfo.ensemble_uncertainty(x)
    batch = shape[1:-1]
    for f in FIELDS:
        v = getattr(got, f)
        assert isinstance(v, np.ndarray) and v.shape == batch and v.dtype == np.float64, (f, v)
    assert_matches(got, oracle(torch, x))


@pytest.mark.parametrize("shape, axis", [((7, 4, 11), 1), ((7, 4, 11), -2), ((2, 5, 3, 6), 1),
                                         ((2, 3, 5, 6), -2), ((2, 3, 5, 6), 2)],
                         ids=["NMK-1", "NMK--2", "AMBK-1", "ABMK--2", "ABMK-2"])
def test_member_axis_elsewhere(torch, shape, axis):
    """Members on another axis than the first: the batch shape is the shape without the member
    and class axes, the values those of the oracle and of the same logits with the members
    moved first."""
    x = make_logits(shape, seed=2)
    got = fastinfo.ensemble_uncertainty(x, axis=axis)
    batch = tuple(np.delete(np.array(shape), [axis % len(shape), len(shape) - 1]))
    for f in FIELDS:
        assert np.shape(getattr(got, f)) == batch, f
    assert_matches(got, oracle(torch, x, axis=axis))
    first = fastinfo.ensemble_uncertainty(np.ascontiguousarray(np.moveaxis(x, axis, 0)))
    for f in FIELDS:
        np.testing.assert_allclose(getattr(got, f), getattr(first, f), rtol=1e-15, atol=1e-15,
                                   err_msg=f)


@pytest.mark.parametrize("axis", [-1, 2])
def test_axis_naming_the_class_axis_raises(axis):
    """axis equal to the class axis (-1 or ndim - 1) raises ValueError."""
    with pytest.raises(ValueError):
        fastinfo.ensemble_uncertainty(make_logits((3, 4, 5)), axis=axis)


@pytest.mark.parametrize("shape", [(0, 4, 5), (3, 4, 0), (0, 5), (3, 0)],
                         ids=["no-member", "no-class", "no-member-2d", "no-class-2d"])
def test_no_member_or_no_class_raises(shape):
    """Logits with no member or no class raise ValueError."""
    with pytest.raises(ValueError):
        fastinfo.ensemble_uncertainty(np.zeros(shape))


def test_fewer_than_two_dimensions_raises():
    """1-D and 0-d logits have no member axis beside the class axis: ValueError."""
    for x in (np.zeros(4), np.float64(1.0)):
        with pytest.raises(ValueError):
            fastinfo.ensemble_uncertainty(x)


# =========================================================================== invalid values
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "+inf"])
def test_nan_or_plus_inf_logits_raise_naming_the_index(bad):
    """A NaN or +inf logit raises ValueError whose message names the member and batch index
    of its row, (member, batch...) with the members first."""
    x = make_logits((3, 4, 5), seed=3)
    x[1, 2, 3] = bad
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        fastinfo.ensemble_uncertainty(x)
    y = make_logits((2, 3, 4, 6), seed=4)
    y[1, 0, 2, 5] = bad
    with pytest.raises(ValueError, match=r"\(1, 0, 2\)"):
        fastinfo.ensemble_uncertainty(y)


def test_a_row_of_only_minus_inf_raises():
    """A member's row with every logit -inf has no softmax: ValueError."""
    x = make_logits((3, 4, 5), seed=5)
    x[2, 1, :] = -np.inf
    with pytest.raises(ValueError):
        fastinfo.ensemble_uncertainty(x)


# =========================================================================== exact values
NEAR_AGREEING = [
    # (base logits, perturbation scale, M, seed): members base + eps * noise
    ([0.3, -1.2, 2.0], 3e-6, 3, 0),                 # epistemic ~ 9e-13
    ([0.0, 0.0, 0.0, 0.0], 3e-6, 2, 1),             # ~ 1.2e-12
    ([5.0, -3.0, 1.5, 0.25, -0.75], 1e-5, 4, 2),    # ~ 9e-13
    ([12.0, 0.0], 3e-4, 5, 3),                      # ~ 2.4e-12, one class near probability 0
    ([0.0, 1.0], 1e-8, 3, 4),                       # ~ 1e-17: below the rounding of H
]


@pytest.mark.parametrize("base, eps, M, seed", NEAR_AGREEING)
def test_near_agreeing_members_vs_mpmath(base, eps, M, seed):
    """Members that nearly agree (epistemic about 1e-12, and one of 1e-17): every field within
    1e-15 absolutely of the 50-digit value, the epistemic part >= 0."""
    x = np.asarray(base) + eps * np.random.default_rng(seed).normal(size=(M, len(base)))
    total, aleatoric, epistemic = mp_oracle(x)
    assert 0 < epistemic < 1e-10
    u = fastinfo.ensemble_uncertainty(x)
    assert float(u.epistemic) >= 0.0
    for f, exact in zip(FIELDS, (total, aleatoric, epistemic)):
        err = abs(mpmath.mpf(float(getattr(u, f))) - exact)
        assert err <= EXACT_ATOL, (f, float(getattr(u, f)), float(exact), float(err))


MASKED = {
    # different classes masked in different members
    "different-classes": [[-np.inf, 1.0, 0.5, -2.0],
                          [0.3, 2.0, -np.inf, 0.0],
                          [1.5, -np.inf, -1.0, -np.inf]],
    # class 3 masked in every member, class 0 in one
    "class-masked-everywhere": [[-np.inf, 1.0, 0.5, -np.inf],
                                [0.3, 2.0, -0.4, -np.inf],
                                [1.5, 0.2, -1.0, -np.inf]],
    # each member sure of one class (one finite logit): aleatoric 0, epistemic log 2
    "one-hot-members": [[0.0, -np.inf, -np.inf],
                        [-np.inf, 4.0, -np.inf]],
    # near-agreeing members with a shared mask
    "near-agreeing-masked": [[0.25, -np.inf, 1.0, -0.5],
                             [0.25 + 1e-6, -np.inf, 1.0, -0.5 - 2e-6],
                             [0.25 - 3e-7, -np.inf, 1.0 + 1e-6, -0.5]],
}


@pytest.mark.parametrize("name", list(MASKED))
def test_minus_inf_masks_vs_mpmath_and_torch(torch, name):
    """-inf logits are masks: no NaN, every field finite and within 1e-15 absolutely of the
    50-digit value (and of the PyTorch oracle), the epistemic part in [0, log M]."""
    x = np.array(MASKED[name])
    M = x.shape[0]
    u = fastinfo.ensemble_uncertainty(x)
    exact = mp_oracle(x)
    for f, e in zip(FIELDS, exact):
        v = float(getattr(u, f))
        assert math.isfinite(v), (f, v)
        assert abs(mpmath.mpf(v) - e) <= EXACT_ATOL, (f, v, float(e))
    assert 0.0 <= float(u.epistemic) <= math.log(M)
    assert_matches(u, oracle(torch, x))
    # the same rows inside a batch, beside rows without masks
    batch = np.stack([x, make_logits(x.shape, seed=6)], axis=1)
    ub = fastinfo.ensemble_uncertainty(batch)
    for f, e in zip(FIELDS, exact):
        assert abs(mpmath.mpf(float(getattr(ub, f)[0])) - e) <= EXACT_ATOL, f
    assert_matches(ub, oracle(torch, batch))


def test_one_hot_members_give_log_m():
    """M members each certain of a different class: total = epistemic = log M, aleatoric 0."""
    for M in (2, 3, 5):
        x = np.full((M, M + 1), -np.inf)
        x[np.arange(M), np.arange(M)] = 1.0
        u = fastinfo.ensemble_uncertainty(x)
        assert float(u.aleatoric) == 0.0
        np.testing.assert_allclose([float(u.total), float(u.epistemic)], [math.log(M)] * 2,
                                   rtol=1e-15, atol=0)


@pytest.mark.parametrize("temperature", [0.5, 3.0])
def test_temperature_vs_mpmath(temperature):
    """softmax(x / T) for each member: a small case within 1e-15 of the 50-digit value."""
    x = np.array([[1.0, -0.5, 2.0, -np.inf], [0.2, 0.1, -1.0, 0.4], [3.0, -2.0, 0.0, 0.5]])
    u = fastinfo.ensemble_uncertainty(x, temperature=temperature)
    for f, e in zip(FIELDS, mp_oracle(x, temperature)):
        assert abs(mpmath.mpf(float(getattr(u, f))) - e) <= EXACT_ATOL, f


# =========================================================================== options
@pytest.mark.parametrize("temperature", [0.5, 3.0])
def test_temperature_vs_torch(torch, temperature):
    """temperature T divides the logits before each member's softmax, as in the oracle."""
    x = make_logits((4, 6, 13), seed=7)
    x[0, 1, 2] = -np.inf
    assert_matches(fastinfo.ensemble_uncertainty(x, temperature=temperature),
                   oracle(torch, x, temperature=temperature))


@pytest.mark.parametrize("base", [2, 10.0])
def test_base_divides_by_log_base(torch, base):
    """base=b gives the nats divided by ln b, in every field (the oracle too)."""
    x = make_logits((3, 5, 8), seed=8)
    nats = fastinfo.ensemble_uncertainty(x)
    got = fastinfo.ensemble_uncertainty(x, base=base)
    want = oracle(torch, x)
    for f in FIELDS:
        np.testing.assert_allclose(getattr(got, f), getattr(nats, f) / math.log(base),
                                   rtol=4 * np.finfo(float).eps, atol=0, err_msg=f)
        np.testing.assert_allclose(getattr(got, f), want[f] / math.log(base), rtol=RTOL,
                                   atol=ATOL, err_msg=f)


def test_base_two_of_two_disagreeing_one_hot_members_is_one_bit():
    """Two members each certain of a different class: one bit of epistemic uncertainty."""
    x = np.array([[0.0, -np.inf], [-np.inf, 0.0]])
    u = fastinfo.ensemble_uncertainty(x, base=2)
    np.testing.assert_allclose([float(u.total), float(u.epistemic)], [1.0, 1.0], rtol=1e-15)
    assert float(u.aleatoric) == 0.0


# =========================================================================== dtypes
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_low_precision_logits_vs_float64_of_the_same_values(torch, dtype):
    """float32, float16 and bfloat16 logits are read as they are: float32 fields within 2e-6
    relative (+1e-6 absolute) of the float64 oracle on the same (rounded) values."""
    x = make_logits((4, 9, 50), seed=9, scale=4.0).astype(as_dtype(dtype))
    x[1, 3, :10] = -np.inf
    got = fastinfo.ensemble_uncertainty(x)
    for f in FIELDS:
        v = getattr(got, f)
        assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (9,), (f, v)
    assert_matches(got, oracle(torch, x.astype(np.float64)), rtol=RTOL_LOW, atol=ATOL_LOW)
    assert (got.epistemic >= 0).all()


def test_float64_logits_give_float64():
    """float64 logits give float64 fields (0-d for (M, K) logits)."""
    u = fastinfo.ensemble_uncertainty(make_logits((3, 7), seed=10))
    for f in FIELDS:
        v = getattr(u, f)
        assert isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == (), (f, v)


# =========================================================================== chunks, threads
@pytest.mark.parametrize("M, N, K", [(3, 100, 3000), (3, 7, 70000), (2, 3, 300000)],
                         ids=["N100-K3000", "N7-K70000", "K-over-2**18"])
def test_many_classes_vs_torch(torch, M, N, K):
    """N * K beyond 2**18 (the mean prediction built a block of rows at a time, down to one row
    per block) agrees with the oracle in every row."""
    x = make_logits((M, N, K), seed=11).astype(np.float32).astype(np.float64)
    x[0, N - 1, : K // 3] = -np.inf
    assert_matches(fastinfo.ensemble_uncertainty(x), oracle(torch, x))


def test_one_thread_and_two_agree_bitwise():
    """n_threads=1 and n_threads=2 give the same bits in every field (6 x 300 x 5000 float32,
    and a float64 case with temperature)."""
    x = np.random.default_rng(12).standard_normal((6, 300, 5000), dtype=np.float32) * 4
    assert_same_bits(fastinfo.ensemble_uncertainty(x, n_threads=1),
                     fastinfo.ensemble_uncertainty(x, n_threads=2))
    y = make_logits((3, 40, 700), seed=13)
    assert_same_bits(fastinfo.ensemble_uncertainty(y, temperature=0.7, n_threads=1),
                     fastinfo.ensemble_uncertainty(y, temperature=0.7, n_threads=2))


# =========================================================================== torch
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_torch_tensors_in_give_tensors_out(torch, dtype):
    """torch logits give torch tensors of the batch shape in every field (float64 for float64,
    else float32), holding the values of the NumPy call on the same logits."""
    tdt = getattr(torch, dtype)
    t = torch.from_numpy(make_logits((3, 5, 8), seed=14)).to(tdt)
    ref = fastinfo.ensemble_uncertainty(t.to(torch.float64).numpy().astype(as_dtype(dtype)))
    r = fastinfo.ensemble_uncertainty(t)
    assert isinstance(r, fastinfo.EnsembleUncertainty)
    for f in FIELDS:
        v = getattr(r, f)
        assert isinstance(v, torch.Tensor), (f, type(v))
        assert v.dtype == (torch.float64 if dtype == "float64" else torch.float32), (f, v.dtype)
        assert tuple(v.shape) == (5,), (f, v.shape)
        np.testing.assert_array_equal(numpy_of(v), getattr(ref, f), err_msg=f)


def test_torch_two_dimensional_logits_give_zero_dimensional_tensors(torch):
    """(M, K) torch logits give 0-d tensors, as (M, K) NumPy logits give 0-d arrays."""
    x = make_logits((4, 6), seed=15)
    ref = fastinfo.ensemble_uncertainty(x)
    r = fastinfo.ensemble_uncertainty(torch.from_numpy(x.copy()))
    for f in FIELDS:
        v = getattr(r, f)
        assert isinstance(v, torch.Tensor) and tuple(v.shape) == (), (f, tuple(v.shape))
        assert float(v) == float(getattr(ref, f)), f


# =========================================================================== properties
@st.composite
def ensembles(draw, max_m=6, max_k=8):
    """Logits (M, N, K) of finite values and some -inf masks (never a whole row)."""
    M = draw(st.integers(1, max_m))
    N = draw(st.integers(1, 4))
    K = draw(st.integers(1, max_k))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.0, 1e-6, 1e-3, 1.0, 10.0, 300.0]))
    offset = draw(st.sampled_from([0.0, -50.0, 1e4]))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(M, N, K)) * scale + offset
    if draw(st.booleans()):
        mask = rng.random((M, N, K)) < 0.3
        keep = rng.integers(0, K, size=(M, N))
        mask[np.arange(M)[:, None], np.arange(N)[None, :], keep] = False
        x[mask] = -np.inf
    return x


@SETTINGS
@given(ensembles())
def test_properties_bounds(x):
    """0 <= epistemic <= log M; aleatoric - tiny <= total <= log K + tiny; aleatoric >= 0."""
    M, K = x.shape[0], x.shape[-1]
    u = fastinfo.ensemble_uncertainty(x)
    tiny = 1e-13
    assert (u.epistemic >= 0).all() and (u.epistemic <= math.log(M)).all(), u.epistemic
    assert (u.total >= u.aleatoric - tiny).all(), (u.total, u.aleatoric)
    assert (u.total <= math.log(K) + tiny).all(), u.total
    assert (u.aleatoric >= 0).all() and (u.aleatoric <= math.log(K) + tiny).all(), u.aleatoric


@SETTINGS
@given(ensembles(max_k=30))
def test_properties_vs_torch(torch, x):
    """Random ensembles (masks, large offsets, tiny and huge scales) agree with the oracle."""
    assert_matches(fastinfo.ensemble_uncertainty(x), oracle(torch, x))


@SETTINGS
@given(ensembles(max_m=1), st.integers(1, 6))
def test_properties_identical_members_have_no_epistemic_part(x, M):
    """M copies of one member: epistemic <= 1e-15 (and >= 0), total and aleatoric that
    member's entropy to 1e-15 absolutely."""
    single = fastinfo.ensemble_uncertainty(x)
    u = fastinfo.ensemble_uncertainty(np.repeat(x, M, axis=0))
    assert (u.epistemic >= 0).all() and (u.epistemic <= 1e-15).all(), u.epistemic
    np.testing.assert_allclose(u.aleatoric, single.aleatoric, rtol=0, atol=1e-15)
    np.testing.assert_allclose(u.total, single.aleatoric, rtol=0, atol=1e-15)


@SETTINGS
@given(ensembles(max_m=1))
def test_properties_one_member_has_no_epistemic_part(x):
    """M = 1: epistemic exactly 0 and total == aleatoric (to 1e-15 absolutely)."""
    u = fastinfo.ensemble_uncertainty(x)
    assert (u.epistemic == 0).all(), u.epistemic
    np.testing.assert_allclose(u.total, u.aleatoric, rtol=0, atol=1e-15)
