"""Other libraries' arrays in, the same kind out.

The oracle of the numbers is fastinfo's NumPy path on the equivalent ndarray (itself tested
against SciPy and PyTorch in tests/measures and tests/logits): a tensor, frame or array gives
the NumPy path's numbers, bit for bit, in a container of its own library. The oracle of the
containers is the library itself: the expected Series, DataFrame or DataArray is built by
pandas / xarray from the NumPy result and the input's labels, and compared with the library's
own testing functions.
"""

import copy
import doctest
import re
import warnings
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from helpers import run_python

import fastinfo as fi
from fastinfo import _interop

torch = pytest.importorskip("torch")
pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(20240611)
N, K = 5, 7


def _rows(n, k, zeros=0):
    p = RNG.random((n, k)) + 0.05
    if zeros:
        p[RNG.random((n, k)) < 0.2] = 0.0
    return p / p.sum(-1, keepdims=True)


P = _rows(N, K, zeros=1)                  # with exact zeros
Q = _rows(N, K)                           # no zeros: finite divergences
X = RNG.standard_normal((N, K)) * 3       # logits
LABELS = RNG.integers(0, K, N)
COUNTS = RNG.integers(0, 9, (N, K)).astype(np.float64)
J = _rows(N, 12).reshape(N, 3, 4)         # joint tables

TWO_BYTE = (torch.float16, torch.bfloat16)
DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
LAYOUTS = ["contiguous", "transposed", "step", "requires_grad"]

# name -> (call, arguments); float arguments become tensors of the tested dtype and layout,
# integer ones (class labels) int64 tensors
TORCH_CASES = {
    "entropy": (fi.entropy, [P]),
    "cross_entropy": (fi.cross_entropy, [P, Q]),
    "kl_divergence": (fi.kl_divergence, [P, Q]),
    "js_divergence": (fi.js_divergence, [P, Q]),
    "softmax_entropy": (fi.softmax_entropy, [X]),
    "softmax_cross_entropy": (fi.softmax_cross_entropy, [X, LABELS]),
    "softmax_cross_entropy mean": (lambda x, y: fi.softmax_cross_entropy(x, y, reduction="mean"), [X, LABELS]),
    "log_softmax": (fi.log_softmax, [X]),
    "softmax": (fi.softmax, [X]),
    "logsumexp": (fi.logsumexp, [X]),
    "pairwise_kl_divergence": (fi.pairwise_kl_divergence, [P, Q[:3]]),
    "renyi_entropy": (lambda p: fi.renyi_entropy(p, 2.0), [P]),
    "entropy_from_counts": (fi.entropy_from_counts, [COUNTS]),
    "mutual_information": (fi.mutual_information, [J]),
}


def tensor(a, dtype, layout):
    """a (cast to dtype) as a CPU tensor laid out as `layout`: contiguous, a transposed view, a view
    of every other element of a wider buffer, or a leaf that requires grad."""
    if layout == "transposed":
        return torch.tensor(np.swapaxes(a, -1, -2).copy(), dtype=dtype).transpose(-1, -2)
    if layout == "step":
        wide = torch.full(a.shape[:-1] + (2 * a.shape[-1],), -7.0, dtype=dtype)
        wide[..., ::2] = torch.tensor(a, dtype=dtype)
        return wide[..., ::2]
    return torch.tensor(a, dtype=dtype, requires_grad=layout == "requires_grad")


def as_tensors(arrays, dtype, layout):
    return [tensor(a, dtype, layout) if a.dtype.kind == "f" else torch.from_numpy(a.copy()) for a in arrays]


