"""Targets, labels, ignore_index and class weights of the logit losses, against PyTorch
(torch.nn.functional.cross_entropy, binary_cross_entropy_with_logits) in float64 on the CPU,
and SciPy's log_softmax where PyTorch has nothing to say.

The rules: a target with the logits' number of dimensions holds probabilities (floating), one
with fewer holds class labels (integer; float labels are refused, as PyTorch refuses them);
class weights are any finite numbers (negative and zero included); the 'mean' divides by the
sum of the weights of the counted labels.
"""

import math

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastinfo

SETTINGS = settings(max_examples=60)
FLOAT_LABELS = r"target holds class labels \(one dimension fewer than the logits\) and must be integers"


def logits(shape, seed=0, scale=3.0):
    return np.random.default_rng(seed).normal(size=shape) * scale


def t64(torch, a):
    return torch.from_numpy(np.array(a, dtype=np.float64, copy=True))


def torch_ce(torch, x, target, **kw):
    """F.cross_entropy of 2-D logits (N, K) in float64; target int64 labels or float probabilities."""
    F = torch.nn.functional
    kw.setdefault("reduction", "none")
    target = np.asarray(target)
    tt = torch.from_numpy(target.astype(np.int64)) if target.dtype.kind in "iu" else t64(torch, target)
    if kw.get("weight") is not None:
        kw["weight"] = t64(torch, kw["weight"])
    if kw.get("ignore_index") is None:
        kw.pop("ignore_index", None)
    return F.cross_entropy(t64(torch, x), tt, **kw).numpy()


# --------------------------------------------------------------------------- float labels
def test_float_labels_refused_where_they_were_read_as_soft_targets(torch):
    # N = K: uniform 4x4 logits with labels 0..3 are log 4 per row; the float labels used to be
    # read as (unnormalized) soft targets, 6 log 4 = 8.32
    x = np.zeros((4, 4))
    want = torch_ce(torch, x, np.arange(4), reduction="none")
    np.testing.assert_allclose(want, math.log(4), rtol=1e-15)
    np.testing.assert_allclose(fastinfo.softmax_cross_entropy(x, np.arange(4)), want, rtol=1e-15)
    with pytest.raises(TypeError, match=FLOAT_LABELS) as exc:
        fastinfo.softmax_cross_entropy(x, [0.0, 1.0, 2.0, 3.0])
    msg = str(exc.value)
    assert "got float64" in msg and "target.astype(int)" in msg and "soft targets" in msg
    # PyTorch refuses them too (integral float values included)
    with pytest.raises(RuntimeError):
        torch.nn.functional.cross_entropy(t64(torch, x), t64(torch, [0.0, 1.0, 2.0, 3.0]))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_labels_refused_for_every_float_dtype_and_batch_shape(dtype):
    x = logits((2, 3, 5), seed=1)
    with pytest.raises(TypeError, match=r"one dimension fewer.*got " + np.dtype(dtype).name):
        fastinfo.softmax_cross_entropy(x, np.zeros((2, 3), dtype=dtype))
    with pytest.raises(TypeError, match=r"2 dimensions fewer"):
        fastinfo.softmax_cross_entropy(x, np.zeros(3, dtype=dtype))
    with pytest.raises(TypeError, match=r"one dimension fewer"):    # one row: a 0-d label
        fastinfo.softmax_cross_entropy(x[0, 0], dtype(2.0))
    with pytest.raises(TypeError, match=r"labels holds class labels .* must be integers; got"):
        fastinfo.perplexity(x, np.zeros((2, 3), dtype=dtype))


