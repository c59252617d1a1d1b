"""Arrays of other libraries in, the same kind out.

Every public function takes, besides NumPy arrays and nested sequences:

* PyTorch tensors and JAX arrays on the CPU, read without a copy through DLPack
  (``requires_grad`` tensors on their data: fastinfo's functions are not
  differentiable); bfloat16 and float16 tensors are passed on as they are (bfloat16 as
  ml_dtypes' bfloat16 -- JAX installs it; without it, as a float32 copy): the streaming
  measures and the logit functions read 2-byte floats natively, the other functions
  compute them in float32;
* pandas Series/DataFrame (nullable ``Float64``/``Int64`` and Arrow-backed
  columns included), polars Series/DataFrame, pyarrow arrays, xarray DataArrays;
* NumPy masked arrays without masked entries (a mask that hides values is refused:
  fastinfo never silently computes over masked-out numbers);
* anything else with ``__dlpack__`` or ``__array__``.

The result is of the caller's kind -- that of the first such array argument: a
torch tensor (on the CPU), a JAX array, a pandas Series indexed like the input's
rows (a DataFrame for elementwise results and pairwise matrices), an xarray
DataArray with the input's remaining dimensions and coordinates, a polars Series,
a pyarrow array. Scalars come back as 0-d tensors / JAX arrays for torch and JAX,
as NumPy scalars otherwise.

GPU arrays and JAX tracers (inside ``jax.jit``, ``grad``, ``vmap``) raise a
TypeError saying what to do. Libraries are recognised by their type's module
(``array_api_compat``'s checks, which import nothing), and are imported only when
one of their objects is passed: ``import fastinfo`` stays as fast as before.
"""

from __future__ import annotations

import importlib
import operator
import sys
from typing import Any, Callable, Sequence

import numpy as np

from ._dask import PLAIN    # argument types that need no conversion (the wrappers' fast path)




# The arguments that the kernels read as 2-byte floats (the other functions get float32 copies)
_TWO_BYTE_ARGS: dict[str, tuple[str, ...]] = {
    **{f: ("x",) for f in ("logsumexp", "softmax", "log_softmax")},
    **{f: ("logits",) for f in ("softmax_entropy", "softmax_cross_entropy", "perplexity", "softmax_stats",
                                "sequence_scores", "ensemble_uncertainty", "fit_temperature")},
    **{f: ("probs_or_logits",) for f in ("calibration_error", "brier_score")},
    "softmax_cross_entropy_grad_hess": ("raw_prediction",),
    "topk_kl_divergence": ("student_logits",),
    **{f: ("p_logits", "q_logits") for f in ("softmax_kl_divergence", "softmax_js_divergence",
                                              "softmax_total_variation")},
    **{f: ("p",) for f in ("entropy", "surprisal")},
    **{f: ("p",) for f in ("renyi_entropy", "tsallis_entropy")},
    **{f: ("p", "q") for f in ("cross_entropy", "kl_divergence", "js_divergence", "renyi_divergence",
                               "hellinger_distance", "total_variation")},
    **{f: ("P", "Q") for f in ("pairwise_cross_entropy", "pairwise_kl_divergence", "pairwise_js_divergence")},
}


def two_byte_args(fname: str) -> tuple[str, ...]:
    """The arguments of ``fname`` that the kernels read as 2-byte floats (bfloat16, float16)."""
    return _TWO_BYTE_ARGS.get(fname, ())


def _torch_view(t: Any, two_byte: bool) -> Any:
    """A CPU torch tensor's memory as a NumPy array (no copy), or None where only the general
    conversion (to_numpy) applies: another device or layout, a 2-byte float read as float32,
    a dtype NumPy has not."""
    if not t.is_cpu or t.layout is not _T.strided:
        return None
    if t.requires_grad:
        t = t.detach()
    dt = t.dtype
    try:
        if dt is _T.bfloat16 or dt is _T.float16:
            if not two_byte:
                return None
            if dt is _T.float16:
                return t.numpy()
            bf16 = _ml_bfloat16()
            return None if bf16 is None else t.view(_T.int16).numpy().view(bf16)
        return t.numpy()
    except (TypeError, RuntimeError):   # conjugated, negative-bit, quantized, ...
        return None