def numpy_equivalent(t):
    """The ndarray a tensor stands for: its data, float16 as float16 and bfloat16 as
    ml_dtypes.bfloat16 (the same bits, the same strides)."""
    t = t.detach()
    if t.dtype is torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def _call_recording_warnings(call, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = call(*args)
    return res, [(w.category, str(w.message)) for w in caught]


# --------------------------------------------------------------------------- torch
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_torch_tensors_give_the_numpy_result_as_a_tensor(name, dtype, layout):
    call, arrays = TORCH_CASES[name]
    tensors = as_tensors(arrays, dtype, layout)
    before = [(t.detach().clone(), t.stride()) for t in tensors]
    got, got_warnings = _call_recording_warnings(call, *tensors)
    ref, ref_warnings = _call_recording_warnings(call, *(numpy_equivalent(t) for t in tensors))
    assert isinstance(got, torch.Tensor) and got.device.type == "cpu"
    assert not got.requires_grad
    ref = np.asarray(ref)
    assert got.dtype == torch.from_numpy(ref).dtype and tuple(got.shape) == ref.shape
    if dtype in TWO_BYTE:
        assert got.dtype in (torch.float32, torch.float64)      # computed in float32, never 2-byte
    if dtype is torch.float64:
        assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), ref)
    assert got_warnings == ref_warnings
    for t, (copy_, stride) in zip(tensors, before):
        assert torch.equal(t.detach(), copy_) and t.stride() == stride and t.dtype == copy_.dtype


# calls whose tensors the compiled front reads through their NumPy views (no binding of the
# signature, no conversion step): labels as a tensor, an ndarray or by keyword, 2-byte logits
FRONT_CALLS = {
    "entropy": lambda d: fi.entropy(torch.tensor(P, dtype=d)),
    "kl_divergence by keyword": lambda d: fi.kl_divergence(torch.tensor(P, dtype=d), q=torch.tensor(Q, dtype=d)),
    "js_divergence base 2": lambda d: fi.js_divergence(torch.tensor(P, dtype=d), torch.tensor(Q, dtype=d), base=2),
    "logsumexp": lambda d: fi.logsumexp(torch.tensor(X, dtype=d)),
    "softmax_cross_entropy": lambda d: fi.softmax_cross_entropy(torch.tensor(X, dtype=d), torch.from_numpy(LABELS)),
    "softmax_cross_entropy ndarray labels": lambda d: fi.softmax_cross_entropy(torch.tensor(X, dtype=d), LABELS),
    "softmax_cross_entropy sum": lambda d: fi.softmax_cross_entropy(
        torch.tensor(X, dtype=d, requires_grad=True), target=torch.from_numpy(LABELS), reduction="sum"),
    "softmax_kl_divergence T=2": lambda d: fi.softmax_kl_divergence(
        torch.tensor(X, dtype=d), torch.tensor(X[::-1].copy(), dtype=d), temperature=2.0),
    "log_softmax": lambda d: fi.log_softmax(torch.tensor(X, dtype=d), axis=-1),
    "softmax_entropy by keyword": lambda d: fi.softmax_entropy(logits=torch.tensor(X, dtype=d)),
}
LOGIT_FRONTS = ("logsumexp", "softmax_cross_entropy", "softmax_kl_divergence", "log_softmax", "softmax_entropy")


def _numpy_call(call, dtype):
    """call with every torch.tensor / torch.from_numpy it makes replaced by the NumPy equivalent"""
    real_tensor, real_from = torch.tensor, torch.from_numpy
    try:
        torch.tensor = lambda a, dtype=None, requires_grad=False: numpy_equivalent(real_tensor(a, dtype=dtype))
        torch.from_numpy = lambda a: a
        return call(dtype)
    finally:
        torch.tensor, torch.from_numpy = real_tensor, real_from


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(FRONT_CALLS))
def test_torch_calls_take_the_compiled_front(name, dtype, monkeypatch):
    call = FRONT_CALLS[name]
    ref = np.asarray(_numpy_call(call, dtype))
    with monkeypatch.context() as m:                  # the general conversion's result
        m.setattr(_interop, "torch_front", lambda *a, **k: None)
        general = call(dtype)
    # the fronts take float64, float32 and float16, and bfloat16 logits (bfloat16
    # probabilities, strided arrays and the rest go the general path, tested above)
    if dtype is not torch.bfloat16 or name.split()[0] in LOGIT_FRONTS:
        monkeypatch.setattr(_interop, "interop_call", lambda *a, **k: pytest.fail("general path taken"))
    got = call(dtype)
    for want in (general, ref):
        want = want.numpy() if isinstance(want, torch.Tensor) else want
        assert isinstance(got, torch.Tensor) and not got.requires_grad
        assert got.dtype == torch.from_numpy(want).dtype and tuple(got.shape) == want.shape
        np.testing.assert_array_equal(got.numpy(), want)
    assert type(general) is torch.Tensor and general.dtype == got.dtype


