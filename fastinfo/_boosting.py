"""Gradients and diagonal Hessians for gradient boosting: the thin Python layer.

The softmax cross-entropy (multiclass) and the sigmoid cross-entropy (binary), each
optionally as a focal loss, with respect to the raw predictions, in the layout of
scikit-learn's ``_loss`` module (``HalfMultinomialLoss.gradient_hessian``): raw
predictions (n_samples, n_classes), labels (n_samples,), per-sample weights, the
gradient and the Hessian as two arrays of the raw predictions' shape. The multiclass
rows run in the kernel ``grad_hess_rows`` (``_fi_gradhess_row.h``: a row a vector lane,
so short rows of a few classes cost what long ones do per element); the binary ones are
elementwise NumPy. ``fastinfo.objectives`` wraps both for LightGBM and XGBoost.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import _args
from . import _dask as _dk
from ._dispatch import kernels as _k

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatArray, Invalid

__all__ = ["softmax_cross_entropy_grad_hess", "sigmoid_cross_entropy_grad_hess"]

Hessian = Literal["diagonal", "upper_bound"]
_HFAC = {"diagonal": 1.0, "upper_bound": 2.0}


def _gamma(gamma: object, fname: str) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not (0.0 <= float(gamma) < math.inf):
        raise ValueError(f"{fname}: gamma (the focal loss's exponent) must be a finite number >= 0 "
                         f"(0: the cross-entropy), got {gamma!r}")
    return float(gamma)


def _class_labels(labels: ArrayLike, n: int, K: int, fname: str) -> NDArray[np.int64]:
    """Labels (n,) as int64 in [0, K): integer labels, or floats that hold integers (the labels
    scikit-learn's losses, LightGBM and XGBoost pass)."""
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{fname}: labels must be 1-D with one label per row of raw_prediction ({n}), "
                         f"got shape {y.shape}")
    if y.dtype.kind == "b" or y.dtype.kind not in "iuf":
        raise TypeError(f"{fname}: labels must be class indices (integers, or floats that hold integers), "
                        f"got dtype {y.dtype}")
    if y.dtype.kind == "f":
        # whole numbers cast to int64 and back unchanged; NaN, +-inf, fractions and values past
        # int64 do not (their cast is undefined: ignored, they fail the comparison)
        with np.errstate(invalid="ignore"):
            yi = y.astype(np.int64)
        bad = yi != y
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{fname}: labels must be whole class indices; row {i} has {y[i]!r}")
    else:
        yi = y
    # two reductions over the labels; the row only when one is out of range
    if yi.size and (yi.min() < 0 or yi.max() >= K):
        i = int(np.argmax((yi < 0) | (yi >= K)))
        raise IndexError(f"{fname}: label {y[i]!r} out of range for {K} classes at row {i} "
                         f"(labels are 0..{K - 1}; the number of classes is raw_prediction.shape[1])")
    return np.ascontiguousarray(yi, dtype=np.int64)


def _sample_weight(sample_weight: ArrayLike | None, shape: tuple[int, ...], fname: str) -> NDArray[np.float64] | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "iuf" or w.dtype.kind == "b":
        raise TypeError(f"{fname}: sample_weight must be numbers, got dtype {w.dtype}")
    if w.shape != shape:
        raise ValueError(f"{fname}: sample_weight must have shape {shape} (one weight a sample), got {w.shape}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    bad = ~np.isfinite(w)
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), shape)
        raise ValueError(f"{fname}: sample_weight has a non-finite value ({w[i]!r}) at index {tuple(map(int, i))}")
    return w


