"""Calibration of a classifier's probabilities: calibration error, Brier score, temperature scaling.

The statistics a row contributes (its confidence and whether its argmax is right;
or its loss and entropy at a temperature) come from the logit kernels through
``softmax_stats`` -- one read of the logits -- or from the probabilities by
NumPy; the binning and the sums over O(rows) values are NumPy's.

Binning follows scikit-learn's ``calibration_curve``: edges ``linspace(0, 1,
n_bins + 1)`` (or the confidences' quantiles), a value c in bin
``searchsorted(edges[1:-1], c, side="left")`` -- right-closed bins (e_b, e_b+1],
the first [0, e_1] -- so a confidence of exactly 0 falls in the first bin and 1
in the last.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import _args
from . import _dask as _dk
from . import _logits as _lg
from ._scoring import softmax_stats

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["CalibrationBins", "brier_score", "calibration_error", "fit_temperature", "reliability_diagram"]

_NORMS = ("l1", "l2", "max")
_STRATEGIES = ("uniform", "quantile")
_MODES = ("top_label", "classwise")
_SUM_TOL = 1e-4          # how far from 1 a row of probabilities may sum
_CHUNK = 1 << 22         # elements of probabilities made from logits at a time (classwise, Brier)


class CalibrationBins(NamedTuple):
    """The bins of :func:`calibration_error` (``return_bins=True``).

    ``edges`` (n_bins + 1), and per bin its ``counts`` (int64), mean
    ``confidence`` and ``accuracy`` (the share of correct predictions, or of
    the class, for classwise bins; NaN for an empty bin). Classwise bins have a
    leading class axis.

    Examples
    --------
    >>> import fastinfo
    >>> err, bins = fastinfo.calibration_error([[0.9, 0.1], [0.6, 0.4]], [0, 1], n_bins=2,
    ...                                        return_bins=True)
    >>> bins.counts, bins.accuracy
    (array([0, 2]), array([nan, 0.5]))
    """

    edges: Any
    counts: Any
    confidence: Any
    accuracy: Any


# --- arguments ---------------------------------------------------------------
def _choice(value: object, name: str, options: tuple[str, ...]) -> str:
    if not (isinstance(value, str) and value in options):
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}, got {value!r}")
    return value


def _n_bins(n_bins: object) -> int:
    if isinstance(n_bins, (bool, np.bool_)) or not isinstance(n_bins, numbers.Integral):
        raise TypeError(f"n_bins must be a positive integer, got {n_bins!r}")
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    return int(n_bins)


def _class_labels(labels: ArrayLike, n: int, K: int, fname: str) -> NDArray[np.int64]:
    L = np.asarray(labels)
    if L.dtype.kind not in "iu":
        raise TypeError(f"{fname}: labels must be integer class labels, got dtype {L.dtype}"
                        + (" — pass labels.astype(int)" if L.dtype.kind in "fb" else ""))
    if L.shape != (n,):
        raise ValueError(f"{fname}: labels must have one label per row ({n}), got shape {L.shape}")
    bad = (L < 0) | (L >= K)
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(f"{fname}: labels holds {int(L[i])} at position {i}, outside the valid range "
                         f"[0, {K}) of the {K} classes")
    return np.ascontiguousarray(L, dtype=np.int64)


def _as_rows(x: ArrayLike, axis: int, fname: str) -> tuple[NDArray[Any], bool]:
    """(rows, binary): 2-D rows with the class axis last, or a 1-D binary column."""
    X = _args.as_array(x, "probs_or_logits", two_byte=True)
    if X.ndim == 1:
        return X, True
    if X.ndim != 2:
        raise ValueError(f"{fname}: probs_or_logits must be 2-D (rows x classes) or 1-D (the probability "
                         f"of class 1 of a binary classifier), got {X.ndim} dimensions")
    ax = _args.normalize_axis_index(axis, 2)
    return (X if ax == 1 else X.T), False


_EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}


def _check_probs(P: NDArray[Any], fname: str) -> None:
    """Rows of probabilities: in [0, 1], summing to 1 within _SUM_TOL (or two of the dtype's epsilons,
    for 2-byte probabilities); else what is wrong, and the likely fix."""
    with np.errstate(invalid="ignore"):
        nan = np.isnan(P) if P.ndim == 1 else np.isnan(P).any(axis=-1)
        out = ~((P >= 0) & (P <= 1)) if P.ndim == 1 else ~np.all((P >= 0) & (P <= 1), axis=-1)
        out &= ~nan
        sums = None
        if P.ndim == 2:
            sums = P.sum(axis=-1, dtype=np.float64)
            tol = max(_SUM_TOL, 2.0 * _EPS.get(P.dtype.name, 0.0))
            off = ~(np.abs(sums - 1.0) <= tol) & ~nan & ~out
    if nan.any():
        raise ValueError(f"{fname}: probs_or_logits holds NaN in row {int(np.argmax(nan))}")
    if out.any():
        i = int(np.argmax(out))
        raise ValueError(f"{fname}: probs_or_logits holds a value outside [0, 1] in row {i}; if these are logits, "
                         f"pass from_logits=True (softmax, or sigmoid for 1-D input, is applied)")
    if sums is not None and off.any():
        i = int(np.argmax(off))
        raise ValueError(f"{fname}: the probabilities of row {i} sum to {float(sums[i])!r}, not 1: each row must be a "
                         f"distribution over the classes (independent per-class probabilities, e.g. "
                         f"sigmoid outputs, are not one)")


def _sigmoid(z: NDArray[Any], fname: str) -> NDArray[np.float64]:
    z = z.astype(np.float64)
    if np.isnan(z).any():
        i = int(np.argmax(np.isnan(z)))
        raise ValueError(f"{fname}: probs_or_logits has a NaN logit at row {i}")
    with np.errstate(over="ignore"):
        return np.where(z >= 0, 1.0 / (1.0 + np.exp(-z)), np.exp(z) / (1.0 + np.exp(z)))


def _binary_probs(X: NDArray[Any], from_logits: bool, fname: str) -> NDArray[np.float64]:
    """A binary classifier's probabilities of class 1 (1-D input): the sigmoid of logits, or the
    probabilities as given, checked."""
    if from_logits:
        return _sigmoid(X, fname)
    p = X.astype(np.float64)
    _check_probs(p, fname)
    return p


def _top_label(x: ArrayLike, labels: ArrayLike, from_logits: bool, axis: int, nt: int | None,
               fname: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(confidence, correct as 0/1) per row."""
    X, binary = _as_rows(x, axis, fname)
    if binary:
        p = _binary_probs(X, from_logits, fname)
        L = _class_labels(labels, p.shape[0], 2, fname)
        pred = (p > 0.5).astype(np.int64)          # a tie (0.5) predicts class 0, the first maximal
        return np.maximum(p, 1.0 - p), (pred == L).astype(np.float64)
    N, K = X.shape
    L = _class_labels(labels, N, K, fname)
    if from_logits:
        try:
            s = softmax_stats(X, returns=("max_prob", "argmax"), n_threads=nt)
        except ValueError as e:        # an invalid row: the message as this function's
            raise ValueError(str(e).replace("softmax_stats: logits", f"{fname}: probs_or_logits", 1)) from None
        conf, pred = s.max_prob.astype(np.float64), s.argmax
    else:
        _check_probs(X, fname)
        conf, pred = X.max(axis=1).astype(np.float64), X.argmax(axis=1)
    return conf, (pred == L).astype(np.float64)