class _OtherTensor(torch.Tensor):
    """a subclass of torch.Tensor from another package (as torchvision's tv_tensors)"""


def test_tensor_subclasses_of_other_packages_are_their_packages_arrays():
    t = torch.tensor(X).as_subclass(_OtherTensor)
    assert _interop.kind_of(t) == "array"
    got = fi.softmax_entropy(t)                       # the general path's result: NumPy's
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, fi.softmax_entropy(X))


def test_torch_calls_the_front_declines_take_the_general_path(monkeypatch):
    x, labels = torch.tensor(X), torch.from_numpy(LABELS)
    w = torch.linspace(0.5, 2.0, K, dtype=torch.float64)
    reached = []
    general = _interop.interop_call
    monkeypatch.setattr(_interop, "interop_call", lambda *a, **k: reached.append(1) or general(*a, **k))
    got = fi.softmax_cross_entropy(x, labels, weight=w)                      # the front takes no weight
    np.testing.assert_array_equal(got.numpy(), fi.softmax_cross_entropy(X, LABELS, weight=w.numpy()))
    out = torch.empty(N, dtype=torch.float64)                                 # out= a tensor
    assert fi.softmax_entropy(x, out=out) is out
    np.testing.assert_array_equal(out.numpy(), fi.softmax_entropy(X))
    s = pd.Series(LABELS)                                                     # another library beside it
    np.testing.assert_array_equal(np.asarray(fi.softmax_cross_entropy(x, s)), fi.softmax_cross_entropy(X, LABELS))
    assert len(reached) == 3
    bad = x.clone()
    bad[2, 3] = float("nan")                                                  # the function's own message
    with pytest.raises(ValueError) as got_exc:
        fi.softmax_cross_entropy(bad, labels)
    with pytest.raises(ValueError) as ref_exc:
        fi.softmax_cross_entropy(bad.numpy(), LABELS)
    assert str(got_exc.value) == str(ref_exc.value)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_torch_one_distribution_gives_a_0d_tensor(dtype):
    p, q, x = (torch.tensor(a[0], dtype=dtype) for a in (P, Q, X))
    label = torch.tensor(int(LABELS[0]))
    table = torch.tensor(J[0], dtype=dtype)
    want = torch.float64 if dtype is torch.float64 else torch.float32
    for call, args in [(fi.entropy, (p,)), (fi.kl_divergence, (p, q)), (fi.logsumexp, (x,)),
                       (fi.softmax_entropy, (x,)), (fi.softmax_cross_entropy, (x, label)),
                       (fi.mutual_information, (table,))]:
        got = call(*args)
        ref = call(*(numpy_equivalent(a) for a in args))
        assert isinstance(got, torch.Tensor) and got.shape == () and got.dtype == want, call.__name__
        assert got.item() == float(ref), call.__name__


