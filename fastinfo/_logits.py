"""Measures of softmax(logits / T) without materializing the softmax: the thin Python layer.

Validation, axis, dtypes, broadcasting and reductions here; every row sum is
computed by the fused kernels in ``_logits.pxi`` (``logit_rows``): a pass for
the row's maximum and a pass for the sums of exp(z), z = (x - max) / T, while
the row is in cache. Only ``log_softmax`` and ``softmax`` write an array of the
logits' size (their result); the other functions allocate O(rows).

Conventions (docs/conventions.rst): -inf logits are masks (probability exactly 0; a
zero target there contributes 0); NaN and +inf logits are invalid; a label out
of range raises IndexError; PyTorch's rules for targets (fewer dimensions than
the logits: integer labels; as many: probabilities), weights (any finite
number), ignore_index and label smoothing.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Iterator, Literal, NoReturn, Sequence, overload

import numpy as np

from . import _args
from ._dispatch import kernels as _k
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, DTypeLike, NDArray

    from ._typing import DivReduction, FloatArray, FloatResult, Invalid, Reduction

__all__ = ["logsumexp", "log_softmax", "softmax", "softmax_cross_entropy", "softmax_entropy",
           "softmax_kl_divergence", "softmax_js_divergence", "softmax_total_variation", "sigmoid_cross_entropy",
           "perplexity"]

_FORMATS: dict[str, int] = _k.LOGIT_FORMATS   # storage format codes of the logit kernels
_OPS: dict[str, int] = _k.LOGIT_OPS
_NO_LABELS = np.empty(0, dtype=np.int64)
_NO_DOUBLES = np.empty(0, dtype=np.float64)
_REDUCTIONS = ("none", "sum", "mean")


# --- arguments ---------------------------------------------------------------
def _scale(temperature: object, dtype: DTypeLike) -> float:
    """1/T, checked: T positive and finite, 1/T finite in the computing dtype."""
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    t = float(temperature)
    big = float(np.finfo(dtype).max)
    if not (t > 0.0 and math.isfinite(t) and 1.0 / t <= big and t <= big):
        raise ValueError(f"temperature must be a positive finite number (with 1/temperature finite "
                         f"in {np.dtype(dtype).name}), got {temperature!r}")
    return 1.0 / t


def _reduction(reduction: Reduction) -> Reduction:
    if not (isinstance(reduction, str) and reduction in _REDUCTIONS):
        raise ValueError(f"reduction must be one of 'none', 'sum', 'mean', got {reduction!r}")
    return reduction


_DIV_REDUCTIONS = _REDUCTIONS + ("batchmean",)


def _div_reduction(reduction: DivReduction) -> DivReduction:
    if not (isinstance(reduction, str) and reduction in _DIV_REDUCTIONS):
        raise ValueError(f"reduction must be one of 'none', 'sum', 'mean', 'batchmean', got {reduction!r}")
    return reduction


def _where(where: object, batch: tuple[int, ...], fname: str) -> NDArray[np.bool_]:
    """where broadcast to the batch shape (a view), checked: booleans."""
    W = np.asarray(where)
    if W.dtype != np.bool_:
        raise TypeError(f"{fname}: where must be a boolean array (True: the row is scored), got dtype "
                        f"{W.dtype}")
    try:
        return np.broadcast_to(W, batch)
    except ValueError:
        raise ValueError(f"{fname}: where must broadcast to the batch shape {batch} of the logits (their "
                         f"shape without the class axis), got {W.shape}") from None


def _left_out(labels: ArrayLike | None, ignore_index: object, where: ArrayLike | None, batch: tuple[int, ...],
              fname: str) -> NDArray[np.bool_] | None:
    """The rows a divergence leaves out (True), batch-shaped: labels == ignore_index, or where
    False; None when neither is given."""
    ii = _ignore_index(ignore_index, fname)
    if (labels is None) != (ii is None):
        raise ValueError(f"{fname}: labels and ignore_index go together (the rows whose label is ignore_index "
                         f"are left out): pass both, e.g. ignore_index=-100, or where= for a boolean row mask")
    out = None
    if labels is not None:
        L = labels if isinstance(labels, np.ndarray) else np.asarray(labels)
        if L.dtype.kind not in "iu":
            raise TypeError(f"{fname}: labels must be integers (they mark the rows to leave out), got dtype "
                            f"{L.dtype}")
        try:
            out = np.broadcast_to(L, batch) == ii
        except ValueError:
            raise ValueError(f"{fname}: labels must broadcast to the batch shape {batch} of the logits (their "
                             f"shape without the class axis), got {L.shape}") from None
    if where is not None:
        w = ~_where(where, batch, fname)
        out = w if out is None else out | w
    return out


def _logits(x: ArrayLike, name: str, axis: int) -> tuple[FloatArray, int]:
    """x as float rows: (array with the class axis last, the axis index). float16 and bfloat16
    logits are kept as they are: the kernels read them (and compute in float32)."""
    X = _args.as_array(x, name, two_byte=True)
    ax = _args.normalize_axis_index(axis, X.ndim)
    if ax != X.ndim - 1:
        X = np.moveaxis(X, ax, -1)
    return X, ax


def _pair(p: ArrayLike, q: ArrayLike, names: tuple[str, str], axis: int) -> tuple[FloatArray, FloatArray, int]:
    """Two arrays broadcast over the batch axes (views), class axis last."""
    return _args.prepare(p, q, axis, names=names, axis_name="class axis",  # type: ignore[return-value]  # q given
                         two_byte=True)


def _res_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The result dtype for logits of dtype: float32 for float32, float16 and bfloat16."""
    return _args.F64 if dtype == _args.F64 else _args.F32


def _class_weights(weight: ArrayLike | None, K: int, fname: str) -> NDArray[np.float64] | None:
    """K finite class weights as float64 (PyTorch's rule: any finite number, negative and 0 included)."""
    if weight is None:
        return None
    W = np.asarray(weight)
    if W.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: weight must hold real numbers, got dtype {W.dtype}")
    w = W.astype(np.float64)
    if w.shape != (K,):
        raise ValueError(f"{fname}: weight must be a 1-D array of {K} class weights, got shape {w.shape}")
    _check_finite(w, "weight", fname)
    return np.ascontiguousarray(w)


def _check_finite(w: NDArray[Any], name: str, fname: str, per_class: bool = True) -> None:
    """ValueError naming the first NaN or infinite weight (and its class, or index)."""
    bad = ~np.isfinite(w)
    if bad.any():
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), w.shape))
        where = f"class {idx[0]}" if per_class and w.ndim == 1 else f"index {idx}"
        raise ValueError(f"{fname}: {name} must hold finite numbers (negative and zero weights are "
                         f"allowed), got {w[idx]!r} for {where}")


def _ignore_index(ignore_index: object, fname: str) -> int | None:
    """ignore_index as a Python int (or None); floats, strings and bools are refused, not coerced."""
    if ignore_index is None:
        return None
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{fname}: ignore_index must be an integer label value (PyTorch's padding "
                        f"label is -100) or None, got {ignore_index!r}")
    return int(ignore_index)


def _run(op: int, X: FloatArray, Y: FloatArray | None, labels: NDArray[np.int64] | None, O: FloatArray | None,
         scale: float, eps: float, wt: NDArray[np.float64] | None, nt: int,
         smooth: bool = False, grad: float | NDArray[np.float64] | None = None,
         lse: tuple[str, NDArray[np.float64]] | None = None
         ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, int]:
    """Per-row results (float64, batch shape) of op over X (and Y), plus the
    smoothing sums for CE with labels; nbad = number of invalid rows. grad (the
    cross-entropies, KL): O also gets each row's gradient with respect to its logits,
    times grad (1/T, the reduction's and the base's scales, the upstream gradient; a
    number or an array of the batch shape). lse ("save" or "from", a C-contiguous float64
    array of the batch shape + (2,)): the rows' normalizers written there, or the gradient
    computed from them alone (logit_rows' lse_mode)."""
    batch = X.shape[:-1]
    res = np.empty(batch, dtype=np.float64)
    if grad is not None:
        res[...] = grad             # the rows' factors (a number, or one a row)
    res2 = np.empty(batch, dtype=np.float64) if smooth else None
    fmt = _FORMATS[X.dtype.name]
    Yv = X if Y is None else Y
    wtv = _NO_DOUBLES if wt is None else wt
    mode = _k.LSE_MODES[lse[0]] if lse is not None else 0

    def call(x: FloatArray, y: FloatArray, r: NDArray[np.float64], *rest: NDArray[Any]) -> int:
        # (mypy keeps rest a tuple: it is re-bound to a list here)
        rest = list(rest)  # type: ignore[assignment]
        lab = rest.pop(0) if labels is not None else _NO_LABELS  # type: ignore[attr-defined]
        r2 = rest.pop(0) if smooth else _NO_DOUBLES  # type: ignore[attr-defined]
        o = rest.pop(0) if O is not None else None  # type: ignore[attr-defined]
        ls = rest.pop(0) if lse is not None else None  # type: ignore[attr-defined]
        if x.ndim == 1:   # 1-D input: one row
            x, y, r = x[None], y[None], r[None]
            lab = lab[None] if labels is not None else lab
            r2 = r2[None] if smooth else r2
            o = o[None] if o is not None else None
            ls = ls[None] if ls is not None else None
        return _k.logit_rows(op, fmt, x, y, lab, o, r, r2, wtv, scale, eps, nt, grad is not None, ls, mode)

    arrays: list[Any] = [X, Yv, res]
    if labels is not None:
        arrays.append(labels)
    if smooth:
        arrays.append(res2)
    if O is not None:
        arrays.append(O)
    if lse is not None:
        arrays.append(lse[1])
    if len(batch) == 0:
        nbad = call(*arrays)
    else:
        nbad = _args.run_batched(call, arrays, batch)
    return res, res2, nbad


def _raise_invalid(fname: str, arrays: Sequence[FloatArray], names: Sequence[str], res: NDArray[np.float64],
                   batch: tuple[int, ...], targets: FloatArray | None = None) -> NoReturn:
    idx = _args.first_bad(np.isnan(res), batch)
    for a, name in zip(arrays, names):
        row = a[idx]
        bad = np.isnan(row) | (row == np.inf)
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(f"{fname}: {name} has a NaN or +inf value ({row[j]!r} at position {j} "
                             f"along the class axis) at batch index {idx}")
    if targets is not None:
        row = targets[idx]
        bad = ~(np.isfinite(row) & (row >= 0))
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(f"{fname}: target has a negative, NaN or infinite probability ({row[j]!r} "
                             f"at position {j} along the class axis) at batch index {idx}")
    raise ValueError(f"{fname}: all logits are -inf (softmax undefined) at batch index {idx}")


def _finish(res: NDArray[np.float64], dtype: np.dtype[Any], keepdims: bool, ax: int, log_base: float = 1.0,
            out: FloatArray | None = None) -> FloatResult:
    if log_base != 1.0:
        res = res / log_base
    if keepdims:
        res = np.expand_dims(res, ax)
    if out is not None:
        _args.check_out(out, res.shape, dtype)
        np.copyto(out, res, casting="same_kind")
        return out
    if dtype == _args.F32:
        res = res.astype(_args.F32)
    return res[()] if res.ndim == 0 else res


def _total(a: NDArray[Any]) -> float:
    """Exactly rounded sum (math.fsum), +-inf where it overflows and NaN for +inf + -inf (as
    NumPy / PyTorch give)."""
    v = a.reshape(-1)
    try:
        return math.fsum(v.tolist()) if v.size else 0.0
    except (OverflowError, ValueError):     # ValueError: fsum's "-inf + inf"
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.sum(v, dtype=np.float64))


def _reduce_rows(res: NDArray[np.float64], reduction: str, dtype: np.dtype[Any], denom: float | None = None,
                 keepdims: bool = False, ax: int = -1, out: FloatArray | None = None) -> FloatResult:
    """The per-row results reduced: 'mean' divides by denom (default: the rows), 'batchmean'
    by the length of the first batch axis (PyTorch kl_div's input.size(0) with the classes last;
    1 for one row)."""
    if reduction == "none":
        return _finish(res, dtype, keepdims, ax, out=out)
    if keepdims or out is not None:
        raise ValueError("keepdims and out apply to reduction='none' only")
    total = _total(res)
    if reduction == "sum":
        return dtype.type(total)
    if reduction == "batchmean":
        if res.ndim == 0:
            return dtype.type(total)
        return dtype.type(total / res.shape[0] if res.shape[0] else math.nan)
    n = res.size if denom is None else denom
    return dtype.type(total / n if n else math.nan)