_T: Any = None            # the torch module, once a tensor has come in


def _is_torch_tensor(a: object, tensor: type) -> bool:
    """A tensor of torch's own (as kind_of tells them: another package's subclass of
    torch.Tensor is an array of that package, whose result the general path leaves as NumPy's)."""
    mod = type(a).__module__ or ""
    return isinstance(a, tensor) and (mod == "torch" or mod.startswith("torch."))


def torch_front(fast: Callable[..., Any], two_byte: frozenset[Any], args: Sequence[Any],
                kwargs: dict[str, Any], plain: frozenset[type]) -> Any:
    """A call whose foreign arguments are all CPU torch tensors, through the compiled front
    (``fast``) on their NumPy views, its result a tensor as :func:`wrap` makes it; None when
    that does not apply (the general path then converts and checks everything). The same
    kernels, arrays and result as the general path, without its binding of the signature."""
    global _T
    if _T is None:
        _T = _torch()
    tensor = _T.Tensor
    first = None
    nargs = list(args)
    for i, a in enumerate(args):
        if type(a) not in plain:
            if not _is_torch_tensor(a, tensor) or (v := _torch_view(a, i in two_byte)) is None:
                return None
            nargs[i] = v
            if first is None:
                first = a
    nkw = kwargs
    if kwargs:
        if kwargs.get("out") is not None:
            return None
        nkw = dict(kwargs)
        for n, a in kwargs.items():
            if type(a) not in plain:
                if not _is_torch_tensor(a, tensor) or (v := _torch_view(a, n in two_byte)) is None:
                    return None
                nkw[n] = v
                if first is None:
                    first = a
    if first is None:
        return None
    try:
        r = fast(*nargs, **nkw)
    except TypeError:
        return None
    if r is None:
        return None
    # as wrap makes them, without its checks of other kinds
    if type(r) is np.ndarray:
        f = r.flags
        if f.writeable and f.c_contiguous:
            return _T.from_numpy(r)
    elif type(r) is float or type(r) is np.float64:
        return _T.from_numpy(np.array(r, dtype=np.float64))
    return wrap(r, Foreign("torch", first), nkw)


