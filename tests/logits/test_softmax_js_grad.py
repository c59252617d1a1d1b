"""The gradient of the generalized Jensen-Shannon divergence with respect to the student's logits
(softmax_js_divergence(..., return_grad=True)) against PyTorch autograd in float64: every beta
(0 and 1 the KL limits), temperatures, reductions, masks, -inf logits."""

import numpy as np
import pytest

import fastinfo as fi

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(11)


def _torch_js(p, q, beta, T):
    """sum over rows of JSD_beta(softmax(p/T), softmax(q/T)), beta = 0 / 1: KL(a||b) / KL(b||a);
    from log-probabilities (finite logits: no 0 * log 0 in the graph)"""
    la = torch.log_softmax(torch.as_tensor(p) / T, -1)
    lb = torch.log_softmax(q / T, -1)
    a, b = la.exp(), lb.exp()
    if beta == 0:
        return (a * (la - lb)).sum(-1)
    if beta == 1:
        return (b * (lb - la)).sum(-1)
    lm = torch.log(beta * a + (1 - beta) * b)
    return (beta * a * (la - lm) + (1 - beta) * b * (lb - lm)).sum(-1)


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.77, 1.0])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
def test_gradient_matches_autograd(beta, reduction):
    p = RNG.standard_normal((3, 4, 9)) * 2
    q = RNG.standard_normal((3, 4, 9)) * 2
    if beta > 0:                            # (at beta = 0, the forward KL, that makes it infinite)
        q[0, 1, 4] = -np.inf                # the student gives a class probability 0
    T = 1.7
    up = RNG.standard_normal((3, 4)) if reduction == "none" else 2.0
    v, g = fi.softmax_js_divergence(p, q, beta=beta, temperature=T, reduction=reduction, return_grad=True,
                                    grad_output=up, base=2)
    # autograd through a softmax with a -inf logit gives NaN for the whole row (0 * log 0); a
    # logit of -1e4 has the same softmax in float64 (exp underflows to exactly 0) and no NaN
    Q = torch.tensor(np.where(np.isinf(q), -1e4, q), requires_grad=True)
    rows = _torch_js(p, Q, beta, T) / np.log(2)
    val = {"none": rows, "sum": rows.sum(), "mean": rows.mean(), "batchmean": rows.sum() / 3}[reduction]
    val.backward(torch.as_tensor(up) if reduction == "none" else torch.tensor(up, dtype=torch.float64))
    np.testing.assert_allclose(v, val.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g, Q.grad.numpy(), rtol=1e-11, atol=1e-14)
    if beta > 0:
        assert g[0, 1, 4] == 0              # a class the student gives probability 0: no gradient


@pytest.mark.parametrize("beta", [0.3, 0.5])
def test_masks_leave_rows_out(beta):
    p = RNG.standard_normal((6, 5))
    q = RNG.standard_normal((6, 5))
    labels = np.array([1, -100, 2, -100, 0, 4])
    q_bad = q.copy()
    q_bad[labels == -100] = np.nan          # rows left out are never read
    v, g = fi.softmax_js_divergence(p, q_bad, beta=beta, labels=labels, ignore_index=-100, reduction="mean",
                                    return_grad=True)
    keep = labels != -100
    Q = torch.tensor(q[keep], requires_grad=True)
    _torch_js(p[keep], Q, beta, 1.0).mean().backward()
    assert (g[~keep] == 0).all()
    np.testing.assert_allclose(g[keep], Q.grad.numpy(), rtol=1e-11, atol=1e-14)
    _, g2 = fi.softmax_js_divergence(p, q, beta=beta, where=keep, reduction="mean", return_grad=True)
    np.testing.assert_array_equal(g2, np.where(keep[:, None], g, 0.0))


def test_symmetry_and_outputs():
    p = RNG.standard_normal((4, 6))
    q = RNG.standard_normal((4, 6))
    # the 1/2 case is symmetric in value; its gradient in q is that of JSD(q, p) in its first argument
    v1 = fi.softmax_js_divergence(p, q)
    v2 = fi.softmax_js_divergence(q, p)
    np.testing.assert_allclose(v1, v2, rtol=1e-14)
    go = np.empty_like(q)
    v, g = fi.softmax_js_divergence(p, q, beta=0.25, return_grad=True, grad_out=go)
    assert g is go
    q32 = q.astype(np.float32)
    _, g32 = fi.softmax_js_divergence(p.astype(np.float32), q32, beta=0.25, return_grad=True)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, go, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="return_grad"):
        fi.softmax_js_divergence(p, q, grad_output=1.0)
    with pytest.raises(ValueError, match="larger batch"):
        fi.softmax_js_divergence(p, q[0], return_grad=True)
    bad = q.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="batch index"):
        fi.softmax_js_divergence(p, bad, return_grad=True)
    v, g = fi.softmax_js_divergence(p, bad, return_grad=True, invalid="nan")
    assert np.isnan(g[2]).all() and np.isfinite(np.delete(g, 2, 0)).all()
