"""PyTorch autograd functions computed by fastinfo's kernels, for training on the CPU.

``cross_entropy``, ``kl_div`` and ``binary_cross_entropy_with_logits`` take the arguments
of the ``torch.nn.functional`` functions they mirror, with their defaults, and return a
tensor that ``backward()`` differentiates. The softmax losses read the logits once in the
forward pass and keep two numbers a row (the log-sum-exp of each row and, for soft targets,
the targets' weighted sum; the KL: both rows' log-sum-exps); the backward pass writes the
gradient from them in one pass over the logits -- no log-softmax or softmax of the logits'
size is kept between the two, as PyTorch's own functions keep. The binary loss is
elementwise and keeps its inputs.

CPU tensors of float64, float32, bfloat16 and float16 (the last two computed in float32,
their loss and gradient returned in their own dtype). The gradient with respect to the
targets is not computed: a target that requires grad raises (``target.detach()``), as does
double differentiation. Importing this module imports PyTorch; ``import fastinfo`` does not.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import _interop
from . import _logits

__all__ = ["cross_entropy", "kl_div", "binary_cross_entropy_with_logits"]


def _np(t: Any, name: str) -> Any:
    """A CPU tensor's memory as a NumPy array (no copy where it can be; bfloat16 as
    ml_dtypes' bfloat16), or another argument as it is."""
    if not isinstance(t, torch.Tensor):
        return t
    if t.device.type != "cpu":
        raise TypeError(f"{name} is on {t.device}: fastinfo.torch computes on the CPU (pass {name}.cpu(), "
                        f"or use torch.nn.functional on the GPU)")
    if _interop._T is None:
        _interop._T = torch
    v = _interop._torch_view(t, True)
    return v if v is not None else t.detach().to(torch.float32).numpy()


def _no_target_grad(target: Any, fname: str, **others: Any) -> None:
    """Gradients flow to the input only: a target (or a weight) that requires one raises."""
    for name, t in {"target": target, **others}.items():
        if isinstance(t, torch.Tensor) and t.requires_grad:
            raise RuntimeError(f"fastinfo.torch.{fname}: the gradient with respect to {name} is not computed; "
                               f"pass {name}.detach() (a teacher's, a label's or a weight's tensor needs none)")


def _f(t: Any) -> Any:
    """A tensor for the elementwise NumPy loss: float64 and float32 as they are, 2-byte floats as
    float32 (computed in float32, as the kernels compute them)."""
    if isinstance(t, torch.Tensor) and t.dtype in (torch.bfloat16, torch.float16):
        return t.detach().to(torch.float32).numpy()
    return _np(t, "argument")


def _tensor(a: Any, dtype: torch.dtype) -> torch.Tensor:
    """a (ndarray or number) as a tensor of dtype."""
    t = torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else torch.tensor(float(a), dtype=torch.float64)
    return t.to(dtype)


def _upstream(g: torch.Tensor) -> Any:
    """The upstream gradient: a number, or one a row (reduction 'none') as float64."""
    return float(g) if g.ndim == 0 else g.detach().to(torch.float64).numpy()


class _CrossEntropy(torch.autograd.Function):  # type: ignore[misc]  # (torch is not type-checked here)
    @staticmethod
    def forward(ctx: Any, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                ignore_index: int, reduction: str, label_smoothing: float) -> torch.Tensor:
        x, t = _np(input, "input"), _np(target, "target")
        axis = 1 if x.ndim > 1 else 0
        ign = None if t.ndim == x.ndim else ignore_index     # probabilities: no ignored label
        lse = np.empty(x.shape[:axis] + x.shape[axis + 1:] + (2,))
        loss = _logits._cross_entropy("cross_entropy", "target", True, x, t, 1.0, label_smoothing, ign,
                                      _np(weight, "weight"), reduction, None, axis, False,  # type: ignore[arg-type]
                                      "raise", None, None, _lse=("save", lse))
        ctx.save_for_backward(input, target, weight)
        ctx.rest = (ign, reduction, label_smoothing, axis, lse)
        return _tensor(loss, input.dtype)

    @staticmethod
    @once_differentiable  # type: ignore[untyped-decorator]  # (torch is not type-checked here)
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        input, target, weight = ctx.saved_tensors
        ign, reduction, eps, axis, lse = ctx.rest
        g = _logits._cross_entropy("cross_entropy", "target", True, _np(input, "input"), _np(target, "target"),
                                   1.0, eps, ign, _np(weight, "weight"), reduction, None, axis, False, "raise",
                                   None, None, return_grad=True, grad_output=_upstream(grad_output),
                                   _lse=("from", lse))
        return _tensor(g, input.dtype), None, None, None, None, None