def test_torch_float32_and_strided_tensors_are_read_without_a_copy():
    t = torch.tensor(P, dtype=torch.float32)
    a = _interop.to_numpy(t, "torch", "p")
    assert np.shares_memory(a, t.numpy()) and a.dtype == np.float32
    s = torch.tensor(np.hstack([P, P]))[:, ::2]                 # float64, every other column
    b = _interop.to_numpy(s, "torch", "p")
    assert np.shares_memory(b, s.numpy()) and b.strides == s.numpy().strides
    g = torch.tensor(P, requires_grad=True)
    assert np.shares_memory(_interop.to_numpy(g, "torch", "p"), g.detach().numpy())
    h = torch.tensor(P, dtype=torch.bfloat16)                  # 2-byte: a float32 copy
    c = _interop.to_numpy(h, "torch", "p")
    assert c.dtype == np.float32 and np.array_equal(c, h.float().numpy())
    # logits, which the kernels read as 2-byte floats: bfloat16 as ml_dtypes' view, float16 as NumPy's
    c = _interop.to_numpy(h, "torch", "logits", two_byte=True)
    assert c.dtype.name == "bfloat16" and np.shares_memory(c, h.view(torch.int16).numpy())
    assert np.array_equal(c.astype(np.float32), h.float().numpy())
    f = torch.tensor(P, dtype=torch.float16)
    d = _interop.to_numpy(f, "torch", "logits", two_byte=True)
    assert d.dtype == np.float16 and np.shares_memory(d, f.numpy())


def test_torch_result_is_not_differentiable():
    t = torch.tensor(X, requires_grad=True)
    loss = fi.softmax_cross_entropy(t, torch.from_numpy(LABELS), reduction="mean")
    assert loss.grad_fn is None and not loss.requires_grad
    with pytest.raises(RuntimeError):
        loss.backward()


def test_tensor_off_the_cpu_is_refused_with_the_fix():
    meta = torch.empty(3, device="meta")
    with pytest.raises(TypeError, match=r"p is a torch tensor on meta.*p\.cpu\(\)"):
        fi.entropy(meta)
    with pytest.raises(TypeError, match=r"logits .*logits\.cpu\(\)"):
        fi.softmax_cross_entropy(torch.empty(2, 3, device="meta"), torch.tensor([0, 1]))


def test_sparse_tensor_is_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"to_dense\(\)"):
        fi.entropy(torch.eye(3).to_sparse())


def test_gpu_arrays_of_other_libraries_are_refused_with_the_fix():
    # no GPU here: objects that report what a CuPy array and a JAX array on a GPU report
    cupy_like = type("ndarray", (), {"__module__": "cupy._core.core", "__array__": lambda self: None})()
    with pytest.raises(TypeError, match=r"cupy\.asnumpy\(p\)"):
        fi.entropy(cupy_like)

    class GpuDevice:
        platform = "gpu"

    class JaxOnGpu:
        def devices(self):
            return {GpuDevice()}

    with pytest.raises(TypeError, match=r"jax\.device_get\(p\)"):
        _interop.to_numpy(JaxOnGpu(), "jax", "p")


# --------------------------------------------------------------------------- JAX
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_jax_arrays_give_the_numpy_result_as_a_jax_array(dtype):
    jdt = getattr(jnp, dtype)
    p, q, x = (jnp.asarray(a, dtype=jdt) for a in (P, Q, X))
    labels = jnp.asarray(LABELS)

    def widened(a):
        a = np.asarray(a)
        return a.astype(np.float32) if a.dtype.name in ("float16", "bfloat16") else a

    for call, args in [(fi.entropy, (p,)), (fi.kl_divergence, (p, q)), (fi.softmax, (x,)),
                       (fi.logsumexp, (x,)), (fi.softmax_cross_entropy, (x, labels)),
                       (fi.pairwise_js_divergence, (p, q)), (fi.entropy, (p[0],))]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = call(*args)
            # the same values in NumPy arrays of the same dtype (ml_dtypes' bfloat16): the same
            # kernels, bit for bit
            ref = np.asarray(call(*(np.asarray(a) for a in args)))
            # and the values of float32 input: the 2-byte rows add their exps in another order
            # on some SIMD levels (AVX2 takes bfloat16's even and odd elements apart)
            wide = np.asarray(call(*(widened(a) for a in args)))
        assert isinstance(got, jax.Array), call.__name__
        assert got.shape == ref.shape and got.dtype == jnp.float32, call.__name__
        np.testing.assert_array_equal(np.asarray(got), ref.astype(np.float32))
        np.testing.assert_allclose(np.asarray(got), wide.astype(np.float32), rtol=1e-6, atol=0)


