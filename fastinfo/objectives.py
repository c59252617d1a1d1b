"""Custom objectives for LightGBM and XGBoost, computed by fastinfo's kernels.

Each factory returns a callable that both boosters take as a custom objective, in
either of their two forms:

* the training API -- ``lightgbm.train(params, train_set)`` with
  ``params["objective"] = objective`` (LightGBM 4), ``xgboost.train(params, dtrain,
  obj=objective)``: called as ``objective(raw_predictions, dataset)``, the labels and
  weights read from the dataset (``get_label``, ``get_weight``);
* the scikit-learn API -- ``LGBMClassifier(objective=objective)``,
  ``XGBClassifier(objective=objective)``: called as ``objective(y_true, y_pred,
  sample_weight)``.

It returns ``(gradient, hessian)`` laid out as the booster reads them: for ``K``
classes two ``(n_samples, K)`` float32 arrays (column-major for LightGBM, which takes
its classes' columns one after another; row-major for XGBoost), for binary
objectives two ``(n_samples,)`` arrays. The arrays are the objective's own and are
overwritten by its next call (the boosters copy them); a factory's result may be
used for one training at a time.

The Hessian of the focal loss can be negative; the boosters need a positive
curvature, so every objective floors the Hessian at ``hess_floor`` (default 1e-16,
XGBoost's own floor for ``multi:softprob``).

LightGBM and XGBoost are not imported here: the objectives are plain callables.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from . import _args
from ._boosting import _HFAC, _class_labels, _gamma, _grad_hess_rows, _sample_weight, sigmoid_cross_entropy_grad_hess

__all__ = ["lightgbm_multiclass", "lightgbm_binary", "xgboost_multiclass", "xgboost_binary"]


def _labels_weights(a: Any, b: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
    """(raw predictions, labels, weights) of either calling form."""
    if hasattr(b, "get_label"):             # (raw predictions, Dataset / DMatrix)
        w = b.get_weight()
        return a, b.get_label(), (w if w is not None and np.size(w) else None)
    return b, a, sample_weight              # (y_true, y_pred, sample_weight)


def _floor(h: np.ndarray, floor: float) -> None:
    np.maximum(h, floor, out=h)


class _Objective:
    """A custom objective: the softmax (multiclass) or sigmoid (binary) cross-entropy or focal
    loss, its gradient and floored Hessian in the layout of one booster."""

    def __init__(self, booster: str, num_class: int | None, gamma: float, hessian: str, hess_floor: float,
                 n_threads: int | None) -> None:
        if num_class is not None and (isinstance(num_class, bool) or not isinstance(num_class, (int, np.integer))
                                      or num_class < 2):
            raise ValueError(f"num_class must be an integer >= 2, got {num_class!r}")
        if not (hess_floor >= 0.0 and np.isfinite(hess_floor)):
            raise ValueError(f"hess_floor must be a finite number >= 0, got {hess_floor!r}")
        gamma = _gamma(gamma, f"fastinfo.objectives.{booster}")
        if hessian not in ("diagonal", "upper_bound"):
            raise ValueError(f"hessian must be 'diagonal' or 'upper_bound', got {hessian!r}")
        if gamma and hessian != "diagonal":
            raise ValueError("hessian='upper_bound' is the cross-entropy's (gamma=0); the focal loss has "
                             "hessian='diagonal'")
        self.booster, self.num_class, self.gamma = booster, num_class, float(gamma)
        self.hessian, self.hess_floor, self.n_threads = hessian, float(hess_floor), n_threads
        self._out: tuple[np.ndarray, np.ndarray] | None = None
        # the labels as class indices, kept across rounds: a booster passes the same label array
        # every round (checked: the array and, element for element, a copy of its values)
        self._lab: tuple[Any, np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        k = f"num_class={self.num_class}, " if self.num_class else ""
        return (f"fastinfo.objectives.{self.booster}_{'multiclass' if self.num_class else 'binary'}("
                f"{k}gamma={self.gamma}, hessian={self.hessian!r}, hess_floor={self.hess_floor})")

    def _buffers(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        order: Literal["C", "F"] = "F" if self.booster == "lightgbm" else "C"
        if self._out is None or self._out[0].shape != shape:
            self._out = (np.empty(shape, np.float32, order=order), np.empty(shape, np.float32, order=order))
        return self._out

    def __call__(self, a: Any, b: Any, sample_weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
        raw, labels, w = _labels_weights(a, b, sample_weight)
        raw = np.asarray(raw)
        if self.num_class is None:
            raw = raw.reshape(-1)
            go, ho = self._buffers(raw.shape)
            sigmoid_cross_entropy_grad_hess(raw, np.asarray(labels).reshape(-1), sample_weight=w, gamma=self.gamma,
                                            grad_out=go, hess_out=ho)
        else:
            n = np.asarray(labels).shape[0]
            if raw.ndim == 1:                   # flat scores: class-major (LightGBM 3), sample-major (XGBoost)
                raw = raw.reshape((self.num_class, n)).T if self.booster == "lightgbm" else raw.reshape(n, -1)
            if raw.shape != (n, self.num_class):
                raise ValueError(f"{self!r}: raw predictions of shape {raw.shape} for {n} labels; expected "
                                 f"({n}, {self.num_class}) -- is num_class the booster's num_class?")
            go, ho = self._buffers(raw.shape)
            raw = _args.as_array(raw, "raw_prediction", two_byte=True)
            fname = repr(self)
            _grad_hess_rows(fname, raw, self._class_indices(labels, n, fname),
                            _sample_weight(w, (n,), fname), go, ho, _HFAC[self.hessian], self.gamma, "raise",
                            _args.threads(self.n_threads), self.hess_floor)
            return go, ho
        _floor(ho, self.hess_floor)
        return go, ho

    def _class_indices(self, labels: Any, n: int, fname: str) -> np.ndarray:
        if self._lab is not None and self._lab[0] is labels and np.array_equal(self._lab[1], labels):
            return self._lab[2]
        y = _class_labels(labels, n, self.num_class or 0, fname)
        self._lab = (labels, np.array(labels, copy=True), y)
        return y


def lightgbm_multiclass(num_class: int, *, gamma: float = 0.0,
                        hessian: Literal["diagonal", "upper_bound"] = "diagonal", hess_floor: float = 1e-16,
                        n_threads: int | None = None) -> Any:
    """A LightGBM multiclass objective: the softmax cross-entropy (``gamma=0``, LightGBM's
    ``multiclass``) or the focal loss.

    Parameters
    ----------
    num_class : int
        The number of classes (LightGBM's ``num_class`` parameter, which the
        training parameters must also set).
    gamma : float
        The focal loss's exponent; 0 is the cross-entropy.
    hessian : {"diagonal", "upper_bound"}
        ``p (1 - p)`` or ``2 p (1 - p)`` (see
        :func:`fastinfo.softmax_cross_entropy_grad_hess`). LightGBM's own
        ``multiclass`` uses ``K / (K - 1) p (1 - p)``, between the two.
    hess_floor : float
        The Hessian's lower bound (the focal loss's is negative where the loss is
        concave).
    n_threads : int, optional
        Threads of the gradient kernel (default: all).

    Returns
    -------
    callable
        ``objective(preds, train_data)`` (``lightgbm.train``) or
        ``objective(y_true, y_pred, weight)`` (``LGBMClassifier``), returning the
        gradient and the Hessian as ``(n_samples, num_class)`` float32
        column-major arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from fastinfo import objectives
    >>> obj = objectives.lightgbm_multiclass(3)
    >>> g, h = obj(np.array([0.0, 2.0]), np.zeros((2, 3)))   # (y_true, y_pred): the scikit-learn form
    >>> g
    array([[-0.6666667 ,  0.33333334,  0.33333334],
           [ 0.33333334,  0.33333334, -0.6666667 ]], dtype=float32)
    """
    return _Objective("lightgbm", num_class, gamma, hessian, hess_floor, n_threads)


def xgboost_multiclass(num_class: int, *, gamma: float = 0.0,
                       hessian: Literal["diagonal", "upper_bound"] | None = None, hess_floor: float = 1e-16,
                       n_threads: int | None = None) -> Any:
    """An XGBoost multiclass objective: the softmax cross-entropy (``gamma=0``, XGBoost's
    ``multi:softprob``) or the focal loss.

    Parameters
    ----------
    num_class : int
        The number of classes (XGBoost's ``num_class`` parameter, which the
        training parameters must also set).
    gamma : float
        The focal loss's exponent; 0 is the cross-entropy.
    hessian : {"diagonal", "upper_bound"}, optional
        ``p (1 - p)`` or ``2 p (1 - p)`` (see
        :func:`fastinfo.softmax_cross_entropy_grad_hess`). By default
        ``"upper_bound"`` for the cross-entropy -- the curvature of XGBoost's
        ``multi:softprob``, whose trees it grows -- and ``"diagonal"`` for
        the focal loss, which has no other.
    hess_floor : float
        The Hessian's lower bound (XGBoost's ``multi:softprob`` floors at 1e-16).
    n_threads : int, optional
        Threads of the gradient kernel (default: all).

    Returns
    -------
    callable
        ``objective(predt, dtrain)`` (``xgboost.train(..., obj=)``) or
        ``objective(y_true, y_pred, sample_weight)`` (``XGBClassifier``),
        returning the gradient and the Hessian as ``(n_samples, num_class)``
        float32 arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from fastinfo import objectives
    >>> obj = objectives.xgboost_multiclass(3)
    >>> g, h = obj(np.array([0.0, 2.0]), np.zeros((2, 3)))
    >>> h
    array([[0.44444445, 0.44444445, 0.44444445],
           [0.44444445, 0.44444445, 0.44444445]], dtype=float32)
    """
    if hessian is None:
        hessian = "upper_bound" if gamma == 0 else "diagonal"
    return _Objective("xgboost", num_class, gamma, hessian, hess_floor, n_threads)


def lightgbm_binary(*, gamma: float = 0.0, hess_floor: float = 1e-16) -> Any:
    """A LightGBM binary objective: the logistic loss (``gamma=0``, LightGBM's ``binary``)
    or the binary focal loss.

    Parameters
    ----------
    gamma : float
        The focal loss's exponent; 0 is the logistic loss.
    hess_floor : float
        The Hessian's lower bound.

    Returns
    -------
    callable
        The objective in either of LightGBM's forms, returning ``(n_samples,)``
        float32 gradient and Hessian.

    Examples
    --------
    >>> import numpy as np
    >>> from fastinfo import objectives
    >>> objectives.lightgbm_binary()(np.array([1.0, 0.0]), np.array([0.0, 0.0]))
    (array([-0.5,  0.5], dtype=float32), array([0.25, 0.25], dtype=float32))
    """
    return _Objective("lightgbm", None, gamma, "diagonal", hess_floor, None)


def xgboost_binary(*, gamma: float = 0.0, hess_floor: float = 1e-16) -> Any:
    """An XGBoost binary objective: the logistic loss (``gamma=0``, XGBoost's
    ``binary:logistic`` on raw margins) or the binary focal loss.

    Parameters
    ----------
    gamma : float
        The focal loss's exponent; 0 is the logistic loss.
    hess_floor : float
        The Hessian's lower bound.

    Returns
    -------
    callable
        The objective in either of XGBoost's forms, returning ``(n_samples,)``
        float32 gradient and Hessian.

    Examples
    --------
    >>> import numpy as np
    >>> from fastinfo import objectives
    >>> objectives.xgboost_binary(gamma=2.0)(np.array([1.0]), np.array([0.0]))[0]
    array([-0.2982868], dtype=float32)
    """
    return _Objective("xgboost", None, gamma, "diagonal", hess_floor, None)
