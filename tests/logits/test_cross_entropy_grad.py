"""The gradient of softmax_cross_entropy with respect to the logits (return_grad=True).

The oracle is PyTorch's autograd in float64 through ``F.cross_entropy(logits / T, ...)``
(``loss.backward(torch.ones_like(loss))`` for reduction='none'), plus central finite
differences of fastinfo's own loss on small cases. Two-byte and float32 logits are
compared with the float64 oracle on the same (rounded) values. In-place gradients
(``grad_out=logits``), separate ``grad_out`` arrays, the argument checks, torch tensors,
Dask arrays and the thread count are covered as well.
"""
import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo as fi
from helpers import traced_peak

torch = pytest.importorskip("torch")
F = torch.nn.functional

BF16 = np.dtype(ml_dtypes.bfloat16)
REDUCTIONS = ("none", "sum", "mean")
IGNORE = -100


# --------------------------------------------------------------------------- helpers
def _logits(shape, seed, scale=2.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _weights(K, seed):
    return np.random.default_rng(seed).uniform(0.3, 2.5, K)


def torch_ce(x, target, reduction="none", temperature=1.0, weight=None, label_smoothing=0.0,
             ignore_index=None, base=None, axis=-1):
    """(loss, gradient) by PyTorch autograd in float64: the class axis `axis` of x is moved to
    torch's class dimension (1; 0 for 1-D logits) inside the graph, so the gradient has x's layout."""
    t = torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, requires_grad=True)
    target = np.asarray(target)
    soft = target.ndim == t.ndim
    cls = 0 if t.ndim == 1 else 1
    z = torch.movedim(t, axis, cls)
    if soft:
        tgt = torch.movedim(torch.tensor(target.astype(np.float64)), axis, cls)
    else:
        tgt = torch.tensor(target.astype(np.int64))
    kw = {}
    if weight is not None:
        kw["weight"] = torch.tensor(np.asarray(weight, dtype=np.float64))
    if ignore_index is not None:
        kw["ignore_index"] = ignore_index
    loss = F.cross_entropy(z / temperature, tgt, reduction=reduction, label_smoothing=label_smoothing, **kw)
    if base is not None:
        loss = loss / math.log(base)
    loss.backward(torch.ones_like(loss))
    return loss.detach().numpy(), t.grad.numpy()


def assert_grad_close(got, want, rtol=1e-12, floor=0.0):
    """Elementwise within rtol, with an absolute floor of rtol times the gradient's largest
    magnitude, or times `floor` when that is larger (elements that are differences of near-equal
    terms); NaN where the oracle is NaN."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    finite = np.isfinite(want)
    scale = float(np.max(np.abs(want[finite]))) if finite.any() else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(scale, floor) + 1e-300, equal_nan=True)


def assert_bitwise(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def _labels(n, K, seed, ignored=()):
    y = np.random.default_rng(seed).integers(0, K, n)
    y[list(ignored)] = IGNORE
    return y


VARIANTS = {
    "plain": {},
    "weight": {"weight": True},
    "smoothing": {"label_smoothing": 0.15},
    "weight+smoothing": {"weight": True, "label_smoothing": 0.3},
    "ignore_index": {"ignore_index": IGNORE},
}


def _variant_kwargs(name, K):
    kw = dict(VARIANTS[name])
    if kw.pop("weight", False):
        kw["weight"] = _weights(K, seed=7)
    return kw


# --------------------------------------------------------------------------- against PyTorch, float64
@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_label_gradient_matches_torch(reduction, variant, temperature):
    """Labels: the gradient of the per-row losses' sum ('none') or of the reduced loss equals
    PyTorch's, with 1/T, class weights, label smoothing and ignored rows (exactly 0) in it."""
    n, K = 9, 7
    x = _logits((n, K), seed=1)
    kw = _variant_kwargs(variant, K)
    ignored = (1, 4, 5) if "ignore_index" in kw else ()
    y = _labels(n, K, seed=2, ignored=ignored)
    loss, grad = fi.softmax_cross_entropy(x, y, reduction=reduction, temperature=temperature,
                                          return_grad=True, **kw)
    tl, tg = torch_ce(x, y, reduction=reduction, temperature=temperature, **kw)
    assert isinstance(grad, np.ndarray) and grad.dtype == np.float64 and grad.shape == x.shape
    assert_grad_close(grad, tg)
    np.testing.assert_allclose(loss, tl, rtol=1e-13)
    for i in ignored:
        assert np.all(grad[i] == 0.0)
    if not ignored:
        assert np.all(grad != 0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (False, 0.2), (True, 0.2)])