def _outputs(grad_out: Any, hess_out: Any, raw: NDArray[Any], shape: tuple[int, ...], fname: str
             ) -> tuple[NDArray[Any], NDArray[Any]]:
    """The gradient's and the Hessian's arrays: those given (checked), else new ones -- float64
    for float64 raw predictions, else float32 (the dtype of the one given, if one is)."""
    given = [o for o in (grad_out, hess_out) if o is not None]
    dtype = given[0].dtype if given else (_args.F64 if raw.dtype == _args.F64 else _args.F32)
    outs = []
    for o, name in ((grad_out, "grad_out"), (hess_out, "hess_out")):
        if o is None:
            outs.append(np.empty(shape, dtype=dtype))
            continue
        if not isinstance(o, np.ndarray):
            raise TypeError(f"{fname}: {name} must be a NumPy array (or a tensor / array viewed as one), "
                            f"got {type(o).__name__}")
        if o.shape != shape or o.dtype not in (_args.F64, _args.F32) or not o.flags.writeable:
            raise ValueError(f"{fname}: {name} must be a writeable float64 or float32 array of the raw "
                             f"predictions' shape {shape}, got {o.dtype} {o.shape}"
                             f"{'' if o.flags.writeable else ' (read-only)'}")
        if o.dtype != dtype:
            raise ValueError(f"{fname}: grad_out and hess_out must have one dtype, got {grad_out.dtype} and "
                             f"{hess_out.dtype}")
        if np.shares_memory(o, raw):
            raise ValueError(f"{fname}: {name} shares memory with raw_prediction; the gradient and the "
                             f"Hessian need arrays of their own")
        outs.append(o)
    if grad_out is not None and hess_out is not None and np.shares_memory(grad_out, hess_out):
        raise ValueError(f"{fname}: grad_out and hess_out share memory; give two separate arrays")
    return outs[0], outs[1]


def _bad_row(fname: str, raw: NDArray[Any], i: int) -> ValueError:
    row = raw[i].astype(np.float64)
    bad = np.isnan(row) | (row == np.inf)
    if bad.any():
        j = int(np.argmax(bad))
        return ValueError(f"{fname}: raw_prediction has a NaN or +inf value ({row[j]!r} at class {j}) at row {i}")
    return ValueError(f"{fname}: every raw prediction of row {i} is -inf (softmax undefined)")


@_dk.interop_aware(("raw_prediction", "labels", "sample_weight"))
def softmax_cross_entropy_grad_hess(raw_prediction: ArrayLike, labels: ArrayLike, *,
                                    sample_weight: ArrayLike | None = None, hessian: Hessian = "diagonal",
                                    gamma: float = 0.0, grad_out: FloatArray | None = None,
                                    hess_out: FloatArray | None = None, invalid: Invalid = "raise",
                                    n_threads: int | None = None) -> tuple[FloatArray, FloatArray]:
    """Gradient and diagonal Hessian of the multiclass softmax cross-entropy (or focal loss) with
    respect to the raw predictions, for gradient boosting.

    With p = softmax(raw) per row, label y and sample weight w, the loss of a row is
    ``w * (-log p_y)`` (``gamma = 0``), or the focal loss ``w * (-(1 - p_y)**gamma *
    log p_y)``. The gradient is ``w * (p - onehot(y))`` for the cross-entropy; the
    Hessian is its diagonal ``w * p * (1 - p)`` -- scikit-learn's
    ``HalfMultinomialLoss.gradient_hessian`` -- or, with ``hessian="upper_bound"``,
    ``2 * w * p * (1 - p)``: a diagonal matrix that bounds the full Hessian
    ``diag(p) - p p^T`` from above (each row of it sums to at most the diagonal
    entry), the curvature XGBoost's ``multi:softprob`` uses. The focal loss's
    gradient and Hessian diagonal are exact; its Hessian can be negative where
    the loss is not convex (``fastinfo.objectives`` floors it for the boosters).

    Parameters
    ----------
    raw_prediction : array_like, shape (n_samples, n_classes)
        Raw scores (logits), classes on axis 1, any memory layout (row-major or
        column-major as scikit-learn's gradient boosting keeps them); float64,
        float32, float16 or bfloat16 (the last three computed in float32).
    labels : array_like, shape (n_samples,)
        Class indices 0..n_classes-1: integers, or floats that hold integers (as
        scikit-learn, LightGBM and XGBoost pass them).
    sample_weight : array_like, shape (n_samples,), optional
        Finite per-sample weights multiplying the gradient and the Hessian.
    hessian : {"diagonal", "upper_bound"}
        The diagonal of the Hessian, or twice it (see above); the focal loss
        (``gamma > 0``) has the diagonal only.
    gamma : float
        The focal loss's exponent; 0 is the cross-entropy.
    grad_out, hess_out : ndarray, optional
        Writeable float64 or float32 arrays of the raw predictions' shape (one
        dtype for both, any layout, not sharing memory with ``raw_prediction``
        or each other) to write into. By default new arrays: float64 for float64
        raw predictions, else float32.
    invalid : {"raise", "nan"}
        A row with a NaN or +inf raw prediction, or with every one -inf, raises
        ``ValueError`` naming it, or gets NaN gradients and Hessians.
    n_threads : int, optional
        Threads (default: all, as ``OMP_NUM_THREADS`` / threadpoolctl allow);
        the results do not depend on it.

    Returns
    -------
    (gradient, hessian) : tuple of ndarray
        Both of the raw predictions' shape (``grad_out`` and ``hess_out`` when
        given).

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo as fi
    >>> raw = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> g, h = fi.softmax_cross_entropy_grad_hess(raw, np.array([0, 2]))
    >>> np.round(g, 4)
    array([[-0.1562,  0.1142,  0.042 ],
           [ 0.3333,  0.3333, -0.6667]])
    >>> np.round(h, 4)
    array([[0.1318, 0.1012, 0.0402],
           [0.2222, 0.2222, 0.2222]])
    """
    fname = "softmax_cross_entropy_grad_hess"
    raw = _args.as_array(raw_prediction, "raw_prediction", two_byte=True)
    if raw.ndim != 2:
        raise ValueError(f"{fname}: raw_prediction must be 2-D (n_samples, n_classes), got shape {raw.shape}"
                         + ("; for binary raw predictions (n_samples,) use sigmoid_cross_entropy_grad_hess"
                            if raw.ndim == 1 else ""))
    n, K = raw.shape
    if hessian not in _HFAC:
        raise ValueError(f"{fname}: hessian must be 'diagonal' or 'upper_bound', got {hessian!r}")
    g = _gamma(gamma, fname)
    if g > 0 and hessian != "diagonal":
        raise ValueError(f"{fname}: hessian='upper_bound' is the cross-entropy's (gamma=0); the focal "
                         f"loss has hessian='diagonal'")
    if invalid not in ("raise", "nan"):
        raise ValueError(f"{fname}: invalid must be 'raise' or 'nan', got {invalid!r}")
    nt = _args.threads(n_threads)
    y = _class_labels(labels, n, K, fname)
    w = _sample_weight(sample_weight, (n,), fname)
    go, ho = _outputs(grad_out, hess_out, raw, (n, K), fname)
    return _grad_hess_rows(fname, raw, y, w, go, ho, _HFAC[hessian], g, invalid, nt)


