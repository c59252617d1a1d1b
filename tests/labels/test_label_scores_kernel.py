"""The compiled label scores (one pass over integer labels of small ranges) against scikit-learn.

Long labelings are first counted in the ranges of a sample of the labels; a label outside
them must send the call to the exact ranges, never be dropped. scikit-learn's
``mutual_info_score`` (from its own contingency matrix) is the oracle.
"""
import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score, mutual_info_score, normalized_mutual_info_score

import fastinfo as fi


def _labels(n, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, k, size=n)
    y = (x + rng.integers(0, max(k // 5, 1), size=n)) % k
    return x.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
                                   np.uint64])
def test_small_ranges_of_every_integer_dtype(dtype):
    x, y = _labels(20_000, 50, dtype)
    want = mutual_info_score(x, y)
    assert fi.mutual_information_score(x, y) == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert fi.normalized_mutual_information_score(x, y) == pytest.approx(
        normalized_mutual_info_score(x, y), rel=1e-12)


def test_offset_and_negative_labels():
    x, y = _labels(30_000, 40, np.int64, 1)
    assert fi.mutual_information_score(x - 1000, y + 7) == pytest.approx(mutual_info_score(x, y), rel=1e-12)
    assert fi.adjusted_mutual_information_score(x - 3, y) == pytest.approx(
        adjusted_mutual_info_score(x, y), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("where", ["x_low", "x_high", "y_low", "y_high"])
def test_labels_outside_the_sampled_ranges_are_counted(where):
    n = (1 << 20) + 5
    x, y = _labels(n, 30, np.int64, 2)
    x, y = x.copy(), y.copy()
    # positions the sample (every (n >> 16)-th label) does not see
    pos = np.arange(1, 200, 2)
    arr = x if where.startswith("x") else y
    arr[pos] = -5 if where.endswith("low") else 40
    want = mutual_info_score(x, y)
    assert fi.mutual_information_score(x, y) == pytest.approx(want, rel=1e-10)


def test_long_labelings_match_the_table_path():
    x, y = _labels(1 << 21, 300, np.int32, 3)
    t = fi.contingency_table(x, y)
    assert fi.mutual_information_score(x, y) == pytest.approx(fi.mutual_information(t.astype(np.float64), normalize=True),
                                                              rel=1e-10)