def test_soft_target_gradient_matches_torch(reduction, weighted, smoothing):
    """Soft targets (the logits' shape, not necessarily summing to 1): PyTorch's gradient, the
    mean divided by the number of rows."""
    n, K = 6, 5
    x = _logits((n, K), seed=3)
    rng = np.random.default_rng(4)
    t = rng.dirichlet(np.ones(K), size=n)
    t[2] *= 1.7        # unnormalized row
    t[4, 1] = 0.0
    w = _weights(K, seed=5) if weighted else None
    loss, grad = fi.softmax_cross_entropy(x, t, reduction=reduction, temperature=0.7, weight=w,
                                          label_smoothing=smoothing, return_grad=True)
    tl, tg = torch_ce(x, t, reduction=reduction, temperature=0.7, weight=w, label_smoothing=smoothing)
    assert grad.dtype == np.float64
    assert_grad_close(grad, tg)
    np.testing.assert_allclose(loss, tl, rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sequence_logits_with_position_labels(reduction):
    """(B, S, V) logits with (B, S) labels (padding ignored): the gradient of shape (B, S, V)
    equals PyTorch's on its (B, V, S) layout."""
    B, S, V = 3, 4, 11
    x = _logits((B, S, V), seed=6)
    y = np.random.default_rng(7).integers(0, V, (B, S))
    y[0, 3] = y[2, 2] = y[2, 3] = IGNORE
    w = _weights(V, seed=8)
    kw = dict(weight=w, label_smoothing=0.1, ignore_index=IGNORE, temperature=0.7)
    loss, grad = fi.softmax_cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
    tl, tg = torch_ce(x, y, reduction=reduction, **kw)
    assert grad.shape == (B, S, V)
    assert_grad_close(grad, tg)
    np.testing.assert_allclose(loss, tl, rtol=1e-13)
    assert np.all(grad[0, 3] == 0) and np.all(grad[2, 2:] == 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sequence_logits_with_soft_targets(reduction):
    """(B, S, V) logits with (B, S, V) soft targets: PyTorch's gradient, the mean over the B * S
    positions."""
    B, S, V = 2, 5, 6
    x = _logits((B, S, V), seed=64)
    t = np.random.default_rng(65).dirichlet(np.ones(V), size=(B, S))
    kw = dict(weight=_weights(V, seed=66), label_smoothing=0.1, temperature=0.7)
    loss, grad = fi.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    tl, tg = torch_ce(x, t, reduction=reduction, **kw)
    assert grad.shape == (B, S, V)
    assert_grad_close(grad, tg)
    np.testing.assert_allclose(loss, tl, rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,axis", [((7, 5), 0), ((3, 6, 4), 1), ((6, 3, 4), 0)])
def test_class_axis_other_than_last(shape, axis, reduction):
    """The class axis anywhere: the gradient keeps the logits' layout and equals PyTorch's on
    the logits with that axis moved to the class dimension."""
    x = _logits(shape, seed=9)
    K = shape[axis]
    batch = shape[:axis] + shape[axis + 1:]
    y = np.random.default_rng(10).integers(0, K, batch)
    y.reshape(-1)[1] = IGNORE
    kw = dict(weight=_weights(K, seed=11), label_smoothing=0.05, ignore_index=IGNORE, temperature=0.7)
    loss, grad = fi.softmax_cross_entropy(x, y, reduction=reduction, axis=axis, return_grad=True, **kw)
    tl, tg = torch_ce(x, y, reduction=reduction, axis=axis, **kw)
    assert grad.shape == x.shape
    assert_grad_close(grad, tg)
    np.testing.assert_allclose(loss, tl, rtol=1e-13)
    # the same numbers as with the class axis moved last
    _, g_last = fi.softmax_cross_entropy(np.moveaxis(x, axis, -1).copy(), y, reduction=reduction,
                                         return_grad=True, **kw)
    assert_grad_close(np.moveaxis(grad, axis, -1), g_last, rtol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
def test_base_two_divides_gradient_by_ln2(reduction, soft):
    """base=2: loss and gradient in bits, PyTorch's divided by ln 2."""
    n, K = 5, 6
    x = _logits((n, K), seed=12)
    t = np.random.default_rng(13).dirichlet(np.ones(K), size=n) if soft else _labels(n, K, seed=13)
    kw = dict(weight=_weights(K, seed=14), label_smoothing=0.1, temperature=0.7)
    loss, grad = fi.softmax_cross_entropy(x, t, reduction=reduction, base=2, return_grad=True, **kw)
    tl, tg = torch_ce(x, t, reduction=reduction, base=2, **kw)
    assert_grad_close(grad, tg)
    np.testing.assert_allclose(loss, tl, rtol=1e-13)
    _, g_nats = fi.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    np.testing.assert_allclose(grad * math.log(2), g_nats, rtol=1e-14, atol=1e-17)


# --------------------------------------------------------------------------- masks, weights, edge cases
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (True, 0.1)])
def test_masked_logits_label_elsewhere(reduction, temperature, weighted, smoothing):
    """-inf logits (masked classes) with the labels elsewhere: probability 0, so the gradient there
    is exactly 0 without smoothing and -f eps w_k / K with it (PyTorch's, whose loss is then +inf)."""
    n, K = 6, 8
    x = _logits((n, K), seed=15)
    mask = np.zeros((n, K), bool)
    mask[:, 5:] = True          # a vocabulary's padding columns
    mask[2, 0] = mask[4, 2] = True
    x[mask] = -np.inf
    y = np.array([1, 3, 4, 0, 1, 4])
    assert not mask[np.arange(n), y].any()
    w = _weights(K, seed=16) if weighted else None
    kw = dict(weight=w, label_smoothing=smoothing, temperature=temperature)
    loss, grad = fi.softmax_cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
    tl, tg = torch_ce(x, y, reduction=reduction, **kw)
    assert np.all(np.isfinite(grad))
    assert_grad_close(grad, tg)
    if smoothing == 0:
        assert np.all(grad[mask] == 0.0)
        np.testing.assert_allclose(loss, tl, rtol=1e-13)
    else:
        assert np.all(grad[mask] < 0.0)
        assert np.all(np.asarray(loss) == np.inf) and np.all(tl == np.inf)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (False, 0.1), (True, 0.1)])