# --- public functions ----------------------------------------------------------
@overload
def logsumexp(x: ArrayLike, *, axis: int = ..., keepdims: bool = ..., invalid: Invalid = ...,
              out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...,
              grad_out: None = ..., grad_output: None = ...) -> FloatResult: ...
@overload
def logsumexp(x: ArrayLike, *, axis: int = ..., keepdims: bool = ..., invalid: Invalid = ...,
              out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True],
              grad_out: FloatArray | None = ..., grad_output: ArrayLike | None = ...
              ) -> tuple[FloatResult, FloatArray]: ...
@_dk.dask_aware(_dk.X1, front="logsumexp")
def logsumexp(x: ArrayLike, *, axis: int = -1, keepdims: bool = False, invalid: Invalid = "raise",
              out: FloatArray | None = None, n_threads: int | None = None, return_grad: bool = False,
              grad_out: FloatArray | None = None, grad_output: ArrayLike | None = None) -> Any:
    """Log of the sum of exponentials, log(sum_i exp(x_i)), along ``axis``.

    Stable for logits of any magnitude: two passes over each row, its maximum
    m, then m + log(sum_i exp(x_i - m)), summed in float64. -inf entries are
    allowed (they contribute nothing); an empty axis or a row of only -inf
    gives -inf. NaN and +inf entries are invalid.

    Parameters
    ----------
    {x}
    {axis}
    {keepdims}
    invalid : {'raise', 'nan'}, default 'raise'
        A row holding NaN or +inf raises ``ValueError`` naming its batch index
        (``'raise'``), or gives NaN for that row (``'nan'``).
    {out}
    {n_threads}
    return_grad : bool, default False
        Also return the gradient: softmax(x) along ``axis`` times each row's
        upstream gradient, the vector-Jacobian product, written in the pass
        that reads each row while it is in cache. A row of only -inf, or an
        invalid one (``invalid='nan'``), has NaN. float64 for float64 ``x``,
        float32 otherwise. ``keepdims`` and ``out`` do not apply.
    grad_out : ndarray, optional
        Where the gradient goes: ``x``'s shape and the gradient's dtype; it
        may be ``x`` itself (written in place).
    grad_output : array_like, optional
        The upstream gradient, one number a row (broadcast to the rows'
        shape); default 1.

    {row_returns}
        With ``return_grad=True``, the pair (logsumexp, gradient).

    Raises
    ------
    ValueError
        An invalid row with ``invalid='raise'``; a scalar ``x``; a bad
        ``invalid`` or ``n_threads``; ``axis`` out of range
        (``numpy.exceptions.AxisError``); ``out`` of the wrong shape or
        read-only; ``grad_out`` or ``grad_output`` without ``return_grad``,
        ``keepdims`` or ``out`` with it.
    {type_error}

    See Also
    --------
    log_softmax : The logits minus their logsumexp.
    scipy.special.logsumexp : The SciPy function (no ``invalid``, no threads).

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> fastinfo.logsumexp([[1.0, 2.0, 3.0], [0.0, 0.0, -np.inf]])
    array([3.40760596, 0.69314718])
    >>> print(f"{fastinfo.logsumexp([1000.0, 1000.0]) - 1000.0:.12f}")   # no overflow
    0.693147180560
    >>> print(fastinfo.logsumexp([-np.inf, -np.inf]))
    -inf
    >>> value, grad = fastinfo.logsumexp([[1.0, 2.0, 3.0]], return_grad=True, grad_output=[2.0])
    >>> grad     # 2 softmax(x)
    array([[0.18006115, 0.48945694, 1.33048191]])
    """
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    _grad_args("logsumexp", return_grad, grad_out, grad_output, keepdims, out)
    X0 = _args.as_array(x, "x", two_byte=True)
    X, ax = _logits(X0, "x", axis)
    G = O = f = None
    if return_grad:
        G, O = _grad_buffer(X0, None, ax, grad_out, "logsumexp", "x")
        f = _upstream(grad_output, "none", X.shape[:-1], "logsumexp")
    res, _, nbad = _run(_OPS["logsumexp"], X, None, None, O, 1.0, 0.0, None, nt, grad=f)
    if nbad and not nan_mode:
        if O is not None and np.may_share_memory(O, X):
            _in_place_invalid("logsumexp", res, X.shape[:-1], "x")
        _raise_invalid("logsumexp", [X], ["x"], res, X.shape[:-1])
    value = _finish(res, _res_dtype(X.dtype), keepdims, ax, out=out)
    return value if G is None else (value, G)


def _grad_args(fname: str, return_grad: object, grad_out: object, grad_output: object, keepdims: bool,
               out: object) -> None:
    """The checks every return_grad function makes of its gradient arguments."""
    if not isinstance(return_grad, (bool, np.bool_)):
        raise TypeError(f"{fname}: return_grad must be True or False, got {return_grad!r}")
    if (grad_out is not None or grad_output is not None) and not return_grad:
        raise ValueError(f"{fname}: grad_out and grad_output are for the gradient: pass return_grad=True with them")
    if return_grad and (keepdims or out is not None):
        raise ValueError(f"{fname}: keepdims and out do not apply with return_grad=True (a (value, gradient) pair)")


def _softmax_like(fname: str, x: ArrayLike, temperature: float, axis: int, invalid: str, out: FloatArray | None,
                  n_threads: int | None) -> FloatArray:
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    X0 = _args.as_array(x, "x", two_byte=True)
    rdt = _res_dtype(X0.dtype)
    scale = _scale(temperature, rdt)
    X, ax = _logits(X0, "x", axis)
    if out is not None:
        _args.check_out(out, X0.shape, rdt)
        O = np.moveaxis(out, ax, -1) if ax != out.ndim - 1 else out
        if np.may_share_memory(O, X):
            O = np.empty(X.shape, dtype=rdt)
    else:
        O = np.empty(X.shape, dtype=rdt)
    res, _, nbad = _run(_OPS[fname], X, None, None, O, scale, 0.0, None, nt)
    if nbad and not nan_mode:
        _raise_invalid(fname, [X], ["x"], res, X.shape[:-1])
    if out is not None:
        target = np.moveaxis(out, ax, -1) if ax != out.ndim - 1 else out
        if target is not O and not np.shares_memory(target, O):
            np.copyto(target, O)
        return out
    return np.moveaxis(O, -1, ax) if ax != X0.ndim - 1 else O


@overload
def log_softmax(x: ArrayLike, *, temperature: float = ..., axis: int = ..., invalid: Invalid = ...,
                out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[False] = ...,
                grad_out: None = ..., grad_output: None = ...) -> FloatArray: ...
@overload
def log_softmax(x: ArrayLike, *, temperature: float = ..., axis: int = ..., invalid: Invalid = ...,
                out: FloatArray | None = ..., n_threads: int | None = ..., return_grad: Literal[True],
                grad_out: FloatArray | None = ..., grad_output: ArrayLike | None = ...
                ) -> tuple[FloatArray, FloatArray]: ...
@_dk.dask_aware(_dk.SAME_X, front="log_softmax")
def log_softmax(x: ArrayLike, *, temperature: float = 1.0, axis: int = -1, invalid: Invalid = "raise",
                out: FloatArray | None = None, n_threads: int | None = None, return_grad: bool = False,
                grad_out: FloatArray | None = None, grad_output: ArrayLike | None = None) -> Any:
    """Log of the softmax, log(softmax(x / T)), along ``axis``.

    Computed as z_i - log(sum_j exp(z_j)) with z = (x - max x) / T, so it is
    finite for logits of any magnitude; a -inf logit gives -inf. NaN or +inf
    logits, or a row of only -inf, are invalid.

    {softmax_params}
    return_grad : bool, default False
        Also return the vector-Jacobian product with ``grad_output`` u (of
        ``x``'s shape): ``(u - softmax(x/T) * sum(u)) / T`` along ``axis``,
        PyTorch's ``log_softmax(x / T).backward(u)``, in a second pass over
        each row (its sums while the row is in cache, then the gradient); a
        -inf logit gets ``u / T`` there. An invalid row (``invalid='nan'``) or
        a NaN in its u has NaN. float64 for float64 ``x``, float32 otherwise.
        ``out`` still takes the log-softmax.
    grad_out : ndarray, optional
        Where the gradient goes: ``x``'s shape and the gradient's dtype; it
        may be ``x`` itself (the log-softmax is then written to a new array
        or ``out`` first).
    grad_output : array_like, optional
        The upstream gradient u, broadcast to ``x``'s shape; default ones
        (the gradient of the log-softmax's sum). With ``return_grad=True``
        the result is the pair (log-softmax, gradient).

    {softmax_tail}

    See Also
    --------
    softmax, logsumexp
    scipy.special.log_softmax : The SciPy function (no temperature, no threads).

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> fastinfo.log_softmax([0.0, np.log(3.0), -np.inf])
    array([-1.38629436, -0.28768207,        -inf])
    >>> y, grad = fastinfo.log_softmax([0.0, np.log(3.0)], return_grad=True, grad_output=[1.0, 0.0])
    >>> grad      # u - softmax(x) sum(u)
    array([ 0.75, -0.75])
    """
    _grad_args("log_softmax", return_grad, grad_out, grad_output, False, None)
    if not return_grad:
        return _softmax_like("log_softmax", x, temperature, axis, invalid, out, n_threads)
    X0 = _args.as_array(x, "x", two_byte=True)
    G, Gk = _grad_buffer(X0, grad_output, _args.normalize_axis_index(axis, X0.ndim), grad_out, "log_softmax", "x",
                         "grad_output")
    y = _softmax_like("log_softmax", X0, temperature, axis, invalid, out, n_threads)
    _log_softmax_vjp(X0, grad_output, temperature, axis, invalid, Gk, n_threads)
    return y, G


def _log_softmax_vjp(X0: FloatArray, grad_output: ArrayLike | None, temperature: float, axis: int, invalid: str,
                     Gk: FloatArray, n_threads: int | None) -> None:
    """log_softmax's vector-Jacobian product into Gk (the class axis last): the soft-target
    cross-entropy's gradient pass with the upstream gradient u as its targets (any sign: vjp)
    and the row factor -1/T, which writes -(sum(u) p - u) / T."""
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    scale = _scale(temperature, _res_dtype(X0.dtype))
    X, ax = _logits(X0, "x", axis)
    U = np.ones(1, dtype=X.dtype if X.dtype in (_args.F32, _args.F64) else _args.F32) \
        if grad_output is None else np.asarray(grad_output)
    if U.dtype.kind not in "biuf":
        raise TypeError(f"log_softmax: grad_output must hold real numbers, got dtype {U.dtype}")
    try:
        U = np.moveaxis(np.broadcast_to(U, X0.shape), ax, -1)     # NumPy's broadcasting against x
    except ValueError:
        raise ValueError(f"log_softmax: grad_output must broadcast to x's shape {X0.shape}, got shape "
                         f"{np.asarray(grad_output).shape}") from None
    if U.dtype != X.dtype:
        X, U = X.astype(_args.F64), U.astype(_args.F64)
    O = Gk if (Gk.dtype == np.float64) == (X.dtype == np.float64) else np.empty(X.shape, np.float64)
    res = np.empty(X.shape[:-1])
    res[...] = -scale
    fmt = _FORMATS[X.dtype.name]
    lab = _NO_LABELS
    wt = np.ones(X.shape[-1])

    def call(x: FloatArray, u: FloatArray, r: NDArray[np.float64], o: FloatArray) -> int:
        if x.ndim == 1:
            x, u, r, o = x[None], u[None], r[None], o[None]
        return _k.logit_rows(_OPS["ce_soft"], fmt, x, u, lab, o, r, _NO_DOUBLES, wt, scale, 0.0, nt, True, None, 0,
                             True)

    arrays: list[Any] = [X, U, res, O]
    nbad = call(*arrays) if X.ndim == 1 else _args.run_batched(call, arrays, X.shape[:-1])
    if nbad and not nan_mode:
        _raise_invalid("log_softmax", [X, U], ["x", "grad_output"], res, X.shape[:-1])
    if O is not Gk:
        Gk[...] = O


@_dk.dask_aware(_dk.SAME_X, front="softmax")
def softmax(x: ArrayLike, *, temperature: float = 1.0, axis: int = -1, invalid: Invalid = "raise",
            out: FloatArray | None = None, n_threads: int | None = None) -> FloatArray:
    """Softmax, exp(x_i / T) / sum_j exp(x_j / T), along ``axis``.

    Computed from z = (x - max x) / T, so it never overflows; a -inf logit
    gives exactly 0. NaN or +inf logits, or a row of only -inf, are invalid.

    {softmax_doc}

    See Also
    --------
    log_softmax, softmax_entropy
    scipy.special.softmax : The SciPy function (no temperature, no threads).

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> fastinfo.softmax([0.0, np.log(3.0), -np.inf])
    array([0.25, 0.75, 0.  ])
    >>> fastinfo.softmax([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]], temperature=2.0)
    array([[0.62853172, 0.2312239 , 0.14024438],
           [0.33333333, 0.33333333, 0.33333333]])
    """
    return _softmax_like("softmax", x, temperature, axis, invalid, out, n_threads)


