"""Shannon measures of discrete distributions: entropy, cross-entropy, KL and
Jensen-Shannon divergence, surprisal.

Each function is its docstring and one call into the shared argument layer
(``_args.py``): ``reduce`` validates the options, views the batch as rows and
runs the row kernel (``shannon_rows`` in ``_kernels.pxi``, which reads float64,
float32, float16 and bfloat16 as they are); ``elementwise`` does the same for
surprisal. The data is never copied except where stated (mixed dtypes,
integer/bool input, misaligned or byte-swapped arrays).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _args
from . import _dask as _dk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ._typing import FloatArray, FloatResult, Invalid

__all__ = ["entropy", "cross_entropy", "kl_divergence", "js_divergence", "surprisal"]


@_dk.dask_aware(_dk.P1, front="entropy")
def entropy(p: ArrayLike, *, axis: int = -1, base: float | None = None, normalize: bool | None = None,
            keepdims: bool = False, invalid: Invalid = "raise", out: FloatArray | None = None,
            n_threads: int | None = None) -> FloatResult:
    """Shannon entropy H(p) = -sum_i p_i log p_i of each distribution.

    Conventions: a zero probability contributes exactly 0 (0 log 0 = 0); an
    empty distribution has entropy 0. With ``normalize=True`` the terms are
    those of p/s (not the one-pass log s - sum p log p / s, which cancels
    when s is far from 1).
    {doc}
    See Also
    --------
    entropy_from_counts : Bias-corrected estimators from counts.
    renyi_entropy : The Renyi entropies, of which this is the order 1.
    softmax_entropy : The entropy of softmax(logits).
    scipy.stats.entropy : The SciPy function (one distribution per call).

    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.entropy([0.5, 0.5], base=2))
    1.0
    >>> fastinfo.entropy([[1.0, 0.0], [0.25, 0.75]])
    array([0.        , 0.56233514])
    >>> print(fastinfo.entropy([3, 1], normalize=True) == fastinfo.entropy([0.75, 0.25]))
    True
    """
    return _args.reduce("entropy", p, None, axis, base, normalize, keepdims, invalid, out, n_threads)


@_dk.dask_aware(_dk.PQ, front="cross_entropy")
def cross_entropy(p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None,
                  normalize: bool | None = None, keepdims: bool = False, invalid: Invalid = "raise",
                  out: FloatArray | None = None, n_threads: int | None = None) -> FloatResult:
    """Cross-entropy H(p, q) = -sum_i p_i log q_i of each pair of distributions.

    Conventions: a term with p_i = 0 is exactly 0 whatever q_i is; p_i > 0
    with q_i = 0 gives +inf.
    {doc}
    See Also
    --------
    kl_divergence : H(p, q) - H(p), computed directly.
    softmax_cross_entropy : Against labels or targets, from logits.
    pairwise_cross_entropy : Every row of one set against every row of another.

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.cross_entropy([0.5, 0.5], [0.25, 0.75], base=2):.12f}")
    1.207518749639
    >>> print(fastinfo.cross_entropy([0.0, 1.0], [0.0, 1.0]))
    0.0
    >>> print(fastinfo.cross_entropy([1.0, 0.0], [0.0, 1.0]))
    inf
    """
    return _args.reduce("cross_entropy", p, q, axis, base, normalize, keepdims, invalid, out, n_threads)


@_dk.dask_aware(_dk.PQ, front="kl_divergence")
def kl_divergence(p: ArrayLike, q: ArrayLike, *, axis: int = -1, base: float | None = None,
                  normalize: bool | None = None, keepdims: bool = False, invalid: Invalid = "raise",
                  out: FloatArray | None = None, n_threads: int | None = None) -> FloatResult:
    """Kullback-Leibler divergence D(p || q) = sum_i p_i log(p_i / q_i).

    Computed directly (one log of the ratio per element), not as
    H(p, q) - H(p), so close distributions keep their relative accuracy.
    Conventions: a term with p_i = 0 is exactly 0; p_i > 0 with q_i = 0 gives
    +inf. For distributions of equal mass (normalized input, within rounding)
    the result is never negative: it is clamped at the log-sum bound 0.
    {doc}
    See Also
    --------
    js_divergence : The symmetric, bounded divergence.
    renyi_divergence : The Renyi divergences, of which this is the order 1.
    softmax_kl_divergence : From logits.
    scipy.special.rel_entr : Its terms, elementwise.

    Examples
    --------
    >>> import fastinfo
    >>> print(f"{fastinfo.kl_divergence([0.5, 0.5], [0.25, 0.75], base=2):.12f}")
    0.207518749639
    >>> p = [0.2, 0.3, 0.5]
    >>> print(fastinfo.kl_divergence(p, p))
    0.0
    """
    return _args.reduce("kl_divergence", p, q, axis, base, normalize, keepdims, invalid, out, n_threads)


@_dk.dask_aware(_dk.PQ, front="js_divergence")
def js_divergence(p: ArrayLike, q: ArrayLike, *, distance: bool = False, axis: int = -1,
                  base: float | None = None, normalize: bool | None = None, keepdims: bool = False,
                  invalid: Invalid = "raise", out: FloatArray | None = None,
                  n_threads: int | None = None) -> FloatResult:
    """Jensen-Shannon divergence JSD = D(p || m)/2 + D(q || m)/2, m = (p + q)/2.

    ``distance=True`` returns the Jensen-Shannon distance sqrt(JSD) (SciPy's
    ``jensenshannon``). The result is always finite and >= 0 for nonnegative
    input, and <= log 2 (1 bit) for normalized input: every term is bounded
    in floating point, so rounding never gives a negative JSD or a NaN
    distance (SciPy can: scipy#20083).
    {doc}
    See Also
    --------
    kl_divergence
    softmax_js_divergence : From logits.
    scipy.spatial.distance.jensenshannon : The SciPy distance.

    Examples
    --------
    >>> import fastinfo
    >>> print(fastinfo.js_divergence([1.0, 0.0], [0.0, 1.0], base=2))
    1.0
    >>> print(fastinfo.js_divergence([0.5, 0.5], [0.5, 0.5], distance=True))
    0.0
    """
    distance = bool(distance)
    if distance and base is not None and _args.log_base(base) < 0:
        raise ValueError(f"distance=True needs base > 1 (the square root of a divergence in base "
                         f"{base!r} < 1, which is negative); got base={base!r}")
    return _args.reduce("js_divergence", p, q, axis, base, normalize, keepdims, invalid, out, n_threads,
                   distance=distance)


@_dk.dask_aware(_dk.SAME_P)
def surprisal(p: ArrayLike, *, axis: int = -1, base: float | None = None, normalize: bool | None = None,
              keepdims: bool = False, invalid: Invalid = "raise", out: FloatArray | None = None,
              n_threads: int | None = None) -> FloatArray:
    """Surprisal (information content) -log p_i of every event, elementwise.

    The result has the shape of ``p`` (``keepdims`` has no effect). A zero
    probability has surprisal +inf. ``axis`` matters only with
    ``normalize=True`` (each distribution along it is divided by its sum) and
    for ``invalid='nan'``, which makes the whole offending distribution NaN.
    {doc}
    See Also
    --------
    entropy : The expected surprisal, sum_i p_i (-log p_i).

    Examples
    --------
    >>> import fastinfo
    >>> fastinfo.surprisal([0.5, 0.25, 0.0], base=2)
    array([ 1.,  2., inf])
    """
    return _args.elementwise("surprisal", p, axis, base, bool(normalize), invalid, out, n_threads)


_PROBABILITIES = " : array_like\n        Probabilities (or weights, see ``normalize``); nonnegative."
_DISTANCE = ("\n    distance : bool, default False\n        Return the Jensen-Shannon distance "
             "sqrt(JSD) instead (``base`` must then be None or > 1).")
_args.fill_doc({**_args.COMMON_DOC, "args": "p" + _PROBABILITIES}, [entropy])
_args.fill_doc({**_args.COMMON_DOC, "args": "p, q" + _PROBABILITIES}, [cross_entropy, kl_divergence])
_args.fill_doc({**_args.COMMON_DOC, "args": "p, q" + _PROBABILITIES + _DISTANCE}, [js_divergence])
# surprisal is elementwise: its result has the shape of p, and keepdims does nothing
_args.fill_doc({**_args.COMMON_DOC, "args": "p : array_like\n        Probabilities; nonnegative.",
                "keepdims_effect": "No effect (the result has the shape of ``p``).",
                "result_shape": "The shape of ``p``",
                "normalize_none": "``None`` is ``False`` (no check of the sums)."}, [surprisal])