def test_label_on_masked_logit(reduction, weighted, smoothing):
    """A label on a -inf logit: loss +inf, and PyTorch's finite gradient (-f w_y (1 - eps + eps/K)
    at the label, f = 1/T for 'none')."""
    n, K, T = 4, 5, 0.7
    x = _logits((n, K), seed=17)
    x[1, 2] = x[1, 4] = -np.inf
    x[3, 0] = -np.inf
    y = np.array([0, 2, 1, 3])          # row 1's label is on a -inf logit
    w = _weights(K, seed=18) if weighted else None
    kw = dict(weight=w, label_smoothing=smoothing, temperature=T)
    loss, grad = fi.softmax_cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
    tl, tg = torch_ce(x, y, reduction=reduction, **kw)
    assert np.all(np.isfinite(grad))
    assert_grad_close(grad, tg)
    if reduction == "none":
        assert loss[1] == np.inf and tl[1] == np.inf
        wy = 1.0 if w is None else w[2]
        np.testing.assert_allclose(grad[1, 2], -wy * (1 - smoothing + smoothing / K) / T, rtol=1e-15)
    else:
        assert loss == np.inf


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_zero_weight_classes(reduction, smoothing):
    """Classes of weight 0: rows labelled with them have gradient 0 without smoothing, and are left
    out of the mean's denominator; the rest is PyTorch's."""
    n, K = 8, 5
    x = _logits((n, K), seed=19)
    w = np.array([0.0, 1.5, 0.0, 0.7, 2.0])
    y = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    loss, grad = fi.softmax_cross_entropy(x, y, reduction=reduction, weight=w, label_smoothing=smoothing,
                                          temperature=0.7, return_grad=True)
    tl, tg = torch_ce(x, y, reduction=reduction, weight=w, label_smoothing=smoothing, temperature=0.7)
    assert_grad_close(grad, tg)
    np.testing.assert_allclose(loss, tl, rtol=1e-13)
    zero_rows = w[y] == 0
    if smoothing == 0:
        assert np.all(grad[zero_rows] == 0.0) and np.all(grad[~zero_rows] != 0.0)
    else:
        assert np.all(grad[zero_rows] != 0.0)


def test_mean_over_all_ignored_labels():
    """Every label ignored, reduction='mean': loss NaN (a mean over nothing) and a gradient of
    exact zeros, as PyTorch gives (not NaN)."""
    x = _logits((5, 4), seed=20)
    y = np.full(5, IGNORE)
    for kw in ({}, {"weight": _weights(4, seed=21), "label_smoothing": 0.1}):
        loss, grad = fi.softmax_cross_entropy(x, y, reduction="mean", ignore_index=IGNORE, return_grad=True, **kw)
        tl, tg = torch_ce(x, y, reduction="mean", ignore_index=IGNORE, **kw)
        assert np.isnan(loss) and np.isnan(tl)
        assert np.all(tg == 0.0)
        assert_bitwise(np.abs(grad), np.zeros_like(x))
        # 'sum' over nothing: 0, gradient 0
        loss, grad = fi.softmax_cross_entropy(x, y, reduction="sum", ignore_index=IGNORE, return_grad=True, **kw)
        assert loss == 0.0 and np.all(grad == 0.0)


def test_mean_over_weights_summing_to_zero():
    """Non-ignored labels whose weights sum to 0, reduction='mean': loss NaN; as in PyTorch the
    gradient is NaN on the rows that count and 0 on the ignored ones."""
    x = _logits((6, 5), seed=22)
    w = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    y = np.array([0, 1, IGNORE, 1, 0, IGNORE])
    loss, grad = fi.softmax_cross_entropy(x, y, reduction="mean", weight=w, ignore_index=IGNORE, return_grad=True)
    tl, tg = torch_ce(x, y, reduction="mean", weight=w, ignore_index=IGNORE)
    assert np.isnan(loss) and np.isnan(tl)
    ign = y == IGNORE
    assert np.all(np.isnan(tg[~ign])) and np.all(tg[ign] == 0.0)
    assert np.all(np.isnan(grad[~ign])) and np.all(grad[ign] == 0.0)


def test_one_dimensional_logits():
    """1-D logits (one row) and a scalar label: a scalar loss and a gradient of shape (K,)."""
    x = _logits(6, seed=23)
    for reduction in REDUCTIONS:
        loss, grad = fi.softmax_cross_entropy(x, 4, reduction=reduction, temperature=0.7, label_smoothing=0.1,
                                              return_grad=True)
        tl, tg = torch_ce(x, np.array(4), reduction=reduction, temperature=0.7, label_smoothing=0.1)
        assert np.ndim(loss) == 0 and grad.shape == (6,)
        assert_grad_close(grad, tg)