@_dk.dask_aware(_dk.LOGITS, front="softmax_entropy")
def softmax_entropy(logits: ArrayLike, *, temperature: float = 1.0, axis: int = -1, base: float | None = None,
                    keepdims: bool = False, invalid: Invalid = "raise", out: FloatArray | None = None,
                    n_threads: int | None = None) -> FloatResult:
    """Entropy of the softmax, H(softmax(x / T)), of each row, without writing the softmax.

    H = log S - sum_i e_i z_i / S with z = (x - max x) / T, e = exp(z),
    S = sum_i e_i: never negative; -inf logits (probability 0) contribute 0;
    an empty class axis gives 0. NaN or +inf logits, or a row of only -inf,
    are invalid. The uncertainty score of active learning; equals
    ``torch.distributions.Categorical(logits=x / T).entropy()``.

    Parameters
    ----------
    {logits}
    {temperature}
    {axis}
    {base}
    {keepdims}
    {invalid}
    {out}
    {n_threads}

    {row_returns}

    Raises
    ------
    ValueError
        An invalid row with ``invalid='raise'``; a scalar ``logits``; a bad
        ``temperature``, ``base``, ``invalid`` or ``n_threads``; ``axis`` out
        of range (``numpy.exceptions.AxisError``); ``out`` of the wrong shape
        or read-only.
    {type_error}

    See Also
    --------
    entropy : The same measure of probabilities.
    softmax_cross_entropy

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> fastinfo.softmax_entropy([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, -np.inf, -np.inf]], base=2)
    array([2., 1.])
    """
    log_base = _args.log_base(base)
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    X, ax = _logits(logits, "logits", axis)
    scale = _scale(temperature, _res_dtype(X.dtype))
    res, _, nbad = _run(_OPS["softmax_entropy"], X, None, None, None, scale, 0.0, None, nt)
    if nbad and not nan_mode:
        _raise_invalid("softmax_entropy", [X], ["logits"], res, X.shape[:-1])
    return _finish(res, _res_dtype(X.dtype), keepdims, ax, log_base, out)