def _ml_bfloat16() -> Any:
    """ml_dtypes' bfloat16 dtype (a NumPy array of torch.bfloat16 data without a copy), or
    None when ml_dtypes is not installed (JAX installs it)."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)

def _module(x: object) -> str:
    return type(x).__module__ or ""


def _compat() -> Any:
    import array_api_compat
    return array_api_compat


class Foreign:
    """How one argument came in: ``kind`` ('torch', 'jax', 'pandas', 'polars', 'arrow',
    'xarray', 'numpy' (masked arrays, memmaps, other array-likes)) and the object."""

    __slots__ = ("kind", "obj")

    def __init__(self, kind: str, obj: object) -> None:
        self.kind = kind
        self.obj = obj


def kind_of(x: object) -> str | None:
    """The library of a non-NumPy array argument, or None for anything else."""
    mod = _module(x)
    root = mod.split(".", 1)[0]
    if root == "torch":
        return "torch" if _compat().is_torch_array(x) else None
    if root in ("jax", "jaxlib"):
        return "jax" if _compat().is_jax_array(x) else None
    if root == "pandas":
        if type(x).__name__ in ("Series", "DataFrame"):
            return "pandas"
        return "array" if hasattr(x, "__array__") else None      # an Index: its values
    if root == "polars":
        return "polars" if type(x).__name__ in ("Series", "DataFrame") else None
    if root == "pyarrow":
        return "arrow" if type(x).__name__ in ("ChunkedArray",) or hasattr(x, "to_numpy") else None
    if root == "xarray":
        return "xarray" if type(x).__name__ == "DataArray" else None
    if root == "cupy":
        return "cupy"
    if isinstance(x, np.ndarray):
        return "numpy"
    if hasattr(x, "__dlpack__") or hasattr(x, "__array__") or hasattr(x, "__array_interface__"):
        return "array"
    return None


def _first_missing(mask: np.ndarray) -> tuple[int, ...]:
    flat = int(np.argmax(mask.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def to_numpy(x: object, kind: str, name: str, two_byte: bool = False) -> Any:
    """x as something fastinfo's NumPy path takes (an ndarray, without a copy where the layout
    allows), or a TypeError/ValueError saying what to pass instead."""
    if kind == "torch":
        dev = x.device                                          # type: ignore[attr-defined]
        if dev.type != "cpu":
            raise TypeError(f"{name} is a torch tensor on {dev}; fastinfo computes on the CPU: pass "
                            f"{name}.cpu() (the result is a CPU tensor; move it back with .to(device))")
        t = x.detach()                                          # type: ignore[attr-defined]
        if t.layout != _torch().strided:
            raise TypeError(f"{name} is a {t.layout} torch tensor; pass {name}.to_dense()")
        if t.is_conj():
            t = t.resolve_conj()
        if t.dtype is _torch().bfloat16:
            bf16 = _ml_bfloat16() if two_byte else None
            if bf16 is None:                                    # NumPy has no bfloat16 of its own
                t = t.float()
            else:                                               # the same memory, as ml_dtypes' bfloat16
                return np.from_dlpack(t.view(_torch().int16)).view(bf16)
        elif t.dtype is _torch().float16 and not two_byte:
            t = t.float()
        if t.dtype is _torch().bool:
            return t.numpy()
        return np.from_dlpack(t)
    if kind == "jax":
        jax = sys.modules["jax"]
        if isinstance(x, jax.core.Tracer):
            raise TypeError(f"{name} is a JAX tracer: fastinfo computes on concrete arrays and cannot "
                            f"run inside jax.jit, grad or vmap; call it outside the transformation "
                            f"(or through jax.pure_callback)")
        platforms = {d.platform for d in x.devices()}           # type: ignore[attr-defined]
        if platforms != {"cpu"}:
            raise TypeError(f"{name} is a JAX array on {sorted(platforms)}; fastinfo computes on the CPU: "
                            f"pass jax.device_get({name})")
        a = np.asarray(x)
        return a.astype(np.float32) if a.dtype.itemsize == 2 and a.dtype.kind in "fV" and not two_byte else a
    if kind == "cupy":
        raise TypeError(f"{name} is a CuPy array on the GPU; fastinfo computes on the CPU: pass "
                        f"cupy.asnumpy({name})")
    if kind == "pandas":
        return _from_pandas(x, name)
    if kind == "polars":
        a = x.to_numpy()                                        # type: ignore[attr-defined]
        return _object_to_float(a, name)
    if kind == "arrow":
        a = x.to_numpy(zero_copy_only=False)                    # type: ignore[attr-defined]
        return _object_to_float(np.asarray(a), name)
    if kind == "xarray":
        data = x.data                                           # type: ignore[attr-defined]
        return data if _module(data).startswith("dask") else np.asarray(data)
    if kind == "numpy":                                         # ndarray subclasses
        if isinstance(x, np.ma.MaskedArray):
            mask = np.ma.getmaskarray(x)
            if mask.any():
                raise ValueError(f"{name} is a masked array with masked entries (the first at index "
                                 f"{_first_missing(mask)}); fastinfo does not skip masked values: pass "
                                 f"{name}.filled(0) to count them as zero probability, or drop them")
            return np.asarray(x.data)
        return x
    # anything else with __dlpack__ or __array__
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError, ValueError):
            pass
    return np.asarray(x)


def _torch() -> Any:
    return sys.modules["torch"]


def _from_pandas(x: Any, name: str) -> Any:
    """A pandas Series/DataFrame as an ndarray: nullable and Arrow-backed numeric columns
    become float64 with NaN for NA when they hold floats, integers when they hold no NA;
    integer columns with NA are refused (a missing label has no class)."""
    pd: Any = importlib.import_module("pandas")
    frame = x if isinstance(x, pd.DataFrame) else None
    dtypes = list(frame.dtypes) if frame is not None else [x.dtype]
    if all(isinstance(d, np.dtype) for d in dtypes):
        return x.to_numpy()
    na = np.asarray(x.isna())
    if not na.any():
        kinds = {pd.api.types.is_integer_dtype(d) or pd.api.types.is_bool_dtype(d) for d in dtypes}
        if kinds == {True}:
            return x.to_numpy(dtype=np.int64)
        if all(pd.api.types.is_numeric_dtype(d) for d in dtypes):
            return x.to_numpy(dtype=np.result_type(*[getattr(d, "numpy_dtype", np.float64) for d in dtypes]))
        return x.to_numpy()
    if all(pd.api.types.is_float_dtype(d) for d in dtypes):
        dt = np.result_type(*[getattr(d, "numpy_dtype", np.float64) for d in dtypes])   # Float32 stays float32
        return x.to_numpy(dtype=dt, na_value=np.nan)   # NaN: an invalid value, named by row
    idx = _first_missing(na)
    row = x.index[idx[0]]
    raise ValueError(f"{name} holds a missing value (NA) at row {row!r}"
                     f"{' column ' + repr(x.columns[idx[1]]) if frame is not None else ''}; "
                     f"drop those rows first ({name}.dropna()); for class labels, padding with -100 and "
                     f"passing ignore_index=-100 skips them")


def _object_to_float(a: np.ndarray, name: str) -> np.ndarray:
    """Arrow/polars columns with nulls arrive as object arrays holding None: NaN for numbers."""
    if a.dtype != object:
        return a
    missing = np.frompyfunc(lambda v: v is None, 1, 1)(a).astype(bool)
    if missing.any():
        try:
            return np.where(missing, np.nan, a).astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} holds a missing value (null) at index {_first_missing(missing)}; "
                             f"drop or fill missing values first") from None
    return a


# --- results of the caller's kind ---------------------------------------------------------
def _axis_index(axis: object, ndim: int) -> int | None:
    """axis (an int or NumPy integer, not a bool) as an index in [0, ndim), or None."""
    if isinstance(axis, (bool, np.bool_)):
        return None
    try:
        a = operator.index(axis)      # type: ignore[arg-type]
    except TypeError:
        return None
    return a % ndim if -ndim <= a < ndim else None


def wrap(res: Any, like: Foreign, args: dict[str, Any], second: Foreign | None = None,
         pairwise: bool = False) -> Any:
    """res (ndarray, NumPy scalar, Python float, tuple) as an object of like's kind."""
    if isinstance(res, tuple):
        # a named tuple keeps its names; its fields in _plain are not laid out as the input's rows
        # (e.g. a top k): of another library's kind only where that carries no labels (torch, JAX)
        plain = getattr(res, "_plain", ()) if like.kind not in ("torch", "jax") else ()
        vals = tuple(r if f in plain else wrap(r, like, args, second, pairwise)
                     for f, r in zip(getattr(res, "_fields", [None] * len(res)), res))
        return type(res)(*vals) if hasattr(res, "_fields") else vals
    lazy = _module(res).startswith("dask.array") and like.kind == "xarray"   # wrapped like an ndarray
    if not lazy and not isinstance(res, (np.ndarray, np.generic, float)):
        return res                                   # e.g. a SparseContingency
    kind = like.kind
    if kind == "torch":
        torch = _torch()
        if isinstance(res, np.ndarray):     # (ascontiguousarray would make a 0-d array 1-D)
            return torch.from_numpy(np.ascontiguousarray(res) if res.flags.writeable and res.ndim else res.copy())
        # a 0-d tensor (float32 for a float32 result); from_numpy: a third of torch.tensor's cost
        return torch.from_numpy(np.array(res, dtype=np.float32 if isinstance(res, np.float32) else np.float64))
    if kind == "jax":
        return sys.modules["jax"].numpy.asarray(res)
    if not hasattr(res, "ndim") or res.ndim == 0 and not isinstance(res, np.ndarray):
        return res
    obj: Any = like.obj
    sec: Any = second.obj if second is not None else None
    if kind == "pandas":
        pd: Any = importlib.import_module("pandas")
        if pairwise and res.ndim == 2:
            cols = sec.index if second is not None and second.kind == "pandas" else None
            return pd.DataFrame(res, index=obj.index, columns=cols)
        if isinstance(obj, pd.Series):
            return pd.Series(res, index=obj.index, name=obj.name) if res.shape == obj.shape else res
        if res.shape == obj.shape:
            return pd.DataFrame(res, index=obj.index, columns=obj.columns)
        ax = _axis_index(args.get("axis", -1), 2)
        if res.ndim == 1 and ax == 1 and len(res) == obj.shape[0]:
            return pd.Series(res, index=obj.index)
        if res.ndim == 1 and ax == 0 and len(res) == obj.shape[1]:
            return pd.Series(res, index=obj.columns)
        if res.ndim == 1 and ax is None and len(res) == obj.shape[0]:
            return pd.Series(res, index=obj.index)
        return res
    if kind == "xarray":
        xr: Any = importlib.import_module("xarray")
        if pairwise and res.ndim == 2:
            d0 = obj.dims[0]
            d1 = sec.dims[0] if second is not None and second.kind == "xarray" else f"{d0}_q"
            if d1 == d0:
                d1 = f"{d0}_q"
            coords = {}
            if d0 in obj.coords:
                coords[d0] = obj.coords[d0].values
            if second is not None and second.kind == "xarray" and sec.dims[0] in sec.coords:
                coords[d1] = sec.coords[sec.dims[0]].values
            return xr.DataArray(res, dims=(d0, d1), coords=coords)
        if res.shape == obj.shape:
            return xr.DataArray(res, dims=obj.dims, coords=obj.coords, name=obj.name, attrs=obj.attrs)
        ax = _axis_index(args.get("axis", -1), obj.ndim)
        if ax is not None:
            dim = obj.dims[ax]
            keep = [d for d in obj.dims if d != dim]
            coords = {k: v for k, v in obj.coords.items() if dim not in v.dims}
            if res.ndim == len(keep):
                return xr.DataArray(res, dims=keep, coords=coords, name=obj.name)
            if res.ndim == obj.ndim:                      # keepdims
                return xr.DataArray(res, dims=obj.dims, coords=coords, name=obj.name)
        return res
    if kind == "polars":
        pl: Any = importlib.import_module("polars")
        if pairwise:
            return pl.DataFrame(res) if res.ndim == 2 else res
        if res.ndim == 1:
            return pl.Series(getattr(obj, "name", "") if res.shape == obj.shape else "", res)
        if res.ndim == 2 and hasattr(obj, "columns") and res.shape == obj.shape:
            return pl.DataFrame(res, schema=list(obj.columns))
        return res
    if kind == "arrow":
        pa: Any = importlib.import_module("pyarrow")
        return pa.array(res) if res.ndim == 1 else res
    return res