# --------------------------------------------------------------------------- invalid rows
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
def test_invalid_rows_give_nan_gradient(reduction, soft):
    """invalid='nan': a row with a NaN or +inf logit has loss NaN and an all-NaN gradient; the other
    rows' gradients are PyTorch's (the mean's denominator still counts the invalid rows)."""
    n, K = 6, 5
    x = _logits((n, K), seed=24)
    x[2, 3] = np.nan
    x[4, 0] = np.inf
    t = np.random.default_rng(25).dirichlet(np.ones(K), size=n) if soft else _labels(n, K, seed=25)
    kw = dict(weight=_weights(K, seed=26), label_smoothing=0.1, temperature=0.7)
    loss, grad = fi.softmax_cross_entropy(x, t, reduction=reduction, invalid="nan", return_grad=True, **kw)
    _, tg = torch_ce(x, t, reduction=reduction, **kw)
    bad = np.array([False, False, True, False, True, False])
    assert np.all(np.isnan(grad[bad]))
    assert np.all(np.isfinite(grad[~bad]))
    assert_grad_close(grad[~bad], tg[~bad])
    if reduction == "none":
        assert np.all(np.isnan(loss[bad])) and np.all(np.isfinite(loss[~bad]))
    else:
        assert np.isnan(loss)


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "+inf"])
def test_invalid_row_raises_naming_it(bad):
    """invalid='raise' (the default): ValueError naming the batch index of the invalid row; a
    grad_out passed holds the other rows' gradients when it is raised."""
    x = _logits((5, 4), seed=27)
    x[3, 1] = bad
    y = _labels(5, 4, seed=28)
    with pytest.raises(ValueError, match=r"batch index \(3,\)"):
        fi.softmax_cross_entropy(x, y, return_grad=True)
    g = np.full(x.shape, 7.0)
    with pytest.raises(ValueError, match=r"batch index \(3,\)"):
        fi.softmax_cross_entropy(x, y, return_grad=True, grad_out=g)
    _, g_nan = fi.softmax_cross_entropy(x, y, return_grad=True, invalid="nan")
    assert_bitwise(np.delete(g, 3, axis=0), np.delete(g_nan, 3, axis=0))


def test_row_of_only_masked_logits_has_nan_gradient():
    """A row whose logits are all -inf has no softmax: its gradient is NaN (as PyTorch's), the other
    rows' are PyTorch's. (The loss of such a row with a label is +inf, tested elsewhere; it is not
    asserted here.)"""
    x = _logits((4, 5), seed=67)
    x[1] = -np.inf
    y = _labels(4, 5, seed=68)
    _, grad = fi.softmax_cross_entropy(x, y, reduction="sum", temperature=0.7, invalid="nan", return_grad=True)
    _, tg = torch_ce(x, y, reduction="sum", temperature=0.7)
    assert np.all(np.isnan(tg[1])) and np.all(np.isnan(grad[1]))
    assert_grad_close(np.delete(grad, 1, axis=0), np.delete(tg, 1, axis=0))


# --------------------------------------------------------------------------- reduced precision
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
def test_float32_logits(reduction, soft):
    """float32 logits: a float32 gradient within 1e-6 (relative to its largest element) of the
    float64 oracle on the same values."""
    n, K = 16, 40
    x = _logits((n, K), seed=29, scale=3.0, dtype=np.float32)
    if soft:
        t = np.random.default_rng(30).dirichlet(np.ones(K), size=n).astype(np.float32)
        kw = dict(weight=_weights(K, seed=31), label_smoothing=0.1, temperature=0.7)
    else:
        t = _labels(n, K, seed=30, ignored=(3,))
        kw = dict(weight=_weights(K, seed=31), label_smoothing=0.1, temperature=0.7, ignore_index=IGNORE)
    loss, grad = fi.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    _, tg = torch_ce(x, t, reduction=reduction, **kw)
    assert grad.dtype == np.float32 and grad.shape == x.shape
    assert_grad_close(grad, tg, rtol=1e-6)
    if not soft:
        assert np.all(grad[3] == 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [BF16, np.dtype(np.float16)], ids=["bfloat16", "float16"])
def test_two_byte_logits(dtype, reduction):
    """bfloat16 and float16 logits: a float32 gradient within 1e-6 (scaled by its largest element)
    of PyTorch's float64 gradient on the same rounded values."""
    n, K = 12, 50
    x = _logits((n, K), seed=32, scale=3.0).astype(dtype)
    y = _labels(n, K, seed=33, ignored=(5,))
    x[1, :10] = -np.inf
    y[1] = 20
    kw = dict(weight=_weights(K, seed=34), label_smoothing=0.05, temperature=0.7, ignore_index=IGNORE)
    loss, grad = fi.softmax_cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
    _, tg = torch_ce(x.astype(np.float64), y, reduction=reduction, **kw)
    assert grad.dtype == np.float32 and grad.shape == x.shape
    assert_grad_close(grad, tg, rtol=1e-6)
    assert np.all(grad[5] == 0)


