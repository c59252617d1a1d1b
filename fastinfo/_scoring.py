"""Scoring a model's logits: several statistics of each row from one read of it.

``softmax_stats`` runs the logit rows of the row engine (``_logits.pxi``,
``stats_rows``): pass 1 the row's maximum, pass 2 the sums of exp(z) (those of
``softmax_entropy`` and ``softmax_cross_entropy``, bit for bit), and, for the
argmax, the label's rank and a top k, an order pass over the row while it is in
cache. What it allocates is O(rows x (k + fields)), never O(rows x classes).
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import numpy as np

from . import _args
from . import _dask as _dk
from . import _logits as _lg
from ._dispatch import kernels as _k

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._typing import Invalid

__all__ = ["EnsembleUncertainty", "SequenceScores", "SoftmaxStats", "ensemble_uncertainty", "sequence_scores",
           "softmax_stats", "topk_kl_divergence"]

_NF: int = _k.STATS_FIELDS       # per-row results of the kernel: lse, entropy, nll, max_prob, argmax, rank
_LSE, _ENT, _NLL, _MAXP, _ARGMAX, _RANK = range(6)


class SoftmaxStats(NamedTuple):
    """The per-row statistics of :func:`softmax_stats`; a field not asked for is ``None``.

    A named tuple: fields by name or position, ``_asdict()`` for a dict (e.g. of a pandas
    DataFrame's columns).

    Examples
    --------
    >>> import fastinfo
    >>> s = fastinfo.softmax_stats([[2.0, 0.0, -1.0]], [1], returns=("nll", "rank"))
    >>> s.rank, s.entropy is None
    (array([1]), True)
    >>> sorted(k for k, v in s._asdict().items() if v is not None)
    ['nll', 'rank']
    """

    nll: Any = None
    logsumexp: Any = None
    entropy: Any = None
    max_prob: Any = None
    argmax: Any = None
    correct: Any = None
    rank: Any = None
    topk_logprobs: Any = None
    topk_indices: Any = None
    label_prob: Any = None


# the fields not laid out as the input's rows: NumPy arrays for labelled input (pandas, xarray)
SoftmaxStats._plain = ("topk_logprobs", "topk_indices")  # type: ignore[attr-defined]
FIELDS = SoftmaxStats._fields
_LABEL_FIELDS = frozenset({"nll", "correct", "rank", "label_prob"})
_TOPK_FIELDS = frozenset({"topk_logprobs", "topk_indices"})


def _returns(returns: object, has_labels: bool, k: int) -> tuple[str, ...]:
    """The fields asked for, checked; None: every field that applies."""
    if returns is None:
        return tuple(f for f in FIELDS if (has_labels or f not in _LABEL_FIELDS) and (k or f not in _TOPK_FIELDS))
    try:
        names: tuple[object, ...] = (returns,) if isinstance(returns, str) else tuple(returns)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"softmax_stats: returns must be a field name or a sequence of them, got {returns!r}") \
            from None
    for f in names:
        if not isinstance(f, str) or f not in FIELDS:
            raise ValueError(f"softmax_stats: returns names an unknown field {f!r}; the fields are "
                             f"{', '.join(FIELDS)}")
        if f in _LABEL_FIELDS and not has_labels:
            raise ValueError(f"softmax_stats: the field {f!r} needs labels; pass labels, or leave {f!r} "
                             f"out of returns")
        if f in _TOPK_FIELDS and not k:
            raise ValueError(f"softmax_stats: the field {f!r} needs k > 0 (the number of top classes)")
    return names  # type: ignore[return-value]   # (every name checked to be a str)


def _k_arg(k: object, K: int) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"softmax_stats: k must be an integer (the number of top classes), got {k!r}")
    if not 0 <= int(k) <= K:
        raise ValueError(f"softmax_stats: k must be in [0, {K}] (the number of classes), got {k}")
    return int(k)


@_dk.interop_aware(("logits", "labels", "where"))
def softmax_stats(logits: ArrayLike, labels: ArrayLike | None = None, *, k: int = 0, temperature: float = 1.0,
                  ignore_index: int | None = None, where: ArrayLike | None = None,
                  returns: str | Sequence[str] | None = None, axis: int = -1, invalid: Invalid = "raise",
                  n_threads: int | None = None) -> SoftmaxStats:
    """Per-row statistics of softmax(logits / T) -- loss, confidence, entropy, argmax, rank, top k -- from one read.

    With p = softmax(x / T) over the class axis and y a row's label:

    * ``nll`` = -log p_y (``softmax_cross_entropy``'s loss, bit for bit);
    * ``logsumexp`` = log sum exp(x / T);
    * ``entropy`` = -sum p log p (``softmax_entropy``'s, bit for bit; 0 log 0 = 0);
    * ``max_prob`` = max p (the confidence);
    * ``argmax``: the index of the first maximal logit (as ``numpy.argmax``);
    * ``correct`` = ``argmax == y`` (lm-eval's ``is_greedy`` for one token);
    * ``rank``: the label's place in the classes sorted by decreasing logit,
      ties in index order: #{j : x_j > x_y} + #{j < y : x_j = x_y}. So
      ``rank == 0`` exactly when ``correct``;
    * ``topk_indices``: the first ``k`` classes of that order (ties: the lower
      index first, as ``np.argsort(-x, kind="stable")[:k]``; ``torch.topk``
      promises no order among ties), and ``topk_logprobs`` their log p,
      decreasing;
    * ``label_prob`` = p_y.

    All in natural log units. The row is read from memory once: a pass for its
    maximum, and a pass over the cached row for the sums of exp, which also
    takes the argmax, the rank and the top k (the rank one compare a vector;
    only a group of 8 vectors with an element above the k-th largest so far
    goes into the top-k heap -- rows whose logits rise along the classes send
    every group there, and cost up to ~10x more with a large k). A -inf logit is a mask
    (p = 0); NaN or +inf logits, or a row of only -inf, are invalid (where
    ``softmax_cross_entropy`` gives +inf and ``logsumexp`` -inf: the bitwise
    agreement is that of valid rows).

    Parameters
    ----------
    logits : array_like
        Real numbers; every axis but ``axis`` is a batch axis. float64,
        float32, float16 and bfloat16 (``ml_dtypes``, or a torch tensor) are
        read as they are.
    labels : array_like, optional
        Integer class labels 0..K-1 of the batch shape (broadcast to it), for
        ``nll``, ``correct``, ``rank`` and ``label_prob``. Float labels raise
        ``TypeError``.
    k : int, default 0
        How many top classes ``topk_logprobs`` and ``topk_indices`` hold, in
        [0, K].
    temperature : float, default 1.0
        T > 0: the logits are divided by T. The argmax, the rank and the
        top-k indices do not depend on it.
    ignore_index : int, optional
        A label value whose rows have no label: ``nll`` 0 (as PyTorch's
        ``cross_entropy(..., reduction="none")``, so that a sum over rows is
        the sum over the labelled ones), ``label_prob`` NaN, ``rank`` -1,
        ``correct`` False. Their other fields are computed.
    where : array_like of bool, optional
        Broadcast to the batch shape; the rows where it is False are not read:
        ``nll`` 0, the other float fields NaN, ``argmax``, ``rank`` and
        ``topk_indices`` -1, ``correct`` False.
    returns : str or sequence of str, optional
        The fields to compute (any of ``SoftmaxStats._fields``); the others
        are None. Default: every field that applies -- the label fields when
        ``labels`` are given, the top-k fields when ``k > 0``. The entropy,
        and the order pass (argmax, correct, rank, top k), are skipped when
        none of their fields is asked for.
    axis : int, default -1
        The class axis.
    invalid : {'raise', 'nan'}, default 'raise'
        A row with a NaN or +inf logit or only -inf logits raises
        ``ValueError`` naming its batch index, or (``'nan'``) gives NaN in its
        float fields, -1 in its integer fields and False in ``correct``.
    n_threads : int, optional
        Threads (default: every core the process may use); the results are
        bitwise the same for every count.

    Returns
    -------
    SoftmaxStats
        A named tuple of arrays: the batch shape for the per-row fields, the
        batch shape + ``(k,)`` for the top-k fields (a 1-D ``logits`` gives
        0-d arrays). Float fields are float64 for float64 logits, float32
        otherwise; ``argmax``, ``rank`` and ``topk_indices`` int64;
        ``correct`` bool. Torch tensors in give torch tensors out (JAX arrays
        JAX arrays); pandas and xarray input give the per-row fields with the
        rows' index and the top-k fields as NumPy arrays (their columns are
        ranks, not the input's classes).

    Raises
    ------
    IndexError
        A label outside [0, K) that is not ``ignore_index``, naming its batch
        index (-100 without ``ignore_index=-100`` says to pass it).
    ValueError
        An invalid row with ``invalid='raise'``; logits without classes
        (K = 0); ``k`` outside [0, K]; an unknown field in ``returns``, a
        label field without labels, a top-k field with ``k = 0``; labels or
        ``where`` that do not broadcast to the batch shape; a bad
        ``temperature``, ``invalid`` or ``n_threads``; ``axis`` out of range.
    TypeError
        Float or object labels; a non-boolean ``where``; a non-integer ``k``;
        complex, object or string logits.

    See Also
    --------
    softmax_cross_entropy : The loss alone, with weights and label smoothing.
    softmax_entropy : The entropy alone.

    Examples
    --------
    >>> import fastinfo
    >>> logits = [[2.0, 0.0, -1.0], [0.5, 1.5, 0.5]]
    >>> s = fastinfo.softmax_stats(logits, [0, 2], k=2)
    >>> s.nll
    array([0.16984602, 1.55144471])
    >>> s.argmax, s.correct, s.rank
    (array([0, 1]), array([ True, False]), array([0, 2]))
    >>> s.topk_indices
    array([[0, 1],
           [1, 0]])
    >>> fastinfo.softmax_stats(logits, returns=("entropy", "max_prob")).max_prob
    array([0.84379473, 0.57611688])
    """
    fname = "softmax_stats"
    if _dk.is_dask(logits) or _dk.is_dask(labels):
        raise TypeError(f"{fname} takes in-memory arrays, not Dask arrays (its result is several arrays); "
                        f"score each block with dask.array.map_blocks, or the per-row functions "
                        f"(softmax_cross_entropy, softmax_entropy), which stay lazy")
    nan_mode = _args.nan_mode(invalid)
    nt = _args.threads(n_threads)
    ignore_index = _lg._ignore_index(ignore_index, fname)
    X0 = _args.as_array(logits, "logits", two_byte=True)
    if X0.ndim == 0:
        raise ValueError(f"{fname}: logits must have a class axis (at least 1 dimension), got a scalar")
    X, ax = _lg._logits(X0, "logits", axis)
    batch, K = X.shape[:-1], X.shape[-1]
    if K == 0:
        raise ValueError(f"{fname}: logits have no classes (the class axis has length 0)")
    dtype = _lg._res_dtype(X.dtype)
    scale = _lg._scale(temperature, dtype)
    kk = _k_arg(k, K)
    has_labels = labels is not None
    names = _returns(returns, has_labels, kk)
    want = frozenset(names)
    L: NDArray[np.int64] | None = None
    ign: NDArray[np.bool_] | None = None
    skip = None if where is None else ~_lg._where(where, batch, fname)
    if has_labels:
        T = labels if isinstance(labels, np.ndarray) else np.asarray(labels)
        _lg._is_soft(T, X.ndim, fname, "labels", False)
        if skip is not None and skip.any():         # the labels of rows left out are not read either
            try:
                T = np.where(skip, 0, np.broadcast_to(T, batch))
            except ValueError:
                raise ValueError(f"{fname}: labels (class labels) must have the batch shape {batch} of the logits "
                                 f"(their shape without the class axis), got {T.shape}") from None
        L, ign = _lg._labels(T, batch, K, ignore_index, fname, "labels")
    if skip is not None:
        if skip.any():
            L = np.where(skip, -2, L if L is not None else -1).astype(np.int64)
        else:
            skip = None
    if not has_labels and skip is None:
        L = None
    need_order = bool(want & {"argmax", "correct", "topk_logprobs", "topk_indices"})
    need_rank = bool(want & {"rank"})
    if not want & _TOPK_FIELDS:
        kk = 0                                      # no heap of k for fields not asked for
    res = np.empty(batch + (_NF + 2 * kk,), dtype=np.float64)
    fmt = _lg._FORMATS[X.dtype.name]

    def call(x: NDArray[Any], r: NDArray[np.float64], *lab: NDArray[np.int64]) -> int:
        if x.ndim == 1:
            x, r, lab = x[None], r[None], tuple(a[None] for a in lab)
        return int(_k.stats_rows(fmt, x, lab[0] if lab else _lg._NO_LABELS, r, kk, "entropy" in want,
                                 need_order, need_rank, scale, nt))

    arrays: list[Any] = [X, res] + ([L] if L is not None else [])
    nbad = call(*arrays) if not batch else _args.run_batched(call, arrays, batch)
    bad = None
    if nbad:
        bad = np.isnan(res[..., _LSE])
        if skip is not None:
            bad &= ~skip
        if bad.any():
            if not nan_mode:
                _lg._raise_invalid(fname, [X], ["logits"], np.where(bad, np.nan, 0.0), batch)
        else:
            bad = None
    return _fields(res, names, kk, dtype, L, ign, bad, skip)


def _stats_rows(X: NDArray[Any], L: NDArray[np.int64], scale: float, entropy: bool, nt: int,
                fname: str) -> NDArray[np.float64]:
    """The kernel's per-row results (N, STATS_FIELDS) of 2-D logits X with labels L, no order
    pass; a ValueError naming the first invalid row."""
    res = np.empty((X.shape[0], _NF), dtype=np.float64)
    if _k.stats_rows(_lg._FORMATS[X.dtype.name], X, L, res, 0, entropy, False, False, scale, nt):
        _lg._raise_invalid(fname, [X], ["logits"], np.where(np.isnan(res[:, _LSE]), np.nan, 0.0), X.shape[:1])
    return res


def _fields(res: NDArray[np.float64], names: Sequence[str], k: int, dtype: np.dtype[Any],
            L: NDArray[np.int64] | None, ign: NDArray[np.bool_] | None, bad: NDArray[np.bool_] | None,
            skip: NDArray[np.bool_] | None) -> SoftmaxStats:
    """The named fields from the kernel's rows."""
    out: dict[str, Any] = {}
    nolabel = None
    if L is not None and ign is not None:
        nolabel = ign if skip is None else (ign | skip)
        if bad is not None:
            nolabel = nolabel | bad
    for f in names:
        if f == "nll":
            v = res[..., _NLL].astype(dtype)
            if bad is not None:
                v[bad] = np.nan
        elif f == "logsumexp":
            v = res[..., _LSE].astype(dtype)
        elif f == "entropy":
            v = res[..., _ENT].astype(dtype)
        elif f == "max_prob":
            v = res[..., _MAXP].astype(dtype)
        elif f == "argmax":
            v = res[..., _ARGMAX].astype(np.int64)
        elif f == "rank":
            v = res[..., _RANK].astype(np.int64)
            if nolabel is not None:
                v[nolabel] = -1
        elif f == "correct":
            v = np.asarray(res[..., _ARGMAX].astype(np.int64) == L)       # (0-d stays an array)
            if nolabel is not None:
                v &= ~nolabel
        elif f == "label_prob":
            with np.errstate(over="ignore"):
                v = np.asarray(np.exp(-res[..., _NLL])).astype(dtype)   # (0-d stays an array)
            if nolabel is not None:
                v[nolabel] = np.nan
        elif f == "topk_logprobs":
            v = res[..., _NF:_NF + k].astype(dtype)
        else:
            v = res[..., _NF + k:].astype(np.int64)
        out[f] = v
    return SoftmaxStats(**out)


class SequenceScores(NamedTuple):
    """The per-sequence scores of :func:`sequence_scores` (``bits_per_byte`` None without byte counts).

    Examples
    --------
    >>> import fastinfo
    >>> s = fastinfo.sequence_scores([[[0.0, 0.0], [0.0, 0.0]]], [[0, 1]])
    >>> s.tokens, s.perplexity
    (array([2]), array([2.]))
    """

    loglik: Any
    mean_loglik: Any
    perplexity: Any
    accuracy: Any
    tokens: Any
    bits_per_byte: Any = None


@_dk.interop_aware(("logits", "labels", "lengths", "where", "byte_counts"))
def sequence_scores(logits: ArrayLike, labels: ArrayLike, *, lengths: ArrayLike | None = None,
                    ignore_index: int | None = None, where: ArrayLike | None = None,
                    byte_counts: ArrayLike | None = None, temperature: float = 1.0, axis: int = -1,
                    n_threads: int | None = None) -> SequenceScores:
    """Per-sequence log-likelihood, perplexity and token accuracy of a language model's logits.

    For logits of shape (..., S, V) -- a batch of sequences of S positions over
    V classes (``axis`` the class axis, the sequence axis the last of the
    others) -- and labels (..., S), the counted positions of each sequence are
    those below its ``lengths``, not labelled ``ignore_index`` and not False in
    ``where``. Over them, with nll the token losses of :func:`softmax_stats`:

    * ``loglik`` = -sum nll (natural log; 0 for a sequence with no counted token);
    * ``mean_loglik`` = loglik / tokens;
    * ``perplexity`` = exp(-mean_loglik), each sequence's own (the mean of these
      over sequences is what per-sequence evaluations report; a pooled
      perplexity over all tokens is ``perplexity(..., per="token")``);
    * ``accuracy``: the share of counted tokens whose argmax is the label
      (lm-eval's ``is_greedy`` is ``accuracy == 1``);
    * ``tokens``: how many positions were counted (int64);
    * ``bits_per_byte`` = -loglik / (log 2 x byte_counts), given the byte
      counts of the sequences' text.

    NaN for the means of a sequence with no counted token. Positions not
    counted are not read, and their labels may hold anything (padding).

    Parameters
    ----------
    logits : array_like
        (..., S, V) logits; float64, float32, float16 and bfloat16 are read as
        they are.
    labels : array_like
        (..., S) integer labels in [0, V) at the counted positions.
    lengths : array_like of int, optional
        (...) the number of leading positions of each sequence to count, in
        [0, S].
    ignore_index : int, optional
        A label value not counted (PyTorch's padding label is -100).
    where : array_like of bool, optional
        Broadcast to (..., S): False positions are not counted.
    byte_counts : array_like, optional
        (...) the UTF-8 byte count of each sequence's counted text.
    temperature : float, default 1.0
    axis : int, default -1
        The class axis.
    n_threads : int, optional

    Returns
    -------
    SequenceScores
        Arrays of the batch shape (...) (0-d for 2-D logits): float64 for
        ``loglik``, ``mean_loglik``, ``perplexity``, ``accuracy`` and
        ``bits_per_byte`` (None without ``byte_counts``), int64 ``tokens``.

    Raises
    ------
    IndexError
        A counted label outside [0, V), naming its position.
    ValueError
        Logits with fewer than 2 dimensions; labels not of the logits' shape
        without the class axis; lengths, where or byte_counts that do not fit
        the batch; negative lengths, or lengths above S (naming the
        sequence); an invalid counted row (NaN or +inf logits), naming it.
    TypeError
        Labels or lengths that are not integers; a non-boolean ``where``.

    See Also
    --------
    softmax_stats, perplexity

    Examples
    --------
    >>> import numpy as np, fastinfo
    >>> logits = np.log([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [1/3, 1/3, 1/3]]])   # 1 sequence, 3 tokens
    >>> s = fastinfo.sequence_scores(logits, [[0, 1, 2]], lengths=[2])
    >>> print(s.tokens, s.accuracy, np.round(s.perplexity, 6))
    [2] [1.] [1.581139]
    """
    fname = "sequence_scores"
    nt = _args.threads(n_threads)
    X = _args.as_array(logits, "logits", two_byte=True)
    if X.ndim < 2:
        raise ValueError(f"{fname}: logits must have a sequence axis and a class axis (at least 2 dimensions), "
                         f"got {X.ndim}")
    X, _ = _lg._logits(X, "logits", axis)
    shape, V = X.shape[:-1], X.shape[-1]
    batch = shape[:-1]
    T = np.asarray(labels)
    if T.dtype.kind not in "iu":
        raise TypeError(f"{fname}: labels must be integer class labels, got dtype {T.dtype}"
                        + (" — pass labels.astype(int)" if T.dtype.kind == "f" else ""))
    if T.shape != shape:
        raise ValueError(f"{fname}: labels must have the logits' shape without the class axis {shape}, "
                         f"got {T.shape}")
    counted = np.ones(shape, dtype=bool)
    if ignore_index is not None:
        counted &= T != _lg._ignore_index(ignore_index, fname)
    if where is not None:
        counted &= _lg._where(where, shape, fname)
    if lengths is not None:
        n = np.asarray(lengths)
        if n.dtype.kind not in "iu":
            raise TypeError(f"{fname}: lengths must be integers, got dtype {n.dtype}")
        if n.shape != batch:
            raise ValueError(f"{fname}: lengths must have the batch shape {batch} (one length per sequence), "
                             f"got {n.shape}")
        if (n < 0).any():
            raise ValueError(f"{fname}: lengths must be >= 0, got {int(n.min())}")
        if (n > shape[-1]).any():       # a length past the sequence axis: wrong lengths, not padding
            i = tuple(int(j) for j in np.unravel_index(int(np.argmax(n > shape[-1])), batch))
            raise ValueError(f"{fname}: lengths holds {int(n[i])} at sequence index {i}, more than the "
                             f"{shape[-1]} positions of the sequence axis (logits {tuple(X.shape)}: "
                             f"(..., S, V) with the classes last)")
        counted &= np.arange(shape[-1]) < n[..., None]
    bad = counted & ((T < 0) | (T >= V))
    if bad.any():
        i = tuple(int(j) for j in np.unravel_index(int(np.argmax(bad)), shape))
        raise IndexError(f"{fname}: labels holds {int(T[i])} at batch index {i}, a counted position, outside "
                         f"the valid range [0, {V}) of the {V} classes"
                         + ("; pass ignore_index=-100 to skip padded positions" if int(T[i]) == -100 else ""))
    try:
        s = softmax_stats(X, np.where(counted, T, 0), temperature=temperature, where=counted,
                          returns=("nll", "correct"), n_threads=nt)
    except ValueError as e:            # an invalid counted row: the message as this function's
        raise ValueError(str(e).replace("softmax_stats:", f"{fname}:", 1)) from None
    tokens = counted.sum(axis=-1).astype(np.int64)
    loglik = 0.0 - np.sum(s.nll.astype(np.float64), axis=-1)          # (0.0 - 0.0: not -0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = np.where(tokens > 0, loglik / tokens, np.nan)
        ppl = np.exp(-mean)
        acc = np.where(tokens > 0, np.sum(s.correct, axis=-1) / tokens, np.nan)
        bpb = None
        if byte_counts is not None:
            b = np.asarray(byte_counts, dtype=np.float64)
            if b.shape != batch:
                raise ValueError(f"{fname}: byte_counts must have the batch shape {batch}, got {b.shape}")
            bpb = -loglik / (math.log(2.0) * b)
    return SequenceScores(loglik, mean, ppl, acc, tokens, bpb)


class EnsembleUncertainty(NamedTuple):
    """The per-row uncertainties of :func:`ensemble_uncertainty`: total = aleatoric + epistemic.

    Examples
    --------
    >>> import fastinfo
    >>> u = fastinfo.ensemble_uncertainty([[[9.0, 0.0]], [[0.0, 9.0]]])   # two members disagree
    >>> print(round(float(u.epistemic[0]), 4), round(float(u.aleatoric[0]), 4))
    0.6919 0.0012
    """

    total: Any
    aleatoric: Any
    epistemic: Any


_ENSEMBLE_CHUNK = 1 << 18      # elements of a member's rows taken at a time (in cache for the mean)


@_dk.interop_aware(("logits",))
def ensemble_uncertainty(logits: ArrayLike, *, axis: int = 0, temperature: float = 1.0, base: float | None = None,
                         n_threads: int | None = None) -> EnsembleUncertainty:
    """Predictive uncertainty of an ensemble (or of MC-dropout samples), split into aleatoric and epistemic.

    For M members' logits over K classes (class axis last, members along
    ``axis``), with p_m = softmax(x_m / T) and their mean p = (1/M) sum_m p_m:

    * ``total`` = H(p), the entropy of the mean prediction;
    * ``aleatoric`` = (1/M) sum_m H(p_m), the expected entropy;
    * ``epistemic`` = total - aleatoric, the mutual information between the
      prediction and the member (BALD's score), in [0, log M].

    Each member's entropy is ``softmax_entropy``'s sums, kept in float64 (no
    log of a probability, 0 log 0 = 0, -inf logits are masks); the mean prediction is the mean of
    the members' softmax rows, written a block of rows at a time into a buffer
    that stays in cache (never the (M, N, K) probabilities), and its entropy
    is ``entropy``'s. The epistemic part is clamped to [0, log M]: a
    difference of two O(1) sums, it is exact to about 2e-15 x H absolutely
    for float64 logits (identical members give ~1e-15, not 0); for float32
    and 2-byte logits the members' probabilities are float32, and it is
    exact to about 1e-7 -- pass float64 logits to rank members that agree
    closer than that.

    Parameters
    ----------
    logits : array_like
        (M, ..., K) logits (the member axis ``axis``, the classes last);
        float64, float32, float16 and bfloat16 read as they are.
    axis : int, default 0
        The member axis (not the class axis).
    temperature : float, default 1.0
        T > 0: every member's logits are divided by T.
    base : float, optional
        The logarithm's base (default e: nats).
    n_threads : int, optional

    Returns
    -------
    EnsembleUncertainty
        Three arrays of the batch shape (the logits' shape without the member
        and class axes): float64 for float64 logits, else float32.

    Raises
    ------
    ValueError
        An invalid row (NaN or +inf logits, or only -inf), naming its member
        and batch index; fewer than 2 dimensions; ``axis`` the class axis; no
        member or no class.

    See Also
    --------
    softmax_entropy, softmax_stats

    Examples
    --------
    >>> import numpy as np, fastinfo
    >>> members = np.array([[[2.0, 0.0, 0.0]], [[0.0, 2.0, 0.0]], [[2.0, 0.0, 0.0]]])   # (M=3, N=1, K=3)
    >>> u = fastinfo.ensemble_uncertainty(members)
    >>> print(np.round(u.total, 4), np.round(u.aleatoric, 4), np.round(u.epistemic, 4))
    [0.9294] [0.6656] [0.2638]
    """
    from ._logits import softmax
    from ._measures import entropy
    fname = "ensemble_uncertainty"
    nt = _args.threads(n_threads)
    log_base = _args.log_base(base)
    X = _args.as_array(logits, "logits", two_byte=True)
    if X.ndim < 2:
        raise ValueError(f"{fname}: logits must have a member axis and a class axis (at least 2 dimensions), "
                         f"got {X.ndim}")
    ax = _args.normalize_axis_index(axis, X.ndim)
    if ax == X.ndim - 1:
        raise ValueError(f"{fname}: axis={axis} is the class axis (the last); axis names the member axis")
    X = np.moveaxis(X, ax, 0)
    M, K = X.shape[0], X.shape[-1]
    if M == 0 or K == 0:
        raise ValueError(f"{fname}: logits have no {'member' if M == 0 else 'class'} (shape {X.shape})")
    batch = X.shape[1:-1]
    dtype = _lg._res_dtype(X.dtype)
    # every member's entropy: one read of the logits, and a NaN, +inf or all -inf row named
    # (in float64 from the kernel's sums, not the float32 results of float32 logits)
    rows = X.reshape((M, -1, K)) if X.size else X.reshape((M, 0, K))    # (a view when the batch allows)
    st = np.empty((rows.shape[0] * rows.shape[1], _NF), dtype=np.float64)
    if st.shape[0]:
        _k.stats_rows(_lg._FORMATS[X.dtype.name], rows.reshape(-1, K), _lg._NO_LABELS, st, 0, True, False, False,
                      _lg._scale(temperature, _lg._res_dtype(X.dtype)), nt)
    H = st[:, _ENT].reshape((M,) + batch)
    bad = np.isnan(st[:, _LSE]).reshape((M,) + batch)
    if bad.any():
        at = [int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape)]
        at.insert(ax, at.pop(0))                 # in the caller's order of axes, the classes left out
        raise ValueError(f"{fname}: logits hold a NaN or +inf value, or only -inf values, in the row at index "
                         f"{tuple(at)} (member {at[ax]}; the class axis left out)")
    n = rows.shape[1]
    total = np.empty(n, dtype=np.float64)
    step = max(1, _ENSEMBLE_CHUNK // K)
    mean = np.empty((min(step, n), K), dtype=np.float64)
    inv_m = 1.0 / M
    for a in range(0, n, step):
        b = min(n, a + step)
        acc = mean[:b - a]
        acc[...] = softmax(rows[0, a:b], temperature=temperature, n_threads=nt)
        for m in range(1, M):
            acc += softmax(rows[m, a:b], temperature=temperature, n_threads=nt)
        acc *= inv_m
        total[a:b] = entropy(acc, n_threads=nt)
    tot: NDArray[np.float64] = total.reshape(batch)
    alea = np.mean(H, axis=0)
    epi = np.clip(tot - alea, 0.0, math.log(M))
    if log_base != 1.0:
        tot, alea, epi = tot / log_base, alea / log_base, epi / log_base
    return EnsembleUncertainty(*(np.asarray(v).astype(dtype) for v in (tot, alea, epi)))


_TAILS = ("bucket", "renormalize")


@_dk.interop_aware(("teacher_topk_logprobs", "teacher_topk_indices", "student_logits", "labels", "where"))
def topk_kl_divergence(teacher_topk_logprobs: ArrayLike, teacher_topk_indices: ArrayLike, student_logits: ArrayLike,
                       *, tail: str = "bucket", temperature: float = 1.0, labels: ArrayLike | None = None,
                       ignore_index: int | None = None, where: ArrayLike | None = None, reduction: str = "none",
                       n_threads: int | None = None) -> Any:
    """KL(teacher || student) when only the teacher's top-k log-probabilities are kept: still a divergence (>= 0).

    With p_j = exp(teacher_topk_logprobs_j) at the classes j of
    ``teacher_topk_indices`` (what a server's ``logprobs`` returns), and
    q = softmax(student_logits / T):

    * ``tail="bucket"``: the teacher's remaining mass r = 1 - sum_j p_j and the
      student's s = 1 - sum_j q_j are one more class each:
      KL = sum_j p_j log(p_j / q_j) + r log(r / s) -- the KL of two
      distributions over k + 1 outcomes, so >= 0 (0 log 0 = 0; r > 0 with
      s = 0 gives +inf);
    * ``tail="renormalize"``: both restricted to the k classes and renormalized.

    A KL truncated to the top k without either (sum_j p_j log(p_j / q_j)) is
    not a divergence: it goes negative whenever the student puts more mass on
    those classes than the teacher. Each student row is read once into a float64 block (a
    block of rows at a time: its log-sum-exp and that of its other classes),
    so s is summed from the student's own classes, never 1 -
    sum_j q_j, and a small tail keeps its bits. When the k classes are all
    V, there is no tail.

    Parameters
    ----------
    teacher_topk_logprobs : array_like
        (..., k) natural-log probabilities (<= 0, their exponentials summing to
        at most 1; -inf allowed).
    teacher_topk_indices : array_like
        (..., k) distinct integer classes in [0, V) of each row.
    student_logits : array_like
        (..., V) logits (class axis last); float64, float32, float16 and
        bfloat16 read as they are.
    tail : {'bucket', 'renormalize'}, default 'bucket'
    temperature : float, default 1.0
        The student's temperature (the teacher's log-probabilities are taken
        as given).
    labels : array_like of int, optional
        With ``ignore_index``: the rows whose label is ``ignore_index`` are
        left out (padded tokens; PyTorch's padding label is -100).
    ignore_index : int, optional
        The label of the rows to leave out; given together with ``labels``.
    where : array_like of bool, optional
        Broadcast to the batch shape; the rows where it is False are left
        out. A row left out (its teacher's entries and the student's logits)
        is not read and gives 0.
    reduction : {'none', 'sum', 'mean', 'batchmean'}, default 'none'
        As :func:`softmax_kl_divergence`'s: ``'mean'`` over the rows kept
        (PyTorch's ``kl_div(..., reduction="batchmean")`` for (N, V) logits),
        ``'batchmean'`` over the length of the first batch axis.
    n_threads : int, optional

    Returns
    -------
    ndarray or NumPy scalar
        The batch shape (float64 for float64 student logits, else float32),
        or a scalar with a reduction.

    Raises
    ------
    ValueError
        Log-probabilities above 0 or whose exponentials sum above 1 (more than
        1e-6: likely logits -- pass log_softmax of them), or NaN; indices
        repeated within a row; shapes that differ; an invalid student row
        (NaN or +inf logits, or only -inf), naming its batch index; a bad
        ``tail``, ``temperature`` or ``reduction``.
    IndexError
        An index outside [0, V), naming its row.
    TypeError
        Indices that are not integers.

    See Also
    --------
    softmax_kl_divergence : The full KL, from both models' logits.

    Examples
    --------
    >>> import numpy as np, fastinfo
    >>> teacher = np.log([[0.6, 0.3]])                    # its top 2 of 4 classes; 0.1 left
    >>> student = np.log([[0.5, 0.2, 0.2, 0.1]])
    >>> print(np.round(fastinfo.topk_kl_divergence(teacher, [[0, 1]], student), 6))
    [0.121171]
    """
    fname = "topk_kl_divergence"
    if not (isinstance(tail, str) and tail in _TAILS):
        raise ValueError(f"tail must be 'bucket' or 'renormalize', got {tail!r}")
    reduction = _lg._div_reduction(reduction)  # type: ignore[arg-type]
    nt = _args.threads(n_threads)
    LP = np.asarray(teacher_topk_logprobs, dtype=np.float64)
    I = np.asarray(teacher_topk_indices)
    X = _args.as_array(student_logits, "student_logits", two_byte=True)
    if X.ndim == 0 or LP.ndim == 0:
        raise ValueError(f"{fname}: the inputs need a class axis (the last)")
    if LP.shape != I.shape or LP.shape[:-1] != X.shape[:-1]:
        raise ValueError(f"{fname}: teacher_topk_logprobs {LP.shape} and teacher_topk_indices {I.shape} must have "
                         f"one shape, the student's batch shape {X.shape[:-1]} and k classes")
    if I.dtype.kind not in "iu":
        raise TypeError(f"{fname}: teacher_topk_indices must be integers, got dtype {I.dtype}")
    batch, V, k = X.shape[:-1], X.shape[-1], LP.shape[-1]
    dtype = _lg._res_dtype(X.dtype)
    skip = _lg._left_out(labels, ignore_index, where, batch, fname)
    if skip is not None and skip.any():     # the rows left out: a valid stand-in, never read again
        LP = np.where(skip[..., None], -np.inf, LP)
        I = np.where(skip[..., None], np.arange(k) % max(V, 1), I)

    def row(mask: NDArray[np.bool_]) -> tuple[int, ...]:
        return tuple(int(j) for j in np.unravel_index(int(np.argmax(mask)), mask.shape))[:len(batch)]

    bad = (I < 0) | (I >= V)
    if bad.any():
        raise IndexError(f"{fname}: teacher_topk_indices holds {int(I[np.unravel_index(int(np.argmax(bad)), I.shape)])} "
                         f"in the row at batch index {row(bad)}, outside [0, {V})")
    with np.errstate(invalid="ignore", over="ignore"):
        lse_t = np.logaddexp.reduce(LP, axis=-1) if k else np.full(batch, -np.inf)
        off = np.isnan(LP) | (LP > 1e-6)
    if off.any() or (lse_t > 1e-6).any():
        at = row(off) if off.any() else row(lse_t > 1e-6)
        raise ValueError(f"{fname}: teacher_topk_logprobs in the row at batch index {at} are not log-"
                         f"probabilities (NaN, above 0, or exponentials summing above 1); if they are logits, "
                         f"pass log_softmax of the teacher's logits")
    if k > 1:
        srt = np.sort(I, axis=-1)
        dup = np.any(srt[..., 1:] == srt[..., :-1], axis=-1)
        if dup.any():
            raise ValueError(f"{fname}: teacher_topk_indices repeats a class in the row at batch index {row(dup)}")
    scale = _lg._scale(temperature, dtype)
    X2, I2 = X.reshape(-1, V), I.reshape(-1, k).astype(np.intp)
    n = X2.shape[0]
    # a row left out: log-sum-exps 0, its terms -inf - 0 against p = 0 (0 log 0 = 0), tail 0
    lse, lse_rest = np.zeros(n), np.zeros(n)
    xs = np.zeros((n, k))
    for sel in _lg._kept_blocks(skip, n, V):       # the student's rows read, as float64, a block at a time
        xb = X2[sel].astype(np.float64) * scale
        lse[sel] = _lg.logsumexp(xb, invalid="nan", n_threads=nt)
        xs[sel] = np.take_along_axis(xb, I2[sel], axis=-1)
        np.put_along_axis(xb, I2[sel], -np.inf, axis=-1)
        lse_rest[sel] = _lg.logsumexp(xb, invalid="nan", n_threads=nt)
    bad = np.isnan(lse) | (lse == -np.inf) if V else np.zeros(n, dtype=bool)
    if bad.any():
        _lg._raise_invalid(fname, [X], ["student_logits"], np.where(bad, np.nan, 0.0).reshape(batch), batch)
    lse_b: NDArray[np.float64] = lse.reshape(batch)
    lse_rest_b: NDArray[np.float64] = lse_rest.reshape(batch)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        lq = xs.reshape(batch + (k,)) - lse_b[..., None]
        p = np.exp(LP)
        terms = np.where(p == 0, 0.0, p * (LP - lq))
        kl = np.sum(terms, axis=-1)
        lse_q = np.logaddexp.reduce(lq, axis=-1) if k else np.full(batch, -np.inf)
        if tail == "bucket" and k < V:
            r = -np.expm1(np.minimum(lse_t, 0.0))
            # the student's rest summed from its own classes: no 1 - sum q (which loses the bits of a
            # small tail, all of them for float32 exps)
            ls = lse_rest_b - lse_b
            kl = kl + np.where(r == 0, 0.0, r * (np.log(r) - ls))
        elif tail == "renormalize":     # p / P and q / Q on the k classes: sum p/P (log p/P - log q/Q)
            kl = np.where(lse_t == -np.inf, 0.0, kl / np.exp(lse_t) - lse_t + lse_q)
        res = np.where(np.isnan(kl), np.nan, np.maximum(kl, 0.0))
        if skip is not None:
            res = np.where(skip, 0.0, res)
    return _lg._reduce_rows(np.asarray(res, dtype=np.float64), reduction, dtype, _lg._kept(skip))