def _batch_index(mask: NDArray[np.bool_]) -> tuple[int, ...]:
    """The batch index of the first True of mask."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape)) if mask.ndim else ()


def _is_soft(T: NDArray[Any], nd: int, fname: str, tname: str, allow_soft: bool) -> bool:
    """Whether T holds soft targets (T has the logits' nd dimensions: floating probabilities) or class
    labels (fewer dimensions: integers). PyTorch's rule; the values never decide it."""
    kind = T.dtype.kind
    if T.ndim == nd and allow_soft:
        if kind == "f":
            return True
        if kind in "iub":
            raise TypeError(f"{fname}: {tname} has as many dimensions as the logits ({nd}), so it holds "
                            f"probabilities over the class axis (soft targets) and must be floating; got "
                            f"{T.dtype} — pass {tname}.astype(float) for one-hot or soft targets, or class "
                            f"labels with the logits' shape without the class axis (e.g. {tname}.reshape(-1) "
                            f"for a column of labels)")
        raise TypeError(f"{fname}: {tname} (soft targets) must hold floating probabilities, got dtype {T.dtype}")
    if T.ndim >= nd:
        raise ValueError(f"{fname}: {tname} must hold class labels with the logits' shape without the class "
                         f"axis ({nd - 1} dimensions, got {T.ndim})"
                         + (f"; probabilities (soft targets) have the logits' {nd} dimensions" if allow_soft
                            else f"; pass a column of labels as {tname}.reshape(-1)"))
    if kind in "iu":
        return False
    diff = nd - T.ndim
    fewer = "one dimension fewer" if diff == 1 else f"{diff} dimensions fewer"
    if kind == "f":
        msg = (f"{fname}: {tname} holds class labels ({fewer} than the logits) and must be integers; "
               f"got {T.dtype} — pass {tname}.astype(int) (or .long()) for labels")
        if allow_soft:
            msg += ", or probabilities with the logits' shape for soft targets"
        miss = np.isnan(T)
    elif kind == "O":
        from ._labels import _missing
        msg = (f"{fname}: {tname} holds class labels ({fewer} than the logits) and must be an integer "
               f"array; got dtype object — pass {tname}.astype(int)")
        miss = _missing(T)
    else:
        raise TypeError(f"{fname}: {tname} must be integer class labels"
                        + (" or floating probabilities" if allow_soft else "") + f", got dtype {T.dtype}")
    if miss.any():
        i = _batch_index(miss)
        v = T[i].item() if isinstance(T[i], np.generic) else T[i]
        shown = "NaN" if isinstance(v, float) else repr(v)
        msg += (f"; it holds a missing value ({shown}) at batch index {i}: drop those rows, or fill them "
                f"with -100 and pass ignore_index=-100")
    raise TypeError(msg)


def _labels(T: NDArray[Any], batch: tuple[int, ...], K: int, ignore_index: int | None, fname: str,
            tname: str) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """int64 labels of the batch shape, ignored ones as -1; IndexError for out-of-range."""
    if T.shape != batch:
        try:
            T = np.broadcast_to(T, batch)
        except ValueError:
            raise ValueError(f"{fname}: {tname} (class labels) must have the batch shape {batch} of the logits "
                             f"(their shape without the class axis), got {T.shape}") from None
    # comparisons with the Python int: exact for every integer dtype (no wrap-around)
    ign = np.zeros(batch, dtype=bool) if ignore_index is None else np.asarray(T == ignore_index)
    bad = ((T < 0) | (T >= K)) & ~ign
    if bad.any():
        idx = _batch_index(bad)
        v = int(T[idx])
        if v == -100:
            raise IndexError(f"{fname}: {tname} holds -100 at batch index {idx}, outside the class range "
                             f"[0, {K}); -100 is PyTorch's padding label: pass ignore_index=-100 to skip "
                             f"padded positions")
        raise IndexError(f"{fname}: {tname} holds label {v} at batch index {idx}, outside the valid range "
                         f"[0, {K}) of the {K} classes")
    L = T.astype(np.int64)
    if ignore_index is not None and ign.any():
        L = np.where(ign, -1, L)
    return np.asarray(L, order="C"), ign   # (ascontiguousarray would make a 0-d array 1-D)


@overload
def softmax_cross_entropy(logits: ArrayLike, target: ArrayLike, *, temperature: float = ...,
                          label_smoothing: float = ..., ignore_index: int | None = ...,
                          weight: ArrayLike | None = ..., reduction: Reduction = ...,
                          base: float | None = ..., axis: int = ..., keepdims: bool = ...,
                          invalid: Invalid = ..., out: FloatArray | None = ...,
                          n_threads: int | None = ..., return_grad: Literal[False] = ...,
                          grad_out: None = ..., grad_output: None = ...) -> FloatResult: ...
@overload
def softmax_cross_entropy(logits: ArrayLike, target: ArrayLike, *, temperature: float = ...,
                          label_smoothing: float = ..., ignore_index: int | None = ...,
                          weight: ArrayLike | None = ..., reduction: Reduction = ...,
                          base: float | None = ..., axis: int = ..., keepdims: bool = ...,
                          invalid: Invalid = ..., out: FloatArray | None = ...,
                          n_threads: int | None = ..., return_grad: Literal[True],
                          grad_out: FloatArray | None = ...,
                          grad_output: ArrayLike | None = ...) -> tuple[FloatResult, FloatArray]: ...
@_dk.dask_aware(_dk.CE, front="softmax_cross_entropy")
def softmax_cross_entropy(logits: ArrayLike, target: ArrayLike, *, temperature: float = 1.0,
                          label_smoothing: float = 0.0, ignore_index: int | None = None,
                          weight: ArrayLike | None = None, reduction: Reduction = "none",
                          base: float | None = None, axis: int = -1, keepdims: bool = False,
                          invalid: Invalid = "raise", out: FloatArray | None = None,
                          n_threads: int | None = None, return_grad: bool = False,
                          grad_out: FloatArray | None = None,
                          grad_output: ArrayLike | None = None) -> FloatResult | tuple[FloatResult, FloatArray]:
    """Cross-entropy of softmax(logits / T) against labels or soft targets, without writing the softmax.

    For a label y: -log softmax(x / T)_y; for a target distribution t:
    -sum_k t_k log softmax(x / T)_k. The conventions of PyTorch's
    ``torch.nn.functional.cross_entropy``: ``label_smoothing`` eps replaces the
    target by (1 - eps) target + eps / K; ``weight`` scales each class's
    terms; ``ignore_index`` labels contribute 0 and are left out of the mean.
    A -inf logit is a mask (probability 0): a zero target there contributes 0
    (0 log 0 = 0), a label or a positive target on it gives +inf. NaN or +inf
    logits, or a row of only -inf, are invalid.

    Parameters
    ----------
    {logits}
    target : array_like
        What it holds is decided by its number of dimensions, as in PyTorch,
        never by its values. Fewer dimensions than ``logits``: class labels
        0..K-1 of the batch shape (``logits``' shape without ``axis``;
        broadcast to it), which must have an integer dtype -- float labels
        raise ``TypeError``, also integer-valued ones (``target.astype(int)``
        converts them). As many dimensions as ``logits``: floating
        probabilities over ``axis`` (soft targets, not required to sum to 1)
        that broadcast against ``logits``; an integer or bool target of that
        shape raises ``TypeError`` (``target.astype(float)`` for one-hot
        targets). A single distribution for every row is
        ``target[np.newaxis, :]``.
    {temperature}
    label_smoothing : float, default 0.0
        The smoothing eps, in [0, 1].
    ignore_index : int, optional
        A label value whose rows contribute 0 and are left out of the mean.
        Must be an integer (not a bool, float or string); PyTorch's padding
        label is -100. With soft targets it raises ``ValueError``, as in
        PyTorch (a row of zero targets contributes 0).
    weight : array_like, optional
        K finite class weights (negative and zero weights allowed, as in
        PyTorch): a label's loss is scaled by the weight of its class, a soft
        target's term k by ``weight[k]``. NaN or infinite weights raise
        ``ValueError``.
    reduction : {'none', 'sum', 'mean'}, default 'none'
        ``'none'``: one loss per row. ``'sum'``: their exact sum
        (``math.fsum``). ``'mean'``: with labels, the sum divided by the
        (exactly rounded) sum of the weights of the non-ignored labels (their
        number without ``weight``); with soft targets, divided by the number
        of rows. A mean over nothing, or over weights that sum to 0, is NaN.
        ``keepdims`` and ``out`` apply to ``'none'`` only.
    {base}
    {axis}
    {keepdims}
    invalid : {'raise', 'nan'}, default 'raise'
        A row with a NaN or +inf logit or only -inf logits, or (soft targets)
        a negative, NaN or infinite target, raises ``ValueError`` naming its
        batch index (``'raise'``), or gives NaN for that row (``'nan'``; a sum
        or mean over it is then NaN).
    {out}
    {n_threads}
    return_grad : bool, default False
        Also return the gradient of the loss with respect to ``logits``,
        written in the pass that takes the loss (the rows still in cache): of
        the reduced loss for ``'sum'`` and ``'mean'`` (the mean's
        denominator included), and of the sum of the per-row losses for
        ``'none'`` (each row's own gradient, PyTorch's
        ``loss.backward(torch.ones_like(loss))``). 1/T, ``weight``,
        ``label_smoothing`` and ``base`` are in it; an ignored row's gradient
        is 0, a -inf logit's is 0 (but for smoothing or a label there, as in
        PyTorch), an invalid row's NaN (``invalid='nan'``), and so is the
        gradient of a row of only -inf (its loss is +inf). float64 for
        float64 logits, float32 otherwise (float16 and bfloat16 logits
        included). ``keepdims`` and ``out`` do not apply.
    grad_out : ndarray, optional
        Where the gradient goes (with ``return_grad=True``): the logits'
        shape and the gradient's dtype; it may be ``logits`` itself, which
        is then overwritten by its gradient (no extra memory, as memory-bound
        trainers do; each element is read before it is written; soft
        targets of another dtype than the logits make float64 copies). With
        ``invalid='raise'``, an invalid row raises after the gradient was
        written (named by its batch index: its values are gone).
    grad_output : array_like, optional
        The upstream gradient (with ``return_grad=True``): one number for
        ``'sum'`` and ``'mean'``, one a row (broadcast to
        the batch shape) for ``'none'``; the gradient returned is then the
        vector-Jacobian product, PyTorch's ``value.backward(grad_output)``.
        Default 1.

    Returns
    -------
    ndarray or NumPy scalar, or (loss, gradient)
        ``reduction='none'``: the batch shape (a NumPy scalar for 1-D
        ``logits``); otherwise a NumPy scalar. float32 for float32 logits
        (with labels or float32 targets), otherwise float64. With
        ``return_grad=True`` the pair (loss, gradient), the gradient of the
        logits' shape (``grad_out`` when given).

    Raises
    ------
    IndexError
        A label outside [0, K) that is not ``ignore_index``, naming its batch
        index and value (-100 without ``ignore_index=-100`` says to pass it).
    ValueError
        An invalid row with ``invalid='raise'``; a scalar ``logits``; a
        target with more dimensions than ``logits``; labels that do not
        broadcast to the batch shape or targets that do not broadcast against
        ``logits``; a bad ``temperature``, ``label_smoothing``, ``reduction``,
        ``base``, ``invalid`` or ``n_threads``; ``weight`` not of length K, or
        holding NaN or inf; ``ignore_index`` with soft targets; ``keepdims``
        or ``out`` with a reduction or with ``return_grad``; ``axis``
        out of range (``numpy.exceptions.AxisError``); ``out`` of the wrong
        shape or read-only; ``grad_out`` without ``return_grad``, of the
        wrong shape, read-only, or overlapping the logits without being them
        or overlapping the targets; soft targets that broadcast the logits to
        a larger shape with ``return_grad``.
    TypeError
        Complex, object or string logits; float (or object) labels; an
        integer or bool target with the logits' number of dimensions; an
        ``ignore_index`` that is not an integer; ``out`` that is not an
        ndarray of the result's dtype, ``grad_out`` that is not an ndarray
        of the gradient's; a non-integer ``n_threads``; a ``return_grad``
        that is not a bool.

    See Also
    --------
    perplexity : The exponential of the mean loss over labels.
    cross_entropy : The same measure of probabilities.
    sigmoid_cross_entropy : Independent binary labels.

    Examples
    --------
    >>> import fastinfo
    >>> logits = [[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]]
    >>> fastinfo.softmax_cross_entropy(logits, [0, 2])
    array([0.16984602, 1.09861229])
    >>> fastinfo.softmax_cross_entropy(logits, [0, 2], label_smoothing=0.1)
    array([0.33651269, 1.09861229])
    >>> loss = fastinfo.softmax_cross_entropy(logits, [0, -100], ignore_index=-100,
    ...                                       reduction="mean")
    >>> print(f"{loss:.8f}")
    0.16984602
    >>> fastinfo.softmax_cross_entropy(logits, fastinfo.softmax(logits))   # soft targets
    array([0.52426662, 1.09861229])
    >>> loss, grad = fastinfo.softmax_cross_entropy(logits, [0, 2], reduction="mean", return_grad=True)
    >>> grad   # (softmax - one-hot) / 2
    array([[-0.07810263,  0.0570976 ,  0.02100503],
           [ 0.16666667,  0.16666667, -0.33333333]])
    >>> fastinfo.softmax_cross_entropy(logits, [0.0, 2.0])   # float labels are refused
    Traceback (most recent call last):
        ...
    TypeError: softmax_cross_entropy: target holds class labels (one dimension fewer than the logits) and must be integers; got float64 — pass target.astype(int) (or .long()) for labels, or probabilities with the logits' shape for soft targets
    """
    return _cross_entropy("softmax_cross_entropy", "target", True, logits, target, temperature, label_smoothing,
                          ignore_index, weight, reduction, base, axis, keepdims, invalid, out, n_threads,
                          return_grad, grad_out, grad_output)


def _upstream(grad_output: ArrayLike | None, reduction: str, batch: tuple[int, ...],
              fname: str) -> float | NDArray[np.float64]:
    """The upstream gradient of a reduced value (a number) or of each row's value (an array of
    the batch shape, reduction 'none'): 1.0 when not given."""
    if grad_output is None:
        return 1.0
    u = np.asarray(grad_output)
    if u.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: grad_output must hold real numbers, got dtype {u.dtype}")
    u = u.astype(np.float64)
    if reduction != "none":
        if u.size != 1:
            raise ValueError(f"{fname}: with reduction={reduction!r} the value is one number: grad_output must "
                             f"be one number too, got shape {u.shape}")
        return float(u.reshape(()))
    try:
        return np.broadcast_to(u, batch)
    except ValueError:
        raise ValueError(f"{fname}: grad_output must broadcast to the rows' shape {batch} (one upstream "
                         f"gradient a row's value), got shape {u.shape}") from None


def _overlap(a: NDArray[Any], b: NDArray[Any]) -> bool:
    """Whether two arrays share an element (exact up to a bounded search; beyond it, whether
    their memory ranges meet)."""
    try:
        # a bounded search (NumPy's stubs list only -1 and 0, its function takes any bound)
        return bool(np.shares_memory(a, b, max_work=100_000))  # type: ignore[arg-type]
    except np.exceptions.TooHardError:
        return bool(np.may_share_memory(a, b))


def _in_place_invalid(fname: str, res: NDArray[np.float64], batch: tuple[int, ...], xname: str) -> NoReturn:
    """An invalid row of a gradient written over its input (grad_out is the input): the row is
    named, its values are gone."""
    i = tuple(int(j) for j in np.unravel_index(int(np.argmax(np.isnan(res))), batch)) if batch else ()
    raise ValueError(f"{fname}: the row at batch index {i} is invalid (a NaN or +inf value in it, only -inf "
                     f"logits, or an invalid target); its gradient was written over {xname} (grad_out is "
                     f"{xname}), so its values cannot be shown: pass invalid='nan' to get NaN for it, or a "
                     f"separate grad_out")


def _grad_buffer(X0: FloatArray, T: object, ax: int, grad_out: Any, fname: str, xname: str = "logits",
                 tname: str = "targets") -> tuple[FloatArray, FloatArray]:
    """The gradient's array with respect to X0 (its shape; float64 for float64 X0, else float32):
    grad_out checked (X0 itself allowed, T, the other input, not), or a new one; and its view with
    the class axis last."""
    gd = np.dtype(np.float64) if X0.dtype == np.float64 else np.dtype(np.float32)
    if grad_out is None:
        G = np.empty(X0.shape, dtype=gd)
    else:
        G = grad_out
        if not isinstance(G, np.ndarray) or G.dtype != gd:
            raise TypeError(f"{fname}: grad_out must be a {gd} ndarray (the gradient of {X0.dtype} logits is "
                            f"{gd}), got {getattr(G, 'dtype', type(G).__name__)}")
        if G.shape != X0.shape:
            raise ValueError(f"{fname}: grad_out must have {xname}' shape {X0.shape}, got {G.shape}")
        if not G.flags.writeable:
            raise ValueError(f"{fname}: grad_out is read-only")
        same = G.dtype == X0.dtype and G.__array_interface__["data"][0] == X0.__array_interface__["data"][0] \
            and G.strides == X0.strides
        if not same and _overlap(G, X0):
            raise ValueError(f"{fname}: grad_out overlaps {xname} without being it: pass {xname} itself "
                             f"(the gradient written in place) or a separate array")
        if isinstance(T, np.ndarray) and _overlap(G, T):
            raise ValueError(f"{fname}: grad_out overlaps {tname}, which the gradient reads")
    return G, np.moveaxis(G, ax, -1)


def _cross_entropy(fname: str, tname: str, allow_soft: bool, logits: ArrayLike, target: ArrayLike,
                   temperature: float, label_smoothing: float, ignore_index: int | None, weight: ArrayLike | None,
                   reduction: Reduction, base: float | None, axis: int, keepdims: bool, invalid: str,
                   out: FloatArray | None, n_threads: int | None, return_grad: bool = False,
                   grad_out: FloatArray | None = None, grad_output: ArrayLike | None = None,
                   _lse: tuple[str, NDArray[np.float64]] | None = None) -> Any:
    """softmax_cross_entropy (and perplexity's mean: fname, tname name the function and the target);
    with return_grad, (loss, its gradient with respect to the logits). _lse ("save" or "from", an
    array of the rows' shape + (2,)): the rows' normalizers saved there by a forward call, or a
    backward call (return_grad) that reads them instead of the logits' passes and returns the
    gradient only (fastinfo.torch)."""
    log_base = _args.log_base(base)
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    reduction = _reduction(reduction)
    ignore_index = _ignore_index(ignore_index, fname)
    if isinstance(label_smoothing, (bool, np.bool_)) or not isinstance(label_smoothing, numbers.Real) \
            or not (0.0 <= float(label_smoothing) <= 1.0):
        raise ValueError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    eps = float(label_smoothing)
    if not isinstance(return_grad, (bool, np.bool_)):
        raise TypeError(f"{fname}: return_grad must be True or False, got {return_grad!r}")
    if (grad_out is not None or grad_output is not None) and not return_grad:
        raise ValueError(f"{fname}: grad_out and grad_output are for the gradient: pass return_grad=True with them")
    if return_grad and (keepdims or out is not None):
        raise ValueError(f"{fname}: keepdims and out do not apply with return_grad=True (a (loss, gradient) pair)")
    X0 = _args.as_array(logits, "logits", two_byte=True)
    scale = _scale(temperature, _res_dtype(X0.dtype))
    T = target if isinstance(target, np.ndarray) else np.asarray(target)
    soft = _is_soft(T, X0.ndim, fname, tname, allow_soft)
    G = Gk = O = None
    if soft:
        if ignore_index is not None:
            raise ValueError(f"{fname}: ignore_index applies to class labels only; {tname} holds probabilities "
                             f"(it has the logits' number of dimensions), where rows are left out by giving "
                             f"them zero targets")
        X, Tt, ax = _pair(X0, T, ("logits", tname), axis)
        if Tt.dtype != X.dtype:
            X, Tt = X.astype(_args.F64, copy=False), Tt.astype(_args.F64, copy=False)
        K = X.shape[-1]
        w = _class_weights(weight, K, fname)
        wt = np.ones(K) if w is None else w
        f = None
        if return_grad:
            G, Gk = _grad_buffer(X0, T, ax, grad_out, fname)
            if X.shape != Gk.shape:
                raise ValueError(f"{fname}: with return_grad=True the targets must not broadcast the logits "
                                 f"beyond their shape {X0.shape} (the gradient has the logits' shape)")
            n = math.prod(X.shape[:-1]) if reduction == "mean" else 1
            f = _upstream(grad_output, reduction, X.shape[:-1], fname) * (scale / log_base / n if n else math.nan)
            # the kernels write float64 for float64 rows (targets of another dtype make them float64)
            O = Gk if (Gk.dtype == np.float64) == (X.dtype == np.float64) else np.empty(X.shape, np.float64)
        res, _, nbad = _run(_OPS["ce_soft"], X, Tt, None, O, scale, eps, wt, nt, grad=f, lse=_lse)
        if nbad and not nan_mode:
            if O is not None and np.may_share_memory(O, X):
                _in_place_invalid(fname, res, X.shape[:-1], "logits")
            _raise_invalid(fname, [X], ["logits"], res, X.shape[:-1], targets=Tt)
        denom = None
        dtype = _res_dtype(X.dtype)
    else:
        X, ax = _logits(X0, "logits", axis)
        batch, K = X.shape[:-1], X.shape[-1]
        w = _class_weights(weight, K, fname)
        L, ign = _labels(T, batch, K, ignore_index, fname, tname)
        smooth = eps > 0
        if return_grad:
            G, Gk = _grad_buffer(X0, T, ax, grad_out, fname)
        wt = (np.ones(K) if w is None else w) if smooth or Gk is not None else None
        wy = np.where(ign, 0.0, 1.0) if w is None else np.where(ign, 0.0, w[np.where(ign, 0, L)])
        f = None
        if Gk is not None:
            # the mean's denominator is known before the rows are read: one pass writes the gradient
            den = _total(wy) if reduction == "mean" else 1.0
            # a mean over nothing: NaN
            f = _upstream(grad_output, reduction, batch, fname) * (scale / log_base / den if den else math.nan)
            O = Gk
        nll, sm, nbad = _run(_OPS["ce_label"], X, None, L, O, scale, eps, wt, nt, smooth=smooth, grad=f, lse=_lse)
        if nbad and not nan_mode:
            if O is not None and np.may_share_memory(O, X):
                _in_place_invalid(fname, nll, batch, "logits")
            _raise_invalid(fname, [X], ["logits"], nll, batch)
        invalid_rows = np.isnan(nll)
        with np.errstate(invalid="ignore"):
            # a zero weight (or an ignored label) contributes 0, also when its nll is +inf
            res = np.where(wy == 0, 0.0, (1.0 - eps) * wy * nll) if eps < 1 else np.zeros_like(nll)
        if smooth and K:
            res = res + (eps / K) * sm
        res = np.where(invalid_rows, np.nan, res)   # invalid="nan": NaN whatever the weights
        denom = _total(wy)      # exactly rounded: weights that cancel give exactly 0 (a NaN mean)
        dtype = _res_dtype(X.dtype)
    if _lse is not None and _lse[0] == "from":
        if O is not None and O is not Gk:
            Gk[...] = O
        return G
    if log_base != 1.0:
        res = res / log_base
    loss = _reduce_rows(res, reduction, dtype, denom, keepdims, ax, out)
    if G is None:
        return loss
    if O is not None and O is not Gk:
        Gk[...] = O
    return loss, G


@overload
def softmax_kl_divergence(p_logits: ArrayLike, q_logits: ArrayLike, *, temperature: float = ...,
                          labels: ArrayLike | None = ..., ignore_index: int | None = ...,
                          where: ArrayLike | None = ..., reduction: DivReduction = ..., axis: int = ...,
                          base: float | None = ..., keepdims: bool = ..., invalid: Invalid = ...,
                          out: FloatArray | None = ..., n_threads: int | None = ...,
                          return_grad: Literal[False] = ..., grad_out: None = ...,
                          grad_output: None = ...) -> FloatResult: ...
@overload
def softmax_kl_divergence(p_logits: ArrayLike, q_logits: ArrayLike, *, temperature: float = ...,
                          labels: ArrayLike | None = ..., ignore_index: int | None = ...,
                          where: ArrayLike | None = ..., reduction: DivReduction = ..., axis: int = ...,
                          base: float | None = ..., keepdims: bool = ..., invalid: Invalid = ...,
                          out: FloatArray | None = ..., n_threads: int | None = ...,
                          return_grad: Literal[True], grad_out: FloatArray | None = ...,
                          grad_output: ArrayLike | None = ...) -> tuple[FloatResult, FloatArray]: ...
@_dk.dask_aware(_dk.PQ_LOGITS, front="softmax_kl_divergence")
def softmax_kl_divergence(p_logits: ArrayLike, q_logits: ArrayLike, *, temperature: float = 1.0,
                          labels: ArrayLike | None = None, ignore_index: int | None = None,
                          where: ArrayLike | None = None, reduction: DivReduction = "none", axis: int = -1,
                          base: float | None = None, keepdims: bool = False, invalid: Invalid = "raise",
                          out: FloatArray | None = None, n_threads: int | None = None, return_grad: bool = False,
                          grad_out: FloatArray | None = None,
                          grad_output: ArrayLike | None = None) -> FloatResult | tuple[FloatResult, FloatArray]:
    """Kullback-Leibler divergence KL(softmax(p/T) || softmax(q/T)) of each pair of rows.

    p is the teacher, q the student (distillation). Two passes over both rows,
    no intermediate arrays: with z = (x - max x) / T, e = exp(z^p),
    S_p = sum e and S_q = sum exp(z^q),
    KL = sum_i e_i (z^p_i - z^q_i) / S_p - log S_p + log S_q, clamped at 0.
    A -inf in ``p_logits`` (probability 0) contributes 0; a -inf in
    ``q_logits`` where p has mass gives +inf. NaN or +inf logits, or a row of
    only -inf, are invalid.

    {kl_pair_doc}

    See Also
    --------
    kl_divergence : The same measure of probabilities.
    softmax_js_divergence

    Examples
    --------
    >>> import fastinfo
    >>> teacher = [[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]]
    >>> student = [[0.5, 0.5, 0.5], [2.0, 0.0, -1.0]]
    >>> fastinfo.softmax_kl_divergence(teacher, student)
    array([0.57434567, 0.7379004 ])
    >>> kd = fastinfo.softmax_kl_divergence(teacher, student, temperature=2.0, reduction="mean")
    >>> print(f"{kd:.8f}")
    0.19587143
    >>> fastinfo.softmax_kl_divergence(teacher, student, labels=[3, -100], ignore_index=-100)
    array([0.57434567, 0.        ])
    >>> kd, grad = fastinfo.softmax_kl_divergence(teacher, student, return_grad=True)
    >>> grad   # softmax(student) - softmax(teacher)
    array([[-0.5104614 ,  0.21913813,  0.29132327],
           [ 0.5104614 , -0.21913813, -0.29132327]])
    """
    return _pair_measure("softmax_kl_divergence", p_logits, q_logits, temperature, reduction, axis, base,
                         keepdims, invalid, out, n_threads, labels, ignore_index, where,
                         return_grad=return_grad, grad_out=grad_out, grad_output=grad_output)


@overload
def softmax_js_divergence(p_logits: ArrayLike, q_logits: ArrayLike, *, temperature: float = ...,
                          beta: float = ..., labels: ArrayLike | None = ..., ignore_index: int | None = ...,
                          where: ArrayLike | None = ..., reduction: DivReduction = ..., axis: int = ...,
                          base: float | None = ..., keepdims: bool = ..., invalid: Invalid = ...,
                          out: FloatArray | None = ..., n_threads: int | None = ...,
                          return_grad: Literal[False] = ..., grad_out: None = ...,
                          grad_output: None = ...) -> FloatResult: ...
@overload
def softmax_js_divergence(p_logits: ArrayLike, q_logits: ArrayLike, *, temperature: float = ...,
                          beta: float = ..., labels: ArrayLike | None = ..., ignore_index: int | None = ...,
                          where: ArrayLike | None = ..., reduction: DivReduction = ..., axis: int = ...,
                          base: float | None = ..., keepdims: bool = ..., invalid: Invalid = ...,
                          out: FloatArray | None = ..., n_threads: int | None = ...,
                          return_grad: Literal[True], grad_out: FloatArray | None = ...,
                          grad_output: ArrayLike | None = ...) -> tuple[FloatResult, FloatArray]: ...
@_dk.dask_aware(_dk.PQ_LOGITS, front="softmax_js_divergence")
def softmax_js_divergence(p_logits: ArrayLike, q_logits: ArrayLike, *, temperature: float = 1.0,
                          beta: float = 0.5, labels: ArrayLike | None = None, ignore_index: int | None = None,
                          where: ArrayLike | None = None, reduction: DivReduction = "none", axis: int = -1,
                          base: float | None = None, keepdims: bool = False, invalid: Invalid = "raise",
                          out: FloatArray | None = None, n_threads: int | None = None, return_grad: bool = False,
                          grad_out: FloatArray | None = None,
                          grad_output: ArrayLike | None = None) -> FloatResult | tuple[FloatResult, FloatArray]:
    """Jensen-Shannon divergence of softmax(p/T) and softmax(q/T) for each pair of rows (generalized: beta).

    JS = KL(a || m) / 2 + KL(b || m) / 2 with a = softmax(p/T),
    b = softmax(q/T) and m = (a + b) / 2, computed without writing a, b or m:
    0 <= JS <= log 2, finite also where one softmax has zeros (-inf logits).
    NaN or +inf logits, or a row of only -inf, are invalid.

    ``beta`` weighs the two (the generalized JSD of distillation losses, as
    Liger-Kernel's ``LigerJSD`` and TRL's ``generalized_jsd_loss`` define it,
    p the teacher): JSD_beta = beta KL(a || m) + (1 - beta) KL(b || m) with
    m = beta a + (1 - beta) b, in [0, h(beta)] (h the binary entropy); so
    JSD_beta(p, q) = JSD_(1 - beta)(q, p). ``beta=0`` and ``beta=1`` are, as
    there, the forward KL(a || b) and the reverse KL(b || a) -- not the
    formula's value, which vanishes at both ends, but its slope there (in
    beta and 1 - beta): exactly :func:`softmax_kl_divergence`. Other betas than
    1/2 are computed in float64 a block of rows at a time, each pair of
    elements from d = log a - log b as b (beta (1 + e) d - (1 + beta e)
    log1p(beta e)), e = expm1(d) (with the roles swapped where d > 0): no
    difference of two logs of probabilities, so a small divergence keeps its
    relative accuracy to about ``1e-16 / (min(beta, 1 - beta) abs(d))`` (d
    from the logits' difference and one constant a row).

    {js_pair_doc}

    See Also
    --------
    js_divergence : The same measure of probabilities.
    softmax_kl_divergence

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> print(fastinfo.softmax_js_divergence([0.0, -np.inf], [-np.inf, 0.0], base=2))
    1.0
    >>> teacher, student = [2.0, 0.0, -1.0], [0.5, 0.5, 0.5]
    >>> print(f"{fastinfo.softmax_js_divergence(teacher, student, beta=0.1):.8f}")
    0.05166303
    >>> fastinfo.softmax_js_divergence(teacher, student, beta=0.0) == fastinfo.softmax_kl_divergence(teacher, student)
    np.True_
    >>> js, grad = fastinfo.softmax_js_divergence(teacher, student, return_grad=True)
    >>> grad      # with respect to the student's logits
    array([-0.1172269,  0.0439552,  0.0732717])
    """
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real) or not 0.0 <= float(beta) <= 1.0:
        raise ValueError(f"beta must be a number in [0, 1], got {beta!r}")
    beta = float(beta)
    fname = "softmax_js_divergence"
    _grad_args(fname, return_grad, grad_out, grad_output, keepdims, out)
    if return_grad:
        # the gradient's buffer is checked (and q_logits' shape) before anything is computed
        value = softmax_js_divergence(p_logits, q_logits, temperature=temperature, beta=beta, labels=labels,
                                      ignore_index=ignore_index, where=where, reduction=reduction, axis=axis,
                                      base=base, invalid=invalid, n_threads=n_threads)
        return value, _js_grad(p_logits, q_logits, temperature, beta, reduction, axis, base, labels,
                               ignore_index, where, grad_out, grad_output, n_threads)
    if beta == 0.5:
        return _pair_measure(fname, p_logits, q_logits, temperature, reduction, axis, base,
                             keepdims, invalid, out, n_threads, labels, ignore_index, where)
    if beta in (0.0, 1.0):
        a, b = (p_logits, q_logits) if beta == 0.0 else (q_logits, p_logits)
        names = ("p_logits", "q_logits") if beta == 0.0 else ("q_logits", "p_logits")
        return _pair_measure("softmax_kl_divergence", a, b, temperature, reduction, axis, base, keepdims,
                             invalid, out, n_threads, labels, ignore_index, where, fname=fname, names=names)
    return _generalized_js(p_logits, q_logits, temperature, beta, reduction, axis, base, keepdims, invalid, out,
                           n_threads, labels, ignore_index, where)