def test_jax_tracers_are_refused_with_the_fix():
    x = jnp.asarray(P, dtype=jnp.float32)
    with pytest.raises(TypeError, match=r"JAX tracer.*jax\.jit"):
        jax.jit(fi.entropy)(x)
    with pytest.raises(TypeError, match=r"JAX tracer"):
        jax.grad(lambda v: fi.entropy(v))(x[0])
    with pytest.raises(TypeError, match=r"JAX tracer"):
        jax.vmap(fi.entropy)(x)


# --------------------------------------------------------------------------- pandas
FRAME = pd.DataFrame(P, index=[f"r{i}" for i in range(N)], columns=[f"c{j}" for j in range(K)])
LOGITS = pd.DataFrame(X, index=FRAME.index, columns=FRAME.columns)


def test_pandas_series_reduces_to_a_scalar_and_keeps_its_index_elementwise():
    s = FRAME.iloc[0]
    h = fi.entropy(s)
    assert np.isscalar(h) and h == fi.entropy(s.to_numpy())
    got = fi.softmax(LOGITS.iloc[1])
    pd.testing.assert_series_equal(got, pd.Series(fi.softmax(X[1]), index=LOGITS.columns, name="r1"))


def test_pandas_frame_rows_and_columns():
    pd.testing.assert_series_equal(fi.entropy(FRAME), pd.Series(fi.entropy(P), index=FRAME.index))
    pd.testing.assert_series_equal(fi.entropy(FRAME, axis=-1), pd.Series(fi.entropy(P), index=FRAME.index))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # columns of probabilities do not sum to 1
        pd.testing.assert_series_equal(fi.entropy(FRAME, axis=0),
                                       pd.Series(fi.entropy(P, axis=0), index=FRAME.columns))
    pd.testing.assert_series_equal(fi.kl_divergence(FRAME, Q), pd.Series(fi.kl_divergence(P, Q), index=FRAME.index))