def _grad_hess_rows(fname: str, raw: NDArray[Any], y: NDArray[np.int64], w: NDArray[np.float64] | None,
                    go: NDArray[Any], ho: NDArray[Any], hfac: float, gamma: float, invalid: str, nt: int,
                    hfloor: float = -math.inf) -> tuple[NDArray[Any], NDArray[Any]]:
    """The kernel over checked arguments (the objectives floor the Hessian in the same pass)."""
    bad = np.zeros(raw.shape[0], dtype=np.uint8)
    nbad = _k.grad_hess_rows(_k.LOGIT_FORMATS[raw.dtype.name], raw, y, np.empty(0) if w is None else w, go, ho,
                             hfac, gamma, nt, bad, hfloor)
    if nbad and invalid == "raise":
        raise _bad_row(fname, raw, int(np.argmax(bad)))
    return go, ho


def _expit_pair(z: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """sigmoid(z) and sigmoid(-z) = 1 - sigmoid(z), each to full relative accuracy"""
    e = np.exp(-np.abs(z))
    inv = 1.0 / (1.0 + e)
    small = e * inv
    pos = z >= 0
    return np.where(pos, inv, small), np.where(pos, small, inv)


@_dk.interop_aware(("raw_prediction", "labels", "sample_weight"))
def sigmoid_cross_entropy_grad_hess(raw_prediction: ArrayLike, labels: ArrayLike, *,
                                    sample_weight: ArrayLike | None = None, gamma: float = 0.0,
                                    grad_out: FloatArray | None = None, hess_out: FloatArray | None = None,
                                    invalid: Invalid = "raise") -> tuple[FloatArray, FloatArray]:
    """Gradient and Hessian of the binary logistic loss (or binary focal loss) with respect to
    the raw predictions, elementwise, for gradient boosting.

    With p = sigmoid(raw), label y and sample weight w, the loss is
    ``w * -(y log p + (1 - y) log(1 - p))`` (``gamma = 0``; scikit-learn's
    ``HalfBinomialLoss``), whose gradient is ``w * (p - y)`` and Hessian
    ``w * p * (1 - p)``; or the focal loss ``w * -(1 - p_t)**gamma * log p_t``
    with p_t the probability of the true class. 1 - p is computed as
    sigmoid(-raw), so confident predictions keep their small Hessians.

    Parameters
    ----------
    raw_prediction : array_like
        Raw scores (log-odds) of any shape; float64, or another float dtype
        (computed and returned in float32).
    labels : array_like
        Of the raw predictions' shape: 0 or 1 -- or, for the cross-entropy,
        any probability in [0, 1].
    sample_weight : array_like, optional
        Finite weights of the raw predictions' shape.
    gamma : float
        The focal loss's exponent; 0 is the logistic loss.
    grad_out, hess_out : ndarray, optional
        Writeable float64 or float32 arrays of the raw predictions' shape to
        write into (one dtype for both).
    invalid : {"raise", "nan"}
        A NaN raw prediction raises ``ValueError`` naming it, or gets NaN.

    Returns
    -------
    (gradient, hessian) : tuple of ndarray

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo as fi
    >>> g, h = fi.sigmoid_cross_entropy_grad_hess(np.array([0.0, 3.0, -40.0]), np.array([1, 1, 0]))
    >>> g
    array([-5.00000000e-01, -4.74258732e-02,  4.24835426e-18])
    >>> h
    array([2.50000000e-01, 4.51766597e-02, 4.24835426e-18])
    """
    fname = "sigmoid_cross_entropy_grad_hess"
    raw = _args.as_array(raw_prediction, "raw_prediction")
    shape = raw.shape
    g = _gamma(gamma, fname)
    if invalid not in ("raise", "nan"):
        raise ValueError(f"{fname}: invalid must be 'raise' or 'nan', got {invalid!r}")
    y = np.asarray(labels)
    if y.shape != shape:
        raise ValueError(f"{fname}: labels must have the raw predictions' shape {shape}, got {y.shape}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: labels must be numbers, got dtype {y.dtype}")
    y = y.astype(np.float64)
    bad = ~((y >= 0) & (y <= 1)) if g == 0 else ~((y == 0) | (y == 1))
    if bad.any():
        i = tuple(int(v) for v in np.unravel_index(int(np.argmax(bad)), shape))
        what = "in [0, 1]" if g == 0 else "0 or 1 (the focal loss has no soft labels)"
        raise ValueError(f"{fname}: labels must be {what}; index {i} has {y[i]!r}")
    w = _sample_weight(sample_weight, shape, fname)
    go, ho = _outputs(grad_out, hess_out, raw, shape, fname)
    z = raw.astype(np.float64)
    if invalid == "raise" and np.isnan(z).any():
        i = tuple(int(v) for v in np.unravel_index(int(np.argmax(np.isnan(z))), shape))
        raise ValueError(f"{fname}: raw_prediction has a NaN at index {i}")
    with np.errstate(invalid="ignore", over="ignore"):
        if g == 0:
            p, q = _expit_pair(z)
            grad = p * (1.0 - y) - y * q    # p - y, without p - 1 where p rounds to 1
            hess = p * q
        else:
            s = 2.0 * y - 1.0               # the true class's sign
            pt, qt = _expit_pair(s * z)     # p_t, 1 - p_t
            lp = -np.logaddexp(0.0, -s * z)  # log p_t
            qg = qt ** g
            pos = qt > 0
            r = np.where(pos, lp / np.where(pos, qt, 1.0), -1.0)     # log(p_t) / (1 - p_t)
            A = qg * (g * pt * np.where(pt > 0, r, 0.0) - 1.0)        # p_t = 0: the limit -1
            B = np.where(pt > 0, g * pt * qg * ((1.0 - g * pt) * lp + 2.0 * qt), 0.0)
            grad = s * A * qt
            hess = B - A * pt * qt
    if w is not None:
        grad *= w
        hess *= w
    np.copyto(go, grad, casting="unsafe")
    np.copyto(ho, hess, casting="unsafe")
    return go, ho
