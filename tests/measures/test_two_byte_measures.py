"""bfloat16 and float16 probability vectors, read natively (no float32 copy), against float64.

Every 2-byte value is exactly representable in float64, so the oracle is SciPy (``entr``,
``rel_entr``; mpmath for the hard rows) in float64 on the same values. The kernels compute
entropy and cross-entropy terms in float32, KL and JS terms in float64, and accumulate in
float64; the float32 results must be within 1e-6 relative of the oracle.
"""
import tracemalloc

import ml_dtypes
import mpmath
import numpy as np
import pytest
from scipy import special

import fastinfo as fi
from helpers import KERNEL_LEVELS, available_kernels

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
TWO_BYTE = pytest.mark.parametrize("dtype", [BF16, F16], ids=["bfloat16", "float16"])
RTOL = 1e-6


def _rows(shape, dtype, seed=0, zeros=0.1):
    """Rows rounded to dtype after normalizing (so their sums are off 1 by the rounding only)."""
    rng = np.random.default_rng(seed)
    p = rng.random(shape) ** 3 + 1e-3
    p[rng.random(shape) < zeros] = 0.0
    p[..., 0] += 1e-3                       # no all-zero row
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def _f64(a):
    return np.asarray(a).astype(np.float64)


def _oracles(p, q, normalize=False):
    P, Q = _f64(p), _f64(q)
    if normalize:
        P, Q = P / P.sum(-1, keepdims=True), Q / Q.sum(-1, keepdims=True)
    M = 0.5 * (P + Q)
    with np.errstate(divide="ignore", invalid="ignore"):
        ce = -np.where(P > 0, P * np.log(Q), 0.0).sum(-1)
    return {
        "entropy": special.entr(P).sum(-1),
        "cross_entropy": ce,
        "kl_divergence": special.rel_entr(P, Q).sum(-1),
        "js_divergence": 0.5 * (special.rel_entr(P, M).sum(-1) + special.rel_entr(Q, M).sum(-1)),
    }


def _ours(p, q, **kw):
    return {
        "entropy": fi.entropy(p, **kw),
        "cross_entropy": fi.cross_entropy(p, q, **kw),
        "kl_divergence": fi.kl_divergence(p, q, **kw),
        "js_divergence": fi.js_divergence(p, q, **kw),
    }


@TWO_BYTE
@pytest.mark.parametrize("K", [1, 2, 7, 15, 16, 17, 33, 1000, 2 * 8192 + 21])
@pytest.mark.parametrize("normalize", [False, True])
def test_every_measure_against_float64(dtype, K, normalize):
    p, q = _rows((5, K), dtype, 1), _rows((5, K), dtype, 2, zeros=0.0)
    ours = _ours(p, q, normalize=normalize)
    want = _oracles(p, q, normalize)
    for name, got in ours.items():
        assert got.dtype == np.float32, name
        np.testing.assert_allclose(got.astype(np.float64), want[name], rtol=RTOL, atol=1e-12, err_msg=name)


@TWO_BYTE
def test_close_distributions_keep_relative_accuracy(dtype):
    """KL and JS of nearly equal rows are small differences: terms in float64 keep them."""
    p = _rows((1, 300), dtype, 5, zeros=0.0)
    q = p.copy()
    q[0, :10] = (_f64(p[0, :10]) * 1.02).astype(dtype)     # a few entries moved by ~2%
    P, Q = _f64(p)[0], _f64(q)[0]
    with mpmath.workdps(40):
        kl = mpmath.fsum(mpmath.mpf(a) * mpmath.log(mpmath.mpf(a) / mpmath.mpf(b)) for a, b in zip(P, Q) if a)
        js = mpmath.fsum(
            (mpmath.mpf(a) * mpmath.log(2 * mpmath.mpf(a) / (mpmath.mpf(a) + mpmath.mpf(b))) if a else 0)
            + (mpmath.mpf(b) * mpmath.log(2 * mpmath.mpf(b) / (mpmath.mpf(a) + mpmath.mpf(b))) if b else 0)
            for a, b in zip(P, Q)) / 2
    assert abs(float(fi.kl_divergence(p[0], q[0], normalize=False)) - float(kl)) <= RTOL * abs(float(kl))
    assert abs(float(fi.js_divergence(p[0], q[0], normalize=False)) - float(js)) <= RTOL * abs(float(js))


