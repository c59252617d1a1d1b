"""The gradient of softmax_kl_divergence with respect to the student's logits (q_logits,
return_grad=True): PyTorch's autograd of kl_div(log_softmax(q/T), log_softmax(p/T),
log_target=True) in float64 as the oracle, for every reduction, masks, temperature, (B, S, V)
and 2-D logits, a class axis not last, one teacher row for every student row; central
differences; float32 and bfloat16; grad_out (in place too); torch tensors; the errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo

torch = pytest.importorskip("torch")
F = torch.nn.functional


def oracle(p, q, T, reduction, keep=None):
    """The divergence as PyTorch writes it, summed over the classes, masked, reduced; and its
    gradient with respect to q."""
    tq = torch.tensor(q, dtype=torch.float64, requires_grad=True)
    tp = torch.tensor(p, dtype=torch.float64)
    per = F.kl_div(F.log_softmax(tq / T, -1), F.log_softmax(tp / T, -1), log_target=True, reduction="none").sum(-1)
    kept = torch.ones(per.shape, dtype=torch.bool) if keep is None else torch.tensor(np.broadcast_to(keep, per.shape))
    per = torch.where(kept, per, torch.zeros_like(per))
    if reduction == "none":
        total, value = per.sum(), per
    else:
        den = {"sum": 1, "mean": kept.sum(), "batchmean": per.shape[0] if per.ndim else 1}[reduction]
        total = value = per.sum() / den
    total.backward()
    return value.detach().numpy(), tq.grad.numpy()


RNG = np.random.default_rng(21)
P3 = RNG.standard_normal((3, 5, 40)) * 2
Q3 = RNG.standard_normal((3, 5, 40)) * 2
LAB = RNG.integers(0, 40, (3, 5))
LAB[0, 1] = LAB[2, 4] = -100


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
@pytest.mark.parametrize("T", [1.0, 0.7, 2.0])
@pytest.mark.parametrize("mask", ["none", "labels", "where"])
def test_gradient_matches_autograd(reduction, T, mask):
    kw, keep = {}, None
    if mask == "labels":
        kw, keep = dict(labels=LAB, ignore_index=-100), LAB != -100
    elif mask == "where":
        keep = LAB % 3 != 0
        kw = dict(where=keep)
    value, grad = fastinfo.softmax_kl_divergence(P3, Q3, temperature=T, reduction=reduction, return_grad=True, **kw)
    want_value, want_grad = oracle(P3, Q3, T, reduction, keep)
    np.testing.assert_allclose(value, want_value, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-16)
    if keep is not None:
        assert not grad[~keep].any()             # a row left out: gradient 0
    np.testing.assert_array_equal(value, fastinfo.softmax_kl_divergence(P3, Q3, temperature=T,
                                                                        reduction=reduction, **kw))


def test_central_differences():
    p, q = P3[0, :2, :6], Q3[0, :2, :6]
    _, grad = fastinfo.softmax_kl_divergence(p, q, temperature=1.5, reduction="sum", return_grad=True)
    h = 1e-6
    fd = np.empty_like(q)
    for i in np.ndindex(q.shape):
        e = np.zeros_like(q)
        e[i] = h
        fd[i] = (fastinfo.softmax_kl_divergence(p, q + e, temperature=1.5, reduction="sum")
                 - fastinfo.softmax_kl_divergence(p, q - e, temperature=1.5, reduction="sum")) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_class_axis_first_one_teacher_row_and_base():
    q = Q3[0].T.copy()                                  # (V, N): classes on axis 0
    p = P3[0, 0]                                        # one teacher row for every student row
    value, grad = fastinfo.softmax_kl_divergence(p[:, None], q, axis=0, base=2, reduction="mean",
                                                 return_grad=True)
    want_value, want_grad = oracle(np.broadcast_to(p, q.T.shape), q.T, 1.0, "mean")
    np.testing.assert_allclose(grad, want_grad.T / math.log(2), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(value, want_value / math.log(2), rtol=1e-12)


def test_minus_infinity_logits_and_invalid_rows():
    p, q = P3[1].copy(), Q3[1].copy()
    p[0, :5] = -np.inf          # the teacher's zeros: a gradient of the student's probability there
    q[1, :3] = -np.inf          # the student's zeros (where the teacher has mass: KL = +inf)
    q[2, 7] = np.nan
    value, grad = fastinfo.softmax_kl_divergence(p, q, invalid="nan", return_grad=True)
    _, want = oracle(p[:2], q[:2], 1.0, "none")
    np.testing.assert_allclose(grad[:2], want, rtol=1e-12, atol=1e-16)
    assert np.isinf(value[1]) and np.isnan(value[2]) and np.isnan(grad[2]).all()
    assert np.isfinite(grad[[0, 1, 3, 4]]).all()
    with pytest.raises(ValueError, match="batch index"):
        fastinfo.softmax_kl_divergence(p, q, return_grad=True)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_narrow_logits_give_a_float32_gradient(dtype):
    if dtype == "bfloat16":
        ml = pytest.importorskip("ml_dtypes")
        dt = ml.bfloat16
    else:
        dt = np.dtype(dtype)
    p, q = P3.astype(dt), Q3.astype(dt)
    _, grad = fastinfo.softmax_kl_divergence(p, q, temperature=2.0, reduction="batchmean", return_grad=True)
    assert grad.dtype == np.float32
    _, want = oracle(p.astype(np.float64), q.astype(np.float64), 2.0, "batchmean")
    np.testing.assert_allclose(grad, want, rtol=0, atol=2e-7)


def test_grad_out_in_place_and_threads():
    q = Q3.astype(np.float32)
    p = P3.astype(np.float32)
    _, want = fastinfo.softmax_kl_divergence(p, q, return_grad=True, n_threads=1)
    _, two = fastinfo.softmax_kl_divergence(p, q, return_grad=True, n_threads=2)
    np.testing.assert_array_equal(want, two)
    g = np.full_like(q, 9.0)
    _, got = fastinfo.softmax_kl_divergence(p, q, return_grad=True, grad_out=g)
    assert got is g
    np.testing.assert_array_equal(g, want)
    qq = q.copy()
    _, got = fastinfo.softmax_kl_divergence(p, qq, return_grad=True, grad_out=qq)
    assert got is qq
    np.testing.assert_array_equal(qq, want)


def test_torch_tensors_in_and_out():
    tp, tq = torch.tensor(P3, dtype=torch.bfloat16), torch.tensor(Q3, dtype=torch.bfloat16)
    value, grad = fastinfo.softmax_kl_divergence(tp, tq, reduction="sum", return_grad=True)
    assert isinstance(value, torch.Tensor) and isinstance(grad, torch.Tensor) and grad.dtype == torch.float32
    tq2 = torch.tensor(Q3, dtype=torch.float32)
    _, got = fastinfo.softmax_kl_divergence(torch.tensor(P3, dtype=torch.float32), tq2, return_grad=True,
                                           grad_out=tq2)
    assert got is tq2


@pytest.mark.parametrize("kw,exc,message", [
    (dict(grad_out=np.empty((3, 5, 40))), ValueError, "return_grad=True"),
    (dict(return_grad=True, grad_out=np.empty((3, 5, 40), np.float32)), TypeError, "grad_out"),
    (dict(return_grad=True, grad_out=np.empty((3, 40, 5))), ValueError, "shape"),
    (dict(return_grad=True, grad_out=P3), ValueError, "p_logits"),
    (dict(return_grad=True, keepdims=True), ValueError, "keepdims"),
    (dict(return_grad=1), TypeError, "return_grad"),
])
def test_bad_gradient_arguments(kw, exc, message):
    with pytest.raises(exc, match=message):
        fastinfo.softmax_kl_divergence(P3, Q3, **kw)


def test_teacher_rows_that_broadcast_the_student_are_refused():
    with pytest.raises(ValueError, match="larger batch"):
        fastinfo.softmax_kl_divergence(P3, Q3[0, 0], return_grad=True)


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from([(7,), (4, 9), (2, 3, 6)]), seed=st.integers(0, 2**31),
       reduction=st.sampled_from(["none", "sum", "mean", "batchmean"]), T=st.floats(0.25, 4.0),
       scale=st.floats(0.1, 30.0))
def test_property_matches_autograd_and_rows_sum_to_zero(shape, seed, reduction, T, scale):
    """Against autograd; each row's gradient sums to 0 (a difference of two distributions) and
    lies in [-1/T, 1/T] for reduction 'none'."""
    rng = np.random.default_rng(seed)
    p, q = rng.standard_normal(shape) * scale, rng.standard_normal(shape) * scale
    _, grad = fastinfo.softmax_kl_divergence(p, q, temperature=T, reduction=reduction, return_grad=True)
    _, want = oracle(p, q, T, reduction)
    np.testing.assert_allclose(grad, want, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(grad.sum(-1), 0.0, atol=1e-14 / T)
    if reduction == "none":
        assert np.abs(grad).max() <= (1 + 1e-12) / T


def test_teacher_rows_with_extra_length_one_axes_are_accepted():
    """p (1, 1, K) against q (1, K): the batch does not grow, the gradient has q's shape."""
    p, q = P3[:1, :1], Q3[0, :1]
    value, grad = fastinfo.softmax_kl_divergence(p, q, return_grad=True)
    assert grad.shape == q.shape and np.shape(value) == (1, 1)
    _, want = oracle(p[0], q, 1.0, "none")
    np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
def test_grad_output_gives_the_vector_jacobian_product(reduction):
    """grad_output: PyTorch's value.backward(grad_output), one a row for 'none', one number else."""
    rng = np.random.default_rng(8)
    u = rng.standard_normal(P3.shape[:-1]) if reduction == "none" else 2.5
    value, grad = fastinfo.softmax_kl_divergence(P3, Q3, temperature=1.5, labels=LAB, ignore_index=-100,
                                                 reduction=reduction, return_grad=True, grad_output=u)
    tq = torch.tensor(Q3, requires_grad=True)
    per = F.kl_div(F.log_softmax(tq / 1.5, -1), F.log_softmax(torch.tensor(P3) / 1.5, -1), log_target=True,
                   reduction="none").sum(-1) * torch.tensor(LAB != -100)
    keep = float((LAB != -100).sum())
    v = {"none": per, "sum": per.sum(), "mean": per.sum() / keep, "batchmean": per.sum() / P3.shape[0]}[reduction]
    v.backward(torch.tensor(u))
    np.testing.assert_allclose(grad, tq.grad.numpy(), rtol=1e-12, atol=1e-16)