def _generalized_js(p: ArrayLike, q: ArrayLike, temperature: float, beta: float, reduction: DivReduction,
                    axis: int, base: float | None, keepdims: bool, invalid: str, out: FloatArray | None,
                    n_threads: int | None, labels: ArrayLike | None, ignore_index: int | None,
                    where: ArrayLike | None) -> FloatResult:
    """softmax_js_divergence for 0 < beta < 1, beta != 1/2: float64 rows a block at a time (the rows
    left out by a mask are not read)."""
    fname = "softmax_js_divergence"
    log_base = _args.log_base(base)
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    reduction = _div_reduction(reduction)
    P, Q, ax = _pair(p, q, ("p_logits", "q_logits"), axis)
    dtype = _res_dtype(P.dtype) if P.dtype == Q.dtype else _args.F64
    scale = _scale(temperature, dtype)
    batch, K = np.broadcast_shapes(P.shape[:-1], Q.shape[:-1]), P.shape[-1]
    skip = _left_out(labels, ignore_index, where, batch, fname)
    nrows = math.prod(batch)
    P2 = np.broadcast_to(P, batch + (K,)).reshape(nrows, K)
    Q2 = np.broadcast_to(Q, batch + (K,)).reshape(nrows, K)
    res = np.zeros(nrows)
    bound = -beta * math.log(beta) - (1.0 - beta) * math.log1p(-beta)     # JSD_beta <= h(beta)
    for sel in _kept_blocks(skip, nrows, K):                             # the rows read
        # scaled logits and their log-sum-exps in float64 (NaN for a NaN, +inf or all -inf row: invalid)
        xa = P2[sel].astype(_args.F64) * scale
        xb = Q2[sel].astype(_args.F64) * scale
        sa = np.asarray(logsumexp(xa, invalid="nan", n_threads=nt))
        sb = np.asarray(logsumexp(xb, invalid="nan", n_threads=nt))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            la, lb = xa - sa[:, None], xb - sb[:, None]
            # d = log a - log b from the logits' difference and one constant a row: an error in the
            # constant shifts every d of the row alike, which adds nothing to first order (the
            # derivative of the row's sum in a common shift of d is a multiple of sum (a - b) = 0)
            d = (xa - xb) - (sa - sb)[:, None]
            lo_side = d <= 0                    # the base is the larger: b where d <= 0, else a
            w = np.where(lo_side, beta, 1.0 - beta)
            base_lp = np.where(lo_side, lb, la)
            e = np.expm1(-np.abs(d))           # in (-1, 0]
            dd = -np.abs(d)
            term = np.exp(base_lp) * (w * (1.0 + e) * dd - (1.0 + w * e) * np.log1p(w * e))
            # one side -inf (probability 0): its term alone, -w' log w' of the other's mass
            only_a = (lb == -np.inf) & (la > -np.inf)
            only_b = (la == -np.inf) & (lb > -np.inf)
            term = np.where(only_a, -beta * math.log(beta) * np.exp(la), term)
            term = np.where(only_b, -(1.0 - beta) * math.log1p(-beta) * np.exp(lb), term)
            term = np.where((la == -np.inf) & (lb == -np.inf), 0.0, term)
            r = np.sum(term, axis=-1)
        # NaN or +inf logits (NaN sums), or a row of only -inf (softmax undefined)
        bad = (np.isnan(sa) | np.isnan(sb) | (sa == -np.inf) | (sb == -np.inf)) if K else np.zeros(sa.shape, bool)
        res[sel] = np.where(bad, np.nan, np.clip(r, 0.0, bound))
    rows: NDArray[np.float64] = res.reshape(batch)
    if np.isnan(rows).any() and not nan_mode:
        _raise_invalid(fname, [np.broadcast_to(P, batch + (K,)), np.broadcast_to(Q, batch + (K,))],
                       ["p_logits", "q_logits"], rows, batch)
    if log_base != 1.0:
        rows = rows / log_base
    return _reduce_rows(rows, reduction, dtype, _kept(skip), keepdims=keepdims, ax=ax, out=out)