# --------------------------------------------------------------------------- grad_out
CASES = {
    "labels": lambda x, K: dict(target=_labels(x.shape[0], K, seed=35, ignored=(2,)), ignore_index=IGNORE,
                                weight=_weights(K, seed=36), label_smoothing=0.1, temperature=0.7),
    "labels-plain": lambda x, K: dict(target=_labels(x.shape[0], K, seed=37)),
    "soft": lambda x, K: dict(target=np.random.default_rng(38).dirichlet(np.ones(K), size=x.shape[0]).astype(x.dtype),
                              weight=_weights(K, seed=39), label_smoothing=0.1, temperature=0.7),
    # float64 targets with float32 logits: the rows are computed in float64
    "soft-float64-targets": lambda x, K: dict(target=np.random.default_rng(38).dirichlet(np.ones(K), size=x.shape[0]),
                                              label_smoothing=0.1, base=2),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_gradient_overwrites_logits(dtype, case, reduction):
    """grad_out=logits: the returned gradient is the logits array itself, now holding bitwise the
    out-of-place gradient; the loss is bitwise unchanged."""
    n, K = 10, 37
    x = _logits((n, K), seed=40, dtype=dtype)
    kw = CASES[case](x, K)
    target = kw.pop("target")
    loss_ref, g_ref = fi.softmax_cross_entropy(x.copy(), target, reduction=reduction, return_grad=True, **kw)
    loss, g = fi.softmax_cross_entropy(x, target, reduction=reduction, return_grad=True, grad_out=x, **kw)
    assert g is x
    assert_bitwise(g, g_ref)
    assert_bitwise(loss, loss_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_gradient_strided_views(dtype):
    """In place on views: a column slice of a wider array (only its columns overwritten) and a
    transposed array with axis=0."""
    K = 9
    big = _logits((7, K + 5), seed=41, dtype=dtype)
    keep = big.copy()
    view = big[:, 2:2 + K]
    y = _labels(7, K, seed=42)
    kw = dict(weight=_weights(K, seed=43), label_smoothing=0.1, temperature=0.7, reduction="mean")
    _, g_ref = fi.softmax_cross_entropy(view.copy(), y, return_grad=True, **kw)
    _, g = fi.softmax_cross_entropy(view, y, return_grad=True, grad_out=view, **kw)
    assert g is view
    assert_bitwise(big[:, 2:2 + K], g_ref)
    assert_bitwise(big[:, :2], keep[:, :2])
    assert_bitwise(big[:, 2 + K:], keep[:, 2 + K:])
    xt = np.ascontiguousarray(keep[:, 2:2 + K].T)        # (K, rows): classes on axis 0
    _, g_t = fi.softmax_cross_entropy(xt, y, axis=0, return_grad=True, grad_out=xt, **kw)
    assert g_t is xt
    assert_bitwise(xt.T, g_ref)


@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_gradient_takes_no_logits_sized_memory(dtype, soft):
    """grad_out=logits allocates nothing of the logits' size (the out-of-place call does)."""
    n, K = 128, 4096
    x = _logits((n, K), seed=69, dtype=dtype)
    if soft:
        t = np.random.default_rng(70).dirichlet(np.ones(K), size=n).astype(dtype)
        kw = dict(weight=_weights(K, seed=71), label_smoothing=0.1, temperature=0.7)
    else:
        t = _labels(n, K, seed=70, ignored=(3,))
        kw = dict(weight=_weights(K, seed=71), label_smoothing=0.1, temperature=0.7, ignore_index=IGNORE)
    (_, g), peak_out = traced_peak(lambda: fi.softmax_cross_entropy(x, t, reduction="mean", return_grad=True, **kw))
    assert peak_out >= x.nbytes            # the measurement sees the gradient's allocation
    (_, g_in), peak_in = traced_peak(
        lambda: fi.softmax_cross_entropy(x, t, reduction="mean", return_grad=True, grad_out=x, **kw))
    assert g_in is x
    assert peak_in < x.nbytes / 16
    assert_bitwise(x, g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, BF16, np.dtype(np.float16)],
                         ids=["float32", "float64", "bfloat16", "float16"])
def test_separate_grad_out_is_returned_and_filled(dtype):
    """A separate grad_out of the gradient's dtype (float64 for float64 logits, else float32) is
    returned itself, holding bitwise what return_grad gives without it; also a strided one."""
    x = _logits((6, 11), seed=44).astype(dtype)
    y = _labels(6, 11, seed=45, ignored=(0,))
    kw = dict(ignore_index=IGNORE, label_smoothing=0.1, temperature=0.7, reduction="mean")
    loss_ref, g_ref = fi.softmax_cross_entropy(x, y, return_grad=True, **kw)
    gd = np.float64 if dtype == np.float64 else np.float32
    assert g_ref.dtype == gd
    g = np.full(x.shape, np.nan, dtype=gd)
    loss, got = fi.softmax_cross_entropy(x, y, return_grad=True, grad_out=g, **kw)
    assert got is g
    assert_bitwise(g, g_ref)
    assert_bitwise(loss, loss_ref)
    gf = np.full((11, 6), np.nan, dtype=gd).T        # Fortran-ordered
    _, got = fi.softmax_cross_entropy(x, y, return_grad=True, grad_out=gf, **kw)
    assert got is gf
    assert_bitwise(np.ascontiguousarray(gf), g_ref)


def test_grad_out_and_argument_errors():
    """Wrong grad_out dtype, shape, writeability or overlap, grad_out without return_grad,
    keepdims/out with return_grad, and a non-bool return_grad raise, naming the argument."""
    x = _logits((4, 5), seed=46)
    y = _labels(4, 5, seed=47)
    ce = fi.softmax_cross_entropy
    with pytest.raises(TypeError, match="grad_out"):
        ce(x, y, return_grad=True, grad_out=np.empty((4, 5), np.float32))
    with pytest.raises(TypeError, match="grad_out"):
        ce(x.astype(np.float32), y, return_grad=True, grad_out=np.empty((4, 5), np.float64))
    with pytest.raises(TypeError, match="grad_out"):
        ce(x, y, return_grad=True, grad_out=np.empty((4, 5)).tolist())
    xb = x.astype(BF16)
    with pytest.raises(TypeError, match="grad_out"):      # the gradient of bfloat16 logits is float32
        ce(xb, y, return_grad=True, grad_out=xb)
    with pytest.raises(ValueError, match="grad_out"):
        ce(x, y, return_grad=True, grad_out=np.empty((5, 4)))
    with pytest.raises(ValueError, match="grad_out"):
        ce(x, y, return_grad=True, grad_out=np.empty((4, 5, 1)))
    ro = np.empty((4, 5))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="grad_out"):
        ce(x, y, return_grad=True, grad_out=ro)
    # overlapping the logits without being them
    buf = np.empty(21)
    xs = buf[:20].reshape(4, 5)
    xs[...] = x
    before = xs.copy()
    with pytest.raises(ValueError, match="grad_out"):
        ce(xs, y, return_grad=True, grad_out=buf[1:].reshape(4, 5))
    assert_bitwise(xs, before)                           # nothing written
    with pytest.raises(ValueError, match="grad_out"):
        ce(xs, y, return_grad=True, grad_out=xs[::-1])
    # overlapping soft targets
    t = np.random.default_rng(48).dirichlet(np.ones(5), size=4)
    with pytest.raises(ValueError, match="grad_out"):
        ce(x, t, return_grad=True, grad_out=t)
    # grad_out without return_grad
    with pytest.raises(ValueError, match="grad_out.*return_grad|return_grad.*grad_out"):
        ce(x, y, grad_out=np.empty((4, 5)))
    with pytest.raises(ValueError, match="keepdims"):
        ce(x, y, return_grad=True, keepdims=True)
    with pytest.raises(ValueError, match="out"):
        ce(x, y, return_grad=True, out=np.empty(4))
    with pytest.raises(TypeError, match="return_grad"):
        ce(x, y, return_grad=1)
    # soft targets broadcasting the logits to a larger shape: the gradient has the logits' shape
    with pytest.raises(ValueError, match="return_grad"):
        ce(x[:1], t, return_grad=True)


