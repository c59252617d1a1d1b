"""Huge arrays: more than 2^31 elements along the distribution axis and in total,
built cheaply as zero-stride views of one number or as a memory-mapped sparse file, checked
against closed forms. A 32-bit index anywhere (a length, an offset, a block count) would wrap
and give a wrong value or a crash here."""

import math
import sys

import numpy as np
import pytest

import fastinfo as fi

pytestmark = pytest.mark.skipif(sys.maxsize < 2**40, reason="needs a 64-bit build")

N = 2**31 + 5                   # > INT_MAX elements in one distribution


def _const(v, shape):
    return np.broadcast_to(v, shape)          # one number, zero strides: no memory


def test_entropy_of_a_uniform_distribution_longer_than_int_max():
    h = fi.entropy(_const(np.float64(1.0 / N), (N,)))
    # 2^31 equal terms summed in float64 lanes and blocks: ~1e-12 relative accumulation
    assert h == pytest.approx(math.log(N), rel=1e-10)
    hn = fi.entropy(_const(np.float64(3.0), (N,)), normalize=True)
    assert hn == pytest.approx(math.log(N), rel=1e-10)


def test_kl_and_logit_measures_longer_than_int_max():
    p = _const(np.float64(1.0 / N), (N,))
    assert fi.kl_divergence(p, p) == 0.0
    assert fi.logsumexp(_const(np.float64(0.0), (N,))) == pytest.approx(math.log(N), rel=1e-12)
    assert fi.softmax_entropy(_const(np.float32(0.0), (N,))) == pytest.approx(math.log(N), rel=1e-6)


def test_batch_with_more_than_int_max_elements_in_total():
    h = fi.entropy(_const(np.float64(2.0**-30), (3, 2**30)))       # 3 * 2^30 > 2^31 elements
    np.testing.assert_allclose(h, 30 * math.log(2.0), rtol=1e-10)
    assert h.shape == (3,)


def test_memory_mapped_sparse_file_longer_than_int_max(tmp_path):
    # a real buffer, not a zero-stride view: 2^31 + 5 float32 in a sparse file (no disk
    # blocks but the pages written), non-zero only at four positions around 2^31, so a
    # wrapped 32-bit offset would read a zero instead of a one (or fault)
    path = tmp_path / "sparse.f32"
    with open(path, "wb") as f:
        f.truncate(N * 4)
    try:
        m = np.memmap(path, dtype=np.float32, mode="r+", shape=(N,))
        ones = [0, 2**31 - 1, 2**31, N - 1]
        m[ones] = 1.0
        m.flush()
        del m
        p = np.memmap(path, dtype=np.float32, mode="r", shape=(N,))
        assert fi.entropy(p) == 0.0                                     # 1 log 1 = 0 four times
        assert fi.entropy(p, normalize=True) == pytest.approx(math.log(4), rel=1e-6)
        assert fi.kl_divergence(p, p, normalize=True) == 0.0
        s = fi.surprisal(p[2**31 - 2:], normalize=True)                  # the tail: 7 values, 3 ones
        np.testing.assert_allclose(s[[1, 2, 6]], math.log(3), rtol=1e-6)
        assert np.isinf(s[0]) and np.isinf(s[3])
        del p
    finally:
        path.unlink()