def _q_grad_buffer(P0: FloatArray, Q0: FloatArray, Q: FloatArray, ax: int, grad_out: Any, fname: str,
                   names: tuple[str, str]) -> tuple[FloatArray, FloatArray]:
    """The gradient's array with respect to the second rows Q0 of a divergence (checked as
    _grad_buffer does), and its view of the kernels' shape: Q, the rows as broadcast against the
    first ones, which may add length-1 leading batch axes only."""
    extra = Q.ndim - Q0.ndim         # leading batch axes p adds to q's (length 1 only)
    qa = ax - extra
    if extra < 0 or Q.shape[:extra] != (1,) * extra or Q.shape[extra:-1] != Q0.shape[:qa] + Q0.shape[qa + 1:]:
        raise ValueError(f"{fname}: with return_grad=True {names[0]} must not broadcast {names[1]} "
                         f"{Q0.shape} to a larger batch (the gradient has {names[1]}' shape)")
    G, Gq = _grad_buffer(Q0, P0, qa, grad_out, fname, names[1], names[0])
    return G, Gq[(None,) * extra]


def _div_grad_factor(grad_output: ArrayLike | None, reduction: str, batch: tuple[int, ...],
                     skip: NDArray[np.bool_] | None, scale: float, fname: str) -> float | NDArray[np.float64]:
    """The rows' gradient factor of a reduced divergence: the upstream gradient times scale (1/T
    over ln base) over the reduction's denominator (the rows kept, or the first batch axis)."""
    den = {"mean": _kept(skip) if skip is not None else math.prod(batch),
           "batchmean": batch[0] if batch else 1}.get(reduction, 1)
    return _upstream(grad_output, reduction, batch, fname) * (scale / den if den else math.nan)


def _js_grad(p: ArrayLike, q: ArrayLike, temperature: float, beta: float, reduction: DivReduction, axis: int,
             base: float | None, labels: ArrayLike | None, ignore_index: int | None, where: ArrayLike | None,
             grad_out: FloatArray | None, grad_output: ArrayLike | None, n_threads: int | None) -> FloatArray:
    """The gradient of softmax_js_divergence with respect to q (see its return_grad), in float64 a
    block of rows at a time. With b = softmax(q/T), a = softmax(p/T), m = beta a + (1 - beta) b:
    d JSD_beta / d b_k = (1 - beta) log(b_k / m_k) (the terms in a/m and b/m sum to -1 and
    cancel the +1), and through the softmax (1 - beta) b (r - sum b r), r = log(b/m)."""
    fname = "softmax_js_divergence"
    log_base = _args.log_base(base)
    nt = _args.threads(n_threads)
    reduction = _div_reduction(reduction)
    Q0 = _args.as_array(q, "q_logits", two_byte=True)
    P0 = _args.as_array(p, "p_logits", two_byte=True)
    P, Q, ax = _pair(P0, Q0, ("p_logits", "q_logits"), axis)
    G, Gk = _q_grad_buffer(P0, Q0, Q, ax, grad_out, fname, ("p_logits", "q_logits"))
    scale = _scale(temperature, _res_dtype(Q.dtype))
    batch, K = Q.shape[:-1], Q.shape[-1]
    skip = _left_out(labels, ignore_index, where, batch, fname)
    f = np.broadcast_to(_div_grad_factor(grad_output, reduction, batch, skip, scale / log_base, fname),
                        batch).reshape(-1)
    nrows = math.prod(batch)
    P2 = np.broadcast_to(P, batch + (K,)).reshape(nrows, K)
    Q2 = Q.reshape(nrows, K)
    out = np.zeros((nrows, K))
    lw, lw1 = (math.log(beta) if beta > 0 else -math.inf), (math.log1p(-beta) if beta < 1 else -math.inf)
    for sel in _kept_blocks(skip, nrows, K):
        xa = P2[sel].astype(_args.F64) * scale
        xb = Q2[sel].astype(_args.F64) * scale
        sa = np.asarray(logsumexp(xa, invalid="nan", n_threads=nt))[:, None]
        sb = np.asarray(logsumexp(xb, invalid="nan", n_threads=nt))[:, None]
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            la, lb = xa - sa, xb - sb
            b = np.exp(lb)
            if beta == 0.0:             # the forward KL(a || b)
                g = b - np.exp(la)
            else:
                r = lb - (la if beta == 1.0 else np.logaddexp(lw + la, lw1 + lb))
                br = np.where(b > 0, b * r, 0.0)
                g = (1.0 - beta if beta < 1.0 else 1.0) * np.where(b > 0, b * (r - br.sum(-1, keepdims=True)), 0.0)
        g = np.where(np.isnan(sa) | np.isnan(sb) | (sa == -np.inf) | (sb == -np.inf), np.nan, g)
        out[sel] = g * f[sel][:, None]
    Gk[...] = out.reshape(batch + (K,))
    return G


def _kept(skip: NDArray[np.bool_] | None) -> float | None:
    """The denominator of a masked mean: the rows kept (None: every row)."""
    return None if skip is None else float(skip.size - np.count_nonzero(skip))


