"""The vector-Jacobian products of logsumexp and log_softmax (return_grad=True, grad_output)
against PyTorch autograd in float64: axes, temperatures, -inf logits, upstream gradients of any
sign, in-place and given outputs, the narrow dtypes, invalid rows."""

import numpy as np
import pytest

import fastinfo as fi

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(21)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_logsumexp_vjp(axis):
    x = RNG.standard_normal((4, 5, 6)) * 3
    x[1, 2, 3] = -np.inf
    batch = np.delete(np.array(x.shape), axis % 3)
    u = RNG.standard_normal(tuple(batch))
    v, g = fi.logsumexp(x, axis=axis, return_grad=True, grad_output=u)
    X = torch.tensor(x, requires_grad=True)
    V = torch.logsumexp(X, axis)
    V.backward(torch.tensor(u))
    np.testing.assert_allclose(v, V.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(g, X.grad.numpy(), rtol=1e-13, atol=1e-16)
    assert g[1, 2, 3] == 0                  # a -inf logit: probability 0, no gradient


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("T", [1.0, 0.6])
def test_log_softmax_vjp(axis, T):
    x = RNG.standard_normal((7, 9)) * 2
    x[3, 4] = -np.inf
    u = RNG.standard_normal((7, 9))
    y, g = fi.log_softmax(x, temperature=T, axis=axis, return_grad=True, grad_output=u)
    X = torch.tensor(x, requires_grad=True)
    Y = torch.log_softmax(X / T, axis)
    Y.backward(torch.tensor(u))
    fin = np.isfinite(y)
    np.testing.assert_allclose(y[fin], Y.detach().numpy()[fin], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(g, X.grad.numpy(), rtol=1e-12, atol=1e-15)
    # the default upstream gradient: ones, the gradient of the sum
    _, g1 = fi.log_softmax(x, temperature=T, axis=axis, return_grad=True)
    X.grad = None
    torch.log_softmax(X / T, axis).sum().backward()
    np.testing.assert_allclose(g1, X.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_outputs_dtypes_and_errors():
    x = RNG.standard_normal((5, 8))
    xx = x.copy()
    v, g = fi.logsumexp(xx, return_grad=True, grad_out=xx)          # in place
    assert g is xx
    np.testing.assert_allclose(g, fi.softmax(x), rtol=1e-14)
    xs = x.copy()
    y, g = fi.log_softmax(xs, return_grad=True, grad_out=xs, grad_output=np.ones(8))
    assert g is xs
    np.testing.assert_allclose(y, fi.log_softmax(x), rtol=1e-15)
    for dt in (np.float32, np.float16):
        _, g = fi.logsumexp(x.astype(dt), return_grad=True)
        assert g.dtype == np.float32
        _, g = fi.log_softmax(x.astype(dt), return_grad=True, grad_output=x)
        assert g.dtype == np.float32
    with pytest.raises(ValueError, match="return_grad"):
        fi.logsumexp(x, grad_output=1.0)
    with pytest.raises(ValueError, match="keepdims"):
        fi.logsumexp(x, keepdims=True, return_grad=True)
    with pytest.raises(ValueError, match="broadcast"):
        fi.log_softmax(x, return_grad=True, grad_output=np.ones(3))
    bad = x.copy()
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="batch index"):
        fi.logsumexp(bad, return_grad=True)
    _, g = fi.logsumexp(bad, return_grad=True, invalid="nan")
    assert np.isnan(g[2]).all() and np.isfinite(np.delete(g, 2, 0)).all()
    u = np.ones_like(x)
    u[4, 0] = np.nan
    with pytest.raises(ValueError, match="grad_output"):
        fi.log_softmax(x, return_grad=True, grad_output=u)
    _, g = fi.logsumexp(np.full((2, 3), -np.inf), return_grad=True)
    assert np.isnan(g).all()          # softmax undefined
