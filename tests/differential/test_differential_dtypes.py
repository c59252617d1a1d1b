"""differential_entropy's result dtype across byte orders and float widths, and its integer
options' types, against scipy.stats.differential_entropy."""
import numpy as np
import pytest
from scipy import stats

import fastinfo


@pytest.mark.parametrize("dtype,result", [(">f4", np.float32), ("<f4", np.float32), (">f8", np.float64),
                                          ("<f8", np.float64), ("f2", np.float32), (">i8", np.float64),
                                          ("<i4", np.float64)])
def test_result_dtype_follows_the_input_precision(dtype, result):
    """float32 input gives float32 in either byte order (and float16, computed as float32 as
    everywhere in the package); the values are those of the native array."""
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((3, 200)) * 100).astype(dtype)
    native = np.dtype(dtype).newbyteorder("=")
    got = fastinfo.differential_entropy(X)
    same = fastinfo.differential_entropy(X.astype(native))
    assert got.dtype == same.dtype == result
    np.testing.assert_array_equal(got, same)
    want = stats.differential_entropy(X.astype(np.float64), axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-6 if result == np.float32 else 1e-12)
    one = fastinfo.differential_entropy(X[0])
    assert one.dtype == result and one == got[0]


def test_bfloat16_samples():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    X = np.arange(100).astype(ml_dtypes.bfloat16)
    got = fastinfo.differential_entropy(X)
    assert got.dtype == np.float32
    assert got == np.float32(stats.differential_entropy(X.astype(np.float64)))


def test_integer_options_refuse_bool():
    """As NumPy refuses ``axis=True``: bool axis, window_length and n_threads are TypeErrors."""
    X = np.arange(200.0).reshape(2, 100)
    for bad in (True, np.bool_(True), 1.0):
        with pytest.raises(TypeError, match="axis"):
            fastinfo.differential_entropy(X, axis=bad)
        with pytest.raises(TypeError, match="window_length"):
            fastinfo.differential_entropy(X, window_length=bad)
        with pytest.raises(TypeError, match="n_threads"):
            fastinfo.differential_entropy(X, n_threads=bad)
    np.testing.assert_allclose(fastinfo.differential_entropy(X, axis=np.int64(1), window_length=np.int32(5)),
                               stats.differential_entropy(X, axis=1, window_length=5), rtol=1e-12)
