"""Pairwise matrices of bfloat16 and float16 rows, read as stored.

Every 2-byte value is exactly representable, so the oracle is SciPy's ``rel_entr``/``entr`` in
float64 on the same values; the results are float64 (as for float32 input), within 1e-6
relative of it (the cross-entropy of rows as passed takes its logs in float lanes, as for
float32 input; the other measures in double lanes).
"""
import tracemalloc

import ml_dtypes
import numpy as np
import pytest
from scipy import special

import fastinfo as fi
from helpers import KERNEL_LEVELS, available_kernels

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
TWO_BYTE = pytest.mark.parametrize("dtype", [BF16, F16], ids=["bfloat16", "float16"])
# (function, method)
CALLS = [(fi.pairwise_cross_entropy, "exact"), (fi.pairwise_cross_entropy, "blas"),
         (fi.pairwise_kl_divergence, "exact"), (fi.pairwise_kl_divergence, "blas"),
         (fi.pairwise_js_divergence, "exact"), (fi.pairwise_js_divergence, "fast")]
IDS = [f"{f.__name__}-{m}" for f, m in CALLS]


def _rows(shape, dtype, seed, zeros=0.1):
    rng = np.random.default_rng(seed)
    p = rng.random(shape) ** 3 + 1e-3
    p[rng.random(shape) < zeros] = 0.0
    p[:, 0] += 1e-3
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def _oracle(name, P, Q, normalize):
    P, Q = P.astype(np.float64), Q.astype(np.float64)
    if normalize:
        P, Q = P / P.sum(1, keepdims=True), Q / Q.sum(1, keepdims=True)
    A, B = P[:, None, :], Q[None, :, :]
    if name == "pairwise_kl_divergence":
        return special.rel_entr(A, B).sum(-1)
    if name == "pairwise_js_divergence":
        M = 0.5 * (A + B)
        return 0.5 * (special.rel_entr(A, M).sum(-1) + special.rel_entr(B, M).sum(-1))
    with np.errstate(divide="ignore"):
        return -np.where(A > 0, A * np.log(B), 0.0).sum(-1)


@TWO_BYTE
@pytest.mark.parametrize("call", CALLS, ids=IDS)
@pytest.mark.parametrize("normalize", [False, True])
def test_against_float64_and_equal_to_the_float32_values(dtype, call, normalize):
    f, method = call
    P, Q = _rows((9, 301), dtype, 1), _rows((7, 301), dtype, 2, zeros=0.0)
    got = f(P, Q, normalize=normalize, method=method)
    assert got.dtype == np.float64 and got.shape == (9, 7)
    np.testing.assert_allclose(got, _oracle(f.__name__, P, Q, normalize), rtol=1e-6, atol=1e-15)
    want = f(P.astype(np.float32), Q.astype(np.float32), normalize=normalize, method=method)
    np.testing.assert_array_equal(got, want)
    # strided rows and columns (a view, not a copy)
    got = f(P[::2, ::3], Q[:, ::3], normalize=True, method=method)
    want = f(P[::2, ::3].astype(np.float32), Q[:, ::3].astype(np.float32), normalize=True, method=method)
    np.testing.assert_array_equal(got, want)


@TWO_BYTE
def test_every_simd_variant_and_thread_count(dtype):
    P, Q = _rows((6, 2 * 8192 + 3), dtype, 3), _rows((5, 2 * 8192 + 3), dtype, 4, zeros=0.0)
    for level in KERNEL_LEVELS:
        mod = available_kernels()[level]
        for name in ("cross_entropy", "kl_divergence", "js_divergence"):
            for fast in ((False, True) if name == "js_divergence" else (False,)):
                outs = []
                for nt in (1, 2, 3):
                    out = np.empty((6, 5))
                    assert mod.pairwise_rows(mod.MEASURES[name], P, Q, out, True, False, 1.0, nt, fast) == 0
                    outs.append(out)
                for out in outs[1:]:
                    np.testing.assert_array_equal(out, outs[0], err_msg=f"{level} {name} {fast}")
                np.testing.assert_allclose(outs[0], _oracle(f"pairwise_{name}", P, Q, True), rtol=1e-6,
                                           err_msg=f"{level} {name} {fast}")


@TWO_BYTE
def test_invalid_rows_are_named(dtype):
    P, Q = _rows((4, 20), dtype, 5), _rows((3, 20), dtype, 6)
    Q[1, 3] = -0.5
    with pytest.raises(ValueError, match="row 1 of Q"):
        fi.pairwise_kl_divergence(P, Q, method="exact")
    res = fi.pairwise_js_divergence(P, Q, invalid="nan")
    assert np.isnan(res[:, 1]).all() and np.isfinite(res[:, [0, 2]]).all()


@TWO_BYTE
def test_no_float32_copy_of_the_input(dtype):
    P = _rows((200, 8192), dtype, 7)                 # 3.3 MB; a float32 copy would be 6.6 MB
    fi.pairwise_js_divergence(P[:4], P[:4], normalize=True)
    tracemalloc.start()
    try:
        fi.pairwise_js_divergence(P, P[:20], normalize=True, method="exact")
        fi.pairwise_kl_divergence(P, P[:20], normalize=True, method="exact")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * P.nbytes, peak              # the validity masks (1 byte per element) only


def test_torch_bfloat16_rows():
    torch = pytest.importorskip("torch")
    P = torch.from_numpy(_rows((5, 64), np.float32, 8)).to(torch.bfloat16)
    Q = torch.from_numpy(_rows((4, 64), np.float32, 9, zeros=0.0)).to(torch.bfloat16)
    got = fi.pairwise_kl_divergence(P, Q, method="exact")
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    want = torch.nn.functional.kl_div(Q.double().log()[None], P.double()[:, None], reduction="none").sum(-1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
