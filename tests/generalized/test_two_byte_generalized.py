"""The generalized measures of bfloat16 and float16 rows, read as stored (no float32 copy).

Every 2-byte value is exactly representable in float64, so the oracles are the textbook
formulas in float64 on the same values (NumPy, and mpmath for rows where float64 itself
would lose digits); the results are float32 and must be within 1e-6 relative of them.
"""
import tracemalloc

import ml_dtypes
import mpmath
import numpy as np
import pytest

import fastinfo as fi
from helpers import KERNEL_LEVELS, available_kernels

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
TWO_BYTE = pytest.mark.parametrize("dtype", [BF16, F16], ids=["bfloat16", "float16"])
RTOL = 1e-6

# (function name, order or index, two inputs)
CASES = [
    ("renyi_entropy", 0.0, False), ("renyi_entropy", 0.5, False), ("renyi_entropy", 1.05, False),
    ("renyi_entropy", 2.0, False), ("renyi_entropy", 3.7, False), ("renyi_entropy", np.inf, False),
    ("tsallis_entropy", -0.5, False), ("tsallis_entropy", 0.97, False), ("tsallis_entropy", 2.0, False),
    ("tsallis_entropy", 3.0, False),
    ("renyi_divergence", 0.0, True), ("renyi_divergence", 0.5, True), ("renyi_divergence", 0.8, True),
    ("renyi_divergence", 2.0, True), ("renyi_divergence", 3.3, True), ("renyi_divergence", np.inf, True),
    ("hellinger_distance", None, True), ("total_variation", None, True),
]
IDS = [f"{n}-{a}" if a is not None else n for n, a, _ in CASES]


def _rows(shape, dtype, seed=0, zeros=0.1):
    """Rows rounded to dtype after normalizing (their sums are off 1 by the rounding only)."""
    rng = np.random.default_rng(seed)
    p = rng.random(shape) ** 3 + 1e-3
    p[rng.random(shape) < zeros] = 0.0
    p[..., 0] += 1e-3                       # no all-zero row
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _oracle(name, a, P, Q, normalize):
    """The definitions (see fastinfo._generalized), in float64, rows along the last axis."""
    if normalize:
        P = P / P.sum(-1, keepdims=True)
        Q = Q / Q.sum(-1, keepdims=True)
    pos = P > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "renyi_entropy":
            if a == 0:
                return np.log(pos.sum(-1))
            if a == np.inf:
                return -np.log(P.max(-1))
            return np.log(np.where(pos, P ** a, 0.0).sum(-1)) / (1 - a)
        if name == "tsallis_entropy":
            return np.where(pos, P - np.where(pos, P, 1.0) ** a, 0.0).sum(-1) / (a - 1)
        if name == "renyi_divergence":
            if a == 0:
                return -np.log(np.where(pos, Q, 0.0).sum(-1))
            if a == np.inf:
                return np.log(np.where(pos, P / Q, 0.0).max(-1))
            t = np.where(pos, np.where(pos, P, 1.0) ** a * Q ** (1 - a), 0.0)
            return np.log(t.sum(-1)) / (a - 1)
        if name == "hellinger_distance":
            return np.sqrt(0.5 * ((np.sqrt(P) - np.sqrt(Q)) ** 2).sum(-1))
        return 0.5 * np.abs(P - Q).sum(-1)


def _ours(name, a, two, p, q, **kw):
    f = getattr(fi, name)
    args = (p, q) if two else (p,)
    return f(*args, a, **kw) if a is not None else f(*args, **kw)


@TWO_BYTE
@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("K", [1, 7, 16, 33, 1000, 2 * 8192 + 21, 4 * 8192 + 3])
@pytest.mark.parametrize("normalize", [False, True])
def test_every_measure_against_float64(dtype, case, K, normalize):
    name, a, two = case
    p, q = _rows((4, K), dtype, 1), _rows((4, K), dtype, 2, zeros=0.0)
    got = _ours(name, a, two, p, q, normalize=normalize)
    assert got.dtype == np.float32
    want = _oracle(name, a, _f64(p), _f64(q), normalize)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=RTOL, atol=1e-7, err_msg=name)


@TWO_BYTE
def test_nearly_equal_rows_keep_relative_accuracy(dtype):
    """A divergence of ~1e-6 between rows that differ in a few entries, against mpmath."""
    p = _rows((1, 200), dtype, 5, zeros=0.0)
    q = p.copy()
    q[0, :4] = (_f64(p[0, :4]) * 1.03).astype(dtype)
    P, Q = _f64(p)[0], _f64(q)[0]
    mpmath.mp.dps = 50
    try:
        sp = mpmath.fsum(mpmath.mpf(x) for x in P)
        sq = mpmath.fsum(mpmath.mpf(y) for y in Q)
        for a in (0.5, 2.0, 3.3):
            s = mpmath.fsum((mpmath.mpf(x) / sp) ** a * (mpmath.mpf(y) / sq) ** (1 - a) for x, y in zip(P, Q))
            want = float(mpmath.log(s) / (a - 1))
            got = float(fi.renyi_divergence(p[0], q[0], a, normalize=True))
            assert 0 < want < 1e-4
            assert abs(got - want) <= 1e-5 * want + 1e-15, (a, got, want)
    finally:
        mpmath.mp.dps = 15


