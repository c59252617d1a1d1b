"""fastinfo.torch against torch.nn.functional: values and gradients (float64, every option and
reduction), torch.autograd.gradcheck, a model trained step for step beside PyTorch's loss, the
narrow dtypes, and what the forward pass keeps."""

import tracemalloc

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
ft = pytest.importorskip("fastinfo.torch")

RNG = np.random.default_rng(7)


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@pytest.fixture(autouse=True)
def _quiet_kl_div_mean():
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "reduction: 'mean' divides", UserWarning)    # F.kl_div's own
        yield


def _both(fn_ours, fn_torch, x, *args, upstream=None, **kw):
    """(value, gradient) of each function of x: ours, PyTorch's"""
    out = []
    for fn in (fn_ours, fn_torch):
        X = x.detach().clone().requires_grad_()
        v = fn(X, *args, **kw)
        v.backward(upstream if upstream is not None else torch.ones_like(v))
        out.append((v.detach(), X.grad))
    return out


CE_CASES = [dict(), dict(reduction="sum"), dict(reduction="none"), dict(label_smoothing=0.15),
            dict(weight=True), dict(weight=True, label_smoothing=0.3, reduction="none"),
            dict(ignore_index=2), dict(weight=True, ignore_index=-100, label_smoothing=0.1)]