def xarray_axis(obj: Any, axis: object) -> object:
    """A dimension name given as ``axis`` for a DataArray, as its index."""
    if isinstance(axis, str):
        if axis not in obj.dims:
            raise ValueError(f"axis={axis!r} is not a dimension of the DataArray (dims {obj.dims})")
        return obj.dims.index(axis)
    return axis


def _matched(first: Foreign, f: Foreign, name: str, pairwise: bool) -> Any:
    """The labelled array f as it pairs with the first one: xarray by dimension name (a
    transposed DataArray is put in the first's order), pandas by position, with the same index
    required; never a silent misalignment."""
    a: Any = first.obj
    b: Any = f.obj
    if first.kind == "xarray" and f.kind == "xarray" and not pairwise:
        if set(b.dims) == set(a.dims) and b.dims != a.dims:
            b = b.transpose(*a.dims)
        for d in set(a.dims) & set(b.dims):
            if d in a.coords and d in b.coords and not a.coords[d].equals(b.coords[d]):
                raise ValueError(f"{name} and the first array have different coordinates along {d!r}; "
                                 f"align them first (xarray.align)")
    if first.kind == "pandas" and f.kind == "pandas":
        if not pairwise and not a.index.equals(b.index):
            raise ValueError(f"{name} and the first argument have different indexes (fastinfo pairs rows by "
                             f"position); align them first, e.g. {name}.reindex(first.index)")
        if hasattr(a, "columns") and hasattr(b, "columns") and not a.columns.equals(b.columns):
            raise ValueError(f"{name} and the first argument have different columns; select the same "
                             f"columns in the same order first")
    return b