def test_dask_arrays_refuse_return_grad():
    """Dask arrays with return_grad=True: TypeError naming return_grad (no lazy gradient)."""
    da = pytest.importorskip("dask.array")
    x = da.from_array(_logits((8, 5), seed=49), chunks=(4, 5))
    y = da.from_array(_labels(8, 5, seed=50), chunks=4)
    with pytest.raises(TypeError, match="return_grad"):
        fi.softmax_cross_entropy(x, y, return_grad=True)


# --------------------------------------------------------------------------- torch tensors
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("tdtype", ["float32", "bfloat16", "float64"])
def test_torch_tensors_in_tensors_out(tdtype, reduction):
    """torch tensors in: the loss and the gradient are tensors (float32 gradient for float32 and
    bfloat16, float64 for float64), equal to PyTorch autograd on the same values and bitwise to
    the NumPy path."""
    tdt = getattr(torch, tdtype)
    n, K = 8, 13
    xn = _logits((n, K), seed=51)
    xt = torch.tensor(xn).to(tdt)
    y = _labels(n, K, seed=52, ignored=(6,))
    kw = dict(ignore_index=IGNORE, label_smoothing=0.1, temperature=0.7, weight=_weights(K, seed=53))
    loss, grad = fi.softmax_cross_entropy(xt, torch.from_numpy(y), reduction=reduction, return_grad=True, **kw)
    assert isinstance(loss, torch.Tensor) and isinstance(grad, torch.Tensor)
    assert grad.dtype == (torch.float64 if tdtype == "float64" else torch.float32)
    assert tuple(grad.shape) == (n, K)
    x_same = xt.to(torch.float64).numpy()
    _, tg = torch_ce(x_same, y, reduction=reduction, **kw)
    assert_grad_close(grad.numpy(), tg, rtol=1e-12 if tdtype == "float64" else 1e-6)
    xnp = x_same.astype(BF16) if tdtype == "bfloat16" else xt.numpy()
    loss_np, g_np = fi.softmax_cross_entropy(xnp, y, reduction=reduction, return_grad=True, **kw)
    assert_bitwise(grad.numpy(), g_np)
    assert_bitwise(loss.numpy(), np.asarray(loss_np))