@TWO_BYTE
def test_same_results_on_every_simd_variant_and_thread_count(dtype):
    p, q = _rows((3, 3 * 8192 + 5), dtype, 3), _rows((3, 3 * 8192 + 5), dtype, 4, zeros=0.0)
    want = _oracles(p, q)
    for level in KERNEL_LEVELS:
        mod = available_kernels()[level]
        for name, code in mod.MEASURES.items():
            outs = []
            for nt in (1, 2, 3):
                out = np.empty(3)
                assert mod.shannon_rows(code, p, q, out, False, False, 1.0, nt) == 0
                outs.append(out)
            for out in outs[1:]:
                np.testing.assert_array_equal(out, outs[0], err_msg=f"{level} {name}")
            np.testing.assert_allclose(outs[0], want[name], rtol=RTOL, err_msg=f"{level} {name}")


@TWO_BYTE
def test_strided_and_batched_input(dtype):
    p, q = _rows((2, 40, 6), dtype, 6), _rows((2, 40, 6), dtype, 7, zeros=0.0)
    for name, got in _ours(p, q, axis=1, normalize=True).items():
        want = _ours(_f64(p), _f64(q), axis=1, normalize=True)[name]
        np.testing.assert_allclose(got, want, rtol=RTOL, err_msg=name)
    got = fi.kl_divergence(p[:, ::3, :], q[0, ::3, :], axis=1, normalize=True)      # broadcast q
    want = fi.kl_divergence(_f64(p[:, ::3, :]), _f64(q[0, ::3, :]), axis=1, normalize=True)
    np.testing.assert_allclose(got, want, rtol=RTOL)


@TWO_BYTE
def test_invalid_values_are_named_and_input_unchanged(dtype):
    p = _rows((4, 30), dtype, 8)
    p[2, 5] = -0.25
    before = p.copy()
    with pytest.raises(ValueError, match=r"negative.*batch index \(2,\)"):
        fi.entropy(p)
    res = fi.entropy(p, invalid="nan")
    assert np.isnan(res[2]) and np.isfinite(res[[0, 1, 3]]).all()
    for bad in (np.nan, np.inf):
        p[2, 5] = bad
        with pytest.raises(ValueError, match=r"batch index \(2,\)"):
            fi.kl_divergence(p, _rows((4, 30), dtype, 9))
    p[2, 5] = before[2, 5]
    p[2, 5] = -0.25
    np.testing.assert_array_equal(p.view(np.uint16), before.view(np.uint16))


def test_float16_subnormals_and_a_zero_q():
    bits = np.array([0x0001, 0x03ff, 0x0400, 0x3c00, 0x0000], dtype=np.uint16)
    p = bits.view(np.float16)              # subnormals, the smallest normal, 1, 0
    want = special.entr(p.astype(np.float64)).sum()
    assert abs(float(fi.entropy(p, normalize=False)) - want) <= RTOL * want
    q = np.array([0.5, 0.5, 0.0], dtype=np.float16)
    assert fi.kl_divergence(np.array([0.25, 0.25, 0.5], np.float16), q, normalize=False) == np.inf
    assert fi.cross_entropy(np.array([0.5, 0.5, 0.0], np.float16), q, normalize=False) == np.float32(np.log(2))


@TWO_BYTE
def test_mixed_with_float32_computes_in_float32_and_float64_in_float64(dtype):
    p, q = _rows((3, 50), dtype, 10), _rows((3, 50), np.float32, 11, zeros=0.0)
    assert fi.kl_divergence(p, q).dtype == np.float32
    assert fi.kl_divergence(p, q.astype(np.float64)).dtype == np.float64


@TWO_BYTE
def test_no_float32_copy_of_the_input(dtype):
    p = _rows((512, 4096), dtype, 12)               # 4 MB; a float32 copy would be 8 MB
    q = _rows((512, 4096), dtype, 13, zeros=0.0)
    fi.kl_divergence(p, q)                          # warm up
    tracemalloc.start()
    try:
        fi.entropy(p)
        fi.kl_divergence(p, q)
        fi.js_divergence(p, q, normalize=True)
        fi.cross_entropy(p, q, axis=0, normalize=True)   # a non-contiguous distribution axis
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < p.nbytes // 2, peak


def test_torch_two_byte_tensors_in_float32_tensors_out():
    torch = pytest.importorskip("torch")
    p = torch.from_numpy(_f64(_rows((6, 300), np.float32, 14))).to(torch.bfloat16)
    q = torch.from_numpy(_f64(_rows((6, 300), np.float32, 15, zeros=0.0))).to(torch.bfloat16)
    got = fi.kl_divergence(p, q)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    want = torch.nn.functional.kl_div(q.double().log(), p.double(), reduction="none").sum(-1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=RTOL)
    h = fi.entropy(p.half())
    assert isinstance(h, torch.Tensor) and h.dtype == torch.float32
    np.testing.assert_allclose(h.numpy(), special.entr(p.half().double().numpy()).sum(-1), rtol=RTOL)