@pytest.mark.parametrize("call", [fi.softmax, fi.log_softmax], ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", [-1, 0])
def test_pandas_elementwise_gives_a_frame_with_the_same_labels(call, axis):
    got = call(LOGITS, axis=axis)
    pd.testing.assert_frame_equal(got, pd.DataFrame(call(X, axis=axis), index=LOGITS.index, columns=LOGITS.columns))


def test_pandas_pairwise_matrix_is_labelled_by_both_indexes():
    refs = pd.DataFrame(Q[:3], index=["a", "b", "c"], columns=FRAME.columns)
    got = fi.pairwise_kl_divergence(FRAME, refs)
    pd.testing.assert_frame_equal(got, pd.DataFrame(fi.pairwise_kl_divergence(P, Q[:3]),
                                                    index=FRAME.index, columns=refs.index))


def test_pandas_nullable_float_na_is_an_invalid_value_of_its_row():
    f = FRAME.astype("Float64")
    f.iloc[2, 3] = pd.NA
    with pytest.raises(ValueError, match=r"NaN.*batch index \(2,\)"):
        fi.entropy(f)
    got = fi.entropy(f, invalid="nan")
    expected = fi.entropy(P)
    expected[2] = np.nan
    pd.testing.assert_series_equal(got, pd.Series(expected, index=FRAME.index))


def test_pandas_nullable_without_na_and_arrow_backed_columns():
    for dtype in ("Float64", "float64[pyarrow]"):
        pd.testing.assert_series_equal(fi.entropy(FRAME.astype(dtype)), pd.Series(fi.entropy(P), index=FRAME.index))
        pd.testing.assert_frame_equal(fi.softmax(LOGITS.astype(dtype)),
                                      pd.DataFrame(fi.softmax(X), index=LOGITS.index, columns=LOGITS.columns))
    arrow = FRAME.astype("float64[pyarrow]")
    arrow.iloc[1, 0] = None
    with pytest.raises(ValueError, match="NaN"):
        fi.entropy(arrow)
    assert np.isnan(fi.entropy(arrow, invalid="nan")["r1"])


@pytest.mark.parametrize("dtype", ["int64", "Int64", "int64[pyarrow]"])
def test_pandas_integer_labels(dtype):
    labels = pd.Series(LABELS, index=LOGITS.index).astype(dtype)
    pd.testing.assert_series_equal(fi.softmax_cross_entropy(LOGITS, labels),
                                   pd.Series(fi.softmax_cross_entropy(X, LABELS), index=LOGITS.index))
    # labels as the only pandas argument: the result is indexed like them
    pd.testing.assert_series_equal(fi.softmax_cross_entropy(X, labels),
                                   pd.Series(fi.softmax_cross_entropy(X, LABELS), index=LOGITS.index))


@pytest.mark.parametrize("dtype", ["Int64", "int64[pyarrow]"])
def test_pandas_missing_label_is_refused_naming_its_row(dtype):
    labels = pd.Series(LABELS, index=LOGITS.index).astype(dtype)
    labels.iloc[3] = pd.NA
    with pytest.raises(ValueError, match=r"target holds a missing value \(NA\) at row 'r3'.*dropna"):
        fi.softmax_cross_entropy(LOGITS, labels)


# --------------------------------------------------------------------------- xarray
def _data_array():
    return xr.DataArray(P, dims=("row", "cls"), name="p",
                        coords={"row": np.arange(10, 10 + N), "cls": list("abcdefg"),
                                "sample": ("row", list("vwxyz")), "weight": ("cls", np.arange(K))})


@pytest.mark.parametrize("axis", ["cls", -1, 1])
def test_xarray_reduction_keeps_the_other_dimensions_and_coordinates(axis):
    da = _data_array()
    got = fi.entropy(da, axis=axis)
    expected = xr.DataArray(fi.entropy(P), dims=("row",), name="p",
                            coords={"row": da.row.values, "sample": ("row", list("vwxyz"))})
    xr.testing.assert_identical(got, expected)


def test_xarray_axis_by_name_along_the_first_dimension():
    da = _data_array()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = fi.entropy(da, axis="row")
        ref = fi.entropy(P, axis=0)
    assert got.dims == ("cls",) and list(got.cls.values) == list("abcdefg") and "sample" not in got.coords
    np.testing.assert_array_equal(got.values, ref)
    with pytest.raises(ValueError, match=r"axis='classes' is not a dimension"):
        fi.entropy(da, axis="classes")


def test_xarray_elementwise_keeps_dims_and_coords():
    da = _data_array().copy(data=X)
    got = fi.softmax(da, axis="cls")
    xr.testing.assert_equal(got, da.copy(data=fi.softmax(X)))
    assert got.dims == ("row", "cls")


# --------------------------------------------------------------------------- polars, pyarrow
def test_polars_frames_and_series():
    frame = pl.DataFrame(P, schema=[f"c{j}" for j in range(K)])
    got = fi.entropy(frame)
    assert isinstance(got, pl.Series)
    np.testing.assert_array_equal(got.to_numpy(), fi.entropy(P))
    soft = fi.softmax(pl.DataFrame(X, schema=frame.columns))
    assert isinstance(soft, pl.DataFrame) and soft.columns == frame.columns
    np.testing.assert_array_equal(soft.to_numpy(), fi.softmax(X))
    assert fi.entropy(pl.Series(P[0])) == fi.entropy(P[0])
    s = fi.log_softmax(pl.Series(X[0]))
    assert isinstance(s, pl.Series)
    np.testing.assert_array_equal(s.to_numpy(), fi.log_softmax(X[0]))


def test_polars_null_is_an_invalid_value_of_its_row():
    frame = pl.DataFrame({"a": [0.25, None, 0.5], "b": [0.75, 1.0, 0.5]})
    with pytest.raises(ValueError, match=r"NaN.*batch index \(1,\)"):
        fi.entropy(frame)
    got = fi.entropy(frame, invalid="nan").to_numpy()
    assert np.isnan(got[1]) and got[0] == fi.entropy([0.25, 0.75]) and got[2] == fi.entropy([0.5, 0.5])


def test_pyarrow_arrays_with_and_without_nulls():
    arr = pa.array(P[0])
    assert fi.entropy(arr) == fi.entropy(P[0])
    got = fi.softmax(arr)
    assert isinstance(got, pa.Array)
    np.testing.assert_array_equal(got.to_numpy(), fi.softmax(P[0]))
    chunked = pa.chunked_array([P[0, :3], P[0, 3:]])
    assert fi.entropy(chunked) == fi.entropy(P[0])
    with_null = pa.array([0.25, None, 0.75])
    with pytest.raises(ValueError, match="NaN"):
        fi.entropy(with_null)
    assert np.isnan(fi.entropy(with_null, invalid="nan"))
    assert fi.logsumexp(pa.array([1.0, 2.0, 3.0])) == fi.logsumexp(np.array([1.0, 2.0, 3.0]))


# --------------------------------------------------------------------------- masked arrays
def test_masked_array_with_a_masked_entry_is_refused():
    m = np.ma.masked_array(P, mask=np.zeros(P.shape, bool))
    m[1, 4] = np.ma.masked
    with pytest.raises(ValueError, match=r"masked entries \(the first at index \(1, 4\)\).*p\.filled\(0\)"):
        fi.entropy(m)


@pytest.mark.parametrize("mask", [np.ma.nomask, False], ids=["nomask", "all-false"])
def test_masked_array_without_masked_entries_is_its_data(mask):
    m = np.ma.masked_array(P, mask=mask)
    np.testing.assert_array_equal(np.asarray(fi.entropy(m)), fi.entropy(P))
    np.testing.assert_array_equal(np.asarray(fi.softmax(np.ma.masked_array(X, mask=mask))), fi.softmax(X))


# --------------------------------------------------------------------------- labels of odd arguments
def test_axis_as_a_numpy_integer_labels_the_result_as_the_int_does():
    square = pd.DataFrame(P[:3, :3], index=["a", "b", "c"], columns=["x", "y", "z"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = fi.entropy(square, axis=np.int64(0))
    assert list(got.index) == ["x", "y", "z"]                  # one entropy per column
    assert isinstance(fi.entropy(_data_array(), axis=np.int64(-1)), xr.DataArray)


def test_pandas_index_elementwise():
    got = fi.softmax(pd.Index(X[0]))
    np.testing.assert_array_equal(np.asarray(got), fi.softmax(X[0]))


def test_polars_pairwise_matrix_is_not_labelled_with_the_columns():
    frame = pl.DataFrame(P[:, :3] / P[:, :3].sum(1, keepdims=True), schema=["a", "b", "c"])
    got = fi.pairwise_kl_divergence(frame, frame[:3])          # (N, 3): Q's rows, not P's columns
    assert not (isinstance(got, pl.DataFrame) and got.columns == ["a", "b", "c"])


# --------------------------------------------------------------------------- inputs unchanged
def _snapshot(x):
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, (pd.DataFrame, pd.Series, xr.DataArray)):
        return x.copy(deep=True)
    if isinstance(x, (pl.DataFrame, pl.Series)):
        return x.clone()
    return copy.deepcopy(x)


def _same(x, before):
    if isinstance(x, torch.Tensor):
        return torch.equal(x.detach(), before)
    if isinstance(x, (pd.DataFrame, pd.Series)):
        return x.equals(before) and list(x.dtypes if hasattr(x, "columns") else [x.dtype]) == \
            list(before.dtypes if hasattr(before, "columns") else [before.dtype])
    if isinstance(x, xr.DataArray):
        return x.identical(before)
    if isinstance(x, (pl.DataFrame, pl.Series)):
        return x.equals(before)
    if isinstance(x, (pa.Array, pa.ChunkedArray)):
        return x.equals(before)
    if isinstance(x, np.ma.MaskedArray):
        return np.array_equal(x.data, before.data) and np.array_equal(np.ma.getmaskarray(x), np.ma.getmaskarray(before))
    return np.array_equal(np.asarray(x), np.asarray(before))


KINDS = {
    "torch": lambda a: torch.tensor(a),
    "torch float16 strided": lambda a: torch.tensor(np.hstack([a, a]), dtype=torch.float16)[:, ::2],
    "jax": lambda a: jnp.asarray(a, dtype=jnp.float32),
    "pandas": lambda a: pd.DataFrame(a, index=[f"r{i}" for i in range(len(a))]),
    "pandas Float64": lambda a: pd.DataFrame(a).astype("Float64"),
    "pandas arrow": lambda a: pd.DataFrame(a).astype("float64[pyarrow]"),
    "xarray": lambda a: xr.DataArray(a, dims=("row", "cls")),
    "polars": lambda a: pl.DataFrame(a),
    "masked": lambda a: np.ma.masked_array(a, mask=False),
}
LABEL_KINDS = {
    "torch": lambda y: torch.from_numpy(y.copy()),
    "jax": jnp.asarray,
    "pandas": lambda y: pd.Series(y, index=[f"r{i}" for i in range(len(y))]),
    "pandas Int64": lambda y: pd.Series(y).astype("Int64"),
    "polars": pl.Series,
    "pyarrow": pa.array,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_inputs_are_never_modified(kind):
    make = KINDS[kind]
    p, q, x = make(P), make(Q), make(X)
    saved = [_snapshot(v) for v in (p, q, x)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fi.entropy(p)
        fi.kl_divergence(p, q)
        fi.softmax(x)
        fi.log_softmax(x, axis=0)
        fi.softmax_cross_entropy(x, LABELS)
        fi.pairwise_js_divergence(p, q)
    assert all(_same(v, s) for v, s in zip((p, q, x), saved))


@pytest.mark.parametrize("kind", list(LABEL_KINDS))
def test_label_inputs_are_never_modified(kind):
    y = LABEL_KINDS[kind](LABELS)
    saved = _snapshot(y)
    got = np.asarray(fi.softmax_cross_entropy(X, y))         # JAX without x64 holds it in float32
    np.testing.assert_array_equal(got, fi.softmax_cross_entropy(X, LABELS).astype(got.dtype))
    assert _same(y, saved)
    for arr in (pa.array(P[0]), pa.array([0.25, None, 0.75])):
        saved = _snapshot(arr)
        fi.entropy(arr, invalid="nan")
        assert _same(arr, saved)


# --------------------------------------------------------------------------- import cost
def test_import_fastinfo_imports_no_other_array_library():
    others = ("torch", "jax", "pandas", "xarray", "polars", "pyarrow", "array_api_compat", "dask")
    proc = run_python(["-X", "importtime", "-c",
                       "import sys, fastinfo; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"],
                      timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    assert "fastinfo" in loaded
    assert not loaded & set(others), sorted(loaded & set(others))
    timed = {m.group(1).split(".")[0] for m in re.finditer(r"\|\s+(\S+)\s*$", proc.stderr, flags=re.MULTILINE)}
    assert "fastinfo" in timed and not timed & set(others)


# --------------------------------------------------------------------------- the guide page
def test_guide_page_examples_run():
    page = ROOT / "docs" / "guide" / "arrays.rst"
    if not page.exists():
        pytest.skip("the docs/ folder is not beside the tests")
    text = page.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, "docs/guide/arrays.rst", str(page), 0)
    assert test.examples, "the page has no example"
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert runner.run(test, out=report.append).failed == 0, "".join(report)