def test_torch_tensor_in_place_gradient():
    """A float32 tensor as its own grad_out: the same tensor comes back, overwritten by the gradient."""
    xt = torch.tensor(_logits((5, 6), seed=54), dtype=torch.float32)
    y = torch.from_numpy(_labels(5, 6, seed=55))
    _, g_ref = fi.softmax_cross_entropy(xt.clone(), y, reduction="mean", return_grad=True)
    _, g = fi.softmax_cross_entropy(xt, y, reduction="mean", return_grad=True, grad_out=xt)
    assert g is xt
    assert torch.equal(xt, g_ref)
    go = torch.empty((5, 6), dtype=torch.float32)
    _, g2 = fi.softmax_cross_entropy(xt.clone().add_(0), y, reduction="mean", return_grad=True, grad_out=go)
    assert g2 is go


# --------------------------------------------------------------------------- loss and threads
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, BF16], ids=["float64", "float32", "bfloat16"])
@pytest.mark.parametrize("case", ["labels", "soft", "masked"])
def test_loss_bitwise_unchanged_by_return_grad(case, dtype, reduction):
    """The loss returned with the gradient is bitwise the loss returned without it."""
    n, K = 9, 23
    x = _logits((n, K), seed=56).astype(dtype)
    if case == "soft":
        t = np.random.default_rng(57).dirichlet(np.ones(K), size=n)
        kw = dict(weight=_weights(K, seed=58), label_smoothing=0.1, temperature=0.7, base=2)
    else:
        t = _labels(n, K, seed=57, ignored=(4,))
        kw = dict(weight=_weights(K, seed=58), label_smoothing=0.1, temperature=0.7, ignore_index=IGNORE, base=2)
        if case == "masked":
            x[:, :3] = -np.inf
            t[t < 3] = 5
            kw["label_smoothing"] = 0.0
    plain = fi.softmax_cross_entropy(x, t, reduction=reduction, **kw)
    with_grad, _ = fi.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, **kw)
    assert type(with_grad) is type(plain)
    assert_bitwise(with_grad, plain)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
def test_threads_bitwise(soft, dtype, reduction):
    """Loss and gradient bitwise the same for 1 and 2 threads (rows split between them)."""
    n, K = 320, 1000
    x = _logits((n, K), seed=59, dtype=dtype)
    if soft:
        t = np.random.default_rng(60).dirichlet(np.ones(K), size=n).astype(dtype)
        kw = dict(weight=_weights(K, seed=61), label_smoothing=0.1, temperature=0.7)
    else:
        t = _labels(n, K, seed=60, ignored=range(0, n, 17))
        kw = dict(weight=_weights(K, seed=61), label_smoothing=0.1, temperature=0.7, ignore_index=IGNORE)
    l1, g1 = fi.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, n_threads=1, **kw)
    l2, g2 = fi.softmax_cross_entropy(x, t, reduction=reduction, return_grad=True, n_threads=2, **kw)
    assert_bitwise(g1, g2)
    assert_bitwise(l1, l2)
    xc = x.copy()
    _, g3 = fi.softmax_cross_entropy(xc, t, reduction=reduction, return_grad=True, grad_out=xc, n_threads=2, **kw)
    assert_bitwise(g3, g1)


# --------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), K=st.integers(1, 8), seed=st.integers(0, 2**32 - 1),
       reduction=st.sampled_from(REDUCTIONS), temperature=st.floats(0.25, 4.0),
       weighted=st.booleans(), smoothing=st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
       p_ignore=st.sampled_from([0.0, 0.3, 1.0]), scale=st.floats(0.1, 8.0))