def _kept_blocks(skip: NDArray[np.bool_] | None, nrows: int, K: int) -> Iterator[Any]:
    """The rows a masked row-block loop reads, a block of about 2^20 elements at a time: slices
    of 0..nrows-1 without a mask, else index arrays of the rows kept (skip False)."""
    kept = None if skip is None else np.flatnonzero(~skip.reshape(-1))
    nread = nrows if kept is None else kept.size
    step = max(1, (1 << 20) // max(K, 1))
    for lo in range(0, nread, step):
        hi = min(nread, lo + step)
        yield slice(lo, hi) if kept is None else kept[lo:hi]


def _pair_measure(op: str, p: ArrayLike, q: ArrayLike, temperature: float, reduction: DivReduction, axis: int,
                  base: float | None, keepdims: bool, invalid: str, out: FloatArray | None,
                  n_threads: int | None, labels: ArrayLike | None = None, ignore_index: int | None = None,
                  where: ArrayLike | None = None, fname: str | None = None,
                  names: tuple[str, str] = ("p_logits", "q_logits"), return_grad: bool = False,
                  grad_out: FloatArray | None = None, grad_output: ArrayLike | None = None,
                  _lse: tuple[str, NDArray[np.float64]] | None = None) -> Any:
    """A divergence of two rows of logits by the kernel op (and the function named fname, whose
    arguments p and q are named names); the rows left out by labels == ignore_index or where
    False are not read, and give 0. return_grad (KL): also its gradient with respect to q.
    _lse (KL): as _cross_entropy's, both rows' log-sum-exps."""
    fname = fname or op
    log_base = _args.log_base(base)
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    reduction = _div_reduction(reduction)
    _grad_args(fname, return_grad, grad_out, grad_output, keepdims, out)
    Q0 = _args.as_array(q, names[1], two_byte=True) if return_grad else None
    P, Q, ax = _pair(p, q if Q0 is None else Q0, names, axis)
    scale = _scale(temperature, _res_dtype(P.dtype))
    skip = _left_out(labels, ignore_index, where, P.shape[:-1], fname)
    L = None if skip is None else np.where(skip, -1, 0).astype(np.int64)   # the kernels' row mask
    G = O = f = None
    if Q0 is not None:
        G, Gk = _q_grad_buffer(_args.as_array(p, names[0], two_byte=True), Q0, Q, ax, grad_out, fname, names)
        f = _div_grad_factor(grad_output, reduction, Q.shape[:-1], skip, scale / log_base, fname)
        # the kernels write float64 for float64 rows (rows of two dtypes are read as float64)
        O = Gk if (Gk.dtype == np.float64) == (Q.dtype == np.float64) else np.empty(Q.shape, np.float64)
    res, _, nbad = _run(_OPS[op], P, Q, L, O, scale, 0.0, None, nt, grad=f, lse=_lse)
    if _lse is not None and _lse[0] == "from":
        if O is not Gk:
            Gk[...] = O
        return G
    if nbad and not nan_mode:
        if O is not None and np.may_share_memory(O, Q):
            _in_place_invalid(fname, res, P.shape[:-1], names[1])
        _raise_invalid(fname, [P, Q], list(names), res, P.shape[:-1])
    if log_base != 1.0:
        res = res / log_base
    value = _reduce_rows(res, reduction, _res_dtype(P.dtype), _kept(skip), keepdims=keepdims, ax=ax, out=out)
    if G is None:
        return value
    if O is not Gk:
        Gk[...] = O
    return value, G


@_dk.dask_aware(_dk.PQ_LOGITS)
def softmax_total_variation(p_logits: ArrayLike, q_logits: ArrayLike, *, temperature: float = 1.0,
                            labels: ArrayLike | None = None, ignore_index: int | None = None,
                            where: ArrayLike | None = None, reduction: DivReduction = "none", axis: int = -1,
                            keepdims: bool = False, invalid: Invalid = "raise", out: FloatArray | None = None,
                            n_threads: int | None = None) -> FloatResult:
    """Total variation distance of softmax(p/T) and softmax(q/T) for each pair of rows.

    TV = sum_i abs(a_i - b_i) / 2 with a = softmax(p/T), b = softmax(q/T), in
    [0, 1], computed without writing a or b: the two rows' log-sum-exps, then
    a third pass in float64. Each term is max(a_i, b_i) (1 - exp(-abs(d_i)))
    with d_i = log a_i - log b_i from the logits' difference, by its series
    where abs(d_i) < 1/4 (above, max - min loses at most 2 bits to
    cancellation), and the first-order effect of the rows' rounded
    normalizing constants cancels (the design notes on accuracy say how), so
    a small distance keeps its relative accuracy (about 1e-16 relative for a
    distance of 1e-12 between float64 rows) instead of being a difference of
    two rounded probabilities. A -inf logit is probability 0. NaN or +inf
    logits, or a row of only -inf, are invalid.

    {tv_pair_doc}

    See Also
    --------
    total_variation : The same measure of probabilities.
    softmax_kl_divergence : Pinsker: TV <= sqrt(KL / 2).

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> fastinfo.softmax_total_variation([[0.0, -np.inf], [1.0, 1.0]], [[-np.inf, 0.0], [1.0, 1.0]])
    array([1., 0.])
    >>> tv = fastinfo.softmax_total_variation([2.0, 0.0, -1.0], [0.5, 0.5, 0.5])
    >>> print(f"{tv:.8f}")
    0.51046140
    """
    return _pair_measure("softmax_total_variation", p_logits, q_logits, temperature, reduction, axis, None,
                         keepdims, invalid, out, n_threads, labels, ignore_index, where)


@overload
def sigmoid_cross_entropy(logits: ArrayLike, targets: ArrayLike, *, pos_weight: ArrayLike | None = ...,
                          weight: ArrayLike | None = ..., reduction: Reduction = ...,
                          base: float | None = ..., invalid: Invalid = ..., return_grad: Literal[False] = ...,
                          grad_out: None = ..., grad_output: None = ...) -> FloatResult: ...
@overload
def sigmoid_cross_entropy(logits: ArrayLike, targets: ArrayLike, *, pos_weight: ArrayLike | None = ...,
                          weight: ArrayLike | None = ..., reduction: Reduction = ...,
                          base: float | None = ..., invalid: Invalid = ..., return_grad: Literal[True],
                          grad_out: FloatArray | None = ...,
                          grad_output: ArrayLike | None = ...) -> tuple[FloatResult, FloatArray]: ...
@_dk.dask_aware(_dk.SIGMOID)
def sigmoid_cross_entropy(logits: ArrayLike, targets: ArrayLike, *, pos_weight: ArrayLike | None = None,
                          weight: ArrayLike | None = None, reduction: Reduction = "none",
                          base: float | None = None, invalid: Invalid = "raise", return_grad: bool = False,
                          grad_out: FloatArray | None = None,
                          grad_output: ArrayLike | None = None) -> FloatResult | tuple[FloatResult, FloatArray]:
    """Elementwise binary cross-entropy from logits, stable for any magnitude.

    ``loss = (1 - z) x + (1 + (pw - 1) z) (log1p(exp(-|x|)) + max(-x, 0))``, which is
    ``max(x, 0) - x z + log1p(exp(-|x|))`` without ``pos_weight``; computed as
    pw z softplus(-x) + (1 - z) softplus(x), so tiny losses keep their relative
    accuracy (x = 40, z = 1 gives 4.25e-18, not 0). The conventions of
    PyTorch's ``torch.nn.functional.binary_cross_entropy_with_logits``. A
    -inf logit is a mask (probability 0: loss 0 for target 0, +inf for
    target 1); a term with a zero target weight is exactly 0. Elementwise
    NumPy (no threads).

    Parameters
    ----------
    logits : array_like
        Real numbers x.
    targets : array_like
        Probabilities z in [0, 1] (bool or 0/1 integer labels too), broadcast
        against ``logits``.
    pos_weight : array_like, optional
        Weight pw of the positive term, broadcast against the targets (a vector
        along the last axis weights each class). Any finite numbers, negative
        and zero included (PyTorch's rule).
    weight : array_like, optional
        Elementwise weight of the loss, broadcast against it. Any finite
        numbers, negative and zero included.
    reduction : {'none', 'sum', 'mean'}, default 'none'
        ``'none'``: the elementwise loss. ``'sum'``: its exact sum
        (``math.fsum``). ``'mean'``: the sum over the number of elements (NaN
        for none).
    {base}
    invalid : {'raise', 'nan'}, default 'raise'
        A NaN or +inf logit, or a target outside [0, 1] (NaN included), raises
        ``ValueError`` naming the element's index (``'raise'``), or gives NaN
        for that element (``'nan'``).
    return_grad : bool, default False
        Also return the gradient with respect to ``logits`` of the reduced
        loss (of the sum of the elements' losses for ``'none'``, PyTorch's
        ``loss.backward(torch.ones_like(loss))``): ``weight * ((1 - z)
        sigmoid(x) - pw z sigmoid(-x))``, over the number of elements for
        ``'mean'``, over ln(``base``) with a base, 0 where both target
        weights are 0, NaN at an invalid element (``invalid='nan'``). The
        targets must not broadcast the logits to a larger shape. The
        gradient has the loss's dtype.
    grad_out : ndarray, optional
        Where the gradient goes (with ``return_grad=True``): the logits'
        shape and the loss's dtype; it may be ``logits`` itself.
    grad_output : array_like, optional
        The upstream gradient (with ``return_grad=True``): one number for
        ``'sum'`` and ``'mean'``, broadcast to the loss's shape for
        ``'none'``; the gradient is then PyTorch's
        ``loss.backward(grad_output)``. Default 1.

    Returns
    -------
    ndarray or NumPy scalar, or (loss, gradient)
        ``reduction='none'``: the broadcast shape of the inputs (a NumPy scalar
        for 0-d input); otherwise a NumPy scalar. float32 when the logits are
        float32 and the targets float32 or not floating (bool, integer),
        otherwise float64. With ``return_grad=True`` the pair (loss,
        gradient), the gradient of the logits' shape.

    Raises
    ------
    ValueError
        An invalid element with ``invalid='raise'``; inputs that do not
        broadcast; a NaN or infinite ``pos_weight`` or ``weight``; a bad
        ``reduction``, ``base`` or ``invalid``; ``grad_out`` without
        ``return_grad``, of the wrong shape or read-only; targets or weights
        that broadcast the logits to a larger shape with ``return_grad``.
    TypeError
        Logits, targets or weights that are not real numbers (complex,
        object, string); ``grad_out`` that is not an ndarray of the loss's
        dtype; a ``return_grad`` that is not a bool.

    See Also
    --------
    softmax_cross_entropy : One label out of K classes.

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> fastinfo.sigmoid_cross_entropy([0.0, 40.0, -np.inf], [1, 1, 0])
    array([6.93147181e-01, 4.24835426e-18, 0.00000000e+00])
    >>> fastinfo.sigmoid_cross_entropy([[0.0, 0.0]], [[1, 1]], pos_weight=[1.0, 3.0])
    array([[0.69314718, 2.07944154]])
    >>> loss, grad = fastinfo.sigmoid_cross_entropy([0.0, 2.0], [1, 0], return_grad=True)
    >>> grad   # sigmoid(x) - z
    array([-0.5       ,  0.88079708])
    """
    fname = "sigmoid_cross_entropy"
    log_base = _args.log_base(base)
    nan_mode = _args.nan_mode(invalid)
    reduction = _reduction(reduction)
    if not isinstance(return_grad, (bool, np.bool_)):
        raise TypeError(f"{fname}: return_grad must be True or False, got {return_grad!r}")
    if (grad_out is not None or grad_output is not None) and not return_grad:
        raise ValueError(f"{fname}: grad_out and grad_output are for the gradient: pass return_grad=True with them")
    X = np.asarray(logits)
    Z = np.asarray(targets)
    for a, name in ((X, "logits"), (Z, "targets")):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{fname}: {name} must be real numbers, got dtype {a.dtype}")
    for v, name in ((pos_weight, "pos_weight"), (weight, "weight")):
        if v is not None:     # PyTorch's rule: any finite number (negative and 0 included)
            W = np.asarray(v)
            if W.dtype.kind not in "biuf":
                raise TypeError(f"{fname}: {name} must hold real numbers, got dtype {W.dtype}")
            _check_finite(W.astype(np.float64), name, fname, per_class=False)
    dtype: np.dtype[np.floating[Any]] = _args.F32 if (X.dtype == _args.F32 and Z.dtype.kind != "f") or \
        (X.dtype == _args.F32 and Z.dtype == _args.F32) else _args.F64
    if grad_out is not None:
        if not isinstance(grad_out, np.ndarray) or grad_out.dtype != dtype:
            raise TypeError(f"{fname}: grad_out must be a {dtype} ndarray (the loss's dtype), got "
                            f"{getattr(grad_out, 'dtype', type(grad_out).__name__)}")
        if grad_out.shape != X.shape or not grad_out.flags.writeable:
            raise ValueError(f"{fname}: grad_out must be a writeable array of the logits' shape {X.shape}, got "
                             f"{grad_out.shape}{'' if grad_out.flags.writeable else ' (read-only)'}")
    x = X.astype(dtype, copy=False)
    z = Z.astype(dtype, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        bad = np.isnan(x) | (x == np.inf)      # -inf is a mask: p = 0
        zbad = ~((z >= 0) & (z <= 1))
        # softplus(x) = log(1 + e^x) = l + max(x, 0) with l = log1p(exp(-|x|)) (no overflow);
        # loss = pw z softplus(-x) + (1 - z) softplus(x): no cancellation for z in {0, 1},
        # so tiny losses keep their relative accuracy
        lg = np.log1p(np.exp(-np.abs(x)))
        pos = lg + np.maximum(-x, 0)        # -log sigmoid(x)
        neg = lg + np.maximum(x, 0)         # -log(1 - sigmoid(x))
        zp = z if pos_weight is None else np.asarray(pos_weight, dtype=dtype) * z
        zn = 1 - z
        # a zero target weight contributes exactly 0 (also against a -inf logit)
        loss = np.where(zp == 0, 0, zp * pos) + np.where(zn == 0, 0, zn * neg)
        if weight is not None:
            loss = loss * np.asarray(weight, dtype=dtype)
    badb = np.broadcast_to(bad, loss.shape) | np.broadcast_to(zbad, loss.shape)
    if badb.any():
        if not nan_mode:
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(badb)), loss.shape))
            what = "logits are NaN or +inf" if np.broadcast_to(bad, loss.shape)[idx] else \
                "targets are outside [0, 1]"
            raise ValueError(f"{fname}: {what} at index {idx}")
        loss = np.where(badb, np.nan, loss)
    grad = None
    if return_grad:
        if loss.shape != X.shape:
            raise ValueError(f"{fname}: with return_grad=True the targets and weights must not broadcast the "
                             f"logits {X.shape} to a larger shape {loss.shape} (the gradient has the logits' shape)")
        with np.errstate(invalid="ignore", over="ignore"):
            # d/dx = w ((1 - z) sigmoid(x) - pw z sigmoid(-x)), sigmoid(x) = exp(-pos), sigmoid(-x) = exp(-neg)
            grad = np.where(zn == 0, 0, zn * np.exp(-pos)) - np.where(zp == 0, 0, zp * np.exp(-neg))
            if weight is not None:
                grad = grad * np.asarray(weight, dtype=dtype)
            grad = np.where(badb, np.nan, grad)
            n = loss.size if reduction == "mean" else 1
            grad = grad * (_upstream(grad_output, reduction, loss.shape, fname) / (log_base * n) if n else math.nan)
    if log_base != 1.0:
        loss = loss / log_base
    loss = loss.astype(dtype, copy=False)
    if reduction == "none":
        res: FloatResult = loss[()] if loss.ndim == 0 else loss
    else:
        total = _total(loss)
        res = dtype.type(total) if reduction == "sum" else dtype.type(total / loss.size if loss.size else math.nan)
    if grad is None:
        return res
    if grad_out is None:
        return res, grad.astype(dtype, copy=False)
    np.copyto(grad_out, grad, casting="same_kind")
    return res, grad_out


def perplexity(logits: ArrayLike, labels: ArrayLike, *, ignore_index: int | None = None, base: float | None = None,
               axis: int = -1, per: str = "token", n_threads: int | None = None) -> FloatResult:
    """Perplexity of labels under softmax(logits): the exponential of their mean negative log-likelihood.

    ``per="token"``: the exponential of ``softmax_cross_entropy(logits,
    labels, ignore_index=ignore_index, reduction="mean")``, one number pooled
    over every token: ignored labels are left out of the mean; NaN when every
    label is ignored; +inf when a label sits on a -inf logit.
    ``per="sequence"``: each sequence's own perplexity, the exponential of
    the mean over its tokens (the last axis of ``labels`` is the sequence), as
    ``sequence_scores(...).perplexity`` -- the array whose mean per-sequence
    evaluations report, which differs from the pooled number when sequences
    differ in length or difficulty. The same numbers for every ``base``
    (base ** NLL in base units = exp(NLL in nats)).

    Parameters
    ----------
    {logits}
    labels : array_like
        Integer class labels 0..K-1 of the batch shape (``logits``' shape
        without ``axis``); float labels raise ``TypeError``, also
        integer-valued ones (``labels.astype(int)`` converts them).
    ignore_index : int, optional
        A label value left out of the mean (an integer; PyTorch's padding
        label is -100).
    base : float, optional
        Accepted (and checked) for a uniform signature; it does not change
        the result.
    {axis}
    per : {{'token', 'sequence'}}, default 'token'
        Pool every token, or give each sequence its own perplexity.
    {n_threads}

    Returns
    -------
    NumPy scalar, or ndarray
        ``per="token"``: a float32 scalar for float32 logits, otherwise
        float64. ``per="sequence"``: float64, the labels' shape without its
        last axis (NaN for a sequence without a counted token).

    Raises
    ------
    IndexError
        A label outside [0, K) that is not ``ignore_index``, naming its batch
        index and value.
    ValueError
        A row with a NaN or +inf logit or only -inf logits; labels with as
        many dimensions as ``logits``, or that do not broadcast to the batch
        shape; a bad ``base`` or ``n_threads``; ``axis`` out of range
        (``numpy.exceptions.AxisError``).
    TypeError
        Labels that are not integers; an ``ignore_index`` that is not an
        integer; complex, object or string logits; a non-integer
        ``n_threads``.

    See Also
    --------
    softmax_cross_entropy : The mean loss, in nats.

    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.perplexity([[0.0, 0.0], [0.0, 0.0]], [0, 1]))   # a fair coin
    2.0
    >>> print(f"{fastinfo.perplexity([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]], [0, 2]):.8f}")
    1.88556810
    >>> fastinfo.perplexity([[[0.0, 0.0], [0.0, 0.0]], [[0.0, 9.0], [0.0, 0.0]]], [[0, 1], [1, 0]],
    ...                     per="sequence")   # two sequences of two tokens
    array([2.        , 1.41430082])
    """
    _args.log_base(base)
    if not (isinstance(per, str) and per in ("token", "sequence")):
        raise ValueError(f"per must be 'token' or 'sequence', got {per!r}")
    if per == "sequence":
        from ._scoring import sequence_scores
        return sequence_scores(logits, labels, ignore_index=ignore_index, axis=axis,
                               n_threads=n_threads).perplexity
    if _dk.is_dask(labels) or _dk.is_dask(logits):     # a Dask array stays lazy
        L: Any = labels if _dk.is_dask(labels) else np.asarray(labels)
        if L.dtype.kind not in "iu":
            raise TypeError(f"perplexity: labels must be integer class labels, got dtype {L.dtype} "
                            f"— pass labels.astype(int)")
        nll = softmax_cross_entropy(logits, L, ignore_index=_ignore_index(ignore_index, "perplexity"),
                                    reduction="mean", axis=axis, n_threads=n_threads)
    else:
        nll = _cross_entropy("perplexity", "labels", False, logits, labels, 1.0, 0.0,
                             ignore_index, None, "mean", None, axis, False, "raise", None, n_threads)
    with np.errstate(over="ignore"):
        return np.exp(nll)


