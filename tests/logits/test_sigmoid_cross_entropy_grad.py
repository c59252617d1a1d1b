"""The gradient of sigmoid_cross_entropy with respect to the logits (return_grad=True):
PyTorch's autograd of binary_cross_entropy_with_logits in float64 as the oracle, for every
reduction with pos_weight and weight, -inf logits, base, float32; central differences on a
small case; grad_out (in place too), torch tensors in and out, the errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo

torch = pytest.importorskip("torch")
F = torch.nn.functional


def oracle(x, z, reduction, pos_weight=None, weight=None):
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    kw = {k: torch.tensor(v, dtype=torch.float64) for k, v in (("pos_weight", pos_weight), ("weight", weight))
          if v is not None}
    loss = F.binary_cross_entropy_with_logits(tx, torch.tensor(z, dtype=torch.float64), reduction=reduction, **kw)
    loss.backward(torch.ones_like(loss))
    return loss.detach().numpy(), tx.grad.numpy()


RNG = np.random.default_rng(11)
X = RNG.standard_normal((9, 6)) * 5
Z = RNG.random((9, 6))
PW = RNG.random(6) * 3
W = RNG.random((9, 6)) - 0.2          # a few negative weights: PyTorch accepts any finite weight


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("opts", ["plain", "pos_weight", "weight", "both"])
def test_gradient_matches_autograd(reduction, opts):
    kw = {"pos_weight": PW if opts in ("pos_weight", "both") else None,
          "weight": W if opts in ("weight", "both") else None}
    loss, grad = fastinfo.sigmoid_cross_entropy(X, Z, reduction=reduction, return_grad=True, **kw)
    want_loss, want_grad = oracle(X, Z, reduction, **kw)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-13, atol=1e-16)
    assert grad.shape == X.shape and grad.dtype == np.float64
    # the loss is the one returned without the gradient, bit for bit
    np.testing.assert_array_equal(loss, fastinfo.sigmoid_cross_entropy(X, Z, reduction=reduction, **kw))


def test_central_differences():
    """An oracle other than autograd: (L(x + h e_i) - L(x - h e_i)) / 2h of the summed loss."""
    x, z = X[:2, :4], Z[:2, :4]
    _, grad = fastinfo.sigmoid_cross_entropy(x, z, pos_weight=PW[:4], reduction="sum", return_grad=True)
    h = 1e-6
    fd = np.empty_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        fd[i] = (fastinfo.sigmoid_cross_entropy(x + e, z, pos_weight=PW[:4], reduction="sum")
                 - fastinfo.sigmoid_cross_entropy(x - e, z, pos_weight=PW[:4], reduction="sum")) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-8)


def test_masked_logits_base_and_zero_target_weights():
    """-inf logits with target 0 have gradient 0 (PyTorch's too) and loss 0 (a mask; PyTorch's
    loss is NaN there: 0 * inf); a base divides by ln(base)."""
    x = X.copy()
    x[0, :3] = -np.inf
    z = Z.copy()
    z[0, :3] = 0.0
    loss, grad = fastinfo.sigmoid_cross_entropy(x, z, base=2, return_grad=True)
    want_loss, want_grad = oracle(x, z, "none")
    np.testing.assert_allclose(grad, want_grad / math.log(2), rtol=1e-13, atol=1e-16)
    assert not grad[0, :3].any() and not loss[0, :3].any()
    np.testing.assert_allclose(loss[1:], want_loss[1:] / math.log(2), rtol=1e-13)


def test_invalid_elements_give_nan_gradients():
    x = X.copy()
    x[2, 1] = np.nan
    loss, grad = fastinfo.sigmoid_cross_entropy(x, Z, invalid="nan", return_grad=True)
    assert np.isnan(grad[2, 1]) and np.isfinite(np.delete(grad.ravel(), 2 * 6 + 1)).all()
    with pytest.raises(ValueError, match=r"\(2, 1\)"):
        fastinfo.sigmoid_cross_entropy(x, Z, return_grad=True)


def test_float32_and_bool_targets():
    x32 = X.astype(np.float32)
    loss, grad = fastinfo.sigmoid_cross_entropy(x32, Z > 0.5, return_grad=True)
    assert grad.dtype == np.float32
    _, want = oracle(x32.astype(np.float64), (Z > 0.5).astype(np.float64), "none")
    np.testing.assert_allclose(grad, want, rtol=2e-6, atol=1e-7)


def test_grad_out_and_in_place():
    _, want = fastinfo.sigmoid_cross_entropy(X, Z, pos_weight=PW, return_grad=True)
    g = np.full_like(X, -7.0)
    _, got = fastinfo.sigmoid_cross_entropy(X, Z, pos_weight=PW, return_grad=True, grad_out=g)
    assert got is g
    np.testing.assert_array_equal(g, want)
    x = X.copy()
    _, got = fastinfo.sigmoid_cross_entropy(x, Z, pos_weight=PW, return_grad=True, grad_out=x)
    assert got is x
    np.testing.assert_array_equal(x, want)


def test_torch_tensors_in_and_out():
    tx, tz = torch.tensor(X, dtype=torch.float32), torch.tensor(Z, dtype=torch.float32)
    loss, grad = fastinfo.sigmoid_cross_entropy(tx, tz, reduction="mean", return_grad=True)
    assert isinstance(loss, torch.Tensor) and isinstance(grad, torch.Tensor) and grad.dtype == torch.float32
    _, want = oracle(tx.double().numpy(), tz.double().numpy(), "mean")
    np.testing.assert_allclose(grad.numpy(), want, rtol=2e-6, atol=1e-9)
    x = tx.clone()
    _, got = fastinfo.sigmoid_cross_entropy(x, tz, return_grad=True, grad_out=x)
    assert got is x


@pytest.mark.parametrize("kw,exc,message", [
    (dict(grad_out=np.empty((9, 6))), ValueError, "return_grad=True"),
    (dict(return_grad=True, grad_out=np.empty((9, 6), np.float32)), TypeError, "grad_out"),
    (dict(return_grad=True, grad_out=np.empty((6, 9))), ValueError, "grad_out"),
    (dict(return_grad="yes"), TypeError, "return_grad"),
])
def test_bad_gradient_arguments(kw, exc, message):
    with pytest.raises(exc, match=message):
        fastinfo.sigmoid_cross_entropy(X, Z, **kw)


def test_targets_that_broadcast_the_logits_are_refused():
    with pytest.raises(ValueError, match="larger shape"):
        fastinfo.sigmoid_cross_entropy(X[0], Z, return_grad=True)


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from([(1,), (3, 4), (2, 3, 5)]), seed=st.integers(0, 2**31),
       reduction=st.sampled_from(["none", "sum", "mean"]), pw=st.booleans(), scale=st.floats(0.1, 50))
def test_property_matches_autograd_and_is_bounded(shape, seed, reduction, pw, scale):
    """Against autograd, and |grad| <= max(1, pw) without weights (a sigmoid minus a target)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    z = rng.random(shape)
    p = rng.random(shape[-1]) * 2 if pw else None
    _, grad = fastinfo.sigmoid_cross_entropy(x, z, pos_weight=p, reduction=reduction, return_grad=True)
    _, want = oracle(x, z, reduction, pos_weight=p)
    np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-15)
    bound = max(1.0, float(p.max()) if pw else 1.0) / (x.size if reduction == "mean" else 1)
    assert np.abs(grad).max() <= bound * (1 + 1e-12)