def test_gradient_properties(n, K, seed, reduction, temperature, weighted, smoothing, p_ignore, scale):
    """Random small cases: the gradient equals PyTorch's to 1e-12 relative; without weights each
    counted row's gradient sums to 0 over the classes (an ignored row's is exactly 0), and for
    reduction='none' every element lies in [-1/T, 1/T]."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, K)) * scale
    y = rng.integers(0, K, n)
    ignored = rng.random(n) < p_ignore
    y[ignored] = IGNORE
    w = None
    if weighted:
        w = rng.uniform(0.1, 3.0, K)
        w[rng.random(K) < 0.2] = 0.0
    kw = dict(temperature=temperature, label_smoothing=smoothing, ignore_index=IGNORE)
    loss, grad = fi.softmax_cross_entropy(x, y, reduction=reduction, weight=w, return_grad=True, **kw)
    _, tg = torch_ce(x, y, reduction=reduction, weight=w, **kw)
    assert grad.shape == x.shape and grad.dtype == np.float64
    # the size of the terms whose difference an element is (K = 1 gives exact zeros in PyTorch
    # and rounding residues of that size here)
    denom = max(1.0, float(np.sum(~ignored))) if reduction == "mean" and w is None else 1.0
    floor = (1.0 if w is None else max(1.0, float(w.max()))) / temperature / denom
    assert_grad_close(grad, tg, rtol=1e-12, floor=floor)
    assert np.all(grad[ignored] == 0.0)

    _, g0 = fi.softmax_cross_entropy(x, y, reduction="none", return_grad=True, **kw)
    assert np.all(g0[ignored] == 0.0)
    row_sums = g0[~ignored].sum(axis=-1)
    assert np.all(np.abs(row_sums) <= 1e-12 * max(1.0, 1.0 / temperature))
    bound = 1.0 / temperature
    assert np.all(g0 >= -bound * (1 + 1e-15)) and np.all(g0 <= bound * (1 + 1e-15))
    if smoothing == 0.0 and K > 1:
        # the label's element is the only negative one: p_y - 1 (over T)
        rows = np.flatnonzero(~ignored)
        assert np.all(g0[rows, y[rows]] <= 0.0)


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("case", ["labels", "soft"])
def test_gradient_matches_central_differences(case):
    """fastinfo's own loss, differentiated by central differences (step 1e-6), agrees with its
    gradient to 1e-7: an oracle independent of PyTorch."""
    n, K = 3, 4
    x = _logits((n, K), seed=62, scale=1.5)
    if case == "labels":
        t = np.array([2, IGNORE, 0])
        kw = dict(ignore_index=IGNORE, weight=np.array([0.5, 2.0, 1.2, 0.8]), label_smoothing=0.1,
                  temperature=0.7, reduction="mean", base=3)
    else:
        t = np.random.default_rng(63).dirichlet(np.ones(K), size=n)
        kw = dict(weight=np.array([0.5, 2.0, 1.2, 0.8]), label_smoothing=0.1, temperature=0.7, reduction="mean")
    _, grad = fi.softmax_cross_entropy(x, t, return_grad=True, **kw)
    h = 1e-6
    fd = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd[idx] = (float(fi.softmax_cross_entropy(xp, t, **kw)) - float(fi.softmax_cross_entropy(xm, t, **kw))) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=0, atol=1e-7)
    assert np.max(np.abs(grad)) > 1e-2
    if case == "labels":
        assert np.all(grad[1] == 0.0)


def test_an_invalid_row_in_place_is_named_by_its_index():
    """With grad_out the logits themselves, an invalid row's values are overwritten before the
    error: the message names the row and says so, instead of quoting the overwritten values."""
    x = np.random.default_rng(3).standard_normal((4, 5))
    x[2, 3] = np.inf
    with pytest.raises(ValueError, match=r"batch index \(2,\).*written over logits"):
        fi.softmax_cross_entropy(x, np.arange(4), return_grad=True, grad_out=x)
    q = np.random.default_rng(4).standard_normal((4, 5))
    q[1] = -np.inf
    with pytest.raises(ValueError, match=r"batch index \(1,\).*written over q_logits"):
        fi.softmax_kl_divergence(np.zeros((4, 5)), q, return_grad=True, grad_out=q)


def test_grad_out_beside_the_logits_in_one_buffer_is_accepted():
    """Separate halves (or interleaved columns) of one buffer do not overlap: accepted."""
    a = np.random.default_rng(5).standard_normal((4, 12))
    y = np.arange(4)
    _, want = fi.softmax_cross_entropy(a[:, :6].copy(), y, return_grad=True)
    _, got = fi.softmax_cross_entropy(a[:, :6], y, return_grad=True, grad_out=a[:, 6:])
    np.testing.assert_array_equal(got, want)
    b = np.random.default_rng(5).standard_normal((4, 12))
    _, want = fi.softmax_cross_entropy(b[:, ::2].copy(), y, return_grad=True)
    _, got = fi.softmax_cross_entropy(b[:, ::2], y, return_grad=True, grad_out=b[:, 1::2])
    np.testing.assert_array_equal(got, want)


def test_a_grad_out_tensor_that_requires_grad_is_refused_by_name():
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    with pytest.raises(TypeError, match="grad_out must be"):
        fi.softmax_cross_entropy(x, torch.arange(4), return_grad=True, grad_out=x)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("soft", [False, True])
def test_grad_output_gives_the_vector_jacobian_product(reduction, soft):
    """grad_output: PyTorch's loss.backward(grad_output), one a row for 'none', one number else."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 7))
    target = rng.dirichlet(np.ones(7), 6) if soft else rng.integers(0, 7, 6)
    u = rng.standard_normal(6) if reduction == "none" else -1.75
    _, grad = fi.softmax_cross_entropy(x, target, temperature=0.8, label_smoothing=0.1, reduction=reduction,
                                       return_grad=True, grad_output=u)
    tx = torch.tensor(x, requires_grad=True)
    loss = F.cross_entropy(tx / 0.8, torch.tensor(target), label_smoothing=0.1, reduction=reduction)
    loss.backward(torch.tensor(u, dtype=torch.float64))
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("kw,message", [
    (dict(grad_output=np.ones(4)), "return_grad=True"),
    (dict(return_grad=True, reduction="sum", grad_output=np.ones(4)), "one number"),
    (dict(return_grad=True, grad_output=np.ones(3)), "broadcast"),
])
def test_bad_grad_output(kw, message):
    with pytest.raises(ValueError, match=message):
        fi.softmax_cross_entropy(np.zeros((4, 5)), np.arange(4), **kw)
