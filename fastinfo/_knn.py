"""k-nearest-neighbour estimators for continuous variables.

``knn_entropy`` is the Kozachenko-Leonenko estimator of the differential entropy
and ``knn_mutual_information`` the Kraskov-Stoegbauer-Grassberger estimator
(algorithm 1) of the mutual information, the one behind scikit-learn's
``mutual_info_regression``. The neighbours are found on a compiled k-d tree
(``_knn.pxi``): built level by level in parallel, queried for every point over
threads; the marginal counts of KSG come from a sorted copy for one-dimensional
marginals and from a tree otherwise. Results are bitwise the same for every
thread count.

Duplicate points. Where the k-th neighbour of a point lies at distance zero
(k or more other points coincide with it) the estimators switch, for that point
only, to the smallest neighbour order k_i that has a nonzero distance (the
Kozachenko-Leonenko term becomes psi(k_i) and log r_i with k_i - 1 coinciding
points), and KSG takes k_i = the number of coinciding points with the marginal
counts of the points that coincide in x and in y (W. Gao, S. Kannan, S. Oh and
P. Viswanath, "Estimating mutual information for discrete-continuous mixtures",
NeurIPS 2017). Nothing is random: no noise is added. On data without such ties
both are exactly the textbook estimators.

References: L. F. Kozachenko and N. N. Leonenko, Probl. Peredachi Inf. 23 (1987) 9;
A. Kraskov, H. Stoegbauer and P. Grassberger, Phys. Rev. E 69 (2004) 066138.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from . import _args
from . import _dask as _dk
from . import _special
from ._dispatch import core as _c

__all__ = ["knn_entropy", "knn_mutual_information"]

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

_METRICS: dict[str, int] = _c.KNN_METRICS


def _check_k(k: Any, n: int, what: str) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int, got {k!r}")
    kv = int(k)
    if kv < 1:
        raise ValueError(f"k must be >= 1, got {kv}")
    if kv >= n:
        raise ValueError(f"k ({kv}) must be less than the number of {what} ({n})")
    return kv


def _points(a: ArrayLike, name: str) -> NDArray[np.float64]:
    """(n, d) float64 samples from (n,) or (n, d) real input (finiteness: see _max_abs)."""
    X = _args.real_array(a, name)                      # the real-dtype check and float64 view of the closed forms
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got shape {X.shape}")
    if X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one coordinate, got shape {X.shape}")
    return X if X.flags.aligned else X.copy()


def _max_abs(X: NDArray[np.float64], name: str) -> float:
    if X.size == 0:
        return 0.0
    m = float(np.max(np.abs(X)))
    if not math.isfinite(m):
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))[0]
        raise ValueError(f"{name} must be finite: row {bad} is {X[bad].tolist()}")
    return m


def _pow2_exponent(m: float, metric: str) -> int:
    """e such that the points times 2^e keep every computed distance finite and exact enough.

    Euclidean: the largest magnitude m goes to ~2^500, so no square of a difference overflows
    and only differences below ~2^-1037 m underflow (and the point values themselves stay
    exact unless they are below ~2^-1500 m). Chebyshev (also KSG): differences are exact
    unless they overflow, so 2^0 unless m reaches 2^1022."""
    if m == 0.0:
        return 0
    E = math.frexp(m)[1]                       # m = f 2^E, 0.5 <= f < 1
    if metric == "euclidean":
        return 500 - E
    return 1022 - E if E > 1022 else 0


def _pow2_factors(e: int) -> tuple[float, float]:
    """2^e as two factors that are each representable (|e| can exceed 1023)."""
    e1 = e // 2
    return math.ldexp(1.0, e1), math.ldexp(1.0, e - e1)


def _mean_digamma(counts: NDArray[np.intp], n: int) -> float:
    """Mean of psi(c) over an int array of values in 1..n: psi at the distinct values only."""
    h = np.bincount(counts, minlength=1)
    v = np.flatnonzero(h)
    return float(np.dot(h[v], _special.digamma(v.astype(np.float64)))) / n


def _log_unit_ball(d: int, metric: str) -> float:
    if metric == "chebyshev":
        return d * math.log(2.0)
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


@_dk.interop_aware(("points",))
def knn_entropy(points: ArrayLike, *, k: int = 3, metric: str = "euclidean", base: Optional[float] = None,
                n_threads: Optional[int] = None) -> float:
    """Kozachenko-Leonenko estimate of the differential entropy from samples.

    h = psi(n) - psi(k) + log V_d + (d / n) sum_i log r_i, where r_i is the distance from
    sample i to its k-th nearest other sample and V_d the volume of the metric's unit ball
    (pi^(d/2) / Gamma(d/2 + 1) for ``"euclidean"``, 2^d for ``"chebyshev"``).

    Parameters
    ----------
    points : array_like, shape (n,) or (n, d)
        The n samples of a d-dimensional variable (real, finite).
    k : int, default 3
        The neighbour order, 1 <= k < n.
    metric : {'euclidean', 'chebyshev'}, default 'euclidean'
        The distance (any letter case); Chebyshev is the maximum norm.
    {base}
    {n_threads}

    Returns
    -------
    float
        The estimate h.

    Raises
    ------
    ValueError
        Points that are not finite or not of shape (n,) or (n, d >= 1);
        ``k`` outside 1 <= k < n; all points coinciding (a point mass: h =
        -inf); distinct points closer than the Euclidean distance resolves
        (see Notes); a bad ``metric``, ``base`` or ``n_threads``.
    TypeError
        Points that are not real numbers; a non-integer ``k`` or
        ``n_threads``.

    See Also
    --------
    differential_entropy : The m-spacing estimators of one-dimensional samples.
    knn_mutual_information : The KSG estimator, built on the same neighbours.
    gaussian_entropy : The closed form for a Gaussian.

    Notes
    -----
    A point whose k-th neighbour coincides with it (k or more duplicates) uses, for itself
    only, the first neighbour order k_i > k - 1 at a nonzero distance: psi(k_i) and that
    distance enter the sum (the estimator stays finite; duplicates lower it, as a point
    mass would). If every point coincides the entropy is that of a point mass (-inf) and
    ValueError is raised. Points are scaled by a power of two internally (Euclidean: the
    largest magnitude to ~2^500; Chebyshev: only beyond 2^1022), so no distance overflows;
    the result is corrected exactly. Euclidean distances below ~2^-1037 times the largest
    magnitude underflow (their squares do): where that would merge distinct points into
    duplicates, ValueError is raised (use ``metric="chebyshev"``, whose differences are exact).
    Integers above 2^53 are rounded to float64.

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> x = np.random.default_rng(0).normal(size=(2000, 2))   # h = log(2 pi e) = 2.8379
    >>> print(f"{fastinfo.knn_entropy(x):.4f}")
    2.8318
    """
    lb = _args.log_base(base)
    nt = _args.threads(n_threads)
    if not isinstance(metric, str) or metric.lower() not in _METRICS:
        raise ValueError(f"metric must be one of {', '.join(repr(m) for m in _METRICS)}; got {metric!r}")
    metric = metric.lower()
    X = _points(points, "points")
    n, d = X.shape
    k = _check_k(k, n, "points")
    e = _pow2_exponent(_max_abs(X, "points"), metric)
    r = np.empty(n, dtype=np.float64)
    kk = np.empty(n, dtype=np.intp)
    _c.knn_radii(X, k, _METRICS[metric], *_pow2_factors(e), r, kk, nt)
    if not np.isfinite(r).all():
        if np.isnan(r).any():
            bad = int(np.flatnonzero(np.isnan(r)).size)
            raise ValueError(f"{bad} points have distinct neighbours closer than the squared Euclidean distance "
                             "resolves (differences below ~2^-1037 of the largest coordinate): use "
                             "metric='chebyshev' (exact differences) or rescale the data")
        raise ValueError("all points coincide (a point mass: the differential entropy is -inf)")
    h = (float(_special.digamma(float(n))) - _mean_digamma(kk, n) + _log_unit_ball(d, metric)
         + d * (float(np.sum(np.log(r))) / n - e * math.log(2.0)))
    return float(h / lb)


@_dk.interop_aware(("x", "y"))
def knn_mutual_information(x: ArrayLike, y: ArrayLike, *, k: int = 3, base: Optional[float] = None,
                           clip: bool = True, n_threads: Optional[int] = None) -> float:
    """Kraskov-Stoegbauer-Grassberger estimate (algorithm 1) of the mutual information I(X; Y).

    I = psi(k) + psi(n) - <psi(n_x + 1)> - <psi(n_y + 1)>, where eps_i is the Chebyshev
    distance from sample i to its k-th nearest other sample in the joint space (x, y) and
    n_x(i), n_y(i) count the other samples strictly closer than eps_i in x and in y
    (Chebyshev distances within each). This is scikit-learn's ``_compute_mi_cc`` (behind
    ``mutual_info_regression``) for one-dimensional x and y, and its generalization to
    (n, dx) and (n, dy) samples.

    Parameters
    ----------
    x : array_like, shape (n,) or (n, dx)
        The samples of X (real, finite).
    y : array_like, shape (n,) or (n, dy)
        The paired samples of Y (real, finite).
    k : int, default 3
        The neighbour order, 1 <= k < n (scikit-learn's ``n_neighbors``).
    {base}
    clip : bool, default True
        Return max(0, I) as scikit-learn does (the true mutual information is never
        negative); False returns the raw estimate, which can be slightly negative.
    {n_threads}

    Returns
    -------
    float
        The estimate I.

    Raises
    ------
    ValueError
        Samples that are not finite or not of shape (n,) or (n, d >= 1); ``x``
        and ``y`` of different lengths; ``k`` outside 1 <= k < n; a bad
        ``base`` or ``n_threads``.
    TypeError
        Samples that are not real numbers; a non-integer ``k`` or
        ``n_threads``; a ``clip`` that is not a bool.

    See Also
    --------
    knn_entropy : The Kozachenko-Leonenko entropy estimator.
    mutual_information : The mutual information of a discrete joint distribution.

    Notes
    -----
    No rescaling and no noise: the estimate is that of the data as given (KSG with the
    joint maximum norm depends on the relative scale of x and y). scikit-learn's
    ``mutual_info_regression`` first divides each feature and the target by its standard
    deviation and adds noise of relative size 1e-10; pass ``x / x.std(0)``, ``y / y.std(0)``
    to estimate on the same scale. Where eps_i = 0 (k or more samples coincide with sample
    i in both x and y) the sample uses k_i = the number of coinciding samples and counts
    the samples that coincide with it in x and in y (Gao et al. 2017), so discrete or mixed
    data give finite, consistent estimates (I(X; X) -> H(X) for discrete X).

    Examples
    --------
    >>> import numpy as np
    >>> import fastinfo
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000)
    >>> y = x + 0.5 * rng.normal(size=2000)   # Gaussian: I = log(5) / 2 = 0.8047
    >>> print(f"{fastinfo.knn_mutual_information(x, y):.4f}")
    0.8086
    """
    lb = _args.log_base(base)
    nt = _args.threads(n_threads)
    X = _points(x, "x")
    Y = _points(y, "y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"x and y must hold the same number of samples, got {X.shape[0]} and {Y.shape[0]}")
    n, dx = X.shape
    k = _check_k(k, n, "samples")
    if not isinstance(clip, (bool, np.bool_)):
        raise TypeError(f"clip must be True or False, got {clip!r}")
    XY = np.concatenate([X, Y], axis=1)
    e = _pow2_exponent(max(_max_abs(X, "x"), _max_abs(Y, "y")), "chebyshev")
    kk = np.empty(n, dtype=np.intp)
    nx = np.empty(n, dtype=np.intp)
    ny = np.empty(n, dtype=np.intp)
    _c.ksg_counts(XY, dx, k, *_pow2_factors(e), kk, nx, ny, nt)
    mi = (float(_special.digamma(float(n))) + _mean_digamma(kk, n)
          - _mean_digamma(nx + 1, n) - _mean_digamma(ny + 1, n))
    if clip:
        mi = max(0.0, mi)
    return float(mi / lb)


# The text the two estimators share: "{name}" in their docstrings stands for the entry
# (written out by _args.fill_doc; "{base}" is _args.PARAM_DOC's).
_PARAM_DOC = {
    "n_threads": """n_threads : int, optional
        OpenMP threads of the neighbour search (k-d tree build and queries);
        ``None`` uses what OpenMP allows at call time. The result is bitwise
        the same for every thread count.""",
}
_args.fill_doc(_PARAM_DOC, [knn_entropy, knn_mutual_information])