def cross_entropy(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0) -> torch.Tensor:
    """``torch.nn.functional.cross_entropy`` on the CPU, forward and backward by fastinfo.

    The arguments and defaults of PyTorch's function (``size_average`` and
    ``reduce``, deprecated there, are not taken): ``input`` (N, C), (C,) or
    (N, C, d1, ...) logits, classes on dimension 1; ``target`` class indices
    (int64; ``ignore_index`` ones left out) or probabilities of the input's
    shape; ``weight`` (C,) class weights; ``reduction`` "mean" (PyTorch's
    weighted mean), "sum" or "none"; ``label_smoothing``. The backward pass
    reads the logits once more and keeps nothing of their size in between.

    Parameters
    ----------
    input : torch.Tensor
        Logits, classes on dimension 1 (dimension 0 of a 1-D input).
    target : torch.Tensor
        Class indices or class probabilities (no gradient is taken for it).
    weight : torch.Tensor, optional
        A weight a class.
    ignore_index : int
        The label of rows left out (class-index targets).
    reduction : {"mean", "sum", "none"}
    label_smoothing : float

    Returns
    -------
    torch.Tensor
        The loss, of the input's dtype.

    Examples
    --------
    >>> import torch
    >>> import fastinfo.torch as ft
    >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]], requires_grad=True)
    >>> loss = ft.cross_entropy(logits, torch.tensor([0, 2]))
    >>> loss.backward()
    >>> loss
    tensor(0.6342, grad_fn=<_CrossEntropyBackward>)
    >>> logits.grad
    tensor([[-0.0781,  0.0571,  0.0210],
            [ 0.1667,  0.1667, -0.3333]])
    """
    _no_target_grad(target, "cross_entropy", weight=weight)
    if target.is_floating_point() and target.ndim == input.ndim and target.shape != input.shape:
        raise ValueError(f"fastinfo.torch.cross_entropy: probabilities as target must have the input's shape "
                         f"{tuple(input.shape)}, got {tuple(target.shape)}")
    return _CrossEntropy.apply(input, target, weight, ignore_index, reduction, label_smoothing)


class _KLDiv(torch.autograd.Function):  # type: ignore[misc]  # (torch is not type-checked here)
    @staticmethod
    def forward(ctx: Any, input: torch.Tensor, target: torch.Tensor, reduction: str, log_target: bool,
                temperature: float) -> torch.Tensor:
        x, t = _np(input, "input"), _KLDiv._target(target, log_target)
        # F.kl_div's "mean" is over every element, and its "batchmean" over input.size(0), the
        # classes of a 1-D input: the sum over the rows, scaled here
        n = x.size if reduction == "mean" else (x.shape[0] if reduction == "batchmean" and x.ndim == 1 else 1)
        red = "sum" if n != 1 or reduction == "mean" else reduction
        scale = 1.0 / n if n else 1.0
        lse = np.empty(x.shape[:-1] + (2,))
        v = _logits._pair_measure("softmax_kl_divergence", t, x, temperature, red, -1, None, False,  # type: ignore[arg-type]
                                  "raise", None, None, names=("target", "input"), _lse=("save", lse))
        ctx.save_for_backward(input, target)
        ctx.rest = (log_target, red, temperature, lse, scale)
        return _tensor(v * scale if scale != 1.0 else v, input.dtype)

    @staticmethod
    def _target(target: torch.Tensor, log_target: bool) -> Any:
        """The target as logits: log-probabilities as they are, probabilities' logs (0 -> -inf, a mask)."""
        t = _np(target, "target")
        if log_target:
            return t
        with np.errstate(divide="ignore", invalid="ignore"):   # a negative or NaN one: invalid below
            return np.log(np.asarray(t, dtype=np.float64 if t.dtype == np.float64 else np.float32))

    @staticmethod
    @once_differentiable  # type: ignore[untyped-decorator]  # (torch is not type-checked here)
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        input, target = ctx.saved_tensors
        log_target, red, temperature, lse, scale = ctx.rest
        t = _KLDiv._target(target, log_target)
        up = _upstream(grad_output)
        g = _logits._pair_measure("softmax_kl_divergence", t, _np(input, "input"), temperature, red, -1, None,
                                  False, "raise", None, None, names=("target", "input"), return_grad=True,
                                  grad_output=up * scale if scale != 1.0 else up, _lse=("from", lse))
        return _tensor(g, input.dtype), None, None, None, None


