"""The benchmarks' rooflines, on every compiled SIMD variant: read_roofline is the sum of
every element, read_write_roofline also stores each row's sum across the output's row."""
import numpy as np
import pytest
from helpers import KERNEL_LEVELS, available_kernels


@pytest.mark.parametrize("level", KERNEL_LEVELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out_dtype", [np.float32, np.float64])
def test_rooflines_read_every_element_and_write_every_output(level, dtype, out_dtype):
    k = available_kernels()[level]
    x = np.random.default_rng(3).random((37, 1003)).astype(dtype)
    rows = x.astype(np.float64).sum(axis=1)
    for nt in (1, 2, 5):
        assert k.read_roofline(x, nt) == pytest.approx(rows.sum(), rel=1e-12)
        out = np.full((37, 517), np.nan, out_dtype)
        assert k.read_write_roofline(x, out, nt) == pytest.approx(rows.sum(), rel=1e-12)
        np.testing.assert_allclose(out, np.repeat(rows[:, None], 517, axis=1).astype(out_dtype), rtol=1e-12)
    with pytest.raises(ValueError, match="out must have 37 rows"):
        k.read_write_roofline(x, np.empty((36, 5), out_dtype))
    with pytest.raises(ValueError, match="n_threads"):
        k.read_write_roofline(x, np.empty((37, 5), out_dtype), 0)
    assert k.read_write_roofline(x[:0], np.empty((0, 5), out_dtype)) == 0.0