def test_grad_output_gives_the_vector_jacobian_product():
    u = np.random.default_rng(12).standard_normal(X.shape)
    _, grad = fastinfo.sigmoid_cross_entropy(X, Z, pos_weight=PW, return_grad=True, grad_output=u)
    tx = torch.tensor(X, requires_grad=True)
    F.binary_cross_entropy_with_logits(tx, torch.tensor(Z), pos_weight=torch.tensor(PW),
                                       reduction="none").backward(torch.tensor(u))
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-13, atol=1e-16)
    with pytest.raises(ValueError, match="one number"):
        fastinfo.sigmoid_cross_entropy(X, Z, reduction="mean", return_grad=True, grad_output=u)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_empty_batches_give_empty_gradients(reduction):
    """No rows: the gradient is empty (a mean over nothing is NaN), never a division error."""
    e = np.zeros((0, 3))
    calls = [lambda: fastinfo.sigmoid_cross_entropy(e, e, reduction=reduction, return_grad=True),
             lambda: fastinfo.softmax_cross_entropy(e, e, reduction=reduction, return_grad=True),
             lambda: fastinfo.softmax_cross_entropy(e, np.zeros(0, int), reduction=reduction, return_grad=True),
             lambda: fastinfo.softmax_kl_divergence(e, e, reduction=reduction, return_grad=True)]
    for call in calls:
        value, grad = call()
        assert grad.shape == (0, 3)
        if reduction == "mean":
            assert np.isnan(value)