def _prob_chunks(X: NDArray[Any], from_logits: bool, nt: int | None, fname: str) -> Any:
    """(start, probabilities of rows start:start + n as float64), a chunk at a time; an invalid
    row of logits named by its row in X."""
    step = max(1, _CHUNK // max(1, X.shape[1]))
    for a in range(0, X.shape[0], step):
        blk = X[a:a + step]
        if from_logits:
            blk = _lg.softmax(blk, invalid="nan", n_threads=nt)
            bad = np.isnan(blk).any(axis=-1)
            if bad.any():
                raise ValueError(f"{fname}: probs_or_logits has a NaN or +inf logit, or only -inf logits, in row "
                                 f"{a + int(np.argmax(bad))}")
        yield a, blk.astype(np.float64)


# --- binning -----------------------------------------------------------------
def _bins(conf: NDArray[np.float64], hit: NDArray[np.float64], n_bins: int,
          strategy: str) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """edges, counts, mean confidence and mean hit per bin (NaN when empty)."""
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.quantile(conf, np.linspace(0.0, 1.0, n_bins + 1))
    b = np.searchsorted(edges[1:-1], conf, side="left")
    counts = np.bincount(b, minlength=n_bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mconf = np.bincount(b, weights=conf, minlength=n_bins) / counts
        acc = np.bincount(b, weights=hit, minlength=n_bins) / counts
    return edges, counts, mconf, acc


def _terms(counts: NDArray[np.int64], mconf: NDArray[np.float64], acc: NDArray[np.float64],
           n: int) -> tuple[float, float, float]:
    """(sum_b w_b |acc - conf|, sum_b w_b (acc - conf)^2, max_b |acc - conf|), w_b = n_b / n."""
    full = counts > 0
    d = np.abs(acc[full] - mconf[full])
    w = counts[full] / n
    return float(np.sum(w * d)), float(np.sum(w * d * d)), float(d.max()) if d.size else 0.0


# --- public functions ----------------------------------------------------------
@_dk.interop_aware(("probs_or_logits", "labels"))
def calibration_error(probs_or_logits: ArrayLike, labels: ArrayLike, *, n_bins: int = 15, norm: str = "l1",
                      strategy: str = "uniform", mode: str = "top_label", from_logits: bool = False,
                      return_bins: bool = False, axis: int = -1, n_threads: int | None = None) -> Any:
    """Expected (``l1``), root-mean-square (``l2``) or maximum calibration error of a classifier.

    The confidences are binned, and each bin compares its mean confidence with
    its accuracy. With n_b rows in bin b of N:

    * ``norm="l1"`` (ECE): ``sum_b (n_b / N) abs(acc_b - conf_b)``;
    * ``norm="l2"`` (RMS calibration error): ``sqrt(sum_b (n_b / N) (acc_b - conf_b)**2)``;
    * ``norm="max"`` (MCE): ``max_b abs(acc_b - conf_b)`` over the non-empty bins.

    ``mode="top_label"``: a row's confidence is its largest probability and it
    is correct when its first maximal class is its label. ``mode="classwise"``:
    every class k is binned apart, from the pairs (p_k, label == k) of all rows;
    the result averages the classes' sums (``l1``, and ``l2`` inside the root)
    or takes the largest gap (``max``).

    Bins, as scikit-learn's ``calibration_curve``: ``strategy="uniform"``:
    edges ``linspace(0, 1, n_bins + 1)``; ``"quantile"``: the confidences'
    quantiles (bins of equal counts, up to ties). A confidence c is in bin
    ``searchsorted(edges[1:-1], c)``: the bins are right-closed, (e_b, e_b+1],
    and the first is [0, e_1] -- a confidence of exactly 1 is in the last bin,
    0 in the first.

    Parameters
    ----------
    probs_or_logits : array_like
        (N, K) probabilities (each row in [0, 1] and summing to 1 within 1e-4),
        or logits with ``from_logits=True``. 1-D: a binary classifier's
        probability (or logit) of class 1.
    labels : array_like
        N integer class labels in [0, K) (0/1 for 1-D input).
    n_bins : int, default 15
    norm : {'l1', 'l2', 'max'}, default 'l1'
    strategy : {'uniform', 'quantile'}, default 'uniform'
    mode : {'top_label', 'classwise'}, default 'top_label'
    from_logits : bool, default False
        Apply the softmax (the sigmoid for 1-D input) first; the top-label
        confidences then come from one read of the logits
        (:func:`softmax_stats`).
    return_bins : bool, default False
        Also return the bins (:class:`CalibrationBins`).
    axis : int, default -1
        The class axis of 2-D input.
    n_threads : int, optional
        Threads of the logit kernels.

    Returns
    -------
    float, or (float, CalibrationBins)
        The error, in [0, 1].

    Raises
    ------
    ValueError
        Rows that are not probabilities without ``from_logits`` (the message
        names the row and suggests ``from_logits=True``); no rows; a bad
        ``n_bins``, ``norm``, ``strategy`` or ``mode``; labels not one per row.
    IndexError
        A label outside [0, K), naming its position.
    TypeError
        Labels that are not integers; a non-integer ``n_bins``.

    See Also
    --------
    brier_score, fit_temperature, reliability_diagram, softmax_stats

    Examples
    --------
    >>> import fastinfo
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]]
    >>> print(f"{fastinfo.calibration_error(probs, [0, 0, 1, 1], n_bins=5):.3f}")
    0.300
    >>> print(f"{fastinfo.calibration_error([[4.0, 0.0], [0.0, 1.0]], [0, 0], from_logits=True):.4f}")
    0.3745
    """
    fname = "calibration_error"
    nb = _n_bins(n_bins)
    norm = _choice(norm, "norm", _NORMS)
    strategy = _choice(strategy, "strategy", _STRATEGIES)
    mode = _choice(mode, "mode", _MODES)
    nt = _args.threads(n_threads) if n_threads is not None else None
    if mode == "top_label":
        conf, hit = _top_label(probs_or_logits, labels, bool(from_logits), axis, nt, fname)
        n = conf.shape[0]
        if n == 0:
            raise ValueError(f"{fname}: no rows to bin")
        edges, counts, mconf, acc = _bins(conf, hit, nb, strategy)
        s1, s2, mx = _terms(counts, mconf, acc, n)
        err = {"l1": s1, "l2": math.sqrt(s2), "max": mx}[norm]
        return (err, CalibrationBins(edges, counts, mconf, acc)) if return_bins else err
    X, binary = _as_rows(probs_or_logits, axis, fname)
    if binary:
        p = _binary_probs(X, from_logits, fname)
        X = np.stack([1.0 - p, p], axis=1)
        from_logits = False
    elif not from_logits:
        _check_probs(X, fname)
    N, K = X.shape
    if N == 0:
        raise ValueError(f"{fname}: no rows to bin")
    L = _class_labels(labels, N, K, fname)
    P = np.empty((N, K)) if K * N <= _CHUNK or strategy == "quantile" else None
    per = []
    if P is not None:
        for a, blk in _prob_chunks(X, bool(from_logits), nt, fname):
            P[a:a + blk.shape[0]] = blk
        for k in range(K):
            per.append(_bins(P[:, k], (L == k).astype(np.float64), nb, strategy))
    else:      # uniform bins of many classes: the sums of each class's bins, a chunk of rows at a time
        cnt = np.zeros((K, nb), dtype=np.int64)
        sc = np.zeros((K, nb))
        sh = np.zeros((K, nb))
        edges = np.linspace(0.0, 1.0, nb + 1)
        cls = np.arange(K)
        for a, blk in _prob_chunks(X, bool(from_logits), nt, fname):
            b = np.searchsorted(edges[1:-1], blk, side="left")
            flat = (cls[None, :] * nb + b).ravel()
            cnt += np.bincount(flat, minlength=K * nb).reshape(K, nb)
            sc += np.bincount(flat, weights=blk.ravel(), minlength=K * nb).reshape(K, nb)
            hit = (L[a:a + blk.shape[0], None] == cls[None, :]).astype(np.float64)
            sh += np.bincount(flat, weights=hit.ravel(), minlength=K * nb).reshape(K, nb)
        with np.errstate(invalid="ignore", divide="ignore"):
            per = [(edges, cnt[k], sc[k] / cnt[k], sh[k] / cnt[k]) for k in range(K)]
    sums = [_terms(c, m, a, N) for _, c, m, a in per]
    err = {"l1": float(np.mean([t[0] for t in sums])), "l2": math.sqrt(float(np.mean([t[1] for t in sums]))),
           "max": float(max(t[2] for t in sums))}[norm]
    if not return_bins:
        return err
    return err, CalibrationBins(*(np.stack([p[i] for p in per]) for i in range(4)))


@_dk.interop_aware(("probs_or_logits", "labels"))
def brier_score(probs_or_logits: ArrayLike, labels: ArrayLike, *, from_logits: bool = False, axis: int = -1,
                n_threads: int | None = None) -> float:
    """Brier score: the mean squared distance of the predicted distribution from the one-hot label.

    (N, K) input: mean_i sum_k (p_ik - [y_i = k])^2, in [0, 2]; 1-D binary
    input (the probability of class 1): mean_i (p_i - y_i)^2, in [0, 1] --
    scikit-learn's ``brier_score_loss`` for both, but for two columns: its
    ``scale_by_half="auto"`` halves the sum when there are fewer than three
    classes, where this sums over the classes for every K.
    From logits (``from_logits=True``) the probabilities are made by the
    softmax kernels a block of rows at a time.

    Parameters
    ----------
    probs_or_logits : array_like
        (N, K) probabilities (rows in [0, 1] summing to 1 within 1e-4), or
        logits with ``from_logits=True``; 1-D: the probability (logit) of class 1.
    labels : array_like
        N integer labels in [0, K).
    from_logits : bool, default False
    axis : int, default -1
        The class axis of 2-D input.
    n_threads : int, optional

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Rows that are not probabilities (naming the row; ``from_logits=True``
        is the likely fix); no rows; labels not one per row.
    IndexError
        A label outside [0, K).
    TypeError
        Labels that are not integers.

    See Also
    --------
    calibration_error

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.brier_score([[0.9, 0.1], [0.4, 0.6]], [0, 0]):.4f}")
    0.3700
    >>> print(f"{fastinfo.brier_score([0.1, 0.6], [0, 1]):.4f}")
    0.0850
    """
    fname = "brier_score"
    nt = _args.threads(n_threads) if n_threads is not None else None
    X, binary = _as_rows(probs_or_logits, axis, fname)
    if binary:
        p = _binary_probs(X, from_logits, fname)
        L = _class_labels(labels, p.shape[0], 2, fname)
        if p.shape[0] == 0:
            raise ValueError(f"{fname}: no rows")
        return float(np.mean((p - L) ** 2))
    if not from_logits:
        _check_probs(X, fname)
    N, K = X.shape
    if N == 0:
        raise ValueError(f"{fname}: no rows")
    L = _class_labels(labels, N, K, fname)
    total = 0.0
    for a, blk in _prob_chunks(X, bool(from_logits), nt, fname):
        rows = np.arange(blk.shape[0])
        lab = L[a:a + blk.shape[0]]
        py = blk[rows, lab]
        # sum_k (p_k - [y = k])^2 = sum_k p_k^2 - 2 p_y + 1, as (1 - p_y)^2 + the others' squares
        total += math.fsum(np.einsum("ij,ij->i", blk, blk) - py * py + (1.0 - py) ** 2)
    return total / N


@_dk.interop_aware(("logits", "labels"))
def fit_temperature(logits: ArrayLike, labels: ArrayLike, *, ignore_index: int | None = None,
                    bounds: tuple[float, float] = (0.01, 100.0), n_threads: int | None = None) -> float:
    """The temperature T that minimizes the mean negative log-likelihood of softmax(logits / T) (temperature scaling).

    The mean NLL is convex in b = 1/T, and its derivative is a mean over
    the labelled rows of (nll - entropy) / b: each step of the search costs
    one read of the logits (:func:`softmax_stats`: the loss and the entropy
    of every row at once). The root of that derivative is found in log b by
    steps from T = 1 to the root of the inverse quadratic through the last
    three points (else of the secant of the last two), kept inside the
    bracket the signs seen so far give (else bisection), to a step of 1e-8
    in log T -- about 8 reads of the logits; the returned T is within 1e-6 relative of the exact minimizer
    (float32 logits: the float32 rounding of each row's terms makes the mean
    loss flat below ~1e-7 in T). At the optimum the mean loss equals the mean
    entropy.

    Parameters
    ----------
    logits : array_like
        (N, K) logits (class axis last).
    labels : array_like
        N integer labels in [0, K).
    ignore_index : int, optional
        A label value left out (PyTorch's padding label is -100).
    bounds : (float, float), default (0.01, 100.0)
        The range of T searched. When the minimizer lies outside it (e.g.
        separable training logits, whose loss falls as T -> 0), the nearer
        bound is returned with a ``RuntimeWarning``.
    n_threads : int, optional

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Bad ``bounds``; no labelled row; an invalid row (NaN or +inf logits),
        naming it.
    IndexError
        A label outside [0, K) that is not ``ignore_index``.
    TypeError
        Labels that are not integers.

    See Also
    --------
    calibration_error, softmax_stats

    Examples
    --------
    >>> import numpy as np, fastinfo
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(2000, 10)) * 3
    >>> labels = np.array([rng.choice(10, p=np.exp(r - r.max()) / np.exp(r - r.max()).sum())
    ...                    for r in logits / 3])          # drawn at temperature 3
    >>> print(f"{fastinfo.fit_temperature(logits, labels):.1f}")
    3.0
    """
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be two positive numbers (lowest, highest temperature), got {bounds!r}") \
            from None
    if not (0 < lo < hi < math.inf):
        raise ValueError(f"bounds must be two positive finite numbers, lowest first, got {bounds!r}")
    nt = _args.threads(n_threads)
    X = _args.as_array(logits, "logits", two_byte=True)
    if X.ndim != 2:
        raise ValueError(f"fit_temperature: logits must be 2-D (rows x classes), got {X.ndim} dimensions")
    L = np.asarray(labels)
    if L.dtype.kind not in "iu":
        raise TypeError(f"fit_temperature: labels must be integer class labels, got dtype {L.dtype}")
    if L.shape != (X.shape[0],):
        raise ValueError(f"fit_temperature: labels must have one label per row ({X.shape[0]}), got shape {L.shape}")
    keep = np.ones(L.shape, dtype=bool) if ignore_index is None else L != ignore_index
    n = int(np.count_nonzero(keep))
    if n == 0:
        raise ValueError("fit_temperature: no labelled rows")

    from ._scoring import _NLL, _ENT, _stats_rows
    K = X.shape[1]
    # ignored rows stay in place as label -1 (no loss): positions in errors are the caller's
    lab = np.where(keep, _class_labels(np.where(keep, L, 0), X.shape[0], K, "fit_temperature"), -1)
    bad = keep & ((L < 0) | (L >= K))
    if bad.any():
        i = int(np.argmax(bad))
        raise IndexError(f"fit_temperature: labels holds {int(L[i])} at position {i}, outside the valid range "
                         f"[0, {K}) of the {K} classes" + ("; pass ignore_index=-100 to leave padded rows out"
                                                            if int(L[i]) == -100 else ""))

    def slope(u: float) -> float:
        """The sign of the mean NLL's derivative in b = e^u: mean(nll - entropy) (the derivative times 1/b)."""
        r = _stats_rows(X, lab, math.exp(u), True, nt, "fit_temperature")
        d = r[:, _NLL] - r[:, _ENT]
        return float(np.sum(d[keep]) / n)

    return _secant_root(slope, -math.log(hi), -math.log(lo), hi, lo)


def _iqi(p: list[tuple[float, float]]) -> float:
    """The root of the inverse quadratic through the last three points (u, g) of p (NaN where
    two of their g are equal)."""
    (a, fa), (b, fb), (c, fc) = p[-3:]
    if fa == fb or fa == fc or fb == fc:
        return math.nan
    return (a * fb * fc / ((fa - fb) * (fa - fc)) + b * fa * fc / ((fb - fa) * (fb - fc))
            + c * fa * fb / ((fc - fa) * (fc - fb)))


def _secant_root(g: Any, ulo: float, uhi: float, thi: float, tlo: float) -> float:
    """exp(-u) at the root of g, increasing in u on [ulo, uhi] (u = -log T: tlo = exp(-uhi), thi =
    exp(-ulo)). Steps from u = 0 (T = 1), at most 2 in u a step, until the signs bracket the
    root; then steps kept inside the bracket (else bisection), to 1e-8 in u -- the sums of
    float32 logits are flat below about that (their terms' rounding). A step goes to the root
    of the inverse quadratic through the last three points where that lies ahead (inside the
    bracket), else of the secant of the last two: the slope of a softmax loss bends, and a
    secant alone had crept up on the root from one side. A bound with no change of sign up to
    it is returned with a warning."""
    a = min(max(0.0, ulo), uhi)
    ga = g(a)
    pts = [(a, ga)]                       # every point evaluated, in order
    lo, hi = ulo, uhi                     # the root is in [lo, hi]; bracketed once both are seen
    seen_lo = seen_hi = False
    tol = 1e-8
    while True:                           # until the signs bracket the root
        if ga == 0:
            return math.exp(-a)
        if ga < 0:
            lo, seen_lo = a, True
        else:
            hi, seen_hi = a, True
        if seen_lo and seen_hi:
            break
        edge = uhi if ga < 0 else ulo     # the bound toward the root
        if a == edge:
            t = tlo if ga < 0 else thi
            warnings.warn(f"fit_temperature: the loss is smallest at or beyond the bound T = {t} of the "
                          f"search; returning {t} (widen bounds to search further)", RuntimeWarning,
                          stacklevel=_args.user_stacklevel())
            return t
        step = 0.25 if ga < 0 else -0.25
        if len(pts) >= 2:                 # the inverse quadratic's or the secant's root, if ahead
            c = _iqi(pts) if len(pts) >= 3 else math.nan
            if not (math.isfinite(c) and (c - a) * step > 0):
                b, gb = pts[-2]
                c = a - ga * (a - b) / (ga - gb) if ga != gb else math.nan
            if math.isfinite(c) and (c - a) * step > 0:
                step = math.copysign(min(abs(c - a), 2.0), step)
            else:
                step *= 4.0
        a = min(max(a + step, ulo), uhi)
        ga = g(a)
        pts.append((a, ga))
    # the bracket [lo, hi]; the last points evaluated in pts
    for _ in range(100):
        c = _iqi(pts) if len(pts) >= 3 else math.nan
        if not lo < c < hi:
            (b, gb), (a, ga) = pts[-2:] if len(pts) >= 2 else (pts[-1], pts[-1])
            c = a - ga * (a - b) / (ga - gb) if ga != gb else math.nan
        if not lo < c < hi:
            c = 0.5 * (lo + hi)
        a = pts[-1][0]
        if abs(c - a) <= tol * (1.0 + abs(a)) or hi - lo <= tol * (1.0 + abs(lo)):
            return math.exp(-c)
        gc = g(c)
        if gc == 0:
            return math.exp(-c)
        if gc < 0:
            lo = c
        else:
            hi = c
        pts.append((c, gc))
    return math.exp(-0.5 * (lo + hi))


def reliability_diagram(probs_or_logits: ArrayLike, labels: ArrayLike, *, n_bins: int = 15,
                        strategy: str = "uniform", from_logits: bool = False, ax: Any = None) -> Any:
    """Draw a reliability diagram: each bin's accuracy against its confidence, beside the diagonal.

    The bins are :func:`calibration_error`'s (``mode="top_label"``); the title
    gives the ECE. Needs matplotlib (``pip install fastinfo[plot]``).

    Parameters
    ----------
    probs_or_logits, labels, n_bins, strategy, from_logits
        As for :func:`calibration_error`.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure's axes).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        matplotlib is not installed.

    See Also
    --------
    calibration_error

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import fastinfo
    >>> ax = fastinfo.reliability_diagram([[0.9, 0.1], [0.6, 0.4]], [0, 1], n_bins=5)
    >>> ax.get_xlabel()
    'confidence'
    """
    err, bins = calibration_error(probs_or_logits, labels, n_bins=n_bins, strategy=strategy,
                                  from_logits=from_logits, return_bins=True)
    if ax is None:                 # a new pyplot figure (the caller closes it); else only the given axes
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("reliability_diagram needs matplotlib: pip install fastinfo[plot]") from None
        ax = plt.figure().add_subplot()
    e = np.asarray(bins.edges)
    full = np.asarray(bins.counts) > 0
    ax.bar(e[:-1][full], np.asarray(bins.accuracy)[full], width=np.diff(e)[full], align="edge",
           edgecolor="black", label="accuracy")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"ECE {err:.4f}")
    ax.legend(loc="upper left")
    return ax