def kl_div(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean", log_target: bool = False, *,
           temperature: float = 1.0) -> torch.Tensor:
    """Distillation's KL(target || input) as ``torch.nn.functional.kl_div`` takes it, on the
    CPU, forward and backward by fastinfo.

    ``input`` holds the student's log-probabilities -- or its logits: fastinfo
    normalizes ``input`` with a softmax over the last dimension, which leaves
    log-probabilities as they are (so the value is ``F.kl_div``'s) and turns
    logits into them (``F.kl_div`` would take logits as they are). ``target``
    holds the teacher's probabilities, or log-probabilities (or logits) with
    ``log_target=True``. ``temperature`` T divides both before the softmaxes
    (distillation's KL(softmax(t/T) || softmax(s/T)); the customary T² factor
    is the caller's). Reductions as ``F.kl_div``'s: "mean" divides the sum by
    every element's count (PyTorch's default, which it warns about),
    "batchmean" by ``input.size(0)``, "sum"; "none" gives one value a row (the
    sum over the last dimension), not ``F.kl_div``'s one an element. The
    gradient flows to ``input`` only; the backward pass reads both rows once
    more and keeps their two log-sum-exps a row in between.

    Parameters
    ----------
    input : torch.Tensor
        The student's log-probabilities or logits, classes on the last dimension.
    target : torch.Tensor
        The teacher's probabilities (log-probabilities or logits with
        ``log_target``), broadcasting against ``input``.
    reduction : {"mean", "batchmean", "sum", "none"}
    log_target : bool
    temperature : float

    Returns
    -------
    torch.Tensor
        The divergence, of the input's dtype.

    Examples
    --------
    >>> import torch
    >>> import fastinfo.torch as ft
    >>> student = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    >>> teacher = torch.tensor([[1.0, 1.0, -1.0]])
    >>> kd = ft.kl_div(student, teacher, reduction="batchmean", log_target=True, temperature=2.0)
    >>> kd.backward()
    >>> kd
    tensor(0.1024, grad_fn=<_KLDivBackward>)
    >>> student.grad      # (softmax(student / 2) - softmax(teacher / 2)) / 2
    tensor([[ 0.1031, -0.0955, -0.0076]])
    """
    _no_target_grad(target, "kl_div")
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"fastinfo.torch.kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', "
                         f"got {reduction!r}")
    try:
        big = torch.broadcast_shapes(input.shape, target.shape) != input.shape
    except RuntimeError:
        big = True
    if big:
        raise ValueError(f"fastinfo.torch.kl_div: target {tuple(target.shape)} must broadcast to the input's "
                         f"shape {tuple(input.shape)} (the gradient has the input's shape)")
    return _KLDiv.apply(input, target, reduction, bool(log_target), temperature)


class _BCEWithLogits(torch.autograd.Function):  # type: ignore[misc]  # (torch is not type-checked here)
    @staticmethod
    def forward(ctx: Any, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                reduction: str, pos_weight: torch.Tensor | None) -> torch.Tensor:
        loss = _logits.sigmoid_cross_entropy(_f(input), _f(target), pos_weight=_f(pos_weight), weight=_f(weight),
                                             reduction=cast(Any, reduction))
        ctx.save_for_backward(input, target, weight, pos_weight)
        ctx.reduction = reduction
        return _tensor(loss, input.dtype)

    @staticmethod
    @once_differentiable  # type: ignore[untyped-decorator]  # (torch is not type-checked here)
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        input, target, weight, pos_weight = ctx.saved_tensors
        _, g = _logits.sigmoid_cross_entropy(_f(input), _f(target), pos_weight=_f(pos_weight), weight=_f(weight),
                                             reduction=cast(Any, ctx.reduction), return_grad=True,
                                             grad_output=_upstream(grad_output))
        return _tensor(g, input.dtype), None, None, None, None


def binary_cross_entropy_with_logits(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                                     reduction: str = "mean",
                                     pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """``torch.nn.functional.binary_cross_entropy_with_logits`` on the CPU, forward and
    backward by fastinfo (elementwise, stable for any magnitude).

    The arguments and defaults of PyTorch's function (``size_average`` and
    ``reduce`` are not taken): ``weight`` broadcasts against the loss,
    ``pos_weight`` over the last dimension.

    Parameters
    ----------
    input : torch.Tensor
        Logits.
    target : torch.Tensor
        Targets in [0, 1] of the input's shape (no gradient is taken for them).
    weight : torch.Tensor, optional
    reduction : {"mean", "sum", "none"}
    pos_weight : torch.Tensor, optional

    Returns
    -------
    torch.Tensor
        The loss, of the input's dtype.

    Examples
    --------
    >>> import torch
    >>> import fastinfo.torch as ft
    >>> x = torch.tensor([0.0, 3.0, -40.0], requires_grad=True)
    >>> loss = ft.binary_cross_entropy_with_logits(x, torch.tensor([1.0, 1.0, 0.0]), reduction="sum")
    >>> loss.backward()
    >>> x.grad
    tensor([-5.0000e-01, -4.7426e-02,  4.2484e-18])
    """
    _no_target_grad(target, "binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    if target.shape != input.shape:
        raise ValueError(f"fastinfo.torch.binary_cross_entropy_with_logits: target must have the input's shape "
                         f"{tuple(input.shape)}, got {tuple(target.shape)}")
    return _BCEWithLogits.apply(input, target, weight, reduction, pos_weight)