def test_float_labels_with_nan_name_the_missing_value():
    x = logits((4, 3), seed=2)
    with pytest.raises(TypeError, match=r"missing value \(NaN\) at batch index \(2,\).*ignore_index=-100"):
        fastinfo.softmax_cross_entropy(x, np.array([0.0, 1.0, np.nan, 2.0]))
    obj = np.array([0, 1, None, 2], dtype=object)
    with pytest.raises(TypeError, match=r"dtype object.*missing value \(None\) at batch index \(2,\)"):
        fastinfo.softmax_cross_entropy(x, obj)
    pd = pytest.importorskip("pandas")
    with pytest.raises(TypeError, match=r"missing value \(<NA>\) at batch index \(1,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([0, pd.NA, 1, 2], dtype=object))
    with pytest.raises(TypeError, match=r"perplexity: labels .*missing value \(NaN\) at batch index \(0,\)"):
        fastinfo.perplexity(x, np.array([np.nan, 1.0, 1.0, 2.0]))


def test_soft_targets_keep_the_logits_dimensions(torch):
    x = logits((5, 4), seed=3)
    p = sc.softmax(logits((5, 4), seed=4), axis=-1)
    w = np.array([1.0, -0.5, 0.0, 2.0])
    for kw in ({}, {"weight": w}, {"label_smoothing": 0.2}, {"weight": w, "label_smoothing": 0.3}):
        for red in ("none", "sum", "mean"):
            np.testing.assert_allclose(fastinfo.softmax_cross_entropy(x, p, reduction=red, **kw),
                                       torch_ce(torch, x, p, reduction=red, **kw), rtol=1e-12, atol=1e-14)
    # one distribution for every row: a length-1 batch axis broadcasts
    np.testing.assert_allclose(fastinfo.softmax_cross_entropy(x, p[:1]),
                               torch_ce(torch, x, np.broadcast_to(p[:1], x.shape)), rtol=1e-12)
    # ignore_index does not apply to probabilities: refused, as PyTorch refuses it
    with pytest.raises(ValueError, match=r"ignore_index applies to class labels only"):
        fastinfo.softmax_cross_entropy(x, p, ignore_index=1)
    with pytest.raises(RuntimeError):
        torch_ce(torch, x, p, ignore_index=1)


def test_integer_target_with_the_logits_dimensions_refused(torch):
    x = logits((4, 3), seed=5)
    onehot = np.eye(3, dtype=np.int64)[[0, 2, 1, 1]]
    with pytest.raises(TypeError, match=r"as many dimensions as the logits.*must be floating; got int64"):
        fastinfo.softmax_cross_entropy(x, onehot)
    with pytest.raises(TypeError, match=r"reshape\(-1\)"):     # a column of labels
        fastinfo.softmax_cross_entropy(x, np.array([[0], [2], [1], [1]]))
    with pytest.raises(TypeError, match=r"must be floating; got bool"):
        fastinfo.softmax_cross_entropy(x, onehot.astype(bool))
    with pytest.raises(RuntimeError):       # PyTorch: "Expected floating point type for target ..."
        torch.nn.functional.cross_entropy(t64(torch, x), torch.from_numpy(onehot))
    # as floats they are probabilities, and agree with PyTorch
    np.testing.assert_allclose(fastinfo.softmax_cross_entropy(x, onehot.astype(float)),
                               torch_ce(torch, x, onehot.astype(float)), rtol=1e-12)
    with pytest.raises(ValueError, match=r"more dimensions|class labels with the logits' shape"):
        fastinfo.softmax_cross_entropy(x, np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match=r"perplexity: labels must hold class labels"):
        fastinfo.perplexity(x, np.zeros((4, 1), dtype=np.int64))


def test_sigmoid_float_targets_with_the_logits_shape_stay(torch):
    F = torch.nn.functional
    x = logits((6, 3), seed=6)
    z = np.random.default_rng(7).random((6, 3))
    np.testing.assert_allclose(fastinfo.sigmoid_cross_entropy(x, z),
                               F.binary_cross_entropy_with_logits(t64(torch, x), t64(torch, z),
                                                                  reduction="none").numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- out-of-range labels
def test_minus_100_without_ignore_index_gives_the_hint(torch):
    x = logits((5, 4), seed=8)
    lab = np.array([0, 3, -100, 1, -100])
    with pytest.raises(IndexError) as exc:
        fastinfo.softmax_cross_entropy(x, lab)
    msg = str(exc.value)
    assert "target" in msg and "-100" in msg and "batch index (2,)" in msg
    assert "pass ignore_index=-100 to skip padded positions" in msg
    with pytest.raises(IndexError, match=r"ignore_index=-100"):
        fastinfo.softmax_cross_entropy(x, lab, ignore_index=0)
    with pytest.raises(IndexError, match=r"perplexity: labels holds -100 at batch index \(2,\)"):
        fastinfo.perplexity(x, lab)
    # with it: PyTorch's numbers
    for red in ("none", "sum", "mean"):
        np.testing.assert_allclose(fastinfo.softmax_cross_entropy(x, lab, ignore_index=-100, reduction=red),
                                   torch_ce(torch, x, lab, ignore_index=-100, reduction=red), rtol=1e-12)
    # a batch of sequences: the index within the whole batch
    x3 = logits((2, 3, 4), seed=9)
    lab3 = np.array([[0, 1, 2], [3, -100, 0]])
    with pytest.raises(IndexError, match=r"batch index \(1, 1\)"):
        fastinfo.softmax_cross_entropy(x3, lab3)


@pytest.mark.parametrize("bad", [4, 7, -1, -3, 2**40])
def test_out_of_range_label_names_value_row_and_range(torch, bad):
    x = logits((3, 4), seed=10)
    lab = np.array([1, 0, bad])
    with pytest.raises(IndexError) as exc:
        fastinfo.softmax_cross_entropy(x, lab)
    msg = str(exc.value)
    assert f"label {bad}" in msg and "batch index (2,)" in msg and "[0, 4)" in msg
    assert "ignore_index=-100" not in msg
    with pytest.raises(IndexError):
        torch_ce(torch, x, lab)


def test_out_of_range_unsigned_labels():
    x = logits((2, 3), seed=11)
    with pytest.raises(IndexError, match=r"label 18446744073709551615 at batch index \(1,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([0, 2**64 - 1], dtype=np.uint64))
    with pytest.raises(IndexError, match=r"label 200 at batch index \(0,\)"):
        fastinfo.softmax_cross_entropy(x, np.array([200, 1], dtype=np.uint8))


# --------------------------------------------------------------------------- ignore_index
@pytest.mark.parametrize("value", [1.5, 1.0, np.float64(1.0), "1", True, np.bool_(False), [1]])
def test_ignore_index_must_be_an_integer(value):
    x = logits((3, 4), seed=12)
    lab = np.array([1, 0, 2])
    with pytest.raises(TypeError, match=r"ignore_index must be an integer"):
        fastinfo.softmax_cross_entropy(x, lab, ignore_index=value)
    with pytest.raises(TypeError, match=r"ignore_index must be an integer"):
        fastinfo.perplexity(x, lab, ignore_index=value)


@pytest.mark.parametrize("value", [np.int8(1), np.int64(1), np.uint16(1), 1])
def test_ignore_index_numpy_integers(torch, value):
    x = logits((3, 4), seed=13)
    lab = np.array([1, 0, 2], dtype=np.int16)
    np.testing.assert_allclose(fastinfo.softmax_cross_entropy(x, lab, ignore_index=value, reduction="mean"),
                               torch_ce(torch, x, lab, ignore_index=1, reduction="mean"), rtol=1e-12)


def test_ignore_index_beyond_every_dtype(torch):
    # no label equals it: nothing ignored, no wrap-around in narrow dtypes
    x = logits((3, 4), seed=14)
    for lab in (np.array([1, 0, 2], dtype=np.int8), np.array([1, 0, 2], dtype=np.uint64)):
        for ii in (2**70, 256 + 1, -(2**70)):
            np.testing.assert_allclose(fastinfo.softmax_cross_entropy(x, lab, ignore_index=ii),
                                       torch_ce(torch, x, lab.astype(np.int64)), rtol=1e-12)
    with pytest.raises(IndexError, match=r"holds -100 at"):      # 156 is not -100 modulo 256
        fastinfo.softmax_cross_entropy(x, np.array([1, -100, 2], dtype=np.int8), ignore_index=156)


# --------------------------------------------------------------------------- class weights
WEIGHTS = [np.array(w) for w in ([1.0, 1.0, 1.0, 1.0], [2.0, -1.0, 0.5, 1.0], [-1.0, -2.0, -0.5, -3.0],
                                 [0.0, 1.0, 0.0, 2.0], [1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                                 [3.0, 0.0, -3.0, 1.0])]


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("ignore", [None, -100, 2])
@pytest.mark.parametrize("wi", range(len(WEIGHTS)))
def test_class_weights_grid_vs_torch(torch, wi, ignore, eps):
    w = WEIGHTS[wi]
    x = logits((7, 4), seed=15)
    lab = np.array([0, 1, 2, 3, 1, 0, 2])
    if ignore == -100:
        lab[[1, 4]] = -100
    for red in ("none", "sum", "mean"):
        got = fastinfo.softmax_cross_entropy(x, lab, weight=w, ignore_index=ignore, label_smoothing=eps,
                                             reduction=red)
        want = torch_ce(torch, x, lab, weight=w, ignore_index=ignore, label_smoothing=eps, reduction=red)
        kept = lab != (ignore if ignore is not None else -10**9)
        if red == "mean" and math.fsum(w[lab[kept]]) == 0:
            assert np.isnan(got)      # mean over weights summing to 0: NaN (PyTorch: NaN or x/0 = +-inf)
            assert not np.isfinite(want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_mean_with_cancelling_weights_is_nan_and_all_ignored_is_nan(torch):
    x = logits((2, 3), seed=16)
    lab = np.array([0, 1])
    got = fastinfo.softmax_cross_entropy(x, lab, weight=[1.0, -1.0, 2.0], reduction="mean")
    assert np.isnan(got)
    assert not np.isfinite(torch_ce(torch, x, lab, weight=[1.0, -1.0, 2.0], reduction="mean"))
    got = fastinfo.softmax_cross_entropy(x, np.array([-100, -100]), ignore_index=-100, reduction="mean")
    assert np.isnan(got) and np.isnan(torch_ce(torch, x, [-100, -100], ignore_index=-100, reduction="mean"))


@st.composite
def weighted_cases(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 6))
    x = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(-20, 20, allow_nan=False)))
    lab = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    # halves: the weight sums are exact in every summation order, so 0 means 0 in both libraries
    w = draw(hnp.arrays(np.float64, (k,), elements=st.integers(-8, 8).map(lambda v: v / 2)))
    ignore = draw(st.sampled_from([None, -100, 0]))
    if ignore == -100:
        lab[draw(st.integers(0, n - 1))] = -100
    eps = draw(st.sampled_from([0.0, 0.05, 0.5]))
    return x, lab, w, ignore, eps


@SETTINGS
@given(weighted_cases())
def test_negative_weights_property_vs_torch(torch, case):
    x, lab, w, ignore, eps = case
    for red in ("none", "sum", "mean"):
        got = fastinfo.softmax_cross_entropy(x, lab, weight=w, ignore_index=ignore, label_smoothing=eps,
                                             reduction=red)
        want = torch_ce(torch, x, lab, weight=w, ignore_index=ignore, label_smoothing=eps, reduction=red)
        if red == "mean" and not np.isfinite(want):
            assert np.isnan(got)          # the weights of the counted labels sum to 0
        else:
            scale = max(1.0, float(np.abs(x).max()) * float(np.abs(w).max(initial=1.0)) * x.shape[0])
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * scale)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_weights_refused(bad):
    x = logits((3, 4), seed=17)
    lab = np.array([0, 1, 2])
    w = np.array([1.0, 1.0, bad, 1.0])
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: weight must hold finite numbers.*class 2"):
        fastinfo.softmax_cross_entropy(x, lab, weight=w)
    with pytest.raises(ValueError, match=r"weight must hold finite numbers"):
        fastinfo.softmax_cross_entropy(x, sc.softmax(x, axis=-1), weight=w)
    for name in ("weight", "pos_weight"):
        with pytest.raises(ValueError, match=rf"sigmoid_cross_entropy: {name} must hold finite numbers"):
            fastinfo.sigmoid_cross_entropy(x, np.ones((3, 4)) / 2, **{name: w})
    with pytest.raises(TypeError, match=r"weight must hold real numbers"):
        fastinfo.softmax_cross_entropy(x, lab, weight=np.array(["a", "b", "c", "d"]))


def test_sigmoid_negative_weights_vs_torch(torch):
    F = torch.nn.functional
    x = logits((5, 4), seed=18)
    z = np.random.default_rng(19).random((5, 4))
    pw = np.array([1.0, -2.0, 0.0, 0.5])
    w = np.random.default_rng(20).integers(-3, 4, (5, 4)).astype(np.float64)
    for red in ("none", "sum", "mean"):
        got = fastinfo.sigmoid_cross_entropy(x, z, pos_weight=pw, weight=w, reduction=red)
        want = F.binary_cross_entropy_with_logits(t64(torch, x), t64(torch, z), weight=t64(torch, w),
                                                  pos_weight=t64(torch, pw), reduction=red).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_inputs_unchanged():
    x = logits((4, 3), seed=21)
    lab = np.array([0, -100, 2, 1])
    w = np.array([1.0, -1.0, 0.5])
    cx, cl, cw = x.copy(), lab.copy(), w.copy()
    fastinfo.softmax_cross_entropy(x, lab, weight=w, ignore_index=-100, label_smoothing=0.1, reduction="mean")
    assert np.array_equal(x, cx) and np.array_equal(lab, cl) and np.array_equal(w, cw)


def test_a_zero_dimensional_object_target_is_a_type_error():
    """A 0-d object array as target (with pandas not imported: no pd.isna) is refused with the
    labels' TypeError, not an AttributeError from inside the missing-value check."""
    import subprocess
    import sys
    code = ("import numpy as np, fastinfo\n"
            "try:\n"
            "    fastinfo.softmax_cross_entropy(np.array([]), np.array(0.0, dtype=object))\n"
            "except TypeError as e:\n"
            "    print('TypeError', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("TypeError softmax_cross_entropy: target")