def convert(names: Sequence[str], args: dict[str, Any], pairwise: bool = False,
            two_byte: Sequence[str] = ()) -> tuple[Foreign | None, Foreign | None]:
    """Replace the array arguments in ``args`` (``names`` first, then any other argument of
    another library, e.g. class weights) by NumPy-path arrays; returns the first and second
    foreign arguments of ``names`` (the caller's kind, and the Q of a pairwise call). ``out``
    is left to the caller. 2-byte floats become float32 copies, except in the arguments named
    in ``two_byte`` (logits, which the kernels read as they are)."""
    first: Foreign | None = None
    second: Foreign | None = None
    rest = [n for n in args if n not in names and n != "out"]
    for n in list(names) + rest:
        v = args.get(n)
        if v is None or type(v) in PLAIN:
            continue
        kind = kind_of(v)
        if kind is None or (n not in names and kind in ("numpy", "array")):
            continue             # other arguments: only other libraries' arrays (NumPy scalars stay)
        f = Foreign(kind, v)
        if n in names and first is not None:
            v = _matched(first, f, n, pairwise)
        if kind == "xarray" and "axis" in args and first is None:
            args["axis"] = xarray_axis(v, args["axis"])
        args[n] = to_numpy(v, kind, n, n in two_byte)
        if n not in names:
            continue
        if first is None:
            first = f
        elif second is None:
            second = f
    return first, second


