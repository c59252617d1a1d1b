"""The check of a surprisal row that is not normalized: every invalid element is found,
wherever it sits in the row (the vector body, the tail), in every storage type, layout and
compiled SIMD variant; -0 is a valid zero (surprisal +inf). The oracle is NumPy's float64
-log on the same (exactly representable) values, with a row holding a negative, NaN or
infinite value all NaN (invalid="nan")."""
import ml_dtypes
import numpy as np
import pytest
from helpers import KERNEL_LEVELS, available_kernels

import fastinfo

DTYPES = [np.dtype(np.float64), np.dtype(np.float32), np.dtype(ml_dtypes.bfloat16), np.dtype(np.float16)]
BAD = [np.nan, np.inf, -np.inf, -0.5, -2.0 ** -14]     # each exactly representable in every dtype


def _oracle(p):
    """-log p in float64, rows with an invalid element all NaN (-0 is a zero)."""
    p64 = p.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = -np.log(np.abs(p64))
    bad = ~(np.isfinite(p64) & (p64 >= 0)).all(axis=-1)
    s[bad] = np.nan
    return s, int(bad.sum())


def _rows(dtype, n_rows, k, seed):
    rng = np.random.default_rng(seed)
    return (rng.random((n_rows, k)) * 0.9 + 0.05).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("k", [1, 5, 31, 64, 100, 1000])
def test_every_invalid_element_is_found(dtype, k):
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    positions = sorted({0, k // 2, k - 1})
    p = _rows(dtype, len(BAD) * len(positions) + 2, k, k)
    r = 0
    for v in BAD:
        for j in positions:
            p[r, j] = v
            r += 1
    p[r, k - 1] = -0.0                          # valid: the last row stays untouched
    want, n_bad = _oracle(p)
    assert n_bad == len(BAD) * len(positions)
    out_dtype = np.float64 if dtype == np.float64 else np.float32
    for level in KERNEL_LEVELS:
        mod = available_kernels()[level]
        for nt in (1, 2):
            for layout in ("contiguous", "strided"):
                src = p if layout == "contiguous" else np.repeat(p, 2, axis=1)[:, ::2]
                out = np.empty(p.shape, out_dtype)
                assert mod.surprisal_rows(src, out, False, 1.0, nt) == n_bad, (level, nt, layout)
                np.testing.assert_allclose(out, want, rtol=rtol, err_msg=f"{level} {nt} {layout}")
                assert np.isposinf(out[r, k - 1])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("n_rows", [1, 9])      # 1: one row split over the threads
def test_every_invalid_element_is_found_in_long_rows_on_threads(dtype, n_rows):
    k = 3 * 8192 + 5                            # enough work for two threads
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    out_dtype = np.float64 if dtype == np.float64 else np.float32
    for v in BAD:
        for j in (0, k // 2, k - 1):
            p = _rows(dtype, n_rows, k, j)
            p[n_rows // 2, j] = v
            want, n_bad = _oracle(p)
            for level in KERNEL_LEVELS:
                mod = available_kernels()[level]
                for nt in (1, 2):
                    out = np.empty(p.shape, out_dtype)
                    assert mod.surprisal_rows(p, out, False, 1.0, nt) == n_bad == 1, (level, nt, v, j)
                    np.testing.assert_allclose(out, want, rtol=rtol, err_msg=f"{level} {nt} {v} {j}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_the_public_call_names_the_row_and_leaves_the_input(dtype):
    p = _rows(dtype, 4, 300, 7)
    p[2, 290] = -0.5
    before = p.copy()
    with pytest.raises(ValueError, match=r"negative.*batch index \(2,\)"):
        fastinfo.surprisal(p)
    got = fastinfo.surprisal(p, invalid="nan")
    want, _ = _oracle(p)
    np.testing.assert_allclose(got, want, rtol=1e-14 if dtype == np.float64 else 1e-6)
    np.testing.assert_array_equal(p.view(f"u{dtype.itemsize}"), before.view(f"u{dtype.itemsize}"))