@TWO_BYTE
@pytest.mark.parametrize("normalize", [False, True])
def test_same_results_as_the_float32_values(dtype, normalize):
    """2-byte values widen exactly: the results equal those of the same values in float32,
    strided and batched too."""
    p, q = _rows((3, 7, 301), dtype, 16), _rows((3, 7, 301), dtype, 17, zeros=0.0)
    for name, a, two in CASES:
        for sl in (np.s_[...], np.s_[:, ::2, ::3]):
            for axis in (-1, 1):
                got = _ours(name, a, two, p[sl], q[sl], normalize=normalize, axis=axis)
                want = _ours(name, a, two, p[sl].astype(np.float32), q[sl].astype(np.float32),
                             normalize=normalize, axis=axis)
                np.testing.assert_array_equal(got, want, err_msg=f"{name} {a} {sl} {axis}")


@TWO_BYTE
@pytest.mark.parametrize("K", [5000, 4 * 8192 + 7])
def test_rows_widened_in_cache_and_rows_read_as_stored_equal_the_float32_values(dtype, K):
    """Rows up to 32768 elements are widened into a float32 scratch row, longer ones are read
    element by element: both give the results of the same values in float32, strided too,
    on every thread count."""
    p, q = _rows((3, K), dtype, 18), _rows((3, K), dtype, 19, zeros=0.0)
    for name, a, two in CASES:
        for sl in (np.s_[...], np.s_[:, ::2]):
            want = _ours(name, a, two, p[sl].astype(np.float32), q[sl].astype(np.float32), n_threads=1)
            for nt in (1, 2, 3):
                got = _ours(name, a, two, p[sl], q[sl], n_threads=nt)
                np.testing.assert_array_equal(got, want, err_msg=f"{name} {a} {sl} {nt}")


@TWO_BYTE
def test_same_results_on_every_simd_variant_and_thread_count(dtype):
    p, q = _rows((5, 2 * 8192 + 5), dtype, 3), _rows((5, 2 * 8192 + 5), dtype, 4, zeros=0.0)
    for level in KERNEL_LEVELS:
        mod = available_kernels()[level]
        for name, a, two in CASES:
            code = mod.GENERAL_MEASURES[name]
            outs = []
            for nt in (1, 2, 3):
                out = np.empty(5)
                assert mod.general_rows(code, 0.0 if a is None else a, p, q if two else p, out, True, 1.0,
                                        nt) == 0
                outs.append(out)
            for out in outs[1:]:
                np.testing.assert_array_equal(out, outs[0], err_msg=f"{level} {name} {a}")
            want = _oracle(name, a, _f64(p), _f64(q), True)
            np.testing.assert_allclose(outs[0], want, rtol=RTOL, atol=1e-12, err_msg=f"{level} {name} {a}")


@TWO_BYTE
def test_invalid_values_are_named_and_input_unchanged(dtype):
    p, q = _rows((4, 30), dtype, 8), _rows((4, 30), dtype, 9)
    p[2, 5] = -0.25
    before = p.copy()
    with pytest.raises(ValueError, match=r"negative.*batch index \(2,\)"):
        fi.renyi_entropy(p, 2.0)
    res = fi.hellinger_distance(p, q, invalid="nan")
    assert np.isnan(res[2]) and np.isfinite(res[[0, 1, 3]]).all()
    p[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"batch index \(2,\)"):
        fi.renyi_divergence(p, q, 0.5)
    p[2, 5] = -0.25
    np.testing.assert_array_equal(p.view(np.uint16), before.view(np.uint16))


@TWO_BYTE
def test_no_float32_copy_of_the_input(dtype):
    p = _rows((256, 4096), dtype, 12)                # 2 MB; a float32 copy would be 4 MB
    q = _rows((256, 4096), dtype, 13, zeros=0.0)
    fi.renyi_divergence(p, q, 2.0)                   # warm up
    tracemalloc.start()
    try:
        fi.renyi_entropy(p, 2.0)
        fi.tsallis_entropy(p, 1.5, normalize=True)
        fi.renyi_divergence(p, q, 0.7)
        fi.hellinger_distance(p, q, axis=0, normalize=True)    # a non-contiguous distribution axis
        fi.total_variation(p, q)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < p.nbytes // 2, peak


def test_torch_two_byte_tensors_in_float32_tensors_out():
    torch = pytest.importorskip("torch")
    p = torch.from_numpy(_f64(_rows((6, 300), np.float32, 14))).to(torch.bfloat16)
    q = torch.from_numpy(_f64(_rows((6, 300), np.float32, 15, zeros=0.0))).to(torch.bfloat16)
    got = fi.hellinger_distance(p, q)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    P, Q = p.double(), q.double()
    want = torch.sqrt(0.5 * ((P.sqrt() - Q.sqrt()) ** 2).sum(-1))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=RTOL)
    h = fi.renyi_entropy(p.half(), 2.0)
    assert isinstance(h, torch.Tensor) and h.dtype == torch.float32
    H = p.half().double()
    np.testing.assert_allclose(h.numpy(), (-(H ** 2).sum(-1).log()).numpy(), rtol=RTOL)


@TWO_BYTE
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rows_far_from_summing_to_one_warn_naming_the_row(dtype, case):
    """normalize=None: the kernel flags the rows whose sums are further than 1% from 1 (the
    others, sums off by their 2-byte rounding only, do not warn)."""
    import warnings
    name, a, two = case
    p, q = _rows((5, 300), dtype, 20), _rows((5, 300), dtype, 21, zeros=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _ours(name, a, two, p, q)
    bad = p.copy()
    bad[3] = (_f64(p[3]) * 3).astype(dtype)           # counts passed by mistake
    with pytest.warns(UserWarning, match=r"batch index \(3,\) is not normalized"):
        _ours(name, a, two, bad, q)
    if two:
        bad = q.copy()
        bad[1] = (_f64(q[1]) * 0.5).astype(dtype)
        with pytest.warns(UserWarning, match=r"batch index \(1,\) is not normalized"):
            _ours(name, a, two, p, bad)