def _out_view(out: Any, name: str = "out") -> Any:
    """A torch tensor given as ``out=`` (or ``grad_out=``, name): its NumPy view (CPU,
    writeable), filled in place."""
    kind = kind_of(out)
    if kind == "torch" and out.device.type == "cpu" and not out.requires_grad:
        return out.numpy()
    if kind in ("numpy", None):
        return out
    raise TypeError(f"{name} must be a NumPy array or a CPU torch tensor without requires_grad, got "
                    f"{type(out).__module__}.{type(out).__name__}; drop {name}= to get a result of the "
                    f"input's kind")


def interop_call(func: Callable[..., Any], names: Sequence[str], bound_args: dict[str, Any],
                 pairwise: bool = False, lazy: Callable[..., Any] | None = None) -> Any:
    """func called on the converted arguments, its result of the caller's kind. ``lazy``: the
    Dask-aware function, called instead when a converted argument is a Dask array (an xarray
    DataArray backed by Dask stays lazy)."""
    if "hess_out" in bound_args:    # (gradient, Hessian): each the array given for it, if one was
        given = {n: bound_args.get(n) for n in ("grad_out", "hess_out")}
        for n, o in given.items():
            if o is not None:
                bound_args[n] = _out_view(o, n)
        first, second = convert(names, bound_args, pairwise, _TWO_BYTE_ARGS.get(func.__name__, ()))
        res = func(**bound_args)
        like = None if first is None or first.kind in ("numpy", "array") else first
        return tuple(o if o is not None else (r if like is None else wrap(r, like, bound_args, second, pairwise))
                     for o, r in zip(given.values(), res))
    out = bound_args.get("out")
    if out is not None:
        bound_args["out"] = _out_view(out)
    grad_out = bound_args.get("grad_out")
    if grad_out is not None:        # (loss, gradient): the gradient is grad_out itself
        gview = _out_view(grad_out, "grad_out")
        logits = bound_args.get("logits")
        bound_args["grad_out"] = gview
    first, second = convert(names, bound_args, pairwise, _TWO_BYTE_ARGS.get(func.__name__, ()))
    if grad_out is not None and logits is grad_out:
        bound_args["grad_out"] = bound_args["logits"]     # in place: the logits' converted view itself
    if out is not None:
        func(**bound_args)
        return out
    if lazy is not None and any(_module(bound_args.get(n)).startswith("dask.array") for n in names):
        res = lazy(**bound_args)
    else:
        res = func(**bound_args)
    if first is None or first.kind in ("numpy", "array"):
        return res if grad_out is None else (res[0], grad_out)
    if grad_out is not None:
        return wrap(res[0], first, bound_args, second, pairwise), grad_out
    return wrap(res, first, bound_args, second, pairwise)