# The text the functions above share: "{name}" in their docstrings stands for the entry
# (written out by _args.fill_doc; "{base}" is _args.PARAM_DOC's).
_PARAM_DOC = {
    "x": """x : array_like
        Real numbers (logits); every axis but ``axis`` is a batch axis.""",
    "logits": """logits : array_like
        Real numbers; every axis but ``axis`` is a batch axis.""",
    "axis": """axis : int, default -1
        The class axis; every other axis is a batch axis.""",
    "temperature": """temperature : float, default 1.0
        T > 0: the logits are divided by T (1/T must be finite in the
        computing dtype).""",
    "keepdims": """keepdims : bool, default False
        Keep the class axis in the result, with length 1.""",
    "invalid": """invalid : {'raise', 'nan'}, default 'raise'
        A row with a NaN or +inf logit, or with only -inf logits (softmax
        undefined), raises ``ValueError`` naming its batch index
        (``'raise'``), or gives NaN for that row (``'nan'``).""",
    "reduction": """reduction : {'none', 'sum', 'mean'}, default 'none'
        ``'none'``: one value per row. ``'sum'``: their exact sum
        (``math.fsum``). ``'mean'``: the sum over the number of rows
        (PyTorch's ``'batchmean'``; NaN for no rows). ``keepdims`` and ``out``
        apply to ``'none'`` only.""",
    "out": """out : ndarray, optional
        Preallocated result (the result's shape and dtype), filled and
        returned.""",
    "n_threads": """n_threads : int, optional
        OpenMP threads over the rows; ``None`` uses what OpenMP allows at call
        time (``OMP_NUM_THREADS``, ``threadpoolctl``). The result is bitwise
        the same for every thread count.""",
    # sections, or parts of them
    "row_returns": """Returns
    -------
    ndarray or NumPy scalar
        The batch shape (a NumPy scalar for 1-D input); float32 for float32
        input, otherwise float64.""",
    "type_error": """TypeError
        Complex, object or string input; ``out`` that is not an ndarray of the
        result's dtype; a non-integer ``n_threads``.""",
    # Parameters, Returns and Raises of the twins log_softmax and softmax
    "softmax_doc": """{softmax_params}

    {softmax_tail}""",
    "softmax_params": """Parameters
    ----------
    {x}
    {temperature}
    {axis}
    {invalid}
    {out}
    {n_threads}""",
    "softmax_tail": """Returns
    -------
    ndarray
        The shape of ``x``; float32 for float32 input, otherwise float64.

    Raises
    ------
    ValueError
        An invalid row with ``invalid='raise'``; a scalar ``x``; a bad
        ``temperature``, ``invalid`` or ``n_threads``; ``axis`` out of range
        (``numpy.exceptions.AxisError``); ``out`` of the wrong shape or
        read-only.
    {type_error}""",
    # Parameters, Returns and Raises of the twins softmax_kl_divergence and softmax_js_divergence
    "pair_doc": """Parameters
    ----------
    p_logits, q_logits : array_like
        Real numbers; they broadcast against each other over the batch axes
        (every axis but ``axis``) and have the same length along ``axis``.
    {temperature}
    {pair_rest}""",
    "js_pair_doc": """Parameters
    ----------
    p_logits, q_logits : array_like
        Real numbers; they broadcast against each other over the batch axes
        (every axis but ``axis``) and have the same length along ``axis``.
    {temperature}
    beta : float, default 0.5
        The weight of p's distribution, in [0, 1]; 0.5 is the Jensen-Shannon
        divergence, 0 and 1 the forward and reverse KL.
    {masks}
    {div_reduction}
    {axis}
    {base}
    {keepdims}
    {invalid}
    {out}
    {n_threads}
    return_grad : bool, default False
        Also return the gradient with respect to ``q_logits`` (the
        student's) of the reduced divergence (of the sum of the rows' for
        ``'none'``): with b = softmax(q/T), m = beta a + (1 - beta) b and
        r = log(b / m), ``(1 - beta) b (r - sum(b r)) / T``; at ``beta=0``
        the forward KL's (b - a) / T, at ``beta=1`` the reverse KL's
        ``b (log(b / a) - KL(b || a)) / T``. Over the reduction's denominator
        and ln(``base``); computed in float64 a block of rows at a time (a
        second read of the rows); 0 where b is 0. A row left out has
        gradient 0, an invalid row NaN (``invalid='nan'``). float64 for
        float64 ``q_logits``, float32 otherwise. ``keepdims`` and ``out`` do
        not apply.
    {grad_pair_rest}""",
    "pair_rest": """{masks}
    {div_reduction}
    {axis}
    {base}
    {pair_tail}""",
    "tv_pair_doc": """Parameters
    ----------
    p_logits, q_logits : array_like
        Real numbers; they broadcast against each other over the batch axes
        (every axis but ``axis``) and have the same length along ``axis``.
    {temperature}
    {masks}
    {div_reduction}
    {axis}
    {pair_tail}""",
    "masks": """labels : array_like of int, optional
        With ``ignore_index``: the rows whose label is ``ignore_index`` are
        left out (distillation on padded sequences: the labels of the
        tokens, PyTorch's padding label -100). Broadcast to the batch shape.
    ignore_index : int, optional
        The label of the rows to leave out; given together with ``labels``.
    where : array_like of bool, optional
        Broadcast to the batch shape; the rows where it is False are left
        out. A row left out is not read (padding may hold anything, NaN
        included) and gives 0.""",
    "div_reduction": """reduction : {'none', 'sum', 'mean', 'batchmean'}, default 'none'
        ``'none'``: one value per row (0 for a row left out). ``'sum'``: their
        exact sum (``math.fsum``). ``'mean'``: the sum over the number of rows
        kept (every row without a mask; NaN for none): for (N, K) logits
        PyTorch's ``kl_div(..., reduction='batchmean')``, with ``labels`` the
        per-token mean of TRL's distillation losses. ``'batchmean'``: the sum
        over the length of the first batch axis, masks or not: PyTorch's
        ``input.size(0)`` for logits with the classes on the last axis; for
        (B, S, V) logits the per-sequence sum averaged over the B sequences.
        1-D input (one row, no batch axis) gives the sum, where PyTorch
        divides by the number of classes. ``keepdims`` and ``out`` apply to
        ``'none'`` only.""",
    "kl_pair_doc": """Parameters
    ----------
    p_logits, q_logits : array_like
        Real numbers; they broadcast against each other over the batch axes
        (every axis but ``axis``) and have the same length along ``axis``.
    {temperature}
    {masks}
    {div_reduction}
    {axis}
    {base}
    {keepdims}
    {invalid}
    {out}
    {n_threads}
    return_grad : bool, default False
        Also return the gradient with respect to ``q_logits`` (the student's)
        of the reduced divergence (of the sum of the rows' divergences for
        ``'none'``): (softmax(q/T) - softmax(p/T)) / T, over the
        reduction's denominator and ln(``base``), written in a pass over
        each pair of rows while they are in cache. A row left out has
        gradient 0, an invalid row NaN (``invalid='nan'``). The T**2 that
        distillation losses often multiply by is the caller's. float64 for
        float64 ``q_logits``, float32 otherwise (float16 and bfloat16 too).
        ``keepdims`` and ``out`` do not apply.
    {grad_pair_rest}""",
    "grad_pair_rest": """grad_out : ndarray, optional
        Where the gradient goes (with ``return_grad=True``): ``q_logits``'
        shape and the gradient's dtype; it may be ``q_logits`` itself. With
        ``invalid='raise'``, an invalid row raises after the gradient was
        written.
    grad_output : array_like, optional
        The upstream gradient (with ``return_grad=True``): one number for
        ``'sum'``, ``'mean'`` and ``'batchmean'``, one a row (broadcast to
        the batch shape) for ``'none'``; the gradient returned is then the
        vector-Jacobian product, PyTorch's ``value.backward(grad_output)``.
        Default 1.

    Returns
    -------
    ndarray or NumPy scalar, or (divergence, gradient)
        ``reduction='none'``: the broadcast batch shape (a NumPy scalar for
        1-D input); otherwise a NumPy scalar. float32 when both inputs are
        float32, otherwise float64. With ``return_grad=True`` the pair
        (divergence, gradient), the gradient of ``q_logits``' shape
        (``grad_out`` when given).

    Raises
    ------
    ValueError
        An invalid row with ``invalid='raise'``; a scalar input; shapes that
        do not broadcast or differ along ``axis``; a bad ``temperature``,
        ``reduction``, ``base``, ``invalid`` or ``n_threads``; ``keepdims``
        or ``out`` with a reduction or with ``return_grad``; ``axis`` out of
        range (``numpy.exceptions.AxisError``); ``out`` of the wrong shape or
        read-only; ``labels`` without ``ignore_index`` or the reverse;
        ``labels`` or ``where`` that do not broadcast to the batch shape;
        ``grad_out`` without ``return_grad``, of the wrong shape, read-only,
        or overlapping ``q_logits`` without being it, or ``p_logits``;
        ``p_logits`` that broadcast ``q_logits`` to a larger batch with
        ``return_grad``.
    TypeError
        Complex, object or string input; ``out`` that is not an ndarray of the
        result's dtype, ``grad_out`` that is not an ndarray of the
        gradient's; a non-integer ``n_threads``; ``labels`` that are not
        integers; a ``where`` that is not boolean; a ``return_grad`` that is
        not a bool.""",
    "pair_tail": """{keepdims}
    {invalid}
    {out}
    {n_threads}

    Returns
    -------
    ndarray or NumPy scalar
        ``reduction='none'``: the broadcast batch shape (a NumPy scalar for
        1-D input); otherwise a NumPy scalar. float32 when both inputs are
        float32, otherwise float64.

    Raises
    ------
    ValueError
        An invalid row with ``invalid='raise'``; a scalar input; shapes that
        do not broadcast or differ along ``axis``; a bad ``temperature``,
        ``reduction``, ``base`` (where there is one), ``invalid`` or
        ``n_threads``; ``keepdims`` or
        ``out`` with a reduction; ``axis`` out of range
        (``numpy.exceptions.AxisError``); ``out`` of the wrong shape or
        read-only; ``labels`` without ``ignore_index`` or the reverse;
        ``labels`` or ``where`` that do not broadcast to the batch shape.
    TypeError
        Complex, object or string input; ``out`` that is not an ndarray of the
        result's dtype; a non-integer ``n_threads``; ``labels`` that are not
        integers; a ``where`` that is not boolean.""",
}
_args.fill_doc(_PARAM_DOC, [logsumexp, log_softmax, softmax, softmax_entropy, softmax_cross_entropy,
                            softmax_kl_divergence, softmax_js_divergence, softmax_total_variation,
                            sigmoid_cross_entropy, perplexity])
