"""The compiled fronts of the small plain calls give what the general path gives.

A plain call (C-contiguous float64/float32/float16/bfloat16 NumPy arrays, the usual spellings of the
options) is computed by one compiled function (``<name>_front`` of the kernels); anything
else takes the Python layer. Both must agree bit for bit, in value, dtype and type, and
every refusal must still come with the function's own message. The general path is
reached here with the same values in a layout the fronts do not take (a Fortran-ordered
or sliced copy), so the comparison is between two routes through the kernels; the values
themselves are tested against the oracles elsewhere.
"""
import ml_dtypes
import numpy as np
import pytest

import fastinfo as fi
from fastinfo._dispatch import kernels


def _slow(a):
    """The same values in a layout that no front takes (non-contiguous rows)."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a
    wide = np.empty(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


def _same(fast, slow):
    assert type(fast) is type(slow)
    fast, slow = np.asarray(fast), np.asarray(slow)
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    np.testing.assert_array_equal(fast, slow)


RNG = np.random.default_rng(7)


def _probs(shape, dtype):
    p = RNG.random(shape) + 0.01
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


SHAPES = [(100,), (3, 100), (1, 7), (50, 1000)]


# 2-byte floats (NumPy's float16, ml_dtypes' bfloat16) are read as they are by the fronts too
DTYPES = [np.float64, np.float32, np.float16, ml_dtypes.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kw", [{}, {"base": 2}, {"base": 10.0}, {"normalize": True}, {"normalize": False},
                                {"invalid": "nan"}, {"n_threads": 1}, {"axis": -1}])
def test_shannon_fronts_match_general_path(dtype, shape, kw):
    p, q = _probs(shape, dtype), _probs(shape, dtype)
    assert kernels.entropy_front(p, **kw) is not None
    _same(fi.entropy(p, **kw), fi.entropy(_slow(p), **kw))
    for f in (fi.cross_entropy, fi.kl_divergence, fi.js_divergence):
        _same(f(p, q, **kw), f(_slow(p), _slow(q), **kw))
    _same(fi.js_divergence(p, q, distance=True, **kw), fi.js_divergence(_slow(p), _slow(q), distance=True, **kw))


def _logits(shape, dtype):
    return (RNG.standard_normal(shape) * 3).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kw", [{}, {"temperature": 2.0}, {"temperature": 3}, {"base": 2}, {"reduction": "mean"},
                                {"reduction": "sum"}, {"invalid": "nan"}, {"n_threads": 2}])
def test_logit_fronts_match_general_path(dtype, shape, kw):
    x, y = _logits(shape, dtype), _logits(shape, dtype)
    red = {k: v for k, v in kw.items() if k in ("reduction",)}
    temp = {k: v for k, v in kw.items() if k == "temperature"}
    rest = {k: v for k, v in kw.items() if k in ("invalid", "n_threads")}
    base = {k: v for k, v in kw.items() if k == "base"}
    if not red and not base:
        _same(fi.logsumexp(x, **rest), fi.logsumexp(_slow(x), **rest))
        _same(fi.softmax(x, **temp, **rest), fi.softmax(_slow(x), **temp, **rest))
        _same(fi.log_softmax(x, **temp, **rest), fi.log_softmax(_slow(x), **temp, **rest))
    if not red:
        _same(fi.softmax_entropy(x, **kw), fi.softmax_entropy(_slow(x), **kw))
    for f in (fi.softmax_kl_divergence, fi.softmax_js_divergence):
        _same(f(x, y, **kw), f(_slow(x), _slow(y), **kw))
    K = shape[-1]
    labels = RNG.integers(0, K, size=shape[:-1]) if len(shape) == 2 else int(RNG.integers(0, K))
    _same(fi.softmax_cross_entropy(x, labels, **kw), fi.softmax_cross_entropy(_slow(x), labels, **kw))
    if len(shape) == 2:
        lab32 = np.asarray(labels, dtype=np.int32)
        _same(fi.softmax_cross_entropy(x, lab32, **kw), fi.softmax_cross_entropy(_slow(x), lab32, **kw))
        ign = np.asarray(labels).copy()
        ign[::2] = -100
        _same(fi.softmax_cross_entropy(x, ign, ignore_index=-100, **kw),
              fi.softmax_cross_entropy(_slow(x), ign, ignore_index=-100, **kw))


def test_front_answers_a_plain_call_and_declines_the_rest():
    x = _logits((4, 10), np.float64)
    labels = np.array([1, 2, 3, 4])
    assert kernels.softmax_cross_entropy_front(x, labels) is not None
    assert kernels.softmax_cross_entropy_front(x, labels, reduction="mean") is not None
    for kw in ({"weight": np.ones(10)}, {"label_smoothing": 0.1}, {"out": np.empty(4)}, {"keepdims": True},
               {"base": True}, {"n_threads": 0}, {"n_threads": 10 ** 30}, {"temperature": 0.0},
               {"temperature": np.float64(2.0)}, {"reduction": "avg"}, {"ignore_index": 1.0},
               {"invalid": "skip"}, {"axis": 0}):
        assert kernels.softmax_cross_entropy_front(x, labels, **kw) is None, kw
    assert kernels.softmax_cross_entropy_front(x, labels.astype(np.float64)) is None
    assert kernels.softmax_cross_entropy_front(x, labels.astype(np.uint8)) is None
    assert kernels.softmax_cross_entropy_front(x, np.array([1, 2, 3, 10])) is None   # out of range
    assert kernels.softmax_cross_entropy_front(x.T, labels[:, None]) is None
    p = _probs((4, 10), np.float64)
    assert kernels.entropy_front(p) is not None
    for kw in ({"normalize": "yes"}, {"normalize": np.True_}, {"keepdims": True}, {"out": np.empty(4)},
               {"base": -2}, {"base": 1}, {"base": float("inf")}, {"base": 10 ** 400}, {"invalid": None}):
        assert kernels.entropy_front(p, **kw) is None, kw
    assert kernels.entropy_front(p.astype(np.int64)) is None
    assert kernels.entropy_front(p.astype(">f8")) is None                # byte-swapped
    h16 = kernels.entropy_front(p.astype(np.float16))                    # read as it is
    assert h16.dtype == np.float32
    np.testing.assert_array_equal(h16, fi.entropy(p.astype(np.float16).astype(np.float32)))
    assert kernels.entropy_front(p * 3) is None                       # far from 1: the warning path
    assert kernels.entropy_front(p * 3, normalize=False) is not None


def test_declined_calls_keep_the_functions_own_errors():
    x = _logits((4, 10), np.float64)
    with pytest.raises(TypeError, match="softmax_cross_entropy"):
        fi.softmax_cross_entropy(x, np.array([1, 2, 3, 4]), reductio="mean")
    with pytest.raises(TypeError, match="entropy"):
        fi.entropy(x, 0)
    # one compiled front serves the four Shannon measures: each keeps its own signature
    p, q = _probs((4, 10), np.float64), _probs((4, 10), np.float64)
    with pytest.raises(TypeError, match="positional"):
        fi.entropy(p, None)
    with pytest.raises(TypeError, match="distance"):
        fi.entropy(p, distance=False)
    for f in (fi.cross_entropy, fi.kl_divergence):
        with pytest.raises(TypeError, match="distance"):
            f(p, q, distance=False)
        with pytest.raises(TypeError, match="q"):
            f(p)
    assert fi.js_divergence(p, q, distance=True)[0] == np.sqrt(fi.js_divergence(p, q)[0])
    with pytest.raises(ValueError, match="distance=True needs base > 1"):
        fi.js_divergence(p, p, distance=True, base=0.5)
    with pytest.raises(IndexError, match=r"batch index \(3,\)"):
        fi.softmax_cross_entropy(x, np.array([1, 2, 3, 10]))
    with pytest.raises(IndexError, match="ignore_index=-100"):
        fi.softmax_cross_entropy(x, np.array([1, -100, 3, 4]))
    bad = x.copy()
    bad[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"batch index \(2,\)"):
        fi.softmax_cross_entropy(bad, np.array([1, 2, 3, 4]))
    with pytest.raises(ValueError, match=r"batch index \(2,\)"):
        fi.logsumexp(bad)
    p = _probs((4, 10), np.float64)
    p[1, 3] = -0.5
    with pytest.raises(ValueError, match=r"negative.*batch index \(1,\)"):
        fi.entropy(p)
    with pytest.warns(UserWarning, match="not normalized"):
        fi.entropy(_probs((4, 10), np.float64) * 3)
    with pytest.raises(TypeError, match="normalize"):
        fi.entropy(_probs((4, 10), np.float64), normalize="yes")


def test_fronts_leave_inputs_alone_and_return_new_arrays():
    x = _logits((3, 50), np.float32)
    x0 = x.copy()
    labels = np.array([0, 1, 2])
    l0 = labels.copy()
    for r in (fi.softmax(x), fi.log_softmax(x), fi.softmax_entropy(x), fi.softmax_cross_entropy(x, labels)):
        assert not np.shares_memory(r, x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(labels, l0)
