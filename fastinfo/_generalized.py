"""Generalized entropies and divergences: Renyi, Tsallis, Hellinger, total variation.

The same conventions as the foundation measures (``axis``, ``base`` where a log
is involved, ``normalize``, ``keepdims``, ``invalid``, ``out``, ``n_threads``,
float32 in -> float32 out, batches broadcast without copies). The sums run in
the compiled kernel ``_general.pxi``; the order 1 of Renyi and Tsallis is the
Shannon entropy / KL divergence, computed by the foundation kernels.

Definitions (terms with p_i = 0 contribute 0; "as passed" with
``normalize=False``: the formulas apply to the numbers given)::

    renyi_entropy     H_a(p)    = log(sum_{p_i>0} p_i^a) / (1 - a)
                      H_0 = log |{i: p_i > 0}|,  H_1 = -sum p log p,  H_inf = -log max p
    tsallis_entropy   S_q(p)    = sum_{p_i>0} (p_i - p_i^q) / (q - 1)
                                = (1 - sum p^q) / (q - 1) for a normalized p;  S_1 = -sum p ln p
    renyi_divergence  D_a(p||q) = log(sum_{p_i>0} p_i^a q_i^(1-a)) / (a - 1)
                      D_0 = -log sum_{p_i>0} q_i,  D_1 = KL(p||q),  D_inf = log max_{p_i>0} p_i/q_i
    hellinger_distance H(p, q)  = sqrt(1/2 sum (sqrt p_i - sqrt q_i)^2)   (in [0, 1])
    total_variation   TV(p, q)  = 1/2 sum |p_i - q_i|                      (in [0, 1])

References: A. Renyi, "On measures of entropy and information", Proc. 4th
Berkeley Symp. (1961); C. Tsallis, J. Stat. Phys. 52 (1988) 479; T. van Erven
and P. Harremoes, "Renyi divergence and Kullback-Leibler divergence", IEEE
Trans. Inf. Theory 60 (2014) 3797 (the orders 0, 1, inf). The definitions
are dit's (``dit.other.renyi_entropy``, ``dit.other.tsallis_entropy``).
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numpy as np

from . import _args
from ._dispatch import kernels as _k
from ._measures import entropy, kl_divergence
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import FloatArray, FloatResult, Invalid

__all__ = ["renyi_entropy", "tsallis_entropy", "renyi_divergence", "hellinger_distance",
           "total_variation"]

_CODES: dict[str, int] = _k.GENERAL_MEASURES


def _order(value: object, name: str, *, allow_negative: bool = False, allow_inf: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not (allow_inf and v > 0)) or (v < 0 and not allow_negative):
        what = "a finite real number" if not allow_inf else "a number >= 0 (or inf)"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return v


def _kernel(code: int, param: float) -> _args.RowKernel:
    def run(P: FloatArray, Q: FloatArray, res: NDArray[np.float64], normalize: bool, log_base: float,
            nt: int, sum_tol: float, far: NDArray[np.intp]) -> int:
        return _k.general_rows(code, param, P, Q, res, normalize, log_base, nt, sum_tol, far)
    return run


@_dk.dask_aware(_dk.P1)
def renyi_entropy(p: ArrayLike, alpha: float, *, axis: int = -1, base: float | None = None,
                  normalize: bool | None = None, keepdims: bool = False, invalid: Invalid = "raise",
                  out: FloatArray | None = None, n_threads: int | None = None) -> FloatResult:
    """Renyi entropy of order ``alpha``: log(sum p^alpha) / (1 - alpha).

    ``alpha`` >= 0 or ``inf``: 0 gives the log of the support size (Hartley), 1
    the Shannon entropy (``fastinfo.entropy``), ``inf`` the min-entropy
    -log max p. Non-increasing in ``alpha`` for a distribution. Near
    ``alpha = 1`` the sum is taken as sum p + sum p expm1((alpha-1) log p), so
    ``alpha = 1 + 1e-9`` keeps full accuracy; elsewhere the terms are scaled by the
    largest p (no overflow for large ``alpha``). As passed (``normalize=False``),
    an all-zero row gives the formula's limit (log 0 / (1 - alpha)); an empty
    distribution (length 0) gives 0, as ``entropy`` does.
    {doc}
    See Also
    --------
    entropy : The order 1.
    tsallis_entropy, renyi_divergence

    Examples
    --------
    >>> import fastinfo
    >>> p = [0.5, 0.25, 0.25, 0.0]
    >>> for alpha in (0, 1, 2, float("inf")):
    ...     print(f"{fastinfo.renyi_entropy(p, alpha, base=2):.6f}")
    1.584963
    1.500000
    1.415037
    1.000000
    """
    a = _order(alpha, "alpha")
    if a == 1.0:
        return entropy(p, axis=axis, base=base, normalize=normalize, keepdims=keepdims, invalid=invalid,
                       out=out, n_threads=n_threads)
    return _args.reduce("renyi_entropy", p, None, axis, base, normalize, keepdims, invalid, out, n_threads,
                        kernel=_kernel(_CODES["renyi_entropy"], a))


@_dk.dask_aware(_dk.P1)
def tsallis_entropy(p: ArrayLike, q: float, *, axis: int = -1, normalize: bool | None = None, keepdims: bool = False,
                    invalid: Invalid = "raise", out: FloatArray | None = None,
                    n_threads: int | None = None) -> FloatResult:
    """Tsallis entropy of index ``q``: sum_{p_i>0} (p_i - p_i^q) / (q - 1).

    For a normalized p this is (1 - sum p^q) / (q - 1) (dit's definition); the
    form above is what the formula means for unnormalized numbers (its limit at
    ``q = 1`` is ``fastinfo.entropy`` in nats, which ``q = 1`` returns). ``q`` is any
    finite real; terms with p_i = 0 are left out (also for ``q <= 0``). No
    ``base``: the Tsallis entropy is not a logarithm. Accurate near ``q = 1``
    (expm1 form).
    {doc}
    See Also
    --------
    entropy : The limit at ``q = 1``, in nats.
    renyi_entropy

    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.tsallis_entropy([0.5, 0.25, 0.25], 2))   # 1 - sum p^2
    0.625
    """
    t = _order(q, "q", allow_negative=True, allow_inf=False)
    if t == 1.0:
        return entropy(p, axis=axis, normalize=normalize, keepdims=keepdims, invalid=invalid, out=out,
                       n_threads=n_threads)
    return _args.reduce("tsallis_entropy", p, None, axis, None, normalize, keepdims, invalid, out, n_threads,
                        kernel=_kernel(_CODES["tsallis_entropy"], t))


@_dk.dask_aware(_dk.PQ)
def renyi_divergence(p: ArrayLike, q: ArrayLike, alpha: float, *, axis: int = -1, base: float | None = None,
                     normalize: bool | None = None, keepdims: bool = False, invalid: Invalid = "raise",
                     out: FloatArray | None = None, n_threads: int | None = None) -> FloatResult:
    """Renyi divergence of order ``alpha``: log(sum_{p_i>0} p^alpha q^(1-alpha)) / (alpha - 1).

    ``alpha`` >= 0 or ``inf``: 0 gives -log sum_{p_i>0} q_i, 1 the KL divergence
    (``fastinfo.kl_divergence``), ``inf`` log max_{p_i>0} p_i / q_i. Where
    q_i = 0 < p_i the result is +inf for ``alpha >= 1``; for ``alpha < 1`` that
    term is 0 (+inf only when q has no mass on the support of p). For
    distributions D >= 0 (rounding clamped with ``normalize=True``) and
    non-decreasing in ``alpha``. Nearly equal rows (already summing to 1, as passed)
    keep relative accuracy: the ratios q/p carry their rounding and the row sums are
    double-double; with ``normalize=True`` the terms are taken of p/sum p and q/sum q,
    whose rounding leaves an absolute error of ~1e-16 (any ratio of masses is fine).
    Orders 1/2 and 2 are summed as 1 - Hellinger^2 and 1 + chi^2 (cheap, no
    cancellation).
    {doc}
    See Also
    --------
    kl_divergence : The order 1.
    renyi_entropy, hellinger_distance

    Examples
    --------
    >>> import fastinfo
    >>> p, q = [0.5, 0.25, 0.25, 0.0], [0.25, 0.25, 0.25, 0.25]
    >>> print(f"{fastinfo.renyi_divergence(p, q, 2, base=2):.6f}")
    0.584963
    >>> print(fastinfo.renyi_divergence([1.0, 0.0], [0.0, 1.0], 0.5))   # disjoint supports
    inf
    """
    a = _order(alpha, "alpha")
    if a == 1.0:
        return kl_divergence(p, q, axis=axis, base=base, normalize=normalize, keepdims=keepdims,
                             invalid=invalid, out=out, n_threads=n_threads)
    return _args.reduce("renyi_divergence", p, q, axis, base, normalize, keepdims, invalid, out, n_threads,
                        kernel=_kernel(_CODES["renyi_divergence"], a))


@_dk.dask_aware(_dk.PQ)
def hellinger_distance(p: ArrayLike, q: ArrayLike, *, axis: int = -1, normalize: bool | None = None,
                       keepdims: bool = False, invalid: Invalid = "raise", out: FloatArray | None = None,
                       n_threads: int | None = None) -> FloatResult:
    """Hellinger distance sqrt(1/2 sum (sqrt p - sqrt q)^2), in [0, 1] for distributions.

    Equal to sqrt(1 - sum sqrt(p q)) for distributions, but computed from the
    differences ((p - q) / (sqrt p + sqrt q))^2, so nearly equal rows do not
    cancel. A metric; H^2 <= TV <= sqrt(2) H.
    {doc}
    See Also
    --------
    total_variation, renyi_divergence

    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.hellinger_distance([1.0, 0.0], [0.0, 1.0]))
    1.0
    >>> print(f"{fastinfo.hellinger_distance([0.5, 0.5], [0.25, 0.75]):.8f}")
    0.18459191
    """
    return _args.reduce("hellinger_distance", p, q, axis, None, normalize, keepdims, invalid, out, n_threads,
                        kernel=_kernel(_CODES["hellinger_distance"], 0.0))


@_dk.dask_aware(_dk.PQ)
def total_variation(p: ArrayLike, q: ArrayLike, *, axis: int = -1, normalize: bool | None = None,
                    keepdims: bool = False, invalid: Invalid = "raise", out: FloatArray | None = None,
                    n_threads: int | None = None) -> FloatResult:
    """Total variation distance ``1/2 sum |p - q|``, in [0, 1] for distributions.

    The largest difference of the probabilities the two distributions give
    one event; a metric.
    {doc}
    See Also
    --------
    hellinger_distance

    Examples
    --------
    >>> import fastinfo
    >>> fastinfo.total_variation([[1.0, 0.0]], [[0.0, 1.0], [0.5, 0.5]])
    array([1. , 0.5])
    """
    return _args.reduce("total_variation", p, q, axis, None, normalize, keepdims, invalid, out, n_threads,
                        kernel=_kernel(_CODES["total_variation"], 0.0))


_ONE = "p : array_like\n        Probabilities (or weights with ``normalize=True``) along ``axis``."
_TWO = ("p, q : array_like\n        Probabilities (or weights with ``normalize=True``) along ``axis``; "
        "they broadcast over the batch axes.")
_ALPHA = "\n    alpha : float\n        The order, >= 0 or inf."
_Q = "\n    q : float\n        The entropic index, a finite real."
_NO_BASE = {"base": ""}     # the Tsallis entropy and the distances are not logarithms
_args.fill_doc({**_args.COMMON_DOC, "args": _ONE + _ALPHA}, [renyi_entropy])
_args.fill_doc({**_args.COMMON_DOC, **_NO_BASE, "args": _ONE + _Q}, [tsallis_entropy])
_args.fill_doc({**_args.COMMON_DOC, "args": _TWO + _ALPHA}, [renyi_divergence])
_args.fill_doc({**_args.COMMON_DOC, **_NO_BASE, "args": _TWO}, [hellinger_distance, total_variation])
