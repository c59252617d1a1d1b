"""Huge arrays (issue 8, first part): more than 2^31 elements along the distribution axis and in
total, built cheaply as zero-stride views of one number, checked against closed forms. A
32-bit index anywhere (a length, an offset, a block count) would wrap and give a wrong value
or a crash here."""

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