@pytest.mark.parametrize("case", CE_CASES, ids=str)
def test_cross_entropy_matches_pytorch(case):
    x = _t(RNG.standard_normal((40, 7)) * 3)
    y = torch.tensor(RNG.integers(0, 7, 40))
    kw = dict(case)
    y[::9] = kw.get("ignore_index", -100)
    if kw.pop("weight", False):
        kw["weight"] = _t(RNG.random(7) + 0.2)
    up = _t(RNG.standard_normal(40)) if kw.get("reduction") == "none" else _t(2.5)
    (v, g), (v2, g2) = _both(ft.cross_entropy, F.cross_entropy, x, y, upstream=up, **kw)
    torch.testing.assert_close(v, v2, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(g, g2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_soft_targets_and_class_dimension_one(reduction):
    x = _t(RNG.standard_normal((5, 6, 3, 2)) * 2)              # (N, C, d1, d2)
    p = torch.softmax(_t(RNG.standard_normal((5, 6, 3, 2))), 1)
    w = _t(RNG.random(6) + 0.5)
    (v, g), (v2, g2) = _both(ft.cross_entropy, F.cross_entropy, x, p, weight=w, label_smoothing=0.2,
                             reduction=reduction)
    torch.testing.assert_close(v, v2, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(g, g2, rtol=1e-12, atol=1e-14)
    y = torch.tensor(RNG.integers(0, 6, (5, 3, 2)))
    (v, g), (v2, g2) = _both(ft.cross_entropy, F.cross_entropy, x, y, reduction=reduction)
    torch.testing.assert_close(g, g2, rtol=1e-12, atol=1e-14)
    (v, g), (v2, g2) = _both(ft.cross_entropy, F.cross_entropy, x[0, :, 0, 0], y[0, 0, 0])   # one row (C,)
    torch.testing.assert_close(g, g2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_pytorch_on_log_probabilities(reduction, log_target):
    s = torch.log_softmax(_t(RNG.standard_normal((30, 9)) * 2), 1)
    t = torch.log_softmax(_t(RNG.standard_normal((30, 9)) * 2), 1)
    t = t if log_target else t.exp()
    (v, g), (v2, g2) = _both(ft.kl_div, F.kl_div, s, t, reduction=reduction, log_target=log_target)
    torch.testing.assert_close(v, v2, rtol=1e-12, atol=1e-14)
    # F.kl_div does not normalize its input: the gradients agree once through the log-softmax
    # that made the log-probabilities, which a model has
    z = _t(RNG.standard_normal((30, 9)) * 2)
    (v, g), (v2, g2) = _both(lambda a, *r, **k: ft.kl_div(torch.log_softmax(a, 1), *r, **k),
                             lambda a, *r, **k: F.kl_div(torch.log_softmax(a, 1), *r, **k), z, t,
                             reduction=reduction, log_target=log_target)
    torch.testing.assert_close(g, g2, rtol=1e-11, atol=1e-14)


def test_kl_div_distillation_from_logits_with_temperature():
    s = _t(RNG.standard_normal((20, 11)) * 3)
    t = _t(RNG.standard_normal((20, 11)) * 3)
    T = 2.5
    (v, g), (v2, g2) = _both(lambda a: ft.kl_div(a, t, reduction="batchmean", log_target=True, temperature=T),
                             lambda a: F.kl_div(F.log_softmax(a / T, 1), F.log_softmax(t / T, 1),
                                                reduction="batchmean", log_target=True), s)
    torch.testing.assert_close(v, v2, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g, g2, rtol=1e-12, atol=1e-14)
    v = ft.kl_div(torch.log_softmax(s, 1), torch.log_softmax(t, 1), reduction="none", log_target=True)
    v2 = F.kl_div(torch.log_softmax(s, 1), torch.log_softmax(t, 1), reduction="none", log_target=True).sum(-1)
    torch.testing.assert_close(v, v2, rtol=1e-12, atol=1e-14)      # "none": a value a row


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_matches_pytorch(reduction):
    x = _t(RNG.standard_normal((12, 5)) * 8)
    z = _t(RNG.random((12, 5)))
    w = _t(RNG.random(5))
    pw = _t(RNG.random(5) * 3)
    up = _t(RNG.standard_normal((12, 5))) if reduction == "none" else None
    (v, g), (v2, g2) = _both(ft.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, x, z,
                             weight=w, pos_weight=pw, reduction=reduction, upstream=up)
    torch.testing.assert_close(v, v2, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g, g2, rtol=1e-12, atol=1e-14)


def test_gradcheck():
    x = _t(RNG.standard_normal((4, 5)), grad=True)
    y = torch.tensor([0, 3, -100, 4])
    w = _t(RNG.random(5) + 0.5)
    assert torch.autograd.gradcheck(lambda a: ft.cross_entropy(a, y, weight=w, label_smoothing=0.1), (x,))
    assert torch.autograd.gradcheck(lambda a: ft.cross_entropy(a, y, reduction="none"), (x,))
    p = torch.softmax(_t(RNG.standard_normal((4, 5))), 1)
    assert torch.autograd.gradcheck(lambda a: ft.cross_entropy(a, p, reduction="sum"), (x,))
    t = _t(RNG.standard_normal((4, 5)))
    assert torch.autograd.gradcheck(lambda a: ft.kl_div(a, t, reduction="batchmean", log_target=True,
                                                        temperature=1.7), (x,))
    assert torch.autograd.gradcheck(lambda a: ft.kl_div(a, p, reduction="none"), (x,))
    z = _t(RNG.random((4, 5)))
    assert torch.autograd.gradcheck(lambda a: ft.binary_cross_entropy_with_logits(a, z, pos_weight=w), (x,))


def test_training_follows_pytorch_step_for_step():
    """A small MLP, float64, SGD with momentum: the loss curve of fastinfo.torch.cross_entropy
    is F.cross_entropy's to 1e-10 at every step."""
    X = _t(RNG.standard_normal((256, 20)))
    y = torch.tensor(RNG.integers(0, 10, 256))
    curves = []
    for loss_fn in (ft.cross_entropy, F.cross_entropy):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.Tanh(), torch.nn.Linear(64, 10)).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
        curve = []
        for _ in range(60):
            opt.zero_grad()
            loss = loss_fn(model(X), y, label_smoothing=0.05)
            loss.backward()
            opt.step()
            curve.append(loss.item())
        curves.append(np.array(curve))
    np.testing.assert_allclose(curves[0], curves[1], rtol=0, atol=1e-10)
    assert curves[0][-1] < 0.5 * curves[0][0]          # it trained


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_narrow_dtypes(dtype):
    x = torch.tensor(RNG.standard_normal((16, 33)) * 3, dtype=dtype)
    y = torch.tensor(RNG.integers(0, 33, 16))
    (v, g), (v2, g2) = _both(ft.cross_entropy, F.cross_entropy, x.float(), y)
    X = x.clone().requires_grad_()
    loss = ft.cross_entropy(X, y)
    loss.backward()
    assert loss.dtype == dtype and X.grad.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-2, atol=1e-3)
    torch.testing.assert_close(loss.float(), v2, **tol)
    torch.testing.assert_close(X.grad.float(), g2, **tol)


def test_forward_keeps_two_numbers_a_row():
    x = torch.randn(512, 8192, requires_grad=True)
    y = torch.randint(0, 8192, (512,))
    tracemalloc.start()
    loss = ft.cross_entropy(x, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100_000, peak                        # the logits are 16 MB
    loss.backward()
    torch.testing.assert_close(x.grad, torch.autograd.grad(F.cross_entropy(x, y), x)[0], rtol=1e-5, atol=1e-8)


def test_errors():
    x = torch.randn(3, 4, requires_grad=True)
    t = torch.softmax(torch.randn(3, 4), 1).requires_grad_()
    with pytest.raises(RuntimeError, match="target.detach"):
        ft.cross_entropy(x, t)
    with pytest.raises(RuntimeError, match="target.detach"):
        ft.kl_div(x, t)
    with pytest.raises(ValueError, match="reduction"):
        ft.kl_div(x, t.detach(), reduction="avg")
    with pytest.raises(IndexError):
        ft.cross_entropy(x, torch.tensor([0, 4, 1]))
    x2 = x.detach().clone().requires_grad_()
    loss = ft.cross_entropy(x2 * 1.0, torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="floating|float|integers"):
        ft.cross_entropy(x, torch.tensor([0.0, 1.0, 2.0]))
    w = x2.detach().clone().requires_grad_()
    h = w * 2
    loss = ft.cross_entropy(h, torch.tensor([0, 1, 2]))
    with torch.no_grad():
        h.add_(1.0)                                    # changed between forward and backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_review_cases():
    """bfloat16 BCE, double backward refused, targets and weights that require grad, shapes
    checked in the forward pass, batchmean of a 1-D input as F.kl_div's."""
    x = torch.randn(4, 5, dtype=torch.bfloat16, requires_grad=True)
    z = torch.rand(4, 5, dtype=torch.bfloat16)
    loss = ft.binary_cross_entropy_with_logits(x, z)
    loss.backward()
    assert loss.dtype == torch.bfloat16 and x.grad.dtype == torch.bfloat16
    xd = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    g, = torch.autograd.grad(ft.cross_entropy(xd, torch.tensor([0, 1, 2])), xd, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()                              # no second derivative
    w = torch.ones(4, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="weight.detach"):
        ft.cross_entropy(xd, torch.tensor([0, 1, 2]), weight=w)
    with pytest.raises(ValueError, match="input's shape"):
        ft.kl_div(xd[:1], torch.randn(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="input's shape"):
        ft.binary_cross_entropy_with_logits(xd, torch.rand(4, dtype=torch.float64))
    s = torch.log_softmax(torch.randn(6, dtype=torch.float64), 0)
    t = torch.softmax(torch.randn(6, dtype=torch.float64), 0)
    torch.testing.assert_close(ft.kl_div(s, t, reduction="batchmean"), F.kl_div(s, t, reduction="batchmean"),
                               rtol=1e-12, atol=1e-14)


def test_log_softmax_broadcasts_grad_output_as_numpy():
    import fastinfo as fi
    x = np.random.default_rng(5).standard_normal((3, 3))
    u = np.array([1.0, -2.0, 0.5])
    X = torch.tensor(x, requires_grad=True)
    torch.log_softmax(X, 0).backward(torch.tensor(u).expand(3, 3))
    _, g = fi.log_softmax(x, axis=0, return_grad=True, grad_output=u)
    np.testing.assert_allclose(g, X.grad.numpy(), rtol=1e-12, atol=1e-15)
    x2 = np.zeros((2, 3))
    x2[0, 1] = x2[0, 2] = -np.inf
    _, g2 = fi.log_softmax(x2, return_grad=True, grad_output=[[0.0, 1.0, -1.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(g2[0], [0.0, 1.0, -1.0])   # -inf logits with u of both signs: valid
