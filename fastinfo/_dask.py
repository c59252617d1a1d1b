"""Dask arrays in, lazy Dask arrays out.

Every batched function of fastinfo is wrapped by :func:`dask_aware` with a
description of its array arguments: how many trailing *core* dimensions each one
has (1 for a distribution, 0 for a class label, 2 for a joint table or a
covariance matrix) and whether the function reduces the core dimensions or keeps
the shape. When any of those arguments is a ``dask.array.Array`` the call builds
a graph instead of computing: the arrays are broadcast as the NumPy path
broadcasts them, the ``axis`` (or ``axes``) is moved to the end, the core
dimensions are rechunked into one chunk (with a ``PerformanceWarning`` saying so
when they were split), and each block is computed by the same NumPy function on
its chunk. ``reduction="sum"``/``"mean"`` give a lazy 0-d Dask array (the
per-row results summed by Dask's tree reduction; means divide by the same
denominator as the NumPy path: rows, elements, or the summed class weights).

Choices:
* Dask is imported only here, and this module only when a Dask array is passed;
  ``pip install fastinfo[dask]`` installs it.
* Each block runs on ``n_threads=1`` unless ``n_threads`` is given: Dask already
  runs blocks in parallel, and one OpenMP team per Dask thread would oversubscribe
  the cores.
* ``out=`` is refused (a lazy result has no buffer to write into).
* ``invalid="raise"``: the error surfaces at ``compute()``, from the block that
  holds the bad row; its message gives the block's first batch index.
* The pairwise matrices take Dask P and/or Q: a lazy (N, M) array in blocks of P's rows x
  Q's rows. Global estimators (label scores, contingency tables, kNN estimators) are not
  batched functions: they take NumPy arrays.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from typing import Any, Callable, Optional, Sequence, TypeVar, Union

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


_modules = sys.modules
# argument types that need no conversion: the wrappers' fast path tests membership here
PLAIN = frozenset({np.ndarray, list, tuple, int, float, bool, str, type(None), complex, dict,
                    np.float64, np.float32, np.float16, np.int64, np.int32, np.intp, np.bool_, np.uint64})


def _user_stacklevel() -> int:
    from ._args import user_stacklevel
    return user_stacklevel() - 1       # (this frame)


def is_dask(x: object) -> bool:
    """True for a dask.array.Array, without importing Dask."""
    t = type(x)
    return t.__module__.startswith("dask.array") and t.__name__ == "Array"


class Spec:
    """How a batched function maps onto blocks.

    arrays: the names of the array parameters; core: each one's number of core
    dimensions (a callable of the bound arguments may return it); kind: "reduce"
    (core dimensions removed) or "same" (the output has the broadcast shape);
    axis: "axis", "axes" or None; reduction: whether a ``reduction`` parameter exists;
    mean_denominator: optional callable(bound, rows) giving a lazy denominator; left_out:
    optional callable(bound, arrays by name (batch-shaped masks), batch) giving the lazy
    boolean mask of the rows a masked mean leaves out (or None), which also allows
    ``reduction="batchmean"``."""

    def __init__(self, arrays: Sequence[str],
                 core: Union[Sequence[int], Callable[[inspect.BoundArguments], Sequence[int]]],
                 kind: str = "reduce", axis: Optional[str] = "axis", reduction: bool = False,
                 mean_denominator: Optional[Callable[[inspect.BoundArguments], Any]] = None,
                 keepdims: bool = True, out_dtype: Optional[Callable[..., np.dtype[Any]]] = None,
                 left_out: Optional[Callable[..., Any]] = None) -> None:
        self.arrays = arrays
        self.core = core
        self.kind = kind
        self.axis = axis
        self.reduction = reduction
        self.mean_denominator = mean_denominator
        self.keepdims = keepdims
        self.out_dtype = out_dtype
        self.left_out = left_out


def dask_aware(spec: Spec, front: Optional[str] = None) -> Callable[[F], F]:
    """Decorator: route calls with a Dask array among ``spec.arrays`` to :func:`apply`, and
    calls with another library's arrays (torch, JAX, pandas, ...) through ``_interop``.

    ``front``: the name of a compiled function of the kernels (``<front>_front``) with the
    same signature that computes a plain call -- NumPy arrays, the usual spellings of the
    options -- in one step, or returns None; it is tried first (the whole Python cost of a
    small call), and everything else takes the function as written."""
    def wrap(func: F) -> F:
        sig = inspect.signature(func)
        fast: Optional[Callable[..., Any]] = None
        if front is not None:
            from ._dispatch import kernels
            fast = getattr(kernels, f"{front}_front")

        two_byte: Optional[frozenset[Any]] = None      # the 2-byte arguments, by position and name
        if fast is not None:
            from ._interop import two_byte_args
            names = two_byte_args(func.__name__)
            two_byte = frozenset([i for i, n in enumerate(sig.parameters) if n in names] + list(names))

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if fast is not None:
                try:
                    r = fast(*args, **kwargs)
                except TypeError:   # a misspelled or extra argument: the function's own message
                    r = None
                if r is not None:
                    return r
            # NumPy arrays, sequences and scalars go straight through: one set lookup per
            # argument is the whole cost of this wrapper on the common call.
            for a in args:
                if type(a) not in PLAIN:
                    return _foreign(func, spec, sig, args, kwargs, fast, two_byte)
            if kwargs:
                for a in kwargs.values():
                    if type(a) not in PLAIN:
                        return _foreign(func, spec, sig, args, kwargs, fast, two_byte)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
    return wrap


def _foreign(func: Callable[..., Any], spec: Spec, sig: inspect.Signature, args: Sequence[Any],
             kwargs: dict[str, Any], fast: Optional[Callable[..., Any]] = None,
             two_byte: Optional[frozenset[Any]] = None) -> Any:
    if fast is not None and "torch" in _modules:
        r = _interop_module().torch_front(fast, two_byte or frozenset(), args, kwargs, PLAIN)
        if r is not None:
            return r
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    if "dask.array" in _modules and any(is_dask(bound.arguments[n]) for n in spec.arrays):
        return apply(func, spec, bound)
    from . import _interop
    return _interop.interop_call(func, spec.arrays, dict(bound.arguments),
                                 lazy=lambda **kw: apply(func, spec, _rebind(sig, kw)))


def _interop_module() -> Any:
    m = _modules.get("fastinfo._interop")
    if m is None:
        from . import _interop as m
    return m


def _rebind(sig: inspect.Signature, kwargs: dict[str, Any]) -> inspect.BoundArguments:
    bound = sig.bind(**kwargs)
    bound.apply_defaults()
    return bound


def interop_aware(arrays: Sequence[str]) -> Callable[[F], F]:
    """Decorator of the functions that take whole arrays (label scores, kNN estimators):
    another library's arrays in (see ``_interop``), a result of the caller's kind out."""
    def wrap(func: F) -> F:
        sig = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for a in args:
                if type(a) not in PLAIN:
                    break
            else:
                if not kwargs or all(type(a) in PLAIN for a in kwargs.values()):
                    return func(*args, **kwargs)
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            from . import _interop
            return _interop.interop_call(func, arrays, dict(bound.arguments))

        return wrapper  # type: ignore[return-value]
    return wrap


def _float_dtype(arrays: Sequence[Any]) -> np.dtype[Any]:
    kinds = [a.dtype for a in arrays if a.dtype.kind == "f"]
    if kinds and all(d == np.float32 for d in kinds):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def apply(func: Callable[..., Any], spec: Spec, bound: inspect.BoundArguments) -> Any:
    import importlib
    da: Any = importlib.import_module("dask.array")      # untyped: Any

    args = bound.arguments
    if args.get("out") is not None:
        raise TypeError(f"{func.__name__}: out= is not supported with Dask arrays (the result is lazy)")
    if args.get("return_grad") or args.get("grad_out") is not None:
        raise TypeError(f"{func.__name__}: return_grad=True is not supported with Dask arrays; take the "
                        f"gradient of each block with dask.array.map_blocks (with reduction='sum', and the "
                        f"mean's denominator applied once)")
    if "normalize" in args and args["normalize"] is None:
        # The blocks would each check their rows' sums and warn at compute time, once per block
        # and from a worker: on Dask arrays normalize=None uses the numbers as passed, unchecked.
        args["normalize"] = False
    core = spec.core(bound) if callable(spec.core) else spec.core
    keep = [i for i, n in enumerate(spec.arrays) if args[n] is not None]     # optional arrays left out
    names = [spec.arrays[i] for i in keep]
    core = [core[i] for i in keep]
    arrs = [da.asarray(args[n]) for n in names]
    for a, n in zip(arrs, names):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{func.__name__}: {n} must hold real numbers, got dtype {a.dtype}")
    C = max(core)
    # broadcast the arrays with the same number of core dimensions fully (as the NumPy path),
    # then all of them over the common batch shape
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(core):
        groups.setdefault(c, []).append(i)
    for c, idx in groups.items():
        if len(idx) > 1:
            shp = np.broadcast_shapes(*(arrs[i].shape for i in idx))
            for i in idx:
                arrs[i] = da.broadcast_to(arrs[i], shp)
    # move the axis / axes of the arrays that have them to the end
    axis = args.get(spec.axis) if spec.axis else None
    ref = max(range(len(arrs)), key=lambda i: (core[i], arrs[i].ndim))
    nd = arrs[ref].ndim
    if spec.axis == "axis" and C >= 1:
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
            raise TypeError(f"{func.__name__}: axis must be an int, got {axis!r}")
        if not -nd <= axis < nd:
            raise np.exceptions.AxisError(int(axis), nd)
        ax = int(axis) % nd
        for i in range(len(arrs)):
            if core[i] == 1:
                arrs[i] = da.moveaxis(arrs[i], ax - nd + arrs[i].ndim, -1)
    elif spec.axis == "axes":
        a0, a1 = (int(v) % nd for v in tuple(axis or ()))
        if a0 == a1:
            raise ValueError(f"{func.__name__}: axes must name two different axes, got {axis!r}")
        for i in range(len(arrs)):
            if core[i] == 2:
                arrs[i] = da.moveaxis(arrs[i], (a0, a1), (-2, -1))
        ax = None
    else:
        ax = None
    batch = np.broadcast_shapes(*(a.shape[:a.ndim - c] for a, c in zip(arrs, core)))
    nb = len(batch)
    for i, (a, c) in enumerate(zip(arrs, core)):
        a = da.broadcast_to(a, batch + a.shape[a.ndim - c:])
        if c:
            if any(len(ch) > 1 for ch in a.chunks[nb:]):
                warnings.warn(f"{func.__name__}: the core axes of {names[i]} were split into several Dask "
                              f"chunks; rechunking them into one chunk per block (chunk along the batch "
                              f"axes only to avoid this)", da.PerformanceWarning, stacklevel=_user_stacklevel())
            a = a.rechunk({nb + j: -1 for j in range(c)})
        a = a.reshape(a.shape + (1,) * (C - c)) if c < C else a     # trailing singletons: align
        arrs[i] = a
    red = args.get("reduction", "none") if spec.reduction else "none"
    if red not in ("none", "sum", "mean") and not (red == "batchmean" and spec.left_out is not None):
        allowed = "'none', 'sum', 'mean' or 'batchmean'" if spec.left_out is not None else "'none', 'sum' or 'mean'"
        raise ValueError(f"reduction must be {allowed}, got {red!r}")
    keepdims = bool(args.get("keepdims", False)) if spec.keepdims else False
    if keepdims and red != "none":
        raise ValueError("keepdims and out apply to reduction='none' only")
    kw = {k: v for k, v in args.items() if k not in names and k not in ("out", "keepdims", "reduction")}
    if "n_threads" in kw and kw["n_threads"] is None:
        kw["n_threads"] = 1
    if spec.axis == "axis" and C >= 1:
        kw["axis"] = -1
    elif spec.axis == "axes":
        kw["axes"] = (-2, -1)
    if spec.reduction:
        kw["reduction"] = "none"
    out_dtype = spec.out_dtype(arrs, bound) if spec.out_dtype else _float_dtype(arrs)

    def block(*blocks: Any, block_info: Optional[dict[Any, Any]] = None) -> Any:
        call = dict(kw)
        for n, b, c in zip(names, blocks, core):
            call[n] = b.reshape(b.shape[:b.ndim - (C - c)]) if c < C else b
        try:
            r = func(**call)
        except (ValueError, IndexError, FloatingPointError) as e:
            loc = tuple(s for s, _ in block_info[None]["array-location"][:nb]) if block_info else ()
            raise type(e)(f"{e} (in the Dask block whose batch indices start at {loc}: "
                          f"row numbers above count from there)") from None
        return np.asarray(r, dtype=out_dtype)

    unify_chunks: Any = importlib.import_module("dask.array.core").unify_chunks
    ind = tuple(range(nb + C))
    _, arrs = unify_chunks(*[x for a in arrs for x in (a, ind)])     # the same batch chunks everywhere
    if spec.kind == "reduce":
        res = da.map_blocks(block, *arrs, dtype=out_dtype, drop_axis=list(range(nb, nb + C)),
                            meta=np.empty((0,) * nb, dtype=out_dtype))
    else:
        res = da.map_blocks(block, *arrs, dtype=out_dtype, meta=np.empty((0,) * (nb + C), dtype=out_dtype))
        if ax is not None:
            res = da.moveaxis(res, -1, ax)
    if red == "none":
        if keepdims and spec.kind == "reduce":
            if ax is not None:
                res = da.expand_dims(res, ax)
        return res
    total = res.astype(np.float64).sum()
    if red == "sum":
        return total.astype(out_dtype)
    if red == "batchmean":        # PyTorch kl_div's: the length of the first batch axis
        den = batch[0] if nb else 1
    elif spec.left_out is not None:
        masks = {n: a.reshape(a.shape[:nb]) for n, a, c in zip(names, arrs, core) if c == 0}
        out = spec.left_out(bound, masks, batch)
        # no row kept: NaN, quietly (as the NumPy path)
        den = None if out is None else da.maximum(res.size - out.sum(), 0).astype(np.float64)
        if den is not None:
            den = da.where(den == 0, np.nan, den)
    else:
        den = spec.mean_denominator(bound) if spec.mean_denominator else None
    return (total / (res.size if den is None else den)).astype(out_dtype)


def pairwise_aware(func: F) -> F:
    """Decorator of the pairwise matrices: Dask P (N, K) and/or Q (M, K) give a lazy (N, M)
    array chunked as P's rows x Q's rows (each block the NumPy call on a block of rows of each)."""
    @functools.wraps(func)
    def wrapper(P: Any, Q: Any, **kwargs: Any) -> Any:
        if type(P) in PLAIN and type(Q) in PLAIN:
            return func(P, Q, **kwargs)
        if is_dask(P) or is_dask(Q):
            return _apply_pairwise(func, P, Q, kwargs)
        from . import _interop
        return _interop.interop_call(func, ("P", "Q"), {"P": P, "Q": Q, **kwargs}, pairwise=True)
    return wrapper  # type: ignore[return-value]


def _apply_pairwise(func: Callable[..., Any], P: Any, Q: Any, kwargs: dict[str, Any]) -> Any:
    import importlib
    da: Any = importlib.import_module("dask.array")
    if kwargs.get("out") is not None:
        raise TypeError(f"{func.__name__}: out= is not supported with Dask arrays (the result is lazy)")
    A = [da.asarray(P), da.asarray(Q)]
    for i, name in enumerate(("P", "Q")):
        if A[i].ndim != 2:
            raise ValueError(f"{func.__name__}: {name} must be 2-D (rows x distribution), got shape {A[i].shape}")
        if A[i].dtype.kind not in "biuf":
            raise TypeError(f"{func.__name__}: {name} must hold real numbers, got dtype {A[i].dtype}")
        if len(A[i].chunks[1]) > 1:
            warnings.warn(f"{func.__name__}: the distribution axis of {name} was split into several Dask "
                          f"chunks; rechunking it into one chunk (chunk along the rows only to avoid this)",
                          da.PerformanceWarning, stacklevel=_user_stacklevel())
            A[i] = A[i].rechunk({1: -1})
    if A[0].shape[1] != A[1].shape[1]:
        raise ValueError(f"{func.__name__}: P and Q must have the same number of columns, "
                         f"got {A[0].shape[1]} and {A[1].shape[1]}")
    kw = dict(kwargs)
    if kw.get("n_threads") is None:
        kw["n_threads"] = 1

    def block(p: Any, q: Any) -> Any:
        try:
            return func(p, q, **kw)
        except (ValueError, IndexError) as e:
            raise type(e)(f"{e} (in a Dask block: row numbers count within the block)") from None

    return da.blockwise(block, "ij", A[0], "ik", A[1], "jk", dtype=np.float64, concatenate=True,
                        meta=np.empty((0, 0), dtype=np.float64))


# --- the specifications of the public functions ------------------------------------------------

def _ndim(x: Any) -> int:
    return int(x.ndim) if hasattr(x, "ndim") else int(np.ndim(x))


def _is_soft(bound: inspect.BoundArguments) -> bool:
    """A target with the logits' number of dimensions holds probabilities, one dimension fewer
    class labels (the NumPy path's rule, which checks the dtypes)."""
    return _ndim(bound.arguments["target"]) == _ndim(bound.arguments["logits"])


def _ce_core(bound: inspect.BoundArguments) -> tuple[int, int]:
    return (1, 1 if _is_soft(bound) else 0)


def _ce_denominator(bound: inspect.BoundArguments) -> Any:
    """softmax_cross_entropy's mean with labels divides by the summed weights of the kept labels."""
    import importlib
    da: Any = importlib.import_module("dask.array")
    a = bound.arguments
    if _is_soft(bound):
        return None                    # soft targets: the mean over the rows, as the NumPy path
    T = da.asarray(a["target"])
    ii, w = a["ignore_index"], a["weight"]
    w = None if w is None else np.asarray(w, dtype=np.float64)

    def weights(t: Any) -> Any:
        ign = (t == ii) if ii is not None else np.zeros(t.shape, bool)
        if w is None:
            return np.where(ign, 0.0, 1.0)
        return np.where(ign, 0.0, w[np.where(ign, 0, t)])
    return da.map_blocks(weights, T, dtype=np.float64).sum()


P1 = Spec(("p",), (1,))
PQ = Spec(("p", "q"), (1, 1))
SAME_P = Spec(("p",), (1,), kind="same", keepdims=False)
X1 = Spec(("x",), (1,))
SAME_X = Spec(("x",), (1,), kind="same", keepdims=False)
LOGITS = Spec(("logits",), (1,))
CE = Spec(("logits", "target"), _ce_core, reduction=True, mean_denominator=_ce_denominator)


def _pair_left_out(bound: inspect.BoundArguments, arrays: dict[str, Any], batch: tuple[int, ...]) -> Any:
    """The rows a logit divergence leaves out: labels == ignore_index, or where False."""
    a = bound.arguments
    out = None
    if "labels" in arrays:
        out = arrays["labels"] == a["ignore_index"]
    if "where" in arrays:
        w = ~arrays["where"].astype(bool)
        out = w if out is None else out | w
    return out


PQ_LOGITS = Spec(("p_logits", "q_logits", "labels", "where"), (1, 1, 0, 0), reduction=True,
                 left_out=_pair_left_out)
SIGMOID = Spec(("logits", "targets", "pos_weight", "weight"), (0, 0, 0, 0), kind="same", axis=None,
               reduction=True, keepdims=False)
COUNTS = Spec(("counts",), (1,))
SAMPLES = Spec(("samples",), (1,), keepdims=False)
JOINT = Spec(("pxy",), (2,), axis="axes", keepdims=False)
GAUSS = Spec(("cov",), lambda b: (1 if b.arguments["diagonal"] else 2,), axis=None, keepdims=False)
GAUSS_KL = Spec(("mean_p", "cov_p", "mean_q", "cov_q"), (1, 2, 1, 2), axis=None, keepdims=False)
DIAG_KL = Spec(("mean_p", "log_var_p", "mean_q", "log_var_q"), (1, 1, 1, 1), reduction=True, keepdims=False)