@TWO_BYTE
@pytest.mark.parametrize("normalize", [False, True])
def test_same_results_as_the_float32_values(dtype, normalize):
    """2-byte values widen exactly: the results equal those of the same values in float32."""
    p, q = _rows((7, 513), dtype, 16), _rows((7, 513), dtype, 17, zeros=0.0)
    a = _ours(p, q, normalize=normalize)
    b = _ours(p.astype(np.float32), q.astype(np.float32), normalize=normalize)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# --- surprisal: elementwise, float32 out ------------------------------------------------
def _surprisal_oracle(p, normalize=False, base=None):
    P = _f64(p)
    if normalize:
        P = P / P.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        s = -np.log(P)
    return s / np.log(base) if base is not None else s


@TWO_BYTE
@pytest.mark.parametrize("K", [1, 7, 16, 17, 1000, 2 * 8192 + 21])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("base", [None, 2, 0.5])
def test_surprisal_against_float64(dtype, K, normalize, base):
    p = _rows((4, K), dtype, 20)
    got = fi.surprisal(p, normalize=normalize, base=base)
    assert got.dtype == np.float32 and got.shape == p.shape
    np.testing.assert_allclose(got, _surprisal_oracle(p, normalize, base), rtol=RTOL, atol=1e-7)


@TWO_BYTE
@pytest.mark.parametrize("rows", [3, 1])      # 1: one row split into blocks over the threads
def test_surprisal_on_every_simd_variant_and_thread_count(dtype, rows):
    p = _rows((rows, 3 * 8192 + 5), dtype, 21)
    want = _surprisal_oracle(p)
    for level in KERNEL_LEVELS:
        mod = available_kernels()[level]
        outs = []
        for nt in (1, 2, 3):
            out = np.empty(p.shape, np.float32)
            assert mod.surprisal_rows(p, out, False, 1.0, nt) == 0
            outs.append(out)
        for out in outs[1:]:
            np.testing.assert_array_equal(out, outs[0], err_msg=level)
        np.testing.assert_allclose(outs[0], want, rtol=RTOL, atol=1e-7, err_msg=level)
        with pytest.raises(TypeError, match="out must be float32"):
            mod.surprisal_rows(p, np.empty(p.shape), False, 1.0, 1)


@TWO_BYTE
@pytest.mark.parametrize("normalize", [False, True])
def test_surprisal_same_as_the_float32_values_strided_and_batched(dtype, normalize):
    p = _rows((3, 40, 6), dtype, 22)
    got = fi.surprisal(p, axis=1, normalize=normalize)
    np.testing.assert_array_equal(got, fi.surprisal(p.astype(np.float32), axis=1, normalize=normalize))
    out = np.empty((3, 14, 6), np.float32)
    assert fi.surprisal(p[:, ::3, :], axis=1, out=out) is out
    np.testing.assert_allclose(out, _surprisal_oracle(p[:, ::3, :]), rtol=RTOL)


@TWO_BYTE
def test_surprisal_of_invalid_rows_and_subnormals(dtype):
    p = _rows((4, 30), dtype, 23)
    p[2, 5] = -0.25
    before = p.copy()
    with pytest.raises(ValueError, match=r"negative.*batch index \(2,\)"):
        fi.surprisal(p)
    s = fi.surprisal(p, invalid="nan")
    assert np.isnan(s[2]).all() and not np.isnan(s[[0, 1, 3]]).any()    # a zero gives +inf
    np.testing.assert_array_equal(p.view(np.uint16), before.view(np.uint16))
    tiny = np.array([0x0001, 0x0080, 0x3f80, 0x0000], dtype=np.uint16).view(BF16)    # bfloat16 bits
    if dtype == F16:
        tiny = np.array([0x0001, 0x0400, 0x3c00, 0x0000], dtype=np.uint16).view(F16)
    want = [-mpmath.log(mpmath.mpf(float(v))) if float(v) > 0 else mpmath.inf for v in tiny]
    got = fi.surprisal(tiny, normalize=False)
    assert got[3] == np.inf and got[2] == 0.0 and not np.signbit(got[2])
    for g, w in zip(got[:2], want[:2]):
        assert abs(float(g) - float(w)) <= RTOL * float(w)


def test_surprisal_of_torch_two_byte_tensors_is_a_float32_tensor():
    torch = pytest.importorskip("torch")
    p = torch.from_numpy(_f64(_rows((6, 300), np.float32, 24))).to(torch.bfloat16)
    got = fi.surprisal(p)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), (-p.double().log()).numpy(), rtol=RTOL, atol=1e-7)


@TWO_BYTE
def test_surprisal_makes_no_float32_copy(dtype):
    p = _rows((512, 4096), dtype, 25)               # 4 MB in; the float32 result is 8 MB
    fi.surprisal(p)                                 # warm up
    tracemalloc.start()
    try:
        out = fi.surprisal(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < out.nbytes + p.nbytes // 2, peak
